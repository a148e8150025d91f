/*
** version.c -- versions, version edits and the manifest.  See version.h.
**
** Edit encoding (FORMAT.md, "Manifest"): a sequence of fields, each a
** varint tag followed by its content:
**
**     1 log number       varint
**     2 next file        varint
**     3 last sequence    varint
**     4 deleted table    varint level, varint file
**     5 added table      varint level, file, size, entries, tombstones,
**                        min seq, max seq, varint n + smallest ikey,
**                        varint n + largest ikey
**     6 compact cursor   varint level, varint n + ikey
**     7 last transaction varint (largest lsm_commit_prepared id in tables)
**
** Unknown tags are corruption: a newer format must change the footer
** version of CURRENT's manifest, not silently lose fields.
*/
#include "version.h"
#include "coding.h"
#include "env.h"
#include "ikey.h"
#include "wal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG_LOG_NUMBER 1
#define TAG_NEXT_FILE  2
#define TAG_LAST_SEQ   3
#define TAG_DEL_FILE   4
#define TAG_ADD_FILE   5
#define TAG_CURSOR     6
#define TAG_LAST_TXN   7

char *lsmTableFileName(const char *zDir, uint64_t iFile){
  return lsmMprintf("%s/%06llu.sst", zDir, (unsigned long long)iFile);
}
char *lsmLogFileName(const char *zDir, uint64_t iFile){
  return lsmMprintf("%s/%06llu.log", zDir, (unsigned long long)iFile);
}
static char *manifestName(uint64_t iFile){
  return lsmMprintf("MANIFEST-%06llu", (unsigned long long)iFile);
}

/**************************************************************************
** Table metadata.
*/

static LsmFileMeta *fileNew(void){
  LsmFileMeta *p = lsmMallocZero(sizeof(*p));
  if( p ) p->nRef = 1;
  return p;
}

static void fileRef(LsmFileMeta *p){
  __atomic_add_fetch(&p->nRef, 1, __ATOMIC_RELAXED);
}

/* Drop a reference; at the last one, delete the file if a newer version
** has dropped it (at close, live tables simply lose their metadata). */
static void fileUnref(LsmFileMeta *p){
  if( p && __atomic_sub_fetch(&p->nRef, 1, __ATOMIC_ACQ_REL)==0 ){
    if( __atomic_load_n(&p->bObsolete, __ATOMIC_ACQUIRE) && p->pSet ){
      LsmVersionSet *pSet = p->pSet;
      char *zPath = lsmTableFileName(pSet->zDir, p->iFile);
      if( pSet->pTableCache ) lsmTableCacheEvict(pSet->pTableCache, p->iFile);
      /* A failed removal leaves an orphan that the next open deletes. */
      lsmEnvRemoveQuietly(pSet->pEnv, zPath);
      lsmFree(zPath);
    }
    lsmBufFree(&p->smallest);
    lsmBufFree(&p->largest);
    lsmFree(p);
  }
}

static int fileCopy(LsmFileMeta *pDst, const LsmFileMeta *pSrc){
  int rc;
  pDst->iFile = pSrc->iFile;
  pDst->nSize = pSrc->nSize;
  pDst->nEntry = pSrc->nEntry;
  pDst->nTombstone = pSrc->nTombstone;
  pDst->minSeq = pSrc->minSeq;
  pDst->maxSeq = pSrc->maxSeq;
  rc = lsmBufSet(&pDst->smallest, pSrc->smallest.p, pSrc->smallest.n);
  if( rc==LSM_OK ) rc = lsmBufSet(&pDst->largest, pSrc->largest.p, pSrc->largest.n);
  return rc;
}

int lsmFileOverlaps(const LsmFileMeta *p, const uint8_t *pLo, size_t nLo,
                    const uint8_t *pHi, size_t nHi){
  if( pLo && lsmUkeyCompare(p->largest.p, lsmIkeyUserLen(p->largest.n),
                            pLo, nLo)<0 ){
    return 0;
  }
  if( pHi && lsmUkeyCompare(p->smallest.p, lsmIkeyUserLen(p->smallest.n),
                            pHi, nHi)>=0 ){
    return 0;
  }
  return 1;
}

/**************************************************************************
** Version edits.
*/

void lsmEditInit(LsmVersionEdit *p){
  memset(p, 0, sizeof(*p));
}

void lsmEditClear(LsmVersionEdit *p){
  int i;
  for(i=0; i<p->nAdd; i++) fileUnref(p->aAdd[i].pMeta);
  for(i=0; i<LSM_NUM_LEVELS; i++) lsmBufFree(&p->aCursor[i]);
  lsmFree(p->aAdd);
  lsmFree(p->aDel);
  memset(p, 0, sizeof(*p));
}

static int editGrow(LsmEditFile **pa, int *pnAlloc, int n){
  if( n>=*pnAlloc ){
    int nNew = *pnAlloc ? *pnAlloc*2 : 8;
    LsmEditFile *aNew = lsmRealloc(*pa, sizeof(LsmEditFile)*(size_t)nNew);
    if( aNew==0 ) return LSM_NOMEM;
    *pa = aNew;
    *pnAlloc = nNew;
  }
  return LSM_OK;
}

