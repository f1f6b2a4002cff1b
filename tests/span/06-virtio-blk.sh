# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# timeout: 270
# check-span: virtio-blk owned by member 0, written and read back with
# checksums by a process pinned to vCPU 2 (hosted by member 1): its MMIO
# (notifications, config) is forwarded to member 0, the disk's MSI-X
# interrupts are routed to member 1.  The queue notifications from vCPU 2
# are posted (ioeventfd in member 1's KVM, SPAN_MSG_IOEVENTFD): query-span
# counts them on both members.
# A second disk without MSI-X (vectors=0) interrupts through its INTx line,
# a level-triggered IOAPIC pin of member 0's IOAPIC (kernel-irqchip=split),
# steered to vCPU 2: each EOI of vCPU 2 must go back to member 0
# (SPAN_MSG_EOI), or the pin's Remote IRR stays set and the disk's second
# interrupt never comes.
. /job/span/lib.sh

cat > $T/blk.sh <<'JOB'
dev= intx= irq=
for d in /sys/block/vd*; do
	case "$(cat $d/serial 2>/dev/null)" in
	msix) dev=/dev/${d##*/} ;;
	intx) intx=/dev/${d##*/} irq=$(cat $d/device/../irq) ;;
	esac
done
[ -b "$dev" ] || { echo "blk: no disk with serial msix"; exit 1; }
export dev intx
taskset -c 2 sh -c '
	dd if=/dev/urandom of=/tmp/pattern bs=64k count=32 2>/dev/null
	a=$(md5sum < /tmp/pattern)
	dd if=/tmp/pattern of=$dev bs=64k count=32 conv=fsync 2>/dev/null || exit 1
	blockdev --flushbufs $dev 2>/dev/null
	echo 3 > /proc/sys/vm/drop_caches 2>/dev/null
	b=$(dd if=$dev bs=64k count=32 2>/dev/null | md5sum)
	echo "blk: written $a read $b on cpu $(cut -d" " -f39 /proc/self/stat)"
	[ "$a" = "$b" ] && echo "blk: checksums match"'
grep -E 'virtio|CPU' /proc/interrupts | head -5
echo "intx: disk $intx irq $irq"
if [ -n "$irq" ] && echo 4 > /proc/irq/$irq/smp_affinity; then
	timeout 60 taskset -c 2 sh -c '
		n=0
		for i in 1 2 3 4 5 6 7 8; do
			dd if=/dev/urandom of=/tmp/p bs=64k count=4 2>/dev/null
			a=$(md5sum < /tmp/p)
			dd if=/tmp/p of=$intx bs=64k count=4 seek=$i conv=fsync 2>/dev/null || exit 1
			blockdev --flushbufs $intx 2>/dev/null
			echo 3 > /proc/sys/vm/drop_caches
			b=$(dd if=$intx bs=64k count=4 skip=$i 2>/dev/null | md5sum)
			[ "$a" = "$b" ] && n=$((n + 1))
		done
		echo "intx: $n of 8 rounds match"'
	echo "intx: effective affinity $(cat /proc/irq/$irq/effective_affinity_list)"
	grep "^ *$irq:" /proc/interrupts | sed 's/^/intx: interrupts /'
fi
echo "blk: done"
sleep 3	# the lab asks query-span meanwhile
JOB
mkinitrd $T/blk.sh $T/blk.rd
dd if=/dev/zero of=$T/disk.img bs=1M count=4 2>/dev/null
dd if=/dev/zero of=$T/disk2.img bs=1M count=4 2>/dev/null
start_spand --create vm1:256M
rm -f $T/c0 $T/c1 $T/c2	# consoles of an earlier test must not satisfy the waits
export SMP=4 MEMBER_TIMEOUT=200
for m in 0 1; do
	rm -f $T/q$m.in $T/q$m.out && mkfifo $T/q$m.in $T/q$m.out
	cat $T/q$m.out > $T/q$m.log &
done
member $T/c0 $T/blk.rd -span vm1,socket=$SOCK,member=m0,vcpus=0-1 \
	-machine kernel-irqchip=split \
	-chardev pipe,id=qmp,path=$T/q0 -mon chardev=qmp,mode=control \
	-drive file=$T/disk.img,if=none,id=d1,format=raw,cache=none \
	-device virtio-blk-pci,drive=d1,serial=msix \
	-drive file=$T/disk2.img,if=none,id=d2,format=raw,cache=none \
	-device virtio-blk-pci,drive=d2,vectors=0,serial=intx > $T/m0.txt 2>&1 &
M0=$!
member $T/c1 $T/blk.rd -span vm1,socket=$SOCK,member=m1,vcpus=2-3 \
	-chardev pipe,id=qmp,path=$T/q1 -mon chardev=qmp,mode=control \
	-machine kernel-irqchip=split > $T/m1.txt 2>&1 &
M1=$!
i=0
while ! grep -q 'blk: done' $T/c0 2>/dev/null && [ $i -lt 1500 ]; do sleep 0.1; i=$((i + 1)); done
for m in 0 1; do
	printf '{"execute":"qmp_capabilities"}\n{"execute":"query-span"}\n' > $T/q$m.in &
done
wait $M0; r0=$?
wait $M1; r1=$?
cat $T/c0 $T/c1 > $T/console
check "virtio-blk: members exit 0" [ $r0 = 0 -a $r1 = 0 ]
grep_check "virtio-blk: I/O from vCPU 2 on member 1" 'blk: written .* on cpu 2' $T/console
grep_check "virtio-blk: checksums match" 'blk: checksums match' $T/console
a=$(tr -d '\r' < $T/console | sed -n 's/^blk: written \([0-9a-f]*\).*/\1/p' | head -n1)
d=$(dd if=$T/disk.img bs=64k count=32 2>/dev/null | md5sum | cut -d' ' -f1)
check "virtio-blk: the disk file holds what the guest wrote" [ -n "$a" -a "$a" = "$d" ]
ks=$(span_counter $T/q1.log kicks-sent) kr=$(span_counter $T/q0.log kicks-received)
check "virtio-blk: notifications from member 1 posted through its ioeventfds (query-span: kicks-sent ${ks:-none})" [ "${ks:-0}" -gt 0 ]
check "virtio-blk: the owner delivered them (query-span: kicks-received ${kr:-none})" [ "${kr:-0}" -gt 0 ]
grep_check "virtio-blk: INTx disk (level-triggered IOAPIC pin) steered to vCPU 2" 'intx: effective affinity 2' $T/console
grep_check "virtio-blk: INTx disk: 8 rounds of I/O from vCPU 2 with checksums" 'intx: 8 of 8 rounds match' $T/console
i2=$(tr -d '\r' < $T/console | sed -n 's/^intx: interrupts *[0-9]*: *[0-9]* *[0-9]* *\([0-9]*\).*/\1/p')
check "virtio-blk: INTx disk: vCPU 2 took its interrupts (${i2:-none})" [ "${i2:-0}" -ge 8 ]
e0=$(span_counter $T/q0.log errors) e1=$(span_counter $T/q1.log errors)
check "virtio-blk: no member dropped or failed a message (query-span errors: ${e0:-none}, ${e1:-none})" [ "${e0:-x}" = 0 -a "${e1:-x}" = 0 ]
es=$(span_counter $T/q1.log eois-sent) er=$(span_counter $T/q0.log eois-received)
check "virtio-blk: vCPU 2's EOIs sent to member 0's IOAPIC (query-span: eois-sent ${es:-none})" [ "${es:-0}" -ge 8 ]
check "virtio-blk: member 0's IOAPIC took them (query-span: eois-received ${er:-none})" [ "${er:-0}" -ge 8 ]
stop_spand
for f in m0 m1; do echo "--- $f"; cat $T/$f.txt; done
for m in 0 1; do echo "--- qmp$m"; cat $T/q$m.log; done
echo "--- console"; cat $T/console
