# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# The guest job of the full-nesting tests (tests/nested/), run by lab-init
# in an unmodified Debian kernel at any level (an L2 in V1..V4, or a guest of
# L0 as the benchmark's baseline). Prints a few short lines (console bytes
# are exits through every level below):
#   guest: kernel=... online=... nproc=... up=S
#                            (up: this guest's uptime as its job starts,
#                            i.e. its boot; "guest: done up=S" at the end)
#   NBENCH cpu ...           the parallel CPU-bound job (nested-bench cpu
#                            on every vCPU; CPU_WORK units, CPU_REPS reps),
#                            between "NBENCH cpu-start" and "cpu-done"
#   NBENCH exit-median ...   one KVM exit round trip (EXITS cpuid, 5 phases)
#   NBENCH ipi ...           futex ping-pong between vCPU 0 and the last
#                            vCPU (span-bench ipi; IPI_RT round trips, 5
#                            phases): a wake-up IPI each way (across L1s
#                            in V2)
#   blk: written A read B    virtio-blk (/dev/vda) write and read-back
#   blk: checksums match on cpu N
# Parameters come from /job/params (sourced if present). BLK_CPU pins the
# disk test to that vCPU (V2..V4: a vCPU of another hypervisor than the
# disk's owner).
CPU_WORK=2000 CPU_REPS=1 EXITS=0 IPI_RT=0 BLK=1 BLK_CPU=
# shellcheck source=/dev/null # written for the run (l2_initrd, tests/nested/lib.sh)
[ -f /job/params ] && . /job/params
l2_mods="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk"
if [ "$BLK" = 1 ]; then
	for m in $l2_mods; do [ -f "/job/modules/$m.ko" ] && insmod "/job/modules/$m.ko" 2>/dev/null; done
fi
n=$(nproc)
echo "guest: kernel=$(uname -r) online=$(cat /sys/devices/system/cpu/online) nproc=$n clock=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource) up=$(cut -d' ' -f1 /proc/uptime)"
[ "$EXITS" -gt 0 ] && /job/nested-bench exit "$EXITS" 5 | grep median
[ "$IPI_RT" -gt 0 ] && [ "$n" -ge 2 ] &&
	/job/span-bench ipi "$IPI_RT" 5 "0:$((n - 1))" | sed 's/^BENCH /NBENCH /'
# the vCPUs 0..n-1, one argument each
set --
i=0
while [ $i -lt "$n" ]; do set -- "$@" "$i"; i=$((i + 1)); done
# the markers let the L1 below count the exits of the job alone, and the
# lab below that (the L1 relays them on its console); each polls a
# console once a second, so with EXIT_WATCH the job waits for both after
# each marker (the counts then cover up to 3 s of idle guest on each side
# of the job)
echo "NBENCH cpu-start"
[ "$EXIT_WATCH" = 1 ] && sleep 3
# its lines go to a file until the job is over: a line written while the
# threads run would be console work during the job (an UART interrupt on
# some vCPU and its port accesses: exits in V1, accesses forwarded to the
# device owner in V2)
cat /proc/interrupts > /tmp/irq.start
/job/nested-bench cpu "$CPU_WORK" "$CPU_REPS" "$@" > /tmp/nbench.out || { cat /tmp/nbench.out; exit 1; }
cat /proc/interrupts > /tmp/irq.end
cat /tmp/nbench.out
echo "NBENCH cpu-done"
# the guest's own interrupts during the job (its IPIs: RES, CAL, TLB; its
# timer: LOC), one value per vCPU, e.g. RES=12/40; rows that did not move
# are left out
awk 'FNR == 1 { f++; if (f == 1) n = NF; next }
     { k = $1; sub(/:$/, "", k); for (i = 1; i <= n; i++) v[f, k, i] = $(i + 1); if (f == 1) o[++m] = k }
     END { printf "NBENCH irqs"
	   for (j = 1; j <= m; j++) { k = o[j]; s = ""; z = 1
		for (i = 1; i <= n; i++) { d = v[2, k, i] - v[1, k, i]; if (d) z = 0; s = s (i > 1 ? "/" : "") d }
		if (!z) printf " %s=%s", k, s }
	   print "" }' /tmp/irq.start /tmp/irq.end
[ "$EXIT_WATCH" = 1 ] && sleep 3
if [ "$BLK" = 1 ]; then
	[ -z "$BLK_CPU" ] || taskset -p "$(printf %x $((1 << BLK_CPU)))" $$ > /dev/null
	i=0
	while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	[ -b /dev/vda ] || { echo "blk: no /dev/vda"; exit 1; }
	dd if=/dev/urandom of=/tmp/pattern bs=64k count=32 2>/dev/null
	a=$(md5sum < /tmp/pattern | cut -d' ' -f1)
	dd if=/tmp/pattern of=/dev/vda bs=64k count=32 conv=fsync 2>/dev/null || { echo "blk: write failed"; exit 1; }
	echo 3 > /proc/sys/vm/drop_caches
	b=$(dd if=/dev/vda bs=64k count=32 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
	echo "blk: written $a read $b"
	[ "$a" = "$b" ] && echo "blk: checksums match on cpu $(cut -d' ' -f39 /proc/self/stat)"
fi
echo "guest: done up=$(cut -d' ' -f1 /proc/uptime)"
exit 0
