"""The known-leak baseline: a committed JSON file of accepted leaks, for adopting the gate gradually.

File format (``format_version`` 1), keys sorted, one entry per test that leaked or grew::

    {
      "format": "pytest-glleak-baseline",
      "format_version": 1,
      "environment": {"renderer": "llvmpipe (LLVM 15.0.6, 256 bits)", "vendor": "Mesa", ...},
      "tests": {
        "tests/test_view.py::test_upload": {
          "leaks": [{"kind": "texture", "site": "viewer/render.py:88 in upload", "count": 3}],
          "memory": {"per_iteration": 1048576},
          "grew_at": [{"what": "numpy", "site": "viewer/cache.py:40 in load", "bytes_per_iteration": 1048576}]
        }
      }
    }

A leak's ``site`` is the innermost frame of its creation site, ``file:line in function``. A test's
leaks pass when each (kind, site) is in its entry with at least the count seen; growth figures pass
within a relative tolerance. ``grew_at`` (optional) keys a test's memory growth by where it grows (the
growth diagnosis: Python/NumPy allocation sites, GL kinds and image kinds with their creation sites): when
the test grows again, growth at a recorded site passes within the tolerance, and growth at any other site
is a regression, whatever the total. No pytest imports: ``load_baseline`` raises :class:`BaselineError`,
which the plugin turns into a usage error.

The package: :mod:`.entries` (format constants, site keys, the accepted entries), :mod:`.matching` (the
:class:`Baseline` and how a test's findings match it), :mod:`.file` (reading and writing the file) and
:mod:`.update` (the baseline rewritten from a run). Import from here.
"""

from __future__ import annotations

from pytest_glleak.report.baseline.entries import (
    BASELINE_FORMAT,
    BASELINE_VERSION,
    DEFAULT_TOLERANCE,
    ENVIRONMENT_KEYS,
    LEAK_KINDS,
    UNKNOWN_SITE,
    BaselineEntry,
    BaselineError,
    BaselineVerdict,
    KnownGrowth,
    KnownLeak,
    moved_key,
    site_key,
    site_shown,
)
from pytest_glleak.report.baseline.file import (
    baseline_text,
    environment_mismatch,
    load_baseline,
    missing_baseline_message,
    parse_baseline,
    write_baseline,
)
from pytest_glleak.report.baseline.matching import Baseline, grew, growth_sites, leak_counts
from pytest_glleak.report.baseline.update import updated_baseline

__all__ = [
    "BASELINE_FORMAT",
    "BASELINE_VERSION",
    "DEFAULT_TOLERANCE",
    "ENVIRONMENT_KEYS",
    "LEAK_KINDS",
    "UNKNOWN_SITE",
    "Baseline",
    "BaselineEntry",
    "BaselineError",
    "BaselineVerdict",
    "KnownGrowth",
    "KnownLeak",
    "baseline_text",
    "environment_mismatch",
    "grew",
    "growth_sites",
    "leak_counts",
    "load_baseline",
    "missing_baseline_message",
    "moved_key",
    "parse_baseline",
    "site_key",
    "site_shown",
    "updated_baseline",
    "write_baseline",
]
