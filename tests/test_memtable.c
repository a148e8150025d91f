/*
** test_memtable.c -- unit tests of the memtable (lsm/memtable.c).
**
** The main test inserts random entries and checks the table against a
** model: a sorted array of the same internal keys.  Every kind of read the
** engine makes is compared with the model -- forward and backward
** iteration, seeks at random internal keys followed by steps in both
** directions, and point lookups at random snapshots -- on tables with
** no key filter, a saturated one and a normal one.  Other tests cover
** the filter's rejections, keys inserted in order, a batch inserted in
** key order, an empty table, 1 MiB values, a reader iterating while a writer inserts
** (run it under ThreadSanitizer), and allocation failure at every
** allocation of a sequence of inserts.  All randomness is seeded.
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

#include "batch.h"
#include "ikey.h"
#include "memtable.h"
#include "util.h"
#include "support/testutil.h"

/* One model entry: an internal key and its value, both malloc'd. */
typedef struct ModelEntry {
  uint8_t *pIkey;
  size_t nIkey;
  uint8_t *pVal;
  size_t nVal;
} ModelEntry;

typedef struct Model {
  ModelEntry *a;
  size_t n;
} Model;

static int modelCmp(const void *pA, const void *pB){
  const ModelEntry *a = pA, *b = pB;
  return lsmIkeyCompare(a->pIkey, a->nIkey, b->pIkey, b->nIkey);
}

static void modelAdd(Model *pModel, uint64_t seq, int kind,
                     const uint8_t *pKey, size_t nKey,
                     const uint8_t *pVal, size_t nVal){
  ModelEntry *e;
  pModel->a = realloc(pModel->a, (pModel->n + 1)*sizeof(ModelEntry));
  assert_non_null(pModel->a);
  e = &pModel->a[pModel->n++];
  e->nIkey = nKey + LSM_IKEY_TRAILER;
  e->pIkey = malloc(e->nIkey);
  assert_non_null(e->pIkey);
  memcpy(e->pIkey, pKey, nKey);
  lsmPut64(e->pIkey + nKey, lsmIkeyTrailer(seq, kind));
  e->nVal = kind==LSM_KIND_VALUE ? nVal : 0;
  e->pVal = malloc(e->nVal + 1);
  assert_non_null(e->pVal);
  if( e->nVal ) memcpy(e->pVal, pVal, e->nVal);
}

static void modelSort(Model *pModel){
  qsort(pModel->a, pModel->n, sizeof(ModelEntry), modelCmp);
}

static void modelFree(Model *pModel){
  size_t i;
  for(i=0; i<pModel->n; i++){
    free(pModel->a[i].pIkey);
    free(pModel->a[i].pVal);
  }
  free(pModel->a);
  memset(pModel, 0, sizeof(*pModel));
}

/* Index of the first model entry >= the internal key (n if none). */
static size_t modelLowerBound(const Model *pModel,
                              const uint8_t *pIkey, size_t nIkey){
  size_t lo = 0, hi = pModel->n;
  while( lo<hi ){
    size_t mid = (lo + hi)/2;
    const ModelEntry *e = &pModel->a[mid];
    if( lsmIkeyCompare(e->pIkey, e->nIkey, pIkey, nIkey)<0 ){
      lo = mid + 1;
    }else{
      hi = mid;
    }
  }
  return lo;
}

/* Assert that the iterator is valid and positioned at model entry i. */
static void assertAt(LsmIter *pIter, const Model *pModel, size_t i){
  const uint8_t *p;
  size_t n;
  assert_true(i<pModel->n);
  assert_true(lsmIterValid(pIter));
  lsmIterKey(pIter, &p, &n);
  assert_int_equal(n, pModel->a[i].nIkey);
  assert_memory_equal(p, pModel->a[i].pIkey, n);
  lsmIterValue(pIter, &p, &n);
  assert_int_equal(n, pModel->a[i].nVal);
  if( n ) assert_memory_equal(p, pModel->a[i].pVal, n);
}

