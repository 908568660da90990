"""The mixed-endpoint matrix (docs/mixed-endpoints.md): endpoint types x events.

    python -m pmcheck.matrix            # write examples/matrix/*.scn and the doc,
                                        # and the table matrix (pmcheck.tables)
    python -m pmcheck.matrix --check    # exit 1 if any of them is out of date
    python -m pmcheck.matrix --live     # also diff every cell of both on this kernel

For each endpoint type a user can configure on the receiving side (the
host under test, running the in-kernel PM) and each event that matters, a
cell is one scenario file under examples/matrix/; a second set of events
(SERVER_EVENTS, files kernel-server-*) has the peer run the in-kernel PM
too (`peer pm kernel`) with signal endpoints, so the server's own
announcements replace the scripted `peer announce`. A cell's outcome is what the
concrete model (pmcheck.interp.run_model) gives on each kernel version
after the last step. The scenario files are generated too, so every cell
links to a reproducer that `pmcheck diff` replays on the live kernel.
Notable cells carry a one-line note; each note has a check over the
computed outcome, so a note can never outlive the behaviour it describes.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pmcheck import tables
from pmcheck.interp import run_model
from pmcheck.model.versions import KernelVersion
from pmcheck.results import Run
from pmcheck.scenario.ast import flag_names
from pmcheck.scenario.parser import parse_text

ROOT = Path(__file__).resolve().parents[1]
SCN_DIR = ROOT / "examples" / "matrix"
DOC = ROOT / "docs" / "mixed-endpoints.md"
VERSIONS = tuple(KernelVersion)
LIVE_VERSION = KernelVersion.V6_18_STABLE  # what this machine's 6.18.44 runs as

LIMITS = "ip mptcp limits set add_addr_accepted 2 subflows 4"
CONNECT = "connect 10.0.1.2 10.0.1.1"
INITIAL = "10.0.1.2#0>10.0.1.1#0"  # the client's initial subflow

# The in-kernel server (SERVER_EVENTS): it accepts every join (subflows 4)
# and, with add_addr_accepted 0, never joins what the client announces.
PEER_KERNEL = "peer pm kernel"
PEER_LIMITS = "peer ip mptcp limits set subflows 4"
PEER_SIGNAL_1 = "peer ip mptcp endpoint add 10.0.3.1 signal"  # id 1
PEER_SIGNAL_2 = "peer ip mptcp endpoint add 10.0.4.1 signal"  # id 2


@dataclass(frozen=True)
class EndpointType:
    key: str
    label: str
    flags: str | None  # `endpoint add` flags; None: no endpoint configured
    implicit: bool = False  # the entry comes from a passive join (host is the server)


TYPES = (
    EndpointType("none", "(no endpoint)", None),
    EndpointType("plain", "no flags", ""),
    EndpointType("signal", "signal", "signal"),
    EndpointType("subflow", "subflow", "subflow"),
    EndpointType("backup", "backup", "backup"),
    EndpointType("fullmesh", "fullmesh", "fullmesh"),
    EndpointType("laminar", "laminar", "laminar"),
    EndpointType("signal-subflow", "signal+subflow", "signal subflow"),
    EndpointType("subflow-fullmesh", "subflow+fullmesh", "subflow fullmesh"),
    EndpointType("subflow-laminar", "subflow+laminar", "subflow laminar"),
    EndpointType("fullmesh-laminar", "fullmesh+laminar", "fullmesh laminar"),
    EndpointType("signal-laminar", "signal+laminar", "signal laminar"),
    EndpointType("backup-laminar", "backup+laminar", "laminar backup"),
    EndpointType("implicit", "implicit (passive join)", None, implicit=True),
)


@dataclass(frozen=True)
class Event:
    key: str
    title: str
    what: str  # the steps after the configuration, in words
    scripted: str = ""  # an in-kernel-server event: the scripted-peer event it compares with

    @property
    def kernel_server(self) -> bool:
        return bool(self.scripted)


EVENTS = (
    Event(
        "established",
        "Connection established",
        "the host connects 10.0.1.2 -> 10.0.1.1 (implicit row: the peer connects and then "
        "joins 10.0.2.1 -> 10.0.2.2, creating the implicit entry)",
    ),
    Event(
        "add-addr",
        "ADD_ADDR received, same family",
        "the peer announces 10.0.3.1 id 1, then 10.0.4.1 id 2 (routing would pick "
        "10.0.3.2 and 10.0.4.2; the endpoint is 10.0.2.2)",
    ),
    Event(
        "add-addr-other-family",
        "ADD_ADDR received, other family",
        "the endpoint is dead:beef:2::2 (IPv6); the connection and the ADD_ADDR (10.0.3.1 "
        "id 1) are IPv4",
    ),
    Event(
        "rm-addr",
        "RM_ADDR received",
        "the peer announces 10.0.3.1 id 1, then removes id 1 (implicit row: it announces "
        "and removes the joined address 10.0.2.1 id 5)",
    ),
    Event(
        "subflow-closed",
        "Subflow closed, then a new ADD_ADDR",
        "the peer announces 10.0.3.1 id 1, closes the subflow the endpoint's address carries "
        "(else the one to 10.0.3.1), then announces 10.0.4.1 id 2",
    ),
    Event(
        "endpoint-deleted",
        "Endpoint deleted",
        "the peer announces 10.0.3.1 id 1, then `ip mptcp endpoint delete id 1` (the "
        "endpoint under test; without one, the implicit entry routing created)",
    ),
)

# The same questions with an in-kernel server (`peer pm kernel`): its signal
# endpoints are configured before the connection (as a server's are), except
# in kernel-server-add-addr, where they come after it has settled.
SERVER_EVENTS = (
    Event(
        "kernel-server-established",
        "In-kernel server: connection established",
        "the server has signal endpoints 10.0.3.1 (id 1) and 10.0.4.1 (id 2); the host "
        "connects 10.0.1.2 -> 10.0.1.1 and the server announces both as the connection is "
        "established",
        scripted="add-addr",
    ),
    Event(
        "kernel-server-add-addr",
        "In-kernel server: signal endpoints added after the connection",
        "the host connects 10.0.1.2 -> 10.0.1.1, then the server adds signal endpoints "
        "10.0.3.1 (id 1), then 10.0.4.1 (id 2), each announced on the established connection",
        scripted="add-addr",
    ),
    Event(
        "kernel-server-add-addr-other-family",
        "In-kernel server: ADD_ADDR of the other family",
        "the endpoint is dead:beef:2::2 (IPv6); the server's signal endpoint 10.0.3.1 (id 1) "
        "and the connection are IPv4",
        scripted="add-addr-other-family",
    ),
    Event(
        "kernel-server-rm-addr",
        "In-kernel server: server endpoint deleted (RM_ADDR)",
        "the server has signal endpoint 10.0.3.1 (id 1); after the connection, "
        "`peer ip mptcp endpoint delete id 1` (the server sends RM_ADDR)",
        scripted="rm-addr",
    ),
    Event(
        "kernel-server-subflow-closed",
        "In-kernel server: subflow closed, then a new signal endpoint",
        "the server has signal endpoint 10.0.3.1 (id 1); after the connection, the subflow "
        "the endpoint's address carries is closed (else the one to 10.0.3.1), then the server "
        "adds signal endpoint 10.0.4.1 (id 2)",
        scripted="subflow-closed",
    ),
    Event(
        "kernel-server-endpoint-deleted",
        "In-kernel server: host endpoint deleted",
        "the server has signal endpoint 10.0.3.1 (id 1); after the connection, `ip mptcp "
        "endpoint delete id 1` on the host (the endpoint under test; without one, the "
        "implicit entry routing created)",
        scripted="endpoint-deleted",
    ),
)
ALL_EVENTS = EVENTS + SERVER_EVENTS


@dataclass(frozen=True)
class CellResult:
    """A cell's outcome on one kernel version: the connection after the last step."""

    subflows: tuple[str, ...]  # established subflows besides the initial one
    initial: bool  # the initial subflow is still there
    extra: int
    accepted: int
    used: int
    signal: int
    endpoints: tuple[str, ...]

    def key(self) -> tuple[object, ...]:
        return (
            self.subflows,
            self.initial,
            self.extra,
            self.accepted,
            self.used,
            self.signal,
            self.endpoints,
        )


