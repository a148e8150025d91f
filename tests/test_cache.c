/*
** test_cache.c -- unit tests of the sharded LRU cache (lsm/cache.c).
**
** Values are TestVal records that count how often their deleter ran, so
** every test can assert that each value is deleted exactly once and only
** when it should be.  LRU order is a per-shard property; the tests that
** check it pick keys that land in one shard, using the sharding rule the
** cache documents (top 4 bits of the key's CRC32C), and give the cache a
** capacity of 16 times the per-shard capacity they want.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "coding.h"
#include "util.h"
#include "support/testutil.h"

#define NSHARD 16

typedef struct TestVal {
  int iKey;                     /* key the value was inserted under */
  atomic_int nDelete;           /* times the deleter ran */
} TestVal;

static atomic_int nDeleteTotal;

static void testDelete(const void *pKey, size_t nKey, void *pValue){
  TestVal *p = pValue;
  /* The deleter is handed the entry's own key. */
  assert_int_equal(nKey, sizeof(int));
  assert_memory_equal(pKey, &p->iKey, sizeof(int));
  atomic_fetch_add(&p->nDelete, 1);
  atomic_fetch_add(&nDeleteTotal, 1);
}

static TestVal *newVal(int iKey){
  TestVal *p = malloc(sizeof(TestVal));
  assert_non_null(p);
  p->iKey = iKey;
  atomic_init(&p->nDelete, 0);
  return p;
}

static int nDeleted(TestVal *p){ return atomic_load(&p->nDelete); }

/* Insert iKey -> pVal with the given charge and release the handle. */
static void put(LsmCache *pCache, int iKey, TestVal *pVal, size_t nCharge){
  LsmCacheHandle *h = 0;
  assert_int_equal(lsmCacheInsert(pCache, &iKey, sizeof(iKey), pVal, nCharge,
                                  testDelete, &h), LSM_OK);
  assert_non_null(h);
  assert_ptr_equal(lsmCacheValue(h), pVal);
  lsmCacheRelease(pCache, h);
}

/* The value cached under iKey (touching it), or NULL. */
static TestVal *get(LsmCache *pCache, int iKey){
  LsmCacheHandle *h = lsmCacheLookup(pCache, &iKey, sizeof(iKey));
  TestVal *p = 0;
  if( h ){
    p = lsmCacheValue(h);
    assert_int_equal(p->iKey, iKey);
    lsmCacheRelease(pCache, h);
  }
  return p;
}

/* Fill aKey[0..n-1] with int keys that all fall into shard 0. */
static void keysInOneShard(int *aKey, int n){
  int iKey = 0;
  int i;
  for(i=0; i<n; i++){
    while( (lsmCrc32c(0, &iKey, sizeof(iKey)) >> 28)!=0 ) iKey++;
    aKey[i] = iKey++;
  }
}

static void test_hit_miss(void **state){
  LsmCache *pCache = 0;
  TestVal *a = newVal(1), *b = newVal(2);
  LsmCacheHandle *h;
  int k = 3;
  (void)state;

  assert_int_equal(lsmCacheNew(1000, &pCache), LSM_OK);
  assert_null(get(pCache, 1));
  put(pCache, 1, a, 10);
  put(pCache, 2, b, 20);
  assert_ptr_equal(get(pCache, 1), a);
  assert_ptr_equal(get(pCache, 2), b);
  assert_null(get(pCache, 3));
  assert_null(lsmCacheLookup(pCache, &k, sizeof(k)));
  assert_int_equal(lsmCacheUsage(pCache), 30);

  /* Two handles on one entry. */
  k = 1;
  h = lsmCacheLookup(pCache, &k, sizeof(k));
  assert_non_null(h);
  assert_ptr_equal(get(pCache, 1), a);
  lsmCacheRelease(pCache, h);

  lsmCacheErase(pCache, &k, sizeof(k));
  assert_int_equal(nDeleted(a), 1);
  assert_null(get(pCache, 1));
  assert_int_equal(lsmCacheUsage(pCache), 20);
  lsmCacheErase(pCache, &k, sizeof(k));      /* absent: no effect */
  assert_int_equal(nDeleted(a), 1);

  lsmCacheFree(pCache);
  assert_int_equal(nDeleted(b), 1);
  free(a);
  free(b);
}

