/*
** test_keycodec.c -- unit tests for ext/keycodec.c and ext/affinity.c.
**
** SQLite itself is the oracle: random values of every type (weighted
** towards the edges: int64 extremes, reals next to 2^53, 2^63 and 2^64,
** -0.0, infinities, subnormals, empty and NUL-laden text and blobs) are
** compared pairwise by SQLite and by memcmp of their encodings, sorted by
** ORDER BY and checked to be in encoding order, and stored through native
** tables of every affinity to check lsmvAffinityApply.  The extension
** sources are compiled into this program (SQLITE_CORE), so it needs no
** loadable extension.
*/
#define SQLITE_CORE 1
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "../ext/keycodec.c"
#include "../ext/affinity.c"

/*---------------------------------------------------------------- helpers --*/

static uint64_t tkSeed;

static uint64_t tkRand(void){
  /* xorshift64*: deterministic for a given seed */
  tkSeed ^= tkSeed >> 12;
  tkSeed ^= tkSeed << 25;
  tkSeed ^= tkSeed >> 27;
  return tkSeed * 0x2545F4914F6CDD1DULL;
}

static double tkBitsDouble(uint64_t u){
  double r;
  memcpy(&r, &u, 8);
  return r;
}

/* A generated value with its own storage for text and blob bytes. */
typedef struct TkVal {
  LsmvValue v;
  unsigned char aBuf[24];
} TkVal;

static const double tkEdgeReals[] = {
  0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -1.5, 2.5, -4.5, -5.5,
  9007199254740992.0, 9007199254740994.0, -9007199254740992.0,
  9223372036854775808.0, -9223372036854775808.0, 9223372036854774784.0,
  18446744073709551616.0, -18446744073709551616.0,
  18446744073709549568.0, -18446744073709549568.0,
  1e300, -1e300, 4.9406564584124654e-324, -4.9406564584124654e-324,
  2.2250738585072014e-308, 0.1, -0.1, 0.9999999999999999, -0.9999999999999999,
  255.0, 256.0, 65535.5, 1e18, -1e18
};

static const sqlite3_int64 tkEdgeInts[] = {
  0, 1, -1, 2, -2, 127, 128, 255, 256, -255, -256, -257, 65535, 65536,
  9007199254740991LL, 9007199254740992LL, 9007199254740993LL,
  -9007199254740993LL, INT64_MAX, INT64_MAX-1, INT64_MIN, INT64_MIN+1,
  4294967295LL, 4294967296LL, -4294967296LL, 1000000000000000000LL
};

