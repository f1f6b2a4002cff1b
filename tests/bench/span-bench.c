// SPDX-License-Identifier: GPL-2.0
/*
 * span-bench: the guest half of `make bench-span` (scripts/bench-span).
 * A static program that runs inside a (span) guest and prints one line per
 * measurement, "BENCH <kind> key=value...", which the lab script collects.
 *
 * Intervals of ipi, mmio and pio are timed with the TSC (see tsc_per_ns).
 *
 *   span-bench cpu WORK REPS CPU...
 *       one thread pinned to each CPU runs WORK units of integer work (the
 *       same fixed work on every CPU); the wall time from releasing the
 *       threads to the last one finishing is measured on CLOCK_MONOTONIC by
 *       the main thread, pinned to the first CPU. REPS repetitions.
 *   span-bench ipi ROUNDTRIPS PHASES A:B...
 *       futex ping-pong between two threads pinned to CPUs A and B while the
 *       other vCPUs are idle: one round trip is A waking B and B waking A,
 *       each a futex wake of a thread whose vCPU is halted (the guest kernel
 *       sends a reschedule IPI), including the guest scheduler's wake-up
 *       path. The pairs alternate phase by phase (A:B, C:D, A:B, ...);
 *       every round trip is timed; the median per phase is printed.
 *   span-bench mmio RESOURCE ACCESSES PHASES CPU...
 *       1-byte reads of the first byte of a PCI memory BAR (a sysfs
 *       resourceN file, mmap()ed), from a thread pinned to each CPU in turn,
 *       phase by phase; every access is timed.
 *   span-bench pio RESOURCE ACCESSES PHASES CPU...
 *       the same with a PCI I/O BAR: pread() of 1 byte from the sysfs
 *       resourceN file, which the kernel turns into one inb.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#define BENCH_NAME "span-bench"
#include "bench-util.h"

/*
 * Short intervals are timed with the TSC of the vCPU the thread is pinned
 * to (start and end on the same vCPU), converted with the TSC rate
 * calibrated against CLOCK_MONOTONIC on the first CPU at start-up. The
 * guest's clock was not trusted there: before the members synchronised
 * their kvmclocks exactly, every access on the second member's vCPUs once
 * "took" 0 ns by it.  The mmio and pio lines print the whole phase on both
 * clocks, which would show such a difference.
 */
static double tsc_per_ns;

static uint64_t tsc_ns(uint64_t ticks)
{
	return (uint64_t)(ticks / tsc_per_ns);
}

static void calibrate(void)
{
	uint64_t t0 = now_ns(), c0 = tsc(), t1, c1;

	do
		t1 = now_ns();
	while (t1 - t0 < 50000000);	/* 50 ms */
	c1 = tsc();
	tsc_per_ns = (double)(c1 - c0) / (t1 - t0);
	printf("BENCH tsc mhz=%.1f\n", tsc_per_ns * 1000);
}

/* Median of n samples (sorts them). */
static uint64_t median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- cpu ---- */

struct cpu_arg {
	int cpu;
	long work;
	uint64_t result;
};

/*
 * The workers wait for the start in the kernel (futex), not spinning, so
 * that the main thread, pinned to the same vCPU as the first worker, never
 * depends on preemption to give the start signal.
 */
static atomic_int cpu_ready, cpu_go;

