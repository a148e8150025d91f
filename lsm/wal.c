/*
** wal.c -- record files: the write-ahead log and the manifest.
**
** Both files are a plain sequence of records (wal.h, FORMAT.md):
**
**     crc32c u32 | length u32 | type u8 | payload (length bytes)
**
** little-endian, the CRC32C covering the 5 bytes of length and type and
** then the payload.  There is no block structure and no padding, so a
** record of any size is one contiguous run of bytes.
**
** Writer.  lsmWalWriterAppend builds the 9-byte header and appends header
** and payload with the env's xAppend: small records are copied into one
** buffer and written with a single call, large ones are written as two
** calls so that a 64 MiB payload is never copied.  Nothing is synced
** until lsmWalWriterSync.  After a failed append the file may hold part of
** a record; the writer refuses further appends and must be closed (the
** reader later treats the partial record as a torn tail).
**
** Reader.  The file is streamed through a window buffer with xRead, at
** least WAL_CHUNK bytes at a time; the window grows to hold a whole
** record when a record is larger, but never beyond the bytes left in the
** file, so a bogus length cannot cause a huge allocation.  A record is
** good if it lies entirely inside the file, has a non-zero type and its
** CRC matches.  At the first record that is not good, the reader decides
** between the two things it can mean:
**
**   - a torn tail: the last write before a crash reached the disk only in
**     part (or the file system exposed zeroed or stale blocks past the
**     last sync).  Then no good record can start anywhere after the bad
**     offset.  Next reports LSM_NOTFOUND, lsmWalReaderTorn() is true and
**     lsmWalReaderTailOffset() is the bad record's offset, where recovery
**     may truncate the file;
**   - corruption: some position after the bad offset starts a good
**     record, so data that was once written completely has been damaged.
**     Next reports LSM_CORRUPT with the file name and the offset.
**
** The scan for a good record after the bad offset.  Every byte position
** is a candidate.  Checking each candidate by reading its claimed length
** and computing a CRC over it would cost time quadratic in the length of
** the damaged region (think of a torn 64 MiB record of random bytes: one
** position in 64 has a length that fits in the file).  Instead the scan
** reads the region once, in chunks, and keeps the running CRC register
** R(x) of the bytes [start, x) computed from a zero register.  CRC32C
** without its final inversion is linear over GF(2), so the CRC of any
** range [a, e) follows from two prefix registers:
**
**     crc(a, e) = ~( R(e) ^ shift(~R(a), e-a) )
**
** where shift(r, n) is the register r after n zero bytes, that is r times
** x^(8n) modulo the Castagnoli polynomial.  A candidate at j claims the
** CRC of [j+4, e) with e = j+9+length.  When the scan has read its header
** it knows R(j+4) and the stored CRC, so it computes the value R(e) must
** take for the candidate to be good and files it in a min-heap keyed by
** e; when the scan reaches e it compares.  Each byte is read once; each
** candidate costs one carry-less multiplication by x^(8n), and the factor
** itself (a few dozen more) is cached by n, since damaged regions are
** often regular and repeat the same few lengths.
**
** The heap holds at most one entry per WAL_REGION_PER_PENDING bytes of the
** region, and never more than WAL_MAX_PENDING (16 MiB).  Only contrived
** data fills it (megabytes of bytes that nearly all decode as plausible
** headers).  Past that point the scan reads the region once more to note
** the register every WAL_CHECK_SPAN bytes (4 bytes of memory per KiB),
** and settles each further candidate from the checkpoint nearest its end:
** a CRC over less than WAL_CHECK_SPAN bytes, taken from a cached chunk,
** instead of a read of the whole candidate.  Time stays linear in the
** region either way.
**
** Invariants of the reader: aBuf[0..nBuf-1] holds the file's bytes
** starting at offset iBufOff; iOff is the offset of the next record and
** therefore the end of the good prefix returned so far.
*/
#include "wal.h"

#include <string.h>

#include "coding.h"
#include "util.h"

