/*
** backup.c -- online backup: a consistent copy of a running database in
** a new directory, as of one committed point (lsm_backup, lsm_backup_ex).
**
** The committed point.  Under db->mutex the backup pins what a reader
** pins (db.c, readStateGet): the current version, the live memtable and
** the frozen ones, and the last published sequence S.  Every write with
** a sequence up to S is then in exactly one of those places: in a table
** of the version, or in one of the memtables.  Writes after S may land
** in the live memtable while the backup reads it; they are skipped.
**
** One window breaks "exactly one": a flush installs its new level-0
** table in the version and only later, under the mutex again, drops the
** frozen memtable it came from, so a reader between the two sees the
** same entries twice.  Readers do not mind; a copy would hold two tables
** with the same internal keys, which later merges cannot handle.  So the
** backup pins only while no flush is in progress (db->bBgBusy clear,
** waiting on db->roomCond, which every flush signals when it ends).
**
** The copy.  With the mutex released, zDest is created (it must not
** exist) and filled:
**
**   NNNNNN.sst          every table of the pinned version, same number,
**                       hard-linked (tables are never modified, only
**                       deleted, so a link shares nothing that changes)
**                       or copied where linking fails (another file
**                       system, or one without links);
**   F.sst               the memtables' entries with sequence <= S, merged
**                       into one level-0 table (none if there are none);
**                       F is a fresh number of the source, so it is above
**                       every pinned table's and sorts as the newest;
**   (F+1).log           an empty log: recovery of the copy finds nothing
**                       to replay;
**   MANIFEST-(F+2)      one edit listing every table by level, log number
**                       F+1, next file F+3, last sequence S;
**   CURRENT             written last, atomically.
**
** Each file is synced as it is written (links share the source's synced
** data) and the directory before CURRENT is written, so a crash during
** the backup leaves either no CURRENT or a complete copy.  On failure the
** backup removes zDest and everything in it.
**
** In-doubt prepared transactions of the source are not committed, so
** they are not part of any committed point and are not copied.
*/
#include "lsm.h"
#include "env.h"
#include "ikey.h"
#include "inspect.h"
#include "iter.h"
#include "memtable.h"
#include "table.h"
#include "util.h"
#include "version.h"
#include "wal.h"
#include "dbint.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* What the backup pinned, and the progress it reports. */
typedef struct Backup {
  lsm_db *db;
  const char *zDest;
  LsmMemtable *apMem[MAX_IMM+1];  /* frozen memtables, then the live one */
  int nMem;
  LsmVersion *v;
  uint64_t iSeq;                  /* the committed point S */
  uint64_t iFirstFile;            /* F: the copy's new files are F..F+2 */
  lsm_progress_fn xProgress;
  void *pArg;
  uint64_t nDone, nTotal;         /* bytes */
} Backup;

static void backupProgress(Backup *p, uint64_t nMore){
  p->nDone += nMore;
  if( p->nDone>p->nTotal ) p->nTotal = p->nDone;
  if( p->xProgress ) p->xProgress(p->pArg, p->nDone, p->nTotal);
}

/* Pin a consistent state and reserve the copy's file numbers. */
static void backupPin(Backup *p){
  lsm_db *db = p->db;
  int i, j;
  pthread_mutex_lock(&db->mutex);
  while( db->bBgBusy ) pthread_cond_wait(&db->roomCond, &db->mutex);
  for(i=0; i<db->nImm; i++){
    p->apMem[p->nMem] = db->aImm[i].pMem;
    lsmMemtableRef(p->apMem[p->nMem++]);
  }
  p->apMem[p->nMem] = db->pMem;
  lsmMemtableRef(p->apMem[p->nMem++]);
  p->v = lsmVersionCurrent(db->pVs);
  p->iSeq = db->iLastSeq;
  pthread_mutex_unlock(&db->mutex);

  /* Above every pinned table's number; F+1 and F+2 need not be
  ** reserved in the source, only be unused in the copy. */
  p->iFirstFile = lsmVersionSetNewFile(db->pVs);
  for(i=0; i<LSM_NUM_LEVELS; i++){
    for(j=0; j<p->v->anFile[i]; j++) p->nTotal += p->v->aapFile[i][j]->nSize;
  }
  for(i=0; i<p->nMem; i++) p->nTotal += lsmMemtableBytes(p->apMem[i]);
}

static void backupUnpin(Backup *p){
  int i;
  for(i=0; i<p->nMem; i++) lsmMemtableUnref(p->apMem[i]);
  if( p->v ) lsmVersionUnref(p->v);
}

