"""Per-test figures for JUnit XML: ``glleak_*`` properties for ``report.user_properties``.

No pytest imports; the runner attaches them to the test's reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_glleak.findings import GL_KINDS, TestFindings
from pytest_glleak.report.run import MEMORY_FIGURES, bytes_sum, counts_by_kind, leak_count

_JUNIT_MEMORY_NAMES = {
    figure: "glleak_growth_per_iteration" if figure == "per_iteration" else f"glleak_{figure}_growth"
    for figure in MEMORY_FIGURES
}


#: Shared property tuples, by content: every test's reports keep theirs until the run ends, and on a long
#: clean run they are nearly all equal. Bounded; sharing immutable tuples changes nothing they say.
_SHARED_LIMIT = 4096
_shared: dict[tuple[str, str | int | float], tuple[str, str | int | float]] = {}


def _shared_property(name: str, value: str | int | float) -> tuple[str, str | int | float]:
    key = (name, value)
    shared = _shared.get(key)
    if shared is None or type(shared[1]) is not type(value):
        if len(_shared) >= _SHARED_LIMIT:
            _shared.clear()
        shared = _shared[key] = key
    return shared


def junit_properties(findings: TestFindings) -> list[tuple[str, str | int | float]]:
    """The per-test figures for ``report.user_properties`` (JUnit ``<property>`` elements).

    Names start with ``glleak_``: ``verdict``, ``checks``; with the GL check ``gl_created``,
    ``gl_deleted``, ``gl_leaked``, ``gl_leaked_bytes`` and ``gl_leaked_<kind>`` per leaked kind; with the
    image check ``images_leaked``, ``images_leaked_bytes``; memory figures as ``<figure>_growth``
    (``rss_growth``, ``heap_growth``...), ``growth_per_iteration``, ``growth_limit``; ``known`` notes count.
    """
    properties: list[tuple[str, str | int | float]] = []
    if "verdict" in findings:
        properties.append(("glleak_verdict", findings["verdict"]))
    if findings.get("checks"):
        properties.append(("glleak_checks", ",".join(findings["checks"])))
    if "gl" in findings:
        gl_section = findings["gl"]
        leaked = gl_section.get("leaked") or []
        properties.append(("glleak_gl_created", sum((gl_section.get("created") or {}).values())))
        properties.append(("glleak_gl_deleted", sum((gl_section.get("deleted") or {}).values())))
        properties.append(("glleak_gl_leaked", len(leaked)))
        properties.append(("glleak_gl_leaked_bytes", bytes_sum(leaked)))
        for kind, count in counts_by_kind(leaked, GL_KINDS).items():
            properties.append((f"glleak_gl_leaked_{kind}", count))
    if "images" in findings:
        images = findings["images"].get("leaked") or []
        properties.append(("glleak_images_leaked", sum(leak_count(item) for item in images)))
        properties.append(("glleak_images_leaked_bytes", bytes_sum(images)))
    memory = findings.get("memory")
    if memory:
        figures: Mapping[str, Any] = dict(memory)
        for figure in MEMORY_FIGURES:
            if figure in figures:
                properties.append((_JUNIT_MEMORY_NAMES[figure], int(figures[figure])))
        if "limit" in memory:
            properties.append(("glleak_growth_limit", int(memory["limit"])))
    if findings.get("known"):
        properties.append(("glleak_known", len(findings["known"])))
    return [_shared_property(name, value) for name, value in properties]
