// Message validation: one function per message type.  Inputs are hostile;
// everything is copied into local structs (no aliasing or alignment
// assumptions) and every arithmetic check is done in 64 bits so nothing
// overflows.
#include "span/validate.h"

#include <linux/span.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace span {
namespace {

constexpr uint64_t kPage = 4096;

template <typename T>
bool load(T &out, const uint8_t *p, size_t n) {
    if (n != sizeof(T)) return false;
    std::memcpy(&out, p, sizeof(T));
    return true;
}

bool valid_status(int32_t s) {
    return s <= 0 && s >= -4095;
}

bool valid_member_field(uint32_t m) {
    return m < SPAN_MAX_MEMBERS || m == SPAN_MEMBER_SELF;
}

// [gfn, gfn + nr) inside the guest-physical frame space, non-empty.
bool valid_gfn_range(uint64_t gfn, uint64_t nr) {
    return nr >= 1 && gfn < SPAN_GFN_LIMIT && nr <= SPAN_GFN_LIMIT - gfn;
}

bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

bool unique_ids(std::vector<uint32_t> &ids) {
    std::sort(ids.begin(), ids.end());
    return std::adjacent_find(ids.begin(), ids.end()) == ids.end();
}

}  // namespace

const char *reject_str(Reject r) {
    switch (r) {
        case Reject::None:
            return "none";
        case Reject::Truncated:
            return "truncated";
        case Reject::Oversized:
            return "oversized";
        case Reject::Misaligned:
            return "misaligned";
        case Reject::Magic:
            return "bad-magic";
        case Reject::Version:
            return "bad-version";
        case Reject::Type:
            return "bad-type";
        case Reject::Flags:
            return "bad-flags";
        case Reject::Reserved:
            return "reserved-nonzero";
        case Reject::Address:
            return "bad-address";
        case Reject::Size:
            return "bad-size";
        case Reject::Field:
            return "bad-field";
        case Reject::Range:
            return "out-of-range";
        case Reject::Count:
            return "bad-count";
        case Reject::Duplicate:
            return "duplicate";
        case Reject::Name:
            return "bad-name";
    }
    return "unknown";
}

bool valid_name(const char (&name)[32], bool allow_empty) {
    size_t len = strnlen(name, SPAN_NAME_LEN);
    if (len == SPAN_NAME_LEN) return false;  // no NUL
    if (len == 0 && !allow_empty) return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    if (len && name[0] == '.') return false;
    for (size_t i = len; i < SPAN_NAME_LEN; i++)
        if (name[i]) return false;
    return true;
}

bool valid_name_str(const char *s) {
    char buf[SPAN_NAME_LEN] = {};
    size_t len = strlen(s);
    if (len == 0 || len >= SPAN_NAME_LEN) return false;
    std::memcpy(buf, s, len);
    return valid_name(buf, false);
}

Reject validate_header(const void *buf, size_t len) {
    if (len < sizeof(span_msg_hdr)) return Reject::Truncated;
    span_msg_hdr h;
    std::memcpy(&h, buf, sizeof(h));
    if (h.magic != SPAN_MAGIC) return Reject::Magic;
    if (h.len > SPAN_MSG_MAX || len > SPAN_MSG_MAX) return Reject::Oversized;
    if (h.len < sizeof(span_msg_hdr) || h.len > len) return Reject::Truncated;
    if (h.len < len) return Reject::Oversized;  // trailing bytes
    if (h.len % SPAN_MSG_ALIGN) return Reject::Misaligned;
    if (h.type == SPAN_MSG_HELLO) {
        if (h.version < SPAN_PROTO_VERSION_MIN) return Reject::Version;
    } else if (h.version != SPAN_PROTO_VERSION) {
        return Reject::Version;
    }
    if (h.type <= SPAN_MSG_PAD || h.type >= SPAN_MSG_TYPE_MAX) return Reject::Type;
    if (h.flags & ~SPAN_F_VALID_MASK) return Reject::Flags;
    if (h.reserved0 || h.reserved1) return Reject::Reserved;
    if (h.src >= SPAN_MAX_MEMBERS && h.src != SPAN_MEMBER_SPAND) return Reject::Address;
    if (h.dst >= SPAN_MAX_MEMBERS && h.dst != SPAN_MEMBER_SPAND && h.dst != SPAN_MEMBER_BROADCAST)
        return Reject::Address;
    if (h.src == h.dst) return Reject::Address;
    return Reject::None;
}