static void *cpu_worker(void *p)
{
	struct cpu_arg *a = p;
	uint64_t x = 88172645463325252ull + a->cpu;

	pin(a->cpu);
	atomic_fetch_add(&cpu_ready, 1);
	while (!atomic_load(&cpu_go))
		syscall(SYS_futex, &cpu_go, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	/* xorshift64 steps: register-only, the same work on every CPU */
	for (long i = 0; i < a->work; i++)
		for (int j = 0; j < 1000; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
	a->result = x;
	return NULL;
}

static int cmd_cpu(int argc, char **argv)
{
	long work, reps;
	int n = argc - 2;

	if (argc < 3)
		return 2;
	work = num(argv[0], 1);
	reps = num(argv[1], 1);
	pin((int)num(argv[2], 0));
	for (long r = 0; r < reps; r++) {
		struct cpu_arg a[n];
		pthread_t t[n];
		uint64_t t0, t1, sum = 0;

		atomic_store(&cpu_ready, 0);
		atomic_store(&cpu_go, 0);
		for (int i = 0; i < n; i++) {
			a[i] = (struct cpu_arg){ (int)num(argv[2 + i], 0), work, 0 };
			if (pthread_create(&t[i], NULL, cpu_worker, &a[i]))
				die("pthread_create");
		}
		while (atomic_load(&cpu_ready) < n)	/* every worker on its CPU */
			usleep(1000);
		usleep(10000);	/* and asleep in its futex wait */
		t0 = now_ns();
		atomic_store(&cpu_go, 1);
		syscall(SYS_futex, &cpu_go, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
		for (int i = 0; i < n; i++) {
			pthread_join(t[i], NULL);
			sum += a[i].result;
		}
		t1 = now_ns();
		printf("BENCH cpu rep=%ld threads=%d work=%ld wall_ns=%llu check=%llx\n",
		       r, n, work, (unsigned long long)(t1 - t0),
		       (unsigned long long)(sum & 0xffff));
		fflush(stdout);
	}
	return 0;
}

/* ---- ipi (futex ping-pong) ---- */

static atomic_int turn;	/* 0: A's turn, 1: B's turn, 2: stop */

static void futex_wait(atomic_int *f, int val)
{
	syscall(SYS_futex, f, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(atomic_int *f)
{
	syscall(SYS_futex, f, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *pong(void *p)
{
	int v;

	pin(*(int *)p);
	for (;;) {
		while ((v = atomic_load(&turn)) == 0)
			futex_wait(&turn, 0);
		if (v == 2)
			return NULL;
		atomic_store(&turn, 0);
		futex_wake(&turn);
	}
}

static uint64_t pingpong(int a, int b, long n)
{
	uint64_t *s = calloc(n, sizeof(*s)), m;
	pthread_t t;

	if (!s)
		die("calloc");
	atomic_store(&turn, 0);
	if (pthread_create(&t, NULL, pong, &b))
		die("pthread_create");
	pin(a);
	usleep(20000);	/* B is on its CPU and asleep */
	for (long i = -10; i < n; i++) {	/* 10 warm-up round trips */
		uint64_t t0 = tsc();

		atomic_store(&turn, 1);
		futex_wake(&turn);
		while (atomic_load(&turn) == 1)
			futex_wait(&turn, 1);
		if (i >= 0)
			s[i] = tsc() - t0;
	}
	atomic_store(&turn, 2);
	futex_wake(&turn);
	pthread_join(t, NULL);
	m = tsc_ns(median(s, n));
	free(s);
	return m;
}

static int cmd_ipi(int argc, char **argv)
{
	long n, phases;

	if (argc < 3)
		return 2;
	n = num(argv[0], 1);
	phases = num(argv[1], 1);
	for (long p = 0; p < phases; p++)
		for (int i = 2; i < argc; i++) {
			int a, b;

			if (sscanf(argv[i], "%d:%d", &a, &b) != 2)
				return 2;
			printf("BENCH ipi pair=%d:%d phase=%ld roundtrips=%ld median_ns=%llu\n",
			       a, b, p, n, (unsigned long long)pingpong(a, b, n));
			fflush(stdout);
		}
	return 0;
}

/* ---- mmio / pio ---- */

static int cmd_access(int argc, char **argv, int mmio)
{
	long n, phases;
	volatile uint8_t *bar = NULL;
	uint64_t *s;
	int fd;

	if (argc < 4)
		return 2;
	n = num(argv[1], 1);
	phases = num(argv[2], 1);
	fd = open(argv[0], mmio ? O_RDWR | O_SYNC : O_RDONLY);
	if (fd < 0)
		die(argv[0]);
	if (mmio) {
		bar = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		if (bar == MAP_FAILED)
			die("mmap");
	}
	s = calloc(n, sizeof(*s));
	if (!s)
		die("calloc");
	for (long p = 0; p < phases; p++)
		for (int c = 3; c < argc; c++) {
			int cpu = (int)num(argv[c], 0);
			uint8_t v = 0;

			uint64_t c0, k0;

			pin(cpu);
			c0 = now_ns();
			k0 = tsc();
			for (long i = -10; i < n; i++) {
				uint64_t t0 = tsc();

				if (mmio)
					v += bar[0];
				else if (pread(fd, (void *)&v, 1, 0) != 1)
					die("pread");
				if (i >= 0)
					s[i] = tsc() - t0;
			}
			/* the whole phase on this vCPU's clock and on its TSC */
			k0 = tsc_ns(tsc() - k0);
			c0 = now_ns() - c0;
			printf("BENCH %s cpu=%d phase=%ld accesses=%ld median_ns=%llu phase_clock_ns=%llu phase_tsc_ns=%llu\n",
			       mmio ? "mmio" : "pio", cpu, p, n,
			       (unsigned long long)tsc_ns(median(s, n)),
			       (unsigned long long)c0, (unsigned long long)k0);
			fflush(stdout);
		}
	free(s);
	return 0;
}

int main(int argc, char **argv)
{
	cpu_set_t all;
	int r = 2;

	/* calibrate the TSC on CPU 0 (the first member's), then run anywhere */
	if (sched_getaffinity(0, sizeof(all), &all))
		die("sched_getaffinity");
	pin(0);
	calibrate();
	if (sched_setaffinity(0, sizeof(all), &all))
		die("sched_setaffinity");

	if (argc >= 2 && !strcmp(argv[1], "cpu"))
		r = cmd_cpu(argc - 2, argv + 2);
	else if (argc >= 2 && !strcmp(argv[1], "ipi"))
		r = cmd_ipi(argc - 2, argv + 2);
	else if (argc >= 2 && !strcmp(argv[1], "mmio"))
		r = cmd_access(argc - 2, argv + 2, 1);
	else if (argc >= 2 && !strcmp(argv[1], "pio"))
		r = cmd_access(argc - 2, argv + 2, 0);
	if (r == 2)
		fprintf(stderr, "usage: span-bench cpu WORK REPS CPU... | ipi ROUNDTRIPS PHASES A:B... |\n"
			"       mmio|pio RESOURCE ACCESSES PHASES CPU...\n");
	return r;
}
