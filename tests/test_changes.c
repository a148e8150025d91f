/*
** test_changes.c -- the change feed (lsm_changes_open/next/close):
** replaying it from 0 onto an empty database reproduces the source; a
** feed from the middle continues exactly; history past the retention is
** a clear LSM_NOTFOUND; prepared transactions appear once, at their
** commit, with the commit's sequences; a feed read while a writer runs
** is complete and in order.
**
** The workload is a pure function of the sequence number, as in
** test_backup.c: write j (sequence j in a new database) touches key
** opKey(j) and deletes it when opIsDelete(j), else stores a value that
** names j.  Writes go in batches of a few, so one commit carries several
** sequences.  A memtable of a few KiB makes the logs rotate often.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lsm.h"
#include "support/testutil.h"

#define NKEY 300

static char *zBase;
static char zSrc[512];
static char zDst[512];

static int setup(void **state){
  (void)state;
  zBase = testTempDir("changes");
  if( zBase==0 ) return 1;
  snprintf(zSrc, sizeof(zSrc), "%s/src", zBase);
  snprintf(zDst, sizeof(zDst), "%s/dst", zBase);
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
static int valText(uint64_t j, char *z){
  return sprintf(z, "val%08llu-%060d", (unsigned long long)j, 3);
}

/* Add write j to pBatch. */
static void opAdd(lsm_batch *pBatch, uint64_t j){
  char zKey[32], zVal[128];
  int nKey = keyText(opKey(j), zKey);
  if( opIsDelete(j) ){
    assert_int_equal(lsm_batch_delete(pBatch, zKey, (size_t)nKey), LSM_OK);
  }else{
    assert_int_equal(lsm_batch_put(pBatch, zKey, (size_t)nKey, zVal,
                                   (size_t)valText(j, zVal)), LSM_OK);
  }
}

/* Commit writes iFirst..iLast in batches of 1..4 (seeded). */
static void writeRange(lsm_db *db, uint64_t iFirst, uint64_t iLast,
                       uint64_t *pRng){
  lsm_batch *pBatch = 0;
  uint64_t j = iFirst;
  assert_int_equal(lsm_batch_new(&pBatch), LSM_OK);
  while( j<=iLast ){
    uint32_t n = 1 + testRandRange(pRng, 4);
    assert_int_equal(lsm_batch_clear(pBatch), LSM_OK);
    for(; n>0 && j<=iLast; n--, j++) opAdd(pBatch, j);
    assert_int_equal(lsm_write(db, pBatch), LSM_OK);
  }
  lsm_batch_free(pBatch);
}

/* Assert that change (seq, bDel, key, val) is workload write seq. */
static void assertIsOp(uint64_t seq, int bDel, const void *pKey, size_t nKey,
                       const void *pVal, size_t nVal){
  char zKey[32], zVal[128];
  int n = keyText(opKey(seq), zKey);
  assert_int_equal(bDel, opIsDelete(seq));
  assert_int_equal(nKey, (size_t)n);
  assert_memory_equal(pKey, zKey, nKey);
  if( !bDel ){
    n = valText(seq, zVal);
    assert_int_equal(nVal, (size_t)n);
    assert_memory_equal(pVal, zVal, nVal);
  }
}

/*----------------------------------------------------------------- helpers --*/

static void smallOptions(lsm_options *pOpts, uint64_t nRetain){
  lsm_options_init(pOpts);
  pOpts->sync_mode = LSM_SYNC_OFF;
  pOpts->memtable_size = 8*1024;
  pOpts->table_size = 8*1024;
  pOpts->level1_size = 32*1024;
  pOpts->block_size = 1024;
  pOpts->log_retain_bytes = nRetain;
}

static lsm_db *openDir(const char *zDir, const lsm_options *pOpts){
  lsm_db *db = 0;
  int rc = lsm_open(zDir, pOpts, &db);
  if( rc!=LSM_OK ) fail_msg("lsm_open %s: %d %s", zDir, rc, lsm_errmsg(db));
  return db;
}

static lsm_changes *openFeed(lsm_db *db, uint64_t iAfter){
  lsm_changes *p = 0;
  int rc = lsm_changes_open(db, iAfter, &p);
  if( rc!=LSM_OK ) fail_msg("lsm_changes_open(%llu): %d %s",
                            (unsigned long long)iAfter, rc, lsm_errmsg(db));
  return p;
}

