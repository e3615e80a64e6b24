import io

import numpy as np
import pytest
from PIL import Image

KEPT = []
CACHE = {}


@pytest.mark.max_memory_growth("256 KiB")
def test_leaks_one_mib_per_call():
    KEPT.append(b"x" * (1 << 20))


@pytest.mark.max_memory_growth("256 KiB")
def test_cache_fills_once_then_stops():
    if "atlas" not in CACHE:
        CACHE["atlas"] = np.ones((1024, 1024), dtype=np.float32)  # 4 MiB, kept for good
    assert CACHE["atlas"].shape == (1024, 1024)
