"""Connection and peer events: what the data path does when something
arrives, and the PM worker as an event.

Scenario verbs (`connect`, `peer announce`, ...) and the checker's steps use
these rules. Each acts on the connection slot `inputs.event.conn`; events
that do not apply (no such connection, subflow or pending echo) change
nothing and report value 0, so a scenario can say "no such subflow".

The receive-side functions (`mptcp_pm_add_addr_received`,
`mptcp_pm_rm_addr_received`, `subflow_check_req`, `subflow_finish_connect`)
take their message's fields as arguments: the scripted peer's verbs pass the
scenario's values, and with an in-kernel peer the environment
(model/wire.py) passes what the other host sent.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from pmcheck.model.backend import Ops, Value, first_true, note, stopped
from pmcheck.model.constants import ALL_IDS
from pmcheck.model.inputs import EventInput, Outcome
from pmcheck.model.local_ids import (
    mptcp_pm_get_local_id,
    mptcp_pm_nl_is_backup,
    set_conn,
)
from pmcheck.model.patching import patchable
from pmcheck.model.pernet import mptcp_addresses_equal
from pmcheck.model.pm_worker import mptcp_pm_worker
from pmcheck.model.rm_addr import rm_list
from pmcheck.model.rules import ENDPOINT_TABLE, Ctx, Inputs, conn_fields, on_both_sides, rule
from pmcheck.model.state import (
    NO_TWIN,
    SUBFLOW_KIND_ACTIVE,
    SUBFLOW_KIND_PASSIVE,
    Anno,
    Conn,
    State,
    Subflow,
    mirror,
)
from pmcheck.model.subflows import (
    add_subflow,
    close_subflows,
    kind,
    mptcp_pm_add_addr_c_flag_case,
    mptcp_pm_subflow_established,
    u8,
)
from pmcheck.model.topology import is_v4


@patchable
def on_side(
    k: Ctx, st: State, side: Value, fn: Callable[[Ctx, State], tuple[State, Value]]
) -> Value:
    """`fn` on the host (side false) or, with an in-kernel peer, on the peer
    (side true): the same rule, read through `mirror`."""
    if not st.peer:
        return fn(k, st)

    def peer() -> tuple[State, Value]:
        after, value = fn(k.mirrored(), mirror(st))
        return mirror(after), value

    return k.ops.cond(side, peer, lambda: fn(k, st))


@patchable
def for_conn(k: Ctx, st: State, inp: Inputs, fn: Value) -> tuple[State, Value]:
    """Apply `fn(k, st, ci) -> (st, applied)` to the connection the event
    names, on the side it names."""
    ops = k.ops
    applied = ops.false()
    for ci in range(len(st.conns)):
        here = ops.eq(inp.event.conn, u8(ops, ci))

        def run(st: State, ci: int = ci) -> tuple[State, Value]:
            return on_side(k, st, inp.event.side, lambda k, st: fn(k, st, ci))

        st, ok = ops.cond(here, partial(run, st), partial(stopped, ops, st))
        applied = ops.or_(applied, ok)
    return st, applied


def has_path(ops: Ops, conn: Conn) -> Value:
    """A signal from the peer needs an established subflow to arrive on
    (one whose other end has not closed)."""
    return ops.and_(
        conn.used,
        ops.or_(*(ops.and_(s.used, s.established, ops.not_(s.fin_rx)) for s in conn.sf)),
    )


def outcome(ops: Ops, applied: Value) -> Outcome:
    return Outcome(u8(ops, 0), u8(ops, 0), ops.ite(applied, u8(ops, 1), u8(ops, 0)))


def empty_subflow(ops: Ops) -> Subflow:
    zero = u8(ops, 0)
    return Subflow(
        ops.false(), ops.false(), kind(ops, 0), zero, zero, zero, zero, ops.const(0, 16),
        ops.false(), ops.false(), zero, ops.false(), ops.false(),
    )  # fmt: skip


def empty_anno(ops: Ops) -> Anno:
    zero = u8(ops, 0)
    return Anno(ops.false(), zero, zero, ops.const(0, 16), ops.false(), zero, ops.false())


# --- connections -----------------------------------------------------------------


def mptcp_pm_data_reset(ops: Ops, conn: Conn, st: State) -> Conn:
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


def mptcp_pm_fully_established(ops: Ops, conn: Conn) -> Conn:
    """`mptcp_pm_fully_established`: the first time, schedule ESTABLISHED if
    work is pending."""
    first = ops.not_(conn.already_established)
    return conn._replace(
        w_established=ops.or_(conn.w_established, ops.and_(first, conn.work_pending)),
        already_established=ops.true(),
    )


@patchable
def open_side(k: Ctx, st: State, ci: int, ev: EventInput) -> State:
    """One side of a new connection on slot `ci` (`laddr` local, `raddr`
    remote, `server` when this side accepted): `mptcp_pm_data_reset`, the
    MPC subflow (ids 0, twin slot 0), the peer's C flag. The server is fully
    established at the third ACK (`subflow_syn_recv_sock`), the client when
    the server's first packet arrives (`check_fully_established`): at once
    with the scripted peer (the testbed exchanges data), as an environment
    event with an in-kernel peer."""
    ops = k.ops
    conn = st.conns[ci]
    zero_port = ops.const(0, 16)  # the client's side of the initial subflow: ephemeral
    dport = ops.ite(ev.server, zero_port, ev.port)
    mpc = empty_subflow(ops)._replace(
        used=ops.true(), established=ops.true(), local_addr=ev.laddr, remote_addr=ev.raddr,
        remote_port=dport,
    )  # fmt: skip
    fresh = conn._replace(
        used=ops.true(),
        server=ev.server,
        v4=is_v4(ops, ev.laddr),
        local_addr=ev.laddr,
        remote_addr=ev.raddr,
        port=dport,
        lport=ops.ite(ev.server, ev.port, zero_port),
        # With an in-kernel peer a server's msk waits for accept() (an
        # environment event); the scripted testbed accepts before any PM
        # work of interest, so there it is attached at once.
        attached=ops.not_(ev.server) if k.topo.peer_kernel else ops.true(),
        deny_join_id0=ev.flag,
        w_established=ops.false(),
        w_subflow_established=ops.false(),
        w_add_addr=ops.false(),
        w_rm_addr=ops.false(),
        rm_rx=ops.const(0, 256),
        rm_tx=ops.const(0, 256),
        peer_rm_tx=ops.const(0, 256),
        warned=ops.false(),
        overflow=ops.false(),
        anno=tuple(empty_anno(ops) for _ in conn.anno),
        sf=(mpc, *(empty_subflow(ops) for _ in conn.sf[1:])),
    )
    fresh = mptcp_pm_data_reset(ops, fresh, st)
    established = ev.server if k.topo.peer_kernel else ops.true()
    fresh = ops.ite(established, mptcp_pm_fully_established(ops, fresh), fresh)
    return set_conn(st, ci, fresh)


# --- frames (model/rules.py): each event writes these on whichever side it runs ---
_WORKER = on_both_sides(
    *ENDPOINT_TABLE,  # mptcp_pm_get_local_id adds IMPLICIT entries
    *conn_fields(
        "accept_addr",
        "accept_subflow",
        "add_addr_accepted",
        "add_addr_signaled",
        "anno",
        "extra_subflows",
        "id_avail",
        "local_addr_used",
        "mpc_accounted",
        "mpc_endpoint_id",
        "overflow",
        "sf",
        "w_add_addr",
        "w_established",
        "w_rm_addr",
        "w_subflow_established",
        "warned",
        "work_pending",
    ),
)
_SUBFLOW_GONE = on_both_sides(
    *conn_fields("accept_subflow", "extra_subflows", "sf", "w_subflow_established", "work_pending")
)
_ANNOUNCE_ECHOED = on_both_sides(*conn_fields("anno", "w_subflow_established"))


@rule("connect", writes=on_both_sides("conns[*]"), reads_inputs=("event",))
@patchable
def mptcp_pm_new_connection(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """A connection opens on a free slot: `mptcp_pm_new_connection` on the
    host and, with an in-kernel peer, on the peer (its addresses swapped,
    the other role, no C flag from the host). `server`: the peer connected
    and the host accepted."""
    ops, ev = k.ops, inp.event

    def one(k: Ctx, st: State, ci: int) -> tuple[State, Value]:
        can = ops.not_(st.conns[ci].used)
        opened = open_side(k, st, ci, ev)
        if st.peer:
            theirs = ev._replace(
                laddr=ev.raddr, raddr=ev.laddr, server=ops.not_(ev.server), flag=ops.false()
            )
            opened = mirror(open_side(k.mirrored(), mirror(opened), ci, theirs))
        return ops.ite(can, opened, st), can

    st, applied = for_conn(k, st, inp, one)
    return st, outcome(ops, applied)


@rule("worker", writes=_WORKER, reads_inputs=("event",))
@patchable
def mptcp_worker(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """The msk worker runs (`mptcp_worker`, protocol.c): its PM part,
    `mptcp_pm_worker` (pm.c), then `__mptcp_close_subflow`, which reaps the
    subflows whose other end closed (so an RM_ADDR handled in the same run
    still finds them)."""
    ops = k.ops

    def one(k: Ctx, st: State, ci: int) -> tuple[State, Value]:
        due = worker_due(ops, st.conns[ci])
        return __mptcp_close_subflow(k, mptcp_pm_worker(k, st, ci), ci), due

    st, applied = for_conn(k, st, inp, one)
    return st, outcome(ops, applied)


def worker_due(ops: Ops, c: Conn) -> Value:
    """The msk worker has something to do: a PM status bit, or a subflow
    whose other end closed to reap."""
    pm_work = ops.or_(c.w_rm_addr, c.w_add_addr, c.w_established, c.w_subflow_established)
    reap = ops.or_(*(ops.and_(s.used, s.fin_rx) for s in c.sf))
    return ops.and_(c.used, ops.or_(pm_work, reap))


@patchable
def __mptcp_close_subflow(k: Ctx, st: State, ci: int) -> State:
    """`__mptcp_close_subflow` (protocol.c): `mptcp_close_ssk` on every
    subflow in CLOSE_WAIT (the other end's FIN/RST came in)."""
    c = st.conns[ci]
    closed, _ = close_subflows(k.ops, c, st.netns, [s.fin_rx for s in c.sf])
    return set_conn(st, ci, closed)


# --- ADD_ADDR and RM_ADDR received --------------------------------------------------


ADD_ADDR_ECHO_ONLY = (
    "mptcp_pm_add_addr_received: {addr} id {id} only echoed (accept_addr off, or id 0 "
    "for another address)"
)
ADD_ADDR_DROPPED = "mptcp_pm_add_addr_received: dropped, the previous one is still queued"


@patchable
def mptcp_pm_add_addr_received(
    k: Ctx, st: State, ci: int, raddr: Value, rid: Value, port: Value
) -> tuple[State, Value]:
    """`mptcp_pm_add_addr_received` (pm.c): echo only for id 0 with another
    address than the initial one, or id > 0 when accept_addr is false and
    the C-flag case does not hold; otherwise schedule ADD_ADDR_RECEIVED with
    pm->remote, or drop it (no echo, the peer retransmits) if that work is
    already pending. It arrives only while some subflow is established.
    Returns the state and whether it arrived."""
    ops = k.ops
    c = st.conns[ci]
    id0 = ops.eq(rid, u8(ops, 0))
    init = mptcp_addresses_equal(
        ops, c.remote_addr, c.port, raddr, port, ops.ne(port, ops.const(0, 16))
    )
    echo_only = ops.or_(
        ops.and_(id0, ops.not_(init)),
        ops.and_(
            ops.not_(id0),
            ops.not_(c.accept_addr),
            ops.not_(mptcp_pm_add_addr_c_flag_case(k, c, st.netns)),
        ),
    )
    arrives = has_path(ops, c)
    take = ops.and_(arrives, ops.not_(echo_only), ops.not_(c.w_add_addr))
    note(ops, ops.not_(arrives), "mptcp_pm_add_addr_received: no established subflow carries it")
    note(ops, ops.and_(arrives, echo_only), ADD_ADDR_ECHO_ONLY, addr=raddr, id=rid)
    note(
        ops,
        take,
        "mptcp_pm_add_addr_received: {addr} id {id} queued for the worker",
        addr=raddr,
        id=rid,
    )
    note(ops, ops.and_(arrives, ops.not_(echo_only), c.w_add_addr), ADD_ADDR_DROPPED)
    scheduled = c._replace(
        w_add_addr=ops.true(), pm_remote_addr=raddr, pm_remote_id=rid, pm_remote_port=port
    )
    return ops.ite(take, set_conn(st, ci, scheduled), st), arrives


@rule(
    "peer announce",
    writes=on_both_sides(
        *conn_fields("pm_remote_addr", "pm_remote_id", "pm_remote_port", "w_add_addr")
    ),
    reads_inputs=("event",),
    kernel="mptcp_pm_add_addr_received",
)
@patchable
def peer_announce(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """The scripted peer sends ADD_ADDR: `mptcp_pm_add_addr_received`."""
    ev = inp.event

    def one(k: Ctx, st: State, ci: int) -> tuple[State, Value]:
        return mptcp_pm_add_addr_received(k, st, ci, ev.raddr, ev.rid, ev.port)

    st, applied = for_conn(k, st, inp, one)
    return st, outcome(k.ops, applied)


@patchable
def mptcp_pm_rm_addr_received(k: Ctx, st: State, ci: int, ids: Value) -> tuple[State, Value]:
    """`mptcp_pm_rm_addr_received`: schedule RM_ADDR_RECEIVED with the id
    list, or drop it (never retried) if that work is already pending.
    Returns the state and whether it arrived."""
    ops = k.ops
    c = st.conns[ci]
    arrives = has_path(ops, c)
    take = ops.and_(arrives, ops.not_(c.w_rm_addr))
    return ops.ite(take, set_conn(st, ci, c._replace(w_rm_addr=ops.true(), rm_rx=ids)), st), arrives


# What an RM_ADDR from the scripted peer writes, now or when it goes out.
_RM_RECEIVED = on_both_sides(*conn_fields("rm_rx", "w_rm_addr", "peer_rm_tx"))


@rule(
    "peer remove",
    writes=_RM_RECEIVED,
    reads_inputs=("event",),
    kernel="mptcp_pm_rm_addr_received",
)
@patchable
def peer_remove(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """The scripted peer sends RM_ADDR for one id: `mptcp_pm_rm_addr_received`.
    With no established subflow to carry it, the peer's own
    `mptcp_pm_remove_addr` keeps it pending (one at a time: another while
    one is pending is refused there) and `peer rm_addr` delivers it later."""
    ops = k.ops

    def one(k: Ctx, st: State, ci: int) -> tuple[State, Value]:
        ids = rm_list(ops, inp.event.rid)
        st, arrived = mptcp_pm_rm_addr_received(k, st, ci, ids)
        c = st.conns[ci]
        wait = ops.and_(c.used, ops.not_(arrived), ops.eq(c.peer_rm_tx, ops.const(0, 256)))
        note(ops, wait, "mptcp_pm_remove_addr: no subflow carries it yet; pending")
        return ops.ite(wait, set_conn(st, ci, c._replace(peer_rm_tx=ids)), st), arrived

    st, applied = for_conn(k, st, inp, one)
    return st, outcome(ops, applied)


def peer_rm_due(ops: Ops, conn: Conn) -> Value:
    """The scripted peer's pending RM_ADDR can go out: a subflow carries it."""
    return ops.and_(has_path(ops, conn), ops.ne(conn.peer_rm_tx, ops.const(0, 256)))


@rule(
    "peer rm_addr",
    writes=_RM_RECEIVED,
    reads_inputs=("event",),
    kernel="mptcp_pm_remove_addr",
)
@patchable
def peer_rm_addr(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """The scripted peer's pending RM_ADDR (`mptcp_pm_remove_addr` left it
    in addr_signal) rides the first packet of an established subflow, e.g.
    a join's: `mptcp_pm_rm_addr_received` here, so a join from an id the
    peer removed meanwhile is closed by the worker as soon as it is up."""
    ops = k.ops

    def one(k: Ctx, st: State, ci: int) -> tuple[State, Value]:
        c = st.conns[ci]
        due = peer_rm_due(ops, c)
        sent = set_conn(st, ci, c._replace(peer_rm_tx=ops.const(0, 256)))
        after, _ = mptcp_pm_rm_addr_received(k, sent, ci, c.peer_rm_tx)
        return ops.ite(due, after, st), due

    st, applied = for_conn(k, st, inp, one)
    return st, outcome(ops, applied)


# --- joins ---------------------------------------------------------------------------


def mptcp_pm_allow_new_subflow(ops: Ops, conn: Conn, limit: Value) -> tuple[Conn, Value]:
    """`mptcp_can_accept_new_subflow` (fully established, accept_subflow)
    then `mptcp_pm_allow_new_subflow` (extra_subflows < limit: ++, and
    accept_subflow off at the limit). Returns (conn, allowed)."""
    allowed = ops.and_(
        conn.used,
        conn.already_established,
        conn.accept_subflow,
        ops.ult(conn.extra_subflows, limit),
    )
    extra = ops.add(conn.extra_subflows, u8(ops, 1), 8)
    counted = conn._replace(extra_subflows=extra, accept_subflow=ops.ne(extra, limit))
    return ops.ite(allowed, counted, conn), allowed


@patchable
def subflow_check_req(
    k: Ctx,
    st: State,
    ci: int,
    laddr: Value,
    lport: Value,
    raddr: Value,
    rid: Value,
    rbackup: Value,
    listening: Value,
) -> tuple[State, Value, Value, Value]:
    """A passive join, from SYN to third ACK: `subflow_check_req` ->
    `subflow_token_join_request` resolves the local id with
    `mptcp_pm_get_local_id` (may create an IMPLICIT endpoint even if the
    join is refused later, F11; a full table refuses it) of the address and
    port the SYN went to; `listening`: a listener took the SYN and the port
    check passed. Then
    `subflow_syn_recv_sock` -> `mptcp_finish_join`: the subflow joins if
    `mptcp_pm_allow_new_subflow` lets it; our B bit from the endpoint
    (`mptcp_pm_is_backup`), the peer's from its SYN; once established,
    `mptcp_pm_subflow_established`. Returns (state, accepted, local id,
    the one-hot slot it took)."""
    ops = k.ops
    st, local_id, id_ok = mptcp_pm_get_local_id(
        k, st, ci, laddr, ops.and_(st.conns[ci].used, listening), lport
    )
    ns = st.netns
    c, allowed = mptcp_pm_allow_new_subflow(ops, st.conns[ci], ns.limit_extra_subflows)
    allowed = ops.and_(allowed, listening, id_ok)
    note(ops, ops.not_(allowed), "subflow_check_req: join to {addr} refused", addr=laddr)
    sf = empty_subflow(ops)._replace(
        used=ops.true(), established=ops.true(), kind=kind(ops, SUBFLOW_KIND_PASSIVE),
        local_id=local_id, remote_id=rid, local_addr=laddr, remote_addr=raddr,
        backup=mptcp_pm_nl_is_backup(ops, ns, laddr, lport), remote_backup=rbackup,
        twin=u8(ops, NO_TWIN),
    )  # fmt: skip
    joined, placed = add_subflow(ops, c, sf, ops.true())
    joined = mptcp_pm_subflow_established(ops, joined)
    conn = ops.ite(allowed, joined, st.conns[ci])
    return set_conn(st, ci, conn), allowed, local_id, [ops.and_(allowed, p) for p in placed]


@rule(
    "peer join",
    writes=on_both_sides(
        *ENDPOINT_TABLE,  # the IMPLICIT entry of an unknown address
        *conn_fields("accept_subflow", "extra_subflows", "overflow", "sf", "w_subflow_established"),
    ),
    reads_inputs=("event",),
    kernel="subflow_check_req",
)
@patchable
def peer_join(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """The scripted peer opens an MP_JOIN subflow from `raddr` (address id
    `rid`) to the host's `laddr` (passive join, `subflow_check_req`). The
    testbed always has a listener for it."""
    ops, ev = k.ops, inp.event

    def one(k: Ctx, st: State, ci: int) -> tuple[State, Value]:
        lport = st.conns[ci].lport  # the testbed's listener: the msk's own port
        st, allowed, _, _ = subflow_check_req(
            k, st, ci, ev.laddr, lport, ev.raddr, ev.rid, ops.false(), ops.true()
        )
        return st, allowed

    st, applied = for_conn(k, st, inp, one)
    return st, outcome(ops, applied)


@patchable
def subflow_finish_connect(
    k: Ctx, st: State, ci: int, hits: list[Value], accepted: Value,
    remote_id: Value = None, remote_backup: Value = None, twin: Value = None,
) -> State:  # fmt: skip
    """The answer to an active join in SYN_SENT (one-hot `hits`): accepted ->
    `subflow_finish_connect` (subflow.c) completes it (with an in-kernel
    peer: the SYN-ACK's join id overwrites remote_id, its B bit is the
    peer's, and the twin slot is known), then `mptcp_pm_subflow_established`;
    refused (RST) -> closed through `mptcp_close_ssk`."""
    ops = k.ops
    c = st.conns[ci]

    def completed(s: Subflow) -> Subflow:
        s = s._replace(established=ops.true())
        if remote_id is not None:
            s = s._replace(remote_id=remote_id, remote_backup=remote_backup, twin=twin)
        return s

    ok = tuple(ops.ite(h, completed(s), s) for h, s in zip(hits, c.sf, strict=True))
    done = mptcp_pm_subflow_established(ops, c._replace(sf=ok))
    refused, _ = close_subflows(ops, c, st.netns, hits)
    return set_conn(st, ci, ops.ite(ops.or_(*hits), ops.ite(accepted, done, refused), c))


def syn_sent(ops: Ops, c: Conn, i: int) -> Value:
    """Subflow slot i is an active join whose SYN is still unanswered."""
    s = c.sf[i]
    return ops.and_(
        c.used, s.used, ops.not_(s.established), ops.eq(s.kind, kind(ops, SUBFLOW_KIND_ACTIVE))
    )


@rule(
    "join result",
    writes=_SUBFLOW_GONE,
    reads_inputs=("event",),
    kernel="subflow_finish_connect",
)
@patchable
def join_result(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """The scripted peer answers the active join in subflow slot `slot`:
    accepted (`flag`, `subflow_finish_connect`) or reset."""
    ops, ev = k.ops, inp.event

    def one(k: Ctx, st: State, ci: int) -> tuple[State, Value]:
        c = st.conns[ci]
        hits = [
            ops.and_(ops.eq(ev.slot, u8(ops, i)), syn_sent(ops, c, i)) for i in range(len(c.sf))
        ]
        return subflow_finish_connect(k, st, ci, hits, ev.flag), ops.or_(*hits)

    st, applied = for_conn(k, st, inp, one)
    return st, outcome(ops, applied)


# --- subflow close, echoes, timers --------------------------------------------------


@rule("subflow close", writes=_SUBFLOW_GONE, reads_inputs=("event",))
@patchable
def mptcp_close_ssk(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """The subflow from `laddr` to `raddr` is closed by the network or the
    peer: `mptcp_close_ssk` -> `mptcp_pm_subflow_check_next`. The endpoint it
    used stays used (its id bit stays clear)."""
    ops, ev = k.ops, inp.event

    def one(k: Ctx, st: State, ci: int) -> tuple[State, Value]:
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


@patchable
def mptcp_pm_add_addr_echoed(k: Ctx, st: State, ci: int, hits: list[Value]) -> State:
    """`mptcp_pm_add_addr_echoed` for the one-hot announcement `hits`: the
    retransmit timer stops (the entry stays) and, if work is pending,
    SUBFLOW_ESTABLISHED is scheduled so the next address gets announced."""
    ops = k.ops
    c = st.conns[ci]
    anno = tuple(
        ops.ite(h, a._replace(echo_pending=ops.false()), a)
        for h, a in zip(hits, c.anno, strict=True)
    )
    hit = ops.or_(*hits)
    c2 = c._replace(
        anno=anno,
        w_subflow_established=ops.or_(c.w_subflow_established, ops.and_(hit, c.work_pending)),
    )
    return set_conn(st, ci, ops.ite(hit, c2, c))


def echo_due(ops: Ops, c: Conn, i: int) -> Value:
    a = c.anno[i]
    return ops.and_(c.used, a.used, a.echo_pending)


@rule(
    "add_addr echo",
    writes=_ANNOUNCE_ECHOED,
    reads_inputs=("event",),
    kernel="mptcp_pm_add_addr_echoed",
)
@patchable
def add_addr_echo(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """The scripted peer echoes our ADD_ADDR in announcement slot `slot`:
    `mptcp_pm_add_addr_echoed`."""
    ops, ev = k.ops, inp.event

    def one(k: Ctx, st: State, ci: int) -> tuple[State, Value]:
        c = st.conns[ci]
        hits = [
            ops.and_(ops.eq(ev.slot, u8(ops, i)), echo_due(ops, c, i)) for i in range(len(c.anno))
        ]
        return mptcp_pm_add_addr_echoed(k, st, ci, hits), ops.or_(*hits)

    st, applied = for_conn(k, st, inp, one)
    return st, outcome(ops, applied)


@rule("add_addr timeout", writes=_ANNOUNCE_ECHOED, reads_inputs=("event",))
@patchable
def mptcp_pm_add_timer(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """No echo ever came for announcement slot `slot`: `mptcp_pm_add_timer`
    retransmits up to ADD_ADDR_RETRANS_MAX times, then gives up and calls
    `mptcp_pm_subflow_established` so the next address gets announced. The
    entry stays. Entries whose stored id is 0 are skipped by the timer (F8:
    the stored id is the endpoint's, so this only skips a 6.18.10 id-0
    endpoint). The retransmissions themselves carry no PM state."""
    ops, ev = k.ops, inp.event

    def one(k: Ctx, st: State, ci: int) -> tuple[State, Value]:
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
        c2 = mptcp_pm_subflow_established(ops, c._replace(anno=anno))
        return set_conn(st, ci, ops.ite(hit, c2, c)), ops.and_(c.used, hit)

    st, applied = for_conn(k, st, inp, one)
    return st, outcome(ops, applied)
