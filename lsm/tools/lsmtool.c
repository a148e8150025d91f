/*
** lsmtool.c -- inspect an lsm data directory from the command line.
**
**     lsmtool dump-log FILE              every record of a log file
**     lsmtool dump-table [--props] FILE  a table's properties and entries
**     lsmtool dump-manifest FILE|DIR     every version edit, then the levels
**     lsmtool check DIR                  verify every live file
**     lsmtool stat DIR                   tables and bytes per level, logs
**     lsmtool backup SRC DEST            a consistent copy of SRC in DEST
**     lsmtool help
**
** The tool reads the files with the engine's own readers (wal.h, batch.h,
** table.h, version.h), so what it accepts and rejects is exactly what the
** engine accepts and rejects, and each line it prints names a field of
** FORMAT.md (its last section maps the output to the fields).  Except
** for backup (below), it only reads: it takes no lock and never writes
** into the directory, so it may be pointed at the directory of a running
** engine (which may then change files under it; a table deleted by the
** engine between the manifest read and the table check shows up as
** missing).
**
** Output.  Keys and values print as "text" in double quotes when every
** byte is printable ASCII (with \" and \\ escaped), otherwise as x'00ff'
** hex like an SQL blob literal; only the first TOOL_SHOW_BYTES bytes are
** shown, followed by "...(N bytes)" giving the full length.  An internal
** key prints as its user key, "seq S" and its kind (put or del).
**
** backup is the one command that opens the database through the engine
** (read-only, which takes the directory's lock): it copies what recovery
** sees, so SRC must not be open in another process; a live database is
** backed up from the process that has it open (lsm_backup_ex, or SELECT
** lsm_backup(...) through the extension).
**
** Progress.  check and backup can take long on a big directory; when
** stderr is a terminal they redraw one line there, at most ten times a
** second, with the bytes done, the total and the rate, and end it with
** a final line.  When stderr is not a terminal they print nothing extra.
**
** Exit status: 0 success (for check: no problem found); 1 an error, or
** damage found, with the engine's message (file name and offset) on
** stderr, or for check one line per problem on stdout; 2 bad usage.
**
** Damage at the end of a log or manifest follows the engine's rule
** (FORMAT.md, "Damage: torn tail or corruption"): a damaged record after
** which no good record can be found is a torn tail, reported and
** tolerated; one followed by a good record is corruption.
*/
#include "lsm.h"
#include "batch.h"
#include "coding.h"
#include "env.h"
#include "ikey.h"
#include "iter.h"
#include "table.h"
#include "util.h"
#include "version.h"
#include "wal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOOL_SHOW_BYTES  64    /* bytes of a key or value shown in full */

#define TOOL_EXIT_OK     0
#define TOOL_EXIT_FAIL   1
#define TOOL_EXIT_USAGE  2

/*
** Records that a damaged record must be followed by for the damage to be
** corruption rather than a torn tail.  Recovery uses synced batches for
** logs and every type for the manifest; manifests hold only edits and
** logs only batches, so this one mask gives each file the engine's rule.
*/
#define TOOL_DURABLE_TYPES  ((1u<<LSM_REC_BATCH_SYNC) | (1u<<LSM_REC_EDIT))

static const char zUsage[] =
  "usage: lsmtool COMMAND ARGS\n"
  "  dump-log FILE              print every record of a log (or manifest)\n"
  "  dump-table [--props] FILE  print a table's properties and entries\n"
  "  dump-manifest FILE|DIR     print every version edit and the levels\n"
  "                             (DIR: the manifest named by DIR/CURRENT)\n"
  "  check DIR                  verify every checksum of every live file;\n"
  "                             prints \"ok\" or one line per problem\n"
  "  stat DIR                   tables and bytes per level, and the logs\n"
  "  backup SRC DEST            copy the database in SRC (not open elsewhere)\n"
  "                             to the new directory DEST\n"
  "  help                       this text\n"
  "exit status: 0 ok, 1 error or damage found, 2 bad usage\n";

/**************************************************************************
** Printing.
*/

/*
** Print a[0..n-1] as "text" if every byte is printable ASCII, else as
** x'hex'; at most TOOL_SHOW_BYTES bytes, then "...(n bytes)".
*/
static void toolPrintBytes(const uint8_t *a, size_t n){
  size_t nShow = n>TOOL_SHOW_BYTES ? TOOL_SHOW_BYTES : n;
  size_t i;
  int bText = 1;
  for(i=0; i<n && bText; i++) bText = (a[i]>=0x20 && a[i]<0x7f);
  if( bText ){
    putchar('"');
    for(i=0; i<nShow; i++){
      if( a[i]=='"' || a[i]=='\\' ) putchar('\\');
      putchar(a[i]);
    }
    putchar('"');
  }else{
    fputs("x'", stdout);
    for(i=0; i<nShow; i++) printf("%02x", a[i]);
    putchar('\'');
  }
  if( nShow<n ) printf("...(%zu bytes)", n);
}

static void toolPrintKind(int kind){
  if( kind==LSM_KIND_VALUE ){
    fputs("put", stdout);
  }else if( kind==LSM_KIND_DELETE ){
    fputs("del", stdout);
  }else{
    printf("kind-%d", kind);
  }
}

/* An internal key: user key, sequence and kind; "(none)" if empty. */
static void toolPrintIkey(const uint8_t *a, size_t n){
  if( n==0 ){
    fputs("(none)", stdout);
  }else if( n<LSM_IKEY_TRAILER ){
    /* Readers reject such keys; shown raw should one get this far. */
    toolPrintBytes(a, n);
  }else{
    toolPrintBytes(a, lsmIkeyUserLen(n));
    printf(" seq %llu ", (unsigned long long)lsmIkeySeq(a, n));
    toolPrintKind(lsmIkeyKind(a, n));
  }
}

/* One operation of a batch or entry of a table, on its own line. */
static void toolPrintEntry(uint64_t seq, int kind, const uint8_t *pKey,
                           size_t nKey, const uint8_t *pVal, size_t nVal){
  printf("  seq %llu ", (unsigned long long)seq);
  toolPrintKind(kind);
  fputs(" key ", stdout);
  toolPrintBytes(pKey, nKey);
  if( kind!=LSM_KIND_DELETE ){
    fputs(" value ", stdout);
    toolPrintBytes(pVal, nVal);
  }
  putchar('\n');
}

