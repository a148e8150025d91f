/*
** testenv.h -- an lsm_env for tests: call counts, injected faults, and
** simulated power loss.
**
** A TestEnv wraps the POSIX env (lsm_env_default()): every method does
** the real operation on the real file system, and around it the test env
** counts the call, may fail it on purpose, and keeps a model of what a
** power loss at this moment would leave on disk.
**
**     TestEnv *pTest = testenvNew();
**     opts.env = testenvEnv(pTest);
**     lsm_open(zDir, &opts, &db);  ... writes ...
**     testenvCrash(pTest, 0, 0);          power loss now
**     lsm_close(db);                      errors expected: the disk is gone
**     testenvRestart(pTest);              power back on
**     lsm_open(zDir, &opts, &db);         recovery sees what was durable
**     ...
**     testenvFree(pTest);
**
** COUNTS.  testenvCount(p, kind) is the number of calls of one kind
** (TESTENV_OPEN, TESTENV_APPEND, ...) since testenvNew or testenvRestart.
** Two kinds are sums: TESTENV_FSYNC counts xSync and xSyncDir together,
** TESTENV_MUTATE counts every call that changes the file system (opens
** for writing, append, sync, truncate, rename, remove, link, mkdir, rmdir,
** sync of a directory).  A failed or refused call is counted too.
**
** FAULTS.  testenvFailAt(p, kind, n, err, bPersistent) makes the n-th call
** of that kind from now (n=1: the very next) fail; with bPersistent every
** call of that kind from the n-th on fails.  kind may be any TESTENV_*
** kind, including the sums.  err is EIO (the call returns LSM_IOERR) or
** ENOSPC/EDQUOT (LSM_FULL).  Adding TESTENV_SHORT (EIO|TESTENV_SHORT, or
** ENOSPC|TESTENV_SHORT) on an append writes the first half of the data
** for real and then fails, as a disk filling up mid-write does.  A failed
** call does nothing else, and sets a message like
** "append dir/000003.log: No space left on device (injected)".
** testenvFailAtPath() does the same but only counts calls whose path
** contains a given substring (".sst", "MANIFEST").  Several rules may be
** active; testenvClearFaults() removes them all.
**
** POWER LOSS.  The env keeps, for every file the engine touches, the
** content it had at its last xSync (any handle's xSync: a sync makes the
** whole file durable), and for every directory the engine changes, the
** names it held at its last xSyncDir.  testenvCrash() then rewrites the
** real directories into that durable state:
**   - each file is cut back to its content at its last sync (a file whose
**     entry is durable but that was never synced comes back empty);
**   - a file created since its directory's last sync disappears;
**   - a file removed since then comes back, with its durable content;
**   - a rename since then is undone; a link since then is removed;
**   - directories made or removed with xMkdir/xRmdir follow the same rule
**     in their parent directory: a new data directory whose parent was
**     never synced disappears with everything in it.
** With bTorn, each file that had unsynced bytes beyond its synced length
** keeps a random prefix of them, part of which may be replaced with zeros
** or garbage (chosen from seed): a torn write.  The synced prefix is
** never altered.
** Files and directories the env did not see created count as durable
** from the moment it first sees them: those that existed before the env
** first touched their directory, and those made behind its back (by the
** test directly, or the lock file that xLock creates) when a call first
** names them.  A name the env never sees at all is left alone.
**
** After testenvCrash() the env is dead: every call returns LSM_IOERR
** ("power lost"), on old handles and new, so the crashed engine cannot
** write again, except that xClose and xUnlock still release their handle
** (and the real lock).  Close the old database, then testenvRestart() to
** power the env back on: it forgets counts, faults and hooks, and treats
** what is now on disk as durable.
**
** SYNC HOOKS.  testenvSetSyncHook() installs a function called after
** every successful xSync and xSyncDir, with the total fsync count so far;
** it may call testenvCrash(), in which case that sync returns LSM_IOERR
** (the power went off as the fsync completed, so the data it synced is
** durable).  testenvCrashAtSync(p, k, ...) is the common case: crash when
** the k-th fsync from now completes.
**
** Thread safety: every method may be called from any thread.  One mutex
** serialises the model and every call that changes the file system;
** reads run outside it.  The hook runs without the mutex held.
**
** Memory: the env uses malloc() directly, never the engine's allocator
** hook, so a test can fail the engine's allocations while using it.  The
** POSIX methods it delegates to still allocate their handles through the
** hook, as they would for the engine.
*/
#ifndef TESTENV_H
#define TESTENV_H

