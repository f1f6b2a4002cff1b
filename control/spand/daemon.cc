#include "daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <optional>
#include <sstream>

#include "span/ring.h"
#include "span/validate.h"

namespace spand {

using span::Error;
using span::Reject;

namespace {

// A logfmt value: bare when it needs no quoting.
std::string q(const std::string &s) {
    bool plain = !s.empty() && s.find_first_of(" \"=\\") == std::string::npos;
    return plain ? s : span::quoted(s);
}

template <typename... A>
std::string kv(A &&...a) {
    std::ostringstream o;
    bool key = true;
    ((o << (key ? " " : "=") << a, key = !key), ...);
    return o.str();
}

uint64_t mono_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

}  // namespace

void Daemon::log(LogLevel lvl, const char *event, const std::string &fields) const {
    if (lvl < cfg_.log_level) return;
    static const char *names[] = {"debug", "info", "warn", "error"};
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char t[40];
    strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
    std::fprintf(stderr, "ts=%s.%06ldZ level=%s event=%s%s\n", t, ts.tv_nsec / 1000,
                 names[static_cast<int>(lvl)], event, fields.c_str());
}

span::Result<Vm *> Daemon::create_vm(const VmSpec &spec, uint32_t ring_size, uint32_t max_members) {
    if (vms_.count(spec.name)) return Error{EEXIST, "span VM exists"};
    auto vm = std::make_unique<Vm>();
    vm->id = next_vm_id_++;
    vm->name = spec.name;
    vm->mem_size = spec.mem_size;
    vm->flags = spec.flags;
    vm->ring_size = ring_size;
    vm->max_members = max_members;
    auto mem = span::make_memfd(("span-mem:" + spec.name).c_str(), spec.mem_size,
                                spec.flags & SPAN_VM_HUGEPAGES);
    if (!mem) return mem.error();
    vm->memfd = std::move(mem.value());
    uint64_t csize = span::chan_size(max_members, ring_size);
    auto chan = span::make_memfd(("span-chan:" + spec.name).c_str(), csize, false);
    if (!chan) return chan.error();
    vm->chanfd = std::move(chan.value());
    {
        auto map = span::Mapping::map_shared(vm->chanfd.get(), csize);
        if (!map) return map.error();
        span_chan_hdr ch{SPAN_CHAN_MAGIC, SPAN_PROTO_VERSION, max_members, ring_size, csize};
        std::memcpy(map->data(), &ch, sizeof(ch));
        for (uint32_t i = 0; i < max_members; i++)
            for (uint32_t j = 0; j < max_members; j++)
                span::ring_init(map->bytes() + span::ring_offset(i, j, max_members, ring_size),
                                ring_size, i, j);
    }  // spand itself never touches the rings again
    for (uint32_t i = 0; i < max_members; i++) {
        auto efd = span::make_eventfd();
        if (!efd) return efd.error();
        vm->doorbells.push_back(std::move(efd.value()));
    }
    vm->members.assign(max_members, nullptr);
    Vm *p = vm.get();
    vms_[spec.name] = std::move(vm);
    log(LogLevel::Info, "vm_create",
        kv("vm", q(spec.name), "id", p->id, "mem_size", spec.mem_size, "hugepages",
           (spec.flags & SPAN_VM_HUGEPAGES) ? 1 : 0, "ring_size", ring_size, "max_members",
           max_members));
    return p;
}

Status Daemon::setup() {
    std::string path = cfg_.socket_path;
    if (path.size() >= sizeof(sockaddr_un{}.sun_path))
        return Error{ENAMETOOLONG, "socket path too long"};
    auto slash = path.rfind('/');
    if (slash != std::string::npos && slash > 0) {
        std::string dir = path.substr(0, slash);
        if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) return Error::sys("mkdir " + dir);
    }
    // One daemon per socket: an flock()ed lock file next to the socket.
    std::string lockp = path + ".lock";
    lock_.reset(::open(lockp.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock_) return Error::sys("open " + lockp);
    if (::flock(lock_.get(), LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            return Error{EADDRINUSE, "another spand is already running on " + path + " (" + lockp +
                                         " is locked)"};
        return Error::sys("flock " + lockp);
    }
    // We hold the lock, so any socket file left there is stale.
    ::unlink(path.c_str());
    listen_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!listen_) return Error::sys("socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    mode_t old = ::umask(0177);
    int br = ::bind(listen_.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr));
    ::umask(old);
    if (br < 0) return Error::sys("bind " + path);
    if (::chmod(path.c_str(), 0600) < 0) return Error::sys("chmod " + path);
    if (::listen(listen_.get(), 64) < 0) return Error::sys("listen");

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    sigfd_.reset(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!sigfd_) return Error::sys("signalfd");

    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) return Error::sys("epoll_create1");
    for (int fd : {listen_.get(), sigfd_.get()}) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) return Error::sys("epoll_ctl");
    }
    for (auto &spec : cfg_.create) {
        auto r = create_vm(spec, cfg_.ring_size, cfg_.max_members);
        if (!r) return Error{r.error().code, "create " + spec.name + ": " + r.error().str()};
    }
    log(LogLevel::Info, "start", kv("socket", q(path), "pid", ::getpid(), "uid", ::geteuid()));
    return {};
}

void Daemon::teardown() {
    moves_.clear();
    clients_.clear();
    vms_.clear();
    listen_.reset();
    ::unlink(cfg_.socket_path.c_str());
    ::unlink((cfg_.socket_path + ".lock").c_str());
    lock_.reset();
}

int Daemon::run() {
    if (auto s = setup(); !s) {
        std::fprintf(stderr, "spand: %s\n", s.error().str().c_str());
        log(LogLevel::Error, "setup_failed", kv("error", q(s.error().str())));
        return 1;
    }
    epoll_event evs[32];
    while (!stop_) {
        int n = ::epoll_wait(epoll_.get(), evs, 32, move_wait_ms());
        if (n < 0) {
            if (errno == EINTR) continue;
            log(LogLevel::Error, "epoll_failed", kv("errno", errno));
            break;
        }
        for (int i = 0; i < n && !stop_; i++) {
            int fd = evs[i].data.fd;
            if (fd == sigfd_.get()) {
                signalfd_siginfo si;
                while (::read(sigfd_.get(), &si, sizeof(si)) == sizeof(si)) {
                    log(LogLevel::Info, "signal", kv("signo", si.ssi_signo));
                    stop_ = true;
                }
            } else if (fd == listen_.get()) {
                accept_clients();
            } else {
                on_readable(fd);
            }
            // Drop after the event so no handler sees a dangling client.
            drop_doomed();
        }
        if (!stop_) {
            expire_moves();
            drop_doomed();
        }
    }
    log(LogLevel::Info, "stop", kv("clients", clients_.size(), "vms", vms_.size()));
    teardown();
    return 0;
}

