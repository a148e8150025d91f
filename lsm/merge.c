/*
** merge.c -- the merging iterator: one ordered stream over many.
**
** A merge iterator presents the union of the entries of its children
** (memtables, L0 tables, levels) as one internal iterator in internal-key
** order (ikey.h), forward and reverse.  Reads and compaction both sit on
** top of it.
**
** Usage:
**
**     LsmIter *apChild[3] = { pMemIter, pL0Iter, pL1Iter };
**     rc = lsmMergeIterNew(apChild, 3, &pMerge);   ... owns the children now
**     for(rc=lsmIterFirst(pMerge); rc==LSM_OK && lsmIterValid(pMerge);
**         rc=lsmIterNext(pMerge)){ ... }
**     lsmIterClose(pMerge);                        ... closes the children
**
** Structure: aHeap[0..nHeap-1] holds the indexes of the children that are
** positioned on an entry, arranged as a binary heap keyed on each child's
** current internal key: a min-heap while moving forward, a max-heap while
** moving in reverse.  The root is the current entry.  A step moves the
** root child once and sifts it down (or drops it from the heap when it
** runs out), so a step costs one child move and O(log n) comparisons.
** Each child's current key is cached in aChild[] so that comparisons do
** not go through the child's method table.
**
** Invariants, with K the current key (the root's):
**  - forward: every child in the heap is on its first entry >= K, and a
**    child not in the heap has no entry >= K;
**  - reverse: every child in the heap is on its last entry <= K, and a
**    child not in the heap has no entry <= K.
** Because the children's keys are distinct (sequence numbers are unique),
** "the other children" are strictly above K going forward and strictly
** below it in reverse.  Changing direction therefore repositions every
** child but the root: to its first entry > K (a seek) when turning
** forward, to its last entry < K (a seek then one step back, or the last
** entry when the seek runs off the end) when turning backward.  The root
** does not move while the others are repositioned, so K's bytes stay
** valid throughout.
**
** Errors: when a child's move fails, the merge iterator becomes invalid
** (the heap is emptied) and the move returns the child's code; the
** child has already set the message.  A later first, last or seek
** repositions every child and starts afresh.
*/
#include "iter.h"
#include "ikey.h"
#include "util.h"

typedef struct MergeChild MergeChild;
typedef struct MergeIter MergeIter;

struct MergeChild {
  LsmIter *pIter;          /* the child, owned */
  const uint8_t *pKey;     /* its current key while it is in the heap */
  size_t nKey;
};

struct MergeIter {
  LsmIter base;            /* must be first */
  int nChild;
  MergeChild *aChild;      /* nChild children (same allocation) */
  int *aHeap;              /* nHeap indexes into aChild (same allocation) */
  int nHeap;               /* 0: not valid */
  int bReverse;            /* heap is a max-heap, steps go backwards */
  LsmBuf seekKey;          /* private copy of the key given to xSeek */
};

/* Ways of positioning every child at once (mergePositionAll). */
#define MERGE_FIRST 0
#define MERGE_LAST  1
#define MERGE_SEEK  2

/*
** True if child a belongs above child b in the heap: its key is smaller
** going forward, larger in reverse.  REQUIRES: both in the heap.
*/
static int mergeAbove(const MergeIter *p, int a, int b){
  const MergeChild *pA = &p->aChild[a];
  const MergeChild *pB = &p->aChild[b];
  int c = lsmIkeyCompare(pA->pKey, pA->nKey, pB->pKey, pB->nKey);
  return p->bReverse ? c>0 : c<0;
}

/* Restore the heap property below position i.  REQUIRES: i < nHeap. */
static void mergeSiftDown(MergeIter *p, int i){
  int *aHeap = p->aHeap;
  int iMoving = aHeap[i];
  for(;;){
    int iKid = 2*i + 1;
    if( iKid>=p->nHeap ) break;
    if( iKid+1<p->nHeap && mergeAbove(p, aHeap[iKid+1], aHeap[iKid]) ){
      iKid++;
    }
    if( !mergeAbove(p, aHeap[iKid], iMoving) ) break;
    aHeap[i] = aHeap[iKid];
    i = iKid;
  }
  aHeap[i] = iMoving;
}

