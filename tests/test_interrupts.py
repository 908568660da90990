"""Ctrl-C and SIGTERM stop a check within a moment (Z3 would otherwise turn
SIGINT into one UNKNOWN and go on), with exit 130 / 143 and one line; with
-j the workers end too (the pool would otherwise wait for them)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

RUN = [sys.executable, "-c", "import sys; from pmcheck.cli import main; sys.exit(main())"]


def _stop_after(argv: list[str], sig: int, wait: float = 4.0) -> tuple[int, float, str]:
    """Start a long check, send `sig` after `wait` s (to the process group,
    as a terminal's Ctrl-C does), return (exit code, seconds to exit, stderr)."""
    proc = subprocess.Popen(
        [*RUN, *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    time.sleep(wait)
    assert proc.poll() is None, "the check ended before the signal: pick a longer one"
    t0 = time.monotonic()
    os.killpg(proc.pid, sig)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"still running 30 s after signal {sig}")
    return proc.returncode, time.monotonic() - t0, err


LONG = ["check", "M8", "--kernel", "6.18", "--no-cache"]


@pytest.mark.parametrize(("sig", "code", "word"), [(signal.SIGINT, 130, "interrupted"),
                                                  (signal.SIGTERM, 143, "terminated")])  # fmt: skip
def test_a_signal_stops_check(sig: int, code: int, word: str) -> None:
    rc, took, err = _stop_after(LONG, sig)
    assert rc == code, err
    assert took < 2, took
    assert err.strip() == f"pmcheck: {word}", err  # one line, no traceback


def test_ctrl_c_stops_parallel_jobs() -> None:
    rc, took, err = _stop_after(["check", "M8", "--kernel", "all", "-j", "2", "--no-cache"],
                                signal.SIGINT, wait=6.0)  # fmt: skip
    assert rc == 130, err
    assert took < 2, took
    # One line: no worker traceback, no "Exception ignored in AstRef.__del__".
    assert err.strip() == "pmcheck: interrupted", err
