#!/bin/bash
# run.sh -- run the benchmark driver once per engine, then print one
# combined table of results, the ratio tables, the fillsync table and the
# target checks.
#
#   tests/bench/run.sh [dbbench flags...]
#
# Flags go to every run (see tests/bench/dbbench.c); --engines=LIST picks
# the engines (default: all seven).  Each engine runs in its own process,
# so that the peak RSS reported for it is its own.  The first failing run
# (an engine error, or a wrong read result) stops the script with its
# exit status.
#
# Environment: DBBENCH   the driver (default build/bench/dbbench)
#              BENCH_RESULTS  keep the raw result rows in this file
set -u
bin=${DBBENCH:-build/bench/dbbench}
engines="lsm,lsm-mmap,leveldb,leveldb-bloom,rocksdb,rocksdb-bloom,sql-lsm,sql-native"
args=()
for a in "$@"; do
  case "$a" in
    --engines=*) engines=${a#--engines=} ;;
    --results=*|--report=*) echo "run.sh: $a is set by run.sh itself" >&2; exit 2 ;;
    *) args+=("$a") ;;
  esac
done
if [ ! -x "$bin" ]; then
  echo "run.sh: $bin not built (make bench builds it)" >&2
  exit 2
fi

results=${BENCH_RESULTS:-}
if [ -z "$results" ]; then
  results=$(mktemp /tmp/lsmbench-results.XXXXXX) || exit 2
  trap 'rm -f "$results"' EXIT
else
  : > "$results"
fi

echo "== machine =="
echo "kernel:   $(uname -srm)"
echo "cpu:      $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) x $(nproc)"
echo "memory:   $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "data dir: /tmp on $(df -PT /tmp | awk 'NR==2 {print $2 " (" $1 ")"}')"
if command -v dpkg-query >/dev/null 2>&1; then
  echo "packages: $(dpkg-query -W -f '${Package} ${Version}  ' \
        libleveldb-dev librocksdb-dev libsqlite3-dev 2>/dev/null)"
fi
echo "command:  $0 $*"
echo

for e in ${engines//,/ }; do
  echo "== $e =="
  "$bin" --engines="$e" --results="$results" "${args[@]}"
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "run.sh: engine $e failed (exit status $rc)" >&2
    exit $rc
  fi
done

"$bin" --report="$results"
