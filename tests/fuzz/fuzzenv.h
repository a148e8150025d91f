/*
** fuzzenv.h -- helpers shared by the fuzz targets: an in-memory read-only
** lsm_env, and the record framing's checksum fix-up.
**
** Each target (fuzz_*.c) includes this header once; everything here is
** static.  The targets are built with libFuzzer (tests/fuzz/run.sh):
**
**     clang -fsanitize=fuzzer,address,undefined ... fuzz_log.c lsm/...
**
** The memory env.  A fuzz input becomes one or more "files" of a single
** directory without touching the disk: fuzzenvAdd(&env, "dir/NAME", a, n)
** registers n bytes (not copied; they must outlive the env's use), and the
** lsm_env returned by fuzzenvEnv() serves them: xOpen (read-only opens
** only), xRead, xSize, xClose, xList of the directory and xExists.  Every
** other method returns LSM_IOERR, so a parser that tried to write would
** fail cleanly.  Opening a name that was not added is LSM_NOTFOUND, as the
** POSIX env reports a missing file.
**
** Checksums.  Random bytes almost never carry a valid CRC32C, so a fuzzer
** left alone would only ever exercise the "checksum mismatch" branch.
** Each target therefore reads a mode byte first, and one mode bit asks
** the target to repair the checksums of the input before parsing it, so
** that the mutated contents reach the parsers behind the checksums.
** fuzzenvFixRecords() does that for the record framing of logs and
** manifests (FORMAT.md): it walks records by their length fields and
** rewrites each CRC.  The table target repairs its blocks itself.
*/
#ifndef FUZZENV_H
#define FUZZENV_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lsm.h"
#include "coding.h"
#include "util.h"

#define FUZZENV_MAX_FILES 8

typedef struct FuzzFile {
  const char *zPath;        /* full path, "dir/NAME" */
  const uint8_t *a;         /* contents (not owned) */
  size_t n;
} FuzzFile;

typedef struct FuzzEnv {
  lsm_env base;             /* must be first: methods cast back */
  const char *zDir;         /* the one directory xList knows */
  FuzzFile aFile[FUZZENV_MAX_FILES];
  int nFile;
} FuzzEnv;

/* An open handle: which file, and of which env. */
struct lsm_file {
  const FuzzFile *pFile;
};

static int fuzzenvOpen(lsm_env *pEnv, const char *zPath, int flags,
                       lsm_file **ppFile){
  FuzzEnv *p = (FuzzEnv*)pEnv;
  int i;
  *ppFile = 0;
  if( flags!=LSM_OPEN_READONLY ) return LSM_IOERR;
  for(i=0; i<p->nFile; i++){
    if( strcmp(p->aFile[i].zPath, zPath)==0 ){
      lsm_file *pFile = lsmMalloc(sizeof(*pFile));
      if( pFile==0 ) return LSM_NOMEM;
      pFile->pFile = &p->aFile[i];
      *ppFile = pFile;
      return LSM_OK;
    }
  }
  return LSM_NOTFOUND;
}

static int fuzzenvRead(lsm_file *pFile, uint64_t iOff, void *pBuf,
                       size_t nBuf, size_t *pnRead){
  const FuzzFile *f = pFile->pFile;
  size_t n = 0;
  if( iOff<f->n ){
    n = f->n - (size_t)iOff;
    if( n>nBuf ) n = nBuf;
    memcpy(pBuf, f->a + iOff, n);
  }
  *pnRead = n;
  return LSM_OK;
}

static int fuzzenvSize(lsm_file *pFile, uint64_t *pnSize){
  *pnSize = pFile->pFile->n;
  return LSM_OK;
}

static int fuzzenvClose(lsm_file *pFile){
  lsmFree(pFile);
  return LSM_OK;
}

static int fuzzenvList(lsm_env *pEnv, const char *zDir,
                       int (*xEntry)(void*, const char*), void *pArg){
  FuzzEnv *p = (FuzzEnv*)pEnv;
  size_t nDir = strlen(zDir);
  int i, rc = LSM_OK;
  if( strcmp(zDir, p->zDir)!=0 ) return LSM_NOTFOUND;
  for(i=0; rc==LSM_OK && i<p->nFile; i++){
    const char *z = p->aFile[i].zPath;
    if( strncmp(z, zDir, nDir)==0 && z[nDir]=='/' ) rc = xEntry(pArg, z+nDir+1);
  }
  return rc;
}

