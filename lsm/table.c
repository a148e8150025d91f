/*
** table.c -- sorted tables: the builder, the reader, the table iterator,
** the table cache and the checker.  table.h says how they are used;
** FORMAT.md describes the file byte by byte.  In short:
**
**     data block 0 | trailer
**     ...
**     data block N-1 | trailer
**     filter block | trailer      (absent when built with bloom_bits 0)
**     properties block | trailer
**     index block | trailer
**     footer (64 bytes)
**
**     trailer: type u8 (0 raw, 1 LZ4) | crc u32
**              crc = CRC32C over the stored block bytes, then the type byte
**     LZ4 block: varint uncompressed size | LZ4 block-format data
**
**     footer:  filter offset u64 | filter size u64
**              properties offset u64 | properties size u64
**              index offset u64 | index size u64
**              format version u32 | CRC32C of the 52 bytes before it u32
**              magic u64
**
** A block's size in a handle or index entry counts the stored (possibly
** compressed) bytes, not the trailer.  The blocks tile the file: each
** starts where the previous trailer ends, in the order above, and
** lsmTableCheck verifies that.
**
** Data and index blocks use the block format of block.h over internal
** keys.  An index entry's key is a separator S with (last key of its data
** block) <= S < (first key of the next data block); its value is varint
** offset | varint size of the data block.  The filter block is an encoded
** bloom filter (bloom.h) over the distinct user keys; the properties
** block is a list of varints and two length-prefixed keys.
**
** Reading: lsmTableOpen reads and checks the footer, index, filter and
** properties, and keeps them in memory for the table's life.  Data blocks
** are read on demand through the block cache, keyed by a cache id unique
** to each open LsmTable and the block's offset.  Every length, offset and
** varint taken from the file is checked before use; a bad one is
** LSM_CORRUPT with the file name and offset in the message.
**
** Threads: an open LsmTable is immutable apart from its reference count,
** so any number of threads may read it at once (reads use pread, or the
** file's memory map when the table cache maps tables: tableMap).  Each
** iterator belongs to one thread.  Counters in LsmReadStats are updated
** with atomic adds.
*/
#include "table.h"
#include "block.h"
#include "bloom.h"
#include "coding.h"
#include "ikey.h"

#include <lz4.h>
#include <string.h>

#define TABLE_MAGIC          0xdb4775248b80fb57ull
#define TABLE_FORMAT_VERSION 1
#define TABLE_FOOTER_SIZE    64
#define TABLE_TRAILER_SIZE   5

/* Block compression types (the trailer's first byte). */
#define TABLE_BLOCK_RAW      0
#define TABLE_BLOCK_LZ4      1

/*
** LZ4 cannot expand data by more than this factor on decompression, so
** a compressed block whose claimed size exceeds it is corrupt.  Checking
** this bounds the allocation a damaged size field can cause.
*/
#define TABLE_LZ4_MAX_RATIO  255

/* The index block restarts at every entry: it is binary-searched often. */
#define TABLE_INDEX_INTERVAL 1

/* Add 1 to a read counter, if the table has counters. */
#define TABLE_COUNT(pTab, field) do{                                   \
  if( (pTab)->pStats ){                                                \
    __atomic_fetch_add(&(pTab)->pStats->field, 1, __ATOMIC_RELAXED);   \
  }                                                                    \
}while(0)

/* Where a block lives: offset and stored size (trailer excluded). */
typedef struct TableHandle {
  uint64_t iOff;
  uint64_t nSize;
} TableHandle;

/*
** A decoded block in memory: one allocation, the struct followed by the
** nAlloc bytes of the block's contents (block.a).  Blocks in the block
** cache are TableBlocks, deleted by the cache's deleter.
*/
typedef struct TableBlock {
  LsmBlock block;
  size_t nAlloc;         /* bytes after the struct, for the cache charge */
} TableBlock;

/* Raw blocks up to this size are read into a buffer on the stack. */
#define TABLE_STACK_READ 16384

/* A data block in use: pinned in the cache (pHandle) or owned. */
typedef struct TableBlockRef {
  TableBlock *pBlock;
  LsmCacheHandle *pHandle;
} TableBlockRef;

struct LsmTable {
  lsm_env *pEnv;
  lsm_file *pFile;
  char *zPath;
  uint64_t iFileNum;
  uint64_t nFileSize;
  LsmCache *pBlockCache;     /* may be NULL */
  uint64_t iCacheId;         /* this table's id in pBlockCache */
  LsmReadStats *pStats;      /* may be NULL */
  int nRef;                  /* atomic */
  TableHandle hFilter;       /* size 0: no filter */
  TableHandle hProps;
  TableHandle hIndex;
  const uint8_t *aMap;       /* the whole file mapped, or NULL */
  TableBlock *pIndex;        /* the index block, always in memory */
  LsmBlockSummary indexSum;  /* its restart keys, for seeks */
  uint8_t *aFilter;          /* the filter, NULL if the table has none */
  size_t nFilter;
  LsmTableProps props;
};

struct LsmTableBuilder {
  lsm_env *pEnv;
  lsm_file *pFile;
  char *zPath;
  LsmTableOptions opts;
  uint64_t iOff;             /* bytes appended so far */
  LsmBlockBuilder data;      /* the data block being filled */
  LsmBlockBuilder index;
  LsmBloomBuilder bloom;
  LsmBuf lastKey;            /* the last internal key added */
  int bPending;              /* a data block awaits its index entry */
  TableHandle hPending;
  LsmBuf sep;                /* scratch: index separator */
  LsmBuf scratch;            /* scratch: compression output, encodings */
  LsmTableProps props;
  int rc;                    /* first error; once set, every call fails */
};

/*************************************************************************
** Shared helpers.
*/

void lsmTablePropsClear(LsmTableProps *pProps){
  lsmBufFree(&pProps->smallest);
  lsmBufFree(&pProps->largest);
  memset(pProps, 0, sizeof(*pProps));
}

/* CRC stored in a block trailer: the block bytes, then the type byte. */
static uint32_t tableBlockCrc(const uint8_t *a, size_t n, uint8_t type){
  return lsmCrc32c(lsmCrc32c(0, a, n), &type, 1);
}

/*
** Append the properties (except nFileSize, which the reader takes from
** the file) to pOut.  LSM_OK or LSM_NOMEM.
*/
static int tablePropsEncode(const LsmTableProps *pProps, LsmBuf *pOut){
  uint64_t aVal[7];
  int rc = LSM_OK;
  int i;
  aVal[0] = pProps->nEntry;
  aVal[1] = pProps->nTombstone;
  aVal[2] = pProps->minSeq;
  aVal[3] = pProps->maxSeq;
  aVal[4] = pProps->nRawKey;
  aVal[5] = pProps->nRawValue;
  aVal[6] = pProps->nDataBlock;
  for(i=0; rc==LSM_OK && i<7; i++) rc = lsmBufAppendVarint(pOut, aVal[i]);
  if( rc==LSM_OK ) rc = lsmBufAppendVarint(pOut, pProps->smallest.n);
  if( rc==LSM_OK ){
    rc = lsmBufAppend(pOut, pProps->smallest.p, pProps->smallest.n);
  }
  if( rc==LSM_OK ) rc = lsmBufAppendVarint(pOut, pProps->largest.n);
  if( rc==LSM_OK ){
    rc = lsmBufAppend(pOut, pProps->largest.p, pProps->largest.n);
  }
  return rc;
}

