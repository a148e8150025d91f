/*
** test_dbiter.c -- the user-facing iterator (dbiter.c) over internal
** iterators.
**
** The randomised tests write random puts and deletes (user keys of 0..3
** bytes over {0, a, b, c}, so keys are prefixes of each other and have
** many versions), spread them over vector iterators merged together, and
** compare an lsm_iter at a random snapshot with random bounds against a
** model: the sorted list of (key, value) pairs whose newest version at or
** below the snapshot is a value and whose key is in [lo, hi).  Walks mix
** first, last, seek, seek_le, next and prev.  Everything is seeded.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lsm.h"
#include "util.h"
#include "ikey.h"
#include "iter.h"
#include "dbiter.h"
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

/*
** A random user key of 0..nMax bytes from {0x00, 'a', 'b', 'c'} into p;
** returns its length.  The zero byte makes keys whose immediate successor
** (the key followed by 0x00) is also a key.
*/
static size_t rndKey(uint8_t *p, size_t nMax){
  static const uint8_t aSym[] = { 0x00, 'a', 'b', 'c' };
  size_t n = rnd((uint32_t)nMax + 1), i;
  for(i=0; i<n; i++) p[i] = aSym[rnd(sizeof(aSym))];
  return n;
}

/* ---- the model -------------------------------------------------------- */

#define MAXKEY 4

typedef struct Op {             /* one write: put or delete */
  uint8_t aKey[MAXKEY];
  size_t nKey;
  uint64_t seq;
  int kind;
  uint8_t aVal[8];
  size_t nVal;
} Op;

typedef struct Row {            /* one visible key */
  const Op *pOp;
} Row;

typedef struct Model {
  Op *aOp;
  int nOp;
  Row *aRow;                    /* what the iterator should show */
  int nRow;
} Model;

/* Order writes by user key, newest first within a key. */
static int opCompare(const void *a, const void *b){
  const Op *pA = a, *pB = b;
  int c = lsmUkeyCompare(pA->aKey, pA->nKey, pB->aKey, pB->nKey);
  if( c==0 ) c = (pA->seq>pB->seq) ? -1 : (pA->seq<pB->seq);
  return c;
}

/*
** The rows a reader at snapshot seq sees within [lo, hi) (NULL: no
** bound).  Overlay writes (sequence LSM_OVERLAY_SEQ and up) are seen at
** every snapshot.  REQUIRES: aOp sorted by opCompare.
*/
static void modelView(Model *pModel, uint64_t seq,
                      const uint8_t *pLo, size_t nLo,
                      const uint8_t *pHi, size_t nHi){
  int i = 0;
  pModel->nRow = 0;
  while( i<pModel->nOp ){
    const Op *pFirst = &pModel->aOp[i];
    const Op *pNewest = 0;
    for(; i<pModel->nOp && lsmUkeyCompare(pModel->aOp[i].aKey,
            pModel->aOp[i].nKey, pFirst->aKey, pFirst->nKey)==0; i++){
      uint64_t s = pModel->aOp[i].seq;
      if( pNewest==0 && (s<=seq || s>=LSM_OVERLAY_SEQ) ){
        pNewest = &pModel->aOp[i];
      }
    }
    if( pNewest==0 || pNewest->kind!=LSM_KIND_VALUE ) continue;
    if( pLo && lsmUkeyCompare(pNewest->aKey, pNewest->nKey, pLo, nLo)<0 ){
      continue;
    }
    if( pHi && lsmUkeyCompare(pNewest->aKey, pNewest->nKey, pHi, nHi)>=0 ){
      continue;
    }
    pModel->aRow[pModel->nRow++].pOp = pNewest;
  }
}

/* First row with key >= k (nRow if none) / last row with key <= k (-1). */
static int modelSeek(const Model *pModel, const uint8_t *p, size_t n){
  int i;
  for(i=0; i<pModel->nRow; i++){
    const Op *pOp = pModel->aRow[i].pOp;
    if( lsmUkeyCompare(pOp->aKey, pOp->nKey, p, n)>=0 ) break;
  }
  return i;
}
static int modelSeekLe(const Model *pModel, const uint8_t *p, size_t n){
  int i;
  for(i=pModel->nRow-1; i>=0; i--){
    const Op *pOp = pModel->aRow[i].pOp;
    if( lsmUkeyCompare(pOp->aKey, pOp->nKey, p, n)<=0 ) break;
  }
  return i;
}