/* lsmBatchForEach callback printing each operation.  Returns LSM_OK. */
static int toolPrintOp(void *pArg, uint64_t seq, int kind,
                       const uint8_t *pKey, size_t nKey,
                       const uint8_t *pVal, size_t nVal){
  (void)pArg;
  toolPrintEntry(seq, kind, pKey, nKey, pVal, nVal);
  return LSM_OK;
}

static void toolPrintEdit(const LsmVersionEdit *e){
  int i;
  if( e->bLogNumber ){
    printf("  log number %llu\n", (unsigned long long)e->iLogNumber);
  }
  if( e->bNextFile ){
    printf("  next file %llu\n", (unsigned long long)e->iNextFile);
  }
  if( e->bLastSeq ){
    printf("  last seq %llu\n", (unsigned long long)e->iLastSeq);
  }
  if( e->bLastTxn ){
    printf("  last txn %llu\n", (unsigned long long)e->iLastTxn);
  }
  for(i=0; i<e->nDel; i++){
    printf("  delete L%d %06llu.sst\n", e->aDel[i].iLevel,
           (unsigned long long)e->aDel[i].iFile);
  }
  for(i=0; i<e->nAdd; i++){
    const LsmFileMeta *m = e->aAdd[i].pMeta;
    printf("  add L%d %06llu.sst size %llu entries %llu tombstones %llu "
           "seq %llu..%llu smallest ", e->aAdd[i].iLevel,
           (unsigned long long)m->iFile, (unsigned long long)m->nSize,
           (unsigned long long)m->nEntry, (unsigned long long)m->nTombstone,
           (unsigned long long)m->minSeq, (unsigned long long)m->maxSeq);
    toolPrintIkey(m->smallest.p, m->smallest.n);
    fputs(" largest ", stdout);
    toolPrintIkey(m->largest.p, m->largest.n);
    putchar('\n');
  }
  for(i=0; i<LSM_NUM_LEVELS; i++){
    if( e->abCursor[i] ){
      printf("  cursor L%d ", i);
      toolPrintIkey(e->aCursor[i].p, e->aCursor[i].n);
      putchar('\n');
    }
  }
}

static const char *toolRecordName(int type){
  switch( type ){
    case LSM_REC_BATCH:      return "batch";
    case LSM_REC_EDIT:       return "edit";
    case LSM_REC_BATCH_SYNC: return "batch-sync";
    case LSM_REC_PREPARE:    return "prepare";
    case LSM_REC_COMMIT:     return "commit";
    case LSM_REC_ABORT:      return "abort";
  }
  return "unknown";
}

/**************************************************************************
** Errors.
*/

/* The message for rc: this thread's engine message, else rc's name. */
static const char *toolMessage(int rc){
  const char *zMsg = lsmErrMsg();
  return zMsg[0] ? zMsg : lsm_errstr(rc);
}

/* Report rc on stderr; return the exit status for it. */
static int toolFail(int rc){
  fflush(stdout);
  fprintf(stderr, "lsmtool: %s\n", toolMessage(rc));
  return TOOL_EXIT_FAIL;
}

/*
** Prefix the current message with "zPath: WHAT at offset iOff: ", for
** messages of engine parsers that do not know which file they parse.
** Returns rc.
*/
static int toolWrap(int rc, const char *zPath, const char *zWhat,
                    uint64_t iOff){
  char zMsg[512];
  if( rc==LSM_NOMEM ) return rc;
  snprintf(zMsg, sizeof(zMsg), "%s", toolMessage(rc));
  return lsmErr(rc, "%s: %s at offset %llu: %s", zPath, zWhat,
                (unsigned long long)iOff, zMsg);
}

/**************************************************************************
** Progress on stderr, for a terminal only.
*/

#define TOOL_PROGRESS_US  100000   /* redraw at most this often */

typedef struct ToolProgress {
  lsm_env *pEnv;
  const char *zWhat;         /* "check", "backup" */
  int bShow;                 /* stderr is a terminal */
  uint64_t nDone, nTotal;    /* bytes */
  uint64_t tStart, tDrawn;   /* microseconds */
} ToolProgress;

/* n bytes as "123 B", "4.5 KiB", "67.8 MiB" or "9.0 GiB" in zBuf. */
static const char *toolBytes(uint64_t n, char *zBuf, size_t nBuf){
  static const char *azUnit[] = { "KiB", "MiB", "GiB", "TiB" };
  double r = (double)n;
  int i = -1;
  while( r>=1024.0 && i<3 ){
    r /= 1024.0;
    i++;
  }
  if( i<0 ) snprintf(zBuf, nBuf, "%llu B", (unsigned long long)n);
  else snprintf(zBuf, nBuf, "%.1f %s", r, azUnit[i]);
  return zBuf;
}

static void toolProgressDraw(ToolProgress *p, int bFinal){
  char zDone[32], zTotal[32], zRate[32];
  uint64_t tNow = p->pEnv->xNowMicros(p->pEnv);
  uint64_t tSpent = tNow>p->tStart ? tNow - p->tStart : 1;
  uint64_t nRate = (uint64_t)((double)p->nDone * 1e6 / (double)tSpent);
  int nPct = p->nTotal ? (int)(p->nDone*100/p->nTotal) : (bFinal ? 100 : 0);
  p->tDrawn = tNow;
  fprintf(stderr, "\r%s: %s / %s %3d%% %s/s\033[K%s", p->zWhat,
          toolBytes(p->nDone, zDone, sizeof(zDone)),
          toolBytes(p->nTotal, zTotal, sizeof(zTotal)), nPct,
          toolBytes(nRate, zRate, sizeof(zRate)), bFinal ? "\n" : "");
  fflush(stderr);
}

static void toolProgressStart(ToolProgress *p, lsm_env *pEnv,
                              const char *zWhat, uint64_t nTotal){
  memset(p, 0, sizeof(*p));
  p->pEnv = pEnv;
  p->zWhat = zWhat;
  p->nTotal = nTotal;
  p->bShow = isatty(2);
  p->tStart = pEnv->xNowMicros(pEnv);
  if( p->bShow ) toolProgressDraw(p, 0);
}

