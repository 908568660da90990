"""The scenario language's abstract syntax: what a parsed line means.

A scenario is data. Every interpreter (concrete model, Z3 model, live kernel)
consumes these objects and nothing else, so a counterexample trace and a
hand-written reproducer are the same kind of thing.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pmcheck.model.constants import (
    FLAG_BACKUP,
    FLAG_FULLMESH,
    FLAG_IMPLICIT,
    FLAG_LAMINAR,
    FLAG_SIGNAL,
    FLAG_SUBFLOW,
)

# The order in which `ip mptcp` and pm_nl_ctl print flags.
FLAG_NAMES: tuple[tuple[str, int], ...] = (
    ("signal", FLAG_SIGNAL),
    ("subflow", FLAG_SUBFLOW),
    ("laminar", FLAG_LAMINAR),
    ("backup", FLAG_BACKUP),
    ("fullmesh", FLAG_FULLMESH),
    ("implicit", FLAG_IMPLICIT),
)


def canonical_address(text: str) -> str:
    """One spelling per address: Python's, except that a v4-mapped IPv6
    address keeps its dotted tail (`::ffff:10.0.0.1`, as `ip` prints it;
    Python 3.11 would say `::ffff:a00:1`). Raises ValueError if not an IP."""
    ip = ipaddress.ip_address(text)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return f"::ffff:{ip.ipv4_mapped}"
    return str(ip)


def plain_address(addr: str) -> str:
    """The identity of an address under v4-mapped equality: a v4-mapped v6
    address (a dual-stack socket's view) as the plain v4 one."""
    ip = ipaddress.ip_address(addr)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def flag_names(flags: int) -> tuple[str, ...]:
    """Flag names in the kernel tools' print order; unknown bits as hex."""
    names = [name for name, bit in FLAG_NAMES if flags & bit]
    rest = flags & ~sum(bit for _, bit in FLAG_NAMES)
    if rest:
        names.append(hex(rest))
    return tuple(names)


@dataclass(frozen=True)
class Loc:
    """Where a step came from: file, 1-based line and column."""

    file: str
    line: int
    col: int = 1

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class EndpointAdd:
    """`ip mptcp endpoint add ADDR [port P] [dev IF] [id N] [FLAG...]`."""

    addr: str  # canonical text (ipaddress module form)
    family: int  # AF_INET or AF_INET6
    port: int = 0  # 0 = no port attribute
    dev: str | None = None
    id: int | None = None  # None = no ID attribute (kernel allocates)
    flags: int = 0


@dataclass(frozen=True)
class EndpointDelete:
    """`ip mptcp endpoint delete id N [ADDR]` (ADDR is needed for id 0)."""

    id: int
    addr: str | None = None
    family: int = 0  # 0 = no address given


@dataclass(frozen=True)
class EndpointFlush:
    """`ip mptcp endpoint flush`."""


@dataclass(frozen=True)
class EndpointChange:
    """`ip mptcp endpoint change [id N] [ADDR] [port P] [no]backup [no]fullmesh`.

    `flags` is the request's flag word exactly as sent: the kernel takes
    BACKUP and FULLMESH from it, so an option not named is sent as 0.
    """

    id: int | None = None
    addr: str | None = None
    family: int = 0  # 0 = lookup by id (AF_UNSPEC)
    port: int = 0
    flags: int = 0


@dataclass(frozen=True)
class EndpointShow:
    """`ip mptcp endpoint show [id N]`: get (with id) or dump."""

    id: int | None = None


@dataclass(frozen=True)
class LimitsSet:
    """`ip mptcp limits set [subflows N] [add_addr_accepted N]`."""

    subflows: int | None = None
    add_addr_accepted: int | None = None


@dataclass(frozen=True)
class LimitsShow:
    """`ip mptcp limits show`."""


@dataclass(frozen=True)
class Connect:
    """`connect LOCAL REMOTE [port P] [peer-deny-join-id0]`: the host opens an
    MPTCP connection; with `server`, `peer connect PEER HOST ...`: the peer
    opens it and the host accepts. Connections are numbered 1, 2, ... in the
    order they are opened."""

    local: str  # host side
    remote: str  # peer side
    port: int = 10000
    deny_join_id0: bool = False  # the peer sends the C flag
    server: bool = False


@dataclass(frozen=True)
class PeerAnnounce:
    """`peer announce ADDR id N [port P] [conn C]`: the peer sends ADD_ADDR."""

    addr: str
    id: int
    port: int = 0
    conn: int | None = None  # None: the most recent connection


@dataclass(frozen=True)
class PeerRemove:
    """`peer remove id N [conn C]`: the peer sends RM_ADDR."""

    id: int
    conn: int | None = None


@dataclass(frozen=True)
class PeerJoin:
    """`peer join PEERADDR to HOSTADDR id N [conn C]`: the peer opens an
    MP_JOIN subflow from its address (with its address id N) to the host."""

    addr: str  # peer side
    to: str  # host side
    id: int
    conn: int | None = None


@dataclass(frozen=True)
class SubflowClose:
    """`subflow close LOCAL REMOTE [conn C]`: the peer closes that subflow."""

    local: str
    remote: str
    conn: int | None = None


@dataclass(frozen=True)
class OnPeer:
    """`peer ip mptcp ...`: a netlink command on the peer's namespace (only
    with `peer pm kernel`: the in-kernel peer has endpoints and limits)."""

    command: (
        EndpointAdd
        | EndpointDelete
        | EndpointFlush
        | EndpointChange
        | EndpointShow
        | (LimitsSet | LimitsShow)
    )


Command = (
    OnPeer
    | EndpointAdd
    | EndpointDelete
    | EndpointFlush
    | EndpointChange
    | EndpointShow
    | LimitsSet
    | LimitsShow
    | Connect
    | PeerAnnounce
    | PeerRemove
    | PeerJoin
    | SubflowClose
)
EVENT_COMMANDS = (Connect, PeerAnnounce, PeerRemove, PeerJoin, SubflowClose)
NETLINK_COMMANDS = (
    EndpointAdd,
    EndpointDelete,
    EndpointFlush,
    EndpointChange,
    EndpointShow,
    LimitsSet,
    LimitsShow,
)
# The scripted peer's own verbs: an in-kernel peer decides these itself.
SCRIPTED_PEER_COMMANDS = (PeerAnnounce, PeerRemove, PeerJoin)
PEER_PMS = ("scripted", "kernel")


@dataclass(frozen=True)
class Step:
    """One scenario line: where it came from, its text, and its meaning."""

    loc: Loc
    text: str
    command: Command


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario: an optional `kernel V` line, extra addresses of the
    testbed (`host addr X`, `peer addr X`), which PM the peer runs (`peer pm
    kernel`; the scripted peer by default), the (host, peer) address pairings
    with no route between them (`unreachable H P`), and the steps in order."""

    source: str
    kernel: str | None
    steps: tuple[Step, ...]
    host_addrs: tuple[str, ...] = ()
    peer_addrs: tuple[str, ...] = ()
    peer_pm: str = "scripted"
    unreachable: tuple[tuple[str, str], ...] = ()

    @property
    def peer_kernel(self) -> bool:
        return self.peer_pm == "kernel"

    def devices(self, peer: bool = False) -> list[str]:
        """Interface names the host's (or, `peer`, the peer's) endpoint adds
        mention, besides lo, in first-use order."""
        names = []
        for s in self.steps:
            on_peer = isinstance(s.command, OnPeer)
            cmd = s.command.command if isinstance(s.command, OnPeer) else s.command
            if on_peer == peer and isinstance(cmd, EndpointAdd) and cmd.dev:
                names.append(cmd.dev)
        return [n for n in dict.fromkeys(names) if n != "lo"]

    def addresses(self) -> list[str]:
        """Every address the host's commands mention, first-use order, no repeats."""
        found = [a for s in self.steps if (a := getattr(s.command, "addr", None))]
        return list(dict.fromkeys(found))

    @property
    def has_connections(self) -> bool:
        """Does the scenario need the two-host testbed (connections, or an
        in-kernel peer to configure)?"""
        return self.peer_kernel or any(isinstance(s.command, EVENT_COMMANDS) for s in self.steps)


# --- the live testbed ------------------------------------------------------------

TESTBED_LINKS = 4


def testbed_addresses(links: int = TESTBED_LINKS) -> tuple[list[str], list[str]]:
    """Host and peer addresses of the live testbed: link N has host 10.0.N.2 /
    dead:beef:N::2 and peer 10.0.N.1 / dead:beef:N::1."""
    host = [f"10.0.{n}.2" for n in range(1, links + 1)] + [
        f"dead:beef:{n}::2" for n in range(1, links + 1)
    ]
    peer = [f"10.0.{n}.1" for n in range(1, links + 1)] + [
        f"dead:beef:{n}::1" for n in range(1, links + 1)
    ]
    return host, peer
