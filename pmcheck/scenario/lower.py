"""From parsed commands to model inputs: the address and device universe.

The model stores addresses and devices as small keys. An IPv4 address and its
v4-mapped IPv6 form share one key (the kernel's `mptcp_addresses_equal`
treats them as equal); the family is stored beside the key, so the text is
rebuilt exactly as the kernel would print it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from pmcheck.model.constants import AF_INET6
from pmcheck.model.inputs import NO_ADDR, NO_EVENT, NO_LIMITS, AddrInput, LimitsInput
from pmcheck.model.peer import PEER_PREFIX
from pmcheck.model.rules import Inputs
from pmcheck.model.state import Endpoint
from pmcheck.model.topology import V6_KEY_BASE, Topology
from pmcheck.results import EndpointRow
from pmcheck.scenario.ast import (
    EVENT_COMMANDS,
    Command,
    Connect,
    EndpointAdd,
    EndpointChange,
    EndpointDelete,
    EndpointFlush,
    EndpointShow,
    LimitsSet,
    LimitsShow,
    OnPeer,
    PeerAnnounce,
    PeerJoin,
    PeerRemove,
    Scenario,
    SubflowClose,
    canonical_address,
    plain_address,
    testbed_addresses,
)

V4_KEYS = range(1, V6_KEY_BASE)  # IPv4 (and v4-mapped) addresses
V6_KEYS = range(V6_KEY_BASE, 256)  # IPv6-only addresses
MAX_DEVS = 255


class UniverseFull(ValueError):
    pass


@dataclass
class Universe:
    """Keys for the addresses and device names a scenario mentions (1..255)."""

    keys: dict[str, int] = field(default_factory=dict)  # base text -> key
    texts: dict[int, str] = field(default_factory=dict)
    devs: list[str] = field(default_factory=list)
    host: list[str] = field(default_factory=list)  # testbed addresses (base texts)
    peer: list[str] = field(default_factory=list)
    conns_opened: int = 0
    peer_kernel: bool = False  # `peer pm kernel`
    unreachable: list[tuple[str, str]] = field(default_factory=list)  # (host, peer) bases

    def addr_key(self, addr: str) -> int:
        """IPv4 bases get keys below V6_KEY_BASE, IPv6 ones from it, so the
        model reads an address's v4-ness off its key."""
        base = plain_address(addr)
        if base not in self.keys:
            pool = V6_KEYS if ":" in base else V4_KEYS
            used = [k for k in self.texts if k in pool]
            if len(used) >= len(pool):
                kind = "IPv6" if ":" in base else "IPv4"
                raise UniverseFull(f"more than {len(pool)} distinct {kind} addresses")
            key = pool[len(used)]
            self.keys[base] = key
            self.texts[key] = base
        return self.keys[base]

    def dev_key(self, dev: str | None) -> int:
        if dev is None:
            return 0
        if dev not in self.devs:
            if len(self.devs) >= MAX_DEVS:
                raise UniverseFull(f"more than {MAX_DEVS} distinct devices")
            self.devs.append(dev)
        return self.devs.index(dev) + 1

    def addr_text(self, key: int, family: int = 0) -> str:
        base = self.texts.get(key, f"?addr{key}")
        if family == AF_INET6 and ":" not in base:
            return canonical_address(f"::ffff:{base}")
        return base

    def topology(self) -> Topology:
        """Where the testbed's addresses live, and routing's source choice on
        each side: a remote address on link N is reached from the local
        address on link N, anything else through link 1."""
        host = frozenset(self.addr_key(a) for a in self.host)
        peer = frozenset(self.addr_key(a) for a in self.peer)
        return Topology(
            host_addrs=host,
            peer_addrs=peer,
            route_src=self._routes(self.host, self.peer),
            default_src_v4=self._first(self.host, v6=False),
            default_src_v6=self._first(self.host, v6=True),
            peer_kernel=self.peer_kernel,
            unreachable=frozenset(
                (self.addr_key(h), self.addr_key(p)) for h, p in self.unreachable
            ),
            peer_route_src=self._routes(self.peer, self.host),
            peer_default_src_v4=self._first(self.peer, v6=False),
            peer_default_src_v6=self._first(self.peer, v6=True),
        )

    def _routes(self, local: list[str], remote: list[str]) -> tuple[tuple[int, int], ...]:
        return tuple(
            (self.addr_key(r), self.addr_key(a))
            for a in local
            for r in remote
            if _same_subnet(a, r)
        )

    def _first(self, addrs: list[str], v6: bool) -> int:
        first = next((a for a in addrs if (":" in a) == v6), None)
        return self.addr_key(first) if first else 0

    def dev_name(self, key: int) -> str | None:
        if key == 0:
            return None
        return self.devs[key - 1] if key <= len(self.devs) else f"?dev{key}"

    def row(self, e: Endpoint) -> EndpointRow:
        return EndpointRow(
            id=e.id,
            addr=self.addr_text(e.addr, e.family),
            port=e.port,
            flags=e.flags,
            dev=self.dev_name(e.ifindex),
        )

    @classmethod
    def of(cls, scn: Scenario) -> Universe:
        host, peer = testbed_addresses()
        u = cls(
            peer_kernel=scn.peer_kernel,
            host=[plain_address(a) for a in [*host, *scn.host_addrs]],
            peer=[plain_address(a) for a in [*peer, *scn.peer_addrs]],
            unreachable=[(plain_address(h), plain_address(p)) for h, p in scn.unreachable],
        )
        for a in [*u.host, *u.peer]:
            u.addr_key(a)
        for step in scn.steps:
            c = step.command
            if getattr(c, "addr", None):
                u.addr_key(c.addr)
            for name in ("local", "remote", "to"):
                if getattr(c, name, None):
                    u.addr_key(getattr(c, name))
            if getattr(c, "dev", None):
                u.dev_key(c.dev)
        return u


