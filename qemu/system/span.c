/*
 * Span members: one guest's vCPUs and devices hosted by several QEMUs
 *
 * A span VM is one guest whose vCPUs and devices are hosted by several QEMU
 * processes ("members") at once, each on its own KVM.  The span daemon
 * (spand) owns the guest's memory and the channel between members; this
 * file joins a span VM through libspan, backs guest RAM with the span
 * memory, places this member's vCPUs and follows the span VM's state.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include <span/libspan.h>
#include "qemu/bitmap.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/help_option.h"
#include "qemu/main-loop.h"
#include "block/aio.h"
#include "qemu/notify.h"
#include "qemu/option.h"
#include "qemu/lockable.h"
#include "qemu/thread.h"
#include "qemu/bswap.h"
#include "qapi/error.h"
#include "exec/address-spaces.h"
#include "exec/memory.h"
#include "hw/core/cpu.h"
#include "qapi/qapi-commands-span.h"
#include "qom/object_interfaces.h"
#include "hw/boards.h"
#include "system/cpus.h"
#include "system/hostmem.h"
#include "system/kvm.h"
#include "system/reset.h"
#include "system/runstate.h"
#include "system/span.h"
#include "system/system.h"
#include "trace.h"

#define SPAN_WAIT_DEFAULT 30        /* seconds */
#define SPAN_REQUEST_TIMEOUT 5000   /* ms */
#define SPAN_DEVICES_ID 0           /* the firmware member's devices */

/* One forwarded access of a vCPU (each vCPU has at most one in flight). */
typedef struct SpanPending {
    QemuSemaphore done;
    uint32_t seq;
    bool busy;
    uint64_t data;
    int status;
} SpanPending;

typedef struct SpanState {
    /* configuration (-span) */
    char *vm;
    char *socket;
    char *name;
    unsigned long *want;            /* requested CPU indexes */
    int firmware;                   /* -1: default (hosts vCPU 0) */
    uint64_t wait;

    /* membership */
    struct span_member *m;
    uint32_t id;
    uint32_t vm_id;
    uint64_t mem_size;
    uint8_t *buf;                   /* one received message */

    /* vCPUs by CPU index */
    int nr_cpus;
    uint32_t *apic_id;

    /* placement from spand: APIC ID -> member slot + 1 */
    GHashTable *placement;
    uint64_t generation;
    uint32_t dev_owner;             /* owner of the devices or NONE */
    SpanPending *pending;           /* by CPU index */

    /* counters and libspan calls are protected by lock */
    QemuMutex lock;
    SpanCounters total;
    SpanCounters peer[SPAN_MAX_MEMBERS];
    bool stopping;                  /* shutdown or reset came from the span */
    Notifier shutdown;
    Notifier machine_done;

    /* interrupts and clock */
    const SpanAccelOps *ops;
    bool ready;                     /* the machine runs: inject directly */
    GQueue deferred;                /* interrupts that came before that */
    bool have_clock;                /* a sample from the firmware member */
    SpanClock clock;
    VMChangeStateEntry *vmstate;

    /* guest reset of the whole span VM (see span_reset_handler) */
    bool resetting;                 /* queue interrupts until reset done */
    bool peer_reset;                /* the pending reset came from a peer */
} SpanState;

static SpanState span = { .firmware = -1, .wait = SPAN_WAIT_DEFAULT };
static bool span_given;

/* Shadow-paging coherence: see span_wt_request() and below. */
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
} wt = { .deferred = G_QUEUE_INIT };

QemuOptsList qemu_span_opts = {
    .name = "span",
    .implied_opt_name = "vm",
    .head = QTAILQ_HEAD_INITIALIZER(qemu_span_opts.head),
    .desc = {
        {
            .name = "vm",
            .type = QEMU_OPT_STRING,
            .help = "span VM to join (created in spand)",
        }, {
            .name = "socket",
            .type = QEMU_OPT_STRING,
            .help = "spand's socket (default " SPAN_DEFAULT_SOCKET ")",
        }, {
            .name = "member",
            .type = QEMU_OPT_STRING,
            .help = "this member's name (default qemu-PID)",
        }, {
            .name = "vcpus",
            .type = QEMU_OPT_STRING,
            .help = "vCPU indexes hosted here, N or N-M (repeatable)",
        }, {
            .name = "firmware",
            .type = QEMU_OPT_BOOL,
            .help = "own firmware, boot devices and the serial console "
                    "(default: if this member hosts vCPU 0)",
        }, {
            .name = "wait",
            .type = QEMU_OPT_NUMBER,
            .help = "seconds to wait at start-up until every vCPU has a "
                    "host (default 30)",
        },
        { /* end of list */ }
    },
};

static int span_parse_vcpus(void *opaque, const char *name, const char *value,
                            Error **errp)
{
    unsigned long first, last;
    const char *end;

    if (strcmp(name, "vcpus")) {
        return 0;
    }
    if (qemu_strtoul(value, &end, 10, &first) < 0 ||
        (*end && *end != '-')) {
        goto bad;
    }
    last = first;
    if (*end == '-' && qemu_strtoul(end + 1, NULL, 10, &last) < 0) {
        goto bad;
    }
    if (last < first || last >= SPAN_MAX_VCPUS) {
        goto bad;
    }
    if (find_next_bit(span.want, last + 1, first) <= last) {
        error_setg(errp, "-span: vcpus=%s overlaps another vcpus= range",
                   value);
        return -1;
    }
    bitmap_set(span.want, first, last - first + 1);
    return 0;

bad:
    error_setg(errp, "-span: vcpus=%s is not N or N-M (N <= M < %d)",
               value, SPAN_MAX_VCPUS);
    return -1;
}

void span_parse_opts(const char *optarg)
{
    QemuOpts *opts;
    const char *s;

    if (is_help_option(optarg)) {
        qemu_opts_print_help(&qemu_span_opts, true);
        exit(0);
    }
    if (span_given) {
        error_report("-span: only one -span option is allowed");
        exit(1);
    }
    opts = qemu_opts_parse_noisily(&qemu_span_opts, optarg, true);
    if (!opts) {
        exit(1);
    }
    s = qemu_opt_get(opts, "vm");
    if (!s || !*s) {
        error_report("-span: vm= (the span VM to join) is required");
        exit(1);
    }
    span.vm = g_strdup(s);
    span.socket = g_strdup(qemu_opt_get(opts, "socket") ?:
                           SPAN_DEFAULT_SOCKET);
    s = qemu_opt_get(opts, "member");
    span.name = s ? g_strdup(s) : g_strdup_printf("qemu-%d", (int)getpid());
    span.want = bitmap_new(SPAN_MAX_VCPUS);
    if (qemu_opt_foreach(opts, span_parse_vcpus, NULL, &error_fatal)) {
        exit(1);
    }
    if (qemu_opt_get(opts, "firmware")) {
        span.firmware = qemu_opt_get_bool(opts, "firmware", false);
    }
    span.wait = qemu_opt_get_number(opts, "wait", SPAN_WAIT_DEFAULT);
    span_given = true;
}

bool span_requested(void)
{
    return span_given;
}

bool span_owns_firmware(void)
{
    return !span_given || span.firmware > 0;
}

bool span_cpu_is_local(int cpu_index)
{
    return !span_given || (cpu_index >= 0 && cpu_index < SPAN_MAX_VCPUS &&
                           test_bit(cpu_index, span.want));
}

bool span_memory(int *fd, uint64_t *size, Error **errp)
{
    if (!span.m) {
        error_setg(errp, "the span memory needs -span (and spand)");
        return false;
    }
    *fd = span_member_mem_fd(span.m);
    *size = span.mem_size;
    return true;
}

