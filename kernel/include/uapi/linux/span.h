/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause) */
/*
 * Span channel wire format.
 *
 * One definition shared by the kernel, QEMU (C) and the C++ control plane
 * (libspan, spand, spanctl).  Every message starts with struct span_msg_hdr;
 * its payload follows directly.  All fields are little-endian, naturally
 * aligned and fixed width; every structure size is asserted below.  Reserved
 * and padding fields must be zero on send and are checked on receipt.
 *
 * Documentation/span-protocol.rst describes every field.
 */
#ifndef _UAPI_LINUX_SPAN_H
#define _UAPI_LINUX_SPAN_H

#include <linux/const.h>
#include <linux/types.h>

/*
 * Layout checks: static_assert is a C++11 keyword, a C11 macro from
 * <assert.h> in user space and a macro of <linux/build_bug.h> in the kernel.
 */
#if !defined(__KERNEL__) && !defined(__cplusplus)
#include <assert.h>
#endif
#define SPAN_STATIC_ASSERT(e, m) static_assert(e, m)

/* ---- framing --------------------------------------------------------- */

#define SPAN_MAGIC		0x4e415053u	/* "SPAN" little-endian */
#define SPAN_PROTO_VERSION	1	/* current major version */
#define SPAN_PROTO_VERSION_MIN	1	/* oldest major version spoken */

#define SPAN_MSG_ALIGN		8	/* every message length is a multiple */
#define SPAN_MSG_MAX		65536	/* largest message, header included */

/* Member identifiers (struct span_msg_hdr src/dst). */
#define SPAN_MAX_MEMBERS	16	/* member slots 0..SPAN_MAX_MEMBERS-1 */
#define SPAN_MEMBER_SPAND	0xfffe	/* the daemon itself */
#define SPAN_MEMBER_BROADCAST	0xffff	/* every member of the span VM */
#define SPAN_MEMBER_SELF	0xfffffffdu	/* "the sender" in 32-bit fields */
#define SPAN_MEMBER_NONE	0xffffffffu	/* no member (unhosted) */

#define SPAN_APIC_NONE		0xffffffffu	/* no / unknown APIC ID */
#define SPAN_DEVICE_NONE	0xffffffffu

#define SPAN_NAME_LEN		32	/* NUL-terminated, [A-Za-z0-9._-] */
#define SPAN_MAX_VCPUS		4096
#define SPAN_MAX_DEVICES	1024
#define SPAN_MAX_RANGES		1024	/* ranges in one WT_PUBLISH */
#define SPAN_GFN_LIMIT		_BITULL(40)	/* 52-bit guest-physical */
#define SPAN_GPA_LIMIT		_BITULL(52)
#define SPAN_VCPU_STATE_MAX	(16u << 20)	/* one vCPU's state blob */

/* struct span_msg_hdr.flags */
#define SPAN_F_REPLY		_BITUL(0)	/* answers hdr.seq of a request */
#define SPAN_F_MORE		_BITUL(1)	/* more replies follow */
#define SPAN_F_VALID_MASK	(SPAN_F_REPLY | SPAN_F_MORE)

struct span_msg_hdr {
	__u32 magic;		/* SPAN_MAGIC */
	__u8  version;		/* negotiated major version */
	__u8  reserved0;	/* must be zero */
	__u16 type;		/* enum span_msg_type */
	__u32 len;		/* total length incl. header, SPAN_MSG_ALIGN-aligned */
	__u32 flags;		/* SPAN_F_* */
	__u64 seq;		/* sender's sequence number */
	__u16 src;		/* sending member slot or SPAN_MEMBER_SPAND */
	__u16 dst;		/* receiving member slot, SPAND or BROADCAST */
	__u32 reserved1;	/* must be zero */
};

SPAN_STATIC_ASSERT(sizeof(struct span_msg_hdr) == 32, "span_msg_hdr size");