static void test_replace(void **state){
  LsmCache *pCache = 0;
  TestVal *v1 = newVal(7), *v2 = newVal(7), *v3 = newVal(7);
  LsmCacheHandle *h1 = 0;
  int k = 7;
  (void)state;

  assert_int_equal(lsmCacheNew(1000, &pCache), LSM_OK);
  assert_int_equal(lsmCacheInsert(pCache, &k, sizeof(k), v1, 5, testDelete,
                                  &h1), LSM_OK);
  /* Replacing a pinned entry: the old value lives until released. */
  put(pCache, 7, v2, 6);
  assert_ptr_equal(get(pCache, 7), v2);
  assert_int_equal(nDeleted(v1), 0);
  assert_ptr_equal(lsmCacheValue(h1), v1);
  assert_int_equal(lsmCacheUsage(pCache), 6);
  lsmCacheRelease(pCache, h1);
  assert_int_equal(nDeleted(v1), 1);
  assert_ptr_equal(get(pCache, 7), v2);

  /* Replacing an unpinned entry deletes the old value at once. */
  put(pCache, 7, v3, 8);
  assert_int_equal(nDeleted(v2), 1);
  assert_int_equal(nDeleted(v3), 0);
  assert_ptr_equal(get(pCache, 7), v3);
  assert_int_equal(lsmCacheUsage(pCache), 8);

  lsmCacheFree(pCache);
  assert_int_equal(nDeleted(v1), 1);
  assert_int_equal(nDeleted(v2), 1);
  assert_int_equal(nDeleted(v3), 1);
  free(v1);
  free(v2);
  free(v3);
}

static void test_lru_order(void **state){
  LsmCache *pCache = 0;
  int aKey[6];
  TestVal *aVal[6];
  int i;
  (void)state;

  keysInOneShard(aKey, 6);
  for(i=0; i<6; i++) aVal[i] = newVal(aKey[i]);
  /* Three unit-charge entries per shard. */
  assert_int_equal(lsmCacheNew(3*NSHARD, &pCache), LSM_OK);
  put(pCache, aKey[0], aVal[0], 1);
  put(pCache, aKey[1], aVal[1], 1);
  put(pCache, aKey[2], aVal[2], 1);
  /* Use order now 1, 2, 0 (oldest first). */
  assert_non_null(get(pCache, aKey[0]));
  put(pCache, aKey[3], aVal[3], 1);         /* evicts 1 */
  assert_int_equal(nDeleted(aVal[1]), 1);
  assert_null(get(pCache, aKey[1]));
  /* Order 2, 0, 3; touch 2 -> 0, 3, 2. */
  assert_non_null(get(pCache, aKey[2]));
  put(pCache, aKey[4], aVal[4], 1);         /* evicts 0 */
  assert_int_equal(nDeleted(aVal[0]), 1);
  assert_int_equal(nDeleted(aVal[2]), 0);
  assert_int_equal(nDeleted(aVal[3]), 0);
  /* Order 3, 2, 4; a charge-2 entry pushes out the two oldest. */
  put(pCache, aKey[5], aVal[5], 2);
  assert_int_equal(nDeleted(aVal[3]), 1);
  assert_int_equal(nDeleted(aVal[2]), 1);
  assert_int_equal(nDeleted(aVal[4]), 0);
  assert_ptr_equal(get(pCache, aKey[4]), aVal[4]);
  assert_ptr_equal(get(pCache, aKey[5]), aVal[5]);
  assert_int_equal(lsmCacheUsage(pCache), 3);

  lsmCacheFree(pCache);
  for(i=0; i<6; i++){
    assert_int_equal(nDeleted(aVal[i]), 1);
    free(aVal[i]);
  }
}

