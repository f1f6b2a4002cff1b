# SPDX-License-Identifier: GPL-2.0
"""spanharness.kselftest: lab-status, the job and the runner's output.

fixtures/kselftest-raw.txt is kselftest runner output (a pass, an xfail,
a skip with the test's reason, a timeout, an assertion failure);
fixtures/kselftest.tap the TAP the earlier bash of run-kselftest wrote
for it with tests/kselftest/lab-status.
"""

import unittest

import common
from spanharness import kselftest

TESTS = ["cpuid_test", "hyperv_clock", "smm_test", "state_test", "sync_regs_test", "span_ipi_test",
         "userspace_io_test", "kvm_clock_test", "nope_test"]


class LabStatus(unittest.TestCase):
    def test_lines(self):
        st = kselftest.Status("# comment\nA pass\nB skip: no VMX here\nC xfail timeout=300: slow: really\n"
                              "D pass timeout=200\n")
        self.assertEqual(st.want, {"A": "pass", "B": "skip", "C": "xfail", "D": "pass"})
        self.assertEqual(st.reason["B"], "no VMX here")
        self.assertEqual(st.reason["C"], "slow: really")
        self.assertEqual((st.timeout("C"), st.timeout("D"), st.timeout("A")), (300, 200, 120))
        self.assertTrue(st.skipped("B"))
        self.assertFalse(st.skipped("B", run_all=True))

    def test_the_trees_list_parses(self):
        st = kselftest.Status(common.read("kselftest", "lab-status"))
        self.assertEqual(st.want["cpuid_test"], "pass")


class Runner(unittest.TestCase):
    def setUp(self):
        self.st = kselftest.Status(common.read("kselftest", "lab-status"))
        self.raw = common.read("harness", "fixtures", "kselftest-raw.txt")

    def test_same_tap_as_before(self):
        text, newpass = kselftest.tap(TESTS, self.st, self.raw, 3)
        self.assertEqual(text, common.read("harness", "fixtures", "kselftest.tap"))
        self.assertEqual(newpass, [])

    def test_failure_reasons(self):
        got, why, fwhy = kselftest.parse(self.raw)
        self.assertEqual(got["state_test"], "fail")
        self.assertEqual(fwhy["sync_regs_test"], "exit 254: x86_64/sync_regs_test.c:99: "
                         "run->s.regs.regs.rbx == 0xBAD1DEA; rbx sync regs value incorrect 0x0.")
        self.assertEqual(why["smm_test"], "Requirement not met: KVM_CAP_X86_SMM")

    def test_unlisted_pass_is_named(self):
        st = kselftest.Status("")
        text, newpass = kselftest.tap(["cpuid_test"], st, self.raw, 0)
        self.assertEqual(newpass, ["cpuid_test"])
        self.assertIn("ok 1 selftests: kvm: cpuid_test\n", text)

    def test_job_bounds_each_test(self):
        script, total = kselftest.job(["cpuid_test", "x"], kselftest.Status("x pass timeout=300\n"))
        self.assertEqual(total, 130 + 310)
        self.assertIn('echo "STEP 330 x" >> /job/progress\nt0=$(up)\n'
                      "./run_kselftest.sh -o 300 -t kvm:x >> /job/tap.txt 2>&1\n", script)

    def test_slow(self):
        times = common.read("harness", "fixtures", "kselftest-times.txt")
        self.assertEqual(kselftest.slow(times, self.st), ["hyperv_clock (70 s of 120 s)", "state_test (301 s of 120 s)"])


if __name__ == "__main__":
    unittest.main()