void Daemon::drop_doomed() {
    while (!doomed_.empty()) {
        int d = doomed_.back();
        doomed_.pop_back();
        auto it = clients_.find(d);
        if (it != clients_.end()) drop(*it->second, "send failed");
    }
}

void Daemon::accept_clients() {
    for (;;) {
        int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR)
                log(LogLevel::Warn, "accept_failed", kv("errno", errno));
            return;
        }
        UniqueFd cfd(fd);
        ucred cred{};
        socklen_t len = sizeof(cred);
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
            log(LogLevel::Warn, "peercred_failed", kv("errno", errno));
            continue;
        }
        bool allowed = cred.uid == 0 || cred.uid == ::geteuid() ||
                       std::find(cfg_.allow_uids.begin(), cfg_.allow_uids.end(), cred.uid) !=
                           cfg_.allow_uids.end();
        if (!allowed) {
            log(LogLevel::Warn, "client_refused",
                kv("reason", "uid", "pid", cred.pid, "uid", cred.uid));
            continue;
        }
        if (clients_.size() >= cfg_.max_clients) {
            log(LogLevel::Warn, "client_refused",
                kv("reason", "too-many-clients", "pid", cred.pid));
            continue;
        }
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.fd = fd;
        if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) continue;
        auto c = std::make_unique<Client>();
        c->fd = std::move(cfd);
        c->pid = cred.pid;
        c->uid = cred.uid;
        log(LogLevel::Debug, "client_accept", kv("fd", fd, "pid", cred.pid, "uid", cred.uid));
        clients_[fd] = std::move(c);
    }
}

void Daemon::on_readable(int fd) {
    auto it = clients_.find(fd);
    if (it == clients_.end()) return;
    Client &c = *it->second;
    // Bounded per wake-up so one chatty client cannot starve the others.
    for (int i = 0; i < 64; i++) {
        Reject why;
        auto r = span::recv_msg(fd, nullptr, 0, &why);
        if (!r) {
            int code = r.error().code;
            if (code == EAGAIN || code == ETIMEDOUT) return;
            if (code == EBADMSG) {
                c.msgs++;
                reject(c, why, "malformed");
                if (std::find(doomed_.begin(), doomed_.end(), fd) != doomed_.end()) return;
                continue;
            }
            drop(c, code == ECONNRESET ? "hangup" : "recv error");
            return;
        }
        c.msgs++;
        handle(c, r.value());
        if (std::find(doomed_.begin(), doomed_.end(), fd) != doomed_.end()) return;
    }
}

void Daemon::reject(Client &c, Reject r, const char *what) {
    c.rejected++;
    log(LogLevel::Warn, "reject",
        kv("pid", c.pid, "member", q(c.name.empty() ? "-" : c.name), "reason", span::reject_str(r),
           "what", what, "rejected", c.rejected));
    if (c.rejected >= cfg_.max_rejects &&
        std::find(doomed_.begin(), doomed_.end(), c.fd.get()) == doomed_.end()) {
        log(LogLevel::Warn, "disconnect",
            kv("pid", c.pid, "member", q(c.name.empty() ? "-" : c.name), "reason",
               "too-many-rejects", "rejected", c.rejected));
        doomed_.push_back(c.fd.get());
    }
}

void Daemon::drop(Client &c, const char *why) {
    int fd = c.fd.get();
    bool was_member = c.role == Client::Role::Member;
    bool closed = !std::strcmp(why, "hangup") || !std::strcmp(why, "recv error");
    if (was_member) member_lost(c, closed ? SPAN_LEFT_CLOSED : SPAN_LEFT_CUT_OFF);
    end_moves_of(c);
    log(was_member ? LogLevel::Info : LogLevel::Debug, "client_close",
        kv("pid", c.pid, "name", q(c.name.empty() ? "-" : c.name), "why", q(why)));
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    clients_.erase(fd);  // closes the socket
}

// Policy when a member goes away (hang-up, death, or cut off):
//  * the other members are told first (MEMBER LEFT, while their placement
//    still says what it hosted);
//  * its subscriptions are dropped (peers told with MEM_UNSUBSCRIBE);
//  * its devices lose their owner;
//  * the vCPU hand-overs pending from it or to it are cancelled (each
//    member learns of it from MEMBER LEFT);
//  * if it hosted vCPUs the span VM pauses (the guest cannot run with
//    vCPUs missing); its memory stays intact, owned by spand, and a member
//    adopting the orphaned vCPUs resumes it;
//  * otherwise the guest simply continues.
Msg Daemon::member_event(const Client &c, uint16_t event, uint16_t reason) {
    span_member_event e{};
    e.member = c.slot;
    e.event = event;
    e.reason = reason;
    std::strncpy(e.name, c.name.c_str(), sizeof(e.name) - 1);
    return Msg::of(SPAN_MSG_MEMBER, e);
}

