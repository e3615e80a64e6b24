"""What the runner puts back after a test: the session's GL context, the factory's extra contexts, the
image window.

Each step reports a failure rather than raising it: a context the test broke becomes a message for the
test's error, anything else a counted internal error, so the teardown's own error is never masked and the
next test starts with the plugin's context current. No pytest imports.
"""

from __future__ import annotations

from typing import Any

from pytest_glleak.errors import PASS_THROUGH, InternalErrors
from pytest_glleak.gl import ContextUnavailable
from pytest_glleak.gl.provider import ContextProvider
from pytest_glleak.heap import ImageTracker


def settle_context(provider: ContextProvider, nodeid: str, internal: InternalErrors) -> str | None:
    """Make the session context current (anew if the test broke it); the message for the test's error
    when it did."""
    try:
        provider.settle()
    except PASS_THROUGH:
        raise
    except ContextUnavailable as exc:
        return f"pytest-glleak: during {nodeid}: {exc}"
    except BaseException as exc:
        # Never mask the teardown's own error; the next test's set-up restores the context.
        internal.record("making the GL context current after the test", exc)
        return None
    lost = provider.take_lost()
    if lost is None:
        return None
    return (
        f"pytest-glleak: the GL context of this session was destroyed or made unusable during "
        f"{nodeid} ({lost}); a new context was made for the next tests"
    )


def destroy_extra(provider: ContextProvider, internal: InternalErrors) -> None:
    """Destroy the test's gl_context_factory contexts (after its verdict)."""
    try:
        provider.destroy_extra()
    except PASS_THROUGH:
        raise
    except ContextUnavailable:
        pass  # said by settle_context already; the next test's set-up tries again
    except BaseException as exc:
        internal.record("destroying gl_context_factory contexts", exc)


def stop_images(images: ImageTracker, token: Any, internal: InternalErrors) -> None:
    """Close the test's image window (``token``; nothing when it had none)."""
    if token is None:
        return
    try:
        images.stop(token)
    except Exception as exc:
        internal.record("stopping the image window", exc)


def recover(provider: ContextProvider, images: ImageTracker, token: Any, internal: InternalErrors) -> None:
    """After a check that did not finish: no image window left open, the plugin's context current."""
    stop_images(images, token, internal)
    try:
        provider.make_current()  # anew when foreign code broke it
    except ContextUnavailable:
        pass  # no new context could be made: the test's teardown said so already
    except Exception as exc:
        internal.record("making the GL context current after a failed check", exc)
