/*
** test_merge.c -- the merging iterator (merge.c).
**
** Each randomised test builds children (vector iterators) from random
** entries, keeps the union of all entries as one sorted array, and walks
** the merge iterator and the array side by side: first, last, seeks,
** next and prev in random order, so that direction changes happen at
** every kind of position.  User keys come from a small space (strings of
** 0..3 letters over "abc") so that the same user key appears in several
** children with different sequence numbers.  Everything is seeded.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lsm.h"
#include "util.h"
#include "ikey.h"
#include "iter.h"
#include "support/vectoriter.h"

/* ---- seeded randomness ------------------------------------------------ */

static uint64_t rngState;
static void rngSeed(uint64_t seed){
  rngState = seed*0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
}
static uint32_t rnd(uint32_t n){
  rngState ^= rngState>>12;
  rngState ^= rngState<<25;
  rngState ^= rngState>>27;
  return (uint32_t)((rngState*0x2545F4914F6CDD1Dull)>>32) % n;
}

/* ---- the model: every entry of every child, sorted -------------------- */

typedef struct Ent {
  uint8_t aIkey[4 + LSM_IKEY_TRAILER];
  size_t nIkey;
  uint8_t aVal[8];
  size_t nVal;
} Ent;

typedef struct Model {
  Ent *aEnt;
  int nEnt;
} Model;

static int entCompare(const void *a, const void *b){
  const Ent *pA = a, *pB = b;
  return lsmIkeyCompare(pA->aIkey, pA->nIkey, pB->aIkey, pB->nIkey);
}

/* A random user key of 0..3 letters over "abc" into p; returns length. */
static size_t rndUkey(uint8_t *p){
  size_t n = rnd(4), i;
  for(i=0; i<n; i++) p[i] = (uint8_t)('a' + rnd(3));
  return n;
}

/*
** Fill apChild[0..nChild-1] with new vector iterators holding nEntry
** random entries between them (sequence numbers unique, some children
** possibly empty) and *pModel with their union in order.
*/
static void buildRandom(LsmIter **apChild, int nChild, int nEntry,
                        Model *pModel){
  uint64_t seq = 0;
  int i;
  for(i=0; i<nChild; i++){
    apChild[i] = vecIterNew();
    assert_non_null(apChild[i]);
  }
  pModel->aEnt = calloc((size_t)nEntry + 1, sizeof(Ent));
  assert_non_null(pModel->aEnt);
  pModel->nEnt = nEntry;
  for(i=0; i<nEntry; i++){
    Ent *pE = &pModel->aEnt[i];
    size_t nKey = rndUkey(pE->aIkey), j;
    seq += 1 + rnd(3);
    lsmPut64(pE->aIkey + nKey, lsmIkeyTrailer(seq, (int)rnd(2)));
    pE->nIkey = nKey + LSM_IKEY_TRAILER;
    pE->nVal = rnd(sizeof(pE->aVal) + 1);
    for(j=0; j<pE->nVal; j++) pE->aVal[j] = (uint8_t)rnd(256);
    assert_int_equal(LSM_OK, vecIterAddIkey(apChild[rnd((uint32_t)nChild)],
                     pE->aIkey, pE->nIkey, pE->aVal, pE->nVal));
  }
  qsort(pModel->aEnt, (size_t)nEntry, sizeof(Ent), entCompare);
}

/* Index of the first model entry >= the key (nEnt if none). */
static int modelLowerBound(const Model *pModel, const uint8_t *p, size_t n){
  int i;
  for(i=0; i<pModel->nEnt; i++){
    const Ent *pE = &pModel->aEnt[i];
    if( lsmIkeyCompare(pE->aIkey, pE->nIkey, p, n)>=0 ) break;
  }
  return i;
}