enum span_msg_type {
	SPAN_MSG_INVALID	= 0,
	SPAN_MSG_PAD		= 1,	/* ring filler, never delivered */
	SPAN_MSG_HELLO		= 2,	/* member/control -> spand */
	SPAN_MSG_HELLO_REPLY	= 3,	/* spand -> member/control, carries fds */
	SPAN_MSG_ACK		= 4,	/* generic reply: status + value */
	SPAN_MSG_TOPOLOGY	= 5,	/* vCPU placement and device ownership */
	SPAN_MSG_TOPOLOGY_GET	= 6,	/* request a TOPOLOGY */
	SPAN_MSG_INTERRUPT	= 7,	/* forwarded local-APIC interrupt */
	SPAN_MSG_MMIO_REQ	= 8,
	SPAN_MSG_MMIO_RESP	= 9,
	SPAN_MSG_PIO_REQ	= 10,
	SPAN_MSG_PIO_RESP	= 11,
	SPAN_MSG_MSI		= 12,
	SPAN_MSG_MEM_SUBSCRIBE	= 13,
	SPAN_MSG_MEM_UNSUBSCRIBE = 14,
	SPAN_MSG_MEM_EVENT	= 15,	/* vCPU host -> subscriber */
	SPAN_MSG_MEM_REPLY	= 16,	/* subscriber -> vCPU host */
	SPAN_MSG_WT_PUBLISH	= 17,	/* write-tracked GFN set changes */
	SPAN_MSG_WT_ACK		= 18,
	SPAN_MSG_WT_INVALIDATE	= 19,	/* a trapped write: drop shadows */
	SPAN_MSG_ATTACH		= 20,
	SPAN_MSG_DETACH		= 21,
	SPAN_MSG_VCPU_STATE	= 22,	/* one chunk of a vCPU's state */
	SPAN_MSG_RESET		= 23,
	SPAN_MSG_SHUTDOWN	= 24,
	SPAN_MSG_HEARTBEAT	= 25,
	SPAN_MSG_VM_STATE	= 26,	/* spand -> members: running/paused */
	SPAN_MSG_CTL_CREATE	= 27,	/* spanctl -> spand */
	SPAN_MSG_CTL_DESTROY	= 28,
	SPAN_MSG_CTL_LIST	= 29,
	SPAN_MSG_CTL_SHOW	= 30,
	SPAN_MSG_CTL_VM_INFO	= 31,	/* spand -> spanctl */
	SPAN_MSG_CTL_MEMBER_INFO = 32,
	SPAN_MSG_CTL_SUB_INFO	= 33,
	SPAN_MSG_PEER_REPORT	= 34,	/* member -> spand: a peer sends garbage */
	SPAN_MSG_IOEVENTFD	= 35,	/* device owner -> members: notify addresses */
	SPAN_MSG_EOI		= 36,	/* member -> device owner: IOAPIC EOI */
	SPAN_MSG_MEMBER		= 37,	/* spand -> members: one joined or left */
	SPAN_MSG_PLACED		= 38,	/* member -> members: routes by a placement */
	SPAN_MSG_MOVE		= 39,	/* spanctl -> spand -> host member: move a vCPU */
	SPAN_MSG_TYPE_MAX	/* first unused type */
};

/* ---- hello / version negotiation ------------------------------------- */

enum span_role {
	SPAN_ROLE_MEMBER	= 1,	/* a hypervisor (QEMU) joining a span VM */
	SPAN_ROLE_CONTROL	= 2,	/* spanctl; no fds, no slot */
};

/* struct span_hello.caps */
#define SPAN_CAP_RINGS		_BITUL(0)	/* can use shared-memory rings */
#define SPAN_CAP_WT		_BITUL(1)	/* shadow write-tracking */
#define SPAN_CAP_MEM_EVENTS	_BITUL(2)	/* can raise memory events */
#define SPAN_CAP_VALID_MASK	(SPAN_CAP_RINGS | SPAN_CAP_WT | SPAN_CAP_MEM_EVENTS)

