/*
** sqltest.h -- helpers for tests that drive the extension through SQL.
**
** Each helper fails the running cmocka test (after printing the SQL and
** what went wrong) when the statement does not behave as asked.
*/
#ifndef SQLTEST_H
#define SQLTEST_H

#include <sqlite3.h>

/* Open database zName with the extension at zExt loaded. */
sqlite3 *sqltestOpenLoaded(const char *zName, const char *zExt);

/* Run zSql; it must succeed. */
void sqltestExec(sqlite3 *db, const char *zSql);

/* Run zSql; it must fail with extended code rc (any code if rc<0) and a
** message containing zPart. */
void sqltestFails(sqlite3 *db, const char *zSql, int rc, const char *zPart);

/* The rows of zSql as text, "a|b" one row a line, NULL as "NULL".  The
** caller frees with sqlite3_free. */
char *sqltestRows(sqlite3 *db, const char *zSql);

/* The first column of the first row of zSql, which must have one: as an
** integer, or as text (sqlite3_free; NULL for NULL). */
sqlite3_int64 sqltestInt(sqlite3 *db, const char *zSql);
char *sqltestText(sqlite3 *db, const char *zSql);

/* The rows of zSql (as sqltestRows) must equal zExpect. */
void sqltestExpect(sqlite3 *db, const char *zSql, const char *zExpect);

#endif /* SQLTEST_H */
