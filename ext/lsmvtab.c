/*
** lsmvtab.c -- the "lsm" virtual table module: an ordered key-value table
** stored in an lsm engine directory.
**
**     .load ./lsmvtab
**     CREATE VIRTUAL TABLE kv USING lsm(kvdata);
**     INSERT INTO kv VALUES('apple', 1);
**     SELECT * FROM kv WHERE key >= 'a' AND key < 'b' ORDER BY key DESC;
**
** This file holds the entry point, the table lifecycle (xCreate, xConnect,
** xDisconnect, xDestroy, xRename), transactions and savepoints, and
** xUpdate.  vtabint.h describes how the other files divide the rest and
** the transaction model; keycodec.h the storage format.
**
** Each row is one engine entry: key = lsmvKeyEncode(primary key), value =
** a record of the other columns.  The table behaves like a native
** WITHOUT ROWID table of the same declaration: SQLite passes values to a
** virtual table without applying column affinity, so xUpdate applies it;
** primary-key conflicts follow the statement's conflict clause (reported
** through sqlite3_vtab_on_conflict, with SQLITE_VTAB_CONSTRAINT_SUPPORT
** set); a NULL key is a NOT NULL constraint error.
**
** Sharp edges of the SQLite interface handled here:
**   - xSync and xCommit arrive without xBegin right after CREATE: they do
**     nothing unless a transaction is open.
**   - DROP TABLE calls xDestroy at once, even inside a transaction that
**     later rolls back, and no transaction method after it; the removal
**     of the files waits for the commit in lsmvtab_pending (vtabtxn.c).
**   - ATTACH of the same database file calls xConnect again in the same
**     connection; both LsmvTab objects share the one engine.
**   - A COMMIT that fails with SQLITE_BUSY leaves the transaction open
**     and calls xSync again on the retry; a write in between takes the
**     prepared batch back first.
**   - SQL run by a method (the shadow table's UPDATE in xUpdate) is a
**     nested statement of the same connection: it belongs to the
**     statement's transaction and savepoints.  Running it in xUpdate,
**     not xSync, keeps sqlite3_changes() right after COMMIT.
*/
#include <stdarg.h>
#include <string.h>
#include "vtabint.h"
#include "sqlfuncs.h"

SQLITE_EXTENSION_INIT1

/*----------------------------------------------------------------- errors --*/

int lsmvTabError(LsmvTab *pTab, int rc, const char *zFmt, ...){
  va_list ap;
  char *z;
  va_start(ap, zFmt);
  z = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  sqlite3_free(pTab->base.zErrMsg);
  pTab->base.zErrMsg = z ? sqlite3_mprintf("lsm table %s: %z", pTab->zName, z) : 0;
  return rc;
}

/* The SQLite code for engine code rc.  The numbers are SQLite's already;
** codes an SQLite caller would misread become SQLITE_ERROR. */
static int tabMapCode(int rc){
  switch( rc ){
    case LSM_OK:
    case LSM_BUSY:
    case LSM_NOMEM:
    case LSM_READONLY:
    case LSM_IOERR:
    case LSM_CORRUPT:
    case LSM_FULL:
    case LSM_CANTOPEN:
    case LSM_TOOBIG:
      return rc;
    default:
      return SQLITE_ERROR;
  }
}

/* The engine keeps one message per handle, and the handle is shared by
** every connection: the message is copied at once, but a failure in
** another thread at the same moment can still replace it. */
int lsmvTabEngineError(LsmvTab *pTab, int rc, const char *zWhat){
  return lsmvTabError(pTab, tabMapCode(rc), "%s: %s", zWhat,
                      pTab->pDb ? lsm_errmsg(pTab->pDb) : lsm_errstr(rc));
}

/* A constraint error with exactly the message of a native table. */
static int tabConstraint(LsmvTab *pTab, int rc, const char *zKind){
  sqlite3_free(pTab->base.zErrMsg);
  pTab->base.zErrMsg = sqlite3_mprintf("%s constraint failed: %s.%s", zKind,
                                       pTab->zName, pTab->pCfg->azCol[0]);
  return rc;
}

/* SQLITE_OK if the table is usable, else an error: a failed DROP leaves
** the object connected but without its engine. */
static int tabLive(LsmvTab *pTab){
  if( pTab->pDb ) return SQLITE_OK;
  return lsmvTabError(pTab, SQLITE_ERROR, "the table was dropped");
}

/*-------------------------------------------------------------- snapshots --*/

void lsmvSnapUnref(LsmvSnap *p){
  if( p && --p->nRef==0 ){
    lsm_snapshot_free(p->pDb, p->pSnap);
    sqlite3_free(p);
  }
}

/* A new snapshot of pTab's engine, with one reference, in *pp. */
static int tabSnapNew(LsmvTab *pTab, LsmvSnap **pp){
  LsmvSnap *p = sqlite3_malloc64(sizeof(*p));
  int rc;
  *pp = 0;
  if( p==0 ) return SQLITE_NOMEM;
  p->pDb = pTab->pDb;
  p->nRef = 1;
  rc = lsm_snapshot_new(pTab->pDb, &p->pSnap);
  if( rc!=LSM_OK ){
    sqlite3_free(p);
    return lsmvTabEngineError(pTab, rc, "taking a snapshot");
  }
  *pp = p;
  return SQLITE_OK;
}

