/*
** test_lsmtool.c -- the lsmtool program run on a real data directory.
**
** The group setup builds a directory through the public API with known
** content:
**
**     seq 1 put "apple" = "red"          \
**     seq 2 put "banana" = "yellow"       |  flushed: one level-0 table
**     seq 3 del "apple"                   |  of 4 entries, 1 tombstone
**     seq 4 put x'00ff' = "bin"          /
**     seq 5 put "cherry" = "red"         \
**     seq 6 put "date" = 100 x "z"        |  left in the log
**     seq 7 del "banana"                  |
**     seq 8 put "say \"hi\"\\" = x'0102'  /
**
** and each test runs the tool (path from $LSMTOOL, else
** lsm/tools/lsmtool) with popen and checks its output and exit status
** against that content.  Tests that damage files work on a copy in a
** scratch directory, so the original stays intact for the others.  The
** fuzz test damages files at seeded random places and requires that the
** tool exits with 0 or 1 and reports every damaged table, never crashes.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lsm.h"
#include "support/testutil.h"

static char *zRoot;             /* the test's temporary directory */
static char zData[512];         /* the data directory built by setup */
static char zWork[512];         /* scratch copies of it */
static char zSst[256];           /* file names (no directory) in zData */
static char zLog[256];
static char zManifest[256];

static const char *toolPath(void){
  const char *z = getenv("LSMTOOL");
  return (z && z[0]) ? z : "lsm/tools/lsmtool";
}

