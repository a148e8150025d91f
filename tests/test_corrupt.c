/*
** test_corrupt.c -- seeded damage to every kind of file of a database,
** checked against the policy in README.md ("Reliability").
**
** A fixture database is built once with known contents, so that every
** file kind exists: level-1 tables from a compaction, a level-0 table
** from a flush, a manifest of several edits, CURRENT, and a log holding
** the commits made since the last flush.  Every write is a commit under
** sync=full, and the test keeps the whole history: operation i of the
** history has sequence number i+1, so "the state after sequence S" is
** the history's first S operations applied in order.
**
** Each trial copies the fixture, damages one file in one way, and opens
** and reads everything (forward scan, reverse scan, a point read of every
** key ever written and of some never written); every other trial reads
** the tables through memory maps (mmap_reads).  Damages, from a fixed
** seed: 1 to 3 flipped bits at random offsets, truncation to a random
** length, a zeroed 4 KiB page (aligned, clipped to the file), 1 to 4096
** bytes of random garbage appended, and deletion.  The outcome is one of
**
**   corrupt (open)   lsm_open failed with LSM_CORRUPT, and so does a second
**                    open (nothing was repaired or destroyed meanwhile);
**   corrupt (read)   lsm_open succeeded, some read returned LSM_CORRUPT;
**   intact           every read returned the full history's state;
**   tail lost        the newest log's damaged tail was dropped: the state
**                    is that after sequence S < the full history, with S
**                    the end of a commit;
**
** and in every case every value or key that was returned is the one the
** state after S (lsm_last_seq() after recovery) holds, every LSM_CORRUPT
** message names the damaged file, and no other error code appears.
** Anything else is a violation: the test collects them all, prints the
** outcome counts per file kind and damage kind, then fails listing them.
**
** Which outcomes each file kind allows (the policy):
**   - log: damage after which a good record of the log follows is
**     corruption (every record was synced before the next was written).
**     Damage with no good record after it is a torn tail: recovery keeps
**     the records before the first damaged byte and drops the rest, so the
**     state is that after the last commit wholly before the damage.
**     Deleting the log is corruption (the manifest names it).
**   - table, manifest, CURRENT: corruption or intact; never any loss.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lsm.h"
#include "util.h"
#include "support/testutil.h"

#define CK_KEYS        300      /* keys k0000..k0299 are written */
#define CK_ABSENT      8        /* keys k0300.. are never written */
#define CK_MAX_OPS     1024     /* history capacity */
#define CK_MAX_RECS    256      /* log records in the fixture */
#define CK_MAX_FILES   64
#define CK_MAX_VIOL    32       /* violations kept for the report */
#define CK_ALARM_SECS  240

/* File kinds, damage kinds and outcomes (the table's rows and columns). */
#define K_LOG       0
#define K_TABLE     1
#define K_MANIFEST  2
#define K_CURRENT   3
#define K_N         4

#define D_FLIP      0
#define D_TRUNC     1
#define D_ZERO      2
#define D_GARBAGE   3
#define D_DELETE    4
#define D_N         5

#define O_CORRUPT_OPEN  0
#define O_CORRUPT_READ  1
#define O_INTACT        2
#define O_TAIL_LOST     3
#define O_VIOLATION     4
#define O_N             5

static const char *azKind[K_N] = { "log", "table", "manifest", "CURRENT" };
static const char *azDamage[D_N] = {
  "bit flips", "truncation", "zeroed 4 KiB", "appended garbage", "deleted"
};
static const char *azOutcome[O_N] = {
  "corrupt (open)", "corrupt (read)", "intact", "tail lost", "VIOLATION"
};

/* Trials per damage kind (deletion: once per file, up to that many). */
static const int anTrial[D_N] = { 16, 12, 8, 8, 3 };

/* One operation of the history. */
typedef struct CkOp {
  int iKey;
  int bDelete;
} CkOp;

