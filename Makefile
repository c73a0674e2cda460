# svmd: the one build entry. Plain GNU make; dependencies through pkg-config only.
#
#   make            build svmd, svmctl, libsvmclient
#   make demo       the daemon on the simulated kernel, driven by real clients
#   make check      unit and integration tests, check-stress, then check-vm and check-system
#                   (installs packages as root)
#   make check-vm   svmd on real kernels in QEMU: Debian's 6.12 (VFIO containers), then
#                   check-vm-iommufd and check-vm-arm64
#   make check-vm-iommufd  svmd on iommufd and VFIO cdevs: svmd's own Linux 7.x test kernel in
#                   QEMU (the kernel is built once per machine, cached in /var/cache/svmd-test)
#   make check-vm-arm64  svmd's PASID-table bind on an emulated Arm SMMUv3: QEMU 11.x from a
#                   cached trixie root, svmd's own arm64 7.x kernels (stock and test-only),
#                   cross-built svmd (root; cached in /var/cache/svmd-test)
#   make check-system  svmd's packages installed into Debian 12 booted with systemd-nspawn (root)
#   make bench      svmd against bare IPC baselines (optimised build-bench/, bench/results.json)
#   make asan       the same tests on an ASan+UBSan build
#   make check-stress  svmd's reliability suite, tests/stress/ (root; SVMD_STRESS_SCALE=N for
#                   larger sizes)
#   make fuzz       libFuzzer on the wire codec and the policy parser (FUZZ_SECONDS each)
#   make check-build  the tests a package build runs, none needing root (dh_auto_test)
#   make dist       svmd-VERSION.tar.gz of the tracked files, reproducible
#   make deb        the Debian packages from that tarball, checked by lintian (build/deb/)
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean

VERSION    := $(shell sed -n 's/^#define SVMD_VERSION_STRING "\(.*\)"$$/\1/p' protocol/svmd-version.h)
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/svmd
SYSCONFDIR ?= /etc
# Where systemd, udev and D-Bus look, as their pkg-config files say (a fallback if absent).
pcvar = $(shell $(PKG_CONFIG) --variable=$(2) $(1) 2>/dev/null)
SYSTEMDUNITDIR ?= $(or $(call pcvar,systemd,systemdsystemunitdir),/lib/systemd/system)
SYSUSERSDIR    ?= $(or $(call pcvar,systemd,sysusersdir),/usr/lib/sysusers.d)
CATALOGDIR     ?= $(or $(call pcvar,systemd,catalogdir),/usr/lib/systemd/catalog)
UDEVRULESDIR   ?= $(or $(call pcvar,udev,udevdir),/lib/udev)/rules.d
DBUSDIR        ?= $(or $(call pcvar,dbus-1,datadir),/usr/share)/dbus-1
BASHCOMPDIR    ?= $(or $(call pcvar,bash-completion,completionsdir),$(PREFIX)/share/bash-completion/completions)
ZSHCOMPDIR     ?= $(PREFIX)/share/zsh/site-functions
# The vendor policy directory svmd reads (its third, after /etc and /run), whatever PREFIX is:
# a PREFIX=/usr/local build must not put its default policy where svmd never looks.
POLICYDIR  ?= /usr/lib/svmd/policy.d
DESTDIR    ?=

BUILD      ?= build
CC         ?= gcc
PKG_CONFIG ?= pkg-config
FUZZ_SECONDS ?= 60

# Evaluated once, when first used: `make check` installs the packages before a sub-make
# that needs them starts.
deps_cflags = $(eval deps_cflags := $$(shell $(PKG_CONFIG) --cflags libsystemd libevent libseccomp))$(deps_cflags)
deps_libs   = $(eval deps_libs := $$(shell $(PKG_CONFIG) --libs libsystemd libevent libseccomp))$(deps_libs)
client_libs = $(eval client_libs := $$(shell $(PKG_CONFIG) --libs libsystemd))$(client_libs)
test_cflags = $(eval test_cflags := $$(shell $(PKG_CONFIG) --cflags criterion))$(test_cflags)
test_libs   = $(eval test_libs := $$(shell $(PKG_CONFIG) --libs criterion))$(test_libs)

WARN     := -Wall -Wextra -Wvla -Wmissing-prototypes -Wshadow -Wformat=2 \
            -Wno-format-nonliteral -Wstrict-prototypes
