/*
 * Span members: query-span
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bitmap.h"
#include "qapi/clone-visitor.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-span.h"
#include "qapi/qapi-visit-span.h"
#include "span-internal.h"

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
    info->lost = QAPI_CLONE(SpanLossList, span.lost);
    info->shadow_coherence = span.wt_on;
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
        v->local = span_cpu_is_local(i);
        if (host < SPAN_MAX_MEMBERS) {
            seen[host] = true;
        }
        QAPI_LIST_APPEND(vtail, v);
    }
    seen[span.id] = true;
    for (uint32_t id = 0; id < SPAN_MAX_MEMBERS; id++) {
        seen[id] |= span.member_name[id] != NULL;
    }

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
        mi->name = g_strdup(mi->self ? span.name : span.member_name[id]);
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
