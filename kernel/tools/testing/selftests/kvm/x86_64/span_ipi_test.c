// SPDX-License-Identifier: GPL-2.0-only
/*
 * span_ipi_test: interrupts for APIC IDs hosted by another hypervisor.
 *
 * Outbound: a guest with two local vCPUs (APIC IDs 0 and 1) and remote APIC
 * IDs 2, 3 and 300 writes its ICR (xAPIC MMIO, then x2APIC MSR, which takes
 * KVM's exit fastpath on AMD) with every delivery mode, destination mode and
 * shorthand.  Each interrupt for a remote APIC ID must leave through exactly
 * one KVM_EXIT_SPAN_IRQ with the ICR's fields before the guest's next
 * instruction; local destinations must see the interrupt in their IRR and
 * never leave.  The remote set is changed while the guest runs.
 *
 * PV IPIs: one KVM_HC_SEND_IPI hypercall to local APIC ID 1 and remote IDs
 * 2..12 delivers locally, leaves through eight exits (the vCPU's queue) and
 * three span ring entries, each remote ID exactly once.
 *
 * PV kick: KVM_HC_KICK_CPU for a remote APIC ID leaves as a vCPU's
 * interrupt (KVM_SPAN_SRC_IPI), not a device's.
 *
 * Inbound: KVM_SPAN_INJECT delivers fixed, lowest-priority, NMI, PV-kick,
 * logical, broadcast and shorthand interrupts to a running local vCPU, whose
 * handlers count them.
 */
#include <sys/mman.h>

#include "span_util.h"
#include "test_util.h"

#define RECV_VEC_BASE	0x60

struct ipi_case {
	uint32_t icr;		/* ICR low */
	uint32_t dest;		/* destination field (8 or 32 bits) */
	bool leaves;		/* expect KVM_EXIT_SPAN_IRQ */
	uint8_t local_mask;	/* local vCPUs whose IRR gets the vector */
};

#define MAX_CASES	32
static struct ipi_case cases[MAX_CASES];
static int nr_cases;
static bool use_x2apic;

static void sender_code(void)
{
	int i;

	if (use_x2apic)
		x2apic_enable();
	else
		xapic_enable();

	for (i = 0; i < nr_cases; i++) {
		if (use_x2apic) {
			x2apic_write_reg(APIC_ICR,
					 (uint64_t)cases[i].dest << 32 |
					 cases[i].icr);
		} else {
			xapic_write_reg(APIC_ICR2, cases[i].dest << 24);
			xapic_write_reg(APIC_ICR, cases[i].icr);
		}
		GUEST_SYNC(i);
	}
	GUEST_DONE();
}

static void add(uint32_t icr, uint32_t dest, bool leaves, uint8_t local_mask)
{
	TEST_ASSERT(nr_cases < MAX_CASES, "too many cases");
	cases[nr_cases++] = (struct ipi_case){ icr, dest, leaves, local_mask };
}

/* Vector of case @i for fixed and lowest-priority interrupts. */
#define V(i)	(0x40 + (i))

static int change_remote_after;

static void build_cases(bool x2apic)
{
	uint32_t bcast = x2apic ? 0xffffffff : 0xff;
	int n;

	nr_cases = 0;
	n = 0;
	add(V(n++) | APIC_DM_FIXED, 2, true, 0);
	add(V(n++) | APIC_DM_LOWEST, 3, true, 0);
	add(APIC_DM_SMI, 2, true, 0), n++;
	add(APIC_DM_NMI, 3, true, 0), n++;
	add(APIC_DM_INIT | APIC_INT_LEVELTRIG | APIC_INT_ASSERT, 2, true, 0), n++;
	add(APIC_DM_INIT | APIC_INT_LEVELTRIG, 2, true, 0), n++;
	add(0x9a | APIC_DM_STARTUP, 2, true, 0), n++;
	add(V(n++) | APIC_DM_FIXED, 1, false, 0x2);	/* local physical */
	add(V(n++) | APIC_DEST_SELF, 0, false, 0x1);	/* self never leaves */
	add(V(n++) | APIC_DEST_ALLINC, 0, true, 0x3);
	add(V(n++) | APIC_DEST_ALLBUT, 0, true, 0x2);
	add(V(n++), bcast, true, 0x3);			/* physical broadcast */
	add(V(n++) | APIC_DEST_LOGICAL, 0x0c, true, 0);	/* remote LDRs? */
	add(V(n++) | APIC_DEST_LOGICAL, 0x02, true, 0x2);	/* + local one */
	/* Lowest priority: a local match wins and nothing leaves ... */
	add(V(n++) | APIC_DM_LOWEST | APIC_DEST_LOGICAL, 0x02, false, 0x2);
	/* ... and without a local match it leaves once. */
	add(V(n++) | APIC_DM_LOWEST | APIC_DEST_LOGICAL, 0x80, true, 0);
	add(V(n++), 7, false, 0);			/* unknown: dropped */
	/* The host now makes APIC ID 2 unknown (the vCPU left). */
	change_remote_after = n - 1;
	add(V(n++), 2, false, 0);
	add(V(n++), 3, true, 0);
	if (x2apic)
		add(V(n++) | APIC_DM_NMI, 300, true, 0);
}

