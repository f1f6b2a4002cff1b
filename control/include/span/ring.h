// Single-producer single-consumer message rings in shared memory.
//
// Layout: struct span_ring_hdr (see linux/span.h) at `base`, data at
// base + SPAN_RING_HDR_SIZE.  Records are whole span messages (hdr.len
// bytes, 8-aligned).  When fewer than sizeof(span_msg_hdr) bytes remain
// before the end of the data area both sides skip them; when a record does
// not fit in the remaining bytes the producer writes a PAD record covering
// them and wraps.
//
// Ordering: the producer copies the record, then store-releases head; the
// consumer load-acquires head, copies the record out, then store-releases
// tail; the producer load-acquires tail before reusing space.  Producer and
// consumer keep private copies of their own index and a cached copy of the
// other's, so the shared cache lines are touched once per batch.
//
// The other side is hostile: indices read from shared memory are checked
// (head - tail <= size) and record lengths are bounded by the bytes the
// producer published; a corrupt ring is resynchronised (its contents
// dropped) and reported, never trusted.
#pragma once

#include <linux/span.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "span/result.h"

namespace span {
constexpr bool is_pow2_u32(uint32_t v) {
    return v && !(v & (v - 1));
}
}  // namespace span

namespace span {

// Writes a fresh ring header (spand, at channel creation).
void ring_init(void *base, uint32_t size, uint32_t from, uint32_t to);

class RingProducer {
  public:
    RingProducer() = default;
    // Attaches to an initialised ring of `size` data bytes.  Fails if the
    // shared header does not describe that ring.
    static Result<RingProducer> attach(void *base, uint32_t size, uint32_t from, uint32_t to);

    // Stages one message (len bytes, 8-aligned, >= 32, <= max_msg()).
    // Invisible to the consumer until publish().  Returns false when the
    // ring has no room (the caller may publish and retry later).
    bool push(const void *msg, size_t len);
    // Reserve/commit for zero-copy: reserve returns space for len bytes or
    // nullptr; commit stages exactly the reserved record.
    void *reserve(size_t len);
    void commit();
    // Publishes staged messages.  Returns true if the consumer asked to be
    // woken (the caller then kicks the consumer's doorbell).
    bool publish();
    // publish() without the wake-up check (pure busy-poll peers).
    void publish_nowake();

    size_t max_msg() const { return size_ / 2; }
    bool valid() const { return h_ != nullptr; }
    uint64_t corrupt() const { return corrupt_; }

  private:
    bool make_room(size_t len, uint64_t &pos);

    span_ring_hdr *h_ = nullptr;
    uint8_t *data_ = nullptr;
    uint32_t size_ = 0;
    uint64_t head_ = 0;         // private, authoritative
    uint64_t cached_tail_ = 0;  // last tail seen
    size_t reserved_ = 0;
    uint64_t corrupt_ = 0;  // times the consumer's tail was insane
};

class RingConsumer {
  public:
    RingConsumer() = default;
    static Result<RingConsumer> attach(void *base, uint32_t size, uint32_t from, uint32_t to);

    // Copies the next record into buf (cap bytes).  Returns its length,
    // 0 if the ring is empty, -EMSGSIZE if it does not fit (it is dropped),
    // -EPROTO if the ring was corrupt (resynchronised, contents dropped).
    // The copy is NOT validated: the caller validates the private copy.
    long pop(void *buf, size_t cap);
    // Makes consumed space available to the producer (batching: pop many,
    // release once).
    void release();
    // True if a record may be pending (cheap).
    bool pending();
    // Sleep protocol: set need_wakeup, then re-check.  Returns true if data
    // arrived meanwhile (need_wakeup is cleared again; do not sleep).
    bool prepare_sleep();
    void wake_done();
    // Drop everything currently in the ring (a new member adopting a slot).
    void drain();

    bool valid() const { return h_ != nullptr; }

  private:
    span_ring_hdr *h_ = nullptr;
    uint8_t *data_ = nullptr;
    uint32_t size_ = 0;
    uint64_t tail_ = 0;         // private, authoritative
    uint64_t cached_head_ = 0;  // last head seen
    uint64_t released_ = 0;     // last tail published
};

}  // namespace span
