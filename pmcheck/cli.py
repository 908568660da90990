"""The `pmcheck` command line: parse, call the library, render, exit.

Exit codes (stable, for CI):
  0  success (simulate/kernel ran; diff found no mismatch)
  1  diff found a mismatch between the model and the other side
  2  usage or input error (malformed scenario, unknown flag, bad id, ...)
  3  UNKNOWN / timeout (checker verdicts; never 0)
  4  internal error, or the live kernel is unavailable
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tabulate import tabulate

from pmcheck import __version__, signals
from pmcheck.argtypes import positive_int, seconds
from pmcheck.ci import CIError, add_check_arguments, add_merge_parser, cmd_merge
from pmcheck.diff import describe_value, first_mismatch
from pmcheck.errors import Terminated, UsageError
from pmcheck.interp import BACKENDS, run_model
from pmcheck.model.constants import MPTCP_PM_ADDR_MAX
from pmcheck.model.versions import DEFAULT_VERSION, KernelVersion, version_of_release
from pmcheck.results import ConnView, EndpointRow, Limits, Run, StepOutcome
from pmcheck.scenario.ast import Scenario, flag_names
from pmcheck.scenario.errors import ScenarioError
from pmcheck.scenario.files import parse_file

EXIT_OK, EXIT_MISMATCH, EXIT_INPUT, EXIT_UNKNOWN, EXIT_INTERNAL = 0, 1, 2, 3, 4


# A fresh namespace: no endpoints, limits 0 / 2 (pm_nl_init_net).
DEFAULT_LIMITS = Limits(add_addr_accepted=0, subflows=2)


def _version(args: argparse.Namespace, scn: Scenario, default: KernelVersion) -> KernelVersion:
    """--kernel wins over the scenario's `kernel` line, which wins over default."""
    from pmcheck.patches import resolve

    if args.kernel is None and scn.kernel is None:
        return default
    try:
        if args.kernel is not None:
            return resolve(args.kernel)  # type: ignore[return-value]
        return resolve(scn.kernel, files=False)  # type: ignore[arg-type,return-value]
    except ValueError as e:
        raise UsageError(str(e)) from None


Observed = tuple[tuple[EndpointRow, ...], Limits, tuple[ConnView, ...]]
NOTHING: Observed = ((), DEFAULT_LIMITS, ())


def _changes(before: Observed, after: Observed, who: str = "") -> list[str]:
    """What a step changed in one host's observable state, one line each
    (`who` prefixes the peer's)."""
    old = {r.id: r for r in before[0]}
    new = {r.id: r for r in after[0]}
    out = [f"+ {new[i].describe()}" for i in sorted(new.keys() - old.keys())]
    out += [f"- {old[i].describe()}" for i in sorted(old.keys() - new.keys())]
    for i in sorted(old.keys() & new.keys()):
        if old[i] != new[i]:
            was = " ".join(flag_names(old[i].flags)) or "-"
            now = " ".join(flag_names(new[i].flags)) or "-"
            out.append(
                f"~ id {i} flags {was} -> {now}"
                if was != now
                else f"~ {old[i].describe()} -> {new[i].describe()}"
            )
    old_conns = {c.conn: c for c in before[2]}
    out += [c.describe() for c in after[2] if old_conns.get(c.conn) != c]
    la, lb = before[1], after[1]
    if la != lb:
        out.append(
            f"limits add_addr_accepted {la.add_addr_accepted}->{lb.add_addr_accepted}"
            f" subflows {la.subflows}->{lb.subflows}"
        )
    return [who + line for line in out]


def _observed(o: StepOutcome) -> tuple[Observed, Observed | None]:
    peer = (o.peer.endpoints, o.peer.limits, o.peer.conns) if o.peer else None
    return (o.endpoints, o.limits, o.conns), peer


def _reply_text(reply: object) -> str:
    if reply is None:
        return ""
    if isinstance(reply, tuple):
        return "\n".join(r.describe() for r in reply) or "(empty)"
    return f"add_addr_accepted {reply.add_addr_accepted} subflows {reply.subflows}"  # type: ignore[attr-defined]


