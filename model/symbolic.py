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

import z3

from pmcheck.model import catalog  # noqa: F401  (registers the rules)
from pmcheck.model.backend import Value
from pmcheck.model.inputs import INPUT_WIDTHS, NO_ADDR, NO_EVENT, NO_LIMITS, Outcome
from pmcheck.model.rules import RULES, Ctx, Inputs
from pmcheck.model.state import BOOL, State, bind, fresh, initial_state, leaves, rebuild
from pmcheck.model.topology import Topology
from pmcheck.model.versions import KernelVersion
from pmcheck.model.z3_ops import Z3Ops

OUTCOME_TEMPLATE = Outcome(0, 0, 0)
INPUTS_TEMPLATE = Inputs(NO_ADDR, NO_LIMITS, NO_EVENT)


@dataclass(frozen=True)
class SymbolicStep:
    rule: str
    pre: State  # variables
    inputs: Inputs  # variables
    post: State  # terms over pre and inputs
    outcome: Outcome  # terms over pre and inputs

    def apply(self, state: State, inputs: Inputs) -> tuple[State, Outcome]:
        """Evaluate the encoding at a concrete state and concrete inputs.

        All result leaves are packed into one bit-vector so Z3 substitutes and
        simplifies the shared term DAG once, not once per field."""
        pairs = bind(self.pre, state) + bind(self.inputs, inputs, widths=INPUT_WIDTHS)
        value = z3.simplify(z3.substitute(self._packed, *pairs))
        if not z3.is_bv_value(value):
            raise ValueError(f"{self.rule}: encoding did not evaluate to a value")
        bits = value.as_long()
        fields = []
        for width in reversed(self._widths):
            w = max(width, 1)
            fields.append(bits & ((1 << w) - 1) if width else bool(bits & 1))
            bits >>= w
        fields.reverse()
        it = iter(fields)
        post = rebuild(self.post, lambda _p, _w, _t: next(it))
        outcome = rebuild(self.outcome, lambda _p, _w, _t: next(it), widths=INPUT_WIDTHS)
        return post, outcome

    @property
    def _widths(self) -> list[int]:
        return [w for _, w, _ in leaves(self.post)] + [
            w for _, w, _ in leaves(self.outcome, widths=INPUT_WIDTHS)
        ]

    @property
    def _packed(self) -> z3.BitVecRef:
        cached = self.__dict__.get("_packed_term")
        if cached is None:
            parts = [_as_bv(t, w) for _, w, t in leaves(self.post)]
            parts += [_as_bv(t, w) for _, w, t in leaves(self.outcome, widths=INPUT_WIDTHS)]
            cached = z3.Concat(*parts)
            object.__setattr__(self, "_packed_term", cached)
        return cached

    def size(self) -> int:
        """Number of distinct AST nodes in the post-state and outcome terms."""
        seen: set[int] = set()
        stack: list[z3.ExprRef] = []
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
def symbolic_step(
    rule: str,
    version: KernelVersion,
    topo: Topology | None = None,
    conns: int = 1,
    prefix: str = "",
    endpoint_slots: int = 8,
    subflow_slots: int = 8,
) -> SymbolicStep:
    """The rule's one-step encoding for a topology and numbers of slots
    (cached: built once per combination)."""
    ops = Z3Ops()
    topo = topo or Topology()
    pre = fresh(
        initial_state(
            conns=conns,
            subflow_slots=subflow_slots,
            endpoint_slots=endpoint_slots,
            peer_kernel=topo.peer_kernel,
        ),
        f"{prefix}s.",
    )
    inputs = fresh(INPUTS_TEMPLATE, f"{prefix}i.", widths=INPUT_WIDTHS)
    post, outcome = RULES[rule](Ctx(ops, version, topo), pre, inputs)
    outcome = Outcome(*(_as_term(ops, v, 8) for v in outcome))
    return SymbolicStep(rule, pre, inputs, post, outcome)


def _as_bv(term: z3.ExprRef, width: int) -> z3.BitVecRef:
    if width == BOOL:
        return z3.If(term, z3.BitVecVal(1, 1), z3.BitVecVal(0, 1))
    return term


def _as_term(ops: Z3Ops, v: Value, width: int) -> Value:
    return v if isinstance(v, z3.ExprRef) else ops.const(int(v), width)
