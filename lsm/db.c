/*
** db.c -- the database handle: open and recovery, the write path with
** group commit, point reads, snapshots, iterators and the background
** thread that flushes frozen memtables.
**
** Write path.  Writers queue on db->pWriterHead.  The writer at the head
** is the leader: it makes room (freezing a full memtable, waiting when
** too many are frozen), gathers the batches of the writers queued behind
** it into one group, gives the group consecutive sequence numbers,
** appends it to the log as one record with the mutex released, syncs the
** log once for the whole group (sync mode full), inserts into the
** memtable, and only then publishes the new last sequence and wakes the
** writers of its group.  Readers never see a sequence above
** db->iLastSeq, so a half-inserted group is invisible.
**
** Gathering.  The writers that arrive while a group's log sync runs form
** the next group; the writers of the group being synced come back only
** after it and would miss that one, so with N busy threads groups take
** turns at about N/2 each.  A leader whose previous synced group had
** several writers therefore waits, for at most a quarter of the last
** sync's duration (and never more than GATHER_MAX_US, so that one slow
** sync does not stall the next group), until those writers and the ones
** that were already queued when that group ended are all queued.  A lone
** writer never waits.
**
** Memtables.  db->pMem takes writes; when it passes memtable_size it is
** frozen onto db->aImm (oldest first) together with the number of the
** log holding its writes, and a new log is started.  The background
** thread writes the oldest frozen memtable to a level-0 table, records it
** in the manifest with the number of the oldest log still needed, and
** only then removes the frozen memtable and deletes its log.
**
** Recovery.  Open reads CURRENT and the manifest (version.c), replays
** every log at or after the manifest's log number into a memtable, writes
** what it recovered to level 0, starts a new log and writes a new
** manifest.  A log is synced before a newer one starts, so only the
** newest log can end in a torn tail (dropped: it was never acknowledged
** as durable); damage in an older log is corruption.  Batches committed
** under sync mode full are logged as LSM_REC_BATCH_SYNC, so damage
** followed by one of them is corruption too (wal.h).
**
** Locking.  db->mutex guards the writer queue, the memtable list, the
** version swap, snapshots and the error state.  It is never held across
** file I/O.  The background error state (bgRc) is sticky: once a log
** write, flush or manifest write fails, every later write returns it,
** reads keep working, and reopening recovers.
*/
#include "lsm.h"
#include "batch.h"
#include "cache.h"
#include "compact.h"
#include "dbiter.h"
#include "env.h"
#include "ikey.h"
#include "iter.h"
#include "memtable.h"
#include "table.h"
#include "util.h"
#include "version.h"
#include "wal.h"
#include "dbint.h"
#include "inspect.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Parse "NNNNNN.ext"; return the number or 0 if zName is not such. */
static uint64_t fileNumber(const char *zName, const char *zExt){
  uint64_t v = 0;
  const char *z = zName;
  size_t nExt = strlen(zExt);
  if( *z<'0' || *z>'9' ) return 0;
  while( *z>='0' && *z<='9' ){
    if( v > (UINT64_MAX-9)/10 ) return 0;
    v = v*10 + (uint64_t)(*z - '0');
    z++;
  }
  return (strlen(z)==nExt && memcmp(z, zExt, nExt)==0) ? v : 0;
}

/**************************************************************************
** Options and messages.
*/

void lsm_options_init(lsm_options *p){
  memset(p, 0, sizeof(*p));
  p->create_if_missing = 1;
  p->sync_mode = LSM_SYNC_FULL;
  p->memtable_size = 4<<20;
  p->max_immutables = 2;
  p->block_size = 4096;
  p->restart_interval = 16;
  p->cache_size = 8<<20;
  p->max_open_tables = 500;
  p->bloom_bits = 10;
  p->compression = LSM_COMPRESSION_LZ4;
  p->level1_size = 10<<20;
  p->table_size = 4<<20;
  p->l0_trigger = 4;
  p->l0_slowdown = 8;
  p->l0_stop = 12;
}

static int checkOptions(const lsm_options *p){
  if( p->sync_mode<LSM_SYNC_OFF || p->sync_mode>LSM_SYNC_FULL ){
    return lsmErr(LSM_INVALID, "sync_mode %d is not off, normal or full",
                  p->sync_mode);
  }
  if( p->memtable_size<1024 ){
    return lsmErr(LSM_INVALID, "memtable_size %zu is below 1024", p->memtable_size);
  }
  if( p->max_immutables<1 || p->max_immutables>MAX_IMM ){
    return lsmErr(LSM_INVALID, "max_immutables %d is not in 1..%d",
                  p->max_immutables, MAX_IMM);
  }
  if( p->block_size<256 || p->block_size>(64<<20) ){
    return lsmErr(LSM_INVALID, "block_size %zu is not in 256..64M", p->block_size);
  }
  if( p->restart_interval<1 ){
    return lsmErr(LSM_INVALID, "restart_interval %d is below 1", p->restart_interval);
  }
  if( p->bloom_bits<0 || p->bloom_bits>64 ){
    return lsmErr(LSM_INVALID, "bloom_bits %d is not in 0..64", p->bloom_bits);
  }
  if( p->compression!=LSM_COMPRESSION_NONE && p->compression!=LSM_COMPRESSION_LZ4 ){
    return lsmErr(LSM_INVALID, "unknown compression %d", p->compression);
  }
  if( p->max_open_tables<10 ){
    return lsmErr(LSM_INVALID, "max_open_tables %d is below 10", p->max_open_tables);
  }
  if( p->l0_trigger<1 || p->l0_slowdown<p->l0_trigger || p->l0_stop<p->l0_slowdown ){
    return lsmErr(LSM_INVALID, "need 1 <= l0_trigger (%d) <= l0_slowdown (%d) "
                  "<= l0_stop (%d)", p->l0_trigger, p->l0_slowdown, p->l0_stop);
  }
  if( p->table_size<1024 || p->level1_size<p->table_size ){
    return lsmErr(LSM_INVALID, "need 1024 <= table_size <= level1_size");
  }
  if( p->mmap_reads!=0 && p->mmap_reads!=1 ){
    return lsmErr(LSM_INVALID, "mmap_reads %d is not 0 or 1", p->mmap_reads);
  }
  return LSM_OK;
}

/*
** Copy this thread's message into the handle for lsm_errmsg() when rc is
** an error (a NOTFOUND counts only if it came with a message: a missing
** key is not an error).  Returns rc.
*/
int lsmDbResult(lsm_db *db, int rc){
  if( db && rc!=LSM_OK && (rc!=LSM_NOTFOUND || lsmErrMsg()[0]) ){
    pthread_mutex_lock(&db->errMutex);
    snprintf(db->zErrMsg, sizeof(db->zErrMsg), "%s",
             lsmErrMsg()[0] ? lsmErrMsg() : lsm_errstr(rc));
    pthread_mutex_unlock(&db->errMutex);
  }
  return rc;
}

const char *lsm_errmsg(lsm_db *db){
  if( db==0 ) return lsm_errstr(LSM_NOMEM);
  return db->zErrMsg[0] ? db->zErrMsg : lsm_errstr(LSM_OK);
}

/* Enter the sticky error state (mutex held). */
static void setBgError(lsm_db *db, int rc){
  if( db->bgRc==LSM_OK ){
    db->bgRc = rc;
    snprintf(db->zBgErr, sizeof(db->zBgErr), "%s",
             lsmErrMsg()[0] ? lsmErrMsg() : lsm_errstr(rc));
  }
  pthread_cond_broadcast(&db->roomCond);
}

static int bgErrorResult(lsm_db *db){
  return lsmErr(db->bgRc, "database is in an error state after: %s", db->zBgErr);
}

/**************************************************************************
** Tables from memtables.
*/

/*
** Write every entry of pMem to a new level-0 table and add it to pEdit.
** An empty memtable writes nothing.  On failure the partial file is
** removed.
*/
static int writeLevel0(lsm_db *db, LsmMemtable *pMem, LsmVersionEdit *pEdit){
  LsmTableOptions topts;
  LsmTableBuilder *pBuilder = 0;
  LsmTableProps props;
  LsmIter *pIter = 0;
  uint64_t iFile;
  char *zPath;
  int rc;

  if( lsmMemtableCount(pMem)==0 ) return LSM_OK;
  memset(&props, 0, sizeof(props));
  lsmTableOptionsFrom(&db->opts, &topts);
  iFile = lsmVersionSetNewFile(db->pVs);
  zPath = lsmTableFileName(db->zDir, iFile);
  if( zPath==0 ) return LSM_NOMEM;
  rc = lsmMemtableIterNew(pMem, &pIter);
  if( rc==LSM_OK ) rc = lsmTableBuilderNew(db->pEnv, zPath, &topts, &pBuilder);
  if( rc==LSM_OK ) rc = lsmIterFirst(pIter);
  while( rc==LSM_OK && lsmIterValid(pIter) ){
    const uint8_t *pK, *pV;
    size_t nK, nV;
    lsmIterKey(pIter, &pK, &nK);
    lsmIterValue(pIter, &pV, &nV);
    rc = lsmTableBuilderAdd(pBuilder, pK, nK, pV, nV);
    if( rc==LSM_OK ) rc = lsmIterNext(pIter);
  }
  lsmIterClose(pIter);
  if( rc==LSM_OK ){
    rc = lsmTableBuilderFinish(pBuilder, &props);
    pBuilder = 0;
  }
  if( rc==LSM_OK ) rc = db->pEnv->xSyncDir(db->pEnv, db->zDir);
  if( rc==LSM_OK ) rc = lsmEditAddFile(pEdit, 0, iFile, &props);
  if( pBuilder ) lsmTableBuilderAbandon(pBuilder);
  if( rc!=LSM_OK ) lsmEnvRemoveQuietly(db->pEnv, zPath);
  lsmTablePropsClear(&props);
  lsmFree(zPath);
  return rc;
}

