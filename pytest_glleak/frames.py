"""Dropping the locals of finished frames, so a test's exception does not keep its objects alive.

pytest keeps the last error (``sys.last_value``) for post-mortem debugging; by the time of the leak check
its report holds the text and ``--pdb`` is over, but the frames would keep every local of the test alive
and show up as leaks. No pytest imports.
"""

from __future__ import annotations

import inspect
import types


def clear_frames(exception: BaseException) -> None:
    """Drop the locals of the finished frames in ``exception``'s tracebacks (and chained ones')."""
    pending: list[BaseException] = [exception]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        clear_traceback(current.__traceback__)
        pending.extend(error for error in (current.__cause__, current.__context__) if error is not None)
        members = getattr(current, "exceptions", None)  # an ExceptionGroup's
        if isinstance(members, (list, tuple)):
            pending.extend(member for member in members if isinstance(member, BaseException))


_GENERATOR_FLAGS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def clear_traceback(tb: types.TracebackType | None) -> None:
    """Clear every finished frame of one traceback (suspended generators and running frames are kept)."""
    while tb is not None:
        frame = tb.tb_frame
        tb = tb.tb_next
        if frame.f_code.co_flags & _GENERATOR_FLAGS:
            continue  # clearing a suspended generator's frame would close it; a finished one is empty
        try:
            frame.clear()
        except RuntimeError:  # still executing
            continue
        # Before Python 3.13, a frame whose f_locals was read (pytest's traceback formatting reads them)
        # keeps a snapshot dict; reading f_locals again drops the cleared names from it.
        frame.f_locals  # noqa: B018
