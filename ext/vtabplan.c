/*
** vtabplan.c -- query planning for the lsm virtual table.
**
** xBestIndex looks at the constraints on the key column (column 0) and
** picks one of two kinds of plan:
**
**   point    key = v, key IS v, or key IN (...) taken all at once with
**            sqlite3_vtab_in; one engine lookup per value.
**   range    every usable >, >=, <, <= (any combination, in any order,
**            BETWEEN included) plus prefix LIKE / GLOB; one bounded
**            iterator per range.
**
** It records in idxStr which constraint each xFilter argument carries
** and how its value compares (two characters each) and in idxNum the scan
** direction; xBestIndex keeps no other state, as it runs several times
** per statement.  ORDER BY key [DESC] is consumed by scanning forward or
** backward (the key is unique, so later ORDER BY terms do not matter).
** Columns need no planning: xColumn decodes only what SQLite asks for,
** so a key-only query never decodes values.
**
** Semantics.  SQLite hands a virtual table the raw right-hand value of a
** comparison; how the key compares with it depends on affinities the
** table cannot see.  A native table converts the value to the key
** column's affinity if it is a literal or a parameter, converts nothing
** if it is a column of TEXT or BLOB affinity, and converts both sides to
** numbers if it is a column of numeric affinity.  So:
**
**   - with a numeric key column every case converts the value to a
**     number: it gets the key's affinity and the constraint is consumed;
**   - with a TEXT or untyped key column, a value SQLite reports as known
**     (sqlite3_vtab_rhs_value: a literal) gets the key's affinity and is
**     consumed; an IN list arrives converted already and is scanned as
**     is; any other value may compare in each of the three ways, so the
**     scan covers the union of them -- the value as is, as text, as a
**     number, and every TEXT key that could read as a number (starting
**     with a space, a sign, a dot or a digit) -- and SQLite, not told to
**     omit the constraint, keeps exactly the rows that match.
**
** Comparisons with a collation other than BINARY are left to SQLite.
** LIKE and GLOB are never consumed: they only narrow the scan to a
** superset of the matching keys, and SQLite applies the real function to
** what we return.  The superset of a prefix p covers TEXT starting with p
** (for LIKE, under ASCII case folding: from p in upper case to the end of
** p in lower case), BLOB starting with the same bytes, and, if p could
** begin the text of a number, all numbers.  A LIKE prefix stops at the
** first non-ASCII byte, where replacements of like() (ICU) may fold case
** differently.
**
** At xFilter each argument becomes a sorted list of disjoint key ranges
** and the lists are intersected, so that contradictory or empty bounds
** give no range at all and redundant ones collapse.  The first byte of
** an encoded key is its type tag, so "all TEXT keys starting with bytes
** in [x, y)" is itself one range.
*/
#include <math.h>
#include <string.h>
#include "vtabint.h"

SQLITE_EXTENSION_INIT3

/*--------------------------------------------------------------- planning --*/

/*
** Rows the table holds, from the engine's entry count (which counts
** overwritten versions too until compaction drops them).  A floor keeps
** the relative costs of plans sound for an empty table: a point lookup
** is always far cheaper than a range, a range cheaper than a scan.
*/
#define PLAN_MIN_ROWS   1000.0

static double planRows(LsmvTab *pTab){
  double n = pTab->pDb ? (double)lsm_approx_count(pTab->pDb) : 0.0;
  return n<PLAN_MIN_ROWS ? PLAN_MIN_ROWS : n;
}

/* True if constraint i compares with the BINARY collation. */
static int planIsBinary(sqlite3_index_info *pInfo, int i){
  const char *zColl = sqlite3_vtab_collation(pInfo, i);
  return zColl==0 || sqlite3_stricmp(zColl, "BINARY")==0;
}

