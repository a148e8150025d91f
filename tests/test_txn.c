/*
** test_txn.c -- transactions of the lsm virtual table beyond one
** connection: atomic commit with the database, DROP and CREATE inside
** transactions, ownership of directories, read-only databases, many
** connections and threads, another process, group commit.
**
** The extension's sources are compiled into this program with
** LSMV_TEST_HOOKS, so that every engine runs on a TestEnv
** (tests/support/testenv.h): its counts measure fsyncs, its faults make
** the engine fail at chosen moments of a commit.
**
** What each test proves:
**
**   drop          BEGIN; DROP TABLE; ROLLBACK keeps every row (also with
**                 savepoints); a committed DROP removes the files, once
**                 the last connection using the table lets go; a CREATE
**                 on a directory whose DROP has not committed is refused.
**   create        A CREATE that rolls back (or whose savepoint rolls back)
**                 leaves no directory; one that took over the directory of
**                 an in-memory database's table gives the OWNER file back.
**   owner         A directory belongs to one table of one database: every
**                 other table, database file or in-memory database gets an
**                 error naming the owner; the files of a table whose DROP
**                 committed just before a crash are replaced by a CREATE.
**   readonly      ?mode=ro and PRAGMA query_only read and refuse writes
**                 with SQLite's message saying the database is read-only.
**   shadow        The shadow table: one number per writing transaction,
**                 follows RENAME (also rolled back), read-only to SQL in
**                 defensive mode; lsmvtab_pending refuses SQL writes.
**   failures      A commit hook that refuses, a COMMIT that fails with
**                 SQLITE_BUSY and is retried or rolled back, an I/O error
**                 in xSync (nothing committed anywhere) and in xCommit
**                 (committed in the database: the next open applies it).
**   threads       Writers incrementing shared counters and writing pairs,
**                 readers checking pairs, an ATTACH: no lost update, no
**                 half transaction seen (run under TSan).
**   process       Another process that opens the directory gets
**                 SQLITE_BUSY with a message naming it.
**   group commit  fsyncs of the engine per SQL commit, with threads, under
**                 sync=full and sync=normal (printed): one per commit with
**                 inline_commit=0, none for inline commits.
**   inline loss   Power loss (torn or not) at every fsync of a workload
**                 of inline and synced commits, with memtable switches:
**                 the database keeps the batches the engine's log lost,
**                 and reopening restores exactly the acknowledged commits.
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

lsm_env *lsmvTestEnv = 0;
void lsmvTestPoint(int iPoint){ (void)iPoint; }

static TestEnv *txEnv;              /* every engine's env */
static char *txDir;                 /* the private directory (cwd) */
static char txHome[PATH_MAX];

/*---------------------------------------------------------------- helpers --*/

static sqlite3 *txOpenFlags(const char *zName, int flags){
  sqlite3 *db = 0;
  int rc = sqlite3_open_v2(zName, &db, flags, 0);
  if( rc!=SQLITE_OK ) fprintf(stderr, "open %s: %s\n", zName, sqlite3_errmsg(db));
  assert_int_equal(rc, SQLITE_OK);
  assert_int_equal(sqlite3_lsmvtab_init(db, 0, 0), SQLITE_OK);
  sqlite3_busy_timeout(db, 10000);
  return db;
}

static sqlite3 *txOpen(const char *zName){
  return txOpenFlags(zName, SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE|SQLITE_OPEN_URI);
}

static int txExists(const char *zPath){
  struct stat st;
  return stat(zPath, &st)==0;
}

static char *txReadFile(const char *zPath){
  FILE *f = fopen(zPath, "rb");
  char aBuf[4096];
  size_t n;
  assert_non_null(f);
  n = fread(aBuf, 1, sizeof(aBuf)-1, f);
  fclose(f);
  aBuf[n] = 0;
  return sqlite3_mprintf("%s", aBuf);
}

static void txWriteFile(const char *zPath, const char *zText){
  FILE *f = fopen(zPath, "wb");
  assert_non_null(f);
  fputs(zText, f);
  fclose(f);
}

/* Prepared transactions left unresolved in the engines open now (the
** registry's list: its source is compiled into this program). */
static int txPreparedLeft(void){
  LsmvShared *p;
  int n = 0;
  pthread_mutex_lock(&regMutex);
  for(p=regList; p; p=p->pNext) n += lsm_prepared(p->pDb, 0, 0);
  pthread_mutex_unlock(&regMutex);
  return n;
}

/*------------------------------------------------------------------ tests --*/