/* nDone of nTotal bytes are done (the total may have been an estimate). */
static void toolProgressSet(ToolProgress *p, uint64_t nDone, uint64_t nTotal){
  p->nDone = nDone;
  p->nTotal = nTotal>nDone ? nTotal : nDone;
  if( p->bShow
   && p->pEnv->xNowMicros(p->pEnv) - p->tDrawn >= TOOL_PROGRESS_US ){
    toolProgressDraw(p, 0);
  }
}

static void toolProgressEnd(ToolProgress *p){
  if( p->bShow ) toolProgressDraw(p, 1);
}

/**************************************************************************
** Files.
*/

/* Size of file zPath in *pnSize.  LSM_OK or the env's error. */
static int toolFileSize(lsm_env *pEnv, const char *zPath, uint64_t *pnSize){
  lsm_file *pFile = 0;
  int rc = pEnv->xOpen(pEnv, zPath, LSM_OPEN_READONLY, &pFile);
  *pnSize = 0;
  if( rc==LSM_OK ){
    rc = pEnv->xSize(pFile, pnSize);
    pEnv->xClose(pFile);
  }
  return rc;
}

/*
** Parse zName as "NNNNNN<zExt>" (digits, then exactly zExt).  Returns the
** number, or 0 if zName is not such a name (file numbers start at 1).
*/
static uint64_t toolFileNumber(const char *zName, const char *zExt){
  uint64_t v = 0;
  const char *z = zName;
  if( *z<'0' || *z>'9' ) return 0;
  for(; *z>='0' && *z<='9'; z++){
    if( v>(UINT64_MAX-9)/10 ) return 0;
    v = v*10 + (uint64_t)(*z - '0');
  }
  return strcmp(z, zExt)==0 ? v : 0;
}

/* The numbers of the files of a directory with one extension. */
typedef struct ToolNumbers {
  const char *zExt;
  uint64_t *a;
  int n;
  int rc;
} ToolNumbers;

static int toolCollectNumber(void *pArg, const char *zName){
  ToolNumbers *p = (ToolNumbers*)pArg;
  uint64_t iFile = toolFileNumber(zName, p->zExt);
  if( iFile ){
    uint64_t *aNew = lsmRealloc(p->a, sizeof(uint64_t)*(size_t)(p->n+1));
    if( aNew==0 ) return (p->rc = lsmErr(LSM_NOMEM, 0));
    aNew[p->n++] = iFile;
    p->a = aNew;
  }
  return LSM_OK;
}

static int toolCmpU64(const void *pA, const void *pB){
  uint64_t a = *(const uint64_t*)pA, b = *(const uint64_t*)pB;
  return (a>b) - (a<b);
}

/*
** Fill *p (zeroed, with zExt set) with the numbers of the files
** "NNNNNN<zExt>" in zDir, ascending.  The caller frees p->a with lsmFree.
*/
static int toolListNumbers(lsm_env *pEnv, const char *zDir, ToolNumbers *p){
  int rc = pEnv->xList(pEnv, zDir, toolCollectNumber, p);
  if( p->rc ) rc = p->rc;
  /* qsort's array may not be NULL even when empty. */
  if( rc==LSM_OK && p->n>1 ){
    qsort(p->a, (size_t)p->n, sizeof(uint64_t), toolCmpU64);
  }
  return rc;
}

/*
** Read zDir/CURRENT and set *pzManifest to the path of the manifest it
** names (the caller frees it with lsmFree).  LSM_NOTFOUND if there is no
** CURRENT, LSM_CORRUPT if it is malformed.
*/
static int toolCurrentManifest(lsm_env *pEnv, const char *zDir,
                               char **pzManifest){
  LsmBuf current = {0, 0, 0};
  char *zCurrent = lsmPathJoin(zDir, "CURRENT");
  int rc = zCurrent ? lsmEnvReadFile(pEnv, zCurrent, &current)
                   : lsmErr(LSM_NOMEM, 0);
  *pzManifest = 0;
  if( rc==LSM_NOTFOUND ){
    rc = lsmErr(rc, "%s: missing (not a data directory?)", zCurrent);
  }else if( rc==LSM_OK ){
    /* "MANIFEST-" digits "\n", as the engine writes it. */
    size_t n = current.n;
    size_t i;
    int bOk = n>=11 && n<64 && memcmp(current.p, "MANIFEST-", 9)==0
           && current.p[n-1]=='\n';
    for(i=9; bOk && i<n-1; i++){
      bOk = current.p[i]>='0' && current.p[i]<='9';
    }
    if( !bOk ){
      rc = lsmErr(LSM_CORRUPT, "%s: malformed contents", zCurrent);
    }else{
      *pzManifest = lsmMprintf("%s/%.*s", zDir, (int)(n-1),
                               (const char*)current.p);
      if( *pzManifest==0 ) rc = lsmErr(LSM_NOMEM, 0);
    }
  }
  lsmBufFree(&current);
  lsmFree(zCurrent);
  return rc;
}

static int toolIsDirectory(const char *zPath){
  struct stat st;
  return stat(zPath, &st)==0 && S_ISDIR(st.st_mode);
}

/**************************************************************************
** Record files (logs and manifests).
*/

/* Called for each good record; a non-OK return stops the read. */
typedef int (*ToolRecordFn)(void *pArg, const char *zPath, uint64_t iOff,
                            int type, const uint8_t *a, size_t n);

/*
** Read the records of zPath in order, calling xRecord for each.  Returns
** LSM_OK when the file ends cleanly or in a torn tail; *piEnd is then
** where the good records end and *pbTorn says whether bytes follow.
** Otherwise returns the reader's error (LSM_CORRUPT, LSM_IOERR, ...) or
** xRecord's, with the message set.
*/
static int toolReadRecords(lsm_env *pEnv, const char *zPath,
                           ToolRecordFn xRecord, void *pArg,
                           uint64_t *piEnd, int *pbTorn){
  LsmWalReader *pReader = 0;
  int rc = lsmWalReaderOpen(pEnv, zPath, &pReader);
  *piEnd = 0;
  *pbTorn = 0;
  /* LSM_NOTFOUND here is a missing file, an error, not the end. */
  if( rc!=LSM_OK ) return rc;
  lsmWalReaderDurableTypes(pReader, TOOL_DURABLE_TYPES);
  while( rc==LSM_OK ){
    uint64_t iOff = lsmWalReaderTailOffset(pReader);
    const uint8_t *a;
    size_t n;
    int type;
    rc = lsmWalReaderNext(pReader, &type, &a, &n);
    if( rc==LSM_OK ) rc = xRecord(pArg, zPath, iOff, type, a, n);
  }
  if( rc==LSM_NOTFOUND ){
    rc = LSM_OK;
    *piEnd = lsmWalReaderTailOffset(pReader);
    *pbTorn = lsmWalReaderTorn(pReader);
  }
  lsmWalReaderClose(pReader);
  return rc;
}

