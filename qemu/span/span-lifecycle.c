/*
 * Span members: start, reset, shutdown and the guest clock
 *
 * The span VM starts, resets and stops as one guest: this member follows
 * its peers' RESET and SHUTDOWN, spand's VM_STATE, and tells the others
 * when its own machine resets or shuts down.  The owner of the firmware
 * sends its guest clock (HEARTBEAT) so that every member agrees on it.
 * Other concerns follow the run state through span_run_notifiers.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/error-report.h"
#include "qemu/lockable.h"
#include "qemu/main-loop.h"
#include "block/aio.h"
#include "system/reset.h"
#include "system/runstate.h"
#include "span-internal.h"

NotifierList span_run_notifiers = NOTIFIER_LIST_INITIALIZER(span_run_notifiers);

static struct {
    bool have_clock;                /* a sample from the firmware member */
    SpanClock clock;
    VMChangeStateEntry *vmstate;
    Notifier shutdown, run;
} life;

static void span_run_notify(SpanRunEvent ev)
{
    notifier_list_notify(&span_run_notifiers, &ev);
}

void span_stop(ShutdownCause cause, const char *why)
{
    if (qatomic_xchg(&span.stopping, true)) {
        return;
    }
    if (why) {
        error_report("span: %s", why);
    }
    qemu_system_shutdown_request(cause);
}

/*
 * RESET from a peer (or from spand): reset this member's machine too.
 * Interrupts that follow it on the ring belong to the next boot: they wait
 * until the reset is done (span_reset_done()).
 */
static void span_reset_from_peer(const struct span_msg_hdr *h, const void *p)
{
    if (span.stopping || !span.ready) {
        return;
    }
    span.resetting = true;
    span.peer_reset = true;
    qemu_system_reset_request(SHUTDOWN_CAUSE_GUEST_RESET);
}

static void span_shutdown_from_peer(const struct span_msg_hdr *h,
                                    const void *p)
{
    span_stop(SHUTDOWN_CAUSE_GUEST_SHUTDOWN, NULL);
}

static void span_pause_bh(void *opaque)
{
    if (runstate_is_running()) {
        vm_stop(RUN_STATE_PAUSED);
    }
}

void span_pause_lost(void)
{
    aio_bh_schedule_oneshot(qemu_get_aio_context(), span_pause_bh, NULL);
}

static void span_vm_state(const struct span_msg_hdr *h, const void *p)
{
    const struct span_vm_state *s = p;

    /*
     * spand pauses the span VM when a member hosting vCPUs is lost (the
     * MEMBER message before this one said which): the guest stops here
     * too, this member stays up.  A member that joins a span VM paused by
     * an earlier loss starts normally.
     */
    if (s->state == SPAN_VM_PAUSED &&
        s->reason == SPAN_REASON_MEMBER_LOST && span.ready) {
        span_pause_lost();
    } else if (s->state == SPAN_VM_SHUTDOWN) {
        span_stop(SHUTDOWN_CAUSE_GUEST_SHUTDOWN, NULL);
    }
}

static void span_apply_clock(void)
{
    if (life.have_clock && span.ops &&
        span.ops->set_clock(&life.clock) < 0) {
        span_fail(SPAN_MEMBER_NONE, "cannot set the guest clock");
    }
    life.have_clock = false;
}

/* The firmware member's guest clock: counter ns at timestamp. */
static void span_heartbeat(const struct span_msg_hdr *h, const void *p)
{
    const struct span_heartbeat *hb = p;

    if (h->src >= SPAN_MAX_MEMBERS || span_owns_firmware()) {
        return;
    }
    life.clock.ns = hb->counter;
    life.clock.realtime_ns = hb->timestamp_ns;
    life.have_clock = true;
    if (span.ready && !span.resetting) {
        span_apply_clock();
    }
}

/* Tells the other members the guest clock, so that all agree on it. */
static void span_send_clock(void)
{
    struct span_heartbeat hb;
    SpanClock clock;

    if (!span.ops || span.ops->get_clock(&clock) < 0) {
        span_fail(SPAN_MEMBER_NONE, "cannot read the guest clock");
        return;
    }
    hb.timestamp_ns = clock.realtime_ns;
    hb.counter = clock.ns;
    QEMU_LOCK_GUARD(&span.lock);
    span_send_to_locked(span_peers_locked(), SPAN_MSG_HEARTBEAT, &hb,
                        sizeof(hb));
}

static void span_start(void *opaque)
{
    span.ready = true;
    if (span_owns_firmware()) {
        span_send_clock();
    } else {
        span_apply_clock();
    }
    span_run_notify(SPAN_RUN_START);
}

