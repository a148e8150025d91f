/*
** vtabconfig.c -- the arguments of CREATE VIRTUAL TABLE ... USING lsm(...).
**
**     CREATE VIRTUAL TABLE name USING lsm(DIR [, option=value]... [, column]...)
**
** DIR, the first argument, names the data directory, relative to the
** directory of the database file that holds the table (the current
** directory for an in-memory or temp database).  It may be quoted.  Since
** a schema read from a database file must not make the extension touch
** files outside that file's directory tree, DIR may be neither absolute
** nor contain a ".." component unless the connection has enabled that
** with SELECT lsm_allow_paths(1).  DIR cannot be the database's own
** directory.
**
** An argument of the form NAME=VALUE sets an engine option (see
** vtOptions below).  Sizes are bytes, with an optional K, M or G suffix;
** SQL's tokenizer wants a suffixed size quoted ('8M') or spaced (8 M).  Any other argument is
** a column definition, NAME [TYPE]: the first one declares the primary
** key, the rest the value columns.  Without any, the columns are
** "key" and "value" with no type.  The table is declared to SQLite as
**
**     CREATE TABLE x("key" TYPE PRIMARY KEY, "value" TYPE, ...) WITHOUT ROWID
**
** Every error message names the argument at fault.
*/
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "vtabint.h"

SQLITE_EXTENSION_INIT3

/*---------------------------------------------------------------- options --*/

#define VT_SIZE    1      /* size_t, bytes, K/M/G suffix */
#define VT_U64     2      /* uint64_t, bytes, K/M/G suffix */
#define VT_INT     3      /* int */
#define VT_SYNC    4      /* off | normal | full */
#define VT_CODEC   5      /* none | lz4 */

static const struct VtOption {
  const char *zName;
  int eType;
  size_t iOff;            /* offset of the field in LsmvConfig */
} vtOptions[] = {
  { "sync",             VT_SYNC,  offsetof(LsmvConfig, opts.sync_mode) },
  { "memtable_size",    VT_SIZE,  offsetof(LsmvConfig, opts.memtable_size) },
  { "max_immutables",   VT_INT,   offsetof(LsmvConfig, opts.max_immutables) },
  { "block_size",       VT_SIZE,  offsetof(LsmvConfig, opts.block_size) },
  { "restart_interval", VT_INT,   offsetof(LsmvConfig, opts.restart_interval) },
  { "cache_size",       VT_SIZE,  offsetof(LsmvConfig, opts.cache_size) },
  { "max_open_tables",  VT_INT,   offsetof(LsmvConfig, opts.max_open_tables) },
  { "bloom_bits",       VT_INT,   offsetof(LsmvConfig, opts.bloom_bits) },
  { "compression",      VT_CODEC, offsetof(LsmvConfig, opts.compression) },
  { "level1_size",      VT_U64,   offsetof(LsmvConfig, opts.level1_size) },
  { "table_size",       VT_U64,   offsetof(LsmvConfig, opts.table_size) },
  { "l0_trigger",       VT_INT,   offsetof(LsmvConfig, opts.l0_trigger) },
  { "l0_slowdown",      VT_INT,   offsetof(LsmvConfig, opts.l0_slowdown) },
  { "l0_stop",          VT_INT,   offsetof(LsmvConfig, opts.l0_stop) },
  { "log_retain_bytes", VT_U64,   offsetof(LsmvConfig, opts.log_retain_bytes) },
  { "mmap_reads",       VT_INT,   offsetof(LsmvConfig, opts.mmap_reads) },
  { "inline_commit",    VT_SIZE,  offsetof(LsmvConfig, nInline) },
};

