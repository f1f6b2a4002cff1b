/*
 * Span members: stubs for QEMU built without libspan
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "system/span-accel.h"

QemuOptsList qemu_span_opts = {
    .name = "span",
    .head = QTAILQ_HEAD_INITIALIZER(qemu_span_opts.head),
    .desc = { { /* end of list */ } },
};

void span_parse_opts(const char *optarg)
{
    error_report("-span: this QEMU was built without Span support "
                 "(configure --enable-span)");
    exit(1);
}

bool span_requested(void)
{
    return false;
}

void span_init(Error **errp)
{
}

void span_machine_setup(MachineState *ms, Error **errp)
{
}

bool span_memory(int *fd, uint64_t *size, Error **errp)
{
    error_setg(errp, "this QEMU was built without Span support");
    return false;
}

bool span_cpu_is_local(int cpu_index)
{
    return true;
}

bool span_owns_firmware(void)
{
    return true;
}

bool span_may_run(Error **errp)
{
    return true;
}

bool span_forwards_io(void)
{
    return false;
}

void span_forward_io(CPUState *cpu, bool pio, uint64_t addr, uint8_t *data,
                     unsigned size, unsigned count, bool is_write)
{
    g_assert_not_reached();
}

void span_register_accel(const SpanAccelOps *ops)
{
}

void span_send_interrupt(const struct span_interrupt *irq)
{
}

bool span_forward_eoi(int vector)
{
    return false;
}

void span_count_error(void)
{
}
