/*
** cache.h -- a sharded LRU cache, used for data blocks and for open
** tables.
**
** Entries are keyed by a byte string (callers use a fixed-size key such
** as file number + block offset) and carry a charge (bytes for blocks,
** 1 for tables).  When the total charge passes the capacity, unreferenced
** entries are evicted least-recently-used first.  A lookup or insert
** returns a handle that pins the entry until lsmCacheRelease; an entry
** that is evicted or erased while pinned is deleted on its last release.
** Each shard has its own mutex, so threads rarely contend.
*/
#ifndef LSM_CACHE_H
#define LSM_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct LsmCache LsmCache;
typedef struct LsmCacheHandle LsmCacheHandle;

/* xDelete(pKey, nKey, pValue) is called when an entry leaves the cache
** for good (evicted or erased, and no handle pins it). */
typedef void (*LsmCacheDeleter)(const void *pKey, size_t nKey, void *pValue);

/* Capacity in charge units.  LSM_NOMEM on failure. */
int lsmCacheNew(size_t nCapacity, LsmCache **ppCache);
void lsmCacheFree(LsmCache *pCache);   /* REQUIRES: no pinned handles */

/*
** Insert (replacing any entry with the same key) and return a pinned
** handle in *ppHandle.  On LSM_NOMEM, xDelete has been called on pValue.
*/
int lsmCacheInsert(LsmCache *pCache, const void *pKey, size_t nKey,
                   void *pValue, size_t nCharge, LsmCacheDeleter xDelete,
                   LsmCacheHandle **ppHandle);
/* A pinned handle, or NULL if absent. */
LsmCacheHandle *lsmCacheLookup(LsmCache *pCache, const void *pKey, size_t nKey);
void *lsmCacheValue(LsmCacheHandle *pHandle);
void lsmCacheRelease(LsmCache *pCache, LsmCacheHandle *pHandle);
/* Drop the entry for pKey (deleted once unpinned). */
void lsmCacheErase(LsmCache *pCache, const void *pKey, size_t nKey);
/* Total charge of the entries held. */
size_t lsmCacheUsage(LsmCache *pCache);
/* A number unique within this cache, for building keys. */
uint64_t lsmCacheNewId(LsmCache *pCache);

#endif /* LSM_CACHE_H */
