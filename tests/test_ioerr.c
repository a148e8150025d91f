/*
** test_ioerr.c -- I/O errors at every call of a workload, once and
** persistently, checked for clean errors and for what survives.
**
** The workload runs on the test env (tests/support/testenv.h) and goes
** through every phase that touches files, in this order:
**
**     open       create the database
**     write      commits under sync=full: puts, deletes, batches
**     flush      lsm_flush (a new log, a level-0 table, a manifest edit)
**     compact    lsm_compact over everything (tables in, tables out)
**     close      lsm_close
**     recover    lsm_open again: replay the log, write its table, a new
**                manifest and CURRENT, delete obsolete files
**     read       scans and point reads (table opens and block reads)
**     write      a last commit, and close
**
** A clean run first counts the env calls of each kind (open, read,
** append, sync, size, truncate, close, rename, remove, link, mkdir,
** rmdir, syncdir, list, exists, lock, unlock) and where each phase
** starts.  Then, for each kind and each N, a round makes the N-th call of
** that kind fail -- once, or every call from the N-th on -- with EIO,
** ENOSPC, or a short append (half the bytes written, then EIO or ENOSPC),
** rotating through the errors the call can meet.  The mutating kinds,
** where a fault can lose or tear data, fail at every N in both modes; a
** read-only kind (read, size, list, exists, lock, unlock, close) fails at
** every N too unless it has more than IE_MAX_READONLY calls, in which
** case an even stride covers it (the two modes take interleaved points).
** Each round costs some fsyncs on a real disk, which is what bounds the
** size of the workload.  The test prints the figures per kind and phase.
**
** A round runs the workload until a call fails, then checks:
**   - the failing call returned LSM_IOERR or LSM_FULL (never LSM_CORRUPT
**     or a crash), and its message describes the injected error;
**   - while the fault persists, reads of the open handle either succeed
**     with the acknowledged data or fail cleanly the same way;
**   - the handle closes (with an error or not) and, the fault cleared,
**     the database opens and holds every acknowledged commit -- under
**     sync=full, every commit whose call returned LSM_OK -- and the
**     commit that failed either whole or not at all; nothing else.
** A hang fails the program through an alarm.
**
** The workload is deterministic: the memtable never fills on its own and
** level 0 stays below its compaction trigger, so the background thread
** works only while the caller waits in lsm_flush, and the N-th call of a
** kind is the same call in every round.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lsm.h"
#include "support/testenv.h"
#include "support/testutil.h"

#define IE_KEYS          40     /* key space */
#define IE_MAX_READONLY  40     /* fault points per read-only kind and mode */
#define IE_ALARM_SECS    240

/* Phases of the workload, in order. */
#define P_OPEN     0
#define P_WRITE    1
#define P_FLUSH    2
#define P_COMPACT  3
#define P_CLOSE    4
#define P_RECOVER  5
#define P_READ     6
#define P_WRITE2   7
#define P_N        8

static const char *azPhase[P_N] = {
  "open", "write", "flush", "compact", "close", "recover", "read", "write 2"
};

/* The env call kinds faults are injected into. */
static const int aeKind[] = {
  TESTENV_OPEN, TESTENV_READ, TESTENV_APPEND, TESTENV_SYNC, TESTENV_SIZE,
  TESTENV_TRUNCATE, TESTENV_CLOSE, TESTENV_RENAME, TESTENV_REMOVE,
  TESTENV_LINK, TESTENV_MKDIR, TESTENV_RMDIR, TESTENV_SYNCDIR, TESTENV_LIST,
  TESTENV_EXISTS, TESTENV_LOCK, TESTENV_UNLOCK
};
static const char *azKind[] = {
  "open", "read", "append", "sync", "size", "truncate", "close", "rename",
  "remove", "link", "mkdir", "rmdir", "syncdir", "list", "exists", "lock",
  "unlock"
};
#define IE_NKIND ((int)(sizeof(aeKind)/sizeof(aeKind[0])))

static char *zDir;
static TestEnv *pEnv;
static const char *zRound = "";    /* the round running, for messages */

/* Errors whose message did not describe the fault: reported at the end. */
#define IE_MAX_NOTE 8
static char aaNote[IE_MAX_NOTE][400];
static int nNote;

/**************************************************************************
** The model: as in test_oom.c, the acknowledged state and the state with
** the failed commit applied.
*/

