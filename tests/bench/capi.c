/*
** capi.c -- benchmark engines behind C APIs: this engine (lsm/lsm.h),
** LevelDB (<leveldb/c.h>) and RocksDB (<rocksdb/c.h>).  See bench.h for
** the interface.
**
** Configuration, as printed with the results:
**   lsm            lsm_options_init() defaults; sync_mode OFF, or FULL
**                  for fillsync.
**   lsm-mmap       the same plus mmap_reads=1.
**   leveldb        library defaults (no filter; its own 8 MiB block
**                  cache, 4 MiB write buffer, Snappy); sync=false, or
**                  true for fillsync.
**   leveldb-bloom  the same plus a 10 bits/key bloom filter policy.
**   rocksdb        library defaults (rocksdb_options_create()); the same
**                  sync rule.
**   rocksdb-bloom  the same plus a block-based table factory with a
**                  10 bits/key bloom filter.
**
** Every thread of one database shares the one handle (all three
** libraries are thread-safe); a BenchConn holds only what a thread must
** not share: its write batch and the last value it read.
**
** Bytes written by flushes and compactions come from each library's own
** statistics: lsm_get_stats() here; the sum of the "Write(MB)" column of
** the "leveldb.stats" property for LevelDB (whole megabytes per level);
** "Flush(GB): cumulative" plus "Cumulative compaction: ... GB write" of
** the "rocksdb.stats" property for RocksDB (1 and 10 MiB resolution).
*/
#include "bench.h"
#include "lsm.h"

#include <leveldb/c.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*------------------------------------------------------------ this engine --*/

typedef struct LsmBenchDb {
  lsm_db *db;
} LsmBenchDb;

typedef struct LsmBenchConn {
  lsm_db *db;
  lsm_batch *pBatch;
  void *pVal;                   /* value of the last xGet, owned here */
} LsmBenchConn;

static BenchDb *lsmbOpenWith(const char *zDir, int bSync, int bMmap){
  LsmBenchDb *p = calloc(1, sizeof(*p));
  lsm_options opts;
  int rc;
  if( p==0 ) benchDie("out of memory");
  lsm_options_init(&opts);
  opts.sync_mode = bSync ? LSM_SYNC_FULL : LSM_SYNC_OFF;
  opts.mmap_reads = bMmap;
  rc = lsm_open(zDir, &opts, &p->db);
  if( rc!=LSM_OK ){
    benchDie("lsm_open %s: %s", zDir, p->db ? lsm_errmsg(p->db) : "no memory");
  }
  return (BenchDb*)p;
}

static BenchDb *lsmbOpen(const char *zDir, int bSync){
  return lsmbOpenWith(zDir, bSync, 0);
}

static BenchDb *lsmbOpenMmap(const char *zDir, int bSync){
  return lsmbOpenWith(zDir, bSync, 1);
}

static void lsmbClose(BenchDb *pDb){
  LsmBenchDb *p = (LsmBenchDb*)pDb;
  int rc = lsm_close(p->db);
  if( rc!=LSM_OK ) benchDie("lsm_close: %s", lsm_errstr(rc));
  free(p);
}

static BenchConn *lsmbConnect(BenchDb *pDb){
  LsmBenchConn *c = calloc(1, sizeof(*c));
  if( c==0 ) benchDie("out of memory");
  c->db = ((LsmBenchDb*)pDb)->db;
  if( lsm_batch_new(&c->pBatch)!=LSM_OK ) benchDie("lsm_batch_new failed");
  return (BenchConn*)c;
}

static void lsmbDisconnect(BenchConn *pConn){
  LsmBenchConn *c = (LsmBenchConn*)pConn;
  lsm_batch_free(c->pBatch);
  lsm_free(c->pVal);
  free(c);
}

static void lsmbWrite(BenchConn *pConn, const BenchBatch *b){
  LsmBenchConn *c = (LsmBenchConn*)pConn;
  int rc = lsm_batch_clear(c->pBatch);
  int i;
  for(i=0; rc==LSM_OK && i<b->nOp; i++){
    const char *pKey = b->aKey + (size_t)i*b->nKey;
    if( b->abDel[i] ){
      rc = lsm_batch_delete(c->pBatch, pKey, b->nKey);
    }else{
      rc = lsm_batch_put(c->pBatch, pKey, b->nKey,
                         b->aVal + (size_t)i*b->nVal, b->nVal);
    }
  }
  if( rc==LSM_OK ) rc = lsm_write(c->db, c->pBatch);
  if( rc!=LSM_OK ) benchDie("lsm_write: %s", lsm_errmsg(c->db));
}

