/*
** coding.c -- varints and CRC32C.  See coding.h for the formats.
**
** The software CRC uses slicing-by-8 tables built once on first use; the
** hardware path uses the SSE4.2 crc32 instruction, selected at run time
** through cpuid so that one binary runs on every x86-64 CPU.  One chain of
** crc32 instructions waits on each result, so the hardware path runs three
** independent chains over adjacent 256-byte chunks and joins them with
** tables that advance a CRC register over 256 zero bytes.
*/
#include "coding.h"

#include <pthread.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

int lsmPutVarint64(uint8_t *p, uint64_t v){
  int n = 0;
  while( v>=0x80 ){
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

int lsmVarintLen(uint64_t v){
  int n = 1;
  while( v>=0x80 ){ v >>= 7; n++; }
  return n;
}

int lsmGetVarint64Slow(const uint8_t *p, size_t n, uint64_t *pv){
  uint64_t v = 0;
  size_t i;
  for(i=0; i<n && i<LSM_MAX_VARINT64; i++){
    uint64_t b = p[i];
    if( i==9 && b>1 ) return 0;           /* more than 64 bits */
    v |= (b & 0x7f) << (7*i);
    if( (b & 0x80)==0 ){
      *pv = v;
      return (int)i+1;
    }
  }
  return 0;
}

int lsmGetVarint32Slow(const uint8_t *p, size_t n, uint32_t *pv){
  uint64_t v;
  int k = lsmGetVarint64Slow(p, n, &v);
  if( k==0 || k>LSM_MAX_VARINT32 || v>0xffffffffu ) return 0;
  *pv = (uint32_t)v;
  return k;
}

/* Reflected Castagnoli polynomial. */
#define CRC32C_POLY 0x82f63b78u

static uint32_t aCrcTable[8][256];
static pthread_once_t crcOnce = PTHREAD_ONCE_INIT;
static int bCrcHardware;

#if defined(__x86_64__)
/* Bytes in each of the three chunks the hardware path runs side by side. */
#define CRC_CHUNK 256
/* aCrcShift[i][b]: the raw register after CRC_CHUNK zero bytes fed to it
** starting from b<<(8*i). */
static uint32_t aCrcShift[4][256];
#endif

static void crcInit(void){
  int i, j;
  for(i=0; i<256; i++){
    uint32_t c = (uint32_t)i;
    for(j=0; j<8; j++) c = (c>>1) ^ ((c & 1) ? CRC32C_POLY : 0);
    aCrcTable[0][i] = c;
  }
  for(i=0; i<256; i++){
    uint32_t c = aCrcTable[0][i];
    for(j=1; j<8; j++){
      c = aCrcTable[0][c & 0xff] ^ (c>>8);
      aCrcTable[j][i] = c;
    }
  }
#if defined(__x86_64__)
  /* Feeding zero bytes is linear in the register, so the shift of a value
  ** is the XOR of the shifts of its bits: shift each bit, then combine. */
  for(i=0; i<32; i++){
    uint32_t c = 1u<<i;
    for(j=0; j<CRC_CHUNK; j++) c = aCrcTable[0][c & 0xff] ^ (c>>8);
    aCrcShift[i/8][1<<(i%8)] = c;
  }
  for(i=0; i<4; i++){
    for(j=1; j<256; j++){
      int lo = j & -j;
      if( j!=lo ) aCrcShift[i][j] = aCrcShift[i][lo] ^ aCrcShift[i][j^lo];
    }
  }
  {
    unsigned a, b, c, d;
    if( __get_cpuid(1, &a, &b, &c, &d) ) bCrcHardware = (c & bit_SSE4_2)!=0;
  }
#endif
}

uint32_t lsmCrc32cSoftware(uint32_t crc, const void *pData, size_t n){
  const uint8_t *p = (const uint8_t*)pData;
  pthread_once(&crcOnce, crcInit);
  crc = ~crc;
  while( n>=8 ){
    uint32_t lo = crc ^ lsmGet32(p);
    uint32_t hi = lsmGet32(p+4);
    crc = aCrcTable[7][lo & 0xff] ^ aCrcTable[6][(lo>>8) & 0xff]
        ^ aCrcTable[5][(lo>>16) & 0xff] ^ aCrcTable[4][lo>>24]
        ^ aCrcTable[3][hi & 0xff] ^ aCrcTable[2][(hi>>8) & 0xff]
        ^ aCrcTable[1][(hi>>16) & 0xff] ^ aCrcTable[0][hi>>24];
    p += 8;
    n -= 8;
  }
  while( n>0 ){
    crc = aCrcTable[0][(crc ^ *p) & 0xff] ^ (crc>>8);
    p++;
    n--;
  }
  return ~crc;
}

int lsmCrc32cHaveHardware(void){
  pthread_once(&crcOnce, crcInit);
  return bCrcHardware;
}

#if defined(__x86_64__)
/* The raw register after CRC_CHUNK zero bytes fed to it starting from x. */
static inline uint32_t crcShift(uint32_t x){
  return aCrcShift[0][x & 0xff] ^ aCrcShift[1][(x>>8) & 0xff]
       ^ aCrcShift[2][(x>>16) & 0xff] ^ aCrcShift[3][x>>24];
}

/*
** A crc32 instruction takes 3 cycles but a new one can start every cycle,
** so each run of 3*CRC_CHUNK bytes (chunks A, B, C) is fed to three
** independent registers.  The raw register (before the final inversion)
** is linear: feeding A||B from s gives shift(feed(s, A)) ^ feed(0, B).  So
** B and C start from 0, not from the inverted seed, and the register after
** the run is shift(shift(a) ^ b) ^ c.  Those three table lookups would
** stall the next run's first chain, so the register is kept as c ^ x
** instead: the next run continues from c at once, and x, the part still
** owed, is shifted over that run's chunk A and folded in as the run ends.
*/
__attribute__((target("sse4.2")))
uint32_t lsmCrc32cHardware(uint32_t crc, const void *pData, size_t n){
  const uint8_t *p = (const uint8_t*)pData;
  uint64_t c = ~crc;
  if( n>=3*CRC_CHUNK ){
    uint32_t x = 0;               /* the register is c ^ x */
    pthread_once(&crcOnce, crcInit);
    do{
      const uint8_t *pEnd = p + CRC_CHUNK;
      uint64_t c1 = 0, c2 = 0;
      for(; p<pEnd; p+=8){
        c = __builtin_ia32_crc32di(c, lsmGet64(p));
        c1 = __builtin_ia32_crc32di(c1, lsmGet64(p + CRC_CHUNK));
        c2 = __builtin_ia32_crc32di(c2, lsmGet64(p + 2*CRC_CHUNK));
      }
      x = crcShift(crcShift(crcShift(x) ^ (uint32_t)c) ^ (uint32_t)c1);
      c = c2;
      p += 2*CRC_CHUNK;
      n -= 3*CRC_CHUNK;
    }while( n>=3*CRC_CHUNK );
    c ^= x;
  }
  while( n>=8 ){
    c = __builtin_ia32_crc32di(c, lsmGet64(p));
    p += 8;
    n -= 8;
  }
  while( n>0 ){
    c = __builtin_ia32_crc32qi((uint32_t)c, *p);
    p++;
    n--;
  }
  return ~(uint32_t)c;
}
#else
uint32_t lsmCrc32cHardware(uint32_t crc, const void *pData, size_t n){
  return lsmCrc32cSoftware(crc, pData, n);
}
#endif

uint32_t lsmCrc32c(uint32_t crc, const void *p, size_t n){
  if( lsmCrc32cHaveHardware() ) return lsmCrc32cHardware(crc, p, n);
  return lsmCrc32cSoftware(crc, p, n);
}
