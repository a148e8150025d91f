/*
** test_compact.c -- levelled compaction, write stalls and amplification
** statistics, through the public API (plus one look inside the tables).
**
** What each test proves:
**
**   model        A seeded mix of puts, deletes, batches, gets, snapshots,
**                iterations, flushes and manual compactions at tiny sizes
**                (32 KiB memtables and tables, a 128 KiB level 1), so that
**                compactions run at every level, compared after every read
**                with a model.  Long-lived snapshots are read again and
**                again, in full, while compactions rewrite the tables
**                under them: their answers must never change.
**   tombstone    A deleted key whose old value lies deep in the tree stays
**                deleted while only the upper levels are compacted, after
**                a full compaction, and after reopening.  The tables are
**                inspected (white box) to see that a tombstone always lies
**                above the old value while the value exists.
**   space        Everything written, then deleted, then compacted: the
**                tables and the directory shrink below 1 MB.
**   snapshot     A full compaction under a live snapshot keeps the old
**                versions; after the snapshot is freed, the next full
**                compaction drops them (the table bytes say so).
**   power loss   A crash at every fsync of a compaction-heavy workload
**                leaves exactly the acknowledged state.
**   I/O errors   A failed compaction (manual or background, at any table
**                append) puts the engine in the error state: writes return
**                the error with its message, reads stay right, and
**                reopening recovers everything acknowledged.
**   threads      Writers owning key prefixes, readers, iterators and a
**                snapshot checker beside flushes and compactions (run it
**                under TSan).
**   stalls       Tiny level-0 thresholds: writers stall and resume with no
**                deadlock; a compaction failing while writers are stopped
**                releases them with the error.
**   stats        Write and space amplification and the other counters.
**
** Sizes can be changed from the environment: LSM_COMPACT_OPS (model
** operations), LSM_SPACE_MB (megabytes written by the space test),
** LSM_STALL_SECONDS (length of the stall run).  The defaults are smaller
** under sanitizers.  LSM_TEST_FILTER runs only the tests whose names
** match its pattern ("test_model", "test_io*").  A watchdog aborts the
** program if a threaded test runs far past its time (a deadlock), so that
** a hang is a failure, not a stuck suite.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lsm.h"
#include "coding.h"
#include "dbint.h"
#include "ikey.h"
#include "iter.h"
#include "table.h"
#include "version.h"
#include "support/testenv.h"
#include "support/testutil.h"

/* SANITIZED: 0 plain, 1 AddressSanitizer, 2 ThreadSanitizer (slowest). */
#if defined(__SANITIZE_THREAD__)
# define SANITIZED 2
#elif defined(__SANITIZE_ADDRESS__)
# define SANITIZED 1
#elif defined(__has_feature)
# if __has_feature(thread_sanitizer)
#  define SANITIZED 2
# elif __has_feature(address_sanitizer)
#  define SANITIZED 1
# endif
#endif
#ifndef SANITIZED
# define SANITIZED 0
#endif

static char *zDir;

static int setup(void **state){
  (void)state;
  zDir = testTempDir("compact");
  return zDir==0;
}

static int teardown(void **state){
  (void)state;
  testRmTree(zDir);
  free(zDir);
  return 0;
}

/**************************************************************************
** Helpers.
*/

/* The positive integer in environment variable zName, else iDefault. */
static uint64_t envSize(const char *zName, uint64_t iDefault){
  const char *z = getenv(zName);
  char *zEnd = 0;
  unsigned long long v;
  if( z==0 || *z==0 ) return iDefault;
  v = strtoull(z, &zEnd, 10);
  return (*zEnd==0 && v>0) ? (uint64_t)v : iDefault;
}

static double nowSeconds(void){
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec*1e-9;
}

static void sleepMs(int nMs){
  struct timespec ts;
  ts.tv_sec = nMs/1000;
  ts.tv_nsec = (long)(nMs%1000)*1000000L;
  nanosleep(&ts, 0);
}

static lsm_db *openDb(const lsm_options *pOpts){
  lsm_db *db = 0;
  int rc = lsm_open(zDir, pOpts, &db);
  if( rc!=LSM_OK ) fail_msg("lsm_open: %d %s", rc, lsm_errmsg(db));
  return db;
}

static void getStats(lsm_db *db, lsm_stats *p){
  assert_int_equal(lsm_get_stats(db, p), LSM_OK);
}

/* Deepest level holding a table, or -1. */
static int deepestLevel(const lsm_stats *p){
  int i, iDeep = -1;
  for(i=0; i<LSM_MAX_LEVELS; i++) if( p->anLevelFiles[i] ) iDeep = i;
  return iDeep;
}

/* Bytes of the regular files in zPath; *pnSst (if not NULL) gets the
** bytes of the .sst files alone. */
static uint64_t dirBytes(const char *zPath, uint64_t *pnSst){
  DIR *pDir = opendir(zPath);
  struct dirent *pEnt;
  uint64_t nAll = 0, nSst = 0;
  if( pDir==0 ) fail_msg("opendir %s", zPath);
  while( (pEnt = readdir(pDir))!=0 ){
    char zFull[512];
    struct stat st;
    size_t n = strlen(pEnt->d_name);
    snprintf(zFull, sizeof(zFull), "%s/%s", zPath, pEnt->d_name);
    if( stat(zFull, &st)!=0 || !S_ISREG(st.st_mode) ) continue;
    nAll += (uint64_t)st.st_size;
    if( n>4 && strcmp(pEnt->d_name+n-4, ".sst")==0 ) nSst += (uint64_t)st.st_size;
  }
  closedir(pDir);
  if( pnSst ) *pnSst = nSst;
  return nAll;
}

/* n bytes of fill character c, starting with the text of zHead (no NUL). */
static void fillVal(char *z, size_t n, int c, const char *zHead){
  size_t nHead = strlen(zHead);
  memset(z, c, n);
  memcpy(z, zHead, nHead<n ? nHead : n);
}

static void putStr(lsm_db *db, const char *zKey, const char *zVal){
  int rc = lsm_put(db, zKey, strlen(zKey), zVal, strlen(zVal));
  if( rc!=LSM_OK ) fail_msg("put %s: %d %s", zKey, rc, lsm_errmsg(db));
}

/* Assert zKey holds zVal (NULL: absent) as of pSnap. */
static void checkStr(lsm_db *db, const lsm_snapshot *pSnap,
                     const char *zKey, const char *zVal){
  void *pVal = 0;
  size_t nVal = 0;
  int rc = lsm_get(db, pSnap, zKey, strlen(zKey), &pVal, &nVal);
  if( zVal==0 ){
    if( rc!=LSM_NOTFOUND ) fail_msg("get %s: rc=%d, expected not found", zKey, rc);
  }else{
    if( rc!=LSM_OK ) fail_msg("get %s: rc=%d %s", zKey, rc, lsm_errmsg(db));
    assert_int_equal(nVal, strlen(zVal));
    assert_memory_equal(pVal, zVal, nVal);
  }
  lsm_free(pVal);
}

/*
** Tiny sizes: a flush every few hundred writes, level 1 full after four
** tables, so every level sees compactions.
*/
static void tinyOptions(lsm_options *p){
  lsm_options_init(p);
  p->sync_mode = LSM_SYNC_OFF;
  p->memtable_size = 32<<10;
  p->table_size = 32<<10;
  p->level1_size = 128<<10;
  p->l0_trigger = 2;
  p->l0_slowdown = 8;
  p->l0_stop = 16;
  p->block_size = 1024;
  p->cache_size = 256<<10;
}

/*
** The watchdog: a thread that aborts the program if the test that
** started it has not stopped it within nSec seconds.  A deadlock would
** otherwise hang the suite instead of failing it.
*/
typedef struct Watchdog {
  pthread_t tid;
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  int bDone;
  int nSec;
  const char *zWhat;
} Watchdog;

static void *watchdogMain(void *pArg){
  Watchdog *p = (Watchdog*)pArg;
  struct timespec deadline;
  int bDone;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += p->nSec;
  pthread_mutex_lock(&p->mutex);
  while( !p->bDone ){
    if( pthread_cond_timedwait(&p->cond, &p->mutex, &deadline)!=0 ) break;
  }
  bDone = p->bDone;
  pthread_mutex_unlock(&p->mutex);
  if( !bDone ){
    fprintf(stderr, "watchdog: %s still running after %d s: deadlock?\n",
            p->zWhat, p->nSec);
    abort();
  }
  return 0;
}

static void watchdogStart(Watchdog *p, int nSec, const char *zWhat){
  memset(p, 0, sizeof(*p));
  pthread_mutex_init(&p->mutex, 0);
  pthread_cond_init(&p->cond, 0);
  p->nSec = nSec;
  p->zWhat = zWhat;
  assert_int_equal(pthread_create(&p->tid, 0, watchdogMain, p), 0);
}

static void watchdogStop(Watchdog *p){
  pthread_mutex_lock(&p->mutex);
  p->bDone = 1;
  pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->mutex);
  pthread_join(p->tid, 0);
  pthread_mutex_destroy(&p->mutex);
  pthread_cond_destroy(&p->cond);
}

/**************************************************************************
** The model test at scale.
**
** Keys are "k000000".."k039999"; the model holds, per key, the number of
** the value written last (or -1).  Value number v is 12..59 bytes: v in
** decimal, then letters from a generator seeded by v, so a wrong or stale
** value never passes for the right one.
*/

#define MK_KEYS   40000
#define MK_SHORT  4            /* short-lived snapshot slots */
#define MK_LONG   2            /* long-lived snapshot slots */

typedef struct ModelSnap {
  lsm_snapshot *pSnap;
  int32_t *aVal;               /* the model as of the snapshot */
  uint64_t iTaken;             /* operation that took it */
} ModelSnap;

/* "k" and i in six digits (0 <= i <= MK_KEYS). */
static void mkKey(int i, char *z){
  int j;
  z[0] = 'k';
  for(j=6; j>=1; j--){
    z[j] = (char)('0' + i%10);
    i /= 10;
  }
  z[7] = 0;
}

static size_t mkVal(int32_t v, char *z){
  uint64_t r = (uint64_t)v;
  size_t n = 12 + testRandRange(&r, 48);
  size_t i;
  snprintf(z, 12, "%010d:", v);
  for(i=11; i<n; i++) z[i] = (char)('a' + testRandRange(&r, 26));
  return n;
}

static void mkCheckGet(lsm_db *db, const lsm_snapshot *pSnap,
                       const int32_t *aVal, int k, uint64_t op){
  char zK[8], zV[96];
  void *pVal = 0;
  size_t nVal = 0;
  int rc;
  mkKey(k, zK);
  rc = lsm_get(db, pSnap, zK, 7, &pVal, &nVal);
  if( aVal[k]<0 ){
    if( rc!=LSM_NOTFOUND ){
      fail_msg("op %llu: get %s%s: rc=%d, expected not found",
               (unsigned long long)op, zK, pSnap ? " (snapshot)" : "", rc);
    }
  }else{
    size_t n = mkVal(aVal[k], zV);
    if( rc!=LSM_OK ){
      fail_msg("op %llu: get %s%s: rc=%d %s", (unsigned long long)op, zK,
               pSnap ? " (snapshot)" : "", rc, lsm_errmsg(db));
    }
    if( nVal!=n || memcmp(pVal, zV, n)!=0 ){
      fail_msg("op %llu: get %s%s: wrong value %.*s, expected %.*s",
               (unsigned long long)op, zK, pSnap ? " (snapshot)" : "",
               (int)(nVal<11 ? nVal : 11), (const char*)pVal, 11, zV);
    }
  }
  lsm_free(pVal);
}

