"""Readable names and values for model state, as the renderings show them.

Paths come from `pmcheck.model.state.leaves` (`netns.endp[1].flags`,
`conns[0].sf[2].local_id`); people read `endp[1].flags`, `conn1.sf[2]`
(connections numbered from 1, as in the scenario language). Values are
shown as an operator would say them: flags by name, addresses as text,
bitmaps as sets of ids.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from pmcheck.model.constants import AF_INET6
from pmcheck.model.state import (
    ID_SET_FIELDS,
    SUBFLOW_KIND_ACTIVE,
    SUBFLOW_KIND_MPC,
    SUBFLOW_KIND_PASSIVE,
)
from pmcheck.results import EndpointRow
from pmcheck.scenario.ast import flag_names

# Fields holding an address key (the text needs the checker's key map).
ADDR_FIELDS = ("addr", "local_addr", "remote_addr", "pm_remote_addr", "laddr", "raddr")
BITMAP_FIELDS = ID_SET_FIELDS
RECORD_RE = re.compile(r"^(.*\[\d+\])\.(\w+)$")  # endp[1].flags -> (endp[1], flags)


def readable(path: str) -> str:
    """`netns.endp[1].flags` -> `endp[1].flags`; `conns[0].x` -> `conn1.x`."""
    if path.startswith("netns."):
        return path[len("netns.") :]
    m = re.match(r"^conns\[(\d+)\]\.(.*)$", path)
    if m:
        return f"conn{int(m.group(1)) + 1}.{m.group(2)}"
    return path


def addr_text(key: int, family: int = 0) -> str:
    """An address key as the checker's traces spell it (pmcheck.checker.lines),
    or, for a key it has no text for (the peer's addresses), as the live
    testbed's address universe does: the checker's keys are that universe's."""
    if key == 0:
        return "-"
    from pmcheck.checker.lines import addr_text as checker_addr_text

    text = checker_addr_text(key, family)
    return _testbed().addr_text(key, family) if text.startswith("?") else text


@functools.cache
def _testbed() -> Any:
    from pmcheck.scenario.lower import Universe
    from pmcheck.scenario.parser import parse_text

    return Universe.of(parse_text("", "<testbed>"))


def id_set_text(v: int) -> str:
    """A 256-bit id set as ids and ranges: {0,2-255}, not 255 numbers (a
    fresh connection's id_avail is every id; an email line holds ~60)."""
    ids = [i for i in range(int(v).bit_length()) if v >> i & 1]
    runs: list[list[int]] = []
    for i in ids:
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    parts = []
    for lo, hi in runs:
        if hi - lo >= 2:
            parts.append(f"{lo}-{hi}")
        else:
            parts.extend(str(i) for i in range(lo, hi + 1))
    return "{" + ",".join(parts) + "}"


def field_groups(paths: tuple[str, ...] | list[str]) -> list[str]:
    """Field paths folded for reading: slots of one array become `[*]` and
    siblings share their parent, so `conn1.sf[0].kind, conn1.sf[1].kind,
    conn1.sf[0].twin` reads `conn1.sf[*].{kind,twin}`."""
    by_parent: dict[str, list[str]] = {}
    for path in paths:
        parent, _, leaf = re.sub(r"\.sf\[\d+\]", ".sf[*]", path).rpartition(".")
        leaves = by_parent.setdefault(parent, [])
        if leaf not in leaves:
            leaves.append(leaf)
    out = []
    for parent, leaves in by_parent.items():
        inner = leaves[0] if len(leaves) == 1 else "{" + ", ".join(sorted(leaves)) + "}"
        out.append(f"{parent}.{inner}" if parent else inner)
    return out


def field_text(name: str, v: Any) -> str:
    """One field's value by its name (the last path component)."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if name == "flags":
        return ",".join(flag_names(int(v))) or "none"
    if name in BITMAP_FIELDS:
        return id_set_text(v)
    if name in ADDR_FIELDS:
        return addr_text(int(v))
    return str(v)


def endpoint_text(e: Any) -> str:
    """A list entry as `ip mptcp endpoint show` prints one (slot order is list
    order, not id order)."""
    if not e.used:
        return "-"
    # The model keeps a device key, not a name: shown as "#key".
    return EndpointRow(
        e.id,
        addr_text(e.addr, e.family if e.family == AF_INET6 else 0),
        e.port,
        e.flags,
        f"#{e.ifindex}" if e.ifindex else None,
    ).describe()


KINDS = {SUBFLOW_KIND_MPC: "mpc", SUBFLOW_KIND_ACTIVE: "join", SUBFLOW_KIND_PASSIVE: "passive"}


def subflow_text(s: Any) -> str:
    if not s.used:
        return "-"
    text = (
        f"{addr_text(s.local_addr)}#{s.local_id}>{addr_text(s.remote_addr)}"
        f"#{s.remote_id} {KINDS.get(s.kind, s.kind)}"
    )
    if not s.established:
        text += " syn-sent"
    if s.backup:
        text += " backup"
    return text


def anno_text(a: Any) -> str:
    if not a.used:
        return "-"
    port = f" port {a.port}" if a.port else ""
    return f"{addr_text(a.addr)}{port} id {a.id}" + (" echo-pending" if a.echo_pending else "")


def record_text(record: Any) -> str:
    """A whole list entry (endpoint, subflow, announcement) as one text."""
    fields = getattr(record, "_fields", ())
    if "echo_pending" in fields:
        return anno_text(record)
    if "established" in fields:
        return subflow_text(record)
    if "ifindex" in fields:
        return endpoint_text(record)
    return " ".join(f"{f}={field_text(f, getattr(record, f))}" for f in fields)


def split_record(name: str) -> tuple[str, str] | None:
    """`endp[1].flags` -> (`endp[1]`, `flags`); None for a scalar field."""
    m = RECORD_RE.match(name)
    return (m.group(1), m.group(2)) if m else None


# --- kernel terms (the email rendering) ----------------------------------------------

# Model field -> what pm_kernel.c / protocol.h call it.
KERNEL_CONN = {
    "local_addr_used": "msk->pm.local_addr_used",
    "extra_subflows": "msk->pm.extra_subflows",
    "add_addr_accepted": "msk->pm.add_addr_accepted",
    "add_addr_signaled": "msk->pm.add_addr_signaled",
    "accept_addr": "msk->pm.accept_addr",
    "accept_subflow": "msk->pm.accept_subflow",
    "id_avail": "msk->pm.id_avail_bitmap",
    "mpc_endpoint_id": "msk->mpc_endpoint_id",
    "warned": "WARN_ON_ONCE fired",
    "pm_remote_addr": "msk->pm.remote.addr",
    "pm_remote_id": "msk->pm.remote.id",
}
KERNEL_NETNS = {
    "endp_signal_max": "pernet->endp_signal_max",
    "endp_subflow_max": "pernet->endp_subflow_max",
    "endp_laminar_max": "pernet->endp_laminar_max",
    "endp_fullmesh_max": "pernet->endp_fullmesh_max",
    "limit_add_addr_accepted": "pernet->limit_add_addr_accepted",
    "limit_extra_subflows": "pernet->limit_extra_subflows",
    "next_id": "pernet->next_id",
    "id_bitmap": "pernet->id_bitmap",
    "endpoints": "pernet->endpoints",
}
_CONN_FIELD = re.compile(r"\b(peer\[0\]\.)?conn(\d+)\.(\w+)\b")


def kernel_name(name: str, conns: int = 1) -> str:
    """`conn1.local_addr_used` -> `msk->pm.local_addr_used` (with `conn2:`
    in front when a trace has several connections); netns fields as
    `pernet->...`; list entries (`endp[0].id`, `conn1.sf[1]`) as they are."""

    def conn(m: re.Match[str]) -> str:
        field = KERNEL_CONN.get(m.group(3))
        if field is None:
            return m.group(0)
        who = "peer " if m.group(1) else ""
        return f"{who}conn{m.group(2)} {field}" if conns > 1 or who else field

    text = re.sub(
        r"peer\[0\]\.conns\[(\d+)\]\.", lambda m: f"peer[0].conn{int(m.group(1)) + 1}.", name
    )
    text = _CONN_FIELD.sub(conn, text)
    return re.sub(
        r"(?<![\w.>])(" + "|".join(KERNEL_NETNS) + r")\b", lambda m: KERNEL_NETNS[m.group(1)], text
    )


_NOTE_REFS = (
    (re.compile(r"\s*\([^()]*\bnotes'[^()]*\)"), ""),  # "(the notes' wording: ...)"
    (re.compile(r";\s*notes\b[^;]*$"), ""),  # "; notes M8, F2": documents readers lack
    (re.compile(r"\(F\d+:\s*"), "("),
    (re.compile(r":\s*F\d+\)"), ")"),
    (re.compile(r"\s*\(F\d+\)"), ""),
)


def without_note_refs(text: str) -> str:
    """A property's citation without pointers into pmcheck's own notes."""
    for pattern, repl in _NOTE_REFS:
        text = pattern.sub(repl, text)
    return text.strip()
