"""Each rule changes only the state it declares (`writes`).

Checked on the Z3 encoding, where "unchanged" is exact: a field outside the
frame must be the very pre-state variable. A rule that wrote outside its
declared frame, even under a condition, fails here.
"""

from __future__ import annotations

import re

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


# 7.0's traits are 6.18-stable's plus 6.19's fullmesh counter: every
# branch it takes, another version takes too.
FRAME_VERSIONS = [v for v in KernelVersion if v is not KernelVersion.V7_0]


@pytest.mark.parametrize("version", FRAME_VERSIONS, ids=lambda v: v.value)
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
        if not in_frame(path, rule.writes) and not before.eq(after)
    ]
    assert not outside, f"{rule.kernel_function} writes {outside} outside {rule.writes}"


def in_frame(path: str, writes: tuple[str, ...]) -> bool:
    """`path` (with concrete indices) lies under one of the frame's paths
    (where `[*]` stands for any index)."""
    generic = re.sub(r"\[\d+\]", "[*]", path)
    return any(
        generic == w or generic.startswith(w + ".") or generic.startswith(w + "[") for w in writes
    )


def test_no_rule_declares_a_whole_top_level_field() -> None:
    # A frame of "netns", "conns" or "peer" would let the rule write anything
    # there unchecked; `connect` alone writes whole records: the connection
    # it opens (on either side).
    whole = {"netns", "conns", "peer", "peer[*]", "peer[*].conns", "peer[*].netns"}
    for rule in RULES.values():
        assert not whole & set(rule.writes), (rule.name, rule.writes)
        if rule.name != "connect":
            assert not {"conns[*]", "peer[*].conns[*]"} & set(rule.writes), rule.name


def test_the_frame_check_catches_a_write_outside_the_frame() -> None:
    # The same comparison on a rule given too small a frame: `endpoint
    # flush` without the id bitmap.
    rule = RULES["endpoint flush"]
    step = symbolic_step(rule.name, KernelVersion.V6_18_STABLE, Topology())
    narrowed = tuple(w for w in rule.writes if w != "netns.id_bitmap")
    outside = [
        path
        for (path, _, before), (_, _, after) in zip(
            leaves(step.pre), leaves(step.post), strict=True
        )
        if not in_frame(path, narrowed) and not before.eq(after)
    ]
    assert any(p.startswith("netns.id_bitmap") for p in outside), outside


def test_every_rule_names_its_kernel_function() -> None:
    for rule in RULES.values():
        assert rule.fn.__doc__ and rule.kernel_function in rule.fn.__doc__, rule
