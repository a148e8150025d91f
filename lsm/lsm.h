/*
** lsm.h -- the one public header of the lsm engine.
**
** The engine is an ordered key-value store built as a log-structured
** merge tree: writes go to a write-ahead log and an in-memory skip list,
** full memtables are flushed to sorted tables on disk, and background
** compaction keeps the tables in levels.  Keys and values are arbitrary
** byte strings; keys are ordered by memcmp (shorter first on a tie).
**
** Usage:
**
**     lsm_options opts;
**     lsm_db *db;
**     lsm_options_init(&opts);
**     rc = lsm_open("data", &opts, &db);
**     rc = lsm_put(db, "k", 1, "v", 1);
**     rc = lsm_get(db, 0, "k", 1, &pVal, &nVal);   ... lsm_free(pVal);
**     lsm_close(db);
**
** Every function returns an LSM_* result code.  The codes have the same
** numeric values as SQLite's, so a caller embedding the engine in SQLite
** can pass them through.  After a failure, lsm_errmsg(db) says what failed
** and where (file name, offset).
**
** Ownership: a buffer returned through a "void **ppOut" argument belongs
** to the caller and is released with lsm_free().  Pointers returned by
** lsm_iter_key()/lsm_iter_value() belong to the iterator and stay valid
** until the next call that moves or frees that iterator.  Strings returned
** by lsm_errmsg() stay valid until the next call on the same handle.
**
** Threads: an lsm_db handle may be used from many threads at once.  An
** lsm_iter or lsm_batch must be used by one thread at a time.
**
** Nothing in this header depends on SQLite.
*/
#ifndef LSM_H
#define LSM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Result codes (numerically equal to SQLite's). */
#define LSM_OK          0
#define LSM_ERROR       1    /* generic error; see lsm_errmsg() */
#define LSM_BUSY        5    /* directory locked by another handle/process */
#define LSM_NOMEM       7    /* an allocation failed */
#define LSM_READONLY    8    /* write to a handle opened read-only */
#define LSM_IOERR      10    /* the operating system reported an I/O error */
#define LSM_CORRUPT    11    /* a file failed a checksum or a format check */
#define LSM_NOTFOUND   12    /* key (or file) not present */
#define LSM_FULL       13    /* the disk is full */
#define LSM_CANTOPEN   14    /* a file or directory could not be opened */
#define LSM_TOOBIG     18    /* key or value exceeds the size limit */
#define LSM_INVALID    21    /* bad argument or option (SQLITE_MISUSE) */

/* Size limits enforced by every write. */
#define LSM_MAX_KEY_SIZE    (64*1024*1024)      /* 64 MiB */
#define LSM_MAX_VALUE_SIZE  (1024*1024*1024)    /* 1 GiB  */

/* Sync modes (lsm_options.sync_mode). */
#define LSM_SYNC_OFF     0   /* log written by the OS when it likes */
#define LSM_SYNC_NORMAL  1   /* log written before commit returns; fsync batched */
#define LSM_SYNC_FULL    2   /* log fsynced before commit returns */

/* Compression codecs (lsm_options.compression). */
#define LSM_COMPRESSION_NONE  0
#define LSM_COMPRESSION_LZ4   1

typedef struct lsm_db lsm_db;
typedef struct lsm_batch lsm_batch;
typedef struct lsm_snapshot lsm_snapshot;
typedef struct lsm_iter lsm_iter;
typedef struct lsm_env lsm_env;
typedef struct lsm_file lsm_file;

/*
** The environment: every file-system call the engine makes goes through
** one of these function pointers, so that tests can inject I/O errors and
** simulate power loss.  lsm_env_default() returns the POSIX one.
**
** Each method returns LSM_OK or an error code: LSM_NOTFOUND when a path
** does not exist, LSM_FULL for ENOSPC, LSM_BUSY when a lock is held
** elsewhere, LSM_IOERR for anything else.
*/
#define LSM_OPEN_READONLY  0x01   /* open an existing file for reading */
#define LSM_OPEN_WRITE     0x02   /* open for appending, create if missing */
#define LSM_OPEN_TRUNCATE  0x04   /* with WRITE: start empty */

