/*
** bloom.c -- bloom filters over user keys.  See bloom.h for the format
** and the probe sequence.
**
** The hash: the key is consumed in 8-byte little-endian words (the last
** partial word zero-padded).  Each word is multiplied by an odd constant
** and folded into a running state, which is then rotated and multiplied
** by a second odd constant, so every input bit reaches every state bit
** within a few words.  The key length seeds the state, so keys that
** differ only in trailing zero bytes hash differently.  A final
** xor-shift-multiply avalanche spreads the high bits of the state into
** the low bits that the modulo in the probe sequence looks at.  The
** constants are the 64-bit golden ratio and another large odd number with
** well-mixed bits.
*/
#include "bloom.h"
#include "coding.h"

#include <string.h>

#define BLOOM_K1 0x9e3779b97f4a7c15ull
#define BLOOM_K2 0xd6e8feb86659fd93ull
#define BLOOM_MIN_BITS 64

static uint64_t bloomRotl(uint64_t x, int r){
  return (x<<r) | (x>>(64-r));
}

/* Fold one 64-bit word into hash state h. */
static uint64_t bloomStep(uint64_t h, uint64_t w){
  h ^= w * BLOOM_K2;
  return bloomRotl(h, 29) * BLOOM_K1;
}

uint64_t lsmBloomHash(const uint8_t *pKey, size_t nKey){
  uint64_t h = ((uint64_t)nKey * BLOOM_K1) ^ BLOOM_K2;
  size_t i = 0;
  for(; i+8<=nKey; i+=8){
    h = bloomStep(h, lsmGet64(pKey + i));
  }
  if( i<nKey ){
    uint8_t aTail[8] = {0};
    memcpy(aTail, pKey + i, nKey - i);
    h = bloomStep(h, lsmGet64(aTail));
  }
  h ^= h>>32;
  h *= BLOOM_K2;
  h ^= h>>29;
  h *= BLOOM_K1;
  h ^= h>>32;
  return h;
}

void lsmBloomBuilderInit(LsmBloomBuilder *p, int nBitsPerKey){
  memset(p, 0, sizeof(*p));
  p->nBitsPerKey = nBitsPerKey>0 ? nBitsPerKey : 1;
}

int lsmBloomBuilderAdd(LsmBloomBuilder *p, const uint8_t *pKey, size_t nKey){
  uint64_t h = lsmBloomHash(pKey, nKey);
  return lsmBufAppend(&p->hashes, &h, sizeof(h));
}

uint64_t lsmBloomBuilderCount(const LsmBloomBuilder *p){
  return p->hashes.n / sizeof(uint64_t);
}

/* Bytes of the bit array for nKey keys at nBitsPerKey. */
static size_t bloomBitBytes(uint64_t nKey, int nBitsPerKey){
  uint64_t nBits = nKey * (uint64_t)nBitsPerKey;
  if( nBits<BLOOM_MIN_BITS ) nBits = BLOOM_MIN_BITS;
  return (size_t)((nBits + 7) / 8);
}

size_t lsmBloomBuilderSize(const LsmBloomBuilder *p){
  return bloomBitBytes(lsmBloomBuilderCount(p), p->nBitsPerKey) + 1;
}

/* The probe count that minimises false positives: round(bits * ln 2). */
static int bloomProbes(int nBitsPerKey){
  int k = (int)(nBitsPerKey * 0.69314718055994530942 + 0.5);
  if( k<1 ) k = 1;
  if( k>LSM_BLOOM_MAX_PROBES ) k = LSM_BLOOM_MAX_PROBES;
  return k;
}

int lsmBloomBuilderFinish(LsmBloomBuilder *p, LsmBuf *pOut){
  uint64_t nKey = lsmBloomBuilderCount(p);
  size_t nByte = bloomBitBytes(nKey, p->nBitsPerKey);
  uint64_t nBits = (uint64_t)nByte * 8;
  int nProbe = bloomProbes(p->nBitsPerKey);
  uint8_t *aBits;
  uint64_t i;
  int rc = lsmBufReserve(pOut, nByte + 1);
  if( rc!=LSM_OK ) return rc;
  aBits = pOut->p + pOut->n;
  memset(aBits, 0, nByte);
  for(i=0; i<nKey; i++){
    uint64_t h;
    uint64_t h2;
    int j;
    memcpy(&h, p->hashes.p + i*sizeof(h), sizeof(h));
    h2 = bloomRotl(h, 32);
    for(j=0; j<nProbe; j++){
      uint64_t iBit = h % nBits;
      aBits[iBit/8] |= (uint8_t)(1 << (iBit%8));
      h += h2;
    }
  }
  aBits[nByte] = (uint8_t)nProbe;
  pOut->n += nByte + 1;
  p->hashes.n = 0;
  return LSM_OK;
}

void lsmBloomBuilderFree(LsmBloomBuilder *p){
  lsmBufFree(&p->hashes);
}

int lsmBloomCheck(const uint8_t *aFilter, size_t nFilter){
  int nProbe;
  if( nFilter<BLOOM_MIN_BITS/8 + 1 ) return 0;
  nProbe = aFilter[nFilter-1];
  return nProbe>=1 && nProbe<=LSM_BLOOM_MAX_PROBES;
}

int lsmBloomMayContain(const uint8_t *aFilter, size_t nFilter,
                       const uint8_t *pKey, size_t nKey){
  uint64_t h, h2, nBits;
  int nProbe, j;
  if( !lsmBloomCheck(aFilter, nFilter) ) return 1;
  nBits = (uint64_t)(nFilter - 1) * 8;
  nProbe = aFilter[nFilter-1];
  h = lsmBloomHash(pKey, nKey);
  h2 = bloomRotl(h, 32);
  for(j=0; j<nProbe; j++){
    uint64_t iBit = h % nBits;
    if( (aFilter[iBit/8] & (1 << (iBit%8)))==0 ) return 0;
    h += h2;
  }
  return 1;
}
