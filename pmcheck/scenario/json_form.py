"""The JSON form of a scenario, for tools.

    {"format": "pmcheck-scenario", "version": 1, "kernel": "6.18" | null,
     "peer_pm": "scripted" | "kernel",
     "steps": [{"op": "endpoint add", "addr": "10.0.0.1", "port": 0,
                "dev": null, "id": null, "flags": ["signal"]},
               {"op": "endpoint add", "side": "peer", ...}, ...]}

`peer_pm` (optional, default "scripted") is the text form's `peer pm` line;
`"side": "peer"` on an `endpoint ...`/`limits ...` step is its `peer ip
mptcp ...` form.

Every op and field mirrors the text form one to one, and the JSON is checked
as strictly: a problem names the file and the JSON path.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from pmcheck.scenario.ast import (
    Command,
    Connect,
    EndpointAdd,
    EndpointChange,
    EndpointDelete,
    EndpointFlush,
    EndpointShow,
    LimitsSet,
    LimitsShow,
    Loc,
    OnPeer,
    PeerAnnounce,
    PeerJoin,
    PeerRemove,
    Scenario,
    Step,
    SubflowClose,
    flag_names,
)
from pmcheck.scenario.errors import ScenarioError
from pmcheck.scenario.parser import parse_text
from pmcheck.scenario.render import render_command

FORMAT = "pmcheck-scenario"
VERSION = 1

OPS: dict[str, type] = {
    "endpoint add": EndpointAdd,
    "endpoint delete": EndpointDelete,
    "endpoint flush": EndpointFlush,
    "endpoint change": EndpointChange,
    "endpoint show": EndpointShow,
    "limits set": LimitsSet,
    "limits show": LimitsShow,
    "connect": Connect,
    "peer announce": PeerAnnounce,
    "peer remove": PeerRemove,
    "peer join": PeerJoin,
    "subflow close": SubflowClose,
}
EVENT_OPS = (Connect, PeerAnnounce, PeerRemove, PeerJoin, SubflowClose)
_NAMES = {cls: op for op, cls in OPS.items()}


def command_to_json(cmd: Command) -> dict[str, Any]:
    if isinstance(cmd, OnPeer):
        return {**command_to_json(cmd.command), "side": "peer"}
    d: dict[str, Any] = {"op": _NAMES[type(cmd)]}
    for f in dataclasses.fields(cmd):
        value = getattr(cmd, f.name)
        if f.name == "family":
            continue  # implied by the address text
        d[f.name] = list(flag_names(value)) if f.name == "flags" else value
    return d


def to_json(scn: Scenario) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "kernel": scn.kernel,
        "peer_pm": scn.peer_pm,
        "host_addrs": list(scn.host_addrs),
        "peer_addrs": list(scn.peer_addrs),
        "unreachable": [list(pair) for pair in scn.unreachable],
        "steps": [command_to_json(s.command) for s in scn.steps],
    }


def from_json_text(text: str, file: str = "<json>") -> Scenario:
    """Parse the JSON form. Each step is re-read through the text parser (after
    rendering its fields as an `ip mptcp` line) so both forms obey one set of
    checks; field-level problems name their JSON path."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ScenarioError(Loc(file, e.lineno, e.colno), f"invalid JSON: {e.msg}") from None
    except RecursionError:
        raise ScenarioError(Loc(file, 0, 0), "invalid JSON: nested too deeply") from None
    where = Loc(file, 0, 0)
    bad = _control_character(data)
    if bad is not None:
        raise ScenarioError(where, f"{bad}: control characters are not allowed")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ScenarioError(where, f'not a pmcheck scenario (need "format": "{FORMAT}")')
    if data.get("version") != VERSION:
        raise ScenarioError(
            where,
            f"unsupported version {data.get('version')!r} (this pmcheck reads version {VERSION})",
        )
    steps = data.get("steps")
    if not isinstance(steps, list):
        raise ScenarioError(where, '"steps" must be a list')
    lines = []
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise ScenarioError(where, f"unknown key(s) {sorted(unknown)} (known: {sorted(TOP_KEYS)})")
    kernel = data.get("kernel")
    if kernel is not None:
        if not _is_scalar(kernel) or not isinstance(kernel, str):
            raise ScenarioError(where, '"kernel" must be one word (a version) or null')
        lines.append(f"kernel {kernel}")
    peer_pm = data.get("peer_pm", "scripted")
    if peer_pm not in ("scripted", "kernel"):
        raise ScenarioError(where, '"peer_pm" must be "scripted" or "kernel"')
    if peer_pm == "kernel":
        lines.append("peer pm kernel")
    for side in ("host", "peer"):
        addrs = data.get(f"{side}_addrs", [])
        if not isinstance(addrs, list) or not all(
            _is_scalar(a) and isinstance(a, str) for a in addrs
        ):
            raise ScenarioError(where, f'"{side}_addrs" must be a list of addresses')
        lines.extend(f"{side} addr {a}" for a in addrs)
    pairs = data.get("unreachable", [])
    if not isinstance(pairs, list) or not all(
        isinstance(pair, list)
        and len(pair) == 2
        and all(_is_scalar(a) and isinstance(a, str) for a in pair)
        for pair in pairs
    ):
        raise ScenarioError(where, '"unreachable" must be a list of [host, peer] address pairs')
    lines.extend(f"unreachable {h} {p}" for h, p in pairs)
    for i, step in enumerate(steps):
        try:
            lines.append(_step_line(step))
        except ValueError as e:
            raise ScenarioError(where, f"steps[{i}]: {e}") from None
    # Line n of the generated text is steps[n - 1 - offset]; map errors back.
    offset = len(lines) - len(steps)
    try:
        parsed = parse_text("\n".join(lines), file)
    except ScenarioError as e:
        idx = e.loc.line - 1 - offset
        path = f"steps[{idx}]" if idx >= 0 else _header_key(lines[e.loc.line - 1])
        raise ScenarioError(Loc(file, 0, 0), f"{path}: {e.message}") from None
    if len(parsed.steps) != len(steps):  # one array entry, one step: never more, never fewer
        raise ScenarioError(
            where, f"{len(steps)} steps in the array but {len(parsed.steps)} parsed (a bug)"
        )
    return Scenario(
        source=file,
        kernel=parsed.kernel,
        steps=tuple(
            Step(Loc(file, i + 1, 0), s.text, s.command) for i, s in enumerate(parsed.steps)
        ),
        host_addrs=parsed.host_addrs,
        peer_addrs=parsed.peer_addrs,
        peer_pm=parsed.peer_pm,
        unreachable=parsed.unreachable,
    )


