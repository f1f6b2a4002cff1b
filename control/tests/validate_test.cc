// Every validation rejection case, per message type.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

#include "span/proto.h"
#include "span/validate.h"

using namespace span;

namespace {

Msg stamped(Msg m, uint16_t src = 1, uint16_t dst = 2) {
    stamp(m, src, dst, 7);
    return m;
}

template <typename T>
Msg mk(uint16_t type, const T &body, size_t extra = 0, uint16_t src = 1) {
    return stamped(Msg::of(type, body, extra), src);
}

Reject v(const Msg &m) {
    return validate_message(m.data(), m.size());
}

// Applies f to a copy of the payload struct T of m and re-validates.
template <typename T>
Reject mutate(const Msg &m, std::function<void(T &)> f) {
    Msg c = m;
    T t = c.get<T>();
    f(t);
    std::memcpy(c.payload(), &t, sizeof(T));
    return v(c);
}

span_interrupt irq() {
    span_interrupt i{};
    i.dest = 3;
    i.src_apic = 0;
    i.vector = 0x40;
    i.delivery = SPAN_DM_FIXED;
    i.level = 1;
    return i;
}

}  // namespace

TEST(ValidateHeader, Framing) {
    Msg m = mk(SPAN_MSG_HEARTBEAT, span_heartbeat{1, 2});
    EXPECT_EQ(v(m), Reject::None);
    EXPECT_EQ(validate_message(m.data(), 10), Reject::Truncated);
    EXPECT_EQ(validate_message(m.data(), m.size() - 8), Reject::Truncated);
    EXPECT_EQ(validate_message(nullptr, 0), Reject::Truncated);
    std::vector<uint8_t> big(m.size() + 8, 0);
    std::memcpy(big.data(), m.data(), m.size());
    EXPECT_EQ(validate_message(big.data(), big.size()), Reject::Oversized);  // trailing bytes
    std::vector<uint8_t> huge(SPAN_MSG_MAX + 8, 0);
    std::memcpy(huge.data(), m.data(), m.size());
    EXPECT_EQ(validate_message(huge.data(), huge.size()), Reject::Oversized);
    auto hdr = [&](std::function<void(span_msg_hdr &)> f) {
        Msg c = m;
        f(c.hdr());
        return validate_message(c.data(), m.size());
    };
    EXPECT_EQ(hdr([](auto &h) { h.magic = 0x12345678; }), Reject::Magic);
    EXPECT_EQ(hdr([](auto &h) { h.len = 20; }), Reject::Truncated);
    EXPECT_EQ(hdr([](auto &h) { h.len = SPAN_MSG_MAX + 8; }), Reject::Oversized);
    EXPECT_EQ(hdr([](auto &h) { h.len -= 4; }), Reject::Oversized);
    EXPECT_EQ(hdr([](auto &h) { h.version = 2; }), Reject::Version);
    EXPECT_EQ(hdr([](auto &h) { h.version = 0; }), Reject::Version);
    EXPECT_EQ(hdr([](auto &h) { h.type = 0; }), Reject::Type);
    EXPECT_EQ(hdr([](auto &h) { h.type = SPAN_MSG_PAD; }), Reject::Type);
    EXPECT_EQ(hdr([](auto &h) { h.type = SPAN_MSG_TYPE_MAX; }), Reject::Type);
    EXPECT_EQ(hdr([](auto &h) { h.type = 0xffff; }), Reject::Type);
    EXPECT_EQ(hdr([](auto &h) { h.flags = 1u << 7; }), Reject::Flags);
    EXPECT_EQ(hdr([](auto &h) { h.reserved0 = 1; }), Reject::Reserved);
    EXPECT_EQ(hdr([](auto &h) { h.reserved1 = 1; }), Reject::Reserved);
    EXPECT_EQ(hdr([](auto &h) { h.src = SPAN_MAX_MEMBERS; }), Reject::Address);
    EXPECT_EQ(hdr([](auto &h) { h.src = SPAN_MEMBER_BROADCAST; }), Reject::Address);
    EXPECT_EQ(hdr([](auto &h) { h.dst = 100; }), Reject::Address);
    EXPECT_EQ(hdr([](auto &h) { h.dst = h.src; }), Reject::Address);
}

TEST(ValidateHeader, MisalignedLength) {
    std::vector<uint64_t> buf(8, 0);
    Msg m = mk(SPAN_MSG_HEARTBEAT, span_heartbeat{1, 2});
    std::memcpy(buf.data(), m.data(), m.size());
    auto *h = reinterpret_cast<span_msg_hdr *>(buf.data());
    h->len = 52;
    EXPECT_EQ(validate_message(buf.data(), 52), Reject::Misaligned);
}

TEST(ValidateHeader, PayloadSizeMismatchForEveryFixedType) {
    // Each fixed-size type with 8 bytes too few and 8 too many.
    const uint16_t types[] = {
        SPAN_MSG_HELLO,           SPAN_MSG_HELLO_REPLY,     SPAN_MSG_ACK,
        SPAN_MSG_INTERRUPT,       SPAN_MSG_MMIO_REQ,        SPAN_MSG_MMIO_RESP,
        SPAN_MSG_PIO_REQ,         SPAN_MSG_PIO_RESP,        SPAN_MSG_MSI,
        SPAN_MSG_MEM_SUBSCRIBE,   SPAN_MSG_MEM_EVENT,       SPAN_MSG_MEM_REPLY,
        SPAN_MSG_WT_ACK,          SPAN_MSG_WT_INVALIDATE,   SPAN_MSG_ATTACH,
        SPAN_MSG_DETACH,          SPAN_MSG_RESET,           SPAN_MSG_SHUTDOWN,
        SPAN_MSG_HEARTBEAT,       SPAN_MSG_VM_STATE,        SPAN_MSG_CTL_CREATE,
        SPAN_MSG_CTL_DESTROY,     SPAN_MSG_CTL_SHOW,        SPAN_MSG_CTL_VM_INFO,
        SPAN_MSG_CTL_MEMBER_INFO, SPAN_MSG_CTL_SUB_INFO,    SPAN_MSG_TOPOLOGY_GET,
        SPAN_MSG_CTL_LIST,        SPAN_MSG_MEM_UNSUBSCRIBE, SPAN_MSG_TOPOLOGY,
        SPAN_MSG_WT_PUBLISH,      SPAN_MSG_VCPU_STATE,      SPAN_MSG_PEER_REPORT,
        SPAN_MSG_IOEVENTFD,       SPAN_MSG_PLACED,          SPAN_MSG_MOVE};
    for (uint16_t t : types) {
        uint16_t dst = t == SPAN_MSG_PEER_REPORT || t == SPAN_MSG_MOVE ? SPAN_MEMBER_SPAND : 2;
        Msg m = stamped(Msg::make(t, 128 + 8), 1, dst);  // no fixed type has 136 bytes
        EXPECT_NE(v(m), Reject::None) << span_msg_type_str(t);
        Msg e = stamped(Msg::make(t, 0), 1, dst);
        if (t != SPAN_MSG_TOPOLOGY_GET && t != SPAN_MSG_CTL_LIST)
            EXPECT_EQ(v(e), Reject::Size) << span_msg_type_str(t);
        else
            EXPECT_EQ(v(e), Reject::None);
    }
}

