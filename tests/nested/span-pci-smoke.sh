# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# span-pci smoke test (full nesting, runs inside the lab = L0):
#
#   scripts/lab --timeout 600 --script tests/nested/span-pci-smoke.sh
#
# spand on L0 holds span VMs "smoke" (256 MiB) and "big" (1 GiB).  One L1
# VM (our kernel, our QEMU with two span-pci devices, span=smoke and
# span=big) runs span-nest-probe through /dev/span0 and /dev/span1 while a
# co-located L0 member (span-nest-probe host) shares "smoke": the L1 reads
# L0's marker through the window, writes its own, and a heartbeat crosses
# the doorbells both ways.  A HELLO for a span the device does not serve is
# refused.  L0 QEMU prints the window attach time for 256 MiB and 1 GiB.
# Isolation: a third span, "other", that no device serves holds a canary
# over all its memory (an L0 member, span-nest-probe canary) while the L1
# writes every page of "big" and tries its bad input; afterwards every
# word of "other" must be unchanged.
# Result lines: "SPAN-TAP: ok|not ok NAME"; attach times "SPAN-NEST-ATTACH".
PATH=/span/bin:$PATH
T=/tmp/nest
SOCK=$T/spand.sock
mkdir -p $T
ok() { echo "SPAN-TAP: ok $*"; }
nok() { echo "SPAN-TAP: not ok $*"; }
grep_check() { if grep -q -e "$2" "$3"; then ok "$1"; else nok "$1 # '$2' not in $(basename "$3")"; fi; }

spand --socket $SOCK --create smoke:256M --create big:1G --create other:64M --max-members 4 \
	--ring-size 64K 2> $T/spand.log &
SPAND=$!
i=0
while [ ! -S $SOCK ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done

# The canary fills "other" and checks it once $T/l1.done exists.
rm -f $T/l1.done
span-nest-probe canary $SOCK other $T/l1.done > $T/canary.log 2>&1 &
CANARY=$!
# The L0 member takes slot 0 of "smoke" and waits for the L1.
span-nest-probe host $SOCK smoke > $T/host.log 2>&1 &
HOST=$!
sleep 0.5

# L1's job: the probes through both devices, and a refused HELLO.
cat > $T/l1.sh <<'JOB'
echo "l1: $(ls /dev/span* 2>&1 | tr '\n' ' ')"
cat /sys/kernel/debug/x86/pat_memtype_list 2>/dev/null | grep -i "write-back\|uncached" | tail -n 4
span-nest-probe l1 /dev/span0 smoke
st=$?
SPAN_PROBE_TOUCH=1 span-nest-probe attach /dev/span1 big || st=1
# The device serves "big" only: asking it for "smoke" must be refused.
span-nest-probe attach /dev/span1 smoke && st=1
span-nest-probe attach /dev/span1 big || st=1
span-nest-probe hostile /dev/span1 big || st=1
# Attach time, repeated: 256 MiB (span0) and 1 GiB (span1).
for i in 1 2 3; do
	span-nest-probe attach /dev/span0 smoke > /dev/null || st=1
	span-nest-probe attach /dev/span1 big > /dev/null || st=1
done
exit $st
JOB
d=$T/l1root
mkdir -p $d/job $d/bin
cp $T/l1.sh $d/job/run
cp /span/bin/span-nest-probe $d/bin/
(cd $d && find . | cpio -o -H newc 2>/dev/null) > $T/l1job.cpio
cat /boot/guest.cpio $T/l1job.cpio > $T/l1.initrd

start=$(date +%s)
timeout -k 5 300 qemu-system-x86_64 -accel kvm -cpu host,-tsc-deadline -smp 1 -m 512M \
	-kernel /boot/vmlinux -initrd $T/l1.initrd \
	-append "console=ttyS0 panic=-1 quiet loglevel=3 span.run=/job/run span.quiet=1" \
	-nographic -no-reboot -nodefaults -nic none -vga none -serial file:$T/l1.console \
	-device span-pci,socket=$SOCK,span=smoke,window=256M,channel=2M \
	-device span-pci,socket=$SOCK,span=big,window=1G,channel=2M \
	< /dev/null > $T/l0qemu.log 2>&1
echo "L1 ran for $(( $(date +%s) - start )) s"
touch $T/l1.done
wait $CANARY
cst=$?
( sleep 5; kill $HOST 2>/dev/null ) &
wait $HOST
hst=$?
kill $SPAND 2>/dev/null

echo "---- L1 console"; tr -d '\r' < $T/l1.console | grep -v '^$' | tail -n 40
echo "---- L0 QEMU (L1's device side)"; cat $T/l0qemu.log
echo "---- L0 member"; cat $T/host.log
echo "---- L0 canary member (span other)"; cat $T/canary.log
echo "---- spand"; tail -n 20 $T/spand.log

grep_check "span-pci: /dev/span0 and /dev/span1 in the L1" '/dev/span0 /dev/span1' $T/l1.console
grep_check "span-pci: L1 joined span smoke through the device" 'PROBE ok connected slot=1 mem=256MiB device=1' $T/l1.console
grep_check "span-pci: L1 reads L0's writes through the window" 'PROBE ok l1 reads the L0 marker' $T/l1.console
grep_check "span-pci: L0 reads the L1's writes" 'PROBE ok host sees the L1 marker' $T/host.log
grep_check "span-pci: doorbells cross L1->L0->L1" 'PROBE ok doorbell round trip' $T/l1.console
grep_check "span-pci: 1 GiB window mapped and touched" 'PROBE ok touched first and last byte' $T/l1.console
grep_check "span-pci: HELLO for another span refused" "refused a HELLO for span 'smoke'" $T/l0qemu.log
grep_check "span-pci: bad input refused, device still works" 'PROBE ok device still works after bad input' $T/l1.console
if grep -q 'PROBE FAIL refused:' $T/l1.console; then nok "span-pci: every bad input refused # $(grep 'PROBE FAIL refused:' $T/l1.console | head -n 1)"; else ok "span-pci: every bad input refused"; fi
grep_check "span-pci: own doorbell is an irqfd on L0" 'own doorbell via irqfd' $T/l0qemu.log
if [ "$hst" = 0 ]; then ok "span-pci: L0 member finished"; else nok "span-pci: L0 member finished # status $hst"; fi
if [ $cst = 0 ] && grep -q 'PROBE ok canary intact' $T/canary.log; then
	ok "span-pci: isolation: a span no device serves is unchanged after the L1 wrote all of its own and tried bad input"
else
	nok "span-pci: isolation: a span no device serves is unchanged after the L1 wrote all of its own and tried bad input # $(grep -m1 'PROBE FAIL' $T/canary.log)"
fi
sed -n 's/.*joined span .\([a-z]*\). as slot \([0-9]*\): \([0-9]*\) MiB attached in \([0-9]*\) us, own doorbell via \(.*\)/SPAN-NEST-ATTACH: span=\1 slot=\2 mib=\3 us=\4 doorbell=\5/p' $T/l0qemu.log
exit 0
