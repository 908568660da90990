"""The runtime every standalone reproducer (`--trace-format sh`) embeds.

A reproducer is one bash file: it builds two namespaces with iproute2 (as
mptcp_join.sh does), then feeds this module's text to `python3 -` with a
PLAN: the trace's steps and, after each, what pmcheck's model predicts.
This text runs WITHOUT pmcheck, so it imports the standard library only
(tests check that), and it must stay readable: a reviewer who wonders
how a step was sent finds it in `Host.do`.

What it does per step: send it (generic netlink `mptcp_pm` for endpoint,
limits and userspace-PM commands, so an iproute2 without `laminar` works;
MPTCP sockets for connections), wait until the PM is quiet (no PM event
for QUIET seconds and MPTCP_INFO unchanged), then read what userspace can
see: the endpoint dump, the limits, and per connection MPTCP_INFO's
counters and the established subflows (from the PM events, which carry
the address ids). It compares that with the model's prediction.

Exit codes: 1 = reproduced (the kernel did what the model's trace does,
and that trace violates the property), 0 = not reproduced (the kernel did
something else somewhere: a fixed or different kernel), 2 = the run could
not be set up or a step could not be sent.
"""

import ctypes
import errno
import ipaddress
import os
import select
import socket
import struct
import sys
import time

QUIET = 0.25  # s without PM events (and MPTCP_INFO unchanged): the PM is idle
TIMEOUT = 5.0  # s to wait for an expected event (ESTABLISHED, ANNOUNCED, ...)
PORT = 10000
CLONE_NEWNET = 0x40000000
NETLINK_GENERIC, GENL_ID_CTRL, CTRL_CMD_GETFAMILY = 16, 0x10, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300
NLMSG_ERROR, NLMSG_DONE, NLA_F_NESTED = 2, 3, 0x8000
SOL_NETLINK, NETLINK_ADD_MEMBERSHIP = 270, 1
IPPROTO_MPTCP, SOL_MPTCP, MPTCP_INFO = 262, 284, 1
# include/uapi/linux/mptcp_pm.h: commands, attributes, events
CMD = {"add": 1, "del": 2, "get": 3, "flush": 4, "set_limits": 5, "get_limits": 6,
       "set_flags": 7, "announce": 8, "remove": 9, "sf_create": 10, "sf_destroy": 11}  # fmt: skip
A_ADDR, A_RCV_ADD_ADDRS, A_SUBFLOWS, A_TOKEN, A_LOC_ID, A_ADDR_REMOTE = 1, 2, 3, 4, 5, 6
AA_FAMILY, AA_ID, AA_ADDR4, AA_ADDR6, AA_PORT, AA_FLAGS, AA_IF_IDX = 1, 2, 3, 4, 5, 6, 7
EV_ESTABLISHED, EV_CLOSED, EV_ANNOUNCED, EV_REMOVED = 2, 3, 6, 7
EV_SUB_ESTABLISHED, EV_SUB_CLOSED = 10, 11
FLAG_NAMES = (("signal", 1), ("subflow", 2), ("laminar", 32), ("backup", 4),
              ("fullmesh", 8), ("implicit", 16))  # fmt: skip
INFO = struct.Struct("<6B2xII3Q3Bx")  # struct mptcp_info, the PM part only

libc = ctypes.CDLL(None, use_errno=True)


class SetupError(Exception):
    """The run cannot go on (exit 2): not a finding about the PM."""


# --- namespaces: this process creates its sockets inside them -----------------------


class Netns:
    """`with Netns(name):` the calling thread is in that namespace; sockets
    made inside stay there after the block (setns(2), CLONE_NEWNET)."""

    home = os.open("/proc/self/ns/net", os.O_RDONLY)

    def __init__(self, name):
        self.fd = os.open("/run/netns/" + name, os.O_RDONLY)

    def __enter__(self):
        self._setns(self.fd)

    def __exit__(self, *exc):
        self._setns(Netns.home)

    @staticmethod
    def _setns(fd):
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise SetupError("setns: " + os.strerror(ctypes.get_errno()))


# --- generic netlink -------------------------------------------------------------


def nla(kind, data):
    size = 4 + len(data)
    return struct.pack("=HH", size, kind) + data + b"\0" * (-size % 4)


