/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Span: interrupts to and from vCPUs hosted by another hypervisor.
 *
 * A Span VM's vCPUs are split across several hypervisors.  User space tells
 * KVM which APIC IDs are hosted elsewhere (KVM_SPAN_SET_REMOTE); interrupts
 * for them leave KVM through KVM_EXIT_SPAN_IRQ (vCPU context) or the span
 * ring (any other context), and interrupts from elsewhere come in through
 * KVM_SPAN_INJECT.
 */
#ifndef __KVM_X86_SPAN_H
#define __KVM_X86_SPAN_H

#include <linux/kvm_host.h>

struct kvm_lapic;
struct kvm_lapic_irq;

/* How kvm_irq_delivery_to_apic() must treat an interrupt. */
enum kvm_span_route {
	KVM_SPAN_ROUTE_LOCAL,		/* local vCPUs only */
	KVM_SPAN_ROUTE_REMOTE,		/* remote APIC ID only: forward */
	KVM_SPAN_ROUTE_BOTH,		/* deliver locally and forward once */
	KVM_SPAN_ROUTE_LOCAL_FIRST,	/* lowest priority: local, else forward */
};

static inline bool kvm_span_active(struct kvm *kvm)
{
	return READ_ONCE(kvm->arch.span_active);
}

bool __kvm_span_vcpu_parked(struct kvm_vcpu *vcpu);

/*
 * A local vCPU whose APIC ID is declared remote has moved to another
 * hypervisor: it is "parked", i.e. it gets no interrupts here and cannot run.
 */
static inline bool kvm_span_vcpu_parked(struct kvm_vcpu *vcpu)
{
	return kvm_span_active(vcpu->kvm) && __kvm_span_vcpu_parked(vcpu);
}

int kvm_span_vcpu_run_check(struct kvm_vcpu *vcpu);
enum kvm_span_route kvm_span_route(struct kvm *kvm, struct kvm_lapic *src,
				   struct kvm_lapic_irq *irq);
int kvm_span_forward(struct kvm *kvm, struct kvm_lapic *src,
		     struct kvm_lapic_irq *irq, u8 source);
void kvm_span_pv_send_ipi(struct kvm *kvm, unsigned long bitmap, u64 min,
			  struct kvm_lapic_irq *irq);
int kvm_span_vcpu_exit(struct kvm_vcpu *vcpu);
void kvm_span_scan_ioapic(struct kvm_vcpu *vcpu, unsigned long *vectors);
int kvm_span_vcpu_precreate(struct kvm *kvm, unsigned int id);
int kvm_span_vm_ioctl(struct kvm *kvm, unsigned int ioctl, void __user *argp);
void kvm_span_destroy_vm(struct kvm *kvm);

#endif /* __KVM_X86_SPAN_H */
