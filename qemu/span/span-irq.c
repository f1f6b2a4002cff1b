/*
 * Span members: interrupts and IOAPIC EOIs between members
 *
 * An interrupt raised here for a vCPU hosted elsewhere (the accelerator's
 * KVM_EXIT_SPAN_IRQ) goes to the members hosting its targets; one from
 * another member is injected into the local vCPUs.  Interrupts that come
 * before the machine runs, or during a reset of the span VM, belong to the
 * next boot: they wait until it starts (span_run_notifiers).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <linux/kvm.h>
#include "qemu/lockable.h"
#include "span-internal.h"
#include "trace.h"

/*
 * The accelerator hands KVM's interrupt descriptions over unconverted:
 * KVM_SPAN_* (the kernel's UAPI) and the wire format agree on each value.
 */
QEMU_BUILD_BUG_ON(KVM_SPAN_DM_FIXED != SPAN_DM_FIXED);
QEMU_BUILD_BUG_ON(KVM_SPAN_DM_LOWEST != SPAN_DM_LOWEST);
QEMU_BUILD_BUG_ON(KVM_SPAN_DM_REMRD != SPAN_DM_REMRD);
QEMU_BUILD_BUG_ON(KVM_SPAN_DM_NMI != SPAN_DM_NMI);
QEMU_BUILD_BUG_ON(KVM_SPAN_DM_INIT != SPAN_DM_INIT);
QEMU_BUILD_BUG_ON(KVM_SPAN_DM_SIPI != SPAN_DM_SIPI);
QEMU_BUILD_BUG_ON(KVM_SPAN_DEST_PHYSICAL != SPAN_DEST_PHYSICAL);
QEMU_BUILD_BUG_ON(KVM_SPAN_DEST_LOGICAL != SPAN_DEST_LOGICAL);
QEMU_BUILD_BUG_ON(KVM_SPAN_SH_NONE != SPAN_SH_NONE);
QEMU_BUILD_BUG_ON(KVM_SPAN_SH_SELF != SPAN_SH_SELF);
QEMU_BUILD_BUG_ON(KVM_SPAN_SH_ALL != SPAN_SH_ALL_INCL);
QEMU_BUILD_BUG_ON(KVM_SPAN_SH_ALL_BUT_SELF != SPAN_SH_ALL_EXCL);
QEMU_BUILD_BUG_ON(KVM_SPAN_APIC_NONE != SPAN_APIC_NONE);

static GQueue deferred = G_QUEUE_INIT;  /* interrupts for the next boot */
static Notifier run_notifier;

void span_send_interrupt(const struct span_interrupt *irq)
{
    uint32_t dsts, sent;
    bool broadcast = irq->dest == (irq->x2apic ? 0xffffffffu : 0xffu);

    if (trace_event_get_state_backends(TRACE_SPAN_SEND_INTERRUPT)) {
        int check = span_validate_payload(SPAN_MSG_INTERRUPT, irq,
                                          sizeof(*irq));

        trace_span_send_interrupt(irq->dest, irq->src_apic, irq->vector,
                                  irq->delivery, irq->dest_mode,
                                  irq->shorthand,
                                  irq->level << 1 | irq->trigger,
                                  irq->x2apic, span_reject_str(check));
    }
    QEMU_LOCK_GUARD(&span.lock);
    if (irq->shorthand == SPAN_SH_NONE &&
        irq->dest_mode == SPAN_DEST_PHYSICAL && !broadcast) {
        uint32_t host = span_host_of(irq->dest);

        if (host == span.id && span.ops) {
            /* KVM handed it out while the vCPU was parked here */
            if (span_move_hold(span.id, irq)) {
                return;
            }
            if (span.ops->inject(irq) < 0) {
                span_fail(SPAN_MEMBER_NONE, "cannot inject an interrupt");
            }
            return;
        }
        if (host >= SPAN_MAX_MEMBERS) {
            span_fail(SPAN_MEMBER_NONE, "interrupt for a vCPU without host");
            return;
        }
        dsts = 1u << host;
    } else {
        /* logical, broadcast or shorthand: every member resolves its own */
        dsts = span_peers_locked();
    }
    sent = span_send_to_locked(dsts, SPAN_MSG_INTERRUPT, irq, sizeof(*irq));
    span_count_each(ipis_sent, sent, 1);
}

