"""The one settings resolver: every layer, its precedence, and clear errors for bad values."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_glleak import settings
from pytest_glleak.settings import OPTIONS, parse_bytes, parse_gl_version, parse_size, resolve


def _resolve(
    cli: dict[str, Any] | None = None, env: dict[str, str] | None = None, ini: dict[str, str] | None = None
) -> settings.Settings:
    ini = ini or {}
    return resolve(cli or {}, env or {}, ini.get)


def test_defaults() -> None:
    resolved = _resolve()
    assert resolved.backend == "auto" and resolved.mode == "marked" and resolved.profile == "core"
    assert resolved.require_gl is False and resolved.cleanup is True and resolved.report is False
    assert resolved.size == (256, 256) and resolved.gl_version is None
    assert resolved.image_min_bytes == 65536 and resolved.baseline_tolerance == pytest.approx(0.10)
    assert set(resolved.sources.values()) == {"default"}


@pytest.mark.parametrize(
    ("cli", "env", "ini", "expected", "source"),
    [
        ({}, {}, {"glleak_backend": "glfw"}, "glfw", "ini key glleak_backend"),
        (
            {},
            {"PYTEST_GLLEAK_BACKEND": "egl"},
            {"glleak_backend": "glfw"},
            "egl",
            "environment variable PYTEST_GLLEAK_BACKEND",
        ),
        (
            {"glleak_backend": "glfw"},
            {"PYTEST_GLLEAK_BACKEND": "egl"},
            {"glleak_backend": "auto"},
            "glfw",
            "command-line option --glleak-backend",
        ),
    ],
)
def test_precedence_cli_over_env_over_ini(
    cli: dict[str, Any], env: dict[str, str], ini: dict[str, str], expected: str, source: str
) -> None:
    resolved = _resolve(cli, env, ini)
    assert resolved.backend == expected
    assert resolved.sources["backend"] == source


def test_absent_flag_never_masks_ini_or_env() -> None:
    # store_const flags default to None, so "not given" falls through to the lower layers.
    assert _resolve({"glleak_require_gl": None}, {}, {"glleak_require_gl": "true"}).require_gl is True
    assert _resolve({"glleak_report": None}, {"PYTEST_GLLEAK_REPORT": "1"}, {}).report is True
    assert _resolve({"glleak_cleanup": "false"}, {}, {"glleak_cleanup": "true"}).cleanup is False
    assert _resolve({}, {}, {"glleak_cleanup": "no"}).cleanup is False


def test_empty_values_fall_through() -> None:
    assert _resolve({}, {"PYTEST_GLLEAK_MODE": ""}, {"glleak_mode": "all"}).mode == "all"


def test_marker_layer_wins() -> None:
    resolved = _resolve({"glleak_image_min_bytes": "1024"})
    marked = settings.with_marker(resolved, {"image_min_bytes": 10}, "marker no_image_leak on t")
    assert marked.image_min_bytes == 10 and marked.sources["image_min_bytes"] == "marker no_image_leak on t"
    assert settings.with_marker(resolved, {}, "unused") is resolved


@pytest.mark.parametrize(
    ("layer", "expected_source"),
    [
        ({"cli": {"glleak_backend": "vulkan"}}, "command-line option --glleak-backend"),
        ({"env": {"PYTEST_GLLEAK_BACKEND": "vulkan"}}, "environment variable PYTEST_GLLEAK_BACKEND"),
        ({"ini": {"glleak_backend": "vulkan"}}, "ini key glleak_backend"),
    ],
)
def test_bad_value_is_a_usage_error_naming_value_and_source(
    layer: dict[str, dict[str, str]], expected_source: str
) -> None:
    with pytest.raises(pytest.UsageError) as info:
        _resolve(layer.get("cli"), layer.get("env"), layer.get("ini"))
    assert "'vulkan'" in str(info.value) and expected_source in str(info.value)
    assert "auto, egl, glfw" in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("65536", 65536), ("256 KiB", 262144), ("1 MB", 1_000_000), ("1MiB", 1048576), ("1.5 kb", 1500), (7, 7)],
)
def test_parse_bytes(text: str | int, expected: int) -> None:
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "-1", "5 parsecs", True])
def test_parse_bytes_rejects(text: Any) -> None:
    with pytest.raises(ValueError):
        parse_bytes(text)


def test_parse_gl_version_and_size() -> None:
    assert parse_gl_version("4.5") == (4, 5) and parse_gl_version("newest") is None
    for bad in ("3.0", "5.0", "four"):
        with pytest.raises(ValueError):
            parse_gl_version(bad)
    assert parse_size("640x480") == (640, 480)
    with pytest.raises(ValueError):
        parse_size("640")


def test_every_option_has_all_its_names() -> None:
    flags = [option.flag for option in OPTIONS]
    assert len(set(flags)) == len(flags)
    for option in OPTIONS:
        assert option.flag.startswith("--glleak-")
        assert option.ini is None or option.ini == "glleak_" + option.flag[len("--glleak-") :].replace(
            "-", "_"
        )
        assert (
            option.env is None or option.env == "PYTEST_GLLEAK_" + option.flag[9:].replace("-", "_").upper()
        )
        assert option.help.endswith(".")
