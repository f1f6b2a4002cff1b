# SPDX-License-Identifier: GPL-2.0
"""Samples, medians, ratios, and numbers formatted as the summaries print them.

Every benchmark of Span is read as ratios of medians measured in the same
lab run (the machine is noisy). A missing value is ``None`` (JSON null),
never 0: a ratio with a missing or zero side is null.
"""

import statistics


class Samples:
    """Named lists of numbers, in the order they were added."""

    def __init__(self):
        self._v = {}

    def add(self, key, value):
        self._v.setdefault(key, []).append(float(value))

    def get(self, key):
        return self._v.get(key, [])

    def count(self, key):
        return len(self._v.get(key, []))

    def median(self, key):
        """The median of KEY's samples (mean of the middle two for an even
        count), None without any."""
        v = self._v.get(key)
        return statistics.median(v) if v else None

    def total(self, key):
        return sum(self._v.get(key, []))

    def last(self, key, default=0.0):
        v = self._v.get(key)
        return v[-1] if v else default


def fixed(x, digits):
    """X rounded as printf's %.<digits>f rounds it (an int for 0 digits),
    None for None."""
    if x is None:
        return None
    s = "%.*f" % (digits, x)
    return int(s) if digits == 0 else float(s)


def ratio(a, b, digits=3):
    """A / B to DIGITS decimals, None unless both are positive."""
    if a is None or b is None or a <= 0 or b <= 0:
        return None
    return fixed(a / b, digits)


def plain(x):
    """X as awk prints a number with %s: an integer as such, otherwise 6
    significant digits; None stays None."""
    if x is None:
        return None
    if x == int(x) and abs(x) < 1e16:
        return int(x)
    return float("%.6g" % x)
