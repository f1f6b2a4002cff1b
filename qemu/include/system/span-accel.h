/*
 * Span members: what the accelerator does for them and asks of them
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef SYSTEM_SPAN_ACCEL_H
#define SYSTEM_SPAN_ACCEL_H

#include "system/span.h"

/*
 * Shadow-paging coherence (Documentation/shadow-coherence.rst): what a
 * peer asks of this member's accelerator.
 */
typedef enum SpanWtPeerOp {
    SPAN_WT_PEER_IMPORT = 1,        /* peers shadow gfns: write-protect */
    SPAN_WT_PEER_RELEASE,           /* no peer does any more */
    SPAN_WT_PEER_INVALIDATE,        /* a peer wrote gfns: drop shadows */
    SPAN_WT_PEER_INVALIDATE_ALL,    /* drop every shadow page (no gfns) */
} SpanWtPeerOp;

/* gfns in one SpanAccelOps.wt_peer call */
#define SPAN_WT_PEER_BATCH 512

struct span_interrupt;
struct span_ioeventfd;
struct kvm_run;

/*
 * A sample of the guest's clock (kvmclock): ns of guest time at realtime_ns
 * (CLOCK_REALTIME of the host, taken with it).  Co-located members share
 * the host's realtime clock, so a sample carries over exactly.
 */
typedef struct SpanClock {
    uint64_t ns;
    uint64_t realtime_ns;
    bool stable;        /* the accelerator's master clock is in use */
} SpanClock;

/*
 * How a vCPU's local APIC matches interrupt destinations, so that the part
 * of an interrupt meant for a vCPU in flight can be picked out of it.
 */
typedef struct SpanApicMatch {
    uint32_t apic_id;
    bool x2apic;            /* x2APIC mode: the logical ID follows apic_id */
    uint8_t ldr;            /* xAPIC logical destination (LDR bits 31:24) */
    uint8_t dfr_model;      /* xAPIC DFR model (bits 31:28): 0xf flat */
} SpanApicMatch;

/* What the accelerator does for span members (KVM with KVM_CAP_SPAN). */
typedef struct SpanAccelOps {
    /* Declares the APIC IDs hosted elsewhere (after every vCPU exists). */
    bool (*setup)(const uint32_t *remote, int nr, Error **errp);
    /* Delivers an interrupt from another member to local vCPUs. */
    int (*inject)(const struct span_interrupt *irq);
    /*
     * Reads the guest's clock; sets it to a sample from another member,
     * advanced by the realtime elapsed since it was taken.
     */
    int (*get_clock)(SpanClock *c);
    int (*set_clock)(const SpanClock *c);
    /*
     * Shadow paging: applies a peer's request to nr (<= SPAN_WT_PEER_BATCH)
     * guest frames; 0 or -errno (-EINVAL: a gfn is not guest memory).
     */
    int (*wt_peer)(SpanWtPeerOp op, const uint64_t *gfns, unsigned nr);
    /*
     * Registers (assign) or removes an ioeventfd for a notification
     * address of the device owner (struct span_ioeventfd, validated):
     * guest writes there signal fd.  0 or -errno.
     */
    int (*ioeventfd)(bool assign, const struct span_ioeventfd *e, int fd);
    /*
     * The device owner: an EOI of vector (16..255) from a vCPU elsewhere
     * reaches the IOAPIC, as the accelerator's own EOI exits do.
     */
    void (*eoi)(int vector);
    /*
     * Replaces the set of APIC IDs hosted elsewhere: a vCPU that leaves
     * is parked (it never runs here again until it comes back), one that
     * arrives is unparked.  0 or -errno.
     */
    int (*set_remote)(const uint32_t *remote, int nr);
    /*
     * On the thread of the parked vCPU cs, BQL held: hands out what it
     * raised before it was parked (span_send_interrupt()).
     */
    bool (*drain_vcpu)(CPUState *cs, Error **errp);
    /* Main loop: hands out what the accelerator raised outside vCPUs. */
    void (*drain_ring)(void);
    /*
     * On the thread of the parked, drained vCPU cs, BQL held: appends its
     * whole state to out (opaque to span/) and fills in how its APIC
     * matches destinations.
     */
    bool (*save_vcpu)(CPUState *cs, GByteArray *out, SpanApicMatch *m,
                      Error **errp);
    /* Likewise: loads a state save_vcpu() produced on another member. */
    bool (*load_vcpu)(CPUState *cs, const uint8_t *data, size_t len,
                      SpanApicMatch *m, Error **errp);
} SpanAccelOps;

void span_register_accel(const SpanAccelOps *ops);
/*
 * The accelerator shadows the guest's page tables and tracks them with the
 * peers (wt_peer works); called once, before any vCPU runs.  Without it a
 * member refuses peers' write-tracking requests.
 */
void span_wt_enable(bool on);
/*
 * A local vCPU is about to shadow guest frame gfn: tells every peer and
 * waits until all write-protect it.  A vCPU wrote frame gfn
 * (SPAN_WT_GFN_ALL: any frame) that peers shadow: waits until every peer
 * dropped its shadows.  0: the vCPU may re-enter; < 0: it must not (the
 * span VM is stopping).
 */
#define SPAN_WT_GFN_ALL UINT64_MAX
int span_wt_publish(CPUState *cpu, uint64_t gfn);
int span_wt_invalidate(CPUState *cpu, uint64_t gfn);
/* This member no longer shadows these frames (no wait). */
void span_wt_withdraw(const uint64_t *gfns, unsigned nr);
/* Sends an interrupt raised here to the members hosting its targets. */
void span_send_interrupt(const struct span_interrupt *irq);
/*
 * A local vCPU EOIed a level-triggered vector (the accelerator's IOAPIC EOI
 * exit): true if it went to the member owning the IOAPIC, false if the
 * IOAPIC is here (the caller broadcasts the EOI locally).
 */
bool span_forward_eoi(int vector);
/*
 * Counts an error (e.g. an interrupt that cannot be forwarded) and traces
 * it (span_error).
 */
void span_count_error(void);
/*
 * True if this member forwards its vCPUs' port and MMIO accesses to the
 * member owning the devices (every member but the firmware member).
 */
bool span_forwards_io(void);
/*
 * Forwards count port or MMIO accesses of size bytes at addr (data: size *
 * count bytes, filled in on reads) and waits for their completion.
 */
void span_forward_io(CPUState *cpu, bool pio, uint64_t addr, uint8_t *data,
                     unsigned size, unsigned count, bool is_write);
/* KVM_EXIT_SPAN_IRQ (target/i386/kvm/span.c) */
int kvm_span_handle_exit(CPUState *cs, struct kvm_run *run);

#endif
