"""Configure-time checks of the output paths (pure logic, on real temporary files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_glleak.report.outputs import NamedPath, named_outputs, output_problems, settings_problems
from pytest_glleak.settings import Settings


def test_writable_paths_and_missing_parents_have_no_problem(tmp_path: Path) -> None:
    settings = Settings(
        json=str(tmp_path / "out" / "deep" / "report.json"),
        html=str(tmp_path / "report.html"),
        baseline=str(tmp_path / "base.json"),
        baseline_update=True,
    )
    assert settings_problems(settings) == []


def test_a_file_where_a_directory_should_be_names_the_option_and_the_path(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    path = str(tmp_path / "afile" / "out" / "report.json")
    problems = settings_problems(Settings(json=path))
    assert problems == [f"--glleak-json={path}: cannot write there: {tmp_path / 'afile'} is not a directory"]


def test_a_directory_target_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "report.html").mkdir()
    problems = settings_problems(Settings(html=str(tmp_path / "report.html")))
    assert problems == [
        f"--glleak-html={tmp_path / 'report.html'}: cannot write there: {tmp_path / 'report.html'} is a directory"
    ]


def test_a_read_only_directory_is_a_problem(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        problems = settings_problems(Settings(json=str(locked / "sub" / "report.json")))
    finally:
        locked.chmod(0o700)
    assert problems == [
        f"--glleak-json={locked / 'sub' / 'report.json'}: cannot write there: directory {locked} is not writable"
    ]


def test_the_report_and_the_baseline_it_would_clobber_collide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.json").write_text("{}")
    for update in (False, True):
        problems = settings_problems(
            Settings(json="base.json", baseline="./base.json", baseline_update=update)
        )
        assert len(problems) == 1
        assert problems[0].startswith("--glleak-json=base.json and --glleak-baseline")
        assert f"are the same file ({tmp_path / 'base.json'})" in problems[0]


def test_json_and_html_on_one_path_collide_even_before_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    problems = settings_problems(Settings(json="same.out", html="sub/../same.out"))
    assert problems == [
        f"--glleak-json=same.out and --glleak-html=sub/../same.out are the same file ({tmp_path / 'same.out'}): "
        "one would overwrite the other; give them different paths"
    ]


def test_a_symlink_or_a_hard_link_to_the_same_file_collides(tmp_path: Path) -> None:
    real = tmp_path / "report.json"
    real.write_text("{}")
    (tmp_path / "soft.json").symlink_to(real)
    os.link(real, tmp_path / "hard.json")
    for alias in ("soft.json", "hard.json"):
        problems = output_problems([NamedPath("--a", str(real)), NamedPath("--b", str(tmp_path / alias))])
        assert len(problems) == 1 and "are the same file" in problems[0]


def test_another_plugins_output_collides_too(tmp_path: Path) -> None:
    path = str(tmp_path / "out.xml")
    assert len(settings_problems(Settings(json=path), {"--junitxml": path})) == 1
    assert settings_problems(Settings(json=path), {"--junitxml": str(tmp_path / "junit.xml")}) == []


def test_two_reports_may_share_a_stream(tmp_path: Path) -> None:
    if not os.path.islink("/dev/stdout"):
        pytest.skip("no /dev/stdout")
    assert settings_problems(Settings(json="/dev/stdout", html="/dev/stdout")) == []
    assert settings_problems(Settings(json="/dev/null", html=str(tmp_path / "r.html"))) == []


def test_a_missing_stream_is_a_problem() -> None:
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc")
    problems = settings_problems(Settings(json="/proc/self/fd/987654"))
    assert problems == [
        "--glleak-json=/proc/self/fd/987654: cannot write there: /proc/self/fd/987654 does not exist"
    ]


def test_the_baseline_is_an_output_only_when_updated() -> None:
    assert named_outputs(Settings(baseline="b.json")) == []
    assert named_outputs(Settings(baseline="b.json", baseline_update=True)) == [
        NamedPath("--glleak-baseline", "b.json")
    ]


def test_a_path_from_the_ini_file_says_so(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    settings = Settings(json=str(tmp_path / "afile" / "r.json"), sources={"json": "ini key glleak_json"})
    (problem,) = settings_problems(settings)
    assert problem.startswith(f"ini key glleak_json={tmp_path / 'afile' / 'r.json'}: cannot write there:")
