/*
** compact.c -- levelled compaction.  The policy and the merge rules are
** described in compact.h.
*/
#include "compact.h"
#include "env.h"
#include "ikey.h"
#include "iter.h"
#include "table.h"
#include "util.h"

#include <string.h>

#define GRANDPARENT_TABLES 10      /* output overlap limit two levels down */
#define BREAK_INTERVAL     1024    /* entries between xBreak calls */

uint64_t lsmLevelBudget(const lsm_options *pOpts, int iLevel){
  uint64_t n = pOpts->level1_size;
  int i;
  for(i=1; i<iLevel; i++) n *= 10;
  return n;
}

uint64_t lsmLevelBytes(const LsmVersion *v, int iLevel){
  uint64_t n = 0;
  int i;
  for(i=0; i<v->anFile[iLevel]; i++) n += v->aapFile[iLevel][i]->nSize;
  return n;
}

double lsmLevelScore(const LsmVersion *v, const lsm_options *pOpts, int iLevel){
  if( iLevel>=LSM_NUM_LEVELS-1 ) return 0.0;
  if( iLevel==0 ) return (double)v->anFile[0] / (double)pOpts->l0_trigger;
  return (double)lsmLevelBytes(v, iLevel) / (double)lsmLevelBudget(pOpts, iLevel);
}

static const uint8_t *ukeyOf(const LsmBuf *pIkey, size_t *pn){
  *pn = lsmIkeyUserLen(pIkey->n);
  return pIkey->p;
}

/* Does table m hold user keys in the inclusive range [lo, hi]? */
static int overlapsInclusive(const LsmFileMeta *m, const uint8_t *pLo, size_t nLo,
                             const uint8_t *pHi, size_t nHi){
  size_t nS, nL;
  const uint8_t *pS = ukeyOf(&m->smallest, &nS);
  const uint8_t *pL = ukeyOf(&m->largest, &nL);
  if( pLo && lsmUkeyCompare(pL, nL, pLo, nLo)<0 ) return 0;
  if( pHi && lsmUkeyCompare(pS, nS, pHi, nHi)>0 ) return 0;
  return 1;
}

/* The contiguous run of tables of level i (>=1) overlapping [lo, hi]. */
static void overlapRun(const LsmVersion *v, int iLevel,
                       const uint8_t *pLo, size_t nLo,
                       const uint8_t *pHi, size_t nHi,
                       int *piFirst, int *pn){
  int i, iFirst = -1, n = 0;
  for(i=0; i<v->anFile[iLevel]; i++){
    if( overlapsInclusive(v->aapFile[iLevel][i], pLo, nLo, pHi, nHi) ){
      if( iFirst<0 ) iFirst = i;
      n++;
    }
  }
  *piFirst = iFirst<0 ? 0 : iFirst;
  *pn = n;
}

/* Bytes of level iLevel overlapping [lo, hi]. */
static uint64_t overlapBytes(const LsmVersion *v, int iLevel,
                             const uint8_t *pLo, size_t nLo,
                             const uint8_t *pHi, size_t nHi){
  uint64_t n = 0;
  int i;
  if( iLevel>=LSM_NUM_LEVELS ) return 0;
  for(i=0; i<v->anFile[iLevel]; i++){
    const LsmFileMeta *m = v->aapFile[iLevel][i];
    if( overlapsInclusive(m, pLo, nLo, pHi, nHi) ) n += m->nSize;
  }
  return n;
}

/* The user-key range covered by the first-level inputs of c. */
static void inputRange(const LsmCompaction *c, LsmBuf *pLo, LsmBuf *pHi){
  int i;
  LsmFileMeta **ap = c->v->aapFile[c->iLevel] + c->aiFirst[0];
  *pLo = ap[0]->smallest;
  *pHi = ap[0]->largest;
  for(i=1; i<c->anIn[0]; i++){
    if( lsmIkeyCompare(ap[i]->smallest.p, ap[i]->smallest.n, pLo->p, pLo->n)<0 ){
      *pLo = ap[i]->smallest;
    }
    if( lsmIkeyCompare(ap[i]->largest.p, ap[i]->largest.n, pHi->p, pHi->n)>0 ){
      *pHi = ap[i]->largest;
    }
  }
}

