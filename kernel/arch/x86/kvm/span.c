// SPDX-License-Identifier: GPL-2.0-only
/*
 * Span: interrupts to and from vCPUs hosted by another hypervisor.
 *
 * A Span VM's vCPUs are split across several hypervisors, each running only
 * its own share of them.  User space declares the APIC IDs hosted elsewhere
 * with KVM_SPAN_SET_REMOTE.  From then on every interrupt that the in-kernel
 * local APIC, IOAPIC or MSI path would deliver is classified once, in
 * kvm_irq_delivery_to_apic():
 *
 *  - physical destination that is a remote APIC ID: handed to user space;
 *  - broadcast, shorthand "all" / "all but self", or logical destination:
 *    delivered to the local vCPUs as usual and handed to user space once
 *    (remote LDRs are unknown here; the receiving side resolves its own
 *    vCPUs, and "self" never leaves);
 *  - logical lowest priority: delivered to a local vCPU if one matches, else
 *    handed to user space (user space offers it to the other hypervisors in
 *    a fixed order and the first one that accepts it ends the search);
 *  - anything else: local, unchanged.
 *
 * "Handed to user space" means: in the context of a vCPU of this VM (an ICR
 * write, a hypercall, an MMIO write to the in-kernel IOAPIC) the interrupt is
 * queued on that vCPU and the vCPU exits with KVM_EXIT_SPAN_IRQ before it
 * runs guest code again, one exit per interrupt, which cannot lose anything.
 * Elsewhere (irqfd, KVM_SIGNAL_MSI, device threads) it is appended to the
 * span ring, a kernel-owned ring that user space maps (KVM_SPAN_CREATE_RING)
 * and drains; an eventfd signals new entries.  An interrupt that finds no
 * ring, a full ring or a ring whose tail user space corrupted is counted
 * (ring header "dropped", VM stat span_dropped) and reported as an error
 * to the caller, never dropped silently.
 *
 * User space injects interrupts from elsewhere with KVM_SPAN_INJECT, which
 * delivers to local vCPUs only.
 *
 * A vCPU moves between hypervisors at run time: the hypervisor it leaves
 * declares its APIC ID remote, which "parks" the local vCPU (KVM cannot
 * destroy it): it leaves the APIC map and the slow delivery paths, KVM_RUN
 * refuses it with -EBUSY once it has handed out what it raised before (a
 * running vCPU is kicked out), and KVM_SPAN_INJECT does not target it.  The
 * hypervisor it joins takes the ID out of its remote set and creates (or
 * unparks) the vCPU; a vCPU cannot be created with an ID declared remote.
 *
 * The remote set is a bitmap published with RCU: readers (including atomic
 * ones) see either the old or the new set, never a mix, and writers are
 * serialised by kvm->lock, which also orders them against vCPU creation.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>

#include "irq.h"
#include "lapic.h"
#include "x86.h"
#include "span.h"
#include "span_ring.h"

struct kvm_span_remote_set {
	struct rcu_head rcu;
	u32 nr;
	unsigned long ids[BITS_TO_LONGS(KVM_MAX_VCPU_IDS)];
};

struct kvm_span {
	struct kvm_span_remote_set __rcu *remote;
	spinlock_t lock;		/* ring producers and VM stats */
	struct kvm_span_ring *ring;	/* owned by ring_file */
	struct file *ring_file;		/* the VM holds a reference */
	/*
	 * Vectors injected level-triggered by another hypervisor (its IOAPIC
	 * lives there).  Local vCPUs exit to user space on their EOI
	 * (KVM_EXIT_IOAPIC_EOI, split irqchip), which sends it back.  Bits are
	 * only ever set: a stale one costs an EOI exit, a missing one would
	 * leave the remote IOAPIC's Remote IRR set for good.
	 */
	DECLARE_BITMAP(level_vectors, 256);
};

/* kvm->arch.span, allocated on first use under kvm->lock, freed with the VM */
static struct kvm_span *span_get(struct kvm *kvm)
{
	struct kvm_span *span = kvm->arch.span;

	lockdep_assert_held(&kvm->lock);
	if (span)
		return span;
	span = kzalloc(sizeof(*span), GFP_KERNEL_ACCOUNT);
	if (!span)
		return NULL;
	spin_lock_init(&span->lock);
	/* Initialised before published; pairs with span_load(). */
	smp_store_release(&kvm->arch.span, span);
	return span;
}

static struct kvm_span *span_load(struct kvm *kvm)
{
	/* Pairs with span_get(): a published span is initialised. */
	return smp_load_acquire(&kvm->arch.span);
}

