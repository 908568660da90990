"""The per-namespace endpoint list (`struct pm_nl_pernet`, pm_kernel.c):
lookups and the one mutation every path that adds an entry goes through.

The bottom of the rule layers: the netlink handlers (endpoint_table), the
per-connection loops (endpoint_effects) and the PM worker (pm_worker, for
implicit endpoints) all build on these, and this module builds on none of
them.
"""

from __future__ import annotations

from pmcheck.model.backend import Ops, Value, first_true, select
from pmcheck.model.constants import (
    EBUSY,
    EEXIST,
    EINVAL,
    ERANGE,
    FLAG_FULLMESH,
    FLAG_IMPLICIT,
    FLAG_LAMINAR,
    FLAG_SIGNAL,
    FLAG_SUBFLOW,
    MPTCP_PM_ADDR_MAX,
    MPTCP_PM_MAX_ADDR_ID,
    MSG,
)
from pmcheck.model.patching import patchable
from pmcheck.model.rules import Ctx
from pmcheck.model.state import Endpoint, Netns


def empty_endpoint(ops: Ops) -> Endpoint:
    return Endpoint(
        ops.false(),
        ops.const(0, 4),
        ops.const(0, 8),
        ops.const(0, 16),
        ops.const(0, 8),
        ops.const(0, 8),
        ops.const(0, 8),
    )


def address_use_port(ops: Ops, flags: Value) -> Value:
    """`address_use_port`: only signal-only endpoints keep a port."""
    return ops.eq(
        ops.band(flags, ops.const(FLAG_SIGNAL | FLAG_SUBFLOW, 8)), ops.const(FLAG_SIGNAL, 8)
    )


def mptcp_addresses_equal(
    ops: Ops, a_addr: Value, a_port: Value, b_addr: Value, b_port: Value, use_port: Value
) -> Value:
    """`mptcp_addresses_equal` (protocol.h). Address keys already identify an
    IPv4 address with its v4-mapped IPv6 form, so equal keys = equal addresses."""
    return ops.and_(ops.eq(a_addr, b_addr), ops.or_(ops.not_(use_port), ops.eq(a_port, b_port)))


def lookup_addr_by_id_hits(ops: Ops, ns: Netns, ident: Value) -> list[Value]:
    """`__lookup_addr_by_id`: one-hot first entry with this id, list order."""
    return first_true(ops, [ops.and_(e.used, ops.eq(e.id, ident)) for e in ns.endp])


def lookup_addr_hits(ops: Ops, ns: Netns, addr: Value, port: Value) -> list[Value]:
    """`__lookup_addr`: first entry equal to the address; the port is compared
    only when the entry has one."""
    return first_true(
        ops,
        [
            ops.and_(
                e.used,
                mptcp_addresses_equal(
                    ops, e.addr, e.port, addr, port, ops.ne(e.port, ops.const(0, 16))
                ),
            )
            for e in ns.endp
        ],
    )


def listener_in_use(ops: Ops, ns: Netns, addr: Value, port: Value) -> Value:
    """A port endpoint's listener (`entry->lsk`) already bound to addr:port.
    IPv4 and v4-mapped binds collide, as their address keys are equal."""
    return ops.or_(
        *(
            ops.and_(
                e.used, ops.ne(e.port, ops.const(0, 16)), ops.eq(e.port, port), ops.eq(e.addr, addr)
            )
            for e in ns.endp
        )
    )


def list_add(
    ops: Ops, endp: tuple[Endpoint, ...], count: Value, new: Endpoint, at_head: Value
) -> tuple[Endpoint, ...]:
    """`list_add_rcu` (head) or `list_add_tail_rcu` (tail) on a compact list
    of `count` < MPTCP_PM_ADDR_MAX entries."""
    head = (new, *endp[:-1])
    tail = tuple(ops.ite(ops.eq(count, ops.const(i, 8)), new, e) for i, e in enumerate(endp))
    return tuple(ops.ite(at_head, h, t) for h, t in zip(head, tail, strict=True))


def list_del(ops: Ops, endp: tuple[Endpoint, ...], hits: list[Value]) -> tuple[Endpoint, ...]:
    """`list_del_rcu` of the one-hot entry: later entries move up one slot."""
    out = []
    removed = ops.false()
    empty = empty_endpoint(ops)
    for i, e in enumerate(endp):
        removed = ops.or_(removed, hits[i])
        nxt = endp[i + 1] if i + 1 < len(endp) else empty
        out.append(ops.ite(removed, nxt, e))
    return tuple(out)


def count_flag(ops: Ops, counter: Value, flags: Value, flag: int, delta: int) -> Value:
    """Counter +delta when `flags` has `flag` (u8 arithmetic, as the kernel's)."""
    step = ops.add if delta > 0 else ops.sub
    return ops.ite(ops.has(flags, flag), step(counter, ops.const(1, 8), 8), counter)


def duplicate_scan(ops: Ops, ns: Netns, entry: Endpoint, port: Value) -> list[Value]:
    """The append's duplicate scan: the first entry with the same address,
    ports compared only when either side has one (one-hot)."""
    zero = ops.const(0, 16)
    return first_true(
        ops,
        [
            ops.and_(
                e.used,
                mptcp_addresses_equal(
                    ops, e.addr, e.port, entry.addr, port,
                    ops.or_(ops.ne(e.port, zero), ops.ne(port, zero)),
                ),
            )
            for e in ns.endp
        ],
    )  # fmt: skip


