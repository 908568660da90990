"""Where the subflows for a received ADD_ADDR leave from: the
`fill_local_addresses_vec` family of pm_kernel.c, one function each.

Each filler takes the connection and the announced address and returns the
connection as the filler leaves it (ids marked used, extra_subflows counted
before connecting) and its `locals[]` vector, `MPTCP_PM_ADDR_MAX` entries
long (unused entries invalid).
"""

from __future__ import annotations

from typing import NamedTuple

from pmcheck.model.backend import Ops, Value, early_returns, loop_while, note
from pmcheck.model.constants import FLAG_BACKUP, FLAG_FULLMESH, FLAG_LAMINAR, FLAG_SUBFLOW
from pmcheck.model.local_ids import first_endpoint, select_local_address
from pmcheck.model.patching import patchable
from pmcheck.model.rules import Ctx
from pmcheck.model.state import Conn, Netns
from pmcheck.model.subflows import (
    inc,
    mptcp_endp_get_local_id,
    mptcp_pm_add_addr_c_flag_case,
    mptcp_pm_addr_families_match,
    u8,
)
from pmcheck.model.topology import is_v4


class Local(NamedTuple):
    """One entry of the `locals[]` vector the fillers return."""

    valid: Value
    addr: Value
    id: Value
    backup: Value
    any: Value  # ADDR_ANY: routing picks the address, the id is resolved later


Filled = tuple[Conn, tuple[Local, ...]]


def _nothing(ops: Ops) -> Local:
    return Local(ops.false(), u8(ops, 0), u8(ops, 0), ops.false(), ops.false())


def no_locals(ops: Ops, conn: Conn, n: int) -> Filled:
    """No filler ran: the connection as it was, no valid local."""
    return conn, (_nothing(ops),) * n


def _pad(ops: Ops, first: Local, n: int) -> tuple[Local, ...]:
    return (first, *[_nothing(ops)] * (n - 1))


@patchable
def fill_local_addresses_vec_fullmesh(
    k: Ctx, conn: Conn, ns: Netns, raddr: Value, c_flag_case: Value
) -> Filled:
    """`fill_local_addresses_vec_fullmesh`: every FULLMESH endpoint of a
    matching family, in list order, extra_subflows++ each, stopping *after*
    the increment that reaches the limit; the MPC endpoint as id 0. In the
    C-flag case FULLMESH+SUBFLOW endpoints are also marked used."""
    ops = k.ops
    locals_, stopped = [], ops.false()
    for e in ns.endp:
        cand = ops.and_(
            ops.not_(stopped),
            e.used,
            ops.has(e.flags, FLAG_FULLMESH),
            mptcp_pm_addr_families_match(ops, conn, e.addr, raddr),
        )
        is_id0 = ops.eq(e.id, conn.mpc_endpoint_id)
        mark = ops.and_(cand, c_flag_case, ops.has(e.flags, FLAG_SUBFLOW))
        conn = conn._replace(
            id_avail=ops.ite(mark, ops.bit_clear(conn.id_avail, e.id), conn.id_avail),
            local_addr_used=ops.ite(
                ops.and_(mark, ops.not_(is_id0)),
                inc(ops, conn.local_addr_used),
                conn.local_addr_used,
            ),
            extra_subflows=ops.ite(cand, inc(ops, conn.extra_subflows), conn.extra_subflows),
        )
        stopped = ops.or_(
            stopped, ops.and_(cand, ops.ule(ns.limit_extra_subflows, conn.extra_subflows))
        )
        local_id = ops.ite(is_id0, u8(ops, 0), e.id)
        locals_.append(Local(cand, e.addr, local_id, ops.has(e.flags, FLAG_BACKUP), ops.false()))
    return conn, tuple(locals_)


FILL_LAMINAR_BUSY = "fill_local_laminar_endp: {addr} id {id} skipped, its id is in use"


@patchable
def fill_local_laminar_endp(k: Ctx, conn: Conn, ns: Netns, raddr: Value) -> Filled:
    """`fill_local_laminar_endp`: the first LAMINAR endpoint of a matching
    family whose mapped id no live subflow uses; marked used if it also has
    SUBFLOW (local_addr_used++ unless it is the MPC endpoint);
    extra_subflows++ with no limit check (F4). At most one local, and no
    retry with the next endpoint if its connect fails. The local id is the
    raw endpoint id, not mapped to 0 for the MPC endpoint (F2)."""
    ops = k.ops
    unavail = ops.const(0, 256)
    for s in conn.sf:
        unavail = ops.ite(s.used, ops.bit_set(unavail, s.local_id), unavail)
    usable = []
    for e in ns.endp:
        fits = ops.and_(
            e.used,
            ops.has(e.flags, FLAG_LAMINAR),
            mptcp_pm_addr_families_match(ops, conn, e.addr, raddr),
        )
        busy = ops.bit_test(unavail, mptcp_endp_get_local_id(ops, conn, e.id))
        note(ops, ops.and_(fits, busy), FILL_LAMINAR_BUSY, addr=e.addr, id=e.id)
        usable.append(ops.and_(fits, ops.not_(busy)))
    found, lam = first_endpoint(ops, ns, usable)
    note(ops, found, "fill_local_laminar_endp: {addr} id {id} picked", addr=lam.addr, id=lam.id)
    note(ops, ops.not_(found), "fill_local_laminar_endp: no usable LAMINAR endpoint: no subflow")
    mark = ops.and_(found, ops.has(lam.flags, FLAG_SUBFLOW))
    conn = conn._replace(
        id_avail=ops.ite(mark, ops.bit_clear(conn.id_avail, lam.id), conn.id_avail),
        local_addr_used=ops.ite(
            ops.and_(mark, ops.ne(lam.id, conn.mpc_endpoint_id)),
            inc(ops, conn.local_addr_used),
            conn.local_addr_used,
        ),
        extra_subflows=ops.ite(found, inc(ops, conn.extra_subflows), conn.extra_subflows),
    )
    backup = ops.has(lam.flags, FLAG_BACKUP)
    return conn, _pad(ops, Local(found, lam.addr, lam.id, backup, ops.false()), len(ns.endp))