int lsmEditAddMeta(LsmVersionEdit *p, int iLevel, const LsmFileMeta *pSrc){
  LsmFileMeta *pMeta;
  int rc = editGrow(&p->aAdd, &p->nAddAlloc, p->nAdd);
  if( rc!=LSM_OK ) return rc;
  pMeta = fileNew();
  if( pMeta==0 ) return LSM_NOMEM;
  rc = fileCopy(pMeta, pSrc);
  if( rc!=LSM_OK ){
    fileUnref(pMeta);
    return rc;
  }
  p->aAdd[p->nAdd].iLevel = iLevel;
  p->aAdd[p->nAdd].iFile = pMeta->iFile;
  p->aAdd[p->nAdd].pMeta = pMeta;
  p->nAdd++;
  return LSM_OK;
}

int lsmEditAddFile(LsmVersionEdit *p, int iLevel, uint64_t iFile,
                   const LsmTableProps *pProps){
  LsmFileMeta m;
  memset(&m, 0, sizeof(m));
  m.iFile = iFile;
  m.nSize = pProps->nFileSize;
  m.nEntry = pProps->nEntry;
  m.nTombstone = pProps->nTombstone;
  m.minSeq = pProps->minSeq;
  m.maxSeq = pProps->maxSeq;
  m.smallest = pProps->smallest;
  m.largest = pProps->largest;
  return lsmEditAddMeta(p, iLevel, &m);
}

int lsmEditDelFile(LsmVersionEdit *p, int iLevel, uint64_t iFile){
  int rc = editGrow(&p->aDel, &p->nDelAlloc, p->nDel);
  if( rc==LSM_OK ){
    p->aDel[p->nDel].iLevel = iLevel;
    p->aDel[p->nDel].iFile = iFile;
    p->aDel[p->nDel].pMeta = 0;
    p->nDel++;
  }
  return rc;
}

static void putVarint(LsmBuf *b, uint64_t v){
  b->n += (size_t)lsmPutVarint64(b->p + b->n, v);
}
static void putBytes(LsmBuf *b, const LsmBuf *pSrc){
  putVarint(b, pSrc->n);
  memcpy(b->p + b->n, pSrc->p, pSrc->n);
  b->n += pSrc->n;
}

int lsmEditEncode(const LsmVersionEdit *p, LsmBuf *pOut){
  size_t nNeed = 3*(1+LSM_MAX_VARINT64) + (size_t)p->nDel*3*LSM_MAX_VARINT64;
  int i, rc;
  for(i=0; i<p->nAdd; i++){
    const LsmFileMeta *m = p->aAdd[i].pMeta;
    nNeed += 11*LSM_MAX_VARINT64 + m->smallest.n + m->largest.n;
  }
  for(i=0; i<LSM_NUM_LEVELS; i++){
    nNeed += 3*LSM_MAX_VARINT64 + p->aCursor[i].n;
  }
  pOut->n = 0;
  rc = lsmBufReserve(pOut, nNeed);
  if( rc!=LSM_OK ) return rc;
  if( p->bLogNumber ){ putVarint(pOut, TAG_LOG_NUMBER); putVarint(pOut, p->iLogNumber); }
  if( p->bNextFile ){ putVarint(pOut, TAG_NEXT_FILE); putVarint(pOut, p->iNextFile); }
  if( p->bLastSeq ){ putVarint(pOut, TAG_LAST_SEQ); putVarint(pOut, p->iLastSeq); }
  if( p->bLastTxn ){ putVarint(pOut, TAG_LAST_TXN); putVarint(pOut, p->iLastTxn); }
  for(i=0; i<p->nDel; i++){
    putVarint(pOut, TAG_DEL_FILE);
    putVarint(pOut, (uint64_t)p->aDel[i].iLevel);
    putVarint(pOut, p->aDel[i].iFile);
  }
  for(i=0; i<p->nAdd; i++){
    const LsmFileMeta *m = p->aAdd[i].pMeta;
    putVarint(pOut, TAG_ADD_FILE);
    putVarint(pOut, (uint64_t)p->aAdd[i].iLevel);
    putVarint(pOut, m->iFile);
    putVarint(pOut, m->nSize);
    putVarint(pOut, m->nEntry);
    putVarint(pOut, m->nTombstone);
    putVarint(pOut, m->minSeq);
    putVarint(pOut, m->maxSeq);
    putBytes(pOut, &m->smallest);
    putBytes(pOut, &m->largest);
  }
  for(i=0; i<LSM_NUM_LEVELS; i++){
    if( p->abCursor[i] ){
      putVarint(pOut, TAG_CURSOR);
      putVarint(pOut, (uint64_t)i);
      putBytes(pOut, &p->aCursor[i]);
    }
  }
  return LSM_OK;
}

/* A cursor over an edit being decoded; any overrun sets bBad. */
typedef struct EditReader {
  const uint8_t *a;
  size_t n, i;
  int bBad;
} EditReader;

static uint64_t readVarint(EditReader *r){
  uint64_t v = 0;
  int k;
  if( r->bBad ) return 0;
  k = lsmGetVarint64(r->a + r->i, r->n - r->i, &v);
  if( k==0 ){ r->bBad = 1; return 0; }
  r->i += (size_t)k;
  return v;
}

static int readLevel(EditReader *r){
  uint64_t v = readVarint(r);
  if( v>=LSM_NUM_LEVELS ){ r->bBad = 1; return 0; }
  return (int)v;
}

static int readBytes(EditReader *r, LsmBuf *pOut, int bIkey){
  uint64_t nByte = readVarint(r);
  if( r->bBad ) return LSM_OK;
  if( nByte>r->n - r->i || (bIkey && nByte<LSM_IKEY_TRAILER) ){
    r->bBad = 1;
    return LSM_OK;
  }
  r->i += nByte;
  return lsmBufSet(pOut, r->a + r->i - nByte, nByte);
}

