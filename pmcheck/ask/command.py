"""`pmcheck ask FILE` and `pmcheck versions FILE | --property P`: argument
handling and output.

Exit codes follow pmcheck.cli: ask: 0 the list is complete, 3 it stopped at
a bound (settle, slots, --max-outcomes, solver); versions: 0 the versions
agree, 1 they differ, 3 an answer was incomplete; 4 the two engines of
`--engine both` disagree (a model bug).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Hashable
from itertools import combinations
from pathlib import Path
from typing import Any

from tabulate import tabulate

from pmcheck.ask.explicit import Answer, explicit_answer
from pmcheck.ask.problem import Problem, Sequence, Status, build_problem
from pmcheck.ask.render import render, to_json, verdict
from pmcheck.ask.solver import symbolic_answer
from pmcheck.ask.spec import is_ask_text, parse_ask_file
from pmcheck.diff import FIELDS, describe_value, first_mismatch
from pmcheck.errors import UsageError
from pmcheck.interp import run_model
from pmcheck.model.state import State
from pmcheck.model.versions import DEFAULT_VERSION, KernelVersion
from pmcheck.patches import resolve
from pmcheck.results import Run
from pmcheck.scenario.ast import Loc
from pmcheck.scenario.errors import ScenarioError
from pmcheck.scenario.files import parse_file

EXIT_OK, EXIT_DIFFER, EXIT_INCOMPLETE, EXIT_ENGINES = 0, 1, 3, 4


class EnginesDisagree(RuntimeError):
    pass


def engine_for(problem: Problem, engine: str) -> str:
    """`auto`: the symbolic enumeration, except with an in-kernel peer,
    where every delivery order is a free choice and the explicit search is
    the faster one."""
    if engine != "auto":
        return engine
    return "explicit" if problem.all_orders else "symbolic"


def answer(problem: Problem, args: argparse.Namespace) -> Answer:
    if args.engine == "explicit":
        return explicit_answer(problem)
    sym = symbolic_answer(problem, max_outcomes=args.max_outcomes, timeout_s=args.timeout)
    if args.engine == "both" and sym.stopped is None:
        exp = explicit_answer(problem)
        if set(exp.outcomes) != set(sym.outcomes) or any(
            len(exp.outcomes[o]) != len(sym.outcomes[o]) for o in exp.outcomes
        ):
            raise EnginesDisagree(
                f"{problem.spec.source}: the symbolic and explicit "
                f"enumerations differ on {problem.version.value}"
            )
    return sym


def cmd_ask(args: argparse.Namespace) -> int:
    spec = parse_ask_file(args.file)
    version = _version(args.kernel or spec.prefix.kernel, spec.loc)
    problem = build_problem(spec, version)
    args.engine = engine_for(problem, args.engine)
    try:
        ans = answer(problem, args)
    except EnginesDisagree as e:
        print(f"pmcheck: internal error: {e}", file=sys.stderr)
        return EXIT_ENGINES
    if args.json:
        print(json.dumps(to_json(problem, ans, args.engine), indent=2))
    else:
        print(render(problem, ans, args.engine))
    return EXIT_OK if ans.complete and ans.stopped is None else EXIT_INCOMPLETE


def _version(text: str | None, loc: Loc) -> KernelVersion:
    if text is None:
        return DEFAULT_VERSION
    try:
        return resolve(text)  # type: ignore[return-value]
    except ValueError as e:
        raise ScenarioError(loc, str(e)) from None


# --- versions ------------------------------------------------------------------


def compared(args: argparse.Namespace) -> list[KernelVersion]:
    """`versions --kernel A,B,...` (parsed as `check --kernel` is), else
    every released version."""
    from pmcheck.ci import CIError, kernel_versions

    if not args.kernel:
        return list(KernelVersion)
    try:
        out = kernel_versions(args.kernel)
    except CIError as e:
        raise _usage(str(e)) from None
    if len(out) < 2:
        raise _usage(f"--kernel {args.kernel}: name at least two versions to compare")
    return out


def cmd_versions(args: argparse.Namespace) -> int:
    args.versions = compared(args)
    if args.property is not None:
        if args.file is not None:
            raise _usage("give a file or --property, not both")
        return _property_versions(args)
    if args.file is None:
        raise _usage("versions needs a scenario or ask file, or --property NAME")
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8") if path.suffix != ".json" else ""
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(Loc(str(path), 0, 0), f"cannot read: {e}") from None
    if is_ask_text(text):
        return _ask_versions(args)
    return _scenario_versions(args)


def _scenario_versions(args: argparse.Namespace) -> int:
    scn = parse_file(args.file)
    vs = args.versions
    runs = {v: run_model(scn, v) for v in vs}
    rows = step_differences(runs)
    pairs = [(a, b, first_mismatch(runs[a], runs[b])) for a, b in combinations(vs, 2)]
    if args.json:
        print(
            json.dumps(
                {
                    "schema": "pmcheck-versions/1",
                    "file": args.file,
                    "differences": [
                        dict(
                            zip(
                                ["line", "command", "field", *[v.value for v in vs]],
                                r,
                                strict=True,
                            )
                        )
                        for r in rows
                    ],
                    "first_separating_step": {
                        f"{a.value} vs {b.value}": None
                        if m is None
                        else {"line": m.line, "command": m.text, "field": m.field}
                        for a, b, m in pairs
                    },
                },
                indent=2,
            )
        )
        return EXIT_DIFFER if rows else EXIT_OK
    names = ", ".join(v.value for v in vs)
    print(f"pmcheck versions {args.file}: models {names}, {len(scn.steps)} steps")
    if not rows:
        print(f"\nagree: every step gives the same result on {names}")
        return EXIT_OK
    print()
    print(
        tabulate(
            rows,
            headers=["line", "command", "field", *[v.value for v in vs]],
            tablefmt="simple",
            maxcolwidths=[None, 32, None, *[34] * len(vs)],
        )
    )
    print()
    for a, b, m in pairs:
        if m is None:
            print(f"{a.value} = {b.value} on every step")
        else:
            print(
                f"{a.value} vs {b.value}: first separated by line {m.line} `{m.text}` ({m.field})"
            )
    return EXIT_DIFFER


def step_differences(runs: dict[KernelVersion, Run]) -> list[list[Any]]:
    """One row per (step, field) on which the versions do not all agree."""
    rows = []
    outs = list(zip(*(r.outcomes for r in runs.values()), strict=True))
    for per_version in outs:
        first = per_version[0]
        for f in FIELDS:
            values = [getattr(o, f) for o in per_version]
            if any(v != values[0] for v in values[1:]):
                rows.append([first.line, first.text, f, *[describe_value(f, v) for v in values]])
    return rows


def _ask_versions(args: argparse.Namespace) -> int:
    spec = parse_ask_file(args.file)
    vs = args.versions
    problems = {v: build_problem(spec, v) for v in vs}
    args.engine = engine_for(problems[vs[0]], args.engine)
    try:
        answers = {v: answer(p, args) for v, p in problems.items()}
    except EnginesDisagree as e:
        print(f"pmcheck: internal error: {e}", file=sys.stderr)
        return EXIT_ENGINES
    union: dict[Hashable, None] = {}
    for a in answers.values():
        union.update(dict.fromkeys(a.outcomes))
    any_p = problems[vs[0]]
    rows = []
    for n, out in enumerate(union, start=1):
        marks = [str(len(a.outcomes[out])) if out in a.outcomes else "-" for a in answers.values()]
        rows.append([n, *any_p.projector.cells(out), *marks])
    separating = {(a, b): separate(problems[a], problems[b]) for a, b in combinations(vs, 2)}
    incomplete = any(not a.complete or a.stopped for a in answers.values())
    same = all(
        set(answers[a].outcomes) == set(answers[b].outcomes) and sep is None
        for (a, b), sep in separating.items()
    )
    if args.json:
        print(
            json.dumps(
                {
                    "schema": "pmcheck-ask-versions/1",
                    "file": spec.source,
                    "answers": {
                        v.value: to_json(problems[v], a, args.engine) for v, a in answers.items()
                    },
                    "separating": {
                        f"{a.value} vs {b.value}": None
                        if s is None
                        else [problems[a].alts[i].text for i in s]
                        for (a, b), s in separating.items()
                    },
                },
                indent=2,
            )
        )
    else:
        names = [v.value for v in vs]
        print(
            f"pmcheck versions {spec.source}: outcomes on {', '.join(names)} "
            f"({args.engine} enumeration)"
        )
        print(f"projection: {any_p.projector.projection.describe()}")
        print("per version: the length of a shortest sequence reaching the outcome (- never)\n")
        print(
            tabulate(
                rows,
                headers=["#", *any_p.projector.headers(), *names],
                tablefmt="simple",
                disable_numparse=True,
            )
        )
        print()
        for (a, b), seq in separating.items():
            print(_separation_text(problems[a], problems[b], seq))
        for v, a in answers.items():
            if not a.complete or a.stopped:
                print(f"{v.value}: {verdict(problems[v], a)}")
    if incomplete:
        return EXIT_INCOMPLETE
    return EXIT_OK if same else EXIT_DIFFER


def _separation_text(pa: Problem, pb: Problem, seq: Sequence | None) -> str:
    a, b = pa.version.value, pb.version.value
    if seq is None:
        return f"{a} = {b}: every sequence (up to {pa.max_length} events) ends the same"
    cells = {}
    for p in (pa, pb):
        st, status = p.replay(seq)
        heads = p.projector.headers()
        cells[p.version.value] = (
            status.value
            if status is not Status.OK
            else ", ".join(
                f"{h} {c}".replace("\n", " ")
                for h, c in zip(heads, p.projector.cells(p.outcome(st)), strict=True)
            )
        )
    return (
        f"{a} vs {b}: separated by `{pa.sequence_text(seq)}`\n  {a}: {cells[a]}\n  {b}: {cells[b]}"
    )


def separate(pa: Problem, pb: Problem) -> Sequence | None:
    """A shortest sequence whose outcome differs between two versions (the
    concrete model, breadth first; None if every sequence agrees)."""

    def key(p: Problem, st: State, status: Status) -> Hashable:
        return p.outcome(st) if status is Status.OK else status

    if key(pa, pa.start, Status.OK) != key(pb, pb.start, Status.OK):
        return ()
    frontier: list[tuple[Sequence, State, State]] = [((), pa.start, pb.start)]
    for _ in range(pa.max_length):
        nxt = []
        for seq, sa, sb in frontier:
            for alt in range(len(pa.alts)):
                if not pa.spec.repeat and alt in seq:
                    continue
                (na, ka), (nb, kb) = pa.step(sa, alt), pb.step(sb, alt)
                longer = (*seq, alt)
                if key(pa, na, ka) != key(pb, nb, kb):
                    return longer
                if ka is Status.OK:
                    nxt.append((longer, na, nb))
        frontier = nxt
    return None


Command = Callable[[argparse.Namespace], int]


def _usage(message: str) -> Exception:
    return UsageError(message)


def _property_versions(args: argparse.Namespace) -> int:
    """`versions --property P`: verdict per version, and which versions each
    violating trace violates on (checker/version_split.py)."""
    from pmcheck.checker.engines import SolverLimits
    from pmcheck.checker.lines import step_text
    from pmcheck.checker.version_split import split
    from pmcheck.properties import catalog

    props = catalog.all_properties()
    prop = props.get(args.property) or next(
        (p for p in props.values() if p.name.split("-")[0] == args.property), None
    )
    if prop is None:
        raise _usage(f"unknown property {args.property} (known: {', '.join(props)})")
    if args.depth < 0:
        raise _usage("--depth must be >= 0")
    result = split(
        prop, args.depth, SolverLimits(rlimit=10**10, timeout_s=args.timeout), args.versions
    )
    if any(r.verdict.value == "UNKNOWN" for r in result.results.values()):
        code = EXIT_INCOMPLETE
    else:
        code = EXIT_DIFFER if result.differ else EXIT_OK
    if args.json:
        print(
            json.dumps(
                {
                    "schema": "pmcheck-property-versions/1",
                    "property": prop.name,
                    "verdicts": {v.value: r.describe() for v, r in result.results.items()},
                    "traces": {
                        v.value: {
                            "steps": [step_text(s) for s in result.results[v].trace],
                            "violates_on": {w.value: hit for w, hit in row.items()},
                        }
                        for v, row in result.replays.items()
                    },
                    "exit_code": code,
                },
                indent=2,
            )
        )
        return code
    print(
        f"pmcheck versions --property {prop.name}: BMC depth {args.depth}, each version's "
        "default scope"
    )
    rows = [[v.value, r.describe(), f"{r.seconds:.1f}s"] for v, r in result.results.items()]
    print(tabulate(rows, headers=["kernel", "verdict", "time"], tablefmt="simple"))
    for v, row in result.replays.items():
        lines = [step_text(s) for s in result.results[v].trace if s.rule != "environment"]
        on = ", ".join(f"{w.value} {'yes' if hit else 'no'}" for w, hit in row.items())
        print(
            f"\nshortest violation on {v.value} ({len(result.results[v].trace)} steps); "
            f"violates on: {on}"
        )
        for line in lines:
            print(f"  {line}")
    print("\nthe versions " + ("differ" if result.differ else "agree") + f"; exit {code}")
    return code


COMMANDS: dict[str, Command] = {"ask": cmd_ask, "versions": cmd_versions}
