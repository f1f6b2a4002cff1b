/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libspan C ABI, for QEMU and other C users.
 *
 * A member connects to spand, receives the span VM's guest-memory fd, the
 * channel fd (shared-memory rings, mapped by the library) and doorbell
 * eventfds, and then exchanges struct span_msg_hdr-framed messages with its
 * peers (rings) and with spand (UNIX socket).  Functions return 0 or a
 * negative errno unless documented otherwise.  A struct span_member is not
 * thread-safe: use it from one thread, or serialise calls.
 */
#ifndef SPAN_LIBSPAN_H
#define SPAN_LIBSPAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/span.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPAN_DEFAULT_SOCKET "/run/span/spand.sock"

/* Why span_validate() rejected a message.  0 means valid. */
enum span_reject {
    SPAN_REJECT_NONE = 0,
    SPAN_REJECT_TRUNCATED,  /* shorter than its header or declared length */
    SPAN_REJECT_OVERSIZED,  /* longer than SPAN_MSG_MAX or than declared */
    SPAN_REJECT_MISALIGNED, /* length not a multiple of SPAN_MSG_ALIGN */
    SPAN_REJECT_MAGIC,
    SPAN_REJECT_VERSION,
    SPAN_REJECT_TYPE,      /* unknown type or PAD */
    SPAN_REJECT_FLAGS,     /* unknown header flag */
    SPAN_REJECT_RESERVED,  /* non-zero reserved or padding field */
    SPAN_REJECT_ADDRESS,   /* bad src/dst member */
    SPAN_REJECT_SIZE,      /* payload size wrong for the type */
    SPAN_REJECT_FIELD,     /* enum/flag field out of range */
    SPAN_REJECT_RANGE,     /* address/length out of range or overflowing */
    SPAN_REJECT_COUNT,     /* element count out of range */
    SPAN_REJECT_DUPLICATE, /* repeated id in a list */
    SPAN_REJECT_NAME,      /* bad name string */
    SPAN_REJECT_MAX
};

/* Validates one complete message of len bytes; returns enum span_reject.
 * Messages other than HELLO must carry SPAN_PROTO_VERSION. */
int span_validate(const void *buf, size_t len);
/*
 * Validates a payload alone (size bytes, a multiple of SPAN_MSG_ALIGN) as
 * the body of a message of this type from member 0 to member 1 (to spand
 * for a PEER_REPORT or a MOVE; from spand for a MEMBER; an ACK or
 * HELLO_REPLY as a reply echoing its request): what a sender checks before
 * it frames the payload.  Returns enum span_reject.
 */
int span_validate_payload(uint16_t type, const void *payload, size_t size);

/*
 * The one place message headers are built: zeroes len bytes at buf (the
 * header and a payload of len - sizeof(struct span_msg_hdr) bytes) and
 * fills the header: magic, SPAN_PROTO_VERSION, type, len, src and dst
 * (flags and seq 0).  len must be at least the header's size.
 */
void span_msg_init(void *buf, uint16_t type, size_t len, uint16_t src, uint16_t dst);

/*
 * Connects a close-on-exec SOCK_SEQPACKET socket to spand at path (NULL:
 * SPAN_DEFAULT_SOCKET).  Returns the socket or -errno (-ENAMETOOLONG when
 * path does not fit a UNIX socket address).
 */
int span_sock_connect(const char *path);

/* Short name of an enum span_reject value ("truncated", ...). */
const char *span_reject_str(int reject);
/* Short name of a message type ("interrupt", ...), "unknown" if none. */
const char *span_msg_type_str(unsigned type);

/*
 * Socket transport for relays (L0 QEMU's span-pci device forwards an L1's
 * messages to spand on its own connection).  span_sock_send() sends one
 * complete message of len bytes (hdr.len == len, validated first): 0 or
 * -errno.  span_sock_recv() receives one message into buf (cap bytes)
 * waiting up to timeout_ms (0: do not block; -1: forever) and returns its
 * length once span_validate() accepted it; -EAGAIN when none came,
 * -ECONNRESET when spand closed, -EBADMSG when validation refused it (it is
 * dropped), -EMSGSIZE when it did not fit or carried more than max_fds fds.
 * Up to max_fds received fds go to fds[] (*nr_fds of them, close-on-exec,
 * owned by the caller); fds may be NULL when max_fds is 0.
 */
