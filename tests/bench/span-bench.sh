# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# The lab half of `make bench-span` (scripts/bench-span copies it, the
# check-span helpers and the static span-bench program into the job folder).
#
# Boots the same 4-vCPU guest in three configurations, one after the other,
# and keeps all three running (idle between commands):
#   plain  QEMU without -span (the nested baseline);
#   one    one member hosting vCPUs 0-3 (-span ...,vcpus=0-3);
#   split  two members, vCPUs 0-1 on m0 (owns the devices), 2-3 on m1.
# Each guest runs span-bench on commands read from its serial console
# (cpu, ipi, mmio, pio; quit). ROUNDS rounds, in each: cpu on plain, one,
# split, then ipi on plain, one, split, then mmio, then pio: every
# measurement alternates between the configurations, one at a time while
# the others idle. Lines "BENCH ..." go to /job/bench.txt prefixed with
# "cfg=CFG round=N"; the split members' query-span totals (read before the
# guests quit) too. Progress lines start with "bench:".
. /job/span/lib.sh

ROUNDS=${ROUNDS:-15} WORK=${WORK:-100000} RT=${RT:-200} NACC=${NACC:-500}
# A guest that does not answer within STALL seconds (boot: BOOT seconds) is
# stuck: it is stopped (its console kept in /job/fail-CFG.txt) and booted
# again (a boot is tried three times); after MAXFAIL failures the bench
# gives up.
STALL=${STALL:-60} BOOT=${BOOT:-120} MAXFAIL=${MAXFAIL:-4}
CFGS=${CFGS:-plain one split}
# GUEST_APPEND replaces the guest's "quiet loglevel=3" (debugging).
GUEST_APPEND=${GUEST_APPEND:-quiet loglevel=3}
OUT=/job/bench.txt
: > $OUT

