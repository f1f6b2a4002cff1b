// SPDX-License-Identifier: GPL-2.0
//
// span-nest-probe: smoke test of full nesting (tests/nested/span-pci-smoke.sh).
//
//   span-nest-probe host SOCKET VM    a member on L0 (spand's socket): writes
//       a marker into guest memory, waits for the L1's heartbeat on the ring,
//       checks the L1's marker and answers with a heartbeat.
//   span-nest-probe l1 /dev/spanN VM  a member inside an L1 through the
//       span-pci device: checks the L0 marker in the window, writes its own,
//       sends a heartbeat to slot 0 and times the answer (two doorbell
//       crossings, L1 -> L0 -> L1).
//   span-nest-probe attach /dev/spanN VM   connect, map all memory, print the
//       size, leave (window attach timing is printed by L0's QEMU).  With
//       SPAN_PROBE_TOUCH=1 in the environment, also times two passes
//       touching every 4 KiB page and counts the page faults.
//   span-nest-probe hostile /dev/spanN VM  bad input through the device:
//       garbage, messages before HELLO, a spoofed source slot, mappings
//       beyond what L0 attached; each must be refused.
//
//   span-nest-probe canary SOCKET VM DONEFILE   a member on L0 of a span no
//       L1 is given: fills all of its memory with a pattern, waits until
//       DONEFILE exists (the L1s have run), then checks every word: a
//       write from another span's L1 (isolation broken) shows as a change.
//
// Prints "PROBE ok ..." lines; exit status 0 on success.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "span/member.h"

using namespace span;

namespace {
constexpr uint64_t kHostMarkerOff = 0x1000;
constexpr uint64_t kL1MarkerOff = 0x2000;
constexpr char kHostMarker[] = "span-nest: L0 member was here";
constexpr char kL1Marker[] = "span-nest: L1 member was here";

uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + ts.tv_nsec;
}

int fail(const char *what, const Error &e) {
    std::printf("PROBE FAIL %s: %s\n", what, e.str().c_str());
    return 1;
}

Msg heartbeat(uint64_t counter) {
    return Msg::of(SPAN_MSG_HEARTBEAT, span_heartbeat{now_ns(), counter});
}
}  // namespace

// Expects a syscall result of -1 with errno `want`.
bool refused(const char *what, long r, int want) {
    bool good = r == -1 && errno == want;
    std::printf("PROBE %s refused: %s (%s)\n", good ? "ok" : "FAIL", what,
                r == -1 ? std::strerror(errno) : "accepted");
    return good;
}

bool map_refused(const char *what, int fd, size_t len, off_t off, int want) {
    void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
    if (p != MAP_FAILED) munmap(p, len);
    return refused(what, p == MAP_FAILED ? -1 : 0, want);
}

