"""Confirming a stored counterexample: on the concrete model, and on the
live kernel.

`replay_model` rebuilds the scope, replays the stored steps and checks that
the property fails at the end, with the same states and the same failing
conjuncts as recorded. `replay_kernel` runs the trace's commands on this
machine's kernel (pmcheck's live interpreter, a throw-away namespace) and
compares every step's observable result with the model's.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field

from pmcheck.checker.system import RuleStep
from pmcheck.counterexamples.build import to_data, value_texts
from pmcheck.counterexamples.explain import explain
from pmcheck.counterexamples.names import field_groups
from pmcheck.counterexamples.replay import (
    Replayer,
    first_violation,
    inputs_from_data,
    is_environment,
    scope_from_data,
)
from pmcheck.counterexamples.trace import Trace, TraceFormatError
from pmcheck.diff import FIELDS, describe_value, first_mismatch
from pmcheck.model.rules import RULES
from pmcheck.model.versions import version_of_release
from pmcheck.properties.base import Property
from pmcheck.scenario.ast import EndpointAdd, EndpointDelete, Scenario
from pmcheck.scenario.errors import ScenarioError
from pmcheck.scenario.parser import parse_text


@dataclass(frozen=True)
class Report:
    ok: bool  # the violation reproduced (model) / was confirmed (kernel)
    lines: tuple[str, ...] = field(default=())
    exact: bool = False  # model replay: the very states and conjuncts recorded


def _n(k: int, what: str) -> str:
    return f"{k} {what}{'s' * (k != 1)}"


def property_named(name: str) -> Property:
    from pmcheck.properties import catalog

    props = catalog.all_properties()
    if name not in props:
        raise TraceFormatError(
            f"unknown property {name!r} (this pmcheck knows: {', '.join(props)})"
        )
    return props[name]


def steps_of(trace: Trace) -> list[RuleStep]:
    out = []
    for s in trace.steps:
        if s.rule not in RULES:
            raise TraceFormatError(f"step {s.index}: unknown rule {s.rule!r}")
        try:
            out.append(RuleStep(s.rule, inputs_from_data(s.inputs)))
        except (KeyError, TypeError) as e:
            raise TraceFormatError(f"step {s.index}: bad inputs ({e})") from None
    return out


def replay_model(trace: Trace) -> Report:
    """Replay on the concrete model: does the property fail after the last
    step (not before), as recorded? `exact` also needs the recorded states
    and failing conjuncts, which a model change may alter."""
    prop = property_named(trace.property.name)
    try:
        scope = scope_from_data(trace.scope)
    except (KeyError, TypeError, ValueError) as e:
        raise TraceFormatError(f"bad scope ({e})") from None
    replayer = Replayer.for_scope(scope)
    steps = steps_of(trace)
    run = replayer.run(steps)
    bad = first_violation(prop, run.states)
    lines = [
        f"replayed {_n(len(steps), 'step')} of {trace.name} on the concrete model "
        f"(kernel {trace.kernel}, pmcheck model of this version)"
    ]
    if bad is None:
        lines.append(f"NOT reproduced: {prop.name} holds in every state of the replay")
        return Report(False, tuple(lines))
    if bad != len(steps):
        lines.append(
            f"NOT reproduced as recorded: {prop.name} already fails after step "
            f"{bad}, not {len(steps)}"
        )
        return Report(False, tuple(lines))
    same_states = tuple(to_data(s) for s in run.states) == trace.states
    _, conjuncts, _ = explain(prop, run.states[-1], value_texts(run.states[-1]))
    lines.append(f"reproduced: {prop.name} fails after step {bad}")
    lines += [f"  {'ok  ' if c.holds else 'FAIL'}  {'  ' * c.depth}{c.text}" for c in conjuncts]
    lines.append(
        "states: identical to the recorded ones"
        if same_states
        else "note: the states differ from the recorded ones (the model changed "
        "since the trace was written; regenerate it)"
    )
    if conjuncts != trace.violation.conjuncts:
        lines.append("note: the failing conjuncts read differently than recorded")
    return Report(True, tuple(lines), same_states and conjuncts == trace.violation.conjuncts)


# --- the live kernel ----------------------------------------------------------------


def scenario_of(trace: Trace) -> Scenario:
    """The trace's user steps as a scenario the interpreters run. Steps only
    raw netlink can send (an explicit `id 0`) are built directly, which the
    live interpreter sends as is."""
    user = trace.user_steps
    text = trace.scenario_header
    for s in user:
        # A placeholder keeps one parsed step per user step; patched below.
        text.append(
            "ip mptcp endpoint show" if s.raw_netlink and s.rule != "endpoint add" else s.line
        )
    try:
        scn = parse_text("\n".join(text), file=f"{trace.name}.scn")
    except ScenarioError as e:
        raise TraceFormatError(f"the trace's scenario does not parse: {e}") from None
    steps = list(scn.steps)
    if len(steps) != len(user):
        raise TraceFormatError(f"{len(user)} user steps but {len(steps)} scenario lines")
    for k, s in enumerate(user):
        if not s.raw_netlink:
            continue
        a = s.inputs["addr"]
        cmd = steps[k].command
        if s.rule == "endpoint add" and isinstance(cmd, EndpointAdd):
            cmd = dataclasses.replace(cmd, id=a["id"] if a["has_id"] else None)
        elif s.rule == "endpoint delete":
            cmd = EndpointDelete(id=a["id"])
        steps[k] = dataclasses.replace(steps[k], command=cmd, text=s.line)
    return dataclasses.replace(scn, steps=tuple(steps))


COMPARED = {
    "errno": "result (errno)",
    "new_id": "new endpoint id",
    "reply": "show replies",
    "endpoints": "endpoint dump",
    "limits": "limits",
    "conns": "per connection MPTCP_INFO counters and established subflows",
}


def replay_kernel(trace: Trace) -> Report:
    """Run the trace on this machine's kernel next to the model of the
    trace's version (and of the running kernel's version, when it differs).
    Confirmed: the kernel agrees with the model of the trace's version at
    every step on everything observable, and either this kernel is that
    version or the failing conjuncts read fields the kernel shows (else an
    agreeing run says nothing about a field the kernel may not even have)."""
    from pmcheck.interp import run_model
    from pmcheck.live.kernel_run import run_on_kernel
    from pmcheck.patches import resolve

    scn = scenario_of(trace)
    # A trace that needs a ledger fix (Property.assumes) names it in its
    # kernel: the live kernel has no such fix, so it may disagree; that is
    # the honest answer (not reproduced), not an error.
    version = resolve(trace.kernel, files=False)
    release = os.uname().release
    live_version = version_of_release(release)
    kernel = run_on_kernel(scn)
    model = run_model(scn, version)
    compared = ", ".join(COMPARED.get(f, f) for f in FIELDS)
    lines = [
        f"ran {_n(len(scn.steps), 'step')} of {trace.name} on this kernel ({release}, "
        f"which pmcheck models as {live_version.value}) in a fresh namespace",
        f"compared after every step: {compared}, extack text",
    ]
    mismatch = first_mismatch(model, kernel)
    last = kernel.outcomes[-1] if kernel.outcomes else None
    if mismatch is None:
        lines.append(f"model {version.value} = kernel at every step")
    else:
        lines.append(
            f"model {version.value} != kernel at step {mismatch.index + 1} "
            f"(`{mismatch.text}`), {COMPARED.get(mismatch.field, mismatch.field)}: "
            f"model {describe_value(mismatch.field, mismatch.left)}, kernel "
            f"{describe_value(mismatch.field, mismatch.right)}"
        )
        if live_version is not version:
            own = first_mismatch(run_model(scn, live_version), kernel)
            lines.append(
                f"model {live_version.value} (this kernel's version) "
                + (
                    "= kernel at every step"
                    if own is None
                    else f"!= kernel at step {own.index + 1} too ({own.field})"
                )
            )
            prop = property_named(trace.property.name)
            lines.append(
                f"{prop.name} on {live_version.value}: baseline {prop.expect(live_version)}"
            )
    if last is not None:
        lines.append(
            f"the kernel after step {len(scn.steps)}: endpoint dump: "
            + describe_value("endpoints", last.endpoints)
            + f"; limits: add_addr_accepted {last.limits.add_addr_accepted} "
            f"subflows {last.limits.subflows}"
        )
        lines += [f"  {c.describe()}" for c in last.conns]
    hidden = trace.violation.hidden
    visible = visible_conjunct_fields(trace)
    same_version = live_version is version
    as_scenario = violates_in_default_order(trace)
    confirmed = mismatch is None and (same_version or bool(visible)) and as_scenario
    if not as_scenario:
        lines.append(
            "NOT confirmed: the trace needs another delivery order than the default "
            "one the scenario (and the live testbed) settles in, so the run above "
            "does not violate; the model's trace is the evidence"
        )
    elif mismatch is not None:
        lines.append(f"NOT confirmed: this kernel does not behave as {version.value} here")
    elif confirmed:
        lines.append(
            "CONFIRMED: the kernel agrees with the model at every step"
            + (
                f"; the failing conjuncts read {', '.join(visible)}, which the kernel shows above"
                if visible
                else ""
            )
        )
    else:
        lines.append(
            f"NOT confirmed: the kernel agrees at every step, but what fails is "
            f"not observable and this kernel is not {version.value}"
        )
    if hidden:
        lines.append(
            "not observable on any kernel (the model's word only): "
            + ", ".join(field_groups(hidden))
        )
    return Report(confirmed, tuple(lines))


def violates_in_default_order(trace: Trace) -> bool:
    """Do the trace's user steps, settled in the default order (what its
    scenario does on the model and on the testbed), still violate? With the
    scripted peer the order is always the default; with an in-kernel peer a
    trace may need deliveries in another order."""
    if not trace.scope.get("peer_kernel"):
        return True
    scope = scope_from_data(trace.scope)
    replayer = Replayer.for_scope(scope)
    user = [s for s in steps_of(trace) if not is_environment(s)]
    run = replayer.run(replayer.settle(user))
    return first_violation(property_named(trace.property.name), run.states) is not None


def visible_conjunct_fields(trace: Trace) -> list[str]:
    """Observable fields the failing conjuncts name, e.g. endp[0].id."""
    from pmcheck.counterexamples.build import observable

    names = set()
    for c in trace.violation.conjuncts:
        if not c.holds:
            names.update(w for w in FIELD_RE.findall(c.text) if observable(w))
    return sorted(names)


FIELD_RE = re.compile(r"[a-z_]+\d*(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*")
