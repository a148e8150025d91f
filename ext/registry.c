/*
** registry.c -- one engine per data directory, shared within the process,
** and the files that tie a directory to its table.
**
** The engine admits one opener per directory (a second lsm_open of the
** same directory returns LSM_BUSY, in this process or another), while
** SQLite may connect the same table many times: from several
** connections, and twice in one connection when a database is ATTACHed
** under a second name.  So every opener goes through this registry, which
** keeps one LsmvShared per directory, identified by the directory's
** device and inode number (two spellings of one path are one directory),
** reference counted, and guarded by one process-wide mutex.  The mutex is
** held across lsm_open and lsm_close so that an open never races with the
** close of the same directory.  An engine opened read-only (for a
** read-only database) can be shared by read-only openers only.
**
** Ownership.  A directory belongs to one table of one database.  The
** OWNER file in it says which, in lines of "name value":
**
**     lsm table owner
**     token 32 hex digits, also stored in the table's shadow table
**     kind file | memory
**     table the table's name when it was created (for messages)
**     database the database file's path, or ":memory:" (for messages)
**
** It is written once, by CREATE VIRTUAL TABLE (through OWNER-new, synced
** and renamed).  A table of a database file must find its own token
** there; a CREATE must not find another table's (except one of an
** in-memory database, whose data it takes over, as a CREATE in a new
** in-memory database takes over its predecessor's).  Within the process
** the LsmvShared also remembers the owner's database: the device and
** inode of its file, or the connection and schema of an in-memory one, so
** that two databases never share an engine (their write locks would not
** serialise their writers).
**
** Transactions in doubt.  The first open of a directory in the process
** asks the engine for prepared transactions that a crash left unresolved
** and decides each one (vtabint.h essay): for a table of a database file,
** committed if its number is at most the shadow table's txn; for an
** in-memory one, committed; without an OWNER file, rolled back.
**
** DROP and CREATE.  A DROP marks the directory with a DROPPING file
** holding the owner's token until its transaction ends.  If it commits,
** the last release of the engine removes the engine's files: LOCK,
** CURRENT, MANIFEST-*, *.log, *.sst and *.tmp, OWNER and DROPPING, and
** then the directory if nothing else is left in it; other files are never
** touched.  If a crash comes first, the marker tells a later CREATE on
** the directory that the files may go.  A CREATE that rolls back removes
** the files the same way if it made the directory, and otherwise puts
** the previous OWNER file back.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include "vtabint.h"

SQLITE_EXTENSION_INIT3

#define REG_OWNER      "OWNER"
#define REG_OWNER_NEW  "OWNER-new"
#define REG_DROPPING   "DROPPING"
#define REG_WAIT_SECS  30       /* longest wait for another commit to end */

struct LsmvShared {
  dev_t dev;                  /* identity of the directory */
  ino_t ino;
  char *zPath;                /* path it was opened by (sqlite3_malloc) */
  lsm_db *pDb;
  int nRef;
  int bReadOnly;              /* opened with lsm_options.read_only */

  /* the owner (fixed after the open) */
  int bFile;                  /* a table of a database file */
  dev_t dbDev;                /* bFile: the database file */
  ino_t dbIno;
  char *zToken;               /* bFile: the table's token */
  sqlite3 *pMemDb;            /* !bFile: the connection and schema */
  char *zMemSchema;
  char *zOwnerDesc;           /* "table "kv" of database "/x/y.db"" */

  /* CREATE and DROP (regMutex) */
  int bDrop;                  /* remove the files at the last release */
  int nDropPending;           /* DROPs whose transaction is open */
  int bMadeDir;               /* the CREATE made the directory */
  int bOldOwner;              /* the CREATE replaced an OWNER file ... */
  char *zOldOwner;            /* ... whose contents were these */

  /* transactions (mutex) */
  pthread_mutex_t mutex;
  pthread_cond_t cond;        /* signalled when a prepared one ends */
  uint64_t iLastTxn;          /* largest transaction number used */
  LsmvPrep *pPrep;            /* prepared, not yet resolved */

  LsmvShared *pNext;
};

static pthread_mutex_t regMutex = PTHREAD_MUTEX_INITIALIZER;
static LsmvShared *regList = 0;

lsm_db *lsmvSharedDb(LsmvShared *p){
  return p->pDb;
}

const char *lsmvSharedPath(LsmvShared *p){
  return p->zPath;
}

void lsmvSharedRef(LsmvShared *p){
  pthread_mutex_lock(&regMutex);
  p->nRef++;
  pthread_mutex_unlock(&regMutex);
}

/*------------------------------------------------------------ small files --*/

/* zDir + "/" + zName, or NULL on OOM. */
static char *regJoin(const char *zDir, const char *zName){
  return sqlite3_mprintf("%s/%s", zDir, zName);
}

