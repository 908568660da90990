"""Connection and peer events: what the data path and the environment do.

Scenario verbs (`connect`, `peer announce`, ...) and the checker's steps use
these rules. Each acts on the connection slot `inputs.event.conn`; events
that do not apply (no such connection, subflow or pending echo) change
nothing and report value 0, so a scenario can say "no such subflow".

The PM worker is its own event (`worker`): the data path only schedules it,
as the kernel does, so a checker can interleave other events before it runs.
`pmcheck.interp` runs the environment to quiescence after each scenario verb
(worker runs, join outcomes, ADD_ADDR echoes), like the live kernel does.
"""

from __future__ import annotations

from typing import Any

from pmcheck.model.backend import Ops, first_true
from pmcheck.model.inputs import Outcome
from pmcheck.model.pernet import mptcp_addresses_equal
from pmcheck.model.pm_worker import (
    is_backup_endpoint,
    mptcp_pm_get_local_id,
    set_conn,
)
from pmcheck.model.pm_worker import (
    mptcp_pm_worker as run_pm_worker,
)
from pmcheck.model.rules import Ctx, Inputs, rule
from pmcheck.model.state import (
    EMPTY_ANNO,
    SUBFLOW_KIND_ACTIVE,
    SUBFLOW_KIND_MPC,
    SUBFLOW_KIND_PASSIVE,
    Conn,
    State,
    Subflow,
)
from pmcheck.model.subflows import (
    add_subflow,
    c_flag_case,
    close_subflows,
    pm_subflow_established,
    u8,
)
from pmcheck.model.topology import is_v4

ALL_IDS = (1 << 256) - 1


def for_conn(k: Ctx, st: State, inp: Inputs, fn: Any) -> tuple[State, Any]:
    """Apply `fn(st, ci) -> (st, applied)` to the connection the event names."""
    ops = k.ops
    applied = ops.false()
    for ci in range(len(st.conns)):
        here = ops.eq(inp.event.conn, u8(ops, ci))
        st, ok = ops.cond(here, lambda st=st, ci=ci: fn(st, ci), lambda st=st: (st, ops.false()))
        applied = ops.or_(applied, ok)
    return st, applied


def has_path(ops: Ops, conn: Conn) -> Any:
    """A signal from the peer needs an established subflow to arrive on."""
    return ops.and_(conn.used, ops.or_(*(ops.and_(s.used, s.established) for s in conn.sf)))


def outcome(ops: Ops, applied: Any) -> Outcome:
    return Outcome(u8(ops, 0), u8(ops, 0), ops.ite(applied, u8(ops, 1), u8(ops, 0)))


def pm_data_reset(ops: Ops, conn: Conn, st: State) -> Conn:
    """`mptcp_pm_data_reset` (pm.c): counters 0, all ids available, and the
    gates from the limits and endpoint counts of this moment. Laminar-only
    and fullmesh-only endpoints do not make work pending (F6)."""
    ns = st.netns
    zero = u8(ops, 0)
    sf_ok = ops.ne(ns.limit_extra_subflows, zero)
    return conn._replace(
        id_avail=ops.const(ALL_IDS, 256),
        local_addr_used=zero,
        add_addr_signaled=zero,
        add_addr_accepted=zero,
        extra_subflows=zero,
        mpc_endpoint_id=zero,
        mpc_accounted=ops.false(),
        already_established=ops.false(),
        work_pending=ops.or_(
            ops.and_(ops.ne(ns.endp_subflow_max, zero), sf_ok), ops.ne(ns.endp_signal_max, zero)
        ),
        accept_addr=ops.and_(ops.ne(ns.limit_add_addr_accepted, zero), sf_ok),
        accept_subflow=sf_ok,
    )


def pm_fully_established(ops: Ops, conn: Conn) -> Conn:
    """`mptcp_pm_fully_established`: the first time, schedule ESTABLISHED if
    work is pending."""
    first = ops.not_(conn.already_established)
    return conn._replace(
        w_established=ops.or_(conn.w_established, ops.and_(first, conn.work_pending)),
        already_established=ops.true(),
    )


