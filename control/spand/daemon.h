// spand: the span daemon on the host hypervisor.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "span/fd.h"
#include "span/proto.h"
#include "span/topology.h"

namespace spand {

using span::Msg;
using span::Status;
using span::UniqueFd;

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };

struct VmSpec {
    std::string name;
    uint64_t mem_size = 0;
    uint32_t flags = 0;
};

struct Config {
    std::string socket_path = SPAN_DEFAULT_SOCKET;
    uint32_t max_rejects = 16;  // rejected messages before a client is cut off
    uint32_t ring_size = SPAN_RING_SIZE_DEFAULT;
    uint32_t max_members = 8;
    uint32_t max_clients = 256;
    // Peer reports (SPAN_MSG_PEER_REPORT): each member may get at most
    // report_budget other members disconnected in a burst, regaining one
    // such disconnection every report_interval_s seconds.  0: reports are
    // logged and refused.
    uint32_t report_budget = 2;
    uint32_t report_interval_s = 300;
    // How long the member hosting a vCPU has to answer a MOVE spand
    // forwarded to it before spand answers spanctl -ETIMEDOUT.
    uint32_t move_timeout_ms = 10000;
    std::vector<uid_t> allow_uids;  // besides root and our own euid
    std::vector<VmSpec> create;     // span VMs created at start-up
    LogLevel log_level = LogLevel::Info;
};

struct Vm;

struct Client {
    UniqueFd fd;
    pid_t pid = 0;
    uid_t uid = 0;
    enum class Role { New, Member, Control } role = Role::New;
    Vm *vm = nullptr;  // member: its VM; control: bound VM (may be null)
    uint32_t slot = 0;
    uint32_t caps = 0;
    std::string name;
    uint64_t msgs = 0, rejected = 0;
    uint64_t mem_gpa = 0, mem_size = 0;  // attached memory range
    // Peer reports sent by this member (see Config::report_budget).
    uint32_t report_tokens = 0;
    uint64_t report_refill_ns = 0;  // CLOCK_MONOTONIC of the last refill
    uint64_t reports = 0, reports_refused = 0;
    uint64_t stray_acks = 0;  // member: ACKs that answered no pending request
};

struct Subscription {
    uint64_t id;
    uint32_t owner;
    uint64_t gfn, nr_pages;
    uint32_t access;
};

// A vCPU its host handed to another member (ATTACH naming that member):
// the placement changes when `to` attaches the vCPU itself.
struct Handover {
    uint32_t from;  // the vCPU's host
    uint32_t to;    // the member it is handed to
};

// A MOVE spand forwarded to the member hosting the vCPU (Daemon::moves_,
// by the seq of spand's MOVE), until that member answers, leaves or times
// out; spand then answers the control session that asked.  Invariant:
// requester and host are live clients, host is vm's member in host_slot.
struct PendingMove {
    Client *requester;  // the control session (if it goes, the move is forgotten)
    uint64_t req_seq;   // the seq of its MOVE, answered with an ACK
    Vm *vm;
    Client *host;
    uint32_t host_slot;
    uint32_t apic, to;               // move vCPU apic to member slot `to`
    uint64_t start_ns, deadline_ns;  // CLOCK_MONOTONIC
};

// One span VM.  Invariants: members[s] is non-null exactly for the slots
// registered in topo; memfd lives as long as the Vm (members may die, the
// guest's memory stays intact); every subscription's owner is a live member;
// while there are subscriptions, every vCPU host has SPAN_CAP_MEM_EVENTS;
// every pending hand-over's vCPU is hosted by its `from`, and its `to` is
// another live member.
struct Vm {
    uint32_t id = 0;
    std::string name;
    uint64_t mem_size = 0;
    uint32_t flags = 0, ring_size = 0, max_members = 0;
    UniqueFd memfd, chanfd;
    std::vector<UniqueFd> doorbells;
    std::vector<Client *> members;
    span::Topology topo;
    uint32_t state = SPAN_VM_RUNNING, reason = 0;
    std::map<uint64_t, Subscription> subs;
    uint64_t next_sub = 1;
    std::map<uint32_t, Handover> handovers;  // by APIC ID, at most one per vCPU
};

