/*
** test_oom.c -- out-of-memory faults at every allocation of a workload.
**
** Every allocation the engine makes goes through the hook installed with
** lsm_set_allocator().  This test installs one that counts calls and can
** fail the N-th: once (only call N returns NULL) or persistently (every
** call from N on does).  The workload touches every part of the engine
** that a user reaches through the public API:
**
**     open (create), single puts and deletes, a plain batch, an indexed
**     batch read through lsm_batch_get and lsm_iter_new_batch, two
**     flushes, a full lsm_compact, a snapshot read, forward and reverse
**     iteration and seeks, close, then reopen (recovery replays the log
**     holding the last writes), reads, a write and close again.
**
** It first runs with no fault to count the allocation calls and, from a
** short stack trace of each call, the distinct allocation sites.  Then,
** for each chosen N, it runs the workload with call N failing, stopping
** at the first call that does not succeed, closes the handle, removes the
** fault and reopens the directory to check:
**   - every call returned LSM_OK or LSM_NOMEM (reads also LSM_NOTFOUND),
**     and a failed call left a message;
**   - reads that succeeded during the workload returned the model's data;
**   - after the fault, the database opens and holds every acknowledged
**     write, and the one write in flight when the fault hit either whole
**     or not at all;
**   - nothing leaked: the hook's count of live allocations is back to
**     zero after every round (ASan/LSan check the same at exit).
**
** Choosing N.  The workload is deterministic: automatic flushes and
** compactions never trigger (the memtable is large and level 0 stays
** below its trigger), so background work runs only while the caller
** waits in lsm_flush, and call N is the same allocation in every round.
** A round costs a few milliseconds (file creation and removal dominate).
** When the count is larger than a mode's budget (OOM_MAX_ONCE,
** OOM_MAX_PERSIST) the test takes every N at which a call site (a stack
** of OOM_SITE_DEPTH frames) appears for the first time, plus an even
** stride over the rest, so that every site fails at least once.  Today
** the "once" pass takes every N and the persistent pass strides.  It
** prints the figures.
**
** A background thread or a timing change could make call N a different
** allocation; the checks above hold for any N, so that costs coverage,
** never a false failure.
**
** Durability is not under test here (no crash is simulated), so the
** workload runs on the POSIX env with xSync and xSyncDir made no-ops:
** the engine still makes every call, the disk is just not flushed, which
** keeps a round near a millisecond.  Allocations that fail inside
** best-effort cleanup (the name of an obsolete file to delete) leave the
** workload succeeding; the test counts them ("absorbed") and the next
** open removes what was left behind.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lsm.h"
#include "support/testutil.h"

#define OOM_KEYS        48      /* key space of the workload */
#define OOM_MAX_ONCE    3000    /* "once" fault points before striding */
#define OOM_MAX_PERSIST 600     /* "persistent" fault points before striding */
#define OOM_SITE_DEPTH  5       /* stack frames that name a call site */
#define OOM_MAX_SITES   8192    /* capacity of the site table */
#define OOM_ALARM_SECS  240     /* a hang fails the program */

static char *zDir;

/**************************************************************************
** The allocation hook.
*/

typedef struct OomSite {
  uint64_t iHash;          /* hash of the stack; 0 for an empty slot */
  uint64_t iFirst;         /* first call number with this stack */
} OomSite;

static struct {
  uint64_t nCall;          /* allocation calls so far (atomic) */
  uint64_t iFail;          /* call to fail, 0 for none */
  int bPersistent;         /* fail every call from iFail on */
  uint64_t nFailed;        /* calls failed (atomic) */
  int64_t nLive;           /* allocations not yet freed (atomic) */
  int bSites;              /* record call sites */
  pthread_mutex_t siteMutex;
  OomSite aSite[OOM_MAX_SITES];
  int nSite;
} oom = { .siteMutex = PTHREAD_MUTEX_INITIALIZER };