/*
** Read the whole (small) file zDir/zName into *pzText (sqlite3_malloc,
** NUL-terminated).  SQLITE_OK with *pzText NULL if it does not exist;
** SQLITE_IOERR with *pzErr set if it cannot be read.
*/
static int regReadFile(const char *zDir, const char *zName, char **pzText,
                       char **pzErr){
  char *zPath = regJoin(zDir, zName);
  sqlite3_str *pStr;
  char aBuf[512];
  int fd, rc = SQLITE_OK;
  *pzText = 0;
  if( zPath==0 ) return SQLITE_NOMEM;
  fd = open(zPath, O_RDONLY);
  if( fd<0 ){
    if( errno!=ENOENT ){
      *pzErr = sqlite3_mprintf("cannot read \"%s\": %s", zPath, strerror(errno));
      rc = SQLITE_IOERR;
    }
    sqlite3_free(zPath);
    return rc;
  }
  pStr = sqlite3_str_new(0);
  for(;;){
    ssize_t n = read(fd, aBuf, sizeof(aBuf));
    if( n<0 && errno==EINTR ) continue;
    if( n<0 ){
      *pzErr = sqlite3_mprintf("cannot read \"%s\": %s", zPath, strerror(errno));
      rc = SQLITE_IOERR;
      break;
    }
    if( n==0 ) break;
    sqlite3_str_append(pStr, aBuf, (int)n);
  }
  close(fd);
  if( rc==SQLITE_OK && sqlite3_str_errcode(pStr) ) rc = SQLITE_NOMEM;
  if( rc==SQLITE_OK && sqlite3_str_length(pStr)==0 ){
    *pzText = sqlite3_mprintf("");
  }else{
    *pzText = sqlite3_str_finish(pStr);
    pStr = 0;
  }
  if( pStr ) sqlite3_free(sqlite3_str_finish(pStr));
  if( rc==SQLITE_OK && *pzText==0 ) rc = SQLITE_NOMEM;
  if( rc!=SQLITE_OK ){
    sqlite3_free(*pzText);
    *pzText = 0;
  }
  sqlite3_free(zPath);
  return rc;
}

/* fsync the directory zDir, so that entries made or removed in it last. */
static int regSyncDir(const char *zDir, char **pzErr){
  int fd = open(zDir, O_RDONLY);
  int rc = SQLITE_OK;
  if( fd<0 || (fsync(fd)!=0 && errno!=EINVAL) ){
    *pzErr = sqlite3_mprintf("cannot sync directory \"%s\": %s", zDir,
                             strerror(errno));
    rc = SQLITE_IOERR;
  }
  if( fd>=0 ) close(fd);
  return rc;
}

/*
** Replace file zDir/zName by zText, durably: write zDir/OWNER-new, sync
** it, rename it over the file, sync the directory.  SQLITE_OK or
** SQLITE_IOERR (SQLITE_FULL) with *pzErr set.
*/
static int regWriteFile(const char *zDir, const char *zName, const char *zText,
                        char **pzErr){
  char *zTmp = regJoin(zDir, REG_OWNER_NEW);
  char *zPath = regJoin(zDir, zName);
  size_t n = strlen(zText), iOff = 0;
  int fd = -1, rc = SQLITE_OK;
  if( zTmp==0 || zPath==0 ){
    rc = SQLITE_NOMEM;
    goto done;
  }
  fd = open(zTmp, O_WRONLY|O_CREAT|O_TRUNC, 0644);
  if( fd<0 ) goto io_error;
  while( iOff<n ){
    ssize_t nw = write(fd, zText+iOff, n-iOff);
    if( nw<0 && errno==EINTR ) continue;
    if( nw<0 ) goto io_error;
    iOff += (size_t)nw;
  }
  if( fsync(fd)!=0 ) goto io_error;
  close(fd);
  fd = -1;
  if( rename(zTmp, zPath)!=0 ) goto io_error;
  rc = regSyncDir(zDir, pzErr);
  goto done;

io_error:
  *pzErr = sqlite3_mprintf("cannot write \"%s\": %s", zPath ? zPath : zDir,
                           strerror(errno));
  rc = errno==ENOSPC ? SQLITE_FULL : SQLITE_IOERR;
  if( fd>=0 ) close(fd);
  if( zTmp ) unlink(zTmp);
done:
  sqlite3_free(zTmp);
  sqlite3_free(zPath);
  return rc;
}

/* Remove zDir/zName if it exists (and sync the directory).  Errors are
** returned with *pzErr set. */
static int regRemoveFile(const char *zDir, const char *zName, char **pzErr){
  char *zPath = regJoin(zDir, zName);
  int rc = SQLITE_OK;
  if( zPath==0 ) return SQLITE_NOMEM;
  if( unlink(zPath)==0 ){
    rc = regSyncDir(zDir, pzErr);
  }else if( errno!=ENOENT ){
    *pzErr = sqlite3_mprintf("cannot remove \"%s\": %s", zPath, strerror(errno));
    rc = SQLITE_IOERR;
  }
  sqlite3_free(zPath);
  return rc;
}

/*------------------------------------------------------------------ OWNER --*/

