// C ABI over span::Member (see span/libspan.h).
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "span/libspan.h"
#include "span/member.h"

struct span_member {
    std::unique_ptr<span::Member> m;
};

extern "C" {

int span_member_connect(const char *socket_path, const char *vm_name, const char *member_name,
                        uint32_t caps, struct span_member **out) {
    if (!vm_name || !member_name || !out) return -EINVAL;
    span::ConnectOptions opt;
    if (socket_path) opt.socket_path = socket_path;
    opt.vm_name = vm_name;
    opt.member_name = member_name;
    opt.caps = caps;
    auto r = span::Member::connect(opt);
    if (!r) return -r.error().code;
    auto *sm = new (std::nothrow) span_member;
    if (!sm) return -ENOMEM;
    sm->m = std::move(r.value());
    *out = sm;
    return 0;
}

void span_msg_init(void *buf, uint16_t type, size_t len, uint16_t src, uint16_t dst) {
    span_msg_hdr h{};
    if (!buf || len < sizeof(h)) return;
    std::memset(buf, 0, len);
    h.magic = SPAN_MAGIC;
    h.version = SPAN_PROTO_VERSION;
    h.type = type;
    h.len = static_cast<uint32_t>(len);
    h.src = src;
    h.dst = dst;
    std::memcpy(buf, &h, sizeof(h));
}

int span_sock_connect(const char *path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (!path) path = SPAN_DEFAULT_SOCKET;
    if (std::strlen(path) >= sizeof(addr.sun_path)) return -ENAMETOOLONG;
    std::strcpy(addr.sun_path, path);
    int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0) {
        int err = errno;
        ::close(fd);
        return -err;
    }
    return fd;
}

int span_sock_send(int sock, const void *msg, size_t len) {
    if (!msg || len < sizeof(span_msg_hdr) || len > SPAN_MSG_MAX) return -EINVAL;
    if (span::validate_message(msg, len) != span::Reject::None) return -EBADMSG;
    auto m = span::Msg::from_bytes(msg, len);
    auto s = span::send_msg(sock, m);
    return s ? 0 : -s.error().code;
}

ssize_t span_sock_recv(int sock, void *buf, size_t cap, int *fds, size_t max_fds, size_t *nr_fds,
                       int timeout_ms) {
    if (nr_fds) *nr_fds = 0;
    if (!buf || (max_fds && (!fds || !nr_fds))) return -EINVAL;
    std::vector<span::UniqueFd> got;
    auto r = span::recv_msg(sock, &got, timeout_ms);
    if (!r) {
        int code = r.error().code;
        return code == ETIMEDOUT ? -EAGAIN : -code;
    }
    const span::Msg &m = r.value();
    if (m.size() > cap || got.size() > max_fds) return -EMSGSIZE;  // got closes them
    std::memcpy(buf, m.data(), m.size());
    for (size_t i = 0; i < got.size(); i++) fds[i] = got[i].release();
    if (nr_fds) *nr_fds = got.size();
    return static_cast<ssize_t>(m.size());
}

void span_member_close(struct span_member *m) {
    delete m;
}

uint32_t span_member_id(const struct span_member *m) {
    return m->m->id();
}
uint32_t span_member_vm_id(const struct span_member *m) {
    return m->m->vm_id();
}
int span_member_mem_fd(const struct span_member *m) {
    return m->m->mem_fd();
}
uint64_t span_member_mem_size(const struct span_member *m) {
    return m->m->mem_size();
}
int span_member_event_fd(const struct span_member *m) {
    return m->m->event_fd();
}
int span_member_control_fd(const struct span_member *m) {
    return m->m->control_fd();
}

int span_member_send(struct span_member *m, uint16_t dst, void *msg, size_t len) {
    if (!msg) return -EINVAL;
    auto s = m->m->send_raw(dst, msg, len);
    return s ? 0 : -s.error().code;
}

ssize_t span_member_request(struct span_member *m, void *msg, size_t len, void *reply, size_t cap,
                            int timeout_ms) {
    if (!msg || len < sizeof(span_msg_hdr) || len > SPAN_MSG_MAX || len % SPAN_MSG_ALIGN)
        return -EINVAL;
    span::Msg req = span::Msg::from_bytes(msg, len);
    if (req.hdr().len != len) return -EINVAL;
    auto r = m->m->request(std::move(req), timeout_ms);
    if (!r) return -r.error().code;
    const span::Msg &last = r.value().back();
    if (last.size() > cap || !reply) return -EMSGSIZE;
    std::memcpy(reply, last.data(), last.size());
    return static_cast<ssize_t>(last.size());
}

int span_member_ack(struct span_member *m, uint64_t req_seq, int32_t status, uint64_t value) {
    auto s = m->m->ack(req_seq, status, value);
    return s ? 0 : -s.error().code;
}

ssize_t span_member_recv(struct span_member *m, void *buf, size_t cap) {
    if (!buf) return -EINVAL;
    auto r = m->m->try_recv();
    if (!r) return -r.error().code;
    if (!r.value()) return 0;
    const span::Msg &msg = *r.value();
    if (msg.size() > cap) return -EMSGSIZE;
    std::memcpy(buf, msg.data(), msg.size());
    return static_cast<ssize_t>(msg.size());
}

int span_member_prepare_wait(struct span_member *m) {
    return m->m->prepare_wait() ? 1 : 0;
}

uint64_t span_member_rejected(const struct span_member *m) {
    return m->m->stats().rejected;
}

uint32_t span_member_max_members(const struct span_member *m) {
    return m->m->max_members();
}

int span_member_peer_stats(const struct span_member *m, uint32_t peer, struct span_peer_stats *out,
                           size_t size) {
    if (!out) return -EINVAL;
    const span::PeerStats *s = m->m->peer_stats(peer);
    if (!s) return -EINVAL;
    std::memcpy(out, s, std::min(size, sizeof(*s)));
    return 0;
}

void span_member_set_report_threshold(struct span_member *m, uint32_t threshold) {
    m->m->set_report_threshold(threshold);
}

}  // extern "C"