/* Every key and value of db, "key=value\n" each, in a malloc()ed string. */
static char *dumpDb(lsm_db *db){
  lsm_iter *pIter = 0;
  size_t nOut = 0, nAlloc = 1024;
  char *zOut = malloc(nAlloc);
  int rc;
  assert_non_null(zOut);
  zOut[0] = 0;
  assert_int_equal(lsm_iter_new(db, 0, 0, 0, 0, 0, &pIter), LSM_OK);
  for(rc=lsm_iter_first(pIter); lsm_iter_valid(pIter); rc=lsm_iter_next(pIter)){
    size_t nKey, nVal;
    const char *pKey = lsm_iter_key(pIter, &nKey);
    const char *pVal = lsm_iter_value(pIter, &nVal);
    assert_int_equal(rc, LSM_OK);
    while( nOut + nKey + nVal + 3 > nAlloc ){
      nAlloc *= 2;
      zOut = realloc(zOut, nAlloc);
      assert_non_null(zOut);
    }
    memcpy(zOut+nOut, pKey, nKey); nOut += nKey;
    zOut[nOut++] = '=';
    memcpy(zOut+nOut, pVal, nVal); nOut += nVal;
    zOut[nOut++] = '\n';
    zOut[nOut] = 0;
  }
  assert_int_equal(lsm_iter_status(pIter), LSM_OK);
  lsm_iter_free(pIter);
  return zOut;
}

static void assertSameContent(lsm_db *a, lsm_db *b){
  char *zA = dumpDb(a);
  char *zB = dumpDb(b);
  assert_string_equal(zA, zB);
  free(zA);
  free(zB);
}

/* Number of NNNNNN.log files in zDir. */
static int countLogs(const char *zDir){
  char zCmd[600];
  FILE *p;
  int n = -1;
  snprintf(zCmd, sizeof(zCmd), "ls '%s' | grep -c '\\.log$'", zDir);
  p = popen(zCmd, "r");
  assert_non_null(p);
  assert_int_equal(fscanf(p, "%d", &n), 1);
  pclose(p);
  return n;
}

/*
** Apply the feed of src after iAfter to dst, one commit per change.
** Asserts that sequences run consecutively from iAfter+1; returns the
** number of changes.
*/
static uint64_t applyFeed(lsm_db *src, uint64_t iAfter, lsm_db *dst){
  lsm_changes *pFeed = openFeed(src, iAfter);
  uint64_t nChange = 0;
  int rc;
  for(;;){
    uint64_t seq;
    int bDel;
    const void *pK, *pV;
    size_t nK, nV;
    rc = lsm_changes_next(pFeed, &seq, &bDel, &pK, &nK, &pV, &nV);
    if( rc!=LSM_OK ) break;
    assert_int_equal(seq, iAfter + nChange + 1);
    rc = bDel ? lsm_delete(dst, pK, nK) : lsm_put(dst, pK, nK, pV, nV);
    assert_int_equal(rc, LSM_OK);
    nChange++;
  }
  assert_int_equal(rc, LSM_NOTFOUND);
  lsm_changes_close(pFeed);
  return nChange;
}

/*------------------------------------------------------------------- tests --*/

/* From 0, over many rotated logs and a reopen, onto an empty database. */
static void test_replay_from_zero(void **state){
  lsm_options opts;
  lsm_db *src, *dst;
  uint64_t rng = 11;
  (void)state;
  smallOptions(&opts, 64<<20);
  src = openDir(zSrc, &opts);
  writeRange(src, 1, 1500, &rng);
  assert_int_equal(lsm_close(src), LSM_OK);
  src = openDir(zSrc, &opts);
  writeRange(src, 1501, 3000, &rng);
  assert_true(countLogs(zSrc)>3);
  assert_int_equal(lsm_last_seq(src), 3000);

  dst = openDir(zDst, 0);
  assert_int_equal(applyFeed(src, 0, dst), 3000);
  assertSameContent(src, dst);
  assert_int_equal(lsm_close(dst), LSM_OK);
  assert_int_equal(lsm_close(src), LSM_OK);
}

