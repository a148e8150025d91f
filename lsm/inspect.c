/*
** inspect.c -- looking inside a running database: the list of live
** tables (lsm_tables_list), the live integrity check (lsm_check) and the
** library version; plus the helpers of inspect.h.
**
** Both public walks work on one version pinned under db->mutex (see
** db.c): while a version is referenced none of its tables is deleted, so
** the walk reads every table it lists even while flushes and
** compactions replace the current version.  The mutex is released before
** any file is touched.
**
** Logs are not pinned by anything: the engine deletes a log once its
** memtable is flushed and it falls out of the retention window.  The
** check therefore lists the directory, opens each log it found, and
** skips one that has vanished in between.  A log may also be appended to
** while it is read; the reader takes the file's size when it opens it,
** so it sees a prefix of whole records, perhaps ending in a record cut
** short, which for the newest log is a torn tail like any other.
**
** What counts as damage follows recovery (db.c).  A log is synced whole
** before a newer one starts, so among the logs recovery still needs
** (numbers at or above the manifest's log number) every log but the
** newest is complete: any bad record in it is corruption, even at its
** end.  The newest may end in a torn tail, by recovery's rule (a bad
** record followed by nothing synced).  Older logs, kept only for the
** change feed, are judged by the same rule as the newest: one of them
** may be the newest log of an earlier run, cut by a crash that recovery
** then dropped.
*/
#include "lsm.h"
#include "batch.h"
#include "inspect.h"
#include "ikey.h"
#include "table.h"
#include "util.h"
#include "version.h"
#include "wal.h"
#include "dbint.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *lsm_libversion(void){
  return LSM_VERSION;
}

/**************************************************************************
** Listing the logs of a directory.
*/

typedef struct LogScan {
  uint64_t *aLog;
  int nLog;
  int rc;
} LogScan;

/* Parse "NNNNNN.log"; the number, or 0 if zName is not a log's name. */
static uint64_t inspectLogNumber(const char *zName){
  uint64_t v = 0;
  const char *z = zName;
  if( *z<'0' || *z>'9' ) return 0;
  while( *z>='0' && *z<='9' ){
    if( v > (UINT64_MAX-9)/10 ) return 0;
    v = v*10 + (uint64_t)(*z - '0');
    z++;
  }
  return strcmp(z, ".log")==0 ? v : 0;
}

static int inspectLogEntry(void *pArg, const char *zName){
  LogScan *p = (LogScan*)pArg;
  uint64_t iLog = inspectLogNumber(zName);
  if( iLog ){
    uint64_t *aNew = lsmRealloc(p->aLog, sizeof(uint64_t)*(size_t)(p->nLog+1));
    if( aNew==0 ) return (p->rc = lsmErr(LSM_NOMEM, "listing logs"));
    aNew[p->nLog++] = iLog;
    p->aLog = aNew;
  }
  return LSM_OK;
}

static int inspectCmpU64(const void *a, const void *b){
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return (x>y) - (x<y);
}

int lsmLogList(lsm_env *pEnv, const char *zDir, uint64_t **paLog, int *pnLog){
  LogScan scan;
  int rc;
  memset(&scan, 0, sizeof(scan));
  rc = pEnv->xList(pEnv, zDir, inspectLogEntry, &scan);
  if( scan.rc ) rc = scan.rc;
  if( rc==LSM_OK && scan.nLog>1 ){
    qsort(scan.aLog, (size_t)scan.nLog, sizeof(uint64_t), inspectCmpU64);
  }
  if( rc!=LSM_OK ){
    lsmFree(scan.aLog);
    scan.aLog = 0;
    scan.nLog = 0;
  }
  *paLog = scan.aLog;
  *pnLog = scan.nLog;
  return rc;
}

/**************************************************************************
** The table list.
*/

/* The current version, referenced (release with lsmVersionUnref). */
static LsmVersion *inspectPin(lsm_db *db){
  LsmVersion *v;
  pthread_mutex_lock(&db->mutex);
  v = lsmVersionCurrent(db->pVs);
  pthread_mutex_unlock(&db->mutex);
  return v;
}