int lsmEditDecode(LsmVersionEdit *p, const uint8_t *a, size_t n){
  EditReader r;
  int rc = LSM_OK;
  r.a = a; r.n = n; r.i = 0; r.bBad = 0;
  lsmEditInit(p);
  while( rc==LSM_OK && !r.bBad && r.i<r.n ){
    uint64_t tag = readVarint(&r);
    switch( tag ){
      case TAG_LOG_NUMBER:
        p->bLogNumber = 1; p->iLogNumber = readVarint(&r); break;
      case TAG_NEXT_FILE:
        p->bNextFile = 1; p->iNextFile = readVarint(&r); break;
      case TAG_LAST_SEQ:
        p->bLastSeq = 1; p->iLastSeq = readVarint(&r); break;
      case TAG_LAST_TXN:
        p->bLastTxn = 1; p->iLastTxn = readVarint(&r); break;
      case TAG_DEL_FILE: {
        int iLevel = readLevel(&r);
        uint64_t iFile = readVarint(&r);
        if( !r.bBad ) rc = lsmEditDelFile(p, iLevel, iFile);
        break;
      }
      case TAG_ADD_FILE: {
        LsmFileMeta m;
        int iLevel = readLevel(&r);
        memset(&m, 0, sizeof(m));
        m.iFile = readVarint(&r);
        m.nSize = readVarint(&r);
        m.nEntry = readVarint(&r);
        m.nTombstone = readVarint(&r);
        m.minSeq = readVarint(&r);
        m.maxSeq = readVarint(&r);
        rc = readBytes(&r, &m.smallest, 1);
        if( rc==LSM_OK ) rc = readBytes(&r, &m.largest, 1);
        if( rc==LSM_OK && !r.bBad ) rc = lsmEditAddMeta(p, iLevel, &m);
        lsmBufFree(&m.smallest);
        lsmBufFree(&m.largest);
        break;
      }
      case TAG_CURSOR: {
        int iLevel = readLevel(&r);
        if( !r.bBad ){
          p->abCursor[iLevel] = 1;
          rc = readBytes(&r, &p->aCursor[iLevel], 1);
        }
        break;
      }
      default:
        r.bBad = 1;
        break;
    }
  }
  if( rc==LSM_OK && r.bBad ){
    rc = lsmErr(LSM_CORRUPT, "malformed version edit at byte %zu", r.i);
  }
  if( rc!=LSM_OK ) lsmEditClear(p);
  return rc;
}

/**************************************************************************
** Versions.
*/

void lsmVersionRef(LsmVersion *v){
  __atomic_add_fetch(&v->nRef, 1, __ATOMIC_RELAXED);
}

void lsmVersionUnref(LsmVersion *v){
  if( v && __atomic_sub_fetch(&v->nRef, 1, __ATOMIC_ACQ_REL)==0 ){
    int i, j;
    for(i=0; i<LSM_NUM_LEVELS; i++){
      for(j=0; j<v->anFile[i]; j++) fileUnref(v->aapFile[i][j]);
      lsmFree(v->aapFile[i]);
    }
    lsmFree(v);
  }
}

LsmVersion *lsmVersionCurrent(LsmVersionSet *p){
  lsmVersionRef(p->pCurrent);
  return p->pCurrent;
}

static int cmpSmallest(const void *a, const void *b){
  const LsmFileMeta *pA = *(LsmFileMeta*const*)a;
  const LsmFileMeta *pB = *(LsmFileMeta*const*)b;
  return lsmIkeyCompare(pA->smallest.p, pA->smallest.n,
                        pB->smallest.p, pB->smallest.n);
}
static int cmpNewestFirst(const void *a, const void *b){
  const LsmFileMeta *pA = *(LsmFileMeta*const*)a;
  const LsmFileMeta *pB = *(LsmFileMeta*const*)b;
  return (pA->iFile < pB->iFile) - (pA->iFile > pB->iFile);
}

static int editDeletes(const LsmVersionEdit *e, int iLevel, uint64_t iFile){
  int i;
  for(i=0; i<e->nDel; i++){
    if( e->aDel[i].iLevel==iLevel && e->aDel[i].iFile==iFile ) return 1;
  }
  return 0;
}

/*
** The metadata in pBase of table iFile if e moves it (deletes it from
** one level and adds it to another), else NULL.  The moved table keeps
** that object, so that one reference count covers every version that
** lists the file, at either level: the file goes only when all have.
*/
static LsmFileMeta *movedMeta(const LsmVersion *pBase, const LsmVersionEdit *e,
                              uint64_t iFile){
  int i, j;
  for(i=0; pBase && i<LSM_NUM_LEVELS; i++){
    for(j=0; j<pBase->anFile[i]; j++){
      LsmFileMeta *m = pBase->aapFile[i][j];
      if( m->iFile==iFile && editDeletes(e, i, iFile) ) return m;
    }
  }
  return 0;
}