def render_run(run: Run) -> str:
    rows = []
    prev, prev_peer = NOTHING, NOTHING
    for o in run.outcomes:
        result = o.status
        if o.new_id is not None:
            result += f" id {o.new_id}"
        if o.errno and o.extack:
            result += f"\n{o.extack}"
        now, now_peer = _observed(o)
        changes = _changes(prev, now)
        if now_peer is not None:
            changes += _changes(prev_peer, now_peer, "peer: ")
        rows.append([o.line, o.text, result, _reply_text(o.reply) or "\n".join(changes)])
        prev, prev_peer = now, now_peer or NOTHING
    head = f"{run.interpreter} {run.kernel}: {len(run.outcomes)} steps"
    table = tabulate(
        rows,
        headers=["line", "command", "result", "reply / changes"],
        tablefmt="simple",
        maxcolwidths=[None, 40, 24, 44],
    )
    return f"{head}\n{table}"


def cmd_simulate(args: argparse.Namespace) -> int:
    scn = parse_file(args.file)
    run = run_model(scn, _version(args, scn, DEFAULT_VERSION), args.backend)
    print(json.dumps(run.to_json(), indent=2) if args.json else render_run(run))
    return EXIT_OK


class LiveUnavailable(Exception):
    pass


def _live() -> KernelVersion:
    """The model version of the running kernel; raises if it cannot be driven."""
    from pmcheck.live.netns import live_kernel_available

    ok, reason = live_kernel_available()
    if not ok:
        raise LiveUnavailable(f"live kernel unavailable: {reason}")
    return version_of_release(os.uname().release)