typedef struct Model {
  int aGen[IE_KEYS];        /* acknowledged value generation, -1 absent */
  int aPend[IE_KEYS];       /* with the failed commit applied */
  int bPending;
} Model;

static int keyName(int k, char *zOut){
  return snprintf(zOut, 16, "key%04d", k);
}

static size_t valueMake(int k, int g, char *aOut){
  size_t n = (size_t)((k*29 + g*41) % 300);
  char zHead[32];
  size_t nHead = (size_t)snprintf(zHead, sizeof(zHead), "k%d-g%d;", k, g);
  size_t i;
  for(i=0; i<n; i++){
    aOut[i] = i<nHead ? zHead[i] : (char)('a' + (i/3 + (size_t)(k*g))%26);
  }
  return n;
}

static int valueIs(int k, int g, const void *p, size_t n){
  char aExp[400];
  size_t nExp;
  if( g<0 ) return 0;
  nExp = valueMake(k, g, aExp);
  return n==nExp && (n==0 || memcmp(p, aExp, n)==0);
}

/**************************************************************************
** The workload.
*/

#define IE_MAX_MARK 16

/* Where a phase began: the call counts of every kind at that moment. */
typedef struct PhaseMark {
  int iPhase;
  uint64_t aCount[TESTENV_NKIND];
} PhaseMark;

typedef struct Workload {
  lsm_db *db;
  Model m;
  int iPhase;                   /* phase now running */
  int bCount;                   /* clean run: note where phases start */
  PhaseMark aMark[IE_MAX_MARK]; /* phase starts, in order (clean run) */
  int nMark;
  const char *zFailed;          /* the call that failed */
} Workload;

static lsm_options ieOptions(void){
  lsm_options opts;
  lsm_options_init(&opts);
  opts.env = testenvEnv(pEnv);
  opts.sync_mode = LSM_SYNC_FULL;
  opts.memtable_size = 1<<20;       /* flushes only when asked */
  opts.block_size = 1024;
  opts.table_size = 4096;           /* compaction writes several tables */
  opts.cache_size = 4096;
  opts.max_open_tables = 10;
  return opts;
}

static void wlPhase(Workload *w, int iPhase){
  w->iPhase = iPhase;
  if( w->bCount ){
    PhaseMark *pMark = &w->aMark[w->nMark++];
    int k;
    assert_true(w->nMark<=IE_MAX_MARK);
    pMark->iPhase = iPhase;
    for(k=0; k<TESTENV_NKIND; k++) pMark->aCount[k] = testenvCount(pEnv, k);
  }
}

/* A call failed with rc: it must be a clean I/O error with a message. */
static int wlFailed(Workload *w, int rc, const char *zCall){
  const char *zMsg = w->db ? lsm_errmsg(w->db) : "";
  if( rc!=LSM_IOERR && rc!=LSM_FULL ){
    fail_msg("%s: %s: expected LSM_IOERR or LSM_FULL, got %d: %s",
             zRound, zCall, rc, zMsg);
  }
  if( w->db && strstr(zMsg, "injected")==0 ){
    if( nNote<IE_MAX_NOTE ){
      snprintf(aaNote[nNote], sizeof(aaNote[0]), "%s: %s: %s", zRound,
               zCall, zMsg);
    }
    nNote++;
  }
  w->zFailed = zCall;
  return rc;
}

/* Commit a batch putting generation g on nPut keys from k0 (step kStep)
** and deleting kDel (if >= 0). */
static int wlCommit(Workload *w, int k0, int nPut, int kStep, int g, int kDel){
  lsm_batch *pBatch = 0;
  int aNew[IE_KEYS];
  int i, rc;
  memcpy(aNew, w->m.aGen, sizeof(aNew));
  assert_int_equal(lsm_batch_new(&pBatch), LSM_OK);
  for(i=0; i<nPut; i++){
    char zKey[16], aVal[400];
    int k = (k0 + i*kStep) % IE_KEYS;
    int nKey = keyName(k, zKey);
    size_t nVal = valueMake(k, g, aVal);
    assert_int_equal(lsm_batch_put(pBatch, zKey, (size_t)nKey, aVal, nVal),
                     LSM_OK);
    aNew[k] = g;
  }
  if( kDel>=0 ){
    char zKey[16];
    int nKey = keyName(kDel, zKey);
    assert_int_equal(lsm_batch_delete(pBatch, zKey, (size_t)nKey), LSM_OK);
    aNew[kDel] = -1;
  }
  rc = lsm_write(w->db, pBatch);
  lsm_batch_free(pBatch);
  if( rc==LSM_OK ){
    memcpy(w->m.aGen, aNew, sizeof(aNew));
    return LSM_OK;
  }
  memcpy(w->m.aPend, aNew, sizeof(aNew));
  w->m.bPending = 1;
  return wlFailed(w, rc, "lsm_write");
}

