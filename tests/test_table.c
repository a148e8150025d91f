/*
** test_table.c -- unit tests of sorted tables (lsm/table.c): builder,
** reader, iterator, table cache and checker.
**
** Round trips: an empty table, one key, 100,000 keys over many blocks with
** and without LZ4, 1 MiB keys and values, many versions of each key with
** tombstones read at many snapshots, and iterator seeks followed by steps
** in both directions, all compared with a model.  Corruption: a byte
** changed in a data block, the index, the filter, the properties and
** every byte of the footer gives LSM_CORRUPT naming the file; every byte
** of a small table is flipped in turn and each flip is detected; and
** blocks damaged behind a recomputed checksum are read without crashing
** (run under AddressSanitizer).  The table cache keeps the number of open
** files at or under its limit while serving more tables than that.  The
** blocks' CRC32C gives the known answer, and its hardware path (three
** interleaved chunks) matches the software tables and a bit-at-a-time
** reference at lengths around the chunk boundaries and at unaligned
** starts.  All randomness is seeded.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "cache.h"
#include "coding.h"
#include "ikey.h"
#include "table.h"
#include "util.h"
#include "support/testenv.h"
#include "support/testutil.h"

/* Layout constants the tests check against (FORMAT.md). */
#define FOOTER_SIZE   64
#define TRAILER_SIZE  5

static char *zDir;           /* the test's temporary directory */

static int setup(void **state){
  (void)state;
  zDir = testTempDir("table");
  return zDir ? 0 : -1;
}

static int teardown(void **state){
  (void)state;
  testRmTree(zDir);
  free(zDir);
  zDir = 0;
  return 0;
}

/* zDir/NNNNNN.sst in a static buffer (one at a time). */
static const char *tablePath(int iFile){
  static char zPath[512];
  snprintf(zPath, sizeof(zPath), "%s/%06d.sst", zDir, iFile);
  return zPath;
}

static LsmTableOptions defaultOpts(void){
  LsmTableOptions o;
  o.block_size = 4096;
  o.restart_interval = 16;
  o.bloom_bits = 10;
  o.compression = LSM_COMPRESSION_LZ4;
  return o;
}

/*
** The model: entries in internal-key order.  Keys are user key + trailer;
** values are malloc'd.
*/
typedef struct Entry {
  uint8_t *pIkey;
  size_t nIkey;
  uint8_t *pVal;
  size_t nVal;
} Entry;

typedef struct Model {
  Entry *a;
  int n, nAlloc;
} Model;

static void modelAdd(Model *p, const void *pKey, size_t nKey, uint64_t seq,
                     int kind, const void *pVal, size_t nVal){
  Entry *e;
  if( p->n==p->nAlloc ){
    p->nAlloc = p->nAlloc ? 2*p->nAlloc : 64;
    p->a = realloc(p->a, (size_t)p->nAlloc*sizeof(Entry));
    assert_non_null(p->a);
  }
  e = &p->a[p->n++];
  e->nIkey = nKey + LSM_IKEY_TRAILER;
  e->pIkey = malloc(e->nIkey);
  assert_non_null(e->pIkey);
  if( nKey ) memcpy(e->pIkey, pKey, nKey);
  lsmPut64(e->pIkey + nKey, lsmIkeyTrailer(seq, kind));
  e->nVal = nVal;
  e->pVal = malloc(nVal + 1);
  assert_non_null(e->pVal);
  if( nVal ) memcpy(e->pVal, pVal, nVal);
}

static void modelFree(Model *p){
  int i;
  for(i=0; i<p->n; i++){
    free(p->a[i].pIkey);
    free(p->a[i].pVal);
  }
  free(p->a);
  memset(p, 0, sizeof(*p));
}

/* Write the model to table file iFile; return its properties. */
static void buildTable(const Model *pM, int iFile, const LsmTableOptions *pO,
                       LsmTableProps *pProps){
  LsmTableBuilder *pB = 0;
  int i;
  assert_int_equal(lsmTableBuilderNew(lsm_env_default(), tablePath(iFile), pO,
                                      &pB), LSM_OK);
  for(i=0; i<pM->n; i++){
    const Entry *e = &pM->a[i];
    assert_int_equal(lsmTableBuilderAdd(pB, e->pIkey, e->nIkey, e->pVal,
                                        e->nVal), LSM_OK);
  }
  assert_int_equal(lsmTableBuilderCount(pB), (uint64_t)pM->n);
  assert_int_equal(lsmTableBuilderFinish(pB, pProps), LSM_OK);
}

static void assertEntry(LsmIter *pIter, const Entry *e){
  const uint8_t *p;
  size_t n;
  assert_true(lsmIterValid(pIter));
  lsmIterKey(pIter, &p, &n);
  assert_int_equal(n, e->nIkey);
  assert_memory_equal(p, e->pIkey, n);
  lsmIterValue(pIter, &p, &n);
  assert_int_equal(n, e->nVal);
  if( n ) assert_memory_equal(p, e->pVal, n);
}

/* Iterate the whole table both ways and compare with the model. */
static void checkIterate(LsmTable *pTab, const Model *pM, int bFillCache){
  LsmIter *pIter = 0;
  int i;
  assert_int_equal(lsmTableIterNew(pTab, bFillCache, &pIter), LSM_OK);
  assert_false(lsmIterValid(pIter));
  assert_int_equal(lsmIterFirst(pIter), LSM_OK);
  for(i=0; i<pM->n; i++){
    assertEntry(pIter, &pM->a[i]);
    assert_int_equal(lsmIterNext(pIter), LSM_OK);
  }
  assert_false(lsmIterValid(pIter));
  assert_int_equal(lsmIterLast(pIter), LSM_OK);
  for(i=pM->n-1; i>=0; i--){
    assertEntry(pIter, &pM->a[i]);
    assert_int_equal(lsmIterPrev(pIter), LSM_OK);
  }
  assert_false(lsmIterValid(pIter));
  lsmIterClose(pIter);
}

/*
** What lsmTableGet must return for user key pKey at snapshot seq: the
** first model entry with that user key and sequence <= seq.
*/
static void checkGet(LsmTable *pTab, const Model *pM, const uint8_t *pKey,
                     size_t nKey, uint64_t seq){
  LsmBuf val = {0, 0, 0};
  int bDeleted = -1, lo = 0, hi = pM->n, rc;
  const Entry *pFound = 0;
  uint8_t *pLookup = malloc(nKey + LSM_IKEY_TRAILER);
  /* Binary search for the first entry >= (pKey, lookup trailer of seq). */
  if( nKey ) memcpy(pLookup, pKey, nKey);
  lsmPut64(pLookup + nKey, lsmIkeyLookupTrailer(seq));
  while( lo<hi ){
    int mid = (lo + hi)/2;
    const Entry *e = &pM->a[mid];
    if( lsmIkeyCompare(e->pIkey, e->nIkey, pLookup, nKey+8)<0 ) lo = mid+1;
    else hi = mid;
  }
  free(pLookup);
  if( lo<pM->n
   && lsmUkeyCompare(pM->a[lo].pIkey, lsmIkeyUserLen(pM->a[lo].nIkey),
                     pKey, nKey)==0 ){
    pFound = &pM->a[lo];
  }
  rc = lsmTableGet(pTab, pKey, nKey, seq, &val, &bDeleted);
  if( pFound==0 ){
    assert_int_equal(rc, LSM_NOTFOUND);
  }else{
    assert_int_equal(rc, LSM_OK);
    if( lsmIkeyKind(pFound->pIkey, pFound->nIkey)==LSM_KIND_DELETE ){
      assert_int_equal(bDeleted, 1);
    }else{
      assert_int_equal(bDeleted, 0);
      assert_int_equal(val.n, pFound->nVal);
      if( val.n ) assert_memory_equal(val.p, pFound->pVal, val.n);
    }
  }
  lsmBufFree(&val);
}