def _same_subnet(a: str, b: str) -> bool:
    """/24 for IPv4, /64 for IPv6: the testbed's link prefixes."""
    ia, ib = ipaddress.ip_address(a), ipaddress.ip_address(b)
    if ia.version != ib.version:
        return False
    bits = 24 if ia.version == 4 else 64
    net = ipaddress.ip_network(f"{a}/{bits}", strict=False)
    return ib in net


def _conn(u: Universe, ref: int | None) -> int:
    """0-based connection slot: `conn N` or the most recent connection."""
    return (ref if ref is not None else u.conns_opened) - 1


def lower(cmd: Command, u: Universe) -> tuple[str, Inputs]:
    """The rule name and concrete inputs for one command."""
    match cmd:
        case OnPeer():
            name, inputs = lower(cmd.command, u)
            return PEER_PREFIX + name, inputs
        case EndpointAdd():
            a = AddrInput(
                family=cmd.family,
                addr=u.addr_key(cmd.addr),
                port=cmd.port,
                has_id=cmd.id is not None,
                id=cmd.id or 0,
                flags=cmd.flags,
                ifindex=u.dev_key(cmd.dev),
            )
            return "endpoint add", Inputs(a, NO_LIMITS, NO_EVENT)
        case EndpointDelete():
            a = NO_ADDR._replace(
                family=cmd.family,
                id=cmd.id,
                has_id=True,
                addr=u.addr_key(cmd.addr) if cmd.addr else 0,
            )
            return "endpoint delete", Inputs(a, NO_LIMITS, NO_EVENT)
        case EndpointFlush():
            return "endpoint flush", Inputs(NO_ADDR, NO_LIMITS, NO_EVENT)
        case EndpointChange():
            a = NO_ADDR._replace(
                family=cmd.family,
                id=cmd.id or 0,
                has_id=cmd.id is not None,
                addr=u.addr_key(cmd.addr) if cmd.addr else 0,
                port=cmd.port,
                flags=cmd.flags,
            )
            return "endpoint change", Inputs(a, NO_LIMITS, NO_EVENT)
        case EndpointShow(id=None):
            return "endpoint dump", Inputs(NO_ADDR, NO_LIMITS, NO_EVENT)
        case EndpointShow():
            a = NO_ADDR._replace(id=cmd.id, has_id=True)
            return "endpoint get", Inputs(a, NO_LIMITS, NO_EVENT)
        case LimitsSet():
            lim = LimitsInput(
                has_add_addr_accepted=cmd.add_addr_accepted is not None,
                add_addr_accepted=cmd.add_addr_accepted or 0,
                has_subflows=cmd.subflows is not None,
                subflows=cmd.subflows or 0,
            )
            return "limits set", Inputs(NO_ADDR, lim, NO_EVENT)
        case LimitsShow():
            return "limits show", Inputs(NO_ADDR, NO_LIMITS, NO_EVENT)
        case Connect():
            u.conns_opened += 1
            ev = NO_EVENT._replace(
                conn=u.conns_opened - 1,
                laddr=u.addr_key(cmd.local),
                raddr=u.addr_key(cmd.remote),
                port=cmd.port,
                flag=cmd.deny_join_id0,
                server=cmd.server,
            )
            return "connect", Inputs(NO_ADDR, NO_LIMITS, ev)
        case PeerAnnounce():
            ev = NO_EVENT._replace(
                conn=_conn(u, cmd.conn), raddr=u.addr_key(cmd.addr), rid=cmd.id, port=cmd.port
            )
            return "peer announce", Inputs(NO_ADDR, NO_LIMITS, ev)
        case PeerRemove():
            ev = NO_EVENT._replace(conn=_conn(u, cmd.conn), rid=cmd.id)
            return "peer remove", Inputs(NO_ADDR, NO_LIMITS, ev)
        case PeerJoin():
            ev = NO_EVENT._replace(
                conn=_conn(u, cmd.conn),
                laddr=u.addr_key(cmd.to),
                raddr=u.addr_key(cmd.addr),
                rid=cmd.id,
            )
            return "peer join", Inputs(NO_ADDR, NO_LIMITS, ev)
        case SubflowClose():
            local, remote = u.addr_key(cmd.local), u.addr_key(cmd.remote)
            ev = NO_EVENT._replace(conn=_conn(u, cmd.conn), laddr=local, raddr=remote)
            if u.peer_kernel:  # the in-kernel peer closes its end; the host sees the FIN
                ev = ev._replace(laddr=remote, raddr=local, side=True)
            return "subflow close", Inputs(NO_ADDR, NO_LIMITS, ev)
    raise TypeError(f"not a command: {cmd!r}")


