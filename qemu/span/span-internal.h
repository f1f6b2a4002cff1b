/*
 * Span members: state and services shared by the files of span/
 *
 * A span VM is one guest whose vCPUs and devices are hosted by several QEMU
 * processes ("members") at once, each on its own KVM.  The span daemon
 * (spand) owns the guest's memory and the channel between members.  The
 * member is split by concern, each file registering what it handles:
 *
 *   span-channel.c     connection, message dispatch, sending, counters
 *   span-membership.c  -span, vCPU placement, topology (who hosts what)
 *   span-irq.c         interrupts and IOAPIC EOIs between members
 *   span-io.c          port and MMIO accesses forwarded to the owner
 *   span-kick.c        posted notifications (ioeventfd forwarding)
 *   span-lifecycle.c   start, reset, shutdown and the guest clock
 *   span-shadow.c      shadow-paging coherence (span_wt_*)
 *   span-move.c        moving a vCPU to another member (span-move-vcpu)
 *   span-qmp.c         query-span
 *
 * A concern handles message types it registers with span_register_handler()
 * and follows topology and run-state changes through the notifier lists
 * below; no file calls into another concern's internals for those.
 *
 * Threads: the receive thread (span-channel.c) reads the channel.  It
 * completes what vCPUs wait for itself (forwarded accesses' answers,
 * shadow-paging requests and acknowledgements), runs forwarded accesses,
 * interrupts and EOIs holding the BQL, and hands every other message, in
 * order, to the main loop (SpanHandlerThread); those handlers, the
 * notifiers and QMP run on the main loop with the BQL.
 * vCPU threads send (span_send_interrupt(), span_forward_eoi(),
 * span_forward_io(), span_wt_*()) and wait for answers without the BQL;
 * span.lock serialises every libspan call and guards the placement, the
 * forwarded accesses in flight and the shadow-paging state.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef SPAN_INTERNAL_H
#define SPAN_INTERNAL_H

#include <span/libspan.h>
#include "qemu/host-utils.h"
#include "qemu/notify.h"
#include "qemu/thread.h"
#include "qapi/qapi-types-run-state.h"
#include "qapi/qapi-types-span.h"
#include "system/span-accel.h"

#define SPAN_WAIT_DEFAULT 30        /* seconds */
#define SPAN_REQUEST_TIMEOUT 5000   /* ms */
#define SPAN_DEVICES_ID 0           /* the firmware member's devices */

typedef struct SpanState {
    /* configuration (-span) */
    bool given;
    char *vm;
    char *socket;
    char *name;
    unsigned long *want;            /* requested CPU indexes */
    bool no_vcpus;                  /* vcpus=none */
    int firmware;                   /* -1: default (hosts vCPU 0) */
    uint64_t wait;

    /* membership */
    struct span_member *m;
    uint32_t id;
    uint32_t vm_id;
    uint64_t mem_size;

    /* vCPUs by CPU index */
    int nr_cpus;
    uint32_t *apic_id;
    /*
     * the vCPUs running here (from vcpus= on, then as they move; changed
     * with the BQL, read by vCPU threads), and the host spand last gave
     * each (main loop)
     */
    unsigned long *local;
    uint32_t *spand_host;

    /* placement from spand: APIC ID -> member slot + 1 (main loop) */
    GHashTable *placement;
    uint64_t generation;
    uint32_t dev_owner;             /* owner of the devices or NONE */
    /*
     * members spand told about (SPAN_MSG_MEMBER): names by slot, and the
     * slots that left (under span.lock: senders skip them); what they
     * hosted when they left, for query-span (main loop, BQL)
     */
    char *member_name[SPAN_MAX_MEMBERS];
    uint32_t gone;
    SpanLossList *lost;

    /* libspan calls and placement readers off the main loop: lock */
    QemuMutex lock;
    /* counters: updated atomically (span_count_at()) */
    SpanCounters total;
    SpanCounters peer[SPAN_MAX_MEMBERS];

    const SpanAccelOps *ops;
    bool wt_on;                     /* shadow-paging coherence is active */

    /* run state (span-lifecycle.c) */
    bool stopping;                  /* shutdown or reset came from the span */
    bool ready;                     /* the machine runs: inject directly */
    bool resetting;                 /* a reset of the span VM is under way */
    bool peer_reset;                /* the pending reset came from a peer */
} SpanState;

