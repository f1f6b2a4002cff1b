// SPDX-License-Identifier: GPL-2.0-only
/*
 * span_ring_test: interrupts for remote APIC IDs raised outside vCPU context
 * (KVM_SIGNAL_MSI, an irqfd routed to an MSI, the in-kernel IOAPIC driven
 * by KVM_IRQ_LINE) go to the span ring.
 *
 * Checks the entries' fields, the eventfd, that local MSIs stay local, that a
 * full ring refuses and counts instead of overwriting, that a tail corrupted
 * by user space is detected (-EINVAL, KVM_SPAN_RING_F_BROKEN, counted) and
 * recovers once repaired, and that bad ring parameters are refused.
 */
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "span_util.h"
#include "test_util.h"

#define ENTRIES	16

static int signal_msi(struct kvm_vm *vm, uint32_t dest, uint8_t vector)
{
	struct kvm_msi msi = {
		.address_lo = 0xfee00000 | (dest << 12),
		.data = vector,
	};

	return __vm_ioctl(vm, KVM_SIGNAL_MSI, &msi);
}

static int create_ring(struct kvm_vm *vm, uint32_t entries, int efd)
{
	struct kvm_span_ring_create c = { .entries = entries, .eventfd = efd };

	return __vm_ioctl(vm, KVM_SPAN_CREATE_RING, &c);
}

static void guest_code(void)
{
	GUEST_DONE();
}