static void check_exit(struct kvm_vcpu *vcpu, struct ipi_case *c)
{
	struct kvm_span_irq *e = &vcpu->run->span_irq;

	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_SPAN_IRQ);
	TEST_ASSERT(e->dest_id == c->dest && e->src_apic_id == 0 &&
		    e->vector == (c->icr & 0xff) &&
		    e->delivery_mode == ((c->icr >> 8) & 7) &&
		    e->dest_mode == ((c->icr >> 11) & 1) &&
		    e->level == ((c->icr >> 14) & 1) &&
		    e->trig_mode == ((c->icr >> 15) & 1) &&
		    e->shorthand == ((c->icr >> 18) & 3) &&
		    e->source == KVM_SPAN_SRC_IPI &&
		    e->flags == (use_x2apic ? KVM_SPAN_IRQ_X2APIC : 0) &&
		    !e->reserved[0] && !e->reserved[1],
		    "bad exit for icr %#x dest %#x: dest %#x src %#x vec %#x dm %u destmode %u level %u trig %u sh %u source %u flags %#x",
		    c->icr, c->dest, e->dest_id, e->src_apic_id, e->vector,
		    e->delivery_mode, e->dest_mode, e->level, e->trig_mode,
		    e->shorthand, e->source, e->flags);
}

static void test_outbound(bool x2apic)
{
	static const uint32_t remote[] = { 2, 3, 300 };
	static const uint32_t remote2[] = { 3, 300 };
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	struct ucall uc;
	int i, v, exits = 0;

	build_cases(x2apic);
	use_x2apic = x2apic;
	vm = vm_create_with_vcpus(2, sender_code, vcpus);
	if (!x2apic)
		virt_pg_map(vm, APIC_DEFAULT_GPA, APIC_DEFAULT_GPA);
	sync_global_to_guest(vm, cases);
	sync_global_to_guest(vm, nr_cases);
	sync_global_to_guest(vm, use_x2apic);
	span_host_apic_setup(vcpus[1], x2apic, 1);
	span_set_remote(vm, remote, ARRAY_SIZE(remote));

	for (i = 0; i < nr_cases; i++) {
		vcpu_run(vcpus[0]);
		if (cases[i].leaves) {
			check_exit(vcpus[0], &cases[i]);
			exits++;
			vcpu_run(vcpus[0]);
		}
		TEST_ASSERT(get_ucall(vcpus[0], &uc) == UCALL_SYNC &&
			    uc.args[1] == i,
			    "case %d (icr %#x dest %#x): wanted sync, got exit %s ucall %lu",
			    i, cases[i].icr, cases[i].dest,
			    span_exit_str(vcpus[0]), uc.cmd);
		if (i == change_remote_after)
			span_set_remote(vm, remote2, ARRAY_SIZE(remote2));
	}
	vcpu_run(vcpus[0]);
	TEST_ASSERT(get_ucall(vcpus[0], &uc) == UCALL_DONE, "wanted done");

	for (i = 0; i < nr_cases; i++) {
		uint32_t dm = cases[i].icr & APIC_DM_FIXED_MASK;

		if (dm != APIC_DM_FIXED && dm != APIC_DM_LOWEST)
			continue;
		for (v = 0; v < 2; v++)
			TEST_ASSERT(apic_irr_test(vcpus[v], cases[i].icr & 0xff) ==
				    !!(cases[i].local_mask & (1 << v)),
				    "case %d (icr %#x dest %#x): vCPU %d IRR wrong",
				    i, cases[i].icr, cases[i].dest, v);
	}
	pr_info("%s: %d interrupts left, each exactly once; local IRRs right\n",
		x2apic ? "x2APIC" : "xAPIC", exits);
	kvm_vm_free(vm);
}

static void pv_sender_code(void)
{
	uint64_t r;

	x2apic_enable();
	r = kvm_hypercall(KVM_HC_SEND_IPI, 0x1ffe, 0, 0, APIC_DM_FIXED | 0x47);
	GUEST_SYNC(r);
	GUEST_DONE();
}