Reject validate_hello(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_hello m;
    if (!load(m, p, n)) return Reject::Size;
    if (m.reserved || m.reserved2) return Reject::Reserved;
    if (m.version_min < 1 || m.version_min > m.version_max) return Reject::Version;
    if (m.role != SPAN_ROLE_MEMBER && m.role != SPAN_ROLE_CONTROL) return Reject::Field;
    if (m.caps & ~SPAN_CAP_VALID_MASK) return Reject::Field;
    bool member = m.role == SPAN_ROLE_MEMBER;
    if (!valid_name(m.vm_name, !member) || !valid_name(m.member_name, !member)) return Reject::Name;
    return Reject::None;
}

Reject validate_hello_reply(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_hello_reply m;
    if (!load(m, p, n)) return Reject::Size;
    if (m.reserved || m.reserved2) return Reject::Reserved;
    if (!valid_status(m.status)) return Reject::Field;
    if (m.status < 0) return m.nr_fds == 0 ? Reject::None : Reject::Count;
    if (m.version < SPAN_PROTO_VERSION_MIN || m.version > SPAN_PROTO_VERSION)
        return Reject::Version;
    if (m.flags & ~(SPAN_VM_HUGEPAGES | SPAN_VM_IN_DEVICE)) return Reject::Field;
    if (m.max_members == 0) {  // control session: no VM resources
        if (m.flags & SPAN_VM_IN_DEVICE) return Reject::Field;
        if (m.nr_fds || m.mem_size || m.chan_size || m.ring_size) return Reject::Field;
        return Reject::None;
    }
    if (m.max_members < 2 || m.max_members > SPAN_MAX_MEMBERS) return Reject::Count;
    if (m.member_id >= m.max_members) return Reject::Address;
    if (!is_pow2(m.ring_size) || m.ring_size < SPAN_RING_SIZE_MIN ||
        m.ring_size > SPAN_RING_SIZE_MAX)
        return Reject::Range;
    if (m.mem_size == 0 || m.mem_size % kPage || m.mem_size > SPAN_GPA_LIMIT) return Reject::Range;
    if (m.chan_size != chan_size(m.max_members, m.ring_size)) return Reject::Range;
    // span-pci (full nesting): the fds stay in L0 QEMU's device.
    uint32_t fds = (m.flags & SPAN_VM_IN_DEVICE) ? 0 : SPAN_FD_DOORBELL0 + m.max_members;
    if (m.nr_fds != fds) return Reject::Count;
    return Reject::None;
}

Reject validate_ack(const span_msg_hdr &h, const uint8_t *p, size_t n) {
    span_ack m;
    if (!load(m, p, n)) return Reject::Size;
    if (!(h.flags & SPAN_F_REPLY)) return Reject::Flags;
    if (m.reserved) return Reject::Reserved;
    if (!valid_status(m.status)) return Reject::Field;
    if (m.req_seq != h.seq) return Reject::Field;
    return Reject::None;
}

Reject validate_topology(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_topology t;
    if (n < sizeof(t)) return Reject::Size;
    std::memcpy(&t, p, sizeof(t));
    if (t.nr_vcpus > SPAN_MAX_VCPUS || t.nr_devices > SPAN_MAX_DEVICES) return Reject::Count;
    uint64_t want = sizeof(t) + (uint64_t(t.nr_vcpus) + t.nr_devices) * sizeof(span_topo_entry);
    if (n != want) return Reject::Size;
    std::vector<uint32_t> ids;
    const uint8_t *e = p + sizeof(t);
    for (int list = 0; list < 2; list++) {
        uint32_t cnt = list == 0 ? t.nr_vcpus : t.nr_devices;
        ids.clear();
        for (uint32_t i = 0; i < cnt; i++, e += sizeof(span_topo_entry)) {
            span_topo_entry te;
            std::memcpy(&te, e, sizeof(te));
            if (te.id == SPAN_APIC_NONE) return Reject::Field;
            if (te.member >= SPAN_MAX_MEMBERS) return Reject::Address;
            ids.push_back(te.id);
        }
        if (!unique_ids(ids)) return Reject::Duplicate;
    }
    return Reject::None;
}