static void test_pinned(void **state){
  LsmCache *pCache = 0;
  int aKey[12];
  TestVal *aVal[12];
  LsmCacheHandle *hPin = 0, *hErase = 0;
  int i;
  (void)state;

  keysInOneShard(aKey, 12);
  for(i=0; i<12; i++) aVal[i] = newVal(aKey[i]);
  assert_int_equal(lsmCacheNew(2*NSHARD, &pCache), LSM_OK);
  assert_int_equal(lsmCacheInsert(pCache, &aKey[0], sizeof(int), aVal[0], 1,
                                  testDelete, &hPin), LSM_OK);
  assert_int_equal(lsmCacheInsert(pCache, &aKey[1], sizeof(int), aVal[1], 1,
                                  testDelete, &hErase), LSM_OK);
  /* Both pinned entries survive a stream of inserts into their shard;
  ** with the shard full of pinned entries, each new one goes at once. */
  for(i=2; i<12; i++){
    put(pCache, aKey[i], aVal[i], 1);
    assert_int_equal(nDeleted(aVal[i]), 1);
  }
  assert_int_equal(lsmCacheUsage(pCache), 2);
  assert_int_equal(nDeleted(aVal[0]), 0);
  assert_int_equal(nDeleted(aVal[1]), 0);
  assert_ptr_equal(get(pCache, aKey[0]), aVal[0]);
  assert_ptr_equal(get(pCache, aKey[1]), aVal[1]);

  /* Erased while pinned: gone from the cache, deleted at release. */
  lsmCacheErase(pCache, &aKey[1], sizeof(int));
  assert_null(get(pCache, aKey[1]));
  assert_int_equal(nDeleted(aVal[1]), 0);
  assert_ptr_equal(lsmCacheValue(hErase), aVal[1]);
  lsmCacheRelease(pCache, hErase);
  assert_int_equal(nDeleted(aVal[1]), 1);

  lsmCacheRelease(pCache, hPin);
  assert_int_equal(nDeleted(aVal[0]), 0);
  assert_ptr_equal(get(pCache, aKey[0]), aVal[0]);
  assert_int_equal(lsmCacheUsage(pCache), 1);
  lsmCacheFree(pCache);
  for(i=0; i<12; i++){
    assert_int_equal(nDeleted(aVal[i]), 1);
    free(aVal[i]);
  }
}

/* An entry bigger than its shard is usable while pinned, then dropped. */
static void test_oversized(void **state){
  LsmCache *pCache = 0;
  TestVal *v = newVal(1);
  LsmCacheHandle *h = 0;
  int k = 1;
  (void)state;
  assert_int_equal(lsmCacheNew(100, &pCache), LSM_OK);
  assert_int_equal(lsmCacheInsert(pCache, &k, sizeof(k), v, 1000, testDelete,
                                  &h), LSM_OK);
  assert_ptr_equal(lsmCacheValue(h), v);
  assert_int_equal(nDeleted(v), 0);
  lsmCacheRelease(pCache, h);
  assert_int_equal(nDeleted(v), 1);
  assert_int_equal(lsmCacheUsage(pCache), 0);
  lsmCacheFree(pCache);
  free(v);
}

/*
** The capacity is split over the shards so that the slices add up to it
** exactly, even when it is not a multiple of the shard count: filling
** every shard with unit-charge entries reaches the capacity, no more.
*/
static void test_capacity_exact(void **state){
  enum { NCAP = 1000, NKEY = 5000 };
  LsmCache *pCache = 0;
  TestVal **aVal = calloc(NKEY, sizeof(TestVal*));
  int nLive = 0;
  int i;
  (void)state;

  assert_non_null(aVal);
  assert_int_equal(lsmCacheNew(NCAP, &pCache), LSM_OK);
  for(i=0; i<NKEY; i++){
    aVal[i] = newVal(i);
    put(pCache, i, aVal[i], 1);
    assert_true(lsmCacheUsage(pCache)<=NCAP);
  }
  assert_int_equal(lsmCacheUsage(pCache), NCAP);
  for(i=0; i<NKEY; i++){
    if( nDeleted(aVal[i])==0 ){
      nLive++;
      assert_ptr_equal(get(pCache, i), aVal[i]);
    }
  }
  assert_int_equal(nLive, NCAP);
  lsmCacheFree(pCache);
  for(i=0; i<NKEY; i++){
    assert_int_equal(nDeleted(aVal[i]), 1);
    free(aVal[i]);
  }
  free(aVal);
}

