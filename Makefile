# SPDX-License-Identifier: GPL-2.0
# dmabridge: out-of-tree dma-buf modules, libdmabridge and the dmabridge CLI.
#
#   make                 modules (running kernel or KERNEL_SRC), library, CLI
#   make modules         only the kernel modules
#   make userspace       only library and CLI
#   make install         library, headers, CLI and pkg-config file (PREFIX, DESTDIR)
#   make dkms-install    register, build and install the modules with DKMS
#                        (KVER=RELEASE for another kernel than the running one)
#   make check           the whole test suite in QEMU guests (tests/run)
#   make demo            the README's demonstration in a guest
#   make bench           benchmarks against upstream in a guest (bench/run;
#                        BENCH_ARGS="--quick --out DIR" and the like)

KERNEL_SRC ?= /lib/modules/$(shell uname -r)/build
PREFIX ?= /usr/local
export PREFIX DESTDIR

VERSION := $(shell sed -n 's/^\#define DMABRIDGE_VERSION "\(.*\)"/\1/p' \
		kernel/include/dmabridge/version.h)
# What DKMS needs to build the modules: the kernel tree and the UAPI headers.
DKMS_SRC := $(DESTDIR)/usr/src/dmabridge-$(VERSION)
DKMS_FILES := dkms.conf kernel include/uapi

all: modules userspace

modules:
	$(MAKE) -C kernel KERNEL_SRC=$(KERNEL_SRC)

userspace:
	$(MAKE) -C lib
	$(MAKE) -C tools

install: userspace
	$(MAKE) -C lib install
	$(MAKE) -C tools install

dkms-src:
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)
	tar -cf - --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
		--exclude='*.mod' --exclude='*.mod.c' --exclude=modules.order \
		--exclude=Module.symvers --exclude=test_importer $(DKMS_FILES) | \
		tar -xf - -C $(DKMS_SRC)

# KVER=RELEASE builds for that kernel instead of the running one.
dkms-install: dkms-src
	dkms add dmabridge/$(VERSION)
	dkms build dmabridge/$(VERSION) $(if $(KVER),-k $(KVER))
	dkms install dmabridge/$(VERSION) $(if $(KVER),-k $(KVER))

dkms-remove:
	dkms remove dmabridge/$(VERSION) --all
	rm -rf $(DKMS_SRC)

check:
	tests/run

demo:
	tools/demo

bench:
	bench/run $(BENCH_ARGS)

clean:
	-$(MAKE) -C kernel clean
	$(MAKE) -C lib clean
	$(MAKE) -C tools clean
	rm -rf build

.PHONY: all modules userspace install dkms-src dkms-install dkms-remove check \
	demo bench clean
