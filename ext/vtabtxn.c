/*
** vtabtxn.c -- what ties an lsm table's transactions to its database.
**
** The shadow table.  Every lsm table NAME has a table NAME_lsmtx in the
** same schema:
**
**     CREATE TABLE "NAME_lsmtx"(id INTEGER PRIMARY KEY CHECK(id=1),
**                               txn INTEGER NOT NULL, owner TEXT NOT NULL)
**
** with one row: txn is the number of the last transaction of the table
** that wrote it (the database commits it together with the rest of the
** transaction; vtabint.h explains the protocol), owner the table's token,
** also in the OWNER file of its directory (registry.c).  The module
** declares it a shadow table (xShadowName), so that with
** SQLITE_DBCONFIG_DEFENSIVE ordinary SQL cannot change it.  It is
** created by xCreate, renamed by xRename, dropped by xDestroy, all inside
** the statement's transaction.
**
** The redo table.  Beside it, NAME_lsmredo holds small transactions whose
** batch rides in the database's own commit instead of a synced prepare
** in the engine's log (vtabint.h, "Inline commits"):
**
**     CREATE TABLE "NAME_lsmredo"(txn INTEGER PRIMARY KEY,
**                                 batch BLOB NOT NULL)
**
** batch is the engine's encoding of the transaction's write batch
** (lsm_batch_data).  Rows whose prepare record the engine's log holds
** durably (txn <= lsm_txn_durable) are deleted by later commits.
**
** The lsmvtab_pending table.  SQLite calls xCreate and xDestroy in the
** middle of a transaction and tells the table nothing of how it ends
** (after xDestroy, no method of the dropped table is called again).  An
** action that must wait for the end -- remove a dropped table's files
** only if the DROP commits, remove a created table's directory if the
** CREATE rolls back -- is handed to lsmvtab_pending, an eponymous virtual
** table, by a nested INSERT whose only value is a pointer (the pointer-
** passing interface, so SQL cannot forge one).  The INSERT makes the
** table a participant of the transaction: its xCommit and xRollback
** resolve the actions, and its savepoint methods resolve those made
** inside a savepoint that rolls back.  SELECT * FROM lsmvtab_pending
** shows the actions of the connection's open transaction.
*/
#include <string.h>
#include "vtabint.h"

SQLITE_EXTENSION_INIT3

/*------------------------------------------------------------ the shadow --*/

/* Run zSql (from sqlite3_mprintf, freed here) on db; NOMEM for NULL.
** On error *pzErr is SQLite's message. */
static int txnExec(sqlite3 *db, char *zSql, char **pzErr){
  int rc;
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_exec(db, zSql, 0, 0, 0);
  if( rc!=SQLITE_OK ) *pzErr = sqlite3_mprintf("%s", sqlite3_errmsg(db));
  sqlite3_free(zSql);
  return rc;
}

int lsmvShadowCreate(sqlite3 *db, const char *zSchema, const char *zTable,
                     const char *zToken, char **pzErr){
  return txnExec(db, sqlite3_mprintf(
      "CREATE TABLE \"%w\".\"%w_" LSMV_SHADOW_SUFFIX "\"(id INTEGER PRIMARY KEY "
      "CHECK(id=1), txn INTEGER NOT NULL, owner TEXT NOT NULL);"
      "INSERT INTO \"%w\".\"%w_" LSMV_SHADOW_SUFFIX "\" VALUES(1, 0, %Q);"
      "CREATE TABLE \"%w\".\"%w_" LSMV_REDO_SUFFIX "\"(txn INTEGER PRIMARY KEY, "
      "batch BLOB NOT NULL);",
      zSchema, zTable, zSchema, zTable, zToken, zSchema, zTable), pzErr);
}

int lsmvShadowDrop(sqlite3 *db, const char *zSchema, const char *zTable,
                   char **pzErr){
  return txnExec(db, sqlite3_mprintf(
      "DROP TABLE IF EXISTS \"%w\".\"%w_" LSMV_SHADOW_SUFFIX "\";"
      "DROP TABLE IF EXISTS \"%w\".\"%w_" LSMV_REDO_SUFFIX "\"",
      zSchema, zTable, zSchema, zTable), pzErr);
}

