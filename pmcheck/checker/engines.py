"""The engines: BMC, k-induction with Houdini strengthening, PDR (Spacer).

Every PROVED carries a certificate that a fresh solver re-checks before it is
reported; every VIOLATED trace is replayed on the concrete model. A solver
that gives up (resource limit, timeout) yields UNKNOWN, never a pass.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import z3

from pmcheck.checker import progress
from pmcheck.checker.system import RuleStep, System
from pmcheck.checker.verdict import Result, Verdict
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.properties.base import Property
from pmcheck.signals import raise_if_stopped


@dataclass(frozen=True)
class SolverLimits:
    """Per-query resource limits: Z3's deterministic rlimit first, wall
    clock as a backstop."""

    rlimit: int = 50_000_000
    timeout_s: float = 60.0

    def solver(self) -> z3.Solver:
        s = z3.SolverFor("QF_BV")
        s.set("rlimit", self.rlimit)
        s.set("timeout", int(self.timeout_s * 1000))
        return s


class Unroll:
    """An incremental path from the initial state: s0 -i0-> s1 ... ."""

    def __init__(self, system: System, solver: z3.Solver, from_init: bool = True) -> None:
        self.sys, self.solver = system, solver
        self.states = [system.state(0)]
        if from_init:
            solver.add(system.init(self.states[0]))

    def extend(self) -> None:
        k = len(self.states) - 1
        nxt = self.sys.state(k + 1)
        self.solver.add(self.sys.trans(self.states[k], self.sys.inputs(k), self.sys.choice(k), nxt))
        self.states.append(nxt)


def _solve(solver: z3.Solver) -> z3.CheckSatResult:
    """solver.check(), then honour a Ctrl-C / SIGTERM that interrupted it
    (pmcheck.checker.interrupt): its "unknown" is not a verdict."""
    r = solver.check()
    raise_if_stopped()
    return r


def _check(solver: z3.Solver, *assumptions: z3.BoolRef) -> z3.CheckSatResult:
    solver.push()
    solver.add(*assumptions)
    r = _solve(solver)
    if r == z3.sat:
        solver.last_model = solver.model()  # type: ignore[attr-defined]
    solver.pop()
    return r


def premise_path(
    system: System, prop: Property, depth: int, limits: SolverLimits
) -> tuple[RuleStep, ...] | None:
    """A trigger witness: the shortest path to a state where the property's
    premise holds (so the property is not vacuous), replayed concretely."""
    r = bmc(system, prop, depth, limits, goal="premise")
    return r.trace if r.reason == "premise reached" else None


def bmc(
    system: System, prop: Property, depth: int, limits: SolverLimits, goal: str = "violation"
) -> Result:
    """Shortest path from the initial state to a state violating `prop` (or,
    with goal="premise", satisfying its premise: a trigger witness)."""
    t0 = time.perf_counter()
    solver = limits.solver()
    path = Unroll(system, solver)
    for k in range(depth + 1):
        progress.note(prop.name, "bmc" if goal == "violation" else "witness", k)
        s = path.states[k]
        target = z3.Not(system.holds(prop, s)) if goal == "violation" else system.premise(prop, s)
        r = _check(solver, target)
        if r == z3.unknown:
            return Result(
                prop.name,
                Verdict.UNKNOWN,
                "bmc",
                time.perf_counter() - t0,
                k,
                reason=f"solver gave up at depth {k}: {solver.reason_unknown()}",
            )
        if r == z3.sat:
            steps = system.decode(solver.last_model, k)  # type: ignore[attr-defined]
            final = system.replay(steps)[-1]
            ok = (
                prop.holds(CONCRETE, final)
                if goal == "violation"
                else not prop.premise(CONCRETE, final)
            )
            if ok:
                return Result(
                    prop.name,
                    Verdict.UNKNOWN,
                    "bmc",
                    time.perf_counter() - t0,
                    k,
                    reason="solver path does not replay on the concrete model",
                )
            if goal == "violation":
                return Result(
                    prop.name,
                    Verdict.VIOLATED,
                    "bmc",
                    time.perf_counter() - t0,
                    k,
                    trace=tuple(steps),
                )
            return Result(
                prop.name,
                Verdict.HOLDS_TO_DEPTH,
                "bmc",
                time.perf_counter() - t0,
                k,
                trace=tuple(steps),
                reason="premise reached",
            )
        if k < depth:
            path.extend()
    return Result(prop.name, Verdict.HOLDS_TO_DEPTH, "bmc", time.perf_counter() - t0, depth)


def houdini(
    system: System, candidates: list[Property], limits: SolverLimits
) -> tuple[list[Property], dict[str, str]]:
    """The largest subset of `candidates` that holds initially and is
    inductive as a conjunction (1-induction), and why each other one was
    dropped. Each (candidate, rule) pair is its own query: splitting by rule
    keeps each one small enough for the solver; a query it gives up on drops
    the candidate too (dropping only weakens the claim, never falsely proves)."""
    init = system.template
    dropped = {
        p.name: "false in the initial state" for p in candidates if not p.holds(CONCRETE, init)
    }
    cands = [p for p in candidates if p.name not in dropped]
    s0, s1 = system.state("h0"), system.state("h1")
    choice = system.choice("h")
    solver = limits.solver()
    solver.add(system.trans(s0, system.inputs("h"), choice, s1))
    changed = True
    while changed and cands:
        changed = False
        solver.push()
        solver.add(*[system.holds(p, s0) for p in cands])
        for p in list(cands):
            for r, rule in enumerate(system.rules):
                res = _check(solver, choice == r, z3.Not(system.holds(p, s1)))
                if res != z3.unsat:
                    dropped[p.name] = (
                        f"not inductive: {rule} breaks it"
                        if res == z3.sat
                        else f"solver gave up on {rule}"
                    )
                    cands.remove(p)
                    changed = True
                    break
            if changed:
                break
        solver.pop()
    return cands, dropped


def recheck_inductive(system: System, invariant: list[Property], limits: SolverLimits) -> bool:
    """Independent check of a certificate: it holds initially, and fresh
    solvers (one per property and rule, other variable names) find no step
    from it to a state outside it."""
    if not all(p.holds(CONCRETE, system.template) for p in invariant):
        return False
    s0, s1 = system.state("r0"), system.state("r1")
    choice = system.choice("r")
    trans = system.trans(s0, system.inputs("r"), choice, s1)
    hyps = [system.holds(p, s0) for p in invariant]
    for p in invariant:
        for r in range(len(system.rules)):
            solver = limits.solver()
            solver.add(trans, *hyps, choice == r, z3.Not(system.holds(p, s1)))
            if _solve(solver) != z3.unsat:
                return False
    return True


def k_induction(
    system: System, prop: Property, strengthening: list[Property], k_max: int, limits: SolverLimits
) -> Result:
    """Induction steps k = 1..k_max with simple-path constraints, assuming
    the already-proved `strengthening` everywhere on the path."""
    t0 = time.perf_counter()
    for k in range(1, k_max + 1):
        solver = limits.solver()
        path = Unroll(system, solver, from_init=False)
        for _ in range(k):
            path.extend()
        for j, s in enumerate(path.states):
            solver.add(*[system.holds(p, s) for p in strengthening])
            if j < k:
                solver.add(system.holds(prop, s))
        for a in range(len(path.states)):
            for b in range(a + 1, len(path.states)):
                solver.add(z3.Not(_same(path.states[a], path.states[b])))
        r = _check(solver, z3.Not(system.holds(prop, path.states[-1])))
        if r == z3.unsat:
            return Result(
                prop.name,
                Verdict.PROVED,
                "kind",
                time.perf_counter() - t0,
                k,
                certificate=tuple([prop.name, *(p.name for p in strengthening)]),
            )
        if r == z3.unknown:
            return Result(
                prop.name,
                Verdict.UNKNOWN,
                "kind",
                time.perf_counter() - t0,
                k,
                reason=f"solver gave up at k={k}",
            )
    return Result(
        prop.name,
        Verdict.UNKNOWN,
        "kind",
        time.perf_counter() - t0,
        k_max,
        reason=f"not {k_max}-inductive",
    )


def _same(a: object, b: object) -> z3.BoolRef:
    from pmcheck.checker.system import equal

    return equal(a, b)


def pdr(system: System, prop: Property, limits: SolverLimits) -> Result:
    """PDR/IC3 through Z3's Spacer on the CHC encoding
    Inv(s) <- Init(s); Inv(t) <- Inv(s), T(s,i,c,t); false <- Inv(s), not P(s)."""
    t0 = time.perf_counter()
    s, t = system.state("p0"), system.state("p1")
    i, c = system.inputs("p"), system.choice("p")
    svars = [v for v in _leaves(s)]
    tvars = [v for v in _leaves(t)]
    fp = z3.Fixedpoint()
    fp.set(engine="spacer")
    fp.set("timeout", int(limits.timeout_s * 1000))
    inv = z3.Function("Inv", *[v.sort() for v in svars], z3.BoolSort())
    fp.register_relation(inv)
    fp.declare_var(*svars, *tvars, *_leaves(i), c)
    fp.rule(inv(*svars), system.init(s))
    fp.rule(inv(*tvars), [inv(*svars), system.trans(s, i, c, t)])
    try:
        r = fp.query(z3.And(inv(*svars), z3.Not(system.holds(prop, s))))
        raise_if_stopped()
    except z3.Z3Exception as e:
        return Result(
            prop.name, Verdict.UNKNOWN, "pdr", time.perf_counter() - t0, reason=f"spacer: {e}"
        )
    seconds = time.perf_counter() - t0
    if r == z3.unsat:
        cover = fp.get_cover_delta(-1, inv)
        if recheck_pdr(system, prop, cover, svars, limits):
            return Result(
                prop.name,
                Verdict.PROVED,
                "pdr",
                time.perf_counter() - t0,
                certificate=(f"Spacer invariant ({_size(cover)} nodes)",),
            )
        return Result(
            prop.name,
            Verdict.UNKNOWN,
            "pdr",
            seconds,
            reason="Spacer's invariant failed the independent re-check",
        )
    if r == z3.sat:
        return Result(
            prop.name,
            Verdict.UNKNOWN,
            "pdr",
            seconds,
            reason="spacer found a counterexample; BMC reports it",
        )
    return Result(
        prop.name, Verdict.UNKNOWN, "pdr", seconds, reason=f"spacer: {fp.reason_unknown()}"
    )


def recheck_pdr(
    system: System, prop: Property, cover: z3.ExprRef, svars: list[z3.ExprRef], limits: SolverLimits
) -> bool:
    """The Spacer invariant, instantiated on fresh states, must hold
    initially, be closed under a step, and imply the property: three
    fresh-solver queries. Either variable order of the cover is tried; the
    checks themselves keep a wrong reading from passing."""
    s, t = system.state("q0"), system.state("q1")
    sv, tv = _leaves(s), _leaves(t)
    for order in (list(reversed(range(len(svars)))), list(range(len(svars)))):

        def at(vs: list[z3.ExprRef], order: list[int] = order) -> z3.ExprRef:
            return z3.substitute_vars(cover, *[vs[i] for i in order])

        try:
            queries = [
                z3.And(system.init(s), z3.Not(at(sv))),
                z3.And(
                    at(sv),
                    system.trans(s, system.inputs("q"), system.choice("q"), t),
                    z3.Not(at(tv)),
                ),
                z3.And(at(sv), z3.Not(system.holds(prop, s))),
            ]
        except z3.Z3Exception:  # the other variable order: sorts do not fit
            continue
        ok = True
        for q in queries:
            solver = limits.solver()
            solver.add(q)
            if _solve(solver) != z3.unsat:
                ok = False
                break
        if ok:
            return True
    return False


def _size(e: z3.ExprRef) -> int:
    seen: set[int] = set()
    stack = [e]
    while stack:
        x = stack.pop()
        if x.get_id() in seen:
            continue
        seen.add(x.get_id())
        stack.extend(x.children())
    return len(seen)


def _leaves(x: object) -> list[z3.ExprRef]:
    from pmcheck.model.inputs import INPUT_WIDTHS
    from pmcheck.model.state import leaves

    return [v for _, _, v in leaves(x, widths=INPUT_WIDTHS)]


__all__ = ["RuleStep", "SolverLimits", "bmc", "houdini", "k_induction", "pdr", "recheck_inductive"]
