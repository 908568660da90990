"""Two in-kernel PMs on the live kernel: the model and a two-namespace
testbed where the peer runs the in-kernel PM too agree after every step,
on both hosts (endpoints, limits, MPTCP_INFO counters, subflow tables with
ids): every scenario of examples/two-pm/ (the seed mix, server limits
0/1/2/8, each filler path against an in-kernel server, a signal endpoint
with a port, RM_ADDR, deletes, the host as server, the peer closing a
join) and random two-PM scenarios."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from pmcheck.scenario.files import parse_file
from tests.live import require_live_kernel
from tests.strategies import two_pm_scenario_st
from tests.test_differential_connections_live import assert_agree

pytestmark = pytest.mark.live
SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "examples" / "two-pm").glob("*.scn"))


@pytest.fixture(scope="module", autouse=True)
def _live() -> None:
    require_live_kernel()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_two_pm_scenario_agrees_with_the_kernel(path: Path) -> None:
    assert_agree(parse_file(path))


@settings(
    max_examples=int(os.environ.get("PMCHECK_LIVE_2PM_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(scn=two_pm_scenario_st())
def test_random_two_pm_scenario_agrees_with_the_kernel(scn) -> None:
    assert_agree(scn, random=True)