typedef struct RegOwner RegOwner;
struct RegOwner {
  char *zText;                /* the whole file, NULL if there is none */
  int bFile;                  /* kind file (else memory) */
  char zToken[33];
  char *zTable;               /* names, for messages */
  char *zDatabase;
  int bDropping;              /* a DROPPING marker is present */
};

static void regOwnerClear(RegOwner *p){
  sqlite3_free(p->zText);
  sqlite3_free(p->zTable);
  sqlite3_free(p->zDatabase);
  memset(p, 0, sizeof(*p));
}

/* The value of line "zKey value" of zText, as a new string, or NULL. */
static char *regOwnerField(const char *zText, const char *zKey){
  size_t nKey = strlen(zKey);
  const char *z = zText;
  while( z && *z ){
    size_t nLine = strcspn(z, "\n");
    if( nLine>nKey && strncmp(z, zKey, nKey)==0 && z[nKey]==' ' ){
      return sqlite3_mprintf("%.*s", (int)(nLine-nKey-1), z+nKey+1);
    }
    z += nLine;
    if( *z=='\n' ) z++;
  }
  return 0;
}

/*
** Read the OWNER file of zDir (and whether it is marked DROPPING) into
** *p.  A missing file leaves p->zText NULL.  A file that does not parse
** is SQLITE_CORRUPT with *pzErr set.
*/
static int regOwnerRead(const char *zDir, RegOwner *p, char **pzErr){
  char *zKind = 0, *zToken = 0, *zMark = 0;
  int rc;
  memset(p, 0, sizeof(*p));
  rc = regReadFile(zDir, REG_OWNER, &p->zText, pzErr);
  if( rc!=SQLITE_OK || p->zText==0 ) return rc;
  zKind = regOwnerField(p->zText, "kind");
  zToken = regOwnerField(p->zText, "token");
  p->zTable = regOwnerField(p->zText, "table");
  p->zDatabase = regOwnerField(p->zText, "database");
  if( strncmp(p->zText, "lsm table owner\n", 16)!=0 || zKind==0
   || zToken==0 || strlen(zToken)!=32 || p->zTable==0 || p->zDatabase==0
   || (strcmp(zKind, "file")!=0 && strcmp(zKind, "memory")!=0)
  ){
    *pzErr = sqlite3_mprintf("%s/" REG_OWNER " is not an owner file of an lsm "
                             "table", zDir);
    rc = SQLITE_CORRUPT;
  }else{
    p->bFile = strcmp(zKind, "file")==0;
    memcpy(p->zToken, zToken, 33);
    rc = regReadFile(zDir, REG_DROPPING, &zMark, pzErr);
    p->bDropping = zMark!=0;
  }
  sqlite3_free(zKind);
  sqlite3_free(zToken);
  sqlite3_free(zMark);
  if( rc!=SQLITE_OK ) regOwnerClear(p);
  return rc;
}

/* s with newlines replaced, for a one-line field. */
static void regAppendLine(sqlite3_str *pStr, const char *zKey, const char *z){
  sqlite3_str_appendf(pStr, "%s ", zKey);
  for(; *z; z++) sqlite3_str_appendchar(pStr, 1, *z=='\n' ? ' ' : *z);
  sqlite3_str_appendchar(pStr, 1, '\n');
}

/* The OWNER file of pOwner's table.  NULL on OOM. */
static char *regOwnerText(const LsmvOwner *pOwner){
  sqlite3_str *pStr = sqlite3_str_new(0);
  sqlite3_str_appendall(pStr, "lsm table owner\n");
  regAppendLine(pStr, "token", pOwner->zToken);
  regAppendLine(pStr, "kind", pOwner->zDbFile ? "file" : "memory");
  regAppendLine(pStr, "table", pOwner->zTable);
  regAppendLine(pStr, "database", pOwner->zDbFile ? pOwner->zDbFile : ":memory:");
  return sqlite3_str_finish(pStr);
}

/* "table "T" of database "D"" for the owner described by the file. */
static char *regOwnerFileDesc(const RegOwner *p){
  if( p->bFile ){
    return sqlite3_mprintf("table \"%s\" of database \"%s\"", p->zTable,
                           p->zDatabase);
  }
  return sqlite3_mprintf("table \"%s\" of an in-memory database", p->zTable);
}

/* The same for an opener. */
static char *regOwnerDesc(const LsmvOwner *pOwner){
  if( pOwner->zDbFile ){
    return sqlite3_mprintf("table \"%s\" of database \"%s\"", pOwner->zTable,
                           pOwner->zDbFile);
  }
  return sqlite3_mprintf("table \"%s\" of %s database", pOwner->zTable,
                         sqlite3_stricmp(pOwner->zSchema, "temp")==0 ?
                         "the temp" : "an in-memory");
}

int lsmvOwnerDropping(const char *zPath, const char *zDbFile, char **pzToken){
  RegOwner o;
  char *zErr = 0;
  int bRet = 0;
  *pzToken = 0;
  if( regOwnerRead(zPath, &o, &zErr)==SQLITE_OK && o.zText
   && o.bFile && o.bDropping && strcmp(o.zDatabase, zDbFile)==0
  ){
    *pzToken = sqlite3_mprintf("%s", o.zToken);
    bRet = *pzToken!=0;
  }
  sqlite3_free(zErr);
  regOwnerClear(&o);
  return bRet;
}

