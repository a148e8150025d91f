/*
** test_db.c -- the database handle through the public API: writes,
** reads, batches, snapshots, iterators, recovery, locking, flushes, group
** commit, power loss and I/O errors.
**
** The model test compares the engine with a trivial reference: keys are
** drawn from a small space, so the model is an array indexed by key
** number holding the current value (or nothing), and a snapshot is a copy
** of that array.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsm.h"
#include "support/testenv.h"
#include "support/testutil.h"

static char *zDir;

static int setup(void **state){
  (void)state;
  zDir = testTempDir("db");
  return zDir==0;
}

static int teardown(void **state){
  (void)state;
  testRmTree(zDir);
  free(zDir);
  return 0;
}

static lsm_db *openDb(const lsm_options *pOpts){
  lsm_db *db = 0;
  int rc = lsm_open(zDir, pOpts, &db);
  if( rc!=LSM_OK ) fail_msg("lsm_open: %d %s", rc, lsm_errmsg(db));
  return db;
}

static void putStr(lsm_db *db, const char *zKey, const char *zVal){
  assert_int_equal(lsm_put(db, zKey, strlen(zKey), zVal, strlen(zVal)), LSM_OK);
}

/* Assert key holds zVal (NULL: absent) as of pSnap. */
static void checkStr(lsm_db *db, const lsm_snapshot *pSnap,
                     const char *zKey, const char *zVal){
  void *pVal = 0;
  size_t nVal = 0;
  int rc = lsm_get(db, pSnap, zKey, strlen(zKey), &pVal, &nVal);
  if( zVal==0 ){
    assert_int_equal(rc, LSM_NOTFOUND);
    assert_null(pVal);
  }else{
    if( rc!=LSM_OK ) fail_msg("get %s: rc=%d %s", zKey, rc, lsm_errmsg(db));
    assert_int_equal(nVal, strlen(zVal));
    assert_memory_equal(pVal, zVal, nVal);
  }
  lsm_free(pVal);
}

static void test_basic(void **state){
  lsm_db *db = openDb(0);
  (void)state;
  checkStr(db, 0, "a", 0);
  putStr(db, "a", "1");
  putStr(db, "b", "2");
  checkStr(db, 0, "a", "1");
  checkStr(db, 0, "b", "2");
  putStr(db, "a", "3");
  checkStr(db, 0, "a", "3");
  assert_int_equal(lsm_delete(db, "a", 1), LSM_OK);
  checkStr(db, 0, "a", 0);
  /* Empty key and empty value are ordinary. */
  assert_int_equal(lsm_put(db, "", 0, "", 0), LSM_OK);
  checkStr(db, 0, "", "");
  assert_int_equal(lsm_last_seq(db), 5);
  assert_int_equal(lsm_close(db), LSM_OK);
}

static void test_reopen(void **state){
  lsm_db *db = openDb(0);
  char zKey[32], zVal[32];
  int i;
  (void)state;
  for(i=0; i<1000; i++){
    snprintf(zKey, sizeof(zKey), "key%04d", i);
    snprintf(zVal, sizeof(zVal), "val%d", i);
    putStr(db, zKey, zVal);
  }
  assert_int_equal(lsm_delete(db, "key0007", 7), LSM_OK);
  assert_int_equal(lsm_close(db), LSM_OK);
  db = openDb(0);
  assert_int_equal(lsm_last_seq(db), 1001);
  for(i=0; i<1000; i++){
    snprintf(zKey, sizeof(zKey), "key%04d", i);
    snprintf(zVal, sizeof(zVal), "val%d", i);
    checkStr(db, 0, zKey, i==7 ? 0 : zVal);
  }
  putStr(db, "after", "reopen");
  assert_int_equal(lsm_last_seq(db), 1002);
  assert_int_equal(lsm_close(db), LSM_OK);
  db = openDb(0);
  checkStr(db, 0, "after", "reopen");
  checkStr(db, 0, "key0999", "val999");
  assert_int_equal(lsm_close(db), LSM_OK);
}

static void test_batch(void **state){
  lsm_db *db = openDb(0);
  lsm_batch *b = 0;
  size_t iMark;
  (void)state;
  assert_int_equal(lsm_batch_new(&b), LSM_OK);
  assert_int_equal(lsm_batch_put(b, "x", 1, "1", 1), LSM_OK);
  assert_int_equal(lsm_batch_put(b, "y", 1, "2", 1), LSM_OK);
  iMark = lsm_batch_mark(b);
  assert_int_equal(lsm_batch_put(b, "z", 1, "3", 1), LSM_OK);
  assert_int_equal(lsm_batch_delete(b, "x", 1), LSM_OK);
  assert_int_equal(lsm_batch_count(b), 4);
  assert_int_equal(lsm_batch_truncate(b, iMark), LSM_OK);
  assert_int_equal(lsm_batch_count(b), 2);
  assert_int_equal(lsm_write(db, b), LSM_OK);
  checkStr(db, 0, "x", "1");
  checkStr(db, 0, "y", "2");
  checkStr(db, 0, "z", 0);
  assert_int_equal(lsm_last_seq(db), 2);
  assert_int_equal(lsm_batch_clear(b), LSM_OK);
  assert_int_equal(lsm_batch_count(b), 0);
  assert_int_equal(lsm_write(db, b), LSM_OK);       /* empty: no-op */
  assert_int_equal(lsm_last_seq(db), 2);
  /* Too big a key is refused with a message and changes nothing. */
  {
    size_t nBig = (size_t)LSM_MAX_KEY_SIZE + 1;
    char *zBig = calloc(1, nBig);
    assert_int_equal(lsm_batch_put(b, zBig, nBig, "v", 1), LSM_TOOBIG);
    assert_int_equal(lsm_batch_count(b), 0);
    assert_int_equal(lsm_put(db, zBig, nBig, "v", 1), LSM_TOOBIG);
    assert_non_null(strstr(lsm_errmsg(db), "exceeds"));
    free(zBig);
  }
  lsm_batch_free(b);
  assert_int_equal(lsm_close(db), LSM_OK);
}