/*
** A writer holds the database's write lock (SQLite takes it for every
** statement that writes a virtual table), so any transaction another
** connection has prepared has passed its database commit or is being
** rolled back: the snapshot waits for it to be applied or dropped, so as
** not to miss rows the database already counts as committed.
*/
int lsmvTabSnapshot(LsmvTab *pTab, LsmvSnap **ppSnap){
  LsmvSnap **ppHeld = pTab->bInTrans ? &pTab->pTxnSnap : &pTab->pStmtSnap;
  int rc = tabLive(pTab);
  *ppSnap = 0;
  if( rc==SQLITE_OK && *ppHeld==0 && pTab->bInTrans ){
    char *zErr = 0;
    rc = lsmvSharedWait(pTab->pShared, pTab->db, &zErr);
    if( rc!=SQLITE_OK ){
      lsmvTabError(pTab, rc, "%s", zErr);
      sqlite3_free(zErr);
    }
  }
  if( rc==SQLITE_OK && *ppHeld==0 ) rc = tabSnapNew(pTab, ppHeld);
  if( rc==SQLITE_OK ){
    (*ppHeld)->nRef++;
    *ppSnap = *ppHeld;
  }
  return rc;
}

int lsmvTabLookup(LsmvTab *pTab, const unsigned char *a, size_t n,
                  int *pbFound, LsmvBuf *pVal){
  LsmvSnap *pSnap = 0;
  int rc;
  *pbFound = 0;
  if( pTab->pBatch && lsm_batch_count(pTab->pBatch)>0 ){
    const void *pV = 0;
    size_t nV = 0;
    int bDeleted = 0;
    rc = lsm_batch_get(pTab->pBatch, a, n, &pV, &nV, &bDeleted);
    if( rc==LSM_OK ){
      *pbFound = !bDeleted;
      if( pVal && !bDeleted ){
        pVal->n = 0;
        return lsmvBufAppend(pVal, pV, nV);
      }
      return SQLITE_OK;
    }
    if( rc!=LSM_NOTFOUND ) return lsmvTabEngineError(pTab, rc, "reading the batch");
  }
  rc = lsmvTabSnapshot(pTab, &pSnap);
  if( rc==SQLITE_OK ){
    void *pV = 0;
    size_t nV = 0;
    rc = lsm_get(pTab->pDb, pSnap->pSnap, a, n, &pV, &nV);
    if( rc==LSM_OK ){
      *pbFound = 1;
      if( pVal ){
        pVal->n = 0;
        rc = lsmvBufAppend(pVal, pV, nV);
      }
    }else if( rc==LSM_NOTFOUND ){
      rc = SQLITE_OK;
    }else{
      rc = lsmvTabEngineError(pTab, rc, "reading a key");
    }
    lsm_free(pV);
    lsmvSnapUnref(pSnap);
  }
  return rc;
}

/*------------------------------------------------------------- lifecycle --*/

/* Destructor of the connection state, shared by the module and the
** function: the last of the two frees it. */
static void connRelease(void *p){
  LsmvConn *pConn = (LsmvConn*)p;
  if( --pConn->nRef==0 ) sqlite3_free(pConn);
}

/* Let go of what pTab holds of the engine: a prepared transaction (SQLite
** rolls a transaction back before it disconnects its tables, so one still
** prepared here did not commit), its batch, snapshots and its reference
** to the shared engine.  Returns the error of the release, if any, with
** *pzErr set. */
static int tabRelease(LsmvTab *pTab, char **pzErr){
  int rc = SQLITE_OK;
  if( pTab->bPrepared ){
    lsm_rollback_prepared(pTab->pDb, pTab->iTxn);
    lsmvSharedPrepared(pTab->pShared, &pTab->prep, 0);
    pTab->bPrepared = 0;
  }
  lsm_batch_free(pTab->pBatch);
  pTab->pBatch = 0;
  lsmvSnapUnref(pTab->pTxnSnap);
  lsmvSnapUnref(pTab->pStmtSnap);
  pTab->pTxnSnap = pTab->pStmtSnap = 0;
  if( pTab->pShared ){
    rc = lsmvSharedRelease(pTab->pShared, pzErr);
    pTab->pShared = 0;
    pTab->pDb = 0;
  }
  return rc;
}

/* Free pTab.  xDisconnect cannot report an error, so a failure to close
** the engine (its last user) goes unreported here. */
static void tabFree(LsmvTab *pTab){
  if( pTab ){
    char *zIgnore = 0;
    lsmvTabShadowClose(pTab);
    tabRelease(pTab, &zIgnore);
    sqlite3_free(zIgnore);
    lsmvConfigFree(pTab->pCfg);
    sqlite3_free(pTab->aMark);
    sqlite3_free(pTab->zName);
    sqlite3_free(pTab->zSchema);
    lsmvBufFree(&pTab->key);
    lsmvBufFree(&pTab->key2);
    lsmvBufFree(&pTab->rec);
    lsmvBufFree(&pTab->old);
    sqlite3_free(pTab->base.zErrMsg);
    sqlite3_free(pTab);
  }
}