/*
** nOp random writes over nChild new vector iterators apChild[], with
** sequences 1..nOp in order except that the last nOverlay of them are
** overlay writes (LSM_OVERLAY_SEQ, +1, ...), into *pModel (sorted).
*/
static void buildRandom(Model *pModel, LsmIter **apChild, int nChild,
                        int nOp, int nOverlay){
  int i;
  pModel->aOp = calloc((size_t)nOp + 1, sizeof(Op));
  pModel->aRow = calloc((size_t)nOp + 1, sizeof(Row));
  assert_non_null(pModel->aOp);
  assert_non_null(pModel->aRow);
  pModel->nOp = nOp;
  pModel->nRow = 0;
  for(i=0; i<nChild; i++){
    apChild[i] = vecIterNew();
    assert_non_null(apChild[i]);
  }
  for(i=0; i<nOp; i++){
    Op *pOp = &pModel->aOp[i];
    size_t j;
    pOp->nKey = rndKey(pOp->aKey, 3);
    pOp->seq = (i>=nOp-nOverlay) ? LSM_OVERLAY_SEQ + (uint64_t)i
                                 : (uint64_t)i + 1;
    pOp->kind = rnd(3)==0 ? LSM_KIND_DELETE : LSM_KIND_VALUE;
    if( pOp->kind==LSM_KIND_VALUE ){
      pOp->nVal = rnd(sizeof(pOp->aVal) + 1);
      for(j=0; j<pOp->nVal; j++) pOp->aVal[j] = (uint8_t)rnd(256);
    }
    assert_int_equal(LSM_OK, vecIterAdd(apChild[rnd((uint32_t)nChild)],
                     pOp->aKey, pOp->nKey, pOp->seq, pOp->kind,
                     pOp->aVal, pOp->nVal));
  }
  qsort(pModel->aOp, (size_t)nOp, sizeof(Op), opCompare);
}

static void modelFree(Model *pModel){
  free(pModel->aOp);
  free(pModel->aRow);
}

/* ---- helpers ---------------------------------------------------------- */

static int nRelease;            /* calls of countRelease */
static void countRelease(void *pArg){
  assert_ptr_equal(pArg, &nRelease);
  nRelease++;
}

/* One internal iterator over the children: the only child, or a merge. */
static LsmIter *internalOver(LsmIter **apChild, int nChild){
  LsmIter *pOut = 0;
  if( nChild==1 && rnd(2) ) return apChild[0];
  assert_int_equal(LSM_OK, lsmMergeIterNew(apChild, nChild, &pOut));
  return pOut;
}

static lsm_iter *newIter(LsmIter *pInternal, uint64_t seq,
                         const void *pLo, size_t nLo,
                         const void *pHi, size_t nHi){
  lsm_iter *pIter = 0;
  assert_int_equal(LSM_OK, lsmDbIterNew(pInternal, seq, pLo, nLo, pHi, nHi,
                                        countRelease, &nRelease, &pIter));
  assert_non_null(pIter);
  return pIter;
}

/* Assert that pIter shows model row iRow (nothing if out of range). */
static void checkRow(lsm_iter *pIter, const Model *pModel, int iRow){
  const void *p;
  size_t n;
  assert_int_equal(LSM_OK, lsm_iter_status(pIter));
  if( iRow<0 || iRow>=pModel->nRow ){
    assert_false(lsm_iter_valid(pIter));
    assert_null(lsm_iter_key(pIter, &n));
    assert_int_equal(0, n);
  }else{
    const Op *pOp = pModel->aRow[iRow].pOp;
    assert_true(lsm_iter_valid(pIter));
    p = lsm_iter_key(pIter, &n);
    assert_non_null(p);
    assert_int_equal(pOp->nKey, n);
    if( n ) assert_memory_equal(pOp->aKey, p, n);
    p = lsm_iter_value(pIter, &n);
    assert_non_null(p);
    assert_int_equal(pOp->nVal, n);
    if( n ) assert_memory_equal(pOp->aVal, p, n);
  }
}

