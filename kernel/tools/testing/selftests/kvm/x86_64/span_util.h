/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the Span selftests (span_*): remote APIC IDs, injection
 * and the outbound ring (KVM_CAP_SPAN).
 */
#ifndef SELFTEST_KVM_SPAN_UTIL_H
#define SELFTEST_KVM_SPAN_UTIL_H

#include "kvm_util.h"
#include "processor.h"
#include "apic.h"

#ifndef APIC_LDR
#define APIC_LDR	0xD0
#endif
#ifndef APIC_DFR
#define APIC_DFR	0xE0
#endif

static inline int __span_set_remote(struct kvm_vm *vm, const uint32_t *ids,
				    uint32_t nr)
{
	struct kvm_span_remote arg = {
		.nr_ids = nr,
		.ids = (uintptr_t)ids,
	};

	return __vm_ioctl(vm, KVM_SPAN_SET_REMOTE, &arg);
}

static inline void span_set_remote(struct kvm_vm *vm, const uint32_t *ids,
				   uint32_t nr)
{
	int r = __span_set_remote(vm, ids, nr);

	TEST_ASSERT(!r, KVM_IOCTL_ERROR(KVM_SPAN_SET_REMOTE, r));
}

static inline int __span_inject(struct kvm_vm *vm, struct kvm_span_irq *irq)
{
	return __vm_ioctl(vm, KVM_SPAN_INJECT, irq);
}

/* Inject and return how many local vCPUs accepted the interrupt. */
static inline int span_inject(struct kvm_vm *vm, struct kvm_span_irq *irq)
{
	int r = __span_inject(vm, irq);

	TEST_ASSERT(r >= 0, KVM_IOCTL_ERROR(KVM_SPAN_INJECT, r));
	return r;
}

static inline struct kvm_span_irq span_irq(uint32_t dest, uint8_t dm,
					   uint8_t vector, bool x2apic)
{
	struct kvm_span_irq irq = {
		.dest_id = dest,
		.src_apic_id = KVM_SPAN_APIC_NONE,
		.vector = vector,
		.delivery_mode = dm,
		.level = 1,
		.flags = x2apic ? KVM_SPAN_IRQ_X2APIC : 0,
	};

	return irq;
}

static inline bool apic_irr_test(struct kvm_vcpu *vcpu, uint8_t vec)
{
	struct kvm_lapic_state s;
	uint32_t w;

	vcpu_ioctl(vcpu, KVM_GET_LAPIC, &s);
	memcpy(&w, &s.regs[APIC_IRR + (vec / 32) * 0x10], sizeof(w));
	return w & (1u << (vec % 32));
}

/* Software-enable a vCPU's APIC from the host; xAPIC: flat LDR @ldr_bit. */
static inline void span_host_apic_setup(struct kvm_vcpu *vcpu, bool x2apic,
					int ldr_bit)
{
	struct kvm_lapic_state s;
	uint32_t v;

	if (x2apic)
		vcpu_set_msr(vcpu, MSR_IA32_APICBASE,
			     vcpu_get_msr(vcpu, MSR_IA32_APICBASE) |
			     X2APIC_ENABLE);
	vcpu_ioctl(vcpu, KVM_GET_LAPIC, &s);
	memcpy(&v, &s.regs[APIC_SPIV], 4);
	v |= APIC_SPIV_APIC_ENABLED | 0xff;
	memcpy(&s.regs[APIC_SPIV], &v, 4);
	if (!x2apic) {
		v = 1u << (24 + ldr_bit);
		memcpy(&s.regs[APIC_LDR], &v, 4);
		v = 0xffffffff;
		memcpy(&s.regs[APIC_DFR], &v, 4);
	}
	vcpu_ioctl(vcpu, KVM_SET_LAPIC, &s);
}

static inline const char *span_exit_str(struct kvm_vcpu *vcpu)
{
	return exit_reason_str(vcpu->run->exit_reason);
}

#endif /* SELFTEST_KVM_SPAN_UTIL_H */
