# socklab - comparing server paradigms on real sockets.
#
#   make                 build every program into bin/
#   make test            run the test suite (TAP, through prove)
#   make test SANITIZE=address,undefined   the same under sanitizers
#   make bench           compare the backends, write results/
#   make bench-compare A B   how far two bench runs' rankings agree
#
# CC, CFLAGS, LDFLAGS, PREFIX and DESTDIR are honoured.

CC	?= cc
CFLAGS	?= -O2 -g
PREFIX	?= /usr/local
PROVE	?= prove
JOBS	?= 2

WARN	 = -std=c17 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wno-unused-parameter
ALL_CPPFLAGS = -D_POSIX_C_SOURCE=200809L -Ilib $(CPPFLAGS)
# DWARF 4 whenever CFLAGS asks for debug information: clang writes DWARF 5
# forms that valgrind 3.19 (Debian 12) cannot read, and make stress runs
# the server under valgrind.  A -gdwarf-N in CFLAGS comes later and wins.
DWARF	 = $(if $(filter -g -g1 -g2 -g3 -ggdb,$(CFLAGS)),-gdwarf-4)
ALL_CFLAGS   = $(WARN) $(DWARF) $(CFLAGS) -pthread
ALL_LDFLAGS  = $(LDFLAGS) -pthread

# A sanitizer build lives apart from bin/ so that switching costs no clean.
comma := ,
ifneq ($(SANITIZE),)
SAN	 = san-$(subst $(comma),-,$(SANITIZE))
ALL_CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -O1
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
BIN	 = build/$(SAN)/bin
OBJ	 = build/$(SAN)/obj
else
BIN	 = bin
OBJ	 = build/obj
endif