static void test_drop(void **state){
  sqlite3 *db = txOpen("drop.db");
  sqlite3 *db2;
  (void)state;
  sqltestExec(db, "CREATE VIRTUAL TABLE kv USING lsm(drop_data);"
             "INSERT INTO kv VALUES(1, 'a'), (2, 'b'), (3, 'c');");

  /* a DROP that rolls back keeps every row */
  sqltestExec(db, "BEGIN; DROP TABLE kv;");
  assert_true(txExists("drop_data/DROPPING"));
  sqltestExpect(db, "SELECT action, savepoint FROM lsmvtab_pending", "drop|0\n");
  sqltestExec(db, "ROLLBACK");
  assert_false(txExists("drop_data/DROPPING"));
  sqltestExpect(db, "SELECT count(*) FROM lsmvtab_pending", "0\n");
  sqltestExpect(db, "SELECT * FROM kv", "1|a\n2|b\n3|c\n");

  /* ... also when a savepoint around it rolls back */
  sqltestExec(db, "BEGIN; SAVEPOINT s; INSERT INTO kv VALUES(4, 'd'); DROP TABLE kv;"
             "ROLLBACK TO s; INSERT INTO kv VALUES(4, 'd'); RELEASE s; COMMIT;");
  sqltestExpect(db, "SELECT * FROM kv", "1|a\n2|b\n3|c\n4|d\n");
  /* writes, then a savepoint, then the DROP: refused (the writes could
  ** not come back with a ROLLBACK TO); SQLite shows only the code's text */
  sqltestExec(db, "BEGIN; INSERT INTO kv VALUES(9, 'z'); SAVEPOINT s;");
  sqltestFails(db, "DROP TABLE kv", SQLITE_LOCKED, "locked");
  sqltestExec(db, "ROLLBACK TO s; RELEASE s; DROP TABLE kv; ROLLBACK;");
  sqltestExpect(db, "SELECT * FROM kv", "1|a\n2|b\n3|c\n4|d\n");
  sqltestExec(db, "SAVEPOINT a; SAVEPOINT b; INSERT INTO kv VALUES(5, 'e');"
             "DROP TABLE kv; RELEASE b; ROLLBACK TO a; RELEASE a;");
  sqltestExpect(db, "SELECT * FROM kv", "1|a\n2|b\n3|c\n4|d\n");
  assert_false(txExists("drop_data/DROPPING"));

  /* while its DROP is not committed, the directory is nobody's to take,
  ** and the table is still there for other connections (WAL) */
  sqltestExec(db, "PRAGMA journal_mode=WAL");
  db2 = txOpen("drop.db");
  sqltestExec(db, "BEGIN; DROP TABLE kv;");
  sqltestFails(db, "CREATE VIRTUAL TABLE kv2 USING lsm(drop_data)", SQLITE_BUSY,
          "has not committed yet");
  sqltestExpect(db2, "SELECT count(*) FROM kv", "4\n");
  sqltestExec(db, "ROLLBACK");
  sqlite3_close(db2);
  sqltestExec(db, "PRAGMA journal_mode=DELETE");

  /* a committed DROP removes the files once the last user lets go */
  db2 = txOpen("drop.db");
  sqltestExpect(db2, "SELECT count(*) FROM kv", "4\n");
  sqltestExec(db, "DROP TABLE kv");
  assert_true(txExists("drop_data"));        /* db2 still has it */
  sqltestFails(db, "CREATE VIRTUAL TABLE kv2 USING lsm(drop_data)", SQLITE_BUSY,
          "dropped table");
  sqltestFails(db2, "SELECT * FROM kv", -1, "no such table");
  assert_false(txExists("drop_data"));
  sqltestExpect(db, "SELECT count(*) FROM sqlite_schema WHERE name GLOB 'kv*'", "0\n");
  sqlite3_close(db2);
  sqlite3_close(db);
}

static void test_create(void **state){
  sqlite3 *db = txOpen("create.db");
  sqlite3 *dbMem;
  char *zOwner, *zAfter;
  (void)state;
  sqltestExec(db, "BEGIN; CREATE VIRTUAL TABLE t1 USING lsm(create1);"
             "INSERT INTO t1 VALUES(1, 1);");
  assert_true(txExists("create1/OWNER"));
  sqltestExec(db, "ROLLBACK");
  assert_false(txExists("create1"));
  sqltestFails(db, "SELECT * FROM t1", -1, "no such table");

  sqltestExec(db, "BEGIN; SAVEPOINT s; CREATE VIRTUAL TABLE t2 USING lsm(create2);"
             "ROLLBACK TO s; CREATE VIRTUAL TABLE t3 USING lsm(create3);"
             "COMMIT; SELECT 1;");
  assert_false(txExists("create2"));
  assert_true(txExists("create3/OWNER"));
  sqltestExec(db, "INSERT INTO t3 VALUES(1, 1)");

  /* the directory of an in-memory database's table is taken over, and
  ** given back if the CREATE rolls back */
  dbMem = txOpen(":memory:");
  sqltestExec(dbMem, "CREATE VIRTUAL TABLE m USING lsm(create4);"
                "INSERT INTO m VALUES('x', 1), ('y', 2);");
  sqlite3_close(dbMem);
  zOwner = txReadFile("create4/OWNER");
  assert_non_null(strstr(zOwner, "kind memory"));
  sqltestExec(db, "BEGIN; CREATE VIRTUAL TABLE t4 USING lsm(create4);");
  sqltestExpect(db, "SELECT * FROM t4", "x|1\ny|2\n");
  sqltestExec(db, "ROLLBACK");
  zAfter = txReadFile("create4/OWNER");
  assert_string_equal(zOwner, zAfter);
  sqlite3_free(zAfter);
  sqltestExec(db, "CREATE VIRTUAL TABLE t4 USING lsm(create4)");
  zAfter = txReadFile("create4/OWNER");
  assert_non_null(strstr(zAfter, "kind file"));
  sqltestExpect(db, "SELECT count(*) FROM t4", "2\n");
  sqlite3_free(zAfter);
  sqlite3_free(zOwner);
  sqlite3_close(db);
}

