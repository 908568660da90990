"""Every rule of the model, registered by importing the modules that define
them: netlink commands (endpoint_table) and PM events (pm_events)."""

from __future__ import annotations

from pmcheck.model import endpoint_table, environment, pm_events
from pmcheck.model.rules import RULES, Rule

NETLINK_RULES = tuple(r for r in RULES.values() if r.fn.__module__ == endpoint_table.__name__)
EVENT_RULES = tuple(r for r in RULES.values() if r.fn.__module__ == pm_events.__name__)
# The environment's composite step (the checker's; scenarios settle with the
# event rules it picks).
ENVIRONMENT_RULE = RULES["environment"]
assert ENVIRONMENT_RULE.fn.__module__ == environment.__name__

__all__ = ["ENVIRONMENT_RULE", "EVENT_RULES", "NETLINK_RULES", "RULES", "Rule"]