void Daemon::member_lost(Client &c, uint16_t reason) {
    Vm &vm = *c.vm;
    uint32_t slot = c.slot;
    vm.members[slot] = nullptr;
    broadcast(vm, member_event(c, SPAN_MEMBER_LEFT, reason));
    c.role = Client::Role::Control;  // no longer a member; c.vm stays for logging
    size_t nhand = cancel_handovers(vm, slot, SPAN_APIC_NONE, "member-lost");
    auto removed = vm.topo.remove_member(slot);
    size_t nsubs = drop_subs(vm, slot);
    bool pause = !removed.vcpus.empty();
    if (pause && vm.state == SPAN_VM_RUNNING) {
        vm.state = SPAN_VM_PAUSED;
        vm.reason = SPAN_REASON_MEMBER_LOST;
        span_vm_state st{SPAN_VM_PAUSED, SPAN_REASON_MEMBER_LOST};
        broadcast(vm, Msg::of(SPAN_MSG_VM_STATE, st));
    }
    if (!removed.vcpus.empty() || !removed.devices.empty()) broadcast_topology(vm);
    log(pause ? LogLevel::Warn : LogLevel::Info, "member_lost",
        kv("vm", q(vm.name), "member", slot, "name", q(c.name), "pid", c.pid, "vcpus",
           removed.vcpus.size(), "devices", removed.devices.size(), "subscriptions", nsubs,
           "handovers", nhand, "left", reason == SPAN_LEFT_CLOSED ? "closed" : "cut-off", "policy",
           pause ? "pause" : "continue", "state", span::vm_state_str(vm.state)));
    if (auto bad = vm.topo.check(); !bad.empty())
        log(LogLevel::Error, "invariant", kv("vm", q(vm.name), "violation", q(bad)));
    if (auto bad = check_handovers(vm); !bad.empty())
        log(LogLevel::Error, "invariant", kv("vm", q(vm.name), "violation", q(bad)));
}

size_t Daemon::drop_subs(Vm &vm, uint32_t owner) {
    size_t n = 0;
    for (auto it = vm.subs.begin(); it != vm.subs.end();) {
        if (owner != SPAN_MEMBER_NONE && it->second.owner != owner) {
            ++it;
            continue;
        }
        span_mem_unsubscribe u{it->first};
        broadcast(vm, Msg::of(SPAN_MSG_MEM_UNSUBSCRIBE, u));
        it = vm.subs.erase(it);
        n++;
    }
    return n;
}

bool Daemon::vcpu_hosts_raise_mem_events(const Vm &vm) const {
    for (auto &[apic, slot] : vm.topo.vcpus()) {
        const Client *h = slot < vm.max_members ? vm.members[slot] : nullptr;
        if (!h || !(h->caps & SPAN_CAP_MEM_EVENTS)) return false;
    }
    return true;
}

void Daemon::send(Client &c, Msg &m, uint64_t seq, uint32_t flags) {
    uint16_t dst = c.role == Client::Role::Member ? static_cast<uint16_t>(c.slot) : 0;
    span::stamp(m, SPAN_MEMBER_SPAND, dst, seq, flags);
    if (m.type() == SPAN_MSG_ACK) {  // ACK echoes the request's seq
        auto a = m.get<span_ack>();
        a.req_seq = seq;
        std::memcpy(m.payload(), &a, sizeof(a));
    }
    if (auto s = span::send_msg(c.fd.get(), m); !s) {
        log(LogLevel::Warn, "send_failed", kv("pid", c.pid, "error", q(s.error().str())));
        if (std::find(doomed_.begin(), doomed_.end(), c.fd.get()) == doomed_.end())
            doomed_.push_back(c.fd.get());
    }
}

void Daemon::reply(Client &c, const Msg &req, Msg m, bool more) {
    send(c, m, req.hdr().seq, SPAN_F_REPLY | (more ? SPAN_F_MORE : 0));
}

void Daemon::ack(Client &c, const Msg &req, int status, uint64_t value) {
    span_ack a{req.hdr().seq, status, 0, value};
    reply(c, req, Msg::of(SPAN_MSG_ACK, a));
}

void Daemon::broadcast(Vm &vm, Msg m, uint32_t except) {
    for (uint32_t s = 0; s < vm.max_members; s++) {
        Client *c = vm.members[s];
        if (!c || s == except) continue;
        Msg copy = m;
        send(*c, copy, seq_++, 0);
    }
}

void Daemon::broadcast_topology(Vm &vm) {
    broadcast(vm, vm.topo.to_message());
}

void Daemon::maybe_resume(Vm &vm) {
    if (vm.state == SPAN_VM_PAUSED && vm.reason == SPAN_REASON_MEMBER_LOST &&
        vm.topo.unhosted().empty()) {
        vm.state = SPAN_VM_RUNNING;
        vm.reason = 0;
        span_vm_state st{SPAN_VM_RUNNING, 0};
        broadcast(vm, Msg::of(SPAN_MSG_VM_STATE, st));
        log(LogLevel::Info, "vm_resume", kv("vm", q(vm.name)));
    }
}

void Daemon::handle(Client &c, Msg &m) {
    const span_msg_hdr &h = m.hdr();
    bool member = c.role == Client::Role::Member;
    // The envelope must match the connection: members speak as their slot,
    // everyone else as slot 0, always to spand.  Only members answer
    // spand's requests (MOVE), with a final ACK.
    uint16_t want_src = member ? static_cast<uint16_t>(c.slot) : 0;
    bool answer = member && h.type == SPAN_MSG_ACK && h.flags == SPAN_F_REPLY;
    if (h.src != want_src || h.dst != SPAN_MEMBER_SPAND || ((h.flags & SPAN_F_REPLY) && !answer))
        return reject(c, Reject::Address, span_msg_type_str(h.type));
    if (c.role == Client::Role::New) {
        if (h.type != SPAN_MSG_HELLO) return reject(c, Reject::Type, "expected hello");
        return handle_hello(c, m);
    }
    if (answer) return handle_answer(c, m);
    switch (h.type) {
        case SPAN_MSG_ATTACH:
        case SPAN_MSG_DETACH:
            return handle_attach(c, m);
        case SPAN_MSG_MEM_SUBSCRIBE:
            return handle_subscribe(c, m);
        case SPAN_MSG_MEM_UNSUBSCRIBE:
            return handle_unsubscribe(c, m);
        case SPAN_MSG_TOPOLOGY_GET:
            if (!c.vm) return ack(c, m, -ENXIO);
            reply(c, m, c.vm->topo.to_message(), true);
            return ack(c, m, 0);
        case SPAN_MSG_HEARTBEAT:
            return reply(c, m, m);
        case SPAN_MSG_RESET:
        case SPAN_MSG_SHUTDOWN:
            return handle_lifecycle(c, m);
        case SPAN_MSG_MOVE:
            return handle_move(c, m);
        default:
            break;
    }
    if (member && h.type == SPAN_MSG_PEER_REPORT) return handle_peer_report(c, m);
    if (!member) {
        switch (h.type) {
            case SPAN_MSG_CTL_CREATE:
                return handle_create(c, m);
            case SPAN_MSG_CTL_DESTROY:
                return handle_destroy(c, m);
            case SPAN_MSG_CTL_LIST:
                return handle_list(c, m);
            case SPAN_MSG_CTL_SHOW: {
                auto it = vms_.find(span::name_str(m.get<span_ctl_name>().name));
                if (it == vms_.end()) return ack(c, m, -ENOENT);
                handle_show(c, m, it->second.get(), false);
                return;
            }
            default:
                break;
        }
    }
    // Valid, but not something this client may send to spand.
    reject(c, Reject::Type, span_msg_type_str(h.type));
    ack(c, m, -EOPNOTSUPP);
}

