# SPDX-License-Identifier: GPL-2.0
"""The lab layers' jobs and their results.

scripts/run-span-tests and scripts/run-nested-tests boot the lab with a job
script that runs the in-lab tests (busybox sh) one after the other and
frames each one's output with markers in /job/out.txt:

  SPAN-TEST: NN-name.sh        a test starts (nested: NESTED-TEST:)
  SPAN-TAP: ok NAME | not ok NAME # why    its results (NESTED-TAP:)
  SPAN-DONE: NN-name.sh        it ended (NESTED-DONE:)
  SPAN-LAB-TAINTED: NN-name.sh it left processes SIGKILL does not end

This module writes those job scripts, reads the output back and applies
the layers' policy: a lab that dies (a known problem of the TCG-emulated
nested SVM) is reported "# TODO" and the tests it did not finish run once
more in a fresh lab; a test listed in tests/span/known-flaky ("NAME MODE:
REASON") has its failures reported "# TODO known intermittent failure:
REASON"; one listed in tests/span/may-hang is skipped with its reason
unless SPAN_RUN_HANGING is set. It also runs the harness's own unittests
as TAP result lines.
"""

import os
import re
import sys
import unittest

LAB_REASON = ("the lab's own kernel (L1, nested SVM under TCG) reset, hung or crashed "
              "(Documentation/qemu-span.rst \"Known problems\")")


def header_bound(path, pattern, default, head=None):
    """The number a test's header gives with PATTERN (a regex with one
    group), in its first HEAD lines (all if None); DEFAULT without one
    (or without the file: the lab then reports the test as missing)."""
    try:
        with open(path, errors="replace") as f:
            for i, line in enumerate(f):
                if head is not None and i >= head:
                    break
                m = re.match(pattern, line.rstrip("\n"))
                if m:
                    return int(m.group(1))
    except FileNotFoundError:
        pass
    return default


def reasons(path):
    """A list file of "NAME MODE: REASON" lines as {(NAME, MODE): REASON}
    (comments and blank lines left out; the first line of a pair wins)."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                m = re.match(r"(\S+) (\S+): (.*)$", line.rstrip("\n"))
                if m and not line.startswith("#"):
                    out.setdefault((m.group(1), m.group(2)), m.group(3))
    except FileNotFoundError:
        pass
    return out


def _name(test):
    return test[:-3] if test.endswith(".sh") else test


def span_plan(mode, tests, may_hang, run_hanging=False):
    """The tests of MODE to run, and the results of those skipped because
    they may hang the lab: (pending, result lines)."""
    pending, lines = [], []
    for t in tests:
        why = may_hang.get((_name(t), mode))
        if why and not run_hanging:
            lines.append("ok [%s] %s: not run # SKIP may hang the lab: %s (SPAN_RUN_HANGING=1 runs it)"
                         % (mode, _name(t), why))
        else:
            pending.append(t)
    return pending, lines


def span_job(tests, testdir):
    """The lab's job script running TESTS (file names in TESTDIR) in order,
    and the sum of their bounds (600 s, or a "# timeout: N" header line)."""
    out = ["cd /job"]
    total = 0
    for t in tests:
        per = header_bound(os.path.join(testdir, t), r"# timeout: ([0-9]+)$", 600, head=5)
        total += per
        out += [
            'echo "STEP %d %s" >> /job/progress' % (per + 30, t),
            'echo "SPAN-TEST: %s" >> /job/out.txt' % t,
            # a test that overran its bound: say what it left running
            # (tests/span/stuck.sh) in the TAP line, the stacks in out.txt
            'timeout -k 5 %d sh /job/span/%s >> /job/out.txt 2>&1 || { r=$?; d=; [ $r -lt 124 ] || '
            'd=$(sh /job/span/stuck.sh /job/out.txt); echo "SPAN-TAP: not ok %s: exited $r${d:+; left running: $d}"'
            ' >> /job/out.txt; }' % (per, t, t),
            'echo "SPAN-DONE: %s" >> /job/out.txt' % t,
            # a test stopped by its bound leaves its members and spand
            # behind: they must not disturb the next test
            "busybox killall -9 qemu-system-x86_64 spand 2>/dev/null",
            # ...and if SIGKILL does not end them (stuck in the lab's
            # kernel), this lab is spoilt: end it, so that the tests after
            # this one run in a fresh lab instead of failing here
            'sleep 1; if ! sh /job/span/stuck.sh --none-left; then sleep 5; sh /job/span/stuck.sh --none-left || '
            '{ echo "SPAN-LAB-TAINTED: %s" >> /job/out.txt; grep \'^SPAN-TAP:\' /job/out.txt; exit 0; }; fi' % t,
        ]
    out += ['echo "STEP 60 end" >> /job/progress', 'grep "^SPAN-TAP:" /job/out.txt; exit 0']
    return "\n".join(out) + "\n", total


def span_parse(text):
    """A lab's /job/out.txt: ({test name: its result lines}, the tests that
    ended (file names), the test after which the lab was tainted or None)."""
    got, done, tainted, cur = {}, [], None, ""
    for line in text.replace("\r", "").splitlines():
        if line.startswith("SPAN-LAB-TAINTED: "):
            tainted = line[len("SPAN-LAB-TAINTED: "):]
        elif line.startswith("SPAN-TEST: "):
            cur = _name(line[len("SPAN-TEST: "):])
        elif line.startswith("SPAN-DONE: "):
            done.append(line[len("SPAN-DONE: "):])
        elif line.startswith("SPAN-TAP: "):
            got.setdefault(cur, []).append(line[len("SPAN-TAP: "):])
    return got, done, tainted


def span_failure(mode, name, why, flaky):
    """A failure's result line: "# TODO" if the test is known-flaky."""
    reason = flaky.get((name, mode))
    if reason:
        return "not ok [%s] %s: %s # TODO known intermittent failure: %s" % (mode, name, why.split(" # ")[0], reason)
    return "not ok [%s] %s: %s" % (mode, name, why)


