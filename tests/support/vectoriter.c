/*
** vectoriter.c -- an internal iterator over an array in memory, for
** tests.  See vectoriter.h.
**
** The entries live in aEntry[0..nEntry-1]; once sorted (bSorted), iPos
** is the index of the current entry, or -1 when not positioned.  Each
** entry owns one malloc'd block holding its internal key then its value.
*/
#include "vectoriter.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ikey.h"
#include "util.h"

typedef struct VecEntry {
  uint8_t *pIkey;
  size_t nIkey;
  uint8_t *pVal;           /* points into the pIkey block */
  size_t nVal;
} VecEntry;

typedef struct VecIter {
  LsmIter base;            /* must be first */
  VecEntry *aEntry;
  int nEntry;
  int nAlloc;
  int bSorted;
  int iPos;                /* current entry, -1 if none */
  int nMove;               /* movement calls so far */
  int iFailMove;           /* nMove value whose call fails; 0: none */
  int rcFail;
  int iLowWater, iHighWater;
} VecIter;

static atomic_int vecLive;

static int vecCompare(const void *a, const void *b){
  const VecEntry *pA = a, *pB = b;
  return lsmIkeyCompare(pA->pIkey, pA->nIkey, pB->pIkey, pB->nIkey);
}

/* Count a movement call; return the injected error if it is due. */
static int vecMove(VecIter *p){
  p->nMove++;
  if( !p->bSorted ){
    qsort(p->aEntry, (size_t)p->nEntry, sizeof(VecEntry), vecCompare);
    p->bSorted = 1;
  }
  if( p->iFailMove==p->nMove ){
    p->iFailMove = 0;
    p->iPos = -1;
    return lsmErr(p->rcFail, "vector iterator: injected error at move %d",
                  p->nMove);
  }
  return LSM_OK;
}

/* Land on entry i (or nowhere, if out of range); track the water marks. */
static int vecLand(VecIter *p, int i){
  if( i<0 || i>=p->nEntry ){
    p->iPos = -1;
  }else{
    p->iPos = i;
    if( p->iLowWater<0 || i<p->iLowWater ) p->iLowWater = i;
    if( i>p->iHighWater ) p->iHighWater = i;
  }
  return LSM_OK;
}

static void vecClose(LsmIter *pIter){
  VecIter *p = (VecIter*)pIter;
  int i;
  for(i=0; i<p->nEntry; i++) free(p->aEntry[i].pIkey);
  free(p->aEntry);
  free(p);
  atomic_fetch_sub(&vecLive, 1);
}

static int vecFirst(LsmIter *pIter){
  VecIter *p = (VecIter*)pIter;
  int rc = vecMove(p);
  return rc ? rc : vecLand(p, 0);
}

static int vecLast(LsmIter *pIter){
  VecIter *p = (VecIter*)pIter;
  int rc = vecMove(p);
  return rc ? rc : vecLand(p, p->nEntry-1);
}

static int vecSeek(LsmIter *pIter, const uint8_t *pIkey, size_t nIkey){
  VecIter *p = (VecIter*)pIter;
  int lo = 0, hi;
  int rc = vecMove(p);
  if( rc ) return rc;
  hi = p->nEntry;
  while( lo<hi ){                     /* first entry >= the key */
    int mid = lo + (hi-lo)/2;
    const VecEntry *pE = &p->aEntry[mid];
    if( lsmIkeyCompare(pE->pIkey, pE->nIkey, pIkey, nIkey)<0 ){
      lo = mid+1;
    }else{
      hi = mid;
    }
  }
  return vecLand(p, lo);
}

static int vecNext(LsmIter *pIter){
  VecIter *p = (VecIter*)pIter;
  int iPos = p->iPos;
  int rc = vecMove(p);
  if( rc ) return rc;
  if( iPos<0 ) return lsmErr(LSM_INVALID, "vector iterator: next unpositioned");
  return vecLand(p, iPos+1);
}