/* Note the stack of allocation call iCall in the site table. */
static void oomRecordSite(uint64_t iCall){
  void *aFrame[OOM_SITE_DEPTH + 2];
  int nFrame = backtrace(aFrame, OOM_SITE_DEPTH + 2);
  uint64_t h = 0xcbf29ce484222325ull;
  int i, iSlot;
  /* Frames 0 and 1 are this function and oomShouldFail. */
  for(i=2; i<nFrame; i++){
    h = (h ^ (uint64_t)(uintptr_t)aFrame[i]) * 0x100000001b3ull;
  }
  if( h==0 ) h = 1;
  pthread_mutex_lock(&oom.siteMutex);
  iSlot = (int)(h % OOM_MAX_SITES);
  while( oom.aSite[iSlot].iHash && oom.aSite[iSlot].iHash!=h ){
    iSlot = (iSlot+1) % OOM_MAX_SITES;
  }
  if( oom.aSite[iSlot].iHash==0 && oom.nSite<OOM_MAX_SITES-1 ){
    oom.aSite[iSlot].iHash = h;
    oom.aSite[iSlot].iFirst = iCall;
    oom.nSite++;
  }
  pthread_mutex_unlock(&oom.siteMutex);
}

__attribute__((noinline)) static int oomShouldFail(void){
  uint64_t i = __atomic_add_fetch(&oom.nCall, 1, __ATOMIC_RELAXED);
  uint64_t iFail = __atomic_load_n(&oom.iFail, __ATOMIC_RELAXED);
  if( oom.bSites ) oomRecordSite(i);
  if( iFail && (i==iFail || (oom.bPersistent && i>iFail)) ){
    __atomic_add_fetch(&oom.nFailed, 1, __ATOMIC_RELAXED);
    return 1;
  }
  return 0;
}

static void *oomMalloc(size_t n){
  void *p;
  if( oomShouldFail() ) return 0;
  p = malloc(n);
  if( p ) __atomic_add_fetch(&oom.nLive, 1, __ATOMIC_RELAXED);
  return p;
}

static void *oomRealloc(void *pOld, size_t n){
  void *p;
  if( oomShouldFail() ) return 0;
  p = realloc(pOld, n);
  if( p && pOld==0 ) __atomic_add_fetch(&oom.nLive, 1, __ATOMIC_RELAXED);
  return p;
}

static void oomFree(void *p){
  if( p ) __atomic_sub_fetch(&oom.nLive, 1, __ATOMIC_RELAXED);
  free(p);
}

static const lsm_allocator oomAllocator = { oomMalloc, oomRealloc, oomFree };

/* Start counting from zero; fail call iFail (0: none) as described. */
static void oomArm(uint64_t iFail, int bPersistent){
  __atomic_store_n(&oom.nCall, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&oom.nFailed, 0, __ATOMIC_RELAXED);
  oom.bPersistent = bPersistent;
  __atomic_store_n(&oom.iFail, iFail, __ATOMIC_RELAXED);
}

static void oomDisarm(void){
  __atomic_store_n(&oom.iFail, 0, __ATOMIC_RELAXED);
}

/**************************************************************************
** The model: the acknowledged state, and the state the write in flight
** when the fault hit would leave if it was applied.
*/

typedef struct Model {
  int aGen[OOM_KEYS];          /* acknowledged: value generation, -1 absent */
  int aPend[OOM_KEYS];         /* with the write in flight applied */
  int bPending;                /* aPend is meaningful */
} Model;

static void modelInit(Model *m){
  int i;
  for(i=0; i<OOM_KEYS; i++) m->aGen[i] = -1;
  m->bPending = 0;
}

static int keyName(int k, char *zOut){
  return snprintf(zOut, 16, "key%03d", k);
}

/* The value of generation g of key k: 0..199 bytes, LZ4-compressible in
** part, different for every (k, g). */
static size_t valueMake(int k, int g, char *aOut){
  size_t n = (size_t)((k*7 + g*13) % 200);
  size_t i;
  char zHead[32];
  int nHead = snprintf(zHead, sizeof(zHead), "k%d-g%d;", k, g);
  for(i=0; i<n; i++){
    aOut[i] = (i<(size_t)nHead) ? zHead[i] : (char)('a' + (i*k + g)%26);
  }
  return n;
}

