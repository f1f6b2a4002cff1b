/*
 * Span members: moving a running vCPU to another member
 *
 * span-move-vcpu on the member hosting a vCPU (the source) moves it to
 * another member (the target), which runs it from then on:
 *
 * 1. The source asks spand to hand the vCPU over to the target (ATTACH
 *    naming the target; the placement does not change yet).
 * 2. It stops its vCPUs, parks all of them in KVM and takes what KVM still
 *    held for the others (so nothing raised before the move is routed by
 *    the new placement), saves the vCPU's state, routes the vCPU to the
 *    target, unparks the others and sends the state to the target
 *    (VCPU_STATE chunks).
 * 3. The target loads the state into its parked copy of the vCPU and
 *    attaches it (ATTACH SELF): spand moves it and sends TOPOLOGY (its
 *    generation g) to everyone.  Every member sends PLACED(g) to every
 *    other after applying a TOPOLOGY: what it sends after that follows the
 *    new placement.
 * 4. Until the source has PLACED(g) from a member (from the target: PLACED
 *    naming the vCPU, step 5), it hands the part of each interrupt from
 *    that member meant for the vCPU on to the target, as a physical
 *    interrupt to the vCPU's APIC ID.
 * 5. The target keeps the vCPU parked until it has PLACED(g) from every
 *    other member, holding meanwhile the parts of interrupts from members
 *    that already follow the new placement (and all from the source).
 *    Then it stops its vCPUs as the source did, unparks the vCPU, tells the
 *    source (PLACED naming the vCPU), delivers what it held and runs it.
 *
 * Messages on one ring arrive in order, so each interrupt reaches the vCPU
 * exactly once: before the move on the source, or through the source's
 * hand-on, or on the target.  (Left open: a device interrupt with a logical
 * or broadcast destination that the device owner's KVM raises within the
 * microseconds between its last drain and the park or unpark.)
 *
 * All state here is guarded by the BQL.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/lockable.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-span.h"
#include "hw/core/cpu.h"
#include "system/cpus.h"
#include "system/runstate.h"
#include "span-internal.h"
#include "trace.h"

/* state bytes per VCPU_STATE message */
#define SPAN_STATE_CHUNK (SPAN_MSG_MAX - sizeof(struct span_msg_hdr) - \
                          sizeof(struct span_vcpu_state) - SPAN_MSG_ALIGN)

/* A vCPU that left this member for another. */
typedef struct SpanOutgoing {
    bool active;
    int cpu;
    uint32_t apic_id;
    uint32_t to;
    uint64_t gen;               /* TOPOLOGY placing it on @to, 0: not yet */
    bool arrived;               /* @to runs it */
    SpanApicMatch match;
    bool answer;                /* spand's MOVE (seq @move_seq) waits */
    uint64_t move_seq;
} SpanOutgoing;

/* A vCPU on its way here. */
typedef struct SpanArriving {
    bool active;
    int cpu;
    uint32_t apic_id;
    uint32_t from;
    GByteArray *state;
    uint32_t total;
    bool loaded;                /* parked here with its state */
    uint64_t gen;               /* TOPOLOGY placing it here, 0: not yet */
    SpanApicMatch match;
    GQueue early;               /* from @from before it is loaded */
    GQueue held;                /* struct span_interrupt, delivered later */
    QEMUBH *finish;
} SpanArriving;

/* An interrupt that came while this member's vCPUs were parked. */
typedef struct SpanHeldIrq {
    uint32_t src;
    struct span_interrupt irq;
} SpanHeldIrq;

static SpanOutgoing out;
static SpanArriving in;
static bool quiescing;          /* every local vCPU is parked */
static GQueue quiesce_held = G_QUEUE_INIT;
/* the highest TOPOLOGY generation each member reported (PLACED) */
static uint64_t placed_gen[SPAN_MAX_MEMBERS];

/*
 * The part of irq meant for the vCPU m describes, as a physical interrupt
 * to its APIC ID in part; false if none is.
 */
