"""Bitwuzla on the checker's own queries, where Z3 gives up.

benchmarks/bench_engines.py measured it on this machine: the namespace
properties' consecution (P1-P7 together, one query) is UNSAT for Bitwuzla
in 46 s at 8 endpoint slots, where Z3 gives up (Houdini's split queries
and the one-shot query alike). So `auto` hands a namespace scope to it
when Houdini leaves properties unproved because Z3 gave up: the query goes
over as SMT-LIB2 text (the same Z3 terms), and a proof counts only after a
re-check by fresh queries, one per property (other variable names, the
same standard as Z3's certificates). A core dependency: the default
check's 8-slot namespace proof needs it; should the package be missing,
`auto` is Z3 alone and says UNKNOWN where Z3 gives up.
"""

from __future__ import annotations

import time
from typing import Any

import z3

from pmcheck.checker.engines import SolverLimits
from pmcheck.checker.system import System
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.properties.base import Property


def available() -> bool:
    try:
        import bitwuzla  # noqa: F401
    except ImportError:
        return False
    return True


def portable_smt2(assertions: list[Any]) -> str:
    """SMT-LIB2 of `assertions` that strict parsers accept: Z3 prints `and`
    and `or` of one argument, which its `simplify` removes."""
    goal = z3.Goal()
    goal.add(*assertions)
    out = z3.Solver()
    out.add(*z3.Tactic("simplify")(goal)[0])
    return "(set-logic QF_BV)\n" + out.to_smt2()


def parsed(text: str, timeout_s: float) -> Any:
    """A Bitwuzla instance holding an SMT-LIB2 text's assertions, ready for
    `check_sat()` within `timeout_s`."""
    import bitwuzla as bw

    opts = bw.Options()
    opts.set(bw.Option.PRODUCE_MODELS, False)
    opts.set(bw.Option.TIME_LIMIT_PER, max(1, int(timeout_s * 1000)))
    parser = bw.Parser(bw.TermManager(), opts)
    parser.parse(text.replace("(check-sat)", ""), True, False)
    return parser.bitwuzla()


def answer(result: Any) -> str:
    """A Bitwuzla result as "sat", "unsat" or "unknown"."""
    import bitwuzla as bw

    return {bw.Result.SAT: "sat", bw.Result.UNSAT: "unsat"}.get(result, "unknown")


def solve(text: str, timeout_s: float) -> str:
    """Bitwuzla's answer on an SMT-LIB2 text."""
    return answer(parsed(text, timeout_s).check_sat())


def consecution_smt2(
    system: System, invariant: list[Property], goal: list[Property], tag: str
) -> str:
    """From a state meeting every property of `invariant`, some rule reaches
    one that breaks a property of `goal` (UNSAT: no rule does)."""
    s0, s1 = system.state(f"{tag}0"), system.state(f"{tag}1")
    trans = system.trans(s0, system.inputs(tag), system.choice(tag), s1)
    hyps = [system.holds(p, s0) for p in invariant]
    bad = z3.Or(*(z3.Not(system.holds(p, s1)) for p in goal))
    return portable_smt2([trans, *hyps, bad])


def prove_together(
    system: System, invariant: list[Property], limits: SolverLimits
) -> tuple[bool, str]:
    """Is `invariant` (as a conjunction) true initially and 1-inductive?
    One Bitwuzla query, then the re-check: one fresh query per property.
    Returns (proved, what happened)."""
    if not all(p.holds(CONCRETE, system.template) for p in invariant):
        return False, "false in the initial state"
    t0 = time.perf_counter()
    r = solve(consecution_smt2(system, invariant, invariant, "w"), limits.timeout_s)
    if r != "unsat":
        return False, f"Bitwuzla: consecution {r}"
    for p in invariant:
        again = consecution_smt2(system, invariant, [p], f"v{p.name[:2]}")
        if solve(again, limits.timeout_s) != "unsat":
            return False, f"Bitwuzla proof, but the re-check of {p.name} failed"
    return True, f"Bitwuzla, re-checked per property ({time.perf_counter() - t0:.0f} s)"