/*
** Decode a properties block a[0..n-1] into *pProps (which must be
** zeroed).  zPath and iOff name the block in messages.  LSM_OK,
** LSM_CORRUPT or LSM_NOMEM; *pProps may hold partial keys on failure and
** is released by the caller.
*/
static int tablePropsDecode(const uint8_t *a, size_t n, const char *zPath,
                            uint64_t iOff, LsmTableProps *pProps){
  uint64_t aVal[9];
  LsmBuf *apKey[2];
  size_t i = 0;
  int iVal, rc = LSM_OK;
  apKey[0] = &pProps->smallest;
  apKey[1] = &pProps->largest;
  for(iVal=0; iVal<9; iVal++){
    int k = i<n ? lsmGetVarint64(a+i, n-i, &aVal[iVal]) : 0;
    if( k==0 ) goto corrupt;
    i += (size_t)k;
    if( iVal>=7 ){
      /* A key length followed by the key. */
      if( aVal[iVal]>n-i ) goto corrupt;
      rc = lsmBufSet(apKey[iVal-7], a+i, (size_t)aVal[iVal]);
      if( rc!=LSM_OK ) return rc;
      i += (size_t)aVal[iVal];
    }
  }
  if( i!=n ) goto corrupt;
  pProps->nEntry = aVal[0];
  pProps->nTombstone = aVal[1];
  pProps->minSeq = aVal[2];
  pProps->maxSeq = aVal[3];
  pProps->nRawKey = aVal[4];
  pProps->nRawValue = aVal[5];
  pProps->nDataBlock = aVal[6];
  if( pProps->nTombstone>pProps->nEntry || pProps->minSeq>pProps->maxSeq ){
    goto corrupt;
  }
  if( pProps->nEntry==0 ){
    if( pProps->smallest.n || pProps->largest.n ) goto corrupt;
  }else if( pProps->smallest.n<LSM_IKEY_TRAILER
         || pProps->largest.n<LSM_IKEY_TRAILER
         || lsmIkeyCompare(pProps->smallest.p, pProps->smallest.n,
                           pProps->largest.p, pProps->largest.n)>0 ){
    goto corrupt;
  }
  return LSM_OK;

 corrupt:
  return lsmErr(LSM_CORRUPT, "%s: properties block at offset %llu: "
                "malformed", zPath, (unsigned long long)iOff);
}

/*************************************************************************
** The builder.
*/

int lsmTableBuilderNew(lsm_env *pEnv, const char *zPath,
                       const LsmTableOptions *pOpts, LsmTableBuilder **pp){
  LsmTableBuilder *p;
  int rc;
  *pp = 0;
  if( pOpts->block_size==0 || pOpts->restart_interval<1
   || pOpts->bloom_bits<0
   || (pOpts->compression!=LSM_COMPRESSION_NONE
       && pOpts->compression!=LSM_COMPRESSION_LZ4) ){
    return lsmErr(LSM_INVALID, "%s: bad table options", zPath);
  }
  p = lsmMallocZero(sizeof(*p));
  if( p==0 ) return lsmErr(LSM_NOMEM, 0);
  p->pEnv = pEnv;
  p->opts = *pOpts;
  lsmBlockBuilderInit(&p->data, pOpts->restart_interval);
  lsmBlockBuilderInit(&p->index, TABLE_INDEX_INTERVAL);
  lsmBloomBuilderInit(&p->bloom, pOpts->bloom_bits>0 ? pOpts->bloom_bits : 1);
  p->zPath = lsmStrdup(zPath);
  if( p->zPath==0 ){
    rc = lsmErr(LSM_NOMEM, 0);
  }else{
    rc = pEnv->xOpen(pEnv, zPath, LSM_OPEN_WRITE|LSM_OPEN_TRUNCATE,
                     &p->pFile);
  }
  if( rc!=LSM_OK ){
    lsmTableBuilderAbandon(p);
    return rc;
  }
  *pp = p;
  return LSM_OK;
}

/*
** Write block a[0..n-1] and its trailer at the end of the file, LZ4
** compressed if bCompress, the options ask for it and it saves at least
** an eighth.  *pHandle says where it went.
*/
static int builderWriteBlock(LsmTableBuilder *p, const uint8_t *a, size_t n,
                             int bCompress, TableHandle *pHandle){
  const uint8_t *pOut = a;
  size_t nOut = n;
  uint8_t aTrailer[TABLE_TRAILER_SIZE];
  int rc;

  aTrailer[0] = TABLE_BLOCK_RAW;
  if( bCompress && p->opts.compression==LSM_COMPRESSION_LZ4
   && n>0 && n<=LZ4_MAX_INPUT_SIZE ){
    int nBound = LZ4_compressBound((int)n);
    int nHdr, nZip;
    p->scratch.n = 0;
    rc = lsmBufReserve(&p->scratch, LSM_MAX_VARINT64 + (size_t)nBound);
    if( rc!=LSM_OK ) return rc;
    nHdr = lsmPutVarint64(p->scratch.p, n);
    nZip = LZ4_compress_default((const char*)a, (char*)p->scratch.p + nHdr,
                                (int)n, nBound);
    if( nZip>0 && (size_t)nHdr + (size_t)nZip<=n - n/8 ){
      pOut = p->scratch.p;
      nOut = (size_t)nHdr + (size_t)nZip;
      aTrailer[0] = TABLE_BLOCK_LZ4;
    }
  }
  lsmPut32(aTrailer+1, tableBlockCrc(pOut, nOut, aTrailer[0]));
  rc = p->pEnv->xAppend(p->pFile, pOut, nOut);
  if( rc==LSM_OK ){
    rc = p->pEnv->xAppend(p->pFile, aTrailer, sizeof(aTrailer));
  }
  if( rc==LSM_OK ){
    pHandle->iOff = p->iOff;
    pHandle->nSize = nOut;
    p->iOff += nOut + TABLE_TRAILER_SIZE;
  }
  return rc;
}

/*
** Set pOut to a short internal key S with a <= S < b, for the index
** entry of a block whose last key is a and whose successor starts with
** b.  REQUIRES a < b, both internal keys.  If the user keys first differ
** at byte i, a's byte there can be raised by one and still sort below
** b's, and a's user key goes on past byte i, then a[0..i-1] + (a[i]+1)
** is a shorter user key strictly between the two; with the trailer that
** sorts first among its versions it is a valid separator.  Otherwise a
** itself is.
*/
static int builderSeparator(LsmBuf *pOut, const uint8_t *a, size_t na,
                            const uint8_t *b, size_t nb){
  size_t nua = lsmIkeyUserLen(na), nub = lsmIkeyUserLen(nb);
  size_t nMin = nua<nub ? nua : nub;
  size_t i = 0;
  while( i<nMin && a[i]==b[i] ) i++;
  if( i<nMin && a[i]<0xff && a[i]+1<b[i] && i+1<nua ){
    uint8_t aTrailer[LSM_IKEY_TRAILER];
    uint8_t c = (uint8_t)(a[i]+1);
    int rc;
    lsmPut64(aTrailer, lsmIkeyLookupTrailer(LSM_MAX_SEQ));
    rc = lsmBufSet(pOut, a, i);
    if( rc==LSM_OK ) rc = lsmBufAppend(pOut, &c, 1);
    if( rc==LSM_OK ) rc = lsmBufAppend(pOut, aTrailer, sizeof(aTrailer));
    return rc;
  }
  return lsmBufSet(pOut, a, na);
}

/*
** Add the index entry for the data block written last.  pNext is the
** first key of the next block, or NULL if there is none.
*/
static int builderIndexPending(LsmTableBuilder *p, const uint8_t *pNext,
                               size_t nNext){
  uint8_t aVal[2*LSM_MAX_VARINT64];
  int nVal = 0;
  int rc;
  if( pNext ){
    rc = builderSeparator(&p->sep, p->lastKey.p, p->lastKey.n, pNext, nNext);
  }else{
    rc = lsmBufSet(&p->sep, p->lastKey.p, p->lastKey.n);
  }
  nVal += lsmPutVarint64(aVal+nVal, p->hPending.iOff);
  nVal += lsmPutVarint64(aVal+nVal, p->hPending.nSize);
  if( rc==LSM_OK ){
    rc = lsmBlockBuilderAdd(&p->index, p->sep.p, p->sep.n, aVal,
                            (size_t)nVal);
  }
  if( rc==LSM_OK ) p->bPending = 0;
  return rc;
}

