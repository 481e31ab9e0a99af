# handoff: build, run, test.
#
#   make            build build/handoff and build/handoff-worker (and the
#                   preload for Node workers beside them)
#   make run        build and serve on :8080 (Ctrl-C stops it gracefully)
#   make test       every test, on the normal build and under ASan+UBSan,
#                   and a 10 s run of each fuzzer
#   make check      every test on the normal build only
#   make asan       every test under AddressSanitizer + UBSan
#   make fuzz       run each libFuzzer target for FUZZ_SECONDS (60)
#   make bench      throughput figures with wrk (not a test)
#   make bench-node one Node program under Node's primary, PM2 and handoff
#                   --node: throughput, the primary's cost, reload errors
#   make experiment every scheduling policy under every workload, with plots
#   make paper      docs/policies.md's figures, from scratch (about 16 min)
#   make demo       a guided tour of the scheduler, live in the terminal
#                   (tools/demo; one scenario: make demo DEMO=burst)
#   make deps       install the Debian packages we need (as root)
#   make install    PREFIX=/usr/local DESTDIR=: binaries and the man page
#
# Set-up on a fresh Debian machine is part of every target: tools/deps.sh
# installs missing packages with apt-get when run as root.
#
# It runs in a first pass, before anything that depends on the packages is
# read: GNU make looks at a directory once and remembers it, so rules over
# /usr/share/llhttp read before node-llhttp was installed would never see
# its sources. The first pass installs what the goals need, then runs make
# again on the same goals (HANDOFF_SETUP_DONE=1, inherited by every
# recursive make), which reads the rules with the packages in place.

# Goals that need no package: no set-up pass for them.
NO_SETUP_GOALS = clean format check-format uninstall
GOALS = $(or $(MAKECMDGOALS),all)

# Packages the tests and tools need beyond the build's: clang and its
# runtime for libFuzzer; media-types for /etc/mime.types; promtool,
# Chromium, HAProxy and systemd-socket-activate as real peers.
TEST_DEPS = wrk gnuplot-nox clang libclang-rt-14-dev media-types \
            prometheus chromium chromium-driver haproxy systemd
# The peers of make bench.
BENCH_DEPS = wrk nginx
# What make paper draws its figures with (build/loadgen is ours).
PAPER_DEPS = gnuplot-nox
# Node.js runs the --node tests and the demo's node-wire (npm installs
# Express for one test) and is a bench peer; Debian's packages only where
# no node or npm is on PATH already.
NODE_CMDS = node=nodejs npm=npm
# The set-up step; a test replaces it to check the two passes.
DEPS_SH ?= tools/deps.sh

ifndef HANDOFF_SETUP_DONE
ifneq ($(filter-out $(NO_SETUP_GOALS),$(GOALS)),)

SETUP_EXTRA = $(if $(filter test check asan fuzz fuzz-build experiment,$(GOALS)),$(TEST_DEPS)) \
              $(if $(filter bench bench-node,$(GOALS)),$(BENCH_DEPS)) \
              $(if $(filter paper,$(GOALS)),$(PAPER_DEPS))
SETUP_CMDS = $(if $(filter test check asan experiment bench bench-node demo,$(GOALS)),$(NODE_CMDS))

.PHONY: setup-pass $(GOALS)
setup-pass:
	@HANDOFF_DEPS_EXTRA="$(strip $(SETUP_EXTRA))" HANDOFF_DEPS_CMDS="$(strip $(SETUP_CMDS))" $(DEPS_SH)
	@$(MAKE) --no-print-directory HANDOFF_SETUP_DONE=1 $(MAKECMDGOALS)

$(GOALS): setup-pass
	@:

SETUP_PASS = 1
endif
endif

ifndef SETUP_PASS
BUILD ?= build
CC ?= cc
LLHTTP_SRC ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp

WARN = -Wall -Wextra -Werror -Wshadow -Wundef -Wformat=2 \
       -Wstrict-prototypes -Wmissing-prototypes -Wnull-dereference \
       -Wduplicated-cond
