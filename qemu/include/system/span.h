/*
 * Span members: one guest's vCPUs and devices hosted by several QEMUs
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

struct span_interrupt;
struct kvm_run;

/* What the accelerator does for span members (KVM with KVM_CAP_SPAN). */
typedef struct SpanAccelOps {
    /* Declares the APIC IDs hosted elsewhere (after every vCPU exists). */
    bool (*setup)(const uint32_t *remote, int nr, Error **errp);
    /* Delivers an interrupt from another member to local vCPUs. */
    int (*inject)(const struct span_interrupt *irq);
    /* Reads / sets the guest's clock (kvmclock) in ns. */
    int (*get_clock)(uint64_t *clock);
    int (*set_clock)(uint64_t clock);
} SpanAccelOps;

void span_register_accel(const SpanAccelOps *ops);
/* Sends an interrupt raised here to the members hosting its targets. */
void span_send_interrupt(const struct span_interrupt *irq);
/* Counts an error (e.g. an interrupt that cannot be forwarded). */
void span_count_error(void);
/*
 * True if this member forwards its vCPUs' port and MMIO accesses to the
 * member owning the devices (every member but the firmware member).
 */
bool span_forwards_io(void);
/*
 * Forwards count port or MMIO accesses of size bytes at addr (data: size *
 * count bytes, filled in on reads) and waits for their completion.
 */
void span_forward_io(CPUState *cpu, bool pio, uint64_t addr, uint8_t *data,
                     unsigned size, unsigned count, bool is_write);
/* KVM_EXIT_SPAN_IRQ (target/i386/kvm/span.c) */
int kvm_span_handle_exit(CPUState *cs, struct kvm_run *run);

#endif