TEST(Validate, Hello) {
    span_hello h{};
    h.version_min = 1;
    h.version_max = 1;
    h.role = SPAN_ROLE_MEMBER;
    h.caps = SPAN_CAP_RINGS;
    set_name(h.vm_name, "vm1");
    set_name(h.member_name, "l1-a.0_x");
    Msg m = mk(SPAN_MSG_HELLO, h);
    EXPECT_EQ(v(m), Reject::None);
    Msg future = m;
    future.hdr().version = 9;  // HELLO may come from a newer peer
    EXPECT_EQ(v(future), Reject::None);
    EXPECT_EQ(mutate<span_hello>(m, [](auto &x) { x.reserved = 1; }), Reject::Reserved);
    EXPECT_EQ(mutate<span_hello>(m, [](auto &x) { x.reserved2 = 1; }), Reject::Reserved);
    EXPECT_EQ(mutate<span_hello>(m, [](auto &x) { x.version_min = 0; }), Reject::Version);
    EXPECT_EQ(mutate<span_hello>(m, [](auto &x) { x.version_min = 3, x.version_max = 2; }),
              Reject::Version);
    EXPECT_EQ(mutate<span_hello>(m, [](auto &x) { x.role = 7; }), Reject::Field);
    EXPECT_EQ(mutate<span_hello>(m, [](auto &x) { x.caps = 1u << 20; }), Reject::Field);
    EXPECT_EQ(mutate<span_hello>(m, [](auto &x) { x.vm_name[0] = 0; }), Reject::Name);
    EXPECT_EQ(mutate<span_hello>(m, [](auto &x) { x.member_name[0] = 0; }), Reject::Name);
    EXPECT_EQ(mutate<span_hello>(m, [](auto &x) { x.vm_name[1] = '/'; }), Reject::Name);
    EXPECT_EQ(mutate<span_hello>(m, [](auto &x) { x.vm_name[0] = '.'; }), Reject::Name);
    EXPECT_EQ(mutate<span_hello>(m, [](auto &x) { std::memset(x.vm_name, 'a', 32); }),
              Reject::Name);
    EXPECT_EQ(mutate<span_hello>(m, [](auto &x) { x.vm_name[10] = 'z'; }),
              Reject::Name);  // junk after NUL
    EXPECT_EQ(mutate<span_hello>(m,
                                 [](auto &x) {
                                     x.role = SPAN_ROLE_CONTROL;
                                     std::memset(x.member_name, 0, 32);
                                     std::memset(x.vm_name, 0, 32);
                                 }),
              Reject::None);
    Msg old = m;
    old.hdr().version = 0;
    EXPECT_EQ(v(old), Reject::Version);
}

TEST(Validate, HelloReply) {
    span_hello_reply r{};
    r.version = 1;
    r.member_id = 1;
    r.vm_id = 1;
    r.mem_size = 1 << 20;
    r.ring_size = 4096;
    r.max_members = 4;
    r.chan_size = chan_size(4, 4096);
    r.nr_fds = 6;
    Msg m = mk(SPAN_MSG_HELLO_REPLY, r, 0, SPAN_MEMBER_SPAND);
    EXPECT_EQ(v(m), Reject::None);
    EXPECT_EQ(mutate<span_hello_reply>(m, [](auto &x) { x.reserved = 1; }), Reject::Reserved);
    EXPECT_EQ(mutate<span_hello_reply>(m, [](auto &x) { x.status = 5; }), Reject::Field);
    EXPECT_EQ(mutate<span_hello_reply>(m, [](auto &x) { x.status = -ENOENT; }),
              Reject::Count);  // fds with error
    EXPECT_EQ(mutate<span_hello_reply>(m, [](auto &x) { x.status = -ENOENT, x.nr_fds = 0; }),
              Reject::None);
    EXPECT_EQ(mutate<span_hello_reply>(m, [](auto &x) { x.version = 2; }), Reject::Version);
    EXPECT_EQ(mutate<span_hello_reply>(m, [](auto &x) { x.flags = 8; }), Reject::Field);
    EXPECT_EQ(mutate<span_hello_reply>(m, [](auto &x) { x.max_members = 17; }), Reject::Count);
    EXPECT_EQ(mutate<span_hello_reply>(m, [](auto &x) { x.member_id = 4; }), Reject::Address);
    EXPECT_EQ(mutate<span_hello_reply>(m, [](auto &x) { x.ring_size = 5000; }), Reject::Range);
    EXPECT_EQ(mutate<span_hello_reply>(m, [](auto &x) { x.mem_size = 100; }), Reject::Range);
    EXPECT_EQ(mutate<span_hello_reply>(m, [](auto &x) { x.chan_size += 4096; }), Reject::Range);
    EXPECT_EQ(mutate<span_hello_reply>(m, [](auto &x) { x.nr_fds = 3; }), Reject::Count);
    // span-pci (full nesting): resources in the device, no fds.
    EXPECT_EQ(mutate<span_hello_reply>(m,
                                       [](auto &x) {
                                           x.flags = SPAN_VM_IN_DEVICE;
                                           x.nr_fds = 0;
                                       }),
              Reject::None);
    EXPECT_EQ(mutate<span_hello_reply>(m, [](auto &x) { x.flags = SPAN_VM_IN_DEVICE; }),
              Reject::Count);
    EXPECT_EQ(mutate<span_hello_reply>(m,
                                       [](auto &x) {
                                           x = {};
                                           x.version = 1;
                                           x.vm_id = 3;
                                       }),
              Reject::None);
    EXPECT_EQ(mutate<span_hello_reply>(m,
                                       [](auto &x) {
                                           x = {};
                                           x.version = 1;
                                           x.nr_fds = 2;
                                       }),
              Reject::Field);
    EXPECT_EQ(mutate<span_hello_reply>(m,
                                       [](auto &x) {
                                           x = {};
                                           x.version = 1;
                                           x.flags = SPAN_VM_IN_DEVICE;
                                       }),
              Reject::Field);  // control sessions have no device
}

TEST(Validate, Ack) {
    Msg m = Msg::of(SPAN_MSG_ACK, span_ack{7, -EBUSY, 0, 42});
    stamp(m, SPAN_MEMBER_SPAND, 0, 7, SPAN_F_REPLY);
    EXPECT_EQ(v(m), Reject::None);
    EXPECT_EQ(mutate<span_ack>(m, [](auto &x) { x.reserved = 1; }), Reject::Reserved);
    EXPECT_EQ(mutate<span_ack>(m, [](auto &x) { x.status = 1; }), Reject::Field);
    EXPECT_EQ(mutate<span_ack>(m, [](auto &x) { x.status = -100000; }), Reject::Field);
    EXPECT_EQ(mutate<span_ack>(m, [](auto &x) { x.req_seq = 8; }), Reject::Field);
    Msg nr = m;
    nr.hdr().flags = 0;
    EXPECT_EQ(v(nr), Reject::Flags);
}

TEST(Validate, Topology) {
    auto build = [](std::vector<span_topo_entry> vc, std::vector<span_topo_entry> dv) {
        span_topology t{5, static_cast<uint32_t>(vc.size()), static_cast<uint32_t>(dv.size())};
        Msg m = Msg::of(SPAN_MSG_TOPOLOGY, t, (vc.size() + dv.size()) * 8);
        size_t off = sizeof(t);
        for (auto *l : {&vc, &dv})
            for (auto &e : *l) std::memcpy(m.payload() + off, &e, 8), off += 8;
        return stamped(std::move(m), SPAN_MEMBER_SPAND);
    };
    EXPECT_EQ(v(build({{0, 0}, {1, 1}}, {{7, 0}})), Reject::None);
    EXPECT_EQ(v(build({{0, 0}, {0, 1}}, {})), Reject::Duplicate);
    EXPECT_EQ(v(build({}, {{3, 0}, {3, 0}})), Reject::Duplicate);
    EXPECT_EQ(v(build({{0, 0}}, {{0, 0}})), Reject::None);  // ids unique per list
    EXPECT_EQ(v(build({{0, 16}}, {})), Reject::Address);
    EXPECT_EQ(v(build({{SPAN_APIC_NONE, 0}}, {})), Reject::Field);
    Msg m = build({{0, 0}}, {});
    EXPECT_EQ(mutate<span_topology>(m, [](auto &x) { x.nr_vcpus = 2; }), Reject::Size);
    EXPECT_EQ(mutate<span_topology>(m, [](auto &x) { x.nr_vcpus = SPAN_MAX_VCPUS + 1; }),
              Reject::Count);
    EXPECT_EQ(mutate<span_topology>(m, [](auto &x) { x.nr_devices = SPAN_MAX_DEVICES + 1; }),
              Reject::Count);
    EXPECT_EQ(mutate<span_topology>(m, [](auto &x) { x.nr_vcpus = 0xffffffff; }), Reject::Count);
    EXPECT_EQ(v(stamped(Msg::make(SPAN_MSG_TOPOLOGY, 8))), Reject::Size);
}

