/*
** memtable.c -- the in-memory write buffer: a skip list living in an arena.
**
** Use: lsmMemtableNew() gives a table with one reference.  The commit
** leader adds entries with lsmMemtableAdd(); readers call lsmMemtableGet()
** or iterate (lsmMemtableIterNew) at the same time without any lock.  Each
** holder of a pointer into the table holds a reference; the last
** lsmMemtableUnref() frees everything at once.
**
** Arena.  Nodes are carved out of blocks of MEM_BLOCK_SIZE bytes obtained
** from lsmMalloc.  An allocation that does not fit in what is left of
** the current block and is larger than a quarter of a block gets a block
** of its own, so a big value wastes no more than it needs and the current
** block keeps serving small nodes.  Nothing is freed before the whole
** table goes, which is what lets readers follow pointers without locks: a
** node, once published, stays where it is and never changes.
**
** lsmMemtableBytes() reports the arena bytes handed out, plus block
** headers and the abandoned tails of full blocks, plus the table header
** and filter.
** It leaves out the unused rest of the current block, so that a table
** grows in steps of its entries, not of whole blocks, and a small
** memtable_size option still means what it says.
**
** Skip list.  Each node has a height h (1..MEM_MAX_HEIGHT, each further
** level with probability 1/4, from a PRNG private to the table so the
** shape of the list is reproducible) and h forward pointers.  Node memory
** layout, all in one arena allocation:
**
**     MemNode header | apNext[0..h-1] | user key | trailer (8) | value
**
** The user key followed by the trailer (lsmIkeyTrailer(seq, kind), stored
** little-endian as ikey.h says) is the entry's internal key, so xKey of the
** iterator hands out a pointer straight into the node.  The list is
** ordered by internal key: user key ascending, then trailer descending.
**
** Publication.  The single writer fills a node completely, sets the
** node's own forward pointers, and only then links it in, level 0 first,
** with release stores into the predecessors.  Readers load forward
** pointers with acquire, so any node they reach is fully initialised.  A
** node linked at level 0 but not yet at higher levels is simply found by
** walking level 0.  The list's current height is an atomic too; a reader
** that sees a raised height before the head's new pointers are set finds
** NULL there and just drops a level.
**
** Filter.  A table made with an expected size keeps a blocked bloom
** filter over the user keys of its entries: the low bits of the key's
** hash (lsmBloomHash) pick one 64-byte line of the filter and
** MEM_FILTER_PROBES 9-bit fields of the hash times an odd constant pick
** bits in it, so a check costs one cache miss.  The writer sets an
** entry's bits before it links the node; a reader sees them through the
** same ordering that shows it the entry (the sequence number it reads
** under the database mutex was published after the insert).  Words are
** atomics because readers load them while the writer stores; with one
** writer a load and a store suffice, no read-modify-write.
**
** Splice.  The writer remembers the predecessors on every level of the
** position just after its last insert.  An entry that sorts after that
** node, and before its successor on some level L (keys written in order,
** or a batch applied in key order), has the remembered predecessors on
** every level above L -- their successors come after L's -- and is found
** by searching down from the remembered node on L: a few comparisons of
** nodes just touched instead of a search from the top.  The climb stops
** after MEM_SPLICE_CLIMB levels, beyond which a search from the head
** costs no more, so entries in random order lose little.
**
** Searching compares a node against a (user key, trailer) pair rather
** than against an encoded internal key, so that a point lookup needs no
** buffer to build its seek key in and therefore cannot fail.
*/
#include "memtable.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

#include "bloom.h"
#include "ikey.h"
#include "util.h"

#define MEM_BLOCK_SIZE   (256*1024)
#define MEM_BIG_ALLOC    (MEM_BLOCK_SIZE/4)
#define MEM_MAX_HEIGHT   12
#define MEM_ALIGN        alignof(void*)
#define MEM_PRNG_SEED    0x2545f4914f6cdd1dULL

#define MEM_SPLICE_CLIMB   4                /* levels the splice is tried on */

#define MEM_FILTER_LINE    8                /* u64 words per 64-byte line */
#define MEM_FILTER_PROBES  4
#define MEM_FILTER_MIX     0x9e3779b97f4a7c15ULL
#define MEM_FILTER_RATIO   64               /* expected bytes per filter byte */

