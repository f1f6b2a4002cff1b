# SPDX-License-Identifier: GPL-2.0
"""The benchmark summaries: raw lab lines in, one JSON object out.

``nested`` reads scripts/bench-nested's raw lines (build/bench/nested.txt,
the "NESTED-M:" lines of tests/nested/bench.sh), ``span`` those of
scripts/bench-span (tests/bench/span-bench.sh's "BENCH" lines), ``shadow``
the job folder of scripts/bench-shadow and ``kvm_ipi`` the JSON line of the
span_ipi_bench selftest. Documentation/benchmarks.rst explains every key;
the numbers are rounded as the summaries always printed them.
"""

import json
import re
import statistics

from .markers import fields, num
from .stats import Samples, fixed, plain, ratio

# the topologies after V1, in the order of the JSON
TOPOLOGIES = ("V2", "V2b", "V2p", "V3", "V4")
CPU_SPLIT = ("user", "system", "idle", "steal", "guest")


def _ordered_add(lists, key, item):
    """Append ITEM to LISTS[KEY] unless it is there already."""
    lst = lists.setdefault(key, [])
    if item not in lst:
        lst.append(item)


def _counters(words, pattern):
    """The counters among a marker line's words: (prefix, name, value) for
    each "name=value" word whose name matches pattern (group 1: the prefix)."""
    for w in words:
        m = re.match(pattern, w)
        if m:
            kv = w.split("=")
            yield m.group(1), kv[0], num(kv[1] if len(kv) > 1 else "")


def _topo(who):
    """The topology name of a guest: "v2b-l2" is V2b."""
    return "V" + who[1:who.index("-")]


