"""``python -m pytest_glleak`` (also installed as ``glleak``): tools that work on saved reports.

``compare OLD.json NEW.json``: the leaks and memory growth that are new, fixed or changed between two
``--glleak-json`` reports. Exit status: 0 no regressions, 1 regressions, 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pytest_glleak.report.compare import ReportError, compare, load_report, markdown, text_lines
from pytest_glleak.values import parse_fraction


def _tolerance(text: str) -> float:
    try:
        return parse_fraction(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glleak", description="Tools for pytest-glleak JSON reports.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    compare_parser = commands.add_parser(
        "compare",
        help="compare two --glleak-json reports; exit 1 on regressions",
        description=(
            "Compare two --glleak-json reports (OLD: e.g. the main branch, NEW: the pull request). "
            "Leaks are matched per test by kind and creation site (a site whose line moved by file and "
            "function), as the known-leak baseline matches them. Exit status: 0 no regressions, 1 a new "
            "leak, a higher count, new memory growth or growth above the old figure beyond the "
            "tolerance, 2 unreadable input."
        ),
    )
    compare_parser.add_argument("old", metavar="OLD.json")
    compare_parser.add_argument("new", metavar="NEW.json")
    compare_parser.add_argument(
        "--markdown",
        nargs="?",
        const="-",
        default=None,
        metavar="PATH",
        help="write markdown (for a pull-request comment) to PATH, or to stdout instead of the text",
    )
    compare_parser.add_argument(
        "--tolerance",
        type=_tolerance,
        default=0.10,
        help="relative tolerance on memory-growth figures, e.g. 0.1 or 10%% (default 10%%)",
    )
    compare_parser.add_argument(
        "--old-root", default=None, metavar="DIR", help="rootdir of the old run (default: inferred)"
    )
    compare_parser.add_argument(
        "--new-root", default=None, metavar="DIR", help="rootdir of the new run (default: inferred)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        old = load_report(args.old)
        new = load_report(args.new)
    except ReportError as exc:
        print(f"glleak compare: error: {exc}", file=sys.stderr)
        return 2
    comparison = compare(old, new, args.tolerance, args.old_root, args.new_root)
    if args.markdown == "-":
        sys.stdout.write(markdown(comparison))
    else:
        print("\n".join(text_lines(comparison, args.old, args.new)))
        if args.markdown is not None:
            try:
                with open(args.markdown, "w", encoding="utf-8") as stream:
                    stream.write(markdown(comparison))
            except OSError as exc:
                print(
                    f"glleak compare: error: cannot write {args.markdown}: {exc.strerror or exc}",
                    file=sys.stderr,
                )
                return 2
    return 1 if comparison.regressed else 0


if __name__ == "__main__":
    sys.exit(main())
