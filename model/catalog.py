"""Every rule of the model, registered by importing the modules that define
them: netlink commands (endpoint_table) and PM events (pm_events)."""

from __future__ import annotations

from pmcheck.model import endpoint_table, pm_events
from pmcheck.model.rules import RULES, Rule

NETLINK_RULES = tuple(r for r in RULES.values() if r.fn.__module__ == endpoint_table.__name__)
EVENT_RULES = tuple(r for r in RULES.values() if r.fn.__module__ == pm_events.__name__)

__all__ = ["EVENT_RULES", "NETLINK_RULES", "RULES", "Rule"]
