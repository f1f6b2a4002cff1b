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
//       size, leave (window attach timing is printed by L0's QEMU).
//
// Prints "PROBE ok ..." lines; exit status 0 on success.
#include <sys/mman.h>
#include <time.h>

#include <cinttypes>
#include <cstdio>
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

int main(int argc, char **argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: span-nest-probe host|l1|attach SOCKET-OR-DEVICE VM\n");
        return 2;
    }
    std::string mode = argv[1];
    ConnectOptions opt;
    opt.socket_path = argv[2];
    opt.vm_name = argv[3];
    opt.member_name = mode == "host" ? "probe-l0" : "probe-l1";
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
    if (mode == "attach") {
        // Touch the first and the last page: the whole window is there.
        volatile char *v = mem;
        v[0] = 1;
        v[m.mem_size() - 1] = 2;
        std::printf("PROBE ok touched first and last byte\n");
        return 0;
    }
    if (mode == "host") {
        std::memset(mem + kL1MarkerOff, 0, sizeof(kL1Marker));
        std::memcpy(mem + kHostMarkerOff, kHostMarker, sizeof(kHostMarker));
        std::printf("PROBE ok host marker written; waiting for the L1\n");
        std::fflush(stdout);
        for (;;) {
            auto r = m.recv(300000);
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
