/*
** sqlfuncs.c -- SQL functions to look inside lsm tables, steer them, back
** them up while they run and follow their changes.
**
**     SELECT * FROM lsm_levels('kv');          level, tables, bytes, budget, score
**     SELECT * FROM lsm_tables('kv');          one row per table file
**     SELECT * FROM lsm_stats('kv');           name, value
**     SELECT * FROM lsm_changes('kv', 1000);   seq, op, key, value
**     SELECT lsm_flush('kv'), lsm_compact('kv'), lsm_compact('kv', lo, hi),
**            lsm_check('kv'), lsm_backup('kv', 'kv-copy'), lsm_version();
**
** README.md ("SQL functions") describes each with an example.
**
** From a table name to its engine.  Every function names an lsm table of
** the connection by its name (optionally "schema.name"), not by a value
** of it, so there is no sqlite3_vtab to start from.  The function looks
** the name up in sqlite_schema (temp, main, then attached databases),
** checks that it is a CREATE VIRTUAL TABLE ... USING lsm(...), and
** prepares "SELECT 1 FROM the-table LIMIT 0".  That makes SQLite connect
** the table if it has not yet, under the connection's own path rules
** (vtabconfig.c), so that a function can reach no directory the table
** itself could not.  It then parses the table's arguments with the
** module's own parser (lsmvConfigParse) to find the directory, and takes
** a reference to the engine the table shares through the registry
** (registry.c), which finds it by the directory's identity.  The
** reference is requested read-only, which shares a read-write engine and
** never opens anything for writing; the engine of a connected table is
** always in the registry, so the functions see the very engine, with
** its memtables and statistics, that the table writes through.
**
** The table-valued functions are eponymous virtual tables with the table
** name (and for lsm_changes the sequence) as hidden argument columns.
** lsm_levels, lsm_tables and lsm_stats read everything at xFilter into
** rows of cells; lsm_changes streams from an lsm_changes feed, holding
** the engine reference until the cursor closes.  Keys print as the SQL
** values they encode (keycodec.h); a key that is not a valid encoding
** prints as a BLOB.
**
** Functions that write (lsm_flush, lsm_compact, lsm_backup) and
** lsm_check are SQLITE_DIRECTONLY, like the lsm table itself: a trigger
** or view of an untrusted database cannot call them.
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "vtabint.h"
#include "sqlfuncs.h"

SQLITE_EXTENSION_INIT3

/*----------------------------------------------------------- engine lookup --*/

/* An lsm table found by name, and a reference to its engine. */
typedef struct SfEngine {
  char *zSchema;              /* database holding the table */
  char *zTable;               /* its name as stored in the schema */
  LsmvConfig *pCfg;           /* its parsed arguments */
  LsmvShared *pShared;        /* a reference to its engine */
  lsm_db *pDb;
} SfEngine;

static void sfEngineClose(SfEngine *p){
  if( p->pShared ){
    char *zErr = 0;
    lsmvSharedRelease(p->pShared, &zErr);
    sqlite3_free(zErr);
  }
  lsmvConfigFree(p->pCfg);
  sqlite3_free(p->zSchema);
  sqlite3_free(p->zTable);
  memset(p, 0, sizeof(*p));
}

/* The SQLite code for engine code rc (NOTFOUND and INVALID mean nothing
** to an SQL caller). */
static int sfCode(int rc){
  return (rc==LSM_NOTFOUND || rc==LSM_INVALID) ? SQLITE_ERROR : rc;
}

/* Bytes of the space and comments at z. */
static size_t sfSpace(const char *z){
  size_t n = 0;
  for(;;){
    if( z[n]==' ' || z[n]=='\t' || z[n]=='\n' || z[n]=='\r' || z[n]=='\f' ){
      n++;
    }else if( z[n]=='-' && z[n+1]=='-' ){
      while( z[n] && z[n]!='\n' ) n++;
    }else if( z[n]=='/' && z[n+1]=='*' ){
      n += 2;
      while( z[n] && !(z[n]=='*' && z[n+1]=='/') ) n++;
      if( z[n] ) n += 2;
    }else{
      return n;
    }
  }
}

static int sfIsIdChar(int c){
  return (c>='a' && c<='z') || (c>='A' && c<='Z') || (c>='0' && c<='9')
      || c=='_' || c=='$' || c>=0x80;
}

/* Length of the SQL token at z: a name or number, a quoted string or
** name, or one other character.  0 at the end or in an unterminated
** quote. */
static size_t sfToken(const char *z){
  size_t n = 0;
  char q = z[0];
  if( q==0 ) return 0;
  if( sfIsIdChar((unsigned char)q) ){
    while( sfIsIdChar((unsigned char)z[n]) ) n++;
    return n;
  }
  if( q=='\'' || q=='"' || q=='`' || q=='[' ){
    char qEnd = q=='[' ? ']' : q;
    for(n=1; z[n]; n++){
      if( z[n]==qEnd ){
        if( qEnd!=']' && z[n+1]==qEnd ){ n++; continue; }
        return n+1;
      }
    }
    return 0;
  }
  return 1;
}

/* True if the token z[0..n-1] is the keyword zKw. */
static int sfIsWord(const char *z, size_t n, const char *zKw){
  return strlen(zKw)==n && sqlite3_strnicmp(z, zKw, (int)n)==0;
}

/* A copy of token z[0..n-1], unquoted.  NULL on OOM. */
static char *sfDequote(const char *z, size_t n){
  char *zOut = sqlite3_malloc64(n+1);
  size_t i, j = 0;
  char q = z[0];
  if( zOut==0 ) return 0;
  if( n>=2 && (q=='\'' || q=='"' || q=='`' || q=='[') ){
    char qEnd = q=='[' ? ']' : q;
    for(i=1; i<n-1; i++){
      zOut[j++] = z[i];
      if( z[i]==qEnd && qEnd!=']' ) i++;
    }
  }else{
    memcpy(zOut, z, n);
    j = n;
  }
  zOut[j] = 0;
  return zOut;
}

