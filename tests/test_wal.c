/*
** test_wal.c -- unit tests of the record framing (lsm/wal.c).
**
** Each test writes record files with LsmWalWriter through the default
** env into /tmp/lsmtest-wal-<pid>, damages them with plain stdio where
** the test is about damage, and reads them back with LsmWalReader.  The
** central property is the torn-tail rule: a bad record with no good
** record anywhere after it ends the log quietly (torn tail), a bad record
** followed by a good one is LSM_CORRUPT.  Randomness is seeded.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coding.h"
#include "util.h"
#include "wal.h"
#include "support/testenv.h"
#include "support/testutil.h"

static char *zTestDir;      /* from testTempDir, for the whole group */

/* One record as the tests expect to read it back. */
typedef struct TRec {
  int type;
  size_t n;
  uint8_t *p;
} TRec;

static void rngFill(uint64_t *pState, uint8_t *p, size_t n){
  size_t i;
  for(i=0; i<n; i++) p[i] = (uint8_t)(testRand(pState)>>56);
}

/* Path of file zName in the test directory (static buffer). */
static const char *testPath(const char *zName){
  static char zPath[256];
  snprintf(zPath, sizeof(zPath), "%s/%s", zTestDir, zName);
  return zPath;
}

static int setupDir(void **state){
  (void)state;
  zTestDir = testTempDir("wal");
  return zTestDir ? 0 : -1;
}

static int teardownDir(void **state){
  int rc;
  (void)state;
  rc = testRmTree(zTestDir);
  free(zTestDir);
  return rc;
}

/* Make nRec records with sizes from aSize[] (or random below nMax when
** aSize is NULL), random types 1..255 and random payloads. */
static TRec *makeRecs(uint64_t seed, int nRec, const size_t *aSize,
                      size_t nMax){
  uint64_t s = seed;
  TRec *a = calloc((size_t)nRec, sizeof(TRec));
  int i;
  assert_non_null(a);
  for(i=0; i<nRec; i++){
    a[i].type = 1 + (int)(testRand(&s) % 255);
    a[i].n = aSize ? aSize[i] : (size_t)(testRand(&s) % (nMax + 1));
    a[i].p = malloc(a[i].n ? a[i].n : 1);
    assert_non_null(a[i].p);
    rngFill(&s, a[i].p, a[i].n);
  }
  return a;
}

static void freeRecs(TRec *a, int nRec){
  int i;
  for(i=0; i<nRec; i++) free(a[i].p);
  free(a);
}

/* Offset of record i in a file holding a[0..]. */
static uint64_t recOffset(const TRec *a, int i){
  uint64_t iOff = 0;
  int k;
  for(k=0; k<i; k++) iOff += LSM_WAL_HEADER + a[k].n;
  return iOff;
}

/* Append a[0..nRec-1] to zPath (emptied first if bTruncate); return the
** writer's size after syncing, checked against the file's size. */
static uint64_t writeRecs(const char *zPath, int bTruncate,
                          const TRec *a, int nRec){
  LsmWalWriter *pW = 0;
  uint64_t nSize;
  struct stat st;
  int i;
  assert_int_equal(lsmWalWriterOpen(lsm_env_default(), zPath, bTruncate, &pW),
                   LSM_OK);
  for(i=0; i<nRec; i++){
    assert_int_equal(lsmWalWriterAppend(pW, a[i].type, a[i].p, a[i].n),
                     LSM_OK);
  }
  assert_int_equal(lsmWalWriterSync(pW), LSM_OK);
  nSize = lsmWalWriterSize(pW);
  assert_int_equal(lsmWalWriterClose(pW), LSM_OK);
  assert_int_equal(stat(zPath, &st), 0);
  assert_int_equal((uint64_t)st.st_size, nSize);
  return nSize;
}

/* Result of reading a whole file. */
typedef struct TRead {
  int nGot;           /* records returned */
  int rc;             /* what the last Next returned */
  int bTorn;
  uint64_t iTail;
} TRead;

