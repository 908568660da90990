"""What userspace sees of a concrete state: the dump, a get, the limits.

These follow the kernel's readers, not the list: `mptcp_pm_nl_dump_addr`
walks id_bitmap from 0 to 255 and prints each id's first entry (skipping
ids not above the last printed, so a 6.18.10 id-0 endpoint never shows).
"""

from __future__ import annotations

from collections.abc import Callable

from pmcheck.model.state import Endpoint, Netns
from pmcheck.results import EndpointRow, Limits

# Turns a stored endpoint into a row; the scenario's universe knows the texts.
RowFn = Callable[[Endpoint], EndpointRow]


def lookup_by_id(ns: Netns, ident: int) -> Endpoint | None:
    for e in ns.endp:
        if e.used and e.id == ident:
            return e
    return None


def dump_addr(ns: Netns, row: RowFn) -> tuple[EndpointRow, ...]:
    """`mptcp_pm_nl_dump_addr` as one uninterrupted dump."""
    rows = []
    last = 0
    for i in range(256):
        if not (ns.id_bitmap >> i) & 1:
            continue
        e = lookup_by_id(ns, i)
        if e is None:
            break
        if e.id <= last:
            continue
        rows.append(row(e))
        last = e.id
    return tuple(rows)


def get_addr(ns: Netns, ident: int, row: RowFn) -> tuple[EndpointRow, ...]:
    e = lookup_by_id(ns, ident)
    return () if e is None else (row(e),)


def limits(ns: Netns) -> Limits:
    return Limits(ns.limit_add_addr_accepted, ns.limit_extra_subflows)
