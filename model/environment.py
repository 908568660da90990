"""The environment around the host: what happens without anyone typing.

After each scenario verb the live kernel settles: the PM workers run while
scheduled and the messages in flight are delivered. `pending_actions` lists
what may happen next in the one order both the scenario interpreter
(pmcheck.interp.settle) and the checker use, written once over `Ops`; the
`environment` rule performs one of them (and is the identity when the world
is quiescent), so a checker path that runs `environment` until quiescence
after each user step is a scenario run.

With the scripted peer the order is fixed: per connection the worker first
(the msk's work runs before the replies to what it sent), then the peer's
answers to active joins (it completes a join to one of its addresses on a
port it listens on and resets the others; a join to an address nobody has
stays in SYN_SENT), then its echoes of our ADD_ADDRs, then an RM_ADDR it
sent while no subflow could carry it.

With an in-kernel peer (model/wire.py) every pending action may go next:
the `environment` rule's input names the one to run (`choice_of`), and a
choice that names no pending action means the default order, the one
measured on the live kernel: both workers first, then the deliveries,
ADD_ADDRs before echoes, joins, RM_ADDRs, MP_PRIOs and closes, then the
server application's accept(), and last the server's first packet that
fully establishes the client when no ADD_ADDR did (the testbed's data
exchange, after accept()). That is how a server's ADD_ADDR reaches the
client in the same worker run as its ESTABLISHED (the worker handles
ADD_ADDR_RECEIVED first), and why a server cannot yet join an address the
client announces then (its msk has no socket before accept():
MPJoinSynTxCreatSkErr on the testbed).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

from pmcheck.model import wire
from pmcheck.model.backend import Ops, Value, first_true, same, select
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.model.inputs import NO_ADDR, NO_EVENT, NO_LIMITS, EventInput, Outcome
from pmcheck.model.patching import patchable
from pmcheck.model.pm_events import echo_due, peer_rm_due, syn_sent, worker_due
from pmcheck.model.rules import RULES, Ctx, Inputs, rule
from pmcheck.model.state import Conn, State, Subflow, mirror
from pmcheck.model.subflows import u8
from pmcheck.model.topology import Topology, peer_has

SCRIPTED_RULES = ("worker", "join result", "add_addr echo", "peer rm_addr")


class Action(NamedTuple):
    """One thing the environment may do next: when, which rule, its inputs."""

    when: Value  # Bool
    rule: str
    event: EventInput


def peer_accepts_join(ops: Ops, conn: Conn, sf: Subflow, topo: Topology) -> Value:
    """The scripted peer completes a join when something listens on the port
    it went to: the peer listens on the connection's port when the host is
    the client; as a client itself it listens nowhere (a server's join to
    the peer's ephemeral port is reset)."""
    if not topo.peer_accepts_joins:
        return ops.false()
    return ops.and_(ops.not_(conn.server), ops.eq(sf.remote_port, conn.port))


def scripted_actions(ops: Ops, st: State, topo: Topology) -> list[Action]:
    out = []
    for ci, c in enumerate(st.conns):
        ev = NO_EVENT._replace(conn=u8(ops, ci))
        out.append(Action(worker_due(ops, c), "worker", ev))
        for i, s in enumerate(c.sf):
            answered = ops.and_(syn_sent(ops, c, i), peer_has(ops, topo, s.remote_addr))
            flag = peer_accepts_join(ops, c, s, topo)
            out.append(Action(answered, "join result", ev._replace(slot=u8(ops, i), flag=flag)))
        for i in range(len(c.anno)):
            out.append(Action(echo_due(ops, c, i), "add_addr echo", ev._replace(slot=u8(ops, i))))
        out.append(Action(peer_rm_due(ops, c), "peer rm_addr", ev))
    return out


Due = Callable[[Ops, State, Topology | None, int, int], Value]  # (ops, view, topo, ci, slot)


def _join_due(ops: Ops, v: State, t: Topology | None, ci: int, i: int) -> Value:
    s = v.conns[ci].sf[i]
    owned = peer_has(ops, t, s.remote_addr) if t is not None else ops.true()
    return ops.and_(syn_sent(ops, v.conns[ci], i), owned)


# The wire's action kinds in default order: (rule, what is pending, slots per
# connection: None = one, "sf"/"anno" = one per subflow/announcement slot).
WIRE_KINDS: tuple[tuple[str, Due, str | None], ...] = (
    ("wire add_addr", lambda ops, v, t, ci, i: wire.add_addr_in_flight(ops, v, ci, i), "anno"),
    ("wire echo", lambda ops, v, t, ci, i: wire.echo_in_flight(ops, v, ci, i), "anno"),
    ("wire join", _join_due, "sf"),
    ("wire rm_addr", lambda ops, v, t, ci, i: wire.rm_in_flight(ops, v, ci), None),
    ("wire mp_prio", lambda ops, v, t, ci, i: wire.prio_in_flight(ops, v, ci, i), "sf"),
    ("wire close", lambda ops, v, t, ci, i: wire.orphaned(ops, v, ci, i), "sf"),
    ("worker", lambda ops, v, t, ci, i: worker_due(ops, v.conns[ci]), None),
    ("wire accept", lambda ops, v, t, ci, i: wire.accept_due(ops, v, ci), None),
    ("wire established", lambda ops, v, t, ci, i: wire.establishment_due(ops, v, ci), None),
)


def wire_actions(ops: Ops, st: State, topo: Topology | None) -> list[Action]:
    """With an in-kernel peer: per connection, both workers, then each kind
    of delivery (WIRE_KINDS), the host's before the peer's. A join SYN to an
    address the other host does not have gets no answer (SYN_SENT); with no
    topology (a property's view) every SYN counts as on its way."""
    views = ((False, st, topo), (True, mirror(st), topo and topo.mirror()))
    out = []
    for ci, conn in enumerate(st.conns):
        ev = NO_EVENT._replace(conn=u8(ops, ci))
        # Concrete shortcut: an unused slot has nothing pending (the list
        # keeps its length, so environment choices keep their meaning).
        idle = not ops.symbolic and not conn.used
        for name, due, per in WIRE_KINDS:
            slots = {None: 1, "sf": len(conn.sf), "anno": len(conn.anno)}[per]
            for side, view, seen in views:
                sev = ev._replace(side=ops.true() if side else ops.false())
                for i in range(slots):
                    when = False if idle else due(ops, view, seen, ci, i)
                    out.append(
                        Action(when, name, sev if per is None else sev._replace(slot=u8(ops, i)))
                    )
    return out


def pending_actions(ops: Ops, st: State, topo: Topology | None) -> list[Action]:
    """Every environment action, pending or not (`when`), in default order."""
    if st.peer:
        return wire_actions(ops, st, topo)
    assert topo is not None, "the scripted peer's answers depend on the topology"
    return scripted_actions(ops, st, topo)


def quiescent(ops: Ops, st: State, topo: Topology | None) -> Value:
    """Nothing is left for the environment to do (with two in-kernel PMs and
    no topology: no work scheduled and nothing on the wire)."""
    return ops.not_(ops.or_(*(a.when for a in pending_actions(ops, st, topo))))


def next_action(st: State, topo: Topology) -> tuple[str, Inputs] | None:
    """The concrete next action in default order (for the scenario
    interpreter), or None."""
    for a in pending_actions(CONCRETE, st, topo):
        if a.when:
            return a.rule, Inputs(NO_ADDR, NO_LIMITS, a.event)
    return None


KIND_INDEX = {name: i for i, (name, _, _) in enumerate(WIRE_KINDS)}


def choice_of(a: Action) -> EventInput:
    """The `environment` input that names action `a`: its connection, side
    and slot, and its kind (the index in WIRE_KINDS) in `rid`."""
    return NO_EVENT._replace(
        conn=a.event.conn, side=a.event.side, slot=a.event.slot, rid=KIND_INDEX[a.rule]
    )


def names(ops: Ops, choice: EventInput, a: Action) -> Value:
    """Does the environment input `choice` name action `a`? (Its `flag`
    only marks a decoded trace step and is not read.)"""
    c = choice_of(a)
    return ops.and_(
        ops.eq(choice.rid, u8(ops, c.rid)),
        ops.eq(choice.conn, c.conn),
        ops.eq(choice.slot, c.slot),
        ops.eq(choice.side, c.side) if ops.symbolic else bool(choice.side) == bool(c.side),
    )


def choose(ops: Ops, actions: list[Action], choice: EventInput, free: bool) -> list[Value]:
    """One-hot: the action `choice` names (`choice_of`) if it is pending
    (`free` only), else the first pending one: the default order. (The
    default input, NO_EVENT, names the first connection's host worker, the
    first action of the default order, so it means the default too.)"""
    default = first_true(ops, [a.when for a in actions])
    if not free:
        return default
    named = [ops.and_(names(ops, choice, a), a.when) for a in actions]
    some = ops.or_(*named)
    return [ops.ite(some, n, d) for n, d in zip(named, default, strict=True)]


def _run_rule(name: str, k: Ctx, st: State, ev: EventInput) -> State:
    """One environment action: the rule `name` on the event `ev`."""
    return RULES[name](k, st, Inputs(NO_ADDR, NO_LIMITS, ev))[0]


# The environment only runs other rules: its frame is the union of theirs.
_RUNS = (*SCRIPTED_RULES, *(name for name, _, _ in WIRE_KINDS))


@rule(
    "environment",
    writes=tuple(dict.fromkeys(w for name in _RUNS for w in RULES[name].writes)),
    reads_inputs=("event",),
)
@patchable
def environment_step(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """`environment_step` (no kernel function: the world's next move) runs
    one pending environment action, or nothing when quiescent (value 0).
    With an in-kernel peer `event.slot` picks it (see the module docstring).

    Each kind's rule is built once, with its inputs selected from the
    one-hot choice, so the symbolic encoding grows with the slots only
    through small input multiplexers."""
    ops = k.ops
    actions = pending_actions(ops, st, k.topo)
    pick = choose(ops, actions, inp.event, bool(st.peer))
    result, ran = st, ops.false()
    for name in reversed(dict.fromkeys(a.rule for a in actions)):
        mine = [(p, a) for p, a in zip(pick, actions, strict=True) if a.rule == name]
        chosen = ops.or_(*(p for p, _ in mine))
        ev = select(ops, [p for p, _ in mine], [a.event for _, a in mine], mine[0][1].event)
        result = ops.cond(chosen, partial(_run_rule, name, k, st, ev), partial(same, result))
        ran = ops.or_(ran, chosen)
    zero = u8(ops, 0)
    return result, Outcome(zero, zero, ops.ite(ran, u8(ops, 1), zero))