/*
** Split "CREATE VIRTUAL TABLE name USING module(arg, ...)" into the
** argv that SQLite gives xConnect: module, zSchema, zTable, args (each
** trimmed of space; commas inside parentheses or quotes do not split).
** On success *pazArg (sqlite3_malloc, one block) has *pnArg entries.
** SQLITE_ERROR if zSql has another shape or another module.
*/
static int sfSplitCreate(const char *zSql, const char *zSchema,
                         const char *zTable, char ***pazArg, int *pnArg){
  static const char *azKw[] = { "CREATE", "VIRTUAL", "TABLE" };
  const char *z = zSql;
  const char *zArgs = 0;
  char *zModule = 0;
  char **azArg = 0;
  int nArg = 3, i, rc = SQLITE_ERROR;
  size_t n;

  *pazArg = 0;
  *pnArg = 0;
  for(i=0; i<3; i++){
    z += sfSpace(z);
    n = sfToken(z);
    if( !sfIsWord(z, n, azKw[i]) ) return SQLITE_ERROR;
    z += n;
  }
  /* the name, possibly schema-qualified, up to USING */
  for(i=0; ; i++){
    z += sfSpace(z);
    n = sfToken(z);
    if( n==0 || i>8 ) return SQLITE_ERROR;
    if( i>0 && sfIsWord(z, n, "USING") ){
      z += n;
      break;
    }
    z += n;
  }
  z += sfSpace(z);
  n = sfToken(z);
  if( n==0 ) return SQLITE_ERROR;
  zModule = sfDequote(z, n);
  if( zModule==0 ) return SQLITE_NOMEM;
  if( sqlite3_stricmp(zModule, "lsm")!=0 ){
    sqlite3_free(zModule);
    return SQLITE_ERROR;
  }
  z += n;
  z += sfSpace(z);
  if( *z=='(' ){
    const char *zArg;
    int nDepth = 0;
    zArgs = ++z;
    /* count the arguments first */
    for(zArg=z+sfSpace(z); *zArg; zArg+=sfSpace(zArg)){
      size_t nTok = sfToken(zArg);
      if( nTok==0 ) break;
      if( *zArg=='(' ) nDepth++;
      if( *zArg==')' && nDepth--==0 ) break;
      if( *zArg==',' && nDepth==0 ) nArg++;
      zArg += nTok;
    }
    if( *zArg!=')' ){
      sqlite3_free(zModule);
      return SQLITE_ERROR;
    }
    if( zArg>zArgs + sfSpace(zArgs) ) nArg++;
  }

  /* one block: the pointers, then the strings */
  azArg = sqlite3_malloc64(sizeof(char*)*(size_t)nArg + strlen(zSql)
                           + strlen(zModule) + strlen(zSchema)
                           + strlen(zTable) + (size_t)nArg + 8);
  if( azArg ){
    char *zOut = (char*)&azArg[nArg];
    int iArg = 3;
    azArg[0] = zOut; zOut += sprintf(zOut, "%s", zModule) + 1;
    azArg[1] = zOut; zOut += sprintf(zOut, "%s", zSchema) + 1;
    azArg[2] = zOut; zOut += sprintf(zOut, "%s", zTable) + 1;
    if( zArgs && iArg<nArg ){
      const char *zStart = zArgs;
      int nDepth = 0;
      z = zArgs;
      for(;;){
        size_t nTok;
        z += sfSpace(z);
        nTok = sfToken(z);
        if( nTok==0 ) break;      /* cannot happen: the count pass ended at ')' */
        if( (*z==',' && nDepth==0) || (*z==')' && nDepth==0) ){
          const char *zEnd = z;
          zStart += sfSpace(zStart);
          while( zEnd>zStart && (zEnd[-1]==' ' || zEnd[-1]=='\t'
                 || zEnd[-1]=='\n' || zEnd[-1]=='\r') ) zEnd--;
          azArg[iArg++] = zOut;
          memcpy(zOut, zStart, (size_t)(zEnd - zStart));
          zOut += zEnd - zStart;
          *zOut++ = 0;
          if( *z==')' || iArg>=nArg ) break;
          zStart = z+1;
        }else if( *z=='(' ){
          nDepth++;
        }else if( *z==')' ){
          nDepth--;
        }
        z += nTok;
      }
    }
    *pazArg = azArg;
    *pnArg = iArg;
    rc = SQLITE_OK;
  }else{
    rc = SQLITE_NOMEM;
  }
  sqlite3_free(zModule);
  return rc;
}