/* Tells every other member to reset (over the rings, see below). */
static void span_send_reset(void)
{
    struct span_reset r = { .reason = SPAN_REASON_GUEST };
    uint32_t peers;

    QEMU_LOCK_GUARD(&span.lock);
    peers = span_peers_locked();
    if (span.dev_owner < SPAN_MAX_MEMBERS && span.dev_owner != span.id) {
        peers |= 1u << span.dev_owner;
    }
    span_send_to_locked(peers, SPAN_MSG_RESET, &r, sizeof(r));
}

/*
 * After the main loop's reset, once the vCPUs run again (their reset
 * state is in KVM): interrupts queued since the reset began are injected,
 * into APs waiting for SIPI.  If another reset is already requested, its
 * own handler schedules this again.
 */
static void span_reset_done(void *opaque)
{
    if (qemu_reset_requested_get() != SHUTDOWN_CAUSE_NONE) {
        return;
    }
    span.resetting = false;
    if (!span_owns_firmware()) {
        span_apply_clock();
    }
    span_run_notify(SPAN_RUN_RESET_DONE);
}

/*
 * A guest reset of the span VM resets every member.  The member whose
 * machine resets first (the guest wrote the reset register or the keyboard
 * controller on the owner of the devices, a vCPU triple-faulted, QMP
 * system_reset) sends RESET to every peer.  It does so here, while its
 * vCPUs are stopped and before they run again, and over the rings, where
 * RESET is ordered before the interrupts of the next boot (the INIT and
 * SIPI with which the BSP brings up the APs hosted elsewhere): a peer
 * queues what follows RESET until its own reset is done.  Each member
 * resets its own vCPUs (APs wait for SIPI again; placeholders stay parked,
 * KVM keeps their remote declaration); the owner of the firmware resends
 * its guest clock.  With -no-reboot a reset becomes a shutdown, which is
 * coordinated as usual.
 */
static void span_reset_handler(void *opaque)
{
    if (!span.ready) {
        return;     /* the reset that creates the machine */
    }
    span.resetting = true;
    span_run_notify(SPAN_RUN_RESET);
    if (span.peer_reset) {
        span.peer_reset = false;
    } else {
        span_send_reset();
    }
    if (span_owns_firmware()) {
        span_send_clock();
    }
    aio_bh_schedule_oneshot(qemu_get_aio_context(), span_reset_done, NULL);
}

static void span_vm_state_change(void *opaque, bool running, RunState state)
{
    /* whatever started it: the guest cannot run without what was lost */
    if (running && span.lost) {
        span_pause_lost();
    }
    if (running && !span.ready) {
        span_drain();
        /* after the other handlers (kvmclock sets the clock on start) */
        aio_bh_schedule_oneshot(qemu_get_aio_context(), span_start, NULL);
    }
}

static void span_shutdown_notify(Notifier *n, void *data)
{
    ShutdownCause cause = *(ShutdownCause *)data;
    struct span_reset s = { .reason = SPAN_REASON_GUEST };

    if (span.stopping) {
        return;
    }
    qatomic_set(&span.stopping, true);
    if (!shutdown_caused_by_guest(cause)) {
        s.reason = SPAN_REASON_ADMIN;
    }
    span_request(SPAN_MSG_SHUTDOWN, &s, sizeof(s));
}

/* Every vCPU has a host: follow the machine's run state from now on. */
static void span_lifecycle_placed(Notifier *n, void *data)
{
    if (*(SpanRunEvent *)data != SPAN_RUN_PLACED) {
        return;
    }
    life.vmstate = qemu_add_vm_change_state_handler(span_vm_state_change,
                                                    NULL);
    qemu_register_reset(span_reset_handler, NULL);
}

void span_lifecycle_init(void)
{
    span_register_handler(SPAN_MSG_VM_STATE, sizeof(struct span_vm_state),
                          span_vm_state, SPAN_MAIN_LOOP);
    span_register_handler(SPAN_MSG_SHUTDOWN, 0, span_shutdown_from_peer,
                          SPAN_MAIN_LOOP);
    span_register_handler(SPAN_MSG_RESET, 0, span_reset_from_peer,
                          SPAN_MAIN_LOOP);
    span_register_handler(SPAN_MSG_HEARTBEAT, sizeof(struct span_heartbeat),
                          span_heartbeat, SPAN_MAIN_LOOP);
    life.run.notify = span_lifecycle_placed;
    notifier_list_add(&span_run_notifiers, &life.run);
    life.shutdown.notify = span_shutdown_notify;
    qemu_register_shutdown_notifier(&life.shutdown);
}
