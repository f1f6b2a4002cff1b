# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# timeout: 300
# check-span: a 4-vCPU guest split 2+1+1 over three members (m0 owns the
# firmware and devices; m1 hosts vCPU 2, m2 vCPU 3).
. /job/span/lib.sh

cat > $T/three.sh <<'JOB'
echo "guest-online=$(cat /sys/devices/system/cpu/online)"
echo "guest-nproc=$(nproc)"
for c in 0 1 2 3; do
	taskset -c $c sh -c 'i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done; echo "cpu$0 done on $(cut -d" " -f39 /proc/self/stat)" > /tmp/w$0' $c &
done
wait
cat /tmp/w0 /tmp/w1 /tmp/w2 /tmp/w3
JOB
mkinitrd $T/three.sh $T/three.rd
start_spand --create vm1:256M
rm -f $T/c0 $T/c1 $T/c2	# consoles of an earlier test must not satisfy the waits
export SMP=4 MEMBER_TIMEOUT=240
member $T/c0 $T/three.rd -span vm1,socket=$SOCK,member=m0,vcpus=0-1 \
	-machine kernel-irqchip=split > $T/m0.txt 2>&1 &
M0=$!
member $T/c1 $T/three.rd -span vm1,socket=$SOCK,member=m1,vcpus=2 \
	-machine kernel-irqchip=split > $T/m1.txt 2>&1 &
M1=$!
member $T/c2 $T/three.rd -span vm1,socket=$SOCK,member=m2,vcpus=3 \
	-machine kernel-irqchip=split > $T/m2.txt 2>&1 &
M2=$!
wait $M0; r0=$?
wait $M1; r1=$?
wait $M2; r2=$?
cat $T/c0 $T/c1 $T/c2 > $T/console
check "2+1+1: member 0 exits 0" [ $r0 = 0 ]
check "2+1+1: members 1 and 2 stop with the guest" [ $r1 = 0 -a $r2 = 0 ]
check "2+1+1: guest job succeeded" [ "$(guest_status $T/console)" = 0 ]
grep_check "2+1+1: nproc says 4" 'guest-nproc=4' $T/console
for c in 0 1 2 3; do grep_check "2+1+1: CPU-bound job ran on vCPU $c" "cpu$c done on $c" $T/console; done
stop_spand
for f in m0 m1 m2; do echo "--- $f"; cat $T/$f.txt; done
echo "--- console"; cat $T/console; echo "--- spand"; cat $T/spand.log
