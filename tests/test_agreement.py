"""The concrete and the Z3 interpretation of every rule agree.

For each step of a random scenario, the rule's cached Z3 encoding (built once
over a fresh symbolic pre-state and fresh inputs) is evaluated at the concrete
pre-state and inputs, and must give exactly the concrete post-state and
outcome. The pre-states are the reachable ones random sequences visit, on
every kernel version, with connection events and the environment's steps.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings

from pmcheck import interp
from pmcheck.model.backend import recording
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.model.rules import RULES, Ctx
from pmcheck.model.state import initial_state
from pmcheck.model.symbolic import symbolic_step
from pmcheck.model.versions import KernelVersion
from pmcheck.scenario.lower import Universe, lower
from tests.strategies import connection_scenario_st, scenario_st

# The hypothesis agreement tests run on three versions that between them take
# every value of every trait (model/versions.py): the oldest, the live one
# and the newest. Each Z3 encoding costs seconds to set up whatever the
# number of examples, so two more versions would cost more than they add.
AGREEMENT_VERSIONS = [KernelVersion.V6_18, KernelVersion.V6_18_STABLE, KernelVersion.V7_1]


@pytest.mark.parametrize("version", AGREEMENT_VERSIONS, ids=lambda v: v.value)
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(scn=scenario_st)
def test_concrete_and_z3_agree_on_every_step(version: KernelVersion, scn) -> None:
    universe = Universe.of(scn)
    ctx = Ctx(CONCRETE, version)
    state = initial_state()
    for step in scn.steps:
        name, inputs = lower(step.command, universe)
        post, outcome = RULES[name](ctx, state, inputs)
        sym_post, sym_outcome = symbolic_step(name, version).apply(state, inputs)
        assert sym_post == post, f"state differs after {step.text!r}"
        assert tuple(sym_outcome) == tuple(outcome), f"outcome differs after {step.text!r}"
        state = post


def test_find_next_zero_agrees_at_the_edges() -> None:
    """The Z3 lowest-free-bit encoding against the concrete one, including the
    "nothing free -> 256 -> 0 in a u8" case the kernel relies on."""
    import z3

    from pmcheck.model.z3_ops import Z3Ops

    ops = Z3Ops()
    full = (1 << 256) - 1
    cases = [
        (0, 1),
        (0b10, 1),
        (full, 1),
        (full ^ (1 << 7), 1),
        (full ^ (1 << 7), 8),
        (full ^ 1, 1),
        (1 << 255, 254),
        ((1 << 256) - 2, 200),
        (0, 255),
    ]
    for bitmap, start in cases:
        term = ops.find_next_zero_u8(z3.BitVecVal(bitmap, 256), z3.BitVecVal(start, 8))
        assert z3.simplify(term).as_long() == CONCRETE.find_next_zero_u8(bitmap, start), (
            bitmap,
            start,
        )


@pytest.mark.parametrize("version", AGREEMENT_VERSIONS, ids=lambda v: v.value)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(scn=connection_scenario_st())
def test_concrete_and_z3_agree_on_connection_events(version: KernelVersion, scn) -> None:
    """Every rule application of a connection scenario, the environment's
    (worker runs, join results, echoes) included, agrees on both backends."""
    universe = Universe.of(scn)
    topo = universe.topology()
    concrete = interp.applier(version, topo, "concrete")
    symbolic = interp.applier(version, topo, "z3")
    checked: list[str] = []

    def both(name: str, state, inputs):
        post, out = concrete(name, state, inputs)
        sym_post, sym_out = symbolic(name, state, inputs)
        assert sym_post == post, f"state differs after {name} (steps so far {checked})"
        assert tuple(sym_out) == tuple(out), f"outcome differs after {name}"
        checked.append(name)
        return post, out

    state = initial_state()
    with recording() as notes:
        for step in scn.steps:
            name, inputs = lower(step.command, universe)
            state, _ = both(name, state, inputs)
            state = interp.settle(both, state, topo, step.loc)
    for path in filler_paths(notes):
        event(f"filler: {path}")  # `pytest --hypothesis-show-statistics` shows the spread


FILLERS = (
    "fill_local_addresses_vec: FULLMESH",
    "fill_local_laminar_endp",
    "fill_local_addresses_vec_c_flag",
    "fill_local_address_any",
)


def filler_paths(notes: list) -> set[str]:
    """Which of the four fillers of fill_local_addresses_vec ran (their notes)."""
    return {f for f in FILLERS for fmt, _ in notes if fmt.startswith(f)}


@pytest.mark.parametrize("version", list(KernelVersion), ids=lambda v: v.value)
def test_connection_scenarios_reach_every_filler(version: KernelVersion) -> None:
    """The agreement test's scenarios run every filler path (deterministic
    sample of 300, concrete only, ~3 s): a strategy that stops reaching one would
    leave that path's agreement untested."""
    seen: set[str] = set()

    @settings(max_examples=300, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(scn=connection_scenario_st())
    def run(scn) -> None:
        with recording() as notes:
            interp.run_model(scn, version)
        seen.update(filler_paths(notes))

    run()
    assert seen == set(FILLERS), f"never reached: {set(FILLERS) - seen}"


@pytest.mark.parametrize("version", list(KernelVersion), ids=lambda v: v.value)
def test_add_addr_timeout_event_agrees_and_schedules_the_next_announce(
    version: KernelVersion,
) -> None:
    """No scenario verb lets an echo go missing, so the timer event is driven
    by hand: two signal endpoints, the first ADD_ADDR never echoed."""
    from pmcheck.model.inputs import NO_ADDR, NO_EVENT, NO_LIMITS
    from pmcheck.model.rules import Inputs
    from pmcheck.scenario.parser import parse_text

    scn = parse_text(
        "ip mptcp endpoint add 10.0.2.2 signal\n"
        "ip mptcp endpoint add 10.0.3.2 signal\n"
        "connect 10.0.1.2 10.0.1.1\n"
    )
    universe = Universe.of(scn)
    topo = universe.topology()
    concrete = interp.applier(version, topo, "concrete")
    symbolic = interp.applier(version, topo, "z3")
    state = initial_state()
    for step in scn.steps:
        name, inputs = lower(step.command, universe)
        state, _ = concrete(name, state, inputs)
    ev = Inputs(NO_ADDR, NO_LIMITS, NO_EVENT)
    state, _ = concrete("worker", state, ev)  # announces 10.0.2.2, echo pending
    assert state.conns[0].add_addr_signaled == 1 and state.conns[0].anno[0].echo_pending
    timeout = Inputs(NO_ADDR, NO_LIMITS, NO_EVENT._replace(slot=0))
    post, out = concrete("add_addr timeout", state, timeout)
    sym_post, sym_out = symbolic("add_addr timeout", state, timeout)
    assert (sym_post, tuple(sym_out)) == (post, tuple(out))
    assert out.value == 1 and not post.conns[0].anno[0].echo_pending
    assert post.conns[0].w_subflow_established  # the next address goes out
    post, _ = concrete("worker", post, ev)
    assert post.conns[0].add_addr_signaled == 2
