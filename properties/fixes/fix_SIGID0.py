"""SIGID0: the subflow loop sees the signal+subflow endpoint's own id.

Candidate fix for mptcp_pm_create_subflow_or_signal_addr (pm_kernel.c):
the "special case for ID0" rewrites the announced entry's id to 0 when it
is the MPC endpoint, and the subflow loop reuses that entry; its own MPC
test (id == mpc_endpoint_id) then fails, so local_addr_used counts the MPC
endpoint. Keep the rewritten id for the ADD_ADDR only: the loop gets the
endpoint as it is in the table.
"""

from pmcheck.model.local_ids import select_signal_address

EXPECT = {"M1b-local-addr-used-at-most": "HOLDS-TO-DEPTH"}


def announce_signal_address(orig, k, conn, ns):
    _, raw = select_signal_address(k.ops, conn, ns)
    conn, failed, sas, sig = orig(k, conn, ns)
    return conn, failed, sas, sig._replace(id=raw.id)