/*------------------------------------------------------------ engine files --*/

/* True if zName is one of the files the engine or this registry owns. */
static int regIsEngineFile(const char *zName){
  size_t n = strlen(zName);
  return strcmp(zName, "LOCK")==0
      || strcmp(zName, "CURRENT")==0
      || strcmp(zName, REG_OWNER)==0
      || strcmp(zName, REG_OWNER_NEW)==0
      || strcmp(zName, REG_DROPPING)==0
      || strncmp(zName, "MANIFEST-", 9)==0
      || (n>4 && strcmp(&zName[n-4], ".log")==0)
      || (n>4 && strcmp(&zName[n-4], ".sst")==0)
      || (n>4 && strcmp(&zName[n-4], ".tmp")==0);
}

/*
** Set *pzName to the name of an entry of zDir that is not the engine's
** (sqlite3_malloc), or NULL if there is none or zDir cannot be read.
** SQLITE_OK or SQLITE_NOMEM.
*/
static int regForeignFile(const char *zDir, char **pzName){
  DIR *pDir = opendir(zDir);
  struct dirent *pEnt;
  *pzName = 0;
  if( pDir==0 ) return SQLITE_OK;
  while( (pEnt = readdir(pDir))!=0 ){
    if( strcmp(pEnt->d_name, ".")==0 || strcmp(pEnt->d_name, "..")==0 ) continue;
    if( !regIsEngineFile(pEnt->d_name) ){
      *pzName = sqlite3_mprintf("%s", pEnt->d_name);
      break;
    }
  }
  closedir(pDir);
  return (pEnt && *pzName==0) ? SQLITE_NOMEM : SQLITE_OK;
}

int lsmvDirOnReadOnlyFs(const char *zPath){
  struct statvfs sv;
  return statvfs(zPath, &sv)==0 && (sv.f_flag & ST_RDONLY)!=0;
}

/*
** Remove the engine's files from zDir, the DROPPING marker last (it says
** the rest may go), then with bRmdir zDir itself if it is empty.  Returns
** SQLITE_OK or SQLITE_IOERR with *pzErr set.
*/
static int regRemoveFiles(const char *zDir, int bRmdir, char **pzErr){
  DIR *pDir = opendir(zDir);
  struct dirent *pEnt;
  int rc = SQLITE_OK;
  if( pDir==0 ){
    if( errno==ENOENT ) return SQLITE_OK;
    *pzErr = sqlite3_mprintf("cannot list \"%s\": %s", zDir, strerror(errno));
    return SQLITE_IOERR;
  }
  while( rc==SQLITE_OK && (pEnt = readdir(pDir))!=0 ){
    char *zFile;
    if( !regIsEngineFile(pEnt->d_name) ) continue;
    if( strcmp(pEnt->d_name, REG_DROPPING)==0 ) continue;
    zFile = regJoin(zDir, pEnt->d_name);
    if( zFile==0 ){
      rc = SQLITE_NOMEM;
    }else if( unlink(zFile)!=0 && errno!=ENOENT ){
      *pzErr = sqlite3_mprintf("cannot remove \"%s\": %s", zFile,
                               strerror(errno));
      rc = SQLITE_IOERR;
    }
    sqlite3_free(zFile);
  }
  closedir(pDir);
  if( rc==SQLITE_OK ) rc = regRemoveFile(zDir, REG_DROPPING, pzErr);
  /* fails, as it should, if the directory holds files of someone else */
  if( rc==SQLITE_OK && bRmdir ) rmdir(zDir);
  return rc;
}

/*------------------------------------------------------------------- open --*/

/* Free an LsmvShared that is not (or no longer) in the list. */
static void regFree(LsmvShared *p){
  if( p ){
    pthread_mutex_destroy(&p->mutex);
    pthread_cond_destroy(&p->cond);
    sqlite3_free(p->zPath);
    sqlite3_free(p->zToken);
    sqlite3_free(p->zMemSchema);
    sqlite3_free(p->zOwnerDesc);
    sqlite3_free(p->zOldOwner);
    sqlite3_free(p);
  }
}

