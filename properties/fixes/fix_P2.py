"""P2: an explicit `id 0` on endpoint add gets an auto-assigned id.

What upstream did: 8e2760eaab77 (v7.0, backported to 6.18.y) reverted
needs_id in mptcp_pm_nl_append_new_local_addr. On 6.18 and 6.19 this
flips P2 to PROVED.
"""

SWITCHES = {"explicit_id0_creates_id0": False}
EXPECT = {"P2-id-bitmap": "PROVED"}
