"""docs/laminar-vs-sspi.md: each point's scenario ends as the page says
(model, every version; the live differential test runs the same files on
the kernel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmcheck.interp import run_model
from pmcheck.model.versions import KernelVersion
from pmcheck.scenario.files import parse_file

SSPI = Path(__file__).resolve().parents[1] / "examples" / "sspi"
MPC = "10.0.1.2#0>10.0.1.1#0"

# file -> the connections after the last step, as `simulate` prints them
CLAIMS = {
    "unit-endpoint-not-interface": [
        f"conn 1: subflows 2 signal 0 accepted 2 used 0 | {MPC} "
        "10.0.5.2#1>10.0.2.1#1 10.0.6.2#2>10.0.3.1#2"
    ],
    "trigger-received-add-addr": [
        f"conn 1: subflows 1 signal 0 accepted 1 used 0 | {MPC} 10.0.2.2#1>10.0.2.1#1"
    ],
    "role-creates-not-announces": [
        f"conn 1: subflows 1 signal 0 accepted 1 used 0 | {MPC} 10.0.2.2#1>10.0.2.1#1"
    ],
    "enforcement-never-creates": [
        f"conn 1: subflows 1 signal 0 accepted 1 used 0 | {MPC} 10.0.2.2#1>10.0.2.1#1"
    ],
    "scope-netns-table-per-connection-use": [
        f"conn 1: subflows 1 signal 0 accepted 1 used 0 | {MPC} 10.0.2.2#1>10.0.2.1#1",
        f"conn 2: subflows 1 signal 0 accepted 1 used 0 | {MPC} 10.0.2.2#1>10.0.2.1#1",
    ],
}


def test_every_scenario_of_the_page_is_claimed() -> None:
    assert sorted(p.stem for p in SSPI.glob("*.scn")) == sorted(CLAIMS)
    page = (SSPI.parents[1] / "docs" / "laminar-vs-sspi.md").read_text()
    assert all(f"{name}.scn" in page for name in CLAIMS)


@pytest.mark.parametrize("version", list(KernelVersion), ids=lambda v: v.value)
@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_the_scenario_ends_as_the_page_says(name: str, version: KernelVersion) -> None:
    run = run_model(parse_file(SSPI / f"{name}.scn"), version)
    assert [c.describe() for c in run.outcomes[-1].conns] == CLAIMS[name]


def test_laminar_does_nothing_before_an_add_addr() -> None:
    """Trigger: after `connect` only the initial subflow, nothing announced."""
    run = run_model(parse_file(SSPI / "trigger-received-add-addr.scn"), KernelVersion.V6_18_STABLE)
    after_connect = next(o for o in run.outcomes if o.text.startswith("connect"))
    assert [c.describe() for c in after_connect.conns] == [
        f"conn 1: subflows 0 signal 0 accepted 0 used 0 | {MPC}"
    ]
