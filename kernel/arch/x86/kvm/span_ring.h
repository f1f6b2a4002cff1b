/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Span: kernel-owned rings that user space maps and drains.
 *
 * See span_ring.c.  Users: the span ring of interrupts (span.c) and the
 * shadow ring of withdrawn frames (mmu/span_shadow.c).
 */
#ifndef __KVM_X86_SPAN_RING_H
#define __KVM_X86_SPAN_RING_H

#include <linux/types.h>

struct file;
struct kvm_span_ring;

bool kvm_span_ring_valid_args(u32 entries, s32 eventfd);
struct kvm_span_ring *kvm_span_ring_alloc(u32 entries, size_t entry_size,
					  s32 eventfd);
void kvm_span_ring_free(struct kvm_span_ring *ring);
int kvm_span_ring_get_fd(struct kvm_span_ring *ring, const char *name,
			 struct file **filep);
void kvm_span_ring_put_fd(int fd, struct file *file);
int kvm_span_ring_push(struct kvm_span_ring *ring, const void *entry);
u32 kvm_span_ring_head(const struct kvm_span_ring *ring);
void kvm_span_ring_signal(struct kvm_span_ring *ring);

#endif /* __KVM_X86_SPAN_RING_H */
