/*
** block.c -- building and reading blocks of prefix-compressed entries.
** See block.h for the layout.
**
** Reader invariants: lsmBlockParse has checked the restart array, so
** every restart offset is inside the entry area and they increase.  An
** entry is decoded only at an offset inside the entry area, and its
** three lengths are checked against the bytes left before the restart
** array, so no decode reads past the block however the bytes are damaged.
** The iterator tracks which restart region its entry lies in (iRestart),
** so an entry that claims to straddle a restart point, or a restart entry
** that claims a shared prefix, is reported rather than trusted.  That
** includes the last entry: reaching the end of the entries while a
** restart point is still ahead means the last entry covers it, and a
** reverse walk, which starts at that restart point, would read something
** else; forward and reverse walks either agree or both report damage.
*/
#include "block.h"
#include "coding.h"
#include "ikey.h"

#include <string.h>

/*
** The largest block: restart offsets are u32.  Keeping the whole block
** (entries, restart array and count) under 4 GiB keeps every offset
** representable.
*/
#define BLOCK_MAX_SIZE ((uint64_t)0xffffffffu)

void lsmBlockBuilderInit(LsmBlockBuilder *p, int nInterval){
  memset(p, 0, sizeof(*p));
  p->nInterval = nInterval<1 ? 1 : nInterval;
}

int lsmBlockBuilderAdd(LsmBlockBuilder *p, const uint8_t *pKey, size_t nKey,
                       const uint8_t *pVal, size_t nVal){
  int bRestart = (p->nEntry==0 || p->nSinceRestart>=p->nInterval);
  size_t nShared = 0;
  uint8_t aHdr[3*LSM_MAX_VARINT32];
  int nHdr = 0;
  uint64_t nAfter;
  int rc;

  if( !bRestart ){
    size_t nMax = nKey<p->lastKey.n ? nKey : p->lastKey.n;
    while( nShared<nMax && pKey[nShared]==p->lastKey.p[nShared] ) nShared++;
  }
  /* An upper bound on the block size with this entry in it. */
  nAfter = (uint64_t)lsmBlockBuilderSize(p) + sizeof(aHdr)
         + (uint64_t)(nKey - nShared) + nVal + 4;
  if( nKey>0xffffffffu || nVal>0xffffffffu || nAfter>BLOCK_MAX_SIZE ){
    return lsmErr(LSM_TOOBIG, "block entry of %zu+%zu bytes too large",
                  nKey, nVal);
  }
  nHdr += lsmPutVarint32(aHdr+nHdr, (uint32_t)nShared);
  nHdr += lsmPutVarint32(aHdr+nHdr, (uint32_t)(nKey - nShared));
  nHdr += lsmPutVarint32(aHdr+nHdr, (uint32_t)nVal);

  /* Reserve everything first so that a NOMEM leaves the block as it was. */
  rc = lsmBufReserve(&p->restarts, 4);
  if( rc==LSM_OK ){
    rc = lsmBufReserve(&p->data, (size_t)nHdr + (nKey - nShared) + nVal);
  }
  if( rc==LSM_OK ) rc = lsmBufReserve(&p->lastKey, nKey);
  if( rc!=LSM_OK ) return rc;

  if( bRestart ){
    lsmPut32(p->restarts.p + p->restarts.n, (uint32_t)p->data.n);
    p->restarts.n += 4;
    p->nSinceRestart = 0;
  }
  p->lastKey.n = nShared;
  lsmBufAppend(&p->lastKey, pKey + nShared, nKey - nShared);
  lsmBufAppend(&p->data, aHdr, (size_t)nHdr);
  lsmBufAppend(&p->data, pKey + nShared, nKey - nShared);
  lsmBufAppend(&p->data, pVal, nVal);
  p->nSinceRestart++;
  p->nEntry++;
  return LSM_OK;
}

size_t lsmBlockBuilderSize(const LsmBlockBuilder *p){
  return p->data.n + p->restarts.n + LSM_BLOCK_COUNT_SIZE;
}

