"""IMPLBKUP: a backup endpoint that replaces an IMPLICIT entry marks its subflows.

Candidate fix for mptcp_pm_nl_add_addr_doit (pm_kernel.c): an IMPLICIT
entry (made for a passive join or a routed subflow) can be replaced by a
user endpoint with the same address; when that endpoint is a BACKUP one,
the subflows already using the address keep B clear, since only
`endpoint change` sends MP_PRIO. Send it on add too, on every subflow from
the address (mptcp_pm_mp_prio_send_ack).
"""

from pmcheck.model.constants import FLAG_BACKUP, FLAG_IMPLICIT

EXPECT = {"X1b-backup-on-replace": "HOLDS-TO-DEPTH"}


def mptcp_pm_nl_add_addr_doit(orig, k, st, inp):
    ops = k.ops
    after, out = orig(k, st, inp)
    conns = list(after.conns)
    for old, new in zip(st.netns.endp, after.netns.endp, strict=True):
        replaced = ops.and_(
            old.used,
            ops.has(old.flags, FLAG_IMPLICIT),
            new.used,
            ops.eq(new.addr, old.addr),
            ops.not_(ops.has(new.flags, FLAG_IMPLICIT)),
            ops.has(new.flags, FLAG_BACKUP),
        )
        for ci, c in enumerate(conns):
            sf = tuple(
                ops.ite(
                    ops.and_(replaced, c.used, s.used, ops.eq(s.local_addr, new.addr)),
                    s._replace(backup=ops.true()),
                    s,
                )
                for s in c.sf
            )
            conns[ci] = c._replace(sf=sf)
    return after._replace(conns=tuple(conns)), out