# Warnings fail the build only in the project's own checks (make check, demo, asan, the
# suites, fuzz, bench, and so CI); a package build or a plain `make` warns and goes on.
# WERROR=-Werror or WERROR= on the command line decides it either way.
WERROR_GOALS := check check-run check-stress% check-vm% check-system% demo% asan fuzz% bench%
WERROR   ?= $(if $(filter $(WERROR_GOALS),$(MAKECMDGOALS)),-Werror)
export WERROR
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
OPT      ?= -O2 -g
SANITIZE ?=
CPPFLAGS ?=
CFLAGS   ?=
LDFLAGS  ?=
# The environment's CPPFLAGS, CFLAGS and LDFLAGS (dpkg-buildflags', say) come last, so they win.
ALL_CFLAGS  = -std=gnu11 -D_GNU_SOURCE $(OPT) $(WARN) $(WERROR) $(HARDEN) $(SANITIZE) \
              -iquote protocol -iquote daemon -iquote client $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now,--as-needed $(SANITIZE) $(LDFLAGS)

PROTOCOL_SRC := protocol/svmd-proto.c protocol/svmd-wire.c
# The daemon without main.c, so tests link exactly the modules they exercise.
CORE_SRC := daemon/audit.c daemon/backend.c daemon/backends.c daemon/backend-sim.c \
            daemon/backend-vfio.c daemon/backend-iommufd.c daemon/iommufd-mock.c daemon/iommufd-smmuv3.c \
            daemon/pci-sysfs.c daemon/bus.c \
            daemon/bus-broker.c daemon/bus-binding.c daemon/client.c daemon/config.c daemon/core.c \
            daemon/device.c daemon/hashmap.c daemon/identity.c daemon/lifetime.c \
            daemon/user-limits.c daemon/log.c daemon/loop.c \
            daemon/ops.c daemon/ops-map.c daemon/ops-status.c daemon/policy.c \
            daemon/persist.c daemon/policy-load.c daemon/process.c \
            daemon/registry.c daemon/request.c daemon/sandbox.c daemon/seed-abi.c daemon/server.c \
            daemon/sim-kernel.c daemon/udev-match.c daemon/util.c
LIBCLIENT_SRC := client/libsvmclient.c client/libsvmclient-socket.c client/libsvmclient-bus.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

# Everything is rebuilt when the flags change (CFLAGS=..., LDFLAGS=..., OPT=, CC=): every object
# depends on $(FLAGS_STAMP), which holds the last flags and is rewritten only when they differ,
# and every program and library on its objects. -Werror is left out: it changes no object, only
# whether a warning stops the build, so `make` and then `make check` build once.
FLAGS_STAMP := $(BUILD)/.flags
flags_now := $(CC) $(filter-out $(WERROR),$(ALL_CFLAGS)) $(ALL_LDFLAGS) $(POLICYDIR)
ifneq ($(flags_now),$(shell cat $(FLAGS_STAMP) 2>/dev/null))
$(shell mkdir -p $(BUILD) && printf '%s\n' '$(subst ','\'',$(flags_now))' >$(FLAGS_STAMP))
endif

# `make V=1` shows the commands.
ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-7s %s\n' $(1) $(2);
endif

UNIT_TESTS := protocol hashmap policy registry sim-kernel seed-abi vfio-abi iommufd-abi sandbox \
              config process audit user-limits ops ops-map bus-reply loop udev-match
INTEGRATION_TESTS := socket policy bus vfio iommufd abi restart
TEST_BINS := $(addprefix $(BUILD)/tests/unit-,$(UNIT_TESTS)) \
             $(addprefix $(BUILD)/tests/integration-,$(INTEGRATION_TESTS))
# Preloaded into svmd by the vfio and iommufd integration suites: /dev/vfio and /dev/iommu
# emulated at the syscall boundary, with the simulated kernel behind the seed ioctl.
EMUL_SRC := tests/vfio-emul/vfio-emul.c tests/vfio-emul/iommufd-emul.c daemon/backend.c \
            daemon/backend-sim.c daemon/hashmap.c daemon/seed-abi.c daemon/sim-kernel.c \
            daemon/util.c daemon/device.c protocol/svmd-proto.c

.PHONY: all check check-run check-build dist deb check-vm check-vm-run check-vm-iommufd \
        check-vm-iommufd-run check-vm-arm64 check-vm-arm64-run \
        check-system check-system-run demo demo-run asan fuzz fuzz-run install clean deps format \
        check-format
.DEFAULT_GOAL := all
# Keep test objects between runs (they are intermediates of the pattern rules).
.SECONDARY: $(call obj,$(addprefix tests/unit/test-,$(addsuffix .c,$(UNIT_TESTS))) \
		$(addprefix tests/integration/test-,$(addsuffix .c,$(INTEGRATION_TESTS))) \
		tests/integration/harness.c tests/integration/fake-machine.c \
		tests/unit/ops-fixture.c)