/*
** A random user key from a small alphabet and short lengths, so that
** keys repeat (several versions of one key) and some keys are prefixes
** of others (the shorter-first rule).  Returns the length.
*/
static size_t randomKey(uint64_t *pRnd, uint8_t *aKey){
  static const uint8_t aAlpha[] = { 0x00, 0x01, 'a', 'b', 0x7f, 0xff };
  size_t n = (size_t)(testRand(pRnd) % 5);
  size_t i;
  for(i=0; i<n; i++) aKey[i] = aAlpha[testRand(pRnd) % sizeof(aAlpha)];
  return n;
}

/* Compare every read path of pMem with the sorted model. */
static void checkAgainstModel(LsmMemtable *pMem, const Model *pModel,
                              uint64_t maxSeq, uint64_t *pRnd){
  LsmIter *pIter = 0;
  size_t i;
  int k;

  assert_int_equal(lsmMemtableCount(pMem), pModel->n);
  assert_int_equal(lsmMemtableIterNew(pMem, &pIter), LSM_OK);
  assert_false(lsmIterValid(pIter));

  /* Forward and backward scans. */
  assert_int_equal(lsmIterFirst(pIter), LSM_OK);
  for(i=0; i<pModel->n; i++){
    assertAt(pIter, pModel, i);
    assert_int_equal(lsmIterNext(pIter), LSM_OK);
  }
  assert_false(lsmIterValid(pIter));
  assert_int_equal(lsmIterLast(pIter), LSM_OK);
  for(i=pModel->n; i>0; i--){
    assertAt(pIter, pModel, i-1);
    assert_int_equal(lsmIterPrev(pIter), LSM_OK);
  }
  assert_false(lsmIterValid(pIter));

  /* Seeks at random internal keys, then a few steps either way. */
  for(k=0; k<300; k++){
    uint8_t aIkey[16];
    size_t nKey = randomKey(pRnd, aIkey);
    uint64_t seq = testRand(pRnd) % (maxSeq + 2);
    uint64_t iTrailer = (testRand(pRnd) & 1) ? lsmIkeyLookupTrailer(seq)
                                        : lsmIkeyTrailer(seq, (int)(seq & 1));
    size_t iPos;
    int nStep = (int)(testRand(pRnd) % 4);
    int j;
    lsmPut64(aIkey + nKey, iTrailer);
    iPos = modelLowerBound(pModel, aIkey, nKey + LSM_IKEY_TRAILER);
    assert_int_equal(lsmIterSeek(pIter, aIkey, nKey + LSM_IKEY_TRAILER),
                     LSM_OK);
    if( iPos==pModel->n ){
      assert_false(lsmIterValid(pIter));
      continue;
    }
    assertAt(pIter, pModel, iPos);
    if( testRand(pRnd) & 1 ){
      for(j=0; j<nStep && iPos+1<pModel->n; j++){
        assert_int_equal(lsmIterNext(pIter), LSM_OK);
        assertAt(pIter, pModel, ++iPos);
      }
    }else{
      for(j=0; j<nStep && iPos>0; j++){
        assert_int_equal(lsmIterPrev(pIter), LSM_OK);
        assertAt(pIter, pModel, --iPos);
      }
      if( iPos==0 ){
        assert_int_equal(lsmIterPrev(pIter), LSM_OK);
        assert_false(lsmIterValid(pIter));
      }
    }
  }
  lsmIterClose(pIter);

  /* Point lookups at random snapshots. */
  for(k=0; k<500; k++){
    uint8_t aIkey[16];
    size_t nKey = randomKey(pRnd, aIkey);
    uint64_t seq = testRand(pRnd) % (maxSeq + 2);
    const uint8_t *pVal = 0;
    size_t nVal = 0;
    int bDeleted = -1;
    int rc;
    size_t iPos;
    const ModelEntry *e;
    lsmPut64(aIkey + nKey, lsmIkeyLookupTrailer(seq));
    iPos = modelLowerBound(pModel, aIkey, nKey + LSM_IKEY_TRAILER);
    e = iPos<pModel->n ? &pModel->a[iPos] : 0;
    rc = lsmMemtableGet(pMem, aIkey, nKey, seq, &pVal, &nVal, &bDeleted);
    if( e==0 || lsmUkeyCompare(e->pIkey, lsmIkeyUserLen(e->nIkey),
                               aIkey, nKey)!=0 ){
      assert_int_equal(rc, LSM_NOTFOUND);
      continue;
    }
    assert_int_equal(rc, LSM_OK);
    assert_true(lsmIkeySeq(e->pIkey, e->nIkey)<=seq);
    if( lsmIkeyKind(e->pIkey, e->nIkey)==LSM_KIND_DELETE ){
      assert_int_equal(bDeleted, 1);
    }else{
      assert_int_equal(bDeleted, 0);
      assert_int_equal(nVal, e->nVal);
      if( nVal ) assert_memory_equal(pVal, e->pVal, nVal);
    }
  }
}

