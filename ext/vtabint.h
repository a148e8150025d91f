/*
** vtabint.h -- internal interfaces of the lsm virtual table module.
**
** The module is split by concern:
**
**   lsmvtab.c    entry point, module methods for the table's lifecycle,
**                transactions and savepoints, xUpdate, error mapping
**   vtabconfig.c parsing of CREATE VIRTUAL TABLE arguments and path rules
**   registry.c   the process-wide registry of open engines (one lsm_db per
**                data directory, shared by every connection)
**   vtabplan.c   xBestIndex, and the key ranges a plan scans
**   vtabcursor.c cursors: xOpen, xFilter, xNext, xColumn, ...
**   keycodec.c   key and record encodings
**   affinity.c   column affinity
**
** Object lifetimes.  An LsmvConn lives as long as the connection that
** loaded the extension.  An LsmvTab is the sqlite3_vtab of one table in
** one connection (xConnect to xDisconnect); ATTACHing the same database
** twice gives two.  All LsmvTab objects of one data directory share one
** LsmvShared and so one lsm_db.  A cursor belongs to one LsmvTab.
**
** Transactions.  Writes go to pTab->pBatch, an indexed write batch, from
** xBegin until xSync applies it with lsm_write (the only place that
** writes to the engine); xCommit and xRollback reset.  Reads inside a
** transaction see the batch laid over one snapshot taken at the
** transaction's first read.  Reads outside one (SQLite calls xBegin only
** for statements that write the table) share a statement snapshot among
** the cursors open at the same time.  Snapshots are reference counted
** (LsmvSnap) because a cursor may outlive the transaction that gave it.
*/
#ifndef LSMV_VTABINT_H
#define LSMV_VTABINT_H

#include <sqlite3ext.h>
#include "lsm.h"
#include "keycodec.h"
#include "affinity.h"

#if SQLITE_VERSION_NUMBER < 3040000
# error "lsmvtab needs the headers of SQLite 3.40.0 or newer"
#endif
#define LSMV_MIN_SQLITE  3040000      /* checked again at run time */

typedef struct LsmvConn LsmvConn;
typedef struct LsmvConfig LsmvConfig;
typedef struct LsmvShared LsmvShared;
typedef struct LsmvSnap LsmvSnap;
typedef struct LsmvTab LsmvTab;
typedef struct LsmvCursor LsmvCursor;
typedef struct LsmvRange LsmvRange;
typedef struct LsmvRangeSet LsmvRangeSet;

/* Per-connection state, shared by the module and the SQL functions. */
struct LsmvConn {
  int nRef;                 /* module + functions holding it */
  int bAllowPaths;          /* absolute and ".." directories allowed */
};

/*------------------------------------------------------------ vtabconfig --*/

/* The parsed arguments of CREATE VIRTUAL TABLE ... USING lsm(...). */
struct LsmvConfig {
  char *zPath;              /* data directory, resolved (owned) */
  lsm_options opts;         /* engine options */
  int nCol;                 /* columns, key first */
  char **azCol;             /* column names */
  char *aAff;               /* column affinities (LSMV_AFF_*) */
  char *zDecl;              /* statement for sqlite3_declare_vtab */
};

/*
** Parse argv (as given to xCreate/xConnect) into a new LsmvConfig.  On
** error returns an SQLite code and sets *pzErr to a message from
** sqlite3_mprintf naming the bad argument.  Free with lsmvConfigFree.
*/
int lsmvConfigParse(sqlite3 *db, const LsmvConn *pConn, int argc,
                    const char *const *argv, LsmvConfig **ppCfg, char **pzErr);
void lsmvConfigFree(LsmvConfig *pCfg);

/*-------------------------------------------------------------- registry --*/

/*
** Find or open the engine of directory zPath (creating the directory if
** bCreate).  On success *ppShared holds one new reference.  On error
** returns an SQLite code and *pzErr (sqlite3_mprintf) says why.
*/
int lsmvSharedOpen(const char *zPath, const lsm_options *pOpts, int bCreate,
                   LsmvShared **ppShared, char **pzErr);
lsm_db *lsmvSharedDb(LsmvShared *p);
/*
** Drop one reference.  With bDrop, the directory's engine files are
** removed (and the directory, if then empty) once the last reference
** is gone.  Returns SQLITE_OK or the error of closing or removing, with
** *pzErr set.
*/
int lsmvSharedRelease(LsmvShared *p, int bDrop, char **pzErr);

/*---------------------------------------------------------------- tables --*/

/* A reference-counted read snapshot. */
struct LsmvSnap {
  lsm_snapshot *pSnap;
  lsm_db *pDb;
  int nRef;
};
void lsmvSnapUnref(LsmvSnap *p);