/*
** Run the tool with the arguments formatted from zFmt (a shell fragment;
** paths are quoted by the caller), stdout and stderr merged.  Returns
** the output (free()d by the caller) and sets *pStatus to the exit
** status, or to 128 + the signal number if the tool was killed.
*/
static char *runTool(int *pStatus, const char *zFmt, ...){
  char zArgs[2048], zCmd[3072];
  char *zOut = 0;
  size_t nOut = 0, nAlloc = 0;
  va_list ap;
  FILE *pPipe;
  int st;
  va_start(ap, zFmt);
  vsnprintf(zArgs, sizeof(zArgs), zFmt, ap);
  va_end(ap);
  snprintf(zCmd, sizeof(zCmd), "'%s' %s 2>&1", toolPath(), zArgs);
  pPipe = popen(zCmd, "r");
  if( pPipe==0 ) fail_msg("popen %s", zCmd);
  for(;;){
    size_t n;
    if( nAlloc-nOut<4096 ){
      nAlloc = nAlloc*2 + 8192;
      zOut = realloc(zOut, nAlloc);
      assert_non_null(zOut);
    }
    n = fread(zOut+nOut, 1, nAlloc-nOut-1, pPipe);
    if( n==0 ) break;
    nOut += n;
  }
  zOut[nOut] = 0;
  st = pclose(pPipe);
  if( st!=-1 && WIFEXITED(st) ){
    *pStatus = WEXITSTATUS(st);
  }else{
    *pStatus = 128 + (st!=-1 && WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  }
  return zOut;
}

/* Assert that zOut contains zWant, showing the output if not. */
static void expectIn(const char *zOut, const char *zWant){
  if( strstr(zOut, zWant)==0 ){
    fail_msg("expected \"%s\" in the output:\n%s", zWant, zOut);
  }
}

static int countLines(const char *z){
  int n = 0;
  for(; *z; z++) n += (*z=='\n');
  return n;
}

static long long fileSize(const char *zPath){
  struct stat st;
  if( stat(zPath, &st)!=0 ) fail_msg("stat %s", zPath);
  return (long long)st.st_size;
}

/* XOR byte iOff of zPath with mask. */
static void flipByte(const char *zPath, long long iOff, int mask){
  FILE *f = fopen(zPath, "r+b");
  int c;
  assert_non_null(f);
  assert_int_equal(fseek(f, iOff, SEEK_SET), 0);
  c = fgetc(f);
  assert_true(c!=EOF);
  assert_int_equal(fseek(f, iOff, SEEK_SET), 0);
  fputc(c ^ mask, f);
  assert_int_equal(fclose(f), 0);
}

static void appendZeros(const char *zPath, int n){
  FILE *f = fopen(zPath, "ab");
  assert_non_null(f);
  while( n-- > 0 ) fputc(0, f);
  assert_int_equal(fclose(f), 0);
}

/* Copy every regular file of zFrom into zTo, made afresh. */
static void copyDir(const char *zFrom, const char *zTo){
  DIR *pDir;
  struct dirent *pEnt;
  testRmTree(zTo);
  assert_int_equal(mkdir(zTo, 0755), 0);
  pDir = opendir(zFrom);
  assert_non_null(pDir);
  while( (pEnt = readdir(pDir))!=0 ){
    char zSrc[1024], zDst[1024], aBuf[8192];
    FILE *pIn, *pOut;
    size_t n;
    if( pEnt->d_name[0]=='.' ) continue;
    snprintf(zSrc, sizeof(zSrc), "%s/%s", zFrom, pEnt->d_name);
    snprintf(zDst, sizeof(zDst), "%s/%s", zTo, pEnt->d_name);
    pIn = fopen(zSrc, "rb");
    pOut = fopen(zDst, "wb");
    assert_non_null(pIn);
    assert_non_null(pOut);
    while( (n = fread(aBuf, 1, sizeof(aBuf), pIn))>0 ){
      assert_int_equal(fwrite(aBuf, 1, n, pOut), n);
    }
    fclose(pIn);
    assert_int_equal(fclose(pOut), 0);
  }
  closedir(pDir);
}

/* The one file of zDir whose name starts with zPrefix and ends with
** zSuffix, into zName; fails the test unless there is exactly one. */
static void findOne(const char *zDir, const char *zPrefix, const char *zSuffix,
                    char *zName, size_t nName){
  DIR *pDir = opendir(zDir);
  struct dirent *pEnt;
  int nFound = 0;
  assert_non_null(pDir);
  while( (pEnt = readdir(pDir))!=0 ){
    size_t n = strlen(pEnt->d_name), nSuf = strlen(zSuffix);
    if( strncmp(pEnt->d_name, zPrefix, strlen(zPrefix))==0
     && n>=nSuf && strcmp(pEnt->d_name+n-nSuf, zSuffix)==0 ){
      snprintf(zName, nName, "%s", pEnt->d_name);
      nFound++;
    }
  }
  closedir(pDir);
  if( nFound!=1 ) fail_msg("%d files %s*%s in %s", nFound, zPrefix, zSuffix, zDir);
}

static void put(lsm_db *db, const char *zKey, size_t nKey,
                const char *zVal, size_t nVal){
  int rc = lsm_put(db, zKey, nKey, zVal, nVal);
  if( rc!=LSM_OK ) fail_msg("put: %d %s", rc, lsm_errmsg(db));
}

static int setup(void **state){
  lsm_db *db = 0;
  char aBig[100];
  int rc;
  (void)state;
  zRoot = testTempDir("lsmtool");
  if( zRoot==0 ) return -1;
  snprintf(zData, sizeof(zData), "%s/data", zRoot);
  snprintf(zWork, sizeof(zWork), "%s/work", zRoot);
  rc = lsm_open(zData, 0, &db);
  if( rc!=LSM_OK ){
    fprintf(stderr, "lsm_open: %d %s\n", rc, lsm_errmsg(db));
    lsm_close(db);
    return -1;
  }
  put(db, "apple", 5, "red", 3);
  put(db, "banana", 6, "yellow", 6);
  if( lsm_delete(db, "apple", 5)!=LSM_OK ) return -1;
  put(db, "\x00\xff", 2, "bin", 3);
  if( lsm_flush(db)!=LSM_OK ) return -1;
  memset(aBig, 'z', sizeof(aBig));
  put(db, "cherry", 6, "red", 3);
  put(db, "date", 4, aBig, sizeof(aBig));
  if( lsm_delete(db, "banana", 6)!=LSM_OK ) return -1;
  put(db, "say \"hi\"\\", 9, "\x01\x02", 2);
  if( lsm_close(db)!=LSM_OK ) return -1;
  findOne(zData, "", ".sst", zSst, sizeof(zSst));
  findOne(zData, "", ".log", zLog, sizeof(zLog));
  findOne(zData, "MANIFEST-", "", zManifest, sizeof(zManifest));
  return 0;
}

static int teardown(void **state){
  (void)state;
  testRmTree(zRoot);
  free(zRoot);
  return 0;
}

static void test_usage(void **state){
  int st;
  char *z;
  (void)state;
  z = runTool(&st, "");
  assert_int_equal(st, 2);
  expectIn(z, "usage: lsmtool");
  free(z);
  z = runTool(&st, "help");
  assert_int_equal(st, 0);
  expectIn(z, "dump-log FILE");
  expectIn(z, "dump-table [--props] FILE");
  expectIn(z, "dump-manifest FILE|DIR");
  expectIn(z, "check DIR");
  expectIn(z, "stat DIR");
  free(z);
  z = runTool(&st, "frobnicate '%s'", zData);
  assert_int_equal(st, 2);
  free(z);
  z = runTool(&st, "check");
  assert_int_equal(st, 2);
  free(z);
  z = runTool(&st, "check '%s' extra", zData);
  assert_int_equal(st, 2);
  free(z);
  z = runTool(&st, "dump-table --props");
  assert_int_equal(st, 2);
  free(z);
  /* A missing file is an error with the engine's message, not usage. */
  z = runTool(&st, "dump-table '%s/nosuch.sst'", zData);
  assert_int_equal(st, 1);
  expectIn(z, "nosuch.sst");
  free(z);
  z = runTool(&st, "check '%s/nosuch'", zData);
  assert_int_equal(st, 1);
  expectIn(z, "CURRENT");
  free(z);
}

static void test_dump_log(void **state){
  char zPath[1024], zWant[1024], zZ[65];
  int st;
  char *z;
  (void)state;
  snprintf(zPath, sizeof(zPath), "%s/%s", zData, zLog);
  z = runTool(&st, "dump-log '%s'", zPath);
  assert_int_equal(st, 0);
  /* One commit per record under the default sync mode full. */
  expectIn(z, "offset 0 batch-sync length ");
  expectIn(z, " seq 5 count 1\n");
  expectIn(z, " seq 8 count 1\n");
  expectIn(z, "\n  seq 5 put key \"cherry\" value \"red\"\n");
  memset(zZ, 'z', 64);
  zZ[64] = 0;
  snprintf(zWant, sizeof(zWant),
           "\n  seq 6 put key \"date\" value \"%s\"...(100 bytes)\n", zZ);
  expectIn(z, zWant);
  expectIn(z, "\n  seq 7 del key \"banana\"\n");
  expectIn(z, "\n  seq 8 put key \"say \\\"hi\\\"\\\\\" value x'0102'\n");
  snprintf(zWant, sizeof(zWant), "end clean at offset %lld\n", fileSize(zPath));
  expectIn(z, zWant);
  /* Header, 4 records of one operation each, end. */
  assert_int_equal(countLines(z), 1 + 4*2 + 1);
  assert_null(strstr(z, "seq 4"));
  free(z);
}

static void test_dump_log_damage(void **state){
  char zPath[1024], zWant[1024];
  long long nLog;
  int st;
  char *z;
  (void)state;
  copyDir(zData, zWork);
  snprintf(zPath, sizeof(zPath), "%s/%s", zWork, zLog);
  nLog = fileSize(zPath);

  /* Zeros after the last record: a torn tail, reported, not an error. */
  appendZeros(zPath, 20);
  z = runTool(&st, "dump-log '%s'", zPath);
  assert_int_equal(st, 0);
  snprintf(zWant, sizeof(zWant),
           "end torn tail at offset %lld (20 bytes ignored)\n", nLog);
  expectIn(z, zWant);
  expectIn(z, "seq 8 put");
  free(z);

  /* A damaged first record followed by good ones: corruption. */
  flipByte(zPath, 12, 0x01);
  z = runTool(&st, "dump-log '%s'", zPath);
  assert_int_equal(st, 1);
  expectIn(z, zLog);
  expectIn(z, "corrupt log record at offset 0");
  assert_null(strstr(z, "seq 5 put"));
  free(z);
}

static void test_dump_table(void **state){
  char zPath[1024], zWant[1024];
  const char *zA, *zB, *zC, *zD;
  int st;
  char *z;
  (void)state;
  snprintf(zPath, sizeof(zPath), "%s/%s", zData, zSst);
  z = runTool(&st, "dump-table '%s'", zPath);
  assert_int_equal(st, 0);
  snprintf(zWant, sizeof(zWant), "\n  file size %lld\n", fileSize(zPath));
  expectIn(z, zWant);
  expectIn(z, "\n  entries 4\n");
  expectIn(z, "\n  tombstones 1\n");
  expectIn(z, "\n  seq range 1..4\n");
  expectIn(z, "\n  smallest x'00ff' seq 4 put\n");
  expectIn(z, "\n  largest \"banana\" seq 2 put\n");
  expectIn(z, "\n  data blocks 1\n");
  /* Internal-key order: user key ascending, newest version first. */
  zA = strstr(z, "\n  seq 4 put key x'00ff' value \"bin\"\n");
  zB = strstr(z, "\n  seq 3 del key \"apple\"\n");
  zC = strstr(z, "\n  seq 1 put key \"apple\" value \"red\"\n");
  zD = strstr(z, "\n  seq 2 put key \"banana\" value \"yellow\"\n");
  if( !zA || !zB || !zC || !zD || !(zA<zB && zB<zC && zC<zD) ){
    fail_msg("entries missing or out of order:\n%s", z);
  }
  expectIn(z, "\nend 4 entries\n");
  free(z);

  z = runTool(&st, "dump-table --props '%s'", zPath);
  assert_int_equal(st, 0);
  expectIn(z, "\n  entries 4\n");
  assert_null(strstr(z, "seq 4 put key"));
  free(z);
  z = runTool(&st, "dump-table '%s' --props", zPath);
  assert_int_equal(st, 0);
  expectIn(z, "\n  tombstones 1\n");
  assert_null(strstr(z, "seq 4 put key"));
  free(z);
}

static void test_dump_manifest(void **state){
  char zPath[1024], zWant[1024];
  unsigned long long iLog = strtoull(zLog, 0, 10);
  long long nSst, nManifest;
  int st;
  char *z, *z2;
  (void)state;
  snprintf(zPath, sizeof(zPath), "%s/%s", zData, zSst);
  nSst = fileSize(zPath);
  snprintf(zPath, sizeof(zPath), "%s/%s", zData, zManifest);
  nManifest = fileSize(zPath);

  z = runTool(&st, "dump-manifest '%s'", zData);
  assert_int_equal(st, 0);
  snprintf(zWant, sizeof(zWant), "manifest %s/%s\n", zData, zManifest);
  expectIn(z, zWant);
  expectIn(z, "offset 0 edit length ");
  snprintf(zWant, sizeof(zWant), "\n  add L0 %s size %lld entries 4 "
           "tombstones 1 seq 1..4 smallest x'00ff' seq 4 put "
           "largest \"banana\" seq 2 put\n", zSst, nSst);
  expectIn(z, zWant);
  expectIn(z, "\n  last seq 4\n");
  snprintf(zWant, sizeof(zWant), "\nend clean at offset %lld\n", nManifest);
  expectIn(z, zWant);
  snprintf(zWant, sizeof(zWant), "\n  L0 tables 1 bytes %lld entries 4\n", nSst);
  expectIn(z, zWant);
  expectIn(z, "\n  L1 tables 0 bytes 0 entries 0\n");
  snprintf(zWant, sizeof(zWant), "\nlog number %llu next file ", iLog);
  expectIn(z, zWant);
  expectIn(z, " last seq 4\n");

  /* Naming the manifest file gives the same output. */
  z2 = runTool(&st, "dump-manifest '%s'", zPath);
  assert_int_equal(st, 0);
  assert_string_equal(z, z2);
  free(z2);
  free(z);
}

static void test_check_ok(void **state){
  char zPath[1024];
  int st;
  char *z;
  (void)state;
  z = runTool(&st, "check '%s'", zData);
  assert_string_equal(z, "ok\n");
  assert_int_equal(st, 0);
  free(z);

  /* A torn tail in the newest log is what a crash leaves: still ok. */
  copyDir(zData, zWork);
  snprintf(zPath, sizeof(zPath), "%s/%s", zWork, zLog);
  appendZeros(zPath, 37);
  z = runTool(&st, "check '%s'", zWork);
  assert_string_equal(z, "ok\n");
  assert_int_equal(st, 0);
  free(z);
}

static void test_check_table_damage(void **state){
  char zPath[1024];
  long long nSst, aOff[4];
  int i, st;
  char *z;
  (void)state;
  snprintf(zPath, sizeof(zPath), "%s/%s", zData, zSst);
  nSst = fileSize(zPath);
  aOff[0] = 0;                  /* first data block */
  aOff[1] = nSst/2;
  aOff[2] = nSst - 12;          /* footer CRC */
  aOff[3] = nSst - 1;           /* magic */
  for(i=0; i<4; i++){
    copyDir(zData, zWork);
    snprintf(zPath, sizeof(zPath), "%s/%s", zWork, zSst);
    flipByte(zPath, aOff[i], 0x10);
    z = runTool(&st, "check '%s'", zWork);
    if( st!=1 || strstr(z, zSst)==0 || countLines(z)!=1 ){
      fail_msg("flip at %lld: status %d, output:\n%s", aOff[i], st, z);
    }
    assert_null(strstr(z, "ok\n"));
    free(z);
  }
}

static void test_check_missing_table(void **state){
  char zPath[1024], zWant[1024];
  int st;
  char *z;
  (void)state;
  copyDir(zData, zWork);
  snprintf(zPath, sizeof(zPath), "%s/%s", zWork, zSst);
  assert_int_equal(unlink(zPath), 0);
  z = runTool(&st, "check '%s'", zWork);
  assert_int_equal(st, 1);
  snprintf(zWant, sizeof(zWant), "%s: missing", zSst);
  expectIn(z, zWant);
  expectIn(z, zManifest);
  free(z);
}

static void test_check_log_damage(void **state){
  char zPath[1024];
  int st;
  char *z;
  (void)state;
  copyDir(zData, zWork);
  snprintf(zPath, sizeof(zPath), "%s/%s", zWork, zLog);
  flipByte(zPath, 12, 0x01);
  z = runTool(&st, "check '%s'", zWork);
  assert_int_equal(st, 1);
  expectIn(z, zLog);
  expectIn(z, "offset 0");
  free(z);

  /* A torn tail in a log older than the newest one is damage. */
  copyDir(zData, zWork);
  snprintf(zPath, sizeof(zPath), "%s/%s", zWork, zLog);
  appendZeros(zPath, 16);
  snprintf(zPath, sizeof(zPath), "%s/%06llu.log", zWork,
           strtoull(zLog, 0, 10) + 1000);
  appendZeros(zPath, 0);
  z = runTool(&st, "check '%s'", zWork);
  assert_int_equal(st, 1);
  expectIn(z, zLog);
  expectIn(z, "not the newest");
  free(z);
}

static void test_stat(void **state){
  char zPath[1024], zWant[1024];
  unsigned long long nTab, nByte, nEntry, nTomb;
  const char *zLine;
  int st;
  char *z;
  (void)state;
  z = runTool(&st, "stat '%s'", zData);
  assert_int_equal(st, 0);
  snprintf(zPath, sizeof(zPath), "%s/%s", zData, zSst);
  zLine = strstr(z, "\nL0 ");
  assert_non_null(zLine);
  assert_int_equal(sscanf(zLine, " L0 %llu %llu %llu %llu",
                          &nTab, &nByte, &nEntry, &nTomb), 4);
  assert_int_equal(nTab, 1);
  assert_int_equal(nByte, (unsigned long long)fileSize(zPath));
  assert_int_equal(nEntry, 4);
  assert_int_equal(nTomb, 1);
  zLine = strstr(z, "\nL1 ");
  assert_non_null(zLine);
  assert_int_equal(sscanf(zLine, " L1 %llu %llu", &nTab, &nByte), 2);
  assert_int_equal(nTab, 0);
  assert_int_equal(nByte, 0);
  zLine = strstr(z, "\ntotal ");
  assert_non_null(zLine);
  assert_int_equal(sscanf(zLine, " total %llu", &nTab), 1);
  assert_int_equal(nTab, 1);
  snprintf(zPath, sizeof(zPath), "%s/%s", zData, zLog);
  snprintf(zWant, sizeof(zWant), "\nlog %s size %lld\n", zLog, fileSize(zPath));
  expectIn(z, zWant);
  snprintf(zWant, sizeof(zWant), "\nlogs live 1 bytes %lld\n", fileSize(zPath));
  expectIn(z, zWant);
  expectIn(z, "last seq 4\n");
  free(z);
}

/*
** Seeded random damage to every kind of file: the tool must finish with
** status 0 or 1 under every command and never crash, and check must
** report any damage to a table (every byte of a table is under a
** checksum).
*/
static void test_fuzz(void **state){
  static const char *azCmd[] = { "check '%s'", "stat '%s'",
                                 "dump-manifest '%s'" };
  uint64_t rng = 20240531;
  int iter;
  (void)state;
  for(iter=0; iter<40; iter++){
    const char *zVictim;
    char zPath[1024];
    long long nFile;
    int eKind = (int)testRandRange(&rng, 4);
    int bTable = 0, st, i;
    char *z;
    copyDir(zData, zWork);
    switch( eKind ){
      case 0:  zVictim = zSst; bTable = 1; break;
      case 1:  zVictim = zLog; break;
      case 2:  zVictim = zManifest; break;
      default: zVictim = "CURRENT"; break;
    }
    snprintf(zPath, sizeof(zPath), "%s/%s", zWork, zVictim);
    nFile = fileSize(zPath);
    if( testRandRange(&rng, 4)==0 ){
      assert_int_equal(truncate(zPath, (off_t)testRandRange(&rng,
                                                (uint32_t)nFile)), 0);
    }else{
      int nFlip = 1 + (int)testRandRange(&rng, 3);
      for(i=0; i<nFlip; i++){
        flipByte(zPath, testRandRange(&rng, (uint32_t)nFile),
                 1 + (int)testRandRange(&rng, 255));
      }
    }
    for(i=0; i<3; i++){
      z = runTool(&st, azCmd[i], zWork);
      if( (st!=0 && st!=1) || strstr(z, "Sanitizer") || strstr(z, "runtime error") ){
        fail_msg("iteration %d, %s damaged, \"%s\": status %d:\n%s",
                 iter, zVictim, azCmd[i], st, z);
      }
      if( i==0 && bTable && (st!=1 || strstr(z, zSst)==0) ){
        fail_msg("iteration %d: damaged table not reported:\n%s", iter, z);
      }
      free(z);
    }
    z = runTool(&st, bTable ? "dump-table '%s'" : "dump-log '%s'", zPath);
    if( (st!=0 && st!=1) || strstr(z, "Sanitizer") || strstr(z, "runtime error") ){
      fail_msg("iteration %d, dump of damaged %s: status %d:\n%s",
               iter, zVictim, st, z);
    }
    free(z);
  }
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_usage),
    cmocka_unit_test(test_dump_log),
    cmocka_unit_test(test_dump_log_damage),
    cmocka_unit_test(test_dump_table),
    cmocka_unit_test(test_dump_manifest),
    cmocka_unit_test(test_check_ok),
    cmocka_unit_test(test_check_table_damage),
    cmocka_unit_test(test_check_missing_table),
    cmocka_unit_test(test_check_log_damage),
    cmocka_unit_test(test_stat),
    cmocka_unit_test(test_fuzz),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
