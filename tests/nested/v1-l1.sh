# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# V1 (plain nesting), the L1 half: runs in the L1 (our kernel and QEMU, a
# KVM guest of the lab) as its /job/run, started by 01-v1.sh. Boots the
# unmodified Debian kernel as L2 under this L1's KVM with L2_SMP vCPUs and
# L2_MEM of memory and a virtio-blk disk (a file in this L1), which runs
# l2-job.sh (the parallel CPU-bound job and the disk write/read-back).
# Prints NESTED-TAP lines and NESTED-M measurements on its console.
. /job/nested/lib.sh
L2_SMP=2 L2_MEM=256M L2_TIMEOUT=240 L1_EXITS=0 BLK=1
# shellcheck source=/dev/null # written for the run (scripts/run-nested-tests)
[ -f "$N/params" ] && . "$N/params"
echo "NESTED-M: level=L1 mem_total_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) mem_avail_before_l2_kb=$(mem_avail_kb) cpus=$(nproc)"
if [ ! -c /dev/kvm ]; then
	nok "V1 L1 has /dev/kvm (kvm_amd nested=1 in the lab) # no /dev/kvm in the L1"
	exit 0
fi
ok "V1 L1 has /dev/kvm (kvm_amd nested=$(cat /sys/module/kvm_amd/parameters/nested 2>/dev/null))"
if [ "$L1_EXITS" -gt 0 ]; then
	$N/nested-bench exit "$L1_EXITS" 5 | grep median | sed 's/^/NESTED-M: level=L1 who=l1-itself /'
fi
heartbeat_start 10
l2_initrd $N/l2-job.sh $T/l2.rd
# the L2's disk, if any: QEMU arguments
set --
if [ "$BLK" = 1 ]; then
	dd if=/dev/zero of=$T/disk.img bs=1M count=4 2>/dev/null
	set -- -drive "file=$T/disk.img,if=virtio,format=raw,cache=none"
fi
(while :; do mem_avail_kb; sleep 1; done) > $T/avail &
S=$!
case "$EXIT_WATCH" in 1) kvm_exits_watch $T/l2.con $T/exits ;; boot) kvm_exits_watch $T/l2.con $T/exits boot ;; esac
SMP=$L2_SMP MEM=$L2_MEM TIMEOUT=$L2_TIMEOUT vm "L2 (Debian kernel, in the V1 L1)" \
	$N/vmlinux-debian $T/l2.rd $T/l2.con "$@"
kill $S 2>/dev/null
heartbeat_stop
echo "NESTED-M: level=L1 l2_launch_to_poweroff_ms=$VM_MS mem_avail_min_during_l2_kb=$(sort -n $T/avail | head -n 1)"
[ -z "$EXIT_WATCH" ] || kvm_exits_watch_stop
case "$EXIT_WATCH" in
1) echo "NESTED-M: level=L1 who=v1-l2 cpu-job-exits$(kvm_exits_line $T/exits)" ;;
boot) echo "NESTED-M: level=L1 who=v1-l2 boot-exits$(kvm_exits_line $T/exits)" ;;
esac
[ -z "$VM_ERR" ] || nok "V1 L2 boots and reports its job's status # $VM_ERR"
check "V1 L2 (Debian) job exits 0" [ "$VM_STATUS" = 0 ]
grep_check "V1 L2 runs Debian's unmodified kernel" 'guest: kernel=.*-amd64' $T/l2.con
grep_check "V1 L2 brings up $L2_SMP vCPUs" "nproc=$L2_SMP " $T/l2.con
grep_check "V1 parallel CPU-bound job ran on $L2_SMP vCPUs" "NBENCH cpu rep=0 threads=$L2_SMP " $T/l2.con
if [ "$BLK" = 1 ]; then
	grep_check "V1 virtio-blk write/read-back checksums match" 'blk: checksums match' $T/l2.con
	a=$(tr -d '\r' < $T/l2.con | sed -n 's/^blk: written \([0-9a-f]*\).*/\1/p' | head -n 1)
	d=$(dd if=$T/disk.img bs=64k count=32 2>/dev/null | md5sum | cut -d' ' -f1)
	check "V1 the L1's disk file holds what the L2 wrote" [ -n "$a" -a "$a" = "$d" ]
else
	skip "V1 virtio-blk write/read-back" "no disk in this run (BLK=0: benchmark)"
fi
console_lines $T/l2.con 'NBENCH' | sed 's/^/NESTED-M: level=L2 who=v1-l2 /'
console_lines $T/l2.con 'guest:' | sed 's/^/NESTED-M: level=L2 who=v1-l2 /'
if [ "$VM_STATUS" != 0 ]; then
	echo "--- L2 console (tail)"; tr -d '\r' < $T/l2.con | tail -n 20
	echo "--- L2 qemu"; tail -n 10 $T/l2.con.qemu
fi
exit 0
