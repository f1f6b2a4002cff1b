/*
 * Span members: interrupts to and from vCPUs hosted by other members (KVM)
 *
 * KVM (KVM_CAP_SPAN) learns which APIC IDs are hosted elsewhere
 * (KVM_SPAN_SET_REMOTE); placeholders for them exist here but are parked
 * and never run.  Interrupts for them leave KVM as KVM_EXIT_SPAN_IRQ (from
 * a vCPU) or on the span ring (from devices), go to the hosting member
 * over the channel, and are injected there with KVM_SPAN_INJECT.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/mman.h>
#include <linux/kvm.h>
#include <linux/span.h>
#include "qemu/error-report.h"
#include "qemu/event_notifier.h"
#include "qemu/main-loop.h"
#include "qemu/lockable.h"
#include "qemu/thread.h"
#include "qapi/error.h"
#include "qemu/units.h"
#include "exec/address-spaces.h"
#include "exec/memory.h"
#include "hw/boards.h"
#include "hw/i386/apic.h"
#include "hw/i386/apic_internal.h"
#include "hw/intc/ioapic.h"
#include "io/channel-buffer.h"
#include "migration/qemu-file.h"
#include "migration/vmstate.h"
#include "system/hw_accel.h"
#include "system/kvm.h"
#include "system/span-accel.h"
#include "kvm_i386.h"
#include "trace.h"

/*
 * A ring KVM owns and this process drains (KVM_SPAN_CREATE_RING,
 * KVM_SPAN_SHADOW_ENABLE): a struct kvm_span_ring_hdr, then @entries
 * entries of @entry_size bytes at KVM_SPAN_RING_OFFSET.  KVM signals
 * @notifier after adding entries.  @consume takes each entry in order and
 * @flush, if set, ends a batch; both run under @lock, which is held from
 * reading the head until the tail is released.
 */
typedef struct KVMSpanRing {
    const char *name;
    unsigned entries;
    size_t entry_size;
    void (*consume)(const void *entry);
    void (*flush)(void);
    const char *dropped_warning;    /* warned about once, if set */
    struct kvm_span_ring_hdr *hdr;
    EventNotifier notifier;
    QemuMutex lock;
} KVMSpanRing;

static void kvm_span_ring_drain(KVMSpanRing *r)
{
    const uint8_t *ents = (const uint8_t *)r->hdr + KVM_SPAN_RING_OFFSET;
    uint32_t head, tail;

    QEMU_LOCK_GUARD(&r->lock);
    /* Pairs with KVM's release store of head after writing the entries. */
    head = qatomic_load_acquire(&r->hdr->head);
    tail = r->hdr->tail;
    if (head - tail > r->entries) {
        /* KVM never does this: do not read garbage, count it */
        span_count_error();
        return;
    }
    for (; tail != head; tail++) {
        r->consume(ents + (tail % r->entries) * r->entry_size);
    }
    if (r->flush) {
        r->flush();
    }
    /* Pairs with KVM's acquire load of tail before it reuses the slots. */
    qatomic_store_release(&r->hdr->tail, tail);
    if (r->dropped_warning && qatomic_read(&r->hdr->dropped)) {
        warn_report_once("span: %s", r->dropped_warning);
    }
}

static void kvm_span_ring_read(EventNotifier *n)
{
    KVMSpanRing *r = container_of(n, KVMSpanRing, notifier);

    event_notifier_test_and_clear(n);
    kvm_span_ring_drain(r);
}

/*
 * Returns the eventfd to hand KVM in the ioctl that creates the ring, or
 * -1 with @errp set.
 */
static int kvm_span_ring_init(KVMSpanRing *r, Error **errp)
{
    qemu_mutex_init(&r->lock);
    if (event_notifier_init(&r->notifier, false) < 0) {
        error_setg(errp, "-span: cannot create the %s's eventfd", r->name);
        return -1;
    }
    return event_notifier_get_fd(&r->notifier);
}

/*
 * Maps the ring KVM handed out as @fd (closed here) and starts draining it
 * from the main loop.
 */
static bool kvm_span_ring_start(KVMSpanRing *r, int fd, Error **errp)
{
    size_t size = QEMU_ALIGN_UP(KVM_SPAN_RING_OFFSET +
                                r->entries * r->entry_size,
                                qemu_real_host_page_size());
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

    close(fd);
    if (p == MAP_FAILED) {
        error_setg_errno(errp, errno, "-span: cannot map the %s", r->name);
        return false;
    }
    r->hdr = p;
    event_notifier_set_handler(&r->notifier, kvm_span_ring_read);
    return true;
}

