/*
** test_differential.c -- the lsm virtual table against a native table.
**
** Two connections, each on its own database file: one holds T as an lsm
** virtual table, the other T as a native WITHOUT ROWID table with the
** same declaration.  Both also hold ordinary tables A(x, y) and
** B(i INTEGER, t TEXT) with the same rows, for joins and subqueries.  A seeded generator produces
** random statements -- INSERT with every conflict clause, multi-row and
** from SELECT; UPDATE of values and of keys; DELETE by point, IN list and
** range; SELECT with every range form, LIKE / GLOB, IN, IS, ORDER BY key
** both ways with LIMIT / OFFSET, aggregates, self joins, joins with A,
** subqueries; BEGIN / COMMIT / ROLLBACK and SAVEPOINT / RELEASE /
** ROLLBACK TO, with statements failing inside transactions (conflicts,
** NULL keys) -- over keys of every type, edge values included.  Each
** statement runs on both connections; the outcomes (every row, every
** value with its exact type, or the error code and message) must be
** identical, and the whole tables are compared at checkpoints.
**
** A second connection to each database reads now and then, while the
** first may be inside a transaction: both must see only what committed
** (the native database keeps the uncommitted rows of the first
** connection from the second, and so must the lsm table).
**
** Environment:
**   LSMVTAB_EXT             the loadable extension (default ./lsmvtab.so)
**   LSMVTAB_DIFF_STATEMENTS statements in total over all seeds (default
**                           100000; 20000 under a sanitizer)
**   LSMVTAB_DIFF_SEED       run only this seed
**   LSMVTAB_DIFF_VERBOSE    print every statement
**   LSMVTAB_DIFF_CHECK      compare whole tables every N statements (50)
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "support/sqltest.h"

#define DIFF_NSEED 8
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
# define DIFF_DEFAULT_TOTAL 20000
#else
# define DIFF_DEFAULT_TOTAL 100000
#endif

/*---------------------------------------------------------------- random --*/

static uint64_t dfSeed;

static uint64_t dfRand(void){
  dfSeed ^= dfSeed >> 12;
  dfSeed ^= dfSeed << 25;
  dfSeed ^= dfSeed >> 27;
  return dfSeed * 0x2545F4914F6CDD1DULL;
}
static int dfInt(int n){ return (int)(dfRand() % (uint64_t)n); }
static int dfChance(int nPct){ return dfInt(100) < nPct; }

/*------------------------------------------------------------ the values --*/

/* Literals of every type, edge values weighted in. */
static const char *dfLiterals[] = {
  "0", "1", "2", "3", "5", "7", "10", "-1", "-5", "42", "100",
  "9223372036854775807", "-9223372036854775808", "9007199254740993",
  "1.0", "2.5", "-0.0", "0.0", "-1.5", "3.0", "1e300", "-1e300",
  "9.223372036854775807e18", "9223372036854775808.0", "1e-300", "0.1",
  "''", "'a'", "'A'", "'ab'", "'abc'", "'b'", "'B'", "'ba'", "'z'",
  "'1'", "'10'", "' 5'", "'5.0'", "'-3'", "'1e2'", "'abc%'", "'_x'",
  "'\xc3\xa9t\xc3\xa9'", "'\xe2\x82\xac'", "'a b'", "'x''y'",
  "x''", "x'00'", "x'0000'", "x'ff'", "x'ffff'", "x'00ff'", "x'61'", "x'6162'",
  "NULL"
};
#define DF_NLIT ((int)(sizeof(dfLiterals)/sizeof(dfLiterals[0])))

static const char *dfLiteral(void){
  return dfLiterals[dfInt(DF_NLIT)];
}

/*
** "(SELECT literal)" for each literal: a value SQLite cannot show a
** virtual table in advance (as with a parameter), but with no affinity.
*/
static char *dfWrapped[DF_NLIT];

static const char *dfWrap(int i){
  if( dfWrapped[i]==0 ) dfWrapped[i] = sqlite3_mprintf("(SELECT %s)", dfLiterals[i]);
  return dfWrapped[i];
}

static void dfFreeWrapped(void){
  int i;
  for(i=0; i<DF_NLIT; i++){
    sqlite3_free(dfWrapped[i]);
    dfWrapped[i] = 0;
  }
}

