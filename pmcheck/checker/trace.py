"""A checker step as a scenario line: a counterexample is a scenario.

The scope's address keys get fixed texts (A = 10.0.0.1, B = 10.0.0.2,
C = dead:beef::1); an input only raw netlink can send (an explicit `id 0`)
is written as a comment so the line still says what happened.
"""

from __future__ import annotations

from pmcheck.checker.scope import A, B, C
from pmcheck.checker.system import Step
from pmcheck.scenario.ast import AF_INET6, flag_names

TEXTS = {A: "10.0.0.1", B: "10.0.0.2", C: "dead:beef::1"}


def addr_text(key: int, family: int) -> str:
    base = TEXTS.get(key, f"?{key}")
    if family == AF_INET6 and ":" not in base:
        return f"::ffff:{base}"
    return base


def step_text(step: Step) -> str:
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
        opts = ("backup" if a.flags & 4 else "nobackup", "fullmesh" if a.flags & 8
                else "nofullmesh")
        return f"ip mptcp endpoint change {who}{port} {' '.join(opts)}"
    if step.rule == "limits set":
        parts = ["ip mptcp limits set"]
        if lim.has_subflows:
            parts.append(f"subflows {lim.subflows}")
        if lim.has_add_addr_accepted:
            parts.append(f"add_addr_accepted {lim.add_addr_accepted}")
        return " ".join(parts)
    return f"# {step.rule}"