/*
** Look for table zTable in database zSchema.  SQLITE_OK with *pzSql (and
** *pzName, the stored spelling) set if it exists, SQLITE_OK with *pzSql
** NULL if it does not, or an error.
*/
static int sfSchemaLookup(sqlite3 *db, const char *zSchema, const char *zTable,
                          char **pzName, char **pzSql){
  sqlite3_stmt *pStmt = 0;
  char *zQuery = sqlite3_mprintf("SELECT name, sql FROM \"%w\".sqlite_schema "
                                 "WHERE type='table' AND name=?1 COLLATE NOCASE",
                                 zSchema);
  int rc;
  *pzName = *pzSql = 0;
  if( zQuery==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(db, zQuery, -1, &pStmt, 0);
  sqlite3_free(zQuery);
  if( rc==SQLITE_OK ){
    sqlite3_bind_text(pStmt, 1, zTable, -1, SQLITE_STATIC);
    if( sqlite3_step(pStmt)==SQLITE_ROW ){
      *pzName = sqlite3_mprintf("%s", (const char*)sqlite3_column_text(pStmt, 0));
      *pzSql = sqlite3_mprintf("%s", (const char*)sqlite3_column_text(pStmt, 1));
      if( *pzName==0 || *pzSql==0 ){
        sqlite3_free(*pzName);
        sqlite3_free(*pzSql);
        *pzName = *pzSql = 0;
        rc = SQLITE_NOMEM;
      }
    }
    if( rc==SQLITE_OK ) rc = sqlite3_finalize(pStmt);
    else sqlite3_finalize(pStmt);
  }
  return rc;
}

/* The databases of db to search, temp and main first. */
static int sfSchemas(sqlite3 *db, char ***pazName, int *pnName){
  sqlite3_stmt *pStmt = 0;
  char **azName = 0;
  int nName = 0;
  int rc = sqlite3_prepare_v2(db, "SELECT name FROM pragma_database_list "
      "ORDER BY name<>'temp', name<>'main', seq", -1, &pStmt, 0);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    char **azNew = sqlite3_realloc64(azName, sizeof(char*)*(size_t)(nName+1));
    if( azNew==0 ){
      rc = SQLITE_NOMEM;
      break;
    }
    azName = azNew;
    azName[nName] = sqlite3_mprintf("%s", (const char*)sqlite3_column_text(pStmt, 0));
    if( azName[nName]==0 ) rc = SQLITE_NOMEM;
    else nName++;
  }
  if( pStmt ){
    int rc2 = sqlite3_finalize(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  if( rc!=SQLITE_OK ){
    int i;
    for(i=0; i<nName; i++) sqlite3_free(azName[i]);
    sqlite3_free(azName);
    azName = 0;
    nName = 0;
  }
  *pazName = azName;
  *pnName = nName;
  return rc;
}

/*
** Find lsm table zArg ("name" or "schema.name") of db and reference its
** engine into *p.  On error returns an SQLite code with *pzErr set
** (sqlite3_mprintf) unless it is SQLITE_NOMEM.
*/
static int sfEngineOpen(sqlite3 *db, const char *zArg, SfEngine *p,
                        char **pzErr){
  char **azSchema = 0;
  int nSchema = 0;
  char *zSql = 0;
  char **azArg = 0;
  int nArg = 0;
  int i, rc;

  memset(p, 0, sizeof(*p));
  *pzErr = 0;
  rc = sfSchemas(db, &azSchema, &nSchema);
  /* "schema.name" where schema is a database of db */
  for(i=0; rc==SQLITE_OK && zSql==0 && i<nSchema; i++){
    size_t n = strlen(azSchema[i]);
    if( sqlite3_strnicmp(zArg, azSchema[i], (int)n)==0 && zArg[n]=='.' ){
      rc = sfSchemaLookup(db, azSchema[i], &zArg[n+1], &p->zTable, &zSql);
      if( zSql ) p->zSchema = sqlite3_mprintf("%s", azSchema[i]);
    }
  }
  for(i=0; rc==SQLITE_OK && zSql==0 && i<nSchema; i++){
    rc = sfSchemaLookup(db, azSchema[i], zArg, &p->zTable, &zSql);
    if( zSql ) p->zSchema = sqlite3_mprintf("%s", azSchema[i]);
  }
  for(i=0; i<nSchema; i++) sqlite3_free(azSchema[i]);
  sqlite3_free(azSchema);
  if( rc==SQLITE_OK && zSql && p->zSchema==0 ) rc = SQLITE_NOMEM;
  if( rc==SQLITE_OK && zSql==0 ){
    *pzErr = sqlite3_mprintf("no such table: %s", zArg);
    rc = SQLITE_ERROR;
  }
  if( rc==SQLITE_OK ){
    rc = sfSplitCreate(zSql, p->zSchema, p->zTable, &azArg, &nArg);
    if( rc==SQLITE_ERROR ){
      *pzErr = sqlite3_mprintf("%s is not an lsm table", p->zTable);
    }
  }
  if( rc==SQLITE_OK ){
    /* Connect the table under the connection's own rules. */
    sqlite3_stmt *pStmt = 0;
    char *zConnect = sqlite3_mprintf("SELECT 1 FROM \"%w\".\"%w\" LIMIT 0",
                                     p->zSchema, p->zTable);
    if( zConnect==0 ){
      rc = SQLITE_NOMEM;
    }else{
      rc = sqlite3_prepare_v2(db, zConnect, -1, &pStmt, 0);
      if( rc!=SQLITE_OK && rc!=SQLITE_NOMEM ){
        *pzErr = sqlite3_mprintf("%s", sqlite3_errmsg(db));
      }
      sqlite3_finalize(pStmt);
      sqlite3_free(zConnect);
    }
  }
  if( rc==SQLITE_OK ){
    /* The table passed the path rules just now: parse it with them
    ** lifted, to find the directory it connected to. */
    LsmvConn conn;
    memset(&conn, 0, sizeof(conn));
    conn.nRef = 1;
    conn.bAllowPaths = 1;
    rc = lsmvConfigParse(db, &conn, nArg, (const char*const*)azArg,
                         &p->pCfg, pzErr);
  }
  if( rc==SQLITE_OK ){
    lsm_options opts = p->pCfg->opts;
    opts.read_only = 1;
    opts.create_if_missing = 0;
    rc = lsmvSharedOpen(p->pCfg->zPath, &opts, 0, &p->pShared, pzErr);
    if( rc==SQLITE_OK ) p->pDb = lsmvSharedDb(p->pShared);
  }
  sqlite3_free(azArg);
  sqlite3_free(zSql);
  if( rc!=SQLITE_OK ) sfEngineClose(p);
  return rc;
}

/*
** Report error rc of function zFunc on table zTable through ctx, with
** message zErr (taken: freed here) or, if NULL, the engine's.
*/
static void sfResultError(sqlite3_context *ctx, const char *zFunc,
                          const char *zTable, int rc, char *zErr,
                          lsm_db *pDb){
  char *zMsg;
  if( rc==SQLITE_NOMEM ){
    sqlite3_free(zErr);
    sqlite3_result_error_nomem(ctx);
    return;
  }
  zMsg = sqlite3_mprintf("%s(%s): %s", zFunc, zTable ? zTable : "",
                         zErr ? zErr : pDb ? lsm_errmsg(pDb) : sqlite3_errstr(rc));
  sqlite3_result_error(ctx, zMsg ? zMsg : "out of memory", -1);
  sqlite3_result_error_code(ctx, rc);
  sqlite3_free(zMsg);
  sqlite3_free(zErr);
}

/* Open the engine named by argv[0] for scalar function zFunc.  On error
** the result of ctx is set and an error code returned. */
static int sfScalarEngine(sqlite3_context *ctx, const char *zFunc,
                          sqlite3_value *pName, SfEngine *p){
  const char *zName = (const char*)sqlite3_value_text(pName);
  char *zErr = 0;
  int rc;
  if( zName==0 ){
    sfResultError(ctx, zFunc, "", SQLITE_ERROR,
                  sqlite3_mprintf("the first argument must name an lsm table"), 0);
    return SQLITE_ERROR;
  }
  rc = sfEngineOpen(sqlite3_context_db_handle(ctx), zName, p, &zErr);
  if( rc!=SQLITE_OK ) sfResultError(ctx, zFunc, zName, rc, zErr, 0);
  return rc;
}

/*-------------------------------------------------------- scalar functions --*/

/* lsm_flush(T): write the memtables to tables; returns 'ok'. */
static void sfFlushFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  SfEngine eng;
  int rc;
  (void)argc;
  if( sfScalarEngine(ctx, "lsm_flush", argv[0], &eng)!=SQLITE_OK ) return;
  rc = lsm_flush(eng.pDb);
  if( rc==LSM_OK ){
    sqlite3_result_text(ctx, "ok", -1, SQLITE_STATIC);
  }else{
    sfResultError(ctx, "lsm_flush", eng.zTable, sfCode(rc), 0, eng.pDb);
  }
  sfEngineClose(&eng);
}

/*
** Encode key bound pIn (with the table's key affinity) into pOut; a NULL
** bound sets *pbNone.  SQLITE_OK or an error.
*/
static int sfEncodeBound(const SfEngine *p, sqlite3_value *pIn, LsmvBuf *pOut,
                         int *pbNone){
  sqlite3_value *pTmp = 0;
  LsmvValue v;
  unsigned flags = 0;
  int rc;
  *pbNone = sqlite3_value_type(pIn)==SQLITE_NULL;
  if( *pbNone ) return SQLITE_OK;
  rc = lsmvAffinityApply(p->pCfg->aAff[0], pIn, &v, &pTmp);
  if( rc==SQLITE_OK ) rc = lsmvKeyEncode(&v, pOut, &flags);
  sqlite3_value_free(pTmp);
  return rc;
}

/* lsm_compact(T [, lo, hi]): merge every table holding keys in [lo, hi]
** (NULL: open) down to the last level; returns 'ok'. */
static void sfCompactFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  SfEngine eng;
  LsmvBuf lo, hi;
  int bNoLo = 1, bNoHi = 1;
  int rc;
  if( argc!=1 && argc!=3 ){
    sqlite3_result_error(ctx, "lsm_compact: expected (table) or "
                         "(table, lo, hi)", -1);
    return;
  }
  if( sfScalarEngine(ctx, "lsm_compact", argv[0], &eng)!=SQLITE_OK ) return;
  memset(&lo, 0, sizeof(lo));
  memset(&hi, 0, sizeof(hi));
  rc = SQLITE_OK;
  if( argc==3 ){
    rc = sfEncodeBound(&eng, argv[1], &lo, &bNoLo);
    if( rc==SQLITE_OK ) rc = sfEncodeBound(&eng, argv[2], &hi, &bNoHi);
  }
  if( rc!=SQLITE_OK ){
    sfResultError(ctx, "lsm_compact", eng.zTable, rc,
                  sqlite3_mprintf("a bound is not a valid key"), 0);
  }else{
    rc = lsm_compact(eng.pDb, bNoLo ? 0 : lo.a, lo.n, bNoHi ? 0 : hi.a, hi.n);
    if( rc==LSM_OK ){
      sqlite3_result_text(ctx, "ok", -1, SQLITE_STATIC);
    }else{
      sfResultError(ctx, "lsm_compact", eng.zTable, sfCode(rc), 0, eng.pDb);
    }
  }
  lsmvBufFree(&lo);
  lsmvBufFree(&hi);
  sfEngineClose(&eng);
}