void Daemon::handle_hello(Client &c, Msg &m) {
    auto hello = m.get<span_hello>();
    span_hello_reply r{};
    r.version = static_cast<uint8_t>(std::min<int>(hello.version_max, SPAN_PROTO_VERSION));
    auto refuse = [&](int err, const char *why) {
        r.status = -err;
        r.version = SPAN_PROTO_VERSION;
        Msg rm = Msg::of(SPAN_MSG_HELLO_REPLY, r);
        log(LogLevel::Warn, "hello_refused",
            kv("pid", c.pid, "vm", q(span::name_str(hello.vm_name)), "member",
               q(span::name_str(hello.member_name)), "why", q(why)));
        reply(c, m, std::move(rm));
        if (std::find(doomed_.begin(), doomed_.end(), c.fd.get()) == doomed_.end())
            doomed_.push_back(c.fd.get());
    };
    if (r.version < hello.version_min || r.version < SPAN_PROTO_VERSION_MIN)
        return refuse(EPROTONOSUPPORT, "no common protocol version");
    std::string vm_name = span::name_str(hello.vm_name);
    Vm *vm = nullptr;
    if (!vm_name.empty()) {
        auto it = vms_.find(vm_name);
        if (it == vms_.end()) return refuse(ENOENT, "no such span VM");
        vm = it->second.get();
    }
    c.caps = hello.caps;
    c.name = span::name_str(hello.member_name);
    if (hello.role == SPAN_ROLE_CONTROL) {
        c.role = Client::Role::Control;
        c.vm = vm;
        if (vm) r.vm_id = vm->id;
        reply(c, m, Msg::of(SPAN_MSG_HELLO_REPLY, r));
        log(LogLevel::Debug, "control_hello",
            kv("pid", c.pid, "vm", q(vm_name.empty() ? "-" : vm_name)));
        return;
    }
    if (!vm) return refuse(EINVAL, "members must name a span VM");
    if (vm->state == SPAN_VM_SHUTDOWN) return refuse(ESHUTDOWN, "span VM is shut down");
    for (Client *o : vm->members)
        if (o && o->name == c.name) return refuse(EEXIST, "member name in use");
    uint32_t slot = 0;
    while (slot < vm->max_members && vm->members[slot]) slot++;
    if (slot == vm->max_members) return refuse(ENOSPC, "all member slots taken");
    c.role = Client::Role::Member;
    c.vm = vm;
    c.slot = slot;
    c.report_tokens = cfg_.report_budget;
    c.report_refill_ns = mono_ns();
    vm->members[slot] = &c;
    (void)vm->topo.add_member(slot);
    r.member_id = slot;
    r.vm_id = vm->id;
    r.mem_size = vm->mem_size;
    r.chan_size = span::chan_size(vm->max_members, vm->ring_size);
    r.ring_size = vm->ring_size;
    r.max_members = vm->max_members;
    r.flags = vm->flags;
    std::vector<int> fds{vm->memfd.get(), vm->chanfd.get()};
    for (auto &d : vm->doorbells) fds.push_back(d.get());
    r.nr_fds = static_cast<uint32_t>(fds.size());
    Msg rm = Msg::of(SPAN_MSG_HELLO_REPLY, r);
    span::stamp(rm, SPAN_MEMBER_SPAND, static_cast<uint16_t>(slot), m.hdr().seq, SPAN_F_REPLY);
    if (auto s = span::send_msg(c.fd.get(), rm, fds); !s) {
        doomed_.push_back(c.fd.get());
        return;
    }
    log(LogLevel::Info, "member_join",
        kv("vm", q(vm->name), "member", slot, "name", q(c.name), "pid", c.pid, "uid", c.uid, "caps",
           c.caps));
    // Tell the others about the newcomer, the newcomer about the others,
    // then the current placement, state and subscriptions (should it host
    // vCPUs, it has to raise their events).
    broadcast(*vm, member_event(c, SPAN_MEMBER_JOINED, SPAN_LEFT_NONE), slot);
    for (Client *o : vm->members) {
        if (!o || o == &c) continue;
        Msg j = member_event(*o, SPAN_MEMBER_JOINED, SPAN_LEFT_NONE);
        send(c, j, seq_++, 0);
    }
    Msg topo = vm->topo.to_message();
    send(c, topo, seq_++, 0);
    span_vm_state st{vm->state, vm->reason};
    Msg sm = Msg::of(SPAN_MSG_VM_STATE, st);
    send(c, sm, seq_++, 0);
    for (auto &[id, s] : vm->subs) {
        Msg n = Msg::of(SPAN_MSG_MEM_SUBSCRIBE,
                        span_mem_subscribe{s.id, s.gfn, s.nr_pages, s.access, s.owner});
        send(c, n, seq_++, 0);
    }
}

