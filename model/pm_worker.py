"""The in-kernel PM's per-connection work (pm_kernel.c, pm.c): what
`mptcp_pm_worker` runs, and `mptcp_pm_create_subflow_or_signal_addr`, which
the netlink handlers run too.

Each function is named after the kernel function it models and takes the
whole `State` plus a connection index `ci` (a Python int: callers unroll over
connection slots), because some paths also write the endpoint table
(`mptcp_pm_get_local_id` may add an IMPLICIT endpoint).
"""

from __future__ import annotations

from functools import partial

from pmcheck.model.backend import Ops, Value, first_true, loop_while, note, same
from pmcheck.model.constants import FLAG_BACKUP, FLAG_FULLMESH, FLAG_SUBFLOW
from pmcheck.model.fillers import fill_local_addresses_vec, no_locals
from pmcheck.model.local_ids import (
    mptcp_mpc_endpoint_setup,
    mptcp_pm_get_local_id,
    mptcp_pm_nl_is_backup,
    select_local_address,
    select_signal_address,
    set_conn,
)
from pmcheck.model.patching import patchable
from pmcheck.model.pernet import mptcp_addresses_equal
from pmcheck.model.rm_addr import mptcp_pm_rm_addr_recv
from pmcheck.model.rules import Ctx
from pmcheck.model.state import Anno, Conn, Endpoint, Netns, State
from pmcheck.model.subflows import (
    __mptcp_pm_close_subflow,
    __mptcp_subflow_connect,
    inc,
    mptcp_endp_get_local_id,
    mptcp_pm_add_addr_c_flag_case,
    mptcp_pm_addr_families_match,
    mptcp_pm_nl_check_work_pending,
    u8,
)
from pmcheck.model.topology import reachable, route_source

Remote = tuple[Value, Value, Value, Value]  # (valid, addr, id, port)


def mptcp_pm_alloc_anno_list(
    ops: Ops, conn: Conn, e: Endpoint, sent_id: Value, when: Value
) -> tuple[Conn, Value]:
    """`mptcp_pm_alloc_anno_list`: a second entry for the same address and
    port trips WARN_ON_ONCE and fails. The entry keeps the endpoint id (F8);
    `sent_id` is what the ADD_ADDR carries. Returns (conn, failed)."""
    dup = ops.or_(
        *(ops.and_(a.used, ops.eq(a.addr, e.addr), ops.eq(a.port, e.port)) for a in conn.anno)
    )
    failed = ops.and_(when, dup)
    ok = ops.and_(when, ops.not_(dup))
    free = first_true(ops, [ops.not_(a.used) for a in conn.anno])
    entry = Anno(ops.true(), e.id, e.addr, e.port, ops.true(), sent_id, ops.false())
    anno = tuple(ops.ite(ops.and_(ok, f), entry, a) for f, a in zip(free, conn.anno, strict=True))
    full = ops.and_(ok, ops.not_(ops.or_(*free)))
    return conn._replace(
        anno=anno, warned=ops.or_(conn.warned, failed), overflow=ops.or_(conn.overflow, full)
    ), failed


def fill_remote_addr(ops: Ops, conn: Conn, when: Value, loc: Endpoint) -> tuple[Conn, Remote]:
    """`fill_remote_addr`: the initial remote address, id 0, unless the peer
    set C or the families differ; counted in extra_subflows."""
    ok = ops.and_(
        when,
        ops.not_(conn.deny_join_id0),
        mptcp_pm_addr_families_match(ops, conn, loc.addr, conn.remote_addr),
    )
    extra = ops.ite(ok, inc(ops, conn.extra_subflows), conn.extra_subflows)
    return conn._replace(extra_subflows=extra), (ok, conn.remote_addr, u8(ops, 0), conn.port)


