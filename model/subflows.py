"""A connection's subflow table and the accounting around it (pm.c,
protocol.c, protocol.h, subflow.c).

Helpers here take and return one `Conn`. Loops over subflow slots unroll in
slot order on both backends. Each function carries the name of the kernel
function it models.
"""

from __future__ import annotations

from pmcheck.model.backend import Ops, Value, first_true
from pmcheck.model.patching import patchable
from pmcheck.model.rules import Ctx
from pmcheck.model.state import (
    NO_TWIN,
    SUBFLOW_KIND_ACTIVE,
    SUBFLOW_KIND_MPC,
    Conn,
    Netns,
    Subflow,
)
from pmcheck.model.topology import host_has, is_v4, reachable


def u8(ops: Ops, v: int) -> Value:
    return ops.const(v, 8)


def inc(ops: Ops, x: Value) -> Value:
    return ops.add(x, u8(ops, 1), 8)


def dec(ops: Ops, x: Value) -> Value:
    return ops.sub(x, u8(ops, 1), 8)


def kind(ops: Ops, k: int) -> Value:
    return ops.const(k, 2)


def mptcp_pm_addr_families_match(ops: Ops, conn: Conn, loc: Value, rem: Value) -> Value:
    """`mptcp_pm_addr_families_match`: an AF_INET msk takes only v4 pairs; an
    AF_INET6 one (not v6only) any pair whose v4-ness agrees."""
    lv, rv = is_v4(ops, loc), is_v4(ops, rem)
    same = ops.eq(ops.ite(lv, u8(ops, 1), u8(ops, 0)), ops.ite(rv, u8(ops, 1), u8(ops, 0)))
    return ops.ite(conn.v4, ops.and_(lv, rv), same)


def mptcp_endp_get_local_id(ops: Ops, conn: Conn, ident: Value) -> Value:
    """`mptcp_endp_get_local_id`: the MPC endpoint is id 0 on this msk."""
    return ops.ite(ops.eq(conn.mpc_endpoint_id, ident), u8(ops, 0), ident)


@patchable
def mptcp_pm_add_addr_c_flag_case(k: Ctx, conn: Conn, ns: Netns) -> Value:
    """`mptcp_pm_add_addr_c_flag_case` (protocol.h): the peer sent the C
    flag, no local address is used, the add_addr_accepted limit is 0 and a
    subflow fits. It reads local_addr_used, not add_addr_accepted, so
    laminar-only endpoints keep it true after the first ADD_ADDR (ledger
    CFLAG)."""
    ops = k.ops
    return ops.and_(
        conn.deny_join_id0,
        ops.eq(conn.local_addr_used, u8(ops, 0)),
        ops.eq(ns.limit_add_addr_accepted, u8(ops, 0)),
        ops.ult(conn.extra_subflows, ns.limit_extra_subflows),
    )


def mptcp_pm_nl_check_work_pending(ops: Ops, conn: Conn, ns: Netns) -> tuple[Conn, Value]:
    """`mptcp_pm_nl_check_work_pending`: clear work_pending when the subflow
    limit is hit *exactly* (`==`) or no endpoint id is still available.
    Returns the connection and whether work is still pending."""
    none_left = ops.eq(ops.band(ns.id_bitmap, conn.id_avail), ops.const(0, 256))
    stop = ops.or_(ops.eq(conn.extra_subflows, ns.limit_extra_subflows), none_left)
    return conn._replace(work_pending=ops.and_(conn.work_pending, ops.not_(stop))), ops.not_(stop)


def __mptcp_pm_close_subflow(ops: Ops, conn: Conn, ns: Netns) -> Conn:
    """`__mptcp_pm_close_subflow` (protocol.h): extra_subflows--, accept joins
    again below the limit. `mptcp_pm_close_subflow` is this under the lock."""
    extra = dec(ops, conn.extra_subflows)
    return conn._replace(
        extra_subflows=extra,
        accept_subflow=ops.or_(conn.accept_subflow, ops.ult(extra, ns.limit_extra_subflows)),
    )


def mptcp_pm_subflow_check_next(ops: Ops, conn: Conn, ns: Netns, is_join: Value) -> Conn:
    """`mptcp_pm_subflow_check_next` (pm.c), run when a subflow closes: joins
    (request_join or mp_join) give back their extra_subflows slot; then, if
    work is still pending, schedule SUBFLOW_ESTABLISHED so the PM tries the
    next endpoint."""
    act = ops.or_(conn.work_pending, is_join)
    closed = ops.ite(is_join, __mptcp_pm_close_subflow(ops, conn, ns), conn)
    checked, pending = mptcp_pm_nl_check_work_pending(ops, closed, ns)
    checked = checked._replace(
        w_subflow_established=ops.or_(checked.w_subflow_established, pending)
    )
    return ops.ite(act, checked, conn)