/* One record of the fixture's log. */
typedef struct CkRec {
  uint64_t iOff, iEnd;        /* byte range in the file */
  uint64_t iLastSeq;          /* sequence of its last operation */
} CkRec;

typedef struct Fixture {
  char *zBase;                /* the test's temporary directory */
  char *zPristine;            /* the fixture database */
  char *zTrial;               /* the damaged copy */
  CkOp aOp[CK_MAX_OPS];       /* aOp[i] has sequence i+1 */
  int nOp;
  uint8_t abBoundary[CK_MAX_OPS+1];  /* commit ends at this sequence */
  uint64_t iTableSeq;         /* everything up to here is in tables */
  char azFile[K_N][CK_MAX_FILES][32];  /* file names by kind */
  int anFile[K_N];
  CkRec aRec[CK_MAX_RECS];    /* records of the log */
  int nRec;
} Fixture;

static Fixture *pFix;

/**************************************************************************
** Values and the model.
*/

static void keyName(int k, char *zOut){
  snprintf(zOut, 16, "k%04d", k);
}

/* The value written by operation i (a put of key k): 0..699 bytes,
** different for every operation. */
static size_t valueMake(int i, int k, char *aOut){
  size_t n = (size_t)((i*37 + k*11) % 700);
  char zHead[32];
  size_t nHead = (size_t)snprintf(zHead, sizeof(zHead), "op%d-k%d:", i, k);
  size_t j;
  for(j=0; j<n; j++){
    aOut[j] = j<nHead ? zHead[j] : (char)('A' + (j/7 + (size_t)i)%26);
  }
  return n;
}

/* aLast[k] = index of the operation that set key k in the state after
** sequence S, or -1 if the key is absent then. */
static void modelState(const Fixture *f, uint64_t S, int *aLast){
  int i;
  for(i=0; i<CK_KEYS+CK_ABSENT; i++) aLast[i] = -1;
  for(i=0; i<(int)S && i<f->nOp; i++){
    aLast[f->aOp[i].iKey] = f->aOp[i].bDelete ? -1 : i;
  }
}

/**************************************************************************
** File helpers (plain C library: the test must not depend on the engine
** to damage or copy its files).
*/

static char *pathJoin(const char *zDir, const char *zName){
  size_t n = strlen(zDir) + strlen(zName) + 2;
  char *z = malloc(n);
  assert_non_null(z);
  snprintf(z, n, "%s/%s", zDir, zName);
  return z;
}

static uint8_t *fileRead(const char *zPath, size_t *pn){
  FILE *p = fopen(zPath, "rb");
  uint8_t *a;
  long n;
  assert_non_null(p);
  fseek(p, 0, SEEK_END);
  n = ftell(p);
  fseek(p, 0, SEEK_SET);
  a = malloc((size_t)n + 1);
  assert_non_null(a);
  assert_int_equal(fread(a, 1, (size_t)n, p), (size_t)n);
  fclose(p);
  *pn = (size_t)n;
  return a;
}

static void fileWrite(const char *zPath, const uint8_t *a, size_t n){
  FILE *p = fopen(zPath, "wb");
  assert_non_null(p);
  assert_int_equal(fwrite(a, 1, n, p), n);
  assert_int_equal(fclose(p), 0);
}

/* Make zTo a copy of the regular files of zFrom (zTo must not exist). */
static void dirCopy(const char *zFrom, const char *zTo){
  DIR *pDir = opendir(zFrom);
  struct dirent *pEnt;
  assert_non_null(pDir);
  assert_int_equal(mkdir(zTo, 0755), 0);
  while( (pEnt = readdir(pDir))!=0 ){
    char *zSrc, *zDst;
    struct stat st;
    uint8_t *a;
    size_t n;
    if( pEnt->d_name[0]=='.' ) continue;
    zSrc = pathJoin(zFrom, pEnt->d_name);
    if( stat(zSrc, &st)==0 && S_ISREG(st.st_mode) ){
      zDst = pathJoin(zTo, pEnt->d_name);
      a = fileRead(zSrc, &n);
      fileWrite(zDst, a, n);
      free(a);
      free(zDst);
    }
    free(zSrc);
  }
  closedir(pDir);
}