/* Does the value p[0..n-1] read for key k match generation g? */
static int valueIs(int k, int g, const void *p, size_t n){
  char aExp[256];
  size_t nExp;
  if( g<0 ) return 0;
  nExp = valueMake(k, g, aExp);
  return n==nExp && (n==0 || memcmp(p, aExp, n)==0);
}

/**************************************************************************
** The workload.  Each step returns LSM_OK or the code of the first call
** that failed; the caller stops there.  A failed call must be NOMEM, with
** a message.
*/

typedef struct Workload {
  lsm_db *db;
  Model m;
  const char *zStep;           /* step that failed, for messages */
} Workload;

/* The POSIX env without fsync (see the essay). */
static lsm_env oomEnv;
static int oomSync(lsm_file *pFile){ (void)pFile; return LSM_OK; }
static int oomSyncDir(lsm_env *pEnv, const char *zDir){
  (void)pEnv;
  (void)zDir;
  return LSM_OK;
}

static lsm_options oomOptions(void){
  lsm_options opts;
  if( oomEnv.xOpen==0 ){
    oomEnv = *lsm_env_default();
    oomEnv.xSync = oomSync;
    oomEnv.xSyncDir = oomSyncDir;
  }
  lsm_options_init(&opts);
  opts.env = &oomEnv;
  opts.memtable_size = 256<<10;     /* never fills: no automatic flush */
  opts.block_size = 256;            /* several blocks per table */
  opts.table_size = 1024;           /* compaction writes several tables */
  opts.cache_size = 2048;           /* the block cache evicts */
  opts.max_open_tables = 10;
  return opts;
}

/* Check a failed call's code and message. */
static int wlFailed(Workload *w, int rc, const char *zStep){
  if( rc!=LSM_NOMEM ){
    fail_msg("%s: expected LSM_NOMEM, got %d (%s)", zStep, rc,
             w->db ? lsm_errmsg(w->db) : "no handle");
  }
  if( w->db && strlen(lsm_errmsg(w->db))==0 ) fail_msg("%s: no message", zStep);
  w->zStep = zStep;
  return rc;
}

static int wlPut(Workload *w, int k, int g){
  char zKey[16], aVal[256];
  int nKey = keyName(k, zKey);
  size_t nVal = valueMake(k, g, aVal);
  int rc = lsm_put(w->db, zKey, (size_t)nKey, aVal, nVal);
  if( rc==LSM_OK ){
    w->m.aGen[k] = g;
    return LSM_OK;
  }
  memcpy(w->m.aPend, w->m.aGen, sizeof(w->m.aPend));
  w->m.aPend[k] = g;
  w->m.bPending = 1;
  return wlFailed(w, rc, "lsm_put");
}

static int wlDelete(Workload *w, int k){
  char zKey[16];
  int nKey = keyName(k, zKey);
  int rc = lsm_delete(w->db, zKey, (size_t)nKey);
  if( rc==LSM_OK ){
    w->m.aGen[k] = -1;
    return LSM_OK;
  }
  memcpy(w->m.aPend, w->m.aGen, sizeof(w->m.aPend));
  w->m.aPend[k] = -1;
  w->m.bPending = 1;
  return wlFailed(w, rc, "lsm_delete");
}

/* Read key k (through pSnap if not NULL) and compare with aGen[k]. */
static int wlGet(Workload *w, const lsm_snapshot *pSnap, const int *aGen,
                 int k){
  char zKey[16];
  int nKey = keyName(k, zKey);
  void *pVal = 0;
  size_t nVal = 0;
  int rc = lsm_get(w->db, pSnap, zKey, (size_t)nKey, &pVal, &nVal);
  if( rc==LSM_OK ){
    if( !valueIs(k, aGen[k], pVal, nVal) ) fail_msg("get %s: wrong value", zKey);
  }else if( rc==LSM_NOTFOUND ){
    if( aGen[k]>=0 ) fail_msg("get %s: not found", zKey);
    rc = LSM_OK;
  }else{
    rc = wlFailed(w, rc, "lsm_get");
  }
  lsm_free(pVal);
  return rc;
}

