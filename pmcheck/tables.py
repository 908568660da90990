"""The endpoint-table matrix (docs/tables/): mixed endpoint *tables*.

docs/mixed-endpoints.md varies the flags of one endpoint. Here a host's
table holds two or three endpoints of different kinds at once, on
different addresses, the MPC address (10.0.1.2, the initial subflow's)
among them, and each table is crossed with the peer (scripted, or a server
running the in-kernel PM with signal endpoints), the peer's C flag, and
the host's limits. Every cell is one generated scenario under
examples/tables/ and its outcome on the concrete model of every kernel
version; one page per question a reviewer asks:

- docs/tables/served-by.md: which local address serves each ADD_ADDR;
- docs/tables/counters.md: what the four MPTCP_INFO counters end at;
- docs/tables/removal.md: what an endpoint delete, a flush, or an RM_ADDR
  does to a table that served the peer's addresses.

`python -m pmcheck.matrix` writes these with the mixed-endpoint matrix;
`--check` and `--live` cover both (see pmcheck.matrix).
"""

from __future__ import annotations

import functools
import multiprocessing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pmcheck.interp import run_model
from pmcheck.model.versions import KernelVersion
from pmcheck.results import ConnView, Run
from pmcheck.scenario.ast import flag_names
from pmcheck.scenario.parser import parse_text

ROOT = Path(__file__).resolve().parents[1]
SCN_DIR = ROOT / "examples" / "tables"
DOC_DIR = ROOT / "docs" / "tables"
VERSIONS = tuple(KernelVersion)
LIVE_VERSION = KernelVersion.V6_18_STABLE  # what this machine's 6.18.44 runs as


# --- the axes ------------------------------------------------------------------------


# Endpoint kinds and their `ip mptcp endpoint add` flags.
KINDS = {
    "signal": "signal",
    "subflow": "subflow",
    "backup": "subflow backup",
    "fullmesh": "fullmesh",
    "laminar": "laminar",
    "signal+subflow": "signal subflow",
}
# Where an endpoint sits: two link addresses, the MPC address, and an IPv6
# address (the connection is IPv4: an endpoint of the other family).
POSITIONS = {"A": "10.0.2.2", "B": "10.0.3.2", "M": "10.0.1.2", "V": "dead:beef:2::2"}
MPC_ADDR = POSITIONS["M"]
# What the peer announces (scripted) or has as signal endpoints (kernel), in order.
ANNOUNCED = ("10.0.2.1", "10.0.3.1", "10.0.4.1")
PEER_INITIAL = "10.0.1.1"


@dataclass(frozen=True)
class Table:
    """Endpoints in the order they are added (ids 1, 2, 3), each a kind at a position."""

    entries: tuple[tuple[str, str], ...]  # (kind key, position)

    @property
    def key(self) -> str:
        return "_".join(f"{k.replace('+', '-')}-{p}" for k, p in self.entries)

    @property
    def label(self) -> str:
        return " + ".join(f"{k}@{p}" for k, p in self.entries)

    def lines(self) -> list[str]:
        return [f"ip mptcp endpoint add {POSITIONS[p]} {KINDS[k]}" for k, p in self.entries]

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(k for k, _ in self.entries)


def _tables() -> tuple[Table, ...]:
    order = [k for k in KINDS if "+" not in k]
    pairs = [Table(((a, "A"), (b, "B"))) for i, a in enumerate(order) for b in order[i + 1 :]] + [
        Table((("laminar", "A"), ("laminar", "B")))
    ]
    mpc = [Table((("laminar", "M"), (x, "A"))) for x in order] + [
        Table(((x, "M"), ("laminar", "A"))) for x in order if x != "laminar"
    ]
    triples = [
        Table((("laminar", "A"), ("laminar", "B"), ("fullmesh", "M"))),
        Table((("signal", "M"), ("subflow", "A"), ("laminar", "B"))),
        Table((("laminar", "M"), ("laminar", "A"), ("subflow", "B"))),
        Table((("subflow", "A"), ("backup", "B"), ("laminar", "M"))),
        Table((("laminar", "A"), ("laminar", "B"), ("laminar", "M"))),
    ]
    # Where the kernel versions part: a signal+subflow endpoint beside
    # laminar (579a752464a6, d191101dee25), and a fullmesh endpoint of the
    # other family (e461e8a799a2).
    versions = [
        Table((("signal+subflow", "A"), ("laminar", "B"))),
        Table((("laminar", "M"), ("signal+subflow", "A"))),
        Table((("fullmesh", "V"), ("laminar", "A"))),
    ]
    return tuple(pairs + mpc + triples + versions)


