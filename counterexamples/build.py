"""Building the counterexample object from a checker path.

`build_trace` replays the steps on the concrete model (never trusting the
solver), records what each step changed, evaluates the property's
conjuncts on the violating state, and fills a `Trace`. `from_result` does
that for a checker `Result`, minimizing first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pmcheck import __version__
from pmcheck.checker.lines import environment_text, step_text
from pmcheck.checker.scope import Scope, checked_scope
from pmcheck.checker.system import RuleStep
from pmcheck.checker.verdict import Result, Verdict
from pmcheck.counterexamples.explain import explain
from pmcheck.counterexamples.minimize import figures, minimize
from pmcheck.counterexamples.names import (
    addr_text,
    field_text,
    readable,
    record_text,
    split_record,
)
from pmcheck.counterexamples.replay import (
    ENVIRONMENT,
    Replayer,
    first_violation,
    inputs_to_data,
    is_environment,
    scope_to_data,
)
from pmcheck.counterexamples.trace import (
    Change,
    Figures,
    PropertyInfo,
    Trace,
    TraceStep,
    Violation,
)
from pmcheck.model.backend import Note, recording
from pmcheck.model.constants import EXTACK
from pmcheck.model.inputs import Outcome
from pmcheck.model.rules import RULES
from pmcheck.model.state import State
from pmcheck.properties.base import Property
from pmcheck.results import errno_text


class NotAViolation(ValueError):
    """The steps do not violate the property on the concrete model."""


# --- state as data and as named values ------------------------------------------


def to_data(value: Any) -> Any:
    """A state record as plain nested dicts/lists (JSON, ITF)."""
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {k: to_data(v) for k, v in zip(value._fields, value, strict=True)}
    if isinstance(value, tuple):
        return [to_data(v) for v in value]
    return value


def _is_entry(x: Any) -> bool:
    """A list entry shown whole (endpoint, subflow, announcement): a record
    of scalars. A connection holds lists itself, so its fields are shown."""
    return hasattr(x, "_fields") and not any(isinstance(v, tuple) for v in x)


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Readable name -> scalar or whole list entry."""
    out: dict[str, Any] = {}
    for name, item in zip(value._fields, value, strict=True):
        sub = f"{path}.{name}" if path else name
        if hasattr(item, "_fields"):
            out.update(flatten(item, sub))
        elif isinstance(item, tuple):
            for i, x in enumerate(item):
                p = f"{sub}[{i}]"
                if _is_entry(x):
                    out[readable(p)] = x
                else:
                    out.update(flatten(x, p))
        else:
            out[readable(sub)] = item
    return out


def conn_text(flat: dict[str, Any], conn: str) -> str:
    if not flat.get(f"{conn}.used"):
        return "-"
    side = "server" if flat.get(f"{conn}.server") else "client"
    port = flat.get(f"{conn}.port")
    text = (
        f"{addr_text(flat[f'{conn}.local_addr'])}>{addr_text(flat[f'{conn}.remote_addr'])}"
        f"{f' port {port}' if port else ''} {side}"
    )
    return text + (" C-flag" if flat.get(f"{conn}.deny_join_id0") else "")


def value_texts(state: State) -> dict[str, str]:
    """Every readable name (scalars and entries, and each entry's fields) ->
    its display text."""
    out = {}
    for name, v in flatten(state).items():
        if hasattr(v, "_fields"):
            out[name] = record_text(v)
            for f, x in zip(v._fields, v, strict=True):
                out[f"{name}.{f}"] = field_text(f, x)
        else:
            out[name] = field_text(name.rsplit(".", 1)[-1], v)
    return out


def diff(before: State, after: State) -> tuple[Change, ...]:
    """Only what changed: a whole entry when it appeared, vanished or changed
    in several fields, else the one field; a connection that opened or
    closed as one change (its own counters then are part of it)."""
    a, b = flatten(before), flatten(after)
    changes: list[Change] = []
    toggled = {
        n[: -len(".used")]
        for n in a
        if n.startswith("conn") and n.endswith(".used") and a[n] != b[n] and n.count(".") == 1
    }
    for conn in sorted(toggled):
        changes.append(Change(conn, conn_text(a, conn), conn_text(b, conn)))
    for name in a:
        if a[name] == b[name]:
            continue
        x, y = a[name], b[name]
        if "." in name and name.split(".", 1)[0] in toggled and not hasattr(x, "_fields"):
            continue
        if hasattr(x, "_fields"):
            fields = [f for f, p, q in zip(x._fields, x, y, strict=True) if p != q]
            if "used" in fields or len(fields) > 1:
                changes.append(Change(name, record_text(x), record_text(y)))
            else:
                f = fields[0]
                changes.append(
                    Change(
                        f"{name}.{f}", field_text(f, getattr(x, f)), field_text(f, getattr(y, f))
                    )
                )
        else:
            leaf = name.rsplit(".", 1)[-1]
            changes.append(Change(name, field_text(leaf, x), field_text(leaf, y)))
    return tuple(changes)