/**************************************************************************
** The fixture.
*/

static lsm_options ckOptions(void){
  lsm_options opts;
  lsm_options_init(&opts);
  opts.sync_mode = LSM_SYNC_FULL;
  opts.memtable_size = 1<<20;       /* flushes only when asked */
  opts.block_size = 512;
  opts.table_size = 8<<10;          /* compaction writes several tables */
  return opts;
}

/* Commit one put or delete of key k and add it to the history. */
static void fixPut(Fixture *f, lsm_db *db, int k, int bDelete){
  char zKey[16], aVal[700];
  size_t nVal;
  keyName(k, zKey);
  assert_true(f->nOp<CK_MAX_OPS);
  if( bDelete ){
    assert_int_equal(lsm_delete(db, zKey, 5), LSM_OK);
  }else{
    nVal = valueMake(f->nOp, k, aVal);
    assert_int_equal(lsm_put(db, zKey, 5, aVal, nVal), LSM_OK);
  }
  f->aOp[f->nOp].iKey = k;
  f->aOp[f->nOp].bDelete = bDelete;
  f->nOp++;
  f->abBoundary[f->nOp] = 1;
}

/* Commit a batch putting n keys from k0 on (stepping by kStep) and
** deleting key kDel. */
static void fixBatch(Fixture *f, lsm_db *db, int k0, int n, int kStep,
                     int kDel){
  lsm_batch *pBatch = 0;
  int i;
  assert_int_equal(lsm_batch_new(&pBatch), LSM_OK);
  for(i=0; i<n; i++){
    char zKey[16], aVal[700];
    int k = (k0 + i*kStep) % CK_KEYS;
    size_t nVal = valueMake(f->nOp, k, aVal);
    keyName(k, zKey);
    assert_int_equal(lsm_batch_put(pBatch, zKey, 5, aVal, nVal), LSM_OK);
    f->aOp[f->nOp].iKey = k;
    f->aOp[f->nOp].bDelete = 0;
    f->nOp++;
  }
  {
    char zKey[16];
    keyName(kDel, zKey);
    assert_int_equal(lsm_batch_delete(pBatch, zKey, 5), LSM_OK);
    f->aOp[f->nOp].iKey = kDel;
    f->aOp[f->nOp].bDelete = 1;
    f->nOp++;
  }
  assert_int_equal(lsm_write(db, pBatch), LSM_OK);
  f->abBoundary[f->nOp] = 1;
  lsm_batch_free(pBatch);
}

static int cmpName(const void *a, const void *b){
  return strcmp((const char*)a, (const char*)b);
}

/* Sort the pristine directory's files into f->azFile by kind. */
static void fixListFiles(Fixture *f){
  DIR *pDir = opendir(f->zPristine);
  struct dirent *pEnt;
  int k;
  assert_non_null(pDir);
  while( (pEnt = readdir(pDir))!=0 ){
    const char *z = pEnt->d_name;
    size_t n = strlen(z);
    int eKind = -1;
    if( strcmp(z, "CURRENT")==0 ) eKind = K_CURRENT;
    else if( strncmp(z, "MANIFEST-", 9)==0 ) eKind = K_MANIFEST;
    else if( n>4 && strcmp(z+n-4, ".log")==0 ) eKind = K_LOG;
    else if( n>4 && strcmp(z+n-4, ".sst")==0 ) eKind = K_TABLE;
    if( eKind>=0 ){
      assert_true(f->anFile[eKind]<CK_MAX_FILES && n<32);
      memcpy(f->azFile[eKind][f->anFile[eKind]++], z, n+1);
    }
  }
  closedir(pDir);
  for(k=0; k<K_N; k++){
    qsort(f->azFile[k], (size_t)f->anFile[k], 32, cmpName);
  }
}