static bool span_id_is_remote(struct kvm *kvm, u32 id)
{
	struct kvm_span *span = span_load(kvm);
	struct kvm_span_remote_set *set;
	bool ret = false;

	if (!span || id >= KVM_MAX_VCPU_IDS)
		return false;
	rcu_read_lock();
	set = rcu_dereference(span->remote);
	if (set)
		ret = test_bit(id, set->ids);
	rcu_read_unlock();
	return ret;
}

static bool span_is_broadcast(struct kvm *kvm, struct kvm_lapic *src,
			      struct kvm_lapic_irq *irq)
{
	if (irq->dest_id == X2APIC_BROADCAST)
		return true;
	if (irq->dest_id != APIC_BROADCAST)
		return false;
	/* 0xff is an APIC ID, not a broadcast, for x2APIC senders. */
	if (src)
		return !apic_x2apic_mode(src);
	return !(kvm->arch.x2apic_format &&
		 kvm->arch.x2apic_broadcast_quirk_disabled);
}

enum kvm_span_route kvm_span_route(struct kvm *kvm, struct kvm_lapic *src,
				   struct kvm_lapic_irq *irq)
{
	switch (irq->shorthand) {
	case APIC_DEST_SELF:
		return KVM_SPAN_ROUTE_LOCAL;
	case APIC_DEST_ALLINC:
	case APIC_DEST_ALLBUT:
		return KVM_SPAN_ROUTE_BOTH;
	}
	if (irq->dest_mode == APIC_DEST_LOGICAL)
		return kvm_lowest_prio_delivery(irq) ?
		       KVM_SPAN_ROUTE_LOCAL_FIRST : KVM_SPAN_ROUTE_BOTH;
	if (span_is_broadcast(kvm, src, irq))
		return KVM_SPAN_ROUTE_BOTH;
	return span_id_is_remote(kvm, irq->dest_id) ?
	       KVM_SPAN_ROUTE_REMOTE : KVM_SPAN_ROUTE_LOCAL;
}

static u32 span_apic_id(struct kvm_lapic *apic)
{
	if (apic_x2apic_mode(apic))
		return apic->vcpu->vcpu_id;
	return kvm_xapic_id(apic);
}

/* Queue on the current vCPU: it exits with KVM_EXIT_SPAN_IRQ before re-entry. */
static bool span_vcpu_queue(struct kvm_vcpu *vcpu, const struct kvm_span_irq *e)
{
	struct kvm_span_vcpu *q = &vcpu->arch.span;

	if (q->count == KVM_SPAN_VCPU_QUEUE)
		return false;
	q->q[(q->head + q->count) % KVM_SPAN_VCPU_QUEUE] = *e;
	q->count++;
	kvm_make_request(KVM_REQ_SPAN_EXIT, vcpu);
	return true;
}

bool __kvm_span_vcpu_parked(struct kvm_vcpu *vcpu)
{
	return span_id_is_remote(vcpu->kvm, vcpu->vcpu_id);
}

/*
 * KVM_REQ_SPAN_EXIT: hand out the next queued interrupt (0, the vCPU exits
 * with KVM_EXIT_SPAN_IRQ), else stop a parked vCPU (-EBUSY), else go on (1).
 */
int kvm_span_vcpu_exit(struct kvm_vcpu *vcpu)
{
	struct kvm_span_vcpu *q = &vcpu->arch.span;

	if (!q->count)
		return kvm_span_vcpu_parked(vcpu) ? -EBUSY : 1;
	vcpu->run->exit_reason = KVM_EXIT_SPAN_IRQ;
	vcpu->run->span_irq = q->q[q->head];
	q->head = (q->head + 1) % KVM_SPAN_VCPU_QUEUE;
	if (--q->count)
		kvm_make_request(KVM_REQ_SPAN_EXIT, vcpu);
	++vcpu->stat.span_exits;
	return 0;
}

/*
 * Start of KVM_RUN.  A parked vCPU still hands out the interrupts it raised
 * before it was parked, but never enters the guest (it may be halted, so the
 * request path in vcpu_enter_guest() cannot be relied on).
 */
int kvm_span_vcpu_run_check(struct kvm_vcpu *vcpu)
{
	if (!kvm_span_vcpu_parked(vcpu))
		return 1;
	return kvm_span_vcpu_exit(vcpu);
}

