"""What LiveTestbed operations return: connection ids, operation results and
snapshots of the host side of a connection (plain frozen data)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from pmcheck.live.diag import TCP_ESTABLISHED, DiagSubflow
from pmcheck.live.events import PmEvent, SubflowRow, plain_addr, subflow_table
from pmcheck.live.genl import RawEndpoint, Reply
from pmcheck.live.mptcp_info import MptcpInfo
from pmcheck.live.sockops import FourTuple, HostWait, RawSnapshot, SettleResult


class LiveTimeout(RuntimeError):
    """The kernel did not react as awaited within the timeout."""


@dataclass(frozen=True)
class ConnId:
    """One MPTCP connection of the testbed (its initial subflow's 4-tuple)."""

    key: str  # the sockets' name in both agents
    host_token: int
    peer_token: int
    host_addr: str
    host_port: int  # the msk's own port on the host: where the peer's joins go
    peer_addr: str
    peer_port: int
    host_is_client: bool
    epoch: int  # event-listener epoch at creation; -1: created without listeners


@dataclass(frozen=True)
class OpResult:
    """What one peer operation did. `reply` is the peer's netlink answer;
    on an error nothing is awaited (`wait`/`settle` None)."""

    reply: Reply
    wait: HostWait | None
    events: tuple[PmEvent, ...]  # host events from the command to the end of settle
    settle: SettleResult | None
    elapsed: float  # seconds, command to end of settle

    @property
    def event(self) -> PmEvent | None:
        return self.wait.event if self.wait else None


@dataclass(frozen=True)
class ConnSnapshot:
    """The host side of one connection after settling.

    `subflows`: (local addr, local id, remote addr, remote id, backup) of each
    subflow in TCP ESTABLISHED, sorted, from sock_diag (the kernel's current
    state; backup = our B bit or the peer's, i.e. what the scheduler uses).
    The event replay (`subflows_from_events`, None when the event stream was
    not continuous since the connection began) and MPTCP_SUBFLOW_ADDRS
    cross-check it; every disagreement is listed in `mismatches`."""

    conn: ConnId
    info: MptcpInfo
    subflows: tuple[SubflowRow, ...]
    subflows_from_events: tuple[SubflowRow, ...] | None
    subflow_addrs: tuple[FourTuple, ...]
    diag: tuple[DiagSubflow, ...]
    endpoints: tuple[RawEndpoint, ...]
    limits: tuple[int, int]  # (add_addr_accepted, subflows)
    mib: Mapping[str, int] = field(repr=False)
    mismatches: tuple[str, ...] = ()


def build_snapshot(conn: ConnId, raw: RawSnapshot, events_valid: bool) -> ConnSnapshot:
    table = tuple(sorted(_row(r) for r in raw.diag if r.state == TCP_ESTABLISHED))
    replay = None
    if raw.events is not None and events_valid:
        replay = subflow_table(raw.events, conn.host_token)
    snap = ConnSnapshot(
        conn,
        raw.info,
        table,
        replay,
        raw.subflow_addrs,
        raw.diag,
        raw.endpoints.endpoints,
        raw.limits.limits or (0, 0),
        raw.mib,
    )
    return dataclasses.replace(snap, mismatches=mismatches(snap))


def _row(r: DiagSubflow) -> SubflowRow:
    return (r.saddr, r.loc_id, r.daddr, r.rem_id, r.backup)


def mismatches(snap: ConnSnapshot) -> tuple[str, ...]:
    """Where the sources disagree. A subflow still in SYN_SENT shows up as
    "in MPTCP_SUBFLOW_ADDRS but not established"; a PM counter that drifted
    from the live subflows (kernel-semantics M3/M4) as the last note."""
    notes: list[str] = []
    established = {
        (r.saddr, r.sport, r.daddr, r.dport) for r in snap.diag if r.state == TCP_ESTABLISHED
    }
    listed = {(plain_addr(a), p, plain_addr(b), q) for a, p, b, q in snap.subflow_addrs}
    if established - listed:
        notes.append(f"established but not in MPTCP_SUBFLOW_ADDRS: {sorted(established - listed)}")
    if listed - established:
        notes.append(f"in MPTCP_SUBFLOW_ADDRS but not established: {sorted(listed - established)}")
    if snap.subflows_from_events is not None:
        by_ids = sorted(row[:4] for row in snap.subflows)
        replayed = sorted(row[:4] for row in snap.subflows_from_events)
        if by_ids != replayed:
            notes.append(f"event replay {replayed} != sock_diag {by_ids}")
    if len(snap.subflows) != snap.info.subflows + 1:
        notes.append(
            f"{len(snap.subflows)} established subflows but MPTCP_INFO.subflows "
            f"(extra_subflows) = {snap.info.subflows}"
        )
    return tuple(notes)
