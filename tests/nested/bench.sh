# SPDX-License-Identifier: GPL-2.0
# The lab half of `make bench-nested` (scripts/bench-nested): runs in the
# lab (L0). In one lab run, the same guest (Debian's kernel, L2_SMP vCPUs,
# L2_MEM, l2-job.sh without a disk) runs the same CPU-bound job
# (nested-bench cpu, CPU_REPS repetitions) and EXITS cpuid exits:
#   base   as a guest of L0 directly (an L1-level guest), before and after
#          the topologies (brackets the machine's drift);
#   V1     as the L2 of one L1 (plain nesting; the L1 also times EXITS
#          cpuid exits of its own);
#   V2..V4 not yet: they need the span-pci device and the L1 driver
#          (issue 7); each is one more run_topo_VN below, printing the same
#          lines with who=vN-l2.
# Every measurement is a line "NESTED-M: level=L who=W NBENCH ..." (or
# key=value pairs) on stdout; scripts/bench-nested turns them into JSON.
. /job/nested/lib.sh
L2_SMP=2 L2_MEM=256M L1_SMP=2 L1_MEM=1G L1_TIMEOUT=300 TOPOLOGIES=V1
[ -f $N/params ] && . $N/params

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
	SMP=$L1_SMP MEM=$L1_MEM TIMEOUT=$L1_TIMEOUT vm "L1 (V1)" /boot/vmlinux $T/l1.rd $T/l1.con
	echo "NESTED-M: level=L0 who=v1-l1 status=${VM_STATUS:-none} launch_to_poweroff_ms=$VM_MS${VM_ERR:+ error=\"$VM_ERR\"}"
	console_lines $T/l1.con 'NESTED-M:'
	console_lines $T/l1.con 'NESTED-TAP: not ok' | sed 's/^NESTED-TAP: /NESTED-M: level=L1 who=v1-l1 failed=/'
}

run_base 0
for t in $TOPOLOGIES; do
	case "$t" in
	V1) run_topo_V1 ;;
	*) echo "NESTED-M: level=L0 who=$(echo $t | tr A-Z a-z)-l2 status=not-implemented" ;;
	esac
done
run_base 1
exit 0
