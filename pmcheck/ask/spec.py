"""The question language of `pmcheck ask`: a scenario with an open part.

An ask file is a scenario (docs/scenarios.md) whose lines run as usual (the
fixed configuration: limits, endpoints, connections, any fixed events),
followed by the open part, four kinds of lines:

    any EVENT [| EVENT ...]      alternatives for the open event slots
    events up to N [repeat]      at most N open events (default: one per
                                 alternative); `repeat`: an alternative may
                                 occur more than once in a sequence
    settle up to E               environment steps after each open event
                                 (default: as many as it takes, up to 16)
    project ITEM[, ITEM ...]     what an outcome is: served-by, subflows,
                                 endpoints, counters(NAME, ...)

EVENT is any scenario statement except `connect`/`peer connect` (the
connections are configuration): `peer announce|remove|join`, `subflow
close`, or an `ip mptcp ...` command. With `peer pm kernel`, `peer ip mptcp
...` commands, and `connect` too: the environment after each open event
then may deliver in any order. The open part comes after every fixed line.
Problems are input errors with file:line:col, like any scenario's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pmcheck.scenario.ast import Connect, Loc, Scenario, Step
from pmcheck.scenario.errors import ScenarioError
from pmcheck.scenario.parser import (
    EVENT_HEADS,
    _event,
    _ip_command,
    _number,
    _Tokens,
    parse_text,
)

OPEN_HEADS = ("any", "events", "settle", "project")
AUTO_SETTLE = 16  # the settle bound when the file names none
MAX_EVENTS = 8
MAX_SETTLE = 64
# Counter names a projection may use -> the `Conn` field they read. The
# MPTCP_INFO spellings are accepted beside the kernel's pm field names.
COUNTERS = {
    "extra_subflows": "extra_subflows",
    "subflows": "extra_subflows",
    "add_addr_signaled": "add_addr_signaled",
    "add_addr_signal": "add_addr_signaled",
    "add_addr_accepted": "add_addr_accepted",
    "local_addr_used": "local_addr_used",
}
ITEMS = ("served-by", "subflows", "endpoints", "counters")


@dataclass(frozen=True)
class Projection:
    """The parts of the final state that make an outcome, in the user's order.
    `items` holds item names; `counters` the counter names of `counters(...)`
    (its position among the items is the name "counters")."""

    items: tuple[str, ...]
    counters: tuple[str, ...] = ()

    def describe(self) -> str:
        return ", ".join(
            f"counters({', '.join(self.counters)})" if i == "counters" else i for i in self.items
        )


# Without a `project` line: the subflow table and the four MPTCP_INFO
# counters (or the endpoint table, when no connection is open).
DEFAULT_PROJECTION = Projection(
    ("subflows", "counters"),
    ("extra_subflows", "add_addr_signaled", "add_addr_accepted", "local_addr_used"),
)
NO_CONN_PROJECTION = Projection(("endpoints",))


@dataclass(frozen=True)
class AskSpec:
    """A parsed ask file: the fixed scenario and the open part."""

    prefix: Scenario
    alternatives: tuple[Step, ...]
    max_events: int
    repeat: bool
    settle: int | None  # None: AUTO_SETTLE
    projection: Projection | None  # None: the default (see DEFAULT_PROJECTION)
    loc: Loc  # the first open line, for messages about the question as a whole

    @property
    def source(self) -> str:
        return self.prefix.source


def is_ask_text(text: str) -> bool:
    """Whether a scenario text has an open part (so `versions` knows which it got)."""
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words and words[0] in OPEN_HEADS:
            return True
    return False


def parse_ask_text(text: str, file: str = "<ask>") -> AskSpec:
    """Parse an ask file; raises ScenarioError (file:line:col) on the first problem."""
    fixed: list[str] = []
    open_lines: list[tuple[int, str]] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].rstrip()
        head = line.split()[:1]
        if head and head[0] in OPEN_HEADS:
            open_lines.append((n, line))
            fixed.append("")  # keep the fixed part's line numbers
            continue
        if head and open_lines:
            col = len(line) - len(line.lstrip()) + 1
            raise ScenarioError(
                Loc(file, n, col),
                "fixed lines must come before the open part (`any`, `events`, `settle`, `project`)",
            )
        fixed.append(raw)
    prefix = parse_text("\n".join(fixed), file)
    if not open_lines:
        raise ScenarioError(
            Loc(file, 0, 0),
            "no open part: add `any EVENT | EVENT ...` lines "
            '(see docs/scenarios.md, "Open events")',
        )
    opened = sum(isinstance(s.command, Connect) for s in prefix.steps)
    alts: list[Step] = []
    events: tuple[int, bool] | None = None
    settle: int | None = None
    projection: Projection | None = None
    for n, line in open_lines:
        t = _Tokens(file, n, line)
        head = t.next("a statement")
        if head == "any":
            alts.extend(_alternatives(t, opened, prefix.peer_pm))
        elif head == "events":
            if events is not None:
                raise t.error("'events' given twice", back=1)
            t.expect("up")
            t.expect("to")
            count = _number(t, "number of events", 1, MAX_EVENTS)
            rep = False
            if not t.done():
                t.expect("repeat")
                rep = True
            _end(t)
            events = (count, rep)
        elif head == "settle":
            if settle is not None:
                raise t.error("'settle' given twice", back=1)
            t.expect("up")
            t.expect("to")
            settle = _number(t, "number of environment steps", 1, MAX_SETTLE)
            _end(t)
        else:
            if projection is not None:
                raise t.error("'project' given twice", back=1)
            projection = _projection(t, line)
    first = Loc(file, open_lines[0][0], 1)
    if not alts:
        raise ScenarioError(first, "no open events: add `any EVENT | EVENT ...`")
    if events is None:
        events = (len(alts), False)
    return AskSpec(
        prefix=prefix,
        alternatives=tuple(alts),
        max_events=events[0],
        repeat=events[1],
        settle=settle,
        projection=projection,
        loc=first,
    )


def parse_ask_file(path: str | Path) -> AskSpec:
    p = Path(path)
    try:
        data = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(Loc(str(p), 0, 0), f"cannot read: {e}") from None
    return parse_ask_text(data, str(p))


def _end(t: _Tokens) -> None:
    if not t.done():
        raise t.error(f"unexpected {t.peek()!r}")


def _alternatives(t: _Tokens, opened: int, peer_pm: str) -> list[Step]:
    """`any A | B | C`: each alternative is parsed by the scenario parser on
    its own slice of the line's words, so columns stay the file's."""
    words = t.words[t.pos :]
    groups: list[list[tuple[str, int]]] = [[]]
    for w in words:
        if w[0] == "|":
            groups.append([])
        else:
            groups[-1].append(w)
    out = []
    for i, group in enumerate(groups):
        if not group:
            # Point at the stray `|` (or the end of the line for a trailing one).
            bars = [w for w in words if w[0] == "|"]
            col = bars[min(i, len(bars) - 1)][1] if bars else t.loc().col
            raise ScenarioError(
                Loc(t.file, t.line_no, col),
                "empty alternative: expected an event between `|` separators",
            )
        sub = _Tokens(t.file, t.line_no, "")
        sub.words = group
        head = group[0][0]
        if head in EVENT_HEADS:
            command = _event(sub, opened, peer_pm)
        elif head == "ip":
            command = _ip_command(sub)
        else:
            raise sub.error(
                f"unknown event {head!r} (expected 'peer ...', 'subflow close' or 'ip mptcp ...')"
            )
        if isinstance(command, Connect) and peer_pm != "kernel":
            raise ScenarioError(
                Loc(t.file, t.line_no, group[0][1]),
                "a connection cannot be left open: `connect` belongs to the fixed part "
                "(with `peer pm kernel` it may be open, to ask about the orders after it)",
            )
        text = " ".join(w for w, _ in group)
        out.append(Step(Loc(t.file, t.line_no, group[0][1]), text, command))
    return out


_PROJ_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*|[(),]|\S")


def _projection(t: _Tokens, line: str) -> Projection:
    """`project served-by, subflows, counters(a, b)`: commas between items
    are optional; counter names go inside `counters(...)`."""
    start = t.words[0][1] - 1 + len("project")
    toks = [(m.group(), m.start() + 1) for m in _PROJ_TOKEN.finditer(line, start)]

    def err(col: int, message: str) -> ScenarioError:
        return ScenarioError(Loc(t.file, t.line_no, col), message)

    end_col = len(line) + 1
    items: list[str] = []
    counters: list[str] = []
    i = 0
    while i < len(toks):
        word, col = toks[i]
        if word == ",":
            i += 1
            continue
        if word not in ITEMS:
            raise err(col, f"unknown projection item {word!r} (known: {', '.join(ITEMS)})")
        if word in items:
            raise err(col, f"{word!r} given twice")
        items.append(word)
        i += 1
        if word != "counters":
            continue
        if i >= len(toks) or toks[i][0] != "(":
            raise err(
                toks[i][1] if i < len(toks) else end_col,
                "expected '(' and counter names after 'counters'",
            )
        i += 1
        while True:
            if i >= len(toks):
                raise err(end_col, "expected ')' to close 'counters('")
            name, ncol = toks[i]
            if name == ")" and counters:
                i += 1
                break
            if name not in COUNTERS:
                raise err(ncol, f"unknown counter {name!r} (known: {', '.join(COUNTERS)})")
            if name in counters:
                raise err(ncol, f"counter {name!r} given twice")
            counters.append(name)
            i += 1
            if i < len(toks) and toks[i][0] == ",":
                i += 1
    if not items:
        raise err(end_col, f"'project' needs at least one item ({', '.join(ITEMS)})")
    return Projection(items=tuple(items), counters=tuple(counters))
