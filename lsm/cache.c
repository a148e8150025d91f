/*
** cache.c -- a sharded LRU cache of reference-counted entries.
**
** Use: lsmCacheNew(capacity) makes a cache; lsmCacheInsert() and
** lsmCacheLookup() return a handle that pins the entry and must be given
** back with lsmCacheRelease(); lsmCacheErase() drops a key.  Callers put
** what they like in it: the block cache charges an entry its size in
** bytes, the table cache charges 1 per open table.
**
** Sharding.  The cache is NSHARD independent LRU caches.  A key's shard
** is picked by the top bits of its hash (CRC32C of the key, coding.h);
** the bucket inside the shard by the low bits.  Each shard has its own
** mutex, its own slice of the capacity (the capacity split as evenly as
** integers allow, so the slices add up to exactly the total) and its own
** usage, so threads working on different keys rarely meet.
**
** Entry states.  Every entry (the handle type itself) is in one of three
** states:
**
**   cached, unpinned   in the hash table and on the LRU list, nRef==0;
**   cached, pinned     in the hash table, not on the LRU list, nRef>0;
**   orphan, pinned     out of the hash table (erased, replaced or evicted
**                      while pinned), nRef>0; its charge no longer counts
**                      toward usage and it is deleted at its last release.
**
** Only entries on the LRU list can be evicted, oldest first.  Eviction
** runs whenever usage exceeds the shard's capacity: after an insert and
** when a release returns an entry to the LRU list, so that usage never
** stays above capacity once nothing is pinned.  A shard's usage is the
** total charge of its cached entries, pinned or not.
**
** Deleters run outside the shard mutex (they may close files or take
** other locks): entries leaving the cache are gathered on a private list
** under the lock and deleted after it is dropped.
*/
#include "cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "coding.h"
#include "util.h"

#define CACHE_NSHARD_BITS 4
#define CACHE_NSHARD      (1<<CACHE_NSHARD_BITS)
#define CACHE_MIN_BUCKETS 16

typedef struct CacheShard CacheShard;

struct LsmCacheHandle {
  LsmCacheHandle *pHashNext;    /* bucket chain, or the pending-delete list */
  LsmCacheHandle *pLruPrev;     /* LRU list links (unpinned cached only) */
  LsmCacheHandle *pLruNext;
  void *pValue;
  LsmCacheDeleter xDelete;
  size_t nCharge;
  uint32_t iHash;
  int nRef;                     /* handles given out and not released */
  int bCached;                  /* true while in the hash table */
  size_t nKey;
  uint8_t aKey[];               /* the key bytes */
};

struct CacheShard {
  pthread_mutex_t mutex;
  size_t nCapacity;
  size_t nUsage;                /* charge of the entries in aBucket */
  size_t nEntry;                /* entries in aBucket */
  size_t nBucket;               /* power of two, or 0 before the first */
  LsmCacheHandle **aBucket;
  LsmCacheHandle lru;           /* list head: lru.pLruNext is the oldest */
};

struct LsmCache {
  atomic_uint_least64_t iNextId;
  CacheShard aShard[CACHE_NSHARD];
};

static uint32_t cacheHash(const void *pKey, size_t nKey){
  return lsmCrc32c(0, pKey, nKey);
}

static CacheShard *cacheShard(LsmCache *pCache, uint32_t iHash){
  return &pCache->aShard[iHash >> (32 - CACHE_NSHARD_BITS)];
}

static void cacheLruRemove(LsmCacheHandle *p){
  p->pLruPrev->pLruNext = p->pLruNext;
  p->pLruNext->pLruPrev = p->pLruPrev;
  p->pLruPrev = p->pLruNext = 0;
}

/* Append p at the most-recently-used end of the shard's list. */
static void cacheLruAppend(CacheShard *pShard, LsmCacheHandle *p){
  p->pLruNext = &pShard->lru;
  p->pLruPrev = pShard->lru.pLruPrev;
  p->pLruPrev->pLruNext = p;
  pShard->lru.pLruPrev = p;
}

/*
** Return the address of the bucket-chain pointer that points at the entry
** for the key, or at the NULL ending the chain if there is none.
** REQUIRES: the shard mutex is held and nBucket>0.
*/
static LsmCacheHandle **cacheFindSlot(CacheShard *pShard, uint32_t iHash,
                                      const void *pKey, size_t nKey){
  LsmCacheHandle **pp = &pShard->aBucket[iHash & (pShard->nBucket - 1)];
  while( *pp ){
    LsmCacheHandle *p = *pp;
    if( p->iHash==iHash && p->nKey==nKey
     && (nKey==0 || memcmp(p->aKey, pKey, nKey)==0) ){
      break;
    }
    pp = &p->pHashNext;
  }
  return pp;
}