# --- what userspace can see ---------------------------------------------------

# Fields an interface shows: the endpoint dump, the limits, MPTCP_INFO's
# counters and the established subflows' addresses and ids (ss/diag).
OBSERVABLE_ENDPOINT = ("used", "family", "addr", "port", "id", "flags", "ifindex")
OBSERVABLE_NETNS = ("limit_add_addr_accepted", "limit_extra_subflows")
OBSERVABLE_CONN = (
    "used",
    "extra_subflows",
    "add_addr_signaled",
    "add_addr_accepted",
    "local_addr_used",
)
OBSERVABLE_SUBFLOW = ("used", "established", "local_addr", "local_id", "remote_addr", "remote_id")


PEER_PREFIX = "peer[0]."


def observable(name: str) -> bool:
    if name.startswith(PEER_PREFIX):  # an in-kernel peer: read as the host is
        rest = name.removeprefix(PEER_PREFIX).removeprefix("netns.")
        rest = re.sub(r"^conns\[(\d+)\]\.", lambda m: f"conn{int(m.group(1)) + 1}.", rest)
        return observable(rest)
    rec = split_record(name)
    if rec is not None:
        entry, field = rec
        if entry.startswith("endp["):
            return field in OBSERVABLE_ENDPOINT
        if ".sf[" in entry:
            return field in OBSERVABLE_SUBFLOW
        return False  # announcements: on the wire only
    if name.startswith("conn"):
        return name.split(".", 1)[1] in OBSERVABLE_CONN
    return name in OBSERVABLE_NETNS


def observed(state: State) -> tuple[str, ...]:
    """The violating state as userspace sees it: dump, limits, MPTCP_INFO."""
    flat = flatten(state)
    rows = sorted(
        (v.id, record_text(v)) for n, v in flat.items() if n.startswith("endp[") and v.used
    )
    out = [
        f"endpoint dump: {'; '.join(t for _, t in rows) or '(empty)'}",
        f"limits: add_addr_accepted {flat['limit_add_addr_accepted']} "
        f"subflows {flat['limit_extra_subflows']}",
    ]
    for ci, c in enumerate(state.conns, start=1):
        if not c.used:
            continue
        table = " ".join(record_text(s) for s in c.sf if s.used and s.established) or "-"
        out.append(
            f"conn{ci} MPTCP_INFO: subflows {c.extra_subflows} add_addr_signal "
            f"{c.add_addr_signaled} add_addr_accepted {c.add_addr_accepted} "
            f"local_addr_used {c.local_addr_used}; subflows: {table}"
        )
    return tuple(out)


# --- steps ----------------------------------------------------------------------


def raw_reason(step: RuleStep) -> str:
    """Why a step is not an `ip mptcp` command (only raw netlink sends it)."""
    a = step.inputs.addr
    if step.rule == "endpoint add" and a.has_id and a.id == 0:
        return "an ID attribute 0 (recent iproute2 and the scenario language refuse `id 0`)"
    if step.rule == "endpoint delete" and a.id == 0 and not a.family:
        return "delete id 0 without an address (iproute2 asks for the address)"
    return ""


def result_text(step: RuleStep, out: Outcome) -> str:
    if is_environment(step):
        return "ran" if out.value else "quiescent"
    if out.errno:
        msg = EXTACK[out.msg] if out.msg < len(EXTACK) else None
        return errno_text(out.errno) + (f": {msg}" if msg else "")
    if step.rule == "endpoint add":
        return f"ok, id {out.value}"
    return "ok"


def _line(step: RuleStep, pending: tuple[str, Any] | None) -> str:
    if not is_environment(step):
        return step_text(step)
    if step.rule == ENVIRONMENT and step.inputs.event.flag:  # a named delivery (two PMs)
        return environment_text(step)
    what = pending[0] if pending and step.rule == ENVIRONMENT else step.rule
    conn = f" conn {pending[1].event.conn + 1}" if pending else ""
    return f"# environment: {what}{conn}"


def note_text(n: Note) -> str:
    """A rule's note with its values spelled: addresses as text."""
    fmt, values = n
    return fmt.format(**{k: addr_text(v) if k.startswith("addr") else v for k, v in values.items()})


