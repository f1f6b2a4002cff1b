// SPDX-License-Identifier: GPL-2.0
//
// span-stress: a guest program that hunts stale translations.
//
// Runs inside a span VM's guest.  One worker thread per online CPU; every
// iteration a worker moves itself to another CPU (so an address space is
// used on vCPUs of every member in turn) and
//   - maps, fills, checks and unmaps anonymous memory of random size;
//   - publishes a freshly mapped, patterned buffer in its mailbox, waits
//     until every other worker checked it, then unmaps it (the next buffer
//     often reuses the virtual address: a reader translating through a
//     stale mapping reads the old frame, whose pattern no longer matches);
//   - checks the other workers' newest mailbox buffers;
//   - now and then forks: the child writes over a copy-on-write buffer and
//     execs this program with --child (which checks a mapping of its own),
//     the parent then checks that its buffer did not change.
// Any mismatch is a corruption: reported with the address, and the exit
// status is 1.  Without a coherent shadow MMU across hypervisors this fails
// (see Documentation/shadow-coherence.rst); with it, it must not.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kPage = 4096;

uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

// The pattern of word i of a buffer tagged tag.
uint64_t word(uint64_t tag, size_t i) {
    return mix(tag * 0x9e3779b97f4a7c15ULL + i);
}

void fill(uint64_t *p, size_t words, uint64_t tag) {
    for (size_t i = 0; i < words; i++) p[i] = word(tag, i);
}

// Index of the first wrong word, or words if none.
size_t check(const volatile uint64_t *p, size_t words, uint64_t tag) {
    for (size_t i = 0; i < words; i++)
        if (p[i] != word(tag, i)) return i;
    return words;
}

std::atomic<bool> g_failed{false};
std::atomic<bool> g_stop{false};
bool g_inject_fault = false;  // --inject-fault: prove the checks fire

void fail(const char *what, const void *addr, size_t word_index, uint64_t tag) {
    std::fprintf(stderr, "span-stress: FAIL: %s at %p word %zu (tag %#" PRIx64 ")\n", what, addr,
                 word_index, tag);
    g_failed = true;
    g_stop = true;
}

void *map(size_t bytes) {
    void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        std::perror("span-stress: mmap");
        g_failed = true;
        g_stop = true;
        return nullptr;
    }
    return p;
}

// One worker's published buffer.  Invariant: while seq is odd nobody may
// read; readers that saw even seq S add one to acks before the owner unmaps.
struct alignas(64) Mailbox {
    std::atomic<uint64_t> seq{0};
    std::atomic<uint64_t *> buf{nullptr};
    std::atomic<uint64_t> tag{0};
    std::atomic<uint32_t> acks{0};
    std::atomic<uint32_t> readers{0};  // readers inside the buffer now
};

struct Stats {
    uint64_t iterations = 0, maps = 0, checked_bytes = 0, mailbox_reads = 0, forks = 0, execs = 0,
             moves = 0;
};

constexpr size_t kMailboxWords = 4 * kPage / 8;

int g_ncpu = 1;
std::vector<Mailbox> *g_boxes;

// Checks every other worker's newest buffer once.
void read_mailboxes(int self, std::vector<uint64_t> &seen, Stats &st) {
    for (int j = 0; j < g_ncpu; j++) {
        if (j == self) continue;
        Mailbox &b = (*g_boxes)[j];
        uint64_t s = b.seq.load(std::memory_order_acquire);
        if ((s & 1) || s == seen[j]) continue;
        b.readers.fetch_add(1, std::memory_order_acq_rel);
        if (b.seq.load(std::memory_order_acquire) == s) {
            const uint64_t *p = b.buf.load(std::memory_order_acquire);
            uint64_t tag = b.tag.load(std::memory_order_acquire);
            size_t bad = check(p, kMailboxWords, tag);
            if (bad != kMailboxWords) fail("another CPU's buffer", p + bad, bad, tag);
            st.mailbox_reads++;
            st.checked_bytes += kMailboxWords * 8;
            seen[j] = s;
            b.acks.fetch_add(1, std::memory_order_acq_rel);
        }
        b.readers.fetch_sub(1, std::memory_order_acq_rel);
    }
}

