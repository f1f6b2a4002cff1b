# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# timeout: 60
# check-span: QEMU's HPET (patches/qemu/hpet/0001) does not run a disabled,
# edge-triggered periodic timer -- what Linux leaves of timer 0 once the
# local APIC timers take over; running it woke the span owner's main loop
# at the guest's HZ -- yet keeps what the guest can see of it: the
# comparator still advances, enabling the timer again fires it at its next
# period, and a level-triggered timer still sets its status bit while
# disabled. Driven through QEMU's qtest protocol (-accel qtest: no guest
# code; the virtual clock moves only by clock_step), one reply per command.
. /job/span/lib.sh

HPET=0xfed00000
PERIOD=400000	# ticks of 10 ns: 4 ms, HZ=250
# 0x3 counter on, legacy routing (the PIT's timer off); T0 config 0x14c:
# 32-bit, set-value, periodic, enabled; then comparator and period
cat > $T/hpet.cmd <<EOC
writel $((HPET + 0x10)) 0x3
writel $((HPET + 0x100)) 0x14c
writel $((HPET + 0x108)) $PERIOD
clock_step
writel $((HPET + 0x100)) 0x108
clock_step 1000000
clock_step
clock_step 1000000000
readl $((HPET + 0xf0))
readl $((HPET + 0x108))
writel $((HPET + 0x100)) 0x10c
clock_step
writel $((HPET + 0x100)) 0x10a
clock_step 10000000
readl $((HPET + 0x20))
EOC
timeout 30 $QEMU -machine pc -accel qtest -qtest stdio -qtest-log none \
	-display none -nodefaults < $T/hpet.cmd > $T/hpet.out 2> $T/hpet.err
check "hpet: qemu -accel qtest ran the commands (exit $?)" [ "$(wc -l < $T/hpet.out)" -eq "$(wc -l < $T/hpet.cmd)" ]
# reply N: line N of the answers; val N: its number
reply() { sed -n "${1}p" $T/hpet.out; }
val() { r=$(reply "$1"); echo $((${r#OK })); }
grep_check "hpet: an enabled periodic timer 0 fires after its period" "^OK $((PERIOD * 10))\$" $T/hpet.out
r=$(reply 7)
case "$r" in
*"no pending deadline"*) ok "hpet: disabled edge-triggered timer 0 arms no QEMU timer" ;;
*) nok "hpet: disabled edge-triggered timer 0 arms no QEMU timer # clock_step found a deadline: '$r'" ;;
esac
cnt=$(val 9) cmp=$(val 10)
check "hpet: its comparator kept advancing (counter $cnt, comparator $cmp, period $PERIOD)" \
	[ "$cmp" -gt "$cnt" -a $((cmp - cnt)) -le $PERIOD -a $((cmp % PERIOD)) = 0 ]
check "hpet: enabled again, it fires at its comparator, not at once ($(reply 12))" [ "$(reply 12)" = "OK $((cmp * 10))" ]
st=$(val 15)
check "hpet: a disabled level-triggered timer still sets its status bit (status $st)" [ $((st & 1)) = 1 ]
echo "--- qtest answers"; cat -n $T/hpet.out; tail -n 5 $T/hpet.err
exit 0