/*
** Apply to the model the operations of a batch that put generation g on
** keys [k0, k0+n) and deleted key kDel; aState is aGen or aPend.
*/
static void modelBatch(int *aState, int k0, int n, int g, int kDel){
  int i;
  for(i=0; i<n; i++) aState[k0+i] = g;
  aState[kDel] = -1;
}

/* A plain batch: puts on keys [k0, k0+n), then a delete of kDel. */
static int wlBatch(Workload *w, int k0, int n, int g, int kDel){
  lsm_batch *pBatch = 0;
  int rc = lsm_batch_new(&pBatch);
  int i;
  for(i=0; rc==LSM_OK && i<n; i++){
    char zKey[16], aVal[256];
    int nKey = keyName(k0+i, zKey);
    size_t nVal = valueMake(k0+i, g, aVal);
    rc = lsm_batch_put(pBatch, zKey, (size_t)nKey, aVal, nVal);
  }
  if( rc==LSM_OK ){
    char zKey[16];
    int nKey = keyName(kDel, zKey);
    rc = lsm_batch_delete(pBatch, zKey, (size_t)nKey);
  }
  if( rc!=LSM_OK ){
    lsm_batch_free(pBatch);
    return wlFailed(w, rc, "lsm_batch_put");
  }
  rc = lsm_write(w->db, pBatch);
  lsm_batch_free(pBatch);
  if( rc==LSM_OK ){
    modelBatch(w->m.aGen, k0, n, g, kDel);
    return LSM_OK;
  }
  memcpy(w->m.aPend, w->m.aGen, sizeof(w->m.aPend));
  modelBatch(w->m.aPend, k0, n, g, kDel);
  w->m.bPending = 1;
  return wlFailed(w, rc, "lsm_write");
}

/*
** An indexed batch: put generation g on kPut, delete kDel; read both back
** from the batch, walk lsm_iter_new_batch over the batch and the
** database and check it against the model with the batch applied; then
** write the batch.
*/
static int wlIndexedBatch(Workload *w, int kPut, int kDel, int g){
  lsm_batch *pBatch = 0;
  lsm_iter *pIter = 0;
  int aAfter[OOM_KEYS];
  char zKey[16], aVal[256];
  int nKey, rc, k, bDeleted = 0;
  size_t nVal;
  const void *pGot;
  size_t nGot;

  memcpy(aAfter, w->m.aGen, sizeof(aAfter));
  aAfter[kPut] = g;
  aAfter[kDel] = -1;
  rc = lsm_batch_new_indexed(&pBatch);
  if( rc==LSM_OK ){
    nKey = keyName(kPut, zKey);
    nVal = valueMake(kPut, g, aVal);
    rc = lsm_batch_put(pBatch, zKey, (size_t)nKey, aVal, nVal);
  }
  if( rc==LSM_OK ){
    nKey = keyName(kDel, zKey);
    rc = lsm_batch_delete(pBatch, zKey, (size_t)nKey);
  }
  if( rc!=LSM_OK ){
    lsm_batch_free(pBatch);
    return wlFailed(w, rc, "indexed batch");
  }
  /* the batch builds its key order at the first read, which may fail */
  nKey = keyName(kPut, zKey);
  rc = lsm_batch_get(pBatch, zKey, (size_t)nKey, &pGot, &nGot, &bDeleted);
  if( rc!=LSM_OK ){
    lsm_batch_free(pBatch);
    return wlFailed(w, rc, "indexed batch read");
  }
  assert_false(bDeleted);
  assert_true(valueIs(kPut, g, pGot, nGot));

  rc = lsm_iter_new_batch(w->db, 0, pBatch, 0, 0, 0, 0, &pIter);
  if( rc==LSM_OK ) rc = lsm_iter_first(pIter);
  for(k=0; rc==LSM_OK && k<OOM_KEYS; k++){
    if( aAfter[k]<0 ) continue;
    if( !lsm_iter_valid(pIter) ){
      rc = lsm_iter_status(pIter);
      if( rc==LSM_OK ) fail_msg("batch iterator ended before key %d", k);
      break;
    }
    pGot = lsm_iter_key(pIter, &nGot);
    nKey = keyName(k, zKey);
    assert_int_equal(nGot, nKey);
    assert_memory_equal(pGot, zKey, nGot);
    pGot = lsm_iter_value(pIter, &nGot);
    assert_true(valueIs(k, aAfter[k], pGot, nGot));
    rc = lsm_iter_next(pIter);
  }
  if( rc==LSM_OK && lsm_iter_valid(pIter) ) fail_msg("batch iterator too long");
  lsm_iter_free(pIter);
  if( rc!=LSM_OK ){
    lsm_batch_free(pBatch);
    return wlFailed(w, rc, "lsm_iter_new_batch");
  }

  rc = lsm_write(w->db, pBatch);
  lsm_batch_free(pBatch);
  if( rc==LSM_OK ){
    memcpy(w->m.aGen, aAfter, sizeof(aAfter));
    return LSM_OK;
  }
  memcpy(w->m.aPend, aAfter, sizeof(aAfter));
  w->m.bPending = 1;
  return wlFailed(w, rc, "lsm_write (indexed)");
}

