/*
** test_sqlfuncs.c -- the SQL functions of the extension (ext/sqlfuncs.c):
** lsm_levels, lsm_tables, lsm_stats, lsm_changes, lsm_flush,
** lsm_compact, lsm_check, lsm_backup and lsm_version, each against a
** workload whose counts, sizes, keys and sequence numbers are known.
**
** Each test opens a database file in a private directory
** (/tmp/lsmtest-sqlfuncs-PID, the working directory while the tests run)
** and loads the extension named by LSMVTAB_EXT (default ./lsmvtab.so).
** Rows are compared as text: one line per row, values joined with '|',
** NULL printed as "NULL".
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
#include <cmocka.h>
#include <sqlite3.h>

#include "lsm.h"
#include "support/sqltest.h"

static char sfExt[PATH_MAX];        /* absolute path of the extension */
static char sfHome[PATH_MAX];       /* working directory at start */
static char *sfDir;                 /* the private directory */

/*---------------------------------------------------------------- helpers --*/

static long long sfFileSize(const char *zPath){
  struct stat st;
  assert_int_equal(stat(zPath, &st), 0);
  return (long long)st.st_size;
}

/* Flip one byte of file zPath at offset iOff. */
static void sfFlipByte(const char *zPath, long iOff){
  FILE *f = fopen(zPath, "r+b");
  int c;
  assert_non_null(f);
  assert_int_equal(fseek(f, iOff, SEEK_SET), 0);
  c = fgetc(f);
  assert_true(c!=EOF);
  assert_int_equal(fseek(f, iOff, SEEK_SET), 0);
  fputc(c ^ 0x5a, f);
  fclose(f);
}

/* kv (in database zDb) with keys 1..1000 ('v'||key), then keys 1..100
** deleted: sequences 1..1000 are the puts, 1001..1100 the deletes. */
static sqlite3 *sfWorkload(const char *zDb, const char *zDir){
  sqlite3 *db = sqltestOpenLoaded(zDb, sfExt);
  char *zSql = sqlite3_mprintf(
      "CREATE VIRTUAL TABLE kv USING lsm(%s);"
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<1000)"
      "  INSERT INTO kv SELECT i, 'v'||i FROM n;"
      "DELETE FROM kv WHERE key<=100;", zDir);
  sqltestExec(db, zSql);
  sqlite3_free(zSql);
  return db;
}

/*------------------------------------------------------------------ tests --*/

/* lsm_tables, lsm_levels and lsm_stats after a flush and a compaction. */
static void test_inspect(void **state){
  sqlite3 *db = sfWorkload("inspect.db", "inspect_data");
  char *zFile;
  char zPath[600];
  long long nBytes;
  (void)state;
  sqltestExpect(db, "SELECT lsm_flush('kv')", "ok\n");

  /* One level-0 table holding every put and every tombstone. */
  sqltestExpect(db, "SELECT level, smallest, largest, entries, tombstones, "
               "min_seq, max_seq FROM lsm_tables('kv')",
           "0|1|1000|1100|100|1|1100\n");
  zFile = sqltestText(db, "SELECT file FROM lsm_tables('kv')");
  assert_non_null(zFile);
  assert_int_equal(strlen(zFile), 10);
  assert_non_null(strstr(zFile, ".sst"));
  snprintf(zPath, sizeof(zPath), "inspect_data/%s", zFile);
  nBytes = sfFileSize(zPath);
  assert_int_equal(sqltestInt(db, "SELECT bytes FROM lsm_tables('kv')"), nBytes);
  sqlite3_free(zFile);

  /* Seven levels; level 0 holds that table and has no byte budget. */
  assert_int_equal(sqltestInt(db, "SELECT count(*) FROM lsm_levels('kv')"), 7);
  {
    char *zExpect = sqlite3_mprintf("0|1|%lld|NULL|0.25\n"
                                    "1|0|0|10485760|0.0\n", nBytes);
    sqltestExpect(db, "SELECT * FROM lsm_levels('kv') WHERE level<=1", zExpect);
    sqlite3_free(zExpect);
  }

  /* Every statistic is there; the known ones have their values. */
  assert_int_equal(sqltestInt(db, "SELECT count(*) FROM lsm_stats('kv') WHERE name IN ("
      "'user_bytes','log_bytes','flush_bytes','compaction_bytes','write_amp',"
      "'space_amp','read_amp','cache_hits','cache_misses','bloom_useful',"
      "'bloom_useless','stalls','stall_us','compactions','memtable_bytes',"
      "'immutable_count','last_error')"), 17);
  sqltestExpect(db, "SELECT name, value FROM lsm_stats('kv') WHERE name IN "
               "('flushes','compactions','last_seq','immutable_count',"
               "'last_error','compaction_bytes')",
           "compaction_bytes|0\nflushes|1\ncompactions|0\n"
           "immutable_count|0\nlast_seq|1100\nlast_error|NULL\n");
  assert_true(sqltestInt(db, "SELECT value FROM lsm_stats('kv') WHERE name='user_bytes'")>0);
  assert_int_equal(sqltestInt(db, "SELECT value FROM lsm_stats('kv') WHERE name='flush_bytes'"),
                   nBytes);
  assert_int_equal(sqltestInt(db, "SELECT value FROM lsm_stats('kv') WHERE name='table_bytes'"),
                   nBytes);

  /* Point reads that reach the table count as probes. */
  sqltestExpect(db, "SELECT value FROM kv WHERE key=500", "v500\n");
  assert_true(sqltestInt(db, "SELECT value FROM lsm_stats('kv') WHERE name='gets'")>=1);

  /* A full compaction drops the tombstones and what they hid. */
  sqltestExpect(db, "SELECT lsm_compact('kv')", "ok\n");
  sqltestExpect(db, "SELECT min(level)>=1, min(smallest), max(largest), sum(entries), "
               "sum(tombstones) FROM lsm_tables('kv')",
           "1|101|1000|900|0\n");
  sqltestExpect(db, "SELECT tables FROM lsm_levels('kv') WHERE level=0", "0\n");
  assert_true(sqltestInt(db, "SELECT value FROM lsm_stats('kv') WHERE name='compactions'")>=1);
  assert_true(sqltestInt(db, "SELECT value FROM lsm_stats('kv') WHERE name='compaction_bytes'")>0);
  assert_true(sqltestInt(db, "SELECT sum(bytes) FROM lsm_tables('kv')")
              ==sqltestInt(db, "SELECT sum(bytes) FROM lsm_levels('kv')"));
  sqltestExpect(db, "SELECT count(*), min(key), max(key) FROM kv", "900|101|1000\n");
  sqlite3_close(db);
}