/* From any point, the feed is exactly the workload's writes after it. */
static void test_from_middle(void **state){
  lsm_options opts;
  lsm_db *db;
  uint64_t rng = 12;
  static const uint64_t aAfter[] = { 0, 1, 999, 1000, 1001, 1777, 1999, 2000 };
  size_t i;
  (void)state;
  smallOptions(&opts, 64<<20);
  db = openDir(zSrc, &opts);
  writeRange(db, 1, 2000, &rng);
  for(i=0; i<sizeof(aAfter)/sizeof(aAfter[0]); i++){
    lsm_changes *pFeed = openFeed(db, aAfter[i]);
    uint64_t iExpect = aAfter[i]+1;
    int rc;
    for(;;){
      uint64_t seq;
      int bDel;
      const void *pK, *pV;
      size_t nK, nV;
      rc = lsm_changes_next(pFeed, &seq, &bDel, &pK, &nK, &pV, &nV);
      if( rc!=LSM_OK ) break;
      assert_int_equal(seq, iExpect);
      assertIsOp(seq, bDel, pK, nK, pV, nV);
      iExpect++;
    }
    assert_int_equal(rc, LSM_NOTFOUND);
    /* The end is sticky. */
    {
      uint64_t seq;
      int bDel;
      const void *pK, *pV;
      size_t nK, nV;
      assert_int_equal(lsm_changes_next(pFeed, &seq, &bDel, &pK, &nK, &pV, &nV),
                       LSM_NOTFOUND);
    }
    assert_int_equal(iExpect, 2001);
    lsm_changes_close(pFeed);
  }
  /* Writes after the feed opened are not in it. */
  {
    lsm_changes *pFeed = openFeed(db, 1990);
    uint64_t seq, n = 0;
    int bDel;
    const void *pK, *pV;
    size_t nK, nV;
    writeRange(db, 2001, 2100, &rng);
    while( lsm_changes_next(pFeed, &seq, &bDel, &pK, &nK, &pV, &nV)==LSM_OK ) n++;
    assert_int_equal(n, 10);
    lsm_changes_close(pFeed);
  }
  assert_int_equal(lsm_close(db), LSM_OK);
}

/* History that is gone is a clear error; recent history still works. */
static void test_past_retention(void **state){
  lsm_options opts;
  lsm_db *db;
  lsm_changes *pFeed = 0;
  uint64_t rng = 13;
  uint64_t seq, n = 0;
  int bDel;
  const void *pK, *pV;
  size_t nK, nV;
  (void)state;
  smallOptions(&opts, 16*1024);
  db = openDir(zSrc, &opts);
  writeRange(db, 1, 3000, &rng);
  assert_int_equal(lsm_flush(db), LSM_OK);

  assert_int_equal(lsm_changes_open(db, 0, &pFeed), LSM_NOTFOUND);
  assert_null(pFeed);
  assert_non_null(strstr(lsm_errmsg(db), "no longer retained"));
  assert_non_null(strstr(lsm_errmsg(db), "take a backup"));

  /* Nothing asked for: no error, whatever is retained. */
  pFeed = openFeed(db, 3000);
  assert_int_equal(lsm_changes_next(pFeed, &seq, &bDel, &pK, &nK, &pV, &nV),
                   LSM_NOTFOUND);
  lsm_changes_close(pFeed);

  /* The last few writes are still in the logs. */
  pFeed = openFeed(db, 2990);
  while( lsm_changes_next(pFeed, &seq, &bDel, &pK, &nK, &pV, &nV)==LSM_OK ){
    assertIsOp(seq, bDel, pK, nK, pV, nV);
    n++;
  }
  assert_int_equal(n, 10);
  lsm_changes_close(pFeed);

  /* Without retention nothing flushed stays. */
  assert_int_equal(lsm_close(db), LSM_OK);
  opts.log_retain_bytes = 0;
  db = openDir(zSrc, &opts);
  assert_int_equal(lsm_changes_open(db, 2990, &pFeed), LSM_NOTFOUND);
  assert_non_null(strstr(lsm_errmsg(db), "take a backup"));
  assert_int_equal(lsm_close(db), LSM_OK);
}

