"""Two in-kernel path managers (`peer pm kernel`), on the model: the
language, what the seed mix and the server's limits give, concrete = Z3 on
random two-PM runs, the pair properties (verdicts, mutants, witnesses) and
`ask` over every delivery order. The live kernel's side is
tests/test_two_pm_live.py."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from pmcheck import interp
from pmcheck.ask.command import engine_for
from pmcheck.ask.explicit import explicit_answer
from pmcheck.ask.problem import build_problem
from pmcheck.ask.solver import symbolic_answer
from pmcheck.ask.spec import parse_ask_file
from pmcheck.checker.engines import SolverLimits, bmc, houdini, premise_path
from pmcheck.checker.lines import step_text
from pmcheck.checker.oracle import explore
from pmcheck.checker.scope import two_pm_scope
from pmcheck.checker.system import System
from pmcheck.checker.verdict import Verdict
from pmcheck.diff import describe_value, first_mismatch
from pmcheck.interp import run_model
from pmcheck.model import pm_events, wire
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.model.constants import FLAG_LAMINAR, FLAG_SIGNAL, FLAG_SUBFLOW
from pmcheck.model.state import initial_state
from pmcheck.model.versions import KernelVersion
from pmcheck.properties.pair import PAIR_PROPERTIES, RM_ADDR_LEAK, X2, X4
from pmcheck.scenario.errors import ScenarioError
from pmcheck.scenario.files import parse_file
from pmcheck.scenario.json_form import from_json_text, to_json
from pmcheck.scenario.lower import Universe, lower
from pmcheck.scenario.parser import parse_text
from pmcheck.scenario.render import render_scenario
from tests.strategies import two_pm_scenario_st

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "two-pm"
STABLE = KernelVersion.V6_18_STABLE
LIMITS = SolverLimits(rlimit=10**10, timeout_s=600)


def final(name: str) -> Any:
    run = run_model(parse_file(EXAMPLES / name), STABLE)
    return run.outcomes[-1]


def table(view: Any) -> list[tuple[str, int, str, int]]:
    return [(r.local, r.local_id, r.remote, r.remote_id) for r in view.table]


# --- the language ------------------------------------------------------------------


def test_peer_lines_parse_render_and_survive_json() -> None:
    scn = parse_file(EXAMPLES / "seed-laminar.scn")
    assert scn.peer_kernel and scn.has_connections
    again = parse_text(render_scenario(scn), scn.source)
    assert [s.command for s in again.steps] == [s.command for s in scn.steps]
    back = from_json_text(json.dumps(to_json(scn)), "x.json")
    assert back.peer_pm == "kernel"
    assert [s.command for s in back.steps] == [s.command for s in scn.steps]


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("peer ip mptcp limits set subflows 2\n", 1, "put 'peer pm kernel'"),
        ("peer pm kernel\nconnect 10.0.1.2 10.0.1.1\npeer announce 10.0.2.1 id 1\n", 3,
         "drives the scripted peer"),
        ("peer pm kernel\npeer pm kernel\n", 2, "'peer pm' given twice"),
        ("ip mptcp limits show\npeer pm kernel\n", 2, "before the first command"),
        ("peer pm userspace\n", 1, "unknown peer pm"),
    ],
)  # fmt: skip
def test_two_pm_input_errors_name_the_place(text: str, where: int, says: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_text(text, "t.scn")
    assert err.value.loc.line == where
    assert says in err.value.message


def test_json_rejects_a_peer_side_event() -> None:
    data = {"format": "pmcheck-scenario", "version": 1, "peer_pm": "kernel",
            "steps": [{"op": "connect", "local": "10.0.1.2", "remote": "10.0.1.1",
                       "side": "peer"}]}  # fmt: skip
    with pytest.raises(ScenarioError, match="not 'connect'"):
        from_json_text(json.dumps(data), "x.json")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scn=two_pm_scenario_st())
def test_random_two_pm_scenarios_round_trip(scn: Any) -> None:
    again = parse_text(render_scenario(scn), scn.source)
    assert [s.command for s in again.steps] == [s.command for s in scn.steps]
    assert again.peer_pm == "kernel"


# --- what the model answers (each also diffed on the kernel: test_two_pm_live) --------


def test_seed_mix_gives_the_kernels_answer() -> None:
    """The server's ADD_ADDR reaches the client with its ESTABLISHED, and the
    worker handles ADD_ADDR_RECEIVED first: the subflow+laminar endpoint
    serves the first announcement (issue 13's live observation)."""
    last = final("seed-laminar.scn")
    (host,) = last.conns
    assert table(host) == [
        ("10.0.1.2", 0, "10.0.1.1", 0),
        ("10.0.2.2", 1, "10.0.2.1", 1),
        ("10.0.3.2", 2, "10.0.3.1", 2),
    ]
    assert (host.add_addr_accepted, host.local_addr_used, host.subflows) == (2, 1, 2)
    (server,) = last.peer.conns
    assert (server.add_addr_signal, server.subflows) == (2, 2)


def test_a_server_with_no_subflows_announces_once_and_refuses_the_join() -> None:
    last = final("server-limit-0.scn")
    (host,), (server,) = last.conns, last.peer.conns
    assert table(host) == [("10.0.1.2", 0, "10.0.1.1", 0)]
    assert (server.add_addr_signal, server.subflows) == (1, 0)
    assert host.subflows == 0  # the refused join gave its slot back


def test_a_server_limit_of_two_refuses_the_third_and_fourth_fullmesh_joins() -> None:
    last = final("server-limit-2-fullmesh.scn")
    (host,), (server,) = last.conns, last.peer.conns
    assert server.subflows == 2
    assert len(host.table) == 3  # the initial subflow and the two accepted joins


def test_both_b_bits_follow_the_syn_ack_and_mp_prio() -> None:
    # The server's backup signal endpoint sets B in its SYN-ACK (the
    # client's subflow->backup, /b); the client's `endpoint change backup`
    # sets its request_bkup (/B) and its MP_PRIO the server's view. The
    # live differential test runs this file and compares every bit.
    run = run_model(parse_file(EXAMPLES / "backup-bits.scn"), STABLE)
    *_, joined, changed = run.outcomes
    assert [r.describe() for r in joined.conns[0].table] == [
        "10.0.1.2#0>10.0.1.1#0",
        "10.0.2.2#1>10.0.2.1#1/b",
    ]
    assert [r.describe() for r in joined.peer.conns[0].table][1] == "10.0.2.1#1>10.0.2.2#1/B"
    assert [r.describe() for r in changed.conns[0].table][1] == "10.0.2.2#1>10.0.2.1#1/Bb"
    assert [r.describe() for r in changed.peer.conns[0].table][1] == "10.0.2.1#1>10.0.2.2#1/Bb"


def test_diff_reports_a_b_bit_that_differs() -> None:
    run = run_model(parse_file(EXAMPLES / "backup-bits.scn"), STABLE)
    last = run.outcomes[-1]
    (conn,) = last.conns
    flipped = tuple(dataclasses.replace(r, backup=not r.backup) for r in conn.table)
    other = dataclasses.replace(
        run,
        outcomes=(
            *run.outcomes[:-1],
            dataclasses.replace(last, conns=(dataclasses.replace(conn, table=flipped),)),
        ),
    )
    mismatch = first_mismatch(run, other)
    assert mismatch is not None and (mismatch.index, mismatch.field) == (last.index, "conns")
    assert "/Bb" in describe_value("conns", mismatch.left)


def test_the_default_order_puts_the_rm_addr_before_the_fin() -> None:
    last = final("rm-addr-vs-fin.scn")
    (host,) = last.conns
    assert host.add_addr_accepted == 0  # given back: the join was still there


# --- concrete = Z3 -------------------------------------------------------------------


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scn=two_pm_scenario_st(max_events=2))
def test_concrete_and_z3_agree_on_two_pm_runs(scn: Any) -> None:
    """Every rule application of a two-PM run, both hosts' and every
    delivery, gives the same state on both backends."""
    universe = Universe.of(scn)
    topo = universe.topology()
    concrete = interp.applier(STABLE, topo, "concrete")
    symbolic = interp.applier(STABLE, topo, "z3")
    checked: list[str] = []

    def both(name: str, state: Any, inputs: Any) -> Any:
        post, out = concrete(name, state, inputs)
        sym_post, sym_out = symbolic(name, state, inputs)
        assert sym_post == post, f"state differs after {name} (steps so far {checked})"
        assert tuple(sym_out) == tuple(out), f"outcome differs after {name}"
        checked.append(name)
        return post, out

    state = initial_state(peer_kernel=True)
    for step in scn.steps:
        name, inputs = lower(step.command, universe)
        state, _ = both(name, state, inputs)
        state = interp.settle(both, state, topo, step.loc)