int lsmvShadowRename(sqlite3 *db, const char *zSchema, const char *zOld,
                     const char *zNew, char **pzErr){
  return txnExec(db, sqlite3_mprintf(
      "ALTER TABLE \"%w\".\"%w_" LSMV_SHADOW_SUFFIX "\" RENAME TO "
      "\"%w_" LSMV_SHADOW_SUFFIX "\";"
      "ALTER TABLE \"%w\".\"%w_" LSMV_REDO_SUFFIX "\" RENAME TO "
      "\"%w_" LSMV_REDO_SUFFIX "\"", zSchema, zOld, zNew, zSchema, zOld, zNew),
      pzErr);
}

/*
** Prepare zSql (sqlite3_mprintf, freed here) on db into *ppStmt.  On
** error *pzErr is SQLite's message.
*/
static int txnPrepare(sqlite3 *db, char *zSql, unsigned flags,
                      sqlite3_stmt **ppStmt, char **pzErr){
  int rc;
  *ppStmt = 0;
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v3(db, zSql, -1, flags, ppStmt, 0);
  if( rc!=SQLITE_OK ) *pzErr = sqlite3_mprintf("%s", sqlite3_errmsg(db));
  sqlite3_free(zSql);
  return rc;
}

int lsmvShadowToken(sqlite3 *db, const char *zSchema, const char *zTable,
                    char **pzToken, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int rc = txnPrepare(db, sqlite3_mprintf(
      "SELECT owner FROM \"%w\".\"%w_" LSMV_SHADOW_SUFFIX "\" WHERE id=1",
      zSchema, zTable), 0, &pStmt, pzErr);
  *pzToken = 0;
  if( rc==SQLITE_OK ){
    rc = sqlite3_step(pStmt);
    if( rc==SQLITE_ROW ){
      *pzToken = sqlite3_mprintf("%s", (const char*)sqlite3_column_text(pStmt, 0));
      rc = *pzToken ? SQLITE_OK : SQLITE_NOMEM;
    }else if( rc==SQLITE_DONE ){
      *pzErr = sqlite3_mprintf("shadow table \"%s_" LSMV_SHADOW_SUFFIX "\" has "
                               "no row", zTable);
      rc = SQLITE_CORRUPT;
    }else{
      *pzErr = sqlite3_mprintf("%s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(pStmt);
  }else{
    sqlite3_free(*pzErr);
    *pzErr = sqlite3_mprintf("its shadow table \"%s_" LSMV_SHADOW_SUFFIX "\" "
                             "cannot be read: %s", zTable, sqlite3_errmsg(db));
  }
  return rc;
}

int lsmvShadowHasToken(sqlite3 *db, const char *zSchema, const char *zToken,
                       int *pbFound, char **pzErr){
  sqlite3_stmt *pList = 0;
  int rc = txnPrepare(db, sqlite3_mprintf(
      "SELECT name FROM \"%w\".sqlite_schema WHERE type='table' "
      "AND name GLOB '*_" LSMV_SHADOW_SUFFIX "'", zSchema), 0, &pList, pzErr);
  *pbFound = 0;
  while( rc==SQLITE_OK && !*pbFound && sqlite3_step(pList)==SQLITE_ROW ){
    sqlite3_stmt *pOne = 0;
    const char *zName = (const char*)sqlite3_column_text(pList, 0);
    rc = txnPrepare(db, sqlite3_mprintf(
        "SELECT 1 FROM \"%w\".\"%w\" WHERE owner=?1", zSchema, zName),
        0, &pOne, pzErr);
    if( rc!=SQLITE_OK ){
      /* a table of someone else with the same suffix: not ours */
      sqlite3_free(*pzErr);
      *pzErr = 0;
      rc = SQLITE_OK;
      continue;
    }
    sqlite3_bind_text(pOne, 1, zToken, -1, SQLITE_STATIC);
    *pbFound = sqlite3_step(pOne)==SQLITE_ROW;
    sqlite3_finalize(pOne);
  }
  if( pList ){
    int rc2 = sqlite3_finalize(pList);
    if( rc==SQLITE_OK && rc2!=SQLITE_OK ){
      *pzErr = sqlite3_mprintf("%s", sqlite3_errmsg(db));
      rc = rc2;
    }
  }
  return rc;
}

/* Prefix *pzErr, if set, with what was being read. */
static void txnRecoveryError(const LsmvOwner *pOwner, char **pzErr){
  if( *pzErr ){
    char *z = sqlite3_mprintf("reading the commit records of %s in \"%s\": %s",
                              pOwner->zTable, pOwner->zDbFile, *pzErr);
    sqlite3_free(*pzErr);
    *pzErr = z;
  }
}

int lsmvShadowOpenPrivate(const LsmvOwner *pOwner, int bReadOnly,
                          sqlite3 **pdb, char **pzErr){
  int rc = sqlite3_open_v2(pOwner->zDbFile, pdb, bReadOnly ?
                           SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE,
                           pOwner->zVfs);
  if( rc==SQLITE_OK ){
    /* a hot journal of the crashed process may need rolling back first */
    sqlite3_busy_timeout(*pdb, 5000);
  }else{
    *pzErr = sqlite3_mprintf("%s", *pdb ? sqlite3_errmsg(*pdb) : "out of memory");
    txnRecoveryError(pOwner, pzErr);
    sqlite3_close(*pdb);
    *pdb = 0;
  }
  return rc;
}

int lsmvShadowCommitted(sqlite3 *dbPriv, const LsmvOwner *pOwner,
                        uint64_t *piTxn, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  int rc = txnPrepare(dbPriv, sqlite3_mprintf(
      "SELECT txn FROM \"%w_" LSMV_SHADOW_SUFFIX "\" WHERE id=1",
      pOwner->zTable), 0, &pStmt, pzErr);
  *piTxn = 0;
  if( rc==SQLITE_OK ){
    rc = sqlite3_step(pStmt);
    if( rc==SQLITE_ROW ){
      *piTxn = (uint64_t)sqlite3_column_int64(pStmt, 0);
      rc = SQLITE_OK;
    }else if( rc==SQLITE_DONE ){
      *pzErr = sqlite3_mprintf("shadow table \"%s_" LSMV_SHADOW_SUFFIX "\" has "
                               "no row", pOwner->zTable);
      rc = SQLITE_CORRUPT;
    }else{
      *pzErr = sqlite3_mprintf("%s", sqlite3_errmsg(dbPriv));
    }
  }
  sqlite3_finalize(pStmt);
  txnRecoveryError(pOwner, pzErr);
  return rc;
}

/* Commit the batch a[0..n-1] of transaction iTxn to pDb, unsynced. */
static int txnApply(lsm_db *pDb, lsm_batch *pBatch, uint64_t iTxn,
                    const void *a, int n, char **pzErr){
  int rc = lsm_batch_load(pBatch, a, (size_t)n);
  if( rc==LSM_OK ) rc = lsm_prepare_unsynced(pDb, pBatch, iTxn);
  if( rc==LSM_OK ) rc = lsm_commit_prepared(pDb, iTxn);
  if( rc!=LSM_OK ){
    *pzErr = sqlite3_mprintf("transaction %llu: %s", (unsigned long long)iTxn,
                             rc==LSM_CORRUPT ? "its batch is malformed"
                                             : lsm_errmsg(pDb));
  }
  return rc;
}

int lsmvShadowReplay(sqlite3 *dbPriv, const LsmvOwner *pOwner, lsm_db *pDb,
                     uint64_t iCommitted, int bReadOnly, int *pnRow,
                     char **pzErr){
  sqlite3_stmt *pStmt = 0;
  lsm_batch *pBatch = 0;
  int rc = txnPrepare(dbPriv, sqlite3_mprintf(
      "SELECT txn, batch FROM \"%w_" LSMV_REDO_SUFFIX "\" WHERE txn>?1 AND "
      "txn<=?2 ORDER BY txn", pOwner->zTable), 0, &pStmt, pzErr);
  *pnRow = 0;
  if( rc==SQLITE_OK && lsm_batch_new(&pBatch)!=LSM_OK ) rc = SQLITE_NOMEM;
  if( rc==SQLITE_OK ){
    sqlite3_bind_int64(pStmt, 1, (sqlite3_int64)lsm_txn_last(pDb));
    sqlite3_bind_int64(pStmt, 2, (sqlite3_int64)iCommitted);
    while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      uint64_t iTxn = (uint64_t)sqlite3_column_int64(pStmt, 0);
      const void *a = sqlite3_column_blob(pStmt, 1);
      int n = sqlite3_column_bytes(pStmt, 1);
      if( bReadOnly ){
        *pzErr = sqlite3_mprintf("the database holds committed transactions "
                                 "that the table's log lost in a crash; open "
                                 "the database read-write once to restore "
                                 "them");
        rc = SQLITE_BUSY;
      }else{
        rc = txnApply(pDb, pBatch, iTxn, a, n, pzErr);
        if( rc==SQLITE_OK ) (*pnRow)++;
      }
    }
  }
  if( rc==SQLITE_OK && sqlite3_finalize(pStmt)!=SQLITE_OK ){
    *pzErr = sqlite3_mprintf("%s", sqlite3_errmsg(dbPriv));
    rc = sqlite3_errcode(dbPriv);
  }else if( rc!=SQLITE_OK ){
    sqlite3_finalize(pStmt);
  }
  /* make what was restored durable, and record it in the manifest */
  if( rc==SQLITE_OK && *pnRow>0 ){
    rc = lsm_flush(pDb);
    if( rc!=LSM_OK ) *pzErr = sqlite3_mprintf("%s", lsm_errmsg(pDb));
  }
  lsm_batch_free(pBatch);
  txnRecoveryError(pOwner, pzErr);
  return rc;
}

void lsmvTabShadowClose(LsmvTab *pTab){
  sqlite3_finalize(pTab->pTxnRead);
  sqlite3_finalize(pTab->pTxnWrite);
  sqlite3_finalize(pTab->pRedoWrite);
  sqlite3_finalize(pTab->pRedoDelete);
  pTab->pTxnRead = pTab->pTxnWrite = 0;
  pTab->pRedoWrite = pTab->pRedoDelete = 0;
}

/* Prepare, the first time, the statement *ppStmt of pTab from zFmt, which
** names the table's schema and name with two %w. */
static int tabStmt(LsmvTab *pTab, sqlite3_stmt **ppStmt, const char *zFmt,
                   char **pzErr){
  if( *ppStmt ) return SQLITE_OK;
  return txnPrepare(pTab->db, sqlite3_mprintf(zFmt, pTab->zSchema, pTab->zName),
                    SQLITE_PREPARE_PERSISTENT, ppStmt, pzErr);
}

/* Run statement pStmt of pTab to its end (or first row) and reset it. */
static int tabRun(LsmvTab *pTab, sqlite3_stmt *pStmt, char **pzErr){
  int rc = sqlite3_step(pStmt);
  if( rc==SQLITE_ROW || rc==SQLITE_DONE ){
    rc = SQLITE_OK;
  }else{
    *pzErr = sqlite3_mprintf("%s", sqlite3_errmsg(pTab->db));
  }
  sqlite3_reset(pStmt);
  return rc;
}

int lsmvTabShadowWrite(LsmvTab *pTab){
  char *zErr = 0;
  uint64_t iFloor = 0, iTxn;
  int rc = tabStmt(pTab, &pTab->pTxnRead, "SELECT txn FROM \"%w\".\"%w_"
                   LSMV_SHADOW_SUFFIX "\" WHERE id=1", &zErr);
  if( rc==SQLITE_OK ){
    rc = tabStmt(pTab, &pTab->pTxnWrite, "UPDATE \"%w\".\"%w_"
                 LSMV_SHADOW_SUFFIX "\" SET txn=?1 WHERE id=1", &zErr);
  }
  if( rc==SQLITE_OK ){
    rc = sqlite3_step(pTab->pTxnRead);
    if( rc==SQLITE_ROW ){
      iFloor = (uint64_t)sqlite3_column_int64(pTab->pTxnRead, 0);
      rc = SQLITE_OK;
    }else if( rc==SQLITE_DONE ){
      zErr = sqlite3_mprintf("the shadow table has no row");
      rc = SQLITE_CORRUPT;
    }else{
      zErr = sqlite3_mprintf("%s", sqlite3_errmsg(pTab->db));
    }
    sqlite3_reset(pTab->pTxnRead);
  }
  if( rc==SQLITE_OK ){
    iTxn = lsmvSharedTxnNext(pTab->pShared, iFloor);
    sqlite3_bind_int64(pTab->pTxnWrite, 1, (sqlite3_int64)iTxn);
    rc = tabRun(pTab, pTab->pTxnWrite, &zErr);
    if( rc==SQLITE_OK ){
      pTab->iTxn = iTxn;
      pTab->bShadow = 1;
      pTab->iShadowDepth = pTab->nMark;
    }
  }
  if( rc!=SQLITE_OK ){
    lsmvTabError(pTab, rc, "recording the transaction in %s_" LSMV_SHADOW_SUFFIX
                 ": %s", pTab->zName, zErr ? zErr : sqlite3_errstr(rc));
  }
  sqlite3_free(zErr);
  return rc;
}

/* Delete the redo rows iFirst..iLast of pTab. */
static int tabRedoDelete(LsmvTab *pTab, uint64_t iFirst, uint64_t iLast,
                         char **pzErr){
  int rc = tabStmt(pTab, &pTab->pRedoDelete, "DELETE FROM \"%w\".\"%w_"
                   LSMV_REDO_SUFFIX "\" WHERE txn BETWEEN ?1 AND ?2", pzErr);
  if( rc==SQLITE_OK ){
    sqlite3_bind_int64(pTab->pRedoDelete, 1, (sqlite3_int64)iFirst);
    sqlite3_bind_int64(pTab->pRedoDelete, 2, (sqlite3_int64)iLast);
    rc = tabRun(pTab, pTab->pRedoDelete, pzErr);
  }
  return rc;
}

/* Report failure rc of a redo table write of pTab, with zErr. */
static int tabRedoError(LsmvTab *pTab, int rc, char *zErr){
  if( rc!=SQLITE_OK ){
    lsmvTabError(pTab, rc, "recording the transaction in %s_" LSMV_REDO_SUFFIX
                 ": %s", pTab->zName, zErr ? zErr : sqlite3_errstr(rc));
  }
  sqlite3_free(zErr);
  return rc;
}

int lsmvTabRedoWrite(LsmvTab *pTab){
  char *zErr = 0;
  size_t nData;
  const void *pData = lsm_batch_data(pTab->pBatch, &nData);
  uint64_t iDurable = lsm_txn_durable(pTab->pDb);
  int rc = SQLITE_OK;
  /* rows up to iDurable went with an earlier prune of this connection
  ** (if that transaction rolled back, the next prune takes them) */
  if( iDurable>pTab->iRedoPruned ){
    rc = tabRedoDelete(pTab, 0, iDurable, &zErr);
    if( rc==SQLITE_OK ) pTab->iRedoPruned = iDurable;
  }
  if( rc==SQLITE_OK ){
    rc = tabStmt(pTab, &pTab->pRedoWrite, "INSERT OR REPLACE INTO \"%w\".\"%w_"
                 LSMV_REDO_SUFFIX "\" VALUES(?1, ?2)", &zErr);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_int64(pTab->pRedoWrite, 1, (sqlite3_int64)pTab->iTxn);
    sqlite3_bind_blob64(pTab->pRedoWrite, 2, pData, nData, SQLITE_STATIC);
    rc = tabRun(pTab, pTab->pRedoWrite, &zErr);
    sqlite3_clear_bindings(pTab->pRedoWrite);
  }
  return tabRedoError(pTab, rc, zErr);
}

int lsmvTabRedoForget(LsmvTab *pTab){
  char *zErr = 0;
  return tabRedoError(pTab, tabRedoDelete(pTab, pTab->iTxn, pTab->iTxn, &zErr),
                      zErr);
}

/*---------------------------------------------------- the pending actions --*/

#define PEND_POINTER_TYPE "lsmvtab-pending-action"

typedef struct PendAction PendAction;
struct PendAction {
  int eType;                  /* LSMV_DEFER_* */
  int iDepth;                 /* savepoints open when it was made */
  LsmvShared *pShared;        /* a reference */
  PendAction *pNext;          /* the action made before it */
};

/* What lsmvDefer passes through the INSERT: the table sets bTaken when
** it takes the action, and never looks at the handoff again. */
typedef struct PendHandoff PendHandoff;
struct PendHandoff {
  PendAction *pAct;
  int bTaken;
};

typedef struct PendTab PendTab;
struct PendTab {
  sqlite3_vtab base;
  PendAction *pList;          /* newest first */
  int nDepth;                 /* savepoints open */
};

typedef struct PendCursor PendCursor;
struct PendCursor {
  sqlite3_vtab_cursor base;
  PendAction *pAct;
  sqlite3_int64 iRow;
};

/* Resolve and free action p. */
static void pendResolve(PendAction *p, int bCommit){
  char *zIgnore = 0;
  if( p->eType==LSMV_DEFER_CREATE ){
    lsmvSharedCreateEnd(p->pShared, bCommit);
  }else{
    lsmvSharedDropEnd(p->pShared, bCommit);
  }
  /* a failure to remove files is not reportable here; the DROPPING
  ** marker lets a later CREATE on the directory clean up */
  lsmvSharedRelease(p->pShared, &zIgnore);
  sqlite3_free(zIgnore);
  sqlite3_free(p);
}

/* Resolve every action made while more than iDepth savepoints were open
** (all of them for iDepth<0) as rolled back. */
static void pendRollbackAbove(PendTab *pTab, int iDepth){
  while( pTab->pList && (iDepth<0 || pTab->pList->iDepth>iDepth) ){
    PendAction *p = pTab->pList;
    pTab->pList = p->pNext;
    pendResolve(p, 0);
  }
}

static int pendConnect(sqlite3 *db, void *pAux, int argc,
                       const char *const *argv, sqlite3_vtab **ppVtab,
                       char **pzErr){
  PendTab *pTab;
  int rc;
  (void)pAux; (void)argc; (void)argv; (void)pzErr;
  *ppVtab = 0;
  rc = sqlite3_declare_vtab(db, "CREATE TABLE x(action TEXT, directory TEXT, "
                                "savepoint INTEGER)");
  if( rc==SQLITE_OK ) rc = sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  if( rc!=SQLITE_OK ) return rc;
  pTab = sqlite3_malloc64(sizeof(*pTab));
  if( pTab==0 ) return SQLITE_NOMEM;
  memset(pTab, 0, sizeof(*pTab));
  *ppVtab = &pTab->base;
  return SQLITE_OK;
}

static int pendDisconnect(sqlite3_vtab *pVtab){
  PendTab *pTab = (PendTab*)pVtab;
  /* SQLite rolls back before it disconnects; nothing should be left */
  pendRollbackAbove(pTab, -1);
  sqlite3_free(pTab);
  return SQLITE_OK;
}

static int pendBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  (void)pVtab;
  pInfo->estimatedCost = 10.0;
  pInfo->estimatedRows = 10;
  return SQLITE_OK;
}

