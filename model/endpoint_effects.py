"""What netlink endpoint commands do to live connections (pm_kernel.c).

The endpoint-table rules call these after changing the table, for every
connection slot: `mptcp_nl_add_subflow_or_signal_addr`,
`mptcp_nl_remove_subflow_and_signal_addr`, `mptcp_nl_remove_id_zero_address`,
`mptcp_pm_flush_addrs_and_subflows`, `mptcp_pm_nl_set_flags_all`.
"""

from __future__ import annotations

from functools import partial

from pmcheck.model.backend import Ops, Value, first_true, same
from pmcheck.model.constants import ALL_IDS, FLAG_BACKUP, FLAG_FULLMESH, FLAG_IMPLICIT, FLAG_SUBFLOW
from pmcheck.model.local_ids import mptcp_pm_mp_prio_send_ack, msk_local_port, set_conn
from pmcheck.model.patching import patchable
from pmcheck.model.pernet import mptcp_addresses_equal
from pmcheck.model.pm_worker import mptcp_pm_create_subflow_or_signal_addr
from pmcheck.model.rm_addr import mptcp_pm_remove_addr, mptcp_pm_rm_subflow, rm_list
from pmcheck.model.rules import Ctx
from pmcheck.model.state import SUBFLOW_KIND_MPC, Conn, Endpoint, Netns, State
from pmcheck.model.subflows import dec, kind, mptcp_endp_get_local_id, u8


def __mark_subflow_endp_available(ops: Ops, conn: Conn, ident: Value) -> Conn:
    """`__mark_subflow_endp_available`: set the id available (id 0 means the
    MPC endpoint's id); if it was in use and id != 0, local_addr_used--,
    guarded by WARN_ON_ONCE(local_addr_used == 0) (the M1 breakage)."""
    bit = ops.ite(ops.eq(ident, u8(ops, 0)), conn.mpc_endpoint_id, ident)
    was_used = ops.not_(ops.bit_test(conn.id_avail, bit))
    count = ops.and_(was_used, ops.ne(ident, u8(ops, 0)))
    zero = ops.eq(conn.local_addr_used, u8(ops, 0))
    return conn._replace(
        id_avail=ops.bit_set(conn.id_avail, bit),
        local_addr_used=ops.ite(
            ops.and_(count, ops.not_(zero)), dec(ops, conn.local_addr_used), conn.local_addr_used
        ),
        warned=ops.or_(conn.warned, ops.and_(count, zero)),
    )


def mptcp_remove_anno_list_by_saddr(ops: Ops, conn: Conn, e: Endpoint) -> tuple[Conn, Value]:
    """`mptcp_remove_anno_list_by_saddr`: drop the announcement of this
    address and port (stopping its timer). Returns (conn, removed)."""
    hits = [ops.and_(a.used, ops.eq(a.addr, e.addr), ops.eq(a.port, e.port)) for a in conn.anno]
    anno = tuple(
        ops.ite(h, a._replace(used=ops.false(), echo_pending=ops.false()), a)
        for h, a in zip(hits, conn.anno, strict=True)
    )
    return conn._replace(anno=anno), ops.or_(*hits)


def mptcp_lookup_subflow_by_saddr(ops: Ops, conn: Conn, e: Endpoint) -> Value:
    """`mptcp_lookup_subflow_by_saddr`: a subflow from this address. With a
    port the subflow's local port must match too, which only the server's
    initial subflow can (its listening port)."""
    return ops.or_(
        *(
            ops.and_(
                s.used,
                mptcp_addresses_equal(
                    ops,
                    s.local_addr,
                    ops.ite(
                        ops.eq(s.kind, kind(ops, SUBFLOW_KIND_MPC)),
                        msk_local_port(conn),
                        ops.const(0, 16),
                    ),
                    e.addr,
                    e.port,
                    ops.ne(e.port, ops.const(0, 16)),
                ),
            )
            for s in conn.sf
        )
    )


@patchable
def for_each_conn(k: Ctx, st: State, fn: Value) -> State:
    """Run `fn(st, ci) -> st` for every connection slot that is in use."""
    for ci, conn in enumerate(st.conns):
        st = k.ops.cond(conn.used, partial(fn, st, ci), partial(same, st))
    return st


