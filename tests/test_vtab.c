/*
** test_vtab.c -- the lsm virtual table through SQLite's C API, the sqlite3
** shell and Debian's /usr/bin/python3.
**
** Each test opens database files in a private directory
** (/tmp/lsmtest-vtab-PID, the working directory while the tests run)
** and loads the extension named by LSMVTAB_EXT (default ./lsmvtab.so).
** Where a behaviour should equal a native table's, the same statements
** run on a native WITHOUT ROWID table and the rendered rows are compared;
** test_differential.c does that at scale with random statements.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <sched.h>
#include <errno.h>
#include <pthread.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "support/sqltest.h"

/* A sanitizer build of the extension cannot load into the uninstrumented
** sqlite3 shell and python3: those two tests then skip. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
# define TV_SANITIZED 1
#else
# define TV_SANITIZED 0
#endif

static char tvExt[PATH_MAX];        /* absolute path of the extension */
static char tvPython[PATH_MAX];     /* absolute path of tests/python_app.py */
static char tvHome[PATH_MAX];       /* working directory at start */
static char *tvDir;                 /* the private directory */

/*---------------------------------------------------------------- helpers --*/

/*
** The rows of zSql, each value rendered with its type, one row a line.
** The caller frees with sqlite3_free.
*/
static char *tvRows(sqlite3 *db, const char *zSql){
  sqlite3_str *pOut = sqlite3_str_new(0);
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  if( rc!=SQLITE_OK ) fprintf(stderr, "%s\n  -> %s\n", zSql, sqlite3_errmsg(db));
  assert_int_equal(rc, SQLITE_OK);
  while( (rc = sqlite3_step(pStmt))==SQLITE_ROW ){
    int i;
    for(i=0; i<sqlite3_column_count(pStmt); i++){
      sqlite3_value *v = sqlite3_column_value(pStmt, i);
      if( i ) sqlite3_str_appendchar(pOut, 1, '|');
      switch( sqlite3_value_type(v) ){
        case SQLITE_FLOAT: {
          double r = sqlite3_value_double(v);
          uint64_t u;
          memcpy(&u, &r, 8);
          sqlite3_str_appendf(pOut, "r%016llx", (unsigned long long)u);
          break;
        }
        default: {
          /* quote() tells INTEGER, TEXT, BLOB and NULL apart exactly */
          sqlite3_stmt *pQ = 0;
          sqlite3_prepare_v2(db, "SELECT quote(?)", -1, &pQ, 0);
          sqlite3_bind_value(pQ, 1, v);
          sqlite3_step(pQ);
          sqlite3_str_appendall(pOut, (const char*)sqlite3_column_text(pQ, 0));
          sqlite3_finalize(pQ);
          break;
        }
      }
    }
    sqlite3_str_appendchar(pOut, 1, '\n');
  }
  if( rc!=SQLITE_DONE ) fprintf(stderr, "%s\n  -> %s\n", zSql, sqlite3_errmsg(db));
  assert_int_equal(rc, SQLITE_DONE);
  sqlite3_finalize(pStmt);
  return sqlite3_str_finish(pOut);
}

/* Assert that zSql returns exactly zExpect (tvRows format). */
static void tvExpect(sqlite3 *db, const char *zSql, const char *zExpect){
  char *z = tvRows(db, zSql);
  if( strcmp(z ? z : "", zExpect)!=0 ){
    fprintf(stderr, "%s\n  got:\n%s  expected:\n%s", zSql, z ? z : "", zExpect);
  }
  assert_string_equal(z ? z : "", zExpect);
  sqlite3_free(z);
}

/* Assert that query zFmt on table L gives what it gives on native N
** (zFmt names the table with "%s", at most twice). */
static void tvSame(sqlite3 *db, const char *zFmt){
  char *zL = sqlite3_mprintf(zFmt, "L", "L");     /* up to two uses */
  char *zN = sqlite3_mprintf(zFmt, "N", "N");
  char *zRowsL = tvRows(db, zL);
  char *zRowsN = tvRows(db, zN);
  if( strcmp(zRowsL ? zRowsL : "", zRowsN ? zRowsN : "")!=0 ){
    fprintf(stderr, "%s\n  lsm:\n%s  native:\n%s", zL, zRowsL ? zRowsL : "",
            zRowsN ? zRowsN : "");
  }
  assert_string_equal(zRowsL ? zRowsL : "", zRowsN ? zRowsN : "");
  sqlite3_free(zL);
  sqlite3_free(zN);
  sqlite3_free(zRowsL);
  sqlite3_free(zRowsN);
}

/* Run statement zFmt on L and on N: both succeed, or both fail with the
** same extended code. */
static void tvBoth(sqlite3 *db, const char *zFmt){
  int i, aRc[2];
  char *azMsg[2];
  for(i=0; i<2; i++){
    char *zSql = sqlite3_mprintf(zFmt, i ? "N" : "L");
    char *zErr = 0;
    aRc[i] = sqlite3_exec(db, zSql, 0, 0, &zErr);
    if( aRc[i] ) aRc[i] = sqlite3_extended_errcode(db);
    azMsg[i] = zErr;
    sqlite3_free(zSql);
  }
  if( aRc[0]!=aRc[1] ){
    fprintf(stderr, "%s: lsm rc=%d %s, native rc=%d %s\n", zFmt, aRc[0],
            azMsg[0] ? azMsg[0] : "", aRc[1], azMsg[1] ? azMsg[1] : "");
  }
  assert_int_equal(aRc[0], aRc[1]);
  sqlite3_free(azMsg[0]);
  sqlite3_free(azMsg[1]);
}

static int tvExists(const char *zPath){
  struct stat st;
  return stat(zPath, &st)==0;
}

static int tvCountFiles(const char *zDir){
  char *zCmd = sqlite3_mprintf("ls -A '%s' 2>/dev/null | wc -l", zDir);
  FILE *p = popen(zCmd, "r");
  int n = -1;
  assert_non_null(p);
  assert_int_equal(fscanf(p, "%d", &n), 1);
  pclose(p);
  sqlite3_free(zCmd);
  return n;
}

/*------------------------------------------------------------------ tests --*/