/*
** Walk keys [lo, hi) of the model with an iterator over the same bounds
** (or unbounded if !bBounded, then lo=0 and hi=MK_KEYS), forward or in
** reverse, starting at iStart through a seek if iStart>=0, for at most
** nMax entries (0: to the end), comparing every key and value.
*/
static void mkCheckIter(lsm_db *db, const lsm_snapshot *pSnap,
                        const int32_t *aVal, int lo, int hi, int bBounded,
                        int bReverse, int iStart, int nMax, uint64_t op){
  lsm_iter *it = 0;
  char zLo[8], zHi[8], zS[8];
  int i, rc, nSeen = 0;
  int iDir = bReverse ? -1 : 1;
  mkKey(lo, zLo);
  mkKey(hi, zHi);
  rc = lsm_iter_new(db, pSnap, bBounded ? zLo : 0, 7, bBounded ? zHi : 0, 7, &it);
  if( rc!=LSM_OK ) fail_msg("op %llu: lsm_iter_new: %d", (unsigned long long)op, rc);
  if( iStart>=0 ){
    mkKey(iStart, zS);
    rc = bReverse ? lsm_iter_seek_le(it, zS, 7) : lsm_iter_seek(it, zS, 7);
    i = iStart;
  }else{
    rc = bReverse ? lsm_iter_last(it) : lsm_iter_first(it);
    i = bReverse ? hi-1 : lo;
  }
  if( rc!=LSM_OK ) fail_msg("op %llu: iterator position: %d", (unsigned long long)op, rc);
  for(;;){
    char zK[8], zV[96];
    const void *p;
    size_t n, nV;
    while( i>=lo && i<hi && aVal[i]<0 ) i += iDir;
    if( i<lo || i>=hi ){
      if( lsm_iter_valid(it) ){
        p = lsm_iter_key(it, &n);
        fail_msg("op %llu: iterator shows %.*s past the last key",
                 (unsigned long long)op, (int)n, (const char*)p);
      }
      break;
    }
    if( nMax && nSeen==nMax ) break;
    mkKey(i, zK);
    if( !lsm_iter_valid(it) ){
      fail_msg("op %llu: iterator%s ended before %s (status %d)",
               (unsigned long long)op, pSnap ? " (snapshot)" : "", zK,
               lsm_iter_status(it));
    }
    p = lsm_iter_key(it, &n);
    if( n!=7 || memcmp(p, zK, 7)!=0 ){
      fail_msg("op %llu: iterator%s shows %.*s, expected %s",
               (unsigned long long)op, pSnap ? " (snapshot)" : "",
               (int)n, (const char*)p, zK);
    }
    nV = mkVal(aVal[i], zV);
    p = lsm_iter_value(it, &n);
    if( n!=nV || memcmp(p, zV, n)!=0 ){
      fail_msg("op %llu: iterator%s: wrong value for %s",
               (unsigned long long)op, pSnap ? " (snapshot)" : "", zK);
    }
    nSeen++;
    rc = bReverse ? lsm_iter_prev(it) : lsm_iter_next(it);
    if( rc!=LSM_OK ) fail_msg("op %llu: iterator step: %d", (unsigned long long)op, rc);
    i += iDir;
  }
  assert_int_equal(lsm_iter_status(it), LSM_OK);
  lsm_iter_free(it);
}

static void mkSnapTake(lsm_db *db, ModelSnap *p, const int32_t *aVal, uint64_t op){
  if( p->pSnap ) lsm_snapshot_free(db, p->pSnap);
  assert_int_equal(lsm_snapshot_new(db, &p->pSnap), LSM_OK);
  memcpy(p->aVal, aVal, sizeof(int32_t)*MK_KEYS);
  p->iTaken = op;
}

static void mkSnapDrop(lsm_db *db, ModelSnap *p){
  lsm_snapshot_free(db, p->pSnap);
  p->pSnap = 0;
}

static void test_model(void **state){
  uint64_t nOp = envSize("LSM_COMPACT_OPS",
                         SANITIZED==2 ? 50000 : SANITIZED ? 200000 : 2000000);
  /* A long-lived snapshot sees about a hundred compactions; longer would
  ** only pin more versions (the oldest snapshot holds back everything
  ** newer) and slow the test down. */
  uint64_t nLongPeriod = nOp/5 < 20000 ? 20000 : nOp/5 > 150000 ? 150000 : nOp/5;
  uint64_t nCheckPeriod = nOp/40 > 5000 ? nOp/40 : 5000;
  uint64_t nReopenPeriod = nOp/4 > 10000 ? nOp/4 : 10000;
  static int32_t aVal[MK_KEYS];
  ModelSnap aShort[MK_SHORT], aLong[MK_LONG];
  int32_t *aSnapMem;
  lsm_options opts;
  lsm_batch *pBatch = 0;
  lsm_stats st;
  lsm_db *db;
  uint64_t r = 20240601, op;
  int32_t iNextVal = 0;
  int i, iMaxDeep = 0, nFullChecks = 0;
  double t0 = nowSeconds();
  (void)state;

  tinyOptions(&opts);
  testRmTree(zDir);
  db = openDb(&opts);
  for(i=0; i<MK_KEYS; i++) aVal[i] = -1;
  aSnapMem = malloc(sizeof(int32_t)*MK_KEYS*(MK_SHORT+MK_LONG));
  assert_non_null(aSnapMem);
  memset(aShort, 0, sizeof(aShort));
  memset(aLong, 0, sizeof(aLong));
  for(i=0; i<MK_SHORT; i++) aShort[i].aVal = aSnapMem + MK_KEYS*i;
  for(i=0; i<MK_LONG; i++) aLong[i].aVal = aSnapMem + MK_KEYS*(MK_SHORT+i);
  assert_int_equal(lsm_batch_new(&pBatch), LSM_OK);

  for(op=0; op<nOp; op++){
    uint32_t x = testRandRange(&r, 100000);
    int k = (int)testRandRange(&r, MK_KEYS);
    char zK[8], zV[96];
    int rc;
    mkKey(k, zK);
    if( x<48000 ){
      size_t nV = mkVal(iNextVal, zV);
      rc = lsm_put(db, zK, 7, zV, nV);
      if( rc!=LSM_OK ) fail_msg("op %llu: put: %d %s", (unsigned long long)op, rc, lsm_errmsg(db));
      aVal[k] = iNextVal++;
    }else if( x<60000 ){
      rc = lsm_delete(db, zK, 7);
      if( rc!=LSM_OK ) fail_msg("op %llu: delete: %d %s", (unsigned long long)op, rc, lsm_errmsg(db));
      aVal[k] = -1;
    }else if( x<63000 ){
      /* A batch over nearby keys, some repeated: the last op wins. */
      int nB = 2 + (int)testRandRange(&r, 8), j;
      int aK[10];
      int32_t aV[10];
      assert_int_equal(lsm_batch_clear(pBatch), LSM_OK);
      for(j=0; j<nB; j++){
        aK[j] = (k + (int)testRandRange(&r, 40)) % MK_KEYS;
        mkKey(aK[j], zK);
        if( testRandRange(&r, 4)==0 ){
          aV[j] = -1;
          assert_int_equal(lsm_batch_delete(pBatch, zK, 7), LSM_OK);
        }else{
          size_t nV = mkVal(iNextVal, zV);
          aV[j] = iNextVal++;
          assert_int_equal(lsm_batch_put(pBatch, zK, 7, zV, nV), LSM_OK);
        }
      }
      rc = lsm_write(db, pBatch);
      if( rc!=LSM_OK ) fail_msg("op %llu: write: %d %s", (unsigned long long)op, rc, lsm_errmsg(db));
      for(j=0; j<nB; j++) aVal[aK[j]] = aV[j];
    }else if( x<83000 ){
      mkCheckGet(db, 0, aVal, k, op);
    }else if( x<89000 ){
      ModelSnap *p = &aShort[testRandRange(&r, MK_SHORT)];
      if( p->pSnap ) mkCheckGet(db, p->pSnap, p->aVal, k, op);
      else mkCheckGet(db, 0, aVal, k, op);
    }else if( x<95000 ){
      ModelSnap *p = &aLong[testRandRange(&r, MK_LONG)];
      if( p->pSnap ) mkCheckGet(db, p->pSnap, p->aVal, k, op);
      else mkCheckGet(db, 0, aVal, k, op);
    }else if( x<95400 ){
      mkSnapTake(db, &aShort[testRandRange(&r, MK_SHORT)], aVal, op);
    }else if( x<99970 ){
      /* A short walk: random bounds, direction, start, read point. */
      uint32_t s = testRandRange(&r, MK_SHORT + MK_LONG + 1);
      const lsm_snapshot *pSnap = 0;
      const int32_t *a = aVal;
      int lo = k, hi = k + 1 + (int)testRandRange(&r, 2000);
      int bBounded = (int)testRandRange(&r, 2);
      int bReverse = (int)testRandRange(&r, 2);
      int iStart = -1;
      if( hi>MK_KEYS ) hi = MK_KEYS;
      if( !bBounded ){ lo = 0; hi = MK_KEYS; }
      if( testRandRange(&r, 2) ) iStart = lo + (int)testRandRange(&r, (uint32_t)(hi-lo));
      if( s<MK_SHORT && aShort[s].pSnap ){
        pSnap = aShort[s].pSnap;
        a = aShort[s].aVal;
      }else if( s>=MK_SHORT && s<MK_SHORT+MK_LONG && aLong[s-MK_SHORT].pSnap ){
        pSnap = aLong[s-MK_SHORT].pSnap;
        a = aLong[s-MK_SHORT].aVal;
      }
      mkCheckIter(db, pSnap, a, lo, hi, bBounded, bReverse, iStart, 30, op);
    }else if( x<99990 ){
      rc = lsm_flush(db);
      if( rc!=LSM_OK ) fail_msg("op %llu: flush: %d %s", (unsigned long long)op, rc, lsm_errmsg(db));
    }else if( x<99999 ){
      char zHi[8];
      mkKey(k + (int)testRandRange(&r, 4000), zHi);
      rc = lsm_compact(db, zK, 7, zHi, 7);
      if( rc!=LSM_OK ) fail_msg("op %llu: compact range: %d %s", (unsigned long long)op, rc, lsm_errmsg(db));
    }else{
      rc = lsm_compact(db, 0, 0, 0, 0);
      if( rc!=LSM_OK ) fail_msg("op %llu: compact: %d %s", (unsigned long long)op, rc, lsm_errmsg(db));
    }

    /* Long-lived snapshots: each lives nLongPeriod operations, checked in
    ** full before it is dropped, the two staggered by half a period. */
    for(i=0; i<MK_LONG; i++){
      if( op % nLongPeriod == (uint64_t)i*(nLongPeriod/MK_LONG) ){
        ModelSnap *p = &aLong[i];
        if( p->pSnap ){
          mkCheckIter(db, p->pSnap, p->aVal, 0, MK_KEYS, 0, 0, -1, 0, op);
          nFullChecks++;
        }
        mkSnapTake(db, p, aVal, op);
      }
    }
    if( op % nCheckPeriod == nCheckPeriod-1 ){
      int iSlot = (int)((op / nCheckPeriod) % MK_LONG);
      int bReverse = (int)((op / nCheckPeriod / MK_LONG) % 2);
      if( aLong[iSlot].pSnap ){
        mkCheckIter(db, aLong[iSlot].pSnap, aLong[iSlot].aVal, 0, MK_KEYS,
                    0, bReverse, -1, 0, op);
        nFullChecks++;
      }
      mkCheckIter(db, 0, aVal, 0, MK_KEYS, 0, !bReverse, -1, 0, op);
      getStats(db, &st);
      if( deepestLevel(&st)>iMaxDeep ) iMaxDeep = deepestLevel(&st);
      assert_int_equal(st.error_code, 0);
    }
    if( op % nReopenPeriod == nReopenPeriod-1 && op+1<nOp ){
      for(i=0; i<MK_SHORT; i++) mkSnapDrop(db, &aShort[i]);
      for(i=0; i<MK_LONG; i++) mkSnapDrop(db, &aLong[i]);
      assert_int_equal(lsm_close(db), LSM_OK);
      db = openDb(&opts);
      mkCheckIter(db, 0, aVal, 0, MK_KEYS, 0, 0, -1, 0, op);
      for(i=0; i<MK_LONG; i++) mkSnapTake(db, &aLong[i], aVal, op);
    }
  }

  getStats(db, &st);
  if( deepestLevel(&st)>iMaxDeep ) iMaxDeep = deepestLevel(&st);
  print_message("model: %llu ops in %.1f s, %llu compactions, %llu flushes, "
                "deepest level %d, %d full snapshot checks, write amp %.2f, "
                "%llu stalls (%.1f s)\n", (unsigned long long)nOp,
                nowSeconds()-t0, (unsigned long long)st.compactions,
                (unsigned long long)st.flushes, iMaxDeep, nFullChecks,
                st.write_amp, (unsigned long long)st.stalls,
                (double)st.stall_us/1e6);
  for(i=0; i<LSM_MAX_LEVELS; i++){
    if( st.anLevelFiles[i] ){
      print_message("model: level %d: %d tables, %llu KiB\n", i,
                    st.anLevelFiles[i],
                    (unsigned long long)(st.anLevelBytes[i]>>10));
    }
  }
  for(i=0; i<MK_KEYS; i++) mkCheckGet(db, 0, aVal, i, nOp);
  for(i=0; i<MK_LONG; i++){
    if( aLong[i].pSnap ){
      mkCheckIter(db, aLong[i].pSnap, aLong[i].aVal, 0, MK_KEYS, 0, 1, -1, 0, nOp);
    }
  }
  for(i=0; i<MK_SHORT; i++) mkSnapDrop(db, &aShort[i]);
  for(i=0; i<MK_LONG; i++) mkSnapDrop(db, &aLong[i]);
  assert_int_equal(lsm_close(db), LSM_OK);
  db = openDb(&opts);
  mkCheckIter(db, 0, aVal, 0, MK_KEYS, 0, 0, -1, 0, nOp);
  assert_int_equal(lsm_close(db), LSM_OK);
  lsm_batch_free(pBatch);
  free(aSnapMem);
  if( nOp>=100000 ){
    /* Enough work for every level to have been compacted. */
    assert_true(iMaxDeep>=3);
    assert_true(st.compactions >= nOp/5000);
  }
}