static void test_indexed_batch(void **state){
  lsm_db *db = openDb(0);
  lsm_batch *b = 0;
  const void *pVal;
  size_t nVal;
  int bDel;
  lsm_iter *it = 0;
  const char *azExpect[] = {"a", "b", "d"};
  int i;
  (void)state;
  putStr(db, "a", "old");
  putStr(db, "c", "old");
  assert_int_equal(lsm_batch_new_indexed(&b), LSM_OK);
  assert_int_equal(lsm_batch_get(b, "a", 1, &pVal, &nVal, &bDel), LSM_NOTFOUND);
  assert_int_equal(lsm_batch_put(b, "a", 1, "new", 3), LSM_OK);
  assert_int_equal(lsm_batch_put(b, "b", 1, "new", 3), LSM_OK);
  assert_int_equal(lsm_batch_delete(b, "c", 1), LSM_OK);
  assert_int_equal(lsm_batch_put(b, "d", 1, "x", 1), LSM_OK);
  assert_int_equal(lsm_batch_put(b, "d", 1, "new", 3), LSM_OK);
  assert_int_equal(lsm_batch_get(b, "d", 1, &pVal, &nVal, &bDel), LSM_OK);
  assert_int_equal(bDel, 0);
  assert_memory_equal(pVal, "new", 3);
  assert_int_equal(lsm_batch_get(b, "c", 1, &pVal, &nVal, &bDel), LSM_OK);
  assert_int_equal(bDel, 1);
  assert_int_equal(lsm_iter_new_batch(db, 0, b, 0, 0, 0, 0, &it), LSM_OK);
  assert_int_equal(lsm_iter_first(it), LSM_OK);
  for(i=0; i<3; i++){
    const void *pK;
    size_t nK;
    assert_true(lsm_iter_valid(it));
    pK = lsm_iter_key(it, &nK);
    assert_int_equal(nK, 1);
    assert_memory_equal(pK, azExpect[i], 1);
    pVal = lsm_iter_value(it, &nVal);
    assert_int_equal(nVal, 3);
    assert_memory_equal(pVal, "new", 3);
    assert_int_equal(lsm_iter_next(it), LSM_OK);
  }
  assert_false(lsm_iter_valid(it));
  lsm_iter_free(it);
  /* An iterator sees the batch as it was when made: not the writes
  ** added after it, nor those a truncation then replaced. */
  {
    size_t iMark = lsm_batch_mark(b);
    const void *pK;
    size_t nK;
    assert_int_equal(lsm_iter_new_batch(db, 0, b, 0, 0, 0, 0, &it), LSM_OK);
    assert_int_equal(lsm_batch_put(b, "a2", 2, "later", 5), LSM_OK);
    assert_int_equal(lsm_batch_get(b, "a2", 2, &pVal, &nVal, &bDel), LSM_OK);
    assert_int_equal(lsm_iter_seek(it, "a", 1), LSM_OK);
    assert_int_equal(lsm_iter_next(it), LSM_OK);
    pK = lsm_iter_key(it, &nK);
    assert_memory_equal(pK, "b", 1);
    assert_int_equal(lsm_batch_truncate(b, iMark), LSM_OK);
    assert_int_equal(lsm_batch_get(b, "a2", 2, &pVal, &nVal, &bDel), LSM_NOTFOUND);
    assert_int_equal(lsm_batch_put(b, "b", 1, "newer", 5), LSM_OK);
    pVal = lsm_iter_value(it, &nVal);
    assert_int_equal(nVal, 3);                /* still "new" */
    lsm_iter_free(it);
    assert_int_equal(lsm_batch_truncate(b, iMark), LSM_OK);
  }
  /* Nothing of the batch is visible outside it until written. */
  checkStr(db, 0, "b", 0);
  checkStr(db, 0, "c", "old");
  assert_int_equal(lsm_write(db, b), LSM_OK);
  checkStr(db, 0, "b", "new");
  checkStr(db, 0, "c", 0);
  checkStr(db, 0, "d", "new");
  lsm_batch_free(b);
  assert_int_equal(lsm_close(db), LSM_OK);
}

static void test_snapshot(void **state){
  lsm_db *db = openDb(0);
  lsm_snapshot *s1 = 0, *s2 = 0;
  (void)state;
  putStr(db, "k", "1");
  assert_int_equal(lsm_snapshot_new(db, &s1), LSM_OK);
  putStr(db, "k", "2");
  putStr(db, "j", "2");
  assert_int_equal(lsm_snapshot_new(db, &s2), LSM_OK);
  assert_int_equal(lsm_delete(db, "k", 1), LSM_OK);
  assert_int_equal(lsm_flush(db), LSM_OK);
  checkStr(db, s1, "k", "1");
  checkStr(db, s1, "j", 0);
  checkStr(db, s2, "k", "2");
  checkStr(db, s2, "j", "2");
  checkStr(db, 0, "k", 0);
  assert_int_equal(lsm_snapshot_seq(s1), 1);
  assert_int_equal(lsm_snapshot_seq(s2), 3);
  lsm_snapshot_free(db, s1);
  lsm_snapshot_free(db, s2);
  assert_int_equal(lsm_close(db), LSM_OK);
}

