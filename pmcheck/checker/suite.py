"""The suite as jobs: plan, shard, run in parallel through the cache, merge.

A job is one `check()` call: one scope (kernel version, slots, ...) and the
properties checked in it together. Properties of one scope are not split
into separate jobs, because `auto` proves them *together*: Houdini finds
the largest jointly inductive subset, and on 6.18-stable with 2 slots P2,
P4 and P5 are inductive only alongside the others (checked alone, each is
HOLDS-TO-DEPTH 6 and not 3-inductive). Splitting would weaken verdicts, so
jobs are property-set x kernel version x scope. The connection scope is the
exception (`plan`): its properties that are not proved there are refuted or
bounded by BMC one at a time, so each is its own job and `-j` spreads one
version over the cores.

`--shard K/N` keeps the jobs whose index in the sorted job list is K-1
modulo N; `-j N` runs the jobs of a run in N processes; `pmcheck merge`
reads the `--json` documents of all shards and gives one report and one
exit code, computed as a single run would.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import z3

from pmcheck import __version__
from pmcheck.checker.cache import Cache, JobKeys, Stats, job_keys, source_digest
from pmcheck.checker.engines import SolverLimits
from pmcheck.checker.lines import step_text
from pmcheck.checker.records import (
    ERROR,
    FAILURE,
    FormatError,
    Record,
    make_record,
    result_from_json,
    result_to_json,
    scope_from_json,
    scope_to_json,
)
from pmcheck.checker.run import Options
from pmcheck.checker.scope import Scope, proof_variant, two_pm_proof_variant
from pmcheck.checker.verdict import Result, Verdict
from pmcheck.properties.base import Property

SCHEMA = "pmcheck-verdicts/2"
CODE_OF_OUTCOME = {"pass": 0, FAILURE: 1, ERROR: 3}
CACHE_ONLY_MISS = "not in the verdict cache (--cache-only)"


class SuiteError(Exception):
    """Bad shard spec, unreadable or inconsistent merge input (one line, exit 2)."""


@dataclass(frozen=True)
class Job:
    scope: Scope
    props: tuple[str, ...]

    @property
    def id(self) -> str:
        text = json.dumps([scope_to_json(self.scope), list(self.props)], sort_keys=True)
        return f"{self.scope.version.value}:{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def plan(props: list[Property], scopes: list[Scope], proof_slots: int | None = None) -> list[Job]:
    """The sorted job list: per scope, the properties checked at its version
    that belong to its kind (Property.scope_kind == Scope.kind: namespace,
    connection, or two in-kernel PMs).

    A connection scope is split further, so `-j` helps inside one version:
    the properties whose baseline is PROVED stay together (Houdini proves
    them jointly), every other one is a job of its own (BMC looks at each
    alone; k-induction there has never proved one, so nothing is lost).
    The PROVED group is checked in `scope.proof_variant` with
    `proof_slots` endpoint slots when given (`--conn-proof-slots`, default
    the kernel's 8): two connections, every id, no id cut. Then too, a
    two-PM scope whose properties are all PROVED by baseline is checked in
    `scope.two_pm_proof_variant` (two addresses and slots a side)."""
    jobs = []
    for scope in scopes:
        names = tuple(
            p.name for p in props if p.applies(scope.version) and p.scope_kind == scope.kind
        )
        if not names:
            continue
        by_name = {p.name: p for p in props}
        proved = tuple(n for n in names if by_name[n].expect(scope.version) == "PROVED")
        if scope.kind == "two-pm" and proof_slots is not None and proved == names:
            jobs.append(Job(two_pm_proof_variant(scope), names))
            continue
        if scope.kind != "connection":
            jobs.append(Job(scope, names))
            continue
        if proved:
            wide = scope if proof_slots is None else proof_variant(scope, proof_slots)
            jobs.append(Job(wide, proved))
        jobs += [Job(scope, (n,)) for n in names if n not in proved]
    return sorted(jobs, key=lambda j: j.id)


def expected_cost(job: Job, registry: dict[str, Property]) -> int:
    """A rough rank of a job's solver time, for scheduling only (results
    and their order never depend on it). Measured on the 2-core machine
    (docs/checker.md): the proofs at 4+ slots (Bitwuzla: the namespace's
    ~100 s at 8, the connection group's ~110 s at 8 with 2 connections)
    and each connection property that BMC must take to depth 6 (a
    violation or HOLDS-TO-DEPTH; 2-150 s) dwarf the small proofs
    (~3-13 s)."""
    scope = job.scope
    wide = scope.endpoint_slots >= 4
    if scope.kind == "netns":
        return 90 if wide else 10
    if scope.kind == "two-pm":
        return 25
    if all(registry[n].expect(scope.version) == "PROVED" for n in job.props):
        return 90 if wide else 5
    return 60


def longest_first(jobs: list[Job], registry: dict[str, Property]) -> list[Job]:
    """Submission order for the process pool: the costliest jobs first (LPT
    scheduling), so a long job does not start last and leave a core idle;
    ties keep the sorted job order, so runs stay deterministic."""
    return sorted(jobs, key=lambda j: -expected_cost(j, registry))


def parse_shard(text: str) -> tuple[int, int]:
    k, sep, n = text.partition("/")
    if not sep or not k.isdigit() or not n.isdigit():
        raise SuiteError(f"--shard {text!r}: expected K/N with integers, e.g. 1/4")
    ki, ni = int(k), int(n)
    if ni < 1 or not 1 <= ki <= ni:
        raise SuiteError(f"--shard {text}: need 1 <= K <= N")
    return ki, ni


def shard(jobs: list[Job], k: int, n: int) -> list[Job]:
    """Shard K of N (1-based): every N-th job of the sorted list from K-1."""
    return [j for i, j in enumerate(jobs) if i % n == k - 1]


# --- running ---------------------------------------------------------------------------


@dataclass
class JobRun:
    job: Job
    results: list[Result]
    cached: bool  # every verdict came from the cache
    seconds: float  # wall time of this job in this run (0 when cached)


@dataclass
class SuiteRun:
    records: list[Record]
    jobs: list[JobRun]
    plan: list[str]  # ids of every job of the full plan (all shards)
    opts: Options
    shard: tuple[int, int] | None = None
    cache: Stats | None = None
    seconds: float = 0.0
    source: str = field(default_factory=source_digest)

    @property
    def exit_code(self) -> int:
        return exit_code(self.records)


def exit_code(records: list[Record]) -> int:
    """run.exit_code over all jobs: 1 beats 3 beats 0."""
    codes = {CODE_OF_OUTCOME[r.outcome] for r in records}
    return 1 if 1 in codes else 3 if 3 in codes else 0


def _registry() -> dict[str, Property]:
    from pmcheck.properties import catalog

    return catalog.all_properties()


def solve(props: tuple[str, ...], scope: Scope, opts: Options) -> list[Result]:
    """One job's solver work (also the entry point of worker processes)."""
    from pmcheck.checker import run

    registry = _registry()
    return run.check([registry[n] for n in props], scope, opts)


def _from_cache(cache: Cache, keys: JobKeys, job: Job) -> dict[str, Result]:
    found = {}
    for name in job.props:
        r = cache.lookup(keys, name)
        if r is not None:
            found[name] = r
    return found


def run_suite(
    jobs: list[Job],
    all_ids: list[str],
    opts: Options,
    workers: int = 1,
    cache: Cache | None = None,
    cache_only: bool = False,
    shard_spec: tuple[int, int] | None = None,
    solver: Callable[[tuple[str, ...], Scope, Options], list[Result]] | None = None,
) -> SuiteRun:
    """Run `jobs`: cached verdicts first, the rest in up to `workers` processes."""
    t0 = time.perf_counter()
    source = source_digest()  # of the sources this run starts from
    registry = _registry()
    done: dict[str, JobRun] = {}
    keys: dict[str, JobKeys] = {}
    pending: list[Job] = []
    for job in jobs:
        if cache is None:
            pending.append(job)
            continue
        keys[job.id] = job_keys([registry[n] for n in job.props], job.scope, opts)
        found = _from_cache(cache, keys[job.id], job)
        if len(found) == len(job.props):
            done[job.id] = JobRun(job, [found[n] for n in job.props], True, 0.0)
        elif cache_only:
            results = [
                found.get(n) or Result(n, Verdict.UNKNOWN, opts.engine, 0.0, reason=CACHE_ONLY_MISS)
                for n in job.props
            ]
            done[job.id] = JobRun(job, results, False, 0.0)
        else:
            pending.append(job)

    def finish(job: Job, results: list[Result], seconds: float) -> None:
        if cache is not None:
            for r in results:
                cache.store(keys[job.id], r)
        done[job.id] = JobRun(job, results, False, seconds)

    run_one = solver or solve
    if workers <= 1 or len(pending) <= 1:
        for job in pending:
            t1 = time.perf_counter()
            results = run_one(job.props, job.scope, opts)
            finish(job, results, time.perf_counter() - t1)
    else:
        ctx = multiprocessing.get_context("spawn")  # no inherited solver state
        with concurrent.futures.ProcessPoolExecutor(
            min(workers, len(pending)), mp_context=ctx
        ) as pool:
            started = {
                pool.submit(_timed, run_one, job.props, job.scope, opts): job
                for job in longest_first(pending, registry)
            }
            try:
                for fut in concurrent.futures.as_completed(started):
                    results, seconds = fut.result()
                    finish(started[fut], results, seconds)
            except BaseException:
                # Interrupted: do not wait for the jobs still running (the
                # pool's exit would); their results are not stored.
                for proc in list(getattr(pool, "_processes", {}).values()):
                    proc.kill()  # SIGKILL: a worker has nothing to clean up
                pool.shutdown(wait=False, cancel_futures=True)
                raise

    runs = [done[j.id] for j in jobs]
    records = [
        make_record(
            registry[r.prop],
            jr.job.scope,
            r,
            opts.engine,
            opts.depth,
            cached=jr.cached,
            job=jr.job.id,
        )
        for jr in runs
        for r in jr.results
    ]
    return SuiteRun(
        records,
        runs,
        all_ids,
        opts,
        shard_spec,
        None if cache is None else cache.stats,
        time.perf_counter() - t0,
        source,
    )


def _timed(fn: Callable[..., list[Result]], *args: Any) -> tuple[list[Result], float]:
    """A -j worker's job; Ctrl-C reaches the workers too (one process group)
    and must stop their queries as it stops the parent's."""
    from pmcheck.checker.interrupt import interruptible

    t0 = time.perf_counter()
    # A signal ends the worker process itself: as an exception it would be
    # caught by the pool's worker loop, which then waits for the next job
    # forever (and the parent's exit joins it).
    with interruptible(worker=True):
        return fn(*args), time.perf_counter() - t0


# --- the --json document (schema pmcheck-verdicts/2, docs/ci.md) ------------------------


def record_to_json(rec: Record) -> dict[str, Any]:
    r = rec.result
    return {
        # schema 1 fields, same meaning
        "property": r.prop,
        "verdict": r.verdict.value,
        "engine": r.engine,
        "depth": r.depth,
        "seconds": round(r.seconds, 3),
        "certificate": list(r.certificate),
        "reason": r.reason,
        "expected": rec.expected,
        "meets_expectation": rec.met,
        "trace": [step_text(s) for s in r.trace],
        "witness_steps": None if r.witness is None else len(r.witness),
        # schema 2
        "kernel": rec.version.value,
        "group": rec.prop.group,
        "job": rec.job,
        "cached": rec.cached,
        "outcome": rec.outcome,
        "describe": r.describe(),
        "result": result_to_json(r),
    }


def to_json(run: SuiteRun) -> dict[str, Any]:
    opts = run.opts
    return {
        "schema": SCHEMA,
        "pmcheck": __version__,
        "z3": z3.get_version_string(),
        "source_digest": run.source,
        "exit_code": run.exit_code,
        "engine": opts.engine,
        "depth": opts.depth,
        "k_max": opts.k_max,
        "limits": asdict(opts.limits),
        "witnesses": opts.witnesses,
        "shard": None if run.shard is None else {"index": run.shard[0], "count": run.shard[1]},
        "plan": run.plan,
        "jobs": [
            {
                "id": jr.job.id,
                "kernel": jr.job.scope.version.value,
                "scope": scope_to_json(jr.job.scope),
                "scope_text": jr.job.scope.describe(),
                "properties": list(jr.job.props),
                "cached": jr.cached,
                "seconds": round(jr.seconds, 3),
            }
            for jr in run.jobs
        ],
        "cache": None if run.cache is None else asdict(run.cache),
        "seconds": round(run.seconds, 3),
        "results": [record_to_json(r) for r in run.records],
    }


def _options(doc: dict[str, Any]) -> Options:
    return Options(
        engine=str(doc["engine"]),
        depth=int(doc["depth"]),
        k_max=int(doc["k_max"]),
        limits=SolverLimits(**doc["limits"]),
        witnesses=bool(doc["witnesses"]),
    )


def from_json(doc: Any, where: str = "input") -> SuiteRun:
    """A `--json` document back into a SuiteRun (baselines judged by this checkout)."""
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        got = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise SuiteError(
            f"{where}: not a pmcheck check --json document of schema {SCHEMA} (got {got!r})"
        )
    registry = _registry()
    try:
        opts = _options(doc)
        jobs: dict[str, JobRun] = {}
        for j in doc["jobs"]:
            job = Job(scope_from_json(j["scope"]), tuple(j["properties"]))
            if job.id != j["id"]:
                raise SuiteError(f"{where}: job {j['id']} does not match its scope")
            jobs[job.id] = JobRun(job, [], bool(j["cached"]), float(j["seconds"]))
        records = []
        for item in doc["results"]:
            jr = jobs[item["job"]]
            result = result_from_json(item["result"])
            if result.prop not in registry:
                raise SuiteError(f"{where}: unknown property {result.prop}")
            jr.results.append(result)
            records.append(
                make_record(
                    registry[result.prop],
                    jr.job.scope,
                    result,
                    opts.engine,
                    opts.depth,
                    bool(item["cached"]),
                    jr.job.id,
                )
            )
        shard = doc["shard"]
        return SuiteRun(
            records,
            list(jobs.values()),
            [str(i) for i in doc["plan"]],
            opts,
            None if shard is None else (int(shard["index"]), int(shard["count"])),
            None,
            float(doc.get("seconds", 0.0)),
            str(doc["source_digest"]),
        )
    except (KeyError, TypeError, ValueError, FormatError) as e:
        if isinstance(e, SuiteError):
            raise
        raise SuiteError(f"{where}: malformed verdict document: {type(e).__name__}: {e}") from None


def load(path: str) -> SuiteRun:
    try:
        with open(path) as f:
            doc = json.load(f)
    except OSError as e:
        raise SuiteError(f"{path}: cannot read: {e.strerror or e}") from None
    except ValueError as e:
        raise SuiteError(f"{path}: not JSON: {e}") from None
    return from_json(doc, path)


def merge(runs: list[SuiteRun], names: list[str]) -> SuiteRun:
    """Shard results as one run; refuses mixed sources, overlaps and gaps."""
    if not runs:
        raise SuiteError("merge: no input files")
    first = runs[0]
    here = source_digest()
    seen: dict[str, str] = {}
    for run, name in zip(runs, names, strict=True):
        if run.source != first.source:
            raise SuiteError(f"{name}: computed from other sources than {names[0]}")
        if run.opts != first.opts:
            raise SuiteError(f"{name}: engine or options differ from {names[0]}")
        if run.plan != first.plan:
            raise SuiteError(f"{name}: a different job list than {names[0]}")
        for jr in run.jobs:
            if jr.job.id in seen:
                raise SuiteError(f"{name}: job {jr.job.id} is also in {seen[jr.job.id]}")
            seen[jr.job.id] = name
    if first.source != here:
        raise SuiteError(
            "the shard results were computed from other model/property/checker "
            "sources than this checkout's; merge on the same commit"
        )
    missing = [i for i in first.plan if i not in seen]
    if missing:
        raise SuiteError(
            f"merge: {len(missing)} of {len(first.plan)} jobs are in no file "
            f"(a shard is missing): {', '.join(missing)}"
        )
    order = {i: n for n, i in enumerate(first.plan)}
    jobs = sorted((jr for r in runs for jr in r.jobs), key=lambda jr: order[jr.job.id])
    by_job = {
        jr.job.id: [rec for r in runs for rec in r.records if rec.job == jr.job.id] for jr in jobs
    }
    records = [rec for jr in jobs for rec in by_job[jr.job.id]]
    return SuiteRun(
        records,
        jobs,
        first.plan,
        first.opts,
        None,
        None,
        max(r.seconds for r in runs),
        first.source,
    )
