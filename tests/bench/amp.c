/*
** amp.c -- measure the engine's write and space amplification.
**
** Two workloads, each on a fresh database with default options except
** sync mode off (amplification does not depend on when the log is
** synced):
**
**   insert     N random inserts: 16-byte keys, 100-byte values;
**   overwrite  N random inserts, then N overwrites of keys drawn at
**              random (with repetition) from those N.
**
** Keys are 16 hex digits of a 64-bit hash of the key number, so inserts
** arrive in random key order; values are random bytes, so LZ4 cannot
** shrink them and the figures are the engine's, not the codec's.  After
** each workload the program flushes and waits until no level scores
** over 1 (background compaction done), then prints lsm_get_stats' figures:
**
**   write_amp   (flush + compaction bytes) / user bytes
**   space_amp   the engine's estimate (table bytes / deepest level)
**   disk/live   table bytes / live bytes (keys * 116), measured
**
** and the same after lsm_compact of everything.
**
** Build and run by hand (not part of `make test`):
**
**   gcc -O2 -Ilsm tests/bench/amp.c lsm/liblsm.a -llz4 -lpthread -o /tmp/amp
**   /tmp/amp [N] [DIR]        N = 1000000, DIR = /tmp/lsm-amp-<pid>
**
** The directory is removed at the end.
*/
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lsm.h"

#define KEY_SIZE 16
#define VAL_SIZE 100
#define BATCH    100

static void die(lsm_db *db, const char *zWhat, int rc){
  fprintf(stderr, "amp: %s: %s (%d)\n", zWhat, db ? lsm_errmsg(db) : "", rc);
  exit(2);
}

static double now(void){
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec*1e-9;
}

/* splitmix64: the key hash and the value generator. */
static uint64_t mix(uint64_t *pState){
  uint64_t z = (*pState += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void makeKey(uint64_t i, char *zKey){
  uint64_t s = i;
  char zBuf[KEY_SIZE+1];
  snprintf(zBuf, sizeof(zBuf), "%016llx", (unsigned long long)mix(&s));
  memcpy(zKey, zBuf, KEY_SIZE);
}

static void makeVal(uint64_t *pRand, char *aVal){
  int i;
  for(i=0; i<VAL_SIZE; i+=8){
    uint64_t x = mix(pRand);
    memcpy(aVal+i, &x, VAL_SIZE-i<8 ? (size_t)(VAL_SIZE-i) : 8);
  }
}

static void removeDir(const char *zDir){
  DIR *pDir = opendir(zDir);
  struct dirent *pEnt;
  if( pDir==0 ) return;
  while( (pEnt = readdir(pDir))!=0 ){
    char zPath[1024];
    if( strcmp(pEnt->d_name, ".")==0 || strcmp(pEnt->d_name, "..")==0 ) continue;
    snprintf(zPath, sizeof(zPath), "%s/%s", zDir, pEnt->d_name);
    unlink(zPath);
  }
  closedir(pDir);
  rmdir(zDir);
}

/* Write nOp entries: key numbers 0..nOp-1 if !bRandomKeys, else drawn at
** random from 0..nKeys-1. */
static void load(lsm_db *db, uint64_t nOp, uint64_t nKeys, int bRandomKeys,
                 uint64_t *pRand){
  lsm_batch *pBatch = 0;
  uint64_t i;
  int rc = lsm_batch_new(&pBatch);
  if( rc ) die(db, "lsm_batch_new", rc);
  for(i=0; i<nOp; i++){
    char aKey[KEY_SIZE], aVal[VAL_SIZE];
    makeKey(bRandomKeys ? mix(pRand) % nKeys : i, aKey);
    makeVal(pRand, aVal);
    rc = lsm_batch_put(pBatch, aKey, KEY_SIZE, aVal, VAL_SIZE);
    if( rc ) die(db, "lsm_batch_put", rc);
    if( lsm_batch_count(pBatch)==BATCH || i==nOp-1 ){
      rc = lsm_write(db, pBatch);
      if( rc ) die(db, "lsm_write", rc);
      lsm_batch_clear(pBatch);
    }
  }
  lsm_batch_free(pBatch);
}

/* Flush, then wait until background compaction has nothing left to do. */
static void settle(lsm_db *db){
  int rc = lsm_flush(db);
  if( rc ) die(db, "lsm_flush", rc);
  for(;;){
    lsm_stats st;
    uint64_t nBefore;
    int i, bBusy = 0;
    lsm_get_stats(db, &st);
    for(i=0; i<LSM_MAX_LEVELS; i++) if( st.aLevelScore[i]>=1.0 ) bBusy = 1;
    nBefore = st.compactions;
    usleep(200000);
    lsm_get_stats(db, &st);
    if( !bBusy && st.compactions==nBefore && st.immutable_count==0 ) break;
  }
}

static void report(lsm_db *db, const char *zName, const char *zWhen,
                   uint64_t nLive, double tSec){
  lsm_stats st;
  int i;
  lsm_get_stats(db, &st);
  printf("%-9s %-16s write_amp %5.2f  space_amp %5.3f  disk/live %5.3f  "
         "table_bytes %11llu  user_bytes %11llu  flush %11llu  compact %11llu"
         "  %6.1f s  levels",
         zName, zWhen, st.write_amp, st.space_amp,
         (double)st.table_bytes / (double)(nLive*(KEY_SIZE+VAL_SIZE)),
         (unsigned long long)st.table_bytes,
         (unsigned long long)st.user_bytes,
         (unsigned long long)st.flush_bytes,
         (unsigned long long)st.compact_bytes, tSec);
  for(i=0; i<LSM_MAX_LEVELS; i++) printf(" %d", st.anLevelFiles[i]);
  printf("\n");
  fflush(stdout);
}

/* Run one workload in zDir: N inserts, then nOverwrite overwrites. */
static void run(const char *zDir, const char *zName, uint64_t n,
                uint64_t nOverwrite){
  lsm_options opts;
  lsm_db *db = 0;
  uint64_t r = 42;
  double t0 = now();
  int rc;
  removeDir(zDir);
  lsm_options_init(&opts);
  opts.sync_mode = LSM_SYNC_OFF;
  rc = lsm_open(zDir, &opts, &db);
  if( rc ) die(db, "lsm_open", rc);
  load(db, n, n, 0, &r);
  if( nOverwrite ) load(db, nOverwrite, n, 1, &r);
  settle(db);
  report(db, zName, "settled", n, now()-t0);
  t0 = now();
  rc = lsm_compact(db, 0, 0, 0, 0);
  if( rc ) die(db, "lsm_compact", rc);
  report(db, zName, "full compaction", n, now()-t0);
  lsm_close(db);
  removeDir(zDir);
}

int main(int argc, char **argv){
  uint64_t n = argc>1 ? strtoull(argv[1], 0, 10) : 1000000;
  char zDir[256];
  if( argc>2 ){
    snprintf(zDir, sizeof(zDir), "%s", argv[2]);
  }else{
    snprintf(zDir, sizeof(zDir), "/tmp/lsm-amp-%ld", (long)getpid());
  }
  if( n==0 ){
    fprintf(stderr, "usage: %s [N] [DIR]\n", argv[0]);
    return 1;
  }
  printf("%llu keys of %d bytes, values of %d random bytes, default options, "
         "sync off\n", (unsigned long long)n, KEY_SIZE, VAL_SIZE);
  run(zDir, "insert", n, 0);
  run(zDir, "overwrite", n, n);
  return 0;
}