typedef struct MemNode MemNode;
typedef struct MemBlock MemBlock;
typedef struct MemIter MemIter;

struct MemNode {
  size_t nIkey;                 /* user key + trailer bytes */
  size_t nVal;                  /* value bytes (0 for a tombstone) */
  int nHeight;                  /* number of entries in apNext[] */
  _Atomic(MemNode*) apNext[];   /* forward pointer per level */
};

/* Header of an arena block; the usable bytes follow it. */
struct MemBlock {
  MemBlock *pNext;              /* every block, newest first */
};

struct LsmMemtable {
  atomic_int nRef;
  atomic_int nHeight;           /* levels in use, 1..MEM_MAX_HEIGHT */
  atomic_uint_least64_t nEntry; /* entries added */
  atomic_size_t nUsed;          /* arena bytes handed out or wasted */
  MemBlock *pBlocks;            /* all arena blocks (writer only) */
  uint8_t *pFree;               /* free bytes of the current block */
  size_t nFree;                 /* bytes at pFree */
  uint64_t iPrng;               /* xorshift state for node heights */
  MemNode *pHead;               /* sentinel of height MEM_MAX_HEIGHT */
  _Atomic(uint64_t) *aFilter;   /* nFilterLine lines, or NULL */
  size_t nFilterLine;           /* a power of two, or 0 */
  MemNode *apSplice[MEM_MAX_HEIGHT];  /* predecessors of the next entry
                                ** after the last insert (writer only) */
  MemNode *pLast;               /* the last node inserted, or NULL */
};

_Static_assert(alignof(MemNode)<=MEM_ALIGN, "arena alignment too small");
_Static_assert(sizeof(MemBlock)%MEM_ALIGN==0, "block header misaligns data");

/*
** Allocate a new arena block with room for nData bytes and link it into
** the table's list.  Returns a pointer to the data area, or NULL on NOMEM
** (the arena is unchanged).
*/
static uint8_t *memBlockNew(LsmMemtable *pMem, size_t nData){
  MemBlock *pBlock = lsmMalloc(sizeof(MemBlock) + nData);
  if( pBlock==0 ) return 0;
  pBlock->pNext = pMem->pBlocks;
  pMem->pBlocks = pBlock;
  return (uint8_t*)&pBlock[1];
}

/*
** Return n bytes of arena memory aligned for a MemNode, or NULL on NOMEM,
** in which case the arena is unchanged.  Writer only.
*/
static void *memArenaAlloc(LsmMemtable *pMem, size_t n){
  uint8_t *p;
  n = (n + MEM_ALIGN - 1) & ~(size_t)(MEM_ALIGN - 1);
  if( n<=pMem->nFree ){
    p = pMem->pFree;
    pMem->pFree += n;
    pMem->nFree -= n;
    atomic_fetch_add_explicit(&pMem->nUsed, n, memory_order_relaxed);
  }else if( n>MEM_BIG_ALLOC ){
    /* A block of its own; the current block stays current. */
    p = memBlockNew(pMem, n);
    if( p ){
      atomic_fetch_add_explicit(&pMem->nUsed, sizeof(MemBlock) + n,
                                memory_order_relaxed);
    }
  }else{
    /* The tail of the current block is abandoned, so count it as used. */
    p = memBlockNew(pMem, MEM_BLOCK_SIZE);
    if( p ){
      atomic_fetch_add_explicit(&pMem->nUsed,
                                pMem->nFree + sizeof(MemBlock) + n,
                                memory_order_relaxed);
      pMem->pFree = p + n;
      pMem->nFree = MEM_BLOCK_SIZE - n;
    }
  }
  return p;
}

static uint8_t *memNodeIkey(MemNode *p){
  return (uint8_t*)&p->apNext[p->nHeight];
}

static MemNode *memNext(MemNode *p, int iLevel){
  return atomic_load_explicit(&p->apNext[iLevel], memory_order_acquire);
}

