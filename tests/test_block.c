/*
** test_block.c -- unit tests of the block format (lsm/block.c).
**
** Blocks are built from seeded random sorted keys (with long shared
** prefixes, so prefix compression is exercised) and read back every way
** the table layer reads them: forward and backward iteration, a seek to
** every key, between every two keys, before the first and after the last,
** with restart intervals that put keys on every restart boundary; every
** seek is repeated through the block's restart-key summary, on keys with
** and without a prefix common to the whole block.  Other
** tests cover internal-key order, 1 MiB entries, and damaged blocks: each
** malformed field gives LSM_CORRUPT, and random damage never makes the
** reader touch memory outside the block (run under AddressSanitizer).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "coding.h"
#include "ikey.h"
#include "util.h"
#include "support/testutil.h"

/* A sorted set of test entries, malloc'd. */
typedef struct Entries {
  int n;
  uint8_t **apKey;
  size_t *anKey;
  uint8_t **apVal;
  size_t *anVal;
} Entries;

static int cmpKeyPtr(const void *a, const void *b){
  const uint8_t *const *pa = a, *const *pb = b;
  /* keys are stored with a 4-byte length prefix for sorting */
  uint32_t na, nb;
  memcpy(&na, *pa, 4);
  memcpy(&nb, *pb, 4);
  return lsmUkeyCompare(*pa+4, na, *pb+4, nb);
}

/*
** n distinct random byte-string keys in increasing order, zPrefix then
** bytes drawn from a small alphabet with common prefixes; values of 0..40
** random bytes.  With a prefix, tails may be empty or hold zero bytes.
*/
static Entries *entriesNew(uint64_t *pRng, int n, const char *zPrefix){
  Entries *p = calloc(1, sizeof(*p));
  uint8_t **aTmp = calloc((size_t)n, sizeof(uint8_t*));
  int i, nOut = 0;
  assert_non_null(p);
  assert_non_null(aTmp);
  uint32_t nPrefix = (uint32_t)strlen(zPrefix);
  for(i=0; i<n; i++){
    uint32_t nTail = (nPrefix ? 0 : 1) + testRandRange(pRng, 20);
    uint32_t nKey = nPrefix + nTail;
    uint32_t j;
    aTmp[i] = malloc(4 + nKey);
    assert_non_null(aTmp[i]);
    memcpy(aTmp[i], &nKey, 4);
    memcpy(aTmp[i]+4, zPrefix, nPrefix);
    for(j=0; j<nTail; j++){
      /* The first bytes come from a tiny alphabet, so neighbours share
      ** prefixes of several bytes. */
      aTmp[i][4+nPrefix+j] = (uint8_t)(j<4 ? (nPrefix ? 0 : 'a')
                                             + testRandRange(pRng, 3)
                                           : testRandRange(pRng, 256));
    }
  }
  qsort(aTmp, (size_t)n, sizeof(uint8_t*), cmpKeyPtr);
  p->apKey = calloc((size_t)n, sizeof(uint8_t*));
  p->anKey = calloc((size_t)n, sizeof(size_t));
  p->apVal = calloc((size_t)n, sizeof(uint8_t*));
  p->anVal = calloc((size_t)n, sizeof(size_t));
  for(i=0; i<n; i++){
    uint32_t nKey, j;
    memcpy(&nKey, aTmp[i], 4);
    if( i>0 && cmpKeyPtr(&aTmp[i], &aTmp[i-1])==0 ) continue;
    p->apKey[nOut] = malloc(nKey);
    memcpy(p->apKey[nOut], aTmp[i]+4, nKey);
    p->anKey[nOut] = nKey;
    p->anVal[nOut] = testRandRange(pRng, 41);
    p->apVal[nOut] = malloc(p->anVal[nOut] + 1);
    for(j=0; j<p->anVal[nOut]; j++) p->apVal[nOut][j] = (uint8_t)testRand(pRng);
    nOut++;
  }
  for(i=0; i<n; i++) free(aTmp[i]);
  free(aTmp);
  p->n = nOut;
  return p;
}