Reject validate_empty(const span_msg_hdr &, const uint8_t *, size_t n) {
    return n == 0 ? Reject::None : Reject::Size;
}

Reject validate_interrupt(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_interrupt m;
    if (!load(m, p, n)) return Reject::Size;
    if (m.reserved) return Reject::Reserved;
    if (m.dest_mode > SPAN_DEST_LOGICAL || m.shorthand > SPAN_SH_ALL_EXCL || m.trigger > 1 ||
        m.level > 1 || m.x2apic > 1)
        return Reject::Field;
    switch (m.delivery) {
        case SPAN_DM_FIXED:
        case SPAN_DM_LOWEST:
            if (m.vector < 16) return Reject::Field;  // vectors 0-15 are illegal
            break;
        case SPAN_DM_NMI:
        case SPAN_DM_INIT:
            if (m.vector != 0) return Reject::Field;
            break;
        case SPAN_DM_SIPI:
            break;  // vector = start page
        case SPAN_DM_REMRD:
            // KVM's PV kick wakes one vCPU halted on a spinlock: physical only
            if (m.vector != 0 || m.trigger) return Reject::Field;
            if (m.dest_mode != SPAN_DEST_PHYSICAL || m.shorthand != SPAN_SH_NONE)
                return Reject::Field;
            break;
        default:
            return Reject::Field;
    }
    // Edge-triggered interrupts always assert; only INIT may de-assert.
    if (m.level == 0 && !(m.delivery == SPAN_DM_INIT && m.trigger == 1)) return Reject::Field;
    // "self" is only defined for fixed delivery; lowest priority to all is not.
    if (m.shorthand == SPAN_SH_SELF && m.delivery != SPAN_DM_FIXED) return Reject::Field;
    if (m.delivery == SPAN_DM_LOWEST && m.shorthand != SPAN_SH_NONE) return Reject::Field;
    if (m.shorthand == SPAN_SH_NONE && !m.x2apic && m.dest > 0xff) return Reject::Range;
    if (m.shorthand != SPAN_SH_NONE && m.dest != 0) return Reject::Field;
    return Reject::None;
}

namespace {
Reject validate_io_req(const uint8_t *p, size_t n, bool pio) {
    span_io_req m;
    if (!load(m, p, n)) return Reject::Size;
    if ((m.flags & ~SPAN_IO_F_POSTED) || m.reserved2) return Reject::Reserved;
    if (m.is_write > 1) return Reject::Field;
    if (m.size != 1 && m.size != 2 && m.size != 4 && (pio || m.size != 8)) return Reject::Field;
    bool posted = m.flags & SPAN_IO_F_POSTED;
    if (posted && !m.is_write) return Reject::Field;
    if (m.vcpu == SPAN_APIC_NONE && !posted) return Reject::Field;
    uint64_t limit = pio ? 0x10000 : SPAN_GPA_LIMIT;
    if (m.addr >= limit || m.size > limit - m.addr) return Reject::Range;
    if (!m.is_write && m.data) return Reject::Field;
    if (m.size < 8 && (m.data >> (8 * m.size))) return Reject::Range;
    return Reject::None;
}
}  // namespace

Reject validate_mmio_req(const span_msg_hdr &, const uint8_t *p, size_t n) {
    return validate_io_req(p, n, false);
}

Reject validate_pio_req(const span_msg_hdr &, const uint8_t *p, size_t n) {
    return validate_io_req(p, n, true);
}