static int pendOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  PendCursor *pCur = sqlite3_malloc64(sizeof(*pCur));
  (void)pVtab;
  *ppCur = 0;
  if( pCur==0 ) return SQLITE_NOMEM;
  memset(pCur, 0, sizeof(*pCur));
  *ppCur = &pCur->base;
  return SQLITE_OK;
}

static int pendClose(sqlite3_vtab_cursor *pCur){
  sqlite3_free(pCur);
  return SQLITE_OK;
}

static int pendFilter(sqlite3_vtab_cursor *pBase, int idxNum, const char *idxStr,
                      int argc, sqlite3_value **argv){
  PendCursor *pCur = (PendCursor*)pBase;
  (void)idxNum; (void)idxStr; (void)argc; (void)argv;
  pCur->pAct = ((PendTab*)pBase->pVtab)->pList;
  pCur->iRow = 1;
  return SQLITE_OK;
}

static int pendNext(sqlite3_vtab_cursor *pBase){
  PendCursor *pCur = (PendCursor*)pBase;
  pCur->pAct = pCur->pAct->pNext;
  pCur->iRow++;
  return SQLITE_OK;
}

static int pendEof(sqlite3_vtab_cursor *pBase){
  return ((PendCursor*)pBase)->pAct==0;
}

static int pendColumn(sqlite3_vtab_cursor *pBase, sqlite3_context *ctx, int i){
  PendAction *p = ((PendCursor*)pBase)->pAct;
  switch( i ){
    case 0:
      sqlite3_result_text(ctx, p->eType==LSMV_DEFER_CREATE ? "create" : "drop",
                          -1, SQLITE_STATIC);
      break;
    case 1:
      sqlite3_result_text(ctx, lsmvSharedPath(p->pShared), -1, SQLITE_TRANSIENT);
      break;
    default:
      sqlite3_result_int(ctx, p->iDepth);
      break;
  }
  return SQLITE_OK;
}

