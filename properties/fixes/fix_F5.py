"""F5: a BACKUP change reaches every subflow from the endpoint's address.

Candidate fix for mptcp_pm_mp_prio_send_ack (pm.c): send MP_PRIO on every
subflow whose local address matches, not only the first one.
"""

EXPECT = {"X1-backup-reflected": "HOLDS-TO-DEPTH"}

# X1 assumes fix-IMPLBKUP: the other way a subflow misses its endpoint's
# BACKUP flag (an IMPLICIT entry replaced by a backup endpoint, no MP_PRIO
# on add) is X1b's, with this fix assumed there.


def mptcp_pm_mp_prio_send_ack(orig, k, conn, first, bkup):
    ops = k.ops
    chosen = ops.or_(*first)
    addr = conn.sf[0].local_addr
    for f, s in zip(first, conn.sf, strict=True):
        addr = ops.ite(f, s.local_addr, addr)
    every = [ops.and_(chosen, s.used, ops.eq(s.local_addr, addr)) for s in conn.sf]
    return orig(k, conn, every, bkup)