/*
** Delete logs older than iLive (whose data is all in tables), newest
** kept first while their total stays within log_retain_bytes, so the
** change feed (changes.c) can read recent history.  Failures are left
** for the next call: an extra log costs only disk space.
*/
static int cmpU64(const void *a, const void *b){
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return (x>y) - (x<y);
}

static void trimLogs(lsm_db *db, uint64_t iLive){
  uint64_t *aLog = 0;
  uint64_t nKept = 0;
  int i, nLog = 0;
  if( lsmLogList(db->pEnv, db->zDir, &aLog, &nLog)==LSM_OK ){
    for(i=nLog-1; i>=0; i--){
      char *zPath;
      lsm_file *pFile = 0;
      uint64_t nSize = 0;
      if( aLog[i]>=iLive ) continue;
      zPath = lsmLogFileName(db->zDir, aLog[i]);
      if( zPath==0 ) break;
      if( db->opts.log_retain_bytes
       && db->pEnv->xOpen(db->pEnv, zPath, LSM_OPEN_READONLY, &pFile)==LSM_OK ){
        db->pEnv->xSize(pFile, &nSize);
        db->pEnv->xClose(pFile);
      }
      if( db->opts.log_retain_bytes && nKept + nSize <= db->opts.log_retain_bytes ){
        nKept += nSize;
      }else{
        lsmEnvRemoveQuietly(db->pEnv, zPath);
        nKept = db->opts.log_retain_bytes;   /* older ones go too: no holes */
      }
      lsmFree(zPath);
    }
  }
  lsmFree(aLog);
}

/*
** Flush the oldest frozen memtable (mutex held on entry and exit,
** released during I/O).
*/
static int flushOldest(lsm_db *db){
  LsmMemtable *pMem = db->aImm[0].pMem;
  uint64_t iNextLog = db->nImm>1 ? db->aImm[1].iLog : db->iMemLog;
  uint64_t iLastSeq = db->iLastSeq;
  uint64_t iLastTxn = db->aImm[0].iLastTxn;
  uint64_t nBytes = 0;
  LsmVersionEdit edit;
  int rc;

  db->bBgBusy = 1;
  pthread_mutex_unlock(&db->mutex);
  lsmErrClear();
  lsmEditInit(&edit);
  rc = writeLevel0(db, pMem, &edit);
  if( rc==LSM_OK ){
    if( edit.nAdd ) nBytes = edit.aAdd[0].pMeta->nSize;
    edit.bLogNumber = 1;
    edit.iLogNumber = iNextLog;
    edit.bLastSeq = 1;
    edit.iLastSeq = iLastSeq;
    edit.bLastTxn = iLastTxn!=0;
    edit.iLastTxn = iLastTxn;
    rc = lsmVersionSetApply(db->pVs, &edit);
  }
  lsmEditClear(&edit);
  if( rc==LSM_OK ) trimLogs(db, iNextLog);
  pthread_mutex_lock(&db->mutex);
  db->bBgBusy = 0;
  if( rc==LSM_OK ){
    db->nImm--;
    memmove(&db->aImm[0], &db->aImm[1], sizeof(ImmMem)*(size_t)db->nImm);
    lsmMemtableUnref(pMem);
    db->nFlushBytes += nBytes;
    db->nFlushes++;
  }else{
    setBgError(db, rc);
  }
  pthread_cond_broadcast(&db->roomCond);
  return rc;
}

/* The oldest sequence any reader may still ask for (mutex held). */
static uint64_t oldestSeq(lsm_db *db){
  uint64_t seq = db->iLastSeq;
  lsm_snapshot *p;
  for(p=db->snapList.pNext; p!=&db->snapList; p=p->pNext){
    if( p->seq<seq ) seq = p->seq;
  }
  return seq;
}

/* xBreak of the background thread's compactions: flush frozen
** memtables meanwhile, so writers do not stall behind a long merge;
** stop at close. */
static int bgBreak(void *pArg){
  lsm_db *db = (lsm_db*)pArg;
  int bStop;
  pthread_mutex_lock(&db->mutex);
  if( db->nImm>0 && db->bgRc==LSM_OK ) flushOldest(db);
  bStop = db->bShutdown;
  pthread_mutex_unlock(&db->mutex);
  return bStop;
}

/* xBreak of a manual compaction: the background thread flushes. */
static int fgBreak(void *pArg){
  lsm_db *db = (lsm_db*)pArg;
  int bStop;
  pthread_mutex_lock(&db->mutex);
  bStop = db->bShutdown;
  pthread_mutex_unlock(&db->mutex);
  return bStop;
}

/*
** Run compaction c and install its result (mutex held on entry and
** exit, released while merging).  REQUIRES: db->bCompacting set by the
** caller.  A failure enters the error state; an interruption at close
** just drops the partial work.
*/
static int runCompaction(lsm_db *db, LsmCompaction *c, int (*xBreak)(void*)){
  LsmCompactCtx ctx;
  LsmVersionEdit edit;
  int rc;
  memset(&ctx, 0, sizeof(ctx));
  ctx.pEnv = db->pEnv;
  ctx.zDir = db->zDir;
  ctx.pVs = db->pVs;
  ctx.pOpts = &db->opts;
  ctx.iOldestSeq = oldestSeq(db);
  ctx.xBreak = xBreak;
  ctx.pArg = db;
  pthread_mutex_unlock(&db->mutex);
  lsmErrClear();
  lsmEditInit(&edit);
  rc = lsmCompactRun(c, &ctx, &edit);
  if( rc==LSM_OK ) rc = lsmVersionSetApply(db->pVs, &edit);
  lsmEditClear(&edit);
  pthread_mutex_lock(&db->mutex);
  if( rc==LSM_OK ){
    db->nCompactions++;
    db->nCompactBytes += ctx.nBytesWritten;
    db->nCompactReadBytes += ctx.nBytesRead;
  }else if( !(rc==LSM_ERROR && db->bShutdown) ){
    setBgError(db, rc);
  }
  pthread_cond_broadcast(&db->roomCond);
  return rc;
}

/* Pick and run one automatic compaction if one is due (mutex held).
** Returns 1 if it did some work. */
static int maybeCompact(lsm_db *db){
  LsmCompaction *c = 0;
  LsmVersion *v;
  int rc;
  if( db->bCompacting || db->bgRc ) return 0;
  v = lsmVersionCurrent(db->pVs);
  rc = lsmCompactPick(v, &db->opts, db->pVs->aCursor, &c);
  lsmVersionUnref(v);
  if( rc!=LSM_OK ){
    setBgError(db, rc);
    return 0;
  }
  if( c==0 ) return 0;
  db->bCompacting = 1;
  runCompaction(db, c, bgBreak);
  db->bCompacting = 0;
  lsmCompactionFree(c);
  pthread_cond_broadcast(&db->roomCond);
  return 1;
}

static void *bgMain(void *pArg){
  lsm_db *db = (lsm_db*)pArg;
  pthread_mutex_lock(&db->mutex);
  for(;;){
    if( db->bgRc==LSM_OK && db->nImm>0 ){
      flushOldest(db);
      continue;
    }
    if( db->bShutdown ) break;
    if( maybeCompact(db) ) continue;
    pthread_cond_wait(&db->bgCond, &db->mutex);
  }
  pthread_mutex_unlock(&db->mutex);
  return 0;
}

/**************************************************************************
** The write path.
*/

/**************************************************************************
** Two-phase commit.  Prepared batches are logged as LSM_REC_PREPARE and
** kept in db->pPrepared until an LSM_REC_COMMIT (which gives them their
** sequence numbers and applies them) or an LSM_REC_ABORT.  Only the
** commit leader changes the list, under the mutex.
*/

static Prepared *preparedFind(lsm_db *db, uint64_t iTxn){
  Prepared *p;
  for(p=db->pPrepared; p && p->iTxn!=iTxn; p=p->pNext);
  return p;
}

static void preparedRemove(lsm_db *db, uint64_t iTxn){
  Prepared **pp;
  for(pp=&db->pPrepared; *pp; pp=&(*pp)->pNext){
    if( (*pp)->iTxn==iTxn ){
      Prepared *p = *pp;
      *pp = p->pNext;
      lsmBufFree(&p->data);
      lsmFree(p);
      return;
    }
  }
}

