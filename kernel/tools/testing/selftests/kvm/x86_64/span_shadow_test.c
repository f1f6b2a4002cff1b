// SPDX-License-Identifier: GPL-2.0-only
/*
 * Span shadow-paging coherence (KVM_CAP_SPAN_SHADOW).
 *
 * Two VMs in one process stand for two hypervisors of one Span VM: they
 * share a memory slot (one memfd mapped as both VMs' slot 1) that holds a
 * guest page table PT and two data pages P1 and P2.  VM B's page tables
 * link PT for TEST_VA, which maps P1.  The host plays the user-space member
 * of both: it relays B's ADD exits (A imports the frame), A's INV exits (B
 * zaps its shadows) and B's withdrawals (A releases the frame).  Frames of
 * the private slots are not relayed: the two VMs do not share them.
 *
 *  1. B reads TEST_VA (shadows PT): 1 (P1).
 *  2. A rewrites PT's entry for TEST_VA to point at P2.
 *  3. B does INVLPG TEST_VA (the flush IPI's handler) and reads it again.
 *
 * With the relay B reads 2.  Without it ("norelay", the bug being fixed)
 * B's shadow of PT is stale and B still reads 1, which the test requires,
 * so that it shows the coherence code is what makes the first case pass.
 * A third part re-creates a memslot under an imported frame, as QEMU does
 * on every boot when the guest reprograms the PAM registers: the import
 * must hold in the new memslot (a write to the frame still leaves as an
 * INV exit), and releasing it afterwards must leave KVM's own protection of
 * the frame, an upper-level page table it shadows, in place (the guest's
 * write to its page directory is still emulated).  Before the fix both
 * failed, and the unprotected page directory's shadow page went unsync.
 * A fourth part feeds bad input to the new ioctls.
 *
 * Needs shadow paging (KVM_CAP_SPAN_SHADOW is 0 with TDP):
 *   kvm_amd.npt=0 or kvm_intel.ept=0.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "ucall_common.h"

#define SHARED_SLOT	1
#define SHARED_GPA	0x40000000ull
#define SHARED_GFN	(SHARED_GPA >> PAGE_SHIFT)
#define SHARED_PAGES	16
#define PT_PAGE		0
#define P1_PAGE		1
#define P2_PAGE		2
#define TEST_VA		0x50000000ull
/* Part 3: TEST_VA2 walks PD -> PT2 -> P3, all in the shared slot. */
#define PD_PAGE		3
#define PT2_PAGE	4
#define P3_PAGE		5
#define TEST_VA2	0x80000000ull	/* its own PDPT entry, index 2 */
#define RING_ENTRIES	64

#define PTE_FLAGS	(PTE_PRESENT_MASK | PTE_WRITABLE_MASK | \
			 PTE_ACCESSED_MASK | PTE_DIRTY_MASK)

struct member {
	const char *name;
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	struct kvm_span_ring_hdr *ring;
	struct kvm_span_shadow_event *ents;
	struct member *peer;
	bool relay;
	int adds;		/* ADD exits for shared frames */
	int invs;		/* INV exits */
	int dels;		/* DEL ring entries for shared frames */
	long zapped;		/* peer's shadow pages zapped by our INVs */
};

static void guest_a(uint64_t pte_va, uint64_t new_pte)
{
	WRITE_ONCE(*(uint64_t *)pte_va, new_pte);
	GUEST_SYNC(0);
	GUEST_DONE();
}

static void guest_b(void)
{
	GUEST_SYNC(READ_ONCE(*(uint64_t *)TEST_VA));
	asm volatile("invlpg (%0)" : : "r"(TEST_VA) : "memory");
	GUEST_SYNC(READ_ONCE(*(uint64_t *)TEST_VA));
	GUEST_DONE();
}

/* @pd_va: the page directory of TEST_VA2, identity-mapped as data. */
static void guest_x(uint64_t pd_va)
{
	GUEST_SYNC(READ_ONCE(*(uint64_t *)TEST_VA2));
	WRITE_ONCE(((uint64_t *)pd_va)[1], 0);
	GUEST_SYNC(0);
	GUEST_SYNC(READ_ONCE(*(uint64_t *)TEST_VA2));
	WRITE_ONCE(((uint64_t *)pd_va)[1], 0);
	GUEST_SYNC(0);
	GUEST_DONE();
}

