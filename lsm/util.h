/*
** util.h -- allocation, error messages and growable buffers used by every
** file of the engine.
**
** Allocation: every allocation goes through lsmMalloc/lsmRealloc/lsmFree,
** which call the hook installed with lsm_set_allocator(), so a test can
** fail any chosen allocation.  A NULL return is always reported to the
** caller as LSM_NOMEM.
**
** Errors: a function that fails returns an LSM_* code and may describe
** the failure with lsmErr(), which formats the message into a buffer
** private to the calling thread (no allocation, so it works when memory
** is short).  The public layer copies that message into the handle that
** the user asks with lsm_errmsg().  Messages say what and where:
** "000012.sst: block at offset 4096: checksum mismatch".
*/
#ifndef LSM_UTIL_H
#define LSM_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "lsm.h"

void *lsmMalloc(size_t n);
void *lsmMallocZero(size_t n);
void *lsmRealloc(void *p, size_t n);
void lsmFree(void *p);
char *lsmStrdup(const char *z);                 /* NULL on NOMEM */
char *lsmMprintf(const char *zFmt, ...)         /* NULL on NOMEM */
  __attribute__((format(printf, 1, 2)));

/* Set this thread's error message; return rc.  LSM_NOMEM ignores zFmt. */
int lsmErr(int rc, const char *zFmt, ...) __attribute__((format(printf, 2, 3)));
/* This thread's last message ("" if none was set since lsmErrClear). */
const char *lsmErrMsg(void);
void lsmErrClear(void);

/* A growable byte buffer.  Zero-initialise; release with lsmBufFree. */
typedef struct LsmBuf {
  uint8_t *p;
  size_t n;          /* bytes in use */
  size_t nAlloc;     /* bytes allocated */
} LsmBuf;

int lsmBufReserve(LsmBuf *pBuf, size_t nExtra);   /* room for nExtra more */
int lsmBufAppend(LsmBuf *pBuf, const void *p, size_t n);
int lsmBufSet(LsmBuf *pBuf, const void *p, size_t n);
int lsmBufAppendVarint(LsmBuf *pBuf, uint64_t v);
void lsmBufFree(LsmBuf *pBuf);

/* Join a directory and a file name: "dir/name".  NULL on NOMEM. */
char *lsmPathJoin(const char *zDir, const char *zName);

#endif /* LSM_UTIL_H */
