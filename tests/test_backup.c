/*
** test_backup.c -- online backup (lsm_backup, lsm_backup_ex): the copy
** opens, passes lsm_check (and lsmtool check when $LSMTOOL names it), and
** holds exactly the source's state at the committed point the backup
** reports, also while a writer thread commits all the time.
**
** lsmtool backup is tested here too ($LSMTOOL), with its progress line.
**
** The workload is a pure function of the sequence number: write j (one
** commit per write, so sequence j in a new database) touches key
** opKey(j) and deletes it when opIsDelete(j), else stores a value that
** names j.  The state at sequence S is then recomputed from 1..S without
** sharing anything with the writer thread.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lsm.h"
#include "support/testutil.h"

#define NKEY 400              /* key space of the workload */

static char *zBase;           /* /tmp/lsmtest-backup-PID */
static char zSrc[512];        /* the source database */
static char zCopy[512];       /* backups go here */

static int setup(void **state){
  (void)state;
  zBase = testTempDir("backup");
  if( zBase==0 ) return 1;
  snprintf(zSrc, sizeof(zSrc), "%s/src", zBase);
  snprintf(zCopy, sizeof(zCopy), "%s/copy", zBase);
  return 0;
}

static int teardown(void **state){
  (void)state;
  testRmTree(zBase);
  free(zBase);
  return 0;
}

/*---------------------------------------------------------------- workload --*/

static uint64_t opHash(uint64_t j){
  uint64_t s = j * 0x9e3779b97f4a7c15ull;
  return testRand(&s);
}
static int opKey(uint64_t j){ return (int)(opHash(j) % NKEY); }
static int opIsDelete(uint64_t j){ return ((opHash(j)>>32) % 8)==0; }

static int keyText(int iKey, char *z){ return sprintf(z, "key%04d", iKey); }
/* Values are long enough that a few hundred writes fill a small memtable. */
static int valText(uint64_t j, char *z){
  return sprintf(z, "val%08llu-%0100d", (unsigned long long)j, 7);
}

/* Apply write j to db.  Returns the engine's code. */
static int opApply(lsm_db *db, uint64_t j){
  char zKey[32], zVal[160];
  int nKey = keyText(opKey(j), zKey);
  if( opIsDelete(j) ) return lsm_delete(db, zKey, (size_t)nKey);
  return lsm_put(db, zKey, (size_t)nKey, zVal, (size_t)valText(j, zVal));
}

/* aLast[k] = the last write <= iSeq to key k (0: none). */
static void stateAt(uint64_t iSeq, uint64_t *aLast){
  uint64_t j;
  memset(aLast, 0, sizeof(uint64_t)*NKEY);
  for(j=1; j<=iSeq; j++) aLast[opKey(j)] = j;
}

/* Assert that db holds exactly the workload's state at iSeq. */
static void assertStateAt(lsm_db *db, uint64_t iSeq){
  uint64_t aLast[NKEY];
  lsm_iter *pIter = 0;
  int nExpect = 0, nSeen = 0, k, rc;
  stateAt(iSeq, aLast);
  for(k=0; k<NKEY; k++) if( aLast[k] && !opIsDelete(aLast[k]) ) nExpect++;
  assert_int_equal(lsm_iter_new(db, 0, 0, 0, 0, 0, &pIter), LSM_OK);
  for(rc=lsm_iter_first(pIter); lsm_iter_valid(pIter); rc=lsm_iter_next(pIter)){
    size_t nKey, nVal;
    const char *pKey = lsm_iter_key(pIter, &nKey);
    const char *pVal = lsm_iter_value(pIter, &nVal);
    char zKey[32], zVal[160];
    int iKey;
    assert_int_equal(rc, LSM_OK);
    assert_true(nKey==7 && sscanf(pKey, "key%4d", &iKey)==1);
    assert_true(iKey>=0 && iKey<NKEY);
    if( aLast[iKey]==0 || opIsDelete(aLast[iKey]) ){
      fail_msg("key %d present at seq %llu, last write %llu", iKey,
               (unsigned long long)iSeq, (unsigned long long)aLast[iKey]);
    }
    keyText(iKey, zKey);
    assert_int_equal(nVal, (size_t)valText(aLast[iKey], zVal));
    if( memcmp(pVal, zVal, nVal)!=0 ){
      fail_msg("key %d at seq %llu: value %.11s, expected %.11s", iKey,
               (unsigned long long)iSeq, pVal, zVal);
    }
    nSeen++;
  }
  assert_int_equal(lsm_iter_status(pIter), LSM_OK);
  lsm_iter_free(pIter);
  assert_int_equal(nSeen, nExpect);
}