Reject validate_ioeventfd(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_ioeventfd m;
    if (!load(m, p, n)) return Reject::Size;
    if (m.reserved || (m.flags & ~SPAN_IOEVENTFD_F_VALID)) return Reject::Reserved;
    if (m.op != SPAN_IOEVENTFD_ADD && m.op != SPAN_IOEVENTFD_DEL) return Reject::Field;
    bool pio = m.flags & SPAN_IOEVENTFD_F_PIO;
    bool match = m.flags & SPAN_IOEVENTFD_F_DATAMATCH;
    if (m.size == 0) {
        // "any size" exists for MMIO without datamatch only
        if (pio || match) return Reject::Field;
    } else if (m.size != 1 && m.size != 2 && m.size != 4 && (pio || m.size != 8)) {
        return Reject::Field;
    }
    uint64_t limit = pio ? 0x10000 : SPAN_GPA_LIMIT;
    uint64_t len = m.size ? m.size : 1;
    if (m.addr >= limit || len > limit - m.addr) return Reject::Range;
    if (!match && m.data) return Reject::Field;
    if (match && m.size < 8 && (m.data >> (8 * m.size))) return Reject::Range;
    return Reject::None;
}

Reject validate_eoi(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_eoi m;
    if (!load(m, p, n)) return Reject::Size;
    if (m.reserved) return Reject::Reserved;
    if (m.vector < 16 || m.vector > 255) return Reject::Field;
    return Reject::None;
}

Reject validate_io_resp(const span_msg_hdr &h, const uint8_t *p, size_t n) {
    span_io_resp m;
    if (!load(m, p, n)) return Reject::Size;
    if (m.reserved) return Reject::Reserved;
    if (!valid_status(m.status)) return Reject::Field;
    if (m.status && m.data) return Reject::Field;
    if (h.type == SPAN_MSG_PIO_RESP && (m.data >> 32)) return Reject::Range;
    return Reject::None;
}

Reject validate_msi(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_msi m;
    if (!load(m, p, n)) return Reject::Size;
    if ((m.addr & 0xfff00000u) != 0xfee00000u) return Reject::Range;
    if ((m.addr >> 32) > 0xffffffu) return Reject::Range;  // 24-bit extended destination
    if (m.data >> 16) return Reject::Reserved;
    return Reject::None;
}

Reject validate_mem_subscribe(const span_msg_hdr &h, const uint8_t *p, size_t n) {
    span_mem_subscribe m;
    if (!load(m, p, n)) return Reject::Size;
    if (!valid_gfn_range(m.gfn, m.nr_pages)) return Reject::Range;
    if (!m.access || (m.access & ~SPAN_ACCESS_MASK)) return Reject::Field;
    if (!valid_member_field(m.member)) return Reject::Address;
    // Requests carry no id (spand assigns it); spand's notifications carry
    // the id and a concrete subscriber.
    if (h.src == SPAN_MEMBER_SPAND) {
        if (!m.sub_id || m.member == SPAN_MEMBER_SELF) return Reject::Field;
    } else if (m.sub_id) {
        return Reject::Field;
    }
    return Reject::None;
}

Reject validate_mem_unsubscribe(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_mem_unsubscribe m;
    if (!load(m, p, n)) return Reject::Size;
    return m.sub_id ? Reject::None : Reject::Field;
}

Reject validate_mem_event(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_mem_event m;
    if (!load(m, p, n)) return Reject::Size;
    if (!m.sub_id) return Reject::Field;
    if (m.gpa >= SPAN_GPA_LIMIT) return Reject::Range;
    if ((m.access & ~SPAN_ACCESS_MASK) || !is_pow2(m.access)) return Reject::Field;
    if (m.vcpu == SPAN_APIC_NONE) return Reject::Field;
    return Reject::None;
}

Reject validate_mem_reply(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_mem_reply m;
    if (!load(m, p, n)) return Reject::Size;
    if (m.reserved || m.reserved2) return Reject::Reserved;
    if (!m.sub_id) return Reject::Field;
    if (m.action > SPAN_MEM_DENY || m.keep > SPAN_MEM_DROP) return Reject::Field;
    return Reject::None;
}

Reject validate_wt_publish(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_wt_publish m;
    if (n < sizeof(m)) return Reject::Size;
    std::memcpy(&m, p, sizeof(m));
    if (m.nr_ranges < 1 || m.nr_ranges > SPAN_MAX_RANGES) return Reject::Count;
    if (n != sizeof(m) + uint64_t(m.nr_ranges) * sizeof(span_gfn_range)) return Reject::Size;
    if (m.op != SPAN_WT_ADD && m.op != SPAN_WT_REMOVE) return Reject::Field;
    if (!m.generation) return Reject::Field;
    for (uint32_t i = 0; i < m.nr_ranges; i++) {
        span_gfn_range r;
        std::memcpy(&r, p + sizeof(m) + i * sizeof(r), sizeof(r));
        if (!valid_gfn_range(r.gfn, r.nr_pages)) return Reject::Range;
    }
    return Reject::None;
}

