# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# check-nested V1 (plain nesting), the lab half: runs in the lab (L0) from
# scripts/run-nested-tests. Boots one L1 (our kernel and QEMU, L1_SMP vCPUs,
# L1_MEM) under the lab's KVM; the L1 runs v1-l1.sh, which boots the Debian
# guest as L2 and checks it. The L1's NESTED-TAP and NESTED-M lines are
# passed on.
. /job/nested/lib.sh
L1_SMP=2 L1_MEM=1G L1_TIMEOUT=330
# shellcheck source=/dev/null # written for the run (scripts/run-nested-tests)
[ -f "$N/params" ] && . "$N/params"
if [ ! -f $N/vmlinux-debian ]; then
	nok "V1 Debian guest kernel present # missing (scripts/fetch-guest)"; exit 0
fi
if [ ! -c /dev/kvm ]; then
	nok "V1 the lab (L0) has /dev/kvm # no /dev/kvm in the lab"; exit 0
fi
t0=$(now_ms)
l1_initrd $N/v1-l1.sh $T/l1.rd || { nok "V1 L1 initramfs # cannot build it"; exit 0; }
echo "NESTED-M: level=L0 l1_initrd_ms=$(( $(now_ms) - t0 )) l1_initrd_kb=$(( $(wc -c < $T/l1.rd) / 1024 ))"
SMP=$L1_SMP MEM=$L1_MEM TIMEOUT=$L1_TIMEOUT vm "L1 (our kernel and QEMU, V1)" /boot/vmlinux $T/l1.rd $T/l1.con
echo "NESTED-M: level=L0 v1_l1_launch_to_poweroff_ms=$VM_MS l1_mem=$L1_MEM l1_smp=$L1_SMP"
console_lines $T/l1.con 'NESTED-' | grep -v '^NESTED-HB:'
if ! console_lines $T/l1.con 'NESTED-TAP:' | grep -q .; then
	nok "V1 L1 boots and runs its job # ${VM_ERR:-no results on the L1 console}"
fi
check "V1 L1 job exits 0" [ "$VM_STATUS" = 0 ]
echo "NESTED-M: level=L0 v1_l1_last_heartbeat=\"$(last_heartbeat $T/l1.con)\""
if [ "$VM_STATUS" != 0 ] || console_lines $T/l1.con 'NESTED-TAP: not ok' | grep -q .; then
	echo "--- L1 console (tail)"; tr -d "\r" < $T/l1.con | grep -v "^NESTED-TAP:" | tail -n 40
	echo "--- L1 qemu"; tail -n 10 $T/l1.con.qemu
fi
exit 0