static void span_msg_init(void *buf, uint16_t type, size_t len, uint16_t dst)
{
    struct span_msg_hdr *h = buf;

    memset(buf, 0, len);
    h->magic = SPAN_MAGIC;
    h->version = SPAN_PROTO_VERSION;
    h->type = type;
    h->len = len;
    h->src = span.id;
    h->dst = dst;
}

/* Sends a request to spand; returns the ACK's status or -errno. */
static int span_request(uint16_t type, const void *payload, size_t size)
{
    uint8_t msg[sizeof(struct span_msg_hdr) + 64];
    uint8_t reply[sizeof(struct span_msg_hdr) + sizeof(struct span_ack)];
    const struct span_msg_hdr *rh = (void *)reply;
    const struct span_ack *ack = (void *)(reply + sizeof(*rh));
    size_t len = sizeof(struct span_msg_hdr) + size;
    ssize_t r;

    assert(size <= 64 && !(len % SPAN_MSG_ALIGN));
    span_msg_init(msg, type, len, SPAN_MEMBER_SPAND);
    memcpy(msg + sizeof(struct span_msg_hdr), payload, size);
    QEMU_LOCK_GUARD(&span.lock);
    span.total.messages_sent++;
    r = span_member_request(span.m, msg, len, reply, sizeof(reply),
                            SPAN_REQUEST_TIMEOUT);
    if (r < 0) {
        span.total.errors++;
        return r;
    }
    if (r != sizeof(reply) || rh->type != SPAN_MSG_ACK) {
        span.total.errors++;
        return -EPROTO;
    }
    span.total.messages_received++;
    if (ack->status) {
        span.total.errors++;
    }
    return ack->status;
}

static void span_stop(ShutdownCause cause, const char *why)
{
    if (span.stopping) {
        return;
    }
    qatomic_set(&span.stopping, true);
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
static void span_reset_from_peer(void)
{
    if (span.stopping || !span.ready) {
        return;
    }
    span.resetting = true;
    span.peer_reset = true;
    qemu_system_reset_request(SHUTDOWN_CAUSE_GUEST_RESET);
}

static void span_kick_topology(void);
static void span_kick_sync(void);
static void span_kick_request(const struct span_msg_hdr *h);
static bool span_do_kick(const struct span_msg_hdr *h);
static void span_kick_setup(void);

static void span_topology(const struct span_msg_hdr *h)
{
    const struct span_topology *t = (const void *)(h + 1);
    const struct span_topo_entry *e = (const void *)(t + 1);

    g_hash_table_remove_all(span.placement);
    for (uint32_t i = 0; i < t->nr_vcpus; i++) {
        g_hash_table_insert(span.placement, GUINT_TO_POINTER(e[i].id),
                            GUINT_TO_POINTER(e[i].member + 1));
    }
    span.dev_owner = SPAN_MEMBER_NONE;
    for (uint32_t i = 0; i < t->nr_devices; i++) {
        if (e[t->nr_vcpus + i].id == SPAN_DEVICES_ID) {
            span.dev_owner = e[t->nr_vcpus + i].member;
        }
    }
    span.generation = t->generation;
    span_kick_topology();
}

void span_register_accel(const SpanAccelOps *ops)
{
    span.ops = ops;
}

void span_count_error(void)
{
    QEMU_LOCK_GUARD(&span.lock);
    span.total.errors++;
}

static uint32_t span_host_of(uint32_t apic_id);
static void span_wt_request(const struct span_msg_hdr *h);
static void span_wt_acked(const struct span_msg_hdr *h);
static void span_wt_topology(void);
static void span_fd_read(void *opaque);

/* Sends msg to member dst over the ring, waiting while the ring is full. */
static int span_send_locked(uint16_t dst, void *msg, size_t len)
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
        span.total.errors++;
        span.peer[dst].errors++;
        return r;
    }
    span.total.messages_sent++;
    span.peer[dst].messages_sent++;
    return 0;
}

/* The member slots hosting vCPUs, other than this one. */
static uint32_t span_peers(void)
{
    GHashTableIter it;
    gpointer k, v;
    uint32_t set = 0;

    g_hash_table_iter_init(&it, span.placement);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        uint32_t host = GPOINTER_TO_UINT(v) - 1;

        if (host < SPAN_MAX_MEMBERS && host != span.id) {
            set |= 1u << host;
        }
    }
    return set;
}

static int span_validate_interrupt(const struct span_interrupt *irq)
{
    struct {
        struct span_msg_hdr h;
        struct span_interrupt i;
    } msg;

    span_msg_init(&msg, SPAN_MSG_INTERRUPT, sizeof(msg), span.id ? 0 : 1);
    msg.i = *irq;
    return span_validate(&msg, sizeof(msg));
}

