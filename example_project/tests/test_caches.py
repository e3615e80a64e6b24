"""Bounded caches: byte budgets, LRU order, counters, GL textures deleted on eviction, buffers freed."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import OpenGL.GL as gl
import pytest
from PIL import Image
from samples import pattern

from glthumbs.caches import CacheStats, ImageCache, TextureCache
from glthumbs.texture import mip_level_sizes

KIB = 1024


@pytest.fixture
def square_files(sample_dir: Path) -> list[Path]:
    """Four 16x16 PNGs: 1 KiB each once decoded to RGBA."""
    paths = []
    for index in range(4):
        path = sample_dir / f"square{index}.png"
        pattern((16, 16), seed=index).save(path)
        paths.append(path)
    return paths


def test_image_cache_stays_within_its_budget_and_evicts_least_recent(square_files: list[Path]) -> None:
    first, second, third, fourth = square_files
    cache = ImageCache(2 * KIB + 100)
    cache.get(first)
    cache.get(second)
    assert cache.get(first) is cache.get(first)  # hits keep the same image, and refresh `first`
    cache.get(third)  # evicts `second`, the least recently used
    assert first in cache and third in cache and second not in cache
    assert cache.nbytes == 2 * KIB <= cache.budget
    cache.get(fourth)  # evicts `first`
    assert first not in cache
    assert cache.stats == CacheStats(
        hits=2, misses=4, evictions=2, entries=2, nbytes=2 * KIB, budget=2 * KIB + 100
    )


def test_image_cache_never_holds_more_than_the_budget(square_files: list[Path]) -> None:
    cache = ImageCache(3 * KIB)
    for _ in range(3):
        for path in square_files:
            cache.get(path)
            assert cache.nbytes <= 3 * KIB
    assert len(cache) == 3


def test_an_image_larger_than_the_budget_is_returned_not_kept(square_files: list[Path]) -> None:
    cache = ImageCache(KIB - 1)
    image = cache.get(square_files[0])
    assert image.size == (16, 16)
    assert len(cache) == 0 and cache.nbytes == 0
    assert cache.stats.misses == 1


def test_an_edited_file_is_decoded_again(square_files: list[Path]) -> None:
    path = square_files[0]
    cache = ImageCache(10 * KIB)
    before = cache.get(path)
    pattern((8, 8), seed=9).save(path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    after = cache.get(path)
    assert after.size == (8, 8) and before.size == (16, 16)
    assert cache.stats.misses == 2


def test_clear_empties_but_keeps_counters(square_files: list[Path]) -> None:
    cache = ImageCache(10 * KIB)
    for path in square_files:
        cache.get(path)
    cache.get(square_files[0])
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0
    assert (cache.stats.hits, cache.stats.misses) == (1, 4)
    assert "no such file" not in cache


@pytest.fixture
def large_files(sample_dir: Path) -> list[Path]:
    """Three 256x256 PNGs of flat colour (tiny files, 256 KiB each once decoded)."""
    paths = []
    for index in range(3):
        path = sample_dir / f"large{index}.png"
        Image.new("RGB", (256, 256), (index * 60, 90, 200)).save(path)
        paths.append(path)
    return paths


def test_clearing_the_image_cache_frees_decoded_buffers(
    memory_baseline: Any, large_files: list[Path]
) -> None:
    cache = ImageCache(4 * 1024 * KIB)
    for path in large_files:
        cache.get(path)
    assert cache.nbytes == 3 * 256 * KIB
    held = memory_baseline.growth()["image_bytes"]
    assert held >= cache.nbytes
    cache.clear()
    assert memory_baseline.growth()["image_bytes"] < 64 * KIB


def make(seed: int, size: tuple[int, int] = (16, 16)) -> Callable[[], Image.Image]:
    return lambda: pattern(size, seed=seed)


def test_texture_cache_stays_within_its_budget(gl_context: Any) -> None:
    with TextureCache(2 * KIB) as cache:
        first = cache.get("a", make(1))
        assert cache.get("a", make(1)) is first
        cache.get("b", make(2))
        cache.get("c", make(3))  # evicts "a"
        assert "a" not in cache and "b" in cache and "c" in cache
        assert first.closed and not gl.glIsTexture(first.name)
        assert cache.nbytes == 2 * KIB <= cache.budget
        assert cache.stats == CacheStats(
            hits=1, misses=3, evictions=1, entries=2, nbytes=2 * KIB, budget=2 * KIB
        )


def test_eviction_deletes_the_gl_textures(gl_context: Any, gl_ledger: Any) -> None:
    cache = TextureCache(3 * KIB)
    for seed in range(10):
        cache.get(seed, make(seed))
    assert cache.stats.evictions == 7
    assert gl_ledger.created("texture") == 10
    assert gl_ledger.deleted("texture") == 7
    assert len(gl_ledger.live("texture")) == 3
    cache.clear()
    assert gl_ledger.deleted("texture") == 10
    gl_ledger.assert_no_leaks()


def test_clear_deletes_every_texture(gl_context: Any) -> None:
    cache = TextureCache(100 * KIB)
    textures = [cache.get(seed, make(seed)) for seed in range(4)]
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0
    assert all(texture.closed for texture in textures)


def test_an_oversized_texture_is_deleted_by_the_next_call(gl_context: Any) -> None:
    cache = TextureCache(KIB)
    big = cache.get("big", make(1, (20, 20)))
    assert not big.closed and len(cache) == 0
    name = big.name
    cache.get("small", make(2, (4, 4)))
    assert big.closed and not gl.glIsTexture(name)
    cache.clear()


def test_mipmapped_textures_count_every_level(gl_context: Any) -> None:
    with TextureCache(100 * KIB, mipmaps=True) as cache:
        texture = cache.get("m", make(1, (16, 8)))
        assert texture.levels == 5
        assert cache.nbytes == sum(w * h * 4 for w, h in mip_level_sizes(16, 8))


def test_budgets_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="budget"):
        ImageCache(-1)
    with pytest.raises(ValueError, match="budget"):
        TextureCache(-1)