/* A new prepared entry holding a copy of the batch aData[0..nData-1]
** (not yet linked into the list).  NULL on NOMEM. */
static Prepared *preparedNew(uint64_t iTxn, const uint8_t *aData, size_t nData){
  Prepared *p = lsmMallocZero(sizeof(*p));
  if( p ){
    p->iTxn = iTxn;
    if( lsmBufSet(&p->data, aData, nData)!=LSM_OK ){
      lsmFree(p);
      p = 0;
    }
  }
  return p;
}

/* Append a two-phase record: txn u64, then optionally a u64 and/or a
** batch. */
static int logTxnRecord(LsmWalWriter *pLog, int type, uint64_t iTxn,
                        const uint64_t *pExtra, const LsmBuf *pBatch){
  LsmBuf rec = {0, 0, 0};
  uint8_t a[16];
  int rc;
  lsmPut64(a, iTxn);
  if( pExtra ) lsmPut64(a+8, *pExtra);
  rc = lsmBufAppend(&rec, a, pExtra ? 16 : 8);
  if( rc==LSM_OK && pBatch ) rc = lsmBufAppend(&rec, pBatch->p, pBatch->n);
  if( rc==LSM_OK ) rc = lsmWalWriterAppend(pLog, type, rec.p, rec.n);
  lsmBufFree(&rec);
  return rc;
}

/* Sync pLog, the log that holds every prepare record written so far
** (leader): the transactions prepared before the sync are then durable
** (lsm_txn_durable). */
static int syncLog(lsm_db *db, LsmWalWriter *pLog){
  uint64_t iTxn = db->iTxnLogged;
  int rc = lsmWalWriterSync(pLog);
  if( rc==LSM_OK && iTxn>__atomic_load_n(&db->iTxnDurable, __ATOMIC_RELAXED) ){
    __atomic_store_n(&db->iTxnDurable, iTxn, __ATOMIC_RELEASE);
  }
  return rc;
}

/* Log every prepared transaction again in a new log, so that retiring
** older logs never loses one, and sync it. */
static int relogPrepared(lsm_db *db, LsmWalWriter *pLog){
  Prepared *p;
  int rc = LSM_OK;
  for(p=db->pPrepared; rc==LSM_OK && p; p=p->pNext){
    rc = logTxnRecord(pLog, LSM_REC_PREPARE, p->iTxn, 0, &p->data);
  }
  if( rc==LSM_OK && db->pPrepared ) rc = syncLog(db, pLog);
  return rc;
}

/* Start a new log and freeze the memtable (leader, mutex held; released
** during file operations, which only the leader performs). */
static int switchMemtable(lsm_db *db){
  LsmMemtable *pNew = 0;
  LsmWalWriter *pNewLog = 0;
  LsmWalWriter *pOldLog = db->pLog;
  uint64_t iNew = lsmVersionSetNewFile(db->pVs);
  char *zPath = lsmLogFileName(db->zDir, iNew);
  int rc;

  pthread_mutex_unlock(&db->mutex);
  rc = zPath ? lsmMemtableNew(db->opts.memtable_size, &pNew) : LSM_NOMEM;
  /* The old log must be durable before it can be followed by another:
  ** recovery takes damage in any log but the newest as corruption. */
  if( rc==LSM_OK ){
    rc = syncLog(db, pOldLog);
  }
  if( rc==LSM_OK ) rc = lsmWalWriterOpen(db->pEnv, zPath, 1, &pNewLog);
  if( rc==LSM_OK ) rc = db->pEnv->xSyncDir(db->pEnv, db->zDir);
  if( rc==LSM_OK ) rc = relogPrepared(db, pNewLog);
  pthread_mutex_lock(&db->mutex);
  if( rc==LSM_OK ){
    db->aImm[db->nImm].pMem = db->pMem;
    db->aImm[db->nImm].iLog = db->iMemLog;
    db->aImm[db->nImm].iLastTxn = db->iLastTxn;
    db->nImm++;
    db->pMem = pNew;
    db->iMemLog = iNew;
    db->pLog = pNewLog;
    pthread_cond_signal(&db->bgCond);
    pthread_mutex_unlock(&db->mutex);
    lsmWalWriterClose(pOldLog);
    pthread_mutex_lock(&db->mutex);
  }else{
    if( pNew ) lsmMemtableUnref(pNew);
    if( pNewLog ){
      lsmWalWriterClose(pNewLog);
      lsmEnvRemoveQuietly(db->pEnv, zPath);
    }
  }
  lsmFree(zPath);
  return rc;
}

static int levelZeroCount(lsm_db *db){
  return db->pVs->pCurrent->anFile[0];
}

/*
** Make sure the memtable has room (leader, mutex held).  With bForce,
** freeze the memtable even if it is not full (lsm_flush).
*/
static int makeRoom(lsm_db *db, int bForce){
  int bDelayed = 0;
  int bStalled = 0;
  uint64_t tStart = 0;
  int rc = LSM_OK;
  for(;;){
    if( db->bgRc ){
      rc = bgErrorResult(db);
      break;
    }
    if( !bForce && !bDelayed && levelZeroCount(db)>=db->opts.l0_slowdown ){
      /* Many level-0 tables: slow this writer a little so that
      ** compaction keeps up, rather than stopping it later. */
      uint64_t t0 = db->pEnv->xNowMicros(db->pEnv);
      pthread_mutex_unlock(&db->mutex);
      db->pEnv->xSleep(db->pEnv, 1000);
      pthread_mutex_lock(&db->mutex);
      db->nStalls++;
      db->nStallUs += db->pEnv->xNowMicros(db->pEnv) - t0;
      bDelayed = 1;
      continue;
    }
    if( !bForce && lsmMemtableBytes(db->pMem)<db->opts.memtable_size ) break;
    if( bForce && lsmMemtableCount(db->pMem)==0 ) break;
    if( db->nImm>=db->opts.max_immutables
     || levelZeroCount(db)>=db->opts.l0_stop ){
      /* Stop until the background thread catches up. */
      if( !bStalled ){
        bStalled = 1;
        tStart = db->pEnv->xNowMicros(db->pEnv);
        db->nStalls++;
      }
      pthread_cond_signal(&db->bgCond);
      pthread_cond_wait(&db->roomCond, &db->mutex);
      continue;
    }
    rc = switchMemtable(db);
    if( rc!=LSM_OK ){
      setBgError(db, rc);
      break;
    }
    bForce = 0;
  }
  if( bStalled ) db->nStallUs += db->pEnv->xNowMicros(db->pEnv) - tStart;
  return rc;
}

/* Queue w and wait until it is done or at the head (mutex held). */
static void queueWriter(lsm_db *db, Writer *w){
  w->pNext = 0;
  if( db->pWriterTail ) db->pWriterTail->pNext = w;
  else db->pWriterHead = w;
  db->pWriterTail = w;
  db->nQueued++;
  if( db->bGathering ) pthread_cond_signal(&db->pWriterHead->cond);
  while( !w->bDone && db->pWriterHead!=w ){
    pthread_cond_wait(&w->cond, &db->mutex);
  }
}

/* Complete writers from the head through pLast with rc; wake the next
** leader (mutex held). */
static void finishWriters(lsm_db *db, Writer *pLast, int rc){
  for(;;){
    Writer *w = db->pWriterHead;
    db->pWriterHead = w->pNext;
    if( db->pWriterHead==0 ) db->pWriterTail = 0;
    db->nQueued--;
    w->rc = rc;
    if( rc!=LSM_OK ) snprintf(w->zErr, sizeof(w->zErr), "%s", lsmErrMsg());
    w->bDone = 1;
    pthread_cond_signal(&w->cond);
    if( w==pLast ) break;
  }
  db->nLeftQueued = db->nQueued;
  if( db->pWriterHead ) pthread_cond_signal(&db->pWriterHead->cond);
}

/*
** Before a synced group: wait for the writers of the previous group to
** queue again ("Gathering" above; leader, mutex held).
*/
static void gatherWriters(lsm_db *db){
  Writer *pLeader = db->pWriterHead;
  /* Those left queued when the last group ended, and that group. */
  int nWant = db->nLeftQueued + db->nLastGroup;
  uint64_t nWaitUs = db->nLastSyncUs/4;
  struct timespec ts;
  if( db->nLastGroup<2 || nWaitUs==0 ) return;
  if( nWaitUs>GATHER_MAX_US ) nWaitUs = GATHER_MAX_US;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_nsec += (long)(nWaitUs % 1000000)*1000;
  ts.tv_sec += (time_t)(nWaitUs / 1000000) + ts.tv_nsec/1000000000;
  ts.tv_nsec %= 1000000000;
  db->bGathering = 1;
  while( db->nQueued<nWant
      && pthread_cond_timedwait(&pLeader->cond, &db->mutex, &ts)!=ETIMEDOUT ){}
  db->bGathering = 0;
}