/* Split the fixture's log into records (FORMAT.md: crc u32, length u32,
** type u8, payload; a batch payload starts with seq u64, count u32). */
static void fixParseLog(Fixture *f){
  char *zPath = pathJoin(f->zPristine, f->azFile[K_LOG][0]);
  size_t n, i = 0;
  uint8_t *a = fileRead(zPath, &n);
  while( i<n ){
    uint32_t nLen, nCount;
    uint64_t iSeq;
    assert_true(n-i>=9+12 && f->nRec<CK_MAX_RECS);
    nLen = (uint32_t)a[i+4] | (uint32_t)a[i+5]<<8
         | (uint32_t)a[i+6]<<16 | (uint32_t)a[i+7]<<24;
    iSeq = 0;
    for(int j=7; j>=0; j--) iSeq = (iSeq<<8) | a[i+9+(size_t)j];
    nCount = (uint32_t)a[i+17] | (uint32_t)a[i+18]<<8
           | (uint32_t)a[i+19]<<16 | (uint32_t)a[i+20]<<24;
    f->aRec[f->nRec].iOff = i;
    f->aRec[f->nRec].iEnd = i + 9 + nLen;
    f->aRec[f->nRec].iLastSeq = iSeq + nCount - 1;
    f->nRec++;
    i += 9 + (size_t)nLen;
  }
  assert_int_equal(i, n);
  free(a);
  free(zPath);
}

/*
** Build the fixture: 300 keys written and compacted into level 1, a
** third of them overwritten and some deleted and flushed to level 0,
** then 40 commits (puts, deletes, batches) left in the log.
*/
static void fixBuild(Fixture *f){
  lsm_options opts = ckOptions();
  lsm_db *db = 0;
  uint64_t rng = 7;
  int i;

  f->abBoundary[0] = 1;
  assert_int_equal(lsm_open(f->zPristine, &opts, &db), LSM_OK);
  for(i=0; i<CK_KEYS; i+=10) fixBatch(f, db, i, 9, 1, i+9);
  for(i=9; i<CK_KEYS; i+=10) fixPut(f, db, i, 0);
  assert_int_equal(lsm_flush(db), LSM_OK);
  assert_int_equal(lsm_compact(db, 0, 0, 0, 0), LSM_OK);
  for(i=0; i<CK_KEYS; i+=3) fixPut(f, db, i, 0);
  for(i=1; i<CK_KEYS; i+=7) fixPut(f, db, i, 1);
  assert_int_equal(lsm_flush(db), LSM_OK);
  f->iTableSeq = (uint64_t)f->nOp;
  for(i=0; i<40; i++){
    uint32_t x = testRandRange(&rng, 10);
    int k = (int)testRandRange(&rng, CK_KEYS);
    if( x<6 ) fixPut(f, db, k, 0);
    else if( x<8 ) fixPut(f, db, k, 1);
    else fixBatch(f, db, k, 4, 17, (k+5)%CK_KEYS);
  }
  assert_int_equal(lsm_last_seq(db), (uint64_t)f->nOp);
  assert_int_equal(lsm_close(db), LSM_OK);

  fixListFiles(f);
  assert_int_equal(f->anFile[K_LOG], 1);
  assert_int_equal(f->anFile[K_MANIFEST], 1);
  assert_int_equal(f->anFile[K_CURRENT], 1);
  assert_true(f->anFile[K_TABLE]>=3);
  fixParseLog(f);
  assert_int_equal(f->aRec[f->nRec-1].iLastSeq, (uint64_t)f->nOp);
}

/**************************************************************************
** Damage.
*/