/*
** Read zPath to its end (or first error), checking that record i equals
** a[i]; more records than nRec is a failure.
*/
static TRead readRecs(const char *zPath, const TRec *a, int nRec){
  LsmWalReader *pR = 0;
  TRead res;
  int type;
  const uint8_t *p;
  size_t n;

  memset(&res, 0, sizeof(res));
  assert_int_equal(lsmWalReaderOpen(lsm_env_default(), zPath, &pR), LSM_OK);
  while( (res.rc = lsmWalReaderNext(pR, &type, &p, &n))==LSM_OK ){
    assert_true(res.nGot<nRec);
    assert_int_equal(type, a[res.nGot].type);
    assert_int_equal(n, a[res.nGot].n);
    if( n ) assert_memory_equal(p, a[res.nGot].p, n);
    res.nGot++;
  }
  res.bTorn = lsmWalReaderTorn(pR);
  res.iTail = lsmWalReaderTailOffset(pR);
  if( res.rc==LSM_NOTFOUND ){
    /* The end is sticky. */
    assert_int_equal(lsmWalReaderNext(pR, &type, &p, &n), LSM_NOTFOUND);
    assert_int_equal(lsmWalReaderTorn(pR), res.bTorn);
  }
  lsmWalReaderClose(pR);
  return res;
}

/* Whole-file helpers working on the raw bytes. */
static uint8_t *slurp(const char *zPath, size_t *pn){
  FILE *f = fopen(zPath, "rb");
  uint8_t *p;
  long n;
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  n = ftell(f);
  assert_true(n>=0);
  rewind(f);
  p = malloc((size_t)n + 1);
  assert_non_null(p);
  assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *pn = (size_t)n;
  return p;
}

