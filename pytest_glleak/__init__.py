"""pytest-glleak: leaked OpenGL objects and decoded image buffers fail tests."""

from __future__ import annotations

__version__ = "0.1.0"
