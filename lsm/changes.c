/*
** changes.c -- the change feed: every committed write after a given
** sequence number, in commit order, read back from the logs
** (lsm_changes_open / _next / _close).
**
** Where the writes are.  Every commit is logged once, in the log that
** was live when it committed, as one of (wal.h, FORMAT.md):
**
**   LSM_REC_BATCH, LSM_REC_BATCH_SYNC   a batch; operation i has
**                                       sequence seq+i;
**   LSM_REC_PREPARE  txn | batch        a prepared transaction, not yet
**                                       committed (its seq is unused);
**   LSM_REC_COMMIT   txn | first seq    it commits: operation i of the
**                                       prepared batch gets first+i;
**   LSM_REC_ABORT    txn                it is forgotten.
**
** A transaction still in doubt when the logs switch is logged again, with
** the same id, in the new log, so that a log can be deleted without
** losing it; the feed keeps one copy per id (the latest).  Logs are
** numbered in the order they were started and commits are appended in
** sequence order, so reading the logs by number gives commit order.
** The engine keeps old logs up to lsm_options.log_retain_bytes after
** their memtables are flushed; that is all the history there is.
**
** The window.  lsm_changes_open reads the last published sequence U
** first and then lists and opens the logs.  A write is appended to its
** log before its sequence is published, so every write up to U lies in
** the part of a log that existed when the log was opened (the reader
** takes the file's size at open); the feed returns the writes in
** (iAfter, U] and stops there, never reading the record a writer may be
** appending.  Opening every log at the start also keeps a log that the
** engine deletes meanwhile readable (the open handle holds it).
**
** Completeness.  Sequences have no gaps, so the feed can prove that it
** has everything: the first write it finds must have sequence at most
** iAfter+1, and each later commit must start right after the one before
** it.  Otherwise the writes in between were in a log that is no longer
** retained, and the feed fails with LSM_NOTFOUND and a message saying to
** take a backup instead (lsm_backup_ex gives the sequence a copy stops
** at, from which the feed continues).  lsm_changes_open itself reads up
** to the first change, so that this error, in the usual case, is its
** answer rather than the first lsm_changes_next's.
*/
#include "lsm.h"
#include "batch.h"
#include "coding.h"
#include "ikey.h"
#include "inspect.h"
#include "util.h"
#include "version.h"
#include "wal.h"
#include "dbint.h"

#include <stdio.h>
#include <string.h>

/* A prepared transaction waiting for its COMMIT or ABORT. */
typedef struct ChangePrep {
  uint64_t iTxn;
  LsmBuf batch;                 /* its encoded batch */
} ChangePrep;

struct lsm_changes {
  lsm_db *db;
  uint64_t iAfter;              /* return sequences > iAfter ... */
  uint64_t iUpper;              /* ... and <= iUpper */
  uint64_t iNext;               /* sequence the next commit must start at */
  int bStarted;                 /* a commit has been seen (iNext is set) */
  int bPrimed;                  /* the current op is one next() has not
                                ** returned yet (set by open) */
  int bEof;

  int rc;                       /* sticky error of an earlier step */

  LsmWalReader **apLog;         /* every log, oldest first */
  char **azLog;                 /* their paths */
  int nLog;
  int iLog;                     /* the log being read */

  ChangePrep *aPrep;              /* transactions in doubt */
  int nPrep, nPrepAlloc;

  LsmBuf commit;                /* the batch of a committed transaction */
  LsmBatchOpRec *aOp;           /* operations of the current batch */
  int nOp, nOpAlloc;
  int iOp;                      /* current operation */
  uint64_t iSeq0;               /* sequence of aOp[0] */
};

/*
** The error for history that is gone: the feed needs the changes after
** iAfter, and the oldest one the logs still hold is iFound (0: the logs
** hold none of the changes up to iUpper).
*/
static int changesNotRetained(lsm_changes *p, uint64_t iFound){
  char zFound[80];
  if( iFound ){
    snprintf(zFound, sizeof(zFound), "the oldest retained change is %llu",
             (unsigned long long)iFound);
  }else{
    snprintf(zFound, sizeof(zFound), "none of the changes up to %llu is "
             "retained", (unsigned long long)p->iUpper);
  }
  return lsmErr(LSM_NOTFOUND, "changes after sequence %llu are no longer "
                "retained in the logs of %s (%s); take a backup instead and "
                "follow the feed from the sequence it reports (raise "
                "log_retain_bytes to keep more)",
                (unsigned long long)p->iAfter, p->db->zDir, zFound);
}

