# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# The V2 part of `make demo` (scripts/demo), in the lab (L0): one unmodified
# Debian guest on two L1 hypervisors at once (tests/nested/span-topology.sh,
# the same run as check-nested's 03-v2.sh), then a summary: each hypervisor
# and the vCPUs it hosts, the guest's own view, the IPIs, kicks and device
# accesses forwarded between the two L1s.
. /job/nested/lib.sh
. /job/nested/span-topology.sh
L1_MEM=1G L1_TIMEOUT=330
# shellcheck source=/dev/null # written for the run (scripts/run-nested-tests)
[ -f "$N/params" ] && . "$N/params"
L1_SMP=1
step() { echo; echo "==> $*"; }
step "V2: spand in the lab (L0) holds span VM 'v2' (256 MiB); L1a and L1b (our kernel and QEMU, KVM inside) each get a span-pci device and run one QEMU member of an unmodified Debian guest"
t0=$(now_ms)
span_topology V2 v2 2 1 "L1a and L1b" l1a:0:owner l1b:1 > $T/demo-v2.out 2>&1
echo "    both L1s ran and powered off in $(( ($(now_ms) - t0) / 1000 )) s of lab time"
o=$T/demo-v2.out
# counter NAME LINE: the value of "NAME" in a query-span counters line
counter() { echo "$2" | sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p"; }
step "each hypervisor and what it hosts (spand's view and each member's query-span)"
for w in L1a L1b; do
	c=$(grep "SPAN-COUNTERS V2 $w:" $o | tail -n 1)
	case $w in L1a) what="vCPU 0, the firmware, the serial console and the virtio-blk disk" ;; *) what="vCPU 1" ;; esac
	echo "    $w: $what"
	echo "         IPIs sent $(counter ipis-sent "$c"), received $(counter ipis-received "$c");" \
		"PV kicks sent $(counter kicks-sent "$c"), received $(counter kicks-received "$c");" \
		"port/MMIO accesses forwarded to the owner $(counter pio-forwarded "$c")/$(counter mmio-forwarded "$c"); errors $(counter errors "$c")"
done
grep 'event=member_join' $T/spand-v2.log | sed 's/^/    spand: /' | cut -c1-160
step "the guest's own view (it does not know it runs on two hypervisors)"
sed -n 's/^SPAN-GUEST V2 /    /p' $o
step "results"
grep 'NESTED-TAP:' $o | sed 's/^NESTED-TAP: /    /'
if grep -q 'NESTED-TAP: not ok' $o || ! grep -q 'NESTED-TAP: ok V2 L2 (Debian) job exits 0' $o; then
	echo "    V2 failed; the run's output:"; tail -n 60 $o
	exit 1
fi
exit 0
