"""Run a scenario with connections on the live kernel, through LiveTestbed.

The host namespace runs the in-kernel PM. The peer runs the userspace PM
driven by the scenario's peer verbs, or, with `peer pm kernel`, the
in-kernel PM configured by its `peer ip mptcp ...` lines. Every step is
followed by the testbed's settle (both PMs' work done, join outcomes in),
then the same observations as the model makes: endpoint dump, limits, and
per connection the MPTCP_INFO counters and the established subflow table
(from sock_diag); with an in-kernel peer, the same of the peer.
"""

from __future__ import annotations

from collections.abc import Callable
from errno import ETIMEDOUT

from pmcheck.live.agent import AgentState
from pmcheck.live.connections import LiveTestbed
from pmcheck.live.diag import SF_FLAG_BKUP_LOC, SF_FLAG_BKUP_REM, TCP_ESTABLISHED
from pmcheck.live.genl import PmClient
from pmcheck.live.interpreter import (
    IfNames,
    _find_id,
    _send,
    dump_rows,
    read_limits,
)
from pmcheck.live.links import add_dummy, ifindex
from pmcheck.live.results import ConnId, LiveTimeout, OpResult
from pmcheck.live.wiring import HOST, PEER
from pmcheck.results import (
    ConnView,
    EndpointRow,
    Limits,
    PeerView,
    StepOutcome,
    SubflowRow,
    errno_text,
)
from pmcheck.scenario.ast import (
    EVENT_COMMANDS,
    Command,
    Connect,
    EndpointAdd,
    OnPeer,
    PeerAnnounce,
    PeerJoin,
    PeerRemove,
    Scenario,
    SubflowClose,
)
from pmcheck.scenario.errors import ScenarioError

C_FLAG_SYSCTL = "net.mptcp.allow_join_initial_addr_port"


