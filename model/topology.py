"""The world around the host under test: which addresses are where.

A run's topology is configuration (like the kernel version), not state: the
checker fixes it as part of the scope. Rules consult it through small
constant lookups that build the same way on both backends.

The default mirrors the live testbed (pmcheck.live.connections) and
mptcp_join.sh: link N joins host 10.0.N.2 / dead:beef:N::2 to peer
10.0.N.1 / dead:beef:N::1; a subflow without a chosen source leaves through
the link of its destination's subnet, else through link 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from pmcheck.model.backend import Ops, Value

V6_KEY_BASE = 128  # address keys >= this are IPv6-only addresses


@dataclass(frozen=True)
class Topology:
    host_addrs: frozenset[int] = frozenset()  # keys assigned on the host
    peer_addrs: frozenset[int] = frozenset()  # keys the peer answers on
    route_src: tuple[tuple[int, int], ...] = ()  # (remote key, host source key)
    default_src_v4: int = 0
    default_src_v6: int = 0
    peer_accepts_joins: bool = True  # the scripted peer (userspace PM) accepts MP_JOINs
    notes: tuple[str, ...] = field(default=(), compare=False)
    # The peer runs the in-kernel PM too (`peer pm kernel`): the state then
    # holds its Host, the messages between the two are environment events,
    # and `mirror()` is the world as the peer sees it.
    peer_kernel: bool = False
    # (local key, remote key) pairings with no route between them (`unreachable
    # H P`): a connect between the two fails at once (ENETUNREACH).
    unreachable: frozenset[tuple[int, int]] = frozenset()
    peer_route_src: tuple[tuple[int, int], ...] = ()  # (host key, peer source key)
    peer_default_src_v4: int = 0
    peer_default_src_v6: int = 0

    def mirror(self) -> Topology:
        """The peer's view: its addresses are the local ones, its routes
        choose the source."""
        return replace(
            self,
            host_addrs=self.peer_addrs,
            peer_addrs=self.host_addrs,
            route_src=self.peer_route_src,
            default_src_v4=self.peer_default_src_v4,
            default_src_v6=self.peer_default_src_v6,
            peer_route_src=self.route_src,
            peer_default_src_v4=self.default_src_v4,
            peer_default_src_v6=self.default_src_v6,
            unreachable=frozenset((r, loc) for loc, r in self.unreachable),
        )


def is_v4(ops: Ops, key: Value) -> Value:
    """IPv4 or v4-mapped: `mptcp_pm_addr_families_match`'s notion of v4."""
    return ops.ult(key, ops.const(V6_KEY_BASE, 8))


def is_in(ops: Ops, key: Value, keys: frozenset[int]) -> Value:
    return ops.or_(*(ops.eq(key, ops.const(k, 8)) for k in sorted(keys)))


def host_has(ops: Ops, topo: Topology, key: Value) -> Value:
    return is_in(ops, key, topo.host_addrs)


def peer_has(ops: Ops, topo: Topology, key: Value) -> Value:
    return is_in(ops, key, topo.peer_addrs)


def route_source(ops: Ops, topo: Topology, remote: Value) -> Value:
    """The source address routing picks toward `remote` (an ADDR_ANY local)."""
    result = ops.ite(
        is_v4(ops, remote), ops.const(topo.default_src_v4, 8), ops.const(topo.default_src_v6, 8)
    )
    for dst, src in reversed(topo.route_src):
        result = ops.ite(ops.eq(remote, ops.const(dst, 8)), ops.const(src, 8), result)
    return result


def reachable(ops: Ops, topo: Topology, local: Value, remote: Value) -> Value:
    """Does a route lead from `local` to `remote`? `ip_route_connect` in
    `tcp_v4_connect` / `tcp_v6_connect` fails with -ENETUNREACH for a pairing
    the scenario declares unreachable (live: an `unreachable` policy rule),
    before any SYN is built."""
    cut = [
        ops.and_(ops.eq(local, ops.const(a, 8)), ops.eq(remote, ops.const(b, 8)))
        for a, b in sorted(topo.unreachable)
    ]
    return ops.not_(ops.or_(*cut)) if cut else ops.true()