static void spill(const char *zPath, const uint8_t *p, size_t n){
  FILE *f = fopen(zPath, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

static void appendRaw(const char *zPath, const uint8_t *p, size_t n){
  FILE *f = fopen(zPath, "ab");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

/* XOR the byte at iOff of zPath with mask. */
static void flipByte(const char *zPath, uint64_t iOff, uint8_t mask){
  FILE *f = fopen(zPath, "r+b");
  int c;
  assert_non_null(f);
  assert_int_equal(fseek(f, (long)iOff, SEEK_SET), 0);
  c = fgetc(f);
  assert_true(c!=EOF);
  assert_int_equal(fseek(f, (long)iOff, SEEK_SET), 0);
  assert_int_equal(fputc(c ^ mask, f), c ^ mask);
  assert_int_equal(fclose(f), 0);
}

static void assertCorruptAt(TRead res, const char *zPath, uint64_t iOff){
  char zWant[64];
  assert_int_equal(res.rc, LSM_CORRUPT);
  snprintf(zWant, sizeof(zWant), "corrupt log record at offset %llu",
           (unsigned long long)iOff);
  assert_non_null(strstr(lsmErrMsg(), zWant));
  assert_non_null(strstr(lsmErrMsg(), zPath));
  assert_false(res.bTorn);
}

/*************************************************************************
** Tests.
*/

/* Random records of 0..100 KiB and one of 5 MiB come back unchanged,
** types included; the writer's size matches the file. */
static void test_roundtrip(void **state){
  const char *zPath = testPath("roundtrip.log");
  enum { N = 41 };
  TRec *a;
  TRead res;
  uint64_t nSize;
  (void)state;

  a = makeRecs(1, N, 0, 100*1024);
  free(a[20].p);
  a[20].n = 5*1024*1024;
  a[20].p = malloc(a[20].n);
  assert_non_null(a[20].p);
  {
    uint64_t s = 77;
    rngFill(&s, a[20].p, a[20].n);
  }
  a[3].n = 0;                                   /* an empty payload too */
  nSize = writeRecs(zPath, 1, a, N);
  assert_int_equal(nSize, recOffset(a, N));

  res = readRecs(zPath, a, N);
  assert_int_equal(res.rc, LSM_NOTFOUND);
  assert_int_equal(res.nGot, N);
  assert_false(res.bTorn);
  assert_int_equal(res.iTail, nSize);
  freeRecs(a, N);
}

/* An empty log, a missing one, and a file too short for a header. */
static void test_empty(void **state){
  const char *zPath = testPath("empty.log");
  LsmWalReader *pR = (LsmWalReader*)&pR;    /* non-NULL: must be cleared */
  TRead res;
  uint8_t aShort[5] = {1, 2, 3, 4, 5};
  (void)state;

  assert_int_equal(writeRecs(zPath, 1, 0, 0), 0);
  res = readRecs(zPath, 0, 0);
  assert_int_equal(res.rc, LSM_NOTFOUND);
  assert_int_equal(res.nGot, 0);
  assert_false(res.bTorn);
  assert_int_equal(res.iTail, 0);

  assert_int_equal(lsmWalReaderOpen(lsm_env_default(),
                                    testPath("missing.log"), &pR),
                   LSM_NOTFOUND);
  assert_null(pR);

  spill(zPath, aShort, sizeof(aShort));
  res = readRecs(zPath, 0, 0);
  assert_int_equal(res.rc, LSM_NOTFOUND);
  assert_true(res.bTorn);
  assert_int_equal(res.iTail, 0);
}

/* The writer refuses bad types and appends nothing for them. */
static void test_writer_args(void **state){
  const char *zPath = testPath("args.log");
  LsmWalWriter *pW = 0;
  (void)state;
  assert_int_equal(lsmWalWriterOpen(lsm_env_default(), zPath, 1, &pW), LSM_OK);
  assert_int_equal(lsmWalWriterAppend(pW, 0, "x", 1), LSM_INVALID);
  assert_int_equal(lsmWalWriterAppend(pW, 256, "x", 1), LSM_INVALID);
  assert_non_null(strstr(lsmErrMsg(), zPath));
  assert_int_equal(lsmWalWriterSize(pW), 0);
  assert_int_equal(lsmWalWriterAppend(pW, 255, "x", 1), LSM_OK);
  assert_int_equal(lsmWalWriterSize(pW), LSM_WAL_HEADER + 1);
  assert_int_equal(lsmWalWriterClose(pW), LSM_OK);
  assert_int_equal(lsmWalWriterClose(0), LSM_OK);
  lsmWalReaderClose(0);
}

/*
** Cut the file at every byte offset inside the last record: the first
** N-1 records come back, the tail is torn (unless the cut is exactly at
** the record boundary) and the tail offset is the last record's start.
*/
static void checkEveryCut(const char *zPath, const TRec *a, int nRec,
                          size_t nStep){
  uint64_t iLast = recOffset(a, nRec-1);
  size_t nFile;
  uint8_t *pFile = slurp(zPath, &nFile);
  uint64_t iCut;
  TRead res;

  assert_int_equal(nFile, recOffset(a, nRec));
  for(iCut=iLast; iCut<nFile; iCut++){
    /* With nStep>1, take every header byte and then every nStep-th. */
    if( iCut>iLast+LSM_WAL_HEADER+1 && (iCut-iLast)%nStep!=0 ) continue;
    spill(zPath, pFile, (size_t)iCut);
    res = readRecs(zPath, a, nRec);
    assert_int_equal(res.rc, LSM_NOTFOUND);
    assert_int_equal(res.nGot, nRec-1);
    assert_int_equal(res.bTorn, iCut!=iLast);
    assert_int_equal(res.iTail, iLast);
  }
  spill(zPath, pFile, nFile);
  res = readRecs(zPath, a, nRec);
  assert_int_equal(res.nGot, nRec);
  assert_false(res.bTorn);
  free(pFile);
}

static void test_torn_every_offset(void **state){
  const char *zPath = testPath("torn.log");
  size_t aSize[] = {10, 0, 700, 33, 1200, 2, 300};
  enum { N = sizeof(aSize)/sizeof(aSize[0]) };
  TRec *a = makeRecs(2, N, aSize, 0);
  (void)state;
  writeRecs(zPath, 1, a, N);
  checkEveryCut(zPath, a, N, 1);
  freeRecs(a, N);
}

/* The same with a 200 KiB last record (sampled cuts), so that the scan
** crosses several read chunks of random bytes. */
static void test_torn_big_record(void **state){
  const char *zPath = testPath("tornbig.log");
  size_t aSize[] = {100, 5000, 200*1024};
  enum { N = sizeof(aSize)/sizeof(aSize[0]) };
  TRec *a = makeRecs(3, N, aSize, 0);
  (void)state;
  writeRecs(zPath, 1, a, N);
  checkEveryCut(zPath, a, N, 4099);
  freeRecs(a, N);
}

/* A torn 4 MiB record of random bytes, cut at 3 MiB: the scan over it
** stays linear (this would take minutes if each candidate were checked
** by reading its claimed length). */
static void test_torn_large_scan(void **state){
  const char *zPath = testPath("tornlarge.log");
  size_t aSize[] = {50, 4*1024*1024};
  TRec *a = makeRecs(4, 2, aSize, 0);
  TRead res;
  (void)state;
  writeRecs(zPath, 1, a, 2);
  assert_int_equal(truncate(zPath, (off_t)(recOffset(a, 1) + 3*1024*1024)), 0);
  res = readRecs(zPath, a, 2);
  assert_int_equal(res.rc, LSM_NOTFOUND);
  assert_int_equal(res.nGot, 1);
  assert_true(res.bTorn);
  assert_int_equal(res.iTail, recOffset(a, 1));
  freeRecs(a, 2);
}

/* Zeroes or garbage after the valid records are a torn tail, even when
** the garbage holds a checksummed record of type 0 (never a real one). */
static void test_garbage_tail(void **state){
  const char *zPath = testPath("garbage.log");
  enum { N = 8 };
  TRec *a = makeRecs(5, N, 0, 3000);
  uint8_t *aJunk = calloc(1, 8192);
  uint64_t nValid;
  uint64_t s = 99;
  TRead res;
  int iCase;
  (void)state;
  assert_non_null(aJunk);

  for(iCase=0; iCase<8; iCase++){
    size_t nJunk = 0;
    nValid = writeRecs(zPath, 1, a, N);
    memset(aJunk, 0, 8192);
    switch( iCase ){
      case 0: nJunk = 4096; break;                  /* a zeroed page */
      case 1: nJunk = 1; break;
      case 2: nJunk = 8192; rngFill(&s, aJunk, nJunk); break;
      case 3: nJunk = 9; rngFill(&s, aJunk, nJunk); break;
      case 4:                                       /* a header, no payload */
        nJunk = LSM_WAL_HEADER;
        lsmPut32(&aJunk[4], 100);
        aJunk[8] = LSM_REC_BATCH;
        lsmPut32(&aJunk[0], lsmCrc32c(0, &aJunk[4], 5));
        break;
      case 5:                                       /* empty record, bad crc */
        nJunk = LSM_WAL_HEADER;
        aJunk[8] = LSM_REC_BATCH;
        lsmPut32(&aJunk[0], lsmCrc32c(0, &aJunk[4], 5) ^ 1);
        break;
      case 6:                   /* junk, then a record of type 0, good CRC */
        nJunk = 3 + LSM_WAL_HEADER + 4;
        rngFill(&s, aJunk, nJunk);
        lsmPut32(&aJunk[3 + 4], 4);
        aJunk[3 + 8] = 0;
        lsmPut32(&aJunk[3], lsmCrc32c(0, &aJunk[3 + 4], 5 + 4));
        break;
      case 7:                   /* a record of type 0 with a good CRC */
        nJunk = LSM_WAL_HEADER + 4;
        lsmPut32(&aJunk[4], 4);
        lsmPut32(&aJunk[0], lsmCrc32c(0, &aJunk[4], 5 + 4));
        break;
    }
    appendRaw(zPath, aJunk, nJunk);
    res = readRecs(zPath, a, N);
    assert_int_equal(res.rc, LSM_NOTFOUND);
    assert_int_equal(res.nGot, N);
    assert_true(res.bTorn);
    assert_int_equal(res.iTail, nValid);
  }
  free(aJunk);
  freeRecs(a, N);
}

/* A damaged middle record with good records after it is corruption,
** whichever header or payload byte is hit. */
static void test_corrupt_middle(void **state){
  const char *zPath = testPath("corrupt.log");
  enum { N = 10, BAD = 4 };
  TRec *a = makeRecs(6, N, 0, 2000);
  uint64_t iBad;
  uint64_t aHit[7];
  int i;
  TRead res;
  (void)state;

  free(a[BAD].p);
  a[BAD].n = 1500;
  a[BAD].p = malloc(a[BAD].n);
  assert_non_null(a[BAD].p);
  memset(a[BAD].p, 0x5a, a[BAD].n);
  iBad = recOffset(a, BAD);
  aHit[0] = iBad;                               /* crc */
  aHit[1] = iBad + 4;                           /* length, low byte */
  aHit[2] = iBad + 7;                           /* length, high byte: huge */
  aHit[3] = iBad + 8;                           /* type */
  aHit[4] = iBad + 9;                           /* first payload byte */
  aHit[5] = iBad + 9 + 777;
  aHit[6] = iBad + 9 + a[BAD].n - 1;            /* last payload byte */
  for(i=0; i<7; i++){
    writeRecs(zPath, 1, a, N);
    flipByte(zPath, aHit[i], 0x80);
    res = readRecs(zPath, a, N);
    assert_int_equal(res.nGot, BAD);
    assertCorruptAt(res, zPath, iBad);
    assert_int_equal(res.iTail, iBad);
  }

  /* Type zeroed. */
  writeRecs(zPath, 1, a, N);
  flipByte(zPath, iBad + 8, (uint8_t)a[BAD].type);
  res = readRecs(zPath, a, N);
  assertCorruptAt(res, zPath, iBad);

  /* Next keeps reporting the corruption. */
  {
    LsmWalReader *pR = 0;
    int type, k;
    const uint8_t *p;
    size_t n;
    assert_int_equal(lsmWalReaderOpen(lsm_env_default(), zPath, &pR), LSM_OK);
    for(k=0; k<BAD; k++){
      assert_int_equal(lsmWalReaderNext(pR, &type, &p, &n), LSM_OK);
    }
    assert_int_equal(lsmWalReaderNext(pR, &type, &p, &n), LSM_CORRUPT);
    assert_int_equal(lsmWalReaderNext(pR, &type, &p, &n), LSM_CORRUPT);
    assert_false(lsmWalReaderTorn(pR));
    lsmWalReaderClose(pR);
  }
  freeRecs(a, N);
}

/* The good record after the bad one is found whether it is empty or much
** larger than a read chunk; the message names it. */
static void test_corrupt_followers(void **state){
  const char *zPath = testPath("followers.log");
  size_t aEmpty[] = {40, 500, 0, 0};
  size_t aLarge[] = {40, 500, 300*1024};
  TRec *a;
  TRead res;
  char zWant[64];
  (void)state;

  a = makeRecs(7, 4, aEmpty, 0);
  writeRecs(zPath, 1, a, 4);
  flipByte(zPath, recOffset(a, 1) + 100, 0x01);
  res = readRecs(zPath, a, 4);
  assert_int_equal(res.nGot, 1);
  assertCorruptAt(res, zPath, recOffset(a, 1));
  snprintf(zWant, sizeof(zWant), "follows at offset %llu",
           (unsigned long long)recOffset(a, 2));
  assert_non_null(strstr(lsmErrMsg(), zWant));
  freeRecs(a, 4);

  a = makeRecs(8, 3, aLarge, 0);
  writeRecs(zPath, 1, a, 3);
  flipByte(zPath, recOffset(a, 1) + 2, 0x10);
  res = readRecs(zPath, a, 3);
  assert_int_equal(res.nGot, 1);
  assertCorruptAt(res, zPath, recOffset(a, 1));
  snprintf(zWant, sizeof(zWant), "follows at offset %llu",
           (unsigned long long)recOffset(a, 2));
  assert_non_null(strstr(lsmErrMsg(), zWant));
  freeRecs(a, 3);
}

/* Zeroes in the middle (a lost page) followed by good records: corrupt. */
static void test_zero_page_middle(void **state){
  const char *zPath = testPath("zeropage.log");
  enum { N = 3 };
  TRec *a = makeRecs(9, N, 0, 1000);
  uint8_t aZero[4096];
  TRec *b = makeRecs(10, 1, 0, 1000);
  uint64_t nValid;
  TRead res;
  (void)state;
  memset(aZero, 0, sizeof(aZero));
  nValid = writeRecs(zPath, 1, a, N);
  appendRaw(zPath, aZero, sizeof(aZero));
  writeRecs(zPath, 0, b, 1);
  res = readRecs(zPath, a, N);
  assert_int_equal(res.nGot, N);
  assertCorruptAt(res, zPath, nValid);
  freeRecs(a, N);
  freeRecs(b, 1);
}

/* A damaged last record is a torn tail, not corruption. */
static void test_corrupt_last(void **state){
  const char *zPath = testPath("last.log");
  enum { N = 6 };
  TRec *a = makeRecs(11, N, 0, 2000);
  uint64_t iLast = recOffset(a, N-1);
  uint64_t aHit[3];
  TRead res;
  int i;
  (void)state;
  aHit[0] = iLast;
  aHit[1] = iLast + 8;
  aHit[2] = iLast + 9 + a[N-1].n/2;
  if( a[N-1].n==0 ) aHit[2] = iLast + 2;
  for(i=0; i<3; i++){
    writeRecs(zPath, 1, a, N);
    flipByte(zPath, aHit[i], 0x04);
    res = readRecs(zPath, a, N);
    assert_int_equal(res.rc, LSM_NOTFOUND);
    assert_int_equal(res.nGot, N-1);
    assert_true(res.bTorn);
    assert_int_equal(res.iTail, iLast);
  }
  freeRecs(a, N);
}

/*
** Recovery's sequence: read to a torn tail, truncate there, reopen the
** writer without truncating and append; the next read sees old and new.
*/
static void test_reopen_append(void **state){
  const char *zPath = testPath("reopen.log");
  enum { N = 5, M = 3 };
  TRec *a = makeRecs(12, N + M, 0, 4000);
  LsmWalWriter *pW = 0;
  lsm_env *pEnv = lsm_env_default();
  lsm_file *pFile = 0;
  TRead res;
  TRec *aAll;
  int i;
  (void)state;

  writeRecs(zPath, 1, a, N);
  assert_int_equal(truncate(zPath, (off_t)(recOffset(a, N-1) + 5)), 0);
  res = readRecs(zPath, a, N);
  assert_int_equal(res.nGot, N-1);
  assert_true(res.bTorn);

  assert_int_equal(pEnv->xOpen(pEnv, zPath, LSM_OPEN_WRITE, &pFile), LSM_OK);
  assert_int_equal(pEnv->xTruncate(pFile, res.iTail), LSM_OK);
  assert_int_equal(pEnv->xClose(pFile), LSM_OK);

  assert_int_equal(lsmWalWriterOpen(pEnv, zPath, 0, &pW), LSM_OK);
  assert_int_equal(lsmWalWriterSize(pW), res.iTail);
  for(i=N; i<N+M; i++){
    assert_int_equal(lsmWalWriterAppend(pW, a[i].type, a[i].p, a[i].n),
                     LSM_OK);
  }
  assert_int_equal(lsmWalWriterSync(pW), LSM_OK);
  assert_int_equal(lsmWalWriterClose(pW), LSM_OK);

  /* Expected: records 0..N-2, then N..N+M-1. */
  aAll = calloc(N + M - 1, sizeof(TRec));
  assert_non_null(aAll);
  memcpy(aAll, a, (N-1)*sizeof(TRec));
  memcpy(&aAll[N-1], &a[N], M*sizeof(TRec));
  res = readRecs(zPath, aAll, N + M - 1);
  assert_int_equal(res.rc, LSM_NOTFOUND);
  assert_int_equal(res.nGot, N + M - 1);
  assert_false(res.bTorn);
  free(aAll);
  freeRecs(a, N + M);
}

/* Largest single allocation made through the engine's allocator. */
static size_t nLargestAlloc;
static void *countMalloc(size_t n){
  if( n>nLargestAlloc ) nLargestAlloc = n;
  return malloc(n);
}
static void *countRealloc(void *p, size_t n){
  if( n>nLargestAlloc ) nLargestAlloc = n;
  return realloc(p, n);
}

/* A huge bogus length in the last header is a torn tail, read without a
** huge allocation. */
static void test_huge_length(void **state){
  const char *zPath = testPath("huge.log");
  enum { N = 3 };
  TRec *a = makeRecs(13, N, 0, 500);
  lsm_allocator counting = { countMalloc, countRealloc, free };
  uint8_t aHdr[LSM_WAL_HEADER + 20];
  uint64_t nValid;
  TRead res;
  (void)state;

  nValid = writeRecs(zPath, 1, a, N);
  memset(aHdr, 0xab, sizeof(aHdr));
  lsmPut32(&aHdr[4], 0xfffffff0u);
  aHdr[8] = LSM_REC_BATCH;
  appendRaw(zPath, aHdr, sizeof(aHdr));

  nLargestAlloc = 0;
  lsm_set_allocator(&counting);
  res = readRecs(zPath, a, N);
  lsm_set_allocator(0);
  assert_int_equal(res.rc, LSM_NOTFOUND);
  assert_int_equal(res.nGot, N);
  assert_true(res.bTorn);
  assert_int_equal(res.iTail, nValid);
  assert_true(nLargestAlloc<=64*1024);
  freeRecs(a, N);
}

/*
** A damaged region where every other byte position decodes as a record
** header of length 65537: more pending candidates than the scan keeps in
** memory, so most are settled through its checkpoints.  Without a good
** record in the region it is a torn tail; with one planted where the
** pending set is full, it is corruption.
*/
static void test_dense_candidates(void **state){
  const char *zPath = testPath("dense.log");
  TRec *a = makeRecs(14, 1, 0, 100);
  enum { REGION = 80*1024, PLANT = 8000, NPLANT = 20000 };
  uint8_t *aRegion = malloc(REGION);
  uint64_t nValid;
  uint64_t s = 5;
  TRead res;
  int i;
  (void)state;
  assert_non_null(aRegion);

  for(i=0; i<REGION; i++) aRegion[i] = (i%2==0) ? 0x01 : 0x00;
  nValid = writeRecs(zPath, 1, a, 1);
  appendRaw(zPath, aRegion, REGION);
  res = readRecs(zPath, a, 1);
  assert_int_equal(res.rc, LSM_NOTFOUND);
  assert_int_equal(res.nGot, 1);
  assert_true(res.bTorn);
  assert_int_equal(res.iTail, nValid);

  /* Plant a good record at region offset PLANT. */
  rngFill(&s, &aRegion[PLANT + LSM_WAL_HEADER], NPLANT);
  lsmPut32(&aRegion[PLANT + 4], NPLANT);
  aRegion[PLANT + 8] = LSM_REC_EDIT;
  lsmPut32(&aRegion[PLANT], lsmCrc32c(0, &aRegion[PLANT + 4], 5 + NPLANT));
  writeRecs(zPath, 1, a, 1);
  appendRaw(zPath, aRegion, REGION);
  res = readRecs(zPath, a, 1);
  assert_int_equal(res.nGot, 1);
  assertCorruptAt(res, zPath, nValid);
  {
    char zWant[64];
    snprintf(zWant, sizeof(zWant), "follows at offset %llu",
             (unsigned long long)(nValid + PLANT));
    assert_non_null(strstr(lsmErrMsg(), zWant));
  }
  free(aRegion);
  freeRecs(a, 1);
}

/*
** Failed appends: ENOSPC half way through a small record (one append),
** EIO on the payload of a large one (two appends), EIO half way through a
** large one's header.  The writer reports the env's code, refuses later
** appends, keeps its size at the last whole record, and a reader sees the
** partial record as a torn tail.  A failed sync is reported too.
*/
static void test_append_faults(void **state){
  const char *zPath = testPath("faults.log");
  size_t aSize[] = {100, 2000, 50, 500, 100*1024};
  enum { N = sizeof(aSize)/sizeof(aSize[0]) };
  TRec *a = makeRecs(15, N, aSize, 0);
  TestEnv *pTest = testenvNew();
  lsm_env *pEnv;
  int iCase;
  (void)state;
  assert_non_null(pTest);
  pEnv = testenvEnv(pTest);

  for(iCase=0; iCase<3; iCase++){
    LsmWalWriter *pW = 0;
    int iFail = iCase==0 ? 3 : 4;       /* record whose append fails */
    int i;
    TRead res;
    assert_int_equal(lsmWalWriterOpen(pEnv, zPath, 1, &pW), LSM_OK);
    for(i=0; i<iFail; i++){
      assert_int_equal(lsmWalWriterAppend(pW, a[i].type, a[i].p, a[i].n),
                       LSM_OK);
    }
    switch( iCase ){
      case 0: testenvFailAt(pTest, TESTENV_APPEND, 1, ENOSPC|TESTENV_SHORT, 0);
              break;
      case 1: testenvFailAt(pTest, TESTENV_APPEND, 2, EIO, 0); break;
      case 2: testenvFailAt(pTest, TESTENV_APPEND, 1, EIO|TESTENV_SHORT, 0);
              break;
    }
    assert_int_equal(lsmWalWriterAppend(pW, a[iFail].type, a[iFail].p,
                                        a[iFail].n),
                     iCase==0 ? LSM_FULL : LSM_IOERR);
    assert_non_null(strstr(lsmErrMsg(), zPath));
    testenvClearFaults(pTest);
    assert_int_equal(lsmWalWriterAppend(pW, 1, "x", 1), LSM_INVALID);
    assert_int_equal(lsmWalWriterSize(pW), recOffset(a, iFail));
    testenvFailAt(pTest, TESTENV_SYNC, 1, EIO, 0);
    assert_int_equal(lsmWalWriterSync(pW), LSM_IOERR);
    testenvClearFaults(pTest);
    assert_int_equal(lsmWalWriterClose(pW), LSM_OK);

    res = readRecs(zPath, a, N);
    assert_int_equal(res.rc, LSM_NOTFOUND);
    assert_int_equal(res.nGot, iFail);
    assert_true(res.bTorn);
    assert_int_equal(res.iTail, recOffset(a, iFail));
  }
  testenvFree(pTest);
  freeRecs(a, N);
}

/*
** Power loss with torn, possibly damaged, unsynced tails (testenvCrash
** with bTorn, many seeds).  Every synced record survives, what comes back
** is a prefix of what was written, and anything bad starts after the
** synced part.  Damage inside the unsynced part followed by intact
** unsynced records is reported as corruption by the rule; the test only
** requires it to lie past the synced prefix.
*/
static void test_power_loss(void **state){
  const char *zPath = testPath("power.log");
  enum { NSYNC = 5, N = 12, NSEED = 40 };
  TRec *a = makeRecs(16, N, 0, 3000);
  uint64_t nSynced = recOffset(a, NSYNC);
  int nTorn = 0;
  unsigned seed;
  (void)state;

  for(seed=0; seed<NSEED; seed++){
    TestEnv *pTest = testenvNew();
    lsm_env *pEnv;
    LsmWalWriter *pW = 0;
    TRead res;
    int i;
    assert_non_null(pTest);
    pEnv = testenvEnv(pTest);
    assert_int_equal(lsmWalWriterOpen(pEnv, zPath, 1, &pW), LSM_OK);
    assert_int_equal(pEnv->xSyncDir(pEnv, zTestDir), LSM_OK);
    for(i=0; i<N; i++){
      assert_int_equal(lsmWalWriterAppend(pW, a[i].type, a[i].p, a[i].n),
                       LSM_OK);
      if( i==NSYNC-1 ) assert_int_equal(lsmWalWriterSync(pW), LSM_OK);
    }
    testenvCrash(pTest, 1, seed);
    lsmWalWriterClose(pW);
    testenvRestart(pTest);

    res = readRecs(zPath, a, N);
    assert_true(res.nGot>=NSYNC);
    assert_true(res.iTail>=nSynced);
    if( res.rc==LSM_CORRUPT ){
      assert_false(res.bTorn);
    }else{
      assert_int_equal(res.rc, LSM_NOTFOUND);
      nTorn += res.bTorn;
    }
    testenvFree(pTest);
  }
  assert_true(nTorn>0);
  freeRecs(a, N);
}

int main(void){
  const struct CMUnitTest aTest[] = {
    cmocka_unit_test(test_roundtrip),
    cmocka_unit_test(test_empty),
    cmocka_unit_test(test_writer_args),
    cmocka_unit_test(test_torn_every_offset),
    cmocka_unit_test(test_torn_big_record),
    cmocka_unit_test(test_torn_large_scan),
    cmocka_unit_test(test_garbage_tail),
    cmocka_unit_test(test_corrupt_middle),
    cmocka_unit_test(test_corrupt_followers),
    cmocka_unit_test(test_zero_page_middle),
    cmocka_unit_test(test_corrupt_last),
    cmocka_unit_test(test_reopen_append),
    cmocka_unit_test(test_huge_length),
    cmocka_unit_test(test_dense_candidates),
    cmocka_unit_test(test_append_faults),
    cmocka_unit_test(test_power_loss),
  };
  return cmocka_run_group_tests(aTest, setupDir, teardownDir);
}
