# SPDX-License-Identifier: GPL-2.0
# check-nested V2: one unmodified Debian guest (2 vCPUs) on two L1s at once.
# The lab (L0) runs spand with the span VM "v2" and boots L1a and L1b, each
# with a span-pci device (its window is the guest's memory, its channel the
# members' rings and doorbells); in each L1 our QEMU joins v2 through
# /dev/span0 (tests/nested/v2-l1.sh): vCPU 0, the firmware and the disk in
# L1a, vCPU 1 in L1b. The guest's parallel job runs on both vCPUs, and
# vCPU 1 writes and reads back L1a's disk. spand's log names both members.
. /job/nested/lib.sh
L1_MEM=768M L1_SMP=1 L1_TIMEOUT=330
[ -f $N/params ] && . $N/params
[ -f $N/vmlinux-debian ] || { nok "V2 Debian guest kernel present # missing (scripts/fetch-guest)"; exit 0; }
[ -c /dev/kvm ] || { nok "V2 the lab (L0) has /dev/kvm # no /dev/kvm in the lab"; exit 0; }
SOCK=$T/spand.sock
rm -f $SOCK
spand --socket $SOCK --create v2:256M --max-members 4 --ring-size 64K 2> $T/spand.log &
SPAND=$!
i=0
while [ ! -S $SOCK ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -S $SOCK ] || { nok "V2 spand starts # $(tail -n 2 $T/spand.log)"; exit 0; }
for r in a b; do
	{ echo "ROLE=$r"; cat $N/v2-l1.sh; } > $T/v2-l1$r.sh
	l1_initrd $T/v2-l1$r.sh $T/l1$r.rd || { nok "V2 L1$r initramfs # cannot build it"; exit 0; }
done
t0=$(now_ms)
for r in a b; do
	(
		SMP=$L1_SMP MEM=$L1_MEM TIMEOUT=$L1_TIMEOUT vm "L1$r (V2)" /boot/vmlinux \
			$T/l1$r.rd $T/l1$r.con \
			-device span-pci,socket=$SOCK,span=v2,window=256M,channel=2M
		echo "$VM_STATUS" > $T/l1$r.status
	) &
	eval P$r=$!
done
wait $Pa $Pb
echo "NESTED-M: level=L0 v2_both_l1_launch_to_poweroff_ms=$(( $(now_ms) - t0 )) l1_mem=$L1_MEM l1_smp=$L1_SMP"
kill $SPAND 2>/dev/null
wait $SPAND 2>/dev/null
for r in a b; do
	console_lines $T/l1$r.con 'NESTED-' | grep -v '^NESTED-HB:'
	console_lines $T/l1$r.con 'V2-COUNTERS' | sed 's/^/NESTED-M: /'
	check "V2 L1$r job exits 0" [ "$(cat $T/l1$r.status 2>/dev/null)" = 0 ]
done
for r in a b; do
	grep_check "V2 L1$r's span-pci device joined span v2 (L0 side)" "joined span 'v2'" $T/l1$r.con.qemu
	grep_check "V2 spand: member l1$r joined v2 through L1$r's device" "event=member_join.*l1$r" $T/spand.log
done
if console_lines $T/l1a.con 'NESTED-TAP: not ok' | grep -q . || ! console_lines $T/l1a.con 'NESTED-TAP: ok V2 L2 (Debian) job exits 0' | grep -q .; then
	for r in a b; do
		echo "--- L1$r console (tail)"; tr -d '\r' < $T/l1$r.con | grep -v '^NESTED-' | tail -n 40
		echo "--- L1$r qemu (L0 side)"; tail -n 10 $T/l1$r.con.qemu
	done
	echo "--- spand"; grep -v heartbeat $T/spand.log | tail -n 30
fi
exit 0