static void test_owner(void **state){
  sqlite3 *db = txOpen("own_a.db");
  sqlite3 *dbB, *dbMem;
  char *zOwner, *zBad, *p;
  (void)state;
  sqltestExec(db, "CREATE VIRTUAL TABLE kv USING lsm(own); INSERT INTO kv VALUES(1, 1);");
  sqltestFails(db, "CREATE VIRTUAL TABLE kv2 USING lsm(own)", -1,
          "belongs to table \"kv\" of database");
  dbB = txOpen("own_b.db");
  sqltestFails(dbB, "CREATE VIRTUAL TABLE kv USING lsm(own)", -1, "own_a.db");
  dbMem = txOpen(":memory:");
  sqltestFails(dbMem, "CREATE VIRTUAL TABLE kv USING lsm(own)", -1,
          "belongs to table \"kv\"");
  sqlite3_close(dbMem);
  sqlite3_close(db);
  /* not open in the process: the OWNER file speaks */
  sqltestFails(dbB, "CREATE VIRTUAL TABLE kv USING lsm(own)", -1, "/OWNER to let");
  assert_true(txExists("own/OWNER"));

  /* a table finds somebody else's token: refused */
  zOwner = txReadFile("own/OWNER");
  zBad = sqlite3_mprintf("%s", zOwner);
  p = strstr(zBad, "token ") + 6;
  *p = *p=='0' ? '1' : '0';
  txWriteFile("own/OWNER", zBad);
  db = txOpen("own_a.db");
  sqltestFails(db, "SELECT * FROM kv", -1, "not to this table");
  sqlite3_close(db);
  txWriteFile("own/OWNER", zOwner);
  db = txOpen("own_a.db");
  sqltestExpect(db, "SELECT * FROM kv", "1|1\n");

  /* a DROP that committed just before a crash: its files remain, marked.
  ** Made here by hand: the marker, and the table gone from the schema. */
  txWriteFile("own/DROPPING", "x");
  sqltestFails(db, "CREATE VIRTUAL TABLE kv3 USING lsm(own)", -1, "belongs to");
  sqlite3_close(db);
  db = txOpen("own_a.db");
  sqltestExpect(db, "SELECT * FROM kv", "1|1\n");  /* kv exists: its DROP never was */
  assert_false(txExists("own/DROPPING"));
  sqlite3_close(db);
  txWriteFile("own/DROPPING", "x");
  db = txOpen("own_a.db");
  sqltestExec(db, "PRAGMA writable_schema=ON;"
             "DELETE FROM sqlite_schema WHERE name IN ('kv', 'kv_lsmtx');"
             "PRAGMA writable_schema=OFF;");
  sqlite3_close(db);
  db = txOpen("own_a.db");
  sqltestExec(db, "CREATE VIRTUAL TABLE kv4 USING lsm(own)");
  sqltestExpect(db, "SELECT count(*) FROM kv4", "0\n");
  assert_false(txExists("own/DROPPING"));
  sqlite3_free(zBad);
  sqlite3_free(zOwner);
  sqlite3_close(db);
  sqlite3_close(dbB);
}

static void test_readonly(void **state){
  sqlite3 *db = txOpen("ro.db");
  sqlite3 *dbRo;
  (void)state;
  sqltestExec(db, "CREATE VIRTUAL TABLE kv USING lsm(ro_data); INSERT INTO kv VALUES(1, 'one');");
  sqlite3_close(db);
  dbRo = txOpenFlags("file:ro.db?mode=ro", SQLITE_OPEN_READONLY|SQLITE_OPEN_URI);
  sqltestExpect(dbRo, "SELECT * FROM kv", "1|one\n");
  sqltestFails(dbRo, "INSERT INTO kv VALUES(2, 'two')", SQLITE_READONLY,
          "attempt to write a readonly database");
  sqltestFails(dbRo, "DELETE FROM kv", SQLITE_READONLY, "readonly database");
  sqltestFails(dbRo, "DROP TABLE kv", SQLITE_READONLY, "readonly database");
  sqltestFails(dbRo, "CREATE VIRTUAL TABLE kv2 USING lsm(ro_data2)", SQLITE_READONLY,
          "readonly database");
  assert_false(txExists("ro_data2"));
  /* a read-write opener while the engine is open read-only is told why */
  db = txOpen("ro.db");
  sqltestFails(db, "SELECT * FROM kv", SQLITE_BUSY, "open read-only in this process");
  sqlite3_close(db);
  sqlite3_close(dbRo);

  db = txOpen("ro.db");
  sqltestExec(db, "PRAGMA query_only=1");
  sqltestExpect(db, "SELECT * FROM kv", "1|one\n");
  sqltestFails(db, "INSERT INTO kv VALUES(2, 'two')", SQLITE_READONLY,
          "attempt to write a readonly database");
  sqltestExec(db, "PRAGMA query_only=0; INSERT INTO kv VALUES(2, 'two');");
  sqltestExpect(db, "SELECT count(*) FROM kv", "2\n");
  sqlite3_close(db);
}

