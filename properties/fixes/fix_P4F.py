"""P4F: a flush resets endp_fullmesh_max.

What upstream did: 1774d3cf3cf1 (7.1-rc2, 7.0.7) added the reset to
__reset_counters. On 6.19 and 7.0 this flips P4F to PROVED.
"""

SWITCHES = {"flush_resets_fullmesh_max": True}
EXPECT = {"P4F-fullmesh-counter": "PROVED"}
