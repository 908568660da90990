"""A sample of the mixed-endpoint matrix replays on the live kernel.

Each sampled cell's scenario (examples/matrix/) runs on the two-namespace
testbed and on the model at the running kernel's version; every step must
agree (endpoint dump, limits, MPTCP_INFO counters, subflow table). The
sample covers every event and every endpoint type (pmcheck.matrix.LIVE_SAMPLE),
the in-kernel-server events too: there the peer namespace runs the in-kernel
PM, and the comparison also covers its endpoints, limits and connections.
Cells listed in pmcheck.matrix.KNOWN_GAPS are known model gaps: they must
still differ (strict xfail), so a model fix shows up here. A sample of the
endpoint-table matrix (pmcheck.tables.LIVE_SAMPLE: every noted cell, every
endpoint kind and position, both peers, C on and off, every limits setting
and every removal event) replays the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pmcheck import matrix, tables
from pmcheck.diff import describe_value, first_mismatch
from pmcheck.interp import run_model
from pmcheck.model.versions import version_of_release
from pmcheck.scenario.files import parse_file
from tests.live import require_live_kernel

pytestmark = pytest.mark.live
CELLS = {(c.event.key, c.etype.key): c for c in matrix.cells()}


def _param(key: tuple[str, str]) -> object:
    marks = []
    if key in matrix.KNOWN_GAPS:
        marks.append(pytest.mark.xfail(strict=True, reason=matrix.KNOWN_GAPS[key]))
    return pytest.param(key, id=f"{key[0]}--{key[1]}", marks=marks)


@pytest.fixture(scope="module", autouse=True)
def _live() -> None:
    require_live_kernel()


def _agrees_with_the_kernel(path: Path) -> None:
    from pmcheck.live.kernel_run import run_on_kernel

    scn = parse_file(path)
    model = run_model(scn, version_of_release(os.uname().release))
    m = first_mismatch(model, run_on_kernel(scn))
    assert m is None, (
        f"{path.name}:{m.line} `{m.text}`: {m.field}\n"
        f"  model  {describe_value(m.field, m.left)}\n"
        f"  kernel {describe_value(m.field, m.right)}"
    )


@pytest.mark.parametrize("key", [_param(k) for k in matrix.LIVE_SAMPLE])
def test_matrix_cell_agrees_with_the_kernel(key: tuple[str, str]) -> None:
    _agrees_with_the_kernel(CELLS[key].path)


@pytest.mark.parametrize("cell", tables.LIVE_SAMPLE, ids=lambda c: c.path.stem)
def test_table_cell_agrees_with_the_kernel(cell: tables.Cell) -> None:
    _agrees_with_the_kernel(cell.path)
