import threading

import OpenGL.GL as gl
import pytest
from eglutil import new_context
from OpenGL import EGL


def leak_one(display, done):
    new_context(None, display)
    texture = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    done.set()


@pytest.fixture(scope="module")
def leaky_renderer(gl_context):
    done = threading.Event()
    thread = threading.Thread(target=leak_one, args=(EGL.eglGetCurrentDisplay(), done))
    thread.start()
    thread.join()
    assert done.is_set()
    return thread


@pytest.mark.no_gl_leak
def test_fixture_thread_leak_is_not_the_tests(leaky_renderer, gl_ledger):
    mine = gl.glGenTextures(1)
    gl.glDeleteTextures([mine])
    owners = [(record.owner, record.phase) for record in gl_ledger.ledger.live("texture")]
    assert [owner for owner, phase in owners if phase == "thread" and owner.startswith("fixture:module")]


@pytest.mark.no_gl_leak
def test_thread_started_by_the_test_leaks(gl_context):
    done = threading.Event()
    thread = threading.Thread(target=leak_one, args=(EGL.eglGetCurrentDisplay(), done))
    thread.start()
    thread.join()
    assert done.is_set()
