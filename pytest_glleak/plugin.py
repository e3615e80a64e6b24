"""pytest-glleak's entry point (``pytest11: glleak``): options, markers, fixtures, report header.

Thin glue: measurement lives in ``gl/``, ``ledger``, ``images`` and ``memory``; the per-test protocol and
verdicts in ``runner``; output in ``report/``. State lives in ``config.stash``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Generator
from typing import Any

import pytest

from pytest_glleak import hooks, marks, speedups
from pytest_glleak import settings as settings_module
from pytest_glleak.errors import PASS_THROUGH, InternalErrors, UnsupportedDependency, plugin_error
from pytest_glleak.gl import (
    ContextUnavailable,
    GLContext,
    PlatformMismatch,
    choose_pyopengl_platform,
    pyopengl_platform,
)
from pytest_glleak.gl.provider import ContextProvider
from pytest_glleak.heap import ImageTracker
from pytest_glleak.heap.diagnose import DiagnosingBaseline
from pytest_glleak.ledger import Ledger, LedgerView
from pytest_glleak.report import outputs
from pytest_glleak.report.baseline import Baseline, BaselineError, load_baseline
from pytest_glleak.report.collector import (
    CIOutputs,
    ReportCollector,
    XdistHooks,
    environment,
    report_header_lines,
)
from pytest_glleak.report.growth_text import format_growth_sites
from pytest_glleak.runner import CheckRunner, state_key
from pytest_glleak.settings import Settings, parse_bytes

settings_key = pytest.StashKey[Settings]()
provider_key = pytest.StashKey[ContextProvider]()
ledger_key = pytest.StashKey[Ledger]()
moderngl_key = pytest.StashKey[Any]()
images_key = pytest.StashKey[ImageTracker]()
baseline_key = pytest.StashKey[Baseline | None]()
internal_key = pytest.StashKey[InternalErrors]()

_PLUGIN_NAMES = ("glleak-runner", "glleak-report", "glleak-xdist", "glleak-ci")


class GLContextRecreatedWarning(pytest.PytestWarning):
    """The session's GL context was destroyed or made unusable by foreign code, and made anew."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


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
    if not hasattr(config, "workerinput"):  # only the controller writes files
        problems = outputs.settings_problems(resolved, {"--junitxml": config.getoption("xmlpath", None)})
        if problems:
            raise pytest.UsageError("\n".join(f"pytest-glleak: {problem}" for problem in problems))
    config.stash[settings_key] = resolved
    for line in marks.marker_lines():
        config.addinivalue_line("markers", line)
    choose_pyopengl_platform(resolved.backend)
    provider = ContextProvider(resolved.backend, resolved.profile, resolved.gl_version, resolved.size)
    config.stash[provider_key] = provider
    try:
        baseline = (
            load_baseline(resolved.baseline, resolved.baseline_tolerance, root=str(config.rootpath))
            if resolved.baseline
            else None
        )
    except BaselineError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[baseline_key] = baseline

    ledger = Ledger(stack_depth=resolved.stack_depth)
    provider.on_create.append(ledger.attach_context)
    provider.on_destroy.append(ledger.detach_context)
    images = ImageTracker(stack_depth=resolved.stack_depth)
    config.stash[ledger_key] = ledger
    config.stash[images_key] = images
    if resolved.mode != "off":
        try:
            images.install()
        except UnsupportedDependency as exc:
            raise pytest.UsageError(str(exc)) from None
        ledger.install()
        config.add_cleanup(images.uninstall)
        config.add_cleanup(ledger.uninstall)
    internal = InternalErrors()
    config.stash[internal_key] = internal
    config.pluginmanager.register(
        CheckRunner(config, resolved, provider, ledger, images, baseline, internal), "glleak-runner"
    )
    collector = ReportCollector(config, resolved, provider, baseline, internal)
    config.pluginmanager.register(collector, "glleak-report")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(collector), "glleak-xdist")
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(CIOutputs(config, resolved, collector.document, internal), "glleak-ci")


