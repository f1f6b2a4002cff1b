// SPDX-License-Identifier: GPL-2.0-only
/*
 * Span: shadow-paging coherence with the other hypervisors of a Span VM.
 *
 * Every hypervisor hosting vCPUs of a Span VM shadows the guest's page
 * tables, which live in the one shared guest memory.  KVM keeps a sync
 * shadow page coherent by write-protecting the frame it shadows, but a
 * write by a vCPU on another hypervisor is trapped only there.  This file
 * implements KVM's side of the protocol in Documentation/shadow-coherence.rst
 * (Span tree); user space (QEMU's span member) carries the messages:
 *
 *  - ADD: before a page fault builds shadow pages from a guest page table
 *    that was not published yet, the vCPU exits with KVM_EXIT_SPAN_SHADOW
 *    (KVM_SPAN_SHADOW_ADD, gfn) and the fault is retried.  User space tells
 *    every peer, waits for their acknowledgements (each peer imports the
 *    frame, i.e. write-protects it) and re-enters; the re-entry publishes
 *    the frame and the retried fault builds the shadow.  The check is made
 *    under mmu_lock, so no shadow page is ever built from an unpublished
 *    frame.
 *
 *  - DEL: when the last shadow page of a published frame is zapped, the
 *    frame is withdrawn through the shadow ring (mmap()ed by user space, an
 *    eventfd signals new entries).  A full ring keeps the frame published:
 *    peers protecting a frame for longer is always safe.  A withdrawal
 *    racing with an ADD round trip for the same frame makes the re-entry
 *    not publish (per-bucket sequence numbers), so the fault asks again.
 *
 *  - INV: an emulated write by a local vCPU to a frame imported from a peer
 *    (KVM_SPAN_SHADOW_PEER/IMPORT write-tracks it here, so every write to
 *    it traps) queues the frame on the vCPU, which exits with
 *    KVM_EXIT_SPAN_SHADOW (KVM_SPAN_SHADOW_INV, gfn) before it runs guest
 *    code again.  User space re-enters only once every peer zapped its
 *    shadows (KVM_SPAN_SHADOW_PEER/INVALIDATE there).  Local shadows were
 *    already updated by kvm_mmu_track_write().
 *
 * Progress of a write KVM cannot emulate (XSAVE into a frame peers shadow):
 * KVM unprotects the frame and retries; for an imported frame that is an INV
 * (__kvm_span_shadow_unprotect()), after which the peers have no shadow of
 * it and withdraw it, even when their INVALIDATE zapped nothing, and the
 * import goes.  The retry loop guard (last_retry_eip/addr) is not applied
 * to imported frames: the same task's next XSAVE to the same place, after
 * a peer imported the frame again, is not that loop.
 *
 * Unsync leaf pages: an imported frame is write-tracked, and the MMU never
 * makes shadow pages of a write-tracked frame unsync (mmu_try_to_unsync_pages
 * refuses), so a frame some peer shadows is never unsync here; importing a
 * frame write-protects every existing SPTE mapping it.  A frame only this
 * KVM shadows may be unsync: nobody else needs to hear of its writes.
 *
 * Imports and memslots: an imported frame holds exactly one write-tracking
 * reference in the memslot of address space 0 that covers it (never in the
 * SMM address space's, which kvm_gfn_is_write_tracked() also looks at),
 * next to KVM's own references for upper-level shadow pages of the same
 * frame.  A memslot's write-tracking counts die with it, and QEMU re-creates
 * RAM memslots whenever the guest reprograms the PC's PAM registers (every
 * boot), so a new memslot gets the references of the imported frames it
 * covers before it is installed (kvm_span_shadow_create_memslot()), and
 * IMPORT/RELEASE hold slots_lock so that none lands between that and the
 * installation.  A release then always drops its own reference; were it to
 * drop KVM's, an upper-level shadow page would lose its protection and
 * could become unsync, which the MMU cannot sync (a vCPU then retries one
 * page fault for ever).
 *
 * Everything from user space is checked: gfns must be in a user memslot,
 * batches are bounded, imports are deduplicated (at most one per guest
 * frame).  Timeouts for peers that never acknowledge are user-space policy:
 * KVM never waits for a peer, the vCPU simply stays out of the guest.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/hash.h>
#include <linux/kvm_host.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "mmu.h"
#include "page_track.h"
#include "span_ring.h"
#include "span_shadow.h"

#define SPAN_SHADOW_SEQ_BITS	6

struct kvm_span_shadow {
	struct xarray published;	/* frames every peer protects */
	struct xarray imported;		/* frames peers shadow, tracked here */
	spinlock_t stat_lock;		/* counters bumped outside the locks */
	/* Withdrawals per gfn bucket, under mmu_lock. */
	u32 del_seq[1 << SPAN_SHADOW_SEQ_BITS];
	struct kvm_span_ring *ring;	/* owned by ring_file */
	struct file *ring_file;		/* the VM holds a reference */
};

