"""Which single-point rule mutants the checker and the tests catch.

    python benchmarks/bench_mutants.py [--tiers check,tests,live] [--only NAME,...]

Each mutant is one plausible edit of one model function (the kind a
developer, or the kernel, could make: an off-by-one, a missing check, a
forgotten counter update), applied as a text substitution to a copy of the
repository installed in a throw-away virtualenv (as mutmut does), so the
working tree and the installed pmcheck are never touched. For each mutant
and tier the table says whether the tier *caught* it: its exit code (and,
for a check, its verdicts) differ from the unmutated copy's:

  check   `pmcheck check --kernel 6.18-stable -j 2` (the README's default
          check, every job of one version over both cores);
  quick   the same at BMC depth 4 (a cheap proxy, minutes instead of ~10);
  tests   `pytest -m "not live" -x` (the non-live suite);
  live    `pytest -m live -x` (differential tests on the running kernel;
          root and MPTCP needed).

Every mutant must be caught by `check` or `tests` (issue 19). A full run is
long (each tier re-runs per mutant: roughly 10 + 10 + 3 minutes), so
`--tiers` and `--only` pick a part; the table prints as rows finish.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # file in the repository
    old: str  # must occur exactly once
    new: str
    why: str  # the mistake it stands for


MUTANTS = (
    Mutant(
        "endp-max-off-by-one",
        "model/pernet.py",
        "full = ops.not_(ops.ult(ns.endpoints, ops.const(MPTCP_PM_ADDR_MAX, 8)))",
        "full = ops.not_(ops.ule(ns.endpoints, ops.const(MPTCP_PM_ADDR_MAX, 8)))",
        "append admits a 9th endpoint (> for >=)",
    ),
    Mutant(
        "dup-scan-ignores-port",
        "model/pernet.py",
        "ops.or_(ops.ne(e.port, zero), ops.ne(port, zero)),",
        "ops.false(),",
        "the duplicate scan never compares ports",
    ),
    Mutant(
        "flush-keeps-next-id",
        "model/endpoint_table.py",
        "next_id=ops.const(1, 8),",
        "next_id=ns.next_id,",
        "flush forgets next_id = 1",
    ),
    Mutant(
        "limits-refuse-8",
        "model/endpoint_table.py",
        "ops.and_(lim.has_subflows, ops.ult(top, lim.subflows)),",
        "ops.and_(lim.has_subflows, ops.ule(top, lim.subflows)),",
        "set-limits refuses subflows 8 (>= for >)",
    ),
    Mutant(
        "no-id-retry",
        "model/pernet.py",
        "retry = ops.and_(alloc, ops.eq(first, ops.const(0, 8)), ops.ne(nid, ops.const(1, 8)))",
        "retry = ops.false()",
        "id allocation never retries from 1",
    ),
    Mutant(
        "delete-keeps-endpoints",
        "model/endpoint_table.py",
        "endpoints=ops.sub(ns.endpoints, ops.const(1, 8), 8),",
        "endpoints=ns.endpoints,",
        "delete forgets endpoints--",
    ),
    Mutant(
        "join-limit-off-by-one",
        "model/pm_events.py",
        "        ops.ult(conn.extra_subflows, limit),\n",
        "        ops.ule(conn.extra_subflows, limit),\n",
        "a passive join is allowed at the subflows limit",
    ),
    Mutant(
        "rm-addr-counts-id0",
        "model/rm_addr.py",
        "nonzero_id = ops.ne(rm_id, u8(ops, 0))",
        "nonzero_id = ops.true()",
        "RM_ADDR of id 0 gives back an accepted ADD_ADDR",
    ),
    Mutant(
        "mark-avail-counts-id0",
        "model/endpoint_effects.py",
        "count = ops.and_(was_used, ops.ne(ident, u8(ops, 0)))",
        "count = was_used",
        "__mark_subflow_endp_available decrements for id 0 too",
    ),
    Mutant(
        "signal-keeps-id-free",
        "model/pm_worker.py",
        "        id_avail=ops.bit_clear(conn.id_avail, sig.id),\n        add_addr_signaled",
        "        id_avail=conn.id_avail,\n        add_addr_signaled",
        "an announced endpoint's id is not marked used",
    ),
    Mutant(
        "mpc-setup-every-time",
        "model/local_ids.py",
        "        mpc_accounted=ops.true(),\n",
        "        mpc_accounted=conn.mpc_accounted,\n",
        "the MPC endpoint is accounted on every worker run",
    ),
    Mutant(
        "daddr-lookup-ignores-port",
        "model/pm_worker.py",
        "    use_port = ops.ne(port, ops.const(0, 16))\n",
        "    use_port = ops.false()\n",
        "an ADD_ADDR with a port is taken for a known address",
    ),
    Mutant(
        "mp-prio-inverted",
        "model/local_ids.py",
        "ops.ite(f, s._replace(backup=bkup,",
        "ops.ite(f, s._replace(backup=ops.not_(bkup),",
        "MP_PRIO records the opposite bit",
    ),
    Mutant(
        "any-filler-no-family-check",
        "model/fillers.py",
        "ok = ops.ite(conn.v4, is_v4(ops, raddr), ops.true())",
        "ok = ops.true()",
        "a v4 msk tries a v6 remote through the ANY filler",
    ),
    Mutant(
        "close-keeps-extra-subflows",
        "model/subflows.py",
        "    extra = dec(ops, conn.extra_subflows)\n    return conn._replace(",
        "    extra = conn.extra_subflows\n    return conn._replace(",
        "a closed join keeps its extra_subflows slot",
    ),
    Mutant(
        "laminar-any-family",
        "model/fillers.py",
        "            ops.has(e.flags, FLAG_LAMINAR),\n"
        "            mptcp_pm_addr_families_match(ops, conn, e.addr, raddr),\n",
        "            ops.has(e.flags, FLAG_LAMINAR),\n",
        "the laminar filler skips its family check",
    ),
    Mutant(
        "cflag-filler-uses-mpc",
        "model/fillers.py",
        "            ops.ne(sel.id, c.mpc_endpoint_id),\n        )\n",
        "            ops.true(),\n        )\n",
        "the C-flag filler uses the MPC endpoint too",
    ),
    Mutant(
        "accepted-counts-id0",
        "model/pm_worker.py",
        "ops.and_(created, ops.ne(rid, u8(ops, 0))),\n        inc(ops, conn.add_addr_accepted),",
        "created,\n        inc(ops, conn.add_addr_accepted),",
        "an ADD_ADDR of id 0 is counted as accepted",
    ),
    Mutant(
        "select-ignores-avail",
        "model/local_ids.py",
        "ops.and_(e.used, ops.has(e.flags, FLAG_SUBFLOW), ops.bit_test(conn.id_avail, e.id))",
        "ops.and_(e.used, ops.has(e.flags, FLAG_SUBFLOW))",
        "select_local_address ignores the id bitmap",
    ),
    Mutant(
        "add-addr-limit-not-checked",
        "model/pm_worker.py",
        "        ops.ule(ns.limit_add_addr_accepted, accepted),\n",
        "        ops.false(),\n",
        "accept_addr never turns off at the add_addr_accepted limit",
    ),
)

TIERS = {
    "check": ["pmcheck", "check", "--kernel", "6.18-stable", "-j", "2", "--json"],
    "quick": ["pmcheck", "check", "--kernel", "6.18-stable", "-j", "2", "--depth", "4", "--json"],
    # The README's test command (one worker per core), stopping at the first failure.
    "tests": [
        *("python", "-m", "pytest", "-q", "-x", "-n", "auto", "--dist", "loadfile"),
        *("-m", "not live", "-p", "no:cacheprovider"),
    ],
    "live": [
        *("python", "-m", "pytest", "-q", "-x", "-n", "auto", "--dist", "loadfile"),
        *("-m", "live", "-p", "no:cacheprovider"),
    ],
}


def prepare(work: Path) -> Path:
    """A copy of the repository, installed editable in its own virtualenv
    (with this interpreter's packages visible). Returns its bin/."""
    copy = work / "repo"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", "build", ".pmcheck*"),
    )
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "-e", str(copy)], check=True
    )
    return venv / "bin"


