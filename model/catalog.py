"""Every rule of the model, registered by importing the modules that define
them: netlink commands (endpoint_table, and on an in-kernel peer: peer),
PM events (pm_events), the wire between two in-kernel PMs (wire) and the
environment's composite step (environment)."""

from __future__ import annotations

from pmcheck.model import endpoint_table, environment, peer, pm_events, wire
from pmcheck.model.rules import RULES, Rule

NETLINK_RULES = tuple(r for r in RULES.values() if r.fn.__module__ == endpoint_table.__name__)
PEER_NETLINK_RULES = tuple(r for r in RULES.values() if r.fn.__module__ == peer.__name__)
EVENT_RULES = tuple(r for r in RULES.values() if r.fn.__module__ == pm_events.__name__)
WIRE_RULES = tuple(r for r in RULES.values() if r.fn.__module__ == wire.__name__)
# The environment's composite step (the checker's; scenarios settle with the
# event and wire rules it picks).
ENVIRONMENT_RULE = RULES["environment"]
assert ENVIRONMENT_RULE.fn.__module__ == environment.__name__

__all__ = [
    "ENVIRONMENT_RULE",
    "EVENT_RULES",
    "NETLINK_RULES",
    "PEER_NETLINK_RULES",
    "RULES",
    "WIRE_RULES",
    "Rule",
]
