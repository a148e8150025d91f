/*
** test_static.c -- the extension compiled into an application.
**
** An application that embeds SQLite can build the extension's sources
** with -DSQLITE_CORE and call sqlite3_lsmvtab_init itself (here through
** sqlite3_auto_extension, so that every new connection gets the module).
** This program is such an application: it includes the sources of ext/
** directly and links against the system SQLite and the engine library.
*/
#define SQLITE_CORE 1
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
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

static char *tsDir;

/* Every row of zSql, "a|b" lines, into one new string. */
static char *tsRows(sqlite3 *db, const char *zSql){
  sqlite3_str *p = sqlite3_str_new(0);
  sqlite3_stmt *pStmt = 0;
  assert_int_equal(sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0), SQLITE_OK);
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    int i;
    for(i=0; i<sqlite3_column_count(pStmt); i++){
      sqlite3_str_appendf(p, "%s%s", i ? "|" : "",
                          (const char*)sqlite3_column_text(pStmt, i));
    }
    sqlite3_str_appendchar(p, 1, '\n');
  }
  assert_int_equal(sqlite3_finalize(pStmt), SQLITE_OK);
  return sqlite3_str_finish(p);
}

static void test_static_link(void **state){
  typedef void (*InitFn)(void);
  sqlite3 *db;
  char *zErr = 0;
  char *zPath = sqlite3_mprintf("%s/static.db", tsDir);
  char *zRows;
  (void)state;
  /* a direct call reports plain SQLITE_OK when built into the library */
  assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
  assert_int_equal(sqlite3_lsmvtab_init(db, &zErr, 0), SQLITE_OK);
  sqlite3_close(db);

  assert_int_equal(sqlite3_auto_extension((InitFn)sqlite3_lsmvtab_init), SQLITE_OK);
  assert_int_equal(sqlite3_open(zPath, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db,
      "CREATE VIRTUAL TABLE kv USING lsm(static_data, k INTEGER, v TEXT);"
      "INSERT INTO kv VALUES(3, 'c'), (1, 'a'), ('2', 'b');"
      "UPDATE kv SET v = upper(v) WHERE k >= 2;", 0, 0, &zErr), SQLITE_OK);
  zRows = tsRows(db, "SELECT k, v FROM kv ORDER BY k DESC");
  assert_string_equal(zRows, "3|C\n2|B\n1|a\n");
  sqlite3_free(zRows);
  sqlite3_close(db);

  /* the next connection gets the module automatically and sees the rows */
  assert_int_equal(sqlite3_open(zPath, &db), SQLITE_OK);
  zRows = tsRows(db, "SELECT count(*), sum(k) FROM kv");
  assert_string_equal(zRows, "3|6\n");
  sqlite3_free(zRows);
  assert_int_equal(sqlite3_exec(db, "DROP TABLE kv", 0, 0, &zErr), SQLITE_OK);
  sqlite3_close(db);
  sqlite3_reset_auto_extension();
  sqlite3_free(zPath);
}

static int tsSetup(void **state){
  char *zCmd;
  (void)state;
  tsDir = sqlite3_mprintf("/tmp/lsmtest-static-%d", (int)getpid());
  zCmd = sqlite3_mprintf("rm -rf '%s' && mkdir -p '%s'", tsDir, tsDir);
  if( system(zCmd)!=0 ) return -1;
  sqlite3_free(zCmd);
  return 0;
}

static int tsTeardown(void **state){
  char *zCmd = sqlite3_mprintf("rm -rf '%s'", tsDir);
  (void)state;
  if( system(zCmd)!=0 ) return -1;
  sqlite3_free(zCmd);
  sqlite3_free(tsDir);
  return 0;
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_static_link),
  };
  return cmocka_run_group_tests(tests, tsSetup, tsTeardown);
}