TABLES = _tables()
PEERS = ("scripted", "kernel")
C_FLAGS = (False, True)
# (add_addr_accepted, subflows); None: the kernel's defaults (add_addr_accepted 0,
# subflows 2), no limits line; (0, 0) is no room at all, set explicitly.
LIMITS: tuple[tuple[int, int] | None, ...] = (None, (0, 0), (1, 1), (2, 2), (8, 8))
REMOVALS = ("delete", "flush", "rm-addr")


def limits_label(limits: tuple[int, int] | None) -> str:
    return "default (0/2)" if limits is None else f"{limits[0]}/{limits[1]}"


def limits_key(limits: tuple[int, int] | None) -> str:
    return "default" if limits is None else f"{limits[0]}x{limits[1]}"


@dataclass(frozen=True)
class Config:
    """One column of the grids: peer, C flag, limits; or a removal event."""

    peer: str
    c_flag: bool = False
    limits: tuple[int, int] | None = (8, 8)
    removal: str | None = None

    @property
    def key(self) -> str:
        if self.removal:
            return f"{self.peer}--{self.removal}"
        return f"{self.peer}-c{int(self.c_flag)}-{limits_key(self.limits)}"


ANNOUNCE_CONFIGS = tuple(Config(p, c, lim) for p in PEERS for c in C_FLAGS for lim in LIMITS)
REMOVAL_CONFIGS = tuple(Config(p, removal=r) for p in PEERS for r in REMOVALS)


@dataclass(frozen=True)
class Cell:
    table: Table
    config: Config

    @property
    def path(self) -> Path:
        return SCN_DIR / f"{self.table.key}--{self.config.key}.scn"

    @property
    def rel(self) -> str:
        return self.path.relative_to(ROOT).as_posix()

    def lines(self) -> list[str]:
        cfg, kernel_peer = self.config, self.config.peer == "kernel"
        out = ["peer pm kernel"] if kernel_peer else []
        if cfg.limits is not None:
            acc, sub = cfg.limits
            out.append(f"ip mptcp limits set add_addr_accepted {acc} subflows {sub}")
        out += self.table.lines()
        if kernel_peer:
            out.append("peer ip mptcp limits set subflows 8")
            out += [f"peer ip mptcp endpoint add {a} signal" for a in ANNOUNCED]
        out.append(
            f"connect {MPC_ADDR} {PEER_INITIAL}" + (" peer-deny-join-id0" if cfg.c_flag else "")
        )
        if not kernel_peer:
            out += [f"peer announce {a} id {n}" for n, a in enumerate(ANNOUNCED, start=1)]
        if cfg.removal == "delete":
            out.append("ip mptcp endpoint delete id 1")
        elif cfg.removal == "flush":
            out.append("ip mptcp endpoint flush")
        elif cfg.removal == "rm-addr":
            out.append("peer ip mptcp endpoint delete id 1" if kernel_peer else "peer remove id 1")
        return out

    def text(self) -> str:
        cfg = self.config
        what = (
            f"then {REMOVAL_TEXT[cfg.removal]}"
            if cfg.removal
            else f"C flag {'on' if cfg.c_flag else 'off'}, limits {limits_label(cfg.limits)}"
        )
        head = (
            f"# Endpoint-table matrix (docs/tables/): table {self.table.label} "
            f"(A {POSITIONS['A']}, B {POSITIONS['B']}, M {MPC_ADDR}, the MPC address), "
            f"{cfg.peer} peer, {what}. Generated by `python -m pmcheck.matrix`."
        )
        return "\n".join([*_wrap(head), *self.lines()]) + "\n"


REMOVAL_TEXT = {
    "delete": "`ip mptcp endpoint delete id 1` (the table's first endpoint)",
    "flush": "`ip mptcp endpoint flush`",
    "rm-addr": "the peer withdraws 10.0.2.1 (id 1): RM_ADDR",
}


def _wrap(text: str) -> list[str]:
    """A comment block of 88 columns, as the mixed-endpoint matrix writes them."""
    from pmcheck.matrix import _wrap_comment  # pmcheck.matrix imports this module

    return _wrap_comment([text])