/*
** Build in *ppOut the version that results from applying e to pBase
** (NULL: the empty version).  Checks that every deleted table exists and
** that levels 1.. stay disjoint; LSM_CORRUPT otherwise.
*/
static int versionBuild(LsmVersionSet *pSet, const LsmVersion *pBase,
                        const LsmVersionEdit *e, LsmVersion **ppOut){
  LsmVersion *v = lsmMallocZero(sizeof(*v));
  int rc = LSM_OK;
  int i, j, nDeleted = 0;
  *ppOut = 0;
  if( v==0 ) return LSM_NOMEM;
  v->nRef = 1;
  v->pSet = pSet;
  for(i=0; rc==LSM_OK && i<LSM_NUM_LEVELS; i++){
    int nMax = (pBase ? pBase->anFile[i] : 0);
    for(j=0; j<e->nAdd; j++) nMax += (e->aAdd[j].iLevel==i);
    v->aapFile[i] = lsmMalloc(sizeof(LsmFileMeta*)*(size_t)(nMax ? nMax : 1));
    if( v->aapFile[i]==0 ){ rc = LSM_NOMEM; break; }
    for(j=0; pBase && j<pBase->anFile[i]; j++){
      LsmFileMeta *m = pBase->aapFile[i][j];
      if( editDeletes(e, i, m->iFile) ){
        nDeleted++;
      }else{
        fileRef(m);
        v->aapFile[i][v->anFile[i]++] = m;
      }
    }
    for(j=0; j<e->nAdd; j++){
      if( e->aAdd[j].iLevel==i ){
        LsmFileMeta *m = movedMeta(pBase, e, e->aAdd[j].pMeta->iFile);
        if( m==0 ){
          m = e->aAdd[j].pMeta;
          m->pSet = pSet;
        }
        fileRef(m);
        v->aapFile[i][v->anFile[i]++] = m;
      }
    }
    qsort(v->aapFile[i], (size_t)v->anFile[i], sizeof(LsmFileMeta*),
          i==0 ? cmpNewestFirst : cmpSmallest);
    for(j=1; i>0 && j<v->anFile[i]; j++){
      const LsmFileMeta *a = v->aapFile[i][j-1], *b = v->aapFile[i][j];
      if( lsmUkeyCompare(a->largest.p, lsmIkeyUserLen(a->largest.n),
                         b->smallest.p, lsmIkeyUserLen(b->smallest.n))>=0 ){
        rc = lsmErr(LSM_CORRUPT, "tables %06llu.sst and %06llu.sst overlap "
                    "in level %d", (unsigned long long)a->iFile,
                    (unsigned long long)b->iFile, i);
      }
    }
  }
  if( rc==LSM_OK && nDeleted!=e->nDel ){
    rc = lsmErr(LSM_CORRUPT, "version edit removes a table that is not live");
  }
  if( rc!=LSM_OK ){
    lsmVersionUnref(v);
    return rc;
  }
  *ppOut = v;
  return LSM_OK;
}

static int editAdds(const LsmVersionEdit *e, uint64_t iFile){
  int i;
  for(i=0; i<e->nAdd; i++){
    if( e->aAdd[i].pMeta->iFile==iFile ) return 1;
  }
  return 0;
}

/* Mark the tables that e drops from v as obsolete.  A table the edit
** adds back (a trivial move to the next level) stays: its file lives on
** under the new metadata. */
static void markObsolete(const LsmVersion *v, const LsmVersionEdit *e){
  int i, j;
  for(i=0; i<LSM_NUM_LEVELS; i++){
    for(j=0; j<v->anFile[i]; j++){
      LsmFileMeta *m = v->aapFile[i][j];
      if( editDeletes(e, i, m->iFile) && !editAdds(e, m->iFile) ){
        __atomic_store_n(&m->bObsolete, 1, __ATOMIC_RELEASE);
      }
    }
  }
}

/* Index of the first table of level iLevel whose largest key is >= the
** internal key k (anFile[iLevel] if none). */
static int findFile(const LsmVersion *v, int iLevel,
                    const uint8_t *pKey, size_t nKey, uint64_t iTrailer){
  int lo = 0, hi = v->anFile[iLevel];
  while( lo<hi ){
    int mid = (lo+hi)/2;
    const LsmFileMeta *m = v->aapFile[iLevel][mid];
    if( lsmIkeyCompareParts(m->largest.p, m->largest.n,
                            pKey, nKey, iTrailer)<0 ){
      lo = mid+1;
    }else{
      hi = mid;
    }
  }
  return lo;
}

static int tableGet(LsmVersionSet *pSet, const LsmFileMeta *m,
                    const uint8_t *pKey, size_t nKey, uint64_t seq,
                    LsmBuf *pVal, int *pbDeleted){
  LsmTable *pTable = 0;
  int rc = lsmTableCacheGet(pSet->pTableCache, m->iFile, &pTable);
  if( rc==LSM_OK ){
    rc = lsmTableGet(pTable, pKey, nKey, seq, pVal, pbDeleted);
    lsmTableUnref(pTable);
  }
  return rc;
}

int lsmVersionGet(LsmVersion *v, const uint8_t *pKey, size_t nKey,
                  uint64_t seq, LsmBuf *pVal, int *pbDeleted){
  uint64_t iTrailer = lsmIkeyLookupTrailer(seq);
  int i, j, rc;
  for(j=0; j<v->anFile[0]; j++){
    const LsmFileMeta *m = v->aapFile[0][j];
    if( lsmFileOverlaps(m, pKey, nKey, 0, 0)
     && lsmUkeyCompare(m->smallest.p, lsmIkeyUserLen(m->smallest.n),
                       pKey, nKey)<=0 ){
      rc = tableGet(v->pSet, m, pKey, nKey, seq, pVal, pbDeleted);
      if( rc!=LSM_NOTFOUND ) return rc;
    }
  }
  rc = LSM_NOTFOUND;
  for(i=1; rc==LSM_NOTFOUND && i<LSM_NUM_LEVELS; i++){
    j = findFile(v, i, pKey, nKey, iTrailer);
    if( j<v->anFile[i] ){
      const LsmFileMeta *m = v->aapFile[i][j];
      if( lsmUkeyCompare(m->smallest.p, lsmIkeyUserLen(m->smallest.n),
                         pKey, nKey)<=0 ){
        rc = tableGet(v->pSet, m, pKey, nKey, seq, pVal, pbDeleted);
      }
    }
  }
  return rc;
}

