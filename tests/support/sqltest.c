/*
** sqltest.c -- SQL helpers for the extension's tests; see sqltest.h.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sqltest.h"

sqlite3 *sqltestOpenLoaded(const char *zName, const char *zExt){
  sqlite3 *db = 0;
  char *zErr = 0;
  int rc = sqlite3_open(zName, &db);
  if( rc!=SQLITE_OK ) fprintf(stderr, "open %s: %s\n", zName, sqlite3_errmsg(db));
  assert_int_equal(rc, SQLITE_OK);
  sqlite3_enable_load_extension(db, 1);
  rc = sqlite3_load_extension(db, zExt, 0, &zErr);
  if( rc!=SQLITE_OK ) fprintf(stderr, "loading %s: %s\n", zExt, zErr);
  assert_int_equal(rc, SQLITE_OK);
  return db;
}

void sqltestExec(sqlite3 *db, const char *zSql){
  char *zErr = 0;
  int rc = sqlite3_exec(db, zSql, 0, 0, &zErr);
  if( rc!=SQLITE_OK ) fprintf(stderr, "%s\n  -> %s\n", zSql, zErr);
  sqlite3_free(zErr);
  assert_int_equal(rc, SQLITE_OK);
}

void sqltestFails(sqlite3 *db, const char *zSql, int rc, const char *zPart){
  char *zErr = 0;
  int rcGot = sqlite3_exec(db, zSql, 0, 0, &zErr);
  if( rcGot==SQLITE_OK || (rc>=0 && sqlite3_extended_errcode(db)!=rc)
   || strstr(zErr ? zErr : "", zPart)==0
  ){
    fprintf(stderr, "%s\n  -> rc=%d (%d) \"%s\", expected %d \"%s\"\n", zSql,
            rcGot, sqlite3_extended_errcode(db), zErr ? zErr : "", rc, zPart);
    sqlite3_free(zErr);
    fail();
  }
  sqlite3_free(zErr);
}

/* zSql prepared and stepped to its first row, which must exist. */
static sqlite3_stmt *sqltestFirstRow(sqlite3 *db, const char *zSql){
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  if( rc!=SQLITE_OK ) fprintf(stderr, "%s\n  -> %s\n", zSql, sqlite3_errmsg(db));
  assert_int_equal(rc, SQLITE_OK);
  rc = sqlite3_step(pStmt);
  if( rc!=SQLITE_ROW ) fprintf(stderr, "%s\n  -> %s\n", zSql, sqlite3_errmsg(db));
  assert_int_equal(rc, SQLITE_ROW);
  return pStmt;
}

sqlite3_int64 sqltestInt(sqlite3 *db, const char *zSql){
  sqlite3_stmt *pStmt = sqltestFirstRow(db, zSql);
  sqlite3_int64 v = sqlite3_column_int64(pStmt, 0);
  sqlite3_finalize(pStmt);
  return v;
}

char *sqltestText(sqlite3 *db, const char *zSql){
  sqlite3_stmt *pStmt = sqltestFirstRow(db, zSql);
  char *z = 0;
  if( sqlite3_column_type(pStmt, 0)!=SQLITE_NULL ){
    z = sqlite3_mprintf("%s", (const char*)sqlite3_column_text(pStmt, 0));
  }
  sqlite3_finalize(pStmt);
  return z;
}

char *sqltestRows(sqlite3 *db, const char *zSql){
  sqlite3_str *pOut = sqlite3_str_new(0);
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  if( rc!=SQLITE_OK ) fprintf(stderr, "%s\n  -> %s\n", zSql, sqlite3_errmsg(db));
  assert_int_equal(rc, SQLITE_OK);
  while( (rc = sqlite3_step(pStmt))==SQLITE_ROW ){
    int i;
    for(i=0; i<sqlite3_column_count(pStmt); i++){
      const char *z = (const char*)sqlite3_column_text(pStmt, i);
      sqlite3_str_appendf(pOut, "%s%s", i ? "|" : "", z ? z : "NULL");
    }
    sqlite3_str_appendchar(pOut, 1, '\n');
  }
  if( rc!=SQLITE_DONE ) fprintf(stderr, "%s\n  -> %s\n", zSql, sqlite3_errmsg(db));
  assert_int_equal(rc, SQLITE_DONE);
  sqlite3_finalize(pStmt);
  return sqlite3_str_finish(pOut);
}

void sqltestExpect(sqlite3 *db, const char *zSql, const char *zExpect){
  char *z = sqltestRows(db, zSql);
  if( strcmp(z ? z : "", zExpect)!=0 ){
    fprintf(stderr, "%s\n  got:\n%s  expected:\n%s", zSql, z ? z : "", zExpect);
  }
  assert_string_equal(z ? z : "", zExpect);
  sqlite3_free(z);
}
