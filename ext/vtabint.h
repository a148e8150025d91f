/*
** vtabint.h -- internal interfaces of the lsm virtual table module.
**
** The module is split by concern:
**
**   lsmvtab.c    entry point, module methods for the table's lifecycle,
**                transactions and savepoints, xUpdate, error mapping
**   vtabconfig.c parsing of CREATE VIRTUAL TABLE arguments and path rules
**   registry.c   the process-wide registry of open engines (one lsm_db per
**                data directory, shared by every connection), the OWNER
**                file that ties a directory to one table, and the
**                resolution of transactions left in doubt by a crash
**   vtabtxn.c    the shadow table that records commits in the database,
**                and the "lsmvtab_pending" module that carries work to be
**                done when a transaction that created or dropped a table
**                ends
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
** xBegin until the commit.  Reads inside a transaction see the batch laid
** over one snapshot taken at the transaction's first read.  Reads outside
** one (SQLite calls xBegin only for statements that write the table)
** share a statement snapshot among the cursors open at the same time.
** Snapshots are reference counted (LsmvSnap) because a cursor may outlive
** the transaction that gave it.
**
** Atomic commit with the database.  Each table has a shadow table
** NAME_lsmtx in its own database holding one row (id=1, txn, owner).
** The first write of a transaction allocates a transaction number T
** (larger than every number used before: lsmvSharedTxnNext) and runs
** "UPDATE NAME_lsmtx SET txn=T" on the same connection, so the database's
** own commit records T atomically with everything else in the
** transaction.  Then:
**
**   xSync      lsm_prepare(batch, T): the batch is in the log, durable
**              under the table's sync mode, applied nowhere.  All
**              fallible work happens here (SQLite ignores xCommit's code).
**   (SQLite commits the database file: the decision point)
**   xCommit    lsm_commit_prepared(T)
**   xRollback  lsm_rollback_prepared(T), if prepared
**
** After a crash, the registry's first open of the directory finds the
** prepared but unresolved numbers (lsm_prepared) and commits each T with
** T <= the shadow table's txn, as read through a private connection
** (a fresh view of the database file), and rolls back the others.  The
** numbers grow in the order the database commits them because every
** writer of the table holds the database's write lock from its first
** write until its commit ends; a writer that takes its snapshot waits
** for transactions that other connections prepared and have not yet
** applied (lsmvSharedWait), which can only be ones whose database commit
** is already done, so it never misses a committed row.  Savepoints that
** roll back past the shadow write (iShadowDepth) forget it, as the
** database forgets the UPDATE.
**
** Inline commits.  With sync=full or normal, a transaction whose batch
** is at most inline_commit bytes (a table option) and whose table lives
** in a database file is not synced in the engine's log at all: xSync
** writes the batch to the redo table NAME_lsmredo (row txn=T), in the
** same database transaction as the shadow row, and prepares it with
** lsm_prepare_unsynced.  The database's commit then carries the batch,
** so a commit costs the database's sync alone.  xSync also deletes the
** rows the engine's log already holds durably (txn <= lsm_txn_durable:
** the log is synced by every memtable switch and every synced prepare),
** which bounds the redo table by about a memtable of data.  After a
** crash that lost the log's unsynced tail, the first open replays, in
** order, the redo rows with lsm_txn_last < txn <= the shadow's txn: the
** engine's log is a prefix of the commit order, so those are exactly the
** committed transactions it lost.
**
** A table of a temp or in-memory database follows the same protocol; its
** database does not survive a crash, so a transaction in doubt there is
** committed (it got past xSync: SQLite had decided to commit).
**
** Ownership of a directory.  The OWNER file in the data directory names
** the table it belongs to: a random token (also in the shadow table), the
** kind (file or memory) and, for messages, the table and database names.
** Opening a directory as another table is an error that names the owner.
** In the process, the LsmvShared also remembers the owner's database
** (device and inode of the file, or the connection of an in-memory one).
**
** CREATE and DROP inside transactions.  SQLite calls xCreate and
** xDestroy at once, and after xDestroy no transaction method of the table
** is called.  Both therefore register a deferred action with the
** eponymous table lsmvtab_pending, by a nested INSERT, which makes it a
** participant of the transaction with its own xCommit, xRollback and
** savepoint methods: a DROP removes the files only when it commits; a
** CREATE that rolls back removes the directory it made.
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

/* The default of option inline_commit: a batch this small costs less to
** write into the database than a sync of the engine's log. */
#define LSMV_INLINE_DEFAULT  (32*1024)