static int lsmbGet(BenchConn *pConn, const char *pKey, int nKey,
                   const void **ppVal, size_t *pnVal){
  LsmBenchConn *c = (LsmBenchConn*)pConn;
  int rc;
  lsm_free(c->pVal);
  c->pVal = 0;
  rc = lsm_get(c->db, 0, pKey, (size_t)nKey, &c->pVal, pnVal);
  if( rc==LSM_NOTFOUND ) return 0;
  if( rc!=LSM_OK ){
    benchDie("lsm_get: %s (%s)", lsm_errstr(rc), lsm_errmsg(c->db));
  }
  *ppVal = c->pVal;
  return 1;
}

static uint64_t lsmbScan(BenchConn *pConn, const char *pStart, int nStart,
                         int nLimit, BenchRowFn xRow, void *pArg){
  LsmBenchConn *c = (LsmBenchConn*)pConn;
  lsm_iter *pIter = 0;
  uint64_t n = 0;
  int rc = lsm_iter_new(c->db, 0, 0, 0, 0, 0, &pIter);
  if( rc==LSM_OK ){
    rc = pStart ? lsm_iter_seek(pIter, pStart, (size_t)nStart)
                : lsm_iter_first(pIter);
  }
  while( rc==LSM_OK && lsm_iter_valid(pIter)
      && (nLimit<0 || n<(uint64_t)nLimit) ){
    size_t nKey, nVal;
    const void *pKey = lsm_iter_key(pIter, &nKey);
    const void *pVal = lsm_iter_value(pIter, &nVal);
    n++;
    if( xRow(pArg, pKey, nKey, pVal, nVal) ) break;
    rc = lsm_iter_next(pIter);
  }
  if( rc==LSM_OK && pIter && !lsm_iter_valid(pIter) ){
    rc = lsm_iter_status(pIter);
  }
  lsm_iter_free(pIter);
  if( rc!=LSM_OK ){
    benchDie("lsm iterator: %s (%s)", lsm_errstr(rc), lsm_errmsg(c->db));
  }
  return n;
}

static double lsmbWritten(BenchDb *pDb){
  lsm_stats s;
  int rc = lsm_get_stats(((LsmBenchDb*)pDb)->db, &s);
  if( rc!=LSM_OK ) benchDie("lsm_get_stats: %s", lsm_errstr(rc));
  return (double)(s.flush_bytes + s.compact_bytes);
}

const BenchEngine benchLsm = {
  "lsm", "this engine, C API: lsm_options_init() defaults (bloom 10 bits, "
  "8 MiB cache, 4 MiB memtable, LZ4); sync OFF, FULL for fillsync",
  lsmbOpen, lsmbClose, lsmbConnect, lsmbDisconnect,
  lsmbWrite, lsmbGet, lsmbScan, lsmbWritten
};
const BenchEngine benchLsmMmap = {
  "lsm-mmap", "this engine as above plus mmap_reads=1 (tables read through "
  "memory maps, not pread)",
  lsmbOpenMmap, lsmbClose, lsmbConnect, lsmbDisconnect,
  lsmbWrite, lsmbGet, lsmbScan, lsmbWritten
};

/*---------------------------------------------------------------- LevelDB --*/

typedef struct LdbBenchDb {
  leveldb_t *db;
  leveldb_options_t *pOpts;
  leveldb_filterpolicy_t *pFilter;    /* NULL: library default (none) */
  leveldb_writeoptions_t *pWrite;
  leveldb_readoptions_t *pRead;
} LdbBenchDb;

typedef struct LdbBenchConn {
  LdbBenchDb *p;
  leveldb_writebatch_t *pBatch;
  char *pVal;                         /* value of the last xGet */
} LdbBenchConn;