void span_send_interrupt(const struct span_interrupt *irq)
{
    struct {
        struct span_msg_hdr h;
        struct span_interrupt i;
    } msg;
    uint32_t dsts;
    bool broadcast = irq->dest == (irq->x2apic ? 0xffffffffu : 0xffu);

    if (trace_event_get_state_backends(TRACE_SPAN_SEND_INTERRUPT)) {
        trace_span_send_interrupt(irq->dest, irq->src_apic, irq->vector,
                                  irq->delivery, irq->dest_mode,
                                  irq->shorthand,
                                  irq->level << 1 | irq->trigger,
                                  irq->x2apic,
                                  span_reject_str(span_validate_interrupt(irq)));
    }
    QEMU_LOCK_GUARD(&span.lock);
    if (irq->shorthand == SPAN_SH_NONE &&
        irq->dest_mode == SPAN_DEST_PHYSICAL && !broadcast) {
        uint32_t host = span_host_of(irq->dest);

        if (host >= SPAN_MAX_MEMBERS || host == span.id) {
            span.total.errors++;
            return;
        }
        dsts = 1u << host;
    } else {
        /* logical, broadcast or shorthand: every member resolves its own */
        dsts = span_peers();
    }
    for (uint16_t dst = 0; dst < SPAN_MAX_MEMBERS; dst++) {
        if (!(dsts & (1u << dst))) {
            continue;
        }
        span_msg_init(&msg, SPAN_MSG_INTERRUPT, sizeof(msg), dst);
        msg.i = *irq;
        if (span_send_locked(dst, &msg, sizeof(msg)) == 0) {
            span.total.ipis_sent++;
            span.peer[dst].ipis_sent++;
        }
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
    struct {
        struct span_msg_hdr h;
        struct span_eoi e;
    } msg;

    if (!span_given || span_owns_firmware()) {
        return false;
    }
    QEMU_LOCK_GUARD(&span.lock);
    if (span.dev_owner >= SPAN_MAX_MEMBERS || span.dev_owner == span.id ||
        vector < 16 || vector > 255) {
        span.total.errors++;
        return true;
    }
    span_msg_init(&msg, SPAN_MSG_EOI, sizeof(msg), span.dev_owner);
    msg.e.vector = vector;
    if (span_send_locked(span.dev_owner, &msg, sizeof(msg)) == 0) {
        span.total.eois_sent++;
        span.peer[span.dev_owner].eois_sent++;
    }
    return true;
}

/* The device owner, main loop: an EOI from a vCPU elsewhere (validated). */
static void span_do_eoi(const struct span_msg_hdr *h)
{
    const struct span_eoi *e = (const void *)(h + 1);

    if (h->src >= SPAN_MAX_MEMBERS || !span_owns_firmware() ||
        !span.ops || !span.ops->eoi) {
        span_count_error();
        return;
    }
    span.ops->eoi(e->vector);
    QEMU_LOCK_GUARD(&span.lock);
    span.total.eois_received++;
    span.peer[h->src].eois_received++;
}

static void span_inject(const struct span_msg_hdr *h)
{
    const struct span_interrupt *irq = (const void *)(h + 1);
    int r = span.ops ? span.ops->inject(irq) : -ENOSYS;

    trace_span_inject(h->src, irq->dest, irq->vector, irq->delivery,
                      irq->shorthand, r);
    QEMU_LOCK_GUARD(&span.lock);
    if (r < 0) {
        span.total.errors++;
        span.peer[h->src].errors++;
        return;
    }
    span.total.ipis_received++;
    span.peer[h->src].ipis_received++;
}

bool span_forwards_io(void)
{
    return span_given && span.firmware == 0;
}

/*
 * Does the main loop wait for this vCPU, which waits for a peer's answer?
 * It does when it stops the vCPU (reset, pause, shutdown) and when it queued
 * work for it (run_on_cpu(): QMP's register dumps, state synchronisation);
 * meanwhile it reads no message, so the vCPU must read its answer itself.
 */
static bool span_main_loop_waits_for(CPUState *cpu)
{
    return qatomic_read(&cpu->stop) || !cpu_work_list_empty(cpu);
}

/*
 * The access reset the span VM (the guest wrote a reset register): like a
 * real CPU, this vCPU executes nothing more of the old boot.  It waits
 * until the owner's RESET arrives and the reset here stops it (or the
 * span VM stops).
 */
static void span_wait_reset(CPUState *cpu)
{
    while (!qatomic_read(&span.stopping) &&
           !(qatomic_read(&span.resetting) && qatomic_read(&cpu->stop))) {
        g_usleep(1000);
    }
}

void span_forward_io(CPUState *cpu, bool pio, uint64_t addr, uint8_t *data,
                     unsigned size, unsigned count, bool is_write)
{
    SpanPending *p = &span.pending[cpu->cpu_index];
    struct {
        struct span_msg_hdr h;
        struct span_io_req r;
    } msg;

    for (unsigned i = 0; i < count; i++, data += size) {
        int r;

        WITH_QEMU_LOCK_GUARD(&span.lock) {
            span_msg_init(&msg, pio ? SPAN_MSG_PIO_REQ : SPAN_MSG_MMIO_REQ,
                          sizeof(msg), span.dev_owner);
            msg.r.id = ((uint64_t)cpu->cpu_index << 32) | ++p->seq;
            msg.r.addr = addr;
            msg.r.data = is_write ? ldn_le_p(data, size) : 0;
            msg.r.vcpu = span.apic_id[cpu->cpu_index];
            msg.r.device = SPAN_DEVICES_ID;
            msg.r.size = size;
            msg.r.is_write = is_write;
            p->busy = true;
            p->status = -EIO;
            r = span.dev_owner < SPAN_MAX_MEMBERS ?
                span_send_locked(span.dev_owner, &msg, sizeof(msg)) : -ENXIO;
            if (r == 0) {
                if (pio) {
                    span.total.pio_forwarded++;
                    span.peer[span.dev_owner].pio_forwarded++;
                } else {
                    span.total.mmio_forwarded++;
                    span.peer[span.dev_owner].mmio_forwarded++;
                }
            }
        }
        trace_span_forward_io(cpu->cpu_index, pio ? "pio" : "mmio", is_write,
                              addr, size, r);
        /*
         * Wait for the owner; give up when the span VM stops, or when a
         * reset of the span VM stops this vCPU.  Answers are read by the
         * main loop; when it waits for this vCPU to stop for another
         * reason (a reset or pause starting here, QMP stop), this vCPU
         * reads them itself meanwhile (the main loop released the BQL).
         */
        while (r == 0 && qemu_sem_timedwait(&p->done, 200) < 0) {
            if (qatomic_read(&span.stopping)) {
                r = -ESHUTDOWN;
            } else if (qatomic_read(&span.resetting) &&
                       qatomic_read(&cpu->stop)) {
                r = -ECANCELED;
            } else if (span_main_loop_waits_for(cpu)) {
                bql_lock();
                span_fd_read(NULL);
                bql_unlock();
            }
        }
        WITH_QEMU_LOCK_GUARD(&span.lock) {
            p->busy = false;
            if (r == 0) {
                r = p->status;
            }
            if (r < 0 && r != -ERESTART) {
                span.total.errors++;
            }
        }
        trace_span_forward_io_done(cpu->cpu_index, r);
        if (!is_write) {
            stn_le_p(data, size, r < 0 ? ~0ULL : p->data);
        }
        if (r == -ERESTART) {
            span_wait_reset(cpu);
            return;
        }
    }
}

/* The owner: performs a forwarded access and answers it. */
static void span_do_io(const struct span_msg_hdr *h)
{
    const struct span_io_req *req = (const void *)(h + 1);
    bool pio = h->type == SPAN_MSG_PIO_REQ;
    struct {
        struct span_msg_hdr h;
        struct span_io_resp r;
    } msg;
    uint8_t buf[8] = { 0 };
    MemTxResult res;
    bool resetting = qemu_reset_requested_get() != SHUTDOWN_CAUSE_NONE;

    if (req->flags & SPAN_IO_F_POSTED) {
        if (!span_do_kick(h)) {
            span_count_error();
        }
        return;
    }
    stq_le_p(buf, req->data);
    res = address_space_rw(pio ? &address_space_io : &address_space_memory,
                           req->addr, MEMTXATTRS_UNSPECIFIED, buf, req->size,
                           req->is_write);
    QEMU_LOCK_GUARD(&span.lock);
    span_msg_init(&msg, pio ? SPAN_MSG_PIO_RESP : SPAN_MSG_MMIO_RESP,
                  sizeof(msg), h->src);
    msg.r.id = req->id;
    msg.r.status = res == MEMTX_OK ? 0 : -EIO;
    /* This access reset the span VM: its vCPU must stop (-ERESTART). */
    if (res == MEMTX_OK && !resetting &&
        qemu_reset_requested_get() != SHUTDOWN_CAUSE_NONE) {
        msg.r.status = -ERESTART;
    }
    if (msg.r.status == 0 && !req->is_write) {
        msg.r.data = ldn_le_p(buf, req->size);
        if (pio) {
            msg.r.data &= 0xffffffffu;
        }
    }
    span_send_locked(h->src, &msg, sizeof(msg));
}

/* The requester: completes a vCPU's forwarded access. */
static void span_io_done(const struct span_msg_hdr *h)
{
    const struct span_io_resp *resp = (const void *)(h + 1);
    uint32_t index = resp->id >> 32;
    SpanPending *p;

    QEMU_LOCK_GUARD(&span.lock);
    if (index >= span.nr_cpus || !span.pending ||
        !span.pending[index].busy ||
        span.pending[index].seq != (uint32_t)resp->id ||
        h->src != span.dev_owner) {
        span.total.errors++;
        return;
    }
    p = &span.pending[index];
    p->data = resp->data;
    p->status = resp->status;
    p->busy = false;
    qemu_sem_post(&p->done);
}

static void span_apply_clock(void)
{
    if (span.have_clock && span.ops && span.ops->set_clock(&span.clock) < 0) {
        span_count_error();
    }
    span.have_clock = false;
}

static void span_handle(const struct span_msg_hdr *h)
{
    const void *p = h + 1;

    WITH_QEMU_LOCK_GUARD(&span.lock) {
        span.total.messages_received++;
        if (h->src < SPAN_MAX_MEMBERS) {
            span.peer[h->src].messages_received++;
        }
    }
    switch (h->type) {
    case SPAN_MSG_INTERRUPT:
        if (h->src >= SPAN_MAX_MEMBERS) {
            span_count_error();
        } else if (span.ready && !span.resetting) {
            span_inject(h);
        } else {
            g_queue_push_tail(&span.deferred, g_memdup2(h, h->len));
        }
        break;
    case SPAN_MSG_TOPOLOGY:
        span_topology(h);
        span_wt_topology();
        break;
    case SPAN_MSG_VM_STATE: {
        const struct span_vm_state *s = p;

        /*
         * A span VM paused by an earlier loss resumes when its vCPUs have
         * hosts again: only a loss while the guest runs stops this member.
         */
        if (s->state == SPAN_VM_PAUSED &&
            s->reason == SPAN_REASON_MEMBER_LOST && span.ready) {
            span_stop(SHUTDOWN_CAUSE_HOST_ERROR,
                      "a member hosting vCPUs of the span VM was lost; "
                      "stopping this member");
        } else if (s->state == SPAN_VM_SHUTDOWN) {
            span_stop(SHUTDOWN_CAUSE_GUEST_SHUTDOWN, NULL);
        }
        break;
    }
    case SPAN_MSG_SHUTDOWN:
        span_stop(SHUTDOWN_CAUSE_GUEST_SHUTDOWN, NULL);
        break;
    case SPAN_MSG_RESET:
        span_reset_from_peer();
        break;
    case SPAN_MSG_MMIO_REQ:
    case SPAN_MSG_PIO_REQ:
        if (h->src < SPAN_MAX_MEMBERS && span_owns_firmware()) {
            span_do_io(h);
        } else {
            span_count_error();
        }
        break;
    case SPAN_MSG_MMIO_RESP:
    case SPAN_MSG_PIO_RESP:
        span_io_done(h);
        break;
    case SPAN_MSG_HEARTBEAT:
        if (h->src < SPAN_MAX_MEMBERS && !span_owns_firmware()) {
            const struct span_heartbeat *hb = p;

            /* The firmware member's guest clock: counter ns at timestamp */
            span.clock.ns = hb->counter;
            span.clock.realtime_ns = hb->timestamp_ns;
            span.have_clock = true;
            if (span.ready && !span.resetting) {
                span_apply_clock();
            }
        }
        break;
    case SPAN_MSG_WT_PUBLISH:
    case SPAN_MSG_WT_INVALIDATE:
        span_wt_request(h);
        break;
    case SPAN_MSG_IOEVENTFD:
        span_kick_request(h);
        break;
    case SPAN_MSG_EOI:
        span_do_eoi(h);
        break;
    case SPAN_MSG_WT_ACK:
        span_wt_acked(h);
        break;
    case SPAN_MSG_MEM_SUBSCRIBE:
    case SPAN_MSG_MEM_UNSUBSCRIBE:
        break;
    default:
        span.total.errors++;
        if (h->src < SPAN_MAX_MEMBERS) {
            span.peer[h->src].errors++;
        }
        break;
    }
}

/*
 * Handles every pending message, then re-arms the doorbell: every drain
 * must end with prepare_wait(), or peers stop ringing.  Returns false once
 * spand is gone.
 */
static bool span_drain(void)
{
    ssize_t r;
    int pending;

    do {
        for (;;) {
            WITH_QEMU_LOCK_GUARD(&span.lock) {
                r = span_member_recv(span.m, span.buf, SPAN_MSG_MAX);
                span.total.rejected = span_member_rejected(span.m);
            }
            if (r <= 0) {
                break;
            }
            span_handle((const struct span_msg_hdr *)span.buf);
        }
        if (r == -ECONNRESET) {
            return false;
        }
        if (r < 0) {
            span_count_error();
        }
        WITH_QEMU_LOCK_GUARD(&span.lock) {
            pending = span_member_prepare_wait(span.m);
        }
    } while (pending > 0);
    return true;
}

static void span_fd_read(void *opaque)
{
    if (!span_drain()) {
        qemu_set_fd_handler(span_member_event_fd(span.m), NULL, NULL, NULL);
        qemu_set_fd_handler(span_member_control_fd(span.m), NULL, NULL, NULL);
        span_stop(SHUTDOWN_CAUSE_HOST_ERROR, "lost the connection to spand");
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
    g_queue_init(&span.deferred);
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
    span.buf = g_malloc(SPAN_MSG_MAX);
    span.placement = g_hash_table_new(NULL, NULL);
    span.dev_owner = SPAN_MEMBER_NONE;
    qemu_set_fd_handler(span_member_event_fd(span.m), span_fd_read, NULL,
                        NULL);
    qemu_set_fd_handler(span_member_control_fd(span.m), span_fd_read, NULL,
                        NULL);
    span.shutdown.notify = span_shutdown_notify;
    qemu_register_shutdown_notifier(&span.shutdown);
}

static void span_create_memdev(MachineState *ms, Error **errp)
{
    MachineClass *mc = MACHINE_GET_CLASS(ms);
    Object *obj = object_new(TYPE_MEMORY_BACKEND_SPAN);

    if (!object_property_set_int(obj, "size", ms->ram_size, errp)) {
        goto out;
    }
    object_property_add_child(object_get_objects_root(), mc->default_ram_id,
                              obj);
    if (!object_property_set_bool(obj, "x-use-canonical-path-for-ramblock-id",
                                  false, errp)) {
        goto out;
    }
    if (!user_creatable_complete(USER_CREATABLE(obj), errp)) {
        goto out;
    }
    object_property_set_link(OBJECT(ms), "memory-backend", obj, errp);
out:
    object_unref(obj);
}

static uint32_t span_host_of(uint32_t apic_id)
{
    gpointer v = g_hash_table_lookup(span.placement,
                                     GUINT_TO_POINTER(apic_id));

    return v ? GPOINTER_TO_UINT(v) - 1 : SPAN_MEMBER_NONE;
}

/* Appends CPU indexes first..last to s as "N" or "N-M". */
static void span_append_range(GString *s, int first, int last)
{
    g_string_append_printf(s, "%s%d", s->len ? "," : "", first);
    if (last > first) {
        g_string_append_printf(s, "-%d", last);
    }
}

/* Lists the CPU indexes without a host; empty if every vCPU has one. */
static char *span_unplaced(void)
{
    GString *s = g_string_new("");
    int first = -1;

    for (int i = 0; i <= span.nr_cpus; i++) {
        bool missing = i < span.nr_cpus &&
                       span_host_of(span.apic_id[i]) == SPAN_MEMBER_NONE;

        if (missing && first < 0) {
            first = i;
        } else if (!missing && first >= 0) {
            span_append_range(s, first, i - 1);
            first = -1;
        }
    }
    return g_string_free(s, false);
}

static bool span_wait_placement(Error **errp)
{
    int64_t deadline = g_get_monotonic_time() + span.wait * G_USEC_PER_SEC;
    g_autofree char *missing = NULL;

    for (;;) {
        struct pollfd pfd[2] = {
            { .fd = span_member_event_fd(span.m), .events = POLLIN },
            { .fd = span_member_control_fd(span.m), .events = POLLIN },
        };

        if (!span_drain()) {
            error_setg(errp, "-span: lost the connection to spand");
            return false;
        }
        g_free(missing);
        missing = span_unplaced();
        if (!*missing && span.dev_owner != SPAN_MEMBER_NONE) {
            return true;
        }
        if (g_get_monotonic_time() >= deadline) {
            break;
        }
        poll(pfd, 2, 100);
    }
    if (!*missing) {
        error_setg(errp, "-span: no member of span VM '%s' owns the firmware "
                   "and devices after %" PRIu64 " s", span.vm, span.wait);
        error_append_hint(errp, "One member needs firmware=on (the default "
                          "for the member hosting vCPU 0).\n");
        return false;
    }
    error_setg(errp, "-span: vCPUs %s of the guest have no host in span VM "
               "'%s' after %" PRIu64 " s", missing, span.vm, span.wait);
    error_append_hint(errp, "Start the members hosting them (each with its "
                      "own vcpus=), or fix the vcpus= sets; together they "
                      "must cover vCPUs 0-%d (-smp).\n", span.nr_cpus - 1);
    return false;
}

/* Every vCPU exists now: declare the remote ones (placeholders here). */
static void span_machine_done(Notifier *n, void *data)
{
    g_autofree uint32_t *remote = g_new(uint32_t, span.nr_cpus);
    Error *err = NULL;
    int nr = 0;

    for (int i = 0; i < span.nr_cpus; i++) {
        if (!test_bit(i, span.want)) {
            remote[nr++] = span.apic_id[i];
        }
    }
    if (!nr) {
        span_wt_enable(false);  /* nobody else runs guest code */
        return;
    }
    if (!span.ops) {
        error_report("-span: the accelerator cannot host part of the "
                     "guest's vCPUs");
        exit(1);
    }
    if (!span.ops->setup(remote, nr, &err)) {
        error_report_err(err);
        exit(1);
    }
}

/* Tells the other members the guest clock, so that all agree on it. */
static void span_send_clock(void *opaque)
{
    struct {
        struct span_msg_hdr h;
        struct span_heartbeat hb;
    } msg;
    SpanClock clock;
    uint32_t peers;

    if (!span.ops || span.ops->get_clock(&clock) < 0) {
        span_count_error();
        return;
    }
    QEMU_LOCK_GUARD(&span.lock);
    peers = span_peers();
    for (uint16_t dst = 0; dst < SPAN_MAX_MEMBERS; dst++) {
        if (peers & (1u << dst)) {
            span_msg_init(&msg, SPAN_MSG_HEARTBEAT, sizeof(msg), dst);
            msg.hb.timestamp_ns = clock.realtime_ns;
            msg.hb.counter = clock.ns;
            span_send_locked(dst, &msg, sizeof(msg));
        }
    }
}

static void span_inject_deferred(void)
{
    struct span_msg_hdr *h;

    while ((h = g_queue_pop_head(&span.deferred))) {
        span_inject(h);
        g_free(h);
    }
}

static void span_start(void *opaque)
{
    trace_span_running(g_queue_get_length(&span.deferred));
    span.ready = true;
    if (span_owns_firmware()) {
        span_send_clock(NULL);
    } else {
        span_apply_clock();
    }
    span_inject_deferred();
}

/* Tells every other member to reset (over the rings, see below). */
static void span_send_reset(void)
{
    struct {
        struct span_msg_hdr h;
        struct span_reset r;
    } msg;
    uint32_t peers;

    QEMU_LOCK_GUARD(&span.lock);
    peers = span_peers();
    if (span.dev_owner < SPAN_MAX_MEMBERS && span.dev_owner != span.id) {
        peers |= 1u << span.dev_owner;
    }
    for (uint16_t dst = 0; dst < SPAN_MAX_MEMBERS; dst++) {
        if (peers & (1u << dst)) {
            span_msg_init(&msg, SPAN_MSG_RESET, sizeof(msg), dst);
            msg.r.reason = SPAN_REASON_GUEST;
            span_send_locked(dst, &msg, sizeof(msg));
        }
    }
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
    span_inject_deferred();
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
    trace_span_reset(span.peer_reset, g_queue_get_length(&span.deferred));
    if (span.peer_reset) {
        span.peer_reset = false;
    } else {
        span_send_reset();
    }
    if (span_owns_firmware()) {
        span_send_clock(NULL);
    }
    aio_bh_schedule_oneshot(qemu_get_aio_context(), span_reset_done, NULL);
}

static void span_vm_state_change(void *opaque, bool running, RunState state)
{
    if (running && !span.ready) {
        span_fd_read(NULL);
        /* after the other handlers (kvmclock sets the clock on start) */
        aio_bh_schedule_oneshot(qemu_get_aio_context(), span_start, NULL);
    }
}

/*
 * A member that does not own the devices never serves an access to them
 * (its vCPUs' port and MMIO accesses go to the owner), so its device
 * models only cost it time when they run timers of their own.  The PC's
 * PIT does from reset: channel 0 counts in mode 3 (18.2 Hz, two QEMU timer
 * expiries a period) until a guest reprograms it, which on a non-owner
 * never happens, and each expiry wakes the main loop (in an L1, a timer
 * interrupt and a switch away from the guest's vCPU).  Leave it out there
 * unless -machine pit=on asks for it.
 */
static void span_quiet_devices(MachineState *ms, Error **errp)
{
    Object *obj = OBJECT(ms);
    g_autofree char *pit = NULL;

    if (span.firmware || !object_property_find(obj, "pit")) {
        return;
    }
    pit = object_property_get_str(obj, "pit", errp);
    if (pit && !strcmp(pit, "auto")) {
        object_property_set_str(obj, "pit", "off", errp);
    }
}

void span_machine_setup(MachineState *ms, Error **errp)
{
    ERRP_GUARD();
    MachineClass *mc = MACHINE_GET_CLASS(ms);
    const CPUArchIdList *ids;
    int last;

    if (!mc->possible_cpu_arch_ids) {
        error_setg(errp, "-span: machine type %s is not supported",
                   mc->name);
        return;
    }
    ids = mc->possible_cpu_arch_ids(ms);
    span.nr_cpus = ids->len;
    span.apic_id = g_new(uint32_t, ids->len);
    span.pending = g_new0(SpanPending, ids->len);
    for (int i = 0; i < ids->len; i++) {
        qemu_sem_init(&span.pending[i].done, 0);
    }
    for (int i = 0; i < ids->len; i++) {
        span.apic_id[i] = ids->cpus[i].arch_id;
    }

    last = find_last_bit(span.want, SPAN_MAX_VCPUS);
    if (last >= SPAN_MAX_VCPUS) {
        error_setg(errp, "-span: vcpus= is missing: name the vCPUs this "
                   "member hosts (e.g. vcpus=0-1)");
        return;
    }
    if (last >= span.nr_cpus) {
        error_setg(errp, "-span: vCPU %d is out of range: the guest has %d "
                   "vCPUs (-smp)", last, span.nr_cpus);
        return;
    }
    if (span.firmware < 0) {
        span.firmware = test_bit(0, span.want);
    }
    span_quiet_devices(ms, errp);
    if (*errp) {
        return;
    }

    if (!ms->memdev) {
        span_create_memdev(ms, errp);
        if (*errp) {
            return;
        }
    } else if (!object_dynamic_cast(OBJECT(ms->memdev),
                                    TYPE_MEMORY_BACKEND_SPAN)) {
        error_setg(errp, "-span: guest RAM must be the span memory: use "
                   "memory-backend-span (or no memory-backend=)");
        return;
    }

    for (int i = 0; i < span.nr_cpus; i++) {
        struct span_attach a = {
            .kind = SPAN_ATTACH_VCPU,
            .member = SPAN_MEMBER_SELF,
            .id = span.apic_id[i],
        };
        int r;

        if (!test_bit(i, span.want)) {
            continue;
        }
        r = span_request(SPAN_MSG_ATTACH, &a, sizeof(a));
        if (r == -EBUSY) {
            span_drain();
            error_setg(errp, "-span: vCPU %d (APIC ID %u) is already hosted "
                       "by member %u of span VM '%s'", i, a.id,
                       span_host_of(a.id), span.vm);
            error_append_hint(errp, "Each vCPU must be in exactly one "
                              "member's vcpus= set.\n");
            return;
        }
        if (r < 0 && r != -EEXIST) {
            error_setg(errp, "-span: cannot place vCPU %d (APIC ID %u) "
                       "here: %s", i, a.id, strerror(-r));
            return;
        }
    }
    if (span.firmware) {
        struct span_attach a = {
            .kind = SPAN_ATTACH_DEVICE,
            .member = SPAN_MEMBER_SELF,
            .id = SPAN_DEVICES_ID,
        };
        int r = span_request(SPAN_MSG_ATTACH, &a, sizeof(a));

        if (r == -EBUSY) {
            span_drain();
            error_setg(errp, "-span: member %u of span VM '%s' already owns "
                       "the firmware and devices", span.dev_owner, span.vm);
            error_append_hint(errp, "Give firmware=on to one member only.\n");
            return;
        }
        if (r < 0 && r != -EEXIST) {
            error_setg(errp, "-span: cannot take the devices: %s",
                       strerror(-r));
            return;
        }
    }
    if (!span_wait_placement(errp)) {
        return;
    }
    span_kick_setup();
    span.machine_done.notify = span_machine_done;
    qemu_add_machine_init_done_notifier(&span.machine_done);
    span.vmstate = qemu_add_vm_change_state_handler(span_vm_state_change,
                                                    NULL);
    qemu_register_reset(span_reset_handler, NULL);
}

/*
 * Posted notifications (ioeventfd into the channel).  The owner of the
 * devices tells every vCPU host where its devices take ioeventfd-style
 * notifications (virtio queue kicks): a memory listener sees each
 * ioeventfd as the device registers it and sends SPAN_MSG_IOEVENTFD ADD
 * (DEL when it goes).  A vCPU host registers the same address with its
 * KVM, bound to an eventfd of its own: a guest write there completes in
 * KVM without leaving it, and this member's main loop posts the write to
 * the owner (MMIO_REQ/PIO_REQ with SPAN_IO_F_POSTED, no answer), where it
 * reaches the device's own ioeventfd (memory core) as a local kick would.
 * Several kicks before the main loop runs become one, as with any
 * ioeventfd.  Invariant: the owner executes a posted write only at an
 * address it announced itself, so a peer cannot post anything else; a
 * vCPU host registers only what the owner announced.
 */
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
} kick;

/* The wire's rules for an announcement (libspan's validation). */
static int span_validate_ioeventfd_fields(const struct span_ioeventfd *e)
{
    struct {
        struct span_msg_hdr h;
        struct span_ioeventfd e;
    } msg;

    span_msg_init(&msg, SPAN_MSG_IOEVENTFD, sizeof(msg), span.id ? 0 : 1);
    msg.e = *e;
    msg.e.op = SPAN_IOEVENTFD_ADD;
    return span_validate(&msg, sizeof(msg));
}

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

static uint32_t span_kick_peers(void)
{
    QEMU_LOCK_GUARD(&span.lock);
    return span_peers();
}

static void span_kick_send(uint32_t peers, const struct span_ioeventfd *e,
                           uint8_t op)
{
    struct {
        struct span_msg_hdr h;
        struct span_ioeventfd e;
    } msg;

    QEMU_LOCK_GUARD(&span.lock);
    for (uint16_t dst = 0; dst < SPAN_MAX_MEMBERS; dst++) {
        if (peers & (1u << dst)) {
            span_msg_init(&msg, SPAN_MSG_IOEVENTFD, sizeof(msg), dst);
            msg.e = *e;
            msg.e.op = op;
            span_send_locked(dst, &msg, sizeof(msg));
        }
    }
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
    };
    guint index;
    SpanKick *k;

    if (!span_owns_firmware() || span_validate_ioeventfd_fields(&e) != 0) {
        return;     /* only the owner's devices are real; odd ones stay local */
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
    span_kick_send(kick.told & span_kick_peers(), &e,
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

/*
 * Owner: vCPU hosts that appeared since the last call get every current
 * announcement.  Invariant: each member in kick.told has been sent the
 * whole list, in order, since it last appeared.
 */
static void span_kick_sync(void)
{
    uint32_t peers = span_kick_peers(), fresh = peers & ~kick.told;

    for (guint i = 0; fresh && i < kick.list->len; i++) {
        SpanKick *k = g_ptr_array_index(kick.list, i);

        span_kick_send(fresh, &k->e, SPAN_IOEVENTFD_ADD);
    }
    kick.told = peers;
}

static void span_kick_topology(void)
{
    if (kick.list && span_owns_firmware()) {
        span_kick_sync();
    }
}

/* vCPU host: KVM caught a guest write at an announced address. */
static void span_kick_read(EventNotifier *n)
{
    SpanKick *k = container_of(n, SpanKick, notifier);
    bool pio = k->e.flags & SPAN_IOEVENTFD_F_PIO;
    struct {
        struct span_msg_hdr h;
        struct span_io_req r;
    } msg = { 0 };

    if (!event_notifier_test_and_clear(n)) {
        return;
    }
    QEMU_LOCK_GUARD(&span.lock);
    if (span.dev_owner >= SPAN_MAX_MEMBERS || span.dev_owner == span.id) {
        span.total.errors++;
        return;
    }
    span_msg_init(&msg, pio ? SPAN_MSG_PIO_REQ : SPAN_MSG_MMIO_REQ,
                  sizeof(msg), span.dev_owner);
    msg.r.addr = k->e.addr;
    msg.r.data = k->e.data;
    /* "any size" is a virtio-pci notify: the guest writes 16 bits */
    msg.r.size = k->e.size ? k->e.size : 2;
    msg.r.is_write = 1;
    msg.r.flags = SPAN_IO_F_POSTED;
    msg.r.vcpu = SPAN_APIC_NONE;
    msg.r.device = SPAN_DEVICE_NONE;
    if (span_send_locked(span.dev_owner, &msg, sizeof(msg)) == 0) {
        span.total.kicks_sent++;
        span.peer[span.dev_owner].kicks_sent++;
    }
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
static void span_kick_request(const struct span_msg_hdr *h)
{
    const struct span_ioeventfd *e = (const void *)(h + 1);
    guint index;
    SpanKick *k;
    int r;

    if (h->src != span.dev_owner || span_owns_firmware() || !span.ops ||
        !span.ops->ioeventfd) {
        span_count_error();
        return;
    }
    k = span_kick_find(e, &index);
    if (e->op == SPAN_IOEVENTFD_DEL) {
        if (!k) {
            span_count_error();
            return;
        }
        span_kick_unregister(k);
        g_ptr_array_remove_index(kick.list, index);
        g_free(k);
        return;
    }
    if (k || kick.list->len >= SPAN_KICKS_MAX) {
        span_count_error();
        return;
    }
    k = g_new0(SpanKick, 1);
    k->e = *e;
    if (event_notifier_init(&k->notifier, false) < 0) {
        g_free(k);
        span_count_error();
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
        span_count_error();
        return;
    }
    k->registered = true;
    event_notifier_set_handler(&k->notifier, span_kick_read);
    g_ptr_array_add(kick.list, k);
}

/* Owner: executes a posted write if it is a notification it announced. */
static bool span_do_kick(const struct span_msg_hdr *h)
{
    const struct span_io_req *req = (const void *)(h + 1);
    bool pio = h->type == SPAN_MSG_PIO_REQ;
    uint8_t buf[8] = { 0 };
    bool ok = false;

    for (guint i = 0; i < kick.list->len && !ok; i++) {
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
    QEMU_LOCK_GUARD(&span.lock);
    span.total.kicks_received++;
    if (h->src < SPAN_MAX_MEMBERS) {
        span.peer[h->src].kicks_received++;
    }
    return true;
}

static void span_kick_setup(void)
{
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

static SpanCounters *span_counters_copy(const SpanCounters *c)
{
    return g_memdup2(c, sizeof(*c));
}

SpanInfo *qmp_query_span(Error **errp)
{
    SpanInfo *info;
    SpanMemberInfoList **mtail;
    SpanVcpuInfoList **vtail;
    bool seen[SPAN_MAX_MEMBERS] = { false };
    SpanClock clock;

    if (!span.m) {
        error_setg(errp, "this QEMU is not a span member (no -span option)");
        return NULL;
    }
    span_drain();
    info = g_new0(SpanInfo, 1);
    info->vm = g_strdup(span.vm);
    info->vm_id = span.vm_id;
    info->member = g_strdup(span.name);
    info->member_id = span.id;
    info->socket = g_strdup(span.socket);
    info->firmware = span.firmware > 0;
    info->memory_size = span.mem_size;
    info->topology_generation = span.generation;
    info->counters = span_counters_copy(&span.total);
    info->shadow_coherence = wt.state == SPAN_WT_ON;
    if (span.ops && span.ops->get_clock(&clock) == 0) {
        info->has_clock_ns = true;
        info->clock_ns = clock.ns;
        info->has_clock_realtime_ns = true;
        info->clock_realtime_ns = clock.realtime_ns;
        info->has_clock_stable = true;
        info->clock_stable = clock.stable;
    }

    vtail = &info->vcpus;
    for (int i = 0; i < span.nr_cpus; i++) {
        SpanVcpuInfo *v = g_new0(SpanVcpuInfo, 1);
        uint32_t host = span_host_of(span.apic_id[i]);

        v->cpu_index = i;
        v->apic_id = span.apic_id[i];
        v->has_member = host != SPAN_MEMBER_NONE;
        v->member = v->has_member ? host : 0;
        v->local = test_bit(i, span.want);
        if (host < SPAN_MAX_MEMBERS) {
            seen[host] = true;
        }
        QAPI_LIST_APPEND(vtail, v);
    }
    seen[span.id] = true;

    mtail = &info->members;
    for (uint32_t id = 0; id < SPAN_MAX_MEMBERS; id++) {
        SpanMemberInfo *mi;
        uint32List **itail;

        if (!seen[id]) {
            continue;
        }
        mi = g_new0(SpanMemberInfo, 1);
        mi->id = id;
        mi->self = id == span.id;
        mi->counters = span_counters_copy(mi->self ? &span.total
                                          : &span.peer[id]);
        itail = &mi->vcpus;
        for (int i = 0; i < span.nr_cpus; i++) {
            if (span_host_of(span.apic_id[i]) == id) {
                QAPI_LIST_APPEND(itail, span.apic_id[i]);
            }
        }
        QAPI_LIST_APPEND(mtail, mi);
    }
    return info;
}

/*
 * Shadow-paging coherence (Documentation/shadow-coherence.rst)
 *
 * With shadow paging every member's KVM shadows the guest's page tables,
 * which live in the one shared memory.  KVM (KVM_CAP_SPAN_SHADOW) stops a
 * vCPU before it shadows a frame no peer protects yet (publish) and after
 * it wrote a frame a peer shadows (invalidate); this member carries both
 * to the peers hosting vCPUs and lets the vCPU go on only when every one
 * acknowledged.  Peers' requests are applied on the main loop, which never
 * waits for a peer, so two members waiting for each other cannot deadlock.
 *
 * Invariants (under span.lock):
 *  - wt.frames[gfn] is the set of peers whose publication of gfn this
 *    member applied: gfn is imported into KVM iff the set is non-empty;
 *  - wt.mine holds the frames this member published and did not withdraw
 *    (sent to a peer that starts hosting vCPUs later);
 *  - a vCPU waits for one request at a time: wt.wait[cpu_index].pending
 *    is the set of peers that have not acknowledged wt.wait[].generation.
 */

static void span_wt_ack(uint16_t dst, uint64_t generation, int status)
{
    struct {
        struct span_msg_hdr h;
        struct span_wt_ack a;
    } msg;

    QEMU_LOCK_GUARD(&span.lock);
    span_msg_init(&msg, SPAN_MSG_WT_ACK, sizeof(msg), dst);
    msg.a.generation = generation;
    msg.a.status = status;
    span_send_locked(dst, &msg, sizeof(msg));
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

/* A peer's WT_PUBLISH or WT_INVALIDATE (main loop; validated by libspan). */
static void span_wt_request(const struct span_msg_hdr *h)
{
    const struct span_wt_publish *pub = (const void *)(h + 1);
    const struct span_wt_invalidate *inv = (const void *)(h + 1);
    struct span_gfn_range one;
    uint64_t generation;
    int ret;

    if (h->src >= SPAN_MAX_MEMBERS || h->src == span.id) {
        span_count_error();
        return;
    }
    if (wt.state == SPAN_WT_UNKNOWN) {
        g_queue_push_tail(&wt.deferred, g_memdup2(h, h->len));
        return;
    }
    if (h->type == SPAN_MSG_WT_INVALIDATE) {
        generation = inv->generation;
        one.gfn = inv->gfn;
        one.nr_pages = inv->nr_pages;
        ret = wt.state != SPAN_WT_ON ? -EOPNOTSUPP :
              span_wt_apply(SPAN_WT_PEER_INVALIDATE, &one, 1, h->src);
        if (ret >= 0) {
            QEMU_LOCK_GUARD(&span.lock);
            span.total.wt_invalidations_received++;
            span.peer[h->src].wt_invalidations_received++;
        }
    } else {
        bool add = pub->op == SPAN_WT_ADD;

        generation = pub->generation;
        ret = wt.state != SPAN_WT_ON ? -EOPNOTSUPP :
              span_wt_apply(add ? SPAN_WT_PEER_IMPORT : SPAN_WT_PEER_RELEASE,
                            (const void *)(pub + 1), pub->nr_ranges, h->src);
        if (ret >= 0 && add) {
            QEMU_LOCK_GUARD(&span.lock);
            span.total.wt_imported += pub->nr_ranges;
            span.peer[h->src].wt_imported += pub->nr_ranges;
        }
        if (!add) {
            /* a withdrawal needs no acknowledgement */
            if (ret < 0) {
                span_count_error();
            }
            return;
        }
    }
    trace_span_wt_request(h->src, h->type, generation,
                          h->type == SPAN_MSG_WT_INVALIDATE ? inv->gfn :
                          pub->nr_ranges ? ((const struct span_gfn_range *)
                                            (pub + 1))->gfn : 0,
                          h->type == SPAN_MSG_WT_INVALIDATE ? inv->nr_pages :
                          pub->nr_ranges, ret);
    if (ret < 0) {
        error_report("span: cannot apply member %u's write-tracking request "
                     "(generation %" PRIu64 "): %s", h->src, generation,
                     strerror(-ret));
        span_count_error();
    }
    span_wt_ack(h->src, generation, ret < 0 ? ret : 0);
}

/* A peer's WT_ACK: completes the waiting vCPU's request. */
static void span_wt_acked(const struct span_msg_hdr *h)
{
    const struct span_wt_ack *a = (const void *)(h + 1);

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
    span.total.errors++;
    if (h->src < SPAN_MAX_MEMBERS) {
        span.peer[h->src].errors++;
    }
}

/* Sends the published frames (ADD, ranges) to peer dst; under span.lock. */
static void span_wt_send_mine(uint16_t dst)
{
    g_autofree uint8_t *msg = g_malloc(SPAN_MSG_MAX);
    struct span_msg_hdr *h = (void *)msg;
    struct span_wt_publish *pub = (void *)(h + 1);
    struct span_gfn_range *r = (void *)(pub + 1);
    GHashTableIter it;
    gpointer key;
    uint32_t n = 0;

    g_hash_table_iter_init(&it, wt.mine);
    for (bool more = g_hash_table_iter_next(&it, &key, NULL); more || n; ) {
        if (more) {
            r[n].gfn = GPOINTER_TO_SIZE(key);
            r[n++].nr_pages = 1;
            more = g_hash_table_iter_next(&it, &key, NULL);
        }
        if (n == SPAN_MAX_RANGES || (!more && n)) {
            size_t len = sizeof(*h) + sizeof(*pub) + n * sizeof(*r);

            /* header and publish only: the ranges are filled in */
            span_msg_init(msg, SPAN_MSG_WT_PUBLISH, sizeof(*h) + sizeof(*pub),
                          dst);
            h->len = len;
            pub->generation = ++wt.generation;
            pub->nr_ranges = n;
            pub->op = SPAN_WT_ADD;
            span_send_locked(dst, msg, len);
            n = 0;
        }
    }
}

/*
 * After a placement change: a member that starts hosting vCPUs gets the
 * frames this member shadows (the JOIN answer of the protocol).
 */
static void span_wt_topology(void)
{
    uint32_t peers;

    if (wt.state != SPAN_WT_ON) {
        return;
    }
    QEMU_LOCK_GUARD(&span.lock);
    peers = span_peers();
    for (uint16_t dst = 0; dst < SPAN_MAX_MEMBERS; dst++) {
        if ((peers & ~wt.peers) & (1u << dst)) {
            span_wt_send_mine(dst);
        }
    }
    wt.peers = peers;
}

void span_wt_enable(bool on)
{
    struct span_msg_hdr *h;

    wt.state = on ? SPAN_WT_ON : SPAN_WT_OFF;
    if (on) {
        wt.wait = g_new0(SpanWtWait, span.nr_cpus);
        for (int i = 0; i < span.nr_cpus; i++) {
            qemu_sem_init(&wt.wait[i].done, 0);
        }
        wt.frames = g_hash_table_new(NULL, NULL);
        wt.mine = g_hash_table_new(NULL, NULL);
        QEMU_LOCK_GUARD(&span.lock);
        wt.peers = span_peers();
    }
    while ((h = g_queue_pop_head(&wt.deferred))) {
        span_wt_request(h);
        g_free(h);
    }
}

/*
 * Sends one request (msg, generation filled in here) to every peer in dsts
 * and waits for their acknowledgements.  A peer that does not answer stops
 * the span VM; the vCPU then leaves only when QEMU stops it, never back
 * into the guest without the acknowledgements.
 */
static int span_wt_send_wait(CPUState *cpu, struct span_msg_hdr *msg,
                             __u64 *generation, uint32_t dsts)
{
    SpanWtWait *w = &wt.wait[cpu->cpu_index];
    int64_t deadline = g_get_monotonic_time() +
                       SPAN_WT_TIMEOUT_MS * (int64_t)1000;
    bool timed_out = false;

    WITH_QEMU_LOCK_GUARD(&span.lock) {
        *generation = ++wt.generation;
        w->generation = *generation;
        w->pending = dsts;
        w->status = 0;
        for (uint16_t dst = 0; dst < SPAN_MAX_MEMBERS; dst++) {
            if (!(dsts & (1u << dst))) {
                continue;
            }
            msg->dst = dst;
            if (span_send_locked(dst, msg, msg->len) < 0) {
                w->pending &= ~(1u << dst);
                w->status = -EIO;
            }
        }
        if (!w->pending) {
            w->generation = 0;
            return w->status;
        }
    }
    while (qemu_sem_timedwait(&w->done, 200) < 0) {
        if (span_main_loop_waits_for(cpu)) {
            /*
             * The main loop waits for this vCPU and cannot read the
             * acknowledgements meanwhile: read them here while it waits (it
             * released the BQL).  Only a stopping span VM lets the vCPU go
             * without them.
             */
            if (qatomic_read(&cpu->stop) && qatomic_read(&span.stopping)) {
                break;
            }
            bql_lock();
            span_fd_read(NULL);
            bql_unlock();
            if (qatomic_read(&cpu->stop)) {
                continue;
            }
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
        span.total.errors++;
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
        return span_peers();
    }
    return GPOINTER_TO_UINT(g_hash_table_lookup(wt.frames,
                                                GSIZE_TO_POINTER(gfn)));
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
        struct span_msg_hdr h;
        struct span_wt_publish p;
        struct span_gfn_range r;
    } msg;
    uint32_t dsts;
    int r;

    WITH_QEMU_LOCK_GUARD(&span.lock) {
        dsts = span_peers();
    }
    span_msg_init(&msg, SPAN_MSG_WT_PUBLISH, sizeof(msg), 0);
    msg.p.nr_ranges = 1;
    msg.p.op = SPAN_WT_ADD;
    msg.r.gfn = gfn;
    msg.r.nr_pages = 1;
    r = span_wt_send_wait(cpu, &msg.h, &msg.p.generation, dsts);
    if (r == -ESHUTDOWN) {
        return r;
    }
    if (r < 0) {
        return span_wt_failed(gfn, r, "write-protect");
    }
    QEMU_LOCK_GUARD(&span.lock);
    g_hash_table_add(wt.mine, GSIZE_TO_POINTER(gfn));
    span.total.wt_published++;
    for (uint16_t dst = 0; dst < SPAN_MAX_MEMBERS; dst++) {
        if (dsts & (1u << dst)) {
            span.peer[dst].wt_published++;
        }
    }
    return 0;
}

int span_wt_invalidate(CPUState *cpu, uint64_t gfn)
{
    struct {
        struct span_msg_hdr h;
        struct span_wt_invalidate i;
    } msg;
    uint32_t dsts = span_wt_shadowers(gfn);
    int r;

    if (!dsts) {
        return 0;       /* every peer withdrew it meanwhile */
    }
    span_msg_init(&msg, SPAN_MSG_WT_INVALIDATE, sizeof(msg), 0);
    msg.i.gfn = gfn == SPAN_WT_GFN_ALL ? 0 : gfn;
    msg.i.nr_pages = gfn == SPAN_WT_GFN_ALL ? SPAN_GFN_LIMIT : 1;
    msg.i.vcpu = span.apic_id[cpu->cpu_index];
    r = span_wt_send_wait(cpu, &msg.h, &msg.i.generation, dsts);
    if (r == -ESHUTDOWN) {
        return r;
    }
    if (r < 0) {
        return span_wt_failed(gfn, r, "drop its shadows of");
    }
    QEMU_LOCK_GUARD(&span.lock);
    span.total.wt_invalidations_sent++;
    for (uint16_t dst = 0; dst < SPAN_MAX_MEMBERS; dst++) {
        if (dsts & (1u << dst)) {
            span.peer[dst].wt_invalidations_sent++;
        }
    }
    return 0;
}

void span_wt_withdraw(const uint64_t *gfns, unsigned nr)
{
    g_autofree uint8_t *msg = g_malloc(SPAN_MSG_MAX);
    struct span_msg_hdr *h = (void *)msg;
    struct span_wt_publish *pub = (void *)(h + 1);
    struct span_gfn_range *r = (void *)(pub + 1);
    uint32_t peers;

    QEMU_LOCK_GUARD(&span.lock);
    peers = span_peers();
    while (nr) {
        unsigned n = MIN(nr, SPAN_MAX_RANGES);
        size_t len = sizeof(*h) + sizeof(*pub) + n * sizeof(*r);

        for (unsigned i = 0; i < n; i++) {
            r[i].gfn = gfns[i];
            r[i].nr_pages = 1;
            g_hash_table_remove(wt.mine, GSIZE_TO_POINTER(gfns[i]));
        }
        ++wt.generation;
        for (uint16_t dst = 0; dst < SPAN_MAX_MEMBERS; dst++) {
            if (peers & (1u << dst)) {
                /* header and publish only: the ranges are filled in */
                span_msg_init(msg, SPAN_MSG_WT_PUBLISH,
                              sizeof(*h) + sizeof(*pub), dst);
                h->len = len;
                pub->generation = wt.generation;
                pub->nr_ranges = n;
                pub->op = SPAN_WT_REMOVE;
                if (span_send_locked(dst, msg, len) == 0) {
                    span.peer[dst].wt_withdrawn += n;
                }
            }
        }
        span.total.wt_withdrawn += n;
        gfns += n;
        nr -= n;
    }
}
