# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# check-nested V4: one unmodified Debian guest (2 vCPUs) on one L1 and on
# L0 at once: vCPU 0, the firmware and the disk in L1a, vCPU 1 in a QEMU
# member in the lab itself (L0, spand's socket), which writes and reads back
# L1a's disk (tests/nested/span-topology.sh).
. /job/nested/lib.sh
. /job/nested/span-topology.sh
L1_TIMEOUT=330
# L1_MEM and L1_SMP: run-nested-tests' defaults (1G, 2 vCPUs) from $N/params
# shellcheck source=/dev/null # written for the run (scripts/run-nested-tests)
[ -f "$N/params" ] && . "$N/params"
span_topology V4 v4 2 1 "L1a and L0" l1a:0:owner l0:1
exit 0