/* Fill in the next-level inputs and the trivial-move decision (never a
** trivial move if pOpts is NULL). */
static LsmCompaction *finishPick(LsmCompaction *c, const lsm_options *pOpts){
  LsmBuf lo, hi;
  size_t nLo, nHi;
  const uint8_t *pLo, *pHi;
  inputRange(c, &lo, &hi);
  pLo = ukeyOf(&lo, &nLo);
  pHi = ukeyOf(&hi, &nHi);
  if( c->iOutLevel>c->iLevel ){
    overlapRun(c->v, c->iOutLevel, pLo, nLo, pHi, nHi,
               &c->aiFirst[1], &c->anIn[1]);
  }
  c->bTrivialMove = pOpts && c->anIn[0]==1 && c->anIn[1]==0
      && overlapBytes(c->v, c->iOutLevel+1, pLo, nLo, pHi, nHi)
         <= GRANDPARENT_TABLES*pOpts->table_size;
  return c;
}

static LsmCompaction *compactionNew(LsmVersion *v, int iLevel){
  LsmCompaction *c = lsmMallocZero(sizeof(*c));
  if( c ){
    c->v = v;
    lsmVersionRef(v);
    c->iLevel = iLevel;
    c->iOutLevel = iLevel+1;
  }
  return c;
}

int lsmCompactPick(LsmVersion *v, const lsm_options *pOpts,
                   const LsmBuf *aCursor, LsmCompaction **pp){
  double bestScore = 0.0;
  int i, iBest = -1;
  LsmCompaction *c;
  *pp = 0;
  for(i=0; i<LSM_NUM_LEVELS-1; i++){
    double s = lsmLevelScore(v, pOpts, i);
    if( s>=1.0 && s>bestScore ){
      bestScore = s;
      iBest = i;
    }
  }
  if( iBest<0 ) return LSM_OK;
  c = compactionNew(v, iBest);
  if( c==0 ) return LSM_NOMEM;
  if( iBest==0 ){
    /* The oldest level-0 table alone, if it can simply move down (as with
    ** sequential writes); the tables left behind are all newer, so reads
    ** still meet newer data first.  Otherwise every level-0 table. */
    c->aiFirst[0] = v->anFile[0]-1;
    c->anIn[0] = 1;
    finishPick(c, pOpts);
    if( c->bTrivialMove ){
      *pp = c;
      return LSM_OK;
    }
    c->aiFirst[0] = 0;
    c->anIn[0] = v->anFile[0];
  }else{
    const LsmBuf *pCur = &aCursor[iBest];
    int k = 0;
    if( pCur->n ){
      while( k<v->anFile[iBest]
          && lsmIkeyCompare(v->aapFile[iBest][k]->smallest.p,
                            v->aapFile[iBest][k]->smallest.n,
                            pCur->p, pCur->n)<=0 ){
        k++;
      }
      if( k>=v->anFile[iBest] ) k = 0;     /* wrap around */
    }
    c->aiFirst[0] = k;
    c->anIn[0] = 1;
  }
  *pp = finishPick(c, pOpts);
  return LSM_OK;
}