/* Walk the whole database forward and backward, then seek both ways to
** key kSeek, comparing with aGen. */
static int wlScan(Workload *w, const lsm_snapshot *pSnap, const int *aGen,
                  int kSeek){
  lsm_iter *pIter = 0;
  char zKey[16];
  const void *p;
  size_t n;
  int nKey, k, rc, bReverse;

  rc = lsm_iter_new(w->db, pSnap, 0, 0, 0, 0, &pIter);
  for(bReverse=0; rc==LSM_OK && bReverse<2; bReverse++){
    rc = bReverse ? lsm_iter_last(pIter) : lsm_iter_first(pIter);
    for(k=0; rc==LSM_OK && k<OOM_KEYS; k++){
      int kk = bReverse ? OOM_KEYS-1-k : k;
      if( aGen[kk]<0 ) continue;
      if( !lsm_iter_valid(pIter) ){
        rc = lsm_iter_status(pIter);
        if( rc==LSM_OK ) fail_msg("scan ended before key %d", kk);
        break;
      }
      p = lsm_iter_key(pIter, &n);
      nKey = keyName(kk, zKey);
      assert_int_equal(n, nKey);
      assert_memory_equal(p, zKey, n);
      p = lsm_iter_value(pIter, &n);
      if( !valueIs(kk, aGen[kk], p, n) ) fail_msg("scan: key %d wrong value", kk);
      rc = bReverse ? lsm_iter_prev(pIter) : lsm_iter_next(pIter);
    }
    if( rc==LSM_OK && lsm_iter_valid(pIter) ) fail_msg("scan too long");
  }
  if( rc==LSM_OK ){
    int kExp = kSeek;
    nKey = keyName(kSeek, zKey);
    rc = lsm_iter_seek(pIter, zKey, (size_t)nKey);
    while( kExp<OOM_KEYS && aGen[kExp]<0 ) kExp++;
    if( rc==LSM_OK && kExp<OOM_KEYS ){
      char zExp[16];
      assert_true(lsm_iter_valid(pIter));
      p = lsm_iter_key(pIter, &n);
      assert_memory_equal(p, zExp, (size_t)keyName(kExp, zExp));
    }
  }
  if( rc==LSM_OK ){
    int kExp = kSeek;
    nKey = keyName(kSeek, zKey);
    rc = lsm_iter_seek_le(pIter, zKey, (size_t)nKey);
    while( kExp>=0 && aGen[kExp]<0 ) kExp--;
    if( rc==LSM_OK && kExp>=0 ){
      char zExp[16];
      assert_true(lsm_iter_valid(pIter));
      p = lsm_iter_key(pIter, &n);
      assert_memory_equal(p, zExp, (size_t)keyName(kExp, zExp));
    }
  }
  lsm_iter_free(pIter);
  return rc==LSM_OK ? LSM_OK : wlFailed(w, rc, "iterator");
}

