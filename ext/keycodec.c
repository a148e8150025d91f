/*
** keycodec.c -- order-preserving key encoding and the row record format.
**
** See keycodec.h for both formats byte by byte.  The one subtle part is
** numbers: SQLite compares an INTEGER with a REAL by exact value (not by
** converting the integer to double), so the encoding splits every number
** into sign, integer part t (which fits 64 bits whenever |x| < 2^64) and
** the fraction |x| - t, which is exactly representable for any double.
** Integers and integral reals therefore share their encoding, and
** 2^53+1 stays distinct from 2^53 even though (double)(2^53+1) == 2^53.
*/
#include <math.h>      /* isnan, signbit: macros, no libm needed */
#include <string.h>
#include "keycodec.h"

SQLITE_EXTENSION_INIT3

#define KC_TAG_NEG_BIG     0x10
#define KC_TAG_NEG_NORMAL  0x19   /* minus the byte count of t */
#define KC_TAG_POS_NORMAL  0x1A   /* plus the byte count of t */
#define KC_TAG_POS_BIG     0x23

#define KC_REC_NULL     0x00
#define KC_REC_INTEGER  0x01
#define KC_REC_REAL     0x02
#define KC_REC_TEXT     0x03
#define KC_REC_BLOB     0x04

#define KC_TWO_POW_64   18446744073709551616.0

/*-------------------------------------------------------------- buffers --*/

int lsmvBufReserve(LsmvBuf *p, size_t nMore){
  size_t nNew;
  unsigned char *aNew;
  if( p->n + nMore <= p->nAlloc ) return SQLITE_OK;
  nNew = p->nAlloc ? p->nAlloc*2 : 64;
  while( nNew < p->n + nMore ) nNew *= 2;
  aNew = sqlite3_realloc64(p->a, nNew);
  if( aNew==0 ) return SQLITE_NOMEM;
  p->a = aNew;
  p->nAlloc = nNew;
  return SQLITE_OK;
}

int lsmvBufAppend(LsmvBuf *p, const void *pData, size_t n){
  int rc = lsmvBufReserve(p, n);
  if( rc==SQLITE_OK && n>0 ){
    memcpy(&p->a[p->n], pData, n);
    p->n += n;
  }
  return rc;
}

void lsmvBufFree(LsmvBuf *p){
  sqlite3_free(p->a);
  memset(p, 0, sizeof(*p));
}

/*--------------------------------------------------------------- values --*/

int lsmvValueFromSqlite(sqlite3_value *pIn, LsmvValue *pOut){
  memset(pOut, 0, sizeof(*pOut));
  pOut->eType = sqlite3_value_type(pIn);
  switch( pOut->eType ){
    case SQLITE_INTEGER:
      pOut->iVal = sqlite3_value_int64(pIn);
      break;
    case SQLITE_FLOAT:
      pOut->rVal = sqlite3_value_double(pIn);
      break;
    case SQLITE_TEXT:
      pOut->z = sqlite3_value_text(pIn);
      if( pOut->z==0 ) return SQLITE_NOMEM;
      pOut->n = (size_t)sqlite3_value_bytes(pIn);
      break;
    case SQLITE_BLOB:
      pOut->z = sqlite3_value_blob(pIn);
      pOut->n = (size_t)sqlite3_value_bytes(pIn);
      if( pOut->z==0 && pOut->n>0 ) return SQLITE_NOMEM;
      break;
    default:
      pOut->eType = SQLITE_NULL;
      break;
  }
  return SQLITE_OK;
}

void lsmvValueResult(sqlite3_context *ctx, const LsmvValue *pVal){
  switch( pVal->eType ){
    case SQLITE_INTEGER:
      sqlite3_result_int64(ctx, pVal->iVal);
      break;
    case SQLITE_FLOAT:
      sqlite3_result_double(ctx, pVal->rVal);
      break;
    case SQLITE_TEXT:
      /* A NULL pointer would make the result NULL, not '' */
      sqlite3_result_text64(ctx, pVal->z ? (const char*)pVal->z : "",
                            pVal->n, SQLITE_TRANSIENT, SQLITE_UTF8);
      break;
    case SQLITE_BLOB:
      if( pVal->n==0 ){
        sqlite3_result_zeroblob(ctx, 0);
      }else{
        sqlite3_result_blob64(ctx, pVal->z, pVal->n, SQLITE_TRANSIENT);
      }
      break;
    default:
      sqlite3_result_null(ctx);
      break;
  }
}

