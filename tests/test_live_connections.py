"""Live MPTCP connections: the host's in-kernel PM against a userspace-PM peer.

Each test builds a LiveTestbed (two fresh namespaces, 4 veth links), drives
a few steps and checks what the kernel did. These are observations of this
machine's kernel (6.18.44) that the connection model must reproduce.
"""

from __future__ import annotations

import os
import time

import pytest

from pmcheck.live import sockops
from pmcheck.live.agent import AgentError, AgentState, NetnsAgent
from pmcheck.live.connections import LiveTestbed
from pmcheck.live.events import (
    EV_ANNOUNCED,
    EV_ESTABLISHED,
    EV_FLAG_DENY_JOIN_ID0,
    EV_REMOVED,
    EV_SUB_CLOSED,
    EV_SUB_ESTABLISHED,
    EventMatch,
)
from pmcheck.live.netns import owned_netns, temporary_netns
from tests.live import require_live_kernel

pytestmark = pytest.mark.live

SIGNAL, SUBFLOW, IMPLICIT, LAMINAR = 0x1, 0x2, 0x10, 0x20
INITIAL = ("10.0.1.2", 0, "10.0.1.1", 0, False)


@pytest.fixture(scope="module", autouse=True)
def _live() -> None:
    require_live_kernel()


def _children() -> set[int]:
    """Live (or zombie) child processes of this process."""
    me = str(os.getpid())
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me:
                found.add(int(entry))
    return found


def _types(events) -> list[int]:
    return [e.type for e in events]


# --- the seed use case ---------------------------------------------------------------


def test_two_laminar_endpoints_take_one_announce_each() -> None:
    with LiveTestbed() as tb:
        tb.set_limits(add_addr_accepted=2, subflows=2)
        tb.add_endpoint("10.0.2.2", LAMINAR)
        tb.add_endpoint("10.0.3.2", LAMINAR)
        conn = tb.connect("10.0.1.2", "10.0.1.1")
        first = tb.peer_announce(conn, "10.0.2.1", 1)
        second = tb.peer_announce(conn, "10.0.3.1", 2)
        snap = tb.snapshot(conn)

    assert _types(first.events) == [EV_ANNOUNCED, EV_SUB_ESTABLISHED]
    assert _types(second.events) == [EV_ANNOUNCED, EV_SUB_ESTABLISHED]
    info = snap.info
    assert (info.subflows, info.add_addr_accepted, info.local_addr_used) == (2, 2, 0)
    assert (info.subflows_total, info.endp_laminar_max) == (3, 2)
    assert snap.subflows == (
        INITIAL,
        ("10.0.2.2", 1, "10.0.2.1", 1, False),
        ("10.0.3.2", 2, "10.0.3.1", 2, False),
    )
    assert snap.subflows_from_events == snap.subflows
    assert snap.mismatches == ()
    mib = snap.mib
    assert (mib["MPJoinSynTx"], mib["MPJoinSynAckRx"], mib["AddAddr"]) == (2, 2, 2)
    assert mib["EchoAddTx"] == 2


# --- host endpoints --------------------------------------------------------------------


def test_subflow_endpoint_joins_the_initial_remote_address() -> None:
    with LiveTestbed() as tb:
        tb.add_endpoint("10.0.2.2", SUBFLOW)
        conn = tb.connect("10.0.1.2", "10.0.1.1")
        snap = tb.snapshot(conn)
        events = tb.host_events(conn)

    assert snap.subflows == (INITIAL, ("10.0.2.2", 1, "10.0.1.1", 0, False))
    assert (snap.info.local_addr_used, snap.info.subflows, snap.info.subflows_total) == (1, 1, 2)
    assert snap.mismatches == ()
    # The event attribute numbering (uapi enum mptcp_event_attr) as the kernel sends it:
    # type -> length. Ports are big-endian and agree with sock_diag's.
    join = next(e for e in events if e.type == EV_SUB_ESTABLISHED)
    assert {t: n for t, n, _ in join.raw} == {
        1: 4,
        2: 2,
        3: 1,
        4: 1,
        5: 4,
        7: 4,
        9: 2,
        10: 2,
        11: 1,
    }
    assert (join.loc_id, join.rem_id, join.family) == (1, 0, 2)
    diag = next(r for r in snap.diag if r.saddr == "10.0.2.2")
    assert (join.sport, join.dport) == (diag.sport, diag.dport) and join.dport == 10000


