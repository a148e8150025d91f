# lsmvtab -- build, test and benchmark.
#
#   make            engine library, extension, tools
#   make demo       build and run sql/demo.sql in the sqlite3 shell
#   make test       build and run every test; ends with "N passed, M failed"
#   make asan       the same tests under AddressSanitizer + UBSan
#   make tsan       the same tests under ThreadSanitizer
#   make crashtest  the long SIGKILL loop through the extension (N=500)
#   make fuzz       each libFuzzer target for FUZZ_SECS seconds
#   make bench      benchmarks against LevelDB, RocksDB and native SQLite
#
# Every lsm/*.c is part of the engine, every ext/*.c part of the extension,
# every tests/test_*.c a test program (linked with tests/support/*.c).
# Build products of a variant go to $(B); the default build keeps the
# library at lsm/liblsm.a as documented.

CC       ?= gcc
B        ?= build
SANFLAGS ?=
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Werror
ALLFLAGS := -std=c11 -D_GNU_SOURCE -pthread -fPIC $(WARN) $(CFLAGS) $(SANFLAGS) -MMD -MP
LIBS     := -llz4 -lpthread -lm

ifeq ($(B),build)
LIB := lsm/liblsm.a
EXT := lsmvtab.so
TOOL := lsm/tools/lsmtool
else
LIB := $(B)/liblsm.a
EXT := $(B)/lsmvtab.so
TOOL := $(B)/lsmtool
endif

LSM_SRC   := $(wildcard lsm/*.c)
LSM_OBJ   := $(LSM_SRC:%.c=$(B)/%.o)
EXT_SRC   := $(wildcard ext/*.c)
EXT_OBJ   := $(EXT_SRC:%.c=$(B)/%.o)
SUP_SRC   := $(wildcard tests/support/*.c)
SUP_OBJ   := $(SUP_SRC:%.c=$(B)/%.o)
TEST_SRC  := $(wildcard tests/test_*.c)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(B)/tests/%)

.PHONY: all deps test asan tsan demo clean crashtest fuzz fuzz-ci
# Keep object files make would treat as intermediate (support objects).
.SECONDARY:
all: deps $(LIB) $(EXT) $(TOOL)

# $(call install_missing,PATH:PACKAGE ...): install (as root, or print the
# apt-get command) the Debian packages whose PATH is missing.
define install_missing
	@missing=""; for d in $(1); do f=$${d%%:*}; p=$${d##*:}; \
	  [ -e $$f ] || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) || exit 1; \
	  else \
	    echo "missing packages; run: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
endef

# Debian packages the build needs: header or program -> package.
DEPS := /usr/include/sqlite3.h:libsqlite3-dev /usr/bin/sqlite3:sqlite3 \
        /usr/include/cmocka.h:libcmocka-dev /usr/include/lz4.h:liblz4-dev
deps:
	$(call install_missing,$(DEPS))

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -Ilsm -c $< -o $@

$(LIB): $(LSM_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(EXT): $(EXT_OBJ) $(LIB) ext/lsmvtab.map
	$(CC) $(ALLFLAGS) -shared -o $@ $(EXT_OBJ) $(LIB) $(LIBS) \
	  -Wl,--version-script=ext/lsmvtab.map

$(TOOL): $(B)/lsm/tools/lsmtool.o $(LIB)
	$(CC) $(ALLFLAGS) -o $@ $^ $(LIBS)

$(B)/tests/%: $(B)/tests/%.o $(SUP_OBJ) $(LIB)
	$(CC) $(ALLFLAGS) -o $@ $^ -lcmocka -lsqlite3 $(LIBS)

test: all $(TEST_BIN)
	@LSMVTAB_EXT=$(abspath $(EXT)) LSMTOOL=$(abspath $(TOOL)) \
	  tests/run.sh $(TEST_BIN)

asan:
	$(MAKE) test B=build/asan \
	  SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

tsan:
	$(MAKE) test B=build/tsan SANFLAGS="-fsanitize=thread"

demo: all
	sqlite3 :memory: -cmd ".load ./lsmvtab" < sql/demo.sql

# The SIGKILL loop through the extension, long form (N iterations).
crashtest: all $(B)/tests/test_crash
	LSMVTAB_EXT=$(abspath $(EXT)) LSMVTAB_CRASH_ITERATIONS=$${N:-500} $(B)/tests/test_crash

# libFuzzer targets for every on-disk parser and the key codec (clang).
FUZZ_SECS ?= 300
fuzz:
	tests/fuzz/run.sh $(FUZZ_SECS)
fuzz-ci:
	tests/fuzz/run.sh 10

# Benchmarks (tests/bench/): the driver against LevelDB, RocksDB and SQLite.
#   make bench        every engine, 1,000,000 keys: tables, ratios, targets
#   make bench-scale  this engine alone, 50,000,000 random keys, with the
#                     throughput and RSS of each 10% slice (not in CI)
BENCH_DEPS := /usr/include/leveldb/c.h:libleveldb-dev \
              /usr/include/rocksdb/c.h:librocksdb-dev
BENCH_SRC  := tests/bench/dbbench.c tests/bench/capi.c tests/bench/sqlapi.c
BENCH_OBJ  := $(BENCH_SRC:%.c=$(B)/%.o)
BENCH_BIN  := $(B)/bench/dbbench

.PHONY: bench bench-scale bench-deps
bench-deps:
	$(call install_missing,$(BENCH_DEPS))

$(BENCH_OBJ): | bench-deps

# -rdynamic: the driver's fsync/fdatasync wrappers (which count calls)
# must also bind the shared libraries and the extension it loads.
$(BENCH_BIN): $(BENCH_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALLFLAGS) -rdynamic -o $@ $^ -lleveldb -lrocksdb -lsqlite3 $(LIBS)

bench: all $(BENCH_BIN)
	DBBENCH=$(BENCH_BIN) tests/bench/run.sh --ext=$(abspath $(EXT))

bench-scale: all $(BENCH_BIN)
	DBBENCH=$(BENCH_BIN) tests/bench/run.sh --engines=lsm \
	  --benchmarks=fillrandom --num=50000000 --slices=10 --ext=$(abspath $(EXT))

clean:
	rm -rf build lsm/liblsm.a lsmvtab.so lsm/tools/lsmtool

-include $(shell find $(B) -name '*.d' 2>/dev/null)