static int __span_peer(struct kvm_vm *vm, uint32_t op, uint64_t *gfns,
		       uint32_t nr)
{
	struct kvm_span_shadow_peer arg = {
		.op = op,
		.nr = nr,
		.gfns = (uintptr_t)gfns,
	};

	return __vm_ioctl(vm, KVM_SPAN_SHADOW_PEER, &arg);
}

static int span_peer(struct kvm_vm *vm, uint32_t op, uint64_t gfn)
{
	int r = __span_peer(vm, op, &gfn, 1);

	TEST_ASSERT(r >= 0, KVM_IOCTL_ERROR(KVM_SPAN_SHADOW_PEER, r));
	return r;
}

static int __span_enable(struct kvm_vm *vm, uint32_t entries)
{
	struct kvm_span_shadow_enable arg = {
		.entries = entries,
		.eventfd = -1,
	};

	return __vm_ioctl(vm, KVM_SPAN_SHADOW_ENABLE, &arg);
}

static void member_enable(struct member *m)
{
	size_t size = KVM_SPAN_RING_OFFSET +
		      RING_ENTRIES * sizeof(struct kvm_span_shadow_event);
	int fd = __span_enable(m->vm, RING_ENTRIES);
	void *p;

	TEST_ASSERT(fd >= 0, KVM_IOCTL_ERROR(KVM_SPAN_SHADOW_ENABLE, fd));
	size = (size + getpagesize() - 1) & ~((size_t)getpagesize() - 1);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TEST_ASSERT(p != MAP_FAILED, "mmap shadow ring");
	close(fd);
	m->ring = p;
	m->ents = p + KVM_SPAN_RING_OFFSET;
	TEST_ASSERT_EQ(m->ring->entries, RING_ENTRIES);
}

static bool shared_gfn(uint64_t gfn)
{
	return gfn >= SHARED_GFN && gfn < SHARED_GFN + SHARED_PAGES;
}

/* Withdrawals go out before anything that follows them. */
static void drain_ring(struct member *m)
{
	uint32_t head = __atomic_load_n(&m->ring->head, __ATOMIC_ACQUIRE);
	uint32_t tail = m->ring->tail;

	TEST_ASSERT(!(m->ring->flags & KVM_SPAN_RING_F_BROKEN), "ring broken");
	for (; tail != head; tail++) {
		struct kvm_span_shadow_event e = m->ents[tail % RING_ENTRIES];

		TEST_ASSERT_EQ(e.op, KVM_SPAN_SHADOW_DEL);
		if (!shared_gfn(e.gfn))
			continue;
		m->dels++;
		if (m->relay)
			span_peer(m->peer->vm, KVM_SPAN_SHADOW_RELEASE, e.gfn);
	}
	__atomic_store_n(&m->ring->tail, tail, __ATOMIC_RELEASE);
}

static void handle_shadow_exit(struct member *m)
{
	struct kvm_span_shadow_event e = m->vcpu->run->span_shadow;

	switch (e.op) {
	case KVM_SPAN_SHADOW_ADD:
		drain_ring(m);
		if (!shared_gfn(e.gfn))
			break;
		m->adds++;
		/* The peer's ioctl returns once the frame is protected there. */
		if (m->relay)
			span_peer(m->peer->vm, KVM_SPAN_SHADOW_IMPORT, e.gfn);
		break;
	case KVM_SPAN_SHADOW_INV:
		m->invs++;
		TEST_ASSERT(e.gfn == KVM_SPAN_SHADOW_GFN_ALL || shared_gfn(e.gfn),
			    "%s: INV for a frame nobody imported: %#llx",
			    m->name, (unsigned long long)e.gfn);
		if (!m->relay)
			break;
		if (e.gfn == KVM_SPAN_SHADOW_GFN_ALL)
			m->zapped += __span_peer(m->peer->vm,
						 KVM_SPAN_SHADOW_INVALIDATE_ALL,
						 NULL, 0);
		else
			m->zapped += span_peer(m->peer->vm,
					       KVM_SPAN_SHADOW_INVALIDATE, e.gfn);
		break;
	default:
		TEST_FAIL("%s: unknown shadow exit op %u", m->name, e.op);
	}
}