int hostile(const ConnectOptions &opt) {
    bool ok = true;
    {
        UniqueFd fd(::open(opt.socket_path.c_str(), O_RDWR | O_CLOEXEC));
        if (!fd) return fail("open", Error::sys("open"));
        uint64_t junk[8] = {0xdeadbeef, 1, 2, 3};
        ok &= refused("garbage message", ::write(fd.get(), junk, sizeof(junk)), EBADMSG);
        Msg t = Msg::make(SPAN_MSG_TOPOLOGY_GET, 0);
        stamp(t, 1, SPAN_MEMBER_SPAND, 1);
        ok &= refused("request before HELLO", ::write(fd.get(), t.data(), t.size()), ENOTCONN);
        ok &= map_refused("mmap before HELLO", fd.get(), 4096, 0, ENODEV);
    }
    auto c = Member::connect(opt);
    if (!c) return fail("connect", c.error());
    auto &m = *c.value();
    Msg t = Msg::make(SPAN_MSG_TOPOLOGY_GET, 0);
    stamp(t, static_cast<uint16_t>((m.id() + 1) % m.max_members()), SPAN_MEMBER_SPAND, 99);
    ok &= refused("spoofed source slot", ::write(m.control_fd(), t.data(), t.size()), EPERM);
    stamp(t, static_cast<uint16_t>(m.id()), static_cast<uint16_t>((m.id() + 1) % m.max_members()),
          99);
    ok &= refused("message to a peer through spand's mailbox",
                  ::write(m.control_fd(), t.data(), t.size()), EPERM);
    ok &= map_refused("mmap beyond the window", m.mem_fd(), m.mem_size() + 4096, 0, EINVAL);
    ok &= map_refused("mmap at the window's end", m.mem_fd(), 4096, m.mem_size(), EINVAL);
    ok &= map_refused("mmap beyond the channel", m.chan_fd(), 1ul << 30, m.chan_offset(), EINVAL);
    void *p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, m.mem_fd(), 0);
    ok &= refused("private mapping", p == MAP_FAILED ? -1 : 0, EINVAL);
    // Still usable after all that: a proper request gets spand's answer.
    Msg g = Msg::make(SPAN_MSG_TOPOLOGY_GET, 0);
    auto r = m.request(std::move(g), 5000);
    std::printf("PROBE %s device still works after bad input (%s)\n", r ? "ok" : "FAIL",
                r ? "topology received" : r.error().str().c_str());
    return ok && r ? 0 : 1;
}

// The canary's word at byte offset `off`: differs from word to word and
// from zero, so neither a cleared nor a copied page passes.
uint64_t canary_word(uint64_t off) {
    return (off + 8) * 0x9E3779B97F4A7C15ull;
}

int canary(Member &m, uint64_t *mem, const char *done_file) {
    const uint64_t words = m.mem_size() / 8;
    for (uint64_t i = 0; i < words; i++) mem[i] = canary_word(i * 8);
    std::printf("PROBE ok canary written over all %" PRIu64 " MiB\n", m.mem_size() >> 20);
    std::fflush(stdout);
    for (int waited = 0; access(done_file, F_OK) != 0; waited++) {
        if (waited == 6000) {
            std::printf("PROBE FAIL canary: %s did not appear within 600 s\n", done_file);
            return 1;
        }
        usleep(100000);
    }
    uint64_t bad = 0, first = 0;
    for (uint64_t i = 0; i < words; i++) {
        if (mem[i] != canary_word(i * 8) && bad++ == 0) first = i * 8;
    }
    if (bad) {
        std::printf("PROBE FAIL canary: %" PRIu64 " words changed, the first at offset %#" PRIx64
                    "\n",
                    bad, first);
        return 1;
    }
    std::printf("PROBE ok canary intact: all %" PRIu64 " MiB unchanged\n", m.mem_size() >> 20);
    return 0;
}

