# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# timeout: 300
# check-span, stage 1: one member; start-up validation; RAM from spand.
. /job/span/lib.sh

# -span help lists the properties.
$QEMU -span help > $T/help.txt 2>&1
check "span help exits 0" [ $? = 0 ]
grep_check "span help lists vcpus=" 'vcpus=' $T/help.txt

# Bad input before spand exists.
$QEMU -accel kvm -span vm1,socket=$T/none.sock,vcpus=0 -machine none > $T/e1.txt 2>&1
rc=$?
check "spand not running: exit 1" [ $rc = 1 ]
grep_check "spand not running: message" 'is spand running' $T/e1.txt

start_spand --create vm1:256M --create vm2:64M --create vm3:64M
check "spand starts" [ -S "$SOCK" ]

$QEMU -accel tcg -span vm1,socket=$SOCK,vcpus=0 -machine none > $T/e2.txt 2>&1
check "TCG refused: exit 1" [ $? = 1 ]
grep_check "TCG refused: explains why" 'TCG cannot keep translated code coherent' $T/e2.txt

$QEMU -accel kvm -span nosuch,socket=$SOCK,vcpus=0 -machine none > $T/e3.txt 2>&1
check "unknown span VM: exit 1" [ $? = 1 ]
grep_check "unknown span VM: message" "no such span VM" $T/e3.txt

$QEMU -accel kvm -span vm1,socket=$SOCK,vcpus=x > $T/e4.txt 2>&1
check "bad vcpus=: exit 1" [ $? = 1 ]
grep_check "bad vcpus=: message" 'is not N or N-M' $T/e4.txt

$QEMU -accel kvm -span vm1,socket=$SOCK,vcpus=none,vcpus=0 > $T/e4b.txt 2>&1
check "vcpus=none with vCPUs: exit 1" [ $? = 1 ]
grep_check "vcpus=none with vCPUs: message" 'vcpus=none and vcpus=N-M contradict' $T/e4b.txt

echo 'true' > $T/true.sh
mkinitrd $T/true.sh $T/true.rd
SMP=2 MEM=64M member $T/c5 $T/true.rd -span vm3,socket=$SOCK,vcpus=0,wait=1 > $T/e5.txt 2>&1
check "vCPU without host: exit 1" [ $? = 1 ]
grep_check "vCPU without host: message" 'vCPUs 1 of the guest have no host' $T/e5.txt

MEM=128M member $T/c6 $T/true.rd -span vm2,socket=$SOCK,vcpus=0-1 > $T/e6.txt 2>&1
check "RAM larger than span memory: exit 1" [ $? = 1 ]
grep_check "RAM larger than span memory: message" 'does not fit' $T/e6.txt

# One member boots the guest with its RAM from spand.  The guest computes a
# marker (so it is in guest memory but not in the job's text) and keeps it.
cat > $T/boot.sh <<'JOB'
echo "guest-nproc=$(nproc)"
m="span-guest-wrote-$((12345 * 6789))-marker"
echo "$m" > /tmp/marker
echo "$m$m$m" > /tmp/marker2
sync
sleep 2
JOB
mkinitrd $T/boot.sh $T/boot.rd
qmp_pipe $T/qmp
QMPCAT=$!
SMP=2 member $T/c7 $T/boot.rd -span vm1,socket=$SOCK,member=m0,vcpus=0-1 \
	-chardev pipe,id=qmp,path=$T/qmp -mon chardev=qmp,mode=control > $T/e7.txt 2>&1 &
M0=$!
qmp_query_span $T/qmp
sleep 1.5
spanctl -s $SOCK show vm1 > $T/show.txt 2>&1
# A second member may not take a vCPU that m0 hosts.
SMP=2 member $T/c8 $T/true.rd -span vm1,socket=$SOCK,member=m1,vcpus=1 > $T/e8.txt 2>&1
check "vCPU claimed twice: exit 1" [ $? = 1 ]
grep_check "vCPU claimed twice: message" 'already hosted by member 0' $T/e8.txt
wait $M0
rc=$?
check "member boots the guest and exits 0" [ $rc = 0 ]
check "guest job succeeded" [ "$(guest_status $T/c7)" = 0 ]
grep_check "guest sees 2 vCPUs" 'guest-nproc=2' $T/c7
grep_check "spanctl shows the member" 'm0' $T/show.txt
kill $QMPCAT 2>/dev/null
grep_check "query-span answers" '"member": "m0"' $T/qmp.log
grep_check "query-span: vCPUs local" '"local": true' $T/qmp.log
# The guest's memory is spand's memfd: read it through spand's fd.
found=
for f in /proc/"$SPAND"/fd/*; do
	case "$(readlink "$f")" in *memfd*) grep -q -a 'span-guest-wrote-83810205-marker' "$f" && found=1 ;; esac
done
check "spand's memory holds what the guest wrote" [ -n "$found" ]
stop_spand
for f in e1 e2 e3 e4 e5 e6 e7 e8; do echo "--- $f"; cat $T/$f.txt; done
echo "--- qmp"; cat $T/qmp.log; echo "--- show"; cat $T/show.txt
echo "--- console"; cat $T/c7
