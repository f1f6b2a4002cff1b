# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# timeout: 600
# check-span: vCPUs move between members while the guest runs.  A 2+2
# guest (a: vCPUs 0-1 and the devices, b: 2-3) runs span-stress (one
# worker per vCPU, each hopping between vCPUs: IPIs and TLB shootdowns
# across members all along) and a job that runs on every vCPU each
# second, while vCPU 2 reads PCI configuration space in a loop (port
# accesses forwarded to a).  vCPU 1 goes to b and back, vCPU 2 to a and
# back, MOVES times each: nothing may hang, corrupt memory or get lost.
# spanctl move does the same through spand.  Bad requests get a clear
# error and leave the guest alone.
. /job/span/lib.sh
MOVES=${MOVES:-5}

cat > $T/move.sh <<'JOB'
echo "guest-up nproc=$(nproc)"
taskset -c 2 sh -c 'while cat /sys/bus/pci/devices/0000:00:00.0/config > /dev/null; do :; done' &
span-stress --seconds 100000 > /tmp/stress 2>&1 &
i=0
while [ $i -lt 1000 ]; do
	i=$((i + 1))
	for c in 0 1 2 3; do taskset -c $c true || echo "cpu$c-failed"; done
	echo "tick-$i"
	[ -e /tmp/stop ] && break
	sleep 1
	grep -q FAIL /tmp/stress && cat /tmp/stress
done
JOB
GUEST_BINS=/span/bin/span-stress mkinitrd $T/move.sh $T/move.rd
start_spand --create vm1:256M
export SMP=4 MEMBER_TIMEOUT=540

# start N NAME VCPUS: member N of vm1 (its QEMU's pid in MN).
start() {
	rm -f "$T/c$1"
	qmp_pipe "$T/qmp$1"
	member "$T/c$1" $T/move.rd -span "vm1,socket=$SOCK,member=$2,vcpus=$3" \
		-machine kernel-irqchip=split -trace span_error \
		-chardev "pipe,id=qmp,path=$T/qmp$1" -mon chardev=qmp,mode=control \
		> "$T/m$1.txt" 2>&1 &
	eval "M$1=\$!"
	qmp "$1" qmp_capabilities
}
ticks() { console_lines "$1" tick- | tail -n 1 | cut -d- -f2; }
# runs_here N CPU: member N's last query-span says it runs vCPU CPU.
runs_here() {
	grep '"return": {.*"vcpus"' "$T/qmp$1.log" | tail -n 1 | grep -o '{[^{}]*}' |
		grep "\"cpu-index\": $2[,}]" | grep -q '"local": true'
}
# moved N: how many SPAN_VCPU_MOVED events member N's monitor got.
moved() { grep -c SPAN_VCPU_MOVED "$T/qmp$1.log" 2>/dev/null; }
# move FROM-N CPU TO-NAME: span-move-vcpu on member FROM-N; waits until
# member 0 heard of the move.
move() {
	before=$(moved 0)
	qmp "$1" span-move-vcpu "{\"cpu-index\":$2,\"member\":\"$3\"}"
	wt=150
	while [ "$(moved 0)" -le "$before" ] && [ $wt -gt 0 ]; do sleep 0.2; wt=$((wt - 1)); done
	[ "$(moved 0)" -gt "$before" ]
}

start 0 a 0-1
start 1 b 2-3
check "guest up on a and b" wait_log $T/c0 'guest-up nproc=4' 120
wait_log $T/c0 'tick-3' 60

# --- bad requests first: each is refused with its reason
qmp 0 span-move-vcpu '{"cpu-index":9,"member":"b"}'
check "bad: a vCPU out of range" wait_log $T/qmp0.log 'vCPU 9 does not exist (the guest has 4 vCPUs)' 10
qmp 0 span-move-vcpu '{"cpu-index":1,"member":"nobody"}'
check "bad: an unknown member" wait_log $T/qmp0.log "span VM 'vm1' has no member 'nobody'" 10
qmp 0 span-move-vcpu '{"cpu-index":2,"member":"b"}'
check "bad: a vCPU hosted elsewhere" wait_log $T/qmp0.log 'vCPU 2 is not hosted by this member' 10
qmp 0 span-move-vcpu '{"cpu-index":0,"member":"a"}'
check "bad: moving to where it runs" wait_log $T/qmp0.log "vCPU 0 already runs on member 'a'" 10

