// Socket transport: SCM_RIGHTS, datagram bounds, hostile datagrams.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "span/member.h"
#include "span/proto.h"

using namespace span;

namespace {
struct Pair {
    Pair() {
        int sv[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        a.reset(sv[0]);
        b.reset(sv[1]);
    }
    UniqueFd a, b;
};
}  // namespace

TEST(Proto, SendRecvWithFds) {
    Pair p;
    auto efd = make_eventfd();
    ASSERT_TRUE(efd.ok());
    Msg m = Msg::of(SPAN_MSG_HEARTBEAT, span_heartbeat{5, 6});
    stamp(m, 1, 2, 9);
    int fds[] = {efd->get(), efd->get()};
    ASSERT_TRUE(send_msg(p.a.get(), m, fds).ok());
    std::vector<UniqueFd> got;
    auto r = recv_msg(p.b.get(), &got, 1000);
    ASSERT_TRUE(r.ok()) << r.error().str();
    EXPECT_EQ(r->get<span_heartbeat>().counter, 6u);
    EXPECT_EQ(got.size(), 2u);
    uint64_t one = 1;
    EXPECT_EQ(::write(got[0].get(), &one, 8), 8);  // really the same eventfd
    uint64_t v = 0;
    EXPECT_EQ(::read(efd->get(), &v, 8), 8);
    EXPECT_EQ(v, 1u);
}

TEST(Proto, RejectsHostileDatagrams) {
    Pair p;
    Reject why;
    // Short datagram.
    ASSERT_EQ(::send(p.a.get(), "hello", 5, 0), 5);
    auto r = recv_msg(p.b.get(), nullptr, 1000, &why);
    EXPECT_EQ(r.error().code, EBADMSG);
    EXPECT_EQ(why, Reject::Truncated);
    // Oversized datagram (beyond SPAN_MSG_MAX).
    std::vector<uint8_t> big(SPAN_MSG_MAX + 64, 0);
    Msg m = Msg::of(SPAN_MSG_HEARTBEAT, span_heartbeat{});
    stamp(m, 1, 2, 1);
    std::memcpy(big.data(), m.data(), m.size());
    int sz = 1 << 20;
    setsockopt(p.a.get(), SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    ASSERT_EQ(::send(p.a.get(), big.data(), big.size(), 0), static_cast<ssize_t>(big.size()));
    r = recv_msg(p.b.get(), nullptr, 1000, &why);
    EXPECT_EQ(r.error().code, EBADMSG);
    EXPECT_EQ(why, Reject::Oversized);
    // Length field lies.
    Msg lie = m;
    lie.hdr().len = 64;
    ASSERT_EQ(::send(p.a.get(), lie.data(), 48, 0), 48);
    r = recv_msg(p.b.get(), nullptr, 1000, &why);
    EXPECT_EQ(why, Reject::Truncated);
    // A good one still gets through afterwards.
    ASSERT_TRUE(send_msg(p.a.get(), m).ok());
    r = recv_msg(p.b.get(), nullptr, 1000, &why);
    EXPECT_TRUE(r.ok());
    // Peer gone.
    p.a.reset();
    r = recv_msg(p.b.get(), nullptr, 1000, &why);
    EXPECT_EQ(r.error().code, ECONNRESET);
}

TEST(Proto, Timeout) {
    Pair p;
    auto r = recv_msg(p.b.get(), nullptr, 10);
    EXPECT_EQ(r.error().code, ETIMEDOUT);
}

TEST(Proto, RingTypesAllowed) {
    EXPECT_TRUE(ring_type_allowed(SPAN_MSG_INTERRUPT));
    EXPECT_TRUE(ring_type_allowed(SPAN_MSG_MEM_EVENT));
    EXPECT_TRUE(ring_type_allowed(SPAN_MSG_EOI));
    EXPECT_TRUE(ring_type_allowed(SPAN_MSG_PLACED));  // member to member
    EXPECT_FALSE(ring_type_allowed(SPAN_MSG_HELLO));
    EXPECT_FALSE(ring_type_allowed(SPAN_MSG_CTL_CREATE));
    EXPECT_FALSE(ring_type_allowed(SPAN_MSG_ATTACH));
    EXPECT_FALSE(ring_type_allowed(SPAN_MSG_PEER_REPORT));  // socket only
    EXPECT_FALSE(ring_type_allowed(SPAN_MSG_MEMBER));       // from spand only
    EXPECT_FALSE(ring_type_allowed(SPAN_MSG_MOVE));         // spanctl, spand, host: socket
}

// A request spand sends a member (MOVE) arrives over the socket like
// anything else from spand, and Member::ack() answers it: an ACK echoing
// the request's seq, flagged as a reply, from the member to spand.  spand
// is faked here: it admits a control session (no rings to set up).
TEST(Proto, AnswersSpandsRequestWithAck) {
    char dir[] = "/tmp/member-test.XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    std::string path = std::string(dir) + "/spand.sock";
    UniqueFd lsn(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    ASSERT_EQ(::bind(lsn.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::listen(lsn.get(), 1), 0);
    std::vector<Msg> answers;
    std::thread spand([&] {
        UniqueFd c(::accept4(lsn.get(), nullptr, nullptr, SOCK_CLOEXEC));
        auto hello = recv_msg(c.get(), nullptr, 3000);
        if (!hello) return;
        span_hello_reply hr{};
        hr.version = SPAN_PROTO_VERSION;
        Msg rep = Msg::of(SPAN_MSG_HELLO_REPLY, hr);
        stamp(rep, SPAN_MEMBER_SPAND, 0, hello->hdr().seq, SPAN_F_REPLY);
        Msg mv = Msg::of(SPAN_MSG_MOVE, span_move{3, 1, 0, 0});
        stamp(mv, SPAN_MEMBER_SPAND, 0, 77);
        if (!send_msg(c.get(), rep) || !send_msg(c.get(), mv)) return;
        for (auto r = recv_msg(c.get(), nullptr, 3000); r; r = recv_msg(c.get(), nullptr, 3000))
            answers.push_back(std::move(r.value()));
    });
    std::unique_ptr<Member> m;
    [&] {  // the fake spand is joined however this ends
        ConnectOptions o;
        o.socket_path = path;
        o.role = SPAN_ROLE_CONTROL;
        o.caps = 0;
        auto r = Member::connect(o);
        ASSERT_TRUE(r.ok()) << r.error().str();
        m = std::move(r.value());
        auto mv = m->recv(3000);
        ASSERT_TRUE(mv.ok()) << mv.error().str();
        EXPECT_EQ(mv->type(), SPAN_MSG_MOVE);
        EXPECT_EQ(mv->hdr().seq, 77u);
        EXPECT_EQ(mv->get<span_move>().apic_id, 3u);
        EXPECT_EQ(mv->get<span_move>().member, 1u);
        EXPECT_EQ(m->stats().rejected, 0u);
        EXPECT_EQ(m->ack(77, 1).error().code, EINVAL);  // not a status
        EXPECT_EQ(m->ack(77, -4096).error().code, EINVAL);
        EXPECT_TRUE(m->ack(77, -EBUSY, 5).ok());
        EXPECT_TRUE(m->ack(78, 0).ok());
    }();
    m.reset();                         // hangs up: the fake spand stops reading
    ::shutdown(lsn.get(), SHUT_RDWR);  // unblocks its accept() if nobody came
    spand.join();
    ASSERT_EQ(answers.size(), 2u);
    const Msg &a = answers[0];
    EXPECT_EQ(validate_message(a.data(), a.size()), Reject::None);
    EXPECT_EQ(a.type(), SPAN_MSG_ACK);
    EXPECT_EQ(a.hdr().flags, uint32_t{SPAN_F_REPLY});
    EXPECT_EQ(a.hdr().seq, 77u);
    EXPECT_EQ(a.hdr().src, 0);
    EXPECT_EQ(a.hdr().dst, SPAN_MEMBER_SPAND);
    EXPECT_EQ(a.get<span_ack>().req_seq, 77u);
    EXPECT_EQ(a.get<span_ack>().status, -EBUSY);
    EXPECT_EQ(a.get<span_ack>().value, 5u);
    EXPECT_EQ(answers[1].hdr().seq, 78u);
    EXPECT_EQ(answers[1].get<span_ack>().status, 0);
    ::unlink(path.c_str());
    ::rmdir(dir);
}

TEST(Handles, UniqueFdAndMappingAreMoveOnly) {
    static_assert(!std::is_copy_constructible_v<UniqueFd>);
    static_assert(!std::is_copy_constructible_v<Mapping>);
    auto fd = make_memfd("t", 8192, false);
    ASSERT_TRUE(fd.ok());
    UniqueFd moved = std::move(fd.value());
    EXPECT_FALSE(fd->valid());
    EXPECT_TRUE(moved.valid());
    auto m = Mapping::map_shared(moved.get(), 8192);
    ASSERT_TRUE(m.ok());
    Mapping m2 = std::move(m.value());
    EXPECT_FALSE(m->valid());
    m2.bytes()[0] = 1;
    EXPECT_EQ(fd_size(moved.get()).value(), 8192u);
    EXPECT_NE(::ftruncate(moved.get(), 4096), 0);  // sealed against shrinking
}

TEST(Proto, ParseU64) {
    uint64_t v = 0;
    EXPECT_TRUE(span::parse_u64("42", v, false));
    EXPECT_EQ(v, 42u);
    EXPECT_TRUE(span::parse_u64("0x10", v, false));
    EXPECT_EQ(v, 16u);
    EXPECT_TRUE(span::parse_u64("64M", v, true));
    EXPECT_EQ(v, 64ull << 20);
    EXPECT_TRUE(span::parse_u64("2GiB", v, true));
    EXPECT_EQ(v, 2ull << 30);
    EXPECT_TRUE(span::parse_u64("1t", v, true));
    EXPECT_EQ(v, 1ull << 40);
    v = 7;
    for (const char *bad : {"", "-1", "+1", " 1", "1x", "1MB", "1Mi", "k", "99999999999999999999"})
        EXPECT_FALSE(span::parse_u64(bad, v, true)) << bad;
    EXPECT_FALSE(span::parse_u64("64M", v, false));
    EXPECT_FALSE(span::parse_u64("16777216T", v, true));  // overflows
    EXPECT_EQ(v, 7u);                                     // untouched on failure
}

TEST(Proto, QuotedAndStateNames) {
    EXPECT_EQ(span::quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(span::quoted(""), "\"\"");
    EXPECT_STREQ(span::vm_state_str(SPAN_VM_RUNNING), "running");
    EXPECT_STREQ(span::vm_state_str(SPAN_VM_PAUSED), "paused");
    EXPECT_STREQ(span::vm_state_str(SPAN_VM_SHUTDOWN), "shutdown");
    EXPECT_STREQ(span::vm_state_str(0xdead), "unknown");
}

// Full nesting: a character device path selects the span-pci transport.
// Without a span-pci device, connecting must fail cleanly, never hang.
TEST(Device, ConnectToNonSpanDeviceFails) {
    ConnectOptions opt;
    opt.socket_path = "/dev/null";  // a character device that is not span-pci
    opt.vm_name = "vm";
    opt.member_name = "l1";
    opt.timeout_ms = 200;
    auto r = Member::connect(opt);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ECONNRESET);  // read() of 0: "spand hung up"
    opt.role = SPAN_ROLE_CONTROL;
    r = Member::connect(opt);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, EPERM);  // devices admit members only
}

TEST(Device, SendRecvOverDeviceTransport) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    UniqueFd rd(p[0]), wr(p[1]);
    Msg m = Msg::of(SPAN_MSG_HEARTBEAT, span_heartbeat{5, 6});
    stamp(m, SPAN_MEMBER_SPAND, 1, 3);
    ASSERT_TRUE(send_dev(wr.get(), m).ok());
    auto r = recv_dev(rd.get(), 1000);
    ASSERT_TRUE(r.ok()) << r.error().str();
    EXPECT_EQ(r->get<span_heartbeat>().counter, 6u);
    // Garbage is refused by validation.
    uint64_t junk[8] = {0x1234};
    ASSERT_EQ(::write(wr.get(), junk, sizeof(junk)), (ssize_t)sizeof(junk));
    Reject why;
    r = recv_dev(rd.get(), 1000, &why);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, EBADMSG);
    EXPECT_NE(why, Reject::None);
    r = recv_dev(rd.get(), 0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ETIMEDOUT);
    wr.reset();
    r = recv_dev(rd.get(), 1000);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ECONNRESET);
}