cat > $T/bench-job.sh <<JOB
B=/job/span-bench
stty -echo 2>/dev/null
dev=
for d in /sys/bus/pci/devices/*; do
	[ "\$(cat \$d/vendor):\$(cat \$d/device)" = 0x1b36:0x0005 ] && dev=\$d
done
[ -n "\$dev" ] || { echo "no pci-testdev in the guest"; exit 1; }
echo 1 > \$dev/enable 2>/dev/null
echo "BENCH guest clocksource=\$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource) tsc_messages=\$(dmesg | grep -ci 'tsc.*\(unstable\|skew\|warp\|adjust\)')"
dmesg | grep -i 'tsc.*\(unstable\|skew\|warp\|adjust\)' | sed 's/^/BENCH-INFO /'
echo "BENCH-READY online=\$(cat /sys/devices/system/cpu/online) nproc=\$(nproc)"
n=0
while read cmd; do
	echo "BENCH-GOT \$cmd"
	case "\$cmd" in
	cpu) \$B cpu $WORK 1 0 1 2 3 ;;
	ipi) \$B ipi $RT 1 0:1 1:2 ;;
	mmio) \$B mmio \$dev/resource0 $NACC 1 0 2 ;;
	pio) \$B pio \$dev/resource1 $NACC 1 0 2 ;;
	quit) exit 0 ;;
	*) continue ;;
	esac
	st=\$?
	n=\$((n + 1))
	echo "BENCH-DONE \$n \$cmd \$st"
done
JOB
cp $T/bench-job.sh /job/guest-job.sh

# initrd OUT: guest.cpio plus the job and span-bench.
d=$T/rd
rm -rf $d && mkdir -p $d/job
cp $T/bench-job.sh $d/job/run
cp /job/span-bench $d/job/span-bench
(cd $d && find . | cpio -o -H newc 2>/dev/null) > $T/job.cpio
cat /boot/guest.cpio $T/job.cpio > $T/bench.rd
rm -rf $d $T/job.cpio

# qemu NAME SERIAL ARGS...: one QEMU of the bench in the background (pid in
# $QPID); SERIAL is its -serial.
qemu() {
	n=$1 ser=$2; shift 2
	# no TSC-deadline timer: the lab's idle stall (Documentation/qemu-span.rst)
	timeout -k 5 3000 $QEMU -accel kvm -cpu host,-tsc-deadline -smp 4 -m 256M \
		-machine kernel-irqchip=split -device pci-testdev \
		-kernel /boot/vmlinux -initrd $T/bench.rd \
		-append "console=ttyS0 panic=-1 $GUEST_APPEND span.run=/job/run span.quiet=1" \
		-display none -no-reboot -nodefaults -nic none -vga none \
		-serial "$ser" "$@" > "$T/$n.txt" 2>&1 &
	QPID=$!
}
# console CFG: a fifo pair $T/CFG.{in,out} for the guest's serial port;
# what the guest writes goes to $T/CFG.con.
console() {
	rm -f "$T/$1.in" "$T/$1.out" "$T/$1.con" && mkfifo "$T/$1.in" "$T/$1.out"
	cat "$T/$1.out" > "$T/$1.con" &
}
# qmp_pipe M: QMP fifos for split member M; replies in $T/qmpM.log.
qmp_pipe() {
	rm -f "$T/qmp$1.in" "$T/qmp$1.out" "$T/qmp$1.log" && mkfifo "$T/qmp$1.in" "$T/qmp$1.out"
	cat "$T/qmp$1.out" > "$T/qmp$1.log" &
}
# counter LOG NAME: counter NAME of the member's totals, which query-span
# gives twice (top level and the member's own entry; the key order varies).
counter() {
	grep -o '"counters": {[^}]*}' "$1" | sort | uniq -d | head -n 1 |
		grep -o "\"$2\": [0-9]*" | sed 's/.*: //'
}
# wait_line CFG PATTERN SECONDS PIDS: until PATTERN is in CFG's console;
# false if the QEMUs stop or SECONDS pass.
wait_line() {
	t=$(( $(date +%s) + $3 ))
	while ! tr -d '\r' < "$T/$1.con" | grep -q "$2"; do
		[ "$(date +%s)" -lt "$t" ] || return 1
		for p in $4; do kill -0 "$p" 2>/dev/null || return 1; done
		sleep 0.1
	done
}
# keep CFG WHY: save CFG's console and QEMU output for the report.
keep() {
	f=/job/fail-$1.txt
	{ echo "=== $2"; for x in $1.con $1.txt $1-m1.txt spand.log; do
		[ -f "$T/$x" ] && { echo "--- $x"; tr -d '\r' < "$T/$x" | tail -n 200; }
	done; } >> "$f"
	echo "bench: $1: $2 (kept in $(basename "$f"))"
}

fails=0 nboot=0
# boot CFG: start the configuration, wait until its guest is ready.
boot() {
	cfg=$1 tries=0
	while :; do
		nboot=$((nboot + 1))
		console "$cfg"
		t0=$(date +%s)
		case $cfg in
		plain) qemu plain pipe:$T/plain; PIDS=$QPID ;;
		one)
			spanctl -s $SOCK create one$nboot --memory 256M > /dev/null || return 1
			qemu one pipe:$T/one -span one$nboot,socket=$SOCK,member=m0,vcpus=0-3
			PIDS=$QPID ;;
		split)
			spanctl -s $SOCK create two$nboot --memory 256M > /dev/null || return 1
			qmp_pipe 0; qmp_pipe 1
			# m0 (vCPU 0, devices) joins spand first, then m1
			qemu split pipe:$T/split -span two$nboot,socket=$SOCK,member=m0,vcpus=0-1 \
				-chardev pipe,id=qmp,path=$T/qmp0 -mon chardev=qmp,mode=control
			PIDS=$QPID
			i=0
			while ! grep -q "member_join vm=two$nboot .* name=m0 " $T/spand.log && [ $i -lt 100 ]; do
				sleep 0.1; i=$((i + 1))
			done
			qemu split-m1 file:$T/split-m1.con -span two$nboot,socket=$SOCK,member=m1,vcpus=2-3 \
				-chardev pipe,id=qmp,path=$T/qmp1 -mon chardev=qmp,mode=control
			PIDS="$PIDS $QPID" ;;
		esac
		eval "PIDS_$cfg=\"$PIDS\""
		if wait_line "$cfg" BENCH-READY "$BOOT" "$PIDS"; then
			echo "bench: $cfg up in $(( $(date +%s) - t0 )) s: $(tr -d '\r' < "$T/$cfg.con" | grep -o 'online=.*')"
			tr -d '\r' < "$T/$cfg.con" | grep '^BENCH guest ' | sed "s/^/cfg=$cfg round=boot /" >> "$OUT"
			tr -d '\r' < "$T/$cfg.con" | grep -e '^BENCH guest ' -e '^BENCH-INFO ' |
				sed -e "s/^BENCH /bench: $cfg: /" -e "s/^BENCH-INFO /bench: $cfg: /"
			return 0
		fi
		fails=$((fails + 1))
		stop "$cfg"
		keep "$cfg" "boot failed (try $tries)"
		echo "cfg=$cfg round=boot BENCH failed what=boot" >> $OUT
		tries=$((tries + 1))
		[ $tries -lt 3 ] || return 1
	done
}

# stop CFG: stop CFG's QEMUs.
stop() {
	eval "P=\"\$PIDS_$1\""
	for p in $P; do kill "$p" 2>/dev/null; done
	for p in $P; do wait "$p"; done
}

# cmd CFG WHAT ROUND: run one measurement in CFG's guest, collect its lines.
cmd() {
	eval "P=\"\$PIDS_$1\""
	n=$(( $(tr -d '\r' < "$T/$1.con" | grep -c '^BENCH-DONE') + 1 ))
	lines=$(tr -d '\r' < "$T/$1.con" | wc -l)
	echo "$2" > "$T/$1.in"
	if ! wait_line "$1" "^BENCH-DONE $n $2 " "$STALL" "$P"; then
		fails=$((fails + 1))
		keep "$1" "no answer to '$2' within $STALL s"
		echo "cfg=$1 round=$3 BENCH failed what=$2" >> $OUT
		return 1
	fi
	tr -d '\r' < "$T/$1.con" | tail -n +$((lines + 1)) | grep '^BENCH ' |
		sed "s/^/cfg=$1 round=$3 /" >> $OUT
	tr -d '\r' < "$T/$1.con" | grep -q "^BENCH-DONE $n $2 0\$" || {
		echo "cfg=$1 round=$3 BENCH failed what=$2" >> $OUT
		keep "$1" "'$2' failed in the guest"
		return 1; }
}

start_spand --log-level info || { echo "bench: spand did not start"; exit 1; }
t0=$(date +%s)
for c in $CFGS; do
	boot "$c" || { echo "bench: $c does not boot: giving up"; exit 1; }
done
echo "cfg=split round=boot BENCH joins order=$(sed -n 's/.*member_join vm=two.* name=\(m[01]\) .*/\1/p' $T/spand.log | tr '\n' ,)" >> $OUT