/*----------------------------------------------------------------- helpers --*/

static void smallOptions(lsm_options *pOpts){
  lsm_options_init(pOpts);
  pOpts->sync_mode = LSM_SYNC_OFF;
  pOpts->memtable_size = 16*1024;
  pOpts->table_size = 8*1024;
  pOpts->level1_size = 32*1024;
  pOpts->block_size = 1024;
}

static lsm_db *openDir(const char *zDir, const lsm_options *pOpts){
  lsm_db *db = 0;
  int rc = lsm_open(zDir, pOpts, &db);
  if( rc!=LSM_OK ) fail_msg("lsm_open %s: %d %s", zDir, rc, lsm_errmsg(db));
  return db;
}

static void noProblem(void *pArg, const char *zProblem){
  (void)pArg;
  fail_msg("check: %s", zProblem);
}

/* lsm_check passes on zDir, and so does lsmtool check if available. */
static void assertCheckOk(const char *zDir){
  lsm_db *db = openDir(zDir, 0);
  const char *zTool = getenv("LSMTOOL");
  assert_int_equal(lsm_check(db, noProblem, 0), LSM_OK);
  assert_int_equal(lsm_close(db), LSM_OK);
  if( zTool && access(zTool, X_OK)==0 ){
    char zCmd[1200];
    int st;
    snprintf(zCmd, sizeof(zCmd), "'%s' check '%s' >/dev/null", zTool, zDir);
    st = system(zCmd);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st)==0);
  }
}

typedef struct Progress {
  int nCall;
  uint64_t nLastDone, nLastTotal;
  int bBackwards;
} Progress;

static void onProgress(void *pArg, uint64_t nDone, uint64_t nTotal){
  Progress *p = (Progress*)pArg;
  if( nDone<p->nLastDone || nDone>nTotal ) p->bBackwards = 1;
  p->nCall++;
  p->nLastDone = nDone;
  p->nLastTotal = nTotal;
}

static ino_t inodeOf(const char *zDir, const char *zName, nlink_t *pnLink){
  char zPath[1024];
  struct stat st;
  snprintf(zPath, sizeof(zPath), "%s/%s", zDir, zName);
  assert_int_equal(stat(zPath, &st), 0);
  if( pnLink ) *pnLink = st.st_nlink;
  return st.st_ino;
}

/* Name of some NNNNNN.sst in zDir (into zOut); 0 if there is none. */
static int someTable(const char *zDir, char *zOut, size_t nOut){
  char zCmd[600];
  FILE *p;
  int bFound;
  snprintf(zCmd, sizeof(zCmd), "ls '%s' | grep '\\.sst$' | head -1", zDir);
  p = popen(zCmd, "r");
  assert_non_null(p);
  bFound = fgets(zOut, (int)nOut, p)!=0;
  pclose(p);
  if( bFound ) zOut[strcspn(zOut, "\n")] = 0;
  return bFound && zOut[0];
}

/*------------------------------------------------------------------- tests --*/