/*
 * Converts an interrupt KVM raised into the wire format.  1: send it; 0:
 * it has no effect elsewhere, drop it; -EINVAL: it cannot be forwarded.
 */
static int kvm_span_to_wire(const struct kvm_span_irq *e,
                            struct span_interrupt *w)
{
    memset(w, 0, sizeof(*w));
    switch (e->delivery_mode) {
    case KVM_SPAN_DM_FIXED:
    case KVM_SPAN_DM_LOWEST:
    case KVM_SPAN_DM_NMI:
    case KVM_SPAN_DM_INIT:
    case KVM_SPAN_DM_SIPI:
        break;
    case KVM_SPAN_DM_REMRD:
        /* KVM's PV kick: KVM_HC_KICK_CPU names one APIC ID */
        if (e->dest_mode != KVM_SPAN_DEST_PHYSICAL || e->shorthand) {
            return -EINVAL;
        }
        break;
    default:
        /* SMI has no wire encoding */
        return -EINVAL;
    }
    if (e->shorthand == KVM_SPAN_SH_SELF) {
        return -EINVAL;
    }
    /*
     * A level-triggered INIT de-assert has no effect on modern APICs (Linux
     * still sends one after each INIT): not an error.
     */
    if (e->delivery_mode == KVM_SPAN_DM_INIT && e->trig_mode && !e->level) {
        return 0;
    }
    w->dest = e->shorthand ? 0 : e->dest_id;
    w->src_apic = e->src_apic_id;
    w->delivery = e->delivery_mode;
    if (e->delivery_mode != KVM_SPAN_DM_NMI &&
        e->delivery_mode != KVM_SPAN_DM_INIT &&
        e->delivery_mode != KVM_SPAN_DM_REMRD) {
        w->vector = e->vector;
    }
    w->dest_mode = e->dest_mode;
    w->shorthand = e->shorthand;
    w->trigger = e->trig_mode;
    w->level = 1;
    w->x2apic = !!(e->flags & KVM_SPAN_IRQ_X2APIC);
    return 1;
}

static void kvm_span_forward(const struct kvm_span_irq *e)
{
    struct span_interrupt w;
    int r;

    /*
     * Only the owner's devices are real: others' copies are never used.
     * (KVM reports its PV kick as a vCPU's, KVM_SPAN_SRC_IPI, though it
     * has no source APIC.)
     */
    if (e->source == KVM_SPAN_SRC_DEVICE && !span_owns_firmware()) {
        return;
    }
    r = kvm_span_to_wire(e, &w);
    if (r > 0) {
        span_send_interrupt(&w);
    } else if (r < 0) {
        span_count_error();
    }
}

/* The span ring: interrupts KVM raised outside a vCPU's context. */
static void kvm_span_irq_consume(const void *entry)
{
    kvm_span_forward(entry);
}

static KVMSpanRing irq_ring = {
    .name = "span ring",
    .entries = 1024,
    .entry_size = sizeof(struct kvm_span_irq),
    .consume = kvm_span_irq_consume,
};

/*
 * Shadow paging (KVM_CAP_SPAN_SHADOW): KVM stops a vCPU before it shadows a
 * guest page table no peer protects yet (ADD) and after it wrote one a peer
 * shadows (INV); span.c carries both to the peers.  Frames KVM stops
 * shadowing come through the shadow ring (DEL).  Ring entries are sent in
 * order, and those before an ADD's ring_head before the ADD itself, so a
 * peer never applies a withdrawal after a later publication of the frame:
 * the ring's lock is held from reading entries until they are sent.
 */
static uint64_t shadow_gfns[64];
static unsigned shadow_nr_gfns;

static void kvm_span_shadow_flush(void)
{
    if (shadow_nr_gfns) {
        span_wt_withdraw(shadow_gfns, shadow_nr_gfns);
        shadow_nr_gfns = 0;
    }
}

static void kvm_span_shadow_consume(const void *entry)
{
    const struct kvm_span_shadow_event *e = entry;

    if (e->op != KVM_SPAN_SHADOW_DEL) {
        span_count_error();
        return;
    }
    shadow_gfns[shadow_nr_gfns++] = e->gfn;
    if (shadow_nr_gfns == ARRAY_SIZE(shadow_gfns)) {
        kvm_span_shadow_flush();
    }
}

