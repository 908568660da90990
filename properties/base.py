"""The property API: a named invariant written once over `Ops`.

A property's `holds(ops, state)` is read concretely (the explicit-state
oracle, trace replay) and symbolically (BMC, k-induction, PDR), like a rule.
`premise` says when the property says something non-trivial; the checker
finds a reachable state satisfying it (a trigger witness), so no property
passes vacuously. `expected` records the verdict per kernel version, so CI
fails on a new violation and on a fixed one, not on the known ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pmcheck.model.backend import Ops, Value
from pmcheck.model.state import State
from pmcheck.model.versions import KernelVersion

Predicate = Callable[[Ops, State], Value]

PROVED = "PROVED"
VIOLATED = "VIOLATED"
# Holds as far as BMC looked, and no proof is known in the scope (induction
# needs an invariant nobody has written yet). Met by HOLDS-TO-DEPTH or PROVED;
# a violation still fails CI, and so does UNKNOWN.
BOUNDED = "HOLDS-TO-DEPTH"


@dataclass(frozen=True)
class Property:
    name: str  # e.g. "P2-id-bitmap"
    statement: str  # one line, as a reviewer would say it
    cites: str  # the kernel code (function, file) and the notes' label
    holds: Predicate
    premise: Predicate
    expected: dict[KernelVersion, str] = field(default_factory=dict)
    group: str = "netns"
    needs_connections: bool = False
    # Which scope checks it (checker.scope.Scope.kind): "netns", "connection"
    # or "two-pm"; by default connection properties go to the connection scope.
    scope_kind: str = ""
    versions: frozenset[KernelVersion] = frozenset(KernelVersion)  # where it is checked
    # Why the premise cannot hold in the scope it is checked in, for a
    # property that is PROVED there on purpose; "" = a PROVED verdict needs
    # a trigger witness (pmcheck.checker.run.vacuity_gate).
    premise_unreachable: str = ""
    # Scope kinds where the property is not reported but offered to Houdini
    # as a lemma (an inductive invariant that may strengthen the others'
    # proofs); its own truth there is established by the same fixpoint.
    lemma_in: frozenset[str] = frozenset()
    # Candidate fixes of *other* ledger defects (registered names, e.g.
    # "fix-F3") applied while this property is checked: several defects
    # break the same counter, and with the others fixed a VIOLATED verdict
    # has exactly one root cause (pmcheck.checker.scope.checked_scope). A
    # trace that also violates on the unpatched kernel is reported there.
    assumes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.scope_kind:
            object.__setattr__(
                self, "scope_kind", "connection" if self.needs_connections else "netns"
            )
        if self.scope_kind == "two-pm":
            object.__setattr__(self, "needs_connections", True)

    def expect(self, version: KernelVersion) -> str:
        """The baseline on `version`; on a patched kernel, what the patch
        says where it says something, else the base version's."""
        return version.expectation(self.name) or self.expected.get(version.base, PROVED)

    def applies(self, version: KernelVersion) -> bool:
        """Checked on `version` (a patched kernel: where its base is)."""
        return version.base in self.versions


REGISTRY: dict[str, Property] = {}


def register(prop: Property) -> Property:
    if prop.name in REGISTRY:
        raise ValueError(f"property {prop.name!r} registered twice")
    REGISTRY[prop.name] = prop
    return prop


def count(ops: Ops, conds: list[Value]) -> Value:
    """Number of true conditions, as a u8."""
    total = ops.const(0, 8)
    for c in conds:
        total = ops.ite(c, ops.add(total, ops.const(1, 8), 8), total)
    return total
