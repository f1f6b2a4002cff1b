# shellcheck shell=sh
# Runs inside a guest started by span-guest: show what the guest sees.
echo "guest: kernel $(uname -r), $(nproc) vCPUs, $(awk '/MemTotal/ {print $2 / 1024 " MiB"}' /proc/meminfo)"
echo "guest: hypervisor $(dmesg | sed -n 's/.*Hypervisor detected: //p' | head -n1)"
grep -q hypervisor /proc/cpuinfo && echo "guest: cpuid says it runs under a hypervisor"
echo "guest: hello from a guest under KVM inside the lab"
