"""CFLAG: the C-flag case accepts one ADD_ADDR, as its comment says.

Candidate fix for mptcp_pm_add_addr_c_flag_case (protocol.h): also require
add_addr_accepted == 0, so laminar-only endpoints (which never raise
local_addr_used) no longer let every ADD_ADDR in up to the subflows limit.
"""

EXPECT = {"M4-add-addr-accepted-limit": "HOLDS-TO-DEPTH"}


def mptcp_pm_add_addr_c_flag_case(orig, k, conn, ns):
    ops = k.ops
    return ops.and_(orig(k, conn, ns), ops.eq(conn.add_addr_accepted, ops.const(0, 8)))
