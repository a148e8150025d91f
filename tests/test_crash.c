/*
** test_crash.c -- a process killed in the middle of a commit leaves the
** lsm table and its database agreeing on what committed.
**
** Every transaction of these tests writes three rows into an lsm table kv
** (keys id*10+0..2) and one row into a native table n (id), then commits.
** After a crash and a reopen, "both stores agree" means: every id has all
** three lsm rows or none, the lsm table has an id exactly when n has it,
** and the shadow table's number is at least every number the engine
** committed.
**
**   kill points   A child process (fork) commits three transactions, then
**                 is killed (SIGKILL, by itself) at one point of the
**                 fourth commit: in xSync before lsm_prepare; inside
**                 lsm_prepare just after the log's fsync; after xSync,
**                 before the database commits; at every write, sync and
**                 delete the database makes while it commits (a VFS shim
**                 counts them: the 1st, 2nd, ... until one run commits
**                 without being killed); in xCommit before
**                 lsm_commit_prepared; after it.  For rollback-journal and
**                 WAL databases, for prepared commits (inline_commit=0) and
**                 inline ones (the batch in the database's commit; no
**                 fsync of the log to kill at).  The parent reopens and checks that both
**                 stores agree, and that the fourth transaction is absent
**                 when the kill came before the database's commit could
**                 have happened and present when after.  The extension's
**                 sources are compiled in with LSMV_TEST_HOOKS for this.
**
**   SIGKILL loop  The real extension (LSMVTAB_EXT), in a separate program
**                 (this one, run again with --loop-child): two threads with
**                 their own connections commit transactions as fast as they
**                 can, and append the id of each one whose COMMIT returned
**                 to an acknowledgement file.  The parent kills it at a
**                 random moment (seeded), reopens, and checks: every
**                 acknowledged transaction is present, none is partial,
**                 both stores agree.  LSMVTAB_CRASH_ITERATIONS runs (20 by
**                 default; set it to hundreds for a long run).
*/
#define SQLITE_CORE 1
#define LSMV_TEST_HOOKS 1
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <signal.h>
#include <fcntl.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "../ext/affinity.c"
#include "../ext/keycodec.c"
#include "../ext/lsmvtab.c"
#include "../ext/registry.c"
#include "../ext/sqlfuncs.c"
#include "../ext/vtabconfig.c"
#include "../ext/vtabcursor.c"
#include "../ext/vtabplan.c"
#include "../ext/vtabtxn.c"
#include "support/testenv.h"
#include "support/sqltest.h"

static char crSelf[PATH_MAX];       /* this program */
static int crnInDoubt;              /* "in doubt" notices from the registry */
static char crExt[PATH_MAX];        /* the loadable extension */
static char crHome[PATH_MAX];
static char *crDir;

/*------------------------------------------------------------- kill hooks --*/

/* Where the child kills itself. */
#define CR_AT_SYNC       1          /* xSync, before lsm_prepare */
#define CR_AT_LOGSYNC    2          /* inside lsm_prepare, after the fsync */
#define CR_AT_PREPARED   3          /* after xSync's lsm_prepare */
#define CR_AT_DBIO       4          /* the database's n-th I/O after xSync */
#define CR_AT_COMMIT     5          /* xCommit, before lsm_commit_prepared */
#define CR_AT_COMMITTED  6          /* xCommit, after it */

static int crArmed;                  /* CR_AT_*, 0 when not armed */
static int crDbIoLeft;               /* for CR_AT_DBIO: I/O calls to go */
static int crDbIoCounting;           /* counting has started (after xSync) */
static TestEnv *crEnv;
lsm_env *lsmvTestEnv = 0;

static void crDie(void){
  kill(getpid(), SIGKILL);
}