def values_read(state: State, reads: set[str] | frozenset[str]) -> tuple[str, ...]:
    """The property's reads at the violating state: numeric fields by value
    (flags and yes/no bits are the entries' business), then each live list
    entry (endpoint, subflow, announcement) one of whose fields it reads."""
    flat = flatten(state)
    texts = value_texts(state)
    scalars, entries = [], []
    for name in sorted(reads):
        rec = split_record(name)
        if rec is not None and re.search(r"(endp|sf|anno)\[\d+\]$", rec[0]):
            entry = rec[0]
            if entry not in entries and getattr(flat.get(entry), "used", False):
                entries.append(entry)
        elif isinstance(flat.get(name), int) and not isinstance(flat.get(name), bool):
            scalars.append(f"{name} {texts[name]}")
    return (*scalars, *(f"{e} {texts[e]}" for e in entries))


def build_trace(
    steps: Sequence[RuleStep],
    scope: Scope,
    prop: Property,
    *,
    shortest: int | None = None,
    found: Figures | None = None,
    replayer: Replayer | None = None,
) -> Trace:
    """The counterexample object for `steps`, which must violate `prop` on the
    concrete model at their end; raises NotAViolation otherwise."""
    replayer = replayer or Replayer.for_scope(scope)
    run = replayer.run(steps)
    bad = first_violation(prop, run.states)
    if bad != len(steps):
        raise NotAViolation(
            f"{prop.name}: the steps do not end in a violation on the "
            f"concrete model (first violating state: {bad})"
        )
    final = run.states[-1]
    values = value_texts(final)
    _, conjuncts, reads = explain(prop, final, values)
    tsteps = []
    for i, (step, out) in enumerate(zip(steps, run.outcomes, strict=True), start=1):
        with recording() as notes:
            replayer.apply(run.states[i - 1], step)
        pending = replayer.pending(run.states[i - 1]) if is_environment(step) else None
        rule = RULES.get(step.rule)
        tsteps.append(
            TraceStep(
                index=i,
                rule=step.rule,
                kernel_function=rule.kernel_function if rule else "?",
                environment=is_environment(step),
                inputs=inputs_to_data(step.inputs),
                line=_line(step, pending),
                raw_netlink=raw_reason(step),
                result=result_text(step, out),
                changes=diff(run.states[i - 1], run.states[i]),
                why=tuple(note_text(n) for n in notes),
            )
        )
    init = replayer.template
    flat0 = flatten(init)
    initial = [Change("endpoint slots", "", str(len(init.netns.endp)))]
    initial += [
        Change(n, "", field_text(n, v)) for n, v in flat0.items() if "." not in n and "[" not in n
    ]
    if init.conns:
        initial.append(Change("connection slots", "", str(len(init.conns))))
    mine = figures(replayer, list(steps))
    hidden = tuple(sorted(r for r in reads if not observable(r)))
    read_values = values_read(final, reads)
    return Trace(
        pmcheck_version=__version__,
        kernel=scope.version.value,
        scope=scope_to_data(scope),
        scope_text=scope.describe(),
        property=PropertyInfo(prop.name, prop.statement, prop.cites, prop.expect(scope.version)),
        verdict="VIOLATED",
        shortest=shortest if shortest is not None else len(steps),
        found=found or mine,
        minimized=mine,
        initial=tuple(initial),
        steps=tuple(tsteps),
        violation=Violation(
            step=len(steps),
            conjuncts=conjuncts,
            observable=observed(final),
            hidden=hidden,
            values=read_values,
        ),
        states=tuple(to_data(s) for s in run.states),
    )


def from_result(result: Result, scope: Scope, prop: Property, *, minimized: bool = True) -> Trace:
    """The counterexample for a VIOLATED checker result: its path (the
    shortest, from BMC), minimized unless asked not to, as a Trace.

    A property that assumes other defects' fixes (Property.assumes) was
    checked on the patched kernel; its trace is minimized there, and is
    reported on the unpatched kernel when every state along it is the same
    there (the fixes never fired), so it is a plain kernel scenario."""
    if result.verdict is not Verdict.VIOLATED or not result.trace:
        raise NotAViolation(f"{result.prop}: {result.verdict.value}, no violating trace")
    checked = checked_scope(prop, scope)
    replayer = Replayer.for_scope(checked)
    steps = list(result.trace)
    found = figures(replayer, steps)
    if minimized:
        try:
            steps = minimize(steps, prop, replayer, checked)
        except ValueError as e:  # the solver's path does not violate concretely
            raise NotAViolation(str(e)) from None
    trace = build_trace(
        steps, checked, prop, shortest=len(result.trace), found=found, replayer=replayer
    )
    if checked is scope:
        return trace
    try:
        plain = build_trace(steps, scope, prop, shortest=len(result.trace), found=found)
    except NotAViolation:
        return trace
    return plain if plain.states == trace.states else trace
