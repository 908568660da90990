"""Per-connection invariants M1-M9 and the laminar / mixed-flag properties
(reference notes section 5.2), over `msk->pm`, the subflow list and the
endpoint table. Checked in the connection scope (checker.scope.connection_scope):
one connection, the environment settled after each step.

Each property holds vacuously for an unused connection slot. Baselines
record what the kernel does, bugs included: M1, M3, M4, M6, M7 and M8 are
the notes' confirmed violations.
"""

from __future__ import annotations

from pmcheck.model.backend import Ops, Value
from pmcheck.model.constants import FLAG_BACKUP, FLAG_FULLMESH, FLAG_LAMINAR, FLAG_SUBFLOW
from pmcheck.model.state import SUBFLOW_KIND_ACTIVE, Conn, State, Subflow
from pmcheck.model.topology import is_v4
from pmcheck.model.versions import KernelVersion
from pmcheck.properties.base import BOUNDED, VIOLATED, Property, count, register

ALL = {v: VIOLATED for v in KernelVersion}
BOUNDED_ALL = {v: BOUNDED for v in KernelVersion}


def _on(*versions: KernelVersion) -> dict[KernelVersion, str]:
    """VIOLATED on `versions` (a defect fixed upstream after them), held
    to the BMC depth elsewhere."""
    return {v: VIOLATED if v in versions else BOUNDED for v in KernelVersion}


def _u8(ops: Ops, v: int) -> Value:
    return ops.const(v, 8)


def _per_conn(fn: Value) -> Value:
    """holds(ops, st) = for every open connection, fn(ops, st, conn)."""

    def holds(ops: Ops, st: State) -> Value:
        return ops.and_(*(ops.or_(ops.not_(c.used), fn(ops, st, c)) for c in st.conns))

    return holds


def _some_conn(fn: Value) -> Value:
    def premise(ops: Ops, st: State) -> Value:
        return ops.or_(*(ops.and_(c.used, fn(ops, st, c)) for c in st.conns))

    return premise


def _active(ops: Ops, s: Subflow) -> Value:
    return ops.and_(s.used, ops.eq(s.kind, ops.const(SUBFLOW_KIND_ACTIVE, 2)))


def _fullmesh_anywhere(ops: Ops, st: State) -> Value:
    return ops.or_(*(ops.and_(e.used, ops.has(e.flags, FLAG_FULLMESH)) for e in st.netns.endp))


# --- M1 ----------------------------------------------------------------------


def _marked(ops: Ops, st: State, c: Conn) -> Value:
    """The SUBFLOW endpoints, other than the MPC one, whose id this
    connection has marked used."""
    return count(
        ops,
        [
            ops.and_(
                e.used,
                ops.has(e.flags, FLAG_SUBFLOW),
                ops.ne(e.id, c.mpc_endpoint_id),
                ops.not_(ops.bit_test(c.id_avail, e.id)),
            )
            for e in st.netns.endp
        ],
    )


def m1(ops: Ops, st: State, c: Conn) -> Value:
    return ops.eq(c.local_addr_used, _marked(ops, st, c))


# Seven defects drift local_addr_used from the marked ids and the endpoint
# counts (properties/ledger.py): two leave an id marked but uncounted, three
# count what is not (or no longer) marked, two do both. Each has its own
# property, checked with the others that break the same comparison fixed
# (Property.assumes), so each VIOLATED has one root cause. Each set is the
# smallest that BMC showed enough: a smaller one keeps the traces plain
# kernel scenarios (checker.scope.checked_scope).
UNDER = ("fix-F1", "fix-CSKIP")
OVER = ("fix-SIGID0", "fix-LAMDOUBLE", "fix-DELAVAIL")
BOTH = ("fix-P2", "fix-F3")


def _others(own: str, *groups: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f for g in (BOTH, *groups) for f in g if f != own)