def span_attempt(mode, text, pending, attempt, lrc, flaky):
    """One lab run's results (TEXT: its out.txt) for the tests PENDING.
    Returns (result lines, tests to run again in a fresh lab, messages)."""
    got, done, tainted = span_parse(text)
    lines, left, says = [], [], []
    for t in pending:
        if t not in done:
            left.append(t)
            continue
        for r in got.get(_name(t), []):
            if r.startswith("ok "):
                lines.append("ok [%s] %s: %s" % (mode, _name(t), r[3:]))
            elif r.startswith("not ok "):
                lines.append(span_failure(mode, _name(t), r[7:], flaky))
    if not left:
        return lines, [], says
    if attempt == 1 and tainted:
        lines.append("not ok [%s] lab: %s left processes that SIGKILL does not end (stuck in the lab's kernel), "
                     "so the tests after it run in a fresh lab # TODO known intermittent failure: processes stuck "
                     "in the lab's kernel (Documentation/qemu-span.rst \"Known problems\")" % (mode, _name(tainted)))
        says.append("span (%s): %s left unkillable processes; running %s in a fresh lab" % (mode, tainted, " ".join(left)))
        return lines, left, says
    if attempt == 1:
        lines.append("not ok [%s] lab: the lab ended during %s (lab exit %s, log build/results/span-%s.log); it and "
                     "the tests after it run once more in a fresh lab # TODO known intermittent failure: %s"
                     % (mode, _name(left[0]), lrc, mode, LAB_REASON))
        says.append("span (%s): the lab ended during %s; running %s once more" % (mode, left[0], " ".join(left)))
        return lines, left, says
    for t in left:
        lines.append(span_failure(mode, _name(t), "no result: the lab ended first, twice (lab exit %s, log "
                                  "build/results/span-%s-retry.log)" % (lrc, mode), flaky))
    return lines, [], says