static bool span_irq_part(const struct span_interrupt *irq,
                          const SpanApicMatch *m, struct span_interrupt *part)
{
    bool hit;

    switch (irq->shorthand) {
    case SPAN_SH_ALL_INCL:
        hit = true;
        break;
    case SPAN_SH_ALL_EXCL:
        hit = irq->src_apic != m->apic_id;
        break;
    case SPAN_SH_NONE:
        if (irq->dest == (irq->x2apic ? 0xffffffffu : 0xffu)) {
            hit = true;
        } else if (irq->dest_mode == SPAN_DEST_PHYSICAL) {
            hit = irq->dest == m->apic_id;
        } else if (m->x2apic) {
            uint32_t ldr = (m->apic_id >> 4) << 16 | 1u << (m->apic_id & 0xf);

            hit = irq->dest >> 16 == ldr >> 16 && (irq->dest & ldr & 0xffff);
        } else if (m->dfr_model == 0xf) {
            hit = irq->dest & m->ldr;
        } else {
            hit = irq->dest >> 4 == m->ldr >> 4 &&
                  (irq->dest & m->ldr & 0xf);
        }
        break;
    default:
        hit = false;
    }
    if (!hit) {
        return false;
    }
    *part = *irq;
    part->dest = m->apic_id;
    part->dest_mode = SPAN_DEST_PHYSICAL;
    part->shorthand = SPAN_SH_NONE;
    part->x2apic = irq->x2apic || m->apic_id > 0xfe;
    if (part->delivery == SPAN_DM_LOWEST) {
        part->delivery = SPAN_DM_FIXED;
    }
    return true;
}

static bool span_only_for(const struct span_interrupt *irq, uint32_t apic_id)
{
    return irq->shorthand == SPAN_SH_NONE &&
           irq->dest_mode == SPAN_DEST_PHYSICAL && irq->dest == apic_id;
}

/* Every member but this one and skip has reported generation gen. */
static bool span_all_placed(uint64_t gen, uint32_t skip)
{
    uint32_t peers = span_known_peers() & ~span_bit(skip);

    for (uint32_t i = 0; i < SPAN_MAX_MEMBERS; i++) {
        if ((peers & (1u << i)) && placed_gen[i] < gen) {
            return false;
        }
    }
    return true;
}

uint32_t span_move_route_locked(uint32_t apic_id, uint32_t host,
                                uint64_t generation)
{
    if (out.active && apic_id == out.apic_id) {
        if (host == out.to && !out.gen) {
            out.gen = generation;
        }
        return out.to;
    }
    if (in.active && in.loaded && apic_id == in.apic_id) {
        if (host == span.id && !in.gen) {
            in.gen = generation;
        }
        return in.from;
    }
    return host;
}

/* Answers spand's MOVE, if one started the move under way. */
static void span_move_answer(int status)
{
    if (!out.answer) {
        return;
    }
    out.answer = false;
    WITH_QEMU_LOCK_GUARD(&span.lock) {
        if (span_member_ack(span.m, out.move_seq, status, out.gen) < 0) {
            span_fail(SPAN_MEMBER_NONE, "cannot answer spand's MOVE");
        }
    }
}

static void span_move_out_check(void)
{
    if (out.active && out.gen) {
        span_move_answer(0);        /* spand placed it on the target */
    }
    if (out.active && out.gen && out.arrived &&
        span_all_placed(out.gen, out.to)) {
        trace_span_move_out_done(out.cpu, out.to, out.gen);
        out.active = false;
    }
}

static void span_move_in_check(void)
{
    if (in.active && in.loaded && in.gen &&
        span_all_placed(in.gen, in.from)) {
        qemu_bh_schedule(in.finish);
    }
}

bool span_move_intercept(uint32_t src, const struct span_interrupt *irq)
{
    struct span_interrupt part;

    if (out.active && src < SPAN_MAX_MEMBERS &&
        (src == out.to ? !out.arrived
                       : !out.gen || placed_gen[src] < out.gen) &&
        span_irq_part(irq, &out.match, &part)) {
        /* sent by the old placement: the vCPU's part goes after it */
        span_count_each(ipis_sent,
                        span_send_to(span_bit(out.to), SPAN_MSG_INTERRUPT,
                                     &part, sizeof(part)), 1);
        return !span_only_for(irq, out.apic_id);
    }
    if (in.active && !in.loaded && src == in.from) {
        /* its APIC is not known yet: pick its part out once it is */
        g_queue_push_tail(&in.early, g_memdup2(irq, sizeof(*irq)));
        return !span_only_for(irq, in.apic_id);
    }
    if (in.active &&
        (src == in.from || (in.gen && placed_gen[src] >= in.gen)) &&
        span_irq_part(irq, &in.match, &part)) {
        /* by the new placement, for a vCPU not running yet: hold it */
        g_queue_push_tail(&in.held, g_memdup2(&part, sizeof(part)));
        return !span_only_for(irq, in.apic_id);
    }
    return true;
}