struct span_hello {
	__u8  version_min;	/* oldest major version the sender speaks */
	__u8  version_max;	/* newest */
	__u16 reserved;
	__u32 role;		/* enum span_role */
	__u32 caps;		/* SPAN_CAP_* */
	__u32 reserved2;
	char  vm_name[SPAN_NAME_LEN];	/* span VM to join (control: optional) */
	char  member_name[SPAN_NAME_LEN];	/* member: required */
};

SPAN_STATIC_ASSERT(sizeof(struct span_hello) == 80, "span_hello size");

/* HELLO_REPLY fd order (SCM_RIGHTS): guest memory, channel, doorbells[max_members] */
#define SPAN_FD_MEMORY		0
#define SPAN_FD_CHANNEL		1
#define SPAN_FD_DOORBELL0	2

/* struct span_hello_reply.flags, struct span_ctl_create.flags */
#define SPAN_VM_HUGEPAGES	_BITUL(0)
/*
 * HELLO_REPLY only: the resources are in a span-pci device (full nesting),
 * not attached as fds; nr_fds is 0.  See linux/span_pci.h.
 */
#define SPAN_VM_IN_DEVICE	_BITUL(1)

struct span_hello_reply {
	__u8  version;		/* chosen major version */
	__u8  reserved;
	__u16 reserved2;
	__s32 status;		/* 0 or -errno; on error no fds follow */
	__u32 member_id;	/* the slot given to the member */
	__u32 vm_id;
	__u64 mem_size;		/* guest memory fd size in bytes */
	__u64 chan_size;	/* channel fd size in bytes */
	__u32 ring_size;	/* bytes of data per ring, power of two */
	__u32 max_members;	/* slots; doorbell fds sent */
	__u32 nr_fds;		/* fds attached to this message */
	__u32 flags;		/* SPAN_VM_* */
};

SPAN_STATIC_ASSERT(sizeof(struct span_hello_reply) == 48, "span_hello_reply size");

/* ---- generic reply ----------------------------------------------------- */

struct span_ack {
	__u64 req_seq;		/* hdr.seq of the request */
	__s32 status;		/* 0 or -errno */
	__u32 reserved;
	__u64 value;		/* request specific, e.g. a subscription id */
};

SPAN_STATIC_ASSERT(sizeof(struct span_ack) == 24, "span_ack size");

/* ---- topology ---------------------------------------------------------- */

struct span_topo_entry {
	__u32 id;		/* APIC ID or device id */
	__u32 member;		/* hosting / owning member slot */
};

SPAN_STATIC_ASSERT(sizeof(struct span_topo_entry) == 8, "span_topo_entry size");

/*
 * Followed by nr_vcpus entries (id = APIC ID) and then nr_devices entries
 * (id = device id).  Ids are unique within each list.
 */
struct span_topology {
	__u64 generation;	/* increases with every change */
	__u32 nr_vcpus;		/* <= SPAN_MAX_VCPUS */
	__u32 nr_devices;	/* <= SPAN_MAX_DEVICES */
};

SPAN_STATIC_ASSERT(sizeof(struct span_topology) == 16, "span_topology size");

/* ---- interrupts -------------------------------------------------------- */

/* Delivery modes use the local-APIC ICR encoding. */
enum span_irq_delivery {
	SPAN_DM_FIXED		= 0,
	SPAN_DM_LOWEST		= 1,
	SPAN_DM_REMRD		= 3,	/* KVM's PV kick (KVM_HC_KICK_CPU) */
	SPAN_DM_NMI		= 4,
	SPAN_DM_INIT		= 5,
	SPAN_DM_SIPI		= 6,
};

enum span_irq_dest_mode {
	SPAN_DEST_PHYSICAL	= 0,
	SPAN_DEST_LOGICAL	= 1,
};

enum span_irq_shorthand {
	SPAN_SH_NONE		= 0,
	SPAN_SH_SELF		= 1,
	SPAN_SH_ALL_INCL	= 2,
	SPAN_SH_ALL_EXCL	= 3,
};

