"""The verdict cache (issue 9): a second identical run does no solver work and
gives identical verdicts; a rule change invalidates exactly the verdicts whose
encoding it changes; VIOLATED carries over to deeper bounds, HOLDS-TO-DEPTH
and PROVED do not cross bounds, UNKNOWN is never stored or served.

Scopes have 1 endpoint slot and BMC depth <= 5 so each run takes about a second.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from pmcheck.checker import cache as cache_mod
from pmcheck.checker import engines, run, suite
from pmcheck.checker.cache import Cache, job_keys
from pmcheck.checker.engines import SolverLimits
from pmcheck.checker.run import Options
from pmcheck.checker.scope import Scope
from pmcheck.checker.suite import Job, plan, run_suite
from pmcheck.checker.verdict import Result, Verdict
from pmcheck.cli import main
from pmcheck.model.rules import RULES
from pmcheck.model.versions import KernelVersion
from pmcheck.properties import catalog
from pmcheck.properties.netns import P1, P2, P4F, P6

V18, V19 = KernelVersion.V6_18, KernelVersion.V6_19
OPTS = Options(depth=2)


def scopes(*versions: KernelVersion) -> list[Scope]:
    return [Scope(v, endpoint_slots=1) for v in versions]


def jobs_for(props: list[Any], *versions: KernelVersion) -> list[Job]:
    return plan(props, scopes(*versions))


class Recorder:
    """The solver, noting which jobs it was asked to run."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, tuple[str, ...]]] = []

    def __call__(self, props: tuple[str, ...], scope: Scope, opts: Options) -> list[Result]:
        self.ran.append((scope.version.value, props))
        return suite.solve(props, scope, opts)


def no_solver(monkeypatch: Any) -> None:
    """Every engine entry point raises: a run that reaches one fails the test."""

    def boom(*a: Any, **k: Any) -> Any:
        raise AssertionError("solver work in a cached run")

    for mod, names in (
        (run, ("check", "bmc", "houdini", "k_induction", "pdr")),
        (engines, ("bmc", "houdini", "k_induction", "pdr", "premise_path")),
    ):
        for n in names:
            monkeypatch.setattr(mod, n, boom)


def verdicts(r: suite.SuiteRun) -> list[tuple[str, str, Result]]:
    return [(rec.version.value, rec.prop.name, rec.result) for rec in r.records]


def test_second_identical_run_does_no_solver_work(tmp_path: Path, monkeypatch: Any) -> None:
    jobs = jobs_for([P2, P6], V18, V19)
    ids = [j.id for j in jobs]
    cold = run_suite(jobs, ids, OPTS, cache=Cache.open(tmp_path))
    assert not any(rec.cached for rec in cold.records)
    assert {(v, p): r.verdict for v, p, r in verdicts(cold)} == {
        ("6.18", P2.name): Verdict.VIOLATED,
        ("6.18", P6.name): Verdict.PROVED,
        ("6.19", P2.name): Verdict.VIOLATED,
        ("6.19", P6.name): Verdict.PROVED,
    }
    no_solver(monkeypatch)
    cache = Cache.open(tmp_path)
    warm = run_suite(jobs, ids, OPTS, cache=cache)
    assert verdicts(warm) == verdicts(cold)  # whole Results: traces and witnesses too
    assert all(rec.cached for rec in warm.records) and all(jr.cached for jr in warm.jobs)
    assert (cache.stats.hits, cache.stats.misses) == (4, 0)
    assert warm.exit_code == cold.exit_code == 0
    # the trace of a cached violation re-renders as the original
    assert [rec.result.trace for rec in warm.records] == [rec.result.trace for rec in cold.records]


