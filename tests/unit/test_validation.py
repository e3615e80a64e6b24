"""Validation over the whole domain of every value (issue 10): a bad value is a usage error (exit 4)
naming the value and where it came from, never an OverflowError, an INTERNALERROR or a silent skip.
Also the typed ini keys of pytest's native ``[tool.pytest]`` TOML table."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from pytest_glleak import marks, settings
from pytest_glleak.findings import GL_KINDS
from pytest_glleak.report.baseline import LEAK_KINDS, BaselineError, load_baseline
from pytest_glleak.settings import (
    GL_VERSIONS,
    MAX_BYTES,
    OPTIONS_BY_NAME,
    parse_bytes,
    parse_fraction,
    parse_gl_version,
    parse_positive_int,
    resolve,
)

HUGE = "1" + "0" * 400


# --- pure parsers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [HUGE, HUGE + " KiB", float("inf"), float("-inf"), float("nan"), 1e309, 10**400, -1, -0.5, MAX_BYTES + 1,
     "1025 TiB", "2000000 GB", "inf", "nan", "1e309", "-5", True],
)  # fmt: skip
def test_parse_bytes_refuses_everything_outside_0_to_1_pib(value: Any) -> None:
    with pytest.raises(ValueError) as caught:
        parse_bytes(value)
    assert type(caught.value) is ValueError  # never OverflowError


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), (MAX_BYTES, MAX_BYTES), ("1024 TiB", MAX_BYTES), (65536.0, 65536), ("2 GiB", 2 * 1024**3)],
)
def test_parse_bytes_accepts_the_bounds(value: Any, expected: int) -> None:
    assert parse_bytes(value) == expected


@pytest.mark.parametrize(
    "value", ["nan", "inf", "-inf", "1e309", float("nan"), float("inf"), "-1%", "10001%", 101, True]
)
def test_parse_fraction_refuses_non_finite_negative_and_absurd(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_fraction(value)


def test_parse_fraction_accepts_numbers_and_percentages() -> None:
    assert parse_fraction("10%") == pytest.approx(0.1)
    assert parse_fraction(0.25) == pytest.approx(0.25) and parse_fraction(0) == 0
    assert parse_fraction("10000%") == pytest.approx(100.0)
    assert math.isfinite(parse_fraction("1e2"))


@pytest.mark.parametrize(
    "value",
    [
        "4.9",
        "3.9",
        "4.06",
        "4.7",
        "3.2",
        "5.0",
        "2.1",
        "40.1",
        (4, 9),
        (3, 0),
        [4],
        (4, "5"),
        (True, 5),
        4.7,
        float("nan"),
        45,
    ],
)
def test_parse_gl_version_accepts_only_versions_that_exist(value: Any) -> None:
    with pytest.raises(ValueError, match=r"4\.6"):
        parse_gl_version(value)


def test_parse_gl_version_every_real_version() -> None:
    assert GL_VERSIONS == ((3, 3), (4, 0), (4, 1), (4, 2), (4, 3), (4, 4), (4, 5), (4, 6))
    for major, minor in GL_VERSIONS:
        assert parse_gl_version(f"{major}.{minor}") == (major, minor)
        assert parse_gl_version((major, minor)) == (major, minor)
        assert parse_gl_version(float(f"{major}.{minor}")) == (major, minor)
    assert parse_gl_version("newest") is None and parse_gl_version(" ") is None


@pytest.mark.parametrize("value", ["-1", "1001", HUGE, "1.5", 10**400, True])
def test_stack_depth_is_bounded(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_positive_int(value)


# --- every layer names the value and its source ---------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("image_min_bytes", HUGE, "at most 1 PiB"),
        ("image_min_bytes", "-5", "expected a byte count"),
        ("baseline_tolerance", "nan", "finite"),
        ("baseline_tolerance", "inf", "finite"),
        ("baseline_tolerance", "1e309", "finite"),
        ("gl_version", "4.9", "no OpenGL version 4.9"),
        ("gl_version", "4.06", "expected MAJOR.MINOR"),
        ("stack_depth", HUGE, "whole number"),
    ],
)
@pytest.mark.parametrize("layer", ["cli", "env", "ini"])
def test_every_layer_refuses_with_value_and_source(layer: str, option: str, value: str, problem: str) -> None:
    declared = OPTIONS_BY_NAME[option]
    cli, env, ini = {}, {}, {}
    if layer == "cli":
        cli[f"glleak_{option}"], source = value, f"command-line option {declared.flag}"
    elif layer == "env":
        assert declared.env
        env[declared.env], source = value, f"environment variable {declared.env}"
    else:
        assert declared.ini
        ini[declared.ini], source = value, f"ini key {declared.ini}"
    with pytest.raises(pytest.UsageError) as caught:
        resolve(cli, env, ini.get)
    message = str(caught.value)
    assert source in message and problem in message
    assert repr(value)[:40] in message and len(message) < 400  # a runaway value is cut short


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("report", True, True),
        ("cleanup", False, False),
        ("stack_depth", 12, 12),
        ("image_min_bytes", 1024, 1024),
        ("baseline_tolerance", 0.5, 0.5),
        ("gl_version", 4.5, (4, 5)),
    ],
)
def test_native_ini_values_resolve_through_the_same_parsers(key: str, value: Any, expected: Any) -> None:
    ini = {f"glleak_{key}": value}
    resolved = resolve({}, {}, ini.get)
    assert getattr(resolved, key) == expected and resolved.sources[key] == f"ini key glleak_{key}"


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("image_min_bytes", -5, "cannot be negative"),
        ("image_min_bytes", 2**60, "at most 1 PiB"),
        ("baseline_tolerance", float("nan"), "finite"),
        ("mode", 3, "off, marked, all"),
        ("report", 3, "true or false"),
        ("gl_version", 4.9, "no OpenGL version 4.9"),
        ("json", 5, "file path"),
    ],
)
def test_bad_native_ini_values_are_usage_errors(key: str, value: Any, problem: str) -> None:
    ini = {f"glleak_{key}": value}
    with pytest.raises(pytest.UsageError) as caught:
        resolve({}, {}, ini.get)
    assert f"ini key glleak_{key}" in str(caught.value) and problem in str(caught.value)


def test_pytests_own_ini_type_error_names_the_key() -> None:
    def ini(name: str) -> Any:
        if name == "glleak_mode":
            raise pytest.UsageError(
                "pyproject.toml: config option 'glleak_mode' expects a string, got int: 3"
            )
        return None

    with pytest.raises(pytest.UsageError, match=r"invalid value for ini key glleak_mode: .*got int: 3"):
        resolve({}, {}, ini)


@pytest.mark.parametrize(
    ("version", "option", "expected"),
    [
        ((9, 2, 0), "report", str | bool),
        ((9, 2, 0), "image_min_bytes", str | int),
        ((9, 2, 0), "baseline_tolerance", str | float),
        ((9, 2, 0), "mode", "string"),
        ((9, 1, 0), "report", "bool"),
        ((9, 1, 0), "stack_depth", "int"),
        ((9, 1, 0), "image_min_bytes", "string"),
        ((8, 3, 5), "stack_depth", "string"),
        ((8, 0, 0), "cleanup", "bool"),
    ],
)
def test_ini_types_follow_what_the_running_pytest_supports(
    version: tuple[int, ...], option: str, expected: Any
) -> None:
    assert settings.ini_type(OPTIONS_BY_NAME[option], version) == expected


# --- markers -------------------------------------------------------------------------------------


def test_marker_validation() -> None:
    assert marks.no_gl_leak(allow={}).allow == {}
    assert marks.no_gl_leak(kinds={"texture", "buffer"}).kinds == ("buffer", "texture")
    for kinds in ({"texture": 1}, 3, iter(["texture"]), [], ["texture", 5], "bogus"):
        with pytest.raises(ValueError):
            marks.no_gl_leak(kinds=kinds)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        marks.max_memory_growth(float("inf"))
    with pytest.raises(ValueError, match="1 PiB"):
        marks.no_image_leak(min_bytes=HUGE)


# --- baseline kinds -------------------------------------------------------------------------------


def test_leak_kinds_of_a_baseline() -> None:
    assert set(GL_KINDS) <= LEAK_KINDS
    assert {"pil_image", "ndarray", "bytes", "pillow_blocks"} <= LEAK_KINDS
    assert "bogus" not in LEAK_KINDS


BOGUS_BASELINE = (
    b'{"format": "pytest-glleak-baseline", "format_version": 1, "environment": {},\n'
    b' "tests": {"test_b.py::test_b": {"leaks": [{"kind": "bogus", "site": "test_b.py:2 in test_b", '
    b'"count": 1}]}}}\n'
)


def test_a_baseline_leak_of_an_unknown_kind_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    path.write_bytes(BOGUS_BASELINE)
    with pytest.raises(BaselineError) as caught:
        load_baseline(path)
    assert str(path) in str(caught.value)
    assert "tests['test_b.py::test_b'].leaks[0].kind 'bogus' is not a known leak kind" in str(caught.value)
    assert path.read_bytes() == BOGUS_BASELINE
