/*
** vtabcursor.c -- cursors of the lsm virtual table.
**
** xFilter turns its arguments into a sorted list of disjoint key ranges
** (vtabplan.c) and visits them in order, forward or, for ORDER BY key
** DESC, backward.  A range holding exactly one key is a point lookup:
** the transaction's batch, then the engine at the cursor's snapshot.
** Any other range gets an engine iterator bounded to it, reading the
** batch laid over the snapshot when the transaction has written
** anything.  The snapshot is the transaction's, or outside a transaction
** the one shared by the statement's cursors (lsmvTabSnapshot), so a self
** join sees one state of the table.
**
** The current row is (aKey, aVal): pointers into the iterator, valid
** until it moves, or for a point lookup into the range set (the key) and
** the buffer the lookup returned (the record).  Columns are
** decoded only when xColumn asks for them; during an UPDATE, columns
** SQLite will not change are not decoded at all (sqlite3_vtab_nochange).
*/
#include <string.h>
#include "vtabint.h"

SQLITE_EXTENSION_INIT3

struct LsmvCursor {
  sqlite3_vtab_cursor base;   /* must be first */
  LsmvSnap *pSnap;            /* snapshot read (a reference) */
  LsmvRangeSet ranges;        /* what xFilter allows */
  int iRange;                 /* current range */
  int bDesc;                  /* visit keys in descending order */
  int bEof;
  lsm_iter *pIter;            /* iterator of range iRange (not a point) */
  const unsigned char *aKey;  /* current row */
  size_t nKey;
  const unsigned char *aVal;
  size_t nVal;
  LsmvBuf point;              /* record a point lookup found in the batch */
  void *pGot;                 /* record lsm_get returned (lsm_free) */
};

/* The table a cursor reads. */
static LsmvTab *curTab(LsmvCursor *pCur){
  return (LsmvTab*)pCur->base.pVtab;
}

int lsmvCursorOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  LsmvTab *pTab = (LsmvTab*)pVtab;
  LsmvCursor *pCur = sqlite3_malloc64(sizeof(*pCur));
  *ppCur = 0;
  if( pCur==0 ) return SQLITE_NOMEM;
  memset(pCur, 0, sizeof(*pCur));
  pCur->bEof = 1;
  pTab->nCursor++;
  *ppCur = &pCur->base;
  return SQLITE_OK;
}

int lsmvCursorClose(sqlite3_vtab_cursor *pBase){
  LsmvCursor *pCur = (LsmvCursor*)pBase;
  LsmvTab *pTab = curTab(pCur);
  lsm_iter_free(pCur->pIter);
  lsmvSnapUnref(pCur->pSnap);
  lsmvRangeSetFree(&pCur->ranges);
  lsmvBufFree(&pCur->point);
  lsm_free(pCur->pGot);
  sqlite3_free(pCur);
  /* the statement that shared the snapshot is over */
  if( --pTab->nCursor==0 && pTab->pStmtSnap ){
    lsmvSnapUnref(pTab->pStmtSnap);
    pTab->pStmtSnap = 0;
  }
  return SQLITE_OK;
}

/* Look up the single key of point range r.  Sets *pbFound, and the row. */
static int curPoint(LsmvCursor *pCur, const LsmvRange *r, int *pbFound){
  LsmvTab *pTab = curTab(pCur);
  const unsigned char *aKey = &pCur->ranges.arena.a[r->iLo];
  const void *pV = 0;
  size_t nV = 0;
  int rc = LSM_NOTFOUND;
  *pbFound = 0;
  lsm_free(pCur->pGot);
  pCur->pGot = 0;
  if( pTab->pBatch && lsm_batch_count(pTab->pBatch)>0 ){
    int bDeleted = 0;
    rc = lsm_batch_get(pTab->pBatch, aKey, r->nLo, &pV, &nV, &bDeleted);
    if( rc==LSM_OK ){
      /* copied: the batch may change before the cursor moves */
      *pbFound = !bDeleted;
      pCur->point.n = 0;
      if( *pbFound ) rc = lsmvBufAppend(&pCur->point, pV, nV);
      pV = pCur->point.a;
      nV = pCur->point.n;
    }else if( rc!=LSM_NOTFOUND ){
      return lsmvTabEngineError(pTab, rc, "reading the batch");
    }
  }
  if( rc==LSM_NOTFOUND ){
    rc = lsm_get(pTab->pDb, pCur->pSnap->pSnap, aKey, r->nLo, &pCur->pGot, &nV);
    if( rc==LSM_OK ){
      *pbFound = 1;
      pV = pCur->pGot;
    }else if( rc==LSM_NOTFOUND ){
      rc = SQLITE_OK;
    }else{
      rc = lsmvTabEngineError(pTab, rc, "reading a key");
    }
  }
  if( rc==SQLITE_OK && *pbFound ){
    pCur->aKey = aKey;
    pCur->nKey = r->nLo;
    pCur->aVal = (const unsigned char*)pV;
    pCur->nVal = nV;
  }
  return rc;
}

/* Take the row from the iterator if it is on one.  *pbFound says so. */
static int curFromIter(LsmvCursor *pCur, int *pbFound){
  *pbFound = lsm_iter_valid(pCur->pIter);
  if( *pbFound ){
    pCur->aKey = lsm_iter_key(pCur->pIter, &pCur->nKey);
    pCur->aVal = lsm_iter_value(pCur->pIter, &pCur->nVal);
    return SQLITE_OK;
  }else{
    int rc = lsm_iter_status(pCur->pIter);
    if( rc!=LSM_OK ) return lsmvTabEngineError(curTab(pCur), rc, "scanning");
    return SQLITE_OK;
  }
}

