# SPDX-License-Identifier: GPL-2.0
"""Running tests: the harness's own unittests as TAP result lines."""

import sys
import unittest


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