static void test_shadow(void **state){
  sqlite3 *db = txOpen("shadow.db");
  int bOn = -1;
  (void)state;
  sqltestExec(db, "CREATE VIRTUAL TABLE kv USING lsm(shadow_data)");
  sqltestExpect(db, "SELECT id, txn, length(owner) FROM kv_lsmtx", "1|0|32\n");
  /* one number per transaction that writes, none for one that reads */
  sqltestExec(db, "INSERT INTO kv VALUES(1, 1)");
  sqltestExec(db, "BEGIN; INSERT INTO kv VALUES(2, 2); UPDATE kv SET value = 3;"
             "SAVEPOINT s; DELETE FROM kv WHERE key = 1; RELEASE s; COMMIT;");
  sqltestExec(db, "BEGIN; SELECT * FROM kv; COMMIT;");
  sqltestExpect(db, "SELECT txn FROM kv_lsmtx", "2\n");
  /* a rolled back transaction leaves the number where it was */
  sqltestExec(db, "BEGIN; INSERT INTO kv VALUES(7, 7); ROLLBACK;");
  sqltestExpect(db, "SELECT txn FROM kv_lsmtx", "2\n");
  /* ... and the next one goes on above the number it used */
  sqltestExec(db, "INSERT INTO kv VALUES(8, 8)");
  sqltestExpect(db, "SELECT txn FROM kv_lsmtx", "4\n");
  /* a ROLLBACK TO past the first write: the write is undone in both */
  sqltestExec(db, "BEGIN; SAVEPOINT s; INSERT INTO kv VALUES(9, 9); ROLLBACK TO s;"
             "INSERT INTO kv VALUES(10, 10); COMMIT;");
  sqltestExpect(db, "SELECT key FROM kv", "2\n8\n10\n");

  /* RENAME takes the shadow table along, also back */
  sqltestExec(db, "ALTER TABLE kv RENAME TO kv2");
  sqltestExpect(db, "SELECT name FROM sqlite_schema WHERE name GLOB 'kv*' ORDER BY 1",
           "kv2\nkv2_lsmredo\nkv2_lsmtx\n");
  sqltestExec(db, "BEGIN; ALTER TABLE kv2 RENAME TO kv3; ROLLBACK;");
  sqltestExpect(db, "SELECT count(*) FROM kv2", "3\n");
  sqltestExec(db, "INSERT INTO kv2 VALUES(11, 11)");

  /* defensive mode: the shadow table is the module's alone */
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &bOn);
  assert_int_equal(bOn, 1);
  sqltestFails(db, "UPDATE kv2_lsmtx SET txn = 0", -1, "may not be modified");
  sqltestFails(db, "DELETE FROM kv2_lsmredo", -1, "may not be modified");
  sqltestExec(db, "INSERT INTO kv2 VALUES(12, 12); DELETE FROM kv2 WHERE key = 2;");
  sqltestExpect(db, "SELECT count(*) FROM kv2", "4\n");
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 0, &bOn);

  /* lsmvtab_pending takes nothing from SQL, and a table of that name
  ** makes CREATE and DROP fail cleanly */
  sqltestFails(db, "INSERT INTO lsmvtab_pending VALUES('drop', 'x', 0)", -1,
          "written by the lsm module only");
  sqltestExec(db, "CREATE TABLE lsmvtab_pending(action)");
  sqltestFails(db, "CREATE VIRTUAL TABLE kv5 USING lsm(shadow5)", -1, "hides");
  assert_false(txExists("shadow5"));
  /* (SQLite reports a failed xDestroy without the table's message) */
  sqltestFails(db, "DROP TABLE kv2", -1, "");
  sqltestExpect(db, "SELECT count(*) FROM kv2", "4\n");
  sqltestExec(db, "DROP TABLE lsmvtab_pending; DROP TABLE kv2;");
  assert_false(txExists("shadow_data"));
  sqlite3_close(db);
}

static int txRefuseCommit(void *pArg){
  (void)pArg;
  return 1;
}

