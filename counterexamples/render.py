"""Renderings of one counterexample object. Each formats fields of the
`Trace` it is given; only `sh` runs the model (its per-step predictions).

- `text`: for an email reply; pure ASCII, at most 72 columns, short: per
  step the kernel function's decisions (the rules' notes) and the changes
  userspace sees or the violated condition reads, in kernel names; the
  full detail stays in `md` and `json`.
- `md`: Markdown (GitHub comments, CI step summaries).
- `json`: ITF (Apalache ADR-015) with the whole object in `#meta.pmcheck`.
- `scenario`: pmcheck's scenario language (`pmcheck simulate/diff FILE`).
- `sh`: the standalone reproducer (bash, iproute2, python3; no pmcheck).
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Callable

from pmcheck.counterexamples.names import field_groups, kernel_name, without_note_refs
from pmcheck.counterexamples.trace import Change, Trace, TraceStep, dumps

WIDTH = 72
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


def _reproducer(trace: Trace) -> list[tuple[str, str]]:
    """(command, what it does) pairs."""
    raw = [str(s.index) for s in trace.steps if s.raw_netlink]
    scn = "the scenario: model vs kernel" + (
        f"; it cannot send step {', '.join(raw)} as raw netlink does" if raw else ""
    )
    return [
        (f"pmcheck replay {trace.name}.json", "on the concrete model"),
        (f"pmcheck replay {trace.name}.json --kernel-live", "on this machine's kernel"),
        (f"sudo bash {trace.name}.sh", "standalone: exit 1 reproduced, 0 not, 2 setup"),
        (f"pmcheck diff {trace.name}.scn", scn),
    ]


def _pattern(name: str) -> str:
    return re.sub(r"\[\d+\]", "[*]", name)


def _relevant(trace: Trace) -> Callable[[str], bool]:
    """Is a changed field worth a reader's line: userspace sees it (dump,
    limits, MPTCP_INFO, the subflow list), or the violated condition reads it?"""
    from pmcheck.counterexamples.build import observable
    from pmcheck.counterexamples.confirm import visible_conjunct_fields

    read = {_pattern(n) for n in (*trace.violation.hidden, *visible_conjunct_fields(trace))}

    def relevant(name: str) -> bool:
        entry = re.fullmatch(r"(peer\[0\]\.)?(endp\[\d+\]|conn\d+(\.sf\[\d+\])?)", name)
        if entry or observable(name):
            return True
        pat = _pattern(name)
        return any(r == pat or r.startswith(pat + ".") for r in read)

    return relevant


def _short(name: str, conns: int) -> str:
    """A field in kernel terms, without the prefix a one-connection trace
    does not need (`msk->pm.`, `conn1.`)."""
    name = kernel_name(name, conns).removeprefix("msk->pm.")
    return name.removeprefix("conn1.") if conns == 1 else name


def _change_text(c: Change, conns: int) -> str:
    name = _short(c.name, conns)
    if re.fullmatch(r"conn\d+", c.name):  # a connection opened: the scenario's words
        return f"{name} {c.after.replace(' port 10000', '')}"
    if c.before in ("-", ""):
        return f"{name} = {c.after}"
    if c.after == "-":
        return f"{name} gone ({c.before})"
    return f"{name} {c.before}->{c.after}"


MAX_WHY = 4  # decisions listed per step in the email text


def _step_lines(s: TraceStep, relevant: Callable[[str], bool], conns: int) -> list[str]:
    """`N command: result`, the rules' notes (the decisions), `=> changes`."""
    line = s.line.lstrip("# ").removeprefix("environment: ")
    if s.environment:
        head = f"({line})"
    elif s.why and s.result == "ok":  # the notes say more than "ok"
        head = line
    else:
        head = f"{line}: {s.result}"
    out = _wrap(head, first=f"{s.index:>2} ", indent="   ")
    for w in s.why[:MAX_WHY]:
        out += _wrap(w, first="     ", indent="       ")
    if len(s.why) > MAX_WHY:
        out.append(f"     (+{len(s.why) - MAX_WHY} more decisions: see the .md)")
    shown = [c for c in s.changes if relevant(c.name)]
    if shown:
        text = "=> " + "; ".join(_change_text(c, conns) for c in shown)
        if not s.why and len(out) == 1 and len(out[0]) + 1 + len(text) <= WIDTH:
            out[0] += " " + text  # a step with one plain effect: one line
        else:
            out += _wrap(text, first="     ", indent="       ")
    return out


def _defaults(t: Trace, conns: int) -> str:
    """The initial configuration, one line: only what differs from a fresh
    namespace (no endpoints, limits 0/2, next_id 1)."""
    fresh = {"next_id": "1", "limit_extra_subflows": "2"}
    start = [
        f"{kernel_name(c.name, conns)} {c.after}"
        for c in t.initial
        if c.after not in ("0", "-", "{}", "no")
        and fresh.get(c.name) != c.after
        and c.name not in ("endpoint slots", "connection slots")
    ]
    return ", ".join(start)


def render_text(trace: Trace) -> str:
    """The email text: only what a reply needs. Fields appear where they
    change, and only those userspace sees or the violated condition reads;
    each step says which kernel function decided what (the rules' notes)."""
    t, p = trace, trace.property
    conns = max(1, int(t.scope.get("conn_slots", 1) or 1))
    relevant = _relevant(t)
    out = _wrap(f"{p.name}: {t.verdict} on Linux {t.kernel}", first="", indent="")
    out += _wrap(without_note_refs(p.statement), first="Property: ", indent="")
    out += _wrap(without_note_refs(p.cites), first="Code: ", indent="")
    start = _defaults(t, conns)
    if start:  # else a fresh namespace: no endpoints, limits 0 and 2
        out += _wrap(start, first="Start: ", indent="")
    out += [""]  # then per step: command, the kernel's decisions, => what changed
    for s in t.steps:
        out += _step_lines(s, relevant, conns)
    out += ["", f"Violated after step {t.violation.step}:"]
    fails = [
        c.text
        for c in t.violation.conjuncts
        if not c.holds and c.depth <= 1 and not c.text.startswith(("one of", "all of"))
    ]
    for text in fails:
        out += _wrap(kernel_name(text, conns), first="  fails: ", indent="    ")
    hidden = ", ".join(field_groups(t.violation.hidden))
    entries = any(".sf[" in v for v in t.violation.values)
    if not fails and t.violation.values:  # a quantified condition: what it looked at
        dump = t.violation.observable[0] if t.violation.observable else ""
        shown = [  # endpoints the dump below shows anyway are not repeated
            v
            for v in t.violation.values
            if not (v.startswith("endp[") and v.split(" ", 1)[1] in dump)
        ]
        reads = "; ".join(_short(v, conns) for v in shown)
        out += _wrap(reads, first="  it reads: ", indent="    ")
    seen = list(t.violation.observable)
    if len(seen) >= 2:  # the endpoint dump and the limits share a line
        seen[:2] = [f"{seen[0]}; {seen[1]}"]
    for o in seen:
        if entries and not fails:  # the subflows are listed above
            o = o.split("; subflows:", 1)[0]
        out += _wrap(o, first="  seen: ", indent="    ")
    if hidden:
        out += _wrap(f"model only (no interface shows it): {hidden}", first="  ", indent="    ")
    out += [""]
    out += _wrap(
        f"Reproduce: sudo bash {t.name}.sh (no pmcheck needed). pmcheck "
        f"{t.pmcheck_version}, model {t.kernel}: shortest {t.shortest} steps (BMC).",
        first="",
        indent="",
    )
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
