/*
** test_env.c -- tests of the POSIX env (lsm/env.c), its helpers (env.h),
** and the test env (tests/support/testenv.c) that other tests rely on to
** inject faults and simulate power loss.
**
** Every test works in its own directory /tmp/lsmtest-env-<pid>/<test>,
** removed at the end.  Files are checked with plain POSIX calls, not
** through an env, so that a bug in the env cannot hide itself.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lsm.h"
#include "env.h"
#include "util.h"
#include "support/testenv.h"
#include "support/testutil.h"

/*************************************************************************
** Fixture and plain-POSIX helpers.
*/

typedef struct Fix {
  char *zBase;      /* /tmp/lsmtest-env-<pid> */
  char zDir[512];   /* zBase/<test>: exists, empty */
} Fix;

static int fixSetup(void **state){
  Fix *pFix = calloc(1, sizeof(*pFix));
  static int iTest = 0;
  if( pFix==0 ) return -1;
  pFix->zBase = testTempDir("env");
  if( pFix->zBase==0 ){
    free(pFix);
    return -1;
  }
  snprintf(pFix->zDir, sizeof(pFix->zDir), "%s/t%d", pFix->zBase, iTest++);
  if( mkdir(pFix->zDir, 0755)!=0 ) return -1;
  *state = pFix;
  return 0;
}

static int fixTeardown(void **state){
  Fix *pFix = *state;
  testRmTree(pFix->zBase);
  free(pFix->zBase);
  free(pFix);
  return 0;
}

/* A path under the test's directory, in a static rotating buffer. */
static const char *fixPath(Fix *pFix, const char *zName){
  static char aBuf[8][600];
  static int i = 0;
  char *z = aBuf[i++ % 8];
  snprintf(z, 600, "%s/%s", pFix->zDir, zName);
  return z;
}

/* Write a file directly (not through any env). */
static void rawWrite(const char *zPath, const void *p, size_t n){
  int fd = open(zPath, O_WRONLY|O_CREAT|O_TRUNC, 0644);
  assert_true(fd>=0);
  assert_int_equal((ssize_t)n, write(fd, p, n));
  close(fd);
}

/* Size of a file, or -1 if it does not exist. */
static long rawSize(const char *zPath){
  struct stat st;
  if( stat(zPath, &st)!=0 ) return -1;
  return (long)st.st_size;
}

/* Assert that zPath holds exactly the n bytes at p. */
static void rawCheck(const char *zPath, const void *p, size_t n){
  uint8_t *a = malloc(n + 1);
  int fd = open(zPath, O_RDONLY);
  ssize_t nRead;
  assert_non_null(a);
  if( fd<0 ) fail_msg("%s missing", zPath);
  nRead = read(fd, a, n + 1);
  close(fd);
  assert_int_equal((ssize_t)n, nRead);
  assert_memory_equal(p, a, n);
  free(a);
}

/* Fill a with n deterministic bytes from seed. */
static void fillBytes(uint8_t *a, size_t n, uint64_t seed){
  size_t i;
  for(i=0; i<n; i++) a[i] = (uint8_t)testRand(&seed);
}

/* Open zPath through pEnv, append n bytes, optionally sync, close. */
static void envWrite(lsm_env *pEnv, const char *zPath, const void *p,
                     size_t n, int bSync){
  lsm_file *pFile = 0;
  assert_int_equal(LSM_OK, pEnv->xOpen(pEnv, zPath,
                           LSM_OPEN_WRITE|LSM_OPEN_TRUNCATE, &pFile));
  assert_int_equal(LSM_OK, pEnv->xAppend(pFile, p, n));
  if( bSync ) assert_int_equal(LSM_OK, pEnv->xSync(pFile));
  assert_int_equal(LSM_OK, pEnv->xClose(pFile));
}

/*************************************************************************
** The POSIX env.
*/

static void test_posix_roundtrip(void **state){
  Fix *pFix = *state;
  lsm_env *pEnv = lsm_env_default();
  const char *zPath = fixPath(pFix, "a.dat");
  lsm_file *pFile = 0;
  uint8_t aData[10000], aRead[12000];
  size_t nRead = 0;
  uint64_t nSize = 0;

  fillBytes(aData, sizeof(aData), 1);
  assert_int_equal(LSM_OK, pEnv->xOpen(pEnv, zPath, LSM_OPEN_WRITE, &pFile));
  assert_int_equal(LSM_OK, pEnv->xAppend(pFile, aData, 4000));
  assert_int_equal(LSM_OK, pEnv->xAppend(pFile, aData+4000, 6000));
  assert_int_equal(LSM_OK, pEnv->xSync(pFile));
  assert_int_equal(LSM_OK, pEnv->xSize(pFile, &nSize));
  assert_int_equal(10000, nSize);

  /* Full read, read in the middle, short read at EOF, read past EOF. */
  assert_int_equal(LSM_OK, pEnv->xRead(pFile, 0, aRead, 10000, &nRead));
  assert_int_equal(10000, nRead);
  assert_memory_equal(aData, aRead, 10000);
  assert_int_equal(LSM_OK, pEnv->xRead(pFile, 1234, aRead, 100, &nRead));
  assert_int_equal(100, nRead);
  assert_memory_equal(aData+1234, aRead, 100);
  assert_int_equal(LSM_OK, pEnv->xRead(pFile, 9000, aRead, 3000, &nRead));
  assert_int_equal(1000, nRead);
  assert_memory_equal(aData+9000, aRead, 1000);
  assert_int_equal(LSM_OK, pEnv->xRead(pFile, 20000, aRead, 10, &nRead));
  assert_int_equal(0, nRead);

  /* Truncate, then an append lands at the new end. */
  assert_int_equal(LSM_OK, pEnv->xTruncate(pFile, 500));
  assert_int_equal(LSM_OK, pEnv->xAppend(pFile, "xyz", 3));
  assert_int_equal(LSM_OK, pEnv->xSize(pFile, &nSize));
  assert_int_equal(503, nSize);
  assert_int_equal(LSM_OK, pEnv->xClose(pFile));
  memcpy(aRead, aData, 500);
  memcpy(aRead+500, "xyz", 3);
  rawCheck(zPath, aRead, 503);

  /* Reopening for write without TRUNCATE keeps the content and appends;
  ** with TRUNCATE starts empty. */
  assert_int_equal(LSM_OK, pEnv->xOpen(pEnv, zPath, LSM_OPEN_WRITE, &pFile));
  assert_int_equal(LSM_OK, pEnv->xAppend(pFile, "!", 1));
  assert_int_equal(LSM_OK, pEnv->xClose(pFile));
  assert_int_equal(504, rawSize(zPath));
  assert_int_equal(LSM_OK, pEnv->xOpen(pEnv, zPath,
                           LSM_OPEN_WRITE|LSM_OPEN_TRUNCATE, &pFile));
  assert_int_equal(LSM_OK, pEnv->xSize(pFile, &nSize));
  assert_int_equal(0, nSize);
  assert_int_equal(LSM_OK, pEnv->xClose(pFile));

  /* A read-only handle cannot append. */
  assert_int_equal(LSM_OK, pEnv->xOpen(pEnv, zPath, LSM_OPEN_READONLY,
                                       &pFile));
  assert_int_equal(LSM_IOERR, pEnv->xAppend(pFile, "x", 1));
  assert_non_null(strstr(lsmErrMsg(), zPath));
  assert_int_equal(LSM_OK, pEnv->xClose(pFile));
}

