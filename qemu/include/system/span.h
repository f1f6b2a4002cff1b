/*
 * Span members: one guest's vCPUs and devices hosted by several QEMUs
 *
 * What vl.c, the machine and the memory backend use; the accelerator's
 * side is system/span-accel.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef SYSTEM_SPAN_H
#define SYSTEM_SPAN_H

#include "qemu/option.h"

#define TYPE_MEMORY_BACKEND_SPAN "memory-backend-span"

extern QemuOptsList qemu_span_opts;

/* Parses one -span option (exits on error; prints help and exits 0). */
void span_parse_opts(const char *optarg);
/* True if -span was given. */
bool span_requested(void);
/* After the accelerator is configured: refuse TCG, connect to spand. */
void span_init(Error **errp);
/*
 * After the machine's CPU type and RAM size are known: back guest RAM with
 * the span memory (unless -machine memory-backend= names a backend) and
 * place this member's vCPUs, waiting until every vCPU has a host.
 */
void span_machine_setup(MachineState *ms, Error **errp);
/* The span VM's memory fd (owned by span; dup() it) and size. */
bool span_memory(int *fd, uint64_t *size, Error **errp);
/* True if the vCPU with this index runs here (always true without -span). */
bool span_cpu_is_local(int cpu_index);
/* True if this member owns firmware, boot devices and the serial console. */
bool span_owns_firmware(void);
/*
 * QMP cont: false (and errp set) once a member that hosted vCPUs or
 * devices of the span VM was lost; the guest cannot run without them.
 */
bool span_may_run(Error **errp);

#endif
