"""`pmcheck versions --property P`: where the kernel versions disagree on a
property, and a shortest trace that separates them.

BMC runs on each version's model in the property's default scope (the
namespace scope, or the connection scope for per-connection properties).
Every violating trace is then replayed on the other versions' models: a
trace that violates on one version and not on another separates them, and
it is a scenario, so `pmcheck diff --kernel V` shows the same split on a
kernel of version V.
"""

from __future__ import annotations

from dataclasses import dataclass

from pmcheck.checker.engines import SolverLimits, bmc
from pmcheck.checker.scope import checked_scope, default_scope
from pmcheck.checker.system import RuleStep, System
from pmcheck.checker.verdict import Result, Verdict
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.model.versions import KernelVersion
from pmcheck.properties.base import Property


@dataclass(frozen=True)
class Split:
    """The property's verdict per version and, per violating trace, on
    which versions that very trace violates."""

    prop: Property
    results: dict[KernelVersion, Result]  # versions where the property is checked
    replays: dict[KernelVersion, dict[KernelVersion, bool]]  # trace of V -> violates on W

    @property
    def differ(self) -> bool:
        verdicts = {r.verdict is Verdict.VIOLATED for r in self.results.values()}
        return len(verdicts) > 1 or any(len(set(row.values())) > 1 for row in self.replays.values())


def violates(system: System, prop: Property, steps: tuple[RuleStep, ...]) -> bool:
    """Does the trace violate `prop` at some state on `system`'s model?"""
    return any(not prop.holds(CONCRETE, s) for s in system.replay(list(steps)))


def split(
    prop: Property, depth: int, limits: SolverLimits, versions: list[KernelVersion] | None = None
) -> Split:
    """Verdict per version (default: every released one) and which versions
    each violating trace violates on."""
    chosen = versions if versions is not None else list(KernelVersion)
    systems = {
        v: System(checked_scope(prop, default_scope(prop, v))) for v in chosen if prop.applies(v)
    }
    results = {v: bmc(s, prop, depth, limits) for v, s in systems.items()}
    replays = {
        v: {w: violates(systems[w], prop, r.trace) for w in systems}
        for v, r in results.items()
        if r.verdict is Verdict.VIOLATED
    }
    return Split(prop, results, replays)
