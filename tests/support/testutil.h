/*
** testutil.h -- small helpers shared by every test program.
**
** Randomness: tests must reproduce, so every random choice comes from a
** seeded generator whose whole state is one uint64_t the test owns:
**
**     uint64_t rng = 42;                       any fixed seed, 0 included
**     uint32_t i = testRandRange(&rng, 100);   0..99
**
** The generator is splitmix64: fast, good enough for test data, and the
** same sequence on every platform.
**
** Temporary directories: testTempDir("wal") makes an empty directory
** /tmp/lsmtest-wal-<pid> (removing anything already there) and returns its
** path; the test removes it at the end with testRmTree() and free()s the
** path.  Both use the C library directly, never the engine or its
** allocator hook, so they work while a test makes the engine's
** allocations fail.
*/
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stdint.h>

/* Next 64 random bits; advances *pState. */
uint64_t testRand(uint64_t *pState);

/* A uniformly distributed value in [0, n); 0 if n is 0. */
uint32_t testRandRange(uint64_t *pState, uint32_t n);

/*
** Create an empty directory /tmp/lsmtest-<zName>-<pid>, first removing
** whatever is at that path.  Returns the path in a buffer from malloc()
** (the caller free()s it), or NULL if the directory could not be made.
*/
char *testTempDir(const char *zName);

/*
** Remove zDir and everything under it (files, subdirectories, symbolic
** links, which are not followed).  Returns 0 on success or if zDir does
** not exist, -1 otherwise (errno set).
*/
int testRmTree(const char *zDir);

#endif /* TESTUTIL_H */
