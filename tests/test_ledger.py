"""The defect ledger against the baselines, the gallery and the candidate fixes.

A fix must flip its own properties and nothing else: here, cheaply, on the
concrete model (every gallery trace of its properties stops reproducing
under the fix, every other gallery trace still reproduces) and, for the
namespace defects, by proof. `pmcheck check --kernel VERSION+FIX` does the
whole suite (EXPECT in the fix file states the flips it claims).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pmcheck.checker.engines import SolverLimits, bmc, houdini
from pmcheck.checker.scope import Scope, checked_scope, default_scope
from pmcheck.checker.system import System
from pmcheck.checker.verdict import Verdict
from pmcheck.counterexamples import gallery
from pmcheck.counterexamples.confirm import replay_model
from pmcheck.counterexamples.trace import Trace, load
from pmcheck.model.versions import KernelVersion
from pmcheck.patches import registered, resolve
from pmcheck.properties.base import VIOLATED
from pmcheck.properties.catalog import all_properties
from pmcheck.properties.ledger import (
    DEFECTS,
    NOT_PINNED,
    OPEN,
    causes,
    deeper_causes,
    where,
)

PROPS = all_properties()
V = KernelVersion
LIMITS = SolverLimits(rlimit=10**10, timeout_s=600)


def test_every_violated_baseline_has_exactly_one_ledger_entry() -> None:
    for p in PROPS.values():
        for v in KernelVersion:
            if not p.applies(v):
                continue
            found = causes(p.name, v)
            if p.expect(v) == VIOLATED:
                assert len(found) == 1, (p.name, v.value, [d.key for d in found])
            else:
                assert not found, (p.name, v.value, "a ledger entry for a holding property")
            if deeper_causes(p.name, v):  # known beyond the depth the baseline reaches
                assert p.expect(v) == "HOLDS-TO-DEPTH", (p.name, v.value)


def test_a_property_assumes_registered_fixes_of_other_defects_only() -> None:
    fixes = registered()
    for p in PROPS.values():
        if not p.assumes:
            continue
        assert set(p.assumes) <= set(fixes), p.name
        own = {d.fix for d in (*DEFECTS, *OPEN) if p.name in (*d.properties, *d.deeper)}
        assert own and not own & set(p.assumes), (p.name, own)


def _violated(scenario: str, version: object) -> set[str]:
    """The connection properties some state of the scenario's run breaks."""
    from pmcheck.interp import run_model
    from pmcheck.model.concrete_ops import CONCRETE
    from pmcheck.scenario.files import parse_file

    states: list[object] = []
    path = Path(__file__).resolve().parents[1] / scenario
    run_model(parse_file(path), version, observer=lambda r, b, a, o: states.append(a))  # type: ignore[arg-type]
    return {
        p.name
        for p in PROPS.values()
        if p.needs_connections
        and p.scope_kind == "connection"
        and any(not p.holds(CONCRETE, s) for s in states)
    }


@pytest.mark.parametrize("defect", [d for d in (*DEFECTS, *OPEN) if d.deeper], ids=lambda d: d.key)
def test_a_defect_beyond_the_default_depth_has_a_scenario_its_fix_stops(defect: object) -> None:
    d = defect
    for v in sorted(d.versions, key=lambda v: v.value):  # type: ignore[attr-defined]
        assert set(d.deeper) <= _violated(d.scenario, v), (d.key, v.value)  # type: ignore[attr-defined]
        fixed = resolve(f"{v.value}+{d.fix}")  # type: ignore[attr-defined]
        assert not set(d.deeper) & _violated(d.scenario, fixed), (d.key, v.value)  # type: ignore[attr-defined]


def test_entries_name_pinned_kernel_functions_and_registered_fixes() -> None:
    fixes = registered()
    for d in (*DEFECTS, *OPEN):
        for f in d.functions:
            assert where(f) != NOT_PINNED, (d.key, f)
        for p in d.properties:
            assert p in PROPS, (d.key, p)
        if d.isolated:  # an isolated cause has a fix that claims its flips
            assert d.fix, d.key
            patch = resolve(f"6.18-stable+{d.fix}").patches[0]  # type: ignore[union-attr]
            assert set(patch.expect) == {*d.properties, *d.deeper}, d.key
        if d.fix:
            assert d.fix in fixes, d.key


def _gallery() -> list[Trace]:
    return [load(str(p)) for p in sorted(gallery.GALLERY.glob("*.json"))]


def _under(t: Trace, fix: str) -> Trace:
    """The trace with its kernel replaced by the kernel plus `fix`."""
    scope = dict(t.scope, version=f"{t.scope['version']}+{fix}")
    return dataclasses.replace(t, scope=scope)


