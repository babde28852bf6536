# SPDX-License-Identifier: GPL-2.0
#
# ept-pmap: top-level build.
#
#   make                 build ept_pmap.ko (W=1) against the newest installed
#                        kernel headers (KVER=... or KDIR=... to choose)
#   make check           install what is missing, build, run every lane
#   make demo            boot a VM, map regions, show KPT and EPT side by side,
#                        run the hello guest (Bochs: Intel VMX)
#   make unit | fuzz | bench | vm-bench | vmx-bench | vm-test | vmx-test
#   make kvm-diff        random guests on KVM and on RUN, compared (Bochs)
#   make debug-kernel | vm-test-debug
#   make style | sparse
#   make install | dkms-install | clean

KVERS   := $(shell ls -d /lib/modules/*/build 2>/dev/null | cut -d/ -f4 | sort -V)
KVER    ?= $(lastword $(KVERS))
KDIR    ?= /lib/modules/$(KVER)/build
EPM_CACHE ?= $(HOME)/.cache/ept-pmap
export EPM_CACHE

.PHONY: all module modules clean unit fuzz bench check deps style sparse \
	install dkms-install vm-test vmx-test vmx-bench vm-bench demo help eptctl \
	debug-kernel vm-test-debug kvm-diff \
	selftests

all: module

module modules:
	@test -d "$(KDIR)" || { echo "error: no kernel headers at '$(KDIR)'" \
		"(install linux-headers-amd64, or set KDIR=)" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

clean:
	-[ ! -d "$(KDIR)" ] || $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C tests/unit clean
	$(MAKE) -C bench clean
	rm -rf build

unit:
	$(MAKE) -C tests/unit run

fuzz:
	$(MAKE) -C tests/unit fuzz FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60)

bench:
	$(MAKE) -C bench run

deps:
	bash scripts/deps.sh

# checkpatch from Debian's linux-source (cached, never committed) and sparse
style:
	bash scripts/style.sh

sparse:
	$(MAKE) -C $(KDIR) M=$(CURDIR) C=2 CF="-D__CHECK_ENDIAN__" W=1 modules

install: module
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install
	depmod -a $(KVER)

DKMS_VER := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
dkms-install:
	rm -rf /usr/src/ept-pmap-$(DKMS_VER)
	mkdir -p /usr/src/ept-pmap-$(DKMS_VER)
	cp -r Kbuild Makefile dkms.conf src include /usr/src/ept-pmap-$(DKMS_VER)/
	find /usr/src/ept-pmap-$(DKMS_VER) \( -name '*.o' -o -name '*.ko' \
		-o -name '.*.cmd' -o -name '*.mod*' \) -delete
	dkms add ept-pmap/$(DKMS_VER)
	dkms build ept-pmap/$(DKMS_VER) -k $(KVER)
	dkms install ept-pmap/$(DKMS_VER) -k $(KVER)

eptctl:
	$(MAKE) -C tools/ctl

selftests:
	$(MAKE) -C selftests

vm-test:
	bash selftests/vm/lane.sh $(KVERS_TEST)

vmx-test:
	bash selftests/bochs/lane.sh

debug-kernel:
	bash debug/build-kernel.sh

vm-test-debug:
	bash debug/lane.sh

# SEED=, N=, FPU_LIVE=0|1: see selftests/kvm-diff/lane.sh
kvm-diff:
	bash selftests/kvm-diff/lane.sh

vmx-bench:
	bash bench/vmx-bench.sh

vm-bench:
	bash bench/vm-bench.sh

# the same packages as check: one step, scripts/deps.sh
demo: deps
	bash scripts/demo.sh

check: deps
	bash scripts/check.sh

help:
	@sed -n '3,13p' Makefile