# --- the pair properties --------------------------------------------------------------


def narrow() -> Any:
    """The two-PM scope with fewer endpoint kinds, so BMC is quick."""
    scope = two_pm_scope(STABLE)
    return dataclasses.replace(
        scope,
        flag_sets=(FLAG_LAMINAR, FLAG_SUBFLOW),
        limit_pairs=((1, 1),),
        peer_flag_sets=(FLAG_SIGNAL,),
        events=scope.events[:1],
    )


def test_the_holding_pair_properties_are_proved() -> None:
    proved, dropped = houdini(System(two_pm_scope(STABLE)), [X2, X4], LIMITS)
    assert {p.name for p in proved} == {X2.name, X4.name}, dropped


def test_the_accepted_counter_leak_is_found_and_replays() -> None:
    """The leak mptcp_pm_nl_rm_addr documents (formerly property X3, now in
    the ledger's INTENDED list) is in the model: the explicit search finds
    it (it explores this small scope completely, in well under a second,
    where BMC needs about a minute to reach depth 14)."""
    X3 = RM_ADDR_LEAK
    # The host keeps only its limits (its implicit endpoint still appears):
    # the leak needs nothing more.
    scope = dataclasses.replace(narrow(), addrs=(), flag_sets=())
    found = explore(scope, [X3])[X3.name]
    assert found.complete and found.violated_at == 14, found
    states = System(scope).replay(list(found.path))
    assert not X3.holds(CONCRETE, states[-1])
    lines = [step_text(s) for s in found.path]
    assert any(line.startswith("peer ip mptcp endpoint delete") for line in lines)