/* Every type and edge value round-trips exactly, in SQLite's order. */
static void test_types(void **state){
  sqlite3 *db = sqltestOpenLoaded("types.db", tvExt);
  (void)state;
  sqltestExec(db, "CREATE VIRTUAL TABLE L USING lsm(types_data);"
             "CREATE TABLE N(key PRIMARY KEY, value) WITHOUT ROWID;");
  tvBoth(db, "INSERT INTO %s VALUES"
      "(1, 'int'), (2.5, 'real'), ('text', 1.5), (x'00ff', x''), (-0.0, -0.0),"
      "(9223372036854775807, 9223372036854775807), (-9223372036854775808, NULL),"
      "(9223372036854775808.0, 1e308), (-1e308, -1e-308), ('', ''), (x'', x'00'),"
      "('\xc3\xa9', 'caf\xc3\xa9'), (9007199254740993, 9007199254740992.0),"
      "(0.1, 0.30000000000000004), ('a\x7f', 'z'), (x'ffff', zeroblob(1000))");
  tvBoth(db, "INSERT INTO %s VALUES(1.0, 'dup')");          /* 1 == 1.0 */
  tvBoth(db, "INSERT INTO %s VALUES(9223372036854775806.0, 'r')");
  tvSame(db, "SELECT key, value, typeof(key), typeof(value) FROM %s");
  tvSame(db, "SELECT key FROM %s ORDER BY key DESC");
  tvSame(db, "SELECT key FROM %s WHERE key = 9223372036854775807");
  tvSame(db, "SELECT key FROM %s WHERE key = 9223372036854775808.0");
  tvSame(db, "SELECT key FROM %s WHERE key > 1 AND key < 'text' ORDER BY key DESC");
  tvSame(db, "SELECT count(*), min(key), max(key) FROM %s");
  /* a REAL key that is an integer comes back REAL, -0.0 keeps its sign */
  sqltestExec(db, "INSERT INTO L VALUES(3.0, 'three')");
  tvExpect(db, "SELECT typeof(key) FROM L WHERE key = 3", "'real'\n");
  tvExpect(db, "SELECT key FROM L WHERE key = 0", "r8000000000000000\n");
  sqlite3_close(db);
}

/* Declared column types: affinity as a native table applies it. */
static void test_affinity(void **state){
  sqlite3 *db = sqltestOpenLoaded("affinity.db", tvExt);
  static const char *azDecl[] = { "INTEGER", "TEXT", "REAL", "NUMERIC", "BLOB" };
  size_t i;
  (void)state;
  for(i=0; i<sizeof(azDecl)/sizeof(azDecl[0]); i++){
    char *zSql = sqlite3_mprintf(
        "DROP TABLE IF EXISTS L; DROP TABLE IF EXISTS N;"
        "CREATE VIRTUAL TABLE L USING lsm(aff_%d, k %s, a INTEGER, b TEXT, c REAL, d);"
        "CREATE TABLE N(k %s PRIMARY KEY, a INTEGER, b TEXT, c REAL, d) WITHOUT ROWID;",
        (int)i, azDecl[i], azDecl[i]);
    sqltestExec(db, zSql);
    sqlite3_free(zSql);
    tvBoth(db, "INSERT INTO %s VALUES('12', '12', 12, '12', '12')");
    tvBoth(db, "INSERT INTO %s VALUES(' 3.0 ', '3.0', 3.0, 3, 3.0)");
    tvBoth(db, "INSERT INTO %s VALUES('abc', 'abc', x'01', 'x', 1e20)");
    tvBoth(db, "INSERT INTO %s VALUES(4.5, '1e3', -0.0, '-0.0', '9223372036854775808')");
    tvBoth(db, "INSERT INTO %s VALUES(x'3132', 9007199254740993, 1.5, 9007199254740993, NULL)");
    tvBoth(db, "INSERT INTO %s VALUES(12, 1, 1, 1, 1)");        /* conflicts or not */
    tvSame(db, "SELECT k, a, b, c, d, typeof(k), typeof(c) FROM %s");
    tvSame(db, "SELECT k FROM %s WHERE k = '12'");
    tvSame(db, "SELECT k FROM %s WHERE k = 12");
    tvSame(db, "SELECT k FROM %s WHERE k >= 3 ORDER BY k");
    tvSame(db, "SELECT k FROM %s WHERE k IN ('12', 3, 'abc', 4.5)");
    tvBoth(db, "UPDATE %s SET c = '7' WHERE k = 4.5");
    tvSame(db, "SELECT k, c, typeof(c) FROM %s");
  }
  sqlite3_close(db);
}

/* CREATE arguments: options, sizes, columns, and the messages of errors. */
static void test_arguments(void **state){
  sqlite3 *db = sqltestOpenLoaded("args.db", tvExt);
  (void)state;
  sqltestFails(db, "CREATE VIRTUAL TABLE a USING lsm", -1, "usage");
  sqltestFails(db, "CREATE VIRTUAL TABLE a USING lsm(d1, bogus=1)", -1,
          "unknown option \"bogus\"");
  sqltestFails(db, "CREATE VIRTUAL TABLE a USING lsm(d1, sync=sometimes)", -1,
          "option sync");
  sqltestFails(db, "CREATE VIRTUAL TABLE a USING lsm(d1, compression=zip)", -1,
          "option compression");
  sqltestFails(db, "CREATE VIRTUAL TABLE a USING lsm(d1, cache_size='12X')", -1,
          "option cache_size");
  sqltestFails(db, "CREATE VIRTUAL TABLE a USING lsm(d1, bloom_bits=-1)", -1,
          "option bloom_bits");
  sqltestFails(db, "CREATE VIRTUAL TABLE a USING lsm(d1, mmap_reads=2)", -1,
          "mmap_reads");
  sqltestFails(db, "CREATE VIRTUAL TABLE a USING lsm(d1, sync=off, SYNC=full)", -1,
          "given twice");
  sqltestFails(db, "CREATE VIRTUAL TABLE a USING lsm(sync=off)", -1,
          "first argument must be the data directory");
  sqltestFails(db, "CREATE VIRTUAL TABLE a USING lsm(d1, memtable_size=10)", -1,
          "memtable_size");
  sqltestFails(db, "CREATE VIRTUAL TABLE a USING lsm(d1, k TEXT NOT NULL)", -1,
          "bad column definition");
  sqltestFails(db, "CREATE VIRTUAL TABLE a USING lsm(d1, k, v PRIMARY KEY)", -1,
          "bad column definition");
  sqltestFails(db, "CREATE VIRTUAL TABLE a USING lsm(d1, k, K)", -1,
          "duplicate column name");
  sqltestFails(db, "CREATE VIRTUAL TABLE a USING lsm(d1, k COLLATE NOCASE)", -1,
          "bad column definition");
  assert_false(tvExists("d1"));        /* no failed CREATE left a directory */

  sqltestExec(db, "CREATE VIRTUAL TABLE a USING lsm('dir a', sync=normal, "
             "memtable_size='64K', block_size=4096, cache_size=1 M, "
             "bloom_bits=0, compression=none, level1_size='8M', "
             "table_size='1M', l0_trigger=2, l0_slowdown=4, l0_stop=8, "
             "max_immutables=3, restart_interval=8, max_open_tables=50, "
             "\"my key\" TEXT PRIMARY KEY, [amount] DECIMAL(10,2), note)");
  assert_true(tvExists("dir a"));
  sqltestExec(db, "INSERT INTO a VALUES('x', '1.50', 'n')");
  tvExpect(db, "SELECT \"my key\", amount, typeof(amount), note FROM a",
           "'x'|r3ff8000000000000|'real'|'n'\n");
  sqltestExec(db, "CREATE VIRTUAL TABLE b USING lsm(d2, compression=lz4, sync=full, "
             "mmap_reads=1, id INTEGER)");
  sqltestExec(db, "INSERT INTO b VALUES(1), ('2'), (3.0)");
  /* from a table file, read through its memory map */
  sqltestExec(db, "SELECT lsm_flush('b')");
  tvExpect(db, "SELECT id, typeof(id) FROM b", "1|'integer'\n2|'integer'\n3|'integer'\n");
  tvExpect(db, "SELECT id FROM b WHERE id=2", "2\n");
  sqltestExec(db, "DROP TABLE a; DROP TABLE b");
  sqlite3_close(db);
}