void move_to(int cpu, Stats &st) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) == 0) st.moves++;
}

// fork: the child dirties a copy-on-write buffer and execs --child.
void fork_round(const char *self_exe, uint64_t tag, Stats &st) {
    constexpr size_t words = 16 * kPage / 8;
    auto *p = static_cast<uint64_t *>(map(words * 8));
    if (!p) return;
    fill(p, words, tag);
    pid_t pid = fork();
    if (pid == 0) {
        // child: write over every page (copy-on-write), then exec
        for (size_t i = 0; i < words; i += kPage / 8) p[i] = ~p[i];
        std::string t = std::to_string(tag ^ 0x5a5a);
        execl(self_exe, self_exe, "--child", t.c_str(), (char *)nullptr);
        _exit(127);
    }
    if (pid < 0) {
        std::perror("span-stress: fork");
        g_failed = g_stop = true;
        munmap(p, words * 8);
        return;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    st.forks++;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "span-stress: FAIL: child %d status %#x\n", pid, status);
        g_failed = g_stop = true;
    } else {
        st.execs++;
    }
    size_t bad = check(p, words, tag);
    if (bad != words) fail("parent's buffer after the child's copy-on-write", p + bad, bad, tag);
    st.checked_bytes += words * 8;
    munmap(p, words * 8);
}

void worker(int self, const char *self_exe, Clock::time_point end, Stats &st) {
    Mailbox &mine = (*g_boxes)[self];
    std::vector<uint64_t> seen(g_ncpu, 0);
    uint64_t rng = mix(self + 1);
    uint64_t *box_buf = nullptr;
    uint64_t seq = 0;

    while (!g_stop.load(std::memory_order_relaxed) && Clock::now() < end) {
        uint64_t it = st.iterations++;
        rng = mix(rng);
        move_to(int((self + it) % g_ncpu), st);

        // private mapping of random size
        size_t pages = 1 + rng % 256;
        auto *p = static_cast<uint64_t *>(map(pages * kPage));
        if (!p) break;
        uint64_t tag = mix(rng ^ it);
        fill(p, pages * kPage / 8, tag);
        read_mailboxes(self, seen, st);
        size_t bad = check(p, pages * kPage / 8, tag);
        if (bad != pages * kPage / 8) fail("own buffer", p + bad, bad, tag);
        munmap(p, pages * kPage);
        st.maps++;
        st.checked_bytes += pages * kPage;

        // replace the mailbox buffer once every reader checked it
        uint64_t s = mine.seq.load(std::memory_order_relaxed);
        if (!box_buf || mine.acks.load(std::memory_order_acquire) >= uint32_t(g_ncpu - 1)) {
            mine.seq.store(s + 1, std::memory_order_release);  // odd: closed
            while (mine.readers.load(std::memory_order_acquire)) std::this_thread::yield();
            if (box_buf) munmap(box_buf, kMailboxWords * 8);
            box_buf = static_cast<uint64_t *>(map(kMailboxWords * 8));
            if (!box_buf) break;
            uint64_t btag = mix(uint64_t(self) << 40 | ++seq);
            fill(box_buf, kMailboxWords, btag);
            mine.buf.store(box_buf, std::memory_order_release);
            mine.tag.store(btag, std::memory_order_release);
            mine.acks.store(0, std::memory_order_release);
            if (g_inject_fault && self == 0 && seq == 8) {
                // what a stale translation looks like to the readers
                box_buf[kMailboxWords / 2] ^= 1;
            }
            mine.seq.store(s + 2, std::memory_order_release);  // even: open
        }
        if (it % 16 == 0) fork_round(self_exe, mix(tag + 1), st);
    }
    read_mailboxes(self, seen, st);
}