/*
** Double the shard's bucket array (or create it).  Returns LSM_OK or
** LSM_NOMEM, in which case the old array is kept as it was.
** REQUIRES: the shard mutex is held.
*/
static int cacheGrow(CacheShard *pShard){
  size_t nNew = pShard->nBucket ? pShard->nBucket*2 : CACHE_MIN_BUCKETS;
  LsmCacheHandle **aNew = lsmMallocZero(nNew * sizeof(LsmCacheHandle*));
  size_t i;
  if( aNew==0 ) return LSM_NOMEM;
  for(i=0; i<pShard->nBucket; i++){
    LsmCacheHandle *p = pShard->aBucket[i];
    while( p ){
      LsmCacheHandle *pNext = p->pHashNext;
      LsmCacheHandle **pp = &aNew[p->iHash & (nNew - 1)];
      p->pHashNext = *pp;
      *pp = p;
      p = pNext;
    }
  }
  lsmFree(pShard->aBucket);
  pShard->aBucket = aNew;
  pShard->nBucket = nNew;
  return LSM_OK;
}

/*
** Take the entry that *pp points at out of the hash table.  Its charge
** leaves the shard's usage.  If it is unpinned it also leaves the LRU list
** and is pushed on *ppDead for deletion once the mutex is dropped;
** otherwise it becomes an orphan deleted at its last release.
** REQUIRES: the shard mutex is held.
*/
static void cacheUnlink(CacheShard *pShard, LsmCacheHandle **pp,
                        LsmCacheHandle **ppDead){
  LsmCacheHandle *p = *pp;
  *pp = p->pHashNext;
  p->pHashNext = 0;
  p->bCached = 0;
  pShard->nUsage -= p->nCharge;
  pShard->nEntry--;
  if( p->nRef==0 ){
    cacheLruRemove(p);
    p->pHashNext = *ppDead;
    *ppDead = p;
  }
}

/*
** Evict least-recently-used unpinned entries until the shard's usage is
** within its capacity or nothing more can be evicted.
** REQUIRES: the shard mutex is held.
*/
static void cacheEvict(CacheShard *pShard, LsmCacheHandle **ppDead){
  while( pShard->nUsage>pShard->nCapacity
      && pShard->lru.pLruNext!=&pShard->lru ){
    LsmCacheHandle *pOld = pShard->lru.pLruNext;
    cacheUnlink(pShard,
        cacheFindSlot(pShard, pOld->iHash, pOld->aKey, pOld->nKey), ppDead);
  }
}

/* Call the deleter of, and free, every entry on the list pDead. */
static void cacheDeleteList(LsmCacheHandle *pDead){
  while( pDead ){
    LsmCacheHandle *pNext = pDead->pHashNext;
    pDead->xDelete(pDead->aKey, pDead->nKey, pDead->pValue);
    lsmFree(pDead);
    pDead = pNext;
  }
}

int lsmCacheNew(size_t nCapacity, LsmCache **ppCache){
  int rc = LSM_OK;
  int i;
  LsmCache *pCache = lsmMallocZero(sizeof(LsmCache));
  *ppCache = 0;
  if( pCache==0 ) return lsmErr(LSM_NOMEM, "cache");
  atomic_init(&pCache->iNextId, 1);
  for(i=0; i<CACHE_NSHARD; i++){
    CacheShard *pShard = &pCache->aShard[i];
    int e = pthread_mutex_init(&pShard->mutex, 0);
    if( e ){
      rc = (e==ENOMEM) ? lsmErr(LSM_NOMEM, "cache")
                       : lsmErr(LSM_ERROR, "cache: mutex: %s", strerror(e));
      while( --i>=0 ) pthread_mutex_destroy(&pCache->aShard[i].mutex);
      lsmFree(pCache);
      return rc;
    }
    pShard->nCapacity = nCapacity/CACHE_NSHARD
                      + ((size_t)i < nCapacity%CACHE_NSHARD);
    pShard->lru.pLruNext = pShard->lru.pLruPrev = &pShard->lru;
  }
  *ppCache = pCache;
  return rc;
}

void lsmCacheFree(LsmCache *pCache){
  int i;
  if( pCache==0 ) return;
  for(i=0; i<CACHE_NSHARD; i++){
    CacheShard *pShard = &pCache->aShard[i];
    LsmCacheHandle *pDead = 0;
    size_t j;
    /* With no pins, every cached entry is on the LRU list. */
    for(j=0; j<pShard->nBucket; j++){
      while( pShard->aBucket[j] ){
        cacheUnlink(pShard, &pShard->aBucket[j], &pDead);
      }
    }
    cacheDeleteList(pDead);
    lsmFree(pShard->aBucket);
    pthread_mutex_destroy(&pShard->mutex);
  }
  lsmFree(pCache);
}

