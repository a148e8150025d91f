/*
** bloom.h -- bloom filters over user keys, one per sorted table.
**
** A point read asks the filter of each candidate table before touching
** its index or data blocks; a "no" is certain, a "maybe" costs a block
** read.  With b bits per key the filter uses k = round(b * ln 2) probes,
** which minimises the false-positive rate (about 1% at b = 10).
**
** Hashing: each key is hashed once to 64 bits with lsmBloomHash (a hash
** written for this engine, see bloom.c); the k bit positions come from
** that one hash by double hashing: position i is (h1 + i*h2) mod nBits,
** where h1 is the hash and h2 the hash with its 32-bit halves swapped.
** The hash and the probe sequence are part of the file format: changing
** either makes old filters answer wrongly.
**
** Encoded filter (FORMAT.md):
**
**     bits    nBits/8 bytes; bit j is (byte j/8 >> (j%8)) & 1
**     nProbe  u8, 1..30
**
** nBits is always a positive multiple of 8 (at least 64).  A filter built
** over no keys answers "absent" for every key.
**
** Usage: lsmBloomBuilderInit, lsmBloomBuilderAdd per distinct key,
** lsmBloomBuilderFinish appends the encoded filter to a buffer.  Readers
** call lsmBloomCheck once on bytes read from disk, then lsmBloomMayContain
** per probe.
*/
#ifndef LSM_BLOOM_H
#define LSM_BLOOM_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define LSM_BLOOM_MAX_PROBES 30

/* The 64-bit key hash the filter is built on.  Stable across versions. */
uint64_t lsmBloomHash(const uint8_t *pKey, size_t nKey);

typedef struct LsmBloomBuilder {
  int nBitsPerKey;       /* bits per key, > 0 */
  LsmBuf hashes;         /* one uint64_t hash per key added, native order */
} LsmBloomBuilder;

/* Start an empty builder.  nBitsPerKey must be positive. */
void lsmBloomBuilderInit(LsmBloomBuilder *p, int nBitsPerKey);
/* Remember pKey.  Adding the same key twice is harmless.  LSM_NOMEM. */
int lsmBloomBuilderAdd(LsmBloomBuilder *p, const uint8_t *pKey, size_t nKey);
/* Keys added so far. */
uint64_t lsmBloomBuilderCount(const LsmBloomBuilder *p);
/* Bytes lsmBloomBuilderFinish would append now. */
size_t lsmBloomBuilderSize(const LsmBloomBuilder *p);
/*
** Append the encoded filter over every key added to pOut and empty the
** builder (it may be reused).  LSM_OK or LSM_NOMEM.
*/
int lsmBloomBuilderFinish(LsmBloomBuilder *p, LsmBuf *pOut);
/* Release the builder's memory. */
void lsmBloomBuilderFree(LsmBloomBuilder *p);

/*
** Return non-zero if aFilter[0..nFilter-1] is a well-formed encoded
** filter: at least 8 bytes of bits followed by a probe count in
** 1..LSM_BLOOM_MAX_PROBES.
*/
int lsmBloomCheck(const uint8_t *aFilter, size_t nFilter);

/*
** Return 0 if the key is certainly not in the filter, non-zero if it may
** be.  REQUIRES: lsmBloomCheck(aFilter, nFilter) is true (a malformed
** filter answers "may contain", never reads out of bounds).
*/
int lsmBloomMayContain(const uint8_t *aFilter, size_t nFilter,
                       const uint8_t *pKey, size_t nKey);

#endif /* LSM_BLOOM_H */