static int span_ring_push(struct kvm *kvm, const struct kvm_span_irq *e)
{
	struct kvm_span *span = span_load(kvm);
	struct kvm_span_ring *ring;
	unsigned long flags;
	int r;

	if (WARN_ON_ONCE(!span))
		return -ENODEV;

	spin_lock_irqsave(&span->lock, flags);
	ring = span->ring;
	r = ring ? kvm_span_ring_push(ring, e) : -ENODEV;
	if (r)
		kvm->stat.span_dropped++;
	else
		kvm->stat.span_forwarded++;
	spin_unlock_irqrestore(&span->lock, flags);
	if (r) {
		pr_warn_ratelimited("span: interrupt for APIC %#x dropped (%d)\n",
				    e->dest_id, r);
		return r;
	}
	/* The wakeup needs no producer lock: keep it out of span->lock. */
	kvm_span_ring_signal(ring);
	return 1;
}

static int span_hand_out(struct kvm *kvm, const struct kvm_span_irq *e)
{
	struct kvm_vcpu *vcpu = in_task() ? kvm_get_running_vcpu() : NULL;

	if (vcpu && vcpu->kvm == kvm && span_vcpu_queue(vcpu, e))
		return 1;
	return span_ring_push(kvm, e);
}

static void span_fill(struct kvm_span_irq *e, struct kvm_lapic *src,
		      struct kvm_lapic_irq *irq, u8 source)
{
	memset(e, 0, sizeof(*e));
	e->dest_id = irq->dest_id;
	e->src_apic_id = src ? span_apic_id(src) : KVM_SPAN_APIC_NONE;
	e->vector = irq->vector;
	e->delivery_mode = (irq->delivery_mode & APIC_MODE_MASK) >> 8;
	e->dest_mode = irq->dest_mode == APIC_DEST_LOGICAL ?
		       KVM_SPAN_DEST_LOGICAL : KVM_SPAN_DEST_PHYSICAL;
	e->shorthand = (irq->shorthand & APIC_SHORT_MASK) >> 18;
	e->trig_mode = !!irq->trig_mode;
	e->level = !!irq->level;
	e->source = source;
	if ((src && apic_x2apic_mode(src)) || irq->dest_id > 0xff)
		e->flags |= KVM_SPAN_IRQ_X2APIC;
	if (irq->msi_redir_hint)
		e->flags |= KVM_SPAN_IRQ_REDIR_HINT;
}

int kvm_span_forward(struct kvm *kvm, struct kvm_lapic *src,
		     struct kvm_lapic_irq *irq, u8 source)
{
	struct kvm_span_irq e;

	span_fill(&e, src, irq, source);
	return span_hand_out(kvm, &e);
}

/* KVM_HC_SEND_IPI: the destinations in @bitmap that are remote */
void kvm_span_pv_send_ipi(struct kvm *kvm, unsigned long bitmap, u64 min,
			  struct kvm_lapic_irq *irq)
{
	struct kvm_vcpu *vcpu = kvm_get_running_vcpu();
	struct kvm_lapic *src = vcpu ? vcpu->arch.apic : NULL;
	struct kvm_lapic_irq one = *irq;
	int i;

	for_each_set_bit(i, &bitmap, BITS_PER_LONG) {
		u64 id = min + i;

		if (id >= KVM_MAX_VCPU_IDS || !span_id_is_remote(kvm, id))
			continue;
		one.dest_id = id;
		one.dest_mode = APIC_DEST_PHYSICAL;
		one.shorthand = APIC_DEST_NOSHORT;
		kvm_span_forward(kvm, src, &one, KVM_SPAN_SRC_PV_IPI);
	}
}

int kvm_span_vcpu_precreate(struct kvm *kvm, unsigned int id)
{
	return span_id_is_remote(kvm, id) ? -EEXIST : 0;
}

static bool span_vcpu_has_id(struct kvm_vcpu *vcpu, u32 id)
{
	struct kvm_lapic *apic = vcpu->arch.apic;

	if (vcpu->vcpu_id == id)
		return true;
	return kvm_apic_present(vcpu) && !apic_x2apic_mode(apic) &&
	       kvm_xapic_id(apic) == id;
}

