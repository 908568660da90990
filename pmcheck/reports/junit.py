"""JUnit XML: one testcase per property x kernel version.

- classname = the property's group (`netns`, ...), name = `P2-id-bitmap [6.19]`;
  one testsuite per kernel version.
- pass: PROVED, a HOLDS-TO-DEPTH the engine asked for meets its baseline
  (`--engine bmc`; it carries a `bound` property), and a *known* VIOLATED
  recorded in the baseline (the trace goes to system-out);
- <failure>: a new violation (body: the trace table) or a fixed one (the
  baseline needs updating) - exit code 1;
- <error>: UNKNOWN or a property left unproved - exit code 3. Never <skipped>.
- time: solver seconds of this run; a cached verdict took none (time 0,
  properties `cached` = true and `solver-seconds` = what it took originally).
  Properties Houdini proved together each report the joint time, so a
  testsuite's time is the wall time of its jobs when the caller knows it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from pmcheck.checker.records import ERROR, FAILURE, Record
from pmcheck.checker.verdict import Verdict
from pmcheck.reports.common import details, headline, trace_text

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _clean(text: str) -> str:
    return _CONTROL.sub("?", text)


def _seconds(rec: Record) -> float:
    return 0.0 if rec.cached else rec.result.seconds


def testcase(rec: Record) -> ET.Element:
    r = rec.result
    tc = ET.Element(
        "testcase", classname=rec.prop.group, name=rec.name, time=f"{_seconds(rec):.3f}"
    )
    props = ET.SubElement(tc, "properties")
    values = {
        "verdict": r.verdict.value,
        "kernel": rec.version.value,
        "expected": rec.expected,
        "engine": r.engine,
        "cached": str(rec.cached).lower(),
        "solver-seconds": f"{r.seconds:.3f}",
        "scope": rec.scope.describe(),
    }
    if r.verdict is Verdict.HOLDS_TO_DEPTH:
        values["bound"] = str(r.depth)
    elif r.verdict is Verdict.VIOLATED:
        values["trace-steps"] = str(len(r.trace))
    elif r.verdict is Verdict.PROVED and r.certificate:
        values["certificate"] = ", ".join(r.certificate)
    for k, v in values.items():
        ET.SubElement(props, "property", name=k, value=_clean(v))
    if rec.outcome == FAILURE:
        el = ET.SubElement(tc, "failure", message=_clean(headline(rec)), type=r.verdict.value)
        el.text = _clean(details(rec))
    elif rec.outcome == ERROR:
        el = ET.SubElement(tc, "error", message=_clean(headline(rec)), type=r.verdict.value)
        el.text = _clean(details(rec))
    elif rec.known_violation:
        out = ET.SubElement(tc, "system-out")
        out.text = _clean(f"{headline(rec)}\n{trace_text(rec)}")
    return tc


def render(
    records: list[Record], title: str = "pmcheck", job_seconds: dict[str, float] | None = None
) -> str:
    root = ET.Element("testsuites", name=title)
    totals = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
    by_version: dict[str, list[Record]] = {}
    for rec in records:
        by_version.setdefault(rec.version.value, []).append(rec)
    for version, recs in by_version.items():
        fails = sum(rec.outcome == FAILURE for rec in recs)
        errs = sum(rec.outcome == ERROR for rec in recs)
        secs = sum(_seconds(rec) for rec in recs)
        if job_seconds is not None:
            secs = sum(job_seconds.get(j, 0.0) for j in dict.fromkeys(r.job for r in recs))
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{title} kernel {version}",
            tests=str(len(recs)),
            failures=str(fails),
            errors=str(errs),
            skipped="0",
            time=f"{secs:.3f}",
        )
        sp = ET.SubElement(suite, "properties")
        ET.SubElement(sp, "property", name="scope", value=_clean(recs[0].scope.describe()))
        ET.SubElement(sp, "property", name="engine", value=recs[0].engine)
        ET.SubElement(sp, "property", name="depth", value=str(recs[0].depth))
        for rec in recs:
            suite.append(testcase(rec))
        totals["tests"] += len(recs)
        totals["failures"] += fails
        totals["errors"] += errs
        totals["time"] += secs
    for k in ("tests", "failures", "errors"):
        root.set(k, str(totals[k]))
    root.set("time", f"{totals['time']:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