def fill_remote_addresses_fullmesh(
    ops: Ops, conn: Conn, ns: Netns, when: Value, loc: Endpoint, local_id: Value
) -> tuple[Conn, list[Remote]]:
    """`fill_remote_addresses_fullmesh`: one remote per distinct remote id
    among the subflows, skipping ids this local id already reaches and id 0
    under C; each counted, stopping at the limit."""
    unavail = ops.const(0, 256)
    for s in conn.sf:
        mine = ops.and_(s.used, ops.eq(s.local_id, local_id))
        unavail = ops.ite(mine, ops.bit_set(unavail, s.remote_id), unavail)
    stopped, extra, out = ops.false(), conn.extra_subflows, []
    for s in conn.sf:
        cand = ops.and_(
            when,
            ops.not_(stopped),
            s.used,
            ops.not_(ops.and_(conn.deny_join_id0, ops.eq(s.remote_id, u8(ops, 0)))),
            ops.not_(ops.bit_test(unavail, s.remote_id)),
            mptcp_pm_addr_families_match(ops, conn, loc.addr, s.remote_addr),
        )
        unavail = ops.ite(cand, ops.bit_set(unavail, s.remote_id), unavail)
        extra = ops.ite(cand, inc(ops, extra), extra)
        stopped = ops.or_(stopped, ops.and_(cand, ops.ule(ns.limit_extra_subflows, extra)))
        out.append((cand, s.remote_addr, s.remote_id, s.remote_port))
    return conn._replace(extra_subflows=extra), out


@patchable
def fill_remote_addresses_vec(
    k: Ctx, conn: Conn, ns: Netns, when: Value, loc: Endpoint, local_id: Value
) -> tuple[Conn, list[Remote]]:
    """`fill_remote_addresses_vec`: the remotes for one subflow endpoint,
    fullmesh or not."""
    ops = k.ops
    fullmesh = ops.has(loc.flags, FLAG_FULLMESH)
    conn, single = fill_remote_addr(ops, conn, ops.and_(when, ops.not_(fullmesh)), loc)
    conn, mesh = fill_remote_addresses_fullmesh(
        ops, conn, ns, ops.and_(when, fullmesh), loc, local_id
    )
    return conn, [single, *mesh]


ANNOUNCED = "mptcp_pm_create_subflow_or_signal_addr: ADD_ADDR {addr} id {id}, add_addr_signaled {n}"
SUBFLOW_FROM = (
    "mptcp_pm_create_subflow_or_signal_addr: subflow endpoint {addr} id {id}, local_addr_used {n}"
)


@patchable
def announce_signal_address(k: Ctx, conn: Conn, ns: Netns) -> tuple[Conn, Value, Value, Endpoint]:
    """The ADD_ADDR half of `mptcp_pm_create_subflow_or_signal_addr`: if
    add_addr_signaled < endp_signal_max, the first available SIGNAL endpoint
    is announced (`mptcp_pm_alloc_anno_list`, id marked used, sent as id 0
    if it is the MPC endpoint). Returns (conn, failed, signal_and_subflow,
    the entry as the subflow loop will reuse it)."""
    ops = k.ops
    want = ops.ult(conn.add_addr_signaled, ns.endp_signal_max)
    found, sig = select_signal_address(ops, conn, ns)
    do_sig = ops.and_(want, found)
    sent_id = mptcp_endp_get_local_id(ops, conn, sig.id)
    conn, failed = mptcp_pm_alloc_anno_list(ops, conn, sig, sent_id, do_sig)
    sent = ops.and_(do_sig, ops.not_(failed))
    announced = conn._replace(
        id_avail=ops.bit_clear(conn.id_avail, sig.id),
        add_addr_signaled=inc(ops, conn.add_addr_signaled),
    )
    conn = ops.ite(sent, announced, conn)
    note(ops, sent, ANNOUNCED, addr=sig.addr, id=sent_id, n=announced.add_addr_signaled)
    # "Special case for ID0": the announced entry's id is rewritten to 0 when
    # it is the MPC endpoint's, and the subflow loop reuses that very entry,
    # so its MPC test (id == mpc_endpoint_id) then fails: local_addr_used++
    # and local id 0. Reachable with a stale mpc_endpoint_id (F3).
    sas = ops.and_(sent, ops.has(sig.flags, FLAG_SUBFLOW))
    return conn, failed, sas, sig._replace(id=sent_id)


