# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# check-nested, first: is the lab's outer emulator fit to be L0's CPU?
# Runs tests/lab/vmexit-window.sh (a KVM guest on lab CPU 0 while an FXRSTOR
# loop runs on CPU 1). QEMU's TCG up to 10.0 corrupts CPU 0's hflags2 from
# the other vCPU thread (GIF set inside the #VMEXIT window or dropped in the
# guest, NPT flipped: patches/qemu/tcg-svm/0001): the guest then shuts down or the
# lab's kernel crashes. Every nested and span test relies on this holding.
. /job/nested/lib.sh
[ -c /dev/kvm ] || { nok "lab: outer emulator's #VMEXIT window # no /dev/kvm in the lab"; exit 0; }
sh /span/tests/vmexit-window.sh 20 > $T/vmexit-window.out 2>&1
rc=$?
name="lab: a KVM guest on CPU 0 survives an FXRSTOR loop on CPU 1 (outer emulator keeps GIF/NPT across VMRUN and #VMEXIT)"
if [ $rc = 0 ]; then
	ok "$name"
else
	nok "$name # $(grep -m1 -e 'Wanted\|FAILED\|vmexit-window: no' $T/vmexit-window.out)"
	tail -n 8 $T/vmexit-window.out
fi
grep -h 'reloads in' $T/vmexit-window.out | sed 's/^span-fpu-churn: \([0-9]*\) reloads in \([0-9]*\) s/NESTED-M: level=L0 fpu_churn_reloads=\1 fpu_churn_s=\2/'
exit 0
