# rds-nlb-sync. `make` builds ./bootstrap and build/sigv4; `make check` runs every test.
# Targets and their promises: README.md ("Development").

VERSION := 0.1.0
CC      ?= cc
BUILD   ?= build
PYTHON  ?= /usr/bin/python3
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)

CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
           -Wmissing-prototypes -Wvla -Wformat=2 -Wno-format-nonliteral
ALL_CPPFLAGS = -I. -D_GNU_SOURCE -DRNS_VERSION='"$(VERSION)"' $(CPPFLAGS)
ALL_CFLAGS   = -std=c11 $(WARN) $(CFLAGS)
LDLIBS  ?= -lcurl -ljansson -lexpat -lssl -lcrypto

# Libraries, each linked only on those below it (README.md, Development):
#   libcommon <- libsigv4 <- libaws <- libsync <- bootstrap, and
#   libcommon <- libruntime <- bootstrap (only handler/main.c uses the runtime)
# Every .c of a folder is library code, except the *main.c entry points. The
# source lists may be overridden on the command line to build one module alone.
COMMON_SRC  ?= $(wildcard common/*.c)
SIGV4_SRC   ?= $(filter-out %main.c,$(wildcard sigv4/*.c))
RUNTIME_SRC ?= $(filter-out %main.c,$(wildcard runtime/*.c))
AWS_SRC     ?= $(wildcard handler/aws/*.c)
SYNC_SRC    ?= $(wildcard handler/sync/*.c)
obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIBCOMMON   := $(BUILD)/libcommon.a
LIBSIGV4    := $(BUILD)/libsigv4.a
LIBRUNTIME  := $(BUILD)/libruntime.a
LIBAWS      := $(BUILD)/libaws.a
LIBSYNC     := $(BUILD)/libsync.a
# What a binary on each layer links, in link order.
SIGV4_LIBS   := $(LIBSIGV4) $(LIBCOMMON)
RUNTIME_LIBS := $(LIBRUNTIME) $(LIBCOMMON)
AWS_LIBS     := $(LIBAWS) $(LIBSIGV4) $(LIBCOMMON)
ALL_LIBS     := $(LIBSYNC) $(LIBAWS) $(LIBSIGV4) $(LIBRUNTIME) $(LIBCOMMON)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_HDRS := $(wildcard tests/unit/*.h)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

.PHONY: all tests asan check test demo package package-x86_64 package-arm64 bench fuzz deps clean distclean \
        format-check layers-check
.DELETE_ON_ERROR:

all: bootstrap $(BUILD)/sigv4

bootstrap: $(BUILD)/bootstrap
	@[ "$(BUILD)" = build ] && cp $< $@ || true

$(BUILD)/bootstrap: $(BUILD)/obj/handler/main.o $(ALL_LIBS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/sigv4: $(BUILD)/obj/sigv4/sigv4_main.o $(SIGV4_LIBS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(LIBCOMMON): $(call obj,$(COMMON_SRC))
$(LIBSIGV4): $(call obj,$(SIGV4_SRC))
$(LIBRUNTIME): $(call obj,$(RUNTIME_SRC))
$(LIBAWS): $(call obj,$(AWS_SRC))
$(LIBSYNC): $(call obj,$(SYNC_SRC))
$(ALL_LIBS):
	@rm -f $@
	$(AR) rcsD $@ $^

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# Tests and tools link only the layer their name starts with (common, log: the
# logger in common/, sigv4, runtime, elb: the AWS layer) and what is below it;
# the rest link everything.
link = @mkdir -p $(@D) && $(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.a,$^) $(LDLIBS)
# (make needs a non-empty stem, hence the exact names beside the patterns)
$(BUILD)/tests/test_common: tests/unit/test_common.c $(UNIT_HDRS) $(LIBCOMMON)
	$(link)
$(BUILD)/tests/test_log: tests/unit/test_log.c $(UNIT_HDRS) $(LIBCOMMON)
	$(link)
# common/ needs libc and jansson only: its tests link without libcurl.
$(BUILD)/tests/test_common $(BUILD)/tests/test_log: LDLIBS = -ljansson
$(BUILD)/tests/test_sigv4: tests/unit/test_sigv4.c $(UNIT_HDRS) $(SIGV4_LIBS)
	$(link)
$(BUILD)/tests/test_sigv4%: tests/unit/test_sigv4%.c $(UNIT_HDRS) $(SIGV4_LIBS)
	$(link)
$(BUILD)/tests/test_runtime%: tests/unit/test_runtime%.c $(UNIT_HDRS) $(RUNTIME_LIBS)
	$(link)
$(BUILD)/tests/test_elbv2: tests/unit/test_elbv2.c $(UNIT_HDRS) $(AWS_LIBS)
	$(link)
$(BUILD)/tests/test_%: tests/unit/test_%.c $(UNIT_HDRS) $(ALL_LIBS)
	$(link)
$(BUILD)/tools/sigv4%: tests/tools/sigv4%.c $(SIGV4_LIBS)
	$(link)
$(BUILD)/tools/runtime%: tests/tools/runtime%.c $(RUNTIME_LIBS)
	$(link)
$(BUILD)/tools/elb_%: tests/tools/elb_%.c $(AWS_LIBS)
	$(link)
$(BUILD)/tools/%: tests/tools/%.c $(ALL_LIBS)
	$(link)

tests: all $(UNIT_BIN) $(TOOL_BIN)

# The same code and tests built with AddressSanitizer and UndefinedBehaviorSanitizer.
asan:
	$(MAKE) BUILD=$(BUILD)/asan CC=clang CFLAGS="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" tests

# The one install step (scripts/deps.sh): Debian packages and the pinned sources.
# Silent when nothing is missing; every target that needs them calls it first.
deps:
	@bash scripts/deps.sh

# TESTS=pattern runs only the suites whose name contains it. The plain build, the
# sanitizer build and both packages are built at once, then the suites run in
# parallel (tests/run.py).
check: deps
	@$(MAKE) --no-print-directory -j$(JOBS) tests asan package-x86_64 package-arm64 format-check layers-check
	@$(PYTHON) tests/run.py --build $(BUILD) $(if $(TESTS),-k '$(TESTS)')

# The edit-compile-test loop: unit tests and the core integration suites.
test: deps
	@$(MAKE) --no-print-directory -j$(JOBS) tests
	@$(PYTHON) tests/run.py --quick --build $(BUILD) $(if $(TESTS),-k '$(TESTS)')

demo: deps
	$(MAKE) all
	@$(PYTHON) tests/lib/netns.py tests/demo.py

package: deps
	@scripts/package.sh $(if $(ARCH),$(ARCH),x86_64)
# '+': scripts/package.sh runs make, which then shares this make's job slots.
package-x86_64 package-arm64:
	+@scripts/package.sh $(@:package-%=%)

bench: deps
	$(MAKE) tests package
	@$(PYTHON) tests/lib/netns.py tests/bench/bench.py

FUZZ_SECONDS ?= 60
fuzz: deps
	@scripts/fuzz.sh $(FUZZ_SECONDS)

# Every C file of the tree in the style of .clang-format.
CLANG_FORMAT ?= clang-format
format-check:
	@find common handler runtime sigv4 tests -name '*.[ch]' | sort | xargs $(CLANG_FORMAT) --dry-run -Werror

# The libraries link, and the folders include, only downward.
layers-check: $(ALL_LIBS)
	@scripts/check-layers.sh $(BUILD)

clean:
	rm -rf build bootstrap

# Also the downloaded sources (make deps fetches them again).
distclean: clean
	rm -rf .cache

-include $(shell find $(BUILD)/obj -name "*.d" 2>/dev/null)
