// libFuzzer target: message validation, topology parsing and the ring
// consumer on hostile bytes.  Must never crash, hang or read out of bounds.
#include <cstdint>
#include <cstring>
#include <vector>

#include "span/proto.h"
#include "span/ring.h"
#include "span/topology.h"
#include "span/validate.h"

using namespace span;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    // Exact-size heap copy so ASan catches any over-read.
    std::vector<uint8_t> buf(data, data + size);
    Reject r = validate_message(buf.data(), buf.size());
    if (r == Reject::None) {
        Msg m = Msg::from_bytes(buf.data(), buf.size());
        if (m.type() == SPAN_MSG_TOPOLOGY) {
            auto t = Topology::from_message(m);
            if (!t.ok() || !t->check().empty())
                __builtin_trap();  // valid message -> valid topology
            Msg back = t->to_message();
            stamp(back, m.hdr().src, m.hdr().dst, m.hdr().seq);
            if (validate_message(back.data(), back.size()) != Reject::None) __builtin_trap();
        }
    }
    (void)span_validate(buf.data(), buf.size());
    (void)reject_str(r);

    if (mode & 1) {
        // Treat the input as the data area of a 4 KiB ring whose producer
        // published an arbitrary head; the consumer must stay in bounds.
        constexpr uint32_t kSize = 4096;
        std::vector<uint8_t> ring(SPAN_RING_HDR_SIZE + kSize, 0);
        ring_init(ring.data(), kSize, 0, 1);
        std::memcpy(ring.data() + SPAN_RING_HDR_SIZE, data, size < kSize ? size : kSize);
        auto *h = reinterpret_cast<span_ring_hdr *>(ring.data());
        uint64_t head = 0, tail = 0;
        if (size >= 16) {
            std::memcpy(&head, data + size - 16, 8);
            std::memcpy(&tail, data + size - 8, 8);
        }
        h->tail = tail % (3 * kSize);
        h->head = (mode & 2) ? head : h->tail + head % (kSize + 1);
        auto c = RingConsumer::attach(ring.data(), kSize, 0, 1);
        if (!c.ok()) __builtin_trap();
        std::vector<uint8_t> out(512);
        for (int i = 0; i < 300; i++) {
            long n = c->pop(out.data(), out.size());
            if (n == 0) break;
            if (n > 0) {
                if (static_cast<size_t>(n) > out.size()) __builtin_trap();
                (void)validate_message(out.data(), static_cast<size_t>(n));
            }
        }
        c->release();
    }
    return 0;
}