static void test_empty(void **state){
  LsmMemtable *pMem = 0;
  LsmIter *pIter = 0;
  const uint8_t *pVal;
  size_t nVal;
  int bDeleted;
  uint8_t aIkey[LSM_IKEY_TRAILER];
  (void)state;

  assert_int_equal(lsmMemtableNew(0, &pMem), LSM_OK);
  assert_int_equal(lsmMemtableCount(pMem), 0);
  assert_true(lsmMemtableBytes(pMem)>0);
  assert_int_equal(lsmMemtableGet(pMem, "a", 1, LSM_MAX_SEQ, &pVal, &nVal,
                                  &bDeleted), LSM_NOTFOUND);
  assert_int_equal(lsmMemtableGet(pMem, "", 0, 0, &pVal, &nVal, &bDeleted),
                   LSM_NOTFOUND);
  assert_int_equal(lsmMemtableIterNew(pMem, &pIter), LSM_OK);
  assert_false(lsmIterValid(pIter));
  assert_int_equal(lsmIterFirst(pIter), LSM_OK);
  assert_false(lsmIterValid(pIter));
  assert_int_equal(lsmIterLast(pIter), LSM_OK);
  assert_false(lsmIterValid(pIter));
  lsmPut64(aIkey, lsmIkeyLookupTrailer(LSM_MAX_SEQ));
  assert_int_equal(lsmIterSeek(pIter, aIkey, sizeof(aIkey)), LSM_OK);
  assert_false(lsmIterValid(pIter));

  /* The iterator's reference keeps the table alive after the owner's. */
  lsmMemtableUnref(pMem);
  assert_int_equal(lsmIterFirst(pIter), LSM_OK);
  assert_false(lsmIterValid(pIter));
  lsmIterClose(pIter);
}

/* The model test on a table made with lsmMemtableNew(nExpect). */
static void randomModel(size_t nExpect){
  LsmMemtable *pMem = 0;
  Model model = {0, 0};
  uint64_t iRnd = 20240611;
  uint64_t seq;
  uint64_t nCheck = 50;

  assert_int_equal(lsmMemtableNew(nExpect, &pMem), LSM_OK);
  for(seq=1; seq<=4000; seq++){
    uint8_t aKey[8];
    uint8_t aVal[64];
    size_t nKey = randomKey(&iRnd, aKey);
    size_t nVal = (size_t)(testRand(&iRnd) % sizeof(aVal));
    int kind = (testRand(&iRnd) % 5)==0 ? LSM_KIND_DELETE : LSM_KIND_VALUE;
    size_t i;
    for(i=0; i<nVal; i++) aVal[i] = (uint8_t)testRand(&iRnd);
    assert_int_equal(lsmMemtableAdd(pMem, seq, kind, aKey, nKey, aVal, nVal),
                     LSM_OK);
    modelAdd(&model, seq, kind, aKey, nKey, aVal, nVal);
    if( seq==nCheck ){
      modelSort(&model);
      checkAgainstModel(pMem, &model, seq, &iRnd);
      nCheck *= 4;
    }
  }
  modelSort(&model);
  checkAgainstModel(pMem, &model, seq, &iRnd);
  assert_true(lsmMemtableBytes(pMem)>4000*LSM_IKEY_TRAILER);
  lsmMemtableUnref(pMem);
  modelFree(&model);
}

