#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# vmexit-window.sh [SECONDS]   (inside the lab; default 20 s)
#
# Checks the lab's outer emulator, not Span: KVM runs a guest on lab CPU 0
# (stock xapic_ipi_test: two vCPUs sending IPIs and halting, i.e. a VMRUN
# and #VMEXIT on CPU 0 every few microseconds) while span-fpu-churn reloads
# the x87 state on CPU 1 as fast as it can.  QEMU's TCG up to 10.0 wrote
# CPU 0's hflags2 back from the FXRSTOR thread (cpu_clear_ignne), which
# sets GIF again inside the #VMEXIT window or drops it in the guest (fixed
# by patches/qemu/tcg-svm/0001): the lab's kernel then takes an interrupt on the
# guest's GS base and dies ("stack guard page was hit"), or the test's
# IPIs stall.  With Debian's QEMU 7.2 as the outer emulator
# (LAB_QEMU=debian) this fails in seconds; with Span's it must pass.
# Prints "vmexit-window: ok" and exits 0 when both ran to the end.
set -u
secs=${1:-20}
churn=/span/bin/span-fpu-churn
test=/kselftest/kvm/xapic_ipi_test
[ -x "$churn" ] || { echo "vmexit-window: no $churn in the lab image"; exit 2; }
[ -x "$test" ] || { echo "vmexit-window: no $test in the lab image"; exit 2; }
[ "$(grep -c ^processor /proc/cpuinfo)" -ge 2 ] ||
	{ echo "vmexit-window: needs 2 lab CPUs"; exit 2; }

taskset -c 1 "$churn" "$((secs + 5))" > /tmp/churn.out 2>&1 &
cpid=$!
echo "vmexit-window: xapic_ipi_test on CPU 0 for ${secs}s, FXRSTOR loop on CPU 1"
taskset -c 0 "$test" -s "$secs" > /tmp/ipi.out 2>&1
rc=$?
tail -n 3 /tmp/ipi.out
wait "$cpid"
crc=$?
cat /tmp/churn.out
if [ "$rc" -ne 0 ] || [ "$crc" -ne 0 ]; then
	echo "vmexit-window: FAILED (xapic_ipi_test exit $rc, span-fpu-churn exit $crc)"
	exit 1
fi
echo "vmexit-window: ok"