static void test_posix_notfound(void **state){
  Fix *pFix = *state;
  lsm_env *pEnv = lsm_env_default();
  const char *zPath = fixPath(pFix, "missing.dat");
  lsm_file *pFile = (lsm_file*)1;
  int bExists = 1;

  lsmErrClear();
  assert_int_equal(LSM_NOTFOUND, pEnv->xOpen(pEnv, zPath, LSM_OPEN_READONLY,
                                             &pFile));
  assert_null(pFile);
  assert_non_null(strstr(lsmErrMsg(), "open"));
  assert_non_null(strstr(lsmErrMsg(), zPath));
  assert_non_null(strstr(lsmErrMsg(), strerror(ENOENT)));

  assert_int_equal(LSM_NOTFOUND, pEnv->xRemove(pEnv, zPath));
  assert_non_null(strstr(lsmErrMsg(), zPath));
  assert_int_equal(LSM_NOTFOUND,
                   pEnv->xRename(pEnv, zPath, fixPath(pFix, "b")));
  assert_non_null(strstr(lsmErrMsg(), "rename"));
  assert_int_equal(LSM_OK, pEnv->xExists(pEnv, zPath, &bExists));
  assert_int_equal(0, bExists);
  /* A write open in a missing directory: NOTFOUND too. */
  assert_int_equal(LSM_NOTFOUND, pEnv->xOpen(pEnv, fixPath(pFix, "no/x"),
                                             LSM_OPEN_WRITE, &pFile));
  assert_int_equal(LSM_NOTFOUND,
                   pEnv->xSyncDir(pEnv, fixPath(pFix, "nodir")));
  assert_int_equal(LSM_NOTFOUND,
                   pEnv->xList(pEnv, fixPath(pFix, "nodir"), 0, 0));
}

/* xList callback: append the name to a newline-separated list. */
typedef struct Names { char z[1024]; int n; int nStop; } Names;
static int collectName(void *pArg, const char *zName){
  Names *p = pArg;
  size_t n = strlen(p->z);
  snprintf(p->z + n, sizeof(p->z) - n, "%s\n", zName);
  p->n++;
  return (p->nStop && p->n>=p->nStop) ? 99 : 0;
}

static void test_posix_namespace(void **state){
  Fix *pFix = *state;
  lsm_env *pEnv = lsm_env_default();
  Names names;
  int bExists = 0;

  rawWrite(fixPath(pFix, "one"), "1", 1);
  rawWrite(fixPath(pFix, "two"), "22", 2);
  assert_int_equal(LSM_OK, pEnv->xMkdir(pEnv, fixPath(pFix, "sub")));
  assert_int_equal(LSM_OK, pEnv->xMkdir(pEnv, fixPath(pFix, "sub")));
  /* mkdir over a file is an error, not "exists". */
  assert_int_not_equal(LSM_OK, pEnv->xMkdir(pEnv, fixPath(pFix, "one")));

  memset(&names, 0, sizeof(names));
  assert_int_equal(LSM_OK, pEnv->xList(pEnv, pFix->zDir, collectName,
                                       &names));
  assert_int_equal(3, names.n);
  assert_non_null(strstr(names.z, "one\n"));
  assert_non_null(strstr(names.z, "two\n"));
  assert_non_null(strstr(names.z, "sub\n"));
  assert_null(strstr(names.z, ".\n"));

  /* A non-zero return from the callback stops the listing. */
  memset(&names, 0, sizeof(names));
  names.nStop = 2;
  assert_int_equal(99, pEnv->xList(pEnv, pFix->zDir, collectName, &names));
  assert_int_equal(2, names.n);

  /* Rename over an existing file replaces it. */
  assert_int_equal(LSM_OK, pEnv->xRename(pEnv, fixPath(pFix, "two"),
                                         fixPath(pFix, "one")));
  rawCheck(fixPath(pFix, "one"), "22", 2);
  assert_int_equal(LSM_OK, pEnv->xExists(pEnv, fixPath(pFix, "two"),
                                         &bExists));
  assert_int_equal(0, bExists);

  /* Hard link: both names, one content; the link target must not exist. */
  assert_int_equal(LSM_OK, pEnv->xLink(pEnv, fixPath(pFix, "one"),
                                       fixPath(pFix, "sub/one")));
  rawCheck(fixPath(pFix, "sub/one"), "22", 2);
  assert_int_not_equal(LSM_OK, pEnv->xLink(pEnv, fixPath(pFix, "one"),
                                           fixPath(pFix, "sub/one")));
  assert_int_equal(LSM_OK, pEnv->xRemove(pEnv, fixPath(pFix, "one")));
  rawCheck(fixPath(pFix, "sub/one"), "22", 2);

  assert_int_equal(LSM_OK, pEnv->xSyncDir(pEnv, pFix->zDir));
  assert_int_not_equal(LSM_OK, pEnv->xRmdir(pEnv, fixPath(pFix, "sub")));
  assert_int_equal(LSM_OK, pEnv->xRemove(pEnv, fixPath(pFix, "sub/one")));
  assert_int_equal(LSM_OK, pEnv->xRmdir(pEnv, fixPath(pFix, "sub")));
  assert_int_equal(LSM_OK, pEnv->xExists(pEnv, fixPath(pFix, "sub"),
                                         &bExists));
  assert_int_equal(0, bExists);
}

static void test_posix_lock_in_process(void **state){
  Fix *pFix = *state;
  lsm_env *pEnv = lsm_env_default();
  const char *zLock = fixPath(pFix, "LOCK");
  lsm_file *pLock1 = 0, *pLock2 = 0;

  assert_int_equal(LSM_OK, pEnv->xLock(pEnv, zLock, &pLock1));
  assert_non_null(pLock1);
  assert_true(rawSize(zLock)>=0);
  assert_int_equal(LSM_BUSY, pEnv->xLock(pEnv, zLock, &pLock2));
  assert_null(pLock2);
  assert_non_null(strstr(lsmErrMsg(), zLock));
  assert_int_equal(LSM_OK, pEnv->xUnlock(pLock1));
  assert_int_equal(LSM_OK, pEnv->xLock(pEnv, zLock, &pLock2));
  assert_int_equal(LSM_OK, pEnv->xUnlock(pLock2));
}