/* Append one problem line to the sqlite3_str pArg. */
static void sfAddProblem(void *pArg, const char *zProblem){
  sqlite3_str *pStr = (sqlite3_str*)pArg;
  if( sqlite3_str_length(pStr)>0 ) sqlite3_str_appendchar(pStr, 1, '\n');
  sqlite3_str_appendall(pStr, zProblem);
}

/* lsm_check(T): 'ok', or one line per problem found. */
static void sfCheckFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  SfEngine eng;
  sqlite3_str *pStr;
  int rc;
  (void)argc;
  if( sfScalarEngine(ctx, "lsm_check", argv[0], &eng)!=SQLITE_OK ) return;
  pStr = sqlite3_str_new(0);
  rc = lsm_check(eng.pDb, sfAddProblem, pStr);
  if( rc==LSM_NOMEM || sqlite3_str_errcode(pStr)==SQLITE_NOMEM ){
    sqlite3_free(sqlite3_str_finish(pStr));
    sqlite3_result_error_nomem(ctx);
  }else if( sqlite3_str_length(pStr)==0 ){
    sqlite3_free(sqlite3_str_finish(pStr));
    sqlite3_result_text(ctx, "ok", -1, SQLITE_STATIC);
  }else{
    sqlite3_result_text(ctx, sqlite3_str_finish(pStr), -1, sqlite3_free);
  }
  sfEngineClose(&eng);
}

/* lsm_backup(T, DIR): a consistent copy of the table's data in the new
** directory DIR (relative to the database file's directory, as in
** CREATE VIRTUAL TABLE); returns the sequence number it holds. */
static void sfBackupFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  const char *zDir = (const char*)sqlite3_value_text(argv[1]);
  SfEngine eng;
  LsmvConfig *pDest = 0;
  char *zErr = 0;
  char *zQuoted = 0;
  uint64_t iSeq = 0;
  int rc;
  (void)argc;
  if( sfScalarEngine(ctx, "lsm_backup", argv[0], &eng)!=SQLITE_OK ) return;
  if( zDir==0 || zDir[0]==0 ){
    sfResultError(ctx, "lsm_backup", eng.zTable, SQLITE_ERROR,
                  sqlite3_mprintf("the second argument must name a new "
                                  "directory"), 0);
    sfEngineClose(&eng);
    return;
  }
  /* Resolve DIR exactly as a table's directory would be resolved, so
  ** that CREATE VIRTUAL TABLE ... USING lsm(DIR) opens the copy. */
  zQuoted = sqlite3_mprintf("'%q'", zDir);
  if( zQuoted==0 ){
    rc = SQLITE_NOMEM;
  }else{
    const char *azArg[4];
    LsmvConn conn;
    memset(&conn, 0, sizeof(conn));
    conn.nRef = 1;
    conn.bAllowPaths = 1;         /* a direct call, not a schema */
    azArg[0] = "lsm";
    azArg[1] = eng.zSchema;
    azArg[2] = eng.zTable;
    azArg[3] = zQuoted;
    rc = lsmvConfigParse(db, &conn, 4, azArg, &pDest, &zErr);
  }
  if( rc==SQLITE_OK ){
    rc = lsm_backup_ex(eng.pDb, pDest->zPath, &iSeq, 0, 0);
    if( rc==LSM_OK ){
      sqlite3_result_int64(ctx, (sqlite3_int64)iSeq);
    }else{
      sfResultError(ctx, "lsm_backup", eng.zTable, sfCode(rc), 0, eng.pDb);
    }
  }else{
    sfResultError(ctx, "lsm_backup", eng.zTable, rc, zErr, 0);
    zErr = 0;
  }
  sqlite3_free(zErr);
  sqlite3_free(zQuoted);
  lsmvConfigFree(pDest);
  sfEngineClose(&eng);
}

