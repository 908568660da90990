"""Per-namespace invariants P1-P6 (reference notes section 5.1), over the
endpoint table of `struct pm_nl_pernet` (pm_kernel.c)."""

from __future__ import annotations

import itertools

from pmcheck.model.backend import Ops, Value
from pmcheck.model.constants import (
    FLAG_BACKUP,
    FLAG_FULLMESH,
    FLAG_IMPLICIT,
    FLAG_LAMINAR,
    FLAG_SIGNAL,
    FLAG_SUBFLOW,
    MPTCP_PM_ADDR_MAX,
)
from pmcheck.model.pernet import mptcp_addresses_equal
from pmcheck.model.state import State
from pmcheck.model.versions import KernelVersion
from pmcheck.properties.base import PROVED, VIOLATED, Property, count, register


def _u8(ops: Ops, v: int) -> Value:
    return ops.const(v, 8)


def p1(ops: Ops, st: State) -> Value:
    ns = st.netns
    used = [e.used for e in ns.endp]
    compact = ops.and_(*(ops.or_(ops.not_(b), a) for a, b in itertools.pairwise(used)))
    return ops.and_(
        ops.eq(ns.endpoints, count(ops, used)),
        ops.ule(ns.endpoints, _u8(ops, MPTCP_PM_ADDR_MAX)),
        compact,
    )


P1 = register(
    Property(
        name="P1-endpoint-count",
        statement="`endpoints` equals the number of list entries (implicit ones "
        "included), at most MPTCP_PM_ADDR_MAX = 8, and the list is compact",
        cites="mptcp_pm_nl_append_new_local_addr (endpoints++ / -ERANGE), "
        "mptcp_pm_nl_del_addr_doit, __reset_counters; notes P1",
        holds=p1,
        premise=lambda ops, st: ops.ule(_u8(ops, 2), st.netns.endpoints),
    )
)


def p2(ops: Ops, st: State) -> Value:
    ns = st.netns
    bitmap = ops.const(0, 256)
    for e in ns.endp:
        bitmap = ops.ite(e.used, ops.bit_set(bitmap, e.id), bitmap)
    unique = ops.and_(
        *(
            ops.not_(ops.and_(a.used, b.used, ops.eq(a.id, b.id)))
            for i, a in enumerate(ns.endp)
            for b in ns.endp[i + 1 :]
        )
    )
    nonzero = ops.and_(*(ops.or_(ops.not_(e.used), ops.ne(e.id, _u8(ops, 0))) for e in ns.endp))
    return ops.and_(ops.eq(bitmap, ns.id_bitmap), unique, nonzero)


P2 = register(
    Property(
        name="P2-id-bitmap",
        statement="id_bitmap is exactly the set of endpoint ids; ids are unique and in 1..255",
        cites="mptcp_pm_nl_append_new_local_addr (needs_id, find_next_zero_bit, "
        "__set_bit), mptcp_pm_nl_del_addr_doit (__clear_bit); notes P2, F9",
        holds=p2,
        premise=lambda ops, st: ops.ule(_u8(ops, 2), st.netns.endpoints),
        # 6.18.10 (and the 6.19 net-next snapshot) create an endpoint with id 0
        # for an explicit `id 0` attribute; reverted by 8e2760eaab77.
        expected={
            KernelVersion.V6_18: VIOLATED,
            KernelVersion.V6_19: VIOLATED,
            KernelVersion.V6_18_STABLE: PROVED,
            KernelVersion.V7_0: PROVED,  # 8e2760eaab77 reverted needs_id
            KernelVersion.V7_1: PROVED,
        },
    )
)


def p3(ops: Ops, st: State) -> Value:
    ns = st.netns
    return ops.and_(
        *(
            ops.not_(
                ops.and_(
                    a.used,
                    b.used,
                    mptcp_addresses_equal(
                        ops,
                        a.addr,
                        a.port,
                        b.addr,
                        b.port,
                        ops.or_(ops.ne(a.port, ops.const(0, 16)), ops.ne(b.port, ops.const(0, 16))),
                    ),
                )
            )
            for i, a in enumerate(ns.endp)
            for b in ns.endp[i + 1 :]
        )
    )


P3 = register(
    Property(
        name="P3-no-duplicate-address",
        statement="no two endpoints are equal under mptcp_addresses_equal with the "
        "port compared when either has one (v4-mapped = v4)",
        cites="mptcp_pm_nl_append_new_local_addr duplicate scan (-EEXIST); notes P3",
        holds=p3,
        premise=lambda ops, st: ops.ule(_u8(ops, 2), st.netns.endpoints),
    )
)


def _counter_ok(ops: Ops, counter: Value, st: State, flag: int) -> Value:
    return ops.eq(
        counter, count(ops, [ops.and_(e.used, ops.has(e.flags, flag)) for e in st.netns.endp])
    )


def p4(ops: Ops, st: State) -> Value:
    ns = st.netns
    return ops.and_(
        _counter_ok(ops, ns.endp_signal_max, st, FLAG_SIGNAL),
        _counter_ok(ops, ns.endp_subflow_max, st, FLAG_SUBFLOW),
        _counter_ok(ops, ns.endp_laminar_max, st, FLAG_LAMINAR),
    )


P4 = register(
    Property(
        name="P4-flag-counters",
        statement="endp_signal_max / endp_subflow_max / endp_laminar_max count the "
        "endpoints carrying SIGNAL / SUBFLOW / LAMINAR",
        cites="mptcp_pm_nl_append_new_local_addr, mptcp_pm_nl_del_addr_doit, "
        "__reset_counters; mptcp_pm_nl_set_flags changes only BACKUP/FULLMESH; notes P4",
        holds=p4,
        premise=lambda ops, st: ops.ne(st.netns.endp_subflow_max, _u8(ops, 0)),
    )
)


