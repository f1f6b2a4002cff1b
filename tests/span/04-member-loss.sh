# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# timeout: 420
# check-span: losing a member.  A member hosting nothing (vcpus=none) joins
# the running guest and is killed: the guest keeps running on all its
# vCPUs.  A member hosting vCPUs, then the one owning the devices, is
# killed: the survivor pauses the guest and stays up, says what was lost
# (SPAN_MEMBER_LEFT, query-span), refuses to continue, and dumps the
# guest's memory, which still holds what the guest wrote.
. /job/span/lib.sh

# The guest keeps a value in its memory (the script holds only the
# expression, so the value is found in a dump only if the guest's memory
# is there) and counts seconds until it is stopped.  vCPU 2 (on b) reads
# PCI configuration space all along, port accesses forwarded to a, so a
# loss of a finds it waiting for a's answer most of the time.
cat > $T/long.sh <<'JOB'
echo "guest-up nproc=$(nproc)"
mark="forensic-$((6 * 7 * 1000 + 17))-mark"
echo "$mark" > /tmp/mark
taskset -c 2 sh -c 'while cat /sys/bus/pci/devices/0000:00:00.0/config > /dev/null; do :; done' &
i=0
while [ $i -lt 240 ]; do
	i=$((i + 1))
	for c in 0 1 2 3; do taskset -c $c true || echo "cpu$c-failed"; done
	echo "tick-$i"
	sleep 1
done
JOB
mkinitrd $T/long.sh $T/long.rd
start_spand --create vm1:256M --create vm2:256M --create vm3:256M
export SMP=4 MEMBER_TIMEOUT=380

# ticks CONSOLE: the guest's last tick.
ticks() { console_lines "$1" tick- | tail -n 1 | cut -d- -f2; }
# start N VM NAME VCPUS: member N of VM, in the background (its pid in MN).
start() {
	rm -f "$T/c$1"
	qmp_pipe "$T/qmp$1"
	member "$T/c$1" $T/long.rd -span "$2,socket=$SOCK,member=$3,vcpus=$4" \
		-machine kernel-irqchip=split \
		-chardev "pipe,id=qmp,path=$T/qmp$1" -mon chardev=qmp,mode=control \
		> "$T/m$1.txt" 2>&1 &
	eval "M$1=\$!"
	qmp "$1" qmp_capabilities
}
# --- 1. a member hosting nothing joins the running guest and is lost
start 0 vm1 a 0-1
start 1 vm1 b 2-3
check "empty member: guest up" wait_log $T/c0 'guest-up nproc=4' 120
start 2 vm1 c none
check "empty member: a hears c join" wait_has 60 $T/qmp0.log SPAN_MEMBER_JOINED '"name": "c"'
qmp 2 query-span
check "empty member: c answers query-span" wait_has 30 $T/qmp2.log '"return": {.*"vcpus"' '"member": "c"'
check "empty member: c runs no vCPU" sh -c "! grep -q '\"local\": true' $T/qmp2.log"
t0=$(ticks $T/c0)
kill_member c
wait "$M2"
check "empty member: a hears c leave, hosting nothing" wait_has 20 $T/qmp0.log \
	SPAN_MEMBER_LEFT '"name": "c"' '"reason": "closed"' '"vcpus": []' '"devices": []'
wait_log $T/c0 "tick-$((t0 + 5))" 30
t1=$(ticks $T/c0)
check "empty member: the guest goes on ($t0 -> $t1 s)" [ "${t1:-0}" -ge $((t0 + 5)) ]
check "empty member: all 4 vCPUs still run" sh -c "! grep -q 'cpu[0-9]-failed' $T/c0"
qmp 0 query-status
check "empty member: a still runs the guest" wait_log $T/qmp0.log '"status": "running"' 10
grep_check "empty member: spand continues" 'member_lost vm=vm1 member=[0-9] name=c .*policy=continue' $T/spand.log
qmp 0 quit
wait "$M0" "$M1"

# --- 2. and 3. a member hosting vCPUs is lost: b, then a (the devices' owner)
# lose VM VICTIM SURVIVOR VCPUS DEVICES: a 2+2 guest on members a (0-1,
# the devices) and b (2-3) of VM; VICTIM, which hosts VCPUS and DEVICES
# (as QMP prints the lists), is killed.
lose() {
	vm=$1 victim=$2 survivor=$3 lv=$4 ld=$5
	if [ "$survivor" = a ]; then sv=0; else sv=1; fi
	start 0 "$vm" a 0-1
	start 1 "$vm" b 2-3
	wait_log $T/c0 'guest-up nproc=4' 120
	wait_log $T/c0 'tick-3' 60
	kill_member "$victim"
	check "lose $victim: the survivor hears it leave" wait_has 20 $T/qmp$sv.log \
		SPAN_MEMBER_LEFT "\"name\": \"$victim\"" '"reason": "closed"' "\"vcpus\": $lv" \
		"\"devices\": $ld"
	check "lose $victim: the survivor pauses the guest" wait_log $T/qmp$sv.log '"event": "STOP"' 20
	qmp $sv query-status
	qmp $sv query-span
	qmp $sv cont
	check "lose $victim: the guest is paused" wait_log $T/qmp$sv.log '"status": "paused"' 10
	check "lose $victim: query-span lists the loss" wait_has 10 $T/qmp$sv.log '"lost": \[{' \
		"\"name\": \"$victim\"" '"reason": "closed"' "\"vcpus\": $lv" "\"devices\": $ld"
	check "lose $victim: cont is refused, saying why" \
		wait_log $T/qmp$sv.log "lost member '$victim' with the vCPUs or devices it hosted" 10
	rm -f $T/dump
	qmp $sv dump-guest-memory "{\"paging\":false,\"protocol\":\"file:$T/dump\"}"
	wait_log $T/qmp$sv.log '"event": "DUMP_COMPLETED"' 120
	size=$(stat -c %s $T/dump 2>/dev/null || echo 0)
	check "lose $victim: the survivor dumps the guest's memory ($size bytes)" \
		[ "$size" -ge $((256 << 20)) ]
	check "lose $victim: the dump holds what the guest wrote" grep -q -a 'forensic-42017-mark' $T/dump
	rm -f $T/dump
	check "lose $victim: the survivor is still up" kill -0 "$(eval echo \$M$sv)"
	qmp $sv quit
	wait "$M0" "$M1"
	check "lose $victim: the survivor's QEMU had no error" sh -c "! grep -q 'terminating on signal' $T/m$sv.txt"
	grep_check "lose $victim: spand pauses the span VM" "member_lost vm=$vm .*policy=pause" $T/spand.log
	cp "$T/qmp$sv.log" "$T/lose-$victim.qmp"
	cp "$T/m$sv.txt" "$T/lose-$victim.txt"
}
lose vm2 b a '[2, 3]' '[]'
lose vm3 a b '[0, 1]' '[0]'
stop_spand
for f in "$T"/lose-*.txt "$T"/lose-*.qmp; do echo "--- $f"; cut -c1-400 "$f"; done
echo "--- spand"; cat $T/spand.log
