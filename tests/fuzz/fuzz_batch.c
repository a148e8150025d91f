/*
** fuzz_batch.c -- libFuzzer target for write-batch decoding
** (lsmBatchForEach and lsmBatchInsert in lsm/batch.c), the payload of
** every log record that recovery replays.
**
** Input: an encoded batch (FORMAT.md "Write batch"), as a log record
** carries it.  The target
**   - walks it with lsmBatchForEach, checking that every key and value
**     handed out lies inside the input and that sequences count up from
**     the header's;
**   - if the walk succeeds: the operations number exactly the header's
**     count; rebuilding the batch through the public lsm_batch_* API (a
**     plain batch and an indexed one) gives an encoding that walks to the
**     same operations; the indexed batch answers lsm_batch_get with the
**     last operation on each key; truncating it to a mark halfway keeps
**     exactly the operations before the mark;
**   - inserts it into a memtable as replay does, which must succeed
**     exactly when the walk did, and then holds one entry per operation.
*/
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "fuzzenv.h"
#include "batch.h"
#include "ikey.h"
#include "memtable.h"

#define FB_MAX_OP 4096

typedef struct FbOp {
  uint64_t seq;
  int kind;
  const uint8_t *pKey, *pVal;
  size_t nKey, nVal;
} FbOp;

typedef struct FbWalk {
  const uint8_t *a;      /* the encoding being walked */
  size_t n;
  FbOp aOp[FB_MAX_OP];
  int nOp;
} FbWalk;

static int fbRecord(void *pArg, uint64_t seq, int kind,
                    const uint8_t *pKey, size_t nKey,
                    const uint8_t *pVal, size_t nVal){
  FbWalk *w = (FbWalk*)pArg;
  assert( kind==LSM_KIND_VALUE || kind==LSM_KIND_DELETE );
  assert( nKey==0 || (pKey>=w->a && pKey+nKey<=w->a+w->n) );
  assert( nVal==0 || (pVal>=w->a && pVal+nVal<=w->a+w->n) );
  assert( kind==LSM_KIND_VALUE || nVal==0 );
  if( w->nOp>=FB_MAX_OP ) return LSM_TOOBIG;      /* stop the walk */
  w->aOp[w->nOp].seq = seq;
  w->aOp[w->nOp].kind = kind;
  w->aOp[w->nOp].pKey = pKey;
  w->aOp[w->nOp].nKey = nKey;
  w->aOp[w->nOp].pVal = pVal;
  w->aOp[w->nOp].nVal = nVal;
  w->nOp++;
  return LSM_OK;
}

/* Do walks a and b hold the same operations (b's sequences shifted)? */
static void fbSame(const FbWalk *a, const FbWalk *b, int nOp){
  int i;
  assert( b->nOp==nOp );
  for(i=0; i<nOp; i++){
    const FbOp *x = &a->aOp[i], *y = &b->aOp[i];
    assert( x->kind==y->kind && x->nKey==y->nKey && x->nVal==y->nVal );
    assert( x->nKey==0 || memcmp(x->pKey, y->pKey, x->nKey)==0 );
    assert( x->nVal==0 || memcmp(x->pVal, y->pVal, x->nVal)==0 );
    assert( y->seq==b->aOp[0].seq + (uint64_t)i );
  }
}

/* Rebuild the operations of w through the public API, plain or indexed,
** and check the result. */
static void fbRebuild(const FbWalk *w, int bIndexed){
  static FbWalk again;
  lsm_batch *pBatch = 0;
  const uint8_t *aEnc;
  size_t nEnc, iMark = 0;
  int i, rc;

  rc = bIndexed ? lsm_batch_new_indexed(&pBatch) : lsm_batch_new(&pBatch);
  assert( rc==LSM_OK );
  for(i=0; i<w->nOp; i++){
    const FbOp *p = &w->aOp[i];
    if( i==w->nOp/2 ) iMark = lsm_batch_mark(pBatch);
    rc = p->kind==LSM_KIND_VALUE
       ? lsm_batch_put(pBatch, p->pKey, p->nKey, p->pVal, p->nVal)
       : lsm_batch_delete(pBatch, p->pKey, p->nKey);
    assert( rc==LSM_OK );
  }
  assert( lsm_batch_count(pBatch)==(uint32_t)w->nOp );
  lsmBatchSetSeq(pBatch, 1);
  aEnc = lsmBatchData(pBatch, &nEnc);
  memset(&again, 0, sizeof(again));
  again.a = aEnc;
  again.n = nEnc;
  assert( lsmBatchForEach(aEnc, nEnc, fbRecord, &again)==LSM_OK );
  fbSame(w, &again, w->nOp);

  if( bIndexed ){
    /* Each key reads as the last operation on it. */
    for(i=0; i<w->nOp; i++){
      const FbOp *p = &w->aOp[i];
      const void *pVal = 0;
      size_t nVal = 0;
      int bDeleted = 0, j;
      for(j=w->nOp-1; j>i; j--){
        if( w->aOp[j].nKey==p->nKey
         && (p->nKey==0 || memcmp(w->aOp[j].pKey, p->pKey, p->nKey)==0) ){
          break;
        }
      }
      if( j!=i ) continue;              /* a later operation wins */
      rc = lsm_batch_get(pBatch, p->pKey, p->nKey, &pVal, &nVal, &bDeleted);
      assert( rc==LSM_OK );
      assert( bDeleted==(p->kind==LSM_KIND_DELETE) );
      if( !bDeleted ){
        assert( nVal==p->nVal && (nVal==0 || memcmp(pVal, p->pVal, nVal)==0) );
      }
    }
    /* A savepoint rollback to the halfway mark. */
    if( w->nOp>0 ){
      rc = lsm_batch_truncate(pBatch, iMark);
      assert( rc==LSM_OK );
      assert( lsm_batch_count(pBatch)==(uint32_t)(w->nOp/2) );
      lsmBatchSetSeq(pBatch, 1);
      aEnc = lsmBatchData(pBatch, &nEnc);
      memset(&again, 0, sizeof(again));
      again.a = aEnc;
      again.n = nEnc;
      assert( lsmBatchForEach(aEnc, nEnc, fbRecord, &again)==LSM_OK );
      fbSame(w, &again, w->nOp/2);
    }
  }
  lsm_batch_free(pBatch);
}

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData){
  static FbWalk w;
  LsmMemtable *pMem = 0;
  int rc, rcInsert, i;

  memset(&w, 0, sizeof(w));
  w.a = aData;
  w.n = nData;
  rc = lsmBatchForEach(aData, nData, fbRecord, &w);
  assert( rc==LSM_OK || rc==LSM_CORRUPT || rc==LSM_TOOBIG );
  if( rc==LSM_OK ){
    assert( nData>=LSM_BATCH_HEADER );
    assert( (uint32_t)w.nOp==lsmBatchDataCount(aData) );
    for(i=0; i<w.nOp; i++){
      assert( w.aOp[i].seq==lsmBatchDataSeq(aData) + (uint64_t)i );
    }
    fbRebuild(&w, 0);
    fbRebuild(&w, 1);
  }

  if( lsmMemtableNew(0, &pMem)!=LSM_OK ) abort();
  rcInsert = lsmBatchInsert(aData, nData, pMem);
  if( rc==LSM_OK ){
    assert( rcInsert==LSM_OK );
    assert( lsmMemtableCount(pMem)==(uint64_t)w.nOp );
  }else if( rc==LSM_CORRUPT ){
    assert( rcInsert==LSM_CORRUPT );
  }
  lsmMemtableUnref(pMem);
  return 0;
}
