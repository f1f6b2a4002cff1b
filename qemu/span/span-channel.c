/*
 * Span members: the channel (connection to spand, message dispatch, sending)
 *
 * This member joins a span VM through libspan: spand hands it the guest's
 * memory and the channel to the other members (shared-memory rings with
 * doorbells) and keeps a socket to it.  Received messages are validated by
 * libspan and go to the handler their type registered
 * (span_register_handler()), on the main loop or on the receive thread.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include "qemu/atomic.h"
#include "qemu/error-report.h"
#include "qemu/event_notifier.h"
#include "qemu/host-utils.h"
#include "qemu/lockable.h"
#include "qemu/main-loop.h"
#include "qemu/queue.h"
#include "qemu/rcu.h"
#include "qemu/thread.h"
#include "qapi/error.h"
#include "system/kvm.h"
#include "system/runstate.h"
#include "span-internal.h"
#include "trace.h"

SpanState span = { .firmware = -1, .wait = SPAN_WAIT_DEFAULT };

static struct {
    SpanHandler *fn;
    size_t min_size;
    SpanHandlerThread thread;
} handlers[SPAN_MSG_TYPE_MAX];

/*
 * The receive thread ("span-rx") reads the channel from the moment the
 * machine exists (span_channel_start(); before, span_drain() reads it).
 * It runs SPAN_RX handlers itself, without a lock, and SPAN_RX_BQL ones
 * holding the BQL when no earlier message waits for the main loop; every
 * other message is queued for the main loop (a bottom half), in the order
 * received.  So a vCPU waiting for a peer's answer gets it even while the
 * main loop waits for that vCPU, and a forwarded access or an interrupt
 * costs no extra thread hop.
 */
#define SPAN_RXQ_MAX 4096           /* messages waiting for the main loop */

typedef struct SpanQueued {
    QSIMPLEQ_ENTRY(SpanQueued) next;
    struct span_msg_hdr h;          /* h.len bytes with the payload */
} SpanQueued;

static struct {
    bool running;                   /* set on the main loop, once */
    QemuThread thread;
    EventNotifier wake;             /* look again (span_request() ran) */
    QEMUBH *bh;                     /* span_run_queue() */
    QemuMutex lock;                 /* guards what follows */
    QemuCond drained;               /* the queue shrank */
    QSIMPLEQ_HEAD(, SpanQueued) queue;
    unsigned len;
    bool lost;                      /* spand is gone */
} rx;

static uint8_t *rx_buf;             /* one received message */

void span_register_handler(uint16_t type, size_t min_size, SpanHandler *fn,
                           SpanHandlerThread thread)
{
    assert(type < SPAN_MSG_TYPE_MAX && !handlers[type].fn);
    handlers[type].fn = fn;
    handlers[type].min_size = min_size;
    handlers[type].thread = thread;
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

int span_request_value(uint16_t type, const void *payload, size_t size,
                       uint64_t *value)
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
    if (rx.running) {
        /* messages received meanwhile wait in libspan, not on an fd */
        event_notifier_set(&rx.wake);
    }
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
    } else if (value) {
        *value = ack->value;
    }
    return ack->status;
}

int span_request(uint16_t type, const void *payload, size_t size)
{
    return span_request_value(type, payload, size, NULL);
}

/* Queues h for the main loop; waits while the queue is full. */
static void span_rx_queue(const struct span_msg_hdr *h)
{
    SpanQueued *q = g_malloc(offsetof(SpanQueued, h) + h->len);

    memcpy(&q->h, h, h->len);
    WITH_QEMU_LOCK_GUARD(&rx.lock) {
        while (rx.len >= SPAN_RXQ_MAX) {
            qemu_cond_wait(&rx.drained, &rx.lock);
        }
        QSIMPLEQ_INSERT_TAIL(&rx.queue, q, next);
        rx.len++;
    }
    qemu_bh_schedule(rx.bh);
}