/*
** Parse a byte count: decimal digits and an optional K, M or G (powers of
** 1024).  Returns 0 and sets *pn, or 1 if z is not such a number or does
** not fit in nMax.
*/
static int vtParseSize(const char *z, uint64_t nMax, uint64_t *pn){
  uint64_t n = 0, nMul = 1;
  if( !isdigit((unsigned char)*z) ) return 1;
  while( isdigit((unsigned char)*z) ){
    int d = *z++ - '0';
    if( n > (UINT64_MAX - (uint64_t)d)/10 ) return 1;
    n = n*10 + (uint64_t)d;
  }
  /* SQL's tokenizer rejects 8M unquoted; it accepts '8M' and 8 M */
  while( *z==' ' ) z++;
  switch( *z ){
    case 'k': case 'K': nMul = (uint64_t)1<<10; z++; break;
    case 'm': case 'M': nMul = (uint64_t)1<<20; z++; break;
    case 'g': case 'G': nMul = (uint64_t)1<<30; z++; break;
  }
  if( *z!=0 || n > nMax/nMul ) return 1;
  *pn = n*nMul;
  return 0;
}

/*
** Apply option zName=zValue to *pCfg.  Returns SQLITE_OK or SQLITE_ERROR
** with *pzErr set.
*/
static int vtSetOption(LsmvConfig *pCfg, const char *zName,
                       const char *zValue, char **pzErr){
  size_t i;
  char *pField;
  uint64_t n;
  for(i=0; i<sizeof(vtOptions)/sizeof(vtOptions[0]); i++){
    if( sqlite3_stricmp(zName, vtOptions[i].zName)==0 ) break;
  }
  if( i==sizeof(vtOptions)/sizeof(vtOptions[0]) ){
    *pzErr = sqlite3_mprintf("unknown option \"%s\"", zName);
    return SQLITE_ERROR;
  }
  pField = (char*)pCfg + vtOptions[i].iOff;
  switch( vtOptions[i].eType ){
    case VT_SIZE:
      if( vtParseSize(zValue, SIZE_MAX, &n) ) break;
      *(size_t*)pField = (size_t)n;
      return SQLITE_OK;
    case VT_U64:
      if( vtParseSize(zValue, UINT64_MAX, &n) ) break;
      *(uint64_t*)pField = n;
      return SQLITE_OK;
    case VT_INT:
      if( vtParseSize(zValue, 0x7fffffff, &n) ) break;
      *(int*)pField = (int)n;
      return SQLITE_OK;
    case VT_SYNC:
      if( sqlite3_stricmp(zValue, "off")==0 ){
        *(int*)pField = LSM_SYNC_OFF;
      }else if( sqlite3_stricmp(zValue, "normal")==0 ){
        *(int*)pField = LSM_SYNC_NORMAL;
      }else if( sqlite3_stricmp(zValue, "full")==0 ){
        *(int*)pField = LSM_SYNC_FULL;
      }else{
        break;
      }
      return SQLITE_OK;
    case VT_CODEC:
      if( sqlite3_stricmp(zValue, "none")==0 ){
        *(int*)pField = LSM_COMPRESSION_NONE;
      }else if( sqlite3_stricmp(zValue, "lz4")==0 ){
        *(int*)pField = LSM_COMPRESSION_LZ4;
      }else{
        break;
      }
      return SQLITE_OK;
  }
  switch( vtOptions[i].eType ){
    case VT_SYNC:
      *pzErr = sqlite3_mprintf("bad value \"%s\" for option %s: "
                               "expected off, normal or full", zValue, zName);
      break;
    case VT_CODEC:
      *pzErr = sqlite3_mprintf("bad value \"%s\" for option %s: "
                               "expected none or lz4", zValue, zName);
      break;
    case VT_INT:
      *pzErr = sqlite3_mprintf("bad value \"%s\" for option %s: "
                               "expected a non-negative integer", zValue, zName);
      break;
    default:
      *pzErr = sqlite3_mprintf("bad value \"%s\" for option %s: expected a "
                               "size in bytes (optional K, M or G suffix)",
                               zValue, zName);
      break;
  }
  return SQLITE_ERROR;
}

/*----------------------------------------------------------------- tokens --*/

