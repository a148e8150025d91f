/*
** env.h -- file helpers built on an lsm_env (private to the engine).
**
** The env itself (lsm_env, lsm_env_default) is declared in lsm.h.  The
** functions here compose env methods into the few multi-step file
** operations the engine needs, so that they behave the same under the
** POSIX env and under a test env that injects faults or simulates power
** loss.  Each returns LSM_OK or an LSM_* code with the thread's message
** set (lsmErr) by whichever step failed.
*/
#ifndef LSM_ENV_H
#define LSM_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "lsm.h"
#include "util.h"

/*
** Replace file zDir/zName with the n bytes at p so that, after a crash at
** any point, the file holds either its old content or the new one: write
** zDir/zName.tmp, fsync it, rename it over zDir/zName, fsync zDir.  Used
** for CURRENT.  On failure before the rename the temporary file is
** removed; the old zDir/zName is untouched.
*/
int lsmEnvWriteFileAtomic(lsm_env *pEnv, const char *zDir, const char *zName,
                          const void *p, size_t n);

/*
** Read the whole of zPath into pOut, replacing what it held (pOut->n is
** the file's length on return).  pOut stays owned by the caller, who
** frees it with lsmBufFree whether or not this succeeds.  LSM_NOTFOUND if
** zPath does not exist.
*/
int lsmEnvReadFile(lsm_env *pEnv, const char *zPath, LsmBuf *pOut);

/*
** Create or truncate zTo and copy into it the first nLimit bytes of zFrom
** (fewer if zFrom is shorter; pass UINT64_MAX for the whole file), then
** fsync zTo.  The caller fsyncs zTo's directory if the new entry must be
** durable.  On failure zTo is removed.
*/
int lsmEnvCopyFile(lsm_env *pEnv, const char *zFrom, const char *zTo,
                   uint64_t nLimit);

/*
** Sync the directory holding zDir (its parent), so that zDir's own entry
** is durable.  "." for a relative name without a slash.
*/
int lsmEnvSyncParent(lsm_env *pEnv, const char *zDir);

/*
** Remove zPath as cleanup: a failure is ignored (the file may never have
** been created, or is an orphan the next open deletes) and this thread's
** error message is left as it was, so that it still describes the error
** that made the cleanup necessary.  A NULL zPath is a no-op.
*/
void lsmEnvRemoveQuietly(lsm_env *pEnv, const char *zPath);

#endif /* LSM_ENV_H */
