/*
** dbbench.c -- a db_bench-style benchmark driver for this engine, LevelDB,
** RocksDB and SQLite (the `lsm` virtual table and a native table).
**
**     dbbench [--engines=lsm,leveldb,...] [--benchmarks=fillseq,...]
**             [--num=N] [--reads=N] [--sync_num=N] [--key_size=N]
**             [--value_size=N] [--batch=N] [--seed=N] [--threads=1,4,8]
**             [--slices=N] [--db=DIR] [--ext=PATH] [--results=FILE]
**             [--keep=1]
**     dbbench --report=FILE
**
** Each engine in --engines runs each benchmark in --benchmarks, in order,
** in this process.  tests/bench/run.sh runs the program once per engine,
** so that the peak RSS of each process belongs to one engine, collects
** the rows with --results, and prints the combined tables with --report.
**
** Workloads (names as in LevelDB's db_bench):
**   fillseq       fresh database; entries 0..num-1 in key order
**   fillrandom    fresh database; every key once, in random order
**   overwrite     num puts of uniformly random keys (with repeats)
**   readrandom    --reads gets of random written keys (hits)
**   readmissing   --reads gets of keys never written (between written ones)
**   readseq       one scan of the whole database
**   seekrandom    --reads seeks to a random key, each reading 10 rows
**   deleterandom  num deletes of uniformly random keys (with repeats)
**   fillsync      fresh database per entry of --threads; --sync_num puts,
**                 each its own synced commit, split over that many threads
**                 sharing one handle (C APIs) or each with its own
**                 connection (SQL)
** Writes other than fillsync go in batches of --batch operations, each
** batch one atomic commit (for SQL, one transaction).  A read workload
** that finds no filled database first runs fillrandom, untimed.
**
** Keys and values.  Key number k is k in decimal, zero-padded to
** --key_size bytes.  Entry i of the data set is stored under key 2*i, so
** key 2*i+1 is a missing key that sorts among the written ones (a bloom
** filter, not a key-range check, has to reject it).  The value of entry i
** at version v (1 at the first write, one more at each overwrite) is
** value_size bytes: the first half from a generator seeded by (--seed, i,
** v), the second half a repeat of the first, so that block compression
** can halve it.  The driver keeps every entry's version (0 = absent) and
** checks every value read, every key a scan returns, and every miss; a
** wrong result prints what was expected and exits with status 3.  After
** each write workload 1,000 random entries are read back, untimed.
**
** Measurements.  Time is wall-clock around the workload only (value
** generation and checking included, identically for every engine).  Per
** row: ops/s, us/op, MB/s (key and value bytes written or read), and for
** write workloads, taken once the database directory has stopped
** changing size for half a second (background flushes and compactions
** done; at most 30 s, untimed): bytes of all files in the directory,
** write amplification (bytes written by flushes and compactions over key
** and value bytes written since the database was created, from the
** engine's own statistics; "-" if it has none), io/user (bytes passed to
** write() by the whole process since the database was created,
** /proc/self/io wchar, over the same user bytes: includes logs), and
** peak RSS (getrusage, the whole process so far).  fillsync rows add
** fsync and fdatasync calls per write, counted by the wrappers below,
** which every library in the process (and the extension) binds to
** instead of libc's; and, measured in the same process just before, the
** latency of a write of 128 bytes plus fdatasync() on a file in the same
** directory.
**
** Output.  Each row is printed as it completes; without --results the
** combined tables follow at the end.  With --results=FILE the rows are
** appended to FILE instead, in a line format (P: parameters, C:
** engine configuration, R: result) that --report reads back to print the
** combined result table, the ratio table, the fillsync table, the target
** checks and, with --slices, the throughput of each slice of the fills.
**
** Data lives in --db (default /tmp/lsmbench-<pid>), removed when the
** program exits, even after a failure, unless --keep=1 (then the
** databases of a failed run stay for lsmtool).
*/
#include "bench.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

/*------------------------------------------------------- fsync counting --*/

/*
** Every fsync() and fdatasync() in the process lands here: the engine is
** linked into this program, and the shared libraries (LevelDB, RocksDB,
** SQLite, lsmvtab.so) bind to the executable's definitions first (it is
** linked with -rdynamic).  Each wrapper counts, then makes the system call
** libc would have made.
*/
static uint64_t nSyncCalls = 0;

int fsync(int fd){
  __atomic_add_fetch(&nSyncCalls, 1, __ATOMIC_RELAXED);
  return (int)syscall(SYS_fsync, fd);
}
int fdatasync(int fd){
  __atomic_add_fetch(&nSyncCalls, 1, __ATOMIC_RELAXED);
  return (int)syscall(SYS_fdatasync, fd);
}

static uint64_t syncCalls(void){
  return __atomic_load_n(&nSyncCalls, __ATOMIC_RELAXED);
}

/*------------------------------------------------------------- utilities --*/