/*
** How constraint i (=, IS or a range, not IN) compares, by the rules in
** the header comment: LSMV_CMP_AFF if consumed exactly, else
** LSMV_CMP_LOOSE.
*/
static char planCmpMode(LsmvTab *pTab, sqlite3_index_info *pInfo, int i){
  sqlite3_value *pVal = 0;
  if( pTab->pCfg->aAff[0]>=LSMV_AFF_NUMERIC ) return LSMV_CMP_AFF;
  if( sqlite3_vtab_rhs_value(pInfo, i, &pVal)==SQLITE_OK ) return LSMV_CMP_AFF;
  return LSMV_CMP_LOOSE;
}

int lsmvBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  LsmvTab *pTab = (LsmvTab*)pVtab;
  int bKeyNumeric = pTab->pCfg->aAff[0]>=LSMV_AFF_NUMERIC;
  double nRow = planRows(pTab);
  double nSeek = log2(nRow) + 1.0;       /* cost of positioning once */
  double rSel = 1.0;                     /* fraction of rows a range keeps */
  int iEq = -1, bEqIn = 0, bEqExact = 0;
  int nArg = 0;
  int bLo = 0, bHi = 0;
  char *zOps;
  int i;

  zOps = sqlite3_malloc64(2*(size_t)pInfo->nConstraint + 1);
  if( zOps==0 ) return SQLITE_NOMEM;

  /* A point plan: the first usable equality, preferring an exact "=",
  ** then IN, then any "=" */
  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *p = &pInfo->aConstraint[i];
    int bIn, bExact;
    if( !p->usable || p->iColumn!=0 ) continue;
    if( p->op!=SQLITE_INDEX_CONSTRAINT_EQ && p->op!=SQLITE_INDEX_CONSTRAINT_IS ){
      continue;
    }
    if( !planIsBinary(pInfo, i) ) continue;
    bIn = sqlite3_vtab_in(pInfo, i, -1);
    bExact = !bIn && planCmpMode(pTab, pInfo, i)==LSMV_CMP_AFF;
    if( iEq<0 || (bExact && !bEqExact) || (!bEqExact && bEqIn && !bIn) ){
      iEq = i;
      bEqIn = bIn;
      bEqExact = bExact;
    }
  }

  if( iEq>=0 ){
    pInfo->aConstraintUsage[iEq].argvIndex = ++nArg;
    if( bEqIn ){
      zOps[0] = LSMV_OP_IN;
      zOps[1] = bKeyNumeric ? LSMV_CMP_ASIS : LSMV_CMP_LOOSE;
      pInfo->aConstraintUsage[iEq].omit = (unsigned char)bKeyNumeric;
      sqlite3_vtab_in(pInfo, iEq, 1);
      pInfo->estimatedRows = 10;
      pInfo->estimatedCost = 10.0*nSeek;
    }else{
      zOps[0] = LSMV_OP_EQ;
      zOps[1] = bEqExact ? LSMV_CMP_AFF : LSMV_CMP_LOOSE;
      pInfo->aConstraintUsage[iEq].omit = (unsigned char)bEqExact;
      pInfo->estimatedRows = bEqExact ? 1 : 2;
      pInfo->estimatedCost = nSeek*(bEqExact ? 1.0 : 2.0);
      if( bEqExact ) pInfo->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
    }
  }else{
    for(i=0; i<pInfo->nConstraint; i++){
      const struct sqlite3_index_constraint *p = &pInfo->aConstraint[i];
      char cOp = 0, cCmp = LSMV_CMP_ASIS;
      if( !p->usable || p->iColumn!=0 ) continue;
      switch( p->op ){
        case SQLITE_INDEX_CONSTRAINT_GT: cOp = LSMV_OP_GT; break;
        case SQLITE_INDEX_CONSTRAINT_GE: cOp = LSMV_OP_GE; break;
        case SQLITE_INDEX_CONSTRAINT_LT: cOp = LSMV_OP_LT; break;
        case SQLITE_INDEX_CONSTRAINT_LE: cOp = LSMV_OP_LE; break;
        case SQLITE_INDEX_CONSTRAINT_LIKE: cOp = LSMV_OP_LIKE; break;
        case SQLITE_INDEX_CONSTRAINT_GLOB: cOp = LSMV_OP_GLOB; break;
      }
      if( cOp==0 ) continue;
      if( cOp==LSMV_OP_LIKE || cOp==LSMV_OP_GLOB ){
        rSel *= 0.05;
      }else{
        if( !planIsBinary(pInfo, i) ) continue;
        cCmp = planCmpMode(pTab, pInfo, i);
        pInfo->aConstraintUsage[i].omit = cCmp==LSMV_CMP_AFF;
        if( cOp==LSMV_OP_GT || cOp==LSMV_OP_GE ){
          if( !bLo ) rSel *= 0.25;
          bLo = 1;
        }else{
          if( !bHi ) rSel *= 0.25;
          bHi = 1;
        }
      }
      zOps[2*nArg] = cOp;
      zOps[2*nArg+1] = cCmp;
      pInfo->aConstraintUsage[i].argvIndex = ++nArg;
    }
    pInfo->estimatedRows = (sqlite3_int64)(nRow*rSel) + 1;
    pInfo->estimatedCost = (nArg ? nSeek : 0.0) + nRow*rSel;
  }
  zOps[2*nArg] = 0;
  pInfo->idxStr = zOps;
  pInfo->needToFreeIdxStr = 1;

  if( pInfo->nOrderBy>0 && pInfo->aOrderBy[0].iColumn==0 ){
    pInfo->orderByConsumed = 1;
    if( pInfo->aOrderBy[0].desc ) pInfo->idxNum |= LSMV_PLAN_DESC;
  }
  return SQLITE_OK;
}

