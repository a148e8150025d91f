/*
** fuzz_table.c -- libFuzzer target for the table reader (lsm/table.c,
** lsm/block.c, lsm/bloom.c, LZ4 blocks).
**
** Input: a mode byte, then the table file.  Mode bit 0: repair the file
** before reading it -- set the footer's magic and version, and rewrite
** the checksum of the footer, of the index, filter and properties blocks
** and of every data block the index names -- so that mutated contents
** get past the checksums into the block, filter, properties and LZ4
** decoders.  Bit 1: read through a small block cache.
**
** The target opens the table (lsmTableOpen), walks it forward and
** backward, runs lsmTableCheck, seeks to and reads back sampled entries,
** and checks:
**   - any failure is LSM_CORRUPT (or LSM_NOMEM) with the file's name in
**     the message;
**   - walks that both finish see the same entries in opposite orders;
**   - if lsmTableCheck accepts the file, it is a good table: the walk is
**     in strictly increasing order, a seek to an entry's key lands on it,
**     and lsmTableGet returns the newest version at or below a sampled
**     sequence, as a reference search of the walked entries says.
*/
#include <assert.h>
#include <lz4.h>
#include <stdio.h>
#include <string.h>

#include "fuzzenv.h"
#include "block.h"
#include "cache.h"
#include "ikey.h"
#include "iter.h"
#include "table.h"

#define FT_MAGIC       0xdb4775248b80fb57ull
#define FT_FOOTER      64
#define FT_TRAILER     5
#define FT_MAX_ENTRY   20000        /* entries remembered from a walk */
#define FT_MAX_BLOCK   (1<<20)      /* largest index block the repair decodes */

/*************************************************************************
** Repairing checksums.
*/

/* Rewrite the trailer CRC of the block at (iOff, nSize) if it lies in the
** first nArea bytes of a. */
static void fixBlock(uint8_t *a, size_t nArea, uint64_t iOff, uint64_t nSize){
  uint32_t crc;
  if( iOff>nArea || nSize>nArea-iOff || FT_TRAILER>nArea-iOff-nSize ) return;
  crc = lsmCrc32c(0, a+iOff, (size_t)nSize);
  crc = lsmCrc32c(crc, a+iOff+nSize, 1);
  lsmPut32(a+iOff+nSize+1, crc);
}

/* The contents of the block at (iOff, nSize), decompressed if it says it
** is LZ4, in malloc()ed memory; NULL if that cannot be done. */
static uint8_t *blockContents(const uint8_t *a, size_t nArea, uint64_t iOff,
                              uint64_t nSize, size_t *pn){
  uint8_t *pOut = 0;
  if( iOff>nArea || nSize>nArea-iOff || FT_TRAILER>nArea-iOff-nSize ) return 0;
  if( a[iOff+nSize]==0 ){
    pOut = fuzzenvCopy(a+iOff, (size_t)nSize);
    *pn = (size_t)nSize;
  }else if( a[iOff+nSize]==1 ){
    uint64_t nRaw = 0;
    int k = lsmGetVarint64(a+iOff, (size_t)nSize, &nRaw);
    if( k==0 || nRaw>FT_MAX_BLOCK ) return 0;
    pOut = malloc(nRaw ? (size_t)nRaw : 1);
    if( pOut==0 ) abort();
    if( LZ4_decompress_safe((const char*)a+iOff+k, (char*)pOut,
                            (int)(nSize-(uint64_t)k), (int)nRaw)!=(int)nRaw ){
      free(pOut);
      return 0;
    }
    *pn = (size_t)nRaw;
  }
  return pOut;
}

