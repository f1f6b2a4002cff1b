// SPDX-License-Identifier: GPL-2.0-only
/*
 * Span: kernel-owned rings that user space maps and drains.
 *
 * KVM hands events that no vCPU exit can carry to user space through a
 * single-producer ring: KVM writes entries and advances head, user space
 * reads them and advances tail.  The ring lives in vmalloc()ed memory that
 * user space mmap()s from the ring's file: a struct kvm_span_ring_hdr, then
 * the entries at KVM_SPAN_RING_OFFSET (UAPI, linux/kvm.h).  An optional
 * eventfd tells user space that entries were added.
 *
 * The file owns the ring; its user (the VM) holds a reference to the file,
 * so a ring lives until both the VM and user space let go of it.
 *
 * KVM never trusts the header: it keeps its own head and size and only
 * reads tail, once per push.  A tail that claims more entries than were
 * produced marks the ring KVM_SPAN_RING_F_BROKEN.  An entry that finds the
 * ring full or broken is not added; it is counted in the header's
 * "dropped", and the caller decides what the drop means.
 *
 * Producers are serialised by the caller (a spinlock, or mmu_lock held for
 * write): nothing here locks.
 */
#include <linux/anon_inodes.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kvm.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "span_ring.h"

struct kvm_span_ring {
	u32 entries;			/* KVM's copies: never read back */
	u32 head;
	u64 dropped;
	size_t entry_size;
	size_t size;			/* bytes that may be mapped */
	struct kvm_span_ring_hdr *hdr;	/* shared with user space */
	void *ents;
	struct eventfd_ctx *eventfd;
};

/* The ring arguments of a creating ioctl: true if user space's are sane. */
bool kvm_span_ring_valid_args(u32 entries, s32 eventfd)
{
	return entries >= 16 && entries <= KVM_SPAN_RING_MAX_ENTRIES &&
	       is_power_of_2(entries) && eventfd >= -1;
}

/*
 * A ring of @entries (checked with kvm_span_ring_valid_args()) entries of
 * @entry_size bytes, signalling @eventfd (-1: none).  ERR_PTR on failure.
 */
struct kvm_span_ring *kvm_span_ring_alloc(u32 entries, size_t entry_size,
					  s32 eventfd)
{
	struct kvm_span_ring *ring;
	int r;

	ring = kzalloc(sizeof(*ring), GFP_KERNEL_ACCOUNT);
	if (!ring)
		return ERR_PTR(-ENOMEM);
	ring->entries = entries;
	ring->entry_size = entry_size;
	ring->size = PAGE_ALIGN(size_add(KVM_SPAN_RING_OFFSET,
					 array_size(entries, entry_size)));
	ring->hdr = vmalloc_user(ring->size);
	if (!ring->hdr) {
		r = -ENOMEM;
		goto err;
	}
	ring->ents = (void *)ring->hdr + KVM_SPAN_RING_OFFSET;
	ring->hdr->entries = entries;
	if (eventfd >= 0) {
		ring->eventfd = eventfd_ctx_fdget(eventfd);
		if (IS_ERR(ring->eventfd)) {
			r = PTR_ERR(ring->eventfd);
			ring->eventfd = NULL;
			goto err;
		}
	}
	return ring;

err:
	kvm_span_ring_free(ring);
	return ERR_PTR(r);
}

/* Only for a ring no file owns yet: the file frees its own. */
void kvm_span_ring_free(struct kvm_span_ring *ring)
{
	if (ring->eventfd)
		eventfd_ctx_put(ring->eventfd);
	vfree(ring->hdr);
	kfree(ring);
}

static int kvm_span_ring_release(struct inode *inode, struct file *file)
{
	kvm_span_ring_free(file->private_data);
	return 0;
}

static int kvm_span_ring_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct kvm_span_ring *ring = file->private_data;

	if (vma->vm_pgoff || vma->vm_end - vma->vm_start > ring->size)
		return -EINVAL;
	return remap_vmalloc_range(vma, ring->hdr, 0);
}

static const struct file_operations kvm_span_ring_fops = {
	.owner		= THIS_MODULE,
	.release	= kvm_span_ring_release,
	.mmap		= kvm_span_ring_mmap,
	.llseek		= noop_llseek,
};

/*
 * Reserves a file descriptor and makes the anonymous file @name that owns
 * @ring from now on.  Returns the descriptor, not installed yet: the caller
 * publishes the ring, then fd_install()s it or gives both back with
 * kvm_span_ring_put_fd().  On failure (-errno) the caller still owns @ring.
 */
int kvm_span_ring_get_fd(struct kvm_span_ring *ring, const char *name,
			 struct file **filep)
{
	struct file *file;
	int fd;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	file = anon_inode_getfile(name, &kvm_span_ring_fops, ring,
				  O_RDWR | O_CLOEXEC);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	*filep = file;
	return fd;
}

/* Undoes kvm_span_ring_get_fd() for a ring that was not published: frees it. */
void kvm_span_ring_put_fd(int fd, struct file *file)
{
	put_unused_fd(fd);
	fput(file);
}

/*
 * Appends a copy of @entry: 0, else -ENOSPC (ring full) or -EINVAL (ring
 * broken), and the entry is counted as dropped.  The caller serialises
 * producers and signals the eventfd (kvm_span_ring_signal()) once it may.
 */
int kvm_span_ring_push(struct kvm_span_ring *ring, const void *entry)
{
	u32 tail, used;
	int r;

	/*
	 * Pairs with user space's release store of tail once it has read the
	 * entries before it: the slots below tail may be written again.
	 */
	tail = smp_load_acquire(&ring->hdr->tail);
	used = ring->head - tail;
	if (used > ring->entries) {
		WRITE_ONCE(ring->hdr->flags,
			   READ_ONCE(ring->hdr->flags) | KVM_SPAN_RING_F_BROKEN);
		r = -EINVAL;
		goto drop;
	}
	if (used == ring->entries) {
		r = -ENOSPC;
		goto drop;
	}
	memcpy(ring->ents + (ring->head & (ring->entries - 1)) * ring->entry_size,
	       entry, ring->entry_size);
	ring->head++;
	/*
	 * Publish the entry before the head that covers it; pairs with user
	 * space's acquire load of head before it reads the entries.
	 */
	smp_store_release(&ring->hdr->head, ring->head);
	return 0;

drop:
	ring->dropped++;
	/* A counter user space reads on its own: no ordering with entries. */
	WRITE_ONCE(ring->hdr->dropped, ring->dropped);
	return r;
}

/* Entries produced so far (KVM's copy); stable under the producers' lock. */
u32 kvm_span_ring_head(const struct kvm_span_ring *ring)
{
	return ring->head;
}

/* Tells user space that entries were added (after a successful push). */
void kvm_span_ring_signal(struct kvm_span_ring *ring)
{
	if (ring->eventfd)
		eventfd_signal(ring->eventfd);
}