/*
** Read everything through w->db and compare with aGen.  Returns LSM_OK,
** or the clean I/O error a read met (with bAllowFail; otherwise that is
** a test failure).
*/
static int wlReadAll(Workload *w, const int *aGen, int bAllowFail){
  lsm_iter *pIter = 0;
  int k, rc;
  for(k=0; k<IE_KEYS; k++){
    char zKey[16];
    int nKey = keyName(k, zKey);
    void *pVal = 0;
    size_t nVal = 0;
    rc = lsm_get(w->db, 0, zKey, (size_t)nKey, &pVal, &nVal);
    if( rc==LSM_OK ){
      if( !valueIs(k, aGen[k], pVal, nVal) ) fail_msg("get %s: wrong value", zKey);
    }else if( rc==LSM_NOTFOUND ){
      if( aGen[k]>=0 ) fail_msg("get %s: acknowledged value missing", zKey);
    }else{
      if( !bAllowFail ) fail_msg("get %s: %d %s", zKey, rc, lsm_errmsg(w->db));
      return wlFailed(w, rc, "lsm_get");
    }
    lsm_free(pVal);
  }
  rc = lsm_iter_new(w->db, 0, 0, 0, 0, 0, &pIter);
  if( rc==LSM_OK ) rc = lsm_iter_first(pIter);
  for(k=0; rc==LSM_OK && k<IE_KEYS; k++){
    char zKey[16];
    const void *p;
    size_t n;
    if( aGen[k]<0 ) continue;
    if( !lsm_iter_valid(pIter) ){
      rc = lsm_iter_status(pIter);
      if( rc==LSM_OK ) fail_msg("scan ended before key %d", k);
      break;
    }
    p = lsm_iter_key(pIter, &n);
    assert_memory_equal(p, zKey, (size_t)keyName(k, zKey));
    p = lsm_iter_value(pIter, &n);
    if( !valueIs(k, aGen[k], p, n) ) fail_msg("scan: key %d wrong value", k);
    rc = lsm_iter_next(pIter);
  }
  if( rc==LSM_OK && lsm_iter_valid(pIter) ) fail_msg("scan too long");
  lsm_iter_free(pIter);
  if( rc!=LSM_OK ){
    if( rc!=LSM_IOERR && rc!=LSM_FULL ) fail_msg("scan: error %d", rc);
    if( !bAllowFail ) fail_msg("scan: %d", rc);
    w->zFailed = "iterator";
  }
  return rc;
}

static int wlOpen(Workload *w){
  lsm_options opts = ieOptions();
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
  return rc==LSM_OK ? LSM_OK : wlFailed(w, rc, "lsm_close");
}

/* Run the workload until a call fails; return that call's code.  The
** handle stays open in w->db if it was open when the call failed. */
static int workloadRun(Workload *w){
  int rc, i;
  memset(&w->m, 0, sizeof(w->m));
  for(i=0; i<IE_KEYS; i++) w->m.aGen[i] = -1;
  w->zFailed = 0;

  wlPhase(w, P_OPEN);
  rc = wlOpen(w);
  wlPhase(w, P_WRITE);
  for(i=0; rc==LSM_OK && i<10; i++){
    rc = wlCommit(w, i*4, 1 + i%3, 5, 1, i%4==3 ? i/2 : -1);
  }
  wlPhase(w, P_FLUSH);
  if( rc==LSM_OK && (rc = lsm_flush(w->db))!=LSM_OK ){
    wlFailed(w, rc, "lsm_flush");
  }
  wlPhase(w, P_WRITE);
  for(i=0; rc==LSM_OK && i<6; i++) rc = wlCommit(w, i*6+1, 2, 7, 2, -1);
  wlPhase(w, P_FLUSH);
  if( rc==LSM_OK && (rc = lsm_flush(w->db))!=LSM_OK ){
    wlFailed(w, rc, "lsm_flush");
  }
  wlPhase(w, P_COMPACT);
  if( rc==LSM_OK && (rc = lsm_compact(w->db, 0, 0, 0, 0))!=LSM_OK ){
    wlFailed(w, rc, "lsm_compact");
  }
  wlPhase(w, P_WRITE);
  for(i=0; rc==LSM_OK && i<6; i++) rc = wlCommit(w, i*5, 3, 11, 3, (i*7)%IE_KEYS);
  wlPhase(w, P_CLOSE);
  if( rc==LSM_OK ) rc = wlClose(w);
  wlPhase(w, P_RECOVER);
  if( rc==LSM_OK ) rc = wlOpen(w);
  wlPhase(w, P_READ);
  if( rc==LSM_OK ) rc = wlReadAll(w, w->m.aGen, 1);
  wlPhase(w, P_WRITE2);
  if( rc==LSM_OK ) rc = wlCommit(w, 36, 3, 1, 4, 0);
  if( rc==LSM_OK ) rc = wlClose(w);
  return rc;
}