struct span_interrupt {
	__u32 dest;		/* APIC ID (physical) or logical destination */
	__u32 src_apic;		/* sender's APIC ID or SPAN_APIC_NONE */
	__u8  vector;		/* >= 16 for FIXED/LOWEST, page for SIPI, 0 else */
	__u8  delivery;		/* enum span_irq_delivery */
	__u8  dest_mode;	/* enum span_irq_dest_mode */
	__u8  shorthand;	/* enum span_irq_shorthand */
	__u8  trigger;		/* 0 edge, 1 level */
	__u8  level;		/* 1 assert, 0 de-assert (level INIT only) */
	__u8  x2apic;		/* 1: 32-bit x2APIC destination */
	__u8  reserved;
};

SPAN_STATIC_ASSERT(sizeof(struct span_interrupt) == 16, "span_interrupt size");

/* ---- MMIO / PIO forwarding --------------------------------------------- */

struct span_io_req {
	__u64 id;		/* requester's id, echoed in the response */
	__u64 addr;		/* guest-physical address or port */
	__u64 data;		/* write: value (zero-extended); read: 0 */
	__u32 vcpu;		/* issuing vCPU's APIC ID */
	__u32 device;		/* target device id or SPAN_DEVICE_NONE */
	__u8  size;		/* 1, 2, 4 or 8 (PIO: 1, 2 or 4) */
	__u8  is_write;		/* 0 or 1 */
	__u16 flags;		/* SPAN_IO_F_* */
	__u32 reserved2;
};

SPAN_STATIC_ASSERT(sizeof(struct span_io_req) == 40, "span_io_req size");

/*
 * A posted write (only with is_write): no response follows, vcpu may be
 * SPAN_APIC_NONE.  Members post the writes their KVM caught with an
 * ioeventfd the device owner announced (SPAN_MSG_IOEVENTFD).
 */
#define SPAN_IO_F_POSTED	0x0001

struct span_io_resp {
	__u64 id;		/* span_io_req.id */
	__u64 data;		/* read result (zero-extended) */
	__s32 status;		/* 0 or -errno */
	__u32 reserved;
};

SPAN_STATIC_ASSERT(sizeof(struct span_io_resp) == 24, "span_io_resp size");

/* ---- ioeventfd: notification addresses of the owner's devices ----------- */

enum span_ioeventfd_op {
	SPAN_IOEVENTFD_ADD	= 1,
	SPAN_IOEVENTFD_DEL	= 2,
};

#define SPAN_IOEVENTFD_F_PIO		0x01	/* addr is an I/O port */
#define SPAN_IOEVENTFD_F_DATAMATCH	0x02	/* only writes of data */
#define SPAN_IOEVENTFD_F_VALID		0x03

struct span_ioeventfd {
	__u64 addr;		/* guest-physical address or port */
	__u64 data;		/* value matched (F_DATAMATCH), else 0 */
	__u32 device;		/* owning device id or SPAN_DEVICE_NONE */
	__u8  op;		/* enum span_ioeventfd_op */
	__u8  size;		/* 1, 2, 4, 8; 0: any (MMIO, no datamatch) */
	__u8  flags;		/* SPAN_IOEVENTFD_F_* */
	__u8  reserved;
};

SPAN_STATIC_ASSERT(sizeof(struct span_ioeventfd) == 24, "span_ioeventfd size");

/* ---- EOI: level-triggered IOAPIC interrupts taken by a remote vCPU ------- */

/*
 * A vCPU of the sending member EOIed a vector that the device owner's IOAPIC
 * delivered level-triggered: the owner's IOAPIC clears the Remote IRR of its
 * level-triggered entries with that vector (and re-raises a line still
 * asserted), as for an EOI of its own vCPUs.  Posted: no answer.
 */
struct span_eoi {
	__u32 vector;		/* 16..255 */
	__u32 reserved;
};

SPAN_STATIC_ASSERT(sizeof(struct span_eoi) == 8, "span_eoi size");

