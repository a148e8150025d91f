/*
** batch.h -- the engine's view of a write batch.
**
** A batch is kept in its log encoding (FORMAT.md, "Write batch"):
**
**     seq u64 | count u32 | count x op
**     op = kind u8 | varint nKey | key | (kind==value) varint nVal | val
**
** so that a commit writes the batch's bytes to the log unchanged.  The
** sequence field is filled in by the commit leader; operation i of the
** batch gets sequence seq+i.
*/
#ifndef LSM_BATCH_H
#define LSM_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "lsm.h"
#include "memtable.h"

#define LSM_BATCH_HEADER 12

void lsmBatchSetSeq(lsm_batch *pBatch, uint64_t seq);
const uint8_t *lsmBatchData(const lsm_batch *pBatch, size_t *pnData);
/* Append the operations of pSrc to pDst (group commit). */
int lsmBatchAppend(lsm_batch *pDst, const lsm_batch *pSrc);

/*
** Call xOp for each operation of the encoded batch p[0..n-1], in order.
** LSM_CORRUPT if the encoding is malformed (the count disagrees with the
** operations, a length runs past the end); a non-zero return from xOp
** stops the walk and is returned.
*/
typedef int (*LsmBatchOp)(void *pArg, uint64_t seq, int kind,
                          const uint8_t *pKey, size_t nKey,
                          const uint8_t *pVal, size_t nVal);
int lsmBatchForEach(const uint8_t *p, size_t n, LsmBatchOp xOp, void *pArg);

/* One operation of an encoded batch, as an LsmBatchOp callback sees it. */
typedef struct LsmBatchOpRec {
  uint64_t seq;
  int kind;
  const uint8_t *pKey;
  size_t nKey;
  const uint8_t *pVal;
  size_t nVal;
} LsmBatchOpRec;

static inline void lsmBatchOpSet(LsmBatchOpRec *pOp, uint64_t seq, int kind,
                                 const uint8_t *pKey, size_t nKey,
                                 const uint8_t *pVal, size_t nVal){
  pOp->seq = seq;
  pOp->kind = kind;
  pOp->pKey = pKey;
  pOp->nKey = nKey;
  pOp->pVal = pVal;
  pOp->nVal = nVal;
}

/* Sequence and count fields of an encoded batch (REQUIRES n>=12). */
uint64_t lsmBatchDataSeq(const uint8_t *p);
uint32_t lsmBatchDataCount(const uint8_t *p);

/* Insert every operation of the encoded batch into pMem.  LSM_OK,
** LSM_NOMEM or LSM_CORRUPT. */
int lsmBatchInsert(const uint8_t *p, size_t n, LsmMemtable *pMem);

/*
** Check the shape of a log record (wal.h types) of n payload bytes at
** offset iOff of log zPath: a type that logs hold and a length that type
** allows.  LSM_OK, or LSM_CORRUPT with a message naming file, offset and
** reason.  The operations of a batch are checked by lsmBatchForEach.
*/
int lsmLogRecordCheck(const char *zPath, uint64_t iOff, int type, size_t n);

/* Set *ppIndex to the index of an indexed batch, brought up to date
** with every operation (LSM_NOMEM possible); LSM_INVALID if the batch
** was not created indexed. */
int lsmBatchIndex(const lsm_batch *pBatch, LsmMemtable **ppIndex);

#endif /* LSM_BATCH_H */