/*
** After child i moved: cache its key and return 1 if it is on an entry,
** return 0 if it is not.
*/
static int mergeCacheKey(MergeIter *p, int i){
  MergeChild *pChild = &p->aChild[i];
  if( !lsmIterValid(pChild->pIter) ) return 0;
  lsmIterKey(pChild->pIter, &pChild->pKey, &pChild->nKey);
  return 1;
}

/* Rebuild the heap, in the given direction, from every valid child. */
static void mergeBuildHeap(MergeIter *p, int bReverse){
  int i;
  p->bReverse = bReverse;
  p->nHeap = 0;
  for(i=0; i<p->nChild; i++){
    if( mergeCacheKey(p, i) ) p->aHeap[p->nHeap++] = i;
  }
  for(i=p->nHeap/2 - 1; i>=0; i--){
    mergeSiftDown(p, i);
  }
}

/* A child failed with rc: become invalid and return rc. */
static int mergeFail(MergeIter *p, int rc){
  p->nHeap = 0;
  return rc;
}

/*
** Position every child with the same operation (eOp is MERGE_FIRST,
** MERGE_LAST or MERGE_SEEK with p->seekKey as the target) and rebuild
** the heap.  Returns LSM_OK or the first child's error.
*/
static int mergePositionAll(MergeIter *p, int eOp){
  int rc = LSM_OK;
  int i;
  for(i=0; rc==LSM_OK && i<p->nChild; i++){
    LsmIter *pChild = p->aChild[i].pIter;
    switch( eOp ){
      case MERGE_FIRST: rc = lsmIterFirst(pChild); break;
      case MERGE_LAST:  rc = lsmIterLast(pChild);  break;
      default:
        rc = lsmIterSeek(pChild, p->seekKey.p, p->seekKey.n);
        break;
    }
  }
  if( rc!=LSM_OK ) return mergeFail(p, rc);
  mergeBuildHeap(p, eOp==MERGE_LAST);
  return LSM_OK;
}

/*
** Turn around at the current key K: move every child but the root to its
** first entry > K (bReverse==0) or its last entry < K (bReverse==1) and
** rebuild the heap in the new direction.  The root stays on K and, being
** the extreme key, is the root again afterwards.
*/
static int mergeTurn(MergeIter *p, int bReverse){
  int iRoot = p->aHeap[0];
  const uint8_t *pK = p->aChild[iRoot].pKey;
  size_t nK = p->aChild[iRoot].nKey;
  int rc = LSM_OK;
  int i;
  for(i=0; rc==LSM_OK && i<p->nChild; i++){
    LsmIter *pChild = p->aChild[i].pIter;
    if( i==iRoot ) continue;
    /* Keys are distinct across children, so the first entry >= K is the
    ** first entry > K, and one step back from it is the last entry < K. */
    rc = lsmIterSeek(pChild, pK, nK);
    if( rc==LSM_OK && bReverse ){
      rc = lsmIterValid(pChild) ? lsmIterPrev(pChild) : lsmIterLast(pChild);
    }
  }
  if( rc!=LSM_OK ) return mergeFail(p, rc);
  mergeBuildHeap(p, bReverse);
  return LSM_OK;
}

/*
** Move the root child one step in the current direction and restore the
** heap.  REQUIRES: nHeap>0.
*/
static int mergeStep(MergeIter *p){
  int iRoot = p->aHeap[0];
  LsmIter *pChild = p->aChild[iRoot].pIter;
  int rc = p->bReverse ? lsmIterPrev(pChild) : lsmIterNext(pChild);
  if( rc!=LSM_OK ) return mergeFail(p, rc);
  if( !mergeCacheKey(p, iRoot) ){
    p->aHeap[0] = p->aHeap[--p->nHeap];
  }
  if( p->nHeap>0 ) mergeSiftDown(p, 0);
  return LSM_OK;
}