def _header_key(line: str) -> str:
    """The JSON key a generated header line came from."""
    keys = (("unreachable", "unreachable"), ("host", "host_addrs"), ("peer", "peer_addrs"))
    for word, key in keys:
        if line.startswith(word + " ") and not line.startswith("peer pm"):
            return f'"{key}"'
    return '"kernel"'


def _step_line(step: Any) -> str:
    if not isinstance(step, dict):
        raise ValueError("a step must be an object")
    op = step.get("op")
    cls = OPS.get(op) if isinstance(op, str) else None
    if cls is None:
        raise ValueError(f"unknown op {op!r} (known: {', '.join(OPS)})")
    names = {f.name for f in dataclasses.fields(cls)} - {"family"}
    extra = set(step) - names - {"op", "side"}
    if extra:
        raise ValueError(f"unknown field(s) {sorted(extra)} for {op!r}")
    side = step.get("side", "host")
    if side not in ("host", "peer"):
        raise ValueError('"side" must be "host" or "peer"')
    if side == "peer" and cls in EVENT_OPS:
        raise ValueError(f'"side": "peer" is for endpoint and limits steps, not {op!r}')
    prefix = "peer " if side == "peer" else ""
    kwargs: dict[str, Any] = {}
    for name in names:
        if name not in step:
            continue
        value = step[name]
        if name == "flags":
            if not isinstance(value, list) or not all(
                isinstance(v, str) and re.fullmatch(r"[a-z]+", v) and v not in OPTION_WORDS
                for v in value
            ):
                raise ValueError('"flags" must be a list of flag names, one word each')
            kwargs[name] = value
        elif value is None or (_is_scalar(value) and _typed(name, value)):
            kwargs[name] = value
        else:
            want = "an integer" if name in INT_FIELDS else "a single word"
            raise ValueError(f'"{name}" must be {want}' + ("" if name in REQUIRED else " or null"))
    # Render through the text syntax (flags by name) and let the parser judge.
    return prefix + _line_for(cls, kwargs)