TEST(Validate, Interrupt) {
    Msg m = mk(SPAN_MSG_INTERRUPT, irq());
    EXPECT_EQ(v(m), Reject::None);
    using I = span_interrupt;
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.reserved = 1; }), Reject::Reserved);
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.vector = 15; }), Reject::Field);
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.delivery = SPAN_DM_LOWEST, x.vector = 3; }),
              Reject::Field);
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.delivery = 2; }), Reject::Field);  // SMI not forwarded
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.delivery = 7; }), Reject::Field);
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.delivery = SPAN_DM_NMI; }),
              Reject::Field);  // vector must be 0
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.delivery = SPAN_DM_NMI, x.vector = 0; }), Reject::None);
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.delivery = SPAN_DM_INIT, x.vector = 0; }), Reject::None);
    EXPECT_EQ(mutate<I>(m,
                        [](auto &x) {
                            x.delivery = SPAN_DM_INIT, x.vector = 0, x.trigger = 1, x.level = 0;
                        }),
              Reject::None);
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.level = 0; }), Reject::Field);  // edge de-assert
    // KVM's PV kick: one physical APIC ID, no vector, edge
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.delivery = SPAN_DM_REMRD, x.vector = 0; }),
              Reject::None);
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.delivery = SPAN_DM_REMRD; }), Reject::Field);
    EXPECT_EQ(mutate<I>(m,
                        [](auto &x) {
                            x.delivery = SPAN_DM_REMRD, x.vector = 0,
                            x.dest_mode = SPAN_DEST_LOGICAL;
                        }),
              Reject::Field);
    EXPECT_EQ(mutate<I>(m,
                        [](auto &x) {
                            x.delivery = SPAN_DM_REMRD, x.vector = 0, x.dest = 0,
                            x.shorthand = SPAN_SH_ALL_EXCL;
                        }),
              Reject::Field);
    EXPECT_EQ(
        mutate<I>(m, [](auto &x) { x.delivery = SPAN_DM_REMRD, x.vector = 0, x.trigger = 1; }),
        Reject::Field);
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.delivery = SPAN_DM_SIPI, x.vector = 0x9a; }),
              Reject::None);
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.dest_mode = 2; }), Reject::Field);
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.shorthand = 4; }), Reject::Field);
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.trigger = 2; }), Reject::Field);
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.level = 2; }), Reject::Field);
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.x2apic = 2; }), Reject::Field);
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.dest = 0x100; }), Reject::Range);  // xAPIC: 8-bit
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.dest = 0x100, x.x2apic = 1; }), Reject::None);
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.dest = 0xff, x.dest_mode = SPAN_DEST_LOGICAL; }),
              Reject::None);
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.shorthand = SPAN_SH_SELF, x.dest = 0; }), Reject::None);
    EXPECT_EQ(mutate<I>(m, [](auto &x) { x.shorthand = SPAN_SH_SELF; }),
              Reject::Field);  // dest must be 0
    EXPECT_EQ(mutate<I>(m,
                        [](auto &x) {
                            x.shorthand = SPAN_SH_SELF, x.dest = 0, x.delivery = SPAN_DM_NMI,
                            x.vector = 0;
                        }),
              Reject::Field);
    EXPECT_EQ(mutate<I>(m,
                        [](auto &x) {
                            x.shorthand = SPAN_SH_ALL_INCL, x.dest = 0, x.delivery = SPAN_DM_LOWEST;
                        }),
              Reject::Field);
    EXPECT_EQ(mutate<I>(m,
                        [](auto &x) {
                            x.shorthand = SPAN_SH_ALL_EXCL, x.dest = 0, x.delivery = SPAN_DM_INIT,
                            x.vector = 0;
                        }),
              Reject::None);
}

TEST(Validate, MmioAndPio) {
    span_io_req r{};
    r.id = 1;
    r.addr = 0xfebf0000;
    r.data = 0xdeadbeef;
    r.vcpu = 0;
    r.device = 3;
    r.size = 4;
    r.is_write = 1;
    Msg m = mk(SPAN_MSG_MMIO_REQ, r);
    EXPECT_EQ(v(m), Reject::None);
    using R = span_io_req;
    EXPECT_EQ(mutate<R>(m, [](auto &x) { x.flags = 2; }), Reject::Reserved);
    EXPECT_EQ(mutate<R>(m, [](auto &x) { x.reserved2 = 1; }), Reject::Reserved);
    // posted writes: no vCPU needed, never a read
    EXPECT_EQ(mutate<R>(m, [](auto &x) { x.flags = SPAN_IO_F_POSTED; }), Reject::None);
    EXPECT_EQ(mutate<R>(m, [](auto &x) { x.flags = SPAN_IO_F_POSTED, x.vcpu = SPAN_APIC_NONE; }),
              Reject::None);
    EXPECT_EQ(mutate<R>(m, [](auto &x) { x.flags = SPAN_IO_F_POSTED, x.is_write = 0, x.data = 0; }),
              Reject::Field);
    EXPECT_EQ(mutate<R>(m, [](auto &x) { x.is_write = 2; }), Reject::Field);
    EXPECT_EQ(mutate<R>(m, [](auto &x) { x.size = 3; }), Reject::Field);
    EXPECT_EQ(mutate<R>(m, [](auto &x) { x.size = 0; }), Reject::Field);
    EXPECT_EQ(mutate<R>(m, [](auto &x) { x.size = 8, x.data = ~0ull; }), Reject::None);
    EXPECT_EQ(mutate<R>(m, [](auto &x) { x.vcpu = SPAN_APIC_NONE; }), Reject::Field);
    EXPECT_EQ(mutate<R>(m, [](auto &x) { x.addr = SPAN_GPA_LIMIT - 2; }), Reject::Range);
    EXPECT_EQ(mutate<R>(m, [](auto &x) { x.addr = ~0ull - 1; }), Reject::Range);
    EXPECT_EQ(mutate<R>(m, [](auto &x) { x.is_write = 0; }),
              Reject::Field);  // read carries no data
    EXPECT_EQ(mutate<R>(m, [](auto &x) { x.data = 1ull << 32; }), Reject::Range);
    EXPECT_EQ(mutate<R>(m, [](auto &x) { x.size = 1, x.data = 0x100; }), Reject::Range);
    Msg p = mk(SPAN_MSG_PIO_REQ, r);
    EXPECT_EQ(mutate<R>(p, [](auto &x) { x.addr = 0xcf8; }), Reject::None);
    EXPECT_EQ(mutate<R>(p, [](auto &x) { x.addr = 0xfffe; }), Reject::Range);  // crosses 64K
    EXPECT_EQ(mutate<R>(p, [](auto &x) { x.addr = 0x10000; }), Reject::Range);
    EXPECT_EQ(mutate<R>(p, [](auto &x) { x.addr = 0x60, x.size = 8; }), Reject::Field);
    Msg resp = mk(SPAN_MSG_MMIO_RESP, span_io_resp{1, 5, 0, 0});
    EXPECT_EQ(v(resp), Reject::None);
    EXPECT_EQ(mutate<span_io_resp>(resp, [](auto &x) { x.reserved = 1; }), Reject::Reserved);
    EXPECT_EQ(mutate<span_io_resp>(resp, [](auto &x) { x.status = 3; }), Reject::Field);
    EXPECT_EQ(mutate<span_io_resp>(resp, [](auto &x) { x.status = -EIO; }),
              Reject::Field);  // error with data
    EXPECT_EQ(mutate<span_io_resp>(resp, [](auto &x) { x.status = -EIO, x.data = 0; }),
              Reject::None);
    Msg presp = mk(SPAN_MSG_PIO_RESP, span_io_resp{1, 1ull << 32, 0, 0});
    EXPECT_EQ(v(presp), Reject::Range);
}