/* Data directories resolve beside the database file (the working
** directory for an in-memory database). */
static void test_paths(void **state){
  sqlite3 *db;
  (void)state;
  assert_int_equal(mkdir("sub", 0777), 0);
  db = sqltestOpenLoaded("sub/paths.db", tvExt);
  sqltestExec(db, "CREATE VIRTUAL TABLE rel USING lsm(data, k, v)");
  assert_true(tvExists("sub/data/CURRENT"));
  assert_false(tvExists("data"));
  sqltestExec(db, "CREATE VIRTUAL TABLE rel2 USING lsm('./data2/.')");
  assert_true(tvExists("sub/data2/CURRENT"));
  sqltestFails(db, "CREATE VIRTUAL TABLE deep USING lsm('missing/deeper')", SQLITE_CANTOPEN,
          "cannot create directory");
  sqlite3_close(db);
  db = sqltestOpenLoaded(":memory:", tvExt);
  sqltestExec(db, "CREATE VIRTUAL TABLE m USING lsm(memdata); INSERT INTO m VALUES(1, 1);");
  assert_true(tvExists("memdata/CURRENT"));
  sqltestExec(db, "DROP TABLE m");
  assert_false(tvExists("memdata"));
  sqlite3_close(db);
}

static void test_path_rules(void **state){
  sqlite3 *db, *db2;
  char *zAbs = sqlite3_mprintf("%s/absolute_data", tvDir);
  char *zSql;
  (void)state;
  db = sqltestOpenLoaded("rules.db", tvExt);
  zSql = sqlite3_mprintf("CREATE VIRTUAL TABLE ab USING lsm('%q')", zAbs);
  sqltestFails(db, zSql, -1, "is an absolute path");
  sqltestFails(db, "CREATE VIRTUAL TABLE up USING lsm('../escape')", -1, "contains \"..\"");
  sqltestFails(db, "CREATE VIRTUAL TABLE up USING lsm('a/../../escape')", -1, "contains \"..\"");
  sqltestFails(db, "CREATE VIRTUAL TABLE dot USING lsm(.)", -1, "own directory");
  sqltestFails(db, "CREATE VIRTUAL TABLE dot USING lsm('./.')", -1, "own directory");
  tvExpect(db, "SELECT lsm_allow_paths(1)", "0\n");
  tvExpect(db, "SELECT lsm_allow_paths(NULL)", "1\n");
  sqltestExec(db, zSql);
  sqltestExec(db, "INSERT INTO ab VALUES(1, 2)");
  assert_true(tvExists(zAbs));
  /* not from a view or a trigger */
  sqltestExec(db, "CREATE VIEW allow AS SELECT lsm_allow_paths(1)");
  tvExpect(db, "SELECT lsm_allow_paths(0)", "1\n");
  sqltestFails(db, "SELECT * FROM allow", -1, "unsafe use");
  sqlite3_close(db);

  /* the schema names an absolute directory: a new connection refuses it */
  db2 = sqltestOpenLoaded("rules.db", tvExt);
  sqltestFails(db2, "SELECT * FROM ab", -1, "is an absolute path");
  tvExpect(db2, "SELECT lsm_allow_paths(1)", "0\n");
  tvExpect(db2, "SELECT * FROM ab", "1|2\n");
  sqltestExec(db2, "DROP TABLE ab");
  assert_false(tvExists(zAbs));
  sqlite3_close(db2);
  sqlite3_free(zSql);
  sqlite3_free(zAbs);
}

/* Each conflict clause leaves what a native table leaves. */
static void test_conflicts(void **state){
  sqlite3 *db = sqltestOpenLoaded("conflict.db", tvExt);
  static const char *azClause[] = { "", "OR ABORT", "OR FAIL", "OR IGNORE",
                                    "OR REPLACE", "OR ROLLBACK" };
  size_t i;
  int bTxn;
  (void)state;
  sqltestExec(db, "CREATE VIRTUAL TABLE L USING lsm(conflict_data);"
             "CREATE TABLE N(key PRIMARY KEY, value) WITHOUT ROWID;");
  for(bTxn=0; bTxn<2; bTxn++){
    for(i=0; i<sizeof(azClause)/sizeof(azClause[0]); i++){
      char *zSql;
      sqltestExec(db, "DELETE FROM L; DELETE FROM N;");
      tvBoth(db, "INSERT INTO %s VALUES(1, 'a'), (2, 'b'), (3, 'c')");
      if( bTxn ) sqltestExec(db, "BEGIN");
      tvBoth(db, "INSERT INTO %s VALUES(10, 'x')");
      zSql = sqlite3_mprintf("INSERT %s INTO %%s VALUES(4, 'd'), (2, 'B'), (5, 'e')",
                             azClause[i]);
      tvBoth(db, zSql);
      sqlite3_free(zSql);
      zSql = sqlite3_mprintf("UPDATE %s %%s SET key = 3 WHERE key = 1", azClause[i]);
      tvBoth(db, zSql);
      sqlite3_free(zSql);
      zSql = sqlite3_mprintf("INSERT %s INTO %%s VALUES(NULL, 'null')", azClause[i]);
      tvBoth(db, zSql);
      sqlite3_free(zSql);
      if( bTxn ) sqlite3_exec(db, "COMMIT", 0, 0, 0);
      tvSame(db, "SELECT * FROM %s");
    }
  }
  sqltestFails(db, "INSERT INTO L VALUES(2, 'again')", SQLITE_CONSTRAINT_PRIMARYKEY,
          "UNIQUE constraint failed: L.key");
  sqltestFails(db, "INSERT INTO L VALUES(NULL, 1)", SQLITE_CONSTRAINT_NOTNULL,
          "NOT NULL constraint failed: L.key");
  sqltestFails(db, "UPDATE L SET key = NULL", SQLITE_CONSTRAINT_NOTNULL,
          "NOT NULL constraint failed: L.key");
  sqlite3_close(db);
}