/*----------------------------------------------------------------- ranges --*/

void lsmvRangeSetFree(LsmvRangeSet *p){
  sqlite3_free(p->a);
  lsmvBufFree(&p->arena);
  memset(p, 0, sizeof(*p));
}

/* Compare byte strings a[0..na-1] and b[0..nb-1], shorter first on a tie. */
static int planCmp(const unsigned char *a, size_t na,
                   const unsigned char *b, size_t nb){
  size_t n = na<nb ? na : nb;
  int c = n ? memcmp(a, b, n) : 0;     /* an empty key may be NULL */
  if( c==0 ) c = (na>nb) - (na<nb);
  return c;
}

/* Order of the lower bounds (no bound first) and upper bounds (no bound
** last) of two ranges in arena a. */
static int planCmpLo(const unsigned char *a, const LsmvRange *x,
                     const LsmvRange *y){
  return planCmp(&a[x->iLo], x->nLo, &a[y->iLo], y->nLo);
}
static int planCmpHi(const unsigned char *a, const LsmvRange *x,
                     const LsmvRange *y){
  if( x->bHiNone || y->bHiNone ) return x->bHiNone - y->bHiNone;
  return planCmp(&a[x->iHi], x->nHi, &a[y->iHi], y->nHi);
}

/* True if range r is empty (lo >= hi). */
static int planEmpty(const unsigned char *a, const LsmvRange *r){
  if( r->bHiNone ) return 0;
  return planCmp(&a[r->iLo], r->nLo, &a[r->iHi], r->nHi)>=0;
}

/* A growable array of ranges. */
typedef struct PlanList PlanList;
struct PlanList {
  LsmvRange *a;
  int n;
  int nAlloc;
};

/* Append a copy of *r.  SQLITE_OK or SQLITE_NOMEM. */
static int planListAdd(PlanList *p, const LsmvRange *r){
  if( p->n==p->nAlloc ){
    int nNew = p->nAlloc ? p->nAlloc*2 : 8;
    LsmvRange *aNew = sqlite3_realloc64(p->a, sizeof(LsmvRange)*(size_t)nNew);
    if( aNew==0 ) return SQLITE_NOMEM;
    p->a = aNew;
    p->nAlloc = nNew;
  }
  p->a[p->n++] = *r;
  return SQLITE_OK;
}

/* Append n bytes to the arena; *piOff gets their offset. */
static int planStore(LsmvBuf *pArena, const void *p, size_t n, size_t *piOff){
  *piOff = pArena->n;
  return lsmvBufAppend(pArena, p, n);
}

