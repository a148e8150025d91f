/*
** util.c -- the allocator hook, per-thread error messages and buffers.
*/
#include "util.h"
#include "coding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lsm_allocator gAlloc = { malloc, realloc, free };

void lsm_set_allocator(const lsm_allocator *pAlloc){
  if( pAlloc ){
    gAlloc = *pAlloc;
  }else{
    gAlloc.xMalloc = malloc;
    gAlloc.xRealloc = realloc;
    gAlloc.xFree = free;
  }
}

void *lsmMalloc(size_t n){ return gAlloc.xMalloc(n ? n : 1); }
void *lsmRealloc(void *p, size_t n){ return gAlloc.xRealloc(p, n ? n : 1); }
void lsmFree(void *p){ if( p ) gAlloc.xFree(p); }
void *lsm_malloc(size_t n){ return lsmMalloc(n); }
void lsm_free(void *p){ lsmFree(p); }

void *lsmMallocZero(size_t n){
  void *p = lsmMalloc(n);
  if( p ) memset(p, 0, n);
  return p;
}

char *lsmStrdup(const char *z){
  size_t n = strlen(z) + 1;
  char *zOut = lsmMalloc(n);
  if( zOut ) memcpy(zOut, z, n);
  return zOut;
}

char *lsmMprintf(const char *zFmt, ...){
  va_list ap;
  int n;
  char *z;
  va_start(ap, zFmt);
  n = vsnprintf(0, 0, zFmt, ap);
  va_end(ap);
  if( n<0 ) return 0;
  z = lsmMalloc((size_t)n + 1);
  if( z==0 ) return 0;
  va_start(ap, zFmt);
  vsnprintf(z, (size_t)n + 1, zFmt, ap);
  va_end(ap);
  return z;
}

static _Thread_local char zThreadErr[512];

int lsmErr(int rc, const char *zFmt, ...){
  if( rc==LSM_NOMEM ){
    snprintf(zThreadErr, sizeof(zThreadErr), "out of memory");
  }else{
    va_list ap;
    va_start(ap, zFmt);
    vsnprintf(zThreadErr, sizeof(zThreadErr), zFmt, ap);
    va_end(ap);
  }
  return rc;
}

const char *lsmErrMsg(void){ return zThreadErr; }
void lsmErrClear(void){ zThreadErr[0] = 0; }

int lsmBufReserve(LsmBuf *pBuf, size_t nExtra){
  size_t nNeed = pBuf->n + nExtra;
  if( nNeed>pBuf->nAlloc ){
    size_t nNew = pBuf->nAlloc ? pBuf->nAlloc*2 : 64;
    uint8_t *pNew;
    while( nNew<nNeed ) nNew *= 2;
    pNew = lsmRealloc(pBuf->p, nNew);
    if( pNew==0 ) return LSM_NOMEM;
    pBuf->p = pNew;
    pBuf->nAlloc = nNew;
  }
  return LSM_OK;
}

int lsmBufAppend(LsmBuf *pBuf, const void *p, size_t n){
  int rc = lsmBufReserve(pBuf, n);
  if( rc==LSM_OK && n>0 ){
    memcpy(pBuf->p + pBuf->n, p, n);
    pBuf->n += n;
  }
  return rc;
}

int lsmBufSet(LsmBuf *pBuf, const void *p, size_t n){
  pBuf->n = 0;
  return lsmBufAppend(pBuf, p, n);
}

int lsmBufAppendVarint(LsmBuf *pBuf, uint64_t v){
  int rc = lsmBufReserve(pBuf, LSM_MAX_VARINT64);
  if( rc==LSM_OK ) pBuf->n += (size_t)lsmPutVarint64(pBuf->p + pBuf->n, v);
  return rc;
}

void lsmBufFree(LsmBuf *pBuf){
  lsmFree(pBuf->p);
  memset(pBuf, 0, sizeof(*pBuf));
}

char *lsmPathJoin(const char *zDir, const char *zName){
  return lsmMprintf("%s/%s", zDir, zName);
}

const char *lsm_errstr(int rc){
  switch( rc ){
    case LSM_OK:       return "not an error";
    case LSM_ERROR:    return "error";
    case LSM_BUSY:     return "database directory is locked";
    case LSM_NOMEM:    return "out of memory";
    case LSM_READONLY: return "attempt to write a read-only database";
    case LSM_IOERR:    return "disk I/O error";
    case LSM_CORRUPT:  return "database file is corrupt";
    case LSM_NOTFOUND: return "not found";
    case LSM_FULL:     return "disk is full";
    case LSM_CANTOPEN: return "unable to open file";
    case LSM_TOOBIG:   return "key or value too big";
    case LSM_INVALID:  return "invalid argument";
  }
  return "unknown error";
}
