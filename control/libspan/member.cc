#include "span/member.h"

#include <fcntl.h>
#include <linux/span_pci.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>

namespace span {

bool ring_type_allowed(uint16_t type) {
    switch (type) {
        case SPAN_MSG_INTERRUPT:
        case SPAN_MSG_MMIO_REQ:
        case SPAN_MSG_MMIO_RESP:
        case SPAN_MSG_PIO_REQ:
        case SPAN_MSG_PIO_RESP:
        case SPAN_MSG_IOEVENTFD:
        case SPAN_MSG_EOI:
        case SPAN_MSG_MSI:
        case SPAN_MSG_MEM_EVENT:
        case SPAN_MSG_MEM_REPLY:
        case SPAN_MSG_WT_PUBLISH:
        case SPAN_MSG_WT_ACK:
        case SPAN_MSG_WT_INVALIDATE:
        case SPAN_MSG_VCPU_STATE:
        case SPAN_MSG_RESET:
        case SPAN_MSG_SHUTDOWN:
        case SPAN_MSG_HEARTBEAT:
        case SPAN_MSG_PLACED:
            return true;
        default:
            return false;
    }
}

Result<std::unique_ptr<Member>> Member::connect(const ConnectOptions &opt) {
    std::unique_ptr<Member> m(new Member());
    m->role_ = opt.role;
    m->report_threshold_ = opt.report_threshold;
    m->rx_buf_.assign(SPAN_MSG_MAX / 8, 0);
    struct stat st;
    if (::stat(opt.socket_path.c_str(), &st) == 0 && S_ISCHR(st.st_mode)) {
        // Full nesting: spand is reached through the span-pci device.
        if (opt.role != SPAN_ROLE_MEMBER) return Error{EPERM, "a span device only admits members"};
        m->dev_ = true;
        m->sock_.reset(::open(opt.socket_path.c_str(), O_RDWR | O_CLOEXEC));
        if (!m->sock_) return Error::sys("open " + opt.socket_path);
        SPAN_TRY(m->hello(opt));
        return m;
    }
    int fd = span_sock_connect(opt.socket_path.c_str());
    if (fd == -ENAMETOOLONG) return Error{ENAMETOOLONG, "socket path too long"};
    if (fd < 0) return Error::sys("connect " + opt.socket_path, -fd);
    m->sock_.reset(fd);
    SPAN_TRY(m->hello(opt));
    return m;
}

Status Member::hello(const ConnectOptions &opt) {
    span_hello h{};
    h.version_min = SPAN_PROTO_VERSION_MIN;
    h.version_max = SPAN_PROTO_VERSION;
    h.role = opt.role;
    h.caps = opt.caps;
    if (!opt.vm_name.empty() && !valid_name_str(opt.vm_name.c_str()))
        return Error{EINVAL, "invalid span VM name '" + opt.vm_name + "'"};
    if (!opt.member_name.empty() && !valid_name_str(opt.member_name.c_str()))
        return Error{EINVAL, "invalid member name '" + opt.member_name + "'"};
    set_name(h.vm_name, opt.vm_name);
    set_name(h.member_name, opt.member_name);
    Msg m = Msg::of(SPAN_MSG_HELLO, h);
    stamp(m, 0, SPAN_MEMBER_SPAND, seq_++);
    m.hdr().src = 0;  // no slot yet
    SPAN_TRY(ctl_send(m));

    std::vector<UniqueFd> fds;
    auto r = ctl_recv(&fds, opt.timeout_ms);
    if (!r) return r.error();
    Msg &rep = r.value();
    if (rep.type() != SPAN_MSG_HELLO_REPLY) return Error{EPROTO, "expected HELLO_REPLY"};
    auto hr = rep.get<span_hello_reply>();
    if (hr.status < 0)
        return Error{-hr.status, std::string("spand refused: ") + std::strerror(-hr.status)};
    if (fds.size() != hr.nr_fds) return Error{EPROTO, "fd count does not match HELLO_REPLY"};
    id_ = hr.member_id;
    vm_id_ = hr.vm_id;
    mem_size_ = hr.mem_size;
    chan_size_ = hr.chan_size;
    ring_size_ = hr.ring_size;
    max_members_ = hr.max_members;
    vm_flags_ = hr.flags;
    if (opt.role != SPAN_ROLE_MEMBER) return {};
    if (hr.max_members == 0) return Error{EPROTO, "member got no channel"};
    if (dev_ != !!(hr.flags & SPAN_VM_IN_DEVICE))
        return Error{EPROTO, dev_ ? "HELLO_REPLY without device resources"
                                  : "HELLO_REPLY with device resources on a socket"};
    if (dev_) return attach_device(hr);
    memfd_ = std::move(fds[SPAN_FD_MEMORY]);
    chanfd_ = std::move(fds[SPAN_FD_CHANNEL]);
    for (size_t i = SPAN_FD_DOORBELL0; i < fds.size(); i++) doorbells_.push_back(std::move(fds[i]));
    return map_channel();
}

Status Member::ctl_send(const Msg &m) {
    return dev_ ? send_dev(sock_.get(), m) : send_msg(sock_.get(), m);
}

Result<Msg> Member::ctl_recv(std::vector<UniqueFd> *fds, int timeout_ms, Reject *why) {
    return dev_ ? recv_dev(sock_.get(), timeout_ms, why)
                : recv_msg(sock_.get(), fds, timeout_ms, why);
}

// Full nesting: the memory and the channel are mmap()s of the device (it
// checks offsets and sizes against what L0 attached), the doorbells
// eventfds bound to the device's doorbell register and MSI-X vector.
Status Member::attach_device(const span_hello_reply &hr) {
    span_pci_info info{};
    if (::ioctl(sock_.get(), SPAN_PCI_INFO, &info) < 0) return Error::sys("SPAN_PCI_INFO");
    if (!(info.status & SPAN_PCI_ST_CONNECTED) || info.member_id != hr.member_id ||
        info.max_members != hr.max_members || info.mem_size != hr.mem_size ||
        info.chan_size != hr.chan_size)
        return Error{EPROTO, "span device does not match HELLO_REPLY"};
    memfd_.reset(::fcntl(sock_.get(), F_DUPFD_CLOEXEC, 0));
    if (!memfd_) return Error::sys("dup");
    chanfd_.reset(::fcntl(sock_.get(), F_DUPFD_CLOEXEC, 0));
    if (!chanfd_) return Error::sys("dup");
    chan_offset_ = info.chan_offset;
    for (uint32_t j = 0; j < max_members_; j++) {
        auto e = make_eventfd();
        if (!e) return e.error();
        span_pci_eventfd ev{e.value().get(), j};
        if (::ioctl(sock_.get(), SPAN_PCI_SET_EVENTFD, &ev) < 0)
            return Error::sys("SPAN_PCI_SET_EVENTFD");
        doorbells_.push_back(std::move(e.value()));
    }
    return map_channel();
}

Status Member::map_channel() {
    if (!dev_) {
        // Even spand's answers are checked against the fds' real sizes: a
        // mapping shorter than the layout would fault on first use.  (A
        // device's mmap() does that check itself.)
        auto msz = fd_size(memfd_.get());
        if (!msz) return msz.error();
        if (*msz < mem_size_) return Error{EPROTO, "memory fd smaller than announced"};
        auto csz = fd_size(chanfd_.get());
        if (!csz) return csz.error();
        if (*csz < chan_size_) return Error{EPROTO, "channel fd smaller than announced"};
    }
    auto map = Mapping::map_shared(chanfd_.get(), chan_size_, chan_offset_);
    if (!map) return map.error();
    chan_ = std::move(map.value());
    span_chan_hdr ch;
    std::memcpy(&ch, chan_.data(), sizeof(ch));
    if (ch.magic != SPAN_CHAN_MAGIC || ch.max_members != max_members_ ||
        ch.ring_size != ring_size_ || ch.chan_size != chan_size_)
        return Error{EPROTO, "channel header does not match HELLO_REPLY"};
    tx_.resize(max_members_);
    rx_.resize(max_members_);
    tx_dirty_.assign(max_members_, 0);
    rx_batch_.assign(max_members_, 0);
    peers_.assign(max_members_, Peer{});
    for (uint32_t j = 0; j < max_members_; j++) {
        if (j == id_) continue;
        auto p = RingProducer::attach(chan_.bytes() + ring_offset(id_, j, max_members_, ring_size_),
                                      ring_size_, id_, j);
        if (!p) return p.error();
        tx_[j] = std::move(p.value());
        auto c = RingConsumer::attach(chan_.bytes() + ring_offset(j, id_, max_members_, ring_size_),
                                      ring_size_, j, id_);
        if (!c) return c.error();
        rx_[j] = std::move(c.value());
        rx_[j].drain();  // messages left for a previous holder of this slot
    }
    return {};
}

void Member::kick(uint32_t dst) {
    uint64_t one = 1;
    if (dst < doorbells_.size()) (void)!::write(doorbells_[dst].get(), &one, sizeof(one));
}

Status Member::stage(uint16_t dst, Msg &m) {
    if (!is_member()) return Error{EPERM, "control sessions have no rings"};
    if (dst >= max_members_ || dst == id_) return Error{EINVAL, "bad destination slot"};
    if (!ring_type_allowed(m.type())) return Error{EINVAL, "message type not allowed on rings"};
    stamp(m, static_cast<uint16_t>(id_), dst, seq_, m.hdr().flags);
    if (m.size() > tx_[dst].max_msg()) return Error{EMSGSIZE, "message larger than half the ring"};
    if (!tx_[dst].push(m.data(), m.size())) return Error{EAGAIN, "ring full"};
    seq_++;
    tx_dirty_[dst] = 1;
    return {};
}

void Member::flush() {
    for (uint32_t j = 0; j < max_members_; j++) {
        if (!tx_dirty_[j]) continue;
        tx_dirty_[j] = 0;
        if (tx_[j].publish()) kick(j);
    }
}

Status Member::send(uint16_t dst, Msg &m) {
    SPAN_TRY(stage(dst, m));
    flush();
    return {};
}

Status Member::send_raw(uint16_t dst, void *msg, size_t len) {
    if (len < sizeof(span_msg_hdr) || len > SPAN_MSG_MAX || len % SPAN_MSG_ALIGN)
        return Error{EINVAL, "bad message length"};
    Msg m = Msg::from_bytes(msg, len);
    if (m.hdr().len != len) return Error{EINVAL, "hdr.len does not match length"};
    return send(dst, m);
}

Status Member::notify(Msg &m) {
    stamp(m, is_member() ? static_cast<uint16_t>(id_) : 0, SPAN_MEMBER_SPAND, seq_++,
          m.hdr().flags);
    return ctl_send(m);
}

Status Member::ack(uint64_t req_seq, int32_t status, uint64_t value) {
    span_ack a{req_seq, status, 0, value};
    if (validate_payload(SPAN_MSG_ACK, &a, sizeof(a)) != Reject::None)
        return Error{EINVAL, "ACK status not 0 or -errno"};
    Msg m = Msg::of(SPAN_MSG_ACK, a);
    stamp(m, is_member() ? static_cast<uint16_t>(id_) : 0, SPAN_MEMBER_SPAND, req_seq,
          SPAN_F_REPLY);
    return ctl_send(m);
}

void Member::count_reject(Reject r) {
    stats_.rejected++;
    stats_.by_reason[static_cast<int>(r)]++;
}

const PeerStats *Member::peer_stats(uint32_t peer) const {
    if (peer >= peers_.size() || peer == id_) return nullptr;
    return &peers_[peer].s;
}

void Member::count_ring_reject(uint32_t peer, Reject r) {
    count_reject(r);
    Peer &p = peers_[peer];
    p.s.rejected++;
    p.s.by_reason[static_cast<int>(r)]++;
    p.s.last_reject = static_cast<uint32_t>(r);
    p.unreported++;
    maybe_report(peer);
}

// A peer that keeps writing garbage into our ring is reported to spand,
// which alone can disconnect it.  At most one report per peer is in flight;
// the next one needs another report_threshold_ rejections.
void Member::maybe_report(uint32_t peer) {
    Peer &p = peers_[peer];
    if (!report_threshold_ || p.unreported < report_threshold_ || p.report_seq || hung_up_) return;
    span_peer_report rep{};
    rep.member = peer;
    rep.reason = p.s.last_reject;
    rep.rejected = p.s.rejected;
    rep.accepted = p.s.accepted;
    Msg m = Msg::of(SPAN_MSG_PEER_REPORT, rep);
    uint64_t seq = seq_;
    if (!notify(m)) return;  // spand gone: nothing to report to
    p.report_seq = seq;
    p.unreported = 0;
    p.s.reports++;
}

// spand's ACK to one of our peer reports: consumed here, never delivered.
bool Member::report_answer(const Msg &m) {
    if (m.type() != SPAN_MSG_ACK || (m.hdr().flags & SPAN_F_MORE)) return false;
    for (uint32_t j = 0; j < peers_.size(); j++) {
        Peer &p = peers_[j];
        if (!p.report_seq || p.report_seq != m.hdr().seq) continue;
        auto a = m.get<span_ack>();
        p.report_seq = 0;
        p.s.last_report_status = a.status;
        if (a.status == 0) {
            // The offender is gone: drop what it left in our ring so that
            // its garbage is not held against the slot's next holder.
            p.s.reports_acted++;
            p.unreported = 0;
            rx_[j].drain();
            rx_batch_[j] = 0;
        }
        return true;
    }
    return false;
}

// One message from spand; nullopt if none within timeout_ms.
Result<std::optional<Msg>> Member::recv_socket(int timeout_ms) {
    if (hung_up_) return Error{ECONNRESET, "spand hung up"};
    for (;;) {
        Reject why;
        auto r = ctl_recv(nullptr, timeout_ms, &why);
        if (r) {
            Msg &m = r.value();
            // spand never speaks as anyone else, and only to us.
            uint16_t me = is_member() ? static_cast<uint16_t>(id_) : 0;
            if (m.hdr().src != SPAN_MEMBER_SPAND ||
                (m.hdr().dst != me && m.hdr().dst != SPAN_MEMBER_BROADCAST)) {
                count_reject(Reject::Address);
                continue;
            }
            if ((m.hdr().flags & SPAN_F_REPLY) && report_answer(m)) continue;
            stats_.received++;
            return std::optional<Msg>(std::move(m));
        }
        int code = r.error().code;
        if (code == EAGAIN || code == ETIMEDOUT) return std::optional<Msg>();
        if (code == EBADMSG) {
            count_reject(why);
            continue;
        }
        if (code == ECONNRESET) hung_up_ = true;
        return r.error();
    }
}

Result<std::vector<Msg>> Member::request(Msg m, int timeout_ms) {
    uint64_t seq = seq_;
    SPAN_TRY(notify(m));
    std::vector<Msg> replies;
    for (;;) {
        auto r = recv_socket(timeout_ms);
        if (!r) return r.error();
        if (!r.value()) return Error{ETIMEDOUT, "no reply from spand"};
        Msg &rep = *r.value();
        if (!(rep.hdr().flags & SPAN_F_REPLY) || rep.hdr().seq != seq) {
            inbox_.push_back(std::move(rep));
            continue;
        }
        bool more = rep.hdr().flags & SPAN_F_MORE;
        replies.push_back(std::move(rep));
        if (!more) return replies;
        if (replies.size() > 4 * SPAN_MAX_VCPUS) return Error{EPROTO, "too many replies"};
    }
}

Result<std::optional<Msg>> Member::try_recv() {
    if (!inbox_.empty()) {
        Msg m = std::move(inbox_.front());
        inbox_.pop_front();
        return std::optional<Msg>(std::move(m));
    }
    if (sleeping_) after_wake();
    for (uint32_t k = 0; k < max_members_; k++) {
        uint32_t j = (rr_ + k) % max_members_;
        if (j == id_) continue;
        RingConsumer &rx = rx_[j];
        for (;;) {
            long n = rx.pop(rx_buf_.data(), SPAN_MSG_MAX);
            if (n == 0) {
                rx.release();
                rx_batch_[j] = 0;
                break;
            }
            if (++rx_batch_[j] >= 32) {
                rx.release();
                rx_batch_[j] = 0;
            }
            if (n == -EPROTO) {
                stats_.ring_corrupt++;
                peers_[j].s.ring_corrupt++;
                count_ring_reject(j, Reject::Truncated);
                continue;
            }
            if (n < 0) {
                stats_.oversized++;
                peers_[j].s.oversized++;
                count_ring_reject(j, Reject::Oversized);
                continue;
            }
            // Validate the private copy; then check the envelope matches
            // the ring it came from (no spoofing another member).
            Reject r = validate_message(rx_buf_.data(), static_cast<size_t>(n));
            if (r == Reject::None) {
                span_msg_hdr h;
                std::memcpy(&h, rx_buf_.data(), sizeof(h));
                if (h.src != j || h.dst != id_)
                    r = Reject::Address;
                else if (!ring_type_allowed(h.type))
                    r = Reject::Type;
            }
            if (r != Reject::None) {
                count_ring_reject(j, r);
                continue;
            }
            stats_.received++;
            peers_[j].s.accepted++;
            rr_ = (j + 1) % max_members_;  // fairness: next call starts after j
            return std::optional<Msg>(Msg::from_bytes(rx_buf_.data(), static_cast<size_t>(n)));
        }
    }
    return recv_socket(0);
}

bool Member::prepare_wait() {
    if (!inbox_.empty()) return true;
    for (uint32_t j = 0; j < max_members_; j++) {
        if (j == id_) continue;
        if (rx_[j].prepare_sleep()) {
            for (uint32_t k = 0; k < j; k++)
                if (k != id_) rx_[k].wake_done();
            return true;
        }
    }
    sleeping_ = true;
    return false;
}

void Member::after_wake() {
    sleeping_ = false;
    uint64_t v;
    if (event_fd() >= 0) (void)!::read(event_fd(), &v, sizeof(v));
    for (uint32_t j = 0; j < max_members_; j++)
        if (j != id_) rx_[j].wake_done();
}

Result<Msg> Member::recv(int timeout_ms) {
    for (;;) {
        auto r = try_recv();
        if (!r) return r.error();
        if (r.value()) return std::move(*r.value());
        if (prepare_wait()) continue;
        pollfd p[2] = {{sock_.get(), POLLIN, 0}, {event_fd(), POLLIN, 0}};
        int n = ::poll(p, event_fd() >= 0 ? 2 : 1, timeout_ms);
        if (n < 0 && errno != EINTR) return Error::sys("poll");
        if (n == 0) {
            after_wake();
            return Error{ETIMEDOUT, "timed out"};
        }
    }
}

}  // namespace span
