"""The benchmarks stay runnable: their inputs still match the code they
measure (no timing is asserted anywhere, see benchmarks/)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from pmcheck.properties.catalog import all_properties

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_every_mutant_edits_exactly_one_place() -> None:
    mutants = _load("bench_mutants")
    assert len(mutants.MUTANTS) >= 20
    assert len({m.name for m in mutants.MUTANTS}) == len(mutants.MUTANTS)
    for m in mutants.MUTANTS:
        text = (mutants.ROOT / m.path).read_text()
        assert text.count(m.old) == 1, (m.name, text.count(m.old))
        assert m.old != m.new, m.name


def test_the_engine_queries_name_known_properties() -> None:
    engines = _load("bench_engines")
    props = all_properties()
    for name, depth in (*engines.DEFECTS.values(), engines.HOLDING):
        assert name in props and depth >= 1, name
    # the slot counts, the 8-slot any-id and connection proofs, defects, bmc10
    assert len(engines.queries()) == len(engines.SLOTS) + 2 + len(engines.DEFECTS) + 1