def p4_fullmesh(ops: Ops, st: State) -> Value:
    return _counter_ok(ops, st.netns.endp_fullmesh_max, st, FLAG_FULLMESH)


P4F = register(
    Property(
        name="P4F-fullmesh-counter",
        statement="endp_fullmesh_max counts the FULLMESH endpoints (the counter "
        "6.19 added; not checked where it does not exist)",
        cites="f88191c7f361 (add, del, set_flags), __reset_counters (flush); fixed in "
        "7.1-rc2 'mptcp: pm: kernel: reset fullmesh counter after flush'",
        holds=p4_fullmesh,
        premise=lambda ops, st: ops.ne(st.netns.endp_fullmesh_max, _u8(ops, 0)),
        expected={
            KernelVersion.V6_19: VIOLATED,
            KernelVersion.V7_0: VIOLATED,
            KernelVersion.V7_1: PROVED,  # 1774d3cf3cf1
        },
        versions=frozenset({KernelVersion.V6_19, KernelVersion.V7_0, KernelVersion.V7_1}),
    )
)


def p5(ops: Ops, st: State) -> Value:
    ns = st.netns
    zero16 = ops.const(0, 16)
    per = []
    for e in ns.endp:
        signal_only = ops.eq(
            ops.band(e.flags, _u8(ops, FLAG_SIGNAL | FLAG_SUBFLOW)), _u8(ops, FLAG_SIGNAL)
        )
        per.append(
            ops.or_(
                ops.not_(e.used),
                ops.and_(
                    ops.or_(ops.eq(e.port, zero16), signal_only),
                    ops.not_(
                        ops.and_(ops.has(e.flags, FLAG_SIGNAL), ops.has(e.flags, FLAG_FULLMESH))
                    ),
                    ops.not_(
                        ops.and_(ops.has(e.flags, FLAG_IMPLICIT), ops.has(e.flags, FLAG_FULLMESH))
                    ),
                ),
            )
        )
    # Entries with a port come first in list order.
    ordered = ops.and_(
        *(
            ops.not_(ops.and_(a.used, b.used, ops.eq(a.port, zero16), ops.ne(b.port, zero16)))
            for i, a in enumerate(ns.endp)
            for b in ns.endp[i + 1 :]
        )
    )
    return ops.and_(*per, ordered)


P5 = register(
    Property(
        name="P5-flag-and-port-rules",
        statement="a port only on signal-only endpoints; never SIGNAL+FULLMESH or "
        "IMPLICIT+FULLMESH; port endpoints precede the others in list order",
        cites="mptcp_pm_nl_add_addr_doit checks, mptcp_pm_nl_set_flags ('invalid addr "
        "flags'), list_add_rcu vs list_add_tail_rcu; notes P5",
        holds=p5,
        premise=lambda ops, st: ops.or_(
            *(ops.and_(e.used, ops.ne(e.port, ops.const(0, 16))) for e in st.netns.endp)
        ),
    )
)


def p6(ops: Ops, st: State) -> Value:
    ns = st.netns
    top = _u8(ops, MPTCP_PM_ADDR_MAX)
    return ops.and_(
        ops.ule(ns.limit_add_addr_accepted, top),
        ops.ule(ns.limit_extra_subflows, top),
        ops.ne(ns.next_id, _u8(ops, 0)),
    )


P6 = register(
    Property(
        name="P6-limits-and-next-id",
        statement="both limits are in 0..8 and next_id in 1..255",
        cites="mptcp_pm_nl_set_limits_doit (parse_limit), "
        "mptcp_pm_nl_append_new_local_addr / flush (next_id); notes P6",
        holds=p6,
        premise=lambda ops, st: ops.eq(st.netns.next_id, _u8(ops, 255)),
    )
)


def p7(ops: Ops, st: State) -> Value:
    allowed = _u8(ops, FLAG_IMPLICIT | FLAG_BACKUP)
    return ops.and_(
        *(
            ops.or_(
                ops.not_(e.used),
                ops.not_(ops.has(e.flags, FLAG_IMPLICIT)),
                ops.and_(
                    ops.eq(ops.band(e.flags, ops.bnot(allowed, 8)), _u8(ops, 0)),
                    ops.eq(e.port, ops.const(0, 16)),
                ),
            )
            for e in st.netns.endp
        )
    )


P7 = register(
    Property(
        name="P7-implicit-entries",
        statement="an IMPLICIT endpoint carries no flag but IMPLICIT and BACKUP and no "
        "port, so replacing it (which keeps its id and touches no counter) "
        "keeps the counters right",
        cites="mptcp_pm_nl_get_local_id (kmemdup, port 0, IMPLICIT), "
        "mptcp_pm_nl_append_new_local_addr replace path, mptcp_pm_nl_set_flags "
        "(FULLMESH refused on IMPLICIT)",
        holds=p7,
        premise=lambda ops, st: ops.or_(
            *(ops.and_(e.used, ops.has(e.flags, FLAG_IMPLICIT)) for e in st.netns.endp)
        ),
        # Implicit endpoints only arise from connections (mptcp_pm_get_local_id
        # for a join or an ANY-filler subflow): checked where they can.
        needs_connections=True,
        # In the namespace scope it still holds (no implicit endpoint there)
        # and P4's proof needs it: a lemma, not a verdict.
        lemma_in=frozenset({"netns"}),
    )
)
NETNS_PROPERTIES = (P1, P2, P3, P4, P4F, P5, P6, P7)