/* Print how a record file ended: cleanly, or in a torn tail. */
static void toolPrintEnd(lsm_env *pEnv, const char *zPath, uint64_t iEnd,
                         int bTorn){
  if( bTorn ){
    uint64_t nFile = 0;
    toolFileSize(pEnv, zPath, &nFile);
    printf("end torn tail at offset %llu (%llu bytes ignored)\n",
           (unsigned long long)iEnd,
           (unsigned long long)(nFile>iEnd ? nFile-iEnd : 0));
  }else{
    printf("end clean at offset %llu\n", (unsigned long long)iEnd);
  }
}

/* ToolRecordFn of dump-log: print the record and what it carries. */
static int toolDumpRecord(void *pArg, const char *zPath, uint64_t iOff,
                          int type, const uint8_t *a, size_t n){
  int rc = LSM_OK;
  (void)pArg;
  printf("offset %llu %s length %zu", (unsigned long long)iOff,
         toolRecordName(type), n);
  if( type==LSM_REC_BATCH || type==LSM_REC_BATCH_SYNC ){
    if( n>=LSM_BATCH_HEADER ){
      printf(" seq %llu count %u\n", (unsigned long long)lsmBatchDataSeq(a),
             (unsigned)lsmBatchDataCount(a));
    }else{
      putchar('\n');
    }
    rc = lsmBatchForEach(a, n, toolPrintOp, 0);
    if( rc!=LSM_OK ) rc = toolWrap(rc, zPath, "record", iOff);
  }else if( type==LSM_REC_PREPARE && n>=8+LSM_BATCH_HEADER ){
    printf(" txn %llu count %u\n", (unsigned long long)lsmGet64(a),
           (unsigned)lsmBatchDataCount(a+8));
    rc = lsmBatchForEach(a+8, n-8, toolPrintOp, 0);
    if( rc!=LSM_OK ) rc = toolWrap(rc, zPath, "record", iOff);
  }else if( type==LSM_REC_COMMIT && n==16 ){
    printf(" txn %llu seq %llu\n", (unsigned long long)lsmGet64(a),
           (unsigned long long)lsmGet64(a+8));
  }else if( type==LSM_REC_ABORT && n==8 ){
    printf(" txn %llu\n", (unsigned long long)lsmGet64(a));
  }else if( type==LSM_REC_EDIT ){
    LsmVersionEdit e;
    putchar('\n');
    rc = lsmEditDecode(&e, a, n);
    if( rc==LSM_OK ){
      toolPrintEdit(&e);
      lsmEditClear(&e);
    }else{
      rc = toolWrap(rc, zPath, "record", iOff);
    }
  }else{
    printf(" type %d\n", type);
  }
  return rc;
}

static int toolDumpLog(lsm_env *pEnv, const char *zPath){
  uint64_t iEnd;
  int bTorn;
  int rc;
  printf("log %s\n", zPath);
  rc = toolReadRecords(pEnv, zPath, toolDumpRecord, 0, &iEnd, &bTorn);
  if( rc!=LSM_OK ) return toolFail(rc);
  toolPrintEnd(pEnv, zPath, iEnd, bTorn);
  return TOOL_EXIT_OK;
}

/**************************************************************************
** The manifest: replaying its edits into the list of live tables.
*/

typedef struct ToolManifest {
  /* The live tables as the additions of one edit, and the scalars as
  ** its fields: the result of every edit read so far. */
  LsmVersionEdit state;
  int bPrint;                /* print each edit as it is read */
  int nEdit;                 /* edits read */
  uint64_t iEnd;             /* where the good records end */
  int bTorn;                 /* a torn tail follows iEnd */
} ToolManifest;

static int toolEditDeletes(const LsmVersionEdit *e, int iLevel,
                           uint64_t iFile){
  int i;
  for(i=0; i<e->nDel; i++){
    if( e->aDel[i].iLevel==iLevel && e->aDel[i].iFile==iFile ) return 1;
  }
  return 0;
}

/*
** Apply edit e to the state *pState (see ToolManifest).  LSM_CORRUPT if
** e deletes a table that is not live, LSM_NOMEM; *pState is unchanged on
** failure.
*/
static int toolApplyEdit(LsmVersionEdit *pState, const LsmVersionEdit *e){
  LsmVersionEdit next;
  int i, j, rc = LSM_OK;
  lsmEditInit(&next);
  next.bLogNumber = pState->bLogNumber || e->bLogNumber;
  next.iLogNumber = e->bLogNumber ? e->iLogNumber : pState->iLogNumber;
  next.bNextFile = pState->bNextFile || e->bNextFile;
  next.iNextFile = e->bNextFile ? e->iNextFile : pState->iNextFile;
  next.bLastSeq = pState->bLastSeq || e->bLastSeq;
  next.iLastSeq = e->bLastSeq ? e->iLastSeq : pState->iLastSeq;
  next.bLastTxn = pState->bLastTxn || e->bLastTxn;
  next.iLastTxn = e->bLastTxn && e->iLastTxn>pState->iLastTxn ? e->iLastTxn
                                                               : pState->iLastTxn;
  for(i=0; rc==LSM_OK && i<e->nDel; i++){
    int bLive = 0;
    for(j=0; j<pState->nAdd && !bLive; j++){
      bLive = pState->aAdd[j].iLevel==e->aDel[i].iLevel
           && pState->aAdd[j].iFile==e->aDel[i].iFile;
    }
    if( !bLive ){
      rc = lsmErr(LSM_CORRUPT, "deletes L%d %06llu.sst, which is not live",
                  e->aDel[i].iLevel, (unsigned long long)e->aDel[i].iFile);
    }
  }
  for(i=0; rc==LSM_OK && i<pState->nAdd; i++){
    const LsmEditFile *f = &pState->aAdd[i];
    if( !toolEditDeletes(e, f->iLevel, f->iFile) ){
      rc = lsmEditAddMeta(&next, f->iLevel, f->pMeta);
    }
  }
  for(i=0; rc==LSM_OK && i<e->nAdd; i++){
    rc = lsmEditAddMeta(&next, e->aAdd[i].iLevel, e->aAdd[i].pMeta);
  }
  if( rc==LSM_OK ){
    lsmEditClear(pState);
    *pState = next;
  }else{
    lsmEditClear(&next);
  }
  return rc;
}

