# swerve: plain GNU make. `make help` lists the targets and knobs.

PREFIX  ?= /usr/local
BUILD   ?= build
# The release, from the VERSION file; the tools also report the commit
# (scripts/version.sh).
VERSION := $(shell cat VERSION)
CC      ?= cc
CFLAGS  ?= -O2 -g
V       ?=
ERR     ?=
SAN     ?=

Q = $(if $(V),,@)

WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wformat=2 -Wundef -Wwrite-strings -Wvla -Wimplicit-fallthrough
ifneq ($(ERR),)
WARN += -Werror
endif
ifneq ($(SAN),)
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=all
CFLAGS := -O1 -g
endif
# TSAN=1 (make tsan, in build-tsan): ThreadSanitizer, library and tests.
# The sigaction hook and the libc door are left uninstrumented: TSan's own
# start-up installs its handlers through the next sigaction in line, which
# is swerve's, before TSan can record a single call; instrumented, that
# call crashes every process. TSan still sees every handler the
# trampoline calls, and everything else swerve does.
ifneq ($(TSAN),)
SANFLAGS = -fsanitize=thread -fno-omit-frame-pointer
CFLAGS := -O1 -g
$(BUILD)/obj/preload/signals.o $(BUILD)/obj/base/libc.o: \
	SANFLAGS = -fno-omit-frame-pointer
endif
# FUZZ=1 (make fuzz, in build-fuzz, with clang): the core is built with
# libFuzzer's coverage and ASan + UBSan; the targets add libFuzzer's main.
ifneq ($(FUZZ),)
SANFLAGS = -fsanitize=fuzzer-no-link,address,undefined \
           -fno-omit-frame-pointer -fno-sanitize-recover=all
CFLAGS := -O1 -g
endif

# Dependencies come from pkg-config. These are recursive (=) variables on
# purpose: they are expanded when a recipe runs, after scripts/deps.sh has
# installed what was missing.
PKG_LIBDIR = $(shell pkg-config --variable=libdir inih)
PKG_CFLAGS = $(shell pkg-config --cflags inih libcares)
# inih is linked statically (Debian ships a PIC archive) so that a host
# program with its own copy cannot shadow ours. c-ares is not linked at all:
# src/names/cares.c loads the system's libcares.so.2 privately on first use,
# so that the distribution's security updates reach it (README, Limits).
STATIC_LIBS = $(PKG_LIBDIR)/libinih.a
# libyaml reads Istio YAML for `swervectl import`: linked into swervectl
# only, never into the library (a host program never parses YAML).
YAML_CFLAGS = $(shell pkg-config --cflags yaml-0.1)
YAML_LIBS = $(shell pkg-config --libs yaml-0.1)

SW_CFLAGS = -std=gnu11 -D_GNU_SOURCE -fPIC -fvisibility=hidden \
            -fstack-protector-strong -MMD -MP -Isrc $(WARN) $(PKG_CFLAGS) $(SANFLAGS)
ifeq ($(SAN)$(FUZZ)$(TSAN),)
SW_CFLAGS += -D_FORTIFY_SOURCE=2
endif
SO_LDFLAGS = -shared -Wl,--version-script=$(BUILD)/exports.map -Wl,--exclude-libs,ALL \
             -Wl,-z,defs -Wl,-z,now -Wl,-z,relro $(SANFLAGS)
LDLIBS = -ldl -lpthread -lrt

