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
stays in SYN_SENT), then its echoes of our ADD_ADDRs.

With an in-kernel peer (model/wire.py) every pending action may go next:
the `environment` rule takes the index of the one to run (`event.slot`),
and an index that names no pending action means the default order, the
one measured on the live kernel: both workers first, then the deliveries,
ADD_ADDRs before echoes, joins, RM_ADDRs, MP_PRIOs, closes and the
server's first packet. That is how a server's ADD_ADDR reaches the client
in the same worker run as its ESTABLISHED (the worker handles
ADD_ADDR_RECEIVED first).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pmcheck.model import wire
from pmcheck.model.backend import Ops, first_true, select
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.model.inputs import NO_ADDR, NO_EVENT, NO_LIMITS, EventInput, Outcome
from pmcheck.model.pm_events import echo_due, syn_sent
from pmcheck.model.rules import RULES, Ctx, Inputs, rule
from pmcheck.model.state import Conn, State, Subflow, mirror
from pmcheck.model.subflows import u8
from pmcheck.model.topology import Topology, peer_has

SCRIPTED_RULES = ("worker", "join result", "add_addr echo")
DEFAULT_ORDER = 255  # an environment choice that names no action: the default order


class Action(NamedTuple):
    """One thing the environment may do next: when, which rule, its inputs."""

    when: Any  # Bool
    rule: str
    event: EventInput


def peer_accepts_join(ops: Ops, conn: Conn, sf: Subflow, topo: Topology) -> Any:
    """The scripted peer completes a join when something listens on the port
    it went to: the peer listens on the connection's port when the host is
    the client; as a client itself it listens nowhere (a server's join to
    the peer's ephemeral port is reset)."""
    if not topo.peer_accepts_joins:
        return ops.false()
    return ops.and_(ops.not_(conn.server), ops.eq(sf.remote_port, conn.port))


def worker_due(ops: Ops, c: Conn) -> Any:
    """Some PM work is scheduled on this msk (`mptcp_pm_worker` has a bit)."""
    return ops.and_(
        c.used, ops.or_(c.w_rm_addr, c.w_add_addr, c.w_established, c.w_subflow_established)
    )


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
    return out


def wire_actions(ops: Ops, st: State, topo: Topology) -> list[Action]:
    """With an in-kernel peer: per connection, both workers, then each kind
    of delivery, the host's message before the peer's. A join SYN to an
    address the other host does not have gets no answer (SYN_SENT)."""
    views = ((False, st, topo), (True, mirror(st), topo.mirror()))
    out = []
    for ci in range(len(st.conns)):
        ev = NO_EVENT._replace(conn=u8(ops, ci))

        def each(name: str, due: Any, slots: int | None = None, ev: EventInput = ev) -> None:
            for side, view, seen in views:
                sev = ev._replace(side=ops.true() if side else ops.false())
                if slots is None:
                    out.append(Action(due(view, seen), name, sev))
                    continue
                for i in range(slots):
                    out.append(Action(due(view, seen, i), name, sev._replace(slot=u8(ops, i))))

        n_sf, n_anno = len(st.conns[ci].sf), len(st.conns[ci].anno)

        def join_due(v: State, t: Topology, i: int, ci: int = ci) -> Any:
            s = v.conns[ci].sf[i]
            return ops.and_(syn_sent(ops, v.conns[ci], i), peer_has(ops, t, s.remote_addr))

        each("worker", lambda v, t, ci=ci: worker_due(ops, v.conns[ci]))
        each("wire add_addr", lambda v, t, i, ci=ci: wire.add_addr_in_flight(ops, v, ci, i), n_anno)
        each("wire echo", lambda v, t, i, ci=ci: wire.echo_in_flight(ops, v, ci, i), n_anno)
        each("wire join", join_due, n_sf)
        each("wire rm_addr", lambda v, t, ci=ci: wire.rm_in_flight(ops, v, ci))
        each("wire mp_prio", lambda v, t, i, ci=ci: wire.prio_in_flight(ops, v, ci, i), n_sf)
        each("wire close", lambda v, t, i, ci=ci: wire.orphaned(ops, v, ci, i), n_sf)
        each("wire established", lambda v, t, ci=ci: wire.establishment_due(ops, v, ci))
    return out


def pending_actions(ops: Ops, st: State, topo: Topology) -> list[Action]:
    """Every environment action, pending or not (`when`), in default order."""
    return wire_actions(ops, st, topo) if st.peer else scripted_actions(ops, st, topo)


def quiescent(ops: Ops, st: State, topo: Topology) -> Any:
    """Nothing is left for the environment to do."""
    return ops.not_(ops.or_(*(a.when for a in pending_actions(ops, st, topo))))


def next_action(st: State, topo: Topology) -> tuple[str, Inputs] | None:
    """The concrete next action in default order (for the scenario
    interpreter), or None."""
    for a in pending_actions(CONCRETE, st, topo):
        if a.when:
            return a.rule, Inputs(NO_ADDR, NO_LIMITS, a.event)
    return None


def choose(ops: Ops, actions: list[Action], choice: Any, free: bool) -> list[Any]:
    """One-hot: the action `choice` names if it is pending (`free` only),
    else the first pending one."""
    default = first_true(ops, [a.when for a in actions])
    if not free:
        return default
    named = [
        ops.and_(ops.eq(choice, u8(ops, i)), a.when) if i < DEFAULT_ORDER else ops.false()
        for i, a in enumerate(actions)
    ]
    some = ops.or_(*named)
    return [ops.ite(some, n, d) for n, d in zip(named, default, strict=True)]


@rule("environment", writes=("netns", "conns", "peer"), reads_inputs=("event",))
def environment_step(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """`environment_step` (no kernel function: the world's next move) runs
    one pending environment action, or nothing when quiescent (value 0).
    With an in-kernel peer `event.slot` picks it (see the module docstring).

    Each kind's rule is built once, with its inputs selected from the
    one-hot choice, so the symbolic encoding grows with the slots only
    through small input multiplexers."""
    ops = k.ops
    actions = pending_actions(ops, st, k.topo)
    pick = choose(ops, actions, inp.event.slot, bool(st.peer))
    result, ran = st, ops.false()
    for name in reversed(dict.fromkeys(a.rule for a in actions)):
        mine = [(p, a) for p, a in zip(pick, actions, strict=True) if a.rule == name]
        chosen = ops.or_(*(p for p, _ in mine))
        ev = select(ops, [p for p, _ in mine], [a.event for _, a in mine], mine[0][1].event)
        result = ops.cond(
            chosen,
            lambda name=name, ev=ev: RULES[name](k, st, Inputs(NO_ADDR, NO_LIMITS, ev))[0],
            lambda result=result: result,
        )
        ran = ops.or_(ran, chosen)
    zero = u8(ops, 0)
    return result, Outcome(zero, zero, ops.ite(ran, u8(ops, 1), zero))
