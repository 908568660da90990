"""Userspace-PM commands of the `mptcp_pm` family (the peer's side).

genl.PmClient deliberately cannot send a TOKEN attribute (it would route an
in-kernel-PM command to the userspace PM). This client sends only the four
userspace-PM commands, which all need the connection token:

- ANNOUNCE (8): TOKEN + ADDR{family, addr, id, SIGNAL flag[, port]};
  without the SIGNAL flag the kernel answers EINVAL;
- REMOVE (9): TOKEN + LOC_ID (top level, u8);
- SUBFLOW_CREATE (10): TOKEN + ADDR{local, id, flags} + ADDR_REMOTE{addr, port};
  the local id travels inside the ADDR nest;
- SUBFLOW_DESTROY (11): TOKEN + ADDR{local, port} + ADDR_REMOTE{addr, port}.

Numbers from include/uapi/linux/mptcp_pm.h (Documentation/netlink/specs/mptcp_pm.yaml).
"""

from __future__ import annotations

from typing import Any

from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST, genlmsg
from pyroute2.netlink.exceptions import NetlinkError

from pmcheck.live.genl import (
    GENL_VERSION,
    AddrSpec,
    GenlClient,
    MptcpPmMsg,
    Reply,
    _addr_nest,
    _extack,
)

CMD_ANNOUNCE = 8
CMD_REMOVE = 9
CMD_SUBFLOW_CREATE = 10
CMD_SUBFLOW_DESTROY = 11

FLAG_SIGNAL = 0x1
FLAG_BACKUP = 0x4


class UpmMsg(genlmsg):
    """`mptcp_pm` message with the userspace-PM attributes."""

    prefix = "MPTCP_PM_ATTR_"
    nla_map = (
        (0, "MPTCP_PM_ATTR_UNSPEC", "none"),
        (1, "MPTCP_PM_ATTR_ADDR", "pm_addr"),
        (2, "MPTCP_PM_ATTR_RCV_ADD_ADDRS", "uint32"),
        (3, "MPTCP_PM_ATTR_SUBFLOWS", "uint32"),
        (4, "MPTCP_PM_ATTR_TOKEN", "uint32"),
        (5, "MPTCP_PM_ATTR_LOC_ID", "uint8"),
        (6, "MPTCP_PM_ATTR_ADDR_REMOTE", "pm_addr"),
    )

    # The same nested address as the in-kernel PM's messages.
    pm_addr = MptcpPmMsg.pm_addr


def family_of(addr: str) -> int:
    return 10 if ":" in addr else 2


class UpmClient(GenlClient):
    """Userspace-PM commands in the caller's namespace. Kernel errors come
    back as `Reply(errno, extack)`, they never raise."""

    msg_class = UpmMsg

    def _do(self, cmd: int, attrs: list[Any]) -> Reply:
        msg = UpmMsg()
        msg["cmd"] = cmd
        msg["version"] = GENL_VERSION
        msg["attrs"] = attrs
        try:
            list(
                self._sock.nlm_request(
                    msg, msg_type=self._sock.prid, msg_flags=NLM_F_REQUEST | NLM_F_ACK
                )
            )
        except NetlinkError as err:
            return Reply(errno=err.code, extack=_extack(err))
        return Reply(errno=0)

    def announce(self, token: int, addr: str, id_: int, port: int = 0) -> Reply:
        spec = AddrSpec(
            family=family_of(addr), addr=addr, id=id_, port=port or None, flags=FLAG_SIGNAL
        )
        return self._do(CMD_ANNOUNCE, [("MPTCP_PM_ATTR_TOKEN", token), _addr_nest(spec)])

    def remove(self, token: int, id_: int) -> Reply:
        return self._do(CMD_REMOVE, [("MPTCP_PM_ATTR_TOKEN", token), ("MPTCP_PM_ATTR_LOC_ID", id_)])

    def subflow_create(
        self,
        token: int,
        local: str,
        local_id: int,
        remote: str,
        remote_port: int,
        backup: bool = False,
    ) -> Reply:
        loc = AddrSpec(
            family=family_of(local), addr=local, id=local_id, flags=FLAG_BACKUP if backup else None
        )
        rem = AddrSpec(family=family_of(remote), addr=remote, port=remote_port)
        return self._do(
            CMD_SUBFLOW_CREATE,
            [
                ("MPTCP_PM_ATTR_TOKEN", token),
                _addr_nest(loc),
                _addr_nest(rem, "MPTCP_PM_ATTR_ADDR_REMOTE"),
            ],
        )

    def subflow_destroy(
        self, token: int, local: str, local_port: int, remote: str, remote_port: int
    ) -> Reply:
        loc = AddrSpec(family=family_of(local), addr=local, port=local_port)
        rem = AddrSpec(family=family_of(remote), addr=remote, port=remote_port)
        return self._do(
            CMD_SUBFLOW_DESTROY,
            [
                ("MPTCP_PM_ATTR_TOKEN", token),
                _addr_nest(loc),
                _addr_nest(rem, "MPTCP_PM_ATTR_ADDR_REMOTE"),
            ],
        )
