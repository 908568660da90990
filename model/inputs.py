"""Rule inputs and outcomes: the parameters of one netlink command.

Inputs are records like the state, so the checker can make them symbolic
(one fresh variable per field per step) and a trace decodes by evaluation.
The scenario layer (pmcheck.scenario.lower) builds them from parsed lines.
"""

from __future__ import annotations

from typing import NamedTuple

from pmcheck.model.backend import Value
from pmcheck.model.state import BOOL, WIDTHS


class AddrInput(NamedTuple):
    """MPTCP_PM_ENDPOINT_ADDR as `mptcp_pm_parse_entry` reads it."""

    family: Value  # 0 = attribute absent
    addr: Value
    port: Value
    has_id: Value  # Bool: the ID attribute was present (6.18 needs_id)
    id: Value
    flags: Value  # already masked to 8 bits; the rule masks GENMASK(5,0)
    ifindex: Value


class LimitsInput(NamedTuple):
    """MPTCP_PM_ATTR_RCV_ADD_ADDRS / MPTCP_PM_ATTR_SUBFLOWS (u32, optional)."""

    has_add_addr_accepted: Value
    add_addr_accepted: Value
    has_subflows: Value
    subflows: Value


class EventInput(NamedTuple):
    """Parameters of a connection or peer event."""

    conn: Value  # which connection slot
    laddr: Value  # host-side address key
    raddr: Value  # peer-side address key
    rid: Value  # the peer's address id (ADD_ADDR / RM_ADDR / MP_JOIN)
    port: Value  # 0 = none
    flag: Value  # Bool: deny_join_id0 (connect) / accepted (join result)
    server: Value  # Bool: connect: the host is the passive side
    slot: Value  # subflow or announcement slot an environment event is about
    side: Value = False  # Bool, in-kernel peer only: the event is about the peer's side


class Outcome(NamedTuple):
    """What a command returned: errno (0 = ok), extack index, a value."""

    errno: Value
    msg: Value
    value: Value  # the new endpoint id for add, else 0


INPUT_WIDTHS: dict[str, int] = {
    **WIDTHS,
    "has_id": BOOL,
    "has_add_addr_accepted": BOOL,
    "add_addr_accepted": 32,
    "has_subflows": BOOL,
    "subflows": 32,
    "conn": 8,
    "laddr": 8,
    "raddr": 8,
    "rid": 8,
    "flag": BOOL,
    "server": BOOL,
    "slot": 8,
    "side": BOOL,
    "errno": 8,
    "msg": 8,
    "value": 8,
}

NO_ADDR = AddrInput(0, 0, 0, False, 0, 0, 0)
NO_LIMITS = LimitsInput(False, 0, False, 0)
NO_EVENT = EventInput(0, 0, 0, 0, 0, False, False, 0, False)
