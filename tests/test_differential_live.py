"""Random scenarios give identical results on the model and the live kernel.

Each example is a fresh namespace on this machine's kernel and the model at
the matching version; every step's errno, new id, reply, endpoint dump and
limits must agree. A failure prints the scenario as `ip mptcp` lines, ready
for `pmcheck diff`.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

from pmcheck.diff import describe_value, first_mismatch
from pmcheck.interp import run_model
from pmcheck.model.versions import version_of_release
from pmcheck.scenario.render import render_scenario
from tests.live import require_live_kernel
from tests.strategies import scenario_st

pytestmark = pytest.mark.live


@pytest.fixture(scope="module", autouse=True)
def _live() -> None:
    require_live_kernel()


@settings(
    max_examples=int(os.environ.get("PMCHECK_LIVE_EXAMPLES", "140")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(scn=scenario_st)
def test_model_matches_live_kernel(scn) -> None:
    from pmcheck.live.kernel_run import run_on_kernel

    version = version_of_release(os.uname().release)
    model = run_model(scn, version)
    kernel = run_on_kernel(scn)
    m = first_mismatch(model, kernel)
    assert m is None, (
        f"step {m.index} `{m.text}`: {m.field} model={describe_value(m.field, m.left)!r} "
        f"kernel={describe_value(m.field, m.right)!r}\n{render_scenario(scn)}"
    )