/*
** Compare the internal key of node p with the internal key made of user
** key pKey/nKey and trailer iTrailer.  Negative, zero or positive as the
** node sorts before, equal to or after it (ikey.h order).
*/
static int memNodeCompare(MemNode *p, const uint8_t *pKey, size_t nKey,
                          uint64_t iTrailer){
  return lsmIkeyCompareParts(memNodeIkey(p), p->nIkey, pKey, nKey, iTrailer);
}

/*
** Return the first node whose internal key is >= (pKey, iTrailer), or
** NULL if there is none, searching down from node p (the head, or a node
** before the key) on level iLevel.  If apPrev is not NULL, apPrev[i] is
** set to the last node before that position on each level i <= iLevel.
*/
static MemNode *memFindGEFrom(MemNode *p, int iLevel, const uint8_t *pKey,
                              size_t nKey, uint64_t iTrailer,
                              MemNode **apPrev){
  MemNode *pBigger = 0;       /* last node found not below the key */
  while( 1 ){
    MemNode *pNext = memNext(p, iLevel);
    /* going down a level often meets the node just compared again */
    if( pNext && pNext!=pBigger && memNodeCompare(pNext, pKey, nKey, iTrailer)<0 ){
      p = pNext;
    }else{
      pBigger = pNext;
      if( apPrev ) apPrev[iLevel] = p;
      if( iLevel==0 ) return pNext;
      iLevel--;
    }
  }
}

static MemNode *memFindGE(LsmMemtable *pMem, const uint8_t *pKey,
                          size_t nKey, uint64_t iTrailer, MemNode **apPrev){
  int iTop = atomic_load_explicit(&pMem->nHeight, memory_order_relaxed) - 1;
  return memFindGEFrom(pMem->pHead, iTop, pKey, nKey, iTrailer, apPrev);
}

/*
** Return the last node whose internal key is < (pKey, iTrailer), or NULL
** if there is none.
*/
static MemNode *memFindLT(LsmMemtable *pMem, const uint8_t *pKey,
                          size_t nKey, uint64_t iTrailer){
  MemNode *p = pMem->pHead;
  MemNode *pBigger = 0;       /* as in memFindGE */
  int iLevel = atomic_load_explicit(&pMem->nHeight, memory_order_relaxed) - 1;
  while( 1 ){
    MemNode *pNext = memNext(p, iLevel);
    if( pNext && pNext!=pBigger && memNodeCompare(pNext, pKey, nKey, iTrailer)<0 ){
      p = pNext;
    }else if( iLevel==0 ){
      return p==pMem->pHead ? 0 : p;
    }else{
      pBigger = pNext;
      iLevel--;
    }
  }
}

/* Return the last node of the list, or NULL if it is empty. */
static MemNode *memFindLast(LsmMemtable *pMem){
  MemNode *p = pMem->pHead;
  int iLevel = atomic_load_explicit(&pMem->nHeight, memory_order_relaxed) - 1;
  while( 1 ){
    MemNode *pNext = memNext(p, iLevel);
    if( pNext ){
      p = pNext;
    }else if( iLevel==0 ){
      return p==pMem->pHead ? 0 : p;
    }else{
      iLevel--;
    }
  }
}

/*
** Call xBit(word, mask) for each filter bit of user key pKey, until one
** returns 0; return 0 then, 1 if none did.  REQUIRES: a filter.
*/
static int memFilterBits(const LsmMemtable *pMem, const void *pKey,
                         size_t nKey,
                         int (*xBit)(_Atomic(uint64_t)*, uint64_t)){
  uint64_t h = lsmBloomHash((const uint8_t*)pKey, nKey);
  _Atomic(uint64_t) *aLine =
      &pMem->aFilter[(h & (pMem->nFilterLine - 1))*MEM_FILTER_LINE];
  uint64_t h2 = h * MEM_FILTER_MIX;
  int i;
  for(i=0; i<MEM_FILTER_PROBES; i++){
    unsigned iBit = (unsigned)(h2 >> (64 - 9*(i+1))) & 511;
    if( !xBit(&aLine[iBit/64], (uint64_t)1 << (iBit%64)) ) return 0;
  }
  return 1;
}

/* Set a bit.  Writer only: nobody else stores, so no atomic OR is needed. */
static int memFilterSet(_Atomic(uint64_t) *pWord, uint64_t mask){
  uint64_t w = atomic_load_explicit(pWord, memory_order_relaxed);
  atomic_store_explicit(pWord, w | mask, memory_order_relaxed);
  return 1;
}