static void entriesFree(Entries *p){
  int i;
  for(i=0; i<p->n; i++){
    free(p->apKey[i]);
    free(p->apVal[i]);
  }
  free(p->apKey);
  free(p->anKey);
  free(p->apVal);
  free(p->anVal);
  free(p);
}

/* Build a block of all entries; return a malloc'd copy of its bytes. */
static uint8_t *buildBlock(const Entries *pE, int nInterval, size_t *pn){
  LsmBlockBuilder b;
  const uint8_t *a;
  uint8_t *aCopy;
  int i;
  lsmBlockBuilderInit(&b, nInterval);
  for(i=0; i<pE->n; i++){
    assert_int_equal(lsmBlockBuilderAdd(&b, pE->apKey[i], pE->anKey[i],
                                        pE->apVal[i], pE->anVal[i]), LSM_OK);
  }
  assert_int_equal(lsmBlockBuilderSize(&b),
                   b.data.n + b.restarts.n + LSM_BLOCK_COUNT_SIZE);
  assert_int_equal(lsmBlockBuilderFinish(&b, &a, pn), LSM_OK);
  aCopy = malloc(*pn);
  memcpy(aCopy, a, *pn);
  lsmBlockBuilderFree(&b);
  return aCopy;
}

static void assertAt(const LsmBlockIter *it, const Entries *pE, int i){
  assert_true(lsmBlockIterValid(it));
  assert_int_equal(it->key.n, pE->anKey[i]);
  assert_memory_equal(it->key.p, pE->apKey[i], pE->anKey[i]);
  assert_int_equal(it->nVal, pE->anVal[i]);
  if( it->nVal ) assert_memory_equal(it->pVal, pE->apVal[i], it->nVal);
}

/*
** Seek it with lsmBlockIterSeek and it2 with the summary: both must land
** on the same entry.  Returns the first's result.
*/
static int seekBoth(LsmBlockIter *it, LsmBlockIter *it2,
                    const LsmBlockSummary *pSum,
                    const uint8_t *pKey, size_t nKey){
  int rc = lsmBlockIterSeek(it, pKey, nKey);
  assert_int_equal(lsmBlockIterSeekSummary(it2, pSum, pKey, nKey), rc);
  assert_int_equal(lsmBlockIterValid(it2), lsmBlockIterValid(it));
  if( lsmBlockIterValid(it) ){
    assert_int_equal(it2->iCur, it->iCur);
    assert_int_equal(it2->key.n, it->key.n);
    assert_memory_equal(it2->key.p, it->key.p, it->key.n);
  }
  return rc;
}

