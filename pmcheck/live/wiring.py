"""The two-namespace topology of LiveTestbed, built from inside the agents.

Like tools/testing/selftests/net/mptcp/mptcp_join.sh: link N (1..links) is a
veth pair `hosteth{N}` <-> `peereth{N}`; the host has 10.0.N.2/24 and
dead:beef:N::2/64, the peer 10.0.N.1/24 and dead:beef:N::1/64. Each side has
one default route per link via the other side's address on it (metric
100+N), so a packet from any local address reaches any remote address, also
the extra addresses on the `pmck0` stand-alone interface, and the reply
comes back. rp_filter is off on both sides: a subflow from 10.0.2.2 to
10.0.3.1 leaves on link 3 with a link-2 source address.

Every function here runs INSIDE an agent (first argument: AgentState).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyroute2 import IPRoute

from pmcheck.live.agent import AgentState
from pmcheck.live.links import ADDR_DEV, IFA_F_NODAD, add_dummy

HOST = "host"
PEER = "peer"
ROUTE_METRIC_BASE = 100


def link_name(role: str, n: int) -> str:
    return f"{role}eth{n}"


def link_addrs(role: str, n: int) -> tuple[str, str]:
    """(v4, v6) address of `role` on link n."""
    last = 2 if role == HOST else 1
    return f"10.0.{n}.{last}", f"dead:beef:{n}::{last}"


def other(role: str) -> str:
    return PEER if role == HOST else HOST


@dataclass(frozen=True)
class SideInfo:
    """What a side looks like once configured."""

    ifindex: dict[str, int]  # interface name -> index
    addrs: tuple[str, ...]  # every address configured, links first


def sysctl_path(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


def apply_sysctls(state: AgentState, values: Mapping[str, int | str]) -> None:
    """Write sysctls of the agent's namespace (net.* are per netns), in order."""
    for key, value in values.items():
        with open(sysctl_path(key), "w") as f:
            f.write(f"{value}\n")


def base_sysctls(pm_type: int) -> dict[str, int | str]:
    """Set before the links exist: new interfaces copy `default`.

    rp_filter off (the effective value is max(all, interface)). No DAD at all:
    `nodad` covers the global addresses, but a tentative link-local address
    delays neighbour discovery by ~1 s, and a v6 join across links then
    sits in SYN_SENT until its SYN is retransmitted."""
    return {
        "net.mptcp.enabled": 1,
        "net.mptcp.pm_type": pm_type,
        "net.ipv4.conf.all.rp_filter": 0,
        "net.ipv4.conf.default.rp_filter": 0,
        "net.ipv6.conf.all.accept_dad": 0,
        "net.ipv6.conf.default.accept_dad": 0,
    }


def create_veths(state: AgentState, links: int, peer_netns: str) -> None:
    """Create the veth pairs here (the host), with the peer ends moved straight
    into the peer's namespace (pyroute2 opens /var/run/netns/<name>)."""
    with IPRoute() as ipr:
        for n in range(1, links + 1):
            ipr.link(
                "add",
                ifname=link_name(HOST, n),
                kind="veth",
                peer={"ifname": link_name(PEER, n), "net_ns_fd": peer_netns},
            )


def configure_side(
    state: AgentState, role: str, links: int, extra_addrs: Sequence[str]
) -> SideInfo:
    """Addresses, links up, default routes; extra addresses on pmck0."""
    added: list[str] = []
    with IPRoute() as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        for n in range(1, links + 1):
            index = ipr.link_lookup(ifname=link_name(role, n))[0]
            v4, v6 = link_addrs(role, n)
            ipr.addr("add", index=index, address=v4, prefixlen=24)
            ipr.addr("add", index=index, address=v6, prefixlen=64, flags=IFA_F_NODAD)
            ipr.link("set", index=index, state="up")
            added += [v4, v6]
        if extra_addrs:
            _add_extra(ipr, extra_addrs)
            added += list(extra_addrs)
        for n in range(1, links + 1):
            _add_default_routes(ipr, role, n)
        ifindex = {link.get_attr("IFLA_IFNAME"): link["index"] for link in ipr.get_links()}
    return SideInfo(ifindex=ifindex, addrs=tuple(added))


def _add_extra(ipr: IPRoute, addrs: Sequence[str]) -> None:
    if not ipr.link_lookup(ifname=ADDR_DEV):
        add_dummy(ipr, ADDR_DEV)  # ifb where the kernel lacks CONFIG_DUMMY
    index = ipr.link_lookup(ifname=ADDR_DEV)[0]
    ipr.link("set", index=index, state="up")
    for text in addrs:
        ip = ipaddress.ip_address(text)
        if ip.version == 4:
            ipr.addr("add", index=index, address=text, prefixlen=32)
        else:
            ipr.addr("add", index=index, address=text, prefixlen=128, flags=IFA_F_NODAD)


def _add_default_routes(ipr: IPRoute, role: str, n: int) -> None:
    index = ipr.link_lookup(ifname=link_name(role, n))[0]
    gw4, gw6 = link_addrs(other(role), n)
    metric = ROUTE_METRIC_BASE + n
    ipr.route("add", dst="0.0.0.0/0", gateway=gw4, oif=index, priority=metric)
    ipr.route("add", dst="::/0", gateway=gw6, oif=index, priority=metric, family=socket.AF_INET6)


UNREACHABLE_RULE_PRIORITY = 50  # before the main table's rule (32766)


def add_unreachable(state: AgentState, pairs: Sequence[tuple[str, str]]) -> None:
    """`unreachable H P` on this side: a policy rule `from LOCAL to REMOTE
    unreachable` per (local, remote) pair. A connect between the two then
    fails in `ip_route_connect` with ENETUNREACH, before a SYN is built: the
    behaviour the model gives the pairing (model.topology.reachable)."""
    with IPRoute() as ipr:
        for local, remote in pairs:
            v6 = ":" in local
            ipr.rule(
                "add",
                action="FR_ACT_UNREACHABLE",
                src=local,
                src_len=128 if v6 else 32,
                dst=remote,
                dst_len=128 if v6 else 32,
                priority=UNREACHABLE_RULE_PRIORITY,
                family=socket.AF_INET6 if v6 else socket.AF_INET,
            )
