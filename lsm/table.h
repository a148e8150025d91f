/*
** table.h -- sorted tables: immutable files of internal keys and values.
**
** Layout (FORMAT.md has it byte by byte): data blocks of prefix-compressed
** entries with restart points, a bloom filter block over user keys, a
** properties block, an index block mapping a separator key per data block
** to its offset and size, and a fixed-size footer with a magic number.
** Every block ends with a compression byte and a CRC32C that the reader
** verifies before use.
**
** Builder: add entries in strictly increasing internal-key order, then
** finish (which syncs and closes the file) or abandon.  After any error
** the builder only repeats it; finish or abandon it and remove the file.
**
** Reader: tables are opened through the table cache (LsmTableCache), which
** bounds the number of open files; an LsmTable is reference counted, and
** iterators hold a reference.  Data blocks come through the shared block
** cache.
*/
#ifndef LSM_TABLE_H
#define LSM_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "lsm.h"
#include "iter.h"
#include "cache.h"
#include "util.h"

typedef struct LsmTableOptions {
  size_t block_size;         /* target uncompressed data-block size */
  int restart_interval;      /* entries between restart points */
  int bloom_bits;            /* bits per key; 0: no filter block */
  int compression;           /* LSM_COMPRESSION_* */
} LsmTableOptions;

/* The table options of a database's options. */
void lsmTableOptionsFrom(const lsm_options *pOpts, LsmTableOptions *p);

/* What a table holds, as recorded in its properties block. */
typedef struct LsmTableProps {
  uint64_t nEntry;           /* entries (values + tombstones) */
  uint64_t nTombstone;
  uint64_t minSeq, maxSeq;
  uint64_t nRawKey;          /* sum of internal-key lengths */
  uint64_t nRawValue;        /* sum of value lengths */
  uint64_t nDataBlock;
  uint64_t nFileSize;        /* bytes of the whole file */
  LsmBuf smallest;           /* first internal key (empty if no entries) */
  LsmBuf largest;            /* last internal key */
} LsmTableProps;
void lsmTablePropsClear(LsmTableProps *pProps);   /* frees the key buffers */

/* Counters shared by every table of one database; updated atomically. */
typedef struct LsmReadStats {
  uint64_t nCacheHit, nCacheMiss;
  uint64_t nBloomUseful;     /* probes the filter answered "absent" */
  uint64_t nBloomUseless;    /* probes it passed that found nothing */
  uint64_t nTableProbe;      /* tables searched by point reads */
} LsmReadStats;

typedef struct LsmTableBuilder LsmTableBuilder;

int lsmTableBuilderNew(lsm_env *pEnv, const char *zPath,
                       const LsmTableOptions *pOpts, LsmTableBuilder **pp);
/* REQUIRES: pIkey greater than every key added before. */
int lsmTableBuilderAdd(LsmTableBuilder *p, const uint8_t *pIkey, size_t nIkey,
                       const uint8_t *pVal, size_t nVal);
/* Bytes the file would have if finished now (estimate). */
uint64_t lsmTableBuilderSize(const LsmTableBuilder *p);
uint64_t lsmTableBuilderCount(const LsmTableBuilder *p);
/* Write the remaining blocks and footer, fsync, close, free the builder.
** On success *pProps (if not NULL) describes the table. */
int lsmTableBuilderFinish(LsmTableBuilder *p, LsmTableProps *pProps);
/* Close and free without finishing; the caller removes the file. */
void lsmTableBuilderAbandon(LsmTableBuilder *p);

typedef struct LsmTable LsmTable;

/*
** Open a table file directly (tools and tests; the engine goes through
** the table cache).  pBlockCache may be NULL (no caching); pStats may be
** NULL.  Checks the footer, index, filter and properties blocks.
** Errors: LSM_CORRUPT / LSM_IOERR / LSM_NOTFOUND with the file name.
*/
int lsmTableOpen(lsm_env *pEnv, const char *zPath, uint64_t iFileNum,
                 LsmCache *pBlockCache, LsmReadStats *pStats,
                 LsmTable **ppTable);
void lsmTableRef(LsmTable *p);
void lsmTableUnref(LsmTable *p);   /* closes the file on the last ref */

/* Properties read from the file (owned by the table). */
const LsmTableProps *lsmTableProps(const LsmTable *p);

/*
** Newest version of user key pKey with sequence <= seq, as
** lsmMemtableGet: LSM_OK with *pbDeleted or the value copied into pVal;
** LSM_NOTFOUND if none; an error code otherwise.
*/
int lsmTableGet(LsmTable *p, const uint8_t *pKey, size_t nKey, uint64_t seq,
                LsmBuf *pVal, int *pbDeleted);

/* An internal iterator over the table; holds a reference to it.
** bFillCache: 0 for compaction reads, so a big merge does not flush
** the block cache. */
int lsmTableIterNew(LsmTable *p, int bFillCache, LsmIter **ppIter);

/*
** Verify every block checksum of the table at zPath and every entry's
** ordering.  LSM_OK, or the first problem with its offset in the message.
*/
int lsmTableCheck(lsm_env *pEnv, const char *zPath);

/* The table cache: at most nMaxOpen tables open, LRU. */
typedef struct LsmTableCache LsmTableCache;
int lsmTableCacheNew(lsm_env *pEnv, const char *zDir, int nMaxOpen,
                     LsmCache *pBlockCache, LsmReadStats *pStats,
                     LsmTableCache **pp);
void lsmTableCacheFree(LsmTableCache *p);
/* A referenced table for file iFileNum ("%06llu.sst" in zDir); release
** with lsmTableUnref.  A missing file is LSM_CORRUPT: the engine only
** asks for tables that a version lists. */
int lsmTableCacheGet(LsmTableCache *p, uint64_t iFileNum, LsmTable **ppTable);
/* Map the tables opened from now on (lsm_options.mmap_reads). */
void lsmTableCacheSetMmap(LsmTableCache *p, int bMmap);
/* Forget file iFileNum (it is being deleted). */
void lsmTableCacheEvict(LsmTableCache *p, uint64_t iFileNum);

#endif /* LSM_TABLE_H */