/* Prepared transactions: once, at the commit, with its sequences;
** rolled back ones never; one in doubt across a log switch once. */
static void test_prepared(void **state){
  lsm_options opts;
  lsm_db *db, *dst;
  lsm_batch *pBatch = 0;
  lsm_changes *pFeed;
  uint64_t seq;
  int bDel, rc;
  const void *pK, *pV;
  size_t nK, nV;
  (void)state;
  smallOptions(&opts, 64<<20);
  db = openDir(zSrc, &opts);
  assert_int_equal(lsm_put(db, "a", 1, "1", 1), LSM_OK);             /* 1 */
  assert_int_equal(lsm_batch_new(&pBatch), LSM_OK);
  assert_int_equal(lsm_batch_put(pBatch, "p", 1, "P", 1), LSM_OK);
  assert_int_equal(lsm_batch_delete(pBatch, "a", 1), LSM_OK);
  assert_int_equal(lsm_prepare(db, pBatch, 7), LSM_OK);
  assert_int_equal(lsm_batch_clear(pBatch), LSM_OK);
  assert_int_equal(lsm_batch_put(pBatch, "x", 1, "X", 1), LSM_OK);
  assert_int_equal(lsm_prepare(db, pBatch, 8), LSM_OK);
  assert_int_equal(lsm_put(db, "b", 1, "2", 1), LSM_OK);             /* 2 */
  /* Switch logs while both are in doubt: both are logged again. */
  assert_int_equal(lsm_flush(db), LSM_OK);
  assert_int_equal(lsm_put(db, "c", 1, "3", 1), LSM_OK);             /* 3 */
  assert_int_equal(lsm_rollback_prepared(db, 8), LSM_OK);
  assert_int_equal(lsm_commit_prepared(db, 7), LSM_OK);              /* 4, 5 */
  assert_int_equal(lsm_put(db, "d", 1, "4", 1), LSM_OK);             /* 6 */
  assert_int_equal(lsm_last_seq(db), 6);
  lsm_batch_free(pBatch);

  pFeed = openFeed(db, 0);
  {
    static const struct { const char *zKey; const char *zVal; } aWant[] = {
      {"a", "1"}, {"b", "2"}, {"c", "3"}, {"p", "P"}, {"a", 0}, {"d", "4"},
    };
    int i;
    for(i=0; i<6; i++){
      rc = lsm_changes_next(pFeed, &seq, &bDel, &pK, &nK, &pV, &nV);
      assert_int_equal(rc, LSM_OK);
      assert_int_equal(seq, (uint64_t)i+1);
      assert_int_equal(nK, 1);
      assert_memory_equal(pK, aWant[i].zKey, 1);
      assert_int_equal(bDel, aWant[i].zVal==0);
      if( aWant[i].zVal ){
        assert_int_equal(nV, 1);
        assert_memory_equal(pV, aWant[i].zVal, 1);
      }
    }
    assert_int_equal(lsm_changes_next(pFeed, &seq, &bDel, &pK, &nK, &pV, &nV),
                     LSM_NOTFOUND);
  }
  lsm_changes_close(pFeed);

  dst = openDir(zDst, 0);
  assert_int_equal(applyFeed(db, 0, dst), 6);
  assertSameContent(db, dst);
  assert_int_equal(lsm_close(dst), LSM_OK);
  assert_int_equal(lsm_close(db), LSM_OK);
}

typedef struct WriterCtx {
  lsm_db *db;
  uint64_t iLast;             /* write up to this */
  int rc;
} WriterCtx;

static void *writerMain(void *pArg){
  WriterCtx *p = (WriterCtx*)pArg;
  uint64_t j;
  for(j=1; j<=p->iLast && p->rc==LSM_OK; j++){
    char zKey[32], zVal[128];
    int nKey = keyText(opKey(j), zKey);
    p->rc = opIsDelete(j) ? lsm_delete(p->db, zKey, (size_t)nKey)
          : lsm_put(p->db, zKey, (size_t)nKey, zVal, (size_t)valText(j, zVal));
  }
  return 0;
}

/* Feeds read while a writer commits and logs rotate: complete and in
** order up to at least the last sequence published before the open. */
static void test_concurrent(void **state){
  lsm_options opts;
  lsm_db *db;
  WriterCtx w;
  pthread_t t;
  int nFeed = 0;
  (void)state;
  smallOptions(&opts, 64<<20);
  db = openDir(zSrc, &opts);
  memset(&w, 0, sizeof(w));
  w.db = db;
  w.iLast = 4000;
  assert_int_equal(pthread_create(&t, 0, writerMain, &w), 0);
  while( nFeed<20 ){
    uint64_t iBefore = lsm_last_seq(db);
    uint64_t iAfter = iBefore/2;
    lsm_changes *pFeed = openFeed(db, iAfter);
    uint64_t iExpect = iAfter+1, seq;
    int bDel;
    const void *pK, *pV;
    size_t nK, nV;
    while( lsm_changes_next(pFeed, &seq, &bDel, &pK, &nK, &pV, &nV)==LSM_OK ){
      assert_int_equal(seq, iExpect);
      assertIsOp(seq, bDel, pK, nK, pV, nV);
      iExpect++;
    }
    assert_true(iExpect-1 >= iBefore);
    lsm_changes_close(pFeed);
    nFeed++;
    if( iBefore>=w.iLast ) break;
    usleep(2000);
  }
  pthread_join(t, 0);
  assert_int_equal(w.rc, LSM_OK);
  assert_int_equal(lsm_close(db), LSM_OK);
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_replay_from_zero, setup, teardown),
    cmocka_unit_test_setup_teardown(test_from_middle, setup, teardown),
    cmocka_unit_test_setup_teardown(test_past_retention, setup, teardown),
    cmocka_unit_test_setup_teardown(test_prepared, setup, teardown),
    cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
  };
  return cmocka_run_group_tests(tests, 0, 0);
}
