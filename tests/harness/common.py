# SPDX-License-Identifier: GPL-2.0
"""Paths and imports shared by the harness's unit tests."""

import os
import sys

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "scripts"))


def fixture(*path):
    """The path of a recorded fixture under tests/."""
    return os.path.join(TOP, "tests", *path)


def read(*path):
    with open(fixture(*path)) as f:
        return f.read()
