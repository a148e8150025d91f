/*
** wal.h -- record framing shared by the write-ahead log and the manifest.
**
** A file is a sequence of records, each:
**
**     crc32c  u32   CRC32C of the 5 header bytes after it and the payload
**     length  u32   payload length in bytes
**     type    u8    record type (LSM_REC_*), never 0
**     payload length bytes
**
** See FORMAT.md for the payloads.  The writer appends whole records
** through the env; the reader walks them and decides what a damaged
** record means:
**  - a record cut short by the end of the file, or a bad record after
**    which no valid record can be found anywhere in the file, is a torn
**    tail: lsmWalReaderNext reports the end, and lsmWalReaderTailOffset
**    says where the valid prefix ends (so recovery can truncate there);
**  - a bad record followed by a valid one is corruption: LSM_CORRUPT with
**    the file name and offset in the message.
** "Valid one" can be narrowed to records of the types that the writer
** syncs before anyone relies on them (lsmWalReaderDurableTypes): bytes
** after the last sync may reach the disk out of order in a power loss,
** so a damaged record followed only by unsynced records is still a torn
** tail, while one followed by a synced record is real damage.
*/
#ifndef LSM_WAL_H
#define LSM_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "lsm.h"

#define LSM_WAL_HEADER 9

#define LSM_REC_BATCH     1   /* payload: an encoded write batch (batch.h) */
#define LSM_REC_EDIT      2   /* payload: a manifest version edit */
#define LSM_REC_BATCH_SYNC 3  /* a batch the writer synced before acking */
#define LSM_REC_PREPARE   4   /* txn u64 | encoded batch (seq field unused) */
#define LSM_REC_COMMIT    5   /* txn u64 | first sequence u64 */
#define LSM_REC_ABORT     6   /* txn u64 */

typedef struct LsmWalWriter LsmWalWriter;
typedef struct LsmWalReader LsmWalReader;

/*
** Open zPath for appending records (created if missing; truncated if
** bTruncate).  zPath is used in error messages.
*/
int lsmWalWriterOpen(lsm_env *pEnv, const char *zPath, int bTruncate,
                     LsmWalWriter **ppWriter);
/* Append one record (not synced).  On error the writer must be closed. */
int lsmWalWriterAppend(LsmWalWriter *p, int type,
                       const void *pPayload, size_t nPayload);
int lsmWalWriterSync(LsmWalWriter *p);
uint64_t lsmWalWriterSize(const LsmWalWriter *p);   /* bytes in the file */
int lsmWalWriterClose(LsmWalWriter *p);            /* NULL is a no-op */

int lsmWalReaderOpen(lsm_env *pEnv, const char *zPath, LsmWalReader **ppReader);
/*
** Read the next record.  LSM_OK: *pType, *ppPayload, *pnPayload describe
** it (the payload is owned by the reader, valid until the next call).
** LSM_NOTFOUND: no more records (end of file or a torn tail).
** LSM_CORRUPT / LSM_IOERR / LSM_NOMEM: an error; the message is set.
*/
int lsmWalReaderNext(LsmWalReader *p, int *pType,
                     const uint8_t **ppPayload, size_t *pnPayload);
/* Only valid records whose type is in the mask (bit 1<<type) after a
** damaged one make it corruption.  Default: every type. */
void lsmWalReaderDurableTypes(LsmWalReader *p, uint32_t mTypes);
/* Offset just past the last good record returned so far. */
uint64_t lsmWalReaderTailOffset(const LsmWalReader *p);
/* True if the reader found a torn tail (bytes after TailOffset). */
int lsmWalReaderTorn(const LsmWalReader *p);
void lsmWalReaderClose(LsmWalReader *p);

#endif /* LSM_WAL_H */