@rule("connect", writes=("conns",), reads_inputs=("event",))
def mptcp_pm_new_connection(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """A connection opens on a free slot: `mptcp_pm_new_connection` with
    `mptcp_pm_data_reset`, the MPC subflow (local id 0, remote id 0), the
    peer's C flag from its MP_CAPABLE, then `mptcp_pm_fully_established`
    (the live testbed exchanges data, so the connection is fully established
    before any PM work runs). `server`: the peer connected and the host
    accepted; the in-kernel PM acts the same on both sides."""
    ops, ev = k.ops, inp.event

    def one(st: State, ci: int) -> tuple[State, Any]:
        conn = st.conns[ci]
        # The client's side of the initial subflow has an ephemeral port: 0 here.
        zero_port = ops.const(0, 16)
        dport = ops.ite(ev.server, zero_port, ev.port)
        mpc = Subflow(
            ops.true(),
            ops.true(),
            ops.const(SUBFLOW_KIND_MPC, 2),
            u8(ops, 0),
            u8(ops, 0),
            ev.laddr,
            ev.raddr,
            dport,
            ops.false(),
        )
        fresh = conn._replace(
            used=ops.true(),
            server=ev.server,
            v4=is_v4(ops, ev.laddr),
            local_addr=ev.laddr,
            remote_addr=ev.raddr,
            port=dport,
            lport=ops.ite(ev.server, ev.port, zero_port),
            deny_join_id0=ev.flag,
            w_established=ops.false(),
            w_subflow_established=ops.false(),
            w_add_addr=ops.false(),
            w_rm_addr=ops.false(),
            warned=ops.false(),
            overflow=ops.false(),
            anno=tuple(_empty_anno(ops) for _ in conn.anno),
            sf=(mpc, *(_empty_sf(ops) for _ in conn.sf[1:])),
        )
        fresh = pm_fully_established(ops, pm_data_reset(ops, fresh, st))
        can = ops.not_(conn.used)
        return ops.ite(can, set_conn(st, ci, fresh), st), can

    st, applied = for_conn(k, st, inp, one)
    return st, outcome(ops, applied)


def _empty_sf(ops: Ops) -> Subflow:
    return Subflow(
        ops.false(),
        ops.false(),
        ops.const(0, 2),
        u8(ops, 0),
        u8(ops, 0),
        u8(ops, 0),
        u8(ops, 0),
        ops.const(0, 16),
        ops.false(),
    )


def _empty_anno(ops: Ops) -> Any:
    return EMPTY_ANNO._replace(
        used=ops.false(),
        id=u8(ops, 0),
        addr=u8(ops, 0),
        port=ops.const(0, 16),
        echo_pending=ops.false(),
    )


@rule("worker", writes=("netns", "conns"), reads_inputs=("event",))
def mptcp_pm_worker(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """The msk's PM work runs: `mptcp_pm_worker` (pm.c)."""
    ops = k.ops

    def one(st: State, ci: int) -> tuple[State, Any]:
        c = st.conns[ci]
        due = ops.and_(
            c.used, ops.or_(c.w_rm_addr, c.w_add_addr, c.w_established, c.w_subflow_established)
        )
        return run_pm_worker(k, st, ci), due

    st, applied = for_conn(k, st, inp, one)
    return st, outcome(ops, applied)


@rule("peer announce", writes=("conns",), reads_inputs=("event",))
def mptcp_pm_add_addr_received(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """An ADD_ADDR arrives: `mptcp_pm_add_addr_received` (pm.c). Echo only
    for id 0 with another address than the initial one, or id > 0 when
    accept_addr is false and the C-flag case does not hold; otherwise
    schedule ADD_ADDR_RECEIVED with pm->remote, or drop it (no echo, the
    peer retransmits) if that work is already pending. It arrives only while
    some subflow is established."""
    ops, ev = k.ops, inp.event

    def one(st: State, ci: int) -> tuple[State, Any]:
        c = st.conns[ci]
        id0 = ops.eq(ev.rid, u8(ops, 0))
        init = mptcp_addresses_equal(
            ops, c.remote_addr, c.port, ev.raddr, ev.port, ops.ne(ev.port, ops.const(0, 16))
        )
        echo_only = ops.or_(
            ops.and_(id0, ops.not_(init)),
            ops.and_(
                ops.not_(id0), ops.not_(c.accept_addr), ops.not_(c_flag_case(ops, c, st.netns))
            ),
        )
        arrives = has_path(ops, c)
        take = ops.and_(arrives, ops.not_(echo_only), ops.not_(c.w_add_addr))
        c2 = c._replace(
            w_add_addr=ops.true(),
            pm_remote_addr=ev.raddr,
            pm_remote_id=ev.rid,
            pm_remote_port=ev.port,
        )
        return ops.ite(take, set_conn(st, ci, c2), st), arrives

    st, applied = for_conn(k, st, inp, one)
    return st, outcome(ops, applied)


@rule("peer remove", writes=("conns",), reads_inputs=("event",))
def mptcp_pm_rm_addr_received(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """An RM_ADDR arrives: `mptcp_pm_rm_addr_received` schedules
    RM_ADDR_RECEIVED with the id list, or drops it if already pending."""
    ops, ev = k.ops, inp.event

    def one(st: State, ci: int) -> tuple[State, Any]:
        c = st.conns[ci]
        arrives = has_path(ops, c)
        take = ops.and_(arrives, ops.not_(c.w_rm_addr))
        return ops.ite(
            take, set_conn(st, ci, c._replace(w_rm_addr=ops.true(), rm_rx_id=ev.rid)), st
        ), arrives

    st, applied = for_conn(k, st, inp, one)
    return st, outcome(ops, applied)


@rule("peer join", writes=("netns", "conns"), reads_inputs=("event",))
def subflow_token_join_request(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """The peer opens an MP_JOIN subflow to a host address (passive join).

    `subflow_token_join_request` resolves the local id with
    `mptcp_pm_get_local_id` (may create an IMPLICIT endpoint, F11; a full
    table refuses the join), then `mptcp_can_accept_new_subflow` (fully
    established and accept_subflow) and `mptcp_pm_allow_new_subflow`
    (extra_subflows < limit, ++, accept_subflow off at the limit). Our B bit
    comes from the endpoint (`mptcp_pm_is_backup`). Once established,
    `mptcp_pm_subflow_established`.
    """
    ops, ev = k.ops, inp.event

    def one(st: State, ci: int) -> tuple[State, Any]:
        c = st.conns[ci]
        st2, local_id, id_ok = mptcp_pm_get_local_id(k, st, ci, ev.laddr, c.used)
        c = st2.conns[ci]
        ns = st2.netns
        allowed = ops.and_(
            c.used, id_ok, c.accept_subflow, ops.ult(c.extra_subflows, ns.limit_extra_subflows)
        )
        extra = ops.add(c.extra_subflows, u8(ops, 1), 8)
        sf = Subflow(
            ops.true(),
            ops.true(),
            ops.const(SUBFLOW_KIND_PASSIVE, 2),
            local_id,
            ev.rid,
            ev.laddr,
            ev.raddr,
            ops.const(0, 16),
            is_backup_endpoint(ops, ns, ev.laddr),
        )
        joined = add_subflow(
            ops,
            c._replace(extra_subflows=extra, accept_subflow=ops.ne(extra, ns.limit_extra_subflows)),
            sf,
            ops.true(),
        )
        joined = pm_subflow_established(ops, joined)
        return set_conn(st2, ci, ops.ite(allowed, joined, c)), allowed

    st, applied = for_conn(k, st, inp, one)
    return st, outcome(ops, applied)


@rule("subflow close", writes=("conns",), reads_inputs=("event",))
def mptcp_close_ssk(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """The subflow from `laddr` to `raddr` is closed by the network or the
    peer: `mptcp_close_ssk` -> `mptcp_pm_subflow_check_next`. The endpoint it
    used stays used (its id bit stays clear)."""
    ops, ev = k.ops, inp.event

    def one(st: State, ci: int) -> tuple[State, Any]:
        c = st.conns[ci]
        match = first_true(
            ops,
            [
                ops.and_(s.used, ops.eq(s.local_addr, ev.laddr), ops.eq(s.remote_addr, ev.raddr))
                for s in c.sf
            ],
        )
        c2, _ = close_subflows(ops, c, st.netns, match)
        return set_conn(st, ci, c2), ops.and_(c.used, ops.or_(*match))

    st, applied = for_conn(k, st, inp, one)
    return st, outcome(ops, applied)


@rule("join result", writes=("conns",), reads_inputs=("event",))
def subflow_finish_connect(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """The outcome of an active join in SYN_SENT (subflow slot `slot`):
    accepted -> `subflow_finish_connect` (subflow.c) completes the join,
    `mptcp_pm_subflow_established`; refused (RST) -> closed through
    `mptcp_close_ssk`."""
    ops, ev = k.ops, inp.event

    def one(st: State, ci: int) -> tuple[State, Any]:
        c = st.conns[ci]
        hits = [
            ops.and_(
                ops.eq(ev.slot, u8(ops, i)),
                s.used,
                ops.not_(s.established),
                ops.eq(s.kind, ops.const(SUBFLOW_KIND_ACTIVE, 2)),
            )
            for i, s in enumerate(c.sf)
        ]
        ok = tuple(
            ops.ite(h, s._replace(established=ops.true()), s)
            for h, s in zip(hits, c.sf, strict=True)
        )
        accepted = pm_subflow_established(ops, c._replace(sf=ok))
        refused, _ = close_subflows(ops, c, st.netns, hits)
        hit = ops.or_(*hits)
        c2 = ops.ite(hit, ops.ite(ev.flag, accepted, refused), c)
        return set_conn(st, ci, c2), ops.and_(c.used, hit)

    st, applied = for_conn(k, st, inp, one)
    return st, outcome(ops, applied)


@rule("add_addr echo", writes=("conns",), reads_inputs=("event",))
def mptcp_pm_add_addr_echoed(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """The peer echoes our ADD_ADDR (announcement slot `slot`):
    `mptcp_pm_add_addr_echoed` stops the retransmit timer (the entry stays)
    and, if work is pending, schedules SUBFLOW_ESTABLISHED so the next
    address gets announced."""
    ops, ev = k.ops, inp.event

    def one(st: State, ci: int) -> tuple[State, Any]:
        c = st.conns[ci]
        hits = [
            ops.and_(ops.eq(ev.slot, u8(ops, i)), a.used, a.echo_pending)
            for i, a in enumerate(c.anno)
        ]
        anno = tuple(
            ops.ite(h, a._replace(echo_pending=ops.false()), a)
            for h, a in zip(hits, c.anno, strict=True)
        )
        hit = ops.or_(*hits)
        c2 = c._replace(
            anno=anno,
            w_subflow_established=ops.or_(c.w_subflow_established, ops.and_(hit, c.work_pending)),
        )
        return set_conn(st, ci, ops.ite(hit, c2, c)), ops.and_(c.used, hit)

    st, applied = for_conn(k, st, inp, one)
    return st, outcome(ops, applied)


@rule("add_addr timeout", writes=("conns",), reads_inputs=("event",))
def mptcp_pm_add_addr_timer(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """No echo ever came for announcement slot `slot`: `mptcp_pm_add_addr_timer`
    retransmits up to ADD_ADDR_RETRANS_MAX times, then gives up and calls
    `mptcp_pm_subflow_established` so the next address gets announced. The
    entry stays. Entries whose stored id is 0 are skipped by the timer (F8:
    the stored id is the endpoint's, so this only skips a 6.18.10 id-0
    endpoint). The retransmissions themselves carry no PM state."""
    ops, ev = k.ops, inp.event

    def one(st: State, ci: int) -> tuple[State, Any]:
        c = st.conns[ci]
        hits = [
            ops.and_(ops.eq(ev.slot, u8(ops, i)), a.used, a.echo_pending, ops.ne(a.id, u8(ops, 0)))
            for i, a in enumerate(c.anno)
        ]
        anno = tuple(
            ops.ite(h, a._replace(echo_pending=ops.false()), a)
            for h, a in zip(hits, c.anno, strict=True)
        )
        hit = ops.or_(*hits)
        c2 = pm_subflow_established(ops, c._replace(anno=anno))
        return set_conn(st, ci, ops.ite(hit, c2, c)), ops.and_(c.used, hit)

    st, applied = for_conn(k, st, inp, one)
    return st, outcome(ops, applied)