static void test_lock(void **state){
  lsm_db *db = openDb(0);
  lsm_db *db2 = 0;
  (void)state;
  assert_int_equal(lsm_open(zDir, 0, &db2), LSM_BUSY);
  assert_non_null(strstr(lsm_errmsg(db2), "in use"));
  lsm_close(db2);
  assert_int_equal(lsm_close(db), LSM_OK);
  db = openDb(0);
  assert_int_equal(lsm_close(db), LSM_OK);
}

static void test_readonly(void **state){
  lsm_options opts;
  lsm_db *db;
  (void)state;
  db = openDb(0);
  putStr(db, "k", "v");
  assert_int_equal(lsm_close(db), LSM_OK);
  lsm_options_init(&opts);
  opts.read_only = 1;
  db = openDb(&opts);
  checkStr(db, 0, "k", "v");
  assert_int_equal(lsm_put(db, "k", 1, "w", 1), LSM_READONLY);
  assert_int_equal(lsm_close(db), LSM_OK);
  /* A missing database is not created by a read-only open. */
  testRmTree(zDir);
  db = 0;
  assert_int_equal(lsm_open(zDir, &opts, &db), LSM_CANTOPEN);
  lsm_close(db);
}

/* Iterate the whole db both ways and check the keys against azKey. */
static void checkScan(lsm_db *db, const char **azKey, int nKey){
  lsm_iter *it = 0;
  int i;
  assert_int_equal(lsm_iter_new(db, 0, 0, 0, 0, 0, &it), LSM_OK);
  assert_int_equal(lsm_iter_first(it), LSM_OK);
  for(i=0; i<nKey; i++){
    size_t n;
    const void *p;
    assert_true(lsm_iter_valid(it));
    p = lsm_iter_key(it, &n);
    assert_int_equal(n, strlen(azKey[i]));
    assert_memory_equal(p, azKey[i], n);
    lsm_iter_next(it);
  }
  assert_false(lsm_iter_valid(it));
  assert_int_equal(lsm_iter_last(it), LSM_OK);
  for(i=nKey-1; i>=0; i--){
    size_t n;
    const void *p;
    assert_true(lsm_iter_valid(it));
    p = lsm_iter_key(it, &n);
    assert_memory_equal(p, azKey[i], n);
    lsm_iter_prev(it);
  }
  assert_false(lsm_iter_valid(it));
  assert_int_equal(lsm_iter_status(it), LSM_OK);
  lsm_iter_free(it);
}

static void test_flush(void **state){
  lsm_db *db = openDb(0);
  const char *azKey[] = {"a", "b", "c", "d"};
  (void)state;
  putStr(db, "a", "1");
  putStr(db, "c", "1");
  assert_int_equal(lsm_flush(db), LSM_OK);
  putStr(db, "b", "2");
  putStr(db, "d", "2");
  putStr(db, "e", "2");
  assert_int_equal(lsm_flush(db), LSM_OK);
  assert_int_equal(lsm_delete(db, "e", 1), LSM_OK);
  checkScan(db, azKey, 4);
  assert_int_equal(lsm_close(db), LSM_OK);
  db = openDb(0);
  checkScan(db, azKey, 4);
  checkStr(db, 0, "a", "1");
  checkStr(db, 0, "e", 0);
  assert_int_equal(lsm_close(db), LSM_OK);
}

/**************************************************************************
** The model test.
*/

#define MODEL_KEYS 1500
#define MODEL_SNAPS 4

typedef struct Model {
  int aVal[MODEL_KEYS];         /* value number, or -1 if absent */
} Model;

static void modelKey(int i, char *zOut){ snprintf(zOut, 16, "k%05d", i); }
static void modelVal(int v, char *zOut){ snprintf(zOut, 40, "value-%d-%0*d", v, v%17, 0); }

/* Compare an iterator walk over [lo,hi) at snapshot pSnap with m. */
static void modelCheckIter(lsm_db *db, lsm_snapshot *pSnap, const Model *m,
                           uint64_t *pRand){
  int lo = (int)testRandRange(pRand, MODEL_KEYS);
  int hi = lo + (int)testRandRange(pRand, MODEL_KEYS - lo + 1);
  int bBounded = (int)testRandRange(pRand, 2);
  char zLo[16], zHi[16];
  lsm_iter *it = 0;
  int i, nStep;
  if( !bBounded ){ lo = 0; hi = MODEL_KEYS; }
  modelKey(lo, zLo);
  modelKey(hi, zHi);
  assert_int_equal(lsm_iter_new(db, pSnap, bBounded ? zLo : 0, 6,
                                bBounded ? zHi : 0, 6, &it), LSM_OK);
  if( testRandRange(pRand, 2) ){
    i = lo;
    lsm_iter_first(it);
    for(nStep=0; nStep<200; nStep++){
      while( i<hi && m->aVal[i]<0 ) i++;
      if( i>=hi ){ assert_false(lsm_iter_valid(it)); break; }
      {
        char zK[16], zV[40];
        size_t n;
        const void *p;
        modelKey(i, zK);
        modelVal(m->aVal[i], zV);
        if( !lsm_iter_valid(it) ) fail_msg("iter ended before %s", zK);
        p = lsm_iter_key(it, &n);
        assert_int_equal(n, 6);
        assert_memory_equal(p, zK, 6);
        p = lsm_iter_value(it, &n);
        assert_int_equal(n, strlen(zV));
        assert_memory_equal(p, zV, n);
      }
      i++;
      lsm_iter_next(it);
    }
  }else{
    i = hi-1;
    lsm_iter_last(it);
    for(nStep=0; nStep<200; nStep++){
      while( i>=lo && m->aVal[i]<0 ) i--;
      if( i<lo ){ assert_false(lsm_iter_valid(it)); break; }
      {
        char zK[16];
        size_t n;
        const void *p;
        modelKey(i, zK);
        if( !lsm_iter_valid(it) ) fail_msg("reverse iter ended before %s", zK);
        p = lsm_iter_key(it, &n);
        assert_memory_equal(p, zK, 6);
      }
      i--;
      lsm_iter_prev(it);
    }
  }
  assert_int_equal(lsm_iter_status(it), LSM_OK);
  lsm_iter_free(it);
}