OPT ?= -O2 -g
SAN ?=
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE $(OPT) $(SAN) -MMD -MP
CFLAGS_OURS = $(CFLAGS_BASE) $(WARN) -Icommon -I$(LLHTTP_INC)
# llhttp's generated code is not ours to warn about. Its strict mode
# checks what the lenient build skips, e.g. the CRLF after chunk data and
# whitespace before a field's colon (request smuggling vectors).
CFLAGS_LLHTTP = $(CFLAGS_BASE) -w -I$(LLHTTP_INC) -DLLHTTP_STRICT_MODE=1
LDLIBS = -lev
# The worker runs /cpu?offload=1 on a thread pool (worker/app/pool.c) and
# does the TLS handshakes of HTTPS listeners (OpenSSL 3, libssl-dev); the
# master only checks certificates against their keys (libcrypto).
WORKER_LDLIBS = $(LDLIBS) -pthread -lssl -lcrypto
MASTER_LDLIBS = $(LDLIBS)

COMMON_SRC = $(wildcard common/*.c)
MASTER_SRC = $(sort $(shell find master -name '*.c'))
# worker/: the top, the HTTP engine (http/) and the application (app/);
# their files include each other's headers by folder: "http/http.h".
WORKER_SRC = $(wildcard worker/*.c worker/*/*.c)
WORKER_HDR = $(wildcard worker/*.h worker/*/*.h)
LLHTTP_C = api.c http.c llhttp.c

COMMON_OBJ = $(COMMON_SRC:%.c=$(BUILD)/obj/%.o)
MASTER_OBJ = $(MASTER_SRC:%.c=$(BUILD)/obj/%.o)
WORKER_OBJ = $(WORKER_SRC:%.c=$(BUILD)/obj/%.o)
LLHTTP_OBJ = $(LLHTTP_C:%.c=$(BUILD)/obj/llhttp/%.o)