def test_signal_endpoint_is_announced_to_the_peer() -> None:
    with LiveTestbed() as tb:
        tb.add_endpoint("10.0.2.2", SIGNAL)
        conn = tb.connect("10.0.1.2", "10.0.1.1")
        snap = tb.snapshot(conn)
        peer_seen = tb.wait_peer_event(EventMatch((EV_ANNOUNCED,), conn.peer_token))

    assert snap.info.add_addr_signal == 1
    assert (snap.mib["AddAddrTx"], snap.mib["EchoAdd"]) == (1, 1)
    assert peer_seen is not None
    assert (peer_seen.rem_id, peer_seen.daddr) == (1, "10.0.2.2")
    assert snap.subflows == (INITIAL,)


def test_deny_join_id0_sets_the_c_flag_and_stops_subflow_endpoints() -> None:
    """allow_join_initial_addr_port=0 is read per SYN, not when the listener is
    made; the host learns the C flag (event flag DENY_JOIN_ID0) and its
    subflow endpoint is not used (C-flag case, limits 0/2)."""
    with LiveTestbed(peer_deny_join_id0=True) as tb:
        tb.add_endpoint("10.0.2.2", SUBFLOW)
        conn = tb.connect("10.0.1.2", "10.0.1.1")
        snap = tb.snapshot(conn)
        established = next(e for e in tb.host_events(conn) if e.type == EV_ESTABLISHED)

    assert established.flags is not None and established.flags & EV_FLAG_DENY_JOIN_ID0
    assert snap.subflows == (INITIAL,)
    assert (snap.info.local_addr_used, snap.info.subflows) == (0, 0)


def test_endpoint_address_not_on_the_host_fails_at_bind() -> None:
    """__mptcp_subflow_connect fails synchronously (bind: EADDRNOTAVAIL): no
    event, only MPJoinSynTxBindErr; the endpoint stays used, the extra
    subflow is given back."""
    with LiveTestbed() as tb:
        tb.add_endpoint("10.0.9.2", SUBFLOW)
        conn = tb.connect("10.0.1.2", "10.0.1.1")
        snap = tb.snapshot(conn)
        events = tb.host_events(conn)

    assert snap.mib["MPJoinSynTxBindErr"] == 1 and snap.mib.get("MPJoinSynTx", 0) == 0
    assert _types(events) == [1, EV_ESTABLISHED]  # CREATED, ESTABLISHED only
    assert (snap.info.local_addr_used, snap.info.subflows, snap.info.subflows_total) == (1, 0, 1)


# --- peer operations ---------------------------------------------------------------------


def test_passive_join_from_unknown_address_creates_implicit_endpoint() -> None:
    with LiveTestbed() as tb:
        conn = tb.peer_connect("10.0.1.1", "10.0.1.2")
        result = tb.peer_join(conn, "10.0.2.1", "10.0.2.2", 5, backup=True)
        snap = tb.snapshot(conn)

    assert result.event is not None and result.event.type == EV_SUB_ESTABLISHED
    assert [(e.id, e.addr, e.flags) for e in snap.endpoints] == [(1, "10.0.2.2", IMPLICIT)]
    assert snap.subflows == (INITIAL, ("10.0.2.2", 1, "10.0.2.1", 5, True))
    assert snap.mib["MPJoinSynRx"] == 1 and snap.mib["MPJoinAckRx"] == 1
    assert snap.mismatches == ()


def test_peer_remove_and_subflow_destroy_close_joins() -> None:
    with LiveTestbed() as tb:
        tb.set_limits(add_addr_accepted=2, subflows=2)
        conn = tb.connect("10.0.1.2", "10.0.1.1")
        tb.peer_announce(conn, "10.0.2.1", 1)
        tb.peer_announce(conn, "10.0.3.1", 2)
        removed = tb.peer_remove(conn, 1)
        after_remove = tb.snapshot(conn)
        closed = tb.peer_close_subflow(conn, "10.0.3.1", "10.0.3.2")
        after_close = tb.snapshot(conn)

    # No endpoints: the joins use the routed source address, whose id comes
    # from an implicit endpoint.
    assert [(e.id, e.addr, e.flags) for e in after_remove.endpoints] == [
        (1, "10.0.2.2", IMPLICIT),
        (2, "10.0.3.2", IMPLICIT),
    ]
    assert _types(removed.events) == [EV_REMOVED, EV_SUB_CLOSED]
    assert after_remove.subflows == (INITIAL, ("10.0.3.2", 2, "10.0.3.1", 2, False))
    assert (after_remove.info.add_addr_accepted, after_remove.info.subflows) == (1, 1)
    assert after_remove.mib["RmAddr"] == 1
    assert _types(closed.events) == [EV_SUB_CLOSED]
    assert after_close.subflows == (INITIAL,)
    # A subflow closed without RM_ADDR keeps add_addr_accepted (kernel-semantics 4.6).
    assert (after_close.info.add_addr_accepted, after_close.info.subflows) == (1, 0)
    assert after_close.mismatches == ()


