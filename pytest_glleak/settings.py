"""All settings of pytest-glleak, resolved in one place.

Precedence, highest first: marker > command line > environment > ini file > default. Each option is
declared once in :data:`~pytest_glleak.options.OPTIONS` (flag, ini key, environment variable, default,
help), and that one table feeds ``pytest --help``, the ini registration and the README's options table.
This module is the pytest glue: it registers the options and resolves them, turning a bad value into a
usage error that names the value and its source. The table lives in :mod:`pytest_glleak.options`, the
parsers in :mod:`pytest_glleak.values`; both are re-exported here.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from pytest_glleak.options import OPTIONS, OPTIONS_BY_NAME, Option, Settings
from pytest_glleak.values import (
    BACKENDS,
    GL_VERSIONS,
    MAX_BYTES,
    MAX_STACK_DEPTH,
    MAX_TOLERANCE,
    MODES,
    PROFILES,
    parse_auto_switch,
    parse_bool,
    parse_bytes,
    parse_fraction,
    parse_gl_version,
    parse_positive_int,
    parse_size,
    shown,
)

__all__ = [
    "BACKENDS",
    "GL_VERSIONS",
    "MAX_BYTES",
    "MAX_STACK_DEPTH",
    "MAX_TOLERANCE",
    "MODES",
    "OPTIONS",
    "OPTIONS_BY_NAME",
    "PROFILES",
    "Option",
    "Settings",
    "add_options",
    "ini_type",
    "parse_auto_switch",
    "parse_bool",
    "parse_bytes",
    "parse_fraction",
    "parse_gl_version",
    "parse_positive_int",
    "parse_size",
    "resolve",
    "resolve_config",
    "shown",
    "with_marker",
]


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