def cells() -> list[Cell]:
    return [Cell(t, c) for t in TABLES for c in (*ANNOUNCE_CONFIGS, *REMOVAL_CONFIGS)]


# --- outcomes ------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """The host's connection after the cell's last step."""

    served: tuple[tuple[str, ...], ...]  # per announced address: local#id of its subflows
    initial_joins: tuple[str, ...]  # subflows to the peer's initial address besides the MPC
    initial_alive: bool
    extra: int
    accepted: int
    used: int
    signal: int
    endpoints: tuple[str, ...]


def outcome_of(run: Run) -> Outcome:
    last = run.outcomes[-1]
    conn: ConnView = last.conns[0]
    served = tuple(
        tuple(f"{r.local}#{r.local_id}" for r in conn.table if r.remote == a) for a in ANNOUNCED
    )
    to_initial = [r for r in conn.table if r.remote == PEER_INITIAL]
    mpc = [r for r in to_initial if r.local == MPC_ADDR and r.remote_id == 0]
    return Outcome(
        served=served,
        initial_joins=tuple(f"{r.local}#{r.local_id}" for r in to_initial if r not in mpc[:1]),
        initial_alive=bool(mpc),
        extra=conn.subflows,
        accepted=conn.add_addr_accepted,
        used=conn.local_addr_used,
        signal=conn.add_addr_signal,
        endpoints=tuple(
            f"{e.id} {e.addr} {' '.join(flag_names(e.flags)) or '-'}" for e in last.endpoints
        ),
    )


Results = dict[KernelVersion, Outcome]


def _compute(text: str) -> Results:
    scn = parse_text(text, "<tables>")
    return {v: outcome_of(run_model(scn, v)) for v in VERSIONS}


def compute_all(cells_: list[Cell], jobs: int | None = None) -> dict[Cell, Results]:
    """Every cell on every version; on several processes (the runs are independent)."""
    texts = [c.text() for c in cells_]
    jobs = jobs or min(4, multiprocessing.cpu_count())
    if jobs > 1:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            results = pool.map(_compute, texts, chunksize=16)
    else:
        results = [_compute(t) for t in texts]
    return dict(zip(cells_, results, strict=True))


# --- rendering -----------------------------------------------------------------------

SHORT = {addr: name for name, addr in POSITIONS.items()}


def short_local(local: str) -> str:
    """`A#1` for a table position, else the routed address itself."""
    addr, ident = local.split("#")
    return f"{SHORT.get(addr, addr)}#{ident}"


def served_by(o: Outcome) -> tuple[str, ...]:
    """Per announced address, the locals serving it (`–`: nobody)."""
    return tuple(" ".join(short_local(x) for x in s) or "–" for s in o.served)


def served_text(o: Outcome) -> str:
    text = " · ".join(served_by(o))
    if o.initial_joins:
        text += " · init " + " ".join(short_local(x) for x in o.initial_joins)
    if not o.initial_alive:
        text += " · (initial subflow gone)"
    return text


def counters_text(o: Outcome) -> str:
    return f"{o.extra}/{o.accepted}/{o.used}/{o.signal}"


def removal_text(o: Outcome) -> str:
    ids = " ".join(e.split()[0] + ("i" if e.endswith("implicit") else "") for e in o.endpoints)
    return f"{served_text(o)}<br>{counters_text(o)}; ids {ids or '–'}"


Project = Callable[[Outcome], str]


def _by_version(res: Results, project: Project) -> str:
    """One value when every version agrees, else each group of versions
    with its value, marked ≠."""
    groups: dict[str, list[str]] = {}
    for v, o in res.items():
        groups.setdefault(project(o), []).append(v.value)
    if len(groups) == 1:
        return next(iter(groups))
    return "≠ " + "<br>".join(f"*{', '.join(vs)}*: {text}" for text, vs in groups.items())


def _cell(cell: Cell, results: dict[Cell, Results], project: Project, marks: set[Cell]) -> str:
    """A grid cell: its outcome per version, bold if a note cites it, and its scenario."""
    text = _by_version(results[cell], project)
    return f"{f'**{text}**' if cell in marks else text} [↗](../../{cell.rel})"