/* Fill *p with a random value of a random type (never NULL). */
static void tkRandomValue(TkVal *p){
  int eKind = (int)(tkRand() % 10);
  memset(p, 0, sizeof(*p));
  switch( eKind ){
    case 0:
      p->v.eType = SQLITE_INTEGER;
      p->v.iVal = tkEdgeInts[tkRand() % (sizeof(tkEdgeInts)/sizeof(tkEdgeInts[0]))];
      break;
    case 1:
      p->v.eType = SQLITE_INTEGER;
      p->v.iVal = (sqlite3_int64)tkRand() >> (tkRand() % 64);
      break;
    case 2:
      p->v.eType = SQLITE_FLOAT;
      p->v.rVal = tkEdgeReals[tkRand() % (sizeof(tkEdgeReals)/sizeof(tkEdgeReals[0]))];
      break;
    case 3: {
      double r;
      do{ r = tkBitsDouble(tkRand()); }while( isnan(r) );
      p->v.eType = SQLITE_FLOAT;
      p->v.rVal = r;
      break;
    }
    case 4:
      /* reals close to integers and integers as reals */
      p->v.eType = SQLITE_FLOAT;
      p->v.rVal = (double)((sqlite3_int64)tkRand() >> (tkRand() % 64));
      if( tkRand()%2 ) p->v.rVal += (double)(tkRand()%8) / 8.0;
      break;
    case 5:
      p->v.eType = SQLITE_FLOAT;
      p->v.rVal = tkRand()%2 ? INFINITY : -INFINITY;
      if( tkRand()%2 ){
        int e = (int)(tkRand()%60);
        p->v.rVal = (double)(tkRand()%1000) - 500.0;
        while( e-- > 0 ) p->v.rVal /= 2.0;
      }
      break;
    case 6: case 7: {
      static const char *azPiece[] = {
        "", "a", "b", "ab", "A", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
        "1", "10", " ", "z", "\x7f"
      };
      size_t n = 0;
      int k, nPiece = (int)(tkRand() % 4);
      for(k=0; k<nPiece; k++){
        const char *z = azPiece[tkRand() % (sizeof(azPiece)/sizeof(azPiece[0]))];
        size_t nz = strlen(z);
        if( n+nz>sizeof(p->aBuf) ) break;
        memcpy(&p->aBuf[n], z, nz);
        n += nz;
      }
      if( tkRand()%8==0 && n<sizeof(p->aBuf) ) p->aBuf[n++] = 0;   /* NUL inside */
      p->v.eType = SQLITE_TEXT;
      p->v.z = p->aBuf;
      p->v.n = n;
      break;
    }
    default: {
      static const unsigned char aByte[] = { 0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 'a' };
      size_t n = tkRand() % 6, k;
      for(k=0; k<n; k++) p->aBuf[k] = aByte[tkRand() % sizeof(aByte)];
      p->v.eType = SQLITE_BLOB;
      p->v.z = p->aBuf;
      p->v.n = n;
      break;
    }
  }
}

static void tkBind(sqlite3_stmt *pStmt, int i, const LsmvValue *p){
  int rc;
  switch( p->eType ){
    case SQLITE_INTEGER: rc = sqlite3_bind_int64(pStmt, i, p->iVal); break;
    case SQLITE_FLOAT:   rc = sqlite3_bind_double(pStmt, i, p->rVal); break;
    case SQLITE_TEXT:
      rc = sqlite3_bind_text(pStmt, i, p->z ? (const char*)p->z : "", (int)p->n,
                             SQLITE_TRANSIENT);
      break;
    case SQLITE_BLOB:
      rc = sqlite3_bind_blob(pStmt, i, p->n ? (const void*)p->z : "", (int)p->n,
                             SQLITE_TRANSIENT);
      break;
    default: rc = sqlite3_bind_null(pStmt, i); break;
  }
  assert_int_equal(rc, SQLITE_OK);
}

/* The next double after r towards +inf (bUp) or -inf; libm-free. */
static double tkNextAfter(double r, int bUp){
  uint64_t u;
  if( r==0.0 ) return bUp ? 4.9406564584124654e-324 : -4.9406564584124654e-324;
  if( isinf(r) ) return r;
  memcpy(&u, &r, 8);
  if( (r>0.0)==(bUp!=0) ) u++; else u--;
  memcpy(&r, &u, 8);
  return r;
}

static int tkSign(int x){ return (x>0) - (x<0); }

/* memcmp order of two encodings, shorter first on a tie. */
static int tkCompareBuf(const LsmvBuf *a, const LsmvBuf *b){
  size_t n = a->n<b->n ? a->n : b->n;
  int c = n ? memcmp(a->a, b->a, n) : 0;
  if( c==0 ) c = (a->n>b->n) - (a->n<b->n);
  return tkSign(c);
}

/* Two values are identical: same type, same bits, same bytes. */
static int tkSameValue(const LsmvValue *a, const LsmvValue *b){
  if( a->eType!=b->eType ) return 0;
  switch( a->eType ){
    case SQLITE_INTEGER: return a->iVal==b->iVal;
    case SQLITE_FLOAT:   return memcmp(&a->rVal, &b->rVal, 8)==0;
    case SQLITE_TEXT:
    case SQLITE_BLOB:    return a->n==b->n && (a->n==0 || memcmp(a->z, b->z, a->n)==0);
    default:             return 1;
  }
}