static void test_failures(void **state){
  sqlite3 *db = txOpen("fail.db");
  sqlite3 *db2, *db3;
  (void)state;
  sqltestExec(db, "CREATE VIRTUAL TABLE kv USING lsm(fail_data, inline_commit=0);"
             "CREATE TABLE n(x);");

  /* a commit hook that says no, after xSync prepared the batch */
  sqlite3_commit_hook(db, txRefuseCommit, 0);
  sqltestExec(db, "BEGIN; INSERT INTO kv VALUES(1, 1); INSERT INTO n VALUES(1);");
  sqltestFails(db, "COMMIT", SQLITE_CONSTRAINT_COMMITHOOK, "constraint failed");
  sqlite3_commit_hook(db, 0, 0);
  sqltestExpect(db, "SELECT (SELECT count(*) FROM kv), (SELECT count(*) FROM n)", "0|0\n");
  sqltestExec(db, "INSERT INTO kv VALUES(2, 2)");
  sqltestExpect(db, "SELECT key FROM kv", "2\n");

  /* SQLITE_BUSY at COMMIT (a reader keeps the rollback journal's
  ** EXCLUSIVE lock away): the transaction stays open, prepared; it goes
  ** on, is retried, commits */
  db2 = txOpen("fail.db");
  sqlite3_busy_timeout(db, 0);
  sqltestExec(db2, "BEGIN; SELECT * FROM n;");
  sqltestExec(db, "BEGIN; INSERT INTO kv VALUES(3, 3); INSERT INTO n VALUES(3);");
  sqltestFails(db, "COMMIT", SQLITE_BUSY, "locked");
  sqltestExec(db, "INSERT INTO kv VALUES(4, 4)");
  sqltestFails(db, "COMMIT", SQLITE_BUSY, "locked");
  sqltestExec(db2, "COMMIT");
  sqltestExec(db, "COMMIT");
  db3 = txOpen("fail.db");
  sqltestExpect(db3, "SELECT key FROM kv", "2\n3\n4\n");
  /* ... or is rolled back */
  sqltestExec(db2, "BEGIN; SELECT * FROM n;");
  sqltestExec(db, "BEGIN; INSERT INTO kv VALUES(5, 5); INSERT INTO n VALUES(5);");
  sqltestFails(db, "COMMIT", SQLITE_BUSY, "locked");
  sqltestExec(db, "ROLLBACK");
  sqltestExec(db2, "COMMIT");
  sqltestExpect(db3, "SELECT (SELECT group_concat(key) FROM kv), (SELECT count(*) FROM n)",
           "2,3,4|1\n");
  assert_int_equal(txPreparedLeft(), 0);
  sqlite3_busy_timeout(db, 10000);
  sqlite3_close(db3);
  sqlite3_close(db2);

  /* the log cannot be synced in xSync: nothing commits anywhere */
  testenvFailAtPath(txEnv, TESTENV_SYNC, 1, EIO, 0, ".log");
  sqltestExec(db, "BEGIN; INSERT INTO kv VALUES(6, 6); INSERT INTO n VALUES(6);");
  sqltestFails(db, "COMMIT", -1, "fail_data");
  testenvClearFaults(txEnv);
  assert_int_equal(sqlite3_get_autocommit(db), 1);
  sqltestExpect(db, "SELECT (SELECT group_concat(key) FROM kv), (SELECT count(*) FROM n)",
           "2,3,4|1\n");
  sqlite3_close(db);                   /* the engine is in its error state */
  db = txOpen("fail.db");
  sqltestExpect(db, "SELECT (SELECT group_concat(key) FROM kv), (SELECT count(*) FROM n)",
           "2,3,4|1\n");

  /* the prepared batch cannot be applied in xCommit: the database has
  ** committed, so the next open of the directory applies it */
  sqltestExec(db, "BEGIN; INSERT INTO kv VALUES(7, 7); INSERT INTO n VALUES(7);");
  testenvFailAtPath(txEnv, TESTENV_APPEND, 2, EIO, 0, ".log");
  sqltestExec(db, "COMMIT");
  testenvClearFaults(txEnv);
  sqltestExpect(db, "SELECT count(*) FROM n", "2\n");
  sqlite3_close(db);
  db = txOpen("fail.db");
  sqltestExpect(db, "SELECT (SELECT group_concat(key) FROM kv), (SELECT count(*) FROM n)",
           "2,3,4,7|2\n");
  sqltestExpect(db, "SELECT txn FROM kv_lsmtx", "7\n");

  /* an inline commit whose prepare cannot be logged: its redo row goes
  ** with the database's rollback */
  sqltestExec(db, "CREATE VIRTUAL TABLE kvi USING lsm(fail_inline);"
                  "INSERT INTO kvi VALUES(1, 1);");
  sqltestExpect(db, "SELECT count(*) FROM kvi_lsmredo", "1\n");
  testenvFailAtPath(txEnv, TESTENV_APPEND, 1, EIO, 0, "fail_inline");
  sqltestExec(db, "BEGIN; INSERT INTO kvi VALUES(2, 2); INSERT INTO n VALUES(8);");
  sqltestFails(db, "COMMIT", -1, "fail_inline");
  testenvClearFaults(txEnv);
  sqlite3_close(db);
  db = txOpen("fail.db");
  sqltestExpect(db, "SELECT (SELECT group_concat(key) FROM kvi), (SELECT count(*) FROM n),"
                    "(SELECT group_concat(txn) FROM kvi_lsmredo)", "1|2|1\n");
  sqlite3_close(db);
}

/*---------------------------------------------------------------- threads --*/

#define TX_NWRITER  4
#define TX_NREADER  2
#define TX_NTXN     40

static int txFailed;                   /* a thread saw something wrong */

/* Run zSql, retrying while the database is busy (a deferred transaction
** can meet SQLITE_BUSY at its first write). */
static int txExecRetry(sqlite3 *db, const char *zSql){
  int rc, n = 0;
  while( (rc = sqlite3_exec(db, zSql, 0, 0, 0))==SQLITE_BUSY && n++<1000 ){
    sqlite3_exec(db, "ROLLBACK", 0, 0, 0);
    usleep(1000);
  }
  if( rc!=SQLITE_OK ){
    fprintf(stderr, "thread: %s -> %s\n", zSql, sqlite3_errmsg(db));
  }
  return rc;
}