/*
** Every read path over one block of pE with restart interval nInterval;
** every seek also through the block's summary.
*/
static void checkBlock(const Entries *pE, int nInterval){
  LsmBlock blk;
  LsmBlockIter it, it2;
  LsmBlockSummary sum;
  size_t n;
  uint8_t *a = buildBlock(pE, nInterval, &n);
  int i;

  assert_int_equal(lsmBlockParse(&blk, a, n, "t.sst", 0), LSM_OK);
  assert_int_equal(blk.nRestart, (uint32_t)((pE->n + nInterval - 1)/nInterval));
  lsmBlockIterInit(&it);
  lsmBlockIterSetBlock(&it, &blk, LSM_BLOCK_BYTES, "t.sst", 0);
  lsmBlockIterInit(&it2);
  lsmBlockIterSetBlock(&it2, &blk, LSM_BLOCK_BYTES, "t.sst", 0);
  assert_int_equal(lsmBlockSummaryBuild(&it2, &sum), LSM_OK);

  /* Forward and backward. */
  assert_int_equal(lsmBlockIterFirst(&it), LSM_OK);
  for(i=0; i<pE->n; i++){
    assertAt(&it, pE, i);
    assert_int_equal(lsmBlockIterNext(&it), LSM_OK);
  }
  assert_false(lsmBlockIterValid(&it));
  assert_int_equal(lsmBlockIterLast(&it), LSM_OK);
  for(i=pE->n-1; i>=0; i--){
    assertAt(&it, pE, i);
    assert_int_equal(lsmBlockIterPrev(&it), LSM_OK);
  }
  assert_false(lsmBlockIterValid(&it));

  /* Seek to every key, then step both ways from there. */
  for(i=0; i<pE->n; i++){
    assert_int_equal(seekBoth(&it, &it2, &sum, pE->apKey[i], pE->anKey[i]),
                     LSM_OK);
    assertAt(&it, pE, i);
    assert_int_equal(lsmBlockIterPrev(&it), LSM_OK);
    if( i>0 ) assertAt(&it, pE, i-1);
    else assert_false(lsmBlockIterValid(&it));
    assert_int_equal(seekBoth(&it, &it2, &sum, pE->apKey[i], pE->anKey[i]),
                     LSM_OK);
    assert_int_equal(lsmBlockIterNext(&it), LSM_OK);
    if( i+1<pE->n ) assertAt(&it, pE, i+1);
    else assert_false(lsmBlockIterValid(&it));
  }

  /* Between keys: key i followed by a zero byte sorts after key i and
  ** no later than key i+1, so the seek lands on key i+1. */
  for(i=0; i<pE->n; i++){
    uint8_t aProbe[64];
    memcpy(aProbe, pE->apKey[i], pE->anKey[i]);
    aProbe[pE->anKey[i]] = 0;
    assert_int_equal(seekBoth(&it, &it2, &sum, aProbe, pE->anKey[i]+1),
                     LSM_OK);
    if( i+1<pE->n ) assertAt(&it, pE, i+1);
    else assert_false(lsmBlockIterValid(&it));
  }

  /* Before the first key and after the last. */
  assert_int_equal(seekBoth(&it, &it2, &sum, (const uint8_t*)"", 0), LSM_OK);
  assertAt(&it, pE, 0);
  {
    uint8_t aHigh[32];
    memset(aHigh, 0xff, sizeof(aHigh));
    assert_int_equal(seekBoth(&it, &it2, &sum, aHigh, sizeof(aHigh)), LSM_OK);
    assert_false(lsmBlockIterValid(&it));
  }

  /* Prefixes of keys and keys cut short: around the summary's skipped
  ** bytes and its zero padding. */
  for(i=0; i<pE->n; i++){
    size_t nCut;
    for(nCut=0; nCut<pE->anKey[i]; nCut++){
      uint8_t aProbe[64];
      memcpy(aProbe, pE->apKey[i], nCut);
      assert_int_equal(seekBoth(&it, &it2, &sum, aProbe, nCut), LSM_OK);
      if( nCut==0 ) continue;
      aProbe[nCut-1]++;
      assert_int_equal(seekBoth(&it, &it2, &sum, aProbe, nCut), LSM_OK);
    }
  }
  lsmBlockSummaryFree(&sum);
  lsmBlockIterFree(&it);
  lsmBlockIterFree(&it2);
  free(a);
}

static void test_block_roundtrip(void **state){
  static const int aInterval[] = { 1, 2, 3, 16 };
  uint64_t rng = 1;
  int i, j;
  (void)state;
  for(i=0; i<4; i++){
    int nInterval = aInterval[i];
    /* Sizes around each restart boundary, then a large block. */
    int aSize[] = { 1, nInterval-1, nInterval, nInterval+1, 2*nInterval,
                    2*nInterval+1, 5*nInterval-1, 1000 };
    for(j=0; j<8; j++){
      Entries *pE;
      if( aSize[j]<1 ) continue;
      pE = entriesNew(&rng, aSize[j], "");
      checkBlock(pE, nInterval);
      entriesFree(pE);
      pE = entriesNew(&rng, aSize[j], "a/common/prefix/");
      checkBlock(pE, nInterval);
      entriesFree(pE);
    }
  }
}

