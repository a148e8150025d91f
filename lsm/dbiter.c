/*
** dbiter.c -- the user-facing iterator: lsm_iter and its lsm_iter_*
** functions.
**
** An lsm_iter reads an internal iterator (iter.h) whose entries are
** internal keys -- user key plus a trailer of sequence and kind, newest
** version of a user key first -- and shows what a reader at snapshot
** sequence S sees:
**
**   - entries with a sequence above S do not exist, except those from
**     LSM_OVERLAY_SEQ up: a transaction's own uncommitted writes, laid
**     over the snapshot and newer than anything in it (ikey.h);
**   - of the rest, only the newest version of each user key counts;
**   - if that version is a tombstone, the key does not exist;
**   - keys outside [lo, hi) do not exist, and the internal iterator is
**     never walked further past a bound than the first entry beyond it.
**
** lsmDbIterNew() (dbiter.h) creates one; db.c calls it from
** lsm_iter_new() with a merge iterator over the memtables and tables it
** pinned, and a release callback that unpins them.
**
** Two directions, two invariants.  While the iterator is valid:
**
**   forward (eDir==DBITER_FORWARD): the internal iterator is on the entry
**     being shown (the newest visible version of the current user key,
**     a value).  lsm_iter_key/value read straight from it.
**
**   reverse (eDir==DBITER_REVERSE): the internal iterator is before
**     every entry of the current user key -- on some entry of a smaller
**     key, or off the front -- and the current key and value are copies
**     held in savedKey/savedVal.  Walking backwards meets a key's
**     versions oldest first, so the newest visible version is only known
**     once the walk has passed all of them; the copies keep the candidate
**     meanwhile.
**
** Moving forward from either state skips the remaining entries of the
** current user key (savedKey holds it while skipping) and stops at the
** first visible value of a later key.  Moving backward from the forward state
** steps off the entry shown and walks back collecting as above; the
** current key's entries that precede the one shown are newer than it,
** hence invisible, and pass unnoticed.
**
** Errors are sticky: once a move fails (an internal iterator error,
** NOMEM, a malformed entry), the iterator is invalid, lsm_iter_status()
** returns that first error and every later move returns it too.  Moving
** with next or prev while not on an entry returns LSM_INVALID.
*/
#include "dbiter.h"
#include "ikey.h"
#include "util.h"

#include <stdio.h>

#define DBITER_FORWARD 0
#define DBITER_REVERSE 1

/*
** The largest trailer: a seek key with it sorts before every version of
** its user key.  Seeks go to a key's first version rather than to the
** newest one at the snapshot, because overlay entries, the newest of
** all, are visible whatever the snapshot.
*/
#define DBITER_FIRST_VERSION lsmIkeyLookupTrailer(LSM_MAX_SEQ)

struct lsm_iter {
  LsmIter *pIter;             /* internal iterator, owned */
  uint64_t seq;               /* snapshot (see dbiterVisible) */
  uint64_t iOverlayEnd;       /* overlay entries below this are visible */
  int bLo, bHi;               /* whether each bound is set */
  LsmBuf lo, hi;              /* the bounds, user keys: lo <= k < hi */
  void (*xRelease)(void*);    /* called after pIter is closed */
  void *pReleaseArg;
  int eDir;                   /* DBITER_FORWARD or DBITER_REVERSE */
  int bValid;                 /* on an entry */
  int rc;                     /* first error, LSM_OK if none */
  char zErr[256];             /* its message */
  LsmBuf savedKey;            /* reverse: current key; forward: key skipped */
  LsmBuf savedVal;            /* reverse: current value */
  LsmBuf target;              /* internal key being sought */
};

/* Returned for a zero-length key or value, which may have no storage. */
static const uint8_t dbiterEmpty[1] = {0};

/* One decoded internal entry. */
typedef struct DbiterEntry {
  const uint8_t *pKey;        /* user key */
  size_t nKey;
  uint64_t seq;
  int kind;                   /* LSM_KIND_VALUE or LSM_KIND_DELETE */
} DbiterEntry;

