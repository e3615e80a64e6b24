"""pytest-glleak's entry point (``pytest11: glleak``): options, markers, fixtures, report header.

Thin glue: measurement lives in ``gl/``, ``ledger``, ``images`` and ``memory``; verdicts in ``checks``;
output in ``report``. State lives in ``config.stash``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from typing import Any

import pytest

from pytest_glleak import settings as settings_module
from pytest_glleak.gl import (
    ContextUnavailable,
    GLContext,
    PlatformMismatch,
    choose_pyopengl_platform,
    pyopengl_platform,
)
from pytest_glleak.gl.provider import ContextProvider
from pytest_glleak.settings import Settings

settings_key = pytest.StashKey[Settings]()
provider_key = pytest.StashKey[ContextProvider]()


def pytest_addoption(parser: pytest.Parser) -> None:
    settings_module.add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    # PyOpenGL fixes its platform at the first `import OpenGL.GL`; conftests may do that, so the
    # platform is chosen here, before any of them is imported.
    resolved = settings_module.resolve_config(early_config)
    choose_pyopengl_platform(resolved.backend)


def pytest_configure(config: pytest.Config) -> None:
    resolved = settings_module.resolve_config(config)
    config.stash[settings_key] = resolved
    choose_pyopengl_platform(resolved.backend)
    config.stash[provider_key] = ContextProvider(
        resolved.backend, resolved.profile, resolved.gl_version, resolved.size
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    provider = config.stash.get(provider_key, None)
    if provider is not None:
        provider.close()
        del config.stash[provider_key]


def pytest_report_header(config: pytest.Config) -> str:
    provider = config.stash[provider_key]
    resolved = config.stash[settings_key]
    prefix = f"glleak: mode={resolved.mode}, PyOpenGL platform={pyopengl_platform() or 'default'}"
    try:
        context = provider.get()
    except ContextUnavailable as exc:
        return f"{prefix}, no GL context: {exc}"
    return f"{prefix}, {context.describe()}"


def _unavailable(config: pytest.Config, reason: ContextUnavailable) -> None:
    message = f"pytest-glleak: {reason}"
    if isinstance(reason, PlatformMismatch) or config.stash[settings_key].require_gl:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def gl_context(pytestconfig: pytest.Config) -> GLContext:
    """An offscreen OpenGL context, current in the test's thread (one per process / xdist worker).

    Headless EGL by default (device platform, then Mesa surfaceless), or a hidden glfw window; see
    ``--glleak-backend``. Between tests the plugin makes it current again and resets its state (nothing
    bound, error flags drained). Tests that use it are skipped, with the reason and an install hint, when
    no context can be made, or error with ``--glleak-require-gl``.
    """
    provider = pytestconfig.stash[provider_key]
    try:
        context = provider.get()
    except ContextUnavailable as exc:
        _unavailable(pytestconfig, exc)
        raise  # unreachable: skip/fail raise
    context.make_current()
    return context


@pytest.fixture
def gl_context_factory(
    pytestconfig: pytest.Config,
) -> Generator[Callable[..., GLContext], None, None]:
    """Create extra contexts: ``gl_context_factory(share_with=None, profile=None, version=None)``.

    Each returned context has the ``gl_context`` interface and is current on return.
    ``share_with=gl_context`` shares objects with it; ``profile="compat"`` gives a compatibility context.
    All of them are destroyed at the end of the test, and ``gl_context`` is current again.
    """
    provider = pytestconfig.stash[provider_key]

    def factory(
        share_with: GLContext | None = None,
        profile: str | None = None,
        version: str | tuple[int, int] | None = None,
    ) -> GLContext:
        if profile is not None and profile not in settings_module.PROFILES:
            raise ValueError(f"gl_context_factory: profile must be 'core' or 'compat', not {profile!r}")
        parsed = settings_module.parse_gl_version(version) if isinstance(version, str) else version
        try:
            return provider.create_extra(share_with=share_with, profile=profile, version=parsed)
        except ContextUnavailable as exc:
            _unavailable(pytestconfig, exc)
            raise

    yield factory
    provider.destroy_extra()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.config.stash[provider_key].restore()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, Any, Any]:
    try:
        return (yield)
    finally:
        provider = item.config.stash[provider_key]
        provider.destroy_extra()
        if provider.context is not None:
            provider.context.make_current()


__all__ = ["gl_context", "gl_context_factory", "os"]
