"""Run a scenario on this machine's kernel: the endpoint-only interpreter
(one throw-away namespace) or, with connections or an in-kernel peer, the
two-namespace testbed."""

from __future__ import annotations

import os

from pmcheck.live.conn_interpreter import run_connections_on_kernel
from pmcheck.live.interpreter import execute_in_current_netns
from pmcheck.live.netns import run_in_netns, temporary_netns
from pmcheck.results import Run
from pmcheck.scenario.ast import Scenario


def run_on_kernel(scenario: Scenario) -> Run:
    """Run every step of `scenario` on this machine's kernel: in a fresh netns,
    or, when it opens connections, on a fresh two-namespace testbed."""
    if scenario.has_connections:
        outcomes = run_connections_on_kernel(scenario)
    else:
        with temporary_netns() as name:
            outcomes = run_in_netns(name, execute_in_current_netns, scenario)
    return Run(interpreter="kernel", kernel=os.uname().release, outcomes=outcomes)