static void test_pv_ipi(void)
{
	uint32_t remote[11], i, n = 0;
	struct kvm_span_ring_create c = { .entries = 16, .eventfd = -1 };
	struct kvm_span_ring_hdr *hdr;
	struct kvm_span_irq *e;
	struct kvm_vcpu *vcpus[2];
	struct kvm_vm *vm;
	struct ucall uc;
	int ring;

	for (i = 0; i < 11; i++)
		remote[i] = 2 + i;
	vm = vm_create_with_vcpus(2, pv_sender_code, vcpus);
	span_host_apic_setup(vcpus[1], true, 1);
	span_set_remote(vm, remote, 11);
	ring = __vm_ioctl(vm, KVM_SPAN_CREATE_RING, &c);
	TEST_ASSERT(ring >= 0, "KVM_SPAN_CREATE_RING");
	hdr = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE, MAP_SHARED,
		   ring, 0);
	TEST_ASSERT(hdr != MAP_FAILED, "mmap");

	for (;;) {
		vcpu_run(vcpus[0]);
		if (vcpus[0]->run->exit_reason != KVM_EXIT_SPAN_IRQ)
			break;
		e = &vcpus[0]->run->span_irq;
		TEST_ASSERT(e->dest_id == 2 + n && e->vector == 0x47 &&
			    e->source == KVM_SPAN_SRC_PV_IPI &&
			    e->src_apic_id == 0 && !e->dest_mode &&
			    e->delivery_mode == KVM_SPAN_DM_FIXED,
			    "PV IPI exit %u: dest %u vector %#x source %u",
			    n, e->dest_id, e->vector, e->source);
		n++;
	}
	TEST_ASSERT(get_ucall(vcpus[0], &uc) == UCALL_SYNC && uc.args[1] == 1,
		    "hypercall: %s, returned %lu", span_exit_str(vcpus[0]),
		    uc.args[1]);
	/* The vCPU's queue holds eight; the rest went to the ring. */
	TEST_ASSERT(n == 8 && READ_ONCE(hdr->head) == 3,
		    "%u exits, %u ring entries", n, READ_ONCE(hdr->head));
	e = (void *)hdr + KVM_SPAN_RING_OFFSET;
	for (i = 0; i < 3; i++)
		TEST_ASSERT(e[i].dest_id == 10 + i &&
			    e[i].source == KVM_SPAN_SRC_PV_IPI,
			    "ring entry %u: dest %u", i, e[i].dest_id);
	TEST_ASSERT(apic_irr_test(vcpus[1], 0x47), "local PV IPI missing");
	pr_info("PV IPI: 1 local, 8 exits, 3 ring entries\n");
	munmap(hdr, getpagesize());
	close(ring);
	kvm_vm_free(vm);
}

static void kick_code(void)
{
	kvm_hypercall(KVM_HC_KICK_CPU, 0, 2, 0, 0);
	GUEST_DONE();
}

/*
 * KVM_HC_KICK_CPU (a PV spinlock's wake-up) for a remote APIC ID leaves as
 * a vCPU's interrupt: it has no source APIC, yet it must not look like a
 * device interrupt (user space forwards those only from the devices' owner).
 */
static void test_pv_kick(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_span_irq *e;
	struct kvm_vm *vm;
	uint32_t remote = 2;
	struct ucall uc;

	vm = vm_create_with_one_vcpu(&vcpu, kick_code);
	span_set_remote(vm, &remote, 1);
	vcpu_run(vcpu);
	TEST_ASSERT(vcpu->run->exit_reason == KVM_EXIT_SPAN_IRQ,
		    "PV kick: %s", span_exit_str(vcpu));
	e = &vcpu->run->span_irq;
	TEST_ASSERT(e->dest_id == 2 && e->delivery_mode == KVM_SPAN_DM_REMRD &&
		    e->source == KVM_SPAN_SRC_IPI &&
		    e->src_apic_id == KVM_SPAN_APIC_NONE && !e->dest_mode &&
		    !e->shorthand,
		    "PV kick exit: dest %u mode %u source %u src %#x",
		    e->dest_id, e->delivery_mode, e->source, e->src_apic_id);
	vcpu_run(vcpu);
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_DONE, "after the kick: %s",
		    span_exit_str(vcpu));
	pr_info("PV kick: one exit, source IPI\n");
	kvm_vm_free(vm);
}

static uint32_t recv_count[256];
static uint32_t nmi_count;

static void recv_handler(struct ex_regs *regs)
{
	WRITE_ONCE(recv_count[regs->vector], recv_count[regs->vector] + 1);
	if (use_x2apic)
		x2apic_write_reg(APIC_EOI, 0);
	else
		xapic_write_reg(APIC_EOI, 0);
}

static void nmi_handler(struct ex_regs *regs)
{
	WRITE_ONCE(nmi_count, nmi_count + 1);
}