/*
** The fault cleared: open the database and check it holds the
** acknowledged state, or that state with the failed commit applied.
*/
static void verifyRecovered(const Model *m, const char *zWhat){
  lsm_options opts = ieOptions();
  Workload w;
  int k, bAck = 1, bPend = m->bPending, rc;

  memset(&w, 0, sizeof(w));
  rc = lsm_open(zDir, &opts, &w.db);
  if( rc!=LSM_OK ){
    fail_msg("%s: reopen failed: %d %s", zWhat, rc, lsm_errmsg(w.db));
  }
  for(k=0; k<IE_KEYS; k++){
    char zKey[16];
    int nKey = keyName(k, zKey);
    void *pVal = 0;
    size_t nVal = 0;
    rc = lsm_get(w.db, 0, zKey, (size_t)nKey, &pVal, &nVal);
    if( rc==LSM_OK ){
      bAck = bAck && valueIs(k, m->aGen[k], pVal, nVal);
      bPend = bPend && valueIs(k, m->aPend[k], pVal, nVal);
    }else{
      if( rc!=LSM_NOTFOUND ) fail_msg("%s: get after reopen: %d", zWhat, rc);
      bAck = bAck && m->aGen[k]<0;
      bPend = bPend && m->aPend[k]<0;
    }
    lsm_free(pVal);
  }
  if( !bAck && !bPend ){
    fail_msg("%s: the data after reopening is neither the acknowledged state "
             "nor that state with the failed commit", zWhat);
  }
  wlReadAll(&w, bAck ? m->aGen : m->aPend, 0);
  /* The recovered database takes writes. */
  rc = lsm_put(w.db, "after", 5, "fault", 5);
  if( rc!=LSM_OK ) fail_msg("%s: write after reopen: %d", zWhat, rc);
  assert_int_equal(lsm_close(w.db), LSM_OK);
}

/**************************************************************************
** The test.
*/

static void onAlarm(int sig){
  static const char zMsg[] = "test_ioerr: hang (alarm)\n";
  (void)sig;
  if( write(2, zMsg, sizeof(zMsg)-1)<0 ) _exit(2);
  _exit(2);
}

static int setup(void **state){
  (void)state;
  zDir = testTempDir("ioerr");
  pEnv = testenvNew();
  signal(SIGALRM, onAlarm);
  alarm(IE_ALARM_SECS);
  return zDir==0 || pEnv==0;
}

static int teardown(void **state){
  (void)state;
  alarm(0);
  testenvFree(pEnv);
  testRmTree(zDir);
  free(zDir);
  return 0;
}

/* The phase of the n-th call of kind eKind, from the clean run's marks:
** that of the last mark before which fewer than n such calls were made. */
static int phaseOf(const Workload *pClean, int eKind, uint64_t n){
  int i, iPhase = P_OPEN;
  for(i=0; i<pClean->nMark; i++){
    if( pClean->aMark[i].aCount[eKind]<n ) iPhase = pClean->aMark[i].iPhase;
  }
  return iPhase;
}

