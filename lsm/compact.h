/*
** compact.h -- levelled compaction: choosing what to merge and merging it.
**
** Scores: level 0 scores its table count over l0_trigger; level i >= 1
** its bytes over its budget (level1_size * 10^(i-1)).  The level with the
** highest score >= 1 is compacted into the next one.  Level 6 is the last
** and is never compacted out of.
**
** Inputs: from level 0, every table (they overlap one another); from a
** deeper level, the first table after that level's round-robin cursor, so
** every part of a level takes its turn.  Then every table of the next
** level that overlaps the inputs' key range.  A single input that
** overlaps nothing below and little two levels below is moved by a
** manifest edit alone.
**
** Merge rules, walking each user key's versions newest first:
**  - a version is dropped when a newer version of the same key has a
**    sequence <= the oldest sequence any reader can still ask for (the
**    oldest live snapshot, or the last sequence if none): no reader can
**    see it;
**  - a tombstone at or below that sequence is dropped when no level below
**    the output level holds a table whose range contains the key (the
**    tombstone has nothing left to hide), and then every older version
**    of its key goes with it.
** Outputs are split at table_size, never inside one user key's versions,
** and early when an output would overlap more than ten tables' worth of
** the level two below, to bound later compactions.  The caller records
** the result as one manifest edit: inputs removed, outputs added.
*/
#ifndef LSM_COMPACT_H
#define LSM_COMPACT_H

#include <stdint.h>

#include "lsm.h"
#include "version.h"

typedef struct LsmCompaction {
  int iLevel;                      /* inputs from iLevel and iOutLevel */
  int iOutLevel;                   /* iLevel+1, or iLevel to rewrite it */
  LsmVersion *v;                   /* the version the inputs come from */
  int aiFirst[2];                  /* first input index in each level */
  int anIn[2];                     /* inputs in each level (contiguous) */
  int bTrivialMove;                /* one table changes level, no merge */
} LsmCompaction;

/* What a compaction needs from the database. */
typedef struct LsmCompactCtx {
  lsm_env *pEnv;
  const char *zDir;
  LsmVersionSet *pVs;
  const lsm_options *pOpts;
  uint64_t iOldestSeq;             /* oldest sequence a reader may ask for */
  /* Called every few thousand entries; a non-zero return abandons the
  ** compaction (at close).  The db also uses it to flush memtables so
  ** that writers are not stalled behind a long merge. */
  int (*xBreak)(void *pArg);
  void *pArg;
  uint64_t nBytesRead;             /* out: input bytes */
  uint64_t nBytesWritten;          /* out: output bytes */
  int nOutput;                     /* out: tables written */
} LsmCompactCtx;

/* Byte budget of level i >= 1. */
uint64_t lsmLevelBudget(const lsm_options *pOpts, int iLevel);
/* Bytes of the tables of level i of v. */
uint64_t lsmLevelBytes(const LsmVersion *v, int iLevel);
/* Score of level i of v (>= 1 means it needs compacting). */
double lsmLevelScore(const LsmVersion *v, const lsm_options *pOpts, int iLevel);

/*
** Choose the most urgent compaction of v.  *pp is NULL if no level
** scores >= 1.  The compaction holds a reference to v.
*/
int lsmCompactPick(LsmVersion *v, const lsm_options *pOpts,
                   const LsmBuf *aCursor, LsmCompaction **pp);

/*
** A compaction of every table of level iLevel overlapping user keys
** [pLo, pHi] (inclusive; NULL = unbounded) into level iLevel+1, or, with
** bInPlace, rewritten within level iLevel >= 1 (the deepest level, whose
** old versions and tombstones have nowhere further to go).  *pp is NULL
** if nothing overlaps.
*/
int lsmCompactPickRange(LsmVersion *v, int iLevel, int bInPlace,
                        const uint8_t *pLo, size_t nLo,
                        const uint8_t *pHi, size_t nHi, LsmCompaction **pp);

/*
** Run c: merge its inputs into new tables and describe the change in
** pEdit (inputs deleted, outputs added, the level's cursor advanced).
** On failure the partial outputs are removed and pEdit must be dropped.
** LSM_ERROR with no message if xBreak asked to stop.
*/
int lsmCompactRun(LsmCompaction *c, LsmCompactCtx *pCtx, LsmVersionEdit *pEdit);

void lsmCompactionFree(LsmCompaction *c);

#endif /* LSM_COMPACT_H */
