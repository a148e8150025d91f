/*
** affinity.c -- column affinity for the lsm virtual table.
**
** The conversions reuse SQLite where SQLite exposes them, so that text
** rendering of reals and the grammar of numeric text follow the running
** library exactly:
**
**   TEXT     INTEGER and REAL become their text (sqlite3_value_text).
**   NUMERIC, INTEGER
**            TEXT that looks like a number becomes INTEGER or REAL
**            (sqlite3_value_numeric_type); a REAL that is an integer in
**            the open range (INT64_MIN, INT64_MAX) becomes INTEGER.
**   REAL     as NUMERIC, then an INTEGER becomes REAL.
**   BLOB     nothing.
**
** BLOB values never change, and NULL stays NULL.
*/
#include <string.h>
#include "affinity.h"

SQLITE_EXTENSION_INIT3

/* Case-insensitive "zType contains zPart". */
static int affContains(const char *zType, const char *zPart){
  size_t nPart = strlen(zPart);
  for(; *zType; zType++){
    if( sqlite3_strnicmp(zType, zPart, (int)nPart)==0 ) return 1;
  }
  return 0;
}

char lsmvAffinityOfType(const char *zType){
  if( zType==0 || zType[0]==0 ) return LSMV_AFF_BLOB;
  if( affContains(zType, "INT") ) return LSMV_AFF_INTEGER;
  if( affContains(zType, "CHAR") || affContains(zType, "CLOB")
   || affContains(zType, "TEXT") ){
    return LSMV_AFF_TEXT;
  }
  if( affContains(zType, "BLOB") ) return LSMV_AFF_BLOB;
  if( affContains(zType, "REAL") || affContains(zType, "FLOA")
   || affContains(zType, "DOUB") ){
    return LSMV_AFF_REAL;
  }
  return LSMV_AFF_NUMERIC;
}

/*
** SQLite's rule for storing a REAL under numeric affinity: it becomes an
** INTEGER if converting to int64 and back gives the same value and the
** integer is neither INT64_MIN nor INT64_MAX.  Modifies *pVal in place.
*/
static void affRealToInteger(LsmvValue *pVal){
  double r = pVal->rVal;
  sqlite3_int64 ix;
  if( r<=-9223372036854775808.0 ){
    ix = INT64_MIN;
  }else if( r>=9223372036854775808.0 ){
    ix = INT64_MAX;
  }else if( r==r ){
    ix = (sqlite3_int64)r;
  }else{
    return;                                /* NaN: never stored anyway */
  }
  if( r==(double)ix && ix>INT64_MIN && ix<INT64_MAX ){
    pVal->eType = SQLITE_INTEGER;
    pVal->iVal = ix;
  }
}

int lsmvAffinityApply(char aff, sqlite3_value *pIn, LsmvValue *pOut,
                      sqlite3_value **ppTmp){
  int rc;
  *ppTmp = 0;
  rc = lsmvValueFromSqlite(pIn, pOut);
  if( rc!=SQLITE_OK || aff==LSMV_AFF_BLOB ) return rc;

  if( aff==LSMV_AFF_TEXT ){
    if( pOut->eType==SQLITE_INTEGER || pOut->eType==SQLITE_FLOAT ){
      sqlite3_value *pTmp = sqlite3_value_dup(pIn);
      const unsigned char *z = pTmp ? sqlite3_value_text(pTmp) : 0;
      if( z==0 ){
        sqlite3_value_free(pTmp);
        return SQLITE_NOMEM;
      }
      pOut->eType = SQLITE_TEXT;
      pOut->z = z;
      pOut->n = (size_t)sqlite3_value_bytes(pTmp);
      *ppTmp = pTmp;
    }
    return SQLITE_OK;
  }

  /* NUMERIC, INTEGER or REAL */
  if( pOut->eType==SQLITE_TEXT ){
    sqlite3_value *pTmp = sqlite3_value_dup(pIn);
    if( pTmp==0 ) return SQLITE_NOMEM;
    switch( sqlite3_value_numeric_type(pTmp) ){
      case SQLITE_INTEGER:
        pOut->eType = SQLITE_INTEGER;
        pOut->iVal = sqlite3_value_int64(pTmp);
        break;
      case SQLITE_FLOAT:
        pOut->eType = SQLITE_FLOAT;
        pOut->rVal = sqlite3_value_double(pTmp);
        break;
      default:
        break;                  /* not a number: stays the original text */
    }
    sqlite3_value_free(pTmp);
  }
  if( pOut->eType==SQLITE_FLOAT ) affRealToInteger(pOut);
  if( aff==LSMV_AFF_REAL && pOut->eType==SQLITE_INTEGER ){
    pOut->eType = SQLITE_FLOAT;
    pOut->rVal = (double)pOut->iVal;
  }
  return SQLITE_OK;
}
