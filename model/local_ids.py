"""Which endpoint serves a connection (pm.c, pm_kernel.c): the
`select_*_address` pickers, `mptcp_pm_get_local_id` (which may add an
IMPLICIT endpoint), `mptcp_pm_nl_is_backup`, the MPC endpoint's lazy setup
and the MP_PRIO it may send."""

from __future__ import annotations

from pmcheck.model.backend import Ops, Value, first_true, note, select
from pmcheck.model.constants import (
    AF_INET,
    AF_INET6,
    FLAG_BACKUP,
    FLAG_IMPLICIT,
    FLAG_SIGNAL,
    FLAG_SUBFLOW,
)
from pmcheck.model.patching import patchable
from pmcheck.model.pernet import lookup_addr_hits, mptcp_pm_nl_append_new_local_addr
from pmcheck.model.rules import Ctx
from pmcheck.model.state import SUBFLOW_KIND_MPC, Conn, Endpoint, Netns, State
from pmcheck.model.subflows import kind, u8
from pmcheck.model.topology import is_v4


def set_conn(st: State, ci: int, conn: Conn) -> State:
    return st._replace(conns=(*st.conns[:ci], conn, *st.conns[ci + 1 :]))


def msk_local_port(conn: Conn) -> Value:
    """The initial subflow's local port as endpoint lookups see it: the
    listening port on the server, an ephemeral one (never an endpoint's) on
    the client."""
    return conn.lport


def first_endpoint(ops: Ops, ns: Netns, conds: list[Value]) -> tuple[Value, Endpoint]:
    """`list_for_each_entry(...) if (cond) break;` over the endpoint list:
    (found, the entry)."""
    hits = first_true(ops, conds)
    return ops.or_(*hits), select(ops, hits, list(ns.endp), ns.endp[-1])


@patchable
def mptcp_pm_mp_prio_send_ack(k: Ctx, conn: Conn, first: list[Value], bkup: Value) -> Conn:
    """`mptcp_pm_mp_prio_send_ack` on the one-hot `first` subflow (the first
    whose local address matched): its request_bkup becomes `bkup` and, with
    an in-kernel peer, an MP_PRIO goes out on it."""
    ops = k.ops
    peer = k.topo.peer_kernel
    sf = tuple(
        ops.ite(f, s._replace(backup=bkup, prio_tx=ops.true() if peer else s.prio_tx), s)
        for f, s in zip(first, conn.sf, strict=True)
    )
    return conn._replace(sf=sf)


@patchable
def mptcp_mpc_endpoint_setup(k: Ctx, conn: Conn, ns: Netns) -> Conn:
    """`mptcp_mpc_endpoint_setup`, once per msk: the endpoint equal to the
    initial subflow's local address becomes the MPC endpoint (id bit
    cleared, `mpc_endpoint_id` set); MP_PRIO on the initial subflow if it
    is a backup endpoint."""
    ops = k.ops
    found, e = first_endpoint(
        ops, ns, lookup_addr_hits(ops, ns, conn.local_addr, msk_local_port(conn))
    )
    backup = ops.and_(found, ops.has(e.flags, FLAG_BACKUP))
    mpc = [ops.and_(backup, s.used, ops.eq(s.kind, kind(ops, SUBFLOW_KIND_MPC))) for s in conn.sf]
    setup = mptcp_pm_mp_prio_send_ack(k, conn, mpc, ops.true())._replace(
        id_avail=ops.ite(found, ops.bit_clear(conn.id_avail, e.id), conn.id_avail),
        mpc_endpoint_id=ops.ite(found, e.id, conn.mpc_endpoint_id),
        mpc_accounted=ops.true(),
    )
    return ops.ite(conn.mpc_accounted, conn, setup)


@patchable
def mptcp_pm_get_local_id(
    k: Ctx, st: State, ci: int, addr: Value, when: Value, port: Value = None
) -> tuple[State, Value, Value]:
    """`mptcp_pm_get_local_id` (pm.c) -> `mptcp_pm_nl_get_local_id` for the
    local address and port of a subflow: 0 for the msk's own local address
    (port ignored), else the id of the endpoint with that address (and port,
    if the endpoint has one; `port` None: an ephemeral one, never an
    endpoint's), else a new IMPLICIT endpoint without a port (which fails
    with -ERANGE on a full table). Returns (state, id, ok)."""
    ops, ns = k.ops, st.netns
    conn = st.conns[ci]
    port = ops.const(0, 16) if port is None else port
    own = ops.eq(addr, conn.local_addr)
    found, e = first_endpoint(ops, ns, lookup_addr_hits(ops, ns, addr, port))
    create = ops.and_(when, ops.not_(own), ops.not_(found))
    fam = ops.ite(is_v4(ops, addr), ops.const(AF_INET, 4), ops.const(AF_INET6, 4))
    entry = Endpoint(
        ops.true(), fam, addr, ops.const(0, 16), u8(ops, 0), u8(ops, FLAG_IMPLICIT), u8(ops, 0)
    )
    added, checks, new_id = mptcp_pm_nl_append_new_local_addr(k, ns, entry, ops.true())
    add_failed = ops.or_(*(c for c, _, _ in checks))
    st = st._replace(netns=ops.ite(create, added, ns))
    made = ops.and_(create, ops.not_(add_failed))
    note(
        ops,
        made,
        "mptcp_pm_get_local_id: {addr} has no endpoint: new IMPLICIT id {id}",
        addr=addr,
        id=new_id,
    )
    ident = ops.ite(own, u8(ops, 0), ops.ite(found, e.id, new_id))
    return st, ident, ops.not_(ops.and_(create, add_failed))


def mptcp_pm_nl_is_backup(ops: Ops, ns: Netns, addr: Value, port: Value = None) -> Value:
    """`mptcp_pm_nl_is_backup`: the endpoint with this address (and port, as
    in `mptcp_pm_get_local_id`) has BACKUP."""
    port = ops.const(0, 16) if port is None else port
    found, e = first_endpoint(ops, ns, lookup_addr_hits(ops, ns, addr, port))
    return ops.and_(found, ops.has(e.flags, FLAG_BACKUP))


def select_local_address(ops: Ops, conn: Conn, ns: Netns) -> tuple[Value, Endpoint]:
    """`select_local_address`: first SUBFLOW endpoint whose id is available."""
    return first_endpoint(
        ops,
        ns,
        [
            ops.and_(e.used, ops.has(e.flags, FLAG_SUBFLOW), ops.bit_test(conn.id_avail, e.id))
            for e in ns.endp
        ],
    )


def select_signal_address(ops: Ops, conn: Conn, ns: Netns) -> tuple[Value, Endpoint]:
    """`select_signal_address`: first SIGNAL endpoint whose id is available."""
    return first_endpoint(
        ops,
        ns,
        [
            ops.and_(e.used, ops.bit_test(conn.id_avail, e.id), ops.has(e.flags, FLAG_SIGNAL))
            for e in ns.endp
        ],
    )