/*
** Gather the batches queued behind the leader into db->pGroup (mutex
** held).  Returns the batch to write and sets *ppLast to the last writer
** included.  Only plain batches are grouped.
*/
static const lsm_batch *buildGroup(lsm_db *db, Writer **ppLast, int *pRc){
  Writer *w = db->pWriterHead;
  size_t nMax = GROUP_MAX_BYTES;
  *ppLast = w;
  if( w->pNext==0 || w->pNext->eOp!=WRITE_BATCH ) return w->pBatch;
  /* A small leader should not wait behind a huge group. */
  if( lsm_batch_size(w->pBatch) <= (128<<10) ){
    nMax = lsm_batch_size(w->pBatch) + (128<<10);
  }
  lsm_batch_clear(db->pGroup);
  *pRc = lsmBatchAppend(db->pGroup, w->pBatch);
  while( *pRc==LSM_OK && w->pNext && w->pNext->eOp==WRITE_BATCH
      && lsm_batch_size(db->pGroup) + lsm_batch_size(w->pNext->pBatch)<=nMax ){
    w = w->pNext;
    *pRc = lsmBatchAppend(db->pGroup, w->pBatch);
    *ppLast = w;
  }
  return db->pGroup;
}

/* Commit the group of plain batches at the head (leader, mutex held;
** released during I/O). */
static int leaderBatch(lsm_db *db, Writer **ppLast){
  int rc = LSM_OK;
  int bSync = db->opts.sync_mode==LSM_SYNC_FULL;
  lsm_batch *pWrite;
  uint64_t seq, t0 = 0, nSyncUs = 0;
  size_t nData;
  const uint8_t *aData;
  LsmMemtable *pMem;
  Writer *w;
  int nGroup = 1;
  if( bSync ) gatherWriters(db);
  pWrite = (lsm_batch*)buildGroup(db, ppLast, &rc);
  if( rc!=LSM_OK ) return rc;
  for(w=db->pWriterHead; w!=*ppLast; w=w->pNext) nGroup++;
  seq = db->iLastSeq + 1;
  lsmBatchSetSeq(pWrite, seq);
  aData = lsmBatchData(pWrite, &nData);
  pMem = db->pMem;
  pthread_mutex_unlock(&db->mutex);

  rc = lsmWalWriterAppend(db->pLog, bSync ? LSM_REC_BATCH_SYNC : LSM_REC_BATCH,
                          aData, nData);
  if( rc==LSM_OK && bSync ){
    t0 = db->pEnv->xNowMicros(db->pEnv);
    rc = syncLog(db, db->pLog);
    nSyncUs = db->pEnv->xNowMicros(db->pEnv) - t0;
  }
  if( rc==LSM_OK ) rc = lsmBatchInsert(aData, nData, pMem);

  pthread_mutex_lock(&db->mutex);
  if( bSync ){
    db->nLastGroup = nGroup;
    db->nLastSyncUs = nSyncUs;
  }
  if( rc==LSM_OK ){
    __atomic_store_n(&db->iLastSeq, seq + lsm_batch_count(pWrite) - 1,
                     __ATOMIC_RELEASE);
    db->nUserBytes += nData - LSM_BATCH_HEADER;
    db->nLogBytes += nData + LSM_WAL_HEADER;
  }
  return rc;
}

/* Log the run of PREPARE writers at the head with one sync (leader,
** mutex held; released during I/O). */
static int leaderPrepare(lsm_db *db, Writer **ppLast){
  Prepared *pNew = 0, *p;
  Writer *w;
  size_t nTotal = 0;
  int bSync = 0;
  int rc = LSM_OK;
  for(w=db->pWriterHead; w && w->eOp==WRITE_PREPARE; w=w->pNext){
    size_t nData;
    const uint8_t *aData;
    if( w!=db->pWriterHead && nTotal>=GROUP_MAX_BYTES ) break;
    if( preparedFind(db, w->iTxn) ){
      if( w==db->pWriterHead ){
        rc = lsmErr(LSM_INVALID, "transaction %llu is already prepared",
                    (unsigned long long)w->iTxn);
      }
      break;
    }
    for(p=pNew; p && p->iTxn!=w->iTxn; p=p->pNext);
    if( p ) break;                     /* same id twice: next group */
    aData = lsmBatchData(w->pBatch, &nData);
    p = preparedNew(w->iTxn, aData, nData);
    if( p==0 ){
      if( w==db->pWriterHead ) rc = LSM_NOMEM;
      break;
    }
    p->pNext = pNew;
    pNew = p;
    nTotal += nData;
    if( !w->bNoSync ) bSync = 1;
    *ppLast = w;
  }
  if( rc==LSM_OK ){
    pthread_mutex_unlock(&db->mutex);
    for(p=pNew; rc==LSM_OK && p; p=p->pNext){
      rc = logTxnRecord(db->pLog, LSM_REC_PREPARE, p->iTxn, 0, &p->data);
      nTotal += 8 + LSM_WAL_HEADER;
      if( rc==LSM_OK && p->iTxn>db->iTxnLogged ) db->iTxnLogged = p->iTxn;
    }
    if( rc==LSM_OK && bSync && db->opts.sync_mode==LSM_SYNC_FULL ){
      rc = syncLog(db, db->pLog);
    }
    pthread_mutex_lock(&db->mutex);
    if( rc==LSM_OK ) db->nLogBytes += nTotal;
  }
  while( pNew ){
    p = pNew;
    pNew = p->pNext;
    if( rc==LSM_OK ){
      p->pNext = db->pPrepared;
      db->pPrepared = p;
    }else{
      lsmBufFree(&p->data);
      lsmFree(p);
    }
  }
  return rc;
}

/* Commit or abort the prepared transaction of the head writer (leader,
** mutex held; released during I/O). */
static int leaderResolve(lsm_db *db, Writer *w){
  Prepared *p = preparedFind(db, w->iTxn);
  uint64_t seq = db->iLastSeq + 1;
  uint32_t nOp;
  LsmMemtable *pMem = db->pMem;
  int rc;
  if( p==0 ){
    return lsmErr(LSM_NOTFOUND, "no prepared transaction %llu",
                  (unsigned long long)w->iTxn);
  }
  nOp = lsmBatchDataCount(p->data.p);
  pthread_mutex_unlock(&db->mutex);
  if( w->eOp==WRITE_COMMIT ){
    /* Not synced: the caller's own record of its decision, together
    ** with the prepared record, is what makes the commit durable. */
    rc = logTxnRecord(db->pLog, LSM_REC_COMMIT, w->iTxn, &seq, 0);
    if( rc==LSM_OK ){
      lsmPut64(p->data.p, seq);
      rc = lsmBatchInsert(p->data.p, p->data.n, pMem);
    }
  }else{
    rc = logTxnRecord(db->pLog, LSM_REC_ABORT, w->iTxn, 0, 0);
  }
  pthread_mutex_lock(&db->mutex);
  if( rc==LSM_OK ){
    if( w->eOp==WRITE_COMMIT && nOp>0 ){
      __atomic_store_n(&db->iLastSeq, seq + nOp - 1, __ATOMIC_RELEASE);
      db->nUserBytes += p->data.n - LSM_BATCH_HEADER;
    }
    if( w->eOp==WRITE_COMMIT && w->iTxn>db->iLastTxn ){
      __atomic_store_n(&db->iLastTxn, w->iTxn, __ATOMIC_RELEASE);
    }
    preparedRemove(db, w->iTxn);
  }
  return rc;
}

/*
** Queue w, and if it becomes the leader, perform its operation and those
** it groups with.  Returns w's result.
*/
/* The writer's condition variable, timed on the monotonic clock. */
static void writerCondInit(Writer *w){
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&w->cond, &attr);
  pthread_condattr_destroy(&attr);
}

static int submitWriter(lsm_db *db, Writer *w){
  int rc;
  lsmErrClear();
  if( db->opts.read_only ){
    return lsmDbResult(db, lsmErr(LSM_READONLY, "%s is open read-only", db->zDir));
  }
  writerCondInit(w);
  pthread_mutex_lock(&db->mutex);
  queueWriter(db, w);
  if( !w->bDone ){
    Writer *pLast = w;
    rc = makeRoom(db, 0);
    if( rc==LSM_OK ){
      switch( w->eOp ){
        case WRITE_BATCH:   rc = leaderBatch(db, &pLast); break;
        case WRITE_PREPARE: rc = leaderPrepare(db, &pLast); break;
        default:            rc = leaderResolve(db, w); break;
      }
      /* A failed log append or memtable insert leaves the log or memtable
      ** holding part of a group: refuse further writes until reopened
      ** (recovery sorts it out).  Misuse errors change nothing. */
      if( rc!=LSM_OK && rc!=LSM_INVALID && rc!=LSM_NOTFOUND ){
        setBgError(db, rc);
      }
    }
    finishWriters(db, pLast, rc);
  }else{
    rc = w->rc;
    if( rc!=LSM_OK ) lsmErr(rc, "%s", w->zErr);
  }
  pthread_mutex_unlock(&db->mutex);
  pthread_cond_destroy(&w->cond);
  return lsmDbResult(db, rc);
}

