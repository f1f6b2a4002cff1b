// SPSC ring tests: basics, wraparound, hostile indices, and concurrency
// between two threads and two processes with millions of messages.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>
#include <vector>

#include "span/fd.h"
#include "span/ring.h"

using namespace span;

namespace {

struct RingMem {
    explicit RingMem(uint32_t size) : size(size) {
        mem = ::mmap(nullptr, SPAN_RING_HDR_SIZE + size, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        ring_init(mem, size, 0, 1);
    }
    ~RingMem() { ::munmap(mem, SPAN_RING_HDR_SIZE + size); }
    span_ring_hdr *hdr() { return static_cast<span_ring_hdr *>(mem); }
    RingProducer prod() { return std::move(RingProducer::attach(mem, size, 0, 1).value()); }
    RingConsumer cons() { return std::move(RingConsumer::attach(mem, size, 0, 1).value()); }
    void *mem;
    uint32_t size;
};

// A test record: header + seq + filler derived from seq.
size_t make_rec(uint8_t *buf, uint64_t seq, size_t len) {
    span_msg_hdr h{};
    h.magic = SPAN_MAGIC;
    h.version = SPAN_PROTO_VERSION;
    h.type = SPAN_MSG_HEARTBEAT;
    h.len = static_cast<uint32_t>(len);
    h.seq = seq;
    std::memcpy(buf, &h, sizeof(h));
    for (size_t i = sizeof(h); i < len; i++) buf[i] = static_cast<uint8_t>(seq * 31 + i);
    return len;
}

bool check_rec(const uint8_t *buf, long n, uint64_t seq, size_t len) {
    span_msg_hdr h;
    std::memcpy(&h, buf, sizeof(h));
    if (n != static_cast<long>(len) || h.seq != seq || h.len != len) return false;
    for (size_t i = sizeof(h); i < len; i++)
        if (buf[i] != static_cast<uint8_t>(seq * 31 + i)) return false;
    return true;
}

size_t len_for(uint64_t seq) {
    return 32 + 8 * ((seq * 7919) % 29);
}  // 32..256 bytes

}  // namespace

TEST(Ring, AttachChecksHeader) {
    RingMem r(4096);
    EXPECT_FALSE(RingProducer::attach(r.mem, 8192, 0, 1).ok());
    EXPECT_FALSE(RingProducer::attach(r.mem, 4096, 1, 0).ok());
    EXPECT_FALSE(RingConsumer::attach(r.mem, 3000, 0, 1).ok());
    r.hdr()->magic = 0;
    EXPECT_FALSE(RingConsumer::attach(r.mem, 4096, 0, 1).ok());
}

TEST(Ring, CacheLineSeparation) {
    EXPECT_EQ(offsetof(span_ring_hdr, head) % SPAN_CACHELINE, 0u);
    EXPECT_EQ(offsetof(span_ring_hdr, tail) % SPAN_CACHELINE, 0u);
    EXPECT_NE(offsetof(span_ring_hdr, head) / SPAN_CACHELINE,
              offsetof(span_ring_hdr, tail) / SPAN_CACHELINE);
    EXPECT_EQ(offsetof(span_ring_hdr, need_wakeup) / SPAN_CACHELINE,
              offsetof(span_ring_hdr, tail) / SPAN_CACHELINE);
}

TEST(Ring, PushPopInOrderWithWraparound) {
    RingMem r(4096);
    auto p = r.prod();
    auto c = r.cons();
    uint8_t buf[4096], out[4096];
    uint64_t sent = 0, got = 0;
    // Many laps around a small ring with odd sizes force skips and PADs.
    while (got < 20000) {
        while (p.push(buf, make_rec(buf, sent, len_for(sent)))) sent++;
        p.publish();
        long n;
        while ((n = c.pop(out, sizeof(out))) > 0) {
            ASSERT_TRUE(check_rec(out, n, got, len_for(got))) << got;
            got++;
        }
        ASSERT_EQ(n, 0);
        c.release();
    }
    EXPECT_EQ(r.hdr()->head, r.hdr()->tail);
    EXPECT_GT(r.hdr()->head, 10u * 4096);
}

TEST(Ring, FullRingRefusesAndNothingVisibleBeforePublish) {
    RingMem r(4096);
    auto p = r.prod();
    auto c = r.cons();
    uint8_t buf[2048], out[4096];
    int n = 0;
    while (p.push(buf, make_rec(buf, n, 256))) n++;
    EXPECT_EQ(n, 16);                       // exactly size / 256
    EXPECT_EQ(c.pop(out, sizeof(out)), 0);  // not published yet
    p.publish();
    EXPECT_EQ(c.pop(out, sizeof(out)), 256);
    EXPECT_FALSE(p.push(buf, make_rec(buf, 99, 256)));  // tail not released
    c.release();
    EXPECT_TRUE(p.push(buf, make_rec(buf, 99, 256)));
}

TEST(Ring, RejectsBadRecordSizes) {
    RingMem r(4096);
    auto p = r.prod();
    uint8_t buf[4096] = {};
    EXPECT_EQ(p.reserve(24), nullptr);    // below header size
    EXPECT_EQ(p.reserve(36), nullptr);    // misaligned
    EXPECT_EQ(p.reserve(2056), nullptr);  // above half the ring
    EXPECT_FALSE(p.push(buf, 4096));
}

TEST(Ring, TooSmallBufferDropsRecord) {
    RingMem r(4096);
    auto p = r.prod();
    auto c = r.cons();
    uint8_t buf[512], out[64];
    ASSERT_TRUE(p.push(buf, make_rec(buf, 1, 512)));
    ASSERT_TRUE(p.push(buf, make_rec(buf, 2, 48)));
    p.publish();
    EXPECT_EQ(c.pop(out, sizeof(out)), -EMSGSIZE);
    EXPECT_EQ(c.pop(out, sizeof(out)), 48);
}

TEST(Ring, HostileHeadIsDetectedAndResynchronised) {
    RingMem r(4096);
    auto c = r.cons();
    uint8_t out[4096];
    r.hdr()->head = 1u << 20;  // far beyond tail + size
    EXPECT_EQ(c.pop(out, sizeof(out)), -EPROTO);
    EXPECT_EQ(r.hdr()->tail, 1u << 20);
    EXPECT_EQ(c.pop(out, sizeof(out)), 0);
}

TEST(Ring, HostileRecordLengthIsDetected) {
    RingMem r(4096);
    auto p = r.prod();
    auto c = r.cons();
    uint8_t buf[64], out[4096];
    ASSERT_TRUE(p.push(buf, make_rec(buf, 1, 64)));
    p.publish();
    // Producer lies: the record claims more than was published.
    uint8_t *data = static_cast<uint8_t *>(r.mem) + SPAN_RING_HDR_SIZE;
    uint32_t bad = 4000;
    std::memcpy(data + offsetof(span_msg_hdr, len), &bad, 4);
    EXPECT_EQ(c.pop(out, sizeof(out)), -EPROTO);
    for (uint32_t l : {0u, 8u, 33u}) {
        ASSERT_TRUE(p.push(buf, make_rec(buf, 2, 64)));
        p.publish();
        uint64_t pos = r.hdr()->tail & (r.size - 1);
        std::memcpy(data + pos + offsetof(span_msg_hdr, len), &l, 4);
        EXPECT_EQ(c.pop(out, sizeof(out)), -EPROTO) << l;
    }
}

TEST(Ring, HostileTailStopsProducer) {
    RingMem r(4096);
    auto p = r.prod();
    uint8_t buf[2048];
    while (p.push(buf, make_rec(buf, 0, 2048))) {
    }
    p.publish();
    r.hdr()->tail = 1u << 30;  // consumer "consumed" more than was produced
    EXPECT_FALSE(p.push(buf, make_rec(buf, 0, 64)));
    EXPECT_GT(p.corrupt(), 0u);
}

TEST(Ring, WakeupProtocol) {
    RingMem r(4096);
    auto p = r.prod();
    auto c = r.cons();
    uint8_t buf[64];
    EXPECT_FALSE(c.prepare_sleep());  // empty: safe to sleep, flag set
    ASSERT_TRUE(p.push(buf, make_rec(buf, 1, 64)));
    EXPECT_TRUE(p.publish());  // producer sees the sleeper
    c.wake_done();
    ASSERT_TRUE(p.push(buf, make_rec(buf, 2, 64)));
    EXPECT_FALSE(p.publish());       // consumer awake: no kick needed
    EXPECT_TRUE(c.prepare_sleep());  // data pending: don't sleep
}

TEST(Ring, TwoThreadsMillionsOfMessages) {
    constexpr uint64_t kCount = 3'000'000;
    RingMem r(64 * 1024);
    auto p = r.prod();
    auto c = r.cons();
    std::thread producer([&] {
        uint8_t buf[512];
        for (uint64_t s = 0; s < kCount;) {
            int batch = 0;
            while (s < kCount && batch < 16 && p.push(buf, make_rec(buf, s, len_for(s))))
                s++, batch++;
            p.publish();
            if (!batch) std::this_thread::yield();
        }
    });
    uint8_t out[512];
    uint64_t got = 0, bad = 0;
    while (got < kCount) {
        long n = c.pop(out, sizeof(out));
        if (n == 0) {
            c.release();
            std::this_thread::yield();
            continue;
        }
        if (!check_rec(out, n, got, len_for(got))) bad++;
        got++;
        if ((got & 31) == 0) c.release();
    }
    producer.join();
    EXPECT_EQ(bad, 0u);
    EXPECT_EQ(c.pop(out, sizeof(out)), 0);
}

TEST(Ring, TwoThreadsWithEventfdSleeps) {
    constexpr uint64_t kCount = 200'000;
    RingMem r(4096);
    auto p = r.prod();
    auto c = r.cons();
    auto efd = make_eventfd();
    ASSERT_TRUE(efd.ok());
    int fd = efd->get();
    std::thread producer([&] {
        uint8_t buf[512];
        uint64_t one = 1;
        for (uint64_t s = 0; s < kCount;) {
            bool ok = p.push(buf, make_rec(buf, s, len_for(s)));
            if (ok) s++;
            if (!ok || (s & 7) == 0 || s == kCount) {
                if (p.publish()) (void)!::write(fd, &one, 8);
                if (!ok || s % 1024 == 0) std::this_thread::yield();
            }
        }
    });
    uint8_t out[512];
    uint64_t got = 0, bad = 0, sleeps = 0;
    while (got < kCount) {
        long n = c.pop(out, sizeof(out));
        if (n > 0) {
            if (!check_rec(out, n, got, len_for(got))) bad++;
            got++;
            continue;
        }
        if (c.prepare_sleep()) continue;
        pollfd pf{fd, POLLIN, 0};
        ASSERT_EQ(::poll(&pf, 1, 5000), 1) << "lost wake-up at " << got;
        uint64_t v;
        (void)!::read(fd, &v, 8);
        c.wake_done();
        sleeps++;
    }
    producer.join();
    EXPECT_EQ(bad, 0u);
    RecordProperty("sleeps", static_cast<int>(sleeps));
}

TEST(Ring, TwoProcessesMillionsOfMessages) {
    constexpr uint64_t kCount = 2'000'000;
    constexpr uint32_t kSize = 64 * 1024;
    auto fd = make_memfd("ring-test", SPAN_RING_HDR_SIZE + kSize, false);
    ASSERT_TRUE(fd.ok());
    auto map = Mapping::map_shared(fd->get(), SPAN_RING_HDR_SIZE + kSize);
    ASSERT_TRUE(map.ok());
    ring_init(map->data(), kSize, 0, 1);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // Child: its own mapping of the same memfd, as a real peer would.
        auto m2 = Mapping::map_shared(fd->get(), SPAN_RING_HDR_SIZE + kSize);
        if (!m2) _exit(3);
        auto p = RingProducer::attach(m2->data(), kSize, 0, 1);
        if (!p) _exit(4);
        uint8_t buf[512];
        for (uint64_t s = 0; s < kCount;) {
            int batch = 0;
            while (s < kCount && batch < 16 && p->push(buf, make_rec(buf, s, len_for(s))))
                s++, batch++;
            p->publish_nowake();
            if (!batch) sched_yield();
        }
        _exit(0);
    }
    auto c = RingConsumer::attach(map->data(), kSize, 0, 1);
    ASSERT_TRUE(c.ok());
    uint8_t out[512];
    uint64_t got = 0, bad = 0;
    while (got < kCount) {
        long n = c->pop(out, sizeof(out));
        if (n == 0) {
            c->release();
            sched_yield();
            continue;
        }
        ASSERT_GT(n, 0);
        if (!check_rec(out, n, got, len_for(got))) bad++;
        got++;
        if ((got & 31) == 0) c->release();
    }
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    EXPECT_EQ(bad, 0u);
}