@patchable
def mptcp_pm_create_subflow_or_signal_addr(k: Ctx, st: State, ci: int) -> State:
    """`mptcp_pm_create_subflow_or_signal_addr` (pm_kernel.c): MPC endpoint
    setup; at most one ADD_ADDR; then, unless the C-flag case holds,
    subflows from SUBFLOW endpoints while local_addr_used < endp_subflow_max
    and extra_subflows < limit (the signalled endpoint first if it also has
    SUBFLOW); then `mptcp_pm_nl_check_work_pending`.

    The ADD_ADDR is modelled as sent at once, so the "previous ADD_ADDR
    still pending" early return never triggers; its echo is an event.
    """
    ops, ns = k.ops, st.netns
    conn = mptcp_mpc_endpoint_setup(k, st.conns[ci], ns)
    conn, failed, sas, sig = announce_signal_address(k, conn, ns)

    def one_endpoint(state: tuple[Conn, Value], _t: int) -> tuple[tuple[Conn, Value], Value]:
        c, use_sas = state
        picked, sel = select_local_address(ops, c, ns)
        loc = ops.ite(use_sas, sig, sel)
        go = ops.or_(use_sas, picked)  # else: break
        is_mpc = ops.eq(loc.id, c.mpc_endpoint_id)
        local_id = ops.ite(is_mpc, u8(ops, 0), loc.id)
        c = c._replace(
            id_avail=ops.bit_clear(c.id_avail, loc.id),
            local_addr_used=ops.ite(is_mpc, c.local_addr_used, inc(ops, c.local_addr_used)),
        )
        note(ops, go, SUBFLOW_FROM, addr=loc.addr, id=loc.id, n=c.local_addr_used)
        c, remotes = fill_remote_addresses_vec(k, c, ns, ops.true(), loc, local_id)
        backup = ops.has(loc.flags, FLAG_BACKUP)
        for ok, raddr, rid, rport in remotes:
            c, _ = __mptcp_subflow_connect(
                k, c, ns, ok, loc.addr, local_id, raddr, rid, rport, backup
            )
        return ops.ite(go, (c, ops.false()), state), go

    def room(state: tuple[Conn, Value]) -> Value:
        c = state[0]
        return ops.and_(
            ops.ult(c.local_addr_used, ns.endp_subflow_max),
            ops.ult(c.extra_subflows, ns.limit_extra_subflows),
        )

    skip = ops.or_(failed, mptcp_pm_add_addr_c_flag_case(k, conn, ns))
    conn, sas = ops.cond(
        skip,
        lambda: (conn, sas),
        lambda: loop_while(ops, len(ns.endp), (conn, sas), room, one_endpoint),
    )
    if k.version.signal_subflow_always_used:
        # 579a752464a6: a signal+subflow endpoint the loop never reached is
        # still counted as used.
        unreached = ops.and_(sas, ops.ne(sig.id, conn.mpc_endpoint_id))
        conn = conn._replace(
            local_addr_used=ops.ite(unreached, inc(ops, conn.local_addr_used), conn.local_addr_used)
        )
    conn, _ = mptcp_pm_nl_check_work_pending(ops, conn, ns)
    return set_conn(st, ci, conn)


def lookup_subflow_by_daddr(ops: Ops, conn: Conn, addr: Value, port: Value) -> Value:
    """`lookup_subflow_by_daddr`: a live subflow to this address (and port,
    if one was announced)."""
    use_port = ops.ne(port, ops.const(0, 16))
    return ops.or_(
        *(
            ops.and_(
                s.used,
                mptcp_addresses_equal(ops, s.remote_addr, s.remote_port, addr, port, use_port),
            )
            for s in conn.sf
        )
    )


ADD_ADDR_SEEN = "mptcp_pm_nl_add_addr_received: a subflow to {addr} exists: no new one"
ADD_ADDR_COUNTED = "mptcp_pm_nl_add_addr_received: a subflow was created: counted"
ADD_ADDR_LIMIT = "mptcp_pm_nl_add_addr_received: a limit is reached: accept_addr off"