/* Submit one operation of kind eOp (WRITE_*) as a queued writer. */
static int submitOp(lsm_db *db, int eOp, uint64_t iTxn, const lsm_batch *pBatch){
  Writer w;
  memset(&w, 0, sizeof(w));
  w.eOp = eOp & ~WRITE_NOSYNC;
  w.bNoSync = (eOp & WRITE_NOSYNC)!=0;
  w.iTxn = iTxn;
  w.pBatch = pBatch;
  return submitWriter(db, &w);
}

int lsm_write(lsm_db *db, const lsm_batch *pBatch){
  if( lsm_batch_count(pBatch)==0 ) return LSM_OK;
  return submitOp(db, WRITE_BATCH, 0, pBatch);
}

int lsm_prepare(lsm_db *db, const lsm_batch *pBatch, uint64_t iTxn){
  return submitOp(db, WRITE_PREPARE, iTxn, pBatch);
}

int lsm_prepare_unsynced(lsm_db *db, const lsm_batch *pBatch, uint64_t iTxn){
  return submitOp(db, WRITE_PREPARE | WRITE_NOSYNC, iTxn, pBatch);
}

uint64_t lsm_txn_durable(lsm_db *db){
  return __atomic_load_n(&db->iTxnDurable, __ATOMIC_ACQUIRE);
}

uint64_t lsm_txn_last(lsm_db *db){
  return __atomic_load_n(&db->iLastTxn, __ATOMIC_ACQUIRE);
}

int lsm_commit_prepared(lsm_db *db, uint64_t iTxn){
  return submitOp(db, WRITE_COMMIT, iTxn, 0);
}

int lsm_rollback_prepared(lsm_db *db, uint64_t iTxn){
  return submitOp(db, WRITE_ABORT, iTxn, 0);
}

int lsm_prepared(lsm_db *db, uint64_t *aTxn, int nMax){
  Prepared *p;
  int n = 0;
  pthread_mutex_lock(&db->mutex);
  for(p=db->pPrepared; p; p=p->pNext){
    if( n<nMax ) aTxn[n] = p->iTxn;
    n++;
  }
  pthread_mutex_unlock(&db->mutex);
  return n;
}

static int writeOne(lsm_db *db, int kind, const void *pKey, size_t nKey,
                    const void *pVal, size_t nVal){
  lsm_batch *pBatch = 0;
  int rc;
  lsmErrClear();
  rc = lsm_batch_new(&pBatch);
  if( rc==LSM_OK ){
    rc = kind==LSM_KIND_VALUE ? lsm_batch_put(pBatch, pKey, nKey, pVal, nVal)
                              : lsm_batch_delete(pBatch, pKey, nKey);
  }
  if( rc==LSM_OK ) rc = lsm_write(db, pBatch);
  lsm_batch_free(pBatch);
  return lsmDbResult(db, rc);
}

int lsm_put(lsm_db *db, const void *pKey, size_t nKey,
            const void *pVal, size_t nVal){
  return writeOne(db, LSM_KIND_VALUE, pKey, nKey, pVal, nVal);
}

int lsm_delete(lsm_db *db, const void *pKey, size_t nKey){
  return writeOne(db, LSM_KIND_DELETE, pKey, nKey, 0, 0);
}

int lsm_flush(lsm_db *db){
  Writer w;
  int rc;
  lsmErrClear();
  if( db->opts.read_only ) return LSM_OK;
  memset(&w, 0, sizeof(w));
  w.eOp = WRITE_FLUSH;                 /* never grouped with batches */
  writerCondInit(&w);
  pthread_mutex_lock(&db->mutex);
  /* Freeze as a writer would, so no commit is in flight meanwhile. */
  queueWriter(db, &w);
  rc = makeRoom(db, 1);
  finishWriters(db, &w, rc);
  while( rc==LSM_OK && db->nImm>0 ){
    if( db->bgRc ){
      rc = bgErrorResult(db);
      break;
    }
    pthread_cond_wait(&db->roomCond, &db->mutex);
  }
  pthread_mutex_unlock(&db->mutex);
  pthread_cond_destroy(&w.cond);
  return lsmDbResult(db, rc);
}

/**************************************************************************
** Reads.
*/

/* What a reader pins: the memtables and the version, and the sequence
** they are consistent with. */
typedef struct ReadState {
  LsmMemtable *pMem;
  LsmMemtable *apImm[MAX_IMM];
  int nImm;
  LsmVersion *v;
  uint64_t seq;
} ReadState;

static void readStateGet(lsm_db *db, const lsm_snapshot *pSnap, ReadState *p){
  int i;
  pthread_mutex_lock(&db->mutex);
  p->pMem = db->pMem;
  lsmMemtableRef(p->pMem);
  p->nImm = db->nImm;
  for(i=0; i<db->nImm; i++){
    p->apImm[i] = db->aImm[i].pMem;
    lsmMemtableRef(p->apImm[i]);
  }
  p->v = lsmVersionCurrent(db->pVs);
  p->seq = pSnap ? pSnap->seq : db->iLastSeq;
  pthread_mutex_unlock(&db->mutex);
}

static void readStateRelease(ReadState *p){
  int i;
  lsmMemtableUnref(p->pMem);
  for(i=0; i<p->nImm; i++) lsmMemtableUnref(p->apImm[i]);
  lsmVersionUnref(p->v);
}

int lsm_get(lsm_db *db, const lsm_snapshot *pSnap, const void *pKey,
            size_t nKey, void **ppVal, size_t *pnVal){
  ReadState rs;
  const uint8_t *pV = 0;
  size_t nV = 0;
  int bDeleted = 0;
  LsmBuf val = {0, 0, 0};
  int i, rc;

  lsmErrClear();
  *ppVal = 0;
  *pnVal = 0;
  readStateGet(db, pSnap, &rs);
  rc = lsmMemtableGet(rs.pMem, pKey, nKey, rs.seq, &pV, &nV, &bDeleted);
  for(i=rs.nImm-1; rc==LSM_NOTFOUND && i>=0; i--){
    rc = lsmMemtableGet(rs.apImm[i], pKey, nKey, rs.seq, &pV, &nV, &bDeleted);
  }
  if( rc==LSM_OK ){
    if( !bDeleted ) rc = lsmBufSet(&val, pV, nV);
  }else if( rc==LSM_NOTFOUND ){
    __atomic_add_fetch(&db->nGets, 1, __ATOMIC_RELAXED);
    rc = lsmVersionGet(rs.v, pKey, nKey, rs.seq, &val, &bDeleted);
  }
  if( rc==LSM_OK && bDeleted ) rc = LSM_NOTFOUND;
  if( rc==LSM_OK ){
    /* The caller frees with lsm_free: hand over the buffer, never NULL. */
    if( val.p==0 ) rc = lsmBufReserve(&val, 1);
    if( rc==LSM_OK ){
      *ppVal = val.p;
      *pnVal = val.n;
      val.p = 0;
    }
  }
  lsmBufFree(&val);
  readStateRelease(&rs);
  return lsmDbResult(db, rc);
}

static void releaseVersion(void *pArg){
  lsmVersionUnref((LsmVersion*)pArg);
}

int lsm_iter_new_batch(lsm_db *db, const lsm_snapshot *pSnap,
                       const lsm_batch *pBatch,
                       const void *pLo, size_t nLo,
                       const void *pHi, size_t nHi, lsm_iter **ppIter){
  ReadState rs;
  LsmIter **apChild = 0;
  int nChild = 0;
  LsmIter *pMerge = 0;
  LsmMemtable *pIndex = 0;
  int i, rc = LSM_OK;

  lsmErrClear();
  *ppIter = 0;
  if( pBatch ){
    rc = lsmBatchIndex(pBatch, &pIndex);
    if( rc==LSM_INVALID ){
      return lsmDbResult(db, lsmErr(LSM_INVALID, "lsm_iter_new_batch needs "
                                    "a batch created by lsm_batch_new_indexed"));
    }
    if( rc!=LSM_OK ) return lsmDbResult(db, rc);
  }
  readStateGet(db, pSnap, &rs);
  apChild = lsmMalloc(sizeof(LsmIter*)*(size_t)(rs.nImm + 2));
  if( apChild==0 ) rc = LSM_NOMEM;
  if( rc==LSM_OK && pIndex ){
    rc = lsmMemtableIterNew(pIndex, &apChild[nChild]);
    if( rc==LSM_OK ) nChild++;
  }
  if( rc==LSM_OK ){
    rc = lsmMemtableIterNew(rs.pMem, &apChild[nChild]);
    if( rc==LSM_OK ) nChild++;
  }
  for(i=rs.nImm-1; rc==LSM_OK && i>=0; i--){
    rc = lsmMemtableIterNew(rs.apImm[i], &apChild[nChild]);
    if( rc==LSM_OK ) nChild++;
  }
  if( rc==LSM_OK ){
    rc = lsmVersionIters(rs.v, pLo, nLo, pHi, nHi, 1, &apChild, &nChild);
  }
  if( rc==LSM_OK ){
    rc = lsmMergeIterNew(apChild, nChild, &pMerge);
  }else{
    for(i=0; i<nChild; i++) lsmIterClose(apChild[i]);
  }
  lsmFree(apChild);
  /* The iterators hold the memtables; the version stays pinned until
  ** the lsm_iter is freed. */
  lsmMemtableUnref(rs.pMem);
  for(i=0; i<rs.nImm; i++) lsmMemtableUnref(rs.apImm[i]);
  if( rc==LSM_OK ){
    rc = lsmDbIterNew(pMerge, rs.seq, pLo, nLo, pHi, nHi,
                      releaseVersion, rs.v, ppIter);
    if( rc==LSM_OK && pBatch ) lsmDbIterLimitOverlay(*ppIter, lsm_batch_count(pBatch));
  }else{
    lsmVersionUnref(rs.v);
  }
  return lsmDbResult(db, rc);
}