void lsmvTestPoint(int iPoint){
  switch( crArmed ){
    case CR_AT_SYNC:      if( iPoint==LSMV_POINT_SYNC ) crDie(); break;
    case CR_AT_PREPARED:  if( iPoint==LSMV_POINT_PREPARED ) crDie(); break;
    case CR_AT_COMMIT:    if( iPoint==LSMV_POINT_COMMIT ) crDie(); break;
    case CR_AT_COMMITTED: if( iPoint==LSMV_POINT_COMMITTED ) crDie(); break;
    case CR_AT_DBIO:      if( iPoint==LSMV_POINT_PREPARED ) crDbIoCounting = 1; break;
  }
}

/* The engine synced a file: inside lsm_prepare if it is the log. */
static void crSyncHook(void *pArg, TestEnv *pTest, int kind, const char *zPath,
                       uint64_t nFsync){
  (void)pArg; (void)pTest; (void)kind; (void)nFsync;
  if( crArmed==CR_AT_LOGSYNC && strstr(zPath, ".log") ) crDie();
}

/*
** A VFS shim over the default one that counts the calls that change the
** database's files (write, truncate, sync, delete) once crDbIoCounting is
** set, and kills the process at the crDbIoLeft-th.
*/
typedef struct CrFile CrFile;
struct CrFile {
  sqlite3_file base;
  sqlite3_file *pReal;              /* follows this struct in memory */
};

static sqlite3_vfs *crOrigVfs;

static void crDbIo(void){
  if( crArmed==CR_AT_DBIO && crDbIoCounting && --crDbIoLeft==0 ) crDie();
}

#define CR_REAL(p) (((CrFile*)(p))->pReal)
static int crClose(sqlite3_file *p){
  int rc = CR_REAL(p)->pMethods->xClose(CR_REAL(p));
  return rc;
}
static int crRead(sqlite3_file *p, void *a, int n, sqlite3_int64 o){
  return CR_REAL(p)->pMethods->xRead(CR_REAL(p), a, n, o);
}
static int crWrite(sqlite3_file *p, const void *a, int n, sqlite3_int64 o){
  crDbIo();
  return CR_REAL(p)->pMethods->xWrite(CR_REAL(p), a, n, o);
}
static int crTruncate(sqlite3_file *p, sqlite3_int64 n){
  crDbIo();
  return CR_REAL(p)->pMethods->xTruncate(CR_REAL(p), n);
}
static int crSync(sqlite3_file *p, int flags){
  crDbIo();
  return CR_REAL(p)->pMethods->xSync(CR_REAL(p), flags);
}
static int crFileSize(sqlite3_file *p, sqlite3_int64 *pn){
  return CR_REAL(p)->pMethods->xFileSize(CR_REAL(p), pn);
}
static int crLock(sqlite3_file *p, int e){
  return CR_REAL(p)->pMethods->xLock(CR_REAL(p), e);
}
static int crUnlock(sqlite3_file *p, int e){
  return CR_REAL(p)->pMethods->xUnlock(CR_REAL(p), e);
}
static int crCheckReserved(sqlite3_file *p, int *pb){
  return CR_REAL(p)->pMethods->xCheckReservedLock(CR_REAL(p), pb);
}
static int crFileControl(sqlite3_file *p, int op, void *pArg){
  return CR_REAL(p)->pMethods->xFileControl(CR_REAL(p), op, pArg);
}
static int crSectorSize(sqlite3_file *p){
  return CR_REAL(p)->pMethods->xSectorSize(CR_REAL(p));
}
static int crDevChar(sqlite3_file *p){
  return CR_REAL(p)->pMethods->xDeviceCharacteristics(CR_REAL(p));
}
static int crShmMap(sqlite3_file *p, int i, int n, int b, void volatile **pp){
  return CR_REAL(p)->pMethods->xShmMap(CR_REAL(p), i, n, b, pp);
}
static int crShmLock(sqlite3_file *p, int o, int n, int f){
  return CR_REAL(p)->pMethods->xShmLock(CR_REAL(p), o, n, f);
}
static void crShmBarrier(sqlite3_file *p){
  CR_REAL(p)->pMethods->xShmBarrier(CR_REAL(p));
}
static int crShmUnmap(sqlite3_file *p, int d){
  return CR_REAL(p)->pMethods->xShmUnmap(CR_REAL(p), d);
}
static int crFetch(sqlite3_file *p, sqlite3_int64 o, int n, void **pp){
  return CR_REAL(p)->pMethods->xFetch(CR_REAL(p), o, n, pp);
}
static int crUnfetch(sqlite3_file *p, sqlite3_int64 o, void *pv){
  return CR_REAL(p)->pMethods->xUnfetch(CR_REAL(p), o, pv);
}