/**************************************************************************
** Tombstone resurrection.
*/

/*
** Which levels of db's current version hold versions of user key zKey:
** aMask[i] has bit 1 if level i holds a tombstone of it, bit 2 if a value.
** Reads the tables directly, below the merging that hides versions.
*/
static void keyLevels(lsm_db *db, const char *zKey, int *aMask){
  size_t nKey = strlen(zKey);
  uint8_t aSeek[64];
  LsmVersion *v;
  int i, j;
  assert_true(nKey + LSM_IKEY_TRAILER <= sizeof(aSeek));
  memcpy(aSeek, zKey, nKey);
  lsmPut64(aSeek + nKey, lsmIkeyLookupTrailer(LSM_MAX_SEQ));
  pthread_mutex_lock(&db->mutex);
  v = lsmVersionCurrent(db->pVs);
  pthread_mutex_unlock(&db->mutex);
  for(i=0; i<LSM_NUM_LEVELS; i++){
    aMask[i] = 0;
    for(j=0; j<v->anFile[i]; j++){
      const LsmFileMeta *m = v->aapFile[i][j];
      LsmTable *pTable = 0;
      LsmIter *pIter = 0;
      if( !lsmFileOverlaps(m, (const uint8_t*)zKey, nKey, 0, 0) ) continue;
      assert_int_equal(lsmTableCacheGet(db->pVs->pTableCache, m->iFile, &pTable), LSM_OK);
      assert_int_equal(lsmTableIterNew(pTable, 0, &pIter), LSM_OK);
      lsmTableUnref(pTable);
      assert_int_equal(lsmIterSeek(pIter, aSeek, nKey + LSM_IKEY_TRAILER), LSM_OK);
      while( lsmIterValid(pIter) ){
        const uint8_t *pK;
        size_t nK;
        lsmIterKey(pIter, &pK, &nK);
        if( lsmUkeyCompare(pK, lsmIkeyUserLen(nK), (const uint8_t*)zKey, nKey) ) break;
        aMask[i] |= lsmIkeyKind(pK, nK)==LSM_KIND_DELETE ? 1 : 2;
        assert_int_equal(lsmIterNext(pIter), LSM_OK);
      }
      lsmIterClose(pIter);
    }
  }
  lsmVersionUnref(v);
}

/* Shallowest level with bit in aMask, deepest if bDeepest; -1 if none. */
static int maskLevel(const int *aMask, int bit, int bDeepest){
  int i, iFound = -1;
  for(i=0; i<LSM_NUM_LEVELS; i++){
    if( aMask[i] & bit ){
      iFound = i;
      if( !bDeepest ) break;
    }
  }
  return iFound;
}

#define TS_FILLER 20000
static const char *zVictim = "f010000v";   /* between f010000 and f010001 */

static void tsFiller(lsm_db *db, int i, uint32_t iGen){
  char zK[16], zV[96], zHead[32];
  snprintf(zK, sizeof(zK), "f%06d", i);
  snprintf(zHead, sizeof(zHead), "%s-gen%u", zK, iGen);
  fillVal(zV, 80, 'a' + (int)(iGen%26), zHead);
  assert_int_equal(lsm_put(db, zK, strlen(zK), zV, 80), LSM_OK);
}

static void test_tombstone_resurrection(void **state){
  lsm_options opts;
  lsm_stats st;
  lsm_db *db;
  int aMask[LSM_NUM_LEVELS];
  int i, iRound, iDeep, iVal = -1, iDel = -1;
  int iDelDeepestSeen = 0;
  uint64_t r = 77;
  (void)state;

  lsm_options_init(&opts);
  opts.sync_mode = LSM_SYNC_OFF;
  opts.memtable_size = 16<<10;
  opts.table_size = 16<<10;
  opts.level1_size = 64<<10;
  opts.l0_trigger = 2;
  opts.block_size = 1024;
  opts.compression = LSM_COMPRESSION_NONE;
  testRmTree(zDir);
  db = openDb(&opts);

  /* The old value, then enough data around it for several levels, all
  ** pushed to the deepest level. */
  putStr(db, zVictim, "old value");
  for(i=0; i<TS_FILLER; i++) tsFiller(db, i, 0);
  assert_int_equal(lsm_compact(db, 0, 0, 0, 0), LSM_OK);
  getStats(db, &st);
  iDeep = deepestLevel(&st);
  assert_true(iDeep>=3);
  for(i=0; i<iDeep; i++) assert_int_equal(st.anLevelFiles[i], 0);
  keyLevels(db, zVictim, aMask);
  assert_int_equal(maskLevel(aMask, 2, 0), iDeep);
  assert_int_equal(maskLevel(aMask, 1, 0), -1);

  /* Delete it; the tombstone goes to level 0. */
  assert_int_equal(lsm_delete(db, zVictim, strlen(zVictim)), LSM_OK);
  assert_int_equal(lsm_flush(db), LSM_OK);
  checkStr(db, 0, zVictim, 0);

  /* Only automatic compactions now, driven by overwrites of the filler:
  ** they move the tombstone down level by level.  At every moment the old
  ** value, while it exists, must have a tombstone above it. */
  for(iRound=0; iRound<400; iRound++){
    for(i=0; i<400; i++){
      tsFiller(db, (int)testRandRange(&r, TS_FILLER), 1 + (uint32_t)iRound);
    }
    checkStr(db, 0, zVictim, 0);
    keyLevels(db, zVictim, aMask);
    iVal = maskLevel(aMask, 2, 1);
    iDel = maskLevel(aMask, 1, 0);
    if( iVal>=0 ){
      if( iDel<0 || iDel>=iVal ){
        fail_msg("round %d: the old value at level %d has no tombstone "
                 "above it (tombstone level %d)", iRound, iVal, iDel);
      }
      if( iDel>iDelDeepestSeen ) iDelDeepestSeen = iDel;
      if( iDel==iVal-1 ) break;     /* one step from meeting it */
    }else{
      break;                        /* they met in a compaction */
    }
  }
  print_message("tombstone: old value at level %d, tombstone reached level %d "
                "after %d rounds (value now at %d)\n", iDeep, iDelDeepestSeen,
                iRound, iVal);
  /* The dangerous state was reached: the tombstone was compacted out of
  ** level 0 while the value still lay deeper. */
  assert_true(iDelDeepestSeen>=1);
  getStats(db, &st);
  assert_int_equal(st.error_code, 0);

  /* Everything compacted: both versions go, nothing comes back. */
  assert_int_equal(lsm_compact(db, 0, 0, 0, 0), LSM_OK);
  checkStr(db, 0, zVictim, 0);
  keyLevels(db, zVictim, aMask);
  for(i=0; i<LSM_NUM_LEVELS; i++){
    if( aMask[i] ) fail_msg("after a full compaction level %d still holds "
                            "versions of the deleted key (mask %d)", i, aMask[i]);
  }
  assert_int_equal(lsm_close(db), LSM_OK);
  db = openDb(&opts);
  checkStr(db, 0, zVictim, 0);
  {
    /* Its neighbours are untouched. */
    void *pVal = 0;
    size_t nVal = 0;
    assert_int_equal(lsm_get(db, 0, "f010000", 7, &pVal, &nVal), LSM_OK);
    assert_int_equal(nVal, 80);
    assert_memory_equal(pVal, "f010000-gen", 11);
    lsm_free(pVal);
  }
  assert_int_equal(lsm_close(db), LSM_OK);
}

/**************************************************************************
** Space is reclaimed.
*/

static void spKey(uint64_t i, char *z){
  uint64_t s = i;
  snprintf(z, 17, "%016llx", (unsigned long long)testRand(&s));
}

static void test_space_reclaimed(void **state){
  uint64_t nMB = envSize("LSM_SPACE_MB", SANITIZED==2 ? 16 : SANITIZED ? 64 : 200);
  uint64_t nEntry = nMB*1024*1024 / 116;
  lsm_options opts;
  lsm_batch *b = 0;
  lsm_stats st;
  lsm_db *db;
  lsm_iter *it = 0;
  uint64_t i, r = 5, nDir, nSst;
  double t0 = nowSeconds(), tWrite, tDelete;
  (void)state;

  lsm_options_init(&opts);
  opts.sync_mode = LSM_SYNC_OFF;
  testRmTree(zDir);
  db = openDb(&opts);
  assert_int_equal(lsm_batch_new(&b), LSM_OK);
  for(i=0; i<nEntry; i++){
    char zK[17];
    uint8_t aV[100];
    int j;
    spKey(i, zK);
    for(j=0; j<100; j+=8){
      uint64_t x = testRand(&r);
      memcpy(aV+j, &x, (size_t)(100-j<8 ? 100-j : 8));
    }
    assert_int_equal(lsm_batch_put(b, zK, 16, aV, 100), LSM_OK);
    if( lsm_batch_count(b)==100 || i==nEntry-1 ){
      int rc = lsm_write(db, b);
      if( rc!=LSM_OK ) fail_msg("write: %d %s", rc, lsm_errmsg(db));
      assert_int_equal(lsm_batch_clear(b), LSM_OK);
    }
  }
  assert_int_equal(lsm_flush(db), LSM_OK);
  tWrite = nowSeconds() - t0;
  nDir = dirBytes(zDir, &nSst);
  /* The data really is on disk (values do not compress). */
  assert_true(nSst >= nEntry*100);

  for(i=0; i<nEntry; i++){
    char zK[17];
    spKey(i, zK);
    assert_int_equal(lsm_batch_delete(b, zK, 16), LSM_OK);
    if( lsm_batch_count(b)==1000 || i==nEntry-1 ){
      int rc = lsm_write(db, b);
      if( rc!=LSM_OK ) fail_msg("delete: %d %s", rc, lsm_errmsg(db));
      assert_int_equal(lsm_batch_clear(b), LSM_OK);
    }
  }
  tDelete = nowSeconds() - t0 - tWrite;
  assert_int_equal(lsm_compact(db, 0, 0, 0, 0), LSM_OK);
  getStats(db, &st);
  print_message("space: %llu MB written (%llu entries, %.1f s), %.1f MB on disk; "
                "deleted (%.1f s); compacted (%.1f s): table bytes %llu, "
                "directory %llu bytes\n", (unsigned long long)nMB,
                (unsigned long long)nEntry, tWrite, (double)nDir/1048576.0,
                tDelete, nowSeconds()-t0-tWrite-tDelete,
                (unsigned long long)st.table_bytes,
                (unsigned long long)dirBytes(zDir, 0));
  assert_true(st.table_bytes < 1000000);
  assert_true(dirBytes(zDir, &nSst) < 1000000);
  assert_true(nSst < 1000000);

  /* Nothing is left to read, now or after reopening. */
  assert_int_equal(lsm_iter_new(db, 0, 0, 0, 0, 0, &it), LSM_OK);
  assert_int_equal(lsm_iter_first(it), LSM_OK);
  assert_false(lsm_iter_valid(it));
  lsm_iter_free(it);
  assert_int_equal(lsm_close(db), LSM_OK);
  assert_true(dirBytes(zDir, 0) < 1000000);
  db = openDb(&opts);
  assert_int_equal(lsm_iter_new(db, 0, 0, 0, 0, 0, &it), LSM_OK);
  assert_int_equal(lsm_iter_first(it), LSM_OK);
  assert_false(lsm_iter_valid(it));
  assert_int_equal(lsm_iter_status(it), LSM_OK);
  lsm_iter_free(it);
  assert_int_equal(lsm_close(db), LSM_OK);
  lsm_batch_free(b);
}

/**************************************************************************
** Snapshots keep old versions through a full compaction, and only while
** they live.
*/

#define SN_KEYS 4000