def test_cli_says_cached_and_cache_only_fails_on_a_miss(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    argv = [
        "check",
        "P6",
        "--kernel",
        "6.19",
        "--slots",
        "1",
        "--depth",
        "2",
        "--cache",
        str(tmp_path),
    ]
    assert main([*argv, "--cache-only"]) == 3  # empty cache: UNKNOWN, never a pass
    out = capsys.readouterr().out
    assert "UNKNOWN" in out and suite.CACHE_ONLY_MISS in out
    assert main(argv) == 0
    assert "(cached)" not in capsys.readouterr().out
    no_solver(monkeypatch)
    assert main([*argv, "--cache-only"]) == 0
    out = capsys.readouterr().out
    assert "(cached)" in out and "1 hits, 0 misses" in out
    monkeypatch.setenv("PMCHECK_CACHE", str(tmp_path))
    assert main([*argv[:-2], "--cache-only"]) == 0  # the directory from $PMCHECK_CACHE
    capsys.readouterr()


def _limits_set_does_nothing_on_6_19(monkeypatch: Any) -> None:
    rule = RULES["limits set"]

    def edited(k: Any, st: Any, inp: Any) -> Any:
        post, out = rule.fn(k, st, inp)
        return (st if k.version is V19 else post), out

    monkeypatch.setitem(RULES, "limits set", dataclasses.replace(rule, fn=edited))


def test_a_rule_change_invalidates_exactly_the_affected_entries(
    tmp_path: Path, monkeypatch: Any
) -> None:
    jobs = jobs_for([P2, P6], V18, V19)
    ids = [j.id for j in jobs]
    run_suite(jobs, ids, OPTS, cache=Cache.open(tmp_path))

    # a rule outside the netns scope (a connection event): nothing is invalidated
    connect = RULES["connect"]
    monkeypatch.setitem(
        RULES,
        "connect",
        dataclasses.replace(connect, fn=lambda k, st, inp: (st, connect.fn(k, st, inp)[1])),
    )
    rec = Recorder()
    run_suite(jobs, ids, OPTS, cache=Cache.open(tmp_path), solver=rec)
    assert rec.ran == []

    # an edit of `limits set` that only changes 6.19: only the 6.19 job runs again
    _limits_set_does_nothing_on_6_19(monkeypatch)
    cache = Cache.open(tmp_path)
    for job in jobs:
        keys = job_keys([catalog.all_properties()[n] for n in job.props], job.scope, OPTS)
        hits = {n: cache.lookup(keys, n) is not None for n in job.props}
        assert hits == {n: job.scope.version is V18 for n in job.props}, job.id
    rec = Recorder()
    run_suite(jobs, ids, OPTS, cache=Cache.open(tmp_path), solver=rec)
    assert rec.ran == [("6.19", (P2.name, P6.name))]
    rec = Recorder()  # and the new 6.19 verdicts are cached in turn
    run_suite(jobs, ids, OPTS, cache=Cache.open(tmp_path), solver=rec)
    assert rec.ran == []


def test_a_property_change_invalidates_only_that_property(tmp_path: Path) -> None:
    scope = Scope(V19, endpoint_slots=1)
    cache = Cache.open(tmp_path)
    run_suite(jobs_for([P2, P6], V19), [], OPTS, cache=cache)
    edited = dataclasses.replace(
        P6,
        holds=lambda ops, st: ops.and_(
            P6.holds(ops, st), ops.ule(st.netns.endpoints, ops.const(8, 8))
        ),
    )
    keys = job_keys([P2, edited], scope, OPTS)
    assert cache.lookup(keys, P2.name) is not None
    assert cache.lookup(keys, P6.name) is None


def test_an_engine_source_change_invalidates_everything(tmp_path: Path, monkeypatch: Any) -> None:
    jobs = jobs_for([P6], V18, V19)
    run_suite(jobs, [], OPTS, cache=Cache.open(tmp_path))
    monkeypatch.setattr(cache_mod, "engine_digest", lambda: "edited engines.py")
    rec = Recorder()
    run_suite(jobs, [], OPTS, cache=Cache.open(tmp_path), solver=rec)
    assert sorted(v for v, _ in rec.ran) == ["6.18", "6.19"]


def test_unknown_is_never_stored_or_served(tmp_path: Path) -> None:
    jobs = jobs_for([P6], V19)
    starved = Options(depth=2, limits=SolverLimits(rlimit=1))
    cache = Cache.open(tmp_path)
    first = run_suite(jobs, [], starved, cache=cache)
    assert [rec.result.verdict for rec in first.records] == [Verdict.UNKNOWN]
    assert cache.stats.stored == 0
    rec = Recorder()
    again = run_suite(jobs, [], starved, cache=Cache.open(tmp_path), solver=rec)
    assert len(rec.ran) == 1 and again.records[0].result.verdict is Verdict.UNKNOWN
    assert not again.records[0].cached and again.exit_code == 3
    # stored by hand, it is still not served
    keys = job_keys([P6], Scope(V19, endpoint_slots=1), starved)
    cache.store(keys, Result(P6.name, Verdict.UNKNOWN, "kind", 1.0, reason="gave up"))
    assert cache.lookup(keys, P6.name) is None
    only = run_suite(jobs, [], starved, cache=Cache.open(tmp_path), cache_only=True)
    assert only.records[0].result.reason == suite.CACHE_ONLY_MISS and only.exit_code == 3


def test_violations_carry_over_to_deeper_bounds_only(tmp_path: Path, monkeypatch: Any) -> None:
    jobs = jobs_for([P2, P4F], V19)  # violated at depth 1 and 2
    at = {d: Options(depth=d, witnesses=False) for d in (1, 2, 5)}
    first = run_suite(jobs, [], at[2], cache=Cache.open(tmp_path))
    assert [(r.result.verdict, r.result.depth) for r in first.records] == [
        (Verdict.VIOLATED, 1),
        (Verdict.VIOLATED, 2),
    ]
    rec = Recorder()
    deeper = run_suite(jobs, [], at[5], cache=Cache.open(tmp_path), solver=rec)
    assert rec.ran == [] and [r.result for r in deeper.records] == [r.result for r in first.records]
    rec = Recorder()  # at depth 1 the 2-step P4F trace is out of reach: the job runs
    shallower = run_suite(jobs, [], at[1], cache=Cache.open(tmp_path), solver=rec)
    assert len(rec.ran) == 1
    assert shallower.records[1].result.verdict is Verdict.HOLDS_TO_DEPTH


def test_holds_to_depth_and_proved_do_not_cross_bounds(tmp_path: Path) -> None:
    jobs = jobs_for([P6], V18)
    for engine, verdict in (("bmc", Verdict.HOLDS_TO_DEPTH), ("auto", Verdict.PROVED)):
        opts = {d: Options(engine=engine, depth=d) for d in (1, 2)}
        first = run_suite(jobs, [], opts[1], cache=Cache.open(tmp_path))
        assert first.records[0].result.verdict is verdict
        rec = Recorder()
        run_suite(jobs, [], opts[1], cache=Cache.open(tmp_path), solver=rec)
        assert rec.ran == []  # same key: reused
        run_suite(jobs, [], opts[2], cache=Cache.open(tmp_path), solver=rec)
        assert len(rec.ran) == 1  # another bound: run again


def test_a_proof_is_reused_only_with_the_properties_it_rests_on(tmp_path: Path) -> None:
    scope, cache = Scope(V18, endpoint_slots=1), Cache.open(tmp_path)
    proof = Result(P6.name, Verdict.PROVED, "kind", 1.0, 1, certificate=(P1.name, P6.name))
    cache.store(job_keys([P1, P6], scope, OPTS), proof)
    assert cache.lookup(job_keys([P1, P6], scope, OPTS), P6.name) == proof
    assert cache.lookup(job_keys([P1, P2, P6], scope, OPTS), P6.name) == proof
    assert cache.lookup(job_keys([P6], scope, OPTS), P6.name) is None  # P1 not checked
    holds = Result(P1.name, Verdict.HOLDS_TO_DEPTH, "bmc", 1.0, 2)
    cache.store(job_keys([P1, P6], scope, OPTS), holds)
    assert cache.lookup(job_keys([P1, P6], scope, OPTS), P1.name) == holds
    assert cache.lookup(job_keys([P1, P2, P6], scope, OPTS), P1.name) is None


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--cache", "FILE"], "is not a directory"),
        (["--cache", "FILE/sub"], "cache directory"),
        (["--cache-only"], "--cache-only needs a cache"),
        (["--cache", "DIR", "--no-cache"], "conflict"),
    ],
)
def test_bad_cache_options_are_input_errors(
    argv: list[str], message: str, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.delenv("PMCHECK_CACHE", raising=False)
    (tmp_path / "FILE").write_text("not a directory")
    argv = [a.replace("FILE", str(tmp_path / "FILE")).replace("DIR", str(tmp_path)) for a in argv]
    assert main(["check", "P6", "--slots", "1", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pmcheck: error: ") and message in err and err.count("\n") == 1
