// spanctl: command-line client of spand.  See Documentation/control-plane.rst.
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "span/member.h"
#include "span/topology.h"
#include "span/validate.h"

namespace {

using span::Msg;

const char kMainUsage[] =
    "Usage: spanctl [--socket PATH] [--json] [--timeout MS] COMMAND [ARGS]...\n"
    "Control spand: create, inspect and change span VMs.\n"
    "\n"
    "Commands:\n"
    "  create NAME --memory SIZE [--huge-pages] [--ring-size SIZE] [--max-members N]\n"
    "  list\n"
    "  show NAME\n"
    "  attach NAME --member M (--vcpu APIC | --device ID | --memory GPA:SIZE)\n"
    "  detach NAME --member M (--vcpu APIC | --device ID | --memory)\n"
    "  move NAME CPU MEMBER\n"
    "  subscribe NAME --member M --gfn GFN --pages N [--access rwx]\n"
    "  unsubscribe NAME --id SUB\n"
    "  destroy NAME\n"
    "\n"
    "spand refuses what no member of the span VM can carry out: attach and detach\n"
    "(members place their own vCPUs and devices when they start), and subscribe\n"
    "unless the subscriber and every member hosting vCPUs advertised memory events.\n"
    "move asks the member hosting a running vCPU to move it to another member.\n"
    "\n"
    "Global options:\n"
    "  -s, --socket PATH   spand's socket (default " SPAN_DEFAULT_SOCKET
    ")\n"
    "  -j, --json          machine-readable JSON output\n"
    "  -t, --timeout MS    wait at most MS milliseconds for spand (default 5000)\n"
    "  -h, --help          this help; 'spanctl COMMAND --help' for a command\n"
    "\n"
    "Exit status: 0 success, 1 operation failed, 2 usage error.\n";

const std::map<std::string, std::string> kCmdUsage = {
    {"create",
     "Usage: spanctl create NAME --memory SIZE [--huge-pages] [--ring-size SIZE] [--max-members "
     "N]\n"
     "Create span VM NAME whose guest memory (a memfd owned by spand) is SIZE bytes.\n"
     "  --memory SIZE       guest memory size; suffixes K, M, G, T (binary)\n"
     "  --huge-pages        back the memory with huge pages (SIZE multiple of 2M)\n"
     "  --ring-size SIZE    bytes per ring (power of two, 4K..16M; default: spand's)\n"
     "  --max-members N     member slots (2..16; default: spand's)\n"},
    {"list",
     "Usage: spanctl list\nList span VMs: name, id, state, memory, members, vCPUs, devices, "
     "subscriptions.\n"},
    {"show",
     "Usage: spanctl show NAME\nShow span VM NAME: state, members, vCPU placement, device "
     "ownership,\n"
     "memory-event subscriptions.\n"},
    {"attach",
     "Usage: spanctl attach NAME --member M (--vcpu APIC | --device ID | --memory GPA:SIZE)\n"
     "Ask spand to attach a vCPU (by APIC ID), a device or a guest-physical memory range\n"
     "to member M (slot number or member name) of span VM NAME.\n"
     "  --member M          member slot or name\n"
     "  --vcpu APIC         vCPU APIC ID\n"
     "  --device ID         device id\n"
     "  --memory GPA:SIZE   page-aligned range of guest memory\n"
     "spand refuses it (exit 1) on span VMs whose members cannot carry it out, which\n"
     "today is every span VM: members place their own vCPUs and devices when they\n"
     "start (QEMU: -span vcpus=, firmware=on) and cannot take or give one up at\n"
     "spanctl's request, and no member acts on an attached memory range.  To move a\n"
     "running vCPU to another member, use 'spanctl move'.\n"},
    {"detach",
     "Usage: spanctl detach NAME --member M (--vcpu APIC | --device ID | --memory)\n"
     "Ask spand to detach a vCPU, a device or the memory range from member M of span\n"
     "VM NAME.  Refused (exit 1) on span VMs whose members cannot carry it out, which\n"
     "today is every span VM (see 'spanctl attach --help').\n"},
    {"move",
     "Usage: spanctl move NAME CPU MEMBER\n"
     "Move the running vCPU with APIC ID CPU of span VM NAME to member MEMBER, a\n"
     "slot number or a member name, both as 'spanctl show NAME' prints them (a\n"
     "number is a slot; spanctl resolves a name with 'show').  spand asks the member\n"
     "hosting the vCPU to move it; that member hands it over to MEMBER while the\n"
     "guest runs, and answers once it is done or has failed.\n"
     "\n"
     "spand gives the host 10 s to answer (spand --move-timeout); spanctl waits that\n"
     "long plus --timeout for spand.  Fails (exit 1), saying why, when NAME does not\n"
     "exist, the vCPU has no host, MEMBER is not in NAME, the vCPU already runs on\n"
     "MEMBER or is being moved, or its host refuses, leaves or does not answer in\n"
     "time (the move may then still complete: check with 'spanctl show NAME').\n"
     "Prints the topology generation after the move; JSON: {\"vm\",\"vcpu\",\"member\",\n"
     "\"generation\"}.\n"},
    {"subscribe",
     "Usage: spanctl subscribe NAME --member M --gfn GFN --pages N [--access rwx]\n"
     "Subscribe member M to memory events on guest frames GFN..GFN+N-1.\n"
     "  --member M          subscribing member (slot or name)\n"
     "  --gfn GFN           first guest frame number\n"
     "  --pages N           number of 4 KiB frames (>= 1)\n"
     "  --access rwx        any of r (read), w (write), x (execute); default w\n"
     "Prints the subscription id.  Refused (exit 1) unless M and every member hosting\n"
     "vCPUs of NAME (they raise the events) advertised SPAN_CAP_MEM_EVENTS; QEMU\n"
     "members do not.\n"},
    {"unsubscribe",
     "Usage: spanctl unsubscribe NAME --id SUB\nRemove memory-event subscription SUB of span VM "
     "NAME.\n"},
    {"destroy",
     "Usage: spanctl destroy NAME\nDestroy span VM NAME (refused while members are connected) and "
     "free its memory.\n"},
};

struct Global {
    std::string socket = SPAN_DEFAULT_SOCKET;
    bool json = false;
    int timeout = 5000;
};

[[noreturn]] void usage_error(const std::string &cmd, const std::string &msg) {
    std::fprintf(stderr, "spanctl: %s%s%s\nTry 'spanctl %s--help'.\n", cmd.c_str(),
                 cmd.empty() ? "" : ": ", msg.c_str(), cmd.empty() ? "" : (cmd + " ").c_str());
    std::exit(2);
}

[[noreturn]] void fail(const std::string &cmd, const std::string &msg) {
    std::fprintf(stderr, "spanctl: %s: %s\n", cmd.c_str(), msg.c_str());
    std::exit(1);
}

// Command-line arguments of one command: positionals and --options.
struct Args {
    std::string cmd;
    std::vector<std::string> pos;
    std::map<std::string, std::string> opt;

