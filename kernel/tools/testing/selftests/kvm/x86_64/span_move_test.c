// SPDX-License-Identifier: GPL-2.0-only
/*
 * span_move_test: a vCPU moves to another hypervisor and back at run time.
 *
 * vCPU 1 runs (spinning) in its own thread; the test declares APIC ID 1
 * remote, which must stop it (KVM_RUN fails with EBUSY) and park it: IPIs
 * from vCPU 0 to it, broadcasts and logical lowest-priority interrupts then
 * leave through KVM_EXIT_SPAN_IRQ and never reach the parked copy's IRR, and
 * KVM_SPAN_INJECT refuses it.  Taking APIC ID 1 out of the remote set brings
 * it back: it is a local destination again and runs to completion.
 */
#include <pthread.h>

#include "span_util.h"
#include "test_util.h"

struct step {
	uint32_t icr;
	uint32_t dest;
};

static struct step steps[8];
static int nr_steps;
static bool stop;

static void sender_code(void)
{
	int i;

	x2apic_enable();
	for (i = 0; i < nr_steps; i++) {
		x2apic_write_reg(APIC_ICR, (uint64_t)steps[i].dest << 32 |
				 steps[i].icr);
		GUEST_SYNC(i);
	}
	GUEST_DONE();
}

static void mover_code(void)
{
	while (!READ_ONCE(stop))
		cpu_relax();
	GUEST_DONE();
}

static void *mover_thread(void *arg)
{
	struct kvm_vcpu *vcpu = arg;
	long r = __vcpu_run(vcpu);

	return (void *)(r ? (long)errno : 0);
}

/* Run vCPU 0 to its next sync; return whether a span exit came first. */
static bool step(struct kvm_vcpu *vcpu, int i, uint32_t want_dest)
{
	bool left = false;
	struct ucall uc;

	vcpu_run(vcpu);
	if (vcpu->run->exit_reason == KVM_EXIT_SPAN_IRQ) {
		TEST_ASSERT_EQ(vcpu->run->span_irq.dest_id, want_dest);
		left = true;
		vcpu_run(vcpu);
	}
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_SYNC && uc.args[1] == i,
		    "phase %d: wanted sync, got %s", i, span_exit_str(vcpu));
	return left;
}

int main(int argc, char *argv[])
{
	static const uint32_t one[] = { 1 };
	struct kvm_vcpu *vcpus[2];
	struct kvm_span_irq irq;
	struct kvm_vm *vm;
	pthread_t thread;
	struct ucall uc;
	void *ret;

	TEST_REQUIRE(kvm_has_cap(KVM_CAP_SPAN));

	steps[nr_steps++] = (struct step){ 0x41, 1 };	/* local */
	steps[nr_steps++] = (struct step){ 0x42, 1 };	/* parked: leaves */
	steps[nr_steps++] = (struct step){ 0x43 | APIC_DEST_ALLBUT, 0 };
	steps[nr_steps++] = (struct step){ 0x44 | APIC_DM_LOWEST |
					   APIC_DEST_LOGICAL, 0x2 };
	steps[nr_steps++] = (struct step){ 0x45, 1 };	/* back: local */

	vm = vm_create_with_one_vcpu(&vcpus[0], sender_code);
	vcpus[1] = vm_vcpu_add(vm, 1, mover_code);
	sync_global_to_guest(vm, steps);
	sync_global_to_guest(vm, nr_steps);
	span_host_apic_setup(vcpus[1], true, 1);

	/* vCPU 1 is local and running. */
	TEST_ASSERT(!pthread_create(&thread, NULL, mover_thread, vcpus[1]),
		    "pthread_create");
	TEST_ASSERT(!step(vcpus[0], 0, 1), "local IPI left");

	/* It moves away: the running vCPU is stopped and parked. */
	span_set_remote(vm, one, 1);
	pthread_join(thread, &ret);
	TEST_ASSERT((long)ret == EBUSY, "parked vCPU: KVM_RUN errno %ld",
		    (long)ret);
	TEST_ASSERT(apic_irr_test(vcpus[1], 0x41), "local IPI not delivered");
	TEST_ASSERT(__vcpu_run(vcpus[1]) == -1 && errno == EBUSY,
		    "parked vCPU ran");
	irq = span_irq(1, KVM_SPAN_DM_FIXED, 0x50, true);
	TEST_ASSERT(__span_inject(vm, &irq) == -1 && errno == EINVAL,
		    "inject into a parked vCPU");

	TEST_ASSERT(step(vcpus[0], 1, 1), "IPI to the moved vCPU stayed");
	TEST_ASSERT(step(vcpus[0], 2, 0), "all-but-self did not leave");
	TEST_ASSERT(step(vcpus[0], 3, 2), "lowest priority stayed");
	TEST_ASSERT(!apic_irr_test(vcpus[1], 0x42) &&
		    !apic_irr_test(vcpus[1], 0x43) &&
		    !apic_irr_test(vcpus[1], 0x44),
		    "the parked copy got an interrupt");

	/* It comes back. */
	span_set_remote(vm, NULL, 0);
	TEST_ASSERT(!step(vcpus[0], 4, 1), "IPI to the returned vCPU left");
	TEST_ASSERT(apic_irr_test(vcpus[1], 0x45), "returned vCPU: no IPI");
	vcpu_run(vcpus[0]);
	TEST_ASSERT(get_ucall(vcpus[0], &uc) == UCALL_DONE, "sender done");
	stop = true;
	sync_global_to_guest(vm, stop);
	vcpu_run(vcpus[1]);
	TEST_ASSERT(get_ucall(vcpus[1], &uc) == UCALL_DONE, "mover done");

	pr_info("vCPU 1 moved away (parked, stopped, interrupts leave) and back\n");
	kvm_vm_free(vm);
	return 0;
}