/*
** The part of xCreate and xConnect that needs no engine: parse the
** arguments, declare the table, and make the LsmvTab (*ppTab).  On error
** *pzErr says why.
*/
static int tabNew(sqlite3 *db, LsmvConn *pConn, int argc,
                  const char *const *argv, LsmvTab **ppTab, char **pzErr){
  LsmvConfig *pCfg = 0;
  LsmvTab *pTab = 0;
  int rc;
  *ppTab = 0;
  rc = lsmvConfigParse(db, pConn, argc, argv, &pCfg, pzErr);
  if( rc==SQLITE_OK ){
    rc = sqlite3_declare_vtab(db, pCfg->zDecl);
    if( rc!=SQLITE_OK ) *pzErr = sqlite3_mprintf("%s", sqlite3_errmsg(db));
  }
  if( rc==SQLITE_OK ){
    rc = sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
  }
  if( rc==SQLITE_OK ){
    rc = sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  }
  if( rc==SQLITE_OK ){
    pTab = sqlite3_malloc64(sizeof(*pTab));
    if( pTab==0 ){
      rc = SQLITE_NOMEM;
    }else{
      memset(pTab, 0, sizeof(*pTab));
      pTab->db = db;
      pTab->pConn = pConn;
      pTab->pCfg = pCfg;
      pCfg = 0;
      pTab->zSchema = sqlite3_mprintf("%s", argv[1]);
      pTab->zName = sqlite3_mprintf("%s", argv[2]);
      pTab->prep.db = db;
      if( pTab->zName==0 || pTab->zSchema==0 ) rc = SQLITE_NOMEM;
    }
  }
  lsmvConfigFree(pCfg);
  if( rc!=SQLITE_OK ){
    tabFree(pTab);
    pTab = 0;
  }
  *ppTab = pTab;
  return rc;
}

/*
** Describe pTab's table as the owner of its directory into *pOwner (its
** strings belong to pTab and to SQLite).  A table of the temp schema or
** of a database without a file is of the in-memory kind.
*/
static void tabOwner(LsmvTab *pTab, const char *zToken, LsmvOwner *pOwner){
  const char *zFile = sqlite3_db_filename(pTab->db, pTab->zSchema);
  memset(pOwner, 0, sizeof(*pOwner));
  pOwner->db = pTab->db;
  pOwner->zSchema = pTab->zSchema;
  pOwner->zTable = pTab->zName;
  pOwner->zToken = zToken;
  if( zFile && zFile[0] && sqlite3_stricmp(pTab->zSchema, "temp")!=0 ){
    sqlite3_vfs *pVfs = 0;
    pOwner->zDbFile = zFile;
    pTab->bFileDb = 1;
    sqlite3_file_control(pTab->db, pTab->zSchema, SQLITE_FCNTL_VFS_POINTER, &pVfs);
    pOwner->zVfs = pVfs ? pVfs->zName : 0;
  }
}

/* Finish xCreate or xConnect: on error report zErr for table zName and
** free pTab; on success hand pTab to SQLite. */
static int tabDone(int rc, LsmvTab *pTab, const char *zName, char *zErr,
                   sqlite3_vtab **ppVtab, char **pzErr){
  if( rc!=SQLITE_OK ){
    if( zErr ) *pzErr = sqlite3_mprintf("lsm table %s: %s", zName, zErr);
    tabFree(pTab);
    pTab = 0;
  }
  sqlite3_free(zErr);
  *ppVtab = pTab ? &pTab->base : 0;
  return rc;
}

/*
** CREATE VIRTUAL TABLE: claim the directory (registry.c says when that
** is allowed), create the shadow table, and let lsmvtab_pending undo the
** directory if the transaction rolls back.
*/
static int lsmvCreate(sqlite3 *db, void *pAux, int argc,
                      const char *const *argv, sqlite3_vtab **ppVtab,
                      char **pzErr){
  LsmvTab *pTab = 0;
  LsmvOwner owner;
  unsigned char aRand[16];
  char zToken[33];
  char *zErr = 0;
  int eOpen = LSMV_OPEN_CREATE;
  int i, rc;

  *ppVtab = 0;
  rc = tabNew(db, (LsmvConn*)pAux, argc, argv, &pTab, &zErr);
  if( rc!=SQLITE_OK ) return tabDone(rc, pTab, argv[2], zErr, ppVtab, pzErr);

  sqlite3_randomness(sizeof(aRand), aRand);
  for(i=0; i<16; i++) sqlite3_snprintf(3, &zToken[2*i], "%02x", aRand[i]);
  tabOwner(pTab, zToken, &owner);
  if( owner.zDbFile ){
    /* the files of a table of this database whose DROP committed just
    ** before a crash may be replaced; another table's may not */
    char *zOld = 0;
    if( lsmvOwnerDropping(pTab->pCfg->zPath, owner.zDbFile, &zOld) ){
      int bFound = 1;
      rc = lsmvShadowHasToken(db, pTab->zSchema, zOld, &bFound, &zErr);
      if( rc==SQLITE_OK && !bFound ) eOpen = LSMV_OPEN_REPLACE;
    }
    sqlite3_free(zOld);
  }
  if( rc==SQLITE_OK ){
    rc = lsmvSharedOpenTable(pTab->pCfg->zPath, &pTab->pCfg->opts, &owner, eOpen,
                        &pTab->pShared, &zErr);
  }
  if( rc==SQLITE_OK ){
    pTab->pDb = lsmvSharedDb(pTab->pShared);
    rc = lsmvShadowCreate(db, pTab->zSchema, pTab->zName, zToken, &zErr);
    if( rc==SQLITE_OK ) rc = lsmvDefer(db, LSMV_DEFER_CREATE, pTab->pShared, &zErr);
    if( rc!=SQLITE_OK ) lsmvSharedCreateEnd(pTab->pShared, 0);
  }
  return tabDone(rc, pTab, argv[2], zErr, ppVtab, pzErr);
}