static void test_table_empty(void **state){
  Model m = {0, 0, 0};
  LsmTableOptions o = defaultOpts();
  LsmTableProps props;
  LsmTable *pTab = 0;
  LsmBuf val = {0, 0, 0};
  int bDeleted;
  (void)state;
  buildTable(&m, 1, &o, &props);
  assert_int_equal(props.nEntry, 0);
  assert_int_equal(props.nDataBlock, 0);
  assert_int_equal(props.smallest.n, 0);
  assert_true(props.nFileSize>FOOTER_SIZE);
  assert_int_equal(lsmTableOpen(lsm_env_default(), tablePath(1), 1, 0, 0,
                                &pTab), LSM_OK);
  assert_int_equal(lsmTableProps(pTab)->nEntry, 0);
  assert_int_equal(lsmTableProps(pTab)->nFileSize, props.nFileSize);
  assert_int_equal(lsmTableGet(pTab, (const uint8_t*)"a", 1, 100, &val,
                               &bDeleted), LSM_NOTFOUND);
  checkIterate(pTab, &m, 1);
  {
    LsmIter *pIter;
    uint8_t aKey[9] = "a";
    lsmPut64(aKey+1, lsmIkeyLookupTrailer(5));
    assert_int_equal(lsmTableIterNew(pTab, 1, &pIter), LSM_OK);
    assert_int_equal(lsmIterSeek(pIter, aKey, 9), LSM_OK);
    assert_false(lsmIterValid(pIter));
    lsmIterClose(pIter);
  }
  lsmTableUnref(pTab);
  assert_int_equal(lsmTableCheck(lsm_env_default(), tablePath(1)), LSM_OK);
  lsmTablePropsClear(&props);

  /* No filter at all. */
  o.bloom_bits = 0;
  buildTable(&m, 2, &o, &props);
  assert_int_equal(lsmTableCheck(lsm_env_default(), tablePath(2)), LSM_OK);
  lsmTablePropsClear(&props);
}

static void test_table_one_key(void **state){
  Model m = {0, 0, 0};
  LsmTableOptions o = defaultOpts();
  LsmTableProps props;
  LsmTable *pTab = 0;
  (void)state;
  modelAdd(&m, "hello", 5, 42, LSM_KIND_VALUE, "world", 5);
  buildTable(&m, 1, &o, &props);
  assert_int_equal(props.nEntry, 1);
  assert_int_equal(props.nDataBlock, 1);
  assert_int_equal(props.minSeq, 42);
  assert_int_equal(props.maxSeq, 42);
  assert_int_equal(props.nRawKey, 13);
  assert_int_equal(props.nRawValue, 5);
  assert_int_equal(props.smallest.n, 13);
  assert_memory_equal(props.smallest.p, m.a[0].pIkey, 13);
  assert_memory_equal(props.largest.p, m.a[0].pIkey, 13);
  assert_int_equal(lsmTableOpen(lsm_env_default(), tablePath(1), 1, 0, 0,
                                &pTab), LSM_OK);
  checkIterate(pTab, &m, 1);
  checkGet(pTab, &m, (const uint8_t*)"hello", 5, 42);
  checkGet(pTab, &m, (const uint8_t*)"hello", 5, 41);
  checkGet(pTab, &m, (const uint8_t*)"hello", 5, LSM_MAX_SEQ);
  checkGet(pTab, &m, (const uint8_t*)"hell", 4, 100);
  checkGet(pTab, &m, (const uint8_t*)"hello!", 6, 100);
  checkGet(pTab, &m, (const uint8_t*)"", 0, 100);
  assert_memory_equal(lsmTableProps(pTab)->largest.p, m.a[0].pIkey, 13);
  lsmTableUnref(pTab);
  assert_int_equal(lsmTableCheck(lsm_env_default(), tablePath(1)), LSM_OK);
  lsmTablePropsClear(&props);
  modelFree(&m);
}

/* db_bench-like value: 50 random bytes, then the same 50 again. */
static void benchValue(uint64_t *pRng, uint8_t *aVal){
  int i;
  for(i=0; i<50; i+=8){
    uint64_t r = testRand(pRng);
    memcpy(aVal+i, &r, i+8<=50 ? 8 : 50-i);
  }
  memcpy(aVal+50, aVal, 50);
}

/* 100,000 keys: even numbers, so odd numbers are absent. */
static void manyKeys(int iFile, int compression, int nStride, int bIterate,
                     uint64_t *pnFile){
  Model m = {0, 0, 0};
  LsmTableOptions o = defaultOpts();
  LsmTableProps props;
  LsmTable *pTab = 0;
  LsmCache *pCache = 0;
  LsmReadStats stats;
  uint64_t rng = 11;
  int i, nKey = 100000;
  char zKey[32];
  uint8_t aVal[100];

  memset(&stats, 0, sizeof(stats));
  for(i=0; i<nKey; i++){
    snprintf(zKey, sizeof(zKey), "%016d", 2*i);
    benchValue(&rng, aVal);
    modelAdd(&m, zKey, 16, (uint64_t)i+1,
             (i%97)==5 ? LSM_KIND_DELETE : LSM_KIND_VALUE,
             aVal, (i%97)==5 ? 0 : 100);
  }
  o.compression = compression;
  buildTable(&m, iFile, &o, &props);
  assert_int_equal(props.nEntry, (uint64_t)nKey);
  assert_int_equal(props.nTombstone, (uint64_t)(nKey/97 + (nKey%97>5)));
  assert_int_equal(props.minSeq, 1);
  assert_int_equal(props.maxSeq, (uint64_t)nKey);
  assert_true(props.nDataBlock>1000);
  *pnFile = props.nFileSize;

  assert_int_equal(lsmCacheNew(64*1024*1024, &pCache), LSM_OK);
  assert_int_equal(lsmTableOpen(lsm_env_default(), tablePath(iFile), iFile,
                                pCache, &stats, &pTab), LSM_OK);
  assert_int_equal(lsmTableProps(pTab)->nDataBlock, props.nDataBlock);
  assert_int_equal(lsmTableProps(pTab)->nEntry, props.nEntry);
  for(i=0; i<nKey; i+=nStride){
    LsmBuf val = {0, 0, 0};
    int bDeleted = -1;
    const Entry *e = &m.a[i];
    assert_int_equal(lsmTableGet(pTab, e->pIkey, 16, LSM_MAX_SEQ, &val,
                                 &bDeleted), LSM_OK);
    assert_int_equal(bDeleted, (i%97)==5);
    if( !bDeleted ){
      assert_int_equal(val.n, 100);
      assert_memory_equal(val.p, e->pVal, 100);
    }
    if( i%(2*nStride)==0 ){
      /* Just below the key's sequence: nothing visible. */
      assert_int_equal(lsmTableGet(pTab, e->pIkey, 16, (uint64_t)i, &val,
                                   &bDeleted), LSM_NOTFOUND);
      /* An absent key between two present ones. */
      snprintf(zKey, sizeof(zKey), "%016d", 2*i+1);
      assert_int_equal(lsmTableGet(pTab, (const uint8_t*)zKey, 16,
                                   LSM_MAX_SEQ, &val, &bDeleted),
                       LSM_NOTFOUND);
    }
    lsmBufFree(&val);
  }
  /* The filter turned away most absent keys; the cache served most
  ** present ones. */
  {
    uint64_t nGet = (uint64_t)nKey/(uint64_t)nStride;
    assert_true(stats.nBloomUseful>nGet/2*9/10);
    /* Useless: the filter passed the key but the table held no visible
    ** version -- every read below a key's sequence, plus false
    ** positives. */
    assert_true(stats.nBloomUseless>=nGet/2);
    assert_true(stats.nBloomUseless<nGet/2 + nGet/50);
    assert_true(stats.nTableProbe>=nGet*2 - 1);
    /* Every block read once (at most), then served from the cache. */
    assert_true(stats.nCacheMiss<=props.nDataBlock);
    assert_true(stats.nCacheHit>nGet);
  }
  if( bIterate ) checkIterate(pTab, &m, 0);
  lsmTableUnref(pTab);
  lsmCacheFree(pCache);
  assert_int_equal(lsmTableCheck(lsm_env_default(), tablePath(iFile)), LSM_OK);
  lsmTablePropsClear(&props);
  modelFree(&m);
}

