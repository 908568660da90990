"""`pmcheck check` for CI: kernel lists, -j, shards, the verdict cache, the
reports (JUnit, SARIF, GitHub annotations and step summary), and
`pmcheck merge`. See docs/ci.md. Imports stay light until a run starts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pmcheck.checker.cache import Cache
    from pmcheck.checker.run import Options
    from pmcheck.checker.scope import Scope
    from pmcheck.checker.suite import SuiteRun
    from pmcheck.model.versions import KernelVersion
    from pmcheck.properties.base import Property

CACHE_ENV = "PMCHECK_CACHE"


JOBS_ENV = "PMCHECK_JOBS"


def default_jobs() -> int:
    """-j without the option: $PMCHECK_JOBS, else one job per core (a
    version's connection properties are separate jobs, so both cores of a
    2-core machine work on the default check)."""
    text = os.environ.get(JOBS_ENV)
    if text is None:
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    if not text.strip().isdigit() or int(text) < 1:
        raise CIError(f"${JOBS_ENV}={text!r}: need a whole number of jobs, at least 1")
    return int(text)


class CIError(Exception):
    """Bad CI input: one line, exit code 2."""


def add_check_arguments(ck: argparse.ArgumentParser) -> None:
    """The CI options of `pmcheck check`."""
    g = ck.add_argument_group("CI (docs/ci.md)")
    g.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="run up to N jobs (kernel versions x scopes x property groups) in "
        f"parallel processes (default: ${JOBS_ENV}, else one per core)",
    )
    g.add_argument(
        "--shard",
        metavar="K/N",
        help="run only shard K of N of the sorted job list (merge with `pmcheck merge`)",
    )
    g.add_argument(
        "--cache",
        metavar="DIR",
        help=f"verdict cache directory (default: ${CACHE_ENV}; none: no cache)",
    )
    g.add_argument("--no-cache", action="store_true", help=f"ignore ${CACHE_ENV}")
    g.add_argument(
        "--cache-only",
        action="store_true",
        help="never run a solver: a verdict missing from the cache is UNKNOWN (exit 3)",
    )
    add_report_arguments(g)


def add_report_arguments(g: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
    g.add_argument("--junit", metavar="FILE", help="write JUnit XML")
    g.add_argument("--sarif", metavar="FILE", help="write SARIF 2.1.0")
    g.add_argument(
        "--github",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="GitHub Actions annotations and $GITHUB_STEP_SUMMARY (default: on "
        "when GITHUB_ACTIONS=true)",
    )


def kernel_versions(text: str | None) -> list[KernelVersion]:
    """`--kernel`: one version, a comma-separated list, or `all`."""
    from pmcheck.model.versions import DEFAULT_VERSION, KernelVersion
    from pmcheck.patches import resolve

    if not text:
        return [DEFAULT_VERSION]
    if text == "all":
        return list(KernelVersion)
    out: list[KernelVersion] = []
    for part in text.split(","):
        try:
            v = resolve(part.strip())
        except ValueError as e:
            raise CIError(f"--kernel {text}: {e} (or `all`)") from None
        if v not in out:
            out.append(v)
    return out


def _check_writable(option: str, path: str | None) -> None:
    if path is None:
        return
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise CIError(f"{option} {path}: is a directory")
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise CIError(f"{option} {path}: directory {str(parent)!r} is missing or not writable")


def open_cache(args: argparse.Namespace) -> Cache | None:
    from pmcheck.checker.cache import Cache, CacheError

    if args.no_cache and args.cache:
        raise CIError("--cache and --no-cache conflict")
    where = None if args.no_cache else (args.cache or os.environ.get(CACHE_ENV) or None)
    if args.cache_only and where is None:
        raise CIError("--cache-only needs a cache: --cache DIR or $" + CACHE_ENV)
    if where is None:
        return None
    try:
        return Cache.open(where)
    except CacheError as e:
        raise CIError(str(e)) from None


def run_check(
    args: argparse.Namespace, chosen: list[Property], scopes: list[Scope], opts: Options
) -> SuiteRun:
    """Plan, shard and run `pmcheck check` (validates the CI options first)."""
    from pmcheck.checker import suite

    if args.jobs is None:
        args.jobs = default_jobs()
    if args.jobs < 1:
        raise CIError(f"-j {args.jobs}: need at least 1")
    _check_writable("--junit", args.junit)
    _check_writable("--sarif", args.sarif)
    try:
        spec = suite.parse_shard(args.shard) if args.shard is not None else None
    except suite.SuiteError as e:
        raise CIError(str(e)) from None
    cache = open_cache(args)
    jobs = suite.plan(chosen, scopes, proof_slots=getattr(args, "conn_proof_slots", None))
    ids = [j.id for j in jobs]
    mine = suite.shard(jobs, *spec) if spec else jobs
    return suite.run_suite(
        mine, ids, opts, workers=args.jobs, cache=cache, cache_only=args.cache_only, shard_spec=spec
    )


def to_json(run: SuiteRun) -> str:
    from pmcheck.checker import suite

    return json.dumps(suite.to_json(run), indent=2)


def emit_reports(args: argparse.Namespace, run: SuiteRun, title: str = "pmcheck check") -> None:
    """Write --junit / --sarif, print annotations (to stderr when stdout is
    JSON), and append the step summary."""
    from pmcheck.reports import github, junit, markdown, sarif

    wall = {jr.job.id: jr.seconds for jr in run.jobs}
    for option, path, text in (
        ("--junit", args.junit, lambda: junit.render(run.records, job_seconds=wall)),
        ("--sarif", args.sarif, lambda: sarif.render(run.records)),
    ):
        if path:
            try:
                Path(path).write_text(text())
            except OSError as e:
                raise CIError(f"{option} {path}: {e.strerror or e}") from None
    if github.enabled(args.github):
        out = sys.stderr if getattr(args, "json", False) else sys.stdout
        for line in github.annotations(run.records):
            print(line, file=out)
        out.flush()
        markdown.append_step_summary(markdown.render(run.records, run.exit_code, title))


# --- pmcheck merge -----------------------------------------------------------------------


def add_merge_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    mp = sub.add_parser(
        "merge", help="combine `check --shard K/N --json` results into one report and one exit code"
    )
    mp.add_argument("files", nargs="+", metavar="FILE", help="--json output of each shard")
    mp.add_argument("--json", action="store_true", help="the merged verdicts as JSON")
    add_report_arguments(mp)


def cmd_merge(args: argparse.Namespace) -> int:
    from pmcheck.checker import suite

    _check_writable("--junit", args.junit)
    _check_writable("--sarif", args.sarif)
    try:
        runs = [suite.load(f) for f in args.files]
        run = suite.merge(runs, list(args.files))
    except suite.SuiteError as e:
        raise CIError(str(e)) from None
    if args.json:
        print(to_json(run))
    else:
        print(summary_text(run, f"pmcheck merge: {len(args.files)} files"))
    emit_reports(args, run, "pmcheck merge")
    return run.exit_code


def summary_text(run: SuiteRun, head: str) -> str:
    """A plain-text verdict table of a (merged) run, with the violation traces."""
    from tabulate import tabulate

    from pmcheck.reports.common import headline, trace_text

    rows = [
        [rec.prop.name, rec.version.value, rec.verdict_text(), rec.expected, rec.outcome]
        for rec in run.records
    ]
    out = [
        f"{head}, {len(run.jobs)} jobs, {len(run.records)} verdicts",
        tabulate(
            rows, headers=["property", "kernel", "verdict", "baseline", "result"], tablefmt="simple"
        ),
    ]
    for rec in run.records:
        if rec.result.trace and rec.result.verdict.value == "VIOLATED":
            out += ["", headline(rec), trace_text(rec)]
        elif rec.outcome != "pass":
            out += ["", headline(rec)]
    out.append(f"\nexit {run.exit_code}")
    return "\n".join(out)