TEST(Validate, Ioeventfd) {
    span_ioeventfd e{};
    e.addr = 0xfe003000;
    e.device = SPAN_DEVICE_NONE;
    e.op = SPAN_IOEVENTFD_ADD;
    e.size = 0;
    Msg m = mk(SPAN_MSG_IOEVENTFD, e);
    EXPECT_EQ(v(m), Reject::None);
    using E = span_ioeventfd;
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.op = SPAN_IOEVENTFD_DEL; }), Reject::None);
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.op = 0; }), Reject::Field);
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.op = 3; }), Reject::Field);
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.reserved = 1; }), Reject::Reserved);
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.flags = 4; }), Reject::Reserved);
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.data = 1; }), Reject::Field);  // no datamatch
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.flags = SPAN_IOEVENTFD_F_DATAMATCH; }),
              Reject::Field);  // datamatch needs a size
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.size = 3; }), Reject::Field);
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.size = 8; }), Reject::None);
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.addr = SPAN_GPA_LIMIT; }), Reject::Range);
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.addr = SPAN_GPA_LIMIT - 4, x.size = 8; }),
              Reject::Range);
    EXPECT_EQ(
        mutate<E>(
            m, [](auto &x) { x.flags = SPAN_IOEVENTFD_F_DATAMATCH, x.size = 2, x.data = 0x1ffff; }),
        Reject::Range);
    EXPECT_EQ(
        mutate<E>(
            m, [](auto &x) { x.flags = SPAN_IOEVENTFD_F_DATAMATCH, x.size = 2, x.data = 0xffff; }),
        Reject::None);
    // ports: legacy virtio-pci notifies by queue number at a 16-bit port
    EXPECT_EQ(mutate<E>(m,
                        [](auto &x) {
                            x.flags = SPAN_IOEVENTFD_F_PIO | SPAN_IOEVENTFD_F_DATAMATCH,
                            x.addr = 0xc050, x.size = 2, x.data = 1;
                        }),
              Reject::None);
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.flags = SPAN_IOEVENTFD_F_PIO, x.addr = 0xc050; }),
              Reject::Field);  // any-size is MMIO only
    EXPECT_EQ(
        mutate<E>(m, [](auto &x) { x.flags = SPAN_IOEVENTFD_F_PIO, x.addr = 0xfffe, x.size = 4; }),
        Reject::Range);
    EXPECT_EQ(
        mutate<E>(m, [](auto &x) { x.flags = SPAN_IOEVENTFD_F_PIO, x.addr = 0x60, x.size = 8; }),
        Reject::Field);
}

TEST(Validate, MemberEvent) {
    span_member_event e{};
    e.member = 2;
    e.event = SPAN_MEMBER_LEFT;
    e.reason = SPAN_LEFT_CLOSED;
    std::strcpy(e.name, "l1a");
    Msg m = mk(SPAN_MSG_MEMBER, e, 0, SPAN_MEMBER_SPAND);
    EXPECT_EQ(v(m), Reject::None);
    EXPECT_EQ(v(mk(SPAN_MSG_MEMBER, e)), Reject::Address);  // only spand says so
    using E = span_member_event;
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.event = SPAN_MEMBER_JOINED; }), Reject::Field);
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.event = SPAN_MEMBER_JOINED, x.reason = 0; }),
              Reject::None);
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.event = 3; }), Reject::Field);
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.reason = SPAN_LEFT_NONE; }), Reject::Field);
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.reason = SPAN_LEFT_MAX; }), Reject::Field);
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.member = SPAN_MAX_MEMBERS; }), Reject::Address);
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.name[0] = 0; }), Reject::Name);
    EXPECT_EQ(mutate<E>(m, [](auto &x) { std::memset(x.name, 'a', sizeof(x.name)); }),
              Reject::Name);  // no NUL
    EXPECT_EQ(mutate<E>(m, [](auto &x) { x.name[1] = '/'; }), Reject::Name);
    EXPECT_EQ(span_validate_payload(SPAN_MSG_MEMBER, &e, sizeof(e)), SPAN_REJECT_NONE);
}

// PLACED, member to member: the generation of a TOPOLOGY applied or the
// APIC ID of a vCPU that arrived, never both, never neither.
TEST(Validate, Placed) {
    Msg m = mk(SPAN_MSG_PLACED, span_placed{7, SPAN_APIC_NONE, 0});
    EXPECT_EQ(v(m), Reject::None);
    using P = span_placed;
    EXPECT_EQ(mutate<P>(m, [](auto &x) { x.generation = ~0ull; }), Reject::None);
    EXPECT_EQ(mutate<P>(m, [](auto &x) { x.generation = 0, x.arrived = 3; }), Reject::None);
    EXPECT_EQ(mutate<P>(m, [](auto &x) { x.generation = 0, x.arrived = 0; }), Reject::None);
    EXPECT_EQ(mutate<P>(m, [](auto &x) { x.arrived = 3; }), Reject::Field);     // both
    EXPECT_EQ(mutate<P>(m, [](auto &x) { x.generation = 0; }), Reject::Field);  // neither
    EXPECT_EQ(mutate<P>(m, [](auto &x) { x.reserved = 1; }), Reject::Reserved);
    EXPECT_EQ(mutate<P>(m, [](auto &x) { x.reserved = 0x80000000u; }), Reject::Reserved);
    // Envelope: from a member (to a member), never from spand, never a reply.
    EXPECT_EQ(v(mk(SPAN_MSG_PLACED, span_placed{7, SPAN_APIC_NONE, 0}, 0, 0)), Reject::None);
    EXPECT_EQ(v(mk(SPAN_MSG_PLACED, span_placed{7, SPAN_APIC_NONE, 0}, 0, SPAN_MEMBER_SPAND)),
              Reject::Address);
    Msg c = m;
    c.hdr().flags = SPAN_F_REPLY;
    EXPECT_EQ(v(c), Reject::Address);
    c.hdr().flags = SPAN_F_MORE;
    EXPECT_EQ(v(c), Reject::Address);
    // Fixed size.
    EXPECT_EQ(v(mk(SPAN_MSG_PLACED, span_eoi{})), Reject::Size);
    EXPECT_EQ(v(mk(SPAN_MSG_PLACED, span_ack{})), Reject::Size);
    span_placed p{0, 5, 0};
    EXPECT_EQ(span_validate_payload(SPAN_MSG_PLACED, &p, sizeof(p)), SPAN_REJECT_NONE);
    p.arrived = SPAN_APIC_NONE;
    EXPECT_EQ(span_validate_payload(SPAN_MSG_PLACED, &p, sizeof(p)), SPAN_REJECT_FIELD);
    EXPECT_STREQ(span_msg_type_str(SPAN_MSG_PLACED), "placed");
}