struct LsmvTab {
  sqlite3_vtab base;        /* must be first */
  sqlite3 *db;
  LsmvConn *pConn;
  char *zName;              /* table name, for messages */
  LsmvConfig *pCfg;
  LsmvShared *pShared;
  lsm_db *pDb;

  /* transaction state */
  int bInTrans;             /* between xBegin and xCommit/xRollback */
  lsm_batch *pBatch;        /* indexed batch of the transaction's writes */
  LsmvSnap *pTxnSnap;       /* snapshot of the transaction, once read */
  size_t *aMark;            /* aMark[i]: batch mark at savepoint i */
  int nMark;                /* savepoints open */
  int nMarkAlloc;

  /* statement snapshot shared by cursors open outside a transaction */
  LsmvSnap *pStmtSnap;
  int nCursor;              /* cursors open */

  LsmvBuf key;              /* scratch buffers of xUpdate */
  LsmvBuf key2;
  LsmvBuf rec;
  LsmvBuf old;              /* the old record of an UPDATE */
};

/*
** The snapshot a read should use now, with a new reference for the
** caller.  SQLITE_OK or an error (message left in pTab->base.zErrMsg).
*/
int lsmvTabSnapshot(LsmvTab *pTab, LsmvSnap **ppSnap);

/*
** Look key a[0..n-1] up as the transaction sees it (its batch over its
** snapshot).  On SQLITE_OK *pbFound says whether it exists; if it does
** and pVal is not NULL, its record is copied into pVal (replacing the
** contents).
*/
int lsmvTabLookup(LsmvTab *pTab, const unsigned char *a, size_t n,
                  int *pbFound, LsmvBuf *pVal);

/*
** Record an error from the engine: sets pTab->base.zErrMsg to
** "lsm table NAME: zWhat: <engine message>" and returns the SQLite code
** for rc.
*/
int lsmvTabEngineError(LsmvTab *pTab, int rc, const char *zWhat);
/* Set pTab->base.zErrMsg from a printf format; returns rc. */
int lsmvTabError(LsmvTab *pTab, int rc, const char *zFmt, ...);

/*------------------------------------------------------------- planning --*/

/* Bits of idxNum. */
#define LSMV_PLAN_DESC     0x01   /* visit keys in descending order */

/*
** idxStr holds two characters per xFilter argument: what the argument
** constrains (LSMV_OP_*) and how its value compares (LSMV_CMP_*).
*/
#define LSMV_OP_EQ    '='         /* key = v  (also key IS v) */
#define LSMV_OP_IN    'I'         /* key IN (list), all at once */
#define LSMV_OP_GT    '>'
#define LSMV_OP_GE    'g'
#define LSMV_OP_LT    '<'
#define LSMV_OP_LE    'l'
#define LSMV_OP_LIKE  'L'
#define LSMV_OP_GLOB  'G'

#define LSMV_CMP_AFF    'a'       /* give v the key's affinity; exact */
#define LSMV_CMP_ASIS   'r'       /* v arrives converted already; exact */
#define LSMV_CMP_LOOSE  'u'       /* unknown conversions: a superset */

int lsmvBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo);

/*
** A set of key ranges, sorted and disjoint.  Each range is lo <= k < hi
** over encoded keys; the bytes live in the set's arena, so that ranges
** can refer to them by offset while the arena grows.
*/
struct LsmvRange {
  size_t iLo, nLo;          /* lower bound (nLo==0: none) */
  size_t iHi, nHi;          /* upper bound, exclusive */
  int bHiNone;              /* no upper bound */
  int bPoint;               /* exactly one key: lo (hi is lo + 0x00) */
};
struct LsmvRangeSet {
  LsmvRange *a;
  int n;
  int nAlloc;
  LsmvBuf arena;
};
void lsmvRangeSetFree(LsmvRangeSet *p);

/*
** Build the ranges that xFilter's arguments allow.  SQLITE_OK or an
** error (message in pTab->base.zErrMsg).
*/
int lsmvPlanRanges(LsmvTab *pTab, const char *zOps, int argc,
                   sqlite3_value **argv, LsmvRangeSet *pOut);

/*--------------------------------------------------------------- cursors --*/

int lsmvCursorOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur);
int lsmvCursorClose(sqlite3_vtab_cursor *pCur);
int lsmvCursorFilter(sqlite3_vtab_cursor *pCur, int idxNum, const char *idxStr,
                     int argc, sqlite3_value **argv);
int lsmvCursorNext(sqlite3_vtab_cursor *pCur);
int lsmvCursorEof(sqlite3_vtab_cursor *pCur);
int lsmvCursorColumn(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx, int i);
int lsmvCursorRowid(sqlite3_vtab_cursor *pCur, sqlite3_int64 *piRowid);

#endif /* LSMV_VTABINT_H */
