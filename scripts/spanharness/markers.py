# SPDX-License-Identifier: GPL-2.0
"""The raw lines of the lab: "key=value" words, marker prefixes.

The in-lab scripts (busybox sh) print results as lines of words, some of
them "key=value" (``level=L1 who=base NBENCH tsc mhz=2442.9``), behind a
marker prefix on a console full of other output (``NESTED-M: ...``,
``SPAN-TAP: ok ...``). The benchmark summaries were awk; these helpers keep
awk's reading of a line so that the JSON stays the same.
"""

import re

_NUM = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def fields(line):
    """The "key=value" words of LINE as a dict; the first of a key wins."""
    out = {}
    for word in line.split():
        key, eq, value = word.partition("=")
        if eq and key not in out:
            out[key] = value
    return out


def num(text):
    """TEXT as a number the way awk's ``TEXT + 0`` reads it: its leading
    number, 0 if it has none."""
    m = _NUM.match(text or "")
    return float(m.group(0)) if m else 0.0


def marked(text, prefix):
    """The lines of TEXT that start with PREFIX, without it (and without
    carriage returns: consoles are serial lines)."""
    return [l[len(prefix):] for l in text.replace("\r", "").splitlines()
            if l.startswith(prefix)]