ok=1
r=0
while [ "$r" -lt "$ROUNDS" ] && [ "$ok" = 1 ]; do
	for w in cpu ipi mmio pio; do
		for c in $CFGS; do
			cmd "$c" "$w" "$r" && continue
			# a stuck or failed guest is rebooted, the bench goes on
			[ "$fails" -lt "$MAXFAIL" ] || { echo "bench: $fails failures: giving up"; ok=0; break 3; }
			stop "$c"
			boot "$c" || { ok=0; break 3; }
		done
	done
	r=$((r + 1))
	echo "bench: round $r of $ROUNDS done ($(( $(date +%s) - t0 )) s)"
done

case " $CFGS " in *" split "*)
for m in 0 1; do
	printf '{"execute":"qmp_capabilities"}\n{"execute":"query-span"}\n' > $T/qmp$m.in
done
sleep 2
for m in 0 1; do
	echo "cfg=split round=end BENCH qmp member=m$m ipis_sent=$(counter $T/qmp$m.log ipis-sent) ipis_received=$(counter $T/qmp$m.log ipis-received) mmio_forwarded=$(counter $T/qmp$m.log mmio-forwarded) pio_forwarded=$(counter $T/qmp$m.log pio-forwarded) errors=$(counter $T/qmp$m.log errors)" >> $OUT
done ;;
esac
for c in $CFGS; do echo quit > "$T/$c.in"; done
for c in $CFGS; do
	eval "P=\"\$PIDS_$c\""
	i=0
	for p in $P; do
		while kill -0 "$p" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.2; i=$((i + 1)); done
	done
	for p in $P; do kill "$p" 2>/dev/null; done
	for p in $P; do wait "$p" || echo "bench: $c: a QEMU exited $? after 'quit'"; done
done
stop_spand
echo "bench: $fails failures, $(( $(date +%s) - t0 )) s"
[ $ok = 1 ]