M1 = register(
    Property(
        name="M1-local-addr-used",
        statement="local_addr_used equals the number of SUBFLOW endpoints, other than "
        "the MPC one, whose id this connection has marked used",
        cites="mptcp_pm_create_subflow_or_signal_addr (the C-flag case skips the "
        "subflow loop after the signal part marked a signal+subflow endpoint; "
        "579a752464a6 counts it), __mark_subflow_endp_available (its WARN guards "
        "this); notes M1",
        holds=_per_conn(m1),
        premise=_some_conn(lambda ops, st, c: ops.ne(c.local_addr_used, _u8(ops, 0))),
        expected=_on(KernelVersion.V6_18, KernelVersion.V6_19),
        group="connection",
        needs_connections=True,
        assumes=_others("fix-CSKIP", UNDER, OVER),
    )
)

M1B = register(
    Property(
        name="M1b-local-addr-used-at-most",
        statement="local_addr_used is at most the number of SUBFLOW endpoints, other "
        "than the MPC one, whose id this connection has marked used: the MPC "
        "endpoint is never counted",
        cites="mptcp_pm_create_subflow_or_signal_addr (the signal part's \"special "
        'case for ID0" rewrites the id that the subflow loop then compares with '
        "mpc_endpoint_id); notes M1",
        holds=_per_conn(lambda ops, st, c: ops.ule(c.local_addr_used, _marked(ops, st, c))),
        premise=_some_conn(lambda ops, st, c: ops.ne(c.local_addr_used, _u8(ops, 0))),
        expected=ALL,
        group="connection",
        needs_connections=True,
        assumes=_others("fix-SIGID0", OVER),
    )
)


# --- M2 ----------------------------------------------------------------------


def m2(ops: Ops, st: State, c: Conn) -> Value:
    ns = st.netns
    announced = count(ops, [a.used for a in c.anno])
    return ops.and_(
        ops.ule(c.local_addr_used, ns.endp_subflow_max),
        ops.eq(c.add_addr_signaled, announced),
        ops.ule(c.add_addr_signaled, ns.endp_signal_max),
    )


M2 = register(
    Property(
        name="M2-used-within-endpoints",
        statement="local_addr_used <= endp_subflow_max, and add_addr_signaled equals "
        "the announce list's length and is <= endp_signal_max",
        cites="mptcp_pm_create_subflow_or_signal_addr (the loop bounds), "
        "fill_local_laminar_endp (counts an endpoint whose id is already marked), "
        "mptcp_pm_alloc_anno_list, mptcp_pm_nl_del_addr_doit / "
        "mptcp_pm_remove_anno_addr (decrements); notes M2",
        holds=_per_conn(m2),
        premise=_some_conn(lambda ops, st, c: ops.ne(c.add_addr_signaled, _u8(ops, 0))),
        expected=ALL,
        group="connection",
        needs_connections=True,
        assumes=_others("fix-LAMDOUBLE", OVER),
    )
)

M2B = register(
    Property(
        name="M2b-delete-gives-back",
        statement="M2's bounds hold across endpoint deletes: deleting an endpoint "
        "gives back what it counted on every connection",
        cites="mptcp_nl_remove_subflow_and_signal_addr (before d191101dee25, an "
        "endpoint with no subflow left its id marked and counted), "
        "__mark_subflow_endp_available; upstream issue #606",
        holds=_per_conn(m2),
        premise=_some_conn(lambda ops, st, c: ops.ne(c.local_addr_used, _u8(ops, 0))),
        expected=_on(KernelVersion.V6_18, KernelVersion.V6_19),
        group="connection",
        needs_connections=True,
        assumes=_others("fix-DELAVAIL", OVER),
    )
)


# --- M3 / M4 / M5: the limits ------------------------------------------------

M3 = register(
    Property(
        name="M3-extra-subflows-limit",
        statement="extra_subflows <= the subflows limit (limits set before connecting)",
        cites="mptcp_pm_nl_add_addr_received and the ANY / laminar / fullmesh fillers "
        "(count without checking first), mptcp_pm_allow_new_subflow; notes M3, F4",
        holds=_per_conn(
            lambda ops, st, c: ops.ule(c.extra_subflows, st.netns.limit_extra_subflows)
        ),
        premise=_some_conn(lambda ops, st, c: ops.ne(c.extra_subflows, _u8(ops, 0))),
        expected=ALL,
        group="connection",
        needs_connections=True,
    )
)