@dataclass(frozen=True)
class Cell:
    event: Event
    etype: EndpointType
    lines: tuple[str, ...] | None  # the scenario; None: not applicable
    reason: str = ""  # why not applicable

    @property
    def path(self) -> Path:
        return SCN_DIR / f"{self.event.key}--{self.etype.key}.scn"

    @property
    def rel(self) -> str:
        return self.path.relative_to(ROOT).as_posix()

    def text(self) -> str:
        head = [
            f"# Mixed-endpoint matrix (docs/mixed-endpoints.md): {self.event.title},",
            f"# endpoint type {self.etype.label}. Generated by `python -m pmcheck.matrix`.",
            f"# Steps: {self.event.what}.",
        ]
        return "\n".join(_wrap_comment(head) + list(self.lines or ())) + "\n"


def _wrap_comment(lines: list[str], width: int = 88) -> list[str]:
    words = " ".join(x.removeprefix("# ") for x in lines).split()
    out, cur = [], "#"
    for w in words:
        if len(cur) + 1 + len(w) > width:
            out.append(cur)
            cur = "#"
        cur += " " + w
    out.append(cur)
    return out


def endpoint_line(t: EndpointType, addr: str) -> list[str]:
    if t.flags is None:
        return []
    return [f"ip mptcp endpoint add {addr} {t.flags}".rstrip()]