int main(int argc, char **argv) {
    bool is_canary = argc == 5 && std::strcmp(argv[1], "canary") == 0;
    if (argc != 4 && !is_canary) {
        std::fprintf(stderr,
                     "usage: span-nest-probe host|l1|attach|hostile SOCKET-OR-DEVICE VM\n"
                     "       span-nest-probe canary SOCKET VM DONEFILE\n");
        return 2;
    }
    std::string mode = argv[1];
    ConnectOptions opt;
    opt.socket_path = argv[2];
    opt.vm_name = argv[3];
    opt.member_name = mode == "host" ? "probe-l0" : is_canary ? "canary-l0" : "probe-l1";
    if (mode == "hostile") return hostile(opt);
    uint64_t t0 = now_ns();
    auto c = Member::connect(opt);
    if (!c) return fail("connect", c.error());
    auto &m = *c.value();
    std::printf("PROBE ok connected slot=%u mem=%" PRIu64 "MiB device=%d in %" PRIu64 " us\n",
                m.id(), m.mem_size() >> 20, m.via_device(), (now_ns() - t0) / 1000);
    uint64_t t1 = now_ns();
    void *p = mmap(nullptr, m.mem_size(), PROT_READ | PROT_WRITE, MAP_SHARED, m.mem_fd(), 0);
    if (p == MAP_FAILED) return fail("mmap memory", Error::sys("mmap"));
    auto *mem = static_cast<char *>(p);
    std::printf("PROBE ok mapped %" PRIu64 " MiB in %" PRIu64 " us\n", m.mem_size() >> 20,
                (now_ns() - t1) / 1000);
    if (is_canary) return canary(m, static_cast<uint64_t *>(p), argv[4]);
    if (mode == "attach") {
        // Touch the first and the last page: the whole window is there.
        volatile char *v = mem;
        v[0] = 1;
        v[m.mem_size() - 1] = 2;
        std::printf("PROBE ok touched first and last byte\n");
        // First touch of every 4 KiB page: one fault per page with 4 KiB
        // mappings, one per 2 MiB or 1 GiB with huge ones.
        for (int pass = 1; getenv("SPAN_PROBE_TOUCH") && pass <= 2; pass++) {
            rusage ru0, ru1;
            getrusage(RUSAGE_SELF, &ru0);
            uint64_t t3 = now_ns();
            for (uint64_t off = 0; off < m.mem_size(); off += 4096) v[off] = 3;
            uint64_t dt = now_ns() - t3;
            getrusage(RUSAGE_SELF, &ru1);
            std::printf("PROBE ok touch pass %d of all %" PRIu64 " MiB (every 4 KiB): %" PRIu64
                        " us, %ld page faults, mapping at %p\n",
                        pass, m.mem_size() >> 20, dt / 1000, ru1.ru_minflt - ru0.ru_minflt, p);
        }
        return 0;
    }
    if (mode == "host") {
        std::memset(mem + kL1MarkerOff, 0, sizeof(kL1Marker));
        std::memcpy(mem + kHostMarkerOff, kHostMarker, sizeof(kHostMarker));
        std::printf("PROBE ok host marker written; waiting for the L1\n");
        std::fflush(stdout);
        for (;;) {
            auto r = m.recv(120000);
            if (!r) return fail("waiting for the L1's heartbeat", r.error());
            if (r->type() != SPAN_MSG_HEARTBEAT) continue;
            uint16_t from = r->hdr().src;
            bool ok = std::memcmp(mem + kL1MarkerOff, kL1Marker, sizeof(kL1Marker)) == 0;
            std::printf("PROBE %s host sees the L1 marker (heartbeat from slot %u)\n",
                        ok ? "ok" : "FAIL", from);
            Msg hb = heartbeat(r->get<span_heartbeat>().counter + 1);
            auto s = m.send(from, hb);
            if (!s) return fail("answer", s.error());
            std::fflush(stdout);
            // Keep the session until the L1 left (its slot's reply is in).
            (void)m.recv(2000);
            return ok ? 0 : 1;
        }
    }
    bool ok = std::memcmp(mem + kHostMarkerOff, kHostMarker, sizeof(kHostMarker)) == 0;
    std::printf("PROBE %s l1 reads the L0 marker through the window\n", ok ? "ok" : "FAIL");
    std::memcpy(mem + kL1MarkerOff, kL1Marker, sizeof(kL1Marker));
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint64_t t2 = now_ns();
    Msg hb = heartbeat(41);
    auto s = m.send(0, hb);
    if (!s) return fail("send to slot 0", s.error());
    for (;;) {
        auto r = m.recv(60000);
        if (!r) return fail("waiting for the answer", r.error());
        if (r->type() != SPAN_MSG_HEARTBEAT) continue;
        uint64_t rt = now_ns() - t2;
        bool good = r->get<span_heartbeat>().counter == 42;
        std::printf("PROBE %s doorbell round trip L1->L0->L1 %" PRIu64 " us (L1 clock)\n",
                    good ? "ok" : "FAIL", rt / 1000);
        return ok && good ? 0 : 1;
    }
}
