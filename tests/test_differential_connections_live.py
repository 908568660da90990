"""Connection scenarios give the same results on the model and the kernel.

The known-behaviour scenarios (examples/known/: F1-F4, the seed use case),
every filler path and endpoint-type mix (examples/mixes/), and random
connection scenarios run on the live two-namespace testbed and on
the model at the running kernel's version; after every step the endpoint
dump, limits, MPTCP_INFO counters and subflow tables must agree.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, reject, settings

from pmcheck.diff import describe_value, first_mismatch
from pmcheck.interp import run_model
from pmcheck.model.versions import version_of_release
from pmcheck.scenario.errors import ScenarioError
from pmcheck.scenario.files import parse_file
from pmcheck.scenario.render import render_scenario
from tests.live import require_live_kernel
from tests.strategies import connection_scenario_st

pytestmark = pytest.mark.live
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
KNOWN = sorted(
    p
    for d in ("known", "mixes", "versions", "sspi", "laminar")
    for p in (EXAMPLES / d).glob("*.scn")
)


@pytest.fixture(scope="module", autouse=True)
def _live() -> None:
    require_live_kernel()


def assert_agree(scn, random: bool = False) -> None:
    from pmcheck.live.kernel_run import run_on_kernel

    model = run_model(scn, version_of_release(os.uname().release))
    try:
        kernel = run_on_kernel(scn)
    except ScenarioError:
        if not random:
            raise
        reject()  # a step the testbed's peer cannot send; the strategy avoids most

    m = first_mismatch(model, kernel)
    assert m is None, (
        f"step {m.index} `{m.text}`: {m.field}\n  model  {describe_value(m.field, m.left)}\n"
        f"  kernel {describe_value(m.field, m.right)}\n{render_scenario(scn)}"
    )


@pytest.mark.parametrize("path", KNOWN, ids=lambda p: p.stem)
def test_known_behaviour_reproduces_on_the_kernel(path: Path) -> None:
    assert_agree(parse_file(path))


@settings(
    # 12 random scenarios next to the 40-odd fixed ones (examples/known,
    # mixes, versions, sspi, laminar) that run every time.
    max_examples=int(os.environ.get("PMCHECK_LIVE_CONN_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(scn=connection_scenario_st(max_events=8))
def test_random_connection_scenarios_agree(scn) -> None:
    assert_agree(scn, random=True)
