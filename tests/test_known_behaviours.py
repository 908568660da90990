"""Fragile spots of the 6.18 kernel (reference notes F1-F4), reproduced.

Each is a scenario in examples/known/; the model must show the behaviour
the notes describe (and the live-kernel tests run the same files through
`pmcheck diff`). These are the kernel's bugs, kept on purpose: a model that
"fixed" one would fail here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pmcheck.interp import run_model
from pmcheck.model.versions import KernelVersion
from pmcheck.results import ConnView, SubflowRow
from pmcheck.scenario.files import parse_file

KNOWN = Path(__file__).resolve().parents[1] / "examples" / "known"
VERSIONS = list(KernelVersion)


def conns_after(name: str, version: KernelVersion) -> list[tuple[ConnView, ...]]:
    run = run_model(parse_file(KNOWN / name), version)
    return [o.conns for o in run.outcomes]


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.value)
def test_f1_c_flag_filler_marks_skipped_endpoint_used(version: KernelVersion) -> None:
    after = conns_after("F1-cflag-marks-skipped-endpoint.scn", version)
    announced, del_v6, _ = after[3][0], after[4][0], after[5][0]
    assert announced.local_addr_used == 1
    assert announced.add_addr_accepted == 1  # above the limit 0 (M4)
    assert SubflowRow("10.0.2.2", 2, "10.0.3.1", 1) in announced.table
    # Deleting the skipped v6 endpoint decrements local_addr_used (M1 broken)
    # while 10.0.2.2's subflow is still alive.
    assert del_v6.local_addr_used == 0
    assert SubflowRow("10.0.2.2", 2, "10.0.3.1", 1) in del_v6.table


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.value)
def test_f2_laminar_mpc_endpoint_serves_two_subflows(version: KernelVersion) -> None:
    last = conns_after("F2-laminar-raw-mpc-id.scn", version)[-1][0]
    assert last.table == (
        SubflowRow("10.0.1.2", 1, "10.0.2.1", 1),
        SubflowRow("10.0.1.2", 1, "10.0.3.1", 2),
        SubflowRow("10.0.4.2", 2, "10.0.1.1", 0),
    )


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.value)
def test_f3_flush_leaves_mpc_endpoint_id_stale(version: KernelVersion) -> None:
    last = conns_after("F3-flush-stale-mpc-id.scn", version)[-1][0]
    # The new endpoint reuses id 1, which the msk still takes for its MPC
    # endpoint: a join with local id 0 from another address, not counted.
    assert SubflowRow("10.0.2.2", 0, "10.0.1.1", 0) in last.table
    assert last.local_addr_used == 0


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.value)
def test_f4_extra_subflows_exceed_the_limit(version: KernelVersion) -> None:
    last = conns_after("F4-extra-subflows-over-limit.scn", version)[-1][0]
    assert last.subflows == 2  # limit 1 (M3)
    assert last.add_addr_accepted == 1


def test_seed_use_case_laminar_endpoints_each_used_once() -> None:
    """The review thread's case: C(b), C(c) laminar; S(b) then S(c) announced."""
    last = conns_after("seed-laminar.scn", KernelVersion.V6_18_STABLE)[-1][0]
    assert last.table == (
        SubflowRow("10.0.1.2", 0, "10.0.1.1", 0),
        SubflowRow("10.0.2.2", 1, "10.0.2.1", 1),
        SubflowRow("10.0.3.2", 2, "10.0.3.1", 2),
    )
    assert (last.subflows, last.add_addr_accepted, last.local_addr_used) == (2, 2, 0)


def test_server_side_add_addr_join_goes_to_the_ephemeral_port() -> None:
    last = conns_after("server-join-to-ephemeral-port.scn", KernelVersion.V6_18_STABLE)[-1][0]
    assert last.table == (SubflowRow("10.0.2.2", 0, "10.0.2.1", 0),)
    assert (last.subflows, last.add_addr_accepted) == (0, 1)


MIXES = KNOWN.parent / "mixes"


def last_table(name: str) -> ConnView:
    return run_model(parse_file(MIXES / name), KernelVersion.V6_18_STABLE).outcomes[-1].conns[0]


def test_subflow_laminar_endpoint_is_used_once_overall() -> None:
    last = last_table("subflow-laminar-used-once.scn")
    assert [r.remote for r in last.table] == ["10.0.1.1", "10.0.1.1"]  # no join to 10.0.3.1
    assert last.add_addr_accepted == 0


def test_fullmesh_outranks_laminar() -> None:
    last = last_table("fullmesh-laminar.scn")
    assert [(r.local, r.remote) for r in last.table[1:]] == [
        ("10.0.2.2", "10.0.3.1"),
        ("10.0.2.2", "10.0.4.1"),
    ]


def test_laminar_never_serves_the_other_family_and_has_no_fallback() -> None:
    assert last_table("laminar-other-family.scn").table == (
        SubflowRow("10.0.1.2", 0, "10.0.1.1", 0),
    )


def test_laminar_outranks_the_c_flag_case() -> None:
    last = last_table("laminar-hides-cflag.scn")
    assert SubflowRow("10.0.3.2", 2, "10.0.3.1", 1) in last.table
    assert last.local_addr_used == 0  # the subflow endpoint 10.0.2.2 stayed unused


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.value)
def test_join_to_an_unknown_address_on_a_full_table_is_refused(version: KernelVersion) -> None:
    """mptcp_pm_get_local_id cannot add the IMPLICIT endpoint (-ERANGE): no
    subflow, the table keeps its 8 endpoints, extra_subflows stays 0."""
    scn = parse_file(KNOWN / "full-table-join-erange.scn")
    last = run_model(scn, version).outcomes[-1]
    assert last.errno == 0 and len(last.endpoints) == 8
    assert all(r.remote_id == 0 for r in last.conns[0].table)  # only the initial subflow
    assert last.conns[0].subflows == 0


def test_a_peer_rm_addr_without_a_subflow_waits_for_the_next_one() -> None:
    """The peer's RM_ADDR id 2, sent while the host had closed its only
    subflow, is not lost: it arrives on the peer's next join (also id 2),
    which the worker then closes. A join from id 3 stays."""
    from pmcheck.scenario.parser import parse_text

    after = conns_after("peer-rm-addr-pending.scn", KernelVersion.V6_18_STABLE)
    removed, joined = after[3][0], after[4][0]
    assert removed.subflows == 0 and removed.table == ()
    assert joined.subflows == 0 and joined.table == ()
    text = (KNOWN / "peer-rm-addr-pending.scn").read_text()
    other = text.replace("to 10.0.3.2 id 2", "to 10.0.3.2 id 3")
    kept = run_model(parse_text(other, "join-id-3.scn"), KernelVersion.V6_18_STABLE)
    assert kept.outcomes[-1].conns[0].table == (SubflowRow("10.0.3.2", 1, "10.0.2.1", 3),)
