# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# check-nested V2: one unmodified Debian guest (2 vCPUs) on two L1s at once:
# vCPU 0, the firmware and the disk in L1a, vCPU 1 in L1b, which writes and
# reads back L1a's disk (tests/nested/span-topology.sh).
. /job/nested/lib.sh
. /job/nested/span-topology.sh
# step-bound: 1020 s (run-nested-tests' watchdog, host clock)
# V3's bounds: on the slow kind of machine the split L2 boots for minutes
# (its runs there and elsewhere: Documentation/testing.rst, "nested").
L1_TIMEOUT=960 L2_TIMEOUT=900
# L1_MEM and L1_SMP: run-nested-tests' defaults (1G, 2 vCPUs) from $N/params
# shellcheck source=/dev/null # written for the run (scripts/run-nested-tests)
[ -f "$N/params" ] && . "$N/params"
span_topology V2 v2 2 1 "L1a and L1b" l1a:0:owner l1b:1
exit 0