def attrs(buf):
    """{type: payload} of a run of netlink attributes (nested flag masked)."""
    out, off = {}, 0
    while off + 4 <= len(buf):
        size, kind = struct.unpack_from("=HH", buf, off)
        if size < 4:
            break
        out[kind & 0x3FFF] = buf[off + 4 : off + size]
        off += (size + 3) & ~3
    return out


def messages(buf):
    """(type, payload after the netlink header) of each message in buf."""
    off = 0
    while off + 16 <= len(buf):
        size, kind = struct.unpack_from("=IH", buf, off)
        yield kind, buf[off + 16 : off + size]
        off += (size + 3) & ~3


class Genl:
    """One NETLINK_GENERIC socket on the `mptcp_pm` family, in the
    namespace it was made in; `events=True` also joins mptcp_pm_events
    (which, on a userspace-PM namespace, is what lets the kernel accept
    MP_JOINs: mptcp_userspace_pm_active())."""

    def __init__(self, events=False):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.sock.bind((0, 0))
        self.seq = 0
        self.family, self.group = GENL_ID_CTRL, None
        _, msgs = self.request(CTRL_CMD_GETFAMILY, nla(2, b"mptcp_pm\0"), family=GENL_ID_CTRL)
        if not msgs:
            raise SetupError("no mptcp_pm generic netlink family: is MPTCP built in?")
        found = attrs(msgs[0])
        self.family = struct.unpack("=H", found[1])[0]
        for grp in attrs(found.get(7, b"")).values():  # CTRL_ATTR_MCAST_GROUPS
            g = attrs(grp)
            if g.get(1, b"").rstrip(b"\0") == b"mptcp_pm_events":
                self.group = struct.unpack("=I", g[2])[0]
        if events:
            if self.group is None:
                raise SetupError("the mptcp_pm family has no mptcp_pm_events group")
            self.sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, self.group)

    def request(self, cmd, payload=b"", dump=False, family=None):
        """Send one request; returns (errno, [attribute bytes of each reply])."""
        self.seq += 1
        flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else NLM_F_ACK)
        body = struct.pack("=BBH", cmd, 1, 0) + payload
        head = struct.pack("=IHHII", 16 + len(body), family or self.family, flags, self.seq, 0)
        self.sock.send(head + body)
        out = []
        while True:
            for kind, data in messages(self.sock.recv(1 << 16)):
                if kind == NLMSG_ERROR:
                    return -struct.unpack_from("=i", data)[0], out
                if kind == NLMSG_DONE:
                    return 0, out
                out.append(data[4:])  # after the genl header


def addr_nest(addr, ident=None, port=0, flags=0, ifindex=0, kind=A_ADDR):
    """An MPTCP_PM_ATTR_ADDR nest; the ID is sent whenever given, even 0."""
    body = b""
    if addr:
        ip = ipaddress.ip_address(addr)
        fam = socket.AF_INET if ip.version == 4 else socket.AF_INET6
        body += nla(AA_FAMILY, struct.pack("=H", fam))
        body += nla(AA_ADDR4 if ip.version == 4 else AA_ADDR6, ip.packed)
    if ident is not None:
        body += nla(AA_ID, struct.pack("B", ident))
    if port:
        body += nla(AA_PORT, struct.pack("=H", port))
    if flags:
        body += nla(AA_FLAGS, struct.pack("=I", flags))
    if ifindex:
        body += nla(AA_IF_IDX, struct.pack("=i", ifindex))
    return nla(kind | NLA_F_NESTED, body)


def plain(addr):
    """v4-mapped v6 (a dual-stack socket) as plain v4; canonical text."""
    ip = ipaddress.ip_address(addr)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def endpoint_text(a):
    """One endpoint as pmcheck prints it: ADDR [port P] id N FLAGS [dev IF]."""
    if AA_ADDR4 in a:
        addr = str(ipaddress.IPv4Address(a[AA_ADDR4]))
    elif AA_ADDR6 in a:
        ip = ipaddress.IPv6Address(a[AA_ADDR6])
        addr = f"::ffff:{ip.ipv4_mapped}" if ip.ipv4_mapped else str(ip)
    else:
        addr = "0.0.0.0"
    port = struct.unpack("=H", a[AA_PORT])[0] if AA_PORT in a else 0
    flags = struct.unpack("=I", a[AA_FLAGS])[0] if AA_FLAGS in a else 0
    words = [addr] + ([f"port {port}"] if port else [])
    words.append(f"id {a[AA_ID][0]}")
    words += [name for name, bit in FLAG_NAMES if flags & bit]
    ifindex = struct.unpack("=i", a[AA_IF_IDX])[0] if AA_IF_IDX in a else 0
    if ifindex:
        try:
            words.append("dev " + socket.if_indextoname(ifindex))
        except OSError:
            words.append(f"dev ifindex{ifindex}")
    return a[AA_ID][0], " ".join(words)


