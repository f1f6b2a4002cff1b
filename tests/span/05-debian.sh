# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# check-span: the 2+2 split with an unmodified Debian kernel (linux-image-*-amd64
# from Debian, scripts/fetch-guest) and our small initramfs.  The guest uses
# KVM's PV spinlocks (kvm-pv-unhalt): kicks of a vCPU on the other member
# are forwarded (SPAN_DM_REMRD), so no member counts a dropped interrupt.
. /job/span/lib.sh
if [ ! -f /job/span/vmlinuz-debian ]; then
	nok "Debian kernel: missing (scripts/fetch-guest)"; exit 0
fi
export KERNEL=/job/span/vmlinuz-debian
echo "debian kernel: $(cat /job/span/debian-kernel)"

cat > $T/deb.sh <<'JOB'
echo "guest-kernel=$(uname -r)"
echo "guest-online=$(cat /sys/devices/system/cpu/online)"
echo "guest-nproc=$(nproc)"
echo "guest-cpus=$(grep -c ^processor /proc/cpuinfo)"
dmesg | grep -i 'pv spinlocks' | sed 's/^/guest-dmesg: /'
for c in 0 1 2 3; do
	taskset -c $c sh -c 'i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done; echo "cpu$0 done on $(cut -d" " -f39 /proc/self/stat)" > /tmp/w$0' $c &
done
wait
cat /tmp/w0 /tmp/w1 /tmp/w2 /tmp/w3
grep -E 'CAL|RES|TLB|LOC' /proc/interrupts
JOB
mkinitrd $T/deb.sh $T/deb.rd
start_spand --create vm1:256M
rm -f $T/c0 $T/c1 $T/c2	# consoles of an earlier test must not satisfy the waits
qmp_pipe $T/qmp
QMPCAT=$!
export SMP=4 MEMBER_TIMEOUT="${SPLIT_TIMEOUT:-480}"
member $T/c0 $T/deb.rd -span vm1,socket=$SOCK,member=m0,vcpus=0-1 \
	-machine kernel-irqchip=split -cpu $GUEST_CPU \
	-chardev pipe,id=qmp,path=$T/qmp -mon chardev=qmp,mode=control \
	> $T/m0.txt 2>&1 &
M0=$!
qmp_pipe $T/qmp1
member $T/c1 $T/deb.rd -span vm1,socket=$SOCK,member=m1,vcpus=2-3 \
	-chardev pipe,id=qmp,path=$T/qmp1 -mon chardev=qmp,mode=control \
	-machine kernel-irqchip=split -cpu $GUEST_CPU > $T/m1.txt 2>&1 &
M1=$!
# ask query-span once the guest is up (its job prints first)
i=0
while ! grep -q 'guest-online' "$T/c0" 2>/dev/null && [ $i -lt "${SPLIT_WAIT:-2000}" ]; do sleep 0.2; i=$((i + 1)); done
qmp_query_span $T/qmp
qmp_query_span $T/qmp1
wait $M0; r0=$?
wait $M1; r1=$?
kill $QMPCAT 2>/dev/null
cat $T/c0 $T/c1 > $T/console
check "debian 2+2: member 0 exits 0" [ $r0 = 0 ]
check "debian 2+2: member 1 stops with the guest" [ $r1 = 0 ]
check "debian 2+2: guest job succeeded" [ "$(guest_status $T/console)" = 0 ]
grep_check "debian 2+2: guest brings up all 4 vCPUs" 'guest-online=0-3' $T/console
grep_check "debian 2+2: nproc says 4" 'guest-nproc=4' $T/console
grep_check "debian 2+2: the guest runs Debian's kernel" 'guest-kernel=.*-amd64' $T/console
for c in 0 1 2 3; do grep_check "debian 2+2: CPU-bound job ran on vCPU $c" "cpu$c done on $c" $T/console; done
grep_check "debian 2+2: query-span shows both members" '"id": 1' $T/qmp.log
if grep -q '"ipis-sent": [1-9]' $T/qmp.log; then ok "debian 2+2: IPIs forwarded (query-span)"; else nok "debian 2+2: IPIs forwarded (query-span)"; fi
grep_check "debian 2+2: the guest uses KVM's PV spinlocks (PV kicks)" 'guest-dmesg: .*PV spinlocks enabled' $T/console
e0=$(span_counter $T/qmp.log errors) e1=$(span_counter $T/qmp1.log errors)
check "debian 2+2: no member dropped or failed a message (query-span errors: ${e0:-none}, ${e1:-none})" [ "${e0:-x}" = 0 -a "${e1:-x}" = 0 ]
stop_spand
for f in m0 m1; do echo "--- $f"; cat $T/$f.txt; done
echo "--- console"; cat $T/console; echo "--- qmp"; cat $T/qmp.log; echo "--- qmp1"; cat $T/qmp1.log; echo "--- spand"; cat $T/spand.log