static BenchDb *ldbOpenWith(const char *zDir, int bSync, int bBloom){
  LdbBenchDb *p = calloc(1, sizeof(*p));
  char *zErr = 0;
  if( p==0 ) benchDie("out of memory");
  p->pOpts = leveldb_options_create();
  leveldb_options_set_create_if_missing(p->pOpts, 1);
  if( bBloom ){
    p->pFilter = leveldb_filterpolicy_create_bloom(10);
    leveldb_options_set_filter_policy(p->pOpts, p->pFilter);
  }
  p->db = leveldb_open(p->pOpts, zDir, &zErr);
  if( zErr ) benchDie("leveldb_open %s: %s", zDir, zErr);
  p->pWrite = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(p->pWrite, (unsigned char)(bSync!=0));
  p->pRead = leveldb_readoptions_create();
  return (BenchDb*)p;
}
static BenchDb *ldbOpen(const char *zDir, int bSync){
  return ldbOpenWith(zDir, bSync, 0);
}
static BenchDb *ldbOpenBloom(const char *zDir, int bSync){
  return ldbOpenWith(zDir, bSync, 1);
}

static void ldbClose(BenchDb *pDb){
  LdbBenchDb *p = (LdbBenchDb*)pDb;
  leveldb_close(p->db);
  leveldb_writeoptions_destroy(p->pWrite);
  leveldb_readoptions_destroy(p->pRead);
  leveldb_options_destroy(p->pOpts);
  if( p->pFilter ) leveldb_filterpolicy_destroy(p->pFilter);
  free(p);
}

static BenchConn *ldbConnect(BenchDb *pDb){
  LdbBenchConn *c = calloc(1, sizeof(*c));
  if( c==0 ) benchDie("out of memory");
  c->p = (LdbBenchDb*)pDb;
  c->pBatch = leveldb_writebatch_create();
  return (BenchConn*)c;
}

static void ldbDisconnect(BenchConn *pConn){
  LdbBenchConn *c = (LdbBenchConn*)pConn;
  leveldb_writebatch_destroy(c->pBatch);
  leveldb_free(c->pVal);
  free(c);
}

static void ldbWrite(BenchConn *pConn, const BenchBatch *b){
  LdbBenchConn *c = (LdbBenchConn*)pConn;
  char *zErr = 0;
  int i;
  leveldb_writebatch_clear(c->pBatch);
  for(i=0; i<b->nOp; i++){
    const char *pKey = b->aKey + (size_t)i*b->nKey;
    if( b->abDel[i] ){
      leveldb_writebatch_delete(c->pBatch, pKey, (size_t)b->nKey);
    }else{
      leveldb_writebatch_put(c->pBatch, pKey, (size_t)b->nKey,
                             b->aVal + (size_t)i*b->nVal, b->nVal);
    }
  }
  leveldb_write(c->p->db, c->p->pWrite, c->pBatch, &zErr);
  if( zErr ) benchDie("leveldb_write: %s", zErr);
}

static int ldbGet(BenchConn *pConn, const char *pKey, int nKey,
                  const void **ppVal, size_t *pnVal){
  LdbBenchConn *c = (LdbBenchConn*)pConn;
  char *zErr = 0;
  leveldb_free(c->pVal);
  c->pVal = leveldb_get(c->p->db, c->p->pRead, pKey, (size_t)nKey,
                        pnVal, &zErr);
  if( zErr ) benchDie("leveldb_get: %s", zErr);
  if( c->pVal==0 ) return 0;
  *ppVal = c->pVal;
  return 1;
}

static uint64_t ldbScan(BenchConn *pConn, const char *pStart, int nStart,
                        int nLimit, BenchRowFn xRow, void *pArg){
  LdbBenchConn *c = (LdbBenchConn*)pConn;
  leveldb_iterator_t *pIter = leveldb_create_iterator(c->p->db, c->p->pRead);
  uint64_t n = 0;
  char *zErr = 0;
  if( pStart ){
    leveldb_iter_seek(pIter, pStart, (size_t)nStart);
  }else{
    leveldb_iter_seek_to_first(pIter);
  }
  while( leveldb_iter_valid(pIter) && (nLimit<0 || n<(uint64_t)nLimit) ){
    size_t nKey, nVal;
    const char *pKey = leveldb_iter_key(pIter, &nKey);
    const char *pVal = leveldb_iter_value(pIter, &nVal);
    n++;
    if( xRow(pArg, pKey, nKey, pVal, nVal) ) break;
    leveldb_iter_next(pIter);
  }
  leveldb_iter_get_error(pIter, &zErr);
  leveldb_iter_destroy(pIter);
  if( zErr ) benchDie("leveldb iterator: %s", zErr);
  return n;
}