int lsm_iter_new(lsm_db *db, const lsm_snapshot *pSnap,
                 const void *pLo, size_t nLo, const void *pHi, size_t nHi,
                 lsm_iter **ppIter){
  return lsm_iter_new_batch(db, pSnap, 0, pLo, nLo, pHi, nHi, ppIter);
}

/**************************************************************************
** Manual compaction and statistics.
*/

int lsm_compact(lsm_db *db, const void *pLo, size_t nLo,
                const void *pHi, size_t nHi){
  int rc = lsm_flush(db);
  int bMergedDeepest = 0;
  int iLevel;
  if( rc!=LSM_OK || db->opts.read_only ) return rc;
  pthread_mutex_lock(&db->mutex);
  while( db->bCompacting ) pthread_cond_wait(&db->roomCond, &db->mutex);
  db->bCompacting = 1;
  /* Push the range down level by level.  If nothing was merged into the
  ** deepest level in use, it is rewritten in place instead, to drop what
  ** nothing can see any more (a merge into it already does that). */
  for(iLevel=0; rc==LSM_OK && iLevel<LSM_NUM_LEVELS; iLevel++){
    LsmVersion *v = lsmVersionCurrent(db->pVs);
    LsmCompaction *c = 0;
    int iDeepest = 1, i;
    for(i=1; i<LSM_NUM_LEVELS; i++) if( v->anFile[i] ) iDeepest = i;
    if( iLevel<iDeepest || (iLevel==iDeepest && !bMergedDeepest) ){
      rc = lsmCompactPickRange(v, iLevel, iLevel==iDeepest,
                               pLo, nLo, pHi, nHi, &c);
    }
    lsmVersionUnref(v);
    if( rc==LSM_OK && c ){
      rc = runCompaction(db, c, fgBreak);
      bMergedDeepest = c->iOutLevel==iDeepest;
    }
    lsmCompactionFree(c);
    if( iLevel>=iDeepest ) break;
  }
  if( rc==LSM_OK && db->bgRc ) rc = bgErrorResult(db);
  db->bCompacting = 0;
  pthread_cond_broadcast(&db->roomCond);
  pthread_cond_signal(&db->bgCond);
  pthread_mutex_unlock(&db->mutex);
  return lsmDbResult(db, rc);
}

typedef struct LogSize {
  lsm_db *db;
  uint64_t nBytes;
} LogSize;

static int addLogSize(void *pArg, const char *zName){
  LogSize *p = (LogSize*)pArg;
  uint64_t iLog = fileNumber(zName, ".log");
  if( iLog ){
    char *zPath = lsmPathJoin(p->db->zDir, zName);
    lsm_file *pFile = 0;
    uint64_t n = 0;
    if( zPath && p->db->pEnv->xOpen(p->db->pEnv, zPath, LSM_OPEN_READONLY,
                                    &pFile)==LSM_OK ){
      if( p->db->pEnv->xSize(pFile, &n)==LSM_OK ) p->nBytes += n;
      p->db->pEnv->xClose(pFile);
    }
    lsmFree(zPath);
  }
  return LSM_OK;
}

int lsm_get_stats(lsm_db *db, lsm_stats *p){
  LsmVersion *v;
  LogSize logs;
  int i, iDeepest = -1;
  memset(p, 0, sizeof(*p));
  pthread_mutex_lock(&db->mutex);
  v = lsmVersionCurrent(db->pVs);
  p->user_bytes = db->nUserBytes;
  p->log_bytes = db->nLogBytes;
  p->flush_bytes = db->nFlushBytes;
  p->flushes = db->nFlushes;
  p->compact_bytes = db->nCompactBytes;
  p->compact_read_bytes = db->nCompactReadBytes;
  p->compactions = db->nCompactions;
  p->stalls = db->nStalls;
  p->stall_us = db->nStallUs;
  p->memtable_bytes = lsmMemtableBytes(db->pMem);
  for(i=0; i<db->nImm; i++) p->memtable_bytes += lsmMemtableBytes(db->aImm[i].pMem);
  p->immutable_count = db->nImm;
  p->last_seq = db->iLastSeq;
  p->error_code = db->bgRc;
  if( db->bgRc ) snprintf(p->last_error, sizeof(p->last_error), "%.255s", db->zBgErr);
  pthread_mutex_unlock(&db->mutex);

  for(i=0; i<LSM_NUM_LEVELS; i++){
    p->anLevelFiles[i] = v->anFile[i];
    p->anLevelBytes[i] = lsmLevelBytes(v, i);
    p->anLevelBudget[i] = i ? lsmLevelBudget(&db->opts, i) : 0;
    p->aLevelScore[i] = lsmLevelScore(v, &db->opts, i);
    p->table_bytes += p->anLevelBytes[i];
    if( v->anFile[i] ) iDeepest = i;
  }
  lsmVersionUnref(v);
  memset(&logs, 0, sizeof(logs));
  logs.db = db;
  db->pEnv->xList(db->pEnv, db->zDir, addLogSize, &logs);
  p->log_disk_bytes = logs.nBytes;
  p->cache_hits = __atomic_load_n(&db->stats.nCacheHit, __ATOMIC_RELAXED);
  p->cache_misses = __atomic_load_n(&db->stats.nCacheMiss, __ATOMIC_RELAXED);
  p->bloom_useful = __atomic_load_n(&db->stats.nBloomUseful, __ATOMIC_RELAXED);
  p->bloom_useless = __atomic_load_n(&db->stats.nBloomUseless, __ATOMIC_RELAXED);
  p->table_probes = __atomic_load_n(&db->stats.nTableProbe, __ATOMIC_RELAXED);
  p->gets = __atomic_load_n(&db->nGets, __ATOMIC_RELAXED);
  if( p->user_bytes ){
    p->write_amp = (double)(p->flush_bytes + p->compact_bytes) / (double)p->user_bytes;
  }
  if( iDeepest>=0 && p->anLevelBytes[iDeepest] ){
    p->space_amp = (double)p->table_bytes / (double)p->anLevelBytes[iDeepest];
  }
  if( p->gets ) p->read_amp = (double)p->table_probes / (double)p->gets;
  return LSM_OK;
}

uint64_t lsm_approx_count(lsm_db *db){
  uint64_t n = 0;
  int i, j;
  pthread_mutex_lock(&db->mutex);
  n = lsmMemtableCount(db->pMem);
  for(i=0; i<db->nImm; i++) n += lsmMemtableCount(db->aImm[i].pMem);
  for(i=0; i<LSM_NUM_LEVELS; i++){
    const LsmVersion *v = db->pVs->pCurrent;
    for(j=0; j<v->anFile[i]; j++) n += v->aapFile[i][j]->nEntry;
  }
  pthread_mutex_unlock(&db->mutex);
  return n;
}

/**************************************************************************
** Snapshots.
*/

int lsm_snapshot_new(lsm_db *db, lsm_snapshot **ppSnap){
  lsm_snapshot *p = lsmMallocZero(sizeof(*p));
  *ppSnap = 0;
  if( p==0 ) return lsmDbResult(db, lsmErr(LSM_NOMEM, "snapshot"));
  pthread_mutex_lock(&db->mutex);
  p->seq = db->iLastSeq;
  p->pNext = db->snapList.pNext;
  p->pPrev = &db->snapList;
  p->pNext->pPrev = p;
  db->snapList.pNext = p;
  pthread_mutex_unlock(&db->mutex);
  *ppSnap = p;
  return LSM_OK;
}

void lsm_snapshot_free(lsm_db *db, lsm_snapshot *p){
  if( p ){
    pthread_mutex_lock(&db->mutex);
    p->pPrev->pNext = p->pNext;
    p->pNext->pPrev = p->pPrev;
    pthread_mutex_unlock(&db->mutex);
    lsmFree(p);
  }
}

uint64_t lsm_snapshot_seq(const lsm_snapshot *p){ return p->seq; }

uint64_t lsm_last_seq(lsm_db *db){
  return __atomic_load_n(&db->iLastSeq, __ATOMIC_ACQUIRE);
}

/**************************************************************************
** Open, recovery and close.
*/

typedef struct DirScan {
  uint64_t *aLog;            /* log file numbers found */
  int nLog;
  uint64_t iMaxFile;         /* largest number of any engine file */
  int nSst;                  /* tables found */
  int rc;
} DirScan;