/*
** Decode the entry the internal iterator is on.  REQUIRES: it is valid.
** Returns LSM_OK, or LSM_CORRUPT if the internal key is shorter than its
** trailer or of an unknown kind.
*/
static int dbiterEntry(lsm_iter *it, DbiterEntry *pEntry){
  const uint8_t *pIkey;
  size_t nIkey;
  lsmIterKey(it->pIter, &pIkey, &nIkey);
  if( nIkey<LSM_IKEY_TRAILER ){
    return lsmErr(LSM_CORRUPT,
        "iterator: internal key of %zu bytes is shorter than its trailer",
        nIkey);
  }
  pEntry->pKey = pIkey;
  pEntry->nKey = lsmIkeyUserLen(nIkey);
  pEntry->seq = lsmIkeySeq(pIkey, nIkey);
  pEntry->kind = lsmIkeyKind(pIkey, nIkey);
  if( pEntry->kind!=LSM_KIND_VALUE && pEntry->kind!=LSM_KIND_DELETE ){
    return lsmErr(LSM_CORRUPT, "iterator: entry of unknown kind %d "
                  "(sequence %llu)", pEntry->kind,
                  (unsigned long long)pEntry->seq);
  }
  return LSM_OK;
}

/* Whether an entry of sequence seq exists for this iterator's reader. */
static int dbiterVisible(const lsm_iter *it, uint64_t seq){
  return seq<=it->seq || (seq>=LSM_OVERLAY_SEQ && seq<it->iOverlayEnd);
}

static int dbiterBelowLo(const lsm_iter *it, const uint8_t *p, size_t n){
  return it->bLo && lsmUkeyCompare(p, n, it->lo.p, it->lo.n)<0;
}
static int dbiterAtOrAboveHi(const lsm_iter *it, const uint8_t *p, size_t n){
  return it->bHi && lsmUkeyCompare(p, n, it->hi.p, it->hi.n)>=0;
}

/* Copy p[0..n-1] into *pBuf; LSM_OK or LSM_NOMEM (with the message). */
static int dbiterCopy(LsmBuf *pBuf, const void *p, size_t n){
  if( lsmBufSet(pBuf, p, n)!=LSM_OK ){
    return lsmErr(LSM_NOMEM, "iterator: copying %zu bytes", n);
  }
  return LSM_OK;
}

/*
** Seek the internal iterator to the internal key (pKey, trailer), or, if
** bAfter, to (pKey followed by a zero byte, trailer): the zero byte makes
** the smallest user key greater than pKey.  The key is copied first, so
** pKey may point anywhere, even into the iterator being moved.
*/
static int dbiterSeek(lsm_iter *it, const void *pKey, size_t nKey,
                      int bAfter, uint64_t trailer){
  int rc = dbiterCopy(&it->target, pKey, nKey);
  if( rc==LSM_OK ){
    uint8_t aSuffix[1 + LSM_IKEY_TRAILER] = {0};    /* zero byte, trailer */
    size_t nSkip = bAfter ? 0 : 1;
    lsmPut64(&aSuffix[1], trailer);
    if( lsmBufAppend(&it->target, &aSuffix[nSkip],
                     sizeof(aSuffix) - nSkip)!=LSM_OK ){
      rc = lsmErr(LSM_NOMEM, "iterator: seek key");
    }
  }
  if( rc==LSM_OK ){
    rc = lsmIterSeek(it->pIter, it->target.p, it->target.n);
  }
  return rc;
}

/* End a move: on failure remember the first error and become invalid. */
static int dbiterDone(lsm_iter *it, int rc){
  if( rc!=LSM_OK ){
    if( it->rc==LSM_OK ){
      snprintf(it->zErr, sizeof(it->zErr), "%s",
               lsmErrMsg()[0] ? lsmErrMsg() : lsm_errstr(rc));
    }
    it->rc = rc;
    it->bValid = 0;
  }
  return rc;
}