/*
** Intersect two sorted lists of disjoint ranges (bounds in arena) into
** pOut (emptied first).
*/
static int planIntersect(const LsmvBuf *pArena, const PlanList *pA,
                         const PlanList *pB, PlanList *pOut){
  int i = 0, j = 0, rc = SQLITE_OK;
  pOut->n = 0;
  while( rc==SQLITE_OK && i<pA->n && j<pB->n ){
    const LsmvRange *x = &pA->a[i], *y = &pB->a[j];
    LsmvRange r;
    int cHi = planCmpHi(pArena->a, x, y);
    const LsmvRange *pLo = planCmpLo(pArena->a, x, y)>=0 ? x : y;
    const LsmvRange *pHi = cHi<=0 ? x : y;
    memset(&r, 0, sizeof(r));
    r.iLo = pLo->iLo;
    r.nLo = pLo->nLo;
    r.iHi = pHi->iHi;
    r.nHi = pHi->nHi;
    r.bHiNone = pHi->bHiNone;
    if( !planEmpty(pArena->a, &r) ) rc = planListAdd(pOut, &r);
    if( cHi<=0 ) i++;
    if( cHi>=0 ) j++;
  }
  return rc;
}

/*
** Add the range of keys k with "k OP v" (cOp one of LSMV_OP_EQ, _GT,
** _GE, _LT, _LE) for the converted value *pVal.  A NULL value compares
** with nothing and adds nothing.
*/
static int planAddCompare(char cOp, const LsmvValue *pVal, LsmvBuf *pArena,
                          PlanList *pOut){
  static const unsigned char aZero[1] = {0};
  LsmvRange r;
  size_t iOff = pArena->n;
  unsigned flags;
  int rc = lsmvKeyEncode(pVal, pArena, &flags);
  if( rc==SQLITE_CONSTRAINT_NOTNULL ) return SQLITE_OK;
  /* the successor of the key (key + 0x00) lies next to it */
  if( rc==SQLITE_OK ) rc = lsmvBufAppend(pArena, aZero, 1);
  if( rc!=SQLITE_OK ) return rc;
  memset(&r, 0, sizeof(r));
  switch( cOp ){
    case LSMV_OP_EQ:
      r.iLo = r.iHi = iOff;
      r.nHi = pArena->n - iOff;
      r.nLo = r.nHi - 1;
      break;
    case LSMV_OP_GT:
    case LSMV_OP_GE:
      r.iLo = iOff;
      r.nLo = pArena->n - iOff - (cOp==LSMV_OP_GE);
      r.bHiNone = 1;
      break;
    default:
      r.iHi = iOff;
      r.nHi = pArena->n - iOff - (cOp==LSMV_OP_LT);
      break;
  }
  return planListAdd(pOut, &r);
}

/*
** Add the range of "k OP v" with value pIn given affinity aff first.
** *peType gets the type the value had after conversion.
*/
static int planAddConverted(char cOp, char aff, sqlite3_value *pIn,
                            LsmvBuf *pArena, PlanList *pOut, int *peType){
  LsmvValue v;
  sqlite3_value *pTmp = 0;
  int rc = lsmvAffinityApply(aff, pIn, &v, &pTmp);
  *peType = v.eType;
  if( rc==SQLITE_OK ) rc = planAddCompare(cOp, &v, pArena, pOut);
  sqlite3_value_free(pTmp);
  return rc;
}

