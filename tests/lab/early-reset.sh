# SPDX-License-Identifier: GPL-2.0
# early-reset.sh: reproduce the early reset of a split guest (a 2+2 guest
# that resets within seconds of start, console empty; tests/span/known-flaky)
# and catch it: RUNS boots of the 02-split guest; members run with
# -action reboot=shutdown,shutdown=pause so that a reset freezes both, and
# the first frozen boot's QMP events, vCPU registers and LAPICs of both
# members are printed.  It needs tests/span/lib.sh next to it in the job
# folder (/job/span), e.g.:
#   job=$(mktemp -d build/lab/job.XXXXXX); mkdir $job/span
#   cp tests/span/lib.sh tests/lab/early-reset.sh $job/span/
#   echo 'RUNS=25 sh /job/span/early-reset.sh' > $job/job.sh
#   scripts/lab --timeout 1500 --job $job --script $job/job.sh
# RUNS (default 20), CATCH (stop after this many resets, default 1) and
# KERNEL_ARGS (e.g. loglevel=7) from the environment.
. /job/span/lib.sh
RUNS=${RUNS:-20}
cat > $T/er.sh <<'JOB'
echo "guest-online=$(cat /sys/devices/system/cpu/online)"
JOB
mkinitrd $T/er.sh $T/er.rd
qmp() { printf '{"execute":"human-monitor-command","arguments":{"command-line":"%s"}}\n' "$2" > $T/q$1.in; }
caught=0 ok=0
for run in $(seq 1 $RUNS); do
	start_spand --create vm1:256M || { echo "early-reset: spand did not start"; exit 1; }
	rm -f $T/c0 $T/c1
	for m in 0 1; do
		rm -f $T/q$m.in $T/q$m.out $T/q$m.log && mkfifo $T/q$m.in $T/q$m.out
		cat $T/q$m.out > $T/q$m.log &
		{ printf '{"execute":"qmp_capabilities"}\n'; sleep 300; } > $T/q$m.in &
		eval W$m=$!
	done
	export SMP=4 MEMBER_TIMEOUT=120
	member $T/c0 $T/er.rd -span vm1,socket=$SOCK,member=m0,vcpus=0-1 \
		-machine kernel-irqchip=split -action reboot=shutdown,shutdown=pause \
		-chardev pipe,id=qmp,path=$T/q0 -mon chardev=qmp,mode=control > $T/m0.txt 2>&1 &
	M0=$!
	member $T/c1 $T/er.rd -span vm1,socket=$SOCK,member=m1,vcpus=2-3 \
		-machine kernel-irqchip=split -action reboot=shutdown,shutdown=pause \
		-chardev pipe,id=qmp,path=$T/q1 -mon chardev=qmp,mode=control > $T/m1.txt 2>&1 &
	M1=$!
	t=0 state=running
	while [ $t -lt 600 ]; do
		if grep -q 'SPAN-LAB-EXIT' $T/c0 2>/dev/null; then state=done; break; fi
		if grep -q '"SHUTDOWN"' $T/q0.log $T/q1.log 2>/dev/null; then state=reset; break; fi
		sleep 0.2; t=$((t + 1))
	done
	echo "early-reset: run $run: $state after $((t / 5)) s"
	if [ $state = reset ]; then
		caught=$((caught + 1))
		sleep 1
		for m in 0 1; do
			qmp $m "info registers -a"
			qmp $m "info lapic 0"
			qmp $m "info lapic 2"
		done
		sleep 3
		for m in 0 1; do
			echo "--- member $m events"; grep '"event"' $T/q$m.log | cut -c1-300
			echo "--- member $m stderr"; cat $T/m$m.txt
			echo "--- member $m monitor"
			sed -n 's/.*"return": "\(.*\)"}$/\1/p' $T/q$m.log | sed 's/\\r\\n/\n/g; s/\\n/\n/g' | head -n 120
		done
		echo "--- console"; tr -d '\r' < $T/c0 2>/dev/null | tail -n 40
		echo "--- spand"; grep -v heartbeat $T/spand.log | tail -n 20
	else
		ok=$((ok + 1))
	fi
	kill $M0 $M1 $W0 $W1 2>/dev/null
	wait $M0 $M1 2>/dev/null
	busybox killall -9 qemu-system-x86_64 2>/dev/null
	stop_spand
	[ $state = reset ] && [ $caught -ge ${CATCH:-1} ] && break
done
echo "early-reset: $ok of $run boots finished, $caught reset early"
