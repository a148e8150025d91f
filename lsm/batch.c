/*
** batch.c -- write batches (lsm_batch_*), their encoding and replay.
**
** The encoding is described in batch.h and FORMAT.md.  An indexed batch
** also keeps its operations in a private memtable whose sequence numbers
** start at LSM_OVERLAY_SEQ, so that lsm_batch_get and lsm_iter_new_batch
** can read the batch in key order with the newest operation on a key
** winning.  The index is brought up to date only when it is read: a
** transaction that only writes (INSERT OR REPLACE, say) never pays for
** it.  Truncating drops it, to be rebuilt from the surviving operations
** at the next read (savepoint rollbacks are rare).
*/
#include "batch.h"
#include "coding.h"
#include "ikey.h"
#include "util.h"
#include "wal.h"

#include <stdlib.h>
#include <string.h>

struct lsm_batch {
  LsmBuf rep;               /* encoded batch, header included */
  uint32_t nOp;             /* operations in rep */
  int bIndexed;             /* created by lsm_batch_new_indexed */
  LsmMemtable *pIndex;      /* key-ordered copy of the first nIndexed
                            ** operations, or NULL */
  uint32_t nIndexed;
  size_t iIndexedEnd;       /* offset in rep where those operations end */
};

static int batchInit(lsm_batch *p){
  static const uint8_t aZero[LSM_BATCH_HEADER] = {0};
  p->nOp = 0;
  p->rep.n = 0;
  return lsmBufAppend(&p->rep, aZero, sizeof(aZero));
}

/*
** Call xOp for the nOp operations of encoding p[0..n-1] that start at
** offset off, the first with sequence seq; they must end exactly at n.
*/
static int batchWalk(const uint8_t *p, size_t n, size_t off, uint64_t seq,
                     uint32_t nOp, LsmBatchOp xOp, void *pArg){
  uint32_t i;
  for(i=0; i<nOp; i++){
    uint64_t nKey, nVal = 0;
    const uint8_t *pKey, *pVal = 0;
    int kind, k;
    if( off>=n ) break;
    kind = p[off++];
    if( kind>LSM_KIND_MAX ) break;
    k = lsmGetVarint64(p+off, n-off, &nKey);
    if( k==0 || nKey>n-off-k ) break;
    pKey = p + off + k;
    off += k + nKey;
    if( kind==LSM_KIND_VALUE ){
      k = lsmGetVarint64(p+off, n-off, &nVal);
      if( k==0 || nVal>n-off-k ) break;
      pVal = p + off + k;
      off += k + nVal;
    }
    {
      int rc = xOp(pArg, seq + i, kind, pKey, nKey, pVal, nVal);
      if( rc!=LSM_OK ) return rc;
    }
  }
  if( i<nOp || off!=n ){
    return lsmErr(LSM_CORRUPT, "malformed write batch: operation %u at byte %zu",
                  i, off);
  }
  return LSM_OK;
}

int lsmBatchForEach(const uint8_t *p, size_t n, LsmBatchOp xOp, void *pArg){
  if( n<LSM_BATCH_HEADER ){
    return lsmErr(LSM_CORRUPT, "write batch of %zu bytes is too short", n);
  }
  return batchWalk(p, n, LSM_BATCH_HEADER, lsmGet64(p), lsmGet32(p + 8),
                   xOp, pArg);
}

static int batchNew(int bIndexed, lsm_batch **pp){
  lsm_batch *p = lsmMallocZero(sizeof(*p));
  int rc = p ? batchInit(p) : LSM_NOMEM;
  if( rc==LSM_OK ){
    p->bIndexed = bIndexed;
    p->iIndexedEnd = LSM_BATCH_HEADER;
  }
  if( rc!=LSM_OK ){
    lsm_batch_free(p);
    p = 0;
  }
  *pp = p;
  return rc;
}

int lsm_batch_new(lsm_batch **pp){ return batchNew(0, pp); }
int lsm_batch_new_indexed(lsm_batch **pp){ return batchNew(1, pp); }

void lsm_batch_free(lsm_batch *p){
  if( p ){
    lsmBufFree(&p->rep);
    if( p->pIndex ) lsmMemtableUnref(p->pIndex);
    lsmFree(p);
  }
}

