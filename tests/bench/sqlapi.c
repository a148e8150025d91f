/*
** sqlapi.c -- benchmark engines behind SQL: the `lsm` virtual table
** (lsmvtab.so, loaded with sqlite3_load_extension) and a native SQLite
** WITHOUT ROWID table of the same declaration.  See bench.h for the
** interface.
**
** A database is a directory holding bench.db (journal_mode=WAL) with one
** table t:
**
**   sql-lsm     CREATE VIRTUAL TABLE t USING lsm(data, sync=off|full,
**                                                key BLOB, value BLOB)
**   sql-native  CREATE TABLE t(key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID
**
** Keys are bound as BLOBs: the same bytes the C APIs store.  (Bound as
** TEXT, the driver's all-digit keys would make the lsm table scan every
** TEXT key that reads as a number on each lookup, since it cannot know
** how SQLite converts a parameter; see README.md, "Queries".)
**
** Every connection runs PRAGMA synchronous=OFF, or FULL for fillsync, and
** the native table's connections PRAGMA cache_size=-8192, so that its page
** cache holds as much as the block cache of every other engine (8 MiB)
** rather than SQLite's default 2 MiB.
**
** Statements, all prepared once per connection:
**   write   INSERT OR REPLACE INTO t(key, value) VALUES(?1, ?2)
**           DELETE FROM t WHERE key=?1
**           a batch of more than one runs between BEGIN and COMMIT; a
**           batch of one is its own autocommit statement
**   get     SELECT value FROM t WHERE key=?1
**   seek    SELECT key, value FROM t WHERE key>=?1 ORDER BY key LIMIT N
**           (N the literal limit, 10 for seekrandom)
**   scan    SELECT key, value FROM t ORDER BY key
**
** Each BenchConn is its own sqlite3 connection, so threads of fillsync
** commit through separate connections.  A busy timeout of 60 s lets the
** native table's writers queue on its write lock instead of failing.
*/
#include "bench.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *benchExtPath = "./lsmvtab.so";

typedef struct SqlBenchDb {
  int bLsm;                     /* 1: the lsm table, 0: the native table */
  int bSync;
  char zPath[4096];             /* the database file */
  sqlite3 *db;                  /* the connection that created t */
} SqlBenchDb;

typedef struct SqlBenchConn {
  sqlite3 *db;
  sqlite3_stmt *pPut, *pDel, *pGet, *pScan, *pBegin, *pCommit;
  sqlite3_stmt *pSeek;          /* prepared for nSeekLimit rows */
  int nSeekLimit;
} SqlBenchConn;

/* Die with db's message for what failed. */
static void sqlbDie(sqlite3 *db, const char *zWhat){
  benchDie("%s: %s", zWhat, db ? sqlite3_errmsg(db) : "no connection");
}

static void sqlbExec(sqlite3 *db, const char *zSql){
  char *zErr = 0;
  if( sqlite3_exec(db, zSql, 0, 0, &zErr)!=SQLITE_OK ){
    benchDie("%s: %s", zSql, zErr ? zErr : "?");
  }
}

static sqlite3_stmt *sqlbPrepare(sqlite3 *db, const char *zSql){
  sqlite3_stmt *pStmt = 0;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)!=SQLITE_OK ){
    sqlbDie(db, zSql);
  }
  return pStmt;
}

/* Run a statement that returns no rows, then reset it. */
static void sqlbStepDone(sqlite3 *db, sqlite3_stmt *pStmt){
  if( sqlite3_step(pStmt)!=SQLITE_DONE ) sqlbDie(db, sqlite3_sql(pStmt));
  sqlite3_reset(pStmt);
}

