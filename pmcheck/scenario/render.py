"""Commands back to text: the `ip mptcp` line a step means.

Used for JSON -> text, for traces (a counterexample is a scenario), and so
that parse(render(c)) == c is testable.
"""

from __future__ import annotations

from pmcheck.model.constants import FLAG_BACKUP, FLAG_FULLMESH
from pmcheck.scenario.ast import (
    Command,
    Connect,
    EndpointAdd,
    EndpointChange,
    EndpointDelete,
    EndpointFlush,
    EndpointShow,
    LimitsSet,
    LimitsShow,
    OnPeer,
    PeerAnnounce,
    PeerJoin,
    PeerRemove,
    Scenario,
    SubflowClose,
    flag_names,
)


def render_command(cmd: Command) -> str:
    match cmd:
        case OnPeer():
            return "peer " + render_command(cmd.command)
        case EndpointAdd():
            parts = ["ip mptcp endpoint add", cmd.addr]
            if cmd.port:
                parts.append(f"port {cmd.port}")
            if cmd.dev:
                parts.append(f"dev {cmd.dev}")
            if cmd.id is not None:
                parts.append(f"id {cmd.id}")
            parts.extend(flag_names(cmd.flags))
            return " ".join(parts)
        case EndpointDelete():
            tail = f" {cmd.addr}" if cmd.addr else ""
            return f"ip mptcp endpoint delete id {cmd.id}{tail}"
        case EndpointFlush():
            return "ip mptcp endpoint flush"
        case EndpointChange():
            parts = ["ip mptcp endpoint change"]
            if cmd.id is not None:
                parts.append(f"id {cmd.id}")
            if cmd.addr:
                parts.append(cmd.addr)
            if cmd.port:
                parts.append(f"port {cmd.port}")
            parts.append("backup" if cmd.flags & FLAG_BACKUP else "nobackup")
            parts.append("fullmesh" if cmd.flags & FLAG_FULLMESH else "nofullmesh")
            return " ".join(parts)
        case EndpointShow():
            return "ip mptcp endpoint show" + (f" id {cmd.id}" if cmd.id is not None else "")
        case LimitsSet():
            parts = ["ip mptcp limits set"]
            if cmd.subflows is not None:
                parts.append(f"subflows {cmd.subflows}")
            if cmd.add_addr_accepted is not None:
                parts.append(f"add_addr_accepted {cmd.add_addr_accepted}")
            return " ".join(parts)
        case LimitsShow():
            return "ip mptcp limits show"
        case Connect():
            first, second = (cmd.remote, cmd.local) if cmd.server else (cmd.local, cmd.remote)
            parts = ["peer connect" if cmd.server else "connect", first, second]
            if cmd.port != 10000:
                parts.append(f"port {cmd.port}")
            if cmd.deny_join_id0:
                parts.append("peer-deny-join-id0")
            return " ".join(parts)
        case PeerAnnounce():
            port = f" port {cmd.port}" if cmd.port else ""
            return f"peer announce {cmd.addr} id {cmd.id}{port}{_conn(cmd.conn)}"
        case PeerRemove():
            return f"peer remove id {cmd.id}{_conn(cmd.conn)}"
        case PeerJoin():
            return f"peer join {cmd.addr} to {cmd.to} id {cmd.id}{_conn(cmd.conn)}"
        case SubflowClose():
            return f"subflow close {cmd.local} {cmd.remote}{_conn(cmd.conn)}"
    raise TypeError(f"not a command: {cmd!r}")


def _conn(ref: int | None) -> str:
    return f" conn {ref}" if ref is not None else ""


def render_scenario(scn: Scenario) -> str:
    lines = [f"# {scn.source}"]
    if scn.kernel:
        lines.append(f"kernel {scn.kernel}")
    lines.extend(f"host addr {a}" for a in scn.host_addrs)
    lines.extend(f"peer addr {a}" for a in scn.peer_addrs)
    if scn.peer_kernel:
        lines.append("peer pm kernel")
    lines.extend(f"unreachable {h} {p}" for h, p in scn.unreachable)
    lines.extend(render_command(s.command) for s in scn.steps)
    return "\n".join(lines) + "\n"
