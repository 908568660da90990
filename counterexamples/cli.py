"""The counterexample commands and `check` options, for pmcheck/cli.py.

    pmcheck check ... --trace-format text,md --out DIR
    pmcheck show TRACE.json [--format text|md|json|scenario|sh]
    pmcheck replay TRACE.json [--kernel-live]
    pmcheck selftest TRACE.json|FILE.scn [--kernel V]

A bad trace file or format is a one-line error with exit 2; `replay` exits 0
when the violation reproduces, 1 when it does not, 4 when the live kernel
cannot be driven.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pmcheck.counterexamples.render import FORMATS, file_name, render
from pmcheck.counterexamples.trace import TraceFormatError, load

EXIT_OK, EXIT_NOT_REPRODUCED, EXIT_INPUT, EXIT_LIVE = 0, 1, 2, 4


def _formats(text: str) -> list[str]:
    wanted = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in wanted if f not in FORMATS]
    if bad or not wanted:
        raise argparse.ArgumentTypeError(
            f"unknown trace format {', '.join(bad) or repr(text)} (known: {', '.join(FORMATS)})"
        )
    return wanted


def add_check_arguments(ck: argparse.ArgumentParser) -> None:
    ck.add_argument(
        "--trace-format",
        type=_formats,
        metavar="FMT[,FMT...]",
        help=f"render each VIOLATED trace, minimized: {', '.join(FORMATS)} "
        "(printed; with --out: written, default all)",
    )
    ck.add_argument("--out", metavar="DIR", help="write each VIOLATED trace's renderings into DIR")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    sh = sub.add_parser(
        "show", help="render a counterexample trace (the JSON that check --out writes)"
    )
    sh.add_argument("trace", help="trace file (ITF JSON, from check --out or the gallery)")
    sh.add_argument("--format", default="text", help=f"one of {', '.join(FORMATS)} (default text)")
    rp = sub.add_parser(
        "replay",
        help="replay a counterexample trace and confirm its violation (exit 0 reproduced, 1 not)",
    )
    rp.add_argument("trace", help="trace file (ITF JSON)")
    rp.add_argument(
        "--kernel-live",
        action="store_true",
        help="also run it on this machine's kernel (root, netns) and compare "
        "every step with the model",
    )


def add_selftest_parser(sub: argparse._SubParsersAction, versions: list[str]) -> None:
    st = sub.add_parser(
        "selftest",
        help="print a trace or scenario as an mptcp_join.sh test function, "
        "with the counts the model predicts",
    )
    st.add_argument("file", help="counterexample trace (ITF JSON) or scenario (.scn, .json)")
    st.add_argument(
        "--kernel",
        choices=versions,
        help="model version (default: the trace's, or the scenario's `kernel` line)",
    )


def emit_traces(
    args: argparse.Namespace,
    props: dict,
    scope: object,
    results: Sequence[object],
    quiet: bool = False,
) -> None:
    """After a check: each VIOLATED result's trace, minimized, rendered to
    stdout (--trace-format) or written into --out. `quiet` (JSON mode) keeps
    stdout for the verdicts: file notes go to stderr, nothing is printed."""
    fmts = getattr(args, "trace_format", None)
    out = getattr(args, "out", None)
    if not fmts and not out:
        return
    from pmcheck.counterexamples.build import NotAViolation, from_result

    for r in results:
        if getattr(r.verdict, "value", None) != "VIOLATED" or not r.trace:
            continue
        try:
            trace = from_result(r, scope, props[r.prop])  # type: ignore[arg-type]
        except NotAViolation as e:
            print(f"pmcheck: warning: {e}", file=sys.stderr)
            continue
        if out:
            directory = Path(out)
            directory.mkdir(parents=True, exist_ok=True)
            for fmt in fmts or FORMATS:
                path = directory / file_name(trace, fmt)
                path.write_text(render(trace, fmt), encoding="utf-8")
                print(f"wrote {path}", file=sys.stderr if quiet else sys.stdout)
        elif not quiet:
            for fmt in fmts:
                print(f"\n{render(trace, fmt)}", end="")


def cmd_show(args: argparse.Namespace) -> int:
    if args.format not in FORMATS:
        print(
            f"pmcheck: error: unknown format {args.format!r} (known: {', '.join(FORMATS)})",
            file=sys.stderr,
        )
        return EXIT_INPUT
    try:
        trace = load(args.trace)
    except TraceFormatError as e:
        print(f"pmcheck: error: {args.trace}: {e}", file=sys.stderr)
        return EXIT_INPUT
    sys.stdout.write(render(trace, args.format))
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from pmcheck.counterexamples.confirm import replay_kernel, replay_model

    try:
        trace = load(args.trace)
        report = replay_model(trace)
    except TraceFormatError as e:
        print(f"pmcheck: error: {args.trace}: {e}", file=sys.stderr)
        return EXIT_INPUT
    print("\n".join(report.lines))
    if not report.ok:
        return EXIT_NOT_REPRODUCED
    if not args.kernel_live:
        return EXIT_OK
    from pmcheck.live.netns import live_kernel_available

    ok, reason = live_kernel_available()
    if not ok:
        print(f"pmcheck: live kernel unavailable: {reason}", file=sys.stderr)
        return EXIT_LIVE
    try:
        live = replay_kernel(trace)
    except TraceFormatError as e:
        print(f"pmcheck: error: {args.trace}: {e}", file=sys.stderr)
        return EXIT_INPUT
    print()
    print("\n".join(live.lines))
    return EXIT_OK if live.ok else EXIT_NOT_REPRODUCED


def cmd_selftest(args: argparse.Namespace) -> int:
    from pmcheck.counterexamples.selftest import selftest_for_file

    try:
        text = selftest_for_file(args.file, args.kernel)
    except TraceFormatError as e:
        print(f"pmcheck: error: {args.file}: {e}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as e:
        print(f"pmcheck: error: {args.file}: {e.strerror or e}", file=sys.stderr)
        return EXIT_INPUT
    sys.stdout.write(text)
    return EXIT_OK


COMMANDS = {"show": cmd_show, "replay": cmd_replay, "selftest": cmd_selftest}
