"""Run a scenario on the live kernel: the reference the models are compared to.

Each run gets a fresh network namespace (so fresh PM state: no endpoints,
limits 0/2, next id 1), prepared with the interfaces and local addresses the
scenario needs, and then every step is sent as one `mptcp_pm` request. After
each step the endpoint table and the limits are read back, so a `Run` from
the kernel has the same shape as one from the model.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from pmcheck.live.genl import AddrSpec, PmClient, RawEndpoint, Reply
from pmcheck.live.links import ADDR_DEV, IFA_F_NODAD, add_dummy, ifindex
from pmcheck.results import EndpointRow, Limits, StepOutcome
from pmcheck.scenario.ast import (
    Command,
    EndpointAdd,
    EndpointChange,
    EndpointDelete,
    EndpointFlush,
    EndpointShow,
    LimitsSet,
    LimitsShow,
    Scenario,
    Step,
    canonical_address,
)

IfNames = dict[int, str]


def execute_in_current_netns(scenario: Scenario) -> tuple[StepOutcome, ...]:
    """Prepare the current (fresh, private) namespace and run the steps in it.

    Only call this inside a throw-away namespace: it creates interfaces and
    changes the PM state of whatever namespace it runs in."""
    ifnames = prepare_links(scenario)
    with PmClient() as pm:
        return tuple(
            run_step(pm, ifnames, index, step) for index, step in enumerate(scenario.steps)
        )


# --- namespace preparation ---------------------------------------------------


def prepare_links(scenario: Scenario) -> IfNames:
    """Create the scenario's interfaces and local addresses; return ifindex -> name.

    The addresses make port (listener) endpoints bindable, as on a real host
    where endpoints name local addresses."""
    with IPRoute() as ipr:
        for dev in [ADDR_DEV, *scenario.devices()]:
            if not ipr.link_lookup(ifname=dev):
                add_dummy(ipr, dev)
        for dev in ["lo", ADDR_DEV, *scenario.devices()]:
            ipr.link("set", index=ifindex(ipr, dev), state="up")
        index = ifindex(ipr, ADDR_DEV)
        for addr in scenario.addresses():
            _add_local_address(ipr, index, addr)
        return {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}


def _add_local_address(ipr: IPRoute, index: int, text: str) -> None:
    ip = ipaddress.ip_address(text)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        # A v4-mapped endpoint is used by v4 traffic: the v4 address is local.
        ip = ip.ipv4_mapped
    try:
        if ip.version == 4:
            ipr.addr("add", index=index, address=str(ip), prefixlen=32)
        else:
            # NODAD: usable (bindable) at once instead of tentative for ~1s.
            ipr.addr("add", index=index, address=str(ip), prefixlen=128, flags=IFA_F_NODAD)
    except NetlinkError:
        # Best effort: some addresses (multicast, unspecified, ...) cannot be
        # assigned; the endpoint commands are still sent and judged by the PM.
        pass


# --- steps -------------------------------------------------------------------


def run_step(pm: PmClient, ifnames: IfNames, index: int, step: Step) -> StepOutcome:
    """Send one step's request and read back the state after it."""
    reply, shown = _send(pm, ifnames, step.command)
    endpoints = dump_rows(pm, ifnames)
    new_id = None
    if isinstance(step.command, EndpointAdd) and reply.errno == 0:
        new_id = _find_id(endpoints, step.command)
    return StepOutcome(
        index=index,
        line=step.loc.line,
        text=step.text,
        errno=reply.errno,
        extack=reply.extack,
        new_id=new_id,
        reply=shown,
        endpoints=endpoints,
        limits=read_limits(pm),
    )


