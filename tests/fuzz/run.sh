#!/bin/sh
# Build and run the libFuzzer targets of tests/fuzz for a bounded time.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET ...]   run each target SECONDS
#                                              (default 60; targets: log
#                                              table manifest batch keycodec)
#   tests/fuzz/run.sh corpus                   regenerate the seed corpora
#
# Each target is built into build/fuzz/ with clang and
# -fsanitize=fuzzer,address,undefined, compiling the engine's sources
# (lsm/*.c) and ext/keycodec.c directly.  A run reads the seeds in
# tests/fuzz/corpus/TARGET (never written) and keeps what it finds in
# build/fuzz/corpus/TARGET, so a later run goes on from there.  A crash,
# a failed assertion, a leak or a timeout (10 s on one input) stops that
# target; its input is saved as build/fuzz/artifacts/TARGET-* and the
# script reports it and exits non-zero once every target has run.
# Reproduce with: build/fuzz/fuzz_TARGET build/fuzz/artifacts/TARGET-...
set -u
cd "$(dirname "$0")/../.."

CC=${FUZZ_CC:-}
if [ -z "$CC" ]; then
  for c in clang-14 clang; do
    if command -v "$c" >/dev/null 2>&1; then CC=$c; break; fi
  done
fi
[ -n "$CC" ] || { echo "run.sh: clang not found (apt-get install clang)"; exit 2; }

OUT=build/fuzz
# The compiler's temporary files stay in the build tree.
mkdir -p "$OUT/tmp"
TMPDIR=$PWD/$OUT/tmp
export TMPDIR
FLAGS="-std=c11 -D_GNU_SOURCE -pthread -g -O1 -fno-omit-frame-pointer \
 -fsanitize=address,undefined -fno-sanitize-recover=undefined \
 -Wall -Wextra -Werror -Ilsm -Iext -Itests/fuzz"
LIBS="-llz4 -lsqlite3 -lpthread"

# The engine, instrumented for coverage, as an archive: each target links
# only the objects it needs.  Rebuilt when any engine source is newer.
build_engine() {
  mkdir -p "$OUT/obj"
  lib="$OUT/liblsm-fuzz.a"
  if [ -f "$lib" ] && [ -z "$(find lsm ext/keycodec.c ext/keycodec.h \
       -maxdepth 1 -name '*.[ch]' -newer "$lib" 2>/dev/null)" ]; then
    return 0
  fi
  echo "building the engine for fuzzing ($CC)"
  rm -f "$lib" "$OUT"/obj/*.o
  for src in lsm/*.c; do
    $CC $FLAGS -fsanitize=fuzzer-no-link -c "$src" \
      -o "$OUT/obj/$(basename "$src" .c).o" || return 1
  done
  $CC $FLAGS -fsanitize=fuzzer-no-link -DSQLITE_CORE -c ext/keycodec.c \
    -o "$OUT/obj/keycodec.o" || return 1
  ar rcs "$lib" "$OUT"/obj/*.o
}

build_target() {
  $CC $FLAGS -fsanitize=fuzzer "tests/fuzz/fuzz_$1.c" "$OUT/liblsm-fuzz.a" \
    $LIBS -o "$OUT/fuzz_$1"
}

if [ "${1:-}" = corpus ]; then
  mkdir -p "$OUT"
  gcc -std=c11 -D_GNU_SOURCE -O1 -Ilsm -Iext tests/fuzz/mkcorpus.c \
    ext/keycodec.c -DSQLITE_CORE lsm/*.c $LIBS -o "$OUT/mkcorpus" || exit 1
  rm -rf tests/fuzz/corpus
  "$OUT/mkcorpus" tests/fuzz/corpus || exit 1
  ls -l tests/fuzz/corpus/*
  exit 0
fi

SECS=${1:-60}
[ $# -gt 0 ] && shift
TARGETS=${*:-log table manifest batch keycodec}

build_engine || { echo "run.sh: engine build failed"; exit 2; }
mkdir -p "$OUT/artifacts"
status=0
for t in $TARGETS; do
  build_target "$t" || { echo "FAIL $t: build failed"; status=1; continue; }
  mkdir -p "$OUT/corpus/$t"
  log="$OUT/fuzz_$t.log"
  "$OUT/fuzz_$t" -max_total_time="$SECS" -timeout=10 -max_len=8192 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$OUT/artifacts/$t-" \
    "$OUT/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$(sed -n 's/^stat::.*//; s/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "ok   $t: ${runs:-?} executions in ${secs:-$SECS} s, ${cov:-cov: ?}, corpus $(ls "$OUT/corpus/$t" | wc -l) files"
  else
    status=1
    echo "FAIL $t: exit $rc after ${runs:-?} executions; log $log"
    grep -E 'ERROR|SUMMARY|Assertion|artifact' "$log" | head -8
  fi
done
exit $status