/* Sum the Write(MB) column of "leveldb.stats": one row per level after
** the dashed line, "level files size(MB) time(sec) read(MB) write(MB)". */
static double ldbWritten(BenchDb *pDb){
  LdbBenchDb *p = (LdbBenchDb*)pDb;
  char *z = leveldb_property_value(p->db, "leveldb.stats");
  char *zLine;
  double mb = 0.0;
  if( z==0 ) return -1.0;
  zLine = strstr(z, "---\n");
  while( zLine && (zLine = strchr(zLine, '\n'))!=0 ){
    int iLevel, nFiles;
    double size, secs, rd, wr;
    zLine++;
    if( sscanf(zLine, "%d %d %lf %lf %lf %lf", &iLevel, &nFiles, &size,
               &secs, &rd, &wr)==6 ){
      mb += wr;
    }
  }
  leveldb_free(z);
  return mb * 1048576.0;
}

const BenchEngine benchLeveldb = {
  "leveldb", "LevelDB C API, library defaults (no filter, 8 MiB cache, "
  "4 MiB write buffer, Snappy); sync=false, true for fillsync",
  ldbOpen, ldbClose, ldbConnect, ldbDisconnect,
  ldbWrite, ldbGet, ldbScan, ldbWritten
};
const BenchEngine benchLeveldbBloom = {
  "leveldb-bloom", "LevelDB as above plus "
  "leveldb_filterpolicy_create_bloom(10)",
  ldbOpenBloom, ldbClose, ldbConnect, ldbDisconnect,
  ldbWrite, ldbGet, ldbScan, ldbWritten
};

/*---------------------------------------------------------------- RocksDB --*/

typedef struct RdbBenchDb {
  rocksdb_t *db;
  rocksdb_options_t *pOpts;
  rocksdb_writeoptions_t *pWrite;
  rocksdb_readoptions_t *pRead;
} RdbBenchDb;

typedef struct RdbBenchConn {
  RdbBenchDb *p;
  rocksdb_writebatch_t *pBatch;
  rocksdb_pinnableslice_t *pVal;      /* value of the last xGet */
} RdbBenchConn;

static BenchDb *rdbOpenWith(const char *zDir, int bSync, int bBloom){
  RdbBenchDb *p = calloc(1, sizeof(*p));
  char *zErr = 0;
  if( p==0 ) benchDie("out of memory");
  p->pOpts = rocksdb_options_create();
  rocksdb_options_set_create_if_missing(p->pOpts, 1);
  if( bBloom ){
    /* The factory copies the table options; the filter policy is shared
    ** with it, so destroying the options object here is safe. */
    rocksdb_block_based_table_options_t *pTab =
        rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_filter_policy(pTab,
        rocksdb_filterpolicy_create_bloom(10));
    rocksdb_options_set_block_based_table_factory(p->pOpts, pTab);
    rocksdb_block_based_options_destroy(pTab);
  }
  p->db = rocksdb_open(p->pOpts, zDir, &zErr);
  if( zErr ) benchDie("rocksdb_open %s: %s", zDir, zErr);
  p->pWrite = rocksdb_writeoptions_create();
  rocksdb_writeoptions_set_sync(p->pWrite, (unsigned char)(bSync!=0));
  p->pRead = rocksdb_readoptions_create();
  return (BenchDb*)p;
}
static BenchDb *rdbOpen(const char *zDir, int bSync){
  return rdbOpenWith(zDir, bSync, 0);
}
static BenchDb *rdbOpenBloom(const char *zDir, int bSync){
  return rdbOpenWith(zDir, bSync, 1);
}

static void rdbClose(BenchDb *pDb){
  RdbBenchDb *p = (RdbBenchDb*)pDb;
  rocksdb_close(p->db);
  rocksdb_writeoptions_destroy(p->pWrite);
  rocksdb_readoptions_destroy(p->pRead);
  rocksdb_options_destroy(p->pOpts);
  free(p);
}

static BenchConn *rdbConnect(BenchDb *pDb){
  RdbBenchConn *c = calloc(1, sizeof(*c));
  if( c==0 ) benchDie("out of memory");
  c->p = (RdbBenchDb*)pDb;
  c->pBatch = rocksdb_writebatch_create();
  return (BenchConn*)c;
}

static void rdbDisconnect(BenchConn *pConn){
  RdbBenchConn *c = (RdbBenchConn*)pConn;
  rocksdb_writebatch_destroy(c->pBatch);
  if( c->pVal ) rocksdb_pinnableslice_destroy(c->pVal);
  free(c);
}