/*
** nStep random moves checked against the model's current view.  Seek
** targets include keys longer than any stored, keys outside the bounds,
** and the iterator's own current key.
*/
static void randomWalk(lsm_iter *pIter, const Model *pModel, int nStep){
  int iRow = -1;
  int i;
  for(i=0; i<nStep; i++){
    int bValid = iRow>=0 && iRow<pModel->nRow;
    int eOp = (int)rnd(12);
    uint8_t aKey[MAXKEY];
    const void *pKey = aKey;
    size_t nKey = 0;
    int rc;
    if( eOp==2 || eOp==3 ){
      if( bValid && rnd(4)==0 ){
        pKey = lsm_iter_key(pIter, &nKey);
        memcpy(aKey, pKey, nKey);       /* the model's copy */
      }else{
        nKey = rndKey(aKey, MAXKEY);
        pKey = aKey;
      }
    }
    switch( eOp ){
      case 0:
        rc = lsm_iter_first(pIter);
        iRow = 0;
        break;
      case 1:
        rc = lsm_iter_last(pIter);
        iRow = pModel->nRow - 1;
        break;
      case 2:
        rc = lsm_iter_seek(pIter, pKey, nKey);
        iRow = modelSeek(pModel, aKey, nKey);
        break;
      case 3:
        rc = lsm_iter_seek_le(pIter, pKey, nKey);
        iRow = modelSeekLe(pModel, aKey, nKey);
        break;
      default:
        if( eOp<8 ){
          rc = lsm_iter_next(pIter);
          iRow++;
        }else{
          rc = lsm_iter_prev(pIter);
          iRow--;
        }
        if( !bValid ){
          assert_int_equal(LSM_INVALID, rc);
          rc = LSM_OK;
          iRow = -1;
        }
        break;
    }
    assert_int_equal(LSM_OK, rc);
    checkRow(pIter, pModel, iRow);
  }
}

/* A full scan forward and a full scan backward against the model. */
static void fullScans(lsm_iter *pIter, const Model *pModel){
  int i;
  assert_int_equal(LSM_OK, lsm_iter_first(pIter));
  for(i=0; i<pModel->nRow; i++){
    checkRow(pIter, pModel, i);
    assert_int_equal(LSM_OK, lsm_iter_next(pIter));
  }
  checkRow(pIter, pModel, -1);
  assert_int_equal(LSM_OK, lsm_iter_last(pIter));
  for(i=pModel->nRow-1; i>=0; i--){
    checkRow(pIter, pModel, i);
    assert_int_equal(LSM_OK, lsm_iter_prev(pIter));
  }
  checkRow(pIter, pModel, -1);
}

/* ---- tests ------------------------------------------------------------ */

static void test_dbiter_unpositioned(void **state){
  LsmIter *pVec = vecIterNew();
  lsm_iter *pIter;
  size_t n = 99;
  (void)state;
  assert_int_equal(LSM_OK, vecIterAdd(pVec, "a", 1, 1, LSM_KIND_VALUE,
                                      "x", 1));
  nRelease = 0;
  pIter = newIter(pVec, 10, 0, 0, 0, 0);
  assert_false(lsm_iter_valid(pIter));
  assert_null(lsm_iter_key(pIter, &n));
  assert_int_equal(0, n);
  n = 99;
  assert_null(lsm_iter_value(pIter, &n));
  assert_int_equal(0, n);
  assert_int_equal(LSM_INVALID, lsm_iter_next(pIter));
  assert_int_equal(LSM_INVALID, lsm_iter_prev(pIter));
  assert_int_equal(LSM_OK, lsm_iter_status(pIter));
  /* Misuse does not break it. */
  assert_int_equal(LSM_OK, lsm_iter_first(pIter));
  assert_true(lsm_iter_valid(pIter));
  assert_int_equal(LSM_OK, lsm_iter_next(pIter));
  assert_false(lsm_iter_valid(pIter));
  assert_int_equal(LSM_INVALID, lsm_iter_prev(pIter));
  assert_int_equal(0, nRelease);
  lsm_iter_free(pIter);
  assert_int_equal(1, nRelease);
  assert_int_equal(0, vecIterLiveCount());
  lsm_iter_free(0);
  assert_false(lsm_iter_valid(0));
}

/* A hand-made write: value zVal, or a tombstone if zVal is NULL. */
typedef struct Write {
  const char *zKey;
  uint64_t seq;
  const char *zVal;
} Write;

