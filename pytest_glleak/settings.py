"""All settings of pytest-glleak, resolved in one place.

Precedence, highest first: marker > command line > environment > ini file > default. Each option is
declared once in :data:`OPTIONS` (flag, ini key, environment variable, default, help), and that one
table feeds ``pytest --help``, the ini registration and the README's options table.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

import pytest

BACKENDS = ("auto", "egl", "glfw")
PROFILES = ("core", "compat")
MODES = ("off", "marked", "all")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(text: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case)."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("expected one of 1/true/yes/on or 0/false/no/off")


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value

    return parse


def parse_gl_version(text: str) -> tuple[int, int] | None:
    """``"4.5"`` -> ``(4, 5)``; ``""`` or ``"newest"`` -> None (the newest the driver offers)."""
    value = text.strip().lower()
    if value in ("", "newest", "auto"):
        return None
    match = re.fullmatch(r"(\d+)\.(\d+)", value)
    if not match:
        raise ValueError("expected MAJOR.MINOR such as 4.5, or 'newest'")
    version = (int(match.group(1)), int(match.group(2)))
    if version < (3, 3) or version[0] > 4:
        raise ValueError("OpenGL versions from 3.3 to 4.6 are supported")
    return version


def parse_size(text: str) -> tuple[int, int]:
    """``"256x256"`` -> ``(256, 256)``."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match or not (0 < int(match.group(1)) <= 16384 and 0 < int(match.group(2)) <= 16384):
        raise ValueError("expected WIDTHxHEIGHT such as 256x256")
    return int(match.group(1)), int(match.group(2))


_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
}


def parse_bytes(value: str | int | float) -> int:
    """A byte count: an int, or a string such as ``"256 KiB"``, ``"1 MB"``, ``"65536"``."""
    if isinstance(value, bool):
        raise ValueError("expected a byte count, not a boolean")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a byte count cannot be negative")
        return int(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError("expected a byte count such as 65536, '256 KiB' or '1 MB'")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def parse_fraction(text: str) -> float:
    """``"10%"`` or ``"0.1"`` -> 0.1."""
    value = text.strip()
    try:
        number = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        raise ValueError("expected a fraction such as 0.1 or a percentage such as 10%") from None
    if number < 0:
        raise ValueError("a tolerance cannot be negative")
    return number


def parse_positive_int(text: str) -> int:
    try:
        number = int(text.strip())
    except ValueError:
        raise ValueError("expected a whole number") from None
    if number < 0:
        raise ValueError("expected a whole number of 0 or more")
    return number


def _path(text: str) -> str | None:
    return text.strip() or None


@dataclasses.dataclass(frozen=True)
class Option:
    """One setting: its names in every layer, its parser and its help text (shared by all layers)."""

    name: str
    flag: str
    ini: str | None
    env: str | None
    default: Any
    parse: Callable[[str], Any]
    help: str
    metavar: str | None = None
    #: "value" takes an argument; "flag" is a store_true switch; "toggle" gives --x / --no-x.
    kind: str = "value"
    negative_flag: str | None = None

    @property
    def default_text(self) -> str:
        if self.default is None:
            return "(none)"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, tuple):
            return "x".join(str(part) for part in self.default)
        return str(self.default)