def m4(ops: Ops, st: State, c: Conn) -> Value:
    limit = st.netns.limit_add_addr_accepted
    # mptcp_pm_add_addr_c_flag_case: "accept one ADD_ADDR if default limits
    # are used" with the peer's C flag: intended, so one is allowed there.
    c_flag_one = ops.and_(
        c.deny_join_id0, ops.eq(limit, _u8(ops, 0)), ops.ule(c.add_addr_accepted, _u8(ops, 1))
    )
    return ops.or_(ops.ule(c.add_addr_accepted, limit), c_flag_one)


M4 = register(
    Property(
        name="M4-add-addr-accepted-limit",
        statement="add_addr_accepted <= the add_addr_accepted limit (with the peer's "
        "C flag and limit 0: at most the one ADD_ADDR the kernel means to accept)",
        cites="mptcp_pm_nl_add_addr_received, mptcp_pm_add_addr_c_flag_case (reads "
        "local_addr_used, not add_addr_accepted); notes M4",
        holds=_per_conn(m4),
        premise=_some_conn(lambda ops, st, c: ops.ne(c.add_addr_accepted, _u8(ops, 0))),
        expected=BOUNDED_ALL,
        group="connection",
        needs_connections=True,
    )
)


def m5(ops: Ops, st: State, c: Conn) -> Value:
    ns = st.netns
    return ops.or_(
        ops.not_(c.accept_addr),
        ops.and_(
            ops.ult(c.add_addr_accepted, ns.limit_add_addr_accepted),
            ops.ult(c.extra_subflows, ns.limit_extra_subflows),
        ),
    )


M5 = register(
    Property(
        name="M5-accept-addr-gate",
        statement="accept_addr implies add_addr_accepted and extra_subflows are both "
        "below their limits",
        cites="mptcp_pm_data_reset, mptcp_pm_nl_add_addr_received / "
        "mptcp_pm_nl_rm_addr (the only places accept_addr is recomputed); "
        "notes M5, F4",
        holds=_per_conn(m5),
        premise=_some_conn(lambda ops, st, c: c.accept_addr),
        expected=ALL,
        group="connection",
        needs_connections=True,
    )
)


# --- M6 / M7: the MPC endpoint and local id 0 ---------------------------------


def m6(ops: Ops, st: State, c: Conn) -> Value:
    named = ops.or_(
        *(
            ops.and_(e.used, ops.eq(e.id, c.mpc_endpoint_id), ops.eq(e.addr, c.local_addr))
            for e in st.netns.endp
        )
    )
    return ops.or_(ops.eq(c.mpc_endpoint_id, _u8(ops, 0)), named)


M6 = register(
    Property(
        name="M6-mpc-endpoint-exists",
        statement="a non-zero mpc_endpoint_id names an endpoint with the connection's "
        "initial local address",
        cites="mptcp_mpc_endpoint_setup; mptcp_pm_nl_flush_addrs_doit leaves it stale "
        "and resets next_id (F3), mptcp_pm_nl_del_addr_doit; notes M6, F3",
        holds=_per_conn(m6),
        premise=_some_conn(lambda ops, st, c: ops.ne(c.mpc_endpoint_id, _u8(ops, 0))),
        expected=ALL,
        group="connection",
        needs_connections=True,
    )
)


def m7(ops: Ops, st: State, c: Conn) -> Value:
    # An endpoint whose own id is 0 is P2's defect, reported there.
    zero_id_addrs = [(ops.and_(e.used, ops.eq(e.id, _u8(ops, 0))), e.addr) for e in st.netns.endp]
    return ops.and_(
        *(
            ops.or_(
                ops.not_(s.used),
                ops.ne(s.local_id, _u8(ops, 0)),
                ops.eq(s.local_addr, c.local_addr),
                *(ops.and_(z, ops.eq(a, s.local_addr)) for z, a in zero_id_addrs),
            )
            for s in c.sf
        )
    )