all: $(BUILD)/svmd $(BUILD)/svmctl $(BUILD)/libsvmclient.so $(BUILD)/svmctl.installed

# The daemon names the vendor policy directory in its defaults and its --help.
$(call obj,daemon/policy-load.c daemon/main.c): \
	ALL_CFLAGS += -DSVMD_VENDOR_POLICYDIR='"$(POLICYDIR)"'

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(ALL_CFLAGS) $(deps_cflags) -MMD -MP -c -o $@ $<

$(BUILD)/obj/client/%.pic.o: client/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c -o $@ $<
$(BUILD)/obj/protocol/%.pic.o: protocol/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c -o $@ $<

$(BUILD)/libsvmd-core.a: $(call obj,$(CORE_SRC) $(PROTOCOL_SRC))
	@rm -f $@
	$(call say,AR,$@)$(AR) rcs $@ $^

$(BUILD)/svmd: $(call obj,daemon/main.c) $(BUILD)/libsvmd-core.a
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(deps_libs)

LIBCLIENT_PIC := $(patsubst %.c,$(BUILD)/obj/%.pic.o,$(LIBCLIENT_SRC) $(PROTOCOL_SRC))

$(BUILD)/libsvmclient.a: $(call obj,$(LIBCLIENT_SRC) $(PROTOCOL_SRC))
	@rm -f $@
	$(call say,AR,$@)$(AR) rcs $@ $^

$(BUILD)/libsvmclient.so.0: $(LIBCLIENT_PIC) client/libsvmclient.sym
	$(call say,LD,$@)$(CC) -shared -Wl,-soname,libsvmclient.so.0 -Wl,--version-script=client/libsvmclient.sym \
		-Wl,-z,relro,-z,now,-z,defs $(SANITIZE) $(LDFLAGS) -o $@ $(LIBCLIENT_PIC) \
		$(client_libs)

$(BUILD)/libsvmclient.so: $(BUILD)/libsvmclient.so.0
	$(Q)ln -sf libsvmclient.so.0 $@

# svmctl carries its own copy of the library, so it runs from the build tree as any user; the
# installed one (svmctl.installed) uses the shared library like any other client. The codec's
# device-name check it shares with svmd is not part of the library's API: it is linked in.
$(BUILD)/svmctl: $(call obj,client/svmctl.c) $(BUILD)/libsvmclient.a
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(client_libs)

$(BUILD)/svmctl.installed: $(call obj,client/svmctl.c protocol/svmd-proto.c) \
		$(BUILD)/libsvmclient.so
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) -L$(BUILD) -lsvmclient \
		$(client_libs)

# check-system's client that holds bindings across svmd's restarts (tests/system/checks.sh),
# and its rewriter of a state file into the version an older svmd wrote.
$(BUILD)/tests/svmd-restart-client: $(call obj,tests/system/restart-client.c) $(BUILD)/libsvmclient.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(client_libs)
$(BUILD)/tests/svmd-state-v1: $(call obj,tests/system/state-v1.c)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^

# Unit tests: each links its test file, the module under test and the modules it needs, never
# the whole daemon, so an accidental dependency fails the link (fakes are in the test files).
unit_objs_protocol    := $(PROTOCOL_SRC)
unit_objs_hashmap     := daemon/hashmap.c
unit_objs_policy      := daemon/policy.c daemon/hashmap.c daemon/util.c protocol/svmd-proto.c
unit_objs_registry    := daemon/registry.c daemon/identity.c daemon/process.c daemon/policy.c \
                         daemon/hashmap.c daemon/util.c protocol/svmd-proto.c
unit_objs_sim-kernel  := daemon/sim-kernel.c daemon/backend-sim.c daemon/backends.c \
                         daemon/backend-vfio.c daemon/backend-iommufd.c daemon/iommufd-mock.c daemon/iommufd-smmuv3.c \
                         daemon/pci-sysfs.c \
                         daemon/backend.c daemon/seed-abi.c daemon/device.c daemon/hashmap.c \
                         daemon/util.c daemon/log.c protocol/svmd-proto.c
unit_objs_seed-abi    := daemon/seed-abi.c daemon/util.c protocol/svmd-proto.c
unit_objs_vfio-abi    :=
unit_objs_iommufd-abi :=
unit_objs_sandbox     := daemon/sandbox.c daemon/log.c
unit_objs_config      := daemon/config.c
unit_objs_udev-match  := daemon/udev-match.c daemon/device.c daemon/pci-sysfs.c daemon/util.c \
                         protocol/svmd-proto.c
