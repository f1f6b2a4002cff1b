/*
 * Span members: port and MMIO accesses forwarded to the device owner
 *
 * Every member but the one owning the firmware and devices forwards its
 * vCPUs' port and MMIO accesses (span_forwards_io()) to the owner, which
 * performs them on its device models and answers.  Each vCPU has at most
 * one access in flight.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/bswap.h"
#include "qemu/lockable.h"
#include "qemu/main-loop.h"
#include "exec/address-spaces.h"
#include "exec/memory.h"
#include "hw/core/cpu.h"
#include "system/runstate.h"
#include "span-internal.h"
#include "trace.h"

/* One forwarded access of a vCPU (each vCPU has at most one in flight). */
typedef struct SpanPending {
    QemuSemaphore done;
    uint32_t seq;
    bool busy;
    uint64_t data;
    int status;
    uint32_t owner;                 /* the member slot asked */
    bool orphaned;                  /* it left: no answer will come */
} SpanPending;

static SpanPending *pending;        /* by CPU index, under span.lock */
static Notifier run_notifier, member_notifier;
static SpanPostedHandler *posted;

void span_io_register_posted(SpanPostedHandler *fn)
{
    assert(!posted);
    posted = fn;
}

/*
 * This vCPU executes nothing more of the guest until QEMU stops it (or
 * the span VM stops).  -ERESTART: the access reset the span VM (the guest
 * wrote a reset register); like a real CPU, the vCPU runs nothing more of
 * the old boot, and waits until the owner's RESET arrives and the reset
 * here stops it.  -ENOLINK: the owner of the devices was lost, the guest
 * pauses here (span_pause_lost()).
 */
static void span_wait_stopped(CPUState *cpu, int why)
{
    while (!qatomic_read(&span.stopping) &&
           !((why != -ERESTART || qatomic_read(&span.resetting)) &&
             qatomic_read(&cpu->stop))) {
        g_usleep(1000);
    }
}

void span_forward_io(CPUState *cpu, bool pio, uint64_t addr, uint8_t *data,
                     unsigned size, unsigned count, bool is_write)
{
    SpanPending *p = &pending[cpu->cpu_index];
    struct span_io_req req = {
        .addr = addr,
        .vcpu = span.apic_id[cpu->cpu_index],
        .device = SPAN_DEVICES_ID,
        .size = size,
        .is_write = is_write,
    };

    for (unsigned i = 0; i < count; i++, data += size) {
        uint32_t sent = 0;
        int r;

        WITH_QEMU_LOCK_GUARD(&span.lock) {
            req.id = ((uint64_t)cpu->cpu_index << 32) | ++p->seq;
            req.data = is_write ? ldn_le_p(data, size) : 0;
            p->busy = true;
            p->status = -EIO;
            p->owner = span.dev_owner;
            p->orphaned = false;
            if (p->owner < SPAN_MAX_MEMBERS && !(span.gone & 1u << p->owner)) {
                sent = span_send_to_locked(1u << p->owner,
                                           pio ? SPAN_MSG_PIO_REQ
                                               : SPAN_MSG_MMIO_REQ,
                                           &req, sizeof(req));
                r = sent ? 0 : -EIO;
            } else {
                r = -ENOLINK;   /* the owner was lost */
            }
            if (pio) {
                span_count_each(pio_forwarded, sent, 1);
            } else {
                span_count_each(mmio_forwarded, sent, 1);
            }
        }
        trace_span_forward_io(cpu->cpu_index, pio ? "pio" : "mmio", is_write,
                              addr, size, r);
        /*
         * Wait for the owner (the receive thread completes the access);
         * give up when the span VM stops, when a reset of the span VM
         * stops this vCPU, or when the owner leaves.
         */
        while (r == 0 && qemu_sem_timedwait(&p->done, 200) < 0) {
            if (qatomic_read(&span.stopping)) {
                r = -ESHUTDOWN;
            } else if (qatomic_read(&span.resetting) &&
                       qatomic_read(&cpu->stop)) {
                r = -ECANCELED;
            } else if (qatomic_read(&p->orphaned)) {
                r = -ENOLINK;
            }
        }
        WITH_QEMU_LOCK_GUARD(&span.lock) {
            p->busy = false;
            if (r == 0) {
                r = p->status;
            }
        }
        if (r < 0 && r != -ERESTART) {
            span_fail(SPAN_MEMBER_NONE, r == -ENOLINK
                      ? "a forwarded access lost the owner of the devices"
                      : "a forwarded access failed");
        }
        trace_span_forward_io_done(cpu->cpu_index, r);
        if (!is_write) {
            stn_le_p(data, size, r < 0 ? ~0ULL : p->data);
        }
        if (r == -ERESTART || r == -ENOLINK) {
            span_wait_stopped(cpu, r);
            return;
        }
    }
}