int lsmBlockBuilderFinish(LsmBlockBuilder *p, const uint8_t **ppBlock,
                          size_t *pnBlock){
  uint8_t aCount[LSM_BLOCK_COUNT_SIZE];
  int rc = lsmBufReserve(&p->data, p->restarts.n + LSM_BLOCK_COUNT_SIZE);
  if( rc!=LSM_OK ) return rc;
  lsmPut32(aCount, (uint32_t)(p->restarts.n / 4));
  lsmBufAppend(&p->data, p->restarts.p, p->restarts.n);
  lsmBufAppend(&p->data, aCount, sizeof(aCount));
  *ppBlock = p->data.p;
  *pnBlock = p->data.n;
  return LSM_OK;
}

void lsmBlockBuilderReset(LsmBlockBuilder *p){
  p->data.n = 0;
  p->restarts.n = 0;
  p->lastKey.n = 0;
  p->nEntry = 0;
  p->nSinceRestart = 0;
}

void lsmBlockBuilderFree(LsmBlockBuilder *p){
  lsmBufFree(&p->data);
  lsmBufFree(&p->restarts);
  lsmBufFree(&p->lastKey);
  lsmBlockBuilderInit(p, p->nInterval);
}

int lsmBlockParse(LsmBlock *pBlock, const uint8_t *a, size_t n,
                  const char *zName, uint64_t iOff){
  uint32_t nRestart, i, iPrev = 0;
  size_t nData;
  if( n<LSM_BLOCK_COUNT_SIZE ){
    return lsmErr(LSM_CORRUPT, "%s: block at offset %llu: %zu bytes is too "
                  "short for a block", zName, (unsigned long long)iOff, n);
  }
  nRestart = lsmGet32(a + n - LSM_BLOCK_COUNT_SIZE);
  if( nRestart>(n - LSM_BLOCK_COUNT_SIZE)/4 ){
    return lsmErr(LSM_CORRUPT, "%s: block at offset %llu: restart count %u "
                  "does not fit in %zu bytes", zName,
                  (unsigned long long)iOff, nRestart, n);
  }
  nData = n - LSM_BLOCK_COUNT_SIZE - (size_t)nRestart*4;
  if( (nRestart==0)!=(nData==0) ){
    return lsmErr(LSM_CORRUPT, "%s: block at offset %llu: %u restart points "
                  "for %zu bytes of entries", zName,
                  (unsigned long long)iOff, nRestart, nData);
  }
  for(i=0; i<nRestart; i++){
    uint32_t iRestart = lsmGet32(a + nData + (size_t)i*4);
    if( (i==0 && iRestart!=0) || (i>0 && iRestart<=iPrev)
     || iRestart>=nData ){
      return lsmErr(LSM_CORRUPT, "%s: block at offset %llu: restart point "
                    "%u has bad entry offset %u", zName,
                    (unsigned long long)iOff, i, iRestart);
    }
    iPrev = iRestart;
  }
  pBlock->a = a;
  pBlock->nData = nData;
  pBlock->nRestart = nRestart;
  return LSM_OK;
}

void lsmBlockIterInit(LsmBlockIter *p){
  memset(p, 0, sizeof(*p));
}

void lsmBlockIterSetBlock(LsmBlockIter *p, const LsmBlock *pBlock, int eOrder,
                          const char *zName, uint64_t iBlockOff){
  p->pBlock = pBlock;
  p->eOrder = eOrder;
  p->zName = zName;
  p->iBlockOff = iBlockOff;
  p->bValid = 0;
  p->iCur = p->iNext = 0;
  p->iRestart = 0;
  p->key.n = 0;
  p->pVal = 0;
  p->nVal = 0;
}

void lsmBlockIterFree(LsmBlockIter *p){
  lsmBufFree(&p->key);
  lsmBlockIterInit(p);
}

/* Report a malformed entry at block offset iEntry; leave p invalid. */
static int blockCorrupt(LsmBlockIter *p, size_t iEntry, const char *zWhat){
  p->bValid = 0;
  return lsmErr(LSM_CORRUPT, "%s: block at offset %llu: entry at %zu: %s",
                p->zName, (unsigned long long)p->iBlockOff, iEntry, zWhat);
}

static uint32_t blockRestart(const LsmBlock *pBlock, uint32_t i){
  return lsmGet32(pBlock->a + pBlock->nData + (size_t)i*4);
}