def _outcome(bin_dir: Path, copy: Path, tier: str, timeout: float) -> tuple[object, float]:
    """What a tier says: the exit code, and for a check its verdicts."""
    cmd = list(TIERS[tier])
    cmd[0] = str(bin_dir / cmd[0])
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, cwd=copy, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - t0
    if "--json" not in cmd:
        return r.returncode, time.perf_counter() - t0
    try:
        doc = json.loads(r.stdout)
        verdicts = sorted((x["property"], x["verdict"], x["depth"]) for x in doc["results"])
    except (ValueError, KeyError, TypeError):
        verdicts = []
    return (r.returncode, verdicts), time.perf_counter() - t0


def caught(
    bin_dir: Path, copy: Path, tier: str, timeout: float, baseline: dict[str, object]
) -> tuple[str, float]:
    """Caught: the tier says something else than on the unmutated copy (a
    quick check at depth 4 exits 1 on the real model too: its verdicts are
    compared, not its exit code)."""
    got, secs = _outcome(bin_dir, copy, tier, timeout)
    if got == "timeout":
        return "timeout", secs
    return ("caught" if got != baseline[tier] else "missed"), secs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiers", default="quick,tests", help=f"of {', '.join(TIERS)}")
    ap.add_argument("--only", help="comma-separated mutant names")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per tier run")
    ap.add_argument("--list", action="store_true", help="print the mutants and exit")
    args = ap.parse_args(argv)
    mutants = [m for m in MUTANTS if not args.only or m.name in args.only.split(",")]
    if args.list:
        print(tabulate([[m.name, m.path, m.why] for m in mutants], ["mutant", "file", "what"]))
        return 0
    tiers = args.tiers.split(",")
    rows = []
    with tempfile.TemporaryDirectory(prefix="pmck-mutants-") as tmp:
        bin_dir = prepare(Path(tmp))
        copy = Path(tmp) / "repo"
        baseline = {t: _outcome(bin_dir, copy, t, args.timeout)[0] for t in tiers}
        for m in mutants:
            target = copy / m.path
            original = target.read_text()
            if original.count(m.old) != 1:
                rows.append([m.name, f"edit does not apply ({original.count(m.old)} matches)"])
                continue
            target.write_text(original.replace(m.old, m.new))
            try:
                row = [m.name]
                for t in tiers:
                    verdict, secs = caught(bin_dir, copy, t, args.timeout, baseline)
                    row.append(f"{verdict} ({secs:.0f} s)")
                rows.append(row)
                print(" | ".join(row), file=sys.stderr, flush=True)
            finally:
                target.write_text(original)
    print(tabulate(rows, headers=["mutant", *tiers], tablefmt="github"))
    found = [r for r in rows if any("caught" in c for c in r[1:])]
    print(f"\n{len(found)} of {len(rows)} mutants caught by at least one tier")
    return 0


if __name__ == "__main__":
    sys.exit(main())