TOP_KEYS = {
    "format",
    "version",
    "kernel",
    "peer_pm",
    "host_addrs",
    "peer_addrs",
    "unreachable",
    "steps",
}
INT_FIELDS = {"id", "port", "subflows", "add_addr_accepted", "conn"}
OPTION_WORDS = {"id", "port", "dev"}  # a "flag" spelled so would become an option
BOOL_FIELDS = {"deny_join_id0", "server"}
REQUIRED = {"addr", "to", "local", "remote"}


def _typed(name: str, value: Any) -> bool:
    """The JSON type the field has in the text form: ids, ports, limits and
    connection numbers are integers ("5" is not 5), switches booleans,
    the rest words."""
    if name in INT_FIELDS:
        return isinstance(value, int) and not isinstance(value, bool)
    if name in BOOL_FIELDS:
        return isinstance(value, bool)
    return isinstance(value, str)


def _control_character(value: Any, path: str = "$") -> str | None:
    """The JSON path of the first string (key or value) holding a control
    character (C0, DEL, C1, or a Unicode line/paragraph separator)."""
    if isinstance(value, str):
        return path if re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", value) else None
    if isinstance(value, dict):
        for k, v in value.items():
            found = _control_character(k, path) or _control_character(v, f"{path}.{k}")
            if found:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = _control_character(v, f"{path}[{i}]")
            if found:
                return found
    return None


def _is_scalar(value: Any) -> bool:
    """A value that renders as exactly one word of the text form."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, str) and bool(value) and not re.search(r"[\s#]", value)


def _line_for(cls: type, kw: dict[str, Any]) -> str:
    if cls in EVENT_OPS:
        # Build the command (the parser re-checks every value) and render it.
        try:
            return render_command(cls(**kw))
        except TypeError as e:
            raise ValueError(str(e)) from None
    flags = kw.pop("flags", [])
    if cls is EndpointChange:
        words = [
            render_command(
                EndpointChange(id=kw.get("id"), addr=kw.get("addr"), port=kw.get("port") or 0)
            )
        ]
        # Replace the rendered flag words with the requested ones.
        base = words[0].replace(" nobackup nofullmesh", "")
        return " ".join([base, *(flags or ["nobackup"])])
    parts = {
        EndpointAdd: lambda: (
            ["ip mptcp endpoint add", str(kw.get("addr"))]
            + ([f"port {kw['port']}"] if kw.get("port") else [])
            + ([f"dev {kw['dev']}"] if kw.get("dev") else [])
            + ([f"id {kw['id']}"] if kw.get("id") is not None else [])
            + list(flags)
        ),
        EndpointDelete: lambda: (
            ["ip mptcp endpoint delete id", str(kw.get("id"))]
            + ([str(kw["addr"])] if kw.get("addr") else [])
        ),
        EndpointFlush: lambda: ["ip mptcp endpoint flush"],
        EndpointShow: lambda: (
            ["ip mptcp endpoint show"] + ([f"id {kw['id']}"] if kw.get("id") is not None else [])
        ),
        LimitsSet: lambda: (
            ["ip mptcp limits set"]
            + ([f"subflows {kw['subflows']}"] if kw.get("subflows") is not None else [])
            + (
                [f"add_addr_accepted {kw['add_addr_accepted']}"]
                if kw.get("add_addr_accepted") is not None
                else []
            )
        ),
        LimitsShow: lambda: ["ip mptcp limits show"],
    }[cls]()
    return " ".join(parts)