// MOVE, spanctl to spand and spand to the vCPU's host: a vCPU and a member
// slot, nothing else; a request to or from spand, never between members,
// never a reply.
TEST(Validate, Move) {
    Msg m = stamped(Msg::of(SPAN_MSG_MOVE, span_move{7, 2, 0, 0}), 0, SPAN_MEMBER_SPAND);
    EXPECT_EQ(v(m), Reject::None);
    using M = span_move;
    EXPECT_EQ(mutate<M>(m, [](auto &x) { x.apic_id = 0; }), Reject::None);
    EXPECT_EQ(mutate<M>(m, [](auto &x) { x.apic_id = SPAN_APIC_NONE - 1; }), Reject::None);
    EXPECT_EQ(mutate<M>(m, [](auto &x) { x.member = 0; }), Reject::None);
    EXPECT_EQ(mutate<M>(m, [](auto &x) { x.member = SPAN_MAX_MEMBERS - 1; }), Reject::None);
    EXPECT_EQ(mutate<M>(m, [](auto &x) { x.apic_id = SPAN_APIC_NONE; }), Reject::Field);
    EXPECT_EQ(mutate<M>(m, [](auto &x) { x.member = SPAN_MAX_MEMBERS; }), Reject::Address);
    EXPECT_EQ(mutate<M>(m, [](auto &x) { x.member = SPAN_MEMBER_SELF; }), Reject::Address);
    EXPECT_EQ(mutate<M>(m, [](auto &x) { x.member = SPAN_MEMBER_SPAND; }), Reject::Address);
    EXPECT_EQ(mutate<M>(m, [](auto &x) { x.member = SPAN_MEMBER_NONE; }), Reject::Address);
    EXPECT_EQ(mutate<M>(m, [](auto &x) { x.flags = 1; }), Reject::Reserved);
    EXPECT_EQ(mutate<M>(m, [](auto &x) { x.flags = 0x80000000u; }), Reject::Reserved);
    EXPECT_EQ(mutate<M>(m, [](auto &x) { x.reserved = 1; }), Reject::Reserved);
    // Envelope: to spand (from spanctl, or a member spand refuses), or from
    // spand to one member slot; never member to member, never broadcast.
    EXPECT_EQ(v(stamped(m, 3, SPAN_MEMBER_SPAND)), Reject::None);
    EXPECT_EQ(v(stamped(m, SPAN_MEMBER_SPAND, 3)), Reject::None);
    EXPECT_EQ(v(stamped(m, SPAN_MEMBER_SPAND, 0)), Reject::None);
    EXPECT_EQ(v(stamped(m, 0, 1)), Reject::Address);
    EXPECT_EQ(v(stamped(m, 1, 0)), Reject::Address);
    EXPECT_EQ(v(stamped(m, 0, SPAN_MEMBER_BROADCAST)), Reject::Address);
    EXPECT_EQ(v(stamped(m, SPAN_MEMBER_SPAND, SPAN_MEMBER_BROADCAST)), Reject::Address);
    // A request: no SPAN_F_* flags.
    Msg c = m;
    c.hdr().flags = SPAN_F_REPLY;
    EXPECT_EQ(v(c), Reject::Flags);
    c.hdr().flags = SPAN_F_MORE;
    EXPECT_EQ(v(c), Reject::Flags);
    c = stamped(m, SPAN_MEMBER_SPAND, 2);
    c.hdr().flags = SPAN_F_REPLY;
    EXPECT_EQ(v(c), Reject::Flags);
    // Fixed size.
    EXPECT_EQ(v(stamped(Msg::of(SPAN_MSG_MOVE, span_eoi{}), 0, SPAN_MEMBER_SPAND)), Reject::Size);
    EXPECT_EQ(v(stamped(Msg::of(SPAN_MSG_MOVE, span_ack{}), 0, SPAN_MEMBER_SPAND)), Reject::Size);
    EXPECT_EQ(validate_message(m.data(), m.size() - 8), Reject::Truncated);
    // The payload alone, framed as a request to spand.
    span_move p{1, 3, 0, 0};
    EXPECT_EQ(span_validate_payload(SPAN_MSG_MOVE, &p, sizeof(p)), SPAN_REJECT_NONE);
    p.apic_id = SPAN_APIC_NONE;
    EXPECT_EQ(span_validate_payload(SPAN_MSG_MOVE, &p, sizeof(p)), SPAN_REJECT_FIELD);
    EXPECT_STREQ(span_msg_type_str(SPAN_MSG_MOVE), "move");
}

TEST(Validate, Eoi) {
    Msg m = mk(SPAN_MSG_EOI, span_eoi{0x21, 0});
    EXPECT_EQ(v(m), Reject::None);
    EXPECT_EQ(mutate<span_eoi>(m, [](auto &x) { x.vector = 255; }), Reject::None);
    EXPECT_EQ(mutate<span_eoi>(m, [](auto &x) { x.vector = 15; }), Reject::Field);  // exceptions
    EXPECT_EQ(mutate<span_eoi>(m, [](auto &x) { x.vector = 256; }), Reject::Field);
    EXPECT_EQ(mutate<span_eoi>(m, [](auto &x) { x.vector = 0xffffffffu; }), Reject::Field);
    EXPECT_EQ(mutate<span_eoi>(m, [](auto &x) { x.reserved = 1; }), Reject::Reserved);
    span_msg_hdr h{};
    uint32_t half = 0x21;
    EXPECT_EQ(validate_eoi(h, reinterpret_cast<const uint8_t *>(&half), sizeof(half)),
              Reject::Size);
}

TEST(Validate, Msi) {
    Msg m = mk(SPAN_MSG_MSI, span_msi{0xfee01000, 0x4041, 2});
    EXPECT_EQ(v(m), Reject::None);
    EXPECT_EQ(mutate<span_msi>(m, [](auto &x) { x.addr = 0xfec00000; }), Reject::Range);
    EXPECT_EQ(mutate<span_msi>(m, [](auto &x) { x.addr = 0xfee00000 | (1ull << 60); }),
              Reject::Range);
    EXPECT_EQ(mutate<span_msi>(m, [](auto &x) { x.addr = 0xfee00000 | (5ull << 32); }),
              Reject::None);
    EXPECT_EQ(mutate<span_msi>(m, [](auto &x) { x.data = 0x10000; }), Reject::Reserved);
}

TEST(Validate, MemoryEvents) {
    Msg s = mk(SPAN_MSG_MEM_SUBSCRIBE,
               span_mem_subscribe{0, 0x100, 16, SPAN_ACCESS_WRITE, SPAN_MEMBER_SELF});
    EXPECT_EQ(v(s), Reject::None);
    using S = span_mem_subscribe;
    EXPECT_EQ(mutate<S>(s, [](auto &x) { x.sub_id = 1; }),
              Reject::Field);  // members don't pick ids
    EXPECT_EQ(mutate<S>(s, [](auto &x) { x.nr_pages = 0; }), Reject::Range);
    EXPECT_EQ(mutate<S>(s, [](auto &x) { x.gfn = SPAN_GFN_LIMIT - 1, x.nr_pages = 2; }),
              Reject::Range);
    EXPECT_EQ(mutate<S>(s, [](auto &x) { x.gfn = ~0ull, x.nr_pages = 2; }), Reject::Range);
    EXPECT_EQ(mutate<S>(s, [](auto &x) { x.access = 0; }), Reject::Field);
    EXPECT_EQ(mutate<S>(s, [](auto &x) { x.access = 8; }), Reject::Field);
    EXPECT_EQ(mutate<S>(s, [](auto &x) { x.member = 99; }), Reject::Address);
    Msg fromd = mk(SPAN_MSG_MEM_SUBSCRIBE, span_mem_subscribe{3, 0x100, 16, SPAN_ACCESS_WRITE, 1},
                   0, SPAN_MEMBER_SPAND);
    EXPECT_EQ(v(fromd), Reject::None);
    EXPECT_EQ(mutate<S>(fromd, [](auto &x) { x.sub_id = 0; }), Reject::Field);
    EXPECT_EQ(mutate<S>(fromd, [](auto &x) { x.member = SPAN_MEMBER_SELF; }), Reject::Field);

    EXPECT_EQ(v(mk(SPAN_MSG_MEM_UNSUBSCRIBE, span_mem_unsubscribe{3})), Reject::None);
    EXPECT_EQ(v(mk(SPAN_MSG_MEM_UNSUBSCRIBE, span_mem_unsubscribe{0})), Reject::Field);

    Msg e = mk(SPAN_MSG_MEM_EVENT, span_mem_event{1, 3, 0x100008, SPAN_ACCESS_WRITE, 2});
    EXPECT_EQ(v(e), Reject::None);
    using E = span_mem_event;
    EXPECT_EQ(mutate<E>(e, [](auto &x) { x.sub_id = 0; }), Reject::Field);
    EXPECT_EQ(mutate<E>(e, [](auto &x) { x.gpa = SPAN_GPA_LIMIT; }), Reject::Range);
    EXPECT_EQ(mutate<E>(e, [](auto &x) { x.access = SPAN_ACCESS_WRITE | SPAN_ACCESS_READ; }),
              Reject::Field);
    EXPECT_EQ(mutate<E>(e, [](auto &x) { x.access = 0; }), Reject::Field);
    EXPECT_EQ(mutate<E>(e, [](auto &x) { x.access = 16; }), Reject::Field);
    EXPECT_EQ(mutate<E>(e, [](auto &x) { x.vcpu = SPAN_APIC_NONE; }), Reject::Field);

    Msg r = mk(SPAN_MSG_MEM_REPLY, span_mem_reply{1, 3, SPAN_MEM_DENY, SPAN_MEM_DROP, 0, 0});
    EXPECT_EQ(v(r), Reject::None);
    using RR = span_mem_reply;
    EXPECT_EQ(mutate<RR>(r, [](auto &x) { x.reserved = 1; }), Reject::Reserved);
    EXPECT_EQ(mutate<RR>(r, [](auto &x) { x.reserved2 = 1; }), Reject::Reserved);
    EXPECT_EQ(mutate<RR>(r, [](auto &x) { x.sub_id = 0; }), Reject::Field);
    EXPECT_EQ(mutate<RR>(r, [](auto &x) { x.action = 2; }), Reject::Field);
    EXPECT_EQ(mutate<RR>(r, [](auto &x) { x.keep = 2; }), Reject::Field);
}