struct lsm_env {
  void *pCtx;                                   /* for the env's own use */
  int (*xOpen)(lsm_env*, const char *zPath, int flags, lsm_file **ppFile);
  int (*xRead)(lsm_file*, uint64_t iOff, void *pBuf, size_t nBuf,
               size_t *pnRead);                 /* short read only at EOF */
  int (*xAppend)(lsm_file*, const void *pData, size_t nData);
  int (*xSync)(lsm_file*);                      /* data durable on return */
  int (*xSize)(lsm_file*, uint64_t *pnSize);
  int (*xTruncate)(lsm_file*, uint64_t nSize);
  int (*xClose)(lsm_file*);                     /* always frees the handle */
  int (*xRename)(lsm_env*, const char *zFrom, const char *zTo);
  int (*xRemove)(lsm_env*, const char *zPath);
  int (*xLink)(lsm_env*, const char *zFrom, const char *zTo);  /* hard link */
  int (*xMkdir)(lsm_env*, const char *zPath);   /* LSM_OK if it exists */
  int (*xRmdir)(lsm_env*, const char *zPath);
  int (*xSyncDir)(lsm_env*, const char *zDir);  /* make entries durable */
  /* Call xEntry once per name in zDir (not "." or "..").  A non-zero
  ** return from xEntry stops the listing and is returned. */
  int (*xList)(lsm_env*, const char *zDir,
               int (*xEntry)(void *pArg, const char *zName), void *pArg);
  int (*xExists)(lsm_env*, const char *zPath, int *pbExists);
  /* Take an exclusive advisory lock on zPath (created if missing); held
  ** until xUnlock.  LSM_BUSY if another process or handle holds it. */
  int (*xLock)(lsm_env*, const char *zPath, lsm_file **ppLock);
  int (*xUnlock)(lsm_file *pLock);
  uint64_t (*xNowMicros)(lsm_env*);
  void (*xSleep)(lsm_env*, uint64_t nMicros);
  /* Optional (NULL: tables are always read with xRead).  Map the first
  ** nSize bytes of a file opened READONLY into memory, read-only, until
  ** xUnmap.  Used only with lsm_options.mmap_reads. */
  int (*xMap)(lsm_file*, uint64_t nSize, const void **ppMap);
  void (*xUnmap)(lsm_file*, const void *pMap, uint64_t nSize);
};

/* The POSIX environment.  Static; never freed. */
lsm_env *lsm_env_default(void);

/*
** The allocator hook.  Every allocation the engine makes goes through
** these three functions.  Install before opening any database; pass NULL
** to restore malloc/realloc/free.  Not thread-safe against open handles.
*/
typedef struct lsm_allocator {
  void *(*xMalloc)(size_t);
  void *(*xRealloc)(void*, size_t);
  void (*xFree)(void*);
} lsm_allocator;
void lsm_set_allocator(const lsm_allocator *pAlloc);

void *lsm_malloc(size_t n);
void lsm_free(void *p);          /* release any buffer the engine returned */

