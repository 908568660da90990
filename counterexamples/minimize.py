"""Minimal counterexamples: fewest steps, endpoints, connections, simplest values.

BMC already returns a shortest path. Shortest is not simplest: a path may
carry a step that is not needed at its length, an endpoint or connection the
violation does not depend on, or inputs (port 1000, id 255, four flags)
where plainer ones (no port, no id, one flag) violate the same way. The
passes, each re-checked on the concrete model:

1. delta debugging (ddmin) over the user's steps;
2. whole endpoints and connections at once (every step about one endpoint
   id, or one connection), which single-step removal cannot drop when the
   steps depend on each other; then ddmin again;
3. simplest values: each step's inputs replaced by the simplest one in the
   scope's input domain that still violates.

The units are the user's steps. Environment steps (the world's moves) are
never units: after every change they are re-derived by running the world to
quiescence after each user step (`Replayer.settle`), which is how the
checker's eager mode and the scenario interpreter produce them.

A candidate is accepted only if it replays, stays in the scope, violates
the property, and is strictly smaller in (steps, user steps, endpoints,
connections, value complexity): so the result violates and is never longer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pmcheck.checker.scope import Scope
from pmcheck.checker.system import RuleStep
from pmcheck.counterexamples.replay import Replayer, first_violation, is_environment
from pmcheck.counterexamples.trace import Figures
from pmcheck.model.inputs import INPUT_WIDTHS
from pmcheck.model.rules import RULES, Inputs
from pmcheck.model.state import State, leaves
from pmcheck.properties.base import Property

MAX_DOMAIN = 5000  # inputs enumerated per rule for the value pass
TIME_BUDGET_S = 30.0  # the passes stop (keeping the best so far) after this

Cost = tuple[int, int, int, int, int]


def input_complexity(inputs: Inputs) -> tuple[int, int]:
    """(set fields + flag bits, sum of values): no id < id 0 < id 1 < id 255,
    no port < port, one flag < two, IPv4 (family 2) < IPv6 (10), the first
    address key < the others."""
    count = total = 0
    for path, _, v in leaves(inputs, widths=INPUT_WIDTHS):
        n = int(v)
        count += bin(n).count("1") if path.endswith("flags") else int(n != 0)
        total += n
    return count, total


def _user(steps: Sequence[RuleStep]) -> list[RuleStep]:
    return [s for s in steps if not is_environment(s)]


def _max_endpoints(states: Sequence[State]) -> int:
    return max(s.netns.endpoints for s in states)


def _connections(steps: Sequence[RuleStep]) -> int:
    return sum(s.rule == "connect" for s in steps)


def figures(replayer: Replayer, steps: Sequence[RuleStep]) -> Figures:
    states = replayer.run(steps).states
    return Figures(
        steps=len(steps),
        user_steps=len(_user(steps)),
        endpoints=_max_endpoints(states),
        connections=_connections(steps),
        inputs=sum(input_complexity(s.inputs)[0] for s in _user(steps)),
    )


@dataclass(frozen=True)
class Candidate:
    steps: tuple[RuleStep, ...]
    cost: Cost


class Minimizer:
    def __init__(
        self, prop: Property, replayer: Replayer, scope: Scope | None, eager: bool, budget_s: float
    ) -> None:
        self.prop, self.replayer, self.scope, self.eager = prop, replayer, scope, eager
        self.deadline = time.monotonic() + budget_s
        self.tried = 0
        self.domains: dict[str, list[Inputs]] = {}

    def out_of_time(self) -> bool:
        return time.monotonic() > self.deadline

    def judge(self, units: Sequence[RuleStep]) -> Candidate | None:
        """The trace `units` stand for, cut at its first violation, or None
        if it does not violate (or leaves the scope)."""
        self.tried += 1
        try:
            steps = self.replayer.settle(units) if self.eager else list(units)
            run = self.replayer.run(steps)
        except (ValueError, KeyError, IndexError):
            return None  # a candidate the model cannot run is no counterexample
        bad = first_violation(self.prop, run.states)
        # In scope up to the violation: what follows it is cut anyway.
        if bad is None or not self.replayer.in_scope(run.states[: bad + 1], steps[:bad]):
            return None
        steps, states = steps[:bad], run.states[: bad + 1]
        user = _user(steps)
        cost = (
            len(steps),
            len(user),
            _max_endpoints(states),
            _connections(steps),
            sum(input_complexity(s.inputs)[0] * 1000 + input_complexity(s.inputs)[1] for s in user),
        )
        return Candidate(tuple(steps), cost)

    def units(self, c: Candidate) -> list[RuleStep]:
        return _user(c.steps) if self.eager else list(c.steps)

    # --- passes --------------------------------------------------------------
    def ddmin(self, best: Candidate) -> Candidate:
        """Zeller's ddmin over the units: subsets, then complements, at
        finer and finer granularity, until no single unit can go."""
        n = 2
        while True:
            units = self.units(best)
            if len(units) < 2 or self.out_of_time():
                return best
            n = min(n, len(units))
            chunks = [units[i * len(units) // n : (i + 1) * len(units) // n] for i in range(n)]
            tries = (
                chunks
                + [[u for j, ch in enumerate(chunks) if j != i for u in ch] for i in range(n)]
                if n > 2
                else chunks
            )
            better = None
            for t in tries:
                c = self.judge(t)
                if c is not None and c.cost < best.cost:
                    better = c
                    break
            if better is not None:
                best, n = better, max(n - 1, 2)
            elif n >= len(units):
                return best
            else:
                n = min(2 * n, len(units))

    def groups(self, best: Candidate) -> Candidate:
        """Drop a whole endpoint (every step that touched one endpoint id) or
        a whole connection (every event of one connection) at once."""
        changed = True
        while changed and not self.out_of_time():
            changed = False
            units = self.units(best)
            for group in self._groups(units):
                c = self.judge([u for i, u in enumerate(units) if i not in group])
                if c is not None and c.cost < best.cost:
                    best, changed = c, True
                    break
        return best

    def _groups(self, units: list[RuleStep]) -> list[set[int]]:
        """Unit indices per endpoint id and per connection slot."""
        by_id: dict[int, set[int]] = {}
        by_conn: dict[int, set[int]] = {}
        state = self.replayer.template
        for i, u in enumerate(units):
            after, _ = self.replayer.apply(state, u)
            before_ids = {e.id: e for e in state.netns.endp if e.used}
            after_ids = {e.id: e for e in after.netns.endp if e.used}
            touched = {
                k
                for k in before_ids.keys() | after_ids.keys()
                if before_ids.get(k) != after_ids.get(k)
            }
            if len(touched) == 1:
                by_id.setdefault(touched.pop(), set()).add(i)
            rule = RULES.get(u.rule)
            if rule is not None and "event" in rule.reads_inputs:
                by_conn.setdefault(int(u.inputs.event.conn), set()).add(i)
            state = after
            if self.eager:  # the world moves before the next user step
                for _ in range(256):
                    nxt = self.replayer.pending(state)
                    if nxt is None:
                        break
                    state, _ = self.replayer.apply(state, RuleStep(nxt[0], nxt[1]))
        return [g for g in [*by_id.values(), *by_conn.values()] if len(g) < len(units)]

    def values(self, best: Candidate) -> Candidate:
        """Each user step's inputs -> the simplest in the scope's domain for
        its rule that still violates (and does not grow anything else)."""
        if self.scope is None:
            return best
        changed = True
        while changed and not self.out_of_time():
            changed = False
            units = self.units(best)
            for i, u in enumerate(units):
                if is_environment(u):
                    continue
                mine = input_complexity(u.inputs)
                for cand in self._domain(u.rule):
                    if input_complexity(cand) >= mine or self.out_of_time():
                        break
                    c = self.judge([*units[:i], RuleStep(u.rule, cand), *units[i + 1 :]])
                    if c is not None and c.cost < best.cost:
                        best, changed = c, True
                        break
                if changed:
                    break
        return best

    def _domain(self, rule: str) -> list[Inputs]:
        """The scope's inputs for `rule`, simplest first (cached per rule)."""
        if rule not in self.domains:
            out: list[Inputs] = []
            try:
                if self.scope is not None and rule in self.scope.rules():
                    for n, inp in enumerate(self.scope.inputs(rule)):
                        if n >= MAX_DOMAIN:
                            break
                        out.append(inp)
            except (AttributeError, KeyError, TypeError):
                out = []  # a scope without an input domain: keep the values
            self.domains[rule] = sorted(set(out), key=input_complexity)
        return self.domains[rule]