unit_objs_process     := daemon/process.c
unit_objs_audit       := daemon/audit.c
unit_objs_loop        := daemon/loop.c daemon/audit.c daemon/log.c daemon/util.c
unit_objs_user-limits := daemon/user-limits.c daemon/registry.c daemon/identity.c \
                         daemon/process.c daemon/policy.c daemon/hashmap.c daemon/util.c \
                         protocol/svmd-proto.c
# The request core on the simulated kernel; audit_log() is the fixture's (ops-fixture.c). The
# wrapped calls fail on demand, so every undo path runs. test-ops-map.c: the maps' recipes.
OPS_CORE              := daemon/ops.c daemon/ops-map.c daemon/ops-status.c daemon/request.c \
                         daemon/core.c daemon/persist.c \
                         daemon/lifetime.c daemon/user-limits.c daemon/registry.c \
                         daemon/identity.c daemon/process.c daemon/policy.c \
                         daemon/policy-load.c daemon/hashmap.c daemon/backend.c \
                         daemon/backend-sim.c daemon/sim-kernel.c daemon/seed-abi.c \
                         daemon/device.c daemon/util.c daemon/log.c protocol/svmd-proto.c
unit_objs_ops         := tests/unit/ops-fixture.c $(OPS_CORE)
unit_ldflags_ops      := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=reallocarray \
                         -Wl,--wrap=strdup,--wrap=event_new,--wrap=pipe2
unit_objs_ops-map     := $(unit_objs_ops)
unit_ldflags_ops-map  := $(unit_ldflags_ops)

# The D-Bus front-end and the core on a private dbus-daemon, with svmd's replies failing on
# demand; the client side is libsvmclient.
unit_objs_bus-reply   := daemon/bus.c daemon/bus-broker.c daemon/bus-binding.c daemon/loop.c \
                         $(filter-out daemon/log.c,$(OPS_CORE)) daemon/log.c \
                         protocol/svmd-wire.c $(LIBCLIENT_SRC)
unit_ldflags_bus-reply := -Wl,--wrap=sd_bus_send

.SECONDEXPANSION:
$(BUILD)/tests/unit-%: $(call obj,tests/unit/test-%.c) $$(call obj,$$(unit_objs_$$*))
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(unit_ldflags_$*) $(deps_libs) $(test_libs)

# Integration tests use the shared library as clients do, plus the codec to misbehave with.
$(BUILD)/tests/integration-%: $(call obj,tests/integration/test-%.c tests/integration/harness.c \
		tests/integration/fake-machine.c $(PROTOCOL_SRC)) $(BUILD)/libsvmclient.so
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) -L$(BUILD) -lsvmclient \
		-Wl,-rpath,'$$ORIGIN/..' $(client_libs) $(test_libs)

# A backend driven command by command (tests/integration/backend-driver.c), for the iommufd
# suite to run under the emulator.
DRIVER_SRC := tests/integration/backend-driver.c daemon/backends.c daemon/backend.c \
              daemon/backend-iommufd.c daemon/iommufd-mock.c daemon/iommufd-smmuv3.c daemon/backend-vfio.c \
              daemon/backend-sim.c \
              daemon/sim-kernel.c daemon/seed-abi.c daemon/pci-sysfs.c daemon/device.c \
              daemon/hashmap.c daemon/util.c daemon/log.c daemon/sandbox.c \
              protocol/svmd-proto.c
$(BUILD)/tests/backend-driver: $(call obj,$(DRIVER_SRC))
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(deps_libs)

# Position-independent, symbols hidden but the interposed calls, no fortify wrappers (they
# would clash with the emulator's own open()), and no sanitizer (it is preloaded before it).
$(BUILD)/obj-emul/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) -std=gnu11 -D_GNU_SOURCE $(OPT) $(WARN) -fPIC -fvisibility=hidden \
		-iquote protocol -iquote daemon -MMD -MP -c -o $@ $<

$(BUILD)/tests/libvfio-emul.so: $(patsubst %.c,$(BUILD)/obj-emul/%.o,$(EMUL_SRC))
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) -shared -Wl,-z,relro,-z,now,-z,defs -o $@ $^

$(BUILD)/obj/tests/%.o: tests/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(ALL_CFLAGS) $(deps_cflags) $(test_cflags) \
		-Wno-missing-prototypes -MMD -MP \
		-c -o $@ $<

deps:
	@sh tests/install-deps.sh

check: deps
	@$(MAKE) --no-print-directory check-run
	@$(MAKE) --no-print-directory check-stress-run
	@$(MAKE) --no-print-directory check-vm-run
	@$(MAKE) --no-print-directory check-system-run