OPTIONS: tuple[Option, ...] = (
    Option(
        "backend",
        "--glleak-backend",
        "glleak_backend",
        "PYTEST_GLLEAK_BACKEND",
        "auto",
        _choice(BACKENDS),
        "GL context backend: egl (headless), glfw (hidden window, needs a display) or auto (egl, then glfw).",
        metavar="auto|egl|glfw",
    ),
    Option(
        "gl_version",
        "--glleak-gl-version",
        "glleak_gl_version",
        "PYTEST_GLLEAK_GL_VERSION",
        None,
        parse_gl_version,
        "OpenGL version to request, e.g. 4.5 (default: the newest the driver offers, at least 3.3).",
        metavar="MAJOR.MINOR",
    ),
    Option(
        "profile",
        "--glleak-gl-profile",
        "glleak_gl_profile",
        "PYTEST_GLLEAK_GL_PROFILE",
        "core",
        _choice(PROFILES),
        "OpenGL profile of the gl_context fixture: core or compat.",
        metavar="core|compat",
    ),
    Option(
        "size",
        "--glleak-size",
        "glleak_size",
        "PYTEST_GLLEAK_SIZE",
        (256, 256),
        parse_size,
        "Size of the offscreen framebuffer of gl_context.",
        metavar="WxH",
    ),
    Option(
        "require_gl",
        "--glleak-require-gl",
        "glleak_require_gl",
        "PYTEST_GLLEAK_REQUIRE_GL",
        False,
        parse_bool,
        "Error, instead of skip, the tests that need GL when no context can be made "
        "(for CI that must not silently skip).",
        kind="flag",
    ),
    Option(
        "mode",
        "--glleak-mode",
        "glleak_mode",
        "PYTEST_GLLEAK_MODE",
        "marked",
        _choice(MODES),
        "Which tests are checked: off, marked (tests with a glleak marker) or all (every test "
        "that touched GL or images).",
        metavar="off|marked|all",
    ),
    Option(
        "cleanup",
        "--glleak-cleanup",
        "glleak_cleanup",
        "PYTEST_GLLEAK_CLEANUP",
        True,
        parse_bool,
        "After a verdict, delete the GL objects a test leaked so they do not pile up into later tests.",
        kind="toggle",
        negative_flag="--glleak-no-cleanup",
    ),
    Option(
        "driver_sweep",
        "--glleak-driver-sweep",
        "glleak_driver_sweep",
        "PYTEST_GLLEAK_DRIVER_SWEEP",
        False,
        parse_bool,
        "Also ask the driver (glIs*) about names around the ones the ledger saw, to "
        "report objects created outside PyOpenGL.",
        kind="flag",
    ),
    Option(
        "stack_depth",
        "--glleak-stack-depth",
        "glleak_stack_depth",
        "PYTEST_GLLEAK_STACK_DEPTH",
        6,
        parse_positive_int,
        "User-code frames kept per creation site (0 keeps none).",
        metavar="N",
    ),
    Option(
        "image_min_bytes",
        "--glleak-image-min-bytes",
        "glleak_image_min_bytes",
        "PYTEST_GLLEAK_IMAGE_MIN_BYTES",
        65536,
        parse_bytes,
        "Smallest NumPy array tracked as an image buffer (bytes, or e.g. '64 KiB').",
        metavar="BYTES",
    ),
    Option(
        "image_trace",
        "--glleak-image-trace",
        "glleak_image_trace",
        "PYTEST_GLLEAK_IMAGE_TRACE",
        "marked",
        _choice(("marked", "off")),
        "Run tracemalloc during tests marked no_image_leak, to also catch arrays derived by NumPy "
        "operations (about 1.5 ms per marked test); off keeps only the cheap check.",
        metavar="marked|off",
    ),
    Option(
        "strict_internal",
        "--glleak-strict-internal",
        "glleak_strict_internal",
        "PYTEST_GLLEAK_STRICT_INTERNAL",
        False,
        parse_bool,
        "Make a run whose tests passed exit with code 3 when pytest-glleak caught an error of its own "
        "(always reported as a warning in the terminal summary and counted in the JSON report).",
        kind="flag",
    ),
    Option(
        "report",
        "--glleak-report",
        "glleak_report",
        "PYTEST_GLLEAK_REPORT",
        False,
        parse_bool,
        "Print the per-test leak report after the run.",
        kind="flag",
    ),
    Option(
        "json",
        "--glleak-json",
        "glleak_json",
        "PYTEST_GLLEAK_JSON",
        None,
        _path,
        "Write the leak report as JSON to PATH (atomically).",
        metavar="PATH",
    ),
    Option(
        "html",
        "--glleak-html",
        "glleak_html",
        "PYTEST_GLLEAK_HTML",
        None,
        _path,
        "Write a self-contained HTML leak report to PATH.",
        metavar="PATH",
    ),
    Option(
        "baseline",
        "--glleak-baseline",
        "glleak_baseline",
        "PYTEST_GLLEAK_BASELINE",
        None,
        _path,
        "Known-leak baseline file: leaks recorded there pass; new or larger leaks fail.",
        metavar="PATH",
    ),
    Option(
        "baseline_update",
        "--glleak-baseline-update",
        None,
        None,
        False,
        parse_bool,
        "Rewrite the baseline file from this run (keeps entries of tests that did not run).",
        kind="flag",
    ),
    Option(
        "baseline_tolerance",
        "--glleak-baseline-tolerance",
        "glleak_baseline_tolerance",
        "PYTEST_GLLEAK_BASELINE_TOLERANCE",
        0.10,
        parse_fraction,
        "Tolerance on memory-growth figures compared with the baseline.",
        metavar="FRACTION",
    ),
)