/* A copy of z[0..n-1], unquoted if it is a quoted SQL string or name
** ('..', "..", `..`, [..]).  NULL on OOM. */
static char *vtDequote(const char *z, size_t n){
  char *zOut = sqlite3_malloc64(n+1);
  char q = n>=2 ? z[0] : 0;
  char qEnd = q=='[' ? ']' : q;
  size_t i, j = 0;
  if( zOut==0 ) return 0;
  if( (q=='\'' || q=='"' || q=='`' || q=='[') && z[n-1]==qEnd ){
    for(i=1; i<n-1; i++){
      zOut[j++] = z[i];
      if( z[i]==qEnd && q!='[' && i+1<n-1 && z[i+1]==qEnd ) i++;
    }
  }else{
    memcpy(zOut, z, n);
    j = n;
  }
  zOut[j] = 0;
  return zOut;
}

/* Characters that may start and continue an unquoted name. */
static int vtIsIdStart(int c){ return isalpha(c) || c=='_' || c>=0x80; }
static int vtIsIdChar(int c){ return isalnum(c) || c=='_' || c=='$' || c>=0x80; }

/*
** Length of the token at z: an identifier, a quoted string or name, or a
** parenthesised group (nesting allowed).  0 if z starts with anything
** else or the token is unterminated.
*/
static size_t vtTokenLen(const char *z){
  size_t n = 0;
  if( vtIsIdStart((unsigned char)z[0]) ){
    while( vtIsIdChar((unsigned char)z[n]) ) n++;
    return n;
  }
  if( z[0]=='\'' || z[0]=='"' || z[0]=='`' || z[0]=='[' ){
    char qEnd = z[0]=='[' ? ']' : z[0];
    for(n=1; z[n]; n++){
      if( z[n]==qEnd ){
        if( qEnd!=']' && z[n+1]==qEnd ){ n++; continue; }
        return n+1;
      }
    }
    return 0;
  }
  if( z[0]=='(' ){
    int nDepth = 0;
    for(n=0; z[n]; n++){
      if( z[n]=='(' ) nDepth++;
      if( z[n]==')' && --nDepth==0 ) return n+1;
    }
    return 0;
  }
  return 0;
}

static const char *vtSkipSpace(const char *z){
  while( isspace((unsigned char)*z) ) z++;
  return z;
}

/* True if the n bytes at z are the keyword zKw (any case). */
static int vtIsWord(const char *z, size_t n, const char *zKw){
  return strlen(zKw)==n && sqlite3_strnicmp(z, zKw, (int)n)==0;
}

/*
** Parse column definition zArg ("name [type] [PRIMARY KEY]").  On
** success *pzName and *pzType are new strings (*pzType "" for no type).
** PRIMARY KEY is accepted on the key column (bKey) only.
*/
static int vtParseColumn(const char *zArg, int bKey, char **pzName,
                         char **pzType, char **pzErr){
  const char *z = vtSkipSpace(zArg);
  size_t n = vtTokenLen(z);
  sqlite3_str *pType;
  int bParen = 0, bPk = 0;
  *pzName = *pzType = 0;
  if( n==0 || z[0]=='(' ) goto bad;
  *pzName = vtDequote(z, n);
  if( *pzName==0 ) return SQLITE_NOMEM;
  if( (*pzName)[0]==0 ) goto bad;
  pType = sqlite3_str_new(0);
  for(z=vtSkipSpace(z+n); *z; z=vtSkipSpace(z+n)){
    n = vtTokenLen(z);
    if( n==0 || bPk ) break;
    if( z[0]=='(' ){
      if( bParen || sqlite3_str_length(pType)==0 ) break;
      bParen = 1;
      sqlite3_str_append(pType, z, (int)n);
      continue;
    }
    if( !vtIsIdStart((unsigned char)z[0]) || bParen ) break;
    if( vtIsWord(z, n, "PRIMARY") ){
      const char *zKey = vtSkipSpace(z+n);
      size_t nKey = vtTokenLen(zKey);
      if( !bKey || !vtIsWord(zKey, nKey, "KEY") ) break;
      bPk = 1;
      n = (size_t)(zKey + nKey - z);
      continue;
    }
    if( vtIsWord(z, n, "NOT") || vtIsWord(z, n, "NULL")
     || vtIsWord(z, n, "DEFAULT") || vtIsWord(z, n, "UNIQUE")
     || vtIsWord(z, n, "CHECK") || vtIsWord(z, n, "REFERENCES")
     || vtIsWord(z, n, "COLLATE") || vtIsWord(z, n, "GENERATED")
     || vtIsWord(z, n, "AS") || vtIsWord(z, n, "CONSTRAINT")
     || vtIsWord(z, n, "HIDDEN") || vtIsWord(z, n, "KEY")
    ){
      break;
    }
    if( sqlite3_str_length(pType)>0 ) sqlite3_str_appendchar(pType, 1, ' ');
    sqlite3_str_append(pType, z, (int)n);
  }
  /* sqlite3_str_finish gives NULL for an empty string, as for OOM */
  if( sqlite3_str_errcode(pType)==SQLITE_OK && sqlite3_str_length(pType)==0 ){
    sqlite3_free(sqlite3_str_finish(pType));
    *pzType = sqlite3_mprintf("");
  }else{
    *pzType = sqlite3_str_finish(pType);
  }
  if( *pzType==0 ){
    sqlite3_free(*pzName);
    *pzName = 0;
    return SQLITE_NOMEM;
  }
  if( *z==0 ) return SQLITE_OK;
  sqlite3_free(*pzType);
  *pzType = 0;

bad:
  sqlite3_free(*pzName);
  *pzName = 0;
  *pzErr = sqlite3_mprintf("bad column definition \"%s\": expected a name and "
                           "an optional type%s", zArg,
                           bKey ? " (and PRIMARY KEY)" : "");
  return SQLITE_ERROR;
}