class _Nested:
    """The raw lines of bench-nested, read once (see nested())."""

    def __init__(self, lines):
        self.s = Samples()
        self.seen_rounds = 0
        self.nthr = {}
        self.jx = {}        # (who[@L1x], round, key) -> sum, the L1s' job windows
        self.jrounds = set()
        self.jol = {}       # who -> other L1s that watched its job
        self.keys = {"kvm": [], "thr": [], "irq": [], "l0kvm": [], "l0thr": [], "span": []}
        self.sx = {}        # (who, level, counter) -> sum, span members
        self.sxl = {}
        self.gi = {}        # (who, irq, vcpu) -> sum, the guest's interrupts
        self.gil = {}
        self.ginv = {}
        self.girounds = set()
        self.lx = {}        # (who, vm, round, key) -> sum, the lab's view
        self.lvms = {}
        self.lrounds = set()
        self.clock = {}
        self.boot = {}
        self.bad = []
        self.mem = {}
        for line in lines:
            self._line(line)

    def _key(self, kind, key):
        if key not in self.keys[kind]:
            self.keys[kind].append(key)

    def _line(self, line):
        f = fields(line)
        words = line.split()
        who = f.get("who", "")
        kind = ""
        for i, w in enumerate(words):
            if w in ("NBENCH", "guest:"):
                kind = (words[i + 1] if i + 1 < len(words) else "") if w == "NBENCH" else "guest"
                break
        rnd = f.get("round", "")
        self.seen_rounds = max(self.seen_rounds, int(num(rnd)))
        s = self.s
        # the CPU job: "cpu" keys hold TSC ticks (the clock topologies are
        # compared by), "wall" keys the guest clock (a cross-check)
        if kind == "cpu" and f.get("tsc", "") != "":
            s.add("cpu " + who, num(f["tsc"]))
            s.add("wall " + who, num(f.get("wall_ns", "")))
            if rnd != "":
                s.add("cpu %s @%s" % (who, rnd), num(f["tsc"]))
            tt = f.get("thread_tsc", "")
            tt = tt.split(",") if tt else []
            for i, t in enumerate(tt, 1):
                s.add("thr %s %d" % (who, i), num(t))
            self.nthr[who] = max(self.nthr.get(who, 0), len(tt))
        if kind == "tsc" and who == "base":
            s.add("mhz", num(f.get("mhz", "")))
        if " cpu-job-exits" in line and rnd != "":
            # an L1 without the console of the L2 (the L1b of V2...), told
            # by the lab: its own key, "v2-l2@L1b"
            jw = who
            lv = f.get("level", "")
            if re.match(r"L1[b-z]$", lv):
                jw = who + "@" + lv
                _ordered_add(self.jol, who, lv)
            for pre, k, v in _counters(words, r"(kvm|l1|thr|irq)_"):
                k = k[4:] if pre == "kvm" else k
                self.jx[jw, rnd, k] = self.jx.get((jw, rnd, k), 0) + v
                # by the prefix of the raw key: kvm_irq_exits is an exit count
                if pre in ("kvm", "thr", "irq"):
                    self._key(pre, k)
            if any(w.startswith("kvm_") for w in words):
                self.jrounds.add((jw, rnd))
        elif kind == "exit-median":
            s.add("exit " + who, num(f.get("ns_per_exit", "")))
        elif kind == "ipi":
            s.add("ipi " + who, num(f.get("median_ns", "")))
        # a span member's traffic over the job (query-span counters)
        if " cpu-job-span" in line and rnd != "":
            lv = f.get("level", "")
            for _, k, v in _counters(words, r"(span)_"):
                k = k[5:]
                self.sx[who, lv, k] = self.sx.get((who, lv, k), 0) + v
                self._key("span", k)
            _ordered_add(self.sxl, who, lv)
        # the guest's own interrupts over the job, per vCPU ("RES=3/40")
        if kind == "irqs" and (rnd != "" or who == "base"):
            for w in words[words.index("irqs") + 1:]:
                kv = w.split("=")
                if len(kv) != 2:
                    continue
                pv = kv[1].split("/") if kv[1] else []
                for j, v in enumerate(pv, 1):
                    self.gi[who, kv[0], j] = self.gi.get((who, kv[0], j), 0) + num(v)
                _ordered_add(self.gil, who, kv[0])
                self.ginv[who] = max(self.ginv.get(who, 0), len(pv))
            self.girounds.add((who, rnd))
        # the lab's view of each L1 over the same job (l0_job_watch)
        if " l0-job-exits" in line and rnd != "":
            vm = re.sub(r"^V[0-9][a-z]?-", "", f.get("vm", ""))
            for pre, k, v in _counters(words, r"(kvm|l1|thr)_"):
                k = k[4:] if pre == "kvm" else k
                self.lx[who, vm, rnd, k] = self.lx.get((who, vm, rnd, k), 0) + v
                if pre != "l1":
                    self._key("l0" + pre, k)
            _ordered_add(self.lvms, who, vm)
            self.lrounds.add((who, vm, rnd))
        if words and words[0] == "span-pci-attach":
            s.add("attach " + f.get("mib", ""), num(f.get("us", "")))
        elif kind == "guest" and f.get("clock", "") != "":
            self.clock[who] = f["clock"]
        elif f.get("launch_to_poweroff_ms", "") != "":
            self.boot.setdefault(who, []).append(f["launch_to_poweroff_ms"])
        if f.get("l2_launch_to_poweroff_ms", "") != "":
            self.boot["v1-l2"] = [f["l2_launch_to_poweroff_ms"]]
        if f.get("V2_launch_to_poweroff_ms", "") != "":
            self.boot["v2"] = [f["V2_launch_to_poweroff_ms"]]
        if f.get("status", "") not in ("", "0"):
            self.bad.append("%s=%s" % (who, f["status"]))
        for k in ("mem_total_kb", "mem_avail_before_l2_kb", "mem_avail_min_during_l2_kb"):
            if f.get(k, "") != "":
                self.mem[k] = f[k]


def _first(values):
    """A value list as awk's "first, second" string read as a number:
    the first one, None without any."""
    return plain(num(values[0])) if values else None