int lsmCompactPickRange(LsmVersion *v, int iLevel, int bInPlace,
                        const uint8_t *pLo, size_t nLo,
                        const uint8_t *pHi, size_t nHi, LsmCompaction **pp){
  LsmCompaction *c;
  int iFirst = 0, n = 0, i;
  *pp = 0;
  if( iLevel==0 ){
    /* Level-0 tables overlap each other: take all that meet the range,
    ** which need not be contiguous, by taking every one (newest first
    ** order matters only for reads). */
    for(i=0; i<v->anFile[0]; i++){
      if( overlapsInclusive(v->aapFile[0][i], pLo, nLo, pHi, nHi) ) n++;
    }
    if( n ) n = v->anFile[0];
  }else{
    overlapRun(v, iLevel, pLo, nLo, pHi, nHi, &iFirst, &n);
  }
  if( n==0 ) return LSM_OK;
  c = compactionNew(v, iLevel);
  if( c==0 ) return LSM_NOMEM;
  if( bInPlace && iLevel>0 ) c->iOutLevel = iLevel;
  c->aiFirst[0] = iFirst;
  c->anIn[0] = n;
  /* A manual compaction exists to rewrite: drop what can be dropped. */
  *pp = finishPick(c, 0);
  return LSM_OK;
}

void lsmCompactionFree(LsmCompaction *c){
  if( c ){
    lsmVersionUnref(c->v);
    lsmFree(c);
  }
}

/* Could a level below the output level hold user key k? */
static int keyMayBeDeeper(const LsmCompaction *c, const uint8_t *k, size_t n){
  int i;
  for(i=c->iOutLevel+1; i<LSM_NUM_LEVELS; i++){
    int lo = 0, hi = c->v->anFile[i];
    while( lo<hi ){
      int mid = (lo+hi)/2;
      size_t nL;
      const uint8_t *pL = ukeyOf(&c->v->aapFile[i][mid]->largest, &nL);
      if( lsmUkeyCompare(pL, nL, k, n)<0 ) lo = mid+1;
      else hi = mid;
    }
    if( lo<c->v->anFile[i] ){
      size_t nS;
      const uint8_t *pS = ukeyOf(&c->v->aapFile[i][lo]->smallest, &nS);
      if( lsmUkeyCompare(pS, nS, k, n)<=0 ) return 1;
    }
  }
  return 0;
}

/* The inputs as internal iterators merged into one. */
static int inputIter(LsmCompaction *c, LsmCompactCtx *pCtx, LsmIter **pp){
  LsmIter **apChild = 0;
  int nChild = 0;
  int i, rc = LSM_OK;
  if( c->iLevel==0 ){
    apChild = lsmMalloc(sizeof(LsmIter*)*(size_t)(c->anIn[0] + 1));
    if( apChild==0 ) return LSM_NOMEM;
    for(i=0; rc==LSM_OK && i<c->anIn[0]; i++){
      LsmTable *pTable = 0;
      const LsmFileMeta *m = c->v->aapFile[0][c->aiFirst[0] + i];
      pCtx->nBytesRead += m->nSize;
      rc = lsmTableCacheGet(pCtx->pVs->pTableCache, m->iFile, &pTable);
      if( rc==LSM_OK ){
        rc = lsmTableIterNew(pTable, 0, &apChild[nChild]);
        lsmTableUnref(pTable);
        if( rc==LSM_OK ) nChild++;
      }
    }
  }else{
    apChild = lsmMalloc(sizeof(LsmIter*)*2);
    if( apChild==0 ) return LSM_NOMEM;
    for(i=0; i<c->anIn[0]; i++){
      pCtx->nBytesRead += c->v->aapFile[c->iLevel][c->aiFirst[0]+i]->nSize;
    }
    rc = lsmLevelIterNew(c->v, c->iLevel, c->aiFirst[0], c->anIn[0], 0,
                         &apChild[nChild]);
    if( rc==LSM_OK ) nChild++;
  }
  if( rc==LSM_OK && c->anIn[1]>0 ){
    for(i=0; i<c->anIn[1]; i++){
      pCtx->nBytesRead += c->v->aapFile[c->iOutLevel][c->aiFirst[1]+i]->nSize;
    }
    rc = lsmLevelIterNew(c->v, c->iOutLevel, c->aiFirst[1], c->anIn[1], 0,
                         &apChild[nChild]);
    if( rc==LSM_OK ) nChild++;
  }
  if( rc==LSM_OK ){
    rc = lsmMergeIterNew(apChild, nChild, pp);
  }else{
    for(i=0; i<nChild; i++) lsmIterClose(apChild[i]);
  }
  lsmFree(apChild);
  return rc;
}

