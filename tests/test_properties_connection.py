"""The per-connection property suite (properties/connection.py): verdicts on
the real model, mutants, trigger witnesses, and the connection scope itself.

The full connection scope is what `pmcheck check` runs (minutes); here the
cheap properties run in it and the others in a narrowed copy holding the
events and endpoint types of their shortest trace, which keeps the depth
and the suite fast. Every trace is replayed on the concrete model; the
counterexample gallery (tests/test_counterexamples.py) replays them on the
live kernel.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pmcheck.checker.engines import SolverLimits, bmc, premise_path
from pmcheck.checker.lines import step_text
from pmcheck.checker.oracle import explore
from pmcheck.checker.scope import Scope, checked_scope, connection_scope
from pmcheck.checker.system import System
from pmcheck.checker.verdict import Verdict
from pmcheck.interp import run_model
from pmcheck.model import fillers, pm_worker
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.model.constants import (
    FLAG_BACKUP,
    FLAG_FULLMESH,
    FLAG_LAMINAR,
    FLAG_SIGNAL,
    FLAG_SUBFLOW,
)
from pmcheck.model.versions import KernelVersion
from pmcheck.properties.base import BOUNDED, PROVED, VIOLATED
from pmcheck.properties.connection import (
    CONNECTION_PROPERTIES,
    L1,
    M1B,
    M2,
    M3,
    M5,
    M6,
    M7,
    M7B,
    M8,
    M9,
    W1,
    X1,
)
from pmcheck.scenario.parser import parse_text

STABLE = KernelVersion.V6_18_STABLE
LIMITS = SolverLimits(rlimit=10**10, timeout_s=300)


def narrow(
    events: tuple[str, ...],
    flags: tuple[int, ...],
    limits: tuple[int, ...] = (0, 1, 2),
    version: KernelVersion = STABLE,
) -> Scope:
    return dataclasses.replace(
        connection_scope(version), events=events, flag_sets=flags, limit_values=limits
    )


CONNECT = "connect 10.0.1.2 10.0.1.1"
CONNECT_C = "connect 10.0.1.2 10.0.1.1 peer-deny-join-id0"
SERVER = "peer connect 10.0.1.1 10.0.1.2"

# Shortest violations found by `pmcheck check` in the full connection scope
# on 6.18-stable (docs/properties.md), and a narrowed scope that keeps them.
SHORTEST: dict[str, tuple[int, Scope | None]] = {
    M1B.name: (3, None),
    M5.name: (3, None),
    M6.name: (3, None),
    M7.name: (4, None),
    M2.name: (
        5,
        narrow((CONNECT_C, "peer announce 10.0.2.1 id 1"), (FLAG_SUBFLOW | FLAG_LAMINAR,), (1,)),
    ),
    M3.name: (
        5,
        narrow(
            (CONNECT_C, "peer join 10.0.3.1 to 10.0.3.2 id 2", "peer announce 10.0.2.1 id 1"),
            (FLAG_SUBFLOW,),
            (1, 2),
        ),
    ),
    X1.name: (5, narrow((CONNECT, "peer join 10.0.2.1 to 10.0.2.2 id 1"), (FLAG_SUBFLOW,), (2,))),
    W1.name: (5, narrow((CONNECT_C, "peer announce dead:beef:2::1 id 3"), (FLAG_SUBFLOW,), (0, 2))),
}


def replays_violation(system: System, prop: Any, trace: Any) -> bool:
    states = system.replay(list(trace))
    return not prop.holds(CONCRETE, states[-1])


@pytest.mark.parametrize("name", sorted(SHORTEST))
def test_known_violation_is_found_at_its_shortest_depth(name: str) -> None:
    prop = next(p for p in CONNECTION_PROPERTIES if p.name == name)
    depth, scope = SHORTEST[name]
    system = System(checked_scope(prop, scope or connection_scope(STABLE)))
    result = bmc(system, prop, depth, LIMITS)
    assert (result.verdict, result.depth) == (Verdict.VIOLATED, depth), result
    assert replays_violation(system, prop, result.trace)
    assert prop.expect(STABLE) == VIOLATED


def test_every_connection_property_has_a_recorded_verdict_per_version() -> None:
    for p in CONNECTION_PROPERTIES:
        assert p.needs_connections
        for v in KernelVersion:
            assert p.expect(v) in (PROVED, VIOLATED, BOUNDED), (p.name, v)
        assert p.cites and p.statement


def test_same_family_is_proved_in_the_connection_scope() -> None:
    from pmcheck.checker.run import Options, check

    (result,) = check([L1], connection_scope(STABLE), Options(limits=LIMITS, witnesses=False))
    assert result.verdict is Verdict.PROVED, result


def test_no_duplicate_subflow_holds_to_depth() -> None:
    scope = narrow(
        (CONNECT, "peer announce 10.0.2.1 id 1", "subflow close 10.0.1.2 10.0.2.1"),
        (FLAG_SUBFLOW, FLAG_SUBFLOW | FLAG_FULLMESH),
        (2,),
    )
    result = bmc(System(scope), M9, 5, LIMITS)
    assert result.verdict is Verdict.HOLDS_TO_DEPTH, result


# --- mutants: the properties that hold fail on a broken rule -------------------


def test_same_family_is_violated_when_families_always_match(monkeypatch: Any) -> None:
    for mod in (pm_worker, fillers):
        monkeypatch.setattr(
            mod, "mptcp_pm_addr_families_match", lambda ops, conn, loc, rem: ops.true()
        )
    scope = narrow((CONNECT,), (FLAG_SUBFLOW,), (2,))
    system = System(scope)
    result = bmc(system, L1, 4, LIMITS)
    assert result.verdict is Verdict.VIOLATED, result
    assert replays_violation(system, L1, result.trace)


def test_no_duplicate_is_violated_without_the_daddr_lookup(monkeypatch: Any) -> None:
    # mptcp_pm_nl_add_addr_received's lookup_subflow_by_daddr never matches.
    real = pm_worker.mptcp_addresses_equal
    calls = {"n": 0}

    def never_seen(ops: Any, *args: Any) -> Any:
        calls["n"] += 1
        return ops.false() if len(args) == 5 else real(ops, *args)

    monkeypatch.setattr(pm_worker, "mptcp_addresses_equal", never_seen)
    scope = narrow((CONNECT, "peer announce 10.0.2.1 id 1"), (FLAG_SIGNAL,), (2,))
    system = System(scope)
    result = bmc(system, M9, 8, LIMITS)
    assert calls["n"], "the mutant did not reach the lookup"
    assert result.verdict is Verdict.VIOLATED, result
    assert replays_violation(system, M9, result.trace)


# --- trigger witnesses -------------------------------------------------------


PREMISE_SCOPE = narrow(
    (CONNECT, CONNECT_C, "peer announce 10.0.2.1 id 1", "peer join 10.0.2.1 to 10.0.2.2 id 1"),
    (FLAG_SIGNAL, FLAG_SUBFLOW | FLAG_BACKUP, FLAG_LAMINAR | FLAG_SUBFLOW),
    (1, 2),
)


@pytest.mark.parametrize("prop", CONNECTION_PROPERTIES, ids=lambda p: p.name)
def test_premise_is_reachable(prop: Any) -> None:
    system = System(PREMISE_SCOPE)
    path = premise_path(system, prop, 7, LIMITS)
    assert path is not None, f"{prop.name}: premise not reachable within 7 steps"
    assert prop.premise(CONCRETE, system.replay(list(path))[-1])


# --- the connection scope ------------------------------------------------------


def test_scope_events_print_as_their_lines() -> None:
    from pmcheck.checker.system import RuleStep

    for name, alts in connection_scope(STABLE).event_inputs().items():
        for text, inputs in alts:
            assert step_text(RuleStep(name, inputs)) == text


def test_checker_paths_are_scenario_runs() -> None:
    """A BMC trace, with its environment steps dropped, is a scenario whose
    run on the interpreter ends in the same state (the environment settles
    the same way in both)."""
    system = System(connection_scope(STABLE))
    result = bmc(system, M6, 3, LIMITS)
    assert result.verdict is Verdict.VIOLATED
    lines = [step_text(s) for s in result.trace if s.rule != "environment"]
    states: list = []
    run_model(
        parse_text("\n".join(lines) + "\n"),
        STABLE,
        observer=lambda rule, before, after, out: states.append(after),
    )
    final = system.replay(list(result.trace))[-1]
    assert [e for e in states[-1].netns.endp if e.used] == [e for e in final.netns.endp if e.used]
    assert states[-1].netns[1:] == final.netns[1:]  # counters, bitmap, limits
    assert states[-1].conns[0][:-2] == final.conns[0][:-2]  # same counters and flags


def test_oracle_and_bmc_agree_on_a_small_connection_scope() -> None:
    scope = narrow((CONNECT, "peer join 10.0.2.1 to 10.0.2.2 id 1"), (FLAG_LAMINAR,), (1,))
    scope = dataclasses.replace(scope, endpoint_slots=1)
    oracle = explore(scope, [M5], max_depth=5)[M5.name]
    result = bmc(System(scope), M5, 5, LIMITS)
    assert oracle.violated_at == result.depth == 3


# --- the notes' own reproducers (examples/known, diffed live elsewhere) --------


KNOWN = {
    "F1-cflag-marks-skipped-endpoint.scn": {W1.name},
    "F2-laminar-raw-mpc-id.scn": {M7B.name, M8.name},
    "F3-flush-stale-mpc-id.scn": {M6.name, M7.name},
    "F4-extra-subflows-over-limit.scn": {M3.name, M5.name},
    "seed-laminar.scn": set(),
}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_notes_reproducers_violate_what_the_notes_say(name: str) -> None:
    """The notes' confirmed violations, as the scenarios that reproduced them
    live: each breaks the properties named (and the seed use case none of
    the per-connection properties that hold in it)."""
    from pathlib import Path

    from pmcheck.scenario.files import parse_file

    path = Path(__file__).resolve().parents[1] / "examples" / "known" / name
    states: list = []
    run_model(
        parse_file(path), STABLE, observer=lambda rule, before, after, out: states.append(after)
    )
    broken = {
        p.name for p in CONNECTION_PROPERTIES if any(not p.holds(CONCRETE, s) for s in states)
    }
    assert KNOWN[name] <= broken, (name, broken)
    if not KNOWN[name]:
        assert not broken, broken