def minimize(
    steps: Sequence[RuleStep],
    prop: Property,
    replayer: Replayer,
    scope: Scope | None = None,
    *,
    budget_s: float = TIME_BUDGET_S,
    passes: Sequence[str] = ("ddmin", "groups", "values"),
) -> list[RuleStep]:
    """A smallest-found trace that still violates `prop` on the concrete model
    (re-checked by `replayer`); `steps` itself if nothing smaller violates.
    Raises ValueError if `steps` does not violate `prop`."""
    # Eager: the user's steps are the units and the world's are re-derived.
    # A trace the re-derivation does not reproduce (say, one that lets the
    # world stutter) keeps every step as a unit instead.
    m = Minimizer(prop, replayer, scope, True, budget_s)
    start = m.judge(_user(steps))
    if start is None or len(start.steps) > len(steps):
        m = Minimizer(prop, replayer, scope, False, budget_s)
        start = m.judge(list(steps))
    if start is None:
        raise ValueError(
            f"{prop.name}: the trace does not violate the property on the concrete model"
        )
    best = start
    run: dict[str, Callable[[Candidate], Candidate]] = {
        "ddmin": m.ddmin,
        "groups": m.groups,
        "values": m.values,
    }
    for _ in range(4):  # to a fixpoint: simpler values may free more steps
        before = best
        for name in passes:
            best = run[name](best)
            if name == "groups" and best is not before:
                best = m.ddmin(best)
        if best == before or m.out_of_time():
            break
    assert best.cost <= start.cost and len(best.steps) <= len(steps)
    return list(best.steps)