// Only a member attaches and detaches, and only itself: it places its own
// vCPUs and devices when it starts, and takes over orphaned vCPUs.  From a
// control session (spanctl) ATTACH and DETACH are refused (-EOPNOTSUPP):
// spand cannot make a running member take or give up a vCPU or a device
// (the members would have to move them themselves), and no member acts on
// an attached memory range.  Changing only spand's records would make the
// members send a vCPU's interrupts or a device's accesses to a member that
// does not run it.
//
// The one exception is a vCPU moving between members, which the two carry
// out themselves (Documentation/span-protocol.rst, "Moving a vCPU"): its
// host hands it over by naming the other member (handle_handover(), the
// placement stays), and the placement changes when that member attaches
// the vCPU itself: spand moves it from the host in one step, never leaving
// it unhosted.  A pending hand-over ends when either member leaves or the
// host detaches the vCPU.  spanctl gets a vCPU moved with MOVE instead
// (handle_move()): spand asks the host, which starts the hand-over.
void Daemon::handle_attach(Client &c, Msg &m) {
    if (!c.vm) return ack(c, m, -ENXIO);
    Vm &vm = *c.vm;
    auto a = m.get<span_attach>();
    bool attach = m.type() == SPAN_MSG_ATTACH;
    const char *kind = a.kind == SPAN_ATTACH_VCPU     ? "vcpu"
                       : a.kind == SPAN_ATTACH_DEVICE ? "device"
                                                      : "memory";
    uint32_t target = a.member;
    if (c.role != Client::Role::Member) {
        log(LogLevel::Warn, attach ? "attach" : "detach",
            kv("vm", q(vm.name), "kind", kind, "member", target, "id", a.id, "gpa", a.gpa, "size",
               a.size, "by", "control", "status", -EOPNOTSUPP, "why",
               q("only members attach and detach, themselves")));
        return ack(c, m, -EOPNOTSUPP);
    }
    if (target == SPAN_MEMBER_SELF) target = c.slot;
    if (target != c.slot) {
        if (attach && a.kind == SPAN_ATTACH_VCPU) return handle_handover(c, m, a, target);
        return ack(c, m, -EPERM);
    }
    if (target >= vm.max_members || !vm.members[target]) return ack(c, m, -ENOENT);
    Client &t = *vm.members[target];
    Status s;
    uint32_t moved_from = SPAN_MEMBER_NONE;  // a vCPU handed to the target
    switch (a.kind) {
        case SPAN_ATTACH_VCPU:
            if (attach) {
                auto host = vm.topo.vcpu_host(a.id);
                auto h = vm.handovers.find(a.id);
                if (host && *host != target && h != vm.handovers.end() && h->second.to == target) {
                    s = vm.topo.move_vcpu(a.id, *host, target);
                    if (s) {
                        moved_from = *host;
                        vm.handovers.erase(h);
                    }
                } else {
                    s = vm.topo.attach_vcpu(a.id, target);
                }
            } else {
                s = vm.topo.detach_vcpu(a.id, target);
                if (s) cancel_handovers(vm, SPAN_MEMBER_NONE, a.id, "vcpu-detached");
            }
            break;
        case SPAN_ATTACH_DEVICE:
            s = attach ? vm.topo.attach_device(a.id, target) : vm.topo.detach_device(a.id, target);
            break;
        case SPAN_ATTACH_MEMORY:
            if (attach) {
                if (a.size == 0 || a.gpa > vm.mem_size || a.size > vm.mem_size - a.gpa)
                    s = Error{ERANGE, "range outside guest memory"};
                else if (t.mem_size)
                    s = Error{EEXIST, "memory already attached"};
                else
                    t.mem_gpa = a.gpa, t.mem_size = a.size;
            } else {
                if (!t.mem_size) s = Error{ENOENT, "no memory attached"};
                t.mem_gpa = t.mem_size = 0;
            }
            break;
    }
    log(s ? LogLevel::Info : LogLevel::Warn, attach ? "attach" : "detach",
        kv("vm", q(vm.name), "kind", kind, "member", target, "id", a.id, "gpa", a.gpa, "size",
           a.size, "by", "member", "status", s ? 0 : -s.error().code) +
            (moved_from != SPAN_MEMBER_NONE ? kv("from", moved_from) : std::string()));
    if (!s) return ack(c, m, -s.error().code);
    if (attach && a.kind == SPAN_ATTACH_VCPU && !(t.caps & SPAN_CAP_MEM_EVENTS) &&
        !vm.subs.empty()) {
        // The new host cannot raise memory events: no subscription holds.
        size_t n = drop_subs(vm);
        log(LogLevel::Warn, "subscriptions_dropped",
            kv("vm", q(vm.name), "member", target, "name", q(t.name), "vcpu", a.id, "subscriptions",
               n, "why", q("vCPU host without mem-events cap")));
    }
    if (a.kind != SPAN_ATTACH_MEMORY) {
        broadcast_topology(vm);
        maybe_resume(vm);
    }
    if (auto bad = vm.topo.check(); !bad.empty())
        log(LogLevel::Error, "invariant", kv("vm", q(vm.name), "violation", q(bad)));
    if (auto bad = check_handovers(vm); !bad.empty())
        log(LogLevel::Error, "invariant", kv("vm", q(vm.name), "violation", q(bad)));
    ack(c, m, 0, vm.topo.generation());
}

// Member c, hosting vCPU a.id, hands it to member `to` (see handle_attach()
// and Documentation/span-protocol.rst, "Moving a vCPU").  Only recorded:
// the placement, and so every member's routing, changes when `to` attaches
// the vCPU itself.  -EPERM: c does not host the vCPU; -ENOENT: no member in
// slot `to`; -EBUSY: the vCPU is already being handed over.  The ACK's
// value is the (unchanged) topology generation.
void Daemon::handle_handover(Client &c, Msg &m, const span_attach &a, uint32_t to) {
    Vm &vm = *c.vm;
    int status = 0;
    const char *why = nullptr;
    auto host = vm.topo.vcpu_host(a.id);
    auto pending = vm.handovers.find(a.id);
    if (!host || *host != c.slot) {
        status = -EPERM;
        why = "only the vCPU's host hands it over";
    } else if (to >= vm.max_members || !vm.members[to]) {
        status = -ENOENT;
        why = "no such member";
    } else if (pending != vm.handovers.end()) {
        status = -EBUSY;
        why = "a hand-over of the vCPU is pending";
    } else {
        vm.handovers[a.id] = Handover{c.slot, to};
    }
    std::string fields =
        kv("vm", q(vm.name), "vcpu", a.id, "from", c.slot, "to", to, "status", status);
    if (why)
        fields += kv("why", q(why));
    else
        fields += kv("to_name", q(vm.members[to]->name));
    if (pending != vm.handovers.end() && status == -EBUSY)
        fields += kv("pending_to", pending->second.to);
    log(status ? LogLevel::Warn : LogLevel::Info, "handover", fields);
    if (auto bad = check_handovers(vm); !bad.empty())
        log(LogLevel::Error, "invariant", kv("vm", q(vm.name), "violation", q(bad)));
    ack(c, m, status, status ? 0 : vm.topo.generation());
}