/*
** Add the ranges of "k OP v" for value pIn compared in mode cCmp
** (LSMV_CMP_*) with a key column of affinity keyAff.
*/
static int planAddValue(char cOp, char cCmp, char keyAff, sqlite3_value *pIn,
                        LsmvBuf *pArena, PlanList *pOut){
  int eRaw = sqlite3_value_type(pIn);
  int eType, eNum;
  int rc;
  if( eRaw==SQLITE_NULL ) return SQLITE_OK;
  if( cCmp==LSMV_CMP_AFF ){
    /* A comparison converts text to a number but, unlike storage in a
    ** REAL column, never an integer to a real: 2^63-1 must not become
    ** 2^63.  Numeric affinity does that. */
    if( keyAff==LSMV_AFF_REAL ) keyAff = LSMV_AFF_NUMERIC;
    return planAddConverted(cOp, keyAff, pIn, pArena, pOut, &eType);
  }
  rc = planAddConverted(cOp, LSMV_AFF_BLOB, pIn, pArena, pOut, &eType);
  if( cCmp!=LSMV_CMP_LOOSE || rc!=SQLITE_OK ) return rc;

  /* The value as a literal would compare: with the key's affinity */
  if( keyAff==LSMV_AFF_TEXT && eRaw!=SQLITE_TEXT ){
    rc = planAddConverted(cOp, LSMV_AFF_TEXT, pIn, pArena, pOut, &eType);
  }
  /* Against a numeric column: the value as a number... */
  if( rc==SQLITE_OK && eRaw==SQLITE_TEXT ){
    rc = planAddConverted(cOp, LSMV_AFF_NUMERIC, pIn, pArena, pOut, &eNum);
  }else{
    eNum = eRaw;
  }
  /* ...and every TEXT key that could read as a number, unless it could
  ** not match: the value stays text, and keys read as numbers sort below
  ** every text, failing =, > and >= */
  if( rc==SQLITE_OK && eRaw!=SQLITE_BLOB
   && (eNum!=SQLITE_TEXT || cOp==LSMV_OP_LT || cOp==LSMV_OP_LE)
  ){
    static const unsigned char aNumText[4] = {
      LSMV_TAG_TEXT, 0x09, LSMV_TAG_TEXT, 0x3a    /* [\t, '9'] */
    };
    LsmvRange r;
    memset(&r, 0, sizeof(r));
    rc = planStore(pArena, aNumText, 4, &r.iLo);
    r.nLo = r.nHi = 2;
    r.iHi = r.iLo + 2;
    if( rc==SQLITE_OK ) rc = planListAdd(pOut, &r);
  }
  return rc;
}

/* Sort ranges by lower bound (merge sort, using aTmp as scratch). */
static void planSortRanges(const unsigned char *a, LsmvRange *aR,
                           LsmvRange *aTmp, int n){
  int nLeft = n/2, i = 0, j, k = 0;
  if( n<2 ) return;
  planSortRanges(a, aR, aTmp, nLeft);
  planSortRanges(a, &aR[nLeft], aTmp, n-nLeft);
  j = nLeft;
  while( i<nLeft || j<n ){
    if( j>=n || (i<nLeft && planCmpLo(a, &aR[i], &aR[j])<=0) ){
      aTmp[k++] = aR[i++];
    }else{
      aTmp[k++] = aR[j++];
    }
  }
  memcpy(aR, aTmp, sizeof(LsmvRange)*(size_t)n);
}

/* Make pList sorted and disjoint: sort, then merge ranges that overlap
** or touch. */
static int planNormalize(const LsmvBuf *pArena, PlanList *pList){
  LsmvRange *aTmp;
  int i, nOut = 0;
  if( pList->n<2 ) return SQLITE_OK;
  aTmp = sqlite3_malloc64(sizeof(LsmvRange)*(size_t)pList->n);
  if( aTmp==0 ) return SQLITE_NOMEM;
  planSortRanges(pArena->a, pList->a, aTmp, pList->n);
  sqlite3_free(aTmp);
  for(i=1; i<pList->n; i++){
    LsmvRange *pCur = &pList->a[nOut];
    const LsmvRange *pNext = &pList->a[i];
    if( pCur->bHiNone
     || planCmp(&pArena->a[pNext->iLo], pNext->nLo,
                &pArena->a[pCur->iHi], pCur->nHi)<=0
    ){
      if( planCmpHi(pArena->a, pNext, pCur)>0 ){
        pCur->iHi = pNext->iHi;
        pCur->nHi = pNext->nHi;
        pCur->bHiNone = pNext->bHiNone;
      }
    }else{
      pList->a[++nOut] = *pNext;
    }
  }
  pList->n = nOut+1;
  return SQLITE_OK;
}

