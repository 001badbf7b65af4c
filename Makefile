# strand: build, test, demo. Quiet unless V=1.
#
#   make            build ./strand
#   make demo       install missing packages, build, trace the bundled demo
#   make test       install missing packages, build, run every test (ASan+UBSan build)
#   make install    put strand in $(PREFIX)/bin

PREFIX   ?= /usr/local
OUT      := build
CC       ?= cc
CLANG    ?= clang
BPFTOOL  ?= bpftool
ARCH     := x86
NPROC    := $(shell nproc 2>/dev/null || echo 2)

ifeq ($(V),1)
Q :=
msg = @mkdir -p $(@D);
else
Q := @
msg = @mkdir -p $(@D); printf '  %-8s %s\n' "$(1)" "$(2)";
endif

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS   ?= -g -O2
USER_CFLAGS := $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -I$(OUT) -Ibpf -Iuser
# the C++ runtime for its demangler, by its runtime library's name: no -dev package needed;
# libyaml and libcrypt (bcrypt) for the daemon's web configuration file, GnuTLS (under
# libmicrohttpd's TLS) to verify its clients' certificates
LDLIBS   := -lbpf -lelf -ldw -lz -lcapstone -ljansson -lmicrohttpd -lgnutls -lyaml -lcrypt \
	    -l:libstdc++.so.6
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_HDRS  := bpf/strand.h $(wildcard bpf/*.bpf.h)
SKELS     := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
USER_SRCS := $(wildcard user/*/*.c user/*/*/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUT)/user/%.o,$(USER_SRCS))
ASAN_OBJS := $(patsubst user/%.c,$(OUT)/asan/%.o,$(USER_SRCS))
LIB_OBJS  := $(filter-out $(OUT)/user/cli/main.o,$(USER_OBJS))
ASAN_LIB_OBJS := $(filter-out $(OUT)/asan/cli/main.o,$(ASAN_OBJS))

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps demo test unit targets install clean format format-check bench check-go-targets \
	go-fixtures

all: strand

# --- BPF: clang -> bpftool gen object -> bpftool gen skeleton -----------------------------
$(OUT)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) vmlinux/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Ivmlinux -Ibpf \
		-Wall -Werror -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# --- user space: each object depends on the headers its compile read (-MMD); the skeletons
# are made before the first compile, which then names those it included ---------------------
DEP_FLAGS := -MMD -MP