/*------------------------------------------------------------------ keys --*/

/* The IEEE-754 bits of r, and back. */
static uint64_t kcDoubleBits(double r){
  uint64_t u;
  memcpy(&u, &r, 8);
  return u;
}

static double kcBitsDouble(uint64_t u){
  double r;
  memcpy(&r, &u, 8);
  return r;
}

/* Store u big-endian in a[0..7]. */
static void kcPut64(unsigned char *a, uint64_t u){
  int i;
  for(i=7; i>=0; i--){ a[i] = (unsigned char)u; u >>= 8; }
}

/* The big-endian unsigned number in a[0..n-1] (n <= 8). */
static uint64_t kcGet64(const unsigned char *a, size_t n){
  uint64_t u = 0;
  size_t i;
  for(i=0; i<n; i++) u = (u<<8) | a[i];
  return u;
}

/* Number of significant bytes in t (0 for t==0). */
static int kcByteCount(uint64_t t){
  int n = 0;
  while( t ){ n++; t >>= 8; }
  return n;
}

/*
** Append the encoding of the number whose sign is bNeg, integer part t
** and fraction bits uFrac (0 for an integer) -- the |x| < 2^64 case.
*/
static int kcEncodeNormal(LsmvBuf *pOut, int bNeg, uint64_t t, uint64_t uFrac){
  unsigned char a[1+8+1+8];
  int n = kcByteCount(t);
  int i;
  size_t nOut = 0;
  if( bNeg ){
    a[nOut++] = (unsigned char)(KC_TAG_NEG_NORMAL - n);
    for(i=n-1; i>=0; i--) a[nOut++] = (unsigned char)~(t >> (8*i));
    if( uFrac==0 ){
      a[nOut++] = 0x01;
    }else{
      a[nOut++] = 0x00;
      kcPut64(&a[nOut], ~uFrac);
      nOut += 8;
    }
  }else{
    a[nOut++] = (unsigned char)(KC_TAG_POS_NORMAL + n);
    for(i=n-1; i>=0; i--) a[nOut++] = (unsigned char)(t >> (8*i));
    if( uFrac ){
      kcPut64(&a[nOut], uFrac);
      nOut += 8;
      while( a[nOut-1]==0 ) nOut--;
    }
  }
  return lsmvBufAppend(pOut, a, nOut);
}

int lsmvKeyEncode(const LsmvValue *pVal, LsmvBuf *pOut, unsigned *pFlags){
  unsigned char a[9];
  int rc;
  *pFlags = 0;
  switch( pVal->eType ){
    case SQLITE_INTEGER: {
      sqlite3_int64 i = pVal->iVal;
      if( i<0 ){
        /* -(i+1) cannot overflow; add the 1 back in unsigned arithmetic */
        rc = kcEncodeNormal(pOut, 1, (uint64_t)(-(i+1)) + 1, 0);
      }else{
        rc = kcEncodeNormal(pOut, 0, (uint64_t)i, 0);
      }
      break;
    }
    case SQLITE_FLOAT: {
      double r = pVal->rVal;
      double rAbs;
      int bNeg;
      if( isnan(r) ) return SQLITE_CONSTRAINT_NOTNULL;
      *pFlags = LSMV_KEY_REAL;
      if( r==0.0 && signbit(r) ) *pFlags |= LSMV_KEY_NEGZERO;
      bNeg = r<0.0;
      rAbs = bNeg ? -r : r;
      if( rAbs>=KC_TWO_POW_64 ){
        size_t n = 9;
        uint64_t u = kcDoubleBits(rAbs);
        if( bNeg ){
          a[0] = KC_TAG_NEG_BIG;
          kcPut64(&a[1], ~u);
        }else{
          a[0] = KC_TAG_POS_BIG;
          kcPut64(&a[1], u);
          while( a[n-1]==0 ) n--;
        }
        rc = lsmvBufAppend(pOut, a, n);
      }else{
        uint64_t t = (uint64_t)rAbs;
        double rFrac = rAbs - (double)t;      /* exact */
        rc = kcEncodeNormal(pOut, bNeg, t, rFrac==0.0 ? 0 : kcDoubleBits(rFrac));
      }
      break;
    }
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      a[0] = pVal->eType==SQLITE_TEXT ? LSMV_TAG_TEXT : LSMV_TAG_BLOB;
      rc = lsmvBufReserve(pOut, 1 + pVal->n);
      if( rc==SQLITE_OK ){
        lsmvBufAppend(pOut, a, 1);
        lsmvBufAppend(pOut, pVal->z, pVal->n);
      }
      break;
    default:
      rc = SQLITE_CONSTRAINT_NOTNULL;
      break;
  }
  return rc;
}