class _Result(unittest.TextTestResult):
    """Collects "ok|not ok unit: NAME.test" lines."""

    def __init__(self, *args, name="harness", **kw):
        super().__init__(*args, **kw)
        self.lines = []
        self.name = name

    def _id(self, test):
        return "%s.%s" % (self.name, test.id().split(".", 1)[-1])

    def addSuccess(self, test):
        super().addSuccess(test)
        self.lines.append("ok unit: " + self._id(test))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.lines.append("not ok unit: " + self._id(test))

    def addError(self, test, err):
        super().addError(test, err)
        self.lines.append("not ok unit: %s (error)" % self._id(test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.lines.append("ok unit: %s # SKIP %s" % (self._id(test), reason))


def unittest_tap(directory, name="harness"):
    """Run the unittests in DIRECTORY (test_*.py); print one result line a
    test on stdout, unittest's report on stderr; 0 if all passed."""
    suite = unittest.defaultTestLoader.discover(directory, top_level_dir=directory)
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=1,
                                     resultclass=lambda *a, **k: _Result(*a, name=name, **k))
    res = runner.run(suite)
    for l in res.lines:
        print(l)
    if not res.lines:
        print("not ok unit: %s (no tests found in %s)" % (name, directory))
        return 1
    return 0 if res.wasSuccessful() else 1


# The nested layer (scripts/run-nested-tests): tests/nested/NN-*.sh, one
# lab boot for all, a retry of the failed ones in a fresh lab.

def nested_bound(path, override=None):
    """A nested test's bound for the lab watchdog: OVERRIDE, its
    "# step-bound: N s" line, or 360 s."""
    if override:
        return int(override)
    return header_bound(path, r"# step-bound: ([0-9]+) s", 360)


def nested_topology(test):
    """The topology a test file runs (01-v1.sh: V1), or its name."""
    m = re.match(r".*-v([0-9][^/]*)\.sh$", test)
    return "V" + m.group(1) if m else _name(test)


def nested_skip(test, left, bound):
    """The result of a test the time budget does not start."""
    return ("ok %s (%s) # SKIP not started: %s s left of make test's time budget (SPAN_TEST_BUDGET), "
            "its bound is %d s; make check-nested runs it" % (nested_topology(test), test, left, bound))


def nested_budget_short(bounds, left):
    """Under a deadLINE LEFT seconds away, whether not even the quickest of
    tests with BOUNDS fits in a fresh lab (its bound, the job's minute and
    a minute of lab boot): the seconds needed if so, else None."""
    need = min(bounds) + 120
    return need if left < need else None


def nested_job(tests, bounds, deadline=None):
    """The lab's job script for TESTS with their BOUNDS; under a DEADLINE
    (seconds since the epoch, the lab's clock being the host's) a test
    whose bound no longer fits is not started but reported "# SKIP"."""
    out = ["cd /job"]
    for t, b in zip(tests, bounds):
        out.append('echo "NESTED-TEST: %s" >> /job/out.txt' % t)
        if deadline:
            out += ["left=$((%d - $(date +%%s)))" % deadline,
                    "if [ $left -lt %d ]; then" % (b + 60),
                    'echo "NESTED-TAP: %s" >> /job/out.txt' % nested_skip(t, "$left", b),
                    "else"]
        out += ['echo "STEP %d %s" >> /job/progress' % (b, t),
                'sh /job/nested/%s >> /job/out.txt 2>&1 || echo "NESTED-TAP: not ok %s exited $?" >> /job/out.txt'
                % (t, t)]
        if deadline:
            out.append("fi")
        out.append('echo "NESTED-DONE: %s" >> /job/out.txt' % t)
    out.append("exit 0")
    return "\n".join(out) + "\n"


def nested_block(text, test):
    """The output of TEST in a lab's out.txt: (the lines after its
    NESTED-TEST marker up to its NESTED-DONE one, or to the end if the lab
    ended first; whether it ended)."""
    lines = text.replace("\r", "").splitlines()
    block, on = [], False
    for l in lines:
        if l == "NESTED-TEST: " + test:
            on = True
        elif l == "NESTED-DONE: " + test:
            on = False
        elif on:
            block.append(l)
    return block, "NESTED-DONE: " + test in lines


def nested_failed(text, tests):
    """The TESTS that failed or have no result in one lab's output."""
    out = []
    for t in tests:
        b, done = nested_block(text, t)
        if not done or any(l.startswith("NESTED-TAP: not ok") for l in b):
            out.append(t)
    return out


def nested_retry_line(text, lrc, again, deadline=None):
    """The "# TODO" result line of a first attempt that failed (TEXT its
    output, LRC its lab's exit status) before AGAIN run in a fresh lab."""
    why = "the lab ended first"
    for l in text.replace("\r", "").splitlines():
        if l.startswith("NESTED-TAP: not ok "):
            why = l[len("NESTED-TAP: not ok "):].split(" # ")[0]
            break
    return ("not ok first attempt failed (%s; lab exit %s, log build/results/nested.log, output "
            "build/results/nested-out.txt); retried in a fresh lab: %s%s # TODO known intermittent failure: "
            "the nested lab stalls or its L0 kernel panics now and then (Documentation/testing.rst)"
            % (why, lrc, " ".join(again),
               " (one the budget does not start there keeps its first result)" if deadline else ""))


def nested_results(tests, first, first_lrc, retry=None, retry_lrc=None, again=()):
    """The result lines and the measurements ("NESTED-M:" lines, without
    the marker) of TESTS: from the first attempt's output FIRST, or the
    retry's (RETRY) for the tests in AGAIN that it started."""
    lines, meas = [], []
    for t in tests:
        src, lrc, log = first, first_lrc, "build/results/nested.log"
        if retry is not None and t in again:
            b, _ = nested_block(retry, t)
            if not any(re.match(r"NESTED-TAP: ok .*# SKIP not started", l) for l in b):
                src, lrc, log = retry, retry_lrc, "build/results/nested-retry.log"
        b, done = nested_block(src, t)
        meas += [l[len("NESTED-M: "):] for l in b if l.startswith("NESTED-M: ")]
        lines += [l[len("NESTED-TAP: "):] for l in b if l.startswith("NESTED-TAP: ")]
        if not done:
            lines.append("not ok %s: no result: the lab ended first (lab exit %s, log %s)" % (t, lrc, log))
    return lines, meas
