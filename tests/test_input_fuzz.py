"""No input gives an internal error: random text and JSON scenarios through
`pmcheck simulate` exit 0 or 2 (tests/fuzz_inputs.py has the generators;
benchmarks/bench_fuzz_inputs.py runs many more and prints the histogram)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from pmcheck.cli import main
from tests.fuzz_inputs import json_scenarios, text_scenarios

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _simulate(tmp: Path, name: str, text: str) -> int:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return main(["simulate", str(path)])


@FUZZ
@given(text=text_scenarios)
def test_text_input_is_accepted_or_refused(
    text: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rc = _simulate(tmp_path_factory.mktemp("t"), "f.scn", text)
    assert rc in (0, 2), text


@FUZZ
@given(doc=json_scenarios)
def test_json_input_is_accepted_or_refused(
    doc: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rc = _simulate(tmp_path_factory.mktemp("j"), "f.json", doc)
    assert rc in (0, 2), doc
