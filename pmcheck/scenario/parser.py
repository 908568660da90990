"""Parse the text form of a scenario.

Configuration lines are `ip mptcp` commands as iproute2 spells them (also
`laminar`, which this machine's iproute2 6.1 does not know yet); `kernel V`
picks the model version; `#` starts a comment. iproute2's own client-side
checks are applied here (e.g. `id 0` on add, `delete id 0` without an
address), so a line that `ip` would refuse is an input error, not a kernel
result. Connection and peer events (`connect`, `peer announce`, ...) are
documented in docs/scenarios.md.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from pmcheck.model.constants import (
    AF_INET,
    AF_INET6,
    FLAG_BACKUP,
    FLAG_FULLMESH,
    FLAG_IMPLICIT,
    FLAG_LAMINAR,
    FLAG_SIGNAL,
    FLAG_SUBFLOW,
)
from pmcheck.scenario.ast import (
    PEER_PMS,
    Command,
    Connect,
    EndpointAdd,
    EndpointChange,
    EndpointDelete,
    EndpointFlush,
    EndpointShow,
    LimitsSet,
    LimitsShow,
    Loc,
    OnPeer,
    PeerAnnounce,
    PeerJoin,
    PeerRemove,
    Scenario,
    Step,
    SubflowClose,
    canonical_address,
    plain_address,
    testbed_addresses,
)
from pmcheck.scenario.errors import ScenarioError

ADD_FLAGS = {
    "signal": FLAG_SIGNAL,
    "subflow": FLAG_SUBFLOW,
    "backup": FLAG_BACKUP,
    "fullmesh": FLAG_FULLMESH,
    "laminar": FLAG_LAMINAR,
    "implicit": FLAG_IMPLICIT,  # iproute2 sends it; the kernel refuses it
}
CHANGE_OPTS = {"backup": FLAG_BACKUP, "fullmesh": FLAG_FULLMESH, "nobackup": 0, "nofullmesh": 0}
MAX_STEPS = 10_000
# An interface name the kernel takes (dev_valid_name): 1-15 bytes, no '/',
# ':' or blank, not "." or "..".
_DEV_RE = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9_.-]{1,15}$")


class _Tokens:
    """The words of one line with their columns, consumed left to right."""

    def __init__(self, file: str, line_no: int, text: str) -> None:
        self.file, self.line_no = file, line_no
        self.words = [(m.group(), m.start() + 1) for m in re.finditer(r"\S+", text)]
        self.pos = 0

    def loc(self, back: int = 0) -> Loc:
        i = min(self.pos - back, len(self.words) - 1)
        col = self.words[i][1] if self.words and i >= 0 else 1
        if self.pos - back >= len(self.words) and self.words:
            word, start = self.words[-1]
            col = start + len(word)
        return Loc(self.file, self.line_no, col)

    def error(self, message: str, back: int = 0) -> ScenarioError:
        return ScenarioError(self.loc(back), message)

    def peek(self) -> str | None:
        return self.words[self.pos][0] if self.pos < len(self.words) else None

    def next(self, what: str) -> str:
        word = self.peek()
        if word is None:
            raise self.error(f"expected {what}, found end of line")
        self.pos += 1
        return word

    def expect(self, *choices: str) -> str:
        word = self.next(" or ".join(repr(c) for c in choices))
        for c in choices:
            if word == c:
                return c
        raise self.error(
            f"expected {' or '.join(repr(c) for c in choices)}, found {word!r}", back=1
        )

    def done(self) -> bool:
        return self.pos >= len(self.words)


def _number(t: _Tokens, what: str, lo: int, hi: int) -> int:
    word = t.next(what)
    if not re.fullmatch(r"[0-9]+", word):
        raise t.error(f"{what} must be a number, found {word!r}", back=1)
    if len(word) > 9:  # int() of thousands of digits is slow, then refused
        raise t.error(f"{what} {word[:12]}... out of range {lo}..{hi}", back=1)
    value = int(word)
    if not lo <= value <= hi:
        raise t.error(f"{what} {value} out of range {lo}..{hi}", back=1)
    return value


def _address(t: _Tokens, family_opt: int) -> tuple[str, int]:
    word = t.next("an IP address")
    if "%" in word:
        raise t.error(f"scoped address {word!r} is not supported", back=1)
    try:
        ip = ipaddress.ip_address(word)
    except ValueError:
        raise t.error(f"bad IP address {word!r}", back=1) from None
    family = AF_INET if ip.version == 4 else AF_INET6
    if family_opt and family != family_opt:
        want = "IPv4" if family_opt == AF_INET else "IPv6"
        raise t.error(f"address family mismatch: {word} is not {want} (ip -{ip.version}?)", back=1)
    return canonical_address(word), family


def _looks_like_address(word: str | None) -> bool:
    if word is None:
        return False
    try:
        ipaddress.ip_address(word)
    except ValueError:
        return False
    return True


def _endpoint_add(t: _Tokens, fam: int) -> Command:
    addr, family = _address(t, fam)
    port, dev, ident, flags = 0, None, None, 0
    seen: set[str] = set()
    while not t.done():
        word = t.next("an option")
        if word in seen and word in ("port", "dev", "id"):
            raise t.error(f"{word!r} given twice", back=1)
        seen.add(word)
        if word == "port":
            port = _number(t, "port", 1, 65535)
        elif word == "dev":
            dev = t.next("an interface name")
            if not _DEV_RE.match(dev):
                raise t.error(f"bad interface name {dev!r}", back=1)
        elif word == "id":
            # iproute2 refuses id 0 on add: ids are 1..255.
            ident = _number(t, "id", 1, 255)
        elif word in ADD_FLAGS:
            flags |= ADD_FLAGS[word]
        else:
            known = ", ".join(sorted(ADD_FLAGS))
            raise t.error(
                f"unknown flag or option {word!r} (flags: {known}; options: port, dev, id)", back=1
            )
    return EndpointAdd(addr=addr, family=family, port=port, dev=dev, id=ident, flags=flags)


def _endpoint_delete(t: _Tokens, fam: int) -> Command:
    t.expect("id")
    ident = _number(t, "id", 0, 255)
    addr, family = None, 0
    if not t.done():
        addr, family = _address(t, fam)
    if ident == 0 and addr is None:
        raise t.error("'delete id 0' needs the address (ip mptcp requires it)")
    if not t.done():
        raise t.error(f"unexpected {t.peek()!r} after the address")
    return EndpointDelete(id=ident, addr=addr, family=family)


def _endpoint_change(t: _Tokens, fam: int) -> Command:
    ident, addr, family, port, flags = None, None, 0, 0, 0
    opts = 0
    while not t.done():
        word = t.peek()
        if word == "id":
            t.next("id")
            ident = _number(t, "id", 0, 255)
        elif word == "port":
            t.next("port")
            port = _number(t, "port", 1, 65535)
        elif word in CHANGE_OPTS:
            t.next(word)
            flags |= CHANGE_OPTS[word]
            opts += 1
        elif _looks_like_address(word) or (word and (":" in word or word[0].isdigit())):
            addr, family = _address(t, fam)
        else:
            raise t.error(
                f"unknown option {word!r} (expected id, an address, port, "
                "backup, nobackup, fullmesh, nofullmesh)"
            )
    if ident is None and addr is None:
        raise t.error("'endpoint change' needs 'id N' or an address")
    if opts == 0:
        raise t.error("'endpoint change' needs backup, nobackup, fullmesh or nofullmesh")
    return EndpointChange(id=ident, addr=addr, family=family, port=port, flags=flags)


def _endpoint_show(t: _Tokens, fam: int) -> Command:
    if t.done():
        return EndpointShow()
    t.expect("id")
    ident = _number(t, "id", 0, 255)
    if not t.done():
        raise t.error(f"unexpected {t.peek()!r}")
    return EndpointShow(id=ident)


def _endpoint_flush(t: _Tokens, fam: int) -> Command:
    if not t.done():
        raise t.error(f"unexpected {t.peek()!r} after 'flush'")
    return EndpointFlush()


def _limits(t: _Tokens) -> Command:
    verb = t.expect("set", "show")
    if verb == "show":
        if not t.done():
            raise t.error(f"unexpected {t.peek()!r}")
        return LimitsShow()
    values: dict[str, int] = {}
    while not t.done():
        key = t.expect("subflows", "add_addr_accepted")
        if key in values:
            raise t.error(f"{key!r} given twice", back=1)
        # Values above 8 are the kernel's to refuse; u32 is what netlink carries.
        values[key] = _number(t, key, 0, 2**32 - 1)
    if not values:
        raise t.error("'limits set' needs subflows and/or add_addr_accepted")
    return LimitsSet(
        subflows=values.get("subflows"), add_addr_accepted=values.get("add_addr_accepted")
    )


_ENDPOINT_VERBS: dict[str, Callable[[_Tokens, int], Command]] = {
    "add": _endpoint_add,
    "delete": _endpoint_delete,
    "del": _endpoint_delete,
    "change": _endpoint_change,
    "show": _endpoint_show,
    "list": _endpoint_show,
    "flush": _endpoint_flush,
}


def _ip_command(t: _Tokens) -> Command:
    t.expect("ip")
    fam = 0
    if t.peek() in ("-4", "-6"):
        fam = AF_INET if t.next("-4") == "-4" else AF_INET6
    t.expect("mptcp")
    obj = t.expect("endpoint", "endp", "limits")
    if obj == "limits":
        return _limits(t)
    verb = t.next("an endpoint command (add, delete, change, show, flush)")
    if verb not in _ENDPOINT_VERBS:
        raise t.error(
            f"unknown endpoint command {verb!r} (add, delete, change, show, flush)", back=1
        )
    return _ENDPOINT_VERBS[verb](t, fam)


def _conn_ref(t: _Tokens, opened: int) -> int | None:
    """An optional trailing `conn N` (1-based, must already be open)."""
    if t.peek() != "conn":
        if opened == 0:
            raise t.error("no connection is open yet (use 'connect' first)")
        return None
    t.next("conn")
    if opened == 0:
        raise t.error("no connection is open yet (use 'connect' first)", back=1)
    return _number(t, "connection number", 1, opened)


def _end(t: _Tokens) -> None:
    if not t.done():
        raise t.error(f"unexpected {t.peek()!r}")


def _connect(t: _Tokens, server: bool) -> Command:
    first, fam1 = _address(t, 0)
    second, fam2 = _address(t, 0)
    if fam1 != fam2:
        raise t.error("a connection's two addresses must be of one family", back=1)
    port, deny = 10000, False
    while not t.done():
        word = t.next("an option")
        if word == "port":
            port = _number(t, "port", 1, 65535)
        elif word == "peer-deny-join-id0":
            deny = True
        else:
            raise t.error(f"unknown option {word!r} (expected port, peer-deny-join-id0)", back=1)
    if server:  # `peer connect PEER HOST`
        return Connect(local=second, remote=first, port=port, deny_join_id0=deny, server=True)
    return Connect(local=first, remote=second, port=port, deny_join_id0=deny)


def _event(t: _Tokens, opened: int, peer_pm: str) -> Command:
    if t.peek() == "peer" and len(t.words) > 1 and t.words[1][0] == "ip":
        t.next("peer")
        if peer_pm != "kernel":
            raise t.error(
                "'peer ip mptcp ...' configures an in-kernel peer: put 'peer pm kernel' "
                "before the first command",
                back=1,
            )
        return OnPeer(_ip_command(t))
    head = t.next("a statement")
    if head == "connect":
        return _connect(t, server=False)
    if head == "subflow":
        t.expect("close")
        local, _ = _address(t, 0)
        remote, _ = _address(t, 0)
        conn = _conn_ref(t, opened)
        _end(t)
        return SubflowClose(local=local, remote=remote, conn=conn)
    verb = t.expect("connect", "announce", "remove", "join", "ip")
    if verb == "connect":
        return _connect(t, server=True)
    if peer_pm == "kernel":
        raise t.error(
            f"'peer {verb}' drives the scripted peer; with 'peer pm kernel' the peer's own "
            "PM decides (configure it with 'peer ip mptcp ...')",
            back=1,
        )
    if verb == "announce":
        addr, _ = _address(t, 0)
        t.expect("id")
        ident = _number(t, "id", 0, 255)
        port = 0
        if t.peek() == "port":
            t.next("port")
            port = _number(t, "port", 1, 65535)
        conn = _conn_ref(t, opened)
        _end(t)
        return PeerAnnounce(addr=addr, id=ident, port=port, conn=conn)
    if verb == "remove":
        t.expect("id")
        ident = _number(t, "id", 0, 255)
        conn = _conn_ref(t, opened)
        _end(t)
        return PeerRemove(id=ident, conn=conn)
    addr, _ = _address(t, 0)
    t.expect("to")
    to, _ = _address(t, 0)
    t.expect("id")
    ident = _number(t, "id", 1, 255)
    conn = _conn_ref(t, opened)
    _end(t)
    return PeerJoin(addr=addr, to=to, id=ident, conn=conn)


EVENT_HEADS = ("connect", "peer", "subflow")


def _testbed_ends(extra: dict[str, list[str]]) -> dict[str, set[str]]:
    """The testbed's host and peer addresses (links and `host/peer addr`)."""
    host, peer = testbed_addresses()
    return {
        "host": {plain_address(a) for a in (*host, *extra["host"])},
        "peer": {plain_address(a) for a in (*peer, *extra["peer"])},
    }