/* lsm_version(): the engine's version. */
static void sfVersionFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  (void)argc;
  (void)argv;
  sqlite3_result_text(ctx, lsm_libversion(), -1, SQLITE_STATIC);
}

/*------------------------------------------------- table-valued functions --*/

typedef struct SfCursor SfCursor;

/* One table-valued function. */
typedef struct SfKind {
  const char *zName;
  const char *zDecl;          /* its columns, the hidden arguments, then
                              ** lsm_changes's hidden record column */
  int nCol;                   /* columns before the arguments */
  int nArg;                   /* 1 (table) or 2 (table, sequence) */
  /* Read every row into the cursor; NULL for the streaming lsm_changes. */
  int (*xFill)(SfCursor *pCur, SfEngine *pEng);
} SfKind;

typedef struct SfVtab {
  sqlite3_vtab base;          /* must be first */
  sqlite3 *db;
  const SfKind *pKind;
} SfVtab;

/* A cell of a materialised row. */
#define SF_NULL  0
#define SF_INT   1
#define SF_REAL  2
#define SF_TEXT  3
#define SF_KEY   4            /* an encoded key, decoded when read */

typedef struct SfCell {
  int eType;
  sqlite3_int64 iVal;
  double rVal;
  char *z;                    /* SF_TEXT, SF_KEY (sqlite3_malloc) */
  int n;
} SfCell;

struct SfCursor {
  sqlite3_vtab_cursor base;   /* must be first */
  SfCell *aCell;              /* nRow rows of nCol cells */
  int nRow, nRowAlloc;
  int iRow;
  char *zTable;               /* the arguments */
  sqlite3_int64 iAfter;
  /* lsm_changes */
  SfEngine eng;               /* held while the feed is open */
  lsm_changes *pFeed;
  int bEof;
  uint64_t iSeq;              /* current change */
  int bDelete;
  const void *pKey, *pVal;
  size_t nKey, nVal;
};

static const SfKind *sfKind(SfCursor *pCur){
  return ((SfVtab*)pCur->base.pVtab)->pKind;
}

/* Set the vtab's error message (printf-style); returns rc. */
static int sfVtabError(SfCursor *pCur, int rc, const char *zFmt, ...){
  sqlite3_vtab *pVtab = pCur->base.pVtab;
  va_list ap;
  va_start(ap, zFmt);
  sqlite3_free(pVtab->zErrMsg);
  pVtab->zErrMsg = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  return rc;
}

static void sfRowsClear(SfCursor *pCur){
  int i, nCell = pCur->nRow * sfKind(pCur)->nCol;
  for(i=0; i<nCell; i++) sqlite3_free(pCur->aCell[i].z);
  sqlite3_free(pCur->aCell);
  pCur->aCell = 0;
  pCur->nRow = pCur->nRowAlloc = 0;
  pCur->iRow = 0;
}

/* A new row of NULL cells; NULL on OOM. */
static SfCell *sfRowNew(SfCursor *pCur){
  int nCol = sfKind(pCur)->nCol;
  SfCell *aRow;
  if( pCur->nRow>=pCur->nRowAlloc ){
    int nNew = pCur->nRowAlloc ? pCur->nRowAlloc*2 : 16;
    SfCell *aNew = sqlite3_realloc64(pCur->aCell,
                                     sizeof(SfCell)*(size_t)nNew*(size_t)nCol);
    if( aNew==0 ) return 0;
    pCur->aCell = aNew;
    pCur->nRowAlloc = nNew;
  }
  aRow = &pCur->aCell[pCur->nRow*nCol];
  memset(aRow, 0, sizeof(SfCell)*(size_t)nCol);
  pCur->nRow++;
  return aRow;
}

static void sfSetInt(SfCell *p, sqlite3_int64 v){ p->eType = SF_INT; p->iVal = v; }
static void sfSetReal(SfCell *p, double r){ p->eType = SF_REAL; p->rVal = r; }

/* Copy n bytes at z into cell p as type eType.  SQLITE_OK or NOMEM. */
static int sfSetBytes(SfCell *p, int eType, const void *z, size_t n){
  p->z = sqlite3_malloc64(n+1);
  if( p->z==0 ) return SQLITE_NOMEM;
  if( n ) memcpy(p->z, z, n);
  p->z[n] = 0;
  p->n = (int)n;
  p->eType = eType;
  return SQLITE_OK;
}

/* Set the result of ctx to key a[0..n-1] decoded with flags, or the raw
** bytes as a BLOB if they are not a valid encoding. */
static void sfResultKey(sqlite3_context *ctx, const void *a, size_t n,
                        unsigned flags){
  LsmvValue v;
  if( lsmvKeyDecode((const unsigned char*)a, n, flags, &v)==SQLITE_OK ){
    lsmvValueResult(ctx, &v);
  }else{
    sqlite3_result_blob64(ctx, a, n, SQLITE_TRANSIENT);
  }
}

/* lsm_levels: one row per level. */
static int sfFillLevels(SfCursor *pCur, SfEngine *pEng){
  lsm_stats st;
  int i;
  int rc = lsm_get_stats(pEng->pDb, &st);
  if( rc!=LSM_OK ){
    return sfVtabError(pCur, sfCode(rc), "lsm_levels(%s): %s", pEng->zTable,
                       lsm_errmsg(pEng->pDb));
  }
  for(i=0; i<LSM_MAX_LEVELS; i++){
    SfCell *a = sfRowNew(pCur);
    if( a==0 ) return SQLITE_NOMEM;
    sfSetInt(&a[0], i);
    sfSetInt(&a[1], st.anLevelFiles[i]);
    sfSetInt(&a[2], (sqlite3_int64)st.anLevelBytes[i]);
    if( i>0 ) sfSetInt(&a[3], (sqlite3_int64)st.anLevelBudget[i]);
    sfSetReal(&a[4], st.aLevelScore[i]);
  }
  return SQLITE_OK;
}