/*
** Connect a table that exists: its token comes from its shadow table.  A
** table whose directory has vanished can still be read (empty) and
** dropped, so the directory is made again, except for a read-only
** database or a directory on a read-only file system, which open the
** engine read-only and never create anything.
*/
static int lsmvConnect(sqlite3 *db, void *pAux, int argc,
                       const char *const *argv, sqlite3_vtab **ppVtab,
                       char **pzErr){
  LsmvTab *pTab = 0;
  LsmvOwner owner;
  char *zToken = 0;
  char *zErr = 0;
  int rc;

  *ppVtab = 0;
  rc = tabNew(db, (LsmvConn*)pAux, argc, argv, &pTab, &zErr);
  if( rc==SQLITE_OK ){
    rc = lsmvShadowToken(db, pTab->zSchema, pTab->zName, &zToken, &zErr);
  }
  if( rc==SQLITE_OK ){
    pTab->bReadOnlyFs = lsmvDirOnReadOnlyFs(pTab->pCfg->zPath);
    if( sqlite3_db_readonly(db, pTab->zSchema)==1 || pTab->bReadOnlyFs ){
      pTab->pCfg->opts.read_only = 1;
      pTab->pCfg->opts.create_if_missing = 0;
    }
    tabOwner(pTab, zToken, &owner);
    rc = lsmvSharedOpenTable(pTab->pCfg->zPath, &pTab->pCfg->opts, &owner,
                        LSMV_OPEN_CONNECT, &pTab->pShared, &zErr);
    if( rc==SQLITE_OK ) pTab->pDb = lsmvSharedDb(pTab->pShared);
  }
  sqlite3_free(zToken);
  return tabDone(rc, pTab, argv[2], zErr, ppVtab, pzErr);
}

static int lsmvDisconnect(sqlite3_vtab *pVtab){
  tabFree((LsmvTab*)pVtab);
  return SQLITE_OK;
}

/*
** True if a savepoint was opened after this transaction wrote the table
** and is still open, other than the innermost one, the DROP statement's
** own (SQLite runs every DROP of a virtual table with a statement
** journal).  A ROLLBACK TO that savepoint would bring the table back
** with the writes made before it, which went with this LsmvTab.
*/
static int tabWritesBeforeSavepoint(LsmvTab *pTab){
  int i;
  if( pTab->pBatch==0 || lsm_batch_count(pTab->pBatch)==0 ) return 0;
  for(i=0; i<pTab->nMark-1; i++){
    if( pTab->aMark[i]!=pTab->iMarkEmpty ) return 1;
  }
  return 0;
}

/*
** DROP TABLE.  The shadow table goes with the statement; the files stay
** until lsmvtab_pending sees the transaction commit (SQLite calls no
** method of this table again).  On error the table stays, connected:
** SQLite keeps a virtual table whose xDestroy failed.  (SQLite replaces
** the message of a failed xDestroy by the text of its code, so errors
** also go to sqlite3_log.)
*/
static int lsmvDestroy(sqlite3_vtab *pVtab){
  LsmvTab *pTab = (LsmvTab*)pVtab;
  char *zErr = 0;
  int rc;
  if( pTab->bReadOnlyFs ){
    /* (SQLite shows this code's text: "attempt to write a readonly
    ** database") */
    lsmvTabError(pTab, SQLITE_READONLY, "cannot be dropped: directory \"%s\" "
                 "is on a read-only file system", pTab->pCfg->zPath);
    sqlite3_log(SQLITE_READONLY, "%s", pTab->base.zErrMsg);
    return SQLITE_READONLY;
  }
  if( tabWritesBeforeSavepoint(pTab) ){
    lsmvTabError(pTab, SQLITE_LOCKED, "cannot be dropped inside a savepoint "
                 "opened after this transaction wrote to it; release the "
                 "savepoint or commit first");
    sqlite3_log(SQLITE_LOCKED, "%s", pTab->base.zErrMsg);
    return SQLITE_LOCKED;
  }
  lsmvTabShadowClose(pTab);
  rc = lsmvShadowDrop(pTab->db, pTab->zSchema, pTab->zName, &zErr);
  if( rc==SQLITE_OK && pTab->pShared ){
    rc = lsmvSharedDropBegin(pTab->pShared, &zErr);
    if( rc==SQLITE_OK ){
      rc = lsmvDefer(pTab->db, LSMV_DEFER_DROP, pTab->pShared, &zErr);
      if( rc!=SQLITE_OK ) lsmvSharedDropEnd(pTab->pShared, 0);
    }
  }
  if( rc!=SQLITE_OK ){
    lsmvTabError(pTab, rc, "%s", zErr ? zErr : "dropping the table");
    sqlite3_log(rc, "%s", pTab->base.zErrMsg);
    sqlite3_free(zErr);
    return rc;
  }
  tabFree(pTab);
  return SQLITE_OK;
}

/* ALTER TABLE RENAME: the shadow table follows, the data stays where it
** is. */
static int lsmvRename(sqlite3_vtab *pVtab, const char *zNew){
  LsmvTab *pTab = (LsmvTab*)pVtab;
  char *zErr = 0;
  char *z = sqlite3_mprintf("%s", zNew);
  int rc;
  if( z==0 ) return SQLITE_NOMEM;
  lsmvTabShadowClose(pTab);
  rc = lsmvShadowRename(pTab->db, pTab->zSchema, pTab->zName, zNew, &zErr);
  if( rc!=SQLITE_OK ){
    lsmvTabError(pTab, rc, "renaming its shadow table: %s", zErr);
    sqlite3_free(zErr);
    sqlite3_free(z);
    return rc;
  }
  sqlite3_free(pTab->zName);
  pTab->zName = z;
  return SQLITE_OK;
}

/* The module's shadow tables are NAME_lsmtx and NAME_lsmredo. */
static int lsmvShadowName(const char *zSuffix){
  return sqlite3_stricmp(zSuffix, LSMV_SHADOW_SUFFIX)==0
      || sqlite3_stricmp(zSuffix, LSMV_REDO_SUFFIX)==0;
}