/*
** Check that pOwner may share the open engine p.  SQLITE_OK, or an error
** with *pzErr naming the owner.
*/
static int regCheckShared(LsmvShared *p, const LsmvOwner *pOwner,
                          const struct stat *pDbStat, const lsm_options *pOpts,
                          int eOpen, char **pzErr){
  /* the table is there for everyone else until its DROP commits */
  if( p->nDropPending && eOpen!=LSMV_OPEN_CONNECT ){
    *pzErr = sqlite3_mprintf("directory \"%s\" belongs to %s, whose DROP TABLE "
                             "has not committed yet", p->zPath, p->zOwnerDesc);
    return SQLITE_BUSY;
  }
  if( p->bDrop ){
    *pzErr = sqlite3_mprintf("directory \"%s\" belongs to a dropped table "
                             "that another connection still has open", p->zPath);
    return SQLITE_BUSY;
  }
  if( eOpen!=LSMV_OPEN_CONNECT
   || (pOwner->zDbFile!=0)!=p->bFile
   || (p->bFile && (pDbStat->st_dev!=p->dbDev || pDbStat->st_ino!=p->dbIno
                    || strcmp(pOwner->zToken, p->zToken)!=0))
   || (!p->bFile && (pOwner->db!=p->pMemDb
                     || sqlite3_stricmp(pOwner->zSchema, p->zMemSchema)!=0))
  ){
    *pzErr = sqlite3_mprintf("directory \"%s\" belongs to %s (open in this "
                             "process)", p->zPath, p->zOwnerDesc);
    return SQLITE_ERROR;
  }
  if( p->bReadOnly && !pOpts->read_only ){
    *pzErr = sqlite3_mprintf("directory \"%s\" is open read-only in this "
                             "process (by a read-only database)", p->zPath);
    return SQLITE_BUSY;
  }
  return SQLITE_OK;
}

/*
** Check the OWNER file o of directory zPath against pOwner opening it
** with eOpen.  SQLITE_OK, or an error with *pzErr saying whose it is.
*/
static int regCheckOwner(const char *zPath, const RegOwner *o,
                         const LsmvOwner *pOwner, int eOpen, char **pzErr){
  char *zDesc;
  int rc = SQLITE_OK;
  if( o->zText==0 ) return SQLITE_OK;
  if( eOpen==LSMV_OPEN_CONNECT ){
    if( (pOwner->zDbFile!=0)==o->bFile
     && (!o->bFile || strcmp(o->zToken, pOwner->zToken)==0)
    ){
      return SQLITE_OK;
    }
  }else if( !o->bFile || eOpen==LSMV_OPEN_REPLACE ){
    return SQLITE_OK;
  }
  zDesc = regOwnerFileDesc(o);
  if( eOpen==LSMV_OPEN_CONNECT ){
    *pzErr = sqlite3_mprintf("directory \"%s\" belongs to %s, not to this "
                             "table", zPath, zDesc);
  }else{
    *pzErr = sqlite3_mprintf("directory \"%s\" belongs to %s; drop that table, "
                             "or remove %s/" REG_OWNER " to let this table take "
                             "its rows over", zPath, zDesc, zPath);
  }
  rc = SQLITE_ERROR;
  sqlite3_free(zDesc);
  return rc;
}

/*
** Decide the transactions a crash left in doubt in the engine pDb just
** opened, and restore the inline commits its log lost (vtabint.h essay);
** o is the directory's OWNER file, already checked against pOwner.  Sets
** *piMax to the largest number seen.
** SQLITE_OK or an error with *pzErr set.
*/
static int regResolveInDoubt(lsm_db *pDb, const char *zPath, const RegOwner *o,
                             const LsmvOwner *pOwner, int eOpen,
                             const lsm_options *pOpts, uint64_t *piMax,
                             char **pzErr){
  uint64_t aTxn[16];
  uint64_t iCommitted = 0;
  sqlite3 *dbPriv = 0;
  int bReadOnly = pOpts->read_only;
  int nCommit = 0, nRollback = 0, nReplay = 0;
  int rc = SQLITE_OK;
  int bFile, bKnown, n;

  /* whose decisions: the OWNER file's table, or if there is none the
  ** opener of an existing table; a CREATE without one has no record */
  bKnown = o->zText!=0 || eOpen==LSMV_OPEN_CONNECT;
  bFile = o->zText ? o->bFile : pOwner->zDbFile!=0;
  n = lsm_prepared(pDb, aTxn, 16);
  if( n>0 && bReadOnly ){
    *pzErr = sqlite3_mprintf("directory \"%s\" holds %d transaction%s that a "
                             "crash left undecided; open the database "
                             "read-write once to resolve them", zPath, n,
                             n==1 ? "" : "s");
    return SQLITE_BUSY;
  }
  /* the database's records decide prepared transactions and, for an
  ** existing table that may commit inline, hold the batches a crash took
  ** from the engine's log */
  if( bKnown && bFile
   && (n>0 || (eOpen==LSMV_OPEN_CONNECT && pOpts->sync_mode!=LSM_SYNC_OFF))
  ){
    rc = lsmvShadowOpenPrivate(pOwner, bReadOnly, &dbPriv, pzErr);
    if( rc==SQLITE_OK ) rc = lsmvShadowCommitted(dbPriv, pOwner, &iCommitted, pzErr);
  }
  while( rc==SQLITE_OK && (n = lsm_prepared(pDb, aTxn, 16))>0 ){
    int i;
    if( n>16 ) n = 16;
    for(i=0; rc==SQLITE_OK && i<n; i++){
      int bCommit = bKnown && (!bFile || aTxn[i]<=iCommitted);
      int rcLsm = bCommit ? lsm_commit_prepared(pDb, aTxn[i])
                          : lsm_rollback_prepared(pDb, aTxn[i]);
      if( aTxn[i]>*piMax ) *piMax = aTxn[i];
      if( bCommit ) nCommit++;
      else nRollback++;
      if( rcLsm!=LSM_OK ){
        *pzErr = sqlite3_mprintf("resolving transaction %llu left in doubt in "
                                 "\"%s\": %s", (unsigned long long)aTxn[i],
                                 zPath, lsm_errmsg(pDb));
        rc = rcLsm;
      }
    }
  }
  if( rc==SQLITE_OK && dbPriv ){
    rc = lsmvShadowReplay(dbPriv, pOwner, pDb, iCommitted, bReadOnly, &nReplay,
                          pzErr);
    if( nReplay>0 ){
      sqlite3_log(SQLITE_NOTICE, "lsm: %s: restored %d committed transaction%s "
                  "that a crash took from the log", zPath, nReplay,
                  nReplay==1 ? "" : "s");
    }
  }
  sqlite3_close(dbPriv);
  if( lsm_txn_last(pDb)>*piMax ) *piMax = lsm_txn_last(pDb);
  if( nCommit+nRollback>0 ){
    sqlite3_log(SQLITE_NOTICE, "lsm: %s: of %d transactions a crash left in "
                "doubt, committed %d, rolled back %d", zPath, nCommit+nRollback,
                nCommit, nRollback);
  }
  return rc;
}

