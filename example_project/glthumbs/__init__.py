"""glthumbs: thumbnails and contact sheets rendered with OpenGL, the example project of pytest-glleak.

Modules: :mod:`~glthumbs.loading` (decode any image to RGBA), :mod:`~glthumbs.scaling` (fit, fill),
:mod:`~glthumbs.texture` (``Texture``), :mod:`~glthumbs.renderer` (``Renderer``), :mod:`~glthumbs.caches`
(``ImageCache``, ``TextureCache``), :mod:`~glthumbs.sheet` (``render_contact_sheet``), :mod:`~glthumbs.view`
(``Gallery``, ``ThumbnailView``) and the command line (``python -m glthumbs contact-sheet``).
:mod:`glthumbs.leaky` is a deliberately leaky variant for demonstrating pytest-glleak.

Importing the package itself loads no OpenGL, so a program can still choose PyOpenGL's platform
(``PYOPENGL_PLATFORM``) after ``import glthumbs``.
"""

from __future__ import annotations

__version__ = "0.1.0"