/* A literal, mostly small integers and short text to make collisions
** (conflicts) frequent, seldom NULL, sometimes as a subquery. */
static const char *dfKeyLiteral(void){
  static const int aCommon[] = { 0, 1, 2, 3, 4, 5, 27, 31, 29, 35, 14, 15, 7, 6 };  /* 0 1 2 3 5 7 'a' 'b' 'ab' '1' 1.0 2.5 -1 10 */
  int i;
  if( dfChance(60) ){
    i = aCommon[dfInt((int)(sizeof(aCommon)/sizeof(aCommon[0])))];
  }else{
    do{ i = dfInt(DF_NLIT); }while( i==DF_NLIT-1 && !dfChance(10) );
  }
  return dfChance(15) ? dfWrap(i) : dfLiterals[i];
}

/* Prefix patterns for LIKE and GLOB. */
static const char *dfLikePatterns[] = {
  "'a%'", "'A%'", "'ab%'", "'b%'", "'1%'", "'-%'", "'%'", "'_%'", "'a_'", "'%b'",
  "'\xc3\xa9%'", "'I%'", "'abc\\%%'", "'x''%'", "NULL", "'5%'", "''", "'z%'"
};
static const char *dfGlobPatterns[] = {
  "'a*'", "'A*'", "'ab*'", "'b*'", "'1*'", "'-*'", "'*'", "'?*'", "'[ab]*'",
  "'\xc3\xa9*'", "'I*'", "'a?'", "NULL", "'5*'", "''", "'z*'"
};

/*------------------------------------------------------- the connections --*/

typedef struct DiffCtx DiffCtx;
struct DiffCtx {
  sqlite3 *dbL;               /* T is an lsm table */
  sqlite3 *dbN;               /* T is a native WITHOUT ROWID table */
  sqlite3 *dbL2;              /* second connections to the same files */
  sqlite3 *dbN2;
  char *zDir;                 /* temp directory */
  int nCol;                   /* columns of T */
  const char *azCol[4];       /* their names */
  unsigned iSeed;
  int iStmt;
  int bVerbose;
  char *zLastCheck;           /* the table at the last checkpoint */
};

static const char *dfExtPath(void){
  const char *z = getenv("LSMVTAB_EXT");
  return z && z[0] ? z : "./lsmvtab.so";
}

/* Render the current row of pStmt exactly: each value with its type. */
static void dfRenderRow(sqlite3_stmt *pStmt, sqlite3_str *pOut){
  int i, n = sqlite3_column_count(pStmt);
  for(i=0; i<n; i++){
    sqlite3_value *v = sqlite3_column_value(pStmt, i);
    if( i ) sqlite3_str_appendchar(pOut, 1, '|');
    switch( sqlite3_value_type(v) ){
      case SQLITE_INTEGER:
        sqlite3_str_appendf(pOut, "%lld", sqlite3_value_int64(v));
        break;
      case SQLITE_FLOAT: {
        double r = sqlite3_value_double(v);
        uint64_t u;
        memcpy(&u, &r, 8);
        sqlite3_str_appendf(pOut, "%!.17g(r%016llx)", r, (unsigned long long)u);
        break;
      }
      case SQLITE_TEXT: {
        const unsigned char *z = sqlite3_value_text(v);
        int k, nz = sqlite3_value_bytes(v);
        sqlite3_str_appendchar(pOut, 1, '\'');
        for(k=0; k<nz; k++){
          if( z[k]<0x20 || z[k]>=0x7f ) sqlite3_str_appendf(pOut, "\\x%02x", z[k]);
          else sqlite3_str_appendchar(pOut, 1, (char)z[k]);
        }
        sqlite3_str_appendchar(pOut, 1, '\'');
        break;
      }
      case SQLITE_BLOB: {
        const unsigned char *z = sqlite3_value_blob(v);
        int k, nz = sqlite3_value_bytes(v);
        sqlite3_str_appendall(pOut, "x'");
        for(k=0; k<nz; k++) sqlite3_str_appendf(pOut, "%02x", z[k]);
        sqlite3_str_appendchar(pOut, 1, '\'');
        break;
      }
      default:
        sqlite3_str_appendall(pOut, "NULL");
        break;
    }
  }
}

static int dfCmpStr(const void *a, const void *b){
  return strcmp(*(char*const*)a, *(char*const*)b);
}