/* Options.  Always call lsm_options_init() first, then change fields. */
typedef struct lsm_options {
  int create_if_missing;        /* 1: create the directory (default 1) */
  int read_only;                /* 1: refuse writes, no background work */
  int sync_mode;                /* LSM_SYNC_* (default FULL) */
  size_t memtable_size;         /* bytes before a memtable is frozen (4 MiB) */
  int max_immutables;           /* frozen memtables waiting to flush (2) */
  size_t block_size;            /* target data-block size (4 KiB) */
  int restart_interval;         /* keys between restart points (16) */
  size_t cache_size;            /* block-cache capacity in bytes (8 MiB) */
  int max_open_tables;          /* table-cache capacity in files (500) */
  int bloom_bits;               /* bloom bits per key, 0 = none (10) */
  int compression;              /* LSM_COMPRESSION_* (LZ4) */
  uint64_t level1_size;         /* byte budget of level 1 (10 MiB) */
  uint64_t table_size;          /* target table-file size (4 MiB) */
  int l0_trigger;               /* L0 files that start a compaction (4) */
  int l0_slowdown;              /* L0 files that slow writers down (8) */
  int l0_stop;                  /* L0 files that stop writers (12) */
  uint64_t log_retain_bytes;    /* bytes of old logs kept for lsm_changes (0) */
  lsm_env *env;                 /* NULL: lsm_env_default() */
  /*
  ** 1: read table files through memory maps (env xMap) instead of
  ** pread, which saves a system call and a copy on every block-cache
  ** miss.  Off by default: an I/O error on a mapped page (a failing
  ** disk, a table file truncated by another program) raises SIGBUS
  ** and kills the process where pread would return LSM_IOERR.
  */
  int mmap_reads;
} lsm_options;

void lsm_options_init(lsm_options *pOpts);

/* Human-readable name of a result code ("disk full", ...).  Static. */
const char *lsm_errstr(int rc);

/*
** Open (creating if allowed) the database in directory zDir.  On success
** *ppDb is a new handle.  On failure *ppDb is still set unless the failure
** was NOMEM, so that lsm_errmsg() can say what went wrong; the caller then
** closes it.  Returns LSM_BUSY if another handle or process has zDir open.
*/
int lsm_open(const char *zDir, const lsm_options *pOpts, lsm_db **ppDb);

/* Wait for background work, release everything.  NULL is a no-op. */
int lsm_close(lsm_db *db);

/* Message for the last error on db (or "not an error").  Owned by db. */
const char *lsm_errmsg(lsm_db *db);

/* Single writes, each its own atomic commit under the db's sync mode. */
int lsm_put(lsm_db *db, const void *pKey, size_t nKey,
            const void *pVal, size_t nVal);
int lsm_delete(lsm_db *db, const void *pKey, size_t nKey);

/*
** Look up pKey as of pSnap (NULL: the latest committed state).  On
** LSM_OK, *ppVal is a new buffer of *pnVal bytes owned by the caller
** (free with lsm_free; a zero-length value still gets a buffer).
** LSM_NOTFOUND if the key is absent or deleted.
*/
int lsm_get(lsm_db *db, const lsm_snapshot *pSnap, const void *pKey,
            size_t nKey, void **ppVal, size_t *pnVal);

/*
** Write batches: a list of puts and deletes applied atomically by
** lsm_write().  A batch is owned by its creator and may be reused after
** lsm_write() or lsm_batch_clear().
*/
int lsm_batch_new(lsm_batch **ppBatch);
void lsm_batch_free(lsm_batch *pBatch);
int lsm_batch_put(lsm_batch *pBatch, const void *pKey, size_t nKey,
                  const void *pVal, size_t nVal);
int lsm_batch_delete(lsm_batch *pBatch, const void *pKey, size_t nKey);
int lsm_batch_clear(lsm_batch *pBatch);
uint32_t lsm_batch_count(const lsm_batch *pBatch);   /* operations */
size_t lsm_batch_size(const lsm_batch *pBatch);      /* encoded bytes */
/* A mark is the batch's state now; truncating to it drops every
** operation added since (used for savepoints). */
size_t lsm_batch_mark(const lsm_batch *pBatch);
int lsm_batch_truncate(lsm_batch *pBatch, size_t iMark);

/* The batch's encoding (FORMAT.md, "Write batch"), valid until the
** batch changes; lsm_batch_load replaces a batch's operations with those
** of such an encoding: LSM_CORRUPT if it is malformed (the batch is then
** empty). */
const void *lsm_batch_data(const lsm_batch *pBatch, size_t *pnData);
int lsm_batch_load(lsm_batch *pBatch, const void *pData, size_t nData);

/* Apply pBatch atomically: all of it is visible and durable, or none. */
int lsm_write(lsm_db *db, const lsm_batch *pBatch);

