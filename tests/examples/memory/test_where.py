"""Tests whose memory grows on every call, each through a different path, and one cache that stops."""

import ctypes
import io

import numpy as np
import OpenGL.GL as gl
import pytest
from PIL import Image

KEPT = []
CACHE = {}
TEXTURES = []
HISTORY = []

buffer = io.BytesIO()
Image.new("RGB", (512, 512), "red").save(buffer, "PNG")
PNG = buffer.getvalue()

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]


def remember(size):
    KEPT.append(bytearray(size))  # GROWS:list


@pytest.mark.max_memory_growth("256 KiB")
def test_list_grows_one_mib_per_call():
    remember(1 << 20)


@pytest.mark.max_memory_growth("256 KiB")
def test_numpy_arrays_appended():
    KEPT.append(np.zeros((512, 512), dtype=np.float32))  # GROWS:numpy


@pytest.mark.max_memory_growth("256 KiB")
def test_cache_fills_once_then_stays_flat():
    if "atlas" not in CACHE:
        CACHE["atlas"] = np.ones((1024, 1024), dtype=np.float32)
    assert CACHE["atlas"].shape == (1024, 1024)


def upload(size):
    texture = gl.glGenTextures(1)  # GROWS:texture
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    gl.glTexImage2D(gl.GL_TEXTURE_2D, 0, gl.GL_RGBA8, size, size, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, None)
    return texture


@pytest.mark.max_memory_growth("32 KiB")
def test_texture_per_call_never_deleted(gl_context):
    TEXTURES.append(upload(256))


@pytest.mark.max_memory_growth("256 KiB")
def test_decoded_image_appended():
    HISTORY.append(Image.open(io.BytesIO(PNG)).convert("RGBA"))  # GROWS:image


@pytest.mark.max_memory_growth("256 KiB")
def test_native_malloc():
    block = libc.malloc(1 << 20)
    libc.memset(block, 1, 1 << 20)


def test_measure_with_a_limit_says_where(memory_baseline):
    def grow():
        KEPT.append(bytearray(1 << 20))  # GROWS:measure

    memory_baseline.measure(grow, warmup=2, repeat=4, limit="256 KiB")
