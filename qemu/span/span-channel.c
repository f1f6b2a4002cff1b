/*
 * Span members: the channel (connection to spand, message dispatch, sending)
 *
 * This member joins a span VM through libspan: spand hands it the guest's
 * memory and the channel to the other members (shared-memory rings with
 * doorbells) and keeps a socket to it.  Received messages are validated by
 * libspan and go to the handler their type registered
 * (span_register_handler()).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/error-report.h"
#include "qemu/host-utils.h"
#include "qemu/lockable.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "hw/core/cpu.h"
#include "system/cpus.h"
#include "system/kvm.h"
#include "system/runstate.h"
#include "span-internal.h"
#include "trace.h"

SpanState span = { .firmware = -1, .wait = SPAN_WAIT_DEFAULT };

static struct {
    SpanHandler *fn;
    size_t min_size;
} handlers[SPAN_MSG_TYPE_MAX];

static uint8_t *rx_buf;             /* one received message */

void span_register_handler(uint16_t type, size_t min_size, SpanHandler *fn)
{
    assert(type < SPAN_MSG_TYPE_MAX && !handlers[type].fn);
    handlers[type].fn = fn;
    handlers[type].min_size = min_size;
}

void span_count_at(size_t offset, uint32_t peers, uint64_t n,
                   uint64_t total_n)
{
    if (total_n) {
        qatomic_add((uint64_t *)((uint8_t *)&span.total + offset), total_n);
    }
    for (uint32_t slot = 0; peers >> slot; slot++) {
        if (peers & (1u << slot)) {
            qatomic_add((uint64_t *)((uint8_t *)&span.peer[slot] + offset), n);
        }
    }
}

void span_fail(uint32_t slot, const char *why)
{
    span_count(errors, slot);
    trace_span_error(slot, why);
}

void span_count_error(void)
{
    span_fail(SPAN_MEMBER_NONE, "accelerator");
}

void span_register_accel(const SpanAccelOps *ops)
{
    span.ops = ops;
}

/* Sends msg to member dst over the ring, waiting while the ring is full. */
static int span_send_one_locked(uint16_t dst, void *msg, size_t len)
{
    int64_t deadline = 0;
    int r;

    for (;;) {
        r = span_member_send(span.m, dst, msg, len);
        if (r != -EAGAIN) {
            break;
        }
        if (!deadline) {
            deadline = g_get_monotonic_time() + G_USEC_PER_SEC;
        } else if (g_get_monotonic_time() > deadline) {
            break;
        }
        qemu_mutex_unlock(&span.lock);
        g_usleep(20);
        qemu_mutex_lock(&span.lock);
    }
    if (r < 0) {
        span_count(errors, dst);
        trace_span_send_failed(dst, ((struct span_msg_hdr *)msg)->type, r);
        return r;
    }
    span_count(messages_sent, dst);
    return 0;
}

uint32_t span_send_to_locked(uint32_t dsts, uint16_t type,
                             const void *payload, size_t size)
{
    size_t len = sizeof(struct span_msg_hdr) + size;
    uint64_t small[8];
    g_autofree uint64_t *big = NULL;
    uint8_t *msg;
    uint32_t sent = 0;

    assert(len <= SPAN_MSG_MAX && !(len % SPAN_MSG_ALIGN));
    msg = len <= sizeof(small) ? (uint8_t *)small
                               : (uint8_t *)(big = g_malloc(len));
    for (uint16_t dst = 0; dst < SPAN_MAX_MEMBERS; dst++) {
        if (!(dsts & (1u << dst))) {
            continue;
        }
        /* libspan stamps seq into the message: frame it afresh each time */
        span_msg_init(msg, type, len, span.id, dst);
        memcpy(msg + sizeof(struct span_msg_hdr), payload, size);
        if (span_send_one_locked(dst, msg, len) == 0) {
            sent |= 1u << dst;
        }
    }
    return sent;
}

uint32_t span_send_to(uint32_t dsts, uint16_t type, const void *payload,
                      size_t size)
{
    QEMU_LOCK_GUARD(&span.lock);
    return span_send_to_locked(dsts, type, payload, size);
}

int span_request(uint16_t type, const void *payload, size_t size)
{
    uint8_t msg[sizeof(struct span_msg_hdr) + 64];
    uint8_t reply[sizeof(struct span_msg_hdr) + sizeof(struct span_ack)];
    const struct span_msg_hdr *rh = (void *)reply;
    const struct span_ack *ack = (void *)(reply + sizeof(*rh));
    size_t len = sizeof(struct span_msg_hdr) + size;
    ssize_t r;

    assert(size <= 64 && !(len % SPAN_MSG_ALIGN));
    span_msg_init(msg, type, len, span.id, SPAN_MEMBER_SPAND);
    memcpy(msg + sizeof(struct span_msg_hdr), payload, size);
    QEMU_LOCK_GUARD(&span.lock);
    span_count(messages_sent, SPAN_MEMBER_NONE);
    r = span_member_request(span.m, msg, len, reply, sizeof(reply),
                            SPAN_REQUEST_TIMEOUT);
    if (r < 0) {
        span_fail(SPAN_MEMBER_NONE, "request to spand failed");
        return r;
    }
    if (r != sizeof(reply) || rh->type != SPAN_MSG_ACK) {
        span_fail(SPAN_MEMBER_NONE, "spand's reply is not an ACK");
        return -EPROTO;
    }
    span_count(messages_received, SPAN_MEMBER_NONE);
    if (ack->status) {
        span_fail(SPAN_MEMBER_NONE, "spand refused a request");
    }
    return ack->status;
}