/* Write the data block being filled, if it has entries. */
static int builderFlush(LsmTableBuilder *p){
  const uint8_t *a;
  size_t n;
  int rc;
  if( p->data.nEntry==0 ) return LSM_OK;
  rc = lsmBlockBuilderFinish(&p->data, &a, &n);
  if( rc==LSM_OK ) rc = builderWriteBlock(p, a, n, 1, &p->hPending);
  if( rc==LSM_OK ){
    p->bPending = 1;
    p->props.nDataBlock++;
    lsmBlockBuilderReset(&p->data);
  }
  return rc;
}

int lsmTableBuilderAdd(LsmTableBuilder *p, const uint8_t *pIkey, size_t nIkey,
                       const uint8_t *pVal, size_t nVal){
  LsmTableProps *pProps = &p->props;
  size_t nUser;
  uint64_t seq;
  int rc = p->rc;
  if( rc!=LSM_OK ) return rc;
  if( nIkey<LSM_IKEY_TRAILER || lsmIkeyKind(pIkey, nIkey)>LSM_KIND_MAX
   || (pProps->nEntry>0
       && lsmIkeyCompare(pIkey, nIkey, p->lastKey.p, p->lastKey.n)<=0) ){
    return p->rc = lsmErr(LSM_INVALID, "%s: internal key added out of "
                          "order, too short or of unknown kind", p->zPath);
  }
  nUser = lsmIkeyUserLen(nIkey);
  if( p->bPending ) rc = builderIndexPending(p, pIkey, nIkey);

  /* The filter holds each user key once, however many versions. */
  if( rc==LSM_OK && p->opts.bloom_bits>0
   && (pProps->nEntry==0
       || lsmUkeyCompare(pIkey, nUser, p->lastKey.p,
                         lsmIkeyUserLen(p->lastKey.n))!=0) ){
    rc = lsmBloomBuilderAdd(&p->bloom, pIkey, nUser);
  }
  if( rc==LSM_OK ) rc = lsmBlockBuilderAdd(&p->data, pIkey, nIkey, pVal, nVal);
  if( rc==LSM_OK ) rc = lsmBufSet(&p->lastKey, pIkey, nIkey);
  if( rc==LSM_OK && pProps->nEntry==0 ){
    rc = lsmBufSet(&pProps->smallest, pIkey, nIkey);
  }
  if( rc==LSM_OK ){
    seq = lsmIkeySeq(pIkey, nIkey);
    if( pProps->nEntry==0 || seq<pProps->minSeq ) pProps->minSeq = seq;
    if( pProps->nEntry==0 || seq>pProps->maxSeq ) pProps->maxSeq = seq;
    if( lsmIkeyKind(pIkey, nIkey)==LSM_KIND_DELETE ) pProps->nTombstone++;
    pProps->nEntry++;
    pProps->nRawKey += nIkey;
    pProps->nRawValue += nVal;
    if( lsmBlockBuilderSize(&p->data)>=p->opts.block_size ){
      rc = builderFlush(p);
    }
  }
  return p->rc = rc;
}

uint64_t lsmTableBuilderSize(const LsmTableBuilder *p){
  uint64_t n = p->iOff + lsmBlockBuilderSize(&p->data)
             + lsmBlockBuilderSize(&p->index) + TABLE_FOOTER_SIZE;
  if( p->opts.bloom_bits>0 ) n += lsmBloomBuilderSize(&p->bloom);
  return n;
}

uint64_t lsmTableBuilderCount(const LsmTableBuilder *p){
  return p->props.nEntry;
}

/* Write the filter, properties and index blocks and the footer. */
static int builderWriteTail(LsmTableBuilder *p){
  TableHandle hFilter = {0, 0}, hProps, hIndex;
  uint8_t aFooter[TABLE_FOOTER_SIZE];
  const uint8_t *a;
  size_t n;
  int rc = builderFlush(p);
  if( rc==LSM_OK && p->bPending ) rc = builderIndexPending(p, 0, 0);
  if( rc==LSM_OK && p->props.nEntry>0 ){
    rc = lsmBufSet(&p->props.largest, p->lastKey.p, p->lastKey.n);
  }
  if( rc==LSM_OK && p->opts.bloom_bits>0 ){
    p->scratch.n = 0;
    rc = lsmBloomBuilderFinish(&p->bloom, &p->scratch);
    /* Filter bits look random to a compressor: store them raw.  The
    ** block is written from the scratch buffer, which builderWriteBlock
    ** only reuses when compressing. */
    if( rc==LSM_OK ){
      rc = builderWriteBlock(p, p->scratch.p, p->scratch.n, 0, &hFilter);
    }
  }
  if( rc==LSM_OK ){
    LsmBuf props = {0, 0, 0};
    rc = tablePropsEncode(&p->props, &props);
    if( rc==LSM_OK ) rc = builderWriteBlock(p, props.p, props.n, 1, &hProps);
    lsmBufFree(&props);
  }
  if( rc==LSM_OK ) rc = lsmBlockBuilderFinish(&p->index, &a, &n);
  if( rc==LSM_OK ) rc = builderWriteBlock(p, a, n, 1, &hIndex);
  if( rc==LSM_OK ){
    lsmPut64(aFooter+0, hFilter.iOff);
    lsmPut64(aFooter+8, hFilter.nSize);
    lsmPut64(aFooter+16, hProps.iOff);
    lsmPut64(aFooter+24, hProps.nSize);
    lsmPut64(aFooter+32, hIndex.iOff);
    lsmPut64(aFooter+40, hIndex.nSize);
    lsmPut32(aFooter+48, TABLE_FORMAT_VERSION);
    lsmPut32(aFooter+52, lsmCrc32c(0, aFooter, 52));
    lsmPut64(aFooter+56, TABLE_MAGIC);
    rc = p->pEnv->xAppend(p->pFile, aFooter, sizeof(aFooter));
  }
  if( rc==LSM_OK ){
    p->iOff += TABLE_FOOTER_SIZE;
    rc = p->pEnv->xSync(p->pFile);
  }
  return rc;
}

int lsmTableBuilderFinish(LsmTableBuilder *p, LsmTableProps *pProps){
  int rc = p->rc;
  if( rc==LSM_OK ) rc = builderWriteTail(p);
  if( p->pFile ){
    int rc2 = p->pEnv->xClose(p->pFile);
    p->pFile = 0;
    if( rc==LSM_OK ) rc = rc2;
  }
  if( rc==LSM_OK && pProps ){
    p->props.nFileSize = p->iOff;
    *pProps = p->props;
    memset(&p->props, 0, sizeof(p->props));
  }
  lsmTableBuilderAbandon(p);
  return rc;
}

void lsmTableBuilderAbandon(LsmTableBuilder *p){
  if( p==0 ) return;
  if( p->pFile ) p->pEnv->xClose(p->pFile);
  lsmBlockBuilderFree(&p->data);
  lsmBlockBuilderFree(&p->index);
  lsmBloomBuilderFree(&p->bloom);
  lsmBufFree(&p->lastKey);
  lsmBufFree(&p->sep);
  lsmBufFree(&p->scratch);
  lsmTablePropsClear(&p->props);
  lsmFree(p->zPath);
  lsmFree(p);
}

/*************************************************************************
** Reading blocks.
*/

static void tableBlockFree(TableBlock *pBlock){
  lsmFree(pBlock);
}

/* Block-cache deleter. */
static void tableBlockDeleter(const void *pKey, size_t nKey, void *pValue){
  (void)pKey;
  (void)nKey;
  tableBlockFree((TableBlock*)pValue);
}