def _require_side(loc: Loc, ends: dict[str, set[str]], side: str, addr: str, what: str) -> None:
    if plain_address(addr) not in ends[side]:
        raise ScenarioError(
            loc,
            f"{what}{addr} is not a {side} address of the testbed "
            f"({', '.join(sorted(ends[side]))}; add one with '{side} addr {addr}')",
        )


def _check_connect_addresses(steps: list[Step], ends: dict[str, set[str]]) -> None:
    """A connection runs between the testbed's two hosts: its host end must
    be a host address (a link's 10.0.N.2 / dead:beef:N::2, or a `host addr`),
    its peer end a peer address; else no interpreter can open it (the
    kernel's bind fails with EADDRNOTAVAIL)."""
    for step in steps:
        cmd = step.command
        if isinstance(cmd, Connect):
            _require_side(step.loc, ends, "host", cmd.local, "")
            _require_side(step.loc, ends, "peer", cmd.remote, "")


def _check_unreachable(
    steps: list[Step], ends: dict[str, set[str]], cut: list[tuple[str, str, Loc]]
) -> tuple[tuple[str, str], ...]:
    """`unreachable HOST PEER`: no route between a host address and a peer
    address of the testbed, in either direction (live: an `unreachable`
    policy rule in each namespace). A connect between them fails at once
    with ENETUNREACH, so the pairing cannot carry the connection itself, nor
    a scripted `peer join` (the userspace PM's connect fails the same way)."""
    for h, p, loc in cut:
        _require_side(loc, ends, "host", h, "unreachable: ")
        _require_side(loc, ends, "peer", p, "unreachable: ")
    pairs = tuple(dict.fromkeys((h, p) for h, p, _ in cut))
    down = {(plain_address(h), plain_address(p)) for h, p in pairs}
    for step in steps:
        cmd = step.command
        pair = None
        if isinstance(cmd, Connect):
            pair = (cmd.local, cmd.remote)
        elif isinstance(cmd, PeerJoin):
            pair = (cmd.to, cmd.addr)
        if pair and (plain_address(pair[0]), plain_address(pair[1])) in down:
            raise ScenarioError(
                step.loc,
                f"{pair[0]} and {pair[1]} are declared unreachable: this connect would "
                "fail at once (ENETUNREACH)",
            )
    return pairs