/*
** Indexed batches: a batch that also keeps its operations in key order, so
** that a transaction can read its own uncommitted writes.  lsm_batch_get
** looks a key up in the batch alone: LSM_OK with *pbDeleted set (and, for
** a value, *ppVal and *pnVal pointing into the batch, valid until the batch
** changes), or LSM_NOTFOUND if the batch does not touch the key.
** lsm_iter_new_batch is lsm_iter_new with pBatch's writes laid over the
** snapshot (the newest operation on a key wins); the iterator sees the
** batch as it was when the iterator was created.  Both return LSM_INVALID
** for a batch that was not created indexed, and may return LSM_NOMEM: the
** key order is built when first read, not as operations are added.
*/
int lsm_batch_new_indexed(lsm_batch **ppBatch);
int lsm_batch_get(const lsm_batch *pBatch, const void *pKey, size_t nKey,
                  const void **ppVal, size_t *pnVal, int *pbDeleted);

/*
** Two-phase commit, for a caller that must commit this database together
** with another store (the SQLite extension commits with the main
** database file).
**
** lsm_prepare writes pBatch to the log as transaction iTxn (any caller-
** chosen number unique among pending transactions), durable under the
** handle's sync mode, without applying it: nobody sees it yet.  Then
** exactly one of lsm_commit_prepared (apply it atomically, with fresh
** sequence numbers) or lsm_rollback_prepared (forget it).  Neither can
** lose the decision: a crash after lsm_prepare leaves iTxn "in doubt",
** and lsm_open recovers it as such; lsm_prepared lists the in-doubt
** transactions so the caller can resolve each one from its own records.
** A transaction stays durable across log switches until resolved.
*/
int lsm_prepare(lsm_db *db, const lsm_batch *pBatch, uint64_t iTxn);
int lsm_commit_prepared(lsm_db *db, uint64_t iTxn);
int lsm_rollback_prepared(lsm_db *db, uint64_t iTxn);
/* Copy up to nMax in-doubt transaction ids to aTxn; return how many
** there are in all. */
int lsm_prepared(lsm_db *db, uint64_t *aTxn, int nMax);

/*
** For a caller that keeps its own durable copy of each prepared batch
** until the log holds it (the SQLite extension keeps small ones in the
** database file's own commit, saving a sync):
**
** lsm_prepare_unsynced is lsm_prepare without a sync of the log: the
** record is durable only after a later sync (any synced write or
** prepare, a memtable switch, lsm_close).  lsm_txn_durable returns the
** largest id whose prepare record a sync has made durable; for ids that
** grow, every prepared id up to it is durable.  lsm_txn_last returns the
** largest id ever given to lsm_commit_prepared that survives a crash as
** far as the log does (flushes record it in the manifest), so after a
** reopen a caller knows which of its copies the engine already holds.
*/
int lsm_prepare_unsynced(lsm_db *db, const lsm_batch *pBatch, uint64_t iTxn);
uint64_t lsm_txn_durable(lsm_db *db);
uint64_t lsm_txn_last(lsm_db *db);

/*
** Snapshots: a consistent read point.  Reads through a snapshot see
** exactly the commits made before it was taken, however long it lives.
*/
int lsm_snapshot_new(lsm_db *db, lsm_snapshot **ppSnap);
void lsm_snapshot_free(lsm_db *db, lsm_snapshot *pSnap);
uint64_t lsm_snapshot_seq(const lsm_snapshot *pSnap);
/* The sequence number of the last committed write. */
uint64_t lsm_last_seq(lsm_db *db);

/*
** Iterators.  An iterator reads one snapshot (pSnap, or the state when it
** was created if NULL) limited to keys k with lo <= k < hi (a NULL bound
** is no bound).  A new iterator is not positioned: call first, last or a
** seek.  After a move, lsm_iter_valid() says whether it sits on an entry;
** when it does not, lsm_iter_status() says whether that is the end (OK)
** or an error.
*/
int lsm_iter_new(lsm_db *db, const lsm_snapshot *pSnap,
                 const void *pLo, size_t nLo, const void *pHi, size_t nHi,
                 lsm_iter **ppIter);
