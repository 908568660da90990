"""The checker: verdicts on the real model, mutants, trigger witnesses,
agreement with the explicit-state oracle, and honest UNKNOWNs.

Scopes are small so the suite stays fast; `pmcheck check` and
benchmarks/bench_checker.py run the bigger ones.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from pmcheck.checker.engines import SolverLimits, bmc, houdini, pdr, premise_path
from pmcheck.checker.oracle import explore
from pmcheck.checker.run import Options, check, exit_code
from pmcheck.checker.scope import ADDRS, Scope, default_scope
from pmcheck.checker.system import System
from pmcheck.checker.verdict import Verdict
from pmcheck.cli import main
from pmcheck.model import endpoint_table, pernet
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.model.constants import (
    FLAG_FULLMESH,
    FLAG_IMPLICIT,
    FLAG_SIGNAL,
)
from pmcheck.model.rules import RULES, Rule
from pmcheck.model.versions import KernelVersion
from pmcheck.properties.base import REGISTRY, VIOLATED
from pmcheck.properties.netns import NETNS_PROPERTIES, P1, P2, P3, P4, P4F, P5, P6, P7

LIMITS = SolverLimits(timeout_s=120)
TINY = dict(
    endpoint_slots=2,
    ids=(255,),
    limit_values=(9,),
    flag_sets=(0, FLAG_SIGNAL, FLAG_FULLMESH, FLAG_SIGNAL | FLAG_FULLMESH, FLAG_IMPLICIT),
    addrs=tuple(tuple(d.items()) for d in ADDRS[:2]),
)


def props_for(version: KernelVersion) -> list:
    return [p for p in NETNS_PROPERTIES if version in p.versions]


# 7.0's namespace traits are 6.19's plus the needs_id revert: its P2 and P4F
# verdicts are checked in tests/test_ledger.py (upstream flips), and
# `pmcheck check --kernel all` runs it whole.
PER_VERSION = [v for v in KernelVersion if v is not KernelVersion.V7_0]


@pytest.mark.parametrize("version", PER_VERSION, ids=lambda v: v.value)
def test_real_model_meets_every_baseline(version: KernelVersion) -> None:
    scope = Scope(version, endpoint_slots=2)
    results = check(props_for(version), scope, Options(limits=LIMITS, witnesses=False))
    verdicts = {r.prop: r.verdict for r in results}
    for p in props_for(version):
        want = Verdict.VIOLATED if p.expect(version) == VIOLATED else Verdict.PROVED
        assert verdicts[p.name] is want, (p.name, results)
    assert exit_code(REGISTRY, results, scope, "auto") == 0


def test_known_violations_are_shortest_and_replay() -> None:
    system = System(Scope(KernelVersion.V6_19, endpoint_slots=2))
    p2 = bmc(system, P2, 4, LIMITS)
    assert (p2.verdict, p2.depth) == (Verdict.VIOLATED, 1)  # add with an explicit id 0
    fm = bmc(system, P4F, 4, LIMITS)
    assert (fm.verdict, fm.depth) == (Verdict.VIOLATED, 2)  # fullmesh add, then flush
    assert [s.rule for s in fm.trace] == ["endpoint add", "endpoint flush"]
    for r in (p2, fm):
        final = system.replay(list(r.trace))[-1]
        assert not REGISTRY[r.prop].holds(CONCRETE, final)


# --- mutants: each property fails on a deliberately broken rule --------------


def _wrap(monkeypatch: Any, name: str, mutate: Any) -> None:
    rule = RULES[name]

    def broken(k, st, inp):  # type: ignore[no-untyped-def]
        post, out = rule.fn(k, st, inp)
        return mutate(k.ops, st, inp, post, out), out

    monkeypatch.setitem(
        RULES, name, Rule(rule.name, rule.kernel_function, broken, rule.writes, rule.reads_inputs)
    )


def _netns(post: Any, **fields: Any) -> Any:
    return post._replace(netns=post.netns._replace(**fields))


MUTANTS = {
    # delete forgets endpoints--
    P1.name: lambda mp: _wrap(
        mp,
        "endpoint delete",
        lambda o, st, i, post, out: _netns(post, endpoints=st.netns.endpoints),
    ),
    # delete forgets to clear the id bit
    P2.name: lambda mp: _wrap(
        mp,
        "endpoint delete",
        lambda o, st, i, post, out: _netns(post, id_bitmap=st.netns.id_bitmap),
    ),
    # the duplicate scan never matches
    P3.name: lambda mp: mp.setattr(pernet, "mptcp_addresses_equal", lambda ops, *a: ops.false()),
    # delete forgets endp_signal_max--
    P4.name: lambda mp: _wrap(
        mp,
        "endpoint delete",
        lambda o, st, i, post, out: _netns(post, endp_signal_max=st.netns.endp_signal_max),
    ),
    # a port is allowed whatever the flags
    P5.name: lambda mp: [
        mp.setattr(mod, "address_use_port", lambda ops, flags: ops.true())
        for mod in (endpoint_table, pernet)
    ],
    # set-limits writes even a refused value
    P6.name: lambda mp: _wrap(
        mp,
        "limits set",
        lambda o, st, i, post, out: _netns(
            post,
            limit_extra_subflows=o.ite(
                i.limits.has_subflows,
                o.trunc(i.limits.subflows, 32, 8),
                post.netns.limit_extra_subflows,
            ),
        ),
    ),
    # add marks every entry implicit
    P7.name: lambda mp: _wrap(
        mp,
        "endpoint add",
        lambda o, st, i, post, out: _netns(
            post,
            endp=tuple(
                e._replace(flags=o.bor(e.flags, o.const(FLAG_IMPLICIT, 8))) for e in post.netns.endp
            ),
        ),
    ),
    # set-flags forgets the fullmesh counter (6.19)
    P4F.name: lambda mp: _wrap(
        mp,
        "endpoint change",
        lambda o, st, i, post, out: _netns(post, endp_fullmesh_max=st.netns.endp_fullmesh_max),
    ),
}


@pytest.mark.parametrize("prop", NETNS_PROPERTIES, ids=lambda p: p.name)
def test_property_is_violated_on_a_mutant(prop: Any, monkeypatch: Any) -> None:
    MUTANTS[prop.name](monkeypatch)
    version = KernelVersion.V6_19 if prop is P4F else KernelVersion.V6_18_STABLE
    system = System(Scope(version, endpoint_slots=2))
    result = bmc(system, prop, 4, LIMITS)
    assert result.verdict is Verdict.VIOLATED, result
    assert not prop.holds(CONCRETE, system.replay(list(result.trace))[-1])


# --- trigger witnesses: no vacuous pass ----------------------------------------


@pytest.mark.parametrize("prop", [p for p in NETNS_PROPERTIES if p is not P7], ids=lambda p: p.name)
def test_premise_is_reachable(prop: Any) -> None:
    version = KernelVersion.V6_19 if prop is P4F else KernelVersion.V6_18_STABLE
    system = System(Scope(version, endpoint_slots=2))
    path = premise_path(system, prop, 4, LIMITS)
    assert path is not None, f"{prop.name}: premise not reachable within 4 steps"
    assert prop.premise(CONCRETE, system.replay(list(path))[-1])


def test_implicit_entries_premise_is_reachable_in_its_scope() -> None:
    """P7's premise needs a connection (a passive join or an ANY-filler
    subflow from an address without an endpoint creates an IMPLICIT one):
    its default scope is the connection scope, where a witness exists."""
    scope = default_scope(P7, KernelVersion.V6_18_STABLE)
    assert scope.connections
    system = System(scope)
    path = premise_path(system, P7, 6, LIMITS)
    assert path is not None
    assert P7.premise(CONCRETE, system.replay(list(path))[-1])


def test_a_proof_without_a_trigger_witness_is_not_a_pass() -> None:
    """In the namespace scope no implicit endpoint can exist: P7 holds there
    vacuously, so the checker says UNKNOWN (exit 3), not PROVED."""
    scope = Scope(KernelVersion.V6_18_STABLE, endpoint_slots=2)
    [r] = check([P7], scope, Options(engine="auto", depth=4, k_max=4, limits=LIMITS))
    assert r.verdict is Verdict.UNKNOWN and r.reason.startswith("vacuous"), r
    assert exit_code({P7.name: P7}, [r], scope, "auto") == 3
    unreachable = dataclasses.replace(P7, premise_unreachable="no connections in this scope")
    [r2] = check([unreachable], scope, Options(engine="auto", depth=4, k_max=4, limits=LIMITS))
    assert r2.verdict is Verdict.PROVED  # stated and justified: allowed


# --- engines against the explicit-state oracle -----------------------------------


@pytest.mark.parametrize("version", PER_VERSION, ids=lambda v: v.value)
def test_engines_agree_with_the_oracle(version: KernelVersion) -> None:
    scope = Scope(version, **TINY)
    system = System(scope)
    props = props_for(version)
    # Bounded: on 6.19 the fullmesh counter that flush forgets grows without
    # bound, so the full state space is 256 times larger.
    oracle = explore(scope, props, max_depth=3)
    inductive, _ = houdini(system, props, LIMITS)
    for p in props:
        o = oracle[p.name]
        b = bmc(system, p, 3, LIMITS)
        if o.violated_at is not None:
            assert b.verdict is Verdict.VIOLATED and b.depth == o.violated_at, (p.name, b)
            assert p not in inductive
        else:
            assert b.verdict is Verdict.HOLDS_TO_DEPTH, (p.name, b)


def test_pdr_proves_what_the_oracle_says_holds() -> None:
    scope = Scope(KernelVersion.V6_18_STABLE, **TINY)
    system = System(scope)
    oracle = explore(scope, [P6])
    assert oracle[P6.name].complete
    r = pdr(system, P6, SolverLimits(timeout_s=120))
    assert oracle[P6.name].violated_at is None
    # PDR proves it in about 10 s here; an UNKNOWN would be a regression,
    # not an acceptable answer (the oracle says it holds).
    assert r.verdict is Verdict.PROVED, r
    assert r.certificate  # re-checked before it was reported


# --- CLI and exit codes --------------------------------------------------------------


def test_forced_resource_limit_is_unknown_and_exit_3(capsys: Any) -> None:
    code = main(["check", "P2", "--kernel", "6.18-stable", "--slots", "2", "--rlimit", "1"])
    out = capsys.readouterr().out
    assert code == 3, out
    assert "UNKNOWN" in out


def test_check_json_and_exit_0(capsys: Any) -> None:
    code = main(["check", "P2", "P4F", "--kernel", "6.19", "--slots", "2", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["exit_code"] == 0
    assert {r["property"]: r["verdict"] for r in data["results"]} == {
        "P2-id-bitmap": "VIOLATED",
        "P4F-fullmesh-counter": "VIOLATED",
    }
    trace = data["results"][1]["trace"]  # shortest, not yet minimal in values (issue 7)
    assert len(trace) == 2 and "fullmesh" in trace[0] and trace[1] == "ip mptcp endpoint flush"


def test_check_rejects_bad_arguments(capsys: Any) -> None:
    assert main(["check", "P99"]) == 2
    assert "unknown property P99" in capsys.readouterr().err
    assert main(["check", "--slots", "9"]) == 2


# --- versions --property: where the versions split ----------------------------------


def test_versions_property_shows_the_separating_trace(capsys: Any) -> None:
    from pmcheck.checker.version_split import split

    result = split(P2, 2, LIMITS)
    verdicts = {v: r.verdict for v, r in result.results.items()}
    has_needs_id = {KernelVersion.V6_18, KernelVersion.V6_19}  # reverted by 8e2760eaab77
    assert verdicts == {
        v: Verdict.VIOLATED if v in has_needs_id else Verdict.HOLDS_TO_DEPTH for v in KernelVersion
    }
    # the explicit-id-0 add violates on 6.18 and 6.19, not after the revert
    for row in result.replays.values():
        assert row == {v: v in has_needs_id for v in KernelVersion}
    assert result.differ
    assert main(["versions", "--property", "P2", "--depth", "2", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["traces"]["6.18"]["violates_on"] == {
        "6.18": True,
        "6.18-stable": False,
        "6.19": True,
        "7.0": False,
        "7.1": False,
    }


def test_versions_property_agrees_and_rejects_bad_input(capsys: Any) -> None:
    assert main(["versions", "--property", "P6", "--depth", "1"]) == 0
    assert "agree" in capsys.readouterr().out
    assert main(["versions", "--property", "NOPE"]) == 2
    assert main(["versions"]) == 2
    assert "needs a scenario" in capsys.readouterr().err


def test_p7_strengthens_the_namespace_proofs_as_a_lemma() -> None:
    """P7 is reported in the connection scope, but P4's inductive proof in
    the namespace scope needs it: it is offered to Houdini there as a lemma
    (Property.lemma_in), named in the certificate, not reported."""
    scope = Scope(KernelVersion.V6_18_STABLE, endpoint_slots=2)
    props = [p for p in NETNS_PROPERTIES if p is not P7 and p is not P4F]
    results = check(props, scope, Options(limits=LIMITS, witnesses=False))
    assert P7.name not in {r.prop for r in results}
    p4 = next(r for r in results if r.prop == P4.name)
    assert p4.verdict is Verdict.PROVED and P7.name in p4.certificate, p4


def test_progress_lines_say_property_engine_depth(capsys: Any) -> None:
    """`--progress` (CI logs, pipes): plain lines on stderr, one per step;
    without it and without a terminal, stderr stays empty."""
    assert main(["check", "P6", "--kernel", "6.19", "--slots", "1", "--progress"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert any("6.19 netns: P6-limits-and-next-id: witness depth 0" in x for x in err), err
    assert all(x.startswith("[") and "\x1b" not in x for x in err), err
    assert main(["check", "P6", "--kernel", "6.19", "--slots", "1"]) == 0
    assert capsys.readouterr().err == ""


# --- Bitwuzla where Z3 gives up ----------------------------------------------------


def test_from_four_slots_auto_asks_bitwuzla_before_houdini(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where Z3's Houdini is measured to give up (4 and 8 endpoint slots),
    `auto` asks Bitwuzla first and reports its proof as such; below that,
    and when Bitwuzla does not prove, Houdini runs as before. (The real
    8-slot proof takes about a minute: benchmarks/bench_engines.py and
    docs/checker.md.)"""
    from pmcheck.checker import bitwuzla_engine, run

    asked: list[int] = []

    def fake(system, candidates, limits):  # type: ignore[no-untyped-def]
        asked.append(system.scope.endpoint_slots)
        return True, "Bitwuzla (stub)"

    monkeypatch.setattr(bitwuzla_engine, "prove_together", fake)
    monkeypatch.setattr(bitwuzla_engine, "available", lambda: True)
    version = KernelVersion.V6_18_STABLE
    props = [p for p in NETNS_PROPERTIES if p.applies(version) and p.scope_kind == "netns"]
    opts = Options(engine="auto", depth=2, witnesses=False)
    four = check(props[:2], Scope(version, endpoint_slots=4), opts)
    assert asked == [4] and {(r.verdict, r.engine) for r in four} == {(Verdict.PROVED, "bitwuzla")}
    two = check(props[:2], Scope(version, endpoint_slots=2), opts)
    assert asked == [4] and {r.engine for r in two} == {"kind"}
    monkeypatch.setattr(bitwuzla_engine, "prove_together", lambda *a: (False, "stub: sat"))
    assert (
        run._bitwuzla_first(
            System(Scope(version, endpoint_slots=4)), Scope(version, endpoint_slots=4), props, opts
        )
        is None
    )


