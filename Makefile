# SPDX-License-Identifier: GPL-2.0
#
# ept-pmap: top-level build.
#
#   make                 build ept_pmap.ko (W=1) for the running kernel when its
#                        headers are installed, else the newest installed
#                        headers (KVER=... or KDIR=... to choose)
#   make check           install what is missing, build, run every lane
#   make demo            install what is missing, boot a VM, map regions, show
#                        KPT and EPT side by side, run the hello guest (Bochs:
#                        Intel VMX), draw build/demo/address-space.svg
#   make unit | fuzz | bench | vm-bench | vmx-bench | vm-test | vmx-test
#   make kexec-test      kexec with a guest running on CPU 1 (Bochs, 2 CPUs)
#   make kvm-diff        random guests on KVM and on RUN, compared (Bochs)
#   make debug-kernel | vm-test-debug
#   make style | sparse | docs-check | dkms-check
#   make install | uninstall (DESTDIR=, PREFIX=) | dkms-install | clean

KVERS   := $(shell ls -d /lib/modules/*/build 2>/dev/null | cut -d/ -f4 | sort -V)
# the running kernel first: what `make && insmod` and `make install` want
KRUN    := $(shell uname -r)
KVER    ?= $(if $(wildcard /lib/modules/$(KRUN)/build),$(KRUN),$(lastword $(KVERS)))
KDIR    ?= /lib/modules/$(KVER)/build
EPM_CACHE ?= $(HOME)/.cache/ept-pmap
export EPM_CACHE

.PHONY: all module modules clean unit fuzz bench check deps style sparse \
	install uninstall dkms-install vm-test vmx-test kexec-test vmx-bench vm-bench demo help eptctl \
	debug-kernel vm-test-debug kvm-diff docs-check dkms-check \
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

# Where `make install` puts things (README.md, "Installing", lists them;
# scripts/docs-check.sh installs into a DESTDIR and compares). The module
# goes to /lib/modules/KVER/updates whatever PREFIX is; depmod runs only
# when DESTDIR is empty.
PREFIX      ?= /usr/local
SBINDIR     ?= $(PREFIX)/sbin
INCLUDEDIR  ?= $(PREFIX)/include
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
MODDIR      := /lib/modules/$(KVER)/updates
UAPI_HDRS   := $(wildcard include/uapi/linux/*.h)
INSTALLED   := $(MODDIR)/ept_pmap.ko $(SBINDIR)/eptctl \
	       $(MANDIR)/man8/eptctl.8 $(MANDIR)/man4/ept-pmap.4 \
	       $(BASHCOMPDIR)/eptctl \
	       $(patsubst include/uapi/%,$(INCLUDEDIR)/%,$(UAPI_HDRS))

install: module eptctl
	install -D -m 0644 ept_pmap.ko $(DESTDIR)$(MODDIR)/ept_pmap.ko
	install -D -m 0755 tools/ctl/eptctl $(DESTDIR)$(SBINDIR)/eptctl
	install -D -m 0644 Documentation/man/eptctl.8 $(DESTDIR)$(MANDIR)/man8/eptctl.8
	install -D -m 0644 Documentation/man/ept-pmap.4 $(DESTDIR)$(MANDIR)/man4/ept-pmap.4
	install -D -m 0644 tools/ctl/eptctl.bash-completion $(DESTDIR)$(BASHCOMPDIR)/eptctl
	install -d $(DESTDIR)$(INCLUDEDIR)/linux
	install -m 0644 $(UAPI_HDRS) $(DESTDIR)$(INCLUDEDIR)/linux/
	[ -f lib/Makefile ] || exit 0; $(MAKE) -C lib install DESTDIR=$(DESTDIR) \
		PREFIX=$(PREFIX) INCLUDEDIR=$(INCLUDEDIR)
	[ -n "$(DESTDIR)" ] || depmod -a $(KVER)

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	[ -f lib/Makefile ] || exit 0; $(MAKE) -C lib uninstall DESTDIR=$(DESTDIR) \
		PREFIX=$(PREFIX) INCLUDEDIR=$(INCLUDEDIR)
	[ -n "$(DESTDIR)" ] || depmod -a $(KVER)

# DKMS, by default into the system's trees (/usr/src, /var/lib/dkms,
# /lib/modules). DKMS_ROOT=DIR uses DIR/src, DIR/dkms and DIR/lib/modules
# instead, without depmod, and signs with a key of its own in DIR (DKMS
# makes one) rather than /var/lib/dkms/mok.key: scripts/dkms-check.sh does
# that, then boots the module DKMS installed.
DKMS_VER := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
DKMS_SRC := $(if $(DKMS_ROOT),$(DKMS_ROOT)/src,/usr/src)/ept-pmap-$(DKMS_VER)
DKMS     := $(if $(DKMS_ROOT),mok_signing_key=$(DKMS_ROOT)/mok.key \
	    mok_certificate=$(DKMS_ROOT)/mok.pub) \
	    dkms $(if $(DKMS_ROOT),--sourcetree $(DKMS_ROOT)/src \
	    --dkmstree $(DKMS_ROOT)/dkms --installtree $(DKMS_ROOT)/lib/modules \
	    --no-depmod)
dkms-install:
	if [ -n "$$($(DKMS) status -m ept-pmap -v $(DKMS_VER))" ]; then \
		$(DKMS) remove ept-pmap/$(DKMS_VER) --all; fi
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)
	cp -r Kbuild Makefile dkms.conf src include $(DKMS_SRC)/
	find $(DKMS_SRC) \( -name '*.o' -o -name '*.ko' \
		-o -name '.*.cmd' -o -name '*.mod*' \) -delete
	$(DKMS) add ept-pmap/$(DKMS_VER)
	$(DKMS) build ept-pmap/$(DKMS_VER) -k $(KVER)
	$(DKMS) install ept-pmap/$(DKMS_VER) -k $(KVER)

eptctl:
	$(MAKE) -C tools/ctl

selftests:
	$(MAKE) -C selftests

vm-test:
	bash selftests/vm/lane.sh $(KVERS_TEST)

vmx-test:
	bash selftests/bochs/lane.sh

# a guest running on CPU 1 while CPU 0 kexecs: the next kernel has both (Bochs)
kexec-test:
	bash selftests/bochs/kexec-test.sh

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

docs-check:
	bash scripts/docs-check.sh

dkms-check:
	bash scripts/dkms-check.sh

check: deps
	bash scripts/check.sh

help:
	@sed -n '3,/^$$/{/^$$/d;p}' Makefile