/**************************************************************************
** The level iterator: the tables of one level as one sorted sequence.
*/

typedef struct LevelIter {
  LsmIter base;
  LsmVersion *v;
  LsmFileMeta **apFile;
  int nFile;
  int iCur;                  /* index of the open table, -1 if none */
  LsmIter *pTable;           /* iterator of table iCur */
  int bFillCache;
} LevelIter;

/* Open table i (closing the current one). */
static int levelOpen(LevelIter *p, int i){
  LsmTable *pTable = 0;
  int rc;
  if( p->iCur==i && p->pTable ) return LSM_OK;
  lsmIterClose(p->pTable);
  p->pTable = 0;
  p->iCur = -1;
  rc = lsmTableCacheGet(p->v->pSet->pTableCache, p->apFile[i]->iFile, &pTable);
  if( rc==LSM_OK ){
    rc = lsmTableIterNew(pTable, p->bFillCache, &p->pTable);
    lsmTableUnref(pTable);
  }
  if( rc==LSM_OK ) p->iCur = i;
  return rc;
}

/* Skip forward over tables whose iterator is exhausted. */
static int levelSkipForward(LevelIter *p, int rc){
  while( rc==LSM_OK && !lsmIterValid(p->pTable) ){
    if( p->iCur+1>=p->nFile ) break;
    rc = levelOpen(p, p->iCur+1);
    if( rc==LSM_OK ) rc = lsmIterFirst(p->pTable);
  }
  return rc;
}

static int levelSkipBackward(LevelIter *p, int rc){
  while( rc==LSM_OK && !lsmIterValid(p->pTable) ){
    if( p->iCur<=0 ) break;
    rc = levelOpen(p, p->iCur-1);
    if( rc==LSM_OK ) rc = lsmIterLast(p->pTable);
  }
  return rc;
}

static int levelFail(LevelIter *p, int rc){
  if( rc!=LSM_OK ){
    lsmIterClose(p->pTable);
    p->pTable = 0;
    p->iCur = -1;
  }
  return rc;
}

static int levelFirst(LsmIter *pIter){
  LevelIter *p = (LevelIter*)pIter;
  int rc;
  if( p->nFile==0 ) return LSM_OK;
  rc = levelOpen(p, 0);
  if( rc==LSM_OK ) rc = lsmIterFirst(p->pTable);
  return levelFail(p, levelSkipForward(p, rc));
}

static int levelLast(LsmIter *pIter){
  LevelIter *p = (LevelIter*)pIter;
  int rc;
  if( p->nFile==0 ) return LSM_OK;
  rc = levelOpen(p, p->nFile-1);
  if( rc==LSM_OK ) rc = lsmIterLast(p->pTable);
  return levelFail(p, levelSkipBackward(p, rc));
}

static int levelSeek(LsmIter *pIter, const uint8_t *k, size_t nK){
  LevelIter *p = (LevelIter*)pIter;
  int lo = 0, hi = p->nFile, rc;
  while( lo<hi ){
    int mid = (lo+hi)/2;
    const LsmFileMeta *m = p->apFile[mid];
    if( lsmIkeyCompare(m->largest.p, m->largest.n, k, nK)<0 ) lo = mid+1;
    else hi = mid;
  }
  if( lo>=p->nFile ){
    lsmIterClose(p->pTable);
    p->pTable = 0;
    p->iCur = -1;
    return LSM_OK;
  }
  rc = levelOpen(p, lo);
  if( rc==LSM_OK ) rc = lsmIterSeek(p->pTable, k, nK);
  return levelFail(p, levelSkipForward(p, rc));
}

static int levelNext(LsmIter *pIter){
  LevelIter *p = (LevelIter*)pIter;
  return levelFail(p, levelSkipForward(p, lsmIterNext(p->pTable)));
}

static int levelPrev(LsmIter *pIter){
  LevelIter *p = (LevelIter*)pIter;
  return levelFail(p, levelSkipBackward(p, lsmIterPrev(p->pTable)));
}

static int levelValid(LsmIter *pIter){
  LevelIter *p = (LevelIter*)pIter;
  return p->pTable && lsmIterValid(p->pTable);
}

static void levelKey(LsmIter *pIter, const uint8_t **pp, size_t *pn){
  lsmIterKey(((LevelIter*)pIter)->pTable, pp, pn);
}

static void levelValue(LsmIter *pIter, const uint8_t **pp, size_t *pn){
  lsmIterValue(((LevelIter*)pIter)->pTable, pp, pn);
}

static void levelClose(LsmIter *pIter){
  LevelIter *p = (LevelIter*)pIter;
  lsmIterClose(p->pTable);
  lsmVersionUnref(p->v);
  lsmFree(p);
}

static const LsmIterMethods levelMethods = {
  levelClose, levelFirst, levelLast, levelSeek, levelNext, levelPrev,
  levelValid, levelKey, levelValue
};

