/*
** fuzz_log.c -- libFuzzer target for the record reader (lsm/wal.c) that
** reads write-ahead logs and manifests.
**
** Input: a mode byte, then the file.  Mode bit 0: repair every record's
** CRC first (fuzzenv.h), so that mutated lengths, types and payloads get
** past the checksum.  Bit 1: count only synced batch records as proof of
** corruption (lsmWalReaderDurableTypes, as log recovery does), else every
** type (as the manifest reader does).  Bit 2: decode each batch record's
** payload with lsmBatchForEach, as replay does.
**
** The target reads records until the reader stops and checks what the
** reader promises (wal.h): every record returned lies inside the file and
** they tile it from offset 0; the tail offset is where the last one ends;
** a torn tail is reported only with bytes after that offset; an error is
** LSM_CORRUPT with a message naming the file; reading on after the end or
** after a torn tail keeps reporting the end.
*/
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "fuzzenv.h"
#include "batch.h"
#include "wal.h"

static int fuzzBatchOp(void *pArg, uint64_t seq, int kind,
                       const uint8_t *pKey, size_t nKey,
                       const uint8_t *pVal, size_t nVal){
  volatile uint8_t x = 0;
  (void)pArg; (void)seq; (void)kind;
  /* Touch the first and last byte of each so ASan sees any overrun. */
  if( nKey ) x ^= pKey[0] ^ pKey[nKey-1];
  if( nVal ) x ^= pVal[0] ^ pVal[nVal-1];
  (void)x;
  return LSM_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData){
  static const char zPath[] = "fuzzdir/000001.log";
  FuzzEnv env;
  LsmWalReader *pReader = 0;
  uint8_t *aFile;
  size_t nFile;
  uint64_t iExpect = 0;
  int mode, rc, type, i;
  const uint8_t *pPayload;
  size_t nPayload;

  if( nData<1 ) return 0;
  mode = aData[0];
  nFile = nData - 1;
  aFile = fuzzenvCopy(aData + 1, nFile);
  if( mode & 1 ) fuzzenvFixRecords(aFile, nFile);

  fuzzenvInit(&env, "fuzzdir");
  fuzzenvAdd(&env, zPath, aFile, nFile);
  rc = lsmWalReaderOpen(fuzzenvEnv(&env), zPath, &pReader);
  assert( rc==LSM_OK );
  if( mode & 2 ) lsmWalReaderDurableTypes(pReader, 1u<<LSM_REC_BATCH_SYNC);

  for(;;){
    rc = lsmWalReaderNext(pReader, &type, &pPayload, &nPayload);
    if( rc!=LSM_OK ) break;
    /* The record starts where the previous ended and lies in the file. */
    assert( type>=1 && type<=255 );
    assert( iExpect + LSM_WAL_HEADER + nPayload <= nFile );
    assert( pPayload==0 || nPayload==0
         || memcmp(pPayload, aFile + iExpect + LSM_WAL_HEADER, nPayload)==0 );
    iExpect += LSM_WAL_HEADER + nPayload;
    assert( lsmWalReaderTailOffset(pReader)==iExpect );
    if( (mode & 4) && (type==LSM_REC_BATCH || type==LSM_REC_BATCH_SYNC) ){
      lsmBatchForEach(pPayload, nPayload, fuzzBatchOp, 0);
    }
  }
  assert( lsmWalReaderTailOffset(pReader)==iExpect );
  if( rc==LSM_NOTFOUND ){
    if( lsmWalReaderTorn(pReader) ){
      assert( iExpect<nFile );
    }else{
      assert( iExpect==nFile );
    }
    /* The end stays the end. */
    for(i=0; i<2; i++){
      assert( lsmWalReaderNext(pReader, &type, &pPayload, &nPayload)
              ==LSM_NOTFOUND );
    }
  }else{
    assert( rc==LSM_CORRUPT );
    assert( strstr(lsmErrMsg(), "000001.log")!=0 );
    assert( iExpect<nFile );
  }
  lsmWalReaderClose(pReader);
  free(aFile);
  return 0;
}