static void *txWriter(void *pArg){
  int iThread = (int)(intptr_t)pArg;
  sqlite3 *db = txOpen("threads.db");
  int i;
  for(i=0; i<TX_NTXN && !txFailed; i++){
    char *z = sqlite3_mprintf(
        "BEGIN IMMEDIATE;"
        "UPDATE kv SET value = value + 1 WHERE key = 'c%d';"
        "INSERT INTO kv VALUES('p-%d-%03d-a', %d), ('p-%d-%03d-b', %d);"
        "COMMIT;", i%4, iThread, i, i, iThread, i, i);
    if( txExecRetry(db, z)!=SQLITE_OK ) txFailed = 1;
    sqlite3_free(z);
  }
  sqlite3_close(db);
  return 0;
}

/* Both halves of every pair, or neither, in one statement's snapshot;
** the second reader reads through an ATTACH of the same file. */
static void *txReader(void *pArg){
  int iReader = (int)(intptr_t)pArg;
  sqlite3 *db = txOpen("threads.db");
  const char *zT = "kv";
  int i;
  if( iReader ){
    sqltestExec(db, "ATTACH 'threads.db' AS aux");
    zT = "aux.kv";
  }
  for(i=0; i<200 && !txFailed; i++){
    char *z = sqlite3_mprintf("SELECT (SELECT count(*) FROM %s WHERE key GLOB 'p-*-a'),"
                              "(SELECT count(*) FROM %s WHERE key GLOB 'p-*-b')",
                              zT, zT);
    sqlite3_stmt *pStmt = 0;
    if( sqlite3_prepare_v2(db, z, -1, &pStmt, 0)==SQLITE_OK
     && sqlite3_step(pStmt)==SQLITE_ROW
    ){
      if( sqlite3_column_int(pStmt, 0)!=sqlite3_column_int(pStmt, 1) ){
        fprintf(stderr, "reader saw half a transaction: %d and %d\n",
                sqlite3_column_int(pStmt, 0), sqlite3_column_int(pStmt, 1));
        txFailed = 1;
      }
    }else{
      fprintf(stderr, "reader: %s\n", sqlite3_errmsg(db));
      txFailed = 1;
    }
    sqlite3_finalize(pStmt);
    sqlite3_free(z);
  }
  sqlite3_close(db);
  return 0;
}

static void test_threads(void **state){
  pthread_t aThread[TX_NWRITER+TX_NREADER];
  sqlite3 *db = txOpen("threads.db");
  char *z;
  int i;
  (void)state;
  txFailed = 0;
  sqltestExec(db, "PRAGMA journal_mode=WAL;"
             "CREATE VIRTUAL TABLE kv USING lsm(threads_data, sync=normal);"
             "INSERT INTO kv VALUES('c0', 0), ('c1', 0), ('c2', 0), ('c3', 0);");
  for(i=0; i<TX_NWRITER; i++){
    assert_int_equal(pthread_create(&aThread[i], 0, txWriter, (void*)(intptr_t)i), 0);
  }
  for(i=0; i<TX_NREADER; i++){
    assert_int_equal(pthread_create(&aThread[TX_NWRITER+i], 0, txReader,
                                    (void*)(intptr_t)i), 0);
  }
  for(i=0; i<TX_NWRITER+TX_NREADER; i++) pthread_join(aThread[i], 0);
  assert_false(txFailed);
  z = sqlite3_mprintf("%d|%d|%d\n", TX_NWRITER*TX_NTXN, TX_NWRITER*TX_NTXN,
                      TX_NWRITER*TX_NTXN);
  sqltestExpect(db, "SELECT (SELECT sum(value) FROM kv WHERE key GLOB 'c?'),"
               "(SELECT count(*) FROM kv WHERE key GLOB 'p-*-a'),"
               "(SELECT count(*) FROM kv WHERE key GLOB 'p-*-b')", z);
  sqlite3_free(z);
  z = sqlite3_mprintf("%d\n", TX_NWRITER*TX_NTXN + 1);
  sqltestExpect(db, "SELECT txn FROM kv_lsmtx", z);
  sqlite3_free(z);
  assert_int_equal(txPreparedLeft(), 0);
  sqlite3_close(db);
}

/*---------------------------------------------------------------- process --*/

static char txSelf[PATH_MAX];          /* this program */

/* The other process: open zDb, read the table; exit 0 if that fails
** with SQLITE_BUSY and a message naming the directory. */
static int txBusyChild(const char *zDb){
  sqlite3 *db = 0;
  char *zErr = 0;
  int rc;
  sqlite3_open(zDb, &db);
  sqlite3_lsmvtab_init(db, 0, 0);
  rc = sqlite3_exec(db, "SELECT * FROM kv", 0, 0, &zErr);
  printf("other process: rc=%d %s\n", rc, zErr ? zErr : "");
  rc = rc==SQLITE_BUSY && zErr && strstr(zErr, "busy_data") ? 0 : 1;
  sqlite3_free(zErr);
  sqlite3_close(db);
  return rc;
}