size_t Daemon::cancel_handovers(Vm &vm, uint32_t slot, uint32_t apic, const char *why) {
    size_t n = 0;
    for (auto it = vm.handovers.begin(); it != vm.handovers.end();) {
        const Handover &h = it->second;
        bool hit = (slot != SPAN_MEMBER_NONE && (h.from == slot || h.to == slot)) ||
                   (apic != SPAN_APIC_NONE && it->first == apic);
        if (!hit) {
            ++it;
            continue;
        }
        log(LogLevel::Info, "handover_cancelled",
            kv("vm", q(vm.name), "vcpu", it->first, "from", h.from, "to", h.to, "why", why));
        it = vm.handovers.erase(it);
        n++;
    }
    return n;
}

std::string Daemon::check_handovers(const Vm &vm) {
    for (auto &[apic, h] : vm.handovers) {
        auto host = vm.topo.vcpu_host(apic);
        if (!host || *host != h.from) return "handed-over vCPU not hosted by the member handing it";
        if (h.to == h.from || h.to >= vm.max_members || !vm.members[h.to])
            return "vCPU handed to no other live member";
    }
    return {};
}

// spanctl asks to move vCPU apic_id to the member in slot `member`
// (span-protocol.rst, MOVE).  Only the vCPU's host can carry that out
// (span-protocol.rst, "Moving a vCPU"), so spand checks the request,
// forwards it to the host with a seq of its own and answers the requester
// once the host answered (handle_answer()), left (-ECONNRESET) or let
// Config::move_timeout_ms pass (-ETIMEDOUT) (finish_move()).  It never
// waits for the host.  Refused: -EPERM from a member (a member moves its
// own vCPUs itself), -ENXIO without a span VM, -ENOENT when the vCPU has no
// host or no member is in the target slot, -EALREADY when the target hosts
// it, -EBUSY while a hand-over or another move of the vCPU is pending.
void Daemon::handle_move(Client &c, Msg &m) {
    auto mv = m.get<span_move>();
    bool member = c.role == Client::Role::Member;
    Vm *vm = c.vm;
    int status = 0;
    const char *why = nullptr;
    std::optional<uint32_t> host;
    if (vm) host = vm->topo.vcpu_host(mv.apic_id);
    auto pending = [&] {
        for (auto &[seq, p] : moves_)
            if (p.vm == vm && p.apic == mv.apic_id) return true;
        return false;
    };
    if (member) {
        status = -EPERM;
        why = "a member moves its own vCPUs itself";
    } else if (!vm) {
        status = -ENXIO;
        why = "no span VM";
    } else if (!host) {
        status = -ENOENT;
        why = "the vCPU has no host";
    } else if (mv.member >= vm->max_members || !vm->members[mv.member]) {
        status = -ENOENT;
        why = "no member in the target slot";
    } else if (*host == mv.member) {
        status = -EALREADY;
        why = "the target hosts the vCPU";
    } else if (vm->handovers.count(mv.apic_id)) {
        status = -EBUSY;
        why = "a hand-over of the vCPU is pending";
    } else if (pending()) {
        status = -EBUSY;
        why = "a move of the vCPU is pending";
    }
    std::string fields = kv("vm", q(vm ? vm->name : "-"), "vcpu", mv.apic_id, "to", mv.member, "by",
                            member ? "member" : "control");
    if (member) fields += kv("member", c.slot);
    if (host) fields += kv("host", *host);
    fields += kv("status", status);
    if (status) {
        log(LogLevel::Warn, "move_request", fields + kv("why", q(why)));
        return ack(c, m, status);
    }
    Client &h = *vm->members[*host];
    uint64_t seq = seq_++, now = mono_ns();
    moves_[seq] = PendingMove{.requester = &c,
                              .req_seq = m.hdr().seq,
                              .vm = vm,
                              .host = &h,
                              .host_slot = *host,
                              .apic = mv.apic_id,
                              .to = mv.member,
                              .start_ns = now,
                              .deadline_ns = now + uint64_t(cfg_.move_timeout_ms) * 1000000ull};
    log(LogLevel::Info, "move_request",
        fields +
            kv("host_name", q(h.name), "to_name", q(vm->members[mv.member]->name), "seq", seq));
    Msg fwd = Msg::of(SPAN_MSG_MOVE, span_move{mv.apic_id, mv.member, 0, 0});
    send(h, fwd, seq, 0);  // if that fails, h is dropped: -ECONNRESET
}

// Member c's ACK: the answer to the MOVE spand sent it with seq req_seq,
// relayed to the requester.  An ACK answering nothing pending (late, after
// the move timed out or its requester left, or never asked for) is logged
// and dropped; it is no protocol violation, but the log line is an info
// only for the 1st, 2nd, 4th, 8th... such ACK of a member.
void Daemon::handle_answer(Client &c, Msg &m) {
    auto a = m.get<span_ack>();
    auto it = moves_.find(a.req_seq);
    if (it == moves_.end() || it->second.host != &c) {
        c.stray_acks++;
        bool loud = (c.stray_acks & (c.stray_acks - 1)) == 0;
        log(loud ? LogLevel::Info : LogLevel::Debug, "move_ack_dropped",
            kv("vm", q(c.vm->name), "member", c.slot, "name", q(c.name), "seq", a.req_seq, "status",
               a.status, "why", q("answers no pending move"), "dropped", c.stray_acks));
        return;
    }
    finish_move(it, a.status, a.status ? "host-refused" : "host-answered");
}

