"""The in-kernel PM's per-connection decisions (pm_kernel.c), as the worker
and the netlink handlers run them.

Each function is named after the kernel function it models and takes the
whole `State` plus a connection index `ci` (a Python int: callers unroll over
connection slots), because some paths also write the endpoint table
(`mptcp_pm_get_local_id` may add an IMPLICIT endpoint).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pmcheck.model.backend import Ops, first_true, select
from pmcheck.model.constants import (
    FLAG_BACKUP,
    FLAG_FULLMESH,
    FLAG_IMPLICIT,
    FLAG_LAMINAR,
    FLAG_SIGNAL,
    FLAG_SUBFLOW,
)
from pmcheck.model.pernet import (
    lookup_addr_hits,
    mptcp_addresses_equal,
    mptcp_pm_nl_append_new_local_addr,
)
from pmcheck.model.rules import Ctx
from pmcheck.model.state import Anno, Conn, Endpoint, Netns, State
from pmcheck.model.subflows import (
    c_flag_case,
    check_work_pending,
    close_subflows,
    dec,
    families_match,
    inc,
    subflow_connect,
    u8,
)
from pmcheck.model.topology import is_v4, route_source


class Local(NamedTuple):
    """One entry of the `locals[]` vector the fillers return."""

    valid: Any
    addr: Any
    id: Any
    backup: Any
    any: Any  # ADDR_ANY: routing picks the address, the id is resolved later


def set_conn(st: State, ci: int, conn: Conn) -> State:
    return st._replace(conns=(*st.conns[:ci], conn, *st.conns[ci + 1 :]))


def msk_local_port(ops: Ops, conn: Conn) -> Any:
    """The initial subflow's local port as endpoint lookups see it: the
    listening port on the server, an ephemeral one (never an endpoint's) on
    the client."""
    return conn.lport


def first_endpoint(ops: Ops, ns: Netns, conds: list[Any]) -> tuple[Any, Endpoint]:
    hits = first_true(ops, conds)
    return ops.or_(*hits), select(ops, hits, list(ns.endp), ns.endp[-1])


def mptcp_mpc_endpoint_setup(k: Ctx, conn: Conn, ns: Netns) -> Conn:
    """`mptcp_mpc_endpoint_setup`, once per msk: the endpoint equal to the
    initial subflow's local address becomes the MPC endpoint (id bit
    cleared, `mpc_endpoint_id` set); MP_PRIO if it is a backup endpoint."""
    ops = k.ops
    found, e = first_endpoint(
        ops, ns, lookup_addr_hits(ops, ns, conn.local_addr, msk_local_port(ops, conn))
    )
    backup = ops.and_(found, ops.has(e.flags, FLAG_BACKUP))
    sf = tuple(
        ops.ite(
            ops.and_(backup, s.used, ops.eq(s.kind, ops.const(0, 2))),
            s._replace(backup=ops.true()),
            s,
        )
        for s in conn.sf
    )
    setup = conn._replace(
        id_avail=ops.ite(found, ops.bit_clear(conn.id_avail, e.id), conn.id_avail),
        mpc_endpoint_id=ops.ite(found, e.id, conn.mpc_endpoint_id),
        mpc_accounted=ops.true(),
        sf=sf,
    )
    return ops.ite(conn.mpc_accounted, conn, setup)


def select_local_address(ops: Ops, conn: Conn, ns: Netns) -> tuple[Any, Endpoint]:
    """`select_local_address`: first SUBFLOW endpoint whose id is available."""
    return first_endpoint(
        ops,
        ns,
        [
            ops.and_(e.used, ops.has(e.flags, FLAG_SUBFLOW), ops.bit_test(conn.id_avail, e.id))
            for e in ns.endp
        ],
    )


def select_signal_address(ops: Ops, conn: Conn, ns: Netns) -> tuple[Any, Endpoint]:
    """`select_signal_address`: first SIGNAL endpoint whose id is available."""
    return first_endpoint(
        ops,
        ns,
        [
            ops.and_(e.used, ops.bit_test(conn.id_avail, e.id), ops.has(e.flags, FLAG_SIGNAL))
            for e in ns.endp
        ],
    )


def mptcp_pm_alloc_anno_list(ops: Ops, conn: Conn, e: Endpoint, when: Any) -> tuple[Conn, Any]:
    """`mptcp_pm_alloc_anno_list`: a second entry for the same address and
    port trips WARN_ON_ONCE and fails. Returns (conn, failed)."""
    dup = ops.or_(
        *(ops.and_(a.used, ops.eq(a.addr, e.addr), ops.eq(a.port, e.port)) for a in conn.anno)
    )
    failed = ops.and_(when, dup)
    ok = ops.and_(when, ops.not_(dup))
    free = first_true(ops, [ops.not_(a.used) for a in conn.anno])
    entry = Anno(ops.true(), e.id, e.addr, e.port, ops.true())
    anno = tuple(ops.ite(ops.and_(ok, f), entry, a) for f, a in zip(free, conn.anno, strict=True))
    full = ops.and_(ok, ops.not_(ops.or_(*free)))
    return conn._replace(
        anno=anno, warned=ops.or_(conn.warned, failed), overflow=ops.or_(conn.overflow, full)
    ), failed


def fill_remote_addresses_vec(
    k: Ctx, conn: Conn, ns: Netns, when: Any, loc: Endpoint, local_id: Any
) -> tuple[Conn, list[tuple[Any, Any, Any, Any]]]:
    """`fill_remote_addresses_vec`: remotes for one subflow endpoint, each
    counted in extra_subflows before connecting. Non-fullmesh
    (`fill_remote_addr`): the initial remote address, id 0, unless the peer
    set C or the families differ. Fullmesh (`fill_remote_addresses_fullmesh`):
    one remote per distinct remote id among the subflows, skipping ids this
    local id already reaches, and id 0 under C; stops at the limit."""
    ops = k.ops
    fullmesh = ops.has(loc.flags, FLAG_FULLMESH)
    # fill_remote_addr
    single = ops.and_(
        when,
        ops.not_(fullmesh),
        ops.not_(conn.deny_join_id0),
        families_match(ops, conn, loc.addr, conn.remote_addr),
    )
    extra = ops.ite(single, inc(ops, conn.extra_subflows), conn.extra_subflows)
    remotes = [(single, conn.remote_addr, u8(ops, 0), conn.port)]
    # fill_remote_addresses_fullmesh
    unavail = ops.const(0, 256)
    for s in conn.sf:
        unavail = ops.ite(
            ops.and_(s.used, ops.eq(s.local_id, local_id)),
            ops.bit_set(unavail, s.remote_id),
            unavail,
        )
    stopped = ops.false()
    fm = []
    for s in conn.sf:
        cand = ops.and_(
            when,
            fullmesh,
            ops.not_(stopped),
            s.used,
            ops.not_(ops.and_(conn.deny_join_id0, ops.eq(s.remote_id, u8(ops, 0)))),
            ops.not_(ops.bit_test(unavail, s.remote_id)),
            families_match(ops, conn, loc.addr, s.remote_addr),
        )
        unavail = ops.ite(cand, ops.bit_set(unavail, s.remote_id), unavail)
        extra = ops.ite(cand, inc(ops, extra), extra)
        stopped = ops.or_(stopped, ops.and_(cand, ops.ule(ns.limit_extra_subflows, extra)))
        fm.append((cand, s.remote_addr, s.remote_id, s.remote_port))
    return conn._replace(extra_subflows=extra), remotes + fm


def mptcp_pm_create_subflow_or_signal_addr(k: Ctx, st: State, ci: int) -> State:
    """`mptcp_pm_create_subflow_or_signal_addr` (pm_kernel.c): MPC endpoint
    setup; at most one ADD_ADDR (the first available SIGNAL endpoint, sent
    as id 0 if it is the MPC endpoint); then, unless the C-flag case holds,
    subflows from SUBFLOW endpoints while local_addr_used < endp_subflow_max
    and extra_subflows < limit (the signalled endpoint first if it also has
    SUBFLOW); then `mptcp_pm_nl_check_work_pending`.

    The ADD_ADDR is modelled as sent at once, so the "previous ADD_ADDR
    still pending" early return never triggers; its echo is an event.
    """
    ops, ns = k.ops, st.netns
    conn = mptcp_mpc_endpoint_setup(k, st.conns[ci], ns)

    want = ops.ult(conn.add_addr_signaled, ns.endp_signal_max)
    found, sig = select_signal_address(ops, conn, ns)
    do_sig = ops.and_(want, found)
    conn, failed = mptcp_pm_alloc_anno_list(ops, conn, sig, do_sig)
    sent = ops.and_(do_sig, ops.not_(failed))
    conn = ops.ite(
        sent,
        conn._replace(
            id_avail=ops.bit_clear(conn.id_avail, sig.id),
            add_addr_signaled=inc(ops, conn.add_addr_signaled),
        ),
        conn,
    )
    sas = ops.and_(sent, ops.has(sig.flags, FLAG_SUBFLOW))  # signal_and_subflow
    # "Special case for ID0": the announced entry's id is rewritten to 0 when
    # it is the MPC endpoint's, and the subflow loop reuses that very entry,
    # so its MPC test (id == mpc_endpoint_id) then fails: local_addr_used++
    # and local id 0. Reachable with a stale mpc_endpoint_id (F3).
    sig = sig._replace(id=ops.ite(ops.eq(sig.id, conn.mpc_endpoint_id), u8(ops, 0), sig.id))

    skip = ops.or_(failed, c_flag_case(ops, conn, ns))
    done = skip
    for _ in range(len(ns.endp)):
        active = ops.and_(
            ops.not_(done),
            ops.ult(conn.local_addr_used, ns.endp_subflow_max),
            ops.ult(conn.extra_subflows, ns.limit_extra_subflows),
        )
        picked, sel = select_local_address(ops, conn, ns)
        use_sas = ops.and_(active, sas)
        sas = ops.and_(sas, ops.not_(active))
        loc = ops.ite(use_sas, sig, sel)
        go = ops.and_(active, ops.or_(use_sas, picked))
        done = ops.or_(done, ops.and_(active, ops.not_(ops.or_(use_sas, picked))))
        is_mpc = ops.eq(loc.id, conn.mpc_endpoint_id)
        local_id = ops.ite(is_mpc, u8(ops, 0), loc.id)
        conn = ops.ite(
            go,
            conn._replace(
                id_avail=ops.bit_clear(conn.id_avail, loc.id),
                local_addr_used=ops.ite(
                    is_mpc, conn.local_addr_used, inc(ops, conn.local_addr_used)
                ),
            ),
            conn,
        )
        conn, remotes = fill_remote_addresses_vec(k, conn, ns, go, loc, local_id)
        backup = ops.has(loc.flags, FLAG_BACKUP)
        for ok, raddr, rid, rport in remotes:
            conn, _ = subflow_connect(
                k, conn, ns, ok, loc.addr, local_id, raddr, rid, rport, backup
            )
    if k.version.signal_subflow_always_used:
        # 579a752464a6: a signal+subflow endpoint the loop never reached is
        # still counted as used.
        conn = conn._replace(
            local_addr_used=ops.ite(
                ops.and_(sas, ops.ne(sig.id, conn.mpc_endpoint_id)),
                inc(ops, conn.local_addr_used),
                conn.local_addr_used,
            )
        )
    conn, _ = check_work_pending(ops, conn, ns)
    return set_conn(st, ci, conn)


def mptcp_pm_get_local_id(
    k: Ctx, st: State, ci: int, addr: Any, when: Any
) -> tuple[State, Any, Any]:
    """`mptcp_pm_get_local_id` (pm.c) -> `mptcp_pm_nl_get_local_id`: 0 for the
    msk's own local address (port ignored), else the id of the endpoint with
    that address, else a new IMPLICIT endpoint (which fails with -ERANGE on
    a full table). Returns (state, id, ok)."""
    ops, ns = k.ops, st.netns
    conn = st.conns[ci]
    own = ops.eq(addr, conn.local_addr)
    found, e = first_endpoint(ops, ns, lookup_addr_hits(ops, ns, addr, ops.const(0, 16)))
    create = ops.and_(when, ops.not_(own), ops.not_(found))
    fam = ops.ite(is_v4(ops, addr), ops.const(2, 4), ops.const(10, 4))
    entry = Endpoint(
        ops.true(), fam, addr, ops.const(0, 16), u8(ops, 0), u8(ops, FLAG_IMPLICIT), u8(ops, 0)
    )
    added, checks, new_id = mptcp_pm_nl_append_new_local_addr(k, ns, entry, ops.true())
    add_failed = ops.or_(*(c for c, _, _ in checks))
    st = st._replace(netns=ops.ite(create, added, ns))
    ident = ops.ite(own, u8(ops, 0), ops.ite(found, e.id, new_id))
    return st, ident, ops.not_(ops.and_(create, add_failed))


def is_backup_endpoint(ops: Ops, ns: Netns, addr: Any) -> Any:
    """`mptcp_pm_nl_is_backup`: the endpoint with this address has BACKUP."""
    found, e = first_endpoint(ops, ns, lookup_addr_hits(ops, ns, addr, ops.const(0, 16)))
    return ops.and_(found, ops.has(e.flags, FLAG_BACKUP))


def fill_local_addresses_vec(
    k: Ctx, conn: Conn, ns: Netns, raddr: Any, rid: Any
) -> tuple[Conn, list[Local]]:
    """`fill_local_addresses_vec`: fullmesh, then laminar, then the C-flag
    case, then one ADDR_ANY local. 6.18: fullmesh yielding nothing falls
    through; 6.19 (e461e8a799a2): any fullmesh endpoint decides."""
    ops = k.ops
    limit = ns.limit_extra_subflows
    cflag = ops.and_(ops.ne(rid, u8(ops, 0)), c_flag_case(ops, conn, ns))
    n = len(ns.endp)
    nothing = Local(ops.false(), u8(ops, 0), u8(ops, 0), ops.false(), ops.false())

    # fill_local_addresses_vec_fullmesh
    fm_conn, fm, stopped = conn, [], ops.false()
    for e in ns.endp:
        cand = ops.and_(
            ops.not_(stopped),
            e.used,
            ops.has(e.flags, FLAG_FULLMESH),
            families_match(ops, conn, e.addr, raddr),
        )
        is_id0 = ops.eq(e.id, fm_conn.mpc_endpoint_id)
        mark = ops.and_(cand, cflag, ops.has(e.flags, FLAG_SUBFLOW))
        fm_conn = fm_conn._replace(
            id_avail=ops.ite(mark, ops.bit_clear(fm_conn.id_avail, e.id), fm_conn.id_avail),
            local_addr_used=ops.ite(
                ops.and_(mark, ops.not_(is_id0)),
                inc(ops, fm_conn.local_addr_used),
                fm_conn.local_addr_used,
            ),
            extra_subflows=ops.ite(cand, inc(ops, fm_conn.extra_subflows), fm_conn.extra_subflows),
        )
        stopped = ops.or_(stopped, ops.and_(cand, ops.ule(limit, fm_conn.extra_subflows)))
        fm.append(
            Local(
                cand,
                e.addr,
                ops.ite(is_id0, u8(ops, 0), e.id),
                ops.has(e.flags, FLAG_BACKUP),
                ops.false(),
            )
        )
    fm_any = ops.or_(*(x.valid for x in fm))

    # fill_local_laminar_endp
    unavail = ops.const(0, 256)
    for s in conn.sf:
        unavail = ops.ite(s.used, ops.bit_set(unavail, s.local_id), unavail)
    lam_found, lam = first_endpoint(
        ops,
        ns,
        [
            ops.and_(
                e.used,
                ops.has(e.flags, FLAG_LAMINAR),
                families_match(ops, conn, e.addr, raddr),
                ops.not_(
                    ops.bit_test(
                        unavail, ops.ite(ops.eq(e.id, conn.mpc_endpoint_id), u8(ops, 0), e.id)
                    )
                ),
            )
            for e in ns.endp
        ],
    )
    lam_mark = ops.and_(lam_found, ops.has(lam.flags, FLAG_SUBFLOW))
    lam_conn = conn._replace(
        id_avail=ops.ite(lam_mark, ops.bit_clear(conn.id_avail, lam.id), conn.id_avail),
        local_addr_used=ops.ite(
            ops.and_(lam_mark, ops.ne(lam.id, conn.mpc_endpoint_id)),
            inc(ops, conn.local_addr_used),
            conn.local_addr_used,
        ),
        extra_subflows=ops.ite(lam_found, inc(ops, conn.extra_subflows), conn.extra_subflows),
    )
    # F2: the raw endpoint id, not mapped to 0 for the MPC endpoint.
    lam_locals = [
        Local(lam_found, lam.addr, lam.id, ops.has(lam.flags, FLAG_BACKUP), ops.false())
    ] + [nothing] * (n - 1)

    # fill_local_addresses_vec_c_flag
    c_conn, c_locals, c_done = conn, [], ops.false()
    for _ in range(n):
        active = ops.and_(ops.not_(c_done), ops.ult(c_conn.local_addr_used, ns.endp_subflow_max))
        picked, sel = select_local_address(ops, c_conn, ns)
        go = ops.and_(active, picked)
        c_done = ops.or_(c_done, ops.and_(active, ops.not_(picked)))
        # F1: the bit is cleared before the family and MPC checks.
        c_conn = c_conn._replace(
            id_avail=ops.ite(go, ops.bit_clear(c_conn.id_avail, sel.id), c_conn.id_avail)
        )
        use = ops.and_(
            go, families_match(ops, conn, sel.addr, raddr), ops.ne(sel.id, c_conn.mpc_endpoint_id)
        )
        c_conn = c_conn._replace(
            local_addr_used=ops.ite(use, inc(ops, c_conn.local_addr_used), c_conn.local_addr_used),
            extra_subflows=ops.ite(use, inc(ops, c_conn.extra_subflows), c_conn.extra_subflows),
        )
        c_done = ops.or_(c_done, ops.and_(use, ops.ule(limit, c_conn.extra_subflows)))
        c_locals.append(Local(use, sel.addr, sel.id, ops.has(sel.flags, FLAG_BACKUP), ops.false()))

    # fill_local_address_any: no limit check (F4).
    any_ok = ops.ite(conn.v4, is_v4(ops, raddr), ops.true())
    any_conn = conn._replace(
        extra_subflows=ops.ite(any_ok, inc(ops, conn.extra_subflows), conn.extra_subflows)
    )
    any_locals = [Local(any_ok, u8(ops, 0), u8(ops, 0), ops.false(), ops.true())] + [nothing] * (
        n - 1
    )

    take_fm = (
        ops.ne(ns.endp_fullmesh_max, u8(ops, 0)) if k.version.has_endp_fullmesh_max else fm_any
    )
    take_lam = ops.and_(ops.not_(take_fm), ops.ne(ns.endp_laminar_max, u8(ops, 0)))
    take_c = ops.and_(ops.not_(take_fm), ops.not_(take_lam), cflag)

    def pick(a: Any, b: Any, c: Any, d: Any) -> Any:
        return ops.ite(take_fm, a, ops.ite(take_lam, b, ops.ite(take_c, c, d)))

    out_conn = pick(fm_conn, lam_conn, c_conn, any_conn)
    locals_ = [
        pick(a, b, c, d) for a, b, c, d in zip(fm, lam_locals, c_locals, any_locals, strict=True)
    ]
    return out_conn, locals_


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
    seen = ops.or_(
        *(
            ops.and_(
                s.used,
                mptcp_addresses_equal(
                    ops, s.remote_addr, s.remote_port, raddr, rport, ops.ne(rport, ops.const(0, 16))
                ),
            )
            for s in conn.sf
        )
    )
    port = ops.ite(ops.eq(rport, ops.const(0, 16)), conn.port, rport)
    filled, locals_ = fill_local_addresses_vec(k, conn, st.netns, raddr, rid)
    before = st
    st = set_conn(st, ci, filled)
    created = ops.false()
    for loc in locals_:
        src = ops.ite(loc.any, route_source(ops, k.topo, raddr), loc.addr)
        st, any_id, id_ok = mptcp_pm_get_local_id(k, st, ci, src, ops.and_(loc.valid, loc.any))
        conn = st.conns[ci]
        local_id = ops.ite(loc.any, any_id, loc.id)
        backup = ops.ite(loc.any, is_backup_endpoint(ops, st.netns, src), loc.backup)
        # An ADDR_ANY local whose id cannot be resolved fails to connect.
        conn = ops.ite(
            ops.and_(loc.valid, loc.any, ops.not_(id_ok)), _close_one(ops, conn, st.netns), conn
        )
        conn, ok = subflow_connect(
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
    conn = st.conns[ci]
    accepted = ops.ite(
        ops.and_(created, ops.ne(rid, u8(ops, 0))),
        inc(ops, conn.add_addr_accepted),
        conn.add_addr_accepted,
    )
    at_limit = ops.or_(
        ops.ule(st.netns.limit_add_addr_accepted, accepted),
        ops.ule(st.netns.limit_extra_subflows, conn.extra_subflows),
    )
    conn = conn._replace(
        add_addr_accepted=accepted,
        accept_addr=ops.ite(ops.and_(created, at_limit), ops.false(), conn.accept_addr),
    )
    st = set_conn(st, ci, conn)
    return ops.ite(seen, before, st)


def _close_one(ops: Ops, conn: Conn, ns: Netns) -> Conn:
    from pmcheck.model.subflows import pm_close_subflow

    return pm_close_subflow(ops, conn, ns)


def mptcp_pm_nl_rm_addr(ops: Ops, conn: Conn, ns: Netns, rm_id: Any) -> Conn:
    """`mptcp_pm_nl_rm_addr`: give back an accepted ADD_ADDR (not id 0);
    WARN_ON_ONCE if the counter is already 0 (it leaks when the subflow had
    closed before the RM_ADDR)."""
    zero = ops.eq(conn.add_addr_accepted, u8(ops, 0))
    nonzero_id = ops.ne(rm_id, u8(ops, 0))
    accepted = dec(ops, conn.add_addr_accepted)
    done = conn._replace(
        add_addr_accepted=accepted,
        accept_addr=ops.or_(conn.accept_addr, ops.ult(accepted, ns.limit_add_addr_accepted)),
    )
    return ops.ite(nonzero_id, ops.ite(zero, conn._replace(warned=ops.true()), done), conn)


def mptcp_pm_rm_addr_or_subflow(k: Ctx, conn: Conn, ns: Netns, rm_id: Any, by_remote: bool) -> Conn:
    """`mptcp_pm_rm_addr_or_subflow`: close every live subflow whose remote
    id (RM_ADDR received) or local id (`mptcp_pm_rm_subflow`) is `rm_id`; an
    RM_ADDR that closed an active join also runs `mptcp_pm_nl_rm_addr`."""
    ops = k.ops
    match = [ops.eq(s.remote_id if by_remote else s.local_id, rm_id) for s in conn.sf]
    conn, removed_join = close_subflows(ops, conn, ns, match)
    if by_remote:
        conn = ops.ite(removed_join, mptcp_pm_nl_rm_addr(ops, conn, ns, rm_id), conn)
    return conn


def mptcp_pm_worker(k: Ctx, st: State, ci: int) -> State:
    """`mptcp_pm_worker` (pm.c) then `__mptcp_pm_kernel_worker`: each
    scheduled bit is cleared and handled, in the kernel's order."""
    ops = k.ops
    conn = st.conns[ci]
    rm = ops.and_(conn.used, conn.w_rm_addr)
    conn = conn._replace(w_rm_addr=ops.false())
    conn = ops.cond(
        rm,
        lambda: mptcp_pm_rm_addr_or_subflow(k, conn, st.netns, conn.rm_rx_id, True),
        lambda: conn,
    )
    st = set_conn(st, ci, conn)

    add = ops.and_(conn.used, conn.w_add_addr)
    st = set_conn(st, ci, conn._replace(w_add_addr=ops.false()))
    st = ops.cond(add, lambda: mptcp_pm_nl_add_addr_received(k, st, ci), lambda: st)

    for bit in ("w_established", "w_subflow_established"):
        conn = st.conns[ci]
        run = ops.and_(conn.used, getattr(conn, bit))
        st = set_conn(st, ci, conn._replace(**{bit: ops.false()}))
        st = ops.cond(
            run, lambda st=st: mptcp_pm_create_subflow_or_signal_addr(k, st, ci), lambda st=st: st
        )
    return st