static int vecPrev(LsmIter *pIter){
  VecIter *p = (VecIter*)pIter;
  int iPos = p->iPos;
  int rc = vecMove(p);
  if( rc ) return rc;
  if( iPos<0 ) return lsmErr(LSM_INVALID, "vector iterator: prev unpositioned");
  return vecLand(p, iPos-1);
}

static int vecValid(LsmIter *pIter){
  return ((VecIter*)pIter)->iPos>=0;
}

static void vecKey(LsmIter *pIter, const uint8_t **pp, size_t *pn){
  VecIter *p = (VecIter*)pIter;
  *pp = p->aEntry[p->iPos].pIkey;
  *pn = p->aEntry[p->iPos].nIkey;
}

static void vecValue(LsmIter *pIter, const uint8_t **pp, size_t *pn){
  VecIter *p = (VecIter*)pIter;
  *pp = p->aEntry[p->iPos].pVal;
  *pn = p->aEntry[p->iPos].nVal;
}

static const LsmIterMethods vecMethods = {
  vecClose, vecFirst, vecLast, vecSeek, vecNext, vecPrev,
  vecValid, vecKey, vecValue
};

LsmIter *vecIterNew(void){
  VecIter *p = calloc(1, sizeof(VecIter));
  if( p==0 ) return 0;
  p->base.pMethods = &vecMethods;
  p->bSorted = 1;
  p->iPos = -1;
  p->iLowWater = p->iHighWater = -1;
  atomic_fetch_add(&vecLive, 1);
  return &p->base;
}

int vecIterAddIkey(LsmIter *pIter, const void *pIkey, size_t nIkey,
                   const void *pVal, size_t nVal){
  VecIter *p = (VecIter*)pIter;
  VecEntry *pE;
  if( p->nEntry==p->nAlloc ){
    int nNew = p->nAlloc ? 2*p->nAlloc : 16;
    VecEntry *aNew = realloc(p->aEntry, (size_t)nNew*sizeof(VecEntry));
    if( aNew==0 ) return LSM_NOMEM;
    p->aEntry = aNew;
    p->nAlloc = nNew;
  }
  pE = &p->aEntry[p->nEntry];
  pE->pIkey = malloc(nIkey + nVal + 1);
  if( pE->pIkey==0 ) return LSM_NOMEM;
  if( nIkey ) memcpy(pE->pIkey, pIkey, nIkey);
  pE->nIkey = nIkey;
  pE->pVal = pE->pIkey + nIkey;
  if( nVal ) memcpy(pE->pVal, pVal, nVal);
  pE->nVal = nVal;
  p->nEntry++;
  p->bSorted = 0;
  p->iPos = -1;
  return LSM_OK;
}

int vecIterAdd(LsmIter *pIter, const void *pKey, size_t nKey, uint64_t seq,
               int kind, const void *pVal, size_t nVal){
  uint8_t *pIkey = malloc(nKey + LSM_IKEY_TRAILER);
  int rc;
  if( pIkey==0 ) return LSM_NOMEM;
  if( nKey ) memcpy(pIkey, pKey, nKey);
  lsmPut64(pIkey + nKey, lsmIkeyTrailer(seq, kind));
  rc = vecIterAddIkey(pIter, pIkey, nKey + LSM_IKEY_TRAILER, pVal, nVal);
  free(pIkey);
  return rc;
}

int vecIterCount(LsmIter *pIter){ return ((VecIter*)pIter)->nEntry; }

void vecIterFailAt(LsmIter *pIter, int nMove, int rc){
  VecIter *p = (VecIter*)pIter;
  p->iFailMove = p->nMove + nMove;
  p->rcFail = rc;
}

int vecIterMoves(LsmIter *pIter){ return ((VecIter*)pIter)->nMove; }

void vecIterResetWater(LsmIter *pIter){
  VecIter *p = (VecIter*)pIter;
  p->iLowWater = p->iHighWater = -1;
}
int vecIterLowWater(LsmIter *pIter){ return ((VecIter*)pIter)->iLowWater; }
int vecIterHighWater(LsmIter *pIter){ return ((VecIter*)pIter)->iHighWater; }

int vecIterLiveCount(void){ return atomic_load(&vecLive); }
