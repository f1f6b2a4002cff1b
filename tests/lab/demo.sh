# shellcheck shell=sh
# The lab half of `make demo` (runs inside the lab, from scripts/demo).
set -e
step() { echo; echo "==> $*"; }
step "lab machine: Linux $(uname -r) under QEMU TCG, CPU '$(sed -n 's/^model name.*: //p' /proc/cpuinfo | head -n1)'"
grep -q -w svm /proc/cpuinfo && echo "    the emulated CPU has SVM; nested paging: $(grep -q -w npt /proc/cpuinfo && echo yes || echo no)"
ls -l /dev/kvm
echo "    kvm_amd: nested=$(cat /sys/module/kvm_amd/parameters/nested) npt=$(cat /sys/module/kvm_amd/parameters/npt)"
step "starting a 2-vCPU guest under KVM with QEMU $(qemu-system-x86_64 --version | head -n1 | sed 's/.*version //')"
t0=$(date +%s)
span-guest --smp 2 /span/tests/guest-hello.sh
echo "    guest ran and powered off in $(( $(date +%s) - t0 )) s of lab time"
sh /span/tests/demo-span.sh