Reject validate_wt_ack(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_wt_ack m;
    if (!load(m, p, n)) return Reject::Size;
    if (m.reserved) return Reject::Reserved;
    if (!valid_status(m.status)) return Reject::Field;
    if (!m.generation) return Reject::Field;
    return Reject::None;
}

Reject validate_wt_invalidate(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_wt_invalidate m;
    if (!load(m, p, n)) return Reject::Size;
    if (m.reserved) return Reject::Reserved;
    if (!m.generation) return Reject::Field;
    if (!valid_gfn_range(m.gfn, m.nr_pages)) return Reject::Range;
    return Reject::None;
}

Reject validate_attach(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_attach m;
    if (!load(m, p, n)) return Reject::Size;
    if (m.flags) return Reject::Reserved;
    if (!valid_member_field(m.member)) return Reject::Address;
    switch (m.kind) {
        case SPAN_ATTACH_MEMORY:
            if (m.id) return Reject::Field;
            if (m.gpa % kPage || m.size % kPage) return Reject::Range;
            if (m.gpa >= SPAN_GPA_LIMIT || m.size > SPAN_GPA_LIMIT - m.gpa) return Reject::Range;
            return Reject::None;
        case SPAN_ATTACH_VCPU:
        case SPAN_ATTACH_DEVICE:
            if (m.id == SPAN_APIC_NONE) return Reject::Field;
            if (m.gpa || m.size) return Reject::Field;
            return Reject::None;
        default:
            return Reject::Field;
    }
}

Reject validate_vcpu_state(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_vcpu_state m;
    if (n < sizeof(m)) return Reject::Size;
    std::memcpy(&m, p, sizeof(m));
    if (m.apic_id == SPAN_APIC_NONE) return Reject::Field;
    uint64_t padded = (uint64_t(m.chunk_len) + SPAN_MSG_ALIGN - 1) & ~uint64_t(SPAN_MSG_ALIGN - 1);
    if (n != sizeof(m) + padded) return Reject::Size;
    if (m.total_len == 0 || m.total_len > SPAN_VCPU_STATE_MAX) return Reject::Range;
    if (m.chunk_len == 0 || uint64_t(m.offset) + m.chunk_len > m.total_len) return Reject::Range;
    if (!all_zero(p + sizeof(m) + m.chunk_len, padded - m.chunk_len)) return Reject::Reserved;
    return Reject::None;
}

Reject validate_reset(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_reset m;
    if (!load(m, p, n)) return Reject::Size;
    if (m.flags) return Reject::Reserved;
    if (m.reason < SPAN_REASON_GUEST || m.reason >= SPAN_REASON_MAX) return Reject::Field;
    return Reject::None;
}

Reject validate_heartbeat(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_heartbeat m;
    return load(m, p, n) ? Reject::None : Reject::Size;
}

Reject validate_vm_state(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_vm_state m;
    if (!load(m, p, n)) return Reject::Size;
    if (m.state < SPAN_VM_RUNNING || m.state > SPAN_VM_SHUTDOWN) return Reject::Field;
    if (m.reason >= SPAN_REASON_MAX) return Reject::Field;
    return Reject::None;
}

Reject validate_member_event(const span_msg_hdr &h, const uint8_t *p, size_t n) {
    span_member_event m;
    if (!load(m, p, n)) return Reject::Size;
    if (h.src != SPAN_MEMBER_SPAND || h.flags) return Reject::Address;
    if (m.member >= SPAN_MAX_MEMBERS) return Reject::Address;
    if (!valid_name(m.name, false)) return Reject::Name;
    if (m.event == SPAN_MEMBER_JOINED) return m.reason ? Reject::Field : Reject::None;
    if (m.event != SPAN_MEMBER_LEFT) return Reject::Field;
    if (m.reason == SPAN_LEFT_NONE || m.reason >= SPAN_LEFT_MAX) return Reject::Field;
    return Reject::None;
}