/*
** Walk forward from the internal iterator's position to the first
** visible value, which becomes the current entry (forward state).  If
** bSkip, savedKey holds a user key all of whose entries are to be passed
** over.  Stops invalid at the first entry at or above hi, or at the end.
*/
static int dbiterFindNext(lsm_iter *it, int bSkip){
  int rc = LSM_OK;
  it->eDir = DBITER_FORWARD;
  it->bValid = 0;
  while( rc==LSM_OK && lsmIterValid(it->pIter) ){
    DbiterEntry e;
    rc = dbiterEntry(it, &e);
    if( rc!=LSM_OK ) break;
    if( dbiterAtOrAboveHi(it, e.pKey, e.nKey) ) break;
    if( dbiterVisible(it, e.seq)
     && (!bSkip || lsmUkeyCompare(e.pKey, e.nKey,
                                  it->savedKey.p, it->savedKey.n)!=0)
    ){
      /* The newest visible version of a key not seen yet. */
      if( e.kind==LSM_KIND_VALUE ){
        it->bValid = 1;
        break;
      }
      /* A tombstone: the key's older versions are dead too. */
      rc = dbiterCopy(&it->savedKey, e.pKey, e.nKey);
      bSkip = 1;
    }
    if( rc==LSM_OK ) rc = lsmIterNext(it->pIter);
  }
  return rc;
}

/*
** Walk backward from the internal iterator's position (inclusive) to the
** previous visible value, which becomes the current entry (reverse state,
** copied into savedKey/savedVal); the internal iterator is left on the
** entry that ended the walk, or off the front.
** Stops invalid at the first entry below lo, or at the front.
*/
static int dbiterFindPrev(lsm_iter *it){
  int rc = LSM_OK;
  int bFound = 0;             /* savedKey/savedVal hold a candidate */
  it->eDir = DBITER_REVERSE;
  it->bValid = 0;
  while( rc==LSM_OK && lsmIterValid(it->pIter) ){
    DbiterEntry e;
    rc = dbiterEntry(it, &e);
    if( rc!=LSM_OK ) break;
    if( dbiterBelowLo(it, e.pKey, e.nKey) ) break;
    if( dbiterVisible(it, e.seq) ){
      if( bFound
       && lsmUkeyCompare(e.pKey, e.nKey, it->savedKey.p, it->savedKey.n)<0
      ){
        /* Past every version of the candidate's key: it is the newest. */
        break;
      }
      /* Each visible version met is newer than the last one met. */
      if( e.kind==LSM_KIND_VALUE ){
        const uint8_t *pVal;
        size_t nVal;
        lsmIterValue(it->pIter, &pVal, &nVal);
        rc = dbiterCopy(&it->savedKey, e.pKey, e.nKey);
        if( rc==LSM_OK ) rc = dbiterCopy(&it->savedVal, pVal, nVal);
        bFound = (rc==LSM_OK);
      }else{
        bFound = 0;
      }
    }
    if( rc==LSM_OK ) rc = lsmIterPrev(it->pIter);
  }
  it->bValid = bFound;
  return rc;
}

/*
** Position the internal iterator on the last entry whose user key is
** below hi (or the very last entry without hi), or off the front.
*/
static int dbiterToLast(lsm_iter *it){
  int rc;
  if( !it->bHi ) return lsmIterLast(it->pIter);
  rc = dbiterSeek(it, it->hi.p, it->hi.n, 0, DBITER_FIRST_VERSION);
  if( rc==LSM_OK ){
    rc = lsmIterValid(it->pIter) ? lsmIterPrev(it->pIter)
                                 : lsmIterLast(it->pIter);
  }
  return rc;
}