static void test_random_model(void **state){
  (void)state;
  randomModel(0);                   /* no filter */
  randomModel(4096);                /* one line: nearly every bit set */
  randomModel(1<<20);               /* a 16 KiB filter */
}

/*
** Keys written in order, as a sequential load does: most inserts go
** right after the previous one (the splice path); each key's second and
** third versions sort before the first and need a search; then a
** descending run.  The model check covers every level of the list.
*/
static void test_sorted_inserts(void **state){
  LsmMemtable *pMem = 0;
  Model model = {0, 0};
  uint64_t iRnd = 99;
  uint64_t seq = 0;
  int i;
  (void)state;

  assert_int_equal(lsmMemtableNew(1<<20, &pMem), LSM_OK);
  for(i=0; i<3000; i++){
    uint8_t aKey[8];
    int kind = (i%7)==3 ? LSM_KIND_DELETE : LSM_KIND_VALUE;
    lsmPut64(aKey, __builtin_bswap64((uint64_t)(1000000 + i/3)));
    seq++;
    assert_int_equal(lsmMemtableAdd(pMem, seq, kind, aKey, 8, aKey, 8),
                     LSM_OK);
    modelAdd(&model, seq, kind, aKey, 8, aKey, 8);
  }
  for(i=999; i>=0; i--){
    uint8_t aKey[8];
    lsmPut64(aKey, __builtin_bswap64((uint64_t)i));
    seq++;
    assert_int_equal(lsmMemtableAdd(pMem, seq, LSM_KIND_VALUE, aKey, 8,
                                    aKey, 4), LSM_OK);
    modelAdd(&model, seq, LSM_KIND_VALUE, aKey, 8, aKey, 4);
  }
  modelSort(&model);
  checkAgainstModel(pMem, &model, seq, &iRnd);
  lsmMemtableUnref(pMem);
  modelFree(&model);
}

/*
** A batch applied with lsmBatchInsert (which inserts in key order) gives
** the table the same entries as applying its operations one by one:
** short random keys with many repeats and keys that are prefixes of
** others, then long keys whose first 8 bytes are equal (long runs of
** equal sort prefixes).
*/
static void test_batch_insert(void **state){
  LsmMemtable *pMem = 0;
  Model model = {0, 0};
  uint64_t iRnd = 4242;
  uint64_t seq = 1;
  int iPass;
  (void)state;

  assert_int_equal(lsmMemtableNew(1<<20, &pMem), LSM_OK);
  for(iPass=0; iPass<2; iPass++){
    lsm_batch *pBatch = 0;
    const uint8_t *aData;
    size_t nData;
    int i, nOp = iPass==0 ? 3000 : 300;
    assert_int_equal(lsm_batch_new(&pBatch), LSM_OK);
    for(i=0; i<nOp; i++){
      uint8_t aKey[16];
      size_t nKey;
      int bDel = (testRand(&iRnd) % 4)==0;
      if( iPass==0 ){
        nKey = randomKey(&iRnd, aKey);
      }else{
        memcpy(aKey, (testRand(&iRnd) & 1) ? "A-fixed-" : "B-fixed-", 8);
        aKey[8] = (uint8_t)('a' + testRand(&iRnd) % 8);
        nKey = 9;
      }
      if( bDel ){
        assert_int_equal(lsm_batch_delete(pBatch, aKey, nKey), LSM_OK);
        modelAdd(&model, seq + (uint64_t)i, LSM_KIND_DELETE, aKey, nKey, 0, 0);
      }else{
        assert_int_equal(lsm_batch_put(pBatch, aKey, nKey, &i, sizeof(i)),
                         LSM_OK);
        modelAdd(&model, seq + (uint64_t)i, LSM_KIND_VALUE, aKey, nKey,
                 (const uint8_t*)&i, sizeof(i));
      }
    }
    lsmBatchSetSeq(pBatch, seq);
    aData = lsmBatchData(pBatch, &nData);
    assert_int_equal(lsmBatchInsert(aData, nData, pMem), LSM_OK);
    seq += (uint64_t)nOp;
    lsm_batch_free(pBatch);
  }
  modelSort(&model);
  checkAgainstModel(pMem, &model, seq, &iRnd);
  lsmMemtableUnref(pMem);
  modelFree(&model);
}