static int memFilterTest(_Atomic(uint64_t) *pWord, uint64_t mask){
  return (atomic_load_explicit(pWord, memory_order_relaxed) & mask)!=0;
}

int lsmMemtableMayContain(const LsmMemtable *pMem, const void *pKey,
                          size_t nKey){
  if( pMem->nFilterLine==0 ) return 1;
  return memFilterBits(pMem, pKey, nKey, memFilterTest);
}

/* A random node height: 1, then each further level with chance 1/4. */
static int memRandomHeight(LsmMemtable *pMem){
  int nHeight = 1;
  uint64_t x = pMem->iPrng;
  x ^= x<<13; x ^= x>>7; x ^= x<<17;
  pMem->iPrng = x;
  while( nHeight<MEM_MAX_HEIGHT && (x & 3)==0 ){
    nHeight++;
    x >>= 2;
  }
  return nHeight;
}

/*
** Allocate a node of nHeight levels with nData bytes of key and value in
** the arena and set its header; its forward pointers are NULL.  Returns
** NULL on NOMEM.
*/
static MemNode *memNodeNew(LsmMemtable *pMem, int nHeight, size_t nData){
  MemNode *p = memArenaAlloc(pMem,
      sizeof(MemNode) + sizeof(p->apNext[0])*(size_t)nHeight + nData);
  if( p ){
    int i;
    p->nHeight = nHeight;
    for(i=0; i<nHeight; i++){
      atomic_init(&p->apNext[i], 0);
    }
  }
  return p;
}

/* Free the table and its arena.  The caller dropped the last reference. */
static void memFree(LsmMemtable *pMem){
  MemBlock *pBlock = pMem->pBlocks;
  while( pBlock ){
    MemBlock *pNext = pBlock->pNext;
    lsmFree(pBlock);
    pBlock = pNext;
  }
  lsmFree(pMem->aFilter);
  lsmFree(pMem);
}

int lsmMemtableNew(size_t nExpect, LsmMemtable **ppMem){
  int rc = LSM_OK;
  LsmMemtable *pMem = lsmMallocZero(sizeof(LsmMemtable));
  const size_t nLineByte = MEM_FILTER_LINE*sizeof(uint64_t);
  size_t nByte = nExpect/MEM_FILTER_RATIO;
  size_t nLine = 1;
  *ppMem = 0;
  if( pMem==0 ) return lsmErr(LSM_NOMEM, "memtable");
  if( nByte>=nLineByte ){
    /* The largest power of two of lines that fits the filter's share. */
    while( nLine*2*nLineByte<=nByte ) nLine *= 2;
    pMem->aFilter = lsmMallocZero(nLine*nLineByte);
    if( pMem->aFilter==0 ){
      lsmFree(pMem);
      return lsmErr(LSM_NOMEM, "memtable");
    }
    pMem->nFilterLine = nLine;
  }
  atomic_init(&pMem->nRef, 1);
  atomic_init(&pMem->nHeight, 1);
  atomic_init(&pMem->nEntry, 0);
  atomic_init(&pMem->nUsed, 0);
  pMem->iPrng = MEM_PRNG_SEED;
  pMem->pHead = memNodeNew(pMem, MEM_MAX_HEIGHT, 0);
  if( pMem->pHead==0 ){
    rc = lsmErr(LSM_NOMEM, "memtable");
    memFree(pMem);
  }else{
    pMem->pHead->nIkey = 0;
    pMem->pHead->nVal = 0;
    *ppMem = pMem;
  }
  return rc;
}

void lsmMemtableRef(LsmMemtable *pMem){
  atomic_fetch_add_explicit(&pMem->nRef, 1, memory_order_relaxed);
}

void lsmMemtableUnref(LsmMemtable *pMem){
  /* acq_rel: every holder's reads happen before the free. */
  if( pMem && atomic_fetch_sub_explicit(&pMem->nRef, 1,
                                        memory_order_acq_rel)==1 ){
    memFree(pMem);
  }
}