/* See dbiter.h.  On failure everything handed over is released here. */
int lsmDbIterNew(LsmIter *pInternal, uint64_t seq,
                 const void *pLo, size_t nLo, const void *pHi, size_t nHi,
                 void (*xRelease)(void*), void *pReleaseArg,
                 lsm_iter **ppIter){
  lsm_iter *it = 0;
  int rc = LSM_OK;

  if( ppIter ) *ppIter = 0;
  if( ppIter==0 || pInternal==0 ){
    rc = lsmErr(LSM_INVALID, "iterator: missing %s",
                ppIter ? "internal iterator" : "output pointer");
  }else{
    it = lsmMallocZero(sizeof(*it));
    if( it==0 ) rc = lsmErr(LSM_NOMEM, "iterator");
  }
  if( rc==LSM_OK ){
    it->pIter = pInternal;
    it->seq = seq;
    it->iOverlayEnd = UINT64_MAX;
    it->xRelease = xRelease;
    it->pReleaseArg = pReleaseArg;
    it->bLo = pLo!=0;
    it->bHi = pHi!=0;
    if( it->bLo ) rc = dbiterCopy(&it->lo, pLo, nLo);
    if( rc==LSM_OK && it->bHi ) rc = dbiterCopy(&it->hi, pHi, nHi);
  }
  if( rc==LSM_OK ){
    *ppIter = it;
  }else if( it ){
    lsm_iter_free(it);
  }else{
    lsmIterClose(pInternal);
    if( xRelease ) xRelease(pReleaseArg);
  }
  return rc;
}

void lsmDbIterLimitOverlay(lsm_iter *it, uint32_t nOverlay){
  it->iOverlayEnd = LSM_OVERLAY_SEQ + nOverlay;
}

void lsm_iter_free(lsm_iter *it){
  if( it==0 ) return;
  lsmIterClose(it->pIter);
  if( it->xRelease ) it->xRelease(it->pReleaseArg);
  lsmBufFree(&it->lo);
  lsmBufFree(&it->hi);
  lsmBufFree(&it->savedKey);
  lsmBufFree(&it->savedVal);
  lsmBufFree(&it->target);
  lsmFree(it);
}

int lsm_iter_first(lsm_iter *it){
  int rc;
  if( it==0 ) return lsmErr(LSM_INVALID, "lsm_iter_first: NULL iterator");
  if( it->rc!=LSM_OK ) return it->rc;
  if( it->bLo ){
    rc = dbiterSeek(it, it->lo.p, it->lo.n, 0, DBITER_FIRST_VERSION);
  }else{
    rc = lsmIterFirst(it->pIter);
  }
  if( rc==LSM_OK ) rc = dbiterFindNext(it, 0);
  return dbiterDone(it, rc);
}

int lsm_iter_last(lsm_iter *it){
  int rc;
  if( it==0 ) return lsmErr(LSM_INVALID, "lsm_iter_last: NULL iterator");
  if( it->rc!=LSM_OK ) return it->rc;
  rc = dbiterToLast(it);
  if( rc==LSM_OK ) rc = dbiterFindPrev(it);
  return dbiterDone(it, rc);
}

int lsm_iter_seek(lsm_iter *it, const void *pKey, size_t nKey){
  int rc;
  if( it==0 || (pKey==0 && nKey>0) ){
    return lsmErr(LSM_INVALID, "lsm_iter_seek: NULL %s",
                  it ? "key" : "iterator");
  }
  if( it->rc!=LSM_OK ) return it->rc;
  if( dbiterAtOrAboveHi(it, pKey, nKey) ){
    it->bValid = 0;                   /* nothing in range is >= key */
    return LSM_OK;
  }
  if( dbiterBelowLo(it, pKey, nKey) ){
    pKey = it->lo.p;
    nKey = it->lo.n;
  }
  rc = dbiterSeek(it, pKey, nKey, 0, DBITER_FIRST_VERSION);
  if( rc==LSM_OK ) rc = dbiterFindNext(it, 0);
  return dbiterDone(it, rc);
}

int lsm_iter_seek_le(lsm_iter *it, const void *pKey, size_t nKey){
  int rc;
  if( it==0 || (pKey==0 && nKey>0) ){
    return lsmErr(LSM_INVALID, "lsm_iter_seek_le: NULL %s",
                  it ? "key" : "iterator");
  }
  if( it->rc!=LSM_OK ) return it->rc;
  if( dbiterBelowLo(it, pKey, nKey) ){
    it->bValid = 0;                   /* nothing in range is <= key */
    return LSM_OK;
  }
  if( dbiterAtOrAboveHi(it, pKey, nKey) ){
    rc = dbiterToLast(it);
  }else{
    /* To the first entry of a larger user key, then back onto the last
    ** entry <= key. */
    rc = dbiterSeek(it, pKey, nKey, 1, DBITER_FIRST_VERSION);
    if( rc==LSM_OK ){
      rc = lsmIterValid(it->pIter) ? lsmIterPrev(it->pIter)
                                   : lsmIterLast(it->pIter);
    }
  }
  if( rc==LSM_OK ) rc = dbiterFindPrev(it);
  return dbiterDone(it, rc);
}

