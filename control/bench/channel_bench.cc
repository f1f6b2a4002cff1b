// Channel benchmarks (Google Benchmark): one-way latency between two
// processes pinned to two cores (busy-poll and eventfd wake-up), ring
// throughput for 64 B and 4 KiB messages, and, measured in the same run as
// references, this machine's memcpy bandwidth and a bare eventfd wake-up.
//
// Latency is measured as a ping-pong round trip over two rings (one each
// way) and reported as one_way_* counters = RTT / 2 percentiles.
#include <benchmark/benchmark.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "span/fd.h"
#include "span/ring.h"

using namespace span;

namespace {

constexpr uint32_t kRing = 1u << 20;

uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

void pin(int cpu) {
    int n = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % n, &set);
    sched_setaffinity(0, sizeof(set), &set);
}

// Two rings (ping: 0->1, pong: 1->0) and two doorbells in shared memory.
struct Channel {
    Channel() {
        size_t len = 2 * (SPAN_RING_HDR_SIZE + kRing);
        mem = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        ring_init(ring(0), kRing, 0, 1);
        ring_init(ring(1), kRing, 1, 0);
        efd[0] = std::move(make_eventfd().value());
        efd[1] = std::move(make_eventfd().value());
        // Blocking reads for the eventfd benchmark: poll() then read().
    }
    ~Channel() { ::munmap(mem, 2 * (SPAN_RING_HDR_SIZE + kRing)); }
    uint8_t *ring(int i) { return static_cast<uint8_t *>(mem) + i * (SPAN_RING_HDR_SIZE + kRing); }
    void *mem;
    UniqueFd efd[2];  // efd[i]: doorbell of the consumer of ring i
};

void make_msg(uint8_t *buf, size_t len, uint64_t seq) {
    span_msg_hdr h{};
    h.magic = SPAN_MAGIC;
    h.version = SPAN_PROTO_VERSION;
    h.type = SPAN_MSG_HEARTBEAT;
    h.len = static_cast<uint32_t>(len);
    h.seq = seq;
    std::memcpy(buf, &h, sizeof(h));
}

// Consumer side of one message: busy-poll, or sleep on the doorbell.
long recv_one(RingConsumer &c, uint8_t *buf, size_t cap, int efd, bool sleep) {
    for (;;) {
        long n = c.pop(buf, cap);
        if (n) {
            c.release();
            return n;
        }
        if (!sleep) continue;
        if (c.prepare_sleep()) continue;
        pollfd p{efd, POLLIN, 0};
        ::poll(&p, 1, 1000);
        uint64_t v;
        (void)!::read(efd, &v, 8);
        c.wake_done();
    }
}

void send_one(RingProducer &p, const uint8_t *buf, size_t len, int efd, bool sleep) {
    while (!p.push(buf, len)) {
    }
    if (sleep) {
        if (p.publish()) {
            uint64_t one = 1;
            (void)!::write(efd, &one, 8);
        }
    } else {
        p.publish_nowake();
    }
}

void report_percentiles(benchmark::State &state, std::vector<uint64_t> &rtt) {
    if (rtt.empty()) return;
    std::sort(rtt.begin(), rtt.end());
    auto pct = [&](double q) { return double(rtt[size_t(q * (rtt.size() - 1))]) / 2.0; };
    state.counters["one_way_p50_ns"] = pct(0.50);
    state.counters["one_way_p90_ns"] = pct(0.90);
    state.counters["one_way_p99_ns"] = pct(0.99);
    state.counters["one_way_min_ns"] = pct(0.0);
    state.counters["samples"] = double(rtt.size());
}

// Ping-pong between this process (CPU 0) and a child (CPU 1).
void latency(benchmark::State &state, bool sleep) {
    Channel ch;
    const size_t len = 64;
    pid_t pid = ::fork();
    if (pid == 0) {
        pin(1);
        auto c = RingConsumer::attach(ch.ring(0), kRing, 0, 1);
        auto p = RingProducer::attach(ch.ring(1), kRing, 1, 0);
        uint8_t buf[256];
        for (;;) {
            long n = recv_one(*c, buf, sizeof(buf), ch.efd[0].get(), sleep);
            span_msg_hdr h;
            std::memcpy(&h, buf, sizeof(h));
            if (h.seq == ~0ull) _exit(0);
            send_one(*p, buf, static_cast<size_t>(n), ch.efd[1].get(), sleep);
        }
    }
    pin(0);
    auto p = RingProducer::attach(ch.ring(0), kRing, 0, 1);
    auto c = RingConsumer::attach(ch.ring(1), kRing, 1, 0);
    uint8_t buf[256], in[256];
    std::vector<uint64_t> rtt;
    rtt.reserve(1 << 20);
    uint64_t seq = 0;
    for (auto _ : state) {
        make_msg(buf, len, seq++);
        uint64_t t0 = now_ns();
        send_one(*p, buf, len, ch.efd[0].get(), sleep);
        recv_one(*c, in, sizeof(in), ch.efd[1].get(), sleep);
        uint64_t t1 = now_ns();
        if (rtt.size() < (1u << 20)) rtt.push_back(t1 - t0);
    }
    make_msg(buf, len, ~0ull);
    send_one(*p, buf, len, ch.efd[0].get(), true);
    uint64_t one = 1;
    (void)!::write(ch.efd[0].get(), &one, 8);
    ::waitpid(pid, nullptr, 0);
    report_percentiles(state, rtt);
}

