"""Reading a connection's state from its socket and the namespace's MIB.

- `read_mptcp_info`: getsockopt(SOL_MPTCP, MPTCP_INFO), `struct mptcp_info`
  parsed with ONE struct format (offsets in live-kernel-harness.md);
- `read_subflow_addrs`: getsockopt(SOL_MPTCP, MPTCP_SUBFLOW_ADDRS), the
  address pairs of every subflow in the msk's list. This option reads a
  header from the caller's buffer, which Python's socket.getsockopt cannot
  pass, so it goes through libc via ctypes;
- `read_mib`: the `MPTcpExt` counters of /proc/net/netstat (per netns: the
  reader's namespace).
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass, fields

SOL_MPTCP = 284
MPTCP_INFO = 1
MPTCP_SUBFLOW_ADDRS = 3
IPPROTO_MPTCP = 262

# struct mptcp_info on 6.18 (96 bytes). x = padding/holes as in the uapi struct.
_INFO = struct.Struct(
    "<"
    "6B"  # subflows, add_addr_signal, add_addr_accepted, subflows_max,
    #       add_addr_signal_max, add_addr_accepted_max
    "2x"
    "I"  # flags
    "I"  # token
    "3Q"  # write_seq, snd_una, rcv_nxt
    "3B"  # local_addr_used, local_addr_max, csum_enabled
    "x"
    "I"  # retransmits
    "4Q"  # bytes_retrans, bytes_sent, bytes_received, bytes_acked
    "4B"  # subflows_total, endp_laminar_max, reserved (6.19: endp_fullmesh_max), reserved
    "3I"  # last_data_sent, last_data_recv, last_ack_recv
)
assert _INFO.size == 96

# mptcpi_flags
INFO_FLAG_FALLBACK = 1
INFO_FLAG_REMOTE_KEY_RECEIVED = 2


@dataclass(frozen=True)
class MptcpInfo:
    """`struct mptcp_info`, field names without the `mptcpi_` prefix."""

    subflows: int  # msk->pm.extra_subflows
    add_addr_signal: int
    add_addr_accepted: int
    subflows_max: int
    add_addr_signal_max: int
    add_addr_accepted_max: int
    flags: int
    token: int
    write_seq: int
    snd_una: int
    rcv_nxt: int
    local_addr_used: int
    local_addr_max: int
    csum_enabled: int
    retransmits: int
    bytes_retrans: int
    bytes_sent: int
    bytes_received: int
    bytes_acked: int
    subflows_total: int
    endp_laminar_max: int
    reserved82: int
    reserved83: int
    last_data_sent: int
    last_data_recv: int
    last_ack_recv: int

    def pm_view(self) -> tuple[int, ...]:
        """The PM fields only: what `settle` compares (byte and time counters
        change without the PM doing anything)."""
        return tuple(getattr(self, name) for name in PM_FIELDS)


PM_FIELDS = (
    "subflows", "add_addr_signal", "add_addr_accepted", "subflows_max",
    "add_addr_signal_max", "add_addr_accepted_max", "flags", "local_addr_used",
    "local_addr_max", "subflows_total", "endp_laminar_max",
)  # fmt: skip
assert len(fields(MptcpInfo)) == 26


def parse_mptcp_info(data: bytes) -> MptcpInfo:
    # A newer kernel may return a longer struct; an older one a shorter (zero-fill).
    data = data[: _INFO.size].ljust(_INFO.size, b"\0")
    return MptcpInfo(*_INFO.unpack(data))


def read_mptcp_info(sock: socket.socket) -> MptcpInfo:
    return parse_mptcp_info(sock.getsockopt(SOL_MPTCP, MPTCP_INFO, _INFO.size))


# --- MPTCP_SUBFLOW_ADDRS ------------------------------------------------------------

_SUBFLOW_DATA = struct.Struct("=4I")  # size_subflow_data, num_subflows, size_kernel, size_user
_ADDRS_SIZE = 256  # two __kernel_sockaddr_storage
_MAX_SUBFLOWS = 32

_libc = ctypes.CDLL(None, use_errno=True)


def _sockaddr(data: bytes) -> tuple[str, int] | None:
    family = struct.unpack_from("=H", data)[0]
    port = struct.unpack_from("!H", data, 2)[0]
    if family == socket.AF_INET:
        return str(ipaddress.IPv4Address(data[4:8])), port
    if family == socket.AF_INET6:
        return str(ipaddress.IPv6Address(data[8:24])), port
    return None


def read_subflow_addrs(sock: socket.socket) -> tuple[tuple[str, int, str, int], ...]:
    """(local addr, local port, remote addr, remote port) of each subflow in the msk list."""
    size = _SUBFLOW_DATA.size + _MAX_SUBFLOWS * _ADDRS_SIZE
    buf = ctypes.create_string_buffer(size)
    _SUBFLOW_DATA.pack_into(buf, 0, _SUBFLOW_DATA.size, 0, 0, _ADDRS_SIZE)
    optlen = ctypes.c_uint32(size)
    if (
        _libc.getsockopt(sock.fileno(), SOL_MPTCP, MPTCP_SUBFLOW_ADDRS, buf, ctypes.byref(optlen))
        != 0
    ):
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    _, count, size_kernel, _ = _SUBFLOW_DATA.unpack_from(buf.raw)
    step = min(size_kernel, _ADDRS_SIZE)
    rows = []
    for i in range(min(count, _MAX_SUBFLOWS)):
        start = _SUBFLOW_DATA.size + i * step
        local = _sockaddr(buf.raw[start : start + 128])
        remote = _sockaddr(buf.raw[start + 128 : start + 256])
        if local and remote:
            rows.append((*local, *remote))
    return tuple(rows)


# --- MIB ----------------------------------------------------------------------------

# The MPTcpExt counters a PM scenario usually looks at (all are returned).
PM_MIB_KEYS = (
    "MPJoinSynRx", "MPJoinSynBackupRx", "MPJoinSynAckRx", "MPJoinSynAckBackupRx",
    "MPJoinAckRx", "MPJoinRejected", "MPJoinSynTx", "MPJoinSynTxCreatSkErr",
    "MPJoinSynTxBindErr", "MPJoinSynTxConnectErr", "MPJoinNoTokenFound",
    "AddAddr", "AddAddrTx", "EchoAdd", "EchoAddTx", "AddAddrDrop", "AddAddrTxDrop",
    "RmAddr", "RmAddrTx", "RmAddrDrop", "RmAddrTxDrop", "RmSubflow",
    "MPPrioTx", "MPPrioRx", "MPRstTx", "MPRstRx", "MPCapableSYNRX", "MPCapableSYNTX",
)  # fmt: skip


def read_mib(path: str = "/proc/net/netstat", section: str = "MPTcpExt") -> dict[str, int]:
    """All counters of one section of /proc/net/netstat (a header line of
    names followed by a line of values)."""
    with open(path) as f:
        lines = [line.split() for line in f]
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names and names[0] == f"{section}:":
            return {k: int(v) for k, v in zip(names[1:], values[1:], strict=True)}
    return {}