static struct kvm_span_shadow *span_shadow_load(struct kvm *kvm)
{
	/* Pairs with span_shadow_enable(): a published state is initialised. */
	return smp_load_acquire(&kvm->arch.span_shadow);
}

static u32 *span_del_seq(struct kvm_span_shadow *sh, gfn_t gfn)
{
	return &sh->del_seq[hash_64(gfn, SPAN_SHADOW_SEQ_BITS)];
}

bool __kvm_span_shadow_check_walk(struct kvm_vcpu *vcpu, const gfn_t *table_gfn,
				  int level, int max_level)
{
	struct kvm_span_shadow_vcpu *v = &vcpu->arch.span_shadow;
	struct kvm_span_shadow *sh = vcpu->kvm->arch.span_shadow;
	gfn_t gfn;
	int l;

	lockdep_assert_held_write(&vcpu->kvm->mmu_lock);

	/* Shadows of a nested guest's page tables: not covered. */
	if (vcpu->arch.mmu != &vcpu->arch.root_mmu)
		return true;

	for (l = max_level; l >= level; l--) {
		gfn = table_gfn[l - 1];
		if (xa_load(&sh->published, gfn))
			continue;
		v->add_queued = true;
		v->add_gfn = gfn;
		v->add_seq = *span_del_seq(sh, gfn);
		v->add_head = kvm_span_ring_head(sh->ring);
		kvm_make_request(KVM_REQ_SPAN_SHADOW_EXIT, vcpu);
		return false;
	}
	return true;
}

static void span_queue_inv(struct kvm_span_shadow_vcpu *v, gfn_t gfn)
{
	int i;

	for (i = 0; i < v->nr_inv; i++) {
		if (v->inv[i] == gfn || v->inv[i] == KVM_SPAN_SHADOW_GFN_ALL)
			return;
	}
	if (v->nr_inv == KVM_SPAN_SHADOW_VCPU_QUEUE) {
		/* E.g. a long REP STOS: peers drop every shadow instead. */
		v->inv[0] = KVM_SPAN_SHADOW_GFN_ALL;
		v->nr_inv = 1;
		return;
	}
	v->inv[v->nr_inv++] = gfn;
}

void __kvm_span_shadow_write(struct kvm_vcpu *vcpu, gpa_t gpa, int bytes)
{
	struct kvm_span_shadow *sh = vcpu->kvm->arch.span_shadow;
	gfn_t gfn, last;

	if (bytes <= 0)
		return;
	last = gpa_to_gfn(gpa + bytes - 1);
	for (gfn = gpa_to_gfn(gpa); gfn <= last; gfn++) {
		if (!xa_load(&sh->imported, gfn))
			continue;
		span_queue_inv(&vcpu->arch.span_shadow, gfn);
		kvm_make_request(KVM_REQ_SPAN_SHADOW_EXIT, vcpu);
	}
}

/*
 * KVM wants to unprotect gfn and let the CPU retry a write it cannot
 * emulate (e.g. an interrupt frame pushed onto a page that used to be a
 * page table: the event must be re-injected, nothing can be emulated).
 * Zapping local shadows is not enough if peers shadow the frame: it stays
 * imported, i.e. write-tracked, so the retry would fault again.  Ask them
 * to drop their shadows (an INV exit before the vCPU re-enters); once they
 * did, their withdrawal releases the import here.  True if an INV was
 * queued: the caller retries without counting it against last_retry_eip.
 */
bool __kvm_span_shadow_unprotect(struct kvm_vcpu *vcpu, gfn_t gfn)
{
	struct kvm_span_shadow *sh = vcpu->kvm->arch.span_shadow;

	if (!xa_load(&sh->imported, gfn))
		return false;
	span_queue_inv(&vcpu->arch.span_shadow, gfn);
	kvm_make_request(KVM_REQ_SPAN_SHADOW_EXIT, vcpu);
	return true;
}