TEST(Validate, WriteTracking) {
    auto pub = [](uint32_t nr, uint32_t claimed, uint32_t op = SPAN_WT_ADD, uint64_t gen = 1) {
        span_wt_publish p{gen, claimed, op};
        Msg m = Msg::of(SPAN_MSG_WT_PUBLISH, p, nr * sizeof(span_gfn_range));
        for (uint32_t i = 0; i < nr; i++) {
            span_gfn_range r{i * 100ull, 10};
            std::memcpy(m.payload() + sizeof(p) + i * sizeof(r), &r, sizeof(r));
        }
        return stamped(std::move(m));
    };
    EXPECT_EQ(v(pub(3, 3)), Reject::None);
    EXPECT_EQ(v(pub(3, 4)), Reject::Size);
    EXPECT_EQ(v(pub(0, 0)), Reject::Count);
    EXPECT_EQ(v(pub(1, SPAN_MAX_RANGES + 1)), Reject::Count);
    EXPECT_EQ(v(pub(1, 1, 3)), Reject::Field);
    EXPECT_EQ(v(pub(1, 1, SPAN_WT_REMOVE, 0)), Reject::Field);
    Msg bad = pub(2, 2);
    span_gfn_range r{SPAN_GFN_LIMIT, 1};
    std::memcpy(bad.payload() + sizeof(span_wt_publish) + sizeof(r), &r, sizeof(r));
    EXPECT_EQ(v(bad), Reject::Range);
    r = {5, 0};
    std::memcpy(bad.payload() + sizeof(span_wt_publish), &r, sizeof(r));
    EXPECT_EQ(v(bad), Reject::Range);

    Msg a = mk(SPAN_MSG_WT_ACK, span_wt_ack{4, 0, 0});
    EXPECT_EQ(v(a), Reject::None);
    EXPECT_EQ(mutate<span_wt_ack>(a, [](auto &x) { x.reserved = 1; }), Reject::Reserved);
    EXPECT_EQ(mutate<span_wt_ack>(a, [](auto &x) { x.status = 1; }), Reject::Field);
    EXPECT_EQ(mutate<span_wt_ack>(a, [](auto &x) { x.generation = 0; }), Reject::Field);

    Msg i = mk(SPAN_MSG_WT_INVALIDATE, span_wt_invalidate{2, 0x1000, 1, 0, 0});
    EXPECT_EQ(v(i), Reject::None);
    using W = span_wt_invalidate;
    EXPECT_EQ(mutate<W>(i, [](auto &x) { x.reserved = 1; }), Reject::Reserved);
    EXPECT_EQ(mutate<W>(i, [](auto &x) { x.generation = 0; }), Reject::Field);
    EXPECT_EQ(mutate<W>(i, [](auto &x) { x.nr_pages = 0; }), Reject::Range);
    EXPECT_EQ(mutate<W>(i, [](auto &x) { x.gfn = SPAN_GFN_LIMIT; }), Reject::Range);
}

TEST(Validate, AttachDetach) {
    Msg m = mk(SPAN_MSG_ATTACH, span_attach{SPAN_ATTACH_VCPU, SPAN_MEMBER_SELF, 3, 0, 0, 0});
    EXPECT_EQ(v(m), Reject::None);
    using A = span_attach;
    EXPECT_EQ(mutate<A>(m, [](auto &x) { x.flags = 1; }), Reject::Reserved);
    EXPECT_EQ(mutate<A>(m, [](auto &x) { x.member = 16; }), Reject::Address);
    EXPECT_EQ(mutate<A>(m, [](auto &x) { x.kind = 0; }), Reject::Field);
    EXPECT_EQ(mutate<A>(m, [](auto &x) { x.kind = 4; }), Reject::Field);
    EXPECT_EQ(mutate<A>(m, [](auto &x) { x.id = SPAN_APIC_NONE; }), Reject::Field);
    EXPECT_EQ(mutate<A>(m, [](auto &x) { x.gpa = 4096; }), Reject::Field);
    EXPECT_EQ(mutate<A>(m, [](auto &x) { x.kind = SPAN_ATTACH_DEVICE, x.size = 4096; }),
              Reject::Field);
    EXPECT_EQ(
        mutate<A>(m, [](auto &x) { x.kind = SPAN_ATTACH_MEMORY, x.id = 0, x.size = 1 << 20; }),
        Reject::None);
    EXPECT_EQ(mutate<A>(m, [](auto &x) { x.kind = SPAN_ATTACH_MEMORY, x.size = 1 << 20; }),
              Reject::Field);  // id
    EXPECT_EQ(mutate<A>(m, [](auto &x) { x.kind = SPAN_ATTACH_MEMORY, x.id = 0, x.gpa = 100; }),
              Reject::Range);
    EXPECT_EQ(mutate<A>(m, [](auto &x) { x.kind = SPAN_ATTACH_MEMORY, x.id = 0, x.size = 100; }),
              Reject::Range);
    EXPECT_EQ(mutate<A>(m,
                        [](auto &x) {
                            x.kind = SPAN_ATTACH_MEMORY, x.id = 0, x.gpa = SPAN_GPA_LIMIT - 4096,
                            x.size = 8192;
                        }),
              Reject::Range);
    Msg d = mk(SPAN_MSG_DETACH, span_attach{SPAN_ATTACH_DEVICE, 1, 9, 0, 0, 0});
    EXPECT_EQ(v(d), Reject::None);
}

TEST(Validate, VcpuState) {
    auto st = [](uint32_t chunk, uint32_t total, uint32_t off, size_t bytes) {
        span_vcpu_state s{1, total, off, chunk};
        Msg m = Msg::of(SPAN_MSG_VCPU_STATE, s, bytes);
        return stamped(std::move(m));
    };
    EXPECT_EQ(v(st(100, 1000, 0, 100)), Reject::None);  // padded to 104
    EXPECT_EQ(v(st(100, 1000, 900, 100)), Reject::None);
    EXPECT_EQ(v(st(100, 1000, 901, 100)), Reject::Range);
    EXPECT_EQ(v(st(100, 1000, 0xffffffff, 100)), Reject::Range);
    EXPECT_EQ(v(st(100, 0, 0, 100)), Reject::Range);
    EXPECT_EQ(v(st(100, SPAN_VCPU_STATE_MAX + 1, 0, 100)), Reject::Range);
    EXPECT_EQ(v(st(0, 10, 0, 0)), Reject::Range);
    EXPECT_EQ(v(st(200, 1000, 0, 100)), Reject::Size);
    Msg pad = st(100, 1000, 0, 100);
    pad.payload()[sizeof(span_vcpu_state) + 101] = 1;
    EXPECT_EQ(v(pad), Reject::Reserved);
    Msg none = st(8, 8, 0, 8);
    EXPECT_EQ(mutate<span_vcpu_state>(none, [](auto &x) { x.apic_id = SPAN_APIC_NONE; }),
              Reject::Field);
}