static void rdbWrite(BenchConn *pConn, const BenchBatch *b){
  RdbBenchConn *c = (RdbBenchConn*)pConn;
  char *zErr = 0;
  int i;
  rocksdb_writebatch_clear(c->pBatch);
  for(i=0; i<b->nOp; i++){
    const char *pKey = b->aKey + (size_t)i*b->nKey;
    if( b->abDel[i] ){
      rocksdb_writebatch_delete(c->pBatch, pKey, (size_t)b->nKey);
    }else{
      rocksdb_writebatch_put(c->pBatch, pKey, (size_t)b->nKey,
                             b->aVal + (size_t)i*b->nVal, b->nVal);
    }
  }
  rocksdb_write(c->p->db, c->p->pWrite, c->pBatch, &zErr);
  if( zErr ) benchDie("rocksdb_write: %s", zErr);
}

/* Uses the pinned-slice read, RocksDB's copy-free Get. */
static int rdbGet(BenchConn *pConn, const char *pKey, int nKey,
                  const void **ppVal, size_t *pnVal){
  RdbBenchConn *c = (RdbBenchConn*)pConn;
  char *zErr = 0;
  if( c->pVal ) rocksdb_pinnableslice_destroy(c->pVal);
  c->pVal = rocksdb_get_pinned(c->p->db, c->p->pRead, pKey, (size_t)nKey,
                               &zErr);
  if( zErr ) benchDie("rocksdb_get_pinned: %s", zErr);
  if( c->pVal==0 ) return 0;
  *ppVal = rocksdb_pinnableslice_value(c->pVal, pnVal);
  return 1;
}

static uint64_t rdbScan(BenchConn *pConn, const char *pStart, int nStart,
                        int nLimit, BenchRowFn xRow, void *pArg){
  RdbBenchConn *c = (RdbBenchConn*)pConn;
  rocksdb_iterator_t *pIter = rocksdb_create_iterator(c->p->db, c->p->pRead);
  uint64_t n = 0;
  char *zErr = 0;
  if( pStart ){
    rocksdb_iter_seek(pIter, pStart, (size_t)nStart);
  }else{
    rocksdb_iter_seek_to_first(pIter);
  }
  while( rocksdb_iter_valid(pIter) && (nLimit<0 || n<(uint64_t)nLimit) ){
    size_t nKey, nVal;
    const char *pKey = rocksdb_iter_key(pIter, &nKey);
    const char *pVal = rocksdb_iter_value(pIter, &nVal);
    n++;
    if( xRow(pArg, pKey, nKey, pVal, nVal) ) break;
    rocksdb_iter_next(pIter);
  }
  rocksdb_iter_get_error(pIter, &zErr);
  rocksdb_iter_destroy(pIter);
  if( zErr ) benchDie("rocksdb iterator: %s", zErr);
  return n;
}

/* "Flush(GB): cumulative F" and "Cumulative compaction: C GB write" of
** the "rocksdb.stats" property, in bytes (RocksDB's GB is 2^30). */
static double rdbWritten(BenchDb *pDb){
  RdbBenchDb *p = (RdbBenchDb*)pDb;
  char *z = rocksdb_property_value(p->db, "rocksdb.stats");
  const char *zFlush, *zComp;
  double flushGb = 0.0, compGb = 0.0;
  int bOk;
  if( z==0 ) return -1.0;
  zFlush = strstr(z, "Flush(GB): cumulative ");
  zComp = strstr(z, "Cumulative compaction: ");
  bOk = zFlush && zComp
     && sscanf(zFlush, "Flush(GB): cumulative %lf", &flushGb)==1
     && sscanf(zComp, "Cumulative compaction: %lf", &compGb)==1;
  rocksdb_free(z);
  return bOk ? (flushGb + compGb) * 1073741824.0 : -1.0;
}

const BenchEngine benchRocksdb = {
  "rocksdb", "RocksDB C API, library defaults (rocksdb_options_create(): "
  "no filter, 64 MiB write buffer, Snappy); sync=false, true for fillsync",
  rdbOpen, rdbClose, rdbConnect, rdbDisconnect,
  rdbWrite, rdbGet, rdbScan, rdbWritten
};
const BenchEngine benchRocksdbBloom = {
  "rocksdb-bloom", "RocksDB as above plus a block-based table factory with "
  "rocksdb_filterpolicy_create_bloom(10)",
  rdbOpenBloom, rdbClose, rdbConnect, rdbDisconnect,
  rdbWrite, rdbGet, rdbScan, rdbWritten
};