bool span_move_hold(uint32_t src, const struct span_interrupt *irq)
{
    SpanHeldIrq *h;

    if (!qatomic_read(&quiescing)) {
        return false;
    }
    h = g_new(SpanHeldIrq, 1);
    h->src = src;
    h->irq = *irq;
    g_queue_push_tail(&quiesce_held, h);
    return true;
}

static void span_drain_work(CPUState *cpu, run_on_cpu_data data)
{
    Error **errp = data.host_ptr;

    if (!*errp) {
        span.ops->drain_vcpu(cpu, errp);
    }
}

/*
 * Stops this member's vCPUs and parks every local one, taking what KVM
 * held for each: what they raised so far goes out by the current
 * placement.  Interrupts for them wait meanwhile (span_move_hold()).
 * span_unquiesce() unparks them by span.local and resumes them;
 * span_release_held() then delivers what waited.
 */
static bool span_quiesce(Error **errp)
{
    g_autofree uint32_t *all = g_new(uint32_t, span.nr_cpus);
    Error *err = NULL;
    CPUState *cpu;
    int r;

    pause_all_vcpus();
    qatomic_set(&quiescing, true);
    for (int i = 0; i < span.nr_cpus; i++) {
        all[i] = span.apic_id[i];
    }
    r = span.ops->set_remote(all, span.nr_cpus);
    if (r < 0) {
        error_setg_errno(errp, -r, "cannot park this member's vCPUs");
        return false;
    }
    CPU_FOREACH(cpu) {
        if (span_cpu_is_local(cpu->cpu_index)) {
            run_on_cpu(cpu, span_drain_work, RUN_ON_CPU_HOST_PTR(&err));
        }
    }
    span.ops->drain_ring();
    if (err) {
        error_propagate(errp, err);
        return false;
    }
    return true;
}

static bool span_unquiesce(Error **errp)
{
    g_autofree uint32_t *remote = g_new(uint32_t, span.nr_cpus);
    int r = span.ops->set_remote(remote, span_remote_ids(remote));

    resume_all_vcpus();
    if (r < 0) {
        error_setg_errno(errp, -r, "cannot unpark this member's vCPUs");
        return false;
    }
    return true;
}

/* After span_unquiesce(), once nothing else must come first. */
static void span_release_held(void)
{
    SpanHeldIrq *h;

    qatomic_set(&quiescing, false);
    while ((h = g_queue_pop_head(&quiesce_held))) {
        if (h->src != span.id) {
            span_deliver(h->src, &h->irq);
        } else if (span.ops->inject(&h->irq) < 0) {
            span_fail(SPAN_MEMBER_NONE, "cannot inject an interrupt");
        }
        g_free(h);
    }
}

typedef struct SpanVcpuWork {
    GByteArray *state;
    SpanApicMatch match;
    Error *err;
} SpanVcpuWork;

static void span_save_work(CPUState *cpu, run_on_cpu_data data)
{
    SpanVcpuWork *w = data.host_ptr;

    span.ops->save_vcpu(cpu, w->state, &w->match, &w->err);
}

static bool span_send_state(uint32_t to, uint32_t apic_id, GByteArray *st)
{
    g_autofree uint8_t *buf = g_malloc0(SPAN_MSG_MAX);
    struct span_vcpu_state *h = (void *)buf;

    for (uint32_t off = 0; off < st->len; off += SPAN_STATE_CHUNK) {
        uint32_t n = MIN(st->len - off, SPAN_STATE_CHUNK);
        size_t size = sizeof(*h) + ROUND_UP(n, SPAN_MSG_ALIGN);

        *h = (struct span_vcpu_state) {
            .apic_id = apic_id,
            .total_len = st->len,
            .offset = off,
            .chunk_len = n,
        };
        memset(buf + sizeof(*h), 0, size - sizeof(*h));
        memcpy(buf + sizeof(*h), st->data + off, n);
        if (!span_send_to(span_bit(to), SPAN_MSG_VCPU_STATE, buf, size)) {
            return false;
        }
    }
    return true;
}

/* The member slot named name, or SPAN_MEMBER_NONE. */
static uint32_t span_member_named(const char *name)
{
    for (uint32_t i = 0; i < SPAN_MAX_MEMBERS; i++) {
        if (span.member_name[i] && !strcmp(span.member_name[i], name) &&
            !(span.gone & (1u << i))) {
            return i;
        }
    }
    return SPAN_MEMBER_NONE;
}