static void mergeClose(LsmIter *pIter){
  MergeIter *p = (MergeIter*)pIter;
  int i;
  for(i=0; i<p->nChild; i++){
    lsmIterClose(p->aChild[i].pIter);
  }
  lsmBufFree(&p->seekKey);
  lsmFree(p);
}

static int mergeFirst(LsmIter *pIter){
  return mergePositionAll((MergeIter*)pIter, MERGE_FIRST);
}

static int mergeLast(LsmIter *pIter){
  return mergePositionAll((MergeIter*)pIter, MERGE_LAST);
}

static int mergeSeek(LsmIter *pIter, const uint8_t *pIkey, size_t nIkey){
  MergeIter *p = (MergeIter*)pIter;
  /* The caller's key may point into one of the children (this iterator's
  ** own current key, say); seeking the first child would invalidate it
  ** for the rest, so seek to a private copy. */
  if( lsmBufSet(&p->seekKey, pIkey, nIkey)!=LSM_OK ){
    return mergeFail(p, lsmErr(LSM_NOMEM, "merge iterator seek"));
  }
  return mergePositionAll(p, MERGE_SEEK);
}

static int mergeNext(LsmIter *pIter){
  MergeIter *p = (MergeIter*)pIter;
  if( p->nHeap==0 ){
    return lsmErr(LSM_INVALID, "merge iterator: next while not positioned");
  }
  if( p->bReverse ){
    int rc = mergeTurn(p, 0);
    if( rc!=LSM_OK ) return rc;
  }
  return mergeStep(p);
}

static int mergePrev(LsmIter *pIter){
  MergeIter *p = (MergeIter*)pIter;
  if( p->nHeap==0 ){
    return lsmErr(LSM_INVALID, "merge iterator: prev while not positioned");
  }
  if( !p->bReverse ){
    int rc = mergeTurn(p, 1);
    if( rc!=LSM_OK ) return rc;
  }
  return mergeStep(p);
}

static int mergeValid(LsmIter *pIter){
  return ((MergeIter*)pIter)->nHeap>0;
}

static void mergeKey(LsmIter *pIter, const uint8_t **ppIkey, size_t *pnIkey){
  MergeIter *p = (MergeIter*)pIter;
  const MergeChild *pRoot = &p->aChild[p->aHeap[0]];
  *ppIkey = pRoot->pKey;
  *pnIkey = pRoot->nKey;
}

static void mergeValue(LsmIter *pIter, const uint8_t **ppVal, size_t *pnVal){
  MergeIter *p = (MergeIter*)pIter;
  lsmIterValue(p->aChild[p->aHeap[0]].pIter, ppVal, pnVal);
}

static const LsmIterMethods mergeMethods = {
  mergeClose, mergeFirst, mergeLast, mergeSeek,
  mergeNext, mergePrev, mergeValid, mergeKey, mergeValue
};

/*
** Create a merge iterator over apChild[0..nChild-1] (nChild may be 0).
** On LSM_OK *ppOut is the new, unpositioned iterator and owns the
** children (the array itself stays the caller's).  On failure (LSM_NOMEM,
** or LSM_INVALID for a negative count) every child is closed and *ppOut
** is NULL.
*/
int lsmMergeIterNew(LsmIter **apChild, int nChild, LsmIter **ppOut){
  MergeIter *p = 0;
  int rc = LSM_OK;
  int i;

  *ppOut = 0;
  if( nChild<0 ){
    return lsmErr(LSM_INVALID, "merge iterator: %d children", nChild);
  }
  p = lsmMallocZero(sizeof(MergeIter)
                    + (size_t)nChild*(sizeof(MergeChild) + sizeof(int)));
  if( p==0 ){
    rc = lsmErr(LSM_NOMEM, "merge iterator over %d children", nChild);
    for(i=0; i<nChild; i++){
      lsmIterClose(apChild[i]);
    }
  }else{
    p->base.pMethods = &mergeMethods;
    p->nChild = nChild;
    p->aChild = (MergeChild*)&p[1];
    p->aHeap = (int*)&p->aChild[nChild];
    for(i=0; i<nChild; i++){
      p->aChild[i].pIter = apChild[i];
    }
    *ppOut = &p->base;
  }
  return rc;
}
