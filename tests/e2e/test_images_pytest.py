"""ImageTracker inside real pytest runs, driven by a minimal stand-in for the plugin glue.

The conftest below does what the runner does around each test (start at setup, phases, the
before-check moment, verdict after teardown) and writes each test's findings as one JSON line, so
these tests see creation sites, phases and holders exactly as pytest's own frames leave them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

GLUE = """
import json, os
import pytest
from pytest_glleak.heap import ImageTracker

TRACKER = ImageTracker()
TOKENS = {}

def pytest_configure(config):
    TRACKER.install()

def pytest_unconfigure(config):
    TRACKER.uninstall()

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    TOKENS[item.nodeid] = TRACKER.start(item.nodeid, 65536, precise="precise" in item.keywords)

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    TRACKER.set_phase("call")

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item):
    TRACKER.set_phase("teardown")

@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef):
    if fixturedef.scope == "function":
        return (yield)
    TRACKER.set_phase("fixture:" + fixturedef.scope)
    try:
        return (yield)
    finally:
        TRACKER.set_phase("setup")

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when == "teardown":
        token = TOKENS.pop(item.nodeid)
        # pytest keeps function-scoped fixture values in item.funcargs until after this hook.
        if isinstance(getattr(item, "funcargs", None), dict):
            item.funcargs.clear()
        touched = TRACKER.touched_since(token)
        leaked = TRACKER.leaks(token) if touched or "precise" in item.keywords else []
        TRACKER.stop(token)
        with open(os.environ["FINDINGS"], "a") as out:
            out.write(json.dumps({"test": item.name, "touched": touched, "leaked": leaked}) + "\\n")
    return report
"""


def run(pytester: pytest.Pytester, example: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    findings = pytester.path / "findings.jsonl"
    monkeypatch.setenv("FINDINGS", str(findings))
    pytester.makeconftest(GLUE)
    pytester.makeini("[pytest]\nmarkers =\n    precise: precise mode\n")
    source = pytester.copy_example(example).read_text()
    result = pytester.runpytest("-p", "no:glleak", "-p", "no:randomly", "-q")
    result.assert_outcomes(passed=source.count("\ndef test_"))
    return {entry["test"]: entry for entry in map(json.loads, Path(findings).read_text().splitlines())}


def test_glue_protocol_in_a_real_pytest_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_test = run(pytester, "images_pytest/test_suite.py", monkeypatch)

    assert by_test["test_clean"]["leaked"] == []  # fixture values (function and module scope) are not leaks
    assert by_test["test_no_images"] == {"test": "test_no_images", "touched": False, "leaked": []}
    # A module-scoped fixture's array, made during this precise test's setup, is the fixture's.
    assert by_test["test_precise_with_module_fixture_array"]["leaked"] == []

    (image,) = by_test["test_leaks_to_module_dict"]["leaked"]
    assert image["kind"] == "pil_image" and image["shape"] == [200, 100] and image["phase"] == "call"
    assert image["held_by"] == "key 'hero' of dict CACHE in module test_suite"
    functions = [frame["function"] for frame in image["create_site"]]
    assert functions == ["decode", "test_leaks_to_module_dict"]  # stops at pytest's own frames

    (array,) = by_test["test_leaks_array_in_list"]["leaked"]
    assert array["kind"] == "ndarray" and array["shape"] == [300, 300, 3]
    assert array["held_by"] == "item 0 of list FRAMES in module test_suite"

    (copy,) = by_test["test_leaks_numpy_copy"]["leaked"]
    assert copy["kind"] == "ndarray" and copy["dtype"] == "uint8" and copy["shape"] == [300, 300, 3]
    assert copy["held_by"] == "item 1 of list FRAMES in module test_suite"
    assert [frame["function"] for frame in copy["create_site"]] == ["test_leaks_numpy_copy"]