/*
** Read the block at h from the file, check that it lies inside the
** area before the footer, verify its checksum and decompress it.  On
** success *ppBlock is a new TableBlock (owned by the caller) whose
** block.a/nData are not yet parsed: block.a points at the contents and
** nData holds their length.  zWhat names the kind of block in messages.
*/
static int tableReadBlock(LsmTable *pTab, TableHandle h, const char *zWhat,
                          TableBlock **ppBlock){
  uint64_t nArea = pTab->nFileSize - TABLE_FOOTER_SIZE;
  TableBlock *pBlock = 0;
  uint8_t aStack[TABLE_STACK_READ];
  uint8_t *aRaw = aStack;
  size_t nRaw, nRead = 0;
  uint64_t nData = 0;
  int k = 0;
  uint8_t type;
  int rc = LSM_OK;

  *ppBlock = 0;
  if( h.iOff>nArea || h.nSize>nArea - h.iOff
   || TABLE_TRAILER_SIZE>nArea - h.iOff - h.nSize ){
    return lsmErr(LSM_CORRUPT, "%s: %s block at offset %llu: size %llu runs "
                  "past the end of the file", pTab->zPath, zWhat,
                  (unsigned long long)h.iOff, (unsigned long long)h.nSize);
  }
  nRaw = (size_t)h.nSize + TABLE_TRAILER_SIZE;
  if( pTab->aMap ){
    /* Checked above: the block and its trailer lie inside the map. */
    aRaw = (uint8_t*)pTab->aMap + h.iOff;
    nRead = nRaw;
  }else{
    if( nRaw>sizeof(aStack) && (aRaw = lsmMalloc(nRaw))==0 ){
      return lsmErr(LSM_NOMEM, 0);
    }
    rc = pTab->pEnv->xRead(pTab->pFile, h.iOff, aRaw, nRaw, &nRead);
    if( rc!=LSM_OK ) goto done;
  }
  if( nRead!=nRaw ){
    rc = lsmErr(LSM_CORRUPT, "%s: %s block at offset %llu: file truncated",
                pTab->zPath, zWhat, (unsigned long long)h.iOff);
    goto done;
  }
  type = aRaw[h.nSize];
  if( lsmGet32(aRaw + h.nSize + 1)
      !=tableBlockCrc(aRaw, (size_t)h.nSize, type) ){
    rc = lsmErr(LSM_CORRUPT, "%s: %s block at offset %llu: checksum mismatch",
                pTab->zPath, zWhat, (unsigned long long)h.iOff);
    goto done;
  }
  if( type==TABLE_BLOCK_RAW ){
    nData = h.nSize;
  }else if( type==TABLE_BLOCK_LZ4 ){
    k = lsmGetVarint64(aRaw, (size_t)h.nSize, &nData);
    if( k==0 || h.nSize - (uint64_t)k>LZ4_MAX_INPUT_SIZE
     || nData>(h.nSize - (uint64_t)k)*TABLE_LZ4_MAX_RATIO
     || nData>LZ4_MAX_INPUT_SIZE ){
      rc = lsmErr(LSM_CORRUPT, "%s: %s block at offset %llu: bad compressed "
                  "size", pTab->zPath, zWhat, (unsigned long long)h.iOff);
      goto done;
    }
  }else{
    rc = lsmErr(LSM_CORRUPT, "%s: %s block at offset %llu: unknown "
                "compression type %d", pTab->zPath, zWhat,
                (unsigned long long)h.iOff, type);
    goto done;
  }
  pBlock = lsmMalloc(sizeof(*pBlock) + (size_t)nData);
  if( pBlock==0 ){
    rc = lsmErr(LSM_NOMEM, 0);
    goto done;
  }
  memset(pBlock, 0, sizeof(*pBlock));
  pBlock->nAlloc = (size_t)nData;
  pBlock->block.a = (uint8_t*)&pBlock[1];
  pBlock->block.nData = (size_t)nData;
  if( type==TABLE_BLOCK_RAW ){
    memcpy(&pBlock[1], aRaw, (size_t)nData);
  }else if( LZ4_decompress_safe((const char*)aRaw + k, (char*)&pBlock[1],
                                (int)(h.nSize - (uint64_t)k), (int)nData)
            !=(int)nData ){
    rc = lsmErr(LSM_CORRUPT, "%s: %s block at offset %llu: bad compressed "
                "data", pTab->zPath, zWhat, (unsigned long long)h.iOff);
  }

 done:
  if( aRaw!=aStack && pTab->aMap==0 ) lsmFree(aRaw);
  if( rc==LSM_OK ){
    *ppBlock = pBlock;
  }else{
    tableBlockFree(pBlock);
  }
  return rc;
}

/* Read a data or index block and parse its restart array. */
static int tableLoadBlock(LsmTable *pTab, TableHandle h, const char *zWhat,
                          TableBlock **ppBlock){
  int rc = tableReadBlock(pTab, h, zWhat, ppBlock);
  if( rc==LSM_OK ){
    TableBlock *pBlock = *ppBlock;
    rc = lsmBlockParse(&pBlock->block, pBlock->block.a, pBlock->block.nData,
                       pTab->zPath, h.iOff);
    if( rc!=LSM_OK ){
      tableBlockFree(pBlock);
      *ppBlock = 0;
    }
  }
  return rc;
}

/* Give back a data block obtained with tableGetBlock. */
static void tableBlockRelease(LsmTable *pTab, TableBlockRef *pRef){
  if( pRef->pHandle ){
    lsmCacheRelease(pTab->pBlockCache, pRef->pHandle);
  }else{
    tableBlockFree(pRef->pBlock);
  }
  pRef->pBlock = 0;
  pRef->pHandle = 0;
}

/*
** Get data block h, from the block cache if it holds it.  On a miss the
** block is read and, if bFillCache, inserted.  Release with
** tableBlockRelease.
*/
static int tableGetBlock(LsmTable *pTab, TableHandle h, int bFillCache,
                         TableBlockRef *pRef){
  uint8_t aKey[16];
  int rc;
  pRef->pBlock = 0;
  pRef->pHandle = 0;
  if( pTab->pBlockCache ){
    lsmPut64(aKey, pTab->iCacheId);
    lsmPut64(aKey+8, h.iOff);
    pRef->pHandle = lsmCacheLookup(pTab->pBlockCache, aKey, sizeof(aKey));
    if( pRef->pHandle ){
      TABLE_COUNT(pTab, nCacheHit);
      pRef->pBlock = (TableBlock*)lsmCacheValue(pRef->pHandle);
      return LSM_OK;
    }
    TABLE_COUNT(pTab, nCacheMiss);
  }
  rc = tableLoadBlock(pTab, h, "data", &pRef->pBlock);
  if( rc==LSM_OK && pTab->pBlockCache && bFillCache ){
    TableBlock *pBlock = pRef->pBlock;
    rc = lsmCacheInsert(pTab->pBlockCache, aKey, sizeof(aKey), pBlock,
                        pBlock->nAlloc + sizeof(*pBlock), tableBlockDeleter,
                        &pRef->pHandle);
    if( rc!=LSM_OK ){
      pRef->pBlock = 0;                  /* the deleter freed it */
      pRef->pHandle = 0;
    }
  }
  return rc;
}

/*
** Decode an index entry's value a[0..n-1]: exactly varint offset |
** varint size.
*/
static int tableDecodeHandle(LsmTable *pTab, const uint8_t *a, size_t n,
                             TableHandle *pHandle){
  int k1 = lsmGetVarint64(a, n, &pHandle->iOff);
  int k2 = k1 ? lsmGetVarint64(a+k1, n-(size_t)k1, &pHandle->nSize) : 0;
  if( k2==0 || (size_t)(k1+k2)!=n ){
    return lsmErr(LSM_CORRUPT, "%s: index block at offset %llu: bad block "
                  "handle", pTab->zPath, (unsigned long long)pTab->hIndex.iOff);
  }
  return LSM_OK;
}

