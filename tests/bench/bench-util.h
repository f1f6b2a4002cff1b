/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the in-guest benchmark programs (tests/bench/span-bench.c,
 * tests/nested/nested-bench.c).  Define BENCH_NAME (the program's name, for
 * messages) before including it.  Static programs, built with gcc -static.
 */
#ifndef SPAN_BENCH_UTIL_H
#define SPAN_BENCH_UTIL_H

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

static void die(const char *what)
{
	fprintf(stderr, BENCH_NAME ": %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * The TSC of the CPU running the caller, ordered after earlier loads.  Use
 * it for intervals that start and end on one vCPU: a split guest's
 * CLOCK_MONOTONIC mixes the kvmclocks of several hypervisors (the guest
 * never lets it go backwards across CPUs, so one hypervisor's clock can
 * drag another's readings), while the TSC ticks at the same rate at every
 * nesting level of the lab.
 */
static uint64_t tsc(void)
{
	_mm_lfence();
	return __rdtsc();
}

/* A number >= min from the command line (decimal, 0x hex); exit 2 if not. */
static long num(const char *s, long min)
{
	char *end;
	long v = strtol(s, &end, 0);

	if (*s == '\0' || *end != '\0' || v < min) {
		fprintf(stderr, BENCH_NAME ": bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

/* Pins the calling thread to cpu and checks that it runs there. */
static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
	if (sched_getcpu() != cpu) {
		sched_yield();
		if (sched_getcpu() != cpu) {
			fprintf(stderr, BENCH_NAME ": not running on CPU %d\n", cpu);
			exit(1);
		}
	}
}

/* qsort comparison of uint64_t samples */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

#endif