bool __kvm_span_shadow_peer_frame(struct kvm_vcpu *vcpu, gpa_t cr2_or_gpa)
{
	struct kvm_span_shadow *sh = vcpu->kvm->arch.span_shadow;
	gpa_t gpa = cr2_or_gpa;

	if (!vcpu->arch.mmu->root_role.direct)
		gpa = kvm_mmu_gva_to_gpa_write(vcpu, cr2_or_gpa, NULL);
	return gpa != INVALID_GPA && xa_load(&sh->imported, gpa_to_gfn(gpa));
}

void __kvm_span_shadow_unshadowed(struct kvm *kvm, gfn_t gfn)
{
	struct kvm_span_shadow *sh = kvm->arch.span_shadow;
	struct kvm_span_shadow_event e = {
		.gfn = gfn,
		.op = KVM_SPAN_SHADOW_DEL,
	};

	/* Every producer holds mmu_lock for write. */
	lockdep_assert_held_write(&kvm->mmu_lock);

	if (!xa_load(&sh->published, gfn))
		return;
	/* Entries before it go to the peers before a later ADD of gfn. */
	e.ring_head = kvm_span_ring_head(sh->ring);
	if (kvm_span_ring_push(sh->ring, &e)) {
		/* Stays published: peers keep protecting it, which is safe. */
		kvm->stat.span_shadow_ring_full++;
		pr_warn_ratelimited("span: shadow ring full, gfn %#llx stays published\n",
				    gfn);
		return;
	}
	kvm_span_ring_signal(sh->ring);
	xa_erase(&sh->published, gfn);
	(*span_del_seq(sh, gfn))++;
	kvm->stat.span_shadow_withdrawn++;
}

/*
 * KVM_REQ_SPAN_SHADOW_EXIT: hand out the next event (0, the vCPU exits with
 * KVM_EXIT_SPAN_SHADOW), else go on (1).  Invalidations go first: the write
 * they report has completed.
 */
int kvm_span_shadow_vcpu_exit(struct kvm_vcpu *vcpu)
{
	struct kvm_span_shadow_vcpu *v = &vcpu->arch.span_shadow;
	struct kvm_span_shadow *sh = vcpu->kvm->arch.span_shadow;
	struct kvm_run *run = vcpu->run;

	if (!sh)
		return 1;
	memset(&run->span_shadow, 0, sizeof(run->span_shadow));
	if (v->nr_inv) {
		run->span_shadow.op = KVM_SPAN_SHADOW_INV;
		run->span_shadow.gfn = v->inv[0];
		v->nr_inv--;
		memmove(&v->inv[0], &v->inv[1], v->nr_inv * sizeof(v->inv[0]));
		spin_lock(&sh->stat_lock);
		vcpu->kvm->stat.span_shadow_inv_sent++;
		spin_unlock(&sh->stat_lock);
	} else if (v->add_queued) {
		run->span_shadow.op = KVM_SPAN_SHADOW_ADD;
		run->span_shadow.gfn = v->add_gfn;
		run->span_shadow.ring_head = v->add_head;
		v->add_queued = false;
		v->add_done = true;
	} else {
		return 1;
	}
	run->exit_reason = KVM_EXIT_SPAN_SHADOW;
	if (v->nr_inv || v->add_queued)
		kvm_make_request(KVM_REQ_SPAN_SHADOW_EXIT, vcpu);
	return 0;
}

/*
 * Start of KVM_RUN: user space re-enters after an ADD exit once every peer
 * write-protected the frame, so the frame is published now, unless it was
 * withdrawn in between (then the retried fault asks again).
 */
int kvm_span_shadow_vcpu_run(struct kvm_vcpu *vcpu)
{
	struct kvm_span_shadow_vcpu *v = &vcpu->arch.span_shadow;
	struct kvm *kvm = vcpu->kvm;
	struct kvm_span_shadow *sh = span_shadow_load(kvm);
	void *old;
	int r;

	if (!v->add_done || !sh)
		return 1;
	v->add_done = false;
	r = xa_reserve(&sh->published, v->add_gfn, GFP_KERNEL_ACCOUNT);
	if (r)
		return r;
	write_lock(&kvm->mmu_lock);
	if (*span_del_seq(sh, v->add_gfn) == v->add_seq) {
		/* The slot is reserved: no allocation under the lock. */
		old = xa_store(&sh->published, v->add_gfn, xa_mk_value(1),
			       GFP_NOWAIT);
		if (!xa_is_err(old) && !old)
			kvm->stat.span_shadow_published++;
	} else {
		xa_release(&sh->published, v->add_gfn);
	}
	write_unlock(&kvm->mmu_lock);
	return 1;
}