/*
** Read aW[0..nW-1] (spread over three merged children) at snapshot seq,
** forward or in reverse, and compare with zWant: "key=val key=val ...",
** in key order.
*/
static void checkWrites(const Write *aW, size_t nW, uint64_t seq,
                        int bReverse, const char *zWant){
  LsmIter *apChild[3];
  LsmIter *pMerge;
  lsm_iter *pIter;
  char zGot[200] = "";
  size_t i;
  int rc;
  for(i=0; i<3; i++) apChild[i] = vecIterNew();
  for(i=0; i<nW; i++){
    const char *zVal = aW[i].zVal;
    assert_int_equal(LSM_OK, vecIterAdd(apChild[i%3], aW[i].zKey,
        strlen(aW[i].zKey), aW[i].seq,
        zVal ? LSM_KIND_VALUE : LSM_KIND_DELETE,
        zVal ? zVal : "", zVal ? strlen(zVal) : 0));
  }
  assert_int_equal(LSM_OK, lsmMergeIterNew(apChild, 3, &pMerge));
  pIter = newIter(pMerge, seq, 0, 0, 0, 0);
  for(rc = bReverse ? lsm_iter_last(pIter) : lsm_iter_first(pIter);
      rc==LSM_OK && lsm_iter_valid(pIter);
      rc = bReverse ? lsm_iter_prev(pIter) : lsm_iter_next(pIter)){
    size_t nKey, nVal;
    const char *pKey = lsm_iter_key(pIter, &nKey);
    const char *pVal = lsm_iter_value(pIter, &nVal);
    char zOne[40];
    char zTmp[200];
    snprintf(zOne, sizeof(zOne), "%.*s=%.*s", (int)nKey, pKey,
             (int)nVal, pVal);
    if( bReverse ){
      snprintf(zTmp, sizeof(zTmp), "%s%s%s", zOne, zGot[0] ? " " : "", zGot);
    }else{
      snprintf(zTmp, sizeof(zTmp), "%s%s%s", zGot, zGot[0] ? " " : "", zOne);
    }
    strcpy(zGot, zTmp);
  }
  assert_int_equal(LSM_OK, rc);
  assert_string_equal(zWant, zGot);
  lsm_iter_free(pIter);
  assert_int_equal(0, vecIterLiveCount());
}

/* Hand-made versions and tombstones, read at every snapshot. */
static void test_dbiter_versions(void **state){
  static const Write aW[] = {
    { "a", 1, "a1" }, { "a", 3, 0 },    { "a", 5, "a5" },
    { "ab", 2, "ab2" }, { "ab", 4, 0 },
    { "b", 6, "b6" },  { "b", 7, "b7" }, { "b", 8, 0 },
    { "", 9, "e9" },   { "c", 10, 0 },
  };
  static const char *azWant[] = {      /* at each snapshot */
    "", "a=a1", "a=a1 ab=ab2", "ab=ab2", "", "a=a5", "a=a5 b=b6",
    "a=a5 b=b7", "a=a5", "=e9 a=a5", "=e9 a=a5", "=e9 a=a5",
  };
  uint64_t seq;
  (void)state;
  for(seq=0; seq<sizeof(azWant)/sizeof(azWant[0]); seq++){
    checkWrites(aW, sizeof(aW)/sizeof(aW[0]), seq, 0, azWant[seq]);
    checkWrites(aW, sizeof(aW)/sizeof(aW[0]), seq, 1, azWant[seq]);
  }
}

/*
** A transaction's own writes (overlay sequences) are seen over every
** snapshot and win over every committed version.
*/
static void test_dbiter_overlay(void **state){
  static const Write aW[] = {
    { "a", 1, "a1" }, { "b", 2, "b2" }, { "c", 3, "c3" }, { "b", 4, "b4" },
    { "a", LSM_OVERLAY_SEQ,     "A" },
    { "b", LSM_OVERLAY_SEQ + 1, 0 },
    { "d", LSM_OVERLAY_SEQ + 2, "D1" },
    { "d", LSM_OVERLAY_SEQ + 3, "D2" },
    { "c", LSM_OVERLAY_SEQ + 4, 0 },
    { "c", LSM_OVERLAY_SEQ + 5, "C" },
  };
  static const char *azWant[] = {      /* at snapshots 0..4 */
    "a=A c=C d=D2", "a=A c=C d=D2", "a=A c=C d=D2", "a=A c=C d=D2",
    "a=A c=C d=D2",
  };
  uint64_t seq;
  (void)state;
  for(seq=0; seq<sizeof(azWant)/sizeof(azWant[0]); seq++){
    checkWrites(aW, sizeof(aW)/sizeof(aW[0]), seq, 0, azWant[seq]);
    checkWrites(aW, sizeof(aW)/sizeof(aW[0]), seq, 1, azWant[seq]);
  }
  /* Without the overlay's last two writes, c shows its committed value
  ** from snapshot 3 on, until the overlay's tombstone is added. */
  checkWrites(aW, 8, 2, 0, "a=A d=D2");
  checkWrites(aW, 8, 3, 1, "a=A c=c3 d=D2");
  checkWrites(aW, 9, 3, 1, "a=A d=D2");
}