/*---------------------------------------------------------- transactions --*/

/* A transaction that writes the table starts: its batch is empty, its
** snapshot not taken until the first read, its number not given until
** the first write. */
static int lsmvBegin(sqlite3_vtab *pVtab){
  LsmvTab *pTab = (LsmvTab*)pVtab;
  int rc = tabLive(pTab);
  if( rc==SQLITE_OK && pTab->bReadOnlyFs ){
    return lsmvTabError(pTab, SQLITE_READONLY, "directory \"%s\" is on a "
                        "read-only file system", pTab->pCfg->zPath);
  }
  if( rc==SQLITE_OK && pTab->pBatch==0 ){
    rc = lsm_batch_new_indexed(&pTab->pBatch);
    if( rc!=LSM_OK ) rc = lsmvTabEngineError(pTab, rc, "starting a transaction");
  }
  if( rc==SQLITE_OK ){
    if( lsm_batch_count(pTab->pBatch)==0 ){
      pTab->iMarkEmpty = lsm_batch_mark(pTab->pBatch);
    }
    pTab->bInTrans = 1;
    pTab->nMark = 0;
  }
  return rc;
}

/*
** Take back a prepared batch that is about to change (the transaction
** went on after a COMMIT that failed, with SQLITE_BUSY for instance).
** The next write takes a new number: a number is never prepared twice.
*/
static int tabUnprepare(LsmvTab *pTab){
  if( pTab->bPrepared ){
    int rc = lsm_rollback_prepared(pTab->pDb, pTab->iTxn);
    if( rc!=LSM_OK ) return lsmvTabEngineError(pTab, rc, "taking back a prepared commit");
    lsmvSharedPrepared(pTab->pShared, &pTab->prep, 0);
    pTab->bPrepared = 0;
    pTab->bShadow = 0;
    if( pTab->bRedo ){
      /* a crash must not replay a batch that is about to change */
      pTab->bRedo = 0;
      rc = lsmvTabRedoForget(pTab);
      if( rc!=SQLITE_OK ) return rc;
    }
  }
  return SQLITE_OK;
}

/* Whether the commit of pTab's batch rides in the database's commit
** (vtabint.h, "Inline commits"). */
static int tabInlineCommit(LsmvTab *pTab){
  return pTab->bFileDb && pTab->pCfg->opts.sync_mode!=LSM_SYNC_OFF
      && lsm_batch_size(pTab->pBatch)<=pTab->pCfg->nInline;
}

/*
** Phase one of the commit, and all its fallible work (SQLite ignores the
** return code of xCommit): the batch goes to the log as prepared
** transaction iTxn, durable under the table's sync mode, or for an inline
** commit to the redo table and the log unsynced.  SQLite calls xSync
** again when it retries a COMMIT that failed: prepared is prepared.
*/
static int lsmvSync(sqlite3_vtab *pVtab){
  LsmvTab *pTab = (LsmvTab*)pVtab;
  int rc = SQLITE_OK;
  if( !pTab->bInTrans || pTab->pBatch==0 || lsm_batch_count(pTab->pBatch)==0
   || pTab->bPrepared
  ){
    return SQLITE_OK;
  }
  rc = tabLive(pTab);
  LSMV_TEST_POINT(LSMV_POINT_SYNC);
  /* the number is normally written by the first write; a ROLLBACK TO
  ** after a failed COMMIT can leave it unwritten */
  if( rc==SQLITE_OK && !pTab->bShadow ) rc = lsmvTabShadowWrite(pTab);
  if( rc==SQLITE_OK && tabInlineCommit(pTab) ){
    rc = lsmvTabRedoWrite(pTab);
    if( rc==SQLITE_OK ){
      pTab->bRedo = 1;
      rc = lsm_prepare_unsynced(pTab->pDb, pTab->pBatch, pTab->iTxn);
      if( rc!=LSM_OK ) return lsmvTabEngineError(pTab, rc, "commit");
    }
  }else if( rc==SQLITE_OK ){
    rc = lsm_prepare(pTab->pDb, pTab->pBatch, pTab->iTxn);
    if( rc!=LSM_OK ) return lsmvTabEngineError(pTab, rc, "commit");
  }
  if( rc==SQLITE_OK ){
    pTab->bPrepared = 1;
    lsmvSharedPrepared(pTab->pShared, &pTab->prep, 1);
    LSMV_TEST_POINT(LSMV_POINT_PREPARED);
  }
  return rc;
}

/* End the transaction: forget its writes, snapshot, number and
** savepoints.  The statement snapshot goes too, so that later reads see
** the commit. */
static void tabEndTrans(LsmvTab *pTab){
  if( pTab->pBatch ) lsm_batch_clear(pTab->pBatch);
  lsmvSnapUnref(pTab->pTxnSnap);
  pTab->pTxnSnap = 0;
  lsmvSnapUnref(pTab->pStmtSnap);
  pTab->pStmtSnap = 0;
  pTab->nMark = 0;
  pTab->bInTrans = 0;
  pTab->bShadow = 0;
  pTab->bRedo = 0;
}