/*
** Fraction bits as stored: a positive double below 1.0.  Returns 0 for a
** pattern that no fraction can have.
*/
static int kcFracOk(uint64_t u){
  return u!=0 && u<kcDoubleBits(1.0);
}

/* True if t plus the fraction with bits uFrac is exactly a double (as it
** is for every encoding of a real value). */
static int kcSumExact(uint64_t t, uint64_t uFrac){
  double rFrac = kcBitsDouble(uFrac);
  double r = (double)t + rFrac;
  return r<KC_TWO_POW_64 && (uint64_t)r==t && r-(double)t==rFrac;
}

/*
** Set *pOut to the number with sign bNeg, integer part t and fraction
** bits uFrac (0: integral), honouring the record's key flags.  Returns
** SQLITE_CORRUPT if the result must be a REAL but no double has exactly
** that value (the encoder never produces such bytes).
*/
static int kcNumber(int bNeg, uint64_t t, uint64_t uFrac, unsigned flags,
                    LsmvValue *pOut){
  if( uFrac==0 && (flags & LSMV_KEY_REAL)==0
   && (bNeg ? t<=((uint64_t)1<<63) : t<=(uint64_t)INT64_MAX)
  ){
    pOut->eType = SQLITE_INTEGER;
    if( bNeg ){
      /* t may be 2^63, whose negation is only representable as int64 */
      pOut->iVal = t==0 ? 0 : -(sqlite3_int64)(t-1) - 1;
    }else{
      pOut->iVal = (sqlite3_int64)t;
    }
  }else{
    double r;
    if( uFrac ){
      if( !kcSumExact(t, uFrac) ) return SQLITE_CORRUPT;
      r = (double)t + kcBitsDouble(uFrac);
    }else{
      r = (double)t;
      if( !(r<KC_TWO_POW_64) || (uint64_t)r!=t ) return SQLITE_CORRUPT;
    }
    pOut->eType = SQLITE_FLOAT;
    pOut->rVal = bNeg ? -r : r;
    if( pOut->rVal==0.0 && (flags & LSMV_KEY_NEGZERO) ) pOut->rVal = -0.0;
  }
  return SQLITE_OK;
}