static const sqlite3_io_methods crIo = {
  3, crClose, crRead, crWrite, crTruncate, crSync, crFileSize, crLock,
  crUnlock, crCheckReserved, crFileControl, crSectorSize, crDevChar,
  crShmMap, crShmLock, crShmBarrier, crShmUnmap, crFetch, crUnfetch
};

static int crOpen(sqlite3_vfs *pVfs, const char *zName, sqlite3_file *pFile,
                  int flags, int *pOutFlags){
  CrFile *p = (CrFile*)pFile;
  int rc;
  (void)pVfs;
  p->pReal = (sqlite3_file*)&p[1];
  rc = crOrigVfs->xOpen(crOrigVfs, zName, p->pReal, flags, pOutFlags);
  p->base.pMethods = p->pReal->pMethods ? &crIo : 0;
  return rc;
}
static int crDelete(sqlite3_vfs *pVfs, const char *zName, int bSync){
  (void)pVfs;
  crDbIo();
  return crOrigVfs->xDelete(crOrigVfs, zName, bSync);
}
static int crAccess(sqlite3_vfs *pVfs, const char *zName, int f, int *pRes){
  (void)pVfs;
  return crOrigVfs->xAccess(crOrigVfs, zName, f, pRes);
}
static int crFullPath(sqlite3_vfs *pVfs, const char *zName, int n, char *zOut){
  (void)pVfs;
  return crOrigVfs->xFullPathname(crOrigVfs, zName, n, zOut);
}
static int crRandomness(sqlite3_vfs *pVfs, int n, char *z){
  (void)pVfs;
  return crOrigVfs->xRandomness(crOrigVfs, n, z);
}
static int crSleep(sqlite3_vfs *pVfs, int n){
  (void)pVfs;
  return crOrigVfs->xSleep(crOrigVfs, n);
}
static int crCurrentTime(sqlite3_vfs *pVfs, double *p){
  (void)pVfs;
  return crOrigVfs->xCurrentTime(crOrigVfs, p);
}
static int crLastError(sqlite3_vfs *pVfs, int n, char *z){
  (void)pVfs;
  return crOrigVfs->xGetLastError(crOrigVfs, n, z);
}
static int crCurrentTimeInt64(sqlite3_vfs *pVfs, sqlite3_int64 *p){
  (void)pVfs;
  return crOrigVfs->xCurrentTimeInt64(crOrigVfs, p);
}

static sqlite3_vfs crVfs;

static void crRegisterVfs(void){
  crOrigVfs = sqlite3_vfs_find(0);
  memset(&crVfs, 0, sizeof(crVfs));
  crVfs.iVersion = 2;
  crVfs.szOsFile = (int)sizeof(CrFile) + crOrigVfs->szOsFile;
  crVfs.mxPathname = crOrigVfs->mxPathname;
  crVfs.zName = "lsmtest-kill";
  crVfs.xOpen = crOpen;
  crVfs.xDelete = crDelete;
  crVfs.xAccess = crAccess;
  crVfs.xFullPathname = crFullPath;
  crVfs.xRandomness = crRandomness;
  crVfs.xSleep = crSleep;
  crVfs.xCurrentTime = crCurrentTime;
  crVfs.xGetLastError = crLastError;
  crVfs.xCurrentTimeInt64 = crCurrentTimeInt64;
  sqlite3_vfs_register(&crVfs, 0);
}

