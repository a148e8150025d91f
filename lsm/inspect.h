/*
** inspect.h -- helpers shared by the files that work on a whole open
** database from the outside of its write path: backup.c (online
** backup), changes.c (the change feed) and inspect.c (table listing and
** the live integrity check).  Private to the engine.
*/
#ifndef LSM_INSPECT_H
#define LSM_INSPECT_H

#include <stdint.h>

#include "lsm.h"

/*
** The numbers of every NNNNNN.log file in zDir, ascending, in a new
** array *paLog (lsmFree) of *pnLog entries (NULL and 0 when there are
** none).  LSM_OK, LSM_NOMEM, or the env's error listing zDir.
*/
int lsmLogList(lsm_env *pEnv, const char *zDir, uint64_t **paLog, int *pnLog);

#endif /* LSM_INSPECT_H */
