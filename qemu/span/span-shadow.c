/*
 * Span members: shadow-paging coherence (Documentation/shadow-coherence.rst)
 *
 * With shadow paging every member's KVM shadows the guest's page tables,
 * which live in the one shared memory.  KVM (KVM_CAP_SPAN_SHADOW) stops a
 * vCPU before it shadows a frame no peer protects yet (publish) and after
 * it wrote a frame a peer shadows (invalidate); this member carries both
 * to the peers hosting vCPUs and lets the vCPU go on only when every one
 * acknowledged.  Peers' requests and acknowledgements are handled on the
 * receive thread, which never waits for a peer, a vCPU or the main loop,
 * so two members waiting for each other cannot deadlock, whatever their
 * main loops wait for.
 *
 * Invariants (under span.lock):
 *  - wt.frames[gfn] is the set of peers whose publication of gfn this
 *    member applied: gfn is imported into KVM iff the set is non-empty;
 *  - wt.mine holds the frames this member published and did not withdraw
 *    (sent to a peer that starts hosting vCPUs later);
 *  - a vCPU waits for one request at a time: wt.wait[cpu_index].pending
 *    is the set of peers that have not acknowledged wt.wait[].generation.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/error-report.h"
#include "qemu/lockable.h"
#include "hw/core/cpu.h"
#include "system/runstate.h"
#include "span-internal.h"
#include "trace.h"

#define SPAN_WT_TIMEOUT_MS 30000    /* a peer that does not acknowledge */

typedef struct SpanWtWait {
    QemuSemaphore done;
    uint64_t generation;
    uint32_t pending;               /* peers still to acknowledge */
    int status;                     /* first error a peer reported */
} SpanWtWait;

typedef enum SpanWtState {
    SPAN_WT_UNKNOWN,                /* the accelerator is not set up yet */
    SPAN_WT_ON,
    SPAN_WT_OFF,
} SpanWtState;

static struct {
    SpanWtState state;
    uint64_t generation;            /* publish and invalidate counter */
    GHashTable *frames;             /* gfn -> peers publishing it */
    GHashTable *mine;               /* gfns published by this member */
    uint32_t peers;                 /* vCPU hosts that got wt.mine */
    SpanWtWait *wait;               /* by CPU index */
    GQueue deferred;                /* requests before the state is known */
    Notifier topology, run, member;
} wt = { .deferred = G_QUEUE_INIT };

/* A WT_PUBLISH payload with up to SPAN_MAX_RANGES ranges. */
typedef struct SpanWtRanges {
    struct span_wt_publish pub;
    struct span_gfn_range r[SPAN_MAX_RANGES];
} SpanWtRanges;

static size_t span_wt_ranges_size(uint32_t n)
{
    return sizeof(struct span_wt_publish) + n * sizeof(struct span_gfn_range);
}

/* Applies op to every frame of ranges (from a validated message). */
static int span_wt_apply(SpanWtPeerOp op, const struct span_gfn_range *r,
                         uint32_t nr_ranges, uint16_t src)
{
    uint64_t batch[SPAN_WT_PEER_BATCH];
    uint64_t total = 0;
    unsigned n = 0;
    int ret;

    /* A hostile peer must not make this member loop over 2^40 frames. */
    for (uint32_t i = 0; i < nr_ranges; i++) {
        total += r[i].nr_pages;
    }
    if (total > span.mem_size / qemu_real_host_page_size() + 1) {
        if (op == SPAN_WT_PEER_INVALIDATE) {
            return span.ops->wt_peer(SPAN_WT_PEER_INVALIDATE_ALL, NULL, 0);
        }
        return -E2BIG;
    }
    for (uint32_t i = 0; i < nr_ranges; i++) {
        for (uint64_t gfn = r[i].gfn; gfn < r[i].gfn + r[i].nr_pages; gfn++) {
            uint32_t had, now;

            if (op != SPAN_WT_PEER_INVALIDATE) {
                /* import on the first publisher, release after the last */
                WITH_QEMU_LOCK_GUARD(&span.lock) {
                    gpointer key = GSIZE_TO_POINTER(gfn);

                    had = GPOINTER_TO_UINT(g_hash_table_lookup(wt.frames,
                                                               key));
                    now = op == SPAN_WT_PEER_IMPORT ? had | 1u << src
                                                    : had & ~(1u << src);
                    if (now) {
                        g_hash_table_insert(wt.frames, key,
                                            GUINT_TO_POINTER(now));
                    } else {
                        g_hash_table_remove(wt.frames, key);
                    }
                }
                if (!had == !now) {
                    continue;
                }
            }
            batch[n++] = gfn;
            if (n == SPAN_WT_PEER_BATCH) {
                ret = span.ops->wt_peer(op, batch, n);
                if (ret < 0) {
                    return ret;
                }
                n = 0;
            }
        }
    }
    return n ? span.ops->wt_peer(op, batch, n) : 0;
}

