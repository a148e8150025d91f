/*
** block.h -- the block format shared by data and index blocks of sorted
** tables: sorted key/value entries with prefix-compressed keys and
** restart points.
**
** Layout of a block (FORMAT.md has it byte by byte):
**
**     entry*             one per key, in increasing key order
**     restart  u32 * nRestart   offset of each restart entry in the block
**     nRestart u32
**
**     entry:  varint shared | varint unshared | varint nValue
**             | key[shared..shared+unshared-1] | value
**
** Each key shares its first `shared` bytes with the key before it and
** stores only the rest.  Every nInterval-th entry (the first included) is
** a restart point: it stores its key in full (shared = 0) and its offset
** goes in the restart array, so a reader can binary-search the restart
** points and then decode at most nInterval entries.  Offsets are u32, so
** a block holds less than 4 GiB; varints are at most 32 bits.  A block
** with no entries is the 4-byte count 0.
**
** The builder (LsmBlockBuilder) produces these bytes; the table layer adds
** compression and the checksum trailer.  The reader side is a view
** (LsmBlock) over decoded bytes, validated once by lsmBlockParse, and an
** iterator (LsmBlockIter) that moves both ways and seeks.  Every length
** and offset read from a block is checked against the block's bounds:
** malformed bytes give LSM_CORRUPT with the file name and block offset,
** never a read outside the block.
**
** Keys are compared in one of two orders: as internal keys (ikey.h; every
** key must then be at least LSM_IKEY_TRAILER bytes long, shorter ones are
** corruption) or as plain byte strings.
*/
#ifndef LSM_BLOCK_H
#define LSM_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Bytes of the restart count at the end of every block. */
#define LSM_BLOCK_COUNT_SIZE 4

/* Key orders (LsmBlockIter.eOrder). */
#define LSM_BLOCK_BYTES  0     /* lsmUkeyCompare over the whole key */
#define LSM_BLOCK_IKEY   1     /* lsmIkeyCompare; keys >= 8 bytes */

typedef struct LsmBlockBuilder {
  int nInterval;         /* entries per restart point, >= 1 */
  int nSinceRestart;     /* entries added since the last restart point */
  uint64_t nEntry;       /* entries in the block */
  LsmBuf data;           /* entries; the finished block after Finish */
  LsmBuf restarts;       /* restart offsets, u32 little-endian each */
  LsmBuf lastKey;        /* the key most recently added */
} LsmBlockBuilder;

/* Start an empty builder (no allocation yet).  nInterval < 1 means 1. */
void lsmBlockBuilderInit(LsmBlockBuilder *p, int nInterval);
/*
** Append an entry.  REQUIRES: pKey sorts after the previous key (the
** builder does not compare).  LSM_OK, LSM_NOMEM, or LSM_TOOBIG if the
** block would pass 4 GiB.
*/
int lsmBlockBuilderAdd(LsmBlockBuilder *p, const uint8_t *pKey, size_t nKey,
                       const uint8_t *pVal, size_t nVal);
/* Size of the block if it were finished now. */
size_t lsmBlockBuilderSize(const LsmBlockBuilder *p);
/*
** Append the restart array and count and return the finished block
** through ppBlock and pnBlock (owned by the builder, valid until the next
** call on it).  LSM_OK or LSM_NOMEM.  Call lsmBlockBuilderReset before reuse.
*/
int lsmBlockBuilderFinish(LsmBlockBuilder *p, const uint8_t **ppBlock,
                          size_t *pnBlock);
/* Empty the builder for the next block, keeping its memory. */
void lsmBlockBuilderReset(LsmBlockBuilder *p);
void lsmBlockBuilderFree(LsmBlockBuilder *p);

/* A validated view of a block's bytes (not owned). */
typedef struct LsmBlock {
  const uint8_t *a;      /* the block */
  size_t nData;          /* bytes of entries = offset of the restart array */
  uint32_t nRestart;     /* restart points; 0 only for an empty block */
} LsmBlock;

