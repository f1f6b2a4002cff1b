// SPDX-License-Identifier: GPL-2.0
/*
 * nested-bench: the guest half of `make bench-nested` and of the
 * check-nested CPU job (tests/nested/). A static program run in a guest at
 * any nesting level; one line per measurement, "NBENCH <kind> key=value...".
 *
 *   nested-bench cpu WORK REPS CPU...
 *       one thread pinned to each CPU runs WORK units of 1000 xorshift64
 *       steps (register-only, the same work on every CPU); the wall time
 *       from releasing the threads to the last one finishing, measured by
 *       a thread pinned to the first CPU given, on CLOCK_MONOTONIC
 *       (wall_ns) and in TSC ticks (tsc; the clock to compare topologies
 *       by: see tsc() in bench-util.h), and each thread's own run on its
 *       CPU's TSC (thread_tsc, in CPU order). REPS repetitions.
 *   nested-bench exit N PHASES
 *       N cpuid instructions (leaf 0) per phase on the current CPU: cpuid
 *       always exits to the hypervisor below, so one is one KVM exit round
 *       trip of this level (guest -> its KVM -> guest). Prints the time per
 *       exit of each phase and the median phase.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NAME "nested-bench"
#include "bench-util.h"

struct cpu_arg {
	int cpu;
	long work;
	uint64_t result;
	uint64_t ticks;		/* its own run, on its own CPU's TSC */
};

static atomic_int ready, go;

static void *worker(void *p)
{
	struct cpu_arg *a = p;
	uint64_t x = 88172645463325252ull + a->cpu, c0;

	pin(a->cpu);
	atomic_fetch_add(&ready, 1);
	while (!atomic_load(&go))
		usleep(100);
	c0 = tsc();
	for (long i = 0; i < a->work; i++)
		for (int j = 0; j < 1000; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
	a->result = x;
	a->ticks = tsc() - c0;
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
	/* start and end of every repetition on one vCPU (and one TSC) */
	pin((int)num(argv[2], 0));
	for (long r = 0; r < reps; r++) {
		struct cpu_arg a[n];
		pthread_t t[n];
		uint64_t t0, t1, c0, c1, sum = 0;

		atomic_store(&ready, 0);
		atomic_store(&go, 0);
		for (int i = 0; i < n; i++) {
			a[i] = (struct cpu_arg){ (int)num(argv[2 + i], 0), work, 0, 0 };
			if (pthread_create(&t[i], NULL, worker, &a[i]))
				die("pthread_create");
		}
		while (atomic_load(&ready) < n)
			usleep(1000);
		t0 = now_ns();
		c0 = tsc();
		atomic_store(&go, 1);
		for (int i = 0; i < n; i++) {
			pthread_join(t[i], NULL);
			sum += a[i].result;
		}
		c1 = tsc();
		t1 = now_ns();
		printf("NBENCH cpu rep=%ld threads=%d work=%ld wall_ns=%llu tsc=%llu check=%llx thread_tsc=",
		       r, n, work, (unsigned long long)(t1 - t0),
		       (unsigned long long)(c1 - c0),
		       (unsigned long long)(sum & 0xffff));
		for (int i = 0; i < n; i++)
			printf("%s%llu", i ? "," : "", (unsigned long long)a[i].ticks);
		printf("\n");
		fflush(stdout);
	}
	return 0;
}

static int cmd_exit(int argc, char **argv)
{
	long n, phases;
	uint64_t *per;

	if (argc != 2)
		return 2;
	n = num(argv[0], 1);
	phases = num(argv[1], 1);
	per = calloc(phases, sizeof(*per));
	if (!per)
		die("calloc");
	for (long p = 0; p < phases; p++) {
		unsigned int a, b, c, d;
		uint64_t t0 = now_ns();

		for (long i = 0; i < n; i++)
			__cpuid(0, a, b, c, d);
		per[p] = (now_ns() - t0) / n;
		printf("NBENCH exit phase=%ld n=%ld ns_per_exit=%llu\n", p, n,
		       (unsigned long long)per[p]);
	}
	qsort(per, phases, sizeof(*per), cmp_u64);
	printf("NBENCH exit-median n=%ld phases=%ld ns_per_exit=%llu\n", n, phases,
	       (unsigned long long)per[phases / 2]);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	int r = 2;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "cpu"))
		r = cmd_cpu(argc - 2, argv + 2);
	else if (argc >= 2 && !strcmp(argv[1], "exit"))
		r = cmd_exit(argc - 2, argv + 2);
	if (r == 2)
		fprintf(stderr, "usage: nested-bench cpu WORK REPS CPU... | exit N PHASES\n");
	return r;
}