/* The ranges of key IN (list): those of key = v for each value. */
static int planInList(char cCmp, char keyAff, sqlite3_value *pList,
                      LsmvBuf *pArena, PlanList *pOut){
  sqlite3_value *pVal = 0;
  int rc;
  for(rc=sqlite3_vtab_in_first(pList, &pVal);
      rc==SQLITE_OK && pVal;
      rc=sqlite3_vtab_in_next(pList, &pVal)
  ){
    rc = planAddValue(LSMV_OP_EQ, cCmp, keyAff, pVal, pArena, pOut);
    if( rc!=SQLITE_OK ) break;
  }
  return rc==SQLITE_DONE ? SQLITE_OK : rc;
}

/* Add the range of keys whose encoding starts with tag byte eTag and then
** the n bytes of zLo (lower bound) ... up to the end of that prefix with
** zHi instead (upper bound). */
static int planAddPrefix(LsmvBuf *pArena, int eTag, const char *zLo,
                         const char *zHi, size_t n, PlanList *pOut){
  unsigned char cTag = (unsigned char)eTag;
  LsmvRange r;
  size_t iHiPrefix;
  int bNone = 0;
  int rc;
  memset(&r, 0, sizeof(r));
  rc = planStore(pArena, &cTag, 1, &r.iLo);
  if( rc==SQLITE_OK ) rc = lsmvBufAppend(pArena, zLo, n);
  r.nLo = n+1;
  if( rc==SQLITE_OK ) rc = planStore(pArena, &cTag, 1, &iHiPrefix);
  if( rc==SQLITE_OK ) rc = lsmvBufAppend(pArena, zHi, n);
  if( rc==SQLITE_OK ){
    size_t nPrefix = n+1;
    r.iHi = pArena->n;
    rc = lsmvBufReserve(pArena, nPrefix);
    if( rc==SQLITE_OK ){
      rc = lsmvKeyPrefixEnd(&pArena->a[iHiPrefix], nPrefix, pArena, &bNone);
    }
    r.nHi = pArena->n - r.iHi;
    r.bHiNone = bNone;
  }
  if( rc==SQLITE_OK ) rc = planListAdd(pOut, &r);
  return rc;
}

/* The superset ranges of key LIKE pattern (bLike) or key GLOB pattern. */
static int planPattern(sqlite3_value *pPattern, int bLike, LsmvBuf *pArena,
                       PlanList *pOut){
  const char *z = (const char*)sqlite3_value_text(pPattern);
  char *zUpper, *zLower;
  size_t n = 0, i;
  LsmvRange r;
  int rc = SQLITE_OK;

  if( sqlite3_value_type(pPattern)==SQLITE_NULL ) return SQLITE_OK;  /* none */
  if( z==0 ) return SQLITE_NOMEM;
  while( z[n] ){
    unsigned char c = (unsigned char)z[n];
    if( bLike ? (c=='%' || c=='_' || c>=0x80) : (c=='*' || c=='?' || c=='[') ){
      break;
    }
    n++;
  }
  memset(&r, 0, sizeof(r));
  if( n==0 ){
    r.bHiNone = 1;                              /* no restriction */
    return planListAdd(pOut, &r);
  }
  if( (z[0]>='0' && z[0]<='9') || z[0]=='-' || z[0]=='I'
   || (bLike && z[0]=='i')
  ){
    /* could be the text of a number (digits, a sign, "Inf") */
    unsigned char aNum[2] = { LSMV_TAG_NUM_FIRST, LSMV_TAG_NUM_END };
    rc = planStore(pArena, aNum, 2, &r.iLo);
    r.nLo = r.nHi = 1;
    r.iHi = r.iLo+1;
    if( rc==SQLITE_OK ) rc = planListAdd(pOut, &r);
  }
  zUpper = sqlite3_malloc64(2*n);
  if( zUpper==0 ) return SQLITE_NOMEM;
  zLower = &zUpper[n];
  for(i=0; i<n; i++){
    char c = z[i];
    zUpper[i] = (bLike && c>='a' && c<='z') ? (char)(c - 'a' + 'A') : c;
    zLower[i] = (bLike && c>='A' && c<='Z') ? (char)(c - 'A' + 'a') : c;
  }
  if( rc==SQLITE_OK ) rc = planAddPrefix(pArena, LSMV_TAG_TEXT, zUpper, zLower, n, pOut);
  if( rc==SQLITE_OK ) rc = planAddPrefix(pArena, LSMV_TAG_BLOB, zUpper, zLower, n, pOut);
  sqlite3_free(zUpper);
  return rc;
}