def nested(lines, secs=0, complete=None, reps=3, work=200000, exits=1000,
           l2_smp=2, l1_mem="1G", rounds=3):
    """The JSON object of scripts/bench-nested from its raw lines (LINES);
    the other arguments are the run's parameters. The rounds are those the
    lines hold (ROUNDS only if they hold none)."""
    d = _Nested(lines)
    s = d.s
    if d.seen_rounds > 0:
        rounds = d.seen_rounds
    rr = [str(r) for r in range(1, rounds + 1)]
    mhz = s.median("mhz")

    def tms(ticks):
        return fixed(ticks / mhz / 1000, 1) if ticks is not None and mhz and mhz > 0 else None

    def us(ns):
        return fixed(ns / 1000, 2) if ns is not None else None

    def job_secs(who, rounds_):
        if not mhz or mhz <= 0:
            return 0
        return sum(s.total("cpu %s @%s" % (who, r)) for r in rounds_) / (mhz * 1e6)

    b = s.median("cpu base")
    v1 = s.median("cpu v1-l2")
    res = {"benchmark": "nested", "complete": complete, "lab_seconds": int(secs),
           "failed_runs": ", ".join(d.bad)}
    res["params"] = {"cpu_work_units": int(work), "cpu_reps": int(reps), "exits_per_phase": int(exits),
                     "guest_vcpus": int(l2_smp), "guest_mem": "256M", "l1_vcpus": 2, "v2_l1_vcpus": 1,
                     "l1_mem": l1_mem}
    cpu = {"what": "wall time of the same CPU-bound job on every guest vCPU, from releasing the threads to the last one finishing, in TSC ticks of a thread pinned to vCPU 0 (ms at the TSC rate the base guest measured), median of the repetitions over all rounds; base = the guest under the lab KVM directly (before and after the topologies); goal V2/V1 <= 1.03 (per round: rounds)",
           "tsc_mhz": fixed(mhz, 1) if mhz and mhz > 0 else None,
           "base_ms": tms(b), "V1_ms": tms(v1), "V1_over_base": ratio(v1, b)}
    ws = ["v1-l2"] + [t.lower() + "-l2" for t in TOPOLOGIES]
    gw = ["base"] + ws
    for t in TOPOLOGIES:
        m = s.median("cpu %s-l2" % t.lower())
        cpu[t + "_ms"] = tms(m)
        cpu[t + "_over_V1"] = ratio(m, v1)
    # the guest clock against the TSC: 1.0 where one clock serves the guest
    cpu["guest_clock_over_tsc"] = {
        w: (fixed(s.median("wall " + w) / (s.median("cpu " + w) / mhz * 1000), 3)
            if mhz and mhz > 0 and (s.median("cpu " + w) or 0) > 0 else None) for w in gw}
    res["cpu"] = cpu

    # per round: the ratio of the CPU job medians, V2 (V3, V4) over V1
    def round_ratios(w, bw):
        per = []
        for r in rr:
            a, c = s.median("cpu %s @%s" % (w, r)), s.median("cpu %s @%s" % (bw, r))
            if a is not None and c is not None and a > 0 and c > 0:
                per.append(a / c)
        return (fixed(statistics.median(per), 3) if per else None), [fixed(x, 3) for x in per]

    rd = {"what": "the topologies alternate within the run (order reversed every other round); ratio of the CPU job medians of each round, and their median",
          "rounds": rounds}
    for t in TOPOLOGIES:
        rd[t + "_over_V1"], rd[t + "_over_V1_per_round"] = round_ratios(t.lower() + "-l2", "v1-l2")
    # the variants of V2 over V2 itself (V2b: the owner L1 with a second
    # vCPU; V2p: the non-owner keeps its PIT, what leaving it out saves)
    for t in TOPOLOGIES:
        if re.match(r"V2.", t):
            rd[t + "_over_V2"], rd[t + "_over_V2_per_round"] = round_ratios(t.lower() + "-l2", "v2-l2")
    res["rounds"] = rd

    # exits of the L2 during its CPU job, counted by the L1 with its console
    # and by every other L1 of the job, mean per round and per second
    def job_exits(w, jk):
        nr = [r for r in rr if (jk, r) in d.jrounds]
        if not nr:
            return None
        jsecs = job_secs(w, nr)
        o = {"rounds": len(nr)}
        for k in d.keys["kvm"]:
            t = sum(d.jx.get((jk, r, k), 0) for r in rr)
            if t:
                o[k] = fixed(t / len(nr), 0)
                o[k + "_per_s"] = fixed(t / jsecs if jsecs > 0 else 0, 1)
        lt = {k: sum(d.jx.get((jk, r, "l1_" + k), 0) for r in rr) for k in CPU_SPLIT}
        tot = lt["user"] + lt["system"] + lt["idle"] + lt["steal"]
        if tot > 0:
            o["l1_cpu_share"] = {"l2_running": fixed(lt["guest"] / tot, 3),
                                 "kvm_system": fixed(lt["system"] / tot, 3),
                                 "qemu_and_rest_user": fixed((lt["user"] - lt["guest"]) / tot, 3),
                                 "idle": fixed(lt["idle"] / tot, 3), "steal": fixed(lt["steal"] / tot, 3)}
        # the CPU time of that L1's QEMU threads over the watched window
        # (USER_HZ ticks over centiseconds: 1.0 = one CPU) and its
        # interrupts per second of the window
        wcs = sum(d.jx.get((jk, r, "l1_uptime_cs"), 0) for r in rr)
        o["l1_qemu_thread_cpu_share"] = {}
        o["l1_interrupts_per_s"] = {}
        for kind, name, scale, digits in (("thr", "l1_qemu_thread_cpu_share", 1, 3),
                                          ("irq", "l1_interrupts_per_s", 100, 1)):
            for k in d.keys[kind]:
                t = sum(d.jx.get((jk, r, k), 0) for r in rr)
                if t > 0 and wcs > 0:
                    o[name][k[4:]] = fixed(t * scale / wcs, digits)
        # each vCPU thread of the job on its own TSC (median, ms)
        if jk == w:
            o["per_vcpu_ms"] = [tms(s.median("thr %s %d" % (w, j))) for j in range(1, d.nthr.get(w, 0) + 1)]
        return o

    ex = {"what": "KVM exits of the L2 while it runs the CPU job, counted by the L1 that has its console (V1: both vCPUs; V2: L1a, vCPU 0 only) and, as V2_L1b (V3_L1b, V3_L1c), by each other L1 of the job (its vCPUs; the lab passes it the markers, so its window starts and ends up to a few seconds later), mean over the rounds; per_s divides by the wall time of the job; l1_cpu_share: how that L1 spent its CPUs meanwhile (/proc/stat); l1_qemu_thread_cpu_share: CPU time of each thread of its QEMU by name over the watched window (the job and the waits around it; 1.0 = one CPU); l1_interrupts_per_s: its interrupts per second of that window (LOC timer, RES/CAL IPIs, numbered: by device); per_vcpu_ms: each job thread on its own vCPU"}
    for w in ws:
        for jk, name in [(w, _topo(w))] + [(w + "@" + lv, _topo(w) + "_" + lv) for lv in d.jol.get(w, [])]:
            o = job_exits(w, jk)
            if o is not None:
                ex[name] = o
    res["l2_exits_during_cpu_job"] = ex

    # the guest's own interrupts during the job, per vCPU and second of the
    # job (its TSC time)
    gi = {"what": "interrupts the L2 itself took during its CPU job (/proc/interrupts of the guest; LOC its timer, RES/CAL/TLB its IPIs: in V2 those between vCPU 0 and 1 cross the L1s), per vCPU and second of the job, over all rounds"}
    for w in gw:
        if not d.gil.get(w):
            continue
        if w == "base":
            jsecs = s.total("cpu base") / (mhz * 1e6) if mhz and mhz > 0 else 0
        else:
            jsecs = job_secs(w, [str(r) for r in range(0, rounds + 1) if (w, str(r)) in d.girounds])
        gi["base" if w == "base" else _topo(w)] = {
            k: [fixed(d.gi.get((w, k, j), 0) / jsecs, 1) if jsecs > 0 else None
                for j in range(1, d.ginv[w] + 1)] for k in d.gil[w]}
    res["l2_interrupts_during_cpu_job"] = gi

    # span traffic of each member that saw the job (its owner), per second
    sp = {"what": "query-span counters of the member whose L1 has the L2 console, from the job start to its end (as its watcher saw them, so with up to 3 s of idle guest on each side), total and per second of the job"}
    for w in ws[1:]:
        if not d.sxl.get(w):
            continue
        jsecs = job_secs(w, rr)
        o = {}
        for lv in d.sxl[w]:
            o[lv] = {}
            for k in d.keys["span"]:
                t = d.sx.get((w, lv, k), 0)
                if t:
                    o[lv][k] = int(t)
                    o[lv][k + "_per_s"] = fixed(t / jsecs if jsecs > 0 else 0, 1)
        sp[_topo(w)] = o
    res["span_during_cpu_job"] = sp

    # the same job seen from the lab: every L1 VM (also the L1b of V2), its
    # exits (those of its L2 included: the lab runs them first), the CPU
    # time of each thread of its QEMU in the lab, and the lab's CPU split
    l0 = {"what": "the lab (L0) over the window of the L2 CPU job (markers relayed by the L1 with its console, so the window starts and ends up to a second after that L1 one): per L1 VM, its exits in the lab KVM (those of its L2 included) mean per round and per second of the window, and the CPU time of each thread of its QEMU (1.0 = one of the lab 2 CPUs); l0_cpu_share: how the lab spent its CPUs (guest = all L1s running)"}
    for w in ws:
        if not d.lvms.get(w):
            continue
        o = {}
        for v, vm in enumerate(d.lvms[w]):
            nr = [r for r in rr if (w, vm, r) in d.lrounds]
            wcs = sum(d.lx.get((w, vm, r, "l1_uptime_cs"), 0) for r in nr)
            o[vm] = {"rounds": len(nr)}
            for k in d.keys["l0kvm"]:
                t = sum(d.lx.get((w, vm, r, k), 0) for r in rr)
                if t and nr:
                    o[vm][k] = fixed(t / len(nr), 0)
                    o[vm][k + "_per_s"] = fixed(t * 100 / wcs if wcs > 0 else 0, 1)
            o[vm]["qemu_thread_cpu_share"] = {}
            for k in d.keys["l0thr"]:
                t = sum(d.lx.get((w, vm, r, k), 0) for r in rr)
                if t > 0 and wcs > 0:
                    o[vm]["qemu_thread_cpu_share"][k[4:]] = fixed(t / wcs, 3)
            if v == 0:
                # the lab's own CPU split, the same in every VM's lines
                lt0 = {k: sum(d.lx.get((w, vm, r, "l1_" + k), 0) for r in rr) for k in CPU_SPLIT}
                tot0 = lt0["user"] + lt0["system"] + lt0["idle"] + lt0["steal"]
        if tot0 > 0:
            o["l0_cpu_share"] = {"l1s_running": fixed(lt0["guest"] / tot0, 3),
                                 "kvm_system": fixed(lt0["system"] / tot0, 3),
                                 "qemu_and_rest_user": fixed((lt0["user"] - lt0["guest"]) / tot0, 3),
                                 "idle": fixed(lt0["idle"] / tot0, 3)}
        l0[_topo(w)] = o
    res["l0_during_cpu_job"] = l0

    e1, el, e2, e3 = (s.median("exit " + w) for w in ("base", "l1-itself", "v1-l2", "v2-l2"))
    res["exit_round_trip_us"] = {
        "what": "one cpuid exit and re-entry, median of 5 phases: L1 = a guest of the lab KVM (base guest; the L1 itself), L2 = the V1 (V2) guest in an L1",
        "L1_base_guest": us(e1), "L1_itself": us(el), "L2_V1": us(e2), "L2_V2": us(e3), "L2_over_L1": ratio(e2, e1)}
    i1, i2, i3 = (s.median("ipi " + w) for w in ("base", "v1-l2", "v2-l2"))
    res["wakeup_round_trip_us"] = {
        "what": "futex ping-pong between vCPU 0 and the last vCPU (a wake-up IPI each way), median of 5 phases of medians; in V2 both messages cross between L1a and L1b through the span channel; compare with one KVM exit of the same guest",
        "base": us(i1), "V1": us(i2), "V2": us(i3), "V2_over_V1": ratio(i3, i2), "V2_over_V2_exit": ratio(i3, e3)}
    res["launch_to_poweroff_ms"] = {
        "what": "QEMU launch to power-off on the clock of the level that launched it",
        "base_guest_L0_clock": [plain(num(x)) for x in d.boot.get("base", [])],
        "V1_L1_L0_clock": _first(d.boot.get("v1-l1")), "V1_L2_L1_clock": _first(d.boot.get("v1-l2")),
        "V2_both_L1s_L0_clock": _first(d.boot.get("v2"))}
    a1, a2 = s.median("attach 256"), s.median("attach 1024")
    res["window_attach_us"] = {
        "what": "span-pci: mapping the guest-memory file of spand into an L1 as the window BAR on attach (L0 QEMU clock, median); goal: independent of size",
        "256MiB": plain(a1), "1GiB": plain(a2), "1GiB_over_256MiB": ratio(a2, a1)}
    res["l1_memory_kb"] = {k: (plain(num(d.mem[f])) if f in d.mem else None) for k, f in (
        ("total", "mem_total_kb"), ("available_before_l2", "mem_avail_before_l2_kb"),
        ("available_min_while_l2_runs", "mem_avail_min_during_l2_kb"))}
    res["guest_clocksource"] = {"base": d.clock.get("base", ""), "V1": d.clock.get("v1-l2", "")}
    return res