@pytest.mark.parametrize("prop", PAIR_PROPERTIES, ids=lambda p: p.name)
def test_pair_premise_is_reachable(prop: Any) -> None:
    path = premise_path(System(narrow()), prop, 12, LIMITS)
    assert path is not None, f"{prop.name}: no trigger witness"


def test_ids_disagree_when_the_syn_ack_id_is_not_taken(monkeypatch: Any) -> None:
    """Mutant: the client keeps the id it connected to instead of the
    SYN-ACK's join id (the server's local id)."""
    real = pm_events.subflow_finish_connect

    def forgetful(k: Any, st: Any, ci: int, hits: Any, accepted: Any, remote_id: Any = None,
                  remote_backup: Any = None, twin: Any = None) -> Any:  # fmt: skip
        wrong = None if remote_id is None else k.ops.add(remote_id, k.ops.const(1, 8), 8)
        return real(k, st, ci, hits, accepted, wrong, remote_backup, twin)

    monkeypatch.setattr(wire, "subflow_finish_connect", forgetful)
    system = System(narrow())
    result = bmc(system, X4, 9, LIMITS)
    assert result.verdict is Verdict.VIOLATED, result


def test_joins_are_unpaired_when_the_acceptor_forgets_its_twin(monkeypatch: Any) -> None:
    """Mutant: the client's join completes without learning the server's
    subflow (as if the SYN-ACK never linked the two ends)."""
    real = pm_events.subflow_finish_connect

    def unlinked(k: Any, st: Any, ci: int, hits: Any, accepted: Any, remote_id: Any = None,
                 remote_backup: Any = None, twin: Any = None) -> Any:  # fmt: skip
        none = None if twin is None else k.ops.const(255, 8)
        return real(k, st, ci, hits, accepted, remote_id, remote_backup, none)

    monkeypatch.setattr(wire, "subflow_finish_connect", unlinked)
    result = bmc(System(narrow()), X2, 9, LIMITS)
    assert result.verdict is Verdict.VIOLATED, result


# --- ask over every delivery order -------------------------------------------------------


@pytest.mark.parametrize("name", ["rm-addr-vs-fin.ask", "two-announcements.ask"])
def test_ask_symbolic_equals_explicit_over_every_order(name: str) -> None:
    problem = build_problem(parse_ask_file(EXAMPLES / name), STABLE)
    assert problem.all_orders and engine_for(problem, "auto") == "explicit"
    exp = explicit_answer(problem)
    sym = symbolic_answer(problem, timeout_s=300)
    assert sym.complete and exp.complete
    assert set(sym.outcomes) == set(exp.outcomes)
    assert {o: len(s) for o, s in sym.outcomes.items()} == {
        o: len(s) for o, s in exp.outcomes.items()
    }
    for out, seq in exp.outcomes.items():  # every witness replays to its outcome
        after, _ = problem.replay(seq, orders=exp.orders.get(out))
        assert problem.outcome(after) == out


def test_ask_lists_both_endings_of_the_rm_addr_race() -> None:
    problem = build_problem(parse_ask_file(EXAMPLES / "rm-addr-vs-fin.ask"), STABLE)
    ans = explicit_answer(problem)
    accepted = sorted(out[-1][0][0] for out, seq in ans.outcomes.items() if seq)
    assert accepted == [0, 1]  # given back (default order) or leaked (FIN first)


def test_seed_ask_after_connect_has_three_outcomes() -> None:
    problem = build_problem(parse_ask_file(EXAMPLES / "seed-laminar.ask"), STABLE)
    ans = explicit_answer(problem)
    assert ans.complete
    after_connect = [out for out, seq in ans.outcomes.items() if seq]
    assert len(after_connect) == 3