int lsm_iter_new_batch(lsm_db *db, const lsm_snapshot *pSnap,
                       const lsm_batch *pBatch,
                       const void *pLo, size_t nLo,
                       const void *pHi, size_t nHi, lsm_iter **ppIter);
void lsm_iter_free(lsm_iter *pIter);
int lsm_iter_first(lsm_iter *pIter);
int lsm_iter_last(lsm_iter *pIter);
int lsm_iter_seek(lsm_iter *pIter, const void *pKey, size_t nKey);   /* first >= key */
int lsm_iter_seek_le(lsm_iter *pIter, const void *pKey, size_t nKey);/* last <= key */
int lsm_iter_next(lsm_iter *pIter);   /* REQUIRES: valid */
int lsm_iter_prev(lsm_iter *pIter);   /* REQUIRES: valid */
int lsm_iter_valid(const lsm_iter *pIter);
const void *lsm_iter_key(const lsm_iter *pIter, size_t *pnKey);
const void *lsm_iter_value(const lsm_iter *pIter, size_t *pnVal);
int lsm_iter_status(const lsm_iter *pIter);
/* What the first error of the iterator was and where (the file and
** offset of a damaged block, say); owned by the iterator. */
const char *lsm_iter_errmsg(const lsm_iter *pIter);

/*
** Control.  lsm_flush freezes the memtable (if it holds anything) and
** waits until every frozen memtable is written to a table.
** lsm_compact flushes, then merges every table holding keys in [lo, hi]
** (inclusive; NULL bounds are open) level by level down to the deepest
** level in use (at least level 1), dropping every overwritten version and
** tombstone that no snapshot needs.  It runs in the calling thread.
*/
int lsm_flush(lsm_db *db);
int lsm_compact(lsm_db *db, const void *pLo, size_t nLo,
                const void *pHi, size_t nHi);

/*
** Statistics, a consistent copy taken by lsm_get_stats.  Byte counts are
** totals since the handle was opened.
**   write_amp  = (flush_bytes + compact_bytes) / user_bytes
**   space_amp  = table bytes / bytes of the deepest non-empty level, an
**                estimate of bytes on disk over live data: near 1 once a
**                full compaction has left one level holding everything.
**   read_amp   = tables searched per point read that reached the tables.
*/
/*
** Online backup: write a consistent copy of the database, as of one
** committed point, to the new directory zDest (created; it must not
** exist).  Tables are hard-linked where the file system allows, copied
** otherwise; what is still in memory is written as a new table.  Writers
** continue meanwhile.  The copy opens with lsm_open like any database.
*/
int lsm_backup(lsm_db *db, const char *zDest);

/*
** Change feed: every committed write with a sequence number greater than
** iAfter, in commit order, read from the retained logs (see
** lsm_options.log_retain_bytes).  LSM_NOTFOUND with a message if part of
** that history is no longer retained.  lsm_changes_next returns
** LSM_NOTFOUND at the end; pointers stay valid until the next call.
*/
typedef struct lsm_changes lsm_changes;
int lsm_changes_open(lsm_db *db, uint64_t iAfter, lsm_changes **pp);
int lsm_changes_next(lsm_changes *p, uint64_t *pSeq, int *pbDelete,
                     const void **ppKey, size_t *pnKey,
                     const void **ppVal, size_t *pnVal);
void lsm_changes_close(lsm_changes *p);

