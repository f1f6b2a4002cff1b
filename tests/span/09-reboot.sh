# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# timeout: 540
# check-span: guest reboots of a 4-vCPU guest split 2+2, members without
# -no-reboot.  A boot counter on a virtio-blk disk (owned by member 0)
# drives the guest job: boot 1 reboots from vCPU 0 (member 0, ACPI reset
# register), boot 2 from vCPU 2 (member 1: its ACPI reset register write
# is forwarded to member 0), boot 3 from vCPU 2 with a triple fault (a
# reset that starts on member 1), boot 4 powers off.  Every boot must bring
# up all 4 vCPUs again (INIT/SIPI across members after each reset) and run
# a job on each; every member must see each reset (QMP RESET events) and
# both must exit 0 when the guest powers off.
. /job/span/lib.sh

BOOTS=4
cat > $T/reboot.sh <<'JOB'
n=$(dd if=/dev/vda bs=16 count=1 2>/dev/null | tr -dc 0-9)
n=$((${n:-0} + 1))
echo "span-boot=$n online=$(cat /sys/devices/system/cpu/online) nproc=$(nproc)"
for c in 0 1 2 3; do
	taskset -c $c sh -c 'i=0; while [ $i -lt 5000 ]; do i=$((i + 1)); done; echo "boot $1 cpu$0 done on $(cut -d" " -f39 /proc/self/stat)"' $c $n &
done
wait
printf '%-16s' $n | dd of=/dev/vda bs=16 count=1 conv=fsync 2>/dev/null
# reboot CPU TYPE: reboot the guest from vCPU CPU with method TYPE.
reboot_from() {
	echo "$1" > /sys/kernel/reboot/cpu && echo "$2" > /sys/kernel/reboot/type ||
		{ echo "boot $n: cannot set the reboot cpu/type"; exit 1; }
	echo "boot $n: reboot from cpu $1 ($2)"
	taskset -c "$1" reboot -f
	sleep 30
	echo "boot $n: still running after reboot"
	exit 1
}
case $n in
1) reboot_from 0 acpi ;;
2) reboot_from 2 acpi ;;
3) reboot_from 2 triple ;;
esac
echo "boot $n: powering off"
JOB
mkinitrd $T/reboot.sh $T/reboot.rd
dd if=/dev/zero of=$T/disk.img bs=1M count=1 2>/dev/null
start_spand --create vm1:256M
rm -f $T/c0 $T/c1 $T/c2	# consoles of an earlier test must not satisfy the waits
# QMP of both members, held open to receive their events.
for i in 0 1; do
	rm -f $T/qmp$i.in $T/qmp$i.out && mkfifo $T/qmp$i.in $T/qmp$i.out
	cat $T/qmp$i.out > $T/qmp$i.log &
	{ printf '{"execute":"qmp_capabilities"}\n'; sleep 600; } > $T/qmp$i.in &
	eval QMPW$i=$!
done
# Four boots, each up to about a minute with shadow paging (120 s in all
# was too short; Documentation/qemu-span.rst, 09-reboot): 480 s is the
# bound of a hang, not a speed target.
export SMP=4 MEMBER_TIMEOUT="${REBOOT_TIMEOUT:-480}" REBOOT=1
member $T/c0 $T/reboot.rd -span vm1,socket=$SOCK,member=m0,vcpus=0-1 \
	-machine kernel-irqchip=split \
	-drive file=$T/disk.img,if=virtio,format=raw,cache=none \
	-chardev pipe,id=qmp,path=$T/qmp0 -mon chardev=qmp,mode=control \
	> $T/m0.txt 2>&1 &
M0=$!
member $T/c1 $T/reboot.rd -span vm1,socket=$SOCK,member=m1,vcpus=2-3 \
	-machine kernel-irqchip=split \
	-chardev pipe,id=qmp,path=$T/qmp1 -mon chardev=qmp,mode=control \
	> $T/m1.txt 2>&1 &
M1=$!
wait $M0; r0=$?
wait $M1; r1=$?
kill "$QMPW0" "$QMPW1" 2>/dev/null
cat $T/c0 $T/c1 | tr -d '\r' > $T/console
check "reboot: member 0 exits 0 after the last poweroff" [ $r0 = 0 ]
check "reboot: member 1 exits 0 after the last poweroff" [ $r1 = 0 ]
check "reboot: members stopped by the guest's poweroff, not by their timeout" \
	not_timed_out $T/m0.txt $T/m1.txt
check "reboot: guest job of the last boot succeeded" [ "$(guest_status $T/console)" = 0 ]
boots=$(grep -c '^span-boot=' $T/console)
check "reboot: $BOOTS boots (banners on the console: $boots)" [ "$boots" = $BOOTS ]
for n in $(seq 1 $BOOTS); do
	grep_check "reboot: boot $n brings up all 4 vCPUs" \
		"^span-boot=$n online=0-3 nproc=4\$" $T/console
	ran=0
	for c in 0 1 2 3; do grep -q "^boot $n cpu$c done on $c\$" $T/console && ran=$((ran + 1)); done
	check "reboot: boot $n ran a job on every vCPU ($ran of 4)" [ $ran = 4 ]
done
grep_check "reboot: boot 1 rebooted from vCPU 0 (ACPI)" '^boot 1: reboot from cpu 0 (acpi)$' $T/console
grep_check "reboot: boot 2 rebooted from vCPU 2 (ACPI, forwarded)" '^boot 2: reboot from cpu 2 (acpi)$' $T/console
grep_check "reboot: boot 3 rebooted from vCPU 2 (triple fault on member 1)" '^boot 3: reboot from cpu 2 (triple)$' $T/console
grep_check "reboot: boot $BOOTS powered off" "^boot $BOOTS: powering off\$" $T/console
# Each member resets for every reboot, and for every reset of the other
# (SeaBIOS, started warm, resets once more itself: two resets a reboot).
e0=$(grep -c '"event": *"RESET"' $T/qmp0.log)
e1=$(grep -c '"event": *"RESET"' $T/qmp1.log)
check "reboot: both members reset for each of the $((BOOTS - 1)) reboots (QMP RESET events: $e0, $e1)" \
	[ "$e0" -ge $((BOOTS - 1)) -a "$e0" = "$e1" ]
stop_spand
for f in m0 m1; do echo "--- $f"; cat $T/$f.txt; done
echo "--- console"; cat $T/console
for i in 0 1; do echo "--- qmp$i"; cat $T/qmp$i.log; done
echo "--- spand"; cat $T/spand.log
