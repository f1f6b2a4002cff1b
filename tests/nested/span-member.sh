# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# One QEMU member of the Debian L2 in a multi-hypervisor topology (V2, V3,
# V4; tests/nested/span-topology.sh). Runs in an L1 as its /job/run (the
# L1's span-pci device, /dev/span0, is its way to spand) or in the lab
# itself, L0 (spand's socket). Set by the caller, before this text:
#   TOPO (V2...), SPAN (span name), WHERE (l1a, l1b, l1c or l0), VCPUS (the
#   member's vCPUs), OWNER (1: this member has the firmware, the serial
#   console and the virtio-blk disk), NCPU (the L2's vCPU count), BLK_CPU
#   (the vCPU that runs the disk test), HOSTS (e.g. "L1a and L1b"),
#   PIT (on: -machine pit=on, so a member without the devices keeps the
#   PC's PIT), SOCKET (default /dev/span0), L2_TIMEOUT (bound of the
#   member's QEMU on this level's clock, default 300 s), SPAN_TRACE (from
#   $N/params: QEMU trace events of the member, e.g. span_forward_io; the
#   member then prints the accesses it forwarded, by address, as
#   "NESTED-M: ... forwarded ..." lines).
# The owner prints the L2's results (NESTED-TAP lines); every member prints
# its query-span counters (SPAN-COUNTERS).
. /job/nested/lib.sh
L2_TIMEOUT=${L2_TIMEOUT:-300} L2_MEM=256M
# shellcheck source=/dev/null # written for the run (scripts/run-nested-tests)
[ -f "$N/params" ] && . "$N/params"
SOCKET=${SOCKET:-/dev/span0}
W=$(echo "$WHERE" | sed 's/^l1/L1/; s/^l0$/L0/')
[ "$WHERE" = l0 ] || echo "NESTED-M: level=$W mem_total_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) cpus=$(nproc)"
[ -c /dev/kvm ] || { nok "$TOPO $W has /dev/kvm # no /dev/kvm"; exit 0; }
case "$SOCKET" in /dev/*) [ -c "$SOCKET" ] || { nok "$TOPO $W has $SOCKET (span-pci) # no $SOCKET"; exit 0; } ;; esac
[ "$WHERE" = l0 ] || heartbeat_start 10
D=$T/$WHERE
mkdir -p "$D"
cp $N/params "$D/params" 2>/dev/null
echo "BLK_CPU=$BLK_CPU" >> "$D/params"
l2_initrd $N/l2-job.sh "$D/l2.rd" "$D/params"
rm -f "$D/qmp.in" "$D/qmp.out" && mkfifo "$D/qmp.in" "$D/qmp.out"
cat "$D/qmp.out" > "$D/qmp.log" &
{ printf '{"execute":"qmp_capabilities"}\n'; sleep 1000; } > "$D/qmp.in" &
QW=$!
set -- -span "$SPAN,socket=$SOCKET,member=$WHERE,vcpus=$VCPUS,wait=240"
if [ "$OWNER" = 1 ]; then
	dd if=/dev/zero of="$D/disk.img" bs=1M count=4 2>/dev/null
	set -- "$@" -drive "file=$D/disk.img,if=virtio,format=raw,cache=none"
fi
[ -z "$SPAN_TRACE" ] || set -- "$@" -trace "enable=$SPAN_TRACE"
# query-span every 5 s while the member runs (the last answer counts)
(
	while sleep 5; do printf '{"execute":"query-span"}\n' > "$D/qmp.in"; done
) &
QS=$!
# the job's exits: the owner sees its markers on the L2's console; another
# L1 is passed them by the lab on its ttyS1 (span_topology)
if [ "$WHERE" != l0 ] && [ "$EXIT_WATCH" = 1 ]; then
	if [ "$OWNER" = 1 ]; then
		WATCH_QMP=$D/qmp.in kvm_exits_watch "$D/l2.con" "$D/exits"
	elif [ -c /dev/ttyS1 ]; then
		kvm_exits_ctl_watch /dev/ttyS1 "$D/exits"
	fi
fi
SMP=$NCPU MEM=$L2_MEM TIMEOUT=$L2_TIMEOUT vm "L2 (Debian) member in $W" \
	$N/vmlinux-debian "$D/l2.rd" "$D/l2.con" -machine "kernel-irqchip=split${PIT:+,pit=$PIT}" \
	-chardev "pipe,id=qmp,path=$D/qmp" -mon chardev=qmp,mode=control "$@"
kill "$QS" "$QW" 2>/dev/null
[ "$WHERE" = l0 ] || heartbeat_stop
echo "NESTED-M: level=$W ${TOPO}_l2_launch_to_poweroff_ms=$VM_MS"
if [ "$WHERE" != l0 ] && [ "$EXIT_WATCH" = 1 ]; then
	kvm_exits_watch_stop
	echo "NESTED-M: level=$W who=$(echo "$TOPO" | tr '[:upper:]' '[:lower:]')-l2 cpu-job-exits$(kvm_exits_line "$D/exits")"
	sj=$(span_job_line "$D/qmp.log")
	[ -z "$sj" ] || echo "NESTED-M: level=$W who=$(echo "$TOPO" | tr '[:upper:]' '[:lower:]')-l2 cpu-job-span$sj"
fi
# the accesses this member forwarded to the owner, most frequent first
# (trace line: "span_forward_io cpu N pio|mmio write W 0xADDR size S: ...")
[ -z "$SPAN_TRACE" ] || tr -d '\r' < "$D/l2.con.qemu" | sed -n 's/.*span_forward_io cpu [0-9]* \([a-z]*\) write \([01]\) \(0x[0-9a-f]*\) size \([0-9]*\).*/\1 \3 w=\2 size=\4/p' |
	sort | uniq -c | sort -rn | head -n 12 |
	while read -r n sp a rest; do echo "NESTED-M: level=$W $TOPO forwarded $sp $a $rest count=$n"; done