static int span_set_remote(struct kvm *kvm, void __user *argp)
{
	struct kvm_span_remote_set *new, *old;
	struct kvm_span_remote arg;
	struct kvm_vcpu *vcpu;
	struct kvm_span *span;
	u32 max, *ids = NULL;
	unsigned long i;
	int r;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || (!arg.nr_ids && arg.ids))
		return -EINVAL;
	if (!irqchip_in_kernel(kvm))
		return -ENXIO;
	max = kvm->arch.max_vcpu_ids ?: KVM_MAX_VCPU_IDS;
	if (arg.nr_ids > max)
		return -EINVAL;

	new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
	if (!new)
		return -ENOMEM;
	if (arg.nr_ids) {
		ids = memdup_array_user(u64_to_user_ptr(arg.ids), arg.nr_ids,
					sizeof(*ids));
		if (IS_ERR(ids)) {
			kfree(new);
			return PTR_ERR(ids);
		}
	}
	r = -EINVAL;
	for (i = 0; i < arg.nr_ids; i++) {
		if (ids[i] >= max)
			goto out_free;
		__set_bit(ids[i], new->ids);
	}
	new->nr = bitmap_weight(new->ids, KVM_MAX_VCPU_IDS);

	mutex_lock(&kvm->lock);
	r = -ENOMEM;
	span = span_get(kvm);
	if (!span)
		goto out_unlock;
	old = rcu_replace_pointer(span->remote, new,
				  lockdep_is_held(&kvm->lock));
	/* The set is visible before readers are told to look at it. */
	smp_store_release(&kvm->arch.span_active, new->nr != 0);
	/* Hardware IPI virtualization would bypass the checks above. */
	kvm_set_or_clear_apicv_inhibit(kvm, APICV_INHIBIT_REASON_SPAN,
				       new->nr != 0);
	/* Local vCPUs now declared remote are parked: stop them if running. */
	kvm_for_each_vcpu(i, vcpu, kvm) {
		if (test_bit(vcpu->vcpu_id, new->ids)) {
			kvm_make_request(KVM_REQ_SPAN_EXIT, vcpu);
			kvm_vcpu_kick(vcpu);
		}
	}
	mutex_unlock(&kvm->lock);
	/* Parked vCPUs leave the APIC map, unparked ones come back. */
	kvm_apic_map_invalidate(kvm);
	if (old)
		kfree_rcu(old, rcu);
	kfree(ids);
	return 0;

out_unlock:
	mutex_unlock(&kvm->lock);
out_free:
	kfree(ids);
	kfree(new);
	return r;
}

/*
 * Called before a level-triggered interrupt from elsewhere is delivered: the
 * SCAN_IOAPIC request is handled before the interrupt is injected, so the
 * vCPU's EOI of it already exits.
 */
static void span_note_level_vector(struct kvm *kvm, u8 vector)
{
	struct kvm_span *span = span_load(kvm);

	if (!span || !irqchip_split(kvm) || test_bit(vector, span->level_vectors))
		return;
	set_bit(vector, span->level_vectors);
	kvm_make_scan_ioapic_request(kvm);
}

/* vcpu_scan_ioapic(): add the vectors whose EOI belongs to another IOAPIC. */
void kvm_span_scan_ioapic(struct kvm_vcpu *vcpu, unsigned long *vectors)
{
	struct kvm_span *span = span_load(vcpu->kvm);

	if (span && kvm_span_active(vcpu->kvm) && irqchip_split(vcpu->kvm))
		bitmap_or(vectors, vectors, span->level_vectors, 256);
}