check-run: all $(TEST_BINS) $(BUILD)/tests/libvfio-emul.so $(BUILD)/tests/backend-driver
	@sh tests/setup-users.sh
	@sh tests/run-tests.sh $(TEST_BINS)
	@BUILD=$(BUILD) sh tests/check-units.sh
	@BUILD=$(BUILD) sh tests/check-abi.sh
	@sh tests/check-layout.sh

# What a package build runs (debian/rules, dh_auto_test): what needs no root, no network and no
# VM. The unit suites (the three that bind this process as root are reported skipped without
# it), the ABI suite (the real svmd and the library, as whoever runs it) and the library's
# export check. The other integration suites switch users, so they need root: make check.
BUILD_TEST_BINS := $(addprefix $(BUILD)/tests/unit-,$(UNIT_TESTS)) $(BUILD)/tests/integration-abi
check-build: all $(BUILD_TEST_BINS)
	@sh tests/run-tests.sh $(BUILD_TEST_BINS)
	@BUILD=$(BUILD) sh tests/check-abi.sh

# make dist: the files git tracks, as they are in the work tree, in svmd-VERSION.tar.gz; the
# same files give the same bytes (names sorted, the last commit's time, owner root, gzip -n).
DIST := $(BUILD)/svmd-$(VERSION).tar.gz
dist:
	@git rev-parse --git-dir >/dev/null 2>&1 || \
		{ echo "make dist: needs a git checkout (it packs the files git tracks)" >&2; exit 1; }
	@mkdir -p $(BUILD)
	$(Q)git ls-files -z | tar --null -T - --transform 's,^,svmd-$(VERSION)/,' --sort=name \
		--mtime=@$$(git log -1 --format=%ct) --owner=0 --group=0 --numeric-owner \
		--mode=u+rwX,go+rX,go-w --format=gnu -cf - | gzip -n -9 >$(DIST).tmp
	$(Q)mv $(DIST).tmp $(DIST)
	@echo "make dist: $(DIST)"

# make deb: the packages of debian/ (README "Debian packages"), built by dpkg-buildpackage from
# make dist's tarball in $(BUILD)/deb, so that this tree's build is left alone, then checked by
# lintian. As root it first installs what the build needs.
deb: dist
	@sh tests/build-deb.sh $(DIST) $(BUILD)/deb

# The client inside the VM: libsvmclient, and <linux/vfio.h> to use the device fd it gets.
$(BUILD)/tests/vm-client: $(call obj,tests/vm/vm-client.c) $(BUILD)/libsvmclient.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(client_libs)

check-vm: deps
	@$(MAKE) --no-print-directory check-vm-run

# Both kernels: Debian's 6.12 (legacy VFIO containers), then svmd's own 7.x (iommufd). Both
# run even when the first fails, so one run says everything.
check-vm-run: all $(BUILD)/tests/vm-client
	@status=0; BUILD=$(BUILD) sh tests/vm/run.sh || status=1; \
	$(MAKE) --no-print-directory check-vm-iommufd-run || status=1; \
	$(MAKE) --no-print-directory check-vm-arm64-run || status=1; exit $$status

# The test kernel (tests/vm/kernel.sh prints its cached directory, building it the first time),
# the programs compiled against that kernel's own uAPI headers, then the VM, with svmd in it.
check-vm-iommufd: deps
	@$(MAKE) --no-print-directory check-vm-iommufd-run

check-vm-iommufd-run: all
	@start=$$(date +%s) && kdir=$$(sh tests/vm/kernel.sh) && \
	$(MAKE) --no-print-directory KERNEL_DIR="$$kdir" vm-kernel-tests && \
	BUILD=$(BUILD) SVMD_KERNEL_DIR="$$kdir" SVMD_VM_START=$$start \
	SVMD_VM_INSTALL="$(BUILD)/svmd /bin/udevadm" \
	SVMD_VM_FILES=$(BUILD)/vm-60-svmd.rules:/etc/udev/rules.d/60-svmd.rules \
	sh tests/vm/run-kernel.sh check-vm-iommufd \
		$(addprefix $(BUILD)/tests/$$(basename "$$kdir")/,$(VM_KERNEL_PROGS))