/*
** Open the engine of zPath (not open in the process) for pOwner, with the
** checks, the resolution of transactions in doubt and the OWNER file
** writes described in the header comment.  On success *ppNew is a new
** LsmvShared with one reference, not yet in the list.
*/
static int regOpenNew(const char *zPath, const struct stat *pDirStat,
                      const struct stat *pDbStat, const lsm_options *pOpts,
                      const LsmvOwner *pOwner, int eOpen, int bMade,
                      LsmvShared **ppNew, char **pzErr){
  LsmvShared *p = 0;
  RegOwner o;
  lsm_db *pDb = 0;
  lsm_options opts = *pOpts;
  char *zText = 0;
  uint64_t iMax = 0;
  int rc;

  *ppNew = 0;
  rc = regOwnerRead(zPath, &o, pzErr);
  if( rc==SQLITE_OK ) rc = regCheckOwner(zPath, &o, pOwner, eOpen, pzErr);
  if( rc==SQLITE_OK && eOpen==LSMV_OPEN_REPLACE && o.zText ){
    /* its DROP committed; the crash came before the files went */
    rc = regRemoveFiles(zPath, 0, pzErr);
    regOwnerClear(&o);
  }
  if( rc==SQLITE_OK ){
    int rcLsm;
#ifdef LSMV_TEST_HOOKS
    if( lsmvTestEnv ) opts.env = lsmvTestEnv;
#endif
    rcLsm = lsm_open(zPath, &opts, &pDb);
    if( rcLsm!=LSM_OK ){
      *pzErr = sqlite3_mprintf("cannot open \"%s\": %s", zPath,
                               pDb ? lsm_errmsg(pDb) : lsm_errstr(rcLsm));
      rc = rcLsm==LSM_INVALID ? SQLITE_ERROR : rcLsm;
    }
  }
  if( rc==SQLITE_OK ){
    rc = regResolveInDoubt(pDb, zPath, &o, pOwner, eOpen, &opts, &iMax, pzErr);
  }

  /* OWNER: a CREATE writes its own, keeping the old one for a rollback; a
  ** CONNECT writes one that is missing and unmarks a DROP that never
  ** committed (this table exists) */
  if( rc==SQLITE_OK && !pOpts->read_only ){
    if( eOpen!=LSMV_OPEN_CONNECT || o.zText==0 ){
      zText = regOwnerText(pOwner);
      rc = zText ? regWriteFile(zPath, REG_OWNER, zText, pzErr) : SQLITE_NOMEM;
    }
    if( rc==SQLITE_OK && eOpen==LSMV_OPEN_CONNECT && o.bDropping ){
      rc = regRemoveFile(zPath, REG_DROPPING, pzErr);
    }
  }

  if( rc==SQLITE_OK ){
    p = sqlite3_malloc64(sizeof(*p));
    if( p==0 ){
      rc = SQLITE_NOMEM;
    }else{
      memset(p, 0, sizeof(*p));
      pthread_mutex_init(&p->mutex, 0);
      pthread_cond_init(&p->cond, 0);
      p->zPath = sqlite3_mprintf("%s", zPath);
      p->zOwnerDesc = regOwnerDesc(pOwner);
      if( pOwner->zDbFile ){
        p->bFile = 1;
        p->dbDev = pDbStat->st_dev;
        p->dbIno = pDbStat->st_ino;
        p->zToken = sqlite3_mprintf("%s", pOwner->zToken);
      }else{
        p->pMemDb = pOwner->db;
        p->zMemSchema = sqlite3_mprintf("%s", pOwner->zSchema);
      }
      if( p->zPath==0 || p->zOwnerDesc==0 || (p->bFile ? p->zToken==0
                                                       : p->zMemSchema==0) ){
        rc = SQLITE_NOMEM;
      }
    }
  }
  if( rc==SQLITE_OK && eOpen!=LSMV_OPEN_CONNECT ){
    p->bMadeDir = bMade;
    p->bOldOwner = o.zText!=0;
    p->zOldOwner = o.zText;
    o.zText = 0;
  }
  if( rc==SQLITE_OK ){
    p->dev = pDirStat->st_dev;
    p->ino = pDirStat->st_ino;
    p->pDb = pDb;
    p->nRef = 1;
    p->bReadOnly = pOpts->read_only;
    p->iLastTxn = iMax;
    *ppNew = p;
  }else{
    regFree(p);
    lsm_close(pDb);
  }
  sqlite3_free(zText);
  regOwnerClear(&o);
  return rc;
}

