"""Kernel constants the rules use (include/uapi/linux/mptcp.h, protocol.h)."""

from __future__ import annotations

import errno

from pmcheck.scenario.ast import (
    AF_INET,
    AF_INET6,
    FLAG_BACKUP,
    FLAG_FULLMESH,
    FLAG_IMPLICIT,
    FLAG_LAMINAR,
    FLAG_SIGNAL,
    FLAG_SUBFLOW,
)

__all__ = [
    "AF_INET",
    "AF_INET6",
    "FLAG_BACKUP",
    "FLAG_FULLMESH",
    "FLAG_IMPLICIT",
    "FLAG_LAMINAR",
    "FLAG_SIGNAL",
    "FLAG_SUBFLOW",
]

MPTCP_PM_ADDR_MAX = 8  # endpoints per netns, cap of both limits
MPTCP_PM_MAX_ADDR_ID = 255
MPTCP_PM_ADDR_FLAGS_MASK = 0x3F  # GENMASK(5, 0), applied by mptcp_pm_parse_entry

EINVAL = errno.EINVAL
ERANGE = errno.ERANGE
EBUSY = errno.EBUSY
EEXIST = errno.EEXIST
EOPNOTSUPP = errno.EOPNOTSUPP
EADDRINUSE = errno.EADDRINUSE

# Extack messages, by index: the model carries the index (a small BV) and the
# renderers print the text. Texts are the kernel's, format arguments filled in.
EXTACK = (
    None,
    "missing family",
    "unknown address family",
    "flags must have signal and not subflow when using port",
    "flags mustn't have both signal and fullmesh",
    "can't create IMPLICIT endpoint",
    "too many addresses or duplicate one: -34",
    "too many addresses or duplicate one: -16",
    "too many addresses or duplicate one: -17",
    "too many addresses or duplicate one: -22",
    "address not found",
    "missing address ID",
    "invalid addr flags",
    "limit greater than maximum (8)",
    "create listen socket error: -98",
)
MSG = {text: i for i, text in enumerate(EXTACK) if text is not None}
MSG_NONE = 0
