// Message buffers and socket transport (SOCK_SEQPACKET: one message per
// datagram, fds via SCM_RIGHTS).
#pragma once

#include <linux/span.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "span/fd.h"
#include "span/result.h"
#include "span/validate.h"

namespace span {

// An owned, 8-aligned message buffer: header followed by payload.
class Msg {
  public:
    Msg() = default;
    // A zeroed message of `type` with payload_len payload bytes (rounded up
    // to SPAN_MSG_ALIGN).
    static Msg make(uint16_t type, size_t payload_len);
    template <typename T>
    static Msg of(uint16_t type, const T &body, size_t extra = 0) {
        Msg m = make(type, sizeof(T) + extra);
        std::memcpy(m.payload(), &body, sizeof(T));
        return m;
    }
    // Copies raw bytes (e.g. received) into a message buffer.
    static Msg from_bytes(const void *p, size_t len);

    span_msg_hdr &hdr() { return *reinterpret_cast<span_msg_hdr *>(buf_.data()); }
    const span_msg_hdr &hdr() const { return *reinterpret_cast<const span_msg_hdr *>(buf_.data()); }
    uint16_t type() const { return hdr().type; }
    uint8_t *data() { return reinterpret_cast<uint8_t *>(buf_.data()); }
    const uint8_t *data() const { return reinterpret_cast<const uint8_t *>(buf_.data()); }
    size_t size() const { return empty() ? 0 : hdr().len; }
    bool empty() const { return buf_.empty(); }
    uint8_t *payload() { return data() + sizeof(span_msg_hdr); }
    const uint8_t *payload() const { return data() + sizeof(span_msg_hdr); }
    size_t payload_size() const { return size() - sizeof(span_msg_hdr); }
    // Typed copy of the payload at `off` (the message must be validated).
    template <typename T>
    T get(size_t off = 0) const {
        T v;
        std::memcpy(&v, payload() + off, sizeof(T));
        return v;
    }

  private:
    std::vector<uint64_t> buf_;  // uint64_t: 8-byte alignment
};

// Socket I/O.  send_msg sends one message (and fds) in one datagram.
Status send_msg(int sock, const Msg &m, std::span<const int> fds = {});

// Receives one datagram (blocking unless the socket is non-blocking or
// timeout_ms >= 0).  Results:
//   ok + message                     a message (NOT validated yet)
//   Error ECONNRESET                 peer closed
//   Error EAGAIN / ETIMEDOUT         nothing (yet)
//   Error EBADMSG                    rejected by validation (*why says why)
//   Error EMSGSIZE                   too many fds attached
// Every message returned has passed validate_message().  Received fds are
// appended to *fds (close-on-exec); when fds is null they are closed.
Result<Msg> recv_msg(int sock, std::vector<UniqueFd> *fds, int timeout_ms = -1,
                     Reject *why = nullptr);

// The same over a span-pci character device (/dev/spanN, full nesting):
// one message per write()/read(); read() returning 0 means spand hung up.
Status send_dev(int fd, const Msg &m);
Result<Msg> recv_dev(int fd, int timeout_ms = -1, Reject *why = nullptr);

// Fills the header fields a sender owns.
void stamp(Msg &m, uint16_t src, uint16_t dst, uint64_t seq, uint32_t flags = 0);

std::string name_str(const char (&name)[SPAN_NAME_LEN]);
void set_name(char (&dst)[SPAN_NAME_LEN], const std::string &src);

// "running", "paused", "shutdown" or "unknown" for enum span_vm_state.
const char *vm_state_str(uint32_t state);
// s in double quotes with '"' and '\\' escaped (JSON strings, logfmt values).
std::string quoted(const std::string &s);
// Parses a non-negative integer (decimal, 0x hex or 0 octal).  With
// suffixes, K/M/G/T (optionally KiB/MiB/GiB/TiB) multiply by powers of 1024.
// False on garbage, a sign, an unknown suffix or overflow.
bool parse_u64(const std::string &s, uint64_t &out, bool suffixes);

}  // namespace span