static void test_dbiter_random(void **state){
  int iTrial;
  (void)state;
  for(iTrial=0; iTrial<2000; iTrial++){
    LsmIter *apChild[5];
    Model model;
    lsm_iter *pIter;
    uint8_t aLo[MAXKEY], aHi[MAXKEY];
    size_t nLo, nHi;
    const uint8_t *pLo = 0, *pHi = 0;
    uint64_t seq;
    int nChild, nOp;

    rngSeed(20000 + (uint64_t)iTrial);
    nChild = 1 + (int)rnd(5);
    nOp = (int)rnd(80);
    buildRandom(&model, apChild, nChild, nOp,
                rnd(3)==0 ? (int)rnd((uint32_t)nOp/4 + 1) : 0);
    switch( rnd(6) ){
      case 0:  seq = 0; break;
      case 1:  seq = UINT64_MAX; break;
      case 2:  seq = LSM_MAX_SEQ + 1; break;   /* shifts out of a trailer */
      case 3:  seq = (uint64_t)nOp; break;
      default: seq = rnd((uint32_t)nOp + 1); break;
    }
    nLo = rndKey(aLo, 3);
    nHi = rndKey(aHi, 3);
    if( rnd(3) ) pLo = aLo;
    if( rnd(3) ) pHi = aHi;
    modelView(&model, seq, pLo, nLo, pHi, nHi);

    nRelease = 0;
    pIter = newIter(internalOver(apChild, nChild), seq, pLo, nLo, pHi, nHi);
    memset(aLo, 'z', sizeof(aLo));      /* the bounds were copied */
    memset(aHi, 'z', sizeof(aHi));
    randomWalk(pIter, &model, 200);
    fullScans(pIter, &model);
    lsm_iter_free(pIter);
    assert_int_equal(1, nRelease);
    assert_int_equal(0, vecIterLiveCount());
    modelFree(&model);
  }
}

/*
** Keys k00..k99 with three versions each (value, tombstone, value at
** sequences i+1, i+101, i+201) into a new vector iterator and the model.
** Sorted, the entries of k<i> are entries 3i..3i+2.
*/
static LsmIter *buildLadder(Model *pModel){
  LsmIter *pVec = vecIterNew();
  int i, j;
  pModel->aOp = calloc(300, sizeof(Op));
  pModel->aRow = calloc(300, sizeof(Row));
  assert_non_null(pModel->aOp);
  assert_non_null(pModel->aRow);
  pModel->nOp = 300;
  for(i=0; i<100; i++){
    for(j=0; j<3; j++){
      Op *pOp = &pModel->aOp[i*3 + j];
      pOp->aKey[0] = 'k';
      pOp->aKey[1] = (uint8_t)('0' + i/10);
      pOp->aKey[2] = (uint8_t)('0' + i%10);
      pOp->nKey = 3;
      pOp->seq = (uint64_t)(j*100 + i + 1);
      pOp->kind = (j==1) ? LSM_KIND_DELETE : LSM_KIND_VALUE;
      pOp->nVal = (j==1) ? 0 : 2;
      pOp->aVal[0] = (uint8_t)i;
      pOp->aVal[1] = (uint8_t)j;
      assert_int_equal(LSM_OK, vecIterAdd(pVec, pOp->aKey, pOp->nKey,
                       pOp->seq, pOp->kind, pOp->aVal, pOp->nVal));
    }
  }
  qsort(pModel->aOp, 300, sizeof(Op), opCompare);
  return pVec;
}