/* The ranges allowed by one xFilter argument of kind cOp, compared in
** mode cCmp; pOut is left sorted and disjoint. */
static int planOneArg(LsmvTab *pTab, char cOp, char cCmp, sqlite3_value *pVal,
                      LsmvBuf *pArena, PlanList *pOut){
  char keyAff = pTab->pCfg->aAff[0];
  int rc;
  switch( cOp ){
    case LSMV_OP_IN:
      rc = planInList(cCmp, keyAff, pVal, pArena, pOut);
      break;
    case LSMV_OP_LIKE:
    case LSMV_OP_GLOB:
      rc = planPattern(pVal, cOp==LSMV_OP_LIKE, pArena, pOut);
      break;
    case LSMV_OP_EQ:
    case LSMV_OP_GT:
    case LSMV_OP_GE:
    case LSMV_OP_LT:
    case LSMV_OP_LE:
      rc = planAddValue(cOp, cCmp, keyAff, pVal, pArena, pOut);
      break;
    default:
      return SQLITE_ERROR;       /* an idxStr this module never writes */
  }
  if( rc==SQLITE_OK ) rc = planNormalize(pArena, pOut);
  return rc;
}

int lsmvPlanRanges(LsmvTab *pTab, const char *zOps, int argc,
                   sqlite3_value **argv, LsmvRangeSet *pOut){
  PlanList cur = {0, 0, 0}, arg = {0, 0, 0}, tmp = {0, 0, 0};
  LsmvRange all;
  int rc, i;

  pOut->n = 0;
  pOut->arena.n = 0;
  memset(&all, 0, sizeof(all));
  all.bHiNone = 1;
  rc = planListAdd(&cur, &all);
  for(i=0; rc==SQLITE_OK && i<argc && zOps && zOps[2*i] && zOps[2*i+1]; i++){
    arg.n = 0;
    rc = planOneArg(pTab, zOps[2*i], zOps[2*i+1], argv[i], &pOut->arena, &arg);
    if( rc==SQLITE_OK ) rc = planIntersect(&pOut->arena, &cur, &arg, &tmp);
    if( rc==SQLITE_OK ){
      PlanList t = cur;
      cur = tmp;
      tmp = t;
    }
  }
  if( rc==SQLITE_OK ){
    /* mark the ranges that hold exactly one key */
    for(i=0; i<cur.n; i++){
      LsmvRange *r = &cur.a[i];
      const unsigned char *a = pOut->arena.a;
      r->bPoint = !r->bHiNone && r->nLo>0 && r->nHi==r->nLo+1
               && a[r->iHi+r->nLo]==0
               && memcmp(&a[r->iLo], &a[r->iHi], r->nLo)==0;
    }
    sqlite3_free(pOut->a);
    pOut->a = cur.a;
    pOut->n = cur.n;
    pOut->nAlloc = cur.nAlloc;
    cur.a = 0;
  }else if( rc!=SQLITE_NOMEM ){
    lsmvTabError(pTab, rc, "bad query plan");
  }
  sqlite3_free(cur.a);
  sqlite3_free(arg.a);
  sqlite3_free(tmp.a);
  return rc;
}
