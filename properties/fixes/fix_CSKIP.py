"""CSKIP: a signal+subflow endpoint is counted even when no subflow loop runs.

What upstream did: 579a752464a6 "mptcp: pm: in-kernel: always mark
signal+subflow endp as used" (7.0-rc2, 6.18.y; closes mptcp_net-next#613).
On 6.18 and 6.19 the peer's C flag makes mptcp_pm_create_subflow_or_signal_addr
skip the subflow loop after the signal part marked the endpoint's id used.
"""

SWITCHES = {"signal_subflow_always_used": True}
EXPECT = {"M1-local-addr-used": "HOLDS-TO-DEPTH"}
