"""What every report shows the same way: the counterexample and where a
property is written.

A violation is shown as the shared counterexample (pmcheck.counterexamples:
minimized, replayed, its 72-column ASCII text rendering); `trace_table` is
the fallback when that cannot be built, and what the run printed stays in
the record.
"""

from __future__ import annotations

import functools
import inspect
import textwrap
from pathlib import Path
from typing import Any

from pmcheck.checker.lines import step_text
from pmcheck.checker.records import Record
from pmcheck.checker.scope import Scope
from pmcheck.checker.system import RuleStep
from pmcheck.checker.verdict import Verdict
from pmcheck.properties.base import Property

WIDTH = 72


def ascii_text(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


def trace_table(steps: tuple[RuleStep, ...], width: int = WIDTH) -> str:
    """A path as a plain-ASCII table no wider than `width`: step, rule, and the
    scenario line that replays it."""
    if not steps:
        return "(no steps: the initial state)"
    rule_w = min(max(len("rule"), *(len(s.rule) for s in steps)), 22)
    num_w = max(2, len(str(len(steps))))
    text_w = width - num_w - rule_w - 4
    lines = [
        f"{'#':>{num_w}}  {'rule':<{rule_w}}  scenario line",
        f"{'-' * num_w}  {'-' * rule_w}  {'-' * text_w}",
    ]
    for n, s in enumerate(steps, 1):
        rule = textwrap.wrap(s.rule, rule_w) or [""]
        cmd = textwrap.wrap(ascii_text(step_text(s)), text_w, break_on_hyphens=False) or [""]
        for i in range(max(len(rule), len(cmd))):
            num = str(n) if i == 0 else ""
            r = rule[i] if i < len(rule) else ""
            c = cmd[i] if i < len(cmd) else ""
            lines.append(f"{num:>{num_w}}  {r:<{rule_w}}  {c}".rstrip())
    return "\n".join(ascii_text(line) for line in lines)


def headline(rec: Record) -> str:
    """One line: property, kernel, verdict, and what it means for the run."""
    r = rec.result
    text = f"{rec.name}: {rec.verdict_text()}"
    if rec.known_violation:
        return f"{text}; known violation, in the baseline"
    if rec.outcome == "failure" and r.verdict is Verdict.VIOLATED:
        return f"{text}; NEW violation (baseline: {rec.expected})"
    if rec.outcome == "failure":
        return f"{text}; the baseline records a violation: fixed? update the baseline"
    if rec.outcome == "error" and r.verdict is Verdict.UNKNOWN:
        return f"{text}; UNKNOWN never passes"
    if rec.outcome == "error":
        return f"{text}; not proved (baseline: {rec.expected})"
    return text


_TRACES: dict[tuple[str, Scope, tuple[RuleStep, ...]], Any] = {}


def counterexample(rec: Record) -> Any | None:
    """The shared counterexample object of a violation (minimized), or None."""
    r = rec.result
    if r.verdict is not Verdict.VIOLATED or not r.trace:
        return None
    key = (rec.prop.name, rec.scope, r.trace)
    if key not in _TRACES:
        try:
            from pmcheck.counterexamples.build import from_result
        except ImportError:  # pragma: no cover - the package ships with pmcheck
            _TRACES[key] = None
        else:
            try:
                _TRACES[key] = from_result(r, rec.scope, rec.prop)
            except ValueError:  # not a violation on the concrete model
                _TRACES[key] = None
    return _TRACES[key]


def trace_lines(rec: Record) -> list[str]:
    """The violation as scenario lines: the minimized counterexample's user
    steps, else the checker's path."""
    trace = counterexample(rec)
    if trace is not None:
        return [s.line for s in trace.user_steps]
    return [step_text(s) for s in rec.result.trace]


def trace_text(rec: Record) -> str:
    """The 72-column ASCII counterexample (shared renderer), else the table."""
    trace = counterexample(rec)
    if trace is not None:
        from pmcheck.counterexamples.render import render_text

        return ascii_text(render_text(trace).rstrip("\n"))
    return trace_table(rec.result.trace)


def details(rec: Record) -> str:
    """The body of a failure or annotation: headline, then the counterexample
    (which names statement, kernel code and scope) or those three and why."""
    r = rec.result
    parts = [headline(rec)]
    if r.verdict is Verdict.VIOLATED:
        parts += ["", trace_text(rec)]
    else:
        parts += [
            f"statement: {rec.prop.statement}",
            f"kernel code: {rec.prop.cites}",
            f"scope: {rec.scope.describe()}",
        ]
    if r.reason:
        parts.append(f"reason: {r.reason}")
    return ascii_text("\n".join(parts))


def _root(path: Path) -> Path | None:
    for d in path.parents:
        if (d / "pyproject.toml").exists():
            return d
    return None


@functools.cache
def _location(name: str, holds_file: str | None, holds_line: int) -> tuple[str, int]:
    files = [Path(holds_file)] if holds_file else []
    if files:
        files += sorted(p for p in files[0].parent.glob("*.py") if p != files[0])
    for f in files:
        try:
            lines = f.read_text().splitlines()
        except OSError:
            continue
        for n, line in enumerate(lines, 1):
            if f'"{name}"' in line:
                return _relative(f), n
    return (_relative(Path(holds_file)) if holds_file else "properties"), holds_line


def _relative(f: Path) -> str:
    f = f.resolve()
    root = _root(f)
    return f.relative_to(root).as_posix() if root else f"properties/{f.name}"


def property_location(prop: Property) -> tuple[str, int]:
    """(path relative to the repository, line) of the property's definition:
    the line naming it in its `register(Property(name=...))`, else the line
    of its `holds` function."""
    try:
        file = inspect.getsourcefile(prop.holds)
        line = inspect.getsourcelines(prop.holds)[1]
    except (OSError, TypeError):
        file, line = None, 1
    return _location(prop.name, file, max(line, 1))
