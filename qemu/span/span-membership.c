/*
 * Span members: -span, guest RAM, vCPU placement and the topology
 *
 * This member backs guest RAM with the span memory, asks spand to place
 * its vCPUs (and the devices, if it owns the firmware), and waits until
 * every vCPU of the guest has a host.  spand's TOPOLOGY messages then keep
 * the placement (APIC ID -> member slot) current; the other concerns follow
 * it through span_topology_notifiers.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include "qemu/bitmap.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/help_option.h"
#include "qemu/lockable.h"
#include "qemu/option.h"
#include "qapi/error.h"
#include "qapi/qapi-events-span.h"
#include "qom/object_interfaces.h"
#include "hw/boards.h"
#include "system/hostmem.h"
#include "system/system.h"
#include "span-internal.h"

NotifierList span_topology_notifiers =
    NOTIFIER_LIST_INITIALIZER(span_topology_notifiers);
NotifierList span_member_notifiers =
    NOTIFIER_LIST_INITIALIZER(span_member_notifiers);

static Notifier machine_done;

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
            .help = "vCPU indexes hosted here, N or N-M (repeatable), "
                    "or none",
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
    if (!strcmp(value, "none")) {
        span.no_vcpus = true;
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
    if (span.given) {
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
    if (span.no_vcpus && !bitmap_empty(span.want, SPAN_MAX_VCPUS)) {
        error_report("-span: vcpus=none and vcpus=N-M contradict each other");
        exit(1);
    }
    if (qemu_opt_get(opts, "firmware")) {
        span.firmware = qemu_opt_get_bool(opts, "firmware", false);
    }
    span.wait = qemu_opt_get_number(opts, "wait", SPAN_WAIT_DEFAULT);
    span.given = true;
}

bool span_requested(void)
{
    return span.given;
}

bool span_owns_firmware(void)
{
    return !span.given || span.firmware > 0;
}

bool span_forwards_io(void)
{
    return span.given && span.firmware == 0;
}

bool span_cpu_is_local(int cpu_index)
{
    return !span.given || (span.local && cpu_index >= 0 &&
                           cpu_index < span.nr_cpus &&
                           test_bit(cpu_index, span.local));
}

int span_cpu_index_of(uint32_t apic_id)
{
    for (int i = 0; i < span.nr_cpus; i++) {
        if (span.apic_id[i] == apic_id) {
            return i;
        }
    }
    return -1;
}

int span_remote_ids(uint32_t *ids)
{
    int nr = 0;

    for (int i = 0; i < span.nr_cpus; i++) {
        if (!test_bit(i, span.local)) {
            ids[nr++] = span.apic_id[i];
        }
    }
    return nr;
}

uint32_t span_known_peers(void)
{
    uint32_t set = 0;

    for (uint32_t i = 0; i < SPAN_MAX_MEMBERS; i++) {
        if (span.member_name[i] && i != span.id) {
            set |= 1u << i;
        }
    }
    return set & ~span.gone;
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

uint32_t span_host_of(uint32_t apic_id)
{
    gpointer v = g_hash_table_lookup(span.placement,
                                     GUINT_TO_POINTER(apic_id));

    return v ? GPOINTER_TO_UINT(v) - 1 : SPAN_MEMBER_NONE;
}

uint32_t span_peers_locked(void)
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
    return set & ~span.gone;
}

uint32_t span_peers(void)
{
    QEMU_LOCK_GUARD(&span.lock);
    return span_peers_locked();
}

void span_set_host_locked(uint32_t apic_id, uint32_t slot)
{
    g_hash_table_insert(span.placement, GUINT_TO_POINTER(apic_id),
                        GUINT_TO_POINTER(slot + 1));
}

/* SPAN_VCPU_MOVED for each vCPU spand placed elsewhere than before. */
static void span_report_moves(const struct span_topo_entry *e, uint32_t nr)
{
    for (uint32_t i = 0; i < nr; i++) {
        int cpu = span_cpu_index_of(e[i].id);
        uint32_t from;

        if (cpu < 0) {
            continue;
        }
        from = span.spand_host[cpu];
        span.spand_host[cpu] = e[i].member;
        if (from < SPAN_MAX_MEMBERS && from != e[i].member) {
            qapi_event_send_span_vcpu_moved(cpu, e[i].id, from, e[i].member);
        }
    }
}

/*
 * TOPOLOGY from spand (validated): the placement of vCPUs and devices.  A
 * vCPU moving from or to this member keeps the route the move gives it
 * (span_move_route_locked()).  The peers then hear that whatever this
 * member sends from now on follows this placement (PLACED).
 */
