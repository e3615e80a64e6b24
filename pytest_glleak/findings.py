"""The shape of what a check finds, as plain builtins (xdist carries them inside test reports).

Every check produces a :class:`TestFindings` dict; the plugin attaches it to the teardown report as
``report.glleak`` and mirrors its headline figures into ``report.user_properties`` for JUnit. Reports,
JSON, HTML and the baseline read only these shapes, never live objects.
"""

from __future__ import annotations

from typing import Literal, TypedDict

#: Schema version of the findings and of the JSON report built from them. Version 2: creation-site
#: ``file`` paths are relative to the pytest rootdir (absolute only outside it; the part after
#: ``site-packages`` for installed packages) instead of absolute, and the report gained ``created``,
#: ``plugin_version``, ``pytest_version``, ``args`` and ``duration_s``.
FINDINGS_VERSION = 2

#: The 13 GL object kinds, in report order (the ledger's generated registry lists the same, in the same
#: order; a test checks it). Spelled out here so the data model depends on nothing.
GL_KINDS: tuple[str, ...] = (
    "texture",
    "buffer",
    "renderbuffer",
    "sampler",
    "framebuffer",
    "vertex_array",
    "transform_feedback",
    "program_pipeline",
    "query",
    "shader",
    "program",
    "sync",
    "display_list",
)


#: A test's verdict: nothing leaked, leaked, memory grew, only leaks the baseline accepts, not checked.
Verdict = Literal["clean", "leaked", "grew", "known", "skipped"]

#: Verdicts that fail a test that otherwise passed.
FAILING_VERDICTS: tuple[Verdict, ...] = ("leaked", "grew")
#: Verdicts a report lists (the failing ones and leaks the baseline accepted).
REPORTED_VERDICTS: tuple[Verdict, ...] = (*FAILING_VERDICTS, "known")


class Frame(TypedDict):
    """One frame of a creation site, innermost (the creating call) first.

    ``file`` is relative to the pytest rootdir, with ``/`` separators (absolute only for files outside
    it; for an installed package, the part after ``site-packages``).
    """

    file: str
    line: int
    function: str


class LeakedGLObject(TypedDict):
    """A GL object created during the test and still alive after its teardown."""

    kind: str  # one of GL_KINDS
    name: int  # the GL name; for a sync, the pointer value
    label: str | None  # KHR_debug label, where set
    bytes: int  # estimated GPU bytes from the storage calls seen on it
    context: int  # the share group (shared kinds) or context (per-context kinds) id
    phase: str  # "setup", "call" or "teardown"
    reserved_only: bool  # generated but never bound: a name, not yet an object
    create_site: list[Frame]


class LeakedImage(TypedDict, total=False):
    """A decoded image buffer created during the test and still referenced after teardown."""

    kind: str  # "pil_image", "ndarray", "bytes" (a kept tobytes() result) or "pillow_blocks"
    mode: str  # Pillow mode ("RGBA"...) for pil_image
    dtype: str  # NumPy dtype for ndarray
    shape: list[int]  # [width, height] for images, the array shape for arrays
    bytes: int
    count: int  # for pillow_blocks: blocks Pillow still holds that no tracked object explains (no bytes)
    phase: str  # "setup", "call" or "teardown"
    create_site: list[Frame]
    held_by: str | None  # e.g. "dict in module viewer.cache", when found cheaply


class GLSection(TypedDict):
    created: dict[str, int]  # kind -> count during the test
    deleted: dict[str, int]
    leaked: list[LeakedGLObject]


class ImageSection(TypedDict):
    leaked: list[LeakedImage]


class MemorySection(TypedDict, total=False):
    """Growth figures in bytes (or counts): since calibration, or per repetition when repeated."""

    rss: int
    uss: int
    heap: int  # tracemalloc-traced bytes, when tracemalloc is on
    image_bytes: int
    fds: int
    threads: int
    limit: int  # max_memory_growth limit, when the marker applied
    per_iteration: int  # steady-state growth per repetition (max_memory_growth)
    iterations: list[dict[str, int]]  # the table of repetitions


class TestFindings(TypedDict, total=False):
    """Everything the checks found for one test. Absent sections were not checked."""

    nodeid: str
    checks: list[str]  # which checks ran: "gl", "images", "memory"
    verdict: Verdict
    gl: GLSection
    images: ImageSection
    memory: MemorySection
    fds_left_open: list[str]
    threads_left_running: list[str]
    known: list[str]  # notes on leaks the baseline accepted
    message: str  # the one-line summary used in the short test summary
