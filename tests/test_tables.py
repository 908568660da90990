"""The endpoint-table matrix (docs/tables/, pmcheck.tables) is current and true.

Regenerating it gives the committed pages and scenario files byte for byte;
every note on a page holds on the outcomes it cites (generate() raises
otherwise, and a false note is shown to raise); the axes are the ones the
pages claim; the committed scenario of each sampled cell replays to what the
committed page shows (the live replay of the sample is in
tests/test_matrix_live.py, and `python -m pmcheck.matrix --live` runs all).
"""

from __future__ import annotations

import re

import pytest

from pmcheck import tables
from pmcheck.interp import run_model
from pmcheck.model.versions import KernelVersion
from pmcheck.scenario.files import parse_file


@pytest.fixture(scope="module")
def generated() -> tuple[dict, dict]:
    return tables.generate()


def test_pages_and_scenarios_are_current(generated: tuple[dict, dict]) -> None:
    files, _ = generated
    stale = [
        p.relative_to(tables.ROOT).as_posix()
        for p, text in files.items()
        if not p.exists() or p.read_text(encoding="utf-8") != text
    ]
    extra = sorted(p.name for p in set(tables.SCN_DIR.glob("*.scn")) - set(files))
    assert not stale and not extra, (
        f"out of date: {stale[:5]}..., not generated: {extra[:5]}; run `python -m pmcheck.matrix`"
    )


def test_the_axes_are_what_the_issue_asks() -> None:
    kinds_at = {(k, p) for t in tables.TABLES for k, p in t.entries}
    plain = {"signal", "subflow", "backup", "fullmesh", "laminar"}
    # every pair of different kinds, on two addresses
    pairs = {frozenset(t.kinds) for t in tables.TABLES if len(t.entries) == 2}
    assert all(frozenset({a, b}) in pairs for a in plain for b in plain if a != b)
    # the MPC address as an endpoint, every kind there or laminar beside it
    assert {k for k, p in kinds_at if p == "M"} >= plain
    assert any(len(t.entries) == 3 for t in tables.TABLES)
    cfgs = tables.ANNOUNCE_CONFIGS
    assert {c.peer for c in cfgs} == {"scripted", "kernel"}
    assert {c.c_flag for c in cfgs} == {False, True}
    assert {c.limits for c in cfgs} == {None, (0, 0), (1, 1), (2, 2), (8, 8)}
    assert {c.removal for c in tables.REMOVAL_CONFIGS} == {"delete", "flush", "rm-addr"}


def test_cells_that_differ_between_versions_are_marked(generated: tuple[dict, dict]) -> None:
    _, results = generated
    differ = [c for c, r in results.items() if len(set(r.values())) > 1]
    assert differ, "the version tables exist to show a difference"
    pages = {p: (tables.DOC_DIR / f"{p}.md").read_text(encoding="utf-8") for p in tables.PAGES}
    for c in differ:
        if c.config.removal:
            continue
        line = _grid_line(pages["served-by"], c)
        cell = next(x for x in line.split(" | ") if f"(../../{c.rel})" in x)
        # a differing cell may still agree on what this page shows
        shown = {tables.served_text(o) for o in results[c].values()}
        assert ("≠" in cell) == (len(shown) > 1), c.rel


def _grid_line(page: str, c: tables.Cell) -> str:
    return next(x for x in page.splitlines() if x.startswith("| ") and f"(../../{c.rel})" in x)


def test_a_false_note_stops_generation(generated: tuple[dict, dict]) -> None:
    _, results = generated
    tables.check_notes(tables.NOTES, results)
    # The first note's claim turned around: "laminar serves nothing" -> "serves".
    first = tables.NOTES[0]
    wrong = tables.Note(first.page, "wrong", first.cells, lambda rs: not first.check(rs))
    with pytest.raises(ValueError, match="no longer true"):
        tables.check_notes([wrong], results)


def test_every_note_cell_is_bold_on_its_page() -> None:
    for n in tables.NOTES:
        page = (tables.DOC_DIR / f"{n.page}.md").read_text(encoding="utf-8")
        for c in n.cells:
            assert f"](../../{c.rel})" in page
            if n.page != "removal" or c.config.removal:
                assert re.search(rf"\*\*[^|]*\[↗\]\(\.\./\.\./{re.escape(c.rel)}\)", page), c.rel


@pytest.mark.parametrize("cell", tables.LIVE_SAMPLE, ids=lambda c: c.path.stem)
def test_sampled_committed_scenarios_replay_to_the_committed_page(cell: tables.Cell) -> None:
    page_name = "removal" if cell.config.removal else "served-by"
    page = (tables.DOC_DIR / f"{page_name}.md").read_text(encoding="utf-8")
    line = _grid_line(page, cell)
    shown = next(x for x in line.split(" | ") if f"(../../{cell.rel})" in x)
    scn = parse_file(cell.path)
    project = tables.removal_text if cell.config.removal else tables.served_text
    for v in KernelVersion:
        assert project(tables.outcome_of(run_model(scn, v))) in shown, (cell.rel, v.value)


def test_the_live_sample_covers_every_axis() -> None:
    s = tables.LIVE_SAMPLE
    assert {k for c in s for k, _ in c.table.entries} == set(tables.KINDS)
    assert {p for c in s for _, p in c.table.entries} == set(tables.POSITIONS)
    assert {c.config.peer for c in s} == set(tables.PEERS)
    announce = [c for c in s if not c.config.removal]
    assert {c.config.c_flag for c in announce} == set(tables.C_FLAGS)
    assert {c.config.limits for c in announce} == set(tables.LIMITS)
    assert {c.config.removal for c in s} - {None} == set(tables.REMOVALS)
    assert all(n.cells[0] in s for n in tables.NOTES)


def test_review_lists_the_table_cells_a_version_changes() -> None:
    from pmcheck import review

    keys = ("fullmesh-V_laminar-A", "laminar-A_laminar-B")
    cells = [c for c in tables.cells() if c.table.key in keys]
    stable, v619 = KernelVersion.V6_18_STABLE, KernelVersion.V6_19
    out = "\n".join(review.table_changes(stable, v619, cells))
    assert "fullmesh-V_laminar-A--scripted-c0-8x8.scn" in out
    assert "laminar-A_laminar-B" not in out
    assert review.table_changes(stable, stable, cells) == []