# One set per kernel, as each has its own headers, run in this order. iommufd-smoke: the path
# svmd's iommufd backend takes; iommufd-owner: the kernel's answers that backend relies on;
# iommufd-backend: the backend itself (its sources linked in) with edu DMA (all three static);
# iommufd-svmd: svmd itself on that path, with unprivileged clients (it links libsvmclient, and
# so libsystemd: run-kernel.sh copies its libraries into the guest); udev-scope: the udev rule
# under the real udevd (a script; last, as it starts and stops udevd).
VM_KERNEL_PROGS := iommufd-smoke iommufd-owner iommufd-backend iommufd-svmd udev-scope
VM_BACKEND_SRC := daemon/backend-iommufd.c daemon/iommufd-mock.c daemon/iommufd-smmuv3.c daemon/pci-sysfs.c \
                  daemon/backend.c daemon/device.c \
                  daemon/util.c daemon/log.c protocol/svmd-proto.c
KERNEL_TESTS := $(BUILD)/tests/$(notdir $(KERNEL_DIR))
SMOKE := $(addprefix $(KERNEL_TESTS)/,iommufd-smoke iommufd-owner iommufd-backend)
VM_SVMD := $(KERNEL_TESTS)/iommufd-svmd
.PHONY: vm-kernel-tests
vm-kernel-tests: $(SMOKE) $(VM_SVMD) $(KERNEL_TESTS)/udev-scope $(BUILD)/vm-60-svmd.rules
	@:
$(KERNEL_TESTS)/udev-scope: tests/vm/udev-scope.sh
	@mkdir -p $(dir $@)
	$(Q)install -m 0755 $< $@
# The rule as installed with the guest's svmd in /usr/bin.
$(BUILD)/vm-60-svmd.rules: systemd/60-svmd.rules.in
	$(Q)sed -e 's|@SBINDIR@|/usr/bin|' $< >$@
ifneq ($(KERNEL_DIR),)
VM_CC = $(CC) -std=gnu11 -D_GNU_SOURCE $(OPT) $(WARN) -fstack-protector-strong -static
$(KERNEL_TESTS)/iommufd-backend: tests/vm/iommufd-backend.c $(VM_BACKEND_SRC) \
		$(KERNEL_DIR)/release
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(VM_CC) -iquote protocol -iquote daemon -o $@ $< $(VM_BACKEND_SRC)
$(KERNEL_TESTS)/iommufd-smoke: tests/vm/edu.h
$(KERNEL_TESTS)/%: tests/vm/%.c $(KERNEL_DIR)/release
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(VM_CC) -isystem $(KERNEL_DIR)/include -o $@ $<
$(VM_SVMD): tests/vm/iommufd-svmd.c tests/vm/edu.h client/svmclient.h $(BUILD)/libsvmclient.a \
		$(KERNEL_DIR)/release
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(ALL_CFLAGS) -isystem $(KERNEL_DIR)/include $(ALL_LDFLAGS) \
		-o $@ $< $(BUILD)/libsvmclient.a $(client_libs)
else
$(SMOKE) $(VM_SVMD):
	@echo "set KERNEL_DIR to a tests/vm/kernel.sh kernel" >&2; exit 1
endif

# The arm64 suite (tests/vm/run-arm64.sh): QEMU's SMMUv3 in a trixie root, svmd's own arm64
# kernels, svmd and tests/vm/arm64-svmd.c cross-built in that root (BUILD=build-arm64 there).
check-vm-arm64: deps
	@$(MAKE) --no-print-directory check-vm-arm64-run

check-vm-arm64-run:
	@BUILD=$(BUILD) sh tests/vm/run-arm64.sh

ifneq ($(ARM64_KERNEL_INCLUDE),)
$(BUILD)/tests/arm64-svmd: tests/vm/arm64-svmd.c tests/vm/edu.h client/svmclient.h \
		$(BUILD)/libsvmclient.a
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(ALL_CFLAGS) -isystem $(ARM64_KERNEL_INCLUDE) $(ALL_LDFLAGS) \
		-o $@ $< $(BUILD)/libsvmclient.a $(client_libs)
endif

check-system: deps
	@$(MAKE) --no-print-directory check-system-run

# Builds the packages (make deb), installs them into a Debian root cached in
# $(BUILD)/system-cache booted with systemd-nspawn, and checks them there.
check-system-run: all $(BUILD)/tests/svmd-restart-client $(BUILD)/tests/svmd-state-v1
	@$(MAKE) --no-print-directory deb
	@BUILD=$(BUILD) sh tests/system/run.sh

# The ASan+UBSan build, in build-asan/: `make asan` runs the tests on it, and check-stress runs
# its svmd.
ASAN_MAKE = $(MAKE) --no-print-directory BUILD=build-asan OPT='-O1 -g -fno-omit-frame-pointer' \
		SANITIZE='-fsanitize=address,undefined -fno-sanitize-recover=all'

