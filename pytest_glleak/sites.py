"""Creation sites captured cheaply as raw ``(code, f_lasti)`` frames, formatted only when reported.

Capturing walks ``frame.f_back`` and keeps references to code objects plus the instruction offset (no
strings, no line-table lookups, no linecache); identical sites are interned, so a loop that creates
100,000 objects stores one site tuple. Library frames (PyOpenGL, ctypes, NumPy, glfw, Pillow, this plugin)
are left out, and the walk stops at the first pytest or pluggy frame: what lies below is the test runner.
GL objects (the ledger) and image buffers (the heap tracker) share this capture and its format.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from types import CodeType, FrameType
from typing import Any

from pytest_glleak import speedups
from pytest_glleak.findings import Frame

#: A creation site: innermost frame first, as alternating code objects and instruction offsets.
Site = tuple[object, ...]

#: Frame classes: user code (kept), library code (skipped), the test runner (the walk stops), and
#: Python's import machinery (``<frozen importlib._bootstrap>``, ``_bootstrap_external``): what lies
#: above it runs because a module is being imported.
USER, LIBRARY, RUNNER, IMPORTER = 0, 1, 2, 3
_IMPORTER_PREFIX = "<frozen importlib._bootstrap"
#: Ends a site captured below an import (see :func:`made_at_import`); never formatted.
IMPORT_MARK = "<import>"
_LIBRARY_PREFIXES: tuple[str, ...] = ()
_RUNNER_PREFIXES: tuple[str, ...] = ()
# Keyed by file name, never by code object: hashing a code object hashes its bytecode and constants.
_frame_class: dict[str, int] = {}
# Keyed by (id(code), offset, ...): the interned site holds its code objects, so their ids stay valid.
_interned: dict[tuple[int, ...], Site] = {}
_by_id: dict[int, Site] = {}
#: Distinct sites kept interned at most (a loop at one site still stores one tuple).
INTERN_LIMIT = 1024
EMPTY_SITE: Site = ()


def _module_dirs(names: tuple[str, ...]) -> tuple[str, ...]:
    dirs: list[str] = []
    for module_name in names:
        module = sys.modules.get(module_name)
        path = getattr(module, "__file__", None) if module is not None else None
        if path:
            dirs.append(os.path.dirname(os.path.abspath(path)) + os.sep)
    return tuple(dirs)


def refresh_skipped() -> None:
    """Recompute the library and runner directories (call after importing a GL or image library)."""
    global _LIBRARY_PREFIXES, _RUNNER_PREFIXES
    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    _LIBRARY_PREFIXES = (
        *_module_dirs(
            (
                "OpenGL",
                "OpenGL_accelerate",
                "ctypes",
                "numpy",
                "glfw",
                "PIL",
                "moderngl",
                "glcontext",
                "pyglet",
            )
        ),
        here,
        "<frozen ",
        "<__array_function__ internals>",  # NumPy < 1.25 compiles its dispatchers under this name
    )
    _RUNNER_PREFIXES = _module_dirs(("_pytest", "pluggy"))
    _frame_class.clear()
    if speedups.native is not None:
        speedups.native.forget_classes()


def classify(filename: str) -> int:
    """:data:`USER`, :data:`LIBRARY` or :data:`RUNNER`: what the code in ``filename`` is."""
    found = _frame_class.get(filename)
    return _classify(filename) if found is None else found


def _classify(filename: str) -> int:
    if filename.startswith(_IMPORTER_PREFIX):
        found = IMPORTER
    elif filename.startswith(_LIBRARY_PREFIXES):
        found = LIBRARY
    elif _RUNNER_PREFIXES and filename.startswith(_RUNNER_PREFIXES):
        found = RUNNER
    else:
        found = USER
    if len(_frame_class) < 100_000:
        _frame_class[filename] = found
    return found


def capture(depth: int, frame: FrameType | None = None, imports: bool = False) -> Site:
    """The user-code frames of the calling stack, at most ``depth`` of them, innermost first.

    With ``imports``, the walk goes on past ``depth`` user frames to the test runner, and a site made
    while a module is being imported (anywhere below Python's import machinery, or a loader's
    ``exec_module``, such as pytest's assertion rewriter) ends with :data:`IMPORT_MARK`.
    """
    if depth <= 0:
        return EMPTY_SITE
    if frame is None:
        frame = sys._getframe(1)
    if imports:
        return _capture_imports(depth, frame)
    # The hot path (every recorded GL call): only the key (code ids and offsets) is built; the site's
    # tuple of code objects is made once, on the first sight of a key.
    key: list[int] = []
    append = key.append
    remaining = depth
    classes = _frame_class
    walked: FrameType | None = frame
    while walked is not None:
        code = walked.f_code
        found = classes.get(code.co_filename)
        if found is None:
            found = _classify(code.co_filename)
        if found == USER:
            append(id(code))
            append(walked.f_lasti)
            remaining -= 1
            if not remaining:
                break
        elif found == RUNNER:
            break
        walked = walked.f_back
    identity = tuple(key)
    site = _interned.get(identity)
    if site is None:
        site = _intern(identity, _collect(depth, frame))
    return site


def _collect(depth: int, frame: FrameType | None) -> list[object]:
    """The user frames :func:`capture` keyed, as (code, offset) pairs: the same walk, kept objects."""
    collected: list[object] = []
    remaining = depth
    while frame is not None:
        found = classify(frame.f_code.co_filename)
        if found == USER:
            collected.append(frame.f_code)
            collected.append(frame.f_lasti)
            remaining -= 1
            if not remaining:
                break
        elif found == RUNNER:
            break
        frame = frame.f_back
    return collected


def _intern(identity: tuple[int, ...], collected: list[object]) -> Site:
    if len(_interned) >= INTERN_LIMIT:
        _forget_interned()
    site = _interned[identity] = tuple(collected)
    _by_id[id(site)] = site
    return site


def _capture_imports(depth: int, frame: FrameType | None) -> Site:
    identity: list[int] = []
    collected: list[object] = []
    remaining = depth
    classes = _frame_class
    below_import = False
    while frame is not None:
        code = frame.f_code
        found = classes.get(code.co_filename)
        if found is None:
            found = _classify(code.co_filename)
        if found == USER:
            if remaining:
                offset = frame.f_lasti
                identity.append(id(code))
                identity.append(offset)
                collected.append(code)
                collected.append(offset)
                remaining -= 1
        elif found == IMPORTER or code.co_name == "exec_module":
            below_import = True
            break
        elif found == RUNNER:
            break
        frame = frame.f_back
    if below_import:
        identity.append(-1)
        collected.append(IMPORT_MARK)
        collected.append(-1)
    key = tuple(identity)
    site = _interned.get(key)
    if site is None:
        site = _intern(key, collected)
    return site


def _forget_interned() -> None:
    # Every test of a long run creates at sites of its own: the tables start afresh rather than keep
    # them all. Sites still referenced stay valid; they are only formatted without the cache.
    _interned.clear()
    _by_id.clear()
    _formatted.clear()
    if speedups.native is not None:
        speedups.native.forget_sites()


def made_at_import(site: Site) -> bool:
    """Whether ``site`` (captured with ``imports=True``) was made while a module was being imported:
    by its top-level code or anything it called, library or user code alike. Code run by ``exec``,
    doctests, ``runpy`` or ``python -c`` is not an import, whatever its frames are named."""
    return len(site) >= 2 and site[-2] is IMPORT_MARK


def line_of(code: CodeType, offset: int) -> int:
    """The source line of the instruction at byte ``offset`` of ``code``."""
    for start, end, line in code.co_lines():
        if start <= offset < end and line is not None:
            return line
    return code.co_firstlineno


def function_name(code: CodeType) -> str:
    """The function a frame runs, as reported: its qualified name where Python has one (3.11+)."""
    return getattr(code, "co_qualname", code.co_name)


def functions(site: Site) -> list[str]:
    """The code names (``co_name``) of a site's frames, innermost first; no line-table work."""
    return [code.co_name for code in site[0::2] if isinstance(code, CodeType)]


_formatted: dict[int, tuple[Frame, ...]] = {}


def format_site(site: Site) -> list[Frame]:
    """The site as ``[{"file", "line", "function"}]``, innermost first (new dicts on every call)."""
    # Sites are interned and kept alive by the intern table, so id() names one site for good.
    interned = _by_id.get(id(site)) is site
    cached = _formatted.get(id(site)) if interned else None
    if cached is None:
        frames: list[Frame] = []
        for index in range(0, len(site), 2):
            code = site[index]
            offset = site[index + 1]
            if isinstance(code, CodeType) and isinstance(offset, int):
                frames.append(
                    {"file": code.co_filename, "line": line_of(code, offset), "function": function_name(code)}
                )
        cached = tuple(frames)
        if interned:
            _formatted[id(site)] = cached
    return [{"file": frame["file"], "line": frame["line"], "function": frame["function"]} for frame in cached]


_INSTALLED_MARKERS = ("site-packages", "dist-packages")


def portable_path(path: str, root: str | None = None) -> str:
    """A file path that means the same on every checkout, with ``/`` separators.

    Below ``root`` (the pytest rootdir; default the working directory): relative to it. In an installed
    package: the part after ``site-packages`` / ``dist-packages``. Otherwise absolute, unchanged.
    Relative paths (already portable) and pseudo-files such as ``<string>`` are returned as they are.
    """
    if not os.path.isabs(path):
        return path.replace(os.sep, "/")
    base = os.path.abspath(root if root is not None else os.getcwd())
    try:
        relative = os.path.relpath(path, base)
    except ValueError:  # another drive on Windows
        relative = os.pardir
    if not relative.startswith(os.pardir):
        return relative.replace(os.sep, "/")
    parts = path.replace(os.sep, "/").split("/")
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] in _INSTALLED_MARKERS:
            return "/".join(parts[index + 1 :])
    return path.replace(os.sep, "/")