static void snVal(int i, int iGen, char *z){
  char zHead[32];
  snprintf(zHead, sizeof(zHead), "s%05d-gen%d", i, iGen);
  fillVal(z, 200, 'A' + iGen, zHead);
}

static void test_snapshot_full_compaction(void **state){
  lsm_options opts;
  lsm_snapshot *pSnap = 0;
  lsm_stats st;
  lsm_db *db;
  lsm_iter *it = 0;
  uint64_t nBase, nWithSnap, nAfter, nSst;
  int i;
  (void)state;

  lsm_options_init(&opts);
  opts.sync_mode = LSM_SYNC_OFF;
  opts.memtable_size = 64<<10;
  opts.table_size = 64<<10;
  opts.level1_size = 256<<10;
  opts.compression = LSM_COMPRESSION_NONE;
  opts.l0_trigger = 2;
  testRmTree(zDir);
  db = openDb(&opts);
  for(i=0; i<SN_KEYS; i++){
    char zK[16], zV[200];
    snprintf(zK, sizeof(zK), "s%05d", i);
    snVal(i, 0, zV);
    assert_int_equal(lsm_put(db, zK, 6, zV, 200), LSM_OK);
  }
  assert_int_equal(lsm_compact(db, 0, 0, 0, 0), LSM_OK);
  getStats(db, &st);
  nBase = st.table_bytes;

  /* Overwrite every key and delete a quarter of them under a snapshot. */
  assert_int_equal(lsm_snapshot_new(db, &pSnap), LSM_OK);
  for(i=0; i<SN_KEYS; i++){
    char zK[16], zV[200];
    snprintf(zK, sizeof(zK), "s%05d", i);
    if( i%4==3 ){
      assert_int_equal(lsm_delete(db, zK, 6), LSM_OK);
    }else{
      snVal(i, 1, zV);
      assert_int_equal(lsm_put(db, zK, 6, zV, 200), LSM_OK);
    }
  }
  assert_int_equal(lsm_compact(db, 0, 0, 0, 0), LSM_OK);
  getStats(db, &st);
  nWithSnap = st.table_bytes;

  /* The snapshot reads every old value, by get and by iteration. */
  for(i=0; i<SN_KEYS; i++){
    char zK[16], zV[201];
    snprintf(zK, sizeof(zK), "s%05d", i);
    snVal(i, 0, zV);
    zV[200] = 0;
    checkStr(db, pSnap, zK, zV);
    snVal(i, 1, zV);
    checkStr(db, 0, zK, i%4==3 ? 0 : zV);
  }
  assert_int_equal(lsm_iter_new(db, pSnap, 0, 0, 0, 0, &it), LSM_OK);
  assert_int_equal(lsm_iter_first(it), LSM_OK);
  for(i=0; i<SN_KEYS; i++){
    char zV[200];
    const void *p;
    size_t n;
    snVal(i, 0, zV);
    assert_true(lsm_iter_valid(it));
    p = lsm_iter_value(it, &n);
    assert_int_equal(n, 200);
    assert_memory_equal(p, zV, 200);
    assert_int_equal(lsm_iter_next(it), LSM_OK);
  }
  assert_false(lsm_iter_valid(it));
  lsm_iter_free(it);

  /* Without the snapshot, the next full compaction keeps only the live
  ** three quarters of the new values. */
  lsm_snapshot_free(db, pSnap);
  assert_int_equal(lsm_compact(db, 0, 0, 0, 0), LSM_OK);
  getStats(db, &st);
  nAfter = st.table_bytes;
  dirBytes(zDir, &nSst);
  print_message("snapshot: table bytes %llu (one version), %llu (two, "
                "snapshot live), %llu (snapshot freed, compacted)\n",
                (unsigned long long)nBase, (unsigned long long)nWithSnap,
                (unsigned long long)nAfter);
  assert_true(nWithSnap > nBase*16/10);
  if( nAfter > nBase*85/100 ){
    fail_msg("old versions survive a full compaction after the snapshot "
             "that needed them was freed: %llu table bytes, expected about "
             "%llu", (unsigned long long)nAfter,
             (unsigned long long)(nBase*3/4));
  }
  assert_true(nSst <= nAfter + nAfter/10);
  for(i=0; i<SN_KEYS; i++){
    char zK[16], zV[201];
    snprintf(zK, sizeof(zK), "s%05d", i);
    snVal(i, 1, zV);
    zV[200] = 0;
    checkStr(db, 0, zK, i%4==3 ? 0 : zV);
  }
  assert_int_equal(lsm_close(db), LSM_OK);
}

/**************************************************************************
** Power loss at every fsync of a compaction-heavy workload.
**
** PL_BATCHES batches of six operations over PL_KEYS keys, committed under
** sync=full with a 4 KiB memtable and 4 KiB tables, so that flushes and
** compactions (automatic, and manual ones in the middle and at the end)
** supply most of the fsyncs.  aPlModel[b] is the state after b batches;
** after a crash the database must equal aPlModel[nAck] or, if the batch in
** flight reached the disk, aPlModel[nAck+1].
*/

#define PL_KEYS     48
#define PL_BATCHES  48
#define PL_OPS      6

static int aPlKey[PL_BATCHES][PL_OPS];
static int aPlPut[PL_BATCHES][PL_OPS];
static int32_t aPlModel[PL_BATCHES+1][PL_KEYS];

static void plBuild(void){
  uint64_t r = 99;
  int b, j, k;
  for(k=0; k<PL_KEYS; k++) aPlModel[0][k] = -1;
  for(b=0; b<PL_BATCHES; b++){
    memcpy(aPlModel[b+1], aPlModel[b], sizeof(aPlModel[b]));
    for(j=0; j<PL_OPS; j++){
      aPlKey[b][j] = (int)testRandRange(&r, PL_KEYS);
      aPlPut[b][j] = testRandRange(&r, 5)!=0;
      aPlModel[b+1][aPlKey[b][j]] = aPlPut[b][j] ? b*PL_OPS + j : -1;
    }
  }
}

static void plKey(int k, char *z){ snprintf(z, 8, "p%03d", k); }
static void plVal(int32_t v, char *z){
  char zHead[16];
  snprintf(zHead, sizeof(zHead), "v%05d", v);
  fillVal(z, 300, 'a' + v%26, zHead);
}

static int plWorkload(lsm_db *db, int *pnAck){
  int b, j, rc = LSM_OK;
  for(b=0; b<PL_BATCHES && rc==LSM_OK; b++){
    lsm_batch *pBatch = 0;
    rc = lsm_batch_new(&pBatch);
    for(j=0; rc==LSM_OK && j<PL_OPS; j++){
      char zK[8], zV[300];
      plKey(aPlKey[b][j], zK);
      if( aPlPut[b][j] ){
        plVal(b*PL_OPS + j, zV);
        rc = lsm_batch_put(pBatch, zK, 4, zV, sizeof(zV));
      }else{
        rc = lsm_batch_delete(pBatch, zK, 4);
      }
    }
    if( rc==LSM_OK ) rc = lsm_write(db, pBatch);
    lsm_batch_free(pBatch);
    if( rc==LSM_OK ) *pnAck = b+1;
    if( rc==LSM_OK && b==PL_BATCHES/3 ) rc = lsm_compact(db, "p010", 4, "p030", 4);
    if( rc==LSM_OK && (b==PL_BATCHES/2 || b==PL_BATCHES-1) ){
      rc = lsm_compact(db, 0, 0, 0, 0);
    }
  }
  return rc;
}

/* Does db hold exactly aModel (gets and a full scan)? */
static int plMatches(lsm_db *db, const int32_t *aModel){
  lsm_iter *it = 0;
  int k, bOk = 1;
  for(k=0; k<PL_KEYS && bOk; k++){
    char zK[8], zV[300];
    void *pVal = 0;
    size_t nVal = 0;
    int rc;
    plKey(k, zK);
    rc = lsm_get(db, 0, zK, 4, &pVal, &nVal);
    if( aModel[k]<0 ){
      bOk = rc==LSM_NOTFOUND;
    }else{
      plVal(aModel[k], zV);
      bOk = rc==LSM_OK && nVal==300 && memcmp(pVal, zV, 300)==0;
    }
    lsm_free(pVal);
  }
  if( !bOk ) return 0;
  assert_int_equal(lsm_iter_new(db, 0, 0, 0, 0, 0, &it), LSM_OK);
  assert_int_equal(lsm_iter_first(it), LSM_OK);
  for(k=0; k<PL_KEYS && bOk; k++){
    if( aModel[k]>=0 ){
      char zK[8];
      const void *p;
      size_t n;
      plKey(k, zK);
      p = lsm_iter_key(it, &n);
      bOk = lsm_iter_valid(it) && n==4 && memcmp(p, zK, 4)==0;
      if( bOk ) lsm_iter_next(it);
    }
  }
  if( bOk ) bOk = !lsm_iter_valid(it) && lsm_iter_status(it)==LSM_OK;
  lsm_iter_free(it);
  return bOk;
}

/* Print how db differs from aModel (for a failure message). */
static void plDescribe(lsm_db *db, const int32_t *aModel){
  int k;
  for(k=0; k<PL_KEYS; k++){
    char zK[8];
    void *pVal = 0;
    size_t nVal = 0;
    int rc;
    plKey(k, zK);
    rc = lsm_get(db, 0, zK, 4, &pVal, &nVal);
    if( (rc==LSM_OK) != (aModel[k]>=0)
     || (rc==LSM_OK && (nVal<6 || atoi((char*)pVal+1)!=aModel[k])) ){
      print_message("  %s: rc=%d value %.6s, expected v%05d\n", zK, rc,
                    rc==LSM_OK ? (char*)pVal : "-", aModel[k]);
    }
    lsm_free(pVal);
  }
}

static lsm_options plOptions(TestEnv *pTest){
  lsm_options opts;
  lsm_options_init(&opts);
  opts.env = testenvEnv(pTest);
  opts.sync_mode = LSM_SYNC_FULL;
  opts.memtable_size = 4<<10;
  opts.table_size = 4<<10;
  opts.level1_size = 8<<10;
  opts.block_size = 512;
  opts.l0_trigger = 2;
  opts.compression = LSM_COMPRESSION_NONE;
  return opts;
}

static void test_power_loss_compaction(void **state){
  TestEnv *pTest = testenvNew();
  lsm_options opts = plOptions(pTest);
  lsm_stats st;
  int k, nCrash = 0;
  (void)state;
  plBuild();
  for(k=1; ; k++){
    lsm_db *db = 0;
    int nAck = 0;
    testRmTree(zDir);
    testenvRestart(pTest);
    assert_int_equal(lsm_open(zDir, &opts, &db), LSM_OK);
    testenvCrashAtSync(pTest, (uint64_t)k, k%2, (unsigned)k);
    plWorkload(db, &nAck);
    if( !testenvCrashed(pTest) ){
      /* The workload ran to its end before the k-th fsync: every crash
      ** point has been tried. */
      testenvCrashAtSync(pTest, 0, 0, 0);
      getStats(db, &st);
      assert_int_equal(nAck, PL_BATCHES);
      if( !plMatches(db, aPlModel[PL_BATCHES]) ){
        plDescribe(db, aPlModel[PL_BATCHES]);
        fail_msg("the workload run without a crash ends in the wrong state");
      }
      assert_int_equal(lsm_close(db), LSM_OK);
      break;
    }
    nCrash++;
    lsm_close(db);
    testenvRestart(pTest);
    db = 0;
    if( lsm_open(zDir, &opts, &db)!=LSM_OK ){
      fail_msg("reopen after a crash at fsync %d: %s", k, lsm_errmsg(db));
    }
    if( !plMatches(db, aPlModel[nAck])
     && (nAck==PL_BATCHES || !plMatches(db, aPlModel[nAck+1])) ){
      plDescribe(db, aPlModel[nAck]);
      fail_msg("crash at fsync %d (%s): the database is neither the state "
               "after the %d acknowledged batches nor the one after the next",
               k, k%2 ? "torn" : "clean", nAck);
    }
    /* The recovered database compacts and takes writes. */
    putStr(db, "after", "crash");
    assert_int_equal(lsm_compact(db, 0, 0, 0, 0), LSM_OK);
    checkStr(db, 0, "after", "crash");
    assert_int_equal(lsm_close(db), LSM_OK);
  }
  print_message("power loss: %d crash points; the full run made %llu "
                "compactions and %llu flushes\n", nCrash,
                (unsigned long long)st.compactions,
                (unsigned long long)st.flushes);
  /* The crash points covered many compactions. */
  assert_true(st.compactions>=8);
  assert_true(nCrash>100);
  testenvFree(pTest);
}

/**************************************************************************
** I/O errors during compactions.
*/