/*************************************************************************
** Opening and closing.
*/

static void tableFree(LsmTable *p){
  if( p->aMap ) p->pEnv->xUnmap(p->pFile, p->aMap, p->nFileSize);
  if( p->pFile ) p->pEnv->xClose(p->pFile);
  lsmBlockSummaryFree(&p->indexSum);
  tableBlockFree(p->pIndex);
  lsmFree(p->aFilter);
  lsmTablePropsClear(&p->props);
  lsmFree(p->zPath);
  lsmFree(p);
}

/*
** Read and check the footer; fill the three handles.  Each handle must
** lie in the area before the footer; a filter handle of size 0 means no
** filter.
*/
static int tableReadFooter(LsmTable *p){
  uint8_t aFooter[TABLE_FOOTER_SIZE];
  TableHandle aH[3];
  static const char *azName[3] = { "filter", "properties", "index" };
  uint64_t nArea;
  size_t nRead = 0;
  uint32_t iVersion;
  int rc, i;

  if( p->nFileSize<TABLE_FOOTER_SIZE ){
    return lsmErr(LSM_CORRUPT, "%s: %llu bytes is too small for a table",
                  p->zPath, (unsigned long long)p->nFileSize);
  }
  nArea = p->nFileSize - TABLE_FOOTER_SIZE;
  rc = p->pEnv->xRead(p->pFile, nArea, aFooter, sizeof(aFooter), &nRead);
  if( rc!=LSM_OK ) return rc;
  if( nRead!=sizeof(aFooter) ){
    return lsmErr(LSM_CORRUPT, "%s: footer: file truncated", p->zPath);
  }
  if( lsmGet64(aFooter+56)!=TABLE_MAGIC ){
    return lsmErr(LSM_CORRUPT, "%s: footer at offset %llu: bad magic number "
                  "(not a table)", p->zPath, (unsigned long long)nArea);
  }
  if( lsmGet32(aFooter+52)!=lsmCrc32c(0, aFooter, 52) ){
    return lsmErr(LSM_CORRUPT, "%s: footer at offset %llu: checksum "
                  "mismatch", p->zPath, (unsigned long long)nArea);
  }
  iVersion = lsmGet32(aFooter+48);
  if( iVersion!=TABLE_FORMAT_VERSION ){
    return lsmErr(LSM_CORRUPT, "%s: footer at offset %llu: unsupported table "
                  "format version %u", p->zPath, (unsigned long long)nArea,
                  iVersion);
  }
  for(i=0; i<3; i++){
    aH[i].iOff = lsmGet64(aFooter + 16*i);
    aH[i].nSize = lsmGet64(aFooter + 16*i + 8);
    if( i==0 && aH[i].nSize==0 && aH[i].iOff==0 ) continue;
    if( aH[i].iOff>nArea || aH[i].nSize>nArea - aH[i].iOff
     || TABLE_TRAILER_SIZE>nArea - aH[i].iOff - aH[i].nSize ){
      return lsmErr(LSM_CORRUPT, "%s: footer at offset %llu: %s block "
                    "(offset %llu, size %llu) lies outside the file",
                    p->zPath, (unsigned long long)nArea, azName[i],
                    (unsigned long long)aH[i].iOff,
                    (unsigned long long)aH[i].nSize);
    }
  }
  p->hFilter = aH[0];
  p->hProps = aH[1];
  p->hIndex = aH[2];
  return LSM_OK;
}

int lsmTableOpen(lsm_env *pEnv, const char *zPath, uint64_t iFileNum,
                 LsmCache *pBlockCache, LsmReadStats *pStats,
                 LsmTable **ppTable){
  LsmTable *p;
  TableBlock *pMeta = 0;
  int rc;

  *ppTable = 0;
  p = lsmMallocZero(sizeof(*p));
  if( p==0 ) return lsmErr(LSM_NOMEM, 0);
  p->pEnv = pEnv;
  p->iFileNum = iFileNum;
  p->pBlockCache = pBlockCache;
  p->pStats = pStats;
  p->nRef = 1;
  p->zPath = lsmStrdup(zPath);
  if( p->zPath==0 ){
    rc = lsmErr(LSM_NOMEM, 0);
  }else{
    rc = pEnv->xOpen(pEnv, zPath, LSM_OPEN_READONLY, &p->pFile);
  }
  if( rc==LSM_OK ) rc = pEnv->xSize(p->pFile, &p->nFileSize);
  if( rc==LSM_OK ) rc = tableReadFooter(p);
  if( rc==LSM_OK ) rc = tableLoadBlock(p, p->hIndex, "index", &p->pIndex);
  if( rc==LSM_OK ){
    LsmBlockIter it;
    lsmBlockIterInit(&it);
    lsmBlockIterSetBlock(&it, &p->pIndex->block, LSM_BLOCK_IKEY, p->zPath,
                         p->hIndex.iOff);
    rc = lsmBlockSummaryBuild(&it, &p->indexSum);
    lsmBlockIterFree(&it);
  }
  if( rc==LSM_OK && p->hFilter.nSize>0 ){
    rc = tableReadBlock(p, p->hFilter, "filter", &pMeta);
    if( rc==LSM_OK ){
      if( !lsmBloomCheck(pMeta->block.a, pMeta->block.nData) ){
        rc = lsmErr(LSM_CORRUPT, "%s: filter block at offset %llu: "
                    "malformed", zPath, (unsigned long long)p->hFilter.iOff);
      }else{
        /* Keep the filter bytes; they start the allocation only if the
        ** block was stored raw, so copy in the other case. */
        p->nFilter = pMeta->block.nData;
        p->aFilter = lsmMalloc(p->nFilter);
        if( p->aFilter==0 ) rc = lsmErr(LSM_NOMEM, 0);
        else memcpy(p->aFilter, pMeta->block.a, p->nFilter);
      }
      tableBlockFree(pMeta);
      pMeta = 0;
    }
  }
  if( rc==LSM_OK ) rc = tableReadBlock(p, p->hProps, "properties", &pMeta);
  if( rc==LSM_OK ){
    rc = tablePropsDecode(pMeta->block.a, pMeta->block.nData, zPath,
                          p->hProps.iOff, &p->props);
    p->props.nFileSize = p->nFileSize;
    tableBlockFree(pMeta);
  }
  if( rc==LSM_OK && pBlockCache ) p->iCacheId = lsmCacheNewId(pBlockCache);
  if( rc!=LSM_OK ){
    tableFree(p);
    return rc;
  }
  *ppTable = p;
  return LSM_OK;
}

/*
** Read the table's blocks through a memory map of the file from now on,
** if the env can map files.  A failed map only leaves the table on
** pread.  REQUIRES: no other thread uses the table yet.
*/
static void tableMap(LsmTable *p){
  const void *aMap = 0;
  if( p->pEnv->xMap && p->pEnv->xUnmap && p->nFileSize>0
   && p->pEnv->xMap(p->pFile, p->nFileSize, &aMap)==LSM_OK ){
    p->aMap = (const uint8_t*)aMap;
  }
}

void lsmTableRef(LsmTable *p){
  __atomic_fetch_add(&p->nRef, 1, __ATOMIC_RELAXED);
}

void lsmTableUnref(LsmTable *p){
  if( p && __atomic_sub_fetch(&p->nRef, 1, __ATOMIC_ACQ_REL)==0 ){
    tableFree(p);
  }
}

const LsmTableProps *lsmTableProps(const LsmTable *p){
  return &p->props;
}

/*************************************************************************
** The table iterator: an iterator over the index block picks data
** blocks; an iterator over the current data block yields the entries.
** Empty data blocks (never written, but possible in a damaged file that
** passes its checksums) are skipped in either direction.
*/