/* ToolRecordFn of the manifest: decode, maybe print, and apply. */
static int toolManifestRecord(void *pArg, const char *zPath, uint64_t iOff,
                              int type, const uint8_t *a, size_t n){
  ToolManifest *p = (ToolManifest*)pArg;
  LsmVersionEdit e;
  int rc;
  if( p->bPrint ){
    printf("offset %llu %s length %zu\n", (unsigned long long)iOff,
           toolRecordName(type), n);
  }
  if( type!=LSM_REC_EDIT ){
    return lsmErr(LSM_CORRUPT, "%s: record at offset %llu has type %d, "
                  "not a version edit", zPath, (unsigned long long)iOff, type);
  }
  rc = lsmEditDecode(&e, a, n);
  if( rc==LSM_OK ){
    if( p->bPrint ) toolPrintEdit(&e);
    rc = toolApplyEdit(&p->state, &e);
    lsmEditClear(&e);
  }
  if( rc==LSM_OK ){
    p->nEdit++;
  }else{
    rc = toolWrap(rc, zPath, "edit", iOff);
  }
  return rc;
}

/* Order the live tables by level; within level 0 newest first, deeper
** by smallest key (the order a version keeps). */
static int toolCmpLive(const void *pA, const void *pB){
  const LsmEditFile *a = (const LsmEditFile*)pA;
  const LsmEditFile *b = (const LsmEditFile*)pB;
  if( a->iLevel!=b->iLevel ) return (a->iLevel>b->iLevel) - (a->iLevel<b->iLevel);
  if( a->iLevel==0 ) return (a->iFile<b->iFile) - (a->iFile>b->iFile);
  return lsmIkeyCompare(a->pMeta->smallest.p, a->pMeta->smallest.n,
                        b->pMeta->smallest.p, b->pMeta->smallest.n);
}

/*
** Replay the manifest zPath into *p (zeroed, bPrint set as wanted), then
** sort the live tables (toolCmpLive).  On failure *p holds the state
** after the last good edit.  The caller releases p->state with
** lsmEditClear either way.
*/
static int toolManifestLoad(lsm_env *pEnv, const char *zPath,
                            ToolManifest *p){
  int rc;
  lsmEditInit(&p->state);
  rc = toolReadRecords(pEnv, zPath, toolManifestRecord, p,
                       &p->iEnd, &p->bTorn);
  if( p->state.nAdd>1 ){
    qsort(p->state.aAdd, (size_t)p->state.nAdd, sizeof(LsmEditFile),
          toolCmpLive);
  }
  return rc;
}

/*
** REQUIRES: the live tables sorted (toolManifestLoad).  LSM_CORRUPT
** naming the first two tables of a level >= 1 whose key ranges overlap,
** else LSM_OK.
*/
static int toolCheckOverlap(const char *zManifest, const LsmVersionEdit *s){
  int i;
  for(i=1; i<s->nAdd; i++){
    const LsmEditFile *a = &s->aAdd[i-1], *b = &s->aAdd[i];
    if( a->iLevel==b->iLevel && a->iLevel>0
     && lsmUkeyCompare(a->pMeta->largest.p,
                       lsmIkeyUserLen(a->pMeta->largest.n),
                       b->pMeta->smallest.p,
                       lsmIkeyUserLen(b->pMeta->smallest.n))>=0 ){
      return lsmErr(LSM_CORRUPT, "%s: tables %06llu.sst and %06llu.sst "
                    "overlap in level %d", zManifest,
                    (unsigned long long)a->iFile, (unsigned long long)b->iFile,
                    a->iLevel);
    }
  }
  return LSM_OK;
}

/* Totals over the live tables of one level, or of all (iLevel<0). */
typedef struct ToolTotals {
  uint64_t nTable, nByte, nEntry, nTombstone;
} ToolTotals;

static ToolTotals toolLevelTotals(const LsmVersionEdit *s, int iLevel){
  ToolTotals t = {0, 0, 0, 0};
  int i;
  for(i=0; i<s->nAdd; i++){
    if( iLevel<0 || s->aAdd[i].iLevel==iLevel ){
      const LsmFileMeta *m = s->aAdd[i].pMeta;
      t.nTable++;
      t.nByte += m->nSize;
      t.nEntry += m->nEntry;
      t.nTombstone += m->nTombstone;
    }
  }
  return t;
}

static void toolPrintLevels(const LsmVersionEdit *s){
  ToolTotals t;
  int iLevel, i;
  printf("levels\n");
  for(iLevel=0; iLevel<LSM_NUM_LEVELS; iLevel++){
    t = toolLevelTotals(s, iLevel);
    printf("  L%d tables %llu bytes %llu entries %llu\n", iLevel,
           (unsigned long long)t.nTable, (unsigned long long)t.nByte,
           (unsigned long long)t.nEntry);
    for(i=0; i<s->nAdd; i++){
      const LsmFileMeta *m = s->aAdd[i].pMeta;
      if( s->aAdd[i].iLevel!=iLevel ) continue;
      printf("    %06llu.sst size %llu entries %llu keys ",
             (unsigned long long)m->iFile, (unsigned long long)m->nSize,
             (unsigned long long)m->nEntry);
      toolPrintBytes(m->smallest.p, lsmIkeyUserLen(m->smallest.n));
      fputs(" .. ", stdout);
      toolPrintBytes(m->largest.p, lsmIkeyUserLen(m->largest.n));
      putchar('\n');
    }
  }
  t = toolLevelTotals(s, -1);
  printf("total tables %llu bytes %llu entries %llu\n",
         (unsigned long long)t.nTable, (unsigned long long)t.nByte,
         (unsigned long long)t.nEntry);
  printf("log number %llu next file %llu last seq %llu",
         (unsigned long long)s->iLogNumber, (unsigned long long)s->iNextFile,
         (unsigned long long)s->iLastSeq);
  if( s->bLastTxn ) printf(" last txn %llu", (unsigned long long)s->iLastTxn);
  putchar('\n');
}

