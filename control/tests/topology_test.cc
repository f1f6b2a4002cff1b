// Topology invariants: a vCPU has exactly one host, a device exactly one owner.
#include <gtest/gtest.h>

#include <random>

#include "span/topology.h"

using namespace span;

TEST(Topology, AttachDetachRules) {
    Topology t;
    ASSERT_TRUE(t.add_member(0).ok());
    ASSERT_TRUE(t.add_member(1).ok());
    EXPECT_EQ(t.add_member(1).error().code, EEXIST);
    EXPECT_EQ(t.add_member(16).error().code, EINVAL);
    EXPECT_TRUE(t.attach_vcpu(0, 0).ok());
    EXPECT_EQ(t.attach_vcpu(0, 0).error().code, EEXIST);
    EXPECT_EQ(t.attach_vcpu(0, 1).error().code, EBUSY);  // never two hosts
    EXPECT_EQ(t.attach_vcpu(1, 5).error().code, ENOENT);
    EXPECT_EQ(t.attach_vcpu(SPAN_APIC_NONE, 0).error().code, EINVAL);
    EXPECT_EQ(t.detach_vcpu(0, 1).error().code, EPERM);
    EXPECT_EQ(t.detach_vcpu(7, 1).error().code, ENOENT);
    EXPECT_TRUE(t.attach_device(5, 1).ok());
    EXPECT_EQ(t.attach_device(5, 0).error().code, EBUSY);  // never two owners
    EXPECT_EQ(t.detach_device(5, 0).error().code, EPERM);
    EXPECT_EQ(*t.vcpu_host(0), 0u);
    EXPECT_EQ(*t.device_owner(5), 1u);
    EXPECT_TRUE(t.move_vcpu(0, 0, 1).ok());
    EXPECT_EQ(*t.vcpu_host(0), 1u);
    EXPECT_EQ(t.move_vcpu(0, 0, 1).error().code, EPERM);
    EXPECT_EQ(t.vcpus_hosted_by(1), 1u);
    EXPECT_EQ(t.vcpus_hosted_by(0), 0u);
    EXPECT_TRUE(t.detach_vcpu(0, 1).ok());
    EXPECT_FALSE(t.vcpu_host(0).has_value());
    EXPECT_EQ(t.check(), "");
}

TEST(Topology, GenerationAdvances) {
    Topology t;
    (void)t.add_member(0);
    uint64_t g = t.generation();
    (void)t.attach_vcpu(1, 0);
    EXPECT_GT(t.generation(), g);
    g = t.generation();
    (void)t.attach_vcpu(1, 0);  // failed change: no bump
    EXPECT_EQ(t.generation(), g);
}

TEST(Topology, RemoveMemberOrphansVcpusAndDevices) {
    Topology t;
    (void)t.add_member(0);
    (void)t.add_member(1);
    (void)t.attach_vcpu(0, 0);
    (void)t.attach_vcpu(1, 1);
    (void)t.attach_vcpu(2, 1);
    (void)t.attach_device(9, 1);
    auto r = t.remove_member(1);
    EXPECT_EQ(r.vcpus.size(), 2u);
    EXPECT_EQ(r.devices.size(), 1u);
    EXPECT_EQ(t.unhosted().size(), 2u);
    EXPECT_FALSE(t.device_owner(9).has_value());
    EXPECT_EQ(t.check(), "");
    // A vCPU is hosted or unhosted, never both: adoption clears it.
    EXPECT_TRUE(t.attach_vcpu(1, 0).ok());
    EXPECT_EQ(t.unhosted().size(), 1u);
    EXPECT_EQ(t.check(), "");
    EXPECT_TRUE(t.remove_member(7).vcpus.empty());
}

TEST(Topology, MessageRoundTrip) {
    Topology t;
    (void)t.add_member(0);
    (void)t.add_member(3);
    for (uint32_t i = 0; i < 64; i++) (void)t.attach_vcpu(i * 2, i % 2 ? 3 : 0);
    (void)t.attach_device(100, 3);
    Msg m = t.to_message();
    stamp(m, SPAN_MEMBER_SPAND, 0, 1);
    ASSERT_EQ(validate_message(m.data(), m.size()), Reject::None);
    auto back = Topology::from_message(m);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->vcpus(), t.vcpus());
    EXPECT_EQ(back->devices(), t.devices());
    EXPECT_EQ(back->generation(), t.generation());
    EXPECT_EQ(back->check(), "");
}

// Random operation sequences: the invariants hold after every step, and
// every vCPU ever attached is accounted for exactly once.
TEST(Topology, RandomOperationsKeepInvariants) {
    std::mt19937 rng(12345);
    Topology t;
    std::set<uint32_t> seen;
    for (int step = 0; step < 20000; step++) {
        uint32_t m = rng() % 6, apic = rng() % 32, dev = rng() % 16;
        switch (rng() % 8) {
            case 0:
                (void)t.add_member(m);
                break;
            case 1:
                if (rng() % 8 == 0) t.remove_member(m);
                break;
            case 2:
                if (t.attach_vcpu(apic, m).ok()) seen.insert(apic);
                break;
            case 3:
                (void)t.detach_vcpu(apic, m);
                break;
            case 4:
                (void)t.move_vcpu(apic, m, rng() % 6);
                break;
            case 5:
                (void)t.attach_device(dev, m);
                break;
            case 6:
                (void)t.detach_device(dev, m);
                break;
            case 7: {
                auto h = t.vcpu_host(apic);
                if (h) {
                    EXPECT_FALSE(t.attach_vcpu(apic, (*h + 1) % 6).ok());
                }
                break;
            }
        }
        ASSERT_EQ(t.check(), "") << "step " << step;
        for (uint32_t a : t.unhosted()) ASSERT_FALSE(t.vcpu_host(a).has_value());
    }
    EXPECT_FALSE(seen.empty());
}