static void test_table_many(void **state){
  uint64_t nRaw, nLz4;
  (void)state;
  manyKeys(1, LSM_COMPRESSION_NONE, 13, 0, &nRaw);
  manyKeys(2, LSM_COMPRESSION_LZ4, 7, 1, &nLz4);
  print_message("100k entries: %llu bytes raw, %llu with LZ4\n",
                (unsigned long long)nRaw, (unsigned long long)nLz4);
  assert_true(nLz4 < nRaw*3/4);
}

/*
** Many versions of each key, some tombstones, tiny blocks so that the
** versions of one key straddle block boundaries; reads at every
** snapshot in range.
*/
static void buildVersions(Model *pM, uint64_t *pRng){
  int iKey, v;
  for(iKey=0; iKey<300; iKey++){
    char zKey[32];
    int nVersion = 1 + (int)testRandRange(pRng, 6);
    int nKey = snprintf(zKey, sizeof(zKey), "user%05d%s", iKey*3,
                        (iKey%7)==0 ? "-with-a-longer-suffix" : "");
    for(v=nVersion; v>=1; v--){            /* newest first */
      uint64_t seq = (uint64_t)iKey*10 + (uint64_t)v;
      char zVal[48];
      int nVal = snprintf(zVal, sizeof(zVal), "value of %s at %llu", zKey,
                          (unsigned long long)seq);
      int kind = testRandRange(pRng, 4)==0 ? LSM_KIND_DELETE : LSM_KIND_VALUE;
      modelAdd(pM, zKey, (size_t)nKey, seq, kind, zVal,
               kind==LSM_KIND_VALUE ? (size_t)nVal : 0);
    }
  }
}

static void test_table_versions(void **state){
  Model m = {0, 0, 0};
  LsmTableOptions o = defaultOpts();
  LsmTableProps props;
  LsmTable *pTab = 0;
  uint64_t rng = 3;
  int iKey, iCase;
  (void)state;
  buildVersions(&m, &rng);
  for(iCase=0; iCase<3; iCase++){
    o.block_size = iCase==0 ? 64 : iCase==1 ? 200 : 4096;
    o.restart_interval = iCase==0 ? 1 : iCase==1 ? 2 : 16;
    o.compression = iCase==1 ? LSM_COMPRESSION_NONE : LSM_COMPRESSION_LZ4;
    buildTable(&m, 10+iCase, &o, &props);
    assert_int_equal(lsmTableOpen(lsm_env_default(), tablePath(10+iCase),
                                  10+iCase, 0, 0, &pTab), LSM_OK);
    checkIterate(pTab, &m, 1);
    for(iKey=0; iKey<910; iKey++){
      char zKey[32];
      uint64_t seq;
      int nKey = snprintf(zKey, sizeof(zKey), "user%05d%s", iKey,
                          (iKey%21)==0 ? "-with-a-longer-suffix" : "");
      for(seq=(uint64_t)(iKey/3)*10; seq<=(uint64_t)(iKey/3)*10+7; seq++){
        checkGet(pTab, &m, (const uint8_t*)zKey, (size_t)nKey, seq);
      }
    }
    lsmTableUnref(pTab);
    assert_int_equal(lsmTableCheck(lsm_env_default(), tablePath(10+iCase)),
                     LSM_OK);
    lsmTablePropsClear(&props);
  }
  modelFree(&m);
}

/* Seek to random internal keys, then walk both ways, against the model. */
static void test_table_iter_seek(void **state){
  Model m = {0, 0, 0};
  LsmTableOptions o = defaultOpts();
  LsmTableProps props;
  LsmTable *pTab = 0;
  LsmIter *pIter = 0;
  uint64_t rng = 17;
  int iTrial;
  (void)state;
  buildVersions(&m, &rng);
  o.block_size = 128;
  o.restart_interval = 3;
  buildTable(&m, 20, &o, &props);
  assert_int_equal(lsmTableOpen(lsm_env_default(), tablePath(20), 20, 0, 0,
                                &pTab), LSM_OK);
  assert_int_equal(lsmTableIterNew(pTab, 1, &pIter), LSM_OK);
  /* The iterator holds its own reference. */
  lsmTableUnref(pTab);
  for(iTrial=0; iTrial<2000; iTrial++){
    uint8_t aTarget[64];
    int nUser, iExpect, iStep, i;
    char zKey[40];
    uint64_t seq = testRandRange(&rng, 3100);
    int iKey = (int)testRandRange(&rng, 920);
    nUser = snprintf(zKey, sizeof(zKey), "user%05d%s", iKey,
                     (iKey%21)==0 ? "-with-a-longer-suffix" : "");
    memcpy(aTarget, zKey, (size_t)nUser);
    lsmPut64(aTarget + nUser, lsmIkeyLookupTrailer(seq));
    iExpect = m.n;
    for(i=0; i<m.n; i++){
      if( lsmIkeyCompare(m.a[i].pIkey, m.a[i].nIkey, aTarget,
                         (size_t)nUser+8)>=0 ){
        iExpect = i;
        break;
      }
    }
    assert_int_equal(lsmIterSeek(pIter, aTarget, (size_t)nUser+8), LSM_OK);
    if( iExpect==m.n ){
      assert_false(lsmIterValid(pIter));
      continue;
    }
    assertEntry(pIter, &m.a[iExpect]);
    if( iTrial%2 ){
      for(iStep=1; iStep<=5 && iExpect+iStep<=m.n; iStep++){
        assert_int_equal(lsmIterNext(pIter), LSM_OK);
        if( iExpect+iStep==m.n ){
          assert_false(lsmIterValid(pIter));
        }else{
          assertEntry(pIter, &m.a[iExpect+iStep]);
        }
      }
    }else{
      for(iStep=1; iStep<=5 && iExpect-iStep>=-1; iStep++){
        assert_int_equal(lsmIterPrev(pIter), LSM_OK);
        if( iExpect-iStep<0 ){
          assert_false(lsmIterValid(pIter));
        }else{
          assertEntry(pIter, &m.a[iExpect-iStep]);
        }
      }
    }
  }
  lsmIterClose(pIter);
  lsmTablePropsClear(&props);
  modelFree(&m);
}

