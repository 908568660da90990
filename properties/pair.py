"""Properties of a connection between two in-kernel PMs (`peer pm kernel`):
what the two hosts' states say about each other. Checked in the two-PM scope
(checker.scope.two_pm_scope), where the environment may deliver the
messages between them in any order. A statement about counters is about a
settled world (no PM work scheduled, nothing on the wire), since a message
in flight is exactly a moment where the two sides disagree.
"""

from __future__ import annotations

from pmcheck.model.backend import Ops, Value
from pmcheck.model.environment import quiescent
from pmcheck.model.state import (
    NO_TWIN,
    SUBFLOW_KIND_ACTIVE,
    SUBFLOW_KIND_MPC,
    SUBFLOW_KIND_PASSIVE,
    Conn,
    State,
    Subflow,
    mirror,
)
from pmcheck.model.subflows import kind, u8
from pmcheck.model.versions import KernelVersion
from pmcheck.properties.base import PROVED, VIOLATED, Predicate, Property, register


def _settled(ops: Ops, st: State) -> Value:
    return quiescent(ops, st, None)


def _joins(ops: Ops, c: Conn) -> Value:
    return ops.or_(*(ops.and_(s.used, s.established, ops.ne(s.kind, kind(ops, 0))) for s in c.sf))


def _mirrored_kind(ops: Ops, a: Subflow, b: Subflow) -> Value:
    """b is a's other end: MPC with MPC, an active join with a passive one."""
    mpc, act, pas = (kind(ops, k) for k in (SUBFLOW_KIND_MPC, SUBFLOW_KIND_ACTIVE,
                                            SUBFLOW_KIND_PASSIVE))  # fmt: skip
    return ops.or_(
        ops.and_(ops.eq(a.kind, mpc), ops.eq(b.kind, mpc)),
        ops.and_(ops.eq(a.kind, act), ops.eq(b.kind, pas)),
        ops.and_(ops.eq(a.kind, pas), ops.eq(b.kind, act)),
    )


def _other_end(ops: Ops, st: State, ci: int, i: int, check: Value) -> Value:
    """Some subflow of the other host is the other end of host subflow i
    (they name each other as twins) and `check(a, b)` holds for the pair."""
    a = st.conns[ci].sf[i]
    theirs = st.peer[0].conns[ci].sf
    return ops.or_(
        *(
            ops.and_(b.used, ops.eq(a.twin, u8(ops, j)), ops.eq(b.twin, u8(ops, i)), check(a, b))
            for j, b in enumerate(theirs)
        )
    )


def _both_sides(fn: Predicate) -> Predicate:
    """holds(ops, st) = fn on the host's view and on the peer's."""

    def holds(ops: Ops, st: State) -> Value:
        return ops.and_(fn(ops, st), fn(ops, mirror(st)))

    return holds


# --- X2: joins accepted -------------------------------------------------------


def joins_accepted(ops: Ops, st: State) -> Value:
    """Every established subflow is paired with its other end (the MPC pair
    at connect, a join when the other host accepted it), and a pair that
    still names each other is a mirror image. (Once settled no pair is
    broken: a FIN/RST on its way is pending environment work.)"""

    def mirrored(a: Subflow, b: Subflow) -> Value:
        return ops.and_(
            b.established,
            _mirrored_kind(ops, a, b),
            ops.eq(a.local_addr, b.remote_addr),
            ops.eq(a.remote_addr, b.local_addr),
        )

    def linked_but_not_mirrored(a: Subflow, b: Subflow) -> Value:
        return ops.not_(mirrored(a, b))

    per = []
    for ci, c in enumerate(st.conns):
        for i, s in enumerate(c.sf):
            live = ops.and_(c.used, s.used, s.established)
            per.append(ops.or_(ops.not_(live), ops.ne(s.twin, u8(ops, NO_TWIN))))
            per.append(
                ops.not_(ops.and_(live, _other_end(ops, st, ci, i, linked_but_not_mirrored)))
            )
    return ops.and_(*per)


X2 = register(
    Property(
        name="X2-joins-accepted",
        statement="every subflow a host counts as established was accepted by the other "
        "host: it is paired with its other end there, the mirror image (an active join "
        "with a passive one, addresses swapped), until a FIN/RST breaks the pair",
        cites="subflow_finish_connect (client, on the SYN-ACK), subflow_check_req / "
        "subflow_syn_recv_sock / mptcp_pm_allow_new_subflow (server), "
        "mptcp_close_ssk on the FIN/RST",
        holds=_both_sides(joins_accepted),
        premise=lambda ops, st: ops.and_(_settled(ops, st), *[_joins(ops, c) for c in st.conns]),
        expected={v: PROVED for v in KernelVersion},
        group="pair",
        scope_kind="two-pm",
    )
)


# --- the documented RM_ADDR leak (formerly X3) -------------------------------------


def signaled_covers_accepted(ops: Ops, st: State) -> Value:
    per = [
        ops.or_(ops.not_(c.used), ops.ule(c.add_addr_accepted, theirs.add_addr_signaled))
        for c, theirs in zip(st.conns, st.peer[0].conns, strict=True)
    ]
    return ops.or_(ops.not_(_settled(ops, st)), ops.and_(*per))


# Not a property: the one way it breaks is the leak the kernel documents in
# mptcp_pm_nl_rm_addr ("if the subflow has been closed before, this
# add_addr_accepted counter will not be decremented"), so reporting it would
# report intended behaviour (properties/ledger.py, INTENDED). Kept unregistered
# so the tests can show the model reproduces that leak.
RM_ADDR_LEAK = Property(
    name="rm-addr-leak",
    statement="once settled, a host's add_addr_accepted is at most the other "
    "host's add_addr_signaled on that connection",
    cites="mptcp_pm_nl_rm_addr (the documented leak), mptcp_pm_nl_add_addr_received, "
    "mptcp_pm_remove_anno_addr",
    holds=_both_sides(signaled_covers_accepted),
    premise=lambda ops, st: ops.or_(*(ops.ne(c.add_addr_accepted, u8(ops, 0)) for c in st.conns)),
    expected={v: VIOLATED for v in KernelVersion},
    group="pair",
    scope_kind="two-pm",
)


# --- X4: ids agree ---------------------------------------------------------------


def ids_agree(ops: Ops, st: State) -> Value:
    def same_ids(a: Subflow, b: Subflow) -> Value:
        return ops.and_(ops.eq(a.local_id, b.remote_id), ops.eq(a.remote_id, b.local_id))

    def mismatched(a: Subflow, b: Subflow) -> Value:
        return ops.not_(same_ids(a, b))

    return ops.and_(
        *(
            ops.not_(
                ops.and_(c.used, s.used, s.established, _other_end(ops, st, ci, i, mismatched))
            )
            for ci, c in enumerate(st.conns)
            for i, s in enumerate(c.sf)
        )
    )


X4 = register(
    Property(
        name="X4-ids-agree",
        statement="both ends of a subflow agree on its ids: one side's local id is the "
        "other's remote id",
        cites="subflow_check_req / subflow_token_join_request (join id of the SYN), "
        "mptcp_synack_options + subflow_finish_connect (the SYN-ACK's id overwrites "
        "remote_id), mptcp_pm_get_local_id",
        holds=_both_sides(ids_agree),
        premise=lambda ops, st: ops.or_(*(_joins(ops, c) for c in st.conns)),
        expected={v: PROVED for v in KernelVersion},
        group="pair",
        scope_kind="two-pm",
    )
)

PAIR_PROPERTIES = (X2, X4)
