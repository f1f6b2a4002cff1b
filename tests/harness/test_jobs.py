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