/*---------------------------------------------------------------- helpers --*/

/* The SQL of transaction id: three lsm rows and one native row. */
static char *crTxnSql(sqlite3_int64 id){
  return sqlite3_mprintf("BEGIN;"
      "INSERT INTO kv VALUES(%lld, 'a'), (%lld, 'b'), (%lld, 'c');"
      "INSERT INTO n VALUES(%lld);"
      "COMMIT;", id*10, id*10+1, id*10+2, id);
}

/*
** Check that both stores agree (header comment).  Returns how many ids
** they hold; *pbHas says whether id iCheck is among them.
*/
static int crCheckAgree(sqlite3 *db, sqlite3_int64 iCheck, int *pbHas){
  /* ids with other than 3 lsm rows, or in one store only */
  sqlite3_int64 nBad = sqltestInt(db,
      "SELECT count(*) FROM ("
      "  SELECT k/10 AS id, count(*) AS c FROM kv GROUP BY 1"
      ") k FULL JOIN n ON n.id = k.id "
      "WHERE k.c IS NOT 3 OR n.id IS NULL");
  char *z = sqlite3_mprintf("SELECT count(*) FROM n WHERE id=%lld", iCheck);
  if( nBad!=0 ){
    fprintf(stderr, "stores disagree on %lld transactions\n", (long long)nBad);
  }
  assert_int_equal(nBad, 0);
  *pbHas = sqltestInt(db, z)!=0;
  sqlite3_free(z);
  return (int)sqltestInt(db, "SELECT count(*) FROM n");
}

/*------------------------------------------------------------ kill points --*/

/* The child: three commits, then the fourth with the kill armed.  Exits 0
** if the fourth commit completed (the kill point was never reached). */
static void crKillChild(int eAt, int nDbIo, int bWal){
  sqlite3 *db = 0;
  int i;
  crArmed = 0;
  crDbIoCounting = 0;
  crDbIoLeft = nDbIo;
  if( sqlite3_open_v2("kill.db", &db, SQLITE_OPEN_READWRITE,
                      eAt==CR_AT_DBIO ? "lsmtest-kill" : 0)!=SQLITE_OK
   || sqlite3_lsmvtab_init(db, 0, 0)!=SQLITE_OK
   || sqlite3_exec(db, bWal ? "PRAGMA journal_mode=WAL" : "PRAGMA journal_mode=DELETE",
                   0, 0, 0)!=SQLITE_OK
  ){
    _exit(3);
  }
  for(i=1; i<=4; i++){
    char *z = crTxnSql(i);
    if( i==4 ) crArmed = eAt;
    if( sqlite3_exec(db, z, 0, 0, 0)!=SQLITE_OK ) _exit(4);
    sqlite3_free(z);
  }
  crArmed = 0;
  sqlite3_close(db);
  _exit(0);
}