/* A copy of tables, frozen and live memtables; tables hard-linked. */
static void test_basic(void **state){
  lsm_options opts;
  lsm_db *db, *pCopy;
  Progress prog;
  uint64_t j, iSeq = 0;
  char zTable[64];
  nlink_t nLink = 0;
  (void)state;
  smallOptions(&opts);
  db = openDir(zSrc, &opts);
  for(j=1; j<=2000; j++) assert_int_equal(opApply(db, j), LSM_OK);
  memset(&prog, 0, sizeof(prog));
  assert_int_equal(lsm_backup_ex(db, zCopy, &iSeq, onProgress, &prog), LSM_OK);
  assert_int_equal(iSeq, 2000);
  assert_true(prog.nCall>=2);
  assert_false(prog.bBackwards);
  assert_true(prog.nLastDone>0 && prog.nLastDone==prog.nLastTotal);

  /* Tables of the source appear in the copy as the same file. */
  assert_true(someTable(zCopy, zTable, sizeof(zTable)));
  {
    char zSrcTable[1024];
    struct stat st;
    snprintf(zSrcTable, sizeof(zSrcTable), "%s/%s", zSrc, zTable);
    if( stat(zSrcTable, &st)==0 ){
      assert_true(inodeOf(zCopy, zTable, &nLink)==st.st_ino);
      assert_true(nLink>=2);
    }
  }
  /* Writes after the backup do not reach the copy. */
  for(j=2001; j<=2100; j++) assert_int_equal(opApply(db, j), LSM_OK);
  pCopy = openDir(zCopy, 0);
  assert_int_equal(lsm_last_seq(pCopy), 2000);
  assertStateAt(pCopy, 2000);
  assertStateAt(db, 2100);
  assert_int_equal(lsm_close(pCopy), LSM_OK);
  assert_int_equal(lsm_close(db), LSM_OK);
  assertCheckOk(zCopy);
}

/* An existing destination is refused and left alone. */
static void test_exists(void **state){
  lsm_db *db;
  char zFile[600];
  FILE *f;
  (void)state;
  db = openDir(zSrc, 0);
  assert_int_equal(opApply(db, 1), LSM_OK);
  assert_int_equal(mkdir(zCopy, 0755), 0);
  snprintf(zFile, sizeof(zFile), "%s/mine.txt", zCopy);
  f = fopen(zFile, "w");
  assert_non_null(f);
  fclose(f);
  assert_int_equal(lsm_backup(db, zCopy), LSM_CANTOPEN);
  assert_non_null(strstr(lsm_errmsg(db), "already exists"));
  assert_int_equal(access(zFile, F_OK), 0);
  /* A parent that does not exist fails cleanly too. */
  snprintf(zFile, sizeof(zFile), "%s/no/such/dir", zBase);
  assert_int_not_equal(lsm_backup(db, zFile), LSM_OK);
  assert_int_equal(lsm_close(db), LSM_OK);
}

static int failLink(lsm_env *pEnv, const char *zFrom, const char *zTo){
  (void)pEnv; (void)zFrom; (void)zTo;
  return LSM_IOERR;
}

/* Where hard links fail, tables are copied. */
static void test_copy_fallback(void **state){
  lsm_env env = *lsm_env_default();
  lsm_options opts;
  lsm_db *db, *pCopy;
  uint64_t j;
  char zTable[64];
  nlink_t nLink = 0;
  (void)state;
  env.xLink = failLink;
  smallOptions(&opts);
  opts.env = &env;
  db = openDir(zSrc, &opts);
  for(j=1; j<=1500; j++) assert_int_equal(opApply(db, j), LSM_OK);
  assert_int_equal(lsm_flush(db), LSM_OK);
  assert_int_equal(lsm_backup(db, zCopy), LSM_OK);
  assert_true(someTable(zCopy, zTable, sizeof(zTable)));
  inodeOf(zCopy, zTable, &nLink);
  assert_int_equal(nLink, 1);
  assert_int_equal(lsm_close(db), LSM_OK);
  pCopy = openDir(zCopy, 0);
  assertStateAt(pCopy, 1500);
  assert_int_equal(lsm_close(pCopy), LSM_OK);
  assertCheckOk(zCopy);
}