static void modelCheckGet(lsm_db *db, lsm_snapshot *pSnap, const Model *m, int i){
  char zK[16], zV[40];
  modelKey(i, zK);
  if( m->aVal[i]<0 ){
    checkStr(db, pSnap, zK, 0);
  }else{
    modelVal(m->aVal[i], zV);
    checkStr(db, pSnap, zK, zV);
  }
}

static void runModel(int nOp, uint64_t seed, size_t nMemtable, int bMmap){
  lsm_options opts;
  lsm_db *db;
  static Model m, aSnapModel[MODEL_SNAPS];
  lsm_snapshot *apSnap[MODEL_SNAPS] = {0};
  uint64_t r = seed;
  int i, op;

  lsm_options_init(&opts);
  opts.memtable_size = nMemtable;
  opts.sync_mode = LSM_SYNC_OFF;
  opts.block_size = 512;
  opts.mmap_reads = bMmap;
  testRmTree(zDir);
  db = openDb(&opts);
  for(i=0; i<MODEL_KEYS; i++) m.aVal[i] = -1;

  for(op=0; op<nOp; op++){
    uint32_t x = testRandRange(&r, 1000);
    int k = (int)testRandRange(&r, MODEL_KEYS);
    char zK[16], zV[40];
    modelKey(k, zK);
    if( x<550 ){
      m.aVal[k] = op;
      modelVal(op, zV);
      putStr(db, zK, zV);
    }else if( x<700 ){
      m.aVal[k] = -1;
      assert_int_equal(lsm_delete(db, zK, 6), LSM_OK);
    }else if( x<900 ){
      modelCheckGet(db, 0, &m, k);
    }else if( x<960 ){
      int s = (int)testRandRange(&r, MODEL_SNAPS);
      if( apSnap[s] ){
        modelCheckGet(db, apSnap[s], &aSnapModel[s], k);
      }else{
        modelCheckGet(db, 0, &m, k);
      }
    }else if( x<975 ){
      int s = (int)testRandRange(&r, MODEL_SNAPS);
      if( apSnap[s] ) lsm_snapshot_free(db, apSnap[s]);
      assert_int_equal(lsm_snapshot_new(db, &apSnap[s]), LSM_OK);
      aSnapModel[s] = m;
    }else if( x<995 ){
      int s = (int)testRandRange(&r, MODEL_SNAPS + 1);
      if( s<MODEL_SNAPS && apSnap[s] ){
        modelCheckIter(db, apSnap[s], &aSnapModel[s], &r);
      }else{
        modelCheckIter(db, 0, &m, &r);
      }
    }else if( x<998 ){
      assert_int_equal(lsm_flush(db), LSM_OK);
    }else{
      for(i=0; i<MODEL_SNAPS; i++){
        lsm_snapshot_free(db, apSnap[i]);
        apSnap[i] = 0;
      }
      assert_int_equal(lsm_close(db), LSM_OK);
      db = openDb(&opts);
    }
  }
  for(i=0; i<MODEL_KEYS; i++) modelCheckGet(db, 0, &m, i);
  for(i=0; i<MODEL_SNAPS; i++) lsm_snapshot_free(db, apSnap[i]);
  assert_int_equal(lsm_close(db), LSM_OK);
}

static void test_model(void **state){
  (void)state;
  runModel(200000, 42, 16<<10, 0);
}

/* The same with tables read through memory maps; a bad setting fails. */
static void test_model_mmap(void **state){
  lsm_options opts;
  lsm_db *db = 0;
  (void)state;
  runModel(100000, 43, 16<<10, 1);
  lsm_options_init(&opts);
  opts.mmap_reads = 2;
  assert_int_equal(lsm_open(zDir, &opts, &db), LSM_INVALID);
  assert_non_null(strstr(lsm_errmsg(db), "mmap_reads 2"));
  lsm_close(db);
}

/**************************************************************************
** Group commit: many threads committing with sync=full share fsyncs.
*/

#define GC_THREADS 8
#define GC_WRITES  200

typedef struct GcArg {
  lsm_db *db;
  int iThread;
  int rc;
} GcArg;

static void *gcThread(void *p){
  GcArg *a = (GcArg*)p;
  int i;
  for(i=0; i<GC_WRITES && a->rc==LSM_OK; i++){
    char zK[32];
    snprintf(zK, sizeof(zK), "t%d-%04d", a->iThread, i);
    a->rc = lsm_put(a->db, zK, strlen(zK), zK, strlen(zK));
  }
  return 0;
}

