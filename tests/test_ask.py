"""`pmcheck ask` and `pmcheck versions`: complete, duplicate-free, honest about bounds.

The symbolic enumeration (Z3, blocking each outcome until unsat) must find
exactly the outcomes the explicit-state oracle finds by running every
sequence on the concrete model, each at the same shortest length, and each
witness must replay to its outcome. Bounds that cut sequences are reported
as such (exit 3), and malformed open parts are input errors (exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pmcheck.ask.explicit import Answer, explicit_answer
from pmcheck.ask.problem import Problem, Status, build_problem
from pmcheck.ask.solver import symbolic_answer
from pmcheck.ask.spec import parse_ask_file, parse_ask_text
from pmcheck.cli import main
from pmcheck.model.versions import KernelVersion
from pmcheck.scenario.errors import ScenarioError

ASK = Path(__file__).resolve().parents[1] / "examples" / "ask"
V = KernelVersion.V6_18_STABLE

# Repeats allowed, an endpoint delete among the alternatives, the endpoint
# table in the projection: exercises what the example files do not.
REPEAT = """\
ip mptcp limits set add_addr_accepted 2 subflows 4
ip mptcp endpoint add 10.0.2.2 subflow laminar
connect 10.0.1.2 10.0.1.1
any peer announce 10.0.3.1 id 1 | ip mptcp endpoint delete id 1
any subflow close 10.0.2.2 10.0.1.1
events up to 2 repeat
project endpoints, subflows, counters(local_addr_used, add_addr_accepted)
"""


def assert_same_answer(p: Problem, sym: Answer, exp: Answer) -> None:
    assert set(sym.outcomes) == set(exp.outcomes)
    for out, seq in sym.outcomes.items():
        assert len(seq) == len(exp.outcomes[out]), p.sequence_text(seq)
        st, status = p.replay(seq)
        assert status is Status.OK and p.outcome(st) == out
    # Same table, row for row: witnesses are canonical (first in the `any`
    # order among the shortest), whatever model Z3 returned.
    assert list(sym.outcomes.items()) == list(exp.outcomes.items())
    rows = [tuple(p.projector.cells(o)) for o in sym.outcomes]
    assert len(rows) == len(set(rows)), "two rows print the same outcome"
    assert sym.complete and exp.complete and sym.stopped is None
    assert bool(sym.cut) == bool(exp.cut)


@pytest.mark.parametrize("name", ["seed-laminar.ask", "fullmesh-laminar.ask"])
def test_symbolic_enumeration_equals_the_explicit_oracle(name: str) -> None:
    p = build_problem(parse_ask_file(ASK / name), V)
    assert_same_answer(p, symbolic_answer(p), explicit_answer(p))


def test_repeats_deletes_and_endpoint_projection_agree() -> None:
    p = build_problem(parse_ask_text(REPEAT, "repeat.ask"), V)
    sym, exp = symbolic_answer(p), explicit_answer(p)
    assert_same_answer(p, sym, exp)
    assert len(sym.outcomes) > 3
    # Repeats at the bound still gave new outcomes: said, not hidden.
    assert sym.new_at_bound == exp.new_at_bound


def test_too_small_encodings_grow_instead_of_losing_outcomes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Start the symbolic side with too few subflow slots and one settle
    step: it must notice (the concrete replay finishes what the encoding
    cut), grow, and still give the oracle's answer."""
    from pmcheck.ask import solver

    p = build_problem(parse_ask_file(ASK / "seed-laminar.ask"), V)
    starts = []
    real = solver._enumerate

    def spy(problem: Problem, shape: solver.Shape, settle: int, *rest: object) -> Answer:
        starts.append((shape, settle))
        return real(problem, shape, settle, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(solver, "first_guess", lambda _p: (solver.Shape(3, 2, 1), 1))
    monkeypatch.setattr(solver, "_enumerate", spy)
    assert_same_answer(p, solver.symbolic_answer(p), explicit_answer(p))
    assert len(starts) >= 3 and starts[0] == (solver.Shape(3, 2, 1), 1)
    assert starts[-1][0].subflows > 2 and starts[-1][1] > 1


def test_seed_answers_the_review_question() -> None:
    """C(b) and C(c) laminar: S(b) then S(c) pairs them as the thread wants;
    S(c) first takes C(b) (list order, not address), and a closed C(b)
    subflow makes C(b) available again."""
    p = build_problem(parse_ask_file(ASK / "seed-laminar.ask"), V)
    rows = {
        tuple(p.projector.cells(o)): p.sequence_text(s)
        for o, s in explicit_answer(p).outcomes.items()
    }
    assert (
        rows[("10.0.2.2#1", "10.0.3.2#2", "2", "2", "0")]
        == "peer announce 10.0.2.1 id 1; peer announce 10.0.3.1 id 2"
    )
    assert ("-", "10.0.2.2#1", "1", "1", "0") in rows
    assert rows[("-", "10.0.2.2#1", "1", "2", "0")].endswith("peer announce 10.0.3.1 id 2")


def test_settle_bound_is_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = (ASK / "seed-laminar.ask").read_text() + "settle up to 1\n"
    p = build_problem(parse_ask_text(text, "short.ask"), V)
    sym, exp = symbolic_answer(p), explicit_answer(p)
    assert Status.BUSY in sym.cut and Status.BUSY in exp.cut
    assert not sym.complete and not exp.complete
    assert set(sym.outcomes) == set(exp.outcomes)
    f = tmp_path / "short.ask"
    f.write_text(text)
    assert main(["ask", str(f)]) == 3
    out = capsys.readouterr().out
    assert "INCOMPLETE at a bound" in out and "still busy after 1 steps" in out


def test_event_bound_with_repeats_is_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    f = tmp_path / "one.ask"
    f.write_text(REPEAT.replace("events up to 2 repeat", "events up to 1 repeat"))
    assert main(["ask", str(f), "--engine", "explicit"]) == 0
    out = capsys.readouterr().out
    assert "Every sequence of at most 1 open event ends in one of them" in out
    assert "bound reached: sequences of 1 event still gave new outcomes" in out


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", str(ASK / "fullmesh-laminar.ask"), "--engine", "explicit", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["complete"] and len(data["outcomes"]) == 4
    assert data["outcomes"][0]["shortest"] == []


def test_versions_of_an_ask_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["versions", str(ASK / "fullmesh-other-family.ask"), "--engine", "explicit"]) == 1
    out = capsys.readouterr().out
    assert "6.18 = 6.18-stable: every sequence" in out
    assert "6.18 vs 6.19: separated by `peer announce 10.0.4.1 id 1`" in out