typedef struct Damage {
  int eKind, eDamage;
  char zFile[32];             /* the damaged file's name */
  int bAt;                    /* flip or cut at iAt, not at random */
  uint64_t iAt;
  uint64_t iLo, iHi;          /* damaged byte range (iHi: UINT64_MAX = end) */
} Damage;

static void damageApply(const char *zPath, Damage *d, uint64_t *pRng){
  size_t n;
  uint8_t *a;
  if( d->eDamage==D_DELETE ){
    assert_int_equal(unlink(zPath), 0);
    d->iLo = 0;
    d->iHi = UINT64_MAX;
    return;
  }
  a = fileRead(zPath, &n);
  assert_true(n>0);
  switch( d->eDamage ){
    case D_FLIP: {
      int nFlip = 1 + (int)testRandRange(pRng, 3), i;
      d->iLo = UINT64_MAX;
      d->iHi = 0;
      if( d->bAt ) nFlip = 1;
      for(i=0; i<nFlip; i++){
        size_t iByte = d->bAt ? (size_t)d->iAt : testRandRange(pRng, (uint32_t)n);
        a[iByte] ^= (uint8_t)(1 << testRandRange(pRng, 8));
        if( iByte<d->iLo ) d->iLo = iByte;
        if( iByte+1>d->iHi ) d->iHi = iByte+1;
      }
      fileWrite(zPath, a, n);
      break;
    }
    case D_TRUNC:
      d->iLo = d->bAt ? d->iAt : testRandRange(pRng, (uint32_t)n);
      d->iHi = UINT64_MAX;
      fileWrite(zPath, a, (size_t)d->iLo);
      break;
    case D_ZERO: {
      size_t nPage = (n + 4095)/4096;
      size_t iPage = testRandRange(pRng, (uint32_t)nPage);
      d->iLo = iPage*4096;
      d->iHi = d->iLo + 4096 < n ? d->iLo + 4096 : n;
      memset(a + d->iLo, 0, (size_t)(d->iHi - d->iLo));
      fileWrite(zPath, a, n);
      break;
    }
    case D_GARBAGE: {
      size_t nAdd = 1 + testRandRange(pRng, 4096), i;
      uint8_t *aNew = realloc(a, n + nAdd);
      assert_non_null(aNew);
      a = aNew;
      for(i=0; i<nAdd; i++) a[n+i] = (uint8_t)testRand(pRng);
      fileWrite(zPath, a, n + nAdd);
      d->iLo = n;
      d->iHi = UINT64_MAX;
      break;
    }
  }
  free(a);
}

/*
** What the policy allows for damage d: the smallest sequence recovery
** may end at (*piFloor), and whether the damage must be reported as
** corruption (*pbMustCorrupt).
*/
static void damageExpect(const Fixture *f, const Damage *d,
                         uint64_t *piFloor, int *pbMustCorrupt){
  int r0, r;
  *piFloor = (uint64_t)f->nOp;
  *pbMustCorrupt = 0;
  if( d->eKind!=K_LOG ) return;
  if( d->eDamage==D_DELETE ){
    *pbMustCorrupt = 1;
    return;
  }
  /* Records wholly before the damage survive; a good record wholly after
  ** it proves the damage is not a torn tail. */
  for(r0=0; r0<f->nRec && f->aRec[r0].iEnd<=d->iLo; r0++);
  *piFloor = r0==0 ? f->iTableSeq : f->aRec[r0-1].iLastSeq;
  for(r=r0; r<f->nRec; r++){
    if( d->iHi!=UINT64_MAX && f->aRec[r].iOff>=d->iHi ) *pbMustCorrupt = 1;
  }
}

/**************************************************************************
** Checking one trial.
*/

typedef struct Trial {
  const Fixture *f;
  const Damage *d;
  int aLast[CK_KEYS+CK_ABSENT];    /* the state after S */
  int bCorrupt;                    /* some call returned LSM_CORRUPT */
  char zViol[256];                 /* first violation, "" if none */
} Trial;

