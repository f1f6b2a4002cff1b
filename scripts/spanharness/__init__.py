# SPDX-License-Identifier: GPL-2.0
"""Span's host-side test and benchmark harness (Python 3 standard library).

The bash scripts under scripts/ run the lab; this package does what they
do with the lab's output: it reads the marker lines the in-lab tests print
(markers), computes medians and ratios (stats), writes the benchmarks' JSON
(bench), writes and counts TAP (tap) and applies the retry and known-flaky
policy of the lab layers (jobs). Entry points: ``python3 scripts/spanharness
COMMAND ...`` (see __main__.py); unit tests: tests/harness/.
"""