// Reference for the eventfd wake-up: the same ping-pong between the same
// two pinned processes with bare eventfds (poll() + read(), no ring), i.e.
// what one wake-up costs on this machine (on a VM: mostly the idle vCPU's
// wake-up by the host).
void BM_LatencyEventfdBare(benchmark::State &state) {
    UniqueFd ping = std::move(make_eventfd().value());
    UniqueFd pong = std::move(make_eventfd().value());
    auto wait_read = [](int fd) {
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, 1000);
        uint64_t v;
        return ::read(fd, &v, 8) == 8 ? v : 0;
    };
    auto kick = [](int fd, uint64_t v) { (void)!::write(fd, &v, 8); };
    pid_t pid = ::fork();
    if (pid == 0) {
        pin(1);
        for (;;) {
            uint64_t v = wait_read(ping.get());
            if (v >= 2) _exit(0);
            if (v) kick(pong.get(), 1);
        }
    }
    pin(0);
    std::vector<uint64_t> rtt;
    rtt.reserve(1 << 20);
    for (auto _ : state) {
        uint64_t t0 = now_ns();
        kick(ping.get(), 1);
        wait_read(pong.get());
        uint64_t t1 = now_ns();
        if (rtt.size() < (1u << 20)) rtt.push_back(t1 - t0);
    }
    kick(ping.get(), 2);
    ::waitpid(pid, nullptr, 0);
    report_percentiles(state, rtt);
}

void BM_LatencyBusyPoll(benchmark::State &state) {
    latency(state, false);
}
void BM_LatencyEventfd(benchmark::State &state) {
    latency(state, true);
}

// Streaming: child produces N messages of `len` bytes as fast as it can
// (batches of 32 per publish); parent consumes and copies them out.
void BM_Throughput(benchmark::State &state) {
    const size_t len = static_cast<size_t>(state.range(0));
    Channel ch;
    pid_t pid = ::fork();
    if (pid == 0) {
        pin(1);
        auto p = RingProducer::attach(ch.ring(0), kRing, 0, 1);
        std::vector<uint8_t> buf(len);
        make_msg(buf.data(), len, 0);
        // Runs until killed: the parent decides how much it measures.
        for (;;) {
            int k = 0;
            while (k < 32 && p->push(buf.data(), len)) k++;
            p->publish_nowake();
        }
    }
    pin(0);
    auto c = RingConsumer::attach(ch.ring(0), kRing, 0, 1);
    std::vector<uint8_t> out(len);
    uint64_t msgs = 0;
    for (auto _ : state) {
        // One iteration = 1024 messages.
        for (int i = 0; i < 1024;) {
            long n = c->pop(out.data(), out.size());
            if (n > 0) {
                i++;
                if ((i & 31) == 0) c->release();
            } else {
                c->release();
            }
        }
        msgs += 1024;
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    state.SetBytesProcessed(int64_t(msgs * len));
    state.SetItemsProcessed(int64_t(msgs));
}

// Reference: memcpy of `len`-byte blocks streaming through a buffer the
// size of the ring (the same working set the ring uses), one core.
void BM_Memcpy(benchmark::State &state) {
    const size_t len = static_cast<size_t>(state.range(0));
    pin(0);
    std::vector<uint8_t> src(kRing), dst(len);
    std::memset(src.data(), 1, src.size());
    size_t off = 0;
    for (auto _ : state) {
        for (int i = 0; i < 1024; i++) {
            std::memcpy(dst.data(), src.data() + off, len);
            benchmark::DoNotOptimize(dst.data());
            off = (off + len) & (kRing - 1);
        }
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * 1024 * int64_t(len));
}

// Reference: large-block memcpy bandwidth (64 MiB, beyond the caches).
void BM_MemcpyLarge(benchmark::State &state) {
    pin(0);
    const size_t len = 64u << 20;
    std::vector<uint8_t> src(len, 1), dst(len, 0);
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), len);
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(len));
}

}  // namespace

BENCHMARK(BM_LatencyBusyPoll)->Iterations(200000)->Unit(benchmark::kNanosecond)->UseRealTime();
BENCHMARK(BM_LatencyEventfd)->Iterations(20000)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_LatencyEventfdBare)->Iterations(20000)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Throughput)->Arg(64)->Arg(4096)->MinTime(1.0)->UseRealTime();
BENCHMARK(BM_Memcpy)->Arg(64)->Arg(4096)->MinTime(0.5)->UseRealTime();
BENCHMARK(BM_MemcpyLarge)->MinTime(0.5)->UseRealTime();

BENCHMARK_MAIN();
