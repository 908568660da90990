"""A checker step as a scenario line: a counterexample is a scenario.

Address keys are read with the live testbed's universe (the scope uses its
keys: 1 = 10.0.1.2, 2 = 10.0.2.2, 128 = dead:beef:1::2, the peer's 10.0.N.1
...), so the lines run on the model and on the live testbed as they are.
An input only raw netlink can send (an explicit `id 0`) is written as a
comment so the line still says what happened; an environment step (the
world settling) is a comment too, since every scenario step settles.
"""

from __future__ import annotations

import functools
from typing import Any

from pmcheck.checker.system import Step
from pmcheck.model.constants import AF_INET6
from pmcheck.scenario.ast import flag_names

ENVIRONMENT_LINE = "# (the environment settles: worker, join outcomes, echoes)"


@functools.cache
def _universe() -> Any:
    from pmcheck.scenario.lower import Universe
    from pmcheck.scenario.parser import parse_text

    return Universe.of(parse_text("", "<trace>"))


def addr_text(key: int, family: int = 0) -> str:
    base = _universe().texts.get(key, f"?{key}")
    if family == AF_INET6 and ":" not in base:
        return f"::ffff:{base}"
    return base


def event_text(step: Step) -> str | None:
    """The scenario line of a connection or peer event, None for others."""
    ev = step.inputs.event
    local, remote = addr_text(ev.laddr), addr_text(ev.raddr)
    port = f" port {ev.port}" if ev.port and step.rule != "connect" else ""
    if step.rule == "connect":
        line = f"peer connect {remote} {local}" if ev.server else f"connect {local} {remote}"
        line += f" port {ev.port}" if ev.port != 10000 else ""
        return line + (" peer-deny-join-id0" if ev.flag else "")
    conn = f" conn {ev.conn + 1}" if ev.conn else ""
    lines = {
        "peer announce": f"peer announce {remote} id {ev.rid}{port}{conn}",
        "peer remove": f"peer remove id {ev.rid}{conn}",
        "peer join": f"peer join {remote} to {local} id {ev.rid}{conn}",
        "subflow close": f"subflow close {local} {remote}{conn}",
        "environment": ENVIRONMENT_LINE,
    }
    return lines.get(step.rule)


def step_text(step: Step) -> str:
    event = event_text(step)
    if event is not None:
        return event
    a, lim = step.inputs.addr, step.inputs.limits
    if step.rule == "endpoint add":
        parts = ["ip mptcp endpoint add", addr_text(a.addr, a.family)]
        if a.port:
            parts.append(f"port {a.port}")
        if a.has_id and a.id:
            parts.append(f"id {a.id}")
        parts.extend(flag_names(a.flags))
        line = " ".join(parts)
        return line + ("   # raw netlink: ID attribute 0" if a.has_id and a.id == 0 else "")
    if step.rule == "endpoint delete":
        tail = f" {addr_text(a.addr, a.family)}" if a.family else ""
        return f"ip mptcp endpoint delete id {a.id}{tail}"
    if step.rule == "endpoint flush":
        return "ip mptcp endpoint flush"
    if step.rule == "endpoint change":
        who = f"id {a.id}" if not a.family else addr_text(a.addr, a.family)
        port = f" port {a.port}" if a.port else ""
        opts = (
            "backup" if a.flags & 4 else "nobackup",
            "fullmesh" if a.flags & 8 else "nofullmesh",
        )
        return f"ip mptcp endpoint change {who}{port} {' '.join(opts)}"
    if step.rule == "limits set":
        parts = ["ip mptcp limits set"]
        if lim.has_subflows:
            parts.append(f"subflows {lim.subflows}")
        if lim.has_add_addr_accepted:
            parts.append(f"add_addr_accepted {lim.add_addr_accepted}")
        return " ".join(parts)
    return f"# {step.rule}"