/*
** One trial: a fresh database, the child, the check.  Returns 1 if the
** child was killed, 0 if it completed.  *pbHas: the fourth transaction
** is there after the reopen.
*/
static int crKillTrial(int eAt, int nDbIo, int bWal, int bInline, int *pbHas){
  sqlite3 *db = 0;
  pid_t pid;
  int status = 0, bKilled, nTxn;
  assert_int_equal(system("rm -rf kill.db kill.db-journal kill.db-wal "
                          "kill.db-shm kill_data"), 0);
  assert_int_equal(sqlite3_open("kill.db", &db), SQLITE_OK);
  assert_int_equal(sqlite3_lsmvtab_init(db, 0, 0), SQLITE_OK);
  sqltestExec(db, bInline ? "CREATE VIRTUAL TABLE kv USING lsm(kill_data, k INTEGER, v);"
                     : "CREATE VIRTUAL TABLE kv USING lsm(kill_data, inline_commit=0,"
                       " k INTEGER, v);");
  sqltestExec(db, "CREATE TABLE n(id INTEGER PRIMARY KEY);");
  sqlite3_close(db);               /* no engine open across the fork */

  fflush(stdout);
  fflush(stderr);
  pid = fork();
  assert_true(pid>=0);
  if( pid==0 ) crKillChild(eAt, nDbIo, bWal);
  assert_int_equal(waitpid(pid, &status, 0), pid);
  bKilled = WIFSIGNALED(status) && WTERMSIG(status)==SIGKILL;
  if( !bKilled && !(WIFEXITED(status) && WEXITSTATUS(status)==0) ){
    fprintf(stderr, "kill child: status %d\n", status);
    fail();
  }

  assert_int_equal(sqlite3_open("kill.db", &db), SQLITE_OK);
  assert_int_equal(sqlite3_lsmvtab_init(db, 0, 0), SQLITE_OK);
  nTxn = crCheckAgree(db, 4, pbHas);
  assert_true(nTxn==3 || nTxn==4);
  /* the table goes on: a new transaction commits in both */
  {
    char *z = crTxnSql(5);
    int bHas5 = 0;
    sqltestExec(db, z);
    sqlite3_free(z);
    crCheckAgree(db, 5, &bHas5);
    assert_true(bHas5);
    assert_true(sqltestInt(db, "SELECT txn FROM kv_lsmtx")>=4);
  }
  sqlite3_close(db);
  return bKilled;
}

static void crKillPoints(int bWal, int bInline){
  static const struct { int eAt; const char *zName; int eHas; } aPoint[] = {
    { CR_AT_SYNC,      "xSync, before lsm_prepare",        0 },
    { CR_AT_LOGSYNC,   "in lsm_prepare, after its fsync",  0 },
    { CR_AT_PREPARED,  "after lsm_prepare",                0 },
    { CR_AT_COMMIT,    "xCommit, before commit_prepared",  1 },
    { CR_AT_COMMITTED, "xCommit, after commit_prepared",   1 },
  };
  size_t i;
  int nDbIo, bHas;
  for(i=0; i<sizeof(aPoint)/sizeof(aPoint[0]); i++){
    int bKilled;
    /* an inline commit never syncs the engine's log */
    if( bInline && aPoint[i].eAt==CR_AT_LOGSYNC ) continue;
    bKilled = crKillTrial(aPoint[i].eAt, 0, bWal, bInline, &bHas);
    if( !bKilled || bHas!=aPoint[i].eHas ){
      fprintf(stderr, "%s: killed=%d, transaction present=%d\n",
              aPoint[i].zName, bKilled, bHas);
    }
    assert_true(bKilled);
    assert_int_equal(bHas, aPoint[i].eHas);
  }
  /* every write, sync and delete of the database's commit */
  for(nDbIo=1; nDbIo<100; nDbIo++){
    int bKilled = crKillTrial(CR_AT_DBIO, nDbIo, bWal, bInline, &bHas);
    if( !bKilled ){
      assert_true(bHas);
      break;
    }
  }
  printf("%s, %s commits: %d kill points inside the database's commit, "
         "stores agreed after each\n", bWal ? "WAL" : "rollback journal",
         bInline ? "inline" : "prepared", nDbIo-1);
  assert_true(nDbIo>1 && nDbIo<100);
}

static void test_kill_points_journal(void **state){
  (void)state;
  crKillPoints(0, 0);
  crKillPoints(0, 1);
}

static void test_kill_points_wal(void **state){
  (void)state;
  crKillPoints(1, 0);
  crKillPoints(1, 1);
}

/*---------------------------------------------------------- SIGKILL loop --*/

#define CR_LOOP_THREADS 2

/* Open the loop's database through the loadable extension. */
static sqlite3 *crLoopOpen(void){
  sqlite3 *db = 0;
  char *zErr = 0;
  if( sqlite3_open("loop.db", &db)!=SQLITE_OK ) return 0;
  sqlite3_busy_timeout(db, 20000);
  sqlite3_enable_load_extension(db, 1);
  if( sqlite3_load_extension(db, crExt, 0, &zErr)!=SQLITE_OK ){
    fprintf(stderr, "loading %s: %s\n", crExt, zErr);
    sqlite3_free(zErr);
    sqlite3_close(db);
    return 0;
  }
  return db;
}