/* lsm_compact over a key range, with the key column's affinity. */
static void test_compact_range(void **state){
  sqlite3 *db = sqltestOpenLoaded("compact.db", sfExt);
  (void)state;
  sqltestExec(db, "CREATE VIRTUAL TABLE ki USING lsm(compact_data, key INTEGER, v);"
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<400)"
             "  INSERT INTO ki SELECT i, i FROM n WHERE i%2;"
             "SELECT lsm_flush('ki');"
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<400)"
             "  INSERT INTO ki SELECT i, i FROM n WHERE i%2=0;"
             "SELECT lsm_flush('ki');");
  sqltestExpect(db, "SELECT level, smallest, largest, entries FROM lsm_tables('ki')",
           "0|2|400|200\n0|1|399|200\n");
  /* '5' and '7' become integers, as in the table; both tables overlap. */
  sqltestExpect(db, "SELECT lsm_compact('ki', '5', '7')", "ok\n");
  sqltestExpect(db, "SELECT level, min(smallest), max(largest), sum(entries) "
               "FROM lsm_tables('ki') GROUP BY level",
           "1|1|400|400\n");
  /* An open bound, and nothing to do. */
  sqltestExpect(db, "SELECT lsm_compact('ki', NULL, 10)", "ok\n");
  sqltestExpect(db, "SELECT count(*) FROM ki", "400\n");
  sqltestFails(db, "SELECT lsm_compact('ki', 1)", -1, "wrong number of arguments");
  sqlite3_close(db);
}

/* lsm_check: 'ok', then a flipped byte in a table is found and named. */
static void test_check(void **state){
  sqlite3 *db = sfWorkload("check.db", "check_data");
  char *zFile, *zResult;
  char zPath[600];
  (void)state;
  sqltestExpect(db, "SELECT lsm_check('kv')", "ok\n");
  sqltestExpect(db, "SELECT lsm_flush('kv')", "ok\n");
  sqltestExec(db, "INSERT INTO kv VALUES(5000, 'x')");
  sqltestExpect(db, "SELECT lsm_check('kv')", "ok\n");

  zFile = sqltestText(db, "SELECT file FROM lsm_tables('kv')");
  assert_non_null(zFile);
  snprintf(zPath, sizeof(zPath), "check_data/%s", zFile);
  sfFlipByte(zPath, 20);
  zResult = sqltestText(db, "SELECT lsm_check('kv')");
  assert_non_null(zResult);
  if( strstr(zResult, zFile)==0 || strstr(zResult, "checksum")==0 ){
    fail_msg("lsm_check: \"%s\" does not name %s", zResult, zFile);
  }
  assert_null(strchr(zResult, '\n'));          /* one problem, one line */
  sqlite3_free(zResult);

  /* A second damaged file is a second line. */
  sqltestExpect(db, "SELECT lsm_flush('kv')", "ok\n");
  {
    char *zFile2 = sqltestText(db, "SELECT file FROM lsm_tables('kv') "
                              "ORDER BY file DESC LIMIT 1");
    assert_non_null(zFile2);
    assert_string_not_equal(zFile2, zFile);
    snprintf(zPath, sizeof(zPath), "check_data/%s", zFile2);
    sfFlipByte(zPath, sfFileSize(zPath)-3);    /* the footer's magic */
    zResult = sqltestText(db, "SELECT lsm_check('kv')");
    assert_non_null(zResult);
    assert_non_null(strstr(zResult, zFile));
    assert_non_null(strstr(zResult, zFile2));
    assert_non_null(strchr(zResult, '\n'));
    sqlite3_free(zResult);
    sqlite3_free(zFile2);
  }
  sqlite3_free(zFile);
  sqlite3_close(db);
}