/*
** Run zSql (one or more statements) on db and return a description of
** the outcome: the rows (sorted unless bOrdered), then "rc=N msg".
** Parameters ?1.. are bound from azParam (SQL literals evaluated first).
*/
static char *dfRun(sqlite3 *db, const char *zSql, int bOrdered){
  sqlite3_str *pOut = sqlite3_str_new(0);
  const char *zTail = zSql;
  int rc = SQLITE_OK;
  while( rc==SQLITE_OK && zTail && zTail[0] ){
    sqlite3_stmt *pStmt = 0;
    char **azRow = 0;
    int nRow = 0, nAlloc = 0, i;
    rc = sqlite3_prepare_v2(db, zTail, -1, &pStmt, &zTail);
    if( rc!=SQLITE_OK || pStmt==0 ) break;
    while( (rc = sqlite3_step(pStmt))==SQLITE_ROW ){
      sqlite3_str *pRow = sqlite3_str_new(0);
      dfRenderRow(pStmt, pRow);
      if( nRow==nAlloc ){
        nAlloc = nAlloc ? 2*nAlloc : 16;
        azRow = realloc(azRow, sizeof(char*)*(size_t)nAlloc);
        assert_non_null(azRow);
      }
      azRow[nRow++] = sqlite3_str_finish(pRow);
    }
    if( rc==SQLITE_DONE ) rc = SQLITE_OK;
    if( !bOrdered && nRow>1 ) qsort(azRow, (size_t)nRow, sizeof(char*), dfCmpStr);
    for(i=0; i<nRow; i++){
      sqlite3_str_appendf(pOut, "%s\n", azRow[i]);
      sqlite3_free(azRow[i]);
    }
    free(azRow);
    sqlite3_finalize(pStmt);
    sqlite3_str_appendf(pOut, "changes=%d\n", sqlite3_changes(db));
  }
  if( rc!=SQLITE_OK ){
    sqlite3_str_appendf(pOut, "rc=%d %s\n", sqlite3_extended_errcode(db),
                        sqlite3_errmsg(db));
  }
  sqlite3_str_appendf(pOut, "autocommit=%d\n", sqlite3_get_autocommit(db));
  return sqlite3_str_finish(pOut);
}

/* Run zSql on both connections (the second ones with bSecond); fail the
** test on any difference.  A checkpoint (bCheck) is remembered, to be
** shown with a difference. */
static void dfBothOn(DiffCtx *p, int bSecond, const char *zSql, int bOrdered,
                     int bCheck){
  char *zL, *zN;
  p->iStmt++;
  if( p->bVerbose ){
    printf("[%u/%d]%s %s\n", p->iSeed, p->iStmt, bSecond ? " (second)" : "", zSql);
  }
  zL = dfRun(bSecond ? p->dbL2 : p->dbL, zSql, bOrdered);
  zN = dfRun(bSecond ? p->dbN2 : p->dbN, zSql, bOrdered);
  if( strcmp(zL, zN)!=0 ){
    fprintf(stderr, "DIFFERENCE seed %u statement %d:\n  %s\n"
            "--- lsm table:\n%s--- native table:\n%s"
            "--- the table at the last checkpoint:\n%s", p->iSeed, p->iStmt,
            zSql, zL, zN, p->zLastCheck ? p->zLastCheck : "");
  }
  assert_string_equal(zL, zN);
  if( bCheck ){
    sqlite3_free(p->zLastCheck);
    p->zLastCheck = zL;
  }else{
    sqlite3_free(zL);
  }
  sqlite3_free(zN);
}

static void dfBoth(DiffCtx *p, const char *zSql, int bOrdered, int bCheck){
  dfBothOn(p, 0, zSql, bOrdered, bCheck);
}

/*------------------------------------------------------- the generator --*/