/* The plans: equality and IN are lookups, ORDER BY is consumed both ways,
** a join looks the lsm table up; results stay right under LIMIT. */
static void test_plans(void **state){
  sqlite3 *db = sqltestOpenLoaded("plans.db", tvExt);
  int i;
  char *z;
  (void)state;
  sqltestExec(db, "CREATE VIRTUAL TABLE L USING lsm(plans_data);"
             "CREATE TABLE N(key PRIMARY KEY, value) WITHOUT ROWID;"
             "CREATE TABLE small(x);");
  sqltestExec(db, "BEGIN");
  for(i=0; i<300; i++){
    z = sqlite3_mprintf("INSERT INTO L VALUES(%d, 'v%d'), ('k%03d', %d);"
                        "INSERT INTO N VALUES(%d, 'v%d'), ('k%03d', %d);",
                        i, i, i, i, i, i, i, i);
    sqltestExec(db, z);
    sqlite3_free(z);
  }
  sqltestExec(db, "COMMIT; INSERT INTO small VALUES(5), (7), ('k010');");

  z = tvRows(db, "EXPLAIN QUERY PLAN SELECT * FROM L WHERE key = 5");
  assert_non_null(strstr(z, "INDEX 0:=a"));
  sqlite3_free(z);
  z = tvRows(db, "EXPLAIN QUERY PLAN SELECT * FROM L WHERE key > 5 ORDER BY key DESC");
  assert_null(strstr(z, "ORDER BY"));                 /* no sorter */
  sqlite3_free(z);
  z = tvRows(db, "EXPLAIN QUERY PLAN SELECT * FROM small JOIN L ON L.key = small.x");
  assert_non_null(strstr(z, "SCAN small"));
  assert_non_null(strstr(z, "INDEX 0:=u"));          /* looked up per row */
  sqlite3_free(z);

  tvSame(db, "SELECT * FROM %s WHERE key = 5");
  tvSame(db, "SELECT * FROM %s WHERE key IN (7, 'k007', 3, 7, 400, NULL) ORDER BY key DESC");
  tvSame(db, "SELECT * FROM %s WHERE key BETWEEN 10 AND 20 ORDER BY key DESC LIMIT 3 OFFSET 2");
  tvSame(db, "SELECT * FROM %s WHERE key >= 'k100' AND key < 'k105'");
  tvSame(db, "SELECT * FROM %s WHERE key < 'k100' AND key >= 'k105'");   /* empty */
  tvSame(db, "SELECT * FROM %s WHERE 280 < key AND key <= 290 AND key > 285");
  tvSame(db, "SELECT * FROM %s WHERE key LIKE 'K01%%' ORDER BY key DESC");
  tvSame(db, "SELECT * FROM %s WHERE key GLOB 'k2?5'");
  tvSame(db, "SELECT * FROM %s WHERE key LIKE '2_'");
  tvSame(db, "SELECT * FROM %s WHERE key > NULL");
  tvSame(db, "SELECT count(*) FROM %s");
  tvSame(db, "SELECT key FROM %s ORDER BY key DESC LIMIT 5");
  tvSame(db, "SELECT small.x, t.value FROM small JOIN %s t ON t.key = small.x");
  tvSame(db, "SELECT a.key, b.key FROM %s a JOIN %s b ON b.key = a.value WHERE a.key < 'k003'");
  tvSame(db, "SELECT * FROM %s WHERE key IN (SELECT x FROM small)");
  tvSame(db, "SELECT (SELECT count(*) FROM %s WHERE key < 50)");
  sqlite3_close(db);
}

/* Transactions: own writes visible, isolation from a second connection,
** ROLLBACK, savepoints, and a failing statement undoing only itself. */
static void test_transactions(void **state){
  sqlite3 *db = sqltestOpenLoaded("txn.db", tvExt);
  sqlite3 *db2;
  (void)state;
  sqltestExec(db, "CREATE VIRTUAL TABLE kv USING lsm(txn_data)");
  db2 = sqltestOpenLoaded("txn.db", tvExt);
  sqltestExec(db, "BEGIN; INSERT INTO kv VALUES(1, 'one'), (2, 'two');");
  tvExpect(db, "SELECT * FROM kv ORDER BY key DESC", "2|'two'\n1|'one'\n");
  tvExpect(db, "SELECT * FROM kv WHERE key = 2", "2|'two'\n");
  tvExpect(db2, "SELECT count(*) FROM kv", "0\n");
  sqltestExec(db, "ROLLBACK");
  tvExpect(db, "SELECT count(*) FROM kv", "0\n");

  sqltestExec(db, "BEGIN; INSERT INTO kv VALUES(1, 'one');"
             "SAVEPOINT a; INSERT INTO kv VALUES(2, 'two');"
             "SAVEPOINT b; DELETE FROM kv WHERE key = 1;");
  tvExpect(db, "SELECT key FROM kv", "2\n");
  sqltestExec(db, "ROLLBACK TO b");
  tvExpect(db, "SELECT key FROM kv", "1\n2\n");
  sqltestExec(db, "ROLLBACK TO a");
  tvExpect(db, "SELECT key FROM kv", "1\n");
  sqltestExec(db, "RELEASE a; INSERT INTO kv VALUES(3, 'three');");
  /* fails at the third row: its first two rows go, the rest stays */
  sqltestFails(db, "INSERT INTO kv VALUES(4, 'four'), (5, 'five'), (1, 'dup')",
          SQLITE_CONSTRAINT_PRIMARYKEY, "UNIQUE");
  tvExpect(db, "SELECT key FROM kv", "1\n3\n");
  sqltestExec(db, "INSERT INTO kv VALUES(4, 'four')");
  sqltestFails(db, "UPDATE OR FAIL kv SET key = key + 1", SQLITE_CONSTRAINT_PRIMARYKEY,
          "UNIQUE");
  tvExpect(db, "SELECT key FROM kv", "2\n3\n4\n");     /* 1 moved, then 3 failed */
  sqltestExec(db, "COMMIT");
  tvExpect(db2, "SELECT * FROM kv", "2|'one'\n3|'three'\n4|'four'\n");

  /* SAVEPOINT outside BEGIN opens the transaction */
  sqltestExec(db, "SAVEPOINT outer; INSERT INTO kv VALUES(9, 'nine'); ROLLBACK TO outer;"
             "RELEASE outer");
  tvExpect(db, "SELECT key FROM kv", "2\n3\n4\n");
  /* OR ROLLBACK ends the transaction */
  sqltestExec(db, "BEGIN; INSERT INTO kv VALUES(7, 'seven')");
  sqltestFails(db, "INSERT OR ROLLBACK INTO kv VALUES(2, 'x')", SQLITE_CONSTRAINT_PRIMARYKEY,
          "UNIQUE");
  assert_int_equal(sqlite3_get_autocommit(db), 1);
  tvExpect(db, "SELECT key FROM kv", "2\n3\n4\n");
  sqlite3_close(db2);
  sqlite3_close(db);
}

