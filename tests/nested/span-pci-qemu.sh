# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# span-pci end to end (full nesting, runs inside the lab = L0): an L2 guest
# whose RAM is the span VM's memory, run by our QEMU inside an L1 with
# -span smoke,socket=/dev/span0 (libspan over the span-pci device, QEMU
# unchanged).
#
#   scripts/lab --timeout 600 --script tests/nested/span-pci-qemu.sh
#
# Result lines: "SPAN-TAP: ok|not ok NAME".
PATH=/span/bin:$PATH
T=/tmp/nestq
SOCK=$T/spand.sock
mkdir -p $T
ok() { echo "SPAN-TAP: ok $*"; }
nok() { echo "SPAN-TAP: not ok $*"; }
grep_check() { if grep -q -e "$2" "$3"; then ok "$1"; else nok "$1 # '$2' not in $(basename "$3")"; fi; }

spand --socket $SOCK --create smoke:256M --max-members 4 --ring-size 64K 2> $T/spand.log &
SPAND=$!
i=0
while [ ! -S $SOCK ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done

# The L1's job: our QEMU joins "smoke" through /dev/span0 and boots an L2
# (our kernel, guest.cpio) whose RAM is the window.
cat > $T/l1.sh <<'JOB'
PATH=/span/bin:$PATH
cat > /tmp/l2.sh <<'L2'
echo "L2: hello from a guest whose RAM is the span window ($(awk '/MemTotal/ {print $2}' /proc/meminfo) kB)"
L2
d=$(mktemp -d)
mkdir -p $d/job && cp /tmp/l2.sh $d/job/run
(cd $d && find . | cpio -o -H newc 2>/dev/null) > /tmp/l2job.cpio
cat /boot/guest.cpio /tmp/l2job.cpio > /tmp/l2.initrd
echo "L1: $(date +%T) $(ls /dev/span*) free $(free -m | awk '/Mem:/ {print $4}') MB"
timeout -k 5 ${L2_TIMEOUT:-60} qemu-system-x86_64 -accel kvm -cpu host,-tsc-deadline -smp 1 -m 256M \
	-kernel /boot/vmlinux -initrd /tmp/l2.initrd \
	-append "console=ttyS0 panic=-1 loglevel=4 span.run=/job/run span.quiet=1" \
	-display none -no-reboot -nodefaults -nic none -vga none -serial file:/tmp/l2.console \
	-span smoke,socket=/dev/span0,vcpus=0 > /tmp/l1qemu.log 2>&1 &
q=$!
sleep 20
echo "---- L1 QEMU after 20 s"; cat /tmp/l1qemu.log
echo "---- L2 console after 20 s"; tr -d '\r' < /tmp/l2.console | grep -v '^$' | tail -n 30
wait $q
echo "L1: $(date +%T) QEMU exit $?"
echo "---- L1 QEMU"; cat /tmp/l1qemu.log
echo "---- L2 console"; tr -d '\r' < /tmp/l2.console | grep -v '^$' | tail -n 30
JOB
d=$T/l1root
mkdir -p $d/job
cp $T/l1.sh $d/job/run
(cd $d && find . | cpio -o -H newc 2>/dev/null) > $T/l1job.cpio
# The L1's initramfs: this lab's own files (it booted from lab.cpio) minus
# the selftests, plus the job.
r=$T/l1fs
mkdir -p $r
for f in /init /bin /sbin /lib /lib64 /usr /etc /span /boot; do
	[ -e $f ] && cp -a $f $r/
done
(cd $r && find . | cpio -o -H newc 2>/dev/null) > $T/l1base.cpio
rm -rf $r
cat $T/l1base.cpio $T/l1job.cpio > $T/l1.initrd
rm -f $T/l1base.cpio
echo "L0: $(date +%T) L1 initrd $(du -m $T/l1.initrd | cut -f1) MB; free: $(free -m | awk '/Mem:/ {print $4}') MB"

start=$(date +%s)
timeout -k 5 "${L1_TIMEOUT:-150}" qemu-system-x86_64 -accel kvm -cpu host,-tsc-deadline -smp 1 -m 1G \
	-kernel /boot/vmlinux -initrd $T/l1.initrd \
	-append "console=ttyS0 panic=-1 quiet loglevel=5 span.run=/job/run span.quiet=1" \
	-nographic -no-reboot -nodefaults -nic none -vga none -serial file:$T/l1.console \
	-device span-pci,socket=$SOCK,span=smoke,window=256M,channel=2M \
	< /dev/null > $T/l0qemu.log 2>&1
echo "L1 ran for $(( $(date +%s) - start )) s"
dmesg | grep -i -A3 "oom\|killed" | head -n 20
kill $SPAND 2>/dev/null

echo "---- L1 console"; tr -d '\r' < $T/l1.console | grep -v '^$' | tail -n 120
echo "---- L0 QEMU (L1's device side)"; cat $T/l0qemu.log
echo "---- spand"; grep -v heartbeat $T/spand.log | tail -n 20

grep_check "span-pci-qemu: L1 QEMU joined span smoke through /dev/span0" "joined span 'smoke'" $T/l0qemu.log
grep_check "span-pci-qemu: L2 booted with its RAM in the span window" 'L2: hello from a guest whose RAM is the span window' $T/l1.console
grep_check "span-pci-qemu: L2 job finished" '^SPAN-LAB-EXIT: 0' $T/l1.console
exit 0
