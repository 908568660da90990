"""Compare two runs of one scenario, step by step: the first mismatch wins."""

from __future__ import annotations

from dataclasses import dataclass

from pmcheck.results import PeerView, Run, errno_text

# What must agree after every step. Extack texts are compared only when both
# sides report one (pyroute2 does not always surface the kernel's).
# With an in-kernel peer, its endpoints, limits and connections too ("peer").
FIELDS = ("errno", "new_id", "reply", "endpoints", "limits", "conns", "peer")


@dataclass(frozen=True)
class Mismatch:
    index: int
    line: int
    text: str
    field: str
    left: object
    right: object


def first_mismatch(left: Run, right: Run) -> Mismatch | None:
    for a, b in zip(left.outcomes, right.outcomes, strict=True):
        for name in FIELDS:
            if getattr(a, name) != getattr(b, name):
                return Mismatch(a.index, a.line, a.text, name, getattr(a, name), getattr(b, name))
        if a.extack and b.extack and a.extack != b.extack:
            return Mismatch(a.index, a.line, a.text, "extack", a.extack, b.extack)
    return None


def describe_value(field: str, value: object) -> str:
    if isinstance(value, PeerView):
        return value.describe()
    if field in ("endpoints", "reply", "conns") and isinstance(value, tuple):
        return "; ".join(r.describe() for r in value) or "(none)"
    if field == "errno" and isinstance(value, int):
        return errno_text(value)
    return str(value)