/*
** The filter never rejects a key the table holds, rejects most others,
** and is counted in the table's bytes.
*/
static void test_filter(void **state){
  enum { NKEY = 20000, NPROBE = 20000 };
  LsmMemtable *pMem = 0, *pBare = 0;
  uint64_t iRnd = 77;
  int i, nPass = 0;
  (void)state;

  assert_int_equal(lsmMemtableNew(4<<20, &pMem), LSM_OK);
  assert_int_equal(lsmMemtableNew(0, &pBare), LSM_OK);
  assert_int_equal(lsmMemtableBytes(pMem) - lsmMemtableBytes(pBare),
                   (4<<20)/64);
  for(i=0; i<NKEY; i++){
    char zKey[32];
    snprintf(zKey, sizeof(zKey), "key%08d", i*2);
    assert_int_equal(lsmMemtableAdd(pMem, (uint64_t)i+1, LSM_KIND_VALUE,
                                    zKey, strlen(zKey), "v", 1), LSM_OK);
  }
  for(i=0; i<NKEY; i++){
    char zKey[32];
    snprintf(zKey, sizeof(zKey), "key%08d", i*2);
    assert_true(lsmMemtableMayContain(pMem, zKey, strlen(zKey)));
  }
  for(i=0; i<NPROBE; i++){
    char zKey[32];
    snprintf(zKey, sizeof(zKey), "key%08d",
             (int)(testRand(&iRnd) % NKEY)*2 + 1);
    nPass += lsmMemtableMayContain(pMem, zKey, strlen(zKey));
    assert_true(lsmMemtableMayContain(pBare, zKey, strlen(zKey)));
  }
  /* 64 KiB of filter for 20,000 keys: about 26 bits a key, 4 probes. */
  assert_true(nPass < NPROBE/100);
  lsmMemtableUnref(pMem);
  lsmMemtableUnref(pBare);
}

/* A shadowed version stays readable at an older snapshot. */
static void test_versions(void **state){
  LsmMemtable *pMem = 0;
  const uint8_t *pVal;
  size_t nVal;
  int bDeleted;
  (void)state;

  assert_int_equal(lsmMemtableNew(0, &pMem), LSM_OK);
  assert_int_equal(lsmMemtableAdd(pMem, 10, LSM_KIND_VALUE, "k", 1,
                                  "v10", 3), LSM_OK);
  assert_int_equal(lsmMemtableAdd(pMem, 20, LSM_KIND_DELETE, "k", 1, 0, 0),
                   LSM_OK);
  assert_int_equal(lsmMemtableAdd(pMem, 30, LSM_KIND_VALUE, "k", 1,
                                  "v30", 3), LSM_OK);
  assert_int_equal(lsmMemtableAdd(pMem, 15, LSM_KIND_VALUE, "kk", 2,
                                  "", 0), LSM_OK);

  assert_int_equal(lsmMemtableGet(pMem, "k", 1, 9, &pVal, &nVal, &bDeleted),
                   LSM_NOTFOUND);
  assert_int_equal(lsmMemtableGet(pMem, "k", 1, 10, &pVal, &nVal, &bDeleted),
                   LSM_OK);
  assert_int_equal(bDeleted, 0);
  assert_int_equal(nVal, 3);
  assert_memory_equal(pVal, "v10", 3);
  assert_int_equal(lsmMemtableGet(pMem, "k", 1, 29, &pVal, &nVal, &bDeleted),
                   LSM_OK);
  assert_int_equal(bDeleted, 1);
  assert_int_equal(lsmMemtableGet(pMem, "k", 1, LSM_MAX_SEQ, &pVal, &nVal,
                                  &bDeleted), LSM_OK);
  assert_int_equal(bDeleted, 0);
  assert_memory_equal(pVal, "v30", 3);
  /* An empty value is a value, not a tombstone. */
  assert_int_equal(lsmMemtableGet(pMem, "kk", 2, 15, &pVal, &nVal,
                                  &bDeleted), LSM_OK);
  assert_int_equal(bDeleted, 0);
  assert_int_equal(nVal, 0);
  assert_int_equal(lsmMemtableGet(pMem, "", 0, LSM_MAX_SEQ, &pVal, &nVal,
                                  &bDeleted), LSM_NOTFOUND);
  assert_int_equal(lsmMemtableGet(pMem, "kkk", 3, LSM_MAX_SEQ, &pVal, &nVal,
                                  &bDeleted), LSM_NOTFOUND);
  assert_int_equal(lsmMemtableCount(pMem), 4);
  lsmMemtableUnref(pMem);
}

