/*
** vectoriter.h -- an internal iterator (iter.h) over an array in memory,
** for tests.
**
** Build one with vecIterNew(), add entries in any order with vecIterAdd()
** (user key, sequence, kind, value) or vecIterAddIkey() (a ready-made
** internal key), then use it through iter.h like any other internal
** iterator.  Entries are sorted into internal-key order (lsmIkeyCompare)
** at the next first/last/seek; adding an entry unpositions the iterator.
**
** Fault injection: vecIterFailAt(p, n, rc) makes the n-th movement call
** from now (1 = the very next one; first, last, seek, next and prev all
** count) fail with rc: it returns rc, sets the error message and leaves
** the iterator unpositioned.  The failure happens once.
**
** Observation: vecIterMoves() counts movement calls; the low and high
** water marks are the smallest and largest entry indexes (in sorted
** order) the iterator has stood on since vecIterResetWater(), so a test
** can check how far a reader walked.  vecIterLiveCount() is the number
** of vector iterators created and not yet closed, in this process.
**
** Memory comes from malloc, not the engine's allocator hook, so that
** tests can fail the engine's allocations without failing these.  On
** malloc failure vecIterNew returns NULL and vecIterAdd LSM_NOMEM.
*/
#ifndef LSM_TEST_VECTORITER_H
#define LSM_TEST_VECTORITER_H

#include <stddef.h>
#include <stdint.h>

#include "iter.h"

LsmIter *vecIterNew(void);
int vecIterAdd(LsmIter *pIter, const void *pKey, size_t nKey, uint64_t seq,
               int kind, const void *pVal, size_t nVal);
int vecIterAddIkey(LsmIter *pIter, const void *pIkey, size_t nIkey,
                   const void *pVal, size_t nVal);
int vecIterCount(LsmIter *pIter);               /* entries added */

void vecIterFailAt(LsmIter *pIter, int nMove, int rc);
int vecIterMoves(LsmIter *pIter);
void vecIterResetWater(LsmIter *pIter);
int vecIterLowWater(LsmIter *pIter);            /* -1: stood on nothing */
int vecIterHighWater(LsmIter *pIter);           /* -1: stood on nothing */

int vecIterLiveCount(void);

#endif /* LSM_TEST_VECTORITER_H */