def parse_text(text: str, file: str = "<scenario>") -> Scenario:
    """Parse a scenario's text; raises ScenarioError on the first problem."""
    kernel: str | None = None
    peer_pm: str | None = None
    steps: list[Step] = []
    extra: dict[str, list[str]] = {"host": [], "peer": []}
    cut: list[tuple[str, str, Loc]] = []
    opened = 0
    # Lines end at "\n" only (a CR before it is dropped): str.splitlines would
    # also end one at a form feed, NEL or U+2028 inside a comment, and every
    # later line number would be wrong. A UTF-8 byte order mark is not text.
    for n, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        raw = raw.removesuffix("\r")
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        t = _Tokens(file, n, line)
        if t.peek() == "kernel":
            t.next("kernel")
            if kernel is not None:
                raise t.error("'kernel' given twice", back=1)
            if steps:
                raise t.error("'kernel' must come before the first command", back=1)
            word = t.next("a kernel version")
            try:
                from pmcheck.patches import resolve

                kernel = resolve(word, files=False).value
            except ValueError as e:
                raise t.error(str(e), back=1) from None
            if not t.done():
                raise t.error(f"unexpected {t.peek()!r}")
            continue
        if t.peek() == "peer" and len(t.words) > 1 and t.words[1][0] == "pm":
            t.next("peer")
            t.next("pm")
            if peer_pm is not None:
                raise t.error("'peer pm' given twice", back=2)
            if steps:
                raise t.error("'peer pm' must come before the first command", back=2)
            word = t.next("a path manager (kernel or scripted)")
            if word not in PEER_PMS:
                raise t.error(f"unknown peer pm {word!r} (kernel or scripted)", back=1)
            peer_pm = word
            _end(t)
            continue
        if t.peek() in ("host", "peer") and len(t.words) > 1 and t.words[1][0] == "addr":
            side = t.next("host or peer")
            t.next("addr")
            if steps:
                raise t.error(f"'{side} addr' must come before the first command", back=2)
            addr, _ = _address(t, 0)
            _end(t)
            extra[side].append(addr)
            continue
        if t.peek() == "unreachable":
            t.next("unreachable")
            if steps:
                raise t.error("'unreachable' must come before the first command", back=1)
            host_end, fam1 = _address(t, 0)
            peer_end, fam2 = _address(t, 0)
            if fam1 != fam2:
                raise t.error("an unreachable pairing's addresses must be of one family", back=1)
            _end(t)
            cut.append((host_end, peer_end, Loc(file, n, t.words[0][1])))
            continue
        if t.peek() in EVENT_HEADS:
            command = _event(t, opened, peer_pm or "scripted")
            if isinstance(command, Connect):
                opened += 1
        elif t.peek() == "ip":
            command = _ip_command(t)
        else:
            raise t.error(
                f"unknown statement {t.peek()!r} (expected 'ip mptcp ...', "
                "'connect', 'peer ...', 'subflow close', 'host addr', "
                "'peer addr', 'peer pm', 'unreachable' or 'kernel V')"
            )
        if len(steps) >= MAX_STEPS:
            raise t.error(f"too many steps (at most {MAX_STEPS})")
        steps.append(Step(Loc(file, n, t.words[0][1]), line.strip(), command))
    ends = _testbed_ends(extra)
    _check_connect_addresses(steps, ends)
    unreachable = _check_unreachable(steps, ends, cut)
    return Scenario(
        source=file,
        kernel=kernel,
        steps=tuple(steps),
        host_addrs=tuple(extra["host"]),
        peer_addrs=tuple(extra["peer"]),
        peer_pm=peer_pm or "scripted",
        unreachable=unreachable,
    )