static int scanEntry(void *pArg, const char *zName){
  DirScan *p = (DirScan*)pArg;
  uint64_t iLog = fileNumber(zName, ".log");
  uint64_t iSst = fileNumber(zName, ".sst");
  uint64_t iMan = 0;
  if( strncmp(zName, "MANIFEST-", 9)==0 ) iMan = fileNumber(zName+9, "");
  if( iLog ){
    uint64_t *aNew = lsmRealloc(p->aLog, sizeof(uint64_t)*(size_t)(p->nLog+1));
    if( aNew==0 ) return (p->rc = LSM_NOMEM);
    aNew[p->nLog++] = iLog;
    p->aLog = aNew;
  }
  if( iSst ) p->nSst++;
  if( iLog>p->iMaxFile ) p->iMaxFile = iLog;
  if( iSst>p->iMaxFile ) p->iMaxFile = iSst;
  if( iMan>p->iMaxFile ) p->iMaxFile = iMan;
  return LSM_OK;
}


/* Set *pbEmpty if log iLog holds no bytes.  LSM_OK, LSM_NOMEM or the
** env's error. */
static int logIsEmpty(lsm_db *db, uint64_t iLog, int *pbEmpty){
  char *zPath = lsmLogFileName(db->zDir, iLog);
  lsm_file *pFile = 0;
  uint64_t nSize = 0;
  int rc = zPath ? LSM_OK : lsmErr(LSM_NOMEM, 0);
  if( rc==LSM_OK ) rc = db->pEnv->xOpen(db->pEnv, zPath, LSM_OPEN_READONLY, &pFile);
  if( rc==LSM_OK ) rc = db->pEnv->xSize(pFile, &nSize);
  if( pFile ) db->pEnv->xClose(pFile);
  lsmFree(zPath);
  *pbEmpty = (rc==LSM_OK && nSize==0);
  return rc;
}

/* Is log iLog among the logs the directory scan found? */
static int logListed(const DirScan *pScan, uint64_t iLog){
  int i;
  for(i=0; i<pScan->nLog; i++) if( pScan->aLog[i]==iLog ) return 1;
  return 0;
}

typedef struct ReplayCtx {
  lsm_db *db;
  LsmMemtable *pMem;
  LsmVersionEdit *pEdit;
  uint64_t iMaxSeq;
} ReplayCtx;

/* Replay one two-phase record into the prepared list / the memtable. */
/* Insert the batch a[0..n-1], whose first sequence is seq, into the
** replay memtable and account for its sequences.  Corruption of the
** batch is reported against log zPath. */
static int replayInsert(ReplayCtx *p, const uint8_t *a, size_t n,
                        uint64_t seq, const char *zPath){
  int rc = lsmBatchInsert(a, n, p->pMem);
  if( rc==LSM_CORRUPT ){
    char zMsg[256];
    snprintf(zMsg, sizeof(zMsg), "%s", lsmErrMsg());
    rc = lsmErr(rc, "%s: %s", zPath, zMsg);
  }else if( rc==LSM_OK ){
    uint64_t nOp = lsmBatchDataCount(a);
    if( nOp>0 && seq+nOp-1>p->iMaxSeq ) p->iMaxSeq = seq+nOp-1;
  }
  return rc;
}

/* Replay one two-phase record at iOff of zPath, whose shape
** lsmLogRecordCheck approved, into the prepared list / the memtable.
** LSM_CORRUPT if it resolves a transaction that was never prepared. */
static int replayTxnRecord(ReplayCtx *p, int type, const uint8_t *a, size_t n,
                           const char *zPath, uint64_t iOff){
  lsm_db *db = p->db;
  uint64_t iTxn = lsmGet64(a);
  Prepared *pTxn = preparedFind(db, iTxn);
  if( type==LSM_REC_PREPARE ){
    /* A transaction logged again after a log switch: keep one copy. */
    if( pTxn ) return LSM_OK;
    pTxn = preparedNew(iTxn, a+8, n-8);
    if( pTxn==0 ) return LSM_NOMEM;
    pTxn->pNext = db->pPrepared;
    db->pPrepared = pTxn;
    return LSM_OK;
  }
  if( pTxn==0 ){
    return lsmErr(LSM_CORRUPT, "%s: record at offset %llu resolves "
                  "transaction %llu, which was never prepared", zPath,
                  (unsigned long long)iOff, (unsigned long long)iTxn);
  }
  if( type==LSM_REC_COMMIT ){
    uint64_t seq = lsmGet64(a+8);
    int rc;
    lsmPut64(pTxn->data.p, seq);
    rc = replayInsert(p, pTxn->data.p, pTxn->data.n, seq, zPath);
    if( rc!=LSM_OK ) return rc;
    if( iTxn>db->iLastTxn ) db->iLastTxn = iTxn;
  }
  preparedRemove(db, iTxn);
  return LSM_OK;
}

/*
** Replay log iLog into p->pMem, writing level-0 tables whenever the
** memtable fills.  A torn tail is dropped in the newest log (bNewest) and
** is corruption in any other.
*/
static int replayLog(ReplayCtx *p, uint64_t iLog, int bNewest){
  lsm_db *db = p->db;
  char *zPath = lsmLogFileName(db->zDir, iLog);
  LsmWalReader *pReader = 0;
  int rc = zPath ? lsmWalReaderOpen(db->pEnv, zPath, &pReader) : LSM_NOMEM;
  if( rc==LSM_OK ) lsmWalReaderDurableTypes(pReader, 1u<<LSM_REC_BATCH_SYNC);
  while( rc==LSM_OK ){
    int type;
    const uint8_t *aPayload;
    size_t nPayload;
    uint64_t iOff;
    rc = lsmWalReaderNext(pReader, &type, &aPayload, &nPayload);
    if( rc!=LSM_OK ) break;
    iOff = lsmWalReaderTailOffset(pReader) - LSM_WAL_HEADER - nPayload;
    rc = lsmLogRecordCheck(zPath, iOff, type, nPayload);
    if( rc!=LSM_OK ) break;
    if( type==LSM_REC_PREPARE || type==LSM_REC_COMMIT || type==LSM_REC_ABORT ){
      rc = replayTxnRecord(p, type, aPayload, nPayload, zPath, iOff);
    }else{
      rc = replayInsert(p, aPayload, nPayload, lsmBatchDataSeq(aPayload), zPath);
    }
    if( rc==LSM_OK ){
      if( lsmMemtableBytes(p->pMem)>=db->opts.memtable_size && !db->opts.read_only ){
        rc = writeLevel0(db, p->pMem, p->pEdit);
        if( rc==LSM_OK ){
          lsmMemtableUnref(p->pMem);
          p->pMem = 0;
          rc = lsmMemtableNew(db->opts.memtable_size, &p->pMem);
        }
      }
    }
  }
  if( rc==LSM_NOTFOUND ){
    rc = LSM_OK;
    if( lsmWalReaderTorn(pReader) ){
      if( !bNewest ){
        rc = lsmErr(LSM_CORRUPT, "%s: damaged record at offset %llu in a log "
                    "that was synced before a newer one began", zPath,
                    (unsigned long long)lsmWalReaderTailOffset(pReader));
      }
    }
  }
  lsmWalReaderClose(pReader);
  lsmFree(zPath);
  return rc;
}

/* Remove every table, manifest and temporary file of the directory that
** the engine no longer needs (logs: trimLogs). */
static int removeObsolete(void *pArg, const char *zName){
  lsm_db *db = (lsm_db*)pArg;
  LsmVersion *v = db->pVs->pCurrent;
  uint64_t iSst = fileNumber(zName, ".sst");
  int bRemove = 0;
  if( iSst ){
    int i, j;
    bRemove = 1;
    for(i=0; i<LSM_NUM_LEVELS; i++){
      for(j=0; j<v->anFile[i]; j++) if( v->aapFile[i][j]->iFile==iSst ) bRemove = 0;
    }
  }else if( strncmp(zName, "MANIFEST-", 9)==0 ){
    bRemove = fileNumber(zName+9, "")!=db->pVs->iManifest;
  }else{
    size_t n = strlen(zName);
    bRemove = n>4 && strcmp(zName+n-4, ".tmp")==0;
  }
  if( bRemove ){
    char *zPath = lsmPathJoin(db->zDir, zName);
    lsmEnvRemoveQuietly(db->pEnv, zPath);
    lsmFree(zPath);
  }
  return LSM_OK;
}