static void test_process(void **state){
  sqlite3 *db = txOpen("busy.db");
  pid_t pid;
  int status = 0;
  (void)state;
  sqltestExec(db, "CREATE VIRTUAL TABLE kv USING lsm(busy_data); INSERT INTO kv VALUES(1, 1);");
  fflush(stdout);
  pid = fork();
  assert_true(pid>=0);
  if( pid==0 ){
    /* a fresh program, not a copy of this one's registry and threads */
    execl(txSelf, txSelf, "--busy-child", "busy.db", (char*)0);
    _exit(2);
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  sqltestExpect(db, "SELECT * FROM kv", "1|1\n");
  sqlite3_close(db);
}

/*----------------------------------------------------------- group commit --*/

#define TX_GC_THREADS  4
#define TX_GC_COMMITS  25

static void *txCommitter(void *pArg){
  int iThread = (int)(intptr_t)pArg;
  sqlite3 *db = txOpen("gc.db");
  int i;
  for(i=0; i<TX_GC_COMMITS && !txFailed; i++){
    char *z = sqlite3_mprintf("INSERT INTO kv VALUES(%d, randomblob(50))",
                              iThread*1000+i);
    if( txExecRetry(db, z)!=SQLITE_OK ) txFailed = 1;
    sqlite3_free(z);
  }
  sqlite3_close(db);
  return 0;
}

static void test_group_commit(void **state){
  static const char *azSync[] = { "full, inline_commit=0", "full", "normal" };
  int k;
  (void)state;
  for(k=0; k<3; k++){
    pthread_t aThread[TX_GC_THREADS];
    sqlite3 *db = txOpen("gc.db");
    uint64_t nSync0, nSync;
    int nCommit = TX_GC_THREADS*TX_GC_COMMITS;
    char *z;
    int i;
    txFailed = 0;
    z = sqlite3_mprintf("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                        "DROP TABLE IF EXISTS kv;"
                        "CREATE VIRTUAL TABLE kv USING lsm(gc_data, sync=%s);"
                        "SELECT count(*) FROM kv;", azSync[k]);
    sqltestExec(db, z);
    sqlite3_free(z);
    nSync0 = testenvCount(txEnv, TESTENV_SYNC);
    for(i=0; i<TX_GC_THREADS; i++){
      assert_int_equal(pthread_create(&aThread[i], 0, txCommitter,
                                      (void*)(intptr_t)i), 0);
    }
    for(i=0; i<TX_GC_THREADS; i++) pthread_join(aThread[i], 0);
    nSync = testenvCount(txEnv, TESTENV_SYNC) - nSync0;
    assert_false(txFailed);
    printf("group commit: sync=%s, %d SQL commits from %d threads: %llu engine "
           "fsyncs (%.2f per commit)\n", azSync[k], nCommit, TX_GC_THREADS,
           (unsigned long long)nSync, (double)nSync/nCommit);
    /* one prepare record synced per commit at most: the commit record is
    ** never synced (the database's commit is the decision); an inline
    ** commit syncs nothing of the engine's */
    assert_true(nSync <= (uint64_t)nCommit + 2);
    if( k>0 ) assert_true(nSync <= 2);
    z = sqlite3_mprintf("%d\n", nCommit);
    sqltestExpect(db, "SELECT count(*) FROM kv", z);
    sqlite3_free(z);
    sqlite3_close(db);
  }
}

/*------------------------------------------------------ inline power loss --*/

#define TX_IL_KEYS   32
#define TX_IL_STEPS  160

/* The model: the value of each key (0: absent), as acknowledged. */
typedef struct TxModel { int a[TX_IL_KEYS]; } TxModel;

/*
** Run the seeded workload on db until it ends or a statement fails (the
** engine lost power): autocommit puts and deletes, small transactions
** with a native row, large ones (over inline_commit, so prepared with a
** sync).  *pModel holds what was acknowledged.  Returns the steps run.
*/
static int txInlineWork(sqlite3 *db, unsigned seed, TxModel *pModel){
  int iStep;
  for(iStep=0; iStep<TX_IL_STEPS; iStep++){
    TxModel next = *pModel;
    sqlite3_str *pSql = sqlite3_str_new(db);
    unsigned r = seed*2654435761u + (unsigned)iStep*40503u;
    int eKind = (int)(r>>8) % 4;
    int nOp = eKind==0 ? 1 : eKind==3 ? 12 : 3;
    int i, rc;
    char *zSql;
    if( eKind ) sqlite3_str_appendall(pSql, "BEGIN;");
    for(i=0; i<nOp; i++){
      int k = (int)((r>>3) + (unsigned)i*7u) % TX_IL_KEYS;
      int v = iStep*100 + i + 1;
      if( eKind==2 && i==0 ){
        sqlite3_str_appendf(pSql, "DELETE FROM kv WHERE key=%d;", k);
        next.a[k] = 0;
      }else{
        /* large transactions carry 100-byte values */
        sqlite3_str_appendf(pSql, "INSERT OR REPLACE INTO kv VALUES(%d, "
                            "printf('%%d%%.*c', %d, %d, 'x'));", k, v,
                            eKind==3 ? 100 : 0);
        next.a[k] = v;
      }
    }
    if( eKind ) sqlite3_str_appendf(pSql, "INSERT INTO n VALUES(%d); COMMIT;", iStep);
    zSql = sqlite3_str_finish(pSql);
    rc = sqlite3_exec(db, zSql, 0, 0, 0);
    sqlite3_free(zSql);
    if( rc!=SQLITE_OK ){
      sqlite3_exec(db, "ROLLBACK", 0, 0, 0);
      break;
    }
    *pModel = next;
  }
  return iStep;
}

/* The table must hold exactly the model's rows. */
static void txInlineCheck(sqlite3 *db, const TxModel *pModel){
  sqlite3_str *pExpect = sqlite3_str_new(db);
  char *zExpect;
  int k;
  for(k=0; k<TX_IL_KEYS; k++){
    if( pModel->a[k] ) sqlite3_str_appendf(pExpect, "%d|%d\n", k, pModel->a[k]);
  }
  zExpect = sqlite3_str_finish(pExpect);
  sqltestExpect(db, "SELECT key, CAST(value AS INTEGER) FROM kv ORDER BY key",
                zExpect ? zExpect : "");
  sqlite3_free(zExpect);
}

/* One trial: crash when the engine's iCrash-th fsync completes (0: at
** the end), torn or not.  Returns the fsyncs the workload made. */
static uint64_t txInlineTrial(unsigned seed, uint64_t iCrash, int bTorn){
  sqlite3 *db;
  TxModel model;
  uint64_t nSync0;
  int nRedo;
  memset(&model, 0, sizeof(model));
  assert_int_equal(system("rm -rf il.db il.db-wal il.db-shm il_data"), 0);
  testenvRestart(txEnv);                  /* forget the last trial's files */
  db = txOpen("il.db");
  sqltestExec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
                  "CREATE VIRTUAL TABLE kv USING lsm(il_data, sync=full, "
                  "inline_commit=600, memtable_size=4096);"
                  "CREATE TABLE n(id INTEGER PRIMARY KEY);"
                  "SELECT count(*) FROM kv;");
  nSync0 = testenvCount(txEnv, TESTENV_FSYNC);
  if( iCrash ) testenvCrashAtSync(txEnv, iCrash, bTorn, seed);
  txInlineWork(db, seed, &model);
  nSync0 = testenvCount(txEnv, TESTENV_FSYNC) - nSync0;
  nRedo = (int)sqltestInt(db, "SELECT count(*) FROM kv_lsmredo");
  if( !iCrash ){
    assert_true(nRedo>0);                 /* inline commits happened */
    testenvCrash(txEnv, bTorn, seed);
  }
  sqlite3_close(db);                      /* the engine is powerless */
  testenvRestart(txEnv);
  db = txOpen("il.db");
  txInlineCheck(db, &model);
  /* the table goes on, and the next commit prunes the redo table */
  sqltestExec(db, "INSERT INTO kv VALUES(1000, 1)");
  sqltestExpect(db, "SELECT count(*) FROM kv_lsmredo", "1\n");
  sqlite3_close(db);
  return nSync0;
}

