// The span VM's topology: which member hosts each vCPU and owns each
// device.
//
// Invariants (checked by check()):
//  * every vCPU known to the topology is either hosted by exactly one
//    member or listed as unhosted (its host died), never both;
//  * every device has exactly one owner;
//  * every host/owner is a registered member;
//  * the per-member indexes agree exactly with the maps.
// Every mutation that changes placement bumps generation().
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "span/proto.h"
#include "span/result.h"

namespace span {

class Topology {
  public:
    Status add_member(uint32_t member);
    bool has_member(uint32_t member) const { return members_.count(member) != 0; }

    // Attach fails with EBUSY when another member hosts/owns it, EEXIST
    // when this member already does.  Attaching an unhosted vCPU adopts it.
    Status attach_vcpu(uint32_t apic, uint32_t member);
    Status detach_vcpu(uint32_t apic, uint32_t member);
    // Atomic hand-over: the vCPU is never hosted by two members at once.
    Status move_vcpu(uint32_t apic, uint32_t from, uint32_t to);
    Status attach_device(uint32_t dev, uint32_t member);
    Status detach_device(uint32_t dev, uint32_t member);

    struct Removed {
        std::vector<uint32_t> vcpus;    // now unhosted
        std::vector<uint32_t> devices;  // now unowned (dropped)
    };
    // Removes a member: its vCPUs become unhosted, its devices unowned.
    Removed remove_member(uint32_t member);

    std::optional<uint32_t> vcpu_host(uint32_t apic) const;
    std::optional<uint32_t> device_owner(uint32_t dev) const;
    size_t vcpus_hosted_by(uint32_t member) const;
    size_t devices_owned_by(uint32_t member) const;
    const std::set<uint32_t> &unhosted() const { return unhosted_; }
    const std::map<uint32_t, uint32_t> &vcpus() const { return vcpu_host_; }
    const std::map<uint32_t, uint32_t> &devices() const { return dev_owner_; }
    uint64_t generation() const { return gen_; }

    // Empty string: all invariants hold; else a description of the first
    // violation.
    std::string check() const;

    // SPAN_MSG_TOPOLOGY message (unhosted vCPUs are not listed).
    Msg to_message() const;
    // Parses a validated SPAN_MSG_TOPOLOGY (members are added as needed).
    static Result<Topology> from_message(const Msg &m);

  private:
    std::set<uint32_t> members_;
    std::map<uint32_t, uint32_t> vcpu_host_;  // APIC ID -> member
    std::map<uint32_t, uint32_t> dev_owner_;  // device -> member
    std::map<uint32_t, std::set<uint32_t>> by_member_vcpus_;
    std::map<uint32_t, std::set<uint32_t>> by_member_devs_;
    std::set<uint32_t> unhosted_;
    uint64_t gen_ = 0;
};

}  // namespace span