static int wlOpen(Workload *w){
  lsm_options opts = oomOptions();
  int rc = lsm_open(zDir, &opts, &w->db);
  if( rc!=LSM_OK ){
    wlFailed(w, rc, "lsm_open");
    lsm_close(w->db);
    w->db = 0;
  }
  return rc;
}

static int wlClose(Workload *w){
  int rc = lsm_close(w->db);
  w->db = 0;
  if( rc!=LSM_OK && rc!=LSM_NOMEM ) fail_msg("lsm_close: %d", rc);
  if( rc!=LSM_OK ) w->zStep = "lsm_close";
  return rc;
}

/* Run the workload until it ends or a call fails; return that code.  On
** return w->db is open only if the workload stopped with it open. */
static int workloadRun(Workload *w){
  lsm_snapshot *pSnap = 0;
  int aSnap[OOM_KEYS];
  int rc, k;

  modelInit(&w->m);
  w->zStep = 0;
  rc = wlOpen(w);
  for(k=0; rc==LSM_OK && k<24; k++) rc = wlPut(w, k, 1);
  if( rc==LSM_OK ) rc = wlDelete(w, 3);
  if( rc==LSM_OK ) rc = wlBatch(w, 24, 8, 1, 5);
  if( rc==LSM_OK ) rc = wlIndexedBatch(w, 40, 7, 2);
  if( rc==LSM_OK ){
    rc = lsm_flush(w->db);
    if( rc ) wlFailed(w, rc, "lsm_flush 1");
  }
  for(k=32; rc==LSM_OK && k<OOM_KEYS; k++) rc = wlPut(w, k, 3);
  if( rc==LSM_OK ) rc = wlDelete(w, 9);
  if( rc==LSM_OK ) rc = wlPut(w, 10, 4);
  if( rc==LSM_OK ){
    rc = lsm_flush(w->db);
    if( rc ) wlFailed(w, rc, "lsm_flush 2");
  }
  if( rc==LSM_OK ){
    rc = lsm_compact(w->db, 0, 0, 0, 0);
    if( rc ) wlFailed(w, rc, "lsm_compact");
  }
  if( rc==LSM_OK ){
    rc = lsm_snapshot_new(w->db, &pSnap);
    if( rc ) wlFailed(w, rc, "lsm_snapshot_new");
    memcpy(aSnap, w->m.aGen, sizeof(aSnap));
  }
  if( rc==LSM_OK ) rc = wlPut(w, 0, 5);
  if( rc==LSM_OK ) rc = wlDelete(w, 1);
  if( rc==LSM_OK ) rc = wlBatch(w, 12, 6, 5, 30);
  if( rc==LSM_OK ) rc = wlGet(w, pSnap, aSnap, 0);
  if( rc==LSM_OK ) rc = wlGet(w, pSnap, aSnap, 30);
  if( rc==LSM_OK ) rc = wlGet(w, 0, w->m.aGen, 0);
  if( rc==LSM_OK ) rc = wlGet(w, 0, w->m.aGen, 30);
  if( rc==LSM_OK ) rc = wlScan(w, pSnap, aSnap, 20);
  if( rc==LSM_OK ) rc = wlScan(w, 0, w->m.aGen, 9);
  if( pSnap ) lsm_snapshot_free(w->db, pSnap);
  if( rc==LSM_OK ) rc = wlClose(w);

  /* Recovery: the writes since the compaction are only in the log. */
  if( rc==LSM_OK ) rc = wlOpen(w);
  for(k=0; rc==LSM_OK && k<OOM_KEYS; k+=5) rc = wlGet(w, 0, w->m.aGen, k);
  if( rc==LSM_OK ) rc = wlPut(w, 2, 6);
  if( rc==LSM_OK ) rc = wlClose(w);
  return rc;
}

