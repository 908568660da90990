"""A Markdown summary of a run, for `$GITHUB_STEP_SUMMARY` (appended)."""

from __future__ import annotations

import os

from pmcheck.checker.records import ERROR, FAILURE, Record
from pmcheck.checker.verdict import Verdict
from pmcheck.reports.common import headline, trace_text

MARK = {"pass": "pass", FAILURE: "**FAIL**", ERROR: "**ERROR**"}
EXIT_MEANING = {
    0: "every verdict met its baseline",
    1: "a new or fixed violation",
    3: "UNKNOWN or unproved",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(records: list[Record], exit_code: int, title: str = "pmcheck check") -> str:
    counts = {k: sum(r.outcome == k for r in records) for k in ("pass", FAILURE, ERROR)}
    cached = sum(r.cached for r in records)
    lines = [
        f"## {title}: exit {exit_code} ({EXIT_MEANING.get(exit_code, '?')})",
        "",
        f"{len(records)} verdicts: {counts['pass']} pass, {counts[FAILURE]} failure, "
        f"{counts[ERROR]} error; {cached} from the verdict cache.",
        "",
        "| property | kernel | verdict | baseline | result | time |",
        "|---|---|---|---|---|---|",
    ]
    for rec in records:
        t = "cached" if rec.cached else f"{rec.result.seconds:.1f}s"
        outcome = MARK[rec.outcome]
        if rec.known_violation:
            outcome = "pass (known violation)"
        lines.append(
            f"| {_cell(rec.prop.name)} | {rec.version.value} | "
            f"{_cell(rec.result.describe())} | {rec.expected} | {outcome} | {t} |"
        )
    for rec in records:
        if rec.outcome == "pass" and not rec.known_violation:
            continue
        lines += [
            "",
            f"<details{' open' if rec.outcome != 'pass' else ''}><summary>"
            f"{_cell(headline(rec))}</summary>",
            "",
        ]
        if rec.result.verdict is Verdict.VIOLATED:
            lines += ["```", trace_text(rec), "```"]
        if rec.result.reason:
            lines += ["", f"reason: {_cell(rec.result.reason)}"]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def append_step_summary(text: str) -> bool:
    """Append to $GITHUB_STEP_SUMMARY when it is set; False when it is not."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a") as f:
        f.write(text)
    return True