int lsmvKeyDecode(const unsigned char *a, size_t n, unsigned flags,
                  LsmvValue *pOut){
  int eTag;
  memset(pOut, 0, sizeof(*pOut));
  if( n==0 ) return SQLITE_CORRUPT;
  eTag = a[0];
  if( eTag==LSMV_TAG_TEXT || eTag==LSMV_TAG_BLOB ){
    pOut->eType = eTag==LSMV_TAG_TEXT ? SQLITE_TEXT : SQLITE_BLOB;
    pOut->z = &a[1];
    pOut->n = n-1;
    return SQLITE_OK;
  }
  if( eTag==KC_TAG_NEG_BIG || eTag==KC_TAG_POS_BIG ){
    uint64_t u;
    double r;
    if( eTag==KC_TAG_NEG_BIG ){
      if( n!=9 ) return SQLITE_CORRUPT;
      u = ~kcGet64(&a[1], 8);
    }else{
      if( n<2 || n>9 || a[n-1]==0 ) return SQLITE_CORRUPT;
      u = kcGet64(&a[1], n-1) << (8*(9-n));
    }
    r = kcBitsDouble(u);
    if( !(r>=KC_TWO_POW_64) ) return SQLITE_CORRUPT;   /* also NaN */
    pOut->eType = SQLITE_FLOAT;
    pOut->rVal = eTag==KC_TAG_NEG_BIG ? -r : r;
    return SQLITE_OK;
  }
  if( eTag>KC_TAG_NEG_BIG && eTag<=KC_TAG_NEG_NORMAL ){
    size_t nInt = (size_t)(KC_TAG_NEG_NORMAL - eTag);
    uint64_t t, uFrac = 0;
    if( n<2+nInt ) return SQLITE_CORRUPT;
    t = ~kcGet64(&a[1], nInt);
    if( nInt<8 ) t &= (((uint64_t)1 << (8*nInt)) - 1);
    if( kcByteCount(t)!=(int)nInt ) return SQLITE_CORRUPT;
    if( a[1+nInt]==0x01 ){
      if( n!=2+nInt || t==0 ) return SQLITE_CORRUPT;
    }else{
      if( a[1+nInt]!=0x00 || n!=10+nInt ) return SQLITE_CORRUPT;
      uFrac = ~kcGet64(&a[2+nInt], 8);
      if( !kcFracOk(uFrac) ) return SQLITE_CORRUPT;
    }
    return kcNumber(1, t, uFrac, flags, pOut);
  }
  if( eTag>=KC_TAG_POS_NORMAL && eTag<KC_TAG_POS_BIG ){
    size_t nInt = (size_t)(eTag - KC_TAG_POS_NORMAL);
    size_t nFrac;
    uint64_t t, uFrac = 0;
    if( n<1+nInt ) return SQLITE_CORRUPT;
    t = kcGet64(&a[1], nInt);
    if( kcByteCount(t)!=(int)nInt ) return SQLITE_CORRUPT;
    nFrac = n - 1 - nInt;
    if( nFrac>8 || (nFrac>0 && a[n-1]==0) ) return SQLITE_CORRUPT;
    if( nFrac>0 ){
      uFrac = kcGet64(&a[1+nInt], nFrac) << (8*(8-nFrac));
      if( !kcFracOk(uFrac) ) return SQLITE_CORRUPT;
    }
    return kcNumber(0, t, uFrac, flags, pOut);
  }
  return SQLITE_CORRUPT;
}

int lsmvKeyPrefixEnd(const unsigned char *a, size_t n, LsmvBuf *pOut,
                     int *pbNone){
  int rc;
  while( n>0 && a[n-1]==0xff ) n--;
  *pbNone = (n==0);
  if( n==0 ) return SQLITE_OK;
  rc = lsmvBufAppend(pOut, a, n);
  if( rc==SQLITE_OK ) pOut->a[pOut->n-1]++;
  return rc;
}

/*--------------------------------------------------------------- records --*/

static int kcPutVarint(LsmvBuf *pOut, uint64_t u){
  unsigned char a[10];
  int n = 0;
  do{
    a[n] = (unsigned char)(u & 0x7f);
    u >>= 7;
    if( u ) a[n] |= 0x80;
    n++;
  }while( u );
  return lsmvBufAppend(pOut, a, (size_t)n);
}

/* Read a varint at a[*pi..n-1], advancing *pi.  0 on success, 1 if the
** varint is truncated or longer than 10 bytes. */
static int kcGetVarint(const unsigned char *a, size_t n, size_t *pi,
                       uint64_t *pu){
  uint64_t u = 0;
  int iShift;
  for(iShift=0; iShift<70; iShift+=7){
    unsigned char c;
    if( *pi>=n ) return 1;
    c = a[(*pi)++];
    u |= (uint64_t)(c & 0x7f) << iShift;
    if( (c & 0x80)==0 ){ *pu = u; return 0; }
  }
  return 1;
}

int lsmvRecordBegin(LsmvBuf *pOut, unsigned keyFlags){
  unsigned char c = (unsigned char)keyFlags;
  return lsmvBufAppend(pOut, &c, 1);
}