int lsmvSharedOpenTable(const char *zPath, const lsm_options *pOpts,
                        const LsmvOwner *pOwner, int eOpen,
                        LsmvShared **ppShared, char **pzErr){
  struct stat st, stDb;
  LsmvShared *p;
  int bMade = 0;
  int rc = SQLITE_OK;

  *ppShared = 0;
  memset(&stDb, 0, sizeof(stDb));
  if( pOwner->zDbFile && stat(pOwner->zDbFile, &stDb)!=0 ){
    *pzErr = sqlite3_mprintf("cannot find database file \"%s\": %s",
                             pOwner->zDbFile, strerror(errno));
    return SQLITE_CANTOPEN;
  }
  pthread_mutex_lock(&regMutex);
  if( eOpen!=LSMV_OPEN_CONNECT || !pOpts->read_only ){
    if( mkdir(zPath, 0777)==0 ){
      bMade = 1;
    }else if( errno!=EEXIST ){
      *pzErr = sqlite3_mprintf("cannot create directory \"%s\": %s",
                               zPath, strerror(errno));
      rc = SQLITE_CANTOPEN;
    }
  }
  if( rc==SQLITE_OK && stat(zPath, &st)!=0 ){
    *pzErr = sqlite3_mprintf("cannot open directory \"%s\": %s",
                             zPath, strerror(errno));
    rc = SQLITE_CANTOPEN;
  }
  if( rc==SQLITE_OK && !S_ISDIR(st.st_mode) ){
    *pzErr = sqlite3_mprintf("\"%s\" is not a directory", zPath);
    rc = SQLITE_CANTOPEN;
  }
  if( rc==SQLITE_OK && eOpen!=LSMV_OPEN_CONNECT && !bMade ){
    /* a table's directory holds its files only: taking over one that
    ** holds something else would mix them (and DROP would leave a
    ** half-emptied directory) */
    char *zForeign = 0;
    rc = regForeignFile(zPath, &zForeign);
    if( zForeign ){
      *pzErr = sqlite3_mprintf("directory \"%s\" holds files that are not an "
                               "lsm table's (\"%s\"); give the table a new or "
                               "empty directory", zPath, zForeign);
      sqlite3_free(zForeign);
      rc = SQLITE_CANTOPEN;
    }
  }
  for(p=regList; rc==SQLITE_OK && p; p=p->pNext){
    if( p->dev==st.st_dev && p->ino==st.st_ino ) break;
  }
  if( rc==SQLITE_OK && p ){
    rc = regCheckShared(p, pOwner, &stDb, pOpts, eOpen, pzErr);
    if( rc==SQLITE_OK ){
      p->nRef++;
      *ppShared = p;
    }
  }else if( rc==SQLITE_OK ){
    rc = regOpenNew(zPath, &st, &stDb, pOpts, pOwner, eOpen, bMade, &p, pzErr);
    if( rc==SQLITE_OK ){
      p->pNext = regList;
      regList = p;
      *ppShared = p;
    }else if( bMade ){
      /* a failed CREATE must not leave a new directory behind */
      char *zIgnore = 0;
      regRemoveFiles(zPath, 1, &zIgnore);
      sqlite3_free(zIgnore);
    }
  }
  pthread_mutex_unlock(&regMutex);
  return rc;
}

int lsmvSharedOpen(const char *zPath, const lsm_options *pOpts, int bCreate,
                   LsmvShared **ppShared, char **pzErr){
  struct stat st;
  LsmvShared *p = 0;
  *ppShared = 0;
  if( bCreate || !pOpts->read_only ){
    *pzErr = sqlite3_mprintf("only the tables open their directories for "
                             "writing");
    return SQLITE_MISUSE;
  }
  pthread_mutex_lock(&regMutex);
  if( stat(zPath, &st)==0 ){
    for(p=regList; p; p=p->pNext){
      if( p->dev==st.st_dev && p->ino==st.st_ino ) break;
    }
  }
  if( p ){
    p->nRef++;
    *ppShared = p;
  }else{
    *pzErr = sqlite3_mprintf("directory \"%s\" is not open in this process",
                             zPath);
  }
  pthread_mutex_unlock(&regMutex);
  return p ? SQLITE_OK : SQLITE_ERROR;
}

/*---------------------------------------------------------------- release --*/