C_FLAG_PICK = "fill_local_addresses_vec_c_flag: {addr} id {id} used"
C_FLAG_SKIP = (
    "fill_local_addresses_vec_c_flag: {addr} id {id} skipped (other family "
    "or the MPC endpoint), its id still marked used"
)


@patchable
def fill_local_addresses_vec_c_flag(k: Ctx, conn: Conn, ns: Netns, raddr: Value) -> Filled:
    """`fill_local_addresses_vec_c_flag`: while local_addr_used <
    endp_subflow_max, take `select_local_address` (none: break) and clear its
    id bit *first*; skip (continue) an endpoint of the other family or the
    MPC endpoint without counting it (F1); else local_addr_used++,
    extra_subflows++, add the local, and break at the limit."""
    ops = k.ops

    def body(state: tuple[Conn, tuple[Local, ...]], t: int) -> tuple[Value, Value]:
        c, locals_ = state
        picked, sel = select_local_address(ops, c, ns)
        # F1: the bit is cleared before the family and MPC checks.
        c = c._replace(id_avail=ops.bit_clear(c.id_avail, sel.id))
        use = ops.and_(
            mptcp_pm_addr_families_match(ops, c, sel.addr, raddr),
            ops.ne(sel.id, c.mpc_endpoint_id),
        )
        counted = c._replace(
            local_addr_used=inc(ops, c.local_addr_used), extra_subflows=inc(ops, c.extra_subflows)
        )
        c = ops.ite(use, counted, c)
        note(ops, ops.and_(picked, use), C_FLAG_PICK, addr=sel.addr, id=sel.id)
        note(ops, ops.and_(picked, ops.not_(use)), C_FLAG_SKIP, addr=sel.addr, id=sel.id)
        local = Local(use, sel.addr, sel.id, ops.has(sel.flags, FLAG_BACKUP), ops.false())
        locals_ = (*locals_[:t], local, *locals_[t + 1 :])
        at_limit = ops.and_(use, ops.ule(ns.limit_extra_subflows, c.extra_subflows))
        return ops.ite(picked, (c, locals_), state), ops.and_(picked, ops.not_(at_limit))

    n = len(ns.endp)
    return loop_while(
        ops,
        n,
        (conn, (_nothing(ops),) * n),
        lambda state: ops.ult(state[0].local_addr_used, ns.endp_subflow_max),
        body,
    )


@patchable
def fill_local_address_any(k: Ctx, conn: Conn, ns: Netns, raddr: Value) -> Filled:
    """`fill_local_address_any`: one wildcard local (v4 if the remote is v4
    or v4-mapped; none for a v6 remote on a v4 msk), extra_subflows++ with no
    limit check (F4). Routing picks the address; its id is resolved at
    connect time (`mptcp_pm_get_local_id`, maybe an IMPLICIT endpoint)."""
    ops = k.ops
    ok = ops.ite(conn.v4, is_v4(ops, raddr), ops.true())
    conn = conn._replace(
        extra_subflows=ops.ite(ok, inc(ops, conn.extra_subflows), conn.extra_subflows)
    )
    wildcard = Local(ok, u8(ops, 0), u8(ops, 0), ops.false(), ops.true())
    note(ops, ok, "fill_local_address_any: routing picks the source address")
    return conn, _pad(ops, wildcard, len(ns.endp))


@patchable
def fill_local_addresses_vec(k: Ctx, conn: Conn, ns: Netns, raddr: Value, rid: Value) -> Filled:
    """`fill_local_addresses_vec`: the fullmesh result if it found any
    endpoint (6.19, e461e8a799a2: if any FULLMESH endpoint exists, even when
    it found none); else laminar if any LAMINAR endpoint exists; else the
    C-flag filler for an ADD_ADDR with a non-zero id; else one ADDR_ANY."""
    ops = k.ops
    c_flag = ops.and_(ops.ne(rid, u8(ops, 0)), mptcp_pm_add_addr_c_flag_case(k, conn, ns))
    fullmesh = fill_local_addresses_vec_fullmesh(k, conn, ns, raddr, c_flag)
    if k.version.has_endp_fullmesh_max:
        take_fullmesh = ops.ne(ns.endp_fullmesh_max, u8(ops, 0))
    else:
        take_fullmesh = ops.or_(*(loc.valid for loc in fullmesh[1]))
    note(ops, take_fullmesh, "fill_local_addresses_vec: FULLMESH endpoints, one subflow each")
    return early_returns(
        ops,
        [
            (take_fullmesh, lambda: fullmesh),
            (
                ops.ne(ns.endp_laminar_max, u8(ops, 0)),
                lambda: fill_local_laminar_endp(k, conn, ns, raddr),
            ),
            (c_flag, lambda: fill_local_addresses_vec_c_flag(k, conn, ns, raddr)),
        ],
        lambda: fill_local_address_any(k, conn, ns, raddr),
    )
