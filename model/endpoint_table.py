"""Netlink commands on the per-netns endpoint table (pm_kernel.c, pm_netlink.c).

One function per kernel function, named after it. Each reads top-down as the
kernel does: the checks in the kernel's order (`first_error`), then the
effect on the table, then the effect on every connection (endpoint_effects.py:
`mptcp_nl_add_subflow_or_signal_addr` and friends), and "state unchanged on
error" as one `ite`.
"""

from __future__ import annotations

from pmcheck.model import endpoint_effects
from pmcheck.model.backend import Ops, Value, select
from pmcheck.model.constants import (
    AF_INET,
    AF_INET6,
    EADDRINUSE,
    EINVAL,
    EOPNOTSUPP,
    FLAG_BACKUP,
    FLAG_FULLMESH,
    FLAG_IMPLICIT,
    FLAG_LAMINAR,
    FLAG_SIGNAL,
    FLAG_SUBFLOW,
    MPTCP_PM_ADDR_FLAGS_MASK,
    MPTCP_PM_ADDR_MAX,
    MSG,
)
from pmcheck.model.inputs import AddrInput, Outcome
from pmcheck.model.patching import patchable
from pmcheck.model.pernet import (
    address_use_port,
    count_flag,
    empty_endpoint,
    list_del,
    listener_in_use,
    lookup_addr_by_id_hits,
    lookup_addr_hits,
    mptcp_pm_nl_append_new_local_addr,
)
from pmcheck.model.rules import ENDPOINT_TABLE, Ctx, Inputs, conn_fields, first_error, rule
from pmcheck.model.state import Endpoint, State

# --- parsing ---------------------------------------------------------------


def parse_family_checks(
    ops: Ops, a: AddrInput, require_family: bool
) -> list[tuple[Value, int, int]]:
    """`mptcp_pm_parse_pm_addr_attr`: the family checks, in order."""
    missing = ops.eq(a.family, ops.const(0, 4))
    unknown = ops.and_(
        ops.not_(missing),
        ops.ne(a.family, ops.const(AF_INET, 4)),
        ops.ne(a.family, ops.const(AF_INET6, 4)),
    )
    checks = [(unknown, EINVAL, MSG["unknown address family"])]
    if require_family:
        checks.insert(0, (missing, EINVAL, MSG["missing family"]))
    return checks


# --- ADD -------------------------------------------------------------------


# What the endpoint commands touch on each connection: the announce list and
# its counter, the subflows they open or close, the id bitmap and the counters
# that follow them, and the worker kick.
_ON_CONNS = conn_fields(
    "accept_subflow",
    "add_addr_signaled",
    "anno",
    "extra_subflows",
    "id_avail",
    "local_addr_used",
    "mpc_accounted",
    "mpc_endpoint_id",
    "overflow",
    "rm_tx",
    "sf",
    "w_subflow_established",
    "warned",
    "work_pending",
)