$(OUT)/user/%.o: user/%.c | $(SKELS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(DEP_FLAGS) -c $< -o $@

$(OUT)/asan/%.o: user/%.c | $(SKELS)
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(SAN_FLAGS) $(DEP_FLAGS) -c $< -o $@

strand: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUT)/strand-asan: $(ASAN_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $^ $(LDLIBS) -o $@

# --- test targets: each C target built twice, as Debian builds (no frame pointers) and with
# frame pointers, so unwinding is tested both ways ------------------------------------------
TARGET_SRCS := $(filter-out tests/targets/spawnlib.c,$(wildcard tests/targets/*.c))
TARGET_BINS := $(patsubst tests/targets/%.c,$(OUT)/targets/%,$(TARGET_SRCS)) \
	       $(patsubst tests/targets/%.c,$(OUT)/targets/%-fp,$(TARGET_SRCS))
TARGET_CFLAGS := -g -O2 -Wall -Wextra -Werror -pthread

$(OUT)/targets/libspawnlib.so: tests/targets/spawnlib.c tests/targets/spawnlib.h
	$(call msg,CC,$@)
	$(Q)gcc $(TARGET_CFLAGS) -fPIC -shared $< -o $@
$(OUT)/targets/libspawnlib-fp.so: tests/targets/spawnlib.c tests/targets/spawnlib.h
	$(call msg,CC,$@)
	$(Q)gcc $(TARGET_CFLAGS) -fno-omit-frame-pointer -fPIC -shared $< -o $@

$(OUT)/targets/%: tests/targets/%.c $(wildcard tests/targets/*.h) $(OUT)/targets/libspawnlib.so
	$(call msg,CC,$@)
	$(Q)gcc $(TARGET_CFLAGS) -fomit-frame-pointer $< -o $@ -L$(OUT)/targets -lspawnlib \
		-Wl,-rpath,'$$ORIGIN'
$(OUT)/targets/%-fp: tests/targets/%.c $(wildcard tests/targets/*.h) $(OUT)/targets/libspawnlib-fp.so
	$(call msg,CC,$@)
	$(Q)gcc $(TARGET_CFLAGS) -fno-omit-frame-pointer $< -o $@ -L$(OUT)/targets -lspawnlib-fp \
		-Wl,-rpath,'$$ORIGIN'

# --- Go targets: each program is a directory tests/targets/go/PROG of package main files,
# built plain, PIE, stripped and with cgo (CGO_ENABLED=1: dynamically linked, its threads made
# by pthread_create); GOPATH mode builds a relative directory --------------------------------
GO       ?= /usr/lib/go-1.19/bin/go
GO_ENV_ANY := GOCACHE=$(abspath $(OUT)/gocache) GOPATH=$(abspath $(OUT)/gopath) \
	      GO111MODULE=off GOFLAGS=
GO_ENV   := $(GO_ENV_ANY) CGO_ENABLED=0
GO_PROGS := $(sort $(patsubst tests/targets/go/%/,%,$(dir $(wildcard tests/targets/go/*/*.go))))
GO_TARGET_BINS := $(foreach v,"" -pie -stripped -cgo,$(patsubst %,$(OUT)/targets/go/%$(subst ",,$(v)),$(GO_PROGS)))

# A program's prerequisites are its directory's .go files (the stem is the program's name).
.SECONDEXPANSION:
GO_PROG_SRCS = $$(wildcard tests/targets/go/$$*/*.go)

$(OUT)/targets/go/%: $(GO_PROG_SRCS)
	$(call msg,GO,$@)
	$(Q)$(GO_ENV) $(GO) build -o $@ ./tests/targets/go/$*
$(OUT)/targets/go/%-pie: $(GO_PROG_SRCS)
	$(call msg,GO,$@)
	$(Q)$(GO_ENV) $(GO) build -buildmode=pie -o $@ ./tests/targets/go/$*
$(OUT)/targets/go/%-stripped: $(GO_PROG_SRCS)
	$(call msg,GO,$@)
	$(Q)$(GO_ENV) $(GO) build -ldflags='-s -w' -o $@ ./tests/targets/go/$*
$(OUT)/targets/go/%-cgo: $(GO_PROG_SRCS)
	$(call msg,GO,$@)
	$(Q)$(GO_ENV_ANY) CGO_ENABLED=1 $(GO) build -o $@ ./tests/targets/go/$*

# Every mode of every Go program against the runtime's own goroutine dump (no strand, no root).
check-go-targets: $(GO_TARGET_BINS)
	$(Q)python3 tests/targets/go/validate.py --variants

# The Go standard library's own tests, compiled: real test suites to run under strand (the
# target must come out unharmed: same results traced and untraced).
GO_STD_TESTS := sync context net/http
GO_STD_TEST_BINS := $(patsubst %,$(OUT)/targets/gostd/%.test,$(GO_STD_TESTS))
$(OUT)/targets/gostd/%.test:
	$(call msg,GO-TEST,$@)
	$(Q)mkdir -p $(@D) && $(GO_ENV) $(GO) test -c -o $@ $*

# Test packages of tests/gotest compiled, to run alone and attach to (test_go_deadlock.py)
GO_TEST_PKGS := deadlocks
GO_TEST_PKG_BINS := $(patsubst %,$(OUT)/targets/gotest/%.test,$(GO_TEST_PKGS))
$(OUT)/targets/gotest/%.test: tests/gotest/%/*_test.go
	$(call msg,GO-TEST,$@)
	$(Q)mkdir -p $(@D) && $(GO_ENV) $(GO) test -c -o $@ ./tests/gotest/$*

# Java services for the real-server tests (tests/servers): javac from openjdk-17-jdk-headless
JAVA_SRCS := $(wildcard tests/targets/java/*.java)
JAVA_CLASSES := $(patsubst tests/targets/java/%.java,$(OUT)/targets/java/%.class,$(JAVA_SRCS))
$(OUT)/targets/java/%.class: tests/targets/java/%.java
	$(call msg,JAVAC,$@)
	$(Q)mkdir -p $(@D) && javac -d $(@D) $<

targets: $(TARGET_BINS) $(GO_TARGET_BINS) $(GO_STD_TEST_BINS) $(GO_TEST_PKG_BINS) $(JAVA_CLASSES)

# --- benchmarks ----------------------------------------------------------------------------
BENCH_BINS := $(patsubst bench/%.c,$(OUT)/bench/%,$(filter-out %.bpf.c,$(wildcard bench/*.c))) \
	      $(patsubst bench/go/%.go,$(OUT)/bench/%,$(wildcard bench/go/*.go))

# the floor: empty programs on strand's hooks, found by strand's own code (bench/floor.c)
$(OUT)/floor.bpf.o: bench/floor.bpf.c vmlinux/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Ivmlinux \
		-Wall -Werror -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp
$(OUT)/bench/floor: bench/floor.c $(OUT)/floor.skel.h $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) $< $(LIB_OBJS) $(LDLIBS) -o $@

$(OUT)/bench/%: bench/%.c
	$(call msg,CC,$@)
	$(Q)gcc -O2 -Wall -Wextra -Werror -pthread $< -o $@
$(OUT)/bench/%: bench/go/%.go
	$(call msg,GO,$@)
	$(Q)$(GO_ENV) $(GO) build -o $@ $<

bench: deps
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) strand $(BENCH_BINS)
	$(Q)python3 bench/run.py
	$(Q)python3 bench/scale.py

# --- unit tests (no kernel needed), always under ASan+UBSan --------------------------------
UNIT_SRCS := $(shell find tests/unit -name 'test_*.c')
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/unit/%,$(UNIT_SRCS))

$(OUT)/unit/%: tests/unit/%.c $(ASAN_LIB_OBJS)
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(SAN_FLAGS) $(DEP_FLAGS) -MT $@ -MF $@.d -Itests/unit $< \
		$(ASAN_LIB_OBJS) $(UNIT_EXTRA) $(LDLIBS) -o $@

# test_python's check of sym/python.h's offsets against CPython's own headers
# (libpython3.11-dev), in a file of its own: Python.h must come first, and defines much. Built
# without them too, to fail saying so; python_headers says which, and changes when they come
# or go (their files keep the package's old times: no newer than an object made before).
PY_INCLUDE := /usr/include/python3.11
PY_HEADERS := $(if $(wildcard $(PY_INCLUDE)/internal/pycore_frame.h),found,absent)
$(OUT)/unit/sym/python_headers: python-headers-check
	$(Q)mkdir -p $(@D) && [ "$$(cat $@ 2>/dev/null)" = $(PY_HEADERS) ] || echo $(PY_HEADERS) > $@
$(OUT)/unit/sym/python_layout.o: tests/unit/sym/python_layout.c $(OUT)/unit/sym/python_headers
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(USER_CFLAGS) $(SAN_FLAGS) $(DEP_FLAGS) -Itests/unit -I$(PY_INCLUDE) \
		-DPy_BUILD_CORE -c $< -o $@
$(OUT)/unit/sym/test_python: $(OUT)/unit/sym/python_layout.o
$(OUT)/unit/sym/test_python: UNIT_EXTRA = $(OUT)/unit/sym/python_layout.o
.PHONY: python-headers-check

# Go programs the unit tests read and run, built with Go's inlining on: plain, PIE, stripped,
# and PIE linked by gcc (as with cgo: the table has no section of its own)
UNIT_GO_SRCS := $(wildcard tests/unit/go/*.go)
UNIT_GO_BINS := $(foreach v,"" -pie -stripped -extpie,$(patsubst tests/unit/go/%.go,$(OUT)/unit/go/%$(subst ",,$(v)),$(UNIT_GO_SRCS)))

$(OUT)/unit/go/%: tests/unit/go/%.go
	$(call msg,GO,$@)
	$(Q)$(GO_ENV) $(GO) build -o $@ $<
$(OUT)/unit/go/%-pie: tests/unit/go/%.go
	$(call msg,GO,$@)
	$(Q)$(GO_ENV) $(GO) build -buildmode=pie -o $@ $<
$(OUT)/unit/go/%-stripped: tests/unit/go/%.go
	$(call msg,GO,$@)
	$(Q)$(GO_ENV) $(GO) build -ldflags='-s -w' -o $@ $<
$(OUT)/unit/go/%-extpie: tests/unit/go/%.go
	$(call msg,GO,$@)
	$(Q)$(GO_ENV) CGO_ENABLED=1 $(GO) build -buildmode=pie -ldflags=-linkmode=external -o $@ $<

unit: $(UNIT_BINS) $(UNIT_GO_BINS)

# Newer Go binaries for the tests, stripped: esbuild as npm ships it (Go 1.20.4, 1.22.4,
# 1.23.1, 1.25.4, 1.26.5), fetched once by make test; test_gopclntab and the BPF tests of a
# Go release newer than Debian's need them.
GO_FIXTURE_ESBUILD := 0.17.19 0.23.0 0.24.0 0.27.0 0.28.2
ESBUILD = $(OUT)/unit/npm/$(1)/node_modules/@esbuild/linux-x64/bin/esbuild

$(call ESBUILD,%):
	$(call msg,NPM,@esbuild/linux-x64@$*)
	$(Q)d=$(OUT)/unit/npm/$*; mkdir -p $$d && echo '{}' > $$d/package.json && \
		npm install --prefix $$d --no-save --silent @esbuild/linux-x64@$* && touch $@

# and buf (Go 1.27.3), whose language server reads its standard input as esbuild does
GO_FIXTURE_BUF := 1.75.0
BUF = $(OUT)/unit/npm-buf/$(1)/node_modules/@bufbuild/buf-linux-x64/bin/buf

$(call BUF,%):
	$(call msg,NPM,@bufbuild/buf-linux-x64@$*)
	$(Q)d=$(OUT)/unit/npm-buf/$*; mkdir -p $$d && echo '{}' > $$d/package.json && \
		npm install --prefix $$d --no-save --silent @bufbuild/buf-linux-x64@$* && touch $@

# and lefthook (Go 1.27.4): its only channel wait a select, an iter.Pull coroutine among its gs
GO_FIXTURE_LEFTHOOK := 2.2.4
LEFTHOOK = $(OUT)/unit/npm-lefthook/$(1)/node_modules/lefthook-linux-x64/bin/lefthook

$(call LEFTHOOK,%):
	$(call msg,NPM,lefthook-linux-x64@$*)
	$(Q)d=$(OUT)/unit/npm-lefthook/$*; mkdir -p $$d && echo '{}' > $$d/package.json && \
		npm install --prefix $$d --no-save --silent lefthook-linux-x64@$* && touch $@

go-fixtures: $(foreach v,$(GO_FIXTURE_ESBUILD),$(call ESBUILD,$(v))) \
	$(foreach v,$(GO_FIXTURE_BUF),$(call BUF,$(v))) \
	$(foreach v,$(GO_FIXTURE_LEFTHOOK),$(call LEFTHOOK,$(v)))

# --- the two commands of the README ---------------------------------------------------------
deps:
	$(Q)scripts/deps.sh

test: deps
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) $(OUT)/strand-asan targets unit go-fixtures \
		fuzz-bins
	$(Q)python3 tests/run.py --strand $(OUT)/strand-asan $(TESTS)

demo: deps
	$(Q)$(MAKE) --no-print-directory strand targets
	$(Q)scripts/demo.sh

install: strand
	install -D -m 0755 strand $(DESTDIR)$(PREFIX)/bin/strand

FORMAT_SRCS = bpf/*.c bpf/*.h $(shell find user tests/unit -name '*.[ch]') tests/targets/*.c \
	tests/fuzz/*.c bench/*.c

format:
	clang-format -i $(FORMAT_SRCS)

format-check:
	clang-format --dry-run -Werror $(FORMAT_SRCS)

clean:
	rm -rf $(OUT) strand

# --- fuzzing with clang's libFuzzer: each tests/fuzz/fuzz_NAME.c runs for FUZZ_TIME (seconds,
# "30" or "30s"), from the seeds in tests/fuzz/corpus/fuzz_NAME; what it finds is kept in
# build/fuzz/corpus/fuzz_NAME, a crash in ./crash-*. `make fuzz-NAME` runs one. ---------------
FUZZ_TIME ?= 30s
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRCS))
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
# strand's code for the targets: every object but main's, instrumented, in an archive; a target
# links what its entry point reaches (the linker takes an archive's members as needed)
FUZZ_LIB_FLAGS := $(subst fuzzer,fuzzer-no-link,$(FUZZ_FLAGS))
FUZZ_LIB_OBJS := $(patsubst user/%.c,$(OUT)/fuzz/obj/%.o,$(filter-out user/cli/main.c,$(USER_SRCS)))

$(OUT)/fuzz/obj/%.o: user/%.c | $(SKELS)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_LIB_FLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -I$(OUT) -Iuser -Ibpf \
		$(DEP_FLAGS) -c $< -o $@
$(OUT)/fuzz/libstrand.a: $(FUZZ_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUT)/fuzz/%: tests/fuzz/%.c $(OUT)/fuzz/libstrand.a
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_FLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -Iuser -Ibpf $(DEP_FLAGS) \
		-MT $@ -MF $@.d $< $(OUT)/fuzz/libstrand.a $(LDLIBS) -o $@

# Seeds made from binaries built here, in $(OUT)/fuzz/seeds/NAME (binaries are not
# committed): the .gopclntab reader's include whole Go ELF images (first byte: the mode);
# the ELF reader's C and Go programs, a library, stripped copies and truncated ones, and
# Debian's own gofmt and libc.
GO_ROOT_BIN := $(dir $(GO))
LIBC_SO := $(firstword $(wildcard /lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/libc.so.6))
$(OUT)/fuzz/seeds/fuzz_pclntab/.elf: $(OUT)/unit/go/goinline-stripped $(OUT)/unit/go/goinline-extpie
	$(Q)mkdir -p $(@D) && for b in goinline-stripped goinline-extpie; do \
		{ printf '\001'; cat $(OUT)/unit/go/$$b; } > $(@D)/elf-$$b; done && touch $@
$(OUT)/fuzz/seeds/fuzz_elf/.elf: $(OUT)/targets/waits $(OUT)/targets/libspawnlib.so \
		$(OUT)/unit/go/goinline $(OUT)/unit/go/goinline-stripped
	$(Q)mkdir -p $(@D) && cp $^ $(@D)/ && strip --strip-all -o $(@D)/waits-strip-all $< && \
	cp $(GO_ROOT_BIN)/gofmt $(@D)/debian-gofmt && cp $(LIBC_SO) $(@D)/debian-libc.so.6 && \
	for n in 64 1024 16384; do head -c $$n $< > $(@D)/waits-head-$$n; done && touch $@
$(OUT)/fuzz/seeds/fuzz_symbolize/.elf: $(OUT)/fuzz/seeds/fuzz_elf/.elf
	$(Q)mkdir -p $(@D) && cp $(<D)/waits $(<D)/waits-strip-all $(<D)/libspawnlib.so \
		$(<D)/goinline $(<D)/waits-head-16384 $(@D)/ && touch $@
$(OUT)/fuzz/seeds/%/.elf:
	$(Q)mkdir -p $(@D) && touch $@

FUZZ_RUNS := $(addprefix fuzz-,$(patsubst fuzz_%,%,$(FUZZ_NAMES)))
.PHONY: fuzz fuzz-bins $(FUZZ_RUNS)
# the targets and their seeds: `make test` replays every seed (tests/run.py)
fuzz-bins: $(addprefix $(OUT)/fuzz/,$(FUZZ_NAMES)) $(patsubst %,$(OUT)/fuzz/seeds/%/.elf,$(FUZZ_NAMES))
fuzz: $(FUZZ_RUNS)
$(FUZZ_RUNS): fuzz-%: $(OUT)/fuzz/fuzz_% $(OUT)/fuzz/seeds/fuzz_%/.elf
	$(Q)name=fuzz_$*; printf '  %-8s %s for %s\n' FUZZ $$name $(FUZZ_TIME); mkdir -p $(OUT)/fuzz/corpus/$$name; \
	$< -max_total_time=$(patsubst %s,%,$(FUZZ_TIME)) -print_final_stats=1 -max_len=16777216 \
		$(OUT)/fuzz/corpus/$$name tests/fuzz/corpus/$$name $(OUT)/fuzz/seeds/$$name \
		2>$(OUT)/fuzz/$$name.log || \
		{ tail -40 $(OUT)/fuzz/$$name.log; exit 1; }; \
	grep -E '^(stat::number_of_executed_units|#[0-9]+.*DONE)' $(OUT)/fuzz/$$name.log

# the headers each object, unit test and fuzz target was compiled from
-include $(shell find $(OUT)/user $(OUT)/asan $(OUT)/unit $(OUT)/fuzz -name '*.d' 2>/dev/null)
