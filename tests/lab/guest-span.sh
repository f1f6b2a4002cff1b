# shellcheck shell=sh
# Runs inside the spanning guest of demo-span.sh: what the guest sees.
echo "guest: kernel $(uname -r), nproc = $(nproc), online CPUs $(cat /sys/devices/system/cpu/online)"
echo "guest: one CPU-bound job pinned to each vCPU:"
for c in 0 1 2 3; do
	# shellcheck disable=SC2016 # $i and $0 are the inner sh's
	taskset -c $c sh -c 'i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done
		echo "  job $0 finished on vCPU $(cut -d" " -f39 /proc/self/stat)" > /tmp/w$0' $c &
done
wait
cat /tmp/w0 /tmp/w1 /tmp/w2 /tmp/w3
echo "guest: /proc/interrupts (IPIs between vCPUs 0-1 and 2-3 cross members):"
grep -E '^ +CPU|LOC|RES|CAL|TLB' /proc/interrupts
echo SPAN-DEMO-QMP
sleep 2	# the lab reads query-span from both members meanwhile