/* lsm_tables: callback of lsm_tables_list. */
static int sfAddTable(void *pArg, const lsm_table_info *p){
  SfCursor *pCur = (SfCursor*)pArg;
  SfCell *a = sfRowNew(pCur);
  char zFile[32];
  int rc;
  if( a==0 ) return LSM_NOMEM;
  sqlite3_snprintf(sizeof(zFile), zFile, "%06llu.sst", (unsigned long long)p->file);
  rc = sfSetBytes(&a[0], SF_TEXT, zFile, strlen(zFile));
  sfSetInt(&a[1], p->level);
  if( rc==SQLITE_OK && p->entries ){
    rc = sfSetBytes(&a[2], SF_KEY, p->pSmallest, p->nSmallest);
    if( rc==SQLITE_OK ) rc = sfSetBytes(&a[3], SF_KEY, p->pLargest, p->nLargest);
  }
  sfSetInt(&a[4], (sqlite3_int64)p->entries);
  sfSetInt(&a[5], (sqlite3_int64)p->tombstones);
  sfSetInt(&a[6], (sqlite3_int64)p->bytes);
  sfSetInt(&a[7], (sqlite3_int64)p->min_seq);
  sfSetInt(&a[8], (sqlite3_int64)p->max_seq);
  return rc==SQLITE_OK ? LSM_OK : LSM_NOMEM;
}

static int sfFillTables(SfCursor *pCur, SfEngine *pEng){
  int rc = lsm_tables_list(pEng->pDb, sfAddTable, pCur);
  if( rc==LSM_NOMEM ) return SQLITE_NOMEM;
  if( rc!=LSM_OK ){
    return sfVtabError(pCur, sfCode(rc), "lsm_tables(%s): %s", pEng->zTable,
                       lsm_errmsg(pEng->pDb));
  }
  return SQLITE_OK;
}

/* lsm_stats: one row per statistic. */
static int sfFillStats(SfCursor *pCur, SfEngine *pEng){
  lsm_stats st;
  struct { const char *zName; int bReal; uint64_t n; double r; } aStat[26];
  int nStat = 0, i;
  int rc = lsm_get_stats(pEng->pDb, &st);
  SfCell *a;
  if( rc!=LSM_OK ){
    return sfVtabError(pCur, sfCode(rc), "lsm_stats(%s): %s", pEng->zTable,
                       lsm_errmsg(pEng->pDb));
  }
#define SF_STAT(NAME, V)  aStat[nStat].zName = NAME; aStat[nStat].bReal = 0; \
                          aStat[nStat++].n = (uint64_t)(V)
#define SF_RSTAT(NAME, V) aStat[nStat].zName = NAME; aStat[nStat].bReal = 1; \
                          aStat[nStat++].r = (V)
  SF_STAT("user_bytes", st.user_bytes);
  SF_STAT("log_bytes", st.log_bytes);
  SF_STAT("flush_bytes", st.flush_bytes);
  SF_STAT("compaction_bytes", st.compact_bytes);
  SF_STAT("compaction_read_bytes", st.compact_read_bytes);
  SF_RSTAT("write_amp", st.write_amp);
  SF_RSTAT("space_amp", st.space_amp);
  SF_RSTAT("read_amp", st.read_amp);
  SF_STAT("cache_hits", st.cache_hits);
  SF_STAT("cache_misses", st.cache_misses);
  SF_STAT("bloom_useful", st.bloom_useful);
  SF_STAT("bloom_useless", st.bloom_useless);
  SF_STAT("gets", st.gets);
  SF_STAT("table_probes", st.table_probes);
  SF_STAT("stalls", st.stalls);
  SF_STAT("stall_us", st.stall_us);
  SF_STAT("flushes", st.flushes);
  SF_STAT("compactions", st.compactions);
  SF_STAT("table_bytes", st.table_bytes);
  SF_STAT("log_disk_bytes", st.log_disk_bytes);
  SF_STAT("memtable_bytes", st.memtable_bytes);
  SF_STAT("immutable_count", st.immutable_count);
  SF_STAT("last_seq", st.last_seq);
#undef SF_STAT
#undef SF_RSTAT
  for(i=0; i<nStat; i++){
    a = sfRowNew(pCur);
    if( a==0 ) return SQLITE_NOMEM;
    if( sfSetBytes(&a[0], SF_TEXT, aStat[i].zName, strlen(aStat[i].zName)) ){
      return SQLITE_NOMEM;
    }
    if( aStat[i].bReal ) sfSetReal(&a[1], aStat[i].r);
    else sfSetInt(&a[1], (sqlite3_int64)aStat[i].n);
  }
  /* the sticky background error: NULL when there is none */
  a = sfRowNew(pCur);
  if( a==0 || sfSetBytes(&a[0], SF_TEXT, "last_error", 10) ) return SQLITE_NOMEM;
  if( st.error_code && sfSetBytes(&a[1], SF_TEXT, st.last_error,
                                  strlen(st.last_error)) ){
    return SQLITE_NOMEM;
  }
  return SQLITE_OK;
}

static const SfKind sfKinds[] = {
  { "lsm_levels",
    "CREATE TABLE x(level INTEGER, tables INTEGER, bytes INTEGER, "
    "budget INTEGER, score REAL, tbl HIDDEN)", 5, 1, sfFillLevels },
  { "lsm_tables",
    "CREATE TABLE x(file TEXT, level INTEGER, smallest, largest, "
    "entries INTEGER, tombstones INTEGER, bytes INTEGER, min_seq INTEGER, "
    "max_seq INTEGER, tbl HIDDEN)", 9, 1, sfFillTables },
  { "lsm_stats",
    "CREATE TABLE x(name TEXT, value, tbl HIDDEN)", 2, 1, sfFillStats },
  { "lsm_changes",
    "CREATE TABLE x(seq INTEGER, op TEXT, key, value, tbl HIDDEN, "
    "after HIDDEN, record BLOB HIDDEN)", 4, 2, 0 },
};

static int sfConnect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                     sqlite3_vtab **ppVtab, char **pzErr){
  const SfKind *pKind = (const SfKind*)pAux;
  SfVtab *pVtab;
  int rc;
  (void)argc;
  (void)argv;
  (void)pzErr;
  *ppVtab = 0;
  rc = sqlite3_declare_vtab(db, pKind->zDecl);
  if( rc==SQLITE_OK ){
    pVtab = sqlite3_malloc64(sizeof(*pVtab));
    if( pVtab==0 ) return SQLITE_NOMEM;
    memset(pVtab, 0, sizeof(*pVtab));
    pVtab->db = db;
    pVtab->pKind = pKind;
    *ppVtab = &pVtab->base;
  }
  return rc;
}