def raise_step(rule: str, inputs: Inputs, u: Universe) -> Command | None:
    """The command a rule application means: the inverse of `lower`, so a
    checker path prints as the scenario lines it came from. None for the
    environment's own steps (they are no scenario line) and for inputs no
    line can say (an explicit id 0 on add, which only raw netlink sends)."""
    if rule.startswith(PEER_PREFIX):
        inner = raise_step(rule[len(PEER_PREFIX) :], inputs, u)
        if inner is not None and not isinstance(inner, EVENT_COMMANDS):
            return OnPeer(inner)
    a, lim, ev = inputs
    conn = ev.conn + 1 if ev.conn else None
    match rule:
        case "endpoint add" if not (a.has_id and a.id == 0):
            return EndpointAdd(
                addr=u.addr_text(a.addr, a.family), family=a.family, port=a.port,
                dev=u.dev_name(a.ifindex), id=a.id if a.has_id else None, flags=a.flags,
            )  # fmt: skip
        case "endpoint delete":
            addr = u.addr_text(a.addr, a.family) if a.family else None
            return EndpointDelete(id=a.id, addr=addr, family=a.family)
        case "endpoint flush":
            return EndpointFlush()
        case "endpoint change":
            addr = u.addr_text(a.addr, a.family) if a.family else None
            return EndpointChange(
                id=None if a.family else a.id, addr=addr, family=a.family, port=a.port,
                flags=a.flags,
            )  # fmt: skip
        case "endpoint dump":
            return EndpointShow()
        case "endpoint get":
            return EndpointShow(id=a.id)
        case "limits set":
            return LimitsSet(
                subflows=lim.subflows if lim.has_subflows else None,
                add_addr_accepted=lim.add_addr_accepted if lim.has_add_addr_accepted else None,
            )
        case "limits show":
            return LimitsShow()
        case "connect":
            local, remote = u.addr_text(ev.laddr), u.addr_text(ev.raddr)
            return Connect(local, remote, ev.port, bool(ev.flag), bool(ev.server))
        case "peer announce":
            return PeerAnnounce(u.addr_text(ev.raddr), ev.rid, ev.port, conn)
        case "peer remove":
            return PeerRemove(ev.rid, conn)
        case "peer join":
            return PeerJoin(u.addr_text(ev.raddr), u.addr_text(ev.laddr), ev.rid, conn)
        case "subflow close":
            local, remote = (ev.raddr, ev.laddr) if ev.side else (ev.laddr, ev.raddr)
            return SubflowClose(u.addr_text(local), u.addr_text(remote), conn)
    return None
