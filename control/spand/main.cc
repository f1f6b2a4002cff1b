// spand: the span daemon.  See Documentation/control-plane.rst.
#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "daemon.h"
#include "span/validate.h"

namespace {

const char kUsage[] =
    "Usage: spand [OPTION]...\n"
    "The span daemon: owns span VMs' guest memory and channels, admits members,\n"
    "keeps the topology, brokers attach/detach and applies member-death policy.\n"
    "\n"
    "  -s, --socket PATH        listen on PATH (default " SPAN_DEFAULT_SOCKET
    ")\n"
    "  -c, --create NAME:SIZE[:huge]\n"
    "                           create span VM NAME with SIZE bytes of guest memory\n"
    "                           (suffixes K, M, G, T; ':huge' for huge pages);\n"
    "                           repeatable\n"
    "  -r, --ring-size SIZE     default ring size per member pair (power of two,\n"
    "                           4K..16M; default 256K)\n"
    "  -m, --max-members N      default member slots per span VM (2..16, default 8)\n"
    "  -R, --max-rejects N      disconnect a client after N rejected messages\n"
    "                           (default 16)\n"
    "  -B, --report-budget N    disconnect at most N members on one member's peer\n"
    "                           reports in a burst (default 2; 0: refuse reports)\n"
    "  -I, --report-interval SECONDS\n"
    "                           a member regains one such disconnection every\n"
    "                           SECONDS (default 300)\n"
    "  -T, --move-timeout MS    answer spanctl's move -ETIMEDOUT when the member\n"
    "                           hosting the vCPU did not answer within MS\n"
    "                           milliseconds (default 10000)\n"
    "  -u, --allow-uid UID      also admit clients with this uid (repeatable; root\n"
    "                           and spand's own uid are always admitted)\n"
    "  -l, --log-level LEVEL    debug, info (default), warn or error\n"
    "  -h, --help               show this help and exit\n"
    "  -V, --version            show the protocol version and exit\n"
    "\n"
    "Logs are single logfmt lines on stderr.  SIGTERM/SIGINT exit cleanly.\n"
    "Exit status: 0 after a clean stop, 1 on a start-up error (e.g. another\n"
    "spand already on the socket), 2 on a usage error.\n";

[[noreturn]] void usage_error(const std::string &msg) {
    std::fprintf(stderr, "spand: %s\nTry 'spand --help'.\n", msg.c_str());
    std::exit(2);
}

}  // namespace

int main(int argc, char **argv) {
    spand::Config cfg;
    static const option opts[] = {{"socket", required_argument, nullptr, 's'},
                                  {"create", required_argument, nullptr, 'c'},
                                  {"ring-size", required_argument, nullptr, 'r'},
                                  {"max-members", required_argument, nullptr, 'm'},
                                  {"max-rejects", required_argument, nullptr, 'R'},
                                  {"report-budget", required_argument, nullptr, 'B'},
                                  {"report-interval", required_argument, nullptr, 'I'},
                                  {"move-timeout", required_argument, nullptr, 'T'},
                                  {"allow-uid", required_argument, nullptr, 'u'},
                                  {"log-level", required_argument, nullptr, 'l'},
                                  {"help", no_argument, nullptr, 'h'},
                                  {"version", no_argument, nullptr, 'V'},
                                  {nullptr, 0, nullptr, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:c:r:m:R:B:I:T:u:l:hV", opts, nullptr)) != -1) {
        std::string arg = optarg ? optarg : "";
        uint64_t v;
        switch (c) {
            case 's':
                if (arg.empty()) usage_error("empty socket path");
                cfg.socket_path = arg;
                break;
            case 'c': {
                spand::VmSpec spec;
                auto p1 = arg.find(':');
                if (p1 == std::string::npos) usage_error("--create wants NAME:SIZE[:huge]");
                spec.name = arg.substr(0, p1);
                std::string rest = arg.substr(p1 + 1), size = rest;
                auto p2 = rest.find(':');
                if (p2 != std::string::npos) {
                    if (rest.substr(p2 + 1) != "huge")
                        usage_error("--create: unknown flag '" + rest.substr(p2 + 1) + "'");
                    spec.flags |= SPAN_VM_HUGEPAGES;
                    size = rest.substr(0, p2);
                }
                if (!span::valid_name_str(spec.name.c_str()))
                    usage_error("--create: invalid name '" + spec.name + "'");
                uint64_t align = (spec.flags & SPAN_VM_HUGEPAGES) ? (2u << 20) : 4096;
                if (!span::parse_u64(size, spec.mem_size, true) || !spec.mem_size ||
                    spec.mem_size % align || spec.mem_size > SPAN_GPA_LIMIT)
                    usage_error("--create: bad size '" + size + "'");
                cfg.create.push_back(spec);
                break;
            }
            case 'r':
                if (!span::parse_u64(arg, v, true) || !span::is_pow2(v) || v < SPAN_RING_SIZE_MIN ||
                    v > SPAN_RING_SIZE_MAX)
                    usage_error("--ring-size: want a power of two between 4K and 16M");
                cfg.ring_size = static_cast<uint32_t>(v);
                break;
            case 'm':
                if (!span::parse_u64(arg, v, true) || v < 2 || v > SPAN_MAX_MEMBERS)
                    usage_error("--max-members: want 2..16");
                cfg.max_members = static_cast<uint32_t>(v);
                break;
            case 'R':
                if (!span::parse_u64(arg, v, true) || v < 1 || v > 1000000)
                    usage_error("--max-rejects: want 1..1000000");
                cfg.max_rejects = static_cast<uint32_t>(v);
                break;
            case 'B':
                if (!span::parse_u64(arg, v, true) || v > SPAN_MAX_MEMBERS)
                    usage_error("--report-budget: want 0..16");
                cfg.report_budget = static_cast<uint32_t>(v);
                break;
            case 'I':
                if (!span::parse_u64(arg, v, true) || v < 1 || v > 86400 * 365)
                    usage_error("--report-interval: want 1..31536000 seconds");
                cfg.report_interval_s = static_cast<uint32_t>(v);
                break;
            case 'T':
                if (!span::parse_u64(arg, v, false) || v < 1 || v > 3600000)
                    usage_error("--move-timeout: want 1..3600000 milliseconds");
                cfg.move_timeout_ms = static_cast<uint32_t>(v);
                break;
            case 'u':
                if (!span::parse_u64(arg, v, true) || v > 0xfffffffe)
                    usage_error("--allow-uid: bad uid");
                cfg.allow_uids.push_back(static_cast<uid_t>(v));
                break;
            case 'l':
                if (arg == "debug")
                    cfg.log_level = spand::LogLevel::Debug;
                else if (arg == "info")
                    cfg.log_level = spand::LogLevel::Info;
                else if (arg == "warn")
                    cfg.log_level = spand::LogLevel::Warn;
                else if (arg == "error")
                    cfg.log_level = spand::LogLevel::Error;
                else
                    usage_error("--log-level: want debug, info, warn or error");
                break;
            case 'h':
                std::fputs(kUsage, stdout);
                return 0;
            case 'V':
                std::printf("spand (span protocol %d)\n", SPAN_PROTO_VERSION);
                return 0;
            case ':':
                usage_error(std::string("option requires an argument: ") + argv[optind - 1]);
            default:
                usage_error(std::string("unknown option: ") + argv[optind - 1]);
        }
    }
    if (optind < argc) usage_error(std::string("unexpected argument: ") + argv[optind]);
    return spand::Daemon(cfg).run();
}