def _config_head(cfg: Config) -> str:
    peer = "scripted peer" if cfg.peer == "scripted" else "in-kernel server"
    return f"{peer}, C {'on' if cfg.c_flag else 'off'}"


def _table_heading(t: Table) -> list[str]:
    ends = ", ".join(
        f"`{POSITIONS[p]} {KINDS[k]}` (id {n})" for n, (k, p) in enumerate(t.entries, 1)
    )
    return [f"### {t.label}", "", f"Endpoints {ends}.", ""]


def _grid(t: Table, results: dict[Cell, Results], project: Project, marks: set[Cell]) -> list[str]:
    cols = [c for c in ANNOUNCE_CONFIGS if c.limits is None]
    out = [
        "| limits | " + " | ".join(_config_head(c) for c in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for lim in LIMITS:
        row = [_cell(Cell(t, Config(c.peer, c.c_flag, lim)), results, project, marks) for c in cols]
        out.append(f"| {limits_label(lim)} | " + " | ".join(row) + " |")
    return [*out, ""]


def _removal_grid(t: Table, results: dict[Cell, Results], marks: set[Cell]) -> list[str]:
    out = ["| event | scripted peer | in-kernel server |", "|---|---|---|"]
    before = [_cell(Cell(t, Config(p, False, (8, 8))), results, removal_text, set()) for p in PEERS]
    out.append("| before (the 8/8, C off cell) | " + " | ".join(before) + " |")
    for r in REMOVALS:
        row = [_cell(Cell(t, Config(p, removal=r)), results, removal_text, marks) for p in PEERS]
        out.append(f"| {REMOVAL_TEXT[r]} | " + " | ".join(row) + " |")
    return [*out, ""]


@dataclass(frozen=True)
class Note:
    """A finding on a page, with the cells that show it and a check over
    their outcomes: a note can never outlive the behaviour it describes."""

    page: str  # served-by, counters, removal
    text: str
    cells: tuple[Cell, ...]
    check: Callable[[list[Results]], bool]


def _c(
    table: str,
    peer: str = "scripted",
    c: bool = False,
    lim: tuple[int, int] | None = (8, 8),
    rm: str = "",
) -> Cell:
    t = next(x for x in TABLES if x.key == table)
    return Cell(t, Config(peer, removal=rm) if rm else Config(peer, c, lim))


def _every(pred: Callable[[Outcome], bool]) -> Callable[[list[Results]], bool]:
    return lambda rs: all(pred(o) for r in rs for o in r.values())


def _served(*want: str) -> Callable[[Outcome], bool]:
    """The announced addresses are served exactly by these (`-`: by nobody)."""
    return lambda o: served_by(o) == tuple("–" if w == "-" else w for w in want)


def _notes() -> tuple[Note, ...]:
    lam2 = "laminar-A_laminar-B"
    return (
        Note(
            "served-by",
            "With the default limits (add_addr_accepted 0) laminar endpoints serve nothing: "
            "every ADD_ADDR is only echoed",
            (_c(lam2, lim=None), _c(lam2, "kernel", lim=None)),
            _every(_served("-", "-", "-")),
        ),
        Note(
            "served-by",
            "...unless the peer sent the C flag: the C-flag case reads local_addr_used, which "
            "laminar never raises, so ADD_ADDRs are served up to the subflows limit (2 by "
            "default; ledger CFLAG)",
            (_c(lam2, c=True, lim=None), _c(lam2, "kernel", c=True, lim=None)),
            _every(lambda o: _served("A#1", "B#2", "-")(o) and o.accepted == 2),
        ),
        Note(
            "served-by",
            "With limits 0/0 nothing is served, not even with the C flag: the C-flag case "
            "needs room for one more subflow",
            (_c(lam2, c=True, lim=(0, 0)), _c(lam2, "kernel", c=True, lim=(0, 0))),
            _every(lambda o: _served("-", "-", "-")(o) and o.extra == 0),
        ),
        Note(
            "served-by",
            "Each laminar endpoint serves at most one ADD_ADDR, in list order, and with none "
            "left the ADD_ADDR gets no subflow at all: routing is never asked, whatever the "
            "limits",
            (_c(lam2), _c(lam2, "kernel"), _c("signal-A_laminar-B")),
            lambda rs: (
                _every(_served("A#1", "B#2", "-"))(rs[:2])
                and _every(_served("B#2", "-", "-"))(rs[2:])
            ),
        ),
        Note(
            "served-by",
            "Without a laminar or fullmesh endpoint, routing picks each source, and an "
            "endpoint on the routed address lends its id, whatever its flags (a signal one "
            "too); a routed address without one becomes an IMPLICIT entry",
            (_c("signal-A_subflow-B"),),
            _every(
                lambda o: (
                    _served("A#1", "B#2", "10.0.4.2#3")(o) and o.endpoints[-1].endswith("implicit")
                )
            ),
        ),
        Note(
            "served-by",
            "A fullmesh endpoint anywhere in the table (even the MPC address) serves every "
            "ADD_ADDR, and the laminar endpoints beside it are never consulted",
            (_c("laminar-A_laminar-B_fullmesh-M"), _c("laminar-M_fullmesh-A")),
            lambda rs: (
                _every(_served("M#0", "M#0", "M#0"))(rs[:1])
                and _every(_served("A#2", "A#2", "A#2"))(rs[1:])
            ),
        ),
        Note(
            "served-by",
            "A laminar endpoint on the MPC address serves nothing while the initial subflow "
            "lives: its id maps to 0, which the initial subflow uses",
            (
                _c("laminar-M_signal-A"),
                _c("laminar-M_laminar-A"),
                _c("laminar-A_laminar-B_laminar-M"),
            ),
            lambda rs: (
                _every(_served("-", "-", "-"))(rs[:1])
                and _every(_served("A#2", "-", "-"))(rs[1:2])
                and _every(_served("A#1", "B#2", "-"))(rs[2:])
            ),
        ),
        Note(
            "served-by",
            "A subflow endpoint's connect-time join and the ADD_ADDRs share the subflows "
            "limit, and who comes first differs by peer: against the scripted peer (which "
            "announces after the connection settled) the join comes first and the 1/1 limit "
            "still lets the first ADD_ADDR in (extra_subflows 2: the filler does not check "
            "the subflows limit, F4); against an in-kernel server its first ADD_ADDR comes "
            "with the ESTABLISHED and takes the only subflow",
            (_c("signal-A_subflow-B", lim=(1, 1)), _c("signal-A_subflow-B", "kernel", lim=(1, 1))),
            lambda rs: (
                _every(lambda o: o.extra == 2 and o.initial_joins == ("10.0.3.2#2",))(rs[:1])
                and _every(lambda o: o.extra == 1 and not o.initial_joins and o.used == 0)(rs[1:])
            ),
        ),
        Note(
            "served-by",
            "Where the versions part: with the C flag and default limits, a signal+subflow "
            "endpoint counts as used from 6.18-stable on (579a752464a6), which switches the "
            "C-flag case off: laminar then serves nothing; and from 6.19 a fullmesh "
            "endpoint of the other family decides (e461e8a799a2): no subflow, laminar "
            "never consulted",
            (_c("signal-subflow-A_laminar-B", c=True, lim=None), _c("fullmesh-V_laminar-A")),
            lambda rs: (
                rs[0][KernelVersion.V6_18].served[0] == ("10.0.3.2#2",)
                and rs[0][LIVE_VERSION].served[0] == ()
                and rs[1][KernelVersion.V6_18].served[0] == ("10.0.2.2#2",)
                and rs[1][KernelVersion.V6_19].served[0] == ()
            ),
        ),
        Note(
            "counters",
            "Laminar and fullmesh subflows never raise local_addr_used; only a subflow "
            "endpoint's connect-time join does (and a signal+subflow one, 6.18-stable on, "
            "even without a join)",
            (_c("laminar-A_laminar-B"), _c("subflow-A_fullmesh-B")),
            lambda rs: (
                _every(lambda o: o.used == 0)(rs[:1])
                and _every(lambda o: o.used == 1 and o.initial_joins == ("10.0.2.2#1",))(rs[1:])
            ),
        ),
        Note(
            "counters",
            "add_addr_accepted counts served ADD_ADDRs, one per address however many "
            "subflows serve it; extra_subflows counts subflows",
            (_c("subflow-A_fullmesh-B"),),
            _every(lambda o: o.accepted == 3 and o.extra == 4),
        ),
        Note(
            "removal",
            "Deleting a laminar endpoint closes its subflow, but add_addr_accepted stays: "
            "only an RM_ADDR gives it back (flush alike)",
            (
                _c("laminar-A_laminar-B", rm="delete"),
                _c("laminar-A_laminar-B", rm="rm-addr"),
                _c("laminar-A_laminar-B", rm="flush"),
            ),
            lambda rs: (
                _every(lambda o: o.accepted == 2 and o.extra == 1)(rs[:1])
                and _every(lambda o: o.accepted == 1 and o.extra == 1)(rs[1:2])
                and _every(lambda o: o.accepted == 2 and o.extra == 0)(rs[2:])
            ),
        ),
        Note(
            "removal",
            "An endpoint on the MPC address takes the initial subflow with it when deleted "
            "or flushed; the connection lives on its other subflows",
            (_c("laminar-M_fullmesh-A", rm="delete"), _c("laminar-M_fullmesh-A", rm="flush")),
            lambda rs: (
                _every(lambda o: not o.initial_alive and o.extra == 3)(rs[:1])
                and _every(lambda o: not o.initial_alive and o.extra == 0)(rs[1:])
            ),
        ),
        Note(
            "removal",
            "Where the versions part: deleting a signal+subflow endpoint gives "
            "local_addr_used back only from 6.18-stable on (d191101dee25)",
            (_c("signal-subflow-A_laminar-B", rm="delete"),),
            lambda rs: rs[0][KernelVersion.V6_18].used == 1 and rs[0][LIVE_VERSION].used == 0,
        ),
    )


NOTES = _notes()

PAGES = {
    "served-by": (
        "Which local address serves each ADD_ADDR",
        "Each cell: for the peer's three addresses in order (10.0.2.1 id 1, 10.0.3.1 id 2, "
        "10.0.4.1 id 3), the local `address#id` of the established subflows to it (`–`: "
        "none), then `init ...`: the subflows to the peer's initial address 10.0.1.1 "
        "besides the initial one. A table position stands for its address (A 10.0.2.2, "
        "B 10.0.3.2, M 10.0.1.2, V dead:beef:2::2); other addresses are routing's pick.",
        served_text,
    ),
    "counters": (
        "What the counters end at",
        "Each cell: `extra/accepted/used/signal`, MPTCP_INFO's `subflows` "
        "(pm.extra_subflows), `add_addr_accepted`, `local_addr_used`, `add_addr_signal`, "
        "after the peer's three addresses.",
        counters_text,
    ),
}


PAGE_NAMES = (*PAGES, "removal")


def _page_links(current: str) -> str:
    return " · ".join(f"**{k}**" if k == current else f"[{k}]({k}.md)" for k in PAGE_NAMES)


def _setup_text() -> str:
    return (
        "**Setup.** The host (the in-kernel PM under test) is the client: "
        f"`connect {MPC_ADDR} {PEER_INITIAL}`, after its limits (none: the defaults, "
        "add_addr_accepted 0 and subflows 2) and its endpoint table. The *scripted peer* "
        "(userspace PM) announces 10.0.2.1 (id 1), 10.0.3.1 (id 2) and 10.0.4.1 (id 3) "
        "once the connection has settled. The *in-kernel server* (`peer pm kernel`) has "
        "those three as signal endpoints before the connection and `subflows 8`; it "
        "announces them by itself, the first with the ESTABLISHED. *C on*: the peer sends "
        "the C flag (`peer-deny-join-id0`). Routing reaches 10.0.N.1 from 10.0.N.2. "
        "Each cell links (↗) its scenario: `pmcheck simulate FILE` shows it step by step, "
        "`pmcheck diff FILE` replays it on the live kernel. A cell shows one outcome when "
        "all five model versions (6.18 to 7.1) agree, else `≠` and each group of "
        "versions; **bold** cells are explained in the answers above them."
    )


def _notes_block(page: str) -> list[str]:
    out = ["## The answers in short", ""]
    for n in NOTES:
        if n.page != page:
            continue
        links = ", ".join(f"[{c.table.label}, {c.config.key}](../../{c.rel})" for c in n.cells)
        out.append(f"- {n.text} ({links}).")
    return [*out, ""]


def _differing(results: dict[Cell, Results], cells_: Iterable[Cell]) -> list[Cell]:
    return [c for c in cells_ if len(set(results[c].values())) > 1]


def render_page(page: str, results: dict[Cell, Results]) -> str:
    marks = {c for n in NOTES if n.page == page for c in n.cells}
    out = [
        f"# Endpoint tables: {PAGES[page][0] if page in PAGES else REMOVAL_TITLE}",
        "",
        "<!-- Generated by `python -m pmcheck.matrix` from examples/tables/*.scn; do not edit. -->",
        "",
        f"Pages: {_page_links(page)}. One endpoint type at a time: "
        "[../mixed-endpoints.md](../mixed-endpoints.md).",
        "",
        _setup_text(),
        "",
    ]
    if page in PAGES:
        out += [PAGES[page][1], ""]
        configs: Iterable[Config] = ANNOUNCE_CONFIGS
    else:
        out += [REMOVAL_INTRO, ""]
        configs = REMOVAL_CONFIGS
    out += _notes_block(page)
    differ = _differing(results, (Cell(t, c) for t in TABLES for c in configs))
    out += [
        f"**Kernel versions.** {len(differ)} of {len(TABLES) * len(tuple(configs))} cells "
        "differ between versions: "
        + (", ".join(sorted({c.table.label for c in differ})) or "none")
        + ".",
        "",
        "## The tables",
        "",
    ]
    for t in TABLES:
        out += _table_heading(t)
        if page in PAGES:
            out += _grid(t, results, PAGES[page][2], marks)
        else:
            out += _removal_grid(t, results, marks)
    return "\n".join(out).rstrip("\n") + "\n"


REMOVAL_TITLE = "what a delete, a flush or an RM_ADDR does"
REMOVAL_INTRO = (
    "Each table starts from its 8/8, C-off cell (first row: the peer's three addresses "
    "served as on the other pages), then one event: `ip mptcp endpoint delete id 1` (the "
    "table's first endpoint), `ip mptcp endpoint flush`, or the peer withdrawing 10.0.2.1 "
    "(id 1): `peer remove id 1`, or for the in-kernel server `peer ip mptcp endpoint "
    "delete id 1`, which sends the RM_ADDR. Each cell: the served addresses as on "
    "[served-by](served-by.md), then `extra/accepted/used/signal` and the endpoint ids "
    "left (`i`: IMPLICIT)."
)


# Cells replayed on the live kernel by tests/test_matrix_live.py: each
# note's first cell, and enough others for every endpoint kind and
# position, both peers, C on and off, every limits setting and every
# removal event (`python -m pmcheck.matrix --live` replays them all).
def _live_sample() -> tuple[Cell, ...]:
    chosen: list[Cell] = []
    want = {
        *(("kind", k) for k in KINDS),
        *(("pos", p) for p in POSITIONS),
        *(("peer", p) for p in PEERS),
        *(("c", c) for c in C_FLAGS),
        *(("limits", limits_key(x)) for x in LIMITS),
        *(("removal", r) for r in REMOVALS),
    }

    def features(c: Cell) -> set[tuple[str, object]]:
        f = {("kind", k) for k, _ in c.table.entries} | {("pos", p) for _, p in c.table.entries}
        f |= {("peer", c.config.peer)}
        if c.config.removal:
            return f | {("removal", c.config.removal)}
        return f | {("c", c.config.c_flag), ("limits", limits_key(c.config.limits))}

    for n in NOTES:
        chosen.append(n.cells[0])
        want -= features(n.cells[0])
    pool = cells()
    while want:
        best = max(pool, key=lambda c: len(features(c) & want))
        chosen.append(best)
        want -= features(best)
    return tuple(dict.fromkeys(chosen))


LIVE_SAMPLE = _live_sample()


def check_notes(notes: Iterable[Note], results: dict[Cell, Results]) -> None:
    """Raise if a note no longer holds on the outcomes of its cells."""
    for n in notes:
        if not n.check([results[c] for c in n.cells]):
            raise ValueError(f"table note no longer true: {n.text}")


@functools.cache
def generate(jobs: int | None = None) -> tuple[dict[Path, str], dict[Cell, Results]]:
    """Every file's text and the outcomes; raises if a note is false. Cached:
    the model is fixed for a process (callers must not change the dicts)."""
    all_cells = cells()
    results = compute_all(all_cells, jobs)
    check_notes(NOTES, results)
    files = {c.path: c.text() for c in all_cells}
    for page in PAGE_NAMES:
        files[DOC_DIR / f"{page}.md"] = render_page(page, results)
    return files, results