static int sfDisconnect(sqlite3_vtab *pVtab){
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

/*
** The arguments are equality constraints on the hidden columns: the
** table name (required; idxNum bit 1) and for lsm_changes the sequence
** (bit 2, default 0).  A plan that cannot supply the name is refused.
*/
static int sfBestIndex(sqlite3_vtab *pBase, sqlite3_index_info *pInfo){
  const SfKind *pKind = ((SfVtab*)pBase)->pKind;
  int aiCons[2] = { -1, -1 };
  int i, nUsed = 0;
  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *p = &pInfo->aConstraint[i];
    int iArg = p->iColumn - pKind->nCol;
    if( iArg<0 || iArg>=pKind->nArg ) continue;
    if( p->op!=SQLITE_INDEX_CONSTRAINT_EQ ) continue;
    if( !p->usable ) return SQLITE_CONSTRAINT;
    aiCons[iArg] = i;
  }
  pInfo->idxNum = 0;
  for(i=0; i<2; i++){
    if( aiCons[i]>=0 ){
      pInfo->aConstraintUsage[aiCons[i]].argvIndex = ++nUsed;
      pInfo->aConstraintUsage[aiCons[i]].omit = 1;
      pInfo->idxNum |= 1<<i;
    }
  }
  if( pInfo->idxNum & 1 ){
    pInfo->estimatedCost = 10.0;
    pInfo->estimatedRows = 20;
  }else{
    pInfo->estimatedCost = 1e12;
  }
  return SQLITE_OK;
}

static int sfOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  SfCursor *pCur = sqlite3_malloc64(sizeof(*pCur));
  (void)pVtab;
  *ppCur = 0;
  if( pCur==0 ) return SQLITE_NOMEM;
  memset(pCur, 0, sizeof(*pCur));
  pCur->bEof = 1;
  *ppCur = &pCur->base;
  return SQLITE_OK;
}

/* Drop what a previous xFilter left. */
static void sfCursorReset(SfCursor *pCur){
  sfRowsClear(pCur);
  lsm_changes_close(pCur->pFeed);
  pCur->pFeed = 0;
  sfEngineClose(&pCur->eng);
  sqlite3_free(pCur->zTable);
  pCur->zTable = 0;
  pCur->bEof = 1;
}

static int sfClose(sqlite3_vtab_cursor *pBase){
  SfCursor *pCur = (SfCursor*)pBase;
  sfCursorReset(pCur);
  sqlite3_free(pCur);
  return SQLITE_OK;
}

/* lsm_changes: move to the next change. */
static int sfChangesNext(SfCursor *pCur){
  int rc = lsm_changes_next(pCur->pFeed, &pCur->iSeq, &pCur->bDelete,
                            &pCur->pKey, &pCur->nKey, &pCur->pVal, &pCur->nVal);
  if( rc==LSM_NOTFOUND ){
    /* the end, unless the feed reports lost history */
    pCur->bEof = 1;
    return SQLITE_OK;
  }
  if( rc!=LSM_OK ){
    pCur->bEof = 1;
    return sfVtabError(pCur, sfCode(rc), "lsm_changes(%s): %s",
                       pCur->eng.zTable, lsm_errmsg(pCur->eng.pDb));
  }
  pCur->bEof = 0;
  return SQLITE_OK;
}

static int sfFilter(sqlite3_vtab_cursor *pBase, int idxNum, const char *idxStr,
                    int argc, sqlite3_value **argv){
  SfCursor *pCur = (SfCursor*)pBase;
  const SfKind *pKind = sfKind(pCur);
  SfEngine eng;
  char *zErr = 0;
  const char *zTable;
  int rc;
  (void)idxStr;
  (void)argc;

  sfCursorReset(pCur);
  if( (idxNum & 1)==0 ){
    return sfVtabError(pCur, SQLITE_ERROR, "%s: the first argument must name "
                       "an lsm table, as in SELECT * FROM %s('kv')",
                       pKind->zName, pKind->zName);
  }
  zTable = (const char*)sqlite3_value_text(argv[0]);
  if( zTable==0 ){
    return sfVtabError(pCur, SQLITE_ERROR, "%s: the first argument must name "
                       "an lsm table", pKind->zName);
  }
  pCur->zTable = sqlite3_mprintf("%s", zTable);
  if( pCur->zTable==0 ) return SQLITE_NOMEM;
  pCur->iAfter = 0;
  if( idxNum & 2 ){
    if( sqlite3_value_type(argv[1])!=SQLITE_INTEGER
     || sqlite3_value_int64(argv[1])<0 ){
      return sfVtabError(pCur, SQLITE_ERROR, "%s(%s): the sequence must be an "
                         "integer >= 0", pKind->zName, zTable);
    }
    pCur->iAfter = sqlite3_value_int64(argv[1]);
  }

  rc = sfEngineOpen(((SfVtab*)pBase->pVtab)->db, zTable, &eng, &zErr);
  if( rc!=SQLITE_OK ){
    if( zErr ) sfVtabError(pCur, rc, "%s(%s): %s", pKind->zName, zTable, zErr);
    sqlite3_free(zErr);
    return rc;
  }
  if( pKind->xFill ){
    rc = pKind->xFill(pCur, &eng);
    sfEngineClose(&eng);
    pCur->bEof = pCur->nRow==0;
    return rc;
  }
  pCur->eng = eng;
  rc = lsm_changes_open(pCur->eng.pDb, (uint64_t)pCur->iAfter, &pCur->pFeed);
  if( rc!=LSM_OK ){
    return sfVtabError(pCur, sfCode(rc), "lsm_changes(%s): %s", zTable,
                       lsm_errmsg(pCur->eng.pDb));
  }
  return sfChangesNext(pCur);
}

static int sfNext(sqlite3_vtab_cursor *pBase){
  SfCursor *pCur = (SfCursor*)pBase;
  if( pCur->pFeed ) return sfChangesNext(pCur);
  pCur->iRow++;
  pCur->bEof = pCur->iRow>=pCur->nRow;
  return SQLITE_OK;
}

static int sfEof(sqlite3_vtab_cursor *pBase){
  return ((SfCursor*)pBase)->bEof;
}

