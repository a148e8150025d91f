/*
** coding.h -- byte-level encodings shared by every on-disk format.
**
** Fixed-width integers are little-endian.  Varints use 7 bits per byte,
** least significant group first, high bit set on every byte but the last
** (at most 5 bytes for 32-bit values, 10 for 64-bit).  CRC32C is the
** Castagnoli polynomial (iSCSI), computed with the SSE4.2 instruction when
** the CPU has it and a slicing table otherwise; both give identical
** results and both are exported so tests can check them against each
** other.
*/
#ifndef LSM_CODING_H
#define LSM_CODING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LSM_MAX_VARINT32 5
#define LSM_MAX_VARINT64 10

static inline void lsmPut32(uint8_t *p, uint32_t v){
  p[0] = (uint8_t)v; p[1] = (uint8_t)(v>>8);
  p[2] = (uint8_t)(v>>16); p[3] = (uint8_t)(v>>24);
}
static inline void lsmPut64(uint8_t *p, uint64_t v){
  lsmPut32(p, (uint32_t)v); lsmPut32(p+4, (uint32_t)(v>>32));
}
static inline uint32_t lsmGet32(const uint8_t *p){
  return (uint32_t)p[0] | ((uint32_t)p[1]<<8)
       | ((uint32_t)p[2]<<16) | ((uint32_t)p[3]<<24);
}
static inline uint64_t lsmGet64(const uint8_t *p){
  return (uint64_t)lsmGet32(p) | ((uint64_t)lsmGet32(p+4)<<32);
}

/* Write v as a varint at p; return the bytes written (1..10). */
int lsmPutVarint64(uint8_t *p, uint64_t v);
static inline int lsmPutVarint32(uint8_t *p, uint32_t v){
  return lsmPutVarint64(p, v);
}
/* Bytes lsmPutVarint64 would write for v. */
int lsmVarintLen(uint64_t v);

/*
** Decode a varint from p[0..n-1].  Return the number of bytes consumed,
** or 0 if the input ends inside the varint or the value overflows
** (more than 10 bytes, or more than 32 bits for the 32-bit form).  The
** inline forms decode a one-byte varint themselves and call the *Slow
** functions, which handle every length, for the rest.
*/
int lsmGetVarint64Slow(const uint8_t *p, size_t n, uint64_t *pv);
int lsmGetVarint32Slow(const uint8_t *p, size_t n, uint32_t *pv);
static inline int lsmGetVarint64(const uint8_t *p, size_t n, uint64_t *pv){
  if( n>0 && p[0]<0x80 ){
    *pv = p[0];
    return 1;
  }
  return lsmGetVarint64Slow(p, n, pv);
}
static inline int lsmGetVarint32(const uint8_t *p, size_t n, uint32_t *pv){
  if( n>0 && p[0]<0x80 ){
    *pv = p[0];
    return 1;
  }
  return lsmGetVarint32Slow(p, n, pv);
}

/*
** The 8 bytes of a[0..n-1] from iFrom on as a big-endian integer, zero
** bytes standing in past the end: comparing two such prefixes orders
** the strings, when they differ, as memcmp with shorter-first would.
*/
static inline uint64_t lsmKeyPrefix(const uint8_t *a, size_t n, size_t iFrom){
  uint64_t x = 0;
  int i;
  for(i=0; i<8; i++){
    x <<= 8;
    if( iFrom+(size_t)i<n ) x |= a[iFrom+(size_t)i];
  }
  return x;
}

/* CRC32C of p[0..n-1] continuing from crc (pass 0 to start). */
uint32_t lsmCrc32c(uint32_t crc, const void *p, size_t n);
uint32_t lsmCrc32cSoftware(uint32_t crc, const void *p, size_t n);
/* Hardware version; only call when lsmCrc32cHaveHardware() is true. */
uint32_t lsmCrc32cHardware(uint32_t crc, const void *p, size_t n);
int lsmCrc32cHaveHardware(void);

#endif /* LSM_CODING_H */
