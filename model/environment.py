"""The environment around the host: what happens without anyone typing.

After each scenario verb the live kernel settles: the PM worker runs while
it is scheduled, the peer answers active joins (it completes a join to one
of its addresses on a port it listens on and resets the others), and it
echoes our ADD_ADDRs. `pending_actions` lists those actions in the one
order both the scenario interpreter (pmcheck.interp.settle) and the checker
use, written once over `Ops`; the `environment` rule performs the first one
(and is the identity when the world is quiescent), so a checker path that
runs `environment` until quiescence after each user step is exactly a
scenario run, and its trace replays on the live kernel.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pmcheck.model.backend import Ops, first_true, select
from pmcheck.model.inputs import NO_ADDR, NO_EVENT, NO_LIMITS, EventInput, Outcome
from pmcheck.model.rules import RULES, Ctx, Inputs, rule
from pmcheck.model.state import SUBFLOW_KIND_ACTIVE, Conn, State, Subflow
from pmcheck.model.subflows import u8
from pmcheck.model.topology import Topology, peer_has

ENV_RULES = ("worker", "join result", "add_addr echo")


class Action(NamedTuple):
    """One thing the environment may do next: when, which rule, its inputs."""

    when: Any  # Bool
    rule: str
    event: EventInput


def peer_accepts_join(ops: Ops, conn: Conn, sf: Subflow, topo: Topology) -> Any:
    """The peer completes a join when something listens on the port it went
    to: the peer listens on the connection's port when the host is the
    client; as a client itself it listens nowhere (a server's join to the
    peer's ephemeral port is reset)."""
    if not topo.peer_accepts_joins:
        return ops.false()
    return ops.and_(ops.not_(conn.server), ops.eq(sf.remote_port, conn.port))


def pending_actions(ops: Ops, st: State, topo: Topology) -> list[Action]:
    """Every pending environment action, in the order they are taken:
    connection by connection, the worker first (the msk's work runs before
    the replies to what it sent), then join outcomes by subflow slot, then
    ADD_ADDR echoes by announcement slot. A join to an address nobody has
    stays in SYN_SENT: nothing answers it."""
    out = []
    for ci, c in enumerate(st.conns):
        ev = NO_EVENT._replace(conn=u8(ops, ci))
        work = ops.or_(c.w_rm_addr, c.w_add_addr, c.w_established, c.w_subflow_established)
        out.append(Action(ops.and_(c.used, work), "worker", ev))
        for i, s in enumerate(c.sf):
            syn_sent = ops.and_(
                c.used,
                s.used,
                ops.not_(s.established),
                ops.eq(s.kind, ops.const(SUBFLOW_KIND_ACTIVE, 2)),
                peer_has(ops, topo, s.remote_addr),
            )
            out.append(
                Action(
                    syn_sent,
                    "join result",
                    ev._replace(slot=u8(ops, i), flag=peer_accepts_join(ops, c, s, topo)),
                )
            )
        for i, a in enumerate(c.anno):
            out.append(
                Action(
                    ops.and_(c.used, a.used, a.echo_pending),
                    "add_addr echo",
                    ev._replace(slot=u8(ops, i)),
                )
            )
    return out


def quiescent(ops: Ops, st: State, topo: Topology) -> Any:
    """Nothing is left for the environment to do."""
    return ops.not_(ops.or_(*(a.when for a in pending_actions(ops, st, topo))))


def next_action(st: State, topo: Topology) -> tuple[str, Inputs] | None:
    """The concrete next action (for the scenario interpreter), or None."""
    from pmcheck.model.concrete_ops import CONCRETE

    for a in pending_actions(CONCRETE, st, topo):
        if a.when:
            return a.rule, Inputs(NO_ADDR, NO_LIMITS, a.event)
    return None


@rule("environment", writes=("netns", "conns"))
def environment_step(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """`environment_step` (no kernel function: the world's next move) runs
    the first pending environment action (`worker` = `mptcp_pm_worker`,
    `join result` = `subflow_finish_connect` / reset, `add_addr echo` =
    `mptcp_pm_add_addr_echoed`), or nothing when quiescent (value 0).

    Each kind's rule is built once, with its inputs selected from the
    one-hot choice, so the symbolic encoding grows with the slots only
    through small input multiplexers."""
    ops = k.ops
    actions = pending_actions(ops, st, k.topo)
    pick = first_true(ops, [a.when for a in actions])
    result, ran = st, ops.false()
    for name in reversed(ENV_RULES):
        mine = [(p, a) for p, a in zip(pick, actions, strict=True) if a.rule == name]
        if not mine:  # no connection slots
            continue
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
