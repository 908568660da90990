"""An outcome: the part of a final state the question projects on.

Each item has three readings that must agree: `value` computes it from a
concrete state (the oracle and every replay use it), `holds` is the Z3
condition "this symbolic state projects to that value" (the enumeration
blocks an outcome with its negation), and `text` renders it. Sets (subflow
tables, endpoint tables) are compared as sets, never slot by slot, so two
runs that fill slots in another order give one outcome, not two.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import z3

from pmcheck.ask.spec import COUNTERS, Projection
from pmcheck.model.state import Conn, State
from pmcheck.scenario.ast import flag_names
from pmcheck.scenario.lower import Universe

OutcomeKey = tuple[Hashable, ...]  # one value per projection item


@dataclass(frozen=True)
class Projector:
    projection: Projection
    universe: Universe
    conns: int  # connections opened (projected: 1..conns)
    announced: tuple[int, ...]  # address keys the peer announces (served-by rows)

    # --- concrete -------------------------------------------------------------
    def value(self, st: State) -> OutcomeKey:
        out: list[Hashable] = []
        for item in self.projection.items:
            if item == "endpoints":
                out.append(frozenset(_endpoint_key(e) for e in st.netns.endp if e.used))
                continue
            per_conn = []
            for c in st.conns[: self.conns]:
                if item == "counters":
                    per_conn.append(
                        tuple(int(getattr(c, COUNTERS[n])) for n in self.projection.counters)
                    )
                elif item == "subflows":
                    per_conn.append(
                        frozenset(
                            (s.local_addr, s.local_id, s.remote_addr, s.remote_id) for s in _live(c)
                        )
                    )
                else:  # served-by
                    per_conn.append(
                        tuple(
                            frozenset(
                                (s.local_addr, s.local_id) for s in _live(c) if s.remote_addr == r
                            )
                            for r in self.announced
                        )
                    )
            out.append(tuple(per_conn))
        return tuple(out)

    # --- symbolic -------------------------------------------------------------
    def holds(self, st: State, outcome: OutcomeKey) -> z3.BoolRef:
        """The Z3 condition: the symbolic state `st` projects to `outcome`."""
        conds: list[z3.BoolRef] = []
        for item, value in zip(self.projection.items, outcome, strict=True):
            if item == "endpoints":
                conds.append(_set_is([(e.used, _endpoint_key(e)) for e in st.netns.endp], value))  # type: ignore[arg-type]
                continue
            for c, v in zip(st.conns[: self.conns], value, strict=True):  # type: ignore[call-overload]
                live = [(z3.And(c.used, s.used, s.established), s) for s in c.sf]
                if item == "counters":
                    conds += [
                        getattr(c, COUNTERS[n]) == x
                        for n, x in zip(self.projection.counters, v, strict=True)
                    ]
                elif item == "subflows":
                    conds.append(
                        _set_is(
                            [
                                (w, (s.local_addr, s.local_id, s.remote_addr, s.remote_id))
                                for w, s in live
                            ],
                            v,
                        )
                    )
                else:
                    for r, served in zip(self.announced, v, strict=True):
                        conds.append(
                            _set_is(
                                [
                                    (z3.And(w, s.remote_addr == r), (s.local_addr, s.local_id))
                                    for w, s in live
                                ],
                                served,
                            )
                        )
        return z3.And(*conds) if conds else z3.BoolVal(True)

    # --- text -----------------------------------------------------------------
    def headers(self) -> list[str]:
        """Column headers: served-by and counters get one column per entry."""
        u = self.universe
        out: list[str] = []
        for item in self.projection.items:
            if item == "counters":
                out += [_short(n) for n in self.projection.counters]
            elif item == "served-by":
                out += [f"{u.addr_text(r)} served by" for r in self.announced]
            else:
                out.append(item)
        return out

    def cells(self, outcome: OutcomeKey) -> list[str]:
        u = self.universe
        cells: list[str] = []
        for item, value in zip(self.projection.items, outcome, strict=True):
            if item == "endpoints":
                rows = sorted(value)  # type: ignore[call-overload]
                cells.append(
                    "\n".join(
                        " ".join(
                            [
                                u.addr_text(a, fam),
                                *([f"port {p}"] if p else []),
                                f"id {i}",
                                *flag_names(fl),
                            ]
                        )
                        for i, a, fam, p, fl, _dev in rows
                    )
                    or "-"
                )
                continue
            columns: list[list[str]] = []
            for v in value:  # type: ignore[attr-defined]
                if item == "counters":
                    texts = [str(x) for x in v]
                elif item == "subflows":
                    texts = [
                        "\n".join(
                            sorted(
                                f"{u.addr_text(la)}#{li}>{u.addr_text(ra)}#{ri}"
                                for la, li, ra, ri in v
                            )
                        )
                        or "-"
                    ]
                else:
                    texts = [_served(u, s) for s in v]
                columns.append(texts)
            # One connection: plain values; several: one `N: value` line each.
            for i in range(len(columns[0]) if columns else 0):
                if self.conns == 1:
                    cells.append(columns[0][i])
                else:
                    cells.append(
                        "\n".join(f"{n}: {col[i]}" for n, col in enumerate(columns, start=1))
                    )
        return cells


def _short(counter: str) -> str:
    """Column headers: the counter names without their common prefixes."""
    return {
        "extra_subflows": "extra",
        "subflows": "extra",
        "add_addr_signaled": "signal",
        "add_addr_signal": "signal",
        "add_addr_accepted": "accepted",
        "local_addr_used": "used",
    }.get(counter, counter)


def _served(u: Universe, served: Iterable[tuple[int, int]]) -> str:
    locs = sorted(f"{u.addr_text(a)}#{i}" for a, i in served)
    return "+".join(locs) if locs else "-"


def _live(c: Conn) -> list[Any]:
    """Established subflows: what MPTCP_INFO and sock_diag report as the table."""
    return [s for s in c.sf if s.used and s.established] if c.used else []


def _endpoint_key(e: Any) -> tuple[Any, ...]:
    return (e.id, e.addr, e.family, e.port, e.flags, e.ifindex)


def _set_is(slots: list[tuple[Any, tuple[Any, ...]]], value: Any) -> z3.BoolRef:
    """The set of tuples held by the slots whose guard is true equals `value`:
    every guarded slot holds a member, and every member is in some slot."""
    members = sorted(value)

    def is_member(t: tuple[Any, ...], m: tuple[int, ...]) -> z3.BoolRef:
        return z3.And(*[_eq(x, y) for x, y in zip(t, m, strict=True)])

    inside = [
        z3.Implies(g, z3.Or(*[is_member(t, m) for m in members]) if members else z3.BoolVal(False))
        for g, t in slots
    ]
    present = [z3.Or(*[z3.And(g, is_member(t, m)) for g, t in slots]) for m in members]
    return z3.And(*inside, *present)


def _eq(term: Any, value: int) -> z3.BoolRef:
    return term == value