#define IO_KEYS 600

static void ioKey(int k, char *z){ snprintf(z, 8, "i%04d", k); }
static size_t ioVal(int32_t v, char *z){
  size_t n = 40 + (size_t)(v%60);
  char zHead[16];
  snprintf(zHead, sizeof(zHead), "v%08d", v);
  fillVal(z, n, 'a' + v%26, zHead);
  return n;
}

/* Every key of db equals aModel (-1: absent), by gets and a scan. */
static void ioVerify(lsm_db *db, const int32_t *aModel){
  lsm_iter *it = 0;
  int k;
  for(k=0; k<IO_KEYS; k++){
    char zK[8], zV[128];
    void *pVal = 0;
    size_t nVal = 0, n;
    int rc;
    ioKey(k, zK);
    rc = lsm_get(db, 0, zK, 5, &pVal, &nVal);
    if( aModel[k]<0 ){
      if( rc!=LSM_NOTFOUND ){
        fail_msg("get %s: rc=%d (%s), expected not found", zK, rc,
                 rc==LSM_OK ? "found" : lsm_errmsg(db));
      }
    }else{
      n = ioVal(aModel[k], zV);
      if( rc!=LSM_OK ) fail_msg("get %s: rc=%d %s", zK, rc, lsm_errmsg(db));
      if( nVal!=n || memcmp(pVal, zV, n)!=0 ) fail_msg("get %s: wrong value", zK);
    }
    lsm_free(pVal);
  }
  assert_int_equal(lsm_iter_new(db, 0, 0, 0, 0, 0, &it), LSM_OK);
  assert_int_equal(lsm_iter_first(it), LSM_OK);
  for(k=0; k<IO_KEYS; k++){
    char zK[8];
    const void *p;
    size_t n;
    if( aModel[k]<0 ) continue;
    ioKey(k, zK);
    if( !lsm_iter_valid(it) ) fail_msg("scan ended before %s", zK);
    p = lsm_iter_key(it, &n);
    assert_int_equal(n, 5);
    assert_memory_equal(p, zK, 5);
    assert_int_equal(lsm_iter_next(it), LSM_OK);
  }
  assert_false(lsm_iter_valid(it));
  assert_int_equal(lsm_iter_status(it), LSM_OK);
  lsm_iter_free(it);
}

/* nOp seeded writes into db, kept in aModel; stops at the first error,
** which it returns. */
static int ioWorkload(lsm_db *db, int32_t *aModel, int nOp, uint64_t *pRand,
                      int32_t *piNext){
  int i, rc = LSM_OK;
  for(i=0; i<nOp && rc==LSM_OK; i++){
    int k = (int)testRandRange(pRand, IO_KEYS);
    char zK[8], zV[128];
    ioKey(k, zK);
    if( testRandRange(pRand, 6)==0 ){
      rc = lsm_delete(db, zK, 5);
      if( rc==LSM_OK ) aModel[k] = -1;
    }else{
      size_t n = ioVal(*piNext, zV);
      rc = lsm_put(db, zK, 5, zV, n);
      if( rc==LSM_OK ) aModel[k] = (*piNext)++;
    }
  }
  return rc;
}

static lsm_options ioOptions(TestEnv *pTest){
  lsm_options opts;
  lsm_options_init(&opts);
  opts.env = testenvEnv(pTest);
  opts.sync_mode = LSM_SYNC_NORMAL;
  opts.memtable_size = 8<<10;
  opts.table_size = 8<<10;
  opts.level1_size = 32<<10;
  opts.block_size = 1024;
  opts.l0_trigger = 2;
  return opts;
}

/*
** A table moved down a level without a rewrite keeps its file while any
** version lists it, at its old level or its new one.  (A reader holding
** the version from before the move once found the file deleted, as
** "table file is missing", after the moved table was compacted away.)
*/
static void test_moved_table_lifetime(void **state){
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  LsmVersionSet *pVs = 0;
  LsmVersionEdit e;
  LsmFileMeta m;
  LsmVersion *pOld;
  uint8_t aKey[9];
  char *zSst;
  FILE *f;
  (void)state;
  testRmTree(zDir);
  assert_int_equal(mkdir(zDir, 0777), 0);
  zSst = lsmTableFileName(zDir, 100);
  f = fopen(zSst, "w");
  assert_non_null(f);
  fputs("table", f);
  fclose(f);
  assert_int_equal(lsmVersionSetNew(lsm_env_default(), zDir, 0, &mutex, &pVs),
                   LSM_OK);
  lsmEditInit(&e);
  assert_int_equal(lsmVersionSetRewrite(pVs, &e), LSM_OK);
  lsmEditClear(&e);

  memset(&m, 0, sizeof(m));
  m.iFile = 100;
  m.nSize = 5;
  aKey[0] = 'k';
  lsmPut64(aKey+1, lsmIkeyTrailer(1, LSM_KIND_VALUE));
  assert_int_equal(lsmBufSet(&m.smallest, aKey, 9), LSM_OK);
  assert_int_equal(lsmBufSet(&m.largest, aKey, 9), LSM_OK);
  lsmEditInit(&e);                            /* a flush: level 0 */
  assert_int_equal(lsmEditAddMeta(&e, 0, &m), LSM_OK);
  assert_int_equal(lsmVersionSetApply(pVs, &e), LSM_OK);
  lsmEditClear(&e);
  pOld = lsmVersionCurrent(pVs);              /* a reader's version */
  lsmEditInit(&e);                            /* the move to level 1 */
  assert_int_equal(lsmEditDelFile(&e, 0, 100), LSM_OK);
  assert_int_equal(lsmEditAddMeta(&e, 1, &m), LSM_OK);
  assert_int_equal(lsmVersionSetApply(pVs, &e), LSM_OK);
  lsmEditClear(&e);
  lsmEditInit(&e);                            /* compacted away */
  assert_int_equal(lsmEditDelFile(&e, 1, 100), LSM_OK);
  assert_int_equal(lsmVersionSetApply(pVs, &e), LSM_OK);
  lsmEditClear(&e);
  assert_true(access(zSst, F_OK)==0);        /* the reader still needs it */
  lsmVersionUnref(pOld);
  assert_true(access(zSst, F_OK)!=0);        /* the last version let go */
  lsmBufFree(&m.smallest);
  lsmBufFree(&m.largest);
  lsmVersionSetFree(pVs);
  lsmFree(zSst);
}

/* After a background error rc: writes refused with the message, reads right,
** the statistics show the error. */
static void ioCheckErrorState(lsm_db *db, int rc, const int32_t *aModel){
  lsm_stats st;
  int rc2;
  getStats(db, &st);
  assert_int_equal(st.error_code, rc);
  assert_true(strlen(st.last_error)>0);
  rc2 = lsm_put(db, "i9999", 5, "x", 1);
  assert_int_equal(rc2, rc);
  assert_non_null(strstr(lsm_errmsg(db), "error state"));
  rc2 = lsm_delete(db, "i0000", 5);
  assert_int_equal(rc2, rc);
  ioVerify(db, aModel);
}

static void test_io_error_compaction(void **state){
  TestEnv *pTest = testenvNew();
  lsm_options opts = ioOptions(pTest);
  static int32_t aModel[IO_KEYS];
  lsm_stats st;
  lsm_db *db;
  uint64_t r = 3;
  int32_t iNext = 0;
  int k, rc;
  double t0;
  (void)state;

  /* A manual compaction whose first table append fails. */
  for(k=0; k<IO_KEYS; k++) aModel[k] = -1;
  testRmTree(zDir);
  opts.l0_trigger = 64;               /* no background compaction */
  opts.l0_slowdown = 64;
  opts.l0_stop = 64;
  db = openDb(&opts);
  assert_int_equal(ioWorkload(db, aModel, 300, &r, &iNext), LSM_OK);
  assert_int_equal(lsm_flush(db), LSM_OK);
  assert_int_equal(ioWorkload(db, aModel, 300, &r, &iNext), LSM_OK);
  assert_int_equal(lsm_flush(db), LSM_OK);
  getStats(db, &st);
  assert_true(st.anLevelFiles[0]>=2);
  assert_int_equal(st.compactions, 0);
  testenvFailAtPath(pTest, TESTENV_APPEND, 1, EIO, 1, ".sst");
  rc = lsm_compact(db, 0, 0, 0, 0);
  assert_int_equal(rc, LSM_IOERR);
  assert_non_null(strstr(lsm_errmsg(db), ".sst"));
  ioCheckErrorState(db, LSM_IOERR, aModel);
  lsm_close(db);
  testenvClearFaults(pTest);
  db = openDb(&opts);
  ioVerify(db, aModel);
  assert_int_equal(lsm_compact(db, 0, 0, 0, 0), LSM_OK);
  ioVerify(db, aModel);
  assert_int_equal(lsm_close(db), LSM_OK);

  /* A background compaction whose table sync fails (disk full). */
  opts = ioOptions(pTest);
  opts.memtable_size = 64<<10;          /* only lsm_flush flushes */
  testRmTree(zDir);
  for(k=0; k<IO_KEYS; k++) aModel[k] = -1;
  db = openDb(&opts);
  assert_int_equal(ioWorkload(db, aModel, 100, &r, &iNext), LSM_OK);
  assert_int_equal(lsm_flush(db), LSM_OK);
  assert_int_equal(ioWorkload(db, aModel, 100, &r, &iNext), LSM_OK);
  getStats(db, &st);
  assert_int_equal(st.anLevelFiles[0], 1);
  /* The second table lets the oldest move to level 1 untouched (a
  ** trivial move writes no table); wait for it. */
  assert_int_equal(lsm_flush(db), LSM_OK);
  t0 = nowSeconds();
  do{
    sleepMs(5);
    getStats(db, &st);
  }while( !(st.anLevelFiles[0]==1 && st.anLevelFiles[1]==1) && nowSeconds()-t0<30 );
  assert_int_equal(st.anLevelFiles[1], 1);
  assert_int_equal(ioWorkload(db, aModel, 100, &r, &iNext), LSM_OK);
  /* Now the oldest level-0 table overlaps level 1, so the next
  ** compaction merges.  The flush's table is the first .sst sync from
  ** here, the compaction's output the second. */
  testenvFailAtPath(pTest, TESTENV_SYNC, 2, ENOSPC, 1, ".sst");
  assert_int_equal(lsm_flush(db), LSM_OK);
  t0 = nowSeconds();
  do{
    sleepMs(5);
    getStats(db, &st);
  }while( st.error_code==0 && nowSeconds()-t0<30 );
  assert_int_equal(st.error_code, LSM_FULL);
  assert_int_equal(st.compactions, 1);      /* the trivial move only */
  ioCheckErrorState(db, LSM_FULL, aModel);
  lsm_close(db);
  testenvClearFaults(pTest);
  db = openDb(&opts);
  ioVerify(db, aModel);
  assert_int_equal(ioWorkload(db, aModel, 300, &r, &iNext), LSM_OK);
  assert_int_equal(lsm_compact(db, 0, 0, 0, 0), LSM_OK);
  ioVerify(db, aModel);
  assert_int_equal(lsm_close(db), LSM_OK);
  testenvFree(pTest);
}