static int span_inject(struct kvm *kvm, void __user *argp)
{
	struct kvm_lapic_irq irq = {};
	struct kvm_span_irq e;
	struct kvm_vcpu *vcpu;
	unsigned long i;
	int r;

	if (copy_from_user(&e, argp, sizeof(e)))
		return -EFAULT;
	if (!irqchip_in_kernel(kvm))
		return -ENXIO;
	if ((e.flags & ~KVM_SPAN_IRQ_VALID_FLAGS) || e.reserved[0] ||
	    e.reserved[1] || e.dest_mode > KVM_SPAN_DEST_LOGICAL ||
	    e.shorthand > KVM_SPAN_SH_ALL_BUT_SELF ||
	    e.shorthand == KVM_SPAN_SH_SELF || e.trig_mode > 1 || e.level > 1)
		return -EINVAL;
	switch (e.delivery_mode) {
	case KVM_SPAN_DM_FIXED:
	case KVM_SPAN_DM_LOWEST:
		if (e.vector < 16)
			return -EINVAL;
		break;
	case KVM_SPAN_DM_SMI:
	case KVM_SPAN_DM_REMRD:
	case KVM_SPAN_DM_NMI:
	case KVM_SPAN_DM_INIT:
	case KVM_SPAN_DM_SIPI:
		break;
	default:
		return -EINVAL;
	}
	if (!(e.flags & KVM_SPAN_IRQ_X2APIC) && e.dest_id > 0xff)
		return -EINVAL;

	irq.vector = e.vector;
	irq.delivery_mode = (u32)e.delivery_mode << 8;
	irq.dest_mode = e.dest_mode ? APIC_DEST_LOGICAL : APIC_DEST_PHYSICAL;
	irq.trig_mode = e.trig_mode ? APIC_INT_LEVELTRIG : 0;
	irq.level = e.level;
	irq.msi_redir_hint = !!(e.flags & KVM_SPAN_IRQ_REDIR_HINT);
	irq.dest_id = e.dest_id;
	if (e.trig_mode && (e.delivery_mode == KVM_SPAN_DM_FIXED ||
			    e.delivery_mode == KVM_SPAN_DM_LOWEST))
		span_note_level_vector(kvm, e.vector);

	/*
	 * "self" stayed with the sender, so a shorthand or a broadcast means
	 * every local vCPU.
	 */
	if (e.shorthand || (e.dest_mode == KVM_SPAN_DEST_PHYSICAL &&
			    (e.dest_id == X2APIC_BROADCAST ||
			     (e.dest_id == APIC_BROADCAST &&
			      !(e.flags & KVM_SPAN_IRQ_X2APIC))))) {
		irq.shorthand = APIC_DEST_ALLINC;
		irq.dest_mode = APIC_DEST_PHYSICAL;
		if (irq.delivery_mode == APIC_DM_LOWEST)
			irq.delivery_mode = APIC_DM_FIXED;
	} else if (e.dest_mode == KVM_SPAN_DEST_PHYSICAL) {
		/*
		 * A physical destination must be a local vCPU.  Deliver to it
		 * directly: the APIC map may not list a vCPU that was created
		 * but whose APIC state was never written (e.g. an AP waiting
		 * for its INIT).
		 */
		kvm_for_each_vcpu(i, vcpu, kvm) {
			if (kvm_apic_present(vcpu) &&
			    span_vcpu_has_id(vcpu, e.dest_id) &&
			    !kvm_span_vcpu_parked(vcpu))
				return kvm_apic_set_irq(vcpu, &irq, NULL);
		}
		return -EINVAL;
	}

	r = kvm_irq_delivery_to_apic_local(kvm, NULL, &irq, NULL);
	return max(r, 0);
}

static int span_create_ring(struct kvm *kvm, void __user *argp)
{
	struct kvm_span_ring_create arg;
	struct kvm_span_ring *ring;
	struct kvm_span *span;
	struct file *file;
	int fd, r;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.reserved ||
	    !kvm_span_ring_valid_args(arg.entries, arg.eventfd))
		return -EINVAL;
	if (!irqchip_in_kernel(kvm))
		return -ENXIO;

	ring = kvm_span_ring_alloc(arg.entries, sizeof(struct kvm_span_irq),
				   arg.eventfd);
	if (IS_ERR(ring))
		return PTR_ERR(ring);
	fd = kvm_span_ring_get_fd(ring, "kvm-span-ring", &file);
	if (fd < 0) {
		kvm_span_ring_free(ring);
		return fd;
	}

	mutex_lock(&kvm->lock);
	span = span_get(kvm);
	r = span ? (span->ring_file ? -EBUSY : 0) : -ENOMEM;
	if (!r) {
		span->ring_file = get_file(file);
		spin_lock_irq(&span->lock);
		span->ring = ring;
		spin_unlock_irq(&span->lock);
	}
	mutex_unlock(&kvm->lock);
	if (r) {
		kvm_span_ring_put_fd(fd, file);	/* frees the ring */
		return r;
	}
	fd_install(fd, file);
	return fd;
}

int kvm_span_vm_ioctl(struct kvm *kvm, unsigned int ioctl, void __user *argp)
{
	switch (ioctl) {
	case KVM_SPAN_SET_REMOTE:
		return span_set_remote(kvm, argp);
	case KVM_SPAN_INJECT:
		return span_inject(kvm, argp);
	case KVM_SPAN_CREATE_RING:
		return span_create_ring(kvm, argp);
	}
	return -ENOTTY;
}

void kvm_span_destroy_vm(struct kvm *kvm)
{
	struct kvm_span *span = kvm->arch.span;

	if (!span)
		return;
	if (span->ring_file)
		fput(span->ring_file);
	kfree(rcu_dereference_protected(span->remote, true));
	kfree(span);
	kvm->arch.span = NULL;
}
