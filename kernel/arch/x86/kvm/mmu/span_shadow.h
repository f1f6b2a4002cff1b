/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Span: shadow-paging coherence with the other hypervisors of a Span VM.
 *
 * See span_shadow.c and Documentation/virt/kvm/api.rst (KVM_CAP_SPAN_SHADOW).
 */
#ifndef __KVM_X86_MMU_SPAN_SHADOW_H
#define __KVM_X86_MMU_SPAN_SHADOW_H

#include <linux/kvm_host.h>

struct kvm_mmu_page;

static inline bool kvm_span_shadow_active(struct kvm *kvm)
{
	/* Pairs with the release store in span_shadow_enable(). */
	return !!smp_load_acquire(&kvm->arch.span_shadow);
}

bool __kvm_span_shadow_check_walk(struct kvm_vcpu *vcpu, const gfn_t *table_gfn,
				  int level, int max_level);

/*
 * Under mmu_lock, before a page fault builds shadow pages from the guest
 * page tables of a walk: false if one of them was not published to the
 * peers yet (the vCPU then exits with KVM_SPAN_SHADOW_ADD and retries).
 */
static inline bool kvm_span_shadow_check_walk(struct kvm_vcpu *vcpu,
					      const gfn_t *table_gfn,
					      int level, int max_level)
{
	if (!kvm_span_shadow_active(vcpu->kvm))
		return true;
	return __kvm_span_shadow_check_walk(vcpu, table_gfn, level, max_level);
}

void __kvm_span_shadow_write(struct kvm_vcpu *vcpu, gpa_t gpa, int bytes);

/* A vCPU's write to guest memory that KVM trapped (emulated writes). */
static inline void kvm_span_shadow_write(struct kvm_vcpu *vcpu, gpa_t gpa,
					 int bytes)
{
	if (kvm_span_shadow_active(vcpu->kvm))
		__kvm_span_shadow_write(vcpu, gpa, bytes);
}

bool __kvm_span_shadow_unprotect(struct kvm_vcpu *vcpu, gfn_t gfn);

/* KVM unprotects gfn to retry a write natively: peers must unshadow it too. */
static inline bool kvm_span_shadow_unprotect(struct kvm_vcpu *vcpu, gfn_t gfn)
{
	return kvm_span_shadow_active(vcpu->kvm) &&
	       __kvm_span_shadow_unprotect(vcpu, gfn);
}

bool __kvm_span_shadow_peer_frame(struct kvm_vcpu *vcpu, gpa_t cr2_or_gpa);

/*
 * Does a write fault on @cr2_or_gpa hit a frame peers shadow?  An INV makes
 * progress on it (the peers unshadow it and the import goes), so unprotecting
 * it and retrying is never the loop last_retry_eip/addr guards against.
 */
static inline bool kvm_span_shadow_peer_frame(struct kvm_vcpu *vcpu,
					      gpa_t cr2_or_gpa)
{
	return kvm_span_shadow_active(vcpu->kvm) &&
	       __kvm_span_shadow_peer_frame(vcpu, cr2_or_gpa);
}

void __kvm_span_shadow_unshadowed(struct kvm *kvm, gfn_t gfn);

/* Under mmu_lock: the last shadow page of @gfn is going away. */
static inline void kvm_span_shadow_unshadowed(struct kvm *kvm, gfn_t gfn)
{
	if (kvm_span_shadow_active(kvm))
		__kvm_span_shadow_unshadowed(kvm, gfn);
}

void __kvm_span_shadow_create_memslot(struct kvm *kvm,
				      struct kvm_memory_slot *slot);

/*
 * A memslot being created (or moved) starts with no write-tracking: give it
 * the references of the frames peers shadow that fall in it, before it is
 * installed (slots_lock held).
 */
static inline void kvm_span_shadow_create_memslot(struct kvm *kvm,
						  struct kvm_memory_slot *slot)
{
	if (kvm_span_shadow_active(kvm))
		__kvm_span_shadow_create_memslot(kvm, slot);
}

int kvm_span_shadow_vcpu_exit(struct kvm_vcpu *vcpu);
int kvm_span_shadow_vcpu_run(struct kvm_vcpu *vcpu);
int kvm_span_shadow_vm_ioctl(struct kvm *kvm, unsigned int ioctl,
			     void __user *argp);
void kvm_span_shadow_destroy_vm(struct kvm *kvm);

/* mmu.c */
int kvm_mmu_span_zap_gfn(struct kvm *kvm, gfn_t gfn);

#endif /* __KVM_X86_MMU_SPAN_SHADOW_H */
