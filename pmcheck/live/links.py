"""Stand-alone interfaces of a throw-away namespace: the dummy that carries
the addresses a scenario mentions, and the devices its endpoints name.
Runs inside the namespace (an agent or a forked child)."""

from __future__ import annotations

import errno

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

# The dummy interface that carries every address the scenario mentions.
ADDR_DEV = "pmck0"
IFA_F_NODAD = 0x02
# Link kinds for a stand-alone interface that is up with carrier and needs no
# peer: "dummy" where built (CONFIG_DUMMY), else "ifb", which this machine's
# kernel has while it lacks CONFIG_DUMMY.
DUMMY_KINDS = ("dummy", "ifb")


def add_dummy(ipr: IPRoute, dev: str) -> None:
    for kind in DUMMY_KINDS:
        try:
            ipr.link("add", ifname=dev, kind=kind)
            return
        except NetlinkError as err:
            if err.code != errno.EOPNOTSUPP:
                raise
    raise RuntimeError(f"cannot create {dev}: no link kind of {DUMMY_KINDS} is available")


def ifindex(ipr: IPRoute, dev: str) -> int:
    found = ipr.link_lookup(ifname=dev)
    if not found:
        raise RuntimeError(f"interface {dev} was not created")
    return found[0]
