"""The optional C accelerator is built where CI and the dev set-up need it, and can be switched off.

``.ci/setup`` builds ``pytest_glleak._speedups`` in place (editable install); CI must run the suite on it, so a
build that silently fell back to pure Python fails here when ``CI`` is set. ``PYTEST_GLLEAK_PURE_PYTHON=1``
(``tox -e purepython``) must turn it off (tests/e2e/test_pure_python_e2e.py: in pytester's runs too).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_glleak import speedups

# Read when this module is imported, as speedups.py reads it (the autouse fixture runs later).
PURE_PYTHON_REQUESTED = os.environ.get(speedups.PURE_PYTHON_VARIABLE, "") not in ("", "0")
IN_CI = bool(os.environ.get("CI"))
# _speedups.c stops with #error below CPython 3.11 (PyFrame_GetLasti, PyFrame_GetBack): pure Python there.
BUILDABLE = sys.implementation.name == "cpython" and sys.version_info >= (3, 11)


def _loaded_in_a_fresh_interpreter(pure_python: str | None) -> tuple[str, str]:
    """``repr(speedups.native)`` and ``speedups.why_pure`` in a new interpreter with the variable so set."""
    env = {k: v for k, v in os.environ.items() if k != speedups.PURE_PYTHON_VARIABLE}
    if pure_python is not None:
        env[speedups.PURE_PYTHON_VARIABLE] = pure_python
    code = "from pytest_glleak import speedups; print(repr(speedups.native)); print(speedups.why_pure)"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    native, why_pure = done.stdout.splitlines()
    return native, why_pure


@pytest.mark.skipif(PURE_PYTHON_REQUESTED, reason="PYTEST_GLLEAK_PURE_PYTHON is set: pure Python on purpose")
@pytest.mark.skipif(not BUILDABLE, reason="the C accelerator needs CPython 3.11+")
@pytest.mark.skipif(not IN_CI, reason="CI is not set (outside CI the accelerator may be missing)")
def test_ci_runs_the_suite_on_the_built_c_accelerator() -> None:
    assert speedups.native is not None, (
        f"pytest_glleak._speedups is not loaded ({speedups.why_pure}): CI would test only the pure-Python "
        "fallback. Install gcc and the Python headers and run `bash .ci/setup` (or "
        "`.venv/bin/python -m pip install -v -e .` to see the compiler's output)."
    )
    assert speedups.native.__name__ == "pytest_glleak._speedups"


def test_the_pure_python_variable_turns_the_accelerator_off() -> None:
    assert _loaded_in_a_fresh_interpreter("1") == ("None", "PYTEST_GLLEAK_PURE_PYTHON is set")


@pytest.mark.parametrize("value", [None, "", "0"], ids=["unset", "empty", "zero"])
def test_without_the_variable_the_accelerator_is_used_exactly_where_it_is_built(value: str | None) -> None:
    built = importlib.util.find_spec("pytest_glleak._speedups") is not None
    native, why_pure = _loaded_in_a_fresh_interpreter(value)
    if built:
        assert native.startswith("<module 'pytest_glleak._speedups' from "), native
        assert why_pure == ""
    else:
        assert native == "None"
        assert why_pure.startswith("not built ("), why_pure


def test_a_built_accelerator_is_not_older_than_its_source() -> None:
    # An in-place build (pip install -e .) keeps an old module when a changed _speedups.c no longer compiles
    # (the extension is optional): the suite would then test stale C code without a word.
    spec = importlib.util.find_spec("pytest_glleak._speedups")
    if spec is None or spec.origin is None:
        pytest.skip("the C accelerator is not built here")
    module = Path(spec.origin)
    source = module.with_name("_speedups.c")
    if not source.exists():
        pytest.skip("an installed wheel: no source next to the module")
    assert module.stat().st_mtime >= source.stat().st_mtime, (
        f"{module.name} is older than _speedups.c: rebuild it with `.venv/bin/python -m pip install -v -e .` "
        "(a compile error there leaves the old module in place)"
    )