/* Its lock also guards shadow_gfns. */
static KVMSpanRing shadow_ring = {
    .name = "shadow ring",
    .entries = 1024,
    .entry_size = sizeof(struct kvm_span_shadow_event),
    .consume = kvm_span_shadow_consume,
    .flush = kvm_span_shadow_flush,
    /* frames KVM kept published: peers protect them longer, safely */
    .dropped_warning = "the shadow ring overflowed; some guest frames stay "
                       "write-protected on the peers",
};

/* KVM_EXIT_SPAN_SHADOW, on the vCPU thread without the BQL. */
static int kvm_span_shadow_exit(CPUState *cs, struct kvm_run *run)
{
    const struct kvm_span_shadow_event *e = &run->span_shadow;
    int r;

    switch (e->op) {
    case KVM_SPAN_SHADOW_ADD:
        kvm_span_ring_drain(&shadow_ring);
        r = span_wt_publish(cs, e->gfn);
        break;
    case KVM_SPAN_SHADOW_INV:
        r = span_wt_invalidate(cs, e->gfn == KVM_SPAN_SHADOW_GFN_ALL ?
                               SPAN_WT_GFN_ALL : e->gfn);
        break;
    default:
        error_report("span: KVM_EXIT_SPAN_SHADOW with unknown op %u",
                     e->op);
        return -1;
    }
    trace_kvm_span_shadow_exit(cs->cpu_index, e->op, e->gfn, r);
    /* Never back into the guest without the peers' acknowledgements. */
    return r < 0 ? EXCP_INTERRUPT : 0;
}

static int kvm_span_wt_peer(SpanWtPeerOp op, const uint64_t *gfns,
                            unsigned nr)
{
    static const uint32_t kvm_op[] = {
        [SPAN_WT_PEER_IMPORT] = KVM_SPAN_SHADOW_IMPORT,
        [SPAN_WT_PEER_RELEASE] = KVM_SPAN_SHADOW_RELEASE,
        [SPAN_WT_PEER_INVALIDATE] = KVM_SPAN_SHADOW_INVALIDATE,
        [SPAN_WT_PEER_INVALIDATE_ALL] = KVM_SPAN_SHADOW_INVALIDATE_ALL,
    };
    struct kvm_span_shadow_peer p = {
        .op = kvm_op[op],
        .nr = nr,
        .gfns = (uintptr_t)gfns,
    };
    int r;

    assert(op < ARRAY_SIZE(kvm_op) && nr <= KVM_SPAN_SHADOW_MAX_GFNS);
    r = kvm_vm_ioctl(kvm_state, KVM_SPAN_SHADOW_PEER, &p);
    return r < 0 ? r : 0;
}

/*
 * With shadow paging, turns on KVM's coherence with the peers before any
 * vCPU runs; with nested paging there is nothing to keep coherent.
 */
static bool kvm_span_shadow_setup(Error **errp)
{
    struct kvm_span_shadow_enable en = {
        .entries = shadow_ring.entries,
    };
    int fd;

    if (kvm_check_extension(kvm_state, KVM_CAP_SPAN_SHADOW) <= 0) {
        span_wt_enable(false);
        return true;
    }
    en.eventfd = kvm_span_ring_init(&shadow_ring, errp);
    if (en.eventfd < 0) {
        return false;
    }
    fd = kvm_vm_ioctl(kvm_state, KVM_SPAN_SHADOW_ENABLE, &en);
    if (fd < 0) {
        error_setg_errno(errp, -fd, "-span: KVM_SPAN_SHADOW_ENABLE failed");
        return false;
    }
    if (!kvm_span_ring_start(&shadow_ring, fd, errp)) {
        return false;
    }
    span_wt_enable(true);
    return true;
}

int kvm_span_handle_exit(CPUState *cs, struct kvm_run *run)
{
    if (run->exit_reason == KVM_EXIT_SPAN_SHADOW) {
        return kvm_span_shadow_exit(cs, run);
    }
    kvm_span_forward(&run->span_irq);
    return 0;
}

/*
 * The PC's 0xc0000-0xfffff window (option ROMs, BIOS) is RAM or ROM as the
 * chipset's PAM registers say.  Only the firmware member's chipset sees the
 * guest program them, so the others map that window as the (shared) RAM
 * that the firmware shadowed itself into: APs started there run SeaBIOS's
 * AP code from the same memory as the BSP.
 */