int lsmLevelIterNew(LsmVersion *v, int iLevel, int iFirst, int nFile,
                    int bFillCache, LsmIter **pp){
  LevelIter *p = lsmMallocZero(sizeof(*p));
  *pp = 0;
  if( p==0 ) return LSM_NOMEM;
  p->base.pMethods = &levelMethods;
  p->v = v;
  lsmVersionRef(v);
  p->apFile = v->aapFile[iLevel] + iFirst;
  p->nFile = nFile;
  p->iCur = -1;
  p->bFillCache = bFillCache;
  *pp = &p->base;
  return LSM_OK;
}

static int pushIter(LsmIter ***papIter, int *pnIter, LsmIter *pIter){
  LsmIter **aNew = lsmRealloc(*papIter, sizeof(LsmIter*)*(size_t)(*pnIter+1));
  if( aNew==0 ){
    lsmIterClose(pIter);
    return LSM_NOMEM;
  }
  aNew[(*pnIter)++] = pIter;
  *papIter = aNew;
  return LSM_OK;
}

int lsmVersionIters(LsmVersion *v, const uint8_t *pLo, size_t nLo,
                    const uint8_t *pHi, size_t nHi, int bFillCache,
                    LsmIter ***papIter, int *pnIter){
  int i, j, rc = LSM_OK;
  for(j=0; rc==LSM_OK && j<v->anFile[0]; j++){
    const LsmFileMeta *m = v->aapFile[0][j];
    if( lsmFileOverlaps(m, pLo, nLo, pHi, nHi) ){
      LsmTable *pTable = 0;
      LsmIter *pIter = 0;
      rc = lsmTableCacheGet(v->pSet->pTableCache, m->iFile, &pTable);
      if( rc==LSM_OK ){
        rc = lsmTableIterNew(pTable, bFillCache, &pIter);
        lsmTableUnref(pTable);
      }
      if( rc==LSM_OK ) rc = pushIter(papIter, pnIter, pIter);
    }
  }
  for(i=1; rc==LSM_OK && i<LSM_NUM_LEVELS; i++){
    int iFirst = 0, iEnd = v->anFile[i];
    while( iFirst<iEnd && !lsmFileOverlaps(v->aapFile[i][iFirst], pLo, nLo, 0, 0) ){
      iFirst++;
    }
    while( iEnd>iFirst && !lsmFileOverlaps(v->aapFile[i][iEnd-1], 0, 0, pHi, nHi) ){
      iEnd--;
    }
    if( iEnd>iFirst ){
      LsmIter *pIter = 0;
      rc = lsmLevelIterNew(v, i, iFirst, iEnd-iFirst, bFillCache, &pIter);
      if( rc==LSM_OK ) rc = pushIter(papIter, pnIter, pIter);
    }
  }
  return rc;
}

/**************************************************************************
** The version set and the manifest.
*/

int lsmVersionSetNew(lsm_env *pEnv, const char *zDir, LsmTableCache *pTc,
                     pthread_mutex_t *pMutex, LsmVersionSet **pp){
  LsmVersionSet *p = lsmMallocZero(sizeof(*p));
  LsmVersionEdit empty;
  int rc;
  *pp = 0;
  if( p==0 ) return LSM_NOMEM;
  p->pEnv = pEnv;
  p->pTableCache = pTc;
  p->pMutex = pMutex;
  pthread_mutex_init(&p->applyMutex, 0);
  p->iNextFile = 1;
  p->zDir = lsmStrdup(zDir);
  lsmEditInit(&empty);
  rc = p->zDir ? versionBuild(p, 0, &empty, &p->pCurrent) : LSM_NOMEM;
  if( rc!=LSM_OK ){
    lsmVersionSetFree(p);
    return rc;
  }
  *pp = p;
  return LSM_OK;
}

void lsmVersionSetFree(LsmVersionSet *p){
  if( p ){
    int i;
    lsmWalWriterClose(p->pManifest);
    lsmVersionUnref(p->pCurrent);
    for(i=0; i<LSM_NUM_LEVELS; i++) lsmBufFree(&p->aCursor[i]);
    pthread_mutex_destroy(&p->applyMutex);
    lsmFree(p->zDir);
    lsmFree(p);
  }
}

uint64_t lsmVersionSetNewFile(LsmVersionSet *p){
  return __atomic_fetch_add(&p->iNextFile, 1, __ATOMIC_RELAXED);
}

/* Fold the scalar fields of e into the set. */
static int setAbsorb(LsmVersionSet *p, const LsmVersionEdit *e){
  int i, rc = LSM_OK;
  if( e->bLogNumber ) p->iLogNumber = e->iLogNumber;
  if( e->bNextFile ){
    /* Other threads take numbers concurrently: raise, never lower. */
    uint64_t iCur = __atomic_load_n(&p->iNextFile, __ATOMIC_RELAXED);
    while( e->iNextFile>iCur
        && !__atomic_compare_exchange_n(&p->iNextFile, &iCur, e->iNextFile,
                                        0, __ATOMIC_RELAXED, __ATOMIC_RELAXED) );
  }
  if( e->bLastSeq ) p->iLastSeq = e->iLastSeq;
  if( e->bLastTxn && e->iLastTxn>p->iLastTxn ) p->iLastTxn = e->iLastTxn;
  for(i=0; rc==LSM_OK && i<LSM_NUM_LEVELS; i++){
    if( e->abCursor[i] ){
      rc = lsmBufSet(&p->aCursor[i], e->aCursor[i].p, e->aCursor[i].n);
    }
  }
  return rc;
}

