"""What holds a leaked object: a short phrase naming the container, a few referrer hops up.

Failure path only: each ``gc.get_referrers`` call walks the whole heap, so a :class:`ReferrerScans`
budget bounds them per verdict, and the answers are memoised.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import sys
import types
from collections.abc import Iterable
from typing import Any

from pytest_glleak.findings import LeakedImage
from pytest_glleak.heap.records import TrackedBuffer

#: Most ``gc.get_referrers`` scans spent on describing holders in one :meth:`ImageTracker.leaks` call.
HOLDER_SCAN_BUDGET = 24
# Frames of the heap package's own code (the verdict being assembled) are never holders.
_OWN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


@dataclasses.dataclass(eq=False, slots=True)
class Suspect:
    """A leaked buffer while the verdict is assembled (holds the object strongly, briefly)."""

    kind: str
    obj: Any
    record: TrackedBuffer | None
    nbytes: int
    finding: LeakedImage


class ReferrerScans:
    """A budget of ``gc.get_referrers`` calls (each one walks the whole heap) and their memo."""

    __slots__ = ("cache", "internal", "remaining")

    def __init__(self, remaining: int = HOLDER_SCAN_BUDGET) -> None:
        self.remaining = remaining
        self.cache: dict[int, tuple[object, list[object]]] = {}
        self.internal: set[int] = {id(self.cache)}  # the memo's own lists and tuples refer to targets too


def _module_dicts() -> dict[int, str]:
    return {id(vars(module)): name for name, module in list(sys.modules.items()) if module is not None}


def _key_of(container: dict[Any, Any], target: object, raw: bool = False) -> str | None:
    for key, value in list(container.items()):
        if value is target:
            return str(key) if raw else repr(key)
        if key is target:
            return "(a key)"
    return None


def describe_holder(holder: object, target: object, budget: ReferrerScans | None = None) -> str:
    """:func:`describe_holder_of` that never raises: odd objects (proxies, C types) give a plain phrase."""
    try:
        return describe_holder_of(holder, target, budget)
    except Exception:  # a best-effort explanation must never break the verdict
        return f"{type(holder).__qualname__} object"


def describe_holder_of(holder: object, target: object, budget: ReferrerScans | None = None) -> str:
    """A short phrase naming ``holder`` (which refers to ``target``) and, a few hops up, what holds it.

    Examples: ``"key 'a' of dict CACHE in module viewer.cache"``, ``"item 0 of list FRAMES in module
    app"``, ``"closure cell 'frame' of load.<locals>.redraw()"``, ``"key (16, 16) of dict, in attribute
    thumbnails of ThumbnailCache instance VIEWER in module app"``.
    """
    budget = budget if budget is not None else ReferrerScans()
    steps: list[str] = []
    current, inner = holder, target
    for _ in range(4):
        phrase, terminal, current = _slot(current, inner, budget)
        steps.append(phrase)
        if terminal:
            break
        parent = _parent_of(current, budget)
        if parent is None:
            break
        modules = _module_dicts()
        if isinstance(parent, dict) and id(parent) in modules:
            steps[-1] += f" {_key_of(parent, current, raw=True)} in module {modules[id(parent)]}"
            break
        inner, current = current, parent
    return ", in ".join(steps)


def _slot(holder: object, target: object, budget: ReferrerScans) -> tuple[str, bool, object]:
    """How ``target`` sits in ``holder``: (phrase, whether to stop climbing, the object to climb from)."""
    if isinstance(holder, dict):
        key = _key_of(holder, target)
        modules = _module_dicts()
        if id(holder) in modules:
            return f"global {_key_of(holder, target, raw=True)} in module {modules[id(holder)]}", True, holder
        owner = _owner_of_dict(holder, budget)
        if owner is not None:
            return (
                f"attribute {_key_of(holder, target, raw=True)} of {type(owner).__qualname__} instance",
                False,
                owner,
            )
        return (f"key {key} of dict" if key is not None else "dict"), False, holder
    if isinstance(holder, (list, tuple)):
        index = next((i for i, item in enumerate(holder) if item is target), None)
        kind = type(holder).__name__
        return (f"item {index} of {kind}" if index is not None else kind), False, holder
    if isinstance(holder, types.CellType):
        return _describe_cell(holder, budget), True, holder
    if isinstance(holder, types.FrameType):
        names = [name for name, value in holder.f_locals.items() if value is target]
        code = holder.f_code
        local = f"local {names[0]} of " if names else "frame of "
        where = f"{code.co_filename}:{holder.f_lineno}"
        return f"{local}{getattr(code, 'co_qualname', code.co_name)}() at {where}", True, holder
    if type(holder).__name__ == "_lru_cache_wrapper":
        return f"functools.lru_cache of {getattr(holder, '__qualname__', '?')}()", True, holder
    names = [name for name, value in getattr(holder, "__dict__", {}).items() if value is target]
    kind = f"{type(holder).__qualname__} instance"
    return (f"attribute {names[0]} of {kind}" if names else kind), False, holder


def _owner_of_dict(container: dict[Any, Any], budget: ReferrerScans) -> object | None:
    for referrer in _referrers(container, budget):
        if getattr(referrer, "__dict__", None) is container and not isinstance(referrer, types.ModuleType):
            return referrer
    return None


def _parent_of(holder: object, budget: ReferrerScans) -> object | None:
    """The most telling referrer of ``holder``: a module's globals first, then containers."""
    parents = [
        parent
        for parent in _referrers(holder, budget)
        if not isinstance(parent, (types.FrameType, types.ModuleType))
    ]
    budget.internal.add(id(parents))
    if not parents:
        return None
    modules = _module_dicts()
    return min(
        parents,
        key=lambda parent: -1 if isinstance(parent, dict) and id(parent) in modules else _holder_rank(parent),
    )