/* Rows survive closing and reopening; a second connection and an ATTACH
** of the same file share the engine. */
static void test_persistence_and_sharing(void **state){
  sqlite3 *db = sqltestOpenLoaded("persist.db", tvExt);
  sqlite3 *db2;
  char *z;
  int i;
  (void)state;
  sqltestExec(db, "CREATE VIRTUAL TABLE kv USING lsm(persist_data, sync=off, memtable_size='64K')");
  sqltestExec(db, "BEGIN");
  for(i=0; i<3000; i++){
    z = sqlite3_mprintf("INSERT INTO kv VALUES(%d, randomblob(100))", i);
    sqltestExec(db, z);
    sqlite3_free(z);
  }
  sqltestExec(db, "COMMIT");
  db2 = sqltestOpenLoaded("persist.db", tvExt);             /* no LSM_BUSY: one shared engine */
  tvExpect(db2, "SELECT count(*), sum(key) FROM kv", "3000|4498500\n");
  sqltestExec(db2, "INSERT INTO kv VALUES('from db2', 1)");
  tvExpect(db, "SELECT value FROM kv WHERE key = 'from db2'", "1\n");
  sqltestExec(db, "ATTACH 'persist.db' AS aux");
  tvExpect(db, "SELECT count(*) FROM aux.kv", "3001\n");
  sqltestExec(db, "INSERT INTO aux.kv VALUES('via aux', 2)");
  tvExpect(db, "SELECT value FROM main.kv WHERE key = 'via aux'", "2\n");
  sqltestExec(db, "DETACH aux");
  sqlite3_close(db2);
  sqlite3_close(db);
  db = sqltestOpenLoaded("persist.db", tvExt);
  tvExpect(db, "SELECT count(*) FROM kv WHERE key >= 1000 AND key < 2000", "1000\n");
  tvExpect(db, "SELECT count(*) FROM kv", "3002\n");
  sqlite3_close(db);
}

/* DROP removes the engine's files and nothing else; RENAME keeps data. */
static void test_drop_and_rename(void **state){
  sqlite3 *db = sqltestOpenLoaded("drop.db", tvExt);
  FILE *f;
  (void)state;
  sqltestExec(db, "CREATE VIRTUAL TABLE a USING lsm(drop_a); INSERT INTO a VALUES(1, 1);"
             "CREATE VIRTUAL TABLE b USING lsm(drop_b); INSERT INTO b VALUES(1, 1);");
  f = fopen("drop_b/keep.txt", "w");
  assert_non_null(f);
  fputs("not the engine's\n", f);
  fclose(f);
  sqltestExec(db, "DROP TABLE a; DROP TABLE b;");
  assert_false(tvExists("drop_a"));
  assert_true(tvExists("drop_b/keep.txt"));
  assert_int_equal(tvCountFiles("drop_b"), 1);

  sqltestExec(db, "CREATE VIRTUAL TABLE old USING lsm(rename_data); INSERT INTO old VALUES('k', 'v');"
             "ALTER TABLE old RENAME TO new;");
  tvExpect(db, "SELECT * FROM new", "'k'|'v'\n");
  sqltestFails(db, "INSERT INTO new VALUES('k', 'w')", SQLITE_CONSTRAINT_PRIMARYKEY,
          "new.key");
  sqlite3_close(db);
  db = sqltestOpenLoaded("drop.db", tvExt);
  tvExpect(db, "SELECT * FROM new", "'k'|'v'\n");
  /* DROP inside a transaction with pending writes */
  sqltestExec(db, "BEGIN; INSERT INTO new VALUES('k2', 'v2'); DROP TABLE new; COMMIT;");
  assert_false(tvExists("rename_data"));
  /* a CREATE that rolls back leaves no table */
  sqltestExec(db, "BEGIN; CREATE VIRTUAL TABLE gone USING lsm(gone_data); ROLLBACK;");
  sqltestFails(db, "SELECT * FROM gone", -1, "no such table");
  assert_false(tvExists("gone_data"));
  /* a DROP that rolls back keeps the rows (test_txn.c has the rest) */
  sqltestExec(db, "CREATE VIRTUAL TABLE kept USING lsm(kept_data);"
             "INSERT INTO kept VALUES(1, 2); BEGIN; DROP TABLE kept; ROLLBACK;");
  tvExpect(db, "SELECT * FROM kept", "1|2\n");
  sqlite3_close(db);
}