/* A read-only handle backs up what it recovered from the logs. */
static void test_readonly(void **state){
  lsm_options opts;
  lsm_db *db, *pCopy;
  uint64_t j;
  (void)state;
  lsm_options_init(&opts);
  db = openDir(zSrc, &opts);
  for(j=1; j<=300; j++) assert_int_equal(opApply(db, j), LSM_OK);
  assert_int_equal(lsm_close(db), LSM_OK);
  opts.read_only = 1;
  db = openDir(zSrc, &opts);
  assert_int_equal(lsm_backup(db, zCopy), LSM_OK);
  assert_int_equal(lsm_close(db), LSM_OK);
  pCopy = openDir(zCopy, 0);
  assertStateAt(pCopy, 300);
  assert_int_equal(lsm_close(pCopy), LSM_OK);
}

typedef struct WriterCtx {
  lsm_db *db;
  uint64_t iNext;             /* next write (owned by the writer) */
  int bStop;                  /* atomic */
  int rc;
} WriterCtx;

static void *writerMain(void *pArg){
  WriterCtx *p = (WriterCtx*)pArg;
  while( !__atomic_load_n(&p->bStop, __ATOMIC_ACQUIRE) ){
    p->rc = opApply(p->db, p->iNext);
    if( p->rc!=LSM_OK ) break;
    p->iNext++;
  }
  return 0;
}

/* Backups while a writer commits continuously (and flushes and
** compactions run): each copy is exactly one committed point. */
static void test_concurrent(void **state){
  lsm_options opts;
  lsm_db *db;
  WriterCtx w;
  pthread_t t;
  uint64_t aSeq[4];
  int i;
  (void)state;
  smallOptions(&opts);
  db = openDir(zSrc, &opts);
  memset(&w, 0, sizeof(w));
  w.db = db;
  w.iNext = 1;
  assert_int_equal(pthread_create(&t, 0, writerMain, &w), 0);
  for(i=0; i<4; i++){
    char zDest[600];
    /* Let the writer get ahead a little each time. */
    while( lsm_last_seq(db) < (uint64_t)(i+1)*700 ) usleep(1000);
    snprintf(zDest, sizeof(zDest), "%s/copy%d", zBase, i);
    assert_int_equal(lsm_backup_ex(db, zDest, &aSeq[i], 0, 0), LSM_OK);
    assert_true(aSeq[i] >= (uint64_t)(i+1)*700);
  }
  __atomic_store_n(&w.bStop, 1, __ATOMIC_RELEASE);
  pthread_join(t, 0);
  assert_int_equal(w.rc, LSM_OK);
  assert_int_equal(lsm_close(db), LSM_OK);
  for(i=0; i<4; i++){
    char zDest[600];
    lsm_db *pCopy;
    snprintf(zDest, sizeof(zDest), "%s/copy%d", zBase, i);
    pCopy = openDir(zDest, 0);
    assert_int_equal(lsm_last_seq(pCopy), aSeq[i]);
    assertStateAt(pCopy, aSeq[i]);
    assert_int_equal(lsm_close(pCopy), LSM_OK);
    assertCheckOk(zDest);
  }
}

