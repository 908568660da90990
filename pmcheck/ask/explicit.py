"""The explicit-state answer to a question: every sequence, run concretely.

This is the oracle for the symbolic enumeration (pmcheck.ask.symbolic): it
never touches Z3. Sequences are visited by length, then in the order of the
`any` alternatives, so the first sequence that reaches an outcome is a
shortest one. A sequence cut by the settle bound or the model's slots is
recorded and not extended.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pmcheck.ask.problem import Problem, Sequence, Status
from pmcheck.ask.projection import Outcome
from pmcheck.model.state import State


@dataclass
class Answer:
    """Outcomes in the order found, each with its shortest sequence."""

    outcomes: dict[Outcome, Sequence] = field(default_factory=dict)
    cut: dict[Status, Sequence] = field(default_factory=dict)  # first cut sequence per reason
    new_at_bound: bool = False  # the longest allowed sequences still found new outcomes
    complete: bool = True  # every sequence up to the bound was decided
    stopped: str | None = None  # why the enumeration stopped early, if it did
    queries: int = 0  # solver calls (symbolic only)
    seconds: float = 0.0


def explicit_answer(problem: Problem) -> Answer:
    t0 = time.perf_counter()
    ans = Answer()
    frontier: list[tuple[Sequence, State]] = [((), problem.start)]
    ans.outcomes[problem.outcome(problem.start)] = ()
    for length in range(1, problem.max_length + 1):
        nxt: list[tuple[Sequence, State]] = []
        new = False
        for seq, st in frontier:
            for alt in range(len(problem.alts)):
                if not problem.spec.repeat and alt in seq:
                    continue
                after, status = problem.step(st, alt)
                longer = (*seq, alt)
                if status is not Status.OK:
                    ans.cut.setdefault(status, longer)
                    continue
                out = problem.outcome(after)
                if out not in ans.outcomes:
                    ans.outcomes[out] = longer
                    new = True
                nxt.append((longer, after))
        frontier = nxt
        ans.new_at_bound = new and length == problem.max_length
    ans.complete = not ans.cut
    # The order the symbolic side prints (pmcheck.ask.symbolic.canonical_witnesses).
    ans.outcomes = dict(sorted(ans.outcomes.items(), key=lambda item: (len(item[1]), item[1])))
    ans.seconds = time.perf_counter() - t0
    return ans