/* Run @m's vCPU to its next ucall, doing the member's job on the way. */
static uint64_t member_run(struct member *m, uint64_t *ucall_cmd)
{
	struct ucall uc;
	int exits;

	for (exits = 0; exits < 1000; exits++) {
		vcpu_run(m->vcpu);
		if (m->vcpu->run->exit_reason == KVM_EXIT_SPAN_SHADOW) {
			handle_shadow_exit(m);
			continue;
		}
		*ucall_cmd = get_ucall(m->vcpu, &uc);
		if (*ucall_cmd == UCALL_ABORT)
			REPORT_GUEST_ASSERT(uc);
		return uc.args[1];
	}
	TEST_FAIL("%s: more than 1000 shadow exits without progress", m->name);
	return 0;
}

static uint64_t member_sync(struct member *m)
{
	uint64_t cmd, v = member_run(m, &cmd);

	TEST_ASSERT(cmd == UCALL_SYNC, "%s: expected a sync, got ucall %lu",
		    m->name, cmd);
	return v;
}

static void member_done(struct member *m)
{
	uint64_t cmd;

	member_run(m, &cmd);
	TEST_ASSERT(cmd == UCALL_DONE, "%s: expected done, got ucall %lu",
		    m->name, cmd);
}

/* Returns what B reads after A's write and B's INVLPG. */
static uint64_t run_scenario(bool relay, struct member *a, struct member *b)
{
	uint64_t *shared, *pde, v;
	int level = PG_LEVEL_2M;

	a->name = "A";
	b->name = "B";
	a->vm = vm_create_with_one_vcpu(&a->vcpu, guest_a);
	b->vm = vm_create_with_one_vcpu(&b->vcpu, guest_b);
	a->peer = b;
	b->peer = a;
	a->relay = relay;
	b->relay = relay;

	/* One memfd, both VMs' slot 1. */
	vm_userspace_mem_region_add(a->vm, VM_MEM_SRC_SHMEM, SHARED_GPA,
				    SHARED_SLOT, SHARED_PAGES, 0);
	shared = addr_gpa2hva(a->vm, SHARED_GPA);
	vm_set_user_memory_region(b->vm, SHARED_SLOT, 0, SHARED_GPA,
				  SHARED_PAGES * getpagesize(), shared);
	memset(shared, 0, SHARED_PAGES * getpagesize());
	shared[P1_PAGE * 512] = 1;
	shared[P2_PAGE * 512] = 2;
	shared[PT_PAGE * 512 + ((TEST_VA >> 12) & 511)] =
		(SHARED_GPA + P1_PAGE * 4096) | PTE_FLAGS;

	/* A reaches the shared slot identity-mapped, as data. */
	virt_map(a->vm, SHARED_GPA, SHARED_GPA, SHARED_PAGES);
	vcpu_args_set(a->vcpu, 2,
		      SHARED_GPA + PT_PAGE * 4096 + ((TEST_VA >> 12) & 511) * 8,
		      (SHARED_GPA + P2_PAGE * 4096) | PTE_FLAGS);

	/* B's PDE for TEST_VA points at the shared page table. */
	virt_pg_map(b->vm, TEST_VA, SHARED_GPA + P1_PAGE * 4096);
	pde = __vm_get_page_table_entry(b->vm, TEST_VA, &level);
	TEST_ASSERT(level == PG_LEVEL_2M, "PDE lookup");
	*pde = (SHARED_GPA + PT_PAGE * 4096) | PTE_FLAGS;

	member_enable(a);
	member_enable(b);

	v = member_sync(b);
	TEST_ASSERT(v == 1, "B: TEST_VA reads %lu before the write, not 1", v);
	TEST_ASSERT(b->adds >= 1, "B published no shared frame (ADD exits %d)",
		    b->adds);

	member_sync(a);
	v = member_sync(b);
	member_done(a);
	member_done(b);
	drain_ring(a);
	drain_ring(b);
	return v;
}

static void member_free(struct member *m)
{
	kvm_vm_free(m->vm);
}