void span_deliver(uint32_t src, const struct span_interrupt *irq)
{
    int r;

    if (span_move_hold(src, irq) || !span_move_intercept(src, irq)) {
        span_count(ipis_received, src);
        return;
    }
    r = span.ops ? span.ops->inject(irq) : -ENOSYS;

    trace_span_inject(src, irq->dest, irq->vector, irq->delivery,
                      irq->shorthand, r);
    if (r < 0) {
        span_fail(src, "cannot inject an interrupt");
        return;
    }
    span_count(ipis_received, src);
}

static void span_inject(const struct span_msg_hdr *h)
{
    span_deliver(h->src, (const void *)(h + 1));
}

static void span_interrupt(const struct span_msg_hdr *h, const void *p)
{
    if (h->src >= SPAN_MAX_MEMBERS) {
        span_fail(SPAN_MEMBER_NONE, "interrupt from spand");
    } else if (span.ready && !span.resetting) {
        span_inject(h);
    } else {
        g_queue_push_tail(&deferred, g_memdup2(h, h->len));
    }
}

static void span_inject_deferred(void)
{
    struct span_msg_hdr *h;

    while ((h = g_queue_pop_head(&deferred))) {
        span_inject(h);
        g_free(h);
    }
}

/*
 * Level-triggered IOAPIC interrupts (kernel-irqchip=split: the IOAPIC is
 * the device owner's QEMU).  The owner's KVM sends them to a remote vCPU
 * as a level-triggered MSI; that vCPU's KVM exits on its EOI (KVM_CAP_SPAN
 * records the vector) and the EOI comes back here as SPAN_MSG_EOI, so that
 * the owner's IOAPIC clears the entry's Remote IRR.  Without it the line
 * would never interrupt again.
 */
bool span_forward_eoi(int vector)
{
    struct span_eoi e = { .vector = vector };

    if (!span.given || span_owns_firmware()) {
        return false;
    }
    QEMU_LOCK_GUARD(&span.lock);
    if (span.dev_owner >= SPAN_MAX_MEMBERS || span.dev_owner == span.id ||
        vector < 16 || vector > 255) {
        span_fail(SPAN_MEMBER_NONE, "EOI without a device owner");
        return true;
    }
    span_count_each(eois_sent, span_send_to_locked(span_bit(span.dev_owner),
                                                   SPAN_MSG_EOI, &e,
                                                   sizeof(e)), 1);
    return true;
}

/* The device owner (BQL held): an EOI from a vCPU elsewhere (validated). */
static void span_do_eoi(const struct span_msg_hdr *h, const void *p)
{
    const struct span_eoi *e = p;

    if (h->src >= SPAN_MAX_MEMBERS || !span_owns_firmware() ||
        !span.ops || !span.ops->eoi) {
        span_fail(SPAN_MEMBER_NONE, "EOI not for this member");
        return;
    }
    span.ops->eoi(e->vector);
    span_count(eois_received, h->src);
}

static void span_irq_run_state(Notifier *n, void *data)
{
    SpanRunEvent *ev = data;

    switch (*ev) {
    case SPAN_RUN_START:
        trace_span_running(g_queue_get_length(&deferred));
        span_inject_deferred();
        break;
    case SPAN_RUN_RESET:
        trace_span_reset(span.peer_reset, g_queue_get_length(&deferred));
        break;
    case SPAN_RUN_RESET_DONE:
        span_inject_deferred();
        break;
    default:
        break;
    }
}

void span_irq_init(void)
{
    span_register_handler(SPAN_MSG_INTERRUPT, sizeof(struct span_interrupt),
                          span_interrupt, SPAN_RX_BQL);
    span_register_handler(SPAN_MSG_EOI, sizeof(struct span_eoi), span_do_eoi,
                          SPAN_RX_BQL);
    run_notifier.notify = span_irq_run_state;
    notifier_list_add(&span_run_notifiers, &run_notifier);
}
