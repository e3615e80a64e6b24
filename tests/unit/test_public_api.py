"""The names users touch are importable from ``pytest_glleak``, cheaply."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pytest_glleak


def test_every_public_name_resolves_and_is_documented() -> None:
    for name in pytest_glleak.__all__:
        value = getattr(pytest_glleak, name)
        assert value is not None
        if name != "__version__":
            assert name in (pytest_glleak.__doc__ or ""), f"{name} missing from the module docstring"
    assert sorted(dir(pytest_glleak)) == sorted(pytest_glleak.__all__)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        pytest_glleak.Nope  # noqa: B018


def test_importing_the_package_loads_neither_opengl_nor_numpy() -> None:
    # PyOpenGL fixes its platform at first import: the plugin must choose it before anything imports it.
    code = "import sys, pytest_glleak; print(sorted(m for m in ('OpenGL', 'numpy', 'PIL') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_version_is_declared_once() -> None:
    from importlib.metadata import version

    assert version("pytest-glleak") == pytest_glleak.__version__
