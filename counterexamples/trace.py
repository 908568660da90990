"""The counterexample object: one value every rendering reads.

A `Trace` is built once (pmcheck.counterexamples.build) from a checker path
and its concrete replay; the text, Markdown, ITF, scenario and shell
renderings (pmcheck.counterexamples.render) only format its fields, so two
renderings can never disagree about what happened.

The object serializes to ITF (Apalache ADR-015, the format Quint and the
ITF trace viewers read): the states go to ITF's `states`, everything else
(property, scope, steps with their diffs, the evaluated violation) to
`#meta.pmcheck`. `from_itf(to_itf(t)) == t`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from pmcheck.model.state import ID_SET_FIELDS

SCHEMA = "pmcheck-counterexample/1"
ITF_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"


class TraceFormatError(ValueError):
    """A trace file that is not a pmcheck counterexample (or is damaged)."""


@dataclass(frozen=True)
class PropertyInfo:
    name: str
    statement: str
    cites: str
    expected: str  # the baseline verdict on the trace's kernel version


@dataclass(frozen=True)
class Change:
    """One named field (or whole record) a step changed, as display texts.

    Names read like the model: `endpoints`, `endp[1].flags`, `endp[0]` (a
    whole list entry, when it appeared, vanished or changed in several
    fields), `conn1.extra_subflows`, `conn1.sf[2]`."""

    name: str
    before: str
    after: str


@dataclass(frozen=True)
class TraceStep:
    index: int  # 1-based: the state after this step is states[index]
    rule: str  # the model's rule (scenario verb), e.g. "endpoint add"
    kernel_function: str  # RULES[rule].kernel_function
    environment: bool  # the world's move (worker, join result, echo), not a user's
    inputs: dict[str, Any]  # the rule's Inputs as plain nested data (replayable)
    line: str  # the scenario line (environment steps: a comment)
    raw_netlink: str  # "" or why iproute2/the scenario language cannot send it
    result: str  # "ok", "ok, id 1", "-EINVAL: <extack>", ...
    changes: tuple[Change, ...]
    # The decisions the rules took in this step (their `note`s, in order):
    # "fill_local_laminar_endp: 10.0.2.2 id 1 picked". Empty: none recorded.
    why: tuple[str, ...] = ()


@dataclass(frozen=True)
class Conjunct:
    """One conjunct of the property, evaluated on the violating state;
    depth > 0 are the failing parts of a failing conjunct."""

    depth: int
    holds: bool
    text: str


@dataclass(frozen=True)
class Violation:
    step: int  # index of the violating state (= number of steps)
    conjuncts: tuple[Conjunct, ...]
    observable: tuple[str, ...]  # what userspace could see of the violating state
    hidden: tuple[str, ...]  # fields the property reads that no interface shows
    # What the property reads at the violating state: its counters
    # ("conn1.local_addr_used 2") and the live list entries it looks at
    # ("conn1.sf[2] 10.0.2.2#1>10.0.1.1#0 join syn-sent").
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Figures:
    """Size of a trace: for the minimization report."""

    steps: int
    user_steps: int
    endpoints: int  # most endpoints present at once
    connections: int
    inputs: int  # input fields set + flag bits, over the user's steps

    def describe(self) -> str:
        def n(k: int, what: str) -> str:
            return f"{k} {what}{'s' * (k != 1)}"

        parts = [n(self.steps, "step"), n(self.endpoints, "endpoint")]
        if self.connections:
            parts.append(n(self.connections, "connection"))
        parts.append(n(self.inputs, "input value"))
        return ", ".join(parts)


@dataclass(frozen=True)
class Trace:
    pmcheck_version: str
    kernel: str  # model version, e.g. "6.18"
    scope: dict[str, Any]  # Scope fields, enough to rebuild the System
    scope_text: str  # Scope.describe()
    property: PropertyInfo
    verdict: str  # "VIOLATED"
    shortest: int  # the checker's (BMC) length: no violation is shorter
    found: Figures  # as the checker returned it
    minimized: Figures  # as stored here
    initial: tuple[Change, ...]  # initial configuration (name, "", value)
    steps: tuple[TraceStep, ...]
    violation: Violation
    states: tuple[dict[str, Any], ...]  # plain data, states[0] initial

    @property
    def name(self) -> str:
        """File stem: property and kernel, e.g. P2-id-bitmap.6.18."""
        return f"{self.property.name}.{self.kernel}"

    @property
    def user_steps(self) -> tuple[TraceStep, ...]:
        return tuple(s for s in self.steps if not s.environment)

    @property
    def scenario_header(self) -> list[str]:
        """The scenario's configuration lines: its kernel and, for a trace of
        the two-PM scope, that the peer runs the in-kernel PM."""
        return [f"kernel {self.kernel}"] + (
            ["peer pm kernel"] if self.scope.get("peer_kernel") else []
        )


# --- ITF ---------------------------------------------------------------------

# Integer fields that are bitmaps in the model (256-bit): ITF sets of ids.
BITMAP_FIELDS = ID_SET_FIELDS


def _itf_value(key: str, v: Any) -> Any:
    """A plain value as ITF: ints always as #bigint (what Quint writes and
    every ITF reader accepts), bitmaps as #set of their bit numbers."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        if key in BITMAP_FIELDS:
            return {"#set": [{"#bigint": str(i)} for i in range(v.bit_length()) if v >> i & 1]}
        return {"#bigint": str(v)}
    if isinstance(v, dict):
        return {k: _itf_value(k, x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_itf_value(key, x) for x in v]
    return v


def _plain_value(key: str, v: Any) -> Any:
    if isinstance(v, dict):
        if set(v) == {"#bigint"}:
            return int(v["#bigint"])
        if set(v) == {"#set"}:
            return sum(1 << _plain_value(key, x) for x in v["#set"])
        return {k: _plain_value(k, x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain_value(key, x) for x in v]
    return v


ACTION, PICKS = "mbt::actionTaken", "mbt::nondetPicks"


def to_itf(trace: Trace) -> dict[str, Any]:
    meta = asdict(trace)
    meta.pop("states")
    state_vars = list(trace.states[0]) if trace.states else []
    states = []
    for i, st in enumerate(trace.states):
        row: dict[str, Any] = {"#meta": {"index": i}}
        row.update({k: _itf_value(k, v) for k, v in st.items()})
        step = trace.steps[i - 1] if i else None
        row[ACTION] = step.rule if step else "init"
        row[PICKS] = _itf_value("", step.inputs) if step else {}
        states.append(row)
    return {
        "#meta": {
            "format": "ITF",
            "format-description": ITF_DESCRIPTION,
            "source": f"pmcheck {trace.pmcheck_version}",
            "description": f"{trace.property.name} {trace.verdict} on kernel {trace.kernel}",
            "pmcheck": {"schema": SCHEMA, **meta},
        },
        "vars": [*state_vars, ACTION, PICKS],
        "states": states,
    }


def dumps(trace: Trace) -> str:
    return json.dumps(to_itf(trace), indent=1, ensure_ascii=True) + "\n"


def from_itf(doc: Any) -> Trace:
    """The Trace in an ITF document written by `to_itf`; raises
    TraceFormatError for anything else."""
    try:
        meta = doc["#meta"]["pmcheck"]
        if meta.get("schema") != SCHEMA:
            raise TraceFormatError(f"not a {SCHEMA} trace (schema {meta.get('schema')!r})")
        states = tuple(
            {
                k: _plain_value(k, v)
                for k, v in row.items()
                if k != "#meta" and not k.startswith("mbt::")
            }
            for row in doc["states"]
        )
        prop = PropertyInfo(**meta["property"])
        steps = tuple(
            TraceStep(
                **{
                    **s,
                    "changes": tuple(Change(**c) for c in s["changes"]),
                    "why": tuple(s.get("why", ())),
                }
            )
            for s in meta["steps"]
        )
        viol = meta["violation"]
        violation = Violation(
            step=viol["step"],
            conjuncts=tuple(Conjunct(**c) for c in viol["conjuncts"]),
            observable=tuple(viol["observable"]),
            hidden=tuple(viol["hidden"]),
            values=tuple(viol.get("values", ())),
        )
        kw = {
            f.name: meta[f.name]
            for f in fields(Trace)
            if f.name not in ("states", "property", "steps", "violation")
        }
        kw["found"] = Figures(**meta["found"])
        kw["minimized"] = Figures(**meta["minimized"])
        kw["initial"] = tuple(Change(**c) for c in meta["initial"])
        trace = Trace(**kw, property=prop, steps=steps, violation=violation, states=states)
    except TraceFormatError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise TraceFormatError(
            f"not a pmcheck counterexample trace ({type(e).__name__}: {e})"
        ) from None
    if len(trace.states) != len(trace.steps) + 1:
        raise TraceFormatError(f"{len(trace.steps)} steps but {len(trace.states)} states")
    from pmcheck.model.versions import KernelVersion
    from pmcheck.patches import resolve

    known = [v.value for v in KernelVersion]
    try:  # else `replay` would "reproduce" on a kernel it has no model of
        resolve(trace.kernel, files=False)  # a version, maybe with registered fixes
    except ValueError:
        raise TraceFormatError(
            f"unknown kernel {trace.kernel!r} (known: {', '.join(known)}, "
            "optionally +fix-... of the ledger)"
        ) from None
    return trace


def loads(text: str) -> Trace:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise TraceFormatError(f"not JSON: {e}") from None
    return from_itf(doc)


def load(path: str) -> Trace:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise TraceFormatError(f"cannot read {path}: {e}") from None
    return loads(text)