static void print_stats(const char *tag, struct member *m)
{
	ksft_print_msg("%s %s: published %lu withdrawn %lu imported %lu released %lu\n",
		       tag, m->name,
		       vm_get_stat(m->vm, "span_shadow_published"),
		       vm_get_stat(m->vm, "span_shadow_withdrawn"),
		       vm_get_stat(m->vm, "span_shadow_imported"),
		       vm_get_stat(m->vm, "span_shadow_released"));
	ksft_print_msg("%s %s: inv_sent %lu inv_received %lu zapped %lu ring_full %lu\n",
		       tag, m->name,
		       vm_get_stat(m->vm, "span_shadow_inv_sent"),
		       vm_get_stat(m->vm, "span_shadow_inv_received"),
		       vm_get_stat(m->vm, "span_shadow_zapped"),
		       vm_get_stat(m->vm, "span_shadow_ring_full"));
}

static void test_relay(void)
{
	struct member a = {}, b = {};
	uint64_t v = run_scenario(true, &a, &b);

	print_stats("relay", &a);
	print_stats("relay", &b);
	TEST_ASSERT(a.invs >= 1, "A's write to the shared page table sent no INV");
	TEST_ASSERT(a.zapped >= 1, "B zapped no shadow page for A's INV");
	TEST_ASSERT(vm_get_stat(a.vm, "span_shadow_imported") >= 1 &&
		    vm_get_stat(a.vm, "span_shadow_inv_sent") >= 1 &&
		    vm_get_stat(b.vm, "span_shadow_published") >= 1 &&
		    vm_get_stat(b.vm, "span_shadow_inv_received") >= 1 &&
		    vm_get_stat(b.vm, "span_shadow_zapped") >= 1,
		    "VM statistics do not show the exchange");
	TEST_ASSERT(v == 2, "B reads %lu after A's write and INVLPG, not 2", v);
	member_free(&a);
	member_free(&b);
	ksft_test_result_pass("relay: B sees A's new mapping after INVLPG (zapped %ld)\n",
			      a.zapped);
}

static void test_norelay(void)
{
	struct member a = {}, b = {};
	uint64_t v = run_scenario(false, &a, &b);

	print_stats("norelay", &a);
	print_stats("norelay", &b);
	TEST_ASSERT(a.invs == 0, "A sent INV without importing: %d", a.invs);
	TEST_ASSERT(v == 1,
		    "without the relay B should read the stale 1, read %lu: the test cannot show the bug",
		    v);
	member_free(&a);
	member_free(&b);
	ksft_test_result_pass("norelay: without coherence B keeps the stale mapping\n");
}

/* One counter of @vcpu's binary statistics. */
static uint64_t vcpu_stat(struct kvm_vcpu *vcpu, const char *name)
{
	struct kvm_stats_header header;
	struct kvm_stats_desc *descs, *desc;
	int fd = vcpu_get_stats_fd(vcpu);
	bool found = false;
	uint64_t v = 0;
	int i;

	read_stats_header(fd, &header);
	descs = read_stats_descriptors(fd, &header);
	for (i = 0; i < header.num_desc && !found; i++) {
		desc = get_stats_descriptor(descs, i, &header);
		if (strcmp(desc->name, name))
			continue;
		read_stat_data(fd, &header, desc, &v, 1);
		found = true;
	}
	free(descs);
	close(fd);
	TEST_ASSERT(found, "no vCPU statistic %s", name);
	return v;
}