static int changesCollectOp(void *pArg, uint64_t seq, int kind,
                            const uint8_t *pKey, size_t nKey,
                            const uint8_t *pVal, size_t nVal){
  lsm_changes *p = (lsm_changes*)pArg;
  if( p->nOp>=p->nOpAlloc ){
    int nNew = p->nOpAlloc ? p->nOpAlloc*2 : 16;
    LsmBatchOpRec *aNew = lsmRealloc(p->aOp, sizeof(LsmBatchOpRec)*(size_t)nNew);
    if( aNew==0 ) return lsmErr(LSM_NOMEM, "change feed");
    p->aOp = aNew;
    p->nOpAlloc = nNew;
  }
  lsmBatchOpSet(&p->aOp[p->nOp++], seq, kind, pKey, nKey, pVal, nVal);
  return LSM_OK;
}

/*
** Make the batch a[0..n-1], whose first operation has sequence iSeq0,
** the current one (p->aOp) if it holds anything the feed returns.
** zPath/iOff for messages.
*/
static int changesBatch(lsm_changes *p, const uint8_t *a, size_t n,
                        uint64_t iSeq0, const char *zPath, uint64_t iOff){
  uint32_t nCount = lsmBatchDataCount(a);
  int rc;
  if( !p->bStarted ){
    /* The first commit found: is the history complete from iAfter on? */
    if( iSeq0>p->iAfter+1 ) return changesNotRetained(p, iSeq0);
    p->bStarted = 1;
    p->iNext = iSeq0;
  }
  if( iSeq0+nCount<=p->iNext ) return LSM_OK;     /* seen already */
  if( iSeq0!=p->iNext ){
    if( iSeq0>p->iNext ) return changesNotRetained(p, iSeq0);
    return lsmErr(LSM_CORRUPT, "%s: commit at offset %llu starts at sequence "
                  "%llu, inside the previous commit (next expected %llu)",
                  zPath, (unsigned long long)iOff, (unsigned long long)iSeq0,
                  (unsigned long long)p->iNext);
  }
  p->iNext = iSeq0 + nCount;
  if( p->iNext-1<=p->iAfter ) return LSM_OK;       /* before the window */
  p->nOp = 0;
  rc = lsmBatchForEach(a, n, changesCollectOp, p);
  if( rc==LSM_CORRUPT ){
    char zMsg[256];
    snprintf(zMsg, sizeof(zMsg), "%s", lsmErrMsg());
    rc = lsmErr(rc, "%s: record at offset %llu: %s", zPath,
                (unsigned long long)iOff, zMsg);
  }
  if( rc==LSM_OK ){
    p->iSeq0 = iSeq0;
    p->iOp = 0;
    /* Skip what precedes the window. */
    if( iSeq0<=p->iAfter ) p->iOp = (int)(p->iAfter + 1 - iSeq0);
  }
  return rc;
}

static ChangePrep *changesFindPrepared(lsm_changes *p, uint64_t iTxn){
  int i;
  for(i=0; i<p->nPrep; i++) if( p->aPrep[i].iTxn==iTxn ) return &p->aPrep[i];
  return 0;
}

static void changesDropPrepared(lsm_changes *p, ChangePrep *pPrep){
  lsmBufFree(&pPrep->batch);
  *pPrep = p->aPrep[--p->nPrep];
}

/* Remember (or replace) prepared transaction iTxn with batch a[0..n-1]. */
static int changesPrepare(lsm_changes *p, uint64_t iTxn,
                          const uint8_t *a, size_t n){
  ChangePrep *pPrep = changesFindPrepared(p, iTxn);
  if( pPrep==0 ){
    if( p->nPrep>=p->nPrepAlloc ){
      int nNew = p->nPrepAlloc ? p->nPrepAlloc*2 : 4;
      ChangePrep *aNew = lsmRealloc(p->aPrep, sizeof(ChangePrep)*(size_t)nNew);
      if( aNew==0 ) return lsmErr(LSM_NOMEM, "change feed");
      p->aPrep = aNew;
      p->nPrepAlloc = nNew;
    }
    pPrep = &p->aPrep[p->nPrep++];
    memset(pPrep, 0, sizeof(*pPrep));
    pPrep->iTxn = iTxn;
  }
  return lsmBufSet(&pPrep->batch, a, n)==LSM_OK ? LSM_OK
                                                : lsmErr(LSM_NOMEM, "change feed");
}

