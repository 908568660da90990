"""The wire between two in-kernel PMs (`peer pm kernel`): each message one
host sent, delivered to the other as the kernel receives it.

What is in flight is read off the sender's own records, so no second copy
of any PM state exists:

- an ADD_ADDR: an announcement not yet `delivered`;
- its echo: a delivered announcement still `echo_pending`, once the
  receiver is no longer holding it in its worker (the echo is sent at once
  on the echo-only path, else first thing in `mptcp_pm_nl_add_addr_received`);
- an MP_JOIN SYN: an active join in SYN_SENT;
- an RM_ADDR: the sender's `rm_tx` id set;
- an MP_PRIO: a subflow's `prio_tx`;
- a FIN/RST: a subflow whose twin on the other host has gone;
- the server's first packet: a client not yet fully established;
- and, not a message, the server application's accept(): before it the
  server's msk has no socket, and no subflow can be created.

Every rule here is written for the *sending* (or, for closes and full
establishment, the acting) host in the host's place, and `on_side` runs it
on the peer through `mirror`, so the two hosts share every rule. A join's
SYN and its answer are one step: nothing the sender can observe happens
between the receiver's decision and the SYN-ACK or RST (the implicit
endpoint the receiver may create is its own state).
"""

from __future__ import annotations

from collections.abc import Callable

from pmcheck.model.backend import Ops, Value, select
from pmcheck.model.constants import FLAG_SIGNAL
from pmcheck.model.inputs import Outcome
from pmcheck.model.local_ids import set_conn
from pmcheck.model.patching import patchable
from pmcheck.model.pm_events import (
    for_conn,
    has_path,
    mptcp_pm_add_addr_echoed,
    mptcp_pm_add_addr_received,
    mptcp_pm_fully_established,
    mptcp_pm_rm_addr_received,
    outcome,
    subflow_check_req,
    subflow_finish_connect,
    syn_sent,
)
from pmcheck.model.rules import ENDPOINT_TABLE, Ctx, Inputs, conn_fields, on_both_sides, rule
from pmcheck.model.state import NO_TWIN, Conn, Netns, State, mirror
from pmcheck.model.subflows import slot_index, u8


def onehot(ops: Ops, slot: Value, n: int) -> list[Value]:
    return [ops.eq(slot, u8(ops, i)) for i in range(n)]


def other_conn(st: State, ci: int) -> Conn:
    return st.peer[0].conns[ci]


# --- what is in flight ---------------------------------------------------------------


def add_addr_in_flight(ops: Ops, st: State, ci: int, i: int) -> Value:
    """The host's announcement i is on its way, and the peer can take it: it
    has a subflow it can arrive on, and no ADD_ADDR waiting in its worker
    (the kernel drops one then, and the sender's timer retransmits it)."""
    c, theirs, a = st.conns[ci], other_conn(st, ci), st.conns[ci].anno[i]
    if not ops.symbolic and not (c.used and a.used and a.echo_pending):
        return False  # the common case, without building the rest
    return ops.and_(
        c.used, a.used, a.echo_pending, ops.not_(a.delivered), has_path(ops, theirs),
        ops.not_(theirs.w_add_addr),
    )  # fmt: skip


def echo_in_flight(ops: Ops, st: State, ci: int, i: int) -> Value:
    """The peer's echo of the host's announcement i is on its way back."""
    c, theirs, a = st.conns[ci], other_conn(st, ci), st.conns[ci].anno[i]
    if not ops.symbolic and not (c.used and a.used and a.echo_pending and a.delivered):
        return False
    holding = ops.and_(
        theirs.w_add_addr, ops.eq(theirs.pm_remote_addr, a.addr),
        ops.eq(theirs.pm_remote_port, a.port), ops.eq(theirs.pm_remote_id, a.sent_id),
    )  # fmt: skip
    return ops.and_(c.used, a.used, a.echo_pending, a.delivered, ops.not_(holding))


def twin_alive(ops: Ops, st: State, ci: int, i: int) -> Value:
    """The other host still has the subflow paired with the host's slot i."""
    s = st.conns[ci].sf[i]
    return ops.or_(
        *(
            ops.and_(ops.eq(s.twin, u8(ops, j)), o.used, ops.eq(o.twin, u8(ops, i)))
            for j, o in enumerate(other_conn(st, ci).sf)
        )
    )