/* Assert that pIter is on model entry iPos (not valid if out of range). */
static void checkAt(LsmIter *pIter, const Model *pModel, int iPos){
  if( iPos<0 || iPos>=pModel->nEnt ){
    assert_false(lsmIterValid(pIter));
  }else{
    const Ent *pE = &pModel->aEnt[iPos];
    const uint8_t *p;
    size_t n;
    assert_true(lsmIterValid(pIter));
    lsmIterKey(pIter, &p, &n);
    assert_int_equal(pE->nIkey, n);
    assert_memory_equal(pE->aIkey, p, n);
    lsmIterValue(pIter, &p, &n);
    assert_int_equal(pE->nVal, n);
    if( n ) assert_memory_equal(pE->aVal, p, n);
  }
}

/*
** Group the children into merges of merges at random, so that merge
** iterators are also exercised as children.  Returns the top iterator.
*/
static LsmIter *mergeTree(LsmIter **apChild, int nChild){
  LsmIter *pOut = 0;
  if( nChild>2 && rnd(3)==0 ){
    int nLeft = 1 + (int)rnd((uint32_t)nChild-1);
    LsmIter *apTwo[2];
    apTwo[0] = mergeTree(apChild, nLeft);
    apTwo[1] = mergeTree(&apChild[nLeft], nChild-nLeft);
    assert_int_equal(LSM_OK, lsmMergeIterNew(apTwo, 2, &pOut));
  }else{
    assert_int_equal(LSM_OK, lsmMergeIterNew(apChild, nChild, &pOut));
  }
  return pOut;
}

/*
** nOp random moves on pIter checked against the model.  Returns the
** position reached (-1 or nEnt when off either end).
*/
static int randomWalk(LsmIter *pIter, const Model *pModel, int nOp){
  int iPos = -1;
  int i;
  for(i=0; i<nOp; i++){
    int bValid = iPos>=0 && iPos<pModel->nEnt;
    int eOp = (int)rnd(10);
    int rc;
    if( eOp==0 ){
      rc = lsmIterFirst(pIter);
      iPos = 0;
    }else if( eOp==1 ){
      rc = lsmIterLast(pIter);
      iPos = pModel->nEnt - 1;
    }else if( eOp==2 ){
      /* Seek to a random key: an existing one, or any user key with any
      ** trailer, or the iterator's own current key. */
      uint8_t aKey[4 + LSM_IKEY_TRAILER];
      size_t nKey;
      if( bValid && rnd(4)==0 ){
        const uint8_t *p;
        lsmIterKey(pIter, &p, &nKey);
        rc = lsmIterSeek(pIter, p, nKey);
      }else{
        if( pModel->nEnt>0 && rnd(2) ){
          const Ent *pE = &pModel->aEnt[rnd((uint32_t)pModel->nEnt)];
          memcpy(aKey, pE->aIkey, pE->nIkey);
          nKey = pE->nIkey;
        }else{
          nKey = rndUkey(aKey);
          lsmPut64(aKey + nKey,
                   lsmIkeyTrailer(rnd(3*(uint32_t)pModel->nEnt + 4),
                                  (int)rnd(2)));
          nKey += LSM_IKEY_TRAILER;
        }
        iPos = modelLowerBound(pModel, aKey, nKey);
        rc = lsmIterSeek(pIter, aKey, nKey);
      }
    }else if( !bValid ){
      rc = (eOp<6) ? lsmIterNext(pIter) : lsmIterPrev(pIter);
      assert_int_equal(LSM_INVALID, rc);
      rc = LSM_OK;
    }else if( eOp<6 ){
      rc = lsmIterNext(pIter);
      iPos++;
    }else{
      rc = lsmIterPrev(pIter);
      iPos--;
    }
    assert_int_equal(LSM_OK, rc);
    checkAt(pIter, pModel, iPos);
  }
  return iPos;
}

/* ---- tests ------------------------------------------------------------ */

