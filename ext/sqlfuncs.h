/*
** sqlfuncs.h -- SQL functions that inspect, steer, back up and follow
** lsm tables (sqlfuncs.c; README.md describes each one).
*/
#ifndef LSMV_SQLFUNCS_H
#define LSMV_SQLFUNCS_H

#include <sqlite3ext.h>

/*
** Register on connection db the scalar functions lsm_flush, lsm_compact,
** lsm_check, lsm_backup and lsm_version, and the table-valued functions
** lsm_levels, lsm_tables, lsm_stats and lsm_changes.  SQLITE_OK or the
** error of the first registration that failed.
*/
int lsmvtabRegisterFunctions(sqlite3 *db);

#if SQLITE_VERSION_NUMBER >= 3044000
/*
** The module's xIntegrity (SQLite 3.44 and newer): runs lsm_check on the
** table's engine and reports its problems, one line each, through *pzErr
** (sqlite3_mprintf), so that PRAGMA integrity_check covers lsm tables.
** Returns SQLITE_OK unless the check itself could not run.
*/
int lsmvIntegrity(sqlite3_vtab *pVtab, const char *zSchema,
                  const char *zTabName, int mFlags, char **pzErr);
#endif

#endif /* LSMV_SQLFUNCS_H */
