"""From parsed commands to model inputs: the address and device universe.

The model stores addresses and devices as small keys. An IPv4 address and its
v4-mapped IPv6 form share one key (the kernel's `mptcp_addresses_equal`
treats them as equal); the family is stored beside the key, so the text is
rebuilt exactly as the kernel would print it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from pmcheck.model.inputs import NO_ADDR, NO_LIMITS, AddrInput, LimitsInput
from pmcheck.model.rules import Inputs
from pmcheck.model.state import Endpoint
from pmcheck.results import EndpointRow
from pmcheck.scenario.ast import (
    AF_INET,
    AF_INET6,
    Command,
    EndpointAdd,
    EndpointChange,
    EndpointDelete,
    EndpointFlush,
    EndpointShow,
    LimitsSet,
    LimitsShow,
    Scenario,
    canonical_address,
)

MAX_KEYS = 255


class UniverseFull(ValueError):
    pass


def _base(addr: str) -> str:
    """The identity of an address under v4-mapped equality."""
    ip = ipaddress.ip_address(addr)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


@dataclass
class Universe:
    """Keys for the addresses and device names a scenario mentions (1..255)."""

    addrs: list[str] = field(default_factory=list)  # key - 1 -> base text
    devs: list[str] = field(default_factory=list)

    def addr_key(self, addr: str) -> int:
        base = _base(addr)
        if base not in self.addrs:
            if len(self.addrs) >= MAX_KEYS:
                raise UniverseFull(f"more than {MAX_KEYS} distinct addresses")
            self.addrs.append(base)
        return self.addrs.index(base) + 1

    def dev_key(self, dev: str | None) -> int:
        if dev is None:
            return 0
        if dev not in self.devs:
            if len(self.devs) >= MAX_KEYS:
                raise UniverseFull(f"more than {MAX_KEYS} distinct devices")
            self.devs.append(dev)
        return self.devs.index(dev) + 1

    def addr_text(self, key: int, family: int) -> str:
        base = self.addrs[key - 1] if 0 < key <= len(self.addrs) else f"?addr{key}"
        if family == AF_INET6 and ":" not in base:
            return canonical_address(f"::ffff:{base}")
        return base

    def dev_name(self, key: int) -> str | None:
        if key == 0:
            return None
        return self.devs[key - 1] if key <= len(self.devs) else f"?dev{key}"

    def row(self, e: Endpoint) -> EndpointRow:
        return EndpointRow(id=e.id, addr=self.addr_text(e.addr, e.family), port=e.port,
                           flags=e.flags, dev=self.dev_name(e.ifindex))

    @classmethod
    def of(cls, scn: Scenario) -> Universe:
        u = cls()
        for step in scn.steps:
            c = step.command
            if getattr(c, "addr", None):
                u.addr_key(c.addr)
            if getattr(c, "dev", None):
                u.dev_key(c.dev)
        return u


def lower(cmd: Command, u: Universe) -> tuple[str, Inputs]:
    """The rule name and concrete inputs for one command."""
    match cmd:
        case EndpointAdd():
            a = AddrInput(family=cmd.family, addr=u.addr_key(cmd.addr), port=cmd.port,
                          has_id=cmd.id is not None, id=cmd.id or 0, flags=cmd.flags,
                          ifindex=u.dev_key(cmd.dev))
            return "endpoint add", Inputs(a, NO_LIMITS)
        case EndpointDelete():
            a = NO_ADDR._replace(family=cmd.family, id=cmd.id, has_id=True,
                                 addr=u.addr_key(cmd.addr) if cmd.addr else 0)
            return "endpoint delete", Inputs(a, NO_LIMITS)
        case EndpointFlush():
            return "endpoint flush", Inputs(NO_ADDR, NO_LIMITS)
        case EndpointChange():
            a = NO_ADDR._replace(family=cmd.family, id=cmd.id or 0, has_id=cmd.id is not None,
                                 addr=u.addr_key(cmd.addr) if cmd.addr else 0,
                                 port=cmd.port, flags=cmd.flags)
            return "endpoint change", Inputs(a, NO_LIMITS)
        case EndpointShow(id=None):
            return "endpoint dump", Inputs(NO_ADDR, NO_LIMITS)
        case EndpointShow():
            return "endpoint get", Inputs(NO_ADDR._replace(id=cmd.id, has_id=True), NO_LIMITS)
        case LimitsSet():
            lim = LimitsInput(
                has_add_addr_accepted=cmd.add_addr_accepted is not None,
                add_addr_accepted=cmd.add_addr_accepted or 0,
                has_subflows=cmd.subflows is not None, subflows=cmd.subflows or 0)
            return "limits set", Inputs(NO_ADDR, lim)
        case LimitsShow():
            return "limits show", Inputs(NO_ADDR, NO_LIMITS)
    raise TypeError(f"not a command: {cmd!r}")


__all__ = ["AF_INET", "AF_INET6", "Universe", "UniverseFull", "lower"]
