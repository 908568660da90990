"""F2: the laminar filler gives the MPC endpoint's subflow local id 0.

Candidate fix for fill_local_laminar_endp (pm_kernel.c): the local id it
returns goes through mptcp_endp_get_local_id, as its id-available test
already does, so a subflow from the initial address carries id 0.
"""

from pmcheck.model.subflows import mptcp_endp_get_local_id

EXPECT = {"M7b-initial-address-id-zero": "HOLDS-TO-DEPTH", "M8-laminar-used-once": "HOLDS-TO-DEPTH"}


def fill_local_laminar_endp(orig, k, conn, ns, raddr):
    after, locals_ = orig(k, conn, ns, raddr)
    first = locals_[0]
    mapped = first._replace(id=mptcp_endp_get_local_id(k.ops, conn, first.id))
    return after, (mapped, *locals_[1:])


# Measured: HOLDS-TO-DEPTH 6 in the default connection scope (199 s).
