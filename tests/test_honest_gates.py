"""Input that must not smuggle steps or mean "no limit": each case of the
honest-gates issue, through the CLI (exit 2 with the place and the
problem, never exit 4 or a traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pmcheck.cli import build_parser, main
from pmcheck.scenario.errors import ScenarioError
from pmcheck.scenario.json_form import from_json_text
from pmcheck.scenario.parser import parse_text


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(argv)
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "-inf", "abc"])
@pytest.mark.parametrize("command", [["check", "P1"], ["ask", "x.ask"]])
def test_a_timeout_is_a_finite_positive_number(
    command: list[str], value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, err = _run([*command, "--timeout", value], capsys)
    assert rc == 2, err
    assert "--timeout" in err and "internal error" not in err


@pytest.mark.parametrize("value", ["0", "-1", "1.5"])
def test_an_rlimit_is_a_positive_integer(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = _run(["check", "P1", "--rlimit", value], capsys)
    assert rc == 2 and "internal error" not in err


def test_a_tiny_timeout_is_the_smallest_real_one_not_none() -> None:
    args = build_parser().parse_args(["check", "P1", "--timeout", "0.0004"])
    assert args.timeout == 0.001  # 1 ms: Z3 would read 0 ms as "no timeout"


def _doc(**step: object) -> str:
    base = {"op": "endpoint add", "addr": "10.0.2.2"}
    return json.dumps({"format": "pmcheck-scenario", "version": 1, "steps": [{**base, **step}]})


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        (_doc(flags=["subflow\nip mptcp endpoint flush"]), "control characters"),
        (_doc(flags=["subflow", "#", "bogus"]), '"flags" must be a list of flag names'),
        (_doc(flags=["dev", "x0"]), '"flags" must be a list of flag names'),
        (_doc(flags=["id", "7", "dev", "x0"]), '"flags" must be a list of flag names'),
        (_doc(id="5"), '"id" must be an integer'),
        (_doc(port=True), '"port" must be an integer'),
        (_doc(dev=5), '"dev" must be a single word'),
        (
            json.dumps(
                {
                    "format": "pmcheck-scenario",
                    "version": 1,
                    "kernel": "6.18\nip mptcp endpoint add 10.0.9.9",
                    "steps": [],
                }
            ),
            "control characters",
        ),
        (
            json.dumps({"format": "pmcheck-scenario", "version": 1, "steps": [], "extra": 1}),
            "unknown key(s) ['extra']",
        ),
        ('{"format": "pmcheck-scenario", "version": 1, "steps": ' + "[" * 100_000, "invalid JSON"),
    ],
)
def test_the_json_form_cannot_smuggle_steps(doc: str, needle: str) -> None:
    with pytest.raises(ScenarioError) as err:
        from_json_text(doc, "s.json")
    assert needle in str(err.value), str(err.value)


def test_a_byte_order_mark_and_odd_line_breaks_keep_line_numbers() -> None:
    scn = parse_text("\ufeffip mptcp endpoint add 10.0.2.2 subflow\n", "bom.scn")
    assert len(scn.steps) == 1
    text = (
        "# a form feed \x0c, a NEL \x85 and U+2028 \u2028 in a comment\nip mptcp endpoint lamnar\n"
    )
    with pytest.raises(ScenarioError) as err:
        parse_text(text, "odd.scn")
    assert err.value.loc.line == 2


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("ip mptcp endpoint add 10.0.2.2 id " + "9" * 5000, "out of range 1..255"),
        ("ip mptcp endpoint add 10.0.2.2 dev ..", "bad interface name"),
        ("ip mptcp endpoint add 10.0.2.2 dev eth0:1", "bad interface name"),
        ("connect 10.9.9.9 10.0.1.1", "not a host address of the testbed"),
        ("connect 10.0.1.2 192.168.7.7", "not a peer address of the testbed"),
    ],
)
def test_bad_values_are_input_errors_with_their_line(
    text: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.scn"
    path.write_text(text + "\n")
    rc, err = _run(["simulate", str(path)], capsys)
    assert rc == 2 and "bad.scn:1" in err and needle in err, err


def test_a_testbed_address_added_with_host_addr_may_be_connected_from() -> None:
    scn = parse_text("host addr 10.9.9.9\nconnect 10.9.9.9 10.0.1.1\n", "ok.scn")
    assert len(scn.steps) == 1


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    path = tmp_path / "long.scn"
    path.write_text("ip mptcp endpoint show\n" * 300)
    r = subprocess.run(
        f"{sys.executable} -c 'import sys; from pmcheck.cli import main; "
        f"sys.exit(main())' simulate {path} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        executable="/bin/bash",
    )
    assert r.stdout.startswith("model") and r.stderr == "", r.stderr


def test_out_is_checked_before_the_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    taken = tmp_path / "file"
    taken.write_text("")
    rc, err = _run(["check", "M8", "--out", str(taken)], capsys)
    assert rc == 2 and "not a directory" in err


def test_replay_refuses_a_kernel_it_has_no_model_of(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pmcheck.counterexamples import gallery

    doc = json.loads((gallery.GALLERY / "P2-id-bitmap.6.18.json").read_text())
    doc["#meta"]["pmcheck"]["kernel"] = "9.99"
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(doc))
    rc, err = _run(["replay", str(path)], capsys)
    assert rc == 2 and "unknown kernel '9.99'" in err


@pytest.mark.live
def test_namespaces_of_a_dead_run_are_swept() -> None:
    """A SIGKILLed run cannot remove its pmck-PID-* namespaces; the next run
    (or `pmcheck cleanup`) does, and leaves those of live processes alone."""
    from tests.live import require_live_kernel

    require_live_kernel()
    from pmcheck.live.netns import create_netns, new_netns_name, remove_netns, sweep_stale_netns

    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = create_netns(f"pmck-{gone.pid}-5ca1ab1e")
    ours = create_netns(new_netns_name())
    try:
        removed = sweep_stale_netns()
        assert stale in removed and ours not in removed
    finally:
        remove_netns(stale)
        remove_netns(ours)


def test_every_verdict_line_names_its_scope_and_a_partial_scope_is_said(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A PROVED for 2 endpoint slots is not a PROVED for the kernel's 8: the
    verdict row names its scope, and the run says which verdicts hold only
    inside it."""
    assert main(["check", "P1", "P3", "--slots", "2"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("P1-") or line.startswith("P3-")]
    assert len(rows) == 2 and all("netns, 2/8 slots" in r for r in rows)
    assert "holds only inside this scope (2 of the kernel's 8 endpoints" in out
    assert "P1-endpoint-count, P3-no-duplicate-address" in out


def test_a_scope_at_the_kernels_size_says_only_what_is_left() -> None:
    from pmcheck.checker.scope import Scope
    from pmcheck.model.versions import KernelVersion

    full = Scope(KernelVersion.V6_18_STABLE, endpoint_slots=8, any_id=True)
    assert full.short() == "netns, 8/8 slots, ids 0..255"
    (left,) = full.partial()  # what stays a sample: the input choices
    assert left.startswith("inputs from 4 addresses, ports {0, 1000}, 10 flag sets")
    named = Scope(KernelVersion.V6_18_STABLE, endpoint_slots=8)
    assert "explicit ids {0, 1, 2, 255} of 0..255 (auto ids: all)" in named.partial()


def test_every_id_is_a_free_input_of_the_namespace_scope() -> None:
    """`any_id`: the symbolic engines leave an explicit id unconstrained, so
    a command may name any of 0..255 (here 77, which no id list names), and
    the oracle enumerates all 256; a narrowed bitmap cannot hold them."""
    import z3

    from pmcheck.checker.engines import SolverLimits, Unroll
    from pmcheck.checker.scope import Scope
    from pmcheck.checker.system import System
    from pmcheck.model.versions import KernelVersion

    scope = Scope(KernelVersion.V6_18_STABLE, endpoint_slots=1, any_id=True)
    assert len({i.addr.id for i in scope.inputs("endpoint delete")}) == 256
    system = System(scope)
    solver = SolverLimits().solver()
    path = Unroll(system, solver)
    path.extend()
    solver.add(system.inputs(0).addr.id == 77, path.states[1].netns.endpoints == 1)
    assert solver.check() == z3.sat
    (step,) = system.decode(solver.model(), 1)
    assert step.rule == "endpoint add" and step.inputs.addr.id == 77
    after = system.replay([step])[-1]
    assert after.netns.endpoints == 1
    with pytest.raises(ValueError, match="every id"):
        Scope(KernelVersion.V6_18_STABLE, any_id=True, bitmap_width=32)
