"""F1: the C-flag filler counts every endpoint whose id it marks used.

Candidate fix for fill_local_addresses_vec_c_flag (pm_kernel.c): the loop
clears an endpoint's id bit before its family and MPC checks, and a
skipped endpoint then stays marked but uncounted, so deleting it (or a
fullmesh change) gives back a count that was never taken: the WARN in
__mark_subflow_endp_available. Count a skipped non-MPC endpoint as used,
the way 579a752464a6 does for the signal+subflow endpoint the subflow
loop never reaches.
"""

from pmcheck.model.constants import FLAG_SUBFLOW
from pmcheck.model.subflows import inc

EXPECT = {"W1-no-warn": "HOLDS-TO-DEPTH"}


def fill_local_addresses_vec_c_flag(orig, k, conn, ns, raddr):
    ops = k.ops
    c, locals_ = orig(k, conn, ns, raddr)
    used = conn.local_addr_used
    for e in ns.endp:
        newly = ops.and_(
            e.used,
            ops.has(e.flags, FLAG_SUBFLOW),
            ops.ne(e.id, conn.mpc_endpoint_id),
            ops.bit_test(conn.id_avail, e.id),
            ops.not_(ops.bit_test(c.id_avail, e.id)),
        )
        used = ops.ite(newly, inc(ops, used), used)
    return c._replace(local_addr_used=used), locals_
