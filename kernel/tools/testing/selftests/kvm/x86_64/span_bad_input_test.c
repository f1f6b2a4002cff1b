// SPDX-License-Identifier: GPL-2.0-only
/*
 * span_bad_input_test: KVM_SPAN_SET_REMOTE and KVM_SPAN_INJECT refuse bad
 * calls: no in-kernel APIC yet, no vCPU yet, unknown, out-of-range or remote
 * APIC IDs, bad flags, reserved fields, delivery modes and vectors, and a
 * vCPU cannot be created with an APIC ID declared remote.
 */
#include "span_util.h"
#include "test_util.h"

#define EXPECT_ERR(call, err) do {					\
	int __e = (err), __r = (call);					\
									\
	TEST_ASSERT(__r == -1 && errno == __e,				\
		    "%s: got %d errno %d, wanted errno %d", #call, __r,	\
		    errno, __e);					\
} while (0)

static void guest_code(void)
{
	GUEST_DONE();
}

int main(int argc, char *argv[])
{
	uint32_t ids[4] = { 2 };
	struct kvm_span_remote arg = {};
	struct kvm_span_irq irq;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint32_t max_ids;

	TEST_REQUIRE(kvm_has_cap(KVM_CAP_SPAN));
	max_ids = kvm_check_cap(KVM_CAP_MAX_VCPU_ID);

	/* No in-kernel irqchip yet. */
	vm = vm_create_barebones();
	EXPECT_ERR(__span_set_remote(vm, ids, 1), ENXIO);
	irq = span_irq(0, KVM_SPAN_DM_FIXED, 0x40, false);
	EXPECT_ERR(__span_inject(vm, &irq), ENXIO);

	/* An irqchip but no vCPU: nothing local to inject into. */
	vm_create_irqchip(vm);
	EXPECT_ERR(__span_inject(vm, &irq), EINVAL);
	irq = span_irq(0xff, KVM_SPAN_DM_FIXED, 0x40, false);
	TEST_ASSERT_EQ(span_inject(vm, &irq), 0);	/* broadcast: nobody */

	/* Remote IDs may be declared before vCPUs; such a vCPU can't exist. */
	span_set_remote(vm, ids, 1);
	EXPECT_ERR(__vm_ioctl(vm, KVM_CREATE_VCPU, (void *)2ul), EEXIST);
	kvm_vm_free(vm);

	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	span_host_apic_setup(vcpu, false, 0);

	/* SET_REMOTE: out of range, local, flags, bad pointer, count. */
	ids[0] = max_ids;
	EXPECT_ERR(__span_set_remote(vm, ids, 1), EINVAL);
	ids[0] = 0xffffffff;
	EXPECT_ERR(__span_set_remote(vm, ids, 1), EINVAL);
	EXPECT_ERR(__span_set_remote(vm, (void *)8, 1), EFAULT);
	EXPECT_ERR(__span_set_remote(vm, NULL, max_ids + 1), EINVAL);
	arg = (struct kvm_span_remote){ .flags = 1 };
	EXPECT_ERR(__vm_ioctl(vm, KVM_SPAN_SET_REMOTE, &arg), EINVAL);
	arg = (struct kvm_span_remote){ .ids = (uintptr_t)ids };
	EXPECT_ERR(__vm_ioctl(vm, KVM_SPAN_SET_REMOTE, &arg), EINVAL);
	ids[0] = 2;
	ids[1] = 3;
	span_set_remote(vm, ids, 2);

	/* INJECT: remote, unknown, out-of-range destinations. */
	irq = span_irq(2, KVM_SPAN_DM_FIXED, 0x40, false);
	EXPECT_ERR(__span_inject(vm, &irq), EINVAL);	/* remote */
	irq.dest_id = 9;
	EXPECT_ERR(__span_inject(vm, &irq), EINVAL);	/* unknown */
	irq.dest_id = 0x100;
	EXPECT_ERR(__span_inject(vm, &irq), EINVAL);	/* > 8 bits */
	irq.flags = KVM_SPAN_IRQ_X2APIC;
	EXPECT_ERR(__span_inject(vm, &irq), EINVAL);	/* unknown x2APIC */

	/* Bad fields. */
	irq = span_irq(0, KVM_SPAN_DM_FIXED, 0x40, false);
	irq.flags = 0x80;
	EXPECT_ERR(__span_inject(vm, &irq), EINVAL);
	irq = span_irq(0, KVM_SPAN_DM_FIXED, 0x40, false);
	irq.reserved[1] = 1;
	EXPECT_ERR(__span_inject(vm, &irq), EINVAL);
	irq = span_irq(0, 7, 0x40, false);		/* ExtINT */
	EXPECT_ERR(__span_inject(vm, &irq), EINVAL);
	irq = span_irq(0, 9, 0x40, false);
	EXPECT_ERR(__span_inject(vm, &irq), EINVAL);
	irq = span_irq(0, KVM_SPAN_DM_FIXED, 5, false);	/* vector < 16 */
	EXPECT_ERR(__span_inject(vm, &irq), EINVAL);
	irq = span_irq(0, KVM_SPAN_DM_FIXED, 0x40, false);
	irq.shorthand = KVM_SPAN_SH_SELF;		/* self stays home */
	EXPECT_ERR(__span_inject(vm, &irq), EINVAL);
	irq.shorthand = 4;
	EXPECT_ERR(__span_inject(vm, &irq), EINVAL);
	irq = span_irq(0, KVM_SPAN_DM_FIXED, 0x40, false);
	irq.dest_mode = 2;
	EXPECT_ERR(__span_inject(vm, &irq), EINVAL);
	irq = span_irq(0, KVM_SPAN_DM_FIXED, 0x40, false);
	irq.trig_mode = 2;
	EXPECT_ERR(__span_inject(vm, &irq), EINVAL);
	irq = span_irq(0, KVM_SPAN_DM_FIXED, 0x40, false);
	irq.level = 3;
	EXPECT_ERR(__span_inject(vm, &irq), EINVAL);
	EXPECT_ERR(__vm_ioctl(vm, KVM_SPAN_INJECT, (struct kvm_span_irq *)8),
		   EFAULT);

	/* A good one still works, and the vCPU still runs. */
	irq = span_irq(0, KVM_SPAN_DM_FIXED, 0x40, false);
	TEST_ASSERT_EQ(span_inject(vm, &irq), 1);
	vcpu_run(vcpu);
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_DONE, "vCPU did not run");

	/* Clearing the set: 2 is no longer remote, so 2 can be created. */
	span_set_remote(vm, NULL, 0);
	vm_vcpu_add(vm, 2, guest_code);
	pr_info("bad calls refused\n");
	kvm_vm_free(vm);
	return 0;
}