static int span_shadow_peer(struct kvm *kvm, void __user *argp)
{
	struct kvm_span_shadow *sh = span_shadow_load(kvm);
	u64 n_done = 0, zapped = 0;
	struct kvm_memory_slot *slot;
	struct kvm_span_shadow_peer arg;
	u64 *gfns = NULL;
	int idx, r = 0;
	u32 i;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (!sh)
		return -ENXIO;
	switch (arg.op) {
	case KVM_SPAN_SHADOW_IMPORT:
	case KVM_SPAN_SHADOW_RELEASE:
	case KVM_SPAN_SHADOW_INVALIDATE:
		if (!arg.nr || arg.nr > KVM_SPAN_SHADOW_MAX_GFNS || !arg.gfns)
			return -EINVAL;
		gfns = memdup_array_user(u64_to_user_ptr(arg.gfns), arg.nr,
					 sizeof(*gfns));
		if (IS_ERR(gfns))
			return PTR_ERR(gfns);
		break;
	case KVM_SPAN_SHADOW_INVALIDATE_ALL:
		if (arg.nr || arg.gfns)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}

	/*
	 * slots_lock serialises KVM_SPAN_SHADOW_PEER calls, and no memslot is
	 * created between the check below and the ops.
	 */
	mutex_lock(&kvm->slots_lock);
	idx = srcu_read_lock(&kvm->srcu);
	/*
	 * All or nothing: a frame outside the guest's memory refuses the call,
	 * unless it is released after its memslot went away.
	 */
	for (i = 0; i < arg.nr; i++) {
		if (arg.op == KVM_SPAN_SHADOW_RELEASE &&
		    xa_load(&sh->imported, gfns[i]))
			continue;
		if (!kvm_is_visible_memslot(gfn_to_memslot(kvm, gfns[i]))) {
			r = -EINVAL;
			goto out;
		}
	}

	for (i = 0; i < arg.nr; i++) {
		gfn_t gfn = gfns[i];

		slot = gfn_to_memslot(kvm, gfn);
		switch (arg.op) {
		case KVM_SPAN_SHADOW_IMPORT:
			if (xa_load(&sh->imported, gfn))
				break;
			r = xa_insert(&sh->imported, gfn, xa_mk_value(1),
				      GFP_KERNEL_ACCOUNT);
			if (r)
				goto out;
			/* Write-protects every SPTE of gfn and flushes TLBs. */
			write_lock(&kvm->mmu_lock);
			__kvm_write_track_add_gfn(kvm, slot, gfn);
			write_unlock(&kvm->mmu_lock);
			n_done++;
			break;
		case KVM_SPAN_SHADOW_RELEASE:
			if (!xa_erase(&sh->imported, gfn))
				break;
			/* Its reference is in the memslot covering gfn, if any. */
			if (kvm_is_visible_memslot(slot)) {
				write_lock(&kvm->mmu_lock);
				__kvm_write_track_remove_gfn(kvm, slot, gfn);
				write_unlock(&kvm->mmu_lock);
			}
			n_done++;
			break;
		case KVM_SPAN_SHADOW_INVALIDATE:
			zapped += kvm_mmu_span_zap_gfn(kvm, gfn);
			n_done++;
			break;
		}
		cond_resched();
	}
	if (arg.op == KVM_SPAN_SHADOW_INVALIDATE_ALL) {
		u64 before = READ_ONCE(kvm->arch.n_used_mmu_pages);

		kvm_arch_flush_shadow_all(kvm);
		zapped = before - min(before, READ_ONCE(kvm->arch.n_used_mmu_pages));
		n_done = 1;
	}
out:
	srcu_read_unlock(&kvm->srcu, idx);
	switch (arg.op) {
	case KVM_SPAN_SHADOW_IMPORT:
		kvm->stat.span_shadow_imported += n_done;
		break;
	case KVM_SPAN_SHADOW_RELEASE:
		kvm->stat.span_shadow_released += n_done;
		break;
	default:
		kvm->stat.span_shadow_inv_received += n_done;
		kvm->stat.span_shadow_zapped += zapped;
		break;
	}
	mutex_unlock(&kvm->slots_lock);
	kfree(gfns);
	if (r)
		return r;
	/* INVALIDATE: how many shadow pages went (capped, for tests). */
	return arg.op >= KVM_SPAN_SHADOW_INVALIDATE ? min_t(u64, zapped, INT_MAX) : 0;
}