def allocate_id(ops: Ops, ns: Netns, nid: Value, alloc: Value, want: Value) -> tuple[Value, Value]:
    """The append's id allocation: find_next_zero_bit from next_id, one retry
    from 1 (which moves next_id); `want` when no allocation is due. Returns
    (the new id, next_id as it is then)."""
    first = ops.find_next_zero_u8(ns.id_bitmap, nid)
    retry = ops.and_(alloc, ops.eq(first, ops.const(0, 8)), ops.ne(nid, ops.const(1, 8)))
    nid = ops.ite(retry, ops.const(1, 8), nid)
    new_id = ops.ite(alloc, ops.ite(retry, ops.find_next_zero_u8(ns.id_bitmap, nid), first), want)
    return new_id, nid


@patchable
def append_entry(
    k: Ctx,
    ns: Netns,
    entry: Endpoint,
    port: Value,
    new_id: Value,
    nid: Value,
    replaced: list[Value],
) -> Netns:
    """The append's effect: a replaced implicit entry (`replaced`, one-hot or
    none) leaves the list, the new one goes to the head (with a port) or the
    tail, the counters and the id bitmap follow."""
    ops = k.ops
    replacing = ops.or_(*replaced)
    endp = tuple(
        ops.ite(replacing, e, f)
        for e, f in zip(list_del(ops, ns.endp, replaced), ns.endp, strict=True)
    )
    count = ops.ite(replacing, ops.sub(ns.endpoints, ops.const(1, 8), 8), ns.endpoints)
    new = Endpoint(ops.true(), entry.family, entry.addr, port, new_id, entry.flags, entry.ifindex)
    added = ns._replace(
        endp=list_add(ops, endp, count, new, ops.ne(port, ops.const(0, 16))),
        endpoints=ops.add(count, ops.const(1, 8), 8),
        next_id=ops.ite(ops.ult(nid, new_id), new_id, nid),
        id_bitmap=ops.bit_set(ns.id_bitmap, new_id),
        endp_signal_max=count_flag(ops, ns.endp_signal_max, entry.flags, FLAG_SIGNAL, +1),
        endp_subflow_max=count_flag(ops, ns.endp_subflow_max, entry.flags, FLAG_SUBFLOW, +1),
        endp_laminar_max=count_flag(ops, ns.endp_laminar_max, entry.flags, FLAG_LAMINAR, +1),
    )
    if k.version.has_endp_fullmesh_max:
        added = added._replace(
            endp_fullmesh_max=count_flag(ops, ns.endp_fullmesh_max, entry.flags, FLAG_FULLMESH, +1)
        )
    return added


@patchable
def mptcp_pm_nl_append_new_local_addr(
    k: Ctx, ns: Netns, entry: Endpoint, needs_id: Value
) -> tuple[Netns, list[tuple[Value, int, int]], Value]:
    """`mptcp_pm_nl_append_new_local_addr(pernet, entry, needs_id, replace=true)`.

    Returns the namespace as the kernel leaves it (on failure only `next_id`
    may have moved: the 255 -> 1 reset and the allocation retry happen before
    the function can fail), the ordered error checks, and the new id.
    """
    ops = k.ops
    at_max = ops.eq(ns.next_id, ops.const(MPTCP_PM_MAX_ADDR_ID, 8))
    nid = ops.ite(at_max, ops.const(1, 8), ns.next_id)
    full = ops.not_(ops.ult(ns.endpoints, ops.const(MPTCP_PM_ADDR_MAX, 8)))
    busy = ops.bit_test(ns.id_bitmap, entry.id)
    port = ops.ite(address_use_port(ops, entry.flags), entry.port, ops.const(0, 16))
    hits = duplicate_scan(ops, ns, entry, port)
    dup = ops.or_(*hits)
    cur = select(ops, hits, list(ns.endp), ns.endp[-1])
    cur_implicit = ops.has(cur.flags, FLAG_IMPLICIT)
    exists = ops.and_(dup, ops.not_(cur_implicit))
    implicit_with_id = ops.and_(dup, cur_implicit, ops.ne(entry.id, ops.const(0, 8)))
    replacing = ops.and_(dup, cur_implicit, ops.eq(entry.id, ops.const(0, 8)))

    early = ops.or_(full, busy, exists, implicit_with_id)
    want = ops.ite(replacing, cur.id, entry.id)
    alloc = ops.and_(ops.not_(early), ops.eq(want, ops.const(0, 8)), needs_id)
    new_id, nid = allocate_id(ops, ns, nid, alloc, want)
    no_id = ops.and_(alloc, ops.eq(new_id, ops.const(0, 8)))

    checks = [
        (full, ERANGE, MSG["too many addresses or duplicate one: -34"]),
        (busy, EBUSY, MSG["too many addresses or duplicate one: -16"]),
        (exists, EEXIST, MSG["too many addresses or duplicate one: -17"]),
        (implicit_with_id, EINVAL, MSG["too many addresses or duplicate one: -22"]),
        (no_id, EINVAL, MSG["too many addresses or duplicate one: -22"]),
    ]
    replaced = [ops.and_(replacing, h) for h in hits]
    added = append_entry(k, ns, entry, port, new_id, nid, replaced)
    failed = ops.or_(*(c for c, _, _ in checks))
    return ops.ite(failed, ns._replace(next_id=nid), added), checks, new_id