/* lsm_backup: the copy opens as a table and holds the same rows. */
static void test_backup(void **state){
  sqlite3 *db = sfWorkload("backup.db", "backup_data");
  sqlite3_int64 iSeq;
  (void)state;
  sqltestExpect(db, "SELECT lsm_flush('kv')", "ok\n");
  sqltestExec(db, "UPDATE kv SET value='new' WHERE key BETWEEN 500 AND 509");
  iSeq = sqltestInt(db, "SELECT lsm_backup('kv', 'backup_copy')");
  assert_int_equal(iSeq, 1110);
  assert_int_equal(iSeq, sqltestInt(db, "SELECT value FROM lsm_stats('kv') "
                                   "WHERE name='last_seq'"));
  assert_int_equal(access("backup_copy/CURRENT", F_OK), 0);
  sqltestExec(db, "INSERT INTO kv VALUES(7777, 'after')");
  sqltestExec(db, "CREATE VIRTUAL TABLE c USING lsm(backup_copy)");
  sqltestExpect(db, "SELECT count(*), sum(value='new') FROM c", "900|10\n");
  sqltestExpect(db, "SELECT count(*) FROM (SELECT * FROM kv EXCEPT SELECT * FROM c)", "1\n");
  sqltestExpect(db, "SELECT lsm_check('c')", "ok\n");
  sqltestFails(db, "SELECT lsm_backup('kv', 'backup_copy')", -1, "already exists");
  sqltestFails(db, "SELECT lsm_backup('kv', '')", -1, "new directory");
  sqlite3_close(db);
}

/* lsm_changes: a known history, from 0 and from the middle; a follower
** replays it; history past the retention is an error naming the fix. */
static void test_changes(void **state){
  sqlite3 *db = sqltestOpenLoaded("changes.db", sfExt);
  (void)state;
  sqltestExec(db, "CREATE VIRTUAL TABLE kv USING lsm(changes_data);"
             "INSERT INTO kv VALUES(1, 'one'), (2, 'two'), (3.0, x'33');"
             "UPDATE kv SET value='TWO' WHERE key=2;"
             "DELETE FROM kv WHERE key=1;"
             "BEGIN; INSERT INTO kv VALUES('k', 4.5); DELETE FROM kv WHERE key=3;"
             "COMMIT;");
  sqltestExpect(db, "SELECT seq, op, key, typeof(key), value, typeof(value) "
               "FROM lsm_changes('kv', 0)",
           "1|put|1|integer|one|text\n"
           "2|put|2|integer|two|text\n"
           "3|put|3.0|real|3|blob\n"
           "4|put|2|integer|TWO|text\n"
           "5|delete|1|integer|NULL|null\n"
           "6|put|k|text|4.5|real\n"
           "7|delete|3|integer|NULL|null\n");
  sqltestExpect(db, "SELECT seq, op, key FROM lsm_changes('kv', 4)",
           "5|delete|1\n6|put|k\n7|delete|3\n");
  sqltestExpect(db, "SELECT count(*) FROM lsm_changes('kv', 7)", "0\n");
  sqltestExpect(db, "SELECT count(*) FROM lsm_changes('kv')", "7\n");
  /* the whole stored row: key flags, then each value column tagged */
  sqltestExpect(db, "SELECT quote(record) FROM lsm_changes('kv', 5)",
           "X'00020000000000001240'\nNULL\n");

  /* A follower applies the last change of each key. */
  sqltestExec(db, "CREATE VIRTUAL TABLE f USING lsm(follower_data);"
             "CREATE TEMP TABLE last AS SELECT key, op, value, max(seq) AS seq "
             "  FROM lsm_changes('kv', 0) GROUP BY key;"
             "DELETE FROM f WHERE key IN (SELECT key FROM last WHERE op='delete');"
             "INSERT OR REPLACE INTO f SELECT key, value FROM last WHERE op='put';");
  sqltestExpect(db, "SELECT count(*) FROM (SELECT * FROM kv EXCEPT SELECT * FROM f "
               "UNION ALL SELECT * FROM f EXCEPT SELECT * FROM kv)", "0\n");
  sqltestExpect(db, "SELECT key, value FROM f ORDER BY key", "2|TWO\nk|4.5\n");

  /* After a flush without retention the history is gone. */
  sqltestExpect(db, "SELECT lsm_flush('kv')", "ok\n");
  sqltestExec(db, "INSERT INTO kv VALUES(8, 'eight')");
  sqltestFails(db, "SELECT * FROM lsm_changes('kv', 0)", -1, "take a backup");
  sqltestExpect(db, "SELECT seq, key FROM lsm_changes('kv', 7)", "8|8\n");
  sqltestFails(db, "SELECT * FROM lsm_changes('kv', -1)", -1, "integer >= 0");
  sqlite3_close(db);
}