static int pendRowid(sqlite3_vtab_cursor *pBase, sqlite3_int64 *piRowid){
  *piRowid = ((PendCursor*)pBase)->iRow;
  return SQLITE_OK;
}

/* INSERT of a pointer made by lsmvDefer; anything else is refused. */
static int pendUpdate(sqlite3_vtab *pVtab, int argc, sqlite3_value **argv,
                      sqlite3_int64 *pRowid){
  PendTab *pTab = (PendTab*)pVtab;
  PendHandoff *pHand = 0;
  PendAction *p;
  (void)pRowid;
  if( argc>2 && sqlite3_value_type(argv[0])==SQLITE_NULL ){
    pHand = (PendHandoff*)sqlite3_value_pointer(argv[2], PEND_POINTER_TYPE);
  }
  if( pHand==0 || pHand->bTaken ){
    sqlite3_free(pVtab->zErrMsg);
    pVtab->zErrMsg = sqlite3_mprintf("lsmvtab_pending is written by the lsm "
                                     "module only");
    return SQLITE_ERROR;
  }
  p = pHand->pAct;
  p->iDepth = pTab->nDepth;
  p->pNext = pTab->pList;
  pTab->pList = p;
  pHand->bTaken = 1;
  return SQLITE_OK;
}

static int pendBegin(sqlite3_vtab *pVtab){
  ((PendTab*)pVtab)->nDepth = 0;
  return SQLITE_OK;
}