/*
** Bounds stop the walk: a forward scan never stands further than the
** first entry at or above hi, a backward scan never further back than the
** last entry below lo, whatever the snapshot hides.  With lo=k20 and
** hi=k40 those are entries 120 and 59.
*/
static void test_dbiter_bounds_stop_scans(void **state){
  static const uint64_t aSeq[] = { 0, 1, 25, 150, 250, 300 };
  size_t iSeq;
  (void)state;
  for(iSeq=0; iSeq<sizeof(aSeq)/sizeof(aSeq[0]); iSeq++){
    Model model;
    LsmIter *pVec = buildLadder(&model);
    lsm_iter *pIter;
    modelView(&model, aSeq[iSeq], (const uint8_t*)"k20", 3,
              (const uint8_t*)"k40", 3);
    assert_int_equal(LSM_OK, lsmDbIterNew(pVec, aSeq[iSeq], "k20", 3,
                     "k40", 3, 0, 0, &pIter));

    assert_int_equal(LSM_OK, lsm_iter_first(pIter));
    while( lsm_iter_valid(pIter) ){
      assert_int_equal(LSM_OK, lsm_iter_next(pIter));
    }
    assert_true(vecIterLowWater(pVec)>=60);
    assert_true(vecIterHighWater(pVec)<=120);

    vecIterResetWater(pVec);
    assert_int_equal(LSM_OK, lsm_iter_last(pIter));
    while( lsm_iter_valid(pIter) ){
      assert_int_equal(LSM_OK, lsm_iter_prev(pIter));
    }
    assert_true(vecIterLowWater(pVec)>=59);
    assert_true(vecIterHighWater(pVec)<=120);

    /* Seeks outside the range are clamped without long walks. */
    vecIterResetWater(pVec);
    assert_int_equal(LSM_OK, lsm_iter_seek(pIter, "a", 1));
    assert_int_equal(LSM_OK, lsm_iter_seek_le(pIter, "z", 1));
    assert_int_equal(LSM_OK, lsm_iter_seek(pIter, "z", 1));
    assert_false(lsm_iter_valid(pIter));
    assert_int_equal(LSM_OK, lsm_iter_seek(pIter, "k50", 3));
    assert_false(lsm_iter_valid(pIter));
    assert_int_equal(LSM_OK, lsm_iter_seek_le(pIter, "a", 1));
    assert_false(lsm_iter_valid(pIter));
    assert_int_equal(LSM_OK, lsm_iter_seek_le(pIter, "k10", 3));
    assert_false(lsm_iter_valid(pIter));
    assert_true(vecIterLowWater(pVec)>=59);
    assert_true(vecIterHighWater(pVec)<=120);

    fullScans(pIter, &model);
    rngSeed(iSeq);
    randomWalk(pIter, &model, 300);
    vecIterResetWater(pVec);
    fullScans(pIter, &model);
    assert_true(vecIterLowWater(pVec)>=59);
    assert_true(vecIterHighWater(pVec)<=120);
    lsm_iter_free(pIter);
    modelFree(&model);
  }
  assert_int_equal(0, vecIterLiveCount());
}

/*
** An error from a child at any move makes the iterator invalid with that
** error as its status, and the error sticks.
*/
static void test_dbiter_child_error(void **state){
  int iTrial;
  int nSeen = 0;
  (void)state;
  for(iTrial=0; iTrial<300; iTrial++){
    LsmIter *apChild[4];
    Model model;
    lsm_iter *pIter;
    int nChild, i;
    rngSeed(40000 + (uint64_t)iTrial);
    nChild = 1 + (int)rnd(4);
    buildRandom(&model, apChild, nChild, 1 + (int)rnd(60), 0);
    vecIterFailAt(apChild[rnd((uint32_t)nChild)], 1 + (int)rnd(80),
                  LSM_IOERR);
    nRelease = 0;
    pIter = newIter(internalOver(apChild, nChild), model.nOp, 0, 0, 0, 0);
    for(i=0; i<100; i++){
      int eOp = (int)rnd(6);
      int rc;
      if( eOp==0 || !lsm_iter_valid(pIter) ){
        rc = rnd(2) ? lsm_iter_first(pIter) : lsm_iter_last(pIter);
      }else if( eOp==1 ){
        rc = lsm_iter_seek(pIter, "b", 1);
      }else if( eOp==2 ){
        rc = lsm_iter_seek_le(pIter, "b", 1);
      }else if( eOp<5 ){
        rc = lsm_iter_next(pIter);
      }else{
        rc = lsm_iter_prev(pIter);
      }
      if( rc!=LSM_OK ){
        size_t n = 1;
        assert_int_equal(LSM_IOERR, rc);
        assert_non_null(strstr(lsmErrMsg(), "injected"));
        assert_non_null(strstr(lsm_iter_errmsg(pIter), "injected"));
        assert_false(lsm_iter_valid(pIter));
        assert_int_equal(LSM_IOERR, lsm_iter_status(pIter));
        assert_null(lsm_iter_key(pIter, &n));
        assert_int_equal(0, n);
        assert_int_equal(LSM_IOERR, lsm_iter_first(pIter));
        assert_int_equal(LSM_IOERR, lsm_iter_last(pIter));
        assert_int_equal(LSM_IOERR, lsm_iter_seek(pIter, "a", 1));
        assert_int_equal(LSM_IOERR, lsm_iter_seek_le(pIter, "a", 1));
        assert_int_equal(LSM_IOERR, lsm_iter_next(pIter));
        assert_int_equal(LSM_IOERR, lsm_iter_prev(pIter));
        assert_false(lsm_iter_valid(pIter));
        nSeen++;
        break;
      }
      assert_int_equal(LSM_OK, lsm_iter_status(pIter));
      assert_string_equal(lsm_iter_errmsg(pIter), lsm_errstr(LSM_OK));
    }
    lsm_iter_free(pIter);
    assert_int_equal(1, nRelease);
    assert_int_equal(0, vecIterLiveCount());
    modelFree(&model);
  }
  assert_true(nSeen>150);
}

