"""Renderings of one counterexample object. None of them replays or
re-derives anything: each formats fields of the `Trace` it is given.

- `text`: for email; pure ASCII, at most 72 columns, one row per step with
  only the fields that changed (`.` = unchanged); header with property,
  verdict, shortest length, kernel and pmcheck versions; the reproducer as
  footer.
- `md`: Markdown (GitHub comments, CI step summaries).
- `json`: ITF (Apalache ADR-015) with the whole object in `#meta.pmcheck`.
- `scenario`: pmcheck's scenario language (`pmcheck simulate/diff FILE`).
- `sh`: the standalone reproducer (bash, iproute2, python3; no pmcheck).
"""

from __future__ import annotations

import textwrap
import unicodedata
from collections.abc import Callable, Sequence

from pmcheck.counterexamples.names import field_groups
from pmcheck.counterexamples.trace import Trace, dumps

WIDTH = 72
CELL = 30  # widest table cell before it wraps
EXTENSIONS = {"text": "txt", "md": "md", "json": "json", "scenario": "scn", "sh": "sh"}


def file_name(trace: Trace, fmt: str) -> str:
    return f"{trace.name}.{EXTENSIONS[fmt]}"


# --- text (email) ----------------------------------------------------------------

ASCII = {
    "\u2192": "->",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u2014": "--",
    "\u2013": "-",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2026": "...",
    "\u00d7": "x",
    "\u2260": "!=",
}


def ascii_only(text: str) -> str:
    """Text an email client cannot mangle: common symbols spelled out, any
    other non-ASCII character by its closest ASCII form or `?`."""
    out = []
    for ch in text:
        if ord(ch) < 128:
            out.append(ch)
        elif ch in ASCII:
            out.append(ASCII[ch])
        else:
            base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


def _wrap(text: str, indent: str = "", first: str | None = None, width: int = WIDTH) -> list[str]:
    lead = indent if first is None else first
    return textwrap.wrap(
        ascii_only(text),
        width=width,
        initial_indent=lead,
        subsequent_indent=indent + "  ",
        break_on_hyphens=False,
        break_long_words=True,
    ) or [lead.rstrip()]


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ", width: int = WIDTH
) -> list[str]:
    """A plain table; wider than `width`, the columns are split into groups
    (each repeating the first column), and long cells wrap within CELL."""
    cells = [
        [textwrap.wrap(ascii_only(c), CELL, break_on_hyphens=False) or [""] for c in row]
        for row in [list(headers), *rows]
    ]
    widths = [max(len(line) for row in cells for line in row[i]) for i in range(len(headers))]
    groups: list[list[int]] = []
    room = width - len(indent) - widths[0]
    for i in range(1, len(headers)):
        if groups and sum(widths[j] + 2 for j in groups[-1]) + widths[i] + 2 <= room:
            groups[-1].append(i)
        else:
            groups.append([i])
    out: list[str] = []
    for g, cols in enumerate(groups or [[]]):
        if g:
            out.append("")
        cols = [0, *cols]
        for r, row in enumerate(cells):
            for k in range(max(len(row[i]) for i in cols)):
                parts = [(row[i][k] if k < len(row[i]) else "").ljust(widths[i]) for i in cols]
                out.append((indent + "  ".join(parts)).rstrip())
            if r == 0:
                out.append((indent + "  ".join("-" * widths[i] for i in cols)).rstrip())
    return out


def _columns(trace: Trace) -> tuple[list[str], list[list[str]]]:
    """The change table: a column per changed field (first-change order), a
    row per step, `.` where the step left that field alone; row 0 holds the
    values before the first change."""
    names: list[str] = []
    before: dict[str, str] = {}
    for s in trace.steps:
        for c in s.changes:
            if c.name not in before:
                names.append(c.name)
                before[c.name] = c.before
    rows = [["0", *[before[n] for n in names]]]
    for s in trace.steps:
        mine = {c.name: c.after for c in s.changes}
        rows.append([str(s.index), *[mine.get(n, ".") for n in names]])
    return ["step", *names], rows


def _reproducer(trace: Trace) -> list[tuple[str, str]]:
    """(command, what it does) pairs."""
    raw = [str(s.index) for s in trace.steps if s.raw_netlink]
    scn = "the scenario: model vs kernel" + (
        f"; it cannot send step {', '.join(raw)} as raw netlink does" if raw else ""
    )
    return [
        (f"pmcheck replay {trace.name}.json", "on the concrete model"),
        (f"pmcheck replay {trace.name}.json --kernel-live", "on this machine's kernel"),
        (f"sudo bash {trace.name}.sh", "iproute2 only, no pmcheck needed"),
        (f"pmcheck diff {trace.name}.scn", scn),
    ]


def _mark(holds: bool) -> str:
    return "ok  " if holds else "FAIL"