static int blockCompare(int eOrder, const uint8_t *a, size_t na,
                        const uint8_t *b, size_t nb){
  if( eOrder==LSM_BLOCK_IKEY ) return lsmIkeyCompare(a, na, b, nb);
  return lsmUkeyCompare(a, na, b, nb);
}

/*
** Decode the three lengths of the entry at iOff (REQUIRES iOff < nData)
** and check them against the entry area.  On success *piKey is the
** offset of the stored key suffix.
*/
static int blockHeader(LsmBlockIter *p, size_t iOff, uint32_t *pnShared,
                       uint32_t *pnUnshared, uint32_t *pnVal, size_t *piKey){
  const uint8_t *a = p->pBlock->a;
  size_t nData = p->pBlock->nData;
  size_t i = iOff;
  int k;
  k = lsmGetVarint32(a+i, nData-i, pnShared);
  if( k ) i += (size_t)k;
  if( k && i<nData ) k = lsmGetVarint32(a+i, nData-i, pnUnshared);
  else k = 0;
  if( k ) i += (size_t)k;
  if( k && i<nData ) k = lsmGetVarint32(a+i, nData-i, pnVal);
  else k = 0;
  if( k==0 ) return blockCorrupt(p, iOff, "bad length varint");
  i += (size_t)k;
  if( *pnUnshared>nData-i || *pnVal>nData-i-*pnUnshared ){
    return blockCorrupt(p, iOff, "key or value runs past the entries");
  }
  *piKey = i;
  return LSM_OK;
}

/*
** Decode the entry at iOff into the iterator.  bRestart: the entry is a
** restart point and must store its whole key.  Otherwise the key shares
** a prefix with the key currently in p->key.
*/
static int blockDecode(LsmBlockIter *p, size_t iOff, int bRestart){
  uint32_t nShared, nUnshared, nVal;
  size_t iKey;
  int rc = blockHeader(p, iOff, &nShared, &nUnshared, &nVal, &iKey);
  if( rc!=LSM_OK ) return rc;
  if( bRestart ? nShared!=0 : nShared>p->key.n ){
    return blockCorrupt(p, iOff, "bad shared key prefix length");
  }
  p->key.n = nShared;
  rc = lsmBufAppend(&p->key, p->pBlock->a + iKey, nUnshared);
  if( rc!=LSM_OK ){
    p->bValid = 0;
    return rc;
  }
  if( p->eOrder==LSM_BLOCK_IKEY && p->key.n<LSM_IKEY_TRAILER ){
    return blockCorrupt(p, iOff, "internal key shorter than its trailer");
  }
  p->pVal = p->pBlock->a + iKey + nUnshared;
  p->nVal = nVal;
  p->iCur = iOff;
  p->iNext = iKey + nUnshared + nVal;
  p->bValid = 1;
  return LSM_OK;
}

/* Position on the entry at restart point iRestart. */
static int blockStartAt(LsmBlockIter *p, uint32_t iRestart){
  p->iRestart = iRestart;
  return blockDecode(p, blockRestart(p->pBlock, iRestart), 1);
}

/*
** Move to the entry after the current one.  REQUIRES: valid and
** p->iNext < nData.
*/
static int blockStep(LsmBlockIter *p){
  const LsmBlock *pBlock = p->pBlock;
  if( p->iRestart+1<pBlock->nRestart ){
    size_t iBoundary = blockRestart(pBlock, p->iRestart+1);
    if( p->iNext==iBoundary ) return blockStartAt(p, p->iRestart+1);
    if( p->iNext>iBoundary ){
      return blockCorrupt(p, p->iCur, "entry overlaps a restart point");
    }
  }
  return blockDecode(p, p->iNext, 0);
}

int lsmBlockIterFirst(LsmBlockIter *p){
  p->bValid = 0;
  if( p->pBlock->nRestart==0 ) return LSM_OK;
  return blockStartAt(p, 0);
}

int lsmBlockIterLast(LsmBlockIter *p){
  int rc;
  p->bValid = 0;
  if( p->pBlock->nRestart==0 ) return LSM_OK;
  rc = blockStartAt(p, p->pBlock->nRestart-1);
  while( rc==LSM_OK && p->iNext<p->pBlock->nData ){
    rc = blockStep(p);
  }
  return rc;
}