/* ---- MSI ---------------------------------------------------------------- */

struct span_msi {
	__u64 addr;		/* low 32 bits 0xfeeXXXXX; high: extended dest */
	__u32 data;		/* bits 31:16 reserved (zero) */
	__u32 device;		/* originating device id */
};

SPAN_STATIC_ASSERT(sizeof(struct span_msi) == 16, "span_msi size");

/* ---- memory events ------------------------------------------------------ */

#define SPAN_ACCESS_READ	_BITUL(0)
#define SPAN_ACCESS_WRITE	_BITUL(1)
#define SPAN_ACCESS_EXEC	_BITUL(2)
#define SPAN_ACCESS_MASK	(SPAN_ACCESS_READ | SPAN_ACCESS_WRITE | SPAN_ACCESS_EXEC)

struct span_mem_subscribe {
	__u64 sub_id;		/* request: 0 (spand assigns); info: the id */
	__u64 gfn;		/* first guest frame */
	__u64 nr_pages;		/* >= 1; gfn + nr_pages <= SPAN_GFN_LIMIT */
	__u32 access;		/* SPAN_ACCESS_* (non-empty) */
	__u32 member;		/* subscriber slot or SPAN_MEMBER_SELF */
};

SPAN_STATIC_ASSERT(sizeof(struct span_mem_subscribe) == 32, "span_mem_subscribe size");

struct span_mem_unsubscribe {
	__u64 sub_id;
};

SPAN_STATIC_ASSERT(sizeof(struct span_mem_unsubscribe) == 8, "span_mem_unsubscribe size");

struct span_mem_event {
	__u64 event_id;		/* raiser's id, echoed in the reply */
	__u64 sub_id;
	__u64 gpa;		/* faulting guest-physical address */
	__u32 access;		/* exactly one SPAN_ACCESS_* bit */
	__u32 vcpu;		/* faulting vCPU's APIC ID */
};

SPAN_STATIC_ASSERT(sizeof(struct span_mem_event) == 32, "span_mem_event size");

enum span_mem_action {
	SPAN_MEM_ALLOW		= 0,
	SPAN_MEM_DENY		= 1,
};

enum span_mem_keep {
	SPAN_MEM_KEEP		= 0,	/* keep the subscription */
	SPAN_MEM_DROP		= 1,	/* drop it after this event */
};

struct span_mem_reply {
	__u64 event_id;
	__u64 sub_id;
	__u8  action;		/* enum span_mem_action */
	__u8  keep;		/* enum span_mem_keep */
	__u16 reserved;
	__u32 reserved2;
};

SPAN_STATIC_ASSERT(sizeof(struct span_mem_reply) == 24, "span_mem_reply size");

/* ---- shadow-paging write tracking ---------------------------------------- */

struct span_gfn_range {
	__u64 gfn;
	__u64 nr_pages;		/* >= 1; gfn + nr_pages <= SPAN_GFN_LIMIT */
};

SPAN_STATIC_ASSERT(sizeof(struct span_gfn_range) == 16, "span_gfn_range size");

enum span_wt_op {
	SPAN_WT_ADD		= 1,	/* sender now write-protects the ranges */
	SPAN_WT_REMOVE		= 2,	/* sender no longer does */
};

/* Followed by nr_ranges struct span_gfn_range. */
struct span_wt_publish {
	__u64 generation;	/* sender's publish counter, increasing */
	__u32 nr_ranges;	/* 1..SPAN_MAX_RANGES */
	__u32 op;		/* enum span_wt_op */
};

SPAN_STATIC_ASSERT(sizeof(struct span_wt_publish) == 16, "span_wt_publish size");

struct span_wt_ack {
	__u64 generation;	/* of the publish or invalidate acknowledged */
	__s32 status;
	__u32 reserved;
};

SPAN_STATIC_ASSERT(sizeof(struct span_wt_ack) == 16, "span_wt_ack size");