def span(lines, rounds=15, secs=0, complete=True, append="", work=100000, rt=200, nacc=500):
    """The JSON object of scripts/bench-span from its raw lines, e.g.
    ``cfg=split round=0 BENCH ipi pair=1:2 phase=0 roundtrips=200 median_ns=123``."""
    s = Samples()
    per = {}
    clock = {}
    failed = 0
    for line in lines:
        f = fields(line)
        words = line.split()
        cfg = f.get("cfg", "")
        kind = words[3] if len(words) > 3 else ""
        if kind == "cpu":
            s.add("cpu " + cfg, num(f.get("wall_ns", "")))
            per[cfg, f.get("round", "")] = num(f.get("wall_ns", ""))
        elif kind == "ipi":
            s.add("ipi %s %s" % (cfg, f.get("pair", "")), num(f.get("median_ns", "")))
        elif kind in ("mmio", "pio"):
            cpu = f.get("cpu", "")
            s.add("%s %s %s" % (kind, cfg, cpu), num(f.get("median_ns", "")))
            # how far the guest clock advanced on that vCPU, against its TSC
            if num(f.get("phase_tsc_ns", "")) > 0:
                s.add("clock %s %s" % (cfg, cpu), num(f.get("phase_clock_ns", "")) / num(f["phase_tsc_ns"]))
        elif kind == "guest":
            clock[cfg] = "%s (%s TSC messages in dmesg)" % (f.get("clocksource", ""), f.get("tsc_messages", ""))
        elif kind == "failed":
            failed += 1
        elif kind == "qmp" and cfg == "split":
            m = f.get("member", "")
            for key, field in (("ipis_sent", "ipis_sent"), ("mmio", "mmio_forwarded"), ("pio", "pio_forwarded")):
                s.add("qmp %s %s" % (m, key), num(f.get(field, "")))

    def us(ns):
        return fixed(ns / 1000, 2) if ns is not None else None

    def ms(ns):
        return fixed(ns / 1e6, 1) if ns is not None else None

    # the ratio within each round (the three jobs ran within seconds of
    # each other), then its median: robust to a drifting machine load
    for r in range(rounds):
        for a, b in (("split", "one"), ("split", "plain"), ("one", "plain")):
            x, y = per.get((a, str(r)), 0), per.get((b, str(r)), 0)
            if x > 0 and y > 0:
                s.add("ratio %s/%s" % (a, b), x / y)
    cp, co, cs = (s.median("cpu " + c) for c in ("plain", "one", "split"))
    is_, ix = s.median("ipi split 0:1"), s.median("ipi split 1:2")
    res = {"benchmark": "span", "lab_append": append.replace('"', ""), "complete": complete,
           "rounds": int(rounds), "failures": failed, "lab_seconds": int(secs),
           "params": {"cpu_work_units": int(work), "roundtrips_per_round": int(rt), "accesses_per_round": int(nacc)}}
    res["cpu"] = {
        "what": "wall time of the same CPU-bound job on vCPUs 0-3, median of %d rounds, one job a round; paired_*: median of the ratios within each round" % s.count("cpu split"),
        "plain_ms": ms(cp), "one_member_ms": ms(co), "split_ms": ms(cs),
        "split_over_one": ratio(cs, co), "split_over_plain": ratio(cs, cp), "one_over_plain": ratio(co, cp),
        "paired_split_over_one": fixed(s.median("ratio split/one"), 3),
        "paired_split_over_plain": fixed(s.median("ratio split/plain"), 3),
        "paired_one_over_plain": fixed(s.median("ratio one/plain"), 3)}
    res["ipi"] = {
        "what": "futex wake-up round trip between two pinned threads (two reschedule IPIs to halted vCPUs plus the guest scheduler), median over the rounds of the per-round medians",
        "same_member_us": us(is_), "cross_member_us": us(ix), "cross_over_same": ratio(ix, is_),
        "one_member_0_1_us": us(s.median("ipi one 0:1")), "one_member_1_2_us": us(s.median("ipi one 1:2")),
        "plain_0_1_us": us(s.median("ipi plain 0:1")), "plain_1_2_us": us(s.median("ipi plain 1:2"))}
    for kind, bar in (("mmio", "memory"), ("pio", "I/O")):
        loc, fwd = s.median(kind + " split 0"), s.median(kind + " split 2")
        res[kind] = {
            "what": "1-byte read of a pci-testdev %s BAR, median over the rounds of the per-round medians" % bar,
            "local_us": us(loc), "forwarded_us": us(fwd), "forwarded_over_local": ratio(fwd, loc),
            "one_member_vcpu0_us": us(s.median(kind + " one 0")), "one_member_vcpu2_us": us(s.median(kind + " one 2")),
            "plain_vcpu0_us": us(s.median(kind + " plain 0")), "plain_vcpu2_us": us(s.median(kind + " plain 2"))}
    res["guest_clocksource"] = {c: clock.get(c, "") for c in ("plain", "one", "split")}
    res["guest_clock_over_tsc"] = {
        "what": "CLOCK_MONOTONIC advance over TSC time during the mmio/pio phases, median; about 1 when the guest clock runs on that vCPU",
        "split_vcpu0": fixed(s.median("clock split 0"), 3), "split_vcpu2": fixed(s.median("clock split 2"), 3),
        "one_vcpu2": fixed(s.median("clock one 2"), 3)}
    res["query_span_split_totals"] = {
        "m0_ipis_sent": plain(s.last("qmp m0 ipis_sent")), "m1_ipis_sent": plain(s.last("qmp m1 ipis_sent")),
        "m1_mmio_forwarded": plain(s.last("qmp m1 mmio")), "m1_pio_forwarded": plain(s.last("qmp m1 pio"))}
    return res