def cell(event: Event, t: EndpointType) -> Cell:
    """The scenario of one cell."""
    if event.kernel_server:
        return _kernel_server_cell(event, t)
    if t.implicit:
        return _implicit_cell(event, t)
    addr = "dead:beef:2::2" if event.key == "add-addr-other-family" else "10.0.2.2"
    base = [LIMITS, *endpoint_line(t, addr), CONNECT]
    a1, a2 = "peer announce 10.0.3.1 id 1", "peer announce 10.0.4.1 id 2"
    steps = {
        "established": [],
        "add-addr": [a1, a2],
        "add-addr-other-family": [a1],
        "rm-addr": [a1, "peer remove id 1"],
        "endpoint-deleted": [a1, "ip mptcp endpoint delete id 1"],
    }
    if event.key == "subflow-closed":
        close = _close_target([*base, a1])
        if close is None:
            return Cell(event, t, None, "no subflow besides the initial one to close")
        return Cell(event, t, (*base, a1, close, a2))
    return Cell(event, t, (*base, *steps[event.key]))


def _implicit_cell(event: Event, t: EndpointType) -> Cell:
    base = [LIMITS, "peer connect 10.0.1.1 10.0.1.2", "peer join 10.0.2.1 to 10.0.2.2 id 5"]
    steps = {
        "established": [],
        "add-addr": ["peer announce 10.0.3.1 id 1", "peer announce 10.0.4.1 id 2"],
        "rm-addr": ["peer announce 10.0.2.1 id 5", "peer remove id 5"],
        "subflow-closed": ["subflow close 10.0.2.2 10.0.2.1", "peer announce 10.0.4.1 id 2"],
        "endpoint-deleted": ["peer announce 10.0.3.1 id 1", "ip mptcp endpoint delete id 1"],
    }
    if event.key == "add-addr-other-family":
        return Cell(event, t, None, "an IPv6 join cannot arrive on an IPv4 connection")
    return Cell(event, t, (*base, *steps[event.key]))


def _kernel_server_cell(event: Event, t: EndpointType) -> Cell:
    if t.implicit:
        return Cell(
            event,
            t,
            None,
            "the host is the client here; a passive join (and its IMPLICIT entry) needs the "
            "host to be the server",
        )
    addr = "dead:beef:2::2" if event.key == "kernel-server-add-addr-other-family" else "10.0.2.2"
    base = [PEER_KERNEL, LIMITS, *endpoint_line(t, addr), PEER_LIMITS]
    one = [*base, PEER_SIGNAL_1, CONNECT]
    steps = {
        "kernel-server-established": [*base, PEER_SIGNAL_1, PEER_SIGNAL_2, CONNECT],
        "kernel-server-add-addr": [*base, CONNECT, PEER_SIGNAL_1, PEER_SIGNAL_2],
        "kernel-server-add-addr-other-family": one,
        "kernel-server-rm-addr": [*one, "peer ip mptcp endpoint delete id 1"],
        "kernel-server-endpoint-deleted": [*one, "ip mptcp endpoint delete id 1"],
    }
    if event.key == "kernel-server-subflow-closed":
        close = _close_target(one)
        if close is None:
            return Cell(event, t, None, "no subflow besides the initial one to close")
        return Cell(event, t, (*one, close, PEER_SIGNAL_2))
    return Cell(event, t, tuple(steps[event.key]))


def _close_target(lines: list[str]) -> str | None:
    """The subflow to close: the one from the endpoint's address, else the
    newest one besides the initial subflow (as 6.18-stable has them)."""
    run = run_model(parse_text("\n".join(lines) + "\n", "<matrix>"), LIVE_VERSION)
    table = run.outcomes[-1].conns[0].table
    extra = [r for r in table if r.describe() != INITIAL]
    mine = [r for r in extra if r.local == "10.0.2.2"]
    pick = (mine or extra or [None])[0]
    return None if pick is None else f"subflow close {pick.local} {pick.remote}"


def cells() -> list[Cell]:
    return [cell(e, t) for e in ALL_EVENTS for t in TYPES]


def result_of(run: Run) -> CellResult:
    last = run.outcomes[-1]
    conn = last.conns[0]
    rows = [r.describe() for r in conn.table]
    return CellResult(
        subflows=tuple(r for r in rows if r != INITIAL),
        initial=INITIAL in rows,
        extra=conn.subflows,
        accepted=conn.add_addr_accepted,
        used=conn.local_addr_used,
        signal=conn.add_addr_signal,
        endpoints=tuple(_endpoint_text(e) for e in last.endpoints),
    )


def _endpoint_text(e: object) -> str:
    flags = " ".join(flag_names(e.flags)) or "-"  # type: ignore[attr-defined]
    return f"{e.id} {e.addr} {flags}"  # type: ignore[attr-defined]


def compute(c: Cell) -> dict[KernelVersion, CellResult]:
    scn = parse_text("\n".join(c.lines or ()) + "\n", c.rel)
    return {v: result_of(run_model(scn, v)) for v in VERSIONS}


# --- notes: one line each, every one checked against the outcome --------------------

Results = dict[KernelVersion, CellResult]
Check = Callable[[Results], bool]