/*
** The database has committed: apply the prepared batch.  This cannot
** report a failure; if it fails the transaction stays prepared in the
** engine's log, and the next open of the directory commits it (the
** shadow table has its number).
*/
static int lsmvCommit(sqlite3_vtab *pVtab){
  LsmvTab *pTab = (LsmvTab*)pVtab;
  if( pTab->bPrepared ){
    int rc;
    LSMV_TEST_POINT(LSMV_POINT_COMMIT);
    rc = lsm_commit_prepared(pTab->pDb, pTab->iTxn);
    if( rc!=LSM_OK ){
      sqlite3_log(rc, "lsm table %s: applying committed transaction %llu: %s",
                  pTab->zName, (unsigned long long)pTab->iTxn,
                  lsm_errmsg(pTab->pDb));
    }
    lsmvSharedPrepared(pTab->pShared, &pTab->prep, 0);
    pTab->bPrepared = 0;
    LSMV_TEST_POINT(LSMV_POINT_COMMITTED);
  }
  tabEndTrans(pTab);
  return SQLITE_OK;
}

/* The transaction rolls back, perhaps after xSync (the database's commit
** failed, or a commit hook refused it). */
static int lsmvRollback(sqlite3_vtab *pVtab){
  LsmvTab *pTab = (LsmvTab*)pVtab;
  if( pTab->bPrepared ){
    int rc = lsm_rollback_prepared(pTab->pDb, pTab->iTxn);
    if( rc!=LSM_OK ){
      /* still prepared in the log; its number is not in the database, so
      ** the next open of the directory rolls it back */
      sqlite3_log(rc, "lsm table %s: rolling back transaction %llu: %s",
                  pTab->zName, (unsigned long long)pTab->iTxn,
                  lsm_errmsg(pTab->pDb));
    }
    lsmvSharedPrepared(pTab->pShared, &pTab->prep, 0);
    pTab->bPrepared = 0;
  }
  tabEndTrans(pTab);
  return SQLITE_OK;
}

/* Savepoint iSave opens: remember where the batch is.  Levels SQLite did
** not report (opened before this table joined the transaction) start
** at the same place. */
static int lsmvSavepoint(sqlite3_vtab *pVtab, int iSave){
  LsmvTab *pTab = (LsmvTab*)pVtab;
  int rc = SQLITE_OK;
  if( iSave<0 ) return SQLITE_OK;
  if( pTab->pBatch==0 ) rc = lsmvBegin(pVtab);
  if( rc==SQLITE_OK && iSave>=pTab->nMarkAlloc ){
    int nNew = iSave + 8;
    size_t *aNew = sqlite3_realloc64(pTab->aMark, sizeof(size_t)*(size_t)nNew);
    if( aNew==0 ) return SQLITE_NOMEM;
    pTab->aMark = aNew;
    pTab->nMarkAlloc = nNew;
  }
  if( rc==SQLITE_OK ){
    size_t iMark = lsm_batch_mark(pTab->pBatch);
    int i;
    for(i=pTab->nMark<iSave ? pTab->nMark : iSave; i<=iSave; i++){
      pTab->aMark[i] = iMark;
    }
    pTab->nMark = iSave+1;
  }
  return rc;
}

/* Savepoints iSave and above are gone.  -1 stands for the savepoint that
** opened the transaction (SAVEPOINT outside BEGIN).  The shadow write
** now belongs to the savepoint around them. */
static int lsmvRelease(sqlite3_vtab *pVtab, int iSave){
  LsmvTab *pTab = (LsmvTab*)pVtab;
  if( iSave<0 ) iSave = 0;
  if( iSave<pTab->nMark ) pTab->nMark = iSave;
  if( iSave<pTab->iShadowDepth ) pTab->iShadowDepth = iSave;
  return SQLITE_OK;
}

/* Undo the writes made since savepoint iSave, which stays open; -1 is the
** start of the transaction.  The database undoes the shadow write too if
** it was made inside the savepoint. */
static int lsmvRollbackTo(sqlite3_vtab *pVtab, int iSave){
  LsmvTab *pTab = (LsmvTab*)pVtab;
  int rc = tabUnprepare(pTab);
  if( rc!=SQLITE_OK || pTab->pBatch==0 ) return rc;
  if( iSave<pTab->iShadowDepth ) pTab->bShadow = 0;
  if( iSave<0 ){
    rc = lsm_batch_clear(pTab->pBatch);
    pTab->nMark = 0;
  }else if( iSave<pTab->nMark ){
    rc = lsm_batch_truncate(pTab->pBatch, pTab->aMark[iSave]);
    pTab->nMark = iSave+1;
  }
  if( rc!=LSM_OK ) rc = lsmvTabEngineError(pTab, rc, "rolling back to a savepoint");
  return rc;
}

/*---------------------------------------------------------------- writes --*/

/*
** Encode key value pVal, with the key column's affinity, into pOut
** (replacing its contents).  A NULL key is a NOT NULL constraint error.
*/
static int tabEncodeKey(LsmvTab *pTab, sqlite3_value *pVal, LsmvBuf *pOut,
                        unsigned *pFlags){
  LsmvValue v;
  sqlite3_value *pTmp = 0;
  int rc = lsmvAffinityApply(pTab->pCfg->aAff[0], pVal, &v, &pTmp);
  pOut->n = 0;
  if( rc==SQLITE_OK ) rc = lsmvKeyEncode(&v, pOut, pFlags);
  sqlite3_value_free(pTmp);
  if( rc==SQLITE_CONSTRAINT_NOTNULL ){
    rc = tabConstraint(pTab, rc, "NOT NULL");
  }else if( rc==SQLITE_OK && pOut->n>LSM_MAX_KEY_SIZE ){
    rc = lsmvTabError(pTab, SQLITE_TOOBIG, "key too large: %llu bytes "
                      "encoded, the limit is %d", (unsigned long long)pOut->n,
                      LSM_MAX_KEY_SIZE);
  }
  return rc;
}