/*
 * A peer's WT_PUBLISH or WT_INVALIDATE (validated by libspan): on the
 * receive thread, or on the main loop before the thread starts, which is
 * after span_wt_enable() set wt.state.
 */
static void span_wt_request(const struct span_msg_hdr *h, const void *p)
{
    const struct span_wt_publish *pub = p;
    const struct span_wt_invalidate *inv = p;
    const struct span_gfn_range *ranges = (const void *)(pub + 1);
    struct span_gfn_range one;
    struct span_wt_ack ack = { 0 };
    int ret;

    if (h->src >= SPAN_MAX_MEMBERS || h->src == span.id) {
        span_fail(SPAN_MEMBER_NONE, "write-tracking request not from a peer");
        return;
    }
    if (wt.state == SPAN_WT_UNKNOWN) {
        g_queue_push_tail(&wt.deferred, g_memdup2(h, h->len));
        return;
    }
    if (h->type == SPAN_MSG_WT_INVALIDATE) {
        ack.generation = inv->generation;
        one.gfn = inv->gfn;
        one.nr_pages = inv->nr_pages;
        ret = wt.state != SPAN_WT_ON ? -EOPNOTSUPP :
              span_wt_apply(SPAN_WT_PEER_INVALIDATE, &one, 1, h->src);
        if (ret >= 0) {
            span_count(wt_invalidations_received, h->src);
        }
    } else {
        bool add = pub->op == SPAN_WT_ADD;

        ack.generation = pub->generation;
        ret = wt.state != SPAN_WT_ON ? -EOPNOTSUPP :
              span_wt_apply(add ? SPAN_WT_PEER_IMPORT : SPAN_WT_PEER_RELEASE,
                            ranges, pub->nr_ranges, h->src);
        if (ret >= 0 && add) {
            span_count_once(wt_imported, span_bit(h->src), pub->nr_ranges);
        }
        if (!add) {
            /* a withdrawal needs no acknowledgement */
            if (ret < 0) {
                span_fail(SPAN_MEMBER_NONE, "cannot apply a withdrawal");
            }
            return;
        }
    }
    trace_span_wt_request(h->src, h->type, ack.generation,
                          h->type == SPAN_MSG_WT_INVALIDATE ? inv->gfn :
                          pub->nr_ranges ? ranges->gfn : 0,
                          h->type == SPAN_MSG_WT_INVALIDATE ? inv->nr_pages :
                          pub->nr_ranges, ret);
    if (ret < 0) {
        error_report("span: cannot apply member %u's write-tracking request "
                     "(generation %" PRIu64 "): %s", h->src,
                     (uint64_t)ack.generation, strerror(-ret));
        span_fail(SPAN_MEMBER_NONE, "cannot apply a write-tracking request");
    }
    ack.status = ret < 0 ? ret : 0;
    span_send_to(1u << h->src, SPAN_MSG_WT_ACK, &ack, sizeof(ack));
}

/* A peer's WT_ACK (receive thread): completes the waiting vCPU's request. */
static void span_wt_acked(const struct span_msg_hdr *h, const void *p)
{
    const struct span_wt_ack *a = p;

    trace_span_wt_acked(h->src, a->generation, a->status);
    QEMU_LOCK_GUARD(&span.lock);
    for (int i = 0; wt.wait && i < span.nr_cpus; i++) {
        SpanWtWait *w = &wt.wait[i];

        if (w->generation != a->generation || h->src >= SPAN_MAX_MEMBERS ||
            !(w->pending & (1u << h->src))) {
            continue;
        }
        w->pending &= ~(1u << h->src);
        if (a->status && !w->status) {
            w->status = a->status;
        }
        if (!w->pending) {
            qemu_sem_post(&w->done);
        }
        return;
    }
    /* stale (the vCPU gave up) or never asked for */
    span_fail(h->src, "stale write-tracking acknowledgement");
}

/* Sends the published frames (ADD, ranges) to peers dsts; under span.lock. */
static void span_wt_send_mine(uint32_t dsts)
{
    g_autofree SpanWtRanges *m = g_new0(SpanWtRanges, 1);
    GHashTableIter it;
    gpointer key;
    uint32_t n = 0;

    g_hash_table_iter_init(&it, wt.mine);
    for (bool more = g_hash_table_iter_next(&it, &key, NULL); more || n; ) {
        if (more) {
            m->r[n].gfn = GPOINTER_TO_SIZE(key);
            m->r[n++].nr_pages = 1;
            more = g_hash_table_iter_next(&it, &key, NULL);
        }
        if (n == SPAN_MAX_RANGES || (!more && n)) {
            m->pub.generation = ++wt.generation;
            m->pub.nr_ranges = n;
            m->pub.op = SPAN_WT_ADD;
            span_send_to_locked(dsts, SPAN_MSG_WT_PUBLISH, m,
                                span_wt_ranges_size(n));
            n = 0;
        }
    }
}

