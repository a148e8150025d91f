/*
** fuzz_keycodec.c -- libFuzzer target for the virtual table's key and
** record codec (ext/keycodec.c).
**
** Input: a mode byte M, then bytes R.  Three things are done with them:
**
**  1. R as an encoded key, decoded with key flags M & 3.  A key that
**     decodes must re-encode to exactly R (every accepted encoding is the
**     canonical one), and decoding that with the flags the encoder
**     reports gives the same value.
**  2. R as a row record: the flags byte and every column.  Each decoded
**     column, appended to a new record, decodes to the same value.
**  3. R as a list of values: a tag byte picks integer (8 bytes), real (8
**     bytes), text or blob (a length byte, then the bytes), a small
**     integer or a real from a table of edge cases.  Each value must
**     survive key encode/decode (NaN refused as a key), consecutive
**     values must compare in memcmp order of their encodings exactly as
**     SQLite orders them (numbers by exact value, then text, then blob),
**     and a record of all the values must give them back column by
**     column.
*/
#define SQLITE_CORE 1
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sqlite3.h>

#include "keycodec.h"

#define FK_MAX_VALUES 64

/* Values equal: same type, same number (same bits for reals), same bytes. */
static int fkSame(const LsmvValue *a, const LsmvValue *b){
  if( a->eType!=b->eType ) return 0;
  switch( a->eType ){
    case SQLITE_INTEGER: return a->iVal==b->iVal;
    case SQLITE_FLOAT:   return memcmp(&a->rVal, &b->rVal, sizeof(double))==0;
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      return a->n==b->n && (a->n==0 || memcmp(a->z, b->z, a->n)==0);
  }
  return 1;
}

static int fkSign(int c){ return (c>0) - (c<0); }

/* Exact comparison of an integer and a (non-NaN) real. */
static int fkCmpIntReal(sqlite3_int64 i, double r){
  sqlite3_int64 t;
  double rFrac;
  if( r>=9223372036854775808.0 ) return -1;
  if( r<-9223372036854775808.0 ) return 1;
  t = (sqlite3_int64)r;                    /* exact: |r| < 2^63 */
  if( i!=t ) return i<t ? -1 : 1;
  rFrac = r - (double)t;                   /* exact */
  return rFrac>0.0 ? -1 : rFrac<0.0 ? 1 : 0;
}

/* SQLite's order of two key values (BINARY collation). */
static int fkCmpSql(const LsmvValue *a, const LsmvValue *b){
  int ca = a->eType==SQLITE_TEXT ? 1 : a->eType==SQLITE_BLOB ? 2 : 0;
  int cb = b->eType==SQLITE_TEXT ? 1 : b->eType==SQLITE_BLOB ? 2 : 0;
  if( ca!=cb ) return ca<cb ? -1 : 1;
  if( ca ){
    size_t n = a->n<b->n ? a->n : b->n;
    int c = n ? memcmp(a->z, b->z, n) : 0;
    return c ? fkSign(c) : (a->n>b->n) - (a->n<b->n);
  }
  if( a->eType==SQLITE_INTEGER && b->eType==SQLITE_INTEGER ){
    return (a->iVal>b->iVal) - (a->iVal<b->iVal);
  }
  if( a->eType==SQLITE_FLOAT && b->eType==SQLITE_FLOAT ){
    return (a->rVal>b->rVal) - (a->rVal<b->rVal);
  }
  if( a->eType==SQLITE_INTEGER ) return fkCmpIntReal(a->iVal, b->rVal);
  return -fkCmpIntReal(b->iVal, a->rVal);
}

/* The engine's key order: memcmp, shorter first on a common prefix. */
static int fkCmpBytes(const LsmvBuf *a, const LsmvBuf *b){
  size_t n = a->n<b->n ? a->n : b->n;
  int c = n ? memcmp(a->a, b->a, n) : 0;
  return c ? fkSign(c) : (a->n>b->n) - (a->n<b->n);
}

/* 1: R as a key. */
static void fkKey(const unsigned char *a, size_t n, unsigned flags){
  LsmvValue v, v2;
  LsmvBuf enc = {0, 0, 0};
  unsigned flags2 = 0;
  int rc = lsmvKeyDecode(a, n, flags, &v);
  if( rc!=SQLITE_OK ){
    assert( rc==SQLITE_CORRUPT );
    return;
  }
  rc = lsmvKeyEncode(&v, &enc, &flags2);
  assert( rc==SQLITE_OK );
  assert( enc.n==n && memcmp(enc.a, a, n)==0 );
  rc = lsmvKeyDecode(enc.a, enc.n, flags2, &v2);
  assert( rc==SQLITE_OK );
  assert( fkSame(&v, &v2) || (v.eType==SQLITE_FLOAT && v2.eType==SQLITE_FLOAT
                              && v.rVal==v2.rVal) );
  lsmvBufFree(&enc);
}

/* Decode column 0 of a one-column record holding v; must give v back. */
static void fkColumnRoundTrip(const LsmvValue *v){
  LsmvBuf rec = {0, 0, 0};
  LsmvValue v2;
  int rc = lsmvRecordBegin(&rec, 0);
  if( rc==SQLITE_OK ) rc = lsmvRecordAppend(&rec, v);
  assert( rc==SQLITE_OK );
  rc = lsmvRecordColumn(rec.a, rec.n, 0, &v2);
  assert( rc==SQLITE_OK );
  assert( fkSame(v, &v2) );
  lsmvBufFree(&rec);
}