def make_portable(findings: Mapping[str, Any], root: str) -> None:
    """Rewrite, in place, every creation-site path of one test's findings with :func:`portable_path`.

    Called once, in the process that ran the test, before the findings travel on its report: the
    failure text, the JSON and HTML reports, the baseline and CI outputs then all show the same
    rootdir-relative paths (xdist workers share the controller's rootdir).
    """
    frames: list[Any] = []
    for section in ("gl", "images"):
        for item in (findings.get(section) or {}).get("leaked") or []:
            frames.extend(item.get("create_site") or [])
    memory = findings.get("memory") or {}
    for site in memory.get("grew_at") or []:  # where memory grew: the site and the stack above it
        frames.append(site)
        frames.extend(site.get("stack") or [])
    for key in ("gl_per_iteration", "images_per_iteration"):
        for item in memory.get(key) or []:
            frames.extend(item.get("create_site") or [])
    for frame in frames:
        file = frame.get("file")
        if isinstance(file, str):
            frame["file"] = portable_path(file, root)


def frame_text(frame: Mapping[str, Any]) -> str:
    """One frame as every report writes it: ``"viewer/render.py:88 in upload()"``."""
    return f"{frame.get('file', '<unknown>')}:{frame.get('line', 0)} in {frame.get('function', '?')}()"


def _intern_walked(identity: tuple[int, ...], depth: int, frame: FrameType | None) -> Site:
    """The C capture's miss: the site of the frames it keyed as ``identity``."""
    return _intern(identity, _collect(depth, frame))


refresh_skipped()

if speedups.native is not None:
    # The same walk and the same tables, in C (see pytest_glleak/_speedups.c); imports=True and
    # unusual depths go back to the Python version.
    _capture_python = capture
    speedups.native.configure_sites(
        _frame_class, _classify, _interned, _intern_walked, _capture_python, USER, RUNNER
    )
    capture = speedups.native.capture