static void span_handle(const struct span_msg_hdr *h)
{
    size_t size = h->len - sizeof(*h);

    span_count(messages_received, h->src);
    if (h->type >= SPAN_MSG_TYPE_MAX || !handlers[h->type].fn) {
        span_fail(h->src, span_msg_type_str(h->type));
        return;
    }
    if (size < handlers[h->type].min_size) {
        span_fail(h->src, "payload too short");
        return;
    }
    handlers[h->type].fn(h, h + 1);
}

bool span_drain(void)
{
    ssize_t r;
    int pending;

    do {
        for (;;) {
            WITH_QEMU_LOCK_GUARD(&span.lock) {
                r = span_member_recv(span.m, rx_buf, SPAN_MSG_MAX);
                qatomic_set(&span.total.rejected,
                            span_member_rejected(span.m));
            }
            if (r <= 0) {
                break;
            }
            span_handle((const struct span_msg_hdr *)rx_buf);
        }
        if (r == -ECONNRESET) {
            return false;
        }
        if (r < 0) {
            span_fail(SPAN_MEMBER_NONE, "receive failed");
        }
        WITH_QEMU_LOCK_GUARD(&span.lock) {
            pending = span_member_prepare_wait(span.m);
        }
    } while (pending > 0);
    return true;
}

void span_fd_read(void *opaque)
{
    if (!span_drain()) {
        qemu_set_fd_handler(span_member_event_fd(span.m), NULL, NULL, NULL);
        qemu_set_fd_handler(span_member_control_fd(span.m), NULL, NULL, NULL);
        span_stop(SHUTDOWN_CAUSE_HOST_ERROR, "lost the connection to spand");
    }
}

bool span_main_loop_waits_for(CPUState *cpu)
{
    return qatomic_read(&cpu->stop) || !cpu_work_list_empty(cpu);
}

void span_drain_for_vcpu(void)
{
    bql_lock();
    span_fd_read(NULL);
    bql_unlock();
}

/* spand's memory-event subscriptions: nothing of a vCPU member's. */
static void span_ignore(const struct span_msg_hdr *h, const void *p)
{
}

static const char *span_connect_error(int r)
{
    switch (-r) {
    case ENOENT:
        return "no such span VM in spand";
    case EEXIST:
        return "a member with this name is already connected";
    case ENOSPC:
        return "the span VM has no free member slot";
    case EPROTONOSUPPORT:
        return "spand speaks no common protocol version";
    default:
        return strerror(-r);
    }
}

void span_init(Error **errp)
{
    ERRP_GUARD();
    struct stat st;
    int r;

    qemu_mutex_init(&span.lock);
    if (!kvm_enabled()) {
        error_setg(errp, "-span needs the KVM accelerator (-accel kvm)");
        error_append_hint(errp, "A span VM's vCPUs run in several processes "
                          "sharing its memory.  TCG cannot keep translated "
                          "code coherent across processes: code written by "
                          "a vCPU of another member would never invalidate "
                          "this process's translations.\n");
        return;
    }
    if (stat(span.socket, &st) < 0) {
        error_setg(errp, "-span: spand's socket %s does not exist: is spand "
                   "running?", span.socket);
        return;
    }
    r = span_member_connect(span.socket, span.vm, span.name, SPAN_CAP_RINGS,
                            &span.m);
    if (r == -ECONNREFUSED) {
        error_setg(errp, "-span: spand is not running (connection to %s "
                   "refused)", span.socket);
        return;
    }
    if (r < 0) {
        error_setg(errp, "-span: cannot join span VM '%s' as member '%s' "
                   "through %s: %s", span.vm, span.name, span.socket,
                   span_connect_error(r));
        return;
    }
    span.id = span_member_id(span.m);
    span.vm_id = span_member_vm_id(span.m);
    span.mem_size = span_member_mem_size(span.m);
    rx_buf = g_malloc(SPAN_MSG_MAX);
    span.dev_owner = SPAN_MEMBER_NONE;

    span_register_handler(SPAN_MSG_MEM_SUBSCRIBE, 0, span_ignore);
    span_register_handler(SPAN_MSG_MEM_UNSUBSCRIBE, 0, span_ignore);
    span_membership_init();
    span_irq_init();
    span_io_init();
    span_shadow_init();
    span_kick_init();           /* its topology notifier runs first */
    span_lifecycle_init();

    qemu_set_fd_handler(span_member_event_fd(span.m), span_fd_read, NULL,
                        NULL);
    qemu_set_fd_handler(span_member_control_fd(span.m), span_fd_read, NULL,
                        NULL);
}
