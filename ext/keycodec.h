/*
** keycodec.h -- byte encodings of SQLite values for the lsm virtual table.
**
** The engine stores byte strings ordered by memcmp (shorter first on a
** tie).  The virtual table stores each row as one engine entry:
**
**     engine key    = lsmvKeyEncode(primary key value)
**     engine value  = a record: one header byte of key flags, then each
**                     non-key column as a tagged value
**
** Key encoding.  The memcmp order of encoded keys equals the order SQLite
** gives the same values in a WITHOUT ROWID primary key with BINARY
** collation: numbers (integers and reals compared by exact value, so that
** 1 and 1.0 are one key), then TEXT by memcmp of its UTF-8 bytes, then
** BLOB by memcmp.  NULL (and NaN, which SQLite never stores) cannot be a
** key.  The first byte of an encoded key is its tag:
**
**     0x10            negative real, |x| >= 2^64;  ~bits(|x|), 8 bytes BE
**     0x11 .. 0x19    negative number, |x| < 2^64, integer part t of
**                     |x| taking n = 0x19-tag significant bytes:
**                     the n low bytes of ~t (BE), then
**                       0x01                        if x is an integer
**                       0x00 ~bits(frac(|x|)), 8 B  otherwise
**     0x1A .. 0x22    non-negative number, |x| < 2^64, n = tag-0x1A:
**                     the n significant bytes of t (BE), then, if x is
**                     not an integer, bits(frac(x)) (BE, trailing zero
**                     bytes dropped)
**     0x23            positive real, x >= 2^64;  bits(x) BE, trailing
**                     zero bytes dropped
**     0x30            TEXT; the UTF-8 bytes follow
**     0x40            BLOB; the bytes follow
**
** bits(d) is the IEEE-754 bit pattern of a non-negative double d, whose
** unsigned order is the order of d.  frac(x) = x - trunc(x) is exact for
** doubles, and t fits 64 bits, so every int64 and every double lands in
** exactly one place and equal values (5 and 5.0, 0 and -0.0) encode to
** the same bytes.  The key is the whole byte string: no terminator.
**
** An encoded key forgets which of INTEGER or REAL an integral number was
** (and the sign of -0.0).  A native table returns the key with the type
** it was inserted with, so the encoder also reports LSMV_KEY_REAL and
** LSMV_KEY_NEGZERO flags, which the row keeps in its record header and
** gives back to the decoder.
**
** Record format (the engine value of a row):
**
**     byte 0      key flags (LSMV_KEY_*); other bits must be zero
**     per column  a tag byte, then:
**                   0x00 NULL     nothing
**                   0x01 INTEGER  zigzag varint
**                   0x02 REAL     8 bytes, IEEE-754 little-endian
**                   0x03 TEXT     varint byte count, UTF-8 bytes
**                   0x04 BLOB     varint byte count, bytes
**
** Varints are LEB128 (7 bits a byte, low group first, high bit set on all
** but the last byte; at most 10 bytes).  A record with fewer columns than
** the table reads the missing trailing columns as NULL.
*/
#ifndef LSMV_KEYCODEC_H
#define LSMV_KEYCODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3ext.h>

/* Key tags (first byte of an encoded key), for building key ranges. */
#define LSMV_TAG_NUM_FIRST  0x10   /* smallest numeric tag */
#define LSMV_TAG_NUM_END    0x24   /* one past the largest numeric tag */
#define LSMV_TAG_TEXT       0x30
#define LSMV_TAG_BLOB       0x40

/* Key flags, kept in the record header. */
#define LSMV_KEY_REAL     0x01     /* integral key was inserted as REAL */
#define LSMV_KEY_NEGZERO  0x02     /* key was the REAL -0.0 */

/*
** A growable byte buffer (sqlite3_malloc memory).  Zero-initialise; free
** with lsmvBufFree.
*/
typedef struct LsmvBuf LsmvBuf;
struct LsmvBuf {
  unsigned char *a;       /* the bytes */
  size_t n;               /* bytes in use */
  size_t nAlloc;          /* bytes allocated */
};