typedef struct TableIter {
  LsmIter base;
  LsmTable *pTab;
  int bFillCache;
  int bHoldsRef;            /* the iterator owns a reference to pTab */
  LsmBlockIter indexIter;
  LsmBlockIter dataIter;
  TableBlockRef data;       /* the data block dataIter reads, if any */
  uint64_t iDataOff;        /* its offset */
} TableIter;

static void tableIterInit(TableIter *p, LsmTable *pTab, int bFillCache){
  memset(p, 0, sizeof(*p));
  p->pTab = pTab;
  p->bFillCache = bFillCache;
  lsmBlockIterInit(&p->indexIter);
  lsmBlockIterInit(&p->dataIter);
  lsmBlockIterSetBlock(&p->indexIter, &pTab->pIndex->block, LSM_BLOCK_IKEY,
                       pTab->zPath, pTab->hIndex.iOff);
}

/* Drop the current data block: the iterator is then not valid. */
static void tableIterDropBlock(TableIter *p){
  if( p->data.pBlock ) tableBlockRelease(p->pTab, &p->data);
  p->dataIter.bValid = 0;
}

static void tableIterClear(TableIter *p){
  tableIterDropBlock(p);
  lsmBlockIterFree(&p->indexIter);
  lsmBlockIterFree(&p->dataIter);
}

/*
** Load the data block the index iterator points at (REQUIRES: index
** valid) and attach the data iterator to it, unpositioned.
*/
static int tableIterLoad(TableIter *p){
  TableHandle h;
  int rc = tableDecodeHandle(p->pTab, p->indexIter.pVal, p->indexIter.nVal,
                             &h);
  if( rc!=LSM_OK ) return rc;
  if( p->data.pBlock && p->iDataOff==h.iOff ) return LSM_OK;
  tableIterDropBlock(p);
  rc = tableGetBlock(p->pTab, h, p->bFillCache, &p->data);
  if( rc==LSM_OK ){
    p->iDataOff = h.iOff;
    lsmBlockIterSetBlock(&p->dataIter, &p->data.pBlock->block,
                         LSM_BLOCK_IKEY, p->pTab->zPath, h.iOff);
  }
  return rc;
}

/* Until the data iterator is valid, move to the first entry of the
** following data block.  Not valid at the end. */
static int tableIterSkipForward(TableIter *p, int rc){
  while( rc==LSM_OK && !p->dataIter.bValid ){
    if( !p->indexIter.bValid ) break;
    rc = lsmBlockIterNext(&p->indexIter);
    if( rc==LSM_OK && p->indexIter.bValid ){
      rc = tableIterLoad(p);
      if( rc==LSM_OK ) rc = lsmBlockIterFirst(&p->dataIter);
    }
  }
  if( rc!=LSM_OK || !p->dataIter.bValid ) tableIterDropBlock(p);
  return rc;
}

/* As tableIterSkipForward, backwards to the last entry of a block. */
static int tableIterSkipBackward(TableIter *p, int rc){
  while( rc==LSM_OK && !p->dataIter.bValid ){
    if( !p->indexIter.bValid ) break;
    rc = lsmBlockIterPrev(&p->indexIter);
    if( rc==LSM_OK && p->indexIter.bValid ){
      rc = tableIterLoad(p);
      if( rc==LSM_OK ) rc = lsmBlockIterLast(&p->dataIter);
    }
  }
  if( rc!=LSM_OK || !p->dataIter.bValid ) tableIterDropBlock(p);
  return rc;
}

static int tableIterFirst(LsmIter *pIter){
  TableIter *p = (TableIter*)pIter;
  int rc;
  p->dataIter.bValid = 0;
  rc = lsmBlockIterFirst(&p->indexIter);
  if( rc==LSM_OK && p->indexIter.bValid ){
    rc = tableIterLoad(p);
    if( rc==LSM_OK ) rc = lsmBlockIterFirst(&p->dataIter);
  }
  return tableIterSkipForward(p, rc);
}

static int tableIterLast(LsmIter *pIter){
  TableIter *p = (TableIter*)pIter;
  int rc;
  p->dataIter.bValid = 0;
  rc = lsmBlockIterLast(&p->indexIter);
  if( rc==LSM_OK && p->indexIter.bValid ){
    rc = tableIterLoad(p);
    if( rc==LSM_OK ) rc = lsmBlockIterLast(&p->dataIter);
  }
  return tableIterSkipBackward(p, rc);
}

/*
** The first separator >= the target names the only block that can hold
** the first entry >= the target; if every entry of that block is smaller,
** the answer is the first entry of the next block.
*/
static int tableIterSeek(LsmIter *pIter, const uint8_t *pIkey, size_t nIkey){
  TableIter *p = (TableIter*)pIter;
  int rc;
  p->dataIter.bValid = 0;
  rc = lsmBlockIterSeekSummary(&p->indexIter, &p->pTab->indexSum, pIkey, nIkey);
  if( rc==LSM_OK && p->indexIter.bValid ){
    rc = tableIterLoad(p);
    if( rc==LSM_OK ) rc = lsmBlockIterSeek(&p->dataIter, pIkey, nIkey);
  }
  return tableIterSkipForward(p, rc);
}

static int tableIterNext(LsmIter *pIter){
  TableIter *p = (TableIter*)pIter;
  return tableIterSkipForward(p, lsmBlockIterNext(&p->dataIter));
}

static int tableIterPrev(LsmIter *pIter){
  TableIter *p = (TableIter*)pIter;
  return tableIterSkipBackward(p, lsmBlockIterPrev(&p->dataIter));
}

static int tableIterValid(LsmIter *pIter){
  TableIter *p = (TableIter*)pIter;
  return p->data.pBlock!=0 && p->dataIter.bValid;
}

static void tableIterKey(LsmIter *pIter, const uint8_t **ppKey, size_t *pnKey){
  TableIter *p = (TableIter*)pIter;
  *ppKey = p->dataIter.key.p;
  *pnKey = p->dataIter.key.n;
}

static void tableIterValue(LsmIter *pIter, const uint8_t **ppVal,
                           size_t *pnVal){
  TableIter *p = (TableIter*)pIter;
  *ppVal = p->dataIter.pVal;
  *pnVal = p->dataIter.nVal;
}

static void tableIterClose(LsmIter *pIter){
  TableIter *p = (TableIter*)pIter;
  LsmTable *pTab = p->pTab;
  int bHoldsRef = p->bHoldsRef;
  tableIterClear(p);
  lsmFree(p);
  if( bHoldsRef ) lsmTableUnref(pTab);
}

static const LsmIterMethods tableIterMethods = {
  tableIterClose,
  tableIterFirst,
  tableIterLast,
  tableIterSeek,
  tableIterNext,
  tableIterPrev,
  tableIterValid,
  tableIterKey,
  tableIterValue,
};

int lsmTableIterNew(LsmTable *pTab, int bFillCache, LsmIter **ppIter){
  TableIter *p = lsmMalloc(sizeof(*p));
  *ppIter = 0;
  if( p==0 ) return lsmErr(LSM_NOMEM, 0);
  tableIterInit(p, pTab, bFillCache);
  p->base.pMethods = &tableIterMethods;
  p->bHoldsRef = 1;
  lsmTableRef(pTab);
  *ppIter = &p->base;
  return LSM_OK;
}

/*************************************************************************
** Point reads.
*/