/*------------------------------------------------------------------ paths --*/

/*
** zBase + "/" + zDir without empty and "." components of zDir (so that
** "data/." names the directory "data" to mkdir).  NULL on OOM.
*/
static char *vtJoinPath(const char *zBase, const char *zDir){
  sqlite3_str *p = sqlite3_str_new(0);
  const char *z;
  sqlite3_str_appendall(p, zBase);
  for(z=zDir; *z; ){
    size_t n = strcspn(z, "/");
    if( n>0 && !(n==1 && z[0]=='.') ){
      sqlite3_str_appendf(p, "/%.*s", (int)n, z);
    }
    z += n;
    if( *z=='/' ) z++;
  }
  return sqlite3_str_finish(p);
}

/*
** Check DIR against the path rules and resolve it against the directory
** of database zDb.  Returns SQLITE_OK with *pzPath set (sqlite3_malloc),
** or an error with *pzErr set.
*/
static int vtResolvePath(sqlite3 *db, const char *zDb, const char *zDir,
                         int bAllowPaths, char **pzPath, char **pzErr){
  const char *zFile;
  const char *z;
  int bReal = 0;          /* a component other than "." */
  char *zBase = 0;

  *pzPath = 0;
  if( zDir[0]==0 ){
    *pzErr = sqlite3_mprintf("the data directory (first argument) is empty");
    return SQLITE_ERROR;
  }
  for(z=zDir; *z; ){
    size_t n = strcspn(z, "/");
    if( n==2 && z[0]=='.' && z[1]=='.' && !bAllowPaths ){
      *pzErr = sqlite3_mprintf("data directory \"%s\" contains \"..\"; "
          "run SELECT lsm_allow_paths(1) first to allow it", zDir);
      return SQLITE_ERROR;
    }
    if( n>0 && !(n==1 && z[0]=='.') ) bReal = 1;
    z += n;
    if( *z=='/' ) z++;
  }
  if( !bReal && zDir[0]=='/' ){
    *pzErr = sqlite3_mprintf("data directory \"%s\" is the root directory", zDir);
    return SQLITE_ERROR;
  }
  if( zDir[0]=='/' ){
    if( !bAllowPaths ){
      *pzErr = sqlite3_mprintf("data directory \"%s\" is an absolute path; "
          "run SELECT lsm_allow_paths(1) first to allow it", zDir);
      return SQLITE_ERROR;
    }
    *pzPath = vtJoinPath("", zDir);
    return *pzPath ? SQLITE_OK : SQLITE_NOMEM;
  }
  if( !bReal ){
    *pzErr = sqlite3_mprintf("data directory \"%s\" is the database's own "
                             "directory; name a subdirectory", zDir);
    return SQLITE_ERROR;
  }

  zFile = sqlite3_stricmp(zDb, "temp")==0 ? "" : sqlite3_db_filename(db, zDb);
  if( zFile && zFile[0] ){
    const char *zSlash = strrchr(zFile, '/');
    zBase = zSlash ? sqlite3_mprintf("%.*s", (int)(zSlash - zFile), zFile)
                   : sqlite3_mprintf(".");
    if( zBase && zBase[0]==0 ){        /* database in the root directory */
      sqlite3_free(zBase);
      zBase = sqlite3_mprintf("");
    }
  }else{
    char *zCwd = getcwd(0, 0);
    if( zCwd==0 ){
      *pzErr = sqlite3_mprintf("cannot find the current directory: %s",
                               strerror(errno));
      return SQLITE_ERROR;
    }
    zBase = sqlite3_mprintf("%s", zCwd);
    free(zCwd);                 /* from getcwd's malloc */
  }
  if( zBase==0 ) return SQLITE_NOMEM;
  *pzPath = vtJoinPath(zBase, zDir);
  sqlite3_free(zBase);
  return *pzPath ? SQLITE_OK : SQLITE_NOMEM;
}