int lsm_tables_list(lsm_db *db,
                    int (*xTable)(void *pArg, const lsm_table_info *pInfo),
                    void *pArg){
  LsmVersion *v = inspectPin(db);
  int i, j, rc = LSM_OK;
  lsmErrClear();
  for(i=0; rc==LSM_OK && i<LSM_NUM_LEVELS; i++){
    for(j=0; rc==LSM_OK && j<v->anFile[i]; j++){
      const LsmFileMeta *m = v->aapFile[i][j];
      lsm_table_info info;
      memset(&info, 0, sizeof(info));
      info.file = m->iFile;
      info.level = i;
      info.bytes = m->nSize;
      info.entries = m->nEntry;
      info.tombstones = m->nTombstone;
      info.min_seq = m->minSeq;
      info.max_seq = m->maxSeq;
      /* An empty table has empty keys; any other key has its trailer. */
      if( m->smallest.n>=LSM_IKEY_TRAILER ){
        info.pSmallest = m->smallest.p;
        info.nSmallest = lsmIkeyUserLen(m->smallest.n);
      }
      if( m->largest.n>=LSM_IKEY_TRAILER ){
        info.pLargest = m->largest.p;
        info.nLargest = lsmIkeyUserLen(m->largest.n);
      }
      rc = xTable(pArg, &info);
    }
  }
  lsmVersionUnref(v);
  return rc;
}

/**************************************************************************
** The live integrity check.
*/

typedef struct Check {
  lsm_db *db;
  void (*xProblem)(void*, const char*);
  void *pArg;
  int rc;                       /* code of the first problem, or OK */
  int nProblem;
  char zFirst[ERRMSG_SIZE];     /* message of the first problem */
} Check;

/* Report the problem described by this thread's message, with code rc. */
static void checkProblem(Check *p, int rc){
  const char *zMsg = lsmErrMsg()[0] ? lsmErrMsg() : lsm_errstr(rc);
  if( p->nProblem++==0 ){
    p->rc = rc;
    snprintf(p->zFirst, sizeof(p->zFirst), "%s", zMsg);
  }
  if( p->xProblem ) p->xProblem(p->pArg, zMsg);
}

/* Compare the table at zPath with what the manifest says of it. */
static int checkTableMeta(Check *p, const char *zPath, const LsmFileMeta *m){
  LsmTable *pTable = 0;
  const LsmTableProps *pProps;
  int rc = lsmTableOpen(p->db->pEnv, zPath, m->iFile, 0, 0, &pTable);
  if( rc!=LSM_OK ) return rc;
  pProps = lsmTableProps(pTable);
  if( pProps->nFileSize!=m->nSize ){
    rc = lsmErr(LSM_CORRUPT, "%s: %llu bytes, but the manifest says %llu",
                zPath, (unsigned long long)pProps->nFileSize,
                (unsigned long long)m->nSize);
  }else if( pProps->nEntry!=m->nEntry || pProps->nTombstone!=m->nTombstone ){
    rc = lsmErr(LSM_CORRUPT, "%s: %llu entries (%llu tombstones), but the "
                "manifest says %llu (%llu)", zPath,
                (unsigned long long)pProps->nEntry,
                (unsigned long long)pProps->nTombstone,
                (unsigned long long)m->nEntry,
                (unsigned long long)m->nTombstone);
  }else if( pProps->minSeq!=m->minSeq || pProps->maxSeq!=m->maxSeq ){
    rc = lsmErr(LSM_CORRUPT, "%s: sequences %llu..%llu, but the manifest "
                "says %llu..%llu", zPath, (unsigned long long)pProps->minSeq,
                (unsigned long long)pProps->maxSeq,
                (unsigned long long)m->minSeq, (unsigned long long)m->maxSeq);
  }else if( pProps->smallest.n!=m->smallest.n
         || pProps->largest.n!=m->largest.n
         || (m->smallest.n && memcmp(pProps->smallest.p, m->smallest.p, m->smallest.n))
         || (m->largest.n && memcmp(pProps->largest.p, m->largest.p, m->largest.n)) ){
    rc = lsmErr(LSM_CORRUPT, "%s: key range differs from the manifest's", zPath);
  }
  lsmTableUnref(pTable);
  return rc;
}

static int checkIgnoreOp(void *pArg, uint64_t seq, int kind,
                         const uint8_t *pKey, size_t nKey,
                         const uint8_t *pVal, size_t nVal){
  (void)pArg; (void)seq; (void)kind; (void)pKey; (void)nKey; (void)pVal; (void)nVal;
  return LSM_OK;
}

/* LSM_OK if record (type, a[0..n-1]) is one a log may hold, well formed. */
static int checkLogRecord(const char *zPath, uint64_t iOff, int type,
                          const uint8_t *a, size_t n){
  int rc = lsmLogRecordCheck(zPath, iOff, type, n);
  if( rc!=LSM_OK ) return rc;
  if( type==LSM_REC_BATCH || type==LSM_REC_BATCH_SYNC ){
    rc = lsmBatchForEach(a, n, checkIgnoreOp, 0);
  }else if( type==LSM_REC_PREPARE ){
    rc = lsmBatchForEach(a+8, n-8, checkIgnoreOp, 0);
  }
  if( rc==LSM_CORRUPT ){
    char zMsg[256];
    snprintf(zMsg, sizeof(zMsg), "%s", lsmErrMsg());
    rc = lsmErr(rc, "%s: record at offset %llu: %s", zPath,
                (unsigned long long)iOff, zMsg);
  }
  return rc;
}