/*
** Build the record of a row whose columns are argv[1..nCol-1] (argv[0]
** is the key) into pTab->rec.  A column SQLite marks unchanged is copied
** from the old record aOld[0..nOld-1].
*/
static int tabEncodeRecord(LsmvTab *pTab, sqlite3_value **argv,
                           unsigned keyFlags, const LsmvBuf *pOld){
  LsmvBuf *pRec = &pTab->rec;
  int rc, i;
  pRec->n = 0;
  rc = lsmvRecordBegin(pRec, keyFlags);
  for(i=1; rc==SQLITE_OK && i<pTab->pCfg->nCol; i++){
    if( pOld && sqlite3_value_nochange(argv[i]) ){
      size_t iOff, nLen;
      rc = lsmvRecordSpan(pOld->a, pOld->n, i-1, &iOff, &nLen);
      if( rc==SQLITE_OK && nLen==0 ){
        static const LsmvValue nullValue = { SQLITE_NULL, 0, 0.0, 0, 0 };
        rc = lsmvRecordAppend(pRec, &nullValue);
      }else if( rc==SQLITE_OK ){
        rc = lsmvBufAppend(pRec, &pOld->a[iOff], nLen);
      }else{
        rc = lsmvTabError(pTab, SQLITE_CORRUPT, "corrupt record");
      }
    }else{
      LsmvValue v;
      sqlite3_value *pTmp = 0;
      rc = lsmvAffinityApply(pTab->pCfg->aAff[i], argv[i], &v, &pTmp);
      if( rc==SQLITE_OK ) rc = lsmvRecordAppend(pRec, &v);
      sqlite3_value_free(pTmp);
    }
  }
  if( rc==SQLITE_OK && pRec->n>LSM_MAX_VALUE_SIZE ){
    rc = lsmvTabError(pTab, SQLITE_TOOBIG, "row too large: %llu bytes "
                      "encoded, the limit is %d", (unsigned long long)pRec->n,
                      LSM_MAX_VALUE_SIZE);
  }
  return rc;
}

/* Add a put or a delete to the transaction's batch. */
static int tabBatchPut(LsmvTab *pTab, const LsmvBuf *pKey, const LsmvBuf *pVal){
  int rc = pVal ? lsm_batch_put(pTab->pBatch, pKey->a, pKey->n, pVal->a, pVal->n)
                : lsm_batch_delete(pTab->pBatch, pKey->a, pKey->n);
  if( rc!=LSM_OK ) rc = lsmvTabEngineError(pTab, rc, "writing");
  return rc;
}

/*
** xUpdate.  argv[0] is the old key (NULL for INSERT); for INSERT and
** UPDATE argv[1] repeats the new key and argv[2..] are the columns, key
** first.  For an UPDATE that leaves the key alone SQLite may pass the key
** column as "unchanged" (we never set a result for it in xColumn when
** sqlite3_vtab_nochange says so), and then the old key stands.
*/
static int lsmvUpdate(sqlite3_vtab *pVtab, int argc, sqlite3_value **argv,
                      sqlite3_int64 *pRowid){
  LsmvTab *pTab = (LsmvTab*)pVtab;
  int rc = tabLive(pTab);
  unsigned keyFlags = 0, oldFlags = 0;
  int bFound = 0;
  (void)pRowid;

  if( rc==SQLITE_OK && !pTab->bInTrans ) rc = lsmvBegin(pVtab);
  if( rc==SQLITE_OK ) rc = tabUnprepare(pTab);
  if( rc==SQLITE_OK && !pTab->bShadow ) rc = lsmvTabShadowWrite(pTab);
  if( rc!=SQLITE_OK ) return rc;

  if( argc==1 ){
    rc = tabEncodeKey(pTab, argv[0], &pTab->key, &oldFlags);
    if( rc==SQLITE_OK ) rc = tabBatchPut(pTab, &pTab->key, 0);
    return rc;
  }

  if( sqlite3_value_type(argv[0])==SQLITE_NULL ){
    /* INSERT */
    rc = tabEncodeKey(pTab, argv[2], &pTab->key, &keyFlags);
    if( rc==SQLITE_OK && sqlite3_vtab_on_conflict(pTab->db)!=SQLITE_REPLACE ){
      rc = lsmvTabLookup(pTab, pTab->key.a, pTab->key.n, &bFound, 0);
      if( rc==SQLITE_OK && bFound ){
        return tabConstraint(pTab, SQLITE_CONSTRAINT_PRIMARYKEY, "UNIQUE");
      }
    }
    if( rc==SQLITE_OK ) rc = tabEncodeRecord(pTab, &argv[2], keyFlags, 0);
    if( rc==SQLITE_OK ) rc = tabBatchPut(pTab, &pTab->key, &pTab->rec);
    return rc;
  }

  /* UPDATE */
  rc = tabEncodeKey(pTab, argv[0], &pTab->key2, &oldFlags);
  if( rc==SQLITE_OK ){
    sqlite3_value *pNew = sqlite3_value_nochange(argv[2]) ? argv[0] : argv[2];
    rc = tabEncodeKey(pTab, pNew, &pTab->key, &keyFlags);
  }
  if( rc==SQLITE_OK ){
    rc = lsmvTabLookup(pTab, pTab->key2.a, pTab->key2.n, &bFound, &pTab->old);
  }
  if( rc==SQLITE_OK && bFound ){
    int bMove = pTab->key.n!=pTab->key2.n
             || memcmp(pTab->key.a, pTab->key2.a, pTab->key.n)!=0;
    if( bMove && sqlite3_vtab_on_conflict(pTab->db)!=SQLITE_REPLACE ){
      int bTaken = 0;
      rc = lsmvTabLookup(pTab, pTab->key.a, pTab->key.n, &bTaken, 0);
      if( rc==SQLITE_OK && bTaken ){
        return tabConstraint(pTab, SQLITE_CONSTRAINT_PRIMARYKEY, "UNIQUE");
      }
    }
    if( rc==SQLITE_OK ) rc = tabEncodeRecord(pTab, &argv[2], keyFlags, &pTab->old);
    if( rc==SQLITE_OK && bMove ) rc = tabBatchPut(pTab, &pTab->key2, 0);
    if( rc==SQLITE_OK ) rc = tabBatchPut(pTab, &pTab->key, &pTab->rec);
  }
  /* A row that an earlier change of this statement removed (a REPLACE)
  ** is no longer there to update, as in a native table. */
  return rc;
}

