"""Where the kernel versions differ, the model differs the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmcheck.interp import run_model
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.model.constants import AF_INET
from pmcheck.model.inputs import NO_ADDR, NO_EVENT, NO_LIMITS
from pmcheck.model.rules import RULES, Ctx, Inputs
from pmcheck.model.state import initial_state
from pmcheck.model.versions import KernelVersion, version_of_release
from pmcheck.scenario.ast import EndpointAdd, EndpointDelete, EndpointFlush
from pmcheck.scenario.files import parse_file
from tests.strategies import scenario_of


def test_explicit_id0_creates_endpoint_id0_on_6_18_only() -> None:
    """F9: 6.18.10's needs_id lets an explicit id 0 through (raw netlink; ip
    refuses it), and `del id 0` then cannot remove it."""
    add = RULES["endpoint add"]
    inp = Inputs(NO_ADDR._replace(family=AF_INET, addr=1, has_id=True, id=0), NO_LIMITS, NO_EVENT)
    for version, expect_id in ((KernelVersion.V6_18, 0), (KernelVersion.V6_18_STABLE, 1)):
        st, out = add(Ctx(CONCRETE, version), initial_state(), inp)
        assert out.errno == 0 and out.value == expect_id, version
        assert st.netns.endp[0].id == expect_id
        assert (st.netns.id_bitmap & 1) == (1 if expect_id == 0 else 0)
    st, _ = add(Ctx(CONCRETE, KernelVersion.V6_18), initial_state(), inp)
    del0 = Inputs(NO_ADDR._replace(id=0, has_id=True), NO_LIMITS, NO_EVENT)
    st2, out = RULES["endpoint delete"](Ctx(CONCRETE, KernelVersion.V6_18), st, del0)
    assert out.errno == 0 and st2 == st


def test_fullmesh_counter_only_on_6_19_and_not_reset_by_flush() -> None:
    scn = scenario_of(
        [
            EndpointAdd(addr="10.0.0.1", family=AF_INET, flags=0b1010),  # subflow fullmesh
            EndpointFlush(),
        ]
    )
    ctx19 = Ctx(CONCRETE, KernelVersion.V6_19)
    st = initial_state()
    from pmcheck.scenario.lower import Universe, lower

    u = Universe.of(scn)
    counts = []
    for step in scn.steps:
        name, inp = lower(step.command, u)
        st, _ = RULES[name](ctx19, st, inp)
        counts.append(st.netns.endp_fullmesh_max)
    # f88191c7f361 counts it; __reset_counters forgets it until 7.1-rc2.
    assert counts == [1, 1]
    run18 = run_model(scn, KernelVersion.V6_18)
    assert run18.outcomes[-1].endpoints == ()


def test_delete_ignores_the_address_for_nonzero_ids() -> None:
    scn = scenario_of(
        [
            EndpointAdd(addr="10.0.0.1", family=AF_INET),
            EndpointDelete(id=1, addr="10.0.0.9", family=AF_INET),
        ]
    )
    run = run_model(scn, KernelVersion.V6_18_STABLE)
    assert run.outcomes[-1].errno == 0 and run.outcomes[-1].endpoints == ()


def test_release_mapping() -> None:
    assert version_of_release("6.18.44-fc-v595") is KernelVersion.V6_18_STABLE
    assert version_of_release("6.18.10") is KernelVersion.V6_18
    assert version_of_release("6.19.2") is KernelVersion.V6_19
    assert version_of_release("7.0.7") is KernelVersion.V7_0
    assert version_of_release("7.1.0-rc3") is KernelVersion.V7_1
    assert version_of_release("7.2.1") is KernelVersion.V7_1  # the newest modeled


# Each upstream fix the model has as a version delta, on the same files:
# the version before and after, as each file's comment says.
UPSTREAM_EFFECT = {
    "rm-endp-marks-id-available": (KernelVersion.V6_19, KernelVersion.V7_0),  # d191101dee25
    "signal-subflow-always-used": (KernelVersion.V6_19, KernelVersion.V7_0),  # 579a752464a6
    "mp-prio-skips-inactive": (KernelVersion.V7_0, KernelVersion.V7_1),  # 166b78344031
}


@pytest.mark.parametrize("stem", sorted(UPSTREAM_EFFECT))
def test_upstream_fix_separates_the_releases_as_it_does_the_backport(stem: str) -> None:
    """The same change between the upstream releases as between 6.18.10 and
    6.18-stable (the backport), and no other on these files."""
    scn = parse_file(EXAMPLES_VERSIONS / f"{stem}.scn")
    before, after = UPSTREAM_EFFECT[stem]
    [old] = run_model(scn, before).outcomes[-1].conns
    [new] = run_model(scn, after).outcomes[-1].conns
    assert (old.describe(), new.describe()) == BACKPORT_EFFECT[stem]


EXAMPLES_VERSIONS = Path(__file__).resolve().parents[1] / "examples" / "versions"
VERSION_CASES = sorted(EXAMPLES_VERSIONS.glob("*.scn"))


# What each file's comment says the backport changes: the connection at the
# end, on 6.18.10 and on 6.18-stable.
BACKPORT_EFFECT = {
    "rm-endp-marks-id-available": (
        "conn 1: subflows 1 signal 0 accepted 0 used 1 | 10.0.3.2#2>10.0.1.1#0",
        "conn 1: subflows 2 signal 0 accepted 0 used 2 | "
        "10.0.2.2#1>10.0.1.1#0 10.0.3.2#2>10.0.1.1#0",
    ),
    "mp-prio-skips-inactive": (
        "conn 1: subflows 2 signal 0 accepted 1 used 0 | "
        "10.0.1.2#0>10.0.1.1#0 10.0.2.2#1>10.0.2.1#1",
        "conn 1: subflows 2 signal 0 accepted 1 used 0 | "
        "10.0.1.2#0>10.0.1.1#0 10.0.2.2#1>10.0.2.1#1/B",
    ),
    "signal-subflow-always-used": (
        "conn 1: subflows 0 signal 1 accepted 0 used 0 | 10.0.1.2#0>10.0.1.1#0",
        "conn 1: subflows 0 signal 1 accepted 0 used 1 | 10.0.1.2#0>10.0.1.1#0",
    ),
}


@pytest.mark.parametrize("path", VERSION_CASES, ids=lambda p: p.stem)
def test_backport_separates_6_18_from_6_18_stable(path: Path) -> None:
    """Each examples/versions/ scenario shows one stable backport: the 6.18.10
    model and the 6.18-stable model end exactly as the file's comment says
    (the id 1 subflow joins only with d191101dee25; the signal+subflow
    endpoint counts only with 579a752464a6). The live tests check that
    6.18.44 agrees with 6.18-stable."""
    scn = parse_file(path)
    [old] = run_model(scn, KernelVersion.V6_18).outcomes[-1].conns
    [new] = run_model(scn, KernelVersion.V6_18_STABLE).outcomes[-1].conns
    assert (old.describe(), new.describe()) == BACKPORT_EFFECT[path.stem]
