# SPDX-License-Identifier: GPL-2.0
"""spanharness.tap: numbering results and counting them over layers."""

import os
import subprocess
import sys
import tempfile
import unittest

import common
from spanharness import tap


class Number(unittest.TestCase):
    def test_plan_and_numbers(self):
        self.assertEqual(tap.number(["ok a", "not ok b # why", "ok c # SKIP no"], "span"),
                         "TAP version 13\n1..3\nok 1 span: a\nnot ok 2 span: b # why\n"
                         "ok 3 span: c # SKIP no\n")

    def test_empty(self):
        self.assertEqual(tap.number([], "x"), "TAP version 13\n1..0\n")

    def test_not_a_result(self):
        self.assertRaises(ValueError, tap.number, ["bail out"], "x")


class Counting(unittest.TestCase):
    def test_classify(self):
        self.assertEqual(tap.classify("ok 1 a"), "pass")
        self.assertEqual(tap.classify("ok 1 a # SKIP why"), "skip")
        self.assertEqual(tap.classify("not ok 1 a # TODO known"), "todo")
        self.assertEqual(tap.classify("not ok 1 a # why"), "fail")
        self.assertIsNone(tap.classify("1..3"))

    def test_summary_command(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "a.tap"), "w") as f:
                f.write("TAP version 13\n1..4\nok 1 a: x\nok 2 a: y # SKIP no\n"
                        "not ok 3 a: z # TODO flaky\nnot ok 4 a: w\n")
            p = subprocess.run([sys.executable, os.path.join(common.TOP, "scripts", "spanharness"),
                                "test-summary", os.path.join(d, "a"), os.path.join(d, "b"),
                                "--suffix", ".tap", "--elapsed", "12"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout.splitlines(), [
            "expected failure: 3 a: z # TODO flaky", "FAILED: 4 a: w",
            "missing results: %s" % os.path.join(d, "b.tap"), "tests took 12s",
            "1 passed, 2 failed, 2 skipped"])


if __name__ == "__main__":
    unittest.main()