/*
 * Why vCPU cpu_index cannot move to slot to now: false, with errp and
 * *status (-errno, for spand) set.
 */
static bool span_move_check(int64_t cpu_index, uint32_t to, int *status,
                            Error **errp)
{
    *status = -EINVAL;
    if (!span.m) {
        error_setg(errp, "this QEMU is not a span member (no -span option)");
        return false;
    }
    if (!span.ops || !span.ops->save_vcpu) {
        error_setg(errp, "the accelerator cannot move vCPUs");
        return false;
    }
    if (cpu_index < 0 || cpu_index >= span.nr_cpus) {
        error_setg(errp, "vCPU %" PRId64 " does not exist (the guest has "
                   "%d vCPUs)", cpu_index, span.nr_cpus);
        *status = -ENOENT;
        return false;
    }
    if (!span_may_run(errp)) {
        *status = -ENOLINK;
        return false;
    }
    *status = -EAGAIN;
    if (!span.ready || span.resetting || span.stopping) {
        error_setg(errp, "span VM '%s' is starting, resetting or shutting "
                   "down: try again once it runs", span.vm);
        return false;
    }
    if (out.active || in.active) {
        error_setg(errp, "a vCPU move from or to this member is under way");
        *status = -EBUSY;
        return false;
    }
    *status = -EINVAL;
    if (!span_cpu_is_local(cpu_index)) {
        uint32_t host = span_host_of(span.apic_id[cpu_index]);

        error_setg(errp, "vCPU %" PRId64 " is not hosted by this member",
                   cpu_index);
        if (host < SPAN_MAX_MEMBERS && span.member_name[host]) {
            error_append_hint(errp, "Send span-move-vcpu to member '%s', "
                              "which hosts it.\n", span.member_name[host]);
        }
        return false;
    }
    if (to == span.id) {
        error_setg(errp, "vCPU %" PRId64 " already runs on member '%s'",
                   cpu_index, span.name);
        *status = -EALREADY;
        return false;
    }
    if (to >= SPAN_MAX_MEMBERS || !span.member_name[to] ||
        (span.gone & (1u << to))) {
        error_setg(errp, "span VM '%s' has no member in slot %u", span.vm,
                   to);
        *status = -ENOENT;
        return false;
    }
    *status = 0;
    return true;
}

/*
 * Moves vCPU cpu_index, hosted here, to the member in slot to (the
 * protocol at the top of this file, steps 1 and 2).  0 or -errno (errp
 * set).
 */
static int span_move_vcpu(int64_t cpu_index, uint32_t to, Error **errp)
{
    ERRP_GUARD();
    SpanVcpuWork w = { .state = g_byte_array_new() };
    struct span_attach a = { .kind = SPAN_ATTACH_VCPU };
    Error *err = NULL;
    CPUState *cpu;
    int r;

    if (!span_move_check(cpu_index, to, &r, errp)) {
        goto out;
    }
    cpu = qemu_get_cpu(cpu_index);
    a.member = to;
    a.id = span.apic_id[cpu_index];
    r = span_request(SPAN_MSG_ATTACH, &a, sizeof(a));
    if (r < 0) {
        error_setg(errp, "spand refused to hand vCPU %" PRId64 " over to "
                   "member '%s': %s", cpu_index, span.member_name[to],
                   strerror(-r));
        goto out;
    }
    r = -EIO;
    trace_span_move_out(cpu_index, to);
    if (span_quiesce(&err)) {
        run_on_cpu(cpu, span_save_work, RUN_ON_CPU_HOST_PTR(&w));
        err = w.err;
    }
    if (!err) {
        WITH_QEMU_LOCK_GUARD(&span.lock) {
            clear_bit(cpu_index, span.local);
            span_set_host_locked(a.id, to);
        }
        out = (SpanOutgoing) {
            .active = true,
            .cpu = cpu_index,
            .apic_id = a.id,
            .to = to,
            .match = w.match,
        };
    }
    if (!span_unquiesce(err ? NULL : &err)) {
        error_propagate_prepend(errp, err, "vCPU %" PRId64 ": ", cpu_index);
    } else if (err) {
        error_propagate(errp, err);
    } else if (!span_send_state(to, a.id, w.state)) {
        /* the target is gone: losing it loses the vCPU (span-membership) */
        error_setg(errp, "cannot send the state of vCPU %" PRId64 " to "
                   "member '%s'", cpu_index, span.member_name[to]);
    }
    /* after the state: what waited for the vCPU follows it to the target */
    span_release_held();
    if (!*errp) {
        r = 0;
    }
out:
    g_byte_array_unref(w.state);
    return r;
}