/* Handle one log record; a batch it commits becomes current. */
static int changesRecord(lsm_changes *p, int type, const uint8_t *a, size_t n,
                         const char *zPath, uint64_t iOff){
  int rc = lsmLogRecordCheck(zPath, iOff, type, n);
  if( rc!=LSM_OK ) return rc;
  switch( type ){
    case LSM_REC_BATCH:
    case LSM_REC_BATCH_SYNC:
      rc = changesBatch(p, a, n, lsmBatchDataSeq(a), zPath, iOff);
      break;
    case LSM_REC_PREPARE:
      rc = changesPrepare(p, lsmGet64(a), a+8, n-8);
      break;
    case LSM_REC_COMMIT: {
      ChangePrep *pPrep;
      uint64_t iFirst = lsmGet64(a+8);
      pPrep = changesFindPrepared(p, lsmGet64(a));
      if( pPrep==0 ){
        /* Its PREPARE went with a log no longer retained.  That matters
        ** only if the feed needs this commit's writes. */
        if( p->bStarted && iFirst<p->iNext ) break;       /* seen already */
        if( iFirst>p->iAfter ){
          if( iFirst<=p->iUpper ) rc = changesNotRetained(p, iFirst);
          break;
        }
        /* It starts before the window, and how far it reaches is unknown:
        ** the next commit must start within iAfter+1 again. */
        p->bStarted = 0;
        break;
      }
      /* The payload is the reader's; keep the batch where it stays put
      ** while its operations are returned. */
      lsmBufFree(&p->commit);
      p->commit = pPrep->batch;
      memset(&pPrep->batch, 0, sizeof(pPrep->batch));
      changesDropPrepared(p, pPrep);
      rc = changesBatch(p, p->commit.p, p->commit.n, iFirst, zPath, iOff);
      break;
    }
    default: {                       /* LSM_REC_ABORT */
      ChangePrep *pPrep = changesFindPrepared(p, lsmGet64(a));
      if( pPrep ) changesDropPrepared(p, pPrep);
      break;
    }
  }
  return rc;
}

/*
** Advance to the next operation to return.  LSM_OK: p->aOp[p->iOp] is
** it.  LSM_NOTFOUND: the end (p->bEof).  Otherwise an error.
*/
static int changesStep(lsm_changes *p){
  int rc = LSM_OK;
  if( p->rc ){
    return lsmErr(p->rc, "the change feed of %s stopped at an earlier error",
                  p->db->zDir);
  }
  if( p->bEof ) return LSM_NOTFOUND;
  if( p->nOp>0 ) p->iOp++;
  while( rc==LSM_OK ){
    LsmWalReader *pReader;
    const uint8_t *a;
    size_t n;
    uint64_t iOff;
    int type;
    if( p->iOp<p->nOp ){
      if( p->iSeq0 + (uint64_t)p->iOp <= p->iUpper ) return LSM_OK;
      break;                    /* past the window */
    }
    p->nOp = 0;
    /* Everything up to the window's end is out: do not read further
    ** (the next record may be one a writer is appending). */
    if( p->bStarted && p->iNext>p->iUpper ) break;
    if( p->iLog>=p->nLog ){
      /* No more logs.  If the window still has writes, they are lost. */
      if( !p->bStarted && p->iUpper>p->iAfter ){
        rc = changesNotRetained(p, 0);
      }else if( p->bStarted && p->iNext<=p->iUpper ){
        rc = lsmErr(LSM_NOTFOUND, "changes %llu..%llu are missing from the "
                    "logs of %s (deleted while the feed read them?); take a "
                    "backup instead and follow the feed from the sequence "
                    "it reports", (unsigned long long)p->iNext,
                    (unsigned long long)p->iUpper, p->db->zDir);
      }
      break;
    }
    pReader = p->apLog[p->iLog];
    iOff = lsmWalReaderTailOffset(pReader);
    rc = lsmWalReaderNext(pReader, &type, &a, &n);
    if( rc==LSM_NOTFOUND ){
      rc = LSM_OK;
      p->iLog++;
      continue;
    }
    if( rc==LSM_OK ){
      rc = changesRecord(p, type, a, n, p->azLog[p->iLog], iOff);
    }
  }
  if( rc==LSM_OK ){
    p->bEof = 1;
    rc = LSM_NOTFOUND;
  }else{
    p->nOp = 0;
    p->rc = rc;
  }
  return rc;
}