def _send(
    pm: PmClient, ifnames: IfNames, cmd: Command
) -> tuple[Reply, tuple[EndpointRow, ...] | Limits | None]:
    """The request for one command; returns the reply and what a show printed."""
    match cmd:
        case EndpointAdd():
            return pm.add_addr(add_spec(cmd, ifnames)), None
        case EndpointDelete():
            return pm.del_addr(delete_spec(cmd)), None
        case EndpointFlush():
            return pm.flush(), None
        case EndpointChange():
            return pm.set_flags(change_spec(cmd)), None
        case EndpointShow(id=None):
            reply = pm.dump_addrs()
            return reply, _rows(reply, ifnames)
        case EndpointShow(id=ident):
            reply = pm.get_addr(ident)
            return reply, _rows(reply, ifnames)
        case LimitsSet():
            return pm.set_limits(cmd.add_addr_accepted, cmd.subflows), None
        case LimitsShow():
            reply = pm.get_limits()
            return reply, _limits(reply)
    raise TypeError(f"not a scenario command: {cmd!r}")


def add_spec(cmd: EndpointAdd, ifnames: IfNames) -> AddrSpec:
    """ADD_ADDR nest. ID is sent whenever given, even 0: raw netlink is how
    the explicit-id-0 path is reached (`ip` refuses `id 0`)."""
    return AddrSpec(
        family=cmd.family,
        addr=cmd.addr,
        port=cmd.port or None,
        id=cmd.id,
        flags=cmd.flags,
        ifindex=_index_of(ifnames, cmd.dev) if cmd.dev else None,
    )


def delete_spec(cmd: EndpointDelete) -> AddrSpec:
    if cmd.addr is None:
        return AddrSpec(id=cmd.id)
    return AddrSpec(id=cmd.id, family=cmd.family, addr=cmd.addr)


def change_spec(cmd: EndpointChange) -> AddrSpec:
    has_addr = cmd.addr is not None
    return AddrSpec(
        id=cmd.id,
        family=cmd.family if has_addr else None,
        addr=cmd.addr,
        port=cmd.port or None,
        flags=cmd.flags,
    )


def _index_of(ifnames: IfNames, dev: str) -> int:
    for index, name in ifnames.items():
        if name == dev:
            return index
    raise RuntimeError(f"interface {dev} does not exist in the namespace")


# --- reading state back -------------------------------------------------------


def dump_rows(pm: PmClient, ifnames: IfNames) -> tuple[EndpointRow, ...]:
    reply = pm.dump_addrs()
    if reply.errno:
        raise RuntimeError(f"endpoint dump failed: errno {reply.errno} {reply.extack}")
    return _rows(reply, ifnames)


def read_limits(pm: PmClient) -> Limits:
    limits = _limits(pm.get_limits())
    if limits is None:
        raise RuntimeError("get-limits failed")
    return limits


def _rows(reply: Reply, ifnames: IfNames) -> tuple[EndpointRow, ...]:
    if reply.errno:
        return ()
    return tuple(sorted(to_row(e, ifnames) for e in reply.endpoints))


def _limits(reply: Reply) -> Limits | None:
    if reply.errno or reply.limits is None:
        return None
    accepted, subflows = reply.limits
    return Limits(add_addr_accepted=accepted, subflows=subflows)


def to_row(raw: RawEndpoint, ifnames: IfNames) -> EndpointRow:
    dev = None
    if raw.ifindex:
        # An ifindex we did not create (the kernel does not check it) keeps its number.
        dev = ifnames.get(raw.ifindex, f"ifindex{raw.ifindex}")
    return EndpointRow(
        id=raw.id,
        addr=canonical_address(raw.addr),
        port=raw.port,
        flags=raw.flags,
        dev=dev,
    )


def _find_id(rows: Iterable[EndpointRow], cmd: EndpointAdd) -> int | None:
    """The id the new endpoint got: the row with the same address and port."""
    want = _comparable(cmd.addr)
    for row in rows:
        if _comparable(row.addr) == want and row.port == cmd.port:
            return row.id
    return None


def _comparable(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    # The kernel may report a v4-mapped address in either family.
    ip = ipaddress.ip_address(text)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip
