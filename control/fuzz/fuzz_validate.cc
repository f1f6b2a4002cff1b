// libFuzzer target: message validation, topology parsing, a framed
// PEER_REPORT (mode bit 2), a framed message of any type and the payload
// validator on its payload (mode bit 3), a framed PLACED between members
// (mode bit 4), a framed MOVE to or from spand (mode bit 5) and the ring
// consumer (mode bit 0) on hostile bytes.  Must never crash, hang or read
// out of bounds.
#include <algorithm>
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

    if (mode & 4) {
        // Structured: a well-framed PEER_REPORT whose envelope and payload
        // come from the input, so the fuzzer reaches its validator deeply.
        Msg m = Msg::make(SPAN_MSG_PEER_REPORT, sizeof(span_peer_report));
        span_msg_hdr &h = m.hdr();
        if (size >= 6) {
            std::memcpy(&h.src, data, 2);
            std::memcpy(&h.dst, data + 2, 2);
            h.flags = data[4] & 7;
            h.src %= 20;  // mostly member slots, sometimes out of range
            if (data[5] & 1) h.dst = SPAN_MEMBER_SPAND;
        }
        std::memcpy(m.payload(), data + (size >= 6 ? 6 : 0),
                    std::min(size - (size >= 6 ? 6 : 0), sizeof(span_peer_report)));
        if (validate_message(m.data(), m.size()) == Reject::None) {
            auto r = m.get<span_peer_report>();
            // What spand relies on once a report validated.
            if (r.member >= SPAN_MAX_MEMBERS || r.member == h.src || h.src >= SPAN_MAX_MEMBERS ||
                h.dst != SPAN_MEMBER_SPAND || h.flags || !r.rejected ||
                r.reason == SPAN_REJECT_NONE || r.reason >= SPAN_REJECT_MAX || r.flags ||
                r.reserved)
                __builtin_trap();
        }
    }

    if ((mode & 8) && size >= 5) {
        // Structured: any type, well framed (magic, version, length), so
        // every payload validator is reached without guessing the header.
        size_t plen = std::min<size_t>(size - 5, SPAN_MSG_MAX - sizeof(span_msg_hdr)) & ~size_t(7);
        uint16_t type = static_cast<uint16_t>(2 + data[0] % (SPAN_MSG_TYPE_MAX - 2));
        Msg m = Msg::make(type, plen);
        span_msg_hdr &h = m.hdr();
        h.src = data[1] % 17 == 16 ? SPAN_MEMBER_SPAND : data[1] % 17;
        h.dst = data[2] % 18 == 16   ? SPAN_MEMBER_SPAND
                : data[2] % 18 == 17 ? SPAN_MEMBER_BROADCAST
                                     : data[2] % 18;
        h.flags = data[3] & 3;
        std::memcpy(m.payload(), data + 5, plen);
        if (data[4] & 1) {  // replies echo the seq
            h.flags |= SPAN_F_REPLY;
            if (plen >= 8) std::memcpy(&h.seq, m.payload(), 8);
        }
        if (validate_message(m.data(), m.size()) == Reject::None && type == SPAN_MSG_TOPOLOGY) {
            auto t = Topology::from_message(m);
            if (!t.ok() || !t->check().empty()) __builtin_trap();
        }

        // The payload validator on the same bytes (exact-size copy): a
        // payload it accepts, framed as it documents, is a valid message.
        std::vector<uint8_t> payload(data + 5, data + 5 + plen);
        if (span_validate_payload(type, payload.data(), payload.size()) == SPAN_REJECT_NONE) {
            Msg f = Msg::make(type, plen);
            uint64_t seq = 0;
            bool reply = type == SPAN_MSG_ACK || type == SPAN_MSG_HELLO_REPLY;
            if (type == SPAN_MSG_ACK) std::memcpy(&seq, payload.data(), 8);
            // As documented: MEMBER from spand, PEER_REPORT and MOVE to
            // spand, the rest (PLACED and the other member-to-member types
            // too) member 0 to member 1.
            bool to_spand = type == SPAN_MSG_PEER_REPORT || type == SPAN_MSG_MOVE;
            stamp(f, type == SPAN_MSG_MEMBER ? SPAN_MEMBER_SPAND : 0,
                  to_spand ? SPAN_MEMBER_SPAND : 1, seq, reply ? SPAN_F_REPLY : 0);
            if (plen) std::memcpy(f.payload(), payload.data(), plen);
            if (validate_message(f.data(), f.size()) != Reject::None) __builtin_trap();
        }
    }

    if ((mode & 16) && size >= 16) {
        // Structured: a PLACED between members, as QEMU sends it on the
        // rings: mostly one of its two forms (a generation, or the APIC ID
        // of a vCPU that arrived), sometimes both, neither or reserved
        // bits; the envelope mostly member to member, sometimes from spand,
        // to spand or broadcast, or with flags.
        Msg m = Msg::make(SPAN_MSG_PLACED, sizeof(span_placed));
        span_msg_hdr &h = m.hdr();
        h.src = data[0] % 20 == 17 ? SPAN_MEMBER_SPAND : data[0] % 20;
        h.dst = data[1] % 20 == 17   ? SPAN_MEMBER_SPAND
                : data[1] % 20 == 18 ? SPAN_MEMBER_BROADCAST
                                     : data[1] % 20;
        h.flags = (data[2] & 8) ? (data[2] >> 4) & 3 : 0;
        h.seq = data[3];
        span_placed p{};
        std::memcpy(&p.generation, data + 4, 8);
        std::memcpy(&p.arrived, data + 12, 4);
        switch (data[2] & 3) {
            case 0:
                p.arrived = SPAN_APIC_NONE;
                break;
            case 1:
                p.generation = 0;
                break;
            default:
                break;  // as the input says: both, or (rarely) neither
        }
        if (size >= 20 && (data[2] & 4)) std::memcpy(&p.reserved, data + 16, 4);
        std::memcpy(m.payload(), &p, sizeof(p));
        if (validate_message(m.data(), m.size()) == Reject::None) {
            // What a member relies on once a PLACED validated.
            if (h.src >= SPAN_MAX_MEMBERS || h.flags || p.reserved ||
                (p.generation == 0) == (p.arrived == SPAN_APIC_NONE))
                __builtin_trap();
            if (span_validate_payload(SPAN_MSG_PLACED, &p, sizeof(p)) != SPAN_REJECT_NONE)
                __builtin_trap();
        }
    }

    if ((mode & 32) && size >= 12) {
        // Structured: a MOVE as spanctl sends it to spand and spand
        // forwards it to the vCPU's host: mostly an APIC ID and a member
        // slot, sometimes SPAN_APIC_NONE, a slot out of range, flags or
        // reserved bits; the envelope mostly spanctl to spand or spand to
        // a member, sometimes a member to spand, member to member,
        // broadcast or with flags.
        Msg m = Msg::make(SPAN_MSG_MOVE, sizeof(span_move));
        span_msg_hdr &h = m.hdr();
        switch (data[0] % 6) {
            case 0:
            case 1:  // spanctl
                h.dst = SPAN_MEMBER_SPAND;
                break;
            case 2:  // spand to the host (or beyond the slots)
                h.src = SPAN_MEMBER_SPAND;
                h.dst = data[1] % 20;
                break;
            case 3:  // a member to spand (which refuses it)
                h.src = data[1] % 20;
                h.dst = SPAN_MEMBER_SPAND;
                break;
            case 4:  // member to member
                h.src = data[1] % 16;
                h.dst = data[1] / 16;
                break;
            default:
                h.src = data[1] & 1 ? SPAN_MEMBER_SPAND : data[1] % 16;
                h.dst = SPAN_MEMBER_BROADCAST;
                break;
        }
        h.flags = (data[2] & 0x80) ? (data[2] >> 4) & 3 : 0;
        h.seq = data[3];
        span_move p{};
        std::memcpy(&p.apic_id, data + 4, 4);
        std::memcpy(&p.member, data + 8, 4);
        if (!(data[2] & 1)) p.member %= 20;  // mostly a slot, sometimes beyond
        if (data[2] & 2) p.apic_id = SPAN_APIC_NONE;
        if ((data[2] & 4) && size >= 16) std::memcpy(&p.flags, data + 12, 4);
        if ((data[2] & 8) && size >= 20) std::memcpy(&p.reserved, data + 16, 4);
        std::memcpy(m.payload(), &p, sizeof(p));
        if (validate_message(m.data(), m.size()) == Reject::None) {
            // What spand and the vCPU's host rely on once a MOVE validated.
            bool to_spand = h.dst == SPAN_MEMBER_SPAND;
            bool to_host = h.src == SPAN_MEMBER_SPAND && h.dst < SPAN_MAX_MEMBERS;
            if (h.flags || !(to_spand || to_host) || p.apic_id == SPAN_APIC_NONE ||
                p.member >= SPAN_MAX_MEMBERS || p.flags || p.reserved)
                __builtin_trap();
            if (span_validate_payload(SPAN_MSG_MOVE, &p, sizeof(p)) != SPAN_REJECT_NONE)
                __builtin_trap();
        }
    }

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