/*
 * After a placement change: a member that starts hosting vCPUs gets the
 * frames this member shadows (the JOIN answer of the protocol).
 */
static void span_wt_topology(Notifier *n, void *data)
{
    uint32_t peers;

    if (wt.state != SPAN_WT_ON) {
        return;
    }
    QEMU_LOCK_GUARD(&span.lock);
    peers = span_peers_locked();
    if (peers & ~wt.peers) {
        span_wt_send_mine(peers & ~wt.peers);
    }
    wt.peers = peers;
}

void span_wt_enable(bool on)
{
    struct span_msg_hdr *h;

    wt.state = on ? SPAN_WT_ON : SPAN_WT_OFF;
    span.wt_on = on;
    if (on) {
        wt.wait = g_new0(SpanWtWait, span.nr_cpus);
        for (int i = 0; i < span.nr_cpus; i++) {
            qemu_sem_init(&wt.wait[i].done, 0);
        }
        wt.frames = g_hash_table_new(NULL, NULL);
        wt.mine = g_hash_table_new(NULL, NULL);
        wt.peers = span_peers();
    }
    while ((h = g_queue_pop_head(&wt.deferred))) {
        span_wt_request(h, h + 1);
        g_free(h);
    }
}

/*
 * Sends one request (payload of size bytes, its generation filled in
 * here) to every peer in dsts and waits for their acknowledgements.  A
 * peer that does not answer stops the span VM; the vCPU then leaves only
 * when QEMU stops it, never back into the guest without the
 * acknowledgements.
 */
static int span_wt_send_wait(CPUState *cpu, uint16_t type, void *payload,
                             size_t size, __u64 *generation, uint32_t dsts)
{
    SpanWtWait *w = &wt.wait[cpu->cpu_index];
    int64_t deadline = g_get_monotonic_time() +
                       SPAN_WT_TIMEOUT_MS * (int64_t)1000;
    bool timed_out = false;

    WITH_QEMU_LOCK_GUARD(&span.lock) {
        uint32_t failed;

        *generation = ++wt.generation;
        w->generation = *generation;
        w->pending = dsts;
        w->status = 0;
        failed = dsts & ~span_send_to_locked(dsts, type, payload, size);
        if (failed) {
            w->pending &= ~failed;
            w->status = -EIO;
        }
        if (!w->pending) {
            w->generation = 0;
            return w->status;
        }
    }
    while (qemu_sem_timedwait(&w->done, 200) < 0) {
        /* Only a stopping span VM lets the vCPU go without them. */
        if (qatomic_read(&cpu->stop) && qatomic_read(&span.stopping)) {
            break;
        }
        if (!timed_out && g_get_monotonic_time() > deadline) {
            timed_out = true;
            span_stop(SHUTDOWN_CAUSE_HOST_ERROR, "a member did not "
                      "acknowledge a shadow-paging request within "
                      G_STRINGIFY(SPAN_WT_TIMEOUT_MS) " ms; stopping");
        }
    }
    QEMU_LOCK_GUARD(&span.lock);
    if (w->pending) {
        /* stopped before every peer answered: the guest does not go on */
        w->generation = 0;
        span_fail(SPAN_MEMBER_NONE, "stopped waiting for acknowledgements");
        return -ESHUTDOWN;
    }
    w->generation = 0;
    return w->status;
}

/* The peers that published gfn (all vCPU hosts for SPAN_WT_GFN_ALL). */
static uint32_t span_wt_shadowers(uint64_t gfn)
{
    QEMU_LOCK_GUARD(&span.lock);
    if (gfn == SPAN_WT_GFN_ALL) {
        return span_peers_locked();
    }
    return GPOINTER_TO_UINT(g_hash_table_lookup(wt.frames,
                                                GSIZE_TO_POINTER(gfn))) &
           ~span.gone;
}

static int span_wt_failed(uint64_t gfn, int status, const char *what)
{
    g_autofree char *why = g_strdup_printf("a member failed to %s guest "
                                           "frame 0x%" PRIx64 " (%s): "
                                           "stopping", what, gfn,
                                           strerror(-status));

    span_stop(SHUTDOWN_CAUSE_HOST_ERROR, why);
    return status;
}