def test_bitwuzla_proves_the_namespace_properties_when_z3_gives_up() -> None:
    """Z3 starved (a tiny rlimit) gives up on every Houdini query; `auto`
    then hands the namespace scope to Bitwuzla, whose proof counts only
    after its per-property re-check (pmcheck.checker.bitwuzla_engine)."""
    version = KernelVersion.V6_18_STABLE
    props = [p for p in NETNS_PROPERTIES if p.applies(version) and p.scope_kind == "netns"]
    starved = SolverLimits(rlimit=2000, timeout_s=60)
    opts = Options(engine="auto", depth=3, limits=starved, witnesses=False)
    results = check(props, Scope(version, endpoint_slots=2), opts)
    assert {(r.verdict, r.engine) for r in results} == {(Verdict.PROVED, "bitwuzla")}, results
    # A broken property is not proved that way: P2 on 6.18 is violated.
    old = [p for p in NETNS_PROPERTIES if p.applies(KernelVersion.V6_18)]
    broken = check(old, Scope(KernelVersion.V6_18, endpoint_slots=2), opts)
    assert not any(r.engine == "bitwuzla" for r in broken if r.prop == "P2-id-bitmap")


def test_a_wide_connection_scope_proves_its_proved_group_with_bitwuzla() -> None:
    """From 4 endpoint slots the connection scope's jointly proved group
    (P7, L1) goes to Bitwuzla first (Z3's re-check of Houdini's certificate
    gives up at 8); a group with any other baseline does not."""
    from pmcheck.checker.run import _bitwuzla_first
    from pmcheck.checker.scope import connection_scope
    from pmcheck.properties import catalog

    version = KernelVersion.V6_18_STABLE
    registry = catalog.all_properties()
    group = [registry["P7-implicit-entries"], registry["L1-same-family-subflows"]]
    scope = connection_scope(version, endpoint_slots=4)
    opts = Options(engine="auto", depth=3, witnesses=False)
    results = check(group, scope, opts)
    assert {(r.verdict, r.engine) for r in results} == {(Verdict.PROVED, "bitwuzla")}, results
    violated = [registry["M5-accept-addr-gate"]]
    assert _bitwuzla_first(System(scope), scope, violated, opts) is None


