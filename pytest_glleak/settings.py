"""All settings of pytest-glleak, resolved in one place.

Precedence, highest first: marker > command line > environment > ini file > default. Each option is
declared once in :data:`OPTIONS` (flag, ini key, environment variable, default, help), and that one
table feeds ``pytest --help``, the ini registration and the README's options table.
"""

from __future__ import annotations

import dataclasses
import math
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

#: The OpenGL versions that exist from 3.3 on (the oldest with core profiles this plugin supports).
GL_VERSIONS: tuple[tuple[int, int], ...] = ((3, 3), *((4, minor) for minor in range(7)))

#: The largest byte count accepted anywhere (options, ini keys, marker arguments): 1 PiB.
MAX_BYTES = 2**50

#: The largest baseline tolerance: 100 (10000%).
MAX_TOLERANCE = 100.0

#: The largest creation-site depth (frames kept per site).
MAX_STACK_DEPTH = 1000


def parse_bool(text: str | bool) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case), or a TOML boolean."""
    if isinstance(text, bool):
        return text
    if not isinstance(text, str):
        raise ValueError("expected true or false")
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("expected one of 1/true/yes/on or 0/false/no/off")


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not isinstance(text, str):
            raise ValueError(f"expected one of {', '.join(choices)}")
        value = text.strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value

    return parse


def _versions_text() -> str:
    return ", ".join(f"{major}.{minor}" for major, minor in GL_VERSIONS)


def parse_gl_version(text: str | float | tuple[int, int] | list[int]) -> tuple[int, int] | None:
    """``"4.5"`` -> ``(4, 5)``; ``""`` or ``"newest"`` -> None (the newest the driver offers).

    Only versions that exist are accepted: 3.3 and 4.0 to 4.6 (see :data:`GL_VERSIONS`). A
    ``(major, minor)`` pair, or a TOML number such as ``4.5``, is checked the same way.
    """
    if isinstance(text, (tuple, list)):
        if len(text) != 2 or not all(isinstance(part, int) and not isinstance(part, bool) for part in text):
            raise ValueError(
                f"expected a (major, minor) pair of integers such as (4, 5); known: {_versions_text()}"
            )
        version = (int(text[0]), int(text[1]))
    else:
        if isinstance(text, float) and math.isfinite(text):
            text = repr(text)
        if not isinstance(text, str):
            raise ValueError(f"expected MAJOR.MINOR such as 4.5, or 'newest'; known: {_versions_text()}")
        value = text.strip().lower()
        if value in ("", "newest", "auto"):
            return None
        match = re.fullmatch(r"(\d)\.(\d)", value)
        if not match:
            raise ValueError(f"expected MAJOR.MINOR such as 4.5, or 'newest'; known: {_versions_text()}")
        version = (int(match.group(1)), int(match.group(2)))
    if version not in GL_VERSIONS:
        raise ValueError(
            f"there is no OpenGL version {version[0]}.{version[1]} this plugin can request; "
            f"expected one of {_versions_text()} or 'newest'"
        )
    return version


def parse_size(text: str) -> tuple[int, int]:
    """``"256x256"`` -> ``(256, 256)``."""
    match = re.fullmatch(r"\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*", text) if isinstance(text, str) else None
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
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1024**4,
}


def _bytes_text(count: int) -> str:
    return f"{count:,} bytes"


def parse_bytes(value: str | int | float) -> int:
    """A byte count: an int, or a string such as ``"256 KiB"``, ``"1 MB"``, ``"65536"``.

    Finite, from 0 to :data:`MAX_BYTES` (1 PiB); anything else raises ``ValueError`` (never
    ``OverflowError``).
    """
    if isinstance(value, bool):
        raise ValueError("expected a byte count, not a boolean")
    if isinstance(value, (int, float)):
        number: float | int = value
    else:
        match = re.fullmatch(r"\s*(\d{1,20}(?:\.\d{1,20})?)\s*([a-zA-Z]*)\s*", str(value))
        if not match or match.group(2).lower() not in _UNITS:
            too_long = re.fullmatch(r"\s*\d{21,}(?:\.\d*)?\s*[a-zA-Z]*\s*", str(value))
            if too_long:
                raise ValueError(f"a byte count must be at most 1 PiB ({_bytes_text(MAX_BYTES)})")
            raise ValueError("expected a byte count such as 65536, '256 KiB' or '1 MB'")
        number = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("a byte count must be a finite number")
    if number < 0:
        raise ValueError("a byte count cannot be negative")
    if number > MAX_BYTES:
        raise ValueError(f"a byte count must be at most 1 PiB ({_bytes_text(MAX_BYTES)})")
    return int(number)


def parse_fraction(text: str | float) -> float:
    """``"10%"`` or ``"0.1"`` -> 0.1; finite, from 0 to :data:`MAX_TOLERANCE` (10000%)."""
    if isinstance(text, bool):
        raise ValueError("expected a fraction such as 0.1 or a percentage such as 10%, not a boolean")
    if isinstance(text, (int, float)):
        number = float(text)
    else:
        value = str(text).strip()
        try:
            number = float(value[:-1]) / 100 if value.endswith("%") else float(value)
        except ValueError:
            raise ValueError("expected a fraction such as 0.1 or a percentage such as 10%") from None
    if not math.isfinite(number):
        raise ValueError("a tolerance must be a finite number")
    if number < 0:
        raise ValueError("a tolerance cannot be negative")
    if number > MAX_TOLERANCE:
        raise ValueError(f"a tolerance must be at most {MAX_TOLERANCE:g} ({MAX_TOLERANCE * 100:g}%)")
    return number


def parse_positive_int(text: str | int) -> int:
    """A whole number from 0 to :data:`MAX_STACK_DEPTH`."""
    if isinstance(text, bool):
        raise ValueError("expected a whole number, not a boolean")
    if isinstance(text, int):
        number = text
    else:
        if not isinstance(text, str) or not re.fullmatch(r"\s*[+-]?\d{1,12}\s*", text):
            raise ValueError("expected a whole number")
        number = int(text.strip())
    if not 0 <= number <= MAX_STACK_DEPTH:
        raise ValueError(f"expected a whole number from 0 to {MAX_STACK_DEPTH}")
    return number


def parse_auto_switch(text: str | bool) -> str:
    """``"auto"``, or a boolean as ``"on"`` / ``"off"`` (see :func:`parse_bool`)."""
    if isinstance(text, str) and text.strip().lower() == "auto":
        return "auto"
    try:
        return "on" if parse_bool(text) else "off"
    except ValueError:
        raise ValueError("expected auto, or one of 1/true/yes/on or 0/false/no/off") from None


def _path(text: str) -> str | None:
    if not isinstance(text, str):
        raise ValueError("expected a file path (a string)")
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
    #: Native TOML types the ini key also takes in pytest's ``[tool.pytest]`` table, besides strings
    #: (which every ini file format gives). Empty: strings only.
    ini_types: tuple[type, ...] = ()

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
        ini_types=(float,),
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
        ini_types=(bool,),
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
        ini_types=(bool,),
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
        ini_types=(bool,),
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
        ini_types=(int,),
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
        ini_types=(int,),
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
        ini_types=(bool,),
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
        ini_types=(bool,),
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
        ini_types=(float,),
    ),
    Option(
        "github_annotations",
        "--glleak-github-annotations",
        "glleak_github_annotations",
        "PYTEST_GLLEAK_GITHUB_ANNOTATIONS",
        "auto",
        parse_auto_switch,
        "Print GitHub Actions error annotations at each leak's creation site and append a markdown "
        "summary to $GITHUB_STEP_SUMMARY; auto: when GITHUB_ACTIONS=true.",
        kind="toggle",
        negative_flag="--glleak-no-github-annotations",
        ini_types=(bool,),
    ),
    Option(
        "codequality",
        "--glleak-codequality",
        "glleak_codequality",
        "PYTEST_GLLEAK_CODEQUALITY",
        None,
        _path,
        "Write a GitLab Code Quality report (JSON) of the leak sites to PATH.",
        metavar="PATH",
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
    github_annotations: str = "auto"
    codequality: str | None = None
    sources: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False)


def add_options(parser: pytest.Parser) -> None:
    """Register every option as a flag and an ini key, from the one table."""
    group = parser.getgroup("glleak", "GL object and image-buffer leak checks (pytest-glleak)")
    for option in OPTIONS:
        where = f" [env {option.env}]" if option.env else ""
        help_text = f"{option.help} Default: {option.default_text}.{where}"
        # default=None everywhere: an absent flag must never mask the ini or environment value.
        if option.kind in ("flag", "toggle"):
            group.addoption(
                option.flag,
                action="store_const",
                const="true",
                default=None,
                dest=f"glleak_{option.name}",
                help=help_text,
            )
        if option.kind == "toggle":
            assert option.negative_flag
            group.addoption(
                option.negative_flag,
                action="store_const",
                const="false",
                dest=f"glleak_{option.name}",
                help=f"Opposite of {option.flag}.",
            )
        if option.kind == "value":
            group.addoption(
                option.flag,
                action="store",
                default=None,
                metavar=option.metavar,
                dest=f"glleak_{option.name}",
                help=help_text,
            )
        if option.ini:
            parser.addini(
                option.ini,
                help=f"{option.help} Default: {option.default_text}.",
                type=ini_type(option),
                default=None,
            )


def ini_type(option: Option, version: tuple[int | str, ...] | None = None) -> Any:
    """The ``type`` of ``parser.addini`` for an option, as the running pytest supports it.

    pytest 9.2 takes unions: ``str | bool`` keeps ini-file strings as written (they go through our
    parser) and lets ``[tool.pytest]`` hold a native TOML value. Older pytest: a pure boolean or integer
    key gets its own type (``bool`` since pytest 8, ``int`` since 8.4); keys that also take text, such as
    ``"64 KiB"``, stay strings.
    """
    version = tuple(pytest.version_tuple) if version is None else version
    numbers = tuple(part for part in version[:2] if isinstance(part, int))
    if not option.ini_types:
        return "string"
    if numbers >= (9, 2):
        declared: Any = str
        for member in option.ini_types:
            declared = declared | member
        return declared
    if option.ini_types == (bool,):
        return "bool"
    if option.ini_types == (int,) and option.parse is parse_positive_int and numbers >= (8, 4):
        return "int"
    return "string"


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters so a runaway value cannot flood an error message."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 12]}...({len(text):,} chars)"


def _raw_layers(
    option: Option,
    cli: Mapping[str, Any],
    environ: Mapping[str, str],
    ini: Callable[[str], Any],
) -> tuple[Any, str] | None:
    value = cli.get(f"glleak_{option.name}")
    if value is not None:
        return str(value), f"command-line option {option.flag}"
    if option.env and environ.get(option.env, "") != "":
        return environ[option.env], f"environment variable {option.env}"
    if option.ini:
        try:
            raw = ini(option.ini)
        except (pytest.UsageError, TypeError, ValueError) as exc:
            # pytest refuses a value of the wrong TOML type before we see it; say which key it was.
            raise pytest.UsageError(f"pytest-glleak: invalid value for ini key {option.ini}: {exc}") from None
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            return None
        return raw, f"ini key {option.ini}"
    return None


def resolve(
    cli: Mapping[str, Any],
    environ: Mapping[str, str],
    ini: Callable[[str], Any],
) -> Settings:
    """Resolve every option through CLI > environment > ini > default.

    ``cli`` maps ``glleak_<name>`` to the parsed argument or None; ``ini`` returns an ini value (a
    string, or a native bool/int/float from pytest's ``[tool.pytest]`` TOML table) or None. Every value,
    whatever its layer or type, goes through the option's one parser; a malformed one raises
    :class:`pytest.UsageError` naming the value and where it came from.
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
        except (ValueError, TypeError, OverflowError) as exc:
            message = f"pytest-glleak: invalid value {shown(raw)} for {source}: {exc}"
            raise pytest.UsageError(message) from None
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