    bool has(const std::string &k) const { return opt.count(k) != 0; }
    std::string get(const std::string &k) const {
        auto it = opt.find(k);
        if (it == opt.end()) usage_error(cmd, "missing --" + k);
        return it->second;
    }
    uint64_t num(const std::string &k, bool suffixes = false) const {
        uint64_t v;
        if (!span::parse_u64(get(k), v, suffixes))
            usage_error(cmd, "bad value for --" + k + ": '" + get(k) + "'");
        return v;
    }
};

// spec: option name -> takes a value; npos positionals, the first a span
// VM NAME (pos_usage names them all when there are more).
Args parse_args(const std::string &cmd, int argc, char **argv, int i,
                const std::map<std::string, bool> &spec, size_t npos,
                const char *pos_usage = nullptr) {
    Args a;
    a.cmd = cmd;
    for (; i < argc; i++) {
        std::string s = argv[i];
        if (s == "--help" || s == "-h") {
            std::fputs(kCmdUsage.at(cmd).c_str(), stdout);
            std::exit(0);
        }
        if (s.rfind("--", 0) == 0) {
            std::string k = s.substr(2), v;
            auto eq = k.find('=');
            bool inline_v = eq != std::string::npos;
            if (inline_v) v = k.substr(eq + 1), k = k.substr(0, eq);
            auto it = spec.find(k);
            if (it == spec.end()) usage_error(cmd, "unknown option --" + k);
            if (it->second && !inline_v) {
                if (i + 1 >= argc) usage_error(cmd, "option --" + k + " needs a value");
                v = argv[++i];
            } else if (!it->second && inline_v) {
                usage_error(cmd, "option --" + k + " takes no value");
            }
            if (a.opt.count(k)) usage_error(cmd, "option --" + k + " given twice");
            a.opt[k] = v;
        } else {
            a.pos.push_back(s);
        }
    }
    if (a.pos.size() != npos)
        usage_error(cmd, pos_usage ? std::string("expects ") + pos_usage
                         : npos    ? "expects exactly one span VM NAME"
                                   : "takes no positional arguments");
    if (npos && !span::valid_name_str(a.pos[0].c_str()))
        usage_error(cmd, "invalid span VM name '" + a.pos[0] + "'");
    return a;
}

span::Result<std::unique_ptr<span::Member>> try_connect(const Global &g, const std::string &vm) {
    span::ConnectOptions o;
    o.socket_path = g.socket;
    o.role = SPAN_ROLE_CONTROL;
    o.caps = 0;
    o.vm_name = vm;
    o.timeout_ms = g.timeout;
    return span::Member::connect(o);
}

std::unique_ptr<span::Member> connect(const Global &g, const std::string &cmd,
                                      const std::string &vm = "") {
    auto r = try_connect(g, vm);
    if (!r) fail(cmd, r.error().str());
    return std::move(r.value());
}

// Sends req and returns the replies before the final ACK.  A failure fails
// the command, except an ACK with status `allow` (the caller explains it).
std::vector<Msg> request(span::Member &m, const Global &g, const std::string &cmd, Msg req,
                         span_ack *ack_out = nullptr, int allow = 0) {
    auto r = m.request(std::move(req), g.timeout);
    if (!r) fail(cmd, r.error().str());
    auto &v = r.value();
    if (v.back().type() != SPAN_MSG_ACK) fail(cmd, "unexpected reply from spand");
    auto ack = v.back().get<span_ack>();
    if (ack.status < 0 && ack.status != allow) fail(cmd, std::strerror(-ack.status));
    if (ack_out) *ack_out = ack;
    v.pop_back();
    return std::move(v);
}

const char *reason_str(uint32_t r) {
    switch (r) {
        case SPAN_REASON_GUEST:
            return "guest";
        case SPAN_REASON_ADMIN:
            return "admin";
        case SPAN_REASON_MEMBER_LOST:
            return "member-lost";
        case SPAN_REASON_ERROR:
            return "error";
    }
    return "";
}

std::string access_str(uint32_t a) {
    std::string s;
    s += (a & SPAN_ACCESS_READ) ? 'r' : '-';
    s += (a & SPAN_ACCESS_WRITE) ? 'w' : '-';
    s += (a & SPAN_ACCESS_EXEC) ? 'x' : '-';
    return s;
}

std::string vm_json(const span_ctl_vm_info &i) {
    char b[512];
    std::snprintf(
        b, sizeof(b),
        "{\"name\":%s,\"id\":%u,\"state\":\"%s\",\"reason\":\"%s\",\"memory\":%llu"
        ",\"huge_pages\":%s,\"ring_size\":%u,\"max_members\":%u,\"members\":%u,\"vcpus\":%u,"
        "\"devices\":%u,\"subscriptions\":%u}",
        span::quoted(span::name_str(i.name)).c_str(), i.vm_id, span::vm_state_str(i.state),
        reason_str(i.reason), i.mem_size, (i.flags & SPAN_VM_HUGEPAGES) ? "true" : "false",
        i.ring_size, i.max_members, i.nr_members, i.nr_vcpus, i.nr_devices, i.nr_subs);
    return b;
}

int cmd_create(const Global &g, const Args &a) {
    span_ctl_create c{};
    span::set_name(c.name, a.pos[0]);
    c.mem_size = a.num("memory", true);
    if (a.has("huge-pages")) c.flags |= SPAN_VM_HUGEPAGES;
    uint64_t align = (c.flags & SPAN_VM_HUGEPAGES) ? (2u << 20) : 4096;
    if (!c.mem_size || c.mem_size % align || c.mem_size > SPAN_GPA_LIMIT)
        usage_error(a.cmd, "--memory must be a non-zero multiple of " + std::to_string(align));
    if (a.has("ring-size")) {
        uint64_t r = a.num("ring-size", true);
        if (!span::is_pow2(r) || r < SPAN_RING_SIZE_MIN || r > SPAN_RING_SIZE_MAX)
            usage_error(a.cmd, "--ring-size must be a power of two between 4K and 16M");
        c.ring_size = static_cast<uint32_t>(r);
    }
    if (a.has("max-members")) {
        uint64_t n = a.num("max-members");
        if (n < 2 || n > SPAN_MAX_MEMBERS) usage_error(a.cmd, "--max-members must be 2..16");
        c.max_members = static_cast<uint32_t>(n);
    }
    auto m = connect(g, a.cmd);
    span_ack ack;
    request(*m, g, a.cmd, Msg::of(SPAN_MSG_CTL_CREATE, c), &ack);
    if (g.json)
        std::printf("{\"name\":%s,\"id\":%llu}\n", span::quoted(a.pos[0]).c_str(), ack.value);
    else
        std::printf("created %s (id %llu)\n", a.pos[0].c_str(), ack.value);
    return 0;
}

int cmd_list(const Global &g, const Args &a) {
    auto m = connect(g, a.cmd);
    auto replies = request(*m, g, a.cmd, Msg::make(SPAN_MSG_CTL_LIST, 0));
    if (g.json) {
        std::printf("[");
        bool first = true;
        for (auto &r : replies) {
            if (r.type() != SPAN_MSG_CTL_VM_INFO) continue;
            std::printf("%s%s", first ? "" : ",", vm_json(r.get<span_ctl_vm_info>()).c_str());
            first = false;
        }
        std::printf("]\n");
        return 0;
    }
    std::printf("%-20s %4s %-8s %14s %7s %5s %7s %4s\n", "NAME", "ID", "STATE", "MEMORY", "MEMBERS",
                "VCPUS", "DEVICES", "SUBS");
    for (auto &r : replies) {
        if (r.type() != SPAN_MSG_CTL_VM_INFO) continue;
        auto i = r.get<span_ctl_vm_info>();
        std::printf("%-20s %4u %-8s %14llu %7u %5u %7u %4u\n", span::name_str(i.name).c_str(),
                    i.vm_id, span::vm_state_str(i.state), i.mem_size, i.nr_members, i.nr_vcpus,
                    i.nr_devices, i.nr_subs);
    }
    return 0;
}

struct Shown {
    span_ctl_vm_info vm{};
    std::vector<span_ctl_member_info> members;
    span::Topology topo;
    std::vector<span_mem_subscribe> subs;
};

Msg show_request(const std::string &name) {
    span_ctl_name n{};
    span::set_name(n.name, name);
    return Msg::of(SPAN_MSG_CTL_SHOW, n);
}

Shown parse_show(const std::string &cmd, const std::vector<Msg> &replies) {
    Shown s;
    for (auto &r : replies) {
        switch (r.type()) {
            case SPAN_MSG_CTL_VM_INFO:
                s.vm = r.get<span_ctl_vm_info>();
                break;
            case SPAN_MSG_CTL_MEMBER_INFO:
                s.members.push_back(r.get<span_ctl_member_info>());
                break;
            case SPAN_MSG_CTL_SUB_INFO:
                s.subs.push_back(r.get<span_mem_subscribe>());
                break;
            case SPAN_MSG_TOPOLOGY: {
                auto t = span::Topology::from_message(r);
                if (!t) fail(cmd, "bad topology from spand");
                s.topo = std::move(t.value());
                break;
            }
        }
    }
    return s;
}

Shown fetch_show(span::Member &m, const Global &g, const std::string &cmd,
                 const std::string &name) {
    return parse_show(cmd, request(m, g, cmd, show_request(name)));
}

// spand refused (EOPNOTSUPP) what no member of the span VM can carry out.
[[noreturn]] void refused(const std::string &cmd, const std::string &what, const std::string &why) {
    fail(cmd, "refused: " + what + ": " + why);
}

int cmd_show(const Global &g, const Args &a) {
    auto m = connect(g, a.cmd);
    Shown s = fetch_show(*m, g, a.cmd, a.pos[0]);
    if (g.json) {
        std::string o = vm_json(s.vm);
        o.pop_back();
        o += ",\"member_list\":[";
        for (size_t i = 0; i < s.members.size(); i++) {
            auto &mi = s.members[i];
            char b[512];
            std::snprintf(
                b, sizeof(b),
                "%s{\"id\":%u,\"name\":%s,\"pid\":%u,\"uid\":%u,\"messages\":%llu,\"rejected\":%llu"
                ",\"memory_gpa\":%llu,\"memory_size\":%llu}",
                i ? "," : "", mi.member_id, span::quoted(span::name_str(mi.name)).c_str(), mi.pid,
                mi.uid, mi.msgs, mi.rejected, mi.mem_gpa, mi.mem_size);
            o += b;
        }
        o += "],\"generation\":" + std::to_string((unsigned long long)s.topo.generation()) +
             ",\"vcpu_list\":[";
        bool first = true;
        for (auto &[apic, mem] : s.topo.vcpus()) {
            o += (first ? "" : ",") + std::string("{\"apic_id\":") + std::to_string(apic) +
                 ",\"member\":" + std::to_string(mem) + "}";
            first = false;
        }
        o += "],\"device_list\":[";
        first = true;
        for (auto &[dev, mem] : s.topo.devices()) {
            o += (first ? "" : ",") + std::string("{\"device\":") + std::to_string(dev) +
                 ",\"member\":" + std::to_string(mem) + "}";
            first = false;
        }
        o += "],\"subscription_list\":[";
        first = true;
        for (auto &sub : s.subs) {
            o += (first ? "" : ",") + std::string("{\"id\":") + std::to_string(sub.sub_id) +
                 ",\"member\":" + std::to_string(sub.member) +
                 ",\"gfn\":" + std::to_string(sub.gfn) +
                 ",\"pages\":" + std::to_string(sub.nr_pages) + ",\"access\":\"" +
                 access_str(sub.access) + "\"}";
            first = false;
        }
        o += "]}";
        std::printf("%s\n", o.c_str());
        return 0;
    }
    auto &v = s.vm;
    std::printf(
        "name:        %s\nid:          %u\nstate:       %s%s%s%s\nmemory:      %llu bytes%s\n"
        "ring size:   %u\nmax members: %u\n",
        span::name_str(v.name).c_str(), v.vm_id, span::vm_state_str(v.state), v.reason ? " (" : "",
        reason_str(v.reason), v.reason ? ")" : "", v.mem_size,
        (v.flags & SPAN_VM_HUGEPAGES) ? " (huge pages)" : "", v.ring_size, v.max_members);
    std::printf("members:\n");
    for (auto &mi : s.members)
        std::printf(
            "  %2u %-20s pid %-7u uid %-5u msgs %-8llu rejected %-5llu memory %#llx"
            "+%#llx\n",
            mi.member_id, span::name_str(mi.name).c_str(), mi.pid, mi.uid, mi.msgs, mi.rejected,
            mi.mem_gpa, mi.mem_size);
    std::printf("vcpus (generation %llu):\n", (unsigned long long)s.topo.generation());
    for (auto &[apic, mem] : s.topo.vcpus()) std::printf("  apic %-6u -> member %u\n", apic, mem);
    std::printf("devices:\n");
    for (auto &[dev, mem] : s.topo.devices()) std::printf("  device %-6u -> member %u\n", dev, mem);
    std::printf("subscriptions:\n");
    for (auto &sub : s.subs)
        std::printf("  %-4llu member %-2u gfn %#llx pages %llu access %s\n", sub.sub_id, sub.member,
                    sub.gfn, sub.nr_pages, access_str(sub.access).c_str());
    return 0;
}

// --member: a slot number or a member name (resolved with SHOW).
uint32_t resolve_member(span::Member &m, const Global &g, const Args &a) {
    std::string v = a.get("member");
    uint64_t n;
    if (span::parse_u64(v, n, false)) {
        if (n >= SPAN_MAX_MEMBERS) usage_error(a.cmd, "--member slot out of range");
        return static_cast<uint32_t>(n);
    }
    if (!span::valid_name_str(v.c_str())) usage_error(a.cmd, "invalid member '" + v + "'");
    for (auto &mi : fetch_show(m, g, a.cmd, a.pos[0]).members)
        if (span::name_str(mi.name) == v) return mi.member_id;
    fail(a.cmd, "no member named '" + v + "' in " + a.pos[0]);
}

int cmd_attach(const Global &g, const Args &a, bool attach) {
    int kinds = a.has("vcpu") + a.has("device") + a.has("memory");
    if (kinds != 1) usage_error(a.cmd, "give exactly one of --vcpu, --device, --memory");
    span_attach at{};
    if (a.has("vcpu")) {
        at.kind = SPAN_ATTACH_VCPU;
        uint64_t v = a.num("vcpu");
        if (v >= SPAN_APIC_NONE) usage_error(a.cmd, "--vcpu out of range");
        at.id = static_cast<uint32_t>(v);
    } else if (a.has("device")) {
        at.kind = SPAN_ATTACH_DEVICE;
        uint64_t v = a.num("device");
        if (v >= SPAN_DEVICE_NONE) usage_error(a.cmd, "--device out of range");
        at.id = static_cast<uint32_t>(v);
    } else {
        at.kind = SPAN_ATTACH_MEMORY;
        if (attach) {
            std::string s = a.get("memory");
            auto colon = s.find(':');
            uint64_t gpa = 0, size = 0;
            bool ok = colon != std::string::npos &&
                      span::parse_u64(s.substr(0, colon), gpa, true) &&
                      span::parse_u64(s.substr(colon + 1), size, true);
            at.gpa = gpa;
            at.size = size;
            if (!ok || at.gpa % 4096 || at.size % 4096 || !at.size || at.gpa >= SPAN_GPA_LIMIT ||
                at.size > SPAN_GPA_LIMIT - at.gpa)
                usage_error(a.cmd, "--memory wants GPA:SIZE, page-aligned, non-empty");
        } else if (!a.get("memory").empty()) {
            usage_error(a.cmd, "detach --memory takes no value");
        }
    }
    auto m = connect(g, a.cmd, a.pos[0]);
    at.member = resolve_member(*m, g, a);
    span_ack ack;
    request(*m, g, a.cmd, Msg::of(attach ? SPAN_MSG_ATTACH : SPAN_MSG_DETACH, at), &ack,
            -EOPNOTSUPP);
    if (ack.status == -EOPNOTSUPP) {
        std::string what = a.cmd + " ";
        if (at.kind == SPAN_ATTACH_VCPU)
            what += "vCPU " + std::to_string(at.id);
        else if (at.kind == SPAN_ATTACH_DEVICE)
            what += "device " + std::to_string(at.id);
        else
            what += attach ? "memory range " + a.get("memory") : "the memory range";
        what += std::string(attach ? " to" : " from") + " member " + a.get("member") +
                " of span VM " + a.pos[0];
        if (at.kind == SPAN_ATTACH_VCPU)
            refused(a.cmd, what,
                    "members place their own vCPUs when they start (QEMU: -span vcpus=); to "
                    "move a running vCPU to another member, use 'spanctl move'");
        if (at.kind == SPAN_ATTACH_DEVICE)
            refused(a.cmd, what,
                    "the member owning the devices claims them when it starts (QEMU: -span "
                    "firmware=on); no member can take or give up a device at spanctl's request");
        refused(a.cmd, what,
                "no member acts on an attached memory range (every member maps all of the "
                "guest memory)");
    }
    if (g.json)
        std::printf("{\"vm\":%s,\"member\":%u,\"generation\":%llu}\n",
                    span::quoted(a.pos[0]).c_str(), at.member, ack.value);
    else
        std::printf("%s: %s member %u (topology generation %llu)\n", a.pos[0].c_str(),
                    attach ? "attached to" : "detached from", at.member, ack.value);
    return 0;
}

// spand refused a subscription: name the members that cannot carry it out
// (as spand sees them now).
[[noreturn]] void explain_subscribe_refusal(span::Member &m, const Global &g, const Args &a,
                                            uint32_t subscriber) {
    std::string what =
        "subscribe member " + a.get("member") + " to memory events of span VM " + a.pos[0];
    const char *no_cap = " (no SPAN_CAP_MEM_EVENTS; QEMU members do not advertise it)";
    auto r = m.request(show_request(a.pos[0]), g.timeout);
    if (r && r->back().type() == SPAN_MSG_ACK && r->back().get<span_ack>().status == 0) {
        Shown sh = parse_show(a.cmd, r.value());
        std::map<uint32_t, std::string> capless;  // member id -> "name (member id)"
        for (auto &mi : sh.members)
            if (!(mi.caps & SPAN_CAP_MEM_EVENTS))
                capless[mi.member_id] =
                    span::name_str(mi.name) + " (member " + std::to_string(mi.member_id) + ")";
        std::set<uint32_t> hosts;
        for (auto &[apic, id] : sh.topo.vcpus())
            if (capless.count(id)) hosts.insert(id);
        if (!hosts.empty()) {
            std::string list;
            for (uint32_t id : hosts) list += (list.empty() ? "" : ", ") + capless[id];
            refused(a.cmd, what,
                    "memory events are raised by the members hosting vCPUs, and " + list +
                        " cannot raise them" + no_cap);
        }
        if (capless.count(subscriber))
            refused(a.cmd, what, capless[subscriber] + " cannot take memory events" + no_cap);
    }
    refused(a.cmd, what,
            "spand accepts a subscription only when every member hosting vCPUs (and a "
            "subscriber named by spanctl) advertised SPAN_CAP_MEM_EVENTS; QEMU members do not");
}

int cmd_subscribe(const Global &g, const Args &a) {
    span_mem_subscribe s{};
    s.gfn = a.num("gfn");
    s.nr_pages = a.num("pages");
    if (!s.nr_pages || s.gfn >= SPAN_GFN_LIMIT || s.nr_pages > SPAN_GFN_LIMIT - s.gfn)
        usage_error(a.cmd, "--gfn/--pages out of range");
    std::string acc = a.has("access") ? a.get("access") : "w";
    if (acc.empty()) usage_error(a.cmd, "--access is empty");
    for (char c : acc) {
        if (c == 'r')
            s.access |= SPAN_ACCESS_READ;
        else if (c == 'w')
            s.access |= SPAN_ACCESS_WRITE;
        else if (c == 'x')
            s.access |= SPAN_ACCESS_EXEC;
        else
            usage_error(a.cmd, "--access takes letters r, w, x");
    }
    auto m = connect(g, a.cmd, a.pos[0]);
    s.member = resolve_member(*m, g, a);
    span_ack ack;
    request(*m, g, a.cmd, Msg::of(SPAN_MSG_MEM_SUBSCRIBE, s), &ack, -EOPNOTSUPP);
    if (ack.status == -EOPNOTSUPP) explain_subscribe_refusal(*m, g, a, s.member);
    if (g.json)
        std::printf("{\"vm\":%s,\"subscription\":%llu}\n", span::quoted(a.pos[0]).c_str(),
                    ack.value);
    else
        std::printf("subscription %llu\n", ack.value);
    return 0;
}

// How long spand gives a vCPU's host to answer a MOVE by default (spand
// --move-timeout); spanctl waits that long on top of --timeout.
constexpr int kMoveTimeoutMs = 10000;

std::string ms_str(uint64_t ms) {
    return ms % 1000 ? std::to_string(ms) + " ms" : std::to_string(ms / 1000) + " s";
}

// spanctl move NAME CPU MEMBER: spand forwards MOVE to the member hosting
// the vCPU and relays its answer (Documentation/span-protocol.rst, MOVE).
int cmd_move(const Global &g, const Args &a) {
    const std::string &vm = a.pos[0], &cpu = a.pos[1], &who = a.pos[2];
    uint64_t v;
    if (!span::parse_u64(cpu, v, false) || v >= SPAN_APIC_NONE)
        usage_error(a.cmd, "bad CPU '" + cpu + "': want the vCPU's APIC ID");
    span_move mv{static_cast<uint32_t>(v), 0, 0, 0};
    bool slot = span::parse_u64(who, v, false);
    if (slot && v >= SPAN_MAX_MEMBERS)
        usage_error(a.cmd, "member slot " + who + " out of range (0..15)");
    if (!slot && !span::valid_name_str(who.c_str()))
        usage_error(a.cmd, "invalid member '" + who + "'");
    std::string target = slot ? "member " + who : "member '" + who + "'";
    std::string vcpu = vm + ": vCPU " + cpu;
    auto r = try_connect(g, vm);
    if (!r) {
        // spand refuses a HELLO naming a span VM it does not have (a
        // missing socket is ENOENT too, from connect()).
        if (r.error().code == ENOENT && r.error().msg.rfind("spand refused", 0) == 0)
            fail(a.cmd, "span VM '" + vm + "' does not exist");
        fail(a.cmd, r.error().str());
    }
    auto &m = r.value();
    if (slot) {
        mv.member = static_cast<uint32_t>(v);
    } else {
        bool found = false;
        for (auto &mi : fetch_show(*m, g, a.cmd, vm).members)
            if (span::name_str(mi.name) == who) mv.member = mi.member_id, found = true;
        if (!found) fail(a.cmd, target + " is not in span VM '" + vm + "'");
    }
    auto rep = m->request(Msg::of(SPAN_MSG_MOVE, mv), g.timeout + kMoveTimeoutMs);
    if (!rep) {
        if (rep.error().code == ETIMEDOUT)
            fail(a.cmd, "spand did not answer within " + ms_str(g.timeout + kMoveTimeoutMs));
        fail(a.cmd, rep.error().str());
    }
    if (rep->back().type() != SPAN_MSG_ACK) fail(a.cmd, "unexpected reply from spand");
    auto ack = rep->back().get<span_ack>();
    std::string show = "see 'spanctl show " + vm + "'";
    switch (-ack.status) {
        case 0:
            break;
        case ENOENT: {
            // The vCPU has no host, or no member is in the target slot:
            // which one, spand's placement tells.
            auto s = m->request(show_request(vm), g.timeout);
            if (s && s->back().type() == SPAN_MSG_ACK && s->back().get<span_ack>().status == 0) {
                Shown sh = parse_show(a.cmd, s.value());
                if (!sh.topo.vcpu_host(mv.apic_id)) fail(a.cmd, vcpu + " has no host");
                bool there = false;
                for (auto &mi : sh.members) there |= mi.member_id == mv.member;
                if (!there) fail(a.cmd, target + " is not in span VM '" + vm + "'");
            }
            fail(a.cmd, vcpu + " has no host, or " + target + " is not in span VM '" + vm + "'");
        }
        case EALREADY:
            fail(a.cmd, vcpu + " already runs on " + target);
        case EBUSY:
            fail(a.cmd, vcpu +
                            " is being moved already (a move or hand-over of it is under "
                            "way); try again later");
        case ETIMEDOUT:
            fail(a.cmd, vm + ": the member hosting vCPU " + cpu + " did not answer within " +
                            ms_str(ack.value ? ack.value : kMoveTimeoutMs) +
                            "; the move may still complete (" + show + ")");
        case ECONNRESET:
            fail(a.cmd, vm + ": the member hosting vCPU " + cpu + " left before it answered (" +
                            show + ")");
        case ENXIO:
            fail(a.cmd, "span VM '" + vm + "' does not exist");
        default:
            fail(a.cmd, vm + ": the member hosting vCPU " + cpu + " could not move it to " +
                            target + ": " + std::strerror(-ack.status));
    }
    if (g.json)
        std::printf("{\"vm\":%s,\"vcpu\":%u,\"member\":%u,\"generation\":%llu}\n",
                    span::quoted(vm).c_str(), mv.apic_id, mv.member, ack.value);
    else
        std::printf("%s: moved vCPU %u to %s (topology generation %llu)\n", vm.c_str(), mv.apic_id,
                    target.c_str(), ack.value);
    return 0;
}

int cmd_unsubscribe(const Global &g, const Args &a) {
    span_mem_unsubscribe u{a.num("id")};
    if (!u.sub_id) usage_error(a.cmd, "--id must be non-zero");
    auto m = connect(g, a.cmd, a.pos[0]);
    request(*m, g, a.cmd, Msg::of(SPAN_MSG_MEM_UNSUBSCRIBE, u));
    if (g.json)
        std::printf("{\"vm\":%s,\"unsubscribed\":%llu}\n", span::quoted(a.pos[0]).c_str(),
                    u.sub_id);
    return 0;
}

int cmd_destroy(const Global &g, const Args &a) {
    span_ctl_name n{};
    span::set_name(n.name, a.pos[0]);
    auto m = connect(g, a.cmd);
    request(*m, g, a.cmd, Msg::of(SPAN_MSG_CTL_DESTROY, n));
    if (g.json)
        std::printf("{\"destroyed\":%s}\n", span::quoted(a.pos[0]).c_str());
    else
        std::printf("destroyed %s\n", a.pos[0].c_str());
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    Global g;
    int i = 1;
    for (; i < argc; i++) {
        std::string s = argv[i];
        if (s == "-h" || s == "--help") {
            std::fputs(kMainUsage, stdout);
            return 0;
        } else if (s == "-j" || s == "--json") {
            g.json = true;
        } else if (s == "-s" || s == "--socket" || s.rfind("--socket=", 0) == 0) {
            if (s.size() > 9 && s[8] == '=')
                g.socket = s.substr(9);
            else if (i + 1 < argc)
                g.socket = argv[++i];
            else
                usage_error("", "--socket needs a value");
            if (g.socket.empty()) usage_error("", "empty socket path");
        } else if (s == "-t" || s == "--timeout") {
            uint64_t t;
            if (i + 1 >= argc || !span::parse_u64(argv[++i], t, false) || t > 3600000)
                usage_error("", "--timeout wants 0..3600000");
            g.timeout = static_cast<int>(t);
        } else if (!s.empty() && s[0] == '-') {
            usage_error("", "unknown option " + s);
        } else {
            break;
        }
    }
    if (i >= argc) usage_error("", "no command given");
    std::string cmd = argv[i++];
    using Spec = std::map<std::string, bool>;
    if (cmd == "create")
        return cmd_create(g, parse_args(cmd, argc, argv, i,
                                        Spec{{"memory", true},
                                             {"huge-pages", false},
                                             {"ring-size", true},
                                             {"max-members", true}},
                                        1));
    if (cmd == "list") return cmd_list(g, parse_args(cmd, argc, argv, i, Spec{}, 0));
    if (cmd == "show") return cmd_show(g, parse_args(cmd, argc, argv, i, Spec{}, 1));
    if (cmd == "attach")
        return cmd_attach(
            g,
            parse_args(cmd, argc, argv, i,
                       Spec{{"member", true}, {"vcpu", true}, {"device", true}, {"memory", true}},
                       1),
            true);
    if (cmd == "detach")
        return cmd_attach(
            g,
            parse_args(cmd, argc, argv, i,
                       Spec{{"member", true}, {"vcpu", true}, {"device", true}, {"memory", false}},
                       1),
            false);
    if (cmd == "subscribe")
        return cmd_subscribe(
            g, parse_args(cmd, argc, argv, i,
                          Spec{{"member", true}, {"gfn", true}, {"pages", true}, {"access", true}},
                          1));
    if (cmd == "move")
        return cmd_move(g, parse_args(cmd, argc, argv, i, Spec{}, 3, "NAME CPU MEMBER"));
    if (cmd == "unsubscribe")
        return cmd_unsubscribe(g, parse_args(cmd, argc, argv, i, Spec{{"id", true}}, 1));
    if (cmd == "destroy") return cmd_destroy(g, parse_args(cmd, argc, argv, i, Spec{}, 1));
    usage_error("", "unknown command '" + cmd + "'");
}