/*
** The n-th table append fails, for n across a workload whose table
** appends are mostly compaction outputs: whatever fails, the engine stops
** taking writes with the error, reads stay right, and reopening keeps
** every acknowledged write (sync=normal: in the log before the ack).
*/
static void test_io_error_every_append(void **state){
  TestEnv *pTest = testenvNew();
  lsm_options opts = ioOptions(pTest);
  static int32_t aModel[IO_KEYS];
  int n, k, nFault = 0;
  uint64_t nAppends = 0;
  (void)state;

  /* How many table appends the whole workload makes. */
  {
    lsm_db *db;
    uint64_t r = 11;
    int32_t iNext = 0;
    testRmTree(zDir);
    testenvRestart(pTest);
    for(k=0; k<IO_KEYS; k++) aModel[k] = -1;
    db = openDb(&opts);
    nAppends = testenvCount(pTest, TESTENV_APPEND);
    assert_int_equal(ioWorkload(db, aModel, 3000, &r, &iNext), LSM_OK);
    assert_int_equal(lsm_compact(db, 0, 0, 0, 0), LSM_OK);
    nAppends = testenvCount(pTest, TESTENV_APPEND) - nAppends;
    lsm_close(db);
  }

  for(n=1; n<300; n+=7){
    lsm_db *db;
    lsm_stats st;
    uint64_t r = 11;
    int32_t iNext = 0;
    int rc;
    int err = (n%2) ? EIO : (ENOSPC|TESTENV_SHORT);
    testRmTree(zDir);
    testenvRestart(pTest);
    for(k=0; k<IO_KEYS; k++) aModel[k] = -1;
    db = openDb(&opts);
    testenvFailAtPath(pTest, TESTENV_APPEND, n, err, 0, ".sst");
    rc = ioWorkload(db, aModel, 3000, &r, &iNext);
    if( rc==LSM_OK ) rc = lsm_compact(db, 0, 0, 0, 0);
    if( rc==LSM_OK ){
      /* The fault may be pending in a background job: wait for it. */
      lsm_flush(db);
      getStats(db, &st);
      rc = st.error_code;
    }
    if( rc!=LSM_OK ){
      nFault++;
      assert_true(rc==LSM_IOERR || rc==LSM_FULL);
      assert_true(strlen(lsm_errmsg(db))>0);
      getStats(db, &st);
      assert_int_equal(st.error_code, rc);
      ioCheckErrorState(db, rc, aModel);
    }
    lsm_close(db);
    testenvClearFaults(pTest);
    db = openDb(&opts);
    ioVerify(db, aModel);
    assert_int_equal(lsm_compact(db, 0, 0, 0, 0), LSM_OK);
    ioVerify(db, aModel);
    assert_int_equal(lsm_close(db), LSM_OK);
  }
  print_message("io errors: %llu table appends per run, %d faults hit\n",
                (unsigned long long)nAppends, nFault);
  assert_true(nFault>=30);
  testenvFree(pTest);
}

/**************************************************************************
** Threads: writers, readers, iterators and snapshots beside flushes and
** compactions.
**
** Writer w owns keys "w<w>-00000".."w<w>-00599" and alone writes them, so
** it knows exactly what a read of its keys must return, now and through
** any snapshot it took.  Every value names its key and a counter, so a
** reader that knows nothing else can still tell a right value from a
** wrong one.  Failures in threads are recorded and asserted by the main
** thread (cmocka's assertions are not thread-safe).
*/

#define CC_WRITERS 4
#define CC_READERS 2
#define CC_KEYS    600

typedef struct CcShared {
  lsm_db *db;
  int bStop;                       /* atomic */
  int nErr;                        /* atomic */
  pthread_mutex_t mutex;
  char zErr[512];                  /* the first failure */
} CcShared;

static void ccFail(CcShared *p, const char *zFmt, ...){
  va_list ap;
  pthread_mutex_lock(&p->mutex);
  if( p->nErr==0 ){
    va_start(ap, zFmt);
    vsnprintf(p->zErr, sizeof(p->zErr), zFmt, ap);
    va_end(ap);
  }
  __atomic_add_fetch(&p->nErr, 1, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&p->mutex);
}

static int ccFailed(CcShared *p){ return __atomic_load_n(&p->nErr, __ATOMIC_RELAXED)!=0; }
static int ccStopped(CcShared *p){ return __atomic_load_n(&p->bStop, __ATOMIC_ACQUIRE); }

static void ccKey(int w, int k, char *z){ snprintf(z, 16, "w%d-%05d", w, k); }

/* The value written with counter c to key zKey (8 bytes). */
static size_t ccVal(const char *zKey, uint32_t c, char *z){
  int n = snprintf(z, 32, "%s#%08x#", zKey, c);
  size_t nPad = 10 + c%50;
  memset(z + n, 'a' + (int)(c%26), nPad);
  return (size_t)n + nPad;
}

/* Is pVal a value ccVal makes for pKey?  *pc gets its counter. */
static int ccValOk(const void *pKey, size_t nKey, const void *pVal, size_t nVal,
                   uint32_t *pc){
  char zK[16], zV[96];
  unsigned int c;
  if( nKey!=8 || nVal<19 || nVal>90 ) return 0;
  memcpy(zK, pKey, 8);
  zK[8] = 0;
  if( memcmp(pVal, zK, 8)!=0 || ((const char*)pVal)[8]!='#' ) return 0;
  memcpy(zV, (const char*)pVal + 9, 8);
  zV[8] = 0;
  if( sscanf(zV, "%8x", &c)!=1 ) return 0;
  if( ccVal(zK, c, zV)!=nVal || memcmp(zV, pVal, nVal)!=0 ) return 0;
  if( pc ) *pc = c;
  return 1;
}

typedef struct CcWriter {
  CcShared *p;
  int iWriter;
  int nOps;
  uint64_t rng;
  uint32_t aCnt[CC_KEYS];          /* counter of the live value, 0: absent */
  uint32_t aSnapCnt[CC_KEYS];      /* aCnt when pSnap was taken */
  pthread_t tid;
} CcWriter;

/* Check key k of writer a against counter c (0: absent) at pSnap. */
static int ccCheckKey(CcWriter *a, const lsm_snapshot *pSnap, int k, uint32_t c){
  char zK[16];
  void *pVal = 0;
  size_t nVal = 0;
  uint32_t cGot = 0;
  int rc;
  ccKey(a->iWriter, k, zK);
  rc = lsm_get(a->p->db, pSnap, zK, 8, &pVal, &nVal);
  if( c==0 ){
    if( rc!=LSM_NOTFOUND ){
      ccFail(a->p, "writer %d: get %s%s: rc=%d (%s), expected not found",
             a->iWriter, zK, pSnap ? " (snapshot)" : "", rc,
             rc==LSM_OK ? "found" : lsm_errmsg(a->p->db));
    }
  }else if( rc!=LSM_OK ){
    ccFail(a->p, "writer %d: get %s%s: rc=%d (%s)", a->iWriter, zK,
           pSnap ? " (snapshot)" : "", rc, lsm_errmsg(a->p->db));
  }else if( !ccValOk(zK, 8, pVal, nVal, &cGot) || cGot!=c ){
    ccFail(a->p, "writer %d: get %s%s: counter %u, expected %u", a->iWriter,
           zK, pSnap ? " (snapshot)" : "", cGot, c);
  }
  lsm_free(pVal);
  return !ccFailed(a->p);
}

/* Scan writer a's whole prefix at pSnap against aCnt. */
static void ccCheckPrefix(CcWriter *a, const lsm_snapshot *pSnap,
                          const uint32_t *aCnt){
  char zLo[8], zHi[8];
  lsm_iter *it = 0;
  int k, rc;
  snprintf(zLo, sizeof(zLo), "w%d-", a->iWriter);
  snprintf(zHi, sizeof(zHi), "w%d.", a->iWriter);
  rc = lsm_iter_new(a->p->db, pSnap, zLo, 3, zHi, 3, &it);
  if( rc==LSM_OK ) rc = lsm_iter_first(it);
  for(k=0; rc==LSM_OK && k<CC_KEYS; k++){
    char zK[16];
    const void *pK, *pV;
    size_t nK, nV;
    uint32_t c = 0;
    if( aCnt[k]==0 ) continue;
    ccKey(a->iWriter, k, zK);
    if( !lsm_iter_valid(it) ){
      ccFail(a->p, "writer %d: scan%s ended before %s", a->iWriter,
             pSnap ? " (snapshot)" : "", zK);
      break;
    }
    pK = lsm_iter_key(it, &nK);
    pV = lsm_iter_value(it, &nV);
    if( nK!=8 || memcmp(pK, zK, 8)!=0 || !ccValOk(pK, nK, pV, nV, &c)
     || c!=aCnt[k] ){
      ccFail(a->p, "writer %d: scan%s at %s: found %.*s counter %u, "
             "expected counter %u", a->iWriter, pSnap ? " (snapshot)" : "",
             zK, (int)nK, (const char*)pK, c, aCnt[k]);
      break;
    }
    rc = lsm_iter_next(it);
  }
  if( rc!=LSM_OK ) ccFail(a->p, "writer %d: scan: rc=%d", a->iWriter, rc);
  if( !ccFailed(a->p) && lsm_iter_valid(it) ){
    ccFail(a->p, "writer %d: scan%s shows an extra key", a->iWriter,
           pSnap ? " (snapshot)" : "");
  }
  lsm_iter_free(it);
}

static void *ccWriterMain(void *pArg){
  CcWriter *a = (CcWriter*)pArg;
  lsm_db *db = a->p->db;
  lsm_snapshot *pSnap = 0;
  lsm_batch *pBatch = 0;
  uint32_t iCnt = 1;
  int i, iSnapAt = 0;
  if( lsm_batch_new(&pBatch)!=LSM_OK ){
    ccFail(a->p, "writer %d: no batch", a->iWriter);
    return 0;
  }
  for(i=0; i<a->nOps && !ccFailed(a->p); i++){
    uint32_t x = testRandRange(&a->rng, 100);
    int k = (int)testRandRange(&a->rng, CC_KEYS);
    char zK[16], zV[96];
    int rc = LSM_OK;
    ccKey(a->iWriter, k, zK);
    if( x<55 ){
      size_t n = ccVal(zK, iCnt, zV);
      rc = lsm_put(db, zK, 8, zV, n);
      if( rc==LSM_OK ) a->aCnt[k] = iCnt++;
    }else if( x<67 ){
      rc = lsm_delete(db, zK, 8);
      if( rc==LSM_OK ) a->aCnt[k] = 0;
    }else if( x<75 ){
      /* An atomic batch over five neighbouring keys. */
      uint32_t aNew[5];
      int j;
      lsm_batch_clear(pBatch);
      for(j=0; j<5; j++){
        ccKey(a->iWriter, (k+j)%CC_KEYS, zK);
        if( testRandRange(&a->rng, 4)==0 ){
          aNew[j] = 0;
          lsm_batch_delete(pBatch, zK, 8);
        }else{
          size_t n = ccVal(zK, iCnt, zV);
          aNew[j] = iCnt++;
          lsm_batch_put(pBatch, zK, 8, zV, n);
        }
      }
      rc = lsm_write(db, pBatch);
      if( rc==LSM_OK ) for(j=0; j<5; j++) a->aCnt[(k+j)%CC_KEYS] = aNew[j];
    }else if( x<95 ){
      ccCheckKey(a, 0, k, a->aCnt[k]);
    }else if( pSnap==0 ){
      rc = lsm_snapshot_new(db, &pSnap);
      memcpy(a->aSnapCnt, a->aCnt, sizeof(a->aCnt));
      iSnapAt = i;
    }else if( i-iSnapAt>=400 ){
      /* The snapshot, held across flushes and compactions, still reads
      ** what was there when it was taken. */
      int j;
      for(j=0; j<20 && !ccFailed(a->p); j++){
        int kk = (int)testRandRange(&a->rng, CC_KEYS);
        ccCheckKey(a, pSnap, kk, a->aSnapCnt[kk]);
      }
      ccCheckPrefix(a, pSnap, a->aSnapCnt);
      lsm_snapshot_free(db, pSnap);
      pSnap = 0;
    }
    if( rc!=LSM_OK ) ccFail(a->p, "writer %d: op %d: rc=%d %s", a->iWriter, i, rc, lsm_errmsg(db));
  }
  if( pSnap ) lsm_snapshot_free(db, pSnap);
  if( !ccFailed(a->p) ) ccCheckPrefix(a, 0, a->aCnt);
  lsm_batch_free(pBatch);
  return 0;
}

typedef struct CcReader {
  CcShared *p;
  int iReader;
  uint64_t rng;
  uint64_t nScans, nEntries;
  pthread_t tid;
} CcReader;

/* Scan [lo, hi) at pSnap checking order and values; returns a sum of
** per-entry hashes (order-independent) and sets *pn to the count. */
static uint64_t ccScan(CcShared *p, const lsm_snapshot *pSnap,
                       const char *zLo, const char *zHi, int bReverse,
                       uint64_t *pn){
  lsm_iter *it = 0;
  char aPrev[16];
  size_t nPrev = 0;
  uint64_t nSeen = 0, h = 0;
  int rc = lsm_iter_new(p->db, pSnap, zLo, zLo ? strlen(zLo) : 0,
                        zHi, zHi ? strlen(zHi) : 0, &it);
  if( rc==LSM_OK ) rc = bReverse ? lsm_iter_last(it) : lsm_iter_first(it);
  while( rc==LSM_OK && lsm_iter_valid(it) ){
    const void *pK, *pV;
    size_t nK, nV;
    uint32_t c;
    pK = lsm_iter_key(it, &nK);
    pV = lsm_iter_value(it, &nV);
    if( !ccValOk(pK, nK, pV, nV, &c) ){
      ccFail(p, "scan: bad value under %.*s", (int)nK, (const char*)pK);
      break;
    }
    if( nPrev ){
      int cmp = memcmp(aPrev, pK, 8);
      if( bReverse ? cmp<=0 : cmp>=0 ){
        ccFail(p, "scan: %.*s after %.*s", (int)nK, (const char*)pK,
               (int)nPrev, aPrev);
        break;
      }
    }
    memcpy(aPrev, pK, 8);
    nPrev = 8;
    {
      uint64_t x = ((uint64_t)c << 32) ^ (uint64_t)nV;
      size_t i;
      for(i=0; i<nK; i++) x = x*1099511628211ULL ^ ((const uint8_t*)pK)[i];
      h += testRand(&x);
    }
    nSeen++;
    rc = bReverse ? lsm_iter_prev(it) : lsm_iter_next(it);
  }
  if( rc==LSM_OK ) rc = lsm_iter_status(it);
  if( rc!=LSM_OK ) ccFail(p, "scan: rc=%d", rc);
  lsm_iter_free(it);
  *pn = nSeen;
  return h;
}

