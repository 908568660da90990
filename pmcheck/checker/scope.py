"""A checking scope: what the state may hold and what each step may input.

The scope is explicit and printed with every verdict. Each rule's inputs
range over a product of small domains ("dimensions"); the explicit-state
oracle enumerates exactly that product and the symbolic engines constrain
their input variables to exactly that set, so all engines check one system.

A connection scope (`connections > 0`) adds the connection and peer events,
each drawn from a fixed list of scenario lines (lowered with the live
testbed's address universe, so a trace prints as the lines it came from),
and the `environment` rule, which the system forces after every user step
until the world is quiescent: checker paths are scenario runs.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pmcheck.model.backend import Ops
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.model.constants import (
    AF_INET,
    AF_INET6,
    FLAG_BACKUP,
    FLAG_FULLMESH,
    FLAG_IMPLICIT,
    FLAG_LAMINAR,
    FLAG_SIGNAL,
    FLAG_SUBFLOW,
    MPTCP_PM_ADDR_MAX,
)
from pmcheck.model.environment import choice_of, pending_actions, quiescent
from pmcheck.model.inputs import NO_ADDR, NO_EVENT, NO_LIMITS
from pmcheck.model.rules import Inputs
from pmcheck.model.state import State, initial_state
from pmcheck.model.topology import Topology
from pmcheck.model.versions import KernelVersion

Choice = dict[str, Any]  # "addr.family" -> value, ...
Dimension = list[Choice]


class _AnyId:
    """An input value left free: the symbolic engines put no constraint on
    the field (every id 0..255 at once), the oracle enumerates them all."""

    values = range(256)

    def __repr__(self) -> str:
        return "0..255"


ANY_ID = _AnyId()

# Address keys: two IPv4 addresses (one also as v4-mapped IPv6) and one IPv6.
# They are the keys the live testbed's universe gives 10.0.1.2, 10.0.2.2 and
# dead:beef:1::2 (pmcheck.scenario.lower.Universe), so traces replay there.
A, B, C = 1, 2, 128
ADDRS: Dimension = [
    {"addr.family": AF_INET, "addr.addr": A},
    {"addr.family": AF_INET6, "addr.addr": A},
    {"addr.family": AF_INET, "addr.addr": B},
    {"addr.family": AF_INET6, "addr.addr": C},
]
FLAG_SETS = (
    0,
    FLAG_SIGNAL,
    FLAG_SUBFLOW,
    FLAG_SIGNAL | FLAG_SUBFLOW,
    FLAG_FULLMESH,
    FLAG_SUBFLOW | FLAG_FULLMESH,
    FLAG_SIGNAL | FLAG_FULLMESH,
    FLAG_IMPLICIT,
    FLAG_LAMINAR | FLAG_SUBFLOW,
    FLAG_BACKUP,
)

# The endpoint types a reviewer mixes on a connection's host (issue 6/8).
CONN_FLAG_SETS = (
    FLAG_SIGNAL,
    FLAG_SUBFLOW,
    FLAG_LAMINAR,
    FLAG_SUBFLOW | FLAG_LAMINAR,
    FLAG_SUBFLOW | FLAG_FULLMESH,
    FLAG_LAMINAR | FLAG_FULLMESH,
    FLAG_SIGNAL | FLAG_SUBFLOW,
    FLAG_SUBFLOW | FLAG_BACKUP,
)

# Connection and peer events of the connection scope, as scenario lines. The
# host's first link carries the initial subflow; the peer announces its
# other addresses (and one of the other family), removes them, joins to an
# endpoint address and to an address that is not one (an implicit entry),
# and closes subflows.
CONN_EVENTS = (
    "connect 10.0.1.2 10.0.1.1",
    "connect 10.0.1.2 10.0.1.1 peer-deny-join-id0",
    "peer connect 10.0.1.1 10.0.1.2",
    "peer announce 10.0.2.1 id 1",
    "peer announce 10.0.3.1 id 2",
    "peer announce dead:beef:2::1 id 3",
    "peer remove id 1",
    "peer remove id 0",
    "peer join 10.0.2.1 to 10.0.2.2 id 1",
    "peer join 10.0.3.1 to 10.0.3.2 id 2",
    "subflow close 10.0.1.2 10.0.1.1",
    "subflow close 10.0.2.2 10.0.2.1",
    "subflow close 10.0.2.2 10.0.3.1",
    "subflow close 10.0.1.2 10.0.2.1",
)


@dataclass(frozen=True)
class Scope:
    version: KernelVersion
    endpoint_slots: int = 8
    ids: tuple[int, ...] = (1, 2, 255)  # explicit ids an add/delete/change may name
    # Every explicit id 0..255 instead of `ids` (a free input: the kernel's
    # whole id range in one query; the namespace scope's default).
    any_id: bool = False
    ports: tuple[int, ...] = (0, 1000)
    flag_sets: tuple[int, ...] = FLAG_SETS
    limit_values: tuple[int, ...] = (0, 2, 8, 9)
    addrs: tuple[tuple[tuple[str, Any], ...], ...] = field(
        default=tuple(tuple(d.items()) for d in ADDRS)
    )
    connections: int = 0
    subflow_slots: int = 4
    anno_slots: int = 2
    events: tuple[str, ...] = ()  # scenario lines (connection scope)
    # Lowering a limit below a connection's counters breaks M3/M4 trivially
    # (notes 5.2); by default limits are configuration, set before connecting.
    limits_while_connected: bool = False
    # Bits of the id bitmaps in the symbolic encoding (see Z3Ops): a scope
    # whose ids stay below bitmap_width / 2 may narrow them; paths whose
    # next_id reaches that are cut (System.trans).
    bitmap_width: int = 256
    # Two in-kernel PMs (`peer pm kernel`): the peer's own table and the
    # commands a reviewer gives it; the environment then may take any
    # pending action next (all orderings the model allows), not the default.
    peer_kernel: bool = False
    peer_endpoint_slots: int = 1
    peer_flag_sets: tuple[int, ...] = ()
    peer_addrs: tuple[tuple[tuple[str, Any], ...], ...] = ()
    # With an in-kernel peer: may the environment deliver in any order
    # (True), or only in the kernel's default order (False)?
    all_orders: bool = True
    # `limits set` as joint (add_addr_accepted, subflows) choices instead of
    # the product of limit_values (host, peer); None: the product.
    limit_pairs: tuple[tuple[int, int], ...] | None = None
    peer_limit_pairs: tuple[tuple[int, int], ...] | None = None
    # The least BMC depth this scope is checked to (pmcheck.checker.run).
    min_depth: int = 0

    @property
    def kind(self) -> str:
        """Which properties this scope checks: "netns", "connection" or "two-pm"."""
        if self.peer_kernel:
            return "two-pm"
        return "connection" if self.connections else "netns"

    def __post_init__(self) -> None:
        if self.bitmap_width < 256 and self.any_id:
            raise ValueError(f"every id does not fit a {self.bitmap_width}-bit id bitmap")
        if self.bitmap_width < 256 and max(self.ids) >= self.bitmap_width // 2:
            raise ValueError(f"ids {self.ids} do not fit a {self.bitmap_width}-bit id bitmap")

    def describe(self) -> str:
        conns = (
            "no connections"
            if not self.connections
            else (
                f"{self._conns_text()}, {self.subflow_slots} subflow slots, "
                f"{self.anno_slots} announcement slots, {len(self.events)} events, "
                "environment settled after each step"
                + (f", ids below {self.bitmap_width // 2}" if self.bitmap_width < 256 else "")
            )
        )
        if self.peer_kernel:
            conns += (
                f"; in-kernel peer: {self.peer_endpoint_slots} endpoint slots, "
                f"{len(self.peer_flag_sets)} flag sets, {len(self.peer_addrs)} addresses, "
                + ("every delivery order" if self.all_orders else "the default delivery order")
            )
        return (
            f"kernel {self.version.value}, {self.endpoint_slots} endpoint slots, "
            f"{len(self.addrs)} addresses, ids {self._ids_text()}, "
            f"ports {set(self.ports)}, {len(self.flag_sets)} flag sets, limits "
            f"{set(self.limit_values)}, {conns}"
        )

    def _conns_text(self) -> str:
        return f"{self.connections} connection" + ("s" if self.connections > 1 else "")

    def _ids_text(self) -> str:
        if self.any_id:
            return "{auto, 0..255}"
        return f"{{auto, 0, {', '.join(map(str, self.ids))}}}"

    def short(self) -> str:
        """The scope in a verdict line: what a PROVED or HOLDS-TO-DEPTH covers."""
        text = f"{self.kind}, {self.endpoint_slots}/{MPTCP_PM_ADDR_MAX} slots"
        if self.connections:
            text += f", {self.connections} conn"
        if self.any_id:
            return text + ", ids 0..255"
        return text + (f", ids<{self.bitmap_width // 2}" if self.bitmap_width < 256 else "")

    def partial(self) -> list[str]:
        """How this scope falls short of the kernel's own (8 endpoints,
        ids 1..255, any address, any number of connections). Never empty:
        even at 8 slots with every id, a scope draws addresses, ports, flags
        and limits from a few choices."""
        out = []
        if self.endpoint_slots < MPTCP_PM_ADDR_MAX:
            out.append(f"{self.endpoint_slots} of the kernel's {MPTCP_PM_ADDR_MAX} endpoints")
        if not self.any_id:
            out.append(
                f"explicit ids {{0, {', '.join(map(str, self.ids))}}} of 0..255 (auto ids: all)"
            )
        if self.bitmap_width < 256:
            out.append(f"paths whose ids reach {self.bitmap_width // 2} cut")
        if self.connections:
            out.append(f"{self._conns_text()}, {len(self.events)} kinds of event")
        out.append(
            f"inputs from {len(self.addrs)} addresses, ports {set(self.ports)}, "
            f"{len(self.flag_sets)} flag sets, limits {set(self.limit_values)}"
        )
        return out

    def initial_state(self) -> State:
        """The scope's first state: a fresh namespace with its slots."""
        return initial_state(
            conns=self.connections,
            subflow_slots=self.subflow_slots,
            endpoint_slots=self.endpoint_slots,
            anno_slots=self.anno_slots,
            peer_kernel=self.peer_kernel,
            peer_endpoint_slots=self.peer_endpoint_slots,
        )

    def keeps(self, ops: Ops, state: State) -> Any:
        """Is `state` inside the scope? Paths leaving it are cut, the same way
        by the symbolic system and the oracle: a bigger table, more live
        subflows or announcements than the slots, or (narrow bitmaps) a
        next_id at half the width, past which an allocation could need an
        id the encoding cannot hold."""
        hosts = [(state.netns, state.conns, self.endpoint_slots)] + [
            (h.netns, h.conns, self.peer_endpoint_slots) for h in state.peer
        ]
        inside = []
        for ns, conns, slots in hosts:
            inside.append(ops.ule(ns.endpoints, ops.const(slots, 8)))
            inside.extend(ops.not_(c.overflow) for c in conns)
            if self.bitmap_width < 256:
                inside.append(ops.ult(ns.next_id, ops.const(self.bitmap_width // 2, 8)))
        return ops.and_(*inside)

    def enabled(self, ops: Ops, state: State, rule: str, calm: Any = None) -> Any:
        """May `rule` run in `state`? Written over Ops: the symbolic system
        and the explicit oracle read the same guard. With connections, only
        the environment moves while it has work (a stutter when it has none),
        and limits are set only while no connection is open unless
        `limits_while_connected`. `calm`: quiescence, if already known."""
        if not self.connections:
            return ops.true()
        if calm is None:
            calm = quiescent(ops, state, self.topology())
        if rule == "environment":
            return ops.true()
        if rule in ("limits set", "peer limits set") and not self.limits_while_connected:
            return ops.and_(calm, *(ops.not_(c.used) for c in state.conns))
        return calm

    def topology(self) -> Topology:
        return _event_universe(self.peer_kernel)[1] if self.connections else Topology()

    def event_inputs(self) -> dict[str, list[tuple[str, Inputs]]]:
        """Per event rule, its (scenario line, inputs) alternatives."""
        out: dict[str, list[tuple[str, Inputs]]] = {}
        for line in self.events:
            name, inputs = _lower_event(line, self.peer_kernel)
            for ci in range(self.connections):
                ev = inputs.event._replace(conn=ci)
                text = line if self.connections == 1 else f"{line} conn {ci + 1}"
                out.setdefault(name, []).append((text, inputs._replace(event=ev)))
        return out

    def dimensions(self) -> dict[str, list[Dimension]]:
        """Per netlink rule, the dimensions whose product is its input set."""
        addrs = [dict(a) for a in self.addrs]
        ids = [{"addr.has_id": False, "addr.id": 0}, {"addr.has_id": True, "addr.id": 0}] + [
            {"addr.has_id": True, "addr.id": i} for i in self.ids
        ]
        plain_ids = [{"addr.id": i} for i in (0, *self.ids)]
        if self.any_id:
            ids = [{"addr.has_id": False, "addr.id": 0}, {"addr.has_id": True, "addr.id": ANY_ID}]
            plain_ids = [{"addr.id": ANY_ID}]
        ports = [{"addr.port": p} for p in self.ports]
        flags = [{"addr.flags": f} for f in self.flag_sets]
        by_id_or_addr = [{"addr.family": 0, "addr.addr": 0}, *addrs]
        change_flags = [
            {"addr.flags": f} for f in (0, FLAG_BACKUP, FLAG_FULLMESH, FLAG_BACKUP | FLAG_FULLMESH)
        ]
        limit = [{"has": False, "v": 0}] + [{"has": True, "v": v} for v in self.limit_values]
        aa = [
            {"limits.has_add_addr_accepted": d["has"], "limits.add_addr_accepted": d["v"]}
            for d in limit
        ]
        sf = [{"limits.has_subflows": d["has"], "limits.subflows": d["v"]} for d in limit]
        dims: dict[str, list[Dimension]] = {
            "endpoint add": [addrs, ids, ports, flags],
            "endpoint delete": [plain_ids, by_id_or_addr],
            "endpoint change": [by_id_or_addr, plain_ids, ports, change_flags],
            "endpoint flush": [],
            "limits set": self._limits(aa, sf, self.limit_pairs),
        }
        if self.connections:
            for name, alts in self.event_inputs().items():
                dims[name] = [
                    [{f"event.{k}": v for k, v in inp.event._asdict().items()} for _, inp in alts]
                ]
            dims["environment"] = []
        if self.peer_kernel:
            # The pair's scope: configuration with auto ids, deletes; no
            # set-flags or flush (the connection scope covers those).
            dims["endpoint add"] = [addrs, ids[:1], ports, flags]
            dims["endpoint delete"] = [plain_ids[1:], by_id_or_addr[:1]]
            del dims["endpoint change"], dims["endpoint flush"]
            peer_addrs = [dict(a) for a in self.peer_addrs]
            dims["peer endpoint add"] = [
                peer_addrs,
                ids[:1],
                [{"addr.port": 0}],
                [{"addr.flags": f} for f in self.peer_flag_sets],
            ]
            dims["peer endpoint delete"] = [plain_ids[1:], by_id_or_addr[:1]]
            if self.peer_limit_pairs != ():  # () : the peer keeps its defaults
                dims["peer limits set"] = self._limits(aa, sf, self.peer_limit_pairs)
            # Any pending action may go next: the choice is its index
            # (model/environment.py; one naming none runs the default).
            if self.all_orders:
                actions = pending_actions(CONCRETE, self.initial_state(), self.topology())
                dims["environment"] = [
                    [{f"event.{k}": v for k, v in choice_of(a)._asdict().items()} for a in actions]
                ]
        return dims

    @staticmethod
    def _limits(
        aa: Dimension, sf: Dimension, pairs: tuple[tuple[int, int], ...] | None
    ) -> list[Dimension]:
        if pairs is None:
            return [aa, sf]
        return [
            [
                {
                    "limits.has_add_addr_accepted": True,
                    "limits.add_addr_accepted": a,
                    "limits.has_subflows": True,
                    "limits.subflows": f,
                }
                for a, f in pairs
            ]
        ]

    def rules(self) -> list[str]:
        return list(self.dimensions())

    def inputs(self, rule: str) -> Iterator[Inputs]:
        """Every concrete input of `rule` in the scope (for the oracle)."""
        for combo in itertools.product(*self.dimensions()[rule]):
            merged: Choice = {}
            for part in combo:
                merged.update(part)
            free = [k for k, v in merged.items() if v is ANY_ID]
            for values in itertools.product(*(ANY_ID.values for _ in free)):
                yield build_inputs({**merged, **dict(zip(free, values, strict=True))})


def build_inputs(choice: Choice) -> Inputs:
    addr = NO_ADDR._replace(**{k[5:]: v for k, v in choice.items() if k.startswith("addr.")})
    limits = NO_LIMITS._replace(**{k[7:]: v for k, v in choice.items() if k.startswith("limits.")})
    event = NO_EVENT._replace(**{k[6:]: v for k, v in choice.items() if k.startswith("event.")})
    return Inputs(addr, limits, event)


def default_scope(prop: Any, version: KernelVersion, endpoint_slots: int = 2) -> Scope:
    """Where `pmcheck check` checks a property by default: the two-PM scope
    for properties of the pair, the connection scope for the per-connection
    properties, the namespace scope otherwise. For BMC (`pmcheck versions`,
    the ledger's flip tests): the explicit ids stay a short list, since a
    free id makes a holding property's deep BMC queries give up (P2 on 7.0
    at depth 4: over 270 s), where `check` proves at every id."""
    if prop.scope_kind == "two-pm":
        return two_pm_scope(version)
    if prop.needs_connections:
        return connection_scope(version, endpoint_slots=endpoint_slots)
    return Scope(version, endpoint_slots=endpoint_slots)


def connection_scope(
    version: KernelVersion, endpoint_slots: int = 2, bitmap_width: int = 32
) -> Scope:
    """The default scope of the per-connection properties: one connection,
    the endpoint types of CONN_FLAG_SETS on 10.0.1.2 / 10.0.2.2 /
    dead:beef:1::2, ids auto or 1, no ports, limits 0..2, and CONN_EVENTS."""
    return Scope(
        version,
        endpoint_slots=endpoint_slots,
        ids=(1,),
        ports=(0,),
        flag_sets=CONN_FLAG_SETS,
        limit_values=(0, 1, 2),
        addrs=tuple(tuple(d.items()) for d in ADDRS if d != ADDRS[1]),
        connections=1,
        events=CONN_EVENTS,
        bitmap_width=bitmap_width,
    )


PROOF_CONNECTIONS = 2  # connections of the connection scope's proof variant


def proof_variant(scope: Scope, endpoint_slots: int) -> Scope:
    """Where the connection scope's jointly proved group (P7, L1) is
    checked: `endpoint_slots` slots, two connections sharing the endpoint
    table, every explicit id and full 256-bit id bitmaps (no id cut). An
    induction proof looks at one step whatever the scope, so it can afford
    what BMC's depth-6 paths cannot (Bitwuzla: 110 s at 8 slots and 2
    connections, 48 s with 1, here)."""
    from dataclasses import replace

    conns = max(scope.connections, PROOF_CONNECTIONS)
    return replace(
        scope, endpoint_slots=endpoint_slots, bitmap_width=256, any_id=True, connections=conns
    )


# The two-PM scope's events: the connection (also with the peer's C flag),
# and the in-kernel peer closing a join (a SOCK_DESTROY on the live
# testbed). Everything else comes from the two PMs themselves.
TWO_PM_EVENTS = (
    "connect 10.0.1.2 10.0.1.1",
    "connect 10.0.1.2 10.0.1.1 peer-deny-join-id0",
    "subflow close 10.0.2.2 10.0.2.1",
)
# One endpoint a side, of the kinds that decide what serves an ADD_ADDR:
# the host's on its second address, the peer's on its second address.
TWO_PM_FLAG_SETS = (FLAG_SUBFLOW, FLAG_LAMINAR, FLAG_SUBFLOW | FLAG_LAMINAR)
PEER_FLAG_SETS = (FLAG_SIGNAL, FLAG_SIGNAL | FLAG_SUBFLOW)
HOST_ADDRESSES = ("10.0.2.2",)
PEER_ADDRESSES = ("10.0.2.1",)


def two_pm_scope(
    version: KernelVersion,
    endpoint_slots: int = 1,
    bitmap_width: int = 32,
    all_orders: bool = True,
) -> Scope:
    """The default scope of the pair properties: one connection between two
    in-kernel PMs, one endpoint on each side (the host's of TWO_PM_FLAG_SETS
    on HOST_ADDRESSES, the peer's of PEER_FLAG_SETS on PEER_ADDRESSES),
    host limits (add_addr_accepted, subflows) (0, 2) by default or (1, 1) /
    (2, 2), the peer's (0, 2), set before connecting; endpoint deletes on
    both; the TWO_PM_EVENTS; and the environment free to deliver in any
    order. Small on purpose: every delivery is a step, and BMC must reach
    the depth of a connect, a close and a delete with their deliveries."""
    return Scope(
        version,
        endpoint_slots=endpoint_slots,
        ids=(1,),
        ports=(0,),
        flag_sets=TWO_PM_FLAG_SETS,
        limit_values=(0, 1, 2),
        addrs=_v4(HOST_ADDRESSES),
        connections=1,
        subflow_slots=3,
        anno_slots=1,
        events=TWO_PM_EVENTS,
        bitmap_width=bitmap_width,
        limit_pairs=((1, 1), (2, 2)),
        peer_limit_pairs=(),
        peer_kernel=True,
        peer_endpoint_slots=1,
        peer_flag_sets=PEER_FLAG_SETS,
        peer_addrs=_v4(PEER_ADDRESSES),
        all_orders=all_orders,
        # A connect, a close and a delete with their deliveries: 13 steps.
        min_depth=14,
    )


# The two-PM proof variant's second address a side (10.0.3.N: a second link).
WIDE_HOST_ADDRESSES = (*HOST_ADDRESSES, "10.0.3.2")
WIDE_PEER_ADDRESSES = (*PEER_ADDRESSES, "10.0.3.1")


def two_pm_proof_variant(scope: Scope) -> Scope:
    """Where the pair's properties (all proved by induction) are checked:
    two addresses and two endpoint slots a side, so each host can hold an
    endpoint on each of its links (every table over those addresses, as
    they take no ports), with the subflow and announcement slots that
    needs. Bitwuzla proves X2 and X4 there in 23 s where Z3's Houdini
    takes 159 s (1 address a side: 16 s)."""
    from dataclasses import replace

    return replace(
        scope,
        endpoint_slots=max(scope.endpoint_slots, 2),
        peer_endpoint_slots=max(scope.peer_endpoint_slots, 2),
        addrs=_v4(WIDE_HOST_ADDRESSES),
        peer_addrs=_v4(WIDE_PEER_ADDRESSES),
        subflow_slots=max(scope.subflow_slots, 4),
        anno_slots=max(scope.anno_slots, 2),
    )


def _v4(addrs: tuple[str, ...]) -> tuple[tuple[tuple[str, Any], ...], ...]:
    """IPv4 testbed addresses as the scope's address choices."""
    universe, _ = _event_universe(True)
    return tuple((("addr.family", AF_INET), ("addr.addr", universe.addr_key(a))) for a in addrs)


def _header(peer_kernel: bool) -> str:
    return "peer pm kernel\n" if peer_kernel else ""


@functools.cache
def _event_universe(peer_kernel: bool = False) -> tuple[Any, Topology]:
    from pmcheck.scenario.lower import Universe
    from pmcheck.scenario.parser import parse_text

    universe = Universe.of(parse_text(_header(peer_kernel), "<scope>"))
    return universe, universe.topology()


@functools.cache
def _lower_event(line: str, peer_kernel: bool = False) -> tuple[str, Inputs]:
    from pmcheck.scenario.lower import lower
    from pmcheck.scenario.parser import parse_text

    universe, _ = _event_universe(peer_kernel)
    # Lowering numbers connections as they open; every event names slot 0
    # here and event_inputs() places it on each connection slot.
    (step,) = parse_text(
        _header(peer_kernel)
        + (
            "connect 10.0.1.2 10.0.1.1\n"
            if not line.startswith(("connect", "peer connect"))
            else ""
        )
        + line,
        "<scope>",
    ).steps[-1:]
    copy = _copy(universe)
    name, inputs = lower(step.command, copy)
    if copy.keys != universe.keys:
        raise ValueError(f"scope event {line!r} names an address outside the testbed")
    return name, inputs._replace(event=inputs.event._replace(conn=0))


def _copy(universe: Any) -> Any:
    import copy

    u = copy.deepcopy(universe)
    u.conns_opened = 1
    return u


def checked_scope(prop: Any, scope: Scope) -> Scope:
    """The scope `prop` is checked in: `scope` with the candidate fixes the
    property assumes (Property.assumes) stacked on its kernel, after any
    patch the user gave."""
    if not prop.assumes:
        return scope
    from dataclasses import replace

    from pmcheck.model.patching import PatchedKernel
    from pmcheck.patches import load

    version = scope.version
    have = tuple(getattr(version, "patches", ()))
    names = {p.name for p in have}
    extra = tuple(load(n, files=False) for n in prop.assumes if n not in names)
    if not extra:
        return scope
    return replace(scope, version=PatchedKernel(version.base, (*have, *extra)))  # type: ignore[arg-type]
