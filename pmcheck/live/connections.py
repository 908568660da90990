"""Live MPTCP connections: a host under test (in-kernel PM) and a peer
(userspace PM) in two throw-away namespaces, driven step by step.

    with LiveTestbed(links=4) as tb:
        tb.set_limits(add_addr_accepted=2, subflows=2)
        tb.add_endpoint("10.0.2.2", flags=FLAG_LAMINAR)  # pmcheck.scenario.ast
        conn = tb.connect("10.0.1.2", "10.0.1.1")
        tb.peer_announce(conn, "10.0.2.1", 1)
        snap = tb.snapshot(conn)

Every operation returns once the kernel has reacted: it first waits for the
host PM event the operation causes (or, where the kernel emits none, polls
the counter that moves, with a bounded timeout), then `settle()`s, the one
place where a quiet period, not a kernel signal, ends the wait.

Topology: see wiring.py. Processes: one NetnsAgent per namespace (agent.py)
owns that side's sockets, netlink clients and event listener.

A kernel fact that shapes this module: the userspace-PM peer accepts MP_JOINs
only while some socket listens to `mptcp_pm_events`, and the kernel checks
that GLOBALLY (netlink_has_listeners() is per protocol, not per namespace).
The host's own event listener therefore makes the peer accept joins, and
`set_peer_accept_joins(False)` has to stop BOTH listeners; until they are
restarted, waits poll counters and the subflow table comes from sock_diag
only. Any other process on the machine listening to that group (another
testbed running in parallel, mptcpd) makes the peer accept joins too.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from pmcheck.live import sockops, wiring
from pmcheck.live.agent import NetnsAgent
from pmcheck.live.diag import TCP_ESTABLISHED, DiagSubflow
from pmcheck.live.events import (
    EV_ANNOUNCED,
    EV_ESTABLISHED,
    EV_REMOVED,
    EV_SUB_CLOSED,
    EV_SUB_ESTABLISHED,
    EventMatch,
    PmEvent,
    plain_addr,
)
from pmcheck.live.genl import AddrSpec, Reply
from pmcheck.live.mptcp_info import MptcpInfo
from pmcheck.live.netns import temporary_netns
from pmcheck.live.results import ConnId, ConnSnapshot, LiveTimeout, OpResult, build_snapshot
from pmcheck.live.sockops import FourTuple, HostWait, SettleResult
from pmcheck.live.wiring import HOST, PEER, SideInfo

__all__ = ["ConnId", "ConnSnapshot", "LiveTestbed", "LiveTimeout", "OpResult", "SettleResult"]

DEFAULT_PORT = 10000
DEFAULT_QUIET_MS = 100
DEFAULT_TIMEOUT = 5.0
DEFAULT_HANDSHAKE_WAIT = 1.5  # > the 1 s initial SYN retransmission timeout
_PING = b"ping"
_PONG = b"pong"
# Host counters that end a wait when the awaited event cannot come (refusals).
JOIN_REFUSAL_MIB = (
    "MPJoinRejected",
    "MPJoinNoTokenFound",
    "MismatchPortSynRx",
    "MPJoinAckHMacFailure",
)


def wildcard(addr: str) -> str:
    return "::" if ":" in addr else "0.0.0.0"


def v4_mapped(addr: str) -> str:
    return f"::ffff:{addr}"


class LiveTestbed:
    """Two namespaces (`host`: in-kernel PM, `peer`: userspace PM) joined by
    `links` veth pairs; see the module docstring. A context manager: the
    agents and namespaces are always removed on exit."""

    def __init__(
        self,
        links: int = 4,
        *,
        extra_host_addrs: Sequence[str] = (),
        extra_peer_addrs: Sequence[str] = (),
        peer_deny_join_id0: bool = False,
        accept_joins: bool = True,
        peer_kernel_pm: bool = False,
        unreachable: Sequence[tuple[str, str]] = (),
        host_sysctls: Mapping[str, int | str] | None = None,
        peer_sysctls: Mapping[str, int | str] | None = None,
        quiet_ms: int = DEFAULT_QUIET_MS,
        handshake_wait: float = DEFAULT_HANDSHAKE_WAIT,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not 1 <= links <= 8:
            raise ValueError("links must be 1..8")
        self.links = links
        self.extra_host_addrs = tuple(extra_host_addrs)
        self.extra_peer_addrs = tuple(extra_peer_addrs)
        self.peer_deny_join_id0 = peer_deny_join_id0
        self.peer_kernel_pm = peer_kernel_pm
        self.unreachable = tuple(unreachable)  # (host address, peer address)
        self._accept_joins_at_start = accept_joins
        self.host_sysctls = dict(host_sysctls or {})
        self.peer_sysctls = dict(peer_sysctls or {})
        self.quiet_ms = quiet_ms
        self.handshake_wait = handshake_wait
        self.timeout = timeout
        self._stack = contextlib.ExitStack()
        self._conns: dict[str, ConnId] = {}
        self._keys = itertools.count(1)
        self._epoch = -1
        self._events_on = False
        self._host_listeners: set[tuple[str, int]] = set()
        self.host_netns = self.peer_netns = ""
        self.host_side = self.peer_side = SideInfo({}, ())

    # --- lifecycle ----------------------------------------------------------------

    def __enter__(self) -> LiveTestbed:
        try:
            self._setup()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the agents (closing every socket), then remove the namespaces."""
        self._stack.close()

    def _setup(self) -> None:
        # Entered in this order, unwound in reverse: agents die before their netns goes.
        self.host_netns = self._stack.enter_context(temporary_netns())
        self.peer_netns = self._stack.enter_context(temporary_netns())
        self.host = self._stack.enter_context(NetnsAgent(self.host_netns, self.timeout + 5))
        self.peer = self._stack.enter_context(NetnsAgent(self.peer_netns, self.timeout + 5))
        # pm_type before any socket exists: a connection keeps the PM it was created with.
        allow_id0 = 0 if self.peer_deny_join_id0 else 1
        self.peer.call(
            wiring.apply_sysctls,
            {
                **wiring.base_sysctls(pm_type=0 if self.peer_kernel_pm else 1),
                "net.mptcp.allow_join_initial_addr_port": allow_id0,
                **self.peer_sysctls,
            },
        )
        self.host.call(
            wiring.apply_sysctls, {**wiring.base_sysctls(pm_type=0), **self.host_sysctls}
        )
        self.host.call(wiring.create_veths, self.links, self.peer_netns)
        self.peer_side = self.peer.call(
            wiring.configure_side, PEER, self.links, self.extra_peer_addrs
        )
        self.host_side = self.host.call(
            wiring.configure_side, HOST, self.links, self.extra_host_addrs
        )
        if self.unreachable:
            self.host.call(wiring.add_unreachable, self.unreachable)
            self.peer.call(wiring.add_unreachable, [(p, h) for h, p in self.unreachable])
        if self._accept_joins_at_start:
            self._start_events()

    # --- events -------------------------------------------------------------------

    def _start_events(self) -> None:
        self.host.call(sockops.start_events)
        self.peer.call(sockops.start_events)
        self._epoch += 1
        self._events_on = True

    def _stop_events(self) -> None:
        self.host.call(sockops.stop_events)
        self.peer.call(sockops.stop_events)
        self._events_on = False

    def set_peer_accept_joins(self, accept: bool) -> None:
        """Make the peer accept (True) or refuse (False) every MP_JOIN.

        Refusing means: no `mptcp_pm_events` listener anywhere, so the host's
        listener stops too (see module docstring); events from that period
        are lost, and a later restart begins a new event epoch (connections
        created before it get `subflows_from_events = None`)."""
        if accept and not self._events_on:
            self._start_events()
        elif not accept and self._events_on:
            self._stop_events()

    def host_events(self, conn: ConnId | None = None) -> tuple[PmEvent, ...]:
        """Host events of the current epoch (of `conn` only, if given)."""
        return self._events(self.host, conn.host_token if conn else None)

    def peer_events(self, conn: ConnId | None = None) -> tuple[PmEvent, ...]:
        return self._events(self.peer, conn.peer_token if conn else None)

    def _events(self, agent: NetnsAgent, token: int | None) -> tuple[PmEvent, ...]:
        if not self._events_on:
            return ()
        events = agent.call(sockops.events_since, 0)
        return tuple(e for e in events if token is None or e.token == token)

    def _mark(self, agent: NetnsAgent) -> int | None:
        return agent.call(sockops.event_mark) if self._events_on else None

    def _host_events_since(self, mark: int | None) -> tuple[PmEvent, ...]:
        if mark is None or not self._events_on:
            return ()
        return tuple(self.host.call(sockops.events_since, mark))

    def wait_peer_event(
        self, match: EventMatch, after: int = 0, timeout: float | None = None
    ) -> PmEvent | None:
        """The first peer event after seq `after` matching `match` (None on timeout)."""
        if not self._events_on:
            raise RuntimeError("no event listeners while joins are refused")
        limit = self.timeout if timeout is None else timeout
        return self.peer.call(sockops.wait_event, after, match, limit, timeout=limit + 5)

    # --- settle ---------------------------------------------------------------------

    def settle(self, conn: ConnId | None = None, quiet_ms: int | None = None) -> SettleResult:
        """Wait until the host PM is idle (sockops.settle). The PM state is
        per namespace, so every open connection is watched; `conn` is only
        accepted for readability."""
        quiet = (self.quiet_ms if quiet_ms is None else quiet_ms) / 1000
        keys = list(self._conns)
        result = self.host.call(
            sockops.settle, keys, quiet, self.timeout, self.handshake_wait, timeout=self.timeout + 5
        )
        if not result.settled:
            raise LiveTimeout(f"host PM still busy after {result.waited:.2f}s")
        return result

    # --- host PM (endpoints, limits) --------------------------------------------------------

    def host_pm(self, method: str, *args: Any, settle: bool = True, **kwargs: Any) -> Any:
        """Call a genl.PmClient method on the host (add_addr, del_addr, flush,
        set_flags, set_limits, get_addr, dump_addrs, get_limits) and settle:
        an endpoint change acts on existing connections at once."""
        reply = self.host.call(sockops.pm_call, method, *args, **kwargs)
        if settle and isinstance(reply, Reply) and reply.errno == 0 and self._conns:
            self.settle()
        return reply

    def add_endpoint(
        self,
        addr: str,
        flags: int = 0,
        *,
        id: int | None = None,
        port: int | None = None,
        dev: str | None = None,
    ) -> Reply:
        spec = AddrSpec(
            family=10 if ":" in addr else 2,
            addr=addr,
            id=id,
            port=port,
            flags=flags,
            ifindex=self.host_side.ifindex[dev] if dev else None,
        )
        return self.host_pm("add_addr", spec)

    def set_limits(
        self, add_addr_accepted: int | None = None, subflows: int | None = None
    ) -> Reply:
        return self.host_pm("set_limits", add_addr_accepted, subflows)

    def set_sysctls(self, side: str, values: Mapping[str, int | str]) -> None:
        """Write sysctls of `side` ("host" or "peer") now; net.mptcp.* apply to
        connections created later (allow_join_initial_addr_port: to later SYNs)."""
        agent = self.host if side == HOST else self.peer
        agent.call(wiring.apply_sysctls, dict(values))

    def peer_pm(self, method: str, *args: Any, settle: bool = True, **kwargs: Any) -> Any:
        """`host_pm` on the in-kernel peer."""
        reply = self.peer.call(sockops.pm_call, method, *args, **kwargs)
        if settle and isinstance(reply, Reply) and reply.errno == 0 and self._conns:
            self.settle()
        return reply

    # --- connections ------------------------------------------------------------------------

    def connect(
        self, local: str, remote: str, port: int = DEFAULT_PORT, listen_addr: str | None = None
    ) -> ConnId:
        """Host (client, bound to `local`) -> peer (server, listening on
        `listen_addr`, default the wildcard of `remote`'s family) at `port`."""
        return self._open(self.host, local, self.peer, remote, port, listen_addr)

    def peer_connect(
        self,
        peer_local: str,
        host_addr: str,
        port: int = DEFAULT_PORT,
        listen_addr: str | None = None,
    ) -> ConnId:
        """Peer (client) -> host (server): the in-kernel PM runs server side."""
        return self._open(self.peer, peer_local, self.host, host_addr, port, listen_addr)

    def _open(
        self,
        client: NetnsAgent,
        local: str,
        server: NetnsAgent,
        remote: str,
        port: int,
        listen_addr: str | None,
    ) -> ConnId:
        key = f"c{next(self._keys)}"
        listen_key = server.call(sockops.listen, listen_addr or wildcard(remote), port)
        host_mark, peer_mark = self._mark(self.host), self._mark(self.peer)
        client_addr = client.call(sockops.connect, key, local, remote, port, self.timeout)
        server.call(sockops.accept, listen_key, key, self.timeout)
        self._exchange(client, server, key)
        host_is_client = client is self.host
        host_token = self.host.call(sockops.mptcp_info, key).token
        peer_token = self.peer.call(sockops.mptcp_info, key).token
        if host_mark is not None:
            # ESTABLISHED = fully established, when the PM starts working. Without
            # listeners the data exchange above is what guarantees it.
            self._wait_host(
                host_mark, EventMatch((EV_ESTABLISHED,), host_token), "host ESTABLISHED"
            )
        if (
            peer_mark is not None
            and self.peer.call(
                sockops.wait_event,
                peer_mark,
                EventMatch((EV_ESTABLISHED,), peer_token),
                self.timeout,
                timeout=self.timeout + 5,
            )
            is None
        ):
            raise LiveTimeout(f"no peer ESTABLISHED within {self.timeout}s")
        host_end = (
            (plain_addr(client_addr[0]), client_addr[1])
            if host_is_client
            else (plain_addr(remote), port)
        )
        peer_end = (
            (plain_addr(remote), port)
            if host_is_client
            else (plain_addr(client_addr[0]), client_addr[1])
        )
        conn = ConnId(
            key,
            host_token,
            peer_token,
            *host_end,
            *peer_end,
            host_is_client,
            self._epoch if self._events_on else -1,
        )
        self._conns[key] = conn
        self.settle()
        return conn

    def _exchange(self, client: NetnsAgent, server: NetnsAgent, key: str) -> None:
        """A few bytes each way: both ends become fully established (MP_CAPABLE
        done, DSS acked), so the PM has run its ESTABLISHED work."""
        client.call(sockops.send, key, _PING)
        server.call(sockops.recv_exact, key, len(_PING))
        server.call(sockops.send, key, _PONG)
        client.call(sockops.recv_exact, key, len(_PONG))

    def _wait_host(self, mark: int | None, match: EventMatch, what: str) -> HostWait:
        return self._wait_host_from(mark, match, None, None, what)

    def _wait_host_from(
        self,
        mark: int | None,
        match: EventMatch | None,
        base: dict[str, int] | None,
        gone: FourTuple | None,
        what: str,
    ) -> HostWait:
        wait = self.host.call(
            sockops.wait_host, mark, match, self.timeout, base, gone, timeout=self.timeout + 5
        )
        if wait.timed_out:
            raise LiveTimeout(
                f"no {what} within {self.timeout}s; host events: "
                f"{[e.describe() for e in self._host_events_since(mark)]}"
            )
        return wait

    # --- peer (userspace PM) operations ----------------------------------------------------

    def _peer_op(
        self,
        method: str,
        args: tuple[Any, ...],
        match: EventMatch | None,
        mib_keys: Sequence[str],
        what: str,
        gone: FourTuple | None = None,
        retry_args: tuple[Any, ...] | None = None,
        peer_match: EventMatch | None = None,
    ) -> OpResult:
        """Send one userspace-PM command on the peer, wait for the host's
        reaction, settle. `retry_args`: sent instead if the first answer is
        ESRCH (a v4 subflow of a dual-stack peer socket is known by its
        v4-mapped addresses). `peer_match`: a peer event that also ends the
        wait (the peer's SUB_CLOSED for a join the host answered with a RST
        and no counter of its own moved)."""
        start = time.monotonic()
        mark = self._mark(self.host)
        peer_mark = self._mark(self.peer) if peer_match is not None else None
        base = None
        if mib_keys:
            mib = self.host.call(sockops.mib)
            base = {k: mib.get(k, 0) for k in mib_keys}
        reply: Reply = self.peer.call(sockops.upm_call, method, *args)
        if reply.errno == errno.ESRCH and retry_args is not None:
            reply = self.peer.call(sockops.upm_call, method, *retry_args)
        if reply.errno:
            return OpResult(reply, None, (), None, time.monotonic() - start)
        if peer_mark is not None and peer_match is not None:
            wait = self._wait_host_or_peer(mark, match, base, peer_mark, peer_match, what)
        else:
            wait = self._wait_host_from(mark, match if self._events_on else None, base, gone, what)
        settled = self.settle()
        return OpResult(
            reply, wait, self._host_events_since(mark), settled, time.monotonic() - start
        )

    def _wait_host_or_peer(
        self,
        mark: int | None,
        match: EventMatch | None,
        base: dict[str, int] | None,
        peer_mark: int,
        peer_match: EventMatch,
        what: str,
    ) -> HostWait:
        """The host's reaction, or the peer's event, whichever comes first
        (the two agents are polled in turn, 50 ms each)."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            wait = self.host.call(sockops.wait_host, mark, match, 0.05, base, None)
            if not wait.timed_out:
                return wait
            event = self.peer.call(sockops.wait_event, peer_mark, peer_match, 0.05)
            if event is not None:
                return HostWait(event, (), False, wait.waited)
        raise LiveTimeout(f"no {what} within {self.timeout}s (host or peer)")

    def peer_announce(self, conn: ConnId, addr: str, id: int, port: int = 0) -> OpResult:
        """ADD_ADDR from the peer; waits for the host's ANNOUNCED (or, without
        listeners, its AddAddr counter)."""
        match = EventMatch((EV_ANNOUNCED,), conn.host_token, (("rem_id", id),))
        return self._peer_op(
            "announce",
            (conn.peer_token, addr, id, port),
            match,
            ("AddAddr",),
            f"host ANNOUNCED id {id}",
        )

    def peer_remove(self, conn: ConnId, id: int) -> OpResult:
        """RM_ADDR from the peer; waits for the host's REMOVED (or RmAddr)."""
        match = EventMatch((EV_REMOVED,), conn.host_token, (("rem_id", id),))
        return self._peer_op(
            "remove", (conn.peer_token, id), match, ("RmAddr",), f"host REMOVED id {id}"
        )

    def peer_join(
        self, conn: ConnId, peer_addr: str, host_addr: str, peer_id: int, backup: bool = False
    ) -> OpResult:
        """MP_JOIN from peer_addr (local id `peer_id`) to host_addr at the host's
        port of the connection. Waits for the host's SUB_ESTABLISHED or
        SUB_CLOSED for that address pair, or a host join-refusal counter."""
        if conn.host_is_client:
            self._ensure_host_listener(host_addr, conn.host_port)
        match = EventMatch(
            (EV_SUB_ESTABLISHED, EV_SUB_CLOSED),
            conn.host_token,
            (("saddr", host_addr), ("daddr", peer_addr)),
        )
        args = (conn.peer_token, peer_addr, peer_id, host_addr, conn.host_port, backup)
        # A join the host refuses before any counter of its own moves (e.g.
        # -ERANGE from mptcp_pm_get_local_id on a full table: only
        # MPJoinSynRx, then a RST) shows as the peer's SUB_CLOSED.
        refused = EventMatch(
            (EV_SUB_CLOSED,), conn.peer_token, (("saddr", peer_addr), ("daddr", host_addr))
        )
        return self._peer_op(
            "subflow_create",
            args,
            match,
            ("MPJoinAckRx", *JOIN_REFUSAL_MIB),
            f"host join {peer_addr} -> {host_addr}",
            peer_match=refused if self._events_on else None,
        )

    def _ensure_host_listener(self, addr: str, port: int) -> None:
        """A join must reach an MPTCP listener on the msk's own port (another
        port counts as a port-based join and needs an ADD_ADDR with it). A
        client has none, so add one on addr:port (SO_REUSEADDR lets it share
        the client socket's port)."""
        if (addr, port) not in self._host_listeners:
            self.host.call(sockops.listen, addr, port)
            self._host_listeners.add((addr, port))

    def peer_close_subflow(
        self, conn: ConnId, peer_addr: str, host_addr: str, host_port: int | None = None
    ) -> OpResult:
        """SUBFLOW_DESTROY on the peer for the established subflow between the two
        addresses (ports from the host's sock_diag; `host_port` picks one if
        several). Waits for the host's SUB_CLOSED (or the subflow to leave
        ESTABLISHED)."""
        row = self._find_subflow(conn, host_addr, peer_addr, host_port)
        four = (row.saddr, row.sport, row.daddr, row.dport)
        match = EventMatch(
            (EV_SUB_CLOSED,),
            conn.host_token,
            (
                ("saddr", host_addr),
                ("sport", row.sport),
                ("daddr", peer_addr),
                ("dport", row.dport),
            ),
        )
        args = (conn.peer_token, peer_addr, row.dport, host_addr, row.sport)
        mapped = (conn.peer_token, v4_mapped(peer_addr), row.dport, v4_mapped(host_addr), row.sport)
        return self._peer_op(
            "subflow_destroy",
            args,
            match,
            (),
            f"host SUB_CLOSED {four}",
            gone=four,
            retry_args=mapped if ":" not in peer_addr else None,
        )

    def _find_subflow(
        self, conn: ConnId, host_addr: str, peer_addr: str, host_port: int | None
    ) -> DiagSubflow:
        rows = [
            r
            for r in self.host.call(sockops.diag_subflows, conn.host_token)
            if r.state == TCP_ESTABLISHED
            and r.saddr == plain_addr(host_addr)
            and r.daddr == plain_addr(peer_addr)
            and (host_port is None or r.sport == host_port)
        ]
        if len(rows) != 1:
            raise ValueError(f"{len(rows)} established subflows {host_addr} -> {peer_addr}: {rows}")
        return rows[0]

    # --- reading state -------------------------------------------------------------------

    def info(self, conn: ConnId) -> MptcpInfo:
        return self.host.call(sockops.mptcp_info, conn.key)

    def peer_mib(self) -> dict[str, int]:
        return self.peer.call(sockops.mib)

    def snapshot(self, conn: ConnId) -> ConnSnapshot:
        """The host's view of `conn` (call after an operation: they all settle)."""
        raw = self.host.call(sockops.snapshot, conn.key, conn.host_token)
        return build_snapshot(conn, raw, events_valid=conn.epoch == self._epoch)

    def peer_snapshot(self, conn: ConnId) -> ConnSnapshot:
        """The peer's view of `conn` (its subflow table from sock_diag)."""
        raw = self.peer.call(sockops.snapshot, conn.key, conn.peer_token)
        return build_snapshot(conn, raw, events_valid=False)

    def destroy_subflow(self, conn: ConnId, side: str, local: str, remote: str) -> bool:
        """Abort `side`'s established subflow local -> remote of `conn` with
        SOCK_DESTROY (what `ss -K` does): that side resets it and closes it,
        the other side gets the RST. False if there is no such subflow."""
        agent, token = (
            (self.host, conn.host_token) if side == HOST else (self.peer, conn.peer_token)
        )
        rows = [
            r
            for r in agent.call(sockops.diag_subflows, token)
            if r.state == TCP_ESTABLISHED and r.saddr == plain_addr(local)
            and r.daddr == plain_addr(remote)
        ]  # fmt: skip
        if not rows:
            return False
        agent.call(sockops.destroy_subflow, rows[0])
        self.settle()
        return True