static void test_group_commit(void **state){
  TestEnv *pTest = testenvNew();
  lsm_options opts;
  lsm_db *db;
  pthread_t aThread[GC_THREADS];
  GcArg aArg[GC_THREADS];
  uint64_t nSync;
  int i, j;
  (void)state;
  testRmTree(zDir);
  lsm_options_init(&opts);
  opts.env = testenvEnv(pTest);
  db = openDb(&opts);
  nSync = testenvCount(pTest, TESTENV_SYNC);
  for(i=0; i<GC_THREADS; i++){
    aArg[i].db = db;
    aArg[i].iThread = i;
    aArg[i].rc = LSM_OK;
    pthread_create(&aThread[i], 0, gcThread, &aArg[i]);
  }
  for(i=0; i<GC_THREADS; i++){
    pthread_join(aThread[i], 0);
    assert_int_equal(aArg[i].rc, LSM_OK);
  }
  nSync = testenvCount(pTest, TESTENV_SYNC) - nSync;
  print_message("group commit: %d writes, %llu fsyncs\n",
                GC_THREADS*GC_WRITES, (unsigned long long)nSync);
  assert_true(nSync < (uint64_t)(GC_THREADS*GC_WRITES)*3/4);
  assert_int_equal(lsm_last_seq(db), GC_THREADS*GC_WRITES);
  /* Every write durable: a power loss now keeps all of them. */
  testenvCrash(pTest, 0, 0);
  lsm_close(db);
  testenvRestart(pTest);
  db = openDb(&opts);
  for(i=0; i<GC_THREADS; i++){
    for(j=0; j<GC_WRITES; j++){
      char zK[32];
      snprintf(zK, sizeof(zK), "t%d-%04d", i, j);
      checkStr(db, 0, zK, zK);
    }
  }
  assert_int_equal(lsm_close(db), LSM_OK);
  testenvFree(pTest);
}

/**************************************************************************
** Power loss at every fsync.
**
** The workload commits batches of three keys sharing one tag under
** sync=full, with a small memtable so that log switches, flushes and
** manifest edits happen.  After the crash every acknowledged commit must
** be present and every batch whole or absent.
*/

#define PL_BATCHES 60

static int plWorkload(lsm_db *db, int *pnAck){
  int i, rc = LSM_OK;
  for(i=0; i<PL_BATCHES && rc==LSM_OK; i++){
    lsm_batch *b = 0;
    char zK[32], zV[600];
    int j;
    rc = lsm_batch_new(&b);
    for(j=0; rc==LSM_OK && j<3; j++){
      snprintf(zK, sizeof(zK), "b%03d-%d", i, j);
      memset(zV, 'a' + (i%26), sizeof(zV));
      snprintf(zV, 16, "batch%03d", i);
      rc = lsm_batch_put(b, zK, strlen(zK), zV, sizeof(zV));
    }
    if( rc==LSM_OK ) rc = lsm_write(db, b);
    if( rc==LSM_OK ) *pnAck = i+1;
    lsm_batch_free(b);
  }
  return rc;
}

/* Batches 0..nAck-1 whole, the rest whole or absent, none partial. */
static void plVerify(lsm_db *db, int nAck){
  int i, j;
  for(i=0; i<PL_BATCHES; i++){
    int nFound = 0;
    for(j=0; j<3; j++){
      char zK[32];
      void *pV = 0;
      size_t nV;
      int rc;
      snprintf(zK, sizeof(zK), "b%03d-%d", i, j);
      rc = lsm_get(db, 0, zK, strlen(zK), &pV, &nV);
      if( rc==LSM_OK ){
        char zExp[16];
        snprintf(zExp, sizeof(zExp), "batch%03d", i);
        assert_int_equal(nV, 600);
        assert_memory_equal(pV, zExp, 8);
        nFound++;
      }else{
        assert_int_equal(rc, LSM_NOTFOUND);
      }
      lsm_free(pV);
    }
    if( i<nAck && nFound!=3 ) fail_msg("acknowledged batch %d lost (%d of 3)", i, nFound);
    if( nFound!=0 && nFound!=3 ) fail_msg("batch %d partial (%d of 3)", i, nFound);
  }
}

/*
** Run the workload with a power loss (torn on odd k) when the k-th fsync
** completes, for k = 1, 2, ... until the workload finishes first; after
** each crash reopen and hand the recovered database to xCheck with the
** number of batches acknowledged.  Returns the crashes made.
*/
static int plEveryFsync(const lsm_options *pOpts, TestEnv *pTest,
                        void (*xCheck)(lsm_db*, int k, int nAck)){
  int k, nCrash = 0;
  for(k=1; ; k++){
    lsm_db *db = 0;
    int nAck = 0;
    testRmTree(zDir);
    testenvRestart(pTest);
    assert_int_equal(lsm_open(zDir, pOpts, &db), LSM_OK);
    testenvCrashAtSync(pTest, (uint64_t)k, k%2, (unsigned)k);
    plWorkload(db, &nAck);
    if( !testenvCrashed(pTest) ){
      /* The workload finished before the k-th fsync: done. */
      lsm_close(db);
      break;
    }
    nCrash++;
    lsm_close(db);
    testenvRestart(pTest);
    db = 0;
    if( lsm_open(zDir, pOpts, &db)!=LSM_OK ){
      fail_msg("reopen after crash at fsync %d: %s", k, lsm_errmsg(db));
    }
    xCheck(db, k, nAck);
    assert_int_equal(lsm_close(db), LSM_OK);
  }
  return nCrash;
}

/* sync=full: every acknowledged batch survives, and the database takes
** writes. */
static void plCheckFull(lsm_db *db, int k, int nAck){
  (void)k;
  plVerify(db, nAck);
  putStr(db, "after", "crash");
  checkStr(db, 0, "after", "crash");
}

static void test_power_loss(void **state){
  TestEnv *pTest = testenvNew();
  lsm_options opts;
  int nCrash;
  (void)state;
  lsm_options_init(&opts);
  opts.env = testenvEnv(pTest);
  opts.memtable_size = 8<<10;
  nCrash = plEveryFsync(&opts, pTest, plCheckFull);
  print_message("power loss: %d crash points verified\n", nCrash);
  assert_true(nCrash>50);
  testenvFree(pTest);
}

