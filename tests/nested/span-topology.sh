# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# span_topology, the lab (L0) half of the multi-hypervisor tests V2, V3 and
# V4 (tests/nested/0[345]-*.sh source this file). Starts spand with one span
# VM, then one QEMU member of the unmodified Debian L2 per hypervisor: in an
# L1 (our kernel and QEMU under the lab's KVM, reaching spand through a
# span-pci device: window = the guest's memory, channel = the members' rings
# and doorbells) or in L0 itself (spand's socket). Each member runs
# tests/nested/span-member.sh. The L2's memory is the span's: every
# hypervisor's KVM runs the one guest.
#
# span_topology TOPO SPAN NCPU BLK_CPU HOSTS MEMBER...
#   MEMBER is WHERE:VCPUS[:owner][:smp=N][:pit=on] with WHERE l1a, l1b,
#   l1c or l0 (smp: that L1's vCPUs instead of L1_SMP; pit=on: the member
#   keeps the PC's PIT, which a member without the devices leaves out by
#   default, Documentation/qemu-span.rst); the owner
#   has the firmware, console and disk. BLK_CPU is the vCPU that writes and
#   reads the owner's disk (on another hypervisor). HOSTS names them all.
# Uses L1_MEM, L1_SMP, L1_TIMEOUT and L2_TIMEOUT (set by the caller,
# $N/params may override; L2_TIMEOUT bounds each member's QEMU, on its
# hypervisor's clock, default 300 s).
span_topology() {
	topo=$1 span=$2 ncpu=$3 blk=$4 hosts=$5
	shift 5
	[ -f "$N/vmlinux-debian" ] || { nok "$topo Debian guest kernel present # missing (scripts/fetch-guest)"; return 0; }
	[ -c /dev/kvm ] || { nok "$topo the lab (L0) has /dev/kvm # no /dev/kvm in the lab"; return 0; }
	sock=$T/spand-$span.sock
	rm -f "$sock"
	spand --socket "$sock" --create "$span:256M" --max-members 4 --ring-size 64K 2> "$T/spand-$span.log" &
	spand_pid=$!
	i=0
	while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -S "$sock" ] || { nok "$topo spand starts # $(tail -n 2 "$T/spand-$span.log")"; return 0; }
	t0=$(now_ms)
	pids='' l1s='' owner_out=''
	# EXIT_WATCH=1 (the benchmark): the lab's view of every L1 during the
	# L2's CPU job, started by the owner L1's markers
	l0w='' l0con=''
	if [ "$EXIT_WATCH" = 1 ]; then
		for m in "$@"; do
			case "$m" in l0:*) continue ;; esac
			l0w="$l0w $topo-${m%%:*}"
			case "$m" in *:owner|*:owner:*) l0con=$T/$topo-${m%%:*}.con ;; esac
		done
		# shellcheck disable=SC2086 # $l0w: the L1s' names, one argument each
		[ -z "$l0con" ] || l0_job_watch "$l0con" $T/l0-$topo $l0w
	fi
	for m in "$@"; do
		where=${m%%:*} rest=${m#*:}
		vcpus=${rest%%:*} owner=0 smp=$L1_SMP pit=
		case "$rest" in *:owner|*:owner:*) owner=1 ;; esac
		case "$rest" in *:smp=*) smp=${rest##*:smp=} smp=${smp%%:*} ;; esac
		case "$rest" in *:pit=*) pit=${rest##*:pit=} pit=${pit%%:*} ;; esac
		vars="TOPO=$topo SPAN=$span WHERE=$where VCPUS=$vcpus OWNER=$owner NCPU=$ncpu BLK_CPU=$blk L2_TIMEOUT=${L2_TIMEOUT:-300} PIT=$pit"
		if [ "$where" = l0 ]; then
			# shellcheck disable=SC2086 # $vars: NAME=VALUE words, one argument each
			env $vars HOSTS="$hosts" SOCKET=$sock sh $N/span-member.sh > $T/$topo-l0.out 2>&1 &
			pids="$pids $!"
			[ $owner = 1 ] && owner_out=$T/$topo-l0.out
			continue
		fi
		l1s="$l1s $where"
		{ for v in $vars; do echo "$v"; done; echo "HOSTS='$hosts'"; cat "$N/span-member.sh"; } > "$T/$topo-$where.sh"
		l1_initrd "$T/$topo-$where.sh" "$T/$topo-$where.rd" || { nok "$topo $where initramfs # cannot build it"; return 0; }
		[ $owner = 1 ] && owner_out=$T/$topo-$where.con
		# the job control line of an L1 without the L2's console (its
		# ttyS1, the pipe CTL): l0_job_watch passes it the job's markers
		ctl=
		if [ -n "$l0con" ] && [ $owner = 0 ]; then
			ctl=$T/$topo-$where.ctl
			rm -f "$ctl.in" "$ctl.out" && mkfifo "$ctl.in" "$ctl.out"
			cat "$ctl.out" > /dev/null &	# ends with its QEMU, the only writer
		fi
		(
			set --
			[ -z "$ctl" ] || set -- -chardev "pipe,id=jobctl,path=$ctl" -serial chardev:jobctl
			SMP=$smp MEM=$L1_MEM TIMEOUT=$L1_TIMEOUT vm "$where ($topo)" /boot/vmlinux \
				"$T/$topo-$where.rd" "$T/$topo-$where.con" \
				-device "span-pci,socket=$sock,span=$span,window=256M,channel=2M" "$@"
			echo "$VM_STATUS" > "$T/$topo-$where.status"
		) &
		pids="$pids $!"
	done
	# shellcheck disable=SC2086 # $pids: one argument per pid
	wait $pids
	# shellcheck disable=SC2086 # $l0w: the L1s' names, one argument each
	[ -z "$l0con" ] || l0_job_lines "$(echo "$topo" | tr '[:upper:]' '[:lower:]')-l2" "$T/l0-$topo" $l0w
	echo "NESTED-M: level=L0 ${topo}_launch_to_poweroff_ms=$(( $(now_ms) - t0 )) l1_mem=$L1_MEM l1_smp=$L1_SMP"
	kill $spand_pid 2>/dev/null
	wait $spand_pid 2>/dev/null
	for where in $l1s; do
		W=$(echo "$where" | sed 's/^l1/L1/')
		console_lines "$T/$topo-$where.con" 'NESTED-' | grep -v '^NESTED-HB:'
		console_lines "$T/$topo-$where.con" 'SPAN-COUNTERS' | sed 's/^/NESTED-M: /'
		console_lines "$T/$topo-$where.con" 'SPAN-GUEST' 
		check "$topo $W job exits 0" [ "$(cat "$T/$topo-$where.status" 2>/dev/null)" = 0 ]
		grep_check "$topo $W's span-pci device joined span $span (L0 side)" "joined span '$span'" "$T/$topo-$where.con.qemu"
		grep_check "$topo spand: member $where joined $span through $W's device" "event=member_join.*$where" "$T/spand-$span.log"
	done
	if [ -f "$T/$topo-l0.out" ]; then
		grep '^NESTED-' "$T/$topo-l0.out"
		grep '^SPAN-COUNTERS' "$T/$topo-l0.out" | sed 's/^/NESTED-M: /'
		grep '^SPAN-GUEST' "$T/$topo-l0.out"
		grep_check "$topo spand: member l0 joined $span through its socket (L0)" "event=member_join.*l0" "$T/spand-$span.log"
	fi
	if ! grep -q "NESTED-TAP: ok $topo L2 (Debian) job exits 0" "$owner_out" 2>/dev/null ||
	   grep -q 'NESTED-TAP: not ok' "$owner_out" 2>/dev/null; then
		for where in $l1s; do
			echo "--- $where console (tail)"; tr -d '\r' < "$T/$topo-$where.con" | grep -v '^NESTED-' | tail -n 40
			echo "--- $where qemu (L0 side)"; tail -n 10 "$T/$topo-$where.con.qemu"
		done
		[ -f "$T/$topo-l0.out" ] && { echo "--- l0 member"; grep -v '^NESTED-' "$T/$topo-l0.out" | tail -n 40; }
		echo "--- spand"; grep -v heartbeat "$T/spand-$span.log" | tail -n 30
	fi
	return 0
}