/*
** A condition on the key (or sometimes on another column).  Without bOr
** no OR: SQLite may then scan the union of two plans, and an UPDATE of
** keys of a virtual table visits rows in scan order, not key order (see
** the README's differences).
*/
static void dfKeyCond(DiffCtx *p, sqlite3_str *s, const char *zT, int bOr){
  const char *zKey = p->azCol[0];
  static const char *aCmp[] = { "<", "<=", ">", ">=" };
  int eCase = dfInt(16);
  if( !bOr && eCase==13 ) eCase = 14;
  switch( eCase ){
    case 0: case 1:
      sqlite3_str_appendf(s, "%s%s = %s", zT, zKey, dfKeyLiteral());
      break;
    case 2:
      sqlite3_str_appendf(s, "%s%s IS %s", zT, zKey, dfKeyLiteral());
      break;
    case 3: {
      int n = dfInt(5), i;
      sqlite3_str_appendf(s, "%s%s IN (", zT, zKey);
      for(i=0; i<n; i++) sqlite3_str_appendf(s, "%s%s", i ? ", " : "", dfKeyLiteral());
      sqlite3_str_appendall(s, ")");
      break;
    }
    case 4:
      sqlite3_str_appendf(s, "%s%s IN (SELECT x FROM A WHERE y %s %s)", zT, zKey,
                          aCmp[dfInt(4)], dfKeyLiteral());
      break;
    case 5: case 6:
      sqlite3_str_appendf(s, "%s%s %s %s", zT, zKey, aCmp[dfInt(4)], dfKeyLiteral());
      break;
    case 7: case 8:
      sqlite3_str_appendf(s, "%s%s %s %s AND %s %s %s%s", zT, zKey, aCmp[dfInt(4)],
                          dfKeyLiteral(), dfKeyLiteral(), aCmp[dfInt(4)], zT, zKey);
      break;
    case 9:
      sqlite3_str_appendf(s, "%s%s BETWEEN %s AND %s", zT, zKey, dfKeyLiteral(),
                          dfKeyLiteral());
      break;
    case 10:
      sqlite3_str_appendf(s, "%s%s LIKE %s", zT, zKey,
          dfLikePatterns[dfInt((int)(sizeof(dfLikePatterns)/sizeof(char*)))]);
      break;
    case 11:
      sqlite3_str_appendf(s, "%s%s GLOB %s", zT, zKey,
          dfGlobPatterns[dfInt((int)(sizeof(dfGlobPatterns)/sizeof(char*)))]);
      break;
    case 12:
      sqlite3_str_appendf(s, "+%s%s %s %s", zT, zKey, aCmp[dfInt(4)], dfKeyLiteral());
      break;
    case 13:
      sqlite3_str_appendf(s, "(%s%s = %s OR %s%s %s %s)", zT, zKey, dfKeyLiteral(),
                          zT, zKey, aCmp[dfInt(4)], dfKeyLiteral());
      break;
    case 14:
      sqlite3_str_appendf(s, "%s%s > %s AND %s%s < %s AND %s%s <> %s", zT, zKey,
                          dfKeyLiteral(), zT, zKey, dfKeyLiteral(), zT, zKey,
                          dfKeyLiteral());
      break;
    default:
      if( p->nCol>1 ){
        sqlite3_str_appendf(s, "%s%s %s %s", zT, p->azCol[1 + dfInt(p->nCol-1)],
                            aCmp[dfInt(4)], dfLiteral());
      }else{
        sqlite3_str_appendf(s, "%s%s NOT NULL", zT, zKey);
      }
      break;
  }
}

static const char *dfConflict(void){
  static const char *a[] = { "", "", "OR ABORT ", "OR FAIL ", "OR IGNORE ",
                             "OR REPLACE ", "OR ROLLBACK " };
  return a[dfInt((int)(sizeof(a)/sizeof(a[0])))];
}

/* An expression for a value column. */
static void dfValueExpr(DiffCtx *p, sqlite3_str *s, int iCol){
  switch( dfInt(6) ){
    case 0: sqlite3_str_appendf(s, "%s || 'x'", p->azCol[iCol]); break;
    case 1: sqlite3_str_appendf(s, "%s", p->azCol[0]); break;
    case 2: sqlite3_str_appendf(s, "coalesce(%s, 0) + 1", p->azCol[iCol]); break;
    default: sqlite3_str_appendall(s, dfLiteral()); break;
  }
}

