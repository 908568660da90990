"""CI reports (issue 9): JUnit, SARIF, GitHub annotations, the step summary and
the --json document, all from the same records. Every report must carry every
verdict, and UNKNOWN must never read as passed or skipped.

Records for UNKNOWN / HOLDS-TO-DEPTH / fixed-violation cases are built
directly (no solver waits); the CLI tests use 1-slot scopes.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from pmcheck.checker.lines import step_text
from pmcheck.checker.records import (
    ERROR,
    FAILURE,
    PASS,
    Record,
    make_record,
    result_from_json,
    result_to_json,
    scope_from_json,
    scope_to_json,
)
from pmcheck.checker.scope import Scope
from pmcheck.checker.system import RuleStep
from pmcheck.checker.verdict import Result, Verdict
from pmcheck.cli import main
from pmcheck.model.constants import FLAG_FULLMESH, FLAG_SIGNAL, FLAG_SUBFLOW
from pmcheck.model.inputs import NO_ADDR, NO_EVENT, NO_LIMITS
from pmcheck.model.rules import Inputs
from pmcheck.model.versions import KernelVersion
from pmcheck.properties.netns import P1, P2, P3, P4F, P6
from pmcheck.reports import github, junit, markdown, sarif
from pmcheck.reports.common import WIDTH, property_location, trace_table

V18, STABLE, V19 = KernelVersion.V6_18, KernelVersion.V6_18_STABLE, KernelVersion.V6_19
ROOT = Path(__file__).resolve().parents[1]

ADD_ID0 = RuleStep(
    "endpoint add",
    Inputs(
        NO_ADDR._replace(family=10, addr=128, port=1000, has_id=True, id=0, flags=FLAG_SIGNAL),
        NO_LIMITS,
        NO_EVENT,
    ),
)
ADD_FM = RuleStep(
    "endpoint add",
    Inputs(
        NO_ADDR._replace(family=2, addr=1, has_id=True, id=2, flags=FLAG_SUBFLOW | FLAG_FULLMESH),
        NO_LIMITS,
        NO_EVENT,
    ),
)
FLUSH = RuleStep("endpoint flush", Inputs(NO_ADDR, NO_LIMITS, NO_EVENT))


def rec(
    prop: Any, version: KernelVersion, result: Result, engine: str = "auto", cached: bool = False
) -> Record:
    return make_record(prop, Scope(version, endpoint_slots=1), result, engine, 6, cached)


def every_kind() -> list[Record]:
    """One record of each kind a report must tell apart."""
    return [
        rec(
            P6, STABLE, Result(P6.name, Verdict.PROVED, "kind", 0.25, 1, certificate=(P6.name,))
        ),  # pass
        rec(P2, V19, Result(P2.name, Verdict.VIOLATED, "bmc", 0.1, 1, trace=(ADD_ID0,))),
        rec(
            P4F,
            V19,
            Result(P4F.name, Verdict.VIOLATED, "bmc", 0.2, 2, trace=(ADD_FM, FLUSH)),
            cached=True,
        ),  # known, cached
        rec(
            P6, V18, Result(P6.name, Verdict.VIOLATED, "bmc", 0.3, 1, trace=(ADD_ID0,))
        ),  # new violation
        rec(
            P2, V18, Result(P2.name, Verdict.PROVED, "kind", 0.4, 1, certificate=(P2.name,))
        ),  # fixed
        rec(
            P3,
            STABLE,
            Result(P3.name, Verdict.UNKNOWN, "kind", 2.0, 1, reason="solver gave up at k=1"),
        ),  # UNKNOWN
        rec(P1, STABLE, Result(P1.name, Verdict.HOLDS_TO_DEPTH, "bmc", 0.5, 6)),  # unproved
        rec(P1, V18, Result(P1.name, Verdict.HOLDS_TO_DEPTH, "bmc", 0.5, 6), engine="bmc"),
    ]


EXPECTED_OUTCOMES = [PASS, PASS, PASS, FAILURE, FAILURE, ERROR, ERROR, PASS]


def test_records_judge_by_run_py_baselines() -> None:
    recs = every_kind()
    assert [r.outcome for r in recs] == EXPECTED_OUTCOMES
    assert [r.known_violation for r in recs][:3] == [False, True, True]


# --- the trace table ----------------------------------------------------------------------


def test_trace_table_is_72_columns_of_ascii_and_names_every_step() -> None:
    long = RuleStep(
        "endpoint add",
        ADD_ID0.inputs._replace(
            addr=ADD_ID0.inputs.addr._replace(flags=FLAG_SIGNAL | FLAG_SUBFLOW | FLAG_FULLMESH)
        ),
    )
    table = trace_table((long, ADD_FM, FLUSH))
    lines = table.splitlines()
    assert all(len(line) <= WIDTH for line in lines), table
    assert table.isascii()
    assert [line.split()[0] for line in lines[2:] if line[:3].strip()] == ["1", "2", "3"]
    # every word of every scenario line is in the table, in order
    words = " ".join(lines[2:]).split()  # wrapped lines continue the scenario column
    for step in (long, ADD_FM, FLUSH):
        for w in step_text(step).split():
            assert w in words


# --- JUnit ---------------------------------------------------------------------------------


def _cases(xml: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml)
    return {tc.get("name", ""): tc for tc in root.iter("testcase")}


def test_junit_parses_and_carries_every_verdict() -> None:
    recs = every_kind()
    root = ET.fromstring(junit.render(recs))
    cases = _cases(junit.render(recs))
    assert len(list(root.iter("testcase"))) == len(recs) == len(cases)
    assert root.get("tests") == str(len(recs))
    assert root.get("failures") == "2" and root.get("errors") == "2"
    for r, want in zip(recs, EXPECTED_OUTCOMES, strict=True):
        tc = cases[r.name]
        assert tc.get("classname") == r.prop.group
        props = {p.get("name"): p.get("value") for p in tc.iter("property")}
        assert props["verdict"] == r.result.verdict.value
        assert props["kernel"] == r.version.value
        assert tc.find("skipped") is None
        kinds = [c.tag for c in tc if c.tag in ("failure", "error")]
        assert kinds == ({PASS: [], FAILURE: ["failure"], ERROR: ["error"]}[want])
        assert float(tc.get("time", "x")) == (
            0.0 if r.cached else pytest.approx(r.result.seconds, abs=1e-3)
        )
        if r.result.verdict is Verdict.HOLDS_TO_DEPTH:
            assert props["bound"] == "6"
    # the new violation's failure body is the trace table
    body = cases[f"{P6.name} [6.18]"].find("failure").text or ""  # type: ignore[union-attr]
    assert trace_table((ADD_ID0,)) in body
    # the known violation passes, its trace in system-out
    known = cases[f"{P4F.name} [6.19]"]
    out = known.findtext("system-out") or ""
    assert "ip mptcp endpoint flush" in out and "ip mptcp endpoint add" in out
    assert out.isascii() and max(map(len, out.splitlines()[1:])) <= WIDTH  # after the headline
    assert {p.get("name"): p.get("value") for p in known.iter("property")}["cached"] == "true"


def test_unknown_is_an_error_everywhere_never_a_pass_or_a_skip() -> None:
    unknown = rec(
        P3, STABLE, Result(P3.name, Verdict.UNKNOWN, "kind", 1.0, 1, reason="resource limit")
    )
    assert unknown.outcome == ERROR
    tc = _cases(junit.render([unknown]))[unknown.name]
    assert [c.tag for c in tc if c.tag in ("error", "failure", "skipped")] == ["error"]
    res = sarif.document([unknown])["runs"][0]["results"][0]
    assert (res["level"], res["kind"]) == ("error", "fail")
    assert github.annotations([unknown])[0].startswith("::error ")
    assert "**ERROR**" in markdown.render([unknown], 3)
    assert "pass" not in markdown.render([unknown], 3).split("|---|")[-1].split("\n")[1]


# --- SARIF ---------------------------------------------------------------------------------


SARIF_SUBSET = {  # the parts of the SARIF 2.1.0 schema pmcheck writes, with its enums
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {"driver": {"type": "object", "required": ["name"]}},
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message", "ruleId", "locations"],
                            "properties": {
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "kind": {
                                    "enum": [
                                        "notApplicable",
                                        "pass",
                                        "fail",
                                        "review",
                                        "open",
                                        "informational",
                                    ]
                                },
                                "message": {"type": "object", "required": ["text"]},
                                "partialFingerprints": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def test_the_sarif_schema_check_can_fail() -> None:
    """The subset schema is not vacuous: a document with the wrong version or
    a result level SARIF does not know is refused."""
    import jsonschema

    doc = json.loads(sarif.render(every_kind()))
    for broken in (
        {**doc, "version": "2.0.0"},
        {**doc, "runs": [{**doc["runs"][0], "results": [{"level": "fatal"}]}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SARIF_SUBSET)


def test_sarif_parses_has_required_fields_and_every_verdict() -> None:
    recs = every_kind()
    doc = json.loads(sarif.render(recs))
    assert sarif.problems(doc) == []
    import jsonschema  # a dev dependency: the schema check always runs

    jsonschema.validate(doc, SARIF_SUBSET)
    run = doc["runs"][0]
    results = run["results"]
    assert len(results) == len(recs)
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == {r.prop.name for r in recs}
    levels = [(r["level"], r["kind"]) for r in results]
    assert levels == [
        ("none", "pass"),
        ("note", "fail"),
        ("note", "fail"),
        ("error", "fail"),
        ("error", "fail"),
        ("error", "fail"),
        ("error", "fail"),
        ("none", "pass"),
    ]
    for r, res in zip(recs, results, strict=True):
        assert res["ruleId"] == r.prop.name
        assert res["properties"]["verdict"] == r.result.verdict.value
        loc = res["locations"][0]["physicalLocation"]
        path, line = loc["artifactLocation"]["uri"], loc["region"]["startLine"]
        assert path.startswith("properties/") and path.endswith(".py")
        assert f'"{r.prop.name}"' in (ROOT / path).read_text().splitlines()[line - 1]


def test_sarif_fingerprints_are_stable_and_tell_findings_apart() -> None:
    a = rec(P2, V19, Result(P2.name, Verdict.VIOLATED, "bmc", 0.1, 1, trace=(ADD_ID0,)))
    # another solver path to the same bug: the minimized counterexample is the same
    other_path = RuleStep(
        "endpoint add",
        Inputs(
            NO_ADDR._replace(
                family=2, addr=2, has_id=True, id=0, flags=FLAG_SUBFLOW | FLAG_FULLMESH
            ),
            NO_LIMITS,
            NO_EVENT,
        ),
    )
    same = rec(
        P2, V19, Result(P2.name, Verdict.VIOLATED, "bmc", 9.9, 1, trace=(other_path,)), cached=True
    )
    other_kernel = rec(P2, V18, a.result)
    other_trace = rec(P2, V19, Result(P2.name, Verdict.VIOLATED, "bmc", 0.1, 1, trace=(ADD_FM,)))
    fp = sarif.fingerprint
    assert fp(a) == fp(same)
    assert len({fp(a), fp(other_kernel), fp(other_trace)}) == 3


def test_property_location_is_the_line_naming_it() -> None:
    for p in (P1, P2, P4F):
        path, line = property_location(p)
        assert path == "properties/netns.py"
        assert f'name="{p.name}"' in (ROOT / path).read_text().splitlines()[line - 1]


# --- GitHub ---------------------------------------------------------------------------------


def _unescape(text: str) -> str:
    for code, ch in (("%3A", ":"), ("%2C", ","), ("%0D", "\r"), ("%0A", "\n"), ("%25", "%")):
        text = text.replace(code, ch)
    return text


def test_github_escaping_round_trips() -> None:
    raw = "50% of a:b, c\r\nd%0A"
    assert _unescape(github.escape_property(raw)) == raw
    assert not set(github.escape_property(raw)) & set(":,\r\n")
    data = github.escape_data(raw)
    assert "\n" not in data and "\r" not in data and _unescape(data) == raw


def test_github_annotations_one_per_finding_at_the_property_line() -> None:
    recs = every_kind()
    lines = github.annotations(recs)
    findings = [r for r in recs if r.outcome != PASS or r.known_violation]
    assert len(lines) == len(findings) == 6
    for r, line in zip(findings, lines, strict=True):
        command, _, rest = line.partition(" ")
        assert command == ("::notice" if r.outcome == PASS else "::error")
        props_text, sep, message = rest.partition("::")
        assert sep and "\n" not in line
        props = dict(p.split("=", 1) for p in props_text.split(","))
        assert (props["file"], int(props["line"])) == property_location(r.prop)
        assert _unescape(props["title"]).startswith(r.name)
        assert _unescape(message).startswith(r.name)


def test_markdown_summary_is_appended(monkeypatch: Any, tmp_path: Path) -> None:
    recs = every_kind()
    path = tmp_path / "summary.md"
    path.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(path))
    assert markdown.append_step_summary(markdown.render(recs, 1))
    text = path.read_text()
    assert text.startswith("earlier step\n")
    rows = [line for line in text.splitlines() if line.startswith("| P")]
    assert len(rows) == len(recs)
    assert "**FAIL**" in text and "**ERROR**" in text
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert not markdown.append_step_summary("x")


# --- round trips -----------------------------------------------------------------------------


def test_results_and_scopes_round_trip_through_json() -> None:
    for r in every_kind():
        back = result_from_json(json.loads(json.dumps(result_to_json(r.result))))
        assert back == r.result
        assert [step_text(s) for s in back.trace] == [step_text(s) for s in r.result.trace]
    scope = Scope(V19, endpoint_slots=3)
    assert scope_from_json(json.loads(json.dumps(scope_to_json(scope)))) == scope


# --- the CLI end to end ------------------------------------------------------------------------


def test_cli_writes_every_report(tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    xml, sar = tmp_path / "junit.xml", tmp_path / "out.sarif"
    code = main(
        [
            "check",
            "P2",
            "P6",
            "--kernel",
            "6.18,6.19",
            "--slots",
            "1",
            "--depth",
            "2",
            "--junit",
            str(xml),
            "--sarif",
            str(sar),
            "--github",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    cases = _cases(xml.read_text())
    assert set(cases) == {f"{p} [{v}]" for p in (P2.name, P6.name) for v in ("6.18", "6.19")}
    assert all(
        not [c for c in tc if c.tag in ("failure", "error", "skipped")] for tc in cases.values()
    )
    doc = json.loads(sar.read_text())
    assert sarif.problems(doc) == [] and len(doc["runs"][0]["results"]) == 4
    notices = [line for line in out.splitlines() if line.startswith("::")]
    assert len(notices) == 2 and all(
        n.startswith("::notice file=properties/netns.py,") for n in notices
    )  # the two known P2 violations
    assert sum(line.startswith("| P") for line in summary.read_text().splitlines()) == 4


def test_cli_json_is_schema_2_with_every_verdict(capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")  # annotations go to stderr, not the JSON
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    code = main(["check", "P2", "P6", "--kernel", "6.19", "--slots", "1", "--depth", "2", "--json"])
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert captured.err.startswith("::notice ")
    assert code == doc["exit_code"] == 0
    assert doc["schema"] == "pmcheck-verdicts/2"
    for key in (
        "pmcheck",
        "z3",
        "source_digest",
        "engine",
        "depth",
        "k_max",
        "limits",
        "witnesses",
        "shard",
        "plan",
        "jobs",
        "cache",
        "results",
    ):
        assert key in doc, key
    v1 = (
        "property",
        "verdict",
        "engine",
        "depth",
        "seconds",
        "certificate",
        "reason",
        "expected",
        "meets_expectation",
        "trace",
        "witness_steps",
    )
    v2 = ("kernel", "group", "job", "cached", "outcome", "describe", "result")
    for r in doc["results"]:
        assert all(k in r for k in v1 + v2)
        assert result_from_json(r["result"]).verdict.value == r["verdict"]
    assert {(r["property"], r["verdict"]) for r in doc["results"]} == {
        (P2.name, "VIOLATED"),
        (P6.name, "PROVED"),
    }


def test_cli_rejects_unwritable_report_paths(tmp_path: Path, capsys: Any) -> None:
    code = main(["check", "P6", "--slots", "1", "--junit", str(tmp_path / "no" / "x.xml")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("pmcheck: error: --junit") and err.count("\n") == 1
    assert main(["check", "P6", "--slots", "1", "--sarif", str(tmp_path)]) == 2
    assert main(["check", "P6", "--kernel", "6.99"]) == 2