static int pendSync(sqlite3_vtab *pVtab){
  (void)pVtab;
  return SQLITE_OK;
}

static int pendCommit(sqlite3_vtab *pVtab){
  PendTab *pTab = (PendTab*)pVtab;
  while( pTab->pList ){
    PendAction *p = pTab->pList;
    pTab->pList = p->pNext;
    pendResolve(p, 1);
  }
  pTab->nDepth = 0;
  return SQLITE_OK;
}

static int pendRollback(sqlite3_vtab *pVtab){
  PendTab *pTab = (PendTab*)pVtab;
  pendRollbackAbove(pTab, -1);
  pTab->nDepth = 0;
  return SQLITE_OK;
}

static int pendSavepoint(sqlite3_vtab *pVtab, int iSave){
  PendTab *pTab = (PendTab*)pVtab;
  if( iSave>=0 ) pTab->nDepth = iSave+1;
  return SQLITE_OK;
}

/* Savepoints iSave and above are gone: their actions now belong to the
** savepoint around them. */
static int pendRelease(sqlite3_vtab *pVtab, int iSave){
  PendTab *pTab = (PendTab*)pVtab;
  PendAction *p;
  if( iSave<0 ) iSave = 0;
  for(p=pTab->pList; p; p=p->pNext){
    if( p->iDepth>iSave ) p->iDepth = iSave;
  }
  if( iSave<pTab->nDepth ) pTab->nDepth = iSave;
  return SQLITE_OK;
}