/* The owner, with the BQL: performs a forwarded access and answers it. */
static void span_do_io(const struct span_msg_hdr *h, const void *payload)
{
    const struct span_io_req *req = payload;
    bool pio = h->type == SPAN_MSG_PIO_REQ;
    struct span_io_resp resp = { .id = req->id };
    uint8_t buf[8] = { 0 };
    MemTxResult res;
    bool resetting = qemu_reset_requested_get() != SHUTDOWN_CAUSE_NONE;

    if (h->src >= SPAN_MAX_MEMBERS || !span_owns_firmware()) {
        span_fail(SPAN_MEMBER_NONE, "access request not for this member");
        return;
    }
    if (req->flags & SPAN_IO_F_POSTED) {
        if (!posted || !posted(h, req)) {
            span_fail(SPAN_MEMBER_NONE, "posted write not announced");
        }
        return;
    }
    stq_le_p(buf, req->data);
    res = address_space_rw(pio ? &address_space_io : &address_space_memory,
                           req->addr, MEMTXATTRS_UNSPECIFIED, buf, req->size,
                           req->is_write);
    resp.status = res == MEMTX_OK ? 0 : -EIO;
    /* This access reset the span VM: its vCPU must stop (-ERESTART). */
    if (res == MEMTX_OK && !resetting &&
        qemu_reset_requested_get() != SHUTDOWN_CAUSE_NONE) {
        resp.status = -ERESTART;
    }
    if (resp.status == 0 && !req->is_write) {
        resp.data = ldn_le_p(buf, req->size);
        if (pio) {
            resp.data &= 0xffffffffu;
        }
    }
    span_send_to(1u << h->src, pio ? SPAN_MSG_PIO_RESP : SPAN_MSG_MMIO_RESP,
                 &resp, sizeof(resp));
}

/* The requester, receive thread: completes a vCPU's forwarded access. */
static void span_io_done(const struct span_msg_hdr *h, const void *payload)
{
    const struct span_io_resp *resp = payload;
    uint32_t index = resp->id >> 32;
    SpanPending *p;

    QEMU_LOCK_GUARD(&span.lock);
    if (index >= span.nr_cpus || !pending || !pending[index].busy ||
        pending[index].seq != (uint32_t)resp->id ||
        h->src != span.dev_owner) {
        span_fail(SPAN_MEMBER_NONE, "stale or unexpected access answer");
        return;
    }
    p = &pending[index];
    p->data = resp->data;
    p->status = resp->status;
    p->busy = false;
    qemu_sem_post(&p->done);
}

static void span_io_run_state(Notifier *n, void *data)
{
    if (*(SpanRunEvent *)data == SPAN_RUN_PLACED) {
        pending = g_new0(SpanPending, span.nr_cpus);
        for (int i = 0; i < span.nr_cpus; i++) {
            qemu_sem_init(&pending[i].done, 0);
        }
    }
}

/* A member left: the accesses waiting for it get no answer. */
static void span_io_member(Notifier *n, void *data)
{
    SpanMemberEvent *ev = data;

    if (ev->joined || !pending) {
        return;
    }
    QEMU_LOCK_GUARD(&span.lock);
    for (int i = 0; i < span.nr_cpus; i++) {
        if (pending[i].busy && pending[i].owner == ev->slot) {
            qatomic_set(&pending[i].orphaned, true);
        }
    }
}

void span_io_init(void)
{
    span_register_handler(SPAN_MSG_MMIO_REQ, sizeof(struct span_io_req),
                          span_do_io, SPAN_RX_BQL);
    span_register_handler(SPAN_MSG_PIO_REQ, sizeof(struct span_io_req),
                          span_do_io, SPAN_RX_BQL);
    span_register_handler(SPAN_MSG_MMIO_RESP, sizeof(struct span_io_resp),
                          span_io_done, SPAN_RX);
    span_register_handler(SPAN_MSG_PIO_RESP, sizeof(struct span_io_resp),
                          span_io_done, SPAN_RX);
    run_notifier.notify = span_io_run_state;
    notifier_list_add(&span_run_notifiers, &run_notifier);
    member_notifier.notify = span_io_member;
    notifier_list_add(&span_member_notifiers, &member_notifier);
}
