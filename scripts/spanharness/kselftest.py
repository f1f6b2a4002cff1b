# SPDX-License-Identifier: GPL-2.0
"""The kselftest layers (scripts/run-kselftest): the lab's expectations
(tests/kselftest/lab-status), the job script and the runner's output.

lab-status lines: ``NAME pass``, ``NAME skip: REASON``, ``NAME xfail:
REASON``, optionally with ``timeout=SEC`` after pass/xfail (the runner's
per-test timeout instead of its 120 s). A test not listed must pass.
"""

import re

DEFAULT_TIMEOUT = 120


class Status:
    """What the lab expects of each test: want (pass, skip, xfail, or None
    if not listed), reason and timeout."""

    def __init__(self, text):
        self.want, self.reason, self.tmo = {}, {}, {}
        for line in text.splitlines():
            words = line.split(None, 2)
            if not words or words[0].startswith("#"):
                continue
            name, st = words[0], words[1] if len(words) > 1 else ""
            rest = words[2].strip() if len(words) > 2 else ""
            m = re.match(r"timeout=([0-9]+):?\s*(.*)$", rest)
            if not st.endswith(":") and m:
                self.tmo[name], rest = int(m.group(1)), m.group(2)
            self.want[name] = st[:-1] if st.endswith(":") else st
            self.reason[name] = rest

    def timeout(self, test):
        return self.tmo.get(test, DEFAULT_TIMEOUT)

    def skipped(self, test, run_all=False):
        return self.want.get(test) == "skip" and not run_all


def job(tests, status):
    """The lab's job script: one runner call per test (so that the lab's
    --progress watchdog bounds each, 30 s beyond the runner's timeout);
    and the sum of their bounds."""
    out = ["cd /kselftest", "up() { cut -d. -f1 /proc/uptime; }"]
    total = 0
    for t in tests:
        s = status.timeout(t)
        total += s + 10
        out += ['echo "STEP %d %s" >> /job/progress' % (s + 30, t),
                "t0=$(up)",
                "./run_kselftest.sh -o %d -t kvm:%s >> /job/tap.txt 2>&1" % (s, t),
                'echo "%s $(($(up) - t0))" >> /job/times.txt' % t]
    out += ['echo "STEP 60 end" >> /job/progress',
            'grep -E "^(not )?ok [0-9]+ selftests: kvm:" /job/tap.txt; exit 0']
    return "\n".join(out) + "\n", total


def _strip_hashes(line):
    return re.sub(r"^(# )*", "", line)


def parse(raw):
    """The runner's output: {test: "pass"|"skip"|"fail"}, {test: the skip
    reason the test printed before its result}, {test: why it failed: the
    runner's "# TIMEOUT N seconds" or "# exit=N", and the test's assertion
    (the line after "Test Assertion Failure" and its message)}."""
    got, why, fwhy = {}, {}, {}
    last, afail, aline = "", "", 0
    for l in raw.splitlines():
        if re.match(r"(not )?ok .* selftests: kvm: ", l):
            n = l.split("selftests: kvm: ", 1)[1].split(" ")[0]
            if l.startswith("not ok"):
                got[n] = "fail"
                r = ""
                if "# TIMEOUT " in l:
                    r = "TIMEOUT after %s (runner's timeout; tests/kselftest/lab-status)" % l.rsplit("# TIMEOUT ", 1)[1]
                elif "# exit=" in l:
                    r = "exit " + l.rsplit("# exit=", 1)[1]
                fwhy[n] = r + ((": " if r else "") + afail if afail else "")
            elif "# SKIP" in l:
                got[n] = "skip"
            else:
                got[n] = "pass"
            why[n] = last
            last, afail, aline = "", "", 0
        elif l.startswith("# selftests: kvm: "):
            last, afail, aline = "", "", 0
        elif "Test Assertion Failure" in l:
            aline, afail = 1, ""
        elif "SKIP" in l or "Requirement not met" in l or re.search("[Ss]kipping", l):
            m = re.sub(r"^# SKIP *-* *", "", re.sub(r"^1\.\.0 ", "", _strip_hashes(l)))
            last = m[:160]
        elif aline > 0:
            # the assertion block: file:line: expr, pid/errno, (stack), message
            m = _strip_hashes(l).lstrip(" ")
            # (not the pid line, stack frames "N<tab>0x...: f at file:line")
            if m and not m.startswith("pid=") and not re.match(r"[0-9]+\s", m) and "(inlined by)" not in m:
                if aline == 1:
                    afail, aline = m, 2
                else:
                    afail, aline = (afail + "; " + m)[:200], 0
    return got, why, fwhy


def tap(tests, status, raw, lrc, name="kselftest", run_all=False):
    """The layer's TAP text, and the tests that passed without being
    listed as "pass" in lab-status."""
    got, why, fwhy = parse(raw)
    out = ["TAP version 13", "1..%d" % len(tests)]
    newpass = []
    for i, t in enumerate(tests, 1):
        w, r = status.want.get(t) or "pass", status.reason.get(t, "")
        head = "%d selftests: kvm: %s" % (i, t)
        if status.skipped(t, run_all):
            out.append("ok %s # SKIP %s" % (head, r))
            continue
        g = got.get(t, "none")
        if g == "pass":
            out.append("ok " + head)
            if not (w == "pass" and status.want.get(t)):
                newpass.append(t)
        elif g == "skip":
            out.append("ok %s # SKIP %s" % (head, why.get(t) or "the test skipped itself"))
        elif g == "fail":
            if w == "xfail":
                out.append("not ok %s # TODO %s" % (head, r))
            else:
                out.append("not ok %s%s" % (head, " # " + fwhy[t] if fwhy.get(t) else ""))
        elif w == "xfail":
            out.append("not ok %s # TODO no result (%s)" % (head, r))
        else:
            out.append("not ok %s # no result (lab exit %s; see build/results/%s.log)" % (head, lrc, name))
    return "\n".join(out) + "\n", newpass


def slow(times, status):
    """The tests that used more than half their timeout ("NAME SECS"
    lines of the job's times.txt), as "NAME (SECS s of TMO s)"."""
    out = []
    for line in times.splitlines():
        w = line.split()
        if len(w) == 2 and w[1].isdigit() and int(w[1]) * 2 > status.timeout(w[0]):
            out.append("%s (%s s of %d s)" % (w[0], w[1], status.timeout(w[0])))
    return out