void __kvm_span_shadow_create_memslot(struct kvm *kvm,
				      struct kvm_memory_slot *slot)
{
	struct kvm_span_shadow *sh = kvm->arch.span_shadow;
	unsigned long gfn;
	void *entry;

	lockdep_assert_held(&kvm->slots_lock);

	/*
	 * Imports live in address space 0, where IMPORT and RELEASE find
	 * them; kvm_gfn_is_write_tracked() looks at both address spaces, so a
	 * reference in the SMM one would outlive its release.
	 */
	if (slot->as_id || !slot->npages)
		return;
	xa_for_each_range(&sh->imported, gfn, entry, slot->base_gfn,
			  slot->base_gfn + slot->npages - 1) {
		/* The slot is not installed yet: no SPTE maps it. */
		write_lock(&kvm->mmu_lock);
		__kvm_write_track_add_gfn(kvm, slot, gfn);
		write_unlock(&kvm->mmu_lock);
		cond_resched();
	}
}

static int span_shadow_enable(struct kvm *kvm, void __user *argp)
{
	struct kvm_span_shadow_enable arg;
	struct kvm_span_ring *ring;
	struct kvm_span_shadow *sh;
	struct file *file;
	int fd, r;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.reserved ||
	    !kvm_span_ring_valid_args(arg.entries, arg.eventfd))
		return -EINVAL;
	/* With TDP the guest's page tables are not shadowed. */
	if (tdp_enabled)
		return -EOPNOTSUPP;
	if (span_shadow_load(kvm))
		return -EBUSY;

	sh = kzalloc(sizeof(*sh), GFP_KERNEL_ACCOUNT);
	if (!sh)
		return -ENOMEM;
	xa_init(&sh->published);
	xa_init(&sh->imported);
	spin_lock_init(&sh->stat_lock);
	ring = kvm_span_ring_alloc(arg.entries,
				   sizeof(struct kvm_span_shadow_event),
				   arg.eventfd);
	if (IS_ERR(ring)) {
		kfree(sh);
		return PTR_ERR(ring);
	}
	fd = kvm_span_ring_get_fd(ring, "kvm-span-shadow-ring", &file);
	if (fd < 0) {
		kvm_span_ring_free(ring);
		kfree(sh);
		return fd;
	}
	sh->ring = ring;
	sh->ring_file = file;

	mutex_lock(&kvm->lock);
	r = kvm->arch.span_shadow ? -EBUSY : 0;
	if (!r) {
		get_file(file);
		/* Initialised before published; pairs with span_shadow_load(). */
		smp_store_release(&kvm->arch.span_shadow, sh);
	}
	mutex_unlock(&kvm->lock);
	if (r) {
		kvm_span_ring_put_fd(fd, file);	/* frees the ring */
		kfree(sh);
		return r;
	}
	/*
	 * Shadow pages built before now were never published: drop them.  A
	 * fault from now on checks the published set under mmu_lock.
	 */
	kvm_arch_flush_shadow_all(kvm);
	fd_install(fd, file);
	return fd;
}

int kvm_span_shadow_vm_ioctl(struct kvm *kvm, unsigned int ioctl,
			     void __user *argp)
{
	switch (ioctl) {
	case KVM_SPAN_SHADOW_ENABLE:
		return span_shadow_enable(kvm, argp);
	case KVM_SPAN_SHADOW_PEER:
		return span_shadow_peer(kvm, argp);
	}
	return -ENOTTY;
}

/* After the MMU is torn down: nothing produces into the ring any more. */
void kvm_span_shadow_destroy_vm(struct kvm *kvm)
{
	struct kvm_span_shadow *sh = kvm->arch.span_shadow;

	if (!sh)
		return;
	kvm->arch.span_shadow = NULL;
	fput(sh->ring_file);
	xa_destroy(&sh->published);
	xa_destroy(&sh->imported);
	kfree(sh);
}