/* sync=normal: whole batches or none, and no batch after a lost one. */
static void plCheckPrefix(lsm_db *db, int k, int nAck){
  int i, bGap = 0;
  (void)nAck;
  plVerify(db, 0);                    /* whole or absent, never partial */
  for(i=0; i<PL_BATCHES; i++){
    char zK[32];
    void *pV = 0;
    size_t nV;
    int rc;
    snprintf(zK, sizeof(zK), "b%03d-0", i);
    rc = lsm_get(db, 0, zK, strlen(zK), &pV, &nV);
    lsm_free(pV);
    if( rc==LSM_OK && bGap ) fail_msg("crash at fsync %d: batch %d survived "
                                      "a lost earlier batch", k, i);
    if( rc!=LSM_OK ) bGap = 1;
  }
}

/*
** With sync=normal a power loss may lose recent commits, but what
** survives is a prefix of the history: no batch after a lost one, no
** partial batch.
*/
static void test_power_loss_normal(void **state){
  TestEnv *pTest = testenvNew();
  lsm_options opts;
  int nCrash;
  (void)state;
  lsm_options_init(&opts);
  opts.env = testenvEnv(pTest);
  opts.sync_mode = LSM_SYNC_NORMAL;
  opts.memtable_size = 8<<10;
  nCrash = plEveryFsync(&opts, pTest, plCheckPrefix);
  print_message("power loss, sync=normal: %d crash points, all prefixes\n", nCrash);
  assert_true(nCrash>5);
  testenvFree(pTest);
}

/**************************************************************************
** I/O errors at the Nth mutating call, during writes and during recovery.
*/

static void test_io_errors(void **state){
  TestEnv *pTest = testenvNew();
  lsm_options opts;
  int n, nFault = 0;
  (void)state;
  lsm_options_init(&opts);
  opts.env = testenvEnv(pTest);
  opts.memtable_size = 8<<10;
  for(n=1; n<400; n+=3){
    lsm_db *db = 0;
    int nAck = 0, rc;
    int err = (n%2) ? EIO : (ENOSPC|TESTENV_SHORT);
    testRmTree(zDir);
    testenvRestart(pTest);
    testenvFailAt(pTest, TESTENV_MUTATE, n, err, 0);
    rc = lsm_open(zDir, &opts, &db);
    if( rc==LSM_OK ){
      rc = plWorkload(db, &nAck);
    }
    if( rc!=LSM_OK ){
      nFault++;
      assert_true(rc==LSM_IOERR || rc==LSM_FULL);
      assert_true(strlen(lsm_errmsg(db))>0);
    }
    lsm_close(db);
    /* The fault cleared, the database opens with every acknowledged
    ** batch (sync=full: all of them) and nothing partial. */
    testenvClearFaults(pTest);
    db = 0;
    if( lsm_open(zDir, &opts, &db)!=LSM_OK ){
      fail_msg("reopen after fault at call %d: %s", n, lsm_errmsg(db));
    }
    plVerify(db, nAck);
    assert_int_equal(lsm_close(db), LSM_OK);
  }
  print_message("io errors: %d injected faults hit\n", nFault);
  assert_true(nFault>50);

  /* Faults during recovery itself: reopening a database with logs. */
  for(n=1; n<60; n++){
    lsm_db *db = 0;
    int nAck = 0, rc;
    if( n==1 ){
      testRmTree(zDir);
      testenvRestart(pTest);
      assert_int_equal(lsm_open(zDir, &opts, &db), LSM_OK);
      assert_int_equal(plWorkload(db, &nAck), LSM_OK);
      lsm_close(db);
      db = 0;
    }
    testenvFailAt(pTest, TESTENV_MUTATE, n, EIO, 1);
    rc = lsm_open(zDir, &opts, &db);
    if( rc!=LSM_OK ) assert_int_equal(rc, LSM_IOERR);
    lsm_close(db);
    testenvClearFaults(pTest);
    db = 0;
    assert_int_equal(lsm_open(zDir, &opts, &db), LSM_OK);
    plVerify(db, PL_BATCHES);
    lsm_close(db);
  }
  testenvFree(pTest);
}

/**************************************************************************
** Two-phase commit.
*/

static void prepareHow(lsm_db *db, uint64_t iTxn, const char *zKey,
                       const char *zVal, int bSynced){
  lsm_batch *b = 0;
  assert_int_equal(lsm_batch_new(&b), LSM_OK);
  assert_int_equal(lsm_batch_put(b, zKey, strlen(zKey), zVal, strlen(zVal)), LSM_OK);
  assert_int_equal(bSynced ? lsm_prepare(db, b, iTxn)
                           : lsm_prepare_unsynced(db, b, iTxn), LSM_OK);
  lsm_batch_free(b);
}

static void prepareOne(lsm_db *db, uint64_t iTxn, const char *zKey, const char *zVal){
  prepareHow(db, iTxn, zKey, zVal, 1);
}

