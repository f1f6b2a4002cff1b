# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# timeout: 480
# check-span: the main loop waits for vCPUs that wait for peers.  QMP's
# "info registers -a" makes each member's main loop wait for every vCPU in
# turn (run_on_cpu()), while those vCPUs wait for a peer's answer: a
# forwarded port access (PCI configuration reads by vCPUs 2-3 on m1, which
# does not own the devices) or, with shadow paging, a shadow-paging
# acknowledgement.
# Only the receive thread completes them then: without it the dumps stall
# and the span VM stops after the 30 s acknowledgement timeout.  A 4-vCPU
# guest split 2+2 runs span-stress (forks and page-table churn) and reads
# PCI configuration space from vCPUs 2-3 while both monitors dump registers
# every 0.2 s.
. /job/span/lib.sh

# each round reads the host bridge's 256 bytes of configuration space: 64
# dwords through ports 0xcf8/0xcfc (two port accesses each)
ROUNDS=100
cat > $T/busy.sh <<JOB
echo "guest-online=\$(cat /sys/devices/system/cpu/online)"
for c in 2 3; do
	taskset -c \$c sh -c 'i=0; while [ \$i -lt $ROUNDS ]; do i=\$((i + 1)); cat /sys/bus/pci/devices/0000:00:00.0/config > /dev/null || exit; done; echo "busy-cpu\$0-read-\$i"' \$c &
done
span-stress --seconds 30; echo "stress-status=\$?"
wait
echo "busy: done"
sleep 5
JOB
GUEST_BINS=/span/bin/span-stress mkinitrd $T/busy.sh $T/busy.rd
start_spand --create vm1:256M
rm -f $T/c0 $T/c1	# consoles of an earlier test must not satisfy the waits
qmp_pipe $T/qmp0
qmp_pipe $T/qmp1
export SMP=4 MEMBER_TIMEOUT=400
for m in 0 1; do
	member $T/c$m $T/busy.rd -span vm1,socket=$SOCK,member=m$m,vcpus=$((2 * m))-$((2 * m + 1)) \
		-machine kernel-irqchip=split \
		-chardev pipe,id=qmp,path=$T/qmp$m -mon chardev=qmp,mode=control \
		> $T/m$m.txt 2>&1 &
	eval "M$m=\$!"
done
# dumps PID: register dumps every 0.2 s while member PID runs and the job
# has not ended, then query-span (one writer keeps the monitor's FIFO open)
dumps() {
	printf '{"execute":"qmp_capabilities"}\n'
	while ! grep -q 'busy: done' $T/c0 2>/dev/null && kill -0 "$1" 2>/dev/null; do
		printf '{"execute":"human-monitor-command","arguments":{"command-line":"info registers -a"}}\n'
		sleep 0.2
	done
	printf '{"execute":"query-span"}\n'
	sleep 5
}
dumps "$M0" > $T/qmp0.in &
D0=$!
dumps "$M1" > $T/qmp1.in &
D1=$!
wait "$M0"; r0=$?
wait "$M1"; r1=$?
kill $D0 $D1 2>/dev/null
cat $T/c0 $T/c1 > $T/console
check "busy: member 0 exits 0" [ $r0 = 0 ]
check "busy: member 1 stops with the guest" [ $r1 = 0 ]
check "busy: no member timed out" not_timed_out $T/m0.txt $T/m1.txt
check "busy: no acknowledgement timed out" sh -c "! grep -q 'did not acknowledge' $T/m0.txt $T/m1.txt"
grep_check "busy: guest up on all 4 vCPUs" 'guest-online=0-3' $T/console
grep_check "busy: span-stress ran without corruption" 'stress-status=0' $T/console
for c in 2 3; do
	grep_check "busy: vCPU $c read configuration space $ROUNDS times" "^busy-cpu$c-read-$ROUNDS" $T/console
done
grep_check "busy: guest job ran to its end" 'busy: done' $T/console
for m in 0 1; do
	n=$(grep -o 'RAX=' $T/qmp$m.log | wc -l)
	check "busy: m$m answered $((n / 4)) dumps of its 4 vCPUs (>= 20)" [ "$n" -ge 80 ]
done
n=$(span_counter $T/qmp1.log pio-forwarded)
check "busy: m1 forwarded the configuration reads (${n:-0} port accesses)" [ "${n:-0}" -ge $((2 * ROUNDS * 64)) ]
e0=$(span_counter $T/qmp0.log errors) e1=$(span_counter $T/qmp1.log errors)
check "busy: no channel errors (m0 ${e0:-none}, m1 ${e1:-none})" [ "$e0" = 0 -a "$e1" = 0 ]
if [ "$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null)" = N ]; then
	for m in 0 1; do
		grep_check "busy: m$m: page tables published to the peer" '"wt-published": [1-9]' $T/qmp$m.log
	done
fi
stop_spand
for f in m0 m1; do echo "--- $f"; cat $T/$f.txt; done
echo "--- console"; tail -n 40 $T/console
echo "--- query-span"; grep -o '"counters": {[^}]*}' $T/qmp0.log $T/qmp1.log
echo "--- spand"; cat $T/spand.log
