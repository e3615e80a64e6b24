"""CI outputs built from the ``--glleak-json`` document: GitHub Actions annotations and step summary,
GitLab Code Quality, and the comparison of two runs."""
