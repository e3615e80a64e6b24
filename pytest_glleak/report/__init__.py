"""Everything after the verdict: run data, the terminal section, JSON, JUnit, HTML, the baseline, output
files, and the words of every message.

:mod:`~pytest_glleak.report.collector` is the only module here that imports pytest; the rest are plain
functions over the findings of :mod:`pytest_glleak.findings`.
"""