static void kvm_span_map_bios_shadow(void)
{
    static MemoryRegion shadow;
    MachineState *ms = MACHINE(qdev_get_machine());

    if (!ms->ram || memory_region_size(ms->ram) < 1 * MiB) {
        return;
    }
    memory_region_init_alias(&shadow, NULL, "span-bios-shadow", ms->ram,
                             0xc0000, 0x40000);
    memory_region_add_subregion_overlap(get_system_memory(), 0xc0000, &shadow,
                                        10);
}

static bool kvm_span_setup(const uint32_t *remote, int nr, Error **errp)
{
    struct kvm_span_remote r = {
        .nr_ids = nr,
        .ids = (uintptr_t)remote,
    };
    struct kvm_span_ring_create rc = {
        .entries = irq_ring.entries,
    };
    int fd, ret;

    if (kvm_check_extension(kvm_state, KVM_CAP_SPAN) <= 0) {
        error_setg(errp, "-span: this KVM lacks KVM_CAP_SPAN (interrupts "
                   "for vCPUs hosted by other members)");
        return false;
    }
    if (!kvm_irqchip_in_kernel()) {
        error_setg(errp, "-span needs KVM's local APIC "
                   "(-machine kernel-irqchip=split or on)");
        return false;
    }
    rc.eventfd = kvm_span_ring_init(&irq_ring, errp);
    if (rc.eventfd < 0) {
        return false;
    }
    fd = kvm_vm_ioctl(kvm_state, KVM_SPAN_CREATE_RING, &rc);
    if (fd < 0) {
        error_setg_errno(errp, -fd, "-span: KVM_SPAN_CREATE_RING failed");
        return false;
    }
    if (!kvm_span_ring_start(&irq_ring, fd, errp)) {
        return false;
    }

    if (!span_owns_firmware()) {
        kvm_span_map_bios_shadow();
    }
    ret = kvm_vm_ioctl(kvm_state, KVM_SPAN_SET_REMOTE, &r);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "-span: KVM_SPAN_SET_REMOTE failed");
        return false;
    }
    return kvm_span_shadow_setup(errp);
}

static int kvm_span_inject(const struct span_interrupt *w)
{
    struct kvm_span_irq e = {
        .dest_id = w->dest,
        .src_apic_id = w->src_apic,
        .vector = w->vector,
        .delivery_mode = w->delivery,
        .dest_mode = w->dest_mode,
        .shorthand = w->shorthand,
        .trig_mode = w->trigger,
        .level = w->level,
        .source = KVM_SPAN_SRC_IPI,
        .flags = w->x2apic ? KVM_SPAN_IRQ_X2APIC : 0,
    };

    if (w->shorthand == SPAN_SH_SELF) {
        return -EINVAL;
    }
    return kvm_vm_ioctl(kvm_state, KVM_SPAN_INJECT, &e);
}

static uint64_t kvm_span_realtime_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int kvm_span_get_clock(SpanClock *c)
{
    struct kvm_clock_data data = {};
    int ret = kvm_vm_ioctl(kvm_state, KVM_GET_CLOCK, &data);

    if (ret < 0) {
        return ret;
    }
    c->ns = data.clock;
    /* KVM pairs clock and realtime exactly while its master clock runs */
    c->realtime_ns = (data.flags & KVM_CLOCK_REALTIME) ? data.realtime
                                                       : kvm_span_realtime_ns();
    c->stable = data.flags & KVM_CLOCK_TSC_STABLE;
    return 0;
}

/*
 * KVM adds the realtime elapsed since data.realtime itself only while its
 * master clock runs; the elapsed time up to now is added here, so both
 * cases end within the ioctl's own latency of the sender's clock.
 */
static int kvm_span_set_clock(const SpanClock *c)
{
    uint64_t now = kvm_span_realtime_ns();
    struct kvm_clock_data data = {
        .clock = c->ns + (now > c->realtime_ns ? now - c->realtime_ns : 0),
        .realtime = now,
        .flags = KVM_CLOCK_REALTIME,
    };

    return kvm_vm_ioctl(kvm_state, KVM_SET_CLOCK, &data);
}