static void test_io_errors(void **state){
  static Workload clean, w;
  uint64_t aTotal[TESTENV_NKIND];
  static int aanPoint[P_N][2], aanStop[P_N][2];
  int nPoint = 0, nStop = 0, nRound = 0;
  int iKind, bPersistent, p;
  (void)state;

  /* A clean run: count calls and mark phase starts. */
  testRmTree(zDir);
  testenvRestart(pEnv);
  clean.bCount = 1;
  assert_int_equal(workloadRun(&clean), LSM_OK);
  for(p=0; p<TESTENV_NKIND; p++) aTotal[p] = testenvCount(pEnv, p);
  verifyRecovered(&clean.m, "clean run");

  for(iKind=0; iKind<IE_NKIND; iKind++){
    int eKind = aeKind[iKind];
    int bMutate = eKind!=TESTENV_READ && eKind!=TESTENV_SIZE
               && eKind!=TESTENV_LIST && eKind!=TESTENV_EXISTS
               && eKind!=TESTENV_LOCK && eKind!=TESTENV_UNLOCK
               && eKind!=TESTENV_CLOSE;
    uint64_t nCall = aTotal[eKind];
    uint64_t nStride = 1;
    int nKindPoints = 0;
    if( !bMutate && nCall>IE_MAX_READONLY ){
      nStride = (nCall + IE_MAX_READONLY - 1)/IE_MAX_READONLY;
    }
    for(bPersistent=0; bPersistent<2; bPersistent++){
      uint64_t n;
      /* A strided kind starts at a different offset in each mode. */
      for(n=1 + (nStride>1 ? (uint64_t)bPersistent*nStride/2 : 0);
          n<=nCall; n+=nStride){
        int err = EIO;
        char zWhat[128];
        int rc, iPhase;
        if( bMutate ){
          static const int aErr[4] = {
            EIO, ENOSPC, EIO|TESTENV_SHORT, ENOSPC|TESTENV_SHORT
          };
          err = aErr[(n + (uint64_t)bPersistent) % (eKind==TESTENV_APPEND ? 4 : 2)];
        }
        iPhase = phaseOf(&clean, eKind, n);
        snprintf(zWhat, sizeof(zWhat), "%s call %llu (%s phase) failing %s "
                 "with %s%s", azKind[iKind], (unsigned long long)n,
                 azPhase[iPhase], bPersistent ? "persistently" : "once",
                 (err & ~TESTENV_SHORT)==EIO ? "EIO" : "ENOSPC",
                 (err & TESTENV_SHORT) ? " after a short write" : "");

        zRound = zWhat;
        testRmTree(zDir);
        testenvRestart(pEnv);
        memset(&w, 0, sizeof(w));
        testenvFailAt(pEnv, eKind, (int)n, err, bPersistent);
        rc = workloadRun(&w);
        if( w.db ){
          /* Reads of the failed handle: the acknowledged data, or (while
          ** the fault persists) a clean I/O error. */
          wlReadAll(&w, w.m.aGen, bPersistent);
          lsm_close(w.db);
          w.db = 0;
        }
        if( testenvCount(pEnv, eKind)<n ){
          fail_msg("%s: the call never happened (the workload is not "
                   "deterministic)", zWhat);
        }
        testenvClearFaults(pEnv);
        verifyRecovered(&w.m, zWhat);
        nRound++;
        nKindPoints++;
        aanPoint[iPhase][bPersistent]++;
        if( rc!=LSM_OK ){
          nStop++;
          aanStop[iPhase][bPersistent]++;
        }
        zRound = "";
      }
    }
    if( nCall ){
      print_message("ioerr: %-8s %5llu calls, %d rounds (%s)\n", azKind[iKind],
                    (unsigned long long)nCall, nKindPoints,
                    nStride>1 ? "strided" : "every call, both modes");
    }
    nPoint += nKindPoints;
  }
  print_message("ioerr: %d fault points (%d rounds), %d stopped the workload "
                "with a clean error, the rest were absorbed\n",
                nPoint, nRound, nStop);
  print_message("ioerr: %-8s %14s %14s %14s %14s\n", "phase", "points once",
                "errors once", "points persist", "errors persist");
  for(p=0; p<P_N; p++){
    print_message("ioerr: %-8s %14d %14d %14d %14d\n", azPhase[p],
                  aanPoint[p][0], aanStop[p][0], aanPoint[p][1], aanStop[p][1]);
  }
  for(p=0; p<nNote && p<IE_MAX_NOTE; p++){
    print_message("message lost: %s\n", aaNote[p]);
  }
  if( nNote ){
    fail_msg("%d errors had a message that does not describe the fault", nNote);
  }
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_io_errors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, 0, 0);
}