static void test_block_empty(void **state){
  LsmBlockBuilder b;
  LsmBlock blk;
  LsmBlockIter it;
  const uint8_t *a;
  size_t n;
  (void)state;
  lsmBlockBuilderInit(&b, 16);
  assert_int_equal(lsmBlockBuilderFinish(&b, &a, &n), LSM_OK);
  assert_int_equal(n, 4);
  assert_int_equal(lsmGet32(a), 0);
  assert_int_equal(lsmBlockParse(&blk, a, n, "t.sst", 0), LSM_OK);
  lsmBlockIterInit(&it);
  lsmBlockIterSetBlock(&it, &blk, LSM_BLOCK_BYTES, "t.sst", 0);
  assert_int_equal(lsmBlockIterFirst(&it), LSM_OK);
  assert_false(lsmBlockIterValid(&it));
  assert_int_equal(lsmBlockIterLast(&it), LSM_OK);
  assert_false(lsmBlockIterValid(&it));
  assert_int_equal(lsmBlockIterSeek(&it, (const uint8_t*)"a", 1), LSM_OK);
  assert_false(lsmBlockIterValid(&it));
  lsmBlockIterFree(&it);

  /* Reset and reuse the builder: same bytes as a fresh one. */
  assert_int_equal(lsmBlockBuilderAdd(&b, (const uint8_t*)"k", 1, 0, 0),
                   LSM_OK);
  lsmBlockBuilderReset(&b);
  assert_int_equal(lsmBlockBuilderFinish(&b, &a, &n), LSM_OK);
  assert_int_equal(n, 4);
  lsmBlockBuilderFree(&b);
}

/* The exact bytes of a small block, as FORMAT.md describes them. */
static void test_block_layout(void **state){
  LsmBlockBuilder b;
  const uint8_t *a;
  size_t n;
  static const uint8_t aExpect[] = {
    0, 3, 1, 'a','b','c', 'X',        /* restart 0 at offset 0 */
    2, 1, 0, 'd',                     /* "abd", shares "ab" */
    0, 2, 2, 'a','c', 'Y','Z',        /* restart 1 at offset 11 */
    0,0,0,0, 11,0,0,0,                /* restart offsets */
    2,0,0,0                           /* restart count */
  };
  (void)state;
  lsmBlockBuilderInit(&b, 2);
  assert_int_equal(lsmBlockBuilderAdd(&b, (const uint8_t*)"abc", 3,
                                      (const uint8_t*)"X", 1), LSM_OK);
  assert_int_equal(lsmBlockBuilderAdd(&b, (const uint8_t*)"abd", 3, 0, 0),
                   LSM_OK);
  assert_int_equal(lsmBlockBuilderAdd(&b, (const uint8_t*)"ac", 2,
                                      (const uint8_t*)"YZ", 2), LSM_OK);
  assert_int_equal(lsmBlockBuilderFinish(&b, &a, &n), LSM_OK);
  assert_int_equal(n, sizeof(aExpect));
  assert_memory_equal(a, aExpect, n);
  lsmBlockBuilderFree(&b);
}

/* Internal keys: versions of a key, newest first; lookup-trailer seeks. */
static void test_block_ikey(void **state){
  LsmBlockBuilder b;
  LsmBlock blk;
  LsmBlockIter it, it2;
  LsmBlockSummary sum;
  const uint8_t *a;
  size_t n;
  uint8_t aKey[16];
  int iKey, seq;
  (void)state;
  lsmBlockBuilderInit(&b, 4);
  for(iKey=0; iKey<20; iKey++){
    for(seq=50; seq>=10; seq-=10){        /* newest version first */
      memcpy(aKey, "key", 3);
      aKey[3] = (uint8_t)('A' + iKey);
      lsmPut64(aKey+4, lsmIkeyTrailer((uint64_t)(seq + iKey), LSM_KIND_VALUE));
      assert_int_equal(lsmBlockBuilderAdd(&b, aKey, 12, aKey+3, 1), LSM_OK);
    }
  }
  assert_int_equal(lsmBlockBuilderFinish(&b, &a, &n), LSM_OK);
  assert_int_equal(lsmBlockParse(&blk, a, n, "t.sst", 0), LSM_OK);
  lsmBlockIterInit(&it);
  lsmBlockIterSetBlock(&it, &blk, LSM_BLOCK_IKEY, "t.sst", 0);
  lsmBlockIterInit(&it2);
  lsmBlockIterSetBlock(&it2, &blk, LSM_BLOCK_IKEY, "t.sst", 0);
  assert_int_equal(lsmBlockSummaryBuild(&it2, &sum), LSM_OK);
  for(iKey=0; iKey<20; iKey++){
    /* At snapshot 35+iKey the newest visible version is seq 30+iKey. */
    memcpy(aKey, "key", 3);
    aKey[3] = (uint8_t)('A' + iKey);
    lsmPut64(aKey+4, lsmIkeyLookupTrailer((uint64_t)(35 + iKey)));
    assert_int_equal(seekBoth(&it, &it2, &sum, aKey, 12), LSM_OK);
    assert_true(lsmBlockIterValid(&it));
    assert_int_equal(lsmIkeySeq(it.key.p, it.key.n), (uint64_t)(30 + iKey));
    assert_memory_equal(it.key.p, aKey, 4);
    /* Below every version: the first version of the next key. */
    lsmPut64(aKey+4, lsmIkeyLookupTrailer((uint64_t)(5 + iKey)));
    assert_int_equal(seekBoth(&it, &it2, &sum, aKey, 12), LSM_OK);
    if( iKey<19 ){
      assert_true(lsmBlockIterValid(&it));
      assert_int_equal(it.key.p[3], 'A' + iKey + 1);
      assert_int_equal(lsmIkeySeq(it.key.p, it.key.n), (uint64_t)(51 + iKey));
    }else{
      assert_false(lsmBlockIterValid(&it));
    }
  }
  lsmBlockSummaryFree(&sum);
  lsmBlockIterFree(&it);
  lsmBlockIterFree(&it2);
  lsmBlockBuilderFree(&b);
}