static int kvm_span_ioeventfd(bool assign, const struct span_ioeventfd *e,
                              int fd)
{
    struct kvm_ioeventfd k = {
        .datamatch = e->data,
        .addr = e->addr,
        .len = e->size,
        .fd = fd,
    };

    if (e->flags & SPAN_IOEVENTFD_F_PIO) {
        k.flags |= KVM_IOEVENTFD_FLAG_PIO;
    }
    if (e->flags & SPAN_IOEVENTFD_F_DATAMATCH) {
        k.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
    }
    if (!assign) {
        k.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
    }
    return kvm_vm_ioctl(kvm_state, KVM_IOEVENTFD, &k);
}

/* Main loop, BQL held: the EOI of a vCPU elsewhere, for our IOAPIC. */
static void kvm_span_eoi(int vector)
{
    ioapic_eoi_broadcast(vector);
}

static int kvm_span_set_remote(const uint32_t *remote, int nr)
{
    struct kvm_span_remote r = {
        .nr_ids = nr,
        .ids = (uintptr_t)remote,
    };
    int ret = kvm_vm_ioctl(kvm_state, KVM_SPAN_SET_REMOTE, &r);

    return ret < 0 ? ret : 0;
}

/*
 * A moving vCPU's state: this header, with its local APIC as KVM keeps it
 * (what migration's "apic" section carries, taken from KVM_GET_LAPIC
 * too), then the vCPU's migration section and KVM_SPAN_VCPU_END.
 */
#define KVM_SPAN_VCPU_MAGIC 0x53505643u     /* "SPVC" */
#define KVM_SPAN_VCPU_END 0x00              /* ends the section */

typedef struct KVMSpanVcpuHeader {
    uint32_t magic;
    uint32_t len;                   /* of the section that follows */
    uint64_t realtime_ns;           /* when the state was read */
    uint64_t apicbase;
    struct kvm_lapic_state lapic;
} KVMSpanVcpuHeader;

static void kvm_span_apic_match(X86CPU *cpu, SpanApicMatch *m)
{
    APICCommonState *apic = APIC_COMMON(cpu->apic_state);

    m->apic_id = cpu->apic_id;
    m->x2apic = apic->apicbase & MSR_IA32_APICBASE_EXTD;
    m->ldr = apic->log_dest;
    m->dfr_model = apic->dest_mode;
}

/*
 * A parked vCPU never enters the guest again, but KVM_RUN still hands out
 * the interrupts it raised before it was parked (up to KVM's queue), then
 * fails with EBUSY.
 */
static bool kvm_span_drain_vcpu(CPUState *cs, Error **errp)
{
    for (int i = 0; i <= 64; i++) {
        int r;

        cs->kvm_run->immediate_exit = 0;
        r = kvm_vcpu_ioctl(cs, KVM_RUN, 0);
        if (r == -EBUSY) {
            return true;
        }
        if (r < 0 || cs->kvm_run->exit_reason != KVM_EXIT_SPAN_IRQ) {
            error_setg(errp, "span: parked vCPU %d: KVM_RUN gave %d (exit "
                       "%u) instead of its interrupts", cs->cpu_index, r,
                       cs->kvm_run->exit_reason);
            return false;
        }
        kvm_span_forward(&cs->kvm_run->span_irq);
    }
    error_setg(errp, "span: parked vCPU %d hands out interrupts without end",
               cs->cpu_index);
    return false;
}

static void kvm_span_drain_ring(void)
{
    if (irq_ring.hdr) {
        kvm_span_ring_drain(&irq_ring);
    }
}

static bool kvm_span_save_vcpu(CPUState *cs, GByteArray *out,
                               SpanApicMatch *m, Error **errp)
{
    X86CPU *cpu = X86_CPU(cs);
    g_autoptr(QIOChannelBuffer) bioc = qio_channel_buffer_new(16 * KiB);
    KVMSpanVcpuHeader h = {
        .magic = KVM_SPAN_VCPU_MAGIC,
        .realtime_ns = kvm_span_realtime_ns(),
    };
    QEMUFile *f;
    int ret;

    if (!cpu->apic_state) {
        error_setg(errp, "vCPU %d has no local APIC", cs->cpu_index);
        return false;
    }
    cpu_synchronize_state(cs);
    h.apicbase = cpu_get_apic_base(cpu->apic_state);
    ret = kvm_vcpu_ioctl(cs, KVM_GET_LAPIC, &h.lapic);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "vCPU %d: KVM_GET_LAPIC failed",
                         cs->cpu_index);
        return false;
    }
    f = qemu_file_new_output(QIO_CHANNEL(bioc));
    ret = vmstate_save_state(f, &vmstate_x86_cpu, cpu, NULL);
    if (!ret) {
        /* the loader peeks past the section for subsections */
        qemu_put_byte(f, KVM_SPAN_VCPU_END);
        ret = qemu_fflush(f);
    }
    if (!ret) {
        h.len = bioc->usage;
        g_byte_array_append(out, (const guint8 *)&h, sizeof(h));
        g_byte_array_append(out, bioc->data, bioc->usage);
        kvm_span_apic_match(cpu, m);
    }
    qemu_fclose(f);
    if (ret) {
        error_setg_errno(errp, -ret, "cannot save the state of vCPU %d",
                         cs->cpu_index);
        return false;
    }
    return true;
}