static void test_large_values(void **state){
  enum { NBIG = 1024*1024, NENTRY = 6 };
  LsmMemtable *pMem = 0;
  LsmIter *pIter = 0;
  uint8_t *aBig = malloc(NBIG);
  uint64_t iRnd = 77;
  size_t nBytes;
  int i;
  (void)state;

  assert_non_null(aBig);
  for(i=0; i<NBIG; i++) aBig[i] = (uint8_t)testRand(&iRnd);
  assert_int_equal(lsmMemtableNew(0, &pMem), LSM_OK);
  nBytes = lsmMemtableBytes(pMem);
  /* Big values (each in a block of its own) interleaved with small ones. */
  for(i=0; i<NENTRY; i++){
    char zKey[32];
    snprintf(zKey, sizeof(zKey), "big%d", i);
    assert_int_equal(lsmMemtableAdd(pMem, (uint64_t)(2*i+1), LSM_KIND_VALUE,
                                    zKey, strlen(zKey), aBig + i, NBIG - i),
                     LSM_OK);
    snprintf(zKey, sizeof(zKey), "small%d", i);
    assert_int_equal(lsmMemtableAdd(pMem, (uint64_t)(2*i+2), LSM_KIND_VALUE,
                                    zKey, strlen(zKey), "x", 1), LSM_OK);
  }
  assert_true(lsmMemtableBytes(pMem) - nBytes >= (size_t)NENTRY*(NBIG-NENTRY));
  for(i=0; i<NENTRY; i++){
    char zKey[32];
    const uint8_t *pVal;
    size_t nVal;
    int bDeleted;
    snprintf(zKey, sizeof(zKey), "big%d", i);
    assert_int_equal(lsmMemtableGet(pMem, zKey, strlen(zKey), LSM_MAX_SEQ,
                                    &pVal, &nVal, &bDeleted), LSM_OK);
    assert_int_equal(nVal, NBIG - i);
    assert_memory_equal(pVal, aBig + i, nVal);
    snprintf(zKey, sizeof(zKey), "small%d", i);
    assert_int_equal(lsmMemtableGet(pMem, zKey, strlen(zKey), LSM_MAX_SEQ,
                                    &pVal, &nVal, &bDeleted), LSM_OK);
    assert_int_equal(nVal, 1);
  }
  /* Keys sort "big0".."big5" then "small0".."small5". */
  assert_int_equal(lsmMemtableIterNew(pMem, &pIter), LSM_OK);
  assert_int_equal(lsmIterFirst(pIter), LSM_OK);
  for(i=0; i<2*NENTRY; i++){
    const uint8_t *p;
    size_t n;
    assert_true(lsmIterValid(pIter));
    lsmIterValue(pIter, &p, &n);
    assert_int_equal(n, i<NENTRY ? (size_t)(NBIG - i) : 1);
    assert_int_equal(lsmIterNext(pIter), LSM_OK);
  }
  assert_false(lsmIterValid(pIter));
  lsmIterClose(pIter);
  lsmMemtableUnref(pMem);
  free(aBig);
}

/*
** Concurrency: one writer inserts NCONC entries while a reader scans the
** table over and over, checking that every scan is strictly ascending,
** never shorter than what the writer had published before it started,
** and that every published key can be found with lsmMemtableGet.
*/
#define NCONC 100000

typedef struct ConcCtx {
  LsmMemtable *pMem;
  atomic_int nDone;           /* entries the writer has added */
  atomic_int bWriterDone;     /* the writer has returned */
  int nScan;                  /* scans the reader completed */
  int bFail;                  /* set by the reader on a failed check */
} ConcCtx;