static void tkEncode(const LsmvValue *p, LsmvBuf *pBuf, unsigned *pFlags){
  pBuf->n = 0;
  assert_int_equal(lsmvKeyEncode(p, pBuf, pFlags), SQLITE_OK);
}

/*------------------------------------------------------------------ tests --*/

/* Random pairs: sign(memcmp of encodings) == SQLite's comparison. */
static void test_key_order_pairs(void **state){
  sqlite3 *db;
  sqlite3_stmt *pCmp;
  LsmvBuf a = {0}, b = {0};
  int i;
  (void)state;
  tkSeed = 0x9E3779B97F4A7C15ULL;
  assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db,
      "SELECT (?1 > ?2) - (?1 < ?2)", -1, &pCmp, 0), SQLITE_OK);
  for(i=0; i<40000; i++){
    TkVal x, y;
    unsigned fx, fy;
    int cSql, cEnc;
    tkRandomValue(&x);
    if( i%3==0 ){
      y = x;                                   /* same type, near value */
      if( y.v.eType==SQLITE_TEXT || y.v.eType==SQLITE_BLOB ) y.v.z = y.aBuf;
      if( y.v.eType==SQLITE_INTEGER ){
        int d = (int)(tkRand()%3) - 1;
        if( (d>0 && y.v.iVal<INT64_MAX) || (d<0 && y.v.iVal>INT64_MIN) ) y.v.iVal += d;
      }
      if( y.v.eType==SQLITE_FLOAT ){
        /* the integer next to a real, or the real next to it */
        if( y.v.rVal<9.2e18 && y.v.rVal>-9.2e18 && tkRand()%2 ){
          y.v.eType = SQLITE_INTEGER;
          y.v.iVal = (sqlite3_int64)y.v.rVal;
          if( y.v.iVal>INT64_MIN+1 && y.v.iVal<INT64_MAX-1 ){
            y.v.iVal += (sqlite3_int64)(tkRand()%3) - 1;
          }
        }else{
          y.v.rVal = tkNextAfter(y.v.rVal, (int)(tkRand()%2));
        }
      }
    }else{
      tkRandomValue(&y);
    }
    tkEncode(&x.v, &a, &fx);
    tkEncode(&y.v, &b, &fy);
    tkBind(pCmp, 1, &x.v);
    tkBind(pCmp, 2, &y.v);
    assert_int_equal(sqlite3_step(pCmp), SQLITE_ROW);
    cSql = sqlite3_column_int(pCmp, 0);
    assert_int_equal(sqlite3_reset(pCmp), SQLITE_OK);
    cEnc = tkCompareBuf(&a, &b);
    if( cSql!=cEnc ){
      fprintf(stderr, "pair %d: types %d %d sql %d enc %d\n", i,
              x.v.eType, y.v.eType, cSql, cEnc);
    }
    assert_int_equal(cSql, cEnc);
  }
  sqlite3_finalize(pCmp);
  sqlite3_close(db);
  lsmvBufFree(&a);
  lsmvBufFree(&b);
}

/* ORDER BY over a column of random values visits them in encoding order. */
static void test_key_order_sort(void **state){
  enum { N = 3000 };
  static TkVal aVal[N];
  static LsmvBuf aEnc[N];
  sqlite3 *db;
  sqlite3_stmt *pIns, *pSel;
  int i, iPrev = -1, nRow = 0;
  (void)state;
  tkSeed = 12345;
  assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(i INTEGER PRIMARY KEY, v)",
                                0, 0, 0), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?,?)", -1,
                                      &pIns, 0), SQLITE_OK);
  for(i=0; i<N; i++){
    unsigned f;
    tkRandomValue(&aVal[i]);
    if( aVal[i].v.z ) aVal[i].v.z = aVal[i].aBuf;
    memset(&aEnc[i], 0, sizeof(aEnc[i]));
    tkEncode(&aVal[i].v, &aEnc[i], &f);
    sqlite3_bind_int(pIns, 1, i);
    tkBind(pIns, 2, &aVal[i].v);
    assert_int_equal(sqlite3_step(pIns), SQLITE_DONE);
    sqlite3_reset(pIns);
  }
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT i FROM t ORDER BY v", -1,
                                      &pSel, 0), SQLITE_OK);
  while( sqlite3_step(pSel)==SQLITE_ROW ){
    int iCur = sqlite3_column_int(pSel, 0);
    if( iPrev>=0 ) assert_true(tkCompareBuf(&aEnc[iPrev], &aEnc[iCur])<=0);
    iPrev = iCur;
    nRow++;
  }
  assert_int_equal(nRow, N);
  sqlite3_finalize(pIns);
  sqlite3_finalize(pSel);
  sqlite3_close(db);
  for(i=0; i<N; i++) lsmvBufFree(&aEnc[i]);
}

