"""Errors in scenario input: always a place and a problem, never a traceback."""

from __future__ import annotations

from pmcheck.scenario.ast import Loc


class ScenarioError(Exception):
    """A malformed scenario. The CLI prints `file:line:col: error: message`
    and exits with code 2."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(f"{loc}: error: {message}")
        self.loc = loc
        self.message = message