/* Generate and run one statement. */
static void dfStatement(DiffCtx *p){
  sqlite3_str *s = sqlite3_str_new(0);
  const char *zKey = p->azCol[0];
  int bOrdered = 0;
  int i, k;
  char *zSql;
  int eKind = dfInt(100);

  if( eKind<22 ){
    /* INSERT VALUES, one or more rows */
    int nRow = 1 + (dfChance(30) ? dfInt(4) : 0);
    const char *zConflict = dfConflict();
    sqlite3_str_appendf(s, "INSERT %sINTO T VALUES", zConflict);
    for(i=0; i<nRow; i++){
      sqlite3_str_appendf(s, "%s(%s", i ? ", " : "", dfKeyLiteral());
      for(k=1; k<p->nCol; k++) sqlite3_str_appendf(s, ", %s", dfLiteral());
      sqlite3_str_appendall(s, ")");
    }
    /* SQLite returns the rows that OR IGNORE skips in a virtual table
    ** (README, "Differences"), so RETURNING goes without it */
    if( strcmp(zConflict, "OR IGNORE ")!=0 && dfChance(10) ){
      sqlite3_str_appendf(s, " RETURNING %s", zKey);
    }
  }else if( eKind<27 ){
    /* INSERT ... SELECT from A or from T itself */
    sqlite3_str_appendf(s, "INSERT %sINTO T SELECT ", dfConflict());
    if( dfChance(50) ){
      sqlite3_str_appendall(s, "x");
      for(k=1; k<p->nCol; k++) sqlite3_str_appendall(s, ", y");
      sqlite3_str_appendall(s, " FROM A WHERE ");
      sqlite3_str_appendf(s, "x %s %s", dfChance(50) ? "<" : ">=", dfKeyLiteral());
    }else{
      sqlite3_str_appendf(s, "%s + %d", zKey, 1 + dfInt(3));
      for(k=1; k<p->nCol; k++) sqlite3_str_appendf(s, ", %s", p->azCol[k]);
      sqlite3_str_appendall(s, " FROM T WHERE ");
      dfKeyCond(p, s, "", 1);
    }
  }else if( eKind<40 ){
    /* UPDATE values or keys */
    int bKeys = !(p->nCol>1 && dfChance(55));
    const char *zConflict = dfConflict();
    sqlite3_str_appendf(s, "UPDATE %sT SET ", zConflict);
    if( !bKeys ){
      int iCol = 1 + dfInt(p->nCol-1);
      sqlite3_str_appendf(s, "%s = ", p->azCol[iCol]);
      dfValueExpr(p, s, iCol);
    }else{
      static const char *aKeyExpr[] = {
        "%s + 1", "%s - 1", "-%s", "%s || 'k'", "NULL", "%s * 2", "'a'", "1", "%s + 0.5"
      };
      const char *zFmt = aKeyExpr[dfInt((int)(sizeof(aKeyExpr)/sizeof(char*)))];
      sqlite3_str_appendf(s, "%s = ", zKey);
      sqlite3_str_appendf(s, zFmt, zKey);
      if( p->nCol>1 && dfChance(30) ){
        sqlite3_str_appendf(s, ", %s = ", p->azCol[1]);
        dfValueExpr(p, s, 1);
      }
    }
    sqlite3_str_appendall(s, " WHERE ");
    if( bKeys && strcmp(zConflict, "OR REPLACE ")==0 ){
      /* A multi-row UPDATE OR REPLACE of keys of a native table re-reads
      ** rows that an earlier row replaced; a virtual table's does not
      ** (README, "Differences").  One row at a time is the same. */
      sqlite3_str_appendf(s, "%s = %s", zKey, dfKeyLiteral());
    }else{
      dfKeyCond(p, s, "", !bKeys);
    }
  }else if( eKind<48 ){
    /* DELETE */
    sqlite3_str_appendall(s, "DELETE FROM T");
    if( dfChance(95) ){
      sqlite3_str_appendall(s, " WHERE ");
      dfKeyCond(p, s, "", 1);
    }
  }else if( eKind<70 ){
    /* SELECT with ORDER BY and LIMIT */
    sqlite3_str_appendall(s, "SELECT * FROM T");
    if( dfChance(85) ){
      sqlite3_str_appendall(s, " WHERE ");
      dfKeyCond(p, s, "", 1);
      if( dfChance(20) ){
        sqlite3_str_appendall(s, " AND ");
        dfKeyCond(p, s, "", 1);
      }
    }
    if( dfChance(70) ){
      bOrdered = 1;
      sqlite3_str_appendf(s, " ORDER BY %s%s", zKey, dfChance(50) ? " DESC" : "");
      if( dfChance(40) ){
        sqlite3_str_appendf(s, " LIMIT %d", dfInt(6));
        if( dfChance(50) ) sqlite3_str_appendf(s, " OFFSET %d", dfInt(4));
      }
    }
  }else if( eKind<76 ){
    /* aggregates */
    static const char *aAgg[] = {
      "count(*)", "min(%s)", "max(%s)", "count(%s)", "typeof(max(%s))",
      "group_concat(quote(%s), ',')"
    };
    const char *zFmt = aAgg[dfInt((int)(sizeof(aAgg)/sizeof(char*)))];
    sqlite3_str_appendall(s, "SELECT ");
    sqlite3_str_appendf(s, zFmt, p->azCol[dfInt(p->nCol)]);
    sqlite3_str_appendall(s, " FROM T");
    if( dfChance(60) ){
      sqlite3_str_appendall(s, " WHERE ");
      dfKeyCond(p, s, "", 1);
    }
  }else if( eKind<82 ){
    /* joins: self join and join with A */
    if( dfChance(50) ){
      const char *zOther = p->nCol>1 ? p->azCol[1] : zKey;
      sqlite3_str_appendf(s, "SELECT t1.%s, t2.%s FROM T t1 JOIN T t2 ON t2.%s = t1.%s",
                          zKey, zKey, zKey, dfChance(50) ? zOther : zKey);
      if( dfChance(50) ){
        sqlite3_str_appendall(s, " WHERE ");
        dfKeyCond(p, s, "t1.", 1);
      }
    }else{
      /* A is untyped, B typed: the key compares with columns of every
      ** affinity */
      const char *zOther = dfChance(50) ? "A.x" : dfChance(50) ? "B.i" : "B.t";
      sqlite3_str_appendf(s, "SELECT %s, T.%s FROM %s JOIN T ON T.%s %s %s",
                          zOther, zKey, zOther[0]=='A' ? "A" : "B", zKey,
                          dfChance(70) ? "=" : "<", zOther);
      if( dfChance(50) ){
        sqlite3_str_appendall(s, " WHERE ");
        dfKeyCond(p, s, "T.", 1);
      }
    }
  }else if( eKind<86 ){
    /* subqueries */
    switch( dfInt(3) ){
      case 0:
        sqlite3_str_appendf(s, "SELECT x, (SELECT count(*) FROM T WHERE %s <= A.x) FROM A",
                            zKey);
        break;
      case 1:
        sqlite3_str_appendf(s, "SELECT * FROM A WHERE EXISTS (SELECT 1 FROM T WHERE %s = A.y)",
                            zKey);
        break;
      default:
        sqlite3_str_appendf(s, "SELECT %s FROM T WHERE %s IN (SELECT %s FROM T WHERE ",
                            zKey, zKey, zKey);
        dfKeyCond(p, s, "", 1);
        sqlite3_str_appendall(s, ")");
        break;
    }
  }else{
    /* transactions and savepoints */
    int r = dfInt(10);
    if( r<2 ){
      sqlite3_str_appendall(s, "BEGIN");
    }else if( r<4 ){
      sqlite3_str_appendall(s, "COMMIT");
    }else if( r<5 ){
      sqlite3_str_appendall(s, "ROLLBACK");
    }else if( r<7 ){
      sqlite3_str_appendf(s, "SAVEPOINT s%d", dfInt(3));
    }else if( r<8 ){
      sqlite3_str_appendf(s, "RELEASE s%d", dfInt(3));
    }else{
      sqlite3_str_appendf(s, "ROLLBACK TO s%d", dfInt(3));
    }
  }
  zSql = sqlite3_str_finish(s);
  dfBoth(p, zSql, bOrdered, 0);
  sqlite3_free(zSql);
}

