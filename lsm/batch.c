/*
** batch.c -- write batches (lsm_batch_*), their encoding and replay.
**
** The encoding is described in batch.h and FORMAT.md.  An indexed batch
** also inserts every operation into a private memtable whose sequence
** numbers start at LSM_OVERLAY_SEQ, so that lsm_batch_get and
** lsm_iter_new_batch can read the batch in key order with the newest
** operation on a key winning.  Truncating an indexed batch rebuilds the
** index from the surviving operations (savepoint rollbacks are rare; the
** common path, appending, stays cheap).
*/
#include "batch.h"
#include "coding.h"
#include "ikey.h"
#include "util.h"
#include "wal.h"

#include <string.h>

struct lsm_batch {
  LsmBuf rep;               /* encoded batch, header included */
  uint32_t nOp;             /* operations in rep */
  int bIndexed;             /* keep pIndex up to date */
  LsmMemtable *pIndex;      /* key-ordered copy of the operations */
};

static int batchInit(lsm_batch *p){
  static const uint8_t aZero[LSM_BATCH_HEADER] = {0};
  p->nOp = 0;
  p->rep.n = 0;
  return lsmBufAppend(&p->rep, aZero, sizeof(aZero));
}

static int batchNew(int bIndexed, lsm_batch **pp){
  lsm_batch *p = lsmMallocZero(sizeof(*p));
  int rc = p ? batchInit(p) : LSM_NOMEM;
  if( rc==LSM_OK && bIndexed ){
    p->bIndexed = 1;
    rc = lsmMemtableNew(&p->pIndex);
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

/* Append one operation to the encoding and, if indexed, to the index.
** On failure the batch is unchanged. */
static int batchAdd(lsm_batch *p, int kind, const void *pKey, size_t nKey,
                    const void *pVal, size_t nVal){
  size_t nOld = p->rep.n;
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
    if( p->pIndex ){
      rc = lsmMemtableAdd(p->pIndex, LSM_OVERLAY_SEQ + p->nOp, kind,
                          pKey, nKey, pVal, nVal);
    }
  }
  if( rc==LSM_OK ){
    p->nOp++;
  }else{
    p->rep.n = nOld;
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

/* Rebuild the index of p from its encoding. */
static int batchIndexOp(void *pArg, uint64_t seq, int kind,
                        const uint8_t *pKey, size_t nKey,
                        const uint8_t *pVal, size_t nVal){
  lsm_batch *p = (lsm_batch*)pArg;
  (void)seq;
  return lsmMemtableAdd(p->pIndex, LSM_OVERLAY_SEQ + p->nOp++, kind,
                        pKey, nKey, pVal, nVal);
}

static int batchReindex(lsm_batch *p){
  LsmMemtable *pNew = 0;
  uint32_t nOp = p->nOp;
  int rc = lsmMemtableNew(&pNew);
  if( rc==LSM_OK ){
    LsmMemtable *pOld = p->pIndex;
    p->pIndex = pNew;
    p->nOp = 0;
    lsmPut32(p->rep.p + 8, nOp);
    rc = lsmBatchForEach(p->rep.p, p->rep.n, batchIndexOp, p);
    if( rc==LSM_OK ){
      lsmMemtableUnref(pOld);
    }else{
      lsmMemtableUnref(pNew);
      p->pIndex = pOld;
    }
    p->nOp = nOp;
  }
  return rc;
}

int lsm_batch_truncate(lsm_batch *p, size_t iMark){
  size_t nByte = iMark >> 32;
  uint32_t nOp = (uint32_t)(iMark & 0xffffffffu);
  if( nByte<LSM_BATCH_HEADER || nByte>p->rep.n || nOp>p->nOp ){
    return lsmErr(LSM_INVALID, "batch mark does not belong to this batch");
  }
  if( nOp==p->nOp ) return LSM_OK;
  p->rep.n = nByte;
  p->nOp = nOp;
  return p->pIndex ? batchReindex(p) : LSM_OK;
}

int lsm_batch_clear(lsm_batch *p){
  return lsm_batch_truncate(p, (size_t)LSM_BATCH_HEADER << 32);
}

int lsm_batch_get(const lsm_batch *p, const void *pKey, size_t nKey,
                  const void **ppVal, size_t *pnVal, int *pbDeleted){
  const uint8_t *pVal = 0;
  size_t nVal = 0;
  int rc;
  if( p->pIndex==0 ){
    return lsmErr(LSM_INVALID, "lsm_batch_get on a batch not created indexed");
  }
  rc = lsmMemtableGet(p->pIndex, pKey, nKey, LSM_MAX_SEQ, &pVal, &nVal,
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

LsmMemtable *lsmBatchIndex(const lsm_batch *p){ return p->pIndex; }

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

int lsmBatchForEach(const uint8_t *p, size_t n, LsmBatchOp xOp, void *pArg){
  uint64_t seq;
  uint32_t nOp, i;
  size_t off = LSM_BATCH_HEADER;
  if( n<LSM_BATCH_HEADER ){
    return lsmErr(LSM_CORRUPT, "write batch of %zu bytes is too short", n);
  }
  seq = lsmGet64(p);
  nOp = lsmGet32(p + 8);
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

static int batchInsertOp(void *pArg, uint64_t seq, int kind,
                         const uint8_t *pKey, size_t nKey,
                         const uint8_t *pVal, size_t nVal){
  return lsmMemtableAdd((LsmMemtable*)pArg, seq, kind, pKey, nKey, pVal, nVal);
}

int lsmBatchInsert(const uint8_t *p, size_t n, LsmMemtable *pMem){
  return lsmBatchForEach(p, n, batchInsertOp, pMem);
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