/*------------------------------------------------------------------ parse --*/

void lsmvConfigFree(LsmvConfig *pCfg){
  if( pCfg ){
    int i;
    for(i=0; i<pCfg->nCol; i++) sqlite3_free(pCfg->azCol[i]);
    sqlite3_free(pCfg->azCol);
    sqlite3_free(pCfg->aAff);
    sqlite3_free(pCfg->zPath);
    sqlite3_free(pCfg->zDecl);
    sqlite3_free(pCfg);
  }
}

/* Append column zName of type zType to pCfg.  SQLITE_OK or NOMEM. */
static int vtAddColumn(LsmvConfig *pCfg, char *zName, const char *zType){
  char **azNew = sqlite3_realloc64(pCfg->azCol, sizeof(char*)*(pCfg->nCol+1));
  char *aNew;
  if( azNew==0 ){
    sqlite3_free(zName);
    return SQLITE_NOMEM;
  }
  pCfg->azCol = azNew;
  aNew = sqlite3_realloc64(pCfg->aAff, (size_t)pCfg->nCol+1);
  if( aNew==0 ){
    sqlite3_free(zName);
    return SQLITE_NOMEM;
  }
  pCfg->aAff = aNew;
  pCfg->azCol[pCfg->nCol] = zName;
  pCfg->aAff[pCfg->nCol] = lsmvAffinityOfType(zType);
  pCfg->nCol++;
  return SQLITE_OK;
}