/* 1 MiB keys and values. */
static void test_block_large(void **state){
  size_t nBig = 1024*1024;
  uint8_t *pKey = malloc(nBig + 1), *pVal = malloc(nBig);
  LsmBlockBuilder b;
  LsmBlock blk;
  LsmBlockIter it;
  const uint8_t *a;
  size_t n, i;
  uint64_t rng = 7;
  (void)state;
  for(i=0; i<nBig; i++){
    pKey[i] = (uint8_t)testRand(&rng);
    pVal[i] = (uint8_t)testRand(&rng);
  }
  pKey[nBig] = 0;
  lsmBlockBuilderInit(&b, 16);
  assert_int_equal(lsmBlockBuilderAdd(&b, pKey, nBig, pVal, nBig), LSM_OK);
  /* The same key plus one byte: shares the whole megabyte. */
  assert_int_equal(lsmBlockBuilderAdd(&b, pKey, nBig+1, pVal, 10), LSM_OK);
  assert_int_equal(lsmBlockBuilderFinish(&b, &a, &n), LSM_OK);
  assert_true(n < 2*nBig + 100);
  assert_int_equal(lsmBlockParse(&blk, a, n, "t.sst", 0), LSM_OK);
  lsmBlockIterInit(&it);
  lsmBlockIterSetBlock(&it, &blk, LSM_BLOCK_BYTES, "t.sst", 0);
  assert_int_equal(lsmBlockIterLast(&it), LSM_OK);
  assert_int_equal(it.key.n, nBig+1);
  assert_memory_equal(it.key.p, pKey, nBig+1);
  assert_int_equal(lsmBlockIterPrev(&it), LSM_OK);
  assert_int_equal(it.key.n, nBig);
  assert_int_equal(it.nVal, nBig);
  assert_memory_equal(it.pVal, pVal, nBig);
  assert_int_equal(lsmBlockIterSeek(&it, pKey, nBig+1), LSM_OK);
  assert_int_equal(it.nVal, 10);
  lsmBlockIterFree(&it);
  lsmBlockBuilderFree(&b);
  free(pKey);
  free(pVal);
}