_SHADOW_RUN = re.compile(r"BENCH: config=(\w+) round=(\d+) cpu_s=([\d.]+) stress_s=(\d+) stress_iterations=(\d+)$")


def _query_span_counters(path):
    """The counters of the first query-span answer in a QMP log."""
    for line in path.read_text().splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d.get("return"), dict) and "counters" in d["return"]:
            return d["return"]["counters"]
    raise ValueError("no query-span answer in %s" % path.name)


def shadow(job, secs, rounds):
    """The JSON object of scripts/bench-shadow from its lab job folder JOB
    (a pathlib.Path: out.txt and qmp-split-R-mM.json); ValueError if a
    run has no results."""
    runs = {"plain": [], "single": [], "split": []}
    for line in (job / "out.txt").read_text().splitlines():
        m = _SHADOW_RUN.match(line)
        if not m:
            continue
        cfg, rnd, cpu, ss, it = m.groups()
        runs[cfg].append({"round": int(rnd), "cpu_s": float(cpu), "stress_s": int(ss),
                          "stress_iterations": int(it), "stress_iter_per_s": int(it) / int(ss)})
    for cfg, rs in runs.items():
        if len(rs) != rounds:
            raise ValueError("%s: %d of %d runs have results" % (cfg, len(rs), rounds))
    wt = []
    for r in range(1, rounds + 1):
        c = [_query_span_counters(job / ("qmp-split-%d-m%d.json" % (r, m))) for m in (0, 1)]
        s = next(x for x in runs["split"] if x["round"] == r)["stress_s"]
        # over the whole guest lifetime (boot, CPU job, stress): per stress second
        wt.append({k: sum(x[k] for x in c) / s for k in
                   ("wt-published", "wt-invalidations-sent", "wt-withdrawn")})

    def med(cfg, k):
        return statistics.median(x[k] for x in runs[cfg])

    return {
        "benchmark": "span-shadow", "lab_append": "kvm_amd.npt=0",
        "stress_seconds": secs, "rounds": rounds, "runs": runs,
        "median": {cfg: {"cpu_s": med(cfg, "cpu_s"), "stress_iter_per_s": med(cfg, "stress_iter_per_s")}
                   for cfg in runs},
        "ratio_split_vs_single": {
            "cpu_time": med("split", "cpu_s") / med("single", "cpu_s"),
            "stress_throughput": med("split", "stress_iter_per_s") / med("single", "stress_iter_per_s")},
        "ratio_single_vs_plain": {
            "cpu_time": med("single", "cpu_s") / med("plain", "cpu_s"),
            "stress_throughput": med("single", "stress_iter_per_s") / med("plain", "stress_iter_per_s")},
        "coherence_per_second_split": {
            "frames_published": statistics.median(x["wt-published"] for x in wt),
            "invalidations": statistics.median(x["wt-invalidations-sent"] for x in wt),
            "frames_withdrawn": statistics.median(x["wt-withdrawn"] for x in wt),
            "note": "sums of both members over the guest's lifetime, per second of span-stress; "
                    "each publication and invalidation is a request plus one acknowledgement"},
        "reference": "poster, shadow-on-EPT prototype: kernbench +6.3% over plain nested",
    }


def kvm_ipi(text, append=""):
    """The span_ipi_bench selftest's JSON line in TEXT with "lab_append"
    (where it ran) added as its last member; ValueError without one."""
    for line in text.splitlines():
        if line.startswith('{"benchmark": "kvm-span-ipi"') and line.endswith("}"):
            return line[:-1] + ', "lab_append": %s}' % json.dumps(append.replace('"', ""))
    raise ValueError("no JSON from span_ipi_bench")


def dumps(obj):
    """OBJ as JSON with one top-level member a line (as the summaries
    always printed them: easy to grep and to diff)."""
    return "{" + ",\n ".join("%s: %s" % (json.dumps(k), json.dumps(v)) for k, v in obj.items()) + "}"
