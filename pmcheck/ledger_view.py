"""`pmcheck ledger` and `pmcheck patches`: the defect ledger and what a
patch may change, as plain text (email-ready) or Markdown."""

from __future__ import annotations

import textwrap

from tabulate import tabulate

from pmcheck.model.patching import PATCHABLE
from pmcheck.model.versions import TRAITS, KernelVersion
from pmcheck.patches import load, registered
from pmcheck.properties.ledger import DEFECTS, INTENDED, OPEN, where


def _versions(vs: frozenset[KernelVersion]) -> str:
    if vs == frozenset(KernelVersion):
        return "all"
    return ", ".join(v.value for v in KernelVersion if v in vs)


def render_ledger(markdown: bool = False) -> str:
    """Plain text (<= 72 columns, for a reply) or a Markdown table."""
    if markdown:
        return _ledger_markdown()
    out: list[str] = []
    for d in (*DEFECTS, *OPEN):
        if OPEN and d is OPEN[0]:
            out.append("Not isolated yet (no fix flips the property alone):")
            out.append("")
        out.append(f"{d.key}: {d.title}")
        fields = [
            ("code", "; ".join(f"{f} ({where(f)})" for f in d.functions)),
            ("versions", _versions(d.versions)),
            ("caught by", _caught(d)),
            ("fix", _fix_text(d.fix, d.isolated)),
            ("upstream", d.upstream),
            ("why", d.why),
        ]
        for label, text in fields:
            out += textwrap.wrap(
                text, 72, initial_indent=f"    {label}: ", subsequent_indent="      "
            )
        out.append("")
    out.append("Intended (the kernel documents it; no property reports it):")
    for name, fn, text in INTENDED:
        out += textwrap.wrap(
            f"{name} ({fn}): {text}", 72, initial_indent="  - ", subsequent_indent="    "
        )
    return "\n".join(out)


def _caught(d: object) -> str:
    props = list(getattr(d, "properties", ()))
    deeper = getattr(d, "deeper", ())
    if deeper:
        props.append(f"{', '.join(deeper)} beyond the default depth ({getattr(d, 'scenario', '')})")
    return "; ".join(props)


def _fix_text(fix: str, isolated: bool, quote: str = "") -> str:
    if not fix:
        return "(none yet)"
    return f"{quote}{fix}{quote}" + ("" if isolated else " (partial: the property stays VIOLATED)")


def _ledger_markdown() -> str:
    rows = [
        [
            f"**{d.key}** {d.title}",
            "<br>".join(f"`{f}` ({where(f)})" for f in d.functions),
            _versions(d.versions),
            _caught(d),
            _fix_text(d.fix, d.isolated, "`"),
            d.upstream,
        ]
        for d in (*DEFECTS, *OPEN)
    ]
    head = ["defect", "kernel code (v6.18.10)", "versions", "caught by", "fix", "upstream"]
    out = [tabulate(rows, headers=head, tablefmt="github", disable_numparse=True), ""]
    out += [f"- intended: **{name}** (`{fn}`): {text}" for name, fn, text in INTENDED]
    return "\n".join(out)


def render_patches() -> str:
    out = ["Registered patches (`--kernel VERSION+NAME`):"]
    for name in registered():
        p = load(name)
        out.append(f"  {name}: {p.doc}")
    out.append("")
    out.append("Switches a patch may flip (SWITCHES = {name: bool}):")
    out += [f"  {t}" for t in TRAITS]
    out.append("")
    out.append("Model functions a patch may replace (def NAME(orig, k, ...)):")
    out += [f"  {n}" for n in sorted(PATCHABLE)]
    return "\n".join(out)