/* A new connection to p's database file, configured as the file header
** says; the lsm table's connections load the extension. */
static sqlite3 *sqlbOpenConnection(SqlBenchDb *p){
  sqlite3 *db = 0;
  if( sqlite3_open_v2(p->zPath, &db,
                      SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE, 0)!=SQLITE_OK ){
    sqlbDie(db, p->zPath);
  }
  if( p->bLsm ){
    char *zErr = 0;
    sqlite3_enable_load_extension(db, 1);
    if( sqlite3_load_extension(db, benchExtPath, 0, &zErr)!=SQLITE_OK ){
      benchDie("loading %s: %s", benchExtPath, zErr ? zErr : "?");
    }
  }
  sqlite3_busy_timeout(db, 60000);
  sqlbExec(db, "PRAGMA journal_mode=WAL");
  sqlbExec(db, p->bSync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF");
  if( !p->bLsm ) sqlbExec(db, "PRAGMA cache_size=-8192");
  return db;
}

static BenchDb *sqlbOpenWith(const char *zDir, int bSync, int bLsm){
  SqlBenchDb *p = calloc(1, sizeof(*p));
  if( p==0 ) benchDie("out of memory");
  if( mkdir(zDir, 0755)!=0 ) benchDie("cannot create %s", zDir);
  p->bLsm = bLsm;
  p->bSync = bSync;
  snprintf(p->zPath, sizeof(p->zPath), "%s/bench.db", zDir);
  p->db = sqlbOpenConnection(p);
  if( bLsm ){
    sqlbExec(p->db, bSync
        ? "CREATE VIRTUAL TABLE t USING lsm(data, sync=full, key BLOB, value BLOB)"
        : "CREATE VIRTUAL TABLE t USING lsm(data, sync=off, key BLOB, value BLOB)");
  }else{
    sqlbExec(p->db,
        "CREATE TABLE t(key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID");
  }
  return (BenchDb*)p;
}
static BenchDb *sqlbOpenLsm(const char *zDir, int bSync){
  return sqlbOpenWith(zDir, bSync, 1);
}
static BenchDb *sqlbOpenNative(const char *zDir, int bSync){
  return sqlbOpenWith(zDir, bSync, 0);
}

static void sqlbClose(BenchDb *pDb){
  SqlBenchDb *p = (SqlBenchDb*)pDb;
  if( sqlite3_close(p->db)!=SQLITE_OK ) sqlbDie(p->db, "close");
  free(p);
}

static BenchConn *sqlbConnect(BenchDb *pDb){
  SqlBenchConn *c = calloc(1, sizeof(*c));
  if( c==0 ) benchDie("out of memory");
  c->db = sqlbOpenConnection((SqlBenchDb*)pDb);
  c->pPut = sqlbPrepare(c->db,
      "INSERT OR REPLACE INTO t(key, value) VALUES(?1, ?2)");
  c->pDel = sqlbPrepare(c->db, "DELETE FROM t WHERE key=?1");
  c->pGet = sqlbPrepare(c->db, "SELECT value FROM t WHERE key=?1");
  c->pScan = sqlbPrepare(c->db, "SELECT key, value FROM t ORDER BY key");
  c->pBegin = sqlbPrepare(c->db, "BEGIN");
  c->pCommit = sqlbPrepare(c->db, "COMMIT");
  return (BenchConn*)c;
}

static void sqlbDisconnect(BenchConn *pConn){
  SqlBenchConn *c = (SqlBenchConn*)pConn;
  sqlite3_finalize(c->pPut);
  sqlite3_finalize(c->pDel);
  sqlite3_finalize(c->pGet);
  sqlite3_finalize(c->pScan);
  sqlite3_finalize(c->pSeek);
  sqlite3_finalize(c->pBegin);
  sqlite3_finalize(c->pCommit);
  if( sqlite3_close(c->db)!=SQLITE_OK ) sqlbDie(c->db, "close");
  free(c);
}

static void sqlbWrite(BenchConn *pConn, const BenchBatch *b){
  SqlBenchConn *c = (SqlBenchConn*)pConn;
  int i;
  sqlite3_reset(c->pGet);             /* end the last read's statement */
  if( b->nOp>1 ) sqlbStepDone(c->db, c->pBegin);
  for(i=0; i<b->nOp; i++){
    const char *pKey = b->aKey + (size_t)i*b->nKey;
    if( b->abDel[i] ){
      sqlite3_bind_blob(c->pDel, 1, pKey, b->nKey, SQLITE_STATIC);
      sqlbStepDone(c->db, c->pDel);
    }else{
      sqlite3_bind_blob(c->pPut, 1, pKey, b->nKey, SQLITE_STATIC);
      sqlite3_bind_blob(c->pPut, 2, b->aVal + (size_t)i*b->nVal,
                        (int)b->nVal, SQLITE_STATIC);
      sqlbStepDone(c->db, c->pPut);
    }
  }
  if( b->nOp>1 ) sqlbStepDone(c->db, c->pCommit);
}

/* The value stays valid until the statement is reset by the next call. */
static int sqlbGet(BenchConn *pConn, const char *pKey, int nKey,
                   const void **ppVal, size_t *pnVal){
  SqlBenchConn *c = (SqlBenchConn*)pConn;
  int rc;
  sqlite3_reset(c->pGet);
  sqlite3_bind_blob(c->pGet, 1, pKey, nKey, SQLITE_STATIC);
  rc = sqlite3_step(c->pGet);
  if( rc==SQLITE_DONE ) return 0;
  if( rc!=SQLITE_ROW ) sqlbDie(c->db, "SELECT value FROM t WHERE key=?1");
  *ppVal = sqlite3_column_blob(c->pGet, 0);
  *pnVal = (size_t)sqlite3_column_bytes(c->pGet, 0);
  return 1;
}

static uint64_t sqlbScan(BenchConn *pConn, const char *pStart, int nStart,
                         int nLimit, BenchRowFn xRow, void *pArg){
  SqlBenchConn *c = (SqlBenchConn*)pConn;
  sqlite3_stmt *pStmt = c->pScan;
  uint64_t n = 0;
  int rc;
  sqlite3_reset(c->pGet);
  if( pStart ){
    if( nLimit<0 ) benchDie("sql engines: a seek needs a limit");
    if( c->pSeek==0 || c->nSeekLimit!=nLimit ){
      char *zSql = sqlite3_mprintf(
          "SELECT key, value FROM t WHERE key>=?1 ORDER BY key LIMIT %d",
          nLimit);
      if( zSql==0 ) benchDie("out of memory");
      sqlite3_finalize(c->pSeek);
      c->pSeek = sqlbPrepare(c->db, zSql);
      c->nSeekLimit = nLimit;
      sqlite3_free(zSql);
    }
    pStmt = c->pSeek;
    sqlite3_bind_blob(pStmt, 1, pStart, nStart, SQLITE_STATIC);
  }
  while( (rc = sqlite3_step(pStmt))==SQLITE_ROW
      && (nLimit<0 || n<(uint64_t)nLimit) ){
    const void *pKey = sqlite3_column_blob(pStmt, 0);
    size_t nKey = (size_t)sqlite3_column_bytes(pStmt, 0);
    const void *pVal = sqlite3_column_blob(pStmt, 1);
    size_t nVal = (size_t)sqlite3_column_bytes(pStmt, 1);
    n++;
    if( xRow(pArg, pKey, nKey, pVal, nVal) ){
      rc = SQLITE_DONE;
      break;
    }
  }
  if( rc!=SQLITE_DONE && rc!=SQLITE_ROW ) sqlbDie(c->db, sqlite3_sql(pStmt));
  sqlite3_reset(pStmt);
  return n;
}

/* Bytes written by the lsm table's flushes and compactions, from the
** extension's lsm_stats() table-valued function; -1 for the native table
** (it has no compaction) or an extension without that function. */
static double sqlbWritten(BenchDb *pDb){
  SqlBenchDb *p = (SqlBenchDb*)pDb;
  sqlite3_stmt *pStmt = 0;
  double nBytes = -1.0;
  if( !p->bLsm ) return -1.0;
  if( sqlite3_prepare_v2(p->db, "SELECT sum(value) FROM lsm_stats('t') "
        "WHERE name IN ('flush_bytes', 'compaction_bytes')", -1, &pStmt,
        0)!=SQLITE_OK ){
    return -1.0;
  }
  if( sqlite3_step(pStmt)==SQLITE_ROW
   && sqlite3_column_type(pStmt, 0)!=SQLITE_NULL ){
    nBytes = sqlite3_column_double(pStmt, 0);
  }
  sqlite3_finalize(pStmt);
  return nBytes;
}

const BenchEngine benchSqlLsm = {
  "sql-lsm", "SQL, lsm virtual table (lsmvtab.so, table defaults; "
  "sync=off, sync=full for fillsync); main db journal_mode=WAL",
  sqlbOpenLsm, sqlbClose, sqlbConnect, sqlbDisconnect,
  sqlbWrite, sqlbGet, sqlbScan, sqlbWritten
};
const BenchEngine benchSqlNative = {
  "sql-native", "SQL, native WITHOUT ROWID table, journal_mode=WAL, "
  "synchronous=OFF (FULL for fillsync), cache_size=-8192 (8 MiB)",
  sqlbOpenNative, sqlbClose, sqlbConnect, sqlbDisconnect,
  sqlbWrite, sqlbGet, sqlbScan, sqlbWritten
};
