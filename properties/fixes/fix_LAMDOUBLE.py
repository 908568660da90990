"""LAMDOUBLE: the laminar filler counts an endpoint only if its id was free.

Candidate fix for fill_local_laminar_endp (pm_kernel.c): it picks a LAMINAR
endpoint that no live subflow uses, which says nothing about the id
bitmap: a subflow+laminar endpoint the subflow loop already counted (its
subflow since closed) is cleared and counted a second time. Count it only
when clearing the bit changes it, as __test_and_clear_bit would.
"""

from pmcheck.model.constants import FLAG_SUBFLOW
from pmcheck.model.subflows import dec

EXPECT = {"M2-used-within-endpoints": "HOLDS-TO-DEPTH"}


def fill_local_laminar_endp(orig, k, conn, ns, raddr):
    ops = k.ops
    c, locals_ = orig(k, conn, ns, raddr)
    lam = locals_[0]
    again = ops.false()
    for e in ns.endp:
        again = ops.or_(
            again,
            ops.and_(
                lam.valid,
                e.used,
                ops.eq(e.id, lam.id),
                ops.has(e.flags, FLAG_SUBFLOW),
                ops.ne(e.id, conn.mpc_endpoint_id),
                ops.not_(ops.bit_test(conn.id_avail, e.id)),
            ),
        )
    return c._replace(
        local_addr_used=ops.ite(again, dec(ops, c.local_addr_used), c.local_addr_used)
    ), locals_