int lsmCacheInsert(LsmCache *pCache, const void *pKey, size_t nKey,
                   void *pValue, size_t nCharge, LsmCacheDeleter xDelete,
                   LsmCacheHandle **ppHandle){
  int rc = LSM_OK;
  uint32_t iHash = cacheHash(pKey, nKey);
  CacheShard *pShard = cacheShard(pCache, iHash);
  LsmCacheHandle *pDead = 0;
  LsmCacheHandle **pp;
  LsmCacheHandle *p = lsmMalloc(sizeof(LsmCacheHandle) + nKey);

  *ppHandle = 0;
  if( p==0 ){
    xDelete(pKey, nKey, pValue);
    return lsmErr(LSM_NOMEM, "cache insert");
  }
  memset(p, 0, sizeof(LsmCacheHandle));
  p->pValue = pValue;
  p->xDelete = xDelete;
  p->nCharge = nCharge;
  p->iHash = iHash;
  p->nRef = 1;
  p->bCached = 1;
  p->nKey = nKey;
  if( nKey ) memcpy(p->aKey, pKey, nKey);

  pthread_mutex_lock(&pShard->mutex);
  if( pShard->nEntry>=pShard->nBucket ) rc = cacheGrow(pShard);
  if( rc==LSM_OK ){
    pp = cacheFindSlot(pShard, iHash, pKey, nKey);
    if( *pp ) cacheUnlink(pShard, pp, &pDead);
    /* The old entry is gone from the chain, so *pp is where p belongs:
    ** either the chain's end or the successor of the replaced entry. */
    p->pHashNext = *pp;
    *pp = p;
    pShard->nEntry++;
    pShard->nUsage += nCharge;
    cacheEvict(pShard, &pDead);
  }
  pthread_mutex_unlock(&pShard->mutex);

  if( rc==LSM_OK ){
    *ppHandle = p;
  }else{
    /* The deleter sees the caller's key, which p holds a copy of. */
    p->pHashNext = pDead;
    pDead = p;
    rc = lsmErr(rc, "cache insert");
  }
  cacheDeleteList(pDead);
  return rc;
}

LsmCacheHandle *lsmCacheLookup(LsmCache *pCache, const void *pKey, size_t nKey){
  uint32_t iHash = cacheHash(pKey, nKey);
  CacheShard *pShard = cacheShard(pCache, iHash);
  LsmCacheHandle *p = 0;
  pthread_mutex_lock(&pShard->mutex);
  if( pShard->nBucket ){
    p = *cacheFindSlot(pShard, iHash, pKey, nKey);
    if( p ){
      if( p->nRef==0 ) cacheLruRemove(p);
      p->nRef++;
    }
  }
  pthread_mutex_unlock(&pShard->mutex);
  return p;
}

void *lsmCacheValue(LsmCacheHandle *pHandle){
  return pHandle->pValue;
}

void lsmCacheRelease(LsmCache *pCache, LsmCacheHandle *pHandle){
  CacheShard *pShard = cacheShard(pCache, pHandle->iHash);
  LsmCacheHandle *pDead = 0;
  pthread_mutex_lock(&pShard->mutex);
  if( --pHandle->nRef==0 ){
    if( pHandle->bCached ){
      cacheLruAppend(pShard, pHandle);
      cacheEvict(pShard, &pDead);
    }else{
      pDead = pHandle;
    }
  }
  pthread_mutex_unlock(&pShard->mutex);
  cacheDeleteList(pDead);
}

void lsmCacheErase(LsmCache *pCache, const void *pKey, size_t nKey){
  uint32_t iHash = cacheHash(pKey, nKey);
  CacheShard *pShard = cacheShard(pCache, iHash);
  LsmCacheHandle *pDead = 0;
  pthread_mutex_lock(&pShard->mutex);
  if( pShard->nBucket ){
    LsmCacheHandle **pp = cacheFindSlot(pShard, iHash, pKey, nKey);
    if( *pp ) cacheUnlink(pShard, pp, &pDead);
  }
  pthread_mutex_unlock(&pShard->mutex);
  cacheDeleteList(pDead);
}

size_t lsmCacheUsage(LsmCache *pCache){
  size_t nTotal = 0;
  int i;
  for(i=0; i<CACHE_NSHARD; i++){
    CacheShard *pShard = &pCache->aShard[i];
    pthread_mutex_lock(&pShard->mutex);
    nTotal += pShard->nUsage;
    pthread_mutex_unlock(&pShard->mutex);
  }
  return nTotal;
}

uint64_t lsmCacheNewId(LsmCache *pCache){
  return atomic_fetch_add_explicit(&pCache->iNextId, 1, memory_order_relaxed);
}
