# SPDX-License-Identifier: GPL-2.0
# Span: multi-hypervisor nested virtual machines for KVM/QEMU.
# `make help` lists the targets; Documentation/build.rst explains them.

TOP   := $(abspath .)
BUILD := $(TOP)/build
export TOP BUILD

.PHONY: all help deps kernel qemu image check-kselftest check-kselftest-shadow check-patches check-series check-model \
	check-span check-live \
	check-lint test \
	check-nested bench bench-kvm-ipi bench-shadow bench-span bench-nested demo lab-shell clean

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

# Span's selftests and a few stock ones again with shadow paging in the lab
# (kvm_amd.npt=0), where span_shadow_test runs instead of skipping.
SHADOW_KSELFTESTS := span_bad_input_test span_ipi_test span_ring_test \
	span_sipi_test span_move_test span_shadow_test kvm_binary_stats_test \
	set_memory_region_test smm_test sync_regs_test kvm_page_table_test
check-kselftest-shadow: image
	@$(TOP)/scripts/run-kselftest --append kvm_amd.npt=0 --name kselftest-shadow \
		$(SHADOW_KSELFTESTS)

check-span: image
	@$(TOP)/scripts/run-span-tests

# The live-span tests alone (member loss, vCPU moves), both paging modes;
# `make check-span` runs them with the others.
LIVE_SPAN_TESTS := 04-member-loss.sh 13-move-vcpu.sh
check-live: image
	@$(TOP)/scripts/run-span-tests $(LIVE_SPAN_TESTS)

# Full nesting: the lab as L0, L1 VMs (our kernel and QEMU) under it, the
# Debian guest as L2 (Documentation/testing.rst; a `make test` layer).
check-nested: image
	@$(TOP)/scripts/run-nested-tests

check-patches:
	@$(TOP)/scripts/check-patches

# Every prefix of both patch series builds (slow; not part of `make test`).
check-series:
	@$(TOP)/scripts/check-series

check-model:
	@$(TOP)/scripts/check-model

# checkpatch (kernel's and QEMU's), clang-format and shellcheck over
# everything Span owns; TAP in build/results/lint.tap (a `make test` layer).
check-lint:
	@$(TOP)/scripts/check-lint

test:
	@$(TOP)/scripts/run-tests

# Benchmarks write JSON under build/bench/ (see Documentation/benchmarks.rst).
bench: bench-channel bench-kvm-ipi bench-span bench-shadow bench-nested

bench-kvm-ipi: image
	@$(TOP)/scripts/bench-kvm-ipi

bench-shadow: image
	@$(TOP)/scripts/bench-shadow

bench-span: image
	@$(TOP)/scripts/bench-span

bench-nested: image
	@$(TOP)/scripts/bench-nested

demo: image
	@$(TOP)/scripts/demo

lab-shell: image
	@$(TOP)/scripts/lab shell

clean:
	rm -rf $(BUILD)

include $(TOP)/control/control.mk