def cmd_kernel(args: argparse.Namespace) -> int:
    scn = parse_file(args.file)
    _live()
    from pmcheck.live.kernel_run import run_on_kernel

    run = run_on_kernel(scn)
    print(json.dumps(run.to_json(), indent=2) if args.json else render_run(run))
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    scn = parse_file(args.file)
    live_version = _live()
    version = _version(args, scn, live_version)
    if version is not live_version:
        print(
            f"pmcheck: note: comparing model {version.value} with a kernel that runs as "
            f"{live_version.value} ({os.uname().release})",
            file=sys.stderr,
        )
    from pmcheck.live.kernel_run import run_on_kernel

    model = run_model(scn, version, args.backend)
    kernel = run_on_kernel(scn)
    mismatch = first_mismatch(model, kernel)
    if args.json:
        print(
            json.dumps(
                {
                    "model": model.to_json(),
                    "kernel": kernel.to_json(),
                    "mismatch": None
                    if mismatch is None
                    else {
                        "index": mismatch.index,
                        "line": mismatch.line,
                        "text": mismatch.text,
                        "field": mismatch.field,
                        "model": describe_value(mismatch.field, mismatch.left),
                        "kernel": describe_value(mismatch.field, mismatch.right),
                    },
                },
                indent=2,
            )
        )
    elif mismatch is None:
        print(f"agree: {len(scn.steps)} steps, model {version.value} = kernel {kernel.kernel}")
    else:
        print(f"{args.file}:{mismatch.line}: mismatch in {mismatch.field} after `{mismatch.text}`")
        print(
            tabulate(
                [
                    ["model " + version.value, describe_value(mismatch.field, mismatch.left)],
                    ["kernel " + kernel.kernel, describe_value(mismatch.field, mismatch.right)],
                ],
                tablefmt="simple_grid",
                maxcolwidths=[None, 70],
            )
        )
    return EXIT_OK if mismatch is None else EXIT_MISMATCH


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pmcheck",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 1)[1],
    )
    p.add_argument("--version", action="version", version=f"pmcheck {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    versions = [v.value for v in KernelVersion]

    def scenario_cmd(name: str, help_: str, backend: bool, kernel: bool) -> None:
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("file", help="scenario file (.scn text, or .json)")
        if kernel:
            sp.add_argument(
                "--kernel",
                metavar="V[+PATCH...]",
                help=f"model version: {', '.join(versions)}, optionally with "
                "patches (a registered fix-... or FILE.py; docs/reviewers.md) "
                "(default: the scenario's `kernel` line, "
                f"else {DEFAULT_VERSION.value}; for diff: the running "
                "kernel's)",
            )
        if backend:
            sp.add_argument(
                "--backend",
                choices=BACKENDS,
                default="concrete",
                help="model interpretation: plain values or the Z3 encoding",
            )
        sp.add_argument("--json", action="store_true", help="machine-readable output")

    scenario_cmd("simulate", "run a scenario on the model", backend=True, kernel=True)
    scenario_cmd(
        "kernel", "run a scenario on the live kernel (root, netns)", backend=False, kernel=False
    )
    scenario_cmd(
        "diff", "run on model and live kernel, print the first mismatch", backend=True, kernel=True
    )
    ck = sub.add_parser("check", help="prove or refute properties (BMC, k-induction, PDR)")
    ck.add_argument("property", nargs="*", help="property names or labels (default: all)")
    ck.add_argument(
        "--kernel",
        metavar="V[,V...]|all",
        help=f"kernel version(s): {', '.join(versions)}, a comma-separated list, "
        f"or all (default {DEFAULT_VERSION.value})",
    )
    ck.add_argument("--engine", choices=("auto", "bmc", "kind", "pdr"), default="auto")
    ck.add_argument("--depth", type=int, default=6, help="BMC bound (default 6)")
    ck.add_argument("--k-max", type=int, default=3, help="k-induction bound (default 3)")
    ck.add_argument(
        "--slots",
        type=int,
        default=MPTCP_PM_ADDR_MAX,
        help="endpoint slots of the namespace scope (default 8, the kernel's "
        "MPTCP_PM_ADDR_MAX: P1-P6 proved for every table the kernel allows, "
        "every id 0..255, in ~100 s with Bitwuzla; 2 slots take ~12 s)",
    )
    ck.add_argument(
        "--conn-slots",
        type=int,
        default=2,
        help="endpoint slots of the connection scope (default 2; 1..8)",
    )
    ck.add_argument(
        "--conn-proof-slots",
        type=int,
        default=MPTCP_PM_ADDR_MAX,
        help="endpoint slots of the connection scope for the properties proved "
        "there by induction (P7, L1; default 8, the kernel's MPTCP_PM_ADDR_MAX; "
        "with 2 connections, every id)",
    )
    ck.add_argument(
        "--bitmap-width",
        type=int,
        default=32,
        help="bits of the id bitmaps in the connection scope's encoding "
        "(default 32: ids stay below 16, longer paths are cut)",
    )
    ck.add_argument(
        "--timeout",
        type=seconds,
        default=600.0,
        help="seconds per solver query; exhausted = UNKNOWN (default 600)",
    )
    ck.add_argument(
        "--rlimit",
        type=positive_int,
        default=10**10,
        help="Z3 resource limit per query (deterministic; exhausted = UNKNOWN)",
    )
    ck.add_argument("--json", action="store_true", help="machine-readable verdicts")
    ck.add_argument(
        "--progress",
        action="store_true",
        help="print each step (property, engine, depth, elapsed) to stderr as plain "
        "lines; on a terminal a status line is shown anyway",
    )
    from pmcheck.counterexamples import cli as cx_cli

    cx_cli.add_check_arguments(ck)  # --trace-format, --out (issue 7)
    cx_cli.add_parsers(sub)  # show, replay
    cx_cli.add_selftest_parser(sub, versions)
    add_check_arguments(ck)
    add_merge_parser(sub)
    from pmcheck.ask.args import add_parsers

    add_parsers(sub, versions)  # ask, versions
    st = sub.add_parser(
        "stale",
        help="which rules a kernel tree makes stale: pinned functions it changed, and the "
        "model functions citing them (exit 1 if any)",
    )
    st.add_argument("src_dir", help="a kernel tree (or a copy of net/mptcp/ and its headers)")
    sub.add_parser(
        "cleanup",
        help="remove pmcheck namespaces (pmck-PID-*) whose process is gone (root)",
    )
    from pmcheck.review import add_parser as add_review

    add_review(sub)
    lg = sub.add_parser(
        "ledger", help="the known kernel defects: code, versions, property, candidate fix"
    )
    lg.add_argument("--markdown", action="store_true", help="a Markdown table")
    sub.add_parser(
        "patches",
        help="registered patches, and the switches and model functions a patch may change",
    )
    return p


def cmd_check(args: argparse.Namespace) -> int:
    from pmcheck.checker.engines import SolverLimits
    from pmcheck.checker.run import Options
    from pmcheck.checker.scope import Scope, connection_scope, two_pm_scope
    from pmcheck.properties import catalog

    props = catalog.all_properties()
    chosen = [
        p
        for p in props.values()
        if not args.property or p.name in args.property or p.name.split("-")[0] in args.property
    ]
    unknown = [
        n
        for n in args.property
        if not any(p.name == n or p.name.split("-")[0] == n for p in props.values())
    ]
    if unknown:
        raise UsageError(
            f"unknown property {', '.join(unknown)} (known: "
            f"{', '.join(p.name for p in props.values())})"
        )
    if args.slots < 1 or args.slots > 8:
        raise UsageError(f"--slots {args.slots}: endpoint slots must be 1..8")
    if args.conn_slots < 1 or args.conn_slots > 8:
        raise UsageError(f"--conn-slots {args.conn_slots}: endpoint slots must be 1..8")
    if args.conn_proof_slots < 1 or args.conn_proof_slots > 8:
        raise UsageError(f"--conn-proof-slots {args.conn_proof_slots}: endpoint slots must be 1..8")
    if args.bitmap_width not in (16, 32, 64, 128, 256):
        raise UsageError(f"--bitmap-width {args.bitmap_width}: one of 16, 32, 64, 128, 256")
    if args.depth < 0:
        raise UsageError("--depth must be >= 0")
    if getattr(args, "out", None):  # before the work, not after it
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {args.out}: exists and is not a directory")
        parent = next((p for p in (out, *out.parents) if p.exists()), Path("."))
        if not os.access(parent, os.W_OK):
            raise UsageError(f"--out {args.out}: {str(parent)!r} is not writable")
    from pmcheck.ci import emit_reports, kernel_versions, run_check, to_json

    versions = kernel_versions(args.kernel)
    limits = SolverLimits(rlimit=args.rlimit, timeout_s=args.timeout)
    opts = Options(engine=args.engine, depth=args.depth, k_max=args.k_max, limits=limits)
    t0 = time.perf_counter()
    scopes = [
        s
        for v in versions
        for s in (
            Scope(v, endpoint_slots=args.slots, any_id=True),
            connection_scope(v, endpoint_slots=args.conn_slots, bitmap_width=args.bitmap_width),
            two_pm_scope(v, bitmap_width=args.bitmap_width),
        )
    ]
    from pmcheck.checker import progress
    from pmcheck.checker.interrupt import interruptible

    tty = sys.stderr.isatty() and not args.json
    progress.start("lines" if args.progress else "tty" if tty else None)
    try:
        with interruptible():  # Ctrl-C / SIGTERM stop the query in flight, not just skip it
            run = run_check(args, chosen, scopes, opts)
    finally:
        progress.done()
    code = run.exit_code
    if args.json:  # schema pmcheck-verdicts/2, docs/ci.md
        print(to_json(run))
        for jr in run.jobs:
            emit_traces(args, props, jr.job.scope, jr.results, quiet=True)
        emit_reports(args, run)
        return code
    for jr in run.jobs:
        scope, version, results = jr.job.scope, jr.job.scope.version, jr.results
        records = {rec.prop.name: rec for rec in run.records if rec.job == jr.job.id}
        print(
            f"pmcheck {__version__} check: {scope.describe()}; engine {args.engine}, "
            f"BMC depth {max(args.depth, scope.min_depth)}"
            + (" (from the verdict cache)" if jr.cached else "")
        )
        rows = []
        for r in results:
            p, rec = props[r.prop], records[r.prop]
            mark = "ok" if rec.met else "UNEXPECTED"
            wit = "-" if r.witness is None else f"{len(r.witness)} steps"
            rows.append(
                [
                    r.prop,
                    rec.verdict_text(),
                    scope.short(),
                    r.engine,
                    "cached" if rec.cached else f"{r.seconds:.1f}s",
                    f"expected {p.expect(version)}: {mark}",
                    wit,
                ]
            )
        print(
            tabulate(
                rows,
                headers=["property", "verdict", "scope", "engine", "time", "baseline", "witness"],
                tablefmt="simple",
            )
        )
        assumed = [props[r.prop] for r in results if props[r.prop].assumes]
        if assumed:  # each has one root cause because the others' fixes are in
            print("checked with the other defects' candidate fixes (docs/properties.md):")
            for p in assumed:
                print(f"  {p.name}: {', '.join(p.assumes)}")
        for r in results:
            if r.trace and r.verdict.value == "VIOLATED":
                print(
                    f"\n{r.prop}: shortest violation, {len(r.trace)} steps "
                    "(a scenario; replayed on the concrete model):"
                )
                for s in r.trace:
                    print(f"  {render_step(s)}")
            if r.reason and r.verdict.value == "UNKNOWN":
                print(f"\n{r.prop}: UNKNOWN: {r.reason}")
        holding = [r.prop for r in results if r.verdict.value in ("PROVED", "HOLDS-TO-DEPTH")]
        if holding:
            print(
                f"holds only inside this scope ({'; '.join(scope.partial())}): "
                + ", ".join(holding)
            )
        emit_traces(args, props, scope, results)
        print()
    if run.shard:
        print(f"shard {run.shard[0]}/{run.shard[1]}: {len(run.jobs)} of {len(run.plan)} jobs")
    if run.cache:
        print(
            f"verdict cache: {run.cache.hits} hits, {run.cache.misses} misses, "
            f"{run.cache.stored} stored"
        )
    print(f"{len(run.records)} properties in {time.perf_counter() - t0:.1f}s; exit {code}")
    emit_reports(args, run)
    return code


def render_step(step: object) -> str:
    from pmcheck.checker.lines import step_text

    return step_text(step)


def cmd_cleanup(args: argparse.Namespace) -> int:
    """Namespaces a killed run left behind (a run also sweeps them itself
    before it creates its own)."""
    from pmcheck.live.netns import sweep_stale_netns

    if os.geteuid() != 0:
        raise LiveUnavailable("cleanup needs root (ip netns)")
    removed = sweep_stale_netns()
    print("\n".join(f"removed {n}" for n in removed) or "nothing to remove")
    return EXIT_OK


COMMANDS = {
    "cleanup": cmd_cleanup,
    "simulate": cmd_simulate,
    "kernel": cmd_kernel,
    "diff": cmd_diff,
    "check": cmd_check,
    "merge": cmd_merge,
}


def cmd_counterexample(args: argparse.Namespace) -> int:
    """`show`, `replay`, `selftest`: counterexample traces (pmcheck.counterexamples.cli)."""
    from pmcheck.counterexamples.cli import COMMANDS as TRACE_COMMANDS

    return TRACE_COMMANDS[args.command](args)


def emit_traces(*args: object, **kw: object) -> None:
    """--trace-format/--out after a check (imported late: only checks with a
    violation pay for the counterexample machinery)."""
    from pmcheck.counterexamples.cli import emit_traces as emit

    emit(*args, **kw)  # type: ignore[arg-type]


COMMANDS.update(show=cmd_counterexample, replay=cmd_counterexample, selftest=cmd_counterexample)


def cmd_ask(args: argparse.Namespace) -> int:
    """`ask` and `versions` (pmcheck.ask.command; loads Z3 only when used)."""
    from pmcheck.ask.command import COMMANDS
    from pmcheck.checker.interrupt import interruptible

    with interruptible():
        return COMMANDS[args.command](args)


COMMANDS.update(ask=cmd_ask, versions=cmd_ask)


def cmd_stale(args: argparse.Namespace) -> int:
    """`stale SRC_DIR` (pmcheck.stale): 0 nothing pinned changed, 1 some did."""
    from pmcheck.stale import render, stale

    src = Path(args.src_dir)
    if not src.is_dir():
        raise UsageError(f"{src}: not a directory")
    try:
        items = stale(src)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    print(render(items, src))
    return EXIT_MISMATCH if items else EXIT_OK


COMMANDS.update(stale=cmd_stale)


def cmd_ledger(args: argparse.Namespace) -> int:
    from pmcheck.ledger_view import render_ledger

    print(render_ledger(args.markdown))
    return EXIT_OK


def cmd_patches(args: argparse.Namespace) -> int:
    from pmcheck.ledger_view import render_patches

    print(render_patches())
    return EXIT_OK


def cmd_review(args: argparse.Namespace) -> int:
    from pmcheck.checker.interrupt import interruptible
    from pmcheck.review import cmd_review as run

    with interruptible():
        return run(args)


COMMANDS.update(ledger=cmd_ledger, patches=cmd_patches, review=cmd_review)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return int(e.code or 0)
    try:
        return COMMANDS[args.command](args)
    except ScenarioError as e:
        print(f"pmcheck: {e}", file=sys.stderr)
        return EXIT_INPUT
    except (UsageError, CIError) as e:
        print(f"pmcheck: error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except LiveUnavailable as e:
        print(f"pmcheck: {e}", file=sys.stderr)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        print("pmcheck: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("pmcheck: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:  # `pmcheck simulate x | head`: the reader left, so do we
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes
        return 141
    except Exception as e:  # never a traceback for users; say what broke
        stop = signals.stopped()
        if stop is not None:  # Z3 failed because a Ctrl-C / SIGTERM interrupted it
            word = "interrupted" if stop == signal.SIGINT else "terminated"
            print(f"pmcheck: {word}", file=sys.stderr)
            return 128 + stop
        print(f"pmcheck: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        if os.environ.get("PMCHECK_DEBUG"):
            raise
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
