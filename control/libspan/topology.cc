#include "span/topology.h"

#include <cerrno>

namespace span {

Status Topology::add_member(uint32_t member) {
    if (member >= SPAN_MAX_MEMBERS) return Error{EINVAL, "member id out of range"};
    if (!members_.insert(member).second) return Error{EEXIST, "member already present"};
    return {};
}

Status Topology::attach_vcpu(uint32_t apic, uint32_t member) {
    if (apic == SPAN_APIC_NONE) return Error{EINVAL, "invalid APIC ID"};
    if (!has_member(member)) return Error{ENOENT, "no such member"};
    auto it = vcpu_host_.find(apic);
    if (it != vcpu_host_.end())
        return it->second == member ? Error{EEXIST, "vCPU already hosted by this member"}
                                    : Error{EBUSY, "vCPU hosted by another member"};
    if (vcpu_host_.size() >= SPAN_MAX_VCPUS) return Error{ENOSPC, "too many vCPUs"};
    unhosted_.erase(apic);
    vcpu_host_[apic] = member;
    by_member_vcpus_[member].insert(apic);
    gen_++;
    return {};
}

Status Topology::detach_vcpu(uint32_t apic, uint32_t member) {
    auto it = vcpu_host_.find(apic);
    if (it == vcpu_host_.end()) return Error{ENOENT, "vCPU not hosted"};
    if (it->second != member) return Error{EPERM, "vCPU hosted by another member"};
    vcpu_host_.erase(it);
    by_member_vcpus_[member].erase(apic);
    gen_++;
    return {};
}

Status Topology::move_vcpu(uint32_t apic, uint32_t from, uint32_t to) {
    if (!has_member(to)) return Error{ENOENT, "no such member"};
    auto it = vcpu_host_.find(apic);
    if (it == vcpu_host_.end()) return Error{ENOENT, "vCPU not hosted"};
    if (it->second != from) return Error{EPERM, "vCPU not hosted by the source member"};
    if (from == to) return {};
    it->second = to;
    by_member_vcpus_[from].erase(apic);
    by_member_vcpus_[to].insert(apic);
    gen_++;
    return {};
}

Status Topology::attach_device(uint32_t dev, uint32_t member) {
    if (dev == SPAN_DEVICE_NONE) return Error{EINVAL, "invalid device id"};
    if (!has_member(member)) return Error{ENOENT, "no such member"};
    auto it = dev_owner_.find(dev);
    if (it != dev_owner_.end())
        return it->second == member ? Error{EEXIST, "device already owned by this member"}
                                    : Error{EBUSY, "device owned by another member"};
    if (dev_owner_.size() >= SPAN_MAX_DEVICES) return Error{ENOSPC, "too many devices"};
    dev_owner_[dev] = member;
    by_member_devs_[member].insert(dev);
    gen_++;
    return {};
}

Status Topology::detach_device(uint32_t dev, uint32_t member) {
    auto it = dev_owner_.find(dev);
    if (it == dev_owner_.end()) return Error{ENOENT, "device not owned"};
    if (it->second != member) return Error{EPERM, "device owned by another member"};
    dev_owner_.erase(it);
    by_member_devs_[member].erase(dev);
    gen_++;
    return {};
}

Topology::Removed Topology::remove_member(uint32_t member) {
    Removed r;
    if (!members_.erase(member)) return r;
    for (uint32_t apic : by_member_vcpus_[member]) {
        vcpu_host_.erase(apic);
        unhosted_.insert(apic);
        r.vcpus.push_back(apic);
    }
    for (uint32_t dev : by_member_devs_[member]) {
        dev_owner_.erase(dev);
        r.devices.push_back(dev);
    }
    by_member_vcpus_.erase(member);
    by_member_devs_.erase(member);
    gen_++;
    return r;
}

std::optional<uint32_t> Topology::vcpu_host(uint32_t apic) const {
    auto it = vcpu_host_.find(apic);
    if (it == vcpu_host_.end()) return std::nullopt;
    return it->second;
}

std::optional<uint32_t> Topology::device_owner(uint32_t dev) const {
    auto it = dev_owner_.find(dev);
    if (it == dev_owner_.end()) return std::nullopt;
    return it->second;
}

size_t Topology::vcpus_hosted_by(uint32_t member) const {
    auto it = by_member_vcpus_.find(member);
    return it == by_member_vcpus_.end() ? 0 : it->second.size();
}

size_t Topology::devices_owned_by(uint32_t member) const {
    auto it = by_member_devs_.find(member);
    return it == by_member_devs_.end() ? 0 : it->second.size();
}

std::string Topology::check() const {
    size_t indexed = 0;
    for (auto &[m, set] : by_member_vcpus_) {
        if (!set.empty() && !members_.count(m)) return "vCPUs indexed under a non-member";
        for (uint32_t apic : set) {
            auto it = vcpu_host_.find(apic);
            if (it == vcpu_host_.end() || it->second != m) return "vCPU index disagrees with map";
            indexed++;
        }
    }
    if (indexed != vcpu_host_.size()) return "a vCPU has no host in the index or more than one";
    for (auto &[apic, m] : vcpu_host_) {
        if (!members_.count(m)) return "vCPU hosted by a non-member";
        if (unhosted_.count(apic)) return "vCPU both hosted and unhosted";
    }
    indexed = 0;
    for (auto &[m, set] : by_member_devs_) {
        if (!set.empty() && !members_.count(m)) return "devices indexed under a non-member";
        for (uint32_t dev : set) {
            auto it = dev_owner_.find(dev);
            if (it == dev_owner_.end() || it->second != m) return "device index disagrees with map";
            indexed++;
        }
    }
    if (indexed != dev_owner_.size()) return "a device has no owner in the index or more than one";
    for (auto &[dev, m] : dev_owner_)
        if (!members_.count(m)) return "device owned by a non-member";
    return {};
}

Msg Topology::to_message() const {
    size_t n = vcpu_host_.size() + dev_owner_.size();
    span_topology t{};
    t.generation = gen_;
    t.nr_vcpus = static_cast<uint32_t>(vcpu_host_.size());
    t.nr_devices = static_cast<uint32_t>(dev_owner_.size());
    Msg m = Msg::of(SPAN_MSG_TOPOLOGY, t, n * sizeof(span_topo_entry));
    uint8_t *e = m.payload() + sizeof(t);
    for (auto *map : {&vcpu_host_, &dev_owner_})
        for (auto &[id, member] : *map) {
            span_topo_entry te{id, member};
            std::memcpy(e, &te, sizeof(te));
            e += sizeof(te);
        }
    return m;
}

Result<Topology> Topology::from_message(const Msg &m) {
    if (m.type() != SPAN_MSG_TOPOLOGY || validate_message(m.data(), m.size()) != Reject::None)
        return Error{EBADMSG, "not a valid topology message"};
    auto t = m.get<span_topology>();
    Topology topo;
    size_t off = sizeof(t);
    for (uint32_t i = 0; i < t.nr_vcpus + t.nr_devices; i++, off += sizeof(span_topo_entry)) {
        auto te = m.get<span_topo_entry>(off);
        if (!topo.has_member(te.member)) (void)topo.add_member(te.member);
        Status s = i < t.nr_vcpus ? topo.attach_vcpu(te.id, te.member)
                                  : topo.attach_device(te.id, te.member);
        if (!s) return s.error();
    }
    topo.gen_ = t.generation;
    return topo;
}

}  // namespace span
