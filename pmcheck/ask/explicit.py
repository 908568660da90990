"""The explicit-state answer to a question: every sequence, run concretely.

This is the oracle for the symbolic enumeration (pmcheck.ask.solver): it
never touches Z3. Sequences are visited by length, then in the order of the
`any` alternatives, so the first sequence that reaches an outcome is a
shortest one. A sequence cut by the settle bound or the model's slots is
recorded and not extended. With an in-kernel peer every environment order
after each event is run too (Problem.orders), and an outcome's witness
keeps the orders it took.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pmcheck.ask.problem import Order, Problem, Sequence, Status
from pmcheck.ask.projection import OutcomeKey
from pmcheck.model.state import State


@dataclass
class Answer:
    """Outcomes in the order found, each with its shortest sequence."""

    outcomes: dict[OutcomeKey, Sequence] = field(default_factory=dict)
    # With an in-kernel peer: the environment's choices after each event of
    # an outcome's witness (absent: the default order).
    orders: dict[OutcomeKey, tuple[Order, ...]] = field(default_factory=dict)
    cut: dict[Status, Sequence] = field(default_factory=dict)  # first cut sequence per reason
    new_at_bound: bool = False  # the longest allowed sequences still found new outcomes
    complete: bool = True  # every sequence up to the bound was decided
    stopped: str | None = None  # why the enumeration stopped early, if it did
    queries: int = 0  # solver calls (symbolic only)
    seconds: float = 0.0


def explicit_answer(problem: Problem) -> Answer:
    t0 = time.perf_counter()
    ans = Answer()
    Item = tuple[Sequence, tuple[Order, ...], State]
    frontier: list[Item] = [((), (), problem.start)]
    ans.outcomes[problem.outcome(problem.start)] = ()
    for length in range(1, problem.max_length + 1):
        nxt: list[Item] = []
        new = False
        for seq, orders, st in frontier:
            for alt in range(len(problem.alts)):
                if not problem.spec.repeat and alt in seq:
                    continue
                longer = (*seq, alt)
                for after, status, order in _ends(problem, st, alt):
                    if status is not Status.OK:
                        ans.cut.setdefault(status, longer)
                        continue
                    out = problem.outcome(after)
                    if out not in ans.outcomes:
                        ans.outcomes[out] = longer
                        if problem.all_orders:
                            ans.orders[out] = (*orders, order)
                        new = True
                    nxt.append((longer, (*orders, order), after))
        frontier = _distinct(nxt, problem.spec.repeat)
        ans.new_at_bound = new and length == problem.max_length
    ans.complete = not ans.cut
    # The order the symbolic side prints (pmcheck.ask.solver.canonical_witnesses).
    ans.outcomes = dict(sorted(ans.outcomes.items(), key=lambda item: (len(item[1]), item[1])))
    ans.seconds = time.perf_counter() - t0
    return ans


def _ends(problem: Problem, st: State, alt: int) -> list[tuple[State, Status, Order]]:
    if problem.all_orders:
        return problem.orders(st, alt)
    after, status = problem.step(st, alt)
    return [(after, status, ())]


def _distinct(items: list, repeat: bool) -> list:
    """Drop a later item with the same state and the same set of events
    used (its futures are the same); keeps the first, so witnesses stay the
    shortest in the alternatives' order."""
    out, seen = [], set()
    for seq, orders, st in items:
        key = (st, None if repeat else frozenset(seq))
        if key not in seen:
            seen.add(key)
            out.append((seq, orders, st))
    return out
