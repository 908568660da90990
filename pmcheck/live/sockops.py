"""Functions that run inside a NetnsAgent (first argument: AgentState).

They own the long-lived objects of one side of the testbed: MPTCP sockets
(listeners and connections, by name), the event listener, a PmClient (the
in-kernel PM endpoint commands) and a UpmClient (userspace-PM commands).
The parent (connections.py) calls them by reference through the agent.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pmcheck.live.agent import AgentState
from pmcheck.live.diag import (
    SF_FLAG_MAPVALID,
    TCP_ESTABLISHED,
    TCP_SYN_SENT,
    DiagSubflow,
    destroy,
    mptcp_subflows,
)
from pmcheck.live.events import EventListener, EventMatch, PmEvent
from pmcheck.live.genl import PmClient, Reply
from pmcheck.live.mptcp_info import (
    IPPROTO_MPTCP,
    MptcpInfo,
    read_mib,
    read_mptcp_info,
    read_subflow_addrs,
)
from pmcheck.live.upm import UpmClient

_EVENTS = "events"
_PM = "pm"
_UPM = "upm"


def _family(addr: str) -> int:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def _sockets(state: AgentState) -> dict[str, socket.socket]:
    socks = state.objects.setdefault("sockets", {})
    if not state.objects.get("_sockets_cleanup"):
        state.objects["_sockets_cleanup"] = True
        state.on_close(lambda: [s.close() for s in socks.values()])
    return socks


def _sock(state: AgentState, key: str) -> socket.socket:
    return _sockets(state)[key]


# --- events --------------------------------------------------------------------------


def start_events(state: AgentState) -> int:
    """Join mptcp_pm_events (idempotent); return the current last seq."""
    listener = state.objects.get(_EVENTS)
    if listener is None:
        listener = EventListener()
        state.objects[_EVENTS] = listener
        state.on_close(lambda: stop_events(state))
    return listener.last_seq


def stop_events(state: AgentState) -> list[PmEvent]:
    """Leave the group; return every event the listener collected. Once no
    socket of ANY namespace listens, userspace-PM peers refuse MP_JOINs."""
    listener: EventListener | None = state.objects.pop(_EVENTS, None)
    if listener is None:
        return []
    listener.stop()
    return listener.since(0)


def _listener(state: AgentState) -> EventListener:
    listener = state.objects.get(_EVENTS)
    if listener is None:
        raise RuntimeError(f"no event listener in {state.netns}")
    return listener


def event_mark(state: AgentState) -> int:
    return _listener(state).last_seq


def events_since(state: AgentState, after: int = 0) -> list[PmEvent]:
    return _listener(state).since(after)


def wait_event(state: AgentState, after: int, match: EventMatch, timeout: float) -> PmEvent | None:
    return _listener(state).wait_for(after, match, timeout)


# --- sockets --------------------------------------------------------------------------


def listen(state: AgentState, addr: str, port: int) -> str:
    """An MPTCP listener on addr:port (reused if it exists). '::' is dual-stack.
    SO_REUSEADDR: it may share the port of a connected client socket (which
    also sets it), so that a peer can send MP_JOINs to the client's own port."""
    key = f"listen:{addr}:{port}"
    socks = _sockets(state)
    if key not in socks:
        sock = socket.socket(_family(addr), socket.SOCK_STREAM, IPPROTO_MPTCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if addr == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((addr, port))
        sock.listen(16)
        socks[key] = sock
    return key


def connect(
    state: AgentState, key: str, local: str, remote: str, port: int, timeout: float
) -> tuple[str, int]:
    """An MPTCP socket bound to `local` connected to remote:port; returns its local addr."""
    sock = socket.socket(_family(remote), socket.SOCK_STREAM, IPPROTO_MPTCP)
    sock.settimeout(timeout)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # see listen()
    try:
        sock.bind((local, 0))
        sock.connect((remote, port))
    except BaseException:
        sock.close()
        raise
    _sockets(state)[key] = sock
    return sock.getsockname()[:2]


def accept(state: AgentState, listen_key: str, key: str, timeout: float) -> tuple[str, int]:
    """Accept one connection; returns the remote (address, port)."""
    listener = _sock(state, listen_key)
    listener.settimeout(timeout)
    sock, remote = listener.accept()
    sock.settimeout(timeout)
    _sockets(state)[key] = sock
    return remote[:2]


def send(state: AgentState, key: str, data: bytes) -> None:
    _sock(state, key).sendall(data)


def recv_exact(state: AgentState, key: str, size: int) -> bytes:
    sock = _sock(state, key)
    chunks = b""
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError(f"{key}: closed after {len(chunks)} bytes")
        chunks += chunk
    return chunks


def mptcp_info(state: AgentState, key: str) -> MptcpInfo:
    return read_mptcp_info(_sock(state, key))


def subflow_addrs(state: AgentState, key: str) -> tuple[tuple[str, int, str, int], ...]:
    return read_subflow_addrs(_sock(state, key))


def mib(state: AgentState) -> dict[str, int]:
    return read_mib()


# --- path-manager netlink -------------------------------------------------------------


def pm_call(state: AgentState, method: str, *args: Any, **kwargs: Any) -> Any:
    """A PmClient method (in-kernel PM: endpoints, limits) of this namespace."""
    client = state.objects.get(_PM)
    if client is None:
        client = state.objects[_PM] = PmClient()
        state.on_close(client.close)
    return getattr(client, method)(*args, **kwargs)


def upm_call(state: AgentState, method: str, *args: Any, **kwargs: Any) -> Reply:
    """A UpmClient method (userspace PM: announce, remove, subflow create/destroy)."""
    client = state.objects.get(_UPM)
    if client is None:
        client = state.objects[_UPM] = UpmClient()
        state.on_close(client.close)
    return getattr(client, method)(*args, **kwargs)


# --- waiting ---------------------------------------------------------------------------

FourTuple = tuple[str, int, str, int]


@dataclass(frozen=True)
class HostWait:
    """What ended a wait: the awaited event, MIB counters that went up, or a
    subflow that left the ESTABLISHED state. All empty: timed out."""

    event: PmEvent | None
    mib_increased: tuple[str, ...]
    gone: bool
    waited: float

    @property
    def timed_out(self) -> bool:
        return self.event is None and not self.mib_increased and not self.gone


def _established(token: int | None) -> set[FourTuple]:
    return {
        (r.saddr, r.sport, r.daddr, r.dport)
        for r in mptcp_subflows(token)
        if r.state == TCP_ESTABLISHED
    }


def wait_host(
    state: AgentState,
    after: int | None,
    match: EventMatch | None,
    timeout: float,
    mib_base: dict[str, int] | None = None,
    gone: FourTuple | None = None,
    poll: float = 0.01,
) -> HostWait:
    """Wait for the first of: an event matching `match` after seq `after`
    (blocking on the listener, if there is one); a counter of `mib_base`
    above its base value; subflow `gone` no longer ESTABLISHED. The last two
    have no kernel notification and are polled every `poll` s."""
    listener: EventListener | None = state.objects.get(_EVENTS)
    start = time.monotonic()
    deadline = start + timeout
    while True:
        if listener is not None and match is not None and after is not None:
            left = max(0.0, min(poll, deadline - time.monotonic()))
            event = listener.wait_for(after, match, left)
            if event is not None:
                return HostWait(event, (), False, time.monotonic() - start)
        else:
            time.sleep(max(0.0, min(poll, deadline - time.monotonic())))
        if mib_base:
            now = read_mib()
            up = tuple(k for k, v in mib_base.items() if now.get(k, 0) > v)
            if up:
                return HostWait(None, up, False, time.monotonic() - start)
        if gone is not None and gone not in _established(None):
            return HostWait(None, (), True, time.monotonic() - start)
        if time.monotonic() >= deadline:
            return HostWait(None, (), False, time.monotonic() - start)


def destroy_subflow(state: AgentState, row: DiagSubflow) -> None:
    """Abort one subflow of this namespace (sock_diag SOCK_DESTROY)."""
    destroy(row)


def diag_subflows(state: AgentState, token: int | None = None) -> tuple[DiagSubflow, ...]:
    return mptcp_subflows(token)


# --- settle -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SettleResult:
    settled: bool
    waited: float  # seconds
    rounds: int  # quiet windows needed (1 = nothing moved)
    last_seq: int
    pending: tuple[FourTuple, ...] = ()  # subflows still in SYN_SENT at the end


def _pm_state(state: AgentState, keys: Sequence[str]) -> tuple[Any, ...]:
    infos: list[tuple[int, ...] | None] = []
    for key in keys:
        try:
            infos.append(read_mptcp_info(_sock(state, key)).pm_view())
        except (OSError, KeyError):
            infos.append(None)  # a closed/reset connection: stable as None
    # MAPVALID flips with data in flight; everything else is PM/TCP state.
    subflows = tuple(
        (
            r.saddr,
            r.sport,
            r.daddr,
            r.dport,
            r.state,
            r.loc_id,
            r.rem_id,
            r.flags & ~SF_FLAG_MAPVALID,
        )
        for r in mptcp_subflows(None)
    )
    return (tuple(infos), tuple(sorted(read_mib().items())), subflows)


def _pending(pm_state: tuple[Any, ...]) -> tuple[FourTuple, ...]:
    return tuple(row[:4] for row in pm_state[2] if row[4] == TCP_SYN_SENT)


def settle(
    state: AgentState,
    keys: Sequence[str],
    quiet: float,
    timeout: float,
    handshake_wait: float = 1.5,
) -> SettleResult:
    """Wait until the PM of this namespace is idle: no PM event for `quiet` s,
    and across that window no change in the PM fields of MPTCP_INFO (each
    socket in `keys`), the MPTcpExt MIB, or the sock_diag subflow list; and
    no subflow in SYN_SENT, for at most `handshake_wait` s (a SYN that got
    no answer is retransmitted after 1 s; an unreachable address would keep
    it pending for minutes, so the end state then reports it instead).

    THE one place where elapsed time, not a kernel signal, decides that an
    operation is over: the kernel does not say "the PM has nothing more to
    do". Without an event listener the window is a plain sleep."""
    listener: EventListener | None = state.objects.get(_EVENTS)
    start = time.monotonic()
    deadline = start + timeout
    rounds = 0
    while True:
        rounds += 1
        seq = listener.last_seq if listener else 0
        before = _pm_state(state, keys)
        left = max(0.0, deadline - time.monotonic())
        if listener is not None:
            seq_after = listener.wait_quiet(seq, quiet, left)
        else:
            time.sleep(min(quiet, left))
            seq_after = seq
        after = _pm_state(state, keys)
        now = time.monotonic()
        pending = _pending(after)
        if seq_after == seq and before == after and (not pending or now - start >= handshake_wait):
            return SettleResult(True, now - start, rounds, seq, pending)
        if now >= deadline:
            return SettleResult(False, now - start, rounds, seq_after, pending)


# --- one-call snapshot ------------------------------------------------------------------


@dataclass(frozen=True)
class RawSnapshot:
    """Everything `LiveTestbed.snapshot` needs, read in one agent call."""

    info: MptcpInfo
    subflow_addrs: tuple[FourTuple, ...]
    diag: tuple[DiagSubflow, ...]
    endpoints: Reply
    limits: Reply
    mib: dict[str, int]
    events: tuple[PmEvent, ...] | None  # None: no listener now


def snapshot(state: AgentState, key: str, token: int) -> RawSnapshot:
    listener: EventListener | None = state.objects.get(_EVENTS)
    return RawSnapshot(
        info=mptcp_info(state, key),
        subflow_addrs=subflow_addrs(state, key),
        diag=mptcp_subflows(token),
        endpoints=pm_call(state, "dump_addrs"),
        limits=pm_call(state, "get_limits"),
        mib=read_mib(),
        events=tuple(listener.since(0)) if listener is not None else None,
    )
