"""Replaying a trace on the concrete model: the judge of every counterexample.

The checker's solver found the path; nothing here trusts it. A `Replayer`
applies each step's rule with the concrete backend from the scope's initial
state, exactly as `System.replay` does, and also keeps each step's outcome
(errno, extack, new id) for the renderings. `settle` re-derives the
environment's steps after each user step (the checker's "eager" mode, the
scenario interpreter's `settle`), so the minimizer can drop user steps and
let the world's reactions follow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from pmcheck.checker.scope import Scope
from pmcheck.checker.system import RuleStep, System
from pmcheck.interp import settle_steps
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.model.environment import Action, choice_of
from pmcheck.model.inputs import (
    NO_ADDR,
    NO_EVENT,
    NO_LIMITS,
    AddrInput,
    EventInput,
    LimitsInput,
    Outcome,
)
from pmcheck.model.rules import RULES, Inputs
from pmcheck.model.state import State
from pmcheck.properties.base import Property

ENVIRONMENT = "environment"  # the checker's composite world step
# The rules the world runs by itself (what `environment` picks from); a
# trace may also name them directly.
ENVIRONMENT_RULES = frozenset(
    {ENVIRONMENT, "worker", "join result", "add_addr echo", "add_addr timeout"}
)
NO_INPUTS = Inputs(NO_ADDR, NO_LIMITS, NO_EVENT)
SETTLE_LIMIT = 256  # environment steps per user step (as pmcheck.interp)


def is_environment(step: RuleStep) -> bool:
    return step.rule in ENVIRONMENT_RULES


# --- scope and inputs as plain data -------------------------------------------------


def _plain(v: Any) -> Any:
    """JSON-shaped data: tuples become lists, enums their value."""
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if hasattr(v, "value") and not isinstance(v, int | str | bool):
        return v.value
    return v


def _tuples(v: Any) -> Any:
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v


def scope_to_data(scope: Scope) -> dict[str, Any]:
    return {f.name: _plain(getattr(scope, f.name)) for f in dataclasses.fields(scope)}


def scope_from_data(data: dict[str, Any]) -> Scope:
    """The Scope a trace was checked in. Fields this pmcheck's Scope does not
    know are ignored (a newer trace), fields it has but the trace lacks keep
    their defaults (an older one); replay then says whether it still violates."""
    known = {f.name for f in dataclasses.fields(Scope)}
    kw = {k: _tuples(v) for k, v in data.items() if k in known and k != "version"}
    from pmcheck.patches import resolve

    # A trace may name registered patches (a ledger fix), never a file.
    return Scope(resolve(data["version"], files=False), **kw)  # type: ignore[arg-type]


def inputs_to_data(inputs: Inputs) -> dict[str, Any]:
    return {
        "addr": inputs.addr._asdict(),
        "limits": inputs.limits._asdict(),
        "event": inputs.event._asdict(),
    }


def inputs_from_data(data: dict[str, Any]) -> Inputs:
    return Inputs(
        AddrInput(**data["addr"]), LimitsInput(**data["limits"]), EventInput(**data["event"])
    )


# --- replay ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Replay:
    """States (states[0] initial) and each step's outcome."""

    steps: tuple[RuleStep, ...]
    states: tuple[State, ...]
    outcomes: tuple[Outcome, ...]


class Replayer:
    """Concrete replay in one scope (the `replay function` the minimizer
    takes): rules applied with the System's concrete context."""

    def __init__(self, system: System, scope: Scope | None = None) -> None:
        self.system = system
        self.scope = scope  # its guards (Scope.enabled), when it has them
        self.ctx = system.concrete_ctx
        self.template: State = system.template

    @classmethod
    def for_scope(cls, scope: Scope) -> Replayer:
        return cls(System(scope), scope)

    def apply(self, state: State, step: RuleStep) -> tuple[State, Outcome]:
        return RULES[step.rule](self.ctx, state, step.inputs)

    def run(self, steps: Sequence[RuleStep]) -> Replay:
        states, outs = [self.template], []
        for step in steps:
            after, out = self.apply(states[-1], step)
            states.append(after)
            outs.append(out)
        return Replay(tuple(steps), tuple(states), tuple(outs))

    def pending(self, state: State) -> tuple[str, Inputs] | None:
        """The world's next move in `state`, or None when it is quiescent."""
        if not state.conns:
            return None
        from pmcheck.interp import environment_step

        return environment_step(state, self.ctx.topo)

    def settle(self, user_steps: Sequence[RuleStep]) -> list[RuleStep]:
        """`user_steps` with the environment's steps re-derived after each:
        it runs to quiescence, one `environment` step per action (or the
        named action's rule where the model has no composite step)."""
        out: list[RuleStep] = []
        state = self.template

        def taken(rule: str, inputs: Inputs, _after: State) -> None:
            out.append(RuleStep(ENVIRONMENT, self.composite(state, rule, inputs)))

        for step in user_steps:
            out.append(step)
            state, _ = self.apply(state, step)
            state, calm = settle_steps(self.rule_apply, state, self.ctx.topo, SETTLE_LIMIT, taken)
            if not calm:
                raise ValueError(f"the model did not settle within {SETTLE_LIMIT} steps")
        return out

    def rule_apply(self, rule: str, state: State, inputs: Inputs) -> tuple[State, Outcome]:
        return RULES[rule](self.ctx, state, inputs)

    @staticmethod
    def composite(state: State, rule: str, inputs: Inputs) -> Inputs:
        """The `environment` input that runs the default order's next action
        (`rule` with `inputs`): with an in-kernel peer it names that action,
        so the trace says which delivery it was; else the plain default."""
        if not state.peer:
            return NO_INPUTS
        named = choice_of(Action(True, rule, inputs.event))._replace(flag=True)
        return NO_INPUTS._replace(event=named)

    def in_scope(self, states: Sequence[State], steps: Sequence[RuleStep] = ()) -> bool:
        """The path is one of the scope's: every state fits its endpoint slots
        with no subflow/announcement overflow, and each step was enabled in
        the state before it (Scope.enabled: e.g. user steps only once the
        world is quiescent). A minimized trace must stay a path of the
        system the checker explored."""
        slots = len(self.template.netns.endp)
        if not all(
            s.netns.endpoints <= slots and not any(c.overflow for c in s.conns) for s in states
        ):
            return False
        enabled = getattr(self.scope, "enabled", None)
        if enabled is None:
            return True
        return all(
            enabled(CONCRETE, before, step.rule)
            for before, step in zip(states, steps, strict=False)
        )


def first_violation(prop: Property, states: Sequence[State]) -> int | None:
    """Index of the first state where the property is false, or None."""
    for i, s in enumerate(states):
        if not prop.holds(CONCRETE, s):
            return i
    return None
