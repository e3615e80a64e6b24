"""``--help`` lists every option and ini key the README's options table documents."""

from __future__ import annotations

import pytest

from pytest_glleak.settings import OPTIONS


def test_help_lists_every_option_and_ini_key(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    text = result.stdout.str()
    for option in OPTIONS:
        assert option.flag in text
        if option.negative_flag:
            assert option.negative_flag in text
        if option.ini:
            assert option.ini in text
