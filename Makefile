# Arrow: arrowh (micro-hypervisor), ainit (guest PID 1), arrow (CLI), the guest kernel
# and the machine-mode helper. `make` builds into build/, `make install` copies to PREFIX.

VERSION    := 0.1.0
PREFIX     ?= /usr/local
BUILD      ?= build
CC         ?= gcc
MUSLCC     ?= musl-gcc

WARN       := -Wall -Wextra -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes -Wno-missing-field-initializers -Werror
CFLAGS     ?= -O2 -g
CFLAGS     += -std=gnu11 $(WARN) -D_GNU_SOURCE -DARROW_VERSION='"$(VERSION)"' -Isrc
# arrowh is static: it starts faster (no dynamic loader) and needs nothing at run time.
VMM_LDFLAGS := -static -pthread -lz -lseccomp

VMM_SRCS := $(wildcard src/vmm/*.c src/vmm/arch/x86/*.c src/vmm/virtio/*.c src/vmm/hw/*.c \
	    src/vmm/snap/*.c src/vmm/p9/*.c) src/common/kvmprobe.c src/common/statedir.c src/common/macaddr.c \
	    src/common/runcfg.c src/common/cgroup.c src/common/ownership.c
VMM_OBJS := $(VMM_SRCS:%.c=$(BUILD)/obj/%.o)
VMM_LIB_OBJS := $(filter-out $(BUILD)/obj/src/vmm/main.o,$(VMM_OBJS))

COMMON_SRCS := $(wildcard src/common/*.c)
LIB_SRCS := $(wildcard src/lib/*.c src/lib/*/*.c)
CLI_SRCS := $(wildcard src/cli/*.c)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o) $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) \
	    $(COMMON_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_LIBS := -ljansson -ldl
# libarchive and libcrypto are loaded when first needed (src/lib/image/lazylib.h); tests link them
UNIT_LIBS := -larchive -lcrypto -lseccomp -lcurl

# arrow-oci, the OCI runtime (docs/oci.md): its own front end over src/lib and src/common
OCI_SRCS := $(wildcard src/oci/*.c)
OCI_OBJS := $(OCI_SRCS:%.c=$(BUILD)/obj/%.o) $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) \
	    $(COMMON_SRCS:%.c=$(BUILD)/obj/%.o)

# arrow-gateway, the functions gateway (docs/functions.md): libmicrohttpd serves, libcurl forwards
GW_SRCS := $(wildcard src/gateway/*.c)
GW_OBJS := $(GW_SRCS:%.c=$(BUILD)/obj/%.o) $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) \
	    $(COMMON_SRCS:%.c=$(BUILD)/obj/%.o)
GW_LIBS := -ljansson -ldl -lmicrohttpd -lcurl -pthread
# all but its HTTP server and client: unit-tested (tests/unit/test_functions.c)
GW_UNIT_SRCS := src/gateway/route.c src/gateway/api.c src/gateway/pool.c src/gateway/metrics.c \
		src/gateway/proxy.c

INIT_SRCS := $(wildcard src/init/*.c) src/common/runcfg.c src/common/proctcp.c src/common/execproto.c \
	     src/common/stdfds.c

LIBDIR   := $(BUILD)/lib/arrow
BINS     := $(BUILD)/bin/arrowh $(BUILD)/bin/arrow $(BUILD)/bin/arrow-oci $(BUILD)/bin/arrow-gateway
GUEST    := $(LIBDIR)/ainit $(LIBDIR)/vmlinux $(LIBDIR)/vmlinux-net
MACHINE  := $(LIBDIR)/machine/bzImage $(LIBDIR)/machine/initramfs.cpio
TESTPROGS := $(patsubst tests/guest/%.c,$(BUILD)/tests/guest/%,$(wildcard tests/guest/*.c))

.PHONY: all install uninstall test unit-test integration-test setup demo bench clean format \
	kernel machine-kernel
all: $(BINS) $(GUEST) $(MACHINE) $(TESTPROGS)

# V=1 shows full command lines.
Q := $(if $(V),,@)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/bin/arrowh: $(VMM_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(VMM_LDFLAGS)

$(BUILD)/bin/arrow: $(CLI_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(CLI_LIBS)

$(BUILD)/bin/arrow-oci: $(OCI_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(CLI_LIBS)

$(BUILD)/bin/arrow-gateway: $(GW_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(GW_LIBS)

# ainit: static musl, small, no dependencies in the guest.
$(LIBDIR)/ainit: $(INIT_SRCS) $(wildcard src/init/*.h src/common/*.h)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  MUSLCC  $@")
	$(Q)$(MUSLCC) -std=gnu11 $(WARN) -D_GNU_SOURCE -Isrc -Os -static -s -o $@ $(INIT_SRCS)

# The guest kernel and the helper kernel: cached outside the tree by kernel/build.sh.
$(LIBDIR)/vmlinux: kernel/arrow.config kernel/build.sh
	kernel/build.sh kernel/arrow.config vmlinux $@ arrow
# The same kernel plus IPv4 and virtio-net, booted only by Arrows that have a network.
$(BUILD)/kernel/arrow-net.config: kernel/arrow.config kernel/net.config
	@mkdir -p $(dir $@)
	cat $^ >$@
# Built incrementally in vmlinux's tree (kernel/build.sh): only what networking changes.
$(LIBDIR)/vmlinux-net: $(BUILD)/kernel/arrow-net.config kernel/build.sh $(LIBDIR)/vmlinux
	kernel/build.sh $< vmlinux $@ arrow
# Debian's packaged kernel, not compiled (machine/kernel.sh); also writes machine/modules.
$(LIBDIR)/machine/bzImage: machine/kernel.sh
	machine/kernel.sh $(LIBDIR)/machine
$(LIBDIR)/machine/initramfs.cpio: machine/init machine/mkinitramfs.sh $(BUILD)/machine/kvmhold \
				  $(LIBDIR)/machine/bzImage
	machine/mkinitramfs.sh machine/init $(BUILD)/machine/kvmhold $(LIBDIR)/machine $@
# The helper's keeper of one idle VM (machine/kvmhold.c), static: the initramfs has no libc.
$(BUILD)/machine/kvmhold: machine/kvmhold.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -static -o $@ $<

# Guest-side test programs: static musl binaries run as Arrows by the integration tests.
$(BUILD)/tests/guest/%: tests/guest/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  MUSLCC  $@")
	$(Q)$(MUSLCC) -std=gnu11 -Wall -Wextra -Werror -O2 -static -o $@ $<

# Unit tests (cmocka): no VM needed.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
# ainit's exec session runs on a host too (tests/unit/test_execsvc.c)
INIT_HOST_SRCS := src/init/execsvc.c src/init/exectop.c
INIT_HOST_OBJS := $(INIT_HOST_SRCS:%.c=$(BUILD)/obj/%.o)
$(BUILD)/tests/unit/%: tests/unit/%.c $(VMM_LIB_OBJS) $(filter-out $(BUILD)/obj/src/cli/main.o,$(CLI_OBJS)) \
		$(INIT_HOST_OBJS) $(GW_UNIT_SRCS:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(CFLAGS) -Wno-missing-prototypes -MMD -MP -MF $@.d -o $@ $< $(filter %.o %.a,$^) \
		-lcmocka -pthread \
		$(CLI_LIBS) $(UNIT_LIBS) -lz

# Sanitizer builds (docs/fuzzing.md): clang-14 with ASan+UBSan (every error fatal), into
# build/san/obj. `make asan` runs the unit tests built that way; `make fuzz` runs the libFuzzer
# targets of tests/fuzz for FUZZ_TIME seconds each; `make fuzz-replay` replays their corpora.
SAN_CC     ?= clang-14
SAN        := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_CFLAGS := -O1 -g -std=gnu11 $(WARN) -D_GNU_SOURCE -DARROW_VERSION='"$(VERSION)"' -Isrc $(SAN) \
	      -fsanitize=fuzzer-no-link
SAN_SRCS   := $(sort $(filter-out src/vmm/main.c src/cli/main.c,$(VMM_SRCS) $(CLI_SRCS) $(LIB_SRCS) \
		$(COMMON_SRCS) $(INIT_HOST_SRCS) $(GW_UNIT_SRCS)))
SAN_LIB    := $(BUILD)/san/libarrow.a
SAN_ENV    := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1 \
	      UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
ASAN_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/san/tests/unit/%)
FUZZ_TIME  ?= 30
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/*.c))
FUZZ_BINS  := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/bin/%)

$(BUILD)/san/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  SANCC   $<")
	$(Q)$(SAN_CC) $(SAN_CFLAGS) -MMD -MP -c -o $@ $<

$(SAN_LIB): $(SAN_SRCS:%.c=$(BUILD)/san/obj/%.o)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/san/tests/unit/%: tests/unit/%.c $(SAN_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  SANLD   $@")
	$(Q)$(SAN_CC) $(SAN_CFLAGS) -Wno-missing-prototypes -MMD -MP -MF $@.d -o $@ $< $(filter %.o %.a,$^) -lcmocka \
		-pthread $(CLI_LIBS) $(UNIT_LIBS) -lz

# A target may #include the .c file whose static parser it drives; the archive then never
# pulls that file's own object in.
$(BUILD)/fuzz/bin/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) $(SAN_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(SAN_CC) $(SAN_CFLAGS) -fsanitize=fuzzer -Wno-missing-prototypes -Itests/fuzz -o $@ \
		$< $(SAN_LIB) -pthread $(CLI_LIBS) $(UNIT_LIBS) -lz

.PHONY: asan fuzz fuzz-build fuzz-replay
asan: $(ASAN_BINS)
	@set -e; for t in $(ASAN_BINS); do echo "== $$t"; $(SAN_ENV) $$t; done

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	FUZZ_TIME=$(FUZZ_TIME) BUILD=$(BUILD) scripts/fuzz.sh run $(FUZZ_TARGETS)

fuzz-replay: fuzz-build
	BUILD=$(BUILD) scripts/fuzz.sh replay $(FUZZ_TARGETS)

install: all
	@# the unprivileged user a jailed arrowh runs as (docs/security.md)
	getent passwd arrow >/dev/null || useradd --system --user-group --no-create-home \
		--home-dir /nonexistent --shell /usr/sbin/nologin arrow
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/arrow/machine
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(LIBDIR)/ainit $(DESTDIR)$(PREFIX)/lib/arrow/
	install -m 644 $(LIBDIR)/vmlinux $(LIBDIR)/vmlinux-net $(DESTDIR)$(PREFIX)/lib/arrow/
	install -m 644 $(MACHINE) $(LIBDIR)/machine/release $(DESTDIR)$(PREFIX)/lib/arrow/machine/
	rm -rf $(DESTDIR)$(PREFIX)/lib/arrow/machine/modules
	cp -R $(LIBDIR)/machine/modules $(DESTDIR)$(PREFIX)/lib/arrow/machine/modules

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/arrow $(DESTDIR)$(PREFIX)/bin/arrowh $(DESTDIR)$(PREFIX)/bin/arrow-oci \
		$(DESTDIR)$(PREFIX)/bin/arrow-gateway
	rm -rf $(DESTDIR)$(PREFIX)/lib/arrow

# Fresh-machine entry points (README): install what is missing, build, then act.
setup:
	scripts/setup.sh

demo: setup
	$(MAKE) all
	$(MAKE) install
	scripts/demo.sh

unit-test: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

integration-test: all
	scripts/integration.sh

# Fails when a stage left /dev/null other than the null device (see scripts/setup.sh).
devnull_check = @test -c /dev/null || { echo "make test: /dev/null is not the null device after $(1):"; \
	ls -l /dev/null; exit 1; }

test: setup
	$(MAKE) all
	$(MAKE) unit-test
	$(call devnull_check,the unit tests)
	$(MAKE) fuzz-replay asan
	$(call devnull_check,fuzz-replay and asan)
	$(MAKE) integration-test
	$(call devnull_check,the integration tests)

bench:
	scripts/setup.sh bench
	$(MAKE) all
	bench/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

# (unit tests #include the sources they test: their .d files name those, so a change rebuilds them)
-include $(shell find $(BUILD)/obj $(BUILD)/san $(BUILD)/tests -name '*.d' 2>/dev/null)
