// Validation of span messages.  Every byte that crosses a socket or a ring
// is hostile: it is validated here, on a private copy, before any use.
#pragma once

#include <cstddef>
#include <cstdint>

#include "span/libspan.h"

namespace span {

enum class Reject : int {
    None = SPAN_REJECT_NONE,
    Truncated = SPAN_REJECT_TRUNCATED,
    Oversized = SPAN_REJECT_OVERSIZED,
    Misaligned = SPAN_REJECT_MISALIGNED,
    Magic = SPAN_REJECT_MAGIC,
    Version = SPAN_REJECT_VERSION,
    Type = SPAN_REJECT_TYPE,
    Flags = SPAN_REJECT_FLAGS,
    Reserved = SPAN_REJECT_RESERVED,
    Address = SPAN_REJECT_ADDRESS,
    Size = SPAN_REJECT_SIZE,
    Field = SPAN_REJECT_FIELD,
    Range = SPAN_REJECT_RANGE,
    Count = SPAN_REJECT_COUNT,
    Duplicate = SPAN_REJECT_DUPLICATE,
    Name = SPAN_REJECT_NAME,
};
constexpr int kRejectCount = SPAN_REJECT_MAX;

const char *reject_str(Reject r);

// Header only: framing (length vs buffer), magic, version, type, flags,
// reserved fields, addresses.  `len` is the number of bytes available.
Reject validate_header(const void *buf, size_t len);

// Whole message: header plus the type's payload validator.
Reject validate_message(const void *buf, size_t len);

// The type's payload validator on a header validate_header() accepted
// (p/n: the payload, n == h.len - header).
Reject validate_body(const span_msg_hdr &h, const uint8_t *p, size_t n);

// A payload alone, as the body of a message of `type` from member 0 to
// member 1 without flags (to spand for PEER_REPORT and MOVE, as a reply
// for ACK and HELLO_REPLY, from spand for MEMBER): what a sender checks
// before framing it.
Reject validate_payload(uint16_t type, const void *payload, size_t n);

// One validator per message type.  `p`/`n`: payload after the header,
// already bounded by the header's length.  They may assume an 8-aligned
// buffer is NOT given: they copy into local structs.

Reject validate_hello(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_hello_reply(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_ack(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_topology(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_empty(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_interrupt(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_mmio_req(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_pio_req(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_io_resp(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_ioeventfd(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_eoi(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_msi(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_mem_subscribe(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_mem_unsubscribe(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_mem_event(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_mem_reply(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_wt_publish(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_wt_ack(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_wt_invalidate(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_attach(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_vcpu_state(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_reset(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_heartbeat(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_vm_state(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_placed(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_move(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_ctl_create(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_ctl_name(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_ctl_vm_info(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_ctl_member_info(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_ctl_sub_info(const span_msg_hdr &h, const uint8_t *p, size_t n);
Reject validate_peer_report(const span_msg_hdr &h, const uint8_t *p, size_t n);

// A span name: 1..SPAN_NAME_LEN-1 chars of [A-Za-z0-9._-], NUL-terminated,
// zero-filled after the NUL.  allow_empty: all-zero is accepted too.
bool valid_name(const char (&name)[32], bool allow_empty);
bool valid_name_str(const char *s);

// Channel layout helpers (shared by spand and members).
constexpr uint64_t ring_stride(uint32_t ring_size) {
    return uint64_t(SPAN_RING_HDR_SIZE) + ring_size;
}
constexpr uint64_t chan_size(uint32_t max_members, uint32_t ring_size) {
    return SPAN_CHAN_HDR_SIZE + uint64_t(max_members) * max_members * ring_stride(ring_size);
}
constexpr uint64_t ring_offset(uint32_t from, uint32_t to, uint32_t max_members,
                               uint32_t ring_size) {
    return SPAN_CHAN_HDR_SIZE + (uint64_t(from) * max_members + to) * ring_stride(ring_size);
}
constexpr bool is_pow2(uint64_t v) {
    return v && !(v & (v - 1));
}

}  // namespace span