static void test_dbiter_corrupt_entries(void **state){
  static const uint8_t aShort[3] = { 'a', 'b', 'c' };
  LsmIter *pVec;
  lsm_iter *pIter;
  (void)state;

  pVec = vecIterNew();
  assert_int_equal(LSM_OK, vecIterAddIkey(pVec, aShort, 3, "v", 1));
  pIter = newIter(pVec, 5, 0, 0, 0, 0);
  assert_int_equal(LSM_CORRUPT, lsm_iter_first(pIter));
  assert_false(lsm_iter_valid(pIter));
  assert_int_equal(LSM_CORRUPT, lsm_iter_status(pIter));
  lsm_iter_free(pIter);

  pVec = vecIterNew();
  assert_int_equal(LSM_OK, vecIterAdd(pVec, "a", 1, 1, LSM_KIND_VALUE,
                                      "v", 1));
  assert_int_equal(LSM_OK, vecIterAdd(pVec, "b", 1, 2, 7, "v", 1));
  pIter = newIter(pVec, 5, 0, 0, 0, 0);
  assert_int_equal(LSM_OK, lsm_iter_first(pIter));
  assert_true(lsm_iter_valid(pIter));
  assert_int_equal(LSM_CORRUPT, lsm_iter_next(pIter));
  assert_non_null(strstr(lsmErrMsg(), "kind 7"));
  assert_int_equal(LSM_CORRUPT, lsm_iter_status(pIter));
  assert_int_equal(LSM_CORRUPT, lsm_iter_last(pIter));
  lsm_iter_free(pIter);
  assert_int_equal(0, vecIterLiveCount());
}