/*
** Check the restart array of a[0..n-1] (count in bounds, first offset 0,
** offsets strictly increasing and inside the entry area) and fill *pBlock.
** zName and iOff (the block's file offset) go into the error message.
** LSM_OK or LSM_CORRUPT.  The entries themselves are checked as they are
** decoded.
*/
int lsmBlockParse(LsmBlock *pBlock, const uint8_t *a, size_t n,
                  const char *zName, uint64_t iOff);

/*
** An iterator over one block.  Zero it with lsmBlockIterInit, attach a
** block with lsmBlockIterSetBlock (any number of times: the key buffer is
** reused), release with lsmBlockIterFree.  The block and zName must stay
** alive while attached.  Movement functions return LSM_OK (valid or at
** the end), LSM_CORRUPT or LSM_NOMEM; after an error the iterator is not
** valid.  key holds the current key; pVal and nVal point into the block.
*/
typedef struct LsmBlockIter {
  const LsmBlock *pBlock;
  int eOrder;            /* LSM_BLOCK_BYTES or LSM_BLOCK_IKEY */
  const char *zName;     /* file name for messages */
  uint64_t iBlockOff;    /* block offset in the file, for messages */
  int bValid;
  size_t iCur;           /* offset of the current entry */
  size_t iNext;          /* offset just past it */
  uint32_t iRestart;     /* restart region holding the current entry */
  LsmBuf key;            /* the current key, reconstructed */
  const uint8_t *pVal;   /* the current value, inside the block */
  size_t nVal;
} LsmBlockIter;

void lsmBlockIterInit(LsmBlockIter *p);
void lsmBlockIterSetBlock(LsmBlockIter *p, const LsmBlock *pBlock, int eOrder,
                          const char *zName, uint64_t iBlockOff);
void lsmBlockIterFree(LsmBlockIter *p);
int lsmBlockIterFirst(LsmBlockIter *p);
int lsmBlockIterLast(LsmBlockIter *p);
/* Position at the first entry whose key is >= pKey (in eOrder). */
int lsmBlockIterSeek(LsmBlockIter *p, const uint8_t *pKey, size_t nKey);
int lsmBlockIterNext(LsmBlockIter *p);   /* REQUIRES: valid */
int lsmBlockIterPrev(LsmBlockIter *p);   /* REQUIRES: valid */
static inline int lsmBlockIterValid(const LsmBlockIter *p){ return p->bValid; }

/*
** A summary of a block's restart keys, for a block searched often while
** it stays in memory (a table's index).  The compared part of every
** restart key (the user key in LSM_BLOCK_IKEY order, else the whole key)
** starts with the same nSkip bytes, the common prefix of the first and
** last; aPrefix[i] holds the 8 bytes after them of restart key i,
** big-endian and zero-padded.  A seek then binary-searches integers in a
** small array and decodes a restart entry only when two prefixes are
** equal, instead of decoding one at every step.
**
** lsmBlockSummaryBuild summarises the block p is attached to (LSM_OK,
** LSM_NOMEM or LSM_CORRUPT); pSkip points into the block, which must
** outlive the summary.  lsmBlockIterSeekSummary positions p exactly as
** lsmBlockIterSeek would.
*/
typedef struct LsmBlockSummary {
  uint64_t *aPrefix;     /* one per restart point */
  const uint8_t *pSkip;  /* the common prefix, inside the block */
  size_t nSkip;
} LsmBlockSummary;

int lsmBlockSummaryBuild(LsmBlockIter *p, LsmBlockSummary *pSum);
void lsmBlockSummaryFree(LsmBlockSummary *pSum);
int lsmBlockIterSeekSummary(LsmBlockIter *p, const LsmBlockSummary *pSum,
                            const uint8_t *pKey, size_t nKey);

#endif /* LSM_BLOCK_H */