static int recoverDb(lsm_db *db){
  DirScan scan;
  ReplayCtx ctx;
  LsmVersionEdit edit;
  int rc, i;
  int bNew = 0;

  memset(&scan, 0, sizeof(scan));
  memset(&ctx, 0, sizeof(ctx));
  lsmEditInit(&edit);
  rc = lsmVersionSetRecover(db->pVs);
  if( rc==LSM_NOTFOUND ){
    if( !db->opts.create_if_missing || db->opts.read_only ){
      rc = lsmErr(LSM_CANTOPEN, "%s: no database here (no CURRENT file)",
                  db->zDir);
    }else{
      bNew = 1;
      rc = LSM_OK;
    }
  }
  if( rc==LSM_OK ){
    rc = db->pEnv->xList(db->pEnv, db->zDir, scanEntry, &scan);
    if( scan.rc ) rc = scan.rc;
  }
  if( rc==LSM_OK && bNew ){
    /* Without CURRENT only the debris of an interrupted creation (empty
    ** logs, a manifest never named) may be here: anything holding data
    ** means CURRENT was lost, and starting afresh would delete it. */
    for(i=0; rc==LSM_OK && i<scan.nLog; i++){
      int bEmpty = 0;
      rc = logIsEmpty(db, scan.aLog[i], &bEmpty);
      if( !bEmpty ) scan.nSst++;
    }
    if( rc==LSM_OK && scan.nSst ){
      rc = lsmErr(LSM_CORRUPT, "%s: CURRENT is missing but the directory "
                  "holds tables or logs with data", db->zDir);
    }
  }
  if( rc==LSM_OK ){
    if( scan.iMaxFile>=db->pVs->iNextFile ) db->pVs->iNextFile = scan.iMaxFile+1;
    if( scan.nLog ) qsort(scan.aLog, (size_t)scan.nLog, sizeof(uint64_t), cmpU64);
    ctx.db = db;
    ctx.pEdit = &edit;
    ctx.iMaxSeq = db->pVs->iLastSeq;
    rc = lsmMemtableNew(db->opts.memtable_size, &ctx.pMem);
  }
  for(i=0; rc==LSM_OK && !bNew && i<scan.nLog; i++){
    if( scan.aLog[i]<db->pVs->iLogNumber ) continue;
    rc = replayLog(&ctx, scan.aLog[i], i==scan.nLog-1);
  }
  if( rc==LSM_OK ){
    Prepared *pTxn;
    db->iLastSeq = ctx.iMaxSeq;
    if( db->pVs->iLastTxn>db->iLastTxn ) db->iLastTxn = db->pVs->iLastTxn;
    /* all that recovery keeps is durable once the open completes */
    db->iTxnLogged = db->iLastTxn;
    for(pTxn=db->pPrepared; pTxn; pTxn=pTxn->pNext){
      if( pTxn->iTxn>db->iTxnLogged ) db->iTxnLogged = pTxn->iTxn;
    }
    db->iTxnDurable = db->iTxnLogged;
  }

  if( rc==LSM_OK && db->pVs->iLogNumber && !bNew && !logListed(&scan, db->pVs->iLogNumber) ){
    /* The manifest's log is created before any manifest names it and is
    ** deleted only after a later edit moves past it: missing, it means
    ** edits that were synced have been lost from the manifest. */
    rc = lsmErr(LSM_CORRUPT, "log %06llu.log named by MANIFEST-%06llu is "
                "missing", (unsigned long long)db->pVs->iLogNumber,
                (unsigned long long)db->pVs->iManifest);
  }
  if( rc==LSM_OK && db->opts.read_only ){
    db->pMem = ctx.pMem;
    ctx.pMem = 0;
  }else if( rc==LSM_OK ){
    uint64_t iLog;
    char *zLog;
    rc = writeLevel0(db, ctx.pMem, &edit);
    iLog = lsmVersionSetNewFile(db->pVs);
    zLog = lsmLogFileName(db->zDir, iLog);
    if( rc==LSM_OK && zLog==0 ) rc = LSM_NOMEM;
    if( rc==LSM_OK ) rc = lsmWalWriterOpen(db->pEnv, zLog, 1, &db->pLog);
    if( rc==LSM_OK ) rc = relogPrepared(db, db->pLog);
    if( rc==LSM_OK ){
      db->iMemLog = iLog;
      edit.bLogNumber = 1;
      edit.iLogNumber = iLog;
      edit.bLastSeq = 1;
      edit.iLastSeq = db->iLastSeq;
      edit.bLastTxn = db->iLastTxn!=0;
      edit.iLastTxn = db->iLastTxn;
      /* Syncs the directory, which also makes the new log durable. */
      rc = lsmVersionSetRewrite(db->pVs, &edit);
    }
    if( rc==LSM_OK ) rc = lsmMemtableNew(db->opts.memtable_size, &db->pMem);
    if( rc==LSM_OK ){
      db->pEnv->xList(db->pEnv, db->zDir, removeObsolete, db);
      trimLogs(db, iLog);
    }
    lsmFree(zLog);
  }
  if( ctx.pMem ) lsmMemtableUnref(ctx.pMem);
  lsmEditClear(&edit);
  lsmFree(scan.aLog);
  return rc;
}

int lsm_open(const char *zDir, const lsm_options *pOpts, lsm_db **ppDb){
  lsm_db *db;
  lsm_options defaults;
  char *zLock = 0;
  int rc;

  lsmErrClear();
  *ppDb = 0;
  if( pOpts==0 ){
    lsm_options_init(&defaults);
    pOpts = &defaults;
  }
  db = lsmMallocZero(sizeof(*db));
  if( db==0 ) return LSM_NOMEM;
  pthread_mutex_init(&db->mutex, 0);
  pthread_mutex_init(&db->errMutex, 0);
  pthread_cond_init(&db->bgCond, 0);
  pthread_cond_init(&db->roomCond, 0);
  db->snapList.pNext = db->snapList.pPrev = &db->snapList;
  db->opts = *pOpts;
  db->pEnv = pOpts->env ? pOpts->env : lsm_env_default();
  db->opts.env = db->pEnv;
  *ppDb = db;

  rc = checkOptions(&db->opts);
  if( rc==LSM_OK ){
    db->zDir = lsmStrdup(zDir);
    zLock = lsmPathJoin(zDir, "LOCK");
    if( db->zDir==0 || zLock==0 ) rc = LSM_NOMEM;
  }
  if( rc==LSM_OK && db->opts.create_if_missing && !db->opts.read_only ){
    rc = db->pEnv->xMkdir(db->pEnv, zDir);
    /* The directory's own entry must be durable before anything in it
    ** is acknowledged. */
    if( rc==LSM_OK ) rc = lsmEnvSyncParent(db->pEnv, zDir);
  }
  if( rc==LSM_OK ){
    rc = db->pEnv->xLock(db->pEnv, zLock, &db->pLock);
    if( rc==LSM_BUSY ){
      rc = lsmErr(LSM_BUSY, "%s is in use by another process or handle", zDir);
    }else if( rc==LSM_NOTFOUND ){
      rc = lsmErr(LSM_CANTOPEN, "%s: no such directory", zDir);
    }
  }
  if( rc==LSM_OK ) rc = lsmCacheNew(db->opts.cache_size, &db->pBlockCache);
  if( rc==LSM_OK ){
    rc = lsmTableCacheNew(db->pEnv, zDir, db->opts.max_open_tables,
                          db->pBlockCache, &db->stats, &db->pTableCache);
  }
  if( rc==LSM_OK ) lsmTableCacheSetMmap(db->pTableCache, db->opts.mmap_reads);
  if( rc==LSM_OK ){
    rc = lsmVersionSetNew(db->pEnv, zDir, db->pTableCache, &db->mutex, &db->pVs);
  }
  if( rc==LSM_OK ) rc = lsm_batch_new(&db->pGroup);
  if( rc==LSM_OK ) rc = recoverDb(db);
  if( rc==LSM_OK && !db->opts.read_only ){
    if( pthread_create(&db->bgThread, 0, bgMain, db)!=0 ){
      rc = lsmErr(LSM_NOMEM, "cannot start the background thread");
    }else{
      db->bBgStarted = 1;
    }
  }
  lsmFree(zLock);
  return lsmDbResult(db, rc);
}

int lsm_close(lsm_db *db){
  int rc = LSM_OK;
  int i;
  if( db==0 ) return LSM_OK;
  if( db->bBgStarted ){
    pthread_mutex_lock(&db->mutex);
    db->bShutdown = 1;
    pthread_cond_signal(&db->bgCond);
    pthread_mutex_unlock(&db->mutex);
    pthread_join(db->bgThread, 0);
  }
  if( db->pLog && db->opts.sync_mode!=LSM_SYNC_OFF && db->bgRc==LSM_OK ){
    rc = syncLog(db, db->pLog);
  }
  lsmWalWriterClose(db->pLog);
  if( db->pMem ) lsmMemtableUnref(db->pMem);
  for(i=0; i<db->nImm; i++) lsmMemtableUnref(db->aImm[i].pMem);
  while( db->pPrepared ) preparedRemove(db, db->pPrepared->iTxn);
  lsmVersionSetFree(db->pVs);
  if( db->pTableCache ) lsmTableCacheFree(db->pTableCache);
  if( db->pBlockCache ) lsmCacheFree(db->pBlockCache);
  lsm_batch_free(db->pGroup);
  if( db->pLock ) db->pEnv->xUnlock(db->pLock);
  pthread_mutex_destroy(&db->mutex);
  pthread_mutex_destroy(&db->errMutex);
  pthread_cond_destroy(&db->bgCond);
  pthread_cond_destroy(&db->roomCond);
  lsmFree(db->zDir);
  lsmFree(db);
  return rc;
}
