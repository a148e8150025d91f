/*
** registry.c -- one engine per data directory, shared within the process.
**
** The engine admits one opener per directory (a second lsm_open of the
** same directory returns LSM_BUSY), while SQLite may connect the same
** table many times: from several connections, and twice in one
** connection when a database is ATTACHed under a second name.  So every
** opener goes through this registry, which keeps one LsmvShared per
** directory, identified by the directory's device and inode number (two
** spellings of one path are one directory), reference counted, and
** guarded by one process-wide mutex.  The mutex is held across lsm_open
** and lsm_close so that an open never races with the close of the same
** directory.  An engine opened read-only (for a read-only database) can
** be shared by read-only openers only.
**
** Dropping a table removes the engine's files once the last reference
** is released: LOCK, CURRENT, MANIFEST-*, *.log, *.sst and *.tmp, and
** then the directory if nothing else is left in it.  Other files are
** never touched.
*/
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include "vtabint.h"

SQLITE_EXTENSION_INIT3

struct LsmvShared {
  dev_t dev;                  /* identity of the directory */
  ino_t ino;
  char *zPath;                /* path it was opened by (sqlite3_malloc) */
  lsm_db *pDb;
  int nRef;
  int bReadOnly;              /* opened with lsm_options.read_only */
  int bDrop;                  /* remove the files at the last release */
  LsmvShared *pNext;
};

static pthread_mutex_t regMutex = PTHREAD_MUTEX_INITIALIZER;
static LsmvShared *regList = 0;

lsm_db *lsmvSharedDb(LsmvShared *p){
  return p->pDb;
}

int lsmvSharedOpen(const char *zPath, const lsm_options *pOpts, int bCreate,
                   LsmvShared **ppShared, char **pzErr){
  struct stat st;
  LsmvShared *p;
  int bMade = 0;
  int rc = SQLITE_OK;

  *ppShared = 0;
  pthread_mutex_lock(&regMutex);
  if( bCreate ){
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
  for(p=regList; rc==SQLITE_OK && p; p=p->pNext){
    if( p->dev==st.st_dev && p->ino==st.st_ino ) break;
  }
  if( rc==SQLITE_OK && p ){
    if( p->bReadOnly && !pOpts->read_only ){
      *pzErr = sqlite3_mprintf("directory \"%s\" is open read-only in this "
                               "process (by a read-only database)", zPath);
      rc = SQLITE_BUSY;
    }else if( p->bDrop ){
      *pzErr = sqlite3_mprintf("directory \"%s\" belongs to a dropped table "
                               "that another connection still has open", zPath);
      rc = SQLITE_BUSY;
    }else{
      p->nRef++;
      *ppShared = p;
    }
  }else if( rc==SQLITE_OK ){
    lsm_db *pDb = 0;
    int rcLsm = lsm_open(zPath, pOpts, &pDb);
    if( rcLsm!=LSM_OK ){
      *pzErr = sqlite3_mprintf("cannot open \"%s\": %s", zPath,
                               pDb ? lsm_errmsg(pDb) : lsm_errstr(rcLsm));
      lsm_close(pDb);
      /* a bad option must not leave a new empty directory behind */
      if( bMade ) rmdir(zPath);
      rc = rcLsm==LSM_INVALID ? SQLITE_ERROR : rcLsm;
    }else{
      p = sqlite3_malloc64(sizeof(*p));
      if( p ) memset(p, 0, sizeof(*p));
      if( p ) p->zPath = sqlite3_mprintf("%s", zPath);
      if( p==0 || p->zPath==0 ){
        sqlite3_free(p);
        lsm_close(pDb);
        rc = SQLITE_NOMEM;
      }else{
        p->dev = st.st_dev;
        p->ino = st.st_ino;
        p->pDb = pDb;
        p->nRef = 1;
        p->bReadOnly = pOpts->read_only;
        p->pNext = regList;
        regList = p;
        *ppShared = p;
      }
    }
  }
  pthread_mutex_unlock(&regMutex);
  return rc;
}

/* True if zName is one of the files the engine owns. */
static int regIsEngineFile(const char *zName){
  size_t n = strlen(zName);
  return strcmp(zName, "LOCK")==0
      || strcmp(zName, "CURRENT")==0
      || strncmp(zName, "MANIFEST-", 9)==0
      || (n>4 && strcmp(&zName[n-4], ".log")==0)
      || (n>4 && strcmp(&zName[n-4], ".sst")==0)
      || (n>4 && strcmp(&zName[n-4], ".tmp")==0);
}

/*
** Remove the engine's files from zDir, then zDir itself if it is empty.
** Returns SQLITE_OK or SQLITE_IOERR with *pzErr set.
*/
static int regRemoveFiles(const char *zDir, char **pzErr){
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
    zFile = sqlite3_mprintf("%s/%s", zDir, pEnt->d_name);
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
  /* fails, as it should, if the directory holds files of someone else */
  if( rc==SQLITE_OK ) rmdir(zDir);
  return rc;
}

int lsmvSharedRelease(LsmvShared *p, int bDrop, char **pzErr){
  int rc = SQLITE_OK;
  if( p==0 ) return SQLITE_OK;
  pthread_mutex_lock(&regMutex);
  if( bDrop ) p->bDrop = 1;
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
      int rc2 = regRemoveFiles(p->zPath, &zErr2);
      if( rc==SQLITE_OK && rc2!=SQLITE_OK ){
        rc = rc2;
        *pzErr = zErr2;
        zErr2 = 0;
      }
      sqlite3_free(zErr2);
    }
    sqlite3_free(p->zPath);
    sqlite3_free(p);
  }
  pthread_mutex_unlock(&regMutex);
  return rc;
}