static void *ccReaderMain(void *pArg){
  CcReader *a = (CcReader*)pArg;
  while( !ccStopped(a->p) && !ccFailed(a->p) ){
    uint64_t n;
    int j;
    if( testRandRange(&a->rng, 3)==0 ){
      ccScan(a->p, 0, 0, 0, (int)testRandRange(&a->rng, 2), &n);
    }else{
      char zLo[16], zHi[16];
      int w = (int)testRandRange(&a->rng, CC_WRITERS);
      int k = (int)testRandRange(&a->rng, CC_KEYS);
      ccKey(w, k, zLo);
      ccKey(w, k + 1 + (int)testRandRange(&a->rng, 100), zHi);
      ccScan(a->p, 0, zLo, zHi, (int)testRandRange(&a->rng, 2), &n);
    }
    a->nScans++;
    a->nEntries += n;
    for(j=0; j<50 && !ccFailed(a->p); j++){
      char zK[16];
      void *pVal = 0;
      size_t nVal = 0;
      int rc;
      ccKey((int)testRandRange(&a->rng, CC_WRITERS),
            (int)testRandRange(&a->rng, CC_KEYS), zK);
      rc = lsm_get(a->p->db, 0, zK, 8, &pVal, &nVal);
      if( rc==LSM_OK ){
        if( !ccValOk(zK, 8, pVal, nVal, 0) ) ccFail(a->p, "get %s: bad value", zK);
      }else if( rc!=LSM_NOTFOUND ){
        ccFail(a->p, "get %s: rc=%d", zK, rc);
      }
      lsm_free(pVal);
    }
  }
  return 0;
}

/* Take a snapshot, scan it forward, let the world move, scan it in
** reverse: the same entries.  Gets through it do not change either. */
static void *ccSnapMain(void *pArg){
  CcReader *a = (CcReader*)pArg;
  while( !ccStopped(a->p) && !ccFailed(a->p) ){
    lsm_snapshot *pSnap = 0;
    uint64_t n1, n2, h1, h2;
    char azKey[10][16];
    void *apVal[10];
    size_t anVal[10];
    int aRc[10], j;
    if( lsm_snapshot_new(a->p->db, &pSnap)!=LSM_OK ){
      ccFail(a->p, "snapshot_new");
      break;
    }
    for(j=0; j<10; j++){
      ccKey((int)testRandRange(&a->rng, CC_WRITERS),
            (int)testRandRange(&a->rng, CC_KEYS), azKey[j]);
      aRc[j] = lsm_get(a->p->db, pSnap, azKey[j], 8, &apVal[j], &anVal[j]);
    }
    h1 = ccScan(a->p, pSnap, 0, 0, 0, &n1);
    sleepMs(2);
    h2 = ccScan(a->p, pSnap, 0, 0, 1, &n2);
    if( !ccFailed(a->p) && (n1!=n2 || h1!=h2) ){
      ccFail(a->p, "snapshot changed: %llu entries, then %llu",
             (unsigned long long)n1, (unsigned long long)n2);
    }
    for(j=0; j<10; j++){
      void *pVal = 0;
      size_t nVal = 0;
      int rc = lsm_get(a->p->db, pSnap, azKey[j], 8, &pVal, &nVal);
      if( rc!=aRc[j] || nVal!=anVal[j]
       || (rc==LSM_OK && memcmp(pVal, apVal[j], nVal)!=0) ){
        ccFail(a->p, "snapshot get %s changed (rc %d, then %d)", azKey[j],
               aRc[j], rc);
      }
      lsm_free(pVal);
      lsm_free(apVal[j]);
    }
    lsm_snapshot_free(a->p->db, pSnap);
    a->nScans++;
  }
  return 0;
}

/* Flushes and manual compactions (ranges and whole) on their own thread,
** beside the background thread's own. */
static void *ccControlMain(void *pArg){
  CcReader *a = (CcReader*)pArg;
  int i;
  for(i=1; !ccStopped(a->p) && !ccFailed(a->p); i++){
    int rc = LSM_OK;
    lsm_stats st;
    sleepMs(2);
    if( i%3==0 ) rc = lsm_flush(a->p->db);
    if( rc==LSM_OK && i%7==0 ){
      char zLo[16], zHi[16];
      int w = (int)testRandRange(&a->rng, CC_WRITERS);
      int k = (int)testRandRange(&a->rng, CC_KEYS);
      ccKey(w, k, zLo);
      ccKey(w, k + (int)testRandRange(&a->rng, 300), zHi);
      rc = lsm_compact(a->p->db, zLo, 8, zHi, 8);
    }
    if( rc==LSM_OK && i%61==0 ) rc = lsm_compact(a->p->db, 0, 0, 0, 0);
    if( rc==LSM_OK ) rc = lsm_get_stats(a->p->db, &st);
    if( rc!=LSM_OK ) ccFail(a->p, "control: rc=%d %s", rc, lsm_errmsg(a->p->db));
    a->nScans++;
  }
  return 0;
}

static void test_concurrency(void **state){
  static CcWriter aW[CC_WRITERS];
  CcReader aR[CC_READERS + 2];
  CcShared sh;
  lsm_options opts;
  lsm_stats st;
  Watchdog wd;
  int i, nOps = SANITIZED==2 ? 4000 : SANITIZED ? 8000 : 25000;
  double t0 = nowSeconds();
  (void)state;

  watchdogStart(&wd, SANITIZED ? 600 : 240, "test_concurrency");
  lsm_options_init(&opts);
  opts.sync_mode = LSM_SYNC_OFF;
  opts.memtable_size = 16<<10;
  opts.table_size = 16<<10;
  opts.level1_size = 64<<10;
  opts.l0_trigger = 2;
  opts.l0_slowdown = 6;
  opts.l0_stop = 10;
  opts.block_size = 1024;
  opts.cache_size = 128<<10;
  testRmTree(zDir);
  memset(&sh, 0, sizeof(sh));
  pthread_mutex_init(&sh.mutex, 0);
  sh.db = openDb(&opts);

  memset(aR, 0, sizeof(aR));
  for(i=0; i<CC_READERS+2; i++){
    void *(*xMain)(void*) = i<CC_READERS ? ccReaderMain
                          : i==CC_READERS ? ccSnapMain : ccControlMain;
    aR[i].p = &sh;
    aR[i].iReader = i;
    aR[i].rng = 1000 + (uint64_t)i;
    assert_int_equal(pthread_create(&aR[i].tid, 0, xMain, &aR[i]), 0);
  }
  memset(aW, 0, sizeof(aW));
  for(i=0; i<CC_WRITERS; i++){
    aW[i].p = &sh;
    aW[i].iWriter = i;
    aW[i].nOps = nOps;
    aW[i].rng = 7 + (uint64_t)i;
    assert_int_equal(pthread_create(&aW[i].tid, 0, ccWriterMain, &aW[i]), 0);
  }
  for(i=0; i<CC_WRITERS; i++) pthread_join(aW[i].tid, 0);
  __atomic_store_n(&sh.bStop, 1, __ATOMIC_RELEASE);
  for(i=0; i<CC_READERS+2; i++) pthread_join(aR[i].tid, 0);
  if( sh.nErr ) fail_msg("%d failures, the first: %s", sh.nErr, sh.zErr);

  getStats(sh.db, &st);
  print_message("threads: %d writers x %d ops in %.1f s; %llu+%llu scans, "
                "%llu snapshot checks, %llu control rounds; %llu flushes, "
                "%llu compactions, %llu stalls\n", CC_WRITERS, nOps,
                nowSeconds()-t0, (unsigned long long)aR[0].nScans,
                (unsigned long long)aR[1].nScans,
                (unsigned long long)aR[CC_READERS].nScans,
                (unsigned long long)aR[CC_READERS+1].nScans,
                (unsigned long long)st.flushes,
                (unsigned long long)st.compactions,
                (unsigned long long)st.stalls);
  assert_int_equal(st.error_code, 0);
  assert_true(st.compactions>=10);
  assert_true(aR[CC_READERS].nScans>=1);

  /* Everything each writer wrote, now and after reopening. */
  for(i=0; i<CC_WRITERS; i++) ccCheckPrefix(&aW[i], 0, aW[i].aCnt);
  assert_int_equal(lsm_close(sh.db), LSM_OK);
  sh.db = openDb(&opts);
  for(i=0; i<CC_WRITERS; i++){
    int k;
    ccCheckPrefix(&aW[i], 0, aW[i].aCnt);
    for(k=0; k<CC_KEYS; k+=7) ccCheckKey(&aW[i], 0, k, aW[i].aCnt[k]);
  }
  if( sh.nErr ) fail_msg("%s", sh.zErr);
  assert_int_equal(lsm_close(sh.db), LSM_OK);
  pthread_mutex_destroy(&sh.mutex);
  watchdogStop(&wd);
}

/**************************************************************************
** Write stalls.
*/

#define ST_WRITERS 4
#define ST_KEYS    2000

typedef struct StWriter {
  lsm_db *db;
  int iWriter;
  int *pbStop;                     /* atomic */
  uint64_t nBatches;               /* atomic: batches acknowledged */
  int rc;                          /* the failed write's code, or OK */
  uint32_t aCnt[ST_KEYS];          /* acknowledged counter per key, 0: none */
  pthread_t tid;
} StWriter;

static void stVal(int w, int k, uint32_t c, char *z){
  char zHead[32];
  snprintf(zHead, sizeof(zHead), "s%d-%05d:%u", w, k, c);
  fillVal(z, 200, 'a' + (int)(c%26), zHead);
}

static void *stWriterMain(void *pArg){
  StWriter *a = (StWriter*)pArg;
  lsm_batch *pBatch = 0;
  uint32_t iCnt = 1;
  int k = 0;
  a->rc = lsm_batch_new(&pBatch);
  while( a->rc==LSM_OK && !__atomic_load_n(a->pbStop, __ATOMIC_ACQUIRE) ){
    int j, k0 = k;
    lsm_batch_clear(pBatch);
    for(j=0; j<10; j++){
      char zK[16], zV[200];
      snprintf(zK, sizeof(zK), "s%d-%05d", a->iWriter, (k0+j)%ST_KEYS);
      stVal(a->iWriter, (k0+j)%ST_KEYS, iCnt + (uint32_t)j, zV);
      lsm_batch_put(pBatch, zK, strlen(zK), zV, sizeof(zV));
    }
    /* (lsm_errmsg is the handle's, shared by all threads: the main
    ** thread reads it once they are done.) */
    a->rc = lsm_write(a->db, pBatch);
    if( a->rc!=LSM_OK ) break;
    for(j=0; j<10; j++) a->aCnt[(k0+j)%ST_KEYS] = iCnt + (uint32_t)j;
    iCnt += 10;
    k = (k0 + 10) % ST_KEYS;
    __atomic_add_fetch(&a->nBatches, 1, __ATOMIC_RELEASE);
  }
  lsm_batch_free(pBatch);
  return 0;
}

static uint64_t stTotal(StWriter *aW){
  uint64_t n = 0;
  int i;
  for(i=0; i<ST_WRITERS; i++) n += __atomic_load_n(&aW[i].nBatches, __ATOMIC_ACQUIRE);
  return n;
}

/* Every acknowledged write of every writer is readable. */
static void stVerify(lsm_db *db, StWriter *aW){
  int i, k;
  for(i=0; i<ST_WRITERS; i++){
    for(k=0; k<ST_KEYS; k++){
      char zK[16], zV[201];
      snprintf(zK, sizeof(zK), "s%d-%05d", i, k);
      if( aW[i].aCnt[k]==0 ){
        checkStr(db, 0, zK, 0);
      }else{
        stVal(i, k, aW[i].aCnt[k], zV);
        zV[200] = 0;
        checkStr(db, 0, zK, zV);
      }
    }
  }
}