int lsmvConfigParse(sqlite3 *db, const LsmvConn *pConn, int argc,
                    const char *const *argv, LsmvConfig **ppCfg, char **pzErr){
  LsmvConfig *pCfg;
  sqlite3_str *pDecl = 0;
  char *zDir = 0;
  int rc = SQLITE_OK;
  int i;
  unsigned mSeen = 0;             /* options already given */

  *ppCfg = 0;
  if( argc<4 ){
    *pzErr = sqlite3_mprintf("usage: CREATE VIRTUAL TABLE name USING "
                             "lsm(DIR [, option=value]... [, column]...)");
    return SQLITE_ERROR;
  }
  pCfg = sqlite3_malloc64(sizeof(*pCfg));
  if( pCfg==0 ) return SQLITE_NOMEM;
  memset(pCfg, 0, sizeof(*pCfg));
  lsm_options_init(&pCfg->opts);
  pCfg->nInline = LSMV_INLINE_DEFAULT;
  pDecl = sqlite3_str_new(db);
  sqlite3_str_appendall(pDecl, "CREATE TABLE x(");

  for(i=3; rc==SQLITE_OK && i<argc; i++){
    const char *zArg = vtSkipSpace(argv[i]);
    size_t nArg = strlen(zArg);
    size_t nId = 0;
    while( nArg>0 && isspace((unsigned char)zArg[nArg-1]) ) nArg--;
    if( vtIsIdStart((unsigned char)zArg[0]) ){
      while( nId<nArg && vtIsIdChar((unsigned char)zArg[nId]) ) nId++;
    }
    if( i==3 ){
      if( nId>0 && vtSkipSpace(&zArg[nId])[0]=='=' ){
        *pzErr = sqlite3_mprintf("the first argument must be the data "
                                 "directory, not the option \"%s\"", argv[i]);
        rc = SQLITE_ERROR;
      }else{
        zDir = vtDequote(zArg, nArg);
        if( zDir==0 ) rc = SQLITE_NOMEM;
      }
    }else if( nId>0 && vtSkipSpace(&zArg[nId])[0]=='=' ){
      char *zName = sqlite3_mprintf("%.*s", (int)nId, zArg);
      const char *zVal = vtSkipSpace(vtSkipSpace(&zArg[nId]) + 1);
      char *zValue = vtDequote(zVal, nArg - (size_t)(zVal - zArg));
      if( zName==0 || zValue==0 ){
        rc = SQLITE_NOMEM;
      }else{
        size_t k;
        rc = vtSetOption(pCfg, zName, zValue, pzErr);
        for(k=0; rc==SQLITE_OK && k<sizeof(vtOptions)/sizeof(vtOptions[0]); k++){
          if( sqlite3_stricmp(zName, vtOptions[k].zName)==0 ){
            if( mSeen & (1u<<k) ){
              *pzErr = sqlite3_mprintf("option %s given twice", zName);
              rc = SQLITE_ERROR;
            }
            mSeen |= 1u<<k;
          }
        }
      }
      sqlite3_free(zName);
      sqlite3_free(zValue);
    }else{
      char *zName = 0, *zType = 0;
      int k;
      rc = vtParseColumn(argv[i], pCfg->nCol==0, &zName, &zType, pzErr);
      for(k=0; rc==SQLITE_OK && k<pCfg->nCol; k++){
        if( sqlite3_stricmp(pCfg->azCol[k], zName)==0 ){
          *pzErr = sqlite3_mprintf("duplicate column name \"%s\"", zName);
          rc = SQLITE_ERROR;
        }
      }
      if( rc==SQLITE_OK ){
        sqlite3_str_appendf(pDecl, "%s\"%w\"%s%s%s", pCfg->nCol ? ", " : "",
                            zName, zType[0] ? " " : "", zType,
                            pCfg->nCol==0 ? " PRIMARY KEY" : "");
        rc = vtAddColumn(pCfg, zName, zType);
        zName = 0;
      }
      sqlite3_free(zName);
      sqlite3_free(zType);
    }
  }

  if( rc==SQLITE_OK && pCfg->nCol==0 ){
    char *zKey = sqlite3_mprintf("key");
    char *zValue = sqlite3_mprintf("value");
    rc = (zKey && zValue) ? SQLITE_OK : SQLITE_NOMEM;
    if( rc==SQLITE_OK ){
      rc = vtAddColumn(pCfg, zKey, "");
      zKey = 0;
    }
    if( rc==SQLITE_OK ){
      rc = vtAddColumn(pCfg, zValue, "");
      zValue = 0;
    }
    sqlite3_free(zKey);
    sqlite3_free(zValue);
    sqlite3_str_appendall(pDecl, "\"key\" PRIMARY KEY, \"value\"");
  }
  sqlite3_str_appendall(pDecl, ") WITHOUT ROWID");
  pCfg->zDecl = sqlite3_str_finish(pDecl);
  if( rc==SQLITE_OK && pCfg->zDecl==0 ) rc = SQLITE_NOMEM;
  if( rc==SQLITE_OK ){
    rc = vtResolvePath(db, argv[1], zDir, pConn->bAllowPaths,
                       &pCfg->zPath, pzErr);
  }
  sqlite3_free(zDir);
  if( rc!=SQLITE_OK ){
    lsmvConfigFree(pCfg);
    pCfg = 0;
  }
  *ppCfg = pCfg;
  return rc;
}