int span_sock_send(int sock, const void *msg, size_t len);
ssize_t span_sock_recv(int sock, void *buf, size_t cap, int *fds, size_t max_fds, size_t *nr_fds,
                       int timeout_ms);

struct span_member;

/* Connects to spand at socket_path (NULL: SPAN_DEFAULT_SOCKET), joins span
 * VM vm_name as member_name, maps the channel. */
int span_member_connect(const char *socket_path, const char *vm_name, const char *member_name,
                        uint32_t caps, struct span_member **out);
void span_member_close(struct span_member *m);

uint32_t span_member_id(const struct span_member *m);
uint32_t span_member_vm_id(const struct span_member *m);
/* Guest memory: fd owned by the library (dup() it to keep it). */
int span_member_mem_fd(const struct span_member *m);
uint64_t span_member_mem_size(const struct span_member *m);
/* Poll these two for POLLIN: the member's doorbell eventfd and the socket. */
int span_member_event_fd(const struct span_member *m);
int span_member_control_fd(const struct span_member *m);

/* Sends msg (a complete message, hdr.len == len) to member slot dst over
 * the ring.  The library fills magic, version, src and seq.  -EAGAIN when
 * the ring is full. */
int span_member_send(struct span_member *m, uint16_t dst, void *msg, size_t len);
/* Sends msg to spand and waits up to timeout_ms for its final reply (an
 * ACK or the last reply message), copied into reply (cap bytes).  Returns
 * the reply's length or -errno. */
ssize_t span_member_request(struct span_member *m, void *msg, size_t len, void *reply, size_t cap,
                            int timeout_ms);
/* Answers a request spand sent (hdr.seq req_seq, e.g. SPAN_MSG_MOVE) with an
 * ACK carrying status (0 or -errno) and value, over the socket, without
 * waiting.  -EINVAL for a status outside -4095..0. */
int span_member_ack(struct span_member *m, uint64_t req_seq, int32_t status, uint64_t value);
/* Receives one validated message (rings first, then spand) without
 * blocking.  Returns its length, 0 when none is pending, or -errno
 * (-EMSGSIZE: cap too small, message dropped; -ECONNRESET: spand gone). */
ssize_t span_member_recv(struct span_member *m, void *buf, size_t cap);
/* Before sleeping on the fds: returns 1 if messages are pending (do not
 * sleep), 0 when it is safe to sleep (peers will ring the doorbell). */
int span_member_prepare_wait(struct span_member *m);
/* Number of messages rejected by validation so far. */
uint64_t span_member_rejected(const struct span_member *m);

/* Member slots of the span VM (peers are 0..max_members-1 except the
 * member's own id). */
uint32_t span_member_max_members(const struct span_member *m);

/* What a member received on the ring from one peer slot.  Counters are per
 * slot and survive the slot changing hands.  Fields may be appended in
 * later versions: pass sizeof(struct span_peer_stats). */
struct span_peer_stats {
    uint64_t accepted;                   /* valid messages delivered */
    uint64_t rejected;                   /* messages dropped (all reasons below) */
    uint64_t ring_corrupt;               /* ring resynchronisations (in rejected) */
    uint64_t oversized;                  /* records over the receive buffer (in rejected) */
    uint64_t reports;                    /* SPAN_MSG_PEER_REPORTs sent about this peer */
    uint64_t reports_acted;              /* of which spand disconnected the peer */
    uint32_t last_reject;                /* enum span_reject of the latest rejection */
    int32_t last_report_status;          /* spand's answer to the latest report */
    uint64_t by_reason[SPAN_REJECT_MAX]; /* rejected, per enum span_reject */
};

/* Copies the counters of peer slot `peer` into *out (at most size bytes).
 * Returns 0, or -EINVAL for a bad slot (own id, >= max_members). */
int span_member_peer_stats(const struct span_member *m, uint32_t peer, struct span_peer_stats *out,
                           size_t size);

/* The library reports a peer to spand (SPAN_MSG_PEER_REPORT), which may
 * disconnect it, each time `threshold` of its ring messages were rejected
 * since the last report (default 16; 0 never reports). */
void span_member_set_report_threshold(struct span_member *m, uint32_t threshold);

#ifdef __cplusplus
}
#endif

#endif /* SPAN_LIBSPAN_H */
