"""GitHub Actions workflow commands: one annotation per property x kernel
version that is not a plain pass, at the property's line.

`::error` for a failure (new or fixed violation) or an error (UNKNOWN,
unproved); `::notice` for a violation recorded in the baseline. Escaping as
the runner requires: in the message `%`, CR and LF; in property values also
`:` and `,`.
"""

from __future__ import annotations

import os

from pmcheck.checker.records import ERROR, FAILURE, Record
from pmcheck.reports.common import details, property_location


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(rec: Record) -> str | None:
    if rec.outcome in (FAILURE, ERROR):
        command = "error"
    elif rec.known_violation:
        command = "notice"
    else:
        return None
    path, line = property_location(rec.prop)
    title = f"{rec.name} {rec.result.verdict.value}"
    if rec.cached:
        title += " (cached)"
    props = ",".join(
        f"{k}={escape_property(v)}"
        for k, v in (("file", path), ("line", str(line)), ("title", title))
    )
    return f"::{command} {props}::{escape_data(details(rec))}"


def annotations(records: list[Record]) -> list[str]:
    return [a for a in map(annotation, records) if a is not None]


def enabled(flag: bool | None) -> bool:
    """--github / --no-github, else on when running under GitHub Actions."""
    return flag if flag is not None else os.environ.get("GITHUB_ACTIONS") == "true"