/* 1 MiB keys and values, compressible and not, LZ4 on and off. */
static void test_table_large(void **state){
  size_t nBig = 1024*1024;
  uint8_t *pKey = malloc(nBig), *pVal = malloc(nBig);
  Model m = {0, 0, 0};
  LsmTableOptions o = defaultOpts();
  LsmTableProps props;
  LsmTable *pTab = 0;
  uint64_t rng = 23, nRaw = 0;
  size_t j;
  int i, iCase;
  (void)state;
  for(j=0; j<nBig; j+=8){
    uint64_t r = testRand(&rng);
    memcpy(pKey+j, &r, 8);
  }
  for(i=0; i<2; i++){
    pKey[0] = (uint8_t)(i*10);
    for(j=0; j<nBig; j+=8){
      uint64_t r = testRand(&rng);
      if( i%2 ) memcpy(pVal+j, &r, 8);
      else memset(pVal+j, 'a' + (int)(j/1000)%26, 8);
    }
    modelAdd(&m, pKey, nBig, 100+(uint64_t)i, LSM_KIND_VALUE, pVal, nBig);
    modelAdd(&m, pKey, nBig, 50+(uint64_t)i, LSM_KIND_VALUE, "old", 3);
  }
  for(iCase=0; iCase<2; iCase++){
    o.compression = iCase ? LSM_COMPRESSION_LZ4 : LSM_COMPRESSION_NONE;
    buildTable(&m, 30+iCase, &o, &props);
    /* Every entry has a 1 MiB key, so each fills a block alone.  Raw:
    ** 4 keys, 2 values, and an index holding 2 whole keys (between two
    ** versions of a key) and a one-byte separator (between keys, which
    ** differ in their first byte) and the last key.  LZ4 squeezes the
    ** repetitive value, not the random one nor the keys. */
    assert_int_equal(props.nDataBlock, 4);
    if( iCase==0 ) nRaw = props.nFileSize;
    else assert_true(props.nFileSize < nRaw - 3*nBig/4);
    assert_true(nRaw > 8*nBig);
    assert_int_equal(lsmTableOpen(lsm_env_default(), tablePath(30+iCase),
                                  30+iCase, 0, 0, &pTab), LSM_OK);
    checkIterate(pTab, &m, 1);
    for(i=0; i<2; i++){
      pKey[0] = (uint8_t)(i*10);
      checkGet(pTab, &m, pKey, nBig, LSM_MAX_SEQ);
      checkGet(pTab, &m, pKey, nBig, 60);
      checkGet(pTab, &m, pKey, nBig, 10);
      pKey[0] = (uint8_t)(i*10+5);
      checkGet(pTab, &m, pKey, nBig, LSM_MAX_SEQ);
    }
    lsmTableUnref(pTab);
    assert_int_equal(lsmTableCheck(lsm_env_default(), tablePath(30+iCase)),
                     LSM_OK);
    lsmTablePropsClear(&props);
  }
  modelFree(&m);
  free(pKey);
  free(pVal);
}

/*************************************************************************
** Corruption.
*/