c=$(grep -o '"counters": {[^}]*}' "$D/qmp.log" | tail -n 1)
echo "SPAN-COUNTERS $TOPO $W: $c"
e=$(echo "$c" | sed -n 's/.*"errors": \([0-9]*\).*/\1/p')
check "$TOPO $W member: query-span counted no errors (${e:-no answer})" [ "$e" = 0 ]
if [ "$OWNER" = 1 ]; then
	[ -z "$VM_ERR" ] || nok "$TOPO L2 boots and reports its job's status # $VM_ERR"
	check "$TOPO L2 (Debian) job exits 0" [ "$VM_STATUS" = 0 ]
	grep_check "$TOPO L2 runs Debian's unmodified kernel" 'guest: kernel=.*-amd64' "$D/l2.con"
	grep_check "$TOPO L2 brings up $NCPU vCPUs across $HOSTS" "online=0-$((NCPU - 1)) nproc=$NCPU " "$D/l2.con"
	grep_check "$TOPO parallel CPU-bound job ran on all $NCPU vCPUs ($HOSTS)" "NBENCH cpu rep=0 threads=$NCPU " "$D/l2.con"
	if [ "${BLK:-1}" = 1 ]; then	# BLK=0: the benchmark's guest has no disk test
		grep_check "$TOPO virtio-blk (owned by $W) written and read back from vCPU $BLK_CPU (another hypervisor)" "blk: checksums match on cpu $BLK_CPU" "$D/l2.con"
		a=$(tr -d '\r' < "$D/l2.con" | sed -n 's/^blk: written \([0-9a-f]*\).*/\1/p' | head -n 1)
		d=$(dd if="$D/disk.img" bs=64k count=32 2>/dev/null | md5sum | cut -d' ' -f1)
		check "$TOPO $W's disk file holds what vCPU $BLK_CPU wrote" [ -n "$a" -a "$a" = "$d" ]
	fi
	console_lines "$D/l2.con" 'NBENCH' | sed "s/^/NESTED-M: level=L2 who=$(echo "$TOPO" | tr '[:upper:]' '[:lower:]')-l2 /"
	console_lines "$D/l2.con" 'guest:' | sed "s/^/SPAN-GUEST $TOPO /"
	console_lines "$D/l2.con" 'blk:' | sed "s/^/SPAN-GUEST $TOPO /"
fi
if [ "$VM_STATUS" != 0 ] || [ "$OWNER" != 1 ]; then
	echo "--- L2 console in $W (tail)"; tr -d '\r' < "$D/l2.con" | tail -n 15
	echo "--- member qemu in $W"; tail -n 15 "$D/l2.con.qemu"
fi
exit 0