/* The largest id acknowledged in file zAck (complete lines only). */
static sqlite3_int64 crAckMax(const char *zAck, sqlite3_int64 iDefault){
  FILE *f = fopen(zAck, "r");
  char aLine[64];
  sqlite3_int64 iMax = iDefault;
  if( f==0 ) return iDefault;
  while( fgets(aLine, sizeof(aLine), f) ){
    if( strchr(aLine, '\n') ){
      sqlite3_int64 v = atoll(aLine);
      if( v>iMax ) iMax = v;
    }
  }
  fclose(f);
  return iMax;
}

/* A committing thread of the child: ids iThread*10^8 + 1, 2, ... */
static void *crLoopThread(void *pArg){
  int iThread = (int)(intptr_t)pArg;
  char zAck[32];
  sqlite3 *db = crLoopOpen();
  sqlite3_int64 id;
  int fd;
  sqlite3_stmt *pStmt = 0;
  snprintf(zAck, sizeof(zAck), "ack-%d", iThread);
  fd = open(zAck, O_WRONLY|O_APPEND|O_CREAT, 0644);
  if( db==0 || fd<0 ) _exit(5);
  /* go on after the last id that committed, acknowledged or not */
  id = (sqlite3_int64)iThread*100000000;
  if( sqlite3_prepare_v2(db, "SELECT max(id) FROM n WHERE id>?1 AND id<?1+100000000",
                         -1, &pStmt, 0)!=SQLITE_OK ) _exit(5);
  sqlite3_bind_int64(pStmt, 1, id);
  if( sqlite3_step(pStmt)==SQLITE_ROW && sqlite3_column_type(pStmt, 0)!=SQLITE_NULL ){
    id = sqlite3_column_int64(pStmt, 0);
  }
  sqlite3_finalize(pStmt);
  if( crAckMax(zAck, id)>id ){
    fprintf(stderr, "loop child: acknowledged %lld is not in the database\n",
            (long long)crAckMax(zAck, id));
    _exit(8);
  }
  id++;
  for(;; id++){
    char *z = crTxnSql(id);
    int rc = sqlite3_exec(db, z, 0, 0, 0);
    sqlite3_free(z);
    if( rc==SQLITE_BUSY ){
      sqlite3_exec(db, "ROLLBACK", 0, 0, 0);
      continue;
    }
    if( rc!=SQLITE_OK ){
      fprintf(stderr, "loop child: %s\n", sqlite3_errmsg(db));
      _exit(6);
    }
    /* acknowledged: journal it (one write, so a kill cannot tear it) */
    {
      char aLine[32];
      int n = snprintf(aLine, sizeof(aLine), "%lld\n", (long long)id);
      if( write(fd, aLine, (size_t)n)!=n ) _exit(7);
    }
  }
  return 0;
}

static int crLoopChild(void){
  pthread_t aThread[CR_LOOP_THREADS];
  int i;
  for(i=0; i<CR_LOOP_THREADS; i++){
    pthread_create(&aThread[i], 0, crLoopThread, (void*)(intptr_t)(i+1));
  }
  for(i=0; i<CR_LOOP_THREADS; i++) pthread_join(aThread[i], 0);
  return 0;
}