/* Bytes the reader asks xRead for at a time (more if a record needs it). */
#define WAL_CHUNK        (64*1024)
/* Records up to this size are written with one xAppend. */
#define WAL_COALESCE_MAX (32*1024)
/* Candidates the scan may keep pending (16 bytes each): one per
** WAL_REGION_PER_PENDING bytes scanned, within these bounds. */
#define WAL_REGION_PER_PENDING 64
#define WAL_MIN_PENDING  64
#define WAL_MAX_PENDING  (1<<20)
/* Distance between the scan's checkpoints (divides WAL_CHUNK). */
#define WAL_CHECK_SPAN   1024
/* Entries in the scan's cache of shift factors. */
#define WAL_POW_CACHE    16
/* Reflected Castagnoli polynomial, as in coding.c. */
#define WAL_CRC_POLY     0x82f63b78u

struct LsmWalWriter {
  lsm_env *pEnv;
  lsm_file *pFile;
  char *zPath;            /* for error messages */
  uint64_t nSize;         /* bytes in the file */
  int bFailed;            /* an append failed; the tail is unknown */
  LsmBuf buf;             /* header and payload of a small record */
};

/* States of a reader. */
#define WAL_READING  0     /* records may follow iOff */
#define WAL_END      1     /* iOff is the end of the file */
#define WAL_TORN     2     /* iOff starts a torn tail */

struct LsmWalReader {
  lsm_env *pEnv;
  lsm_file *pFile;
  char *zPath;            /* for error messages */
  uint64_t nFile;         /* file size when opened */
  uint64_t iOff;          /* next record; end of the good prefix */
  int eState;             /* WAL_READING, WAL_END or WAL_TORN */
  uint32_t mDurable;      /* record types that prove damage is not torn */
  uint8_t *aBuf;          /* window buffer */
  size_t nAlloc;          /* bytes allocated at aBuf */
  size_t nBuf;            /* bytes of the file held in aBuf */
  uint64_t iBufOff;       /* file offset of aBuf[0] */
};

/*************************************************************************
** Writer.
*/

int lsmWalWriterOpen(lsm_env *pEnv, const char *zPath, int bTruncate,
                     LsmWalWriter **ppWriter){
  int rc = LSM_OK;
  LsmWalWriter *p;
  int flags = LSM_OPEN_WRITE | (bTruncate ? LSM_OPEN_TRUNCATE : 0);

  *ppWriter = 0;
  p = lsmMallocZero(sizeof(*p));
  if( p==0 ) return lsmErr(LSM_NOMEM, 0);
  p->pEnv = pEnv;
  p->zPath = lsmStrdup(zPath);
  if( p->zPath==0 ) rc = lsmErr(LSM_NOMEM, 0);
  if( rc==LSM_OK ) rc = pEnv->xOpen(pEnv, zPath, flags, &p->pFile);
  if( rc==LSM_OK ) rc = pEnv->xSize(p->pFile, &p->nSize);
  if( rc!=LSM_OK ){
    if( p->pFile ) pEnv->xClose(p->pFile);
    lsmFree(p->zPath);
    lsmFree(p);
    return rc;
  }
  *ppWriter = p;
  return LSM_OK;
}

