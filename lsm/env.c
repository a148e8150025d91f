/*
** env.c -- the POSIX environment, and file helpers built on any env.
**
** lsm_env_default() returns a static lsm_env whose methods call the
** operating system directly.  Every file-system call the engine makes
** goes through an lsm_env (lsm.h), so a test can substitute an env that
** injects faults or simulates power loss; nothing else in lsm/ calls
** open(), write() or fsync().
**
** Behaviour of the POSIX methods:
**
**   - Files are opened O_CLOEXEC.  A file opened LSM_OPEN_WRITE is opened
**     O_RDWR|O_APPEND|O_CREAT (mode 0644), so xAppend always writes at the
**     current end, even after xTruncate.  xRead uses pread() and may be
**     called on any handle.
**   - xRead fills the whole buffer unless the end of the file comes first
**     (a short read means EOF, never an interrupted call).  xAppend loops
**     over partial writes; if it fails part way, the bytes already written
**     stay in the file and the caller decides what to do with them.
**   - xSync uses fdatasync(): the file's data and its length are durable
**     on return.  A new file's directory entry is not; that needs
**     xSyncDir on its directory (opened O_RDONLY and fsync()ed).
**   - xLock takes flock(LOCK_EX|LOCK_NB) on a new open file description of
**     the lock file.  flock locks belong to the description, not to the
**     process, so a second xLock of the same path fails with LSM_BUSY
**     whether it comes from another process or from this one.  On a
**     read-only file system the lock file is opened for reading.
**   - xMap maps a file with mmap(PROT_READ, MAP_SHARED); xUnmap unmaps.
**
** errno is mapped onto result codes as follows: ENOENT is LSM_NOTFOUND;
** ENOSPC and EDQUOT are LSM_FULL; EACCES, EPERM and EROFS while opening or
** creating are LSM_CANTOPEN; EROFS while writing is LSM_READONLY;
** EWOULDBLOCK while locking is LSM_BUSY; everything else is LSM_IOERR.
** Every failure also sets the thread's message with lsmErr(), naming the
** operation, the path and strerror(errno):
**
**     "write data/000003.log: No space left on device"
**
** The helpers at the end of the file (declared in env.h) do only what
** can be expressed with env methods, so they behave identically under a
** test env.
*/
#include "env.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/*
** The POSIX env's file handle.  Private to this file: each env defines
** its own layout of struct lsm_file, and the engine only passes the
** pointer back to the env that made it.
*/
struct lsm_file {
  int fd;
  char *zPath;        /* as given to xOpen/xLock, for error messages */
};

/* What the failed call was doing; selects the errno mapping. */
#define ENV_OP_OPEN   1    /* opening or creating a file or directory */
#define ENV_OP_WRITE  2    /* changing the contents of a file */
#define ENV_OP_LOCK   3    /* taking a lock */
#define ENV_OP_OTHER  4

/* The LSM_* code for errno value eErr seen during an operation of class
** eOp. */
static int envCode(int eErr, int eOp){
  int rc = LSM_IOERR;
  switch( eErr ){
    case ENOENT:
      rc = LSM_NOTFOUND;
      break;
    case ENOSPC:
    case EDQUOT:
      rc = LSM_FULL;
      break;
    case EACCES:
    case EPERM:
      if( eOp==ENV_OP_OPEN ) rc = LSM_CANTOPEN;
      break;
    case EROFS:
      if( eOp==ENV_OP_OPEN ) rc = LSM_CANTOPEN;
      if( eOp==ENV_OP_WRITE ) rc = LSM_READONLY;
      break;
    case EWOULDBLOCK:
      if( eOp==ENV_OP_LOCK ) rc = LSM_BUSY;
      break;
  }
  return rc;
}

/* Set the thread's message to "zWhat zPath: strerror(eErr)" and return
** the code for eErr seen during an operation of class eOp. */
static int envError(int eErr, int eOp, const char *zWhat, const char *zPath){
  return lsmErr(envCode(eErr, eOp), "%s %s: %s", zWhat, zPath,
                strerror(eErr));
}

/*
** Wrap descriptor fd in a new handle for zPath.  On NOMEM the descriptor
** is closed.  Returns LSM_OK or LSM_NOMEM.
*/
static int envNewFile(int fd, const char *zPath, lsm_file **ppFile){
  lsm_file *pFile = lsmMalloc(sizeof(*pFile));
  char *zCopy = lsmStrdup(zPath);
  if( pFile==0 || zCopy==0 ){
    lsmFree(pFile);
    lsmFree(zCopy);
    close(fd);
    *ppFile = 0;
    return lsmErr(LSM_NOMEM, "open %s", zPath);
  }
  pFile->fd = fd;
  pFile->zPath = zCopy;
  *ppFile = pFile;
  return LSM_OK;
}

