"""F3: a flush forgets the MPC endpoint on every connection (mpc_endpoint_id = 0).

Candidate fix for mptcp_pm_flush_addrs_and_subflows (pm_kernel.c): after the
flush no endpoint is the MPC one, so a later endpoint that gets the same id
(next_id restarts at 1) is not mistaken for it: its subflows keep their own
id instead of 0, and mpc_endpoint_id never names a missing endpoint.
"""

from pmcheck.model.state import State

EXPECT = {
    "M6-mpc-endpoint-exists": "HOLDS-TO-DEPTH",
    "M7-local-id-zero": "HOLDS-TO-DEPTH",
}


def mptcp_pm_flush_addrs_and_subflows(orig, k, st, flushed) -> State:
    st = orig(k, st, flushed)
    zero = k.ops.const(0, 8)
    conns = tuple(k.ops.ite(c.used, c._replace(mpc_endpoint_id=zero), c) for c in st.conns)
    return st._replace(conns=conns)


# Measured: both HOLDS-TO-DEPTH 6 in the default connection scope (M6
# 24 s, M7 252 s); neither is 1-inductive there, so no proof is claimed.
