"""Checking a set of properties: the engine choice, and verdict vs baseline.

`auto` proves first (Houdini-strengthened induction, then k-induction for the
rest, every certificate re-checked by fresh solvers) and refutes by BMC;
`bmc`, `kind` and `pdr` run one engine. Every property also gets a trigger
witness: a shortest reachable state where its premise holds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from pmcheck.checker import bitwuzla_engine, progress
from pmcheck.checker.engines import SolverLimits, bmc, houdini, k_induction, pdr, recheck_inductive
from pmcheck.checker.scope import Scope, checked_scope
from pmcheck.checker.system import System
from pmcheck.checker.verdict import Result, Verdict
from pmcheck.properties.base import BOUNDED, PROVED, Property

ENGINES = ("auto", "bmc", "kind", "pdr")


@dataclass(frozen=True)
class Options:
    engine: str = "auto"
    depth: int = 6  # BMC bound
    k_max: int = 3  # k-induction bound
    limits: SolverLimits = field(default_factory=SolverLimits)
    witnesses: bool = True


def check(props: list[Property], scope: Scope, opts: Options) -> list[Result]:
    """Check `props` in `scope`: each group of properties that assume the
    same other defects' fixes (Property.assumes) on its own patched kernel
    (pmcheck.checker.scope.checked_scope), in the order given."""
    groups: dict[tuple[str, ...], list[Property]] = {}
    for p in props:
        groups.setdefault(p.assumes, []).append(p)
    results: dict[str, Result] = {}
    for group in groups.values():
        for r in _check_scope(group, checked_scope(group[0], scope), opts):
            results[r.prop] = r
    return [results[p.name] for p in props if p.name in results]


def _check_scope(props: list[Property], scope: Scope, opts: Options) -> list[Result]:
    # A scope whose shortest interesting paths are longer (every delivery
    # between two in-kernel PMs is a step) asks for a deeper BMC bound.
    opts = replace(opts, depth=max(opts.depth, scope.min_depth))
    system = System(scope)
    props = [p for p in props if p.applies(scope.version)]
    results: dict[str, Result] = {}
    progress.scope(f"{scope.version.value} {scope.kind}")
    first = _bitwuzla_first(system, scope, props, opts) if opts.engine == "auto" else None
    if first is not None:
        results.update(first)
    elif opts.engine in ("auto", "kind"):
        progress.note(f"{len(props)} properties", "houdini")
        t0 = time.perf_counter()
        inductive, dropped = houdini(system, props + lemmas_for(scope, props), opts.limits)
        if inductive and not recheck_inductive(system, inductive, opts.limits):
            for p in inductive:
                results[p.name] = Result(
                    p.name, Verdict.UNKNOWN, "kind", 0.0, reason="certificate failed the re-check"
                )
            inductive = []
        engine, how = "kind", ""
        if _bitwuzla_may_help(scope, dropped, props):
            # Every candidate (a drop after a gave-up query may be spurious),
            # else the proved ones and those Z3 gave up on.
            every = props + lemmas_for(scope, props)
            gave_up = [q for q in every if "solver gave up" in dropped.get(q.name, "")]
            for candidates in (every, [*inductive, *gave_up]):
                progress.note(f"{len(candidates)} properties", "bitwuzla")
                ok, how = bitwuzla_engine.prove_together(system, candidates, opts.limits)
                if ok:
                    inductive, engine = candidates, "bitwuzla"
                    proved = {q.name for q in candidates}
                    dropped = {n: w for n, w in dropped.items() if n not in proved}
                    break
        seconds = time.perf_counter() - t0
        cert = tuple(p.name for p in inductive)
        for p in inductive:
            if p in props:  # lemmas strengthen the proof but are not reported here
                results[p.name] = Result(
                    p.name, Verdict.PROVED, engine, seconds, 1, certificate=cert, reason=how
                )
        if how and engine == "kind":  # Bitwuzla tried and did not prove: say why
            dropped = {n: f"{why}; {how}" for n, why in dropped.items()}
        for p in props:
            if p.name in results:
                continue
            r = bmc(system, p, opts.depth, opts.limits)
            if r.verdict is Verdict.HOLDS_TO_DEPTH:
                progress.note(p.name, "k-induction", opts.k_max)
                ind = k_induction(system, p, inductive, opts.k_max, opts.limits)
                r = (
                    ind
                    if ind.verdict is Verdict.PROVED
                    else replace(r, reason=dropped.get(p.name, "") + "; " + ind.reason)
                )
            results[p.name] = r
    elif opts.engine == "bmc":
        for p in props:
            results[p.name] = bmc(system, p, opts.depth, opts.limits)
    elif opts.engine == "pdr":
        for p in props:
            progress.note(p.name, "pdr")
            r = pdr(system, p, opts.limits)
            if r.verdict is not Verdict.PROVED:
                b = bmc(system, p, opts.depth, opts.limits)
                r = b if b.verdict is Verdict.VIOLATED else r
            results[p.name] = r
    else:  # pragma: no cover - the CLI validates
        raise ValueError(f"unknown engine {opts.engine!r}")
    out = []
    for p in props:
        r = results[p.name]
        if opts.witnesses:
            r = vacuity_gate(p, replace(r, witness=witness(system, p, opts)), opts.depth)
        out.append(r)
    return out


# From these endpoint slots on, Z3's Houdini gives up or is slower than
# Bitwuzla (bench_engines.py; two-PM with 2 addresses and 2 slots a side:
# Houdini 159 s, Bitwuzla 23 s).
BITWUZLA_FIRST_SLOTS = {"netns": 4, "connection": 4, "two-pm": 2}


def _bitwuzla_first(
    system: System, scope: Scope, props: list[Property], opts: Options
) -> dict[str, Result] | None:
    """At 4 or more endpoint slots Z3's Houdini spends its timeouts and
    gives up (docs/checker.md, "Engines measured"), so a namespace scope
    goes to Bitwuzla first: every property and lemma as one conjunction,
    then the per-property re-check. A connection scope that wide does too
    when every property asked has a PROVED baseline (the jointly proved
    group: at 8 slots Z3's re-check of Houdini's certificate gives up;
    Bitwuzla proves P7 and L1 in 19 s, in 52 s with 256-bit id bitmaps),
    and so does a two-PM scope from 2 slots a side.
    PROVED results, or None (not proved together: Houdini and the rest
    run as before)."""
    if scope.endpoint_slots < BITWUZLA_FIRST_SLOTS[scope.kind]:
        return None
    if scope.kind != "netns" and not all(p.expect(scope.version) == PROVED for p in props):
        return None
    if not bitwuzla_engine.available() or not props:
        return None
    candidates = props + lemmas_for(scope, props)
    progress.note(f"{len(candidates)} properties", "bitwuzla")
    t0 = time.perf_counter()
    ok, how = bitwuzla_engine.prove_together(system, candidates, opts.limits)
    if not ok:
        return None
    seconds = time.perf_counter() - t0
    cert = tuple(p.name for p in candidates)
    return {
        p.name: Result(p.name, Verdict.PROVED, "bitwuzla", seconds, 1, certificate=cert, reason=how)
        for p in props
    }


def _bitwuzla_may_help(scope: Scope, dropped: dict[str, str], props: list[Property]) -> bool:
    """A namespace scope where Houdini left a property unproved and Z3 gave
    up on some query (at 8 slots it does; Bitwuzla proves them there:
    pmcheck.checker.bitwuzla_engine), and Bitwuzla is installed."""
    gave_up = any("solver gave up" in why for why in dropped.values())
    unproved = any(p.name in dropped for p in props)
    return scope.kind == "netns" and unproved and gave_up and bitwuzla_engine.available()


def lemmas_for(scope: Scope, props: list[Property]) -> list[Property]:
    """Registered properties that serve as Houdini lemmas in this scope kind
    (`Property.lemma_in`) and are not checked here themselves."""
    from pmcheck.properties import catalog

    return [
        q
        for q in catalog.all_properties().values()
        if scope.kind in q.lemma_in and q not in props and q.applies(scope.version)
    ]


def vacuity_gate(prop: Property, r: Result, depth: int) -> Result:
    """A property no reachable state triggers says nothing: PROVED or
    HOLDS-TO-DEPTH without a trigger witness becomes UNKNOWN (exit 3),
    unless the property states why its premise is unreachable here."""
    holding = r.verdict in (Verdict.PROVED, Verdict.HOLDS_TO_DEPTH)
    if not holding or r.witness is not None or prop.premise_unreachable:
        return r
    return replace(
        r,
        verdict=Verdict.UNKNOWN,
        reason=f"vacuous: no state within depth {depth} of this scope meets the premise; "
        f"{r.verdict.value} would say nothing",
    )


def witness(system: System, prop: Property, opts: Options) -> tuple | None:
    """A shortest path to a state where the premise holds, or None."""
    from pmcheck.checker.engines import premise_path

    return premise_path(system, prop, opts.depth, opts.limits)


def meets_expectation(prop: Property, result: Result, scope: Scope, engine: str) -> bool:
    """Did the result match the recorded baseline at the strength asked?"""
    want = prop.expect(scope.version)
    if want == BOUNDED:
        return result.verdict in (Verdict.PROVED, Verdict.HOLDS_TO_DEPTH)
    if want == PROVED:
        if result.verdict is Verdict.PROVED:
            return True
        return engine == "bmc" and result.verdict is Verdict.HOLDS_TO_DEPTH
    return result.verdict is Verdict.VIOLATED


def exit_code(props: dict[str, Property], results: list[Result], scope: Scope, engine: str) -> int:
    """0 all met their baseline; 1 a new violation or a fixed one; 3 an
    UNKNOWN or an unproved property (never 0)."""
    code = 0
    for r in results:
        p = props[r.prop]
        if meets_expectation(p, r, scope, engine):
            continue
        if r.verdict is Verdict.VIOLATED or (
            r.verdict is Verdict.PROVED and p.expect(scope.version) != PROVED
        ):
            return 1
        code = 3
    return code
