"""Counterexamples (issue 7): one object, its renderings, minimization, the
gallery, and replay on the model and the live kernel.

Fast by design: the checker runs only on a one-slot scope; everything else
reads the checked-in gallery or hand-made traces.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmcheck.checker.scope import Scope
from pmcheck.checker.system import RuleStep
from pmcheck.cli import main
from pmcheck.counterexamples import build as build_mod
from pmcheck.counterexamples import gallery
from pmcheck.counterexamples import replay as replay_mod
from pmcheck.counterexamples.build import build_trace, note_text
from pmcheck.counterexamples.confirm import (
    replay_kernel,
    replay_model,
    scenario_of,
    steps_of,
    violates_in_default_order,
)
from pmcheck.counterexamples.minimize import minimize
from pmcheck.counterexamples.render import FORMATS, render
from pmcheck.counterexamples.replay import (
    Replayer,
    first_violation,
    is_environment,
    scope_from_data,
)
from pmcheck.counterexamples.trace import Trace, dumps, from_itf, load, loads, to_itf
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.model.rules import Ctx
from pmcheck.model.state import initial_state
from pmcheck.model.versions import KernelVersion, version_of_release
from pmcheck.properties import catalog
from pmcheck.properties.base import Property
from pmcheck.scenario.lower import Universe, lower
from pmcheck.scenario.parser import parse_text
from tests.live import require_live_kernel

GALLERY = sorted(gallery.GALLERY.glob("*.json"))
PROPS = catalog.all_properties()


# The laminar trace these rendering tests read: M8 as it was before M8 was
# restated to leave out the subflow flag's own subflow (ledger.INTENDED), so
# no longer in the gallery; kept as a fixed input.
OLD_M8 = Path(__file__).resolve().parent / "data" / "M8-laminar-used-once.6.18-stable.json"
# The documented RM_ADDR leak's trace, from when it was property X3.
OLD_X3 = OLD_M8.with_name("X3-signaled-covers-accepted.6.18-stable.json")


def _trace(name: str) -> Trace:
    return load(str(gallery.GALLERY / f"{name}.json"))


@pytest.fixture(scope="module")
def traces() -> list[Trace]:
    return [load(str(p)) for p in GALLERY]


def test_gallery_has_every_known_violation() -> None:
    want = {f"{p.name}.{v.value}" for p, v in gallery.known_violations()}
    # A trace that needs a fix its property assumes names it in its kernel
    # (`X1-backup-reflected.6.19+fix-IMPLBKUP`): a plain one was not found.
    assert {p.stem.split("+")[0] for p in GALLERY} == want
    for p in GALLERY:
        if "+" in p.stem:
            prop = catalog.all_properties()[p.stem.split(".")[0]]
            assert set(p.stem.split("+")[1:]) <= set(prop.assumes), p.stem


# --- one object, many renderings ---------------------------------------------------


def test_every_rendering_comes_from_the_object_alone(
    monkeypatch: pytest.MonkeyPatch, traces: list[Trace]
) -> None:
    """Renderers never replay or rebuild: with replay and building disabled
    they still render, and a change to the object shows in every rendering.
    Not `sh`: the reproducer runs the model for its per-step predictions
    (tested with the live kernel below)."""

    def forbidden(*_a: object, **_k: object) -> None:
        raise AssertionError("a renderer recomputed the trace")

    monkeypatch.setattr(replay_mod.Replayer, "run", forbidden)
    monkeypatch.setattr(replay_mod.Replayer, "apply", forbidden)
    monkeypatch.setattr(build_mod, "build_trace", forbidden)
    for t in traces:
        first = t.steps[0]
        marked = dataclasses.replace(
            t,
            steps=(
                dataclasses.replace(
                    first, result="MARKER-RESULT", line=first.line + "   # MARKER-LINE"
                ),
                *t.steps[1:],
            ),
        )
        for fmt in (f for f in FORMATS if f != "sh"):
            text = render(marked, fmt)
            assert "MARKER-LINE" in text, fmt
            if fmt != "scenario":
                assert "MARKER-RESULT" in text, fmt
            assert render(t, fmt) != text


def test_itf_round_trip_and_shape(traces: list[Trace]) -> None:
    for t in traces:
        doc = to_itf(t)
        assert from_itf(doc) == t
        assert loads(dumps(t)) == t
        assert doc["#meta"]["format"] == "ITF"
        assert [s["#meta"]["index"] for s in doc["states"]] == list(range(len(t.steps) + 1))
        for s in doc["states"]:
            assert set(doc["vars"]) <= set(s)
        # ITF integers: {"#bigint": "..."} (a JSON number is never an int here)
        assert doc["states"][0]["netns"]["endpoints"] == {"#bigint": "0"}


def test_scenario_rendering_parses_to_the_user_steps(traces: list[Trace]) -> None:
    for t in traces:
        scn = parse_text(render(t, "scenario"))
        assert scn.kernel == t.kernel
        assert len(scn.steps) == len(t.user_steps)
        assert len(scenario_of(t).steps) == len(t.user_steps)


def test_shell_script_parses(traces: list[Trace], tmp_path: Path) -> None:
    """`bash -n` here; the live tests run every gallery reproducer."""
    for t in traces:
        path = tmp_path / f"{t.name}.sh"
        path.write_text(render(t, "sh"))
        r = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        text = path.read_text()
        assert "trap cleanup EXIT" in text and 'ip netns del "$H"' in text
        assert "import pmcheck" not in text and "from pmcheck" not in text


def test_reproducer_runtime_uses_the_standard_library_only() -> None:
    """The text every reproducer embeds runs where pmcheck is not installed."""
    import ast
    import sys

    from pmcheck.counterexamples.reproducer import runtime_text

    nodes = list(ast.walk(ast.parse(runtime_text())))
    names = {a.name.split(".")[0] for n in nodes if isinstance(n, ast.Import) for a in n.names}
    names |= {(n.module or "").split(".")[0] for n in nodes if isinstance(n, ast.ImportFrom)}
    assert names and names <= set(sys.stdlib_module_names), names - set(sys.stdlib_module_names)


@pytest.mark.parametrize(
    "release", ["6.18.0", "6.18.10", "6.18.11", "6.18.44-fc-v1272", "6.19.2", "7.0.1", "6.12.9"]
)
def test_reproducer_reads_uname_as_pmcheck_does(release: str) -> None:
    from pmcheck.counterexamples import repro_runtime

    assert repro_runtime.model_version(release) == version_of_release(release).value


def test_reproducer_exits_2_when_it_cannot_set_up(tmp_path: Path) -> None:
    """No `ip`, no `id` on PATH: a setup failure (2), not a verdict."""
    path = tmp_path / "M8.sh"
    path.write_text(render(load(str(OLD_M8)), "sh"))
    r = subprocess.run(
        ["/bin/bash", str(path)], capture_output=True, text=True, env={"PATH": str(tmp_path)}
    )
    assert r.returncode == 2, (r.stdout, r.stderr)


# --- email text ------------------------------------------------------------------------


EMAIL_LINES = 40  # a trace of up to EMAIL_STEPS steps, header to footer
EMAIL_STEPS = 6
NUMBER = re.compile(r"(?<![\d.:])\d+(?![\d.:])")  # an address counts as one word, not four


def test_text_rendering_fits_an_email(traces: list[Trace]) -> None:
    """Plain ASCII, no tabs, <= 72 columns; up to 6 steps in <= 40 lines;
    no line lists more than 12 numbers; nothing points at documents the
    reader does not have (pmcheck's notes, F1-F11, M1-M11)."""
    for t in traces:
        text = render(t, "text")
        lines = text.splitlines()
        assert text.isascii() and "\t" not in text, t.name
        assert not [x for x in lines if len(x) > 72], t.name
        if len(t.steps) <= EMAIL_STEPS:
            assert len(lines) <= EMAIL_LINES, (t.name, len(lines))
        assert max(len(NUMBER.findall(x)) for x in lines) <= 12, t.name
        assert not re.search(r"\bnotes\b|\bF\d+\b", text), t.name
        assert lines[0] == f"{t.property.name}: VIOLATED on Linux {t.kernel}"
        assert t.pmcheck_version in text and f"sudo bash {t.name}.sh" in text


def test_text_steps_say_why_from_the_rules() -> None:
    """Each step's decisions are the notes of the rule branches that ran:
    the laminar trace shows the ANY filler choosing routing (no laminar
    endpoint yet), the two-PM trace the RM_ADDR that finds no subflow."""
    m8 = render(load(str(OLD_M8)), "text")
    assert "fill_local_address_any: routing picks the source address" in m8
    assert "mptcp_pm_get_local_id: 10.0.2.2 has no endpoint: new IMPLICIT id 1" in m8
    x3 = " ".join(render(load(str(OLD_X3)), "text").split())
    assert "fill_local_laminar_endp: 10.0.2.2 id 1 picked" in x3
    assert "no subflow uses the removed id: add_addr_accepted" in x3


def test_laminar_filler_notes_the_endpoint_it_skips() -> None:
    """A laminar endpoint whose id a live subflow holds is skipped, and the
    note says so; the next one is picked (the issue's example decision)."""
    from pmcheck.interp import run_model
    from pmcheck.model.backend import recording

    scn = parse_text(
        """
        ip mptcp limits set subflows 4 add_addr_accepted 4
        ip mptcp endpoint add 10.0.2.2 laminar
        ip mptcp endpoint add 10.0.3.2 laminar
        connect 10.0.1.2 10.0.1.1
        peer join 10.0.2.1 to 10.0.2.2 id 5
        peer announce 10.0.4.1 id 2
        """
    )
    with recording() as notes:
        run_model(scn, KernelVersion.V6_18_STABLE)
    texts = [note_text(n) for n in notes]
    assert "fill_local_laminar_endp: 10.0.2.2 id 1 skipped, its id is in use" in texts
    assert "fill_local_laminar_endp: 10.0.3.2 id 2 picked" in texts
    with recording() as none:
        run_model(scn, KernelVersion.V6_18_STABLE, backend="z3")
    assert none == []  # the symbolic reading records nothing


# --- replay --------------------------------------------------------------------------


def test_every_gallery_trace_replays_on_the_model(traces: list[Trace]) -> None:
    for t in traces:
        report = replay_model(t)
        assert report.ok, report.lines
        assert report.exact, (
            "the model changed: re-run `python -m pmcheck.counterexamples.gallery`",
            report.lines,
        )
        steps = steps_of(t)
        states = Replayer.for_scope(scope_from_data(t.scope)).run(steps).states
        assert first_violation(PROPS[t.property.name], states) == len(steps)


def test_replay_rejects_a_trace_that_does_not_violate(tmp_path: Path) -> None:
    t = _trace("P2-id-bitmap.6.18")
    step = t.steps[0]
    inputs = {**step.inputs, "addr": {**step.inputs["addr"], "has_id": False}}
    fixed = dataclasses.replace(t, steps=(dataclasses.replace(step, inputs=inputs),))
    assert not replay_model(fixed).ok
    path = tmp_path / "fixed.json"
    path.write_text(dumps(fixed))
    assert main(["replay", str(path)]) == 1


@pytest.mark.live
def test_every_gallery_trace_replays_on_the_live_kernel(traces: list[Trace]) -> None:
    """On a kernel of the trace's version the violation is confirmed. On
    another version (this machine: 6.18.44 = 6.18-stable, where both bugs are
    absent), or for a trace that needs a delivery order between two
    in-kernel PMs other than the default one a scenario settles in, the
    kernel must still agree with the model of its own version at every step:
    the trace runs, and the model says why it does not violate."""
    require_live_kernel()
    import os

    from pmcheck.diff import first_mismatch
    from pmcheck.interp import run_model
    from pmcheck.live.kernel_run import run_on_kernel

    live = version_of_release(os.uname().release)
    for t in traces:
        if t.kernel == live.value and violates_in_default_order(t):
            report = replay_kernel(t)
            assert report.ok, report.lines
        else:
            scn = scenario_of(t)
            assert first_mismatch(run_model(scn, live), run_on_kernel(scn)) is None, t.name


@pytest.mark.live
def test_every_gallery_reproducer_runs_without_pmcheck(tmp_path: Path) -> None:
    """Each checked-in `.sh` runs on this kernel in a clean environment
    (python3 -I -S: no site-packages, so no pmcheck; no PYTHON* variables)
    and exits as the model predicts for this kernel's version: 1 where the
    kernel reproduces the trace, 0 where it differs or the trace needs a
    delivery order the testbed does not produce. No namespace is left."""
    require_live_kernel()
    import os
    import shutil
    import sys

    from pmcheck.counterexamples.reproducer import NS_PREFIX, predicted_exit

    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "python3"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -I -S "$@"\n')
    wrapper.chmod(0o755)
    tools = {str(Path(shutil.which(t) or "/usr/sbin/" + t).parent) for t in ("ip", "sysctl")}
    env = {"PATH": ":".join([str(bindir), *sorted(tools), "/usr/bin", "/bin"])}
    probe = subprocess.run(["python3", "-c", "import pmcheck"], env=env, capture_output=True)
    assert probe.returncode != 0, "pmcheck must not be importable in the clean environment"
    release = os.uname().release

    def run(path: Path) -> tuple[str, int, int, str, str] | None:
        t = load(str(path.with_suffix(".json")))
        r = subprocess.run(
            ["bash", str(path)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        want = predicted_exit(t, release)
        if r.returncode == want:
            return None
        return (t.name, r.returncode, want, r.stdout[-1500:], r.stderr[-500:])

    # Four at a time: each script's namespaces carry its own pid, and most
    # of a run is waiting for PM events.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, sorted(gallery.GALLERY.glob("*.sh"))))
    failures = [f for f in results if f is not None]
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert NS_PREFIX not in left
    assert not failures, failures


# --- minimization ----------------------------------------------------------------------


def _pad_strategy(scope: Scope) -> st.SearchStrategy[list[RuleStep]]:
    steps = [RuleStep(rule, i) for rule in scope.rules() for i in scope.inputs(rule)]
    return st.lists(st.sampled_from(steps), max_size=4)


def _pick(scope: Scope, rule: str, **want: object) -> RuleStep:
    """The first input of `rule` in the scope's domain with these fields."""
    for i in scope.inputs(rule):
        fields = {**i.addr._asdict(), **i.limits._asdict()}
        if all(fields[k] == v for k, v in want.items()):
            return RuleStep(rule, i)
    raise LookupError(rule, want)


@pytest.mark.parametrize("name", ["P2-id-bitmap.6.18", "P4F-fullmesh-counter.6.19"])
def test_minimizer_drops_padding(name: str) -> None:
    """Irrelevant steps before and between the violating ones (another
    endpoint, a flag change on it, a limit) go; the gallery trace, already
    minimal, comes back."""
    t = _trace(name)
    scope = Scope(KernelVersion(t.kernel), endpoint_slots=2)
    core = steps_of(t)
    other = _pick(scope, "endpoint add", family=2, addr=2, has_id=False, port=0, flags=2)
    change = _pick(scope, "endpoint change", family=0, id=1, port=0, flags=4)
    limit = _pick(scope, "limits set", has_subflows=True, subflows=8, has_add_addr_accepted=False)
    padded = [limit, other, change, core[0], limit, *core[1:]][
        : 4 + len(core) - 1 + (len(core) > 1)
    ]
    prop = PROPS[t.property.name]
    replayer = Replayer.for_scope(scope)
    assert first_violation(prop, replayer.run(padded).states) == len(padded)
    out = minimize(padded, prop, replayer, scope)
    assert out == core, [s.rule for s in out]


@pytest.mark.parametrize("name", ["P2-id-bitmap.6.18", "P4F-fullmesh-counter.6.19"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_minimizer_never_worse(name: str, data: st.DataObject) -> None:
    """Random padding before and after a violating trace: the minimized trace
    still violates on the concrete model and is never longer."""
    t = _trace(name)
    scope = Scope(KernelVersion(t.kernel), endpoint_slots=2)
    prop = PROPS[t.property.name]
    replayer = Replayer.for_scope(scope)
    padded = data.draw(_pad_strategy(scope)) + steps_of(t)
    states = replayer.run(padded).states
    bad = first_violation(prop, states)
    if bad is None or not replayer.in_scope(states[: bad + 1], padded[:bad]):  # not a path
        with pytest.raises(ValueError):
            minimize(padded, prop, replayer, scope)
        return
    padded = padded[:bad]
    out = minimize(padded, prop, replayer, scope)
    assert len(out) <= len(padded)
    assert first_violation(prop, replayer.run(out).states) == len(out)
    assert replayer.in_scope(replayer.run(out).states, out)


def test_minimized_gallery_is_a_fixpoint(traces: list[Trace]) -> None:
    for t in traces:
        scope = scope_from_data(t.scope)
        steps = steps_of(t)
        assert minimize(steps, PROPS[t.property.name], Replayer.for_scope(scope), scope) == steps


def _connection_trace(text: str) -> tuple[Replayer, list[RuleStep]]:
    """A connection-scope replayer (testbed topology, one connection slot)
    and the user steps of a scenario, lowered as the interpreter does."""
    scn = parse_text(text)
    u = Universe.of(scn)
    system = SimpleNamespace(
        concrete_ctx=Ctx(CONCRETE, KernelVersion.V6_18_STABLE, u.topology()),
        template=initial_state(conns=1),
    )
    return Replayer(system), [RuleStep(*lower(s.command, u)) for s in scn.steps]  # type: ignore[arg-type]


NO_EXTRA_SUBFLOW = Property(
    name="T-no-extra-subflow",
    statement="conn1 never gets an extra subflow (test only)",
    cites="-",
    holds=lambda ops, s: ops.eq(s.conns[0].extra_subflows, ops.const(0, 8)),
    premise=lambda ops, s: ops.true(),
)


def test_minimizer_rederives_environment_steps() -> None:
    """Connection scope (eager environment): the user's steps are the units;
    the world's steps are re-derived by settling after each, and the trace
    ends where the property first fails."""
    replayer, user = _connection_trace("""
        ip mptcp limits set subflows 2
        ip mptcp endpoint add 10.0.3.2 signal
        ip mptcp endpoint add 10.0.2.2 subflow
        ip mptcp endpoint change id 1 backup
        connect 10.0.1.2 10.0.1.1
        peer announce 10.0.4.1 id 3
    """)
    full = replayer.settle(user)
    assert any(is_environment(s) for s in full)
    bad = first_violation(NO_EXTRA_SUBFLOW, replayer.run(full).states)
    assert bad is not None
    out = minimize(full[:bad], NO_EXTRA_SUBFLOW, replayer)
    kept = [s.rule for s in out if not is_environment(s)]
    assert kept == ["endpoint add", "connect"]
    assert out == replayer.settle([s for s in out if not is_environment(s)])[: len(out)]
    assert first_violation(NO_EXTRA_SUBFLOW, replayer.run(out).states) == len(out)
    assert len(out) <= bad
    # and it renders, within 72 columns, with the world's steps as comments
    trace = build_trace(out, Scope(KernelVersion.V6_18_STABLE), NO_EXTRA_SUBFLOW, replayer=replayer)
    text = render(trace, "text")
    assert "(worker conn 1)" in text
    assert "conn1" in text and all(len(x) <= 72 for x in text.splitlines())
    from pmcheck.checker.lines import step_text

    if not step_text(
        out[-1] if out[-1].rule == "connect" else next(s for s in out if s.rule == "connect")
    ).startswith("#"):
        # once the checker writes event lines, the scenario carries them
        assert len(parse_text(render(trace, "scenario")).steps) == 2


# --- the gallery and the CLI --------------------------------------------------------------


def test_gallery_renderings_have_not_drifted() -> None:
    problems = gallery.drift()
    assert not problems, ("re-run `python -m pmcheck.counterexamples.gallery`", problems)


@pytest.mark.parametrize("fmt", FORMATS)
def test_show_prints_each_format(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = GALLERY[0]
    assert main(["show", str(path), "--format", fmt]) == 0
    assert capsys.readouterr().out == render(load(str(path)), fmt)


def test_replay_confirms_on_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(GALLERY[0])]) == 0
    assert "reproduced" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content",
    ["", "not json", '{"#meta": {}}', "[1, 2]", '{"#meta": {"pmcheck": {"schema": "x"}}}'],
)
def test_bad_trace_files_are_input_errors(
    content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.json"
    path.write_text(content)
    for argv in (["show", str(path)], ["replay", str(path)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err and "error" in err


def test_missing_file_and_unknown_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "/nonexistent/t.json"]) == 2
    assert main(["show", str(GALLERY[0]), "--format", "pdf"]) == 2
    assert main(["check", "P2", "--trace-format", "pdf"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err


def test_check_writes_minimized_traces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A one-slot scope: P2 on 6.18 is violated in one step."""
    code = main(
        [
            "check",
            "P2",
            "--kernel",
            "6.18",
            "--engine",
            "bmc",
            "--slots",
            "1",
            "--depth",
            "1",
            "--trace-format",
            "json,text",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["P2-id-bitmap.6.18.json", "P2-id-bitmap.6.18.txt"]
    t = load(str(tmp_path / "P2-id-bitmap.6.18.json"))
    assert t.scope["endpoint_slots"] == 1 and replay_model(t).ok
    assert (tmp_path / "P2-id-bitmap.6.18.txt").read_text() == render(t, "text")
    capsys.readouterr()


def test_every_gallery_file_names_its_generator() -> None:
    """Each generated file says how to remake it (at the top, or in ITF's
    #meta); the drift test above checks the rest of its content."""
    for path in sorted(gallery.GALLERY.iterdir()):
        text = path.read_text(encoding="utf-8")
        head = "\n".join(text.splitlines()[:2])
        if path.suffix == ".json":
            assert json.loads(text)["#meta"]["generated_by"] == gallery.GENERATOR, path.name
        else:
            assert gallery.GENERATOR in head, path.name


def test_id_sets_read_as_ranges() -> None:
    """A fresh connection's id_avail is all 256 ids: one range, not 256
    numbers broken across lines."""
    from pmcheck.counterexamples.names import field_text, id_set_text

    assert id_set_text(0) == "{}"
    assert id_set_text((1 << 256) - 1) == "{0-255}"
    assert id_set_text(((1 << 256) - 1) & ~2) == "{0,2-255}"
    assert id_set_text(0b1011) == "{0,1,3}"
    assert field_text("id_avail", (1 << 256) - 1) == "{0-255}"


def test_hidden_fields_are_folded() -> None:
    from pmcheck.counterexamples.names import field_groups

    paths = ("conn1.sf[0].kind", "conn1.sf[1].kind", "conn1.sf[0].twin", "conn1.used")
    assert field_groups(paths) == ["conn1.sf[*].{kind, twin}", "conn1.used"]


# --- mptcp_join.sh form --------------------------------------------------------------


def _selftest(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(["selftest", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_selftest_prints_a_join_test_function(capsys: pytest.CaptureFixture[str]) -> None:
    """The M8 trace as an mptcp_join.sh function: the host is ns2, the
    scripted peer a userspace PM on ns1, counts as the model predicts; it
    parses as bash and calls only helpers the 6.18 selftest defines."""
    from pmcheck.counterexamples.selftest import HELPERS

    rc, out, _ = _selftest([str(OLD_M8)], capsys)
    assert rc == 0
    for line in (
        "set_userspace_pm $ns1",
        "pm_nl_set_limits $ns2 1 2",
        "userspace_pm_add_addr $ns1 10.0.2.1 1",
        "pm_nl_add_endpoint $ns2 10.0.2.2 flags subflow,laminar",
        "chk_join_nr 2 2 2",
        "chk_mptcp_info subflows 2 subflows 2",
        "chk_mptcp_info add_addr_signal 1 add_addr_accepted 1",
        'pm_nl_check_endpoint "endpoint id 1" $ns2 10.0.2.2 id 1 flags subflow,laminar',
    ):
        assert line in out, line
    assert subprocess.run(["bash", "-n"], input=out, text=True).returncode == 0
    body = out.split("{\n", 1)[1]
    called = {
        w.split()[0]
        for w in body.splitlines()
        if w.strip() and not w.strip().startswith(("#", "{", "}", "local", "fi", "if", "run_tests"))
        for w in [w.strip()]
    }
    called |= {"reset_with_events", "run_tests"}
    assert called <= HELPERS | {"ip"}, called - HELPERS


def test_selftest_marks_the_buggy_expectation(capsys: pytest.CaptureFixture[str]) -> None:
    """M3's subflows count is what the violated condition reads: marked as
    the current (buggy) behaviour, with the intended condition; the join
    from the server has no helper and the function says it is incomplete."""
    path = gallery.GALLERY / "M3-extra-subflows-limit.6.18-stable.json"
    rc, out, _ = _selftest([str(path)], capsys)
    assert rc == 0
    marked = [x for x in out.splitlines() if "current (buggy)" in x and "chk_" in x]
    assert marked and "chk_mptcp_info subflows 2 subflows 2" in marked[0]
    assert "intended: extra_subflows <= the subflows limit" in marked[0]
    assert "INCOMPLETE: 1 step(s)" in out and "# not expressible" in out


def test_selftest_reads_scenarios_and_refuses_bad_input(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scn = tmp_path / "mix.scn"
    scn.write_text(
        "ip mptcp limits set subflows 2 add_addr_accepted 2\n"
        "ip mptcp endpoint add 10.0.2.2 laminar\n"
        "connect 10.0.1.2 10.0.1.1\n"
    )
    rc, out, _ = _selftest([str(scn), "--kernel", "6.19"], capsys)
    assert rc == 0 and "the model of Linux 6.19" in out and "pm_nl_set_limits $ns2 2 2" in out
    bad = tmp_path / "bad.json"
    bad.write_text('{"#meta": {}}')
    assert _selftest([str(bad)], capsys)[0] == 2
    assert _selftest([str(tmp_path / "missing.json")], capsys)[0] == 2
    (tmp_path / "typo.scn").write_text("ip mptcp endpoint add 10.0.2.2 lamnar\n")
    rc, _, err = _selftest([str(tmp_path / "typo.scn")], capsys)
    assert rc == 2 and "typo.scn:1" in err
