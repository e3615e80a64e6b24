"""The shape of what a check finds, as plain builtins (xdist carries them inside test reports).

Every check produces a :class:`TestFindings` dict; the plugin attaches it to the teardown report as
``report.glleak`` and mirrors its headline figures into ``report.user_properties`` for JUnit. Reports,
JSON, HTML and the baseline read only these shapes, never live objects.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from pytest_glleak.ledger.registry import KINDS

#: Schema version of the findings and of the JSON report built from them. Version 2: creation-site
#: ``file`` paths are relative to the pytest rootdir (absolute only outside it; the part after
#: ``site-packages`` for installed packages) instead of absolute, and the report gained ``created``,
#: ``plugin_version``, ``pytest_version``, ``args`` and ``duration_s``.
FINDINGS_VERSION = 2

#: The 13 GL object kinds, in report order (generated from the Khronos registry).
GL_KINDS: tuple[str, ...] = KINDS


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


class _LeakedGLObjectKeys(TypedDict):
    kind: str  # one of GL_KINDS
    name: int  # the GL name; for a sync, the pointer value
    label: str | None  # KHR_debug label, where set
    bytes: int  # estimated GPU bytes from the storage calls seen on it
    context: int  # the share group (shared kinds) or context (per-context kinds) id
    phase: str  # "setup", "call" or "teardown"
    reserved_only: bool  # generated but never bound (glIs* said so): a name, not yet an object
    create_site: list[Frame]


class LeakedGLObject(_LeakedGLObjectKeys, total=False):
    """A GL object created during the test and still alive after its teardown."""

    #: glIs* could not be asked (no context of its share group could be made current, e.g. another
    #: thread's): alive as far as the ledger saw, bound or not unknown.
    unconfirmed: bool


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


class GrowthSite(TypedDict):
    """A Python or NumPy allocation site whose memory grew in every rerun repetition."""

    file: str
    line: int
    function: str
    bytes_per_iteration: int  # the smallest growth over the repetitions
    blocks: int  # memory blocks per repetition (the smallest)
    domain: str  # "python" or "numpy" (NumPy's data, its own tracemalloc domain)
    stack: list[Frame]  # the user frames that led there, innermost (this site) first


class GLGrowth(TypedDict):
    """GL objects of one kind, made at one site, alive after every repetition."""

    kind: str  # one of GL_KINDS
    count: int  # objects per repetition
    bytes: int  # estimated GPU bytes per repetition
    create_site: list[Frame]


class ImageGrowth(TypedDict, total=False):
    """Pillow images or image-backed arrays made at one site, alive after every repetition."""

    kind: str  # as LeakedImage's
    count: int  # per repetition
    bytes: int  # per repetition
    mode: str
    dtype: str
    shape: list[int]
    create_site: list[Frame]
    held_by: str | None


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
    # Where it grew (only when it grew: the repetitions rerun under tracemalloc, see heap.diagnose).
    grew_at: list[GrowthSite]
    gl_per_iteration: list[GLGrowth]
    images_per_iteration: list[ImageGrowth]
    explained_per_iteration: int  # Python/NumPy bytes per repetition of the grew_at sites together
    measured_per_iteration: int  # the growth set against them, per repetition (measured_by)
    measured_by: str  # the largest byte measure: "rss", or "malloc" for never-touched buffers...


class FixtureIdentity(TypedDict):
    """The wider-scoped fixture a pseudo-entry of findings stands for."""

    name: str
    scope: str  # "class", "module", "package" or "session"
    where: str  # the node id of the scope ("" for the session)


class TestFindings(TypedDict, total=False):
    """Everything the checks found for one test. Absent sections were not checked.

    A wider-scoped fixture's leaks, checked when its scope ends, are a pseudo-entry with ``fixture``
    set and ``nodeid`` ``"<where>::<fixture NAME>"``.
    """

    nodeid: str
    fixture: FixtureIdentity
    checks: list[str]  # which checks ran: "gl", "images", "memory"
    verdict: Verdict
    gl: GLSection
    images: ImageSection
    memory: MemorySection
    fds_left_open: list[str]
    threads_left_running: list[str]
    known: list[str]  # notes on leaks the baseline accepted
    # GL objects that appeared in the session context with no hooked binding making them (kind -> count):
    # a notice on marked tests without --glleak-driver-sweep, never a failure by itself.
    gl_unhooked: dict[str, int]
    message: str  # the one-line summary used in the short test summary


# --- compact storage of clean results ---------------------------------------------------------------
#: Shared copies of leak-free sections, by content. Reports keep every test's findings until the run
#: ends (pytest's terminal reporter, the JSON report's run): on a long clean run most of them are equal,
#: so equal ones are stored once. Bounded: a suite with more distinct contents only shares less.
_SHARED_LIMIT = 4096
_shared: dict[tuple[object, ...], object] = {}


def _share(key: tuple[object, ...], value: object) -> Any:
    shared = _shared.get(key)
    if shared is None:
        if len(_shared) >= _SHARED_LIMIT:
            _shared.clear()
        shared = _shared[key] = value
    return shared


def share_clean_sections(findings: TestFindings) -> TestFindings:
    """Replace, in place, ``checks`` and the leak-free ``gl`` / ``images`` sections of ``findings`` with
    equal objects shared by every test that found the same; returns ``findings``.

    Nothing changes in what the findings say, and nothing downstream mutates a section once the verdict
    is made (reports only read them). Sections with leaks are each test's own and are left alone.
    """
    checks = findings.get("checks")
    if checks is not None:
        findings["checks"] = _share(("checks", *checks), checks)
    gl_section = findings.get("gl")
    if gl_section is not None and not gl_section.get("leaked") and len(gl_section) == 3:
        created, deleted = gl_section["created"], gl_section["deleted"]
        key = ("gl", *created.items(), None, *deleted.items())
        findings["gl"] = _share(key, gl_section)
    images_section = findings.get("images")
    if images_section is not None and not images_section.get("leaked") and len(images_section) == 1:
        findings["images"] = _share(("images",), images_section)
    return findings