/* The parsed arguments of CREATE VIRTUAL TABLE ... USING lsm(...). */
struct LsmvConfig {
  char *zPath;              /* data directory, resolved (owned) */
  lsm_options opts;         /* engine options */
  int nCol;                 /* columns, key first */
  char **azCol;             /* column names */
  char *aAff;               /* column affinities (LSMV_AFF_*) */
  char *zDecl;              /* statement for sqlite3_declare_vtab */
  size_t nInline;           /* inline_commit: largest batch carried by the
                            ** database's commit (0: never) */
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

/* Who opens a data directory: one table of one database. */
typedef struct LsmvOwner LsmvOwner;
struct LsmvOwner {
  sqlite3 *db;              /* the opening connection */
  const char *zSchema;      /* the table's schema: "main", "temp", ... */
  const char *zTable;       /* the table's name */
  const char *zDbFile;      /* full path of the database file; NULL for a
                            ** temp or in-memory database */
  const char *zVfs;         /* the database's VFS (with zDbFile) */
  const char *zToken;       /* the table's token (its shadow table's) */
};

#define LSMV_OPEN_CONNECT  0  /* a table that exists (xConnect) */
#define LSMV_OPEN_CREATE   1  /* CREATE VIRTUAL TABLE */
#define LSMV_OPEN_REPLACE  2  /* CREATE over the files of a table of the
                              ** same database whose DROP committed but
                              ** whose files a crash left behind */

/*
** Find or open the engine of directory zPath for pOwner.  For
** LSMV_OPEN_CREATE and _REPLACE the directory is created if missing and
** must not belong to another table (OWNER file); for _CONNECT it must
** belong to pOwner's table, and is created if missing unless the engine
** is to be read-only.  The first open in the process resolves the
** transactions a crash left in doubt.  On success *ppShared holds one new
** reference.  On error returns an SQLite code and *pzErr
** (sqlite3_mprintf) says why.
*/
int lsmvSharedOpenTable(const char *zPath, const lsm_options *pOpts,
                        const LsmvOwner *pOwner, int eOpen,
                        LsmvShared **ppShared, char **pzErr);
/*
** For the SQL functions: a new reference to the engine of directory zPath
** that a connected table has open in this process.  pOpts and bCreate
** are those of the function's request; only a read-only request
** (pOpts->read_only, !bCreate) is served, and it shares the engine as it
** is.  SQLITE_ERROR with *pzErr set if no table has the directory open.
*/
int lsmvSharedOpen(const char *zPath, const lsm_options *pOpts, int bCreate,
                   LsmvShared **ppShared, char **pzErr);
lsm_db *lsmvSharedDb(LsmvShared *p);
const char *lsmvSharedPath(LsmvShared *p);
void lsmvSharedRef(LsmvShared *p);          /* one more reference */
/*
** Drop one reference.  The last one closes the engine, and removes the
** directory's files if a DROP committed or a CREATE rolled back.
** Returns SQLITE_OK or the error of closing or removing, with *pzErr set.
*/
int lsmvSharedRelease(LsmvShared *p, char **pzErr);

/*
** True if directory zPath holds the files of a table of database zDbFile
** whose DROP was under way when the process stopped (its OWNER file and a
** DROPPING marker); *pzToken is then that table's token (sqlite3_malloc).
*/
int lsmvOwnerDropping(const char *zPath, const char *zDbFile, char **pzToken);

/*
** The end of the transaction that created the table of p (bCommit: it
** committed; otherwise the directory is removed at the last release if
** the CREATE made it, and the previous OWNER file is restored if not).
*/
void lsmvSharedCreateEnd(LsmvShared *p, int bCommit);
/* A DROP: mark the directory (DROPPING file) until its transaction ends;
** then remove the files at the last release, or unmark. */
int lsmvSharedDropBegin(LsmvShared *p, char **pzErr);
void lsmvSharedDropEnd(LsmvShared *p, int bCommit);

/* A new transaction number: larger than iFloor and than every number
** the engine has used. */
uint64_t lsmvSharedTxnNext(LsmvShared *p, uint64_t iFloor);

/* A prepared transaction of connection db, listed in its LsmvShared from
** xSync until it commits or rolls back. */
typedef struct LsmvPrep LsmvPrep;
struct LsmvPrep {
  sqlite3 *db;
  LsmvPrep *pNext;
};
void lsmvSharedPrepared(LsmvShared *p, LsmvPrep *pPrep, int bAdd);
/*
** Wait until no connection but db has a prepared transaction listed.
** Called by a writer (which holds the database's write lock) before it
** takes its snapshot.  SQLITE_OK, or SQLITE_BUSY with *pzErr set if that
** takes unreasonably long.
*/
int lsmvSharedWait(LsmvShared *p, sqlite3 *db, char **pzErr);

/* True if directory zPath is on a file system mounted read-only. */
int lsmvDirOnReadOnlyFs(const char *zPath);

/*-------------------------------------------------------------- vtabtxn --*/

#define LSMV_SHADOW_SUFFIX "lsmtx"    /* shadow table NAME_lsmtx */
#define LSMV_REDO_SUFFIX   "lsmredo"  /* redo table NAME_lsmredo */

/* Create, drop, rename the shadow table of table zTable in zSchema.  Each
** returns an SQLite code, with *pzErr set on error. */
int lsmvShadowCreate(sqlite3 *db, const char *zSchema, const char *zTable,
                     const char *zToken, char **pzErr);
int lsmvShadowDrop(sqlite3 *db, const char *zSchema, const char *zTable,
                   char **pzErr);
int lsmvShadowRename(sqlite3 *db, const char *zSchema, const char *zOld,
                     const char *zNew, char **pzErr);
/* The token in the shadow table (*pzToken from sqlite3_malloc). */
int lsmvShadowToken(sqlite3 *db, const char *zSchema, const char *zTable,
                    char **pzToken, char **pzErr);
/* Whether some lsm table of schema zSchema has token zToken. */
int lsmvShadowHasToken(sqlite3 *db, const char *zSchema, const char *zToken,
                       int *pbFound, char **pzErr);
/*
** Recovery reads pOwner's database through a new private connection
** (*pdb) to pOwner->zDbFile, so that no transaction of pOwner->db hides a
** commit.  lsmvShadowCommitted reads the last transaction number the
** database committed.  lsmvShadowReplay commits to pDb, in order, the
** redo rows of transactions the engine lost (lsm_txn_last(pDb) < txn <=
** iCommitted), then flushes; *pnRow says how many.  With bReadOnly any
** such row is an error (SQLITE_BUSY).
*/
int lsmvShadowOpenPrivate(const LsmvOwner *pOwner, int bReadOnly,
                          sqlite3 **pdb, char **pzErr);
int lsmvShadowCommitted(sqlite3 *dbPriv, const LsmvOwner *pOwner,
                        uint64_t *piTxn, char **pzErr);
int lsmvShadowReplay(sqlite3 *dbPriv, const LsmvOwner *pOwner, lsm_db *pDb,
                     uint64_t iCommitted, int bReadOnly, int *pnRow,
                     char **pzErr);

/*
** Deferred actions.  lsmvDefer makes the lsmvtab_pending table of db a
** participant of the current transaction and hands it an action on
** pShared, which it resolves when the transaction (or the savepoint
** around the action) ends: LSMV_DEFER_CREATE calls lsmvSharedCreateEnd,
** LSMV_DEFER_DROP lsmvSharedDropEnd.  On success the action owns one
** reference to pShared, taken here.
*/
#define LSMV_DEFER_CREATE  1
#define LSMV_DEFER_DROP    2
int lsmvPendingRegister(sqlite3 *db);
int lsmvDefer(sqlite3 *db, int eType, LsmvShared *pShared, char **pzErr);

/*------------------------------------------------------------ test hooks --*/

/*
** Test programs compile the sources with LSMV_TEST_HOOKS and define
** lsmvTestPoint, called at each step of a commit, and lsmvTestEnv, the
** environment every engine is opened with (NULL: the default).
*/
#define LSMV_POINT_SYNC         1   /* xSync, before lsm_prepare */
#define LSMV_POINT_PREPARED     2   /* xSync, after lsm_prepare */
#define LSMV_POINT_COMMIT       3   /* xCommit: the database committed */
#define LSMV_POINT_COMMITTED    4   /* xCommit, after lsm_commit_prepared */
#ifdef LSMV_TEST_HOOKS
void lsmvTestPoint(int iPoint);
extern lsm_env *lsmvTestEnv;
# define LSMV_TEST_POINT(x) lsmvTestPoint(x)
#else
# define LSMV_TEST_POINT(x)
#endif

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
  char *zName;              /* table name */
  char *zSchema;            /* its schema ("main", "temp", an ATTACH name) */
  LsmvConfig *pCfg;
  LsmvShared *pShared;
  lsm_db *pDb;

