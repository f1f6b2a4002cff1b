# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Lab side of scripts/bench-shadow (busybox sh, in the lab with npt=0).
# ROUNDS rounds of: plain (QEMU without -span, 4 vCPUs), single (one span
# member hosting all 4 vCPUs), split (2+2 over two members), in an order
# that alternates between rounds. Each guest (Span's kernel) runs a
# CPU-bound job on every vCPU, then span-stress for SECONDS s; prints
# "BENCH: ..." lines and keeps each member's query-span in /job/qmp-*.json.
. /job/span/lib.sh
ROUNDS=${ROUNDS:-2} SECONDS_=${SECONDS_:-30}

cat > $T/bench.sh <<JOB
t0=\$(cut -d' ' -f1 /proc/uptime)
for c in 0 1 2 3; do
	taskset -c \$c sh -c 'i=0; while [ \$i -lt 60000 ]; do i=\$((i + 1)); done' &
done
wait
t1=\$(cut -d' ' -f1 /proc/uptime)
echo "bench-cpu \$t0 \$t1"
span-stress --seconds $SECONDS_
echo bench-finished
sleep 3
JOB
GUEST_BINS=/span/bin/span-stress mkinitrd $T/bench.sh $T/bench.rd
export SMP=4 MEMBER_TIMEOUT=$((SECONDS_ + 600))

wait_finished() {
	while ! grep -q bench-finished $T/c0 2>/dev/null && kill -0 "$1" 2>/dev/null; do sleep 0.5; done
}
report() {	# CONFIG ROUND
	cpu=$(tr -d '\r' < $T/c0 | sed -n 's/^bench-cpu \([0-9.]*\) \([0-9.]*\)$/\1 \2/p' | awk '{ printf "%.2f", $2 - $1 }')
	st=$(tr -d '\r' < $T/c0 | sed -n 's/^span-stress: ok t=\([0-9]*\) s .* iterations=\([0-9]*\) .*/\1 \2/p')
	echo "BENCH: config=$1 round=$2 cpu_s=${cpu:-none} stress_s=${st% *} stress_iterations=${st#* }"
}

run_plain() {
	rm -f $T/c0
	member $T/c0 $T/bench.rd -machine kernel-irqchip=split > $T/m0.txt 2>&1
	report plain "$1"
}
run_single() {
	start_spand --create vm1:256M
	rm -f $T/c0; qmp_pipe $T/qs
	member $T/c0 $T/bench.rd -span vm1,socket=$SOCK,member=m0,vcpus=0-3 \
		-machine kernel-irqchip=split \
		-chardev pipe,id=qmp,path=$T/qs -mon chardev=qmp,mode=control > $T/m0.txt 2>&1 &
	M0=$!
	wait_finished $M0; qmp_query_span $T/qs; wait $M0
	stop_spand
	report single "$1"
	cp $T/qs.log "/job/qmp-single-$1.json"
}
run_split() {
	start_spand --create vm1:256M
	rm -f $T/c0 $T/c1; qmp_pipe $T/q0; qmp_pipe $T/q1
	member $T/c0 $T/bench.rd -span vm1,socket=$SOCK,member=m0,vcpus=0-1 \
		-machine kernel-irqchip=split \
		-chardev pipe,id=qmp,path=$T/q0 -mon chardev=qmp,mode=control > $T/m0.txt 2>&1 &
	M0=$!
	member $T/c1 $T/bench.rd -span vm1,socket=$SOCK,member=m1,vcpus=2-3 \
		-machine kernel-irqchip=split \
		-chardev pipe,id=qmp,path=$T/q1 -mon chardev=qmp,mode=control > $T/m1.txt 2>&1 &
	M1=$!
	wait_finished $M0; qmp_query_span $T/q0; qmp_query_span $T/q1; wait $M0; wait $M1
	stop_spand
	report split "$1"
	cp $T/q0.log "/job/qmp-split-$1-m0.json"
	cp $T/q1.log "/job/qmp-split-$1-m1.json"
}

r=1
while [ $r -le "$ROUNDS" ]; do
	if [ $((r % 2)) = 1 ]; then order="plain single split"; else order="split single plain"; fi
	for c in $order; do
		echo "bench: round $r: $c" >&2
		"run_$c" $r
		tail -n 5 $T/c0 >&2
	done
	r=$((r + 1))
done