static void test_memslot_recreated(void)
{
	struct member x = { .name = "X" };
	uint64_t pd_gfn = SHARED_GFN + PD_PAGE, *shared, *pdpe, v, emulated;
	int level = PG_LEVEL_1G, invs;

	x.vm = vm_create_with_one_vcpu(&x.vcpu, guest_x);
	vm_userspace_mem_region_add(x.vm, VM_MEM_SRC_SHMEM, SHARED_GPA,
				    SHARED_SLOT, SHARED_PAGES, 0);
	shared = addr_gpa2hva(x.vm, SHARED_GPA);
	memset(shared, 0, SHARED_PAGES * getpagesize());
	shared[P3_PAGE * 512] = 3;
	shared[PT2_PAGE * 512] = (SHARED_GPA + P3_PAGE * 4096) | PTE_FLAGS;
	shared[PD_PAGE * 512] = (SHARED_GPA + PT2_PAGE * 4096) | PTE_FLAGS;
	virt_map(x.vm, SHARED_GPA, SHARED_GPA, SHARED_PAGES);
	virt_pg_map(x.vm, TEST_VA2, SHARED_GPA + P3_PAGE * 4096);
	pdpe = __vm_get_page_table_entry(x.vm, TEST_VA2, &level);
	TEST_ASSERT(level == PG_LEVEL_1G, "PDPTE lookup");
	*pdpe = (SHARED_GPA + PD_PAGE * 4096) | PTE_FLAGS;
	vcpu_args_set(x.vcpu, 1, SHARED_GPA + PD_PAGE * 4096);
	member_enable(&x);

	/* X shadows its page directory PD (KVM write-tracks it). */
	v = member_sync(&x);
	TEST_ASSERT(v == 3, "X: TEST_VA2 reads %lu, not 3", v);

	/* A peer shadows PD too; then the memslot is deleted and re-created. */
	span_peer(x.vm, KVM_SPAN_SHADOW_IMPORT, pd_gfn);
	vm_set_user_memory_region(x.vm, SHARED_SLOT, 0, SHARED_GPA, 0, shared);
	vm_set_user_memory_region(x.vm, SHARED_SLOT, 0, SHARED_GPA,
				  SHARED_PAGES * getpagesize(), shared);
	invs = x.invs;
	member_sync(&x);
	TEST_ASSERT(x.invs == invs + 1,
		    "X's write to the imported frame sent %d INVs, not 1: the import did not survive the re-created memslot",
		    x.invs - invs);

	/* X shadows PD again; the peer stops: only KVM's own reference stays. */
	v = member_sync(&x);
	TEST_ASSERT(v == 3, "X: TEST_VA2 reads %lu after the re-creation, not 3", v);
	span_peer(x.vm, KVM_SPAN_SHADOW_RELEASE, pd_gfn);
	TEST_ASSERT_EQ(vm_get_stat(x.vm, "span_shadow_released"), 1);
	emulated = vcpu_stat(x.vcpu, "pf_emulate");
	member_sync(&x);
	TEST_ASSERT(vcpu_stat(x.vcpu, "pf_emulate") > emulated,
		    "X's write to its own page directory was not emulated: the release took KVM's write-tracking of a shadowed page table");
	TEST_ASSERT(x.invs == invs + 1, "INV for a released frame");
	member_done(&x);
	member_free(&x);
	ksft_test_result_pass("memslot re-created: import holds, release keeps KVM's protection\n");
}

