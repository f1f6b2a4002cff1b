# SPDX-License-Identifier: GPL-2.0
"""spanharness.jobs: the span layer's job script, markers and policy."""

import os
import tempfile
import unittest

import common
from spanharness import jobs

# one lab run's /job/out.txt: 01 passed, 02 failed once, 03 never ended
OUT = """\
SPAN-TEST: 01-member.sh
noise from the test\r
SPAN-TAP: ok member: boots
SPAN-TAP: ok member: query-span
SPAN-DONE: 01-member.sh
SPAN-TEST: 02-split.sh
SPAN-TAP: ok split: boots
SPAN-TAP: not ok split: ipis # 0 sent
SPAN-DONE: 02-split.sh
SPAN-TEST: 03-three.sh
SPAN-TAP: ok three: boots
"""


class SpanJob(unittest.TestCase):
    def test_bounds_from_the_headers(self):
        d = common.fixture("span")
        script, total = jobs.span_job(["01-member.sh", "07-shadow-stress.sh"], d)
        want = sum(jobs.header_bound(os.path.join(d, t), r"# timeout: ([0-9]+)$", 600, head=5)
                   for t in ("01-member.sh", "07-shadow-stress.sh"))
        self.assertEqual(total, want)
        self.assertIn('echo "SPAN-TEST: 07-shadow-stress.sh" >> /job/out.txt', script)
        self.assertIn("timeout -k 5 %d sh /job/span/01-member.sh" % (total - 720), script)
        self.assertTrue(script.endswith('grep "^SPAN-TAP:" /job/out.txt; exit 0\n'))

    def test_default_bound(self):
        with tempfile.NamedTemporaryFile("w", suffix=".sh") as f:
            f.write("#!/bin/sh\n# nothing\n")
            f.flush()
            self.assertEqual(jobs.span_job([os.path.basename(f.name)], os.path.dirname(f.name))[1], 600)


class SpanPolicy(unittest.TestCase):
    tests = ["01-member.sh", "02-split.sh", "03-three.sh"]

    def test_results_and_retry(self):
        lines, left, says = jobs.span_attempt("npt", OUT, self.tests, 1, 1, {})
        self.assertEqual(lines[:3], ["ok [npt] 01-member: member: boots", "ok [npt] 01-member: member: query-span",
                                     "ok [npt] 02-split: split: boots"])
        self.assertEqual(lines[3], "not ok [npt] 02-split: split: ipis # 0 sent")
        # the lab ended during 03: reported # TODO, run again
        self.assertRegex(lines[4], r"^not ok \[npt\] lab: the lab ended during 03-three \(lab exit 1, .*# TODO known")
        self.assertEqual(left, ["03-three.sh"])
        self.assertEqual(len(says), 1)

    def test_second_lab_death_fails(self):
        lines, left, _ = jobs.span_attempt("npt", OUT, ["03-three.sh"], 2, 3, {})
        self.assertEqual(left, [])
        self.assertEqual(lines, ["not ok [npt] 03-three: no result: the lab ended first, twice (lab exit 3, "
                                 "log build/results/span-npt-retry.log)"])

    def test_known_flaky_is_todo_with_its_reason(self):
        lines, _, _ = jobs.span_attempt("shadow", OUT, self.tests[:2], 1, 0, {("02-split", "shadow"): "a race"})
        self.assertEqual(lines[-1], "not ok [shadow] 02-split: split: ipis # TODO known intermittent failure: a race")
        # only in its mode
        lines, _, _ = jobs.span_attempt("npt", OUT, self.tests[:2], 1, 0, {("02-split", "shadow"): "a race"})
        self.assertNotIn("# TODO", lines[-1])

    def test_tainted_lab(self):
        out = OUT.replace("SPAN-TEST: 03-three.sh\n", "SPAN-LAB-TAINTED: 02-split.sh\n")
        lines, left, _ = jobs.span_attempt("npt", out, self.tests, 1, 0, {})
        self.assertRegex(lines[-1], r"^not ok \[npt\] lab: 02-split left processes that SIGKILL does not end")
        self.assertEqual(left, ["03-three.sh"])

    def test_may_hang(self):
        pending, lines = jobs.span_plan("npt", self.tests, {("02-split", "npt"): "stuck"})
        self.assertEqual(pending, ["01-member.sh", "03-three.sh"])
        self.assertEqual(lines, ["ok [npt] 02-split: not run # SKIP may hang the lab: stuck "
                                 "(SPAN_RUN_HANGING=1 runs it)"])
        self.assertEqual(jobs.span_plan("npt", self.tests, {("02-split", "npt"): "x"}, True)[0], self.tests)

    def test_list_files(self):
        with tempfile.NamedTemporaryFile("w") as f:
            f.write("# NAME MODE: REASON\n\n02-split shadow: a race: seen twice\n02-split shadow: later\n")
            f.flush()
            self.assertEqual(jobs.reasons(f.name), {("02-split", "shadow"): "a race: seen twice"})
        self.assertEqual(jobs.reasons("/nonexistent"), {})
        # the lists in the tree parse
        jobs.reasons(common.fixture("span", "known-flaky"))
        jobs.reasons(common.fixture("span", "may-hang"))


