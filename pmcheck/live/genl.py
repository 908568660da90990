"""A small generic-netlink client for the `mptcp_pm` family (in-kernel PM commands).

pyroute2's own `MPTCP` class lacks SET_FLAGS and hides which attributes are
sent, and pmcheck must control exactly that (e.g. an `ID` attribute of 0 is a
different request from no `ID` attribute). So this module sends raw requests
whose address nest holds exactly the attributes the caller asked for, and
turns replies and errors into plain data.

The numbers below are from include/uapi/linux/mptcp_pm.h and agree with
pyroute2's `pyroute2/netlink/generic/mptcp.py`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from pyroute2.netlink import NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, genlmsg, nla
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.generic import GenericNetlinkSocket

GENL_NAME = "mptcp_pm"
GENL_VERSION = 1

# enum mptcp_pm_cmd
CMD_ADD_ADDR = 1
CMD_DEL_ADDR = 2
CMD_GET_ADDR = 3
CMD_FLUSH_ADDRS = 4
CMD_SET_LIMITS = 5
CMD_GET_LIMITS = 6
CMD_SET_FLAGS = 7

NLA_F_NESTED = 0x8000


class MptcpPmMsg(genlmsg):
    """`mptcp_pm` message. Only the attributes the in-kernel PM commands use;
    the userspace-PM ones (TOKEN=4, LOC_ID=5, ADDR_REMOTE=6) are left out on
    purpose, since a TOKEN attribute would route the command to the
    userspace PM."""

    prefix = "MPTCP_PM_ATTR_"
    nla_map = (
        (0, "MPTCP_PM_ATTR_UNSPEC", "none"),
        (1, "MPTCP_PM_ATTR_ADDR", "pm_addr"),  # nested, below
        (2, "MPTCP_PM_ATTR_RCV_ADD_ADDRS", "uint32"),  # limit add_addr_accepted
        (3, "MPTCP_PM_ATTR_SUBFLOWS", "uint32"),  # limit subflows
    )

    class pm_addr(nla):  # lower case: pyroute2 finds nested types by this name
        """enum mptcp_pm_addr_attrs (the nested endpoint address)."""

        prefix = "MPTCP_PM_ADDR_ATTR_"
        nla_map = (
            (0, "MPTCP_PM_ADDR_ATTR_UNSPEC", "none"),
            (1, "MPTCP_PM_ADDR_ATTR_FAMILY", "uint16"),
            (2, "MPTCP_PM_ADDR_ATTR_ID", "uint8"),
            # 'ipaddr' encodes by the text (':' means v6) and decodes by length.
            (3, "MPTCP_PM_ADDR_ATTR_ADDR4", "ipaddr"),
            (4, "MPTCP_PM_ADDR_ATTR_ADDR6", "ipaddr"),
            (5, "MPTCP_PM_ADDR_ATTR_PORT", "uint16"),  # host byte order
            (6, "MPTCP_PM_ADDR_ATTR_FLAGS", "uint32"),
            (7, "MPTCP_PM_ADDR_ATTR_IF_IDX", "int32"),
        )


@dataclass(frozen=True)
class AddrSpec:
    """The address nest of a request. None means: do not send that attribute."""

    family: int | None = None
    addr: str | None = None  # sent as ADDR4 for AF_INET, else ADDR6
    id: int | None = None
    port: int | None = None
    flags: int | None = None
    ifindex: int | None = None


@dataclass(frozen=True)
class RawEndpoint:
    """One endpoint as the kernel reported it (absent attributes as 0 / "")."""

    id: int
    family: int
    addr: str
    port: int
    flags: int
    ifindex: int


@dataclass(frozen=True)
class Reply:
    """The outcome of one request: errno 0 on success, else the positive errno."""

    errno: int
    extack: str | None = None
    endpoints: tuple[RawEndpoint, ...] = ()
    limits: tuple[int, int] | None = None  # (rcv_add_addrs, subflows)


def _addr_nest(spec: AddrSpec, name: str = "MPTCP_PM_ATTR_ADDR") -> tuple[str, dict[str, Any], int]:
    """An address nest (MPTCP_PM_ATTR_ADDR, or ADDR_REMOTE for the userspace
    PM) with exactly the attributes `spec` sets."""
    attrs: list[tuple[str, Any]] = []
    if spec.family is not None:
        attrs.append(("MPTCP_PM_ADDR_ATTR_FAMILY", spec.family))
    if spec.id is not None:
        attrs.append(("MPTCP_PM_ADDR_ATTR_ID", spec.id))
    if spec.addr is not None:
        kind = "ADDR4" if spec.family == 2 else "ADDR6"
        attrs.append((f"MPTCP_PM_ADDR_ATTR_{kind}", spec.addr))
    if spec.port is not None:
        attrs.append(("MPTCP_PM_ADDR_ATTR_PORT", spec.port))
    if spec.flags is not None:
        attrs.append(("MPTCP_PM_ADDR_ATTR_FLAGS", spec.flags))
    if spec.ifindex is not None:
        attrs.append(("MPTCP_PM_ADDR_ATTR_IF_IDX", spec.ifindex))
    # The kernel parses the nest with nla_parse_nested(), which wants the flag.
    return (name, {"attrs": attrs}, NLA_F_NESTED)


def _endpoint(msg: Any) -> RawEndpoint | None:
    nest = msg.get_attr("MPTCP_PM_ATTR_ADDR")
    if nest is None:
        return None
    addr = nest.get_attr("MPTCP_PM_ADDR_ATTR_ADDR4") or nest.get_attr("MPTCP_PM_ADDR_ATTR_ADDR6")
    return RawEndpoint(
        id=nest.get_attr("MPTCP_PM_ADDR_ATTR_ID") or 0,
        family=nest.get_attr("MPTCP_PM_ADDR_ATTR_FAMILY") or 0,
        addr=addr or "",
        port=nest.get_attr("MPTCP_PM_ADDR_ATTR_PORT") or 0,
        flags=nest.get_attr("MPTCP_PM_ADDR_ATTR_FLAGS") or 0,
        ifindex=nest.get_attr("MPTCP_PM_ADDR_ATTR_IF_IDX") or 0,
    )


def _extack(err: NetlinkError) -> str | None:
    """pyroute2 puts NLMSGERR_ATTR_MSG in args[1], or strerror() when the
    kernel sent no message; tell the two apart."""
    text = err.args[1] if len(err.args) > 1 else None
    if not text or text == os.strerror(err.code):
        return None
    return str(text)


class GenlClient:
    """A `mptcp_pm` generic-netlink socket bound to a message class; the
    lifecycle shared by the in-kernel PM client and the userspace-PM one."""

    msg_class: type[genlmsg]

    def __init__(self) -> None:
        # ext_ack asks the kernel for the human-readable error text.
        self._sock = GenericNetlinkSocket(ext_ack=True)
        try:
            self._sock.bind(GENL_NAME, self.msg_class)
        except BaseException:
            self._sock.close()
            raise

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PmClient(GenlClient):
    """A `mptcp_pm` socket in the caller's current network namespace.

    Use as a context manager. Every method returns a `Reply`; kernel errors
    never raise (socket-level failures still do).
    """

    msg_class = MptcpPmMsg

    def _request(self, cmd: int, attrs: list[Any], flags: int) -> tuple[Reply, list[Any]]:
        msg = MptcpPmMsg()
        msg["cmd"] = cmd
        msg["version"] = GENL_VERSION
        msg["attrs"] = attrs
        try:
            msgs = list(self._sock.nlm_request(msg, msg_type=self._sock.prid, msg_flags=flags))
        except NetlinkError as err:
            return Reply(errno=err.code, extack=_extack(err)), []
        return Reply(errno=0), msgs

    def _do(self, cmd: int, attrs: list[Any]) -> Reply:
        return self._request(cmd, attrs, NLM_F_REQUEST | NLM_F_ACK)[0]

    def add_addr(self, spec: AddrSpec) -> Reply:
        return self._do(CMD_ADD_ADDR, [_addr_nest(spec)])

    def del_addr(self, spec: AddrSpec) -> Reply:
        return self._do(CMD_DEL_ADDR, [_addr_nest(spec)])

    def flush(self) -> Reply:
        return self._do(CMD_FLUSH_ADDRS, [])

    def set_flags(self, spec: AddrSpec) -> Reply:
        return self._do(CMD_SET_FLAGS, [_addr_nest(spec)])

    def set_limits(self, rcv_add_addrs: int | None = None, subflows: int | None = None) -> Reply:
        attrs: list[Any] = []
        if rcv_add_addrs is not None:
            attrs.append(("MPTCP_PM_ATTR_RCV_ADD_ADDRS", rcv_add_addrs))
        if subflows is not None:
            attrs.append(("MPTCP_PM_ATTR_SUBFLOWS", subflows))
        return self._do(CMD_SET_LIMITS, attrs)

    def get_addr(self, id_: int) -> Reply:
        """GET_ADDR doit: the kernel looks the endpoint up by ID only."""
        reply, msgs = self._request(
            CMD_GET_ADDR, [_addr_nest(AddrSpec(id=id_))], NLM_F_REQUEST | NLM_F_ACK
        )
        return _with_endpoints(reply, msgs)

    def dump_addrs(self) -> Reply:
        reply, msgs = self._request(CMD_GET_ADDR, [], NLM_F_REQUEST | NLM_F_DUMP)
        return _with_endpoints(reply, msgs)

    def get_limits(self) -> Reply:
        reply, msgs = self._request(CMD_GET_LIMITS, [], NLM_F_REQUEST | NLM_F_ACK)
        for msg in msgs:
            if msg.get_attr("MPTCP_PM_ATTR_SUBFLOWS") is not None:
                limits = (
                    msg.get_attr("MPTCP_PM_ATTR_RCV_ADD_ADDRS") or 0,
                    msg.get_attr("MPTCP_PM_ATTR_SUBFLOWS") or 0,
                )
                return Reply(errno=reply.errno, extack=reply.extack, limits=limits)
        return reply


def _with_endpoints(reply: Reply, msgs: list[Any]) -> Reply:
    # The ACK (an NLMSG_ERROR with error 0) comes back in the same list; it
    # has no ADDR attribute, so _endpoint() drops it.
    rows = tuple(e for e in (_endpoint(m) for m in msgs) if e is not None)
    return Reply(errno=reply.errno, extack=reply.extack, endpoints=rows)
