/*
** dbint.h -- the database handle's private structure, shared by the
** engine files that work on a whole database (db.c, backup.c, ...).
** Nothing outside lsm/ sees it.  db.c's essay describes the locking:
** db->mutex guards every field not marked otherwise.
*/
#ifndef LSM_DBINT_H
#define LSM_DBINT_H

#include <pthread.h>
#include <stdint.h>

#include "lsm.h"
#include "cache.h"
#include "memtable.h"
#include "table.h"
#include "version.h"
#include "wal.h"

#define MAX_IMM          16          /* cap on lsm_options.max_immutables */
#define GROUP_MAX_BYTES  (1<<20)     /* a commit group stops growing here */
#define GATHER_MAX_US    1000        /* longest wait for a group (db.c) */
#define ERRMSG_SIZE      512

/* What a queued writer asks the commit leader to do. */
#define WRITE_BATCH    0           /* commit pBatch */
#define WRITE_PREPARE  1           /* log pBatch as prepared iTxn */
#define WRITE_COMMIT   2           /* commit prepared iTxn */
#define WRITE_ABORT    3           /* forget prepared iTxn */
#define WRITE_FLUSH    4           /* freeze the memtable (lsm_flush) */
#define WRITE_NOSYNC   0x100       /* or'd into WRITE_PREPARE for submitOp */

typedef struct Writer Writer;
struct Writer {
  int eOp;                         /* WRITE_* */
  uint64_t iTxn;                   /* for the two-phase operations */
  int bNoSync;                     /* WRITE_PREPARE: do not sync for it */
  const lsm_batch *pBatch;
  int bDone;
  int rc;
  char zErr[ERRMSG_SIZE];          /* message if rc is an error */
  pthread_cond_t cond;
  Writer *pNext;
};

/* A prepared transaction waiting for its decision. */
typedef struct Prepared Prepared;
struct Prepared {
  uint64_t iTxn;
  LsmBuf data;                     /* the encoded batch */
  Prepared *pNext;
};

typedef struct ImmMem {
  LsmMemtable *pMem;
  uint64_t iLog;                   /* log file holding its writes */
  uint64_t iLastTxn;               /* lsm_txn_last() when it froze */
} ImmMem;

struct lsm_snapshot {
  uint64_t seq;
  lsm_snapshot *pPrev, *pNext;
};

struct lsm_db {
  char *zDir;
  lsm_options opts;
  lsm_env *pEnv;
  lsm_file *pLock;

  pthread_mutex_t mutex;
  pthread_cond_t bgCond;           /* wakes the background thread */
  pthread_cond_t roomCond;         /* a flush finished; writers retry */

  Writer *pWriterHead, *pWriterTail;
  int nQueued;                     /* writers in that queue */
  int bGathering;                  /* the leader waits for more (db.c) */
  int nLastGroup;                  /* writers in the last synced group */
  int nLeftQueued;                 /* writers queued when a group ended */
  uint64_t nLastSyncUs;            /* how long its sync took */
  lsm_batch *pGroup;               /* leader's scratch for grouping */

  LsmMemtable *pMem;
  uint64_t iMemLog;
  ImmMem aImm[MAX_IMM];
  int nImm;
  LsmWalWriter *pLog;
  uint64_t iLastSeq;               /* last published sequence */

  LsmVersionSet *pVs;
  LsmCache *pBlockCache;
  LsmTableCache *pTableCache;
  LsmReadStats stats;

  lsm_snapshot snapList;           /* sentinel of a circular list */
  Prepared *pPrepared;             /* changed only by the commit leader */
  uint64_t iLastTxn;               /* lsm_txn_last (atomic) */
  uint64_t iTxnLogged;             /* largest id prepared in the log (leader) */
  uint64_t iTxnDurable;            /* lsm_txn_durable (atomic) */

  pthread_t bgThread;
  int bBgStarted;
  int bShutdown;
  int bBgBusy;                     /* a flush is in progress */
  int bCompacting;                 /* a compaction runs (one at a time) */
  int bgRc;                        /* sticky background/log error */
  char zBgErr[ERRMSG_SIZE];

  pthread_mutex_t errMutex;
  char zErrMsg[ERRMSG_SIZE];

  /* Statistics (mutex held to update, except where atomic). */
  uint64_t nUserBytes, nLogBytes, nFlushBytes, nFlushes;
  uint64_t nCompactBytes, nCompactReadBytes, nCompactions;
  uint64_t nStalls, nStallUs;
  uint64_t nGets;                  /* atomic */
};

/*
** Record the outcome rc of a public call on db: copy this thread's
** message (lsmErr) into the handle for lsm_errmsg() when rc is an error.
** A NOTFOUND counts only if it came with a message (a missing key is no
** error; "changes no longer retained" is).  Returns rc.
*/
int lsmDbResult(lsm_db *db, int rc);

#endif /* LSM_DBINT_H */
