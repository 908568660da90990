"""Kernel constants the rules use (include/uapi/linux/mptcp.h, protocol.h).

The bottom of the house: every other layer (the scenario language, the
interpreters, the renderers) takes these from here.
"""

from __future__ import annotations

import errno

# Endpoint flag bits (include/uapi/linux/mptcp.h, MPTCP_PM_ADDR_FLAG_*).
FLAG_SIGNAL = 1 << 0
FLAG_SUBFLOW = 1 << 1
FLAG_BACKUP = 1 << 2
FLAG_FULLMESH = 1 << 3
FLAG_IMPLICIT = 1 << 4
FLAG_LAMINAR = 1 << 5

AF_INET = 2
AF_INET6 = 10

MPTCP_PM_ADDR_MAX = 8  # endpoints per netns, cap of both limits
MPTCP_PM_MAX_ADDR_ID = 255
MPTCP_PM_ADDR_FLAGS_MASK = 0x3F  # GENMASK(5, 0), applied by mptcp_pm_parse_entry
ALL_IDS = (1 << 256) - 1  # bitmap_fill(id_avail_bitmap, MPTCP_PM_MAX_ADDR_ID + 1)

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
