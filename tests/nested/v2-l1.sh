# SPDX-License-Identifier: GPL-2.0
# V2 (one guest on two L1s), the L1 half: runs in L1a or L1b (ROLE=a|b,
# set by tests/nested/v2.sh) as its /job/run. Each L1 reaches the
# span VM "v2" through its span-pci device (/dev/span0) and runs one QEMU
# member of the Debian L2: L1a hosts vCPU 0, the firmware, the serial
# console and the virtio-blk disk; L1b hosts vCPU 1. The L2's RAM is the
# span window, so both L1s' KVMs run the one guest. L1a prints the L2's
# results (NESTED-TAP lines); both print their member's query-span counters.
. /job/nested/lib.sh
L2_TIMEOUT=300 L2_MEM=256M
[ -f $N/params ] && . $N/params
echo "NESTED-M: level=L1$ROLE mem_total_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) cpus=$(nproc)"
[ -c /dev/kvm ] || { nok "V2 L1$ROLE has /dev/kvm # no /dev/kvm"; exit 0; }
[ -c /dev/span0 ] || { nok "V2 L1$ROLE has /dev/span0 (span-pci) # no /dev/span0"; exit 0; }
heartbeat_start 10
# the disk test runs on vCPU 1 (L1b), the disk is L1a's
echo "BLK_CPU=1" >> $N/params
l2_initrd $N/l2-job.sh $T/l2.rd
rm -f $T/qmp.in $T/qmp.out && mkfifo $T/qmp.in $T/qmp.out
cat $T/qmp.out > $T/qmp.log &
{ printf '{"execute":"qmp_capabilities"}\n'; sleep 1000; } > $T/qmp.in &
QW=$!
if [ "$ROLE" = a ]; then
	dd if=/dev/zero of=$T/disk.img bs=1M count=4 2>/dev/null
	set -- -span v2,socket=/dev/span0,member=l1a,vcpus=0,wait=240 \
		-drive file=$T/disk.img,if=virtio,format=raw,cache=none
else
	set -- -span v2,socket=/dev/span0,member=l1b,vcpus=1,wait=240
fi
# query-span every 5 s while the member runs (the last answer counts)
(
	while sleep 5; do printf '{"execute":"query-span"}\n' > $T/qmp.in; done
) &
QS=$!
SMP=2 MEM=$L2_MEM TIMEOUT=$L2_TIMEOUT vm "L2 (Debian) member in L1$ROLE" \
	$N/vmlinux-debian $T/l2.rd $T/l2.con -machine kernel-irqchip=split \
	-chardev pipe,id=qmp,path=$T/qmp -mon chardev=qmp,mode=control "$@"
kill $QS $QW 2>/dev/null
heartbeat_stop
echo "NESTED-M: level=L1$ROLE v2_l2_launch_to_poweroff_ms=$VM_MS"
c=$(grep -o '"counters": {[^}]*}' $T/qmp.log | tail -n 1)
echo "V2-COUNTERS L1$ROLE: $c"
if [ "$ROLE" = a ]; then
	[ -z "$VM_ERR" ] || nok "V2 L2 boots and reports its job's status # $VM_ERR"
	check "V2 L2 (Debian) job exits 0" [ "$VM_STATUS" = 0 ]
	grep_check "V2 L2 runs Debian's unmodified kernel" 'guest: kernel=.*-amd64' $T/l2.con
	grep_check "V2 L2 brings up 2 vCPUs across L1a and L1b" "online=0-1 nproc=2 " $T/l2.con
	grep_check "V2 parallel CPU-bound job ran on both vCPUs (L1a, L1b)" "NBENCH cpu rep=0 threads=2 " $T/l2.con
	grep_check "V2 virtio-blk (owned by L1a) written and read back from vCPU 1 (L1b)" 'blk: checksums match on cpu 1' $T/l2.con
	a=$(tr -d '\r' < $T/l2.con | sed -n 's/^blk: written \([0-9a-f]*\).*/\1/p' | head -n 1)
	d=$(dd if=$T/disk.img bs=64k count=32 2>/dev/null | md5sum | cut -d' ' -f1)
	check "V2 L1a's disk file holds what vCPU 1 wrote" [ -n "$a" -a "$a" = "$d" ]
	console_lines $T/l2.con 'NBENCH' | sed 's/^/NESTED-M: level=L2 who=v2-l2 /'
fi
if [ "$VM_STATUS" != 0 ] || [ "$ROLE" = b ]; then
	echo "--- L2 console in L1$ROLE (tail)"; tr -d '\r' < $T/l2.con | tail -n 15
	echo "--- member qemu in L1$ROLE"; tail -n 15 $T/l2.con.qemu
fi
exit 0