// The requester's ACK: status and, for -ETIMEDOUT, the timeout in ms, else
// the topology generation (which a completed move has advanced).
void Daemon::finish_move(std::map<uint64_t, PendingMove>::iterator it, int status,
                         const char *why) {
    PendingMove p = it->second;
    moves_.erase(it);
    Vm &vm = *p.vm;
    auto now_on = vm.topo.vcpu_host(p.apic);
    uint64_t value = status == -ETIMEDOUT ? cfg_.move_timeout_ms : vm.topo.generation();
    log(status ? LogLevel::Warn : LogLevel::Info, status ? "move_failed" : "move_done",
        kv("vm", q(vm.name), "vcpu", p.apic, "from", p.host_slot, "to", p.to, "status", status,
           "why", why, "hosted_by", now_on ? std::to_string(*now_on) : std::string("none"),
           "generation", vm.topo.generation(), "elapsed_ms", (mono_ns() - p.start_ns) / 1000000));
    span_ack a{p.req_seq, status, 0, value};
    Msg am = Msg::of(SPAN_MSG_ACK, a);
    send(*p.requester, am, p.req_seq, SPAN_F_REPLY);
}

void Daemon::expire_moves() {
    uint64_t now = mono_ns();
    for (auto it = moves_.begin(); it != moves_.end();) {
        auto next = std::next(it);
        if (it->second.deadline_ns <= now) finish_move(it, -ETIMEDOUT, "timeout");
        it = next;
    }
}

int Daemon::move_wait_ms() const {
    if (moves_.empty()) return -1;
    uint64_t first = UINT64_MAX, now = mono_ns();
    for (auto &[seq, p] : moves_) first = std::min(first, p.deadline_ns);
    if (first <= now) return 0;
    return static_cast<int>(std::min<uint64_t>((first - now + 999999) / 1000000, 1u << 30));
}

void Daemon::end_moves_of(Client &c) {
    for (auto it = moves_.begin(); it != moves_.end();) {
        auto next = std::next(it);
        PendingMove &p = it->second;
        if (p.host == &c) {
            finish_move(it, -ECONNRESET, "host-left");
        } else if (p.requester == &c) {
            // The host may still move the vCPU; its answer will be dropped.
            log(LogLevel::Info, "move_abandoned",
                kv("vm", q(p.vm->name), "vcpu", p.apic, "from", p.host_slot, "to", p.to, "why",
                   "requester-left"));
            moves_.erase(it);
        }
        it = next;
    }
}

// Memory events are raised by the members hosting vCPUs (any vCPU may
// touch any frame) and answered by the subscriber.  A subscription is
// accepted only if they can carry it out:
//  * every member hosting a vCPU advertised SPAN_CAP_MEM_EVENTS in HELLO;
//  * from a control session, the subscriber did too (a member subscribing
//    itself says so by asking);
// else -EOPNOTSUPP.  The rule holds for as long as there are subscriptions:
// a member joining is told them, and a vCPU attached to a member without
// the cap ends them all (MEM_UNSUBSCRIBE, see handle_attach()).
void Daemon::handle_subscribe(Client &c, Msg &m) {
    if (!c.vm) return ack(c, m, -ENXIO);
    Vm &vm = *c.vm;
    auto s = m.get<span_mem_subscribe>();
    bool member = c.role == Client::Role::Member;
    uint32_t owner = s.member;
    if (member) {
        if (owner == SPAN_MEMBER_SELF) owner = c.slot;
        if (owner != c.slot) return ack(c, m, -EPERM);
    }
    if (owner >= vm.max_members || !vm.members[owner]) return ack(c, m, -ENOENT);
    uint64_t frames = vm.mem_size / 4096;
    if (s.gfn >= frames || s.nr_pages > frames - s.gfn) return ack(c, m, -ERANGE);
    const char *why = nullptr;
    if (!vcpu_hosts_raise_mem_events(vm))
        why = "a vCPU host cannot raise memory events";
    else if (!member && !(vm.members[owner]->caps & SPAN_CAP_MEM_EVENTS))
        why = "the subscriber cannot take memory events";
    if (why) {
        log(LogLevel::Warn, "subscribe",
            kv("vm", q(vm.name), "member", owner, "gfn", s.gfn, "pages", s.nr_pages, "access",
               s.access, "by", member ? "member" : "control", "status", -EOPNOTSUPP, "why",
               q(why)));
        return ack(c, m, -EOPNOTSUPP);
    }
    if (vm.subs.size() >= 4096) return ack(c, m, -ENOSPC);
    Subscription sub{vm.next_sub++, owner, s.gfn, s.nr_pages, s.access};
    vm.subs[sub.id] = sub;
    span_mem_subscribe n{sub.id, sub.gfn, sub.nr_pages, sub.access, owner};
    // Everyone but the requester: the vCPU hosts arm the trap, and a
    // subscriber that spanctl subscribed learns its subscription.
    broadcast(vm, Msg::of(SPAN_MSG_MEM_SUBSCRIBE, n), member ? owner : SPAN_MEMBER_NONE);
    log(LogLevel::Info, "subscribe",
        kv("vm", q(vm.name), "sub", sub.id, "member", owner, "gfn", sub.gfn, "pages", sub.nr_pages,
           "access", sub.access));
    ack(c, m, 0, sub.id);
}

void Daemon::handle_unsubscribe(Client &c, Msg &m) {
    if (!c.vm) return ack(c, m, -ENXIO);
    Vm &vm = *c.vm;
    auto u = m.get<span_mem_unsubscribe>();
    auto it = vm.subs.find(u.sub_id);
    if (it == vm.subs.end()) return ack(c, m, -ENOENT);
    if (c.role == Client::Role::Member && it->second.owner != c.slot) return ack(c, m, -EPERM);
    vm.subs.erase(it);
    broadcast(vm, Msg::of(SPAN_MSG_MEM_UNSUBSCRIBE, u));
    log(LogLevel::Info, "unsubscribe", kv("vm", q(vm.name), "sub", u.sub_id));
    ack(c, m, 0);
}

void Daemon::handle_lifecycle(Client &c, Msg &m) {
    if (!c.vm) return ack(c, m, -ENXIO);
    Vm &vm = *c.vm;
    auto r = m.get<span_reset>();
    bool shutdown = m.type() == SPAN_MSG_SHUTDOWN;
    uint32_t except = c.role == Client::Role::Member ? c.slot : SPAN_MEMBER_NONE;
    broadcast(vm, Msg::of(m.type(), r), except);
    if (shutdown) {
        vm.state = SPAN_VM_SHUTDOWN;
        vm.reason = r.reason;
        span_vm_state st{SPAN_VM_SHUTDOWN, r.reason};
        broadcast(vm, Msg::of(SPAN_MSG_VM_STATE, st));
    }
    log(LogLevel::Info, shutdown ? "shutdown" : "reset", kv("vm", q(vm.name), "reason", r.reason));
    ack(c, m, 0);
}

