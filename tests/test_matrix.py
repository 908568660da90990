"""The mixed-endpoint matrix (docs/mixed-endpoints.md) is current and true.

Regenerating it must give the committed page and scenario files byte for
byte (so every cell is what its scenario gives on the concrete model), each
committed scenario must replay to its cell's outcome on every kernel
version, and every note must still hold (pmcheck.matrix.generate checks the
notes and raises otherwise). The in-kernel-server cells (`peer pm kernel`,
examples/matrix/kernel-server-*.scn) are held to the same, and to the
page's claim of which rows differ from the scripted peer's.
"""

from __future__ import annotations

import itertools

import pytest

from pmcheck import matrix
from pmcheck.interp import run_model
from pmcheck.scenario.files import parse_file


@pytest.fixture(scope="module")
def generated() -> tuple[dict, dict]:
    return matrix.generate()


def test_page_and_scenarios_are_current(generated: tuple[dict, dict]) -> None:
    files, _ = generated
    stale = [
        p.relative_to(matrix.ROOT).as_posix()
        for p, text in files.items()
        if not p.exists() or p.read_text(encoding="utf-8") != text
    ]
    extra = sorted(p.name for p in set(matrix.SCN_DIR.glob("*.scn")) - set(files))
    assert not stale and not extra, (
        f"out of date: {stale}, not generated: {extra}; run `python -m pmcheck.matrix`"
    )


def test_every_cell_scenario_replays_to_what_the_committed_page_says() -> None:
    # Independent of generate(): the committed scenario file, run on the
    # model, must end as the committed page's row for that cell says.
    page = matrix.DOC.read_text(encoding="utf-8").splitlines()
    cells = [c for c in matrix.cells() if c.lines]
    assert len(cells) == 83 + 78
    for c in cells:
        at = next(i for i, line in enumerate(page) if f"[{c.path.stem}](../{c.rel})" in line)
        rows = [page[at]]
        rows += itertools.takewhile(lambda line: line.startswith("|  | "), page[at + 1 :])
        scn = parse_file(c.path)
        for v in matrix.VERSIONS:
            r = matrix.result_of(run_model(scn, v))
            ends = "<br>".join(r.endpoints) or "(empty)"
            said = (
                f"{matrix._subflows_text(r)} | {r.extra} | {r.accepted} | {r.used} | "
                f"{r.signal} | {ends} |"
            )
            assert any(said in row and _names(row, v) for row in rows), (c.rel, v.value, said)


def _names(row: str, v: object) -> bool:
    """The row's kernel cell is `all` or lists `v`."""
    cell = row.split(" | ")[1].strip()
    return cell == "all" or getattr(v, "value", None) in cell.split(", ")


def test_every_event_and_type_is_covered_and_sampled_live() -> None:
    cells = matrix.cells()
    assert {c.event.key for c in cells} == {e.key for e in matrix.ALL_EVENTS}
    sampled = set(matrix.LIVE_SAMPLE)
    assert {e for e, _ in sampled} == {e.key for e in matrix.ALL_EVENTS}
    assert {t for _, t in sampled} == {t.key for t in matrix.TYPES}
    assert all(k in sampled for k in matrix.KNOWN_GAPS)


def test_kernel_server_cells_run_an_in_kernel_peer_with_signal_endpoints() -> None:
    scripted = {e.key for e in matrix.EVENTS}
    for c in matrix.cells():
        if not c.event.kernel_server:
            assert c.event.scripted == ""
            continue
        assert c.event.scripted in scripted
        assert c.path.name.startswith("kernel-server-")
        if c.lines is None:
            assert c.etype.implicit
            continue
        scn = parse_file(c.path)
        assert scn.peer_pm == "kernel", c.rel
        assert c.lines[0] == "peer pm kernel"
        assert matrix.PEER_SIGNAL_1 in c.lines, c.rel
        assert not any(x.startswith(("peer announce", "peer remove", "peer join")) for x in c.lines)


def test_kernel_server_summary_matches_the_outcomes(generated: tuple[dict, dict]) -> None:
    _, table = generated
    for e in matrix.SERVER_EVENTS:
        differ = {
            t.key
            for t in matrix.TYPES
            if (e.key, t.key) in table and table[(e.key, t.key)] != table[(e.scripted, t.key)]
        }
        assert differ == matrix.SERVER_DIFFERS[e.key], e.key
    page = matrix.DOC.read_text(encoding="utf-8")
    assert "## With an in-kernel server" in page
    assert page.count("| **differs** |") == sum(len(v) for v in matrix.SERVER_DIFFERS.values())


def test_check_mode_reports_current(capsys: pytest.CaptureFixture[str]) -> None:
    assert matrix.main(["--check"]) == 0
    assert "0 files out of date" in capsys.readouterr().out