LIB_SRC	   = $(wildcard lib/*.c)
SERVER_SRC = $(wildcard servers/*.c)
LOADGEN_SRC = $(wildcard bench/loadgen*.c bench/hist.c)
PINGPONG_SRC = $(wildcard bench/pingpong.c)
DEMO_SRC   = $(filter-out demos/demolib.c,$(wildcard demos/*.c))
BACKLOG_SRC = $(wildcard demos/backlog/*.c) demos/demolib.c
UNIT_SRC   = $(wildcard tests/unit/*.c)

CHECK_SRC  = clients/check-server.c clients/check-cases.c

PROGS	= $(BIN)/server $(BIN)/client $(BIN)/udp-server $(BIN)/udp-client \
	  $(BIN)/check-server
ifneq ($(LOADGEN_SRC),)
PROGS	+= $(BIN)/loadgen
endif
ifneq ($(PINGPONG_SRC),)
PROGS	+= $(BIN)/pingpong
endif
PROGS	+= $(patsubst demos/%.c,$(BIN)/%,$(DEMO_SRC)) $(BIN)/demo-backlog
UNITS	 = $(patsubst tests/unit/%.c,$(BIN)/unit-%,$(UNIT_SRC))

obj = $(patsubst %.c,$(OBJ)/%.o,$(1))

# A demo or the handouts print a lesson: the command lines that build
# what they need are not echoed then (V=1 shows them).
Q	 = $(if $(V),,$(if $(filter demo demo-% backlog handouts,$(MAKECMDGOALS)),@))

# Keep the objects that pattern rules make on the way: no rebuild next
# time, and no 'rm' lines after the test summary.
.SECONDARY:

.PHONY: all test check deps clean install uninstall casetab
all: $(PROGS) $(UNITS)

# What the goals on the command line need, installed (scripts/deps.sh)
# before anything is compiled: `make test` runs `deps.sh build test`.
# `make deps` installs what every target needs.
DEPS	 = build \
	   $(if $(filter test check,$(MAKECMDGOALS)),test) \
	   $(if $(filter bench,$(MAKECMDGOALS)),bench) \
	   $(if $(filter stress,$(MAKECMDGOALS)),stress) \
	   $(if $(filter fuzz fuzz-run-%,$(MAKECMDGOALS)),fuzz) \
	   $(if $(filter demo demo-% backlog,$(MAKECMDGOALS)),demo) \
	   $(if $(filter handouts,$(MAKECMDGOALS)),handouts) \
	   $(if $(filter deps,$(MAKECMDGOALS)),all)
deps:
	@sh scripts/deps.sh $(strip $(DEPS))

$(OBJ)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(OBJ)/libsocklab.a: $(call obj,$(LIB_SRC))
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

LIBA = $(OBJ)/libsocklab.a

# The io_uring model needs liburing (deps.sh installs liburing-dev for
# the build); without its header it is built, and listed, as
# unavailable.  Deferred (=): asked when a recipe runs, after deps.
URING	= $(shell printf '\043include <liburing.h>\n' | \
	    $(CC) $(CPPFLAGS) -E -x c - >/dev/null 2>&1 && echo 1)
$(OBJ)/servers/io_uring.o: ALL_CPPFLAGS += $(if $(URING),-DHAVE_LIBURING)

$(BIN)/server: $(call obj,$(SERVER_SRC)) $(LIBA)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(if $(URING),-luring)
$(BIN)/client: $(call obj,clients/client.c) $(LIBA)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS)
$(BIN)/udp-%: $(OBJ)/udp/udp-%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS)
$(BIN)/check-server: $(call obj,$(CHECK_SRC)) $(LIBA)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS)
$(BIN)/loadgen: $(call obj,$(LOADGEN_SRC)) $(LIBA)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) -lm -lz
$(BIN)/pingpong: $(call obj,$(PINGPONG_SRC)) $(LIBA)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS)
$(BIN)/demo-backlog: $(call obj,$(BACKLOG_SRC)) $(LIBA)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS)
$(BIN)/%: $(OBJ)/demos/%.o $(OBJ)/demos/demolib.o $(LIBA)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS)
$(BIN)/unit-%: $(OBJ)/tests/unit/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) -lm

# The case table is generated C, committed; regenerating needs Python 3.
casetab:
	python3 scripts/gen-casetab.py > lib/casetab.c.tmp
	mv lib/casetab.c.tmp lib/casetab.c

# Tests: every tests/*.t through prove; SOCKLAB_BIN tells them which build.
test: deps all
	SOCKLAB_BIN=$(CURDIR)/$(BIN) $(PROVE) -j$(JOBS) --exec '' tests/*.t
check: test

# make stress: the fault suite (tests/stress/*.t, a few minutes): hostile
# clients, limits, churn, signals and valgrind, on every model.
.PHONY: stress
stress: deps all
	SOCKLAB_BIN=$(CURDIR)/$(BIN) $(PROVE) --exec '' tests/stress/*.t

# make fuzz [FUZZ_TIME=60]: build each fuzz/fuzz_*.c as a libFuzzer target
# (clang) and run it FUZZ_TIME seconds; make -j2 fuzz runs two at once.
# The corpus grows in build/fuzz/corpus/NAME, seeded from tests/data
# (inputs cut at FUZZ_MAXLEN bytes: short inputs run many times faster);
# a crashing input is saved as build/fuzz/NAME-crash-*.
FUZZ_TIME ?= 60
FUZZ_MAXLEN ?= 1024
FUZZ_CC	  ?= clang
FUZZ_SRC   = $(wildcard fuzz/fuzz_*.c)
FUZZ_LIB   = lib/proto.c lib/buf.c lib/casemap.c lib/casetab.c

build/fuzz/bin/%: fuzz/%.c $(FUZZ_LIB) $(wildcard lib/*.h) | deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all $(ALL_CPPFLAGS) -o $@ $< $(FUZZ_LIB)
fuzz-run-%: build/fuzz/bin/%
	@mkdir -p build/fuzz/corpus/$*
	$< -max_total_time=$(FUZZ_TIME) -max_len=$(FUZZ_MAXLEN) -timeout=10 \
	    -print_final_stats=1 -artifact_prefix=build/fuzz/$*- \
	    build/fuzz/corpus/$* tests/data
fuzz: $(patsubst fuzz/%.c,fuzz-run-%,$(FUZZ_SRC))
.PRECIOUS: build/fuzz/bin/%

# make bench [QUICK=1] [PIN=1] [BENCH_ARGS='--models epoll,thread ...']: every
# model under load, results in results/<date>-<host>/ (see bench/bench.py
# --help); PIN=1 puts the server on one CPU and loadgen on another.
bench: deps all
	python3 bench/bench.py $(if $(filter-out 0 no,$(QUICK)),--quick) --bin $(CURDIR)/$(BIN) \
	    $(if $(filter-out 0 no,$(PIN)),--pin) $(BENCH_ARGS)

# make bench-glossary: the table of every bench figure in results/README.md,
# from bench/socklab_bench/columns.py (tests/bench-columns.t checks it).
.PHONY: bench-glossary
bench-glossary:
	python3 bench/bench.py --glossary

# make bench-scale [SCALE=10000] [SCALE_ARGS='--models epoll ...']: S
# persistent sessions (default 100,000) per event model, thread and fork;
# results/<date>-scale/ (see bench/scale.py --help).
bench-scale: all
	python3 bench/scale.py --bin $(CURDIR)/$(BIN) $(if $(SCALE),--sessions $(SCALE)) \
	    $(SCALE_ARGS)

# make bench-compare results/A results/B (or A=... B=...): the pairs of
# models that one run ranks strictly one way and the other strictly the
# other way, and the ties per load (bench/rank.py; exit 1 if any pair is
# reversed).  The two directories are goals too: they need a no-op rule.
CMP_DIRS := $(filter-out bench-compare,$(MAKECMDGOALS))
ifneq ($(filter bench-compare,$(MAKECMDGOALS)),)
.PHONY: $(CMP_DIRS)
$(CMP_DIRS):
	@:
endif
.PHONY: bench-compare bench-scale
bench-compare:
	@python3 bench/rank.py $(or $(strip $(A) $(B)),$(CMP_DIRS))

# Installed names carry a socklab- prefix: "server" and "client" are too
# plain for a shared bin directory.
install: $(PROGS)
	install -d $(DESTDIR)$(PREFIX)/bin
	for p in $(PROGS); do \
		install -m 755 $$p $(DESTDIR)$(PREFIX)/bin/socklab-$${p##*/} || exit 1; \
	done

