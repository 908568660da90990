"""Checker figures, printed as tables.

    python benchmarks/bench_checker.py [--budget SECONDS]

1. property x engine x kernel version -> verdict and seconds (2 slots);
2. how deep BMC gets on a holding property within the budget;
3. the explicit-state oracle beside the symbolic engines on one tiny scope;
4. scaling of the auto engine with endpoint slots;
5. the connection scope: BMC time per depth on M3 (its shortest violation
   is 5 steps) with 256-bit and 32-bit id bitmaps (`--connection` only,
   minutes).
No test asserts on these times.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pmcheck.checker.engines import SolverLimits, bmc, pdr
from pmcheck.checker.oracle import explore
from pmcheck.checker.run import Options, check
from pmcheck.checker.scope import Scope
from pmcheck.checker.system import System
from pmcheck.model.versions import KernelVersion
from pmcheck.properties.netns import NETNS_PROPERTIES, P1, P6
from tests.test_checker import TINY


def props(v: KernelVersion) -> list:
    return [p for p in NETNS_PROPERTIES if v in p.versions]


def table_verdicts(budget: float) -> None:
    rows = []
    for v in KernelVersion:
        scope = Scope(v, endpoint_slots=2)
        t0 = time.perf_counter()
        results = check(
            props(v), scope, Options(witnesses=False, limits=SolverLimits(timeout_s=budget))
        )
        total = time.perf_counter() - t0
        for r in results:
            rows.append([r.prop, "auto", v.value, r.describe(), f"{r.seconds:.1f}"])
        rows.append(["(all)", "auto", v.value, "", f"{total:.1f}"])
        system = System(scope)
        for p in (P1, P6):
            r = pdr(system, p, SolverLimits(timeout_s=budget))
            rows.append([p.name, "pdr", v.value, r.describe(), f"{r.seconds:.1f}"])
    print(
        tabulate(rows, headers=["property", "engine", "kernel", "verdict", "s"], tablefmt="github")
    )


def bmc_depth(budget: float) -> None:
    system = System(Scope(KernelVersion.V6_18_STABLE, endpoint_slots=2))
    t0 = time.perf_counter()
    depth = 0
    while time.perf_counter() - t0 < budget:
        r = bmc(system, P1, depth, SolverLimits(timeout_s=budget))
        if r.verdict.value != "HOLDS-TO-DEPTH":
            break
        depth += 1
    print(
        f"\nBMC on P1 (holds), 2 slots: depth {depth - 1} completed within {budget:.0f} s "
        f"(incremental restarts per depth)"
    )


def oracle_vs_symbolic() -> None:
    scope = Scope(KernelVersion.V6_18_STABLE, **TINY)
    t0 = time.perf_counter()
    res = explore(scope, props(scope.version))
    oracle_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    check(props(scope.version), scope, Options(witnesses=False))
    sym_s = time.perf_counter() - t0
    states = next(iter(res.values())).states
    print(
        f"\nTiny scope (2 slots, 2 addresses): oracle {states} states in {oracle_s:.1f} s; "
        f"auto engine {sym_s:.1f} s; ratio {oracle_s / sym_s:.2f}"
    )


def scaling(budget: float) -> None:
    rows = []
    for slots in (2, 3, 4):
        scope = Scope(KernelVersion.V6_18_STABLE, endpoint_slots=slots)
        t0 = time.perf_counter()
        results = check(
            props(scope.version),
            scope,
            Options(witnesses=False, limits=SolverLimits(timeout_s=budget)),
        )
        rows.append(
            [
                slots,
                " ".join(sorted({r.verdict.value for r in results})),
                f"{time.perf_counter() - t0:.1f}",
            ]
        )
    print()
    print(tabulate(rows, headers=["endpoint slots", "verdicts", "auto s"], tablefmt="github"))


def connection_scope_depths(budget: float) -> None:
    from pmcheck.checker.engines import Unroll, _check
    from pmcheck.checker.scope import connection_scope
    from pmcheck.properties.connection import M3

    rows = []
    for width in (256, 32):
        system = System(connection_scope(KernelVersion.V6_18_STABLE, bitmap_width=width))
        solver = SolverLimits(rlimit=10**10, timeout_s=budget).solver()
        path = Unroll(system, solver)
        for k in range(6):
            t0 = time.perf_counter()
            r = _check(solver, system.ops.not_(system.holds(M3, path.states[k])))
            rows.append([width, k, str(r), f"{time.perf_counter() - t0:.1f}"])
            if str(r) != "unsat":
                break
            path.extend()
    print()
    print(tabulate(rows, headers=["bitmap bits", "depth", "M3 violated?", "s"], tablefmt="github"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per query/run")
    ap.add_argument(
        "--connection", action="store_true", help="only the connection-scope table (section 5)"
    )
    args = ap.parse_args()
    if args.connection:
        connection_scope_depths(args.budget * 10)
        return
    table_verdicts(args.budget)
    bmc_depth(args.budget)
    oracle_vs_symbolic()
    scaling(args.budget * 3)


if __name__ == "__main__":
    main()