def orphaned(ops: Ops, st: State, ci: int, i: int) -> Value:
    """The host's subflow i lost its other end and has not heard yet: the
    FIN/RST is on its way."""
    c, s = st.conns[ci], st.conns[ci].sf[i]
    if not ops.symbolic and not (
        c.used and s.used and s.established and not s.fin_rx and s.twin != NO_TWIN
    ):
        return False
    paired = ops.ne(s.twin, u8(ops, NO_TWIN))
    return ops.and_(
        c.used, s.used, s.established, ops.not_(s.fin_rx), paired,
        ops.not_(twin_alive(ops, st, ci, i)),
    )  # fmt: skip


def prio_in_flight(ops: Ops, st: State, ci: int, i: int) -> Value:
    c, s = st.conns[ci], st.conns[ci].sf[i]
    return ops.and_(c.used, s.used, s.prio_tx)


def rm_in_flight(ops: Ops, st: State, ci: int) -> Value:
    c = st.conns[ci]
    return ops.and_(c.used, ops.ne(c.rm_tx, ops.const(0, 256)))


def accept_due(ops: Ops, st: State, ci: int) -> Value:
    c = st.conns[ci]
    return ops.and_(c.used, ops.not_(c.attached))


def establishment_due(ops: Ops, st: State, ci: int) -> Value:
    c = st.conns[ci]
    return ops.and_(c.used, ops.not_(c.already_established))


# --- deliveries, each written for the host as sender -------------------------------------


def listening(ops: Ops, conn: Conn, ns: Netns, addr: Value, port: Value) -> Value:
    """Does a listener on this host take a join SYN to addr:port for this
    connection? The server's own listener (its port, any address); else a
    signal endpoint's listener (`mptcp_pm_nl_create_listen_socket`), which
    `mptcp_pm_sport_in_anno_list` accepts only for an address and port this
    connection announced. A client's ephemeral port has no listener (RST)."""
    own = ops.and_(conn.server, ops.eq(port, conn.lport))
    endpoint = ops.or_(
        *(
            ops.and_(
                e.used, ops.has(e.flags, FLAG_SIGNAL), ops.eq(e.addr, addr), ops.eq(e.port, port)
            )
            for e in ns.endp
        )
    )
    announced = ops.or_(
        *(ops.and_(a.used, ops.eq(a.addr, addr), ops.eq(a.port, port)) for a in conn.anno)
    )
    nonzero = ops.ne(port, ops.const(0, 16))
    return ops.or_(own, ops.and_(nonzero, endpoint, announced))


@patchable
def deliver_add_addr(k: Ctx, st: State, ci: int, slot: Value) -> tuple[State, Value]:
    """The host's ADD_ADDR in announcement `slot` reaches the peer. It is a
    packet from the host, so a client peer not yet fully established becomes
    so first (`check_fully_established` runs before the options); then the
    peer's `mptcp_pm_add_addr_received` with the announced id."""
    ops = k.ops
    c = st.conns[ci]
    hits = [ops.and_(h, add_addr_in_flight(ops, st, ci, i))
            for i, h in enumerate(onehot(ops, slot, len(c.anno)))]  # fmt: skip
    a = select(ops, hits, list(c.anno), c.anno[0])
    anno = tuple(
        ops.ite(h, x._replace(delivered=ops.true()), x) for h, x in zip(hits, c.anno, strict=True)
    )
    sent = set_conn(st, ci, c._replace(anno=anno))
    theirs = mirror(sent)
    tc = theirs.conns[ci]
    theirs = set_conn(
        theirs, ci, ops.ite(tc.already_established, tc, mptcp_pm_fully_established(ops, tc))
    )
    theirs, _ = mptcp_pm_add_addr_received(k.mirrored(), theirs, ci, a.addr, a.sent_id, a.port)
    hit = ops.or_(*hits)
    return ops.ite(hit, mirror(theirs), st), hit