static void test_two_phase(void **state){
  lsm_options opts;
  lsm_db *db;
  uint64_t aTxn[4];
  int i;
  (void)state;
  lsm_options_init(&opts);
  opts.memtable_size = 4<<10;
  db = openDb(&opts);
  prepareOne(db, 7, "k1", "a");
  checkStr(db, 0, "k1", 0);                  /* invisible until committed */
  assert_int_equal(lsm_prepared(db, aTxn, 4), 1);
  assert_int_equal(aTxn[0], 7);
  assert_int_equal(lsm_commit_prepared(db, 7), LSM_OK);
  checkStr(db, 0, "k1", "a");
  assert_int_equal(lsm_last_seq(db), 1);
  assert_int_equal(lsm_prepared(db, aTxn, 4), 0);
  assert_int_equal(lsm_commit_prepared(db, 7), LSM_NOTFOUND);

  prepareOne(db, 8, "k2", "b");
  assert_int_equal(lsm_rollback_prepared(db, 8), LSM_OK);
  checkStr(db, 0, "k2", 0);

  prepareOne(db, 9, "k3", "c");
  {
    lsm_batch *b = 0;
    assert_int_equal(lsm_batch_new(&b), LSM_OK);
    assert_int_equal(lsm_batch_put(b, "x", 1, "y", 1), LSM_OK);
    assert_int_equal(lsm_prepare(db, b, 9), LSM_INVALID);
    lsm_batch_free(b);
  }
  /* Log switches and flushes while 9 is pending must not lose it. */
  for(i=0; i<300; i++){
    char zK[32];
    snprintf(zK, sizeof(zK), "fill%04d", i);
    putStr(db, zK, "0123456789012345678901234567890123456789");
  }
  assert_int_equal(lsm_flush(db), LSM_OK);
  assert_int_equal(lsm_close(db), LSM_OK);

  db = openDb(&opts);
  assert_int_equal(lsm_prepared(db, aTxn, 4), 1);
  assert_int_equal(aTxn[0], 9);
  checkStr(db, 0, "k3", 0);
  checkStr(db, 0, "k1", "a");
  assert_int_equal(lsm_commit_prepared(db, 9), LSM_OK);
  checkStr(db, 0, "k3", "c");
  prepareOne(db, 10, "k4", "d");
  assert_int_equal(lsm_close(db), LSM_OK);

  /* A commit record replays; an unresolved one stays in doubt. */
  db = openDb(&opts);
  checkStr(db, 0, "k3", "c");
  assert_int_equal(lsm_prepared(db, aTxn, 4), 1);
  assert_int_equal(aTxn[0], 10);
  assert_int_equal(lsm_rollback_prepared(db, 10), LSM_OK);
  assert_int_equal(lsm_close(db), LSM_OK);
  db = openDb(&opts);
  assert_int_equal(lsm_prepared(db, aTxn, 4), 0);
  checkStr(db, 0, "k4", 0);
  assert_int_equal(lsm_close(db), LSM_OK);
}

/* A prepared transaction is durable under sync=full: a power loss just
** after lsm_prepare returns leaves it in doubt, not lost. */
static void test_two_phase_power_loss(void **state){
  TestEnv *pTest = testenvNew();
  lsm_options opts;
  lsm_db *db;
  uint64_t aTxn[2];
  (void)state;
  lsm_options_init(&opts);
  opts.env = testenvEnv(pTest);
  testRmTree(zDir);
  db = openDb(&opts);
  prepareOne(db, 42, "p", "q");
  testenvCrash(pTest, 1, 7);
  lsm_close(db);
  testenvRestart(pTest);
  db = openDb(&opts);
  assert_int_equal(lsm_prepared(db, aTxn, 2), 1);
  assert_int_equal(aTxn[0], 42);
  assert_int_equal(lsm_commit_prepared(db, 42), LSM_OK);
  checkStr(db, 0, "p", "q");
  assert_int_equal(lsm_close(db), LSM_OK);
  testenvFree(pTest);
}

/* lsm_prepare_unsynced does not sync; lsm_txn_durable follows the
** syncs, lsm_txn_last the commits, across power loss and flushes. */
static void test_two_phase_unsynced(void **state){
  TestEnv *pTest = testenvNew();
  lsm_options opts;
  lsm_db *db;
  uint64_t aTxn[2];
  uint64_t nSync;
  (void)state;
  lsm_options_init(&opts);
  opts.env = testenvEnv(pTest);
  testRmTree(zDir);
  db = openDb(&opts);
  nSync = testenvCount(pTest, TESTENV_FSYNC);
  prepareHow(db, 1, "k1", "a", 0);
  assert_int_equal(testenvCount(pTest, TESTENV_FSYNC), nSync);
  assert_int_equal(lsm_txn_durable(db), 0);
  assert_int_equal(lsm_commit_prepared(db, 1), LSM_OK);
  assert_int_equal(lsm_txn_last(db), 1);
  prepareHow(db, 2, "k2", "b", 1);           /* syncs 1's records too */
  assert_int_equal(testenvCount(pTest, TESTENV_FSYNC), nSync+1);
  assert_int_equal(lsm_txn_durable(db), 2);
  prepareHow(db, 3, "k3", "c", 0);
  assert_int_equal(lsm_commit_prepared(db, 3), LSM_OK);
  assert_int_equal(lsm_txn_last(db), 3);
  assert_int_equal(lsm_txn_durable(db), 2);
  testenvCrash(pTest, 0, 0);
  lsm_close(db);
  testenvRestart(pTest);

  db = openDb(&opts);
  assert_int_equal(lsm_txn_last(db), 1);     /* 3 was never synced */
  assert_int_equal(lsm_txn_durable(db), 2);
  assert_int_equal(lsm_prepared(db, aTxn, 2), 1);
  assert_int_equal(aTxn[0], 2);
  checkStr(db, 0, "k1", "a");
  checkStr(db, 0, "k3", 0);
  assert_int_equal(lsm_commit_prepared(db, 2), LSM_OK);
  prepareHow(db, 4, "k4", "d", 0);
  assert_int_equal(lsm_commit_prepared(db, 4), LSM_OK);
  /* the flush syncs the log, and its edit keeps the number once the log
  ** is gone */
  assert_int_equal(lsm_flush(db), LSM_OK);
  assert_int_equal(lsm_txn_durable(db), 4);
  assert_int_equal(lsm_close(db), LSM_OK);
  db = openDb(&opts);
  assert_int_equal(lsm_txn_last(db), 4);
  checkStr(db, 0, "k4", "d");
  assert_int_equal(lsm_close(db), LSM_OK);
  db = openDb(&opts);
  assert_int_equal(lsm_txn_last(db), 4);     /* kept by the rewritten manifest */
  assert_int_equal(lsm_close(db), LSM_OK);
  testenvFree(pTest);
}