// From a member: either the generation of a TOPOLOGY or the APIC ID of a
// vCPU that arrived, never both.
Reject validate_placed(const span_msg_hdr &h, const uint8_t *p, size_t n) {
    span_placed m;
    if (!load(m, p, n)) return Reject::Size;
    if (h.src >= SPAN_MAX_MEMBERS || h.flags) return Reject::Address;
    if (m.reserved) return Reject::Reserved;
    if ((m.arrived == SPAN_APIC_NONE) == (m.generation == 0)) return Reject::Field;
    return Reject::None;
}

// spanctl's request to spand, or spand's to the member hosting the vCPU:
// a request (no flags) to spand or from spand to one member slot.
Reject validate_move(const span_msg_hdr &h, const uint8_t *p, size_t n) {
    span_move m;
    if (!load(m, p, n)) return Reject::Size;
    if (h.flags) return Reject::Flags;
    if (h.dst != SPAN_MEMBER_SPAND && (h.src != SPAN_MEMBER_SPAND || h.dst >= SPAN_MAX_MEMBERS))
        return Reject::Address;
    if (m.flags || m.reserved) return Reject::Reserved;
    if (m.apic_id == SPAN_APIC_NONE) return Reject::Field;
    if (m.member >= SPAN_MAX_MEMBERS) return Reject::Address;
    return Reject::None;
}

Reject validate_ctl_create(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_ctl_create m;
    if (!load(m, p, n)) return Reject::Size;
    if (m.reserved) return Reject::Reserved;
    if (!valid_name(m.name, false)) return Reject::Name;
    if (m.flags & ~SPAN_VM_HUGEPAGES) return Reject::Field;
    uint64_t align = (m.flags & SPAN_VM_HUGEPAGES) ? (2u << 20) : kPage;
    if (m.mem_size == 0 || m.mem_size % align || m.mem_size > SPAN_GPA_LIMIT) return Reject::Range;
    if (m.ring_size && (!is_pow2(m.ring_size) || m.ring_size < SPAN_RING_SIZE_MIN ||
                        m.ring_size > SPAN_RING_SIZE_MAX))
        return Reject::Range;
    if (m.max_members && (m.max_members < 2 || m.max_members > SPAN_MAX_MEMBERS))
        return Reject::Count;
    return Reject::None;
}

Reject validate_ctl_name(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_ctl_name m;
    if (!load(m, p, n)) return Reject::Size;
    return valid_name(m.name, false) ? Reject::None : Reject::Name;
}

Reject validate_ctl_vm_info(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_ctl_vm_info m;
    if (!load(m, p, n)) return Reject::Size;
    if (!valid_name(m.name, false)) return Reject::Name;
    if (m.state < SPAN_VM_RUNNING || m.state > SPAN_VM_SHUTDOWN) return Reject::Field;
    if (m.reason >= SPAN_REASON_MAX || (m.flags & ~SPAN_VM_HUGEPAGES)) return Reject::Field;
    if (m.max_members > SPAN_MAX_MEMBERS || m.nr_members > m.max_members) return Reject::Count;
    if (m.nr_vcpus > SPAN_MAX_VCPUS || m.nr_devices > SPAN_MAX_DEVICES) return Reject::Count;
    return Reject::None;
}

Reject validate_ctl_member_info(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_ctl_member_info m;
    if (!load(m, p, n)) return Reject::Size;
    if (!valid_name(m.name, false)) return Reject::Name;
    if (m.member_id >= SPAN_MAX_MEMBERS) return Reject::Address;
    if (m.caps & ~SPAN_CAP_VALID_MASK) return Reject::Field;
    if (m.rejected > m.msgs) return Reject::Count;
    if (m.mem_gpa >= SPAN_GPA_LIMIT || m.mem_size > SPAN_GPA_LIMIT - m.mem_gpa)
        return Reject::Range;
    return Reject::None;
}