@patchable
def deliver_echo(k: Ctx, st: State, ci: int, slot: Value) -> tuple[State, Value]:
    """The peer's echo of the host's announcement `slot` arrives:
    `mptcp_pm_add_addr_echoed` on the host."""
    ops = k.ops
    c = st.conns[ci]
    hits = [ops.and_(h, echo_in_flight(ops, st, ci, i))
            for i, h in enumerate(onehot(ops, slot, len(c.anno)))]  # fmt: skip
    return mptcp_pm_add_addr_echoed(k, st, ci, hits), ops.or_(*hits)


@patchable
def deliver_join(k: Ctx, st: State, ci: int, slot: Value) -> tuple[State, Value]:
    """The host's MP_JOIN SYN in subflow `slot` reaches the peer and is
    answered: the peer's `subflow_check_req` (join id = our local id, B bit
    = our request_bkup) decides; accepted, the host's
    `subflow_finish_connect` takes the peer's local id and B bit from the
    SYN-ACK and both subflows learn their twin; refused, the RST closes it."""
    ops = k.ops
    c = st.conns[ci]
    hits = [ops.and_(h, syn_sent(ops, c, i)) for i, h in enumerate(onehot(ops, slot, len(c.sf)))]
    s = select(ops, hits, list(c.sf), c.sf[0])
    km = k.mirrored()
    theirs = mirror(st)
    tc = theirs.conns[ci]
    listens = listening(ops, tc, theirs.netns, s.remote_addr, s.remote_port)
    theirs, accepted, local_id, placed = subflow_check_req(
        km, theirs, ci, s.remote_addr, s.remote_port, s.local_addr, s.local_id, s.backup, listens
    )
    tc = theirs.conns[ci]
    mine = slot_index(ops, hits)
    sf = tuple(ops.ite(p, x._replace(twin=mine), x) for p, x in zip(placed, tc.sf, strict=True))
    theirs = set_conn(theirs, ci, tc._replace(sf=sf))
    their_sf = select(ops, placed, list(tc.sf), tc.sf[0])
    back = mirror(theirs)
    done = subflow_finish_connect(
        k, back, ci, hits, accepted, local_id, their_sf.backup, slot_index(ops, placed)
    )
    hit = ops.or_(*hits)
    return ops.ite(hit, done, st), hit


@patchable
def deliver_rm_addr(k: Ctx, st: State, ci: int, _slot: Value) -> tuple[State, Value]:
    """The host's RM_ADDR reaches the peer: `mptcp_pm_rm_addr_received`
    with its id list (dropped if one is already waiting there)."""
    ops = k.ops
    c = st.conns[ci]
    due = rm_in_flight(ops, st, ci)
    sent = set_conn(st, ci, c._replace(rm_tx=ops.const(0, 256)))
    theirs, _ = mptcp_pm_rm_addr_received(k.mirrored(), mirror(sent), ci, c.rm_tx)
    return ops.ite(due, mirror(theirs), st), due


@patchable
def deliver_mp_prio(k: Ctx, st: State, ci: int, slot: Value) -> tuple[State, Value]:
    """The host's MP_PRIO on subflow `slot` reaches the peer:
    `mptcp_pm_mp_prio_received` sets that subflow's `backup` (the host's B
    bit as the peer sees it)."""
    ops = k.ops
    c = st.conns[ci]
    hits = [
        ops.and_(h, prio_in_flight(ops, st, ci, i))
        for i, h in enumerate(onehot(ops, slot, len(c.sf)))
    ]
    s = select(ops, hits, list(c.sf), c.sf[0])
    i_am = slot_index(ops, hits)
    sf = tuple(
        ops.ite(h, x._replace(prio_tx=ops.false()), x) for h, x in zip(hits, c.sf, strict=True)
    )
    sent = set_conn(st, ci, c._replace(sf=sf))
    theirs = mirror(sent)
    tc = theirs.conns[ci]
    mine = [
        ops.and_(ops.eq(s.twin, u8(ops, j)), ops.eq(o.twin, i_am), o.used)
        for j, o in enumerate(tc.sf)
    ]
    tsf = tuple(
        ops.ite(m, o._replace(remote_backup=s.backup), o) for m, o in zip(mine, tc.sf, strict=True)
    )
    theirs = set_conn(theirs, ci, tc._replace(sf=tsf))
    hit = ops.or_(*hits)
    return ops.ite(hit, mirror(theirs), st), hit