def _describe_cell(cell: types.CellType, budget: ReferrerScans) -> str:
    for closure in _referrers(cell, budget):
        if not isinstance(closure, tuple):
            continue
        for function in _referrers(closure, budget):
            if isinstance(function, types.FunctionType) and function.__closure__ is closure:
                name = function.__code__.co_freevars[closure.index(cell)]
                return f"closure cell {name!r} of {function.__qualname__}()"
    return "closure cell"


def _referrers(target: object, budget: ReferrerScans) -> list[object]:
    """``gc.get_referrers`` without this module's own frames and bookkeeping, memoised per ``budget``."""
    known = budget.cache.get(id(target))
    if known is not None and known[0] is target:
        return known[1]
    if budget.remaining <= 0:
        return []
    budget.remaining -= 1
    found = [
        referrer
        for referrer in gc.get_referrers(target)
        if id(referrer) not in budget.internal
        and not isinstance(referrer, (Suspect, ReferrerScans))
        and not (isinstance(referrer, types.FrameType) and referrer.f_code.co_filename.startswith(_OWN_DIR))
    ]
    entry = (target, found)
    budget.internal.update((id(found), id(entry)))
    budget.cache[id(target)] = entry
    return found


def describe_referrers(
    obj: object, budget: ReferrerScans | None = None, ignore: Iterable[object] = ()
) -> str | None:
    """What still refers to ``obj`` (a gc-tracked object), cheaply: a few ``gc.get_referrers`` hops."""
    try:
        return _describe_referrers(obj, budget if budget is not None else ReferrerScans(), ignore)
    except Exception:  # a best-effort explanation must never break the verdict
        return None


def _describe_referrers(obj: object, budget: ReferrerScans, ignore: Iterable[object]) -> str | None:
    ignored = {id(item) for item in ignore}
    candidates = [referrer for referrer in _referrers(obj, budget) if id(referrer) not in ignored]
    budget.internal.add(id(candidates))
    if not candidates:
        return None
    modules = _module_dicts()
    holder = min(
        candidates, key=lambda c: -1 if isinstance(c, dict) and id(c) in modules else _holder_rank(c)
    )
    return describe_holder(holder, obj, budget)


def _holder_rank(referrer: object) -> int:
    if isinstance(referrer, dict):
        return 0
    if isinstance(referrer, (list, types.CellType)):
        return 1
    if isinstance(referrer, types.FrameType):
        return 3
    return 2
