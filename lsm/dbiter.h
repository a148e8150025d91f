/*
** dbiter.h -- the user-facing iterator (lsm_iter) over an internal one.
**
** An lsm_iter wraps an internal iterator (iter.h; usually a merge
** iterator over memtables and tables) and shows what a reader at one
** snapshot sees: user keys, each once, with its newest visible value,
** tombstoned keys hidden, limited to lo <= key < hi.  The lsm_iter_*
** functions of lsm.h operate on it; db.c creates it.
*/
#ifndef LSM_DBITER_H
#define LSM_DBITER_H

#include <stddef.h>
#include <stdint.h>

#include "lsm.h"
#include "iter.h"

/*
** Create an lsm_iter over pInternal showing the state as of sequence seq
** (entries with a larger sequence are invisible, except overlay entries,
** numbered from LSM_OVERLAY_SEQ, which are always visible), limited to
** user keys k with lo <= k < hi; a NULL pLo or pHi is no bound.  The
** bounds are copied.  The iterator takes ownership of pInternal:
** lsm_iter_free() closes it and then calls xRelease(pReleaseArg)
** (xRelease may be NULL), which lets the creator drop whatever pInternal
** depends on.
**
** Returns LSM_OK and sets *ppIter to a new unpositioned iterator, or
** LSM_NOMEM / LSM_INVALID with *ppIter NULL; on failure pInternal is
** closed and xRelease is called all the same.
*/
int lsmDbIterNew(LsmIter *pInternal, uint64_t seq,
                 const void *pLo, size_t nLo, const void *pHi, size_t nHi,
                 void (*xRelease)(void*), void *pReleaseArg,
                 lsm_iter **ppIter);

/* Show only the first nOverlay overlay entries (those numbered below
** LSM_OVERLAY_SEQ + nOverlay): a batch's operations as they were when
** the iterator was made, though later ones join the same index. */
void lsmDbIterLimitOverlay(lsm_iter *it, uint32_t nOverlay);

#endif /* LSM_DBITER_H */