void lsm_changes_close(lsm_changes *p){
  if( p ){
    int i;
    for(i=0; i<p->nLog; i++){
      lsmWalReaderClose(p->apLog[i]);
      lsmFree(p->azLog[i]);
    }
    lsmFree(p->apLog);
    lsmFree(p->azLog);
    for(i=0; i<p->nPrep; i++) lsmBufFree(&p->aPrep[i].batch);
    lsmFree(p->aPrep);
    lsmBufFree(&p->commit);
    lsmFree(p->aOp);
    lsmFree(p);
  }
}

int lsm_changes_open(lsm_db *db, uint64_t iAfter, lsm_changes **pp){
  lsm_changes *p;
  uint64_t *aLog = 0;
  int nLog = 0;
  int i, rc;

  lsmErrClear();
  *pp = 0;
  p = lsmMallocZero(sizeof(*p));
  if( p==0 ) return lsmDbResult(db, lsmErr(LSM_NOMEM, "change feed"));
  p->db = db;
  p->iAfter = iAfter;
  /* Before the logs are opened: see "The window" above. */
  p->iUpper = lsm_last_seq(db);
  rc = lsmLogList(db->pEnv, db->zDir, &aLog, &nLog);
  if( rc==LSM_OK && nLog ){
    p->apLog = lsmMallocZero(sizeof(LsmWalReader*)*(size_t)nLog);
    p->azLog = lsmMallocZero(sizeof(char*)*(size_t)nLog);
    if( p->apLog==0 || p->azLog==0 ) rc = lsmErr(LSM_NOMEM, "change feed");
  }
  for(i=0; rc==LSM_OK && i<nLog; i++){
    char *zPath = lsmLogFileName(db->zDir, aLog[i]);
    if( zPath==0 ){
      rc = lsmErr(LSM_NOMEM, "change feed");
      break;
    }
    rc = lsmWalReaderOpen(db->pEnv, zPath, &p->apLog[p->nLog]);
    if( rc==LSM_OK ){
      lsmWalReaderDurableTypes(p->apLog[p->nLog], 1u<<LSM_REC_BATCH_SYNC);
      p->azLog[p->nLog++] = zPath;
      zPath = 0;
    }else if( rc==LSM_NOTFOUND ){
      /* Deleted since the listing; whether that loses anything shows
      ** when the sequences are checked. */
      rc = LSM_OK;
    }
    lsmFree(zPath);
  }
  lsmFree(aLog);
  /* Nothing asked for: no history needed. */
  if( iAfter>=p->iUpper ) p->bEof = 1;
  if( rc==LSM_OK ){
    rc = changesStep(p);
    if( rc==LSM_OK ) p->bPrimed = 1;
    if( rc==LSM_NOTFOUND && p->bEof ) rc = LSM_OK;
  }
  if( rc!=LSM_OK ){
    lsm_changes_close(p);
    return lsmDbResult(db, rc);
  }
  *pp = p;
  return LSM_OK;
}

int lsm_changes_next(lsm_changes *p, uint64_t *pSeq, int *pbDelete,
                     const void **ppKey, size_t *pnKey,
                     const void **ppVal, size_t *pnVal){
  const LsmBatchOpRec *pOp;
  int rc;
  lsmErrClear();
  if( p->bPrimed ){
    p->bPrimed = 0;
    rc = LSM_OK;
  }else{
    rc = changesStep(p);
  }
  if( rc!=LSM_OK ){
    /* The end is no error; a failure's message goes to the handle. */
    return (rc==LSM_NOTFOUND && p->bEof) ? rc : lsmDbResult(p->db, rc);
  }
  pOp = &p->aOp[p->iOp];
  *pSeq = p->iSeq0 + (uint64_t)p->iOp;
  *pbDelete = (pOp->kind==LSM_KIND_DELETE);
  *ppKey = pOp->pKey;
  *pnKey = pOp->nKey;
  *ppVal = pOp->pVal;
  *pnVal = pOp->nVal;
  return LSM_OK;
}