def test_versions_of_a_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    examples = ASK.parent
    assert main(["versions", str(examples / "versions" / "signal-subflow-always-used.scn")]) == 1
    out = capsys.readouterr().out
    assert "6.18 vs 6.18-stable: first separated by line 6 `connect" in out
    assert "6.18 = 6.19 on every step" in out
    assert main(["versions", str(examples / "known" / "seed-laminar.scn")]) == 0


BASE = "ip mptcp endpoint add 10.0.2.2 laminar\nconnect 10.0.1.2 10.0.1.1\n"


@pytest.mark.parametrize(
    ("tail", "line", "col", "needle"),
    [
        ("any\n", 3, 4, "empty alternative"),
        ("any peer announce 10.0.3.1 id 1 |\n", 3, 33, "empty alternative"),
        (
            "any peer announce 10.0.3.1 id 1 | | subflow close 10.0.2.2 10.0.1.1\n",
            3,
            35,
            "empty alternative",
        ),
        ("any connect 10.0.1.2 10.0.1.1\n", 3, 5, "cannot be left open"),
        ("any peer announce 10.0.3.1\n", 3, 27, "expected 'id'"),
        ("any peer bogus\n", 3, 10, "expected 'connect' or 'announce'"),
        ("any flush\n", 3, 5, "unknown event 'flush'"),
        ("any peer remove id 1\nevents up to 0\n", 4, 14, "out of range 1..8"),
        ("any peer remove id 1\nevents up to 2 forever\n", 4, 16, "expected 'repeat'"),
        ("any peer remove id 1\nsettle up to x\n", 4, 14, "must be a number"),
        ("any peer remove id 1\nproject served-by, bogus\n", 4, 20, "unknown projection item"),
        ("any peer remove id 1\nproject counters(bogus)\n", 4, 18, "unknown counter 'bogus'"),
        ("any peer remove id 1\nproject counters(extra_subflows\n", 4, 32, "expected ')'"),
        ("any peer remove id 1\nproject\n", 4, 8, "at least one item"),
        ("any peer remove id 1\nproject subflows subflows\n", 4, 18, "given twice"),
        ("any peer remove id 1\nip mptcp endpoint flush\n", 4, 1, "must come before the open"),
    ],
)
def test_malformed_open_part(tail: str, line: int, col: int, needle: str) -> None:
    with pytest.raises(ScenarioError) as e:
        parse_ask_text(BASE + tail, "q.ask")
    assert (e.value.loc.line, e.value.loc.col) == (line, col), e.value
    assert needle in e.value.message


def test_malformed_ask_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "bad.ask"
    f.write_text(BASE + "any peer announce 10.0.3.300 id 1\n")
    assert main(["ask", str(f)]) == 2
    err = capsys.readouterr().err
    assert f"{f}:3:19: error: bad IP address" in err and "Traceback" not in err
    f.write_text(BASE)
    assert main(["ask", str(f)]) == 2
    assert "no open part" in capsys.readouterr().err
