"""`pmcheck review A B`: what a kernel version or a patch changes, email-ready.

A and B are versions, each optionally with patches (`6.18-stable` and
`6.18-stable+fix-F3`, or `6.18-stable+mine.py`). Three sections, each entry
with a shortest scenario that separates A from B:

- verdicts: per property, BMC to --depth on both (checker.version_split);
  a property violated on one side only, or whose shortest trace on one side
  no longer violates on the other;
- matrix cells: every mixed-endpoint cell scenario (docs/mixed-endpoints.md)
  and every endpoint-table cell (docs/tables/) run on both concrete models;
  the cells whose outcome differs;
- ask outcomes: for each ask file (default examples/ask/), the outcomes
  that appear or disappear, by the explicit enumeration, and a shortest
  event sequence that separates the two.

Plain ASCII, at most 72 columns. Exit 0: no change; 1: changes; 3: a
verdict was UNKNOWN (the review is incomplete).
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from pathlib import Path

from pmcheck import tables
from pmcheck.model.versions import KernelVersion
from pmcheck.results import Run

ROOT = Path(__file__).resolve().parents[1]
ASK_DIR = ROOT / "examples" / "ask"


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rv = sub.add_parser(
        "review",
        help="what B changes against A (a version or a patch): verdicts, matrix cells, "
        "ask outcomes, each with a separating scenario",
    )
    rv.add_argument("a", metavar="A", help="the base, e.g. 6.18-stable")
    rv.add_argument("b", metavar="B", help="the other, e.g. 6.18-stable+fix-F3 or 7.0")
    rv.add_argument(
        "--property",
        action="append",
        default=[],
        metavar="NAME",
        help="review these properties only (repeatable; default: all, which takes minutes)",
    )
    rv.add_argument("--depth", type=int, default=6, help="BMC bound (default 6)")
    rv.add_argument(
        "--ask",
        action="append",
        default=None,
        metavar="FILE",
        help="ask files (default: examples/ask/)",
    )
    rv.add_argument("--no-verdicts", action="store_true", help="skip the property section")


def _wrap(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, 72, initial_indent=indent, subsequent_indent=indent + "  ")


def verdict_changes(
    a: KernelVersion, b: KernelVersion, names: list[str], depth: int
) -> tuple[list[str], bool, bool]:
    from pmcheck.checker.engines import SolverLimits
    from pmcheck.checker.lines import step_text
    from pmcheck.checker.verdict import Verdict
    from pmcheck.checker.version_split import split
    from pmcheck.properties.catalog import all_properties

    props = all_properties()
    chosen = [props[n] for n in names] if names else list(props.values())
    out: list[str] = []
    changed = unknown = False
    for prop in chosen:
        if not (prop.applies(a) and prop.applies(b)):
            continue
        s = split(prop, depth, SolverLimits(rlimit=10**10, timeout_s=600), [a, b])
        ra, rb = s.results[a], s.results[b]
        unknown |= Verdict.UNKNOWN in (ra.verdict, rb.verdict)
        moved = [v for v, row in s.replays.items() if not all(row.values())]
        if ra.verdict is rb.verdict and not moved:
            continue
        changed = True
        out += _wrap(f"{prop.name}: {a.value} {ra.describe()}; {b.value} {rb.describe()}", "")
        for v in moved:
            other = b if v == a else a
            steps = [step_text(x) for x in s.results[v].trace if x.rule != "environment"]
            out += _wrap(f"shortest trace on {v.value}, which {other.value} does not violate:")
            out += [f"    {line}" for line in steps]
    return out, changed, unknown


def matrix_changes(a: KernelVersion, b: KernelVersion) -> list[str]:
    """The mixed-endpoint cells (docs/mixed-endpoints.md), then the
    endpoint-table cells (docs/tables/), whose outcome differs."""
    from pmcheck import matrix

    cells = [(c.rel, c.path) for c in matrix.cells() if c.lines]
    return _changed(a, b, cells, matrix.result_of) + table_changes(a, b, tables.cells())


def table_changes(a: KernelVersion, b: KernelVersion, cells: list[tables.Cell]) -> list[str]:
    """The endpoint-table cells (docs/tables/) whose outcome differs."""
    return _changed(a, b, [(c.rel, c.path) for c in cells], tables.outcome_of)


def _changed(
    a: KernelVersion,
    b: KernelVersion,
    cells: list[tuple[str, Path]],
    outcome: Callable[[Run], object],
) -> list[str]:
    """Each cell scenario run on both models; a line per cell whose outcome
    (as its page shows it) differs, with the first step that differs."""
    from pmcheck.diff import first_mismatch
    from pmcheck.interp import run_model
    from pmcheck.scenario.files import parse_file

    out: list[str] = []
    for rel, path in cells:
        scn = parse_file(path)
        ra, rb = run_model(scn, a), run_model(scn, b)
        if outcome(ra) == outcome(rb):
            continue
        m = first_mismatch(ra, rb)
        where = f" (first at line {m.line} `{m.text}`: {m.field})" if m else ""
        out += _wrap(f"{rel}{where}", "  ")
    return out


def ask_changes(a: KernelVersion, b: KernelVersion, files: list[Path]) -> list[str]:
    from pmcheck.ask.command import separate
    from pmcheck.ask.explicit import explicit_answer
    from pmcheck.ask.problem import build_problem
    from pmcheck.ask.spec import parse_ask_file

    out: list[str] = []
    for f in files:
        spec = parse_ask_file(f)
        pa, pb = build_problem(spec, a), build_problem(spec, b)
        xa, xb = explicit_answer(pa), explicit_answer(pb)
        gone = [o for o in xa.outcomes if o not in xb.outcomes]
        new = [o for o in xb.outcomes if o not in xa.outcomes]
        if not gone and not new:
            continue
        out.append(
            f"  {f.name}: {len(gone)} outcome(s) only on {a.value}, {len(new)} only on {b.value}"
        )
        for side, outs, p in ((a, gone, pa), (b, new, pb)):
            for o in outs:
                cells = ", ".join(
                    f"{h} {c}".replace("\n", " ")
                    for h, c in zip(p.projector.headers(), p.projector.cells(o), strict=True)
                )
                out += _wrap(f"only {side.value}: {cells}", "    ")
        seq = separate(pa, pb)
        if seq is not None:
            out += _wrap(f"separated by: {pa.sequence_text(seq)}", "    ")
    return out


def cmd_review(args: argparse.Namespace) -> int:
    from pmcheck.errors import UsageError
    from pmcheck.patches import resolve

    try:
        a, b = resolve(args.a), resolve(args.b)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if a == b:
        raise UsageError("A and B are the same kernel")
    if args.depth < 1:
        raise UsageError("--depth must be >= 1")
    from pmcheck.properties.catalog import all_properties

    unknown_props = [n for n in args.property if n not in all_properties()]
    if unknown_props:
        raise UsageError(f"unknown property {unknown_props[0]}")
    asks = [Path(x) for x in args.ask] if args.ask else sorted(ASK_DIR.glob("*.ask"))
    print(f"pmcheck review: {b.value} against {a.value}")  # type: ignore[union-attr]
    changed = unknown = False
    if not args.no_verdicts:
        lines, changed, unknown = verdict_changes(a, b, args.property, args.depth)  # type: ignore[arg-type]
        print(f"\nVerdicts (BMC depth {args.depth}, default scopes):")
        print("\n".join(lines) if lines else "  no verdict changes")
    cells = matrix_changes(a, b)  # type: ignore[arg-type]
    print("\nMatrix cells (mixed endpoints, endpoint tables) whose outcome changes:")
    print("\n".join(cells) if cells else "  none")
    outcomes = ask_changes(a, b, asks)  # type: ignore[arg-type]
    print(f"\nAsk outcomes ({len(asks)} files):")
    print("\n".join(outcomes) if outcomes else "  no outcome appears or disappears")
    if unknown:
        return 3
    return 1 if (changed or cells or outcomes) else 0