/* Encode, decode with the flags: the identical value comes back. */
static void test_key_roundtrip(void **state){
  LsmvBuf buf = {0};
  int i;
  (void)state;
  tkSeed = 777;
  for(i=0; i<100000; i++){
    TkVal x;
    LsmvValue y;
    unsigned f;
    tkRandomValue(&x);
    tkEncode(&x.v, &buf, &f);
    assert_int_equal(lsmvKeyDecode(buf.a, buf.n, f, &y), SQLITE_OK);
    if( !tkSameValue(&x.v, &y) ){
      fprintf(stderr, "roundtrip %d: type %d %.17g %lld\n", i, x.v.eType,
              x.v.rVal, (long long)x.v.iVal);
    }
    assert_true(tkSameValue(&x.v, &y));
  }
  lsmvBufFree(&buf);
}

/* Specific values: sizes, equal encodings, rejects, type boundaries. */
static void test_key_edges(void **state){
  LsmvBuf a = {0}, b = {0};
  LsmvValue v, w;
  unsigned f;
  (void)state;

  /* 1 and 1.0 are one key; the flag remembers REAL */
  memset(&v, 0, sizeof(v)); v.eType = SQLITE_INTEGER; v.iVal = 1;
  tkEncode(&v, &a, &f);
  assert_int_equal(f, 0);
  memset(&w, 0, sizeof(w)); w.eType = SQLITE_FLOAT; w.rVal = 1.0;
  tkEncode(&w, &b, &f);
  assert_int_equal(f, LSMV_KEY_REAL);
  assert_int_equal(tkCompareBuf(&a, &b), 0);
  assert_int_equal(lsmvKeyDecode(b.a, b.n, 0, &v), SQLITE_OK);
  assert_int_equal(v.eType, SQLITE_INTEGER);
  assert_int_equal(lsmvKeyDecode(b.a, b.n, f, &v), SQLITE_OK);
  assert_int_equal(v.eType, SQLITE_FLOAT);

  /* zero is one byte; -0.0 equals 0 and keeps its sign through the flag */
  memset(&v, 0, sizeof(v)); v.eType = SQLITE_INTEGER; v.iVal = 0;
  tkEncode(&v, &a, &f);
  assert_int_equal(a.n, 1);
  w.rVal = -0.0;
  tkEncode(&w, &b, &f);
  assert_int_equal(f, LSMV_KEY_REAL|LSMV_KEY_NEGZERO);
  assert_int_equal(tkCompareBuf(&a, &b), 0);
  assert_int_equal(lsmvKeyDecode(b.a, b.n, f, &v), SQLITE_OK);
  assert_true(v.eType==SQLITE_FLOAT && v.rVal==0.0 && signbit(v.rVal));

  /* INT64_MAX < 2^63 (a real) although (double)INT64_MAX == 2^63 */
  v.eType = SQLITE_INTEGER; v.iVal = INT64_MAX;
  tkEncode(&v, &a, &f);
  w.rVal = 9223372036854775808.0;
  tkEncode(&w, &b, &f);
  assert_int_equal(tkCompareBuf(&a, &b), -1);
  assert_int_equal(lsmvKeyDecode(b.a, b.n, 0, &v), SQLITE_OK);
  assert_int_equal(v.eType, SQLITE_FLOAT);     /* not an int64: REAL anyway */

  /* INT64_MIN equals -2^63 */
  v.eType = SQLITE_INTEGER; v.iVal = INT64_MIN;
  tkEncode(&v, &a, &f);
  w.rVal = -9223372036854775808.0;
  tkEncode(&w, &b, &f);
  assert_int_equal(tkCompareBuf(&a, &b), 0);
  assert_int_equal(lsmvKeyDecode(a.a, a.n, 0, &v), SQLITE_OK);
  assert_true(v.eType==SQLITE_INTEGER && v.iVal==INT64_MIN);

  /* NULL and NaN are not keys */
  v.eType = SQLITE_NULL;
  assert_int_equal(lsmvKeyEncode(&v, &a, &f), SQLITE_CONSTRAINT_NOTNULL);
  w.rVal = NAN;
  assert_int_equal(lsmvKeyEncode(&w, &a, &f), SQLITE_CONSTRAINT_NOTNULL);

  /* +inf < '' < x'' */
  w.rVal = INFINITY;
  tkEncode(&w, &a, &f);
  memset(&v, 0, sizeof(v)); v.eType = SQLITE_TEXT; v.z = (const unsigned char*)""; v.n = 0;
  tkEncode(&v, &b, &f);
  assert_int_equal(tkCompareBuf(&a, &b), -1);
  assert_int_equal(b.n, 1);
  assert_int_equal(b.a[0], LSMV_TAG_TEXT);
  v.eType = SQLITE_BLOB;
  tkEncode(&v, &a, &f);
  assert_int_equal(a.n, 1);
  assert_int_equal(a.a[0], LSMV_TAG_BLOB);
  assert_int_equal(lsmvKeyDecode(a.a, a.n, 0, &w), SQLITE_OK);
  assert_true(w.eType==SQLITE_BLOB && w.n==0);

  /* every numeric tag lies in [LSMV_TAG_NUM_FIRST, LSMV_TAG_NUM_END) */
  tkSeed = 99;
  for(int i=0; i<10000; i++){
    TkVal x;
    tkRandomValue(&x);
    tkEncode(&x.v, &a, &f);
    if( x.v.eType==SQLITE_INTEGER || x.v.eType==SQLITE_FLOAT ){
      assert_true(a.a[0]>=LSMV_TAG_NUM_FIRST && a.a[0]<LSMV_TAG_NUM_END);
    }
  }
  lsmvBufFree(&a);
  lsmvBufFree(&b);
}

