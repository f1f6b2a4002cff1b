// SPDX-License-Identifier: GPL-2.0-only
/*
 * span_ipi_bench: cost of an IPI to a remote APIC ID (handed to user space
 * through KVM_EXIT_SPAN_IRQ) against an IPI to a local vCPU (delivered in
 * the kernel), measured in one run on the host clock, xAPIC and x2APIC;
 * plus a device MSI to a remote APIC ID (span ring) against a local one.
 * Local and remote phases alternate (ROUNDS each, ITERATIONS interrupts per
 * phase) and the median phase is reported, which keeps other load on the
 * machine out of the ratio.  Prints one JSON object.
 * Usage: span_ipi_bench [-n ITERATIONS]
 */
#include <time.h>
#include <sys/mman.h>

#include "span_util.h"
#include "test_util.h"

static bool use_x2apic;
#define ROUNDS	10
#define PHASES	(2 * ROUNDS)

static uint64_t iterations = 1000;

static void guest_code(void)
{
	uint32_t dest;
	uint64_t i;
	int phase;

	if (use_x2apic)
		x2apic_enable();
	else
		xapic_enable();
	/* Phases alternate local, remote, ... (interleaved against drift). */
	for (phase = 0; phase < PHASES; phase++) {
		dest = (phase & 1) ? 2 : 1;
		GUEST_SYNC(phase);
		for (i = 0; i < iterations; i++) {
			if (use_x2apic) {
				x2apic_write_reg(APIC_ICR, (uint64_t)dest << 32 |
						 APIC_DM_FIXED | 0x40);
			} else {
				xapic_write_reg(APIC_ICR2, dest << 24);
				xapic_write_reg(APIC_ICR, APIC_DM_FIXED | 0x40);
			}
		}
	}
	GUEST_SYNC(PHASES);
	GUEST_DONE();
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of @n per-phase times, per interrupt. */
static double median_us(double *t, int n)
{
	qsort(t, n, sizeof(*t), cmp_double);
	return (n & 1 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2) / iterations;
}

static void bench_ipi(bool x2apic, double *local_us, double *remote_us)
{
	static const uint32_t remote[] = { 2 };
	struct kvm_vcpu *vcpus[2];
	double t[PHASES + 1] = {}, d[2][ROUNDS];
	uint64_t exits = 0;
	struct kvm_vm *vm;
	struct ucall uc;
	int phase = -1;

	use_x2apic = x2apic;
	vm = vm_create_with_vcpus(2, guest_code, vcpus);
	if (!x2apic)
		virt_pg_map(vm, APIC_DEFAULT_GPA, APIC_DEFAULT_GPA);
	sync_global_to_guest(vm, use_x2apic);
	sync_global_to_guest(vm, iterations);
	span_host_apic_setup(vcpus[1], x2apic, 1);
	span_set_remote(vm, remote, 1);

	for (;;) {
		vcpu_run(vcpus[0]);
		if (vcpus[0]->run->exit_reason == KVM_EXIT_SPAN_IRQ) {
			/* What QEMU would do: forward and resume at once. */
			TEST_ASSERT_EQ(vcpus[0]->run->span_irq.dest_id, 2);
			exits++;
			continue;
		}
		switch (get_ucall(vcpus[0], &uc)) {
		case UCALL_SYNC:
			phase = uc.args[1];
			t[phase] = now_us();
			continue;
		case UCALL_DONE:
			break;
		default:
			TEST_FAIL("unexpected exit %s", span_exit_str(vcpus[0]));
		}
		break;
	}
	TEST_ASSERT(phase == PHASES && exits == ROUNDS * iterations,
		    "%lu remote exits for %lu remote IPIs", exits,
		    ROUNDS * iterations);
	for (phase = 0; phase < PHASES; phase++)
		d[phase & 1][phase / 2] = t[phase + 1] - t[phase];
	*local_us = median_us(d[0], ROUNDS);
	*remote_us = median_us(d[1], ROUNDS);
	kvm_vm_free(vm);
}

static void bench_msi(double *local_us, double *remote_us)
{
	static const uint32_t remote[] = { 2 };
	struct kvm_span_ring_create c = { .entries = 4096, .eventfd = -1 };
	struct kvm_span_ring_hdr *hdr;
	struct kvm_msi msi = { .data = 0x40 };
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	double t0, d[2][ROUNDS];
	uint64_t i;
	int ring, round, r;

	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	span_host_apic_setup(vcpu, false, 0);
	span_set_remote(vm, remote, 1);
	ring = __vm_ioctl(vm, KVM_SPAN_CREATE_RING, &c);
	TEST_ASSERT(ring >= 0, "KVM_SPAN_CREATE_RING");
	hdr = mmap(NULL, 4096 * sizeof(struct kvm_span_irq) + 4096,
		   PROT_READ | PROT_WRITE, MAP_SHARED, ring, 0);
	TEST_ASSERT(hdr != MAP_FAILED, "mmap");

	for (round = 0; round < PHASES; round++) {
		msi.address_lo = 0xfee00000 | ((round & 1) ? 2 << 12 : 0);
		t0 = now_us();
		for (i = 0; i < iterations; i++) {
			r = __vm_ioctl(vm, KVM_SIGNAL_MSI, &msi);
			TEST_ASSERT(r == 1, "KVM_SIGNAL_MSI: %d", r);
			/* Drain as a consumer would. */
			__atomic_store_n(&hdr->tail, READ_ONCE(hdr->head),
					 __ATOMIC_RELEASE);
		}
		d[round & 1][round / 2] = now_us() - t0;
	}
	*local_us = median_us(d[0], ROUNDS);
	*remote_us = median_us(d[1], ROUNDS);
	kvm_vm_free(vm);
}

int main(int argc, char *argv[])
{
	double xl, xr, x2l, x2r, ml, mr;
	int opt;

	TEST_REQUIRE(kvm_has_cap(KVM_CAP_SPAN));
	while ((opt = getopt(argc, argv, "n:")) != -1)
		if (opt == 'n')
			iterations = atoi_positive("iterations", optarg);

	bench_ipi(false, &xl, &xr);
	bench_ipi(true, &x2l, &x2r);
	bench_msi(&ml, &mr);
	printf("{\"benchmark\": \"kvm-span-ipi\", \"iterations\": %lu, ",
	       iterations);
	printf("\"rounds\": %d, ", ROUNDS);
	printf("\"clock\": \"host CLOCK_MONOTONIC, median phase, per interrupt\", ");
	printf("\"xapic\": {\"local_ipi_us\": %.2f, \"remote_ipi_us\": %.2f, \"ratio\": %.2f}, ",
	       xl, xr, xr / xl);
	printf("\"x2apic\": {\"local_ipi_us\": %.2f, \"remote_ipi_us\": %.2f, \"ratio\": %.2f}, ",
	       x2l, x2r, x2r / x2l);
	printf("\"msi_ioctl\": {\"local_us\": %.2f, \"remote_ring_us\": %.2f, \"ratio\": %.2f}}\n",
	       ml, mr, mr / ml);
	return 0;
}