M7 = register(
    Property(
        name="M7-local-id-zero",
        statement="a live subflow with local id 0 leaves from the connection's initial "
        "local address (or from an endpoint whose own id is 0: P2's defect)",
        cites="mptcp_pm_nl_flush_addrs_doit keeps mpc_endpoint_id while next_id "
        "restarts (F3), so mptcp_endp_get_local_id maps a new endpoint to 0; "
        "mptcp_mpc_endpoint_setup; notes M7, F3",
        holds=_per_conn(m7),
        premise=_some_conn(lambda ops, st, c: ops.or_(*(_active(ops, s) for s in c.sf))),
        expected=ALL,
        group="connection",
        needs_connections=True,
    )
)


def m7b(ops: Ops, st: State, c: Conn) -> Value:
    return ops.and_(
        *(
            ops.or_(
                ops.not_(s.used),
                ops.ne(s.local_addr, c.local_addr),
                ops.eq(s.local_id, _u8(ops, 0)),
            )
            for s in c.sf
        )
    )


M7B = register(
    Property(
        name="M7b-initial-address-id-zero",
        statement="a live subflow from the connection's initial local address has local id 0",
        cites="fill_local_laminar_endp returns the MPC endpoint's raw id while its "
        "id-available test maps it to 0 (F2); mptcp_pm_get_local_id; notes M7, F2",
        holds=_per_conn(m7b),
        premise=_some_conn(
            lambda ops, st, c: ops.or_(
                *(ops.and_(_active(ops, s), ops.eq(s.local_addr, c.local_addr)) for s in c.sf)
            )
        ),
        expected=ALL,
        group="laminar",
        needs_connections=True,
    )
)


# --- M8 and the laminar properties --------------------------------------------


def _to_announced(ops: Ops, c: Conn, s: Subflow) -> Value:
    """A PM-created subflow toward an address the peer announced (not the
    connection's initial remote address, which the `subflow` flag's own
    connect-time subflows go to: intended, ledger.INTENDED)."""
    return ops.and_(_active(ops, s), ops.ne(s.remote_addr, c.remote_addr))


def m8(ops: Ops, st: State, c: Conn) -> Value:
    per = []
    for e in st.netns.endp:
        lam = ops.and_(e.used, ops.has(e.flags, FLAG_LAMINAR))
        n = count(
            ops,
            [ops.and_(_to_announced(ops, c, s), ops.eq(s.local_addr, e.addr)) for s in c.sf],
        )
        per.append(ops.or_(ops.not_(lam), ops.ule(n, _u8(ops, 1))))
    return ops.or_(_fullmesh_anywhere(ops, st), ops.and_(*per))


M8 = register(
    Property(
        name="M8-laminar-used-once",
        statement="with no FULLMESH endpoint, a LAMINAR endpoint's address is the source "
        "of at most one live PM-created subflow toward the peer's announced "
        "addresses (the subflow flag's own subflow to the initial address aside)",
        cites="fill_local_laminar_endp (the id-available test uses the mapped id 0, the "
        "subflow the raw id: F2), fill_local_addresses_vec; notes M8",
        holds=_per_conn(m8),
        premise=_some_conn(
            lambda ops, st, c: ops.or_(
                *(
                    ops.and_(
                        e.used,
                        ops.has(e.flags, FLAG_LAMINAR),
                        ops.or_(
                            *(
                                ops.and_(_to_announced(ops, c, s), ops.eq(s.local_addr, e.addr))
                                for s in c.sf
                            )
                        ),
                    )
                    for e in st.netns.endp
                )
            )
        ),
        expected=BOUNDED_ALL,
        group="laminar",
        needs_connections=True,
    )
)


def families(ops: Ops, st: State, c: Conn) -> Value:
    return ops.and_(
        *(
            ops.or_(ops.not_(s.used), ops.eq(is_v4(ops, s.local_addr), is_v4(ops, s.remote_addr)))
            for s in c.sf
        )
    )


L1 = register(
    Property(
        name="L1-same-family-subflows",
        statement="no subflow joins addresses of two families (a laminar or any other "
        "endpoint is never used for an ADD_ADDR of the other family)",
        cites="fill_local_laminar_endp / fill_local_addresses_vec_fullmesh "
        "(mptcp_pm_addr_families_match), fill_remote_addr; notes F10",
        holds=_per_conn(families),
        premise=_some_conn(lambda ops, st, c: ops.or_(*(_active(ops, s) for s in c.sf))),
        group="laminar",
        needs_connections=True,
    )
)


