# SPDX-License-Identifier: GPL-2.0
"""spanharness.stats: medians, ratios and their rounding."""

import unittest

import common  # noqa: F401
from spanharness.stats import Samples, fixed, plain, ratio


class Medians(unittest.TestCase):
    def test_odd_and_even(self):
        s = Samples()
        for v in (5, 1, 3):
            s.add("a", v)
        self.assertEqual(s.median("a"), 3)
        s.add("a", 10)
        self.assertEqual(s.median("a"), 4)

    def test_none_without_samples(self):
        s = Samples()
        self.assertIsNone(s.median("x"))
        self.assertEqual(s.count("x"), 0)
        self.assertEqual(s.total("x"), 0)
        self.assertEqual(s.last("x"), 0)

    def test_last_and_total(self):
        s = Samples()
        s.add("q", 4)
        s.add("q", 7)
        self.assertEqual(s.last("q"), 7)
        self.assertEqual(s.total("q"), 11)


class Formats(unittest.TestCase):
    def test_ratio_needs_both_sides_positive(self):
        self.assertEqual(ratio(103, 100), 1.03)
        self.assertIsNone(ratio(None, 1))
        self.assertIsNone(ratio(1, 0))
        self.assertIsNone(ratio(-1, 1))

    def test_fixed_rounds_as_printf(self):
        self.assertEqual(fixed(2.25, 1), float("%.1f" % 2.25))
        self.assertEqual(fixed(31321.5, 0), int("%.0f" % 31321.5))
        self.assertIsInstance(fixed(3.7, 0), int)
        self.assertIsNone(fixed(None, 3))

    def test_plain_is_awks_number_to_string(self):
        self.assertEqual(plain(40780.0), 40780)
        self.assertIsInstance(plain(40780.0), int)
        self.assertEqual(plain(1234.56789), 1234.57)
        self.assertIsNone(plain(None))


if __name__ == "__main__":
    unittest.main()