/*
 * Loads what kvm_span_save_vcpu() wrote on another member into the parked
 * vCPU cs.  The TSC moves on by the realtime the vCPU spent in flight, so
 * that it stays in step with the guest's other vCPUs.
 */
static bool kvm_span_load_vcpu(CPUState *cs, const uint8_t *data, size_t len,
                               SpanApicMatch *m, Error **errp)
{
    X86CPU *cpu = X86_CPU(cs);
    g_autoptr(QIOChannelBuffer) bioc = NULL;
    KVMSpanVcpuHeader h;
    uint64_t now;
    QEMUFile *f;
    int ret;

    if (len < sizeof(h) || !cpu->apic_state) {
        error_setg(errp, "vCPU %d: the state is too short", cs->cpu_index);
        return false;
    }
    memcpy(&h, data, sizeof(h));
    if (h.magic != KVM_SPAN_VCPU_MAGIC || h.len != len - sizeof(h)) {
        error_setg(errp, "vCPU %d: the state is not a span vCPU state",
                   cs->cpu_index);
        return false;
    }
    /*
     * From the reset state, as a migration target loads it: a section
     * leaves out the subsections it does not need (e.g. no exception
     * pending), and what the vCPU last had here must not fill them in.
     */
    cpu_reset(cs);
    bioc = qio_channel_buffer_new(h.len);
    memcpy(bioc->data, data + sizeof(h), h.len);
    bioc->usage = h.len;
    f = qemu_file_new_input(QIO_CHANNEL(bioc));
    ret = vmstate_load_state(f, &vmstate_x86_cpu, cpu,
                             vmstate_x86_cpu.version_id);
    if (!ret && qemu_get_byte(f) != KVM_SPAN_VCPU_END) {
        ret = -EINVAL;
    }
    if (!ret) {
        ret = qemu_file_get_error(f);
    }
    qemu_fclose(f);
    if (ret) {
        error_setg(errp, "vCPU %d: cannot load its state (%s)",
                   cs->cpu_index, strerror(-ret));
        return false;
    }
    /* as migration does: the local APIC first, then the vCPU */
    cpu_set_apic_base(cpu->apic_state, h.apicbase);
    kvm_put_apicbase(cpu, h.apicbase);
    ret = kvm_vcpu_ioctl(cs, KVM_SET_LAPIC, &h.lapic);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "vCPU %d: KVM_SET_LAPIC refused its "
                         "local APIC", cs->cpu_index);
        return false;
    }
    kvm_get_apic_state(cpu->apic_state, &h.lapic);
    now = kvm_span_realtime_ns();
    if (cpu->env.tsc_khz && now > h.realtime_ns) {
        cpu->env.tsc += muldiv64(now - h.realtime_ns, cpu->env.tsc_khz,
                                 1000000);
    }
    cpu_synchronize_post_init(cs);
    kvm_span_apic_match(cpu, m);
    return true;
}

static const SpanAccelOps kvm_span_ops = {
    .setup = kvm_span_setup,
    .inject = kvm_span_inject,
    .get_clock = kvm_span_get_clock,
    .set_clock = kvm_span_set_clock,
    .wt_peer = kvm_span_wt_peer,
    .ioeventfd = kvm_span_ioeventfd,
    .eoi = kvm_span_eoi,
    .set_remote = kvm_span_set_remote,
    .drain_vcpu = kvm_span_drain_vcpu,
    .drain_ring = kvm_span_drain_ring,
    .save_vcpu = kvm_span_save_vcpu,
    .load_vcpu = kvm_span_load_vcpu,
};

static void kvm_span_register(void)
{
    span_register_accel(&kvm_span_ops);
}

type_init(kvm_span_register);
