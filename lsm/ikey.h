/*
** ikey.h -- internal keys.
**
** Every entry the engine stores (memtable, log replay, tables) is keyed by
** an internal key: the user key followed by an 8-byte little-endian
** trailer holding (seq << 8) | kind, where seq is the 56-bit sequence
** number of the write and kind says whether it is a value or a tombstone.
**
** Order: user key ascending (memcmp, shorter first on a tie), then
** trailer descending, so that the newest version of a key comes first and
** a lookup key built with lsmIkeyLookupTrailer(S) seeks to the newest
** version visible at snapshot S.
*/
#ifndef LSM_IKEY_H
#define LSM_IKEY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "coding.h"

#define LSM_KIND_DELETE  0
#define LSM_KIND_VALUE   1
#define LSM_KIND_MAX     1

#define LSM_IKEY_TRAILER 8
#define LSM_MAX_SEQ      ((((uint64_t)1)<<56) - 1)

/*
** Sequence numbers from LSM_OVERLAY_SEQ up are never given to commits.
** An indexed batch (a transaction's own uncommitted writes) numbers its
** operations from here, so that when it is laid over a snapshot its
** entries are newer than anything committed and always visible.
*/
#define LSM_OVERLAY_SEQ  (((uint64_t)1)<<55)

static inline uint64_t lsmIkeyTrailer(uint64_t seq, int kind){
  return (seq<<8) | (uint64_t)kind;
}
/* Trailer of a seek key that finds the newest entry with seq <= S. */
static inline uint64_t lsmIkeyLookupTrailer(uint64_t seq){
  return (seq<<8) | 0xff;
}

/* Compare user keys: memcmp order, shorter first on a common prefix. */
static inline int lsmUkeyCompare(const uint8_t *a, size_t na,
                                 const uint8_t *b, size_t nb){
  size_t n = na<nb ? na : nb;
  int c = n ? memcmp(a, b, n) : 0;
  if( c==0 ) c = (na<nb) ? -1 : (na>nb);
  return c;
}

/*
** Compare internal key a with the internal key made of user key pKey and
** trailer iTrailer, which a lookup need not assemble in a buffer.
** REQUIRES: na >= LSM_IKEY_TRAILER.
*/
static inline int lsmIkeyCompareParts(const uint8_t *a, size_t na,
                                      const uint8_t *pKey, size_t nKey,
                                      uint64_t iTrailer){
  int c = lsmUkeyCompare(a, na-LSM_IKEY_TRAILER, pKey, nKey);
  if( c==0 ){
    uint64_t ta = lsmGet64(a + na - LSM_IKEY_TRAILER);
    c = (ta>iTrailer) ? -1 : (ta<iTrailer);
  }
  return c;
}

/* REQUIRES: both keys at least LSM_IKEY_TRAILER bytes. */
static inline int lsmIkeyCompare(const uint8_t *a, size_t na,
                                 const uint8_t *b, size_t nb){
  return lsmIkeyCompareParts(a, na, b, nb-LSM_IKEY_TRAILER,
                             lsmGet64(b + nb - LSM_IKEY_TRAILER));
}

static inline uint64_t lsmIkeySeq(const uint8_t *p, size_t n){
  return lsmGet64(p + n - LSM_IKEY_TRAILER) >> 8;
}
static inline int lsmIkeyKind(const uint8_t *p, size_t n){
  return (int)(lsmGet64(p + n - LSM_IKEY_TRAILER) & 0xff);
}
static inline size_t lsmIkeyUserLen(size_t n){
  return n - LSM_IKEY_TRAILER;
}

#endif /* LSM_IKEY_H */
