"""RM_ADDR and subflow removal (pm.c `mptcp_pm_rm_addr_or_subflow` and its
callers, pm_kernel.c `mptcp_pm_nl_rm_addr`), and sending an RM_ADDR
(`mptcp_pm_remove_addr`)."""

from __future__ import annotations

from functools import partial

from pmcheck.model.backend import Ops, Value, note, same
from pmcheck.model.patching import patchable
from pmcheck.model.rules import Ctx
from pmcheck.model.state import Conn, Netns
from pmcheck.model.subflows import close_subflows, dec, u8


def rm_list(ops: Ops, ident: Value) -> Value:
    """A one-id `struct mptcp_rm_list`, as a 256-bit set of ids."""
    return ops.bit_set(ops.const(0, 256), ident)


@patchable
def mptcp_pm_remove_addr(k: Ctx, conn: Conn, ids: Value, when: Value) -> Conn:
    """`mptcp_pm_remove_addr`: send an RM_ADDR listing `ids` (a 256-bit set).
    Dropped (never retried) while another signal is pending. Only an
    in-kernel peer reads it; the scripted peer's reaction is the scenario's."""
    if not k.topo.peer_kernel:
        return conn
    ops = k.ops
    send = ops.and_(when, ops.eq(conn.rm_tx, ops.const(0, 256)))
    return conn._replace(rm_tx=ops.ite(send, ids, conn.rm_tx))


RM_ADDR_DEC = "mptcp_pm_nl_rm_addr: remote id {id} removed: add_addr_accepted {n}"
RM_ADDR_NONE = (
    "mptcp_pm_rm_addr_or_subflow: no subflow uses the removed id: add_addr_accepted stays {n}"
)
RM_ADDR_WARN = "mptcp_pm_nl_rm_addr: remote id {id}, add_addr_accepted already 0: WARN_ON_ONCE"


def mptcp_pm_nl_rm_addr(ops: Ops, conn: Conn, ns: Netns, rm_id: Value) -> Conn:
    """`mptcp_pm_nl_rm_addr`: give back an accepted ADD_ADDR (not id 0);
    WARN_ON_ONCE if the counter is already 0 (it leaks when the subflow had
    closed before the RM_ADDR)."""
    zero = ops.eq(conn.add_addr_accepted, u8(ops, 0))
    nonzero_id = ops.ne(rm_id, u8(ops, 0))
    accepted = dec(ops, conn.add_addr_accepted)
    note(ops, ops.and_(nonzero_id, ops.not_(zero)), RM_ADDR_DEC, id=rm_id, n=accepted)
    note(ops, ops.and_(nonzero_id, zero), RM_ADDR_WARN, id=rm_id)
    done = conn._replace(
        add_addr_accepted=accepted,
        accept_addr=ops.or_(conn.accept_addr, ops.ult(accepted, ns.limit_add_addr_accepted)),
    )
    return ops.ite(nonzero_id, ops.ite(zero, conn._replace(warned=ops.true()), done), conn)


@patchable
def mptcp_pm_rm_subflow(k: Ctx, conn: Conn, ns: Netns, local_id: Value) -> Conn:
    """`mptcp_pm_rm_subflow` -> `mptcp_pm_rm_addr_or_subflow(RMSUBFLOW)`:
    close every live subflow whose (mapped) local id is `local_id`."""
    ops = k.ops
    conn, _ = close_subflows(ops, conn, ns, [ops.eq(s.local_id, local_id) for s in conn.sf])
    return conn


@patchable
def mptcp_pm_rm_addr_recv(k: Ctx, conn: Conn, ns: Netns) -> Conn:
    """`mptcp_pm_rm_addr_recv` -> `mptcp_pm_rm_addr_or_subflow(RMADDR)` on
    rm_list_rx: close every live subflow whose remote id is listed; then,
    once per listed id that closed one of our active joins,
    `mptcp_pm_nl_rm_addr`. (The kernel interleaves the two per id; they
    touch disjoint counters, so the order does not matter.)"""
    ops = k.ops
    before = conn.sf
    match = [ops.bit_test(conn.rm_rx, s.remote_id) for s in before]
    hit = ops.or_(*(ops.and_(m, s.used) for m, s in zip(match, before, strict=True)))
    note(ops, ops.not_(hit), RM_ADDR_NONE, n=conn.add_addr_accepted)
    conn, closed_join = close_subflows(ops, conn, ns, match)
    for i, s in enumerate(before):
        earlier = [
            ops.and_(closed_join[j], ops.eq(before[j].remote_id, s.remote_id)) for j in range(i)
        ]
        first_of_id = ops.and_(closed_join[i], ops.not_(ops.or_(*earlier)))
        # Lazily: the concrete reading runs (and notes) only the call the kernel makes.
        conn = ops.cond(
            first_of_id,
            partial(mptcp_pm_nl_rm_addr, ops, conn, ns, s.remote_id),
            partial(same, conn),
        )
    return conn
