# shellcheck shell=sh
# SPDX-License-Identifier: GPL-2.0
# Lab job for scripts/idle-stall (sourced from the job folder, busybox sh).
# Boots a 4-vCPU guest (our lab kernel, quiet) whose job sleeps 1 s at a
# time, forty times, running a trivial process on every vCPU in between:
# the vCPUs are idle most of the time.  A guest whose console stays silent
# for 12 s has stalled; the state of its local APICs, its clock and its
# hrtimer bases is printed (QMP), then the run ends.
#   KIND  plain: one QEMU; span: two members, vCPUs 0-1 and 2-3
#   CPU   the -cpu option (host, or host,-tsc-deadline)
#   RUNS  how many guests to boot one after another
# Prints "IDLE-STALL: KIND CPU run N: ok|stalled|failed ..." per run.
. /job/span/lib.sh

KIND=${KIND:-span} CPU=${CPU:-host} RUNS=${RUNS:-4}

cat > $T/idle.sh <<'JOB'
echo "guest-online=$(cat /sys/devices/system/cpu/online)"
i=0
while [ $i -lt 40 ]; do
	sleep 1
	for c in 0 1 2 3; do taskset -c $c true; done
	echo "tick $i"
	i=$((i + 1))
done
echo idle-done
JOB
mkinitrd $T/idle.sh $T/idle.rd
export SMP=4 MEMBER_TIMEOUT=150

# hmp N CMD: a human monitor command on member N's QMP (fd 7 or 8)
hmp() { echo "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\"$2\"}}" >&$((7 + $1)); }

one_run() {
	rm -f $T/c0 $T/c1
	ms=0
	[ "$KIND" = span ] && ms="0 1"
	for m in $ms; do
		rm -f "$T/q$m.in" "$T/q$m.out" "$T/q$m.log"
		mkfifo "$T/q$m.in" "$T/q$m.out"
		cat "$T/q$m.out" > "$T/q$m.log" &
	done
	if [ "$KIND" = span ]; then
		start_spand --create vm1:256M
		member $T/c0 $T/idle.rd -cpu "$CPU" -machine kernel-irqchip=split \
			-span vm1,socket=$SOCK,member=m0,vcpus=0-1 \
			-chardev pipe,id=qmp,path=$T/q0 -mon chardev=qmp,mode=control > $T/m0.txt 2>&1 &
		M0=$!
		member $T/c1 $T/idle.rd -cpu "$CPU" -machine kernel-irqchip=split \
			-span vm1,socket=$SOCK,member=m1,vcpus=2-3 \
			-chardev pipe,id=qmp,path=$T/q1 -mon chardev=qmp,mode=control > $T/m1.txt 2>&1 &
		M1=$!
		exec 7>$T/q0.in 8>$T/q1.in
	else
		member $T/c0 $T/idle.rd -cpu "$CPU" -machine kernel-irqchip=split \
			-chardev pipe,id=qmp,path=$T/q0 -mon chardev=qmp,mode=control > $T/m0.txt 2>&1 &
		M0=$! M1=
		exec 7>$T/q0.in 8>/dev/null
	fi
	echo '{"execute":"qmp_capabilities"}' >&7
	[ -n "$M1" ] && echo '{"execute":"qmp_capabilities"}' >&8
	last=0 same=0 n=0 result=failed
	while kill -0 $M0 2>/dev/null && [ $n -lt 140 ]; do
		sleep 1; n=$((n + 1))
		cur=$(cat $T/c0 $T/c1 2>/dev/null | wc -c)
		if [ "$cur" = "$last" ] && [ $n -gt 10 ]; then same=$((same + 1)); else same=0; fi
		last=$cur
		if grep -q idle-done $T/c0; then result=ok; break; fi
		if [ $same = 12 ]; then
			result="stalled after $(grep -c '^tick' $T/c0) ticks"
			for c in 0 1 2 3; do hmp 0 "info lapic $c"; done
			hmp 0 "info registers -a"
			echo '{"execute":"query-span"}' >&7
			sleep 3
			break
		fi
	done
	kill $M0 $M1 2>/dev/null; wait $M0 $M1 2>/dev/null
	exec 7>&- 8>&-
	[ "$KIND" = span ] && stop_spand
	wait 2>/dev/null
}

r=1
while [ $r -le "$RUNS" ]; do
	one_run
	echo "IDLE-STALL: $KIND $CPU run $r: $result"
	case "$result" in stalled*)
		echo "--- console"; tail -c 300 $T/c0
		echo "--- monitor"; sed 's/\\r\\n/\n/g' $T/q0.log | grep -E 'LVTT|IRR|ISR|HLT=|clock' ;;
	esac
	r=$((r + 1))
done
