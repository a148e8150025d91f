/*
** testenv.c -- the counting, fault-injecting, power-loss-simulating env.
** The behaviour is described in testenv.h; this essay describes the model.
**
** The model has two kinds of node:
**
**   TInode  one file's content as a power loss would leave it.  An inode
**           is "unshadowed" while the env has never seen it change: its
**           durable content is simply what is on disk.  Before the first
**           change to it (append, truncate, open with truncate) and before
**           any change to a name bound to it (rename, remove, link, rename
**           of a directory above it), the env reads the whole file into
**           aDur ("shadows" it).  From then on aDur[0..nDur) is the durable
**           content, refreshed at each xSync from the real file: bytes
**           from iDirty (the lowest offset changed since the last sync) to
**           the end are re-read.
**
**   TDir    one directory the env has touched, with two lists of entries
**           (name -> inode, or name -> subdirectory): pLive, the names on
**           disk now, and pDur, the names at the last xSyncDir.  A TDir is
**           "captured" when first touched: its real listing becomes both
**           lists (what existed before the env looked counts as durable).
**           A subdirectory entry points at the child's TDir, or is NULL
**           while the child is untouched.  zPath is the directory's
**           canonical path (realpath) now, NULL once removed; a directory
**           whose parent was never captured is a root, and keeps the path
**           it had at capture in zRootPath (a root cannot move: moving it
**           would capture its parent first).
**
** The invariant that makes the crash simple: an unshadowed inode is still
** at the path where it was captured, unchanged, in both lists.  So at a
** crash, walking each root's durable tree, a durable file whose inode is
** unshadowed and whose real file at that path has the same device/inode
** number is left alone; every other durable file is written afresh from
** aDur; names only in the live list are removed; names in neither list
** (made behind the env's back) are left alone.  After the crash the whole
** model is discarded: what is on disk is the new durable state.
**
** Handles carry the epoch they were opened in; a crash starts a new epoch,
** and a handle from an old epoch never touches the (freed) model again.
*/
#include "testenv.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TENV_MAX_FAULT 16

#define TENV_FILE   1
#define TENV_DIR    2
#define TENV_OTHER  3     /* symlink, socket, ...: never touched */

#define TENV_CLEAN  UINT64_MAX   /* TInode.iDirty when nothing is unsynced */

typedef struct TInode TInode;
typedef struct TDir TDir;
typedef struct TEntry TEntry;
typedef struct TFault TFault;

struct TInode {
  int nLiveRef;          /* entries in pLive lists naming this inode */
  int nDurRef;           /* entries in pDur lists */
  int nHandle;           /* open handles */
  int bShadow;           /* aDur holds the durable content */
  uint8_t *aDur;         /* durable content (if bShadow) */
  size_t nDur;           /* bytes of durable content */
  size_t nAlloc;         /* allocated size of aDur */
  uint64_t nLive;        /* current size of the real file (if bShadow) */
  uint64_t iDirty;       /* first offset changed since the last sync */
  dev_t dev;             /* identity of the real file */
  ino_t ino;
  TInode *pNext;         /* TestEnv.pInodes */
};

struct TEntry {
  char *zName;
  int eType;             /* TENV_FILE, TENV_DIR or TENV_OTHER */
  TInode *pInode;        /* TENV_FILE */
  TDir *pDir;            /* TENV_DIR: the child, NULL while uncaptured */
  TEntry *pNext;
};

struct TDir {
  char *zPath;           /* canonical path now; NULL once removed */
  char *zRootPath;       /* for a root: its path at capture */
  int bRoot;
  TEntry *pLive;
  TEntry *pDur;
  TDir *pNext;           /* TestEnv.pDirs */
};

struct TFault {
  int eKind;
  int n;                 /* fire at the n-th matching call */
  int nSeen;             /* matching calls so far */
  int err;               /* errno, maybe | TESTENV_SHORT */
  int bPersistent;
  int bSpent;            /* a one-shot rule that has fired */
  char *zSubstr;         /* only paths containing this, or NULL */
};

struct TestEnv {
  lsm_env base;          /* base.pCtx points back here */
  lsm_env *pReal;        /* the POSIX env */
  pthread_mutex_t mutex;
  unsigned iEpoch;       /* bumped by each crash */
  int bCrashed;
  uint64_t aCount[TESTENV_NKIND];
  TFault aFault[TENV_MAX_FAULT];
  int nFault;
  TestEnvSyncHook xHook;
  void *pHookArg;
  uint64_t nCrashAtSync; /* crash when aCount[FSYNC] reaches this; 0: off */
  int bCrashTorn;
  unsigned iCrashSeed;
  TDir *pDirs;
  TInode *pInodes;
};

struct lsm_file {
  TestEnv *pEnv;
  lsm_file *pReal;       /* the POSIX env's handle */
  TInode *pInode;        /* the model's inode, or NULL if untracked */
  char *zPath;
  unsigned iEpoch;
};

static const char *const azKindName[TESTENV_NKIND] = {
  "open", "read", "append", "sync", "size", "truncate", "close", "rename",
  "remove", "link", "mkdir", "rmdir", "syncdir", "list", "exists", "lock",
  "unlock", "fsync", "mutate"
};

/*************************************************************************
** Small helpers.
*/

/* malloc that cannot fail quietly: test code, so running out here is a
** broken test machine, reported loudly. */
static void *tenvAlloc(size_t n){
  void *p = calloc(1, n ? n : 1);
  if( p==0 ){
    fprintf(stderr, "testenv: out of memory\n");
    abort();
  }
  return p;
}

static char *tenvStrdup(const char *z){
  size_t n = strlen(z) + 1;
  char *zOut = tenvAlloc(n);
  memcpy(zOut, z, n);
  return zOut;
}

static char *tenvJoin(const char *zDir, const char *zName){
  size_t n = strlen(zDir) + strlen(zName) + 2;
  char *z = tenvAlloc(n);
  snprintf(z, n, "%s/%s", zDir, zName);
  return z;
}

/*
** Split zPath into its directory and last component, ignoring trailing
** slashes.  *pzDir and *pzName are new strings to free().
*/
static void tenvSplit(const char *zPath, char **pzDir, char **pzName){
  char *zCopy = tenvStrdup(zPath);
  size_t n = strlen(zCopy);
  char *zSlash;
  while( n>1 && zCopy[n-1]=='/' ) zCopy[--n] = 0;
  zSlash = strrchr(zCopy, '/');
  if( zSlash==0 ){
    *pzDir = tenvStrdup(".");
    *pzName = zCopy;
    return;
  }
  *pzName = tenvStrdup(zSlash + 1);
  if( zSlash==zCopy ){
    *pzDir = tenvStrdup("/");
  }else{
    *zSlash = 0;
    *pzDir = tenvStrdup(zCopy);
  }
  free(zCopy);
}