/*
** Set apPrev[i] to the last node before entry (pKey, iTrailer) on every
** level i below the list's height.  Writer only.
*/
static void memFindPrev(LsmMemtable *pMem, const uint8_t *pKey, size_t nKey,
                        uint64_t iTrailer, MemNode **apPrev){
  int nLevel = atomic_load_explicit(&pMem->nHeight, memory_order_relaxed);
  if( pMem->pLast && memNodeCompare(pMem->pLast, pKey, nKey, iTrailer)<0 ){
    int i, iLevel;
    /* Climb to the lowest level whose splice successor is beyond the key. */
    for(iLevel=0; iLevel<nLevel && iLevel<MEM_SPLICE_CLIMB; iLevel++){
      MemNode *pNext = memNext(pMem->apSplice[iLevel], iLevel);
      if( pNext==0 || memNodeCompare(pNext, pKey, nKey, iTrailer)>0 ) break;
    }
    if( iLevel<nLevel && iLevel<MEM_SPLICE_CLIMB ){
      for(i=iLevel+1; i<nLevel; i++) apPrev[i] = pMem->apSplice[i];
      memFindGEFrom(pMem->apSplice[iLevel], iLevel, pKey, nKey, iTrailer,
                    apPrev);
      return;
    }
  }
  memFindGE(pMem, pKey, nKey, iTrailer, apPrev);
}

int lsmMemtableAdd(LsmMemtable *pMem, uint64_t seq, int kind,
                   const void *pKey, size_t nKey,
                   const void *pVal, size_t nVal){
  MemNode *apPrev[MEM_MAX_HEIGHT];
  MemNode *pNode;
  uint8_t *pData;
  uint64_t iTrailer = lsmIkeyTrailer(seq, kind);
  int nHeight = memRandomHeight(pMem);
  int nOld;
  int i;

  if( kind!=LSM_KIND_VALUE ) nVal = 0;
  pNode = memNodeNew(pMem, nHeight, nKey + LSM_IKEY_TRAILER + nVal);
  if( pNode==0 ) return lsmErr(LSM_NOMEM, "memtable insert");
  pNode->nIkey = nKey + LSM_IKEY_TRAILER;
  pNode->nVal = nVal;
  pData = memNodeIkey(pNode);
  if( nKey ) memcpy(pData, pKey, nKey);
  lsmPut64(pData + nKey, iTrailer);
  if( nVal ) memcpy(pData + pNode->nIkey, pVal, nVal);
  if( pMem->nFilterLine ) memFilterBits(pMem, pKey, nKey, memFilterSet);

  memFindPrev(pMem, pKey, nKey, iTrailer, apPrev);
  nOld = atomic_load_explicit(&pMem->nHeight, memory_order_relaxed);
  for(i=nOld; i<MEM_MAX_HEIGHT; i++) apPrev[i] = pMem->pHead;
  if( nHeight>nOld ){
    atomic_store_explicit(&pMem->nHeight, nHeight, memory_order_relaxed);
  }

  /* Link bottom-up: a reader may see the node on low levels only. */
  for(i=0; i<nHeight; i++){
    MemNode *pNext = atomic_load_explicit(&apPrev[i]->apNext[i],
                                          memory_order_relaxed);
    atomic_store_explicit(&pNode->apNext[i], pNext, memory_order_relaxed);
    atomic_store_explicit(&apPrev[i]->apNext[i], pNode, memory_order_release);
    apPrev[i] = pNode;
  }
  memcpy(pMem->apSplice, apPrev, sizeof(apPrev));
  pMem->pLast = pNode;
  atomic_fetch_add_explicit(&pMem->nEntry, 1, memory_order_relaxed);
  return LSM_OK;
}