/*
** The methods.  Each keeps the contract of its slot in struct lsm_env
** (lsm.h) as refined by the essay above: LSM_OK, or an LSM_* code with
** the thread's message set.
*/
static int envOpen(lsm_env *pEnv, const char *zPath, int flags,
                   lsm_file **ppFile){
  int oflags = O_CLOEXEC;
  int fd;
  (void)pEnv;
  *ppFile = 0;
  if( flags & LSM_OPEN_WRITE ){
    oflags |= O_RDWR | O_APPEND | O_CREAT;
    if( flags & LSM_OPEN_TRUNCATE ) oflags |= O_TRUNC;
  }else{
    oflags |= O_RDONLY;
  }
  do{
    fd = open(zPath, oflags, 0644);
  }while( fd<0 && errno==EINTR );
  if( fd<0 ) return envError(errno, ENV_OP_OPEN, "open", zPath);
  return envNewFile(fd, zPath, ppFile);
}

static int envRead(lsm_file *pFile, uint64_t iOff, void *pBuf, size_t nBuf,
                   size_t *pnRead){
  size_t nDone = 0;
  while( nDone<nBuf ){
    ssize_t n = pread(pFile->fd, (char*)pBuf + nDone, nBuf - nDone,
                      (off_t)(iOff + nDone));
    if( n<0 ){
      if( errno==EINTR ) continue;
      *pnRead = nDone;
      return lsmErr(LSM_IOERR, "read %s at offset %llu: %s", pFile->zPath,
                    (unsigned long long)(iOff + nDone), strerror(errno));
    }
    if( n==0 ) break;                   /* end of file */
    nDone += (size_t)n;
  }
  *pnRead = nDone;
  return LSM_OK;
}

static int envAppend(lsm_file *pFile, const void *pData, size_t nData){
  size_t nDone = 0;
  while( nDone<nData ){
    ssize_t n = write(pFile->fd, (const char*)pData + nDone, nData - nDone);
    if( n<0 ){
      if( errno==EINTR ) continue;
      return envError(errno, ENV_OP_WRITE, "write", pFile->zPath);
    }
    if( n==0 ){
      /* write() never returns 0 for a non-empty regular-file write unless
      ** the device cannot take more; call it what it is. */
      return envError(ENOSPC, ENV_OP_WRITE, "write", pFile->zPath);
    }
    nDone += (size_t)n;
  }
  return LSM_OK;
}

static int envSync(lsm_file *pFile){
  int r;
  do{
    r = fdatasync(pFile->fd);
  }while( r<0 && errno==EINTR );
  if( r<0 ) return envError(errno, ENV_OP_WRITE, "fsync", pFile->zPath);
  return LSM_OK;
}

static int envSize(lsm_file *pFile, uint64_t *pnSize){
  struct stat st;
  if( fstat(pFile->fd, &st)<0 ){
    *pnSize = 0;
    return envError(errno, ENV_OP_OTHER, "stat", pFile->zPath);
  }
  *pnSize = (uint64_t)st.st_size;
  return LSM_OK;
}

static int envTruncate(lsm_file *pFile, uint64_t nSize){
  int r;
  do{
    r = ftruncate(pFile->fd, (off_t)nSize);
  }while( r<0 && errno==EINTR );
  if( r<0 ) return envError(errno, ENV_OP_WRITE, "truncate", pFile->zPath);
  return LSM_OK;
}

/*
** Close and free pFile.  close() is not retried on EINTR: on Linux the
** descriptor is released whatever close() returns.
*/
static int envClose(lsm_file *pFile){
  int rc = LSM_OK;
  if( pFile==0 ) return LSM_OK;
  if( close(pFile->fd)<0 && errno!=EINTR ){
    rc = envError(errno, ENV_OP_WRITE, "close", pFile->zPath);
  }
  lsmFree(pFile->zPath);
  lsmFree(pFile);
  return rc;
}

static int envRename(lsm_env *pEnv, const char *zFrom, const char *zTo){
  (void)pEnv;
  if( rename(zFrom, zTo)<0 ){
    return lsmErr(envCode(errno, ENV_OP_WRITE), "rename %s to %s: %s",
                  zFrom, zTo, strerror(errno));
  }
  return LSM_OK;
}