/* Large keys and values, so the iterator's buffers must grow. */
static void test_dbiter_large_entries(void **state){
  LsmIter *pVec = vecIterNew();
  lsm_iter *pIter;
  uint8_t aKey[300], aVal[1000];
  const uint8_t *p;
  size_t n;
  int i;
  (void)state;
  memset(aVal, 'v', sizeof(aVal));
  for(i=0; i<20; i++){
    memset(aKey, 'a' + i, sizeof(aKey));
    assert_int_equal(LSM_OK, vecIterAdd(pVec, aKey, (size_t)(i*15),
                     (uint64_t)i + 1, LSM_KIND_VALUE, aVal, (size_t)i*50));
  }
  pIter = newIter(pVec, 100, 0, 0, 0, 0);
  assert_int_equal(LSM_OK, lsm_iter_last(pIter));
  for(i=19; i>=0; i--){
    assert_true(lsm_iter_valid(pIter));
    p = lsm_iter_key(pIter, &n);
    assert_int_equal(i*15, n);
    if( n ) assert_int_equal('a' + i, p[n-1]);
    lsm_iter_value(pIter, &n);
    assert_int_equal(i*50, n);
    assert_int_equal(LSM_OK, lsm_iter_prev(pIter));
  }
  assert_false(lsm_iter_valid(pIter));
  lsm_iter_free(pIter);
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

/* Creation failing at each allocation still closes and releases. */
static void test_dbiter_new_nomem(void **state){
  int nOk;
  (void)state;
  lsm_set_allocator(&failAlloc);
  for(nOk=0; nOk<4; nOk++){
    lsm_iter *pIter = (lsm_iter*)&pIter;
    int rc;
    nRelease = 0;
    nAllocLeft = nOk;
    rc = lsmDbIterNew(vecIterNew(), 7, "lo", 2, "hi", 2, countRelease,
                      &nRelease, &pIter);
    nAllocLeft = -1;
    if( nOk<3 ){
      assert_int_equal(LSM_NOMEM, rc);
      assert_null(pIter);
      assert_int_equal(1, nRelease);
    }else{
      assert_int_equal(LSM_OK, rc);
      assert_int_equal(0, nRelease);
      lsm_iter_free(pIter);
      assert_int_equal(1, nRelease);
    }
    assert_int_equal(0, vecIterLiveCount());
  }
  /* Missing arguments are refused the same way. */
  nRelease = 0;
  assert_int_equal(LSM_INVALID, lsmDbIterNew(vecIterNew(), 7, 0, 0, 0, 0,
                   countRelease, &nRelease, 0));
  assert_int_equal(1, nRelease);
  assert_int_equal(0, vecIterLiveCount());
  lsm_set_allocator(0);
}

/*
** Walks in which the n-th allocation fails, for every n: the failing
** move returns LSM_NOMEM, which sticks; moves before it are right.
*/
static void test_dbiter_walk_nomem(void **state){
  int nOk;
  int bDone = 0;
  (void)state;
  for(nOk=0; !bDone; nOk++){
    LsmIter *apChild[3];
    Model model;
    lsm_iter *pIter;
    int i, iRow = -1;
    int rc = LSM_OK;
    rngSeed(777);
    buildRandom(&model, apChild, 3, 60, 5);
    modelView(&model, 45, (const uint8_t*)"a", 1, (const uint8_t*)"cc", 2);
    nRelease = 0;
    pIter = newIter(internalOver(apChild, 3), 45, "a", 1, "cc", 2);
    lsm_set_allocator(&failAlloc);
    nAllocLeft = nOk;
    for(i=0; i<60 && rc==LSM_OK; i++){
      switch( i%6 ){
        case 0: rc = lsm_iter_last(pIter);  iRow = model.nRow-1; break;
        case 1: case 2:
          if( iRow<0 || iRow>=model.nRow ) continue;
          rc = lsm_iter_prev(pIter); iRow--; break;
        case 3: rc = lsm_iter_seek(pIter, "b", 1);
                iRow = modelSeek(&model, (const uint8_t*)"b", 1); break;
        case 4:
          if( iRow<0 || iRow>=model.nRow ) continue;
          rc = lsm_iter_next(pIter); iRow++; break;
        default: rc = lsm_iter_seek_le(pIter, "bb", 2);
                iRow = modelSeekLe(&model, (const uint8_t*)"bb", 2); break;
      }
      if( rc==LSM_OK ) checkRow(pIter, &model, iRow);
    }
    bDone = (rc==LSM_OK);
    if( !bDone ){
      assert_int_equal(LSM_NOMEM, rc);
      assert_false(lsm_iter_valid(pIter));
      assert_int_equal(LSM_NOMEM, lsm_iter_status(pIter));
      assert_int_equal(LSM_NOMEM, lsm_iter_first(pIter));
    }
    nAllocLeft = -1;
    lsm_set_allocator(0);
    lsm_iter_free(pIter);
    assert_int_equal(1, nRelease);
    modelFree(&model);
    assert_int_equal(0, vecIterLiveCount());
  }
  assert_true(nOk>2);          /* some allocations were actually failed */
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_dbiter_unpositioned),
    cmocka_unit_test(test_dbiter_versions),
    cmocka_unit_test(test_dbiter_overlay),
    cmocka_unit_test(test_dbiter_random),
    cmocka_unit_test(test_dbiter_bounds_stop_scans),
    cmocka_unit_test(test_dbiter_child_error),
    cmocka_unit_test(test_dbiter_corrupt_entries),
    cmocka_unit_test(test_dbiter_large_entries),
    cmocka_unit_test(test_dbiter_new_nomem),
    cmocka_unit_test(test_dbiter_walk_nomem),
  };
  return cmocka_run_group_tests(tests, 0, 0);
}