def test_ipv6_join_across_links() -> None:
    """A v6 join leaves on another link than its source address's: it needs
    neighbour discovery at once (the testbed disables DAD), not after 1 s."""
    with LiveTestbed() as tb:
        tb.add_endpoint("dead:beef:2::2", SUBFLOW)
        conn = tb.connect("dead:beef:1::2", "dead:beef:1::1")
        snap = tb.snapshot(conn)

    assert snap.subflows == (
        ("dead:beef:1::2", 0, "dead:beef:1::1", 0, False),
        ("dead:beef:2::2", 1, "dead:beef:1::1", 0, False),
    )
    assert snap.mismatches == ()


def test_dual_stack_peer_listener() -> None:
    """Peer listening on '::': the v4 connection is v4-mapped on the peer; the
    host sees plain v4, and SUBFLOW_DESTROY needs the mapped addresses."""
    with LiveTestbed(links=2) as tb:
        tb.set_limits(add_addr_accepted=1, subflows=1)
        conn = tb.connect("10.0.1.2", "10.0.1.1", listen_addr="::")
        tb.peer_announce(conn, "10.0.2.1", 1)
        joined = tb.snapshot(conn)
        closed = tb.peer_close_subflow(conn, "10.0.2.1", "10.0.2.2")
        after = tb.snapshot(conn)
        peer_created = next(e for e in tb.peer_events(conn) if e.type == 1)

    assert peer_created.saddr == "::ffff:a00:101"  # 10.0.1.1, mapped
    assert joined.subflows == (INITIAL, ("10.0.2.2", 1, "10.0.2.1", 1, False))
    assert closed.reply.errno == 0 and _types(closed.events) == [EV_SUB_CLOSED]
    assert after.subflows == (INITIAL,)


def test_refused_joins_need_every_event_listener_stopped() -> None:
    """The userspace-PM peer accepts MP_JOINs while ANY socket on the machine
    listens to mptcp_pm_events (the check is not per namespace)."""
    with LiveTestbed() as tb:
        conn = tb.connect("10.0.1.2", "10.0.1.1")
        tb.set_peer_accept_joins(False)
        tb.add_endpoint("10.0.2.2", SUBFLOW)
        snap = tb.snapshot(conn)
        peer_mib = tb.peer_mib()

    if peer_mib.get("MPJoinRejected", 0) == 0 and len(snap.subflows) == 2:
        pytest.skip("another process listens to mptcp_pm_events: the peer accepts joins")
    assert peer_mib["MPJoinRejected"] == 1
    mib = snap.mib
    assert (mib["MPJoinSynTx"], mib["MPJoinSynAckRx"], mib["MPRstTx"]) == (1, 1, 1)
    assert snap.subflows == (INITIAL,) and snap.subflows_from_events is None
    assert (snap.info.local_addr_used, snap.info.subflows, snap.info.subflows_total) == (1, 0, 1)


# --- process and namespace hygiene ------------------------------------------------------


class _Boom(Exception):
    pass


def test_cleanup_after_an_exception_mid_scenario() -> None:
    before = _children()
    with pytest.raises(_Boom), LiveTestbed(links=2) as tb:
        tb.connect("10.0.1.2", "10.0.1.1")
        assert len(owned_netns()) == 2
        assert len(_children() - before) == 2  # the two agents
        raise _Boom
    assert owned_netns() == []
    assert _children() == before


def _sleep(state: AgentState, seconds: float) -> str:
    time.sleep(seconds)
    return state.netns


def test_agent_timeout_kills_and_reaps_the_child() -> None:
    before = _children()
    with temporary_netns() as name, NetnsAgent(name) as agent:
        assert agent.call(_sleep, 0) == name
        with pytest.raises(AgentError, match="took over"):
            agent.call(_sleep, 5, timeout=0.2)
        assert agent.pid is None
        with pytest.raises(AgentError, match="closed"):
            agent.call(_sleep, 0)
    assert _children() == before


def test_agent_reraises_child_exceptions() -> None:
    with temporary_netns() as name, NetnsAgent(name) as agent:
        with pytest.raises(KeyError):
            agent.call(sockops.mptcp_info, "no-such-socket")
        assert agent.call(_sleep, 0) == name  # still usable