struct span_wt_invalidate {
	__u64 generation;	/* sender's invalidate counter */
	__u64 gfn;
	__u64 nr_pages;
	__u32 vcpu;		/* writing vCPU's APIC ID */
	__u32 reserved;
};

SPAN_STATIC_ASSERT(sizeof(struct span_wt_invalidate) == 32, "span_wt_invalidate size");

/* ---- attach / detach ------------------------------------------------------ */

enum span_attach_kind {
	SPAN_ATTACH_MEMORY	= 1,	/* gpa/size: a page-aligned range */
	SPAN_ATTACH_VCPU	= 2,	/* id: APIC ID */
	SPAN_ATTACH_DEVICE	= 3,	/* id: device id */
};

/*
 * A member attaches and detaches itself (member = SPAN_MEMBER_SELF or its
 * own slot).  The member hosting vCPU id may also name another member: it
 * hands the vCPU over, and the placement changes when that member attaches
 * the vCPU itself (Documentation/span-protocol.rst, "Moving a vCPU").
 */
struct span_attach {
	__u32 kind;		/* enum span_attach_kind */
	__u32 member;		/* target slot or SPAN_MEMBER_SELF */
	__u32 id;		/* APIC ID / device id; 0 for memory */
	__u32 flags;		/* none defined, must be zero */
	__u64 gpa;		/* memory only, else 0 */
	__u64 size;		/* memory only, else 0 */
};

SPAN_STATIC_ASSERT(sizeof(struct span_attach) == 32, "span_attach size");

/* ---- vCPU state transfer ---------------------------------------------------- */

/* Followed by chunk_len bytes of opaque state (padded to SPAN_MSG_ALIGN). */
struct span_vcpu_state {
	__u32 apic_id;
	__u32 total_len;	/* whole blob, <= SPAN_VCPU_STATE_MAX */
	__u32 offset;		/* of this chunk */
	__u32 chunk_len;	/* offset + chunk_len <= total_len */
};

SPAN_STATIC_ASSERT(sizeof(struct span_vcpu_state) == 16, "span_vcpu_state size");

/*
 * PLACED: a member sends it to every other member after it applied a
 * TOPOLOGY (generation, arrived = SPAN_APIC_NONE), and the member a vCPU
 * moved to sends it to the member the vCPU left once the vCPU runs there
 * (generation 0, arrived = its APIC ID).  Either way, what its sender sent
 * before it went by an older placement.
 */
struct span_placed {
	__u64 generation;	/* of the TOPOLOGY applied, or 0 */
	__u32 arrived;		/* APIC ID or SPAN_APIC_NONE */
	__u32 reserved;		/* must be zero */
};

SPAN_STATIC_ASSERT(sizeof(struct span_placed) == 16, "span_placed size");

/*
 * MOVE: spanctl asks spand to move vCPU apic_id to member slot `member`;
 * spand forwards it (src SPAN_MEMBER_SPAND, a seq of its own) to the member
 * hosting the vCPU, which moves it ("Moving a vCPU" in
 * Documentation/span-protocol.rst) and answers spand with an ACK; spand
 * relays the ACK's status to spanctl.  Socket only, never on a ring.
 */
struct span_move {
	__u32 apic_id;		/* vCPU, not SPAN_APIC_NONE */
	__u32 member;		/* target slot, < SPAN_MAX_MEMBERS */
	__u32 flags;		/* none defined, must be zero */
	__u32 reserved;		/* must be zero */
};

SPAN_STATIC_ASSERT(sizeof(struct span_move) == 16, "span_move size");

/* ---- reset / shutdown / heartbeat / VM state ---------------------------------- */

enum span_reason {
	SPAN_REASON_GUEST	= 1,	/* the guest asked */
	SPAN_REASON_ADMIN	= 2,	/* spanctl / management */
	SPAN_REASON_MEMBER_LOST	= 3,	/* a member hosting vCPUs died */
	SPAN_REASON_ERROR	= 4,
	SPAN_REASON_MAX
};

