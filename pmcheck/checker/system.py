"""The transition system: initial state, one step, properties, as Z3 terms.

One step = one rule chosen by a choice variable `c_k` (an index into the
scope's rule list) with inputs `i_k` constrained to the scope's domain, so a
model of a path decodes into rule names and inputs by evaluation. States
are fresh variables per step, linked by equalities with the rule's post-state.

In a connection scope, a state where the environment has work left allows
only the `environment` step (the world settles before anyone acts again, as
the scenario interpreter and the live testbed do; Scope.enabled); in a
quiescent state it is a stutter. Paths that need more subflow or announcement slots than the
scope has are cut (the state's `overflow` bit), as are bigger tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import z3

from pmcheck.checker.scope import ANY_ID, Scope
from pmcheck.model import catalog  # noqa: F401  (registers the rules)
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.model.environment import choice_of, pending_actions
from pmcheck.model.inputs import INPUT_WIDTHS
from pmcheck.model.rules import RULES, Ctx, Inputs
from pmcheck.model.state import ID_SET_FIELDS, WIDTHS, State, evaluate, fresh, leaves, lift
from pmcheck.model.symbolic import INPUTS_TEMPLATE
from pmcheck.model.topology import Topology
from pmcheck.model.z3_ops import Z3Ops
from pmcheck.properties.base import Property

OPS = Z3Ops()


@dataclass(frozen=True)
class RuleStep:
    """One decoded step of a path: the rule and its concrete inputs."""

    rule: str
    inputs: Inputs


class System:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.rules = scope.rules()
        self.template = scope.initial_state()
        topo: Topology = scope.topology()
        # Narrow id bitmaps where the scope keeps every id small (Z3Ops doc).
        self.ops = OPS if scope.bitmap_width == 256 else Z3Ops(bitmap_width=scope.bitmap_width)
        self.widths = {**WIDTHS, **dict.fromkeys(ID_SET_FIELDS, scope.bitmap_width)}
        self.ctx = Ctx(self.ops, scope.version, topo)
        self.concrete_ctx = Ctx(CONCRETE, scope.version, topo)

    # --- variables -----------------------------------------------------------
    def state(self, k: int | str) -> State:
        return fresh(self.template, f"s{k}.", widths=self.widths)

    def inputs(self, k: int | str) -> Inputs:
        return fresh(INPUTS_TEMPLATE, f"i{k}.", widths=INPUT_WIDTHS)

    def choice(self, k: int | str) -> z3.BitVecRef:
        return z3.BitVec(f"c{k}", 8)

    # --- formulas ------------------------------------------------------------
    def init(self, s: State) -> z3.BoolRef:
        return equal(s, lift(self.template, widths=self.widths))

    def holds(self, prop: Property, s: State) -> z3.BoolRef:
        return self.ops.and_(prop.holds(self.ops, s))

    def premise(self, prop: Property, s: State) -> z3.BoolRef:
        return self.ops.and_(prop.premise(self.ops, s))

    def trans(self, s: State, i: Inputs, c: z3.BitVecRef, t: State) -> z3.BoolRef:
        """t is the state after one in-scope rule from s."""
        dims = self.scope.dimensions()
        parts = [z3.ULT(c, len(self.rules))]
        post: State | None = None
        for r, name in reversed(list(enumerate(self.rules))):
            # Inputs the rule's dimensions do not name stay 0: one canonical
            # input per choice, so traces read cleanly.
            unnamed = [
                v == 0 if w else z3.Not(v)
                for path, w, v in leaves(i, widths=INPUT_WIDTHS)
                if not _named(path, dims[name])
            ]
            parts.append(
                z3.Implies(
                    c == r,
                    z3.And(
                        in_domain(i, dims[name]),
                        *unnamed,
                        self.ops.and_(self.scope.enabled(self.ops, s, name)),
                    ),
                )
            )
            after, _ = RULES[name](self.ctx, s, i)
            post = after if post is None else self.ops.ite(c == r, after, post)
        parts.append(equal(t, post))
        parts.append(self.ops.and_(self.scope.keeps(self.ops, t)))
        return z3.And(*parts)

    # --- decoding and replay ----------------------------------------------------
    def decode(self, model: z3.ModelRef, steps: int) -> list[RuleStep]:
        out = []
        for k in range(steps):
            rule = self.rules[model.eval(self.choice(k), model_completion=True).as_long()]
            inputs = evaluate(self.inputs(k), model, widths=INPUT_WIDTHS)
            out.append(RuleStep(rule, inputs))
        return self.name_environment_steps(out)

    def name_environment_steps(self, steps: list[RuleStep]) -> list[RuleStep]:
        """With an in-kernel peer, make each environment step name the action
        that ran (a choice of an action not pending runs the default one),
        so a trace says what was delivered when."""
        if not self.scope.peer_kernel:
            return steps
        out, state = [], self.template
        for step in steps:
            if step.rule == "environment":
                pending = [a for a in pending_actions(CONCRETE, state, self.ctx.topo) if a.when]
                chosen = [
                    a for a in pending if choice_of(a) == step.inputs.event._replace(flag=False)
                ]
                taken = (chosen or pending)[:1]
                if taken:  # `flag` marks a choice decode named (checker.lines)
                    named = choice_of(taken[0])._replace(flag=True)
                    step = RuleStep(step.rule, step.inputs._replace(event=named))
            state, _ = RULES[step.rule](self.concrete_ctx, state, step.inputs)
            out.append(step)
        return out

    def replay(self, steps: list[RuleStep]) -> list[State]:
        """The concrete states along a path (never trust the solver alone)."""
        states = [self.template]
        for step in steps:
            after, _ = RULES[step.rule](self.concrete_ctx, states[-1], step.inputs)
            states.append(after)
        return states


def equal(a: Any, b: Any) -> z3.BoolRef:
    return z3.And(*[x == y for (_, _, x), (_, _, y) in zip(leaves(a), leaves(b), strict=True)])


def in_domain(i: Inputs, dims: list[list[dict[str, Any]]]) -> z3.BoolRef:
    conj = []
    for dim in dims:
        conj.append(
            z3.Or(
                *[
                    z3.And(*[_field(i, k) == v for k, v in choice.items() if v is not ANY_ID])
                    for choice in dim
                ]
            )
        )
    return z3.And(*conj) if conj else z3.BoolVal(True)


def _field(i: Inputs, path: str) -> Any:
    group, name = path.split(".")
    return getattr(getattr(i, group), name)


def _named(path: str, dims: list[list[dict[str, Any]]]) -> bool:
    return any(path in choice for dim in dims for choice in dim)