/*
** With no fault active: open zDir and check it holds the acknowledged
** state, or (if a write was in flight) exactly the state with that write
** applied.  Then close.
*/
static void verifyRecovered(const Model *m, uint64_t iFail){
  lsm_options opts = oomOptions();
  lsm_db *db = 0;
  lsm_iter *pIter = 0;
  int bAck = 1, bPend = m->bPending;
  int k, rc;

  rc = lsm_open(zDir, &opts, &db);
  if( rc!=LSM_OK ){
    fail_msg("reopen after the fault at allocation %llu: %d %s",
             (unsigned long long)iFail, rc, lsm_errmsg(db));
  }
  for(k=0; k<OOM_KEYS; k++){
    char zKey[16];
    int nKey = keyName(k, zKey);
    void *pVal = 0;
    size_t nVal = 0;
    rc = lsm_get(db, 0, zKey, (size_t)nKey, &pVal, &nVal);
    if( rc==LSM_OK ){
      bAck = bAck && valueIs(k, m->aGen[k], pVal, nVal);
      bPend = bPend && valueIs(k, m->aPend[k], pVal, nVal);
    }else{
      if( rc!=LSM_NOTFOUND ) fail_msg("get after reopen: %d", rc);
      bAck = bAck && m->aGen[k]<0;
      bPend = bPend && m->aPend[k]<0;
    }
    lsm_free(pVal);
  }
  if( !bAck && !bPend ){
    fail_msg("after the fault at allocation %llu the data is neither the "
             "acknowledged state nor that state with the write in flight",
             (unsigned long long)iFail);
  }
  /* The order of a scan agrees with the point reads. */
  assert_int_equal(lsm_iter_new(db, 0, 0, 0, 0, 0, &pIter), LSM_OK);
  assert_int_equal(lsm_iter_first(pIter), LSM_OK);
  for(k=0; k<OOM_KEYS; k++){
    const int *aState = bAck ? m->aGen : m->aPend;
    char zKey[16];
    const void *p;
    size_t n;
    if( aState[k]<0 ) continue;
    assert_true(lsm_iter_valid(pIter));
    p = lsm_iter_key(pIter, &n);
    assert_memory_equal(p, zKey, (size_t)keyName(k, zKey));
    assert_int_equal(lsm_iter_next(pIter), LSM_OK);
  }
  assert_false(lsm_iter_valid(pIter));
  lsm_iter_free(pIter);
  assert_int_equal(lsm_close(db), LSM_OK);
}

/**************************************************************************
** The tests.
*/

static void onAlarm(int sig){
  static const char zMsg[] = "test_oom: hang (alarm)\n";
  (void)sig;
  if( write(2, zMsg, sizeof(zMsg)-1)<0 ) _exit(2);
  _exit(2);
}

static int setup(void **state){
  (void)state;
  zDir = testTempDir("oom");
  lsm_set_allocator(&oomAllocator);
  signal(SIGALRM, onAlarm);
  alarm(OOM_ALARM_SECS);
  return zDir==0;
}

static int teardown(void **state){
  (void)state;
  alarm(0);
  lsm_set_allocator(0);
  testRmTree(zDir);
  free(zDir);
  return 0;
}

static int cmpU64(const void *a, const void *b){
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return (x>y) - (x<y);
}