Reject validate_ctl_sub_info(const span_msg_hdr &, const uint8_t *p, size_t n) {
    span_mem_subscribe m;
    if (!load(m, p, n)) return Reject::Size;
    if (!m.sub_id) return Reject::Field;
    if (m.member >= SPAN_MAX_MEMBERS) return Reject::Address;
    if (!valid_gfn_range(m.gfn, m.nr_pages)) return Reject::Range;
    if (!m.access || (m.access & ~SPAN_ACCESS_MASK)) return Reject::Field;
    return Reject::None;
}

Reject validate_peer_report(const span_msg_hdr &h, const uint8_t *p, size_t n) {
    span_peer_report m;
    if (!load(m, p, n)) return Reject::Size;
    if (m.flags || m.reserved) return Reject::Reserved;
    // A request from a member slot to spand; never a reply.
    if (h.flags) return Reject::Flags;
    if (h.src >= SPAN_MAX_MEMBERS || h.dst != SPAN_MEMBER_SPAND) return Reject::Address;
    if (m.member >= SPAN_MAX_MEMBERS || m.member == h.src) return Reject::Address;
    if (m.reason == SPAN_REJECT_NONE || m.reason >= SPAN_REJECT_MAX) return Reject::Field;
    if (m.rejected == 0) return Reject::Count;
    return Reject::None;
}

Reject validate_message(const void *buf, size_t len) {
    Reject r = validate_header(buf, len);
    if (r != Reject::None) return r;
    span_msg_hdr h;
    std::memcpy(&h, buf, sizeof(h));
    const uint8_t *p = static_cast<const uint8_t *>(buf) + sizeof(h);
    return validate_body(h, p, h.len - sizeof(h));
}

Reject validate_payload(uint16_t type, const void *payload, size_t n) {
    if (n > SPAN_MSG_MAX - sizeof(span_msg_hdr)) return Reject::Oversized;
    if (n % SPAN_MSG_ALIGN) return Reject::Misaligned;
    if (type <= SPAN_MSG_PAD || type >= SPAN_MSG_TYPE_MAX) return Reject::Type;
    if (n && !payload) return Reject::Truncated;
    span_msg_hdr h{};
    h.magic = SPAN_MAGIC;
    h.version = SPAN_PROTO_VERSION;
    h.type = type;
    h.len = static_cast<uint32_t>(sizeof(h) + n);
    h.src = 0;
    h.dst = 1;
    // What the header contributes: a reply flag and seq, spand's address.
    if (type == SPAN_MSG_ACK && n >= sizeof(span_ack)) {
        h.flags = SPAN_F_REPLY;
        std::memcpy(&h.seq, payload, sizeof(h.seq));  // span_ack.req_seq
    } else if (type == SPAN_MSG_HELLO_REPLY) {
        h.flags = SPAN_F_REPLY;
    } else if (type == SPAN_MSG_PEER_REPORT || type == SPAN_MSG_MOVE) {
        h.dst = SPAN_MEMBER_SPAND;
    } else if (type == SPAN_MSG_MEMBER) {
        h.src = SPAN_MEMBER_SPAND;
    }
    return validate_body(h, static_cast<const uint8_t *>(payload), n);
}