/* Make the checksums of the table a[0..n-1] agree with its contents. */
static void fixTable(uint8_t *a, size_t n){
  uint8_t *pFoot;
  size_t nArea, nIndex = 0;
  uint8_t *aIndex;
  int i;
  if( n<FT_FOOTER ) return;
  nArea = n - FT_FOOTER;
  pFoot = a + nArea;
  lsmPut32(pFoot+48, 1);
  lsmPut64(pFoot+56, FT_MAGIC);
  /* Data blocks first, as the index names them; then the metadata blocks,
  ** in case a data block's trailer overlapped one of them. */
  aIndex = blockContents(a, nArea, lsmGet64(pFoot+32), lsmGet64(pFoot+40),
                         &nIndex);
  if( aIndex ){
    LsmBlock block;
    if( lsmBlockParse(&block, aIndex, nIndex, "repair", 0)==LSM_OK ){
      LsmBlockIter it;
      int rc;
      lsmBlockIterInit(&it);
      lsmBlockIterSetBlock(&it, &block, LSM_BLOCK_IKEY, "repair", 0);
      for(rc=lsmBlockIterFirst(&it); rc==LSM_OK && it.bValid;
          rc=lsmBlockIterNext(&it)){
        uint64_t iOff = 0, nSize = 0;
        int k1 = lsmGetVarint64(it.pVal, it.nVal, &iOff);
        int k2 = k1 ? lsmGetVarint64(it.pVal+k1, it.nVal-(size_t)k1, &nSize) : 0;
        if( k2 ) fixBlock(a, nArea, iOff, nSize);
      }
      lsmBlockIterFree(&it);
    }
    free(aIndex);
  }
  for(i=0; i<3; i++){
    fixBlock(a, nArea, lsmGet64(pFoot+16*i), lsmGet64(pFoot+16*i+8));
  }
  lsmPut32(pFoot+52, lsmCrc32c(0, pFoot, 52));
}

/*************************************************************************
** Walking and checking.
*/

/* The entries of one walk, copied: keys and values back to back. */
typedef struct Walk {
  LsmBuf data;
  size_t aOff[FT_MAX_ENTRY];     /* start of entry i in data */
  size_t anKey[FT_MAX_ENTRY];
  size_t anVal[FT_MAX_ENTRY];
  int nEntry;
  int bDone;                     /* reached the end without an error */
} Walk;

static const uint8_t *walkKey(const Walk *w, int i){ return w->data.p + w->aOff[i]; }
static const uint8_t *walkVal(const Walk *w, int i){
  return w->data.p + w->aOff[i] + w->anKey[i];
}

/* Check a failure of a call on the table. */
static void checkError(int rc){
  assert( rc==LSM_CORRUPT || rc==LSM_NOMEM );
  if( rc==LSM_CORRUPT ) assert( strstr(lsmErrMsg(), "000007.sst")!=0 );
}

static void walkRun(LsmTable *pTab, int bReverse, Walk *w){
  LsmIter *pIter = 0;
  int rc = lsmTableIterNew(pTab, 1, &pIter);
  memset(w, 0, sizeof(*w));
  if( rc!=LSM_OK ){
    checkError(rc);
    return;
  }
  rc = bReverse ? lsmIterLast(pIter) : lsmIterFirst(pIter);
  while( rc==LSM_OK && lsmIterValid(pIter) && w->nEntry<FT_MAX_ENTRY ){
    const uint8_t *pK, *pV;
    size_t nK, nV;
    lsmIterKey(pIter, &pK, &nK);
    lsmIterValue(pIter, &pV, &nV);
    assert( nK>=LSM_IKEY_TRAILER );
    w->aOff[w->nEntry] = w->data.n;
    w->anKey[w->nEntry] = nK;
    w->anVal[w->nEntry] = nV;
    if( lsmBufAppend(&w->data, pK, nK) || lsmBufAppend(&w->data, pV, nV) ){
      rc = LSM_NOMEM;
      break;
    }
    w->nEntry++;
    rc = bReverse ? lsmIterPrev(pIter) : lsmIterNext(pIter);
  }
  if( rc==LSM_OK && !lsmIterValid(pIter) ) w->bDone = 1;
  if( rc!=LSM_OK ) checkError(rc);
  lsmIterClose(pIter);
}

