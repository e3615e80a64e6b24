"""Precise mode's fallback: ``tracemalloc`` over one test, for image data no cheap hook sees.

Used where NumPy has no data-memory handler API (NumPy < 1.22; see :mod:`pytest_glleak.heap.datamem`
for the default path). The frame conversion below also serves the memory-growth diagnosis.

NumPy's data allocations (any large array, e.g. ``arr.astype(...)``) and ``Image.tobytes()`` output are
invisible to the garbage collector; in precise mode their live blocks of ``min_bytes`` or more are compared
before and after the test. A tracemalloc traceback is a different source of frames from a live stack, so
it is converted here, with the same library/runner classification as :mod:`pytest_glleak.sites`.
"""

from __future__ import annotations

import ast
import functools
import os
import sys
import tracemalloc
from typing import Any

import numpy as np
from PIL import Image

from pytest_glleak import sites
from pytest_glleak.findings import Frame

#: NumPy's tracemalloc domain for array data (``numpy.lib.tracemalloc_domain``).
NUMPY_DOMAIN: int = int(getattr(np.lib, "tracemalloc_domain", 389047))
#: Frames tracemalloc records per allocation in precise mode. Each frame costs: on a small image test,
#: tracing adds about 0.3 ms with 1 frame, 0.75 ms with 4 and 1 ms with 8. Four reach the test's line
#: through NumPy's or Pillow's Python wrappers in the common cases (``np.pad``, ``np.stack``, ``tobytes``).
TRACE_FRAMES = 4
#: Bytes a ``bytes`` object's allocation takes beyond its contents (header and trailing NUL).
BYTES_HEADER = sys.getsizeof(b"")

#: A group of identical live blocks in a tracemalloc snapshot: (domain, size, traceback).
TraceKey = tuple[int, int, tracemalloc.Traceback]


def tobytes_lines() -> frozenset[tuple[str, int]]:
    """The (file, line) pairs of ``Image.tobytes``: a block allocated there is image data."""
    code = Image.Image.tobytes.__code__
    return frozenset((code.co_filename, line) for _, _, line in code.co_lines() if line is not None)


def large_traces(
    snapshot: tracemalloc.Snapshot, min_bytes: int, tobytes_lines: frozenset[tuple[str, int]]
) -> dict[TraceKey, int]:
    """Live blocks of ``min_bytes`` or more: NumPy array data, and bytes made by ``Image.tobytes``."""
    found: dict[TraceKey, int] = {}
    for trace in snapshot.traces:
        size = trace.size
        if size < min_bytes:
            continue
        domain = trace.domain
        if domain != NUMPY_DOMAIN:
            innermost = trace.traceback[-1]
            if domain != 0 or (innermost.filename, innermost.lineno) not in tobytes_lines:
                continue
        key = (domain, size, trace.traceback)
        found[key] = found.get(key, 0) + 1
    return found


def fixture_growth(
    before: dict[TraceKey, int], after: dict[TraceKey, int], into: dict[TraceKey, int]
) -> None:
    """Add to ``into`` the large blocks that appeared between ``before`` and ``after`` (a fixture's)."""
    for key, count in after.items():
        grown = count - before.get(key, 0)
        if grown > 0:
            into[key] = into.get(key, 0) + grown


def claim_trace(traces: dict[TraceKey, int], array: np.ndarray[Any, Any]) -> tracemalloc.Traceback | None:
    """Take from ``traces`` the NumPy block that holds ``array``'s data (its own traceback first)."""
    object_site = tracemalloc.get_object_traceback(array)
    if object_site is None:
        return None  # the array object predates the window
    fallback = None
    for key, count in traces.items():
        domain, size, traceback = key
        if domain != NUMPY_DOMAIN or size != array.nbytes or count <= 0:
            continue
        if traceback == object_site:
            traces[key] -= 1
            return traceback
        fallback = fallback or key
    if fallback is None:
        return None
    traces[fallback] -= 1
    return fallback[2]


# --- tracemalloc tracebacks as creation sites -------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _functions_in(filename: str) -> tuple[tuple[int, int, str], ...]:
    try:
        with open(filename, encoding="utf-8") as source:
            tree = ast.parse(source.read(), filename)
    except (OSError, SyntaxError, ValueError):
        return ()
    spans: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Lambda):  # a module-level lambda runs later, not at import
                name = f"{prefix}<lambda>"
                spans.append((child.lineno, child.end_lineno or child.lineno, name))
                visit(child, f"{name}.<locals>.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    spans.append((child.lineno, child.end_lineno or child.lineno, name))
                visit(child, f"{name}.<locals>." if not isinstance(child, ast.ClassDef) else f"{name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return tuple(spans)


def _function_at(filename: str, line: int) -> str:
    best = "<module>"
    best_span = None
    for first, last, name in _functions_in(filename):
        if first <= line <= last and (best_span is None or last - first < best_span):
            best, best_span = name, last - first
    return best


def traced_at_import(traceback: tracemalloc.Traceback) -> bool:
    """Whether the block was allocated while a module was being imported (see ``sites.made_at_import``).

    A traceback holds only :data:`TRACE_FRAMES` frames, so Python's import machinery is often out of
    sight: the top-level code of a module that is imported (its file is a loaded module's) counts too.
    Code run by ``exec``, doctests, ``python -c`` or ``runpy`` is not a loaded module's and never counts.
    """
    module_files: set[str] | None = None
    for frame in traceback:
        filename = frame.filename
        found = sites.classify(filename)
        if found == sites.IMPORTER:
            return True
        if found != sites.USER or filename.startswith("<") or not os.path.isfile(filename):
            continue
        if _function_at(filename, frame.lineno) == "<module>":
            if module_files is None:
                module_files = _loaded_module_files()
            if os.path.abspath(filename) in module_files:
                return True
    return False


def _loaded_module_files() -> set[str]:
    files = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            files.add(os.path.abspath(path))
    return files


def traceback_frames(traceback: tracemalloc.Traceback | None, depth: int) -> list[Frame]:
    """A tracemalloc traceback (oldest first) as at most ``depth`` user frames, innermost first."""
    if traceback is None or depth <= 0:
        return []
    frames: list[Frame] = []
    library: list[Frame] = []
    for frame in reversed(traceback):
        filename = frame.filename
        found = sites.classify(filename)
        if found == sites.RUNNER:
            break
        if found == sites.IMPORTER:
            found = sites.LIBRARY
        entry: Frame = {
            "file": filename,
            "line": frame.lineno,
            "function": _function_at(filename, frame.lineno),
        }
        if found == sites.LIBRARY:
            library.append(entry)
            continue
        frames.append(entry)
        if len(frames) >= depth:
            break
    # Only library frames within the traced depth (TRACE_FRAMES): those say more than nothing.
    return frames or library[:depth]