int lsmvRecordAppend(LsmvBuf *pOut, const LsmvValue *pVal){
  unsigned char a[9];
  int rc;
  switch( pVal->eType ){
    case SQLITE_INTEGER: {
      uint64_t u = (uint64_t)pVal->iVal << 1;
      if( pVal->iVal<0 ) u = ~u;
      a[0] = KC_REC_INTEGER;
      rc = lsmvBufAppend(pOut, a, 1);
      if( rc==SQLITE_OK ) rc = kcPutVarint(pOut, u);
      break;
    }
    case SQLITE_FLOAT: {
      uint64_t u = kcDoubleBits(pVal->rVal);
      int i;
      a[0] = KC_REC_REAL;
      for(i=1; i<=8; i++){ a[i] = (unsigned char)u; u >>= 8; }
      rc = lsmvBufAppend(pOut, a, 9);
      break;
    }
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      a[0] = pVal->eType==SQLITE_TEXT ? KC_REC_TEXT : KC_REC_BLOB;
      rc = lsmvBufReserve(pOut, 1 + 10 + pVal->n);
      if( rc==SQLITE_OK ) rc = lsmvBufAppend(pOut, a, 1);
      if( rc==SQLITE_OK ) rc = kcPutVarint(pOut, pVal->n);
      if( rc==SQLITE_OK ) rc = lsmvBufAppend(pOut, pVal->z, pVal->n);
      break;
    default:
      a[0] = KC_REC_NULL;
      rc = lsmvBufAppend(pOut, a, 1);
      break;
  }
  return rc;
}

int lsmvRecordFlags(const unsigned char *a, size_t n, unsigned *pFlags){
  if( n==0 || (a[0] & ~(LSMV_KEY_REAL|LSMV_KEY_NEGZERO))!=0 ){
    return SQLITE_CORRUPT;
  }
  *pFlags = a[0];
  return SQLITE_OK;
}

/*
** Parse the column starting at a[*pi]: decode it into *pOut (if not NULL)
** and advance *pi past it.  SQLITE_OK or SQLITE_CORRUPT.
*/
static int kcRecordNext(const unsigned char *a, size_t n, size_t *pi,
                        LsmvValue *pOut){
  LsmvValue v;
  uint64_t u;
  size_t i = *pi;
  memset(&v, 0, sizeof(v));
  if( i>=n ) return SQLITE_CORRUPT;
  switch( a[i++] ){
    case KC_REC_NULL:
      v.eType = SQLITE_NULL;
      break;
    case KC_REC_INTEGER:
      if( kcGetVarint(a, n, &i, &u) ) return SQLITE_CORRUPT;
      v.eType = SQLITE_INTEGER;
      v.iVal = (sqlite3_int64)((u & 1) ? ~(u >> 1) : (u >> 1));
      break;
    case KC_REC_REAL: {
      int k;
      if( n-i<8 ) return SQLITE_CORRUPT;
      u = 0;
      for(k=7; k>=0; k--) u = (u<<8) | a[i+k];
      i += 8;
      v.eType = SQLITE_FLOAT;
      v.rVal = kcBitsDouble(u);
      break;
    }
    case KC_REC_TEXT:
    case KC_REC_BLOB:
      v.eType = a[i-1]==KC_REC_TEXT ? SQLITE_TEXT : SQLITE_BLOB;
      if( kcGetVarint(a, n, &i, &u) || u>n-i ) return SQLITE_CORRUPT;
      v.z = &a[i];
      v.n = (size_t)u;
      i += (size_t)u;
      break;
    default:
      return SQLITE_CORRUPT;
  }
  if( pOut ) *pOut = v;
  *pi = i;
  return SQLITE_OK;
}

int lsmvRecordSpan(const unsigned char *a, size_t n, int iCol,
                   size_t *piOff, size_t *pnLen){
  size_t i = 1;
  int k;
  if( n==0 ) return SQLITE_CORRUPT;
  for(k=0; k<iCol && i<n; k++){
    int rc = kcRecordNext(a, n, &i, 0);
    if( rc!=SQLITE_OK ) return rc;
  }
  *piOff = i;
  *pnLen = 0;
  if( i<n ){
    size_t iEnd = i;
    int rc = kcRecordNext(a, n, &iEnd, 0);
    if( rc!=SQLITE_OK ) return rc;
    *pnLen = iEnd - i;
  }
  return SQLITE_OK;
}

int lsmvRecordColumn(const unsigned char *a, size_t n, int iCol,
                     LsmvValue *pOut){
  size_t iOff, nLen;
  int rc = lsmvRecordSpan(a, n, iCol, &iOff, &nLen);
  memset(pOut, 0, sizeof(*pOut));
  pOut->eType = SQLITE_NULL;
  if( rc==SQLITE_OK && nLen>0 ){
    rc = kcRecordNext(a, n, &iOff, pOut);
  }
  return rc;
}