uninstall:
	for p in $(PROGS); do rm -f $(DESTDIR)$(PREFIX)/bin/socklab-$${p##*/}; done

# Teaching demos, one per exercise of the lab (docs/exercise-*.md,
# docs/backlog.md), in the lab's order; each is bounded in time.  STEP=1
# asks each question and waits for Enter before running it, DEMO_LANG=it
# narrates in Italian, BACKLOG_ARGS='--short' or '--netns' goes to
# demo-backlog.  `make demo-NAME` runs one, `make demo` all of them,
# saying which of how many it is in.  Their command lines are not echoed:
# the demo's output is the lesson.
DEMOS	  = udp exercise2 backlog reuseaddr exercise3
DEMO_ARGS = $(if $(filter-out 0 no,$(STEP)),--step) \
	    $(if $(DEMO_LANG),--lang $(DEMO_LANG))
DEMO_ENV  = SOCKLAB_BIN=$(abspath $(BIN))
DEMO_RUN_udp	   = python3 demos/demo-udp.py
DEMO_RUN_exercise2 = python3 demos/demo-exercise2.py
DEMO_RUN_backlog   = $(BIN)/demo-backlog $(BACKLOG_ARGS)
DEMO_RUN_reuseaddr = python3 demos/demo-reuseaddr.py
DEMO_RUN_exercise3 = $(BIN)/demo-exercise3
DEMO_NEEDS_udp	     = $(BIN)/udp-server $(BIN)/udp-client
DEMO_NEEDS_exercise2 = $(BIN)/server
DEMO_NEEDS_backlog   = $(BIN)/server $(BIN)/demo-backlog
DEMO_NEEDS_reuseaddr = $(BIN)/server
DEMO_NEEDS_exercise3 = $(BIN)/demo-exercise3

.PHONY: demo backlog $(addprefix demo-,$(DEMOS))
define demo_target
demo-$(1): deps $$(DEMO_NEEDS_$(1))
	@$$(DEMO_ENV) $$(DEMO_RUN_$(1)) $$(DEMO_ARGS)
endef
$(foreach d,$(DEMOS),$(eval $(call demo_target,$(d))))
backlog: demo-backlog

demo: deps $(foreach d,$(DEMOS),$(DEMO_NEEDS_$(d)))
	@n=0; for d in $(DEMOS); do n=$$((n + 1)); \
	    printf '\n[%d/%d] make demo-%s\n' $$n $(words $(DEMOS)) $$d; \
	    $(MAKE) -s --no-print-directory demo-$$d || exit 1; \
	done

# make handouts: one HTML page per exercise, in Italian and English, for
# students and for the teacher (with the answer, measured by running the
# demos here), SVG diagrams drawn from what the demos record; written to
# build/handouts/ by scripts/handouts.py through pandoc.
.PHONY: handouts
handouts: deps $(foreach d,$(DEMOS),$(DEMO_NEEDS_$(d)))
	@$(DEMO_ENV) python3 scripts/handouts.py --out build/handouts

clean:
	rm -rf bin build

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