/* Append one operation to the encoding.  On failure the batch is
** unchanged. */
static int batchAdd(lsm_batch *p, int kind, const void *pKey, size_t nKey,
                    const void *pVal, size_t nVal){
  uint8_t k = (uint8_t)kind;
  int rc;
  if( nKey>LSM_MAX_KEY_SIZE ){
    return lsmErr(LSM_TOOBIG, "key of %zu bytes exceeds the limit of %d",
                  nKey, LSM_MAX_KEY_SIZE);
  }
  if( kind==LSM_KIND_VALUE && nVal>LSM_MAX_VALUE_SIZE ){
    return lsmErr(LSM_TOOBIG, "value of %zu bytes exceeds the limit of %d",
                  nVal, LSM_MAX_VALUE_SIZE);
  }
  rc = lsmBufReserve(&p->rep, 1 + 2*LSM_MAX_VARINT64 + nKey + nVal);
  if( rc==LSM_OK ){
    lsmBufAppend(&p->rep, &k, 1);
    lsmBufAppendVarint(&p->rep, nKey);
    lsmBufAppend(&p->rep, pKey, nKey);
    if( kind==LSM_KIND_VALUE ){
      lsmBufAppendVarint(&p->rep, nVal);
      lsmBufAppend(&p->rep, pVal, nVal);
    }
    p->nOp++;
  }
  return rc;
}

int lsm_batch_put(lsm_batch *p, const void *pKey, size_t nKey,
                  const void *pVal, size_t nVal){
  return batchAdd(p, LSM_KIND_VALUE, pKey, nKey, pVal, nVal);
}

int lsm_batch_delete(lsm_batch *p, const void *pKey, size_t nKey){
  return batchAdd(p, LSM_KIND_DELETE, pKey, nKey, 0, 0);
}

uint32_t lsm_batch_count(const lsm_batch *p){ return p->nOp; }
size_t lsm_batch_size(const lsm_batch *p){ return p->rep.n; }

/* A mark packs the encoded length and the op count, so truncation needs
** no re-parse: the low 32 bits hold the count. */
size_t lsm_batch_mark(const lsm_batch *p){
  return (p->rep.n << 32) | p->nOp;
}

/* Add one operation to the index of the batch pArg. */
static int batchIndexOp(void *pArg, uint64_t seq, int kind,
                        const uint8_t *pKey, size_t nKey,
                        const uint8_t *pVal, size_t nVal){
  lsm_batch *p = (lsm_batch*)pArg;
  return lsmMemtableAdd(p->pIndex, seq, kind, pKey, nKey, pVal, nVal);
}

static void batchDropIndex(lsm_batch *p){
  if( p->pIndex ) lsmMemtableUnref(p->pIndex);
  p->pIndex = 0;
  p->nIndexed = 0;
  p->iIndexedEnd = LSM_BATCH_HEADER;
}

int lsmBatchIndex(const lsm_batch *pConst, LsmMemtable **ppIndex){
  /* the index is a cache of the encoding: bringing it up to date does
  ** not change the batch (one thread uses a batch at a time) */
  lsm_batch *p = (lsm_batch*)pConst;
  int rc = LSM_OK;
  *ppIndex = 0;
  if( !p->bIndexed ){
    return lsmErr(LSM_INVALID, "the batch was not created by "
                  "lsm_batch_new_indexed");
  }
  if( p->pIndex==0 ) rc = lsmMemtableNew(0, &p->pIndex);
  if( rc==LSM_OK && p->nIndexed<p->nOp ){
    rc = batchWalk(p->rep.p, p->rep.n, p->iIndexedEnd,
                   LSM_OVERLAY_SEQ + p->nIndexed, p->nOp - p->nIndexed,
                   batchIndexOp, p);
    if( rc==LSM_OK ){
      p->nIndexed = p->nOp;
      p->iIndexedEnd = p->rep.n;
    }
  }
  if( rc==LSM_OK ){
    *ppIndex = p->pIndex;
  }else{
    batchDropIndex(p);
  }
  return rc;
}

int lsm_batch_truncate(lsm_batch *p, size_t iMark){
  size_t nByte = iMark >> 32;
  uint32_t nOp = (uint32_t)(iMark & 0xffffffffu);
  if( nByte<LSM_BATCH_HEADER || nByte>p->rep.n || nOp>p->nOp ){
    return lsmErr(LSM_INVALID, "batch mark does not belong to this batch");
  }
  /* an iterator made before keeps the old index, unchanged: operations
  ** added from now on go into a new one */
  if( nOp<p->nOp ) batchDropIndex(p);
  p->rep.n = nByte;
  p->nOp = nOp;
  return LSM_OK;
}

int lsm_batch_clear(lsm_batch *p){
  return lsm_batch_truncate(p, (size_t)LSM_BATCH_HEADER << 32);
}

int lsm_batch_get(const lsm_batch *p, const void *pKey, size_t nKey,
                  const void **ppVal, size_t *pnVal, int *pbDeleted){
  const uint8_t *pVal = 0;
  size_t nVal = 0;
  LsmMemtable *pIndex;
  int rc = lsmBatchIndex(p, &pIndex);
  if( rc!=LSM_OK ) return rc;
  rc = lsmMemtableGet(pIndex, pKey, nKey, LSM_MAX_SEQ, &pVal, &nVal,
                      pbDeleted);
  if( rc==LSM_OK ){
    *ppVal = pVal;
    *pnVal = nVal;
  }
  return rc;
}