/*
** The current entry is the last one (it ends the entry area): leave the
** iterator at the end, or report the damage if a restart point lies
** inside that entry.
*/
static int blockEnd(LsmBlockIter *p){
  if( p->iRestart+1<p->pBlock->nRestart ){
    return blockCorrupt(p, p->iCur, "entry overlaps a restart point");
  }
  p->bValid = 0;
  return LSM_OK;
}

int lsmBlockIterNext(LsmBlockIter *p){
  if( p->iNext>=p->pBlock->nData ) return blockEnd(p);
  return blockStep(p);
}

int lsmBlockIterPrev(LsmBlockIter *p){
  const LsmBlock *pBlock = p->pBlock;
  size_t iTarget = p->iCur;
  uint32_t lo = 0, hi = pBlock->nRestart;
  int rc;
  if( iTarget==0 ){
    p->bValid = 0;
    return LSM_OK;
  }
  /* Find the last restart point before the current entry: the entry
  ** before it lies in that restart region. */
  while( hi-lo>1 ){
    uint32_t mid = lo + (hi-lo)/2;
    if( blockRestart(pBlock, mid)<iTarget ) lo = mid;
    else hi = mid;
  }
  rc = blockStartAt(p, lo);
  while( rc==LSM_OK && p->iNext<iTarget ){
    rc = blockStep(p);
  }
  if( rc==LSM_OK && p->iNext!=iTarget ){
    rc = blockCorrupt(p, p->iCur, "entry overlaps the next entry");
  }
  return rc;
}

/*
** Return the full key stored at restart point i, pointing into the block.
** The key of a restart entry is stored whole, so no copy is needed.
*/
static int blockRestartKey(LsmBlockIter *p, uint32_t i,
                           const uint8_t **ppKey, size_t *pnKey){
  size_t iOff = blockRestart(p->pBlock, i);
  uint32_t nShared, nUnshared, nVal;
  size_t iKey;
  int rc = blockHeader(p, iOff, &nShared, &nUnshared, &nVal, &iKey);
  if( rc!=LSM_OK ) return rc;
  if( nShared!=0 ){
    return blockCorrupt(p, iOff, "bad shared key prefix length");
  }
  if( p->eOrder==LSM_BLOCK_IKEY && nUnshared<LSM_IKEY_TRAILER ){
    return blockCorrupt(p, iOff, "internal key shorter than its trailer");
  }
  *ppKey = p->pBlock->a + iKey;
  *pnKey = nUnshared;
  return LSM_OK;
}

/*
** Finish a seek: restart point lo's key is < pKey, or lo is 0, and the
** next restart key (if any) is >= pKey.  Walk lo's region to the first
** key >= pKey.
*/
static int blockSeekFrom(LsmBlockIter *p, uint32_t lo,
                         const uint8_t *pKey, size_t nKey){
  int rc = blockStartAt(p, lo);
  while( rc==LSM_OK
      && blockCompare(p->eOrder, p->key.p, p->key.n, pKey, nKey)<0 ){
    if( p->iNext>=p->pBlock->nData ){
      rc = blockEnd(p);
      break;
    }
    rc = blockStep(p);
  }
  return rc;
}

int lsmBlockIterSeek(LsmBlockIter *p, const uint8_t *pKey, size_t nKey){
  uint32_t lo = 0, hi;
  int rc = LSM_OK;
  p->bValid = 0;
  if( p->pBlock->nRestart==0 ) return LSM_OK;
  /* Binary search for the last restart point whose key is < pKey (or the
  ** first one if none is): the first key >= pKey lies in its region or
  ** is the next restart key. */
  hi = p->pBlock->nRestart - 1;
  while( rc==LSM_OK && lo<hi ){
    uint32_t mid = lo + (hi-lo+1)/2;
    const uint8_t *pMid = 0;
    size_t nMid = 0;
    rc = blockRestartKey(p, mid, &pMid, &nMid);
    if( rc==LSM_OK ){
      if( blockCompare(p->eOrder, pMid, nMid, pKey, nKey)<0 ) lo = mid;
      else hi = mid - 1;
    }
  }
  if( rc!=LSM_OK ) return rc;
  return blockSeekFrom(p, lo, pKey, nKey);
}

/*************************************************************************
** Restart-key summaries.
*/