static void trialViolation(Trial *t, const char *zFmt, ...){
  if( t->zViol[0]==0 ){
    va_list ap;
    va_start(ap, zFmt);
    vsnprintf(t->zViol, sizeof(t->zViol), zFmt, ap);
    va_end(ap);
  }
}

/*
** Account for a call's result rc; return 1 if the caller may go on.  The
** message is lsm_errmsg(db), except for iterator calls (db NULL): lsm.h
** gives an iterator's error no message of its own, so for those the test
** reads the engine's per-thread message (util.h) right after the call.
*/
static int trialResult(Trial *t, lsm_db *db, int rc, const char *zCall){
  if( rc==LSM_OK ) return 1;
  if( rc==LSM_CORRUPT ){
    const char *zMsg = db ? lsm_errmsg(db) : lsmErrMsg();
    t->bCorrupt = 1;
    if( strstr(zMsg, t->d->zFile)==0 ){
      trialViolation(t, "%s: message does not name %s: %s", zCall,
                     t->d->zFile, zMsg);
    }
    return 0;
  }
  trialViolation(t, "%s: unexpected code %d: %s", zCall, rc,
                 db ? lsm_errmsg(db) : lsmErrMsg());
  return 0;
}

/* Does the entry (pKey, pVal) match key k of the state? */
static int entryIs(const Trial *t, int k, const void *pKey, size_t nKey,
                   const void *pVal, size_t nVal){
  char zKey[16], aVal[700];
  size_t nExp;
  keyName(k, zKey);
  if( nKey!=5 || memcmp(pKey, zKey, 5)!=0 ) return 0;
  nExp = valueMake(t->aLast[k], k, aVal);
  return nVal==nExp && (nVal==0 || memcmp(pVal, aVal, nVal)==0);
}

/* Scan the whole database one way, comparing with the state. */
static void trialScan(Trial *t, lsm_db *db, int bReverse){
  lsm_iter *pIter = 0;
  int rc = lsm_iter_new(db, 0, 0, 0, 0, 0, &pIter);
  int i;
  if( !trialResult(t, db, rc, "lsm_iter_new") ) return;
  rc = bReverse ? lsm_iter_last(pIter) : lsm_iter_first(pIter);
  for(i=0; rc==LSM_OK && i<CK_KEYS+CK_ABSENT; i++){
    int k = bReverse ? CK_KEYS+CK_ABSENT-1-i : i;
    const void *pKey, *pVal;
    size_t nKey, nVal;
    if( t->aLast[k]<0 ) continue;
    if( !lsm_iter_valid(pIter) ){
      rc = lsm_iter_status(pIter);
      if( rc==LSM_OK ) trialViolation(t, "scan ended before key %d", k);
      break;
    }
    pKey = lsm_iter_key(pIter, &nKey);
    pVal = lsm_iter_value(pIter, &nVal);
    if( !entryIs(t, k, pKey, nKey, pVal, nVal) ){
      trialViolation(t, "%s scan: wrong entry where key %d was expected",
                     bReverse ? "reverse" : "forward", k);
      break;
    }
    rc = bReverse ? lsm_iter_prev(pIter) : lsm_iter_next(pIter);
  }
  if( rc==LSM_OK && lsm_iter_valid(pIter) ){
    trialViolation(t, "scan returned a key that is not in the state");
  }
  if( rc==LSM_OK ) rc = lsm_iter_status(pIter);
  trialResult(t, 0, rc, bReverse ? "reverse scan" : "forward scan");
  lsm_iter_free(pIter);
}