static int envRemove(lsm_env *pEnv, const char *zPath){
  (void)pEnv;
  if( unlink(zPath)<0 ) return envError(errno, ENV_OP_WRITE, "remove", zPath);
  return LSM_OK;
}

static int envLink(lsm_env *pEnv, const char *zFrom, const char *zTo){
  (void)pEnv;
  if( link(zFrom, zTo)<0 ){
    return lsmErr(envCode(errno, ENV_OP_OPEN), "link %s to %s: %s",
                  zFrom, zTo, strerror(errno));
  }
  return LSM_OK;
}

static int envMkdir(lsm_env *pEnv, const char *zPath){
  (void)pEnv;
  if( mkdir(zPath, 0755)<0 ){
    int eErr = errno;
    struct stat st;
    if( eErr==EEXIST && stat(zPath, &st)==0 && S_ISDIR(st.st_mode) ){
      return LSM_OK;
    }
    return envError(eErr, ENV_OP_OPEN, "mkdir", zPath);
  }
  return LSM_OK;
}

static int envRmdir(lsm_env *pEnv, const char *zPath){
  (void)pEnv;
  if( rmdir(zPath)<0 ) return envError(errno, ENV_OP_WRITE, "rmdir", zPath);
  return LSM_OK;
}

static int envSyncDir(lsm_env *pEnv, const char *zDir){
  int fd;
  int r;
  (void)pEnv;
  do{
    fd = open(zDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }while( fd<0 && errno==EINTR );
  if( fd<0 ) return envError(errno, ENV_OP_OPEN, "open directory", zDir);
  do{
    r = fsync(fd);
  }while( r<0 && errno==EINTR );
  /* A few file systems cannot fsync a directory and say EINVAL; their
  ** entries are as durable as they will ever be. */
  if( r<0 && errno!=EINVAL ){
    int rc = envError(errno, ENV_OP_WRITE, "fsync directory", zDir);
    close(fd);
    return rc;
  }
  close(fd);
  return LSM_OK;
}

static int envList(lsm_env *pEnv, const char *zDir,
                   int (*xEntry)(void*, const char*), void *pArg){
  DIR *pDir;
  int rc = LSM_OK;
  (void)pEnv;
  pDir = opendir(zDir);
  if( pDir==0 ) return envError(errno, ENV_OP_OPEN, "list", zDir);
  while( rc==LSM_OK ){
    struct dirent *pEnt;
    errno = 0;
    pEnt = readdir(pDir);
    if( pEnt==0 ){
      if( errno!=0 ) rc = envError(errno, ENV_OP_OTHER, "list", zDir);
      break;
    }
    if( strcmp(pEnt->d_name, ".")==0 || strcmp(pEnt->d_name, "..")==0 ){
      continue;
    }
    rc = xEntry(pArg, pEnt->d_name);
  }
  closedir(pDir);
  return rc;
}

static int envExists(lsm_env *pEnv, const char *zPath, int *pbExists){
  struct stat st;
  (void)pEnv;
  *pbExists = 0;
  if( stat(zPath, &st)<0 ){
    if( errno==ENOENT || errno==ENOTDIR ) return LSM_OK;
    return envError(errno, ENV_OP_OTHER, "stat", zPath);
  }
  *pbExists = 1;
  return LSM_OK;
}

static int envLock(lsm_env *pEnv, const char *zPath, lsm_file **ppLock){
  int fd;
  int r;
  (void)pEnv;
  *ppLock = 0;
  do{
    fd = open(zPath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  }while( fd<0 && errno==EINTR );
  if( fd<0 && errno==EROFS ){
    /* a read-only file system (a read-only open): flock works as well
    ** through a descriptor opened for reading */
    do{
      fd = open(zPath, O_RDONLY | O_CLOEXEC);
    }while( fd<0 && errno==EINTR );
  }
  if( fd<0 ) return envError(errno, ENV_OP_OPEN, "open lock file", zPath);
  do{
    r = flock(fd, LOCK_EX | LOCK_NB);
  }while( r<0 && errno==EINTR );
  if( r<0 ){
    int eErr = errno;
    close(fd);
    if( eErr==EWOULDBLOCK ){
      return lsmErr(LSM_BUSY, "lock %s: held by another process or handle",
                    zPath);
    }
    return envError(eErr, ENV_OP_LOCK, "lock", zPath);
  }
  return envNewFile(fd, zPath, ppLock);
}

/* Closing the descriptor releases the flock; say so explicitly anyway,
** in case the descriptor was duplicated somewhere. */
static int envUnlock(lsm_file *pLock){
  if( pLock==0 ) return LSM_OK;
  flock(pLock->fd, LOCK_UN);
  return envClose(pLock);
}

static uint64_t envNowMicros(lsm_env *pEnv){
  struct timespec ts;
  (void)pEnv;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec*1000000 + (uint64_t)ts.tv_nsec/1000;
}

static void envSleep(lsm_env *pEnv, uint64_t nMicros){
  struct timespec ts;
  (void)pEnv;
  ts.tv_sec = (time_t)(nMicros / 1000000);
  ts.tv_nsec = (long)(nMicros % 1000000) * 1000;
  while( nanosleep(&ts, &ts)<0 && errno==EINTR ){}
}

static int envMap(lsm_file *pFile, uint64_t nSize, const void **ppMap){
  void *p;
  *ppMap = 0;
  if( nSize==0 || nSize>(uint64_t)SIZE_MAX ){
    return lsmErr(LSM_IOERR, "mmap %s: cannot map %llu bytes", pFile->zPath,
                  (unsigned long long)nSize);
  }
  p = mmap(0, (size_t)nSize, PROT_READ, MAP_SHARED, pFile->fd, 0);
  if( p==MAP_FAILED ) return envError(errno, ENV_OP_OTHER, "mmap", pFile->zPath);
  *ppMap = p;
  return LSM_OK;
}

static void envUnmap(lsm_file *pFile, const void *pMap, uint64_t nSize){
  (void)pFile;
  munmap((void*)pMap, (size_t)nSize);
}

static lsm_env gPosixEnv = {
  0,
  envOpen, envRead, envAppend, envSync, envSize, envTruncate, envClose,
  envRename, envRemove, envLink, envMkdir, envRmdir, envSyncDir, envList,
  envExists, envLock, envUnlock, envNowMicros, envSleep, envMap, envUnmap
};

lsm_env *lsm_env_default(void){
  return &gPosixEnv;
}

/*************************************************************************
** Helpers over any env (env.h).
*/

/* Size of the buffer lsmEnvCopyFile moves data through. */
#define ENV_COPY_CHUNK (64*1024)

/*
** Run xRemove on zPath for cleanup after an earlier failure, keeping the
** earlier failure's message (the cleanup's own error, if any, is noise).
*/
static void envRemoveQuietly(lsm_env *pEnv, const char *zPath){
  char zSaved[512];
  snprintf(zSaved, sizeof(zSaved), "%s", lsmErrMsg());
  pEnv->xRemove(pEnv, zPath);
  lsmErr(LSM_OK, "%s", zSaved);
}

int lsmEnvWriteFileAtomic(lsm_env *pEnv, const char *zDir, const char *zName,
                          const void *p, size_t n){
  int rc = LSM_OK;
  char *zPath = lsmPathJoin(zDir, zName);
  char *zTmp = lsmMprintf("%s/%s.tmp", zDir, zName);
  lsm_file *pFile = 0;
  int bTmpExists = 0;

  if( zPath==0 || zTmp==0 ) rc = lsmErr(LSM_NOMEM, "write %s", zName);
  if( rc==LSM_OK ){
    rc = pEnv->xOpen(pEnv, zTmp, LSM_OPEN_WRITE|LSM_OPEN_TRUNCATE, &pFile);
    bTmpExists = (rc==LSM_OK);
  }
  if( rc==LSM_OK ) rc = pEnv->xAppend(pFile, p, n);
  if( rc==LSM_OK ) rc = pEnv->xSync(pFile);
  if( pFile ){
    int rc2 = pEnv->xClose(pFile);
    if( rc==LSM_OK ) rc = rc2;
  }
  if( rc==LSM_OK ){
    rc = pEnv->xRename(pEnv, zTmp, zPath);
    if( rc==LSM_OK ) bTmpExists = 0;
  }
  if( rc==LSM_OK ) rc = pEnv->xSyncDir(pEnv, zDir);
  if( rc!=LSM_OK && bTmpExists ) envRemoveQuietly(pEnv, zTmp);

  lsmFree(zPath);
  lsmFree(zTmp);
  return rc;
}

int lsmEnvReadFile(lsm_env *pEnv, const char *zPath, LsmBuf *pOut){
  int rc;
  lsm_file *pFile = 0;
  uint64_t nSize = 0;

  pOut->n = 0;
  rc = pEnv->xOpen(pEnv, zPath, LSM_OPEN_READONLY, &pFile);
  if( rc==LSM_OK ) rc = pEnv->xSize(pFile, &nSize);
  if( rc==LSM_OK && nSize>(uint64_t)SIZE_MAX/2 ){
    rc = lsmErr(LSM_TOOBIG, "read %s: file too large (%llu bytes)", zPath,
                (unsigned long long)nSize);
  }
  /* Read until a short read rather than trusting nSize: the file may have
  ** grown since xSize.  Reserving one spare byte means a file that did not
  ** grow is read in one pass and confirmed by the short read. */
  if( rc==LSM_OK ) rc = lsmBufReserve(pOut, (size_t)nSize + 1);
  while( rc==LSM_OK ){
    size_t nRoom = pOut->nAlloc - pOut->n;
    size_t nRead = 0;
    rc = pEnv->xRead(pFile, pOut->n, pOut->p + pOut->n, nRoom, &nRead);
    if( rc!=LSM_OK ) break;
    pOut->n += nRead;
    if( nRead<nRoom ) break;
    rc = lsmBufReserve(pOut, pOut->nAlloc);
  }
  if( rc==LSM_NOMEM ) lsmErr(LSM_NOMEM, "read %s", zPath);
  if( pFile ){
    int rc2 = pEnv->xClose(pFile);
    if( rc==LSM_OK ) rc = rc2;
  }
  return rc;
}

int lsmEnvCopyFile(lsm_env *pEnv, const char *zFrom, const char *zTo,
                   uint64_t nLimit){
  int rc;
  lsm_file *pIn = 0;
  lsm_file *pOut = 0;
  uint8_t *aBuf = 0;
  uint64_t iOff = 0;
  int bOutExists = 0;

  rc = pEnv->xOpen(pEnv, zFrom, LSM_OPEN_READONLY, &pIn);
  if( rc==LSM_OK ){
    rc = pEnv->xOpen(pEnv, zTo, LSM_OPEN_WRITE|LSM_OPEN_TRUNCATE, &pOut);
    bOutExists = (rc==LSM_OK);
  }
  if( rc==LSM_OK ){
    aBuf = lsmMalloc(ENV_COPY_CHUNK);
    if( aBuf==0 ) rc = lsmErr(LSM_NOMEM, "copy %s", zFrom);
  }
  while( rc==LSM_OK && iOff<nLimit ){
    size_t nWant = ENV_COPY_CHUNK;
    size_t nRead = 0;
    if( nLimit - iOff < nWant ) nWant = (size_t)(nLimit - iOff);
    rc = pEnv->xRead(pIn, iOff, aBuf, nWant, &nRead);
    if( rc==LSM_OK && nRead>0 ) rc = pEnv->xAppend(pOut, aBuf, nRead);
    iOff += nRead;
    if( nRead<nWant ) break;
  }
  if( rc==LSM_OK ) rc = pEnv->xSync(pOut);

  if( pIn ){
    int rc2 = pEnv->xClose(pIn);
    if( rc==LSM_OK ) rc = rc2;
  }
  if( pOut ){
    int rc2 = pEnv->xClose(pOut);
    if( rc==LSM_OK ) rc = rc2;
  }
  if( rc!=LSM_OK && bOutExists ) envRemoveQuietly(pEnv, zTo);
  lsmFree(aBuf);
  return rc;
}

int lsmEnvSyncParent(lsm_env *pEnv, const char *zDir){
  const char *zSlash = strrchr(zDir, '/');
  char *zParent;
  int rc;
  if( zSlash==0 ) return pEnv->xSyncDir(pEnv, ".");
  if( zSlash==zDir ) return pEnv->xSyncDir(pEnv, "/");
  zParent = lsmMprintf("%.*s", (int)(zSlash - zDir), zDir);
  if( zParent==0 ) return lsmErr(LSM_NOMEM, "sync directory");
  rc = pEnv->xSyncDir(pEnv, zParent);
  lsmFree(zParent);
  return rc;
}

void lsmEnvRemoveQuietly(lsm_env *pEnv, const char *zPath){
  char zSaved[512];
  if( zPath==0 ) return;
  snprintf(zSaved, sizeof(zSaved), "%s", lsmErrMsg());
  if( pEnv->xRemove(pEnv, zPath)!=LSM_OK ){
    if( zSaved[0] ) lsmErr(LSM_ERROR, "%s", zSaved); else lsmErrClear();
  }
}
