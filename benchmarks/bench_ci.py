"""CI figures for the full suite (`pmcheck check --kernel all`), as a table.

    python benchmarks/bench_ci.py [--slots N] [--depth K]

Each row is one `pmcheck` process, timed from outside (what a CI step
pays, imports included):
1. cold: an empty verdict cache; warm: the same command again; warm
   --cache-only: what a CI job that must not run solvers pays;
2. -j 1 vs -j 2 without a cache (jobs are kernel versions: 6.18-stable's
   Houdini proof dominates, so -j 2 cannot beat the longest job);
3. two shards one after the other, and `pmcheck merge` of their JSON.
No test asserts on these times; on a shared machine they are noisy.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate


def pmcheck(*argv: str) -> tuple[float, int, str]:
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "pmcheck.cli", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "GITHUB_ACTIONS": "false"},
    )
    return time.perf_counter() - t0, p.returncode, p.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--slots", default="2", help="endpoint slots (default 2, the CLI's)")
    ap.add_argument("--depth", default="6", help="BMC depth (default 6, the CLI's)")
    args = ap.parse_args()
    suite = [
        "check",
        "--kernel",
        "all",
        "--slots",
        args.slots,
        "--depth",
        args.depth,
        "--no-github",
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = str(Path(tmp) / "cache")

        def row(name: str, *extra: str) -> str:
            seconds, code, out = pmcheck(*suite, *extra)
            rows.append([name, f"{seconds:.1f}", code])
            return out

        row("cold (empty cache), -j 1", "--cache", cache)
        row("warm (cached), -j 1", "--cache", cache)
        row("warm, --cache-only", "--cache", cache, "--cache-only")
        row("no cache, -j 1", "--no-cache", "-j", "1")
        row("no cache, -j 2", "--no-cache", "-j", "2")
        shard_s = 0.0
        files = []
        for k in (1, 2):
            seconds, code, out = pmcheck(*suite, "--no-cache", "--shard", f"{k}/2", "--json")
            shard_s += seconds
            path = Path(tmp) / f"shard-{k}.json"
            path.write_text(out)
            files.append(str(path))
            rows.append([f"shard {k}/2, no cache", f"{seconds:.1f}", code])
        seconds, code, _ = pmcheck("merge", *files, "--no-github")
        rows.append(["merge of the 2 shards", f"{seconds:.1f}", code])
        rows.append(["(shards one after the other + merge)", f"{shard_s + seconds:.1f}", ""])
    print(f"full suite: pmcheck {' '.join(suite)}; {os.cpu_count()} cores\n")
    print(tabulate(rows, headers=["run", "wall s", "exit"], tablefmt="github"))


if __name__ == "__main__":
    main()