static int toolDumpManifest(lsm_env *pEnv, const char *zArg){
  ToolManifest m;
  char *zManifest = 0;
  int rc = LSM_OK;
  memset(&m, 0, sizeof(m));
  m.bPrint = 1;
  if( toolIsDirectory(zArg) ){
    rc = toolCurrentManifest(pEnv, zArg, &zManifest);
  }else{
    zManifest = lsmStrdup(zArg);
    if( zManifest==0 ) rc = lsmErr(LSM_NOMEM, 0);
  }
  if( rc==LSM_OK ){
    printf("manifest %s\n", zManifest);
    rc = toolManifestLoad(pEnv, zManifest, &m);
  }
  if( rc==LSM_OK ){
    toolPrintEnd(pEnv, zManifest, m.iEnd, m.bTorn);
    toolPrintLevels(&m.state);
    rc = toolCheckOverlap(zManifest, &m.state);
  }
  lsmEditClear(&m.state);
  lsmFree(zManifest);
  return rc==LSM_OK ? TOOL_EXIT_OK : toolFail(rc);
}

/**************************************************************************
** dump-table.
*/

static void toolPrintProps(const LsmTableProps *p){
  printf("  file size %llu\n", (unsigned long long)p->nFileSize);
  printf("  entries %llu\n", (unsigned long long)p->nEntry);
  printf("  tombstones %llu\n", (unsigned long long)p->nTombstone);
  printf("  seq range %llu..%llu\n", (unsigned long long)p->minSeq,
         (unsigned long long)p->maxSeq);
  fputs("  smallest ", stdout);
  toolPrintIkey(p->smallest.p, p->smallest.n);
  fputs("\n  largest ", stdout);
  toolPrintIkey(p->largest.p, p->largest.n);
  printf("\n  raw key bytes %llu\n", (unsigned long long)p->nRawKey);
  printf("  raw value bytes %llu\n", (unsigned long long)p->nRawValue);
  printf("  data blocks %llu\n", (unsigned long long)p->nDataBlock);
}

static int toolDumpTable(lsm_env *pEnv, const char *zPath, int bPropsOnly){
  LsmTable *pTab = 0;
  LsmIter *pIter = 0;
  uint64_t nEntry = 0;
  int rc = lsmTableOpen(pEnv, zPath, 0, 0, 0, &pTab);
  if( rc==LSM_OK ){
    printf("table %s\n", zPath);
    toolPrintProps(lsmTableProps(pTab));
  }
  if( rc==LSM_OK && !bPropsOnly ){
    printf("entries\n");
    rc = lsmTableIterNew(pTab, 0, &pIter);
    if( rc==LSM_OK ) rc = lsmIterFirst(pIter);
    while( rc==LSM_OK && lsmIterValid(pIter) ){
      const uint8_t *pKey, *pVal;
      size_t nKey, nVal;
      lsmIterKey(pIter, &pKey, &nKey);
      lsmIterValue(pIter, &pVal, &nVal);
      toolPrintEntry(lsmIkeySeq(pKey, nKey), lsmIkeyKind(pKey, nKey),
                     pKey, lsmIkeyUserLen(nKey), pVal, nVal);
      nEntry++;
      rc = lsmIterNext(pIter);
    }
    if( rc==LSM_OK ) printf("end %llu entries\n", (unsigned long long)nEntry);
  }
  lsmIterClose(pIter);
  if( pTab ) lsmTableUnref(pTab);
  return rc==LSM_OK ? TOOL_EXIT_OK : toolFail(rc);
}

/**************************************************************************
** check.
*/

typedef struct ToolCheck {
  lsm_env *pEnv;
  const char *zDir;
  int nProblem;
  ToolProgress progress;
} ToolCheck;

/* Report the current message (for rc) as one problem. */
static void toolProblem(ToolCheck *p, int rc){
  printf("%s\n", toolMessage(rc));
  p->nProblem++;
}

/* A no-op batch callback: lsmBatchForEach alone validates the batch. */
static int toolIgnoreOp(void *pArg, uint64_t seq, int kind,
                        const uint8_t *pKey, size_t nKey,
                        const uint8_t *pVal, size_t nVal){
  (void)pArg; (void)seq; (void)kind;
  (void)pKey; (void)nKey; (void)pVal; (void)nVal;
  return LSM_OK;
}

/* ToolRecordFn for a live log: each record must be a well-formed batch
** or two-phase commit record. */
static int toolCheckLogRecord(void *pArg, const char *zPath, uint64_t iOff,
                              int type, const uint8_t *a, size_t n){
  int rc = lsmLogRecordCheck(zPath, iOff, type, n);
  (void)pArg;
  if( rc!=LSM_OK || type==LSM_REC_COMMIT || type==LSM_REC_ABORT ) return rc;
  if( type==LSM_REC_PREPARE ){
    a += 8;
    n -= 8;
  }
  rc = lsmBatchForEach(a, n, toolIgnoreOp, 0);
  if( rc!=LSM_OK ) rc = toolWrap(rc, zPath, "record", iOff);
  return rc;
}

/*
** Check log iLog: every record good and a batch; a torn tail only if it
** is the newest log (older logs were synced before a newer one began).
*/
static void toolCheckLog(ToolCheck *p, uint64_t iLog, int bNewest){
  char *zPath = lsmLogFileName(p->zDir, iLog);
  uint64_t iEnd;
  int bTorn;
  int rc = zPath ? LSM_OK : lsmErr(LSM_NOMEM, 0);
  if( rc==LSM_OK ){
    rc = toolReadRecords(p->pEnv, zPath, toolCheckLogRecord, 0, &iEnd, &bTorn);
  }
  if( rc==LSM_OK && bTorn && !bNewest ){
    rc = lsmErr(LSM_CORRUPT, "%s: damaged record at offset %llu in a log "
                "that is not the newest", zPath, (unsigned long long)iEnd);
  }
  if( rc!=LSM_OK ) toolProblem(p, rc);
  lsmFree(zPath);
}