/* What SQLite refuses for every virtual table, and DIRECTONLY. */
static void test_refusals(void **state){
  sqlite3 *db = sqltestOpenLoaded("refuse.db", tvExt);
  (void)state;
  sqltestExec(db, "CREATE VIRTUAL TABLE kv USING lsm(refuse_data); INSERT INTO kv VALUES(1, 2);");
  sqltestFails(db, "INSERT INTO kv VALUES(1, 3) ON CONFLICT(key) DO NOTHING", -1,
          "UPSERT not implemented");
  sqltestFails(db, "CREATE TRIGGER t AFTER INSERT ON kv BEGIN SELECT 1; END", -1,
          "cannot create triggers on virtual tables");
  sqltestFails(db, "CREATE INDEX i ON kv(value)", -1, "virtual tables may not be indexed");
  sqltestFails(db, "UPDATE kv SET value = 1 RETURNING *", -1, "RETURNING");
  sqltestFails(db, "DELETE FROM kv RETURNING *", -1, "RETURNING");
  sqltestFails(db, "ALTER TABLE kv ADD COLUMN x", -1, "may not be altered");
  sqltestExec(db, "CREATE VIEW v AS SELECT * FROM kv");
  sqltestFails(db, "SELECT * FROM v", -1, "unsafe use of virtual table");
  tvExpect(db, "INSERT INTO kv VALUES(2, 3) RETURNING key, value", "2|3\n");
  sqlite3_close(db);
}

/* Limits: a key past LSM_MAX_KEY_SIZE is refused with SQLITE_TOOBIG; an
** UPDATE of another column keeps a large value without decoding it. */
static void test_limits(void **state){
  sqlite3 *db = sqltestOpenLoaded("limits.db", tvExt);
  (void)state;
  sqltestExec(db, "CREATE VIRTUAL TABLE kv USING lsm(limits_data, k, big BLOB, n INTEGER)");
  sqltestFails(db, "INSERT INTO kv VALUES(zeroblob(64*1024*1024), 1, 1)", SQLITE_TOOBIG,
          "key too large");
  sqltestExec(db, "INSERT INTO kv VALUES(1, zeroblob(3000000), 1)");
  sqltestExec(db, "UPDATE kv SET n = n + 1 WHERE k = 1");
  sqltestExec(db, "UPDATE kv SET k = 2 WHERE k = 1");
  tvExpect(db, "SELECT k, length(big), typeof(big), n FROM kv", "2|3000000|'blob'|2\n");
  sqlite3_close(db);
}

/* A directory holding something else, a file, a path through a file: a
** clear error, and nothing there changes. */
static void test_bad_directories(void **state){
  sqlite3 *db = sqltestOpenLoaded("baddir.db", tvExt);
  FILE *f;
  (void)state;
  assert_int_equal(mkdir("photos", 0777), 0);
  f = fopen("photos/a.jpg", "w");
  assert_non_null(f);
  fputs("jpeg", f);
  fclose(f);
  f = fopen("plainfile", "w");
  assert_non_null(f);
  fputs("x", f);
  fclose(f);
  sqltestFails(db, "CREATE VIRTUAL TABLE a USING lsm(photos)", SQLITE_CANTOPEN,
               "holds files that are not an lsm table's (\"a.jpg\")");
  assert_int_equal(tvCountFiles("photos"), 1);
  sqltestFails(db, "CREATE VIRTUAL TABLE b USING lsm(plainfile)", SQLITE_CANTOPEN,
               "is not a directory");
  sqltestFails(db, "CREATE VIRTUAL TABLE c USING lsm('plainfile/sub')",
               SQLITE_CANTOPEN, "Not a directory");
  assert_int_equal(tvCountFiles("plainfile"), 1);
  sqltestExpect(db, "SELECT count(*) FROM sqlite_schema", "0\n");
  /* an empty directory that exists is fine */
  assert_int_equal(mkdir("empty", 0777), 0);
  sqltestExec(db, "CREATE VIRTUAL TABLE d USING lsm(empty); INSERT INTO d VALUES(1, 1)");
  sqlite3_close(db);
}

/* Run zSql on db in a child: 0 if it fails with code rc and a message
** containing zPart, else 1 (with the reason on stderr). */
static int tvChildFails(sqlite3 *db, const char *zSql, int rc, const char *zPart){
  int rc2 = sqlite3_exec(db, zSql, 0, 0, 0);
  if( rc2==rc && strstr(sqlite3_errmsg(db), zPart) ) return 0;
  fprintf(stderr, "%s\n  -> %d %s; expected %d \"%s\"\n", zSql, rc2,
          sqlite3_errmsg(db), rc, zPart);
  return 1;
}

/* A connection of the extension in a child process (no cmocka there). */
static sqlite3 *tvChildOpen(const char *zName){
  sqlite3 *db = 0;
  char *zErr = 0;
  if( sqlite3_open(zName, &db)!=SQLITE_OK ) _exit(10);
  sqlite3_enable_load_extension(db, 1);
  if( sqlite3_load_extension(db, tvExt, 0, &zErr)!=SQLITE_OK ) _exit(11);
  sqlite3_exec(db, "SELECT lsm_allow_paths(1)", 0, 0, 0);
  return db;
}