/* The key of entry i: a scrambled, unique 8-byte string. */
static void concKey(int i, uint8_t *aKey){
  uint64_t s = (uint64_t)i;
  lsmPut64(aKey, testRand(&s));
}

static void *concWriter(void *pArg){
  ConcCtx *p = pArg;
  int i;
  for(i=0; i<NCONC; i++){
    uint8_t aKey[8];
    uint8_t aVal[4];
    concKey(i, aKey);
    lsmPut32(aVal, (uint32_t)i);
    if( lsmMemtableAdd(p->pMem, (uint64_t)i + 1, LSM_KIND_VALUE,
                       aKey, 8, aVal, 4)!=LSM_OK ){
      break;
    }
    atomic_store_explicit(&p->nDone, i + 1, memory_order_release);
  }
  atomic_store_explicit(&p->bWriterDone, 1, memory_order_release);
  return 0;
}

static void *concReader(void *pArg){
  ConcCtx *p = pArg;
  LsmIter *pIter = 0;
  uint64_t iRnd = 5;
  int bLast = 0;
  if( lsmMemtableIterNew(p->pMem, &pIter)!=LSM_OK ){
    p->bFail = 1;
    return 0;
  }
  while( !bLast && !p->bFail ){
    int nBefore;
    uint8_t aPrev[16];
    size_t nPrev = 0;
    int nSeen = 0;
    int k;
    /* After the writer is done, one last full scan. */
    bLast = atomic_load_explicit(&p->bWriterDone, memory_order_acquire);
    nBefore = atomic_load_explicit(&p->nDone, memory_order_acquire);
    lsmIterFirst(pIter);
    while( lsmIterValid(pIter) ){
      const uint8_t *pKey;
      size_t nKey;
      lsmIterKey(pIter, &pKey, &nKey);
      if( nKey!=8+LSM_IKEY_TRAILER
       || (nPrev && lsmIkeyCompare(aPrev, nPrev, pKey, nKey)>=0) ){
        p->bFail = 1;
        break;
      }
      memcpy(aPrev, pKey, nKey);
      nPrev = nKey;
      nSeen++;
      lsmIterNext(pIter);
    }
    if( nSeen<nBefore ) p->bFail = 1;
    /* A short backward walk from the end exercises xPrev concurrently. */
    lsmIterLast(pIter);
    for(k=0; k<50 && lsmIterValid(pIter); k++) lsmIterPrev(pIter);
    for(k=0; k<200 && nBefore>0; k++){
      int i = (int)(testRand(&iRnd) % (uint64_t)nBefore);
      uint8_t aKey[8];
      const uint8_t *pVal;
      size_t nVal;
      int bDeleted;
      concKey(i, aKey);
      if( lsmMemtableGet(p->pMem, aKey, 8, LSM_MAX_SEQ, &pVal, &nVal,
                         &bDeleted)!=LSM_OK
       || bDeleted || nVal!=4 || lsmGet32(pVal)!=(uint32_t)i ){
        p->bFail = 1;
      }
    }
    p->nScan++;
  }
  lsmIterClose(pIter);
  return 0;
}

static void test_concurrent(void **state){
  ConcCtx ctx;
  pthread_t writer, reader;
  (void)state;

  memset(&ctx, 0, sizeof(ctx));
  atomic_init(&ctx.nDone, 0);
  atomic_init(&ctx.bWriterDone, 0);
  assert_int_equal(lsmMemtableNew(1<<20, &ctx.pMem), LSM_OK);
  assert_int_equal(pthread_create(&reader, 0, concReader, &ctx), 0);
  assert_int_equal(pthread_create(&writer, 0, concWriter, &ctx), 0);
  pthread_join(writer, 0);
  pthread_join(reader, 0);
  assert_int_equal(atomic_load(&ctx.nDone), NCONC);
  assert_false(ctx.bFail);
  assert_true(ctx.nScan>=1);
  assert_int_equal(lsmMemtableCount(ctx.pMem), NCONC);
  lsmMemtableUnref(ctx.pMem);
}