def _all(pred: Callable[[CellResult], bool]) -> Check:
    return lambda res: all(pred(r) for r in res.values())


NOTES: dict[tuple[str, str], tuple[str, Check]] = {
    ("established", "signal"): (
        "announced to the peer at once (signal 1); no subflow",
        _all(lambda r: r.signal == 1 and not r.subflows),
    ),
    ("established", "subflow"): (
        "joins the peer's initial address at once; counted in local_addr_used",
        _all(lambda r: r.subflows == ("10.0.2.2#1>10.0.1.1#0",) and r.used == 1),
    ),
    ("established", "laminar"): (
        "nothing at connect time: laminar (like fullmesh, backup or no flags) makes no PM "
        "work pending (F6)",
        _all(lambda r: not r.subflows and r.used == 0),
    ),
    ("established", "implicit"): (
        "a passive join to an address without an endpoint creates an IMPLICIT entry; not "
        "counted in local_addr_used",
        _all(lambda r: r.endpoints == ("1 10.0.2.2 implicit",) and r.used == 0),
    ),
    ("add-addr", "none"): (
        "routing picks each source, and each source gets an IMPLICIT entry",
        _all(lambda r: r.endpoints == ("1 10.0.3.2 implicit", "2 10.0.4.2 implicit")),
    ),
    ("add-addr", "plain"): (
        "like signal or backup alone: never picked as a source; routing decides",
        _all(lambda r: not any(x.startswith("10.0.2.2") for x in r.subflows)),
    ),
    ("add-addr", "fullmesh"): (
        "the endpoint joins every announced address, and nothing marks it used",
        _all(
            lambda r: (
                r.subflows == ("10.0.2.2#1>10.0.3.1#1", "10.0.2.2#1>10.0.4.1#2") and r.used == 0
            )
        ),
    ),
    ("add-addr", "laminar"): (
        "used once; the second ADD_ADDR gets no subflow and no routing fallback",
        _all(lambda r: r.subflows == ("10.0.2.2#1>10.0.3.1#1",) and r.accepted == 1),
    ),
    ("add-addr", "subflow-laminar"): (
        "busy with its connect-time subflow, so neither ADD_ADDR gets one (and no routing "
        "fallback)",
        _all(lambda r: r.subflows == ("10.0.2.2#1>10.0.1.1#0",) and r.accepted == 0),
    ),
    ("add-addr", "fullmesh-laminar"): (
        "fullmesh present: laminar never consulted; the endpoint serves both ADD_ADDRs",
        _all(lambda r: r.subflows == ("10.0.2.2#1>10.0.3.1#1", "10.0.2.2#1>10.0.4.1#2")),
    ),
    ("add-addr", "subflow-fullmesh"): (
        "joins the initial address at connect and every announced one",
        _all(lambda r: len(r.subflows) == 3 and r.used == 1),
    ),
    ("add-addr", "implicit"): (
        "host as server: its ADD_ADDR joins go to the client's ephemeral port and are reset, "
        "yet add_addr_accepted counts them and their sources get IMPLICIT entries",
        _all(lambda r: r.accepted == 2 and len(r.subflows) == 1 and len(r.endpoints) == 3),
    ),
    ("add-addr-other-family", "fullmesh"): (
        "6.18: no fullmesh endpoint of the family, so routing takes over; 6.19 (e461e8a799a2): "
        "a fullmesh endpoint decides, no subflow",
        lambda res: (
            res[KernelVersion.V6_18].subflows == ("10.0.3.2#2>10.0.3.1#1",)
            and res[LIVE_VERSION].subflows == ("10.0.3.2#2>10.0.3.1#1",)
            and res[KernelVersion.V6_19].subflows == ()
        ),
    ),
    ("add-addr-other-family", "laminar"): (
        "a laminar endpoint of the other family is never used, yet it still disables the "
        "routing fallback: no subflow",
        _all(lambda r: not r.subflows and r.accepted == 0),
    ),
    ("add-addr-other-family", "subflow"): (
        "the IPv6 subflow endpoint counts in local_addr_used from connect time, without a "
        "subflow (no remote of its family)",
        _all(lambda r: r.used == 1 and not any(x.startswith("dead") for x in r.subflows)),
    ),
    ("rm-addr", "laminar"): (
        "the laminar subflow closes and add_addr_accepted drops back to 0",
        _all(lambda r: not r.subflows and r.accepted == 0),
    ),
    ("rm-addr", "subflow"): (
        "only subflows to the removed address close; the connect-time subflow stays",
        _all(lambda r: r.subflows == ("10.0.2.2#1>10.0.1.1#0",)),
    ),
    ("rm-addr", "implicit"): (
        "the passive subflow closes; the IMPLICIT entry stays",
        _all(lambda r: not r.subflows and r.endpoints == ("1 10.0.2.2 implicit",)),
    ),
    ("subflow-closed", "none"): (
        "add_addr_accepted stays 2 with one subflow left: the close does not give it back, "
        "nor would a later RM_ADDR of id 1 (it closes no subflow)",
        _all(lambda r: r.accepted == 2 and len(r.subflows) == 1),
    ),
    ("subflow-closed", "subflow"): (
        "the closed connect-time subflow is not re-created; the endpoint stays used",
        _all(lambda r: r.used == 1 and "10.0.2.2#1>10.0.1.1#0" not in r.subflows),
    ),
    ("subflow-closed", "laminar"): (
        "once its subflow is closed, the laminar endpoint serves the next ADD_ADDR again",
        _all(lambda r: r.subflows == ("10.0.2.2#1>10.0.4.1#2",)),
    ),
    ("subflow-closed", "subflow-laminar"): (
        "counted in local_addr_used twice (2, with 1 subflow endpoint): at connect, and "
        "again when laminar reuses it after the close",
        _all(lambda r: r.used == 2 and r.subflows == ("10.0.2.2#1>10.0.4.1#2",)),
    ),
    ("endpoint-deleted", "none"): (
        "deleting the IMPLICIT entry routing created closes its subflow; add_addr_accepted stays 1",
        _all(lambda r: not r.subflows and r.accepted == 1 and not r.endpoints),
    ),
    ("endpoint-deleted", "laminar"): (
        "its subflow closes; add_addr_accepted stays 1 (no RM_ADDR came)",
        _all(lambda r: not r.subflows and r.accepted == 1),
    ),
    ("endpoint-deleted", "signal-subflow"): (
        "6.18-stable brings local_addr_used back to 0; on 6.18 and 6.19 it stays 1: "
        "withdrawing the announcement frees the id first, so the subflow accounting finds "
        "nothing to give back (d191101dee25 changed that)",
        lambda res: (
            res[LIVE_VERSION].used == 0
            and res[KernelVersion.V6_18].used == 1
            and res[KernelVersion.V6_19].used == 1
        ),
    ),
    ("endpoint-deleted", "subflow-laminar"): (
        "local_addr_used back to 0, the connect-time subflow closed",
        _all(lambda r: r.used == 0 and not r.subflows),
    ),
    ("kernel-server-established", "none"): (
        "as with the scripted peer: routing picks each source, each an IMPLICIT entry",
        _all(lambda r: r.endpoints == ("1 10.0.3.2 implicit", "2 10.0.4.2 implicit")),
    ),
    ("kernel-server-established", "subflow-laminar"): (
        "the server's first ADD_ADDR reaches the client in the same worker run as its "
        "ESTABLISHED, and the worker handles ADD_ADDR_RECEIVED first: laminar takes the "
        "endpoint for 10.0.3.1 (used 1, accepted 1) and the connect-time subflow to "
        "10.0.1.1 never comes (the scripted peer's later ADD_ADDRs get the opposite)",
        _all(
            lambda r: r.subflows == ("10.0.2.2#1>10.0.3.1#1",) and r.used == 1 and r.accepted == 1
        ),
    ),
    ("kernel-server-add-addr", "subflow-laminar"): (
        "endpoints added once the connection has settled: the scripted peer's order, so the "
        "connect-time subflow keeps the endpoint busy and neither ADD_ADDR gets a subflow",
        _all(lambda r: r.subflows == ("10.0.2.2#1>10.0.1.1#0",) and r.accepted == 0),
    ),
    ("kernel-server-rm-addr", "subflow-laminar"): (
        "the RM_ADDR closes laminar's subflow and gives back add_addr_accepted, but the "
        "endpoint stays used (local_addr_used 1): the client is left with the initial "
        "subflow alone",
        _all(lambda r: not r.subflows and r.accepted == 0 and r.used == 1),
    ),
    ("kernel-server-subflow-closed", "subflow-laminar"): (
        "the closed subflow is laminar's to 10.0.3.1; laminar takes the endpoint again for "
        "10.0.4.1: local_addr_used 2 as with the scripted peer, and add_addr_accepted 2 (the "
        "close gives nothing back)",
        _all(
            lambda r: r.subflows == ("10.0.2.2#1>10.0.4.1#2",) and r.used == 2 and r.accepted == 2
        ),
    ),
    ("kernel-server-endpoint-deleted", "subflow-laminar"): (
        "its subflow to 10.0.3.1 closes, local_addr_used back to 0; add_addr_accepted stays "
        "1 (no RM_ADDR came)",
        _all(lambda r: not r.subflows and r.used == 0 and r.accepted == 1),
    ),
}

