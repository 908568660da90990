"""An answer as reviewers read it: one row per outcome, then the verdict line."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from pmcheck.ask.explicit import Answer
from pmcheck.ask.problem import Problem, Status
from pmcheck.checker.lines import describe_choice

CUT_TEXT = {
    Status.BUSY: "the environment was still busy after {settle} steps",
    Status.OVERFLOW: "more live subflows or announcements than the model's 8 slots",
}


def header(problem: Problem, engine: str) -> str:
    spec = problem.spec
    n = len(problem.alts)
    each = "an event may repeat" if spec.repeat else "each at most once"
    how = {
        "symbolic": "symbolic enumeration (Z3)",
        "explicit": "explicit enumeration",
        "both": "symbolic enumeration (Z3), checked by the explicit one",
    }[engine]
    lines = [
        f"pmcheck ask {spec.source}: model {problem.version.value}, {how}",
        f"open events: {_n(n, 'alternative')}, up to {problem.max_length} per sequence "
        f"({each}); settle <= {problem.settle} steps",
        f"projection: {problem.projector.projection.describe()}",
    ]
    lines += [f"note: {note}" for note in problem.notes]
    return "\n".join(lines)


def table(problem: Problem, ans: Answer) -> str:
    rows = []
    for n, (out, seq) in enumerate(ans.outcomes.items(), start=1):
        lines = []
        orders = ans.orders.get(out) if problem.all_orders else None
        for k, i in enumerate(seq):
            lines.append(problem.alts[i].text)
            if orders is not None and not _default_order(problem, seq, orders, out):
                lines += [f"  then {describe_choice(c)}" for c in orders[k]]
        rows.append(
            [n, *problem.projector.cells(out), len(seq), "\n".join(lines) or "(no open event)"]
        )
    heads = ["#", *problem.projector.headers(), "events", "shortest sequence"]
    return tabulate(rows, headers=heads, tablefmt="simple", disable_numparse=True)


def _default_order(problem: Problem, seq: tuple[int, ...], orders: tuple, out: object) -> bool:
    """Does the default order (what `simulate` and the live testbed do)
    reach this outcome too? Then the witness needs no order spelled out."""
    st, status = problem.replay(seq)
    return status is Status.OK and problem.outcome(st) == out


def verdict(problem: Problem, ans: Answer) -> str:
    """Whether the list is complete, and if not, which bound stopped it."""
    n = len(ans.outcomes)
    outcomes = f"{n} outcome{'s' if n != 1 else ''}"
    cost = f" ({ans.queries} solver queries, {ans.seconds:.1f} s)" if ans.queries else ""
    lines = []
    if ans.stopped:
        lines.append(f"INCOMPLETE: {ans.stopped}; {outcomes} so far{cost}")
    elif ans.cut:
        lines.append(f"INCOMPLETE at a bound: {outcomes}; some sequences were cut{cost}:")
        for status, seq in ans.cut.items():
            why = CUT_TEXT[status].format(settle=problem.settle)
            fix = " (raise `settle up to`)" if status is Status.BUSY else ""
            lines.append(f"  after `{problem.sequence_text(seq)}`: {why}{fix}")
    else:
        spec = problem.spec
        if not spec.repeat and problem.max_length == len(problem.alts):
            scope = "every order of every subset of the open events"
        else:
            scope = f"every sequence of at most {_n(problem.max_length, 'open event')}"
        lines.append(f"complete: {outcomes}. {scope[0].upper()}{scope[1:]} ends in one of them")
        lines.append(
            f"(with all {n} blocked, no other is reachable: unsat; {ans.queries} solver "
            f"queries, {ans.seconds:.1f} s)."
            if ans.queries
            else f"(every such sequence was run on the concrete model, {ans.seconds:.1f} s)."
        )
        if ans.new_at_bound and (spec.repeat or problem.max_length < len(problem.alts)):
            longest = _n(problem.max_length, "event")
            lines.append(
                f"bound reached: sequences of {longest} still gave new outcomes; "
                "longer ones may give more (raise `events up to`)"
            )
    return "\n".join(lines)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def render(problem: Problem, ans: Answer, engine: str) -> str:
    return "\n\n".join([header(problem, engine), table(problem, ans), verdict(problem, ans)])


def to_json(problem: Problem, ans: Answer, engine: str) -> dict[str, Any]:
    heads = problem.projector.headers()
    return {
        "schema": "pmcheck-ask/1",
        "file": problem.spec.source,
        "kernel": problem.version.value,
        "engine": engine,
        "projection": problem.projector.projection.describe(),
        "alternatives": [a.text for a in problem.alts],
        "max_events": problem.max_length,
        "repeat": problem.spec.repeat,
        "settle": problem.settle,
        "outcomes": [
            {
                "values": dict(zip(heads, problem.projector.cells(out), strict=True)),
                "shortest": [problem.alts[i].text for i in seq],
            }
            for out, seq in ans.outcomes.items()
        ],
        "complete": ans.complete and ans.stopped is None,
        "cut": {s.value: [problem.alts[i].text for i in seq] for s, seq in ans.cut.items()},
        "stopped": ans.stopped,
        "new_at_bound": ans.new_at_bound,
        "queries": ans.queries,
        "seconds": round(ans.seconds, 3),
        "notes": list(problem.notes),
    }