/*
** Allocation failure.  The hook fails exactly the nth allocation counted
** from when it is armed; later ones succeed again.
*/
static int nAllocLeft;          /* allocations until the failure; 0: off */
static int nAllocFailed;

static void *failMalloc(size_t n){
  if( nAllocLeft>0 && --nAllocLeft==0 ){
    nAllocFailed++;
    return 0;
  }
  return malloc(n);
}

static const lsm_allocator failAllocator = { failMalloc, realloc, free };

static void test_nomem(void **state){
  enum { NVAL = 300*1024 };     /* above the block size: own allocation */
  uint8_t *aVal = calloc(1, NVAL);
  int iFail;
  (void)state;

  assert_non_null(aVal);
  lsm_set_allocator(&failAllocator);
  for(iFail=1; iFail<=20; iFail++){
    LsmMemtable *pMem = 0;
    LsmIter *pIter = 0;
    Model model = {0, 0};
    uint64_t iRnd = (uint64_t)iFail;
    uint64_t seq;
    int nNomem = 0;
    int rc;

    nAllocFailed = 0;
    nAllocLeft = iFail;
    rc = lsmMemtableNew(0, &pMem);
    if( rc==LSM_NOMEM ){
      assert_null(pMem);
      assert_int_equal(nAllocFailed, 1);
      assert_int_equal(lsmMemtableNew(0, &pMem), LSM_OK);
      nNomem++;
    }
    assert_int_equal(rc==LSM_OK || rc==LSM_NOMEM, 1);

    /* Mixed sizes so that inserts need new blocks every few steps. */
    for(seq=1; seq<=30; seq++){
      uint8_t aKey[8];
      size_t nKey = randomKey(&iRnd, aKey);
      size_t nVal = (seq % 3)==0 ? NVAL : (size_t)(testRand(&iRnd) % 30000);
      rc = lsmMemtableAdd(pMem, seq, LSM_KIND_VALUE, aKey, nKey, aVal, nVal);
      if( rc==LSM_NOMEM ){
        nNomem++;
        assert_string_equal(lsmErrMsg(), "out of memory");
      }else{
        assert_int_equal(rc, LSM_OK);
        modelAdd(&model, seq, LSM_KIND_VALUE, aKey, nKey, aVal, nVal);
      }
    }
    /* The hook failed one allocation, and that failure was reported.
    ** The sequence makes more than 10 allocations, so every armed
    ** failure up to there must have struck. */
    nAllocLeft = 0;
    assert_int_equal(nNomem, nAllocFailed);
    if( iFail<=10 ) assert_int_equal(nAllocFailed, 1);
    rc = lsmMemtableIterNew(pMem, &pIter);
    assert_int_equal(rc, LSM_OK);
    lsmIterClose(pIter);

    modelSort(&model);
    checkAgainstModel(pMem, &model, 31, &iRnd);
    lsmMemtableUnref(pMem);
    modelFree(&model);
  }
  nAllocLeft = 0;
  lsm_set_allocator(0);
  free(aVal);
}

/* An iterator that cannot be allocated reports NOMEM and holds no ref. */
static void test_nomem_iter(void **state){
  LsmMemtable *pMem = 0;
  LsmIter *pIter = (LsmIter*)&pIter;
  (void)state;
  assert_int_equal(lsmMemtableNew(0, &pMem), LSM_OK);
  lsm_set_allocator(&failAllocator);
  nAllocLeft = 1;
  assert_int_equal(lsmMemtableIterNew(pMem, &pIter), LSM_NOMEM);
  assert_null(pIter);
  nAllocLeft = 0;
  lsm_set_allocator(0);
  lsmMemtableUnref(pMem);       /* ASan reports a leak if a ref remained */
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_empty),
    cmocka_unit_test(test_versions),
    cmocka_unit_test(test_random_model),
    cmocka_unit_test(test_filter),
    cmocka_unit_test(test_sorted_inserts),
    cmocka_unit_test(test_batch_insert),
    cmocka_unit_test(test_large_values),
    cmocka_unit_test(test_concurrent),
    cmocka_unit_test(test_nomem),
    cmocka_unit_test(test_nomem_iter),
  };
  return cmocka_run_group_tests(tests, 0, 0);
}