/*
** Append one record of the given type (1..255).  Returns LSM_OK, the
** env's error code (message set by the env), LSM_INVALID for a bad type
** or a writer that failed before, LSM_TOOBIG for a payload over 4 GiB - 1,
** or LSM_NOMEM.  Nothing is appended unless the arguments are good.
*/
int lsmWalWriterAppend(LsmWalWriter *p, int type,
                       const void *pPayload, size_t nPayload){
  int rc = LSM_OK;
  uint8_t aHdr[LSM_WAL_HEADER];
  uint32_t crc;
  lsm_env *pEnv = p->pEnv;

  if( p->bFailed ){
    return lsmErr(LSM_INVALID, "%s: append after an earlier write error",
                  p->zPath);
  }
  if( type<1 || type>255 ){
    return lsmErr(LSM_INVALID, "%s: bad record type %d", p->zPath, type);
  }
  if( (uint64_t)nPayload>UINT32_MAX ){
    return lsmErr(LSM_TOOBIG, "%s: record of %zu bytes is too large",
                  p->zPath, nPayload);
  }

  lsmPut32(&aHdr[4], (uint32_t)nPayload);
  aHdr[8] = (uint8_t)type;
  crc = lsmCrc32c(0, &aHdr[4], 5);
  crc = lsmCrc32c(crc, pPayload, nPayload);
  lsmPut32(&aHdr[0], crc);

  if( nPayload<=WAL_COALESCE_MAX ){
    p->buf.n = 0;
    rc = lsmBufAppend(&p->buf, aHdr, sizeof(aHdr));
    if( rc==LSM_OK ) rc = lsmBufAppend(&p->buf, pPayload, nPayload);
    if( rc!=LSM_OK ) return lsmErr(rc, 0);
    rc = pEnv->xAppend(p->pFile, p->buf.p, p->buf.n);
  }else{
    rc = pEnv->xAppend(p->pFile, aHdr, sizeof(aHdr));
    if( rc==LSM_OK ) rc = pEnv->xAppend(p->pFile, pPayload, nPayload);
  }
  if( rc==LSM_OK ){
    p->nSize += sizeof(aHdr) + nPayload;
  }else{
    p->bFailed = 1;
  }
  return rc;
}

/* Make every appended record durable.  LSM_OK or the env's error. */
int lsmWalWriterSync(LsmWalWriter *p){
  return p->pEnv->xSync(p->pFile);
}

uint64_t lsmWalWriterSize(const LsmWalWriter *p){
  return p->nSize;
}

/* Close the file (unsynced data is not synced) and free the writer.
** Returns the env's close error, if any; the writer is freed anyway. */
int lsmWalWriterClose(LsmWalWriter *p){
  int rc = LSM_OK;
  if( p==0 ) return LSM_OK;
  if( p->pFile ) rc = p->pEnv->xClose(p->pFile);
  lsmBufFree(&p->buf);
  lsmFree(p->zPath);
  lsmFree(p);
  return rc;
}

/*************************************************************************
** Reader: the window.
*/

/*
** Make the file's bytes [iOff, iOff+nNeed) available in the window,
** reading at least WAL_CHUNK bytes when it must read, but never past the
** size the file had when opened.  On LSM_OK *ppData points at offset iOff
** in the window (valid until the next walFill) and *pnAvail is the number
** of bytes there, which is less than nNeed only if the file ends first.
** Returns LSM_OK, LSM_NOMEM or the env's read error.
*/
static int walFill(LsmWalReader *p, uint64_t iOff, size_t nNeed,
                   const uint8_t **ppData, size_t *pnAvail){
  int rc = LSM_OK;
  uint64_t nLeft = iOff<p->nFile ? p->nFile - iOff : 0;
  uint64_t iBufEnd = p->iBufOff + p->nBuf;

  if( nNeed>nLeft ) nNeed = (size_t)nLeft;
  if( iOff<p->iBufOff || iOff+nNeed>iBufEnd ){
    size_t nKeep = 0;
    size_t nWant = nNeed>WAL_CHUNK ? nNeed : WAL_CHUNK;
    if( nWant>nLeft ) nWant = (size_t)nLeft;
    if( iOff>=p->iBufOff && iOff<iBufEnd ){
      nKeep = (size_t)(iBufEnd - iOff);
      memmove(p->aBuf, p->aBuf + (iOff - p->iBufOff), nKeep);
    }
    p->iBufOff = iOff;
    p->nBuf = nKeep;
    if( nWant>p->nAlloc ){
      uint8_t *aNew = lsmRealloc(p->aBuf, nWant);
      if( aNew==0 ){
        rc = lsmErr(LSM_NOMEM, 0);
      }else{
        p->aBuf = aNew;
        p->nAlloc = nWant;
      }
    }
    if( rc==LSM_OK && nWant>nKeep ){
      size_t nRead = 0;
      rc = p->pEnv->xRead(p->pFile, iOff + nKeep, p->aBuf + nKeep,
                          nWant - nKeep, &nRead);
      /* A short read means the file shrank since it was opened; the
      ** bytes that are there are still good. */
      p->nBuf = nKeep + nRead;
    }
  }
  if( rc!=LSM_OK || p->aBuf==0 ){
    *ppData = 0;
    *pnAvail = 0;
  }else{
    *ppData = p->aBuf + (iOff - p->iBufOff);
    *pnAvail = p->nBuf - (size_t)(iOff - p->iBufOff);
    if( *pnAvail>nNeed ) *pnAvail = nNeed;
  }
  return rc;
}

