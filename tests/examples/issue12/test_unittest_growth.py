import unittest

import pytest

KEPT = []


class TestUnit(unittest.TestCase):
    def setUp(self):
        self.setups = getattr(self, "setups", 0) + 1

    @pytest.mark.max_memory_growth("64 KiB")
    def test_grows(self):
        KEPT.append(bytearray(4 * 1024 * 1024))

    @pytest.mark.max_memory_growth("64 KiB")
    def test_clean(self):
        data = bytearray(4 * 1024 * 1024)
        self.assertEqual(len(data), 4 * 1024 * 1024)

    @pytest.mark.max_memory_growth("64 KiB", warmup=1, repeat=2)
    def test_fails_itself(self):
        self.fail("its own failure")
