# shellcheck shell=sh
# SPDX-License-Identifier: GPL-2.0
# early-reset.sh: reproduce the early reset of a split guest (a 2+2 guest
# that resets within seconds of start, console empty; tests/span/known-flaky)
# and catch it: RUNS boots of the 02-split guest; members run with
# -action reboot=shutdown,shutdown=pause so that a reset freezes both, and
# the first frozen boot's QMP events, vCPU registers and LAPICs of both
# members are printed.  It needs tests/span/lib.sh and tests/lib/lab.sh
# (which lib.sh sources) next to it in the job folder (/job/span), e.g.:
#   job=$(mktemp -d build/lab/job.XXXXXX); mkdir $job/span
#   cp tests/span/lib.sh tests/lib/lab.sh tests/lab/early-reset.sh $job/span/
#   echo 'RUNS=25 sh /job/span/early-reset.sh' > $job/job.sh
#   scripts/lab --timeout 1500 --job $job --script $job/job.sh
# RUNS (default 20), CATCH (stop after this many resets, default 1) and
# KERNEL_ARGS (e.g. loglevel=7), WORKLOAD (see below) and PLAIN=1 (the
# control: the same guest in one QEMU without -span) and M1_DELAY (start
# member 1 this many seconds after member 0) and LOAD (below) from the
# environment.
. /job/span/lib.sh
RUNS=${RUNS:-20}
# WORKLOAD=net: 08-virtio-net's guest instead (virtio-net on member 0, a
# DHCP lease and downloads from busybox httpd in the lab on every vCPU),
# which hit the crash in about one boot of ten.
M0_ARGS=
if [ "${WORKLOAD:-hello}" = net ]; then
	mkdir -p $T/www && dd if=/dev/urandom of=$T/www/blob bs=64k count=8 2>/dev/null
	WWW_MD5=$(md5sum < $T/www/blob | cut -d' ' -f1)
	httpd -f -p 127.0.0.1:8080 -h $T/www &
	M0_ARGS="-netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile="
	cat > $T/er.sh <<'JOB'
ip link set eth0 up
udhcpc -i eth0 -n -q -t 5 -T 2 -s /bin/true >/dev/null 2>&1
ip addr add 10.0.2.15/24 dev eth0 2>/dev/null; ip route add default via 10.0.2.2 2>/dev/null
for c in 0 1 2 3; do
	taskset -c $c sh -c 'ping -c 2 -W 5 10.0.2.2 >/dev/null; wget -q -O /tmp/g$0 http://10.0.2.2:8080/blob; echo "cpu $0: $(md5sum < /tmp/g$0)"' $c
done
JOB
else
	cat > $T/er.sh <<'JOB'
echo "guest-online=$(cat /sys/devices/system/cpu/online)"
JOB
fi
mkinitrd $T/er.sh $T/er.rd
qmp() { printf '{"execute":"human-monitor-command","arguments":{"command-line":"%s"}}\n' "$2" | timeout 5 tee "$T/q$1.in" > /dev/null || echo "early-reset: member $1 takes no monitor command (exited?)"; }
# LOAD=N: N busy loops in the lab while the guests run (the crash came
# more often on a loaded machine).
for i in $(seq 1 "${LOAD:-0}"); do sh -c 'while :; do :; done' & done
caught=0 ok=0 MS="0 1"
[ "${PLAIN:-0}" = 1 ] && MS=0
for run in $(seq 1 "$RUNS"); do
	start_spand --create vm1:256M || { echo "early-reset: spand did not start"; exit 1; }
	rm -f $T/c0 $T/c1
	for m in $MS; do
		rm -f "$T/q$m.in" "$T/q$m.out" "$T/q$m.log" && mkfifo "$T/q$m.in" "$T/q$m.out"
		cat "$T/q$m.out" > "$T/q$m.log" &
		{ printf '{"execute":"qmp_capabilities"}\n'; sleep 300; } > "$T/q$m.in" &
		eval "W$m=\$!"
	done
	export SMP=4 MEMBER_TIMEOUT=120
	# frozen N CONSOLE ARGS...: a member (or the plain QEMU) that pauses on
	# a reset, with its QMP monitor on the fifos $T/qN.{in,out}
	frozen() {
		n=$1 con=$2; shift 2
		member "$con" $T/er.rd -machine kernel-irqchip=split \
			-action reboot=shutdown,shutdown=pause \
			-chardev "pipe,id=qmp,path=$T/q$n" -mon chardev=qmp,mode=control "$@" > "$T/m$n.txt" 2>&1
	}
	if [ "${PLAIN:-0}" = 1 ]; then
		# the control: the same guest in one plain QEMU (no -span)
		# shellcheck disable=SC2086 # M0_ARGS: QEMU arguments, split on purpose
		frozen 0 $T/c0 $M0_ARGS &
		M0=$! M1=
		: > $T/q1.log	# an earlier run's SHUTDOWN must not count
	else
		# shellcheck disable=SC2086 # M0_ARGS: QEMU arguments, split on purpose
		frozen 0 $T/c0 -span "vm1,socket=$SOCK,member=m0,vcpus=0-1" $M0_ARGS &
		M0=$!
		[ -n "$M1_DELAY" ] && sleep "$M1_DELAY"
		frozen 1 $T/c1 -span vm1,socket=$SOCK,member=m1,vcpus=2-3 &
		M1=$!
	fi
	t=0 state=running
	while [ $t -lt 600 ]; do
		if grep -q 'SPAN-LAB-EXIT' $T/c0 2>/dev/null; then state='done'; break; fi
		if grep -q '"SHUTDOWN"' $T/q0.log $T/q1.log 2>/dev/null; then state=reset; break; fi
		sleep 0.2; t=$((t + 1))
	done
	echo "early-reset: run $run: $state after $((t / 5)) s${WWW_MD5:+, $(tr -d '\r' < $T/c0 | grep -c "$WWW_MD5") of 4 downloads ok}"
	if [ $state = reset ]; then
		caught=$((caught + 1))
		sleep 1
		for m in $MS; do
			qmp "$m" "info registers -a"
			qmp "$m" "info lapic 0"
			qmp "$m" "info lapic 2"
		done
		sleep 3
		for m in $MS; do
			echo "--- member $m events"; grep '"event"' "$T/q$m.log" | cut -c1-300
			echo "--- member $m stderr"; cat "$T/m$m.txt"
			echo "--- member $m monitor"
			tr -d '\r' < "$T/q$m.log" | sed -n 's/.*"return": "\(.*\)"}$/\1/p' | sed 's/\\r\\n/\n/g; s/\\n/\n/g' | head -n 120
		done
		echo "--- console"; tr -d "\r" < $T/c0 2>/dev/null | tail -n "${CONSOLE_LINES:-40}"
		echo "--- spand"; grep -v heartbeat $T/spand.log | tail -n 20
	else
		ok=$((ok + 1))
	fi
	kill $M0 $M1 ${W0:+"$W0"} ${W1:+"$W1"} 2>/dev/null
	wait $M0 $M1 2>/dev/null
	busybox killall -9 qemu-system-x86_64 2>/dev/null
	stop_spand
	[ $state = reset ] && [ $caught -ge "${CATCH:-1}" ] && break
done
echo "early-reset: $ok of $run boots finished, $caught reset early"
