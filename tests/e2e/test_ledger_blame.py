"""Every leak on the right test: marks, factory contexts, shared display lists, threads, dead contexts.

User projects under ``tests/examples/ledger_blame`` run by pytester in real EGL.
"""

from __future__ import annotations

import pytest


def test_counts_stay_exact_after_thousands_of_marks(pytester: pytest.Pytester) -> None:
    pytester.copy_example("ledger_blame/test_marks.py")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_objects_left_in_factory_contexts_are_the_tests_leaks(pytester: pytest.Pytester) -> None:
    pytester.copy_example("ledger_blame/test_factory_leaks.py")
    result = pytester.runpytest("-p", "no:cacheprovider", "-rE")
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*LEAKED*test_ext_framebuffer_left_in_compat_factory_context*",
            "*LEAKED*test_textures_left_in_factory_context*",
        ]
    )
    result.stdout.fnmatch_lines(["*framebuffer*test_factory_leaks.py:9*"])
    result.stdout.no_fnmatch_line("*LEAKED*destroys*")


def test_render_thread_of_a_module_fixture_is_never_blamed_on_tests(pytester: pytest.Pytester) -> None:
    pytester.copy_example("ledger_blame/eglutil.py")
    pytester.copy_example("ledger_blame/test_render_thread.py")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=200)


def test_thread_objects_belong_to_whoever_started_the_thread(pytester: pytest.Pytester) -> None:
    pytester.copy_example("ledger_blame/eglutil.py")
    pytester.copy_example("ledger_blame/test_thread_owners.py")
    result = pytester.runpytest("-p", "no:cacheprovider", "-rE")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["LEAKED *test_thread_started_by_the_test_leaks*"])
    result.stdout.fnmatch_lines(
        [
            "*1 texture created at test_thread_owners.py:11 in leak_one*",
            "*texture 1, unconfirmed (no context of its share group could be made current to ask), in thread",
        ]
    )
    result.stdout.no_fnmatch_line("*never bound*")
    result.stdout.no_fnmatch_line("LEAKED *test_fixture_thread_leak_is_not_the_tests*")


def test_objects_die_with_a_context_destroyed_by_raw_egl(pytester: pytest.Pytester) -> None:
    pytester.copy_example("ledger_blame/eglutil.py")
    pytester.copy_example("ledger_blame/test_context_gone.py")
    result = pytester.runpytest("-p", "no:cacheprovider", "-rE")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*texture 1, unconfirmed (*), in call",
            "*texture 2, unconfirmed (*), in call",
            "LEAKED *test_textures_left_in_a_live_foreign_context*",
        ]
    )
    result.stdout.no_fnmatch_line("LEAKED *destroyed_context*")


def test_display_lists_are_confirmed_in_a_compat_member_of_the_share_group(pytester: pytest.Pytester) -> None:
    pytester.copy_example("ledger_blame/eglutil.py")
    pytester.copy_example("ledger_blame/test_shared_lists.py")
    result = pytester.runpytest("-p", "no:cacheprovider", "-rE")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_display_list_left_in_shared_compat_context*",
            "*1 display_list created at test_shared_lists.py:8 in compiled_list*",
            "*ERROR at teardown of test_display_list_in_foreign_compat_context_sharing_with_core*",
            "*display_list *, unconfirmed (*), in call",
        ]
    )


@pytest.mark.xdist
def test_blame_is_the_same_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.copy_example("ledger_blame/eglutil.py")
    pytester.copy_example("ledger_blame/test_thread_owners.py")
    pytester.copy_example("ledger_blame/test_factory_leaks.py")
    result = pytester.runpytest("-p", "no:cacheprovider", "-n", "2", "-rE")
    result.assert_outcomes(passed=4, errors=3)
    result.stdout.fnmatch_lines_random(
        [
            "LEAKED *test_thread_started_by_the_test_leaks*",
            "LEAKED *test_ext_framebuffer_left_in_compat_factory_context*",
            "LEAKED *test_textures_left_in_factory_context*",
        ]
    )