/*
** Check that the table's own properties agree with what the manifest
** records for it.  REQUIRES: the table passed lsmTableCheck.
*/
static int toolCheckMeta(ToolCheck *p, const char *zPath,
                         const char *zManifest, const LsmFileMeta *m){
  LsmTable *pTab = 0;
  int rc = lsmTableOpen(p->pEnv, zPath, m->iFile, 0, 0, &pTab);
  if( rc==LSM_OK ){
    const LsmTableProps *t = lsmTableProps(pTab);
    struct { const char *zName; uint64_t iMan, iTab; } aField[5];
    int i;
    aField[0].zName = "size";       aField[0].iMan = m->nSize;
    aField[0].iTab = t->nFileSize;
    aField[1].zName = "entries";    aField[1].iMan = m->nEntry;
    aField[1].iTab = t->nEntry;
    aField[2].zName = "tombstones"; aField[2].iMan = m->nTombstone;
    aField[2].iTab = t->nTombstone;
    aField[3].zName = "min seq";    aField[3].iMan = m->minSeq;
    aField[3].iTab = t->minSeq;
    aField[4].zName = "max seq";    aField[4].iMan = m->maxSeq;
    aField[4].iTab = t->maxSeq;
    for(i=0; rc==LSM_OK && i<5; i++){
      if( aField[i].iMan!=aField[i].iTab ){
        rc = lsmErr(LSM_CORRUPT, "%s: %s is %llu but %s records %llu",
                    zPath, aField[i].zName, (unsigned long long)aField[i].iTab,
                    zManifest, (unsigned long long)aField[i].iMan);
      }
    }
    if( rc==LSM_OK
     && (m->smallest.n!=t->smallest.n || m->largest.n!=t->largest.n
      || memcmp(m->smallest.p, t->smallest.p, m->smallest.n)!=0
      || memcmp(m->largest.p, t->largest.p, m->largest.n)!=0) ){
      rc = lsmErr(LSM_CORRUPT, "%s: key range differs from the one %s "
                  "records", zPath, zManifest);
    }
    lsmTableUnref(pTab);
  }
  return rc;
}

static void toolCheckTable(ToolCheck *p, const char *zManifest,
                           const LsmEditFile *f){
  char *zPath = lsmTableFileName(p->zDir, f->iFile);
  int bExists = 0;
  int rc = zPath ? LSM_OK : lsmErr(LSM_NOMEM, 0);
  if( rc==LSM_OK ) rc = p->pEnv->xExists(p->pEnv, zPath, &bExists);
  if( rc==LSM_OK && !bExists ){
    rc = lsmErr(LSM_NOTFOUND, "%s: missing (listed in %s at level %d)",
                zPath, zManifest, f->iLevel);
  }
  if( rc==LSM_OK ) rc = lsmTableCheck(p->pEnv, zPath);
  if( rc==LSM_OK ) rc = toolCheckMeta(p, zPath, zManifest, f->pMeta);
  if( rc!=LSM_OK ) toolProblem(p, rc);
  lsmFree(zPath);
}

static int toolCheck(lsm_env *pEnv, const char *zDir){
  ToolCheck ck;
  ToolManifest m;
  ToolNumbers logs;
  char *zManifest = 0;
  int rc, i;

  memset(&ck, 0, sizeof(ck));
  memset(&m, 0, sizeof(m));
  memset(&logs, 0, sizeof(logs));
  ck.pEnv = pEnv;
  ck.zDir = zDir;
  logs.zExt = ".log";

  rc = toolCurrentManifest(pEnv, zDir, &zManifest);
  if( rc==LSM_OK ){
    /* Without a readable manifest the live tables and logs are unknown:
    ** the check stops at the first problem there. */
    rc = toolManifestLoad(pEnv, zManifest, &m);
    if( rc==LSM_OK ) rc = toolCheckOverlap(zManifest, &m.state);
  }
  if( rc==LSM_OK ) rc = toolListNumbers(pEnv, zDir, &logs);
  if( rc==LSM_OK ){
    /* Progress counts the tables' bytes as the manifest records them
    ** and the logs' as they are now. */
    uint64_t nTotal = 0, nDone = 0;
    uint64_t *anLog = lsmMallocZero(sizeof(uint64_t)*(size_t)(logs.n+1));
    if( anLog==0 ) rc = lsmErr(LSM_NOMEM, 0);
    for(i=0; rc==LSM_OK && i<m.state.nAdd; i++){
      nTotal += m.state.aAdd[i].pMeta->nSize;
    }
    for(i=0; rc==LSM_OK && i<logs.n; i++){
      char *zLog = lsmLogFileName(zDir, logs.a[i]);
      if( zLog && logs.a[i]>=m.state.iLogNumber ){
        toolFileSize(pEnv, zLog, &anLog[i]);
        nTotal += anLog[i];
      }
      lsmFree(zLog);
    }
    if( rc==LSM_OK ) toolProgressStart(&ck.progress, pEnv, "check", nTotal);
    for(i=0; rc==LSM_OK && i<m.state.nAdd; i++){
      toolCheckTable(&ck, zManifest, &m.state.aAdd[i]);
      nDone += m.state.aAdd[i].pMeta->nSize;
      toolProgressSet(&ck.progress, nDone, nTotal);
    }
    for(i=0; rc==LSM_OK && i<logs.n; i++){
      if( logs.a[i]>=m.state.iLogNumber ){
        toolCheckLog(&ck, logs.a[i], i==logs.n-1);
        nDone += anLog[i];
        toolProgressSet(&ck.progress, nDone, nTotal);
      }
    }
    if( rc==LSM_OK ) toolProgressEnd(&ck.progress);
    lsmFree(anLog);
  }
  if( rc!=LSM_OK ) toolProblem(&ck, rc);
  if( ck.nProblem==0 ) printf("ok\n");
  lsmFree(logs.a);
  lsmEditClear(&m.state);
  lsmFree(zManifest);
  return ck.nProblem ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
}

/**************************************************************************
** stat.
*/

