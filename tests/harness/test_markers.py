# SPDX-License-Identifier: GPL-2.0
"""spanharness.markers: reading the lab's raw lines as awk read them."""

import unittest

import common  # noqa: F401
from spanharness.markers import fields, marked, num


class Fields(unittest.TestCase):
    def test_key_value_words(self):
        self.assertEqual(fields("level=L1 who=base NBENCH tsc mhz=2442.9"),
                         {"level": "L1", "who": "base", "mhz": "2442.9"})

    def test_first_of_a_key_wins(self):
        self.assertEqual(fields("a=1 a=2")["a"], "1")

    def test_value_keeps_its_equal_signs(self):
        self.assertEqual(fields("x=a=b")["x"], "a=b")

    def test_empty_value(self):
        self.assertEqual(fields("who= round=1")["who"], "")


class Num(unittest.TestCase):
    def test_leading_number(self):
        self.assertEqual(num("26570, 27000"), 26570)
        self.assertEqual(num("2442.9"), 2442.9)
        self.assertEqual(num("12abc"), 12)

    def test_no_number_is_zero(self):
        self.assertEqual(num(""), 0)
        self.assertEqual(num("abc"), 0)
        self.assertEqual(num(None), 0)


class Marked(unittest.TestCase):
    def test_prefix_and_carriage_returns(self):
        text = "noise\r\nNESTED-M: a=1\r\nNESTED-TAP: ok x\nNESTED-M: b=2\n"
        self.assertEqual(marked(text, "NESTED-M: "), ["a=1", "b=2"])


if __name__ == "__main__":
    unittest.main()
