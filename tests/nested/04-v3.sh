# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# check-nested V3: one unmodified Debian guest (3 vCPUs) on three L1s at
# once: vCPU 0, the firmware and the disk in L1a, vCPU 1 in L1b, vCPU 2 in
# L1c, which writes and reads back L1a's disk
# (tests/nested/span-topology.sh).
. /job/nested/lib.sh
. /job/nested/span-topology.sh
# step-bound: 1020 s (run-nested-tests' watchdog, host clock)
# Bounds about 2.5 times the slowest runs: the L2's boot is cross-member
# IPIs while three L1 vCPUs share the lab's two CPUs (its runs:
# Documentation/testing.rst, "nested").
L1_TIMEOUT=960 L2_TIMEOUT=900
# shellcheck source=/dev/null # written for the run (scripts/run-nested-tests)
[ -f "$N/params" ] && . "$N/params"
# three L1s in the lab's 4G and on its 2 CPUs: smaller than the defaults
L1_MEM=768M L1_SMP=1
span_topology V3 v3 3 2 "L1a, L1b and L1c" l1a:0:owner l1b:1 l1c:2
exit 0