int span_wt_publish(CPUState *cpu, uint64_t gfn)
{
    struct {
        struct span_wt_publish p;
        struct span_gfn_range r;
    } pub = {
        .p = { .nr_ranges = 1, .op = SPAN_WT_ADD },
        .r = { .gfn = gfn, .nr_pages = 1 },
    };
    uint32_t dsts = span_peers();
    int r;

    r = span_wt_send_wait(cpu, SPAN_MSG_WT_PUBLISH, &pub, sizeof(pub),
                          &pub.p.generation, dsts);
    if (r == -ESHUTDOWN) {
        return r;
    }
    if (r < 0) {
        return span_wt_failed(gfn, r, "write-protect");
    }
    QEMU_LOCK_GUARD(&span.lock);
    g_hash_table_add(wt.mine, GSIZE_TO_POINTER(gfn));
    span_count_once(wt_published, dsts, 1);
    return 0;
}

int span_wt_invalidate(CPUState *cpu, uint64_t gfn)
{
    struct span_wt_invalidate inv = {
        .gfn = gfn == SPAN_WT_GFN_ALL ? 0 : gfn,
        .nr_pages = gfn == SPAN_WT_GFN_ALL ? SPAN_GFN_LIMIT : 1,
        .vcpu = span.apic_id[cpu->cpu_index],
    };
    uint32_t dsts = span_wt_shadowers(gfn);
    int r;

    if (!dsts) {
        return 0;       /* every peer withdrew it meanwhile */
    }
    r = span_wt_send_wait(cpu, SPAN_MSG_WT_INVALIDATE, &inv, sizeof(inv),
                          &inv.generation, dsts);
    if (r == -ESHUTDOWN) {
        return r;
    }
    if (r < 0) {
        return span_wt_failed(gfn, r, "drop its shadows of");
    }
    span_count_once(wt_invalidations_sent, dsts, 1);
    return 0;
}

void span_wt_withdraw(const uint64_t *gfns, unsigned nr)
{
    g_autofree SpanWtRanges *m = g_new0(SpanWtRanges, 1);
    uint32_t peers;

    QEMU_LOCK_GUARD(&span.lock);
    peers = span_peers_locked();
    while (nr) {
        unsigned n = MIN(nr, SPAN_MAX_RANGES);
        uint32_t sent;

        for (unsigned i = 0; i < n; i++) {
            m->r[i].gfn = gfns[i];
            m->r[i].nr_pages = 1;
            g_hash_table_remove(wt.mine, GSIZE_TO_POINTER(gfns[i]));
        }
        m->pub.generation = ++wt.generation;
        m->pub.nr_ranges = n;
        m->pub.op = SPAN_WT_REMOVE;
        sent = span_send_to_locked(peers, SPAN_MSG_WT_PUBLISH, m,
                                   span_wt_ranges_size(n));
        span_count_once(wt_withdrawn, sent, n);
        gfns += n;
        nr -= n;
    }
}

/*
 * A member left: its KVM is gone with its shadows, so the vCPUs waiting for
 * its acknowledgement go on without it (senders skip it from now on,
 * span.gone).
 */
static void span_wt_member(Notifier *n, void *data)
{
    SpanMemberEvent *ev = data;
    uint32_t bit = 1u << ev->slot;

    if (ev->joined || wt.state != SPAN_WT_ON) {
        return;
    }
    QEMU_LOCK_GUARD(&span.lock);
    wt.peers &= ~bit;
    for (int i = 0; i < span.nr_cpus; i++) {
        SpanWtWait *w = &wt.wait[i];

        if (w->generation && (w->pending & bit)) {
            w->pending &= ~bit;
            if (!w->pending) {
                qemu_sem_post(&w->done);
            }
        }
    }
}

/*
 * Every vCPU has a host: if they are all this member's, no peer runs guest
 * code and there is nothing to keep coherent (otherwise the accelerator
 * decides, span_wt_enable()).
 */
static void span_wt_run_state(Notifier *n, void *data)
{
    if (*(SpanRunEvent *)data == SPAN_RUN_PLACED && !span_peers()) {
        span_wt_enable(false);
    }
}

void span_shadow_init(void)
{
    span_register_handler(SPAN_MSG_WT_PUBLISH, sizeof(struct span_wt_publish),
                          span_wt_request, SPAN_RX);
    span_register_handler(SPAN_MSG_WT_INVALIDATE,
                          sizeof(struct span_wt_invalidate), span_wt_request,
                          SPAN_RX);
    span_register_handler(SPAN_MSG_WT_ACK, sizeof(struct span_wt_ack),
                          span_wt_acked, SPAN_RX);
    wt.topology.notify = span_wt_topology;
    notifier_list_add(&span_topology_notifiers, &wt.topology);
    wt.run.notify = span_wt_run_state;
    notifier_list_add(&span_run_notifiers, &wt.run);
    wt.member.notify = span_wt_member;
    notifier_list_add(&span_member_notifiers, &wt.member);
}