static int toolStat(lsm_env *pEnv, const char *zDir){
  ToolManifest m;
  ToolNumbers logs;
  char *zManifest = 0;
  uint64_t nManifest = 0;
  int rc, i;

  memset(&m, 0, sizeof(m));
  memset(&logs, 0, sizeof(logs));
  logs.zExt = ".log";
  rc = toolCurrentManifest(pEnv, zDir, &zManifest);
  if( rc==LSM_OK ) rc = toolManifestLoad(pEnv, zManifest, &m);
  if( rc==LSM_OK ) rc = toolFileSize(pEnv, zManifest, &nManifest);
  if( rc==LSM_OK ) rc = toolListNumbers(pEnv, zDir, &logs);
  if( rc==LSM_OK ){
    ToolTotals t;
    uint64_t nLive = 0, nLiveByte = 0;
    printf("manifest %s size %llu edits %d\n", zManifest,
           (unsigned long long)nManifest, m.nEdit);
    printf("log number %llu next file %llu last seq %llu\n",
           (unsigned long long)m.state.iLogNumber,
           (unsigned long long)m.state.iNextFile,
           (unsigned long long)m.state.iLastSeq);
    printf("%-5s %8s %14s %12s %12s\n", "level", "tables", "bytes",
           "entries", "tombstones");
    for(i=0; i<=LSM_NUM_LEVELS; i++){
      char zLevel[16];
      if( i<LSM_NUM_LEVELS ){
        t = toolLevelTotals(&m.state, i);
        snprintf(zLevel, sizeof(zLevel), "L%d", i);
      }else{
        t = toolLevelTotals(&m.state, -1);
        snprintf(zLevel, sizeof(zLevel), "total");
      }
      printf("%-5s %8llu %14llu %12llu %12llu\n", zLevel,
             (unsigned long long)t.nTable, (unsigned long long)t.nByte,
             (unsigned long long)t.nEntry, (unsigned long long)t.nTombstone);
    }
    for(i=0; rc==LSM_OK && i<logs.n; i++){
      char *zPath = lsmLogFileName(zDir, logs.a[i]);
      uint64_t nSize = 0;
      int bLive = logs.a[i]>=m.state.iLogNumber;
      rc = zPath ? toolFileSize(pEnv, zPath, &nSize) : lsmErr(LSM_NOMEM, 0);
      if( rc==LSM_OK ){
        printf("log %06llu.log size %llu%s\n", (unsigned long long)logs.a[i],
               (unsigned long long)nSize, bLive ? "" : " (obsolete)");
        if( bLive ){
          nLive++;
          nLiveByte += nSize;
        }
      }
      lsmFree(zPath);
    }
    if( rc==LSM_OK ){
      printf("logs live %llu bytes %llu\n", (unsigned long long)nLive,
             (unsigned long long)nLiveByte);
    }
  }
  lsmFree(logs.a);
  lsmEditClear(&m.state);
  lsmFree(zManifest);
  return rc==LSM_OK ? TOOL_EXIT_OK : toolFail(rc);
}

/**************************************************************************
** backup.
*/

static void toolBackupProgress(void *pArg, uint64_t nDone, uint64_t nTotal){
  toolProgressSet((ToolProgress*)pArg, nDone, nTotal);
}

/*
** Open zSrc read-only and write a consistent copy of it to the new
** directory zDest; print the sequence number the copy holds.
*/
static int toolBackup(lsm_env *pEnv, const char *zSrc, const char *zDest){
  lsm_options opts;
  lsm_db *db = 0;
  ToolProgress progress;
  uint64_t iSeq = 0;
  int rc;
  lsm_options_init(&opts);
  opts.read_only = 1;
  opts.create_if_missing = 0;
  opts.env = pEnv;
  rc = lsm_open(zSrc, &opts, &db);
  if( rc==LSM_OK ){
    toolProgressStart(&progress, pEnv, "backup", 0);
    rc = lsm_backup_ex(db, zDest, &iSeq, toolBackupProgress, &progress);
    if( rc==LSM_OK ) toolProgressEnd(&progress);
  }
  if( rc!=LSM_OK ){
    /* The engine put its message in the handle, for lsm_errmsg. */
    lsmErr(rc, "%s%s", db ? lsm_errmsg(db) : lsm_errstr(rc),
           rc==LSM_BUSY ? " (back up a database that is in use from the "
                          "process using it: SELECT lsm_backup(...))" : "");
  }else{
    printf("backup %s last seq %llu\n", zDest, (unsigned long long)iSeq);
  }
  lsm_close(db);
  return rc==LSM_OK ? TOOL_EXIT_OK : toolFail(rc);
}

/**************************************************************************
** main.
*/

static int toolUsage(void){
  fputs(zUsage, stderr);
  return TOOL_EXIT_USAGE;
}

int main(int argc, char **argv){
  lsm_env *pEnv = lsm_env_default();
  const char *zCmd = argc>=2 ? argv[1] : "";
  lsmErrClear();
  if( strcmp(zCmd, "help")==0 || strcmp(zCmd, "--help")==0
   || strcmp(zCmd, "-h")==0 ){
    if( argc!=2 ) return toolUsage();
    fputs(zUsage, stdout);
    return TOOL_EXIT_OK;
  }
  if( strcmp(zCmd, "dump-table")==0 ){
    /* --props may come before or after the file. */
    const char *zFile = 0;
    int bProps = 0;
    int i;
    for(i=2; i<argc; i++){
      if( strcmp(argv[i], "--props")==0 && !bProps ){
        bProps = 1;
      }else if( zFile==0 && argv[i][0]!='-' ){
        zFile = argv[i];
      }else{
        return toolUsage();
      }
    }
    if( zFile==0 ) return toolUsage();
    return toolDumpTable(pEnv, zFile, bProps);
  }
  if( strcmp(zCmd, "backup")==0 ){
    if( argc!=4 ) return toolUsage();
    return toolBackup(pEnv, argv[2], argv[3]);
  }
  if( argc!=3 ) return toolUsage();
  if( strcmp(zCmd, "dump-log")==0 ) return toolDumpLog(pEnv, argv[2]);
  if( strcmp(zCmd, "dump-manifest")==0 ) return toolDumpManifest(pEnv, argv[2]);
  if( strcmp(zCmd, "check")==0 ) return toolCheck(pEnv, argv[2]);
  if( strcmp(zCmd, "stat")==0 ) return toolStat(pEnv, argv[2]);
  return toolUsage();
}