/* Decoding garbage never crashes, and what decodes re-encodes identically. */
static void test_key_garbage(void **state){
  LsmvBuf buf = {0};
  unsigned char aIn[20];
  int i, nOk = 0;
  (void)state;
  tkSeed = 4242;
  for(i=0; i<200000; i++){
    size_t n = tkRand() % sizeof(aIn), k;
    LsmvValue v;
    unsigned f;
    for(k=0; k<n; k++) aIn[k] = (unsigned char)tkRand();
    if( n>0 ) aIn[0] = (unsigned char)(0x10 + tkRand()%0x14);
    if( lsmvKeyDecode(aIn, n, 0, &v)==SQLITE_OK ){
      nOk++;
      tkEncode(&v, &buf, &f);
      if( buf.n!=n || memcmp(buf.a, aIn, n)!=0 ){
        for(k=0; k<n; k++) fprintf(stderr, "%02x", aIn[k]);
        fprintf(stderr, " decodes to type %d but re-encodes differently\n", v.eType);
      }
      assert_int_equal(buf.n, n);
      assert_memory_equal(buf.a, aIn, n);
    }
  }
  assert_true(nOk>0);
  lsmvBufFree(&buf);
}

static void test_prefix_end(void **state){
  LsmvBuf b = {0};
  int bNone;
  (void)state;
  assert_int_equal(lsmvKeyPrefixEnd((const unsigned char*)"\x30" "ab", 3, &b, &bNone), SQLITE_OK);
  assert_false(bNone);
  assert_int_equal(b.n, 3);
  assert_memory_equal(b.a, "\x30" "ac", 3);
  b.n = 0;
  assert_int_equal(lsmvKeyPrefixEnd((const unsigned char*)"\x40\xff\xff", 3, &b, &bNone), SQLITE_OK);
  assert_int_equal(b.n, 1);
  assert_int_equal(b.a[0], 0x41);
  b.n = 0;
  assert_int_equal(lsmvKeyPrefixEnd((const unsigned char*)"\xff", 1, &b, &bNone), SQLITE_OK);
  assert_true(bNone);
  assert_int_equal(b.n, 0);
  lsmvBufFree(&b);
}