/* State of the output side of a merge. */
typedef struct Output {
  LsmCompaction *c;
  LsmCompactCtx *pCtx;
  LsmVersionEdit *pEdit;
  LsmTableBuilder *pBuilder;
  uint64_t iFile;                  /* file of pBuilder */
  uint64_t *aFile;                 /* every output file, for cleanup */
  int nFile;
  int iGrand;                      /* grandparent tables passed */
  uint64_t nGrandOverlap;          /* their bytes since the output began */
  int bGrandSeen;
} Output;

static int outputOpen(Output *o){
  LsmTableOptions t;
  char *zPath;
  uint64_t *aNew;
  int rc;
  lsmTableOptionsFrom(o->pCtx->pOpts, &t);
  aNew = lsmRealloc(o->aFile, sizeof(uint64_t)*(size_t)(o->nFile+1));
  if( aNew==0 ) return LSM_NOMEM;
  o->aFile = aNew;
  o->iFile = lsmVersionSetNewFile(o->pCtx->pVs);
  o->aFile[o->nFile++] = o->iFile;
  zPath = lsmTableFileName(o->pCtx->zDir, o->iFile);
  if( zPath==0 ) return LSM_NOMEM;
  rc = lsmTableBuilderNew(o->pCtx->pEnv, zPath, &t, &o->pBuilder);
  lsmFree(zPath);
  o->nGrandOverlap = 0;
  return rc;
}

static int outputFinish(Output *o){
  LsmTableProps props;
  int rc;
  memset(&props, 0, sizeof(props));
  rc = lsmTableBuilderFinish(o->pBuilder, &props);
  o->pBuilder = 0;
  if( rc==LSM_OK ){
    o->pCtx->nBytesWritten += props.nFileSize;
    o->pCtx->nOutput++;
    rc = lsmEditAddFile(o->pEdit, o->c->iOutLevel, o->iFile, &props);
  }
  lsmTablePropsClear(&props);
  return rc;
}

/* Should the output end before internal key k (the first version of a
** new user key) because it already overlaps too much two levels down? */
static int outputStopBefore(Output *o, const uint8_t *k, size_t n){
  const LsmVersion *v = o->c->v;
  int iGp = o->c->iOutLevel+1;
  if( iGp>=LSM_NUM_LEVELS ) return 0;
  while( o->iGrand<v->anFile[iGp] ){
    const LsmFileMeta *m = v->aapFile[iGp][o->iGrand];
    if( lsmIkeyCompare(k, n, m->largest.p, m->largest.n)<=0 ) break;
    if( o->bGrandSeen ) o->nGrandOverlap += m->nSize;
    o->iGrand++;
  }
  o->bGrandSeen = 1;
  return o->nGrandOverlap > GRANDPARENT_TABLES*o->pCtx->pOpts->table_size;
}

