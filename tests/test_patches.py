"""Patches as model deltas: `--kernel VERSION+PATCH` (pmcheck.patches)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from pmcheck.cli import main
from pmcheck.interp import run_model
from pmcheck.model.patching import PatchedKernel
from pmcheck.model.versions import KernelVersion
from pmcheck.patches import registered, resolve
from pmcheck.properties.catalog import all_properties
from pmcheck.scenario.errors import ScenarioError
from pmcheck.scenario.parser import parse_text

ROOT = Path(__file__).resolve().parents[1]
STABLE = KernelVersion.V6_18_STABLE
PROPS = all_properties()

# A reviewer's patch: flush keeps next_id (a plausible wrong fix for F3).
KEEP_NEXT_ID = '''"""flush keeps next_id."""

def mptcp_pm_nl_flush_addrs_doit(orig, k, st, inp):
    after, out = orig(k, st, inp)
    return after._replace(netns=after.netns._replace(next_id=st.netns.next_id)), out
'''

FLUSH_THEN_ADD = """\
ip mptcp endpoint add 10.0.2.2 subflow
ip mptcp endpoint add 10.0.3.2 subflow
ip mptcp endpoint flush
ip mptcp endpoint add 10.0.4.2 subflow
"""


def test_a_plain_version_resolves_to_itself() -> None:
    assert resolve("6.18-stable") is STABLE
    assert resolve("7.1") is KernelVersion.V7_1


def test_a_registered_fix_is_a_patched_kernel_that_pickles() -> None:
    k = resolve("6.18-stable+fix-F3+fix-F2")
    assert isinstance(k, PatchedKernel)
    assert k.value == "6.18-stable+fix-F3+fix-F2" and k.base is STABLE
    assert k.replacement("fill_local_laminar_endp") is not None
    assert k.replacement("mptcp_pm_nl_add_addr_doit") is None
    assert k.signal_subflow_always_used is STABLE.signal_subflow_always_used
    assert pickle.loads(pickle.dumps(k)) == k  # -j workers load it again
    assert resolve("6.19+fix-P4F").flush_resets_fullmesh_max is True


def test_two_patches_of_one_function_compose_in_order() -> None:
    from pmcheck.model.patching import Patch

    calls: list[str] = []

    def wrap(tag: str):  # type: ignore[no-untyped-def]
        def fn(orig, k, x):  # type: ignore[no-untyped-def]
            calls.append(tag)
            return orig(k, x + tag)

        return fn

    a = Patch("a", "0" * 64, "", replaces={"fill_local_address_any": wrap("a")})
    b = Patch("b", "1" * 64, "", replaces={"fill_local_address_any": wrap("b")})
    chained = PatchedKernel(STABLE, (a, b)).replacement("fill_local_address_any")
    assert chained is not None
    # The later patch wraps the earlier one, which wraps the model's function.
    assert chained(lambda k, x: x, None, "") == "ba" and calls == ["b", "a"]


def test_a_property_is_checked_with_the_fixes_it_assumes() -> None:
    from pmcheck.checker.scope import checked_scope, connection_scope

    prop = PROPS["M1-local-addr-used"]
    scope = checked_scope(prop, connection_scope(STABLE))
    assert scope.version.base is STABLE
    assert [p.name for p in scope.version.patches] == list(prop.assumes)  # type: ignore[attr-defined]
    # A fix the user already gave is not stacked twice; the user's comes first.
    mine = checked_scope(prop, connection_scope(resolve("6.18-stable+fix-F3")))  # type: ignore[arg-type]
    names = [p.name for p in mine.version.patches]  # type: ignore[attr-defined]
    assert names[0] == "fix-F3" and names.count("fix-F3") == 1
    plain = connection_scope(STABLE)
    assert checked_scope(PROPS["M6-mpc-endpoint-exists"], plain) is plain


def test_expectations_come_from_the_patch_then_the_base() -> None:
    k = resolve("6.18-stable+fix-F3")
    assert PROPS["M6-mpc-endpoint-exists"].expect(k) == "HOLDS-TO-DEPTH"
    assert PROPS["M6-mpc-endpoint-exists"].expect(STABLE) == "VIOLATED"
    assert PROPS["M1-local-addr-used"].expect(k) == PROPS["M1-local-addr-used"].expect(STABLE)
    assert PROPS["P4F-fullmesh-counter"].applies(resolve("6.19+fix-P4F"))
    assert not PROPS["P4F-fullmesh-counter"].applies(k)


def test_a_reviewers_file_changes_what_simulate_prints(tmp_path: Path) -> None:
    patch = tmp_path / "keep_next_id.py"
    patch.write_text(KEEP_NEXT_ID)
    scn = parse_text(FLUSH_THEN_ADD)
    base = run_model(scn, STABLE).outcomes[-1].new_id
    patched = run_model(scn, resolve(f"6.18-stable+{patch}")).outcomes[-1].new_id  # type: ignore[arg-type]
    assert (base, patched) == (1, 2)  # next_id survives the flush


def test_simulate_takes_a_patch_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patch = tmp_path / "keep_next_id.py"
    patch.write_text(KEEP_NEXT_ID)
    scn = tmp_path / "s.scn"
    scn.write_text(FLUSH_THEN_ADD)
    assert main(["simulate", str(scn), "--kernel", f"6.18-stable+{patch}"]) == 0
    out = capsys.readouterr().out
    assert "model 6.18-stable+keep_next_id.py" in out and "ok id 2   + 10.0.4.2 id 2" in out


BAD_PATCHES = {
    "syntax.py": ("def (:\n", "syntax.py:1"),
    "switch.py": ('SWITCHES = {"no_such_switch": True}\n', "unknown switch 'no_such_switch'"),
    "typo.py": (
        "def mptcp_pm_nl_flush_addr_doit(orig, k, st, inp):\n    pass\n",
        "no model function",
    ),
    "nothing.py": ('"""only a docstring"""\n', "changes nothing"),
    "expect.py": (
        'SWITCHES = {"mp_prio_skips_inactive": True}\nEXPECT = {"M99": "PROVED"}\n',
        "unknown property 'M99'",
    ),
    "raises.py": ("raise RuntimeError('boom')\n", "RuntimeError: boom"),
}


@pytest.mark.parametrize("name", sorted(BAD_PATCHES))
def test_a_bad_patch_is_an_input_error_naming_the_file(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, says = BAD_PATCHES[name]
    (tmp_path / name).write_text(text)
    scn = tmp_path / "s.scn"
    scn.write_text("ip mptcp endpoint flush\n")
    assert main(["simulate", str(scn), "--kernel", f"6.18-stable+{tmp_path / name}"]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err, err


def test_unknown_patch_names_and_missing_files_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "P1", "--kernel", "6.18-stable+fix-nope"]) == 2
    assert main(["check", "P1", "--kernel", "6.18-stable+/no/such.py"]) == 2
    err = capsys.readouterr().err
    assert "unknown patch 'fix-nope'" in err and "no such file" in err


def test_a_scenario_may_name_a_registered_fix_but_never_a_file(tmp_path: Path) -> None:
    assert parse_text("kernel 6.18-stable+fix-F3\nip mptcp endpoint flush\n").kernel == (
        "6.18-stable+fix-F3"
    )
    (tmp_path / "evil.py").write_text("SWITCHES = {'mp_prio_skips_inactive': True}\n")
    with pytest.raises(ScenarioError) as e:
        parse_text(f"kernel 6.18-stable+{tmp_path / 'evil.py'}\nip mptcp endpoint flush\n")
    assert "never a file" in str(e.value) and e.value.loc.line == 1


def test_every_ledger_fix_is_registered() -> None:
    names = set(registered())
    assert {"fix-F2", "fix-F3", "fix-F5", "fix-P2", "fix-P4F"} <= names
    for name in names:
        assert resolve(f"6.18-stable+{name}").patches[0].doc  # type: ignore[union-attr]


def test_j_workers_load_a_patched_kernel_themselves(capsys: pytest.CaptureFixture[str]) -> None:
    # -j runs jobs in spawned processes: the patched kernel must unpickle
    # there without the parent's imports.
    kernels = "6.18-stable,6.18-stable+fix-P2"
    code = main(["check", "P6", "--kernel", kernels, "-j", "2", "--slots", "1", "--depth", "1"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "kernel 6.18-stable+fix-P2" in out.out and "Traceback" not in out.err
