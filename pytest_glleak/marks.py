"""The markers. Each marker's function *is* its contract: its signature checks the arguments and its
docstring's first line is the ``pytest --markers`` text."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from pytest_glleak.findings import GL_KINDS
from pytest_glleak.values import parse_bytes, shown


@dataclasses.dataclass(frozen=True)
class GLLeakCheck:
    kinds: tuple[str, ...] | None
    allow: Mapping[str, int]


@dataclasses.dataclass(frozen=True)
class ImageLeakCheck:
    allow: int
    min_bytes: int | None


@dataclasses.dataclass(frozen=True)
class GrowthCheck:
    limit: int
    warmup: int
    repeat: int


def _kinds(value: Iterable[str] | str | None, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        names: tuple[Any, ...] = (value,)
    elif isinstance(value, (list, tuple, set, frozenset)):
        names = tuple(sorted(value, key=repr)) if isinstance(value, (set, frozenset)) else tuple(value)
    else:
        raise ValueError(
            f"{what} must be a GL object kind or a list, tuple or set of them, not {type(value).__name__} "
            f"{value!r}; known: {', '.join(GL_KINDS)}"
        )
    if not names:
        raise ValueError(f"{what} is empty, so nothing would be checked; give None to check every kind")
    unknown = [name for name in names if not isinstance(name, str) or name not in GL_KINDS]
    if unknown:
        known = ", ".join(GL_KINDS)
        raise ValueError(f"{what}: unknown GL object kind(s) {tuple(unknown)!r}; known: {known}")
    return names


def no_gl_leak(
    *, kinds: Iterable[str] | str | None = None, allow: Mapping[str, int] | None = None
) -> GLLeakCheck:
    """no_gl_leak(kinds=None, allow=None): fail the test (status LEAKED) when GL objects it created in setup, call or teardown are still alive after teardown. kinds limits the check; allow maps kind -> count tolerated."""  # noqa: E501
    checked = _kinds(kinds, "kinds")
    allowed: dict[str, int] = {}
    if allow is not None:
        if not isinstance(allow, Mapping):
            raise ValueError(f"allow must be a mapping of kind -> count, not {allow!r}")
        if allow:
            _kinds(list(allow), "allow")
        for kind, count in allow.items():
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"allow[{kind!r}] must be a count of 0 or more, not {count!r}")
            allowed[kind] = count
    return GLLeakCheck(checked, allowed)


def no_image_leak(*, allow: int = 0, min_bytes: int | str | None = None) -> ImageLeakCheck:
    """no_image_leak(allow=0, min_bytes=65536): fail the test (status LEAKED) when decoded image buffers (Pillow images, NumPy arrays of min_bytes or more) created during it are still referenced after teardown."""  # noqa: E501
    if isinstance(allow, bool) or not isinstance(allow, int) or allow < 0:
        raise ValueError(f"allow must be a count of 0 or more, not {allow!r}")
    return ImageLeakCheck(allow, None if min_bytes is None else parse_bytes(min_bytes))


def max_memory_growth(limit: int | str, *, warmup: int = 3, repeat: int = 5) -> GrowthCheck:
    """max_memory_growth(limit, warmup=3, repeat=5): run the test body warmup+repeat times and fail when memory grows by more than limit (bytes, or e.g. "256 KiB") in every measured repetition."""  # noqa: E501
    for name, value, least in (("warmup", warmup, 0), ("repeat", repeat, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be a whole number of at least {least}, not {value!r}")
    return GrowthCheck(parse_bytes(limit), warmup, repeat)


def allow_gl_leak(reason: str) -> str:
    """allow_gl_leak(reason): opt this test out of the GL leak check of --glleak-mode=all."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError(f"reason must be a non-empty string, not {reason!r}")
    return reason