// A member reports a peer whose ring messages its libspan keeps rejecting.
// spand cannot see the rings, so it can only check that the report is
// plausible: the reporter is a live member (handle() routes only members
// here), the accused is a live member of the same span VM and not the
// reporter (validation), and the reporter is within its budget (a token
// bucket: Config::report_budget disconnections, one regained per
// report_interval_s).  Then the accused is disconnected and the normal
// member-death policy applies.  See Documentation/control-plane.rst.
void Daemon::handle_peer_report(Client &c, Msg &m) {
    Vm &vm = *c.vm;
    auto r = m.get<span_peer_report>();
    c.reports++;
    Client *acc = r.member < vm.max_members ? vm.members[r.member] : nullptr;
    auto fields = [&](const char *action) {
        return kv("vm", q(vm.name), "reporter", c.slot, "reporter_name", q(c.name), "accused",
                  r.member, "accused_name", q(acc ? acc->name : "-"), "reason",
                  span_reject_str(static_cast<int>(r.reason)), "rejected", r.rejected, "accepted",
                  r.accepted, "action", action);
    };
    if (!acc) {
        log(LogLevel::Info, "peer_report", fields("ignored-no-such-member"));
        return ack(c, m, -ENOENT);
    }
    if (cfg_.report_budget && cfg_.report_interval_s) {
        uint64_t now = mono_ns(), period = uint64_t(cfg_.report_interval_s) * 1000000000ull;
        uint64_t n = (now - c.report_refill_ns) / period;
        if (n) {
            c.report_tokens =
                static_cast<uint32_t>(std::min<uint64_t>(cfg_.report_budget, c.report_tokens + n));
            c.report_refill_ns += n * period;
        }
        if (c.report_tokens == cfg_.report_budget) c.report_refill_ns = now;
    }
    if (c.report_tokens == 0) {
        c.reports_refused++;
        // A member spamming reports must not flood the log either.
        bool loud = (c.reports_refused & (c.reports_refused - 1)) == 0;
        log(loud ? LogLevel::Warn : LogLevel::Debug, "peer_report",
            fields(cfg_.report_budget ? "refused-rate-limit" : "refused-disabled") +
                kv("refused", c.reports_refused));
        return ack(c, m, cfg_.report_budget ? -EBUSY : -EPERM);
    }
    c.report_tokens--;
    log(LogLevel::Warn, "peer_report", fields("disconnect"));
    log(LogLevel::Warn, "disconnect",
        kv("pid", acc->pid, "member", q(acc->name), "reason", "reported-by-peer", "reporter",
           c.slot, "rejected", r.rejected));
    drop(*acc, "reported-by-peer");  // member-death policy; acc is gone
    ack(c, m, 0);
}

void Daemon::handle_create(Client &c, Msg &m) {
    auto cr = m.get<span_ctl_create>();
    VmSpec spec{span::name_str(cr.name), cr.mem_size, cr.flags};
    auto r = create_vm(spec, cr.ring_size ? cr.ring_size : cfg_.ring_size,
                       cr.max_members ? cr.max_members : cfg_.max_members);
    if (!r) {
        log(LogLevel::Warn, "vm_create_failed",
            kv("vm", q(spec.name), "error", q(r.error().str())));
        return ack(c, m, -r.error().code);
    }
    ack(c, m, 0, r.value()->id);
}

void Daemon::handle_destroy(Client &c, Msg &m) {
    std::string name = span::name_str(m.get<span_ctl_name>().name);
    auto it = vms_.find(name);
    if (it == vms_.end()) return ack(c, m, -ENOENT);
    for (Client *mem : it->second->members)
        if (mem) return ack(c, m, -EBUSY);
    for (auto &[fd, cl] : clients_)
        if (cl->vm == it->second.get()) cl->vm = nullptr;  // unbind control sessions
    vms_.erase(it);
    log(LogLevel::Info, "vm_destroy", kv("vm", q(name)));
    ack(c, m, 0);
}

Msg Daemon::vm_info(const Vm &vm) const {
    span_ctl_vm_info i{};
    span::set_name(i.name, vm.name);
    i.vm_id = vm.id;
    i.state = vm.state;
    i.mem_size = vm.mem_size;
    i.flags = vm.flags;
    i.ring_size = vm.ring_size;
    i.max_members = vm.max_members;
    for (Client *c : vm.members) i.nr_members += c != nullptr;
    i.nr_vcpus = static_cast<uint32_t>(vm.topo.vcpus().size());
    i.nr_devices = static_cast<uint32_t>(vm.topo.devices().size());
    i.nr_subs = static_cast<uint32_t>(vm.subs.size());
    i.reason = vm.reason;
    return Msg::of(SPAN_MSG_CTL_VM_INFO, i);
}

void Daemon::handle_list(Client &c, Msg &m) {
    for (auto &[name, vm] : vms_) reply(c, m, vm_info(*vm), true);
    ack(c, m, 0, vms_.size());
}

void Daemon::handle_show(Client &c, Msg &m, Vm *vm, bool) {
    reply(c, m, vm_info(*vm), true);
    for (Client *mc : vm->members) {
        if (!mc) continue;
        span_ctl_member_info i{};
        span::set_name(i.name, mc->name);
        i.member_id = mc->slot;
        i.pid = static_cast<uint32_t>(mc->pid);
        i.uid = mc->uid;
        i.caps = mc->caps;
        i.msgs = mc->msgs;
        i.rejected = mc->rejected;
        i.mem_gpa = mc->mem_gpa;
        i.mem_size = mc->mem_size;
        reply(c, m, Msg::of(SPAN_MSG_CTL_MEMBER_INFO, i), true);
    }
    reply(c, m, vm->topo.to_message(), true);
    for (auto &[id, s] : vm->subs) {
        span_mem_subscribe i{s.id, s.gfn, s.nr_pages, s.access, s.owner};
        reply(c, m, Msg::of(SPAN_MSG_CTL_SUB_INFO, i), true);
    }
    ack(c, m, 0);
}

}  // namespace spand
