# socklab - comparing server paradigms on real sockets.
#
#   make                 build every program into bin/
#   make test            run the test suite (TAP, through prove)
#   make test SANITIZE=address,undefined   the same under sanitizers
#   make bench           compare the backends, write results/
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
ALL_CFLAGS   = $(WARN) $(CFLAGS) -pthread
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
SERVER_SRC = $(filter-out servers/udp-server.c,$(wildcard servers/*.c))
LOADGEN_SRC = $(wildcard bench/loadgen*.c bench/hist.c)
PINGPONG_SRC = $(wildcard bench/pingpong.c)
DEMO_SRC   = $(wildcard demos/*.c)
UNIT_SRC   = $(wildcard tests/unit/*.c)

PROGS	= $(BIN)/server $(BIN)/client $(BIN)/udp-server $(BIN)/udp-client
ifneq ($(LOADGEN_SRC),)
PROGS	+= $(BIN)/loadgen
endif
ifneq ($(PINGPONG_SRC),)
PROGS	+= $(BIN)/pingpong
endif
PROGS	+= $(patsubst demos/%.c,$(BIN)/%,$(DEMO_SRC))
UNITS	 = $(patsubst tests/unit/%.c,$(BIN)/unit-%,$(UNIT_SRC))

obj = $(patsubst %.c,$(OBJ)/%.o,$(1))

.PHONY: all test check deps deps-test clean install uninstall casetab
all: $(PROGS) $(UNITS)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(OBJ)/libsocklab.a: $(call obj,$(LIB_SRC))
	@rm -f $@
	$(AR) rcs $@ $^

LIBA = $(OBJ)/libsocklab.a

$(BIN)/server: $(call obj,$(SERVER_SRC)) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS)
$(BIN)/udp-server: $(call obj,servers/udp-server.c) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS)
$(BIN)/client: $(call obj,clients/client.c) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS)
$(BIN)/udp-client: $(call obj,clients/udp-client.c) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS)
$(BIN)/loadgen: $(call obj,$(LOADGEN_SRC)) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) -lm
$(BIN)/pingpong: $(call obj,$(PINGPONG_SRC)) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS)
$(BIN)/%: $(OBJ)/demos/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS)
$(BIN)/unit-%: $(OBJ)/tests/unit/%.o $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) -lm

# The case table is generated C, committed; regenerating needs Python 3.
casetab:
	python3 scripts/gen-casetab.py > lib/casetab.c.tmp
	mv lib/casetab.c.tmp lib/casetab.c

# Tests: every tests/*.t through prove; SOCKLAB_BIN tells them which build.
test: deps-test all
	SOCKLAB_BIN=$(CURDIR)/$(BIN) $(PROVE) -j$(JOBS) --exec '' tests/*.t
check: test

deps-test:
	@sh scripts/deps.sh test

deps:
	@sh scripts/deps.sh all

# Installed names carry a socklab- prefix: "server" and "client" are too
# plain for a shared bin directory.
install: $(PROGS)
	install -d $(DESTDIR)$(PREFIX)/bin
	for p in $(PROGS); do \
		install -m 755 $$p $(DESTDIR)$(PREFIX)/bin/socklab-$${p##*/} || exit 1; \
	done

uninstall:
	for p in $(PROGS); do rm -f $(DESTDIR)$(PREFIX)/bin/socklab-$${p##*/}; done

clean:
	rm -rf bin build

-include $(shell find build -name '*.d' 2>/dev/null)