/* Read every key with lsm_get. */
static void trialGets(Trial *t, lsm_db *db){
  int k;
  for(k=0; k<CK_KEYS+CK_ABSENT; k++){
    char zKey[16];
    void *pVal = 0;
    size_t nVal = 0;
    int rc;
    keyName(k, zKey);
    rc = lsm_get(db, 0, zKey, 5, &pVal, &nVal);
    if( rc==LSM_NOTFOUND ){
      if( t->aLast[k]>=0 ) trialViolation(t, "get key %d: not found", k);
    }else if( rc==LSM_OK ){
      if( t->aLast[k]<0 || !entryIs(t, k, zKey, 5, pVal, nVal) ){
        trialViolation(t, "get key %d: wrong value", k);
      }
    }else{
      trialResult(t, db, rc, "lsm_get");
    }
    lsm_free(pVal);
  }
}

/*
** Open the damaged copy, read everything, classify the outcome.  Tables
** are read through memory maps if bMmap (damage done before the open,
** which is all these trials do, must be caught the same way).
*/
static int trialRun(const Fixture *f, const Damage *d, int bMmap,
                    char *zViol, size_t nViol){
  static Trial t;
  lsm_options opts = ckOptions();
  lsm_db *db = 0;
  uint64_t iFloor, S;
  int bMustCorrupt, rc, eOutcome;

  memset(&t, 0, sizeof(t));
  t.f = f;
  t.d = d;
  opts.mmap_reads = bMmap;
  damageExpect(f, d, &iFloor, &bMustCorrupt);
  rc = lsm_open(f->zTrial, &opts, &db);
  if( rc!=LSM_OK ){
    trialResult(&t, db, rc, "lsm_open");
    lsm_close(db);
    if( rc==LSM_CORRUPT ){
      /* The failed open left the files as they were. */
      db = 0;
      rc = lsm_open(f->zTrial, &opts, &db);
      if( rc!=LSM_CORRUPT ){
        trialViolation(&t, "second open after LSM_CORRUPT gave %d", rc);
      }
      lsm_close(db);
    }
    eOutcome = O_CORRUPT_OPEN;
  }else{
    S = lsm_last_seq(db);
    if( S>(uint64_t)f->nOp || !f->abBoundary[S] ){
      trialViolation(&t, "recovered to sequence %llu, not the end of a commit",
                     (unsigned long long)S);
      S = (uint64_t)f->nOp;
    }
    modelState(f, S, t.aLast);
    trialScan(&t, db, 0);
    trialScan(&t, db, 1);
    trialGets(&t, db);
    rc = lsm_close(db);
    if( rc!=LSM_OK ) trialViolation(&t, "lsm_close: %d", rc);
    if( t.bCorrupt ){
      eOutcome = O_CORRUPT_READ;
    }else if( S==(uint64_t)f->nOp ){
      eOutcome = O_INTACT;
    }else{
      eOutcome = O_TAIL_LOST;
    }
    if( S<iFloor ){
      trialViolation(&t, "recovered to sequence %llu: commits up to %llu "
                     "were lost without an error", (unsigned long long)S,
                     (unsigned long long)iFloor);
    }
  }
  if( bMustCorrupt && !t.bCorrupt ){
    trialViolation(&t, "damage followed by good records was not reported "
                   "as corruption");
  }
  if( t.zViol[0] ){
    snprintf(zViol, nViol, "%s", t.zViol);
    return O_VIOLATION;
  }
  return eOutcome;
}

/**************************************************************************
** The test.
*/

static void onAlarm(int sig){
  static const char zMsg[] = "test_corrupt: hang (alarm)\n";
  (void)sig;
  if( write(2, zMsg, sizeof(zMsg)-1)<0 ) _exit(2);
  _exit(2);
}

static int setup(void **state){
  (void)state;
  pFix = calloc(1, sizeof(Fixture));
  if( pFix==0 ) return 1;
  pFix->zBase = testTempDir("corrupt");
  if( pFix->zBase==0 ) return 1;
  pFix->zPristine = pathJoin(pFix->zBase, "pristine");
  pFix->zTrial = pathJoin(pFix->zBase, "trial");
  signal(SIGALRM, onAlarm);
  alarm(CK_ALARM_SECS);
  return 0;
}

