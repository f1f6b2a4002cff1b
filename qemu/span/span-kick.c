/*
 * Span members: posted notifications (ioeventfd into the channel)
 *
 * The owner of the devices tells every vCPU host where its devices take
 * ioeventfd-style notifications (virtio queue kicks): a memory listener
 * sees each ioeventfd as the device registers it and sends
 * SPAN_MSG_IOEVENTFD ADD (DEL when it goes).  A vCPU host registers the
 * same address with its KVM, bound to an eventfd of its own: a guest write
 * there completes in KVM without leaving it, and this member's main loop
 * posts the write to the owner (MMIO_REQ/PIO_REQ with SPAN_IO_F_POSTED, no
 * answer), where it reaches the device's own ioeventfd (memory core) as a
 * local kick would.  Several kicks before the main loop runs become one, as
 * with any ioeventfd.  Invariant: the owner executes a posted write only at
 * an address it announced itself, so a peer cannot post anything else; a
 * vCPU host registers only what the owner announced.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/error-report.h"
#include "qemu/event_notifier.h"
#include "qemu/lockable.h"
#include "qemu/main-loop.h"
#include "exec/address-spaces.h"
#include "exec/memory.h"
#include "span-internal.h"
#include "trace.h"

typedef struct SpanKick {
    struct span_ioeventfd e;        /* as announced (op ignored) */
    EventNotifier notifier;         /* vCPU hosts: KVM signals it */
    bool registered;
} SpanKick;

#define SPAN_KICKS_MAX 1024         /* announcements a vCPU host accepts */

static struct {
    GPtrArray *list;                /* SpanKick * */
    uint32_t told;                  /* owner: peers that got the list */
    MemoryListener mem, io;
    Notifier topology, run;
} kick;

static bool span_kick_same(const struct span_ioeventfd *a,
                           const struct span_ioeventfd *b)
{
    return a->addr == b->addr && a->size == b->size &&
           a->flags == b->flags && a->data == b->data;
}

static SpanKick *span_kick_find(const struct span_ioeventfd *e, guint *index)
{
    for (guint i = 0; i < kick.list->len; i++) {
        SpanKick *k = g_ptr_array_index(kick.list, i);

        if (span_kick_same(&k->e, e)) {
            if (index) {
                *index = i;
            }
            return k;
        }
    }
    return NULL;
}

static void span_kick_send(uint32_t peers, const struct span_ioeventfd *e,
                           uint8_t op)
{
    struct span_ioeventfd m = *e;

    m.op = op;
    span_send_to(peers, SPAN_MSG_IOEVENTFD, &m, sizeof(m));
}

/*
 * Owner: vCPU hosts that appeared since the last call get every current
 * announcement.  Invariant: each member in kick.told has been sent the
 * whole list, in order, since it last appeared.
 */
static void span_kick_sync(void)
{
    uint32_t peers = span_peers(), fresh = peers & ~kick.told;

    for (guint i = 0; fresh && i < kick.list->len; i++) {
        SpanKick *k = g_ptr_array_index(kick.list, i);

        span_kick_send(fresh, &k->e, SPAN_IOEVENTFD_ADD);
    }
    kick.told = peers;
}

/* Owner: a device registered or removed an ioeventfd. */
static void span_kick_listener(MemoryListener *l, MemoryRegionSection *sec,
                               bool match_data, uint64_t data, bool add)
{
    struct span_ioeventfd e = {
        .addr = sec->offset_within_address_space,
        .data = match_data ? data : 0,
        .device = SPAN_DEVICE_NONE,
        .size = int128_get64(sec->size),
        .flags = (l == &kick.io ? SPAN_IOEVENTFD_F_PIO : 0) |
                 (match_data ? SPAN_IOEVENTFD_F_DATAMATCH : 0),
        .op = SPAN_IOEVENTFD_ADD,
    };
    guint index;
    SpanKick *k;

    /* only the owner's devices are real; odd ones (the wire refuses) stay */
    if (!span_owns_firmware() ||
        span_validate_payload(SPAN_MSG_IOEVENTFD, &e, sizeof(e)) != 0) {
        return;
    }
    k = span_kick_find(&e, &index);
    if (add && !k) {
        k = g_new0(SpanKick, 1);
        k->e = e;
        g_ptr_array_add(kick.list, k);
    } else if (!add && k) {
        g_ptr_array_remove_index(kick.list, index);
        g_free(k);
    } else {
        return;
    }
    span_kick_send(kick.told & span_peers(), &e,
                   add ? SPAN_IOEVENTFD_ADD : SPAN_IOEVENTFD_DEL);
    span_kick_sync();
}

static void span_kick_add(MemoryListener *l, MemoryRegionSection *sec,
                          bool match_data, uint64_t data, EventNotifier *e)
{
    span_kick_listener(l, sec, match_data, data, true);
}

static void span_kick_del(MemoryListener *l, MemoryRegionSection *sec,
                          bool match_data, uint64_t data, EventNotifier *e)
{
    span_kick_listener(l, sec, match_data, data, false);
}

static void span_kick_topology(Notifier *n, void *data)
{
    if (kick.list && span_owns_firmware()) {
        span_kick_sync();
    }
}