/* 2: R as a record. */
static void fkRecord(const unsigned char *a, size_t n){
  unsigned flags;
  int iCol;
  if( lsmvRecordFlags(a, n, &flags)!=SQLITE_OK ) return;
  for(iCol=0; iCol<256; iCol++){
    size_t iOff = 0, nLen = 0;
    LsmvValue v;
    int rc = lsmvRecordSpan(a, n, iCol, &iOff, &nLen);
    if( rc!=SQLITE_OK ){
      assert( rc==SQLITE_CORRUPT );
      break;
    }
    assert( iOff<=n && nLen<=n-iOff );
    rc = lsmvRecordColumn(a, n, iCol, &v);
    assert( rc==SQLITE_OK );
    if( nLen==0 ){
      assert( v.eType==SQLITE_NULL );
      break;
    }
    if( v.eType==SQLITE_TEXT || v.eType==SQLITE_BLOB ){
      assert( v.n==0 || (v.z>=a && v.z+v.n<=a+n) );
    }
    fkColumnRoundTrip(&v);
  }
}

static const double aEdge[] = {
  0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 1.5, 4503599627370495.5,
  9007199254740992.0, 9007199254740993.0, -9007199254740992.0,
  9223372036854775807.0, 9223372036854775808.0, -9223372036854775808.0,
  18446744073709551615.0, 18446744073709551616.0, -18446744073709551616.0,
  1e300, -1e300, 4.9406564584124654e-324, -4.9406564584124654e-324,
  2.2250738585072014e-308, 0.1, 1e-10, 255.75, 65536.0,
};

/* 3: R as a list of values. */
static void fkValues(const unsigned char *a, size_t n){
  LsmvValue aVal[FK_MAX_VALUES];
  LsmvBuf aEnc[FK_MAX_VALUES];
  unsigned aFlags[FK_MAX_VALUES];
  LsmvBuf rec = {0, 0, 0};
  size_t i = 0;
  int nVal = 0, k, rc;

  memset(aEnc, 0, sizeof(aEnc));
  while( i<n && nVal<FK_MAX_VALUES ){
    LsmvValue *v = &aVal[nVal];
    unsigned char tag = a[i++];
    uint64_t u = 0;
    int j;
    memset(v, 0, sizeof(*v));
    switch( tag % 6 ){
      case 0:
      case 1:
        if( n-i<8 ){                   /* too short: the list ends here */
          i = n;
          continue;
        }
        for(j=0; j<8; j++) u = (u<<8) | a[i+(size_t)j];
        i += 8;
        if( tag%6==0 ){
          v->eType = SQLITE_INTEGER;
          v->iVal = (sqlite3_int64)u;
        }else{
          v->eType = SQLITE_FLOAT;
          memcpy(&v->rVal, &u, 8);
        }
        break;
      case 2:
      case 3: {
        size_t nByte = i<n ? a[i++] : 0;
        if( nByte>n-i ) nByte = n-i;
        v->eType = tag%6==2 ? SQLITE_TEXT : SQLITE_BLOB;
        v->z = a+i;
        v->n = nByte;
        i += nByte;
        break;
      }
      case 4:
        v->eType = SQLITE_INTEGER;
        v->iVal = (signed char)(i<n ? a[i++] : 0);
        break;
      default:
        v->eType = SQLITE_FLOAT;
        v->rVal = aEdge[(i<n ? a[i++] : 0) % (sizeof(aEdge)/sizeof(aEdge[0]))];
        break;
    }

    rc = lsmvKeyEncode(v, &aEnc[nVal], &aFlags[nVal]);
    if( v->eType==SQLITE_FLOAT && isnan(v->rVal) ){
      assert( rc==SQLITE_CONSTRAINT_NOTNULL );
      fkColumnRoundTrip(v);     /* a NaN is still a storable column */
      lsmvBufFree(&aEnc[nVal]);
      continue;
    }
    assert( rc==SQLITE_OK );
    {
      LsmvValue back;
      rc = lsmvKeyDecode(aEnc[nVal].a, aEnc[nVal].n, aFlags[nVal], &back);
      assert( rc==SQLITE_OK );
      assert( fkSame(v, &back) );
    }
    fkColumnRoundTrip(v);
    if( nVal>0 ){
      assert( fkSign(fkCmpSql(&aVal[nVal-1], v))
              ==fkCmpBytes(&aEnc[nVal-1], &aEnc[nVal]) );
    }
    nVal++;
  }

  rc = lsmvRecordBegin(&rec, 0);
  for(k=0; rc==SQLITE_OK && k<nVal; k++) rc = lsmvRecordAppend(&rec, &aVal[k]);
  assert( rc==SQLITE_OK );
  for(k=0; k<nVal; k++){
    LsmvValue v;
    rc = lsmvRecordColumn(rec.a, rec.n, k, &v);
    assert( rc==SQLITE_OK && fkSame(&aVal[k], &v) );
  }
  lsmvBufFree(&rec);
  for(k=0; k<nVal; k++) lsmvBufFree(&aEnc[k]);
}

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData){
  if( nData<1 ) return 0;
  fkKey(aData+1, nData-1, aData[0] & 3);
  fkRecord(aData+1, nData-1);
  fkValues(aData+1, nData-1);
  return 0;
}