asan: deps
	@$(ASAN_MAKE) check-run

# make check-stress (tests/stress/, README "The reliability suite"): each scenario starts its own
# svmd (sim backend, sandbox on, private socket and bus), runs its load, checks what must hold
# afterwards and prints one PASS/FAIL line with its figures. The policy scenario runs the svmd of
# build-asan/, built here. SVMD_STRESS_SCALE=N multiplies the sizes, SVMD_STRESS_ONLY="NAME..."
# picks scenarios.
STRESS_TOOLS := probe kill-storm fd-flood bad-clients bus-fuzz policy-mutate
STRESS_BINS := $(addprefix $(BUILD)/tests/stress/stress-,$(STRESS_TOOLS))
.PHONY: check-stress check-stress-run
.SECONDARY: $(call obj,$(addprefix tests/stress/,$(addsuffix .c,$(STRESS_TOOLS) stress)))

$(BUILD)/tests/stress/stress-%: $(call obj,tests/stress/%.c tests/stress/stress.c) \
		$(BUILD)/libsvmclient.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(client_libs)

check-stress: deps
	@$(MAKE) --no-print-directory check-stress-run

check-stress-run: all $(STRESS_BINS)
	@$(ASAN_MAKE) build-asan/svmd
	@BUILD=$(BUILD) ASAN_BUILD=build-asan sh tests/stress/run.sh

# make bench (tests/bench/, README "Benchmarks"): its own optimised build without sanitizers,
# then every scenario against its baseline; prints the table, writes bench/results.json and
# fails when a scenario could not run. BENCH_ARGS=--quick runs fewer rounds.
BENCH_BINS := $(addprefix $(BUILD)/bench/,svmd-bench echo-server naive-bus-server \
	polkit-bus-server policy-bench)
.PHONY: bench bench-run clean-bench

bench: deps
	@$(MAKE) --no-print-directory BUILD=build-bench OPT='-O2 -g' SANITIZE= bench-run

bench-run: all $(BENCH_BINS)
	@BUILD=$(BUILD) sh tests/bench/run.sh

$(BUILD)/bench/svmd-bench: $(call obj,tests/bench/svmd-bench.c) $(BUILD)/libsvmclient.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(client_libs) -lm

$(BUILD)/bench/echo-server: $(call obj,tests/bench/echo-server.c $(PROTOCOL_SRC))
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^

$(BUILD)/bench/naive-bus-server: $(call obj,tests/bench/naive-bus-server.c)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(client_libs)

$(BUILD)/bench/polkit-bus-server: $(call obj,tests/bench/polkit-bus-server.c)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(client_libs)

$(BUILD)/bench/policy-bench: $(call obj,tests/bench/policy-bench.c) $(BUILD)/libsvmd-core.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(deps_libs)

clean: clean-bench
clean-bench:
	rm -rf build-bench

demo: deps
	@$(MAKE) --no-print-directory demo-run

demo-run: all
	@BUILD=$(BUILD) sh tests/demo.sh

FUZZ_CC ?= clang-14
FUZZ_FLAGS := -std=gnu11 -D_GNU_SOURCE -g -O1 -iquote protocol -fsanitize=fuzzer,address,undefined

$(BUILD)/fuzz/fuzz-protocol: tests/fuzz/fuzz-protocol.c $(PROTOCOL_SRC)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^

$(BUILD)/fuzz/fuzz-policy: tests/fuzz/fuzz-policy.c daemon/policy.c daemon/hashmap.c daemon/util.c \
		protocol/svmd-proto.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -iquote daemon -o $@ $^

$(BUILD)/fuzz/seeds-protocol: tests/fuzz/seeds-protocol.c $(PROTOCOL_SRC)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -D_GNU_SOURCE -g -iquote protocol -o $@ $^

# libFuzzer is clang's; its runtime is only a Recommends of clang-14.
fuzz:
	@SVMD_EXTRA_PKGS="clang-14 libclang-rt-14-dev" sh tests/install-deps.sh
	@$(MAKE) --no-print-directory fuzz-run

