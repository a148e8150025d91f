/*
** fuzz_manifest.c -- libFuzzer target for the manifest: version edit
** decoding (lsmEditDecode in lsm/version.c) and recovery of a whole
** manifest through lsmVersionSetRecover.
**
** Input: a mode byte, a length byte L, then the rest R.
**   - Edit decoding: R is decoded as one version edit.  If it decodes,
**     its encoding must decode again to an edit with the same encoding
**     (decode . encode is the identity on decoded edits).
**   - Recovery: a directory "fuzzdir" holding CURRENT, MANIFEST-000001 and
**     empty table files 000002.sst .. 000009.sst (so that edits naming
**     those tables pass the "listed table is missing" check).  With mode
**     bit 1, CURRENT is the first L bytes of R and the manifest the rest;
**     otherwise CURRENT is "MANIFEST-000001\n" and the manifest all of R.
**     Mode bit 0 repairs the manifest's record checksums first
**     (fuzzenv.h).  Recovery must succeed, or fail with LSM_CORRUPT and a
**     message naming the file concerned (CURRENT, the manifest or a
**     table it lists), or with LSM_NOMEM; after success, every level from
**     1 down holds disjoint tables in order.
*/
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "fuzzenv.h"
#include "ikey.h"
#include "version.h"

/* decode(encode(e)) must encode to encode(e). */
static void checkEditRoundTrip(const uint8_t *a, size_t n){
  LsmVersionEdit e, e2;
  LsmBuf enc = {0, 0, 0}, enc2 = {0, 0, 0};
  int rc = lsmEditDecode(&e, a, n);
  if( rc!=LSM_OK ){
    assert( rc==LSM_CORRUPT || rc==LSM_NOMEM );
    return;
  }
  rc = lsmEditEncode(&e, &enc);
  assert( rc==LSM_OK );
  rc = lsmEditDecode(&e2, enc.p, enc.n);
  assert( rc==LSM_OK );
  rc = lsmEditEncode(&e2, &enc2);
  assert( rc==LSM_OK );
  assert( enc.n==enc2.n && memcmp(enc.p, enc2.p, enc.n)==0 );
  assert( e.nAdd==e2.nAdd && e.nDel==e2.nDel );
  lsmEditClear(&e);
  lsmEditClear(&e2);
  lsmBufFree(&enc);
  lsmBufFree(&enc2);
}

/* After a successful recovery: levels 1.. sorted and disjoint. */
static void checkVersion(const LsmVersion *v){
  int i, j;
  for(i=1; i<LSM_NUM_LEVELS; i++){
    for(j=1; j<v->anFile[i]; j++){
      const LsmFileMeta *a = v->aapFile[i][j-1], *b = v->aapFile[i][j];
      assert( lsmUkeyCompare(a->largest.p, lsmIkeyUserLen(a->largest.n),
                             b->smallest.p, lsmIkeyUserLen(b->smallest.n))<0 );
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData){
  static const char *azTable[] = {
    "fuzzdir/000002.sst", "fuzzdir/000003.sst", "fuzzdir/000004.sst",
    "fuzzdir/000005.sst", "fuzzdir/000006.sst", "fuzzdir/000007.sst",
  };
  static const uint8_t aDefault[] = "MANIFEST-000001\n";
  FuzzEnv env;
  LsmVersionSet *pSet = 0;
  const uint8_t *aCurrent = aDefault;
  size_t nCurrent = sizeof(aDefault) - 1;
  uint8_t *aManifest;
  size_t nManifest, nRest;
  const uint8_t *aRest;
  int mode, rc, i;

  if( nData<2 ) return 0;
  mode = aData[0];
  aRest = aData + 2;
  nRest = nData - 2;

  checkEditRoundTrip(aRest, nRest);

  if( mode & 2 ){
    nCurrent = aData[1]<nRest ? aData[1] : nRest;
    aCurrent = aRest;
    aRest += nCurrent;
    nRest -= nCurrent;
  }
  nManifest = nRest;
  aManifest = fuzzenvCopy(aRest, nManifest);
  if( mode & 1 ) fuzzenvFixRecords(aManifest, nManifest);

  fuzzenvInit(&env, "fuzzdir");
  fuzzenvAdd(&env, "fuzzdir/CURRENT", aCurrent, nCurrent);
  fuzzenvAdd(&env, "fuzzdir/MANIFEST-000001", aManifest, nManifest);
  for(i=0; i<(int)(sizeof(azTable)/sizeof(azTable[0])); i++){
    fuzzenvAdd(&env, azTable[i], aDefault, 0);
  }
  rc = lsmVersionSetNew(fuzzenvEnv(&env), "fuzzdir", 0, 0, &pSet);
  if( rc==LSM_OK ){
    rc = lsmVersionSetRecover(pSet);
    if( rc==LSM_OK ){
      checkVersion(pSet->pCurrent);
    }else{
      const char *zMsg = lsmErrMsg();
      assert( rc==LSM_CORRUPT || rc==LSM_NOMEM );
      if( rc==LSM_CORRUPT ){
        assert( strstr(zMsg, "CURRENT")!=0 || strstr(zMsg, "MANIFEST-")!=0
             || strstr(zMsg, ".sst")!=0 );
      }
    }
    lsmVersionSetFree(pSet);
  }
  free(aManifest);
  return 0;
}