/*
** Run every reader operation over a[0..n-1], which may be damaged.
** Each must return LSM_OK or LSM_CORRUPT, never crash or read outside.
** Returns non-zero if any reported corruption.
*/
static int readEverything(const uint8_t *a, size_t n, int eOrder){
  LsmBlock blk;
  LsmBlockIter it;
  int rc, bCorrupt = 0, nStep;
  uint8_t aProbe[12] = { 'a','b','c',0, 0,0,0,0, 0,0,0,0 };
  lsmErrClear();
  rc = lsmBlockParse(&blk, a, n, "damaged.sst", 4096);
  if( rc!=LSM_OK ){
    assert_int_equal(rc, LSM_CORRUPT);
    assert_non_null(strstr(lsmErrMsg(), "damaged.sst"));
    assert_non_null(strstr(lsmErrMsg(), "4096"));
    return 1;
  }
  lsmBlockIterInit(&it);
  lsmBlockIterSetBlock(&it, &blk, eOrder, "damaged.sst", 4096);
  rc = lsmBlockIterFirst(&it);
  for(nStep=0; rc==LSM_OK && lsmBlockIterValid(&it); nStep++){
    assert_true(nStep<100000);
    rc = lsmBlockIterNext(&it);
  }
  if( rc!=LSM_OK ){ assert_int_equal(rc, LSM_CORRUPT); bCorrupt = 1; }
  rc = lsmBlockIterLast(&it);
  for(nStep=0; rc==LSM_OK && lsmBlockIterValid(&it); nStep++){
    assert_true(nStep<100000);
    rc = lsmBlockIterPrev(&it);
  }
  if( rc!=LSM_OK ){ assert_int_equal(rc, LSM_CORRUPT); bCorrupt = 1; }
  rc = lsmBlockIterSeek(&it, aProbe, sizeof(aProbe));
  if( rc!=LSM_OK ){ assert_int_equal(rc, LSM_CORRUPT); bCorrupt = 1; }
  if( bCorrupt ) assert_non_null(strstr(lsmErrMsg(), "damaged.sst"));
  lsmBlockIterFree(&it);
  return bCorrupt;
}

/* Specific malformed fields, each detected. */
static void test_block_corrupt_fields(void **state){
  uint8_t a[64] = {0};
  (void)state;

  /* Too short for a count. */
  assert_true(readEverything(a, 3, LSM_BLOCK_BYTES));
  /* Restart count larger than the block. */
  lsmPut32(a, 1000);
  assert_true(readEverything(a, 4, LSM_BLOCK_BYTES));
  /* Entries but no restart point. */
  memcpy(a, "\0\1\0x", 4);
  lsmPut32(a+4, 0);
  assert_true(readEverything(a, 8, LSM_BLOCK_BYTES));
  /* First restart offset not 0. */
  memcpy(a, "\0\1\0x", 4);
  lsmPut32(a+4, 1);
  lsmPut32(a+8, 1);
  assert_true(readEverything(a, 12, LSM_BLOCK_BYTES));
  /* Restart entry with a shared prefix. */
  memcpy(a, "\1\1\0x", 4);
  lsmPut32(a+4, 0);
  lsmPut32(a+8, 1);
  assert_true(readEverything(a, 12, LSM_BLOCK_BYTES));
  /* Key length past the entries. */
  memcpy(a, "\0\x7f\0x", 4);
  lsmPut32(a+4, 0);
  lsmPut32(a+8, 1);
  assert_true(readEverything(a, 12, LSM_BLOCK_BYTES));
  /* Value length past the entries. */
  memcpy(a, "\0\1\x05x", 4);
  lsmPut32(a+4, 0);
  lsmPut32(a+8, 1);
  assert_true(readEverything(a, 12, LSM_BLOCK_BYTES));
  /* A varint that never ends. */
  memcpy(a, "\0\x81\x82\x83", 4);
  lsmPut32(a+4, 0);
  lsmPut32(a+8, 1);
  assert_true(readEverything(a, 12, LSM_BLOCK_BYTES));
  /* An internal key shorter than its trailer. */
  memcpy(a, "\0\1\0x", 4);
  lsmPut32(a+4, 0);
  lsmPut32(a+8, 1);
  assert_true(readEverything(a, 12, LSM_BLOCK_IKEY));
  assert_false(readEverything(a, 12, LSM_BLOCK_BYTES));
}