@patchable
def mptcp_pm_nl_add_addr_received(k: Ctx, st: State, ci: int) -> State:
    """`mptcp_pm_nl_add_addr_received` (the worker side of an ADD_ADDR):
    echo, MPC endpoint setup; nothing if a live subflow already goes to that
    address (and port, if one was announced); else connect every local that
    `fill_local_addresses_vec` gives. If one connect call succeeded:
    add_addr_accepted++ (not for id 0), and accept_addr turns false at
    either limit."""
    ops = k.ops
    conn = mptcp_mpc_endpoint_setup(k, st.conns[ci], st.netns)
    st = set_conn(st, ci, conn)
    raddr, rid, rport = conn.pm_remote_addr, conn.pm_remote_id, conn.pm_remote_port
    seen = lookup_subflow_by_daddr(ops, conn, raddr, rport)
    port = ops.ite(ops.eq(rport, ops.const(0, 16)), conn.port, rport)
    note(ops, seen, ADD_ADDR_SEEN, addr=raddr)
    # Lazily: a subflow to the address already exists, the filler never runs.
    filled, locals_ = ops.cond(
        seen,
        partial(no_locals, ops, conn, len(st.netns.endp)),
        partial(fill_local_addresses_vec, k, conn, st.netns, raddr, rid),
    )
    before = st
    st = set_conn(st, ci, filled)
    created = ops.false()
    for loc in locals_:
        src = ops.ite(loc.any, route_source(ops, k.topo, raddr), loc.addr)
        # An ADDR_ANY local's id is resolved once its socket exists and
        # routing found a way (`subflow_chk_local_id`, from `tcp_connect`):
        # not at all if the msk has no socket yet or the route lookup fails.
        resolve = ops.and_(
            loc.valid, loc.any, st.conns[ci].attached, reachable(ops, k.topo, src, raddr)
        )
        st, any_id, id_ok = mptcp_pm_get_local_id(k, st, ci, src, resolve)
        conn = st.conns[ci]
        local_id = ops.ite(loc.any, any_id, loc.id)
        backup = ops.ite(loc.any, mptcp_pm_nl_is_backup(ops, st.netns, src), loc.backup)
        # An ADDR_ANY local whose id cannot be resolved fails to connect.
        unresolved = ops.and_(loc.valid, loc.any, ops.not_(id_ok))
        conn = ops.ite(unresolved, __mptcp_pm_close_subflow(ops, conn, st.netns), conn)
        conn, ok = __mptcp_subflow_connect(
            k,
            conn,
            st.netns,
            ops.and_(loc.valid, id_ok),
            src,
            local_id,
            raddr,
            rid,
            port,
            backup,
            any_local=loc.any,
        )
        created = ops.or_(created, ok)
        st = set_conn(st, ci, conn)

    def accounted() -> State:
        return set_conn(st, ci, add_addr_accounting(k, st, ci, created, rid))

    return ops.cond(seen, partial(same, before), accounted)


@patchable
def add_addr_accounting(k: Ctx, st: State, ci: int, created: Value, rid: Value) -> Conn:
    """The end of `mptcp_pm_nl_add_addr_received`: if a connect call
    succeeded, add_addr_accepted++ (not for id 0), and accept_addr turns
    false at either limit."""
    ops, conn, ns = k.ops, st.conns[ci], st.netns
    accepted = ops.ite(
        ops.and_(created, ops.ne(rid, u8(ops, 0))),
        inc(ops, conn.add_addr_accepted),
        conn.add_addr_accepted,
    )
    at_limit = ops.or_(
        ops.ule(ns.limit_add_addr_accepted, accepted),
        ops.ule(ns.limit_extra_subflows, conn.extra_subflows),
    )
    counted = ops.and_(created, ops.ne(rid, u8(ops, 0)))
    note(ops, counted, ADD_ADDR_COUNTED)
    note(ops, ops.not_(created), "mptcp_pm_nl_add_addr_received: no subflow created, not counted")
    note(ops, ops.and_(created, at_limit), ADD_ADDR_LIMIT)
    return conn._replace(
        add_addr_accepted=accepted,
        accept_addr=ops.ite(ops.and_(created, at_limit), ops.false(), conn.accept_addr),
    )


@patchable
def mptcp_pm_worker(k: Ctx, st: State, ci: int) -> State:
    """`mptcp_pm_worker` (pm.c) then `__mptcp_pm_kernel_worker`: each
    scheduled bit is cleared and handled, in the kernel's order:
    RM_ADDR_RECEIVED, ADD_ADDR_RECEIVED, ESTABLISHED, SUBFLOW_ESTABLISHED."""
    ops = k.ops
    conn = st.conns[ci]
    rm = ops.and_(conn.used, conn.w_rm_addr)
    conn = conn._replace(w_rm_addr=ops.false())
    conn = ops.cond(rm, lambda: mptcp_pm_rm_addr_recv(k, conn, st.netns), lambda: conn)
    st = set_conn(st, ci, conn)

    add = ops.and_(conn.used, conn.w_add_addr)
    st = set_conn(st, ci, conn._replace(w_add_addr=ops.false()))
    st = ops.cond(add, lambda: mptcp_pm_nl_add_addr_received(k, st, ci), lambda: st)

    for bit in ("w_established", "w_subflow_established"):
        conn = st.conns[ci]
        run = ops.and_(conn.used, getattr(conn, bit))
        st = set_conn(st, ci, conn._replace(**{bit: ops.false()}))
        st = ops.cond(
            run, partial(mptcp_pm_create_subflow_or_signal_addr, k, st, ci), partial(same, st)
        )
    return st
