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

from pmcheck.checker.system import RuleStep
from pmcheck.model.constants import AF_INET6

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


def step_text(step: RuleStep) -> str:
    """The scenario line of a checker step (scenario.lower.raise_step, then
    the one renderer); an environment step or an input no line can say as
    a comment."""
    from pmcheck.scenario.lower import raise_step
    from pmcheck.scenario.render import render_command

    if step.rule == "environment":
        return environment_text(step)
    cmd = raise_step(step.rule, step.inputs, _universe())
    if cmd is not None:
        return render_command(cmd)
    a = step.inputs.addr
    if step.rule.endswith("endpoint add") and a.has_id and a.id == 0:
        line = step_text(RuleStep(step.rule, step.inputs._replace(addr=a._replace(has_id=False))))
        return line + "   # raw netlink: ID attribute 0"
    return f"# {step.rule}"


# What each wire action is, said from the host's side (model/environment.py
# WIRE_KINDS order); {who} is "host" or "peer", {other} the other one.
WIRE_WORDS = (
    "{who}'s ADD_ADDR (announcement {slot}) reaches {other}",
    "{other}'s echo of {who}'s ADD_ADDR (announcement {slot}) arrives",
    "{who}'s MP_JOIN (subflow {slot}) is answered by {other}",
    "{who}'s RM_ADDR reaches {other}",
    "{who}'s MP_PRIO (subflow {slot}) reaches {other}",
    "{who} gets the FIN/RST of its subflow {slot}",
    "{who}'s PM worker runs",
    "{who}'s application accept()s the connection",
    "{who} gets {other}'s first packet: fully established",
)


def environment_text(step: RuleStep) -> str:
    """An environment step. With an in-kernel peer it names the action it
    ran (System.decode records the one taken, model.environment.choice_of);
    with the scripted peer the order is fixed and one comment says it."""
    ev = step.inputs.event
    if not ev.flag:
        return ENVIRONMENT_LINE
    return "# " + describe_choice(ev)


def describe_choice(ev: Any) -> str:
    """What the environment action an input names does, in words."""
    who, other = ("peer", "host") if ev.side else ("host", "peer")
    conn = f" (conn {ev.conn + 1})" if ev.conn else ""
    return WIRE_WORDS[ev.rid].format(who=who, other=other, slot=ev.slot) + conn
