# SPDX-License-Identifier: GPL-2.0
"""spanharness.bench on recorded raw lines.

Each summary is compared with the JSON the earlier awk summary wrote for
the same lines (tests/nested/bench-fixture.json, tests/bench/span-fixture.json:
every key and value), and a few values with ones computed here straight
from the raw lines, so that a summary that drops or mixes up a field fails.
"""

import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import unittest

import common
from spanharness import bench


def raw(*path):
    return common.read(*path).splitlines()


def tsc_median(lines, who):
    return statistics.median(int(re.search(r" tsc=(\d+)", l).group(1)) for l in lines
                             if " who=%s " % who in l and "NBENCH cpu rep=" in l)


class Nested(unittest.TestCase):
    def setUp(self):
        self.lines = raw("nested", "bench-fixture.txt")
        self.js = bench.nested(self.lines)

    def test_same_as_the_recorded_summary(self):
        want = json.loads(common.read("nested", "bench-fixture.json"))
        self.assertEqual(json.loads(bench.dumps(self.js)), want)

    def test_v2_over_v1_from_the_tsc_medians(self):
        want = round(tsc_median(self.lines, "v2-l2") / tsc_median(self.lines, "v1-l2"), 3)
        self.assertEqual(self.js["cpu"]["V2_over_V1"], want)

    def test_lab_view_of_l1b(self):
        l1b = next(re.search(r"kvm_exits=(\d+)", l).group(1) for l in self.lines
                   if "vm=V2-l1b l0-job-exits" in l)
        self.assertEqual(self.js["l0_during_cpu_job"]["V2"]["l1b"]["exits"], int(l1b))

    def test_lab_view_of_v1_both_vcpu_threads(self):
        share = self.js["l0_during_cpu_job"]["V1"]["l1"]["qemu_thread_cpu_share"]
        self.assertTrue(share["CPU_0_KVM"] > 0 and share["CPU_1_KVM"] > 0)

    def test_guest_interrupts_one_value_per_vcpu(self):
        self.assertEqual(len(self.js["l2_interrupts_during_cpu_job"]["V2"]["LOC"]), 2)

    def test_span_traffic(self):
        ipis = next(re.search(r" span_ipis-sent=(\d+)", l).group(1) for l in self.lines
                    if "cpu-job-span" in l)
        self.assertEqual(self.js["span_during_cpu_job"]["V2"]["L1a"]["ipis-sent"], int(ipis))

    def test_rounds_from_the_lines(self):
        # the summary takes the rounds the lines hold, not its --rounds
        rounds = {m for l in self.lines for m in re.findall(r"(?:^| )round=(\d+)", l)}
        self.assertEqual(bench.nested(self.lines, rounds=7)["rounds"]["rounds"], len(rounds))

    def test_four_rounds(self):
        one = [l for l in self.lines if re.search(r"(^| )round=1 ", l)]
        rest = [l for l in self.lines if not re.search(r"(^| )round=", l)]
        four = rest + [l.replace("round=1 ", "round=%d " % r) for r in (1, 2, 3, 4) for l in one]
        js = bench.nested(four)
        self.assertEqual(js["rounds"]["rounds"], 4)
        self.assertEqual(len(js["rounds"]["V2_over_V1_per_round"]), 4)
        # the same lines four times: the same means per round
        self.assertEqual(js["l2_exits_during_cpu_job"]["V1"]["exits"],
                         self.js["l2_exits_during_cpu_job"]["V1"]["exits"])

    def test_missing_topologies_are_null(self):
        self.assertIsNone(self.js["cpu"]["V3_ms"])
        self.assertEqual(self.js["rounds"]["V4_over_V1_per_round"], [])

    def test_failed_runs_and_params(self):
        js = bench.nested(self.lines + ["level=L0 who=v3-l1 status=3"], complete=False, l1_mem="2G")
        self.assertEqual(js["failed_runs"], "v3-l1=3")
        self.assertIs(js["complete"], False)
        self.assertEqual(js["params"]["l1_mem"], "2G")