/* In a child process, try the lock: exit 0 if BUSY, 1 if taken, 2 else. */
static int childTryLock(const char *zLock){
  pid_t pid = fork();
  int status = 0;
  assert_true(pid>=0);
  if( pid==0 ){
    lsm_env *pEnv = lsm_env_default();
    lsm_file *pLock = 0;
    int rc = pEnv->xLock(pEnv, zLock, &pLock);
    _exit(rc==LSM_BUSY ? 0 : rc==LSM_OK ? 1 : 2);
  }
  assert_int_equal(pid, waitpid(pid, &status, 0));
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

static void test_posix_lock_other_process(void **state){
  Fix *pFix = *state;
  lsm_env *pEnv = lsm_env_default();
  const char *zLock = fixPath(pFix, "LOCK");
  lsm_file *pLock = 0;

  assert_int_equal(LSM_OK, pEnv->xLock(pEnv, zLock, &pLock));
  assert_int_equal(0, childTryLock(zLock));
  assert_int_equal(LSM_OK, pEnv->xUnlock(pLock));
  assert_int_equal(1, childTryLock(zLock));
}

static void test_posix_atomic_write(void **state){
  Fix *pFix = *state;
  lsm_env *pEnv = lsm_env_default();
  LsmBuf buf = {0, 0, 0};
  Names names;

  assert_int_equal(LSM_OK, lsmEnvWriteFileAtomic(pEnv, pFix->zDir,
                                                 "CURRENT", "MANIFEST-1\n",
                                                 11));
  rawCheck(fixPath(pFix, "CURRENT"), "MANIFEST-1\n", 11);
  assert_int_equal(LSM_OK, lsmEnvWriteFileAtomic(pEnv, pFix->zDir,
                                                 "CURRENT", "M2\n", 3));
  assert_int_equal(LSM_OK, lsmEnvReadFile(pEnv, fixPath(pFix, "CURRENT"),
                                          &buf));
  assert_int_equal(3, buf.n);
  assert_memory_equal("M2\n", buf.p, 3);

  /* No temporary file is left behind. */
  memset(&names, 0, sizeof(names));
  assert_int_equal(LSM_OK, pEnv->xList(pEnv, pFix->zDir, collectName,
                                       &names));
  assert_string_equal("CURRENT\n", names.z);

  /* Writing into a missing directory fails and says where. */
  assert_int_equal(LSM_NOTFOUND, lsmEnvWriteFileAtomic(pEnv,
                                 fixPath(pFix, "nodir"), "CURRENT", "x", 1));
  assert_non_null(strstr(lsmErrMsg(), "nodir"));

  assert_int_equal(LSM_NOTFOUND, lsmEnvReadFile(pEnv, fixPath(pFix, "none"),
                                                &buf));
  lsmBufFree(&buf);
}

static void test_posix_read_copy(void **state){
  Fix *pFix = *state;
  lsm_env *pEnv = lsm_env_default();
  static uint8_t aData[200000];
  LsmBuf buf = {0, 0, 0};

  fillBytes(aData, sizeof(aData), 7);
  rawWrite(fixPath(pFix, "src"), aData, sizeof(aData));
  rawWrite(fixPath(pFix, "empty"), "", 0);

  assert_int_equal(LSM_OK, lsmEnvReadFile(pEnv, fixPath(pFix, "src"), &buf));
  assert_int_equal(sizeof(aData), buf.n);
  assert_memory_equal(aData, buf.p, sizeof(aData));
  assert_int_equal(LSM_OK, lsmEnvReadFile(pEnv, fixPath(pFix, "empty"),
                                          &buf));
  assert_int_equal(0, buf.n);

  /* Whole file, a prefix across chunk boundaries, a limit past EOF. */
  assert_int_equal(LSM_OK, lsmEnvCopyFile(pEnv, fixPath(pFix, "src"),
                                          fixPath(pFix, "c1"), UINT64_MAX));
  rawCheck(fixPath(pFix, "c1"), aData, sizeof(aData));
  assert_int_equal(LSM_OK, lsmEnvCopyFile(pEnv, fixPath(pFix, "src"),
                                          fixPath(pFix, "c2"), 70001));
  rawCheck(fixPath(pFix, "c2"), aData, 70001);
  assert_int_equal(LSM_OK, lsmEnvCopyFile(pEnv, fixPath(pFix, "c2"),
                                          fixPath(pFix, "c1"), 1000000));
  rawCheck(fixPath(pFix, "c1"), aData, 70001);
  assert_int_equal(LSM_OK, lsmEnvCopyFile(pEnv, fixPath(pFix, "src"),
                                          fixPath(pFix, "c3"), 0));
  assert_int_equal(0, rawSize(fixPath(pFix, "c3")));
  assert_int_equal(LSM_NOTFOUND, lsmEnvCopyFile(pEnv, fixPath(pFix, "none"),
                                         fixPath(pFix, "c4"), UINT64_MAX));
  assert_int_equal(-1, rawSize(fixPath(pFix, "c4")));
  lsmBufFree(&buf);
}

/* An allocator that fails every request. */
static void *failMalloc(size_t n){ (void)n; return 0; }
static void *failRealloc(void *p, size_t n){ (void)p; (void)n; return 0; }

static void test_posix_nomem(void **state){
  Fix *pFix = *state;
  lsm_env *pEnv = lsm_env_default();
  const lsm_allocator failing = { failMalloc, failRealloc, free };
  lsm_file *pFile = (lsm_file*)1;
  LsmBuf buf = {0, 0, 0};

  rawWrite(fixPath(pFix, "f"), "abc", 3);
  lsm_set_allocator(&failing);
  assert_int_equal(LSM_NOMEM, pEnv->xOpen(pEnv, fixPath(pFix, "f"),
                                          LSM_OPEN_READONLY, &pFile));
  assert_null(pFile);
  assert_int_equal(LSM_NOMEM, pEnv->xLock(pEnv, fixPath(pFix, "LOCK"),
                                          &pFile));
  assert_int_equal(LSM_NOMEM, lsmEnvReadFile(pEnv, fixPath(pFix, "f"),
                                             &buf));
  assert_int_equal(LSM_NOMEM, lsmEnvWriteFileAtomic(pEnv, pFix->zDir, "g",
                                                    "x", 1));
  lsm_set_allocator(0);
  assert_string_equal("out of memory", lsmErrMsg());
  /* The lock taken and dropped under NOMEM was released. */
  assert_int_equal(LSM_OK, pEnv->xLock(pEnv, fixPath(pFix, "LOCK"),
                                       &pFile));
  assert_int_equal(LSM_OK, pEnv->xUnlock(pFile));
  lsmBufFree(&buf);
}

static void test_posix_time(void **state){
  lsm_env *pEnv = lsm_env_default();
  uint64_t t0 = pEnv->xNowMicros(pEnv);
  uint64_t t1;
  (void)state;
  pEnv->xSleep(pEnv, 2000);
  t1 = pEnv->xNowMicros(pEnv);
  assert_true(t1>=t0+2000);
}

/*************************************************************************
** The test env: counts and faults.
*/

static void test_testenv_counts(void **state){
  Fix *pFix = *state;
  TestEnv *pTest = testenvNew();
  lsm_env *pEnv = testenvEnv(pTest);
  lsm_file *pFile = 0;
  uint8_t a[10];
  size_t nRead;
  uint64_t nSize;
  int bExists;

  assert_int_equal(LSM_OK, pEnv->xOpen(pEnv, fixPath(pFix, "f"),
                                       LSM_OPEN_WRITE, &pFile));
  assert_int_equal(LSM_OK, pEnv->xAppend(pFile, "abc", 3));
  assert_int_equal(LSM_OK, pEnv->xAppend(pFile, "def", 3));
  assert_int_equal(LSM_OK, pEnv->xSync(pFile));
  assert_int_equal(LSM_OK, pEnv->xRead(pFile, 0, a, 10, &nRead));
  assert_int_equal(6, nRead);
  assert_int_equal(LSM_OK, pEnv->xSize(pFile, &nSize));
  assert_int_equal(LSM_OK, pEnv->xTruncate(pFile, 2));
  assert_int_equal(LSM_OK, pEnv->xClose(pFile));
  assert_int_equal(LSM_OK, pEnv->xSyncDir(pEnv, pFix->zDir));
  assert_int_equal(LSM_OK, pEnv->xRename(pEnv, fixPath(pFix, "f"),
                                         fixPath(pFix, "g")));
  assert_int_equal(LSM_OK, pEnv->xExists(pEnv, fixPath(pFix, "g"),
                                         &bExists));
  assert_int_equal(LSM_OK, pEnv->xRemove(pEnv, fixPath(pFix, "g")));

  assert_int_equal(1, testenvCount(pTest, TESTENV_OPEN));
  assert_int_equal(2, testenvCount(pTest, TESTENV_APPEND));
  assert_int_equal(1, testenvCount(pTest, TESTENV_SYNC));
  assert_int_equal(1, testenvCount(pTest, TESTENV_READ));
  assert_int_equal(1, testenvCount(pTest, TESTENV_SIZE));
  assert_int_equal(1, testenvCount(pTest, TESTENV_TRUNCATE));
  assert_int_equal(1, testenvCount(pTest, TESTENV_CLOSE));
  assert_int_equal(1, testenvCount(pTest, TESTENV_SYNCDIR));
  assert_int_equal(1, testenvCount(pTest, TESTENV_RENAME));
  assert_int_equal(1, testenvCount(pTest, TESTENV_EXISTS));
  assert_int_equal(1, testenvCount(pTest, TESTENV_REMOVE));
  assert_int_equal(2, testenvCount(pTest, TESTENV_FSYNC));
  /* open-for-write, 2 appends, sync, truncate, syncdir, rename, remove */
  assert_int_equal(8, testenvCount(pTest, TESTENV_MUTATE));
  testenvFree(pTest);
}

/* Perform one call of the given kind on files in pFix's directory.  The
** file "f" exists and directory "d" exists before each call. */
static int doKind(lsm_env *pEnv, Fix *pFix, int kind){
  lsm_file *pFile = 0;
  uint8_t a[4];
  size_t nRead;
  uint64_t nSize;
  int bExists;
  int rc = LSM_OK;
  const char *zF = fixPath(pFix, "f");

  rawWrite(zF, "data", 4);
  mkdir(fixPath(pFix, "d"), 0755);
  switch( kind ){
    case TESTENV_OPEN:
      rc = pEnv->xOpen(pEnv, zF, LSM_OPEN_READONLY, &pFile);
      break;
    case TESTENV_RENAME:
      rc = pEnv->xRename(pEnv, zF, fixPath(pFix, "f2"));
      break;
    case TESTENV_REMOVE:  rc = pEnv->xRemove(pEnv, zF); break;
    case TESTENV_LINK:
      unlink(fixPath(pFix, "f3"));
      rc = pEnv->xLink(pEnv, zF, fixPath(pFix, "f3"));
      break;
    case TESTENV_MKDIR:   rc = pEnv->xMkdir(pEnv, fixPath(pFix, "d")); break;
    case TESTENV_RMDIR:   rc = pEnv->xRmdir(pEnv, fixPath(pFix, "d")); break;
    case TESTENV_SYNCDIR: rc = pEnv->xSyncDir(pEnv, pFix->zDir); break;
    case TESTENV_LIST:
      rc = pEnv->xList(pEnv, pFix->zDir, collectName, &(Names){{0},0,0});
      break;
    case TESTENV_EXISTS:  rc = pEnv->xExists(pEnv, zF, &bExists); break;
    case TESTENV_LOCK:
      rc = pEnv->xLock(pEnv, fixPath(pFix, "LOCK"), &pFile);
      if( rc==LSM_OK ) pEnv->xUnlock(pFile);
      pFile = 0;
      break;
    default: {
      /* Handle methods: open outside the count, then call. */
      assert_int_equal(LSM_OK, pEnv->xOpen(pEnv, zF, LSM_OPEN_WRITE, &pFile));
      switch( kind ){
        case TESTENV_READ:     rc = pEnv->xRead(pFile, 0, a, 4, &nRead); break;
        case TESTENV_APPEND:   rc = pEnv->xAppend(pFile, "x", 1); break;
        case TESTENV_SYNC:     rc = pEnv->xSync(pFile); break;
        case TESTENV_SIZE:     rc = pEnv->xSize(pFile, &nSize); break;
        case TESTENV_TRUNCATE: rc = pEnv->xTruncate(pFile, 1); break;
        default: fail();
      }
    }
  }
  if( pFile ) pEnv->xClose(pFile);
  return rc;
}

static void test_testenv_fault_each_kind(void **state){
  static const int aKind[] = {
    TESTENV_OPEN, TESTENV_READ, TESTENV_APPEND, TESTENV_SYNC, TESTENV_SIZE,
    TESTENV_TRUNCATE, TESTENV_RENAME, TESTENV_REMOVE, TESTENV_LINK,
    TESTENV_MKDIR, TESTENV_RMDIR, TESTENV_SYNCDIR, TESTENV_LIST,
    TESTENV_EXISTS, TESTENV_LOCK
  };
  Fix *pFix = *state;
  size_t i;
  for(i=0; i<sizeof(aKind)/sizeof(aKind[0]); i++){
    int kind = aKind[i];
    int iErr;
    for(iErr=0; iErr<2; iErr++){
      TestEnv *pTest = testenvNew();
      lsm_env *pEnv = testenvEnv(pTest);
      int eErr = iErr ? ENOSPC : EIO;
      int rcWant = iErr ? LSM_FULL : LSM_IOERR;
      /* The open that handle methods need is not the call under test. */
      int bHandle = (kind==TESTENV_READ || kind==TESTENV_APPEND
                  || kind==TESTENV_SYNC || kind==TESTENV_SIZE
                  || kind==TESTENV_TRUNCATE);
      testenvFailAt(pTest, kind, 2, eErr, 0);
      assert_int_equal(LSM_OK, doKind(pEnv, pFix, kind));
      lsmErrClear();
      if( doKind(pEnv, pFix, kind)!=rcWant ){
        fail_msg("kind %d errno %d: wrong code", kind, eErr);
      }
      assert_non_null(strstr(lsmErrMsg(), "(injected)"));
      assert_non_null(strstr(lsmErrMsg(), strerror(eErr)));
      /* One-shot: the third call works again. */
      assert_int_equal(LSM_OK, doKind(pEnv, pFix, kind));
      assert_int_equal(3, testenvCount(pTest, kind));
      if( bHandle ) assert_int_equal(3, testenvCount(pTest, TESTENV_OPEN));
      testenvFree(pTest);
    }
  }
}

static void test_testenv_fault_persistent(void **state){
  Fix *pFix = *state;
  TestEnv *pTest = testenvNew();
  lsm_env *pEnv = testenvEnv(pTest);
  lsm_file *pFile = 0;
  int i;

  assert_int_equal(LSM_OK, pEnv->xOpen(pEnv, fixPath(pFix, "f"),
                                       LSM_OPEN_WRITE, &pFile));
  testenvFailAt(pTest, TESTENV_APPEND, 3, EIO, 1);
  for(i=1; i<=6; i++){
    int rc = pEnv->xAppend(pFile, "ab", 2);
    assert_int_equal(i<3 ? LSM_OK : LSM_IOERR, rc);
  }
  assert_int_equal(4, rawSize(fixPath(pFix, "f")));
  testenvClearFaults(pTest);
  assert_int_equal(LSM_OK, pEnv->xAppend(pFile, "ab", 2));

  /* Any mutating call: the 2nd from now is the sync. */
  testenvFailAt(pTest, TESTENV_MUTATE, 2, EIO, 0);
  assert_int_equal(LSM_OK, pEnv->xAppend(pFile, "cd", 2));
  assert_int_equal(LSM_OK, pEnv->xSize(pFile, &(uint64_t){0}));
  assert_int_equal(LSM_IOERR, pEnv->xSync(pFile));
  assert_int_equal(LSM_OK, pEnv->xSync(pFile));

  /* The 1st fsync of either kind. */
  testenvFailAt(pTest, TESTENV_FSYNC, 1, EIO, 0);
  assert_int_equal(LSM_IOERR, pEnv->xSyncDir(pEnv, pFix->zDir));
  assert_int_equal(LSM_OK, pEnv->xSync(pFile));

  /* Only paths containing ".sst". */
  testenvFailAtPath(pTest, TESTENV_OPEN, 1, ENOSPC, 1, ".sst");
  assert_int_equal(LSM_OK, pEnv->xClose(pFile));
  assert_int_equal(LSM_OK, pEnv->xOpen(pEnv, fixPath(pFix, "1.log"),
                                       LSM_OPEN_WRITE, &pFile));
  assert_int_equal(LSM_OK, pEnv->xClose(pFile));
  assert_int_equal(LSM_FULL, pEnv->xOpen(pEnv, fixPath(pFix, "1.sst"),
                                         LSM_OPEN_WRITE, &pFile));
  assert_int_equal(-1, rawSize(fixPath(pFix, "1.sst")));
  testenvFree(pTest);
}

static void test_testenv_short_write(void **state){
  Fix *pFix = *state;
  TestEnv *pTest = testenvNew();
  lsm_env *pEnv = testenvEnv(pTest);
  lsm_file *pFile = 0;
  uint8_t aData[100];

  fillBytes(aData, sizeof(aData), 3);
  assert_int_equal(LSM_OK, pEnv->xOpen(pEnv, fixPath(pFix, "f"),
                                       LSM_OPEN_WRITE, &pFile));
  testenvFailAt(pTest, TESTENV_APPEND, 1, ENOSPC|TESTENV_SHORT, 0);
  assert_int_equal(LSM_FULL, pEnv->xAppend(pFile, aData, 100));
  assert_non_null(strstr(lsmErrMsg(), "50 of 100"));
  rawCheck(fixPath(pFix, "f"), aData, 50);
  testenvFailAt(pTest, TESTENV_APPEND, 1, TESTENV_SHORT, 0);
  assert_int_equal(LSM_IOERR, pEnv->xAppend(pFile, aData+50, 50));
  rawCheck(fixPath(pFix, "f"), aData, 75);
  assert_int_equal(LSM_OK, pEnv->xClose(pFile));
  testenvFree(pTest);
}

/*************************************************************************
** The test env: power loss.
*/

static void test_crash_unsynced_tail(void **state){
  Fix *pFix = *state;
  TestEnv *pTest = testenvNew();
  lsm_env *pEnv = testenvEnv(pTest);
  const char *zF = fixPath(pFix, "f");
  lsm_file *pFile = 0;
  uint8_t a[8];
  size_t nRead = 0;

  assert_int_equal(LSM_OK, pEnv->xOpen(pEnv, zF, LSM_OPEN_WRITE, &pFile));
  assert_int_equal(LSM_OK, pEnv->xSyncDir(pEnv, pFix->zDir));
  assert_int_equal(LSM_OK, pEnv->xAppend(pFile, "durable", 7));
  assert_int_equal(LSM_OK, pEnv->xSync(pFile));
  assert_int_equal(LSM_OK, pEnv->xAppend(pFile, "-lost", 5));
  rawCheck(zF, "durable-lost", 12);

  testenvCrash(pTest, 0, 0);
  assert_true(testenvCrashed(pTest));
  rawCheck(zF, "durable", 7);

  /* The crashed handle and the env refuse everything. */
  assert_int_equal(LSM_IOERR, pEnv->xAppend(pFile, "x", 1));
  assert_int_equal(LSM_IOERR, pEnv->xRead(pFile, 0, a, 7, &nRead));
  assert_int_equal(LSM_IOERR, pEnv->xSync(pFile));
  assert_int_equal(LSM_IOERR, pEnv->xRemove(pEnv, zF));
  assert_int_equal(LSM_OK, pEnv->xClose(pFile));
  assert_int_equal(LSM_IOERR, pEnv->xOpen(pEnv, zF, LSM_OPEN_READONLY,
                                          &pFile));
  rawCheck(zF, "durable", 7);

  /* After a restart the env works again on the durable state. */
  testenvRestart(pTest);
  assert_false(testenvCrashed(pTest));
  assert_int_equal(0, testenvCount(pTest, TESTENV_OPEN));
  assert_int_equal(LSM_OK, pEnv->xOpen(pEnv, zF, LSM_OPEN_READONLY, &pFile));
  assert_int_equal(LSM_OK, pEnv->xRead(pFile, 0, a, 8, &nRead));
  assert_int_equal(7, nRead);
  assert_int_equal(LSM_OK, pEnv->xClose(pFile));
  testenvFree(pTest);
}

static void test_crash_unsynced_create(void **state){
  Fix *pFix = *state;
  TestEnv *pTest = testenvNew();
  lsm_env *pEnv = testenvEnv(pTest);

  /* Directory synced but data never synced: the file is empty. */
  envWrite(pEnv, fixPath(pFix, "nodatasync"), "abc", 3, 0);
  assert_int_equal(LSM_OK, pEnv->xSyncDir(pEnv, pFix->zDir));
  /* Both synced: intact. */
  envWrite(pEnv, fixPath(pFix, "both"), "xyz", 3, 1);
  assert_int_equal(LSM_OK, pEnv->xSyncDir(pEnv, pFix->zDir));
  /* Synced data but no directory sync since: the file vanishes. */
  envWrite(pEnv, fixPath(pFix, "nodirsync"), "abc", 3, 1);
  /* Made behind the env's back: left alone. */
  rawWrite(fixPath(pFix, "outside"), "o", 1);

  testenvCrash(pTest, 0, 0);
  assert_int_equal(-1, rawSize(fixPath(pFix, "nodirsync")));
  assert_int_equal(0, rawSize(fixPath(pFix, "nodatasync")));
  rawCheck(fixPath(pFix, "both"), "xyz", 3);
  rawCheck(fixPath(pFix, "outside"), "o", 1);
  testenvFree(pTest);
}

static void test_crash_unsynced_remove(void **state){
  Fix *pFix = *state;
  TestEnv *pTest = testenvNew();
  lsm_env *pEnv = testenvEnv(pTest);

  /* Files that existed before the env looked count as durable. */
  rawWrite(fixPath(pFix, "old"), "old-content", 11);
  rawWrite(fixPath(pFix, "gone"), "g", 1);
  /* A removal made durable stays removed. */
  assert_int_equal(LSM_OK, pEnv->xRemove(pEnv, fixPath(pFix, "gone")));
  /* A file made durable through the env. */
  envWrite(pEnv, fixPath(pFix, "new"), "new-content", 11, 1);
  assert_int_equal(LSM_OK, pEnv->xSyncDir(pEnv, pFix->zDir));
  /* Removals not made durable. */
  assert_int_equal(LSM_OK, pEnv->xRemove(pEnv, fixPath(pFix, "old")));
  assert_int_equal(LSM_OK, pEnv->xRemove(pEnv, fixPath(pFix, "new")));
  assert_int_equal(-1, rawSize(fixPath(pFix, "old")));
  /* Made behind the env's back after it looked at the directory: durable
  ** from when the env first sees it. */
  rawWrite(fixPath(pFix, "behind"), "bb", 2);
  assert_int_equal(LSM_OK, pEnv->xRemove(pEnv, fixPath(pFix, "behind")));

  testenvCrash(pTest, 0, 0);
  rawCheck(fixPath(pFix, "old"), "old-content", 11);
  rawCheck(fixPath(pFix, "new"), "new-content", 11);
  rawCheck(fixPath(pFix, "behind"), "bb", 2);
  assert_int_equal(-1, rawSize(fixPath(pFix, "gone")));
  testenvFree(pTest);
}

static void test_crash_unsynced_rename(void **state){
  Fix *pFix = *state;
  TestEnv *pTest = testenvNew();
  lsm_env *pEnv = testenvEnv(pTest);

  rawWrite(fixPath(pFix, "CURRENT"), "one", 3);
  rawWrite(fixPath(pFix, "tmp"), "two", 3);
  rawWrite(fixPath(pFix, "a"), "aaa", 3);
  assert_int_equal(LSM_OK, pEnv->xRename(pEnv, fixPath(pFix, "tmp"),
                                         fixPath(pFix, "CURRENT")));
  assert_int_equal(LSM_OK, pEnv->xRename(pEnv, fixPath(pFix, "a"),
                                         fixPath(pFix, "b")));
  rawCheck(fixPath(pFix, "CURRENT"), "two", 3);
  testenvCrash(pTest, 0, 0);
  rawCheck(fixPath(pFix, "CURRENT"), "one", 3);
  rawCheck(fixPath(pFix, "tmp"), "two", 3);
  rawCheck(fixPath(pFix, "a"), "aaa", 3);
  assert_int_equal(-1, rawSize(fixPath(pFix, "b")));
  testenvRestart(pTest);

  /* The atomic-replace helper survives a crash straight after it. */
  assert_int_equal(LSM_OK, lsmEnvWriteFileAtomic(pEnv, pFix->zDir,
                                                 "CURRENT", "three", 5));
  testenvCrash(pTest, 0, 0);
  rawCheck(fixPath(pFix, "CURRENT"), "three", 5);
  assert_int_equal(-1, rawSize(fixPath(pFix, "CURRENT.tmp")));
  testenvRestart(pTest);

  /* A rename made durable stays. */
  assert_int_equal(LSM_OK, pEnv->xRename(pEnv, fixPath(pFix, "a"),
                                         fixPath(pFix, "b")));
  assert_int_equal(LSM_OK, pEnv->xSyncDir(pEnv, pFix->zDir));
  testenvCrash(pTest, 0, 0);
  assert_int_equal(-1, rawSize(fixPath(pFix, "a")));
  rawCheck(fixPath(pFix, "b"), "aaa", 3);
  testenvFree(pTest);
}

static void test_crash_truncate_and_link(void **state){
  Fix *pFix = *state;
  TestEnv *pTest = testenvNew();
  lsm_env *pEnv = testenvEnv(pTest);
  lsm_file *pFile = 0;

  rawWrite(fixPath(pFix, "t"), "0123456789", 10);
  rawWrite(fixPath(pFix, "u"), "keep", 4);
  assert_int_equal(LSM_OK, pEnv->xOpen(pEnv, fixPath(pFix, "t"),
                                       LSM_OPEN_WRITE, &pFile));
  assert_int_equal(LSM_OK, pEnv->xTruncate(pFile, 4));
  assert_int_equal(LSM_OK, pEnv->xAppend(pFile, "ab", 2));
  assert_int_equal(LSM_OK, pEnv->xClose(pFile));
  rawCheck(fixPath(pFix, "t"), "0123ab", 6);
  /* An unsynced open-with-truncate is undone too. */
  envWrite(pEnv, fixPath(pFix, "u"), "new", 3, 0);
  /* An unsynced link disappears; the original stays. */
  assert_int_equal(LSM_OK, pEnv->xLink(pEnv, fixPath(pFix, "t"),
                                       fixPath(pFix, "t2")));

  testenvCrash(pTest, 0, 0);
  rawCheck(fixPath(pFix, "t"), "0123456789", 10);
  rawCheck(fixPath(pFix, "u"), "keep", 4);
  assert_int_equal(-1, rawSize(fixPath(pFix, "t2")));
  testenvFree(pTest);
}

static void test_crash_directories(void **state){
  Fix *pFix = *state;
  TestEnv *pTest = testenvNew();
  lsm_env *pEnv = testenvEnv(pTest);
  struct stat st;

  /* Made before the env looks: durable. */
  assert_int_equal(0, mkdir(fixPath(pFix, "d3"), 0755));
  rawWrite(fixPath(pFix, "d3/x"), "xx", 2);
  assert_int_equal(0, mkdir(fixPath(pFix, "d4"), 0755));
  rawWrite(fixPath(pFix, "d4/y"), "yy", 2);

  /* A new directory with its parent synced stays. */
  assert_int_equal(LSM_OK, pEnv->xMkdir(pEnv, fixPath(pFix, "d2")));
  assert_int_equal(LSM_OK, pEnv->xSyncDir(pEnv, pFix->zDir));
  envWrite(pEnv, fixPath(pFix, "d2/f"), "f", 1, 1);
  assert_int_equal(LSM_OK, pEnv->xSyncDir(pEnv, fixPath(pFix, "d2")));
  /* A new directory whose parent is not synced disappears, contents and
  ** all, even if they were synced. */
  assert_int_equal(LSM_OK, pEnv->xMkdir(pEnv, fixPath(pFix, "d1")));
  envWrite(pEnv, fixPath(pFix, "d1/f"), "f", 1, 1);
  assert_int_equal(LSM_OK, pEnv->xSyncDir(pEnv, fixPath(pFix, "d1")));
  /* A directory removed without a sync of its parent comes back, with
  ** the file removed from it. */
  assert_int_equal(LSM_OK, pEnv->xRemove(pEnv, fixPath(pFix, "d3/x")));
  assert_int_equal(LSM_OK, pEnv->xRmdir(pEnv, fixPath(pFix, "d3")));
  /* A directory rename not synced goes back.  The directory itself was
  ** synced after a file was made in it, so the file comes back with it
  ** under the old name, as on a real file system. */
  assert_int_equal(LSM_OK, pEnv->xRename(pEnv, fixPath(pFix, "d4"),
                                         fixPath(pFix, "d5")));
  envWrite(pEnv, fixPath(pFix, "d5/z"), "z", 1, 1);
  assert_int_equal(LSM_OK, pEnv->xSyncDir(pEnv, fixPath(pFix, "d5")));
  envWrite(pEnv, fixPath(pFix, "d5/unsynced"), "u", 1, 1);

  testenvCrash(pTest, 0, 0);
  assert_int_not_equal(0, lstat(fixPath(pFix, "d1"), &st));
  rawCheck(fixPath(pFix, "d2/f"), "f", 1);
  rawCheck(fixPath(pFix, "d3/x"), "xx", 2);
  rawCheck(fixPath(pFix, "d4/y"), "yy", 2);
  rawCheck(fixPath(pFix, "d4/z"), "z", 1);
  assert_int_equal(-1, rawSize(fixPath(pFix, "d4/unsynced")));
  assert_int_not_equal(0, lstat(fixPath(pFix, "d5"), &st));
  testenvFree(pTest);
}

static void test_crash_torn(void **state){
  Fix *pFix = *state;
  static uint8_t aData[12288];
  unsigned seed;
  int nLonger = 0;

  fillBytes(aData, sizeof(aData), 11);
  for(seed=1; seed<=16; seed++){
    TestEnv *pTest = testenvNew();
    lsm_env *pEnv = testenvEnv(pTest);
    lsm_file *pFile = 0;
    uint8_t *aRead;
    long nSize;
    int fd;

    rawWrite(fixPath(pFix, "synced"), "s", 1);
    assert_int_equal(LSM_OK, pEnv->xOpen(pEnv, fixPath(pFix, "torn"),
                             LSM_OPEN_WRITE|LSM_OPEN_TRUNCATE, &pFile));
    assert_int_equal(LSM_OK, pEnv->xSyncDir(pEnv, pFix->zDir));
    assert_int_equal(LSM_OK, pEnv->xAppend(pFile, aData, 4096));
    assert_int_equal(LSM_OK, pEnv->xSync(pFile));
    assert_int_equal(LSM_OK, pEnv->xAppend(pFile, aData+4096, 8192));
    testenvCrash(pTest, 1, seed);
    assert_int_equal(LSM_OK, pEnv->xClose(pFile));

    nSize = rawSize(fixPath(pFix, "torn"));
    assert_true(nSize>=4096 && nSize<=12288);
    if( nSize>4096 ) nLonger++;
    aRead = malloc(12288);
    fd = open(fixPath(pFix, "torn"), O_RDONLY);
    assert_int_equal(nSize, read(fd, aRead, 12288));
    close(fd);
    assert_memory_equal(aData, aRead, 4096);
    free(aRead);
    rawCheck(fixPath(pFix, "synced"), "s", 1);
    testenvFree(pTest);
  }
  /* The seeds do produce torn tails, not only clean cuts. */
  assert_true(nLonger>0);
}

/* Sync hook: crash when the 3rd fsync completes. */
typedef struct HookState { int nCall; uint64_t nLast; } HookState;
static void crashAtThird(void *pArg, TestEnv *pTest, int kind,
                         const char *zPath, uint64_t nFsync){
  HookState *p = pArg;
  (void)kind; (void)zPath;
  p->nCall++;
  p->nLast = nFsync;
  if( nFsync==3 ) testenvCrash(pTest, 0, 0);
}

static void test_crash_at_sync(void **state){
  Fix *pFix = *state;
  TestEnv *pTest = testenvNew();
  lsm_env *pEnv = testenvEnv(pTest);
  lsm_file *pFile = 0;
  HookState hook = {0, 0};

  /* testenvCrashAtSync: the 2nd fsync from now completes, then power
  ** goes; its data is durable but the caller sees an error. */
  assert_int_equal(LSM_OK, pEnv->xOpen(pEnv, fixPath(pFix, "f"),
                                       LSM_OPEN_WRITE, &pFile));
  testenvCrashAtSync(pTest, 2, 0, 0);
  assert_int_equal(LSM_OK, pEnv->xSyncDir(pEnv, pFix->zDir));
  assert_int_equal(LSM_OK, pEnv->xAppend(pFile, "one", 3));
  assert_int_equal(LSM_IOERR, pEnv->xSync(pFile));
  assert_true(testenvCrashed(pTest));
  rawCheck(fixPath(pFix, "f"), "one", 3);
  pEnv->xClose(pFile);
  testenvRestart(pTest);

  /* The hook, crashing at the 3rd. */
  testenvSetSyncHook(pTest, crashAtThird, &hook);
  assert_int_equal(LSM_OK, pEnv->xOpen(pEnv, fixPath(pFix, "f"),
                                       LSM_OPEN_WRITE, &pFile));
  assert_int_equal(LSM_OK, pEnv->xAppend(pFile, "two", 3));
  assert_int_equal(LSM_OK, pEnv->xSync(pFile));
  assert_int_equal(LSM_OK, pEnv->xAppend(pFile, "three", 5));
  assert_int_equal(LSM_OK, pEnv->xSync(pFile));
  assert_int_equal(LSM_OK, pEnv->xAppend(pFile, "four", 4));
  assert_int_equal(LSM_IOERR, pEnv->xSync(pFile));
  assert_int_equal(3, hook.nCall);
  assert_int_equal(3, hook.nLast);
  rawCheck(fixPath(pFix, "f"), "onetwothreefour", 15);
  pEnv->xClose(pFile);
  testenvFree(pTest);
}

/* Several threads append and sync their own files until the env crashes
** in the middle (at the 300th of 800 fsyncs, in whichever thread makes
** it): every file keeps at least what its last successful sync covered,
** and whole synced chunks only. */
typedef struct Writer {
  lsm_env *pEnv;
  const char *zPath;
  uint64_t nSynced;      /* bytes covered by the last successful sync */
} Writer;

static void *writerMain(void *pArg){
  Writer *p = pArg;
  lsm_file *pFile = 0;
  uint8_t aChunk[64];
  uint64_t nWritten = 0;
  int i;
  memset(aChunk, 'w', sizeof(aChunk));
  if( p->pEnv->xOpen(p->pEnv, p->zPath, LSM_OPEN_WRITE, &pFile)!=LSM_OK ){
    return 0;
  }
  for(i=0; i<800; i++){
    if( p->pEnv->xAppend(pFile, aChunk, sizeof(aChunk))!=LSM_OK ) break;
    nWritten += sizeof(aChunk);
    if( (i % 4)==3 ){
      if( p->pEnv->xSync(pFile)!=LSM_OK ) break;
      p->nSynced = nWritten;
    }
  }
  p->pEnv->xClose(pFile);
  return 0;
}

static void test_crash_threads(void **state){
  Fix *pFix = *state;
  TestEnv *pTest = testenvNew();
  lsm_env *pEnv = testenvEnv(pTest);
  pthread_t aThread[4];
  Writer aWriter[4];
  char azPath[4][600];
  int i;

  testenvCrashAtSync(pTest, 300, 0, 0);
  for(i=0; i<4; i++){
    char zName[16];
    snprintf(zName, sizeof(zName), "w%d", i);
    snprintf(azPath[i], sizeof(azPath[i]), "%s", fixPath(pFix, zName));
    rawWrite(azPath[i], "", 0);       /* pre-existing: durable entry */
    aWriter[i].pEnv = pEnv;
    aWriter[i].zPath = azPath[i];
    aWriter[i].nSynced = 0;
  }
  for(i=0; i<4; i++){
    assert_int_equal(0, pthread_create(&aThread[i], 0, writerMain,
                                       &aWriter[i]));
  }
  for(i=0; i<4; i++){
    long nSize;
    pthread_join(aThread[i], 0);
    nSize = rawSize(azPath[i]);
    assert_true(nSize>=0);
    assert_true((uint64_t)nSize>=aWriter[i].nSynced);
    assert_int_equal(0, nSize % 256);
  }
  assert_true(testenvCrashed(pTest));
  assert_true(aWriter[0].nSynced + aWriter[1].nSynced + aWriter[2].nSynced
              + aWriter[3].nSynced < 4*200*256);
  testenvFree(pTest);
}

int main(void){
  const struct CMUnitTest aTest[] = {
    cmocka_unit_test_setup_teardown(test_posix_roundtrip, fixSetup,
                                    fixTeardown),
    cmocka_unit_test_setup_teardown(test_posix_notfound, fixSetup,
                                    fixTeardown),
    cmocka_unit_test_setup_teardown(test_posix_namespace, fixSetup,
                                    fixTeardown),
    cmocka_unit_test_setup_teardown(test_posix_lock_in_process, fixSetup,
                                    fixTeardown),
    cmocka_unit_test_setup_teardown(test_posix_lock_other_process, fixSetup,
                                    fixTeardown),
    cmocka_unit_test_setup_teardown(test_posix_atomic_write, fixSetup,
                                    fixTeardown),
    cmocka_unit_test_setup_teardown(test_posix_read_copy, fixSetup,
                                    fixTeardown),
    cmocka_unit_test_setup_teardown(test_posix_nomem, fixSetup,
                                    fixTeardown),
    cmocka_unit_test(test_posix_time),
    cmocka_unit_test_setup_teardown(test_testenv_counts, fixSetup,
                                    fixTeardown),
    cmocka_unit_test_setup_teardown(test_testenv_fault_each_kind, fixSetup,
                                    fixTeardown),
    cmocka_unit_test_setup_teardown(test_testenv_fault_persistent, fixSetup,
                                    fixTeardown),
    cmocka_unit_test_setup_teardown(test_testenv_short_write, fixSetup,
                                    fixTeardown),
    cmocka_unit_test_setup_teardown(test_crash_unsynced_tail, fixSetup,
                                    fixTeardown),
    cmocka_unit_test_setup_teardown(test_crash_unsynced_create, fixSetup,
                                    fixTeardown),
    cmocka_unit_test_setup_teardown(test_crash_unsynced_remove, fixSetup,
                                    fixTeardown),
    cmocka_unit_test_setup_teardown(test_crash_unsynced_rename, fixSetup,
                                    fixTeardown),
    cmocka_unit_test_setup_teardown(test_crash_truncate_and_link, fixSetup,
                                    fixTeardown),
    cmocka_unit_test_setup_teardown(test_crash_directories, fixSetup,
                                    fixTeardown),
    cmocka_unit_test_setup_teardown(test_crash_torn, fixSetup, fixTeardown),
    cmocka_unit_test_setup_teardown(test_crash_at_sync, fixSetup,
                                    fixTeardown),
    cmocka_unit_test_setup_teardown(test_crash_threads, fixSetup,
                                    fixTeardown),
  };
  return cmocka_run_group_tests(aTest, 0, 0);
}
