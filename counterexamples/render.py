"""Renderings of one counterexample object. None of them replays or
re-derives anything: each formats fields of the `Trace` it is given.

- `text`: for email; pure ASCII, at most 72 columns, one row per step with
  only the fields that changed (`.` = unchanged); header with property,
  verdict, shortest length, kernel and pmcheck versions; the reproducer as
  footer.
- `md`: Markdown (GitHub comments, CI step summaries).
- `json`: ITF (Apalache ADR-015) with the whole object in `#meta.pmcheck`.
- `scenario`: pmcheck's scenario language (`pmcheck simulate/diff FILE`).
- `sh`: a standalone script with `ip netns` and `ip mptcp` lines.
"""

from __future__ import annotations

import shlex
import textwrap
import unicodedata
from collections.abc import Callable, Sequence

from pmcheck.counterexamples.names import field_groups
from pmcheck.counterexamples.trace import Trace, TraceStep, dumps

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

RAW_HELPER = r"""# Raw generic netlink for what `ip mptcp` will not send (python3, stdlib).
pmck_raw() {  # pmck_raw add|del FAMILY ADDR PORT ID FLAGS
	ip netns exec "$NS" python3 - "$@" <<'PY'
import socket, struct, sys, errno
op, fam, addr, port, ident, flags = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
    int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
def nla(t, data):
    n = 4 + len(data)
    return struct.pack("=HH", n, t) + data + b"\0" * (-n % 4)
def talk(s, family, cmd, attrs, flags):
    genl = struct.pack("=BBH", cmd, 1, 0) + attrs
    s.send(struct.pack("=IHHII", 16 + len(genl), family, flags, 1, 0) + genl)
    return s.recv(65536)
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)  # NETLINK_GENERIC
s.bind((0, 0))
r = talk(s, 0x10, 3, nla(2, b"mptcp_pm\0"), 1)  # CTRL_CMD_GETFAMILY
off, family = 20, None
while off + 4 <= len(r):
    n, t = struct.unpack_from("=HH", r, off)
    if t == 1:  # CTRL_ATTR_FAMILY_ID
        family = struct.unpack_from("=H", r, off + 4)[0]
    off += (n + 3) & ~3
if family is None:
    sys.exit("mptcp_pm generic netlink family not found (no MPTCP?)")
a = nla(2, struct.pack("B", ident))  # MPTCP_PM_ADDR_ATTR_ID, even 0
if fam:
    a = nla(1, struct.pack("=H", fam)) + a
    a += nla(3, socket.inet_pton(socket.AF_INET, addr)) if fam == 2 else \
        nla(4, socket.inet_pton(socket.AF_INET6, addr))
if port:
    a += nla(5, struct.pack("=H", port))
if flags:
    a += nla(6, struct.pack("=I", flags))
cmd = {"add": 1, "del": 2}[op]  # MPTCP_PM_CMD_ADD_ADDR / _DEL_ADDR
r = talk(s, family, cmd, nla(1 | 0x8000, a), 1 | 4)  # REQUEST | ACK
err = -struct.unpack_from("=i", r, 16)[0] if struct.unpack_from("=H", r, 4)[0] == 2 else 0
print("ok" if err == 0 else "-" + errno.errorcode.get(err, str(err)))
PY
}
"""


def _sh_words(line: str) -> list[str]:
    """An `ip mptcp ...` scenario line as argv (its comment dropped)."""
    return shlex.split(line.split("#", 1)[0])


def _raw_call(s: TraceStep) -> str:
    a = s.inputs["addr"]
    op = "add" if s.rule == "endpoint add" else "del"
    words = _sh_words(s.line)
    addr = next((w for w in words if ":" in w or w.count(".") == 3), "") if a["family"] else ""
    return (
        f"pmck_raw {op} {a['family']} {shlex.quote(addr or '-')} {a['port']} {a['id']} {a['flags']}"
    )


def _addresses(trace: Trace) -> list[str]:
    """Local addresses the script assigns (port endpoints must bind)."""
    found = []
    for s in trace.user_steps:
        for w in _sh_words(s.line) if s.line.startswith("ip ") else []:
            if ":" in w or w.count(".") == 3:
                found.append(w[len("::ffff:") :] if w.startswith("::ffff:") else w)
    return list(dict.fromkeys(found))


def render_sh(trace: Trace) -> str:
    t = trace
    out = [
        "#!/bin/bash",
        f"# pmcheck {t.pmcheck_version} counterexample: {t.property.name} {t.verdict} "
        f"on Linux {t.kernel} (model)",
    ]
    out += _wrap(t.property.statement, first="# ", indent="#   ")
    out += _wrap(
        "Runs the trace's commands in a fresh network namespace of its own "
        "(deleted on exit) and prints what the kernel answers next to what the "
        "model predicts for Linux " + t.kernel + ". Needs root, MPTCP, and an "
        "iproute2 that knows every flag used; python3 only for raw-netlink "
        "steps.",
        first="# ",
        indent="#   ",
    )
    events = [s for s in t.user_steps if not s.line.startswith("ip ")]
    if events:
        out += _wrap(
            f"{len(events)} step(s) are connection or peer events; they need "
            f"pmcheck's two-namespace testbed (`pmcheck kernel {t.name}.scn`) "
            "and appear here as comments.",
            first="# ",
            indent="#   ",
        )
    out += [
        "set -u",
        'if [ "$(id -u)" != 0 ]; then echo "run as root" >&2; exit 1; fi',
        'NS="pmck-cx-$$-$(date +%s)"',
        'cleanup() { ip netns delete "$NS" 2>/dev/null; }',
        "trap cleanup EXIT",
        "trap 'exit 130' INT TERM",
        'ip netns add "$NS" || exit 1',
        'ip -n "$NS" link set lo up',
        "# Local addresses, so endpoints with a port can bind their listener.",
        'ip -n "$NS" link add pmck0 type dummy 2>/dev/null ||',
        '\tip -n "$NS" link add pmck0 type ifb || exit 1',
        'ip -n "$NS" link set pmck0 up',
    ]
    for addr in _addresses(t):
        plen = "128 nodad" if ":" in addr else "32"
        out.append(f'ip -n "$NS" addr add {addr}/{plen} dev pmck0')
    if any(s.raw_netlink for s in t.steps):
        out += ["", *RAW_HELPER.rstrip("\n").split("\n")]
    out += ["", 'step() { printf \'\\n%s\\n  model:  %s\\n  kernel: \' "$1" "$2"; }', ""]
    for s in t.steps:
        if s.environment:
            out.append(f"# step {s.index}: {s.line.lstrip('# ')}")
            continue
        desc = shlex.quote(f"step {s.index}: {s.line}")
        out.append(f"step {desc} {shlex.quote(s.result)}")
        if s.raw_netlink:
            out.append(_raw_call(s))
        elif s.line.startswith("ip "):
            words = _sh_words(s.line)
            cmd = " ".join(shlex.quote(w) for w in words[1:])
            out.append(f'ip -n "$NS" {cmd} && echo ok')
        else:
            out.append(f"echo 'not run: needs the testbed'  # {s.line}")
    out += ["", "echo", f'echo "after the last step, the model predicts for Linux {t.kernel}:"']
    for o in t.violation.observable:
        out.append(f"echo {shlex.quote('  ' + ascii_only(o))}")
    out += [
        'echo "and this kernel ($(uname -r)) shows:"',
        'ip -n "$NS" mptcp endpoint show',
        'ip -n "$NS" mptcp limits show',
    ]
    return "\n".join(out) + "\n"


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
