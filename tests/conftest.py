"""Suite-wide rule: under PMCHECK_REQUIRE_LIVE=1 no test marked `live` may
skip (a skip there means the differential check against the kernel did not
run, which CI on a machine with the kernel must not accept)."""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

from tests.live import REQUIRE_ENV, live_required

pytest_plugins = ["pytester"]  # tests/test_require_live.py runs the hook below


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Generator:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and live_required() and item.get_closest_marker("live") is not None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"live test skipped under {REQUIRE_ENV}=1: {reason}"


# `pmcheck check` runs one job per core by default (pmcheck.ci.default_jobs);
# under xdist every worker would start a process pool of its own. Tests
# that mean to run jobs in parallel say -j.
os.environ.setdefault("PMCHECK_JOBS", "1")