static void test_merge_no_children(void **state){
  LsmIter *pMerge = 0;
  uint8_t aKey[LSM_IKEY_TRAILER] = {0};
  (void)state;
  assert_int_equal(LSM_OK, lsmMergeIterNew(0, 0, &pMerge));
  assert_false(lsmIterValid(pMerge));
  assert_int_equal(LSM_OK, lsmIterFirst(pMerge));
  assert_false(lsmIterValid(pMerge));
  assert_int_equal(LSM_OK, lsmIterLast(pMerge));
  assert_false(lsmIterValid(pMerge));
  assert_int_equal(LSM_OK, lsmIterSeek(pMerge, aKey, sizeof(aKey)));
  assert_false(lsmIterValid(pMerge));
  assert_int_equal(LSM_INVALID, lsmIterNext(pMerge));
  assert_int_equal(LSM_INVALID, lsmIterPrev(pMerge));
  lsmIterClose(pMerge);
}

static void test_merge_empty_children(void **state){
  LsmIter *apChild[4];
  LsmIter *pMerge = 0;
  int i;
  (void)state;
  for(i=0; i<4; i++) apChild[i] = vecIterNew();
  assert_int_equal(LSM_OK, lsmMergeIterNew(apChild, 4, &pMerge));
  assert_int_equal(LSM_OK, lsmIterFirst(pMerge));
  assert_false(lsmIterValid(pMerge));
  assert_int_equal(LSM_OK, lsmIterLast(pMerge));
  assert_false(lsmIterValid(pMerge));
  assert_int_equal(LSM_INVALID, lsmIterNext(pMerge));
  lsmIterClose(pMerge);
  assert_int_equal(0, vecIterLiveCount());
}

/* A hand-made case: one user key spread over three children. */
static void test_merge_versions_across_children(void **state){
  LsmIter *apChild[3];
  LsmIter *pMerge = 0;
  static const uint64_t aSeq[] = { 9, 7, 5, 3, 2, 1 };  /* newest first */
  const uint8_t *p;
  size_t n;
  int i;
  (void)state;
  for(i=0; i<3; i++) apChild[i] = vecIterNew();
  for(i=0; i<6; i++){
    assert_int_equal(LSM_OK, vecIterAdd(apChild[i%3], "k", 1, aSeq[i],
                                        LSM_KIND_VALUE, "v", 1));
  }
  assert_int_equal(LSM_OK, lsmMergeIterNew(apChild, 3, &pMerge));
  assert_int_equal(LSM_OK, lsmIterFirst(pMerge));
  for(i=0; i<6; i++){
    assert_true(lsmIterValid(pMerge));
    lsmIterKey(pMerge, &p, &n);
    assert_int_equal(aSeq[i], lsmIkeySeq(p, n));
    assert_int_equal(LSM_OK, lsmIterNext(pMerge));
  }
  assert_false(lsmIterValid(pMerge));
  assert_int_equal(LSM_OK, lsmIterLast(pMerge));
  for(i=5; i>=0; i--){
    assert_true(lsmIterValid(pMerge));
    lsmIterKey(pMerge, &p, &n);
    assert_int_equal(aSeq[i], lsmIkeySeq(p, n));
    assert_int_equal(LSM_OK, lsmIterPrev(pMerge));
  }
  assert_false(lsmIterValid(pMerge));
  lsmIterClose(pMerge);
}

static void test_merge_random(void **state){
  int iTrial;
  (void)state;
  for(iTrial=0; iTrial<2000; iTrial++){
    LsmIter *apChild[8];
    LsmIter *pMerge;
    Model model;
    int nChild;
    rngSeed(1000 + (uint64_t)iTrial);
    nChild = 1 + (int)rnd(8);
    buildRandom(apChild, nChild, (int)rnd(60), &model);
    pMerge = mergeTree(apChild, nChild);
    randomWalk(pMerge, &model, 200);
    lsmIterClose(pMerge);
    free(model.aEnt);
    assert_int_equal(0, vecIterLiveCount());
  }
}