/*
** The fault points to test, ascending, in a malloc()ed array: every call
** if there are at most nMax, else the first call of each site plus a
** stride of about nMax/2 points over the rest.
*/
static uint64_t *choosePoints(uint64_t nTotal, int nMax, int *pnPoint){
  uint64_t *aPoint = malloc(sizeof(uint64_t)*((size_t)nMax + OOM_MAX_SITES));
  uint64_t i, nStride;
  int n = 0, j;
  assert_non_null(aPoint);
  if( nTotal<=(uint64_t)nMax ){
    for(i=1; i<=nTotal; i++) aPoint[n++] = i;
  }else{
    nStride = (nTotal + (uint64_t)nMax/2 - 1)/((uint64_t)nMax/2);
    for(i=1; i<=nTotal; i+=nStride) aPoint[n++] = i;
    for(j=0; j<OOM_MAX_SITES; j++){
      if( oom.aSite[j].iHash ) aPoint[n++] = oom.aSite[j].iFirst;
    }
    qsort(aPoint, (size_t)n, sizeof(uint64_t), cmpU64);
    for(i=1, j=1; (int)i<n; i++){
      if( aPoint[i]!=aPoint[j-1] ) aPoint[j++] = aPoint[i];
    }
    n = j;
  }
  *pnPoint = n;
  return aPoint;
}

static void test_oom_workload(void **state){
  Workload w;
  uint64_t nTotal, *aPoint;
  int nPoint, iPoint, bPersistent;
  int anPoint[2] = {0, 0};
  int anStop[2] = {0, 0};

  (void)state;
  memset(&w, 0, sizeof(w));

  /* Count the calls and sites of a clean run. */
  testRmTree(zDir);
  oomArm(0, 0);
  oom.bSites = 1;
  assert_int_equal(workloadRun(&w), LSM_OK);
  oom.bSites = 0;
  nTotal = __atomic_load_n(&oom.nCall, __ATOMIC_RELAXED);
  assert_int_equal(__atomic_load_n(&oom.nLive, __ATOMIC_RELAXED), 0);
  verifyRecovered(&w.m, 0);

  for(bPersistent=0; bPersistent<2; bPersistent++){
    aPoint = choosePoints(nTotal, bPersistent ? OOM_MAX_PERSIST : OOM_MAX_ONCE,
                          &nPoint);
    anPoint[bPersistent] = nPoint;
    for(iPoint=0; iPoint<nPoint; iPoint++){
      uint64_t iFail = aPoint[iPoint];
      int rc;
      testRmTree(zDir);
      oomArm(iFail, bPersistent);
      rc = workloadRun(&w);
      if( w.db ){
        /* Stopped with the handle open: closing must work (and may
        ** itself meet the fault). */
        int rcClose = lsm_close(w.db);
        if( rcClose!=LSM_OK && rcClose!=LSM_NOMEM ){
          fail_msg("lsm_close after NOMEM: %d", rcClose);
        }
        w.db = 0;
      }
      oomDisarm();
      if( rc!=LSM_OK ) anStop[bPersistent]++;
      if( __atomic_load_n(&oom.nFailed, __ATOMIC_RELAXED)==0 ){
        fail_msg("allocation %llu never happened (the workload is not "
                 "deterministic)", (unsigned long long)iFail);
      }
      verifyRecovered(&w.m, iFail);
      if( __atomic_load_n(&oom.nLive, __ATOMIC_RELAXED)!=0 ){
        fail_msg("fault at allocation %llu (%s): %lld allocations leaked",
                 (unsigned long long)iFail, bPersistent ? "persistent" : "once",
                 (long long)__atomic_load_n(&oom.nLive, __ATOMIC_RELAXED));
      }
    }
    free(aPoint);
  }
  print_message("oom: %llu allocations from %d call sites; fault points: "
                "%d once, %d persistent; workload stopped by NOMEM: %d once, "
                "%d persistent; absorbed by best-effort cleanup: %d\n",
                (unsigned long long)nTotal, oom.nSite, anPoint[0], anPoint[1],
                anStop[0], anStop[1], anPoint[0] - anStop[0]);
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_oom_workload, setup, teardown),
  };
  return cmocka_run_group_tests(tests, 0, 0);
}
