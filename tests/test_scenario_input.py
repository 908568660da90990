"""The scenario language: what parses, what it means, and how bad input fails.

Bad input must name the file, line and column and the problem, and the CLI
must exit with code 2 and print no traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings

from pmcheck.cli import main
from pmcheck.model.constants import FLAG_BACKUP, FLAG_LAMINAR, FLAG_SUBFLOW
from pmcheck.scenario.ast import EndpointAdd, EndpointChange, EndpointDelete, LimitsSet
from pmcheck.scenario.errors import ScenarioError
from pmcheck.scenario.json_form import from_json_text, to_json
from pmcheck.scenario.parser import parse_text
from pmcheck.scenario.render import render_scenario
from tests.strategies import scenario_st


def test_ip_mptcp_lines_parse() -> None:
    scn = parse_text(
        "kernel 6.18   # released\n"
        "ip mptcp endpoint add 10.0.2.2 dev eth2 subflow laminar\n"
        "ip mptcp endpoint delete id 1\n"
        "ip mptcp endpoint change id 1 backup\n"
        "ip mptcp limits set subflows 2 add_addr_accepted 2\n"
        "ip mptcp endpoint delete id 0 10.0.1.2\n",
        "x.scn",
    )
    assert scn.kernel == "6.18"
    cmds = [s.command for s in scn.steps]
    assert cmds[0] == EndpointAdd(
        addr="10.0.2.2", family=2, dev="eth2", flags=FLAG_SUBFLOW | FLAG_LAMINAR
    )
    assert cmds[1] == EndpointDelete(id=1)
    assert cmds[2] == EndpointChange(id=1, flags=FLAG_BACKUP)
    assert cmds[3] == LimitsSet(subflows=2, add_addr_accepted=2)
    assert cmds[4] == EndpointDelete(id=0, addr="10.0.1.2", family=2)
    assert [s.loc.line for s in scn.steps] == [2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("text", "line", "col", "needle"),
    [
        ("ip mptcp endpoint add 10.0.0.1 id 0", 1, 35, "id 0 out of range 1..255"),
        ("ip mptcp endpoint add 10.0.0.1 id 256", 1, 35, "id 256 out of range"),
        ("\nip mptcp endpoint add 10.0.0.1 bogus", 2, 32, "unknown flag or option 'bogus'"),
        ("ip mptcp endpoint add 10.0.0.300", 1, 23, "bad IP address '10.0.0.300'"),
        ("ip -6 mptcp endpoint add 10.0.0.1", 1, 26, "address family mismatch"),
        ("ip mptcp endpoint add 10.0.0.1 port 0", 1, 37, "port 0 out of range"),
        ("ip mptcp endpoint add 10.0.0.1 id x", 1, 35, "id must be a number"),
        ("ip mptcp endpoint delete id 0", 1, 30, "needs the address"),
        ("ip mptcp endpoint change id 1", 1, 30, "needs backup, nobackup"),
        ("ip mptcp endpoint frob", 1, 19, "unknown endpoint command 'frob'"),
        ("ip mptcp limits set", 1, 20, "needs subflows and/or add_addr_accepted"),
        ("kernel 5.4", 1, 8, "unknown kernel version '5.4'"),
        ("frob 10.0.0.1", 1, 1, "unknown statement 'frob'"),
        ("connect 10.0.1.2 10.0.1.1\npeer announce 10.0.0.1", 2, 23, "expected 'id'"),
        ("peer remove id 1", 1, 17, "no connection is open yet"),
        ("connect 10.0.1.2 10.0.1.1\npeer remove id 1 conn 2", 2, 23, "out of range 1..1"),
        ("connect 10.0.1.2 dead:beef:1::1", 1, 18, "one family"),
        ("connect 10.0.1.2 10.0.1.1 bogus", 1, 27, "unknown option 'bogus'"),
        ("connect 10.0.1.2 10.0.1.1\npeer join 10.0.3.1 to 10.0.3.2", 2, 31, "expected 'id'"),
        ("ip mptcp endpoint add 10.0.0.1 id 3 id 4", 1, 37, "'id' given twice"),
    ],
)
def test_bad_input_names_place_and_problem(text: str, line: int, col: int, needle: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_text(text, "bad.scn")
    assert (err.value.loc.line, err.value.loc.col) == (line, col), str(err.value)
    assert needle in err.value.message
    assert str(err.value).startswith(f"bad.scn:{line}:{col}: error: ")


def test_cli_exit_code_2_without_traceback(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.scn"
    bad.write_text("ip mptcp endpoint add 10.0.0.1 bogus\n")
    assert main(["simulate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:1:32: error: unknown flag or option 'bogus'" in err
    assert "Traceback" not in err
    assert main(["simulate", str(tmp_path / "missing.scn")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["simulate", str(bad), "--kernel", "9.9"]) == 2  # argparse usage error
    assert main(["frobnicate"]) == 2


def test_cli_simulate_ok_and_json(tmp_path: Path, capsys) -> None:
    f = tmp_path / "ok.scn"
    f.write_text("ip mptcp endpoint add 10.0.0.1 signal\nip mptcp endpoint add 10.0.0.1\n")
    assert main(["simulate", str(f)]) == 0
    out = capsys.readouterr().out
    assert "ok id 1" in out and "-EEXIST" in out
    assert main(["simulate", str(f), "--json", "--backend", "z3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["interpreter"] == "z3"
    assert [s["status"] for s in data["steps"]] == ["ok", "-EEXIST"]


@settings(max_examples=100, deadline=None)
@given(scn=scenario_st)
def test_text_and_json_forms_round_trip(scn) -> None:
    text = render_scenario(scn)
    again = parse_text(text, "random.scn")
    assert [s.command for s in again.steps] == [s.command for s in scn.steps]
    via_json = from_json_text(json.dumps(to_json(again)), "random.json")
    assert [s.command for s in via_json.steps] == [s.command for s in scn.steps]


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ("{", "invalid JSON"),
        ('{"format": "other"}', "not a pmcheck scenario"),
        (
            '{"format": "pmcheck-scenario", "version": 1, "steps": [{"op": "nope"}]}',
            "steps[0]: unknown op 'nope'",
        ),
        (
            '{"format": "pmcheck-scenario", "version": 1, "steps": '
            '[{"op": "endpoint add", "addr": "10.0.0.1", "flags": ["bogus"]}]}',
            "steps[0]: unknown flag or option 'bogus'",
        ),
        (
            '{"format": "pmcheck-scenario", "version": 1, "steps": '
            '[{"op": "endpoint add", "addr": "10.0.0.1 signal"}]}',
            "steps[0]",
        ),
        (
            '{"format": "pmcheck-scenario", "version": 1, "steps": '
            '[{"op": "endpoint add", "addr": "10.0.0.1", "id": 0}]}',
            "steps[0]: id 0 out of range",
        ),
    ],
)
def test_bad_json_names_the_step(doc: str, needle: str) -> None:
    with pytest.raises(ScenarioError) as err:
        from_json_text(doc, "s.json")
    assert needle in str(err.value), str(err.value)