# Unit tests: tests/unit/test_<x>.c, each linked with what it exercises.
UNIT_TESTS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
SCHED_OBJ = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard master/sched/*.c))

.PHONY: install uninstall all deps asan-build fuzz fuzz-build fuzz-targets run test check asan bench bench-node experiment paper demo clean format check-format

all: $(BUILD)/handoff $(BUILD)/handoff-worker $(BUILD)/handoff-preload.cjs \
     $(BUILD)/handoffctl $(BUILD)/loadgen $(UNIT_TESTS)

# The set-up pass has installed the packages by now.
deps:
	@:

$(BUILD)/handoff: $(MASTER_OBJ) $(COMMON_OBJ)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^ $(MASTER_LDLIBS)

$(BUILD)/handoff-worker: $(WORKER_OBJ) $(COMMON_OBJ) $(LLHTTP_OBJ)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^ $(WORKER_LDLIBS)

# The master's ceiling (tools/ceiling/): a worker that only acknowledges
# and closes, and a client that only connects.
$(BUILD)/handoff-closer: $(BUILD)/obj/tools/ceiling/closer.o $(COMMON_OBJ)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^

$(BUILD)/connflood: $(BUILD)/obj/tools/ceiling/connflood.o
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^

# What the master loads into each Node worker (--node): found beside it,
# as the worker is.
$(BUILD)/handoff-preload.cjs: master/node/preload.cjs
	@mkdir -p $(@D)
	@cp $< $@

# The experiment's HTTP client (tools/experiment.d/loadgen.c): its own
# program, using nothing of ours.
$(BUILD)/loadgen: $(BUILD)/obj/tools/experiment.d/loadgen.o
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^ -lm

$(BUILD)/fdpass-bench: $(BUILD)/obj/tools/fdpass_bench.o $(COMMON_OBJ)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^

# handoffctl shares with the master where the control socket is, and the
# table of its commands (master/ops/control_cmds.c, pure).
$(BUILD)/handoffctl: $(BUILD)/obj/tools/handoffctl.o $(BUILD)/obj/common/ctlpath.o \
                     $(BUILD)/obj/common/numparse.o $(BUILD)/obj/master/ops/control_cmds.o
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^

$(BUILD)/obj/worker/%.o: CFLAGS_OURS += -Iworker
# The master's files name each other's headers by folder ("sched/sched.h"),
# as handoffctl names the command table's.
$(BUILD)/obj/master/%.o $(BUILD)/obj/tools/handoffctl.o: CFLAGS_OURS += -Imaster

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS_OURS) -c -o $@ $<

$(BUILD)/obj/llhttp/%.o: $(LLHTTP_SRC)/%.c Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS_LLHTTP) -c -o $@ $<

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS_OURS) -Imaster -Iworker -Itests/unit -c -o $@ $<

$(BUILD)/tests/test_chan: $(BUILD)/obj/tests/unit/test_chan.o $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^

$(BUILD)/tests/test_sched: $(BUILD)/obj/tests/unit/test_sched.o $(SCHED_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^

$(BUILD)/tests/test_policies: $(BUILD)/obj/tests/unit/test_policies.o $(SCHED_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^

# The restart backoff alone: pure, no loop, no clock.
$(BUILD)/tests/test_backoff: $(BUILD)/obj/tests/unit/test_backoff.o $(BUILD)/obj/master/fleet/backoff.o
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^

$(BUILD)/tests/test_conn_state: $(BUILD)/obj/tests/unit/test_conn_state.o $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^

$(BUILD)/tests/test_numparse: $(BUILD)/obj/tests/unit/test_numparse.o $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^

$(BUILD)/tests/test_http_limits: $(BUILD)/obj/tests/unit/test_http_limits.o $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^

$(BUILD)/tests/test_json: $(BUILD)/obj/tests/unit/test_json.o $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^

$(BUILD)/tests/test_te: $(BUILD)/obj/tests/unit/test_te.o $(BUILD)/obj/worker/http/syntax.o
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^

$(BUILD)/tests/test_chunk: $(BUILD)/obj/tests/unit/test_chunk.o $(BUILD)/obj/worker/http/chunk.o $(BUILD)/obj/worker/http/syntax.o
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^

$(BUILD)/tests/test_proxy_parse: $(BUILD)/obj/tests/unit/test_proxy_parse.o $(BUILD)/obj/master/accept/proxy_parse.o $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(SAN) -o $@ $^

# libFuzzer targets (tests/fuzz/), built by clang into build/fuzz:
# fuzz_request drives a real worker connection with the input; fuzz_chan
# the channel decoder; fuzz_json the JSON reader of Node's IPC; fuzz_proxy
# the PROXY protocol header parser. `make fuzz` runs each FUZZ_SECONDS
# (default 60).
FUZZ_BUILD = build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all \
           -fno-omit-frame-pointer
WORKER_LIB_OBJ = $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out worker/main.c,$(WORKER_SRC)))

fuzz-build:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang \
	    OPT="-O1 -g -Wno-unknown-warning-option" \
	    SAN="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" fuzz-targets

fuzz-targets: $(BUILD)/fuzz_request $(BUILD)/fuzz_chan $(BUILD)/fuzz_json $(BUILD)/fuzz_proxy

$(BUILD)/fuzz_request: $(BUILD)/obj/tests/fuzz/fuzz_request.o $(WORKER_LIB_OBJ) $(COMMON_OBJ) $(LLHTTP_OBJ)
	@echo "  LD      $@"
	@$(CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(WORKER_LDLIBS)

$(BUILD)/fuzz_chan: $(BUILD)/obj/tests/fuzz/fuzz_chan.o $(COMMON_OBJ)
	@echo "  LD      $@"
	@$(CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^

$(BUILD)/fuzz_json: $(BUILD)/obj/tests/fuzz/fuzz_json.o $(COMMON_OBJ)
	@echo "  LD      $@"
	@$(CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^

$(BUILD)/fuzz_proxy: $(BUILD)/obj/tests/fuzz/fuzz_proxy.o $(BUILD)/obj/master/accept/proxy_parse.o $(COMMON_OBJ)
	@echo "  LD      $@"
	@$(CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^

fuzz: fuzz-build
	@tools/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# make install [PREFIX=/usr/local] [DESTDIR=]: the master and handoffctl in
# bin/, the worker and the Node preload in lib/handoff/ (the master finds
# them there, relative to itself, so the tree can move), the man page in
# share/man/man1/.
PREFIX ?= /usr/local

install: $(BUILD)/handoff $(BUILD)/handoff-worker $(BUILD)/handoff-preload.cjs \
         $(BUILD)/handoffctl
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/handoff \
	    $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/handoff $(BUILD)/handoffctl $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(BUILD)/handoff-worker $(DESTDIR)$(PREFIX)/lib/handoff/
	install -m 644 $(BUILD)/handoff-preload.cjs $(DESTDIR)$(PREFIX)/lib/handoff/
	install -m 644 docs/handoff.1 $(DESTDIR)$(PREFIX)/share/man/man1/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/handoff $(DESTDIR)$(PREFIX)/bin/handoffctl \
	    $(DESTDIR)$(PREFIX)/lib/handoff/handoff-worker \
	    $(DESTDIR)$(PREFIX)/lib/handoff/handoff-preload.cjs \
	    $(DESTDIR)$(PREFIX)/share/man/man1/handoff.1
	-rmdir $(DESTDIR)$(PREFIX)/lib/handoff

run: all
	$(BUILD)/handoff --port 8080

# The normal suite, the sanitizer suite and a short run of each fuzzer;
# one summary line at the end.
test: all
	@$(MAKE) --no-print-directory asan-build fuzz-build
	@python3 tests/run.py --build $(BUILD) --build build/asan --fuzz $(FUZZ_BUILD)

check: all
	@python3 tests/run.py --build $(BUILD)

asan-build:
	@$(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" all

asan: asan-build
	@python3 tests/run.py --build build/asan

# handoff against Node's cluster and nginx: see tools/bench.py. Options in
# BENCH="--rounds 5 --duration 10".
bench: all $(BUILD)/fdpass-bench $(BUILD)/handoff-closer $(BUILD)/connflood
	@$(BUILD)/fdpass-bench
	@tools/ceiling/run --build $(BUILD)
	@tools/bench.py --build $(BUILD) $(BENCH)

# The same Node cluster program under Node's own primary, PM2's cluster
# mode and handoff --node, with and without the preload: see
# tools/bench_node.py. PM2 comes from the npm registry, into $(BUILD)/pm2
# (its PM2_HOME is there too). Options in BENCH_NODE="--rounds 5".
PM2_VERSION = 7.0.4

$(BUILD)/pm2/.pm2-$(PM2_VERSION):
	@mkdir -p $(@D)
	@npm install --prefix $(@D) --no-audit --no-fund --loglevel=error pm2@$(PM2_VERSION)
	@touch $@

bench-node: all $(BUILD)/pm2/.pm2-$(PM2_VERSION)
	@tools/bench_node.py --build $(BUILD) --pm2 $(BUILD)/pm2 $(BENCH_NODE)

# Every policy under every workload, 5 runs each, with build/loadgen;
# CSVs and figures (PNG, SVG, PDF) in build/experiment. Pass options with
# EXPERIMENT="--workers 8 --duration 4".
experiment: all
	@tools/experiment --build $(BUILD) $(EXPERIMENT)

# docs/policies.md's figures and CSVs, from scratch, into docs/policies/
# (about 16 minutes; see the doc). Options in PAPER="--runs 7".
paper: all
	@tools/experiment --build $(BUILD) --paper $(PAPER)

# The scheduler step by step on a real server: tools/demo --list names the
# scenarios; DEMO="burst blocked" runs some of them.
demo: all
	@tools/demo --build $(BUILD) $(DEMO)

MASTER_FILES = $(sort $(shell find master -name '*.[ch]'))

format:
	clang-format -i common/*.[ch] $(MASTER_FILES) $(WORKER_SRC) $(WORKER_HDR) tests/unit/*.[ch] tests/fuzz/*.c tools/*.c tools/ceiling/*.c tools/experiment.d/*.c

check-format:
	@clang-format --dry-run --Werror common/*.[ch] $(MASTER_FILES) $(WORKER_SRC) $(WORKER_HDR) tests/unit/*.[ch] tests/fuzz/*.c tools/*.c tools/ceiling/*.c tools/experiment.d/*.c

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' -type f 2>/dev/null)

endif # SETUP_PASS
