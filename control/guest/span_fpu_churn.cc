// SPDX-License-Identifier: GPL-2.0
//
// span-fpu-churn: reload the x87/SSE state as fast as possible.
//
// Runs in the lab (scripts/lab), pinned to one lab CPU while KVM runs a
// guest on another.  Each FXRSTOR of a status word without a pending
// exception makes the outer emulator (QEMU TCG) call cpu_clear_ignne(),
// which in QEMU up to 10.0 wrote CPU 0's whole hflags2 back from this
// thread: racing with CPU 0's VMRUN/#VMEXIT it set or dropped GIF and NPT
// behind CPU 0's back (patches/qemu/tcg-svm/0001).  The lab's kernel then took
// interrupts inside its #VMEXIT window, on the guest's GS base, and died.
// tests/lab/vmexit-window.sh uses this to check the outer emulator.
//
// Usage: span-fpu-churn SECONDS
// Prints the number of reloads done and exits 0.
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

// FXSAVE/FXRSTOR need a 16-byte aligned 512-byte area.
struct alignas(16) FxArea {
    unsigned char bytes[512];
};

}  // namespace

int main(int argc, char **argv) {
    char *end = nullptr;
    const long seconds = argc == 2 ? std::strtol(argv[1], &end, 10) : -1;
    if (argc != 2 || *end != '\0' || seconds < 1 || seconds > 3600) {
        std::fprintf(stderr,
                     "usage: span-fpu-churn SECONDS (1..3600)\n"
                     "Reloads the x87/SSE state (FXRSTOR) in a loop for SECONDS;"
                     " prints the count.\n");
        return 2;
    }
    FxArea area;
    std::memset(&area, 0, sizeof(area));
    asm volatile("fxsave64 %0" : "=m"(area));

    const auto stop = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    uint64_t reloads = 0;
    while (std::chrono::steady_clock::now() < stop) {
        for (int i = 0; i < 4096; ++i) {
            asm volatile("fxrstor64 %0" : : "m"(area));
        }
        reloads += 4096;
    }
    std::printf("span-fpu-churn: %" PRIu64 " reloads in %ld s\n", reloads, seconds);
    return 0;
}
