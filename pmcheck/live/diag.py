"""The kernel's own view of a connection's subflows, via sock_diag.

Each MPTCP subflow is a TCP socket with the "mptcp" ULP. An inet_diag dump
(NETLINK_SOCK_DIAG, what `ss -tiM` uses) of TCP sockets returns, for those,
an INET_DIAG_ULP_INFO nest whose INET_ULP_INFO_MPTCP part carries the
subflow's local/remote token, local_id, remote_id and flag bits (net/mptcp/
diag.c, subflow_get_info). Needs CAP_NET_ADMIN in the namespace.

Why both this and the event stream: the event stream is a replay and needs a
`mptcp_pm_events` listener, and any such listener (in ANY namespace: the
kernel's genl_has_listeners() check is global) makes a userspace-PM peer
accept MP_JOINs. While the testbed refuses joins, this dump is the only
source of local/remote ids.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass

from pmcheck.live.events import iter_attrs, plain_addr

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_DONE = 3
NLMSG_ERROR = 2
INET_DIAG_INFO = 2
INET_DIAG_ULP_INFO = 19
INET_ULP_INFO_NAME = 1
INET_ULP_INFO_MPTCP = 3
TCP_ESTABLISHED = 1
TCP_SYN_SENT = 2

# enum MPTCP_SUBFLOW_ATTR_* (include/uapi/linux/mptcp.h)
SF_TOKEN_REM = 1
SF_TOKEN_LOC = 2
SF_FLAGS = 8
SF_ID_REM = 9
SF_ID_LOC = 10
# MPTCP_SUBFLOW_FLAG_*
SF_FLAG_JOIN_REM = 1 << 2
SF_FLAG_JOIN_LOC = 1 << 3
SF_FLAG_BKUP_REM = 1 << 4
SF_FLAG_BKUP_LOC = 1 << 5
SF_FLAG_FULLY_ESTABLISHED = 1 << 6
SF_FLAG_CONNECTED = 1 << 7
SF_FLAG_MAPVALID = 1 << 8

_NLMSG = struct.Struct("=IHHII")
_REQ = struct.Struct("=BBBxI48s")  # inet_diag_req_v2: family, protocol, ext, pad, states, id
_MSG = struct.Struct("=BBBB2s2s16s16sI8sIIIII")  # inet_diag_msg


@dataclass(frozen=True)
class DiagSubflow:
    """One TCP subflow socket as sock_diag reports it."""

    saddr: str
    sport: int
    daddr: str
    dport: int
    state: int  # TCP state (1 = ESTABLISHED)
    token_loc: int
    token_rem: int
    loc_id: int
    rem_id: int
    flags: int  # MPTCP_SUBFLOW_FLAG_*

    @property
    def backup(self) -> bool:
        return bool(self.flags & (SF_FLAG_BKUP_REM | SF_FLAG_BKUP_LOC))


def _request(family: int) -> bytes:
    body = _REQ.pack(family, socket.IPPROTO_TCP, 1 << (INET_DIAG_INFO - 1), 0xFFFFFFFF, b"")
    header = _NLMSG.pack(
        _NLMSG.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0
    )
    return header + body


def _subflow(family: int, body: bytes) -> DiagSubflow | None:
    fields = _MSG.unpack_from(body)
    _fam, state, _timer, _retrans, sport, dport, src, dst = fields[:8]
    size = 4 if family == socket.AF_INET else 16
    mptcp: dict[int, bytes] | None = None
    for kind, data in iter_attrs(body[_MSG.size :]):
        if kind != INET_DIAG_ULP_INFO:
            continue
        ulp = dict(iter_attrs(data))
        if ulp.get(INET_ULP_INFO_NAME, b"").rstrip(b"\0") == b"mptcp":
            mptcp = dict(iter_attrs(ulp.get(INET_ULP_INFO_MPTCP, b"")))
    if mptcp is None:
        return None

    def u32(key: int) -> int:
        return struct.unpack("=I", mptcp[key][:4])[0] if key in mptcp else 0

    def u8(key: int) -> int:
        return mptcp[key][0] if key in mptcp else 0

    return DiagSubflow(
        saddr=plain_addr(str(ipaddress.ip_address(src[:size]))),
        sport=struct.unpack("!H", sport)[0],
        daddr=plain_addr(str(ipaddress.ip_address(dst[:size]))),
        dport=struct.unpack("!H", dport)[0],
        state=state,
        token_loc=u32(SF_TOKEN_LOC),
        token_rem=u32(SF_TOKEN_REM),
        loc_id=u8(SF_ID_LOC),
        rem_id=u8(SF_ID_REM),
        flags=u32(SF_FLAGS),
    )


def _dump(family: int) -> list[DiagSubflow]:
    found: list[DiagSubflow] = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as sock:
        sock.bind((0, 0))
        sock.send(_request(family))
        while True:
            buf = sock.recv(1 << 16)
            offset = 0
            while offset + _NLMSG.size <= len(buf):
                length, msg_type = _NLMSG.unpack_from(buf, offset)[:2]
                if msg_type == NLMSG_DONE:
                    return found
                if msg_type == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", buf, offset + _NLMSG.size)[0]
                    raise OSError(code, f"sock_diag dump failed: errno {code}")
                row = _subflow(family, buf[offset + _NLMSG.size : offset + length])
                if row is not None:
                    found.append(row)
                offset += (length + 3) & ~3


def mptcp_subflows(token: int | None = None) -> tuple[DiagSubflow, ...]:
    """Every MPTCP subflow socket of this namespace (of the connection whose
    LOCAL token is `token`, if given), any TCP state, v4 and v6."""
    rows = _dump(socket.AF_INET) + _dump(socket.AF_INET6)
    if token is not None:
        rows = [r for r in rows if r.token_loc == token]
    return tuple(sorted(rows, key=lambda r: (r.saddr, r.sport, r.daddr, r.dport)))


SOCK_DESTROY = 21
INET_DIAG_NOCOOKIE = 0xFFFFFFFF
_SOCKID = struct.Struct("!HH16s16s")  # sport, dport, src, dst (then if, cookie, host order)


def destroy(row: DiagSubflow) -> None:
    """SOCK_DESTROY one TCP subflow socket by its 4-tuple (CONFIG_INET_DIAG_
    DESTROY, what `ss -K` sends): the kernel aborts it with an RST."""
    v6 = ":" in row.saddr
    family = socket.AF_INET6 if v6 else socket.AF_INET
    size = 16 if v6 else 4

    def raw(addr: str) -> bytes:
        return ipaddress.ip_address(addr).packed[:size].ljust(16, b"\0")

    sockid = _SOCKID.pack(row.sport, row.dport, raw(row.saddr), raw(row.daddr))
    sockid += struct.pack("=III", 0, INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE)
    body = struct.pack("=BBBxI", family, socket.IPPROTO_TCP, 0, 0xFFFFFFFF) + sockid
    header = _NLMSG.pack(_NLMSG.size + len(body), SOCK_DESTROY, NLM_F_REQUEST | 0x4, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as sock:
        sock.bind((0, 0))
        sock.send(header + body)
        buf = sock.recv(1 << 16)
    msg_type = _NLMSG.unpack_from(buf)[1]
    if msg_type == NLMSG_ERROR:
        code = -struct.unpack_from("=i", buf, _NLMSG.size)[0]
        if code:
            raise OSError(code, f"SOCK_DESTROY {row.saddr}:{row.sport} -> {row.daddr}:{row.dport}")