/* Make room for nMore more bytes.  SQLITE_OK or SQLITE_NOMEM. */
int lsmvBufReserve(LsmvBuf *p, size_t nMore);
/* Append n bytes.  SQLITE_OK or SQLITE_NOMEM. */
int lsmvBufAppend(LsmvBuf *p, const void *pData, size_t n);
/* Release the memory and reset to empty. */
void lsmvBufFree(LsmvBuf *p);

/*
** A decoded SQLite value.  z points at bytes owned by someone else (the
** sqlite3_value or the encoded buffer it came from); it is valid as long
** as that owner is.
*/
typedef struct LsmvValue LsmvValue;
struct LsmvValue {
  int eType;                  /* SQLITE_INTEGER, _FLOAT, _TEXT, _BLOB, _NULL */
  sqlite3_int64 iVal;         /* SQLITE_INTEGER */
  double rVal;                /* SQLITE_FLOAT */
  const unsigned char *z;     /* SQLITE_TEXT (UTF-8) or SQLITE_BLOB */
  size_t n;                   /* bytes at z */
};

/*
** Read pIn into *pOut without any conversion (text as UTF-8).  Returns
** SQLITE_OK, or SQLITE_NOMEM if SQLite could not produce the text.
*/
int lsmvValueFromSqlite(sqlite3_value *pIn, LsmvValue *pOut);

/* Set the result of ctx to *pVal (copied).  Never fails: an allocation
** failure is reported through ctx. */
void lsmvValueResult(sqlite3_context *ctx, const LsmvValue *pVal);

/*
** Append the key encoding of *pVal to pOut and store its key flags in
** *pFlags.  Returns SQLITE_OK, SQLITE_NOMEM, or SQLITE_CONSTRAINT_NOTNULL
** when the value is NULL (or a NaN real).
*/
int lsmvKeyEncode(const LsmvValue *pVal, LsmvBuf *pOut, unsigned *pFlags);

/*
** Decode the key a[0..n-1] with the record's key flags.  TEXT and BLOB
** values point into a.  Returns SQLITE_OK or SQLITE_CORRUPT if a is not a
** valid encoding.
*/
int lsmvKeyDecode(const unsigned char *a, size_t n, unsigned flags,
                  LsmvValue *pOut);

/*
** Append the smallest key greater than every key that starts with the
** n bytes at a (the exclusive upper end of a prefix range).  Sets *pbNone
** and appends nothing when no such key exists (a is all 0xff bytes).
** SQLITE_OK or SQLITE_NOMEM.
*/
int lsmvKeyPrefixEnd(const unsigned char *a, size_t n, LsmvBuf *pOut,
                     int *pbNone);

/* Start a record: append its header byte.  SQLITE_OK or SQLITE_NOMEM. */
int lsmvRecordBegin(LsmvBuf *pOut, unsigned keyFlags);
/* Append one column value.  SQLITE_OK or SQLITE_NOMEM. */
int lsmvRecordAppend(LsmvBuf *pOut, const LsmvValue *pVal);

/*
** Key flags of the record a[0..n-1].  SQLITE_OK or SQLITE_CORRUPT (empty
** record or unknown flag bits).
*/
int lsmvRecordFlags(const unsigned char *a, size_t n, unsigned *pFlags);

/*
** Locate column iCol (0 = first non-key column) in the record: *piOff and
** *pnLen get the offset and size of its encoding (tag included), so that
** it can be copied into another record unchanged.  A column past the end
** of the record gets *pnLen 0.  SQLITE_OK or SQLITE_CORRUPT.
*/
int lsmvRecordSpan(const unsigned char *a, size_t n, int iCol,
                   size_t *piOff, size_t *pnLen);

/*
** Decode column iCol of the record into *pOut (NULL if the record is
** shorter).  TEXT and BLOB point into a.  SQLITE_OK or SQLITE_CORRUPT.
*/
int lsmvRecordColumn(const unsigned char *a, size_t n, int iCol,
                     LsmvValue *pOut);

#endif /* LSMV_KEYCODEC_H */