static void receiver_code(void)
{
	if (use_x2apic) {
		x2apic_enable();
	} else {
		xapic_enable();
		xapic_write_reg(APIC_DFR, 0xffffffff);
		xapic_write_reg(APIC_LDR, 1u << 25);	/* logical bit 1 */
	}
	for (;;) {
		GUEST_SYNC(0);
		asm volatile("sti; nop; nop; nop; nop; cli" ::: "memory");
	}
}

static void run_receiver(struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	vcpu_run(vcpu);
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_SYNC,
		    "receiver: wanted sync, got %s", span_exit_str(vcpu));
}

static void test_inbound(bool x2apic)
{
	static const uint32_t remote[] = { 2 };
	struct kvm_vcpu *vcpus[2], *rx;
	uint32_t *counts, *nmis;
	struct kvm_span_irq irq;
	struct kvm_vm *vm;
	int i, n;

	use_x2apic = x2apic;
	vm = vm_create_with_vcpus(2, receiver_code, vcpus);
	rx = vcpus[1];
	if (!x2apic)
		virt_pg_map(vm, APIC_DEFAULT_GPA, APIC_DEFAULT_GPA);
	for (i = RECV_VEC_BASE; i < RECV_VEC_BASE + 8; i++)
		vm_install_exception_handler(vm, i, recv_handler);
	vm_install_exception_handler(vm, NMI_VECTOR, nmi_handler);
	sync_global_to_guest(vm, use_x2apic);
	span_set_remote(vm, remote, 1);
	run_receiver(rx);	/* APIC set up, waiting in its loop */

	/* Fixed, physical. */
	irq = span_irq(1, KVM_SPAN_DM_FIXED, RECV_VEC_BASE, x2apic);
	TEST_ASSERT_EQ(span_inject(vm, &irq), 1);
	/* Lowest priority, physical. */
	irq = span_irq(1, KVM_SPAN_DM_LOWEST, RECV_VEC_BASE + 1, x2apic);
	TEST_ASSERT_EQ(span_inject(vm, &irq), 1);
	/* Logical: vCPU 1's LDR is bit 1 (flat) or cluster 0 bit 1 (x2APIC). */
	irq = span_irq(0x2, KVM_SPAN_DM_FIXED, RECV_VEC_BASE + 2, x2apic);
	irq.dest_mode = KVM_SPAN_DEST_LOGICAL;
	TEST_ASSERT_EQ(span_inject(vm, &irq), 1);
	/* Physical broadcast: every local vCPU with an enabled APIC. */
	irq = span_irq(x2apic ? 0xffffffff : 0xff, KVM_SPAN_DM_FIXED,
		       RECV_VEC_BASE + 3, x2apic);
	TEST_ASSERT(span_inject(vm, &irq) >= 1, "broadcast not accepted");
	/* "All but self" from elsewhere: every local vCPU. */
	irq = span_irq(0, KVM_SPAN_DM_FIXED, RECV_VEC_BASE + 4, x2apic);
	irq.shorthand = KVM_SPAN_SH_ALL_BUT_SELF;
	TEST_ASSERT(span_inject(vm, &irq) >= 1, "all-but-self not accepted");
	/* NMI and PV kick. */
	irq = span_irq(1, KVM_SPAN_DM_NMI, 0, x2apic);
	TEST_ASSERT_EQ(span_inject(vm, &irq), 1);
	irq = span_irq(1, KVM_SPAN_DM_REMRD, 0, x2apic);
	TEST_ASSERT_EQ(span_inject(vm, &irq), 1);

	/* Let the receiver take them (rounds of its sti window). */
	counts = addr_gva2hva(vm, (vm_vaddr_t)&recv_count);
	nmis = addr_gva2hva(vm, (vm_vaddr_t)&nmi_count);
	for (n = 0; n < 50; n++) {
		run_receiver(rx);
		for (i = RECV_VEC_BASE; i < RECV_VEC_BASE + 5; i++)
			if (!READ_ONCE(counts[i]))
				break;
		if (i == RECV_VEC_BASE + 5 && READ_ONCE(*nmis))
			break;
	}
	run_receiver(rx);
	for (i = RECV_VEC_BASE; i < RECV_VEC_BASE + 5; i++)
		TEST_ASSERT(counts[i] == 1, "vector %#x seen %u times", i,
			    counts[i]);
	TEST_ASSERT(*nmis == 1, "NMI seen %u times", *nmis);
	pr_info("%s: fixed, lowest, logical, broadcast, all-but-self, NMI and kick injected and received once\n",
		x2apic ? "x2APIC" : "xAPIC");
	kvm_vm_free(vm);
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_SPAN));

	test_outbound(false);
	test_outbound(true);
	test_pv_ipi();
	test_pv_kick();
	test_inbound(false);
	test_inbound(true);
	return 0;
}