static int runMerge(LsmCompaction *c, LsmCompactCtx *pCtx, Output *o){
  LsmIter *pIn = 0;
  LsmBuf lastKey = {0, 0, 0};
  int bHaveKey = 0;
  uint64_t lastSeqForKey = 0;
  uint64_t nEntry = 0;
  int rc = inputIter(c, pCtx, &pIn);
  if( rc==LSM_OK ) rc = lsmIterFirst(pIn);
  while( rc==LSM_OK && lsmIterValid(pIn) ){
    const uint8_t *pK, *pV;
    size_t nK, nV, nU;
    uint64_t seq;
    int kind, bNewKey, bDrop = 0;
    if( (++nEntry % BREAK_INTERVAL)==0 && pCtx->xBreak(pCtx->pArg) ){
      rc = LSM_ERROR;
      break;
    }
    lsmIterKey(pIn, &pK, &nK);
    lsmIterValue(pIn, &pV, &nV);
    nU = lsmIkeyUserLen(nK);
    seq = lsmIkeySeq(pK, nK);
    kind = lsmIkeyKind(pK, nK);
    bNewKey = !bHaveKey || lsmUkeyCompare(lastKey.p, lastKey.n, pK, nU)!=0;
    if( bNewKey ){
      rc = lsmBufSet(&lastKey, pK, nU);
      bHaveKey = 1;
      lastSeqForKey = LSM_MAX_SEQ + 1;
    }
    if( rc!=LSM_OK ) break;
    if( lastSeqForKey<=pCtx->iOldestSeq ){
      bDrop = 1;                       /* hidden from every reader */
    }else if( kind==LSM_KIND_DELETE && seq<=pCtx->iOldestSeq
           && !keyMayBeDeeper(c, pK, nU) ){
      bDrop = 1;                       /* hides nothing any more */
    }
    lastSeqForKey = seq;
    if( !bDrop ){
      if( o->pBuilder && bNewKey
       && (lsmTableBuilderSize(o->pBuilder)>=pCtx->pOpts->table_size
           || outputStopBefore(o, pK, nK)) ){
        rc = outputFinish(o);
      }
      if( rc==LSM_OK && o->pBuilder==0 ){
        rc = outputOpen(o);
        if( rc==LSM_OK ) outputStopBefore(o, pK, nK);
      }
      if( rc==LSM_OK ) rc = lsmTableBuilderAdd(o->pBuilder, pK, nK, pV, nV);
    }
    if( rc==LSM_OK ) rc = lsmIterNext(pIn);
  }
  if( rc==LSM_OK && o->pBuilder ) rc = outputFinish(o);
  lsmIterClose(pIn);
  lsmBufFree(&lastKey);
  return rc;
}

int lsmCompactRun(LsmCompaction *c, LsmCompactCtx *pCtx, LsmVersionEdit *pEdit){
  Output o;
  int i, j, rc = LSM_OK;

  memset(&o, 0, sizeof(o));
  o.c = c;
  o.pCtx = pCtx;
  o.pEdit = pEdit;
  for(j=0; rc==LSM_OK && j<2; j++){
    for(i=0; rc==LSM_OK && i<c->anIn[j]; i++){
      int iLevel = j ? c->iOutLevel : c->iLevel;
      const LsmFileMeta *m = c->v->aapFile[iLevel][c->aiFirst[j]+i];
      rc = lsmEditDelFile(pEdit, iLevel, m->iFile);
      if( rc==LSM_OK && c->bTrivialMove ) rc = lsmEditAddMeta(pEdit, c->iOutLevel, m);
    }
  }
  if( rc==LSM_OK && !c->bTrivialMove ){
    rc = runMerge(c, pCtx, &o);
    if( rc==LSM_OK && o.nFile>0 ) rc = pCtx->pEnv->xSyncDir(pCtx->pEnv, pCtx->zDir);
  }
  if( rc==LSM_OK && c->iLevel>0 ){
    /* Advance the round-robin cursor past the inputs. */
    const LsmFileMeta *m = c->v->aapFile[c->iLevel][c->aiFirst[0]+c->anIn[0]-1];
    pEdit->abCursor[c->iLevel] = 1;
    rc = lsmBufSet(&pEdit->aCursor[c->iLevel], m->largest.p, m->largest.n);
  }
  if( o.pBuilder ) lsmTableBuilderAbandon(o.pBuilder);
  if( rc!=LSM_OK ){
    for(i=0; i<o.nFile; i++){
      char *zPath = lsmTableFileName(pCtx->zDir, o.aFile[i]);
      lsmEnvRemoveQuietly(pCtx->pEnv, zPath);
      lsmFree(zPath);
    }
  }
  lsmFree(o.aFile);
  return rc;
}