Reject validate_body(const span_msg_hdr &h, const uint8_t *p, size_t n) {
    switch (h.type) {
        case SPAN_MSG_HELLO:
            return validate_hello(h, p, n);
        case SPAN_MSG_HELLO_REPLY:
            return validate_hello_reply(h, p, n);
        case SPAN_MSG_ACK:
            return validate_ack(h, p, n);
        case SPAN_MSG_TOPOLOGY:
            return validate_topology(h, p, n);
        case SPAN_MSG_TOPOLOGY_GET:
        case SPAN_MSG_CTL_LIST:
            return validate_empty(h, p, n);
        case SPAN_MSG_INTERRUPT:
            return validate_interrupt(h, p, n);
        case SPAN_MSG_MMIO_REQ:
            return validate_mmio_req(h, p, n);
        case SPAN_MSG_PIO_REQ:
            return validate_pio_req(h, p, n);
        case SPAN_MSG_MMIO_RESP:
        case SPAN_MSG_PIO_RESP:
            return validate_io_resp(h, p, n);
        case SPAN_MSG_MSI:
            return validate_msi(h, p, n);
        case SPAN_MSG_MEM_SUBSCRIBE:
            return validate_mem_subscribe(h, p, n);
        case SPAN_MSG_MEM_UNSUBSCRIBE:
            return validate_mem_unsubscribe(h, p, n);
        case SPAN_MSG_MEM_EVENT:
            return validate_mem_event(h, p, n);
        case SPAN_MSG_MEM_REPLY:
            return validate_mem_reply(h, p, n);
        case SPAN_MSG_WT_PUBLISH:
            return validate_wt_publish(h, p, n);
        case SPAN_MSG_WT_ACK:
            return validate_wt_ack(h, p, n);
        case SPAN_MSG_WT_INVALIDATE:
            return validate_wt_invalidate(h, p, n);
        case SPAN_MSG_ATTACH:
        case SPAN_MSG_DETACH:
            return validate_attach(h, p, n);
        case SPAN_MSG_VCPU_STATE:
            return validate_vcpu_state(h, p, n);
        case SPAN_MSG_RESET:
        case SPAN_MSG_SHUTDOWN:
            return validate_reset(h, p, n);
        case SPAN_MSG_HEARTBEAT:
            return validate_heartbeat(h, p, n);
        case SPAN_MSG_VM_STATE:
            return validate_vm_state(h, p, n);
        case SPAN_MSG_CTL_CREATE:
            return validate_ctl_create(h, p, n);
        case SPAN_MSG_CTL_DESTROY:
        case SPAN_MSG_CTL_SHOW:
            return validate_ctl_name(h, p, n);
        case SPAN_MSG_CTL_VM_INFO:
            return validate_ctl_vm_info(h, p, n);
        case SPAN_MSG_CTL_MEMBER_INFO:
            return validate_ctl_member_info(h, p, n);
        case SPAN_MSG_CTL_SUB_INFO:
            return validate_ctl_sub_info(h, p, n);
        case SPAN_MSG_PEER_REPORT:
            return validate_peer_report(h, p, n);
        case SPAN_MSG_IOEVENTFD:
            return validate_ioeventfd(h, p, n);
        case SPAN_MSG_EOI:
            return validate_eoi(h, p, n);
        case SPAN_MSG_MEMBER:
            return validate_member_event(h, p, n);
        case SPAN_MSG_PLACED:
            return validate_placed(h, p, n);
        case SPAN_MSG_MOVE:
            return validate_move(h, p, n);
    }
    return Reject::Type;
}

}  // namespace span

extern "C" {

int span_validate(const void *buf, size_t len) {
    if (!buf) return SPAN_REJECT_TRUNCATED;
    return static_cast<int>(span::validate_message(buf, len));
}

int span_validate_payload(uint16_t type, const void *payload, size_t size) {
    return static_cast<int>(span::validate_payload(type, payload, size));
}

const char *span_reject_str(int reject) {
    if (reject < 0 || reject >= SPAN_REJECT_MAX) return "unknown";
    return span::reject_str(static_cast<span::Reject>(reject));
}

const char *span_msg_type_str(unsigned type) {
    static const char *const names[] = {"invalid",      "pad",           "hello",
                                        "hello-reply",  "ack",           "topology",
                                        "topology-get", "interrupt",     "mmio-req",
                                        "mmio-resp",    "pio-req",       "pio-resp",
                                        "msi",          "mem-subscribe", "mem-unsubscribe",
                                        "mem-event",    "mem-reply",     "wt-publish",
                                        "wt-ack",       "wt-invalidate", "attach",
                                        "detach",       "vcpu-state",    "reset",
                                        "shutdown",     "heartbeat",     "vm-state",
                                        "ctl-create",   "ctl-destroy",   "ctl-list",
                                        "ctl-show",     "ctl-vm-info",   "ctl-member-info",
                                        "ctl-sub-info", "peer-report",   "ioeventfd",
                                        "eoi",          "member",        "placed",
                                        "move"};
    static_assert(sizeof(names) / sizeof(names[0]) == SPAN_MSG_TYPE_MAX);
    return type < SPAN_MSG_TYPE_MAX ? names[type] : "unknown";
}

}  // extern "C"
