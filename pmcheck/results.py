"""What running a scenario gives back, in one shape for every interpreter.

The concrete model, the Z3 model (evaluated under the scenario's inputs) and
the live kernel all return a `Run`; `pmcheck diff` compares two runs field by
field. Values are plain data so they render as tables, JSON, or trace rows.
"""

from __future__ import annotations

import errno as _errno
from dataclasses import asdict, dataclass

from pmcheck.scenario.ast import flag_names


def errno_text(errno: int) -> str:
    """ "ok" for 0, else the symbolic name as the kernel returns it: -EEXIST."""
    if errno == 0:
        return "ok"
    if errno == _errno.EOPNOTSUPP:  # Python calls 95 ENOTSUP; the kernel says EOPNOTSUPP
        return "-EOPNOTSUPP"
    return f"-{_errno.errorcode.get(errno, str(errno))}"


@dataclass(frozen=True, order=True)
class EndpointRow:
    """One endpoint as a dump shows it (dumps are sorted by id)."""

    id: int
    addr: str  # canonical text form
    port: int  # 0 = none
    flags: int
    dev: str | None  # interface name, None when ifindex is 0

    def describe(self) -> str:
        parts = [self.addr]
        if self.port:
            parts.append(f"port {self.port}")
        parts.append(f"id {self.id}")
        parts.extend(flag_names(self.flags))
        if self.dev:
            parts.append(f"dev {self.dev}")
        return " ".join(parts)


@dataclass(frozen=True)
class Limits:
    add_addr_accepted: int
    subflows: int


@dataclass(frozen=True, order=True)
class SubflowRow:
    """One established subflow of a connection, as the host sees it.

    `backup` is our B bit (the kernel's subflow->request_bkup, sock_diag's
    MPTCP_SUBFLOW_FLAG_BKUP_LOC), `remote_backup` the peer's (subflow->backup,
    BKUP_REM): set by the join's SYN/SYN-ACK and changed by MP_PRIO."""

    local: str
    local_id: int
    remote: str
    remote_id: int
    backup: bool = False
    remote_backup: bool = False

    def ids_text(self) -> str:
        return f"{self.local}#{self.local_id}>{self.remote}#{self.remote_id}"

    def describe(self) -> str:
        """`local#id>remote#id`, then `/B` (our B bit), `/b` (the peer's) or `/Bb`."""
        bits = ("B" if self.backup else "") + ("b" if self.remote_backup else "")
        return self.ids_text() + (f"/{bits}" if bits else "")


@dataclass(frozen=True)
class ConnView:
    """A connection's PM counters as MPTCP_INFO shows them, and its table of
    established subflows (the initial one included)."""

    conn: int  # 1-based, in the order connections were opened
    subflows: int  # mptcpi_subflows = pm.extra_subflows
    add_addr_signal: int
    add_addr_accepted: int
    local_addr_used: int
    table: tuple[SubflowRow, ...]

    def describe(self) -> str:
        rows = " ".join(r.describe() for r in self.table) or "-"
        return (
            f"conn {self.conn}: subflows {self.subflows} signal {self.add_addr_signal} "
            f"accepted {self.add_addr_accepted} used {self.local_addr_used} | {rows}"
        )


@dataclass(frozen=True)
class PeerView:
    """The in-kernel peer after a step (`peer pm kernel`): its endpoint dump,
    its limits and its side of every connection (same numbering)."""

    endpoints: tuple[EndpointRow, ...]
    limits: Limits
    conns: tuple[ConnView, ...]

    def describe(self) -> str:
        rows = "; ".join(r.describe() for r in self.endpoints) or "(none)"
        conns = " / ".join(c.describe() for c in self.conns)
        return (
            f"peer endpoints {rows}; limits add_addr_accepted "
            f"{self.limits.add_addr_accepted} subflows {self.limits.subflows}"
            + (f"; {conns}" if conns else "")
        )


@dataclass(frozen=True)
class StepOutcome:
    """The result of one step and the observable state after it.

    errno: 0 on success, else the positive errno the kernel returned.
    new_id: for a successful endpoint add, the id the endpoint got.
    reply: what a show/get returned (endpoint rows, or Limits), else None.
    endpoints/limits: the endpoint dump and the limits after the step.
    conns: every opened connection after the step (and after the kernel or
    the model has settled: no PM work pending, join results and echoes in).
    peer: with an in-kernel peer, the same observations of the peer.
    """

    index: int
    line: int
    text: str
    errno: int
    extack: str | None
    new_id: int | None
    reply: tuple[EndpointRow, ...] | Limits | None
    endpoints: tuple[EndpointRow, ...]
    limits: Limits
    conns: tuple[ConnView, ...] = ()
    peer: PeerView | None = None

    @property
    def status(self) -> str:
        return errno_text(self.errno)

    def to_json(self) -> dict:
        d = asdict(self)
        d["status"] = self.status
        return d


@dataclass(frozen=True)
class Run:
    """All step outcomes of one scenario on one interpreter."""

    interpreter: str  # "model", "z3", "kernel"
    kernel: str  # model version name, or the live kernel's release
    outcomes: tuple[StepOutcome, ...]

    def to_json(self) -> dict:
        return {
            "interpreter": self.interpreter,
            "kernel": self.kernel,
            "steps": [o.to_json() for o in self.outcomes],
        }