/* vCPU host: KVM caught a guest write at an announced address. */
static void span_kick_read(EventNotifier *n)
{
    SpanKick *k = container_of(n, SpanKick, notifier);
    struct span_io_req req = {
        .addr = k->e.addr,
        .data = k->e.data,
        /* "any size" is a virtio-pci notify: the guest writes 16 bits */
        .size = k->e.size ? k->e.size : 2,
        .is_write = 1,
        .flags = SPAN_IO_F_POSTED,
        .vcpu = SPAN_APIC_NONE,
        .device = SPAN_DEVICE_NONE,
    };
    bool pio = k->e.flags & SPAN_IOEVENTFD_F_PIO;
    uint32_t sent;

    if (!event_notifier_test_and_clear(n)) {
        return;
    }
    QEMU_LOCK_GUARD(&span.lock);
    if (span.dev_owner >= SPAN_MAX_MEMBERS || span.dev_owner == span.id) {
        span_fail(SPAN_MEMBER_NONE, "notification without a device owner");
        return;
    }
    sent = span_send_to_locked(1u << span.dev_owner,
                               pio ? SPAN_MSG_PIO_REQ : SPAN_MSG_MMIO_REQ,
                               &req, sizeof(req));
    span_count_each(kicks_sent, sent, 1);
}

static void span_kick_unregister(SpanKick *k)
{
    if (k->registered) {
        event_notifier_set_handler(&k->notifier, NULL);
        span.ops->ioeventfd(false, &k->e,
                            event_notifier_get_fd(&k->notifier));
        event_notifier_cleanup(&k->notifier);
        k->registered = false;
    }
}

/* vCPU host: the owner announces or withdraws a notification address. */
static void span_kick_request(const struct span_msg_hdr *h, const void *p)
{
    const struct span_ioeventfd *e = p;
    guint index;
    SpanKick *k;
    int r;

    if (h->src != span.dev_owner || span_owns_firmware() || !span.ops ||
        !span.ops->ioeventfd) {
        span_fail(SPAN_MEMBER_NONE, "notification address not from owner");
        return;
    }
    k = span_kick_find(e, &index);
    if (e->op == SPAN_IOEVENTFD_DEL) {
        if (!k) {
            span_fail(SPAN_MEMBER_NONE, "unknown notification address");
            return;
        }
        span_kick_unregister(k);
        g_ptr_array_remove_index(kick.list, index);
        g_free(k);
        return;
    }
    if (k || kick.list->len >= SPAN_KICKS_MAX) {
        span_fail(SPAN_MEMBER_NONE, "notification address known or too many");
        return;
    }
    k = g_new0(SpanKick, 1);
    k->e = *e;
    if (event_notifier_init(&k->notifier, false) < 0) {
        g_free(k);
        span_fail(SPAN_MEMBER_NONE, "no eventfd for a notification address");
        return;
    }
    r = span.ops->ioeventfd(true, &k->e, event_notifier_get_fd(&k->notifier));
    if (r < 0) {
        /* e.g. the address is taken: guest writes stay synchronous */
        warn_report("-span: cannot take notifications at %s 0x%" PRIx64
                    ": %s", e->flags & SPAN_IOEVENTFD_F_PIO ? "port" :
                    "address", (uint64_t)e->addr, strerror(-r));
        event_notifier_cleanup(&k->notifier);
        g_free(k);
        span_fail(SPAN_MEMBER_NONE, "accelerator refused an ioeventfd");
        return;
    }
    k->registered = true;
    event_notifier_set_handler(&k->notifier, span_kick_read);
    g_ptr_array_add(kick.list, k);
}

/* The owner: a posted write is executed if it is a notification announced. */
static bool span_kick_posted(const struct span_msg_hdr *h,
                             const struct span_io_req *req)
{
    bool pio = h->type == SPAN_MSG_PIO_REQ;
    uint8_t buf[8] = { 0 };
    bool ok = false;

    for (guint i = 0; kick.list && i < kick.list->len && !ok; i++) {
        const SpanKick *k = g_ptr_array_index(kick.list, i);

        ok = k->e.addr == req->addr &&
             !!(k->e.flags & SPAN_IOEVENTFD_F_PIO) == pio &&
             (k->e.size ? k->e.size == req->size : req->size == 2) &&
             (!(k->e.flags & SPAN_IOEVENTFD_F_DATAMATCH) ||
              k->e.data == req->data);
    }
    if (!ok) {
        return false;
    }
    stq_le_p(buf, req->data);
    address_space_write(pio ? &address_space_io : &address_space_memory,
                        req->addr, MEMTXATTRS_UNSPECIFIED, buf, req->size);
    span_count(kicks_received, h->src);
    return true;
}

/* Every vCPU has a host: follow the devices' ioeventfds from now on. */
static void span_kick_run_state(Notifier *n, void *data)
{
    if (*(SpanRunEvent *)data != SPAN_RUN_PLACED) {
        return;
    }
    kick.list = g_ptr_array_new();
    kick.mem = (MemoryListener) {
        .name = "span-kick",
        .eventfd_add = span_kick_add,
        .eventfd_del = span_kick_del,
        .priority = MEMORY_LISTENER_PRIORITY_DEV_BACKEND,
    };
    kick.io = kick.mem;
    kick.io.name = "span-kick-io";
    memory_listener_register(&kick.mem, &address_space_memory);
    memory_listener_register(&kick.io, &address_space_io);
}

void span_kick_init(void)
{
    span_register_handler(SPAN_MSG_IOEVENTFD, sizeof(struct span_ioeventfd),
                          span_kick_request, SPAN_MAIN_LOOP);
    span_io_register_posted(span_kick_posted);
    kick.topology.notify = span_kick_topology;
    notifier_list_add(&span_topology_notifiers, &kick.topology);
    kick.run.notify = span_kick_run_state;
    notifier_list_add(&span_run_notifiers, &kick.run);
}
