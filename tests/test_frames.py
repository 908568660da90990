"""Each rule changes only the state it declares (`writes`).

Checked on the Z3 encoding, where "unchanged" is exact: a field outside the
frame must be the very pre-state variable. A rule that wrote outside its
declared frame, even under a condition, fails here.
"""

from __future__ import annotations

import pytest

from pmcheck.model.catalog import PEER_NETLINK_RULES, WIRE_RULES
from pmcheck.model.rules import RULES
from pmcheck.model.state import leaves
from pmcheck.model.symbolic import symbolic_step
from pmcheck.model.topology import Topology
from pmcheck.model.versions import KernelVersion

# Rules that only mean something with an in-kernel peer.
TWO_PM_ONLY = {r.name for r in (*PEER_NETLINK_RULES, *WIRE_RULES)}
# Every rule with the scripted peer, and every rule with an in-kernel one
# (where the event rules may also run on the peer's side), on small slots.
CASES = [(n, False) for n in sorted(RULES) if n not in TWO_PM_ONLY] + [
    (n, True) for n in sorted(RULES)
]


@pytest.mark.parametrize("version", list(KernelVersion), ids=lambda v: v.value)
@pytest.mark.parametrize(("name", "two_pm"), CASES, ids=lambda c: str(c))
def test_rule_stays_in_its_frame(name: str, two_pm: bool, version: KernelVersion) -> None:
    rule = RULES[name]
    slots = {"endpoint_slots": 2, "subflow_slots": 3} if two_pm else {}
    step = symbolic_step(name, version, Topology(peer_kernel=two_pm), **slots)
    outside = [
        path
        for (path, _, before), (_, _, after) in zip(
            leaves(step.pre), leaves(step.post), strict=True
        )
        if not any(
            path == w or path.startswith(w + ".") or path.startswith(w + "[") for w in rule.writes
        )
        and not before.eq(after)
    ]
    assert not outside, f"{rule.kernel_function} writes {outside} outside {rule.writes}"


def test_every_rule_names_its_kernel_function() -> None:
    for rule in RULES.values():
        assert rule.fn.__doc__ and rule.kernel_function in rule.fn.__doc__, rule
