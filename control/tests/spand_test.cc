// spand end to end: a real daemon process, fake members over its real
// socket, spanctl, member death, hostile input.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <thread>

#include "span/libspan.h"
#include "span/member.h"
#include "span/topology.h"

using namespace span;

namespace {

std::string slurp(const std::string &path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

class Spand : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/spand-test.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        sock_ = dir_ + "/spand.sock";
        pid_ = start({"--create", "vm1:16M"});
        ASSERT_GT(pid_, 0);
    }
    void TearDown() override {
        if (pid_ > 0) stop();
        std::string cmd = "rm -rf " + dir_;
        (void)!std::system(cmd.c_str());
    }

    pid_t start(std::vector<std::string> extra, const std::string &log = "spand.log",
                bool wait = true, uid_t uid = 0) {
        pid_t pid = ::fork();
        if (pid == 0) {
            int fd = ::open((dir_ + "/" + log).c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
            ::dup2(fd, 2);
            if (uid && (::setgroups(0, nullptr) < 0 || ::setgid(uid) < 0 || ::setuid(uid) < 0))
                _exit(126);
            std::vector<std::string> args{SPAND_PATH, "--socket",      sock_,   "--max-rejects",
                                          "5",        "--log-level",   "debug", "--ring-size",
                                          "64K",      "--max-members", "4"};
            args.insert(args.end(), extra.begin(), extra.end());
            std::vector<char *> argv;
            for (auto &a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            _exit(127);
        }
        if (!wait) return pid;
        for (int i = 0; i < 500; i++) {
            if (::access(sock_.c_str(), F_OK) == 0) {
                int s = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
                sockaddr_un a{};
                a.sun_family = AF_UNIX;
                std::strcpy(a.sun_path, sock_.c_str());
                bool ok = ::connect(s, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0;
                ::close(s);
                if (ok) return pid;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return -1;
    }

    int stop() {
        ::kill(pid_, SIGTERM);
        int st = 0;
        ::waitpid(pid_, &st, 0);
        pid_ = -1;
        return st;
    }

    std::unique_ptr<Member> member(const std::string &name, const std::string &vm = "vm1",
                                   uint32_t caps = SPAN_CAP_RINGS) {
        ConnectOptions o;
        o.socket_path = sock_;
        o.vm_name = vm;
        o.member_name = name;
        o.caps = caps;
        auto r = Member::connect(o);
        EXPECT_TRUE(r.ok()) << r.error().str();
        return r ? std::move(r.value()) : nullptr;
    }

    // A control session (spanctl's role) bound to vm.
    std::unique_ptr<Member> control(const std::string &vm = "vm1") {
        ConnectOptions o;
        o.socket_path = sock_;
        o.role = SPAN_ROLE_CONTROL;
        o.caps = 0;
        o.vm_name = vm;
        auto r = Member::connect(o);
        EXPECT_TRUE(r.ok()) << r.error().str();
        return r ? std::move(r.value()) : nullptr;
    }

    // Sends a request to spand; returns the ACK (status 1 if none came).
    span_ack ack_of(Member &m, Msg req) {
        auto r = m.request(std::move(req));
        EXPECT_TRUE(r.ok()) << r.error().str();
        if (!r || r->back().type() != SPAN_MSG_ACK) return span_ack{0, 1, 0, 0};
        return r->back().get<span_ack>();
    }

    // Runs spanctl; returns stdout, sets *rc to the exit status.
    std::string spanctl(const std::string &args, int *rc = nullptr) {
        std::string cmd = std::string(SPANCTL_PATH) + " --socket " + sock_ + " " + args + " 2>" +
                          dir_ + "/ctl.err";
        FILE *f = ::popen(cmd.c_str(), "r");
        std::string out;
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
        int st = ::pclose(f);
        if (rc) *rc = WEXITSTATUS(st);
        return out;
    }

    // spanctl in the background, for commands that wait on a member:
    // {stdout, exit status}.
    std::future<std::pair<std::string, int>> spanctl_async(const std::string &args) {
        return std::async(std::launch::async, [this, args] {
            int rc = -1;
            std::string out = spanctl(args, &rc);
            return std::make_pair(out, rc);
        });
    }

    // Receives until a message of `type` arrives (others are skipped).
    std::optional<Msg> wait_for(Member &m, uint16_t type, int timeout_ms = 3000) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (std::chrono::steady_clock::now() < deadline) {
            auto r = m.recv(50);
            if (r && r->type() == type) return std::move(r.value());
            if (!r && r.error().code != ETIMEDOUT) return std::nullopt;
        }
        return std::nullopt;
    }

    // Waits for a VM_STATE announcing `state` (the join-time one is skipped).
    std::optional<span_vm_state> wait_state(Member &m, uint32_t state) {
        for (int i = 0; i < 10; i++) {
            auto vs = wait_for(m, SPAN_MSG_VM_STATE);
            if (!vs) return std::nullopt;
            if (vs->get<span_vm_state>().state == state) return vs->get<span_vm_state>();
        }
        return std::nullopt;
    }

    // Receives the next MEMBER message and checks it.
    void expect_member_event(Member &m, uint16_t event, uint32_t slot, const char *name,
                             uint16_t reason = SPAN_LEFT_NONE) {
        auto msg = wait_for(m, SPAN_MSG_MEMBER);
        ASSERT_TRUE(msg.has_value());
        auto e = msg->get<span_member_event>();
        EXPECT_EQ(e.event, event);
        EXPECT_EQ(e.member, slot);
        EXPECT_STREQ(e.name, name);
        EXPECT_EQ(e.reason, reason);
    }

    Status attach(Member &m, uint32_t kind, uint32_t id, bool attach = true, uint64_t gpa = 0,
                  uint64_t size = 0) {
        span_attach a{kind, SPAN_MEMBER_SELF, id, 0, gpa, size};
        auto r = m.request(Msg::of(attach ? SPAN_MSG_ATTACH : SPAN_MSG_DETACH, a));
        if (!r) return r.error();
        auto ack = r->back().get<span_ack>();
        if (ack.status) return Error{-ack.status, "nack"};
        return {};
    }

    // The placement the move tests start from: vCPUs 0 and 1 on a, 2 on b.
    bool place_2_and_1(Member &a, Member &b) {
        return attach(a, SPAN_ATTACH_VCPU, 0).ok() && attach(a, SPAN_ATTACH_VCPU, 1).ok() &&
               attach(b, SPAN_ATTACH_VCPU, 2).ok();
    }

    // ATTACH of vCPU apic naming member slot `to`: its host hands it over.
    span_ack hand_over(Member &m, uint32_t apic, uint32_t to) {
        return ack_of(m,
                      Msg::of(SPAN_MSG_ATTACH, span_attach{SPAN_ATTACH_VCPU, to, apic, 0, 0, 0}));
    }

    // spanctl's MOVE of vCPU apic to member slot `to`, from control session
    // ctl, in the background (the vCPU's host has to answer first); the ACK
    // spand answers with (status 1 if none came within timeout_ms).
    std::future<span_ack> move(Member &ctl, uint32_t apic, uint32_t to, int timeout_ms = 5000) {
        return std::async(std::launch::async, [&ctl, apic, to, timeout_ms] {
            auto r = ctl.request(Msg::of(SPAN_MSG_MOVE, span_move{apic, to, 0, 0}), timeout_ms);
            if (!r || r->back().type() != SPAN_MSG_ACK) return span_ack{0, 1, 0, 0};
            return r->back().get<span_ack>();
        });
    }

    // A MOVE that does not wait on anyone: refused by spand.
    span_ack move_refused(Member &from, uint32_t apic, uint32_t to) {
        return ack_of(from, Msg::of(SPAN_MSG_MOVE, span_move{apic, to, 0, 0}));
    }

    // Receives until nothing arrives for idle_ms; returns the messages of
    // `type` that came.
    std::vector<Msg> drain(Member &m, uint16_t type, int idle_ms = 200) {
        std::vector<Msg> got;
        for (auto r = m.recv(idle_ms); r.ok(); r = m.recv(idle_ms))
            if (r->type() == type) got.push_back(std::move(r.value()));
        return got;
    }

    // spand's placement, as a control session asks for it.
    Topology placement() {
        auto ctl = control();
        EXPECT_TRUE(ctl);
        if (!ctl) return {};
        auto r = ctl->request(Msg::make(SPAN_MSG_TOPOLOGY_GET, 0));
        EXPECT_TRUE(r.ok() && r->front().type() == SPAN_MSG_TOPOLOGY);
        if (!r || r->front().type() != SPAN_MSG_TOPOLOGY) return {};
        auto t = Topology::from_message(r->front());
        EXPECT_TRUE(t.ok());
        return t ? std::move(t.value()) : Topology{};
    }

    std::string dir_, sock_;
    pid_t pid_ = -1;
};

constexpr uint32_t kMemEvents = SPAN_CAP_RINGS | SPAN_CAP_MEM_EVENTS;

}  // namespace

TEST_F(Spand, SocketIsPrivate) {
    struct stat st;
    ASSERT_EQ(::stat(sock_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
}

TEST_F(Spand, TwoMembersShareMemoryAndTalkOverRings) {
    auto a = member("l1a");
    auto b = member("l1b");
    ASSERT_TRUE(a && b);
    EXPECT_NE(a->id(), b->id());
    EXPECT_EQ(a->mem_size(), 16u << 20);
    ASSERT_TRUE(attach(*a, SPAN_ATTACH_VCPU, 0).ok());
    ASSERT_TRUE(attach(*b, SPAN_ATTACH_VCPU, 1).ok());
    EXPECT_EQ(attach(*b, SPAN_ATTACH_VCPU, 0).error().code, EBUSY);  // one host per vCPU

    // Same guest memory through both fds.
    auto ma = Mapping::map_shared(a->mem_fd(), a->mem_size());
    auto mb = Mapping::map_shared(b->mem_fd(), b->mem_size());
    ASSERT_TRUE(ma.ok() && mb.ok());
    std::strcpy(reinterpret_cast<char *>(ma->bytes() + 12345), "hello from l1a");
    EXPECT_STREQ(reinterpret_cast<char *>(mb->bytes() + 12345), "hello from l1a");

    // An IPI from vCPU 0 (on a) to APIC 1 (on b), b asleep on its doorbell.
    std::thread rx([&] {
        auto m = wait_for(*b, SPAN_MSG_INTERRUPT, 5000);
        ASSERT_TRUE(m.has_value());
        auto irq = m->get<span_interrupt>();
        EXPECT_EQ(irq.vector, 0xfd);
        EXPECT_EQ(irq.dest, 1u);
        EXPECT_EQ(m->hdr().src, a->id());
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    span_interrupt irq{1, 0, 0xfd, SPAN_DM_FIXED, SPAN_DEST_PHYSICAL, SPAN_SH_NONE, 0, 1, 0, 0};
    Msg im = Msg::of(SPAN_MSG_INTERRUPT, irq);
    ASSERT_TRUE(a->send(static_cast<uint16_t>(b->id()), im).ok());
    rx.join();

    // A burst in both directions, batched.
    for (int i = 0; i < 1000; i++) {
        Msg hb = Msg::of(SPAN_MSG_HEARTBEAT, span_heartbeat{0, static_cast<uint64_t>(i)});
        ASSERT_TRUE(b->stage(static_cast<uint16_t>(a->id()), hb).ok());
    }
    b->flush();
    for (int i = 0; i < 1000; i++) {
        auto m = wait_for(*a, SPAN_MSG_HEARTBEAT);
        ASSERT_TRUE(m.has_value());
        EXPECT_EQ(m->get<span_heartbeat>().counter, static_cast<uint64_t>(i));
    }
}

// Each member hears of every other one: the ones there before it when it
// joins, the later ones as they join, and each one that leaves.
TEST_F(Spand, MembersHearWhoJoinsAndLeaves) {
    auto a = member("first");
    ASSERT_TRUE(a);
    auto b = member("second");
    ASSERT_TRUE(b);
    expect_member_event(*a, SPAN_MEMBER_JOINED, b->id(), "second");
    expect_member_event(*b, SPAN_MEMBER_JOINED, a->id(), "first");
    // Read what else spand sends a newcomer (TOPOLOGY, VM_STATE) first: a
    // send to a member that already hung up cuts it off instead.
    auto settled = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    while (std::chrono::steady_clock::now() < settled) (void)b->recv(50);
    uint32_t bid = b->id();
    b.reset();  // hangs up: it hosted nothing, the span VM keeps running
    expect_member_event(*a, SPAN_MEMBER_LEFT, bid, "second", SPAN_LEFT_CLOSED);
    EXPECT_FALSE(wait_state(*a, SPAN_VM_PAUSED).has_value());
}

TEST_F(Spand, MemberHostingVcpusDiesPausesVmAndKeepsMemory) {
    auto survivor = member("survivor");
    ASSERT_TRUE(survivor);
    ASSERT_TRUE(attach(*survivor, SPAN_ATTACH_VCPU, 0).ok());
    pid_t child = ::fork();
    if (child == 0) {
        ConnectOptions o;
        o.socket_path = sock_;
        o.vm_name = "vm1";
        o.member_name = "doomed";
        auto m = Member::connect(o);
        if (!m) _exit(2);
        span_attach at{SPAN_ATTACH_VCPU, SPAN_MEMBER_SELF, 1, 0, 0, 0};
        auto r = (*m)->request(Msg::of(SPAN_MSG_ATTACH, at));
        if (!r || r->back().get<span_ack>().status) _exit(3);
        auto map = Mapping::map_shared((*m)->mem_fd(), (*m)->mem_size());
        std::strcpy(reinterpret_cast<char *>(map->bytes() + 4096), "written before death");
        ::raise(SIGKILL);  // no goodbye: the socket hangs up
    }
    int st;
    ASSERT_EQ(::waitpid(child, &st, 0), child);
    ASSERT_TRUE(WIFSIGNALED(st)) << "child exit " << WEXITSTATUS(st);
    // The survivor hears who left, and why, before the pause and the new
    // placement that follow from it.
    std::vector<uint16_t> order;
    std::optional<span_member_event> left;
    std::optional<span_vm_state> paused;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (order.size() < 3 && std::chrono::steady_clock::now() < deadline) {
        auto r = survivor->recv(50);
        if (!r) continue;
        uint16_t t = r->type();
        if (t == SPAN_MSG_MEMBER && r->get<span_member_event>().event == SPAN_MEMBER_LEFT)
            left = r->get<span_member_event>();
        else if (!left || (t != SPAN_MSG_VM_STATE && t != SPAN_MSG_TOPOLOGY))
            continue;
        if (t == SPAN_MSG_VM_STATE) paused = r->get<span_vm_state>();
        order.push_back(t);
    }
    ASSERT_TRUE(left.has_value());
    EXPECT_STREQ(left->name, "doomed");
    EXPECT_EQ(left->reason, SPAN_LEFT_CLOSED);
    EXPECT_NE(left->member, survivor->id());
    EXPECT_EQ(order,
              (std::vector<uint16_t>{SPAN_MSG_MEMBER, SPAN_MSG_VM_STATE, SPAN_MSG_TOPOLOGY}));
    ASSERT_TRUE(paused.has_value());
    EXPECT_EQ(paused->state, static_cast<uint32_t>(SPAN_VM_PAUSED));
    EXPECT_EQ(paused->reason, static_cast<uint32_t>(SPAN_REASON_MEMBER_LOST));
    int rc;
    std::string js = spanctl("--json show vm1", &rc);
    EXPECT_EQ(rc, 0);
    EXPECT_NE(js.find("\"state\":\"paused\""), std::string::npos) << js;
    EXPECT_NE(js.find("\"reason\":\"member-lost\""), std::string::npos) << js;
    auto map = Mapping::map_shared(survivor->mem_fd(), survivor->mem_size());
    EXPECT_STREQ(reinterpret_cast<char *>(map->bytes() + 4096), "written before death");
    // Adopting the orphaned vCPU resumes the span VM.
    ASSERT_TRUE(attach(*survivor, SPAN_ATTACH_VCPU, 1).ok());
    EXPECT_TRUE(wait_state(*survivor, SPAN_VM_RUNNING).has_value());
    EXPECT_NE(slurp(dir_ + "/spand.log").find("event=member_lost"), std::string::npos);
}

TEST_F(Spand, MemberWithoutVcpusDiesDropsSubscriptionsGuestContinues) {
    auto host = member("host", "vm1", kMemEvents);
    ASSERT_TRUE(host);
    ASSERT_TRUE(attach(*host, SPAN_ATTACH_VCPU, 0).ok());
    uint64_t sub_id = 0;
    {
        auto intro = member("introspector", "vm1", kMemEvents);
        ASSERT_TRUE(intro);
        span_mem_subscribe s{0, 0x10, 4, SPAN_ACCESS_WRITE, SPAN_MEMBER_SELF};
        auto r = intro->request(Msg::of(SPAN_MSG_MEM_SUBSCRIBE, s));
        ASSERT_TRUE(r.ok());
        ASSERT_EQ(r->back().get<span_ack>().status, 0);
        sub_id = r->back().get<span_ack>().value;
        EXPECT_NE(sub_id, 0u);
        auto note = wait_for(*host, SPAN_MSG_MEM_SUBSCRIBE);  // the vCPU host arms the trap
        ASSERT_TRUE(note.has_value());
        EXPECT_EQ(note->get<span_mem_subscribe>().sub_id, sub_id);
        EXPECT_EQ(note->get<span_mem_subscribe>().member, intro->id());
        // Out-of-range subscription is refused, not crashed on.
        span_mem_subscribe bad{0, (16u << 20) / 4096 - 1, 2, SPAN_ACCESS_WRITE, SPAN_MEMBER_SELF};
        auto r2 = intro->request(Msg::of(SPAN_MSG_MEM_SUBSCRIBE, bad));
        ASSERT_TRUE(r2.ok());
        EXPECT_EQ(r2->back().get<span_ack>().status, -ERANGE);
    }  // intro disconnects
    auto un = wait_for(*host, SPAN_MSG_MEM_UNSUBSCRIBE);
    ASSERT_TRUE(un.has_value());
    EXPECT_EQ(un->get<span_mem_unsubscribe>().sub_id, sub_id);
    std::string js = spanctl("--json show vm1");
    EXPECT_NE(js.find("\"state\":\"running\""), std::string::npos) << js;
    EXPECT_NE(js.find("\"subscriptions\":0"), std::string::npos) << js;
}

TEST_F(Spand, MalformedSenderIsDisconnectedOthersUnaffected) {
    auto good = member("good");
    ASSERT_TRUE(good);
    auto bad = member("bad");
    ASSERT_TRUE(bad);
    int fd = bad->control_fd();
    // Garbage, truncated, lying lengths, bad fields, wrong src.
    std::vector<std::vector<uint8_t>> junk;
    junk.push_back({1, 2, 3});
    junk.push_back(std::vector<uint8_t>(64, 0xff));
    Msg lie = Msg::of(SPAN_MSG_HEARTBEAT, span_heartbeat{});
    stamp(lie, static_cast<uint16_t>(bad->id()), SPAN_MEMBER_SPAND, 1);
    lie.hdr().len = 4096;
    junk.push_back(std::vector<uint8_t>(lie.data(), lie.data() + 48));
    span_attach at{SPAN_ATTACH_VCPU, SPAN_MEMBER_SELF, 0, 0, 0, 0};
    Msg badfield = Msg::of(SPAN_MSG_ATTACH, at);
    stamp(badfield, static_cast<uint16_t>(bad->id()), SPAN_MEMBER_SPAND, 2);
    reinterpret_cast<span_attach *>(badfield.payload())->kind = 77;
    junk.push_back(std::vector<uint8_t>(badfield.data(), badfield.data() + badfield.size()));
    Msg spoof = Msg::of(SPAN_MSG_HEARTBEAT, span_heartbeat{});
    stamp(spoof, static_cast<uint16_t>(good->id()), SPAN_MEMBER_SPAND, 3);  // pretends to be good
    junk.push_back(std::vector<uint8_t>(spoof.data(), spoof.data() + spoof.size()));
    junk.push_back(std::vector<uint8_t>(SPAN_MSG_MAX + 100, 0));
    int sz = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    for (auto &j : junk) (void)!::send(fd, j.data(), j.size(), MSG_NOSIGNAL);
    // spand cuts it off after --max-rejects 5.
    auto r = bad->recv(3000);
    while (r.ok()) r = bad->recv(3000);
    EXPECT_EQ(r.error().code, ECONNRESET) << r.error().str();
    // The good member still works.
    Msg hb = Msg::of(SPAN_MSG_HEARTBEAT, span_heartbeat{1, 2});
    auto rep = good->request(hb);
    ASSERT_TRUE(rep.ok()) << rep.error().str();
    EXPECT_EQ(rep->back().type(), SPAN_MSG_HEARTBEAT);
    std::string log = slurp(dir_ + "/spand.log");
    EXPECT_NE(log.find("reason=too-many-rejects"), std::string::npos);
    EXPECT_NE(log.find("event=reject"), std::string::npos);
    ::kill(pid_, 0);
    EXPECT_EQ(::waitpid(pid_, nullptr, WNOHANG), 0);  // still running
}

TEST_F(Spand, InvalidRingMessagesAreCountedAndDropped) {
    auto a = member("a");
    auto b = member("b");
    ASSERT_TRUE(a && b);
    span_interrupt irq{1, 0, 3 /* illegal vector */, SPAN_DM_FIXED, 0, 0, 0, 1, 0, 0};
    Msg bad = Msg::of(SPAN_MSG_INTERRUPT, irq);
    ASSERT_TRUE(a->send(static_cast<uint16_t>(b->id()), bad).ok());
    Msg good = Msg::of(SPAN_MSG_HEARTBEAT, span_heartbeat{1, 42});
    ASSERT_TRUE(a->send(static_cast<uint16_t>(b->id()), good).ok());
    auto m = wait_for(*b, SPAN_MSG_HEARTBEAT);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->get<span_heartbeat>().counter, 42u);
    EXPECT_EQ(b->stats().rejected, 1u);
    EXPECT_EQ(b->stats().by_reason[SPAN_REJECT_FIELD], 1u);
    // Control-plane types are not allowed on rings.
    Msg ctl = Msg::of(SPAN_MSG_ATTACH, span_attach{});
    EXPECT_FALSE(a->send(static_cast<uint16_t>(b->id()), ctl).ok());
    EXPECT_FALSE(a->send(static_cast<uint16_t>(a->id()), good).ok());
    EXPECT_FALSE(a->send(99, good).ok());
}

TEST_F(Spand, RefusesSecondInstanceOnSameSocket) {
    pid_t second = start({}, "second.log", false);
    int st;
    ASSERT_EQ(::waitpid(second, &st, 0), second);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 1);
    EXPECT_NE(slurp(dir_ + "/second.log").find("already running"), std::string::npos);
    auto m = member("still-works");  // the first one is unharmed
    EXPECT_TRUE(m != nullptr);
}

TEST_F(Spand, SigtermExitsCleanly) {
    auto m = member("x");
    ASSERT_TRUE(m);
    int st = stop();
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0);
    EXPECT_NE(::access(sock_.c_str(), F_OK), 0);  // socket removed
    auto r = m->recv(1000);
    while (r.ok()) r = m->recv(1000);  // join-time TOPOLOGY / VM_STATE first
    EXPECT_EQ(r.error().code, ECONNRESET);
    EXPECT_NE(slurp(dir_ + "/spand.log").find("event=stop"), std::string::npos);
}

TEST_F(Spand, HelloRefusals) {
    ConnectOptions o;
    o.socket_path = sock_;
    o.vm_name = "nosuchvm";
    o.member_name = "m";
    auto r = Member::connect(o);
    EXPECT_EQ(r.error().code, ENOENT);
    o.vm_name = "vm1";
    auto first = Member::connect(o);
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(Member::connect(o).error().code, EEXIST);  // name in use
    std::vector<std::unique_ptr<Member>> ms;
    for (int i = 0; i < 3; i++) ms.push_back(member("m" + std::to_string(i)));
    o.member_name = "overflow";
    EXPECT_EQ(Member::connect(o).error().code, ENOSPC);  // --max-members 4
}

TEST_F(Spand, SpanctlCommands) {
    int rc;
    spanctl("create vm2 --memory 32M --max-members 3", &rc);
    EXPECT_EQ(rc, 0);
    spanctl("create vm2 --memory 32M", &rc);
    EXPECT_EQ(rc, 1);  // exists
    std::string js = spanctl("--json list", &rc);
    EXPECT_EQ(rc, 0);
    EXPECT_NE(js.find("\"name\":\"vm2\""), std::string::npos);
    EXPECT_NE(js.find("\"memory\":33554432"), std::string::npos);
    auto m = member("l1", "vm2", kMemEvents);
    ASSERT_TRUE(m);
    // The member places its own vCPU, devices and memory range.
    ASSERT_TRUE(attach(*m, SPAN_ATTACH_VCPU, 3).ok());
    ASSERT_TRUE(attach(*m, SPAN_ATTACH_DEVICE, 7).ok());
    ASSERT_TRUE(attach(*m, SPAN_ATTACH_MEMORY, 0, true, 0, 16u << 20).ok());
    // spanctl cannot: refused with the reason, and nothing changes.
    const struct {
        const char *args, *msg;
    } refusals[] = {
        {"attach vm2 --member l1 --vcpu 4",
         "spanctl: attach: refused: attach vCPU 4 to member l1 of span VM vm2: members place "
         "their own vCPUs when they start (QEMU: -span vcpus=); to move a running vCPU to another "
         "member, use 'spanctl move'\n"},
        {"detach vm2 --member l1 --vcpu 3",
         "spanctl: detach: refused: detach vCPU 3 from member l1 of span VM vm2: members place "
         "their own vCPUs"},
        {"attach vm2 --member 0 --device 8",
         "spanctl: attach: refused: attach device 8 to member 0 of span VM vm2: the member "
         "owning the devices claims them when it starts (QEMU: -span firmware=on); no member "
         "can take or give up a device at spanctl's request\n"},
        {"detach vm2 --member 0 --device 7",
         "spanctl: detach: refused: detach device 7 from member 0 of span VM vm2: the member "
         "owning the devices"},
        {"attach vm2 --member 0 --memory 0:32M",
         "spanctl: attach: refused: attach memory range 0:32M to member 0 of span VM vm2: "
         "no member acts on an attached memory range (every member maps all of the guest "
         "memory)\n"},
        {"detach vm2 --member l1 --memory",
         "spanctl: detach: refused: detach the memory range from member l1 of span VM vm2: no "
         "member acts on an attached memory range"},
    };
    for (auto &r : refusals) {
        std::string out = spanctl(r.args, &rc);
        EXPECT_EQ(rc, 1) << r.args;
        EXPECT_EQ(out, "") << r.args;
        std::string err = slurp(dir_ + "/ctl.err");
        EXPECT_EQ(err.rfind(r.msg, 0), 0u) << r.args << ": " << err;
    }
    std::string out = spanctl("--json subscribe vm2 --member l1 --gfn 16 --pages 2 --access wx",
                              &rc);  // l1 hosts the only vCPU and can raise events
    EXPECT_EQ(rc, 0) << slurp(dir_ + "/ctl.err");
    EXPECT_NE(out.find("\"subscription\":1"), std::string::npos) << out;
    js = spanctl("--json show vm2", &rc);
    EXPECT_EQ(rc, 0);
    EXPECT_NE(js.find("\"generation\":2,"), std::string::npos) << js;  // the member's two
    EXPECT_NE(js.find("\"vcpu_list\":[{\"apic_id\":3,\"member\":0}]"), std::string::npos) << js;
    EXPECT_NE(js.find("\"device_list\":[{\"device\":7,\"member\":0}]"), std::string::npos) << js;
    EXPECT_NE(js.find("\"access\":\"-wx\""), std::string::npos) << js;
    EXPECT_NE(js.find("\"memory_gpa\":0,\"memory_size\":16777216"), std::string::npos) << js;
    ASSERT_TRUE(attach(*m, SPAN_ATTACH_VCPU, 3, false).ok());
    EXPECT_EQ(attach(*m, SPAN_ATTACH_VCPU, 3, false).error().code, ENOENT);
    spanctl("unsubscribe vm2 --id 1", &rc);
    EXPECT_EQ(rc, 0);
    spanctl("destroy vm2", &rc);
    EXPECT_EQ(rc, 1);  // member connected
    m.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    spanctl("destroy vm2", &rc);
    EXPECT_EQ(rc, 0);
    spanctl("show vm2", &rc);
    EXPECT_EQ(rc, 1);
    // Usage errors exit 2; --help exits 0 for every command.
    for (const char *bad :
         {"", "frobnicate", "create", "create vm3", "create vm3 --memory 1000",
          "create vm3 --memory 1G --bogus", "attach vm1 --member 0", "attach vm1 --vcpu 1",
          "attach vm1 --member 0 --vcpu 1 --device 2", "subscribe vm1 --member 0 --gfn 1", "show",
          "show a/b", "list extra", "--nope list"}) {
        spanctl(bad, &rc);
        EXPECT_EQ(rc, 2) << bad;
    }
    for (const char *cmd : {"create", "list", "show", "attach", "detach", "move", "subscribe",
                            "unsubscribe", "destroy"}) {
        out = spanctl(std::string(cmd) + " --help", &rc);
        EXPECT_EQ(rc, 0) << cmd;
        EXPECT_NE(out.find("Usage: spanctl " + std::string(cmd)), std::string::npos) << cmd;
    }
    out = spanctl("--help", &rc);
    EXPECT_EQ(rc, 0);
    EXPECT_NE(out.find("spand refuses what no member of the span VM can carry out"),
              std::string::npos)
        << out;
    out = spanctl("attach --help", &rc);
    EXPECT_NE(out.find("spand refuses it (exit 1) on span VMs whose members cannot carry it out"),
              std::string::npos)
        << out;
    out = spanctl("subscribe --help", &rc);
    EXPECT_NE(out.find("Refused (exit 1) unless M and every member hosting"), std::string::npos)
        << out;
}

// ATTACH and DETACH from a control session would only change spand's
// records (the members would go on running the vCPU where it is while
// sending its interrupts to the recorded host): refused.  Members attach
// and detach themselves as before.
TEST_F(Spand, ControlSessionAttachDetachRefused) {
    auto a = member("a");
    auto b = member("b");
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(attach(*a, SPAN_ATTACH_VCPU, 0).ok());
    ASSERT_TRUE(attach(*a, SPAN_ATTACH_DEVICE, 0).ok());
    ASSERT_TRUE(attach(*b, SPAN_ATTACH_VCPU, 1).ok());
    ASSERT_TRUE(attach(*a, SPAN_ATTACH_MEMORY, 0, true, 4096, 1u << 20).ok());
    EXPECT_EQ(attach(*a, SPAN_ATTACH_MEMORY, 0, true, 0, 4096).error().code, EEXIST);
    EXPECT_EQ(attach(*b, SPAN_ATTACH_MEMORY, 0, true, 0, 32u << 20).error().code, ERANGE);
    auto ctl = control();
    ASSERT_TRUE(ctl);
    auto generation = [&] {
        auto r = ctl->request(Msg::make(SPAN_MSG_TOPOLOGY_GET, 0));
        EXPECT_TRUE(r.ok() && r->front().type() == SPAN_MSG_TOPOLOGY);
        return r.ok() ? r->front().get<span_topology>().generation : 0;
    };
    uint64_t gen = generation();
    EXPECT_EQ(gen, 3u);
    const struct {
        uint16_t type;
        span_attach a;
    } reqs[] = {
        {SPAN_MSG_ATTACH, {SPAN_ATTACH_VCPU, b->id(), 0, 0, 0, 0}},  // move a's vCPU to b
        {SPAN_MSG_DETACH, {SPAN_ATTACH_VCPU, a->id(), 0, 0, 0, 0}},
        {SPAN_MSG_ATTACH, {SPAN_ATTACH_VCPU, a->id(), 2, 0, 0, 0}},  // a new one
        {SPAN_MSG_ATTACH, {SPAN_ATTACH_DEVICE, b->id(), 1, 0, 0, 0}},
        {SPAN_MSG_DETACH, {SPAN_ATTACH_DEVICE, a->id(), 0, 0, 0, 0}},
        {SPAN_MSG_ATTACH, {SPAN_ATTACH_MEMORY, b->id(), 0, 0, 0, 4096}},
        {SPAN_MSG_DETACH, {SPAN_ATTACH_MEMORY, a->id(), 0, 0, 0, 0}},
    };
    for (auto &r : reqs)
        EXPECT_EQ(ack_of(*ctl, Msg::of(r.type, r.a)).status, -EOPNOTSUPP)
            << span_msg_type_str(r.type) << " kind " << r.a.kind << " id " << r.a.id;
    // Nothing changed, and no member was told anything changed.
    EXPECT_EQ(generation(), gen);
    for (Member *m : {a.get(), b.get()}) {
        for (auto t = wait_for(*m, SPAN_MSG_TOPOLOGY, 300); t;
             t = wait_for(*m, SPAN_MSG_TOPOLOGY, 300))
            EXPECT_LE(t->get<span_topology>().generation, gen);
    }
    std::string js = spanctl("--json show vm1");
    EXPECT_NE(js.find("\"vcpu_list\":[{\"apic_id\":0,\"member\":0},{\"apic_id\":1,\"member\":1}]"),
              std::string::npos)
        << js;
    EXPECT_NE(js.find("\"device_list\":[{\"device\":0,\"member\":0}]"), std::string::npos) << js;
    EXPECT_NE(js.find("\"memory_gpa\":4096,\"memory_size\":1048576},{\"id\":1,\"name\":\"b\""),
              std::string::npos)
        << js;
    EXPECT_NE(js.find("\"memory_gpa\":0,\"memory_size\":0}],"), std::string::npos) << js;  // b
    std::string log = slurp(dir_ + "/spand.log");
    EXPECT_NE(log.find("event=attach vm=vm1 kind=vcpu member=1 id=0 gpa=0 size=0 by=control "
                       "status=-95"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("event=detach vm=vm1 kind=memory member=0 id=0 gpa=0 size=0 by=control "
                       "status=-95"),
              std::string::npos)
        << log;
    // Members still attach and detach themselves, and only themselves.
    span_attach other{SPAN_ATTACH_VCPU, b->id(), 2, 0, 0, 0};
    EXPECT_EQ(ack_of(*a, Msg::of(SPAN_MSG_ATTACH, other)).status, -EPERM);
    ASSERT_TRUE(attach(*a, SPAN_ATTACH_VCPU, 0, false).ok());
    ASSERT_TRUE(attach(*b, SPAN_ATTACH_VCPU, 0).ok());
    ASSERT_TRUE(attach(*a, SPAN_ATTACH_MEMORY, 0, false).ok());
    EXPECT_EQ(attach(*a, SPAN_ATTACH_MEMORY, 0, false).error().code, ENOENT);
    EXPECT_EQ(generation(), gen + 2);
}

// A vCPU moves between members in two steps (span-protocol.rst, "Moving a
// vCPU"): its host hands it over, naming the other member, which changes
// nothing anyone routes by; the placement changes when that member attaches
// the vCPU itself, and every member hears of it.  The span VM keeps
// running throughout.
TEST_F(Spand, VcpuHandedOverMovesWhenTheTargetAttachesIt) {
    auto a = member("a");
    auto b = member("b");
    auto c = member("c");  // hosts nothing, routes by the placement too
    ASSERT_TRUE(a && b && c);
    ASSERT_TRUE(place_2_and_1(*a, *b));
    uint64_t gen = placement().generation();
    EXPECT_EQ(gen, 3u);
    for (Member *m : {a.get(), b.get(), c.get()}) drain(*m, SPAN_MSG_TOPOLOGY);

    // a hands vCPU 1 to b: acknowledged, the placement stays.
    auto ack = hand_over(*a, 1, b->id());
    EXPECT_EQ(ack.status, 0);
    EXPECT_EQ(ack.value, gen);
    for (Member *m : {a.get(), b.get(), c.get()})
        EXPECT_TRUE(drain(*m, SPAN_MSG_TOPOLOGY).empty()) << "member " << m->id();
    EXPECT_EQ(placement().generation(), gen);
    EXPECT_EQ(placement().vcpu_host(1), a->id());

    // b attaches it itself: moved in one step, announced to every member.
    span_attach take{SPAN_ATTACH_VCPU, SPAN_MEMBER_SELF, 1, 0, 0, 0};
    ack = ack_of(*b, Msg::of(SPAN_MSG_ATTACH, take));
    EXPECT_EQ(ack.status, 0);
    EXPECT_EQ(ack.value, gen + 1);
    for (Member *m : {a.get(), b.get(), c.get()}) {
        auto topos = drain(*m, SPAN_MSG_TOPOLOGY);
        ASSERT_EQ(topos.size(), 1u) << "member " << m->id();
        auto t = Topology::from_message(topos[0]);
        ASSERT_TRUE(t.ok());
        EXPECT_EQ(t->generation(), gen + 1);
        EXPECT_EQ(t->vcpu_host(0), a->id());
        EXPECT_EQ(t->vcpu_host(1), b->id());
        EXPECT_EQ(t->vcpu_host(2), b->id());
    }
    // Over the rings, each member tells the others it applied the new
    // placement, and b tells a, last, that vCPU 1 runs on b.
    std::vector<Member *> all{a.get(), b.get(), c.get()};
    for (Member *from : all)
        for (Member *to : all)
            if (from != to) {
                Msg pm = Msg::of(SPAN_MSG_PLACED, span_placed{gen + 1, SPAN_APIC_NONE, 0});
                ASSERT_TRUE(from->send(static_cast<uint16_t>(to->id()), pm).ok());
            }
    Msg arrived = Msg::of(SPAN_MSG_PLACED, span_placed{0, 1, 0});
    ASSERT_TRUE(b->send(static_cast<uint16_t>(a->id()), arrived).ok());
    for (Member *to : all) {
        auto placed = drain(*to, SPAN_MSG_PLACED);
        ASSERT_EQ(placed.size(), to == a.get() ? 3u : 2u) << "member " << to->id();
        for (auto &pm : placed) {
            auto p = pm.get<span_placed>();
            bool last_from_b = to == a.get() && &pm == &placed.back();
            EXPECT_EQ(p.generation, last_from_b ? 0 : gen + 1);
            EXPECT_EQ(p.arrived, last_from_b ? 1u : SPAN_APIC_NONE);
        }
        if (to == a.get()) {
            EXPECT_EQ(placed.back().hdr().src, b->id());
        }
        EXPECT_EQ(to->stats().rejected, 0u);
    }
    std::string js = spanctl("--json show vm1");
    EXPECT_NE(js.find("\"state\":\"running\""), std::string::npos) << js;
    EXPECT_NE(js.find("\"vcpu_list\":[{\"apic_id\":0,\"member\":0},{\"apic_id\":1,\"member\":1},"
                      "{\"apic_id\":2,\"member\":1}]"),
              std::string::npos)
        << js;
    std::string log = slurp(dir_ + "/spand.log");
    EXPECT_NE(log.find("event=handover vm=vm1 vcpu=1 from=0 to=1 status=0 to_name=b"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("event=attach vm=vm1 kind=vcpu member=1 id=1 gpa=0 size=0 by=member "
                       "status=0 from=0"),
              std::string::npos)
        << log;
    EXPECT_EQ(log.find("event=invariant"), std::string::npos) << log;

    // The hand-over is done: the new host may hand the vCPU on (back to a).
    ack = hand_over(*b, 1, a->id());
    EXPECT_EQ(ack.status, 0);
    EXPECT_EQ(ack.value, gen + 1);
    ASSERT_TRUE(attach(*a, SPAN_ATTACH_VCPU, 1).ok());
    EXPECT_EQ(placement().vcpu_host(1), a->id());
    EXPECT_EQ(placement().generation(), gen + 2);
}

// A vCPU moved to a member that cannot raise memory events ends every
// subscription, like attaching one there.
TEST_F(Spand, VcpuMovedToMemberWithoutMemEventsEndsSubscriptions) {
    auto host = member("host", "vm1", kMemEvents);
    auto plain = member("plain");  // like QEMU: SPAN_CAP_RINGS only
    auto intro = member("intro", "vm1", kMemEvents);
    ASSERT_TRUE(host && plain && intro);
    ASSERT_TRUE(attach(*host, SPAN_ATTACH_VCPU, 0).ok());
    ASSERT_EQ(hand_over(*host, 0, plain->id()).status, 0);
    // Still hosted by host alone: the subscription holds, for now.
    span_mem_subscribe self{0, 0x10, 4, SPAN_ACCESS_WRITE, SPAN_MEMBER_SELF};
    auto sub = ack_of(*intro, Msg::of(SPAN_MSG_MEM_SUBSCRIBE, self));
    ASSERT_EQ(sub.status, 0);
    ASSERT_TRUE(attach(*plain, SPAN_ATTACH_VCPU, 0).ok());
    for (Member *m : {host.get(), plain.get(), intro.get()}) {
        auto un = drain(*m, SPAN_MSG_MEM_UNSUBSCRIBE);
        ASSERT_EQ(un.size(), 1u) << "member " << m->id();
        EXPECT_EQ(un[0].get<span_mem_unsubscribe>().sub_id, sub.value);
    }
    EXPECT_EQ(placement().vcpu_host(0), plain->id());
    EXPECT_NE(slurp(dir_ + "/spand.log")
                  .find("event=subscriptions_dropped vm=vm1 member=1 name=plain vcpu=0 "
                        "subscriptions=1"),
              std::string::npos);
}

// Only a vCPU's host hands it over, to a member that is there, one
// hand-over at a time; no other member may take the vCPU meanwhile.  What
// is refused changes nothing.
TEST_F(Spand, VcpuHandOverRefusals) {
    auto a = member("a");
    auto b = member("b");
    auto c = member("c");
    ASSERT_TRUE(a && b && c);
    ASSERT_TRUE(attach(*a, SPAN_ATTACH_VCPU, 0).ok());
    ASSERT_TRUE(attach(*b, SPAN_ATTACH_VCPU, 2).ok());
    ASSERT_TRUE(attach(*a, SPAN_ATTACH_DEVICE, 5).ok());
    uint64_t gen = placement().generation();

    EXPECT_EQ(hand_over(*a, 2, c->id()).status, -EPERM);  // b's vCPU
    EXPECT_EQ(hand_over(*a, 9, c->id()).status, -EPERM);  // nobody's
    EXPECT_EQ(hand_over(*c, 0, b->id()).status, -EPERM);  // a's, c hosts nothing
    EXPECT_EQ(hand_over(*a, 0, 3).status, -ENOENT);       // a free slot
    EXPECT_EQ(hand_over(*a, 0, 5).status, -ENOENT);       // beyond --max-members 4
    // Naming another member stays refused for everything but handing over
    // a vCPU.
    span_attach dev{SPAN_ATTACH_DEVICE, b->id(), 5, 0, 0, 0};
    EXPECT_EQ(ack_of(*a, Msg::of(SPAN_MSG_ATTACH, dev)).status, -EPERM);
    span_attach mem{SPAN_ATTACH_MEMORY, b->id(), 0, 0, 0, 4096};
    EXPECT_EQ(ack_of(*a, Msg::of(SPAN_MSG_ATTACH, mem)).status, -EPERM);
    span_attach det{SPAN_ATTACH_VCPU, b->id(), 0, 0, 0, 0};
    EXPECT_EQ(ack_of(*a, Msg::of(SPAN_MSG_DETACH, det)).status, -EPERM);

    ASSERT_EQ(hand_over(*a, 0, b->id()).status, 0);
    EXPECT_EQ(hand_over(*a, 0, c->id()).status, -EBUSY);  // one at a time
    EXPECT_EQ(hand_over(*a, 0, b->id()).status, -EBUSY);
    EXPECT_EQ(attach(*c, SPAN_ATTACH_VCPU, 0).error().code, EBUSY);  // not handed to c
    // spanctl still cannot move it.
    auto ctl = control();
    ASSERT_TRUE(ctl);
    span_attach ctl_move{SPAN_ATTACH_VCPU, b->id(), 0, 0, 0, 0};
    EXPECT_EQ(ack_of(*ctl, Msg::of(SPAN_MSG_ATTACH, ctl_move)).status, -EOPNOTSUPP);
    EXPECT_EQ(placement().generation(), gen);
    EXPECT_EQ(placement().vcpu_host(0), a->id());
    std::string log = slurp(dir_ + "/spand.log");
    EXPECT_NE(log.find("event=handover vm=vm1 vcpu=2 from=0 to=2 status=-1 why="),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("event=handover vm=vm1 vcpu=0 from=0 to=3 status=-2 why="),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("event=handover vm=vm1 vcpu=0 from=0 to=2 status=-16 why="),
              std::string::npos)
        << log;

    // The member it was handed to still takes it.
    ASSERT_TRUE(attach(*b, SPAN_ATTACH_VCPU, 0).ok());
    EXPECT_EQ(placement().vcpu_host(0), b->id());
    EXPECT_EQ(placement().generation(), gen + 1);
}

// A pending hand-over ends when the member it is handed to leaves, when
// the host detaches the vCPU and when the host leaves: the vCPU stays
// where it is (or, its host gone, unhosted), and no member may take it on
// the strength of the old hand-over.
TEST_F(Spand, VcpuHandOverCancelled) {
    auto a = member("a");
    auto b = member("b");
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(attach(*a, SPAN_ATTACH_VCPU, 0).ok());
    ASSERT_TRUE(attach(*a, SPAN_ATTACH_VCPU, 1).ok());
    uint32_t bid = b->id();
    expect_member_event(*a, SPAN_MEMBER_JOINED, bid, "b");

    // The target leaves; a newcomer in its slot cannot take the vCPU.
    ASSERT_EQ(hand_over(*a, 1, bid).status, 0);
    b.reset();
    expect_member_event(*a, SPAN_MEMBER_LEFT, bid, "b", SPAN_LEFT_CLOSED);
    auto b2 = member("b2");
    ASSERT_TRUE(b2);
    ASSERT_EQ(b2->id(), bid);  // the slot is reused
    expect_member_event(*b2, SPAN_MEMBER_JOINED, a->id(), "a");
    EXPECT_EQ(attach(*b2, SPAN_ATTACH_VCPU, 1).error().code, EBUSY);
    EXPECT_EQ(placement().vcpu_host(1), a->id());

    // Nothing is pending any more: a hands it over anew, then detaches it.
    ASSERT_EQ(hand_over(*a, 1, bid).status, 0);
    ASSERT_TRUE(attach(*a, SPAN_ATTACH_VCPU, 1, false).ok());
    ASSERT_TRUE(attach(*a, SPAN_ATTACH_VCPU, 1).ok());
    EXPECT_EQ(attach(*b2, SPAN_ATTACH_VCPU, 1).error().code, EBUSY);
    EXPECT_EQ(placement().vcpu_host(1), a->id());

    // The host leaves: the vCPU is unhosted (the span VM pauses) and any
    // member may adopt it, as after any member loss.
    ASSERT_EQ(hand_over(*a, 1, bid).status, 0);
    uint32_t aid = a->id();
    a.reset();
    expect_member_event(*b2, SPAN_MEMBER_LEFT, aid, "a", SPAN_LEFT_CLOSED);
    EXPECT_FALSE(placement().vcpu_host(1).has_value());
    EXPECT_TRUE(wait_state(*b2, SPAN_VM_PAUSED).has_value());
    ASSERT_TRUE(attach(*b2, SPAN_ATTACH_VCPU, 0).ok());
    ASSERT_TRUE(attach(*b2, SPAN_ATTACH_VCPU, 1).ok());
    EXPECT_TRUE(wait_state(*b2, SPAN_VM_RUNNING).has_value());

    std::string log = slurp(dir_ + "/spand.log");
    EXPECT_NE(log.find("event=handover_cancelled vm=vm1 vcpu=1 from=0 to=1 why=member-lost"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("event=handover_cancelled vm=vm1 vcpu=1 from=0 to=1 why=vcpu-detached"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("handovers=1 left=closed"), std::string::npos) << log;
    EXPECT_EQ(log.find("event=invariant"), std::string::npos) << log;
}

// spanctl moves a vCPU through spand: spand forwards MOVE to the vCPU's
// host (and no one else) with a seq of its own, the host carries the move
// out (hand-over, the target attaches) and answers with an ACK, which spand
// relays to spanctl with the new topology generation.  A host's refusal is
// relayed the same way; an ACK from another member answers nothing.
TEST_F(Spand, MoveIsRelayedToTheVcpusHostAndItsAnswerBack) {
    auto a = member("a");
    auto b = member("b");
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(place_2_and_1(*a, *b));
    uint64_t gen = placement().generation();
    auto ctl = control();
    ASSERT_TRUE(ctl);

    auto answer = move(*ctl, 1, b->id());
    auto mv = wait_for(*a, SPAN_MSG_MOVE);
    ASSERT_TRUE(mv.has_value());
    EXPECT_EQ(mv->hdr().src, SPAN_MEMBER_SPAND);
    EXPECT_EQ(mv->hdr().dst, a->id());
    EXPECT_EQ(mv->hdr().flags, 0u);
    EXPECT_EQ(mv->get<span_move>().apic_id, 1u);
    EXPECT_EQ(mv->get<span_move>().member, b->id());
    uint64_t seq = mv->hdr().seq;
    EXPECT_TRUE(drain(*b, SPAN_MSG_MOVE).empty());
    // b cannot answer for a.
    ASSERT_TRUE(b->ack(seq, 0).ok());
    EXPECT_EQ(answer.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
    // a moves it ("Moving a vCPU"), then answers.
    ASSERT_EQ(hand_over(*a, 1, b->id()).status, 0);
    ASSERT_TRUE(attach(*b, SPAN_ATTACH_VCPU, 1).ok());
    ASSERT_TRUE(a->ack(seq, 0).ok());
    auto done = answer.get();
    EXPECT_EQ(done.status, 0);
    EXPECT_EQ(done.value, gen + 1);
    EXPECT_EQ(placement().vcpu_host(1), b->id());

    // The host refuses: its status is what spanctl gets.
    answer = move(*ctl, 0, b->id());
    mv = wait_for(*a, SPAN_MSG_MOVE);
    ASSERT_TRUE(mv.has_value());
    EXPECT_EQ(mv->get<span_move>().apic_id, 0u);
    EXPECT_GT(mv->hdr().seq, seq);
    ASSERT_TRUE(a->ack(mv->hdr().seq, -EBUSY).ok());
    EXPECT_EQ(answer.get().status, -EBUSY);
    EXPECT_EQ(placement().vcpu_host(0), a->id());

    // b hosts vCPU 2: a MOVE of it goes to b.
    answer = move(*ctl, 2, a->id());
    mv = wait_for(*b, SPAN_MSG_MOVE);
    ASSERT_TRUE(mv.has_value());
    EXPECT_EQ(mv->hdr().dst, b->id());
    ASSERT_TRUE(b->ack(mv->hdr().seq, -EOPNOTSUPP).ok());
    EXPECT_EQ(answer.get().status, -EOPNOTSUPP);

    for (Member *m : {a.get(), b.get()}) EXPECT_EQ(m->stats().rejected, 0u);
    std::string js = spanctl("--json show vm1");
    EXPECT_NE(
        js.find("\"rejected\":0,\"memory_gpa\":0,\"memory_size\":0},{\"id\":1,\"name\":\"b\""),
        std::string::npos)
        << js;  // a's ACK was no rejected message
    std::string log = slurp(dir_ + "/spand.log");
    EXPECT_NE(log.find("event=move_request vm=vm1 vcpu=1 to=1 by=control host=0 status=0 "
                       "host_name=a to_name=b seq=" +
                       std::to_string(seq)),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("event=move_ack_dropped vm=vm1 member=1 name=b seq=" + std::to_string(seq) +
                       " status=0"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("event=move_done vm=vm1 vcpu=1 from=0 to=1 status=0 why=host-answered "
                       "hosted_by=1 generation=" +
                       std::to_string(gen + 1)),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("event=move_failed vm=vm1 vcpu=0 from=0 to=1 status=-16 why=host-refused "
                       "hosted_by=0"),
              std::string::npos)
        << log;
    EXPECT_EQ(log.find("event=reject"), std::string::npos) << log;
    EXPECT_EQ(log.find("event=invariant"), std::string::npos) << log;
}

// What spand refuses itself is answered at once and never reaches a
// member; nothing changes.
TEST_F(Spand, MoveRefusals) {
    auto a = member("a");
    auto b = member("b");
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(place_2_and_1(*a, *b));
    uint64_t gen = placement().generation();
    auto ctl = control();
    ASSERT_TRUE(ctl);

    EXPECT_EQ(move_refused(*ctl, 9, b->id()).status, -ENOENT);  // no such vCPU
    EXPECT_EQ(move_refused(*ctl, 0, 2).status, -ENOENT);        // a free slot
    EXPECT_EQ(move_refused(*ctl, 0, 5).status, -ENOENT);        // beyond --max-members 4
    EXPECT_EQ(move_refused(*ctl, 0, a->id()).status, -EALREADY);
    EXPECT_EQ(move_refused(*ctl, 2, b->id()).status, -EALREADY);
    // A member moves its own vCPUs itself; it may not ask spand to.
    EXPECT_EQ(move_refused(*a, 0, b->id()).status, -EPERM);
    EXPECT_EQ(move_refused(*b, 0, b->id()).status, -EPERM);
    // A control session bound to no span VM.
    auto unbound = control("");
    ASSERT_TRUE(unbound);
    EXPECT_EQ(move_refused(*unbound, 0, b->id()).status, -ENXIO);
    // A hand-over of the vCPU is pending.
    ASSERT_EQ(hand_over(*a, 0, b->id()).status, 0);
    EXPECT_EQ(move_refused(*ctl, 0, b->id()).status, -EBUSY);
    // A move of the vCPU is pending (a has not answered yet).
    auto answer = move(*ctl, 1, b->id());
    auto mv = wait_for(*a, SPAN_MSG_MOVE);
    ASSERT_TRUE(mv.has_value());
    auto ctl2 = control();
    ASSERT_TRUE(ctl2);
    EXPECT_EQ(move_refused(*ctl2, 1, b->id()).status, -EBUSY);
    ASSERT_TRUE(a->ack(mv->hdr().seq, -EINTR).ok());
    EXPECT_EQ(answer.get().status, -EINTR);
    // Only that one MOVE reached a member.
    for (Member *m : {a.get(), b.get()}) EXPECT_TRUE(drain(*m, SPAN_MSG_MOVE).empty());
    EXPECT_EQ(placement().generation(), gen);
    EXPECT_EQ(placement().vcpu_host(0), a->id());
    EXPECT_EQ(placement().vcpu_host(1), a->id());
    std::string log = slurp(dir_ + "/spand.log");
    for (const char *line :
         {"event=move_request vm=vm1 vcpu=9 to=1 by=control status=-2 why=\"the vCPU has no "
          "host\"",
          "event=move_request vm=vm1 vcpu=0 to=2 by=control host=0 status=-2 why=\"no member in "
          "the target slot\"",
          "event=move_request vm=vm1 vcpu=0 to=0 by=control host=0 status=-114 why=",
          "event=move_request vm=vm1 vcpu=0 to=1 by=member member=0 host=0 status=-1 why=",
          "event=move_request vm=- vcpu=0 to=1 by=control status=-6 why=",
          "event=move_request vm=vm1 vcpu=0 to=1 by=control host=0 status=-16 why=\"a hand-over "
          "of the vCPU is pending\"",
          "event=move_request vm=vm1 vcpu=1 to=1 by=control host=0 status=-16 why=\"a move of "
          "the vCPU is pending\""})
        EXPECT_NE(log.find(line), std::string::npos) << line << "\n" << log;
    EXPECT_EQ(log.find("event=reject"), std::string::npos) << log;
}

// The host leaves before it answered: spanctl gets -ECONNRESET.  The
// requester leaves: spand forgets the move, and the host's answer is
// dropped.
TEST_F(Spand, MoveEndsWhenTheHostOrTheRequesterLeaves) {
    auto a = member("a");
    auto b = member("b");
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(attach(*a, SPAN_ATTACH_VCPU, 0).ok());
    ASSERT_TRUE(attach(*b, SPAN_ATTACH_VCPU, 1).ok());
    auto ctl = control();
    ASSERT_TRUE(ctl);

    {  // a spanctl that goes away
        auto gone = control();
        ASSERT_TRUE(gone);
        Msg req = Msg::of(SPAN_MSG_MOVE, span_move{1, a->id(), 0, 0});
        ASSERT_TRUE(gone->notify(req).ok());
    }
    auto mv = wait_for(*b, SPAN_MSG_MOVE);
    ASSERT_TRUE(mv.has_value());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(b->ack(mv->hdr().seq, 0).ok());
    // b is unharmed, and vCPU 1 may be moved again.
    auto hb = b->request(Msg::of(SPAN_MSG_HEARTBEAT, span_heartbeat{1, 2}));
    ASSERT_TRUE(hb.ok()) << hb.error().str();
    auto answer = move(*ctl, 1, a->id());
    mv = wait_for(*b, SPAN_MSG_MOVE);
    ASSERT_TRUE(mv.has_value());
    ASSERT_TRUE(b->ack(mv->hdr().seq, -EAGAIN).ok());
    EXPECT_EQ(answer.get().status, -EAGAIN);

    answer = move(*ctl, 0, b->id());
    mv = wait_for(*a, SPAN_MSG_MOVE);
    ASSERT_TRUE(mv.has_value());
    uint32_t aid = a->id();
    a.reset();
    EXPECT_EQ(answer.get().status, -ECONNRESET);
    EXPECT_TRUE(wait_state(*b, SPAN_VM_PAUSED).has_value());  // a hosted vCPU 0
    std::string log = slurp(dir_ + "/spand.log");
    EXPECT_NE(log.find("event=move_abandoned vm=vm1 vcpu=1 from=1 to=0 why=requester-left"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("event=move_ack_dropped vm=vm1 member=1 name=b"), std::string::npos) << log;
    EXPECT_NE(log.find("event=move_failed vm=vm1 vcpu=0 from=" + std::to_string(aid) +
                       " to=1 status=-104 why=host-left hosted_by=none"),
              std::string::npos)
        << log;
    EXPECT_EQ(log.find("event=reject"), std::string::npos) << log;
}

// A host that does not answer within --move-timeout: spanctl gets
// -ETIMEDOUT (with the timeout in ms); the host's late answer is dropped
// without harm, as is an ACK answering nothing.
TEST_F(Spand, MoveTimesOutAndALateAnswerIsDropped) {
    stop();
    pid_ = start({"--create", "vm1:16M", "--move-timeout", "300"});
    ASSERT_GT(pid_, 0);
    auto a = member("a");
    auto b = member("b");
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(attach(*a, SPAN_ATTACH_VCPU, 0).ok());
    auto ctl = control();
    ASSERT_TRUE(ctl);
    auto t0 = std::chrono::steady_clock::now();
    auto answer = move(*ctl, 0, b->id());
    auto mv = wait_for(*a, SPAN_MSG_MOVE);
    ASSERT_TRUE(mv.has_value());
    auto timed_out = answer.get();
    auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(timed_out.status, -ETIMEDOUT);
    EXPECT_EQ(timed_out.value, 300u);
    EXPECT_GE(waited, std::chrono::milliseconds(300));
    EXPECT_LT(waited, std::chrono::milliseconds(3000));
    // The late answer, and one answering nothing ever asked.
    ASSERT_TRUE(a->ack(mv->hdr().seq, 0).ok());
    ASSERT_TRUE(a->ack(123456789, -EIO).ok());
    auto hb = a->request(Msg::of(SPAN_MSG_HEARTBEAT, span_heartbeat{1, 2}));
    ASSERT_TRUE(hb.ok()) << hb.error().str();
    // A new move is relayed as before, and answered in time.
    answer = move(*ctl, 0, b->id());
    mv = wait_for(*a, SPAN_MSG_MOVE);
    ASSERT_TRUE(mv.has_value());
    ASSERT_TRUE(a->ack(mv->hdr().seq, -EBUSY).ok());
    EXPECT_EQ(answer.get().status, -EBUSY);
    std::string log = slurp(dir_ + "/spand.log");
    EXPECT_NE(log.find("event=move_failed vm=vm1 vcpu=0 from=0 to=1 status=-110 why=timeout "
                       "hosted_by=0"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("event=move_ack_dropped vm=vm1 member=0 name=a seq=123456789 status=-5 "
                       "why=\"answers no pending move\" dropped=2"),
              std::string::npos)
        << log;
    EXPECT_EQ(log.find("event=reject"), std::string::npos) << log;
    std::string js = spanctl("--json show vm1");
    EXPECT_NE(js.find("\"name\":\"a\""), std::string::npos) << js;
    EXPECT_NE(js.find("\"state\":\"running\""), std::string::npos) << js;
}

// spanctl move NAME CPU MEMBER: the host member gets the MOVE (a member
// name resolved to its slot), and spanctl says what came of it.
TEST_F(Spand, SpanctlMove) {
    stop();
    pid_ = start({"--create", "vm1:16M", "--move-timeout", "1000"});
    ASSERT_GT(pid_, 0);
    auto a = member("a");
    auto b = member("b");
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(place_2_and_1(*a, *b));
    uint64_t gen = placement().generation();
    int rc;
    // Refused by spanctl or spand, no member asked.
    const struct {
        const char *args, *err;
    } refusals[] = {
        {"move vm1 7 b", "spanctl: move: vm1: vCPU 7 has no host\n"},
        {"move vm1 2 x", "spanctl: move: member 'x' is not in span VM 'vm1'\n"},
        {"move vm1 2 3", "spanctl: move: member 3 is not in span VM 'vm1'\n"},
        {"move vm1 2 b", "spanctl: move: vm1: vCPU 2 already runs on member 'b'\n"},
        {"move vm1 0 0", "spanctl: move: vm1: vCPU 0 already runs on member 0\n"},
        {"move vm9 0 a", "spanctl: move: span VM 'vm9' does not exist\n"},
    };
    for (auto &r : refusals) {
        EXPECT_EQ(spanctl(r.args, &rc), "") << r.args;
        EXPECT_EQ(rc, 1) << r.args;
        EXPECT_EQ(slurp(dir_ + "/ctl.err"), r.err) << r.args;
    }
    for (const char *bad : {"move", "move vm1", "move vm1 1", "move vm1 1 a b", "move vm1 x a",
                            "move vm1 -1 a", "move vm1 4294967295 a", "move vm1 1 16",
                            "move vm1 1 a/b", "move a/b 1 a", "move vm1 1 a --member b"}) {
        spanctl(bad, &rc);
        EXPECT_EQ(rc, 2) << bad;
    }
    for (Member *m : {a.get(), b.get()}) EXPECT_TRUE(drain(*m, SPAN_MSG_MOVE).empty());

    // By name: a moves vCPU 1 to b.
    auto ctl = spanctl_async("move vm1 1 b");
    auto mv = wait_for(*a, SPAN_MSG_MOVE);
    ASSERT_TRUE(mv.has_value());
    EXPECT_EQ(mv->get<span_move>().apic_id, 1u);
    EXPECT_EQ(mv->get<span_move>().member, b->id());
    ASSERT_EQ(hand_over(*a, 1, b->id()).status, 0);
    ASSERT_TRUE(attach(*b, SPAN_ATTACH_VCPU, 1).ok());
    ASSERT_TRUE(a->ack(mv->hdr().seq, 0).ok());
    auto [out, status] = ctl.get();
    EXPECT_EQ(status, 0) << slurp(dir_ + "/ctl.err");
    EXPECT_EQ(out, "vm1: moved vCPU 1 to member 'b' (topology generation " +
                       std::to_string(gen + 1) + ")\n");
    // By slot, JSON: b moves it back.
    ctl = spanctl_async("--json move vm1 1 0");
    mv = wait_for(*b, SPAN_MSG_MOVE);
    ASSERT_TRUE(mv.has_value());
    EXPECT_EQ(mv->get<span_move>().member, a->id());
    ASSERT_EQ(hand_over(*b, 1, a->id()).status, 0);
    ASSERT_TRUE(attach(*a, SPAN_ATTACH_VCPU, 1).ok());
    ASSERT_TRUE(b->ack(mv->hdr().seq, 0).ok());
    std::tie(out, status) = ctl.get();
    EXPECT_EQ(status, 0) << slurp(dir_ + "/ctl.err");
    EXPECT_EQ(out, "{\"vm\":\"vm1\",\"vcpu\":1,\"member\":0,\"generation\":" +
                       std::to_string(gen + 2) + "}\n");

    // The host refuses.
    ctl = spanctl_async("move vm1 1 b");
    mv = wait_for(*a, SPAN_MSG_MOVE);
    ASSERT_TRUE(mv.has_value());
    ASSERT_TRUE(a->ack(mv->hdr().seq, -EPERM).ok());
    std::tie(out, status) = ctl.get();
    EXPECT_EQ(status, 1);
    EXPECT_EQ(out, "");
    EXPECT_EQ(slurp(dir_ + "/ctl.err"),
              "spanctl: move: vm1: the member hosting vCPU 1 could not move it to member 'b': "
              "Operation not permitted\n");
    // A hand-over of vCPU 0 is pending.
    ASSERT_EQ(hand_over(*a, 0, b->id()).status, 0);
    EXPECT_EQ(spanctl("move vm1 0 b", &rc), "");
    EXPECT_EQ(rc, 1);
    EXPECT_EQ(slurp(dir_ + "/ctl.err"),
              "spanctl: move: vm1: vCPU 0 is being moved already (a move or hand-over of it is "
              "under way); try again later\n");
    // The host does not answer within spand's --move-timeout.
    ctl = spanctl_async("move vm1 1 1");
    mv = wait_for(*a, SPAN_MSG_MOVE);
    ASSERT_TRUE(mv.has_value());
    std::tie(out, status) = ctl.get();
    EXPECT_EQ(status, 1);
    EXPECT_EQ(slurp(dir_ + "/ctl.err"),
              "spanctl: move: vm1: the member hosting vCPU 1 did not answer within 1 s; the move "
              "may still complete (see 'spanctl show vm1')\n");
    ASSERT_TRUE(a->ack(mv->hdr().seq, 0).ok());  // too late: dropped
    // The host leaves before it answered.
    ctl = spanctl_async("move vm1 1 b");
    mv = wait_for(*a, SPAN_MSG_MOVE);
    ASSERT_TRUE(mv.has_value());
    a.reset();
    std::tie(out, status) = ctl.get();
    EXPECT_EQ(status, 1);
    EXPECT_EQ(slurp(dir_ + "/ctl.err"),
              "spanctl: move: vm1: the member hosting vCPU 1 left before it answered (see "
              "'spanctl show vm1')\n");

    out = spanctl("move --help", &rc);
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(out.rfind("Usage: spanctl move NAME CPU MEMBER\n", 0), 0u) << out;
    out = spanctl("--help", &rc);
    EXPECT_NE(out.find("\n  move NAME CPU MEMBER\n"), std::string::npos) << out;
}

// Memory events are raised by the members hosting vCPUs: a subscription
// is accepted only if all of them advertised SPAN_CAP_MEM_EVENTS (and,
// when spanctl names the subscriber, the subscriber too), and it ends when
// a member without the cap comes to host a vCPU.
TEST_F(Spand, SubscriptionsNeedVcpuHostsThatRaiseMemEvents) {
    auto plain = member("plain");  // like QEMU: SPAN_CAP_RINGS only
    auto intro = member("intro", "vm1", kMemEvents);
    ASSERT_TRUE(plain && intro);
    ASSERT_TRUE(attach(*plain, SPAN_ATTACH_VCPU, 0).ok());
    span_mem_subscribe self{0, 0x10, 4, SPAN_ACCESS_WRITE, SPAN_MEMBER_SELF};
    auto sub = [&](Member &m, const span_mem_subscribe &s) {
        return ack_of(m, Msg::of(SPAN_MSG_MEM_SUBSCRIBE, s));
    };
    // The only vCPU host cannot raise memory events.
    EXPECT_EQ(sub(*intro, self).status, -EOPNOTSUPP);
    int rc;
    std::string out = spanctl("subscribe vm1 --member intro --gfn 16 --pages 4", &rc);
    EXPECT_EQ(rc, 1);
    EXPECT_EQ(out, "");
    EXPECT_EQ(slurp(dir_ + "/ctl.err"),
              "spanctl: subscribe: refused: subscribe member intro to memory events of span VM "
              "vm1: memory events are raised by the members hosting vCPUs, and plain (member 0) "
              "cannot raise them (no SPAN_CAP_MEM_EVENTS; QEMU members do not advertise it)\n");
    // Nor when only some of them can.
    auto host = member("host", "vm1", kMemEvents);
    ASSERT_TRUE(host);
    ASSERT_TRUE(attach(*host, SPAN_ATTACH_VCPU, 1).ok());
    EXPECT_EQ(sub(*intro, self).status, -EOPNOTSUPP);
    std::string js = spanctl("--json show vm1");
    EXPECT_NE(js.find("\"subscriptions\":0"), std::string::npos) << js;
    EXPECT_NE(slurp(dir_ + "/spand.log")
                  .find("event=subscribe vm=vm1 member=1 gfn=16 pages=4 access=2 by=member "
                        "status=-95 why=\"a vCPU host cannot raise memory events\""),
              std::string::npos);
    // Accepted once every vCPU host can.
    ASSERT_TRUE(attach(*plain, SPAN_ATTACH_VCPU, 0, false).ok());
    auto ok = sub(*intro, self);
    ASSERT_EQ(ok.status, 0);
    uint64_t id1 = ok.value;
    auto note = wait_for(*host, SPAN_MSG_MEM_SUBSCRIBE);
    ASSERT_TRUE(note.has_value());
    EXPECT_EQ(note->get<span_mem_subscribe>().sub_id, id1);
    // spanctl may name only a subscriber that takes memory events...
    out = spanctl("subscribe vm1 --member plain --gfn 16 --pages 4", &rc);
    EXPECT_EQ(rc, 1);
    EXPECT_EQ(slurp(dir_ + "/ctl.err"),
              "spanctl: subscribe: refused: subscribe member plain to memory events of span VM "
              "vm1: plain (member 0) cannot take memory events (no SPAN_CAP_MEM_EVENTS; QEMU "
              "members do not advertise it)\n");
    // ... and that subscriber is told, like the vCPU hosts.
    out = spanctl("subscribe vm1 --member intro --gfn 32 --pages 1 --access x", &rc);
    EXPECT_EQ(rc, 0) << slurp(dir_ + "/ctl.err");
    EXPECT_EQ(out, "subscription 2\n");
    note = wait_for(*intro, SPAN_MSG_MEM_SUBSCRIBE);
    ASSERT_TRUE(note.has_value());
    EXPECT_EQ(note->get<span_mem_subscribe>().sub_id, 2u);
    EXPECT_EQ(note->get<span_mem_subscribe>().member, intro->id());
    // A member joining learns the subscriptions (it may come to host vCPUs).
    auto late = member("late", "vm1", kMemEvents);
    ASSERT_TRUE(late);
    for (uint64_t id : {id1, uint64_t{2}}) {
        note = wait_for(*late, SPAN_MSG_MEM_SUBSCRIBE);
        ASSERT_TRUE(note.has_value()) << id;
        EXPECT_EQ(note->get<span_mem_subscribe>().sub_id, id);
    }
    ASSERT_TRUE(attach(*late, SPAN_ATTACH_VCPU, 2).ok());  // it can: they stay
    js = spanctl("--json show vm1");
    EXPECT_NE(js.find("\"subscriptions\":2"), std::string::npos) << js;
    // A vCPU host that cannot raise the events ends them all.
    ASSERT_TRUE(attach(*plain, SPAN_ATTACH_VCPU, 0).ok());
    for (Member *m : {intro.get(), host.get(), late.get()}) {
        std::set<uint64_t> gone;
        for (int i = 0; i < 2; i++) {
            auto un = wait_for(*m, SPAN_MSG_MEM_UNSUBSCRIBE);
            ASSERT_TRUE(un.has_value()) << m->id();
            gone.insert(un->get<span_mem_unsubscribe>().sub_id);
        }
        EXPECT_EQ(gone, (std::set<uint64_t>{id1, 2}));
    }
    js = spanctl("--json show vm1");
    EXPECT_NE(js.find("\"subscriptions\":0"), std::string::npos) << js;
    EXPECT_NE(slurp(dir_ + "/spand.log")
                  .find("event=subscriptions_dropped vm=vm1 member=0 name=plain vcpu=0 "
                        "subscriptions=2"),
              std::string::npos);
    EXPECT_EQ(sub(*intro, self).status, -EOPNOTSUPP);
}

TEST_F(Spand, CApi) {
    struct span_member *m = nullptr;
    ASSERT_EQ(span_member_connect(sock_.c_str(), "vm1", "qemu0", SPAN_CAP_RINGS, &m), 0);
    struct span_member *n = nullptr;
    ASSERT_EQ(span_member_connect(sock_.c_str(), "vm1", "qemu1", SPAN_CAP_RINGS, &n), 0);
    EXPECT_EQ(span_member_mem_size(m), 16u << 20);
    EXPECT_GE(span_member_mem_fd(m), 0);
    EXPECT_GE(span_member_event_fd(m), 0);
    EXPECT_GE(span_member_control_fd(m), 0);
    EXPECT_EQ(span_member_connect(sock_.c_str(), "vm1", "bad name", 0, &n), -EINVAL);
    // Request over the socket.
    Msg at = Msg::of(SPAN_MSG_ATTACH, span_attach{SPAN_ATTACH_VCPU, SPAN_MEMBER_SELF, 5, 0, 0, 0});
    uint8_t reply[256];
    ssize_t len = span_member_request(m, at.data(), at.size(), reply, sizeof(reply), 2000);
    ASSERT_GT(len, 0);
    EXPECT_EQ(span_validate(reply, static_cast<size_t>(len)), SPAN_REJECT_NONE);
    span_ack ack;
    std::memcpy(&ack, reply + sizeof(span_msg_hdr), sizeof(ack));
    EXPECT_EQ(ack.status, 0);
    // Ring message m -> n.
    Msg msi = Msg::of(SPAN_MSG_MSI, span_msi{0xfee00000, 0x31, 1});
    ASSERT_EQ(span_member_send(m, static_cast<uint16_t>(span_member_id(n)), msi.data(), msi.size()),
              0);
    uint8_t buf[SPAN_MSG_MAX];
    ssize_t got = 0;
    for (int i = 0; i < 1000 && got <= 0; i++) {
        got = span_member_recv(n, buf, sizeof(buf));
        if (got > 0 && reinterpret_cast<span_msg_hdr *>(buf)->type != SPAN_MSG_MSI) got = 0;
        if (got == 0 && !span_member_prepare_wait(n))
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_GT(got, 0);
    EXPECT_EQ(reinterpret_cast<span_msg_hdr *>(buf)->src, span_member_id(m));
    EXPECT_EQ(span_member_rejected(n), 0u);
    span_member_close(m);
    span_member_close(n);
}

namespace {

// A raw ring record of `len` bytes (8-aligned) built from a header.
std::vector<uint8_t> record(span_msg_hdr h, size_t len) {
    std::vector<uint8_t> r(len, 0);
    h.len = static_cast<uint32_t>(len);
    std::memcpy(r.data(), &h, sizeof(h));
    return r;
}

}  // namespace

// A member that writes garbage straight into its ring to another member is
// reported by the receiver's libspan and disconnected by spand; a third
// member is unaffected.
TEST_F(Spand, RingGarbageSenderIsReportedAndDisconnected) {
    auto a = member("garbage");
    ASSERT_TRUE(a);
    struct span_member *b = nullptr;  // the victim, through the C ABI (QEMU's view)
    ASSERT_EQ(span_member_connect(sock_.c_str(), "vm1", "victim", SPAN_CAP_RINGS, &b), 0);
    auto c = member("bystander");
    ASSERT_TRUE(c);
    const uint32_t aid = a->id(), bid = span_member_id(b), cid = c->id();
    ASSERT_EQ(span_member_max_members(b), 4u);

    // a bypasses libspan's send path and writes into ring (a -> b) itself.
    auto chan = Mapping::map_shared(a->chan_fd(), chan_size(a->max_members(), a->ring_size()));
    ASSERT_TRUE(chan.ok());
    auto prod = RingProducer::attach(
        chan->bytes() + ring_offset(aid, bid, a->max_members(), a->ring_size()), a->ring_size(),
        aid, bid);
    ASSERT_TRUE(prod.ok());
    span_msg_hdr good{};
    good.magic = SPAN_MAGIC;
    good.version = SPAN_PROTO_VERSION;
    good.type = SPAN_MSG_HEARTBEAT;
    good.src = static_cast<uint16_t>(aid);
    good.dst = static_cast<uint16_t>(bid);
    std::vector<std::vector<uint8_t>> junk;
    for (int i = 0; i < 5; i++) {
        span_msg_hdr h = good;
        h.magic = 0xdeadbeef;  // bad magic
        junk.push_back(record(h, 64));
        h = good;
        h.type = 999;  // unknown type
        junk.push_back(record(h, 48));
        h = good;
        h.src = static_cast<uint16_t>(cid);  // spoofs the bystander
        junk.push_back(record(h, 48));
        h = good;
        h.type = SPAN_MSG_TOPOLOGY_GET;  // valid, but a control type: not on rings
        junk.push_back(record(h, 32));
        h = good;
        h.type = SPAN_MSG_INTERRUPT;  // truncated payload
        junk.push_back(record(h, 40));
        h = good;
        junk.push_back(record(h, 32 + 16 + 64));  // oversized payload
    }
    for (auto &j : junk) ASSERT_TRUE(prod->push(j.data(), j.size()));
    prod->publish();

    // The victim keeps receiving; the bystander sends it a heartbeat too.
    Msg hb = Msg::of(SPAN_MSG_HEARTBEAT, span_heartbeat{7, 77});
    ASSERT_TRUE(c->send(static_cast<uint16_t>(bid), hb).ok());
    bool got_hb = false;
    span_peer_stats ps{};
    uint8_t buf[SPAN_MSG_MAX];
    for (int i = 0; i < 3000; i++) {
        ssize_t n = span_member_recv(b, buf, sizeof(buf));
        ASSERT_GE(n, 0);
        if (n > 0) {
            span_msg_hdr h;
            std::memcpy(&h, buf, sizeof(h));
            if (h.type == SPAN_MSG_HEARTBEAT && h.src == cid) got_hb = true;
            continue;
        }
        ASSERT_EQ(span_member_peer_stats(b, aid, &ps, sizeof(ps)), 0);
        if (got_hb && ps.reports_acted) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_TRUE(got_hb);
    EXPECT_EQ(ps.rejected, junk.size());
    EXPECT_EQ(ps.accepted, 0u);
    EXPECT_EQ(ps.reports, 1u);  // one report in flight at a time
    EXPECT_EQ(ps.reports_acted, 1u);
    EXPECT_EQ(ps.last_report_status, 0);
    EXPECT_EQ(ps.by_reason[SPAN_REJECT_MAGIC], 5u);
    EXPECT_EQ(ps.by_reason[SPAN_REJECT_TYPE], 10u);  // unknown + control type
    EXPECT_EQ(ps.by_reason[SPAN_REJECT_ADDRESS], 5u);
    EXPECT_EQ(ps.by_reason[SPAN_REJECT_SIZE], 10u);
    EXPECT_EQ(span_member_rejected(b), junk.size());
    span_peer_stats cs{};
    ASSERT_EQ(span_member_peer_stats(b, cid, &cs, sizeof(cs)), 0);
    EXPECT_EQ(cs.accepted, 1u);
    EXPECT_EQ(cs.rejected, 0u);
    EXPECT_EQ(cs.reports, 0u);
    EXPECT_EQ(span_member_peer_stats(b, bid, &cs, sizeof(cs)), -EINVAL);  // itself
    EXPECT_EQ(span_member_peer_stats(b, 4, &cs, sizeof(cs)), -EINVAL);
    EXPECT_EQ(span_member_peer_stats(b, aid, nullptr, 0), -EINVAL);

    // spand cut the garbage sender off.
    auto r = a->recv(3000);
    while (r.ok()) r = a->recv(3000);
    EXPECT_EQ(r.error().code, ECONNRESET) << r.error().str();
    // The bystander is unaffected: spand and the victim still talk to it.
    auto rep = c->request(Msg::of(SPAN_MSG_HEARTBEAT, span_heartbeat{1, 2}));
    ASSERT_TRUE(rep.ok()) << rep.error().str();
    EXPECT_EQ(rep->back().type(), SPAN_MSG_HEARTBEAT);
    Msg back = Msg::of(SPAN_MSG_HEARTBEAT, span_heartbeat{3, 4});
    ASSERT_EQ(span_member_send(b, static_cast<uint16_t>(cid), back.data(), back.size()), 0);
    auto m = wait_for(*c, SPAN_MSG_HEARTBEAT);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->get<span_heartbeat>().counter, 4u);
    EXPECT_EQ(c->stats().rejected, 0u);
    std::string js = spanctl("--json show vm1");
    EXPECT_EQ(js.find("\"name\":\"garbage\""), std::string::npos) << js;
    EXPECT_NE(js.find("\"name\":\"bystander\""), std::string::npos) << js;
    EXPECT_NE(js.find("\"state\":\"running\""), std::string::npos) << js;
    std::string log = slurp(dir_ + "/spand.log");
    EXPECT_NE(log.find("event=peer_report"), std::string::npos) << log;
    EXPECT_NE(log.find("action=disconnect"), std::string::npos) << log;
    EXPECT_NE(log.find("reason=reported-by-peer"), std::string::npos) << log;
    EXPECT_NE(log.find("event=member_lost"), std::string::npos) << log;
    EXPECT_EQ(::waitpid(pid_, nullptr, WNOHANG), 0);  // spand still running
    span_member_close(b);
}

// Reports from a member that hosts vCPUs also pause the VM when the
// offender hosted vCPUs (the normal member-death policy).
TEST_F(Spand, ReportedVcpuHostDeathPausesVm) {
    auto bad = member("bad");
    auto victim = member("victim");
    ASSERT_TRUE(bad && victim);
    ASSERT_TRUE(attach(*bad, SPAN_ATTACH_VCPU, 0).ok());
    victim->set_report_threshold(3);
    auto chan =
        Mapping::map_shared(bad->chan_fd(), chan_size(bad->max_members(), bad->ring_size()));
    ASSERT_TRUE(chan.ok());
    auto prod = RingProducer::attach(
        chan->bytes() + ring_offset(bad->id(), victim->id(), bad->max_members(), bad->ring_size()),
        bad->ring_size(), bad->id(), victim->id());
    ASSERT_TRUE(prod.ok());
    std::vector<uint8_t> junk(64, 0);
    span_msg_hdr h{};
    h.magic = 0x11111111;
    h.len = 64;
    std::memcpy(junk.data(), &h, sizeof(h));
    for (int i = 0; i < 3; i++) ASSERT_TRUE(prod->push(junk.data(), junk.size()));
    prod->publish();
    auto vs = wait_state(*victim, SPAN_VM_PAUSED);
    ASSERT_TRUE(vs.has_value());
    EXPECT_EQ(vs->reason, static_cast<uint32_t>(SPAN_REASON_MEMBER_LOST));
    ASSERT_NE(victim->peer_stats(bad->id()), nullptr);
    EXPECT_EQ(victim->peer_stats(bad->id())->reports, 1u);
    ASSERT_TRUE(attach(*victim, SPAN_ATTACH_VCPU, 0).ok());  // adopt: resumes
    EXPECT_TRUE(wait_state(*victim, SPAN_VM_RUNNING).has_value());
}

// spand cannot see the rings, so it only checks that a report is plausible
// and rate-limits what one member's reports can do.
TEST_F(Spand, PeerReportsArePlausibilityCheckedAndRateLimited) {
    stop();
    pid_ = start({"--create", "vm1:16M", "--report-budget", "1", "--report-interval", "3600"});
    ASSERT_GT(pid_, 0);
    auto liar = member("liar");
    auto y = member("y");
    auto z = member("z");
    ASSERT_TRUE(liar && y && z);
    auto report = [&](Member &from, uint32_t accused) {
        span_peer_report pr{accused, SPAN_REJECT_MAGIC, 100, 0, 0, 0};
        auto r = from.request(Msg::of(SPAN_MSG_PEER_REPORT, pr), 3000);
        EXPECT_TRUE(r.ok()) << r.error().str();
        return r.ok() ? r->back().get<span_ack>().status : 1;
    };
    // Not on rings.
    span_peer_report pr{y->id(), SPAN_REJECT_MAGIC, 1, 0, 0, 0};
    Msg onring = Msg::of(SPAN_MSG_PEER_REPORT, pr);
    EXPECT_EQ(liar->send(static_cast<uint16_t>(y->id()), onring).error().code, EINVAL);
    // The accused must be a live member.
    EXPECT_EQ(report(*liar, 3), -ENOENT);
    // Only members may report (not spanctl sessions).
    ConnectOptions co;
    co.socket_path = sock_;
    co.role = SPAN_ROLE_CONTROL;
    co.vm_name = "vm1";
    auto ctl = Member::connect(co);
    ASSERT_TRUE(ctl.ok());
    EXPECT_EQ(report(**ctl, y->id()), -EOPNOTSUPP);
    // Accusing itself is malformed: rejected and counted, no reply.
    span_peer_report self{liar->id(), SPAN_REJECT_MAGIC, 1, 0, 0, 0};
    Msg sm = Msg::of(SPAN_MSG_PEER_REPORT, self);
    ASSERT_TRUE(liar->notify(sm).ok());
    // One (false) report within the budget is acted upon: spand cannot tell.
    EXPECT_EQ(report(*liar, y->id()), 0);
    auto r = y->recv(3000);
    while (r.ok()) r = y->recv(3000);
    EXPECT_EQ(r.error().code, ECONNRESET);
    // The next one is refused: z stays.
    EXPECT_EQ(report(*liar, z->id()), -EBUSY);
    EXPECT_EQ(report(*liar, z->id()), -EBUSY);
    auto hb = z->request(Msg::of(SPAN_MSG_HEARTBEAT, span_heartbeat{1, 2}));
    ASSERT_TRUE(hb.ok()) << hb.error().str();
    std::string log = slurp(dir_ + "/spand.log");
    EXPECT_NE(log.find("action=ignored-no-such-member"), std::string::npos) << log;
    EXPECT_NE(log.find("action=refused-rate-limit"), std::string::npos) << log;
    EXPECT_NE(log.find("reason=bad-address what=malformed"), std::string::npos) << log;
    std::string js = spanctl("--json show vm1");
    EXPECT_NE(js.find("\"name\":\"z\""), std::string::npos) << js;
    EXPECT_NE(js.find("\"name\":\"liar\""), std::string::npos) << js;

    // --report-budget 0: reports are only logged.
    liar.reset();
    z.reset();
    ctl.value().reset();
    stop();
    pid_ = start({"--create", "vm1:16M", "--report-budget", "0"});
    ASSERT_GT(pid_, 0);
    auto p = member("p");
    auto q = member("q");
    ASSERT_TRUE(p && q);
    EXPECT_EQ(report(*p, q->id()), -EPERM);
    EXPECT_NE(slurp(dir_ + "/spand.log").find("action=refused-disabled"), std::string::npos);
}

// SO_PEERCRED: a client that is neither root, spand's uid nor --allow-uid is
// refused; the socket is opened up (0666) so that only the credential check
// stands in the way.
TEST_F(Spand, PeerCredentialsChecked) {
    constexpr uid_t kNobody = 65534, kOther = 65533;
    // Connects as uid (in a child); returns its exit status: 0 joined,
    // 10 + errno-ish on refusal, 90+ setup failures.
    auto try_as = [&](uid_t uid, const std::string &name) {
        pid_t pid = ::fork();
        if (pid == 0) {
            if (::setgroups(0, nullptr) < 0 || ::setgid(uid) < 0 || ::setuid(uid) < 0) _exit(90);
            if (::geteuid() != uid) _exit(91);
            ConnectOptions o;
            o.socket_path = sock_;
            o.vm_name = "vm1";
            o.member_name = name;
            o.timeout_ms = 2000;
            auto m = Member::connect(o);
            if (m.ok()) _exit(0);
            int e = m.error().code;
            _exit(e == ECONNRESET || e == EPIPE ? 10 : e == EACCES ? 11 : 12);
        }
        int st = 0;
        ::waitpid(pid, &st, 0);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
    };
    auto open_up = [&] {
        ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
        ASSERT_EQ(::chmod(sock_.c_str(), 0666), 0);
    };
    {  // Can this environment switch uids at all?
        pid_t pid = ::fork();
        if (pid == 0) _exit(::setgid(kNobody) == 0 && ::setuid(kNobody) == 0 ? 0 : 1);
        int st = 0;
        ::waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            GTEST_SKIP() << "cannot setuid(" << kNobody << ") here (not root or no uid mapping)";
    }
    // Without the chmod the socket's mode alone keeps the client out.
    EXPECT_EQ(try_as(kNobody, "n0"), 11);
    open_up();
    EXPECT_EQ(try_as(kNobody, "n1"), 10);  // refused by credentials
    std::string log = slurp(dir_ + "/spand.log");
    EXPECT_NE(log.find("event=client_refused reason=uid"), std::string::npos) << log;
    EXPECT_NE(log.find("uid=65534"), std::string::npos) << log;
    EXPECT_EQ(log.find("event=member_join vm=vm1 member=0 name=n1"), std::string::npos) << log;
    EXPECT_EQ(try_as(0, "root"), 0);  // root is admitted

    // --allow-uid admits it.
    stop();
    pid_ = start({"--create", "vm1:16M", "--allow-uid", "65534"});
    ASSERT_GT(pid_, 0);
    open_up();
    EXPECT_EQ(try_as(kNobody, "n2"), 0);
    EXPECT_EQ(try_as(kOther, "o2"), 10);

    // spand running as an unprivileged uid admits its own uid (and root),
    // nobody else.
    stop();
    ASSERT_EQ(::chown(dir_.c_str(), kOther, kOther), 0);
    pid_ = start({"--create", "vm1:16M"}, "spand.log", true, kOther);
    ASSERT_GT(pid_, 0);
    open_up();
    EXPECT_EQ(try_as(kOther, "o3"), 0);
    EXPECT_EQ(try_as(kNobody, "n3"), 10);
    EXPECT_EQ(try_as(0, "root3"), 0);
    log = slurp(dir_ + "/spand.log");
    EXPECT_NE(log.find("uid=65533"), std::string::npos) << log;
}