static int fuzzenvExists(lsm_env *pEnv, const char *zPath, int *pbExists){
  FuzzEnv *p = (FuzzEnv*)pEnv;
  int i;
  *pbExists = 0;
  for(i=0; i<p->nFile; i++){
    if( strcmp(p->aFile[i].zPath, zPath)==0 ) *pbExists = 1;
  }
  return LSM_OK;
}

/* Every method that would change something. */
static int fuzzenvAppend(lsm_file *f, const void *a, size_t n){
  (void)f; (void)a; (void)n;
  return LSM_IOERR;
}
static int fuzzenvSync(lsm_file *f){ (void)f; return LSM_IOERR; }
static int fuzzenvTruncate(lsm_file *f, uint64_t n){
  (void)f; (void)n;
  return LSM_IOERR;
}
static int fuzzenvTwoPaths(lsm_env *e, const char *a, const char *b){
  (void)e; (void)a; (void)b;
  return LSM_IOERR;
}
static int fuzzenvOnePath(lsm_env *e, const char *a){
  (void)e; (void)a;
  return LSM_IOERR;
}
static int fuzzenvLock(lsm_env *e, const char *z, lsm_file **pp){
  (void)e; (void)z;
  *pp = 0;
  return LSM_IOERR;
}
static int fuzzenvUnlock(lsm_file *f){ (void)f; return LSM_OK; }
static uint64_t fuzzenvNow(lsm_env *e){ (void)e; return 0; }
static void fuzzenvSleep(lsm_env *e, uint64_t n){ (void)e; (void)n; }

/* Initialise p as an empty directory zDir (a string that must outlive p). */
static inline void fuzzenvInit(FuzzEnv *p, const char *zDir){
  memset(p, 0, sizeof(*p));
  p->zDir = zDir;
  p->base.xOpen = fuzzenvOpen;
  p->base.xRead = fuzzenvRead;
  p->base.xAppend = fuzzenvAppend;
  p->base.xSync = fuzzenvSync;
  p->base.xSize = fuzzenvSize;
  p->base.xTruncate = fuzzenvTruncate;
  p->base.xClose = fuzzenvClose;
  p->base.xRename = fuzzenvTwoPaths;
  p->base.xRemove = fuzzenvOnePath;
  p->base.xLink = fuzzenvTwoPaths;
  p->base.xMkdir = fuzzenvOnePath;
  p->base.xRmdir = fuzzenvOnePath;
  p->base.xSyncDir = fuzzenvOnePath;
  p->base.xList = fuzzenvList;
  p->base.xExists = fuzzenvExists;
  p->base.xLock = fuzzenvLock;
  p->base.xUnlock = fuzzenvUnlock;
  p->base.xNowMicros = fuzzenvNow;
  p->base.xSleep = fuzzenvSleep;
}

/* Register file zPath (a string that must outlive p) holding a[0..n-1]. */
static inline void fuzzenvAdd(FuzzEnv *p, const char *zPath, const uint8_t *a,
                       size_t n){
  if( p->nFile<FUZZENV_MAX_FILES ){
    p->aFile[p->nFile].zPath = zPath;
    p->aFile[p->nFile].a = a;
    p->aFile[p->nFile].n = n;
    p->nFile++;
  }
}

static inline lsm_env *fuzzenvEnv(FuzzEnv *p){ return &p->base; }

/*
** Rewrite the CRC of every record of the record-framed bytes a[0..n-1]
** (crc u32 | length u32 | type u8 | payload), walking by the length
** fields, so that each record that fits in the buffer checks out.  A
** length that runs past the end stops the walk.
*/
static inline void fuzzenvFixRecords(uint8_t *a, size_t n){
  size_t i = 0;
  while( n-i>=9 ){
    uint32_t nLen = lsmGet32(a+i+4);
    if( nLen>n-i-9 ) break;
    lsmPut32(a+i, lsmCrc32c(0, a+i+4, 5 + (size_t)nLen));
    i += 9 + (size_t)nLen;
  }
}

/* A copy of a[0..n-1] in malloc()ed memory (never NULL for n==0). */
static inline uint8_t *fuzzenvCopy(const uint8_t *a, size_t n){
  uint8_t *p = malloc(n ? n : 1);
  if( p==0 ) abort();
  if( n ) memcpy(p, a, n);
  return p;
}

#endif /* FUZZENV_H */