void benchDie(const char *zFmt, ...){
  va_list ap;
  fprintf(stderr, "dbbench: ");
  va_start(ap, zFmt);
  vfprintf(stderr, zFmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  exit(2);
}

/* A wrong result: say what and exit with status 3. */
static void verifyFail(const char *zEngine, const char *zBench,
                       const char *zFmt, ...)
  __attribute__((noreturn, format(printf, 3, 4)));
static void verifyFail(const char *zEngine, const char *zBench,
                       const char *zFmt, ...){
  va_list ap;
  fprintf(stderr, "dbbench: WRONG RESULT (%s, %s): ", zEngine, zBench);
  va_start(ap, zFmt);
  vfprintf(stderr, zFmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  exit(3);
}

static double nowSecs(void){
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec*1e-9;
}

static long peakRssKb(void){
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* Bytes passed to write()-like calls by this process so far (wchar of
** /proc/self/io), or 0 where that file does not exist. */
static uint64_t processWchar(void){
  FILE *f = fopen("/proc/self/io", "r");
  char zLine[128];
  unsigned long long n = 0;
  if( f==0 ) return 0;
  while( fgets(zLine, sizeof(zLine), f) ){
    if( sscanf(zLine, "wchar: %llu", &n)==1 ) break;
  }
  fclose(f);
  return n;
}

static uint64_t nDirBytes;       /* accumulator of dirBytes() */
static int dirBytesEntry(const char *zPath, const struct stat *pSt,
                         int eType, struct FTW *pFtw){
  (void)zPath; (void)pFtw;
  if( eType==FTW_F ) nDirBytes += (uint64_t)pSt->st_size;
  return 0;
}
/* Sum of the sizes of the regular files under zDir. */
static uint64_t dirBytes(const char *zDir){
  nDirBytes = 0;
  nftw(zDir, dirBytesEntry, 32, FTW_PHYS);
  return nDirBytes;
}

static int removeEntry(const char *zPath, const struct stat *pSt,
                       int eType, struct FTW *pFtw){
  (void)pSt; (void)eType; (void)pFtw;
  remove(zPath);
  return 0;
}
/* rm -rf zDir (a missing zDir is fine). */
static void removeTree(const char *zDir){
  nftw(zDir, removeEntry, 32, FTW_DEPTH|FTW_PHYS);
}

/*------------------------------------------------ randomness and keys --*/

static uint64_t mix64(uint64_t x){
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

typedef struct Rng { uint64_t s; } Rng;
static uint64_t rngNext(Rng *r){
  r->s += 0x9e3779b97f4a7c15ULL;
  return mix64(r->s);
}
/* Uniform in [0, n). */
static uint64_t rngBelow(Rng *r, uint64_t n){
  return (uint64_t)(((unsigned __int128)rngNext(r) * n) >> 64);
}

/*
** A pseudo-random permutation of [0, n) without a table: a four-round
** Feistel network on the smallest even number of bits covering n, walked
** until the result falls inside [0, n) (a bijection on the larger domain
** restricted this way stays a bijection on [0, n)).
*/
typedef struct Perm {
  uint64_t n;
  int nHalf;                  /* bits per Feistel half */
  uint64_t mask;
  uint64_t aKey[4];
} Perm;

static void permInit(Perm *p, uint64_t n, uint64_t iSeed){
  int i;
  p->n = n;
  p->nHalf = 1;
  while( p->nHalf<32 && ((uint64_t)1 << (2*p->nHalf)) < n ) p->nHalf++;
  p->mask = ((uint64_t)1 << p->nHalf) - 1;
  for(i=0; i<4; i++) p->aKey[i] = mix64(iSeed*4 + (uint64_t)i + 0x5157);
}

static uint64_t permAt(const Perm *p, uint64_t x){
  do{
    uint64_t l = x >> p->nHalf, r = x & p->mask;
    int i;
    for(i=0; i<4; i++){
      uint64_t t = l ^ (mix64(r ^ p->aKey[i]) & p->mask);
      l = r;
      r = t;
    }
    x = (l << p->nHalf) | r;
  }while( x>=p->n );
  return x;
}

/* Key number k, zero-padded decimal in exactly nKey bytes. */
static void keyFormat(char *z, int nKey, uint64_t k){
  int i;
  for(i=nKey-1; i>=0; i--){
    z[i] = (char)('0' + k%10);
    k /= 10;
  }
}

/* The key number of z, or UINT64_MAX if z is not nKey decimal digits. */
static uint64_t keyParse(const void *pKey, size_t n, int nKey){
  const unsigned char *z = pKey;
  uint64_t k = 0;
  size_t i;
  if( n!=(size_t)nKey ) return UINT64_MAX;
  for(i=0; i<n; i++){
    if( z[i]<'0' || z[i]>'9' ) return UINT64_MAX;
    if( k > (UINT64_MAX-9)/10 ) return UINT64_MAX;
    k = k*10 + (uint64_t)(z[i]-'0');
  }
  return k;
}

/* The value of entry iEntry at version iVer into p[0..nVal-1]: the first
** (nVal+1)/2 bytes generated, the rest repeating them. */
static void valueFill(char *p, size_t nVal, uint64_t iSeed, uint64_t iEntry,
                      unsigned iVer){
  uint64_t s = mix64(iSeed ^ mix64(iEntry*2 + 1) ^ ((uint64_t)iVer << 40));
  size_t nRand = (nVal+1)/2;
  size_t i;
  for(i=0; i<nRand; i+=8){
    uint64_t w = mix64(s + i);
    size_t n = nRand-i < 8 ? nRand-i : 8;
    memcpy(p+i, &w, n);
  }
  for(i=nRand; i<nVal; i++) p[i] = p[i-nRand];
}

/*------------------------------------------------------------- options --*/

#define MAX_THREADS 64

typedef struct Opts {
  uint64_t nNum;              /* --num: entries in the data set */
  uint64_t nReads;            /* --reads: gets and seeks per read workload */
  uint64_t nSyncNum;          /* --sync_num: writes per fillsync */
  int nKey;                   /* --key_size */
  size_t nVal;                /* --value_size */
  int nBatch;                 /* --batch */
  uint64_t iSeed;             /* --seed */
  int nSlice;                 /* --slices: per-slice rows for fills */
  int aThread[16];            /* --threads */
  int nThread;
  const char *zBench;         /* --benchmarks */
  const char *zEngines;       /* --engines */
  const char *zDir;           /* --db */
  const char *zResults;       /* --results */
  const char *zReport;        /* --report */
  int bKeep;                  /* --keep=1: leave --db behind, for lsmtool */
} Opts;

static const char *azAllBench[] = {
  "fillseq", "fillrandom", "overwrite", "readrandom", "readmissing",
  "readseq", "seekrandom", "deleterandom", "fillsync"
};
#define N_BENCH (int)(sizeof(azAllBench)/sizeof(azAllBench[0]))

static const BenchEngine *aAllEngine[] = {
  &benchLsm, &benchLsmMmap, &benchLeveldb, &benchLeveldbBloom, &benchRocksdb,
  &benchRocksdbBloom, &benchSqlLsm, &benchSqlNative
};
#define N_ENGINE (int)(sizeof(aAllEngine)/sizeof(aAllEngine[0]))

static const BenchEngine *engineFind(const char *zName, size_t n){
  int i;
  for(i=0; i<N_ENGINE; i++){
    if( strlen(aAllEngine[i]->zName)==n
     && memcmp(aAllEngine[i]->zName, zName, n)==0 ) return aAllEngine[i];
  }
  return 0;
}

static int benchFind(const char *zName, size_t n){
  int i;
  for(i=0; i<N_BENCH; i++){
    if( strlen(azAllBench[i])==n && memcmp(azAllBench[i], zName, n)==0 ){
      return i;
    }
  }
  return -1;
}

static uint64_t parseCount(const char *zFlag, const char *z){
  char *zEnd = 0;
  unsigned long long v;
  errno = 0;
  v = strtoull(z, &zEnd, 10);
  if( errno || zEnd==z || *zEnd || z[0]=='-' ){
    benchDie("bad number for %s: \"%s\"", zFlag, z);
  }
  return (uint64_t)v;
}

static void usage(void){
  fprintf(stderr,
    "usage: dbbench [--engines=LIST] [--benchmarks=LIST] [--num=N]\n"
    "               [--reads=N] [--sync_num=N] [--key_size=N] [--value_size=N]\n"
    "               [--batch=N] [--seed=N] [--threads=LIST] [--slices=N]\n"
    "               [--db=DIR] [--ext=PATH] [--results=FILE] [--keep=1]\n"
    "       dbbench --report=FILE\n"
    "engines: lsm lsm-mmap leveldb leveldb-bloom rocksdb rocksdb-bloom sql-lsm\n"
    "         sql-native\n"
    "benchmarks: fillseq fillrandom overwrite readrandom readmissing readseq\n"
    "            seekrandom deleterandom fillsync\n");
  exit(2);
}

static void optsParse(Opts *o, int argc, char **argv){
  int i;
  int bReads = 0, bSyncNum = 0;
  memset(o, 0, sizeof(*o));
  o->nNum = 1000000;
  o->nKey = 16;
  o->nVal = 100;
  o->nBatch = 1000;
  o->iSeed = 301;
  o->aThread[0] = 1; o->aThread[1] = 4; o->aThread[2] = 8;
  o->nThread = 3;
  o->zBench = "fillseq,fillrandom,overwrite,readrandom,readmissing,readseq,"
              "seekrandom,deleterandom,fillsync";
  o->zEngines = "lsm,lsm-mmap,leveldb,leveldb-bloom,rocksdb,rocksdb-bloom,"
                "sql-lsm,sql-native";
  for(i=1; i<argc; i++){
    const char *z = argv[i];
    const char *zVal = strchr(z, '=');
    size_t nName;
    if( strncmp(z, "--", 2)!=0 || zVal==0 ) usage();
    nName = (size_t)(zVal - z);
    zVal++;
#define IS(NAME) (nName==strlen(NAME) && memcmp(z, NAME, nName)==0)
    if( IS("--num") ) o->nNum = parseCount(z, zVal);
    else if( IS("--reads") ){ o->nReads = parseCount(z, zVal); bReads = 1; }
    else if( IS("--sync_num") ){
      o->nSyncNum = parseCount(z, zVal);
      bSyncNum = 1;
    }
    else if( IS("--key_size") ) o->nKey = (int)parseCount(z, zVal);
    else if( IS("--value_size") ) o->nVal = (size_t)parseCount(z, zVal);
    else if( IS("--batch") ) o->nBatch = (int)parseCount(z, zVal);
    else if( IS("--seed") ) o->iSeed = parseCount(z, zVal);
    else if( IS("--slices") ) o->nSlice = (int)parseCount(z, zVal);
    else if( IS("--benchmarks") ) o->zBench = zVal;
    else if( IS("--engines") ) o->zEngines = zVal;
    else if( IS("--db") ) o->zDir = zVal;
    else if( IS("--ext") ) benchExtPath = zVal;
    else if( IS("--results") ) o->zResults = zVal;
    else if( IS("--report") ) o->zReport = zVal;
    else if( IS("--keep") ) o->bKeep = parseCount(z, zVal)!=0;
    else if( IS("--threads") ){
      const char *zp = zVal;
      o->nThread = 0;
      while( *zp ){
        char zNum[24];
        size_t n = strcspn(zp, ",");
        int nT;
        if( n==0 || n>=sizeof(zNum) || o->nThread>=16 ) usage();
        memcpy(zNum, zp, n);
        zNum[n] = 0;
        nT = (int)parseCount("--threads", zNum);
        if( nT<1 || nT>MAX_THREADS ) benchDie("--threads: 1..%d", MAX_THREADS);
        o->aThread[o->nThread++] = nT;
        zp += n;
        if( *zp==',' ) zp++;
      }
      if( o->nThread==0 ) usage();
    }
    else usage();
#undef IS
  }
  if( !bReads ) o->nReads = o->nNum;
  if( !bSyncNum ) o->nSyncNum = o->nNum < 10000 ? o->nNum : 10000;
  if( o->nNum<1 ) benchDie("--num must be at least 1");
  if( o->nBatch<1 ) benchDie("--batch must be at least 1");
  if( o->nSlice>100 ) benchDie("--slices: at most 100");
  if( o->nSyncNum>o->nNum ) benchDie("--sync_num may not exceed --num");
  if( o->nKey<1 || o->nKey>1024 ) benchDie("--key_size: 1..1024");
  if( o->nVal>(1<<20) ) benchDie("--value_size: at most 1 MiB");
  {
    /* Key numbers go up to 2*num+1 and must fit in nKey digits. */
    uint64_t nMax = 2*o->nNum + 1;
    int nDigit = 1;
    while( nMax>=10 ){ nMax /= 10; nDigit++; }
    if( nDigit>o->nKey ){
      benchDie("--key_size=%d is too short for --num=%llu (needs %d)",
               o->nKey, (unsigned long long)o->nNum, nDigit);
    }
  }
}

/*------------------------------------------------------------- results --*/

typedef struct Result {
  char zEngine[32];
  char zBench[32];
  int nThread;                /* threads that ran it */
  int iSlice;                 /* 0: the whole workload; k: its k-th slice */
  uint64_t nOps;
  double secs;
  uint64_t nBytes;            /* key and value bytes moved */
  int64_t nDisk;              /* bytes in the directory after; -1: n/a */
  double wamp;                /* -1: n/a */
  double ioamp;               /* -1: n/a */
  long rssKb;                 /* peak RSS so far */
  int64_t nSync;              /* fsync+fdatasync calls; -1: not counted */
} Result;

typedef struct ResultSet {
  Result *a;
  int n, nAlloc;
  /* From the P line of a report file, or the options of this run. */
  unsigned long long nNum, nReads, nSyncNum, iSeed;
  int nKey, nVal, nBatch;
  char azConfig[N_ENGINE][256];   /* C lines, by index in aAllEngine */
} ResultSet;

static void resultAdd(ResultSet *p, const Result *r){
  if( p->n==p->nAlloc ){
    int nNew = p->nAlloc ? p->nAlloc*2 : 64;
    Result *aNew = realloc(p->a, sizeof(Result)*(size_t)nNew);
    if( aNew==0 ) benchDie("out of memory");
    p->a = aNew;
    p->nAlloc = nNew;
  }
  p->a[p->n++] = *r;
}

static void resultWriteLine(FILE *f, const Result *r){
  fprintf(f, "R engine=%s bench=%s threads=%d slice=%d ops=%llu secs=%.6f "
          "bytes=%llu disk=%lld wamp=%.4f io=%.4f rss_kb=%ld syncs=%lld\n",
          r->zEngine, r->zBench, r->nThread, r->iSlice,
          (unsigned long long)r->nOps, r->secs,
          (unsigned long long)r->nBytes, (long long)r->nDisk, r->wamp,
          r->ioamp, r->rssKb, (long long)r->nSync);
}

/* One line per finished row, as the run goes. */
static void resultPrintProgress(const Result *r){
  double opsPerSec = r->secs>0 ? (double)r->nOps / r->secs : 0.0;
  printf("%-14s %-13s", r->zEngine, r->zBench);
  if( r->nThread>1 || strcmp(r->zBench, "fillsync")==0 ){
    printf(" %2d thr", r->nThread);
  }
  if( r->iSlice ) printf(" slice %d", r->iSlice);
  printf(" %12.0f ops/s %10.3f us/op", opsPerSec,
         r->nOps ? r->secs*1e6/(double)r->nOps : 0.0);
  if( r->nDisk>=0 ) printf("  disk %.1f MB", (double)r->nDisk/1048576.0);
  if( r->wamp>=0 ) printf("  wamp %.2f", r->wamp);
  if( r->nSync>=0 && r->nOps ){
    printf("  syncs/write %.3f", (double)r->nSync/(double)r->nOps);
  }
  printf("  rss %.1f MB\n", (double)r->rssKb/1024.0);
  fflush(stdout);
}

/*-------------------------------------------------------------- the run --*/

/* State of one engine's run. */
typedef struct Run {
  const Opts *o;
  const BenchEngine *e;
  ResultSet *pRes;
  FILE *pOut;                 /* --results file, or NULL */
  char zDbDir[4096];          /* directory of the current database */
  int iDb;                    /* databases opened so far */
  BenchDb *pDb;
  BenchConn *pConn;           /* the main thread's connection */
  unsigned char *aVer;        /* version of every entry, 0 = absent */
  int bFilled;                /* pDb was filled by fillseq/fillrandom */
  uint64_t nUserBytes;        /* key+value bytes written since open */
  uint64_t nWcharAtOpen;
  const char *zBench;         /* the workload running, for messages */
  Rng rng;
  /* batch buffers */
  char *aKey;
  char *aVal;
  unsigned char *abDel;
  char *aCheck;               /* expected value, for checking */
} Run;

static void runCloseDb(Run *r){
  if( r->pConn ) r->e->xDisconnect(r->pConn);
  if( r->pDb ) r->e->xClose(r->pDb);
  r->pConn = 0;
  r->pDb = 0;
  if( r->zDbDir[0] ) removeTree(r->zDbDir);
  r->zDbDir[0] = 0;
  r->bFilled = 0;
}

static void runOpenFresh(Run *r, int bSync){
  runCloseDb(r);
  snprintf(r->zDbDir, sizeof(r->zDbDir), "%s/%s-%d",
           r->o->zDir, r->e->zName, ++r->iDb);
  removeTree(r->zDbDir);
  memset(r->aVer, 0, r->o->nNum);
  r->nUserBytes = 0;
  r->nWcharAtOpen = processWchar();
  r->pDb = r->e->xOpen(r->zDbDir, bSync);
  r->pConn = r->e->xConnect(r->pDb);
}

static Result runResult(Run *r, const char *zBench, uint64_t nOps,
                        double secs, uint64_t nBytes){
  Result res;
  memset(&res, 0, sizeof(res));
  snprintf(res.zEngine, sizeof(res.zEngine), "%s", r->e->zName);
  snprintf(res.zBench, sizeof(res.zBench), "%s", zBench);
  res.nThread = 1;
  res.nOps = nOps;
  res.secs = secs;
  res.nBytes = nBytes;
  res.nDisk = -1;
  res.wamp = -1.0;
  res.ioamp = -1.0;
  res.nSync = -1;
  res.rssKb = peakRssKb();
  return res;
}

/* Wait until the size of zDir has not changed for half a second (the
** engine's background flushes and compactions are done), at most 30 s;
** return that size. */
static uint64_t dirBytesSettled(const char *zDir){
  uint64_t nLast = dirBytes(zDir);
  int i;
  for(i=0; i<60; i++){
    uint64_t n;
    usleep(500000);
    n = dirBytes(zDir);
    if( n==nLast ) break;
    nLast = n;
  }
  return nLast;
}

/* Fill in the after-a-write figures of res: once background work has
** settled if bSettle, else at once (the slices of a fill, which must not
** give compaction time off). */
static void runWriteFigures(Run *r, Result *res, int bSettle){
  double nWritten;
  uint64_t nWchar;
  res->nDisk = (int64_t)(bSettle ? dirBytesSettled(r->zDbDir)
                                 : dirBytes(r->zDbDir));
  nWritten = r->e->xWrittenBytes(r->pDb);
  nWchar = processWchar();
  if( r->nUserBytes>0 ){
    if( nWritten>=0 ) res->wamp = nWritten / (double)r->nUserBytes;
    if( nWchar>0 ){
      res->ioamp = (double)(nWchar - r->nWcharAtOpen)/(double)r->nUserBytes;
    }
  }
}

static void runEmit(Run *r, const Result *res){
  resultAdd(r->pRes, res);
  resultPrintProgress(res);
  if( r->pOut ){
    resultWriteLine(r->pOut, res);
    fflush(r->pOut);
  }
}

/* Check one value read for entry iEntry against its version. */
static void runCheckValue(Run *r, uint64_t iEntry, const void *pVal,
                          size_t nVal){
  unsigned iVer = r->aVer[iEntry];
  if( iVer==0 ){
    verifyFail(r->e->zName, r->zBench, "entry %llu (key %llu) was deleted "
               "or never written, but a value was returned",
               (unsigned long long)iEntry, (unsigned long long)iEntry*2);
  }
  valueFill(r->aCheck, r->o->nVal, r->o->iSeed, iEntry, iVer);
  if( nVal!=r->o->nVal || memcmp(pVal, r->aCheck, nVal)!=0 ){
    verifyFail(r->e->zName, r->zBench, "entry %llu (key %llu): wrong value "
               "(%zu bytes, expected %zu of version %u)",
               (unsigned long long)iEntry, (unsigned long long)iEntry*2,
               nVal, r->o->nVal, iVer);
  }
}

/* A scan that looks for one key as its first row. */
typedef struct ScanFind {
  const char *zKey;
  int nKey;
  int bFound;
} ScanFind;
static int scanFindRow(void *pArg, const void *pKey, size_t nKey,
                       const void *pVal, size_t nVal){
  ScanFind *p = pArg;
  (void)pVal; (void)nVal;
  p->bFound = nKey==(size_t)p->nKey && memcmp(pKey, p->zKey, nKey)==0;
  return 1;
}

/* A get missed entry iEntry, which should be there: say whether a second
** get and a scan from its key find it (a lost write, or a read path that
** misses what the data holds), then fail. */
static void runMissing(Run *r, uint64_t iEntry) __attribute__((noreturn));
static void runMissing(Run *r, uint64_t iEntry){
  char zKey[1024];
  const void *pVal = 0;
  size_t nVal = 0;
  int bAgain;
  ScanFind find;
  keyFormat(zKey, r->o->nKey, iEntry*2);
  bAgain = r->e->xGet(r->pConn, zKey, r->o->nKey, &pVal, &nVal);
  find.zKey = zKey;
  find.nKey = r->o->nKey;
  find.bFound = 0;
  r->e->xScan(r->pConn, zKey, r->o->nKey, 1, scanFindRow, &find);
  verifyFail(r->e->zName, r->zBench, "entry %llu (key %llu) missing; a "
             "second get %s it, a scan from its key %s it",
             (unsigned long long)iEntry, (unsigned long long)iEntry*2,
             bAgain ? "finds" : "misses", find.bFound ? "finds" : "misses");
}

/* Read back nSample random entries (untimed): present ones must hold
** their value, absent ones must be missing. */
static void runCheckSample(Run *r, uint64_t nSample){
  char zKey[1024];
  uint64_t i;
  Rng rng = { r->o->iSeed ^ 0xc0ffee ^ (uint64_t)r->iDb };
  for(i=0; i<nSample; i++){
    uint64_t iEntry = rngBelow(&rng, r->o->nNum);
    const void *pVal = 0;
    size_t nVal = 0;
    int bFound;
    keyFormat(zKey, r->o->nKey, iEntry*2);
    bFound = r->e->xGet(r->pConn, zKey, r->o->nKey, &pVal, &nVal);
    if( bFound ){
      runCheckValue(r, iEntry, pVal, nVal);
    }else if( r->aVer[iEntry] ){
      runMissing(r, iEntry);
    }
  }
}

/* Add operation i of a batch: entry iEntry, put at its current version or
** delete. */
static void runBatchOp(Run *r, int i, uint64_t iEntry, int bDel){
  const Opts *o = r->o;
  keyFormat(r->aKey + (size_t)i*o->nKey, o->nKey, iEntry*2);
  r->abDel[i] = (unsigned char)bDel;
  if( !bDel ){
    valueFill(r->aVal + (size_t)i*o->nVal, o->nVal, o->iSeed, iEntry,
              r->aVer[iEntry]);
  }
}

static void runWriteBatch(Run *r, BenchConn *pConn, int nOp){
  BenchBatch b;
  b.nOp = nOp;
  b.nKey = r->o->nKey;
  b.nVal = r->o->nVal;
  b.aKey = r->aKey;
  b.aVal = r->aVal;
  b.abDel = r->abDel;
  r->e->xWrite(pConn, &b);
}

/* Write workloads other than fillsync. */
#define W_FILLSEQ     0
#define W_FILLRANDOM  1
#define W_OVERWRITE   2
#define W_DELETE      3

static void runWrites(Run *r, int eKind, int bTimed){
  const Opts *o = r->o;
  const char *zBench = eKind==W_FILLSEQ ? "fillseq"
                     : eKind==W_FILLRANDOM ? "fillrandom"
                     : eKind==W_OVERWRITE ? "overwrite" : "deleterandom";
  uint64_t nOp = o->nNum;
  uint64_t nDone = 0, nBytes = 0;
  uint64_t nSliceOps = o->nSlice ? (nOp + (uint64_t)o->nSlice - 1)/(uint64_t)o->nSlice : 0;
  uint64_t nSliceStart = 0, nSliceBytes = 0;
  int iSlice = 0;
  double tStart, tSlice;
  Perm perm;
  permInit(&perm, o->nNum, o->iSeed);
  r->zBench = zBench;
  if( eKind==W_FILLSEQ || eKind==W_FILLRANDOM ) runOpenFresh(r, 0);
  tStart = tSlice = nowSecs();
  while( nDone<nOp ){
    int nBatch = (nOp - nDone) < (uint64_t)o->nBatch ? (int)(nOp - nDone)
                                                     : o->nBatch;
    int i;
    for(i=0; i<nBatch; i++){
      uint64_t j = nDone + (uint64_t)i;
      uint64_t iEntry;
      switch( eKind ){
        case W_FILLSEQ:    iEntry = j; break;
        case W_FILLRANDOM: iEntry = permAt(&perm, j); break;
        default:           iEntry = rngBelow(&r->rng, o->nNum); break;
      }
      if( eKind==W_DELETE ){
        r->aVer[iEntry] = 0;
        nBytes += (uint64_t)o->nKey;
      }else{
        r->aVer[iEntry] = (unsigned char)(r->aVer[iEntry]==255 ? 1
                                          : r->aVer[iEntry] + 1);
        nBytes += (uint64_t)o->nKey + o->nVal;
      }
      runBatchOp(r, i, iEntry, eKind==W_DELETE);
    }
    runWriteBatch(r, r->pConn, nBatch);
    nDone += (uint64_t)nBatch;
    if( bTimed && nSliceOps && (nDone - nSliceStart>=nSliceOps || nDone==nOp) ){
      double t = nowSecs();
      Result res = runResult(r, zBench, nDone - nSliceStart, t - tSlice,
                             (nBytes - nSliceBytes));
      res.iSlice = ++iSlice;
      r->nUserBytes += nBytes;          /* cumulative, for the figures */
      runWriteFigures(r, &res, 0);
      r->nUserBytes -= nBytes;
      runEmit(r, &res);
      nSliceStart = nDone;
      nSliceBytes = nBytes;
      tSlice = nowSecs();     /* the figures above are not slice time */
      tStart += tSlice - t;
    }
  }
  r->nUserBytes += nBytes;
  if( bTimed ){
    Result res = runResult(r, zBench, nOp, nowSecs() - tStart, nBytes);
    runWriteFigures(r, &res, 1);
    runEmit(r, &res);
  }else{
    /* Reads that follow must not share the machine with its compactions. */
    dirBytesSettled(r->zDbDir);
    printf("%-14s (untimed fillrandom to set up the next workload)\n",
           r->e->zName);
  }
  if( eKind==W_FILLSEQ || eKind==W_FILLRANDOM ) r->bFilled = 1;
  runCheckSample(r, 1000);
}

/* Make sure a filled database is open before a read or overwrite. */
static void runNeedFilled(Run *r){
  if( !r->bFilled ) runWrites(r, W_FILLRANDOM, 0);
}

static void runReads(Run *r, int bMissing){
  const Opts *o = r->o;
  char zKey[1024];
  uint64_t i, nBytes = 0, nFound = 0;
  double t0;
  runNeedFilled(r);           /* a fill names its rows: name ours after it */
  r->zBench = bMissing ? "readmissing" : "readrandom";
  t0 = nowSecs();
  for(i=0; i<o->nReads; i++){
    uint64_t iEntry = rngBelow(&r->rng, o->nNum);
    const void *pVal = 0;
    size_t nVal = 0;
    keyFormat(zKey, o->nKey, iEntry*2 + (bMissing ? 1 : 0));
    if( r->e->xGet(r->pConn, zKey, o->nKey, &pVal, &nVal) ){
      if( bMissing ){
        verifyFail(r->e->zName, r->zBench, "key %llu was never written but "
                   "was found", (unsigned long long)iEntry*2 + 1);
      }
      runCheckValue(r, iEntry, pVal, nVal);
      nBytes += (uint64_t)o->nKey + nVal;
      nFound++;
    }else if( !bMissing && r->aVer[iEntry] ){
      runMissing(r, iEntry);
    }
  }
  {
    Result res = runResult(r, r->zBench, o->nReads, nowSecs() - t0, nBytes);
    runEmit(r, &res);
  }
}

/* State of a scan being checked: rows must be the present entries from
** iNext on, in order. */
typedef struct ScanCheck {
  Run *r;
  uint64_t iNext;             /* the entry the next row must hold */
  uint64_t nBytes;
} ScanCheck;

static uint64_t scanSkipAbsent(const Run *r, uint64_t i){
  while( i<r->o->nNum && r->aVer[i]==0 ) i++;
  return i;
}

static int scanCheckRow(void *pArg, const void *pKey, size_t nKey,
                        const void *pVal, size_t nVal){
  ScanCheck *p = pArg;
  Run *r = p->r;
  uint64_t k = keyParse(pKey, nKey, r->o->nKey);
  p->iNext = scanSkipAbsent(r, p->iNext);
  if( k==UINT64_MAX || k!=p->iNext*2 ){
    verifyFail(r->e->zName, r->zBench, "scan returned key \"%.*s\" where "
               "key %llu was expected", (int)(nKey<64 ? nKey : 64),
               (const char*)pKey, (unsigned long long)p->iNext*2);
  }
  runCheckValue(r, p->iNext, pVal, nVal);
  p->nBytes += nKey + nVal;
  p->iNext++;
  return 0;
}

static void runReadSeq(Run *r){
  ScanCheck chk;
  uint64_t nRow;
  double t0;
  runNeedFilled(r);
  r->zBench = "readseq";
  chk.r = r;
  chk.iNext = 0;
  chk.nBytes = 0;
  t0 = nowSecs();
  nRow = r->e->xScan(r->pConn, 0, 0, -1, scanCheckRow, &chk);
  {
    Result res = runResult(r, "readseq", nRow, nowSecs() - t0, chk.nBytes);
    if( scanSkipAbsent(r, chk.iNext)!=r->o->nNum ){
      verifyFail(r->e->zName, "readseq", "scan ended after %llu rows; entry "
                 "%llu was not returned", (unsigned long long)nRow,
                 (unsigned long long)scanSkipAbsent(r, chk.iNext));
    }
    runEmit(r, &res);
  }
}

static void runSeeks(Run *r){
  const Opts *o = r->o;
  char zKey[1024];
  uint64_t i, nBytes = 0;
  double t0;
  runNeedFilled(r);
  r->zBench = "seekrandom";
  t0 = nowSecs();
  for(i=0; i<o->nReads; i++){
    ScanCheck chk;
    uint64_t iEntry = rngBelow(&r->rng, o->nNum);
    uint64_t nRow;
    keyFormat(zKey, o->nKey, iEntry*2);
    chk.r = r;
    chk.iNext = iEntry;
    chk.nBytes = 0;
    nRow = r->e->xScan(r->pConn, zKey, o->nKey, 10, scanCheckRow, &chk);
    if( nRow<10 && scanSkipAbsent(r, chk.iNext)!=o->nNum ){
      verifyFail(r->e->zName, r->zBench, "seek to key %llu returned %llu "
                 "rows; entry %llu is missing", (unsigned long long)iEntry*2,
                 (unsigned long long)nRow,
                 (unsigned long long)scanSkipAbsent(r, chk.iNext));
    }
    nBytes += chk.nBytes;
  }
  {
    Result res = runResult(r, "seekrandom", o->nReads, nowSecs() - t0,
                           nBytes);
    runEmit(r, &res);
  }
}

/* Write then fdatasync 128 bytes, nOps times, on a file in the data
** directory: the floor under any synced commit on this file system. */
static void runSyncLatency(Run *r, uint64_t nOps){
  char zPath[4200];
  char aBuf[128];
  uint64_t i;
  double t0;
  int fd;
  memset(aBuf, 'x', sizeof(aBuf));
  snprintf(zPath, sizeof(zPath), "%s/fdatasync-probe", r->o->zDir);
  fd = open(zPath, O_CREAT|O_TRUNC|O_WRONLY, 0644);
  if( fd<0 ) benchDie("cannot create %s", zPath);
  t0 = nowSecs();
  for(i=0; i<nOps; i++){
    if( write(fd, aBuf, sizeof(aBuf))!=(ssize_t)sizeof(aBuf)
     || fdatasync(fd)!=0 ){
      benchDie("write+fdatasync on %s failed", zPath);
    }
  }
  {
    Result res = runResult(r, "fdatasync", nOps, nowSecs() - t0,
                           nOps*sizeof(aBuf));
    res.nSync = (int64_t)nOps;
    runEmit(r, &res);
  }
  close(fd);
  unlink(zPath);
}

typedef struct SyncThread {
  Run *r;
  BenchConn *pConn;
  uint64_t iFirst, nOps;      /* positions in the permutation */
  pthread_barrier_t *pBarrier;
  pthread_t tid;
} SyncThread;

static void *syncThreadMain(void *pArg){
  SyncThread *t = pArg;
  Run *r = t->r;
  const Opts *o = r->o;
  char *aKey = malloc((size_t)o->nKey);
  char *aVal = malloc(o->nVal ? o->nVal : 1);
  unsigned char bDel = 0;
  Perm perm;
  uint64_t j;
  BenchBatch b;
  if( aKey==0 || aVal==0 ) benchDie("out of memory");
  permInit(&perm, o->nNum, o->iSeed ^ 0x5eed);
  b.nOp = 1;
  b.nKey = o->nKey;
  b.nVal = o->nVal;
  b.aKey = aKey;
  b.aVal = aVal;
  b.abDel = &bDel;
  pthread_barrier_wait(t->pBarrier);
  for(j=t->iFirst; j<t->iFirst + t->nOps; j++){
    uint64_t iEntry = permAt(&perm, j);
    keyFormat(aKey, o->nKey, iEntry*2);
    valueFill(aVal, o->nVal, o->iSeed, iEntry, 1);
    r->e->xWrite(t->pConn, &b);
  }
  pthread_barrier_wait(t->pBarrier);
  free(aKey);
  free(aVal);
  return 0;
}

static void runFillSync(Run *r, int nThread){
  const Opts *o = r->o;
  SyncThread aT[MAX_THREADS];
  pthread_barrier_t barrier;
  uint64_t nSync0, j;
  double t0, t1;
  int i;
  Perm perm;
  r->zBench = "fillsync";
  runOpenFresh(r, 1);
  permInit(&perm, o->nNum, o->iSeed ^ 0x5eed);
  pthread_barrier_init(&barrier, 0, (unsigned)nThread + 1);
  for(i=0; i<nThread; i++){
    aT[i].r = r;
    aT[i].pConn = r->e->xConnect(r->pDb);
    aT[i].iFirst = o->nSyncNum * (uint64_t)i / (uint64_t)nThread;
    aT[i].nOps = o->nSyncNum * (uint64_t)(i+1) / (uint64_t)nThread
               - aT[i].iFirst;
    aT[i].pBarrier = &barrier;
    if( pthread_create(&aT[i].tid, 0, syncThreadMain, &aT[i]) ){
      benchDie("cannot start a thread");
    }
  }
  pthread_barrier_wait(&barrier);
  nSync0 = syncCalls();
  t0 = nowSecs();
  pthread_barrier_wait(&barrier);
  t1 = nowSecs();
  {
    Result res = runResult(r, "fillsync", o->nSyncNum, t1 - t0,
                           o->nSyncNum*((uint64_t)o->nKey + o->nVal));
    res.nThread = nThread;
    res.nSync = (int64_t)(syncCalls() - nSync0);
    for(i=0; i<nThread; i++){
      pthread_join(aT[i].tid, 0);
      r->e->xDisconnect(aT[i].pConn);
    }
    pthread_barrier_destroy(&barrier);
    for(j=0; j<o->nSyncNum; j++) r->aVer[permAt(&perm, j)] = 1;
    r->nUserBytes += res.nBytes;
    runWriteFigures(r, &res, 1);
    runEmit(r, &res);
  }
  /* Every synced write must be there. */
  for(j=0; j<o->nSyncNum; j++){
    char zKey[1024];
    uint64_t iEntry = permAt(&perm, j);
    const void *pVal = 0;
    size_t nVal = 0;
    keyFormat(zKey, o->nKey, iEntry*2);
    if( !r->e->xGet(r->pConn, zKey, o->nKey, &pVal, &nVal) ){
      runMissing(r, iEntry);
    }
    runCheckValue(r, iEntry, pVal, nVal);
  }
  r->bFilled = 0;
}

static void runEngine(const Opts *o, const BenchEngine *e, ResultSet *pRes,
                      FILE *pOut){
  Run r;
  const char *z = o->zBench;
  int bSyncProbed = 0;
  memset(&r, 0, sizeof(r));
  r.o = o;
  r.e = e;
  r.pRes = pRes;
  r.pOut = pOut;
  r.rng.s = o->iSeed;
  r.aVer = calloc(o->nNum, 1);
  r.aKey = malloc((size_t)o->nBatch * (size_t)o->nKey);
  r.aVal = malloc((size_t)o->nBatch * o->nVal + 1);
  r.abDel = malloc((size_t)o->nBatch);
  r.aCheck = malloc(o->nVal + 1);
  if( !r.aVer || !r.aKey || !r.aVal || !r.abDel || !r.aCheck ){
    benchDie("out of memory");
  }
  while( *z ){
    size_t n = strcspn(z, ",");
    int iBench = benchFind(z, n);
    switch( iBench ){
      case 0: runWrites(&r, W_FILLSEQ, 1); break;
      case 1: runWrites(&r, W_FILLRANDOM, 1); break;
      case 2: runNeedFilled(&r); runWrites(&r, W_OVERWRITE, 1); break;
      case 3: runReads(&r, 0); break;
      case 4: runReads(&r, 1); break;
      case 5: runReadSeq(&r); break;
      case 6: runSeeks(&r); break;
      case 7: runNeedFilled(&r); runWrites(&r, W_DELETE, 1); break;
      case 8: {
        int i;
        if( !bSyncProbed ){
          runSyncLatency(&r, 1000);
          bSyncProbed = 1;
        }
        for(i=0; i<o->nThread; i++) runFillSync(&r, o->aThread[i]);
        break;
      }
      default: break;
    }
    z += n;
    if( *z==',' ) z++;
  }
  runCloseDb(&r);
  free(r.aVer);
  free(r.aKey);
  free(r.aVal);
  free(r.abDel);
  free(r.aCheck);
}

/*-------------------------------------------------------------- report --*/

static int engineIndex(const char *zName){
  int i;
  for(i=0; i<N_ENGINE; i++){
    if( strcmp(aAllEngine[i]->zName, zName)==0 ) return i;
  }
  return -1;
}

/* The whole-workload row of (engine, bench, nThread), or NULL. */
static const Result *resultFind(const ResultSet *p, const char *zEngine,
                                const char *zBench, int nThread){
  int i;
  for(i=0; i<p->n; i++){
    const Result *r = &p->a[i];
    if( r->iSlice==0 && r->nThread==nThread && strcmp(r->zEngine, zEngine)==0
     && strcmp(r->zBench, zBench)==0 ) return r;
  }
  return 0;
}

static double opsPerSec(const Result *r){
  return r && r->secs>0 ? (double)r->nOps / r->secs : 0.0;
}

static void reportLine(int n){
  while( n-- > 0 ) putchar('-');
  putchar('\n');
}

static void reportMain(const ResultSet *p){
  int b, e;
  printf("\nResults (ops/s and us/op per operation: a put, delete, get, "
         "seek+10 rows or scanned row)\n");
  printf("%-13s %-14s %11s %9s %8s %9s %6s %7s %8s\n", "benchmark",
         "engine", "ops/s", "us/op", "MB/s", "disk MB", "wamp", "io/user",
         "RSS MB");
  reportLine(92);
  for(b=0; b<N_BENCH; b++){
    int bAny = 0;
    for(e=0; e<N_ENGINE; e++){
      const Result *r = resultFind(p, aAllEngine[e]->zName, azAllBench[b], 1);
      if( r==0 ) continue;
      bAny = 1;
      printf("%-13s %-14s %11.0f %9.3f ", azAllBench[b],
             aAllEngine[e]->zName, opsPerSec(r),
             r->nOps ? r->secs*1e6/(double)r->nOps : 0.0);
      if( r->nBytes ) printf("%8.1f ", (double)r->nBytes/1048576.0/r->secs);
      else printf("%8s ", "-");
      if( r->nDisk>=0 ) printf("%9.1f ", (double)r->nDisk/1048576.0);
      else printf("%9s ", "-");
      if( r->wamp>=0 ) printf("%6.2f ", r->wamp); else printf("%6s ", "-");
      if( r->ioamp>=0 ) printf("%7.2f ", r->ioamp); else printf("%7s ", "-");
      printf("%8.1f\n", (double)r->rssKb/1024.0);
    }
    if( bAny ) reportLine(92);
  }
}

/* Ratio columns: numerator engine over denominator engine. */
static const char *aaRatio[][2] = {
  { "lsm", "leveldb" },
  { "lsm", "leveldb-bloom" },
  { "lsm-mmap", "leveldb" },
  { "rocksdb", "leveldb" },
  { "rocksdb-bloom", "leveldb-bloom" },
  { "lsm", "rocksdb-bloom" },
  { "sql-lsm", "sql-native" },
};
#define N_RATIO (int)(sizeof(aaRatio)/sizeof(aaRatio[0]))

static void reportRatios(const ResultSet *p){
  int aWidth[N_RATIO];
  int b, k, nLine = 17;
  printf("\nRatios of ops/s (> 1: the first engine is faster); "
         "disk rows: ratio of bytes on disk (< 1: smaller)\n");
  printf("%-17s", "benchmark");
  for(k=0; k<N_RATIO; k++){
    char z[40];
    snprintf(z, sizeof(z), "%s/%s", aaRatio[k][0], aaRatio[k][1]);
    aWidth[k] = (int)strlen(z) < 8 ? 8 : (int)strlen(z);
    nLine += aWidth[k] + 1;
    printf(" %*s", aWidth[k], z);
  }
  printf("\n");
  reportLine(nLine);
  for(b=0; b<N_BENCH+3; b++){
    const char *zBench = b<N_BENCH ? azAllBench[b] : azAllBench[b - N_BENCH];
    int bDisk = b>=N_BENCH;
    int bAny = 0;
    char zLabel[40];
    if( bDisk ) snprintf(zLabel, sizeof(zLabel), "disk %s", zBench);
    else snprintf(zLabel, sizeof(zLabel), "%s", zBench);
    for(k=0; k<N_RATIO; k++){
      if( resultFind(p, aaRatio[k][0], zBench, 1)
       && resultFind(p, aaRatio[k][1], zBench, 1) ) bAny = 1;
    }
    if( !bAny ) continue;
    printf("%-17s", zLabel);
    for(k=0; k<N_RATIO; k++){
      const Result *a = resultFind(p, aaRatio[k][0], zBench, 1);
      const Result *d = resultFind(p, aaRatio[k][1], zBench, 1);
      int w = aWidth[k];
      if( a && d && !bDisk && opsPerSec(d)>0 ){
        printf(" %*.2fx", w-1, opsPerSec(a)/opsPerSec(d));
      }else if( a && d && bDisk && a->nDisk>=0 && d->nDisk>0 ){
        printf(" %*.2fx", w-1, (double)a->nDisk/(double)d->nDisk);
      }else{
        printf(" %*s", w, "-");
      }
    }
    printf("\n");
  }
}

static void reportFillSync(const ResultSet *p){
  int e, i, bAny = 0;
  for(i=0; i<p->n; i++){
    if( strcmp(p->a[i].zBench, "fillsync")==0 ) bAny = 1;
  }
  if( !bAny ) return;
  printf("\nfillsync: %llu puts, each its own synced commit, split over the "
         "threads (C APIs: one shared\nhandle; SQL: one connection per "
         "thread).  fsync+fdatasync calls counted in-process.\n"
         "fdatasync: write(128 B)+fdatasync() on a file in the same "
         "directory, same process, just before.\n",
         p->nSyncNum);
  printf("%-14s %7s %10s %9s %12s %10s %13s\n", "engine", "threads",
         "ops/s", "us/op", "syncs/write", "x 1 thread", "us/fdatasync");
  reportLine(81);
  for(e=0; e<N_ENGINE; e++){
    const char *zEngine = aAllEngine[e]->zName;
    const Result *pLat = resultFind(p, zEngine, "fdatasync", 1);
    const Result *pOne = resultFind(p, zEngine, "fillsync", 1);
    int bRow = 0;
    for(i=0; i<p->n; i++){
      const Result *r = &p->a[i];
      if( strcmp(r->zEngine, zEngine) || strcmp(r->zBench, "fillsync") ){
        continue;
      }
      bRow = 1;
      printf("%-14s %7d %10.0f %9.1f ", zEngine, r->nThread, opsPerSec(r),
             r->secs*1e6/(double)r->nOps);
      if( r->nSync>=0 ) printf("%12.3f ", (double)r->nSync/(double)r->nOps);
      else printf("%12s ", "-");
      if( pOne ) printf("%9.2fx ", opsPerSec(r)/opsPerSec(pOne));
      else printf("%10s ", "-");
      if( pLat && r->nThread==1 ){
        printf("%12.2fx", (r->secs/(double)r->nOps)
                          / (pLat->secs/(double)pLat->nOps));
      }else{
        printf("%13s", "");
      }
      printf("\n");
    }
    if( bRow && pLat ){
      printf("%-14s %7s %10.0f %9.1f %12s\n", zEngine, "fdatasync",
             opsPerSec(pLat), pLat->secs*1e6/(double)pLat->nOps, "1.000");
    }
  }
}

/* One target check: measured value against a bound. */
static void reportTarget(const char *zWhat, double v, int bHave, double lim,
                         int bAtMost){
  if( !bHave ){
    printf("  %-58s %10s  %s\n", zWhat, "-", "not measured");
    return;
  }
  printf("  %-58s %9.2fx  %s\n", zWhat, v,
         (bAtMost ? v<=lim : v>=lim) ? "met" : "NOT MET");
}

static void reportRatioTarget(const ResultSet *p, const char *zA,
                              const char *zD, const char *zBench, double lim){
  const Result *a = resultFind(p, zA, zBench, 1);
  const Result *d = resultFind(p, zD, zBench, 1);
  char z[100];
  snprintf(z, sizeof(z), "%s %s / %s >= %.1fx", zBench, zA, zD, lim);
  reportTarget(z, a && d && opsPerSec(d)>0 ? opsPerSec(a)/opsPerSec(d) : 0,
               a && d && opsPerSec(d)>0, lim, 0);
}

static void reportTargets(const ResultSet *p){
  static const char *azEq[] = {
    "fillseq", "fillrandom", "overwrite", "readseq", "seekrandom"
  };
  static const struct { const char *zBench; double lim; } aSql[] = {
    { "fillrandom", 6.0 }, { "overwrite", 4.0 }, { "readrandom", 1.0 },
    { "seekrandom", 1.0 }, { "readseq", 0.8 },
  };
  const Result *a, *d;
  size_t i;
  int e;
  printf("\nTargets\n");
  for(i=0; i<sizeof(azEq)/sizeof(azEq[0]); i++){
    reportRatioTarget(p, "lsm", "leveldb", azEq[i], 1.0);
  }
  reportRatioTarget(p, "lsm", "leveldb", "readrandom", 1.5);
  reportRatioTarget(p, "lsm", "leveldb-bloom", "readrandom", 1.0);
  /* The same read targets with the mmap_reads option (not the default). */
  reportRatioTarget(p, "lsm-mmap", "leveldb", "readrandom", 1.5);
  reportRatioTarget(p, "lsm-mmap", "leveldb", "seekrandom", 1.0);
  a = resultFind(p, "lsm", "fillrandom", 1);
  d = resultFind(p, "leveldb", "fillrandom", 1);
  reportTarget("disk after fillrandom lsm / leveldb <= 1.1x",
               a && d && d->nDisk>0 ? (double)a->nDisk/(double)d->nDisk : 0,
               a && d && a->nDisk>=0 && d->nDisk>0, 1.1, 1);
  for(i=0; i<sizeof(aSql)/sizeof(aSql[0]); i++){
    reportRatioTarget(p, "sql-lsm", "sql-native", aSql[i].zBench, aSql[i].lim);
  }
  for(e=0; e<N_ENGINE; e++){
    const char *zEngine = aAllEngine[e]->zName;
    const Result *pLat = resultFind(p, zEngine, "fdatasync", 1);
    const Result *pOne = resultFind(p, zEngine, "fillsync", 1);
    const Result *pEight = resultFind(p, zEngine, "fillsync", 8);
    char z[100];
    if( strcmp(zEngine, "lsm") && strcmp(zEngine, "sql-lsm") ) continue;
    snprintf(z, sizeof(z), "fillsync %s 1 thread us/op / fdatasync <= 1.3x",
             zEngine);
    reportTarget(z, pLat && pOne ? (pOne->secs/(double)pOne->nOps)
                                   / (pLat->secs/(double)pLat->nOps) : 0,
                 pLat && pOne, 1.3, 1);
    snprintf(z, sizeof(z), "fillsync %s 8 threads / 1 thread ops/s >= 4.0x",
             zEngine);
    reportTarget(z, pOne && pEight ? opsPerSec(pEight)/opsPerSec(pOne) : 0,
                 pOne && pEight, 4.0, 0);
  }
}

static void reportSlices(const ResultSet *p){
  int e, b;
  for(e=0; e<N_ENGINE; e++){
    for(b=0; b<N_BENCH; b++){
      const Result *pFirst = 0, *pLast = 0;
      int i;
      for(i=0; i<p->n; i++){
        const Result *r = &p->a[i];
        if( r->iSlice==0 || strcmp(r->zEngine, aAllEngine[e]->zName)
         || strcmp(r->zBench, azAllBench[b]) ) continue;
        if( pFirst==0 ){
          pFirst = r;
          printf("\n%s %s by slice\n", aAllEngine[e]->zName, azAllBench[b]);
          printf("%6s %12s %11s %9s %9s %8s\n", "slice", "ops", "ops/s",
                 "us/op", "disk MB", "RSS MB");
          reportLine(60);
        }
        pLast = r;
        printf("%6d %12llu %11.0f %9.3f %9.1f %8.1f\n", r->iSlice,
               (unsigned long long)r->nOps, opsPerSec(r),
               r->secs*1e6/(double)r->nOps, (double)r->nDisk/1048576.0,
               (double)r->rssKb/1024.0);
      }
      if( pFirst ){
        printf("last slice / first slice: %.2fx (target >= 0.5x: %s)\n",
               opsPerSec(pLast)/opsPerSec(pFirst),
               opsPerSec(pLast) >= 0.5*opsPerSec(pFirst) ? "met" : "NOT MET");
      }
    }
  }
}

static void reportAll(const ResultSet *p){
  int e;
  printf("\n%llu keys of %d bytes, %d-byte values (half compressible), "
         "batches of %d, %llu reads/seeks,\n%llu fillsync writes, "
         "seed %llu\n", p->nNum, p->nKey, p->nVal, p->nBatch, p->nReads,
         p->nSyncNum, p->iSeed);
  for(e=0; e<N_ENGINE; e++){
    if( p->azConfig[e][0] ){
      printf("  %-14s %s\n", aAllEngine[e]->zName, p->azConfig[e]);
    }
  }
  reportMain(p);
  reportRatios(p);
  reportFillSync(p);
  reportTargets(p);
  reportSlices(p);
}

/* Load a --results file into p. */
static void reportLoad(ResultSet *p, const char *zFile){
  FILE *f = fopen(zFile, "r");
  char zLine[1024];
  if( f==0 ) benchDie("cannot open %s", zFile);
  while( fgets(zLine, sizeof(zLine), f) ){
    if( zLine[0]=='P' ){
      if( sscanf(zLine, "P num=%llu reads=%llu sync_num=%llu key=%d "
                 "value=%d batch=%d seed=%llu", &p->nNum, &p->nReads,
                 &p->nSyncNum, &p->nKey, &p->nVal, &p->nBatch,
                 &p->iSeed)!=7 ){
        benchDie("%s: bad line: %s", zFile, zLine);
      }
    }else if( zLine[0]=='C' ){
      char zName[32];
      int nPre = 0, e;
      if( sscanf(zLine, "C %31s %n", zName, &nPre)!=1 || nPre==0 ){
        benchDie("%s: bad line: %s", zFile, zLine);
      }
      e = engineIndex(zName);
      if( e>=0 ){
        snprintf(p->azConfig[e], sizeof(p->azConfig[e]), "%s", zLine+nPre);
        p->azConfig[e][strcspn(p->azConfig[e], "\n")] = 0;
      }
    }else if( zLine[0]=='R' ){
      Result r;
      unsigned long long nOps, nBytes;
      long long nDisk, nSync;
      memset(&r, 0, sizeof(r));
      if( sscanf(zLine, "R engine=%31s bench=%31s threads=%d slice=%d "
                 "ops=%llu secs=%lf bytes=%llu disk=%lld wamp=%lf io=%lf "
                 "rss_kb=%ld syncs=%lld", r.zEngine, r.zBench, &r.nThread,
                 &r.iSlice, &nOps, &r.secs, &nBytes, &nDisk, &r.wamp,
                 &r.ioamp, &r.rssKb, &nSync)!=12 ){
        benchDie("%s: bad line: %s", zFile, zLine);
      }
      r.nOps = nOps;
      r.nBytes = nBytes;
      r.nDisk = nDisk;
      r.nSync = nSync;
      resultAdd(p, &r);
    }
  }
  fclose(f);
}

/* The data directory, removed at exit however the program ends. */
static const char *zDataDir = 0;
static void removeDataDir(void){
  if( zDataDir ) removeTree(zDataDir);
}

int main(int argc, char **argv){
  Opts o;
  ResultSet res;
  FILE *pOut = 0;
  char zDefaultDir[64];
  const char *z;
  memset(&res, 0, sizeof(res));
  optsParse(&o, argc, argv);
  if( o.zReport ){
    reportLoad(&res, o.zReport);
    reportAll(&res);
    free(res.a);
    return 0;
  }
  res.nNum = o.nNum;
  res.nReads = o.nReads;
  res.nSyncNum = o.nSyncNum;
  res.iSeed = o.iSeed;
  res.nKey = o.nKey;
  res.nVal = (int)o.nVal;
  res.nBatch = o.nBatch;

  /* Check both lists before doing any work. */
  for(z=o.zEngines; *z; ){
    size_t n = strcspn(z, ",");
    if( engineFind(z, n)==0 ) benchDie("unknown engine \"%.*s\"", (int)n, z);
    z += n;
    if( *z==',' ) z++;
  }
  for(z=o.zBench; *z; ){
    size_t n = strcspn(z, ",");
    if( benchFind(z, n)<0 ) benchDie("unknown benchmark \"%.*s\"", (int)n, z);
    z += n;
    if( *z==',' ) z++;
  }

  if( o.zDir==0 ){
    snprintf(zDefaultDir, sizeof(zDefaultDir), "/tmp/lsmbench-%d",
             (int)getpid());
    o.zDir = zDefaultDir;
  }
  removeTree(o.zDir);
  if( mkdir(o.zDir, 0755)!=0 ) benchDie("cannot create %s", o.zDir);
  if( !o.bKeep ){
    zDataDir = o.zDir;
    atexit(removeDataDir);
  }
  if( o.zResults ){
    pOut = fopen(o.zResults, "a");
    if( pOut==0 ) benchDie("cannot open %s", o.zResults);
    fprintf(pOut, "P num=%llu reads=%llu sync_num=%llu key=%d value=%d "
            "batch=%d seed=%llu\n", res.nNum, res.nReads, res.nSyncNum,
            res.nKey, res.nVal, res.nBatch, res.iSeed);
  }
  for(z=o.zEngines; *z; ){
    size_t n = strcspn(z, ",");
    const BenchEngine *e = engineFind(z, n);
    snprintf(res.azConfig[engineIndex(e->zName)], 256, "%s", e->zConfig);
    if( pOut ) fprintf(pOut, "C %s %s\n", e->zName, e->zConfig);
    printf("%-14s %s\n", e->zName, e->zConfig);
    fflush(stdout);
    runEngine(&o, e, &res, pOut);
    z += n;
    if( *z==',' ) z++;
  }
  if( pOut ) fclose(pOut);
  if( o.zResults==0 ) reportAll(&res);
  free(res.a);
  return 0;
}