/* Records: every type round-trips, spans copy columns verbatim. */
static void test_record(void **state){
  LsmvBuf rec = {0}, copy = {0};
  int i;
  (void)state;
  tkSeed = 31337;
  for(i=0; i<20000; i++){
    TkVal aCol[6];
    int nCol = (int)(tkRand() % 6), k;
    unsigned flags = (unsigned)(tkRand() % 4), f2;
    rec.n = 0;
    assert_int_equal(lsmvRecordBegin(&rec, flags), SQLITE_OK);
    for(k=0; k<nCol; k++){
      tkRandomValue(&aCol[k]);
      if( aCol[k].v.z ) aCol[k].v.z = aCol[k].aBuf;
      if( tkRand()%5==0 ){ memset(&aCol[k].v, 0, sizeof(LsmvValue)); aCol[k].v.eType = SQLITE_NULL; }
      assert_int_equal(lsmvRecordAppend(&rec, &aCol[k].v), SQLITE_OK);
    }
    assert_int_equal(lsmvRecordFlags(rec.a, rec.n, &f2), SQLITE_OK);
    assert_int_equal(f2, flags);
    copy.n = 0;
    assert_int_equal(lsmvRecordBegin(&copy, flags), SQLITE_OK);
    for(k=0; k<nCol+2; k++){
      LsmvValue v;
      size_t iOff, nLen;
      assert_int_equal(lsmvRecordColumn(rec.a, rec.n, k, &v), SQLITE_OK);
      if( k<nCol ){
        assert_true(tkSameValue(&v, &aCol[k].v));
      }else{
        assert_int_equal(v.eType, SQLITE_NULL);
      }
      assert_int_equal(lsmvRecordSpan(rec.a, rec.n, k, &iOff, &nLen), SQLITE_OK);
      assert_int_equal(nLen==0, k>=nCol);
      assert_int_equal(lsmvBufAppend(&copy, &rec.a[iOff], nLen), SQLITE_OK);
    }
    assert_int_equal(copy.n, rec.n);
    assert_memory_equal(copy.a, rec.a, rec.n);
    /* truncations are corrupt or shorter, never a crash */
    for(k=0; k<(int)rec.n; k++){
      LsmvValue v;
      (void)lsmvRecordColumn(rec.a, (size_t)k, nCol>0 ? nCol-1 : 0, &v);
    }
  }
  assert_int_equal(lsmvRecordFlags((const unsigned char*)"\x04", 1, &(unsigned){0}),
                   SQLITE_CORRUPT);
  lsmvBufFree(&rec);
  lsmvBufFree(&copy);
}

