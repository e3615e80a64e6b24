"""Runner options end to end: the driver sweep (``--glleak-driver-sweep``) finds GL objects made behind
PyOpenGL's back."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest_plugins = ["pytester"]


@pytest.mark.parametrize("sweep", [True, False], ids=["sweep", "no-sweep"])
def test_driver_sweep_reports_textures_created_outside_pyopengl(
    pytester: pytest.Pytester, sweep: bool
) -> None:
    pytester.copy_example("runner/test_outside.py")
    report = pytester.path / "report.json"
    args = ["-p", "no:randomly", f"--glleak-json={report}"] + (["--glleak-driver-sweep"] if sweep else [])
    result = pytester.runpytest(*args)

    doc: dict[str, Any] = json.loads(report.read_text())
    tests = {entry["nodeid"].rsplit("::", 1)[-1]: entry for entry in doc["tests"]}
    if not sweep:
        # The ledger alone cannot see it: this is what the sweep adds.
        result.assert_outcomes(passed=4)
        assert tests["test_outside_kept"]["gl"]["leaked"] == []
        return
    result.assert_outcomes(passed=3, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "test_outside.py L... *",
            "*texture *, label 'created outside PyOpenGL', in unknown phase",
            "LEAKED test_outside.py::test_outside_kept - leaked 1 texture",
        ]
    )
    (leaked,) = tests["test_outside_kept"]["gl"]["leaked"]
    assert leaked["kind"] == "texture" and leaked["label"] == "created outside PyOpenGL"
    assert tests["test_outside_kept"]["gl"]["created"] == {}  # no hook saw it made
    # A module-scoped fixture's texture is the fixture's; one deleted behind PyOpenGL's back too is gone;
    # the earlier leak is not blamed on later tests.
    assert tests["test_uses_module_fixture_made_outside"]["verdict"] == "clean"
    assert tests["test_outside_deleted"]["verdict"] == "clean"
    assert tests["test_after_the_leak"]["verdict"] == "clean"
    assert tests["test_after_the_leak"]["gl"]["created"] == {"texture": 1}