/* A read on the second connections: the whole table, or a range. */
static void dfSecondRead(DiffCtx *p){
  sqlite3_str *s = sqlite3_str_new(0);
  char *zSql;
  sqlite3_str_appendall(s, "SELECT * FROM T");
  if( dfChance(50) ){
    sqlite3_str_appendall(s, " WHERE ");
    dfKeyCond(p, s, "", 1);
  }
  sqlite3_str_appendf(s, " ORDER BY %s%s", p->azCol[0], dfChance(30) ? " DESC" : "");
  zSql = sqlite3_str_finish(s);
  dfBothOn(p, 1, zSql, 1, 0);
  sqlite3_free(zSql);
}

/*------------------------------------------------------------- the runs --*/

/* Declarations tried, by seed: key type, value columns. */
static const struct DfDecl {
  const char *zLsmCols;       /* column list for lsm(...) ("" = default) */
  const char *zNativeCols;    /* the same for CREATE TABLE */
  int nCol;
  const char *azCol[4];
} dfDecls[] = {
  { "", "key PRIMARY KEY, value", 2, {"key", "value"} },
  { ", k TEXT, v", "k TEXT PRIMARY KEY, v", 2, {"k", "v"} },
  { ", id INTEGER, name TEXT, score REAL", "id INTEGER PRIMARY KEY, name TEXT, score REAL",
    3, {"id", "name", "score"} },
  { ", k REAL, v NUMERIC", "k REAL PRIMARY KEY, v NUMERIC", 2, {"k", "v"} },
  { ", k NUMERIC, a INT, b BLOB", "k NUMERIC PRIMARY KEY, a INT, b BLOB", 3, {"k", "a", "b"} },
  { ", k", "k PRIMARY KEY", 1, {"k"} },
  { ", key BLOB, value TEXT", "key BLOB PRIMARY KEY, value TEXT", 2, {"key", "value"} },
  { ", key VARCHAR(10), value", "key VARCHAR(10) PRIMARY KEY, value", 2, {"key", "value"} },
};

