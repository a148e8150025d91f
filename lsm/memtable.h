/*
** memtable.h -- the in-memory write buffer: a skip list in an arena.
**
** Entries are internal keys (ikey.h) with values.  One writer at a time
** (the commit leader) calls lsmMemtableAdd; any number of readers call
** lsmMemtableGet and iterate concurrently without locks: the skip list
** publishes each node with release stores and readers follow pointers
** with acquire loads.  Memory is only freed when the last reference
** goes, so pointers handed out stay valid while the caller holds a ref.
*/
#ifndef LSM_MEMTABLE_H
#define LSM_MEMTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "iter.h"

typedef struct LsmMemtable LsmMemtable;

/*
** A new empty memtable with one reference.  LSM_NOMEM on failure.
** nExpect is about the bytes the table will grow to (memtable_size); if
** it is not 0 the table keeps a bloom filter over its user keys, one bit
** per 8 expected bytes, so that a get of a key it does not hold usually
** skips the skip list.  0: no filter (a transaction's small index).
*/
int lsmMemtableNew(size_t nExpect, LsmMemtable **ppMem);
void lsmMemtableRef(LsmMemtable *pMem);
void lsmMemtableUnref(LsmMemtable *pMem);   /* frees on the last ref */

/*
** Add one entry.  kind is LSM_KIND_VALUE or LSM_KIND_DELETE (pVal unused).
** REQUIRES: one writer at a time; (key, seq) not already present.
** Returns LSM_OK or LSM_NOMEM (the table is unchanged on NOMEM).
*/
int lsmMemtableAdd(LsmMemtable *pMem, uint64_t seq, int kind,
                   const void *pKey, size_t nKey,
                   const void *pVal, size_t nVal);

/*
** Find the newest version of user key pKey with sequence <= seq.
** LSM_OK: found; *pbDeleted says whether it is a tombstone, otherwise
** *ppVal and *pnVal point into the memtable (valid while a ref is held).
** LSM_NOTFOUND: no version of the key at or below seq.
*/
int lsmMemtableGet(LsmMemtable *pMem, const void *pKey, size_t nKey,
                   uint64_t seq, const uint8_t **ppVal, size_t *pnVal,
                   int *pbDeleted);

/*
** False if the table holds no entry for user key pKey (its filter says
** so); true if it may.  Always true for a table without a filter.
*/
int lsmMemtableMayContain(const LsmMemtable *pMem, const void *pKey,
                          size_t nKey);

/* Approximate bytes of memory the table uses (arena included). */
size_t lsmMemtableBytes(const LsmMemtable *pMem);
/* Number of entries added. */
uint64_t lsmMemtableCount(const LsmMemtable *pMem);

/* An internal iterator over all entries; it holds a reference. */
int lsmMemtableIterNew(LsmMemtable *pMem, LsmIter **ppIter);

#endif /* LSM_MEMTABLE_H */
