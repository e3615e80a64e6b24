"""The command line: ``python -m glthumbs contact-sheet IMAGES... -o sheet.png [options]``.

Renders headless in an offscreen EGL context created by pytest-glleak's context code
(``pytest_glleak.gl.create_context``), the same code path the plugin's ``gl_context`` fixture uses.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_NO_CONTEXT = 3


def _size(text: str) -> tuple[int, int]:
    width, separator, height = text.lower().partition("x")
    try:
        size = int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 128x96, not {text!r}") from None
    if not separator or size[0] < 1 or size[1] < 1:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT with positive sides, not {text!r}")
    return size


def _color(text: str) -> tuple[int, int, int, int]:
    from PIL import ImageColor

    try:
        rgba = ImageColor.getcolor(text, "RGBA")
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a colour: {text!r}") from None
    assert isinstance(rgba, tuple)
    return rgba[0], rgba[1], rgba[2], rgba[3]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one sub-command, ``contact-sheet``)."""
    from glthumbs.scaling import FILTERS

    parser = argparse.ArgumentParser(prog="python -m glthumbs", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sheet = commands.add_parser("contact-sheet", help="render a grid of thumbnails into one PNG")
    sheet.add_argument("images", nargs="+", help="image files (PNG, JPEG, GIF, WebP, BMP)")
    sheet.add_argument("-o", "--output", required=True, help="where to write the sheet (PNG)")
    sheet.add_argument("--columns", type=int, default=4, help="thumbnails per row (default 4)")
    sheet.add_argument("--thumb", type=_size, default=(128, 128), metavar="WxH", help="cell size (128x128)")
    sheet.add_argument("--padding", type=int, default=8, help="pixels between cells (default 8)")
    sheet.add_argument("--labels", action="store_true", help="write each file name under its thumbnail")
    sheet.add_argument("--scale", choices=("fit", "fill"), default="fit", help="fit inside or fill the cell")
    sheet.add_argument("--filter", choices=sorted(FILTERS), default="lanczos", help="Pillow resampling")
    sheet.add_argument("--background", type=_color, default="#202020ff", help="sheet colour (#202020ff)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0, 2 for usage errors, 3 without a GL context)."""
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if arguments.columns < 1 or arguments.padding < 0:
        parser.error("--columns must be 1 or more and --padding 0 or more")
    missing = [path for path in arguments.images if not os.path.isfile(path)]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    try:
        from pytest_glleak.gl import ContextUnavailable, create_context
    except ImportError:
        print("glthumbs: the command line needs pytest-glleak (pip install 'glthumbs[cli]')", file=sys.stderr)
        return EXIT_NO_CONTEXT
    try:
        context = create_context("egl", profile="core", size=(16, 16))
    except ContextUnavailable as exc:
        print(f"glthumbs: no OpenGL context: {exc}", file=sys.stderr)
        return EXIT_NO_CONTEXT
    try:
        from PIL import UnidentifiedImageError

        from glthumbs.sheet import render_contact_sheet

        try:
            picture = render_contact_sheet(
                arguments.images,
                columns=arguments.columns,
                thumb=arguments.thumb,
                padding=arguments.padding,
                labels=arguments.labels,
                background=arguments.background,
                resample=arguments.filter,
                scale=arguments.scale,
            )
        except (UnidentifiedImageError, OSError) as exc:
            print(f"glthumbs: cannot read an image: {exc}", file=sys.stderr)
            return EXIT_USAGE
        try:
            picture.save(arguments.output, format="PNG")
        finally:
            picture.close()
    finally:
        context.destroy()
    print(f"wrote {arguments.output} ({len(arguments.images)} images)")
    return EXIT_OK