@patchable
def deliver_close(k: Ctx, st: State, ci: int, slot: Value) -> tuple[State, Value]:
    """The FIN/RST for the host's subflow `slot` arrives (its other end is
    gone): the subflow goes to CLOSE_WAIT (`subflow_sched_work_if_closed`)
    and the msk worker will reap it (`__mptcp_close_subflow`), after its PM
    work: an RM_ADDR already waiting still closes it as a join."""
    ops = k.ops
    c = st.conns[ci]
    hits = [
        ops.and_(h, orphaned(ops, st, ci, i)) for i, h in enumerate(onehot(ops, slot, len(c.sf)))
    ]
    sf = tuple(
        ops.ite(h, s._replace(fin_rx=ops.true()), s) for h, s in zip(hits, c.sf, strict=True)
    )
    return set_conn(st, ci, c._replace(sf=sf)), ops.or_(*hits)


@patchable
def deliver_established(k: Ctx, st: State, ci: int, _slot: Value) -> tuple[State, Value]:
    """The other host's first packet after the handshake reaches the host, a
    client: `check_fully_established` -> `mptcp_pm_fully_established`."""
    ops = k.ops
    c = st.conns[ci]
    due = establishment_due(ops, st, ci)
    return set_conn(st, ci, ops.ite(due, mptcp_pm_fully_established(ops, c), c)), due


@patchable
def deliver_accept(k: Ctx, st: State, ci: int, _slot: Value) -> tuple[State, Value]:
    """The server application accept()s the connection (`mptcp_stream_accept`,
    `mptcp_sock_graft` on each subflow): the msk gets its socket, and from then on its
    PM can create subflows."""
    ops = k.ops
    c = st.conns[ci]
    due = accept_due(ops, st, ci)
    return set_conn(st, ci, c._replace(attached=ops.or_(c.attached, due))), due


# --- the rules ---------------------------------------------------------------------------

# What each delivery may write, on whichever host receives it.
FRAMES: dict[str, tuple[str, ...]] = {
    "wire established": conn_fields("already_established", "w_established"),
    "wire add_addr": conn_fields(
        "already_established",
        "anno",
        "pm_remote_addr",
        "pm_remote_id",
        "pm_remote_port",
        "w_add_addr",
        "w_established",
    ),
    "wire echo": conn_fields("anno", "w_subflow_established"),
    "wire join": (
        *ENDPOINT_TABLE,  # the IMPLICIT entry of an unknown address
        *conn_fields(
            "accept_subflow",
            "extra_subflows",
            "overflow",
            "sf",
            "w_subflow_established",
            "work_pending",
        ),
    ),
    "wire rm_addr": conn_fields("rm_rx", "rm_tx", "w_rm_addr"),
    "wire mp_prio": conn_fields("sf"),
    "wire close": conn_fields("sf"),
    "wire accept": conn_fields("attached"),
}

DELIVERIES: dict[str, tuple[str, Callable[[Ctx, State, int, Value], tuple[State, Value]]]] = {
    "wire established": ("check_fully_established", deliver_established),
    "wire add_addr": ("mptcp_pm_add_addr_received", deliver_add_addr),
    "wire echo": ("mptcp_pm_add_addr_echoed", deliver_echo),
    "wire join": ("subflow_check_req", deliver_join),
    "wire rm_addr": ("mptcp_pm_rm_addr_received", deliver_rm_addr),
    "wire mp_prio": ("mptcp_pm_mp_prio_received", deliver_mp_prio),
    "wire close": ("subflow_sched_work_if_closed", deliver_close),
    "wire accept": ("mptcp_stream_accept", deliver_accept),
}


def _register(
    name: str, kernel: str, fn: Callable[[Ctx, State, int, Value], tuple[State, Value]]
) -> None:
    def wire_rule(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
        st, applied = for_conn(k, st, inp, lambda k, st, ci: fn(k, st, ci, inp.event.slot))
        return st, outcome(k.ops, applied)

    wire_rule.__doc__ = fn.__doc__
    wire_rule.__name__ = fn.__name__
    rule(name, writes=on_both_sides(*FRAMES[name]), reads_inputs=("event",), kernel=kernel)(
        wire_rule
    )


for _name, (_kernel, _fn) in DELIVERIES.items():
    _register(_name, _kernel, _fn)
