/*
** testutil.c -- the shared test PRNG and temporary-directory helpers.
** See testutil.h.
*/
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t testRand(uint64_t *pState){
  uint64_t z = (*pState += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Multiply-shift instead of modulo: no bias worth measuring and no
** division. */
uint32_t testRandRange(uint64_t *pState, uint32_t n){
  return (uint32_t)(((testRand(pState) >> 32) * (uint64_t)n) >> 32);
}

char *testTempDir(const char *zName){
  size_t nPath = strlen(zName) + 64;
  char *zPath = malloc(nPath);
  if( zPath==0 ) return 0;
  snprintf(zPath, nPath, "/tmp/lsmtest-%s-%ld", zName, (long)getpid());
  if( testRmTree(zPath)!=0 || mkdir(zPath, 0755)!=0 ){
    free(zPath);
    return 0;
  }
  return zPath;
}

int testRmTree(const char *zDir){
  struct stat st;
  DIR *pDir;
  struct dirent *pEnt;
  int rc = 0;

  if( lstat(zDir, &st)!=0 ) return errno==ENOENT ? 0 : -1;
  if( !S_ISDIR(st.st_mode) ) return unlink(zDir);
  pDir = opendir(zDir);
  if( pDir==0 ) return -1;
  while( rc==0 && (pEnt = readdir(pDir))!=0 ){
    size_t nChild;
    char *zChild;
    if( strcmp(pEnt->d_name, ".")==0 || strcmp(pEnt->d_name, "..")==0 ){
      continue;
    }
    nChild = strlen(zDir) + strlen(pEnt->d_name) + 2;
    zChild = malloc(nChild);
    if( zChild==0 ){
      errno = ENOMEM;
      rc = -1;
      break;
    }
    snprintf(zChild, nChild, "%s/%s", zDir, pEnt->d_name);
    rc = testRmTree(zChild);
    free(zChild);
  }
  closedir(pDir);
  if( rc==0 ) rc = rmdir(zDir);
  return rc;
}