static void test_bad_input(void)
{
	struct kvm_span_shadow_enable en = { .entries = 64, .eventfd = -1 };
	uint64_t gfns[KVM_SPAN_SHADOW_MAX_GFNS + 1];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int i, r;

	vm = vm_create_with_one_vcpu(&vcpu, guest_b);
	r = __span_peer(vm, KVM_SPAN_SHADOW_INVALIDATE_ALL, NULL, 0);
	TEST_ASSERT(r == -1 && errno == ENXIO, "PEER before ENABLE: %d", errno);

	for (i = 0; i < 4; i++) {
		struct kvm_span_shadow_enable bad = en;

		if (i == 0)
			bad.entries = 100;
		else if (i == 1)
			bad.entries = 8;
		else if (i == 2)
			bad.flags = 1;
		else
			bad.eventfd = -2;
		r = __vm_ioctl(vm, KVM_SPAN_SHADOW_ENABLE, &bad);
		TEST_ASSERT(r == -1 && errno == EINVAL, "bad ENABLE %d: %d", i, r);
	}
	r = __span_enable(vm, 64);
	TEST_ASSERT(r >= 0, "ENABLE: %d", errno);
	close(r);
	r = __span_enable(vm, 64);
	TEST_ASSERT(r == -1 && errno == EBUSY, "second ENABLE: %d", errno);

	/* Frames outside the guest's memory, in any position of a batch. */
	gfns[0] = 0;
	gfns[1] = 1ull << 35;
	for (i = KVM_SPAN_SHADOW_IMPORT; i <= KVM_SPAN_SHADOW_INVALIDATE; i++) {
		r = __span_peer(vm, i, gfns, 2);
		TEST_ASSERT(r == -1 && errno == EINVAL, "op %d, gfn outside memory", i);
	}
	TEST_ASSERT_EQ(vm_get_stat(vm, "span_shadow_imported"), 0);
	gfns[0] = ~0ull;
	r = __span_peer(vm, KVM_SPAN_SHADOW_IMPORT, gfns, 1);
	TEST_ASSERT(r == -1 && errno == EINVAL, "IMPORT of gfn ~0");
	/* Bounded batches, known ops, no stray arguments. */
	for (i = 0; i <= KVM_SPAN_SHADOW_MAX_GFNS; i++)
		gfns[i] = 0;
	r = __span_peer(vm, KVM_SPAN_SHADOW_IMPORT, gfns,
			KVM_SPAN_SHADOW_MAX_GFNS + 1);
	TEST_ASSERT(r == -1 && errno == EINVAL, "oversized batch");
	r = __span_peer(vm, KVM_SPAN_SHADOW_IMPORT, gfns, 0);
	TEST_ASSERT(r == -1 && errno == EINVAL, "empty batch");
	r = __span_peer(vm, 99, gfns, 1);
	TEST_ASSERT(r == -1 && errno == EINVAL, "unknown op");
	r = __span_peer(vm, KVM_SPAN_SHADOW_INVALIDATE_ALL, gfns, 1);
	TEST_ASSERT(r == -1 && errno == EINVAL, "INVALIDATE_ALL with gfns");
	r = __span_peer(vm, KVM_SPAN_SHADOW_IMPORT, (void *)8, 1);
	TEST_ASSERT(r == -1 && errno == EFAULT, "bad gfns pointer");

	/* Duplicates import once; release of a frame never imported is a no-op. */
	r = __span_peer(vm, KVM_SPAN_SHADOW_IMPORT, gfns, KVM_SPAN_SHADOW_MAX_GFNS);
	TEST_ASSERT(!r, "IMPORT of one frame 512 times: %d", errno);
	TEST_ASSERT_EQ(vm_get_stat(vm, "span_shadow_imported"), 1);
	gfns[0] = 1;
	span_peer(vm, KVM_SPAN_SHADOW_RELEASE, 1);
	TEST_ASSERT_EQ(vm_get_stat(vm, "span_shadow_released"), 0);
	span_peer(vm, KVM_SPAN_SHADOW_RELEASE, 0);
	TEST_ASSERT_EQ(vm_get_stat(vm, "span_shadow_released"), 1);

	/* A flood of invalidations completes: each call is bounded. */
	for (i = 0; i < 200; i++) {
		r = __span_peer(vm, KVM_SPAN_SHADOW_INVALIDATE, gfns,
				KVM_SPAN_SHADOW_MAX_GFNS);
		TEST_ASSERT(r >= 0, "INVALIDATE flood: %d", errno);
	}
	TEST_ASSERT_EQ(vm_get_stat(vm, "span_shadow_inv_received"),
		       200 * KVM_SPAN_SHADOW_MAX_GFNS);
	kvm_vm_free(vm);
	ksft_test_result_pass("bad input refused\n");
}

int main(int argc, char *argv[])
{
	int fd;
	char npt = '?';

	TEST_REQUIRE(kvm_has_cap(KVM_CAP_SPAN));
	if (!kvm_has_cap(KVM_CAP_SPAN_SHADOW)) {
		fd = open("/sys/module/kvm_amd/parameters/npt", O_RDONLY);
		if (fd >= 0) {
			if (read(fd, &npt, 1) != 1)
				npt = '?';
			close(fd);
		}
		ksft_exit_skip("KVM_CAP_SPAN_SHADOW is 0: KVM uses TDP (kvm_amd.npt=%c); %s\n",
			       npt, "shadow paging needs kvm_amd.npt=0 or kvm_intel.ept=0");
	}

	ksft_print_header();
	ksft_set_plan(4);
	test_relay();
	test_norelay();
	test_memslot_recreated();
	test_bad_input();
	ksft_finished();
}