static lsm_options stOptions(void){
  lsm_options opts;
  lsm_options_init(&opts);
  opts.sync_mode = LSM_SYNC_OFF;
  opts.memtable_size = 16<<10;
  opts.max_immutables = 1;
  opts.table_size = 16<<10;
  opts.level1_size = 64<<10;
  opts.l0_trigger = 2;
  opts.l0_slowdown = 2;
  opts.l0_stop = 3;
  opts.block_size = 1024;
  return opts;
}

static void test_stalls(void **state){
  static StWriter aW[ST_WRITERS];
  uint64_t nSec = envSize("LSM_STALL_SECONDS", SANITIZED ? 4 : 10);
  uint64_t anAtStall[ST_WRITERS];
  uint64_t nLast = 0;
  lsm_options opts = stOptions();
  lsm_stats st;
  lsm_db *db;
  Watchdog wd;
  int i, bStop = 0, bStallSeen = 0;
  double t0, tProgress;
  (void)state;

  watchdogStart(&wd, (int)nSec + 120, "test_stalls");
  testRmTree(zDir);
  db = openDb(&opts);
  memset(aW, 0, sizeof(aW));
  for(i=0; i<ST_WRITERS; i++){
    aW[i].db = db;
    aW[i].iWriter = i;
    aW[i].pbStop = &bStop;
    assert_int_equal(pthread_create(&aW[i].tid, 0, stWriterMain, &aW[i]), 0);
  }
  t0 = tProgress = nowSeconds();
  while( nowSeconds()-t0 < (double)nSec ){
    uint64_t n;
    sleepMs(50);
    getStats(db, &st);
    if( !bStallSeen && st.stalls>0 ){
      bStallSeen = 1;
      for(i=0; i<ST_WRITERS; i++) anAtStall[i] = __atomic_load_n(&aW[i].nBatches, __ATOMIC_ACQUIRE);
    }
    n = stTotal(aW);
    if( n!=nLast ){
      nLast = n;
      tProgress = nowSeconds();
    }else if( nowSeconds()-tProgress > 30 ){
      fprintf(stderr, "stalls: no write for 30 s (%llu stalls, L0 %d, %d "
              "frozen memtables): deadlock\n", (unsigned long long)st.stalls,
              st.anLevelFiles[0], st.immutable_count);
      abort();
    }
    if( st.error_code ) break;
  }
  __atomic_store_n(&bStop, 1, __ATOMIC_RELEASE);
  for(i=0; i<ST_WRITERS; i++) pthread_join(aW[i].tid, 0);
  getStats(db, &st);
  print_message("stalls: %d writers, %.1f s, %llu batches, %llu stalls "
                "(%.2f s stalled in all), %llu compactions, L0 now %d\n",
                ST_WRITERS, nowSeconds()-t0, (unsigned long long)stTotal(aW),
                (unsigned long long)st.stalls, (double)st.stall_us/1e6,
                (unsigned long long)st.compactions, st.anLevelFiles[0]);
  for(i=0; i<ST_WRITERS; i++){
    if( aW[i].rc!=LSM_OK ) fail_msg("writer %d: rc=%d %s", i, aW[i].rc, lsm_errmsg(db));
  }
  assert_int_equal(st.error_code, 0);
  assert_true(bStallSeen);
  assert_true(st.stalls>0);
  assert_true(st.stall_us>0);
  /* Every writer resumed after the first stall. */
  for(i=0; i<ST_WRITERS; i++) assert_true(aW[i].nBatches > anAtStall[i]);
  /* Compaction kept level 0 within the stop threshold's reach. */
  assert_true(st.anLevelFiles[0] <= opts.l0_stop + 1);
  stVerify(db, aW);
  assert_int_equal(lsm_close(db), LSM_OK);
  db = openDb(&opts);
  stVerify(db, aW);
  assert_int_equal(lsm_close(db), LSM_OK);
  watchdogStop(&wd);
}

/*
** Writers held at the stop threshold while the background work fails:
** they must be released with the error, not left waiting for a
** compaction that will never come.
*/
static void test_stall_error(void **state){
  static StWriter aW[ST_WRITERS];
  TestEnv *pTest = testenvNew();
  lsm_options opts = stOptions();
  lsm_stats st;
  lsm_db *db;
  Watchdog wd;
  int i, bStop = 0;
  double t0;
  (void)state;

  watchdogStart(&wd, 120, "test_stall_error");
  opts.env = testenvEnv(pTest);
  opts.sync_mode = LSM_SYNC_NORMAL;
  testRmTree(zDir);
  db = openDb(&opts);
  memset(aW, 0, sizeof(aW));
  for(i=0; i<ST_WRITERS; i++){
    aW[i].db = db;
    aW[i].iWriter = i;
    aW[i].pbStop = &bStop;
    assert_int_equal(pthread_create(&aW[i].tid, 0, stWriterMain, &aW[i]), 0);
  }
  /* Let them stall at least once, then make every table write fail. */
  t0 = nowSeconds();
  do{
    sleepMs(10);
    getStats(db, &st);
  }while( st.stalls<3 && nowSeconds()-t0<30 );
  assert_true(st.stalls>=3);
  testenvFailAtPath(pTest, TESTENV_APPEND, 1, ENOSPC, 1, ".sst");
  for(i=0; i<ST_WRITERS; i++) pthread_join(aW[i].tid, 0);
  getStats(db, &st);
  print_message("stall error: writers released %.2f s after the fault\n",
                nowSeconds()-t0);
  assert_int_equal(st.error_code, LSM_FULL);
  for(i=0; i<ST_WRITERS; i++) assert_int_equal(aW[i].rc, LSM_FULL);
  assert_non_null(strstr(lsm_errmsg(db), "error state"));
  stVerify(db, aW);
  lsm_close(db);
  testenvClearFaults(pTest);
  db = openDb(&opts);
  stVerify(db, aW);
  assert_int_equal(lsm_close(db), LSM_OK);
  testenvFree(pTest);
  watchdogStop(&wd);
}

/**************************************************************************
** Statistics.
*/

/* Key number k as 16 hex digits, scattered over the key space. */
static void stKey(uint32_t k, char *z){
  snprintf(z, 17, "%016llx", (unsigned long long)k * 0x9E3779B97F4A7C15ULL);
}

static void test_stats(void **state){
  lsm_options opts;
  lsm_stats st;
  lsm_db *db;
  uint64_t r = 17, nUser = 0, nSst, nLive;
  int i, nLevels, nOps = 30000, nKeys = 20000;
  (void)state;

  lsm_options_init(&opts);
  opts.sync_mode = LSM_SYNC_OFF;
  opts.memtable_size = 64<<10;
  opts.table_size = 64<<10;
  opts.level1_size = 256<<10;
  opts.l0_trigger = 2;
  opts.compression = LSM_COMPRESSION_NONE;
  testRmTree(zDir);
  db = openDb(&opts);
  for(i=0; i<nOps; i++){
    char zK[17];
    uint8_t aV[100];
    int j;
    stKey(testRandRange(&r, (uint32_t)nKeys), zK);
    for(j=0; j<100; j++) aV[j] = (uint8_t)testRand(&r);
    assert_int_equal(lsm_put(db, zK, 16, aV, 100), LSM_OK);
    nUser += 116;
  }
  assert_int_equal(lsm_flush(db), LSM_OK);
  getStats(db, &st);
  /* User bytes count keys and values (plus a few bytes of framing each). */
  assert_true(st.user_bytes >= nUser);
  assert_true(st.user_bytes <= nUser + (uint64_t)nOps*8);
  assert_true(st.log_bytes >= st.user_bytes);
  assert_true(st.flushes>0);
  assert_true(st.compactions>0);
  assert_true(st.compact_read_bytes>0);
  assert_true(st.write_amp >= 1.0);
  assert_true(st.write_amp < 20.0);
  if( st.write_amp*(double)st.user_bytes < 0.999*(double)(st.flush_bytes+st.compact_bytes)
   || st.write_amp*(double)st.user_bytes > 1.001*(double)(st.flush_bytes+st.compact_bytes) ){
    fail_msg("write_amp %.3f is not (flush+compact)/user", st.write_amp);
  }
  {
    uint64_t nSum = 0;
    for(i=0; i<LSM_MAX_LEVELS; i++) nSum += st.anLevelBytes[i];
    assert_int_equal(nSum, st.table_bytes);
  }
  assert_int_equal(st.anLevelBudget[0], 0);
  assert_int_equal(st.anLevelBudget[1], opts.level1_size);
  assert_int_equal(st.anLevelBudget[2], opts.level1_size*10);
  assert_int_equal(st.last_seq, (uint64_t)nOps);
  assert_int_equal(st.error_code, 0);
  assert_int_equal(st.last_error[0], 0);

  /* A full compaction leaves one level holding everything. */
  assert_int_equal(lsm_compact(db, 0, 0, 0, 0), LSM_OK);
  getStats(db, &st);
  nLevels = 0;
  for(i=0; i<LSM_MAX_LEVELS; i++) nLevels += st.anLevelFiles[i]>0;
  assert_int_equal(nLevels, 1);
  print_message("stats: write amp %.2f, space amp %.3f after a full "
                "compaction, %llu table bytes\n", st.write_amp, st.space_amp,
                (unsigned long long)st.table_bytes);
  assert_true(st.space_amp >= 1.0);
  assert_true(st.space_amp <= 1.1);
  dirBytes(zDir, &nSst);
  assert_int_equal(nSst, st.table_bytes);
  /* And really near 1: the tables hold little beyond the live data. */
  nLive = 0;
  {
    lsm_iter *it = 0;
    assert_int_equal(lsm_iter_new(db, 0, 0, 0, 0, 0, &it), LSM_OK);
    assert_int_equal(lsm_iter_first(it), LSM_OK);
    while( lsm_iter_valid(it) ){
      size_t nK, nV;
      lsm_iter_key(it, &nK);
      lsm_iter_value(it, &nV);
      nLive += nK + nV;
      lsm_iter_next(it);
    }
    lsm_iter_free(it);
  }
  assert_true(nSst <= nLive*13/10);

  /* Reads are counted: block cache, bloom filters, probes.  With one
  ** level, every read that reaches the tables searches one table; the
  ** bloom filters turn away almost every absent key. */
  for(i=0; i<2000; i++){
    char zK[17];
    void *pVal = 0;
    size_t nVal;
    stKey((uint32_t)i, zK);
    lsm_get(db, 0, zK, 16, &pVal, &nVal);
    lsm_free(pVal);
    zK[15] = 'g';                 /* not hex: absent, inside the range */
    assert_int_equal(lsm_get(db, 0, zK, 16, &pVal, &nVal), LSM_NOTFOUND);
  }
  getStats(db, &st);
  print_message("stats: %llu gets, read amp %.2f, bloom useful %llu, useless "
                "%llu, cache hits %llu, misses %llu\n",
                (unsigned long long)st.gets, st.read_amp,
                (unsigned long long)st.bloom_useful,
                (unsigned long long)st.bloom_useless,
                (unsigned long long)st.cache_hits,
                (unsigned long long)st.cache_misses);
  assert_true(st.gets>=4000);
  assert_true(st.cache_hits + st.cache_misses > 0);
  assert_true(st.bloom_useful >= 1900);
  assert_true(st.read_amp >= 0.9);
  assert_true(st.read_amp <= 1.1);
  assert_int_equal(lsm_close(db), LSM_OK);
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_model, setup, teardown),
    cmocka_unit_test_setup_teardown(test_tombstone_resurrection, setup, teardown),
    cmocka_unit_test_setup_teardown(test_space_reclaimed, setup, teardown),
    cmocka_unit_test_setup_teardown(test_snapshot_full_compaction, setup, teardown),
    cmocka_unit_test_setup_teardown(test_power_loss_compaction, setup, teardown),
    cmocka_unit_test_setup_teardown(test_moved_table_lifetime, setup, teardown),
    cmocka_unit_test_setup_teardown(test_io_error_compaction, setup, teardown),
    cmocka_unit_test_setup_teardown(test_io_error_every_append, setup, teardown),
    cmocka_unit_test_setup_teardown(test_concurrency, setup, teardown),
    cmocka_unit_test_setup_teardown(test_stalls, setup, teardown),
    cmocka_unit_test_setup_teardown(test_stall_error, setup, teardown),
    cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
  };
  if( getenv("LSM_TEST_FILTER") ) cmocka_set_test_filter(getenv("LSM_TEST_FILTER"));
  return cmocka_run_group_tests(tests, 0, 0);
}