@patchable
def mptcp_nl_add_subflow_or_signal_addr(k: Ctx, st: State, new: Endpoint) -> State:
    """After an endpoint add, every (fully established) in-kernel msk: adopt
    it as the MPC endpoint if it is the msk's local address (port-aware
    when the endpoint has a port), then `mptcp_pm_create_subflow_or_signal_addr`."""
    ops = k.ops

    def one(st: State, ci: int) -> State:
        conn = st.conns[ci]
        mine = mptcp_addresses_equal(
            ops,
            conn.local_addr,
            msk_local_port(conn),
            new.addr,
            new.port,
            ops.ne(new.port, ops.const(0, 16)),
        )
        conn = conn._replace(mpc_endpoint_id=ops.ite(mine, new.id, conn.mpc_endpoint_id))
        return mptcp_pm_create_subflow_or_signal_addr(k, set_conn(st, ci, conn), ci)

    return for_each_conn(k, st, one)


@patchable
def mptcp_nl_remove_subflow_and_signal_addr(k: Ctx, st: State, e: Endpoint) -> State:
    """After an endpoint delete, every in-kernel msk: drop its announcement
    (`mptcp_pm_remove_anno_addr`: add_addr_signaled--, and before
    d191101dee25 the id available again; an RM_ADDR with the mapped id, also
    forced when subflows use the address and the endpoint is not implicit),
    close the subflows with its (mapped) local id (`mptcp_pm_rm_subflow`),
    mark a SUBFLOW endpoint available, forget it as MPC endpoint."""
    ops = k.ops

    def one(st: State, ci: int) -> State:
        conn = st.conns[ci]
        has_sf = mptcp_lookup_subflow_by_saddr(ops, conn, e)
        conn, announced = mptcp_remove_anno_list_by_saddr(ops, conn, e)
        # d191101dee25 moved the id release out of mptcp_pm_remove_anno_addr:
        # a signal+subflow endpoint's bit is then still clear when
        # __mark_subflow_endp_available runs, so local_addr_used goes down.
        released = (
            conn.id_avail
            if k.version.rm_endp_always_marks_avail
            else ops.bit_set(conn.id_avail, e.id)
        )
        conn = ops.ite(
            announced,
            conn._replace(id_avail=released, add_addr_signaled=dec(ops, conn.add_addr_signaled)),
            conn,
        )
        local_id = mptcp_endp_get_local_id(ops, conn, e.id)
        force = ops.and_(has_sf, ops.not_(ops.has(e.flags, FLAG_IMPLICIT)))
        conn = mptcp_pm_remove_addr(k, conn, rm_list(ops, local_id), ops.or_(announced, force))
        conn = ops.ite(has_sf, mptcp_pm_rm_subflow(k, conn, st.netns, local_id), conn)
        subflow_endp = ops.has(e.flags, FLAG_SUBFLOW)
        marked = __mark_subflow_endp_available(ops, conn, local_id)
        if k.version.rm_endp_always_marks_avail:
            other = conn._replace(id_avail=ops.bit_set(conn.id_avail, e.id))
            conn = ops.ite(subflow_endp, marked, other)
        else:
            conn = ops.ite(subflow_endp, marked, conn)
        conn = conn._replace(
            mpc_endpoint_id=ops.ite(
                ops.eq(conn.mpc_endpoint_id, e.id), u8(ops, 0), conn.mpc_endpoint_id
            )
        )
        return set_conn(st, ci, conn)

    return for_each_conn(k, st, one)


@patchable
def mptcp_nl_remove_id_zero_address(k: Ctx, st: State, addr: Value, port: Value) -> State:
    """`del id 0 ADDR`: on every msk whose local address is ADDR (port
    compared only if given) and that has subflows: RM_ADDR{0}, close the
    subflows with local id 0, `__mark_subflow_endp_available(msk, 0)`."""
    ops = k.ops

    def one(st: State, ci: int) -> State:
        conn = st.conns[ci]
        mine = ops.and_(
            ops.or_(*(s.used for s in conn.sf)),
            mptcp_addresses_equal(
                ops,
                conn.local_addr,
                msk_local_port(conn),
                addr,
                port,
                ops.ne(port, ops.const(0, 16)),
            ),
        )
        done = mptcp_pm_remove_addr(k, conn, rm_list(ops, u8(ops, 0)), ops.true())
        done = mptcp_pm_rm_subflow(k, done, st.netns, u8(ops, 0))
        done = __mark_subflow_endp_available(ops, done, u8(ops, 0))
        return set_conn(st, ci, ops.ite(mine, done, conn))

    return for_each_conn(k, st, one)