int child(const char *arg) {
    uint64_t tag = std::strtoull(arg, nullptr, 10);
    constexpr size_t words = 8 * kPage / 8;
    auto *p = static_cast<uint64_t *>(map(words * 8));
    if (!p) return 1;
    fill(p, words, tag);
    return check(p, words, tag) == words ? 0 : 1;
}

int usage(int status) {
    std::fprintf(status ? stderr : stdout,
                 "usage: span-stress [--seconds N] [--threads N]\n"
                 "  Hunts stale guest translations: one worker per online CPU moves\n"
                 "  between CPUs while mapping, checking and unmapping memory, checking\n"
                 "  the other workers' buffers, forking and executing.  Prints progress\n"
                 "  every 30 s and a final line 'span-stress: ok ...'; exit status 1 and\n"
                 "  a 'span-stress: FAIL: ...' line on any corruption.\n"
                 "  --seconds N   run time (default 60)\n"
                 "  --threads N   workers (default: online CPUs)\n"
                 "  --inject-fault  corrupt one published buffer on purpose (checks\n"
                 "                that a corruption is caught: must exit 1)\n");
    return status;
}

}  // namespace

int main(int argc, char **argv) {
    long seconds = 60;
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    for (int i = 1; i < argc; i++) {
        std::string_view a = argv[i];
        if (a == "--child" && i + 1 < argc) return child(argv[i + 1]);
        if (a == "-h" || a == "--help") return usage(0);
        if (a == "--inject-fault") {
            g_inject_fault = true;
            continue;
        }
        if ((a == "--seconds" || a == "--threads") && i + 1 < argc) {
            char *end = nullptr;
            long v = std::strtol(argv[++i], &end, 10);
            if (!*argv[i] || *end || v <= 0 || v > 100000) return usage(2);
            (a == "--seconds" ? seconds : threads) = v;
            continue;
        }
        return usage(2);
    }
    if (threads < 2 || threads > 1024) {
        std::fprintf(stderr, "span-stress: needs 2..1024 workers (have %ld)\n", threads);
        return 2;
    }
    g_ncpu = int(threads);
    std::vector<Mailbox> boxes(g_ncpu);
    g_boxes = &boxes;
    std::vector<Stats> stats(g_ncpu);
    auto start = Clock::now();
    auto end = start + std::chrono::seconds(seconds);
    std::vector<std::thread> ts;
    for (int i = 0; i < g_ncpu; i++)
        ts.emplace_back(worker, i, "/proc/self/exe", end, std::ref(stats[i]));

    auto total = [&] {
        Stats t;
        for (const Stats &s : stats) {
            t.iterations += s.iterations;
            t.maps += s.maps;
            t.checked_bytes += s.checked_bytes;
            t.mailbox_reads += s.mailbox_reads;
            t.forks += s.forks;
            t.execs += s.execs;
            t.moves += s.moves;
        }
        return t;
    };
    auto report = [&](const char *what) {
        Stats t = total();  // racy reads of counters: progress only
        long el =
            long(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count());
        std::printf("span-stress: %s t=%ld s workers=%d iterations=%" PRIu64 " maps=%" PRIu64
                    " mailbox_reads=%" PRIu64 " forks=%" PRIu64 " execs=%" PRIu64 " moves=%" PRIu64
                    " checked_mib=%" PRIu64 "\n",
                    what, el, g_ncpu, t.iterations, t.maps, t.mailbox_reads, t.forks, t.execs,
                    t.moves, t.checked_bytes >> 20);
        std::fflush(stdout);
    };
    for (auto next = start + std::chrono::seconds(30); Clock::now() < end && !g_stop;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        if (Clock::now() >= next) {
            report("progress");
            next += std::chrono::seconds(30);
        }
    }
    for (auto &t : ts) t.join();
    if (g_failed) {
        report("FAIL");
        return 1;
    }
    report("ok");
    return 0;
}