# --- the moves
i=0 ok1=0 ok2=0
t0=$(ticks $T/c0)
while [ $i -lt "$MOVES" ]; do
	i=$((i + 1))
	move 0 1 b && move 1 1 a && ok1=$((ok1 + 1))
	move 1 2 a && move 0 2 b && ok2=$((ok2 + 1))
	if [ $ok1 != $i ] || [ $ok2 != $i ]; then break; fi
done
check "vCPU 1 went to b and back $ok1 of $MOVES times" [ "$ok1" -eq "$MOVES" ]
check "vCPU 2 went to a and back $ok2 of $MOVES times" [ "$ok2" -eq "$MOVES" ]
check "b heard every move too" [ "$(moved 1)" -eq "$(moved 0)" ]
check "the events name vCPU and members" has $T/qmp0.log SPAN_VCPU_MOVED \
	'"cpu-index": 2' '"from": 1' '"to": 0'
wait_log $T/c0 "tick-$((t0 + 2 * MOVES * 2 + 5))" 60
t1=$(ticks $T/c0)
check "the guest went on meanwhile ($t0 -> $t1 s)" [ "${t1:-0}" -gt "$((t0 + 5))" ]
check "every vCPU ran the job each second" sh -c "! grep -q 'cpu[0-9]-failed' $T/c0"
check "span-stress found no corruption" sh -c "! grep -q FAIL $T/c0"

# --- spanctl move: spand asks the vCPU's host to move it
ctl_move() {
	before=$(moved 0)
	spanctl -s "$SOCK" move vm1 "$1" "$2" >> "$T/ctl.txt" 2>&1 || return
	wt=50
	while [ "$(moved 0)" -le "$before" ] && [ $wt -gt 0 ]; do sleep 0.2; wt=$((wt - 1)); done
	[ "$(moved 0)" -gt "$before" ]
}
check "spanctl moves vCPU 1 to b" ctl_move 1 b
grep_check "spanctl says where it went" "vm1: moved vCPU 1 to member 'b' (topology generation [1-9]" "$T/ctl.txt"
check "spanctl moves vCPU 1 back to a, by slot" ctl_move 1 0
check "spanctl refuses a vCPU without host" sh -c "! spanctl -s $SOCK move vm1 9 b >> $T/ctl.txt 2>&1"
grep_check "spanctl says why" 'vCPU 9 has no host' "$T/ctl.txt"

# --- after the moves, every vCPU is where it started and all still run
qmp 0 query-span
qmp 1 query-span
wait_log $T/qmp0.log '"return": {.*"vcpus"' 10
wait_log $T/qmp1.log '"return": {.*"vcpus"' 10
check "a runs vCPU 1 again" runs_here 0 1
check "b runs vCPU 2 again" runs_here 1 2
w=$(ticks $T/c0)
wait_log $T/c0 "tick-$((w + 3))" 30
check "still 4 vCPUs at work after the moves" sh -c "! grep -q 'cpu[0-9]-failed' $T/c0"
errs=$(span_counter $T/qmp0.log errors)
check "a counted no errors (${errs:-none})" [ "${errs:-1}" -eq 0 ]
errs=$(span_counter $T/qmp1.log errors)
check "b counted no errors (${errs:-none})" [ "${errs:-1}" -eq 0 ]
qmp 0 quit
qmp 1 quit
wait "$M0" "$M1"
check "no member timed out" not_timed_out $T/m0.txt $T/m1.txt
stop_spand
for f in $T/m0.txt $T/m1.txt $T/qmp0.log $T/qmp1.log $T/ctl.txt; do
	echo "--- $f"; cut -c1-300 "$f" | tail -n 40
done
echo "--- console a"; tr -d '\r' < $T/c0 | tail -n 30
echo "--- spand"; tail -n 40 $T/spand.log