#include <errno.h>
#include <stdint.h>

#include "lsm.h"
#include "testutil.h"

/* Call kinds, one per env method, then the two sums. */
#define TESTENV_OPEN       0
#define TESTENV_READ       1
#define TESTENV_APPEND     2
#define TESTENV_SYNC       3
#define TESTENV_SIZE       4
#define TESTENV_TRUNCATE   5
#define TESTENV_CLOSE      6
#define TESTENV_RENAME     7
#define TESTENV_REMOVE     8
#define TESTENV_LINK       9
#define TESTENV_MKDIR     10
#define TESTENV_RMDIR     11
#define TESTENV_SYNCDIR   12
#define TESTENV_LIST      13
#define TESTENV_EXISTS    14
#define TESTENV_LOCK      15
#define TESTENV_UNLOCK    16
#define TESTENV_FSYNC     17   /* SYNC + SYNCDIR */
#define TESTENV_MUTATE    18   /* every call that changes the file system */
#define TESTENV_NKIND     19

/* Or into err for testenvFailAt: an append writes half, then fails. */
#define TESTENV_SHORT   0x10000

typedef struct TestEnv TestEnv;

/* A new env with no faults and zero counts; NULL if malloc fails. */
TestEnv *testenvNew(void);

/* Release pTest.  Every handle opened through it must be closed first. */
void testenvFree(TestEnv *pTest);

/* The lsm_env to put in lsm_options.env; owned by pTest. */
lsm_env *testenvEnv(TestEnv *pTest);

/* Calls of kind (TESTENV_*) since testenvNew / testenvRestart. */
uint64_t testenvCount(TestEnv *pTest, int kind);

/*
** Fail the n-th call of kind from now (n>=1), or every call from the n-th
** on if bPersistent.  err: EIO or ENOSPC (or EDQUOT), optionally or-ed
** with TESTENV_SHORT.  At most 16 rules at a time (more are ignored).
*/
void testenvFailAt(TestEnv *pTest, int kind, int n, int err, int bPersistent);

/* As testenvFailAt, counting only calls whose path contains zSubstr. */
void testenvFailAtPath(TestEnv *pTest, int kind, int n, int err,
                       int bPersistent, const char *zSubstr);

/* Remove every fault rule. */
void testenvClearFaults(TestEnv *pTest);

/*
** Simulate a power loss now (see the essay above): rewrite the files and
** directories the env touched into their durable state, tearing unsynced
** tails if bTorn (randomly, from seed), and refuse every later call until
** testenvRestart().
*/
void testenvCrash(TestEnv *pTest, int bTorn, unsigned seed);

/* 1 between testenvCrash and testenvRestart, else 0. */
int testenvCrashed(TestEnv *pTest);

/*
** Power back on after testenvCrash: accept calls again, zero the counts,
** drop fault rules, the sync hook and any pending testenvCrashAtSync, and
** take the current disk state as durable.
*/
void testenvRestart(TestEnv *pTest);

/*
** Call xHook(pArg, pTest, kind, zPath, nFsync) after each successful
** xSync (kind TESTENV_SYNC, zPath the file) or xSyncDir (TESTENV_SYNCDIR,
** the directory); nFsync is testenvCount(pTest, TESTENV_FSYNC).  The hook
** may call testenvCrash.  NULL removes the hook.
*/
typedef void (*TestEnvSyncHook)(void *pArg, TestEnv *pTest, int kind,
                                const char *zPath, uint64_t nFsync);
void testenvSetSyncHook(TestEnv *pTest, TestEnvSyncHook xHook, void *pArg);

/*
** Crash (as testenvCrash(pTest, bTorn, seed)) just after the k-th fsync
** (xSync or xSyncDir) from now completes, k>=1; k==0 cancels.
*/
void testenvCrashAtSync(TestEnv *pTest, uint64_t k, int bTorn, unsigned seed);

#endif /* TESTENV_H */
