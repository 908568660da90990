"""Scale-out (issue 9): shards partition the sorted job list, `pmcheck merge`
of all shards gives the full run's verdicts and exit code, `-j 2` gives the
same verdicts as `-j 1`, and bad shard or merge input is exit 2, one line.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from pmcheck.checker.scope import Scope
from pmcheck.checker.suite import SuiteError, parse_shard, plan, shard
from pmcheck.cli import main
from pmcheck.model.rules import RULES
from pmcheck.model.versions import KernelVersion
from pmcheck.properties import catalog

BASE = ["check", "P2", "P6", "--kernel", "6.18,6.19", "--slots", "1", "--depth", "2"]


def all_jobs() -> list[Any]:
    props = list(catalog.all_properties().values())
    return plan(props, [Scope(v, endpoint_slots=n) for v in KernelVersion for n in (1, 2, 3)])


@pytest.mark.parametrize("n", range(1, 12))
def test_shards_partition_the_job_list(n: int) -> None:
    jobs = all_jobs()
    n_jobs = 3 * len(KernelVersion)  # one per (version, slot count)
    assert len(jobs) == n_jobs and len({j.id for j in jobs}) == n_jobs
    parts = [shard(jobs, k, n) for k in range(1, n + 1)]
    ids = [j.id for part in parts for j in part]
    assert sorted(ids) == sorted(j.id for j in jobs)  # union = all, each exactly once
    assert len(ids) == len(set(ids))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1  # balanced by count
    assert [[j.id for j in shard(all_jobs(), k, n)] for k in range(1, n + 1)] == [
        [j.id for j in p] for p in parts
    ]  # deterministic


def test_a_connection_scope_is_split_but_its_proved_properties_stay_together() -> None:
    from pmcheck.checker.scope import connection_scope

    props = list(catalog.all_properties().values())
    version = KernelVersion.V6_18_STABLE
    jobs = plan(props, [connection_scope(version)])
    proved = [
        p.name for p in props if p.scope_kind == "connection" and p.expect(version) == "PROVED"
    ]
    together = [j for j in jobs if len(j.props) > 1]
    assert [sorted(j.props) for j in together] == [sorted(proved)]
    alone = sorted(n for j in jobs if len(j.props) == 1 for n in j.props)
    want = sorted(
        p.name
        for p in props
        if p.scope_kind == "connection" and p.applies(version) and p.name not in proved
    )
    assert alone == want and len(want) > 5


def test_the_proved_group_is_checked_at_the_proof_slots_and_the_rest_at_the_bmc_slots() -> None:
    from pmcheck.checker.scope import connection_scope

    props = list(catalog.all_properties().values())
    jobs = plan(props, [connection_scope(KernelVersion.V6_18_STABLE)], proof_slots=8)
    slots = {
        len(j.props) > 1: (
            j.scope.endpoint_slots,
            j.scope.connections,
            j.scope.bitmap_width,
            j.scope.any_id,
        )
        for j in jobs
    }
    assert slots == {True: (8, 2, 256, True), False: (2, 1, 32, False)}


def test_the_pair_is_proved_with_two_addresses_and_slots_a_side() -> None:
    from pmcheck.checker.scope import two_pm_scope

    props = list(catalog.all_properties().values())
    (job,) = plan(props, [two_pm_scope(KernelVersion.V6_18_STABLE)], proof_slots=8)
    scope = job.scope
    assert (scope.endpoint_slots, scope.peer_endpoint_slots) == (2, 2)
    assert (len(scope.addrs), len(scope.peer_addrs)) == (2, 2)
    (small,) = plan(props, [two_pm_scope(KernelVersion.V6_18_STABLE)])
    assert (small.scope.endpoint_slots, len(small.scope.addrs)) == (1, 1)


def test_the_costliest_jobs_are_submitted_first_and_ties_keep_the_job_order() -> None:
    from pmcheck.checker.scope import connection_scope
    from pmcheck.checker.suite import expected_cost, longest_first

    registry = catalog.all_properties()
    props = list(registry.values())
    version = KernelVersion.V6_18_STABLE
    scopes = [Scope(version, endpoint_slots=8), connection_scope(version)]
    jobs = plan(props, scopes, proof_slots=8)
    order = longest_first(jobs, registry)
    costs = [expected_cost(j, registry) for j in order]
    assert costs == sorted(costs, reverse=True) and sorted(map(id, order)) == sorted(map(id, jobs))
    # the two 8-slot proofs first: the namespace's and the connection group's
    assert {(j.scope.kind, len(j.props) > 1) for j in order[:2]} == {
        ("netns", True),
        ("connection", True),
    }
    small = plan(props, [connection_scope(version)])  # the proved group at 2 slots: cheap
    assert len(longest_first(small, registry)[-1].props) > 1
    same = [j.id for j in order if expected_cost(j, registry) == 60]
    assert same == sorted(same)


def test_jobs_default_to_one_per_core_and_a_bad_environment_value_is_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    from pmcheck.ci import JOBS_ENV, default_jobs

    monkeypatch.delenv(JOBS_ENV, raising=False)
    assert default_jobs() == len(os.sched_getaffinity(0))
    monkeypatch.setenv(JOBS_ENV, "3")
    assert default_jobs() == 3
    for bad in ("0", "two", ""):
        monkeypatch.setenv(JOBS_ENV, bad)
        assert main(["check", "P6", "--slots", "1"]) == 2
        err = capsys.readouterr().err
        assert f"${JOBS_ENV}={bad!r}: need a whole number of jobs" in err
        assert "Traceback" not in err


def test_the_job_list_does_not_depend_on_scope_order() -> None:
    props = list(catalog.all_properties().values())
    scopes = [Scope(v, endpoint_slots=1) for v in KernelVersion]
    assert [j.id for j in plan(props, scopes)] == [j.id for j in plan(props, scopes[::-1])]


@pytest.mark.parametrize("text", ["3/2", "0/2", "1/0", "a/b", "1", "1/2/3", "-1/2", ""])
def test_bad_shard_specs_are_refused(text: str, capsys: Any) -> None:
    with pytest.raises(SuiteError):
        parse_shard(text)
    assert main([*BASE, f"--shard={text}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pmcheck: error: --shard") and err.count("\n") == 1


def _json_run(argv: list[str], capsys: Any) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--json", "--no-github"])
    return code, json.loads(capsys.readouterr().out)


def _verdicts(doc: dict[str, Any]) -> list[tuple[str, str, str, Any, int, bool]]:
    """What must agree between runs. Not the trace's values: Z3 may pick another
    path of the same (shortest) length in another process or solver history."""
    return sorted(
        (
            r["kernel"],
            r["property"],
            r["verdict"],
            r["depth"],
            len(r["trace"]),
            r["meets_expectation"],
        )
        for r in doc["results"]
    )


def _break_p6(monkeypatch: Any) -> None:
    """set-limits writes even a refused value: a new P6 violation (exit 1)."""
    rule = RULES["limits set"]

    def broken(k: Any, st: Any, i: Any) -> Any:
        post, out = rule.fn(k, st, i)
        o = k.ops
        ns = post.netns._replace(
            limit_extra_subflows=o.ite(
                i.limits.has_subflows,
                o.trunc(i.limits.subflows, 32, 8),
                post.netns.limit_extra_subflows,
            )
        )
        return post._replace(netns=ns), out

    monkeypatch.setitem(RULES, "limits set", dataclasses.replace(rule, fn=broken))


@pytest.mark.parametrize("case, want", [("baseline", 0), ("mutant", 1), ("starved", 3)])
def test_merged_shards_equal_the_full_run(
    case: str, want: int, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    argv = BASE + (["--rlimit", "1"] if case == "starved" else [])
    if case == "mutant":
        _break_p6(monkeypatch)
    code, full = _json_run(argv, capsys)
    assert code == full["exit_code"] == want
    files = []
    for k in (1, 2, 3):  # 2 jobs over 3 shards: one shard is empty
        c, doc = _json_run([*argv, "--shard", f"{k}/3"], capsys)
        assert c == doc["exit_code"]
        path = tmp_path / f"shard-{k}.json"
        path.write_text(json.dumps(doc))
        files.append(str(path))
    xml = tmp_path / "merged.xml"
    code, merged = _json_run(["merge", *files, "--junit", str(xml)], capsys)
    assert code == merged["exit_code"] == want
    assert _verdicts(merged) == _verdicts(full) and len(merged["results"]) == 4
    assert merged["plan"] == full["plan"] and merged["shard"] is None
    assert xml.read_text().count("<testcase ") == 4
    assert main(["merge", *files, "--no-github"]) == want  # the text form too
    assert f"exit {want}" in capsys.readouterr().out


def test_merge_refuses_gaps_overlaps_and_bad_files(tmp_path: Path, capsys: Any) -> None:
    files = []
    for k in (1, 2):
        _, doc = _json_run([*BASE, "--shard", f"{k}/2"], capsys)
        files.append(tmp_path / f"s{k}.json")
        files[-1].write_text(json.dumps(doc))
    s1, s2 = map(str, files)
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "v1.json").write_text(json.dumps({"schema": "pmcheck-verdicts/1"}))
    cases = {
        (s1,): "in no file",
        (s1, s1): "is also in",
        (s1, str(tmp_path / "missing.json")): "cannot read",
        (s1, str(tmp_path / "bad.json")): "not JSON",
        (s1, str(tmp_path / "v1.json")): "pmcheck-verdicts/2",
    }
    for argv, message in cases.items():
        assert main(["merge", *argv, "--no-github"]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("pmcheck: error: ") and message in err, (argv, err)
        assert err.count("\n") == 1
    assert main(["merge", s1, s2, "--no-github"]) == 0
    capsys.readouterr()


def test_parallel_jobs_give_the_serial_verdicts(capsys: Any) -> None:
    code1, serial = _json_run([*BASE, "-j", "1"], capsys)
    code2, parallel = _json_run([*BASE, "-j", "2"], capsys)
    assert code1 == code2 == 0
    assert _verdicts(serial) == _verdicts(parallel)
    assert main([*BASE, "-j", "0"]) == 2
    capsys.readouterr()


def test_kernel_all_plans_one_job_per_version(capsys: Any) -> None:
    code, doc = _json_run(
        ["check", "P6", "--kernel", "all", "--slots", "1", "--depth", "1", "--shard", "1/1"], capsys
    )
    assert code == 0
    assert sorted(j["kernel"] for j in doc["jobs"]) == sorted(v.value for v in KernelVersion)
    assert len(doc["plan"]) == len(KernelVersion)


def test_the_documented_workflow_uses_real_options() -> None:
    """docs/ci.md's workflow: every pmcheck command in it parses."""
    import re
    import shlex

    from pmcheck.cli import build_parser

    doc = (Path(__file__).resolve().parents[1] / "docs" / "ci.md").read_text()
    workflow = re.search(r"```yaml\n(.*?)```", doc, re.S)
    assert workflow
    yaml = pytest.importorskip("yaml")
    jobs = yaml.safe_load(workflow.group(1))["jobs"].values()
    commands = [
        " ".join(step["run"].split())
        for job in jobs
        for step in job["steps"]
        if "pmcheck " in step.get("run", "")
    ]
    assert len(commands) == 2 and commands[0].startswith("pmcheck check")
    for text in commands:
        text = text.replace("${{ matrix.shard }}", "1").split(" > ")[0]
        args = build_parser().parse_args(shlex.split(text)[1:])
        assert args.command in ("check", "merge")