/*
** Position the cursor on the first row (last, if descending) of range
** iRange or of the ranges after it in scan order; at EOF if none has one.
*/
static int curSettle(LsmvCursor *pCur){
  LsmvTab *pTab = curTab(pCur);
  int rc = SQLITE_OK;
  while( rc==SQLITE_OK && pCur->iRange>=0 && pCur->iRange<pCur->ranges.n ){
    const LsmvRange *r = &pCur->ranges.a[pCur->iRange];
    const unsigned char *a = pCur->ranges.arena.a;
    int bFound = 0;
    lsm_iter_free(pCur->pIter);
    pCur->pIter = 0;
    if( r->bPoint ){
      rc = curPoint(pCur, r, &bFound);
    }else{
      const lsm_batch *pBatch = 0;
      if( pTab->pBatch && lsm_batch_count(pTab->pBatch)>0 ) pBatch = pTab->pBatch;
      rc = lsm_iter_new_batch(pTab->pDb, pCur->pSnap->pSnap, pBatch,
                              r->nLo ? &a[r->iLo] : 0, r->nLo,
                              r->bHiNone ? 0 : &a[r->iHi], r->nHi,
                              &pCur->pIter);
      if( rc==LSM_OK ){
        rc = pCur->bDesc ? lsm_iter_last(pCur->pIter) : lsm_iter_first(pCur->pIter);
        if( rc==LSM_OK ){
          rc = curFromIter(pCur, &bFound);
        }else{
          rc = lsmvTabEngineError(pTab, rc, "scanning");
        }
      }else{
        pCur->pIter = 0;
        rc = lsmvTabEngineError(pTab, rc, "opening an iterator");
      }
    }
    if( rc==SQLITE_OK && bFound ) return SQLITE_OK;
    pCur->iRange += pCur->bDesc ? -1 : 1;
  }
  pCur->bEof = 1;
  return rc;
}

int lsmvCursorFilter(sqlite3_vtab_cursor *pBase, int idxNum, const char *idxStr,
                     int argc, sqlite3_value **argv){
  LsmvCursor *pCur = (LsmvCursor*)pBase;
  LsmvTab *pTab = curTab(pCur);
  LsmvSnap *pSnap = 0;
  int rc;

  lsm_iter_free(pCur->pIter);
  pCur->pIter = 0;
  pCur->bEof = 1;
  rc = lsmvTabSnapshot(pTab, &pSnap);
  if( rc!=SQLITE_OK ) return rc;
  lsmvSnapUnref(pCur->pSnap);
  pCur->pSnap = pSnap;
  pCur->bDesc = (idxNum & LSMV_PLAN_DESC)!=0;
  rc = lsmvPlanRanges(pTab, idxStr, argc, argv, &pCur->ranges);
  if( rc==SQLITE_OK ){
    pCur->bEof = 0;
    pCur->iRange = pCur->bDesc ? pCur->ranges.n-1 : 0;
    rc = curSettle(pCur);
  }
  return rc;
}

int lsmvCursorNext(sqlite3_vtab_cursor *pBase){
  LsmvCursor *pCur = (LsmvCursor*)pBase;
  int rc = SQLITE_OK;
  int bFound = 0;
  if( pCur->pIter ){
    rc = pCur->bDesc ? lsm_iter_prev(pCur->pIter) : lsm_iter_next(pCur->pIter);
    if( rc==LSM_OK ){
      rc = curFromIter(pCur, &bFound);
    }else{
      rc = lsmvTabEngineError(curTab(pCur), rc, "scanning");
    }
  }
  if( rc==SQLITE_OK && !bFound ){
    pCur->iRange += pCur->bDesc ? -1 : 1;
    rc = curSettle(pCur);
  }
  return rc;
}

int lsmvCursorEof(sqlite3_vtab_cursor *pBase){
  return ((LsmvCursor*)pBase)->bEof;
}

int lsmvCursorColumn(sqlite3_vtab_cursor *pBase, sqlite3_context *ctx, int i){
  LsmvCursor *pCur = (LsmvCursor*)pBase;
  LsmvValue v;
  int rc;
  /* An UPDATE that keeps this column: xUpdate copies it from the old
  ** record without our decoding it. */
  if( sqlite3_vtab_nochange(ctx) ) return SQLITE_OK;
  if( i==0 ){
    unsigned flags = 0;
    rc = lsmvRecordFlags(pCur->aVal, pCur->nVal, &flags);
    if( rc==SQLITE_OK ) rc = lsmvKeyDecode(pCur->aKey, pCur->nKey, flags, &v);
  }else{
    rc = lsmvRecordColumn(pCur->aVal, pCur->nVal, i-1, &v);
  }
  if( rc!=SQLITE_OK ){
    return lsmvTabError(curTab(pCur), rc, "corrupt row (key of %llu bytes)",
                        (unsigned long long)pCur->nKey);
  }
  lsmvValueResult(ctx, &v);
  return SQLITE_OK;
}

/* Declared WITHOUT ROWID, the table has no rowid to give. */
int lsmvCursorRowid(sqlite3_vtab_cursor *pBase, sqlite3_int64 *piRowid){
  LsmvCursor *pCur = (LsmvCursor*)pBase;
  *piRowid = 0;
  return lsmvTabError(curTab(pCur), SQLITE_ERROR, "the table has no rowid");
}
