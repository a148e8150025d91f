#!/bin/sh
# Run each test program given as an argument and add up cmocka's counts.
# A program that exits non-zero without a cmocka summary (a crash, an
# assertion in a plain program) counts as one failure.  Prints
# "N passed, M failed" last and exits non-zero if anything failed.
passed=0; failed=0
for t in "$@"; do
  out=$(mktemp)
  "$t" >"$out" 2>&1
  rc=$?
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  if [ "$f" -ne 0 ]; then cat "$out"; echo "FAIL: $t"; else echo "ok   $t ($p)"; fi
  passed=$((passed + p)); failed=$((failed + f))
  rm -f "$out"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