# The endpoint types whose in-kernel-server cell differs (on some kernel
# version) from the scripted-peer cell it is compared with; generate()
# checks this, so the summary on the page cannot outlive the outcomes.
SERVER_DIFFERS: dict[str, frozenset[str]] = {
    "kernel-server-established": frozenset({"subflow-laminar"}),
    "kernel-server-add-addr": frozenset(),
    "kernel-server-add-addr-other-family": frozenset(),
    "kernel-server-rm-addr": frozenset({"subflow-laminar"}),
    "kernel-server-subflow-closed": frozenset({"subflow-laminar"}),
    "kernel-server-endpoint-deleted": frozenset({"subflow-laminar"}),
}

# Cells where the live kernel (6.18.44) and the 6.18-stable model disagree:
# the doc shows the model's value and this warning; the live test expects
# the mismatch (strictly, so a model fix is noticed and this entry removed).
KNOWN_GAPS: dict[tuple[str, str], str] = {}

# Cells diffed against the live kernel by tests/test_matrix_live.py: every
# endpoint type and every event at least once, and the notable cells.
LIVE_SAMPLE: tuple[tuple[str, str], ...] = (
    ("established", "signal"),
    ("established", "implicit"),
    ("add-addr", "none"),
    ("add-addr", "laminar"),
    ("add-addr", "fullmesh-laminar"),
    ("add-addr", "subflow-fullmesh"),
    ("add-addr", "backup-laminar"),
    ("add-addr-other-family", "fullmesh"),
    ("add-addr-other-family", "laminar"),
    ("add-addr-other-family", "subflow"),
    ("rm-addr", "plain"),
    ("rm-addr", "signal-laminar"),
    ("subflow-closed", "subflow-laminar"),
    ("subflow-closed", "backup"),
    ("endpoint-deleted", "signal-subflow"),
    ("endpoint-deleted", "subflow-laminar"),
    ("kernel-server-established", "none"),
    ("kernel-server-established", "subflow-laminar"),
    ("kernel-server-add-addr", "subflow-laminar"),
    ("kernel-server-add-addr-other-family", "fullmesh"),
    ("kernel-server-rm-addr", "subflow-laminar"),
    ("kernel-server-subflow-closed", "subflow-laminar"),
    ("kernel-server-endpoint-deleted", "signal-subflow"),
)