static uint8_t *readFile(const char *zPath, size_t *pn){
  FILE *f = fopen(zPath, "rb");
  uint8_t *a;
  long n;
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  a = malloc((size_t)n + 1);
  assert_int_equal(fread(a, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *pn = (size_t)n;
  return a;
}

static void writeFile(const char *zPath, const uint8_t *a, size_t n){
  FILE *f = fopen(zPath, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(a, 1, n, f), n);
  fclose(f);
}

/* The worked example of FORMAT.md, byte for byte. */
static void test_table_layout(void **state){
  static const uint8_t aExpect[163] = {
    /* data block and trailer */
    0x00,0x09,0x01, 0x6b,0x01,0x01,0x00,0x00,0x00,0x00,0x00,0x00, 0x76,
    0x00,0x00,0x00,0x00, 0x01,0x00,0x00,0x00,
    0x00, 0x02,0x53,0xbc,0xa3,
    /* filter block and trailer */
    0x80,0x01,0x30,0x00,0x02,0x40,0x00,0x08, 0x07,
    0x00, 0xc7,0x1c,0x6b,0x4a,
    /* properties block and trailer */
    0x01,0x00,0x01,0x01,0x09,0x01,0x01,
    0x09, 0x6b,0x01,0x01,0x00,0x00,0x00,0x00,0x00,0x00,
    0x09, 0x6b,0x01,0x01,0x00,0x00,0x00,0x00,0x00,0x00,
    0x00, 0x4d,0x1a,0x0d,0x92,
    /* index block and trailer */
    0x00,0x09,0x02, 0x6b,0x01,0x01,0x00,0x00,0x00,0x00,0x00,0x00, 0x00,0x15,
    0x00,0x00,0x00,0x00, 0x01,0x00,0x00,0x00,
    0x00, 0x32,0x2a,0x5b,0xfe,
    /* footer */
    0x1a,0,0,0,0,0,0,0, 0x09,0,0,0,0,0,0,0,
    0x28,0,0,0,0,0,0,0, 0x1b,0,0,0,0,0,0,0,
    0x48,0,0,0,0,0,0,0, 0x16,0,0,0,0,0,0,0,
    0x01,0x00,0x00,0x00, 0x5e,0x3b,0x0a,0x32,
    0x57,0xfb,0x80,0x8b,0x24,0x75,0x47,0xdb
  };
  Model m = {0, 0, 0};
  LsmTableOptions o = defaultOpts();
  LsmTableProps props;
  uint8_t *a;
  size_t n;
  (void)state;
  modelAdd(&m, "k", 1, 1, LSM_KIND_VALUE, "v", 1);
  o.compression = LSM_COMPRESSION_NONE;
  buildTable(&m, 5, &o, &props);
  a = readFile(tablePath(5), &n);
  assert_int_equal(n, sizeof(aExpect));
  assert_memory_equal(a, aExpect, n);
  free(a);
  lsmTablePropsClear(&props);
  modelFree(&m);
}

/*
** Read a (possibly damaged) table every way: open, iterate both ways,
** point reads, check.  Each step returns OK, NOTFOUND or CORRUPT, and a
** CORRUPT message names the file.  Returns non-zero if anything
** reported corruption.
*/
static int readDamaged(const char *zPath, const Model *pM){
  LsmTable *pTab = 0;
  LsmIter *pIter = 0;
  int rc, i, nStep, bCorrupt = 0;
  const char *zName = strrchr(zPath, '/') + 1;

  rc = lsmTableCheck(lsm_env_default(), zPath);
  if( rc!=LSM_OK ){
    assert_int_equal(rc, LSM_CORRUPT);
    assert_non_null(strstr(lsmErrMsg(), zName));
    bCorrupt = 1;
  }
  rc = lsmTableOpen(lsm_env_default(), zPath, 1, 0, 0, &pTab);
  if( rc!=LSM_OK ){
    assert_int_equal(rc, LSM_CORRUPT);
    assert_non_null(strstr(lsmErrMsg(), zName));
    assert_true(bCorrupt);
    return 1;
  }
  assert_int_equal(lsmTableIterNew(pTab, 1, &pIter), LSM_OK);
  rc = lsmIterFirst(pIter);
  for(nStep=0; rc==LSM_OK && lsmIterValid(pIter); nStep++){
    assert_true(nStep<=pM->n*2+10);
    rc = lsmIterNext(pIter);
  }
  if( rc!=LSM_OK ){
    assert_int_equal(rc, LSM_CORRUPT);
    assert_non_null(strstr(lsmErrMsg(), zName));
    bCorrupt = 1;
  }
  rc = lsmIterLast(pIter);
  for(nStep=0; rc==LSM_OK && lsmIterValid(pIter); nStep++){
    assert_true(nStep<=pM->n*2+10);
    rc = lsmIterPrev(pIter);
  }
  if( rc!=LSM_OK ){
    assert_int_equal(rc, LSM_CORRUPT);
    bCorrupt = 1;
  }
  for(i=0; i<pM->n; i+=7){
    LsmBuf val = {0, 0, 0};
    int bDeleted;
    const Entry *e = &pM->a[i];
    rc = lsmTableGet(pTab, e->pIkey, lsmIkeyUserLen(e->nIkey), LSM_MAX_SEQ,
                     &val, &bDeleted);
    if( rc==LSM_CORRUPT ){
      assert_non_null(strstr(lsmErrMsg(), zName));
      bCorrupt = 1;
    }else if( rc!=LSM_NOTFOUND ){
      assert_int_equal(rc, LSM_OK);
    }
    rc = lsmIterSeek(pIter, e->pIkey, e->nIkey);
    if( rc!=LSM_OK ){
      assert_int_equal(rc, LSM_CORRUPT);
      bCorrupt = 1;
    }
    lsmBufFree(&val);
  }
  lsmIterClose(pIter);
  lsmTableUnref(pTab);
  return bCorrupt;
}

/* Footer handles of a table image. */
typedef struct Footer {
  uint64_t iFilter, nFilter, iProps, nProps, iIndex, nIndex;
} Footer;

static Footer readFooter(const uint8_t *a, size_t n){
  Footer f;
  const uint8_t *p = a + n - FOOTER_SIZE;
  f.iFilter = lsmGet64(p);
  f.nFilter = lsmGet64(p+8);
  f.iProps = lsmGet64(p+16);
  f.nProps = lsmGet64(p+24);
  f.iIndex = lsmGet64(p+32);
  f.nIndex = lsmGet64(p+40);
  return f;
}

/*
** Stored size of the first data block of table image a[0..n-1]: the
** first position whose trailer CRC matches the bytes before it.
*/
static uint64_t firstBlockSize(const uint8_t *a, size_t n){
  uint64_t e;
  for(e=1; e+TRAILER_SIZE<=n; e++){
    if( lsmGet32(a + e + 1)==lsmCrc32c(lsmCrc32c(0, a, (size_t)e), a+e, 1) ){
      return e;
    }
  }
  fail_msg("no block trailer found");
  return 0;
}

/* Copy image a with byte iByte xor-ed with mask into zPath. */
static void writeDamaged(const char *zPath, const uint8_t *a, size_t n,
                         size_t iByte, uint8_t mask){
  uint8_t *aCopy = malloc(n);
  memcpy(aCopy, a, n);
  aCopy[iByte] ^= mask;
  writeFile(zPath, aCopy, n);
  free(aCopy);
}

static void buildSmallModel(Model *pM, int nKey){
  int i;
  for(i=0; i<nKey; i++){
    char zKey[32], zVal[32];
    int nK = snprintf(zKey, sizeof(zKey), "key%06d", i);
    int nV = snprintf(zVal, sizeof(zVal), "val%d", i*i);
    modelAdd(pM, zKey, (size_t)nK, (uint64_t)i+1, LSM_KIND_VALUE, zVal,
             (size_t)nV);
  }
}

/* One damaged byte in each part of the table. */
static void test_table_corrupt_parts(void **state){
  Model m = {0, 0, 0};
  LsmTableOptions o = defaultOpts();
  LsmTableProps props;
  char zDamaged[512];
  uint8_t *a;
  size_t n, i;
  Footer f;
  int iCase;
  (void)state;
  buildSmallModel(&m, 2000);
  for(iCase=0; iCase<2; iCase++){
    o.compression = iCase ? LSM_COMPRESSION_LZ4 : LSM_COMPRESSION_NONE;
    buildTable(&m, 40, &o, &props);
    a = readFile(tablePath(40), &n);
    f = readFooter(a, n);
    assert_int_equal(f.iProps, f.iFilter + f.nFilter + TRAILER_SIZE);
    assert_int_equal(f.iIndex, f.iProps + f.nProps + TRAILER_SIZE);
    assert_int_equal(f.iIndex + f.nIndex + TRAILER_SIZE + FOOTER_SIZE, n);
    snprintf(zDamaged, sizeof(zDamaged), "%s", tablePath(41));
    assert_false(readDamaged(tablePath(40), &m));

    /* A data block: open works, reads of that block fail. */
    writeDamaged(zDamaged, a, n, 10, 0x01);
    assert_int_equal(lsmTableCheck(lsm_env_default(), zDamaged), LSM_CORRUPT);
    assert_non_null(strstr(lsmErrMsg(), "000041.sst: data block at offset 0"));
    assert_non_null(strstr(lsmErrMsg(), "checksum mismatch"));
    assert_true(readDamaged(zDamaged, &m));
    /* A data block's trailer (type byte, checksum). */
    writeDamaged(zDamaged, a, n, f.iFilter - 5, 0x80);
    assert_true(readDamaged(zDamaged, &m));
    writeDamaged(zDamaged, a, n, f.iFilter - 1, 0x80);
    assert_true(readDamaged(zDamaged, &m));

    /* Each metadata block: open fails. */
    {
      uint64_t aOff[3];
      const char *azWhat[3] = { "index block", "filter block",
                                "properties block" };
      aOff[0] = f.iIndex + 2;
      aOff[1] = f.iFilter + 3;
      aOff[2] = f.iProps + 1;
      for(i=0; i<3; i++){
        LsmTable *pTab = 0;
        writeDamaged(zDamaged, a, n, (size_t)aOff[i], 0x10);
        assert_int_equal(lsmTableOpen(lsm_env_default(), zDamaged, 41, 0, 0,
                                      &pTab), LSM_CORRUPT);
        assert_null(pTab);
        assert_non_null(strstr(lsmErrMsg(), "000041.sst"));
        assert_non_null(strstr(lsmErrMsg(), azWhat[i]));
        assert_true(readDamaged(zDamaged, &m));
      }
    }
    /* Every byte of the footer, every bit pattern kind. */
    for(i=n-FOOTER_SIZE; i<n; i++){
      LsmTable *pTab = 0;
      writeDamaged(zDamaged, a, n, i, (uint8_t)(1 << (i%8)));
      assert_int_equal(lsmTableOpen(lsm_env_default(), zDamaged, 41, 0, 0,
                                    &pTab), LSM_CORRUPT);
      assert_non_null(strstr(lsmErrMsg(), "000041.sst"));
      assert_non_null(strstr(lsmErrMsg(), "footer"));
    }
    /* Truncated files. */
    for(i=0; i<n; i+=n/13+1){
      LsmTable *pTab = 0;
      writeFile(zDamaged, a, i);
      assert_int_equal(lsmTableOpen(lsm_env_default(), zDamaged, 41, 0, 0,
                                    &pTab), LSM_CORRUPT);
      assert_non_null(strstr(lsmErrMsg(), "000041.sst"));
    }
    free(a);
    lsmTablePropsClear(&props);
  }
  modelFree(&m);
}

/* Every byte of a small table flipped in turn: each flip is caught. */
static void test_table_corrupt_every_byte(void **state){
  Model m = {0, 0, 0};
  LsmTableOptions o = defaultOpts();
  LsmTableProps props;
  uint8_t *a;
  size_t n, i;
  (void)state;
  buildSmallModel(&m, 60);
  o.block_size = 256;
  o.restart_interval = 4;
  buildTable(&m, 50, &o, &props);
  a = readFile(tablePath(50), &n);
  assert_true(props.nDataBlock>3);
  for(i=0; i<n; i++){
    writeDamaged(tablePath(51), a, n, i, (uint8_t)(1 << (i%8)));
    if( !readDamaged(tablePath(51), &m) ){
      fail_msg("flip of byte %zu of %zu not detected", i, n);
    }
  }
  free(a);
  lsmTablePropsClear(&props);
  modelFree(&m);
}

/*
** Damage inside blocks behind a valid checksum: what a malicious or
** buggy writer could produce.  The reader must not crash or read out of
** bounds; every error is LSM_CORRUPT.
*/
static void test_table_corrupt_recrc(void **state){
  Model m = {0, 0, 0};
  LsmTableOptions o = defaultOpts();
  LsmTableProps props;
  uint64_t rng = 77;
  uint8_t *a;
  size_t n;
  Footer f;
  int iTrial, nCorrupt = 0;
  (void)state;
  buildSmallModel(&m, 300);
  o.block_size = 512;
  o.restart_interval = 4;
  o.compression = LSM_COMPRESSION_NONE;
  buildTable(&m, 60, &o, &props);
  a = readFile(tablePath(60), &n);
  f = readFooter(a, n);
  for(iTrial=0; iTrial<300; iTrial++){
    uint8_t *aCopy = malloc(n);
    uint64_t iBlock, nBlock;
    int nFlip = 1 + (int)testRandRange(&rng, 3), j;
    memcpy(aCopy, a, n);
    switch( iTrial%4 ){
      case 0: iBlock = f.iIndex; nBlock = f.nIndex; break;
      case 1: iBlock = f.iProps; nBlock = f.nProps; break;
      case 2: iBlock = f.iFilter; nBlock = f.nFilter; break;
      default: {
        /* The first data block: its size is in the first index entry,
        ** but any prefix of the data area will do for damage. */
        iBlock = 0;
        nBlock = 400;
        break;
      }
    }
    for(j=0; j<nFlip; j++){
      size_t iByte = (size_t)(iBlock + testRandRange(&rng, (uint32_t)nBlock));
      if( testRandRange(&rng, 2) ) aCopy[iByte] = (uint8_t)testRand(&rng);
      else aCopy[iByte] ^= 0x80;
    }
    if( iTrial%4!=3 ){
      lsmPut32(aCopy + iBlock + nBlock + 1,
               lsmCrc32c(lsmCrc32c(0, aCopy + iBlock, (size_t)nBlock),
                         aCopy + iBlock + nBlock, 1));
    }else{
      /* Recompute the first data block's checksum: find its end by
      ** trying each candidate trailer position of the original. */
      uint64_t e = firstBlockSize(a, (size_t)f.iFilter);
      lsmPut32(aCopy + e + 1, lsmCrc32c(lsmCrc32c(0, aCopy, (size_t)e),
                                        aCopy + e, 1));
    }
    writeFile(tablePath(61), aCopy, n);
    nCorrupt += readDamaged(tablePath(61), &m);
    free(aCopy);
  }
  assert_true(nCorrupt>50);
  free(a);
  lsmTablePropsClear(&props);
  modelFree(&m);
}

/*
** lsmTableCheck finds keys out of order behind a valid checksum: the
** first key of the first block is raised above the second.
*/
static void test_table_check_order(void **state){
  Model m = {0, 0, 0};
  LsmTableOptions o = defaultOpts();
  LsmTableProps props;
  uint8_t *a;
  size_t n;
  uint64_t e;
  (void)state;
  buildSmallModel(&m, 60);
  o.block_size = 256;
  o.compression = LSM_COMPRESSION_NONE;
  buildTable(&m, 65, &o, &props);
  a = readFile(tablePath(65), &n);
  /* Entry 0 at offset 0: shared 0, unshared 17, value length 4, then the
  ** key "key000000" + trailer. */
  assert_int_equal(a[0], 0);
  assert_int_equal(a[1], 17);
  assert_memory_equal(a+3, "key000000", 9);
  e = firstBlockSize(a, n);
  a[3+8] = '9';
  lsmPut32(a + e + 1, lsmCrc32c(lsmCrc32c(0, a, (size_t)e), a+e, 1));
  writeFile(tablePath(66), a, n);
  assert_int_equal(lsmTableCheck(lsm_env_default(), tablePath(66)),
                   LSM_CORRUPT);
  assert_non_null(strstr(lsmErrMsg(), "000066.sst: block at offset 0: "
                                      "entry at "));
  assert_non_null(strstr(lsmErrMsg(), "key out of order"));
  readDamaged(tablePath(66), &m);
  free(a);
  lsmTablePropsClear(&props);
  modelFree(&m);
}

/*************************************************************************
** Builder misuse, statistics, the table cache.
*/

static void test_table_builder_errors(void **state){
  LsmTableOptions o = defaultOpts();
  LsmTableBuilder *pB = 0;
  LsmTable *pTab = 0;
  uint8_t aKey[9] = "b";
  (void)state;
  o.compression = 7;
  assert_int_equal(lsmTableBuilderNew(lsm_env_default(), tablePath(70), &o,
                                      &pB), LSM_INVALID);
  assert_null(pB);
  o = defaultOpts();
  assert_int_equal(lsmTableBuilderNew(lsm_env_default(), tablePath(70), &o,
                                      &pB), LSM_OK);
  lsmPut64(aKey+1, lsmIkeyTrailer(5, LSM_KIND_VALUE));
  assert_int_equal(lsmTableBuilderAdd(pB, aKey, 9, 0, 0), LSM_OK);
  /* The same internal key twice is out of order. */
  assert_int_equal(lsmTableBuilderAdd(pB, aKey, 9, 0, 0), LSM_INVALID);
  lsmTableBuilderAbandon(pB);

  assert_int_equal(lsmTableBuilderNew(lsm_env_default(), tablePath(71), &o,
                                      &pB), LSM_OK);
  assert_int_equal(lsmTableBuilderAdd(pB, aKey, 9, 0, 0), LSM_OK);
  lsmPut64(aKey+1, lsmIkeyTrailer(4, LSM_KIND_VALUE));
  assert_int_equal(lsmTableBuilderAdd(pB, aKey, 9, 0, 0), LSM_OK);
  aKey[0] = 'a';
  assert_int_equal(lsmTableBuilderAdd(pB, aKey, 9, 0, 0), LSM_INVALID);
  assert_non_null(strstr(lsmErrMsg(), "000071.sst"));
  /* The error sticks. */
  aKey[0] = 'c';
  assert_int_equal(lsmTableBuilderAdd(pB, aKey, 9, 0, 0), LSM_INVALID);
  assert_int_equal(lsmTableBuilderFinish(pB, 0), LSM_INVALID);

  assert_int_equal(lsmTableOpen(lsm_env_default(), tablePath(72), 72, 0, 0,
                                &pTab), LSM_NOTFOUND);
  assert_non_null(strstr(lsmErrMsg(), "000072.sst"));
}

static void test_table_fill_cache(void **state){
  Model m = {0, 0, 0};
  LsmTableOptions o = defaultOpts();
  LsmTableProps props;
  LsmTable *pTab = 0;
  LsmCache *pCache = 0;
  LsmReadStats stats;
  LsmBuf val = {0, 0, 0};
  int bDeleted;
  (void)state;
  memset(&stats, 0, sizeof(stats));
  buildSmallModel(&m, 3000);
  o.block_size = 1024;
  buildTable(&m, 80, &o, &props);
  assert_int_equal(lsmCacheNew(1024*1024, &pCache), LSM_OK);
  assert_int_equal(lsmTableOpen(lsm_env_default(), tablePath(80), 80, pCache,
                                &stats, &pTab), LSM_OK);
  /* A compaction-style scan leaves the cache empty. */
  checkIterate(pTab, &m, 0);
  assert_int_equal(lsmCacheUsage(pCache), 0);
  assert_int_equal(stats.nCacheHit, 0);
  assert_int_equal(stats.nCacheMiss, 2*props.nDataBlock);
  /* A point read fills it; the second read of the block hits. */
  assert_int_equal(lsmTableGet(pTab, m.a[5].pIkey, 9, LSM_MAX_SEQ, &val,
                               &bDeleted), LSM_OK);
  assert_true(lsmCacheUsage(pCache)>0);
  assert_int_equal(lsmTableGet(pTab, m.a[6].pIkey, 9, LSM_MAX_SEQ, &val,
                               &bDeleted), LSM_OK);
  assert_int_equal(stats.nCacheHit, 1);
  assert_int_equal(stats.nTableProbe, 2);
  /* Outside the key range: not even a probe. */
  assert_int_equal(lsmTableGet(pTab, (const uint8_t*)"zzz", 3, LSM_MAX_SEQ,
                               &val, &bDeleted), LSM_NOTFOUND);
  assert_int_equal(stats.nTableProbe, 2);
  lsmTableUnref(pTab);
  lsmCacheFree(pCache);
  lsmBufFree(&val);
  lsmTablePropsClear(&props);
  modelFree(&m);
}

/*
** Readers on several threads share one table and a small block cache
** (so blocks are evicted while others read them).  Run under
** ThreadSanitizer; the counters must add up exactly.
*/
typedef struct ReaderArg {
  LsmTable *pTab;
  const Model *pM;
  uint64_t seed;
  int nGet;
} ReaderArg;

static void *readerMain(void *pArg){
  ReaderArg *p = pArg;
  uint64_t rng = p->seed;
  LsmIter *pIter = 0;
  int i, nStep = 0;
  for(i=0; i<p->nGet; i++){
    const Entry *e = &p->pM->a[testRandRange(&rng, (uint32_t)p->pM->n)];
    LsmBuf val = {0, 0, 0};
    int bDeleted;
    if( lsmTableGet(p->pTab, e->pIkey, lsmIkeyUserLen(e->nIkey), LSM_MAX_SEQ,
                    &val, &bDeleted)!=LSM_OK
     || val.n!=e->nVal || memcmp(val.p, e->pVal, val.n)!=0 ){
      p->nGet = -1;              /* checked by the main thread */
    }
    lsmBufFree(&val);
  }
  if( lsmTableIterNew(p->pTab, 1, &pIter)==LSM_OK ){
    if( lsmIterLast(pIter)==LSM_OK ){
      while( lsmIterValid(pIter) && lsmIterPrev(pIter)==LSM_OK ) nStep++;
    }
    lsmIterClose(pIter);
  }
  if( nStep!=p->pM->n ) p->nGet = -1;     /* n-1 steps, then off the front */
  return 0;
}

static void test_table_threads(void **state){
  Model m = {0, 0, 0};
  LsmTableOptions o = defaultOpts();
  LsmTableProps props;
  LsmTable *pTab = 0;
  LsmCache *pCache = 0;
  LsmReadStats stats;
  pthread_t aThread[4];
  ReaderArg aArg[4];
  int i;
  (void)state;
  memset(&stats, 0, sizeof(stats));
  buildSmallModel(&m, 5000);
  o.block_size = 512;
  buildTable(&m, 90, &o, &props);
  assert_int_equal(lsmCacheNew(16*1024, &pCache), LSM_OK);
  assert_int_equal(lsmTableOpen(lsm_env_default(), tablePath(90), 90, pCache,
                                &stats, &pTab), LSM_OK);
  for(i=0; i<4; i++){
    aArg[i].pTab = pTab;
    aArg[i].pM = &m;
    aArg[i].seed = 1000 + (uint64_t)i;
    aArg[i].nGet = 3000;
    assert_int_equal(pthread_create(&aThread[i], 0, readerMain, &aArg[i]), 0);
  }
  for(i=0; i<4; i++){
    pthread_join(aThread[i], 0);
    assert_int_equal(aArg[i].nGet, 3000);
  }
  assert_int_equal(stats.nTableProbe, 4*3000);
  assert_int_equal(stats.nBloomUseful, 0);
  assert_int_equal(stats.nCacheHit + stats.nCacheMiss,
                   4*3000 + 4*props.nDataBlock);
  assert_true(stats.nCacheMiss>props.nDataBlock);    /* evictions happened */
  lsmTableUnref(pTab);
  lsmCacheFree(pCache);
  lsmTablePropsClear(&props);
  modelFree(&m);
}

/* Open files of pTest right now. */
static uint64_t openFiles(TestEnv *pTest){
  return testenvCount(pTest, TESTENV_OPEN) - testenvCount(pTest, TESTENV_CLOSE);
}

static void test_table_cache(void **state){
  TestEnv *pTest = testenvNew();
  LsmTableOptions o = defaultOpts();
  LsmTableCache *pTc = 0;
  LsmCache *pBlockCache = 0;
  LsmReadStats stats;
  uint64_t rng = 31;
  int nTable = 40, nMaxOpen = 8, i, iRound;
  (void)state;
  assert_non_null(pTest);
  memset(&stats, 0, sizeof(stats));
  for(i=0; i<nTable; i++){
    Model m = {0, 0, 0};
    LsmTableProps props;
    char zKey[16], zVal[16];
    snprintf(zKey, sizeof(zKey), "t%03d", i);
    snprintf(zVal, sizeof(zVal), "v%03d", i);
    modelAdd(&m, zKey, 4, 1, LSM_KIND_VALUE, zVal, 4);
    buildTable(&m, 100+i, &o, &props);
    lsmTablePropsClear(&props);
    modelFree(&m);
  }
  assert_int_equal(lsmCacheNew(1024*1024, &pBlockCache), LSM_OK);
  assert_int_equal(lsmTableCacheNew(testenvEnv(pTest), zDir, nMaxOpen,
                                    pBlockCache, &stats, &pTc), LSM_OK);
  for(iRound=0; iRound<400; iRound++){
    LsmTable *pTab = 0;
    LsmBuf val = {0, 0, 0};
    char zKey[16], zVal[16];
    int bDeleted;
    i = (int)testRandRange(&rng, (uint32_t)nTable);
    assert_int_equal(lsmTableCacheGet(pTc, 100+(uint64_t)i, &pTab), LSM_OK);
    assert_true(openFiles(pTest)<=(uint64_t)nMaxOpen+1);
    snprintf(zKey, sizeof(zKey), "t%03d", i);
    snprintf(zVal, sizeof(zVal), "v%03d", i);
    assert_int_equal(lsmTableGet(pTab, (const uint8_t*)zKey, 4, 10, &val,
                                 &bDeleted), LSM_OK);
    assert_int_equal(val.n, 4);
    assert_memory_equal(val.p, zVal, 4);
    lsmTableUnref(pTab);
    lsmBufFree(&val);
    assert_true(openFiles(pTest)<=(uint64_t)nMaxOpen);
    if( iRound%50==7 ){
      lsmTableCacheEvict(pTc, 100+(uint64_t)i);
    }
  }
  /* A table held by its user survives eviction and stays readable. */
  {
    LsmTable *pTab = 0;
    LsmIter *pIter = 0;
    assert_int_equal(lsmTableCacheGet(pTc, 100, &pTab), LSM_OK);
    lsmTableCacheEvict(pTc, 100);
    assert_int_equal(lsmTableIterNew(pTab, 1, &pIter), LSM_OK);
    lsmTableUnref(pTab);
    assert_int_equal(lsmIterFirst(pIter), LSM_OK);
    assert_true(lsmIterValid(pIter));
    lsmIterClose(pIter);
  }
  lsmTableCacheFree(pTc);
  assert_int_equal(openFiles(pTest), 0);

  /* A missing table (through the real env: a failed open counts as an
  ** open in the test env's books). */
  {
    LsmTable *pTab = 0;
    assert_int_equal(lsmTableCacheNew(lsm_env_default(), zDir, nMaxOpen,
                                      pBlockCache, &stats, &pTc), LSM_OK);
    /* The engine asks only for tables a version lists: a missing file is
    ** damage, not a lookup miss (a miss would read as "key absent"). */
    assert_int_equal(lsmTableCacheGet(pTc, 999, &pTab), LSM_CORRUPT);
    assert_null(pTab);
    assert_non_null(strstr(lsmErrMsg(), "000999.sst"));
    lsmTableCacheFree(pTc);
  }
  lsmCacheFree(pBlockCache);
  testenvFree(pTest);
}

/* The length of each of the three interleaved chunks in lsm/coding.c. */
#define CRC_CHUNK 256

/* CRC32C one bit at a time, straight from the polynomial. */
static uint32_t crcBitwise(uint32_t crc, const uint8_t *p, size_t n){
  crc = ~crc;
  while( n-- ){
    int k;
    crc ^= *p++;
    for(k=0; k<8; k++) crc = (crc>>1) ^ ((crc & 1) ? 0x82f63b78u : 0);
  }
  return ~crc;
}

/* Software and (if the CPU has it) hardware CRC of a[0..n-1] from seed
** agree, and with the reference when bRef is set. */
static void crcCompare(const uint8_t *a, size_t n, uint32_t seed, int bRef){
  uint32_t s = lsmCrc32cSoftware(seed, a, n);
  if( bRef && s!=crcBitwise(seed, a, n) ){
    fail_msg("length %zu seed %08x: software %08x, reference %08x",
             n, seed, s, crcBitwise(seed, a, n));
  }
  if( lsmCrc32cHaveHardware() ){
    uint32_t h = lsmCrc32cHardware(seed, a, n);
    if( h!=s ){
      fail_msg("length %zu at offset %d seed %08x: hardware %08x, "
               "software %08x", n, (int)((uintptr_t)a & 7), seed, h, s);
    }
  }
}

static void test_table_crc32c(void **state){
  static const size_t aLen[] = {
    0, 1, 7, 8, 9, 3*CRC_CHUNK-1, 3*CRC_CHUNK, 3*CRC_CHUNK+1, 3*CRC_CHUNK+8,
    6*CRC_CHUNK-1, 6*CRC_CHUNK, 6*CRC_CHUNK+5, 2500, 4096, 65536
  };
  const size_t nMax = 65536;
  uint8_t *a = malloc(nMax + 8);
  const char *z = "123456789";
  uint64_t rng = 32;
  size_t i, n, iOff;
  (void)state;
  assert_non_null(a);

  assert_int_equal(lsmCrc32c(0, z, 9), 0xE3069283u);
  assert_int_equal(lsmCrc32cSoftware(0, z, 9), 0xE3069283u);
  assert_int_equal(crcBitwise(0, (const uint8_t*)z, 9), 0xE3069283u);
  assert_int_equal(lsmCrc32c(lsmCrc32c(0, z, 4), z+4, 5), 0xE3069283u);
  if( lsmCrc32cHaveHardware() ){
    assert_int_equal(lsmCrc32cHardware(0, z, 9), 0xE3069283u);
  }

  for(i=0; i<nMax+8; i++) a[i] = (uint8_t)testRand(&rng);
  /* Lengths around the chunk boundaries, from seed 0 and from a random
  ** seed, at every start offset within a word. */
  for(i=0; i<sizeof(aLen)/sizeof(aLen[0]); i++){
    for(iOff=0; iOff<8; iOff++){
      crcCompare(a+iOff, aLen[i], 0, iOff==0);
      crcCompare(a+iOff, aLen[i], (uint32_t)testRand(&rng), 0);
    }
  }
  /* Every length up to seven chunks (one to two interleaved runs plus every
  ** tail), then random lengths up to 64 KiB at random offsets. */
  for(n=0; n<=7*CRC_CHUNK; n++){
    crcCompare(a + n%8, n, (uint32_t)testRand(&rng), n%64==0);
  }
  for(i=0; i<40; i++){
    n = testRandRange(&rng, (uint32_t)nMax + 1);
    crcCompare(a + testRandRange(&rng, 8), n, (uint32_t)testRand(&rng),
               i<8);
  }
  /* A buffer cut anywhere gives the CRC of the whole when the second call
  ** continues from the first. */
  if( lsmCrc32cHaveHardware() ){
    uint32_t whole = lsmCrc32cHardware(0, a, 10000);
    for(i=0; i<50; i++){
      size_t k = testRandRange(&rng, 10001);
      assert_int_equal(
          lsmCrc32cHardware(lsmCrc32cHardware(0, a, k), a+k, 10000-k), whole);
    }
  }
  free(a);
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_table_empty),
    cmocka_unit_test(test_table_one_key),
    cmocka_unit_test(test_table_layout),
    cmocka_unit_test(test_table_many),
    cmocka_unit_test(test_table_versions),
    cmocka_unit_test(test_table_iter_seek),
    cmocka_unit_test(test_table_large),
    cmocka_unit_test(test_table_corrupt_parts),
    cmocka_unit_test(test_table_corrupt_every_byte),
    cmocka_unit_test(test_table_corrupt_recrc),
    cmocka_unit_test(test_table_check_order),
    cmocka_unit_test(test_table_builder_errors),
    cmocka_unit_test(test_table_fill_cache),
    cmocka_unit_test(test_table_threads),
    cmocka_unit_test(test_table_cache),
    cmocka_unit_test(test_table_crc32c),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