static int batchLoadOp(void *pArg, uint64_t seq, int kind,
                       const uint8_t *pKey, size_t nKey,
                       const uint8_t *pVal, size_t nVal){
  (void)seq;
  return batchAdd((lsm_batch*)pArg, kind, pKey, nKey, pVal, nVal);
}

int lsm_batch_load(lsm_batch *p, const void *pData, size_t nData){
  int rc = lsm_batch_clear(p);
  if( rc==LSM_OK ) rc = lsmBatchForEach(pData, nData, batchLoadOp, p);
  if( rc!=LSM_OK ) lsm_batch_clear(p);
  return rc;
}

const void *lsm_batch_data(const lsm_batch *p, size_t *pnData){
  return lsmBatchData(p, pnData);
}

void lsmBatchSetSeq(lsm_batch *p, uint64_t seq){
  lsmPut64(p->rep.p, seq);
  lsmPut32(p->rep.p + 8, p->nOp);
}

const uint8_t *lsmBatchData(const lsm_batch *p, size_t *pn){
  lsmPut32(p->rep.p + 8, p->nOp);
  *pn = p->rep.n;
  return p->rep.p;
}

int lsmBatchAppend(lsm_batch *pDst, const lsm_batch *pSrc){
  int rc = lsmBufAppend(&pDst->rep, pSrc->rep.p + LSM_BATCH_HEADER,
                        pSrc->rep.n - LSM_BATCH_HEADER);
  if( rc==LSM_OK ) pDst->nOp += pSrc->nOp;
  return rc;
}

uint64_t lsmBatchDataSeq(const uint8_t *p){ return lsmGet64(p); }
uint32_t lsmBatchDataCount(const uint8_t *p){ return lsmGet32(p + 8); }

static int batchInsertOp(void *pArg, uint64_t seq, int kind,
                         const uint8_t *pKey, size_t nKey,
                         const uint8_t *pVal, size_t nVal){
  return lsmMemtableAdd((LsmMemtable*)pArg, seq, kind, pKey, nKey, pVal, nVal);
}

/*
** Inserting a batch in key order lets the memtable find each entry from
** the previous one (memtable.c, "Splice") instead of searching from the
** top; the order of inserts within one commit is invisible to readers,
** who see none of it before the commit's sequence number is published.
**
** The order is user key ascending, then newest first, as in the memtable.
** Operations are taken newest first and sorted stably on the 8 key bytes
** after the prefix every key of the batch shares (lsmKeyPrefix), by a
** radix sort over the bytes in which the keys differ; runs of equal
** prefixes are then put in full key order, which a stable sort keeps
** newest first for equal keys.
*/
typedef struct BatchSortKey {
  uint64_t iPrefix;
  const LsmBatchOpRec *pOp;
} BatchSortKey;

typedef struct BatchSort {
  LsmBatchOpRec *aOp;
  uint32_t nOp;
} BatchSort;

/* Runs of equal prefixes longer than this are sorted by qsort. */
#define BATCH_SORT_RUN 16

static int batchSortCollect(void *pArg, uint64_t seq, int kind,
                            const uint8_t *pKey, size_t nKey,
                            const uint8_t *pVal, size_t nVal){
  BatchSort *p = (BatchSort*)pArg;
  lsmBatchOpSet(&p->aOp[p->nOp++], seq, kind, pKey, nKey, pVal, nVal);
  return LSM_OK;
}

/* Full order of two sort keys: user key, then newest first. */
static int batchSortCmp(const void *pA, const void *pB){
  const LsmBatchOpRec *a = ((const BatchSortKey*)pA)->pOp;
  const LsmBatchOpRec *b = ((const BatchSortKey*)pB)->pOp;
  int c = lsmUkeyCompare(a->pKey, a->nKey, b->pKey, b->nKey);
  if( c==0 ) c = a->seq>b->seq ? -1 : (a->seq<b->seq);
  return c;
}

/*
** Sort a[0..n-1] stably by iPrefix, least significant byte first,
** skipping bytes that every entry has the same; aTmp has room for n.
*/
static void batchRadixSort(BatchSortKey *a, BatchSortKey *aTmp, uint32_t n){
  BatchSortKey *aFrom = a, *aTo = aTmp;
  int iByte;
  for(iByte=0; iByte<8; iByte++){
    uint32_t aCount[256];
    int iShift = 8*iByte;
    uint32_t i, nSum = 0;
    memset(aCount, 0, sizeof(aCount));
    for(i=0; i<n; i++) aCount[(aFrom[i].iPrefix>>iShift) & 0xff]++;
    if( aCount[(aFrom[0].iPrefix>>iShift) & 0xff]==n ) continue;
    for(i=0; i<256; i++){
      uint32_t c = aCount[i];
      aCount[i] = nSum;
      nSum += c;
    }
    for(i=0; i<n; i++){
      aTo[aCount[(aFrom[i].iPrefix>>iShift) & 0xff]++] = aFrom[i];
    }
    aTo = aFrom;
    aFrom = (aFrom==a) ? aTmp : a;
  }
  if( aFrom!=a ) memcpy(a, aFrom, sizeof(BatchSortKey)*n);
}

