"""The engines side by side on the same queries: one table.

    python benchmarks/bench_engines.py [--timeout SECONDS] [--only QUERY,...]

Queries (issue 19):
  ns-hold-N      the namespace properties proved at N endpoint slots (2, 4, 8)
                 on 6.18-stable: Houdini's certificate and its re-check;
  ns-hold-8-any  the same at 8 slots with every explicit id 0..255 a free
                 input (the default check's namespace scope);
  conn-hold-8    P7 and L1 (the connection scope's jointly proved group) at
                 8 endpoint slots with 256-bit id bitmaps (the default);
  defect-KEY     each ledger defect's property on 6.18-stable, to its shortest
                 violation (the property's own scope, its assumed fixes in);
  bmc10-PROP     a holding connection property, bounded to depth 10.

Engines (existing, well-kept ones only):
  z3             today's: incremental BMC, Houdini, re-check (z3-solver);
  z3-oneshot     the same BMC question as one SMT-LIB2 query ("a violation
                 within k steps"), so it can be put to another solver as is;
  bitwuzla       that SMT-LIB2 text, parsed and solved by Bitwuzla (PyPI
                 `bitwuzla`, a core dependency); the namespace rows put
                 the certificate's consecution query to it;
  explicit       breadth-first search of the concrete model with state
                 hashing (pmcheck.checker.oracle): no solver at all;
  abc            not run: it needs a bit-level (AIGER) export of the
                 transition system, which pmcheck does not have; the row
                 says so instead of leaving it out.

Every cell runs in its own process under a wall-clock cap, and reports its
verdict, seconds (all of it, and in the solver alone: the SMT-LIB2 rows
also pay for building and exporting the query) and peak memory (the
process's max RSS); "vs z3" is the ratio of the totals to today's engine. No test asserts on these
figures; docs/checker.md records a run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ENGINES = ("z3", "z3-oneshot", "bitwuzla", "explicit", "abc")
SLOTS = (2, 4, 8)
# One property per isolated defect with a violation within the default depth
# on 6.18-stable (the connection scope), and its shortest depth there.
DEFECTS = {
    "F3": ("M6-mpc-endpoint-exists", 3),
    "ACCEPT": ("M5-accept-addr-gate", 3),
    "SIGID0": ("M1b-local-addr-used-at-most", 3),
    "LAMDOUBLE": ("M2-used-within-endpoints", 5),
    "F1": ("W1-no-warn", 5),
    "F5": ("X1-backup-reflected", 5),
    "F2": ("M7b-initial-address-id-zero", 6),
}
HOLDING = ("L1-same-family-subflows", 10)


def queries() -> list[str]:
    return [
        *(f"ns-hold-{n}" for n in SLOTS),
        "ns-hold-8-any",
        "conn-hold-8",
        *(f"defect-{k}" for k in DEFECTS),
        f"bmc10-{HOLDING[0]}",
    ]


# --- one cell, in a child process ---------------------------------------------------


def _scope_and_prop(query: str) -> tuple[Any, Any, int]:
    from pmcheck.checker.scope import checked_scope, default_scope
    from pmcheck.model.versions import KernelVersion
    from pmcheck.properties.catalog import all_properties

    props = all_properties()
    stable = KernelVersion.V6_18_STABLE
    if query.startswith("defect-"):
        name, depth = DEFECTS[query.removeprefix("defect-")]
    else:
        name, depth = HOLDING
    prop = props[name]
    return checked_scope(prop, default_scope(prop, stable)), prop, depth


def _bmc_smt2(system: Any, prop: Any, depth: int) -> str:
    """ "Some state within `depth` steps violates `prop`", as SMT-LIB2."""
    import z3

    from pmcheck.checker import bitwuzla_engine

    solver = z3.Solver()
    states = [system.state(0)]
    solver.add(system.init(states[0]))
    for k in range(depth):
        nxt = system.state(k + 1)
        solver.add(system.trans(states[k], system.inputs(k), system.choice(k), nxt))
        states.append(nxt)
    solver.add(z3.Or(*(z3.Not(system.holds(prop, s)) for s in states)))
    return bitwuzla_engine.portable_smt2(list(solver.assertions()))


SOLVE: dict[str, float] = {}  # the cell's seconds in the solver alone


def _z3_text(text: str, timeout: float) -> str:
    import z3

    s = z3.Solver()
    s.set("timeout", int(timeout * 1000))
    s.from_string(text)
    t0 = time.perf_counter()
    r = str(s.check())
    SOLVE["s"] = time.perf_counter() - t0
    return r


def _bitwuzla(text: str, timeout: float) -> str:
    from pmcheck.checker import bitwuzla_engine

    solver = bitwuzla_engine.parsed(text, timeout)
    t0 = time.perf_counter()
    r = solver.check_sat()
    SOLVE["s"] = time.perf_counter() - t0
    return bitwuzla_engine.answer(r)


def _proof_query(query: str) -> tuple[Any, list[Any]]:
    """The scope and properties of an induction query (ns-hold-N,
    ns-hold-8-any, conn-hold-8), as `pmcheck check` puts them (lemmas are
    added by the caller)."""
    from pmcheck.checker.scope import Scope, connection_scope
    from pmcheck.model.versions import KernelVersion
    from pmcheck.properties.catalog import all_properties
    from pmcheck.properties.netns import NETNS_PROPERTIES

    stable = KernelVersion.V6_18_STABLE
    if query == "conn-hold-8":  # the connection scope's jointly proved group
        registry = all_properties()
        scope = connection_scope(stable, endpoint_slots=8, bitmap_width=256)
        return scope, [registry["P7-implicit-entries"], registry["L1-same-family-subflows"]]
    if query == "ns-hold-8-any":
        scope = Scope(stable, endpoint_slots=8, any_id=True)
    else:
        scope = Scope(stable, endpoint_slots=int(query.removeprefix("ns-hold-")))
    # The namespace properties, and P7 as a lemma (Property.lemma_in; P4's
    # proof needs it).
    return scope, [p for p in NETNS_PROPERTIES if p.applies(stable) and p.scope_kind == "netns"]


def _ns_cell(engine: str, query: str, timeout: float) -> tuple[str, str]:

    from pmcheck.checker import bitwuzla_engine
    from pmcheck.checker.engines import SolverLimits, houdini, recheck_inductive
    from pmcheck.checker.oracle import explore
    from pmcheck.checker.run import lemmas_for
    from pmcheck.checker.system import System

    scope, props = _proof_query(query)
    props += lemmas_for(scope, props)
    limits = SolverLimits(rlimit=10**11, timeout_s=timeout)
    if engine == "z3":
        system = System(scope)
        kept, dropped = houdini(system, props, limits)
        ok = bool(kept) and recheck_inductive(system, kept, limits)
        return ("PROVED" if ok and len(kept) == len(props) else "UNKNOWN"), (
            f"{len(kept)}/{len(props)} inductive"
            + (f"; dropped {sorted(dropped)}" if dropped else "")
        )
    if engine in ("z3-oneshot", "bitwuzla"):
        system = System(scope)
        text = bitwuzla_engine.consecution_smt2(system, props, props, "c")
        r = _bitwuzla(text, timeout) if engine == "bitwuzla" else _z3_text(text, timeout)
        verdict = {"unsat": "PROVED", "sat": "not inductive"}.get(r, "UNKNOWN")
        return verdict, f"consecution of all {len(props)}: {r}"
    if engine == "explicit":
        res = explore(scope, props, max_states=2_000_000)
        first = next(iter(res.values()))
        bad = sorted(n for n, r in res.items() if r.violated_at is not None)
        verdict = "VIOLATED" if bad else ("PROVED" if first.complete else "HOLDS (partial)")
        return verdict, f"{first.states} states, complete={first.complete}"
    raise ValueError(engine)


def _path_cell(engine: str, query: str, timeout: float) -> tuple[str, str]:

    from pmcheck.checker.engines import SolverLimits, bmc
    from pmcheck.checker.oracle import explore
    from pmcheck.checker.system import System

    scope, prop, depth = _scope_and_prop(query)
    if engine == "z3":
        r = bmc(System(scope), prop, depth, SolverLimits(rlimit=10**11, timeout_s=timeout))
        return r.describe(), ""
    if engine in ("z3-oneshot", "bitwuzla"):
        text = _bmc_smt2(System(scope), prop, depth)
        r = _bitwuzla(text, timeout) if engine == "bitwuzla" else _z3_text(text, timeout)
        verdict = {"sat": f"VIOLATED within {depth}", "unsat": f"HOLDS-TO-DEPTH {depth}"}
        return verdict.get(r, "UNKNOWN"), f"{len(text) // 1024} KiB SMT-LIB2"
    if engine == "explicit":
        res = explore(scope, [prop], max_states=3_000_000, max_depth=depth)[prop.name]
        if res.violated_at is not None:
            return f"VIOLATED at depth {res.violated_at}", f"{res.states} states"
        return f"HOLDS-TO-DEPTH {depth}", f"{res.states} states"
    raise ValueError(engine)


def cell(engine: str, query: str, timeout: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    if engine == "abc":
        verdict, note = "not run", "needs an AIGER export of the model"
    elif query.startswith(("ns-hold-", "conn-hold-")):
        verdict, note = _ns_cell(engine, query, timeout)
    else:
        verdict, note = _path_cell(engine, query, timeout)
    total = time.perf_counter() - t0
    return {
        "verdict": verdict,
        "note": note,
        "seconds": total,
        "solve": SOLVE.get("s", total),
        "mem_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# --- the table ----------------------------------------------------------------------


def run_cell(engine: str, query: str, timeout: float) -> dict[str, Any]:
    if engine == "bitwuzla":
        try:
            import bitwuzla  # noqa: F401
        except ImportError:
            return {"verdict": "not run", "note": "pip install bitwuzla", "seconds": None}
    if engine == "abc":
        return cell(engine, query, timeout) | {"seconds": None}
    cmd = [sys.executable, __file__, "--cell", engine, query, "--timeout", str(timeout)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 60, check=False)
    except subprocess.TimeoutExpired:
        return {"verdict": "TIMEOUT", "note": f"> {timeout:.0f} s", "seconds": None}
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        return {"verdict": "ERROR", "note": last[:60], "seconds": None}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per cell")
    ap.add_argument("--only", help="comma-separated queries (default: all)")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--cell", nargs=2, metavar=("ENGINE", "QUERY"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.cell:
        print(json.dumps(cell(args.cell[0], args.cell[1], args.timeout)))
        return 0
    chosen = args.only.split(",") if args.only else queries()
    engines = args.engines.split(",")
    rows = []
    for q in chosen:
        base = None
        for e in engines:
            r = run_cell(e, q, args.timeout)
            secs = r.get("seconds")
            if e == "z3":
                base = secs
            ratio = f"{secs / base:.2f}x" if secs and base else "-"
            rows.append(
                [
                    q,
                    e,
                    r["verdict"],
                    "-" if secs is None else f"{secs:.1f}",
                    "-" if r.get("solve") is None else f"{r['solve']:.1f}",
                    "-" if r.get("mem_mb") is None else f"{r['mem_mb']:.0f}",
                    ratio,
                    r.get("note", ""),
                ]
            )
            print(" | ".join(str(x) for x in rows[-1]), file=sys.stderr, flush=True)
    print(
        tabulate(
            rows,
            headers=["query", "engine", "verdict", "s", "solve s", "MB", "vs z3", "note"],
            tablefmt="github",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
