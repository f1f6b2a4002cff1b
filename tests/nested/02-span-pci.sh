# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# check-nested: the span-pci device (L0 QEMU) and the L1 driver
# (/dev/spanN): an L1 joins span VMs through the device, shares guest
# memory and doorbells with a member on L0, is refused a span its device
# does not serve, and every bad input it sends is refused
# (tests/nested/span-pci-smoke.sh, Documentation/span-pci.rst).  The
# window attach times (256 MiB and 1 GiB) go to the measurements.
sh /job/nested/span-pci-smoke.sh > /tmp/span-pci.out 2>&1
sed -n 's/^SPAN-TAP: ok /NESTED-TAP: ok /p; s/^SPAN-TAP: not ok /NESTED-TAP: not ok /p' /tmp/span-pci.out
sed -n 's/^SPAN-NEST-ATTACH: /NESTED-M: span-pci-attach /p' /tmp/span-pci.out
grep -q '^SPAN-TAP: ok' /tmp/span-pci.out || { cat /tmp/span-pci.out; exit 1; }