/* Names, arguments and the version. */
static void test_names_and_errors(void **state){
  sqlite3 *db = sqltestOpenLoaded("names.db", sfExt);
  char zExpect[64];
  (void)state;
  sqltestExec(db, "CREATE VIRTUAL TABLE \"My Tab\" USING lsm('names data', "
             "memtable_size='64K');"
             "CREATE TABLE native(a, b);"
             "INSERT INTO \"My Tab\" VALUES('a', 1);");
  snprintf(zExpect, sizeof(zExpect), "%s\n", LSM_VERSION);
  sqltestExpect(db, "SELECT lsm_version()", zExpect);
  /* the name as stored, in any case, and schema-qualified */
  sqltestExpect(db, "SELECT count(*) FROM lsm_changes('my tab', 0)", "1\n");
  sqltestExpect(db, "SELECT lsm_flush('main.My Tab')", "ok\n");
  sqltestExpect(db, "SELECT count(*) FROM lsm_tables('My Tab')", "1\n");
  sqltestFails(db, "SELECT lsm_flush('nosuch')", -1, "no such table: nosuch");
  sqltestFails(db, "SELECT * FROM lsm_levels('native')", -1, "is not an lsm table");
  sqltestFails(db, "SELECT * FROM lsm_levels()", -1, "must name an lsm table");
  sqltestFails(db, "SELECT lsm_check(NULL)", -1, "must name an lsm table");
  /* A table in an attached database. */
  sqltestExec(db, "ATTACH 'other.db' AS other;"
             "CREATE VIRTUAL TABLE other.t2 USING lsm(other_data);"
             "INSERT INTO other.t2 VALUES(1, 2), (3, 4);");
  sqltestExpect(db, "SELECT max(seq) FROM lsm_changes('t2', 0)", "2\n");
  sqltestExpect(db, "SELECT max(seq) FROM lsm_changes('other.t2', 0)", "2\n");
  sqlite3_close(db);
}

/*------------------------------------------------------------------ setup --*/

static int sfSetup(void **state){
  const char *zExt = getenv("LSMVTAB_EXT");
  char *zCmd;
  (void)state;
  if( zExt==0 || zExt[0]==0 ) zExt = "./lsmvtab.so";
  if( realpath(zExt, sfExt)==0 ){
    fprintf(stderr, "extension %s not found (set LSMVTAB_EXT)\n", zExt);
    return -1;
  }
  if( getcwd(sfHome, sizeof(sfHome))==0 ) return -1;
  sfDir = sqlite3_mprintf("/tmp/lsmtest-sqlfuncs-%d", (int)getpid());
  zCmd = sqlite3_mprintf("rm -rf '%s' && mkdir -p '%s'", sfDir, sfDir);
  if( system(zCmd)!=0 ) return -1;
  sqlite3_free(zCmd);
  return chdir(sfDir);
}

static int sfTeardown(void **state){
  char *zCmd = sqlite3_mprintf("rm -rf '%s'", sfDir);
  (void)state;
  if( chdir(sfHome)!=0 ) return -1;
  if( system(zCmd)!=0 ) return -1;
  sqlite3_free(zCmd);
  sqlite3_free(sfDir);
  return 0;
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_inspect),
    cmocka_unit_test(test_compact_range),
    cmocka_unit_test(test_check),
    cmocka_unit_test(test_backup),
    cmocka_unit_test(test_changes),
    cmocka_unit_test(test_names_and_errors),
  };
  return cmocka_run_group_tests(tests, sfSetup, sfTeardown);
}