/* Directories the user may not write.  As root (who may write anything)
** the checks run in a child that has become "nobody". */
static void test_unwritable_directories(void **state){
  char *zLocked = sqlite3_mprintf("%s/locked/data", tvDir);
  char *zFrozen = sqlite3_mprintf("%s/frozen", tvDir);
  char *zSql;
  sqlite3 *db;
  pid_t pid;
  int status = 0;
  (void)state;
  assert_int_equal(mkdir("locked", 0555), 0);
  assert_int_equal(mkdir("open", 0777), 0);
  assert_int_equal(chmod("open", 0777), 0);
  /* a table whose directory then becomes read-only to its user */
  db = sqltestOpenLoaded("open/frozen.db", tvExt);
  sqltestExec(db, "SELECT lsm_allow_paths(1)");
  zSql = sqlite3_mprintf("CREATE VIRTUAL TABLE f USING lsm('%q'); "
                         "INSERT INTO f VALUES(1, 1);", zFrozen);
  sqltestExec(db, zSql);
  sqlite3_free(zSql);
  sqlite3_close(db);
  assert_int_equal(system("chmod 0444 frozen/* && chmod 0555 frozen && "
                          "chmod 0666 open/frozen.db"), 0);
  pid = fork();
  assert_true(pid>=0);
  if( pid==0 ){
    int nBad = 0;
    if( geteuid()==0 ){
      if( chmod(tvDir, 0711)!=0 || setgid(65534)!=0 || setuid(65534)!=0 ) _exit(12);
    }
    db = tvChildOpen("open/new.db");
    zSql = sqlite3_mprintf("CREATE VIRTUAL TABLE u USING lsm('%q')", zLocked);
    nBad += tvChildFails(db, zSql, SQLITE_CANTOPEN, "Permission denied");
    sqlite3_free(zSql);
    sqlite3_close(db);
    db = tvChildOpen("open/frozen.db");
    nBad += tvChildFails(db, "SELECT * FROM f", SQLITE_CANTOPEN, "Permission denied");
    nBad += tvChildFails(db, "INSERT INTO f VALUES(2, 2)", SQLITE_CANTOPEN,
                         "Permission denied");
    sqlite3_close(db);
    _exit(nBad ? 1 : 0);
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_int_equal(chmod(tvDir, 0700), 0);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_false(tvExists("locked/data"));
  assert_int_equal(system("chmod -R u+w frozen"), 0);
  db = sqltestOpenLoaded("open/frozen.db", tvExt);
  sqltestExec(db, "SELECT lsm_allow_paths(1)");
  sqltestExpect(db, "SELECT key, value FROM f", "1|1\n");
  sqlite3_close(db);
  sqlite3_free(zLocked);
  sqlite3_free(zFrozen);
}

/* The child of test_readonly_fs, in a mount namespace of its own: a
** tmpfs mounted at rofs, a table in it, the tmpfs remounted read-only.
** Exits 0 if every check passed, 77 if it cannot mount here. */
static void tvReadOnlyFsChild(void){
  char *zData = sqlite3_mprintf("%s/rofs/data", tvDir);
  char *zOther = sqlite3_mprintf("%s/rofs/other", tvDir);
  char *zSql;
  sqlite3 *db;
  int nBad = 0, nFile;
  if( unshare(CLONE_NEWNS)!=0
   || mount(0, "/", 0, MS_REC|MS_PRIVATE, 0)!=0
   || mount("tmpfs", "rofs", "tmpfs", 0, "size=16m")!=0
  ){
    fprintf(stderr, "cannot mount a file system here: %s\n", strerror(errno));
    _exit(77);
  }
  db = tvChildOpen("rofs.db");
  zSql = sqlite3_mprintf("CREATE VIRTUAL TABLE r USING lsm('%q');"
                         "INSERT INTO r VALUES(1, 'one');", zData);
  if( sqlite3_exec(db, zSql, 0, 0, 0)!=SQLITE_OK ) _exit(13);
  sqlite3_free(zSql);
  sqlite3_close(db);
  if( mount(0, "rofs", 0, MS_REMOUNT|MS_RDONLY, 0)!=0 ) _exit(14);
  nFile = tvCountFiles("rofs/data");
  db = tvChildOpen("rofs.db");
  {
    sqlite3_stmt *pStmt = 0;
    if( sqlite3_prepare_v2(db, "SELECT group_concat(value) FROM r", -1, &pStmt,
                           0)!=SQLITE_OK
     || sqlite3_step(pStmt)!=SQLITE_ROW
     || sqlite3_column_text(pStmt, 0)==0
     || strcmp((const char*)sqlite3_column_text(pStmt, 0), "one")!=0
    ){
      fprintf(stderr, "reading the table: %s\n", sqlite3_errmsg(db));
      nBad++;
    }
    sqlite3_finalize(pStmt);
  }
  nBad += tvChildFails(db, "INSERT INTO r VALUES(2, 'two')", SQLITE_READONLY,
                       "is on a read-only file system");
  nBad += tvChildFails(db, "DROP TABLE r", SQLITE_READONLY, "readonly");
  zSql = sqlite3_mprintf("CREATE VIRTUAL TABLE o USING lsm('%q')", zOther);
  nBad += tvChildFails(db, zSql, SQLITE_CANTOPEN, "Read-only file system");
  sqlite3_free(zSql);
  if( tvCountFiles("rofs/data")!=nFile ) nBad++;
  sqlite3_close(db);
  _exit(nBad ? 1 : 0);
}

/* A table whose directory is on a read-only file system reads, and
** refuses writes, DROP and CREATE with messages saying why. */
static void test_readonly_fs(void **state){
  pid_t pid;
  int status = 0;
  (void)state;
  assert_int_equal(mkdir("rofs", 0777), 0);
  pid = fork();
  assert_true(pid>=0);
  if( pid==0 ) tvReadOnlyFsChild();
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  if( WEXITSTATUS(status)==77 ){
    printf("read-only file system: NOT TESTED, this machine lets no process "
           "mount one\n");
  }else{
    assert_int_equal(WEXITSTATUS(status), 0);
    printf("read-only file system: reads work, writes, DROP and CREATE refused\n");
  }
}

/* A damaged directory gives a clean error naming it. */
static void test_corrupt_directory(void **state){
  sqlite3 *db = sqltestOpenLoaded("corrupt.db", tvExt);
  FILE *f;
  char *zErr = 0;
  int rc;
  (void)state;
  sqltestExec(db, "CREATE VIRTUAL TABLE kv USING lsm(corrupt_data); INSERT INTO kv VALUES(1, 2);");
  sqlite3_close(db);
  f = fopen("corrupt_data/CURRENT", "w");
  assert_non_null(f);
  fputs("MANIFEST-999999\n", f);
  fclose(f);
  db = sqltestOpenLoaded("corrupt.db", tvExt);
  rc = sqlite3_exec(db, "SELECT * FROM kv", 0, 0, &zErr);
  assert_int_not_equal(rc, SQLITE_OK);
  assert_non_null(zErr);
  assert_non_null(strstr(zErr, "corrupt_data"));
  sqlite3_free(zErr);
  sqlite3_close(db);
}

/* One writer thread of test_threads: its own connection, its own keys,
** small transactions, and reads of everybody's rows. */
static void *tvThreadMain(void *pArg){
  int iThread = (int)(intptr_t)pArg;
  sqlite3 *db = 0;
  int i, rc = SQLITE_OK;
  if( sqlite3_open("threads.db", &db)!=SQLITE_OK ) return (void*)1;
  sqlite3_busy_timeout(db, 10000);
  sqlite3_enable_load_extension(db, 1);
  rc = sqlite3_load_extension(db, tvExt, 0, 0);
  for(i=0; rc==SQLITE_OK && i<50; i++){
    char *z = sqlite3_mprintf(
        "BEGIN IMMEDIATE;"
        "INSERT INTO kv VALUES('t%d-%03d-a', %d), ('t%d-%03d-b', %d);"
        "UPDATE kv SET value = value + 1 WHERE key = 't%d-%03d-a';"
        "COMMIT;"
        "SELECT count(*) FROM kv WHERE key >= 't' AND key < 'u';",
        iThread, i, i, iThread, i, i, iThread, i);
    rc = sqlite3_exec(db, z, 0, 0, 0);
    sqlite3_free(z);
  }
  sqlite3_close(db);
  return (void*)(intptr_t)(rc!=SQLITE_OK);
}

/* Threads with their own connections share the engine safely. */
static void test_threads(void **state){
  enum { NTHREAD = 4 };
  pthread_t aThread[NTHREAD];
  sqlite3 *db = sqltestOpenLoaded("threads.db", tvExt);
  int i;
  char *z;
  (void)state;
  sqltestExec(db, "PRAGMA journal_mode=WAL; CREATE VIRTUAL TABLE kv USING lsm(threads_data)");
  for(i=0; i<NTHREAD; i++){
    assert_int_equal(pthread_create(&aThread[i], 0, tvThreadMain, (void*)(intptr_t)i), 0);
  }
  for(i=0; i<NTHREAD; i++){
    void *pRet = 0;
    assert_int_equal(pthread_join(aThread[i], &pRet), 0);
    assert_null(pRet);
  }
  z = sqlite3_mprintf("%d|%d\n", NTHREAD*100, NTHREAD*(49*50 + 50));
  tvExpect(db, "SELECT count(*), sum(value) FROM kv", z);
  sqlite3_free(z);
  sqltestExec(db, "DROP TABLE kv");
  sqlite3_close(db);
}

/* Read a whole small file into a new string (sqlite3_malloc). */
static char *tvReadFile(const char *zPath){
  FILE *f = fopen(zPath, "rb");
  char *z;
  long n;
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  z = sqlite3_malloc64((size_t)n + 1);
  assert_non_null(z);
  assert_int_equal(fread(z, 1, (size_t)n, f), (size_t)n);
  z[n] = 0;
  fclose(f);
  return z;
}

/* The sqlite3 shell loads the extension and runs a script. */
static void test_shell(void **state){
  static const char zScript[] =
    "CREATE VIRTUAL TABLE kv USING lsm(shell_data);\n"
    "INSERT INTO kv VALUES('b', 2), ('a', 1), (3, 'three');\n"
    "SELECT key, value FROM kv ORDER BY key DESC;\n"
    "SELECT count(*) FROM kv WHERE key LIKE 'A%';\n"
    "INSERT INTO kv VALUES('a', 9);\n"
    "DROP TABLE kv;\n";
  static const char zExpect[] =
    "b|2\na|1\n3|three\n1\n"
    "Runtime error near line 5: UNIQUE constraint failed: kv.key (19)\n";
  FILE *f = fopen("shell.sql", "w");
  char *zCmd, *zOut;
  (void)state;
  if( TV_SANITIZED || access("/usr/bin/sqlite3", X_OK)!=0 ) skip();
  assert_non_null(f);
  fputs(zScript, f);
  fclose(f);
  zCmd = sqlite3_mprintf("/usr/bin/sqlite3 :memory: -cmd '.load %q' "
                         "< shell.sql > shell.out 2>&1", tvExt);
  assert_int_not_equal(system(zCmd), -1);
  zOut = tvReadFile("shell.out");
  if( strcmp(zOut, zExpect)!=0 ) fprintf(stderr, "shell said:\n%s", zOut);
  assert_string_equal(zOut, zExpect);
  assert_false(tvExists("shell_data"));
  sqlite3_free(zOut);
  sqlite3_free(zCmd);
}

/* Debian's python3 loads the extension and runs a small application. */
static void test_python(void **state){
  char *zCmd;
  int rc;
  (void)state;
  if( TV_SANITIZED || access("/usr/bin/python3", X_OK)!=0 ) skip();
  zCmd = sqlite3_mprintf("/usr/bin/python3 '%q' '%q' python_data > python.out 2>&1",
                         tvPython, tvExt);
  rc = system(zCmd);
  if( rc!=0 ){
    char *zOut = tvReadFile("python.out");
    fprintf(stderr, "python_app.py failed (%d):\n%s", rc, zOut);
    sqlite3_free(zOut);
  }
  assert_int_equal(rc, 0);
  sqlite3_free(zCmd);
}

/*------------------------------------------------------------------ setup --*/

static int tvSetup(void **state){
  const char *zExt = getenv("LSMVTAB_EXT");
  char zSrc[PATH_MAX];
  char *zCmd;
  (void)state;
  if( zExt==0 || zExt[0]==0 ) zExt = "./lsmvtab.so";
  if( realpath(zExt, tvExt)==0 ){
    fprintf(stderr, "extension %s not found (set LSMVTAB_EXT)\n", zExt);
    return -1;
  }
  /* python_app.py lives beside this file */
  snprintf(zSrc, sizeof(zSrc), "%s", __FILE__);
  if( strrchr(zSrc, '/') ) strcpy(strrchr(zSrc, '/')+1, "python_app.py");
  else snprintf(zSrc, sizeof(zSrc), "python_app.py");
  if( realpath(zSrc, tvPython)==0 ) tvPython[0] = 0;
  if( getcwd(tvHome, sizeof(tvHome))==0 ) return -1;
  tvDir = sqlite3_mprintf("/tmp/lsmtest-vtab-%d", (int)getpid());
  zCmd = sqlite3_mprintf("rm -rf '%s' && mkdir -p '%s'", tvDir, tvDir);
  if( system(zCmd)!=0 ) return -1;
  sqlite3_free(zCmd);
  return chdir(tvDir);
}

static int tvTeardown(void **state){
  char *zCmd = sqlite3_mprintf("rm -rf '%s'", tvDir);
  (void)state;
  if( chdir(tvHome)!=0 ) return -1;
  if( system(zCmd)!=0 ) return -1;
  sqlite3_free(zCmd);
  sqlite3_free(tvDir);
  return 0;
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_types),
    cmocka_unit_test(test_affinity),
    cmocka_unit_test(test_arguments),
    cmocka_unit_test(test_paths),
    cmocka_unit_test(test_path_rules),
    cmocka_unit_test(test_conflicts),
    cmocka_unit_test(test_plans),
    cmocka_unit_test(test_transactions),
    cmocka_unit_test(test_persistence_and_sharing),
    cmocka_unit_test(test_drop_and_rename),
    cmocka_unit_test(test_refusals),
    cmocka_unit_test(test_limits),
    cmocka_unit_test(test_corrupt_directory),
    cmocka_unit_test(test_bad_directories),
    cmocka_unit_test(test_unwritable_directories),
    cmocka_unit_test(test_readonly_fs),
    cmocka_unit_test(test_threads),
    cmocka_unit_test(test_shell),
    cmocka_unit_test(test_python),
  };
  return cmocka_run_group_tests(tests, tvSetup, tvTeardown);
}
