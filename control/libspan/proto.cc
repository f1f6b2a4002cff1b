#include "span/proto.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "span/validate.h"

namespace span {

Msg Msg::make(uint16_t type, size_t payload_len) {
    size_t len =
        sizeof(span_msg_hdr) + ((payload_len + SPAN_MSG_ALIGN - 1) & ~size_t(SPAN_MSG_ALIGN - 1));
    Msg m;
    m.buf_.assign(len / 8, 0);
    auto &h = m.hdr();
    h.magic = SPAN_MAGIC;
    h.version = SPAN_PROTO_VERSION;
    h.type = type;
    h.len = static_cast<uint32_t>(len);
    return m;
}

Msg Msg::from_bytes(const void *p, size_t len) {
    Msg m;
    m.buf_.assign((len + 7) / 8, 0);
    std::memcpy(m.buf_.data(), p, len);
    if (len < sizeof(span_msg_hdr)) m.buf_.clear();
    return m;
}

void stamp(Msg &m, uint16_t src, uint16_t dst, uint64_t seq, uint32_t flags) {
    auto &h = m.hdr();
    h.magic = SPAN_MAGIC;
    h.version = h.type == SPAN_MSG_HELLO ? h.version : SPAN_PROTO_VERSION;
    h.src = src;
    h.dst = dst;
    h.seq = seq;
    h.flags = flags;
}

Status send_msg(int sock, const Msg &m, std::span<const int> fds) {
    iovec iov{const_cast<uint8_t *>(m.data()), m.size()};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    std::vector<char> cbuf;
    if (!fds.empty()) {
        cbuf.assign(CMSG_SPACE(sizeof(int) * fds.size()), 0);
        mh.msg_control = cbuf.data();
        mh.msg_controllen = cbuf.size();
        cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    for (;;) {
        ssize_t n = ::sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (n == static_cast<ssize_t>(m.size())) return {};
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::sys("sendmsg");
        return Error{EIO, "short sendmsg"};
    }
}

Result<Msg> recv_msg(int sock, std::vector<UniqueFd> *fds, int timeout_ms, Reject *why) {
    if (why) *why = Reject::None;
    if (timeout_ms >= 0) {
        pollfd p{sock, POLLIN, 0};
        int r;
        do r = ::poll(&p, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r < 0) return Error::sys("poll");
        if (r == 0) return Error{ETIMEDOUT, "timed out waiting for spand"};
    }
    // One byte more than the largest message so that oversized datagrams
    // are seen as truncated (MSG_TRUNC) rather than silently cut.
    static thread_local std::vector<uint64_t> buf((SPAN_MSG_MAX + 8) / 8);
    alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * (SPAN_FD_DOORBELL0 + SPAN_MAX_MEMBERS))];
    iovec iov{buf.data(), SPAN_MSG_MAX + 8};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof(cbuf);
    ssize_t n;
    do n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | (timeout_ms >= 0 ? MSG_DONTWAIT : 0));
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN) return Error{EAGAIN, "no message"};
        if (errno == ECONNRESET) return Error{ECONNRESET, "peer hung up"};
        return Error::sys("recvmsg");
    }
    // Collect (or close) every fd received, even for a message we reject.
    for (cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < cnt; i++) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (fds)
                fds->emplace_back(fd);
            else
                ::close(fd);
        }
    }
    if (n == 0) return Error{ECONNRESET, "peer hung up"};
    if ((mh.msg_flags & MSG_TRUNC) || n > SPAN_MSG_MAX) {
        if (why) *why = Reject::Oversized;
        return Error{EBADMSG, "rejected: datagram too long"};
    }
    if (mh.msg_flags & MSG_CTRUNC) return Error{EMSGSIZE, "too many fds"};
    // Validate the exact bytes received, then copy them.
    Reject r = validate_message(buf.data(), static_cast<size_t>(n));
    if (why) *why = r;
    if (r != Reject::None) return Error{EBADMSG, std::string("rejected: ") + reject_str(r)};
    Msg m = Msg::from_bytes(buf.data(), static_cast<size_t>(n));
    return m;
}

Status send_dev(int fd, const Msg &m) {
    ssize_t n;
    do n = ::write(fd, m.data(), m.size());
    while (n < 0 && errno == EINTR);
    if (n < 0) return Error::sys("write to the span device");
    if (static_cast<size_t>(n) != m.size()) return Error{EIO, "short write to the span device"};
    return {};
}

Result<Msg> recv_dev(int fd, int timeout_ms, Reject *why) {
    if (why) *why = Reject::None;
    if (timeout_ms >= 0) {
        pollfd p{fd, POLLIN, 0};
        int r;
        do r = ::poll(&p, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r < 0) return Error::sys("poll");
        if (r == 0) return Error{ETIMEDOUT, "timed out waiting for spand"};
    }
    static thread_local std::vector<uint64_t> buf(SPAN_MSG_MAX / 8);
    ssize_t n;
    do n = ::read(fd, buf.data(), SPAN_MSG_MAX);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN) return Error{EAGAIN, "no message"};
        return Error::sys("read from the span device");
    }
    if (n == 0) return Error{ECONNRESET, "spand hung up"};
    Reject r = validate_message(buf.data(), static_cast<size_t>(n));
    if (why) *why = r;
    if (r != Reject::None) return Error{EBADMSG, std::string("rejected: ") + reject_str(r)};
    return Msg::from_bytes(buf.data(), static_cast<size_t>(n));
}

std::string name_str(const char (&name)[SPAN_NAME_LEN]) {
    return std::string(name, strnlen(name, SPAN_NAME_LEN));
}

void set_name(char (&dst)[SPAN_NAME_LEN], const std::string &src) {
    std::memset(dst, 0, sizeof(dst));
    std::memcpy(dst, src.data(), std::min(src.size(), sizeof(dst) - 1));
}

const char *vm_state_str(uint32_t state) {
    switch (state) {
        case SPAN_VM_RUNNING:
            return "running";
        case SPAN_VM_PAUSED:
            return "paused";
        case SPAN_VM_SHUTDOWN:
            return "shutdown";
    }
    return "unknown";
}

std::string quoted(const std::string &s) {
    std::string o = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') o += '\\';
        o += c;
    }
    return o + "\"";
}

bool parse_u64(const std::string &s, uint64_t &out, bool suffixes) {
    if (s.empty() || s[0] == '-' || s[0] == '+' || std::isspace(static_cast<unsigned char>(s[0])))
        return false;
    char *end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s.c_str(), &end, 0);
    if (errno || end == s.c_str()) return false;
    const std::string suf(end);
    uint64_t mul = 1;
    if (!suf.empty()) {
        static const char units[] = "KMGT";
        const char *u = suffixes && (suf.size() == 1 || suf.substr(1) == "iB")
                            ? std::strchr(units, std::toupper(static_cast<unsigned char>(suf[0])))
                            : nullptr;
        if (!u || !*u) return false;
        mul = 1ull << (10 * (u - units + 1));
    }
    if (v > UINT64_MAX / mul) return false;
    out = v * mul;
    return true;
}

}  // namespace span