int lsmTableGet(LsmTable *p, const uint8_t *pKey, size_t nKey, uint64_t seq,
                LsmBuf *pVal, int *pbDeleted){
  const LsmTableProps *pProps = &p->props;
  uint8_t aSmall[256];
  uint8_t *pLookup = aSmall;
  TableIter it;
  int rc;

  *pbDeleted = 0;
  if( pProps->nEntry==0
   || lsmUkeyCompare(pKey, nKey, pProps->smallest.p,
                     lsmIkeyUserLen(pProps->smallest.n))<0
   || lsmUkeyCompare(pKey, nKey, pProps->largest.p,
                     lsmIkeyUserLen(pProps->largest.n))>0 ){
    return LSM_NOTFOUND;
  }
  TABLE_COUNT(p, nTableProbe);
  if( p->aFilter && !lsmBloomMayContain(p->aFilter, p->nFilter, pKey, nKey) ){
    TABLE_COUNT(p, nBloomUseful);
    return LSM_NOTFOUND;
  }

  /* Seek to the newest version visible at seq. */
  if( nKey+LSM_IKEY_TRAILER>sizeof(aSmall) ){
    pLookup = lsmMalloc(nKey + LSM_IKEY_TRAILER);
    if( pLookup==0 ) return lsmErr(LSM_NOMEM, 0);
  }
  if( nKey ) memcpy(pLookup, pKey, nKey);
  lsmPut64(pLookup + nKey,
           lsmIkeyLookupTrailer(seq>LSM_MAX_SEQ ? LSM_MAX_SEQ : seq));
  tableIterInit(&it, p, 1);
  rc = tableIterSeek(&it.base, pLookup, nKey + LSM_IKEY_TRAILER);

  if( rc==LSM_OK ){
    const uint8_t *pFound = it.dataIter.key.p;
    size_t nFound = it.dataIter.key.n;
    if( !tableIterValid(&it.base)
     || lsmUkeyCompare(pFound, lsmIkeyUserLen(nFound), pKey, nKey)!=0 ){
      if( p->aFilter ) TABLE_COUNT(p, nBloomUseless);
      rc = LSM_NOTFOUND;
    }else if( lsmIkeyKind(pFound, nFound)==LSM_KIND_DELETE ){
      *pbDeleted = 1;
    }else if( lsmIkeyKind(pFound, nFound)==LSM_KIND_VALUE ){
      rc = lsmBufSet(pVal, it.dataIter.pVal, it.dataIter.nVal);
    }else{
      rc = lsmErr(LSM_CORRUPT, "%s: block at offset %llu: entry at %zu: "
                  "unknown kind %d", p->zPath,
                  (unsigned long long)it.iDataOff, it.dataIter.iCur,
                  lsmIkeyKind(pFound, nFound));
    }
  }
  tableIterClear(&it);
  if( pLookup!=aSmall ) lsmFree(pLookup);
  return rc;
}

/*************************************************************************
** The checker.
*/

/* State carried across the data blocks of one check. */
typedef struct TableCheck {
  LsmTable *pTab;
  LsmBuf prevKey;            /* last entry's key; empty before the first */
  LsmBuf prevSep;            /* last index separator */
  LsmTableProps seen;        /* counted from the entries */
} TableCheck;

/*
** Check every entry of data block h: keys in order, after the previous
** block's separator and not after this block's (pSep), kinds known, user
** keys in the filter.
*/
static int tableCheckBlock(TableCheck *pCk, TableHandle h,
                           const uint8_t *pSep, size_t nSep){
  LsmTable *pTab = pCk->pTab;
  LsmTableProps *pSeen = &pCk->seen;
  TableBlock *pBlock = 0;
  LsmBlockIter it;
  const char *zProblem = 0;
  int rc = tableLoadBlock(pTab, h, "data", &pBlock);
  if( rc!=LSM_OK ) return rc;
  lsmBlockIterInit(&it);
  lsmBlockIterSetBlock(&it, &pBlock->block, LSM_BLOCK_IKEY, pTab->zPath,
                       h.iOff);
  rc = lsmBlockIterFirst(&it);
  if( rc==LSM_OK && !it.bValid ) zProblem = "empty data block";
  while( rc==LSM_OK && it.bValid && zProblem==0 ){
    const uint8_t *pKey = it.key.p;
    size_t nKey = it.key.n;
    size_t nUser = lsmIkeyUserLen(nKey);
    uint64_t seq = lsmIkeySeq(pKey, nKey);
    int kind = lsmIkeyKind(pKey, nKey);
    if( pCk->prevKey.n
     && lsmIkeyCompare(pCk->prevKey.p, pCk->prevKey.n, pKey, nKey)>=0 ){
      zProblem = "key out of order";
    }else if( pCk->prevSep.n
     && lsmIkeyCompare(pCk->prevSep.p, pCk->prevSep.n, pKey, nKey)>=0 ){
      zProblem = "key not after the previous block's index key";
    }else if( lsmIkeyCompare(pKey, nKey, pSep, nSep)>0 ){
      zProblem = "key after its block's index key";
    }else if( kind>LSM_KIND_MAX ){
      zProblem = "unknown entry kind";
    }else if( pTab->aFilter
     && !lsmBloomMayContain(pTab->aFilter, pTab->nFilter, pKey, nUser) ){
      zProblem = "key missing from the filter";
    }else{
      if( pSeen->nEntry==0 || seq<pSeen->minSeq ) pSeen->minSeq = seq;
      if( pSeen->nEntry==0 || seq>pSeen->maxSeq ) pSeen->maxSeq = seq;
      if( pSeen->nEntry==0 ) rc = lsmBufSet(&pSeen->smallest, pKey, nKey);
      pSeen->nEntry++;
      pSeen->nTombstone += (kind==LSM_KIND_DELETE);
      pSeen->nRawKey += nKey;
      pSeen->nRawValue += it.nVal;
      if( rc==LSM_OK ) rc = lsmBufSet(&pCk->prevKey, pKey, nKey);
      if( rc==LSM_OK ) rc = lsmBlockIterNext(&it);
    }
  }
  if( rc==LSM_OK && zProblem ){
    rc = lsmErr(LSM_CORRUPT, "%s: block at offset %llu: entry at %zu: %s",
                pTab->zPath, (unsigned long long)h.iOff, it.iCur, zProblem);
  }
  lsmBlockIterFree(&it);
  tableBlockFree(pBlock);
  return rc;
}

/* Compare what the entries showed with the properties block. */
static int tableCheckProps(TableCheck *pCk){
  const LsmTableProps *pP = &pCk->pTab->props;
  const LsmTableProps *pS = &pCk->seen;
  const char *zField = 0;
  if( pP->nEntry!=pS->nEntry ) zField = "entry count";
  else if( pP->nTombstone!=pS->nTombstone ) zField = "tombstone count";
  else if( pP->nEntry && pP->minSeq!=pS->minSeq ) zField = "smallest sequence";
  else if( pP->nEntry && pP->maxSeq!=pS->maxSeq ) zField = "largest sequence";
  else if( pP->nRawKey!=pS->nRawKey ) zField = "key bytes";
  else if( pP->nRawValue!=pS->nRawValue ) zField = "value bytes";
  else if( pP->nDataBlock!=pS->nDataBlock ) zField = "data block count";
  else if( lsmUkeyCompare(pP->smallest.p, pP->smallest.n,
                          pS->smallest.p, pS->smallest.n) ){
    zField = "smallest key";
  }else if( lsmUkeyCompare(pP->largest.p, pP->largest.n,
                          pCk->prevKey.p, pCk->prevKey.n) ){
    zField = "largest key";
  }
  if( zField ){
    return lsmErr(LSM_CORRUPT, "%s: properties block: %s does not match the "
                  "data blocks", pCk->pTab->zPath, zField);
  }
  return LSM_OK;
}

