"""Verdicts and results: typed, so the CLI maps them to exit codes and
renderers without comparing strings."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from pmcheck.checker.system import RuleStep


class Verdict(enum.Enum):
    PROVED = "PROVED"
    HOLDS_TO_DEPTH = "HOLDS-TO-DEPTH"
    VIOLATED = "VIOLATED"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class Result:
    prop: str
    verdict: Verdict
    engine: str
    seconds: float
    depth: int | None = None  # BMC depth reached / violation length / induction k
    trace: tuple[RuleStep, ...] = ()
    certificate: tuple[str, ...] = ()  # the invariants an inductive proof used
    reason: str = ""  # why UNKNOWN, or notes
    witness: tuple[RuleStep, ...] | None = field(default=None)  # trigger: premise reachable

    def describe(self) -> str:
        v = self.verdict.value
        if self.verdict is Verdict.HOLDS_TO_DEPTH:
            v = f"HOLDS-TO-DEPTH {self.depth}"
        elif self.verdict is Verdict.VIOLATED:
            v = f"VIOLATED at depth {self.depth} (shortest)"
        elif self.verdict is Verdict.PROVED and self.engine == "pdr":
            v = f"PROVED (PDR, re-checked {self.certificate[0]})"
        elif self.verdict is Verdict.PROVED:
            v = f"PROVED (k={self.depth}, certificate {len(self.certificate)} invariants)"
        elif self.reason:
            v = f"UNKNOWN ({self.reason})"
        return v