/* A follower: a backup, then the change feed from the backup's point,
** applied to the copy, makes it equal to the source. */
static void test_follower(void **state){
  lsm_options opts;
  lsm_db *db, *pCopy;
  lsm_changes *pFeed = 0;
  uint64_t j, iSeq = 0, iPrev;
  int rc, nApplied = 0;
  (void)state;
  smallOptions(&opts);
  opts.log_retain_bytes = 64<<20;
  db = openDir(zSrc, &opts);
  for(j=1; j<=1000; j++) assert_int_equal(opApply(db, j), LSM_OK);
  assert_int_equal(lsm_backup_ex(db, zCopy, &iSeq, 0, 0), LSM_OK);
  assert_int_equal(iSeq, 1000);
  for(j=1001; j<=2500; j++) assert_int_equal(opApply(db, j), LSM_OK);

  pCopy = openDir(zCopy, 0);
  rc = lsm_changes_open(db, iSeq, &pFeed);
  if( rc!=LSM_OK ) fail_msg("lsm_changes_open: %s", lsm_errmsg(db));
  iPrev = iSeq;
  for(;;){
    uint64_t s;
    int bDel;
    const void *pK, *pV;
    size_t nK, nV;
    rc = lsm_changes_next(pFeed, &s, &bDel, &pK, &nK, &pV, &nV);
    if( rc!=LSM_OK ) break;
    assert_int_equal(s, iPrev+1);
    iPrev = s;
    rc = bDel ? lsm_delete(pCopy, pK, nK) : lsm_put(pCopy, pK, nK, pV, nV);
    assert_int_equal(rc, LSM_OK);
    nApplied++;
  }
  assert_int_equal(rc, LSM_NOTFOUND);
  lsm_changes_close(pFeed);
  assert_int_equal(nApplied, 1500);
  assertStateAt(pCopy, 2500);
  assert_int_equal(lsm_close(pCopy), LSM_OK);
  assert_int_equal(lsm_close(db), LSM_OK);
}

typedef struct Problems {
  int n;
  char zFirst[512];
} Problems;

static void collectProblem(void *pArg, const char *zProblem){
  Problems *p = (Problems*)pArg;
  if( p->n++==0 ) snprintf(p->zFirst, sizeof(p->zFirst), "%s", zProblem);
}

/* lsm_check on a live handle finds damage in a log kept for the change
** feed, and names the file. */
static void test_check_logs(void **state){
  lsm_options opts;
  lsm_db *db;
  Problems probs;
  lsm_batch *pBatch = 0;
  char zLog[64], zPath[1024];
  FILE *f;
  uint64_t j;
  (void)state;
  smallOptions(&opts);
  opts.log_retain_bytes = 64<<20;
  /* Synced batches: damage followed by one is corruption, not a torn
  ** tail, in any log (ten writes a commit keep the fsyncs few). */
  opts.sync_mode = LSM_SYNC_FULL;
  db = openDir(zSrc, &opts);
  assert_int_equal(lsm_batch_new(&pBatch), LSM_OK);
  for(j=1; j<=1500; j++){
    char zKey[32], zVal[160];
    int nKey = keyText(opKey(j), zKey);
    if( opIsDelete(j) ){
      assert_int_equal(lsm_batch_delete(pBatch, zKey, (size_t)nKey), LSM_OK);
    }else{
      assert_int_equal(lsm_batch_put(pBatch, zKey, (size_t)nKey, zVal,
                                     (size_t)valText(j, zVal)), LSM_OK);
    }
    if( j%10==0 ){
      assert_int_equal(lsm_write(db, pBatch), LSM_OK);
      assert_int_equal(lsm_batch_clear(pBatch), LSM_OK);
    }
  }
  lsm_batch_free(pBatch);
  assertStateAt(db, 1500);
  memset(&probs, 0, sizeof(probs));
  assert_int_equal(lsm_check(db, collectProblem, &probs), LSM_OK);
  assert_int_equal(probs.n, 0);

  /* The oldest log: a byte in its first record's payload. */
  {
    char zCmd[600];
    FILE *p;
    snprintf(zCmd, sizeof(zCmd), "ls '%s' | grep '\\.log$' | head -1", zSrc);
    p = popen(zCmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(zLog, sizeof(zLog), p));
    pclose(p);
    zLog[strcspn(zLog, "\n")] = 0;
  }
  snprintf(zPath, sizeof(zPath), "%s/%s", zSrc, zLog);
  f = fopen(zPath, "r+b");
  assert_non_null(f);
  assert_int_equal(fseek(f, 20, SEEK_SET), 0);
  fputc(0xee, f);
  fclose(f);
  assert_int_equal(lsm_check(db, collectProblem, &probs), LSM_CORRUPT);
  assert_int_equal(probs.n, 1);
  if( strstr(probs.zFirst, zLog)==0 ) fail_msg("problem: %s", probs.zFirst);
  assert_non_null(strstr(lsm_errmsg(db), zLog));
  assert_int_equal(lsm_close(db), LSM_OK);
}