/* A complete scan in each direction, both ways round. */
static void test_merge_full_scans(void **state){
  int iTrial;
  (void)state;
  for(iTrial=0; iTrial<50; iTrial++){
    LsmIter *apChild[6];
    LsmIter *pMerge;
    Model model;
    int nChild, i;
    rngSeed(5000 + (uint64_t)iTrial);
    nChild = 1 + (int)rnd(6);
    buildRandom(apChild, nChild, (int)rnd(200), &model);
    assert_int_equal(LSM_OK, lsmMergeIterNew(apChild, nChild, &pMerge));
    assert_int_equal(LSM_OK, lsmIterFirst(pMerge));
    for(i=0; i<model.nEnt; i++){
      checkAt(pMerge, &model, i);
      assert_int_equal(LSM_OK, lsmIterNext(pMerge));
    }
    assert_false(lsmIterValid(pMerge));
    assert_int_equal(LSM_OK, lsmIterLast(pMerge));
    for(i=model.nEnt-1; i>=0; i--){
      checkAt(pMerge, &model, i);
      assert_int_equal(LSM_OK, lsmIterPrev(pMerge));
    }
    assert_false(lsmIterValid(pMerge));
    lsmIterClose(pMerge);
    free(model.aEnt);
  }
}

/*
** A step in an unchanged direction moves exactly one child; a change of
** direction repositions the others once and then moves one child.
*/
static void test_merge_step_cost(void **state){
  LsmIter *apChild[5];
  LsmIter *pMerge;
  Model model;
  int i, nPrev, nNow;
  (void)state;
  rngSeed(77);
  buildRandom(apChild, 5, 300, &model);
  assert_int_equal(LSM_OK, lsmMergeIterNew(apChild, 5, &pMerge));
#define TOTAL_MOVES() (vecIterMoves(apChild[0]) + vecIterMoves(apChild[1]) \
  + vecIterMoves(apChild[2]) + vecIterMoves(apChild[3])                    \
  + vecIterMoves(apChild[4]))
  assert_int_equal(LSM_OK, lsmIterFirst(pMerge));
  assert_int_equal(5, TOTAL_MOVES());
  for(i=0; i<100; i++){
    nPrev = TOTAL_MOVES();
    assert_int_equal(LSM_OK, lsmIterNext(pMerge));
    assert_int_equal(nPrev+1, TOTAL_MOVES());
  }
  nPrev = TOTAL_MOVES();
  assert_int_equal(LSM_OK, lsmIterPrev(pMerge));
  nNow = TOTAL_MOVES();
  assert_true(nNow-nPrev>=5 && nNow-nPrev<=9);  /* 4 seeks, <=4 steps, 1 */
  checkAt(pMerge, &model, 99);
  for(i=0; i<50; i++){
    nPrev = TOTAL_MOVES();
    assert_int_equal(LSM_OK, lsmIterPrev(pMerge));
    assert_int_equal(nPrev+1, TOTAL_MOVES());
  }
  checkAt(pMerge, &model, 49);
  nPrev = TOTAL_MOVES();
  assert_int_equal(LSM_OK, lsmIterNext(pMerge));
  assert_int_equal(nPrev+5, TOTAL_MOVES());     /* 4 seeks, 1 step */
  checkAt(pMerge, &model, 50);
#undef TOTAL_MOVES
  lsmIterClose(pMerge);
  free(model.aEnt);
}

