"""Verdicts as plain data: `Result` <-> JSON, and the `Record` every report reads.

The verdict cache, `pmcheck check --json` and `pmcheck merge` all store a
`Result` this way, so a trace read back is the same `RuleStep` tuple the engine
produced (`RuleStep(rule, Inputs)`, where `Inputs` is a NamedTuple tree of ints
and bools) and re-renders identically.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from dataclasses import dataclass
from typing import Any

from pmcheck.checker.scope import Scope
from pmcheck.checker.system import RuleStep
from pmcheck.checker.verdict import Result, Verdict
from pmcheck.model.patching import PatchedKernel
from pmcheck.model.rules import Inputs
from pmcheck.model.versions import KernelVersion
from pmcheck.properties.base import Property


class FormatError(ValueError):
    """Stored verdict data that does not read back (wrong shape or type)."""


# --- steps -----------------------------------------------------------------------------


def _tuple_to_json(value: Any) -> Any:
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {f: _tuple_to_json(getattr(value, f)) for f in value._fields}
    if isinstance(value, bool | int):
        return value
    raise FormatError(f"input value {value!r} is not an int or a bool")


def _tuple_from_json(cls: type, data: Any) -> Any:
    if not isinstance(data, dict):
        raise FormatError(f"{cls.__name__}: expected an object, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = cls._fields  # type: ignore[attr-defined]
    if set(data) != set(fields):
        raise FormatError(f"{cls.__name__}: fields {sorted(data)} != {sorted(fields)}")
    out = {}
    for f in fields:
        sub = hints.get(f)
        if isinstance(sub, type) and hasattr(sub, "_fields"):
            out[f] = _tuple_from_json(sub, data[f])
        elif isinstance(data[f], bool | int):
            out[f] = data[f]
        else:
            raise FormatError(f"{cls.__name__}.{f}: {data[f]!r} is not an int or a bool")
    return cls(**out)


def step_to_json(step: RuleStep) -> dict[str, Any]:
    return {"rule": step.rule, "inputs": _tuple_to_json(step.inputs)}


def step_from_json(data: Any) -> RuleStep:
    if not isinstance(data, dict) or not isinstance(data.get("rule"), str):
        raise FormatError(f"a step needs a rule name: {data!r}")
    return RuleStep(data["rule"], _tuple_from_json(Inputs, data.get("inputs")))


# --- results ---------------------------------------------------------------------------


def result_to_json(r: Result) -> dict[str, Any]:
    return {
        "prop": r.prop,
        "verdict": r.verdict.value,
        "engine": r.engine,
        "seconds": r.seconds,
        "depth": r.depth,
        "trace": [step_to_json(s) for s in r.trace],
        "certificate": list(r.certificate),
        "reason": r.reason,
        "witness": None if r.witness is None else [step_to_json(s) for s in r.witness],
    }


def result_from_json(data: Any) -> Result:
    try:
        witness = data["witness"]
        return Result(
            prop=str(data["prop"]),
            verdict=Verdict(data["verdict"]),
            engine=str(data["engine"]),
            seconds=float(data["seconds"]),
            depth=None if data["depth"] is None else int(data["depth"]),
            trace=tuple(step_from_json(s) for s in data["trace"]),
            certificate=tuple(str(c) for c in data["certificate"]),
            reason=str(data["reason"]),
            witness=None if witness is None else tuple(step_from_json(s) for s in witness),
        )
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, FormatError):
            raise
        raise FormatError(f"not a stored result: {type(e).__name__}: {e}") from None


# --- scopes ----------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """Enums by value, tuples as lists, dataclasses as dicts: stable JSON."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, PatchedKernel):
        return value.spec
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def scope_to_json(scope: Scope) -> dict[str, Any]:
    """Every field of the dataclass, so fields added later are picked up."""
    return jsonable(scope)  # type: ignore[no-any-return]


def scope_from_json(data: Any) -> Scope:
    if not isinstance(data, dict) or "version" not in data:
        raise FormatError(f"not a stored scope: {data!r}")
    known = {f.name for f in dataclasses.fields(Scope)}
    extra = set(data) - known
    if extra:
        raise FormatError(f"scope fields {sorted(extra)} unknown to this pmcheck")
    try:
        kwargs = {k: _tuples(v) for k, v in data.items() if k != "version"}
        from pmcheck.patches import resolve

        return Scope(resolve(data["version"]), **kwargs)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise FormatError(f"not a stored scope: {e}") from None


# --- records ---------------------------------------------------------------------------

# What a verdict means for the run, in exit-code terms (pmcheck.checker.run.exit_code).
PASS, FAILURE, ERROR = "pass", "failure", "error"
OUTCOME_OF_CODE = {0: PASS, 1: FAILURE, 3: ERROR}


@dataclass(frozen=True)
class Record:
    """One property x kernel version verdict, with everything a report shows."""

    prop: Property
    scope: Scope
    result: Result
    engine: str  # the engine asked for (`auto`, `bmc`, ...); result.engine is who answered
    depth: int  # the BMC bound asked for
    expected: str  # the baseline: PROVED or VIOLATED
    met: bool  # run.meets_expectation
    outcome: str  # PASS, FAILURE (exit 1: new or fixed violation), ERROR (exit 3)
    cached: bool = False  # served from the verdict cache, no solver work in this run
    job: str = ""

    @property
    def version(self) -> KernelVersion:
        return self.scope.version

    @property
    def name(self) -> str:
        """A testcase / annotation title: property and kernel version."""
        return f"{self.prop.name} [{self.version.value}]"

    @property
    def known_violation(self) -> bool:
        return self.met and self.result.verdict is Verdict.VIOLATED

    def verdict_text(self) -> str:
        text = self.result.describe()
        return f"{text} (cached)" if self.cached else text


def make_record(
    prop: Property,
    scope: Scope,
    result: Result,
    engine: str,
    depth: int,
    cached: bool = False,
    job: str = "",
) -> Record:
    """The record of one result, judged against its baseline by run.py's rules."""
    from pmcheck.checker.run import exit_code, meets_expectation

    code = exit_code({prop.name: prop}, [result], scope, engine)
    return Record(
        prop,
        scope,
        result,
        engine,
        depth,
        prop.expect(scope.version),
        meets_expectation(prop, result, scope, engine),
        OUTCOME_OF_CODE[code],
        cached,
        job,
    )