def pytest_unconfigure(config: pytest.Config) -> None:
    provider = config.stash.get(provider_key, None)
    if provider is not None:
        provider.close()
        del config.stash[provider_key]
    for name in _PLUGIN_NAMES:
        plugin = config.pluginmanager.get_plugin(name)
        if plugin is not None:
            config.pluginmanager.unregister(plugin)


def pytest_report_header(config: pytest.Config) -> list[str]:
    provider = config.stash[provider_key]
    resolved = config.stash[settings_key]
    prefix = f"glleak: mode={resolved.mode}, PyOpenGL platform={pyopengl_platform() or 'default'}"
    try:
        context = provider.get()
    except ContextUnavailable as exc:
        lines = [f"{prefix}, no GL context: {exc}"]
    else:
        lines = [f"{prefix}, {context.describe()}"]
    if speedups.native is None:
        lines.append(f"glleak: recording in pure Python, without the C accelerator ({speedups.why_pure})")
    env = environment(config, provider, resolved)
    return lines + report_header_lines(resolved, config.stash[baseline_key], env)


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

    When foreign code destroys the context, terminates its EGL display or calls ``glfw.terminate()``, the
    test that did so gets one error saying so, and the plugin makes a new native context inside this same
    object (``native_handle``, ``framebuffer`` and ``share_group`` change) for the next tests.
    """
    provider = pytestconfig.stash[provider_key]
    try:
        context = provider.get()
    except ContextUnavailable as exc:
        _unavailable(pytestconfig, exc)
        raise  # unreachable: skip() and fail() raise
    provider.make_current()
    return context


@pytest.fixture(scope="session")
def moderngl_context(pytestconfig: pytest.Config, gl_context: GLContext) -> Any:
    """A ``moderngl.Context`` on ``gl_context``: same scope, same context, same reset between tests.

    One ``moderngl.Context`` per process, made with ``moderngl.create_context(context=loader)`` over the
    plugin's context (its own ``getProcAddress``), so it works in every test, however many ask for it
    (a bare ``moderngl.create_context()`` remembers its first context and fails on later calls);
    ``moderngl.get_context()`` returns it too. Objects
    made through it are in the ledger with their creation line like PyOpenGL ones; its ``fbo`` draws to
    ``gl_context.framebuffer``. Do not ``release()`` it: the plugin owns the context. Skipped, with the
    reason, when moderngl is not installed (``pip install pytest-glleak[bindings]``).
    """
    moderngl = pytest.importorskip(
        "moderngl", reason="moderngl_context needs moderngl (pytest-glleak[bindings])"
    )
    from pytest_glleak.gl.moderngl_loader import ContextLoader

    cached = pytestconfig.stash.get(moderngl_key, None)
    if cached is not None and cached[0] is gl_context:
        return cached[1]
    ledger = pytestconfig.stash[ledger_key]
    if ledger.installed:
        ledger.hook_bindings()  # moderngl was imported just now
    pytestconfig.stash[provider_key].make_current()
    context = moderngl.create_context(context=ContextLoader(gl_context), require=330)
    context.fbo = context.detect_framebuffer(gl_context.framebuffer)
    context.mglo.fbo = context.fbo.mglo
    pytestconfig.stash[moderngl_key] = (gl_context, context)
    return context


@pytest.fixture
def gl_context_factory(
    pytestconfig: pytest.Config,
) -> Generator[Callable[..., GLContext], None, None]:
    """Create extra contexts: ``gl_context_factory(share_with=None, profile=None, version=None)``.

    Each returned context has the ``gl_context`` interface and is current on return.
    ``share_with=gl_context`` shares objects with it; ``profile="compat"`` gives a compatibility context.
    All of them are destroyed at the end of the test, after its leak check (objects left alive in them are
    the test's leaks), and ``gl_context`` is current again. A context the test destroys itself (``destroy()``)
    takes its objects with it: those are not leaks.
    """
    provider = pytestconfig.stash[provider_key]

    def factory(
        share_with: GLContext | None = None,
        profile: str | None = None,
        version: str | tuple[int, int] | None = None,
    ) -> GLContext:
        if profile is not None and profile not in settings_module.PROFILES:
            raise ValueError(f"gl_context_factory: profile must be 'core' or 'compat', not {profile!r}")
        try:
            parsed = None if version is None else settings_module.parse_gl_version(version)
        except ValueError as exc:
            raise ValueError(f"gl_context_factory: bad version {version!r}: {exc}") from None
        try:
            return provider.create_extra(share_with=share_with, profile=profile, version=parsed)
        except ContextUnavailable as exc:
            _unavailable(pytestconfig, exc)
            raise

    # Destroyed by the runner after the test's verdict (CheckRunner.pytest_runtest_teardown).
    yield factory


@pytest.fixture
def gl_ledger(request: pytest.FixtureRequest, pytestconfig: pytest.Config) -> LedgerView:
    """The GL object ledger, seen from this test.

    ``live(kind=None)``: live records (kind, name, label, bytes, creation site); ``created(kind=None)`` /
    ``deleted(kind=None)``: counts during this test; ``mark()`` / ``leaks_since(mark)``: a check inside the
    test body; ``assert_no_leaks(kinds=None)``. Kinds are plain strings such as ``"texture"``.
    """
    ledger = pytestconfig.stash[ledger_key]
    ledger.install()  # no-op when installed; needed under --glleak-mode=off
    state = request.node.stash.get(state_key, None)
    return LedgerView(ledger, state.mark if state is not None else ledger.mark())


@pytest.fixture
def memory_baseline(request: pytest.FixtureRequest, pytestconfig: pytest.Config) -> DiagnosingBaseline:
    """A memory baseline calibrated when the test starts (full GC, ``malloc_trim``, then RSS, USS, Python
    heap when tracemalloc is on, live image buffers, open file descriptors, threads).

    ``growth()`` gives the deltas since calibration; ``measure(fn, warmup=3, repeat=5)`` runs ``fn``
    repeatedly and returns its per-iteration steady-state growth. ``measure(fn, limit="256 KiB")``
    also fails the test when memory grew by more than ``limit`` in every measured repetition, saying
    where it grew (allocation sites, GL objects, images), as ``max_memory_growth`` does.
    """
    baseline = DiagnosingBaseline(
        pytestconfig.stash[images_key],
        ledger=pytestconfig.stash.get(ledger_key, None),
        describe=format_growth_sites,
        parse_limit=parse_bytes,
    )
    baseline.calibrate()
    state = request.node.stash.get(state_key, None)
    if state is not None:  # the fds and threads it saw open are reported with the test's findings
        state.memory = baseline
    return baseline


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    # Exceptions the GL hooks kept away from user code are counted with the plugin's other errors.
    ledger = session.config.stash.get(ledger_key, None)
    internal = session.config.stash.get(internal_key, None)
    interceptor = ledger.interceptor if ledger is not None else None
    if interceptor is not None and internal is not None and interceptor.error_count:
        first = interceptor.errors[0] if interceptor.errors else None
        text = None
        if first is not None:
            import traceback

            text = "".join(traceback.format_exception(type(first), first, first.__traceback__)).rstrip()
        internal.add(interceptor.error_count, text, "a GL call hook")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    provider = item.config.stash[provider_key]
    # fixturenames is the closure: a fixture built on gl_context counts too.
    uses_gl = "gl_context" in getattr(item, "fixturenames", ())
    try:
        if uses_gl:
            provider.restore()
    except PASS_THROUGH:
        raise
    except ContextUnavailable as exc:
        _unavailable(item.config, exc)
    except BaseException as exc:
        raise plugin_error("restoring the GL context before the set-up", item.nodeid, exc) from exc
    finally:
        lost = provider.take_lost()
        if lost is not None:
            # Broken between tests (a wider fixture's teardown, the plugin's own check): no test to blame.
            warnings.warn(
                GLContextRecreatedWarning(
                    f"pytest-glleak: the GL context of this session was destroyed or made unusable before "
                    f"{item.nodeid} ({lost}); a new context was made"
                ),
                stacklevel=1,
            )