/* xColumn of lsm_changes. */
static int sfChangesColumn(SfCursor *pCur, sqlite3_context *ctx, int i){
  const unsigned char *aRec = (const unsigned char*)pCur->pVal;
  unsigned flags = 0;
  LsmvValue v;
  switch( i ){
    case 0:
      sqlite3_result_int64(ctx, (sqlite3_int64)pCur->iSeq);
      break;
    case 1:
      sqlite3_result_text(ctx, pCur->bDelete ? "delete" : "put", -1, SQLITE_STATIC);
      break;
    case 2:
      /* a put's record remembers whether an integral key was a REAL */
      if( !pCur->bDelete && lsmvRecordFlags(aRec, pCur->nVal, &flags)!=SQLITE_OK ){
        flags = 0;
      }
      sfResultKey(ctx, pCur->pKey, pCur->nKey, flags);
      break;
    case 3:
      if( pCur->bDelete ) break;
      if( lsmvRecordColumn(aRec, pCur->nVal, 0, &v)!=SQLITE_OK ){
        sqlite3_result_error(ctx, "lsm_changes: malformed record", -1);
        sqlite3_result_error_code(ctx, SQLITE_CORRUPT);
      }else{
        lsmvValueResult(ctx, &v);
      }
      break;
    case 6:                   /* record: after the two arguments */
      if( !pCur->bDelete ){
        sqlite3_result_blob64(ctx, aRec, pCur->nVal, SQLITE_TRANSIENT);
      }
      break;
  }
  return SQLITE_OK;
}

static int sfColumn(sqlite3_vtab_cursor *pBase, sqlite3_context *ctx, int i){
  SfCursor *pCur = (SfCursor*)pBase;
  const SfKind *pKind = sfKind(pCur);
  const SfCell *p;
  if( i==pKind->nCol ){
    sqlite3_result_text(ctx, pCur->zTable, -1, SQLITE_TRANSIENT);
    return SQLITE_OK;
  }
  if( i==pKind->nCol+1 && pKind->nArg>1 ){
    sqlite3_result_int64(ctx, pCur->iAfter);
    return SQLITE_OK;
  }
  if( pCur->pFeed ) return sfChangesColumn(pCur, ctx, i);
  p = &pCur->aCell[pCur->iRow*pKind->nCol + i];
  switch( p->eType ){
    case SF_INT:  sqlite3_result_int64(ctx, p->iVal); break;
    case SF_REAL: sqlite3_result_double(ctx, p->rVal); break;
    case SF_TEXT: sqlite3_result_text(ctx, p->z, p->n, SQLITE_TRANSIENT); break;
    case SF_KEY:  sfResultKey(ctx, p->z, (size_t)p->n, 0); break;
    default:      break;
  }
  return SQLITE_OK;
}

static int sfRowid(sqlite3_vtab_cursor *pBase, sqlite_int64 *piRowid){
  SfCursor *pCur = (SfCursor*)pBase;
  *piRowid = pCur->pFeed ? (sqlite3_int64)pCur->iSeq : pCur->iRow + 1;
  return SQLITE_OK;
}

/* Eponymous only (no xCreate), read-only. */
static sqlite3_module sfModule = {
  .iVersion = 0,
  .xConnect = sfConnect,
  .xBestIndex = sfBestIndex,
  .xDisconnect = sfDisconnect,
  .xOpen = sfOpen,
  .xClose = sfClose,
  .xFilter = sfFilter,
  .xNext = sfNext,
  .xEof = sfEof,
  .xColumn = sfColumn,
  .xRowid = sfRowid,
};

/*------------------------------------------------------------ integrity --*/

#if SQLITE_VERSION_NUMBER >= 3044000
int lsmvIntegrity(sqlite3_vtab *pVtab, const char *zSchema,
                  const char *zTabName, int mFlags, char **pzErr){
  LsmvTab *pTab = (LsmvTab*)pVtab;
  sqlite3_str *pStr;
  int rc;
  (void)zSchema;
  (void)mFlags;
  if( pTab->pDb==0 ) return SQLITE_OK;          /* dropped */
  pStr = sqlite3_str_new(0);
  rc = lsm_check(pTab->pDb, sfAddProblem, pStr);
  if( rc==LSM_NOMEM || sqlite3_str_errcode(pStr)==SQLITE_NOMEM ){
    sqlite3_free(sqlite3_str_finish(pStr));
    return SQLITE_NOMEM;
  }
  if( sqlite3_str_length(pStr)>0 ){
    char *zProblems = sqlite3_str_finish(pStr);
    *pzErr = sqlite3_mprintf("lsm table %s: %s", zTabName, zProblems);
    sqlite3_free(zProblems);
    return *pzErr ? SQLITE_OK : SQLITE_NOMEM;
  }
  sqlite3_free(sqlite3_str_finish(pStr));
  return SQLITE_OK;
}
#endif

/*---------------------------------------------------------- registration --*/

int lsmvtabRegisterFunctions(sqlite3 *db){
  static const struct {
    const char *zName;
    int nArg;
    int mFlags;
    void (*xFunc)(sqlite3_context*, int, sqlite3_value**);
  } aFunc[] = {
    { "lsm_flush",   1, SQLITE_UTF8|SQLITE_DIRECTONLY, sfFlushFunc },
    { "lsm_compact", 1, SQLITE_UTF8|SQLITE_DIRECTONLY, sfCompactFunc },
    { "lsm_compact", 3, SQLITE_UTF8|SQLITE_DIRECTONLY, sfCompactFunc },
    { "lsm_check",   1, SQLITE_UTF8|SQLITE_DIRECTONLY, sfCheckFunc },
    { "lsm_backup",  2, SQLITE_UTF8|SQLITE_DIRECTONLY, sfBackupFunc },
    { "lsm_version", 0, SQLITE_UTF8|SQLITE_INNOCUOUS|SQLITE_DETERMINISTIC,
      sfVersionFunc },
  };
  size_t i;
  int rc = SQLITE_OK;
  for(i=0; rc==SQLITE_OK && i<sizeof(aFunc)/sizeof(aFunc[0]); i++){
    rc = sqlite3_create_function(db, aFunc[i].zName, aFunc[i].nArg,
                                 aFunc[i].mFlags, 0, aFunc[i].xFunc, 0, 0);
  }
  for(i=0; rc==SQLITE_OK && i<sizeof(sfKinds)/sizeof(sfKinds[0]); i++){
    rc = sqlite3_create_module(db, sfKinds[i].zName, &sfModule,
                               (void*)&sfKinds[i]);
  }
  return rc;
}