/* The canonical path of directory zDir (new string), or NULL. */
static char *tenvCanon(const char *zDir){
  return realpath(zDir, 0);
}

/*
** Read [iOff, iOff+n) of the file at zPath into a, returning the bytes
** read (fewer at end of file), or -1 on error.
*/
static ssize_t tenvPreadPath(const char *zPath, uint64_t iOff, uint8_t *a,
                             size_t n){
  size_t nDone = 0;
  int fd = open(zPath, O_RDONLY | O_CLOEXEC);
  if( fd<0 ) return -1;
  while( nDone<n ){
    ssize_t r = pread(fd, a + nDone, n - nDone, (off_t)(iOff + nDone));
    if( r<0 && errno==EINTR ) continue;
    if( r<0 ){
      close(fd);
      return -1;
    }
    if( r==0 ) break;
    nDone += (size_t)r;
  }
  close(fd);
  return (ssize_t)nDone;
}

/* Replace the file at zPath with n bytes from a (no fsync: the model is
** what the test asserts against, not the real disk's durability). */
static void tenvWritePath(const char *zPath, const uint8_t *a, size_t n){
  size_t nDone = 0;
  int fd = open(zPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if( fd<0 ){
    fprintf(stderr, "testenv: cannot restore %s: %s\n", zPath,
            strerror(errno));
    return;
  }
  while( nDone<n ){
    ssize_t r = write(fd, a + nDone, n - nDone);
    if( r<0 && errno==EINTR ) continue;
    if( r<=0 ){
      fprintf(stderr, "testenv: cannot restore %s: %s\n", zPath,
              strerror(errno));
      break;
    }
    nDone += (size_t)r;
  }
  close(fd);
}

/* Make aDur of pInode hold at least n bytes. */
static void tenvReserve(TInode *pInode, size_t n){
  if( n>pInode->nAlloc ){
    size_t nNew = pInode->nAlloc ? pInode->nAlloc : 4096;
    while( nNew<n ) nNew *= 2;
    pInode->aDur = realloc(pInode->aDur, nNew);
    if( pInode->aDur==0 ){
      fprintf(stderr, "testenv: out of memory\n");
      abort();
    }
    pInode->nAlloc = nNew;
  }
}

/*************************************************************************
** The model: inodes, entries, directories.
*/

static TInode *tenvInodeNew(TestEnv *p, const struct stat *pSt, int bShadow){
  TInode *pInode = tenvAlloc(sizeof(*pInode));
  pInode->dev = pSt->st_dev;
  pInode->ino = pSt->st_ino;
  pInode->bShadow = bShadow;
  pInode->nLive = (uint64_t)pSt->st_size;
  pInode->iDirty = bShadow ? 0 : TENV_CLEAN;
  pInode->pNext = p->pInodes;
  p->pInodes = pInode;
  return pInode;
}

/* Drop the shadow of an inode nothing refers to any more, so a long test
** does not keep every file it ever deleted in memory. */
static void tenvInodeRelease(TInode *pInode){
  if( pInode->nLiveRef==0 && pInode->nDurRef==0 && pInode->nHandle==0 ){
    free(pInode->aDur);
    pInode->aDur = 0;
    pInode->nAlloc = 0;
    pInode->nDur = 0;
  }
}

/*
** Record the current content of pInode (found at zPath) as durable,
** unless it already has a shadow.  Called before anything changes the
** file or a name bound to it.
*/
static void tenvShadow(TInode *pInode, const char *zPath){
  struct stat st;
  ssize_t nRead;
  if( pInode->bShadow ) return;
  pInode->bShadow = 1;
  pInode->iDirty = TENV_CLEAN;
  if( stat(zPath, &st)!=0 ){
    fprintf(stderr, "testenv: cannot shadow %s: %s\n", zPath,
            strerror(errno));
    return;
  }
  tenvReserve(pInode, (size_t)st.st_size);
  nRead = tenvPreadPath(zPath, 0, pInode->aDur, (size_t)st.st_size);
  if( nRead<0 ){
    fprintf(stderr, "testenv: cannot shadow %s: %s\n", zPath,
            strerror(errno));
    nRead = 0;
  }
  pInode->nDur = (size_t)nRead;
  pInode->nLive = (uint64_t)nRead;
}

static TEntry *tenvEntryFind(TEntry *pList, const char *zName){
  for(; pList; pList=pList->pNext){
    if( strcmp(pList->zName, zName)==0 ) return pList;
  }
  return 0;
}

/* Add a new entry at the head of *ppList, taking a reference. */
static TEntry *tenvEntryAdd(TEntry **ppList, int bLive, const char *zName,
                            int eType, TInode *pInode, TDir *pDir){
  TEntry *pEntry = tenvAlloc(sizeof(*pEntry));
  pEntry->zName = tenvStrdup(zName);
  pEntry->eType = eType;
  pEntry->pInode = pInode;
  pEntry->pDir = pDir;
  if( pInode ){
    if( bLive ) pInode->nLiveRef++; else pInode->nDurRef++;
  }
  pEntry->pNext = *ppList;
  *ppList = pEntry;
  return pEntry;
}

static void tenvEntryFree(TEntry *pEntry, int bLive){
  if( pEntry->pInode ){
    if( bLive ) pEntry->pInode->nLiveRef--; else pEntry->pInode->nDurRef--;
    tenvInodeRelease(pEntry->pInode);
  }
  free(pEntry->zName);
  free(pEntry);
}

/* Unlink pEntry from *ppList and free it. */
static void tenvEntryRemove(TEntry **ppList, TEntry *pEntry, int bLive){
  TEntry **pp;
  for(pp=ppList; *pp; pp=&(*pp)->pNext){
    if( *pp==pEntry ){
      *pp = pEntry->pNext;
      tenvEntryFree(pEntry, bLive);
      return;
    }
  }
}

static void tenvEntryFreeList(TEntry *pList, int bLive){
  while( pList ){
    TEntry *pNext = pList->pNext;
    tenvEntryFree(pList, bLive);
    pList = pNext;
  }
}

static TDir *tenvDirLookup(TestEnv *p, const char *zCanon){
  TDir *pDir;
  for(pDir=p->pDirs; pDir; pDir=pDir->pNext){
    if( pDir->zPath && strcmp(pDir->zPath, zCanon)==0 ) return pDir;
  }
  return 0;
}

/* A live inode with this identity (a hard link seen from a new dir). */
static TInode *tenvInodeLookup(TestEnv *p, const struct stat *pSt){
  TInode *pInode;
  for(pInode=p->pInodes; pInode; pInode=pInode->pNext){
    if( pInode->nLiveRef>0 && pInode->dev==pSt->st_dev
     && pInode->ino==pSt->st_ino ){
      return pInode;
    }
  }
  return 0;
}

/*
** The TDir for canonical directory path zCanon, captured now if the env
** has not seen it yet.  NULL if it is not a directory on disk.
*/
static TDir *tenvDirGet(TestEnv *p, const char *zCanon){
  TDir *pDir = tenvDirLookup(p, zCanon);
  TDir *pParent;
  DIR *pReal;
  struct dirent *pEnt;
  char *zParent;
  char *zName;

  if( pDir ) return pDir;
  pReal = opendir(zCanon);
  if( pReal==0 ) return 0;
  pDir = tenvAlloc(sizeof(*pDir));
  pDir->zPath = tenvStrdup(zCanon);
  while( (pEnt = readdir(pReal))!=0 ){
    struct stat st;
    char *zChild;
    if( strcmp(pEnt->d_name, ".")==0 || strcmp(pEnt->d_name, "..")==0 ){
      continue;
    }
    zChild = tenvJoin(zCanon, pEnt->d_name);
    if( lstat(zChild, &st)==0 ){
      if( S_ISREG(st.st_mode) ){
        TInode *pInode = tenvInodeLookup(p, &st);
        if( pInode==0 ) pInode = tenvInodeNew(p, &st, 0);
        tenvEntryAdd(&pDir->pLive, 1, pEnt->d_name, TENV_FILE, pInode, 0);
        tenvEntryAdd(&pDir->pDur, 0, pEnt->d_name, TENV_FILE, pInode, 0);
      }else if( S_ISDIR(st.st_mode) ){
        /* A root captured earlier below this directory is adopted. */
        TDir *pChild = tenvDirLookup(p, zChild);
        if( pChild && pChild->bRoot ){
          pChild->bRoot = 0;
          free(pChild->zRootPath);
          pChild->zRootPath = 0;
        }
        tenvEntryAdd(&pDir->pLive, 1, pEnt->d_name, TENV_DIR, 0, pChild);
        tenvEntryAdd(&pDir->pDur, 0, pEnt->d_name, TENV_DIR, 0, pChild);
      }else{
        tenvEntryAdd(&pDir->pLive, 1, pEnt->d_name, TENV_OTHER, 0, 0);
        tenvEntryAdd(&pDir->pDur, 0, pEnt->d_name, TENV_OTHER, 0, 0);
      }
    }
    free(zChild);
  }
  closedir(pReal);
  pDir->pNext = p->pDirs;
  p->pDirs = pDir;

  /* Link into the parent, if the parent is tracked; else this is a root.
  ** An uncaptured child entry in the parent's lists is this directory:
  ** had it moved, capturing it would have happened before. */
  tenvSplit(zCanon, &zParent, &zName);
  pParent = strcmp(zCanon, "/")==0 ? 0 : tenvDirLookup(p, zParent);
  if( pParent ){
    TEntry *pEntry = tenvEntryFind(pParent->pLive, zName);
    if( pEntry && pEntry->eType==TENV_DIR && pEntry->pDir==0 ){
      pEntry->pDir = pDir;
    }
    pEntry = tenvEntryFind(pParent->pDur, zName);
    if( pEntry && pEntry->eType==TENV_DIR && pEntry->pDir==0 ){
      pEntry->pDir = pDir;
    }
  }else{
    pDir->bRoot = 1;
    pDir->zRootPath = tenvStrdup(zCanon);
  }
  free(zParent);
  free(zName);
  return pDir;
}

/*
** Find the tracked directory holding zPath and zPath's last component.
** On success *ppDir is the parent's TDir and *pzName a new string to
** free(); if the parent does not exist, *ppDir is NULL (the operation is
** then not modelled: it is about to fail anyway).
*/
static void tenvResolve(TestEnv *p, const char *zPath, TDir **ppDir,
                        char **pzName){
  char *zDir;
  char *zCanon;
  tenvSplit(zPath, &zDir, pzName);
  zCanon = tenvCanon(zDir);
  *ppDir = zCanon ? tenvDirGet(p, zCanon) : 0;
  free(zCanon);
  free(zDir);
}

/* The live entry for zName in pDir, or NULL (also if pDir is NULL). */
static TEntry *tenvLive(TDir *pDir, const char *zName){
  return pDir ? tenvEntryFind(pDir->pLive, zName) : 0;
}

/*
** The live entry for zName in pDir, as tenvLive, except that a name on
** disk that the env has not seen (made behind its back since pDir was
** captured) is first taken into the model the way capture would have
** taken it: as durable, unless the durable list already has that name.
*/
static TEntry *tenvAdopt(TestEnv *p, TDir *pDir, const char *zName){
  TEntry *pEntry = tenvLive(pDir, zName);
  char *zChild;
  struct stat st;
  if( pEntry || pDir==0 || pDir->zPath==0 ) return pEntry;
  zChild = tenvJoin(pDir->zPath, zName);
  if( lstat(zChild, &st)==0 ){
    int bDur = tenvEntryFind(pDir->pDur, zName)==0;
    if( S_ISREG(st.st_mode) ){
      TInode *pInode = tenvInodeLookup(p, &st);
      if( pInode==0 ) pInode = tenvInodeNew(p, &st, 0);
      if( !bDur ){
        /* Only the durable name may stay unshadowed (see the essay). */
        tenvShadow(pInode, zChild);
      }
      pEntry = tenvEntryAdd(&pDir->pLive, 1, zName, TENV_FILE, pInode, 0);
      if( bDur ) tenvEntryAdd(&pDir->pDur, 0, zName, TENV_FILE, pInode, 0);
    }else{
      int eType = S_ISDIR(st.st_mode) ? TENV_DIR : TENV_OTHER;
      pEntry = tenvEntryAdd(&pDir->pLive, 1, zName, eType, 0, 0);
      if( bDur ) tenvEntryAdd(&pDir->pDur, 0, zName, eType, 0, 0);
    }
  }
  free(zChild);
  return pEntry;
}

/*
** Capture every directory below pDir and shadow every file in them:
** called before a directory is renamed, since the invariant wants every
** unshadowed inode at the path where it was captured.
*/
static void tenvShadowTree(TestEnv *p, TDir *pDir){
  TEntry *pEntry;
  for(pEntry=pDir->pLive; pEntry; pEntry=pEntry->pNext){
    char *zChild = tenvJoin(pDir->zPath, pEntry->zName);
    if( pEntry->eType==TENV_FILE ){
      tenvShadow(pEntry->pInode, zChild);
    }else if( pEntry->eType==TENV_DIR ){
      if( pEntry->pDir==0 ) tenvDirGet(p, zChild);
      if( pEntry->pDir ) tenvShadowTree(p, pEntry->pDir);
    }
    free(zChild);
  }
}

/* After a directory moved from zOld to zNew, fix the live paths of it and
** of every tracked directory below it. */
static void tenvRekey(TestEnv *p, const char *zOld, const char *zNew){
  size_t nOld = strlen(zOld);
  TDir *pDir;
  for(pDir=p->pDirs; pDir; pDir=pDir->pNext){
    if( pDir->zPath && strncmp(pDir->zPath, zOld, nOld)==0
     && (pDir->zPath[nOld]==0 || pDir->zPath[nOld]=='/') ){
      size_t n = strlen(zNew) + strlen(pDir->zPath + nOld) + 1;
      char *z = tenvAlloc(n);
      snprintf(z, n, "%s%s", zNew, pDir->zPath + nOld);
      free(pDir->zPath);
      pDir->zPath = z;
    }
  }
}

/*
** After a call that may have created zName in pDir without the env
** knowing it (an open for writing, the target of a link), make sure the
** live list names whatever is there now.  A file the env did not see
** before is new: durable as empty, and only if its entry gets synced.
*/
static TEntry *tenvNoteCreated(TestEnv *p, TDir *pDir, const char *zName){
  TEntry *pEntry;
  char *zChild;
  struct stat st;
  if( pDir==0 || pDir->zPath==0 ) return 0;
  pEntry = tenvEntryFind(pDir->pLive, zName);
  if( pEntry ) return pEntry;
  zChild = tenvJoin(pDir->zPath, zName);
  if( lstat(zChild, &st)==0 && S_ISREG(st.st_mode) ){
    TInode *pInode = tenvInodeLookup(p, &st);
    if( pInode==0 ) pInode = tenvInodeNew(p, &st, 1);
    pEntry = tenvEntryAdd(&pDir->pLive, 1, zName, TENV_FILE, pInode, 0);
  }
  free(zChild);
  return pEntry;
}

/* Free the whole model (after a crash, or at the end). */
static void tenvModelFree(TestEnv *p){
  while( p->pDirs ){
    TDir *pDir = p->pDirs;
    p->pDirs = pDir->pNext;
    tenvEntryFreeList(pDir->pLive, 1);
    tenvEntryFreeList(pDir->pDur, 0);
    free(pDir->zPath);
    free(pDir->zRootPath);
    free(pDir);
  }
  while( p->pInodes ){
    TInode *pInode = p->pInodes;
    p->pInodes = pInode->pNext;
    free(pInode->aDur);
    free(pInode);
  }
}

/*************************************************************************
** Power loss.
*/

/*
** Write the durable content of pInode to zPath.  With bTorn and the real
** file at zPath still being this inode, keep a random part of the bytes
** written after the last sync, possibly damaged.
*/
static void tenvRestoreFile(TInode *pInode, const char *zPath, int bTorn,
                            uint64_t *pRng){
  struct stat st;
  int bSame = lstat(zPath, &st)==0 && S_ISREG(st.st_mode)
           && st.st_dev==pInode->dev && st.st_ino==pInode->ino;
  size_t nDur = pInode->nDur;

  /* By the invariant, an unshadowed inode is in place (bSame); if it is
  ** not, something outside the env removed it, and there is nothing to
  ** restore it from. */
  if( !pInode->bShadow ) return;
  if( bTorn && bSame && (uint64_t)st.st_size>nDur ){
    uint64_t nExtra = (uint64_t)st.st_size - nDur;
    size_t nKeep;
    ssize_t nRead;
    if( nExtra>UINT32_MAX-1 ) nExtra = UINT32_MAX-1;
    nKeep = testRandRange(pRng, (uint32_t)nExtra + 1);
    if( nKeep>0 ){
      tenvReserve(pInode, nDur + nKeep);
      nRead = tenvPreadPath(zPath, nDur, pInode->aDur + nDur, nKeep);
      nKeep = nRead>0 ? (size_t)nRead : 0;
    }
    if( nKeep>0 && testRandRange(pRng, 2) ){
      /* Part of the kept tail never reached the platter intact. */
      size_t iOff = testRandRange(pRng, (uint32_t)nKeep);
      size_t nBad = 1 + testRandRange(pRng, (uint32_t)(nKeep - iOff));
      int bZero = (int)testRandRange(pRng, 2);
      size_t i;
      for(i=0; i<nBad; i++){
        pInode->aDur[nDur+iOff+i] = bZero ? 0 : (uint8_t)testRand(pRng);
      }
    }
    nDur += nKeep;
  }
  testRmTree(zPath);
  tenvWritePath(zPath, pInode->aDur, nDur);
}

/* Make the real directory at zReal match pDir's durable list. */
static void tenvRestoreDir(TDir *pDir, const char *zReal, int bTorn,
                           uint64_t *pRng){
  struct stat st;
  TEntry *pEntry;

  if( lstat(zReal, &st)==0 && !S_ISDIR(st.st_mode) ) testRmTree(zReal);
  if( lstat(zReal, &st)!=0 && mkdir(zReal, 0755)!=0 ){
    fprintf(stderr, "testenv: cannot restore %s: %s\n", zReal,
            strerror(errno));
    return;
  }
  /* Names created since the last sync go first, so that a restored file
  ** never meets a stale one. */
  for(pEntry=pDir->pLive; pEntry; pEntry=pEntry->pNext){
    if( tenvEntryFind(pDir->pDur, pEntry->zName)==0 ){
      char *zChild = tenvJoin(zReal, pEntry->zName);
      testRmTree(zChild);
      free(zChild);
    }
  }
  for(pEntry=pDir->pDur; pEntry; pEntry=pEntry->pNext){
    char *zChild = tenvJoin(zReal, pEntry->zName);
    if( pEntry->eType==TENV_FILE ){
      tenvRestoreFile(pEntry->pInode, zChild, bTorn, pRng);
    }else if( pEntry->eType==TENV_DIR ){
      /* An uncaptured directory never changed: nothing to do. */
      if( pEntry->pDir ) tenvRestoreDir(pEntry->pDir, zChild, bTorn, pRng);
    }
    free(zChild);
  }
}

/* testenvCrash with the mutex held. */
static void tenvCrashLocked(TestEnv *p, int bTorn, unsigned seed){
  uint64_t rng = seed;
  TDir *pDir;
  if( p->bCrashed ) return;
  for(pDir=p->pDirs; pDir; pDir=pDir->pNext){
    if( pDir->bRoot ) tenvRestoreDir(pDir, pDir->zRootPath, bTorn, &rng);
  }
  tenvModelFree(p);
  p->iEpoch++;
  p->bCrashed = 1;
  p->nCrashAtSync = 0;
}

/*************************************************************************
** Counting and faults.
*/

/* Map an injected errno onto the code the POSIX env would return. */
static int tenvFaultCode(int eErr){
  return (eErr==ENOSPC || eErr==EDQUOT) ? LSM_FULL : LSM_IOERR;
}

/*
** Start a call of kind eKind on zPath (bMutate: it changes the file
** system), through handle pFile if not NULL.  With the mutex held.
** Returns LSM_IOERR after a crash, the code of a fault that fires, or
** LSM_OK.  If the fault is a short write and the call is an append,
** returns LSM_OK and sets *peShort to the errno to fail with after
** writing half.
*/
static int tenvBegin(TestEnv *p, int eKind, int bMutate, const char *zPath,
                     lsm_file *pFile, int *peShort){
  int bSync = (eKind==TESTENV_SYNC || eKind==TESTENV_SYNCDIR);
  int eFire = 0;
  int i;

  if( peShort ) *peShort = 0;
  p->aCount[eKind]++;
  if( bMutate ) p->aCount[TESTENV_MUTATE]++;
  if( bSync ) p->aCount[TESTENV_FSYNC]++;
  if( p->bCrashed || (pFile && pFile->iEpoch!=p->iEpoch) ){
    return lsmErr(LSM_IOERR, "%s %s: power lost (test env crashed)",
                  azKindName[eKind], zPath);
  }
  for(i=0; i<p->nFault; i++){
    TFault *pFault = &p->aFault[i];
    int bMatch = pFault->eKind==eKind
              || (pFault->eKind==TESTENV_MUTATE && bMutate)
              || (pFault->eKind==TESTENV_FSYNC && bSync);
    if( !bMatch || pFault->bSpent ) continue;
    if( pFault->zSubstr && strstr(zPath, pFault->zSubstr)==0 ) continue;
    pFault->nSeen++;
    if( pFault->nSeen==pFault->n
     || (pFault->bPersistent && pFault->nSeen>pFault->n) ){
      if( !pFault->bPersistent ) pFault->bSpent = 1;
      if( eFire==0 ) eFire = pFault->err;
    }
  }
  if( eFire ){
    int eErr = eFire & ~TESTENV_SHORT;
    if( eErr==0 ) eErr = EIO;
    if( (eFire & TESTENV_SHORT) && eKind==TESTENV_APPEND && peShort ){
      *peShort = eErr;
      return LSM_OK;
    }
    return lsmErr(tenvFaultCode(eErr), "%s %s: %s (injected)",
                  azKindName[eKind], zPath, strerror(eErr));
  }
  return LSM_OK;
}

/*
** After a successful fsync, with the mutex held: crash if a
** testenvCrashAtSync count was reached.
*/
static void tenvAfterSyncLocked(TestEnv *p){
  if( p->nCrashAtSync && p->aCount[TESTENV_FSYNC]>=p->nCrashAtSync ){
    tenvCrashLocked(p, p->bCrashTorn, p->iCrashSeed);
  }
}

/*
** After a successful fsync, without the mutex: run the hook, and turn the
** result into LSM_IOERR if the power went off meanwhile.
*/
static int tenvAfterSync(TestEnv *p, int eKind, const char *zPath){
  TestEnvSyncHook xHook;
  void *pArg;
  uint64_t nFsync;
  int bCrashed;
  pthread_mutex_lock(&p->mutex);
  xHook = p->xHook;
  pArg = p->pHookArg;
  nFsync = p->aCount[TESTENV_FSYNC];
  pthread_mutex_unlock(&p->mutex);
  if( xHook ) xHook(pArg, p, eKind, zPath, nFsync);
  pthread_mutex_lock(&p->mutex);
  bCrashed = p->bCrashed;
  pthread_mutex_unlock(&p->mutex);
  if( bCrashed ){
    return lsmErr(LSM_IOERR, "%s %s: power lost (test env crashed)",
                  azKindName[eKind], zPath);
  }
  return LSM_OK;
}

/*************************************************************************
** The env methods.
*/

static TestEnv *tenvOf(lsm_env *pEnv){ return (TestEnv*)pEnv->pCtx; }

/* Wrap pReal (the POSIX handle) in a new handle of this env. */
static int tenvHandleNew(TestEnv *p, lsm_file *pReal, TInode *pInode,
                         const char *zPath, lsm_file **ppFile){
  lsm_file *pFile = tenvAlloc(sizeof(*pFile));
  pFile->pEnv = p;
  pFile->pReal = pReal;
  pFile->pInode = pInode;
  pFile->zPath = tenvStrdup(zPath);
  pFile->iEpoch = p->iEpoch;
  if( pInode ) pInode->nHandle++;
  *ppFile = pFile;
  return LSM_OK;
}

static int tenvOpen(lsm_env *pEnv, const char *zPath, int flags,
                    lsm_file **ppFile){
  TestEnv *p = tenvOf(pEnv);
  int bWrite = (flags & LSM_OPEN_WRITE)!=0;
  int rc;
  TDir *pDir = 0;
  char *zName = 0;
  lsm_file *pReal = 0;

  *ppFile = 0;
  pthread_mutex_lock(&p->mutex);
  rc = tenvBegin(p, TESTENV_OPEN, bWrite, zPath, 0, 0);
  if( rc==LSM_OK ){
    TEntry *pEntry;
    tenvResolve(p, zPath, &pDir, &zName);
    pEntry = tenvAdopt(p, pDir, zName);
    if( pEntry && pEntry->eType!=TENV_FILE ) pEntry = 0;
    if( pEntry && bWrite && (flags & LSM_OPEN_TRUNCATE) ){
      tenvShadow(pEntry->pInode, zPath);
    }
    rc = p->pReal->xOpen(p->pReal, zPath, flags, &pReal);
    if( bWrite ){
      /* Even a failed open may have created the file. */
      if( pEntry==0 ) pEntry = tenvNoteCreated(p, pDir, zName);
      if( pEntry && rc==LSM_OK && (flags & LSM_OPEN_TRUNCATE) ){
        pEntry->pInode->nLive = 0;
        pEntry->pInode->iDirty = 0;
      }
    }
    if( rc==LSM_OK ){
      rc = tenvHandleNew(p, pReal, pEntry ? pEntry->pInode : 0, zPath,
                         ppFile);
    }
  }
  pthread_mutex_unlock(&p->mutex);
  free(zName);
  return rc;
}

static int tenvRead(lsm_file *pFile, uint64_t iOff, void *pBuf, size_t nBuf,
                    size_t *pnRead){
  TestEnv *p = pFile->pEnv;
  int rc;
  *pnRead = 0;
  pthread_mutex_lock(&p->mutex);
  rc = tenvBegin(p, TESTENV_READ, 0, pFile->zPath, pFile, 0);
  pthread_mutex_unlock(&p->mutex);
  if( rc==LSM_OK ) rc = p->pReal->xRead(pFile->pReal, iOff, pBuf, nBuf, pnRead);
  return rc;
}

static int tenvAppend(lsm_file *pFile, const void *pData, size_t nData){
  TestEnv *p = pFile->pEnv;
  int eShort = 0;
  int rc;
  pthread_mutex_lock(&p->mutex);
  rc = tenvBegin(p, TESTENV_APPEND, 1, pFile->zPath, pFile, &eShort);
  if( rc==LSM_OK ){
    TInode *pInode = pFile->pInode;
    size_t nWrite = eShort ? nData/2 : nData;
    if( pInode ){
      tenvShadow(pInode, pFile->zPath);
      if( pInode->nLive<pInode->iDirty ) pInode->iDirty = pInode->nLive;
    }
    rc = p->pReal->xAppend(pFile->pReal, pData, nWrite);
    if( pInode ){
      if( rc==LSM_OK ){
        pInode->nLive += nWrite;
      }else{
        /* Part of it may be there; ask the file. */
        uint64_t nSize;
        if( p->pReal->xSize(pFile->pReal, &nSize)==LSM_OK ){
          pInode->nLive = nSize;
        }
      }
    }
    if( rc==LSM_OK && eShort ){
      rc = lsmErr(tenvFaultCode(eShort), "append %s: %s (injected, %zu of "
                  "%zu bytes written)", pFile->zPath, strerror(eShort),
                  nWrite, nData);
    }
  }
  pthread_mutex_unlock(&p->mutex);
  return rc;
}

static int tenvSync(lsm_file *pFile){
  TestEnv *p = pFile->pEnv;
  int rc;
  pthread_mutex_lock(&p->mutex);
  rc = tenvBegin(p, TESTENV_SYNC, 1, pFile->zPath, pFile, 0);
  if( rc==LSM_OK ) rc = p->pReal->xSync(pFile->pReal);
  if( rc==LSM_OK && pFile->pInode && pFile->pInode->bShadow ){
    /* Everything written so far is now durable: re-read what changed. */
    TInode *pInode = pFile->pInode;
    uint64_t nSize = 0;
    rc = p->pReal->xSize(pFile->pReal, &nSize);
    if( rc==LSM_OK ){
      uint64_t iFrom = pInode->iDirty<nSize ? pInode->iDirty : nSize;
      size_t nRead = 0;
      if( nSize>iFrom ){
        tenvReserve(pInode, (size_t)nSize);
        rc = p->pReal->xRead(pFile->pReal, iFrom, pInode->aDur + iFrom,
                             (size_t)(nSize - iFrom), &nRead);
      }
      pInode->nDur = (size_t)(iFrom + nRead);
      pInode->nLive = nSize;
      pInode->iDirty = TENV_CLEAN;
    }
  }
  if( rc==LSM_OK ) tenvAfterSyncLocked(p);
  pthread_mutex_unlock(&p->mutex);
  if( rc==LSM_OK ) rc = tenvAfterSync(p, TESTENV_SYNC, pFile->zPath);
  return rc;
}

static int tenvSize(lsm_file *pFile, uint64_t *pnSize){
  TestEnv *p = pFile->pEnv;
  int rc;
  *pnSize = 0;
  pthread_mutex_lock(&p->mutex);
  rc = tenvBegin(p, TESTENV_SIZE, 0, pFile->zPath, pFile, 0);
  if( rc==LSM_OK ) rc = p->pReal->xSize(pFile->pReal, pnSize);
  pthread_mutex_unlock(&p->mutex);
  return rc;
}

static int tenvTruncate(lsm_file *pFile, uint64_t nSize){
  TestEnv *p = pFile->pEnv;
  int rc;
  pthread_mutex_lock(&p->mutex);
  rc = tenvBegin(p, TESTENV_TRUNCATE, 1, pFile->zPath, pFile, 0);
  if( rc==LSM_OK ){
    TInode *pInode = pFile->pInode;
    if( pInode ){
      uint64_t iLow = nSize<pInode->nLive ? nSize : pInode->nLive;
      tenvShadow(pInode, pFile->zPath);
      if( iLow<pInode->iDirty ) pInode->iDirty = iLow;
    }
    rc = p->pReal->xTruncate(pFile->pReal, nSize);
    if( rc==LSM_OK && pInode ) pInode->nLive = nSize;
  }
  pthread_mutex_unlock(&p->mutex);
  return rc;
}

/* Release a handle (xClose or xUnlock).  Works even after a crash. */
static int tenvRelease(lsm_file *pFile, int eKind){
  TestEnv *p;
  int rc;
  if( pFile==0 ) return LSM_OK;
  p = pFile->pEnv;
  pthread_mutex_lock(&p->mutex);
  p->aCount[eKind]++;
  if( eKind==TESTENV_UNLOCK ){
    rc = p->pReal->xUnlock(pFile->pReal);
  }else{
    rc = p->pReal->xClose(pFile->pReal);
  }
  if( pFile->iEpoch==p->iEpoch && pFile->pInode ){
    pFile->pInode->nHandle--;
    tenvInodeRelease(pFile->pInode);
  }
  pthread_mutex_unlock(&p->mutex);
  free(pFile->zPath);
  free(pFile);
  return rc;
}

static int tenvClose(lsm_file *pFile){
  return tenvRelease(pFile, TESTENV_CLOSE);
}

static int tenvRename(lsm_env *pEnv, const char *zFrom, const char *zTo){
  TestEnv *p = tenvOf(pEnv);
  int rc;
  TDir *pDirF = 0, *pDirT = 0;
  char *zNameF = 0, *zNameT = 0;
  char *zOld = 0;

  pthread_mutex_lock(&p->mutex);
  rc = tenvBegin(p, TESTENV_RENAME, 1, zFrom, 0, 0);
  if( rc==LSM_OK ){
    TEntry *pF, *pT;
    tenvResolve(p, zFrom, &pDirF, &zNameF);
    tenvResolve(p, zTo, &pDirT, &zNameT);
    pF = tenvAdopt(p, pDirF, zNameF);
    pT = tenvAdopt(p, pDirT, zNameT);
    if( pF && pF->eType==TENV_FILE ) tenvShadow(pF->pInode, zFrom);
    if( pF && pF->eType==TENV_DIR ){
      zOld = tenvJoin(pDirF->zPath, zNameF);
      if( pF->pDir==0 ) tenvDirGet(p, zOld);
      if( pF->pDir ) tenvShadowTree(p, pF->pDir);
    }
    if( pT && pT->eType==TENV_FILE ) tenvShadow(pT->pInode, zTo);
    if( pT && pT->eType==TENV_DIR && pT->pDir==0 ){
      char *zT = tenvJoin(pDirT->zPath, zNameT);
      tenvDirGet(p, zT);
      free(zT);
    }
    rc = p->pReal->xRename(p->pReal, zFrom, zTo);
    if( rc==LSM_OK && pDirF && pDirT && pF!=pT ){
      if( pT ){
        if( pT->eType==TENV_DIR && pT->pDir ){
          free(pT->pDir->zPath);
          pT->pDir->zPath = 0;
        }
        tenvEntryRemove(&pDirT->pLive, pT, 1);
      }
      if( pF ){
        tenvEntryAdd(&pDirT->pLive, 1, zNameT, pF->eType, pF->pInode,
                     pF->pDir);
        tenvEntryRemove(&pDirF->pLive, pF, 1);
        if( zOld ){
          char *zNew = tenvJoin(pDirT->zPath, zNameT);
          tenvRekey(p, zOld, zNew);
          free(zNew);
        }
      }else{
        tenvNoteCreated(p, pDirT, zNameT);
      }
    }
  }
  pthread_mutex_unlock(&p->mutex);
  free(zNameF);
  free(zNameT);
  free(zOld);
  return rc;
}

static int tenvRemove(lsm_env *pEnv, const char *zPath){
  TestEnv *p = tenvOf(pEnv);
  int rc;
  TDir *pDir = 0;
  char *zName = 0;
  pthread_mutex_lock(&p->mutex);
  rc = tenvBegin(p, TESTENV_REMOVE, 1, zPath, 0, 0);
  if( rc==LSM_OK ){
    TEntry *pEntry;
    tenvResolve(p, zPath, &pDir, &zName);
    pEntry = tenvAdopt(p, pDir, zName);
    if( pEntry && pEntry->eType==TENV_FILE ) tenvShadow(pEntry->pInode, zPath);
    rc = p->pReal->xRemove(p->pReal, zPath);
    if( rc==LSM_OK && pEntry ) tenvEntryRemove(&pDir->pLive, pEntry, 1);
  }
  pthread_mutex_unlock(&p->mutex);
  free(zName);
  return rc;
}

static int tenvLink(lsm_env *pEnv, const char *zFrom, const char *zTo){
  TestEnv *p = tenvOf(pEnv);
  int rc;
  TDir *pDirF = 0, *pDirT = 0;
  char *zNameF = 0, *zNameT = 0;
  pthread_mutex_lock(&p->mutex);
  rc = tenvBegin(p, TESTENV_LINK, 1, zFrom, 0, 0);
  if( rc==LSM_OK ){
    TEntry *pF;
    tenvResolve(p, zFrom, &pDirF, &zNameF);
    tenvResolve(p, zTo, &pDirT, &zNameT);
    pF = tenvAdopt(p, pDirF, zNameF);
    if( pF && pF->eType!=TENV_FILE ) pF = 0;
    if( pF ) tenvShadow(pF->pInode, zFrom);
    rc = p->pReal->xLink(p->pReal, zFrom, zTo);
    if( rc==LSM_OK && pDirT && tenvLive(pDirT, zNameT)==0 ){
      if( pF ){
        tenvEntryAdd(&pDirT->pLive, 1, zNameT, TENV_FILE, pF->pInode, 0);
      }else{
        tenvNoteCreated(p, pDirT, zNameT);
      }
    }
  }
  pthread_mutex_unlock(&p->mutex);
  free(zNameF);
  free(zNameT);
  return rc;
}

static int tenvMkdir(lsm_env *pEnv, const char *zPath){
  TestEnv *p = tenvOf(pEnv);
  int rc;
  TDir *pDir = 0;
  char *zName = 0;
  pthread_mutex_lock(&p->mutex);
  rc = tenvBegin(p, TESTENV_MKDIR, 1, zPath, 0, 0);
  if( rc==LSM_OK ){
    TEntry *pEntry;
    tenvResolve(p, zPath, &pDir, &zName);
    pEntry = tenvAdopt(p, pDir, zName);
    rc = p->pReal->xMkdir(p->pReal, zPath);
    if( rc==LSM_OK && pDir && pDir->zPath && pEntry==0 ){
      /* Add the entry first so that capturing the new directory links
      ** it to its parent. */
      char *zChild = tenvJoin(pDir->zPath, zName);
      tenvEntryAdd(&pDir->pLive, 1, zName, TENV_DIR, 0, 0);
      tenvDirGet(p, zChild);
      free(zChild);
    }
  }
  pthread_mutex_unlock(&p->mutex);
  free(zName);
  return rc;
}

static int tenvRmdir(lsm_env *pEnv, const char *zPath){
  TestEnv *p = tenvOf(pEnv);
  int rc;
  TDir *pDir = 0;
  char *zName = 0;
  pthread_mutex_lock(&p->mutex);
  rc = tenvBegin(p, TESTENV_RMDIR, 1, zPath, 0, 0);
  if( rc==LSM_OK ){
    TEntry *pEntry;
    tenvResolve(p, zPath, &pDir, &zName);
    pEntry = tenvAdopt(p, pDir, zName);
    if( pEntry && pEntry->eType!=TENV_DIR ) pEntry = 0;
    if( pEntry && pEntry->pDir==0 ){
      /* Capture it (empty, or rmdir fails) so that the parent's durable
      ** entry has something to restore. */
      char *zChild = tenvJoin(pDir->zPath, zName);
      tenvDirGet(p, zChild);
      free(zChild);
    }
    rc = p->pReal->xRmdir(p->pReal, zPath);
    if( rc==LSM_OK && pEntry ){
      if( pEntry->pDir ){
        free(pEntry->pDir->zPath);
        pEntry->pDir->zPath = 0;
      }
      tenvEntryRemove(&pDir->pLive, pEntry, 1);
    }
  }
  pthread_mutex_unlock(&p->mutex);
  free(zName);
  return rc;
}

static int tenvSyncDir(lsm_env *pEnv, const char *zDir){
  TestEnv *p = tenvOf(pEnv);
  int rc;
  pthread_mutex_lock(&p->mutex);
  rc = tenvBegin(p, TESTENV_SYNCDIR, 1, zDir, 0, 0);
  if( rc==LSM_OK ) rc = p->pReal->xSyncDir(p->pReal, zDir);
  if( rc==LSM_OK ){
    char *zCanon = tenvCanon(zDir);
    TDir *pDir = zCanon ? tenvDirLookup(p, zCanon) : 0;
    if( pDir ){
      TEntry *pEntry;
      tenvEntryFreeList(pDir->pDur, 0);
      pDir->pDur = 0;
      for(pEntry=pDir->pLive; pEntry; pEntry=pEntry->pNext){
        tenvEntryAdd(&pDir->pDur, 0, pEntry->zName, pEntry->eType,
                     pEntry->pInode, pEntry->pDir);
      }
    }
    free(zCanon);
    tenvAfterSyncLocked(p);
  }
  pthread_mutex_unlock(&p->mutex);
  if( rc==LSM_OK ) rc = tenvAfterSync(p, TESTENV_SYNCDIR, zDir);
  return rc;
}

static int tenvList(lsm_env *pEnv, const char *zDir,
                    int (*xEntry)(void*, const char*), void *pArg){
  TestEnv *p = tenvOf(pEnv);
  int rc;
  pthread_mutex_lock(&p->mutex);
  rc = tenvBegin(p, TESTENV_LIST, 0, zDir, 0, 0);
  pthread_mutex_unlock(&p->mutex);
  if( rc==LSM_OK ) rc = p->pReal->xList(p->pReal, zDir, xEntry, pArg);
  return rc;
}

static int tenvExists(lsm_env *pEnv, const char *zPath, int *pbExists){
  TestEnv *p = tenvOf(pEnv);
  int rc;
  *pbExists = 0;
  pthread_mutex_lock(&p->mutex);
  rc = tenvBegin(p, TESTENV_EXISTS, 0, zPath, 0, 0);
  pthread_mutex_unlock(&p->mutex);
  if( rc==LSM_OK ) rc = p->pReal->xExists(p->pReal, zPath, pbExists);
  return rc;
}

static int tenvLock(lsm_env *pEnv, const char *zPath, lsm_file **ppLock){
  TestEnv *p = tenvOf(pEnv);
  int rc;
  lsm_file *pReal = 0;
  *ppLock = 0;
  pthread_mutex_lock(&p->mutex);
  rc = tenvBegin(p, TESTENV_LOCK, 0, zPath, 0, 0);
  if( rc==LSM_OK ) rc = p->pReal->xLock(p->pReal, zPath, &pReal);
  if( rc==LSM_OK ) rc = tenvHandleNew(p, pReal, 0, zPath, ppLock);
  pthread_mutex_unlock(&p->mutex);
  return rc;
}

static int tenvUnlock(lsm_file *pLock){
  return tenvRelease(pLock, TESTENV_UNLOCK);
}

static uint64_t tenvNowMicros(lsm_env *pEnv){
  TestEnv *p = tenvOf(pEnv);
  return p->pReal->xNowMicros(p->pReal);
}

static void tenvSleep(lsm_env *pEnv, uint64_t nMicros){
  TestEnv *p = tenvOf(pEnv);
  p->pReal->xSleep(p->pReal, nMicros);
}

/*************************************************************************
** The public interface (testenv.h).
*/

TestEnv *testenvNew(void){
  TestEnv *p = calloc(1, sizeof(*p));
  if( p==0 ) return 0;
  p->base.pCtx = p;
  p->base.xOpen = tenvOpen;
  p->base.xRead = tenvRead;
  p->base.xAppend = tenvAppend;
  p->base.xSync = tenvSync;
  p->base.xSize = tenvSize;
  p->base.xTruncate = tenvTruncate;
  p->base.xClose = tenvClose;
  p->base.xRename = tenvRename;
  p->base.xRemove = tenvRemove;
  p->base.xLink = tenvLink;
  p->base.xMkdir = tenvMkdir;
  p->base.xRmdir = tenvRmdir;
  p->base.xSyncDir = tenvSyncDir;
  p->base.xList = tenvList;
  p->base.xExists = tenvExists;
  p->base.xLock = tenvLock;
  p->base.xUnlock = tenvUnlock;
  p->base.xNowMicros = tenvNowMicros;
  p->base.xSleep = tenvSleep;
  p->pReal = lsm_env_default();
  pthread_mutex_init(&p->mutex, 0);
  return p;
}

static void tenvClearFaultsLocked(TestEnv *p){
  int i;
  for(i=0; i<p->nFault; i++) free(p->aFault[i].zSubstr);
  p->nFault = 0;
}

void testenvFree(TestEnv *p){
  if( p==0 ) return;
  tenvClearFaultsLocked(p);
  tenvModelFree(p);
  pthread_mutex_destroy(&p->mutex);
  free(p);
}

lsm_env *testenvEnv(TestEnv *p){
  return &p->base;
}

uint64_t testenvCount(TestEnv *p, int kind){
  uint64_t n = 0;
  if( kind<0 || kind>=TESTENV_NKIND ) return 0;
  pthread_mutex_lock(&p->mutex);
  n = p->aCount[kind];
  pthread_mutex_unlock(&p->mutex);
  return n;
}

void testenvFailAtPath(TestEnv *p, int kind, int n, int err,
                       int bPersistent, const char *zSubstr){
  pthread_mutex_lock(&p->mutex);
  if( p->nFault<TENV_MAX_FAULT && kind>=0 && kind<TESTENV_NKIND ){
    TFault *pFault = &p->aFault[p->nFault++];
    memset(pFault, 0, sizeof(*pFault));
    pFault->eKind = kind;
    pFault->n = n<1 ? 1 : n;
    pFault->err = err;
    pFault->bPersistent = bPersistent;
    pFault->zSubstr = zSubstr ? tenvStrdup(zSubstr) : 0;
  }
  pthread_mutex_unlock(&p->mutex);
}

void testenvFailAt(TestEnv *p, int kind, int n, int err, int bPersistent){
  testenvFailAtPath(p, kind, n, err, bPersistent, 0);
}

void testenvClearFaults(TestEnv *p){
  pthread_mutex_lock(&p->mutex);
  tenvClearFaultsLocked(p);
  pthread_mutex_unlock(&p->mutex);
}

void testenvCrash(TestEnv *p, int bTorn, unsigned seed){
  pthread_mutex_lock(&p->mutex);
  tenvCrashLocked(p, bTorn, seed);
  pthread_mutex_unlock(&p->mutex);
}

int testenvCrashed(TestEnv *p){
  int bCrashed;
  pthread_mutex_lock(&p->mutex);
  bCrashed = p->bCrashed;
  pthread_mutex_unlock(&p->mutex);
  return bCrashed;
}

void testenvRestart(TestEnv *p){
  pthread_mutex_lock(&p->mutex);
  tenvModelFree(p);
  p->iEpoch++;
  p->bCrashed = 0;
  memset(p->aCount, 0, sizeof(p->aCount));
  tenvClearFaultsLocked(p);
  p->xHook = 0;
  p->pHookArg = 0;
  p->nCrashAtSync = 0;
  pthread_mutex_unlock(&p->mutex);
}

void testenvSetSyncHook(TestEnv *p, TestEnvSyncHook xHook, void *pArg){
  pthread_mutex_lock(&p->mutex);
  p->xHook = xHook;
  p->pHookArg = pArg;
  pthread_mutex_unlock(&p->mutex);
}

void testenvCrashAtSync(TestEnv *p, uint64_t k, int bTorn, unsigned seed){
  pthread_mutex_lock(&p->mutex);
  p->nCrashAtSync = k ? p->aCount[TESTENV_FSYNC] + k : 0;
  p->bCrashTorn = bTorn;
  p->iCrashSeed = seed;
  pthread_mutex_unlock(&p->mutex);
}