/* Everything since savepoint iSave opened is undone: so are the actions
** made inside it. */
static int pendRollbackTo(sqlite3_vtab *pVtab, int iSave){
  PendTab *pTab = (PendTab*)pVtab;
  pendRollbackAbove(pTab, iSave);        /* -1: all of them */
  pTab->nDepth = iSave+1;
  return SQLITE_OK;
}

static sqlite3_module pendModule = {
  /* iVersion    */ 2,
  /* xCreate     */ 0,          /* eponymous only */
  /* xConnect    */ pendConnect,
  /* xBestIndex  */ pendBestIndex,
  /* xDisconnect */ pendDisconnect,
  /* xDestroy    */ pendDisconnect,
  /* xOpen       */ pendOpen,
  /* xClose      */ pendClose,
  /* xFilter     */ pendFilter,
  /* xNext       */ pendNext,
  /* xEof        */ pendEof,
  /* xColumn     */ pendColumn,
  /* xRowid      */ pendRowid,
  /* xUpdate     */ pendUpdate,
  /* xBegin      */ pendBegin,
  /* xSync       */ pendSync,
  /* xCommit     */ pendCommit,
  /* xRollback   */ pendRollback,
  /* xFindFunction */ 0,
  /* xRename     */ 0,
  /* xSavepoint  */ pendSavepoint,
  /* xRelease    */ pendRelease,
  /* xRollbackTo */ pendRollbackTo,
  /* xShadowName */ 0
};