class Span(unittest.TestCase):
    def setUp(self):
        self.lines = raw("bench", "span-fixture.txt")
        self.rounds = len({f for l in self.lines for f in re.findall(r"round=(\d+) ", l)})
        self.js = bench.span(self.lines, rounds=self.rounds)

    def test_same_as_the_recorded_summary(self):
        want = json.loads(common.read("bench", "span-fixture.json"))
        self.assertEqual(json.loads(bench.dumps(self.js)), want)

    def median(self, cfg, kind, pattern):
        return statistics.median(int(re.search(r"median_ns=(\d+)", l).group(1)) for l in self.lines
                                 if l.startswith("cfg=%s " % cfg) and " BENCH %s " % kind in l
                                 and pattern in l)

    def test_forwarded_over_local(self):
        want = round(self.median("split", "mmio", " cpu=2 ") / self.median("split", "mmio", " cpu=0 "), 3)
        self.assertEqual(self.js["mmio"]["forwarded_over_local"], want)

    def test_cross_member_ipi(self):
        self.assertEqual(self.js["ipi"]["cross_member_us"],
                         round(self.median("split", "ipi", " pair=1:2 ") / 1000, 2))

    def test_failures_counted(self):
        self.assertEqual(self.js["failures"], sum(" BENCH failed " in l for l in self.lines))

    def test_paired_ratios_need_both_runs_of_a_round(self):
        js = bench.span([l for l in self.lines if not (l.startswith("cfg=one ") and " cpu " in l)],
                        rounds=self.rounds)
        self.assertIsNone(js["cpu"]["paired_split_over_one"])
        self.assertIsNotNone(js["cpu"]["paired_split_over_plain"])


class Shadow(unittest.TestCase):
    def job(self, d, rounds=2):
        d = pathlib.Path(d)
        lines = []
        for r in range(1, rounds + 1):
            for i, cfg in enumerate(("plain", "single", "split")):
                lines.append("BENCH: config=%s round=%d cpu_s=%d.5 stress_s=30 stress_iterations=%d"
                             % (cfg, r, 10 + i, 3000 - 300 * i))
            for m in (0, 1):
                (d / ("qmp-split-%d-m%d.json" % (r, m))).write_text(
                    '{"QMP": {}}\n{"return": {}}\n{"return": {"counters": {"wt-published": %d, '
                    '"wt-invalidations-sent": 60, "wt-withdrawn": 0}}}\n' % (30 * (m + 1)))
        (d / "out.txt").write_text("noise\n" + "\n".join(lines) + "\n")
        return d

    def test_ratios_and_coherence(self):
        with tempfile.TemporaryDirectory() as d:
            js = bench.shadow(self.job(d), 30, 2)
        self.assertEqual(js["ratio_split_vs_single"]["cpu_time"], 12.5 / 11.5)
        self.assertEqual(js["coherence_per_second_split"]["frames_published"], 3.0)
        self.assertEqual(js["coherence_per_second_split"]["invalidations"], 4.0)
        self.assertEqual(len(js["runs"]["split"]), 2)

    def test_missing_run_is_an_error(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertRaises(ValueError, bench.shadow, self.job(d), 30, 3)


class KvmIpi(unittest.TestCase):
    def test_lab_append_added(self):
        out = bench.kvm_ipi('noise\n{"benchmark": "kvm-span-ipi", "x": 1}\n', 'kvm_amd.npt="0"')
        self.assertEqual(json.loads(out), {"benchmark": "kvm-span-ipi", "x": 1, "lab_append": "kvm_amd.npt=0"})

    def test_no_json(self):
        self.assertRaises(ValueError, bench.kvm_ipi, "nothing\n")


class CommandLine(unittest.TestCase):
    def test_bench_summary_nested(self):
        out = subprocess.run([sys.executable, os.path.join(common.TOP, "scripts", "spanharness"),
                              "bench-summary", "nested", common.fixture("nested", "bench-fixture.txt"),
                              "--complete", "null"], check=True, capture_output=True, text=True).stdout
        self.assertEqual(json.loads(out), json.loads(common.read("nested", "bench-fixture.json")))
        # one top-level member a line, as scripts grep it
        self.assertRegex(out, r'"V1_ms": [0-9]')


if __name__ == "__main__":
    unittest.main()
