"""Shared gate for tests that drive the real kernel.

Where root, network namespaces or MPTCP are missing, a live test skips with
the reason. Under PMCHECK_REQUIRE_LIVE=1 (set by .ci/run, on a machine that
has them) a live test that would skip fails instead: a skipped live test
must never pass unseen (tests/conftest.py enforces the same for any skip of
a test marked `live`).
"""

from __future__ import annotations

import os

import pytest

from pmcheck.live.netns import live_kernel_available

REQUIRE_ENV = "PMCHECK_REQUIRE_LIVE"


def live_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def require_live_kernel() -> None:
    ok, reason = live_kernel_available()
    if ok:
        return
    if live_required():
        pytest.fail(f"live kernel unavailable but {REQUIRE_ENV}=1: {reason}")
    pytest.skip(f"live kernel unavailable: {reason}")