/* lsm_batch_data and lsm_batch_load round-trip; damage is CORRUPT. */
static void test_batch_load(void **state){
  lsm_batch *b = 0, *c = 0;
  const void *pData;
  size_t nData;
  uint8_t aBad[64];
  lsm_db *db;
  (void)state;
  db = openDb(0);
  assert_int_equal(lsm_batch_new(&b), LSM_OK);
  assert_int_equal(lsm_batch_new_indexed(&c), LSM_OK);
  assert_int_equal(lsm_batch_put(b, "a", 1, "1", 1), LSM_OK);
  assert_int_equal(lsm_batch_delete(b, "b", 1), LSM_OK);
  assert_int_equal(lsm_batch_put(b, "c", 1, "33", 2), LSM_OK);
  pData = lsm_batch_data(b, &nData);
  assert_int_equal(nData, lsm_batch_size(b));
  assert_int_equal(lsm_batch_load(c, pData, nData), LSM_OK);
  assert_int_equal(lsm_batch_count(c), 3);
  {
    const void *pVal;
    size_t nVal;
    int bDel = 0;
    assert_int_equal(lsm_batch_get(c, "c", 1, &pVal, &nVal, &bDel), LSM_OK);
    assert_int_equal(nVal, 2);
    assert_int_equal(lsm_batch_get(c, "b", 1, &pVal, &nVal, &bDel), LSM_OK);
    assert_true(bDel);
  }
  putStr(db, "b", "old");
  assert_int_equal(lsm_write(db, c), LSM_OK);
  checkStr(db, 0, "a", "1");
  checkStr(db, 0, "b", 0);
  checkStr(db, 0, "c", "33");
  /* every truncation of the encoding is refused and leaves c empty */
  assert_true(nData<=sizeof(aBad));
  memcpy(aBad, pData, nData);
  for(size_t n=0; n<nData; n++){
    assert_int_equal(lsm_batch_load(c, aBad, n), LSM_CORRUPT);
    assert_int_equal(lsm_batch_count(c), 0);
  }
  aBad[12] = 9;                               /* an unknown kind */
  assert_int_equal(lsm_batch_load(c, aBad, nData), LSM_CORRUPT);
  lsm_batch_free(b);
  lsm_batch_free(c);
  assert_int_equal(lsm_close(db), LSM_OK);
}

/* Old logs are kept up to log_retain_bytes, and only that much. */
static int countLogs(void *pArg, const char *zName){
  size_t n = strlen(zName);
  if( n>4 && strcmp(zName+n-4, ".log")==0 ) (*(int*)pArg)++;
  return 0;
}

static void test_log_retention(void **state){
  lsm_options opts;
  lsm_db *db;
  int i, nLog = 0;
  lsm_env *pEnv = lsm_env_default();
  (void)state;
  lsm_options_init(&opts);
  opts.memtable_size = 8<<10;
  opts.sync_mode = LSM_SYNC_OFF;
  opts.log_retain_bytes = 1<<30;
  db = openDb(&opts);
  for(i=0; i<2000; i++){
    char zK[32];
    snprintf(zK, sizeof(zK), "r%05d", i);
    putStr(db, zK, "0123456789012345678901234567890123456789");
  }
  assert_int_equal(lsm_flush(db), LSM_OK);
  pEnv->xList(pEnv, zDir, countLogs, &nLog);
  assert_true(nLog>5);
  assert_int_equal(lsm_close(db), LSM_OK);
  /* Without retention only the live log remains. */
  opts.log_retain_bytes = 0;
  db = openDb(&opts);
  nLog = 0;
  pEnv->xList(pEnv, zDir, countLogs, &nLog);
  assert_int_equal(nLog, 1);
  checkStr(db, 0, "r01999", "0123456789012345678901234567890123456789");
  assert_int_equal(lsm_close(db), LSM_OK);
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
    cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
    cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
    cmocka_unit_test_setup_teardown(test_indexed_batch, setup, teardown),
    cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
    cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
    cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
    cmocka_unit_test_setup_teardown(test_model, setup, teardown),
    cmocka_unit_test_setup_teardown(test_model_mmap, setup, teardown),
    cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
    cmocka_unit_test_setup_teardown(test_power_loss, setup, teardown),
    cmocka_unit_test_setup_teardown(test_power_loss_normal, setup, teardown),
    cmocka_unit_test_setup_teardown(test_io_errors, setup, teardown),
    cmocka_unit_test_setup_teardown(test_two_phase, setup, teardown),
    cmocka_unit_test_setup_teardown(test_two_phase_power_loss, setup, teardown),
    cmocka_unit_test_setup_teardown(test_two_phase_unsynced, setup, teardown),
    cmocka_unit_test_setup_teardown(test_batch_load, setup, teardown),
    cmocka_unit_test_setup_teardown(test_log_retention, setup, teardown),
  };
  return cmocka_run_group_tests(tests, 0, 0);
}
