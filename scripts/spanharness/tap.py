# SPDX-License-Identifier: GPL-2.0
"""TAP (Test Anything Protocol, version 13) as Span's test layers write it.

Every layer writes build/results/<layer>.tap: "TAP version 13", the plan
"1..N", then one line per result, "ok N LAYER: NAME" or "not ok N LAYER:
NAME # why". A "not ok" line with "# TODO" is an expected failure (a known
intermittent problem, reported and never hidden); an "ok" line with
"# SKIP" a test that did not run, with the reason.
"""


def number(results, layer):
    """The TAP text of RESULTS (lines "ok NAME..." / "not ok NAME...")
    numbered, each NAME prefixed by "LAYER: " (nothing if LAYER is empty)."""
    prefix = layer + ": " if layer else ""
    out = ["TAP version 13", "1..%d" % len(results)]
    for i, r in enumerate(results, 1):
        if r.startswith("not ok "):
            out.append("not ok %d %s%s" % (i, prefix, r[len("not ok "):]))
        elif r.startswith("ok "):
            out.append("ok %d %s%s" % (i, prefix, r[len("ok "):]))
        else:
            raise ValueError("not a result line: %r" % r)
    return "\n".join(out) + "\n"


def classify(line):
    """"pass", "fail", "skip" (an ok # SKIP), "todo" (a not ok # TODO) or
    None (not a result line)."""
    if line.startswith("not ok "):
        return "todo" if "# TODO" in line or "# todo" in line else "fail"
    if line.startswith("ok "):
        return "skip" if "# SKIP" in line or "# skip" in line else "pass"
    return None


class Counts:
    """Results counted over TAP files, as scripts/test-summary prints them."""

    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.report = []    # failures and expected failures, in order

    def add_text(self, text):
        for line in text.splitlines():
            c = classify(line)
            if c == "pass":
                self.passed += 1
            elif c == "skip":
                self.skipped += 1
            elif c == "todo":
                self.skipped += 1
                self.report.append("expected failure: " + line[len("not ok "):])
            elif c == "fail":
                self.failed += 1
                self.report.append("FAILED: " + line[len("not ok "):])

    def add_missing(self, path):
        self.failed += 1
        self.report.append("missing results: %s" % path)

    def line(self):
        return "%d passed, %d failed, %d skipped" % (self.passed, self.failed, self.skipped)