/*
** Random operations against a model of what is pinned: usage never
** exceeds capacity while nothing is pinned, every value is deleted
** exactly once, and none is deleted while a handle still pins it.
*/
static void test_capacity_random(void **state){
  enum { NOP = 20000, NKEY = 400, NPIN = 8, NCAP = 1000 };
  LsmCache *pCache = 0;
  TestVal **aAll = calloc(NOP, sizeof(TestVal*));
  LsmCacheHandle *aPin[NPIN] = {0};
  int nAll = 0;
  uint64_t iRnd = 99;
  int i;
  (void)state;

  assert_non_null(aAll);
  assert_int_equal(lsmCacheNew(NCAP, &pCache), LSM_OK);
  for(i=0; i<NOP; i++){
    int k = (int)(testRand(&iRnd) % NKEY);
    int iPin = (int)(testRand(&iRnd) % NPIN);
    int bAnyPinned = 0;
    int j;
    switch( testRand(&iRnd) % 6 ){
      case 0: case 1: {
        TestVal *v = newVal(k);
        LsmCacheHandle *h = 0;
        size_t nCharge = 1 + testRandRange(&iRnd, 40);
        aAll[nAll++] = v;
        assert_int_equal(lsmCacheInsert(pCache, &k, sizeof(k), v, nCharge,
                                        testDelete, &h), LSM_OK);
        if( aPin[iPin]==0 && (testRand(&iRnd) % 4)==0 ){
          aPin[iPin] = h;
        }else{
          lsmCacheRelease(pCache, h);
        }
        break;
      }
      case 2: case 3: {
        LsmCacheHandle *h = lsmCacheLookup(pCache, &k, sizeof(k));
        if( h ){
          assert_int_equal(((TestVal*)lsmCacheValue(h))->iKey, k);
          if( aPin[iPin]==0 ){
            aPin[iPin] = h;
          }else{
            lsmCacheRelease(pCache, h);
          }
        }
        break;
      }
      case 4:
        lsmCacheErase(pCache, &k, sizeof(k));
        break;
      default:
        if( aPin[iPin] ){
          lsmCacheRelease(pCache, aPin[iPin]);
          aPin[iPin] = 0;
        }
        break;
    }
    for(j=0; j<NPIN; j++){
      if( aPin[j] ){
        bAnyPinned = 1;
        assert_int_equal(nDeleted(lsmCacheValue(aPin[j])), 0);
      }
    }
    if( !bAnyPinned ) assert_true(lsmCacheUsage(pCache)<=NCAP);
  }
  for(i=0; i<NPIN; i++){
    if( aPin[i] ) lsmCacheRelease(pCache, aPin[i]);
  }
  assert_true(lsmCacheUsage(pCache)<=NCAP);
  /* Evictions happened, so capacity was actually under pressure. */
  assert_true(atomic_load(&nDeleteTotal)>0);
  lsmCacheFree(pCache);
  for(i=0; i<nAll; i++){
    assert_int_equal(nDeleted(aAll[i]), 1);
    free(aAll[i]);
  }
  free(aAll);
}

static void test_new_id(void **state){
  LsmCache *pCache = 0;
  uint64_t iPrev;
  int i;
  (void)state;
  assert_int_equal(lsmCacheNew(10, &pCache), LSM_OK);
  iPrev = lsmCacheNewId(pCache);
  for(i=0; i<100; i++){
    uint64_t iId = lsmCacheNewId(pCache);
    assert_true(iId>iPrev);
    iPrev = iId;
  }
  lsmCacheFree(pCache);
}

/* A failed insert reports NOMEM, deletes the value, leaves the cache. */
static int nAllocLeft;

static void *failMalloc(size_t n){
  if( nAllocLeft>0 && --nAllocLeft==0 ) return 0;
  return malloc(n);
}

static void test_nomem(void **state){
  static const lsm_allocator failAllocator = { failMalloc, realloc, free };
  LsmCache *pCache = 0;
  TestVal *aVal[40];
  int iFail;
  int i;
  (void)state;

  lsm_set_allocator(&failAllocator);
  nAllocLeft = 1;
  assert_int_equal(lsmCacheNew(100, &pCache), LSM_NOMEM);
  assert_null(pCache);
  /* Each insert allocates an entry, and sometimes a bucket array. */
  for(iFail=1; iFail<=3; iFail++){
    int nNomem = 0;
    assert_int_equal(lsmCacheNew(1000, &pCache), LSM_OK);
    nAllocLeft = iFail;
    for(i=0; i<40; i++){
      LsmCacheHandle *h = 0;
      int rc;
      aVal[i] = newVal(i);
      rc = lsmCacheInsert(pCache, &i, sizeof(i), aVal[i], 1, testDelete, &h);
      if( rc==LSM_NOMEM ){
        nNomem++;
        assert_null(h);
        assert_int_equal(nDeleted(aVal[i]), 1);
        assert_null(get(pCache, i));
      }else{
        assert_int_equal(rc, LSM_OK);
        lsmCacheRelease(pCache, h);
        assert_ptr_equal(get(pCache, i), aVal[i]);
      }
    }
    assert_int_equal(nNomem, 1);
    assert_int_equal(lsmCacheUsage(pCache), 39);
    lsmCacheFree(pCache);
    for(i=0; i<40; i++){
      assert_int_equal(nDeleted(aVal[i]), 1);
      free(aVal[i]);
    }
  }
  nAllocLeft = 0;
  lsm_set_allocator(0);
}