OPTIONS_BY_NAME: Mapping[str, Option] = {option.name: option for option in OPTIONS}


@dataclasses.dataclass(frozen=True)
class Settings:
    """The resolved settings of a run; ``sources`` says which layer each value came from."""

    backend: str = "auto"
    gl_version: tuple[int, int] | None = None
    profile: str = "core"
    size: tuple[int, int] = (256, 256)
    require_gl: bool = False
    mode: str = "marked"
    cleanup: bool = True
    driver_sweep: bool = False
    stack_depth: int = 6
    image_min_bytes: int = 65536
    image_trace: str = "marked"
    strict_internal: bool = False
    report: bool = False
    json: str | None = None
    html: str | None = None
    baseline: str | None = None
    baseline_update: bool = False
    baseline_tolerance: float = 0.10
    sources: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False)


def add_options(parser: pytest.Parser) -> None:
    """Register every option as a flag and an ini key, from the one table."""
    group = parser.getgroup("glleak", "GL object and image-buffer leak checks (pytest-glleak)")
    for option in OPTIONS:
        where = f" [env {option.env}]" if option.env else ""
        help_text = f"{option.help} Default: {option.default_text}.{where}"
        # default=None everywhere: an absent flag must never mask the ini or environment value.
        if option.kind == "flag":
            group.addoption(
                option.flag,
                action="store_const",
                const="true",
                default=None,
                dest=f"glleak_{option.name}",
                help=help_text,
            )
        elif option.kind == "toggle":
            group.addoption(
                option.flag,
                action="store_const",
                const="true",
                default=None,
                dest=f"glleak_{option.name}",
                help=help_text,
            )
            assert option.negative_flag
            group.addoption(
                option.negative_flag,
                action="store_const",
                const="false",
                dest=f"glleak_{option.name}",
                help=f"Opposite of {option.flag}.",
            )
        else:
            group.addoption(
                option.flag,
                action="store",
                default=None,
                metavar=option.metavar,
                dest=f"glleak_{option.name}",
                help=help_text,
            )
        if option.ini:
            parser.addini(option.ini, help=f"{option.help} Default: {option.default_text}.", default=None)


def _raw_layers(
    option: Option,
    cli: Mapping[str, Any],
    environ: Mapping[str, str],
    ini: Callable[[str], Any],
) -> tuple[str, str] | None:
    value = cli.get(f"glleak_{option.name}")
    if value is not None:
        return str(value), f"command-line option {option.flag}"
    if option.env and environ.get(option.env, "") != "":
        return environ[option.env], f"environment variable {option.env}"
    if option.ini:
        raw = ini(option.ini)
        if raw is not None and str(raw).strip() != "":
            return str(raw), f"ini key {option.ini}"
    return None


def resolve(
    cli: Mapping[str, Any],
    environ: Mapping[str, str],
    ini: Callable[[str], Any],
) -> Settings:
    """Resolve every option through CLI > environment > ini > default.

    ``cli`` maps ``glleak_<name>`` to the parsed argument or None; ``ini`` returns an ini value or
    None. A malformed value raises :class:`pytest.UsageError` naming the value and where it came from.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        found = _raw_layers(option, cli, environ, ini)
        if found is None:
            values[option.name] = option.default
            sources[option.name] = "default"
            continue
        raw, source = found
        try:
            values[option.name] = option.parse(raw)
        except ValueError as exc:
            raise pytest.UsageError(f"pytest-glleak: invalid value {raw!r} for {source}: {exc}") from None
        sources[option.name] = source
    return Settings(**values, sources=sources)


def resolve_config(config: pytest.Config) -> Settings:
    """Resolve the settings of a pytest run (also works on the early config, before conftests)."""
    namespace = getattr(config, "known_args_namespace", None)
    cli = dict(vars(config.option))
    if namespace is not None:
        for key, value in vars(namespace).items():
            if key.startswith("glleak_") and cli.get(key) is None:
                cli[key] = value

    def ini(name: str) -> Any:
        return config.getini(name)

    return resolve(cli, os.environ, ini)


def with_marker(settings: Settings, overrides: Mapping[str, Any], source: str) -> Settings:
    """The marker layer: ``overrides`` (already validated) win over every other layer."""
    if not overrides:
        return settings
    sources = dict(settings.sources)
    sources.update({name: source for name in overrides})
    return dataclasses.replace(settings, **overrides, sources=sources)