struct span_reset {		/* RESET and SHUTDOWN */
	__u32 reason;		/* enum span_reason */
	__u32 flags;		/* must be zero */
};

SPAN_STATIC_ASSERT(sizeof(struct span_reset) == 8, "span_reset size");

struct span_heartbeat {
	__u64 timestamp_ns;	/* sender's clock, see span-protocol.rst */
	__u64 counter;
};

SPAN_STATIC_ASSERT(sizeof(struct span_heartbeat) == 16, "span_heartbeat size");

enum span_vm_state_value {
	SPAN_VM_RUNNING		= 1,
	SPAN_VM_PAUSED		= 2,
	SPAN_VM_SHUTDOWN	= 3,
};

struct span_vm_state {
	__u32 state;		/* enum span_vm_state_value */
	__u32 reason;		/* enum span_reason */
};

SPAN_STATIC_ASSERT(sizeof(struct span_vm_state) == 8, "span_vm_state size");

/* ---- membership: a member joined or left the span VM ------------------------ */

enum span_member_event_kind {
	SPAN_MEMBER_JOINED	= 1,
	SPAN_MEMBER_LEFT	= 2,
};

enum span_member_left_reason {
	SPAN_LEFT_NONE		= 0,	/* JOINED */
	SPAN_LEFT_CLOSED	= 1,	/* its connection closed: it exited or died */
	SPAN_LEFT_CUT_OFF	= 2,	/* spand disconnected it (garbage, reports) */
	SPAN_LEFT_MAX
};

/*
 * spand tells every member when a member joins (after its HELLO, and to a
 * joining member once per member already there) and when one leaves, before
 * the VM_STATE and TOPOLOGY that follow from it.  A member still holds the
 * old placement when LEFT arrives, so it knows what the member hosted.
 */
struct span_member_event {
	__u32 member;		/* slot */
	__u16 event;		/* enum span_member_event_kind */
	__u16 reason;		/* enum span_member_left_reason (LEFT only) */
	char  name[SPAN_NAME_LEN];	/* the member's name, NUL-terminated */
};

SPAN_STATIC_ASSERT(sizeof(struct span_member_event) == 40, "span_member_event size");

/* ---- control (spanctl <-> spand) ---------------------------------------------- */

struct span_ctl_create {
	char  name[SPAN_NAME_LEN];
	__u64 mem_size;		/* > 0, multiple of 4 KiB (2 MiB with huge pages) */
	__u32 flags;		/* SPAN_VM_* */
	__u32 ring_size;	/* 0: default; else power of two 4 KiB..16 MiB */
	__u32 max_members;	/* 0: default; else 2..SPAN_MAX_MEMBERS */
	__u32 reserved;
};

SPAN_STATIC_ASSERT(sizeof(struct span_ctl_create) == 56, "span_ctl_create size");

struct span_ctl_name {		/* CTL_DESTROY, CTL_SHOW */
	char  name[SPAN_NAME_LEN];
};

SPAN_STATIC_ASSERT(sizeof(struct span_ctl_name) == 32, "span_ctl_name size");

struct span_ctl_vm_info {
	char  name[SPAN_NAME_LEN];
	__u32 vm_id;
	__u32 state;		/* enum span_vm_state_value */
	__u64 mem_size;
	__u32 flags;		/* SPAN_VM_* */
	__u32 ring_size;
	__u32 max_members;
	__u32 nr_members;
	__u32 nr_vcpus;
	__u32 nr_devices;
	__u32 nr_subs;
	__u32 reason;		/* enum span_reason of the last pause */
};

SPAN_STATIC_ASSERT(sizeof(struct span_ctl_vm_info) == 80, "span_ctl_vm_info size");

struct span_ctl_member_info {
	char  name[SPAN_NAME_LEN];
	__u32 member_id;
	__u32 pid;
	__u32 uid;
	__u32 caps;
	__u64 msgs;		/* messages received from it */
	__u64 rejected;		/* of which rejected */
	__u64 mem_gpa;		/* attached memory range (size 0: none) */
	__u64 mem_size;
};