/*------------------------------------------------------------- functions --*/

/*
** lsm_allow_paths(X): with X true, CREATE VIRTUAL TABLE ... USING lsm(DIR)
** on this connection accepts an absolute DIR or one with "..".  Returns
** the previous setting.  NULL leaves the setting alone.  Direct use only
** (not from triggers or views).
*/
static void allowPathsFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  LsmvConn *pConn = (LsmvConn*)sqlite3_user_data(ctx);
  int bOld = pConn->bAllowPaths;
  (void)argc;
  if( sqlite3_value_type(argv[0])!=SQLITE_NULL ){
    pConn->bAllowPaths = sqlite3_value_int(argv[0])!=0;
  }
  sqlite3_result_int(ctx, bOld);
}

/*----------------------------------------------------------------- module --*/

static sqlite3_module lsmvModule = {
#if SQLITE_VERSION_NUMBER >= 3044000
  /* iVersion    */ 4,
#else
  /* iVersion    */ 3,
#endif
  /* xCreate     */ lsmvCreate,
  /* xConnect    */ lsmvConnect,
  /* xBestIndex  */ lsmvBestIndex,
  /* xDisconnect */ lsmvDisconnect,
  /* xDestroy    */ lsmvDestroy,
  /* xOpen       */ lsmvCursorOpen,
  /* xClose      */ lsmvCursorClose,
  /* xFilter     */ lsmvCursorFilter,
  /* xNext       */ lsmvCursorNext,
  /* xEof        */ lsmvCursorEof,
  /* xColumn     */ lsmvCursorColumn,
  /* xRowid      */ lsmvCursorRowid,
  /* xUpdate     */ lsmvUpdate,
  /* xBegin      */ lsmvBegin,
  /* xSync       */ lsmvSync,
  /* xCommit     */ lsmvCommit,
  /* xRollback   */ lsmvRollback,
  /* xFindFunction */ 0,
  /* xRename     */ lsmvRename,
  /* xSavepoint  */ lsmvSavepoint,
  /* xRelease    */ lsmvRelease,
  /* xRollbackTo */ lsmvRollbackTo,
  /* xShadowName */ lsmvShadowName,
#if SQLITE_VERSION_NUMBER >= 3044000
  /* xIntegrity  */ lsmvIntegrity
#endif
};

/*
** Entry point.  Registers modules "lsm" and "lsmvtab_pending", function
** lsm_allow_paths() and the functions of sqlfuncs.h on db.  A loadable build returns SQLITE_OK_LOAD_PERMANENTLY: the engine
** runs background threads, so the library must never be unloaded.
*/
#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_lsmvtab_init(sqlite3 *db, char **pzErrMsg,
                         const sqlite3_api_routines *pApi){
  LsmvConn *pConn;
  int rc;
#ifndef SQLITE_CORE
  /* Every connection loads the extension again, perhaps while other
  ** threads run it: store the (same) pointer only the first time, so
  ** that loads never write what running code reads. */
  if( sqlite3_api!=pApi ){
    SQLITE_EXTENSION_INIT2(pApi);
  }
#else
  SQLITE_EXTENSION_INIT2(pApi);
#endif
  if( sqlite3_libversion_number()<LSMV_MIN_SQLITE ){
    if( pzErrMsg ){
      *pzErrMsg = sqlite3_mprintf("lsmvtab needs SQLite %d.%d.%d or newer; "
          "this process runs %s", LSMV_MIN_SQLITE/1000000,
          LSMV_MIN_SQLITE/1000%1000, LSMV_MIN_SQLITE%1000, sqlite3_libversion());
    }
    return SQLITE_ERROR;
  }
  pConn = sqlite3_malloc64(sizeof(*pConn));
  if( pConn==0 ) return SQLITE_NOMEM;
  memset(pConn, 0, sizeof(*pConn));
  pConn->nRef = 2;
  rc = sqlite3_create_module_v2(db, "lsm", &lsmvModule, pConn, connRelease);
  if( rc==SQLITE_OK ) rc = lsmvPendingRegister(db);
  if( rc==SQLITE_OK ){
    rc = sqlite3_create_function_v2(db, "lsm_allow_paths", 1,
        SQLITE_UTF8|SQLITE_DIRECTONLY, pConn, allowPathsFunc, 0, 0, connRelease);
  }else{
    /* SQLite released the module's reference; drop the function's */
    connRelease(pConn);
  }
  if( rc==SQLITE_OK ) rc = lsmvtabRegisterFunctions(db);
  if( rc!=SQLITE_OK ) return rc;
#ifdef SQLITE_CORE
  return SQLITE_OK;
#else
  return SQLITE_OK_LOAD_PERMANENTLY;
#endif
}
