"""``max_memory_growth``: the test function run ``warmup + repeat`` times under the memory measures.

The wrapped function replaces the test's own for the call phase; it leaves the growth state (grew, bytes
per repetition, the table and its text, where it grew) for the test's check. A failing measurement is
diagnosed (the repetitions again under ``tracemalloc``, by site). No pytest imports.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_glleak.check import TestState
from pytest_glleak.errors import PASS_THROUGH, plugin_error
from pytest_glleak.findings import MemorySection
from pytest_glleak.heap import ImageTracker, MemoryBaseline, format_growth_table, steady_state_verdict
from pytest_glleak.heap.diagnose import growth_diagnosis
from pytest_glleak.heap.growth import RSS_FLOOR
from pytest_glleak.ledger import Ledger
from pytest_glleak.report.growth_text import format_growth_sites
from pytest_glleak.sites import make_portable

if TYPE_CHECKING:  # the plan's dataclasses live with the markers (pytest glue); only their types here
    from pytest_glleak.marks import GrowthCheck


def repeated(
    original: Callable[..., Any],
    growth: GrowthCheck,
    state: TestState,
    *,
    nodeid: str,
    ledger: Ledger,
    images: ImageTracker,
    rootpath: str,
) -> Callable[..., None]:
    """``original`` wrapped to run ``warmup + repeat`` times under the memory measures; the growth state
    goes to ``state.growth``. The test's own exception passes through; a failure of the measurement
    itself becomes the plugin's error for ``nodeid``."""

    @functools.wraps(original)
    def repeated(*args: Any, **kwargs: Any) -> None:
        raised_by_test: list[BaseException] = []

        def body() -> None:
            try:
                original(*args, **kwargs)
            except BaseException as exc:
                raised_by_test.append(exc)
                raise

        try:
            result = MemoryBaseline(images).measure(
                body,
                warmup=growth.warmup,
                repeat=growth.repeat,
                # Below RSS's noise floor only the Python heap (tracemalloc) can honour the limit.
                trace_heap=growth.limit < RSS_FLOOR,
            )
            grew, per_iteration, table = steady_state_verdict(result, growth.limit)
            text = format_growth_table(result, growth.limit)
            where: MemorySection = {}
            if grew:  # only a failing test pays for the diagnosis
                where = growth_diagnosis(body, growth.repeat, result.per_iteration, ledger, images)
                make_portable({"memory": where}, rootpath)
                text = f"{text}\n{format_growth_sites(where, growth.repeat)}"
        except PASS_THROUGH:
            raise
        except BaseException as exc:
            if raised_by_test and exc is raised_by_test[-1]:
                raise  # the test's own failure
            raise plugin_error("the memory measurement", nodeid, exc) from exc
        state.growth = {
            "grew": grew,
            "per_iteration": per_iteration,
            "limit": growth.limit,
            "table": table,
            "text": text,
            "where": where,
        }

    return repeated
