# SPDX-License-Identifier: GPL-2.0
# Span: multi-hypervisor nested virtual machines for KVM/QEMU.
# `make help` lists the targets; Documentation/build.rst explains them.

TOP   := $(abspath .)
BUILD := $(TOP)/build
export TOP BUILD

.PHONY: all help deps kernel qemu image check-kselftest check-patches check-model test \
	bench bench-kvm-ipi demo lab-shell clean

all: kernel qemu control image

help:
	@sed -n 's/^## \{0,1\}//p' $(TOP)/Documentation/make-targets.txt

deps:
	@$(TOP)/scripts/deps

kernel:
	@$(TOP)/scripts/build-kernel

qemu:
	@$(TOP)/scripts/build-qemu

image: kernel qemu control
	@$(TOP)/scripts/build-image

check-kselftest: image
	@$(TOP)/scripts/run-kselftest

check-span: image
	@$(TOP)/scripts/run-span-tests

check-patches:
	@$(TOP)/scripts/check-patches

check-model:
	@$(TOP)/scripts/check-model

test:
	@$(TOP)/scripts/run-tests

# Benchmarks write JSON under build/bench/ (see Documentation/benchmarks.rst).
bench: bench-channel bench-kvm-ipi

bench-kvm-ipi: image
	@$(TOP)/scripts/bench-kvm-ipi

demo: image
	@$(TOP)/scripts/demo

lab-shell: image
	@$(TOP)/scripts/lab shell

clean:
	rm -rf $(BUILD)

include $(TOP)/control/control.mk