TEST(Validate, LifecycleAndState) {
    Msg r = mk(SPAN_MSG_RESET, span_reset{SPAN_REASON_GUEST, 0});
    EXPECT_EQ(v(r), Reject::None);
    EXPECT_EQ(mutate<span_reset>(r, [](auto &x) { x.flags = 1; }), Reject::Reserved);
    EXPECT_EQ(mutate<span_reset>(r, [](auto &x) { x.reason = 0; }), Reject::Field);
    EXPECT_EQ(mutate<span_reset>(r, [](auto &x) { x.reason = SPAN_REASON_MAX; }), Reject::Field);
    EXPECT_EQ(v(mk(SPAN_MSG_SHUTDOWN, span_reset{SPAN_REASON_ADMIN, 0})), Reject::None);
    EXPECT_EQ(v(mk(SPAN_MSG_HEARTBEAT, span_heartbeat{1, 1})), Reject::None);
    Msg s = mk(SPAN_MSG_VM_STATE, span_vm_state{SPAN_VM_PAUSED, SPAN_REASON_MEMBER_LOST}, 0,
               SPAN_MEMBER_SPAND);
    EXPECT_EQ(v(s), Reject::None);
    EXPECT_EQ(mutate<span_vm_state>(s, [](auto &x) { x.state = 0; }), Reject::Field);
    EXPECT_EQ(mutate<span_vm_state>(s, [](auto &x) { x.state = 4; }), Reject::Field);
    EXPECT_EQ(mutate<span_vm_state>(s, [](auto &x) { x.reason = 99; }), Reject::Field);
}

TEST(Validate, Control) {
    span_ctl_create c{};
    set_name(c.name, "vm1");
    c.mem_size = 1 << 30;
    Msg m = mk(SPAN_MSG_CTL_CREATE, c, 0, 0);
    EXPECT_EQ(v(m), Reject::None);
    using C = span_ctl_create;
    EXPECT_EQ(mutate<C>(m, [](auto &x) { x.reserved = 1; }), Reject::Reserved);
    EXPECT_EQ(mutate<C>(m, [](auto &x) { x.name[0] = 0; }), Reject::Name);
    EXPECT_EQ(mutate<C>(m, [](auto &x) { x.flags = 2; }), Reject::Field);
    EXPECT_EQ(mutate<C>(m, [](auto &x) { x.mem_size = 0; }), Reject::Range);
    EXPECT_EQ(mutate<C>(m, [](auto &x) { x.mem_size = 4097; }), Reject::Range);
    EXPECT_EQ(mutate<C>(m, [](auto &x) { x.mem_size = 4096, x.flags = SPAN_VM_HUGEPAGES; }),
              Reject::Range);
    EXPECT_EQ(mutate<C>(m, [](auto &x) { x.mem_size = SPAN_GPA_LIMIT * 2; }), Reject::Range);
    EXPECT_EQ(mutate<C>(m, [](auto &x) { x.ring_size = 12345; }), Reject::Range);
    EXPECT_EQ(mutate<C>(m, [](auto &x) { x.ring_size = 1024; }), Reject::Range);
    EXPECT_EQ(mutate<C>(m, [](auto &x) { x.ring_size = 1u << 25; }), Reject::Range);
    EXPECT_EQ(mutate<C>(m, [](auto &x) { x.max_members = 1; }), Reject::Count);
    EXPECT_EQ(mutate<C>(m, [](auto &x) { x.max_members = 17; }), Reject::Count);
    span_ctl_name n{};
    set_name(n.name, "x");
    EXPECT_EQ(v(mk(SPAN_MSG_CTL_DESTROY, n, 0, 0)), Reject::None);
    n.name[5] = 'q';
    EXPECT_EQ(v(mk(SPAN_MSG_CTL_SHOW, n, 0, 0)), Reject::Name);

    span_ctl_vm_info vi{};
    set_name(vi.name, "vm1");
    vi.state = SPAN_VM_RUNNING;
    vi.max_members = 8;
    Msg vm = mk(SPAN_MSG_CTL_VM_INFO, vi, 0, SPAN_MEMBER_SPAND);
    EXPECT_EQ(v(vm), Reject::None);
    using V = span_ctl_vm_info;
    EXPECT_EQ(mutate<V>(vm, [](auto &x) { x.name[0] = '!'; }), Reject::Name);
    EXPECT_EQ(mutate<V>(vm, [](auto &x) { x.state = 0; }), Reject::Field);
    EXPECT_EQ(mutate<V>(vm, [](auto &x) { x.reason = 9; }), Reject::Field);
    EXPECT_EQ(mutate<V>(vm, [](auto &x) { x.nr_members = 9; }), Reject::Count);
    EXPECT_EQ(mutate<V>(vm, [](auto &x) { x.nr_vcpus = SPAN_MAX_VCPUS + 1; }), Reject::Count);

    span_ctl_member_info mi{};
    set_name(mi.name, "a");
    mi.msgs = 3;
    mi.rejected = 1;
    Msg mm = mk(SPAN_MSG_CTL_MEMBER_INFO, mi, 0, SPAN_MEMBER_SPAND);
    EXPECT_EQ(v(mm), Reject::None);
    using M = span_ctl_member_info;
    EXPECT_EQ(mutate<M>(mm, [](auto &x) { x.member_id = 16; }), Reject::Address);
    EXPECT_EQ(mutate<M>(mm, [](auto &x) { x.rejected = 4; }), Reject::Count);
    EXPECT_EQ(mutate<M>(mm, [](auto &x) { x.caps = 1u << 9; }), Reject::Field);
    EXPECT_EQ(mutate<M>(mm, [](auto &x) { x.mem_gpa = SPAN_GPA_LIMIT; }), Reject::Range);
    EXPECT_EQ(mutate<M>(mm, [](auto &x) { x.name[0] = 0; }), Reject::Name);

    Msg si = mk(SPAN_MSG_CTL_SUB_INFO, span_mem_subscribe{1, 0, 1, SPAN_ACCESS_EXEC, 2}, 0,
                SPAN_MEMBER_SPAND);
    EXPECT_EQ(v(si), Reject::None);
    using S = span_mem_subscribe;
    EXPECT_EQ(mutate<S>(si, [](auto &x) { x.sub_id = 0; }), Reject::Field);
    EXPECT_EQ(mutate<S>(si, [](auto &x) { x.member = SPAN_MEMBER_SELF; }), Reject::Address);
    EXPECT_EQ(mutate<S>(si, [](auto &x) { x.nr_pages = 0; }), Reject::Range);
    EXPECT_EQ(mutate<S>(si, [](auto &x) { x.access = 0; }), Reject::Field);
}