void qmp_span_move_vcpu(int64_t cpu_index, const char *member, Error **errp)
{
    uint32_t to = span_member_named(member);

    if (span.m && !strcmp(member, span.name)) {
        to = span.id;
    } else if (span.m && to == SPAN_MEMBER_NONE) {
        error_setg(errp, "span VM '%s' has no member '%s'", span.vm, member);
        error_append_hint(errp, "query-span lists the members.\n");
        return;
    }
    span_move_vcpu(cpu_index, to, errp);
}

/*
 * MOVE (validated), from spand on behalf of spanctl move: move a vCPU
 * hosted here as span-move-vcpu does, and answer spand.
 */
static void span_move_request(const struct span_msg_hdr *h, const void *p)
{
    const struct span_move *mv = p;
    int cpu = span_cpu_index_of(mv->apic_id);
    Error *err = NULL;
    int r = -ENOENT;

    if (h->src != SPAN_MEMBER_SPAND) {
        span_fail(h->src, "MOVE not from spand");
        return;
    }
    if (cpu >= 0) {
        r = span_move_vcpu(cpu, mv->member, &err);
    }
    if (err) {
        warn_reportf_err(err, "span: spanctl move of vCPU %d: ", cpu);
    }
    if (!r) {
        /* answered once spand placed it there (span_move_out_check()) */
        out.answer = true;
        out.move_seq = h->seq;
        return;
    }
    WITH_QEMU_LOCK_GUARD(&span.lock) {
        if (span_member_ack(span.m, h->seq, r, 0) < 0) {
            span_fail(SPAN_MEMBER_NONE, "cannot answer spand's MOVE");
        }
    }
}

static void span_arriving_reset(void)
{
    g_clear_pointer(&in.state, g_byte_array_unref);
    g_queue_clear_full(&in.early, g_free);
    g_queue_clear_full(&in.held, g_free);
    in.active = in.loaded = false;
    in.gen = 0;
}

static void span_load_work(CPUState *cpu, run_on_cpu_data data)
{
    SpanVcpuWork *w = data.host_ptr;

    span.ops->load_vcpu(cpu, w->state->data, w->state->len, &w->match,
                        &w->err);
}

/* The whole state is here: load it into the parked vCPU and take it. */
static void span_move_in_load(void)
{
    SpanVcpuWork w = { .state = in.state };
    struct span_attach a = {
        .kind = SPAN_ATTACH_VCPU,
        .member = SPAN_MEMBER_SELF,
        .id = in.apic_id,
    };
    struct span_interrupt *irq, part;
    uint64_t gen = 0;
    int r;

    run_on_cpu(qemu_get_cpu(in.cpu), span_load_work, RUN_ON_CPU_HOST_PTR(&w));
    if (w.err) {
        error_report_err(w.err);
        span_fail(in.from, "cannot load a vCPU's state");
        span_arriving_reset();
        return;
    }
    in.match = w.match;
    in.loaded = true;
    while ((irq = g_queue_pop_head(&in.early))) {
        if (span_irq_part(irq, &in.match, &part)) {
            g_queue_push_tail(&in.held, g_memdup2(&part, sizeof(part)));
        }
        g_free(irq);
    }
    r = span_request_value(SPAN_MSG_ATTACH, &a, sizeof(a), &gen);
    if (r < 0) {
        error_report("span: spand refused vCPU %d from member %u: %s",
                     in.cpu, in.from, strerror(-r));
        span_arriving_reset();
        return;
    }
    trace_span_move_in_loaded(in.cpu, in.from, gen);
    if (!in.gen) {
        in.gen = gen;
    }
    span_move_in_check();
}