# --- rendering ---------------------------------------------------------------------


def _versions_text(vs: list[KernelVersion]) -> str:
    return "all" if len(vs) == len(VERSIONS) else ", ".join(v.value for v in vs)


def _subflows_text(r: CellResult) -> str:
    rows = [x.replace(">", " → ") for x in r.subflows]
    if not r.initial:
        rows.insert(0, "(initial subflow gone)")
    return "<br>".join(rows) or "–"


def render(table: dict[tuple[str, str], Results], cells_: list[Cell]) -> str:
    by_key = {(c.event.key, c.etype.key): c for c in cells_}
    out = [DOC_HEAD]
    for e in EVENTS:
        out.append(f"## {e.title}\n\nAfter the configuration, {e.what}.\n")
        out.extend(_event_table(e, table, by_key))
    out.append(SERVER_HEAD)
    for e in SERVER_EVENTS:
        scripted = next(x for x in EVENTS if x.key == e.scripted)
        out.append(
            f"### {e.title}\n\n{e.what[0].upper()}{e.what[1:]}. Compared with "
            f"[{scripted.title}](#{_anchor(scripted.title)}).\n"
        )
        out.extend(_event_table(e, table, by_key))
    out.append(DOC_TAIL.format(cells=sum(1 for c in cells_ if c.lines), sample=len(LIVE_SAMPLE)))
    return "\n".join(out)


