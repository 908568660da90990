"""`unreachable HOST PEER`: a pairing with no route between the two
addresses. A connect over it fails at once (ENETUNREACH from
`ip_route_connect`), before a SYN or a local id exists: the filler's lack
of retry and the routing fallback's failure can be written, and both
interpretations of the model agree on it (the live replay is in
tests/test_differential_connections_live.py, examples/laminar/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pmcheck.interp import run_model
from pmcheck.model.versions import KernelVersion
from pmcheck.scenario.errors import ScenarioError
from pmcheck.scenario.files import parse_file
from pmcheck.scenario.json_form import from_json_text, to_json
from pmcheck.scenario.parser import parse_text
from pmcheck.scenario.render import render_scenario

ROOT = Path(__file__).resolve().parents[1]
NO_RETRY = ROOT / "examples" / "laminar" / "unreachable-no-retry.scn"

ROUTED = """\
unreachable 10.0.2.2 10.0.2.1
ip mptcp limits set add_addr_accepted 2 subflows 2
connect 10.0.1.2 10.0.1.1
peer announce 10.0.2.1 id 1
peer announce 10.0.3.1 id 2
"""


def _end(text_or_path: str | Path, version: KernelVersion, backend: str = "concrete") -> str:
    scn = parse_file(text_or_path) if isinstance(text_or_path, Path) else parse_text(text_or_path)
    (conn,) = run_model(scn, version, backend).outcomes[-1].conns
    return conn.describe()


@pytest.mark.parametrize("version", list(KernelVersion), ids=lambda v: v.value)
def test_the_filler_does_not_retry_past_an_unreachable_laminar_endpoint(
    version: KernelVersion,
) -> None:
    end = _end(NO_RETRY, version)
    # 10.0.2.1 got nothing (10.0.2.2 would have reached it); 10.0.3.1 is served.
    assert end == (
        "conn 1: subflows 1 signal 0 accepted 1 used 0 | "
        "10.0.1.2#0>10.0.1.1#0 10.0.3.2#1>10.0.3.1#2"
    )


def test_without_the_declaration_the_same_table_serves_both() -> None:
    text = NO_RETRY.read_text().replace("unreachable 10.0.3.2 10.0.2.1\n", "")
    end = _end(text, KernelVersion.V6_18_STABLE)
    assert "10.0.3.2#1>10.0.2.1#1" in end and "accepted 2" in end


def test_a_routed_source_that_cannot_reach_gets_no_implicit_entry() -> None:
    """The ADDR_ANY local's id is resolved in `tcp_connect`, after the route
    lookup: a failed lookup leaves no IMPLICIT entry behind."""
    run = run_model(parse_text(ROUTED), KernelVersion.V6_18_STABLE)
    after_first = run.outcomes[-2]
    assert after_first.endpoints == ()
    assert after_first.conns[0].add_addr_accepted == 0
    assert [e.addr for e in run.outcomes[-1].endpoints] == ["10.0.3.2"]


@pytest.mark.parametrize("text", [NO_RETRY.read_text(), ROUTED], ids=["laminar", "routed"])
def test_concrete_and_z3_agree_on_unreachable_pairings(text: str) -> None:
    v = KernelVersion.V6_18_STABLE
    assert _end(text, v, "z3") == _end(text, v)


def test_the_declaration_round_trips_through_text_and_json() -> None:
    scn = parse_file(NO_RETRY)
    assert scn.unreachable == (("10.0.3.2", "10.0.2.1"),)
    again = from_json_text(json.dumps(to_json(scn)))
    assert again.unreachable == scn.unreachable
    assert parse_text(render_scenario(scn)).unreachable == scn.unreachable


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("unreachable 10.0.2.1 10.0.2.2\n", "10.0.2.1 is not a host address"),
        ("unreachable 10.0.2.2 dead:beef:2::1\n", "of one family"),
        ("connect 10.0.1.2 10.0.1.1\nunreachable 10.0.2.2 10.0.2.1\n", "before the first"),
        (
            "unreachable 10.0.1.2 10.0.1.1\nconnect 10.0.1.2 10.0.1.1\n",
            "declared unreachable",
        ),
        (
            "unreachable 10.0.2.2 10.0.2.1\npeer connect 10.0.1.1 10.0.1.2\n"
            "peer join 10.0.2.1 to 10.0.2.2 id 1\n",
            "declared unreachable",
        ),
        ("unreachable 10.0.2.2\n", "expected"),
    ],
)
def test_bad_declarations_name_the_line_and_the_problem(text: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_text(text, "x.scn")
    assert problem in str(err.value)
    assert "x.scn:" in str(err.value)


def test_json_names_the_bad_key() -> None:
    doc = {"format": "pmcheck-scenario", "version": 1, "unreachable": [["10.0.2.1", "10.0.2.2"]]}
    doc["steps"] = []
    with pytest.raises(ScenarioError) as err:
        from_json_text(json.dumps(doc), "s.json")
    assert '"unreachable"' in str(err.value)