/* Main loop (BH): every member routes by the new placement; run it. */
static void span_move_in_finish(void *opaque)
{
    struct span_placed p = { .arrived = in.apic_id };
    struct span_interrupt *irq;
    Error *err = NULL;

    if (!in.active) {
        return;
    }
    if (span_quiesce(&err)) {
        WITH_QEMU_LOCK_GUARD(&span.lock) {
            set_bit(in.cpu, span.local);
            span_set_host_locked(in.apic_id, span.id);
            span_send_to_locked(span_bit(in.from), SPAN_MSG_PLACED, &p,
                                sizeof(p));
        }
    }
    span_unquiesce(err ? NULL : &err);
    if (err) {
        error_report_err(err);
        span_fail(in.from, "cannot run a vCPU that moved here");
    }
    trace_span_move_in_done(in.cpu, in.from, g_queue_get_length(&in.held));
    while ((irq = g_queue_pop_head(&in.held))) {
        if (span.ops->inject(irq) < 0) {
            span_fail(in.from, "cannot inject an interrupt");
        }
        g_free(irq);
    }
    span_arriving_reset();
    span_release_held();
}

/*
 * VCPU_STATE (validated), main loop: a chunk of the state of a vCPU that
 * the member hosting it moves here.
 */
static void span_vcpu_state(const struct span_msg_hdr *h, const void *p)
{
    const struct span_vcpu_state *s = p;
    int cpu = span_cpu_index_of(s->apic_id);

    if (cpu < 0 || span_cpu_is_local(cpu) ||
        h->src != span_host_of(s->apic_id) || !span.ops ||
        !span.ops->load_vcpu) {
        span_fail(h->src, "vCPU state from a member not hosting it");
        return;
    }
    if (!in.active && !s->offset) {
        if (out.active) {
            span_fail(h->src, "vCPU state while a vCPU leaves");
            return;
        }
        in.active = true;
        in.cpu = cpu;
        in.apic_id = s->apic_id;
        in.from = h->src;
        in.total = s->total_len;
        in.state = g_byte_array_sized_new(s->total_len);
    }
    if (!in.active || in.loaded || in.apic_id != s->apic_id ||
        in.from != h->src || in.total != s->total_len ||
        in.state->len != s->offset) {
        span_fail(h->src, "vCPU state out of order");
        if (in.active && !in.loaded) {
            span_arriving_reset();
        }
        return;
    }
    g_byte_array_append(in.state, (const guint8 *)(s + 1), s->chunk_len);
    if (in.state->len == in.total) {
        span_move_in_load();
    }
}

/* PLACED (validated): what src sends from now on follows a placement. */
static void span_placed(const struct span_msg_hdr *h, const void *p)
{
    const struct span_placed *pl = p;

    if (h->src >= SPAN_MAX_MEMBERS) {
        span_fail(SPAN_MEMBER_NONE, "PLACED from spand");
        return;
    }
    if (pl->arrived != SPAN_APIC_NONE) {
        if (!out.active || h->src != out.to || pl->arrived != out.apic_id) {
            span_fail(h->src, "PLACED for a vCPU that did not move there");
            return;
        }
        out.arrived = true;
    } else {
        placed_gen[h->src] = MAX(placed_gen[h->src], pl->generation);
    }
    span_move_out_check();
    span_move_in_check();
}

static void span_move_topology(Notifier *n, void *data)
{
    span_move_out_check();
    span_move_in_check();
}

/* A member that left reports nothing any more: do not wait for it. */
static void span_move_member(Notifier *n, void *data)
{
    SpanMemberEvent *ev = data;

    if (!ev->joined) {
        if (out.active && ev->slot == out.to && !out.gen) {
            span_move_answer(-ECONNRESET);  /* it left before taking it */
        }
        placed_gen[ev->slot] = 0;
        span_move_out_check();
        span_move_in_check();
    }
}

static Notifier topology_notifier = { .notify = span_move_topology };
static Notifier member_notifier = { .notify = span_move_member };

void span_move_init(void)
{
    in.finish = qemu_bh_new(span_move_in_finish, NULL);
    g_queue_init(&in.early);
    g_queue_init(&in.held);
    span_register_handler(SPAN_MSG_VCPU_STATE, sizeof(struct span_vcpu_state),
                          span_vcpu_state, SPAN_MAIN_LOOP);
    span_register_handler(SPAN_MSG_PLACED, sizeof(struct span_placed),
                          span_placed, SPAN_RX_BQL);
    span_register_handler(SPAN_MSG_MOVE, sizeof(struct span_move),
                          span_move_request, SPAN_MAIN_LOOP);
    notifier_list_add(&span_topology_notifiers, &topology_notifier);
    notifier_list_add(&span_member_notifiers, &member_notifier);
}