/* The output of shell command zCmd (malloc), and its exit status. */
static char *runCommand(const char *zCmd, int *pStatus){
  FILE *p = popen(zCmd, "r");
  size_t n = 0, nAlloc = 4096;
  char *zOut = malloc(nAlloc);
  int st;
  assert_non_null(p);
  assert_non_null(zOut);
  while( (st = fgetc(p))!=EOF ){
    if( n+2>nAlloc ){
      nAlloc *= 2;
      zOut = realloc(zOut, nAlloc);
      assert_non_null(zOut);
    }
    zOut[n++] = (char)st;
  }
  zOut[n] = 0;
  st = pclose(p);
  *pStatus = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return zOut;
}

/* lsmtool backup: a database not open elsewhere; quiet unless stderr is
** a terminal, where it shows progress (as check does). */
static void test_lsmtool(void **state){
  const char *zTool = getenv("LSMTOOL");
  lsm_db *db;
  char zCmd[1600];
  char *zOut;
  int st;
  uint64_t j;
  (void)state;
  if( zTool==0 || access(zTool, X_OK)!=0 ){
    skip();
  }
  db = openDir(zSrc, 0);
  for(j=1; j<=800; j++) assert_int_equal(opApply(db, j), LSM_OK);
  assert_int_equal(lsm_flush(db), LSM_OK);
  for(j=801; j<=900; j++) assert_int_equal(opApply(db, j), LSM_OK);

  /* In use by this process: refused, with the way out in the message. */
  snprintf(zCmd, sizeof(zCmd), "'%s' backup '%s' '%s' 2>&1", zTool, zSrc, zCopy);
  zOut = runCommand(zCmd, &st);
  assert_int_equal(st, 1);
  assert_non_null(strstr(zOut, "lsm_backup"));
  free(zOut);
  assert_int_equal(lsm_close(db), LSM_OK);

  /* stdout names the point; stderr (not a terminal) stays empty. */
  snprintf(zCmd, sizeof(zCmd), "'%s' backup '%s' '%s' 2>'%s/stderr.txt'",
           zTool, zSrc, zCopy, zBase);
  zOut = runCommand(zCmd, &st);
  assert_int_equal(st, 0);
  assert_non_null(strstr(zOut, "last seq 900"));
  free(zOut);
  snprintf(zCmd, sizeof(zCmd), "%s/stderr.txt", zBase);
  {
    struct stat sb;
    assert_int_equal(stat(zCmd, &sb), 0);
    assert_int_equal(sb.st_size, 0);
  }
  db = openDir(zCopy, 0);
  assertStateAt(db, 900);
  assert_int_equal(lsm_close(db), LSM_OK);
  assertCheckOk(zCopy);

  /* With a terminal (script(1) provides one) check shows its progress. */
  if( access("/usr/bin/script", X_OK)==0 ){
    snprintf(zCmd, sizeof(zCmd), "/usr/bin/script -qec \"'%s' check '%s'\" "
             "/dev/null", zTool, zCopy);
    zOut = runCommand(zCmd, &st);
    assert_int_equal(st, 0);
    if( strstr(zOut, "check: ")==0 || strstr(zOut, "100%")==0
     || strstr(zOut, "/s")==0 ){
      fail_msg("no progress line in: %s", zOut);
    }
    free(zOut);
  }
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
    cmocka_unit_test_setup_teardown(test_exists, setup, teardown),
    cmocka_unit_test_setup_teardown(test_copy_fallback, setup, teardown),
    cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
    cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
    cmocka_unit_test_setup_teardown(test_follower, setup, teardown),
    cmocka_unit_test_setup_teardown(test_check_logs, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lsmtool, setup, teardown),
  };
  return cmocka_run_group_tests(tests, 0, 0);
}