if __name__ == "__main__":
    unittest.main()


# a nested lab's out.txt: V1 passed, V2 failed, V3 never ended
NESTED_OUT = """\
NESTED-TEST: 01-v1.sh
NESTED-M: who=v1 ms=10
NESTED-TAP: ok V1 boots
NESTED-DONE: 01-v1.sh
NESTED-TEST: 03-v2.sh
NESTED-TAP: ok V2 boots
NESTED-TAP: not ok V2 ipis # none # more
NESTED-M: who=v2 ms=20
NESTED-DONE: 03-v2.sh
NESTED-TEST: 04-v3.sh
NESTED-TAP: ok V3 L1a boots
NESTED-M: who=v3 ms=30
"""
NESTED = ["01-v1.sh", "03-v2.sh", "04-v3.sh"]


class NestedPolicy(unittest.TestCase):
    def test_topology_names(self):
        self.assertEqual(jobs.nested_topology("03-v2.sh"), "V2")
        self.assertEqual(jobs.nested_topology("02-span-pci.sh"), "02-span-pci")

    def test_bounds(self):
        d = common.fixture("nested")
        self.assertEqual(jobs.nested_bound(os.path.join(d, "01-v1.sh"), "99"), 99)
        b = jobs.nested_bound(os.path.join(d, "03-v2.sh"))
        self.assertGreater(b, 0)
        script = jobs.nested_job(["03-v2.sh"], [b])
        self.assertIn('echo "STEP %d 03-v2.sh" >> /job/progress' % b, script)
        self.assertNotIn("left=", script)

    def test_job_under_a_deadline_skips_what_does_not_fit(self):
        script = jobs.nested_job(["01-v1.sh"], [360], deadline=2000000000)
        self.assertIn("left=$((2000000000 - $(date +%s)))\nif [ $left -lt 420 ]; then\n", script)
        self.assertIn('echo "NESTED-TAP: ok V1 (01-v1.sh) # SKIP not started: $left s left', script)

    def test_budget(self):
        self.assertEqual(jobs.nested_budget_short([360, 1020], 400), 480)
        self.assertIsNone(jobs.nested_budget_short([360, 1020], 480))

    def test_failed_and_unfinished(self):
        self.assertEqual(jobs.nested_failed(NESTED_OUT, NESTED), ["03-v2.sh", "04-v3.sh"])

    def test_retry_line_names_the_first_failure(self):
        l = jobs.nested_retry_line(NESTED_OUT, 0, ["03-v2.sh", "04-v3.sh"])
        self.assertTrue(l.startswith("not ok first attempt failed (V2 ipis; lab exit 0, "))
        self.assertIn("retried in a fresh lab: 03-v2.sh 04-v3.sh # TODO known intermittent failure", l)
        self.assertIn("(the lab ended first;", jobs.nested_retry_line("", 1, ["01-v1.sh"]))

    def test_results_without_retry(self):
        lines, meas = jobs.nested_results(NESTED, NESTED_OUT, 137)
        self.assertEqual(lines, ["ok V1 boots", "ok V2 boots", "not ok V2 ipis # none # more", "ok V3 L1a boots",
                                 "not ok 04-v3.sh: no result: the lab ended first (lab exit 137, log "
                                 "build/results/nested.log)"])
        self.assertEqual(meas, ["who=v1 ms=10", "who=v2 ms=20", "who=v3 ms=30"])

    def test_results_of_the_retry_count(self):
        retry = ("NESTED-TEST: 03-v2.sh\nNESTED-TAP: ok V2 ipis\nNESTED-DONE: 03-v2.sh\n"
                 "NESTED-TEST: 04-v3.sh\nNESTED-TAP: ok V3 (04-v3.sh) # SKIP not started: 100 s left\n"
                 "NESTED-DONE: 04-v3.sh\n")
        lines, meas = jobs.nested_results(NESTED, NESTED_OUT, 137, retry, 0, ["03-v2.sh", "04-v3.sh"])
        # V2 from the retry; V3 not started there keeps its first result
        self.assertEqual(lines[:3], ["ok V1 boots", "ok V2 ipis", "ok V3 L1a boots"])
        self.assertIn("log build/results/nested.log", lines[3])
        self.assertEqual(meas, ["who=v1 ms=10", "who=v3 ms=30"])