@patchable
def mptcp_pm_flush_addrs_and_subflows(k: Ctx, st: State, flushed: Netns) -> State:
    """Flush, per msk: announcements of flushed endpoints are dropped
    (add_addr_signaled -= their number, one RM_ADDR for those only: F7),
    subflows from flushed addresses close (the initial one too), then
    id_avail is refilled and local_addr_used = 0. mpc_endpoint_id stays (F3)."""
    ops = k.ops

    def one(st: State, ci: int) -> State:
        conn = st.conns[ci]
        ns = st.netns
        ids, alist = [], ops.const(0, 256)
        for e in flushed.endp:
            has_sf = ops.and_(e.used, mptcp_lookup_subflow_by_saddr(ops, conn, e))
            after, announced = mptcp_remove_anno_list_by_saddr(ops, conn, e)
            announced = ops.and_(e.used, announced)
            conn = ops.ite(
                announced, after._replace(add_addr_signaled=dec(ops, after.add_addr_signaled)), conn
            )
            ident = mptcp_endp_get_local_id(ops, conn, e.id)
            alist = ops.ite(announced, ops.bit_set(alist, ident), alist)
            ids.append((has_sf, ident))
        nonempty = ops.ne(alist, ops.const(0, 256))
        conn = mptcp_pm_remove_addr(k, conn, alist, nonempty)
        for has_sf, ident in ids:  # mptcp_pm_rm_subflow(slist)
            conn = ops.ite(has_sf, mptcp_pm_rm_subflow(k, conn, ns, ident), conn)
        conn = conn._replace(id_avail=ops.const(ALL_IDS, 256), local_addr_used=u8(ops, 0))
        return set_conn(st, ci, conn)

    return for_each_conn(k, st, one)


@patchable
def mptcp_pm_nl_set_flags_all(k: Ctx, st: State, e: Endpoint, changed: Value) -> State:
    """After set-flags: a BACKUP change sends MP_PRIO on the *first* subflow
    from that address only (F5; since 7.1 the first that can send); a
    FULLMESH change on a SUBFLOW endpoint (`mptcp_pm_nl_fullmesh`) closes its
    subflows, marks it available and reruns
    `mptcp_pm_create_subflow_or_signal_addr` in the new mode."""
    ops = k.ops
    backup_changed = ops.has(changed, FLAG_BACKUP)
    remesh = ops.and_(ops.has(e.flags, FLAG_SUBFLOW), ops.has(changed, FLAG_FULLMESH))
    new_backup = ops.has(e.flags, FLAG_BACKUP)

    def one(st: State, ci: int) -> State:
        conn = st.conns[ci]
        live = ops.or_(*(s.used for s in conn.sf))
        matching = [ops.and_(s.used, ops.eq(s.local_addr, e.addr)) for s in conn.sf]
        if k.version.mp_prio_skips_inactive:  # 166b78344031: only subflows that can send
            matching = [ops.and_(m, s.established) for m, s in zip(matching, conn.sf, strict=True)]
        firsts = [ops.and_(backup_changed, f) for f in first_true(ops, matching)]
        conn = mptcp_pm_mp_prio_send_ack(k, conn, firsts, new_backup)
        local_id = mptcp_endp_get_local_id(ops, conn, e.id)
        meshed = mptcp_pm_rm_subflow(k, conn, st.netns, local_id)
        meshed = __mark_subflow_endp_available(ops, meshed, local_id)
        st2 = set_conn(st, ci, meshed)
        st2 = mptcp_pm_create_subflow_or_signal_addr(k, st2, ci)
        st1 = set_conn(st, ci, conn)
        return ops.ite(live, ops.ite(remesh, st2, st1), st)

    return for_each_conn(k, st, one)