# The layout is the architecture (README "How it works"): base, policy,
# table and names are the core that swervectl links too; tls (OpenSSL,
# loaded privately at run time, and TLS client sessions) and preload (the
# hook layer) are only in the library; tools are the programs.
BASE_SRCS   = $(wildcard src/base/*.c)
POLICY_SRCS = $(wildcard src/policy/*.c)
TABLE_SRCS  = $(wildcard src/table/*.c)
NAMES_SRCS  = $(wildcard src/names/*.c)
CORE_SRCS = $(BASE_SRCS) $(POLICY_SRCS) $(TABLE_SRCS) $(NAMES_SRCS)
TLS_SRCS  = $(wildcard src/tls/*.c)
PRELOAD_SRCS = $(wildcard src/preload/*.c)
LIB_SRCS  = $(CORE_SRCS) $(TLS_SRCS) $(PRELOAD_SRCS)
CORE_OBJS = $(CORE_SRCS:src/%.c=$(BUILD)/obj/%.o)
TLS_OBJS  = $(TLS_SRCS:src/%.c=$(BUILD)/obj/%.o)
LIB_OBJS  = $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)

UNIT_SRCS = $(wildcard tests/unit/*.c)
INTEG_SRCS = $(wildcard tests/integration/*.c)
CLIENT_SRCS = $(wildcard tests/clients/*.c)
FAULT_SRCS = $(wildcard tests/faults/*.c)
HELPER_SRCS = $(wildcard tests/helpers/*.c)
HELPERS = $(HELPER_SRCS:tests/helpers/%.c=$(BUILD)/tests/%)

DEPS_STAMP = $(BUILD)/.deps-ok

.PHONY: all test unit integration clients faults asan slowstart demo bench install uninstall install-preload dist distcheck clean help deps check-exports check-door-selftest check-size FORCE

all: $(BUILD)/libswerve.so $(BUILD)/swervectl $(BUILD)/swerve check-exports

deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/deps.sh
	$(Q)mkdir -p $(BUILD)
	$(Q)scripts/deps.sh $(if $(FUZZ),--fuzz)
	$(Q)touch $@

$(BUILD)/obj/%.o: src/%.c | $(DEPS_STAMP)
	$(Q)mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(SW_CFLAGS) $(CFLAGS) -c -o $@ $<

# The version script comes from the same list as the real-libc table.
$(BUILD)/exports.map: src/preload/exports.map.in src/base/libc.h
	$(Q)mkdir -p $(BUILD)
	$(Q)$(CC) -E -P -Isrc -x c -o $@ src/preload/exports.map.in

$(BUILD)/libswerve.so: $(LIB_OBJS) $(BUILD)/exports.map
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SO_LDFLAGS) -o $@ $(LIB_OBJS) $(STATIC_LIBS) $(LDLIBS)

$(BUILD)/obj/tools/swervectl/%.o: PKG_CFLAGS += $(YAML_CFLAGS)
$(BUILD)/swervectl: $(patsubst src/%.c,$(BUILD)/obj/%.o,$(wildcard src/tools/swervectl/*.c)) \
                    $(CORE_OBJS)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(STATIC_LIBS) $(YAML_LIBS) $(LDLIBS)

# The version header is rewritten on every run but replaced only when its
# text changes (a new commit, a tree that became dirty), so the two tools
# are rebuilt then and only then. Only they include it.
VERSION_H = $(BUILD)/gen/swerve_version.h
$(VERSION_H): FORCE
	$(Q)mkdir -p $(dir $@)
	$(Q)scripts/version.sh . > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi
FORCE:
$(BUILD)/obj/tools/wrapper.o $(BUILD)/obj/tools/swervectl/main.o: $(VERSION_H)
$(BUILD)/obj/tools/wrapper.o $(BUILD)/obj/tools/swervectl/main.o: \
	SW_CFLAGS += -I$(BUILD)/gen

$(BUILD)/swerve: $(BUILD)/obj/tools/wrapper.o $(BUILD)/obj/base/exe.o \
                $(BUILD)/obj/base/libc.o
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^

# Fails unless the library exports exactly the hooked libc names, and
# unless every module reaches them through the libc door.
check-exports: $(BUILD)/libswerve.so
	$(Q)scripts/check-exports.sh $(BUILD)/libswerve.so $(BUILD)/exports.map
	$(Q)scripts/check-door.sh $(BUILD)/exports.map $(LIB_OBJS)

# The door check must be able to fail: an object that calls close() and
# write() by name is caught, and one that uses the door is not.
check-door-selftest: $(BUILD)/exports.map
	$(Q)mkdir -p $(BUILD)/selftest
	$(Q)printf '#include <unistd.h>\nint f(int fd);\nint f(int fd) { if (write(fd, "x", 1) < 0) return -1; return close(fd); }\n' > $(BUILD)/selftest/bad.c
	$(Q)printf '#include "base/libc.h"\nint f(int fd);\nint f(int fd) { return swerve_libc_close(fd); }\n' > $(BUILD)/selftest/good.c
	$(Q)$(CC) $(SW_CFLAGS) $(CFLAGS) -c -o $(BUILD)/selftest/bad.o $(BUILD)/selftest/bad.c
	$(Q)$(CC) $(SW_CFLAGS) $(CFLAGS) -c -o $(BUILD)/selftest/good.o $(BUILD)/selftest/good.c
	$(Q)if scripts/check-door.sh $(BUILD)/exports.map $(BUILD)/selftest/bad.o 2>/dev/null; then \
		echo "check-door-selftest: a direct close() went unnoticed" >&2; exit 1; fi
	$(Q)scripts/check-door.sh $(BUILD)/exports.map $(BUILD)/selftest/good.o
	@echo "check-door-selftest: ok (a direct close() is caught, the door is not)"

$(BUILD)/tests/obj/%.o: tests/%.c | $(DEPS_STAMP)
	$(Q)mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(SW_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/unit: $(UNIT_SRCS:tests/%.c=$(BUILD)/tests/obj/%.o) $(CORE_OBJS) $(TLS_OBJS)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(STATIC_LIBS) -lcriterion $(LDLIBS)

$(BUILD)/tests/integration: $(INTEG_SRCS:tests/%.c=$(BUILD)/tests/obj/%.o) $(CORE_OBJS)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(STATIC_LIBS) -lcriterion $(LDLIBS)

# Helper programs (servers, probes) are plain programs: never linked with
# the library, never sanitized (they are preloaded like any client), but
# under TSAN, where they carry ThreadSanitizer's runtime for the library.
# A helper named tls* is a TLS server or client of the tests: it links
# OpenSSL the ordinary way (only the library must load it privately).
$(BUILD)/tests/tls%: HELPER_LIBS = -lssl -lcrypto
$(BUILD)/tests/%: tests/helpers/%.c | $(DEPS_STAMP)
	$(Q)mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra \
		$(if $(TSAN),$(SANFLAGS)) -o $@ $< $(HELPER_LIBS) -lpthread

.PHONY: helpers
helpers: $(HELPERS)

# The library is preloaded into real clients; under SAN the ASan runtime
# must come first in LD_PRELOAD (google/sanitizers#786).
SAN_PRELOAD = $(if $(SAN),$(shell $(CC) -print-file-name=libasan.so) $(shell $(CC) -print-file-name=libubsan.so))
TEST_ENV = SWERVE_BUILD=$(abspath $(BUILD)) SWERVE_SRC=$(CURDIR) \
           SWERVE_PRELOAD_EXTRA="$(SAN_PRELOAD)" \
           ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:abort_on_error=0

# The TLS fixtures of the tests, the demo and the bench: a test CA and
# certificates signed by it (scripts/tls-certs.sh), made once per build.
TLS_CERTS = $(BUILD)/tests/tls-certs/ca.pem
$(TLS_CERTS): scripts/tls-certs.sh
	$(Q)rm -rf $(dir $@)
	$(Q)scripts/tls-certs.sh $(dir $@)

# test_swervectl_*.c run the built swervectl on a table they fill;
# test_tls_client*.c run tlsserve with the fixtures, and read the
# library's dynamic section.
unit: $(BUILD)/tests/unit $(BUILD)/swervectl $(BUILD)/libswerve.so \
      $(BUILD)/tests/tlsserve $(TLS_CERTS)
	$(Q)$(TEST_ENV) $(BUILD)/tests/unit --jobs 2 --xml=$(BUILD)/unit.xml

integration: all $(BUILD)/tests/integration $(HELPERS)
	$(Q)$(TEST_ENV) $(BUILD)/tests/integration --jobs 1 --xml=$(BUILD)/integration.xml

# The client matrix (tests/clients, scripts/client-matrix.sh): real
# clients against real servers; absent clients are skipped with a reason.
$(BUILD)/tests/clients: $(CLIENT_SRCS:tests/%.c=$(BUILD)/tests/obj/%.o) \
                        $(BUILD)/tests/obj/integration/support.o $(CORE_OBJS)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(STATIC_LIBS) -lcriterion $(LDLIBS)

# Its TLS column runs tlsserve with the test certificates.
clients: all $(BUILD)/tests/clients $(HELPERS) $(BUILD)/tests/tlsserve \
         $(TLS_CERTS)
	$(Q)$(TEST_ENV) $(BUILD)/tests/clients --jobs 1 --xml=$(BUILD)/clients.xml

# The fault-injection suite (tests/faults): real clients under the library
# while other processes stop, kill, truncate, scribble on or starve what
# it relies on (the table, the DNS server, signals). Every case file in tests/faults/ joins it; cases reach the
# core modules (a lock taken the library's way, the table's own check).
# Fixed loopback addresses, like integration: run it under the same flock.
$(BUILD)/tests/faults: $(FAULT_SRCS:tests/%.c=$(BUILD)/tests/obj/%.o) \
                       $(BUILD)/tests/obj/integration/support.o $(CORE_OBJS)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(STATIC_LIBS) -lcriterion $(LDLIBS)

faults: all $(BUILD)/tests/faults $(HELPERS)
	$(Q)$(TEST_ENV) $(BUILD)/tests/faults --jobs 1 --xml=$(BUILD)/faults.xml

# The house limits: files <= 900 lines, functions <= 80; and each folder
# of src/ includes only those below it.
check-size:
	$(Q)scripts/check-size.sh
	$(Q)scripts/check-layers.sh

test: all check-size check-door-selftest unit fuzz-smoke integration clients faults

# make slowstart: the integration suite with every client starting
# SLOW_START_MS (400) late (tests/slowstart), as under a sanitizer on a
# busy machine; tests take t_sanitized()'s longer windows. It finds a test
# that a slow client start makes fail once in a while on CI.
SLOW_START_MS ?= 400
$(BUILD)/tests/slowstart.so: tests/slowstart/slowstart.c
	$(Q)mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) -std=gnu11 -O2 -Wall -Wextra -shared -fPIC -o $@ $<

slowstart: all $(BUILD)/tests/integration $(HELPERS) $(BUILD)/tests/slowstart.so
	$(Q)SWERVE_BUILD=$(abspath $(BUILD)) SWERVE_SRC=$(CURDIR) \
		SWERVE_PRELOAD_EXTRA=$(abspath $(BUILD))/tests/slowstart.so \
		SLOW_START_MS=$(SLOW_START_MS) \
		$(BUILD)/tests/integration --jobs 1 \
		--xml=$(BUILD)/slowstart.xml $(SLOWSTART_ARGS)

# The client matrix skips itself under sanitizers (real clients do not
# start under a preloaded ASan runtime), so asan runs unit and integration.
asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan SAN=1 all unit integration

# make fuzz: each libFuzzer target of tests/fuzz (config loader, table
# attach, TLS session store, DNS answers) runs FUZZ_SECONDS, one after the other, from the
# committed corpus, in a build of its own (build-fuzz, clang, ASan and
# UBSan). fuzz-smoke, part of `make test`, replays the corpus and a few
# thousand fixed-seed mutations of it. scripts/fuzz.sh says more.
FUZZ_CC ?= clang-14
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_RUNS ?=
FUZZ_TARGETS ?=
FUZZ_SRCS = $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS = $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=$(BUILD)/fuzz/%)

$(BUILD)/fuzz/%: $(BUILD)/tests/obj/fuzz/fuzz_%.o $(CORE_OBJS)
	$(Q)mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ \
		$(STATIC_LIBS) $(LDLIBS)

# Kept: make would otherwise delete them as intermediates and rebuild.
.SECONDARY: $(FUZZ_SRCS:tests/%.c=$(BUILD)/tests/obj/%.o)

# The seed writer (tests/fuzz/make_seeds.c) is a plain program on the core.
$(BUILD)/fuzz/make_seeds: $(BUILD)/tests/obj/fuzz/make_seeds.o $(CORE_OBJS)
	$(Q)mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(STATIC_LIBS) $(LDLIBS)

.PHONY: fuzz fuzz-smoke fuzz-programs fuzz-seeds
fuzz-programs: $(FUZZERS)

# Rewrites the committed seeds (tests/fuzz/corpus) from the real thing.
fuzz-seeds: $(BUILD)/fuzz/make_seeds $(BUILD)/tests/dnsd
	$(Q)scripts/fuzz-seeds.sh $(BUILD)

fuzz-smoke:
	$(Q)$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) FUZZ=1 \
		CC=$(FUZZ_CC) fuzz-programs
	$(Q)scripts/fuzz.sh smoke $(FUZZ_BUILD)

fuzz:
	$(Q)$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) FUZZ=1 \
		CC=$(FUZZ_CC) fuzz-programs
	$(Q)FUZZ_TARGETS="$(FUZZ_TARGETS)" FUZZ_FLAGS="$(FUZZ_FLAGS)" \
		scripts/fuzz.sh run $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_RUNS)

# make tsan: ThreadSanitizer over the library, swervectl, the wrapper and
# the helpers (build-tsan, TSAN=1), driven by the integration suite; the
# TSan runtime goes first in LD_PRELOAD of every client, as ASan's does.
# Criterion cannot run under TSan (Criterion #274: its arena wants address
# space that TSan reserves, and when it gets some it crashes inside TSan),
# so the test runners are plain programs (build-tsan/plain), and the unit
# suite, whose concurrency is between processes, which TSan does not see,
# is left to make test and make asan. scripts/tsan.sh runs it and fails on
# any report of any process.
tsan:
	$(Q)$(MAKE) --no-print-directory BUILD=build-tsan TSAN=1 all helpers
	$(Q)$(MAKE) --no-print-directory BUILD=build-tsan/plain \
		build-tsan/plain/tests/integration
	$(Q)scripts/tsan.sh build-tsan build-tsan/plain/tests/integration

demo: all $(BUILD)/tests/httpd $(BUILD)/tests/dnsd $(BUILD)/tests/tlsserve \
      $(TLS_CERTS)
	$(Q)SWERVE_BUILD=$(abspath $(BUILD)) scripts/demo.sh

# make bench: an -O2 build of its own in build-bench, then scripts/bench.sh
# (loopback only, a few minutes, writes docs/benchmarks.md and
# docs/bench-latency.png). Never part of `make test`.
BENCH_SRCS = $(wildcard tests/bench/*.c)
BENCHES = $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%)

$(BUILD)/bench/%: tests/bench/%.c
	$(Q)mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -o $@ $< -lpthread

.PHONY: bench-programs
bench-programs: all $(BENCHES) $(TLS_CERTS)

bench:
	$(Q)$(MAKE) --no-print-directory BUILD=build-bench CFLAGS='-O2 -g' \
		bench-programs
	$(Q)SWERVE_BUILD=$(abspath build-bench) scripts/bench.sh

# Where make install puts things. Every path is $(DESTDIR)$(PREFIX)/...
# except host-wide mode's two system files (install-preload), which live
# where the loader and the library look for them: /etc/ld.so.preload and
# /etc/swerve/swerve.ini, under $(DESTDIR) too. The man pages (man/NAME.N,
# N = 1, 5 or 8) and the bash completions (completion/COMMAND) are installed
# when the tree has them.
BINDIR   = $(PREFIX)/bin
LIBDIR   = $(PREFIX)/lib/swerve
DOCDIR   = $(PREFIX)/share/doc/swerve
MANDIR   = $(PREFIX)/share/man
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions
MAN_PAGES = $(wildcard man/*.1 man/*.5 man/*.8)
BASH_COMPLETIONS = $(wildcard completion/*)
INSTALLED = $(LIBDIR)/libswerve.so $(BINDIR)/swervectl $(BINDIR)/swerve \
	$(DOCDIR)/swerve.ini \
	$(foreach p,$(MAN_PAGES),$(MANDIR)/man$(subst .,,$(suffix $(p)))/$(notdir $(p))) \
	$(BASH_COMPLETIONS:completion/%=$(BASHCOMPDIR)/%)

# The library goes in under a temporary name and is renamed over the old
# one: with host-wide mode on, a program starting mid-install must find
# either library whole, never no file or half of one.
install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 $(BUILD)/libswerve.so $(DESTDIR)$(LIBDIR)/.libswerve.so.new
	mv -f $(DESTDIR)$(LIBDIR)/.libswerve.so.new $(DESTDIR)$(LIBDIR)/libswerve.so
	install -m 0755 $(BUILD)/swervectl $(BUILD)/swerve $(DESTDIR)$(BINDIR)/
	install -m 0644 conf/swerve.ini $(DESTDIR)$(DOCDIR)/swerve.ini
	$(Q)for p in $(MAN_PAGES); do \
		d=$(DESTDIR)$(MANDIR)/man$${p##*.}; \
		echo "install -D -m 0644 $$p $$d/$${p##*/}"; \
		install -D -m 0644 $$p $$d/$${p##*/} || exit 1; \
	done
	$(Q)for c in $(BASH_COMPLETIONS); do \
		echo "install -D -m 0644 $$c $(DESTDIR)$(BASHCOMPDIR)/$${c##*/}"; \
		install -D -m 0644 $$c $(DESTDIR)$(BASHCOMPDIR)/$${c##*/} || exit 1; \
	done

# Host-wide mode (README): opt-in, as root. Installs, writes the system
# config from conf/swerve.ini if there is none (never over one), and lists
# the library in /etc/ld.so.preload once, with a warning about what that
# means and how to undo it (scripts/hostwide.sh).
install-preload: install
	$(Q)scripts/hostwide.sh enable "$(DESTDIR)" $(LIBDIR)/libswerve.so conf/swerve.ini

# Host-wide mode is undone first: /etc/ld.so.preload must never name a
# library that is gone. An edited /etc/swerve/swerve.ini stays.
uninstall:
	$(Q)scripts/hostwide.sh disable "$(DESTDIR)" $(LIBDIR)/libswerve.so conf/swerve.ini
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	$(Q)rmdir $(DESTDIR)$(LIBDIR) $(DESTDIR)$(DOCDIR) 2>/dev/null || true

# make dist: $(BUILD)/swerve-$(VERSION).tar.gz, the committed tree of HEAD
# (git archive: uncommitted changes are not in it) plus a COMMIT file that
# stands for git describe where there is no .git. make distcheck unpacks
# it in a temporary directory, builds it there with make all and checks
# the version the tools report; it takes as long as a build (about a
# minute), so it is not part of make test: CI runs it.
DIST = $(BUILD)/swerve-$(VERSION).tar.gz
dist:
	$(Q)test -e .git || { echo "make dist: needs a git checkout" >&2; exit 1; }
	$(Q)mkdir -p $(BUILD)/dist
	$(Q)git describe --always HEAD > $(BUILD)/dist/COMMIT
	$(Q)git archive --format=tar.gz --prefix=swerve-$(VERSION)/ \
		--add-file=$(BUILD)/dist/COMMIT -o $(DIST) HEAD
	$(Q)if [ -n "$$(git status --porcelain --untracked-files=no)" ]; then \
		echo "make dist: the tarball holds HEAD; uncommitted changes are not in it" >&2; fi
	@echo "$(DIST) ($$(cat $(BUILD)/dist/COMMIT))"

distcheck: dist
	$(Q)scripts/distcheck.sh $(DIST) $(VERSION) $$(cat $(BUILD)/dist/COMMIT)

# The man pages and the bash completions alone (make install installs
# them too): where man and bash-completion look for them.
MAN_FILES   = $(MANDIR)/man1/swerve.1 $(MANDIR)/man5/swerve.ini.5 \
              $(MANDIR)/man8/swervectl.8
COMPLETION_FILES = $(BASHCOMPDIR)/swerve $(BASHCOMPDIR)/swervectl
.PHONY: install-man install-completion uninstall-man uninstall-completion

install-man:
	install -D -m 0644 man/swerve.1 $(DESTDIR)$(MANDIR)/man1/swerve.1
	install -D -m 0644 man/swerve.ini.5 $(DESTDIR)$(MANDIR)/man5/swerve.ini.5
	install -D -m 0644 man/swervectl.8 $(DESTDIR)$(MANDIR)/man8/swervectl.8

install-completion:
	install -D -m 0644 completion/swerve $(DESTDIR)$(BASHCOMPDIR)/swerve
	install -D -m 0644 completion/swervectl $(DESTDIR)$(BASHCOMPDIR)/swervectl

uninstall-man:
	rm -f $(addprefix $(DESTDIR),$(MAN_FILES))

uninstall-completion:
	rm -f $(addprefix $(DESTDIR),$(COMPLETION_FILES))

clean:
	rm -rf build build-asan build-fuzz build-tsan

help:
	@echo "targets: all (default) test unit integration clients faults asan demo bench clean"
	@echo "         install uninstall install-preload (host-wide mode, as root: see README)"
	@echo "         dist (the release tarball) distcheck (builds it in a temporary directory)"
	@echo "         install-man install-completion (MANDIR, BASHCOMPDIR; part of install)"
	@echo "         fuzz (libFuzzer targets, FUZZ_SECONDS each; make test replays their corpus)"
	@echo "         tsan (the integration suite over a ThreadSanitizer build)"
	@echo "         slowstart (the integration suite, each client SLOW_START_MS late)"
	@echo "knobs:   V=1 (verbose) ERR=1 (-Werror) BUILD=dir PREFIX=$(PREFIX) DESTDIR="
	@echo "         BINDIR LIBDIR DOCDIR MANDIR BASHCOMPDIR (under PREFIX)"
	@echo "         FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS= FUZZ_TARGETS= (config table sessions dns http)"

-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/obj/*/*/*.d $(BUILD)/tests/obj/*/*.d)
