"""MPTCP path-manager events: the `mptcp_pm_events` multicast group.

The kernel sends one generic-netlink message per event; the genl `cmd` is the
event type (enum mptcp_event_type) and the attributes are enum
mptcp_event_attr, both in include/uapi/linux/mptcp_pm.h. The numbers below
were checked against what 6.18.44 sends (tests/test_live_connections.py).

The listener reads a raw NETLINK_GENERIC socket in a thread and decodes the
messages by hand, so every attribute the kernel sent is kept (also ones this
module does not name) and nothing depends on pyroute2's threading.

Joining the group has a side effect on a userspace-PM namespace: the kernel
accepts MP_JOINs there only while some socket listens to this group
(`mptcp_userspace_pm_active()` = genl_has_listeners()).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from pyroute2.netlink.generic import GenericNetlinkSocket

from pmcheck.live.genl import GENL_NAME, MptcpPmMsg
from pmcheck.scenario.ast import plain_address as plain_addr  # the live layer's name

EVENTS_GROUP = "mptcp_pm_events"

# enum mptcp_event_type
EV_CREATED = 1
EV_ESTABLISHED = 2
EV_CLOSED = 3
EV_ANNOUNCED = 6
EV_REMOVED = 7
EV_SUB_ESTABLISHED = 10
EV_SUB_CLOSED = 11
EV_SUB_PRIORITY = 13
EV_LISTENER_CREATED = 15
EV_LISTENER_CLOSED = 16

EVENT_NAMES = {
    EV_CREATED: "CREATED",
    EV_ESTABLISHED: "ESTABLISHED",
    EV_CLOSED: "CLOSED",
    EV_ANNOUNCED: "ANNOUNCED",
    EV_REMOVED: "REMOVED",
    EV_SUB_ESTABLISHED: "SUB_ESTABLISHED",
    EV_SUB_CLOSED: "SUB_CLOSED",
    EV_SUB_PRIORITY: "SUB_PRIORITY",
    EV_LISTENER_CREATED: "LISTENER_CREATED",
    EV_LISTENER_CLOSED: "LISTENER_CLOSED",
}

# enum mptcp_event_attr: number -> (field name, decoder kind)
ATTRS: dict[int, tuple[str, str]] = {
    1: ("token", "u32"),
    2: ("family", "u16"),
    3: ("loc_id", "u8"),
    4: ("rem_id", "u8"),
    5: ("saddr", "ip"),  # SADDR4
    6: ("saddr", "ip"),  # SADDR6
    7: ("daddr", "ip"),  # DADDR4
    8: ("daddr", "ip"),  # DADDR6
    9: ("sport", "be16"),
    10: ("dport", "be16"),
    11: ("backup", "u8"),
    12: ("error", "u8"),
    13: ("flags", "u16"),
    14: ("timeout", "u32"),
    15: ("ifindex", "u32"),
    16: ("reset_reason", "u32"),
    17: ("reset_flags", "u32"),
    18: ("server_side", "u8"),
}

# MPTCP_ATTR_FLAGS bits of CREATED/ESTABLISHED (enum mptcp_event_flags, 6.17+)
EV_FLAG_DENY_JOIN_ID0 = 1
EV_FLAG_SERVER_SIDE = 2

_NLMSG = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_GENL = struct.Struct("=BBH")  # cmd, version, reserved
_NLA = struct.Struct("=HH")  # len, type
NLMSG_ERROR = 2
NETLINK_GENERIC = 16  # not exported by Python's socket module
NLA_TYPE_MASK = 0x3FFF
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1


@dataclass(frozen=True)
class PmEvent:
    """One event. `seq` orders events of one listener; `at` is time.monotonic()
    in the receiving process (the same clock as the parent's, system-wide)."""

    seq: int
    at: float
    type: int
    token: int | None = None
    family: int | None = None
    loc_id: int | None = None
    rem_id: int | None = None
    saddr: str | None = None
    daddr: str | None = None
    sport: int | None = None
    dport: int | None = None
    backup: int | None = None
    error: int | None = None
    flags: int | None = None
    timeout: int | None = None
    ifindex: int | None = None
    reset_reason: int | None = None
    reset_flags: int | None = None
    server_side: int | None = None
    # Every attribute as sent: type -> (length, raw bytes hex), to check the numbering.
    raw: tuple[tuple[int, int, str], ...] = field(default=(), compare=False)

    @property
    def name(self) -> str:
        return EVENT_NAMES.get(self.type, f"EVENT_{self.type}")

    def describe(self) -> str:
        parts = [self.name]
        for key in (
            "token",
            "loc_id",
            "rem_id",
            "saddr",
            "sport",
            "daddr",
            "dport",
            "backup",
            "error",
            "flags",
            "reset_reason",
            "server_side",
        ):
            value = getattr(self, key)
            if value is not None:
                parts.append(f"{key}={value}")
        return " ".join(parts)


# --- decoding ---------------------------------------------------------------------


def _decode(kind: str, data: bytes) -> int | str:
    if kind == "u8":
        return data[0]
    if kind == "u16":
        return struct.unpack("=H", data[:2])[0]
    if kind == "be16":
        return struct.unpack("!H", data[:2])[0]
    if kind == "u32":
        return struct.unpack("=I", data[:4])[0]
    return str(ipaddress.ip_address(data))  # 4 or 16 bytes


def iter_attrs(buf: bytes) -> Iterable[tuple[int, bytes]]:
    offset = 0
    while offset + _NLA.size <= len(buf):
        length, kind = _NLA.unpack_from(buf, offset)
        if length < _NLA.size:
            return
        yield kind & NLA_TYPE_MASK, buf[offset + _NLA.size : offset + length]
        offset += (length + 3) & ~3  # attributes are 4-byte aligned


def decode_event(seq: int, at: float, cmd: int, payload: bytes) -> PmEvent:
    values: dict[str, int | str] = {}
    raw: list[tuple[int, int, str]] = []
    for kind, data in iter_attrs(payload):
        raw.append((kind, len(data), data.hex()))
        known = ATTRS.get(kind)
        if known is not None:
            values[known[0]] = _decode(known[1], data)
    return PmEvent(seq=seq, at=at, type=cmd, raw=tuple(raw), **values)  # type: ignore[arg-type]


def split_messages(buf: bytes) -> Iterable[tuple[int, int, bytes]]:
    """(nlmsg type, genl cmd, attribute bytes) for each message in a datagram."""
    offset = 0
    while offset + _NLMSG.size <= len(buf):
        length, msg_type, _flags, _seq, _pid = _NLMSG.unpack_from(buf, offset)
        if length < _NLMSG.size:
            return
        body = buf[offset + _NLMSG.size : offset + length]
        if msg_type != NLMSG_ERROR and len(body) >= _GENL.size:
            cmd = _GENL.unpack_from(body)[0]
            yield msg_type, cmd, body[_GENL.size :]
        offset += (length + 3) & ~3


# --- the listener -------------------------------------------------------------------


def events_group_id() -> tuple[int, int]:
    """(family id, multicast group id) of mptcp_pm / mptcp_pm_events."""
    sock = GenericNetlinkSocket()
    try:
        sock.bind(GENL_NAME, MptcpPmMsg)
        return sock.prid, sock.mcast_groups[EVENTS_GROUP]
    finally:
        sock.close()


class EventListener:
    """Collects every PM event of the current namespace (genl multicast is per
    netns) from its creation until stop().

    Thread-safe; `wait_for()` blocks on a condition variable, never polls."""

    def __init__(self) -> None:
        self.family_id, group = events_group_id()
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        # A big buffer: a burst of events must not overflow (ENOBUFS loses events).
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self._sock.bind((0, 0))
        self._sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)
        self._sock.settimeout(0.05)  # how fast stop() is noticed
        self._events: list[PmEvent] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self.overruns = 0
        self._thread = threading.Thread(target=self._run, name="pm-events", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                buf = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                self.overruns += 1  # ENOBUFS: events were lost; callers can check
                continue
            self._add(buf, time.monotonic())

    def _add(self, buf: bytes, at: float) -> None:
        with self._cond:
            for msg_type, cmd, payload in split_messages(buf):
                if msg_type == self.family_id:
                    self._events.append(decode_event(len(self._events) + 1, at, cmd, payload))
            self._cond.notify_all()

    def stop(self) -> None:
        """Leave the group (closing the socket) and end the thread."""
        self._stop.set()
        self._thread.join()
        self._sock.close()

    @property
    def last_seq(self) -> int:
        with self._cond:
            return len(self._events)

    def since(self, seq: int) -> list[PmEvent]:
        with self._cond:
            return self._events[seq:]

    def wait_for(self, after: int, match: EventMatch, timeout: float) -> PmEvent | None:
        """The first event after seq `after` that matches, or None after `timeout` s."""
        deadline = time.monotonic() + timeout
        checked = after
        with self._cond:
            while True:
                for event in self._events[checked:]:
                    if match.matches(event):
                        return event
                checked = len(self._events)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def wait_quiet(self, after: int, quiet: float, timeout: float) -> int:
        """Block until no event arrived for `quiet` s (from now or the last
        event, whichever is later); return the last seq. Gives up at `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            seen = max(after, len(self._events))
            quiet_until = time.monotonic() + quiet
            while True:
                now = time.monotonic()
                if now >= quiet_until or now >= deadline:
                    return seen
                self._cond.wait(min(quiet_until, deadline) - now)
                if len(self._events) != seen:
                    seen = len(self._events)
                    quiet_until = self._events[-1].at + quiet


@dataclass(frozen=True)
class EventMatch:
    """A picklable predicate: event type in `types` and every given field equal."""

    types: tuple[int, ...]
    token: int | None = None
    fields: tuple[tuple[str, object], ...] = ()

    def matches(self, event: PmEvent) -> bool:
        if event.type not in self.types:
            return False
        if self.token is not None and event.token != self.token:
            return False
        return all(_same(getattr(event, key), value) for key, value in self.fields)


def _same(have: object, want: object) -> bool:
    # Addresses compare as plain v4 when v4-mapped (dual-stack sockets report those).
    if isinstance(have, str) and isinstance(want, str):
        return plain_addr(have) == plain_addr(want)
    return have == want


# --- the subflow table --------------------------------------------------------------

SubflowRow = tuple[str, int, str, int, bool]  # local addr, local id, remote addr, remote id, backup
_FourTuple = tuple[str, int, str, int]


@dataclass
class LiveSubflow:
    saddr: str
    sport: int
    daddr: str
    dport: int
    loc_id: int
    rem_id: int
    backup: bool

    def row(self) -> SubflowRow:
        return (
            plain_addr(self.saddr),
            self.loc_id,
            plain_addr(self.daddr),
            self.rem_id,
            self.backup,
        )


def _key(event: PmEvent) -> _FourTuple | None:
    if event.saddr is None or event.daddr is None:
        return None
    return (plain_addr(event.saddr), event.sport or 0, plain_addr(event.daddr), event.dport or 0)


def live_subflows(events: Iterable[PmEvent], token: int) -> dict[_FourTuple, LiveSubflow]:
    """Replay a connection's events: the subflows established and not closed.

    ESTABLISHED brings the initial subflow (ids 0), SUB_ESTABLISHED adds a
    join, SUB_CLOSED removes one (a SUB_CLOSED for a join that never
    established, e.g. a refused one, removes nothing), SUB_PRIORITY updates
    the backup bit, CLOSED empties the table."""
    table: dict[_FourTuple, LiveSubflow] = {}
    for event in events:
        if event.token != token:
            continue
        key = _key(event)
        if event.type == EV_CLOSED:
            table.clear()
        elif key is None:
            continue
        elif event.type in (EV_ESTABLISHED, EV_SUB_ESTABLISHED):
            table[key] = LiveSubflow(*key, event.loc_id or 0, event.rem_id or 0, bool(event.backup))
        elif event.type == EV_SUB_CLOSED:
            table.pop(key, None)
        elif event.type == EV_SUB_PRIORITY and key in table:
            table[key].backup = bool(event.backup)
    return table


def subflow_table(events: Iterable[PmEvent], token: int) -> tuple[SubflowRow, ...]:
    return tuple(sorted(sf.row() for sf in live_subflows(events, token).values()))