int lsm_iter_next(lsm_iter *it){
  int rc = LSM_OK;
  if( it==0 ) return lsmErr(LSM_INVALID, "lsm_iter_next: NULL iterator");
  if( it->rc!=LSM_OK ) return it->rc;
  if( !it->bValid ){
    return lsmErr(LSM_INVALID, "lsm_iter_next: iterator not on an entry");
  }
  if( it->eDir==DBITER_FORWARD ){
    const uint8_t *pIkey;
    size_t nIkey;
    lsmIterKey(it->pIter, &pIkey, &nIkey);
    rc = dbiterCopy(&it->savedKey, pIkey, lsmIkeyUserLen(nIkey));
    if( rc==LSM_OK ) rc = lsmIterNext(it->pIter);
  }else if( lsmIterValid(it->pIter) ){
    /* On the last entry of a smaller key: step into the current key. */
    rc = lsmIterNext(it->pIter);
  }else{
    /* Off the front: the current key's entries come first of all. */
    rc = lsmIterFirst(it->pIter);
  }
  if( rc==LSM_OK ) rc = dbiterFindNext(it, 1);
  return dbiterDone(it, rc);
}

int lsm_iter_prev(lsm_iter *it){
  int rc = LSM_OK;
  if( it==0 ) return lsmErr(LSM_INVALID, "lsm_iter_prev: NULL iterator");
  if( it->rc!=LSM_OK ) return it->rc;
  if( !it->bValid ){
    return lsmErr(LSM_INVALID, "lsm_iter_prev: iterator not on an entry");
  }
  if( it->eDir==DBITER_FORWARD ){
    /* Step off the entry shown.  The current key's entries before it are
    ** newer than the newest visible version, so invisible: the backward
    ** walk passes over them as it would over any invisible entry. */
    rc = lsmIterPrev(it->pIter);
  }
  if( rc==LSM_OK ) rc = dbiterFindPrev(it);
  return dbiterDone(it, rc);
}

int lsm_iter_valid(const lsm_iter *it){
  return it!=0 && it->bValid;
}

/*
** The current user key, or NULL (*pnKey 0) when not on an entry; never
** NULL when on one.  Valid until the next move or lsm_iter_free().
*/
const void *lsm_iter_key(const lsm_iter *it, size_t *pnKey){
  const uint8_t *pKey = 0;
  size_t nKey = 0;
  if( it && it->bValid ){
    if( it->eDir==DBITER_FORWARD ){
      lsmIterKey(it->pIter, &pKey, &nKey);
      nKey = lsmIkeyUserLen(nKey);
    }else{
      pKey = it->savedKey.p;
      nKey = it->savedKey.n;
    }
    if( pKey==0 ) pKey = dbiterEmpty;
  }
  if( pnKey ) *pnKey = nKey;
  return pKey;
}

/* The current value, like lsm_iter_key(). */
const void *lsm_iter_value(const lsm_iter *it, size_t *pnVal){
  const uint8_t *pVal = 0;
  size_t nVal = 0;
  if( it && it->bValid ){
    if( it->eDir==DBITER_FORWARD ){
      lsmIterValue(it->pIter, &pVal, &nVal);
    }else{
      pVal = it->savedVal.p;
      nVal = it->savedVal.n;
    }
    if( pVal==0 ) pVal = dbiterEmpty;
  }
  if( pnVal ) *pnVal = nVal;
  return pVal;
}

int lsm_iter_status(const lsm_iter *it){
  return it ? it->rc : LSM_INVALID;
}

const char *lsm_iter_errmsg(const lsm_iter *it){
  if( it==0 ) return lsm_errstr(LSM_INVALID);
  return it->rc ? it->zErr : lsm_errstr(LSM_OK);
}
