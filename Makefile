# SPDX-License-Identifier: MIT
# Build libprestanda.so (the preload) and prestanda (the analyzer); run tests, demo and benchmarks.

PREFIX ?= /usr/local
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# `prestanda --version`: this number, and the commit when built from git.
VERSION := 0.1.0
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null)
FULL_VERSION := $(VERSION)$(if $(GIT_REV), (git $(GIT_REV)))
CC ?= cc
CXX ?= c++
B := build

WARN := -Wall -Wextra -Werror
CFLAGS := -O2 -g $(WARN) -std=gnu11 -Icommon $(EXTRA_CFLAGS)

PRELOAD_SRC := $(wildcard preload/*.c)
# The settings table and the budget check are shared with the analyzer (two
# builds of one file); the JSON config is read by run, so no JSON library here.
PRELOAD_COMMON := options limit
PRELOAD_OBJ := $(PRELOAD_SRC:%.c=$(B)/%.o) $(PRELOAD_COMMON:%=$(B)/preload/common_%.o)
PRELOAD_CFLAGS := $(CFLAGS) -fPIC -fvisibility=hidden -ftls-model=initial-exec -D_GNU_SOURCE
PRELOAD_LIBS := -Wl,--version-script=preload/exports.map -Wl,-z,now -lunwind -ldl -lpthread -lm -lzstd

# The analyzer, a folder per stage (docs/HOUSE.md), and what it shares in common/.
ANALYZER_DIRS := read symbolize families findings output diff attach cli
ANALYZER_SRC := $(foreach d,$(ANALYZER_DIRS),$(wildcard analyzer/$(d)/*.c)) $(wildcard common/*.c)
ANALYZER_HDR := $(foreach d,$(ANALYZER_DIRS),$(wildcard analyzer/$(d)/*.h)) $(wildcard common/*.h)
ANALYZER_INC := $(foreach d,$(ANALYZER_DIRS),-Ianalyzer/$(d))
# pprof's profile.proto, compiled to C by protoc-c at build time.
PROTO_C := $(B)/proto/profile.pb-c.c
PROTO_OBJ := $(B)/proto/profile.pb-c.o
ANALYZER_OBJ := $(ANALYZER_SRC:%.c=$(B)/%.o) $(PROTO_OBJ)
# record_cmd.o calls into bpf/, which the suites do not link.
ANALYZER_LIB_OBJ := $(filter-out $(B)/analyzer/cli/main.o $(B)/analyzer/cli/record_cmd.o,$(ANALYZER_OBJ))
# Sanitizers for the analyzer and the tests only (make check-asan): never for
# the preload, which enters programs the sanitizer runtime cannot come first in.
SANITIZE ?=
ANALYZER_CFLAGS := $(CFLAGS) $(SANITIZE) -D_GNU_SOURCE $(ANALYZER_INC) -I$(B)/proto
# libcurl is not linked: push opens it at its first push (output/push_curl.c),
# so that no other command pays for loading it and its thirty libraries.
ANALYZER_LIBS := -ldw -lelf -ljansson -lstdc++ -lm -lprotobuf-c -lz -lyaml -lzstd -ldl -lpthread

# eBPF (`prestanda record`): built only where clang, bpftool, libbpf and the
# kernel's BTF are all present; elsewhere `record` says it was built without.
BPF_CLANG ?= clang
BPFTOOL ?= $(or $(shell command -v bpftool 2>/dev/null),$(wildcard /usr/sbin/bpftool))
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
HAVE_BPF ?= $(shell command -v $(BPF_CLANG) >/dev/null 2>&1 && [ -n "$(BPFTOOL)" ] && \
	pkg-config --exists libbpf 2>/dev/null && [ -r $(VMLINUX_BTF) ] && echo 1)
BPF_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
ifeq ($(HAVE_BPF),1)
RECORD_SRC := bpf/record.c bpf/procmaps.c bpf/ksyms.c bpf/trace_write.c bpf/record_metrics.c
RECORD_LIBS := $(shell pkg-config --libs libbpf)
BPF_SKELS := $(B)/bpf/profile.skel.h $(B)/bpf/offcpu.skel.h
else
RECORD_SRC := bpf/record_none.c
endif
RECORD_OBJ := $(RECORD_SRC:%.c=$(B)/%.o)

# Tests: tests/test_*.c are Criterion suites; tests/targets/ are the programs they run.
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(B)/tests/%)
TARGET_C := $(wildcard tests/targets/*.c)
TARGET_CXX := $(wildcard tests/targets/*.cc)
TARGET_BIN := $(patsubst tests/targets/%.c,$(B)/targets/%,$(filter-out tests/targets/lib%,$(TARGET_C))) \
	$(TARGET_CXX:tests/targets/%.cc=$(B)/targets/%) \
	$(patsubst tests/targets/%.c,$(B)/targets/%.so,$(filter tests/targets/lib%,$(TARGET_C)))
# diff_work built again with its lines shifted, as a second build of the same code.
TARGET_BIN += $(B)/targets/diff_work_shifted $(B)/targets/rel_own_tcmalloc
# attach_phases linked statically: what `prestanda attach` refuses.
TARGET_BIN += $(B)/targets/attach_phases_static
# cpu_split stripped of its symbol tables (its .eh_frame kept), as shipped binaries are.
TARGET_BIN += $(B)/targets/cpu_split_stripped
# Targets keep their frames and lines exactly as written.
TARGET_CFLAGS := -O1 -g -fno-inline -fno-omit-frame-pointer -fno-optimize-sibling-calls -Wall
# CPU targets are built as most distribution packages are: without frame pointers.
CPU_TARGET_CFLAGS := -O1 -g -fno-inline -fomit-frame-pointer -fno-optimize-sibling-calls -Wall

.PHONY: all format-doc deps test test-bins test-long fuzz check check-asan check-tsan coverage mutate demo bench install uninstall man clean format
.DELETE_ON_ERROR:

all: $(B)/libprestanda.so $(B)/prestanda

$(B)/preload/%.o: preload/%.c $(wildcard preload/*.h common/*.h) | $(B)/preload
	$(CC) $(PRELOAD_CFLAGS) -c $< -o $@

$(B)/preload/common_%.o: common/%.c common/%.h | $(B)/preload
	$(CC) $(PRELOAD_CFLAGS) -c $< -o $@

$(B)/libprestanda.so: $(PRELOAD_OBJ) preload/exports.map
	$(CC) -shared -o $@ $(PRELOAD_OBJ) $(PRELOAD_LIBS)

$(B)/analyzer/%.o: analyzer/%.c $(ANALYZER_HDR)
	@mkdir -p $(@D)
	$(CC) $(ANALYZER_CFLAGS) -c $< -o $@
$(B)/common/%.o: common/%.c $(ANALYZER_HDR)
	@mkdir -p $(@D)
	$(CC) $(ANALYZER_CFLAGS) -c $< -o $@

$(B)/analyzer/output/flame_pprof.o: $(PROTO_C)
# The page of `report --html` carries its script and style sheet, which
# html_assets.c includes (.incbin) into the program.
$(B)/analyzer/output/html_assets.o: analyzer/output/html_page.js analyzer/output/html_page.css
$(B)/analyzer/cli/main.o: ANALYZER_CFLAGS += -DPST_VERSION='"$(FULL_VERSION)"'

$(B)/proto/%.pb-c.c $(B)/proto/%.pb-c.h: analyzer/output/%.proto | $(B)/proto
	protoc-c --c_out=$(B)/proto -Ianalyzer/output $<

$(PROTO_OBJ): $(PROTO_C)
	$(CC) $(ANALYZER_CFLAGS) -Wno-unused-parameter -c $< -o $@

$(B)/prestanda: $(ANALYZER_OBJ) $(RECORD_OBJ)
	$(CC) $(SANITIZE) -o $@ $(ANALYZER_OBJ) $(RECORD_OBJ) $(RECORD_LIBS) $(ANALYZER_LIBS)

# docs/FORMAT.md's record tables, printed from common/records.h.
$(B)/prestanda-format-doc: analyzer/read/format_doc.c $(ANALYZER_HDR)
	$(CC) $(ANALYZER_CFLAGS) -DPST_FORMAT_DOC_MAIN -o $@ $<
format-doc: $(B)/prestanda-format-doc
	@$(B)/prestanda-format-doc

$(B)/bpf/vmlinux.h: | $(B)/bpf
	$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@

$(B)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(B)/bpf/vmlinux.h
	$(BPF_CLANG) -g -O2 -Wall -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -I$(B)/bpf -Ibpf -c $< -o $@

%.skel.h: %.bpf.o
	$(BPFTOOL) gen skeleton $< > $@

$(B)/bpf/%.o: bpf/%.c $(wildcard bpf/*.h) $(ANALYZER_HDR) $(BPF_SKELS) | $(B)/bpf
	$(CC) $(ANALYZER_CFLAGS) -Ibpf -I$(B)/bpf -c $< -o $@

# Unit tests link the analyzer, and the preload's self-contained parts.
PRELOAD_UNIT_OBJ := $(B)/preload/stacktab.o
$(B)/tests/%: tests/%.c $(ANALYZER_LIB_OBJ) $(PRELOAD_UNIT_OBJ) $(wildcard tests/*.h) | $(B)/tests
	$(CC) $(ANALYZER_CFLAGS) -DPST_BUILD_DIR='"$(B)"' -Itests -Ipreload -o $@ $< $(ANALYZER_LIB_OBJ) $(PRELOAD_UNIT_OBJ) \
		-lcriterion $(ANALYZER_LIBS) -lpthread

$(B)/targets/lib%.so: tests/targets/lib%.c | $(B)/targets
	$(CC) $(TARGET_CFLAGS) -fPIC -shared -o $@ $<

$(B)/targets/%: tests/targets/%.c | $(B)/targets
	$(CC) $(TARGET_CFLAGS) -o $@ $< -ldl -lpthread

$(B)/targets/diff_work_shifted: tests/targets/diff_work.c | $(B)/targets
	$(CC) $(TARGET_CFLAGS) -DSHIFT_LINES -o $@ $<
$(B)/targets/cpu_split_stripped: $(B)/targets/cpu_split
	objcopy --strip-all $< $@
$(B)/targets/cpu_%: tests/targets/cpu_%.c | $(B)/targets
	$(CC) $(CPU_TARGET_CFLAGS) -o $@ $< -lpthread

# A static binary (no preload possible) and two linked against an allocator
# of their own (Debian's libjemalloc2 and libtcmalloc-minimal4, linked by
# path: they ship no development link).
$(B)/targets/attach_phases_static: tests/targets/attach_phases.c | $(B)/targets
	$(CC) $(TARGET_CFLAGS) -static -o $@ $<
$(B)/targets/rel_static: tests/targets/rel_static.c | $(B)/targets
	$(CC) $(TARGET_CFLAGS) -static -o $@ $<
JEMALLOC_SO ?= $(firstword $(wildcard /usr/lib/*-linux-gnu/libjemalloc.so.2 /usr/lib/libjemalloc.so.2))
TCMALLOC_SO ?= $(firstword $(wildcard /usr/lib/*-linux-gnu/libtcmalloc_minimal.so.4 /usr/lib/libtcmalloc_minimal.so.4))
$(B)/targets/rel_own_malloc: tests/targets/rel_own_malloc.c | $(B)/targets
	$(CC) $(TARGET_CFLAGS) -o $@ $< $(JEMALLOC_SO)
$(B)/targets/rel_own_tcmalloc: tests/targets/rel_own_malloc.c | $(B)/targets
	$(CC) $(TARGET_CFLAGS) -DTCMALLOC -o $@ $< $(TCMALLOC_SO)

$(B)/targets/%: tests/targets/%.cc | $(B)/targets
	$(CXX) $(TARGET_CFLAGS) -o $@ $<

$(B)/preload $(B)/bpf $(B)/tests $(B)/targets $(B)/proto:
	mkdir -p $@

# Installs the Debian packages the build and tests need, once.
deps: $(B)/.deps
$(B)/.deps: scripts/install-deps.sh
	scripts/install-deps.sh
	mkdir -p $(B) && touch $@

test: deps
	scripts/mutate.sh --check
	$(MAKE) test-bins
	scripts/js-deps.sh
	scripts/run-tests.sh $(TEST_BIN)

test-bins: all $(TEST_BIN) $(TARGET_BIN)

# The analyzer and the suites built with ASan and UBSan in their own build
# directory, and run; the preload and the targets are built as usual.
ASAN_B := build-asan
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
	-fsanitize-recover=nonnull-attribute
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan.supp \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$(CURDIR)/scripts/ubsan.supp
check-asan: deps
	$(MAKE) B=$(ASAN_B) SANITIZE="$(ASAN_FLAGS)" test-bins
	scripts/js-deps.sh
	$(ASAN_ENV) scripts/run-tests.sh $(TEST_BIN:$(B)/%=$(ASAN_B)/%)

# Line and branch coverage (gcovr) of every suite's run, per folder, from a
# --coverage build in its own directory. The preload links libgcov too: each
# preloaded program writes the preload's counters when it exits.
COV_B := build-cov
COV_FLAGS := --coverage
coverage: deps
	$(MAKE) B=$(COV_B) EXTRA_CFLAGS="$(COV_FLAGS)" SANITIZE="$(COV_FLAGS)" \
		PRELOAD_LIBS="$(PRELOAD_LIBS) $(COV_FLAGS)" test-bins
	scripts/js-deps.sh
	scripts/coverage.sh $(COV_B) $(TEST_BIN:$(B)/%=$(COV_B)/%)

# Mutation testing (not in CI: some 20 minutes): each mutant of
# scripts/mutants.txt planted in turn, its suite run, the file restored.
mutate: deps
	scripts/js-deps.sh
	scripts/mutate.sh scripts/mutants.txt

# The preload's lock-free stack table under ThreadSanitizer: its Criterion
# suite, run in-process (TSan cannot start Criterion's forking runner).
TSAN_B := build-tsan
check-tsan: | $(TSAN_B)
	$(CC) -O1 -g -fsanitize=thread $(WARN) -std=gnu11 -D_GNU_SOURCE -Itests/tsan -Icommon -Ipreload \
		-o $(TSAN_B)/test_stacktab tests/test_stacktab.c tests/tsan/main.c preload/stacktab.c -lpthread
	TSAN_OPTIONS=halt_on_error=1 $(TSAN_B)/test_stacktab

$(TSAN_B):
	mkdir -p $@

# Longer checks: python3.11's regression tests bare and preloaded (about
# two minutes).
test-long: deps
	$(MAKE) all
	scripts/transparency-python.sh

fuzz: deps
	$(MAKE) all
	scripts/fuzz-reader.sh 60

check: test

demo: deps
	$(MAKE) all
	scripts/demo.sh

bench: deps
	$(MAKE) all
	scripts/bench.sh

# Man pages made from the commands' own --help text (scripts/gen-man.sh), so
# they say what the program does.
COMMANDS := run record report diff flame attach scan
MAN_PAGES := $(B)/man/prestanda.1 $(COMMANDS:%=$(B)/man/prestanda-%.1)

man: $(MAN_PAGES)

$(B)/man/%.1: $(B)/prestanda scripts/gen-man.sh
	@mkdir -p $(@D)
	scripts/gen-man.sh $(B)/prestanda $* '$(FULL_VERSION)' > $@

install: all man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/prestanda
	install -m 0755 $(B)/prestanda $(DESTDIR)$(PREFIX)/bin/prestanda
	install -m 0755 $(B)/libprestanda.so $(DESTDIR)$(PREFIX)/lib/prestanda/libprestanda.so
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 $(MAN_PAGES) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 completion/prestanda.bash $(DESTDIR)$(BASHCOMPDIR)/prestanda

# What install put there, and the directory of the preload when empty.
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/prestanda $(DESTDIR)$(PREFIX)/lib/prestanda/libprestanda.so
	rm -f $(MAN_PAGES:$(B)/man/%=$(DESTDIR)$(MANDIR)/man1/%)
	rm -f $(DESTDIR)$(BASHCOMPDIR)/prestanda
	-rmdir $(DESTDIR)$(PREFIX)/lib/prestanda 2>/dev/null

format:
	clang-format -i $(PRELOAD_SRC) $(ANALYZER_SRC) $(wildcard bpf/*.c bpf/*.h preload/*.h) $(ANALYZER_HDR)

clean:
	rm -rf $(B) $(ASAN_B) $(TSAN_B) $(COV_B) build-mut