@rule("endpoint add", writes=(*ENDPOINT_TABLE, *_ON_CONNS), reads_inputs=("addr",))
@patchable
def mptcp_pm_nl_add_addr_doit(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """`mptcp_pm_nl_add_addr_doit` (pm_kernel.c): validate, then append.

    Checks in kernel order: family (`mptcp_pm_parse_entry`, which also masks
    the flags with GENMASK(5,0)), port only for signal-only endpoints, not
    signal+fullmesh, not implicit; then `mptcp_pm_nl_create_listen_socket`
    for a port endpoint, which runs *before* the duplicate scan, so a second
    `A port P` fails with -EADDRINUSE, not -EEXIST ([live] 6.18.44). Any other
    bind failure is out of scope: the live interpreter makes every address
    local. Then `mptcp_pm_nl_append_new_local_addr` with `needs_id` as the
    version has it.
    """
    ops, a, ns = k.ops, inp.addr, st.netns
    flags = ops.band(a.flags, ops.const(MPTCP_PM_ADDR_FLAGS_MASK, 8))
    port_given = ops.ne(a.port, ops.const(0, 16))
    parse = [
        *parse_family_checks(ops, a, require_family=True),
        (
            ops.and_(port_given, ops.not_(address_use_port(ops, flags))),
            EINVAL,
            MSG["flags must have signal and not subflow when using port"],
        ),
        (
            ops.and_(ops.has(flags, FLAG_SIGNAL), ops.has(flags, FLAG_FULLMESH)),
            EINVAL,
            MSG["flags mustn't have both signal and fullmesh"],
        ),
        (ops.has(flags, FLAG_IMPLICIT), EINVAL, MSG["can't create IMPLICIT endpoint"]),
        (
            ops.and_(port_given, listener_in_use(ops, ns, a.addr, a.port)),
            EADDRINUSE,
            MSG["create listen socket error: -98"],
        ),
    ]
    parse_failed = ops.or_(*(c for c, _, _ in parse))
    # 6.18.10 allocates only when no ID attribute came; the revert 8e2760eaab77
    # (6.18-stable) allocates whenever the id is 0.
    needs_id = ops.not_(a.has_id) if k.version.explicit_id0_creates_id0 else ops.true()
    entry = Endpoint(ops.true(), a.family, a.addr, a.port, a.id, flags, a.ifindex)
    appended, checks, new_id = mptcp_pm_nl_append_new_local_addr(k, ns, entry, needs_id)
    # A later check only counts when every earlier one passed.
    checks = parse + [(ops.and_(ops.not_(parse_failed), c), e, m) for c, e, m in checks]
    failed, outcome = first_error(ops, checks, new_id)
    st = st._replace(netns=ops.ite(parse_failed, ns, appended))
    port = ops.ite(address_use_port(ops, flags), a.port, ops.const(0, 16))
    new = entry._replace(id=new_id, port=port)
    return ops.cond(
        failed, lambda: st, lambda: endpoint_effects.mptcp_nl_add_subflow_or_signal_addr(k, st, new)
    ), outcome


# --- DEL -------------------------------------------------------------------


@rule("endpoint delete", writes=(*ENDPOINT_TABLE, *_ON_CONNS), reads_inputs=("addr",))
@patchable
def mptcp_pm_nl_del_addr_doit(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """`mptcp_pm_nl_del_addr_doit` (pm_kernel.c).

    ID 0 goes to `mptcp_nl_remove_id_zero_address`, which never touches the
    endpoint list and returns 0 (so a 6.18.10 id-0 endpoint cannot be deleted,
    F9). Otherwise lookup by id only (the address is ignored): decrement the
    flag counters and `endpoints`, unlink, clear the id bit; next_id stays.
    """
    ops, a, ns = k.ops, inp.addr, st.netns
    id_zero = ops.eq(a.id, ops.const(0, 8))
    hits = lookup_addr_by_id_hits(ops, ns, a.id)
    cur = select(ops, hits, list(ns.endp), ns.endp[-1])
    found = ops.or_(*hits)
    checks = [
        *parse_family_checks(ops, a, require_family=False),
        (ops.and_(ops.not_(id_zero), ops.not_(found)), EINVAL, MSG["address not found"]),
    ]
    failed, outcome = first_error(ops, checks, ops.const(0, 8))

    def deleted() -> State:
        removed = ns._replace(
            endp=list_del(ops, ns.endp, hits),
            endpoints=ops.sub(ns.endpoints, ops.const(1, 8), 8),
            id_bitmap=ops.bit_clear(ns.id_bitmap, cur.id),
            endp_signal_max=count_flag(ops, ns.endp_signal_max, cur.flags, FLAG_SIGNAL, -1),
            endp_subflow_max=count_flag(ops, ns.endp_subflow_max, cur.flags, FLAG_SUBFLOW, -1),
            endp_laminar_max=count_flag(ops, ns.endp_laminar_max, cur.flags, FLAG_LAMINAR, -1),
        )
        if k.version.has_endp_fullmesh_max:
            removed = removed._replace(
                endp_fullmesh_max=count_flag(
                    ops, ns.endp_fullmesh_max, cur.flags, FLAG_FULLMESH, -1
                )
            )
        return endpoint_effects.mptcp_nl_remove_subflow_and_signal_addr(
            k, st._replace(netns=removed), cur
        )

    def zero() -> State:
        # Without an address (no family) no msk's local address can match.
        return ops.cond(
            ops.eq(a.family, ops.const(0, 4)),
            lambda: st,
            lambda: endpoint_effects.mptcp_nl_remove_id_zero_address(k, st, a.addr, a.port),
        )

    return ops.cond(failed, lambda: st, lambda: ops.cond(id_zero, zero, deleted)), outcome


# --- FLUSH -----------------------------------------------------------------


@rule("endpoint flush", writes=(*ENDPOINT_TABLE, *_ON_CONNS))
@patchable
def mptcp_pm_nl_flush_addrs_doit(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """`mptcp_pm_nl_flush_addrs_doit`: detach the whole list (implicit entries
    too), `__reset_counters`, next_id = 1, clear id_bitmap. Limits stay. On
    6.19, `__reset_counters` forgets endp_fullmesh_max (fixed in 7.1-rc2,
    "mptcp: pm: kernel: reset fullmesh counter after flush")."""
    ops, ns = k.ops, st.netns
    zero = ops.const(0, 8)
    flushed = ns._replace(
        endp=(empty_endpoint(ops),) * len(ns.endp),
        endpoints=zero,
        next_id=ops.const(1, 8),
        id_bitmap=ops.const(0, 256),
        endp_signal_max=zero,
        endp_subflow_max=zero,
        endp_laminar_max=zero,
    )
    if k.version.flush_resets_fullmesh_max:
        flushed = flushed._replace(endp_fullmesh_max=zero)
    st = endpoint_effects.mptcp_pm_flush_addrs_and_subflows(k, st._replace(netns=flushed), ns)
    return st, Outcome(zero, zero, zero)


# --- SET_FLAGS ---------------------------------------------------------------


@rule(
    "endpoint change",
    writes=("netns.endp", "netns.endp_fullmesh_max", *_ON_CONNS),
    reads_inputs=("addr",),
)
@patchable
def mptcp_pm_nl_set_flags(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """`mptcp_pm_nl_set_flags` (pm_kernel.c) behind `mptcp_pm_nl_set_flags_doit`.

    No family: lookup by id (id 0 -> -EOPNOTSUPP "missing address ID");
    else `__lookup_addr` by address. FULLMESH requested on a SIGNAL or
    IMPLICIT endpoint -> -EINVAL. Only BACKUP and FULLMESH change, taken
    from the request as sent (a bit not sent is cleared); LAMINAR, SIGNAL,
    SUBFLOW in the request are ignored. 6.19 keeps endp_fullmesh_max.
    """
    ops, a, ns = k.ops, inp.addr, st.netns
    mask = FLAG_BACKUP | FLAG_FULLMESH
    req = ops.band(a.flags, ops.const(MPTCP_PM_ADDR_FLAGS_MASK, 8))
    by_id = ops.eq(a.family, ops.const(0, 4))
    id_hits = lookup_addr_by_id_hits(ops, ns, a.id)
    addr_hits = lookup_addr_hits(ops, ns, a.addr, a.port)
    hits = [ops.ite(by_id, i, d) for i, d in zip(id_hits, addr_hits, strict=True)]
    cur = select(ops, hits, list(ns.endp), ns.endp[-1])
    checks = [
        *parse_family_checks(ops, a, require_family=False),
        (ops.and_(by_id, ops.eq(a.id, ops.const(0, 8))), EOPNOTSUPP, MSG["missing address ID"]),
        (ops.not_(ops.or_(*hits)), EINVAL, MSG["address not found"]),
        (
            ops.and_(
                ops.has(req, FLAG_FULLMESH),
                ops.ne(
                    ops.band(cur.flags, ops.const(FLAG_SIGNAL | FLAG_IMPLICIT, 8)), ops.const(0, 8)
                ),
            ),
            EINVAL,
            MSG["invalid addr flags"],
        ),
    ]
    failed, outcome = first_error(ops, checks, ops.const(0, 8))
    new_flags = ops.bor(
        ops.band(cur.flags, ops.const(~mask & 0xFF, 8)), ops.band(req, ops.const(mask, 8))
    )
    changed = ops.bxor(new_flags, cur.flags)

    def updated() -> State:
        endp = tuple(
            ops.ite(h, e._replace(flags=new_flags), e) for h, e in zip(hits, ns.endp, strict=True)
        )
        table = ns._replace(endp=endp)
        if k.version.has_endp_fullmesh_max:  # f88191c7f361: the counter follows
            toggled = ops.has(changed, FLAG_FULLMESH)
            gained = count_flag(ops, ns.endp_fullmesh_max, new_flags, FLAG_FULLMESH, +1)
            lost = count_flag(ops, ns.endp_fullmesh_max, cur.flags, FLAG_FULLMESH, -1)
            table = table._replace(
                endp_fullmesh_max=ops.ite(toggled, ops.ite(ops.has(new_flags, FLAG_FULLMESH),
                                                           gained, lost), ns.endp_fullmesh_max)
            )  # fmt: skip
        return endpoint_effects.mptcp_pm_nl_set_flags_all(
            k, st._replace(netns=table), cur._replace(flags=new_flags), changed
        )

    return ops.cond(failed, lambda: st, updated), outcome


# --- LIMITS ------------------------------------------------------------------


@rule(
    "limits set",
    writes=("netns.limit_add_addr_accepted", "netns.limit_extra_subflows"),
    reads_inputs=("limits",),
)
@patchable
def mptcp_pm_nl_set_limits_doit(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """`mptcp_pm_nl_set_limits_doit`: each attribute optional, a value above
    MPTCP_PM_ADDR_MAX fails with nothing written (both or none)."""
    ops, lim, ns = k.ops, inp.limits, st.netns
    top = ops.const(MPTCP_PM_ADDR_MAX, 32)
    checks = [
        (
            ops.and_(lim.has_add_addr_accepted, ops.ult(top, lim.add_addr_accepted)),
            EINVAL,
            MSG["limit greater than maximum (8)"],
        ),
        (
            ops.and_(lim.has_subflows, ops.ult(top, lim.subflows)),
            EINVAL,
            MSG["limit greater than maximum (8)"],
        ),
    ]
    failed, outcome = first_error(ops, checks, ops.const(0, 8))
    updated = ns._replace(
        limit_add_addr_accepted=ops.ite(
            lim.has_add_addr_accepted,
            ops.trunc(lim.add_addr_accepted, 32, 8),
            ns.limit_add_addr_accepted,
        ),
        limit_extra_subflows=ops.ite(
            lim.has_subflows, ops.trunc(lim.subflows, 32, 8), ns.limit_extra_subflows
        ),
    )
    return st._replace(netns=ops.ite(failed, ns, updated)), outcome


# --- read-only commands --------------------------------------------------------


@rule("endpoint get", writes=(), reads_inputs=("addr",))
@patchable
def mptcp_pm_nl_get_addr_doit(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """`mptcp_pm_nl_get_addr_doit` -> `mptcp_pm_nl_get_addr`: lookup by id;
    not found -> -EINVAL. The reply itself is read by views.get_addr."""
    ops = k.ops
    found = ops.or_(*lookup_addr_by_id_hits(ops, st.netns, inp.addr.id))
    _, outcome = first_error(
        ops, [(ops.not_(found), EINVAL, MSG["address not found"])], ops.const(0, 8)
    )
    return st, outcome


@rule("endpoint dump", writes=())
@patchable
def mptcp_pm_nl_dump_addr(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """`mptcp_pm_nl_dump_addr`: always succeeds; the rows are views.dump_addr."""
    zero = k.ops.const(0, 8)
    return st, Outcome(zero, zero, zero)


@rule("limits show", writes=())
@patchable
def mptcp_pm_nl_get_limits_doit(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
    """`mptcp_pm_nl_get_limits_doit`: always succeeds."""
    zero = k.ops.const(0, 8)
    return st, Outcome(zero, zero, zero)