def prepare_devices(state: AgentState, devs: list[str]) -> IfNames:
    """In the host agent: create the interfaces endpoints name (no addresses:
    in a connection scenario, where addresses live is the testbed's)."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        for dev in devs:
            if not ipr.link_lookup(ifname=dev):
                add_dummy(ipr, dev)
            ipr.link("set", index=ifindex(ipr, dev), state="up")
        return {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}


def send_netlink(state: AgentState, ifnames: IfNames, cmd: Command) -> tuple:
    """In the host agent: one endpoint/limits request, as the netns interpreter
    sends it. Returns (errno, extack, shown)."""
    with PmClient() as pm:
        reply, shown = _send(pm, ifnames, cmd)
    return reply.errno, reply.extack, shown


def read_table(state: AgentState, ifnames: IfNames) -> tuple[tuple[EndpointRow, ...], Limits]:
    with PmClient() as pm:
        return dump_rows(pm, ifnames), read_limits(pm)


class PeerRefused(Exception):
    """The testbed's userspace-PM peer cannot send what a step asks for
    (e.g. RM_ADDR for an id it never announced, ADD_ADDR with id 0): the
    scenario is not realizable on the live kernel."""


def run_event(tb: LiveTestbed, conns: list[ConnId], cmd: Command) -> int:
    """Drive one connection or peer verb; returns 0 or raises PeerRefused."""
    errno = _run_event(tb, conns, cmd)
    if errno:
        raise PeerRefused(f"the testbed's peer refused it ({errno_text(errno)})")
    return errno


def _run_event(tb: LiveTestbed, conns: list[ConnId], cmd: Command) -> int:
    match cmd:
        case Connect():
            tb.set_sysctls("peer", {C_FLAG_SYSCTL: 0 if cmd.deny_join_id0 else 1})
            if cmd.server:
                conns.append(tb.peer_connect(cmd.remote, cmd.local, port=cmd.port))
            else:
                conns.append(tb.connect(cmd.local, cmd.remote, port=cmd.port))
            tb.settle()
            return 0
        case PeerAnnounce():
            conn = _pick(conns, cmd.conn)
            return _signal(
                tb, conn, lambda: tb.peer_announce(conn, cmd.addr, cmd.id, port=cmd.port)
            )
        case PeerRemove():
            conn = _pick(conns, cmd.conn)
            return _signal(tb, conn, lambda: tb.peer_remove(conn, cmd.id))
        case PeerJoin():
            return tb.peer_join(_pick(conns, cmd.conn), cmd.addr, cmd.to, cmd.id).reply.errno
        case SubflowClose() if tb.peer_kernel_pm:
            # The in-kernel peer closes its end (SOCK_DESTROY: an RST).
            tb.destroy_subflow(_pick(conns, cmd.conn), PEER, cmd.remote, cmd.local)
            return 0
        case SubflowClose():
            conn = _pick(conns, cmd.conn)
            live = {(r[0], r[2]) for r in tb.snapshot(conn).subflows}
            if (cmd.local, cmd.remote) not in live:
                return 0  # no such subflow: nothing happens, as in the model
            return tb.peer_close_subflow(conn, cmd.remote, cmd.local).reply.errno
    raise TypeError(f"not an event: {cmd!r}")


def _signal(tb: LiveTestbed, conn: ConnId, send: Callable[[], OpResult]) -> int:
    """Send an ADD_ADDR / RM_ADDR from the peer. With no established subflow
    left it cannot reach the host: the wait times out and, as in the model,
    nothing happened. A timeout while subflows exist is a real non-reaction."""
    try:
        return send().reply.errno
    except LiveTimeout:
        if tb.snapshot(conn).subflows:
            raise
        tb.settle()
        return 0


def _pick(conns: list[ConnId], ref: int | None) -> ConnId:
    return conns[(ref or len(conns)) - 1]


def conn_view(tb: LiveTestbed, n: int, conn: ConnId, side: str = HOST) -> ConnView:
    snap = tb.snapshot(conn) if side == HOST else tb.peer_snapshot(conn)
    table = tuple(
        sorted(
            SubflowRow(
                d.saddr,
                d.loc_id,
                d.daddr,
                d.rem_id,
                bool(d.flags & SF_FLAG_BKUP_LOC),
                bool(d.flags & SF_FLAG_BKUP_REM),
            )
            for d in snap.diag
            if d.state == TCP_ESTABLISHED
        )
    )
    i = snap.info
    return ConnView(n, i.subflows, i.add_addr_signal, i.add_addr_accepted, i.local_addr_used, table)


def run_connections_on_kernel(scn: Scenario) -> tuple[StepOutcome, ...]:
    outcomes = []
    with LiveTestbed(
        extra_host_addrs=scn.host_addrs,
        extra_peer_addrs=scn.peer_addrs,
        peer_kernel_pm=scn.peer_kernel,
        unreachable=scn.unreachable,
    ) as tb:
        ifnames = tb.host.call(prepare_devices, scn.devices())
        peer_devs = scn.devices(peer=True)
        peer_ifnames = tb.peer.call(prepare_devices, peer_devs) if scn.peer_kernel else {}
        conns: list[ConnId] = []
        for index, step in enumerate(scn.steps):
            cmd = step.command
            extack, shown = None, None
            if isinstance(cmd, EVENT_COMMANDS):
                try:
                    errno = run_event(tb, conns, cmd)
                except PeerRefused as e:
                    raise ScenarioError(
                        step.loc, f"not realizable on the live testbed: {e}"
                    ) from None
                except LiveTimeout as e:
                    # The kernel never reacted as the verb expects (e.g. no
                    # subflow left to carry a signal): a result, not a crash.
                    errno, extack = ETIMEDOUT, str(e)
            elif isinstance(cmd, OnPeer):
                errno, extack, shown = tb.peer.call(send_netlink, peer_ifnames, cmd.command)
                if conns:
                    tb.settle()
            else:
                errno, extack, shown = tb.host.call(send_netlink, ifnames, cmd)
                if conns:
                    tb.settle()
            endpoints, limits = tb.host.call(read_table, ifnames)
            added = cmd.command if isinstance(cmd, OnPeer) else cmd
            peer = None
            if scn.peer_kernel:
                p_endpoints, p_limits = tb.peer.call(read_table, peer_ifnames)
                peer = PeerView(
                    p_endpoints,
                    p_limits,
                    tuple(conn_view(tb, n, c, PEER) for n, c in enumerate(conns, start=1)),
                )
            table = p_endpoints if isinstance(cmd, OnPeer) else endpoints
            new_id = (
                _find_id(table, added) if isinstance(added, EndpointAdd) and errno == 0 else None
            )
            outcomes.append(
                StepOutcome(
                    index=index,
                    line=step.loc.line,
                    text=step.text,
                    errno=errno,
                    extack=extack,
                    new_id=new_id,
                    reply=shown,
                    endpoints=endpoints,
                    limits=limits,
                    conns=tuple(conn_view(tb, n, c) for n, c in enumerate(conns, start=1)),
                    peer=peer,
                )
            )
    return tuple(outcomes)
