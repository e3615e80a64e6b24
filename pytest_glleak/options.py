"""Every option of pytest-glleak, declared once, and the settings record they resolve into.

Each :class:`Option` names a setting in every layer (flag, ini key, environment variable), with its
default, parser and help text. This one table feeds ``pytest --help``, the ini registration, the
resolver (:mod:`pytest_glleak.settings`) and the README's options table (:mod:`pytest_glleak.docs`).
Pure data: no pytest import.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from pytest_glleak.values import (
    BACKENDS,
    MODES,
    PROFILES,
    choice,
    parse_auto_switch,
    parse_bool,
    parse_bytes,
    parse_fraction,
    parse_gl_version,
    parse_path,
    parse_positive_int,
    parse_size,
)


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
        choice(BACKENDS),
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
        choice(PROFILES),
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
        choice(MODES),
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
        "Also ask the driver (glIs*) about names around the ones the ledger saw, in the plugin's "
        "context and in contexts made during the test, to report objects no hooked binding created, "
        "with phase and bytes.",
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
        choice(("marked", "off")),
        "Watch NumPy's data allocations and tobytes() results during tests marked no_image_leak "
        "(NumPy's data-memory handler; tracemalloc on NumPy < 1.22), to also catch arrays derived by "
        "NumPy operations (about 0.2 ms per marked test); off keeps only the cheap check.",
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
        parse_path,
        "Write the leak report as JSON to PATH (atomically).",
        metavar="PATH",
    ),
    Option(
        "html",
        "--glleak-html",
        "glleak_html",
        "PYTEST_GLLEAK_HTML",
        None,
        parse_path,
        "Write a self-contained HTML leak report to PATH.",
        metavar="PATH",
    ),
    Option(
        "baseline",
        "--glleak-baseline",
        "glleak_baseline",
        "PYTEST_GLLEAK_BASELINE",
        None,
        parse_path,
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
        parse_path,
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