extern SpanState span;

/* ---- channel core (span-channel.c) ------------------------------------ */

/*
 * Handles one validated message from the channel: h->len - sizeof(*h) >=
 * the minimum size it was registered with.
 */
typedef void SpanHandler(const struct span_msg_hdr *h, const void *payload);
/*
 * Where a message type's handler runs (until the receive thread starts,
 * every handler runs on the main thread).
 */
typedef enum SpanHandlerThread {
    /* the main loop, after every message received before it */
    SPAN_MAIN_LOOP,
    /*
     * the receive thread holding the BQL, or the main loop when messages
     * received before it still wait there (so never out of order with
     * them).  Must not wait for a vCPU or the main loop (no vm_stop(),
     * no run_on_cpu()).
     */
    SPAN_RX_BQL,
    /*
     * the receive thread, no lock held: completes what a vCPU waits for.
     * Must never wait for the main loop or a vCPU; may overtake messages
     * received before it that wait for the main loop.
     */
    SPAN_RX,
} SpanHandlerThread;
void span_register_handler(uint16_t type, size_t min_size, SpanHandler *fn,
                           SpanHandlerThread thread);

/*
 * Sends a message of type with size payload bytes (a multiple of
 * SPAN_MSG_ALIGN) to every member slot in dsts over the rings, waiting a
 * while for a full ring.  Returns the slots it reached (failures are
 * counted and traced).  span_send_to_locked: under span.lock (which it
 * drops while it waits).
 */
uint32_t span_send_to(uint32_t dsts, uint16_t type, const void *payload,
                      size_t size);
uint32_t span_send_to_locked(uint32_t dsts, uint16_t type,
                             const void *payload, size_t size);
/*
 * Sends a request to spand; returns the ACK's status or -errno.  With
 * value: the ACK's value, if the status is 0.
 */
int span_request(uint16_t type, const void *payload, size_t size);
int span_request_value(uint16_t type, const void *payload, size_t size,
                       uint64_t *value);
/*
 * Main loop: handles the messages received so far.  Until the receive
 * thread starts, reads the channel itself (and re-arms the doorbell);
 * afterwards runs what the thread queued.  Returns false once spand is
 * gone.
 */
bool span_drain(void);
/* Starts the receive thread: the machine exists, messages may flow. */
void span_channel_start(void);

static inline uint32_t span_bit(uint32_t slot)
{
    return slot < SPAN_MAX_MEMBERS ? 1u << slot : 0;
}

/*
 * Counters: adds n to field of each member slot in peers and total_n to
 * the total.  No lock needed.
 */
void span_count_at(size_t offset, uint32_t peers, uint64_t n,
                   uint64_t total_n);
/* One event with member slot (or none: SPAN_MEMBER_NONE, spand). */
#define span_count(field, slot) \
    span_count_at(offsetof(SpanCounters, field), span_bit(slot), 1, 1)
/* n events with each of peers: the total counts every one. */
#define span_count_each(field, peers, n) \
    span_count_at(offsetof(SpanCounters, field), (peers), (n), \
                  (uint64_t)(n) * ctpop32(peers))
/* n events shared by peers: the total counts them once. */
#define span_count_once(field, peers, n) \
    span_count_at(offsetof(SpanCounters, field), (peers), (n), (n))
/* Counts an error involving slot (or none) and traces why (span_error). */
void span_fail(uint32_t slot, const char *why);

/* ---- membership (span-membership.c) ----------------------------------- */

