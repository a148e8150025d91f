/*
** bench.h -- the interface between the benchmark driver (dbbench.c) and
** the engines it measures (capi.c: this engine, LevelDB and RocksDB
** through their C APIs; sqlapi.c: the `lsm` virtual table and a native
** SQLite WITHOUT ROWID table through prepared statements).
**
** Each engine is a BenchEngine: a table of functions over two opaque
** objects.  A BenchDb is one open database (one directory); a BenchConn
** is what one thread uses to talk to it.  For the C APIs every BenchConn
** shares the one database handle (each thread has its own batch and
** options); for SQL every BenchConn is its own sqlite3 connection with
** its own prepared statements.
**
** Failures are not returned: an engine that reports an error calls
** benchDie(), which prints the message and exits with status 2.  The
** driver exits with status 3 when a read returns a wrong result.  A
** benchmark program that ran into either has no figures worth printing.
**
** Every key has the same length (BenchOpts.nKey); values may be any
** length.  Pointers returned by xGet and passed to a BenchRowFn belong to
** the engine and stay valid until the next call on the same BenchConn.
*/
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct BenchDb BenchDb;
typedef struct BenchConn BenchConn;

/* A write batch: nOp operations, operation i on key aKey + i*nKey; a put
** of value aVal + i*nVal unless abDel[i], which makes it a delete. */
typedef struct BenchBatch {
  int nOp;
  int nKey;
  size_t nVal;
  const char *aKey;
  const char *aVal;
  const unsigned char *abDel;
} BenchBatch;

/* Called once per row a scan visits; return non-zero to stop early. */
typedef int (*BenchRowFn)(void *pArg, const void *pKey, size_t nKey,
                          const void *pVal, size_t nVal);

typedef struct BenchEngine {
  const char *zName;        /* as given to --engines */
  const char *zConfig;      /* how it is configured, printed with results */
  /* Open a new, empty database in directory zDir (which does not exist
  ** yet).  bSync: every commit durable before it returns (fillsync);
  ** otherwise the engine's unsynced mode. */
  BenchDb *(*xOpen)(const char *zDir, int bSync);
  /* Close the database; every BenchConn was already disconnected. */
  void (*xClose)(BenchDb*);
  BenchConn *(*xConnect)(BenchDb*);
  void (*xDisconnect)(BenchConn*);
  /* Apply a batch atomically (one commit). */
  void (*xWrite)(BenchConn*, const BenchBatch*);
  /* Point read: 1 and the value if found, 0 if not. */
  int (*xGet)(BenchConn*, const char *pKey, int nKey,
              const void **ppVal, size_t *pnVal);
  /* Visit rows in key order from the first key >= pStart (NULL: from the
  ** first key), at most nLimit of them (<0: all).  Returns the number of
  ** rows visited. */
  uint64_t (*xScan)(BenchConn*, const char *pStart, int nStart, int nLimit,
                    BenchRowFn xRow, void *pArg);
  /* Table bytes written by flushes and compactions since xOpen, or -1 if
  ** the engine does not say. */
  double (*xWrittenBytes)(BenchDb*);
} BenchEngine;

/* Engines defined in capi.c and sqlapi.c. */
extern const BenchEngine benchLsm, benchLsmMmap, benchLeveldb,
                         benchLeveldbBloom, benchRocksdb, benchRocksdbBloom;
extern const BenchEngine benchSqlLsm, benchSqlNative;

/* Path of lsmvtab.so for the SQL engines (set from --ext). */
extern const char *benchExtPath;

/* Print "dbbench: <message>" to stderr and exit with status 2. */
void benchDie(const char *zFmt, ...)
  __attribute__((noreturn, format(printf, 1, 2)));

#endif /* BENCH_H */