/* Swap in vNew as current under the db mutex; drop the old one. */
static void setInstall(LsmVersionSet *p, LsmVersion *vNew,
                       const LsmVersionEdit *e){
  LsmVersion *vOld;
  if( p->pMutex ) pthread_mutex_lock(p->pMutex);
  vOld = p->pCurrent;
  markObsolete(vOld, e);
  p->pCurrent = vNew;
  if( p->pMutex ) pthread_mutex_unlock(p->pMutex);
  lsmVersionUnref(vOld);
}

typedef struct NameList {
  char **azName;
  int nName;
  int rc;
} NameList;

static int collectName(void *pArg, const char *zName){
  NameList *p = (NameList*)pArg;
  char **azNew = lsmRealloc(p->azName, sizeof(char*)*(size_t)(p->nName+1));
  if( azNew==0 ) return (p->rc = LSM_NOMEM);
  p->azName = azNew;
  if( (azNew[p->nName] = lsmStrdup(zName))==0 ) return (p->rc = LSM_NOMEM);
  p->nName++;
  return LSM_OK;
}

static int hasName(const NameList *p, const char *zName){
  int i;
  for(i=0; i<p->nName; i++) if( strcmp(p->azName[i], zName)==0 ) return 1;
  return 0;
}

static void freeNames(NameList *p){
  int i;
  for(i=0; i<p->nName; i++) lsmFree(p->azName[i]);
  lsmFree(p->azName);
}

int lsmVersionSetRecover(LsmVersionSet *p){
  LsmBuf current = {0, 0, 0};
  char *zCurrent = lsmPathJoin(p->zDir, "CURRENT");
  char *zManifest = 0;
  LsmWalReader *pReader = 0;
  NameList names = {0, 0, 0};
  unsigned long long iManifest = 0;
  int nEdit = 0;
  int rc, i, j;

  rc = zCurrent ? lsmEnvReadFile(p->pEnv, zCurrent, &current) : LSM_NOMEM;
  if( rc==LSM_OK ){
    char zName[64];
    int nName = (int)current.n;
    if( nName<11 || nName>=(int)sizeof(zName) || current.p[nName-1]!='\n' ){
      rc = lsmErr(LSM_CORRUPT, "%s: malformed contents", zCurrent);
    }else{
      memcpy(zName, current.p, (size_t)nName-1);
      zName[nName-1] = 0;
      if( sscanf(zName, "MANIFEST-%llu", &iManifest)!=1
       || strspn(zName+9, "0123456789")!=strlen(zName+9) ){
        rc = lsmErr(LSM_CORRUPT, "%s: malformed contents", zCurrent);
      }else{
        zManifest = lsmPathJoin(p->zDir, zName);
        if( zManifest==0 ) rc = LSM_NOMEM;
      }
    }
  }
  if( rc==LSM_OK ){
    rc = lsmWalReaderOpen(p->pEnv, zManifest, &pReader);
    if( rc==LSM_NOTFOUND ){
      rc = lsmErr(LSM_CORRUPT, "%s names %s, which is missing",
                  zCurrent, zManifest);
    }
  }
  while( rc==LSM_OK ){
    int type;
    const uint8_t *pPayload;
    size_t nPayload;
    LsmVersionEdit e;
    LsmVersion *vNew = 0;
    rc = lsmWalReaderNext(pReader, &type, &pPayload, &nPayload);
    if( rc==LSM_NOTFOUND ){
      /* CURRENT names a manifest only once its first edit, the whole
      ** state, is synced: a manifest without one is damaged, not torn. */
      rc = nEdit ? LSM_OK : lsmErr(LSM_CORRUPT, "%s: no complete version "
                                   "edit", zManifest);
      break;
    }
    if( rc!=LSM_OK ) break;
    if( type!=LSM_REC_EDIT ){
      rc = lsmErr(LSM_CORRUPT, "%s: record of type %d at offset %llu",
                  zManifest, type,
                  (unsigned long long)lsmWalReaderTailOffset(pReader));
      break;
    }
    nEdit++;
    rc = lsmEditDecode(&e, pPayload, nPayload);
    if( rc==LSM_OK ) rc = versionBuild(p, p->pCurrent, &e, &vNew);
    if( rc==LSM_OK ) rc = setAbsorb(p, &e);
    if( rc==LSM_OK ){
      lsmVersionUnref(p->pCurrent);
      p->pCurrent = vNew;
    }else{
      lsmVersionUnref(vNew);
      if( rc==LSM_CORRUPT ){
        char zMsg[512];
        snprintf(zMsg, sizeof(zMsg), "%s", lsmErrMsg());
        rc = lsmErr(rc, "%s: %s", zManifest, zMsg);
      }
    }
    lsmEditClear(&e);
  }
  lsmWalReaderClose(pReader);

  /* Every table the manifest lists must be in the directory. */
  if( rc==LSM_OK ){
    rc = p->pEnv->xList(p->pEnv, p->zDir, collectName, &names);
    if( names.rc ) rc = names.rc;
  }
  for(i=0; rc==LSM_OK && i<LSM_NUM_LEVELS; i++){
    for(j=0; rc==LSM_OK && j<p->pCurrent->anFile[i]; j++){
      char zName[32];
      snprintf(zName, sizeof(zName), "%06llu.sst",
               (unsigned long long)p->pCurrent->aapFile[i][j]->iFile);
      if( !hasName(&names, zName) ){
        rc = lsmErr(LSM_CORRUPT, "table %s/%s listed in MANIFEST-%06llu is "
                    "missing", p->zDir, zName, iManifest);
      }
    }
  }
  if( rc==LSM_OK ){
    p->iManifest = iManifest;
    if( p->iNextFile<=iManifest ) p->iNextFile = iManifest+1;
  }
  freeNames(&names);
  lsmBufFree(&current);
  lsmFree(zCurrent);
  lsmFree(zManifest);
  return rc;
}