static void span_topology(const struct span_msg_hdr *h, const void *p)
{
    const struct span_topology *t = p;
    const struct span_topo_entry *e = (const void *)(t + 1);
    struct span_placed placed = {
        .generation = t->generation,
        .arrived = SPAN_APIC_NONE,
    };

    WITH_QEMU_LOCK_GUARD(&span.lock) {
        g_hash_table_remove_all(span.placement);
        for (uint32_t i = 0; i < t->nr_vcpus; i++) {
            span_set_host_locked(e[i].id,
                                 span_move_route_locked(e[i].id, e[i].member,
                                                        t->generation));
        }
        if (t->generation) {
            span_send_to_locked(span_known_peers(), SPAN_MSG_PLACED,
                                &placed, sizeof(placed));
        }
    }
    if (span.spand_host) {
        span_report_moves(e, t->nr_vcpus);
    }
    span.dev_owner = SPAN_MEMBER_NONE;
    for (uint32_t i = 0; i < t->nr_devices; i++) {
        if (e[t->nr_vcpus + i].id == SPAN_DEVICES_ID) {
            span.dev_owner = e[t->nr_vcpus + i].member;
        }
    }
    span.generation = t->generation;
    notifier_list_notify(&span_topology_notifiers, NULL);
}

/* What the member in slot hosted, by the placement still in force. */
static SpanLoss *span_loss_new(uint32_t slot, const char *name,
                               uint16_t reason)
{
    SpanLoss *l = g_new0(SpanLoss, 1);
    uint32List **vtail = &l->vcpus;

    l->member = slot;
    l->name = g_strdup(name);
    l->reason = reason == SPAN_LEFT_CLOSED ? SPAN_LEFT_REASON_CLOSED
                                           : SPAN_LEFT_REASON_CUT_OFF;
    for (int i = 0; i < span.nr_cpus; i++) {
        if (span_host_of(span.apic_id[i]) == slot) {
            QAPI_LIST_APPEND(vtail, span.apic_id[i]);
        }
    }
    if (span.dev_owner == slot) {
        QAPI_LIST_PREPEND(l->devices, SPAN_DEVICES_ID);
    }
    return l;
}

/*
 * MEMBER from spand (validated): a member joined or left.  A member that
 * leaves while it hosts vCPUs or devices takes their state with it: the
 * guest pauses here, and query-span remembers the loss.
 */
static void span_member(const struct span_msg_hdr *h, const void *p)
{
    const struct span_member_event *e = p;
    SpanMemberEvent ev = {
        .slot = e->member,
        .joined = e->event == SPAN_MEMBER_JOINED,
    };
    g_autofree char *name = g_strndup(e->name, sizeof(e->name));
    SpanLossList **tail;
    SpanLoss *loss;

    if (h->src != SPAN_MEMBER_SPAND || e->member == span.id) {
        span_fail(SPAN_MEMBER_NONE, "membership news not from spand, "
                  "or about this member");
        return;
    }
    WITH_QEMU_LOCK_GUARD(&span.lock) {
        if (ev.joined) {
            span.gone &= ~(1u << e->member);
        } else {
            span.gone |= 1u << e->member;
        }
    }
    if (ev.joined) {
        g_free(span.member_name[e->member]);
        span.member_name[e->member] = g_steal_pointer(&name);
        notifier_list_notify(&span_member_notifiers, &ev);
        qapi_event_send_span_member_joined(e->member,
                                           span.member_name[e->member]);
        return;
    }
    g_clear_pointer(&span.member_name[e->member], g_free);
    loss = span_loss_new(e->member, name, e->reason);
    notifier_list_notify(&span_member_notifiers, &ev);
    qapi_event_send_span_member_left(loss);
    if (!loss->vcpus && !loss->devices) {
        qapi_free_SpanLoss(loss);
        return;
    }
    warn_report("span: member '%s' (slot %u) left span VM '%s' while it "
                "hosted %s%s: the guest is paused; its memory is intact "
                "(dump-guest-memory saves it)", name, e->member, span.vm,
                loss->vcpus ? "vCPUs" : "",
                !loss->devices ? "" : loss->vcpus ? " and devices"
                                                  : "devices");
    tail = &span.lost;          /* in the order they were lost */
    while (*tail) {
        tail = &(*tail)->next;
    }
    QAPI_LIST_APPEND(tail, loss);
    span_pause_lost();
}