/*
** Four threads share a small cache over a key space larger than it, so
** inserts, hits, evictions, erases and replacements race each other.
** Each value is checked while pinned (not deleted, right key); at the end
** every value created has been deleted exactly once.
*/
#define NTHREAD 4
#define NTHREAD_OP 100000

typedef struct HammerCtx {
  LsmCache *pCache;
  int iThread;
  atomic_int *pnCreated;
  int bFail;
} HammerCtx;

static void hammerDelete(const void *pKey, size_t nKey, void *pValue){
  TestVal *p = pValue;
  if( nKey==sizeof(int) && memcmp(pKey, &p->iKey, nKey)==0
   && atomic_fetch_add(&p->nDelete, 1)==0 ){
    atomic_fetch_add(&nDeleteTotal, 1);
    free(p);
  }
}

static void *hammerThread(void *pArg){
  HammerCtx *p = pArg;
  uint64_t iRnd = 1000 + (uint64_t)p->iThread;
  int i;
  for(i=0; i<NTHREAD_OP && !p->bFail; i++){
    int k = (int)(testRand(&iRnd) % 300);
    int op = (int)(testRand(&iRnd) % 10);
    LsmCacheHandle *h = lsmCacheLookup(p->pCache, &k, sizeof(k));
    if( h ){
      TestVal *v = lsmCacheValue(h);
      if( v->iKey!=k || atomic_load(&v->nDelete)!=0 ) p->bFail = 1;
      lsmCacheRelease(p->pCache, h);
    }
    if( h==0 || op==0 ){
      TestVal *v = malloc(sizeof(TestVal));
      if( v==0 ){ p->bFail = 1; break; }
      v->iKey = k;
      atomic_init(&v->nDelete, 0);
      atomic_fetch_add(p->pnCreated, 1);
      if( lsmCacheInsert(p->pCache, &k, sizeof(k), v, 1 + (size_t)(k % 3),
                         hammerDelete, &h)!=LSM_OK ){
        p->bFail = 1;
        break;
      }
      if( atomic_load(&v->nDelete)!=0 ) p->bFail = 1;
      lsmCacheRelease(p->pCache, h);
    }
    if( op==1 ) lsmCacheErase(p->pCache, &k, sizeof(k));
    if( op==2 ) (void)lsmCacheUsage(p->pCache);
  }
  return 0;
}

static void test_threads(void **state){
  LsmCache *pCache = 0;
  HammerCtx aCtx[NTHREAD];
  pthread_t aThread[NTHREAD];
  atomic_int nCreated;
  int i;
  (void)state;

  atomic_init(&nCreated, 0);
  atomic_store(&nDeleteTotal, 0);
  assert_int_equal(lsmCacheNew(200, &pCache), LSM_OK);
  for(i=0; i<NTHREAD; i++){
    aCtx[i].pCache = pCache;
    aCtx[i].iThread = i;
    aCtx[i].pnCreated = &nCreated;
    aCtx[i].bFail = 0;
    assert_int_equal(pthread_create(&aThread[i], 0, hammerThread, &aCtx[i]),
                     0);
  }
  for(i=0; i<NTHREAD; i++){
    pthread_join(aThread[i], 0);
    assert_false(aCtx[i].bFail);
  }
  assert_true(lsmCacheUsage(pCache)<=200);
  lsmCacheFree(pCache);
  assert_int_equal(atomic_load(&nDeleteTotal), atomic_load(&nCreated));
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_hit_miss),
    cmocka_unit_test(test_replace),
    cmocka_unit_test(test_lru_order),
    cmocka_unit_test(test_pinned),
    cmocka_unit_test(test_oversized),
    cmocka_unit_test(test_capacity_exact),
    cmocka_unit_test(test_capacity_random),
    cmocka_unit_test(test_new_id),
    cmocka_unit_test(test_nomem),
    cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, 0, 0);
}
