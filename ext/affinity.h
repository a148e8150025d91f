/*
** affinity.h -- SQLite column affinity, applied by the lsm virtual table.
**
** SQLite applies no column affinity to the values it passes to a virtual
** table, so the table applies it itself: to every column value written by
** xUpdate, and to every key value used in a constraint it consumes, with
** the same rules a native table of the same declaration follows.
*/
#ifndef LSMV_AFFINITY_H
#define LSMV_AFFINITY_H

#include <sqlite3ext.h>
#include "keycodec.h"

/* Affinity codes (SQLite's own letters, in SQLite's order). */
#define LSMV_AFF_BLOB     'A'
#define LSMV_AFF_TEXT     'B'
#define LSMV_AFF_NUMERIC  'C'
#define LSMV_AFF_INTEGER  'D'
#define LSMV_AFF_REAL     'E'

/*
** The affinity of a column declared with type zType (NULL or "" for no
** type), by the rules of section 3.1 of SQLite's datatype documentation.
*/
char lsmvAffinityOfType(const char *zType);

/*
** Apply affinity aff to pIn and store the result in *pOut.  A conversion
** may need a private copy of the value; it is returned in *ppTmp (else
** *ppTmp is NULL), *pOut may point into it, and the caller frees it with
** sqlite3_value_free once done with *pOut.  SQLITE_OK or SQLITE_NOMEM.
*/
int lsmvAffinityApply(char aff, sqlite3_value *pIn, LsmvValue *pOut,
                      sqlite3_value **ppTmp);

#endif /* LSMV_AFFINITY_H */