/*
** Check log iLog.  bComplete: the log was synced whole before a newer
** one began, and no crash has cut it since, so that damage anywhere in
** it is corruption; otherwise recovery's rule applies (damage followed
** by nothing synced is a torn tail, which is no problem).  Returns
** LSM_NOMEM if the check could not run; problems go to p.
*/
static int checkLog(Check *p, uint64_t iLog, int bComplete){
  lsm_db *db = p->db;
  char *zPath = lsmLogFileName(db->zDir, iLog);
  LsmWalReader *pReader = 0;
  int rc;
  if( zPath==0 ) return lsmErr(LSM_NOMEM, "checking logs");
  rc = lsmWalReaderOpen(db->pEnv, zPath, &pReader);
  if( rc==LSM_NOTFOUND ){
    rc = LSM_OK;                /* retired since the directory was listed */
  }else if( rc==LSM_OK ){
    if( !bComplete ) lsmWalReaderDurableTypes(pReader, 1u<<LSM_REC_BATCH_SYNC);
    for(;;){
      int type;
      const uint8_t *a;
      size_t n;
      uint64_t iOff = lsmWalReaderTailOffset(pReader);
      rc = lsmWalReaderNext(pReader, &type, &a, &n);
      if( rc==LSM_OK ) rc = checkLogRecord(zPath, iOff, type, a, n);
      if( rc==LSM_NOTFOUND ){
        rc = LSM_OK;
        if( lsmWalReaderTorn(pReader) && bComplete ){
          checkProblem(p, lsmErr(LSM_CORRUPT, "%s: damaged record at offset "
              "%llu in a log that was synced before a newer one began", zPath,
              (unsigned long long)lsmWalReaderTailOffset(pReader)));
        }
        break;
      }
      if( rc!=LSM_OK ) break;
    }
  }
  if( rc!=LSM_OK && rc!=LSM_NOMEM ){
    checkProblem(p, rc);
    rc = LSM_OK;
  }
  lsmWalReaderClose(pReader);
  lsmFree(zPath);
  return rc;
}

int lsm_check(lsm_db *db, void (*xProblem)(void *pArg, const char *zProblem),
              void *pArg){
  Check chk;
  LsmVersion *v;
  uint64_t *aLog = 0;
  uint64_t iLogNumber;
  int nLog = 0;
  int i, j, rc = LSM_OK;

  lsmErrClear();
  memset(&chk, 0, sizeof(chk));
  chk.db = db;
  chk.xProblem = xProblem;
  chk.pArg = pArg;

  v = inspectPin(db);
  for(i=0; rc==LSM_OK && i<LSM_NUM_LEVELS; i++){
    for(j=0; rc==LSM_OK && j<v->anFile[i]; j++){
      const LsmFileMeta *m = v->aapFile[i][j];
      char *zPath = lsmTableFileName(db->zDir, m->iFile);
      int rcTable;
      if( zPath==0 ){
        rc = lsmErr(LSM_NOMEM, "checking tables");
        break;
      }
      rcTable = lsmTableCheck(db->pEnv, zPath);
      if( rcTable==LSM_OK ) rcTable = checkTableMeta(&chk, zPath, m);
      if( rcTable==LSM_NOMEM ){
        rc = rcTable;
      }else if( rcTable!=LSM_OK ){
        checkProblem(&chk, rcTable);
      }
      lsmFree(zPath);
    }
  }
  lsmVersionUnref(v);

  /* The manifest's log number is written under the manifest's own lock. */
  pthread_mutex_lock(&db->pVs->applyMutex);
  iLogNumber = db->pVs->iLogNumber;
  pthread_mutex_unlock(&db->pVs->applyMutex);
  if( rc==LSM_OK ){
    rc = lsmLogList(db->pEnv, db->zDir, &aLog, &nLog);
    if( rc!=LSM_OK && rc!=LSM_NOMEM ){
      checkProblem(&chk, rc);
      rc = LSM_OK;
    }
  }
  for(i=0; rc==LSM_OK && i<nLog; i++){
    rc = checkLog(&chk, aLog[i], i<nLog-1 && aLog[i]>=iLogNumber);
  }
  lsmFree(aLog);
  if( rc==LSM_OK && chk.nProblem ){
    rc = lsmErr(chk.rc, "%d problem%s found; the first: %s", chk.nProblem,
                chk.nProblem==1 ? "" : "s", chk.zFirst);
  }
  return lsmDbResult(db, rc);
}