int lsmTableCheck(lsm_env *pEnv, const char *zPath){
  TableCheck ck;
  LsmBlockIter idx;
  uint64_t iExpect = 0;      /* where the next block must start */
  int rc;

  memset(&ck, 0, sizeof(ck));
  lsmBlockIterInit(&idx);
  rc = lsmTableOpen(pEnv, zPath, 0, 0, 0, &ck.pTab);
  if( rc!=LSM_OK ) return rc;
  lsmBlockIterSetBlock(&idx, &ck.pTab->pIndex->block, LSM_BLOCK_IKEY, zPath,
                       ck.pTab->hIndex.iOff);
  rc = lsmBlockIterFirst(&idx);
  while( rc==LSM_OK && idx.bValid ){
    TableHandle h;
    rc = tableDecodeHandle(ck.pTab, idx.pVal, idx.nVal, &h);
    if( rc==LSM_OK && h.iOff!=iExpect ){
      rc = lsmErr(LSM_CORRUPT, "%s: index block at offset %llu: entry at %zu: "
                  "data block at offset %llu, expected %llu", zPath,
                  (unsigned long long)ck.pTab->hIndex.iOff, idx.iCur,
                  (unsigned long long)h.iOff, (unsigned long long)iExpect);
    }
    if( rc==LSM_OK && ck.prevSep.n
     && lsmIkeyCompare(ck.prevSep.p, ck.prevSep.n, idx.key.p, idx.key.n)>=0 ){
      rc = lsmErr(LSM_CORRUPT, "%s: index block at offset %llu: entry at %zu: "
                  "key out of order", zPath,
                  (unsigned long long)ck.pTab->hIndex.iOff, idx.iCur);
    }
    if( rc==LSM_OK ) rc = tableCheckBlock(&ck, h, idx.key.p, idx.key.n);
    if( rc==LSM_OK ){
      iExpect = h.iOff + h.nSize + TABLE_TRAILER_SIZE;
      ck.seen.nDataBlock++;
      rc = lsmBufSet(&ck.prevSep, idx.key.p, idx.key.n);
    }
    if( rc==LSM_OK ) rc = lsmBlockIterNext(&idx);
  }
  if( rc==LSM_OK ){
    /* The data blocks end where the metadata blocks begin, and those
    ** (filter, properties, index) follow each other up to the footer. */
    TableHandle aMeta[3];
    static const char *azName[3] = { "filter", "properties", "index" };
    int i;
    aMeta[0] = ck.pTab->hFilter;
    aMeta[1] = ck.pTab->hProps;
    aMeta[2] = ck.pTab->hIndex;
    for(i=0; rc==LSM_OK && i<3; i++){
      if( i==0 && aMeta[i].nSize==0 ) continue;
      if( aMeta[i].iOff!=iExpect ){
        rc = lsmErr(LSM_CORRUPT, "%s: %s block at offset %llu, expected at "
                    "%llu", zPath, azName[i],
                    (unsigned long long)aMeta[i].iOff,
                    (unsigned long long)iExpect);
      }
      iExpect = aMeta[i].iOff + aMeta[i].nSize + TABLE_TRAILER_SIZE;
    }
    if( rc==LSM_OK && iExpect!=ck.pTab->nFileSize - TABLE_FOOTER_SIZE ){
      rc = lsmErr(LSM_CORRUPT, "%s: %llu unused bytes before the footer",
                  zPath, (unsigned long long)
                  (ck.pTab->nFileSize - TABLE_FOOTER_SIZE - iExpect));
    }
  }
  if( rc==LSM_OK ) rc = tableCheckProps(&ck);
  lsmBlockIterFree(&idx);
  lsmBufFree(&ck.prevKey);
  lsmBufFree(&ck.prevSep);
  lsmTablePropsClear(&ck.seen);
  lsmTableUnref(ck.pTab);
  return rc;
}

/*************************************************************************
** The table cache.
*/

struct LsmTableCache {
  lsm_env *pEnv;
  char *zDir;
  int bMmap;                 /* map tables (lsm_options.mmap_reads) */
  LsmCache *pCache;          /* key: file number u64; value: LsmTable* */
  LsmCache *pBlockCache;
  LsmReadStats *pStats;
};

/* Table-cache deleter: drop the reference the cache held. */
static void tableCacheDeleter(const void *pKey, size_t nKey, void *pValue){
  (void)pKey;
  (void)nKey;
  lsmTableUnref((LsmTable*)pValue);
}

int lsmTableCacheNew(lsm_env *pEnv, const char *zDir, int nMaxOpen,
                     LsmCache *pBlockCache, LsmReadStats *pStats,
                     LsmTableCache **pp){
  LsmTableCache *p = lsmMallocZero(sizeof(*p));
  int rc = LSM_OK;
  *pp = 0;
  if( p==0 ) return lsmErr(LSM_NOMEM, 0);
  p->pEnv = pEnv;
  p->pBlockCache = pBlockCache;
  p->pStats = pStats;
  p->zDir = lsmStrdup(zDir);
  if( p->zDir==0 ) rc = lsmErr(LSM_NOMEM, 0);
  if( rc==LSM_OK ){
    rc = lsmCacheNew(nMaxOpen>0 ? (size_t)nMaxOpen : 1, &p->pCache);
  }
  if( rc!=LSM_OK ){
    lsmTableCacheFree(p);
    return rc;
  }
  *pp = p;
  return LSM_OK;
}

void lsmTableCacheSetMmap(LsmTableCache *p, int bMmap){
  p->bMmap = bMmap;
}

void lsmTableCacheFree(LsmTableCache *p){
  if( p==0 ) return;
  if( p->pCache ) lsmCacheFree(p->pCache);
  lsmFree(p->zDir);
  lsmFree(p);
}

int lsmTableCacheGet(LsmTableCache *p, uint64_t iFileNum, LsmTable **ppTable){
  uint8_t aKey[8];
  LsmCacheHandle *pHandle;
  LsmTable *pTab = 0;
  char *zPath;
  int rc;

  *ppTable = 0;
  lsmPut64(aKey, iFileNum);
  pHandle = lsmCacheLookup(p->pCache, aKey, sizeof(aKey));
  if( pHandle ){
    pTab = (LsmTable*)lsmCacheValue(pHandle);
    lsmTableRef(pTab);
    lsmCacheRelease(p->pCache, pHandle);
    *ppTable = pTab;
    return LSM_OK;
  }

  /* Two threads missing at once both open the file; the second insert
  ** replaces the first, whose table lives on until its users let go. */
  zPath = lsmMprintf("%s/%06llu.sst", p->zDir, (unsigned long long)iFileNum);
  if( zPath==0 ) return lsmErr(LSM_NOMEM, 0);
  rc = lsmTableOpen(p->pEnv, zPath, iFileNum, p->pBlockCache, p->pStats,
                    &pTab);
  if( rc==LSM_NOTFOUND ){
    /* The version lists this table: its absence is damage, never a miss. */
    rc = lsmErr(LSM_CORRUPT, "%s: table file is missing", zPath);
  }
  lsmFree(zPath);
  if( rc!=LSM_OK ) return rc;
  if( p->bMmap ) tableMap(pTab);
  lsmTableRef(pTab);                 /* the caller's; the cache takes one */
  rc = lsmCacheInsert(p->pCache, aKey, sizeof(aKey), pTab, 1,
                      tableCacheDeleter, &pHandle);
  if( rc!=LSM_OK ){
    lsmTableUnref(pTab);
    return rc;
  }
  lsmCacheRelease(p->pCache, pHandle);
  *ppTable = pTab;
  return LSM_OK;
}

void lsmTableCacheEvict(LsmTableCache *p, uint64_t iFileNum){
  uint8_t aKey[8];
  lsmPut64(aKey, iFileNum);
  lsmCacheErase(p->pCache, aKey, sizeof(aKey));
}

void lsmTableOptionsFrom(const lsm_options *pOpts, LsmTableOptions *p){
  p->block_size = pOpts->block_size;
  p->restart_interval = pOpts->restart_interval;
  p->bloom_bits = pOpts->bloom_bits;
  p->compression = pOpts->compression;
}