/*
** For a table lsmTableCheck accepted: seek to and get sampled entries of
** the forward walk f and compare with a search of the walk itself.
*/
static void checkGoodTable(LsmTable *pTab, const Walk *f){
  LsmIter *pIter = 0;
  LsmBuf val = {0, 0, 0};
  int i, rc, nStep = f->nEntry>64 ? f->nEntry/64 : 1;
  for(i=1; i<f->nEntry; i++){
    assert( lsmIkeyCompare(walkKey(f, i-1), f->anKey[i-1],
                           walkKey(f, i), f->anKey[i])<0 );
  }
  rc = lsmTableIterNew(pTab, 0, &pIter);
  if( rc!=LSM_OK ){
    checkError(rc);
    return;
  }
  for(i=0; i<f->nEntry; i+=nStep){
    const uint8_t *pK = walkKey(f, i);
    size_t nK = f->anKey[i];
    size_t nUser = lsmIkeyUserLen(nK);
    uint64_t seq = lsmIkeySeq(pK, nK);
    int bDeleted = 0, j;

    rc = lsmIterSeek(pIter, pK, nK);
    if( rc!=LSM_OK ){
      checkError(rc);
      break;
    }
    {
      const uint8_t *pGot;
      size_t nGot;
      assert( lsmIterValid(pIter) );
      lsmIterKey(pIter, &pGot, &nGot);
      assert( nGot==nK && memcmp(pGot, pK, nK)==0 );
    }

    /* The reference: the first entry of this user key (newest first) with
    ** a sequence at or below seq. */
    for(j=i; j>0 && lsmUkeyCompare(walkKey(f, j-1),
                                   lsmIkeyUserLen(f->anKey[j-1]),
                                   pK, nUser)==0; j--);
    while( lsmIkeySeq(walkKey(f, j), f->anKey[j])>seq ) j++;
    rc = lsmTableGet(pTab, pK, nUser, seq, &val, &bDeleted);
    if( rc!=LSM_OK ){
      checkError(rc);
      break;
    }
    if( lsmIkeyKind(walkKey(f, j), f->anKey[j])==LSM_KIND_DELETE ){
      assert( bDeleted );
    }else{
      assert( !bDeleted );
      assert( val.n==f->anVal[j]
           && (val.n==0 || memcmp(val.p, walkVal(f, j), val.n)==0) );
    }
  }
  lsmBufFree(&val);
  lsmIterClose(pIter);
}

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData){
  static const char zPath[] = "fuzzdir/000007.sst";
  static Walk fwd, rev;
  FuzzEnv env;
  LsmCache *pCache = 0;
  LsmReadStats stats;
  LsmTable *pTab = 0;
  uint8_t *aFile;
  size_t nFile;
  int mode, rc, rcCheck, i;

  if( nData<1 ) return 0;
  mode = aData[0];
  nFile = nData - 1;
  aFile = fuzzenvCopy(aData + 1, nFile);
  if( mode & 1 ) fixTable(aFile, nFile);
  fuzzenvInit(&env, "fuzzdir");
  fuzzenvAdd(&env, zPath, aFile, nFile);
  memset(&stats, 0, sizeof(stats));
  if( (mode & 2) && lsmCacheNew(2048, &pCache)!=LSM_OK ) abort();

  rcCheck = lsmTableCheck(fuzzenvEnv(&env), zPath);
  if( rcCheck!=LSM_OK ) checkError(rcCheck);

  rc = lsmTableOpen(fuzzenvEnv(&env), zPath, 7, pCache, &stats, &pTab);
  if( rc!=LSM_OK ){
    checkError(rc);
    assert( rcCheck!=LSM_OK );
  }else{
    const LsmTableProps *pProps = lsmTableProps(pTab);
    assert( pProps->nFileSize==nFile );
    walkRun(pTab, 0, &fwd);
    walkRun(pTab, 1, &rev);
    if( fwd.bDone && rev.bDone ){
      assert( fwd.nEntry==rev.nEntry );
      for(i=0; i<fwd.nEntry; i++){
        int r = rev.nEntry-1-i;
        assert( fwd.anKey[i]==rev.anKey[r] && fwd.anVal[i]==rev.anVal[r] );
        assert( memcmp(walkKey(&fwd, i), walkKey(&rev, r),
                       fwd.anKey[i] + fwd.anVal[i])==0 );
      }
    }
    if( rcCheck==LSM_OK ){
      assert( fwd.bDone && rev.bDone );
      assert( (uint64_t)fwd.nEntry==pProps->nEntry || fwd.nEntry==FT_MAX_ENTRY );
      checkGoodTable(pTab, &fwd);
    }
    lsmBufFree(&fwd.data);
    lsmBufFree(&rev.data);
    lsmTableUnref(pTab);
  }
  if( pCache ) lsmCacheFree(pCache);
  free(aFile);
  return 0;
}
