"""Fuzz the scenario readers: random text and JSON scenarios through
`pmcheck simulate`, and the exit-code histogram (4 = internal error must
never appear). Prints one table.

    python benchmarks/bench_fuzz_inputs.py [N]     # N inputs per form (default 2000)
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pmcheck.cli import main
from tests.fuzz_inputs import json_scenarios, text_scenarios


def fuzz(strategy: object, suffix: str, n: int) -> tuple[Counter[int], float]:
    codes: Counter[int] = Counter()
    tmp = Path(tempfile.mkdtemp())
    t0 = time.perf_counter()

    @settings(max_examples=n, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(strategy)
    def one(text: str) -> None:
        path = tmp / f"f{suffix}"
        path.write_text(text, encoding="utf-8")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            codes[main(["simulate", str(path)])] += 1

    one()
    return codes, time.perf_counter() - t0


def main_bench() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rows = []
    bad = 0
    for name, strategy, suffix in (
        ("text", text_scenarios, ".scn"),
        ("json", json_scenarios, ".json"),
    ):
        codes, seconds = fuzz(strategy, suffix, n)
        bad += codes.get(4, 0)
        rows.append([name, sum(codes.values()), codes.get(0, 0), codes.get(2, 0),
                     codes.get(4, 0), f"{seconds:.1f}"])  # fmt: skip
    print(tabulate(rows, headers=["form", "inputs", "exit 0", "exit 2", "exit 4", "seconds"]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main_bench())