/*
** lsmvAffinityApply equals what a native table stores: for each declared
** type, insert random values (and numeric-looking text) and compare the
** stored value with the converted one.
*/
static void test_affinity(void **state){
  static const char *azType[] = {
    "", "TEXT", "VARCHAR(20)", "INTEGER", "INT", "BIGINT", "REAL", "DOUBLE",
    "FLOATING POINT", "NUMERIC", "DECIMAL(10,5)", "BOOLEAN", "BLOB", "STRING"
  };
  static const char *azText[] = {
    "12", " 12 ", "1e3", "3.0", "-0.0", "0x10", "1.5", "abc", "9223372036854775807",
    "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
    "1e400", "-1e400", ".5", "5.", "+7", "1e", "", "  ", "12abc", "1.0e+20",
    "9007199254740993", "4.0000000000000000001", "\xc3\xa9"
  };
  sqlite3 *db;
  size_t iType;
  (void)state;
  tkSeed = 2024;
  assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
  for(iType=0; iType<sizeof(azType)/sizeof(azType[0]); iType++){
    char *zSql;
    sqlite3_stmt *pIns, *pSel;
    char aff = lsmvAffinityOfType(azType[iType]);
    int i;
    sqlite3_exec(db, "DROP TABLE IF EXISTS t", 0, 0, 0);
    zSql = sqlite3_mprintf("CREATE TABLE t(v %s)", azType[iType]);
    assert_int_equal(sqlite3_exec(db, zSql, 0, 0, 0), SQLITE_OK);
    sqlite3_free(zSql);
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?) RETURNING rowid",
                                        -1, &pIns, 0), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT v FROM t WHERE rowid=?",
                                        -1, &pSel, 0), SQLITE_OK);
    for(i=0; i<3000; i++){
      TkVal x;
      LsmvValue got, want;
      sqlite3_value *pTmp;
      sqlite3_stmt *pBind;
      if( i < (int)(sizeof(azText)/sizeof(azText[0])) ){
        memset(&x, 0, sizeof(x));
        x.v.eType = SQLITE_TEXT;
        x.v.z = (const unsigned char*)azText[i];
        x.v.n = strlen(azText[i]);
      }else{
        tkRandomValue(&x);
        if( x.v.z ) x.v.z = x.aBuf;
      }
      tkBind(pIns, 1, &x.v);
      assert_int_equal(sqlite3_step(pIns), SQLITE_ROW);
      sqlite3_bind_int64(pSel, 1, sqlite3_column_int64(pIns, 0));
      assert_int_equal(sqlite3_step(pIns), SQLITE_DONE);
      sqlite3_reset(pIns);
      assert_int_equal(sqlite3_step(pSel), SQLITE_ROW);
      assert_int_equal(lsmvValueFromSqlite(sqlite3_column_value(pSel, 0), &want),
                       SQLITE_OK);
      /* the value as SQLite hands it to xUpdate: an unconverted copy */
      assert_int_equal(sqlite3_prepare_v2(db, "SELECT ?", -1, &pBind, 0), SQLITE_OK);
      tkBind(pBind, 1, &x.v);
      assert_int_equal(sqlite3_step(pBind), SQLITE_ROW);
      assert_int_equal(lsmvAffinityApply(aff, sqlite3_column_value(pBind, 0),
                                         &got, &pTmp), SQLITE_OK);
      if( !tkSameValue(&got, &want) ){
        fprintf(stderr, "type '%s' value #%d: got type %d want type %d (%.17g %.17g)\n",
                azType[iType], i, got.eType, want.eType, got.rVal, want.rVal);
      }
      assert_true(tkSameValue(&got, &want));
      sqlite3_value_free(pTmp);
      sqlite3_finalize(pBind);
      sqlite3_reset(pSel);
    }
    sqlite3_finalize(pIns);
    sqlite3_finalize(pSel);
  }
  assert_int_equal(lsmvAffinityOfType(0), LSMV_AFF_BLOB);
  assert_int_equal(lsmvAffinityOfType("CHARINT"), LSMV_AFF_INTEGER);
  assert_int_equal(lsmvAffinityOfType("FLOATING POINT"), LSMV_AFF_INTEGER);
  sqlite3_close(db);
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_key_order_pairs),
    cmocka_unit_test(test_key_order_sort),
    cmocka_unit_test(test_key_roundtrip),
    cmocka_unit_test(test_key_edges),
    cmocka_unit_test(test_key_garbage),
    cmocka_unit_test(test_prefix_end),
    cmocka_unit_test(test_record),
    cmocka_unit_test(test_affinity),
  };
  return cmocka_run_group_tests(tests, 0, 0);
}