def _anchor(title: str) -> str:
    """GitHub's anchor for a heading."""
    kept = "".join(ch for ch in title.lower() if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def _event_table(
    e: Event, table: dict[tuple[str, str], Results], by_key: dict[tuple[str, str], Cell]
) -> list[str]:
    """One event's table and the notes under it. An in-kernel-server event
    has one more column: whether its outcome is the scripted peer's."""
    sample = set(LIVE_SAMPLE)
    cmp_head, cmp_rule = (" vs scripted peer |", "---|") if e.kernel_server else ("", "")
    out = [
        "| endpoint type | kernel | subflows besides the initial one | extra | "
        f"accepted | used | signal | endpoint table after |{cmp_head} scenario |",
        f"|---|---|---|---|---|---|---|---|{cmp_rule}---|",
    ]
    notes = []
    for t in TYPES:
        c = by_key[(e.key, t.key)]
        link = f"[{c.path.stem}](../{c.rel})" + (" ✓" if (e.key, t.key) in sample else "")
        if c.lines is None:
            blank = " |" if e.kernel_server else ""
            out.append(f"| {t.label} | – | n/a: {c.reason} | | | | | |{blank} |")
            continue
        res = table[(e.key, t.key)]
        groups: dict[tuple[object, ...], list[KernelVersion]] = {}
        for v, r in res.items():
            groups.setdefault(r.key(), []).append(v)
        same = ""
        if e.kernel_server:
            theirs = table.get((e.scripted, t.key))
            same = "–" if theirs is None else "same" if theirs == res else "**differs**"
        for n, vs in enumerate(groups.values()):
            r = res[vs[0]]
            marked = (e.key, t.key) in NOTES or (e.key, t.key) in KNOWN_GAPS
            label = f"**{t.label}**" if marked else t.label
            ends = "<br>".join(r.endpoints) or "(empty)"
            cmp = f" {same if n == 0 else ''} |" if e.kernel_server else ""
            out.append(
                f"| {label if n == 0 else ''} | {_versions_text(vs)} | "
                f"{_subflows_text(r)} | {r.extra} | {r.accepted} | {r.used} | "
                f"{r.signal} | {ends} |{cmp} {link if n == 0 else ''} |"
            )
        if (e.key, t.key) in NOTES:
            notes.append(f"- **{t.label}**: {NOTES[(e.key, t.key)][0]}.")
        if (e.key, t.key) in KNOWN_GAPS:
            notes.append(f"- ⚠ **{t.label}**: {KNOWN_GAPS[(e.key, t.key)]}.")
    return [*out, "", *notes, ""]


DOC_HEAD = """# Mixed endpoint types: what the in-kernel PM does

<!-- Generated by `python -m pmcheck.matrix` from examples/matrix/*.scn; do not edit. -->

The review thread asks what happens when endpoint types are mixed. Each table
below is one event; each row one endpoint type configured on the host under
test (the in-kernel PM side, here the client), with the connection's state
after the event on the pmcheck model of each kernel version (`all` when
all five versions, 6.18 to 7.1, agree). Every cell links to the scenario that
produces it: `pmcheck simulate FILE` shows it step by step, `pmcheck diff
FILE` replays it on the live kernel; cells marked ✓ are replayed on the
kernel (6.18.44) by `tests/test_matrix_live.py`. Notable cells (bold) are
explained under their table, one line each.

**Setup.** `ip mptcp limits set add_addr_accepted 2 subflows 4`, one
endpoint `10.0.2.2` (id 1) of the row's type, then `connect 10.0.1.2
10.0.1.1`. The peer is the server (userspace PM), with addresses 10.0.N.1;
routing reaches 10.0.N.1 from the host's 10.0.N.2. The *implicit* row is
the one exception: the peer connects (the host is the server) and joins
10.0.2.1 -> 10.0.2.2, which creates the IMPLICIT entry. The same questions
with a server that runs the in-kernel PM too, announcing its own signal
endpoints, are in [With an in-kernel server](#with-an-in-kernel-server).
Whole tables of endpoints of different kinds (pairs and triples, the MPC
address among them), crossed with the peer, its C flag and the limits, are
in [tables/served-by.md](tables/served-by.md),
[tables/counters.md](tables/counters.md) and
[tables/removal.md](tables/removal.md).

**Columns.** Subflows are `local#local_id → remote#remote_id`, then `/B`
when our B bit is set (request_bkup), `/b` for the peer's; `extra`,
`accepted`, `used`, `signal` are MPTCP_INFO's `subflows`,
`add_addr_accepted`, `local_addr_used`, `add_addr_signal`; the endpoint
table is `id address flags`.

## The answer in short

- **laminar** endpoints serve ADD_ADDRs only, one subflow each, and switch
  off the routing fallback entirely (even when none matches the family);
  an endpoint whose subflow closed is available to laminar again.
- **fullmesh** wins over laminar on the same or another endpoint: with any
  fullmesh endpoint of the family, laminar is never consulted. In 6.18 a
  fullmesh endpoint of the other family falls through to routing; 6.19 does
  not.
- **subflow+laminar** is the surprising mix: the connect-time subflow makes
  the endpoint unavailable to laminar, and after that subflow closes,
  laminar reuses the endpoint and counts it in `local_addr_used` a second
  time.
- **signal**, **backup** and no flags never pick a source for an ADD_ADDR;
  without a subflow/fullmesh/laminar endpoint, routing does, and each
  routed source becomes an IMPLICIT entry.
- Counters: `add_addr_accepted` only drops on RM_ADDR (a closed subflow or
  a deleted endpoint keeps it), and only for an address whose subflow the
  RM_ADDR closes (after a close it is never given back).
- The versions differ in two cells: a fullmesh endpoint of the other
  family (6.19 stops there) and deleting a **signal+subflow** endpoint
  (only 6.18-stable brings `local_addr_used` back to 0).
- With an **in-kernel server** the client ends as with the scripted peer
  for every endpoint type but **subflow+laminar**: the server announces its
  signal endpoints as the connection is established, the client's worker
  handles that ADD_ADDR before its ESTABLISHED, and laminar takes the
  endpoint before the connect-time subflow can.
"""

SERVER_HEAD = """## With an in-kernel server

The tables above script the server. Here it runs the in-kernel PM too
(`peer pm kernel`, [scenarios.md](scenarios.md)): `peer ip mptcp limits
set subflows 4` (it accepts every join; with `add_addr_accepted` 0 it
never joins what the client announces) and signal endpoints `peer ip mptcp
endpoint add 10.0.3.1 signal` (id 1) and, where two are needed, `10.0.4.1`
(id 2), which it announces by itself: they replace the scripted `peer
announce 10.0.3.1 id 1` and `peer announce 10.0.4.1 id 2`. The client's
configuration, columns and notes are as above; *vs scripted peer* says
whether the row is the same on every kernel version as the row of the
scripted-peer table named under each heading.

The server's endpoints are configured before the client connects, as a
server's are, except in the second table, where it adds them once the
connection has settled. Only **subflow+laminar** changes: when the
endpoints exist at connect time, the server's first ADD_ADDR reaches the
client in the same worker run as its ESTABLISHED, and the worker handles
ADD_ADDR_RECEIVED first. That is the order of the live testbed (and of
the model's default); `pmcheck ask` with `any connect ...` lists what the
other delivery orders give ([reviewers.md, section
4](reviewers.md#4-the-same-mix-against-an-in-kernel-server)).
"""

DOC_TAIL = """## How this page is made

`python -m pmcheck.matrix` writes the {cells} scenarios in examples/matrix/
(one per applicable cell) and this page from their runs on the concrete
model; `python -m pmcheck.matrix --check` (run by `tests/test_matrix.py`)
fails when either is stale, and every note above is re-checked against the
outcome it describes. `python -m pmcheck.matrix --live` diffs every cell on
the running kernel; the tests replay the {sample} cells marked ✓.
"""


@functools.cache
def generate() -> tuple[dict[Path, str], dict[tuple[str, str], Results]]:
    """Every file's text, and the computed outcomes; raises if a note is false.
    Cached: the model is fixed for a process (callers must not change the dicts)."""
    all_cells = cells()
    table = {(c.event.key, c.etype.key): compute(c) for c in all_cells if c.lines}
    for key, (text, check) in NOTES.items():
        if key not in table:
            raise ValueError(f"note for a cell that does not exist: {key}")
        if not check(table[key]):
            raise ValueError(f"note no longer true for {key}: {text}")
    for key in (*LIVE_SAMPLE, *KNOWN_GAPS):
        if key not in table:
            raise ValueError(f"live sample names a cell that does not exist: {key}")
    for e in SERVER_EVENTS:
        differ = {
            t.key
            for t in TYPES
            if (e.key, t.key) in table and table[(e.key, t.key)] != table.get((e.scripted, t.key))
        }
        if differ != SERVER_DIFFERS[e.key]:
            raise ValueError(f"{e.key}: differs from {e.scripted} for {sorted(differ)}")
    files = {c.path: c.text() for c in all_cells if c.lines}
    files[DOC] = render(table, all_cells)
    return files, table


def live_diff(paths: list[Path]) -> list[str]:
    """Diff scenarios on the running kernel; one problem line per mismatch."""
    from pmcheck.diff import describe_value, first_mismatch
    from pmcheck.live.kernel_run import run_on_kernel
    from pmcheck.scenario.files import parse_file

    problems = []
    for path in paths:
        scn = parse_file(path)
        m = first_mismatch(run_model(scn, LIVE_VERSION), run_on_kernel(scn))
        if m is not None:
            problems.append(
                f"{path.relative_to(ROOT)}:{m.line}: {m.field} after `{m.text}`: "
                f"model {describe_value(m.field, m.left)}; kernel "
                f"{describe_value(m.field, m.right)}"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pmcheck.matrix", description=__doc__.split("\n")[0])
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a generated file is out of date",
    )
    p.add_argument("--live", action="store_true", help="also diff every cell on this kernel")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    files, _ = generate()
    table_files, _ = tables.generate()
    n_types, n_tables = len(files) - 1, len(table_files) - len(tables.PAGES) - 1
    files.update(table_files)
    stale = [
        path
        for path, text in files.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    found = {*SCN_DIR.glob("*.scn"), *tables.SCN_DIR.glob("*.scn"), *tables.DOC_DIR.glob("*.md")}
    extra = sorted(found - set(files))
    took = time.perf_counter() - t0
    counted = f"{n_types} type cells and {n_tables} table cells"
    if args.check:
        for path in [*stale, *extra]:
            print(f"out of date: {path.relative_to(ROOT)}", file=sys.stderr)
        print(
            f"matrix: {counted} computed in {took:.1f} s; "
            f"{len(stale) + len(extra)} files out of date"
        )
        return 1 if stale or extra else 0
    for d in (SCN_DIR, tables.SCN_DIR, tables.DOC_DIR):
        d.mkdir(parents=True, exist_ok=True)
    for path in stale:
        path.write_text(files[path], encoding="utf-8")
    for path in extra:
        path.unlink()
    print(
        f"matrix: {counted} on {len(VERSIONS)} kernel versions in {took:.1f} s; "
        f"wrote {len(stale)} files, removed {len(extra)}"
    )
    if not args.live:
        return 0
    t1 = time.perf_counter()
    cell_paths = sorted(path for path in files if path.suffix == ".scn")
    problems = live_diff(cell_paths)
    for line in problems:
        print(line)
    print(
        f"live: {len(cell_paths) - len(problems)} of {len(cell_paths)} cells agree with "
        f"this kernel ({time.perf_counter() - t1:.1f} s)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
