"""The symbolic reading of a rule: one step as Z3 terms over fresh variables.

`symbolic_step(rule, version)` runs the rule once on the Z3 backend with a
fresh pre-state and fresh inputs and caches the resulting terms. The checker
builds transition relations from these; `SymbolicStep.apply` evaluates the
same terms under concrete values, which is how the Z3 interpretation replays
a scenario and how tests compare it with the concrete one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import z3
from pmcheck.model import endpoint_table  # noqa: F401  (registers the rules)
from pmcheck.model.inputs import INPUT_WIDTHS, NO_ADDR, NO_LIMITS, Outcome
from pmcheck.model.rules import RULES, Ctx, Inputs
from pmcheck.model.state import State, bind, fresh, initial_state, substitute
from pmcheck.model.z3_ops import Z3Ops

from pmcheck.versions import KernelVersion

OUTCOME_TEMPLATE = Outcome(0, 0, 0)
INPUTS_TEMPLATE = Inputs(NO_ADDR, NO_LIMITS)


@dataclass(frozen=True)
class SymbolicStep:
    rule: str
    pre: State  # variables
    inputs: Inputs  # variables
    post: State  # terms over pre and inputs
    outcome: Outcome  # terms over pre and inputs

    def apply(self, state: State, inputs: Inputs) -> tuple[State, Outcome]:
        """Evaluate the encoding at a concrete state and concrete inputs."""
        pairs = bind(self.pre, state) + bind(self.inputs, inputs, widths=INPUT_WIDTHS)
        return (substitute(self.post, pairs),
                substitute(self.outcome, pairs, widths=INPUT_WIDTHS))

    def size(self) -> int:
        """Number of distinct AST nodes in the post-state and outcome terms."""
        seen: set[int] = set()
        stack: list[z3.ExprRef] = []
        from pmcheck.model.state import leaves

        stack.extend(t for _, _, t in leaves(self.post))
        stack.extend(t for _, _, t in leaves(self.outcome, widths=INPUT_WIDTHS))
        while stack:
            t = stack.pop()
            key = t.get_id()
            if key in seen:
                continue
            seen.add(key)
            stack.extend(t.children())
        return len(seen)


@cache
def symbolic_step(rule: str, version: KernelVersion, prefix: str = "") -> SymbolicStep:
    ops = Z3Ops()
    pre = fresh(initial_state(), f"{prefix}s.")
    inputs = fresh(INPUTS_TEMPLATE, f"{prefix}i.", widths=INPUT_WIDTHS)
    post, outcome = RULES[rule](Ctx(ops, version), pre, inputs)
    outcome = Outcome(*(_as_term(ops, v, 8) for v in outcome))
    return SymbolicStep(rule, pre, inputs, post, outcome)


def _as_term(ops: Z3Ops, v: Any, width: int) -> Any:
    return v if isinstance(v, z3.ExprRef) else ops.const(int(v), width)
