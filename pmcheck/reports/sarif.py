"""SARIF 2.1.0 for code scanning: one result per property x kernel version.

- ruleId = the property name (stable across runs); the rule carries the
  statement and the kernel code it cites;
- location = the line naming the property in `properties/*.py`;
- level: `error` for a new or fixed violation and for UNKNOWN / unproved
  (the run fails), `note` for a violation recorded in the baseline (a known
  kernel bug: visible, not gating), kind `pass` / level `none` otherwise;
- partialFingerprints["pmcheck/v1"] = sha256 of property, kernel version,
  verdict and the *minimized* counterexample's scenario lines (the solver's
  raw path varies between runs; the minimized one is the simplest): the
  same finding next run is the same alert, whatever the solver time or the
  cache.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import z3

from pmcheck import __version__
from pmcheck.checker.records import ERROR, FAILURE, Record
from pmcheck.checker.verdict import Verdict
from pmcheck.reports.common import details, headline, property_location, trace_lines

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
VERSION = "2.1.0"


def fingerprint(rec: Record) -> str:
    r = rec.result
    text = "\n".join([rec.prop.name, rec.version.value, r.verdict.value, *trace_lines(rec)])
    return hashlib.sha256(text.encode()).hexdigest()


def _level_kind(rec: Record) -> tuple[str, str]:
    if rec.outcome in (FAILURE, ERROR):
        return "error", "fail"
    if rec.known_violation:
        return "note", "fail"
    return "none", "pass"


def result(rec: Record, rule_index: int) -> dict[str, Any]:
    path, line = property_location(rec.prop)
    level, kind = _level_kind(rec)
    r = rec.result
    out: dict[str, Any] = {
        "ruleId": rec.prop.name,
        "ruleIndex": rule_index,
        "level": level,
        "kind": kind,
        "message": {"text": details(rec) if kind == "fail" else headline(rec)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": line},
                }
            }
        ],
        "partialFingerprints": {"pmcheck/v1": fingerprint(rec)},
        "properties": {
            "kernel": rec.version.value,
            "verdict": r.verdict.value,
            "expected": rec.expected,
            "outcome": rec.outcome,
            "cached": rec.cached,
            "engine": r.engine,
            "depth": r.depth,
            "solverSeconds": round(r.seconds, 3),
            "trace": trace_lines(rec),
        },
    }
    if r.verdict is Verdict.VIOLATED and r.trace:
        # The trace as a code flow: each step a scenario line at the property.
        out["codeFlows"] = [
            {
                "threadFlows": [
                    {
                        "locations": [
                            {
                                "location": {
                                    "physicalLocation": {
                                        "artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"},
                                        "region": {"startLine": line},
                                    },
                                    "message": {"text": line},
                                }
                            }
                            for line in trace_lines(rec)
                        ]
                    }
                ]
            }
        ]
    return out


def document(records: list[Record]) -> dict[str, Any]:
    rules: dict[str, int] = {}
    rule_objs: list[dict[str, Any]] = []
    for rec in records:
        if rec.prop.name not in rules:
            rules[rec.prop.name] = len(rule_objs)
            rule_objs.append(
                {
                    "id": rec.prop.name,
                    "name": rec.prop.name,
                    "shortDescription": {"text": rec.prop.statement},
                    "fullDescription": {"text": f"{rec.prop.statement} ({rec.prop.cites})"},
                    "defaultConfiguration": {"level": "error"},
                    "properties": {"group": rec.prop.group},
                }
            )
    return {
        "$schema": SCHEMA_URI,
        "version": VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "pmcheck",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": rule_objs,
                    }
                },
                "originalUriBaseIds": {
                    "%SRCROOT%": {"description": {"text": "the pmcheck repository root"}}
                },
                "invocations": [
                    {
                        "executionSuccessful": all(rec.outcome != ERROR for rec in records),
                        "properties": {"z3": z3.get_version_string()},
                    }
                ],
                "results": [result(rec, rules[rec.prop.name]) for rec in records],
            }
        ],
    }


def render(records: list[Record]) -> str:
    return json.dumps(document(records), indent=2) + "\n"


REQUIRED = {
    "log": ("version", "runs"),
    "run": ("tool", "results"),
    "driver": ("name",),
    "result": ("message", "ruleId", "locations"),
}


def problems(doc: Any) -> list[str]:
    """Required-field check of a SARIF 2.1.0 log (used when no schema validator
    is installed)."""
    out = []
    if not isinstance(doc, dict):
        return ["not an object"]
    out += [f"log.{k} missing" for k in REQUIRED["log"] if k not in doc]
    if doc.get("version") != VERSION:
        out.append(f"version is {doc.get('version')!r}, not {VERSION}")
    for i, run in enumerate(doc.get("runs") or []):
        out += [f"runs[{i}].{k} missing" for k in REQUIRED["run"] if k not in run]
        driver = run.get("tool", {}).get("driver", {})
        out += [f"runs[{i}].tool.driver.{k} missing" for k in REQUIRED["driver"] if k not in driver]
        ids = {r.get("id") for r in driver.get("rules", [])}
        for j, res in enumerate(run.get("results") or []):
            out += [
                f"runs[{i}].results[{j}].{k} missing" for k in REQUIRED["result"] if k not in res
            ]
            if "text" not in res.get("message", {}):
                out.append(f"runs[{i}].results[{j}].message.text missing")
            if res.get("ruleId") not in ids:
                out.append(f"runs[{i}].results[{j}].ruleId not among the rules")
            if res.get("kind", "fail") != "fail" and res.get("level", "warning") != "none":
                out.append(f"runs[{i}].results[{j}]: kind {res['kind']} needs level none")
            for loc in res.get("locations", []):
                region = loc.get("physicalLocation", {}).get("region", {})
                if not isinstance(region.get("startLine"), int) or region["startLine"] < 1:
                    out.append(f"runs[{i}].results[{j}]: startLine must be >= 1")
    return out