#define LSM_MAX_LEVELS 7
typedef struct lsm_stats {
  int anLevelFiles[LSM_MAX_LEVELS];
  uint64_t anLevelBytes[LSM_MAX_LEVELS];
  uint64_t anLevelBudget[LSM_MAX_LEVELS];  /* level 0: 0 */
  double aLevelScore[LSM_MAX_LEVELS];
  uint64_t user_bytes;          /* keys and values written by commits */
  uint64_t log_bytes;           /* bytes appended to logs */
  uint64_t flush_bytes;         /* table bytes written by flushes */
  uint64_t compact_bytes;       /* table bytes written by compactions */
  uint64_t compact_read_bytes;  /* table bytes read by compactions */
  uint64_t flushes, compactions;
  uint64_t table_bytes;         /* bytes of all live tables */
  uint64_t log_disk_bytes;      /* bytes of the live logs */
  double write_amp, space_amp, read_amp;
  uint64_t stalls;              /* writes delayed or stopped for L0 / memory */
  uint64_t stall_us;            /* time writers spent in those stalls */
  uint64_t cache_hits, cache_misses;
  uint64_t bloom_useful, bloom_useless;
  uint64_t gets;                /* point reads that reached the tables */
  uint64_t table_probes;        /* tables searched by those reads */
  uint64_t memtable_bytes;
  int immutable_count;
  uint64_t last_seq;
  int error_code;               /* the sticky background error, or 0 */
  char last_error[256];         /* its message, or "" */
} lsm_stats;
int lsm_get_stats(lsm_db *db, lsm_stats *pStats);

/*
** An estimate of the number of keys, cheap enough for a query planner:
** the entries of every table and memtable, so overwritten versions and
** tombstones count too (an overestimate until compaction drops them).
*/
uint64_t lsm_approx_count(lsm_db *db);

/*
** The engine's version, "MAJOR.MINOR.PATCH".  lsm_libversion() returns
** the version of the library actually linked (a static string).
*/
#define LSM_VERSION "0.1.0"
const char *lsm_libversion(void);

/*
** Progress of a long operation: nDone of about nTotal bytes handled.
** Called in the thread running the operation, first with nDone 0 and
** last with nDone equal to nTotal.
*/
typedef void (*lsm_progress_fn)(void *pArg, uint64_t nDone, uint64_t nTotal);

/*
** lsm_backup, and more: on success *piSeq (if piSeq is not NULL) is the
** committed point the copy holds -- exactly the writes with sequence
** numbers up to *piSeq -- so that lsm_changes_open(db, *piSeq, ...)
** continues the copy where it stops.  xProgress (if not NULL) is told
** the bytes linked, copied or written so far.  On failure zDest and
** everything written into it are removed again.
*/
int lsm_backup_ex(lsm_db *db, const char *zDest, uint64_t *piSeq,
                  lsm_progress_fn xProgress, void *pArg);

/*
** Inspection: lsm_tables_list calls xTable once per live table of one
** consistent version, level 0 first (newest first within level 0, then
** each deeper level by key).  The info and the keys it points to are
** valid during the call only.  A non-zero return from xTable stops the
** walk and is returned.
*/
typedef struct lsm_table_info {
  uint64_t file;                /* NNNNNN of the file NNNNNN.sst */
  int level;                    /* 0 .. LSM_MAX_LEVELS-1 */
  uint64_t bytes;               /* file size */
  uint64_t entries;             /* values and tombstones */
  uint64_t tombstones;
  uint64_t min_seq, max_seq;
  const void *pSmallest;        /* smallest user key */
  size_t nSmallest;
  const void *pLargest;         /* largest user key */
  size_t nLargest;
} lsm_table_info;
int lsm_tables_list(lsm_db *db,
                    int (*xTable)(void *pArg, const lsm_table_info *pInfo),
                    void *pArg);

/*
** Verify every live file of an open database while it runs: each table
** of the current version (every block checksum, entry order, properties,
** and agreement with the manifest's record of it) and every log in the
** directory (record checksums and well-formed payloads; only the newest
** log, and logs older than the oldest one recovery needs, may end in a
** torn tail).  Each problem is passed to xProblem as one line naming the
** file and the offset.  Returns LSM_OK if nothing was found, the code of
** the first problem otherwise (LSM_CORRUPT, LSM_IOERR, ...), or
** LSM_NOMEM if the check itself could not run.
*/
int lsm_check(lsm_db *db, void (*xProblem)(void *pArg, const char *zProblem),
              void *pArg);

#ifdef __cplusplus
}
#endif
#endif /* LSM_H */