/* Link table iFile into the copy, or copy it where linking fails. */
static int backupTable(Backup *p, const LsmFileMeta *m){
  lsm_env *pEnv = p->db->pEnv;
  char *zFrom = lsmTableFileName(p->db->zDir, m->iFile);
  char *zTo = lsmTableFileName(p->zDest, m->iFile);
  int rc = (zFrom && zTo) ? LSM_OK : lsmErr(LSM_NOMEM, "backup");
  if( rc==LSM_OK && (pEnv->xLink==0 || pEnv->xLink(pEnv, zFrom, zTo)!=LSM_OK) ){
    lsmErrClear();
    rc = lsmEnvCopyFile(pEnv, zFrom, zTo, UINT64_MAX);
  }
  if( rc==LSM_OK ) backupProgress(p, m->nSize);
  lsmFree(zFrom);
  lsmFree(zTo);
  return rc;
}

/*
** Write the memtables' entries with sequence <= S to table F of the
** copy and add it to pEdit at level 0.  Nothing is written (and no table
** added) when there is no such entry.
*/
static int backupMemtables(Backup *p, LsmVersionEdit *pEdit){
  lsm_db *db = p->db;
  lsm_env *pEnv = db->pEnv;
  LsmIter *apChild[MAX_IMM+1];
  LsmIter *pMerge = 0;
  LsmTableBuilder *pBuilder = 0;
  LsmTableOptions topts;
  LsmTableProps props;
  char *zPath = lsmTableFileName(p->zDest, p->iFirstFile);
  int nChild = 0;
  int i, rc = zPath ? LSM_OK : lsmErr(LSM_NOMEM, "backup");

  memset(&props, 0, sizeof(props));
  lsmTableOptionsFrom(&db->opts, &topts);

  for(i=0; rc==LSM_OK && i<p->nMem; i++){
    rc = lsmMemtableIterNew(p->apMem[i], &apChild[nChild]);
    if( rc==LSM_OK ) nChild++;
  }
  if( rc==LSM_OK ){
    rc = lsmMergeIterNew(apChild, nChild, &pMerge);
  }else{
    for(i=0; i<nChild; i++) lsmIterClose(apChild[i]);
  }
  if( rc==LSM_OK ) rc = lsmIterFirst(pMerge);
  while( rc==LSM_OK && lsmIterValid(pMerge) ){
    const uint8_t *pK, *pV;
    size_t nK, nV;
    lsmIterKey(pMerge, &pK, &nK);
    if( lsmIkeySeq(pK, nK)<=p->iSeq ){
      lsmIterValue(pMerge, &pV, &nV);
      if( pBuilder==0 ){
        rc = lsmTableBuilderNew(pEnv, zPath, &topts, &pBuilder);
      }
      if( rc==LSM_OK ) rc = lsmTableBuilderAdd(pBuilder, pK, nK, pV, nV);
    }
    if( rc==LSM_OK ) rc = lsmIterNext(pMerge);
  }
  lsmIterClose(pMerge);
  if( rc==LSM_OK && pBuilder ){
    rc = lsmTableBuilderFinish(pBuilder, &props);
    pBuilder = 0;
    if( rc==LSM_OK ) rc = lsmEditAddFile(pEdit, 0, p->iFirstFile, &props);
    if( rc==LSM_OK ) backupProgress(p, props.nFileSize);
  }
  if( pBuilder ) lsmTableBuilderAbandon(pBuilder);
  lsmTablePropsClear(&props);
  lsmFree(zPath);
  return rc;
}

/* Write the manifest MANIFEST-(F+2) holding pEdit, and the empty log. */
static int backupManifest(Backup *p, LsmVersionEdit *pEdit){
  lsm_env *pEnv = p->db->pEnv;
  LsmWalWriter *pWriter = 0;
  LsmBuf rec = {0, 0, 0};
  char *zLog = lsmLogFileName(p->zDest, p->iFirstFile+1);
  char *zManifest = lsmMprintf("%s/MANIFEST-%06llu", p->zDest,
                               (unsigned long long)(p->iFirstFile+2));
  int rc = (zLog && zManifest) ? LSM_OK : lsmErr(LSM_NOMEM, "backup");

  pEdit->bLogNumber = 1;
  pEdit->iLogNumber = p->iFirstFile+1;
  pEdit->bNextFile = 1;
  pEdit->iNextFile = p->iFirstFile+3;
  pEdit->bLastSeq = 1;
  pEdit->iLastSeq = p->iSeq;
  if( rc==LSM_OK ) rc = lsmWalWriterOpen(pEnv, zLog, 1, &pWriter);
  if( rc==LSM_OK ) rc = lsmWalWriterSync(pWriter);
  if( pWriter ){
    int rc2 = lsmWalWriterClose(pWriter);
    if( rc==LSM_OK ) rc = rc2;
    pWriter = 0;
  }
  if( rc==LSM_OK ) rc = lsmEditEncode(pEdit, &rec);
  if( rc==LSM_OK ) rc = lsmWalWriterOpen(pEnv, zManifest, 1, &pWriter);
  if( rc==LSM_OK ) rc = lsmWalWriterAppend(pWriter, LSM_REC_EDIT, rec.p, rec.n);
  if( rc==LSM_OK ) rc = lsmWalWriterSync(pWriter);
  if( pWriter ){
    int rc2 = lsmWalWriterClose(pWriter);
    if( rc==LSM_OK ) rc = rc2;
  }
  lsmBufFree(&rec);
  lsmFree(zLog);
  lsmFree(zManifest);
  return rc;
}