def test_the_pair_goes_to_bitwuzla_from_two_slots_a_side(monkeypatch: pytest.MonkeyPatch) -> None:
    """Measured (bench: two-PM, 2 addresses and slots a side): Houdini
    159 s, Bitwuzla 23 s; at 1 slot Houdini stays."""
    from pmcheck.checker import bitwuzla_engine
    from pmcheck.checker.run import _bitwuzla_first
    from pmcheck.checker.scope import two_pm_proof_variant, two_pm_scope
    from pmcheck.properties import catalog

    asked: list[int] = []

    def fake(system, candidates, limits):  # type: ignore[no-untyped-def]
        asked.append(system.scope.endpoint_slots)
        return True, "Bitwuzla (stub)"

    monkeypatch.setattr(bitwuzla_engine, "prove_together", fake)
    registry = catalog.all_properties()
    pair = [registry["X2-joins-accepted"], registry["X4-ids-agree"]]
    opts = Options(engine="auto", depth=2, witnesses=False)
    small = two_pm_scope(KernelVersion.V6_18_STABLE)
    assert _bitwuzla_first(System(small), small, pair, opts) is None
    wide = two_pm_proof_variant(small)
    got = _bitwuzla_first(System(wide), wide, pair, opts)
    assert asked == [2] and got is not None
    assert {(r.verdict, r.engine) for r in got.values()} == {(Verdict.PROVED, "bitwuzla")}