static int dfTotal(void){
  const char *z = getenv("LSMVTAB_DIFF_STATEMENTS");
  int n = z ? atoi(z) : 0;
  return n>0 ? n : DIFF_DEFAULT_TOTAL;
}

static void dfOpen(DiffCtx *p, const char *zName, sqlite3 **pDb, int bLsm){
  char *zPath = sqlite3_mprintf("%s/%s.db", p->zDir, zName);
  char *zErr = 0;
  int rc;
  assert_int_equal(sqlite3_open(zPath, pDb), SQLITE_OK);
  sqlite3_free(zPath);
  /* a cache that never spills, so that a writer never needs the
  ** EXCLUSIVE lock before its commit and the second connection can read */
  sqltestExec(*pDb, "PRAGMA synchronous=OFF; PRAGMA journal_mode=MEMORY;"
               "PRAGMA cache_size=-65536;");
  if( bLsm ){
    sqlite3_enable_load_extension(*pDb, 1);
    rc = sqlite3_load_extension(*pDb, dfExtPath(), 0, &zErr);
    if( rc!=SQLITE_OK ) fprintf(stderr, "loading %s: %s\n", dfExtPath(), zErr);
    assert_int_equal(rc, SQLITE_OK);
  }
}

static void dfRunSeed(unsigned iSeed, int nStmt){
  DiffCtx ctx;
  const struct DfDecl *pDecl = &dfDecls[iSeed % (sizeof(dfDecls)/sizeof(dfDecls[0]))];
  char *zSql;
  int i, nCheck;

  memset(&ctx, 0, sizeof(ctx));
  ctx.iSeed = iSeed;
  ctx.bVerbose = getenv("LSMVTAB_DIFF_VERBOSE")!=0;
  ctx.zDir = sqlite3_mprintf("/tmp/lsmtest-diff-%d-%u", (int)getpid(), iSeed);
  zSql = sqlite3_mprintf("rm -rf '%s' && mkdir -p '%s'", ctx.zDir, ctx.zDir);
  assert_int_equal(system(zSql), 0);
  sqlite3_free(zSql);
  ctx.nCol = pDecl->nCol;
  for(i=0; i<pDecl->nCol; i++) ctx.azCol[i] = pDecl->azCol[i];
  dfSeed = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)iSeed * 0x100000001B3ULL);

  dfOpen(&ctx, "lsm", &ctx.dbL, 1);
  dfOpen(&ctx, "native", &ctx.dbN, 0);
  zSql = sqlite3_mprintf("CREATE VIRTUAL TABLE T USING lsm(data, sync=off%s)",
                         pDecl->zLsmCols);
  sqltestExec(ctx.dbL, zSql);
  sqlite3_free(zSql);
  zSql = sqlite3_mprintf("CREATE TABLE T(%s) WITHOUT ROWID", pDecl->zNativeCols);
  sqltestExec(ctx.dbN, zSql);
  sqlite3_free(zSql);
  sqltestExec(ctx.dbL, "CREATE TABLE A(x, y); CREATE TABLE B(i INTEGER, t TEXT)");
  sqltestExec(ctx.dbN, "CREATE TABLE A(x, y); CREATE TABLE B(i INTEGER, t TEXT)");
  for(i=0; i<20; i++){
    const char *zX = dfKeyLiteral(), *zY = dfKeyLiteral();
    zSql = sqlite3_mprintf("INSERT INTO A VALUES(%s, %s); INSERT INTO B VALUES(%s, %s)",
                           zX, zY, zX, zY);
    sqltestExec(ctx.dbL, zSql);
    sqltestExec(ctx.dbN, zSql);
    sqlite3_free(zSql);
  }

  nCheck = getenv("LSMVTAB_DIFF_CHECK") ? atoi(getenv("LSMVTAB_DIFF_CHECK")) : 50;
  if( nCheck<1 ) nCheck = 50;
  dfOpen(&ctx, "lsm", &ctx.dbL2, 1);
  dfOpen(&ctx, "native", &ctx.dbN2, 0);
  for(i=0; i<nStmt; i++){
    if( dfChance(4) ){
      dfSecondRead(&ctx);
    }else{
      dfStatement(&ctx);
    }
    if( i%nCheck==nCheck-1 || i==nStmt-1 ){
      zSql = sqlite3_mprintf("SELECT * FROM T ORDER BY %s", ctx.azCol[0]);
      dfBoth(&ctx, zSql, 1, 1);
      sqlite3_free(zSql);
    }
  }
  /* the table survives a reopen: commit, close, open again, compare */
  sqlite3_exec(ctx.dbL, "COMMIT", 0, 0, 0);
  sqlite3_exec(ctx.dbN, "COMMIT", 0, 0, 0);
  zSql = sqlite3_mprintf("SELECT * FROM T ORDER BY %s", ctx.azCol[0]);
  dfBothOn(&ctx, 1, zSql, 1, 0);
  sqlite3_free(zSql);
  assert_int_equal(sqlite3_close(ctx.dbL2), SQLITE_OK);
  assert_int_equal(sqlite3_close(ctx.dbN2), SQLITE_OK);
  assert_int_equal(sqlite3_close(ctx.dbL), SQLITE_OK);
  assert_int_equal(sqlite3_close(ctx.dbN), SQLITE_OK);
  dfOpen(&ctx, "lsm", &ctx.dbL, 1);
  dfOpen(&ctx, "native", &ctx.dbN, 0);
  zSql = sqlite3_mprintf("SELECT * FROM T ORDER BY %s", ctx.azCol[0]);
  dfBoth(&ctx, zSql, 1, 1);
  sqlite3_free(zSql);
  sqltestExec(ctx.dbL, "DROP TABLE T");

  assert_int_equal(sqlite3_close(ctx.dbL), SQLITE_OK);
  assert_int_equal(sqlite3_close(ctx.dbN), SQLITE_OK);
  zSql = sqlite3_mprintf("rm -rf '%s'", ctx.zDir);
  assert_int_equal(system(zSql), 0);
  sqlite3_free(zSql);
  sqlite3_free(ctx.zDir);
  sqlite3_free(ctx.zLastCheck);
}

