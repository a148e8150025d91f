/*
** version.h -- versions (the set of live tables) and the manifest.
**
** A version lists the tables of each level: level 0 holds flushed
** memtables whose key ranges may overlap, newest first; levels 1..6 hold
** tables with disjoint key ranges sorted by smallest key.  Versions are
** immutable and reference counted: readers pin the version they read, so
** a table stays on disk while any pinned version lists it.  Each table's
** metadata (LsmFileMeta) is itself counted by the versions that list it;
** when the count reaches zero and a newer version has dropped the table,
** the file is deleted.
**
** The manifest is a log (wal.h framing, record type LSM_REC_EDIT) of
** version edits: tables added and removed per level, the number of the
** oldest log still needed, the next file number and the last sequence.
** Replaying the edits of the manifest named by CURRENT rebuilds the
** current version.  A new manifest starts with one edit holding the whole
** state, and CURRENT is switched to it atomically (env.h).
*/
#ifndef LSM_VERSION_H
#define LSM_VERSION_H

#include <pthread.h>
#include <stdint.h>

#include "lsm.h"
#include "table.h"
#include "util.h"

#define LSM_NUM_LEVELS 7

typedef struct LsmFileMeta {
  uint64_t iFile;              /* NNNNNN of NNNNNN.sst */
  uint64_t nSize;              /* bytes */
  uint64_t nEntry, nTombstone;
  uint64_t minSeq, maxSeq;
  LsmBuf smallest, largest;    /* first and last internal keys */
  int nRef;                    /* versions listing this table (atomic) */
  int bObsolete;               /* dropped from the current version */
  struct LsmVersionSet *pSet;  /* for deletion at the last ref */
} LsmFileMeta;

typedef struct LsmVersion {
  int nRef;                               /* atomic */
  struct LsmVersionSet *pSet;
  int anFile[LSM_NUM_LEVELS];
  LsmFileMeta **aapFile[LSM_NUM_LEVELS];
} LsmVersion;

/* One change to the version set. */
typedef struct LsmEditFile {
  int iLevel;
  LsmFileMeta *pMeta;          /* for added files: owned by the edit */
  uint64_t iFile;              /* for deleted files */
} LsmEditFile;

typedef struct LsmVersionEdit {
  int bLogNumber;   uint64_t iLogNumber;    /* logs < this are obsolete */
  int bNextFile;    uint64_t iNextFile;
  int bLastSeq;     uint64_t iLastSeq;
  int bLastTxn;     uint64_t iLastTxn;      /* see lsm_txn_last */
  int nAdd, nAddAlloc;  LsmEditFile *aAdd;
  int nDel, nDelAlloc;  LsmEditFile *aDel;
  /* Round-robin compaction cursors: largest key compacted per level. */
  int abCursor[LSM_NUM_LEVELS];
  LsmBuf aCursor[LSM_NUM_LEVELS];
} LsmVersionEdit;

void lsmEditInit(LsmVersionEdit *p);
void lsmEditClear(LsmVersionEdit *p);
/* Record a new table (the edit copies the props' keys). */
int lsmEditAddFile(LsmVersionEdit *p, int iLevel, uint64_t iFile,
                   const LsmTableProps *pProps);
int lsmEditAddMeta(LsmVersionEdit *p, int iLevel, const LsmFileMeta *pMeta);
int lsmEditDelFile(LsmVersionEdit *p, int iLevel, uint64_t iFile);
int lsmEditEncode(const LsmVersionEdit *p, LsmBuf *pOut);
int lsmEditDecode(LsmVersionEdit *p, const uint8_t *a, size_t n);

typedef struct LsmVersionSet {
  lsm_env *pEnv;
  char *zDir;
  LsmTableCache *pTableCache;    /* evicted when a file is deleted */
  LsmVersion *pCurrent;          /* referenced by the set */
  uint64_t iNextFile;
  uint64_t iLogNumber;
  uint64_t iLastSeq;             /* as of the last edit written */
  uint64_t iLastTxn;             /* largest committed txn id in tables */
  uint64_t iManifest;            /* file number of the live manifest */
  struct LsmWalWriter *pManifest;
  LsmBuf aCursor[LSM_NUM_LEVELS];
  pthread_mutex_t *pMutex;       /* the db mutex: guards pCurrent swaps */
  pthread_mutex_t applyMutex;    /* one manifest write at a time */
} LsmVersionSet;

int lsmVersionSetNew(lsm_env *pEnv, const char *zDir, LsmTableCache *pTc,
                     pthread_mutex_t *pMutex, LsmVersionSet **pp);
void lsmVersionSetFree(LsmVersionSet *p);

/*
** Read CURRENT and the manifest it names into the set.  LSM_NOTFOUND if
** there is no CURRENT (a new database); LSM_CORRUPT for a damaged or
** inconsistent manifest, or a listed table missing from the directory.
*/
int lsmVersionSetRecover(LsmVersionSet *p);

/*
** Write a new manifest holding the whole state plus pEdit, switch
** CURRENT to it, and install the result.  Used at open.
*/
int lsmVersionSetRewrite(LsmVersionSet *p, LsmVersionEdit *pEdit);

/*
** Append pEdit to the manifest, sync it, and install the new version as
** current (taking *pMutex for the swap only).  Tables the edit deletes
** become obsolete and their files go when no version lists them.
** Callers are serialised; edits that delete tables must come from one
** compaction at a time (the db ensures it).
*/
int lsmVersionSetApply(LsmVersionSet *p, LsmVersionEdit *pEdit);

uint64_t lsmVersionSetNewFile(LsmVersionSet *p);   /* atomic */

/* The current version with a reference; REQUIRES *pMutex held. */
LsmVersion *lsmVersionCurrent(LsmVersionSet *p);
void lsmVersionRef(LsmVersion *v);
void lsmVersionUnref(LsmVersion *v);

/*
** Point lookup through the tables of v: the newest version of user key
** pKey with seq <= seq.  As lsmTableGet.
*/
int lsmVersionGet(LsmVersion *v, const uint8_t *pKey, size_t nKey,
                  uint64_t seq, LsmBuf *pVal, int *pbDeleted);

/*
** Append to *papIter internal iterators covering v's tables whose range
** meets user keys [pLo, pHi) (NULL = unbounded): one per L0 table, one
** concatenating iterator per deeper level.  *pnIter is updated; the
** array grows with lsmRealloc.  Each iterator holds what it reads.
*/
int lsmVersionIters(LsmVersion *v, const uint8_t *pLo, size_t nLo,
                    const uint8_t *pHi, size_t nHi, int bFillCache,
                    LsmIter ***papIter, int *pnIter);

/* An iterator over tables iFirst..iFirst+nFile-1 of level iLevel >= 1 of
** v (disjoint, sorted), opening each table only when reached.  Holds a
** reference to v. */
int lsmLevelIterNew(LsmVersion *v, int iLevel, int iFirst, int nFile,
                    int bFillCache, LsmIter **pp);

/* Does table pMeta hold user keys in [pLo, pHi)?  NULL = unbounded. */
int lsmFileOverlaps(const LsmFileMeta *pMeta, const uint8_t *pLo, size_t nLo,
                    const uint8_t *pHi, size_t nHi);

/* The table file and manifest file names. */
char *lsmTableFileName(const char *zDir, uint64_t iFile);
char *lsmLogFileName(const char *zDir, uint64_t iFile);

#endif /* LSM_VERSION_H */