bool span_may_run(Error **errp)
{
    if (!span.lost) {
        return true;
    }
    error_setg(errp, "span VM '%s' lost member '%s' with the vCPUs or "
               "devices it hosted: the guest cannot continue", span.vm,
               span.lost->value->name);
    error_append_hint(errp, "query-span lists what was lost; "
                      "dump-guest-memory saves the guest's memory.\n");
    return false;
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

/*
 * Every vCPU exists now: declare the remote ones (placeholders here), then
 * let the receive thread read the channel.
 */
static void span_machine_done(Notifier *n, void *data)
{
    g_autofree uint32_t *remote = g_new(uint32_t, span.nr_cpus);
    Error *err = NULL;
    int nr = span_remote_ids(remote);

    if (nr && !span.ops) {
        error_report("-span: the accelerator cannot host part of the "
                     "guest's vCPUs");
        exit(1);
    }
    if (nr && !span.ops->setup(remote, nr, &err)) {
        error_report_err(err);
        exit(1);
    }
    span_channel_start();
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

/* Asks spand for a vCPU (APIC ID) or the devices (SPAN_DEVICES_ID). */
static bool span_claim(uint32_t kind, uint32_t id, int cpu_index,
                        Error **errp)
{
    struct span_attach a = {
        .kind = kind,
        .member = SPAN_MEMBER_SELF,
        .id = id,
    };
    int r = span_request(SPAN_MSG_ATTACH, &a, sizeof(a));

    if (r == -EBUSY) {
        span_drain();
        if (kind == SPAN_ATTACH_VCPU) {
            error_setg(errp, "-span: vCPU %d (APIC ID %u) is already hosted "
                       "by member %u of span VM '%s'", cpu_index, id,
                       span_host_of(id), span.vm);
            error_append_hint(errp, "Each vCPU must be in exactly one "
                              "member's vcpus= set.\n");
        } else {
            error_setg(errp, "-span: member %u of span VM '%s' already owns "
                       "the firmware and devices", span.dev_owner, span.vm);
            error_append_hint(errp, "Give firmware=on to one member only.\n");
        }
        return false;
    }
    if (r < 0 && r != -EEXIST) {
        if (kind == SPAN_ATTACH_VCPU) {
            error_setg(errp, "-span: cannot place vCPU %d (APIC ID %u) "
                       "here: %s", cpu_index, id, strerror(-r));
        } else {
            error_setg(errp, "-span: cannot take the devices: %s",
                       strerror(-r));
        }
        return false;
    }
    return true;
}

void span_machine_setup(MachineState *ms, Error **errp)
{
    ERRP_GUARD();
    MachineClass *mc = MACHINE_GET_CLASS(ms);
    const CPUArchIdList *ids;
    SpanRunEvent placed = SPAN_RUN_PLACED;
    int last;

    if (!mc->possible_cpu_arch_ids) {
        error_setg(errp, "-span: machine type %s is not supported",
                   mc->name);
        return;
    }
    ids = mc->possible_cpu_arch_ids(ms);
    span.nr_cpus = ids->len;
    span.apic_id = g_new(uint32_t, ids->len);
    span.spand_host = g_new(uint32_t, ids->len);
    for (int i = 0; i < ids->len; i++) {
        span.apic_id[i] = ids->cpus[i].arch_id;
        span.spand_host[i] = SPAN_MEMBER_NONE;
    }

    last = find_last_bit(span.want, SPAN_MAX_VCPUS);
    if (last >= SPAN_MAX_VCPUS && !span.no_vcpus) {
        error_setg(errp, "-span: vcpus= is missing: name the vCPUs this "
                   "member hosts (e.g. vcpus=0-1), or vcpus=none");
        return;
    }
    if (last < SPAN_MAX_VCPUS && last >= span.nr_cpus) {
        error_setg(errp, "-span: vCPU %d is out of range: the guest has %d "
                   "vCPUs (-smp)", last, span.nr_cpus);
        return;
    }
    if (span.firmware < 0) {
        span.firmware = test_bit(0, span.want);
    }
    span.local = bitmap_new(span.nr_cpus);
    bitmap_copy(span.local, span.want, span.nr_cpus);
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
        if (test_bit(i, span.want) &&
            !span_claim(SPAN_ATTACH_VCPU, span.apic_id[i], i, errp)) {
            return;
        }
    }
    if (span.firmware &&
        !span_claim(SPAN_ATTACH_DEVICE, SPAN_DEVICES_ID, -1, errp)) {
        return;
    }
    if (!span_wait_placement(errp)) {
        return;
    }
    notifier_list_notify(&span_run_notifiers, &placed);
    machine_done.notify = span_machine_done;
    qemu_add_machine_init_done_notifier(&machine_done);
}

void span_membership_init(void)
{
    span.placement = g_hash_table_new(NULL, NULL);
    span_register_handler(SPAN_MSG_TOPOLOGY, sizeof(struct span_topology),
                          span_topology, SPAN_MAIN_LOOP);
    span_register_handler(SPAN_MSG_MEMBER, sizeof(struct span_member_event),
                          span_member, SPAN_RX_BQL);
}