static void test_seed(void **state){
  unsigned iSeed = (unsigned)(uintptr_t)*state;
  dfRunSeed(iSeed, dfTotal()/DIFF_NSEED);
}

static int setupSeed(void **state){
  static unsigned iNext = 1;
  *state = (void*)(uintptr_t)iNext++;
  return 0;
}

/* A failed seed leaves its directory: remove it here. */
static int teardownSeed(void **state){
  char *zCmd = sqlite3_mprintf("rm -rf /tmp/lsmtest-diff-%d-%u", (int)getpid(),
                               (unsigned)(uintptr_t)*state);
  int rc = system(zCmd);
  sqlite3_free(zCmd);
  return rc==0 ? 0 : -1;
}

int main(void){
  const char *zOne = getenv("LSMVTAB_DIFF_SEED");
  if( zOne ){
    dfRunSeed((unsigned)atoi(zOne), dfTotal());
    dfFreeWrapped();
    printf("[  PASSED  ] 1 test(s).\n");
    return 0;
  }
  {
    const struct CMUnitTest tests[DIFF_NSEED] = {
      cmocka_unit_test_setup_teardown(test_seed, setupSeed, teardownSeed),
      cmocka_unit_test_setup_teardown(test_seed, setupSeed, teardownSeed),
      cmocka_unit_test_setup_teardown(test_seed, setupSeed, teardownSeed),
      cmocka_unit_test_setup_teardown(test_seed, setupSeed, teardownSeed),
      cmocka_unit_test_setup_teardown(test_seed, setupSeed, teardownSeed),
      cmocka_unit_test_setup_teardown(test_seed, setupSeed, teardownSeed),
      cmocka_unit_test_setup_teardown(test_seed, setupSeed, teardownSeed),
      cmocka_unit_test_setup_teardown(test_seed, setupSeed, teardownSeed),
    };
    int nFail = cmocka_run_group_tests(tests, 0, 0);
    dfFreeWrapped();
    return nFail;
  }
}
