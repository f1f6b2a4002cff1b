# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# timeout: 270
# check-span: killing a member mid-run.  spand reports the lost member and
# the other member stops cleanly (no hang), for the loss of a vCPU-only
# member and of the member owning the devices.
. /job/span/lib.sh

cat > $T/long.sh <<'JOB'
echo "guest-up nproc=$(nproc)"
i=0
while [ $i -lt 120 ]; do sleep 1; i=$((i + 1)); done
JOB
mkinitrd $T/long.sh $T/long.rd
start_spand --create vm1:256M --create vm2:256M
export SMP=4 MEMBER_TIMEOUT=200

# $1: VM, $2: which member to kill (0 or 1); sets KSECS (seconds the
# survivor took to stop).
kill_run() {
	rm -f $T/k0 $T/k1
	member $T/k0 $T/long.rd -span "$1,socket=$SOCK,member=a$2",vcpus=0-1 \
		-machine kernel-irqchip=split > $T/a.txt 2>&1 &
	A=$!
	member $T/k1 $T/long.rd -span "$1,socket=$SOCK,member=b$2",vcpus=2-3 \
		-machine kernel-irqchip=split > $T/b.txt 2>&1 &
	B=$!
	i=0
	while ! grep -q 'guest-up' $T/k0 2>/dev/null && [ $i -lt 600 ]; do sleep 0.2; i=$((i + 1)); done
	sleep 1
	if [ "$2" = 1 ]; then victim=$B survivor=$A v=b$2; else victim=$A survivor=$B v=a$2; fi
	# kill the QEMU process itself, not the shell running it
	qpid=
	for p in /proc/[0-9]*; do
		tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -q "^$QEMU .*member=$v," && qpid=${p#/proc/}
	done
	echo "killing $v: QEMU pid $qpid"
	kill -9 "$qpid"
	t0=$(date +%s)
	wait "$survivor"
	KSECS=$(( $(date +%s) - t0 ))
	wait $victim 2>/dev/null
}

kill_run vm1 1
check "kill vCPU member: guest was up" grep -q 'guest-up nproc=4' $T/k0
grep_check "kill vCPU member: spand reports it" 'member_lost vm=vm1 member=[0-9] name=b1' $T/spand.log
check "kill vCPU member: survivor stops within 20 s ($KSECS s)" [ $KSECS -le 20 ]
grep_check "kill vCPU member: survivor says why" 'member hosting vCPUs of the span VM was lost' $T/a.txt
cp $T/a.txt $T/a1.txt

kill_run vm2 0
grep_check "kill device owner: spand reports it" 'member_lost vm=vm2 member=[0-9] name=a0' $T/spand.log
check "kill device owner: survivor stops within 20 s ($KSECS s)" [ $KSECS -le 20 ]
grep_check "kill device owner: survivor says why" 'member hosting vCPUs of the span VM was lost' $T/b.txt
stop_spand
echo "--- a1"; cat $T/a1.txt; echo "--- b"; cat $T/b.txt; echo "--- spand"; cat $T/spand.log