# Each target runs FUZZ_SECONDS, seeded from the unit vectors (codec) and the shipped and test
# policies (parser).
fuzz-run: $(BUILD)/fuzz/fuzz-protocol $(BUILD)/fuzz/seeds-protocol $(BUILD)/fuzz/fuzz-policy
	@rm -rf $(BUILD)/fuzz/corpus $(BUILD)/fuzz/corpus-policy
	@mkdir -p $(BUILD)/fuzz/corpus $(BUILD)/fuzz/corpus-policy
	$(BUILD)/fuzz/seeds-protocol $(BUILD)/fuzz/corpus
	$(BUILD)/fuzz/fuzz-protocol -max_total_time=$(FUZZ_SECONDS) -timeout=5 \
		-print_final_stats=1 $(BUILD)/fuzz/corpus
	cp policy/*.policy policy/examples/*.policy tests/fuzz/policy-seeds/* \
		$(BUILD)/fuzz/corpus-policy/
	$(BUILD)/fuzz/fuzz-policy -max_total_time=$(FUZZ_SECONDS) -timeout=5 -max_len=4096 \
		-print_final_stats=1 $(BUILD)/fuzz/corpus-policy

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(POLICYDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR)/examples \
		$(DESTDIR)$(CATALOGDIR)
	install -m 0755 $(BUILD)/svmd $(DESTDIR)$(SBINDIR)/svmd
	install -m 0755 $(BUILD)/svmctl.installed $(DESTDIR)$(BINDIR)/svmctl
	install -m 0755 $(BUILD)/libsvmclient.so.0 $(DESTDIR)$(LIBDIR)/libsvmclient.so.0
	ln -sf libsvmclient.so.0 $(DESTDIR)$(LIBDIR)/libsvmclient.so
	install -m 0644 client/svmclient.h $(DESTDIR)$(INCLUDEDIR)/svmclient.h
	# Generated here, so the paths are those of this install.
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' client/svmclient.pc.in \
		>$(DESTDIR)$(LIBDIR)/pkgconfig/svmclient.pc
	install -m 0644 policy/00-default.policy $(DESTDIR)$(POLICYDIR)/00-default.policy
	install -m 0644 docs/svmd.8 $(DESTDIR)$(MANDIR)/man8/svmd.8
	install -m 0644 docs/svmctl.1 $(DESTDIR)$(MANDIR)/man1/svmctl.1
	install -m 0644 docs/svmd.policy.5 $(DESTDIR)$(MANDIR)/man5/svmd.policy.5
	install -m 0644 policy/examples/*.policy $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 README.md protocol/PROTOCOL.md $(DESTDIR)$(DOCDIR)/
	install -m 0644 systemd/svmd.catalog $(DESTDIR)$(CATALOGDIR)/svmd.catalog
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(UDEVRULESDIR) \
		$(DESTDIR)$(DBUSDIR)/system.d $(DESTDIR)$(DBUSDIR)/system-services \
		$(DESTDIR)$(SYSCONFDIR)/svmd/policy.d $(DESTDIR)$(MANDIR)/man5
	# The unit and the udev rule name the binary where this install puts it.
	sed -e 's|@SBINDIR@|$(SBINDIR)|' -e 's|@BINDIR@|$(BINDIR)|' systemd/svmd.service.in \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/svmd.service
	install -m 0644 systemd/svmd.socket $(DESTDIR)$(SYSTEMDUNITDIR)/svmd.socket
	install -m 0644 systemd/sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/svmd.conf
	sed -e 's|@SBINDIR@|$(SBINDIR)|' systemd/60-svmd.rules.in \
		>$(DESTDIR)$(UDEVRULESDIR)/60-svmd.rules
	install -m 0644 systemd/org.svmd.Broker1.conf $(DESTDIR)$(DBUSDIR)/system.d/
	install -m 0644 systemd/org.svmd.Broker1.service $(DESTDIR)$(DBUSDIR)/system-services/
	install -m 0644 docs/svmd.conf.5 $(DESTDIR)$(MANDIR)/man5/svmd.conf.5
	install -d $(DESTDIR)$(DBUSDIR)/interfaces $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) \
		$(DESTDIR)$(MANDIR)/man3
	install -m 0644 protocol/org.svmd.Broker1.xml $(DESTDIR)$(DBUSDIR)/interfaces/
	install -m 0644 completion/svmctl.bash $(DESTDIR)$(BASHCOMPDIR)/svmctl
	install -m 0644 completion/_svmctl $(DESTDIR)$(ZSHCOMPDIR)/_svmctl
	install -m 0644 docs/libsvmclient.3 docs/svm_connect.3 docs/svm_bind_task.3 docs/svm_map.3 \
		docs/svm_explain.3 $(DESTDIR)$(MANDIR)/man3/
	# The administrator's file: never overwritten.
	[ -e $(DESTDIR)$(SYSCONFDIR)/svmd/svmd.conf ] || \
		install -m 0644 systemd/svmd.conf $(DESTDIR)$(SYSCONFDIR)/svmd/svmd.conf

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD)/obj $(BUILD)/obj-emul -name '*.d' 2>/dev/null)