/*
** An error from any child, at any move (including the repositioning of a
** direction change), makes the merge invalid and is returned; a later
** first() recovers.
*/
static void test_merge_child_error(void **state){
  int iTrial;
  int nSeen = 0;
  (void)state;
  for(iTrial=0; iTrial<300; iTrial++){
    LsmIter *apChild[6];
    LsmIter *pMerge;
    Model model;
    int nChild, i, iPos = -1;
    rngSeed(9000 + (uint64_t)iTrial);
    nChild = 1 + (int)rnd(6);
    buildRandom(apChild, nChild, 1 + (int)rnd(60), &model);
    vecIterFailAt(apChild[rnd((uint32_t)nChild)], 1 + (int)rnd(60),
                  LSM_IOERR);
    assert_int_equal(LSM_OK, lsmMergeIterNew(apChild, nChild, &pMerge));
    for(i=0; i<100; i++){
      int eOp = (int)rnd(6);
      int rc;
      int bValid = iPos>=0 && iPos<model.nEnt;
      if( eOp==0 || !bValid ){
        rc = lsmIterFirst(pMerge);
        iPos = 0;
      }else if( eOp==1 ){
        rc = lsmIterLast(pMerge);
        iPos = model.nEnt-1;
      }else if( eOp<4 ){
        rc = lsmIterNext(pMerge);
        iPos++;
      }else{
        rc = lsmIterPrev(pMerge);
        iPos--;
      }
      if( rc!=LSM_OK ){
        assert_int_equal(LSM_IOERR, rc);
        assert_false(lsmIterValid(pMerge));
        assert_non_null(strstr(lsmErrMsg(), "injected"));
        assert_int_equal(LSM_INVALID, lsmIterNext(pMerge));
        assert_int_equal(LSM_INVALID, lsmIterPrev(pMerge));
        nSeen++;
        iPos = -1;
      }else{
        checkAt(pMerge, &model, iPos);
      }
    }
    lsmIterClose(pMerge);
    free(model.aEnt);
    assert_int_equal(0, vecIterLiveCount());
  }
  assert_true(nSeen>100);      /* the injected errors were actually hit */
}

/* ---- allocation failures ---------------------------------------------- */

static int nAllocLeft = -1;    /* allocations that may succeed; -1: all */
static void *failMalloc(size_t n){
  if( nAllocLeft==0 ) return 0;
  if( nAllocLeft>0 ) nAllocLeft--;
  return malloc(n);
}
static void *failRealloc(void *p, size_t n){
  if( nAllocLeft==0 ) return 0;
  if( nAllocLeft>0 ) nAllocLeft--;
  return realloc(p, n);
}
static const lsm_allocator failAlloc = { failMalloc, failRealloc, free };

static void test_merge_nomem(void **state){
  LsmIter *apChild[3];
  LsmIter *pMerge = (LsmIter*)&pMerge;
  Model model;
  (void)state;
  rngSeed(31);
  buildRandom(apChild, 3, 20, &model);
  lsm_set_allocator(&failAlloc);

  /* Creation fails: the children are closed all the same. */
  nAllocLeft = 0;
  assert_int_equal(LSM_NOMEM, lsmMergeIterNew(apChild, 3, &pMerge));
  assert_null(pMerge);
  assert_int_equal(0, vecIterLiveCount());

  /* A seek that cannot copy its key fails cleanly and can be retried. */
  free(model.aEnt);
  rngSeed(31);
  buildRandom(apChild, 3, 20, &model);
  nAllocLeft = 1;
  assert_int_equal(LSM_OK, lsmMergeIterNew(apChild, 3, &pMerge));
  assert_int_equal(LSM_OK, lsmIterFirst(pMerge));
  assert_true(lsmIterValid(pMerge));
  assert_int_equal(LSM_NOMEM, lsmIterSeek(pMerge, model.aEnt[5].aIkey,
                                          model.aEnt[5].nIkey));
  assert_false(lsmIterValid(pMerge));
  nAllocLeft = -1;
  assert_int_equal(LSM_OK, lsmIterSeek(pMerge, model.aEnt[5].aIkey,
                                       model.aEnt[5].nIkey));
  checkAt(pMerge, &model, 5);
  lsmIterClose(pMerge);
  lsm_set_allocator(0);
  free(model.aEnt);
  assert_int_equal(0, vecIterLiveCount());
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_merge_no_children),
    cmocka_unit_test(test_merge_empty_children),
    cmocka_unit_test(test_merge_versions_across_children),
    cmocka_unit_test(test_merge_random),
    cmocka_unit_test(test_merge_full_scans),
    cmocka_unit_test(test_merge_step_cost),
    cmocka_unit_test(test_merge_child_error),
    cmocka_unit_test(test_merge_nomem),
  };
  return cmocka_run_group_tests(tests, 0, 0);
}