/* Put each run of equal prefixes in full order (stable for short runs). */
static void batchSortRuns(BatchSortKey *a, uint32_t n){
  uint32_t iRun = 0;
  while( iRun<n ){
    uint32_t iEnd = iRun+1, i;
    while( iEnd<n && a[iEnd].iPrefix==a[iRun].iPrefix ) iEnd++;
    if( iEnd-iRun>BATCH_SORT_RUN ){
      qsort(&a[iRun], iEnd-iRun, sizeof(BatchSortKey), batchSortCmp);
    }else{
      for(i=iRun+1; i<iEnd; i++){
        BatchSortKey x = a[i];
        uint32_t j = i;
        while( j>iRun && batchSortCmp(&a[j-1], &x)>0 ){
          a[j] = a[j-1];
          j--;
        }
        a[j] = x;
      }
    }
    iRun = iEnd;
  }
}

int lsmBatchInsert(const uint8_t *p, size_t n, LsmMemtable *pMem){
  BatchSort sort = {0, 0};
  BatchSortKey *aKey = 0;
  uint32_t nOp = n>=LSM_BATCH_HEADER ? lsmBatchDataCount(p) : 0;
  uint32_t i;
  int rc;
  /* Every operation takes at least 2 bytes, which bounds a bad count. */
  if( nOp>1 && nOp<=(n - LSM_BATCH_HEADER)/2 ){
    sort.aOp = lsmMalloc(sizeof(LsmBatchOpRec)*nOp);
    aKey = lsmMalloc(sizeof(BatchSortKey)*2*(size_t)nOp);
  }
  if( sort.aOp==0 || aKey==0 ){
    /* Without memory for the sort, insert in batch order. */
    lsmFree(sort.aOp);
    lsmFree(aKey);
    return lsmBatchForEach(p, n, batchInsertOp, pMem);
  }
  rc = lsmBatchForEach(p, n, batchSortCollect, &sort);
  if( rc==LSM_OK ){
    const LsmBatchOpRec *pFirst = &sort.aOp[0];
    size_t nSkip = pFirst->nKey;
    for(i=1; i<nOp; i++){
      const LsmBatchOpRec *pOp = &sort.aOp[i];
      size_t j = 0;
      while( j<nSkip && j<pOp->nKey && pOp->pKey[j]==pFirst->pKey[j] ) j++;
      nSkip = j;
    }
    for(i=0; i<nOp; i++){
      const LsmBatchOpRec *pOp = &sort.aOp[nOp-1-i];     /* newest first */
      aKey[i].iPrefix = lsmKeyPrefix(pOp->pKey, pOp->nKey, nSkip);
      aKey[i].pOp = pOp;
    }
    batchRadixSort(aKey, &aKey[nOp], nOp);
    batchSortRuns(aKey, nOp);
  }
  for(i=0; rc==LSM_OK && i<nOp; i++){
    const LsmBatchOpRec *pOp = aKey[i].pOp;
    rc = lsmMemtableAdd(pMem, pOp->seq, pOp->kind, pOp->pKey, pOp->nKey,
                        pOp->pVal, pOp->nVal);
  }
  lsmFree(sort.aOp);
  lsmFree(aKey);
  return rc;
}

int lsmLogRecordCheck(const char *zPath, uint64_t iOff, int type, size_t n){
  const char *zWhy = 0;
  switch( type ){
    case LSM_REC_BATCH:
    case LSM_REC_BATCH_SYNC:
      if( n<LSM_BATCH_HEADER ) zWhy = "batch shorter than its header";
      break;
    case LSM_REC_PREPARE:
      if( n<8+LSM_BATCH_HEADER ) zWhy = "prepare record too short";
      break;
    case LSM_REC_COMMIT:
      if( n!=16 ) zWhy = "commit record not 16 bytes";
      break;
    case LSM_REC_ABORT:
      if( n!=8 ) zWhy = "abort record not 8 bytes";
      break;
    default:
      zWhy = "record type not used in logs";
      break;
  }
  if( zWhy==0 ) return LSM_OK;
  return lsmErr(LSM_CORRUPT, "%s: record at offset %llu (type %d, %zu bytes): %s",
                zPath, (unsigned long long)iOff, type, n, zWhy);
}
