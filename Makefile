# SPDX-License-Identifier: GPL-2.0
# dmabridge: out-of-tree dma-buf modules, libdmabridge and the dmabridge CLI.
#
#   make                 modules (running kernel or KERNEL_SRC), library, CLI
#   make modules         only the kernel modules
#   make userspace       only library and CLI
#   make install         library, headers, CLI and pkg-config file (PREFIX, DESTDIR)
#   make check           the whole test suite in QEMU guests (tests/run)
#   make demo            the README's demonstration in a guest

KERNEL_SRC ?= /lib/modules/$(shell uname -r)/build
PREFIX ?= /usr/local
export PREFIX DESTDIR

all: modules userspace

modules:
	$(MAKE) -C kernel KERNEL_SRC=$(KERNEL_SRC)

userspace:
	$(MAKE) -C lib
	$(MAKE) -C tools

install: userspace
	$(MAKE) -C lib install
	$(MAKE) -C tools install

check:
	tests/run

demo:
	tools/demo

clean:
	-$(MAKE) -C kernel clean
	$(MAKE) -C lib clean
	$(MAKE) -C tools clean
	rm -rf build

.PHONY: all modules userspace install check demo clean
