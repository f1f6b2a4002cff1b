// SPDX-License-Identifier: GPL-2.0-only
/*
 * span_sipi_test: a BSP hosted by one hypervisor starts an AP hosted by
 * another.
 *
 * Two VMs stand for two hypervisors sharing one guest: in VM "a" vCPU 0 (the
 * BSP) is local and APIC ID 1 is remote; in VM "b" vCPU 1 (the AP, never run
 * before) is local and APIC ID 0 is remote.  The BSP sends the usual
 * INIT assert / INIT de-assert / SIPI sequence (xAPIC, then x2APIC); the test
 * forwards every KVM_EXIT_SPAN_IRQ of "a" unchanged into "b" with
 * KVM_SPAN_INJECT, and the AP must then run real-mode code at the SIPI page.
 */
#include "span_util.h"
#include "test_util.h"

static bool use_x2apic;
static uint8_t sipi_vector;

static void bsp_code(void)
{
	const uint32_t seq[] = {
		APIC_DM_INIT | APIC_INT_LEVELTRIG | APIC_INT_ASSERT,
		APIC_DM_INIT | APIC_INT_LEVELTRIG,
		APIC_DM_STARTUP | sipi_vector,
		APIC_DM_STARTUP | sipi_vector,	/* the second SIPI, ignored */
	};
	int i;

	if (use_x2apic)
		x2apic_enable();
	else
		xapic_enable();
	for (i = 0; i < ARRAY_SIZE(seq); i++) {
		if (use_x2apic) {
			x2apic_write_reg(APIC_ICR, (1ull << 32) | seq[i]);
		} else {
			xapic_write_reg(APIC_ICR2, 1 << 24);
			xapic_write_reg(APIC_ICR, seq[i]);
		}
	}
	GUEST_DONE();
}

static void ap_unused(void)
{
	GUEST_FAIL("the AP must start at its SIPI vector");
}

static void test_sipi(bool x2apic)
{
	static const uint32_t remote_a[] = { 1 }, remote_b[] = { 0 };
	/* mov $0x42, %al; out %al, $0x80; hlt */
	static const uint8_t code[] = { 0xb0, 0x42, 0xe6, 0x80, 0xf4 };
	struct kvm_vcpu *bsp, *ap;
	struct kvm_vm *a, *b;
	struct kvm_mp_state mp = { KVM_MP_STATE_UNINITIALIZED };
	struct kvm_sregs sregs;
	int accepted = 0, exits = 0, r;
	vm_paddr_t page;
	struct ucall uc;

	a = vm_create_with_one_vcpu(&bsp, bsp_code);
	b = vm_create(1);
	ap = vm_vcpu_add(b, 1, ap_unused);
	vcpu_mp_state_set(ap, &mp);
	span_set_remote(a, remote_a, 1);
	span_set_remote(b, remote_b, 1);

	/* The AP's SIPI page: real-mode code below 1 MiB in "b". */
	page = vm_phy_page_alloc(b, 0x80000, 0);
	TEST_ASSERT(page < 0x100000, "no page below 1 MiB (%#lx)", page);
	memcpy(addr_gpa2hva(b, page), code, sizeof(code));

	use_x2apic = x2apic;
	sipi_vector = page >> 12;
	if (!x2apic)
		virt_pg_map(a, APIC_DEFAULT_GPA, APIC_DEFAULT_GPA);
	sync_global_to_guest(a, use_x2apic);
	sync_global_to_guest(a, sipi_vector);

	for (;;) {
		vcpu_run(bsp);
		if (bsp->run->exit_reason != KVM_EXIT_SPAN_IRQ)
			break;
		TEST_ASSERT_EQ(bsp->run->span_irq.dest_id, 1);
		exits++;
		accepted += span_inject(b, &bsp->run->span_irq);
	}
	TEST_ASSERT(get_ucall(bsp, &uc) == UCALL_DONE, "BSP did not finish: %s",
		    span_exit_str(bsp));
	/* INIT assert and both SIPIs are accepted, de-assert is a no-op. */
	TEST_ASSERT(exits == 4 && accepted == 3, "%d exits, %d accepted",
		    exits, accepted);

	/* The AP leaves wait-for-SIPI: KVM_RUN may first report -EAGAIN. */
	do {
		r = __vcpu_run(ap);
	} while (r && errno == EAGAIN);
	TEST_ASSERT(!r, KVM_IOCTL_ERROR(KVM_RUN, r));
	TEST_ASSERT_KVM_EXIT_REASON(ap, KVM_EXIT_IO);
	TEST_ASSERT(ap->run->io.port == 0x80 &&
		    *((uint8_t *)ap->run + ap->run->io.data_offset) == 0x42,
		    "AP wrote %#x to port %#x",
		    *((uint8_t *)ap->run + ap->run->io.data_offset),
		    ap->run->io.port);
	vcpu_sregs_get(ap, &sregs);
	TEST_ASSERT(sregs.cs.base == page && sregs.cs.selector == page >> 4,
		    "AP CS base %#llx selector %#x, wanted %#lx",
		    sregs.cs.base, sregs.cs.selector, page);
	pr_info("%s: INIT/SIPI from the remote BSP started the AP at %#lx\n",
		x2apic ? "x2APIC" : "xAPIC", page);
	kvm_vm_free(a);
	kvm_vm_free(b);
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_SPAN));

	test_sipi(false);
	test_sipi(true);
	return 0;
}