SPAN_STATIC_ASSERT(sizeof(struct span_ctl_member_info) == 80, "span_ctl_member_info size");

/* CTL_SUB_INFO carries a struct span_mem_subscribe with sub_id and member set. */

/* ---- peer reports (member -> spand) -------------------------------------------- */

/*
 * A member whose libspan rejected too many messages on the ring from another
 * member reports that member to spand, which may disconnect it (see
 * Documentation/control-plane.rst for the policy).  Socket only, never on a
 * ring; hdr.src is the reporter's slot, hdr.dst SPAN_MEMBER_SPAND, no
 * SPAN_F_* flags.  spand answers with an ACK (status 0: the accused was
 * disconnected).
 */
struct span_peer_report {
	__u32 member;		/* accused slot, < SPAN_MAX_MEMBERS, != hdr.src */
	__u32 reason;		/* enum span_reject (libspan.h) of the last rejection, != 0 */
	__u64 rejected;		/* ring messages from it rejected so far, >= 1 */
	__u64 accepted;		/* ring messages from it accepted so far */
	__u32 flags;		/* none defined, must be zero */
	__u32 reserved;		/* must be zero */
};

SPAN_STATIC_ASSERT(sizeof(struct span_peer_report) == 32, "span_peer_report size");

/* ---- shared-memory channel --------------------------------------------------- */

/*
 * The channel fd holds one struct span_chan_hdr page followed by
 * max_members * max_members rings; ring (from, to) starts at
 *   SPAN_CHAN_HDR_SIZE + (from * max_members + to) * (SPAN_RING_HDR_SIZE + ring_size)
 * Ring (i, i) exists but is unused.  Each ring: struct span_ring_hdr padded
 * to SPAN_RING_HDR_SIZE, then ring_size data bytes holding messages.
 */
#define SPAN_CHAN_MAGIC		0x4e414843u	/* "CHAN" */
#define SPAN_RING_MAGIC		0x474e4952u	/* "RING" */
#define SPAN_CHAN_HDR_SIZE	4096
#define SPAN_RING_HDR_SIZE	4096
#define SPAN_RING_SIZE_MIN	4096
#define SPAN_RING_SIZE_MAX	(16u << 20)
#define SPAN_RING_SIZE_DEFAULT	(256u << 10)
#define SPAN_CACHELINE		64

struct span_chan_hdr {
	__u32 magic;		/* SPAN_CHAN_MAGIC */
	__u32 version;		/* SPAN_PROTO_VERSION */
	__u32 max_members;
	__u32 ring_size;
	__u64 chan_size;
};

SPAN_STATIC_ASSERT(sizeof(struct span_chan_hdr) == 24, "span_chan_hdr size");

/*
 * Single producer, single consumer.  head and tail are free-running byte
 * counters (never wrapped); head - tail <= size.  The producer alone writes
 * head (store-release after the data), the consumer alone writes tail
 * (store-release after it copied the data out).  They live on separate
 * cache lines.  need_wakeup is set by a consumer about to sleep on its
 * doorbell; a producer that sees it after publishing kicks the doorbell.
 */
struct span_ring_hdr {
	__u32 magic;		/* SPAN_RING_MAGIC */
	__u32 size;		/* data bytes, power of two */
	__u32 from;		/* producer slot */
	__u32 to;		/* consumer slot */
	__u8  pad0[SPAN_CACHELINE - 16];
	__u64 head;		/* producer: bytes ever written */
	__u8  pad1[SPAN_CACHELINE - 8];
	__u64 tail;		/* consumer: bytes ever consumed */
	__u32 need_wakeup;	/* consumer: 1 while (about to be) asleep */
	__u32 reserved;
	__u8  pad2[SPAN_CACHELINE - 16];
};

SPAN_STATIC_ASSERT(sizeof(struct span_ring_hdr) == 3 * SPAN_CACHELINE, "span_ring_hdr size");

#endif /* _UAPI_LINUX_SPAN_H */