TEST(Validate, PeerReport) {
    span_peer_report pr{};
    pr.member = 2;
    pr.reason = SPAN_REJECT_MAGIC;
    pr.rejected = 16;
    pr.accepted = 3;
    Msg m = stamped(Msg::of(SPAN_MSG_PEER_REPORT, pr), 1, SPAN_MEMBER_SPAND);
    EXPECT_EQ(v(m), Reject::None);
    using P = span_peer_report;
    EXPECT_EQ(mutate<P>(m, [](auto &x) { x.flags = 1; }), Reject::Reserved);
    EXPECT_EQ(mutate<P>(m, [](auto &x) { x.reserved = 1; }), Reject::Reserved);
    EXPECT_EQ(mutate<P>(m, [](auto &x) { x.member = 1; }), Reject::Address);  // itself
    EXPECT_EQ(mutate<P>(m, [](auto &x) { x.member = SPAN_MAX_MEMBERS; }), Reject::Address);
    EXPECT_EQ(mutate<P>(m, [](auto &x) { x.member = SPAN_MEMBER_SELF; }), Reject::Address);
    EXPECT_EQ(mutate<P>(m, [](auto &x) { x.member = SPAN_MEMBER_SPAND; }), Reject::Address);
    EXPECT_EQ(mutate<P>(m, [](auto &x) { x.reason = SPAN_REJECT_NONE; }), Reject::Field);
    EXPECT_EQ(mutate<P>(m, [](auto &x) { x.reason = SPAN_REJECT_MAX; }), Reject::Field);
    EXPECT_EQ(mutate<P>(m, [](auto &x) { x.reason = 0xffffffff; }), Reject::Field);
    EXPECT_EQ(mutate<P>(m, [](auto &x) { x.rejected = 0; }), Reject::Count);
    EXPECT_EQ(mutate<P>(m, [](auto &x) { x.accepted = ~0ull; }), Reject::None);
    // Envelope: member to spand only, never a reply, never from spand.
    Msg c = m;
    c.hdr().dst = 2;
    EXPECT_EQ(v(c), Reject::Address);
    c = m;
    c.hdr().dst = SPAN_MEMBER_BROADCAST;
    EXPECT_EQ(v(c), Reject::Address);
    c = m;
    c.hdr().src = SPAN_MEMBER_SPAND;
    c.hdr().dst = 1;
    EXPECT_EQ(v(c), Reject::Address);
    c = m;
    c.hdr().flags = SPAN_F_REPLY;
    EXPECT_EQ(v(c), Reject::Flags);
    c = m;
    c.hdr().flags = SPAN_F_MORE;
    EXPECT_EQ(v(c), Reject::Flags);
    // Truncated / oversized payloads.
    EXPECT_EQ(v(stamped(Msg::make(SPAN_MSG_PEER_REPORT, 24), 1, SPAN_MEMBER_SPAND)), Reject::Size);
    EXPECT_EQ(v(stamped(Msg::make(SPAN_MSG_PEER_REPORT, 40), 1, SPAN_MEMBER_SPAND)), Reject::Size);
    EXPECT_EQ(validate_message(m.data(), m.size() - 8), Reject::Truncated);
    EXPECT_STREQ(span_msg_type_str(SPAN_MSG_PEER_REPORT), "peer-report");
}

TEST(Validate, CApiAndNames) {
    Msg m = mk(SPAN_MSG_HEARTBEAT, span_heartbeat{1, 2});
    EXPECT_EQ(span_validate(m.data(), m.size()), SPAN_REJECT_NONE);
    EXPECT_EQ(span_validate(m.data(), 3), SPAN_REJECT_TRUNCATED);
    EXPECT_STREQ(span_reject_str(SPAN_REJECT_MAGIC), "bad-magic");
    EXPECT_STREQ(span_reject_str(-1), "unknown");
    EXPECT_STREQ(span_msg_type_str(SPAN_MSG_INTERRUPT), "interrupt");
    EXPECT_STREQ(span_msg_type_str(9999), "unknown");
    for (int r = 0; r < SPAN_REJECT_MAX; r++) EXPECT_STRNE(span_reject_str(r), "unknown");
    EXPECT_TRUE(valid_name_str("a-b_c.9"));
    EXPECT_FALSE(valid_name_str(""));
    EXPECT_FALSE(valid_name_str("a b"));
    EXPECT_FALSE(valid_name_str(std::string(32, 'a').c_str()));
    EXPECT_TRUE(valid_name_str(std::string(31, 'a').c_str()));
}

// span_validate_payload() agrees with span_validate() on the framed message
// for payloads a member sends, and refuses what framing would refuse.
TEST(Validate, PayloadAlone) {
    span_interrupt irq{};
    irq.dest = 3;
    irq.vector = 0x30;
    irq.src_apic = SPAN_APIC_NONE;
    irq.level = 1;
    EXPECT_EQ(span_validate_payload(SPAN_MSG_INTERRUPT, &irq, sizeof(irq)), SPAN_REJECT_NONE);
    irq.vector = 3;  // FIXED below 16
    EXPECT_EQ(span_validate_payload(SPAN_MSG_INTERRUPT, &irq, sizeof(irq)),
              span_validate(mk(SPAN_MSG_INTERRUPT, irq, 0, 0).data(), sizeof(span_msg_hdr) + 16));
    EXPECT_NE(span_validate_payload(SPAN_MSG_INTERRUPT, &irq, sizeof(irq)), SPAN_REJECT_NONE);
    irq.vector = 0x30;
    irq.reserved = 1;
    EXPECT_EQ(span_validate_payload(SPAN_MSG_INTERRUPT, &irq, sizeof(irq)), SPAN_REJECT_RESERVED);

    span_eoi eoi{};
    eoi.vector = 0x41;
    EXPECT_EQ(span_validate_payload(SPAN_MSG_EOI, &eoi, sizeof(eoi)), SPAN_REJECT_NONE);
    uint64_t two[2] = {};
    std::memcpy(two, &eoi, sizeof(eoi));
    EXPECT_EQ(span_validate_payload(SPAN_MSG_EOI, two, sizeof(two)), SPAN_REJECT_SIZE);
    EXPECT_EQ(span_validate_payload(SPAN_MSG_EOI, &eoi, 4), SPAN_REJECT_MISALIGNED);

    span_ack ack{};
    ack.req_seq = 77;
    EXPECT_EQ(span_validate_payload(SPAN_MSG_ACK, &ack, sizeof(ack)), SPAN_REJECT_NONE);
    span_peer_report pr{};
    pr.member = 2;
    pr.rejected = 1;
    pr.reason = SPAN_REJECT_MAGIC;
    EXPECT_EQ(span_validate_payload(SPAN_MSG_PEER_REPORT, &pr, sizeof(pr)), SPAN_REJECT_NONE);

    span_heartbeat hb{1, 2};
    EXPECT_EQ(span_validate_payload(SPAN_MSG_PAD, &hb, sizeof(hb)), SPAN_REJECT_TYPE);
    EXPECT_EQ(span_validate_payload(SPAN_MSG_TYPE_MAX, &hb, sizeof(hb)), SPAN_REJECT_TYPE);
    EXPECT_EQ(span_validate_payload(SPAN_MSG_HEARTBEAT, nullptr, sizeof(hb)),
              SPAN_REJECT_TRUNCATED);
    EXPECT_EQ(span_validate_payload(SPAN_MSG_HEARTBEAT, &hb, SPAN_MSG_MAX), SPAN_REJECT_OVERSIZED);
    EXPECT_EQ(span_validate_payload(SPAN_MSG_SHUTDOWN, nullptr, 0), SPAN_REJECT_SIZE);
}

// span_msg_init() builds the header span_validate() expects.
TEST(Validate, MsgInit) {
    uint64_t buf[8];
    std::memset(buf, 0xa5, sizeof(buf));
    span_msg_init(buf, SPAN_MSG_HEARTBEAT, sizeof(span_msg_hdr) + sizeof(span_heartbeat), 2, 5);
    span_msg_hdr h;
    std::memcpy(&h, buf, sizeof(h));
    EXPECT_EQ(h.magic, SPAN_MAGIC);
    EXPECT_EQ(h.version, SPAN_PROTO_VERSION);
    EXPECT_EQ(h.type, SPAN_MSG_HEARTBEAT);
    EXPECT_EQ(h.len, sizeof(span_msg_hdr) + sizeof(span_heartbeat));
    EXPECT_EQ(h.src, 2);
    EXPECT_EQ(h.dst, 5);
    EXPECT_EQ(h.flags, 0u);
    EXPECT_EQ(h.seq, 0u);
    EXPECT_EQ(span_validate(buf, h.len), SPAN_REJECT_NONE);    // zeroed payload
    EXPECT_EQ(reinterpret_cast<uint8_t *>(buf)[h.len], 0xa5);  // stops at len
    EXPECT_EQ(span_sock_connect("/nonexistent/spand.sock"), -ENOENT);
    EXPECT_EQ(span_sock_connect(std::string(200, 'x').c_str()), -ENAMETOOLONG);
}