int lsmMemtableGet(LsmMemtable *pMem, const void *pKey, size_t nKey,
                   uint64_t seq, const uint8_t **ppVal, size_t *pnVal,
                   int *pbDeleted){
  MemNode *p;
  const uint8_t *pIkey;
  if( !lsmMemtableMayContain(pMem, pKey, nKey) ) return LSM_NOTFOUND;
  p = memFindGE(pMem, pKey, nKey, lsmIkeyLookupTrailer(seq), 0);
  if( p==0 ) return LSM_NOTFOUND;
  pIkey = memNodeIkey(p);
  if( lsmUkeyCompare(pIkey, lsmIkeyUserLen(p->nIkey), pKey, nKey)!=0 ){
    return LSM_NOTFOUND;
  }
  if( lsmIkeyKind(pIkey, p->nIkey)==LSM_KIND_DELETE ){
    *pbDeleted = 1;
    *ppVal = 0;
    *pnVal = 0;
  }else{
    *pbDeleted = 0;
    *ppVal = pIkey + p->nIkey;
    *pnVal = p->nVal;
  }
  return LSM_OK;
}

size_t lsmMemtableBytes(const LsmMemtable *pMem){
  return sizeof(LsmMemtable)
       + pMem->nFilterLine*MEM_FILTER_LINE*sizeof(uint64_t)
       + atomic_load_explicit(&pMem->nUsed, memory_order_relaxed);
}

uint64_t lsmMemtableCount(const LsmMemtable *pMem){
  return atomic_load_explicit(&pMem->nEntry, memory_order_relaxed);
}

/*
** The iterator.  pNode is the current node, NULL when not valid.  It
** holds a reference on the table, so its nodes outlive any writer.
*/
struct MemIter {
  LsmIter base;
  LsmMemtable *pMem;
  MemNode *pNode;
};

static void memIterClose(LsmIter *pIter){
  MemIter *p = (MemIter*)pIter;
  lsmMemtableUnref(p->pMem);
  lsmFree(p);
}

static int memIterFirst(LsmIter *pIter){
  MemIter *p = (MemIter*)pIter;
  p->pNode = memNext(p->pMem->pHead, 0);
  return LSM_OK;
}

static int memIterLast(LsmIter *pIter){
  MemIter *p = (MemIter*)pIter;
  p->pNode = memFindLast(p->pMem);
  return LSM_OK;
}

/* REQUIRES: nIkey >= LSM_IKEY_TRAILER. */
static int memIterSeek(LsmIter *pIter, const uint8_t *pIkey, size_t nIkey){
  MemIter *p = (MemIter*)pIter;
  size_t nUser = lsmIkeyUserLen(nIkey);
  p->pNode = memFindGE(p->pMem, pIkey, nUser, lsmGet64(pIkey + nUser), 0);
  return LSM_OK;
}

static int memIterNext(LsmIter *pIter){
  MemIter *p = (MemIter*)pIter;
  p->pNode = memNext(p->pNode, 0);
  return LSM_OK;
}

static int memIterPrev(LsmIter *pIter){
  MemIter *p = (MemIter*)pIter;
  const uint8_t *pIkey = memNodeIkey(p->pNode);
  size_t nUser = lsmIkeyUserLen(p->pNode->nIkey);
  p->pNode = memFindLT(p->pMem, pIkey, nUser, lsmGet64(pIkey + nUser));
  return LSM_OK;
}

static int memIterValid(LsmIter *pIter){
  return ((MemIter*)pIter)->pNode!=0;
}

static void memIterKey(LsmIter *pIter, const uint8_t **ppIkey, size_t *pn){
  MemNode *pNode = ((MemIter*)pIter)->pNode;
  *ppIkey = memNodeIkey(pNode);
  *pn = pNode->nIkey;
}

static void memIterValue(LsmIter *pIter, const uint8_t **ppVal, size_t *pn){
  MemNode *pNode = ((MemIter*)pIter)->pNode;
  *ppVal = memNodeIkey(pNode) + pNode->nIkey;
  *pn = pNode->nVal;
}

static const LsmIterMethods memIterMethods = {
  memIterClose, memIterFirst, memIterLast, memIterSeek,
  memIterNext, memIterPrev, memIterValid, memIterKey, memIterValue
};

int lsmMemtableIterNew(LsmMemtable *pMem, LsmIter **ppIter){
  MemIter *p = lsmMallocZero(sizeof(MemIter));
  *ppIter = 0;
  if( p==0 ) return lsmErr(LSM_NOMEM, "memtable iterator");
  p->base.pMethods = &memIterMethods;
  p->pMem = pMem;
  lsmMemtableRef(pMem);
  *ppIter = &p->base;
  return LSM_OK;
}