static int teardown(void **state){
  (void)state;
  alarm(0);
  testRmTree(pFix->zBase);
  free(pFix->zBase);
  free(pFix->zPristine);
  free(pFix->zTrial);
  free(pFix);
  return 0;
}

static void test_corruption(void **state){
  Fixture *f = pFix;
  static int aaCount[K_N][D_N][O_N];
  static char aaViol[CK_MAX_VIOL][640];
  int nViol = 0, nTrial = 0;
  uint64_t rng = 20240917;
  int eKind, eDamage, i, o;

  (void)state;
  memset(aaCount, 0, sizeof(aaCount));
  fixBuild(f);
  for(eKind=0; eKind<K_N; eKind++){
    for(eDamage=0; eDamage<D_N; eDamage++){
      int nRun = anTrial[eDamage];
      if( eDamage==D_DELETE && nRun>f->anFile[eKind] ) nRun = f->anFile[eKind];
      for(i=0; i<nRun; i++){
        Damage d;
        char zViol[256];
        char *zPath;
        int eOutcome;
        memset(&d, 0, sizeof(d));
        d.eKind = eKind;
        d.eDamage = eDamage;
        /* Tables take turns; each kind has one file of the others. */
        snprintf(d.zFile, sizeof(d.zFile), "%s",
                 f->azFile[eKind][(i + eDamage) % f->anFile[eKind]]);
        if( eKind==K_LOG && i==0 && eDamage==D_FLIP ){
          /* Damage to the last record alone reads as a torn tail. */
          const CkRec *pLast = &f->aRec[f->nRec-1];
          d.bAt = 1;
          d.iAt = pLast->iOff + 9 + (pLast->iEnd - pLast->iOff - 9)/2;
        }else if( eKind==K_LOG && i==0 && eDamage==D_TRUNC ){
          /* A cut at a record boundary leaves no trace at all. */
          d.bAt = 1;
          d.iAt = f->aRec[f->nRec/2].iOff;
        }
        testRmTree(f->zTrial);
        dirCopy(f->zPristine, f->zTrial);
        zPath = pathJoin(f->zTrial, d.zFile);
        damageApply(zPath, &d, &rng);
        free(zPath);
        eOutcome = trialRun(f, &d, (int)(nTrial & 1), zViol, sizeof(zViol));
        aaCount[eKind][eDamage][eOutcome]++;
        nTrial++;
        if( eOutcome==O_VIOLATION && nViol<CK_MAX_VIOL ){
          snprintf(aaViol[nViol++], sizeof(aaViol[0]),
                   "%s %s (%s, bytes %llu..%llu): %s", azKind[eKind],
                   azDamage[eDamage], d.zFile, (unsigned long long)d.iLo,
                   d.iHi==UINT64_MAX ? 0ull : (unsigned long long)d.iHi,
                   zViol);
        }
      }
    }
  }

  print_message("corruption: %d trials on a fixture of %d tables, a manifest, "
                "and a log of %d records; %d operations in all\n", nTrial,
                f->anFile[K_TABLE], f->nRec, f->nOp);
  print_message("%-9s %-17s", "file", "damage");
  for(o=0; o<O_N; o++) print_message(" %15s", azOutcome[o]);
  print_message("\n");
  for(eKind=0; eKind<K_N; eKind++){
    for(eDamage=0; eDamage<D_N; eDamage++){
      print_message("%-9s %-17s", azKind[eKind], azDamage[eDamage]);
      for(o=0; o<O_N; o++) print_message(" %15d", aaCount[eKind][eDamage][o]);
      print_message("\n");
    }
  }
  for(i=0; i<nViol; i++) print_message("violation: %s\n", aaViol[i]);
  if( nViol ) fail_msg("%d trials violated the corruption policy", nViol);
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_corruption, setup, teardown),
  };
  return cmocka_run_group_tests(tests, 0, 0);
}
