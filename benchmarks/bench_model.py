"""Model throughput and encoding size, printed as one table.

    python benchmarks/bench_model.py [--commands N] [--seed S]

Rows: the concrete interpreter's commands/s on a random command mix (aim:
>= 50k/s; it feeds random simulation, hypothesis and the explicit-state
oracle), the Z3 evaluation of the same commands, and per rule the one-step
Z3 encoding: distinct AST nodes, seconds to build it, and seconds for one
satisfiability query of "some input makes this step succeed" from a free
pre-state. Figures go into issue notes; no test asserts on time.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import warnings
from pathlib import Path

import z3
from tabulate import tabulate

from pmcheck.model.catalog import RULES
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.model.rules import Ctx
from pmcheck.model.state import initial_state
from pmcheck.model.symbolic import symbolic_step
from pmcheck.model.topology import Topology
from pmcheck.model.versions import KernelVersion
from pmcheck.scenario.ast import Scenario
from pmcheck.scenario.lower import Universe, lower

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.strategies
from tests.strategies import command_st


def random_commands(n: int, seed: int) -> list:
    rnd = random.Random(seed)
    with warnings.catch_warnings():  # .example() is meant for interactive use
        warnings.simplefilter("ignore")
        pool = [command_st.example() for _ in range(400)]
    return [rnd.choice(pool) for _ in range(n)]


def lowered(commands: list) -> list:
    u = Universe()
    return [lower(c, u) for c in commands]


def concrete_throughput(steps: list, version: KernelVersion) -> float:
    ctx = Ctx(CONCRETE, version)
    state = initial_state()
    t0 = time.perf_counter()
    for name, inputs in steps:
        state, _ = RULES[name].fn(ctx, state, inputs)
    return len(steps) / (time.perf_counter() - t0)


def z3_throughput(steps: list, version: KernelVersion) -> float:
    for name, _ in steps:
        symbolic_step(name, version)  # build outside the timed loop
    state = initial_state()
    t0 = time.perf_counter()
    for name, inputs in steps:
        state, _ = symbolic_step(name, version).apply(state, inputs)  # netlink only
    return len(steps) / (time.perf_counter() - t0)


def encoding_rows(version: KernelVersion, topo: Topology) -> list[list]:
    """Per rule, for 4 and 8 endpoint slots (one connection, 8 subflow
    slots): AST nodes, build time, and one query "the step applies"."""
    rows = []
    for name in sorted(RULES):
        row: list = [name, RULES[name].kernel_function]
        for slots in (4, 8):
            symbolic_step.cache_clear()
            t0 = time.perf_counter()
            step = symbolic_step(name, version, topo, 1, "", slots)
            build = time.perf_counter() - t0
            solver = z3.SolverFor("QF_BV")
            solver.add(step.outcome.errno == 0)
            t0 = time.perf_counter()
            solver.check()
            solve = time.perf_counter() - t0
            row += [step.size(), f"{build * 1e3:.0f}", f"{solve * 1e3:.0f}"]
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--commands", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kernel", default=KernelVersion.V6_18_STABLE.value)
    args = ap.parse_args()
    version = KernelVersion(args.kernel)
    steps = lowered(random_commands(args.commands, args.seed))
    conc = concrete_throughput(steps, version)
    sym = z3_throughput(steps[:500], version)
    print(f"kernel {version.value}, {args.commands} random commands (seed {args.seed})")
    print(
        tabulate(
            [["concrete interpreter", f"{conc:,.0f}"], ["Z3 encoding, evaluated", f"{sym:,.0f}"]],
            headers=["interpretation", "commands/s"],
            tablefmt="github",
        )
    )
    print()
    topo = Universe.of(Scenario("bench", None, ())).topology()
    print(
        tabulate(
            encoding_rows(version, topo),
            headers=[
                "rule",
                "kernel function",
                "nodes (4 endp)",
                "build ms",
                "sat ms",
                "nodes (8 endp)",
                "build ms",
                "sat ms",
            ],
            tablefmt="github",
        )
    )


if __name__ == "__main__":
    main()