def errno_text(err):
    if err == 0:
        return "ok"
    name = "EOPNOTSUPP" if err == errno.EOPNOTSUPP else errno.errorcode.get(err, str(err))
    return "-" + name


# --- one side of the testbed ---------------------------------------------------------


class Conn:
    def __init__(self, sock, token):
        self.sock, self.token = sock, token


class Side:
    """One namespace: its PM socket, its event listener, its sockets."""

    def __init__(self, ns):
        self.ns = Netns(ns)
        with self.ns:
            self.pm = Genl()
            self.ev = Genl(events=True)
        self.events = []  # (type, {attr: bytes}) in arrival order
        self.conns = []  # this side's socket of each connection, in order
        self.listeners = {}

    def poll(self, timeout):
        """Read PM events for up to `timeout` s; True if any arrived."""
        got = False
        while select.select([self.ev.sock], [], [], timeout)[0]:
            for kind, data in messages(self.ev.sock.recv(1 << 16)):
                if kind >= 16:  # a genl message: cmd = event type
                    self.events.append((data[0], attrs(data[4:])))
                    got = True
            timeout = 0
        return got

    def wait_event(self, kinds, token, timeout=TIMEOUT, **want):
        """Wait for an event of one of `kinds` on `token` with these attrs."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for kind, a in self.events[seen:]:
                if kind in kinds and u32(a.get(1)) == token and matches(a, want):
                    return True
            seen = len(self.events)
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.poll(min(left, 0.05))

    def cmd(self, name, payload=b"", dump=False):
        with self.ns:
            return self.pm.request(CMD[name], payload, dump)

    def socket(self, family):
        with self.ns:
            return socket.socket(family, socket.SOCK_STREAM, IPPROTO_MPTCP)

    def listen(self, addr, port):
        if (addr, port) not in self.listeners:
            s = self.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if addr == "::":
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind((addr, port))
            s.listen(16)
            self.listeners[addr, port] = s
        return self.listeners[addr, port]

    def endpoint_id(self, addr, port):
        """The id of the endpoint with this address and port (after an add)."""
        _err, rows = self.cmd("get", dump=True)
        for r in rows:
            a = attrs(attrs(r)[A_ADDR])
            raw = a.get(AA_ADDR4) or a.get(AA_ADDR6)
            same = raw and plain(str(ipaddress.ip_address(raw))) == plain(addr)
            if same and (struct.unpack("=H", a[AA_PORT])[0] if AA_PORT in a else 0) == port:
                return a[AA_ID][0]
        return None

    def table(self):
        """The endpoint dump (sorted by id) and the limits."""
        err, rows = self.cmd("get", dump=True)
        if err:
            raise SetupError("endpoint dump failed: " + errno_text(err))
        dump = sorted(endpoint_text(attrs(attrs(r)[A_ADDR])) for r in rows)
        _, reply = self.cmd("get_limits")
        a = attrs(reply[0]) if reply else {}
        limits = f"add_addr_accepted {u32(a.get(2))} subflows {u32(a.get(3))}"
        return "; ".join(t for _, t in dump) or "(none)", limits

    def info(self, conn):
        raw = conn.sock.getsockopt(SOL_MPTCP, MPTCP_INFO, 96)
        return INFO.unpack(raw[: INFO.size].ljust(INFO.size, b"\0"))

    def subflows(self, token):
        """Established subflows (local#id>remote#id), sorted."""
        return sorted(self._subflows(token).values())

    def subflow_keys(self, token):
        """(local, lport, remote, rport) of each established subflow."""
        return list(self._subflows(token))

    def _subflows(self, token):
        """Established subflows of a connection, from its PM events:
        ESTABLISHED brings the first (ids 0), SUB_ESTABLISHED a join,
        SUB_CLOSED removes one, CLOSED all."""
        table = {}
        for kind, a in self.events:
            if u32(a.get(1)) != token:
                continue
            if kind == EV_CLOSED:
                table.clear()
            key = four_tuple(a)
            if key is None:
                continue
            if kind in (EV_ESTABLISHED, EV_SUB_ESTABLISHED):
                table[key] = (key[0], u8(a.get(3)), key[2], u8(a.get(4)))
            elif kind == EV_SUB_CLOSED:
                table.pop(key, None)
        return table

    def conn_text(self, n, conn):
        i = self.info(conn)
        rows = (
            " ".join(f"{la}#{li}>{ra}#{ri}" for la, li, ra, ri in self.subflows(conn.token)) or "-"
        )
        return f"subflows {i[0]} signal {i[1]} accepted {i[2]} used {i[11]} | {rows}"


def u32(b):
    return struct.unpack("=I", b)[0] if b else 0


def u8(b):
    return b[0] if b else 0


def four_tuple(a):
    def ip(k4, k6):
        raw = a.get(k4) or a.get(k6)
        return plain(str(ipaddress.ip_address(raw))) if raw else None

    s, d = ip(5, 6), ip(7, 8)
    if s is None or d is None:
        return None
    port = lambda k: struct.unpack("!H", a[k])[0] if k in a else 0  # noqa: E731
    return (s, port(9), d, port(10))


def matches(a, want):
    key = four_tuple(a)
    for name, value in want.items():
        if name == "rem_id" and u8(a.get(4)) != value:
            return False
        if name == "saddr" and (key is None or key[0] != plain(value)):
            return False
        if name == "daddr" and (key is None or key[2] != plain(value)):
            return False
    return True


# --- the testbed and the steps -----------------------------------------------------------


class Testbed:
    def __init__(self, host_ns, peer_ns, plan):
        self.host, self.peer = Side(host_ns), Side(peer_ns)
        self.peer_kernel = plan["peer_kernel"]
        self.host_is_client = []  # per connection

    def settle(self):
        """Wait until neither PM has anything left to do: no event for QUIET
        seconds and MPTCP_INFO unchanged across that window."""
        deadline = time.monotonic() + 4 * TIMEOUT
        while time.monotonic() < deadline:
            before = self._infos()
            got = self.host.poll(QUIET / 2) | self.peer.poll(QUIET / 2)
            if not got and self._infos() == before:
                return
        raise SetupError(f"the PM did not settle within {4 * TIMEOUT:.0f} s")

    def _infos(self):
        """The PM fields of MPTCP_INFO (counters, flags) of every socket."""
        infos = [s.info(c) for s in (self.host, self.peer) for c in s.conns]
        return [i[:7] + i[11:12] for i in infos]

    def side(self, name):
        return self.peer if name == "peer" else self.host

    def do(self, verb, side, a):
        """Send one step; returns its errno (0: ok)."""
        s = self.side(side)
        if verb == "EndpointAdd":
            ifindex = 0
            if a["dev"]:
                with s.ns:
                    ifindex = socket.if_nametoindex(a["dev"])
            nest = addr_nest(a["addr"], a["id"], a["port"], a["flags"], ifindex)
            return s.cmd("add", nest)[0]
        if verb == "EndpointDelete":
            return s.cmd("del", addr_nest(a["addr"], a["id"]))[0]
        if verb == "EndpointFlush":
            return s.cmd("flush")[0]
        if verb == "EndpointChange":
            return s.cmd("set_flags", addr_nest(a["addr"], a["id"], a["port"], a["flags"]))[0]
        if verb == "EndpointShow":
            if a["id"] is None:
                return s.cmd("get", dump=True)[0]
            return s.cmd("get", addr_nest(None, a["id"]))[0]
        if verb == "LimitsSet":
            body = b""
            if a["add_addr_accepted"] is not None:
                body += nla(A_RCV_ADD_ADDRS, struct.pack("=I", a["add_addr_accepted"]))
            if a["subflows"] is not None:
                body += nla(A_SUBFLOWS, struct.pack("=I", a["subflows"]))
            return s.cmd("set_limits", body)[0]
        if verb == "LimitsShow":
            return s.cmd("get_limits")[0]
        if verb == "Connect":
            return self.connect(a)
        conn = a["conn"] or len(self.host.conns)
        if verb == "PeerAnnounce":
            return self.signal("announce", conn, addr_nest(a["addr"], a["id"], a["port"], 1),
                               EV_ANNOUNCED, rem_id=a["id"])  # fmt: skip
        if verb == "PeerRemove":
            body = nla(A_LOC_ID, struct.pack("B", a["id"]))
            return self.signal("remove", conn, body, EV_REMOVED, rem_id=a["id"])
        if verb == "PeerJoin":
            return self.join(conn, a)
        if verb == "SubflowClose" and not self.peer_kernel:
            return self.close_subflow(conn, a)
        raise SetupError(f"this reproducer cannot send {verb}; use pmcheck's testbed")

    def connect(self, a):
        """The client binds its address and connects; both sides exchange a
        few bytes, so the connection is fully established (the PM's
        ESTABLISHED work runs) before the next step."""
        with self.peer.ns:
            path = "/proc/sys/net/mptcp/allow_join_initial_addr_port"
            with open(path, "w") as f:
                f.write("0\n" if a["deny_join_id0"] else "1\n")
        client, server = (self.peer, self.host) if a["server"] else (self.host, self.peer)
        local, remote = (a["remote"], a["local"]) if a["server"] else (a["local"], a["remote"])
        wild = "::" if ":" in remote else "0.0.0.0"
        lsock = server.listen(wild, a["port"])
        csock = client.socket(socket.AF_INET6 if ":" in remote else socket.AF_INET)
        csock.settimeout(TIMEOUT)
        csock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            csock.bind((local, 0))
            csock.connect((remote, a["port"]))
            lsock.settimeout(TIMEOUT)
            ssock, _ = lsock.accept()
            csock.sendall(b"ping")
            ssock.recv(4)
            ssock.sendall(b"pong")
            csock.recv(4)
        except OSError as e:
            raise SetupError(f"connect {local} -> {remote}: {e}") from None
        self.host_is_client.append(client is self.host)
        for s, sock in ((client, csock), (server, ssock)):
            token = s.info(Conn(sock, 0))[7]
            s.conns.append(Conn(sock, token))
            if not s.wait_event((EV_ESTABLISHED,), token):
                raise SetupError(f"no ESTABLISHED event within {TIMEOUT:.0f} s")
        return 0

    def signal(self, cmd, n, body, event, **want):
        """ADD_ADDR / RM_ADDR from the scripted peer; waits for the host to
        see it (it never does when no subflow is left to carry it)."""
        peer, host = self.peer.conns[n - 1], self.host.conns[n - 1]
        err = self.peer.cmd(cmd, nla(A_TOKEN, struct.pack("=I", peer.token)) + body)[0]
        if err == 0:
            self.host.wait_event((event,), host.token, **want)
        return err

    def join(self, n, a):
        """MP_JOIN from the scripted peer's address (its id a["id"]) to the
        host's address, at the host's port of the connection: a client host
        gets a listener on its own port for it (SO_REUSEADDR)."""
        peer, host = self.peer.conns[n - 1], self.host.conns[n - 1]
        port = host.sock.getsockname()[1]
        if self.host_is_client[n - 1]:
            self.host.listen(a["to"], port)
        body = nla(A_TOKEN, struct.pack("=I", peer.token))
        body += addr_nest(a["addr"], a["id"])
        body += addr_nest(a["to"], port=port, kind=A_ADDR_REMOTE)
        err = self.peer.cmd("sf_create", body)[0]
        if err == 0:
            self.host.wait_event((EV_SUB_ESTABLISHED, EV_SUB_CLOSED), host.token,
                                 saddr=a["to"], daddr=a["addr"]) or self.peer.wait_event(
                (EV_SUB_CLOSED,), peer.token, saddr=a["addr"], daddr=a["to"])  # fmt: skip
        return err

    def close_subflow(self, n, a):
        """The scripted peer destroys its end of an established subflow."""
        peer, host = self.peer.conns[n - 1], self.host.conns[n - 1]
        live = [r for r in self.host.subflow_keys(host.token) if r[0] == a["local"]]
        live = [r for r in live if r[2] == a["remote"]]
        if not live:
            return 0  # no such subflow: nothing happens, as in the model
        key = live[0]
        # A v4 subflow of a dual-stack peer socket is known by v4-mapped addresses.
        for pre in ("", "::ffff:"):
            body = nla(A_TOKEN, struct.pack("=I", peer.token))
            body += addr_nest(pre + a["remote"], port=key[3])
            body += addr_nest(pre + a["local"], port=key[1], kind=A_ADDR_REMOTE)
            err = self.peer.cmd("sf_destroy", body)[0]
            if err != errno.ESRCH or ":" in a["remote"]:
                break
        if err == 0:
            self.host.wait_event((EV_SUB_CLOSED,), host.token, saddr=a["local"], daddr=a["remote"])
        return err

    def observe(self):
        """What userspace sees now, keyed like the model's predictions."""
        seen = {}
        seen["endpoints"], seen["limits"] = self.host.table()
        for n, conn in enumerate(self.host.conns, start=1):
            seen[f"conn {n}"] = self.host.conn_text(n, conn)
        if self.peer_kernel:
            seen["peer endpoints"], seen["peer limits"] = self.peer.table()
            for n, conn in enumerate(self.peer.conns, start=1):
                seen[f"peer conn {n}"] = self.peer.conn_text(n, conn)
        return seen


def model_version(release):
    """The model version pmcheck reads a `uname -r` as (6.18.11+: stable)."""
    nums = [int(p) for p in release.split("-")[0].split(".")[:3] if p.isdigit()]
    if nums[:2] == [6, 18]:
        return "6.18-stable" if len(nums) > 2 and nums[2] > 10 else "6.18"
    if nums[:2] == [6, 19]:
        return "6.19"
    if nums[:2] == [7, 0]:
        return "7.0"
    return "7.1" if nums[:2] >= [7, 1] else "6.18"


def main(plan, host_ns, peer_ns):
    print(plan["title"])
    try:
        tb = Testbed(host_ns, peer_ns, plan)
    except (OSError, SetupError) as e:
        print(f"setup failed: {e}")
        return 2
    first = None
    for i, (line, verb, side, args, model) in enumerate(plan["steps"], start=1):
        try:
            err = tb.do(verb, side, args)
            tb.settle()
            seen = tb.observe()
        except (OSError, SetupError) as e:
            print(f"step {i} ({line}) could not be run: {e}")
            return 2
        seen["result"] = errno_text(err)
        if verb == "EndpointAdd" and err == 0:
            seen["new_id"] = tb.side(side).endpoint_id(args["addr"], args["port"])
        differ = [k for k in model if seen.get(k) != model[k]]
        print(f"\nstep {i}: {line}" + ("\n  as the model predicts" if not differ else ""))
        for k in differ:
            print(f"  {k}:\n    model:  {model[k]}\n    kernel: {seen.get(k)}")
        if differ and first is None:
            first = i
    print(f"\nafter the last step, the model and this kernel ({os.uname().release}):")
    for k in sorted(set(seen) | set(model), key=lambda k: k not in ("result", "new_id")):
        want, got = model.get(k), seen.get(k)
        if want == got:
            print(f"  {k}: {got}  (both)")
        else:
            print(f"  {k}:\n    model:  {want}\n    kernel: {got}")
    if first is not None:
        print(f"\nNOT REPRODUCED: this kernel differs from the model from step {first} on")
        return 0
    if not plan["violates"]:
        print("\nNOT REPRODUCED: the kernel agrees with the model at every step, but")
        print("  " + plan["why_not"])
        return 0
    release = os.uname().release
    if not plan["observable"] and model_version(release) != plan["kernel"]:
        print("\nNOT REPRODUCED: the kernel agrees with the model at every step, but")
        print(f"  what fails is not observable and this kernel is not {plan['kernel']}")
        return 0
    print("\nREPRODUCED: the kernel did what the model's trace does at every step")
    print("  " + plan["violated"])
    return 1


def run(plan):
    """The reproducer's entry point: `python3 - HOST_NS PEER_NS`."""
    return main(plan, sys.argv[1], sys.argv[2])