/*
** Look at the record starting at iOff.  LSM_OK if it is good: *pType,
** *ppPayload (in the window) and *pnPayload describe it.  LSM_NOTFOUND if
** it is not (cut short by the end of the file, zero type or CRC
** mismatch), with *pzWhy saying which.  Otherwise an error code.
*/
static int walRecordAt(LsmWalReader *p, uint64_t iOff, int *pType,
                       const uint8_t **ppPayload, size_t *pnPayload,
                       const char **pzWhy){
  const uint8_t *a;
  size_t nAvail;
  uint32_t nLen;
  int rc;

  rc = walFill(p, iOff, LSM_WAL_HEADER, &a, &nAvail);
  if( rc!=LSM_OK ) return rc;
  if( nAvail<LSM_WAL_HEADER ){
    *pzWhy = "header cut short by end of file";
    return LSM_NOTFOUND;
  }
  if( a[8]==0 ){
    *pzWhy = "record type 0";
    return LSM_NOTFOUND;
  }
  nLen = lsmGet32(&a[4]);
  if( (uint64_t)nLen > p->nFile - iOff - LSM_WAL_HEADER ){
    *pzWhy = "length runs past end of file";
    return LSM_NOTFOUND;
  }
  rc = walFill(p, iOff, LSM_WAL_HEADER + (size_t)nLen, &a, &nAvail);
  if( rc!=LSM_OK ) return rc;
  if( nAvail<LSM_WAL_HEADER + (size_t)nLen ){
    *pzWhy = "payload cut short by end of file";
    return LSM_NOTFOUND;
  }
  if( lsmCrc32c(0, &a[4], 5 + (size_t)nLen)!=lsmGet32(a) ){
    *pzWhy = "checksum mismatch";
    return LSM_NOTFOUND;
  }
  *pType = a[8];
  *ppPayload = &a[LSM_WAL_HEADER];
  *pnPayload = nLen;
  return LSM_OK;
}

/*************************************************************************
** Reader: the scan for a good record after a bad one.
*/

/* Product of a and b modulo the CRC polynomial, in the CRC's reflected
** bit order (bit 31 holds the coefficient of x^0). */
static uint32_t walGfMul(uint32_t a, uint32_t b){
  uint32_t r = 0;
  int i;
  for(i=0; i<32; i++){
    if( a & (0x80000000u>>i) ) r ^= b;
    b = (b & 1) ? (b>>1) ^ WAL_CRC_POLY : b>>1;      /* b *= x */
  }
  return r;
}

/*
** x^(8n) mod P: the factor that moves a CRC register past n zero bytes.
** aPow[k] is x^(8*2^k).
*/
static uint32_t walGfPow(const uint32_t *aPow, uint64_t n){
  uint32_t r = 0x80000000u;                       /* x^0 */
  int k;
  for(k=0; n; k++, n>>=1){
    if( n & 1 ) r = walGfMul(r, aPow[k]);
  }
  return r;
}

/* A candidate waiting for the scan to reach its end. */
typedef struct WalPending {
  uint64_t iEnd;          /* offset just past the candidate's payload */
  uint32_t rWant;         /* register value at iEnd that makes it good */
  uint32_t nLen;          /* its payload length (to recover its offset) */
} WalPending;