int lsmvSharedRelease(LsmvShared *p, char **pzErr){
  int rc = SQLITE_OK;
  if( p==0 ) return SQLITE_OK;
  pthread_mutex_lock(&regMutex);
  if( --p->nRef==0 ){
    LsmvShared **pp;
    int rcLsm;
    for(pp=&regList; *pp!=p; pp=&(*pp)->pNext);
    *pp = p->pNext;
    rcLsm = lsm_close(p->pDb);
    if( rcLsm!=LSM_OK ){
      *pzErr = sqlite3_mprintf("closing \"%s\": %s", p->zPath,
                               lsm_errstr(rcLsm));
      rc = rcLsm;
    }
    if( p->bDrop ){
      char *zErr2 = 0;
      int rc2 = regRemoveFiles(p->zPath, 1, &zErr2);
      if( rc==SQLITE_OK && rc2!=SQLITE_OK ){
        rc = rc2;
        *pzErr = zErr2;
        zErr2 = 0;
      }
      sqlite3_free(zErr2);
    }
    regFree(p);
  }
  pthread_mutex_unlock(&regMutex);
  return rc;
}

/*--------------------------------------------------------- CREATE and DROP --*/

void lsmvSharedCreateEnd(LsmvShared *p, int bCommit){
  pthread_mutex_lock(&regMutex);
  if( !bCommit ){
    if( p->bMadeDir ){
      p->bDrop = 1;
    }else{
      /* the directory was there before: give it back its OWNER file.
      ** Nobody can report a failure here; a stale OWNER file only makes
      ** the next CREATE on the directory say whose it was. */
      char *zIgnore = 0;
      if( p->bOldOwner ){
        regWriteFile(p->zPath, REG_OWNER, p->zOldOwner, &zIgnore);
      }else{
        regRemoveFile(p->zPath, REG_OWNER, &zIgnore);
      }
      sqlite3_free(zIgnore);
    }
  }
  sqlite3_free(p->zOldOwner);
  p->zOldOwner = 0;
  p->bOldOwner = 0;
  p->bMadeDir = 0;
  pthread_mutex_unlock(&regMutex);
}

int lsmvSharedDropBegin(LsmvShared *p, char **pzErr){
  int rc = SQLITE_OK;
  pthread_mutex_lock(&regMutex);
  if( p->nDropPending==0 ){
    rc = regWriteFile(p->zPath, REG_DROPPING, p->zToken ? p->zToken : "memory",
                      pzErr);
  }
  if( rc==SQLITE_OK ) p->nDropPending++;
  pthread_mutex_unlock(&regMutex);
  return rc;
}

void lsmvSharedDropEnd(LsmvShared *p, int bCommit){
  pthread_mutex_lock(&regMutex);
  p->nDropPending--;
  if( bCommit ){
    p->bDrop = 1;
  }else if( p->nDropPending==0 ){
    char *zIgnore = 0;
    regRemoveFile(p->zPath, REG_DROPPING, &zIgnore);
    sqlite3_free(zIgnore);
  }
  pthread_mutex_unlock(&regMutex);
}

/*----------------------------------------------------------- transactions --*/

uint64_t lsmvSharedTxnNext(LsmvShared *p, uint64_t iFloor){
  uint64_t iTxn;
  pthread_mutex_lock(&p->mutex);
  if( p->iLastTxn<iFloor ) p->iLastTxn = iFloor;
  iTxn = ++p->iLastTxn;
  pthread_mutex_unlock(&p->mutex);
  return iTxn;
}

void lsmvSharedPrepared(LsmvShared *p, LsmvPrep *pPrep, int bAdd){
  pthread_mutex_lock(&p->mutex);
  if( bAdd ){
    pPrep->pNext = p->pPrep;
    p->pPrep = pPrep;
  }else{
    LsmvPrep **pp;
    for(pp=&p->pPrep; *pp && *pp!=pPrep; pp=&(*pp)->pNext);
    if( *pp ) *pp = pPrep->pNext;
    pthread_cond_broadcast(&p->cond);
  }
  pthread_mutex_unlock(&p->mutex);
}

int lsmvSharedWait(LsmvShared *p, sqlite3 *db, char **pzErr){
  struct timespec tEnd;
  int rc = SQLITE_OK;
  clock_gettime(CLOCK_REALTIME, &tEnd);
  tEnd.tv_sec += REG_WAIT_SECS;
  pthread_mutex_lock(&p->mutex);
  for(;;){
    LsmvPrep *pPrep;
    for(pPrep=p->pPrep; pPrep && pPrep->db==db; pPrep=pPrep->pNext);
    if( pPrep==0 ) break;
    if( pthread_cond_timedwait(&p->cond, &p->mutex, &tEnd)==ETIMEDOUT ){
      *pzErr = sqlite3_mprintf("another connection's commit to \"%s\" has not "
                               "finished after %d seconds", p->zPath,
                               REG_WAIT_SECS);
      rc = SQLITE_BUSY;
      break;
    }
  }
  pthread_mutex_unlock(&p->mutex);
  return rc;
}