static void test_inline_power_loss(void **state){
  uint64_t nSync, k;
  unsigned seed;
  int nTrial = 0;
  (void)state;
  for(seed=1; seed<=2; seed++){
    nSync = txInlineTrial(seed, 0, 0);
    txInlineTrial(seed, 0, 1);
    nTrial += 2;
    for(k=1; k<=nSync; k++){
      txInlineTrial(seed, k, (int)(k & 1));
      nTrial++;
    }
  }
  printf("inline commits: %d power losses, every acknowledged commit restored "
         "and nothing else\n", nTrial);
}

/*------------------------------------------------------------------ setup --*/

static int txSetup(void **state){
  (void)state;
  txEnv = testenvNew();
  if( txEnv==0 ) return -1;
  lsmvTestEnv = testenvEnv(txEnv);
  if( getcwd(txHome, sizeof(txHome))==0 ) return -1;
  txDir = testTempDir("txn");
  if( txDir==0 ) return -1;
  return chdir(txDir);
}

static int txTeardown(void **state){
  (void)state;
  if( chdir(txHome)!=0 ) return -1;
  testRmTree(txDir);
  free(txDir);
  lsmvTestEnv = 0;
  testenvFree(txEnv);
  return 0;
}

int main(int argc, char **argv){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_drop),
    cmocka_unit_test(test_create),
    cmocka_unit_test(test_owner),
    cmocka_unit_test(test_readonly),
    cmocka_unit_test(test_shadow),
    cmocka_unit_test(test_failures),
    cmocka_unit_test(test_threads),
    cmocka_unit_test(test_process),
    cmocka_unit_test(test_group_commit),
    cmocka_unit_test(test_inline_power_loss),
  };
  if( argc==3 && strcmp(argv[1], "--busy-child")==0 ) return txBusyChild(argv[2]);
  if( realpath("/proc/self/exe", txSelf)==0 ) return 1;
  return cmocka_run_group_tests(tests, txSetup, txTeardown);
}