  /* transaction state */
  int bInTrans;             /* between xBegin and xCommit/xRollback */
  lsm_batch *pBatch;        /* indexed batch of the transaction's writes */
  LsmvSnap *pTxnSnap;       /* snapshot of the transaction, once read */
  size_t *aMark;            /* aMark[i]: batch mark at savepoint i */
  size_t iMarkEmpty;        /* the mark of the empty batch */
  int nMark;                /* savepoints open */
  int nMarkAlloc;

  /* atomic commit (vtabint.h essay) */
  uint64_t iTxn;            /* the transaction number */
  int bShadow;              /* iTxn is written in the shadow table */
  int iShadowDepth;         /* nMark when it was written */
  int bPrepared;            /* lsm_prepare(iTxn) done, not yet resolved */
  LsmvPrep prep;            /* listed in pShared while bPrepared */
  sqlite3_stmt *pTxnRead;   /* SELECT txn FROM shadow */
  sqlite3_stmt *pTxnWrite;  /* UPDATE shadow SET txn=? */
  int bFileDb;              /* its database is a file (inline commits) */
  int bReadOnlyFs;          /* its directory is on a read-only file system */
  int bRedo;                /* iTxn has a row in the redo table */
  sqlite3_stmt *pRedoWrite; /* INSERT INTO redo */
  sqlite3_stmt *pRedoDelete;/* DELETE FROM redo WHERE txn BETWEEN ? AND ? */
  uint64_t iRedoPruned;     /* redo rows up to this were last deleted */

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

/*
** Give the transaction a new number (lsmvSharedTxnNext over the shadow
** table's txn) and write it to the shadow table; sets iTxn, bShadow and
** iShadowDepth.  SQLITE_OK or an error in pTab->base.zErrMsg.
*/
int lsmvTabShadowWrite(LsmvTab *pTab);
/* Write the transaction's batch to the redo table as row pTab->iTxn, and
** delete the rows the engine holds durably; forget that row again.  Each
** returns an SQLite code, with the message in pTab->base.zErrMsg. */
int lsmvTabRedoWrite(LsmvTab *pTab);
int lsmvTabRedoForget(LsmvTab *pTab);
/* Finalize the statements lsmvTabShadowWrite keeps. */
void lsmvTabShadowClose(LsmvTab *pTab);

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
