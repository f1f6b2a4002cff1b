/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Span PCI device (span-pci): how an L0 QEMU gives an L1 hypervisor a span
 * VM's guest memory, its channel and its doorbells, and how the L1's span
 * driver exposes them to user space (/dev/spanN).
 *
 * Device (emulated by L0 QEMU, -device span-pci):
 *   BAR0  registers and the control mailbox (SPAN_PCI_REGS_SIZE bytes)
 *   BAR1  MSI-X table (vector 0: control, vector 1: own doorbell)
 *   BAR2  channel memory (rings), RAM, present while connected
 *   BAR4  guest-memory window, 64-bit prefetchable RAM, present while
 *         connected
 *
 * Character device /dev/spanN: write() sends one span message (the HELLO,
 * then control requests) to spand through the mailbox; read() receives one
 * (the HELLO_REPLY, replies, notifications); poll() says when one waits.
 * mmap() offset SPAN_PCI_MMAP_WINDOW maps the guest memory, offset
 * SPAN_PCI_MMAP_CHANNEL the channel.  SPAN_PCI_SET_EVENTFD binds eventfds to
 * doorbells.  See Documentation/span-pci.rst in the Span tree.
 */
#ifndef _UAPI_LINUX_SPAN_PCI_H
#define _UAPI_LINUX_SPAN_PCI_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/const.h>

#define SPAN_PCI_VENDOR_ID	0x1b36	/* QEMU's (Red Hat) vendor id */
#define SPAN_PCI_DEVICE_ID	0x5350	/* "SP": outside QEMU's allocations */
#define SPAN_PCI_REVISION	1

#define SPAN_PCI_MAGIC		0x49435053	/* "SPCI" */
#define SPAN_PCI_VERSION	1

#define SPAN_PCI_BAR_REGS	0
#define SPAN_PCI_BAR_MSIX	1
#define SPAN_PCI_BAR_CHANNEL	2
#define SPAN_PCI_BAR_WINDOW	4

#define SPAN_PCI_VEC_CONTROL	0	/* a message waits in RX, or hang-up */
#define SPAN_PCI_VEC_DOORBELL	1	/* a peer rang this member's doorbell */
#define SPAN_PCI_NR_VECTORS	2

/* BAR0 registers: 32-bit accesses, little endian. */
#define SPAN_PCI_REG_MAGIC	0x00	/* RO SPAN_PCI_MAGIC */
#define SPAN_PCI_REG_VERSION	0x04	/* RO SPAN_PCI_VERSION */
#define SPAN_PCI_REG_STATUS	0x08	/* RO SPAN_PCI_ST_* */
#define SPAN_PCI_REG_MEMBER_ID	0x0c	/* RO slot, valid when connected */
#define SPAN_PCI_REG_MEM_SIZE	0x10	/* RO 64-bit: attached guest memory */
#define SPAN_PCI_REG_CHAN_SIZE	0x18	/* RO 64-bit: attached channel */
#define SPAN_PCI_REG_WINDOW	0x20	/* RO 64-bit: BAR4 size (max memory) */
#define SPAN_PCI_REG_MAX_MEMBERS 0x28	/* RO slots, valid when connected */
#define SPAN_PCI_REG_TX_LEN	0x2c	/* WO send the TX buffer's first bytes */
#define SPAN_PCI_REG_TX_STATUS	0x30	/* RO 0 or -errno of the last send */
#define SPAN_PCI_REG_RX_LEN	0x34	/* RO length of the message in RX, 0 */
#define SPAN_PCI_REG_RX_ACK	0x38	/* WO drop the RX message, load next */
#define SPAN_PCI_REG_RESET	0x3c	/* WO disconnect, detach resources */
#define SPAN_PCI_REG_REJECTED	0x40	/* RO messages refused so far */
#define SPAN_PCI_REG_ATTACH_NS	0x48	/* RO 64-bit: last attach, L0 time */
#define SPAN_PCI_REG_DOORBELL	0x80	/* WO ring slot N: write N */

#define SPAN_PCI_TX_BUF		0x10000	/* SPAN_MSG_MAX bytes, write only */
#define SPAN_PCI_RX_BUF		0x20000	/* SPAN_MSG_MAX bytes, read only */
#define SPAN_PCI_REGS_SIZE	0x40000

/* SPAN_PCI_REG_STATUS */
#define SPAN_PCI_ST_CONNECTED	_BITUL(0)	/* BAR2/BAR4 hold the span */
#define SPAN_PCI_ST_RX		_BITUL(1)	/* a message waits in RX */
#define SPAN_PCI_ST_HUNG_UP	_BITUL(2)	/* spand closed the session */

/* mmap() offsets of /dev/spanN */
#define SPAN_PCI_MMAP_WINDOW	0x0ULL
#define SPAN_PCI_MMAP_CHANNEL	0x10000000000ULL	/* 1 TiB */

/*
 * SPAN_PCI_SET_EVENTFD: for the member's own slot, the driver signals fd
 * when a peer rings the doorbell; for any other slot, signalling fd rings
 * that slot's doorbell.  fd -1 unbinds the slot.
 */
struct span_pci_eventfd {
	__s32 fd;
	__u32 slot;
};

struct span_pci_info {
	__u64 mem_size;		/* 0 until connected */
	__u64 chan_size;
	__u64 window_size;
	__u64 chan_offset;	/* SPAN_PCI_MMAP_CHANNEL */
	__u32 member_id;
	__u32 max_members;
	__u32 status;		/* SPAN_PCI_ST_* */
	__u32 reserved;
};

#define SPAN_PCI_IOC_MAGIC	0xb9
#define SPAN_PCI_INFO		_IOR(SPAN_PCI_IOC_MAGIC, 0x00, struct span_pci_info)
#define SPAN_PCI_SET_EVENTFD	_IOW(SPAN_PCI_IOC_MAGIC, 0x01, struct span_pci_eventfd)

#endif /* _UAPI_LINUX_SPAN_PCI_H */