class Daemon {
  public:
    explicit Daemon(Config cfg) : cfg_(std::move(cfg)) {}
    // Runs until SIGTERM/SIGINT.  Returns the process exit status.
    int run();

  private:
    Status setup();
    void teardown();
    void accept_clients();
    void on_readable(int fd);
    void drop(Client &c, const char *why);
    void drop_doomed();
    void handle(Client &c, Msg &m);
    void handle_hello(Client &c, Msg &m);
    void handle_attach(Client &c, Msg &m);
    // ATTACH of a vCPU naming another member: its host hands it over.
    void handle_handover(Client &c, Msg &m, const span_attach &a, uint32_t to);
    // Cancels the pending hand-overs from or to member slot (none for
    // SPAN_MEMBER_NONE) and that of vCPU apic (none for SPAN_APIC_NONE),
    // logging why; returns how many.
    size_t cancel_handovers(Vm &vm, uint32_t slot, uint32_t apic, const char *why);
    // Empty string: vm's pending hand-overs are consistent; else what is not.
    static std::string check_handovers(const Vm &vm);
    void handle_subscribe(Client &c, Msg &m);
    void handle_unsubscribe(Client &c, Msg &m);
    void handle_create(Client &c, Msg &m);
    void handle_destroy(Client &c, Msg &m);
    void handle_show(Client &c, Msg &m, Vm *vm, bool more_after);
    void handle_list(Client &c, Msg &m);
    void handle_lifecycle(Client &c, Msg &m);
    void handle_peer_report(Client &c, Msg &m);
    // MOVE from a client: checked, then forwarded to the vCPU's host.
    void handle_move(Client &c, Msg &m);
    // An ACK from member c (SPAN_F_REPLY): its answer to a forwarded MOVE.
    void handle_answer(Client &c, Msg &m);
    // Answers a pending move's requester with status, logs why, forgets it.
    void finish_move(std::map<uint64_t, PendingMove>::iterator it, int status, const char *why);
    // Ends the moves whose host did not answer in time (-ETIMEDOUT).
    void expire_moves();
    // epoll_wait() timeout: until the next pending move expires, or -1.
    int move_wait_ms() const;
    // The moves pending for c: as their host (-ECONNRESET to the requester)
    // or as their requester (forgotten), when c goes.
    void end_moves_of(Client &c);
    void reject(Client &c, span::Reject r, const char *what);
    span::Result<Vm *> create_vm(const VmSpec &spec, uint32_t ring_size, uint32_t max_members);
    void member_lost(Client &c, uint16_t reason);
    // SPAN_MSG_MEMBER about member c (event JOINED or LEFT).
    static Msg member_event(const Client &c, uint16_t event, uint16_t reason);
    void maybe_resume(Vm &vm);
    // Drops owner's subscriptions (all of them for SPAN_MEMBER_NONE),
    // telling every member; returns how many.
    size_t drop_subs(Vm &vm, uint32_t owner = SPAN_MEMBER_NONE);
    // True when every member hosting a vCPU can raise memory events
    // (advertised SPAN_CAP_MEM_EVENTS).
    bool vcpu_hosts_raise_mem_events(const Vm &vm) const;

    // Sends m to c (as spand).  A client that cannot take it is dropped
    // later (marked), never blocked on.
    void send(Client &c, Msg &m, uint64_t seq, uint32_t flags);
    void reply(Client &c, const Msg &req, Msg m, bool more = false);
    void ack(Client &c, const Msg &req, int status, uint64_t value = 0);
    void broadcast(Vm &vm, Msg m, uint32_t except = SPAN_MEMBER_NONE);
    void broadcast_topology(Vm &vm);
    Msg vm_info(const Vm &vm) const;

    void log(LogLevel lvl, const char *event, const std::string &kv) const;

    Config cfg_;
    UniqueFd lock_, listen_, epoll_, sigfd_;
    std::map<int, std::unique_ptr<Client>> clients_;
    std::vector<int> doomed_;  // clients to drop after the current event
    std::map<std::string, std::unique_ptr<Vm>> vms_;
    std::map<uint64_t, PendingMove> moves_;  // by the seq of spand's MOVE
    uint32_t next_vm_id_ = 1;
    uint64_t seq_ = 1;
    bool stop_ = false;
};

}  // namespace spand