def render_text(trace: Trace) -> str:
    t, p = trace, trace.property
    # The header wraps like the rest: long property names and "6.18-stable"
    # passed 72 columns on one line.
    out = _wrap(
        f"pmcheck {t.pmcheck_version}: {p.name} {t.verdict} on Linux {t.kernel} (model)",
        first="",
        indent="",
    )
    out += _wrap(
        f"shortest violation: {t.shortest} step{'s' * (t.shortest != 1)} (BMC); "
        f"minimized to {t.minimized.describe()} (found: {t.found.describe()})"
    )
    out.append("")
    out += _wrap(p.statement, first="property: ", indent="")
    out += _wrap(p.cites, first="kernel code: ", indent="")
    out += _wrap(t.scope_text, first="scope: ", indent="")
    out += _wrap(", ".join(f"{c.name} {c.after}" for c in t.initial), first="initial: ", indent="")
    out += ["", "steps (kernel function -> result):"]
    for s in t.steps:
        out += _wrap(s.line, first=f"  {s.index:<3}", indent="     ")
        out += _wrap(f"{s.kernel_function} -> {s.result}", indent="     ")
        if s.raw_netlink:
            out += _wrap(f"raw netlink: {s.raw_netlink}", indent="     ")
    headers, rows = _columns(t)
    out += ["", "state after each step (only changed fields; . = unchanged):"]
    out += _table(headers, rows)
    out += ["", f"violated after step {t.violation.step} (evaluated on the model's state):"]
    for c in t.violation.conjuncts:
        out += _wrap(
            c.text,
            first=f"  {_mark(c.holds)}  {'  ' * c.depth}",
            indent="        " + "  " * c.depth,
        )
    out += ["", "what a kernel shows at that point:"]
    for o in t.violation.observable:
        out += _wrap(o, indent="  ")
    if t.violation.hidden:
        out += _wrap(
            "not shown by the endpoint dump, limits or MPTCP_INFO (model only): "
            + ", ".join(field_groups(t.violation.hidden)),
            indent="",
        )
    out += ["", "reproduce:"]
    for cmd, what in _reproducer(t):
        out += _wrap(cmd, indent="  ") + _wrap(f"({what})", indent="      ")
    out += ["", f"scenario ({t.name}.scn):"]
    out += [f"  {line}" for line in _scenario_body(t)]
    return "\n".join(line.rstrip() for line in out) + "\n"


# --- Markdown --------------------------------------------------------------------


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_md(trace: Trace) -> str:
    t, p = trace, trace.property
    out = [
        f"### {p.name}: {t.verdict} on Linux {t.kernel} (model)",
        "",
        f"**Property.** {_md(p.statement)}  ",
        f"**Kernel code.** {_md(p.cites)}  ",
        f"**Shortest violation** {t.shortest} step{'s' * (t.shortest != 1)} (BMC); "
        f"minimized to {t.minimized.describe()} (found: {t.found.describe()}); "
        f"pmcheck {t.pmcheck_version}  ",
        f"**Scope.** {_md(t.scope_text)}  ",
        "**Initial.** " + _md(", ".join(f"{c.name} {c.after}" for c in t.initial)),
        "",
        "| # | step | kernel function | result | changed |",
        "|---|---|---|---|---|",
    ]
    for s in t.steps:
        step = f"`{_md(s.line)}`" + (
            f"<br>raw netlink: {_md(s.raw_netlink)}" if s.raw_netlink else ""
        )
        changed = (
            "<br>".join(
                f"`{_md(c.name)}`: {_md(c.before)} &rarr; {_md(c.after)}" for c in s.changes
            )
            or "(nothing)"
        )
        out.append(f"| {s.index} | {step} | `{s.kernel_function}` | {_md(s.result)} | {changed} |")
    out += [
        "",
        f"**Violated after step {t.violation.step}** (the property's conjuncts "
        "on the model's state):",
        "",
    ]
    for c in t.violation.conjuncts:
        out.append(f"{'  ' * c.depth}- {'holds' if c.holds else '**fails**'}: `{c.text}`")
    out += [
        "",
        "What a kernel shows at that point: "
        + "; ".join(f"{_md(o)}" for o in t.violation.observable)
        + ".",
    ]
    if t.violation.hidden:
        out.append(
            "Not shown by the endpoint dump, limits or MPTCP_INFO (model only): "
            + ", ".join(f"`{h}`" for h in field_groups(t.violation.hidden))
            + "."
        )
    out += [
        "",
        "<details><summary>Reproduce</summary>",
        "",
        "```sh",
        *(f"{c}   # {w}" for c, w in _reproducer(t)),
        "```",
        "",
        f"`{t.name}.scn`:",
        "",
        "```",
        *_scenario_body(t),
        "```",
        "",
        "</details>",
    ]
    return "\n".join(out) + "\n"


# --- scenario --------------------------------------------------------------------


def _scenario_body(trace: Trace) -> list[str]:
    return [*trace.scenario_header, *(s.line for s in trace.steps)]


def render_scenario(trace: Trace) -> str:
    t = trace
    head = [
        f"pmcheck {t.pmcheck_version} counterexample: {t.property.name} {t.verdict} "
        f"on kernel {t.kernel}",
        t.property.statement,
        f"minimized: {t.minimized.describe()}; shortest: {t.shortest}",
        "run: pmcheck simulate FILE (model) / pmcheck diff FILE (model vs kernel)",
    ]
    for s in t.steps:
        if s.raw_netlink:
            head.append(
                f"step {s.index} needs raw netlink ({s.raw_netlink}); this file "
                f"cannot say it: `pmcheck replay {t.name}.json --kernel-live` "
                "sends it"
            )
    lines = [line for h in head for line in _wrap(h, first="# ", indent="#   ")]
    return "\n".join([*lines, *_scenario_body(t)]) + "\n"


# --- shell script ---------------------------------------------------------------


def render_sh(trace: Trace) -> str:
    """The standalone reproducer (pmcheck.counterexamples.reproducer)."""
    from pmcheck.counterexamples.reproducer import render_reproducer

    return render_reproducer(trace)


RENDERERS: dict[str, Callable[[Trace], str]] = {
    "text": render_text,
    "md": render_md,
    "json": dumps,
    "scenario": render_scenario,
    "sh": render_sh,
}
FORMATS = tuple(RENDERERS)


def render(trace: Trace, fmt: str) -> str:
    if fmt not in RENDERERS:
        raise ValueError(f"unknown trace format {fmt!r} (known: {', '.join(FORMATS)})")
    return RENDERERS[fmt](trace)
