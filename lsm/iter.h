/*
** iter.h -- the internal iterator interface.
**
** Memtables, tables, levels and the merging iterator all present the same
** interface over internal keys (ikey.h) in internal-key order.  The
** user-facing lsm_iter (dbiter.c) sits on top and hides sequence numbers,
** shadowed versions and tombstones.
**
** Contract:
**  - A new iterator is unpositioned (xValid false) until xFirst, xLast or
**    xSeek.
**  - Movement methods return LSM_OK or an error code.  After an error the
**    iterator is not valid and the error message is set with lsmErr().
**  - xSeek positions at the first entry whose internal key is >= the
**    given internal key.
**  - xNext/xPrev REQUIRE xValid.
**  - Pointers from xKey/xValue stay valid until the next move or xClose.
*/
#ifndef LSM_ITER_H
#define LSM_ITER_H

#include <stddef.h>
#include <stdint.h>

typedef struct LsmIter LsmIter;
typedef struct LsmIterMethods LsmIterMethods;

struct LsmIterMethods {
  void (*xClose)(LsmIter*);
  int (*xFirst)(LsmIter*);
  int (*xLast)(LsmIter*);
  int (*xSeek)(LsmIter*, const uint8_t *pIkey, size_t nIkey);
  int (*xNext)(LsmIter*);
  int (*xPrev)(LsmIter*);
  int (*xValid)(LsmIter*);
  void (*xKey)(LsmIter*, const uint8_t **ppIkey, size_t *pnIkey);
  void (*xValue)(LsmIter*, const uint8_t **ppVal, size_t *pnVal);
};

struct LsmIter {
  const LsmIterMethods *pMethods;
};

static inline void lsmIterClose(LsmIter *p){ if( p ) p->pMethods->xClose(p); }
static inline int lsmIterFirst(LsmIter *p){ return p->pMethods->xFirst(p); }
static inline int lsmIterLast(LsmIter *p){ return p->pMethods->xLast(p); }
static inline int lsmIterSeek(LsmIter *p, const uint8_t *k, size_t n){
  return p->pMethods->xSeek(p, k, n);
}
static inline int lsmIterNext(LsmIter *p){ return p->pMethods->xNext(p); }
static inline int lsmIterPrev(LsmIter *p){ return p->pMethods->xPrev(p); }
static inline int lsmIterValid(LsmIter *p){ return p->pMethods->xValid(p); }
static inline void lsmIterKey(LsmIter *p, const uint8_t **pp, size_t *pn){
  p->pMethods->xKey(p, pp, pn);
}
static inline void lsmIterValue(LsmIter *p, const uint8_t **pp, size_t *pn){
  p->pMethods->xValue(p, pp, pn);
}

/*
** The merging iterator (merge.c): a binary heap over apChild[0..nChild-1]
** yielding the union of their entries in internal-key order, forward and
** reverse, switching direction correctly.  On success it owns the
** children and closes them with itself; on failure it closes them too.
** Children with equal internal keys cannot occur (sequence numbers are
** unique), so ties need no rule.
*/
int lsmMergeIterNew(LsmIter **apChild, int nChild, LsmIter **ppOut);

#endif /* LSM_ITER_H */
