#include "span/ring.h"

#include <cerrno>
#include <cstring>

namespace span {
namespace {

constexpr size_t kHdr = sizeof(span_msg_hdr);

inline std::atomic_ref<__u64> head_ref(span_ring_hdr *h) {
    return std::atomic_ref<__u64>(h->head);
}
inline std::atomic_ref<__u64> tail_ref(span_ring_hdr *h) {
    return std::atomic_ref<__u64>(h->tail);
}
inline std::atomic_ref<__u32> wake_ref(span_ring_hdr *h) {
    return std::atomic_ref<__u32>(h->need_wakeup);
}

Status check_hdr(const span_ring_hdr *h, uint32_t size, uint32_t from, uint32_t to) {
    // These fields are written once by spand before any member maps the
    // channel, but a member could have scribbled on them since: check.
    if (h->magic != SPAN_RING_MAGIC || h->size != size || h->from != from || h->to != to)
        return Error{EPROTO, "ring header does not match channel layout"};
    return {};
}

}  // namespace

void ring_init(void *base, uint32_t size, uint32_t from, uint32_t to) {
    auto *h = static_cast<span_ring_hdr *>(base);
    std::memset(h, 0, sizeof(*h));
    h->magic = SPAN_RING_MAGIC;
    h->size = size;
    h->from = from;
    h->to = to;
}

Result<RingProducer> RingProducer::attach(void *base, uint32_t size, uint32_t from, uint32_t to) {
    if (!is_pow2_u32(size) || size < SPAN_RING_SIZE_MIN) return Error{EINVAL, "bad ring size"};
    auto *h = static_cast<span_ring_hdr *>(base);
    SPAN_TRY(check_hdr(h, size, from, to));
    RingProducer p;
    p.h_ = h;
    p.data_ = static_cast<uint8_t *>(base) + SPAN_RING_HDR_SIZE;
    p.size_ = size;
    // Adopt the slot: continue after whatever a previous producer left.
    uint64_t head = head_ref(h).load(std::memory_order_acquire);
    uint64_t tail = tail_ref(h).load(std::memory_order_acquire);
    if (head - tail > size) head = tail;  // garbage left behind: restart at tail
    p.head_ = head;
    p.cached_tail_ = tail;
    head_ref(h).store(head, std::memory_order_release);
    return p;
}

// Makes room for a len-byte record, doing the skip/PAD wrap if needed.
// On success `pos` is the record's offset in the data area.
bool RingProducer::make_room(size_t len, uint64_t &pos) {
    const uint64_t mask = size_ - 1;
    pos = head_ & mask;
    uint64_t contig = size_ - pos;
    uint64_t skip = 0;
    if (contig < kHdr) {
        skip = contig;
        contig = size_;
    }
    bool pad = len > contig;
    if (pad) skip += contig;
    uint64_t need = skip + len;
    if (need > size_ - (head_ - cached_tail_)) {
        uint64_t t = tail_ref(h_).load(std::memory_order_acquire);
        // Invariant: tail <= head and head - tail <= size.  A consumer that
        // breaks it is corrupt: refuse to write until it recovers.
        if (t > head_ || head_ - t > size_) {
            corrupt_++;
            return false;
        }
        cached_tail_ = t;
        if (need > size_ - (head_ - cached_tail_)) return false;
    }
    if (contig == size_ && skip) {  // tiny tail fragment: skipped, no record
        head_ += size_ - pos;
        pos = 0;
    }
    if (pad) {
        uint64_t ppos = head_ & mask;
        uint64_t plen = size_ - ppos;
        span_msg_hdr ph{};
        ph.magic = SPAN_MAGIC;
        ph.version = SPAN_PROTO_VERSION;
        ph.type = SPAN_MSG_PAD;
        ph.len = static_cast<uint32_t>(plen);
        std::memcpy(data_ + ppos, &ph, kHdr);
        head_ += plen;
        pos = 0;
    }
    return true;
}

void *RingProducer::reserve(size_t len) {
    if (len < kHdr || len % SPAN_MSG_ALIGN || len > max_msg()) return nullptr;
    uint64_t pos;
    if (!make_room(len, pos)) return nullptr;
    reserved_ = len;
    return data_ + pos;
}

void RingProducer::commit() {
    head_ += reserved_;
    reserved_ = 0;
}

bool RingProducer::push(const void *msg, size_t len) {
    void *dst = reserve(len);
    if (!dst) return false;
    std::memcpy(dst, msg, len);
    commit();
    return true;
}

bool RingProducer::publish() {
    head_ref(h_).store(head_, std::memory_order_release);
    // Dekker with RingConsumer::prepare_sleep(): either we see need_wakeup
    // or the consumer sees our head.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return wake_ref(h_).load(std::memory_order_relaxed) != 0;
}

void RingProducer::publish_nowake() {
    head_ref(h_).store(head_, std::memory_order_release);
}

Result<RingConsumer> RingConsumer::attach(void *base, uint32_t size, uint32_t from, uint32_t to) {
    if (!is_pow2_u32(size) || size < SPAN_RING_SIZE_MIN) return Error{EINVAL, "bad ring size"};
    auto *h = static_cast<span_ring_hdr *>(base);
    SPAN_TRY(check_hdr(h, size, from, to));
    RingConsumer c;
    c.h_ = h;
    c.data_ = static_cast<uint8_t *>(base) + SPAN_RING_HDR_SIZE;
    c.size_ = size;
    c.tail_ = tail_ref(h).load(std::memory_order_acquire);
    c.released_ = c.tail_;
    c.cached_head_ = c.tail_;
    wake_ref(h).store(0, std::memory_order_relaxed);
    return c;
}

long RingConsumer::pop(void *buf, size_t cap) {
    const uint64_t mask = size_ - 1;
    for (;;) {
        if (tail_ == cached_head_) {
            cached_head_ = head_ref(h_).load(std::memory_order_acquire);
            if (tail_ == cached_head_) return 0;
        }
        uint64_t avail = cached_head_ - tail_;
        uint64_t pos = tail_ & mask;
        uint64_t contig = size_ - pos;
        span_msg_hdr hh;
        if (avail > size_) goto corrupt;
        if (contig < kHdr) {  // skipped fragment
            if (avail < contig) goto corrupt;
            tail_ += contig;
            continue;
        }
        if (avail < kHdr) goto corrupt;
        std::memcpy(&hh, data_ + pos, kHdr);
        if (hh.len < kHdr || hh.len % SPAN_MSG_ALIGN || hh.len > contig || hh.len > avail)
            goto corrupt;
        if (hh.type == SPAN_MSG_PAD && hh.magic == SPAN_MAGIC) {
            if (hh.len != contig) goto corrupt;
            tail_ += hh.len;
            continue;
        }
        if (hh.len > cap) {
            tail_ += hh.len;
            return -EMSGSIZE;
        }
        // The private copy is what gets validated; the producer may change
        // the shared bytes under us, so hh.len is re-checked on the copy.
        std::memcpy(buf, data_ + pos, hh.len);
        tail_ += hh.len;
        return static_cast<long>(hh.len);
    corrupt:
        // Drop everything published so far and start over after it.
        tail_ = cached_head_;
        release();
        return -EPROTO;
    }
}

void RingConsumer::release() {
    if (tail_ != released_) {
        tail_ref(h_).store(tail_, std::memory_order_release);
        released_ = tail_;
    }
}

bool RingConsumer::pending() {
    return head_ref(h_).load(std::memory_order_relaxed) != tail_;
}

bool RingConsumer::prepare_sleep() {
    release();
    wake_ref(h_).store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (head_ref(h_).load(std::memory_order_acquire) != tail_) {
        wake_ref(h_).store(0, std::memory_order_relaxed);
        return true;
    }
    return false;
}

void RingConsumer::wake_done() {
    wake_ref(h_).store(0, std::memory_order_relaxed);
}

void RingConsumer::drain() {
    tail_ = cached_head_ = head_ref(h_).load(std::memory_order_acquire);
    release();
}

}  // namespace span
