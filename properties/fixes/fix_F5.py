"""F5: a BACKUP change reaches every subflow from the endpoint's address.

Candidate fix for mptcp_pm_mp_prio_send_ack (pm.c): send MP_PRIO on every
subflow whose local address matches, not only the first one.
"""

# Not a whole fix for X1: `pmcheck check X1 --kernel 6.18-stable+fix-F5`
# still finds a 6-step violation (an IMPLICIT entry replaced by a backup
# endpoint; no MP_PRIO on endpoint add), so no verdict change is claimed.


def mptcp_pm_mp_prio_send_ack(orig, k, conn, first, bkup):
    ops = k.ops
    chosen = ops.or_(*first)
    addr = conn.sf[0].local_addr
    for f, s in zip(first, conn.sf, strict=True):
        addr = ops.ite(f, s.local_addr, addr)
    every = [ops.and_(chosen, s.used, ops.eq(s.local_addr, addr)) for s in conn.sf]
    return orig(k, conn, every, bkup)