/* Append the whole state of version v (plus the set's scalars) to e. */
static int editSnapshot(LsmVersionSet *p, const LsmVersion *v,
                        LsmVersionEdit *e){
  int i, j, rc = LSM_OK;
  if( !e->bLogNumber ){ e->bLogNumber = 1; e->iLogNumber = p->iLogNumber; }
  if( !e->bLastSeq ){ e->bLastSeq = 1; e->iLastSeq = p->iLastSeq; }
  if( !e->bLastTxn && p->iLastTxn ){ e->bLastTxn = 1; e->iLastTxn = p->iLastTxn; }
  for(i=0; rc==LSM_OK && i<LSM_NUM_LEVELS; i++){
    for(j=0; rc==LSM_OK && j<v->anFile[i]; j++){
      rc = lsmEditAddMeta(e, i, v->aapFile[i][j]);
    }
    if( rc==LSM_OK && !e->abCursor[i] && p->aCursor[i].n ){
      e->abCursor[i] = 1;
      rc = lsmBufSet(&e->aCursor[i], p->aCursor[i].p, p->aCursor[i].n);
    }
  }
  return rc;
}

/* Encode e, append it to the manifest and sync. */
static int manifestWrite(LsmVersionSet *p, LsmVersionEdit *e){
  LsmBuf rec = {0, 0, 0};
  int rc;
  e->bNextFile = 1;
  e->iNextFile = __atomic_load_n(&p->iNextFile, __ATOMIC_RELAXED);
  rc = lsmEditEncode(e, &rec);
  if( rc==LSM_OK ) rc = lsmWalWriterAppend(p->pManifest, LSM_REC_EDIT, rec.p, rec.n);
  if( rc==LSM_OK ) rc = lsmWalWriterSync(p->pManifest);
  lsmBufFree(&rec);
  return rc;
}

int lsmVersionSetRewrite(LsmVersionSet *p, LsmVersionEdit *pEdit){
  LsmVersion *vNew = 0;
  LsmVersionEdit full;
  LsmWalWriter *pOld = p->pManifest;
  uint64_t iOld = p->iManifest;
  uint64_t iNew = lsmVersionSetNewFile(p);
  char *zName = manifestName(iNew);
  char *zPath = zName ? lsmPathJoin(p->zDir, zName) : 0;
  char *zContent = zName ? lsmMprintf("%s\n", zName) : 0;
  int rc = (zPath && zContent) ? LSM_OK : LSM_NOMEM;

  lsmEditInit(&full);
  if( rc==LSM_OK ) rc = versionBuild(p, p->pCurrent, pEdit, &vNew);
  if( rc==LSM_OK ) rc = setAbsorb(p, pEdit);
  if( rc==LSM_OK ){
    full.bLogNumber = 1;
    full.iLogNumber = p->iLogNumber;
    rc = editSnapshot(p, vNew, &full);
  }
  if( rc==LSM_OK ){
    p->pManifest = 0;
    rc = lsmWalWriterOpen(p->pEnv, zPath, 1, &p->pManifest);
  }
  if( rc==LSM_OK ) rc = manifestWrite(p, &full);
  if( rc==LSM_OK ) rc = p->pEnv->xSyncDir(p->pEnv, p->zDir);
  if( rc==LSM_OK ){
    rc = lsmEnvWriteFileAtomic(p->pEnv, p->zDir, "CURRENT",
                               zContent, strlen(zContent));
  }
  if( rc==LSM_OK ){
    setInstall(p, vNew, pEdit);
    vNew = 0;
    p->iManifest = iNew;
    lsmWalWriterClose(pOld);
    if( iOld ){
      char *zOldName = manifestName(iOld);
      char *zOld = zOldName ? lsmPathJoin(p->zDir, zOldName) : 0;
      lsmEnvRemoveQuietly(p->pEnv, zOld);
      lsmFree(zOld);
      lsmFree(zOldName);
    }
  }else{
    lsmWalWriterClose(p->pManifest);
    p->pManifest = pOld;
  }
  lsmVersionUnref(vNew);
  lsmEditClear(&full);
  lsmFree(zName);
  lsmFree(zPath);
  lsmFree(zContent);
  return rc;
}

int lsmVersionSetApply(LsmVersionSet *p, LsmVersionEdit *pEdit){
  LsmVersion *vNew = 0;
  int rc;
  pthread_mutex_lock(&p->applyMutex);
  rc = versionBuild(p, p->pCurrent, pEdit, &vNew);
  if( rc==LSM_OK ) rc = manifestWrite(p, pEdit);
  if( rc==LSM_OK ) rc = setAbsorb(p, pEdit);
  if( rc==LSM_OK ){
    setInstall(p, vNew, pEdit);
  }else{
    lsmVersionUnref(vNew);
  }
  pthread_mutex_unlock(&p->applyMutex);
  return rc;
}
