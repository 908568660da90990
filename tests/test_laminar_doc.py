"""docs/laminar.md: every claim's scenario ends, on every model version, as
its row says (the live differential tests run the same files on 6.18.44)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pmcheck.interp import run_model
from pmcheck.model.versions import KernelVersion
from pmcheck.scenario.files import parse_file

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "laminar.md"
ROW = re.compile(r"^\| .+ \| \[[^\]]+\]\(\.\./([^)]+\.scn)\) \| `(.+)` \|$", re.M)


def rows() -> list[tuple[str, str]]:
    return [(path, shown.replace("\\|", "|")) for path, shown in ROW.findall(PAGE.read_text())]


def test_the_page_has_its_claims() -> None:
    assert len(rows()) == 12


@pytest.mark.parametrize(("path", "shown"), rows(), ids=lambda x: Path(x).stem if "/" in x else "")
def test_each_claim_is_what_its_scenario_does(path: str, shown: str) -> None:
    scn = parse_file(ROOT / path)
    for v in KernelVersion:
        (conn,) = run_model(scn, v).outcomes[-1].conns
        assert conn.describe() == shown, (path, v.value)