/* Receive thread: runs a SPAN_RX_BQL handler unless it must wait in line. */
static void span_rx_bql(const struct span_msg_hdr *h)
{
    bool behind;

    bql_lock();
    /* with the BQL, the main loop is not running a queued message either */
    WITH_QEMU_LOCK_GUARD(&rx.lock) {
        behind = !QSIMPLEQ_EMPTY(&rx.queue);
    }
    if (!behind) {
        handlers[h->type].fn(h, h + 1);
    }
    bql_unlock();
    if (behind) {
        span_rx_queue(h);
    }
}

/*
 * Handles one validated message, on the receive thread (rx_thread) as its
 * handler was registered, or on the main loop.
 */
static void span_dispatch(const struct span_msg_hdr *h, bool rx_thread)
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
    if (!rx_thread || handlers[h->type].thread == SPAN_RX) {
        handlers[h->type].fn(h, h + 1);
    } else if (handlers[h->type].thread == SPAN_RX_BQL) {
        span_rx_bql(h);
    } else {
        span_rx_queue(h);
    }
}

/*
 * Reads and dispatches every pending message, then re-arms the doorbell.
 * Returns false once spand is gone.
 */
static bool span_read(bool rx_thread)
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
            span_dispatch((const struct span_msg_hdr *)rx_buf, rx_thread);
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

/* Main loop: runs the messages the receive thread queued, in order. */
static void span_run_queue(void *opaque)
{
    static bool stopped;
    SpanQueued *q;
    bool lost;

    for (;;) {
        WITH_QEMU_LOCK_GUARD(&rx.lock) {
            q = QSIMPLEQ_FIRST(&rx.queue);
            if (q) {
                QSIMPLEQ_REMOVE_HEAD(&rx.queue, next);
                rx.len--;
                qemu_cond_signal(&rx.drained);
            }
            lost = rx.lost;
        }
        if (!q) {
            break;
        }
        handlers[q->h.type].fn(&q->h, &q->h + 1);
        g_free(q);
    }
    if (lost && !stopped) {
        stopped = true;
        span_stop(SHUTDOWN_CAUSE_HOST_ERROR, "lost the connection to spand");
    }
}

static void *span_rx_thread(void *opaque)
{
    struct pollfd pfd[] = {
        { .fd = span_member_event_fd(span.m), .events = POLLIN },
        { .fd = span_member_control_fd(span.m), .events = POLLIN },
        { .fd = event_notifier_get_fd(&rx.wake), .events = POLLIN },
    };

    rcu_register_thread();          /* SPAN_RX_BQL handlers access memory */
    while (span_read(true)) {
        if (poll(pfd, ARRAY_SIZE(pfd), -1) < 0 && errno != EINTR) {
            span_fail(SPAN_MEMBER_NONE, "poll failed");
            g_usleep(1000);
        }
        event_notifier_test_and_clear(&rx.wake);
    }
    WITH_QEMU_LOCK_GUARD(&rx.lock) {
        rx.lost = true;
    }
    qemu_bh_schedule(rx.bh);
    rcu_unregister_thread();
    return NULL;
}

void span_channel_start(void)
{
    assert(!rx.running);
    qemu_mutex_init(&rx.lock);
    qemu_cond_init(&rx.drained);
    QSIMPLEQ_INIT(&rx.queue);
    if (event_notifier_init(&rx.wake, false) < 0) {
        error_report("span: cannot create the receive thread's eventfd");
        exit(1);
    }
    rx.bh = qemu_bh_new(span_run_queue, NULL);
    rx.running = true;
    qemu_thread_create(&rx.thread, "span-rx", span_rx_thread, NULL,
                       QEMU_THREAD_DETACHED);
}

bool span_drain(void)
{
    if (!rx.running) {
        return span_read(false);
    }
    span_run_queue(NULL);
    QEMU_LOCK_GUARD(&rx.lock);
    return !rx.lost;
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

    span_register_handler(SPAN_MSG_MEM_SUBSCRIBE, 0, span_ignore, SPAN_RX);
    span_register_handler(SPAN_MSG_MEM_UNSUBSCRIBE, 0, span_ignore, SPAN_RX);
    span_membership_init();
    span_irq_init();
    span_io_init();
    span_shadow_init();
    span_move_init();
    span_kick_init();           /* its topology notifier runs first */
    span_lifecycle_init();
}
