// The member API: a hypervisor (or spanctl, with the control role) joining
// spand.  A member gets a slot id, the guest-memory fd, the channel fd
// (mapped here: one SPSC ring per ordered pair of slots) and the doorbell
// eventfds of every slot.  Peers talk over rings; spand over the socket.
//
// Not thread-safe: one thread uses a Member at a time.
#pragma once

#include <array>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "span/fd.h"
#include "span/libspan.h"
#include "span/proto.h"
#include "span/ring.h"
#include "span/validate.h"

namespace span {

struct ConnectOptions {
    // spand's socket, or a span-pci character device (/dev/spanN) when the
    // member runs in an L1 hypervisor (full nesting): then the guest
    // memory and the channel are the device's mmap()s and the doorbells
    // eventfds bound with SPAN_PCI_SET_EVENTFD (linux/span_pci.h).
    std::string socket_path = SPAN_DEFAULT_SOCKET;
    std::string vm_name;      // member: required; control: optional binding
    std::string member_name;  // member: required
    uint32_t role = SPAN_ROLE_MEMBER;
    uint32_t caps = SPAN_CAP_RINGS;
    int timeout_ms = 5000;
    // Report a peer to spand (SPAN_MSG_PEER_REPORT) once this many of its
    // ring messages were rejected since the last report; 0: never report.
    uint32_t report_threshold = kDefaultReportThreshold;
    static constexpr uint32_t kDefaultReportThreshold = 16;
};

struct RecvStats {
    uint64_t received = 0;  // messages accepted
    uint64_t rejected = 0;  // messages dropped by validation
    std::array<uint64_t, kRejectCount> by_reason{};
    uint64_t ring_corrupt = 0;  // ring resynchronisations
    uint64_t oversized = 0;     // records larger than the receive buffer
};

// Per-peer receive counters: struct span_peer_stats (span/libspan.h).
using PeerStats = span_peer_stats;

// True for the message types peers may exchange over rings.
bool ring_type_allowed(uint16_t type);

class Member {
  public:
    static Result<std::unique_ptr<Member>> connect(const ConnectOptions &opt);
    Member(const Member &) = delete;
    Member &operator=(const Member &) = delete;
    ~Member() = default;

    uint32_t id() const { return id_; }
    uint32_t vm_id() const { return vm_id_; }
    uint64_t mem_size() const { return mem_size_; }
    uint32_t max_members() const { return max_members_; }
    uint32_t ring_size() const { return ring_size_; }
    uint32_t vm_flags() const { return vm_flags_; }
    int mem_fd() const { return memfd_.get(); }
    int event_fd() const { return id_ < doorbells_.size() ? doorbells_[id_].get() : -1; }
    int control_fd() const { return sock_.get(); }
    int chan_fd() const { return chanfd_.get(); }
    bool is_member() const { return role_ == SPAN_ROLE_MEMBER; }
    // True when connected through a span-pci device instead of a socket.
    bool via_device() const { return dev_; }
    // mmap() offset of the channel in chan_fd() (0, or the device's).
    uint64_t chan_offset() const { return chan_offset_; }

    // Data plane.  send(): stamp, push to ring (id -> dst), publish and ring
    // the doorbell if the peer sleeps.  EAGAIN when the ring is full.
    Status send(uint16_t dst, Msg &m);
    Status send_raw(uint16_t dst, void *msg, size_t len);
    // Batching: stage() pushes without publishing; flush() publishes every
    // ring with staged messages and rings doorbells once.
    Status stage(uint16_t dst, Msg &m);
    void flush();

    // Control plane: sends m to spand and collects its replies (the last one
    // is the final reply, usually an ACK).  Unrelated messages arriving
    // meanwhile are queued for recv().
    Result<std::vector<Msg>> request(Msg m, int timeout_ms = 5000);
    // Sends to spand without waiting.
    Status notify(Msg &m);
    // Answers a request spand sent (its hdr.seq is req_seq; e.g. MOVE)
    // with an ACK: status 0 or -errno (>= -4095, else EINVAL), value
    // request specific.  Over the socket, without waiting.
    Status ack(uint64_t req_seq, int32_t status, uint64_t value = 0);

    // Next validated message from a peer ring or spand, without blocking.
    // Error ECONNRESET once spand hung up.
    Result<std::optional<Msg>> try_recv();
    // Blocks up to timeout_ms (-1: forever); ETIMEDOUT if nothing came.
    Result<Msg> recv(int timeout_ms);
    // Before sleeping on event_fd()/control_fd(): true if messages are
    // pending (don't sleep).  After waking, try_recv() clears the flags.
    bool prepare_wait();

    const RecvStats &stats() const { return stats_; }
    // Counters for the ring from peer slot `peer` (< max_members(), not
    // id()); nullptr otherwise.  Counters are per slot: they are not reset
    // when another member takes the slot over.
    const PeerStats *peer_stats(uint32_t peer) const;
    // Changes ConnectOptions::report_threshold (0: never report).
    void set_report_threshold(uint32_t n) { report_threshold_ = n; }

  private:
    Member() = default;
    Status hello(const ConnectOptions &opt);
    Status map_channel();
    Status attach_device(const span_hello_reply &hr);
    Status ctl_send(const Msg &m);
    Result<Msg> ctl_recv(std::vector<UniqueFd> *fds, int timeout_ms, Reject *why = nullptr);
    void count_reject(Reject r);
    void count_ring_reject(uint32_t peer, Reject r);
    void maybe_report(uint32_t peer);
    bool report_answer(const Msg &m);
    Result<std::optional<Msg>> recv_socket(int timeout_ms);
    void kick(uint32_t dst);
    void after_wake();

    uint32_t role_ = SPAN_ROLE_MEMBER;
    uint32_t id_ = 0, vm_id_ = 0, max_members_ = 0, ring_size_ = 0, vm_flags_ = 0;
    uint64_t mem_size_ = 0, chan_size_ = 0;
    uint64_t seq_ = 1;
    UniqueFd sock_, memfd_, chanfd_;
    std::vector<UniqueFd> doorbells_;
    Mapping chan_;
    std::vector<RingProducer> tx_;
    std::vector<RingConsumer> rx_;
    std::vector<uint8_t> tx_dirty_;
    std::vector<uint32_t> rx_batch_;
    std::vector<uint64_t> rx_buf_;  // receive scratch, 8-aligned
    uint32_t rr_ = 0;               // round-robin start among peers
    bool sleeping_ = false;
    bool hung_up_ = false;
    bool dev_ = false;
    uint64_t chan_offset_ = 0;
    std::deque<Msg> inbox_;
    RecvStats stats_;
    struct Peer {
        PeerStats s{};
        uint64_t unreported = 0;  // rejections since the last report
        uint64_t report_seq = 0;  // seq of the report awaiting spand's ACK
    };
    std::vector<Peer> peers_;
    uint32_t report_threshold_ = ConnectOptions::kDefaultReportThreshold;
};

}  // namespace span