class RecordedRuns(unittest.TestCase):
    """The marker lines of real lab runs (fixtures/span-npt-out.txt: the
    span layer in npt mode, one failure; fixtures/nested-out.txt: the
    nested layer, all passed) and the results the earlier bash of
    run-span-tests and run-nested-tests drew from them
    (fixtures/*-results.txt; nested: the result lines, then the
    measurements)."""

    SPAN = ["01-member.sh", "02-split.sh", "03-three.sh", "04-kill.sh", "05-debian.sh", "06-virtio-blk.sh",
            "07-shadow-stress.sh", "08-virtio-net.sh", "09-reboot.sh", "10-hpet-idle.sh", "11-quiet-member.sh"]
    NESTED = ["00-vmexit-window.sh", "01-v1.sh", "02-span-pci.sh", "03-v2.sh", "04-v3.sh", "05-v4.sh"]

    def test_span_npt(self):
        text = common.read("harness", "fixtures", "span-npt-out.txt")
        lines, left, says = jobs.span_attempt("npt", text, self.SPAN, 1, 0, {})
        self.assertEqual(lines, common.read("harness", "fixtures", "span-npt-results.txt").splitlines())
        self.assertEqual((left, says), ([], []))

    def test_span_npt_lab_ended_during_05(self):
        text = common.read("harness", "fixtures", "span-npt-out.txt")
        text = text[:text.index("SPAN-TEST: 05-debian.sh")]
        lines, left, _ = jobs.span_attempt("npt", text, self.SPAN, 1, 137, {})
        self.assertEqual(left, self.SPAN[4:])
        self.assertTrue(lines[-1].startswith("not ok [npt] lab: the lab ended during 05-debian (lab exit 137"))

    def test_nested(self):
        text = common.read("harness", "fixtures", "nested-out.txt")
        self.assertEqual(jobs.nested_failed(text, self.NESTED), [])
        lines, meas = jobs.nested_results(self.NESTED, text, 0)
        self.assertEqual(lines + meas, common.read("harness", "fixtures", "nested-results.txt").splitlines())
        self.assertEqual(len(lines), 65)
