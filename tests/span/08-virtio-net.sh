# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# timeout: 240
# check-span: virtio-net owned by member 0 (user-mode networking), used from
# a process pinned to every vCPU, two of which are hosted by member 1: the
# guest gets a DHCP lease from slirp, then from each vCPU pings the lab
# (10.0.2.2), downloads a file from busybox httpd in the lab and uploads
# one to it (a CGI records what arrives); checksums are compared on both
# sides.  The NIC's receive interrupt is steered to vCPU 2, so its MSI-X
# messages must be forwarded from member 0 to member 1.
. /job/span/lib.sh

PORT=8080
W=$T/www
rm -rf $W $T/uploads && mkdir -p $W/cgi-bin
dd if=/dev/urandom of=$W/blob bs=64k count=8 2>/dev/null
MD5=$(md5sum < $W/blob | cut -d' ' -f1)
# The CGI answers and records the checksum of each upload it receives.
cat > $W/cgi-bin/up <<CGI
#!/bin/sh
s=\$(head -c "\$CONTENT_LENGTH" | md5sum | cut -d' ' -f1)
echo "\$s" >> $T/uploads
printf 'Content-Type: text/plain\r\n\r\n%s\n' "\$s"
CGI
chmod +x $W/cgi-bin/up
httpd -f -p 127.0.0.1:$PORT -h $W &
HTTPD=$!

cat > $T/net.sh <<'JOB'
cat > /tmp/dhcp.sh <<'EOF'
#!/bin/sh
case "$1" in
bound|renew)
	ifconfig "$interface" "$ip" netmask "$subnet" up
	route add default gw "$router" dev "$interface"
	echo "net: lease $ip router $router" ;;
esac
EOF
chmod +x /tmp/dhcp.sh
ip link set eth0 up || { echo "net: no eth0"; exit 1; }
udhcpc -i eth0 -s /tmp/dhcp.sh -n -q -t 5 -T 2 || { echo "net: no DHCP lease"; exit 1; }
# The receive queue's interrupt goes to vCPU 2 (member 1).
irq=$(grep 'virtio.*-input' /proc/interrupts | head -n 1 | cut -d: -f1 | tr -d ' ')
[ -n "$irq" ] && echo 2 > /proc/irq/$irq/smp_affinity_list
rx2() { grep "^ *$irq:" /proc/interrupts | awk '{print $4}'; }
before=$(rx2)
for c in 0 1 2 3; do
	taskset -c $c sh -c '
		c=$0 on=$(cut -d" " -f39 /proc/self/stat)
		ping -c 2 -W 5 10.0.2.2 > /tmp/ping$c 2>&1 &&
			echo "net: cpu $c on $on ping ok"
		wget -q -O /tmp/get$c http://10.0.2.2:8080/blob ||
			echo "net: cpu $c download failed"
		got=$(md5sum < /tmp/get$c | cut -d" " -f1)
		echo "net: cpu $c on $on got $got"
		# text: busybox wget --post-file stops at a NUL byte
		dd if=/dev/urandom bs=64k count=4 2>/dev/null | base64 > /tmp/up$c
		sent=$(md5sum < /tmp/up$c | cut -d" " -f1)
		echoed=$(wget -q -O - --post-file /tmp/up$c \
			http://10.0.2.2:8080/cgi-bin/up)
		echo "net: cpu $c on $on sent $sent echoed $echoed"' $c
done
after=$(rx2)
echo "net: rx irq $irq on cpu 2: $before -> $after"
[ -n "$after" ] && [ "$after" -gt "${before:-0}" ] && echo "net: rx interrupts reached cpu 2"
grep -E 'CPU|virtio' /proc/interrupts
JOB
mkinitrd $T/net.sh $T/net.rd
start_spand --create vm1:256M
rm -f $T/c0 $T/c1 $T/c2	# consoles of an earlier test must not satisfy the waits
export SMP=4 MEMBER_TIMEOUT="${NET_TIMEOUT:-120}"
member $T/c0 $T/net.rd -span vm1,socket=$SOCK,member=m0,vcpus=0-1 \
	-machine kernel-irqchip=split \
	-netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
	> $T/m0.txt 2>&1 &
M0=$!
member $T/c1 $T/net.rd -span vm1,socket=$SOCK,member=m1,vcpus=2-3 \
	-machine kernel-irqchip=split > $T/m1.txt 2>&1 &
M1=$!
wait $M0; r0=$?
wait $M1; r1=$?
kill $HTTPD 2>/dev/null
cat $T/c0 $T/c1 | tr -d '\r' > $T/console
check "virtio-net: members exit 0" [ $r0 = 0 -a $r1 = 0 ]
check "virtio-net: members stopped by the guest's poweroff, not by their timeout" \
	not_timed_out $T/m0.txt $T/m1.txt
check "virtio-net: guest job succeeded" [ "$(guest_status $T/console)" = 0 ]
grep_check "virtio-net: DHCP lease from slirp" 'net: lease 10\.0\.2\.' $T/console
received() { [ -n "$1" ] && grep -qx "$1" $T/uploads; }
for c in 0 1 2 3; do
	grep_check "virtio-net: ping from vCPU $c" "net: cpu $c on $c ping ok" $T/console
	grep_check "virtio-net: download checksum on vCPU $c" "net: cpu $c on $c got $MD5\$" $T/console
	s=$(sed -n "s/^net: cpu $c on $c sent \([0-9a-f]\{32\}\) echoed \([0-9a-f]\{32\}\)\$/\1 \2/p" $T/console)
	check "virtio-net: upload checksum from vCPU $c" \
		[ -n "$s" -a "${s% *}" = "${s#* }" ]
	check "virtio-net: the lab received vCPU $c's upload" received "${s% *}"
done
grep_check "virtio-net: MSI-X receive interrupts reach vCPU 2 (member 1)" \
	'net: rx interrupts reached cpu 2' $T/console
stop_spand
for f in m0 m1; do echo "--- $f"; cat $T/$f.txt; done
echo "--- uploads"; cat $T/uploads
echo "--- console"; cat $T/console
echo "--- spand"; grep -v heartbeat $T/spand.log