int main(int argc, char *argv[])
{
	static const uint32_t remote[] = { 2 };
	struct kvm_span_ring_hdr *hdr;
	struct kvm_span_irq *ents, *e;
	struct kvm_irq_routing *rt;
	struct kvm_irqfd irqfd = {};
	struct kvm_irq_level line;
	struct kvm_irqchip chip;
	struct kvm_span_ring_create c;
	struct kvm_vcpu *vcpu;
	struct pollfd pfd;
	struct kvm_vm *vm;
	int efd, ring, r, i, irq_efd;
	uint64_t cnt = 1;
	size_t size;
	void *map;

	TEST_REQUIRE(kvm_has_cap(KVM_CAP_SPAN));

	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	span_host_apic_setup(vcpu, false, 0);
	span_set_remote(vm, remote, 1);

	/* Without a ring a device interrupt for a remote APIC is refused. */
	r = signal_msi(vm, 2, 0x50);
	TEST_ASSERT(r == -1 && errno == ENODEV, "MSI without ring: %d", r);

	/* Bad ring parameters. */
	efd = eventfd(0, EFD_NONBLOCK);
	TEST_ASSERT(efd >= 0, "eventfd");
	TEST_ASSERT(create_ring(vm, 0, -1) == -1 && errno == EINVAL, "0");
	TEST_ASSERT(create_ring(vm, 15, -1) == -1 && errno == EINVAL, "15");
	TEST_ASSERT(create_ring(vm, 24, -1) == -1 && errno == EINVAL, "24");
	TEST_ASSERT(create_ring(vm, 1 << 20, -1) == -1 && errno == EINVAL,
		    "too large");
	TEST_ASSERT(create_ring(vm, ENTRIES, -2) == -1 && errno == EINVAL,
		    "eventfd -2");
	TEST_ASSERT(create_ring(vm, ENTRIES, 1000) == -1 && errno == EBADF,
		    "eventfd not open");
	c = (struct kvm_span_ring_create){ .entries = ENTRIES, .eventfd = -1,
					   .flags = 1 };
	TEST_ASSERT(__vm_ioctl(vm, KVM_SPAN_CREATE_RING, &c) == -1 &&
		    errno == EINVAL, "flags");

	ring = create_ring(vm, ENTRIES, efd);
	TEST_ASSERT(ring >= 0, "KVM_SPAN_CREATE_RING: %d errno %d", ring, errno);
	TEST_ASSERT(create_ring(vm, ENTRIES, -1) == -1 && errno == EBUSY,
		    "second ring");
	size = getpagesize();
	TEST_ASSERT(mmap(NULL, 4 * size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 ring, 0) == MAP_FAILED, "oversized mmap");
	TEST_ASSERT(mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 ring, size) == MAP_FAILED, "offset mmap");
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ring, 0);
	TEST_ASSERT(map != MAP_FAILED, "mmap ring");
	hdr = map;
	ents = map + KVM_SPAN_RING_OFFSET;
	TEST_ASSERT(READ_ONCE(hdr->entries) == ENTRIES &&
		    !READ_ONCE(hdr->head) && !READ_ONCE(hdr->tail),
		    "fresh ring header");

	/* A remote MSI becomes one entry and one eventfd count. */
	TEST_ASSERT_EQ(signal_msi(vm, 2, 0x51), 1);
	TEST_ASSERT_EQ(READ_ONCE(hdr->head), 1);
	e = &ents[0];
	TEST_ASSERT(e->dest_id == 2 && e->vector == 0x51 &&
		    e->delivery_mode == KVM_SPAN_DM_FIXED &&
		    e->dest_mode == KVM_SPAN_DEST_PHYSICAL && !e->shorthand &&
		    e->source == KVM_SPAN_SRC_DEVICE &&
		    e->src_apic_id == KVM_SPAN_APIC_NONE && e->level == 1,
		    "bad ring entry");
	TEST_ASSERT(read(efd, &cnt, 8) == 8 && cnt == 1, "eventfd %lu", cnt);

	/* A local MSI stays local. */
	TEST_ASSERT_EQ(signal_msi(vm, 0, 0x52), 1);
	TEST_ASSERT_EQ(READ_ONCE(hdr->head), 1);
	TEST_ASSERT(apic_irr_test(vcpu, 0x52), "local MSI not in IRR");

	/* Fill the ring: the next one is refused and counted, not lost. */
	for (i = 1; i < ENTRIES; i++)
		TEST_ASSERT_EQ(signal_msi(vm, 2, 0x60), 1);
	r = signal_msi(vm, 2, 0x61);
	TEST_ASSERT(r == -1 && errno == ENOSPC, "full ring: %d", r);
	TEST_ASSERT(READ_ONCE(hdr->head) == ENTRIES &&
		    READ_ONCE(hdr->dropped) == 1, "full");
	TEST_ASSERT_EQ(ents[1].vector, 0x60);

	/* Consume everything; the ring takes entries again. */
	__atomic_store_n(&hdr->tail, READ_ONCE(hdr->head), __ATOMIC_RELEASE);
	TEST_ASSERT_EQ(signal_msi(vm, 2, 0x62), 1);
	TEST_ASSERT_EQ(ents[0].vector, 0x62);

	/* User space corrupts the tail (and the header's size). */
	WRITE_ONCE(hdr->tail, READ_ONCE(hdr->head) + 1000);
	WRITE_ONCE(hdr->entries, 1u << 30);
	r = signal_msi(vm, 2, 0x63);
	TEST_ASSERT(r == -1 && errno == EINVAL, "corrupt tail: %d", r);
	TEST_ASSERT(READ_ONCE(hdr->flags) & KVM_SPAN_RING_F_BROKEN,
		    "broken flag");
	TEST_ASSERT_EQ(READ_ONCE(hdr->dropped), 2);
	WRITE_ONCE(hdr->tail, READ_ONCE(hdr->head));
	TEST_ASSERT_EQ(signal_msi(vm, 2, 0x64), 1);
	TEST_ASSERT_EQ(ents[(READ_ONCE(hdr->head) - 1) % ENTRIES].vector,
		       0x64);
	TEST_ASSERT_EQ(vm_get_stat(vm, "span_dropped"), 3);

	/* The in-kernel IOAPIC: pin 10 routed to remote APIC ID 2. */
	chip = (struct kvm_irqchip){ .chip_id = KVM_IRQCHIP_IOAPIC };
	vm_ioctl(vm, KVM_GET_IRQCHIP, &chip);
	chip.chip.ioapic.redirtbl[10].bits = 0;
	chip.chip.ioapic.redirtbl[10].fields.vector = 0x66;
	chip.chip.ioapic.redirtbl[10].fields.dest_id = 2;
	vm_ioctl(vm, KVM_SET_IRQCHIP, &chip);
	WRITE_ONCE(hdr->tail, READ_ONCE(hdr->head));
	line = (struct kvm_irq_level){ .irq = 10, .level = 1 };
	vm_ioctl(vm, KVM_IRQ_LINE, &line);
	line.level = 0;
	vm_ioctl(vm, KVM_IRQ_LINE, &line);
	TEST_ASSERT_EQ(READ_ONCE(hdr->head) - READ_ONCE(hdr->tail), 1);
	e = &ents[(READ_ONCE(hdr->head) - 1) % ENTRIES];
	TEST_ASSERT(e->vector == 0x66 && e->dest_id == 2 &&
		    e->source == KVM_SPAN_SRC_DEVICE && !e->trig_mode,
		    "IOAPIC ring entry: vector %#x dest %u", e->vector,
		    e->dest_id);

	/* An irqfd routed to a remote MSI fires from atomic context. */
	rt = kvm_gsi_routing_create();
	rt->nr = 1;
	rt->entries[0].gsi = 5;
	rt->entries[0].type = KVM_IRQ_ROUTING_MSI;
	rt->entries[0].u.msi.address_lo = 0xfee00000 | (2 << 12);
	rt->entries[0].u.msi.data = 0x65;
	kvm_gsi_routing_write(vm, rt);
	irq_efd = eventfd(0, EFD_NONBLOCK);
	irqfd.fd = irq_efd;
	irqfd.gsi = 5;
	vm_ioctl(vm, KVM_IRQFD, &irqfd);
	WRITE_ONCE(hdr->tail, READ_ONCE(hdr->head));
	r = read(efd, &cnt, 8);
	TEST_ASSERT(write(irq_efd, &cnt, 8) == 8, "irqfd write");
	pfd = (struct pollfd){ .fd = efd, .events = POLLIN };
	TEST_ASSERT(poll(&pfd, 1, 5000) == 1, "no ring signal from irqfd");
	TEST_ASSERT_EQ(READ_ONCE(hdr->head) - READ_ONCE(hdr->tail), 1);
	TEST_ASSERT_EQ(ents[(READ_ONCE(hdr->head) - 1) % ENTRIES].vector,
		       0x65);

	pr_info("ring: entries, eventfd, full, corrupt, irqfd, IOAPIC all right\n");
	munmap(map, size);
	close(ring);
	kvm_vm_free(vm);
	return 0;
}
