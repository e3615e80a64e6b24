"""``python -m glthumbs contact-sheet IMAGES... -o sheet.png``: see :mod:`glthumbs.cli`."""

from __future__ import annotations

import os

# PyOpenGL fixes its platform at the first `import OpenGL.GL`: headless EGL unless the caller chose.
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

from glthumbs.cli import main

raise SystemExit(main())
