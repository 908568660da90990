"""CI reports, all rendered from the same `Record`s (pmcheck.checker.records):
JUnit XML, SARIF 2.1.0, GitHub Actions annotations and a Markdown summary."""