typedef struct RemoveCtx {
  lsm_env *pEnv;
  const char *zDir;
} RemoveCtx;

static int backupRemoveEntry(void *pArg, const char *zName){
  RemoveCtx *p = (RemoveCtx*)pArg;
  char *zPath = lsmPathJoin(p->zDir, zName);
  lsmEnvRemoveQuietly(p->pEnv, zPath);
  lsmFree(zPath);
  return LSM_OK;
}

/* Remove zDest and its files after a failure, keeping the failure's
** message. */
static void backupRemoveAll(lsm_env *pEnv, const char *zDest){
  char zSaved[ERRMSG_SIZE];
  RemoveCtx ctx;
  snprintf(zSaved, sizeof(zSaved), "%s", lsmErrMsg());
  ctx.pEnv = pEnv;
  ctx.zDir = zDest;
  pEnv->xList(pEnv, zDest, backupRemoveEntry, &ctx);
  pEnv->xRmdir(pEnv, zDest);
  lsmErr(LSM_OK, "%s", zSaved);
}

int lsm_backup_ex(lsm_db *db, const char *zDest, uint64_t *piSeq,
                  lsm_progress_fn xProgress, void *pArg){
  lsm_env *pEnv = db->pEnv;
  Backup bk;
  LsmVersionEdit edit;
  char *zCurrent = 0;
  int bExists = 0;
  int bMade = 0;
  int i, j, rc;

  lsmErrClear();
  memset(&bk, 0, sizeof(bk));
  lsmEditInit(&edit);
  bk.db = db;
  bk.zDest = zDest;
  bk.xProgress = xProgress;
  bk.pArg = pArg;
  if( piSeq ) *piSeq = 0;

  rc = pEnv->xExists(pEnv, zDest, &bExists);
  if( rc==LSM_OK && bExists ){
    rc = lsmErr(LSM_CANTOPEN, "%s already exists", zDest);
  }
  if( rc==LSM_OK ){
    rc = pEnv->xMkdir(pEnv, zDest);
    bMade = (rc==LSM_OK);
  }
  if( rc==LSM_OK ) rc = lsmEnvSyncParent(pEnv, zDest);
  if( rc==LSM_OK ){
    backupPin(&bk);
    backupProgress(&bk, 0);
  }
  for(i=0; rc==LSM_OK && i<LSM_NUM_LEVELS; i++){
    for(j=0; rc==LSM_OK && j<bk.v->anFile[i]; j++){
      const LsmFileMeta *m = bk.v->aapFile[i][j];
      rc = backupTable(&bk, m);
      if( rc==LSM_OK ) rc = lsmEditAddMeta(&edit, i, m);
    }
  }
  if( rc==LSM_OK ) rc = backupMemtables(&bk, &edit);
  if( rc==LSM_OK ) rc = backupManifest(&bk, &edit);
  if( rc==LSM_OK ) rc = pEnv->xSyncDir(pEnv, zDest);
  if( rc==LSM_OK ){
    zCurrent = lsmMprintf("MANIFEST-%06llu\n",
                          (unsigned long long)(bk.iFirstFile+2));
    if( zCurrent==0 ) rc = lsmErr(LSM_NOMEM, "backup");
  }
  if( rc==LSM_OK ){
    rc = lsmEnvWriteFileAtomic(pEnv, zDest, "CURRENT", zCurrent, strlen(zCurrent));
  }
  if( rc==LSM_OK ){
    bk.nTotal = bk.nDone;       /* the memtables' size was an estimate */
    backupProgress(&bk, 0);
    if( piSeq ) *piSeq = bk.iSeq;
  }else if( rc!=LSM_NOMEM ){
    char zMsg[ERRMSG_SIZE];
    snprintf(zMsg, sizeof(zMsg), "%s", lsmErrMsg());
    lsmErr(rc, "backup of %s to %s: %s", db->zDir, zDest, zMsg);
  }
  if( rc!=LSM_OK && bMade ) backupRemoveAll(pEnv, zDest);
  backupUnpin(&bk);
  lsmEditClear(&edit);
  lsmFree(zCurrent);
  return lsmDbResult(db, rc);
}

int lsm_backup(lsm_db *db, const char *zDest){
  return lsm_backup_ex(db, zDest, 0, 0, 0);
}
