"""DELAVAIL: deleting an endpoint always gives its id back on every msk.

What upstream did: d191101dee25 "mptcp: pm: in-kernel: always set ID as
avail when rm endp" (6.19-rc8, 6.18.y; closes mptcp_net-next#606).
"""

SWITCHES = {"rm_endp_always_marks_avail": True}
EXPECT = {"M2b-delete-gives-back": "HOLDS-TO-DEPTH"}
