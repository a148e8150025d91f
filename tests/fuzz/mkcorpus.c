/*
** mkcorpus.c -- write the seed corpora of the fuzz targets from real files.
**
**     tests/fuzz/run.sh corpus        (builds and runs this program)
**
** It builds a small database with the engine (a few dozen keys, small
** blocks, a flush, a compaction and some commits left in the log), then
** writes, under tests/fuzz/corpus/<target>/, each seed as its target
** reads it (the mode byte first, see each fuzz_*.c):
**
**   log/       the log, with and without checksum repair; its first half
**   table/     a compressed table with a filter, and an uncompressed one
**              without, each plain and with repair and the block cache
**   manifest/  the manifest, alone and after its CURRENT
**   batch/     the payloads of a few log records
**   keycodec/  encoded keys of each kind, a record, a list of values
**
** Every seed is a few KiB at most.  Run it again after a format change.
*/
#define SQLITE_CORE 1
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>

#include "lsm.h"
#include "keycodec.h"

static const char *zOut;     /* tests/fuzz/corpus */

static void die(const char *zWhat){
  fprintf(stderr, "mkcorpus: %s\n", zWhat);
  exit(1);
}

static unsigned char *readAll(const char *zPath, size_t *pn){
  FILE *p = fopen(zPath, "rb");
  unsigned char *a;
  long n;
  if( p==0 ) die(zPath);
  fseek(p, 0, SEEK_END);
  n = ftell(p);
  fseek(p, 0, SEEK_SET);
  a = malloc((size_t)n + 1);
  if( a==0 || fread(a, 1, (size_t)n, p)!=(size_t)n ) die(zPath);
  fclose(p);
  *pn = (size_t)n;
  return a;
}

/* Write seed zName of target zTarget: the prefix bytes, then a[0..n-1]. */
static void seed(const char *zTarget, const char *zName,
                 const unsigned char *aPre, size_t nPre,
                 const unsigned char *a, size_t n){
  char zPath[512];
  FILE *p;
  snprintf(zPath, sizeof(zPath), "%s/%s", zOut, zTarget);
  mkdir(zPath, 0755);
  snprintf(zPath, sizeof(zPath), "%s/%s/%s", zOut, zTarget, zName);
  p = fopen(zPath, "wb");
  if( p==0 ) die(zPath);
  if( (nPre && fwrite(aPre, 1, nPre, p)!=nPre)
   || (n && fwrite(a, 1, n, p)!=n) ){
    die(zPath);
  }
  fclose(p);
}

/* Build a database in zDir with the given compression and bloom bits. */
static void buildDb(const char *zDir, int eCompression, int nBloom){
  lsm_options opts;
  lsm_db *db = 0;
  lsm_batch *pBatch = 0;
  char zKey[32], zVal[128];
  int i;
  lsm_options_init(&opts);
  opts.block_size = 256;
  opts.compression = eCompression;
  opts.bloom_bits = nBloom;
  opts.memtable_size = 1<<20;
  if( lsm_open(zDir, &opts, &db)!=LSM_OK ) die("lsm_open");
  for(i=0; i<24; i++){
    snprintf(zKey, sizeof(zKey), "key%03d", i*3);
    snprintf(zVal, sizeof(zVal), "value %d: the quick brown fox %d", i, i*i);
    if( lsm_put(db, zKey, strlen(zKey), zVal, strlen(zVal)) ) die("put");
  }
  if( lsm_delete(db, "key009", 6) ) die("delete");
  if( lsm_flush(db) || lsm_compact(db, 0, 0, 0, 0) ) die("flush");
  if( lsm_batch_new(&pBatch) ) die("batch");
  for(i=0; i<4; i++){
    snprintf(zKey, sizeof(zKey), "key%03d", i*7);
    lsm_batch_put(pBatch, zKey, strlen(zKey), "batched", 7);
  }
  lsm_batch_delete(pBatch, "key003", 6);
  lsm_batch_put(pBatch, "", 0, "empty key", 9);
  if( lsm_write(db, pBatch) ) die("write");
  lsm_batch_free(pBatch);
  if( lsm_put(db, "key001", 6, "", 0) || lsm_delete(db, "key999", 6) ) die("put");
  if( lsm_close(db) ) die("close");
}

/* The first file in zDir whose name ends with zSuffix (or starts with
** zPrefix), as a full path in zPath. */
static void findFile(const char *zDir, const char *zPrefix, const char *zSuffix,
                     char *zPath, size_t nPath){
  DIR *pDir = opendir(zDir);
  struct dirent *pEnt;
  if( pDir==0 ) die(zDir);
  zPath[0] = 0;
  while( (pEnt = readdir(pDir))!=0 ){
    const char *z = pEnt->d_name;
    size_t n = strlen(z);
    if( (zPrefix && strncmp(z, zPrefix, strlen(zPrefix))==0)
     || (zSuffix && n>strlen(zSuffix) && strcmp(z+n-strlen(zSuffix), zSuffix)==0) ){
      snprintf(zPath, nPath, "%s/%s", zDir, z);
      break;
    }
  }
  closedir(pDir);
  if( zPath[0]==0 ) die("no such file");
}

static void keySeed(const char *zName, const LsmvValue *v, unsigned char mode){
  LsmvBuf enc = {0, 0, 0};
  unsigned flags = 0;
  if( lsmvKeyEncode(v, &enc, &flags) ) die("key encode");
  mode = (unsigned char)(mode | flags);
  seed("keycodec", zName, &mode, 1, enc.a, enc.n);
  lsmvBufFree(&enc);
}

