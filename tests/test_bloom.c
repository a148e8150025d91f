/*
** test_bloom.c -- unit tests of the bloom filter (lsm/bloom.c).
**
** A filter must never answer "absent" for a key it was built over, and
** its false-positive rate must be near the theory: within twice
** (1 - e^(-k/b))^k for b bits per key and k probes, measured over 20,000
** keys that were not added.  The encoded layout, the pinned hash values
** (the hash is part of the file format) and malformed filters are
** checked too.  All keys come from a seeded generator.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bloom.h"
#include "util.h"
#include "support/testutil.h"

/* Key i of family c: db_bench-like 16-byte decimal keys. */
static size_t makeKey(char c, uint64_t i, uint8_t *aKey){
  char z[32];
  snprintf(z, sizeof(z), "%c%015llu", c, (unsigned long long)i);
  memcpy(aKey, z, 16);
  return 16;
}

/* Build a filter over nKey keys of family 'k' (every nStride-th). */
static void buildFilter(int nBits, int nKey, LsmBuf *pOut){
  LsmBloomBuilder b;
  uint8_t aKey[16];
  int i;
  lsmBloomBuilderInit(&b, nBits);
  for(i=0; i<nKey; i++){
    size_t n = makeKey('k', (uint64_t)i*7, aKey);
    assert_int_equal(lsmBloomBuilderAdd(&b, aKey, n), LSM_OK);
  }
  assert_int_equal(lsmBloomBuilderCount(&b), (uint64_t)nKey);
  {
    size_t nExpect = lsmBloomBuilderSize(&b);
    assert_int_equal(lsmBloomBuilderFinish(&b, pOut), LSM_OK);
    assert_int_equal(pOut->n, nExpect);
  }
  assert_int_equal(lsmBloomBuilderCount(&b), 0);
  lsmBloomBuilderFree(&b);
}

/* e^x by its power series (the tests do not link the math library). */
static double expSeries(double x){
  double sum = 1.0, term = 1.0;
  int i;
  for(i=1; i<40; i++){
    term *= x / i;
    sum += term;
  }
  return sum;
}

/* Measured and expected false-positive rates for bits per key nBits. */
static void checkRate(int nBits, int nKey){
  LsmBuf f = {0, 0, 0};
  uint8_t aKey[16];
  int i, nFalse = 0, nProbe = 20000, k;
  double expect, rate;
  buildFilter(nBits, nKey, &f);
  assert_true(lsmBloomCheck(f.p, f.n));
  k = f.p[f.n-1];
  assert_int_equal(k, (int)(nBits*0.6931471805599453 + 0.5));
  for(i=0; i<nKey; i++){
    size_t n = makeKey('k', (uint64_t)i*7, aKey);
    assert_true(lsmBloomMayContain(f.p, f.n, aKey, n));
  }
  for(i=0; i<nProbe; i++){
    /* Absent keys: other multiples' neighbours and another family. */
    size_t n = (i%2) ? makeKey('k', (uint64_t)i*7 + 3, aKey)
                     : makeKey('z', (uint64_t)i, aKey);
    nFalse += lsmBloomMayContain(f.p, f.n, aKey, n);
  }
  expect = 1.0;
  for(i=0; i<k; i++) expect *= 1.0 - expSeries(-(double)k/nBits);
  rate = (double)nFalse / nProbe;
  print_message("bits %d k %d: false positives %.4f (theory %.4f)\n",
                nBits, k, rate, expect);
  assert_true(rate < 2*expect);
  lsmBufFree(&f);
}

static void test_bloom_rate10(void **state){
  (void)state;
  checkRate(10, 10000);
}

static void test_bloom_rate_other(void **state){
  (void)state;
  checkRate(5, 10000);
  checkRate(16, 10000);
}

/* Random binary keys of random lengths: no false negatives. */
static void test_bloom_random_keys(void **state){
  uint64_t rng = 5;
  LsmBloomBuilder b;
  LsmBuf f = {0, 0, 0};
  uint8_t aKeys[2000][40];
  size_t anKey[2000];
  int i, nBits;
  (void)state;
  for(i=0; i<2000; i++){
    size_t j;
    anKey[i] = testRandRange(&rng, 41);
    for(j=0; j<anKey[i]; j++) aKeys[i][j] = (uint8_t)testRand(&rng);
  }
  for(nBits=1; nBits<=24; nBits+=7){
    lsmBloomBuilderInit(&b, nBits);
    for(i=0; i<2000; i++){
      assert_int_equal(lsmBloomBuilderAdd(&b, aKeys[i], anKey[i]), LSM_OK);
    }
    f.n = 0;
    assert_int_equal(lsmBloomBuilderFinish(&b, &f), LSM_OK);
    for(i=0; i<2000; i++){
      assert_true(lsmBloomMayContain(f.p, f.n, aKeys[i], anKey[i]));
    }
    lsmBloomBuilderFree(&b);
  }
  lsmBufFree(&f);
}