static void test_sigkill_loop(void **state){
  const char *zIter = getenv("LSMVTAB_CRASH_ITERATIONS");
  int nIter = zIter && atoi(zIter)>0 ? atoi(zIter) : 20;
  uint64_t rng = 20240610;
  sqlite3 *db;
  int iter, nAckTotal = 0;
  int nInDoubt0 = crnInDoubt;
  (void)state;
  db = crLoopOpen();
  assert_non_null(db);
  sqltestExec(db, "CREATE VIRTUAL TABLE kv USING lsm(loop_data, k INTEGER, v);"
             "CREATE TABLE n(id INTEGER PRIMARY KEY);");
  sqlite3_close(db);
  for(iter=0; iter<nIter; iter++){
    pid_t pid;
    int status = 0, k, bHas;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    assert_true(pid>=0);
    if( pid==0 ){
      execl(crSelf, crSelf, "--loop-child", crExt, (char*)0);
      _exit(2);
    }
    usleep(30000 + testRandRange(&rng, 200000));
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if( !(WIFSIGNALED(status) && WTERMSIG(status)==SIGKILL) ){
      fprintf(stderr, "loop child ended by itself: status %d\n", status);
      fail();
    }
    db = crLoopOpen();
    assert_non_null(db);
    crCheckAgree(db, 0, &bHas);
    /* every acknowledged transaction is there */
    for(k=1; k<=CR_LOOP_THREADS; k++){
      char zAck[32];
      FILE *f;
      char aLine[64];
      snprintf(zAck, sizeof(zAck), "ack-%d", k);
      f = fopen(zAck, "r");
      while( f && fgets(aLine, sizeof(aLine), f) ){
        if( strchr(aLine, '\n') ){
          char *z = sqlite3_mprintf("SELECT count(*) FROM n WHERE id=%s", aLine);
          sqlite3_int64 n = sqltestInt(db, z);
          if( n!=1 ) fprintf(stderr, "acknowledged transaction %s lost", aLine);
          assert_int_equal(n, 1);
          sqlite3_free(z);
          nAckTotal++;
        }
      }
      if( f ) fclose(f);
    }
    sqlite3_close(db);
  }
  printf("SIGKILL loop: %d kills (%d of them between xSync and xCommit), "
         "%d checks of acknowledged transactions, 0 lost, 0 partial\n", nIter,
         crnInDoubt - nInDoubt0, nAckTotal);
}

/*------------------------------------------------------------------ setup --*/

/* SQLite's log: count the registry's reports of transactions in doubt. */
static void crLog(void *pArg, int rc, const char *zMsg){
  (void)pArg; (void)rc;
  if( strstr(zMsg, "left in doubt") ) __atomic_add_fetch(&crnInDoubt, 1, __ATOMIC_RELAXED);
}

static int crSetup(void **state){
  const char *zExt = getenv("LSMVTAB_EXT");
  (void)state;
  if( zExt==0 || zExt[0]==0 ) zExt = "./lsmvtab.so";
  if( realpath(zExt, crExt)==0 ){
    fprintf(stderr, "extension %s not found (set LSMVTAB_EXT)\n", zExt);
    return -1;
  }
  crEnv = testenvNew();
  if( crEnv==0 ) return -1;
  testenvSetSyncHook(crEnv, crSyncHook, 0);
  lsmvTestEnv = testenvEnv(crEnv);
  crRegisterVfs();
  if( getcwd(crHome, sizeof(crHome))==0 ) return -1;
  crDir = testTempDir("crash");
  if( crDir==0 ) return -1;
  return chdir(crDir);
}

static int crTeardown(void **state){
  (void)state;
  if( chdir(crHome)!=0 ) return -1;
  testRmTree(crDir);
  free(crDir);
  lsmvTestEnv = 0;
  testenvFree(crEnv);
  return 0;
}

int main(int argc, char **argv){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_kill_points_journal),
    cmocka_unit_test(test_kill_points_wal),
    cmocka_unit_test(test_sigkill_loop),
  };
  if( argc==3 && strcmp(argv[1], "--loop-child")==0 ){
    snprintf(crExt, sizeof(crExt), "%s", argv[2]);
    return crLoopChild();
  }
  if( realpath("/proc/self/exe", crSelf)==0 ) return 1;
  sqlite3_config(SQLITE_CONFIG_LOG, crLog, (void*)0);
  return cmocka_run_group_tests(tests, crSetup, crTeardown);
}