/* State of one scan over [iStart, nFile). */
typedef struct WalScan {
  uint64_t iStart;        /* registers R(x) are of the bytes [iStart, x) */
  WalPending *aHeap;      /* min-heap on iEnd */
  int nHeap;              /* entries in aHeap */
  int nHeapAlloc;         /* entries allocated */
  int nHeapMax;           /* cap on nHeap */
  uint32_t *aCheck;       /* aCheck[i] is R(iStart + i*WAL_CHECK_SPAN) */
  size_t nCheck;          /* valid entries of aCheck (0: not built yet) */
  uint8_t *aStream;       /* WAL_CHUNK bytes for reads outside the window */
  uint64_t iStreamOff;    /* file offset of aStream[0] ... */
  size_t nStream;         /* ... and bytes of the file held there */
  uint32_t aPow[64];      /* aPow[k] is x^(8*2^k) mod P */
  /* A small cache of walGfPow(aPow, n) by n: damaged regions are often
  ** regular, so the same few lengths come back again and again. */
  uint64_t aPowN[WAL_POW_CACHE];
  uint32_t aPowV[WAL_POW_CACHE];
} WalScan;

static void walHeapSwap(WalPending *a, int i, int j){
  WalPending t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/* Add x to the heap.  REQUIRES room for it. */
static void walHeapPush(WalScan *pScan, WalPending x){
  int i = pScan->nHeap++;
  pScan->aHeap[i] = x;
  while( i>0 && pScan->aHeap[(i-1)/2].iEnd>pScan->aHeap[i].iEnd ){
    walHeapSwap(pScan->aHeap, i, (i-1)/2);
    i = (i-1)/2;
  }
}

/* Remove the heap's smallest entry.  REQUIRES nHeap>0. */
static void walHeapPop(WalScan *pScan){
  WalPending *a = pScan->aHeap;
  int n = --pScan->nHeap;
  int i = 0;
  a[0] = a[n];
  for(;;){
    int iMin = i;
    int l = 2*i + 1;
    if( l<n && a[l].iEnd<a[iMin].iEnd ) iMin = l;
    if( l+1<n && a[l+1].iEnd<a[iMin].iEnd ) iMin = l+1;
    if( iMin==i ) break;
    walHeapSwap(a, i, iMin);
    i = iMin;
  }
}

/*
** Read the whole scan region once more, outside the window, and record
** the register at every WAL_CHECK_SPAN bytes in pScan->aCheck.  Built the
** first time the heap overflows; costs 4 bytes per WAL_CHECK_SPAN bytes of
** the region.  LSM_OK, LSM_NOMEM or a read error.
*/
static int walBuildCheckpoints(LsmWalReader *p, WalScan *pScan){
  int rc = LSM_OK;
  uint64_t iOff = pScan->iStart;
  size_t nAlloc = (size_t)((p->nFile - iOff)/WAL_CHECK_SPAN) + 1;
  uint32_t r = 0;

  pScan->aCheck = lsmMalloc(nAlloc*sizeof(uint32_t));
  if( pScan->aCheck==0 ) return lsmErr(LSM_NOMEM, 0);
  if( pScan->aStream==0 ) pScan->aStream = lsmMalloc(WAL_CHUNK);
  if( pScan->aStream==0 ) return lsmErr(LSM_NOMEM, 0);
  pScan->aCheck[0] = 0;
  pScan->nCheck = 1;
  while( iOff<p->nFile ){
    size_t nWant = WAL_CHUNK;
    size_t nRead = 0;
    size_t i;
    if( p->nFile - iOff < nWant ) nWant = (size_t)(p->nFile - iOff);
    rc = p->pEnv->xRead(p->pFile, iOff, pScan->aStream, nWant, &nRead);
    if( rc!=LSM_OK ) break;
    /* Every read but the last is whole chunks, so every full span here
    ** starts at a multiple of WAL_CHECK_SPAN from iStart. */
    for(i=0; i<nRead; i+=WAL_CHECK_SPAN){
      size_t n = nRead - i<WAL_CHECK_SPAN ? nRead - i : WAL_CHECK_SPAN;
      r = ~lsmCrc32c(~r, pScan->aStream + i, n);
      if( n==WAL_CHECK_SPAN ) pScan->aCheck[pScan->nCheck++] = r;
    }
    iOff += nRead;
    if( nRead<nWant ) break;                  /* the file shrank */
  }
  pScan->nStream = 0;                         /* aStream now holds junk */
  return rc;
}

/*
** Compute R(iEnd) from the nearest checkpoint at or below iEnd.  The bytes
** from there to iEnd come from the WAL_CHUNK-aligned chunk of the region
** that holds them, kept in aStream: overflowing candidates tend to end
** close together, so most need no read.  *pbHave is false if the file no
** longer holds those bytes.  LSM_OK, LSM_NOMEM or a read error.
*/
static int walRegisterAt(LsmWalReader *p, WalScan *pScan, uint64_t iEnd,
                         uint32_t *pr, int *pbHave){
  int rc = LSM_OK;
  uint64_t iRel = iEnd - pScan->iStart;
  uint64_t iCheck = iRel/WAL_CHECK_SPAN;
  uint64_t iChunk = pScan->iStart + iRel/WAL_CHUNK*WAL_CHUNK;
  size_t iFrom = (size_t)(iCheck*WAL_CHECK_SPAN % WAL_CHUNK);
  size_t iTo = iFrom + (size_t)(iRel % WAL_CHECK_SPAN);

  *pbHave = 0;
  if( pScan->nCheck==0 ) rc = walBuildCheckpoints(p, pScan);
  if( rc!=LSM_OK || iCheck>=pScan->nCheck ) return rc;
  if( pScan->iStreamOff!=iChunk || pScan->nStream==0 ){
    size_t nWant = WAL_CHUNK;
    if( p->nFile - iChunk < nWant ) nWant = (size_t)(p->nFile - iChunk);
    pScan->nStream = 0;
    rc = p->pEnv->xRead(p->pFile, iChunk, pScan->aStream, nWant,
                        &pScan->nStream);
    pScan->iStreamOff = iChunk;
    if( rc!=LSM_OK ) return rc;
  }
  if( iTo<=pScan->nStream ){
    *pr = ~lsmCrc32c(~pScan->aCheck[iCheck], &pScan->aStream[iFrom],
                     iTo - iFrom);
    *pbHave = 1;
  }
  return rc;
}

/*
** Consider the candidate record whose 9 header bytes are aHdr and start at
** offset iRec, where rPrefix is the scan's register R(iRec+4) and rHere
** is R(iRec+9), the register at the end of the header.  A candidate that
** runs past the end of the file or has type 0 is dropped.  An empty one is
** decided at once; a longer one goes into the heap, or, if the heap is
** full, is decided through the checkpoints.  *pbGood is set if the
** candidate was decided good.  LSM_OK, LSM_NOMEM or a read error.
*/
static int walCandidate(LsmWalReader *p, WalScan *pScan, uint64_t iRec,
                        const uint8_t *aHdr, uint32_t rPrefix,
                        uint32_t rHere, int *pbGood){
  int rc = LSM_OK;
  uint32_t nLen = lsmGet32(&aHdr[4]);
  uint64_t iEnd = iRec + LSM_WAL_HEADER + nLen;
  uint64_t nShift;
  int iSlot;
  uint32_t rWant;

  if( aHdr[8]==0 || iEnd>p->nFile ) return LSM_OK;
  if( p->mDurable!=0xffffffffu
   && (aHdr[8]>=32 || (p->mDurable & (1u<<aHdr[8]))==0) ){
    return LSM_OK;     /* an unsynced record proves nothing */
  }
  nShift = 5 + (uint64_t)nLen;
  iSlot = (int)(nShift % WAL_POW_CACHE);
  if( pScan->aPowN[iSlot]!=nShift ){
    pScan->aPowN[iSlot] = nShift;
    pScan->aPowV[iSlot] = walGfPow(pScan->aPow, nShift);
  }
  rWant = ~lsmGet32(aHdr) ^ walGfMul(~rPrefix, pScan->aPowV[iSlot]);
  if( nLen==0 ){
    *pbGood = (rWant==rHere);
  }else if( pScan->nHeap<pScan->nHeapMax ){
    WalPending x;
    if( pScan->nHeap==pScan->nHeapAlloc ){
      int nNew = pScan->nHeapAlloc ? pScan->nHeapAlloc*2 : 64;
      WalPending *aNew;
      if( nNew>pScan->nHeapMax ) nNew = pScan->nHeapMax;
      aNew = lsmRealloc(pScan->aHeap, (size_t)nNew*sizeof(WalPending));
      if( aNew==0 ) return lsmErr(LSM_NOMEM, 0);
      pScan->aHeap = aNew;
      pScan->nHeapAlloc = nNew;
    }
    x.iEnd = iEnd;
    x.rWant = rWant;
    x.nLen = nLen;
    walHeapPush(pScan, x);
  }else{
    uint32_t rEnd = 0;
    int bHave = 0;
    rc = walRegisterAt(p, pScan, iEnd, &rEnd, &bHave);
    *pbGood = (bHave && rEnd==rWant);
  }
  return rc;
}

/*
** Look for a good record starting anywhere in [iStart, nFile).  On LSM_OK
** *pbFound says whether there is one and *piFound is the offset of one
** (not necessarily the first).  Otherwise an error code.
*/
static int walScanForRecord(LsmWalReader *p, uint64_t iStart,
                            int *pbFound, uint64_t *piFound){
  int rc = LSM_OK;
  WalScan scan;
  uint32_t aReg[16];      /* aReg[x%16] is R(x) for the last 16 offsets */
  uint8_t aByte[16];      /* aByte[x%16] is the byte at x, last 16 */
  uint64_t x = iStart;    /* bytes [iStart, x) consumed */
  uint32_t r = 0;         /* R(x) */
  uint64_t nHeapMax;
  int bGood = 0;
  int k;

  memset(&scan, 0, sizeof(scan));
  scan.iStart = iStart;
  nHeapMax = (p->nFile - iStart)/WAL_REGION_PER_PENDING;
  if( nHeapMax<WAL_MIN_PENDING ) nHeapMax = WAL_MIN_PENDING;
  if( nHeapMax>WAL_MAX_PENDING ) nHeapMax = WAL_MAX_PENDING;
  scan.nHeapMax = (int)nHeapMax;
  scan.aPow[0] = 0x80000000u>>8;                  /* x^8 */
  for(k=1; k<64; k++) scan.aPow[k] = walGfMul(scan.aPow[k-1], scan.aPow[k-1]);
  for(k=0; k<WAL_POW_CACHE; k++){
    scan.aPowN[k] = 0;                            /* x^0: right for n=0 */
    scan.aPowV[k] = 0x80000000u;
  }
  *pbFound = 0;
  *piFound = 0;

  aReg[x%16] = r;
  while( rc==LSM_OK && !bGood && x<p->nFile ){
    const uint8_t *a;
    size_t nAvail = 0;
    size_t i;
    rc = walFill(p, x, WAL_CHUNK, &a, &nAvail);
    if( rc!=LSM_OK || nAvail==0 ) break;      /* nAvail==0: file shrank */
    for(i=0; i<nAvail && rc==LSM_OK && !bGood; i++){
      /* Consume one byte, then settle everything that ends at the new x:
      ** the candidate whose header ends here, and the heap's candidates
      ** whose payload ends here. */
      r = ~lsmCrc32c(~r, &a[i], 1);
      aByte[x%16] = a[i];
      x++;
      aReg[x%16] = r;
      if( x-iStart>=LSM_WAL_HEADER ){
        uint64_t iRec = x - LSM_WAL_HEADER;
        uint8_t aHdr[LSM_WAL_HEADER];
        for(k=0; k<LSM_WAL_HEADER; k++) aHdr[k] = aByte[(iRec+k)%16];
        rc = walCandidate(p, &scan, iRec, aHdr, aReg[(iRec+4)%16], r, &bGood);
        if( bGood ) *piFound = iRec;
      }
      while( rc==LSM_OK && !bGood && scan.nHeap>0 && scan.aHeap[0].iEnd==x ){
        if( scan.aHeap[0].rWant==r ){
          bGood = 1;
          *piFound = x - LSM_WAL_HEADER - scan.aHeap[0].nLen;
        }
        walHeapPop(&scan);
      }
    }
  }
  if( rc==LSM_OK ) *pbFound = bGood;
  lsmFree(scan.aHeap);
  lsmFree(scan.aCheck);
  lsmFree(scan.aStream);
  return rc;
}

/*************************************************************************
** Reader: the interface.
*/

/*
** Open zPath for reading records.  LSM_OK with a new reader in *ppReader
** (free with lsmWalReaderClose), or the env's error (LSM_NOTFOUND if the
** file does not exist) or LSM_NOMEM with *ppReader NULL.
*/
int lsmWalReaderOpen(lsm_env *pEnv, const char *zPath,
                     LsmWalReader **ppReader){
  int rc = LSM_OK;
  LsmWalReader *p;

  *ppReader = 0;
  p = lsmMallocZero(sizeof(*p));
  if( p==0 ) return lsmErr(LSM_NOMEM, 0);
  p->pEnv = pEnv;
  p->mDurable = 0xffffffffu;
  p->zPath = lsmStrdup(zPath);
  if( p->zPath==0 ) rc = lsmErr(LSM_NOMEM, 0);
  if( rc==LSM_OK ) rc = pEnv->xOpen(pEnv, zPath, LSM_OPEN_READONLY, &p->pFile);
  if( rc==LSM_OK ) rc = pEnv->xSize(p->pFile, &p->nFile);
  if( rc!=LSM_OK ){
    lsmWalReaderClose(p);
    return rc;
  }
  *ppReader = p;
  return LSM_OK;
}

/*
** See wal.h.  After an error the reader stays where it was: calling Next
** again retries the same record (and reports the same corruption).
*/
int lsmWalReaderNext(LsmWalReader *p, int *pType,
                     const uint8_t **ppPayload, size_t *pnPayload){
  int rc;
  const char *zWhy = "";
  int bFound = 0;
  uint64_t iFound = 0;

  *pType = 0;
  *ppPayload = 0;
  *pnPayload = 0;
  if( p->eState!=WAL_READING ) return LSM_NOTFOUND;
  if( p->iOff>=p->nFile ){
    p->eState = WAL_END;
    return LSM_NOTFOUND;
  }

  rc = walRecordAt(p, p->iOff, pType, ppPayload, pnPayload, &zWhy);
  if( rc==LSM_OK ){
    p->iOff += LSM_WAL_HEADER + *pnPayload;
    return LSM_OK;
  }
  if( rc!=LSM_NOTFOUND ) return rc;

  rc = walScanForRecord(p, p->iOff + 1, &bFound, &iFound);
  if( rc!=LSM_OK ) return rc;
  if( bFound ){
    return lsmErr(LSM_CORRUPT,
        "%s: corrupt log record at offset %llu: %s; a good record follows "
        "at offset %llu", p->zPath, (unsigned long long)p->iOff, zWhy,
        (unsigned long long)iFound);
  }
  p->eState = WAL_TORN;
  return LSM_NOTFOUND;
}

void lsmWalReaderDurableTypes(LsmWalReader *p, uint32_t mTypes){
  p->mDurable = mTypes;
}

uint64_t lsmWalReaderTailOffset(const LsmWalReader *p){
  return p->iOff;
}

int lsmWalReaderTorn(const LsmWalReader *p){
  return p->eState==WAL_TORN;
}

/* Close the file and free the reader.  NULL is a no-op. */
void lsmWalReaderClose(LsmWalReader *p){
  if( p==0 ) return;
  if( p->pFile ) p->pEnv->xClose(p->pFile);
  lsmFree(p->aBuf);
  lsmFree(p->zPath);
  lsmFree(p);
}