def mptcp_pm_subflow_established(ops: Ops, conn: Conn) -> Conn:
    """`mptcp_pm_subflow_established`: schedule SUBFLOW_ESTABLISHED if work
    is pending."""
    return conn._replace(
        w_subflow_established=ops.or_(conn.w_subflow_established, conn.work_pending)
    )


def add_subflow(ops: Ops, conn: Conn, sf: Subflow, when: Value) -> tuple[Conn, list[Value]]:
    """Put `sf` in the first free slot (when `when` holds); returns the
    connection and the one-hot slot it went to. No free slot is a scope
    overflow, flagged so a run can refuse to report on it."""
    free = first_true(ops, [ops.not_(s.used) for s in conn.sf])
    placed = [ops.and_(when, f) for f in free]
    slots = tuple(ops.ite(p, sf, s) for p, s in zip(placed, conn.sf, strict=True))
    full = ops.and_(when, ops.not_(ops.or_(*free)))
    return conn._replace(sf=slots, overflow=ops.or_(conn.overflow, full)), placed


def slot_index(ops: Ops, onehot: list[Value]) -> Value:
    """The index (u8) of a one-hot slot vector; NO_TWIN when none is set."""
    out = u8(ops, NO_TWIN)
    for i, hit in reversed(list(enumerate(onehot))):
        out = ops.ite(hit, u8(ops, i), out)
    return out


def close_subflows(ops: Ops, conn: Conn, ns: Netns, match: list[Value]) -> tuple[Conn, list[Value]]:
    """`mptcp_close_ssk` on every matching live subflow, in slot order, each
    followed by `mptcp_pm_subflow_check_next`. Returns the connection and,
    per slot, whether an active join (`request_join`) was closed there."""
    closed_join = []
    for i, m in enumerate(match):
        s = conn.sf[i]
        hit = ops.and_(m, s.used)
        is_join = ops.ne(s.kind, kind(ops, SUBFLOW_KIND_MPC))
        after = conn._replace(sf=replace_slot(conn.sf, i, s._replace(used=ops.false())))
        after = mptcp_pm_subflow_check_next(ops, after, ns, is_join)
        conn = ops.ite(hit, after, conn)
        closed_join.append(ops.and_(hit, ops.eq(s.kind, kind(ops, SUBFLOW_KIND_ACTIVE))))
    return conn, closed_join


def replace_slot(slots: tuple, i: int, new: Value) -> tuple:
    return (*slots[:i], new, *slots[i + 1 :])


@patchable
def __mptcp_subflow_connect(
    k: Ctx,
    conn: Conn,
    ns: Netns,
    when: Value,
    local_addr: Value,
    local_id: Value,
    remote_addr: Value,
    remote_id: Value,
    remote_port: Value,
    backup: Value,
    any_local: Value = False,
) -> tuple[Conn, Value]:
    """`__mptcp_subflow_connect` (subflow.c) for one (local, remote) pair,
    when `when`.

    The subflow was already counted in extra_subflows. Creating its socket
    fails while the msk has none (a server not yet accept()ed:
    `mptcp_subflow_create_socket`), and binding the local address fails when
    the host does not have it: `mptcp_pm_close_subflow` undoes the count.
    Otherwise the join SYN is out: a live subflow whose outcome (established
    / refused) is an environment event. An ADDR_ANY local (`any_local`)
    always binds; its address (routing's source) and id were resolved by
    the caller. `kernel_connect` fails at once when no route leads from the
    local to the remote address (`reachable`): the subflow is unlinked and
    the count undone, as for a failed bind. Returns the connection and
    whether the call returned 0.
    """
    ops = k.ops
    bound = ops.and_(
        conn.attached,
        ops.or_(any_local, host_has(ops, k.topo, local_addr)),
        reachable(ops, k.topo, local_addr, remote_addr),
    )
    sf = Subflow(
        used=ops.true(),
        established=ops.false(),
        kind=kind(ops, SUBFLOW_KIND_ACTIVE),
        local_id=local_id,
        remote_id=remote_id,
        local_addr=local_addr,
        remote_addr=remote_addr,
        remote_port=remote_port,
        backup=backup,
        remote_backup=ops.false(),
        twin=u8(ops, NO_TWIN),
        prio_tx=ops.false(),
        fin_rx=ops.false(),
    )
    ok = ops.and_(when, bound)
    conn, _ = add_subflow(ops, conn, sf, ok)
    conn = ops.ite(ops.and_(when, ops.not_(bound)), __mptcp_pm_close_subflow(ops, conn, ns), conn)
    return conn, ok