/* Length of the part of a key that the summary describes. */
static size_t blockKeyPart(int eOrder, size_t nKey){
  return eOrder==LSM_BLOCK_IKEY ? lsmIkeyUserLen(nKey) : nKey;
}

int lsmBlockSummaryBuild(LsmBlockIter *p, LsmBlockSummary *pSum){
  const LsmBlock *pBlock = p->pBlock;
  const uint8_t *pFirst = 0, *pLast = 0;
  size_t nFirst = 0, nLast = 0, nSkip = 0;
  uint32_t i;
  int rc = LSM_OK;

  memset(pSum, 0, sizeof(*pSum));
  if( pBlock->nRestart==0 ) return LSM_OK;
  rc = blockRestartKey(p, 0, &pFirst, &nFirst);
  if( rc==LSM_OK ){
    rc = blockRestartKey(p, pBlock->nRestart-1, &pLast, &nLast);
  }
  if( rc!=LSM_OK ) return rc;
  /* Sorted keys all share the common prefix of the first and last. */
  nFirst = blockKeyPart(p->eOrder, nFirst);
  nLast = blockKeyPart(p->eOrder, nLast);
  while( nSkip<nFirst && nSkip<nLast && pFirst[nSkip]==pLast[nSkip] ){
    nSkip++;
  }
  pSum->aPrefix = lsmMalloc(sizeof(uint64_t)*pBlock->nRestart);
  if( pSum->aPrefix==0 ) return lsmErr(LSM_NOMEM, 0);
  for(i=0; rc==LSM_OK && i<pBlock->nRestart; i++){
    const uint8_t *pKey = 0;
    size_t nKey = 0;
    rc = blockRestartKey(p, i, &pKey, &nKey);
    if( rc==LSM_OK ){
      pSum->aPrefix[i] = lsmKeyPrefix(pKey, blockKeyPart(p->eOrder, nKey),
                                     nSkip);
    }
  }
  if( rc!=LSM_OK ){
    lsmBlockSummaryFree(pSum);
    return rc;
  }
  pSum->pSkip = pFirst;
  pSum->nSkip = nSkip;
  return LSM_OK;
}

void lsmBlockSummaryFree(LsmBlockSummary *pSum){
  lsmFree(pSum->aPrefix);
  memset(pSum, 0, sizeof(*pSum));
}

/*
** A strictly smaller or larger prefix decides the order of two keys that
** share the skipped bytes (a zero pad byte sorts where the shorter key
** does); only equal prefixes need the keys themselves.
*/
int lsmBlockIterSeekSummary(LsmBlockIter *p, const LsmBlockSummary *pSum,
                            const uint8_t *pKey, size_t nKey){
  uint32_t lo = 0, hi = p->pBlock->nRestart;
  size_t nPart = blockKeyPart(p->eOrder, nKey);
  size_t nCmp = nPart<pSum->nSkip ? nPart : pSum->nSkip;
  int c = nCmp ? memcmp(pKey, pSum->pSkip, nCmp) : 0;
  int rc = LSM_OK;

  p->bValid = 0;
  if( hi==0 ) return LSM_OK;
  if( c==0 && nPart<pSum->nSkip ) c = -1;
  if( c<0 ){
    hi = 0;                         /* below every restart key */
  }else if( c>0 ){
    lo = hi;                        /* above every restart key */
  }else{
    uint64_t iTarget = lsmKeyPrefix(pKey, nPart, pSum->nSkip);
    /* Find the first restart key >= pKey. */
    while( rc==LSM_OK && lo<hi ){
      uint32_t mid = lo + (hi-lo)/2;
      if( pSum->aPrefix[mid]!=iTarget ){
        c = pSum->aPrefix[mid]<iTarget ? -1 : 1;
      }else{
        const uint8_t *pMid = 0;
        size_t nMid = 0;
        rc = blockRestartKey(p, mid, &pMid, &nMid);
        if( rc==LSM_OK ) c = blockCompare(p->eOrder, pMid, nMid, pKey, nKey);
      }
      if( c<0 ) lo = mid+1;
      else hi = mid;
    }
  }
  if( rc!=LSM_OK ) return rc;
  return blockSeekFrom(p, lo ? lo-1 : 0, pKey, nKey);
}