/* The member slot hosting the vCPU with apic_id, or SPAN_MEMBER_NONE. */
uint32_t span_host_of(uint32_t apic_id);
/* Routes the vCPU with apic_id to slot from now on (under span.lock). */
void span_set_host_locked(uint32_t apic_id, uint32_t slot);
/* The CPU index of the vCPU with apic_id, or -1. */
int span_cpu_index_of(uint32_t apic_id);
/* Fills ids with the APIC IDs of the vCPUs not running here; the count. */
int span_remote_ids(uint32_t *ids);
/* The members spand told about, other than this one and the lost. */
uint32_t span_known_peers(void);
/* The member slots hosting vCPUs, other than this one (under span.lock). */
uint32_t span_peers(void);
uint32_t span_peers_locked(void);
/*
 * Notified (main loop, no data) after each TOPOLOGY from spand changed
 * the placement.
 */
extern NotifierList span_topology_notifiers;

/*
 * Notified when spand says a member joined or left, with the BQL, on the
 * receive thread or the main loop (so a notifier must not wait for a vCPU
 * or the main loop).  For LEFT, before the placement changes: the lost
 * member's vCPUs and devices are still in it, and span.gone has its slot.
 */
typedef struct SpanMemberEvent {
    uint32_t slot;
    bool joined;
} SpanMemberEvent;
extern NotifierList span_member_notifiers;

/* ---- moving vCPUs (span-move.c) ---------------------------------------- */

/*
 * Under span.lock, for each vCPU of a TOPOLOGY with its generation: where
 * this member sends the vCPU's interrupts, given that spand places it on
 * host.  A move under way keeps its own route (the member the vCPU left
 * routes it to its new host at once; the new host, to the old one until
 * the vCPU runs there).
 */
uint32_t span_move_route_locked(uint32_t apic_id, uint32_t host,
                                uint64_t generation);
/*
 * BQL held: an interrupt from member src, before it is injected here.
 * Hands on or holds the part of it meant for a vCPU in flight; false if
 * nothing else is left to inject here.
 */
bool span_move_intercept(uint32_t src, const struct span_interrupt *irq);
/*
 * While this member's vCPUs are parked for a move (BQL held), holds an
 * interrupt from member src (or this one: KVM handed it out because its
 * local target was parked) for delivery once they run again; false
 * otherwise.
 */
bool span_move_hold(uint32_t src, const struct span_interrupt *irq);
/* BQL held: delivers an interrupt from member src here (span-irq.c). */
void span_deliver(uint32_t src, const struct span_interrupt *irq);

/* ---- run state (span-lifecycle.c) ------------------------------------- */

typedef enum SpanRunEvent {
    SPAN_RUN_PLACED,        /* every vCPU has a host: set the machine up */
    SPAN_RUN_START,         /* the machine runs for the first time */
    SPAN_RUN_RESET,         /* a reset of the span VM begins here */
    SPAN_RUN_RESET_DONE,    /* the vCPUs run again after it */
} SpanRunEvent;

/* Notified on the main loop with a SpanRunEvent * as data. */
extern NotifierList span_run_notifiers;
/* Stops this member (and so the span VM) with cause; why is printed. */
void span_stop(ShutdownCause cause, const char *why);
/*
 * A member hosting vCPUs or devices was lost: pauses the guest here (from
 * any thread; done on the main loop), its memory and this member intact.
 */
void span_pause_lost(void);

/* ---- one registration function per concern, called by span_init() ----- */

void span_membership_init(void);
void span_irq_init(void);
void span_io_init(void);
void span_kick_init(void);
void span_lifecycle_init(void);
void span_shadow_init(void);
void span_move_init(void);

/*
 * A posted write (SPAN_IO_F_POSTED) to the device owner goes to the one
 * handler registered here (span-kick.c's notifications), main loop: it
 * returns false if the write is not one it announced.
 */
typedef bool SpanPostedHandler(const struct span_msg_hdr *h,
                               const struct span_io_req *req);
void span_io_register_posted(SpanPostedHandler *fn);

#endif
