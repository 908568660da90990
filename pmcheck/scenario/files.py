"""Reading a scenario file: the text form, or the JSON form for `.json`."""

from __future__ import annotations

from pathlib import Path

from pmcheck.scenario.ast import Loc, Scenario
from pmcheck.scenario.errors import ScenarioError
from pmcheck.scenario.json_form import from_json_text
from pmcheck.scenario.parser import parse_text


def parse_file(path: str | Path) -> Scenario:
    """Parse a scenario file: text, or the JSON form when it ends in .json."""
    p = Path(path)
    try:
        data = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(Loc(str(p), 0, 0), f"cannot read: {e}") from None
    if p.suffix == ".json":
        return from_json_text(data, str(p))
    return parse_text(data, str(p))