int lsmvPendingRegister(sqlite3 *db){
  return sqlite3_create_module(db, "lsmvtab_pending", &pendModule, 0);
}

int lsmvDefer(sqlite3 *db, int eType, LsmvShared *pShared, char **pzErr){
  PendHandoff hand;
  sqlite3_stmt *pStmt = 0;
  int rc;
  hand.bTaken = 0;
  hand.pAct = sqlite3_malloc64(sizeof(PendAction));
  if( hand.pAct==0 ) return SQLITE_NOMEM;
  memset(hand.pAct, 0, sizeof(PendAction));
  hand.pAct->eType = eType;
  hand.pAct->pShared = pShared;
  lsmvSharedRef(pShared);
  rc = txnPrepare(db, sqlite3_mprintf(
      "INSERT INTO main.lsmvtab_pending(action) VALUES(?1)"), 0, &pStmt, pzErr);
  if( rc==SQLITE_OK ){
    sqlite3_bind_pointer(pStmt, 1, &hand, PEND_POINTER_TYPE, 0);
    rc = sqlite3_step(pStmt);
    if( rc==SQLITE_DONE ) rc = SQLITE_OK;
    else *pzErr = sqlite3_mprintf("%s", sqlite3_errmsg(db));
    sqlite3_finalize(pStmt);
  }
  if( hand.bTaken ){
    /* the table resolves it with the transaction, whatever happened to
    ** the INSERT after it took it */
    sqlite3_free(*pzErr);
    *pzErr = 0;
    return SQLITE_OK;
  }
  if( rc==SQLITE_OK ){
    /* the name resolved to an ordinary table of the user's */
    *pzErr = sqlite3_mprintf("a table named lsmvtab_pending hides the lsm "
                             "module's own");
    rc = SQLITE_ERROR;
  }
  {
    char *zIgnore = 0;
    lsmvSharedRelease(pShared, &zIgnore);
    sqlite3_free(zIgnore);
  }
  sqlite3_free(hand.pAct);
  return rc;
}
