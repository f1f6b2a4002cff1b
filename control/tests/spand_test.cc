// spand end to end: a real daemon process, fake members over its real
// socket, spanctl, member death, hostile input.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "span/libspan.h"
#include "span/member.h"

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
                bool wait = true) {
        pid_t pid = ::fork();
        if (pid == 0) {
            int fd = ::open((dir_ + "/" + log).c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
            ::dup2(fd, 2);
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

    std::unique_ptr<Member> member(const std::string &name, const std::string &vm = "vm1") {
        ConnectOptions o;
        o.socket_path = sock_;
        o.vm_name = vm;
        o.member_name = name;
        auto r = Member::connect(o);
        EXPECT_TRUE(r.ok()) << r.error().str();
        return r ? std::move(r.value()) : nullptr;
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

    Status attach(Member &m, uint32_t kind, uint32_t id, bool attach = true) {
        span_attach a{kind, SPAN_MEMBER_SELF, id, 0, 0, 0};
        auto r = m.request(Msg::of(attach ? SPAN_MSG_ATTACH : SPAN_MSG_DETACH, a));
        if (!r) return r.error();
        auto ack = r->back().get<span_ack>();
        if (ack.status) return Error{-ack.status, "nack"};
        return {};
    }

    std::string dir_, sock_;
    pid_t pid_ = -1;
};

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
    auto vs = wait_state(*survivor, SPAN_VM_PAUSED);
    ASSERT_TRUE(vs.has_value());
    EXPECT_EQ(vs->reason, static_cast<uint32_t>(SPAN_REASON_MEMBER_LOST));
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
    auto host = member("host");
    ASSERT_TRUE(host);
    ASSERT_TRUE(attach(*host, SPAN_ATTACH_VCPU, 0).ok());
    uint64_t sub_id = 0;
    {
        auto intro = member("introspector");
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
    auto m = member("l1", "vm2");
    ASSERT_TRUE(m);
    std::string out = spanctl("attach vm2 --member l1 --vcpu 3", &rc);
    EXPECT_EQ(rc, 0) << out << slurp(dir_ + "/ctl.err");
    spanctl("attach vm2 --member 0 --device 7", &rc);
    EXPECT_EQ(rc, 0);
    spanctl("attach vm2 --member 0 --memory 0:16M", &rc);
    EXPECT_EQ(rc, 0);
    spanctl("attach vm2 --member 0 --memory 0:64M", &rc);
    EXPECT_EQ(rc, 1);  // beyond guest memory
    out = spanctl("--json subscribe vm2 --member l1 --gfn 16 --pages 2 --access wx", &rc);
    EXPECT_EQ(rc, 0);
    EXPECT_NE(out.find("\"subscription\":1"), std::string::npos) << out;
    js = spanctl("--json show vm2", &rc);
    EXPECT_EQ(rc, 0);
    EXPECT_NE(js.find("{\"apic_id\":3,\"member\":0}"), std::string::npos) << js;
    EXPECT_NE(js.find("{\"device\":7,\"member\":0}"), std::string::npos) << js;
    EXPECT_NE(js.find("\"access\":\"-wx\""), std::string::npos) << js;
    EXPECT_NE(js.find("\"memory_size\":16777216"), std::string::npos) << js;
    spanctl("detach vm2 --member l1 --vcpu 3", &rc);
    EXPECT_EQ(rc, 0);
    spanctl("detach vm2 --member l1 --vcpu 3", &rc);
    EXPECT_EQ(rc, 1);
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
    for (const char *cmd :
         {"create", "list", "show", "attach", "detach", "subscribe", "unsubscribe", "destroy"}) {
        out = spanctl(std::string(cmd) + " --help", &rc);
        EXPECT_EQ(rc, 0) << cmd;
        EXPECT_NE(out.find("Usage: spanctl " + std::string(cmd)), std::string::npos) << cmd;
    }
    out = spanctl("--help", &rc);
    EXPECT_EQ(rc, 0);
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
