"""The explicit-state oracle: breadth-first search of the concrete model.

Independent of Z3: it enumerates the scope's inputs and applies the concrete
rules, so a bug in the symbolic encoding cannot hide in it. Its blind spot
is the one it shares with the engines: a rule that is wrong in the model is
wrong for both (the live-kernel tests cover that).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from pmcheck.checker.scope import Scope
from pmcheck.checker.system import RuleStep
from pmcheck.model import catalog  # noqa: F401  (registers the rules)
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.model.environment import choice_of, pending_actions
from pmcheck.model.rules import RULES, Ctx
from pmcheck.properties.base import Property

ENVIRONMENT = "environment"


@dataclass(frozen=True)
class OracleResult:
    prop: str
    violated_at: int | None  # shortest depth of a violation, None if none found
    path: tuple[RuleStep, ...]
    complete: bool  # the whole reachable state space was explored
    states: int


def explore(
    scope: Scope,
    props: list[Property],
    max_states: int = 200_000,
    max_depth: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, OracleResult]:
    topo = scope.topology()
    ctx = Ctx(CONCRETE, scope.version, topo)
    init = scope.initial_state()
    inputs = {rule: list(scope.inputs(rule)) for rule in scope.rules()}
    parent: dict = {init: None}
    depth = {init: 0}
    found: dict[str, tuple[int, object]] = {}
    queue = deque([init])
    complete = True
    while queue:
        state = queue.popleft()
        for p in props:
            if p.name not in found and not p.holds(CONCRETE, state):
                found[p.name] = (depth[state], state)
        if max_depth is not None and depth[state] >= max_depth:
            complete = False
            continue
        pending = pending_actions(CONCRETE, state, topo) if scope.connections else []
        calm = not any(a.when for a in pending)
        for rule, choices in inputs.items():
            if not scope.enabled(CONCRETE, state, rule, calm):  # the guard System.trans uses
                continue
            if rule == ENVIRONMENT and len(choices) > 1:
                # Every order: only the pending actions (any other choice
                # runs the default order, i.e. one of these again).
                due = {choice_of(a) for a in pending if a.when}
                choices = [c for c in choices if c.event in due]
            for inp in choices:
                nxt, _ = RULES[rule](ctx, state, inp)
                if nxt in parent or not scope.keeps(CONCRETE, nxt):
                    continue
                parent[nxt] = (state, RuleStep(rule, inp))
                depth[nxt] = depth[state] + 1
                queue.append(nxt)
                if len(parent) % 100_000 == 0 and progress:
                    progress(len(parent), depth[nxt])
                if len(parent) > max_states:
                    complete = False
                    queue.clear()
                    break
            if not queue and not complete:
                break
    out = {}
    for p in props:
        if p.name in found:
            d, st = found[p.name]
            out[p.name] = OracleResult(p.name, d, _path(parent, st), complete, len(parent))
        else:
            out[p.name] = OracleResult(p.name, None, (), complete, len(parent))
    return out


def _path(parent: dict, state: object) -> tuple[RuleStep, ...]:
    steps = []
    while parent[state] is not None:
        state, step = parent[state]
        steps.append(step)
    return tuple(reversed(steps))