static void keycodecSeeds(void){
  LsmvValue v;
  LsmvBuf rec = {0, 0, 0};
  static const unsigned char aList[] = {
    0x00, 0x80, 0, 0, 0, 0, 0, 0, 1,           /* integer */
    0x01, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,        /* real 1.5 */
    0x02, 3, 'a', 'b', 'c',                    /* text */
    0x03, 2, 0x00, 0xff,                       /* blob */
    0x04, 0xfe,                                /* small integer -2 */
    0x05, 12,                                  /* edge real */
  };
  unsigned char m = 0;
  memset(&v, 0, sizeof(v));
  v.eType = SQLITE_INTEGER; v.iVal = -123456789;
  keySeed("key-int", &v, 0);
  v.eType = SQLITE_FLOAT; v.rVal = 3.25;
  keySeed("key-real", &v, 0);
  v.eType = SQLITE_FLOAT; v.rVal = -1e30;
  keySeed("key-bigreal", &v, 0);
  v.eType = SQLITE_TEXT; v.z = (const unsigned char*)"hello"; v.n = 5;
  keySeed("key-text", &v, 0);
  v.eType = SQLITE_BLOB; v.z = (const unsigned char*)"\x00\x01\xff"; v.n = 3;
  keySeed("key-blob", &v, 0);
  if( lsmvRecordBegin(&rec, 1) ) die("record");
  v.eType = SQLITE_NULL;
  lsmvRecordAppend(&rec, &v);
  v.eType = SQLITE_INTEGER; v.iVal = -7;
  lsmvRecordAppend(&rec, &v);
  v.eType = SQLITE_FLOAT; v.rVal = 0.1;
  lsmvRecordAppend(&rec, &v);
  v.eType = SQLITE_TEXT; v.z = (const unsigned char*)"text"; v.n = 4;
  lsmvRecordAppend(&rec, &v);
  v.eType = SQLITE_BLOB; v.z = (const unsigned char*)"\x01\x02"; v.n = 2;
  lsmvRecordAppend(&rec, &v);
  seed("keycodec", "record", &m, 1, rec.a, rec.n);
  lsmvBufFree(&rec);
  seed("keycodec", "values", &m, 1, aList, sizeof(aList));
}

int main(int argc, char **argv){
  char zDb[256], zPath[512];
  unsigned char *a;
  size_t n, i, nRec;
  int k;
  static const unsigned char aTwo[2] = {0x00, 0x00};

  if( argc!=2 ) die("usage: mkcorpus CORPUS-DIR");
  zOut = argv[1];
  mkdir(zOut, 0755);

  snprintf(zDb, sizeof(zDb), "/tmp/lsm-mkcorpus-%d", (int)getpid());
  buildDb(zDb, LSM_COMPRESSION_LZ4, 10);

  /* log: the whole log in three modes, and its first half. */
  findFile(zDb, 0, ".log", zPath, sizeof(zPath));
  a = readAll(zPath, &n);
  seed("log", "log-sync-batches", (const unsigned char*)"\x06", 1, a, n);
  seed("log", "log-repair", (const unsigned char*)"\x05", 1, a, n);
  seed("log", "log-half", (const unsigned char*)"\x00", 1, a, n/2);
  /* batch: the payloads of the first three records. */
  for(i=0, k=0; i+9<=n && k<3; k++){
    char zName[32];
    nRec = (size_t)a[i+4] | (size_t)a[i+5]<<8 | (size_t)a[i+6]<<16
         | (size_t)a[i+7]<<24;
    if( nRec>n-i-9 ) break;
    snprintf(zName, sizeof(zName), "batch-%d", k);
    seed("batch", zName, 0, 0, a+i+9, nRec);
    i += 9 + nRec;
  }
  free(a);

  /* table: compressed with a filter. */
  findFile(zDb, 0, ".sst", zPath, sizeof(zPath));
  a = readAll(zPath, &n);
  seed("table", "lz4-bloom", (const unsigned char*)"\x00", 1, a, n);
  seed("table", "lz4-bloom-repair-cache", (const unsigned char*)"\x03", 1, a, n);
  free(a);

  /* manifest: alone, and after CURRENT (mode bit 1). */
  findFile(zDb, "MANIFEST-", 0, zPath, sizeof(zPath));
  a = readAll(zPath, &n);
  seed("manifest", "manifest", aTwo, 2, a, n);
  {
    static const unsigned char aPre[] = "\x03\x10MANIFEST-000001\n";
    seed("manifest", "current-manifest", aPre, sizeof(aPre)-1, a, n);
  }
  free(a);

  /* A second database: no compression, no filter. */
  snprintf(zPath, sizeof(zPath), "rm -rf '%s'", zDb);
  if( system(zPath)!=0 ) die("rm");
  buildDb(zDb, LSM_COMPRESSION_NONE, 0);
  findFile(zDb, 0, ".sst", zPath, sizeof(zPath));
  a = readAll(zPath, &n);
  seed("table", "raw-nofilter", (const unsigned char*)"\x01", 1, a, n);
  free(a);
  snprintf(zPath, sizeof(zPath), "rm -rf '%s'", zDb);
  if( system(zPath)!=0 ) die("rm");

  keycodecSeeds();
  return 0;
}