@pytest.mark.parametrize("defect", [d for d in (*DEFECTS, *OPEN) if d.fix], ids=lambda d: d.key)
def test_a_fix_stops_its_traces_and_no_other(defect: object) -> None:
    d = defect
    assert isinstance(d, type(DEFECTS[0]))
    mine, others = 0, 0
    for t in _gallery():
        version = resolve(t.scope["version"], files=False).base
        if version not in d.versions:
            continue
        assert PROPS[t.property.name].expect(version) == VIOLATED, (t.name, "stale gallery")
        report = replay_model(_under(t, d.fix))
        if t.property.name in d.properties:
            mine += 1
            assert not report.ok, (t.name, "still violated under", d.fix)
        else:
            others += 1
            assert report.ok, (t.name, "no longer violated under", d.fix, report.lines)
    assert others and (mine or d.deeper), (d.key, mine, others)


# One version per namespace defect: the first that has it.
NAMESPACE_FIXES = [
    (d, min(d.versions, key=lambda v: list(KernelVersion).index(v))) for d in DEFECTS
]


@pytest.mark.parametrize(
    ("defect", "version"),
    [
        (d, v)
        for d, v in NAMESPACE_FIXES
        if d.properties and PROPS[d.properties[0]].group == "netns"
    ],
    ids=lambda x: getattr(x, "key", getattr(x, "value", "")),
)
def test_a_namespace_fix_is_proved(defect: object, version: KernelVersion) -> None:
    d = defect
    prop = PROPS[d.properties[0]]  # type: ignore[attr-defined]
    broken = System(Scope(version, endpoint_slots=2))
    assert bmc(broken, prop, 3, LIMITS).verdict is Verdict.VIOLATED
    fixed = System(Scope(resolve(f"{version.value}+{d.fix}"), endpoint_slots=2))  # type: ignore[arg-type,attr-defined]
    assert prop in _inductive(fixed, version)


# Upstream fixes that the model has as version deltas: the property that
# catches the defect is VIOLATED on the version before and holds after.
UPSTREAM = [
    ("8e2760eaab77 revert needs_id", "P2-id-bitmap", V.V6_19, V.V7_0),
    ("8e2760eaab77 in 6.18.y", "P2-id-bitmap", V.V6_18, V.V6_18_STABLE),
    ("1774d3cf3cf1 reset fullmesh counter", "P4F-fullmesh-counter", V.V7_0, V.V7_1),
    ("579a752464a6 signal+subflow always used (#613)", "M1-local-addr-used", V.V6_19, V.V7_0),
    ("d191101dee25 id avail on endpoint delete (#606)", "M2b-delete-gives-back", V.V6_19, V.V7_0),
]


@pytest.mark.parametrize(("commit", "name", "before", "after"), UPSTREAM, ids=lambda x: str(x))
def test_an_upstream_fix_flips_its_property(
    commit: str, name: str, before: KernelVersion, after: KernelVersion
) -> None:
    prop = PROPS[name]
    assert prop.expect(before) == "VIOLATED", commit
    assert prop.expect(after) in ("PROVED", "HOLDS-TO-DEPTH"), commit

    def system(v: KernelVersion) -> System:
        return System(checked_scope(prop, default_scope(prop, v)))

    assert bmc(system(before), prop, 4, LIMITS).verdict is Verdict.VIOLATED
    # After: no violation as deep as BMC looks here; the verdict on `after`
    # at the default depth is `check --kernel all`'s (and, for 7.1,
    # test_checker's baseline test).
    held = bmc(system(after), prop, 4, LIMITS)
    assert held.verdict is Verdict.HOLDS_TO_DEPTH, commit


def _inductive(system: System, version: KernelVersion) -> list[object]:
    """The namespace properties Houdini keeps (together they hold initially
    and are 1-inductive: each is PROVED)."""
    candidates = [p for p in PROPS.values() if p.group == "netns" and p.applies(version)]
    kept, _ = houdini(system, candidates, LIMITS)
    return list(kept)


# Kernel library helpers and field names that properties' texts mention,
# which are not functions of net/mptcp.
NOT_FUNCTIONS = {
    "find_next_zero_bit",
    "__set_bit",
    "__clear_bit",
    "list_add_rcu",
    "list_add_tail_rcu",
    "set_flags",
    "remote_id",
    "fill_local_",
}


def test_every_kernel_function_a_property_cites_is_pinned() -> None:
    import re

    fields = ("add_addr", "local_addr", "extra_subflows", "mpc_endpoint", "id_avail", "endp_")
    fields += ("next_id", "accept_addr", "id_bitmap", "needs_id", "request_bkup")
    for p in PROPS.values():
        for name in re.findall(r"\b(_*[a-z][a-z0-9]*_[a-z0-9_]+)\b", p.cites):
            if name.startswith(fields) or name in NOT_FUNCTIONS:
                continue
            assert where(name) != NOT_PINNED, (p.name, name)


def test_the_properties_page_shows_the_ledger_as_it_is() -> None:
    from pathlib import Path

    from pmcheck.ledger_view import render_ledger

    page = (Path(__file__).resolve().parents[1] / "docs" / "properties.md").read_text()
    begin = "<!-- generated by pmcheck ledger --markdown -->\n"
    shown = page.split(begin, 1)[1].split("\n<!-- end of generated block -->", 1)[0]
    assert shown == render_ledger(True), "regenerate: pmcheck ledger --markdown"