/* No keys: the smallest filter, answering "absent" to everything. */
static void test_bloom_empty(void **state){
  LsmBuf f = {0, 0, 0};
  uint8_t aKey[16];
  int i;
  (void)state;
  buildFilter(10, 0, &f);
  assert_int_equal(f.n, 9);
  assert_int_equal(f.p[8], 7);
  assert_true(lsmBloomCheck(f.p, f.n));
  for(i=0; i<100; i++){
    size_t n = makeKey('k', (uint64_t)i, aKey);
    assert_false(lsmBloomMayContain(f.p, f.n, aKey, n));
  }
  lsmBufFree(&f);
}

/* Layout: nKey*bits bits rounded up to bytes (at least 64), then k. */
static void test_bloom_layout(void **state){
  LsmBuf f = {0, 0, 0};
  (void)state;
  buildFilter(10, 100, &f);
  assert_int_equal(f.n, 125 + 1);
  assert_int_equal(f.p[125], 7);
  f.n = 0;
  buildFilter(3, 101, &f);            /* 303 bits -> 38 bytes */
  assert_int_equal(f.n, 38 + 1);
  assert_int_equal(f.p[38], 2);
  f.n = 0;
  buildFilter(1, 3, &f);              /* minimum 64 bits, k clamps to 1 */
  assert_int_equal(f.n, 8 + 1);
  assert_int_equal(f.p[8], 1);
  f.n = 0;
  buildFilter(60, 3, &f);             /* k clamps to 30 */
  assert_int_equal(f.p[f.n-1], LSM_BLOOM_MAX_PROBES);
  lsmBufFree(&f);
}

/*
** The hash is part of the file format: pin a few values so that an
** accidental change fails here rather than silently in old files.
*/
static void test_bloom_hash_pinned(void **state){
  (void)state;
  assert_true(lsmBloomHash((const uint8_t*)"", 0)
              == 0xaaafd869a0d3b605ull);
  assert_true(lsmBloomHash((const uint8_t*)"a", 1)
              == 0x1426b05bd6cd0ae0ull);
  assert_true(lsmBloomHash((const uint8_t*)"0123456789abcdefXYZ", 19)
              == 0x2f7a6d2d55a84ce3ull);
  /* Trailing zero bytes change the hash (the length is mixed in). */
  assert_true(lsmBloomHash((const uint8_t*)"a\0", 2)
              != lsmBloomHash((const uint8_t*)"a", 1));
  assert_true(lsmBloomHash((const uint8_t*)"\0\0\0\0\0\0\0\0", 8)
              != lsmBloomHash((const uint8_t*)"", 0));
}

static void test_bloom_malformed(void **state){
  uint8_t a[16] = {0};
  (void)state;
  assert_false(lsmBloomCheck(a, 0));
  assert_false(lsmBloomCheck(a, 8));            /* 7 bytes of bits */
  assert_false(lsmBloomCheck(a, 9));            /* k = 0 */
  a[8] = 31;
  assert_false(lsmBloomCheck(a, 9));            /* k too large */
  a[8] = 30;
  assert_true(lsmBloomCheck(a, 9));
  /* A malformed filter never excludes a key. */
  assert_true(lsmBloomMayContain(a, 8, (const uint8_t*)"x", 1));
  a[8] = 0;
  assert_true(lsmBloomMayContain(a, 9, (const uint8_t*)"x", 1));
}

int main(void){
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_bloom_rate10),
    cmocka_unit_test(test_bloom_rate_other),
    cmocka_unit_test(test_bloom_random_keys),
    cmocka_unit_test(test_bloom_empty),
    cmocka_unit_test(test_bloom_layout),
    cmocka_unit_test(test_bloom_hash_pinned),
    cmocka_unit_test(test_bloom_malformed),
  };
  return cmocka_run_group_tests(tests, 0, 0);
}