def allow_image_leak(reason: str) -> str:
    """allow_image_leak(reason): opt this test out of the image-buffer check of --glleak-mode=all."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError(f"reason must be a non-empty string, not {reason!r}")
    return reason


MARKERS = (no_gl_leak, no_image_leak, max_memory_growth, allow_gl_leak, allow_image_leak)


@dataclasses.dataclass(frozen=True)
class CheckPlan:
    """Which checks apply to one test, after markers and ``--glleak-mode``."""

    gl: GLLeakCheck | None = None
    images: ImageLeakCheck | None = None
    growth: GrowthCheck | None = None
    #: mode=all checks only tests that touched GL / images; marked checks always apply.
    gl_explicit: bool = False
    images_explicit: bool = False

    @property
    def active(self) -> bool:
        return self.gl is not None or self.images is not None or self.growth is not None


def _call(
    function: Any, item: pytest.Item, args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str = ""
) -> Any:
    try:
        return function(*args, **kwargs)
    except Exception as exc:  # any refusal of the arguments (OverflowError included) is the user's error
        arguments = ", ".join(
            [shown(arg) for arg in args] + [f"{key}={shown(value)}" for key, value in kwargs.items()]
        )
        raise pytest.UsageError(
            f"pytest-glleak: bad arguments to @pytest.mark.{function.__name__}({arguments}) on "
            f"{item.nodeid}{name}: {exc}"
        ) from None


def _merged(checks: list[Any]) -> Any:
    """One check from stacked markers of one name (``checks`` closest first); see :func:`plan_for`."""
    if len(checks) == 1:
        return checks[0]
    gl_checks: list[GLLeakCheck] = checks
    kinds: tuple[str, ...] | None = ()
    allow: dict[str, int] = {}
    for check in gl_checks:
        if kinds is not None:
            kinds = None if check.kinds is None else (*kinds, *(k for k in check.kinds if k not in kinds))
        for kind, count in check.allow.items():
            allow.setdefault(kind, count)  # the closest marker naming a kind sets its allowance
    return GLLeakCheck(kinds, allow)


def plan_for(item: pytest.Item, mode: str) -> CheckPlan:
    """Validate the item's glleak markers (a bad one is a UsageError naming the test) and plan its checks.

    Stacked markers (on the test, its class, its module) are all validated and merged:
    ``no_gl_leak`` checks the union of their ``kinds`` (a marker without ``kinds`` checks every kind)
    and takes each kind's ``allow`` count from the closest marker that names that kind; for the
    other markers, each argument comes from the closest marker that gives it (two ``max_memory_growth``
    limits: the closest wins).
    """
    found: dict[str, Any] = {}
    for function in MARKERS:
        # Closest first: the test's own markers, then its class's, then its module's.
        markers = list(item.iter_markers(function.__name__))
        checks = [_call(function, item, marker.args, marker.kwargs) for marker in markers]
        if len(checks) > 1 and function is not no_gl_leak:
            # Per argument, the closest marker that gives it wins.
            given: dict[str, Any] = {}
            for marker in reversed(markers):
                bound = inspect.signature(function).bind_partial(*marker.args, **marker.kwargs)
                given.update(bound.arguments)
            checks = [_call(function, item, (), given, " (stacked markers, merged)")]
        if checks:
            found[function.__name__] = _merged(checks)
    if mode == "off":
        return CheckPlan()
    gl = found.get("no_gl_leak")
    images = found.get("no_image_leak")
    gl_explicit, images_explicit = gl is not None, images is not None
    if mode == "all":
        if gl is None and "allow_gl_leak" not in found:
            gl = GLLeakCheck(None, {})
        if images is None and "allow_image_leak" not in found:
            images = ImageLeakCheck(0, None)
    return CheckPlan(gl, images, found.get("max_memory_growth"), gl_explicit, images_explicit)


def marker_lines() -> list[str]:
    """The ``markers`` ini lines (``pytest --markers`` text), from the marker functions' docstrings."""
    return [(function.__doc__ or "").strip().splitlines()[0] for function in MARKERS]