# --- M9, backup, WARN ---------------------------------------------------------


def m9(ops: Ops, st: State, c: Conn) -> Value:
    return ops.and_(
        *(
            ops.not_(
                ops.and_(
                    _active(ops, a),
                    _active(ops, b),
                    ops.eq(a.local_addr, b.local_addr),
                    ops.eq(a.remote_addr, b.remote_addr),
                )
            )
            for i, a in enumerate(c.sf)
            for b in c.sf[i + 1 :]
        )
    )


M9 = register(
    Property(
        name="M9-no-duplicate-subflow",
        statement="no two live PM-created subflows join the same local and remote addresses",
        cites="lookup_subflow_by_daddr / mptcp_lookup_subflow_by_saddr, "
        "fill_remote_addresses_fullmesh (unavail ids); notes M9",
        holds=_per_conn(m9),
        premise=_some_conn(
            lambda ops, st, c: ops.ule(_u8(ops, 2), count(ops, [_active(ops, s) for s in c.sf]))
        ),
        expected=BOUNDED_ALL,
        group="connection",
        needs_connections=True,
    )
)


def backup_reflected(ops: Ops, st: State, c: Conn) -> Value:
    per = []
    for s in c.sf:
        for e in st.netns.endp:
            from_e = ops.and_(
                _active(ops, s),
                e.used,
                ops.eq(s.local_addr, e.addr),
                ops.ne(s.local_id, _u8(ops, 0)),
                ops.eq(s.local_id, e.id),
            )
            per.append(ops.or_(ops.not_(from_e), ops.eq(s.backup, ops.has(e.flags, FLAG_BACKUP))))
    return ops.and_(*per)


# A PM-created subflow has its B bit: the premise of X1 and X1b.
_backup_subflow = _some_conn(
    lambda ops, st, c: ops.or_(*(ops.and_(_active(ops, s), s.backup) for s in c.sf))
)

X1 = register(
    Property(
        name="X1-backup-reflected",
        statement="a PM-created subflow from an endpoint carries that endpoint's BACKUP "
        "flag (as the B bit), also after `endpoint change`",
        cites="mptcp_pm_create_subflow_or_signal_addr / fill_local_* (backup from the "
        "entry), mptcp_pm_nl_set_flags -> mptcp_pm_mp_prio_send_ack (F5: first "
        "matching subflow only)",
        holds=_per_conn(backup_reflected),
        premise=_backup_subflow,
        expected=ALL,
        group="mixed",
        needs_connections=True,
        assumes=("fix-IMPLBKUP",),
    )
)

X1B = register(
    Property(
        name="X1b-backup-on-replace",
        statement="a subflow already using an address carries the BACKUP flag of "
        "the endpoint that replaces its IMPLICIT entry",
        cites="mptcp_pm_nl_add_addr_doit (no MP_PRIO on add; only mptcp_pm_nl_set_flags sends one)",
        holds=_per_conn(backup_reflected),
        premise=_backup_subflow,
        expected=ALL,
        group="mixed",
        needs_connections=True,
        assumes=("fix-F5",),
    )
)

W1 = register(
    Property(
        name="W1-no-warn",
        statement="no kernel WARN_ON_ONCE fires (counter underflow in "
        "__mark_subflow_endp_available, duplicate announce entry)",
        cites="__mark_subflow_endp_available, mptcp_pm_alloc_anno_list; notes M1, F1",
        holds=_per_conn(lambda ops, st, c: ops.not_(c.warned)),
        assumes=_others("fix-F1", UNDER, ("fix-DELAVAIL",)),
        premise=_some_conn(lambda ops, st, c: ops.ne(c.local_addr_used, _u8(ops, 0))),
        expected=ALL,
        group="connection",
        needs_connections=True,
    )
)

CONNECTION_PROPERTIES = (M1, M1B, M2, M2B, M3, M4, M5, M6, M7, M7B, M8, L1, M9, X1, X1B, W1)