/*
** Random damage: flipped bytes, bytes set to extremes, truncation.  A
** damaged copy lives in its own exact-size allocation so ASan sees any
** read past its end.
*/
static void test_block_corrupt_random(void **state){
  uint64_t rng = 99;
  Entries *pE = entriesNew(&rng, 300, "");
  size_t n;
  uint8_t *a = buildBlock(pE, 4, &n);
  int iTrial, nCorrupt = 0;
  (void)state;
  assert_false(readEverything(a, n, LSM_BLOCK_BYTES));
  for(iTrial=0; iTrial<3000; iTrial++){
    size_t nCopy = n;
    uint8_t *aCopy;
    int nFlip = 1 + (int)testRandRange(&rng, 3), i;
    if( iTrial%10==0 ) nCopy = testRandRange(&rng, (uint32_t)n);
    aCopy = malloc(nCopy ? nCopy : 1);
    memcpy(aCopy, a, nCopy);
    for(i=0; i<nFlip && nCopy>0; i++){
      size_t iByte = testRandRange(&rng, (uint32_t)nCopy);
      /* Bias toward the restart array and lengths near the end. */
      if( i==0 && iTrial%3==0 && nCopy>40 ){
        iByte = nCopy - 1 - testRandRange(&rng, 40);
      }
      switch( testRandRange(&rng, 3) ){
        case 0: aCopy[iByte] ^= (uint8_t)(1 + testRandRange(&rng, 255)); break;
        case 1: aCopy[iByte] = 0xff; break;
        default: aCopy[iByte] = 0; break;
      }
    }
    nCorrupt += readEverything(aCopy, nCopy, iTrial%2 ? LSM_BLOCK_IKEY
                                                      : LSM_BLOCK_BYTES);
    free(aCopy);
  }
  /* Most damage is visible to the block layer (the rest, such as a
  ** changed value byte, is the checksum's job). */
  assert_true(nCorrupt>300);
  free(a);
  entriesFree(pE);
}

/*
** Regression (found by tests/fuzz/fuzz_table): a restart point inside the
** last entry.  The forward walk used to stop at the end of the entries
** without noticing it, so it (and lsmTableCheck, which walks forward)
** accepted a block that the reverse walk, starting at that restart
** point, rejected.  Both now report it, and so does a seek that runs to
** the end.
*/
static void test_block_restart_inside_last_entry(void **state){
  /* "a" at 0 (4 bytes), "bcd" at 4 (6 bytes); restarts 0 and 7. */
  static const uint8_t aEntries[] = { 0,1,0,'a', 0,3,0,'b','c','d' };
  uint8_t a[22];
  LsmBlock block;
  LsmBlockIter it;
  int rc;
  (void)state;
  memcpy(a, aEntries, 10);
  lsmPut32(a+10, 0);
  lsmPut32(a+14, 7);
  lsmPut32(a+18, 2);
  assert_int_equal(lsmBlockParse(&block, a, sizeof(a), "t.sst", 0), LSM_OK);
  lsmBlockIterInit(&it);
  lsmBlockIterSetBlock(&it, &block, LSM_BLOCK_BYTES, "t.sst", 0);
  assert_int_equal(lsmBlockIterFirst(&it), LSM_OK);
  assert_true(it.bValid);
  assert_int_equal(lsmBlockIterNext(&it), LSM_OK);
  assert_true(it.bValid);
  assert_memory_equal(it.key.p, "bcd", 3);
  rc = lsmBlockIterNext(&it);
  assert_int_equal(rc, LSM_CORRUPT);
  assert_false(it.bValid);
  assert_non_null(strstr(lsmErrMsg(), "overlaps a restart point"));
  assert_int_equal(lsmBlockIterLast(&it), LSM_CORRUPT);
  assert_int_equal(lsmBlockIterSeek(&it, (const uint8_t*)"z", 1), LSM_CORRUPT);
  lsmBlockIterFree(&it);
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_block_restart_inside_last_entry),
    cmocka_unit_test(test_block_roundtrip),
    cmocka_unit_test(test_block_empty),
    cmocka_unit_test(test_block_layout),
    cmocka_unit_test(test_block_ikey),
    cmocka_unit_test(test_block_large),
    cmocka_unit_test(test_block_corrupt_fields),
    cmocka_unit_test(test_block_corrupt_random),
  };
  return cmocka_run_group_tests(tests, 0, 0);
}