// The relay C ABI used by QEMU's span-pci device.
TEST(Device, RelaySockSendRecv) {
    Pair p;
    auto efd = make_eventfd();
    ASSERT_TRUE(efd.ok());
    Msg m = Msg::of(SPAN_MSG_HEARTBEAT, span_heartbeat{1, 2});
    stamp(m, 1, SPAN_MEMBER_SPAND, 4);
    EXPECT_EQ(span_sock_send(p.a.get(), m.data(), m.size()), 0);
    uint64_t junk[8] = {};
    EXPECT_EQ(span_sock_send(p.a.get(), junk, sizeof(junk)), -EBADMSG);  // never forwarded
    EXPECT_EQ(span_sock_send(p.a.get(), junk, 3), -EINVAL);
    uint64_t buf[SPAN_MSG_MAX / 8];
    size_t nfds = 9;
    EXPECT_EQ(span_sock_recv(p.b.get(), buf, sizeof(buf), nullptr, 0, &nfds, 1000),
              (ssize_t)m.size());
    EXPECT_EQ(nfds, 0u);
    EXPECT_EQ(span_sock_recv(p.b.get(), buf, sizeof(buf), nullptr, 0, nullptr, 0), -EAGAIN);
    // fds: delivered up to max_fds; more is -EMSGSIZE (and they are closed).
    int fds[] = {efd->get(), efd->get()};
    ASSERT_TRUE(send_msg(p.a.get(), m, fds).ok());
    int got[2] = {-1, -1};
    EXPECT_EQ(span_sock_recv(p.b.get(), buf, sizeof(buf), got, 2, &nfds, 1000), (ssize_t)m.size());
    EXPECT_EQ(nfds, 2u);
    for (int fd : got) EXPECT_EQ(::close(fd), 0);
    ASSERT_TRUE(send_msg(p.a.get(), m, fds).ok());
    EXPECT_EQ(span_sock_recv(p.b.get(), buf, sizeof(buf), got, 1, &nfds, 1000), -EMSGSIZE);
    EXPECT_EQ(span_sock_recv(p.b.get(), buf, 16, nullptr, 0, nullptr, 0), -EAGAIN);
    ASSERT_TRUE(send_msg(p.a.get(), m).ok());
    EXPECT_EQ(span_sock_recv(p.b.get(), buf, 16, nullptr, 0, nullptr, 1000), -EMSGSIZE);
    p.a.reset();
    EXPECT_EQ(span_sock_recv(p.b.get(), buf, sizeof(buf), nullptr, 0, nullptr, 1000), -ECONNRESET);
}
