# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# The lab half of `make bench-nested` (scripts/bench-nested): runs in the
# lab (L0). In one lab run, the same guest (Debian's kernel, L2_SMP vCPUs,
# L2_MEM, l2-job.sh without a disk) runs the same CPU-bound job
# (nested-bench cpu, CPU_REPS repetitions) and EXITS cpuid exits:
#   base   as a guest of L0 directly (an L1-level guest), before and after
#          the topologies (brackets the machine's drift);
#   V1     as the L2 of one L1 (plain nesting; the L1 also times EXITS
#          cpuid exits of its own);
#   V2     across two L1s (vCPU 0 in L1a, vCPU 1 in L1b; span-topology.sh,
#          the same as check-nested's 03-v2.sh without the disk test),
#          lines with who=v2-l2; V3 and V4 likewise (not in the default);
#          ROUNDS rounds of them, alternating order, lines tagged round=N.
# The L1s count their KVM exits during the L2's CPU job (cpu-job-exits),
# the lab those of every L1 (l0-job-exits, per L1: also of an L1 without
# the L2's console).
# With IPI_RT > 0 every guest also times a futex ping-pong between vCPU 0
# and its last vCPU (a wake-up IPI each way: across L1s in V2).
# Every measurement is a line "NESTED-M: level=L who=W NBENCH ..." (or
# key=value pairs) on stdout; scripts/bench-nested turns them into JSON.
. /job/nested/lib.sh
. /job/nested/span-topology.sh
L2_SMP=2 L2_MEM=256M L1_SMP=2 L1_MEM=1G L1_TIMEOUT=300 TOPOLOGIES=V1 ROUNDS=1
# shellcheck source=/dev/null # written for the run (scripts/run-nested-tests)
[ -f "$N/params" ] && . "$N/params"

# run_base TAG: the guest as a guest of L0.
run_base() {
	l2_initrd $N/l2-job.sh $T/base.rd
	SMP=$L2_SMP MEM=$L2_MEM TIMEOUT=600 vm "the baseline guest (Debian, guest of L0)" \
		$N/vmlinux-debian $T/base.rd $T/base.con
	echo "NESTED-M: level=L1 who=base run=$1 status=${VM_STATUS:-none} launch_to_poweroff_ms=$VM_MS${VM_ERR:+ error=\"$VM_ERR\"}"
	console_lines $T/base.con 'NBENCH' | sed "s/^/NESTED-M: level=L1 who=base run=$1 /"
	console_lines $T/base.con 'guest:' | sed "s/^/NESTED-M: level=L1 who=base run=$1 /"
}

run_topo_V1() {
	l1_initrd $N/v1-l1.sh $T/l1.rd || return 1
	l0_job_watch $T/l1.con $T/l0-v1 l1
	SMP=$L1_SMP MEM=$L1_MEM TIMEOUT=$L1_TIMEOUT vm "L1 (V1)" /boot/vmlinux $T/l1.rd $T/l1.con
	l0_job_lines v1-l2 $T/l0-v1 l1
	echo "NESTED-M: level=L0 who=v1-l1 status=${VM_STATUS:-none} launch_to_poweroff_ms=$VM_MS${VM_ERR:+ error=\"$VM_ERR\"}"
	console_lines $T/l1.con 'NESTED-M:'
	console_lines $T/l1.con 'NESTED-TAP: not ok' | sed 's/^NESTED-TAP: /NESTED-M: level=L1 who=v1-l1 failed=/'
}

# run_topo T: one topology's run (its lines on stdout)
run_topo() {
	case "$1" in
	V1) run_topo_V1 ;;
	# one vCPU per L1 in V2: each hosts one vCPU of the guest, and the lab
	# has 2 CPUs (2 L1s x 2 vCPUs would measure CPU contention in the lab,
	# not Span: V1's one L1 has 2 vCPU threads, so do V2's two L1s)
	# (bounds as in check-nested's 03-v2.sh and 04-v3.sh)
	V2) L1_SMP=1 L1_TIMEOUT=480 L2_TIMEOUT=450 span_topology V2 v2 2 1 "L1a and L1b" l1a:0:owner l1b:1 ;;
	# V2 with a second vCPU in the owner's L1 (for its QEMU main loop)
	V2b) L1_SMP=1 L1_TIMEOUT=480 L2_TIMEOUT=450 span_topology V2b v2b 2 1 "L1a and L1b" l1a:0:owner:smp=2 l1b:1 ;;
	# V2 with the PIT of L1b's member running (-machine pit=on), as before
	# members without the devices left it out: what it cost
	V2p) L1_SMP=1 L1_TIMEOUT=480 L2_TIMEOUT=450 span_topology V2p v2p 2 1 "L1a and L1b" l1a:0:owner l1b:1:pit=on ;;
	V3) L1_SMP=1 L1_MEM=768M L1_TIMEOUT=960 L2_TIMEOUT=900 span_topology V3 v3 3 2 "L1a, L1b and L1c" l1a:0:owner l1b:1 l1c:2 ;;
	V4) span_topology V4 v4 2 1 "L1a and L0" l1a:0:owner l0:1 ;;
	*) echo "NESTED-M: level=L0 who=$(echo "$1" | tr '[:upper:]' '[:lower:]')-l2 status=unknown-topology" ;;
	esac
}

run_base 0
# ROUNDS rounds of every topology, the order reversed every other round so
# that a drift of the machine weighs on each the same; every line carries
# its round, and the ratios are taken per round (scripts/bench-nested).
rev=
for t in $TOPOLOGIES; do rev="$t $rev"; done
r=1
while [ $r -le $ROUNDS ]; do
	order=$TOPOLOGIES
	[ $((r % 2)) = 0 ] && order=$rev
	for t in $order; do
		echo "nested: round $r: $t" >&2
		run_topo "$t" | sed "s/^NESTED-M: /NESTED-M: round=$r /"
	done
	r=$((r + 1))
done
run_base 1
# span-pci window attach times, 256 MiB and 1 GiB (the check-nested smoke
# test; L0 QEMU times each attach)
sh $N/02-span-pci.sh | grep '^NESTED-M: span-pci-attach'
exit 0
