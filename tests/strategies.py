"""Hypothesis strategies for random scenarios.

The pools are small on purpose: few addresses (with a v4-mapped twin), a few
ids around the wrap-around edge, two ports and devices, so random sequences
hit duplicates, busy ids, the 8-endpoint cap, implicit-free replacement
paths, and id wrap-around often.
"""

from __future__ import annotations

from hypothesis import strategies as st

from pmcheck.model.constants import (
    AF_INET,
    AF_INET6,
    FLAG_BACKUP,
    FLAG_FULLMESH,
    FLAG_LAMINAR,
    FLAG_SIGNAL,
    FLAG_SUBFLOW,
)
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
    Loc,
    OnPeer,
    PeerAnnounce,
    PeerJoin,
    PeerRemove,
    Scenario,
    Step,
    SubflowClose,
)
from pmcheck.scenario.render import render_command

ADDRS = [
    "10.0.1.1",
    "10.0.1.2",
    "10.0.2.1",
    "10.0.3.1",
    "10.0.4.1",
    "10.0.5.1",
    "10.0.6.1",
    "10.0.7.1",
    "10.0.8.1",
    "::ffff:10.0.1.1",
    "dead:beef:1::1",
    "dead:beef:2::1",
]
IDS = [1, 2, 3, 4, 8, 9, 100, 253, 254, 255]
USER_FLAGS = [FLAG_SIGNAL, FLAG_SUBFLOW, FLAG_BACKUP, FLAG_FULLMESH, FLAG_LAMINAR]


def _family(addr: str) -> int:
    return AF_INET6 if ":" in addr else AF_INET


flags_st = st.lists(st.sampled_from(USER_FLAGS), max_size=3).map(lambda fs: sum(set(fs)))

add_st = st.builds(
    lambda a, port, dev, ident, flags: EndpointAdd(
        addr=a, family=_family(a), port=port, dev=dev, id=ident, flags=flags
    ),
    st.sampled_from(ADDRS),
    st.sampled_from([0, 0, 0, 1000, 2000]),
    st.sampled_from([None, None, "lo", "eth1"]),
    st.one_of(st.none(), st.none(), st.sampled_from(IDS)),
    flags_st,
)
delete_st = st.one_of(
    st.builds(lambda i: EndpointDelete(id=i), st.sampled_from(IDS)),
    st.builds(lambda a: EndpointDelete(id=0, addr=a, family=_family(a)), st.sampled_from(ADDRS)),
)
change_st = st.one_of(
    st.builds(
        lambda i, f: EndpointChange(id=i, flags=f),
        st.sampled_from(IDS),
        st.sampled_from([0, FLAG_BACKUP, FLAG_FULLMESH, FLAG_BACKUP | FLAG_FULLMESH]),
    ),
    st.builds(
        lambda a, p, f: EndpointChange(addr=a, family=_family(a), port=p, flags=f),
        st.sampled_from(ADDRS),
        st.sampled_from([0, 0, 1000]),
        st.sampled_from([0, FLAG_BACKUP, FLAG_FULLMESH, FLAG_BACKUP | FLAG_FULLMESH]),
    ),
)
limits_st = st.builds(
    lambda s, a: LimitsSet(subflows=s, add_addr_accepted=a),
    st.one_of(st.none(), st.integers(0, 9)),
    st.one_of(st.none(), st.integers(0, 9)),
).filter(lambda c: c.subflows is not None or c.add_addr_accepted is not None)

command_st: st.SearchStrategy[Command] = st.one_of(
    add_st,
    add_st,
    add_st,
    delete_st,
    change_st,
    limits_st,
    st.just(EndpointFlush()),
    st.builds(lambda i: EndpointShow(id=i), st.one_of(st.none(), st.sampled_from(IDS))),
    st.just(LimitsShow()),
)


def scenario_of(
    commands: list[Command],
    kernel: str | None = None,
    unreachable: tuple[tuple[str, str], ...] = (),
) -> Scenario:
    steps = tuple(
        Step(Loc("random.scn", n + 1), render_command(c), c) for n, c in enumerate(commands)
    )
    return Scenario(source="random.scn", kernel=kernel, steps=steps, unreachable=unreachable)


scenario_st = st.lists(command_st, min_size=1, max_size=30).map(scenario_of)


# --- connection scenarios ---------------------------------------------------

HOST = [f"10.0.{n}.2" for n in (1, 2, 3, 4)] + ["dead:beef:2::2"]
PEER = [f"10.0.{n}.1" for n in (1, 2, 3, 4)] + ["dead:beef:2::1", "10.0.9.1"]
CONN_FLAGS = [FLAG_SIGNAL, FLAG_SUBFLOW, FLAG_BACKUP, FLAG_FULLMESH, FLAG_LAMINAR]

conn_add_st = st.builds(
    lambda a, ident, flags: EndpointAdd(addr=a, family=_family(a), id=ident, flags=flags),
    st.sampled_from([*HOST, "10.0.12.2"]),  # 10.0.12.2 is on no interface
    st.one_of(st.none(), st.sampled_from([1, 2, 3, 9])),
    st.lists(st.sampled_from(CONN_FLAGS), max_size=3)
    .map(lambda fs: sum(set(fs)))
    .filter(lambda f: not (f & FLAG_SIGNAL and f & FLAG_FULLMESH)),
)
conn_netlink_st = st.one_of(
    conn_add_st,
    conn_add_st,
    st.builds(lambda i: EndpointDelete(id=i), st.sampled_from([1, 2, 3, 9])),
    st.builds(lambda a: EndpointDelete(id=0, addr=a, family=_family(a)), st.sampled_from(HOST)),
    st.just(EndpointFlush()),
    st.builds(
        lambda i, f: EndpointChange(id=i, flags=f),
        st.sampled_from([1, 2, 3]),
        st.sampled_from([0, FLAG_BACKUP, FLAG_FULLMESH]),
    ),
    st.builds(
        lambda s, a: LimitsSet(subflows=s, add_addr_accepted=a),
        st.integers(0, 4),
        st.integers(0, 4),
    ),
)
event_st = st.one_of(
    st.builds(
        lambda a, i: PeerAnnounce(addr=a, id=i),
        st.sampled_from(PEER),
        st.sampled_from([0, 1, 2, 3]),
    ),
    st.builds(lambda i: PeerRemove(id=i), st.sampled_from([0, 1, 2, 3])),
    st.builds(
        lambda p, h, i: PeerJoin(addr=p, to=h, id=i),
        st.sampled_from(PEER[:4]),
        st.sampled_from(HOST),
        st.sampled_from([1, 2, 5]),
    ),
    st.builds(
        lambda h, p: SubflowClose(local=h, remote=p),
        st.sampled_from(HOST[:4]),
        st.sampled_from(PEER[:4]),
    ),
)
connect_st = st.builds(
    lambda n, deny, server: Connect(
        local=f"10.0.{n}.2", remote=f"10.0.{n}.1", deny_join_id0=deny, server=server
    ),
    st.sampled_from([1, 1, 2]),
    st.booleans(),
    st.booleans(),
)


def realizable(commands: list[Command]) -> list[Command]:
    """Keep what the live testbed's userspace-PM peer can send: RM_ADDR only
    for ids it announced, ADD_ADDR with a non-zero id used for one address
    only, joins from an announced address only under its id."""
    announced: dict[str, int] = {}
    out = []
    for c in commands:
        if isinstance(c, PeerAnnounce):
            taken = {i for a, i in announced.items() if a != c.addr}
            if c.id == 0 or c.id in taken or announced.get(c.addr, c.id) != c.id:
                continue
            announced[c.addr] = c.id
        keep = not (isinstance(c, PeerRemove) and c.id not in announced.values())
        keep = keep and not (isinstance(c, PeerJoin) and announced.get(c.addr, c.id) != c.id)
        if keep:
            out.append(c)
    return out


# Limits before `connect`, most of the time: with the default
# add_addr_accepted 0 an ADD_ADDR is only echoed and no filler ever runs
# (the agreement test reached mptcp_pm_nl_add_addr_received 9 times in 75).
# (add_addr_accepted 0 with subflows > 0 is the C-flag case's "default limits".)
limits_first_st = st.one_of(
    st.none(),
    *[
        st.builds(
            lambda s, a: LimitsSet(subflows=s, add_addr_accepted=a),
            st.integers(1, 4),
            st.sampled_from([0, 0, 1, 2, 4]),
        )
    ]
    * 3,
)
# One endpoint of the kind each filler serves, most of the time.
filler_endpoint_st = st.one_of(
    st.none(),
    st.builds(
        lambda a, f: EndpointAdd(addr=a, family=_family(a), flags=f),
        st.sampled_from(HOST[1:4]),
        st.sampled_from([FLAG_LAMINAR, FLAG_FULLMESH, FLAG_FULLMESH | FLAG_SUBFLOW, FLAG_SUBFLOW]),
    ),
    st.builds(
        lambda a, f: EndpointAdd(addr=a, family=_family(a), flags=f),
        st.sampled_from(HOST[1:4]),
        st.sampled_from([FLAG_LAMINAR, FLAG_FULLMESH, FLAG_FULLMESH | FLAG_SUBFLOW, FLAG_SUBFLOW]),
    ),
)


# An ADD_ADDR with a non-zero id right after connecting, most of the time:
# the fillers only run for one, and hypothesis favours short event lists.
announce_first_st = st.one_of(
    st.none(),
    *[st.builds(lambda a, i: PeerAnnounce(addr=a, id=i), st.sampled_from(PEER), st.integers(1, 3))]
    * 3,
)


@st.composite
def connection_scenario_st(draw: st.DrawFn, max_events: int = 12) -> Scenario:
    first_cmds = [draw(limits_first_st), draw(filler_endpoint_st)]
    connect = draw(connect_st)
    if draw(st.integers(0, 3)) == 0:
        # The C-flag case (a peer that denies joins to id 0, default limits,
        # a SUBFLOW endpoint): rare by chance, so set up a quarter of the time.
        first_cmds = [
            LimitsSet(subflows=draw(st.integers(1, 4)), add_addr_accepted=0),
            EndpointAdd(addr="10.0.2.2", family=_family("10.0.2.2"), flags=FLAG_SUBFLOW),
        ]
        connect = Connect(local="10.0.1.2", remote="10.0.1.1", deny_join_id0=True)
    before = [c for c in first_cmds if c] + draw(st.lists(conn_netlink_st, max_size=5))
    first = draw(announce_first_st)
    after = draw(st.lists(st.one_of(event_st, event_st, conn_netlink_st), max_size=max_events))
    events = realizable([*([first] if first else []), *after])
    # Now and then a pairing without a route (`unreachable`), never the
    # connection's own; a scripted join over it is an input error: dropped.
    cut = draw(st.one_of(st.none(), st.none(), st.sampled_from(CUT_PAIRS)))
    if cut is None or cut == (connect.local, connect.remote):
        return scenario_of([*before, connect, *events])
    events = [c for c in events if not (isinstance(c, PeerJoin) and (c.to, c.addr) == cut)]
    return scenario_of([*before, connect, *events], unreachable=(cut,))


# Wrong-interface and same-link pairings, and one of IPv6.
CUT_PAIRS = [
    ("10.0.2.2", "10.0.2.1"),
    ("10.0.3.2", "10.0.2.1"),
    ("10.0.2.2", "10.0.3.1"),
    ("10.0.1.2", "10.0.2.1"),
    ("dead:beef:2::2", "dead:beef:2::1"),
]


# --- two in-kernel PMs ---------------------------------------------------------

TWO_PM_HOST = ["10.0.1.2", "10.0.2.2", "10.0.3.2"]
TWO_PM_PEER = ["10.0.2.1", "10.0.3.1", "10.0.4.1"]
TWO_PM_FLAGS = [FLAG_SIGNAL, FLAG_SUBFLOW, FLAG_BACKUP, FLAG_FULLMESH, FLAG_LAMINAR]


def _endpoint_st(addrs: list[str], signal_ports: bool) -> st.SearchStrategy[EndpointAdd]:
    def build(a: str, flags: int, port: int) -> EndpointAdd:
        # A port only on a signal-only endpoint (else the kernel refuses it:
        # that path is the netns suite's).
        port = port if signal_ports and flags & (FLAG_SIGNAL | FLAG_SUBFLOW) == FLAG_SIGNAL else 0
        return EndpointAdd(addr=a, family=AF_INET, flags=flags, port=port)

    return st.builds(
        build,
        st.sampled_from(addrs),
        st.lists(st.sampled_from(TWO_PM_FLAGS), max_size=3)
        .map(lambda fs: sum(set(fs)))
        .filter(lambda f: not (f & FLAG_SIGNAL and f & FLAG_FULLMESH)),
        st.sampled_from([0, 0, 0, 10100]),
    )


def _limits_st() -> st.SearchStrategy[LimitsSet]:
    return st.builds(
        lambda s, a: LimitsSet(subflows=s, add_addr_accepted=a),
        st.sampled_from([0, 1, 2, 4, 8]),
        st.sampled_from([0, 1, 2, 8]),
    )


@st.composite
def two_pm_scenario_st(draw: st.DrawFn, max_events: int = 4) -> Scenario:
    """`peer pm kernel`: both sides' limits and endpoints, one connection
    (either way, maybe with the peer's C flag), then a few endpoint
    commands on either side and the peer closing a subflow."""
    host_add = _endpoint_st(TWO_PM_HOST, signal_ports=False)
    peer_add = _endpoint_st(TWO_PM_PEER, signal_ports=True)
    config: list[Command] = []
    if draw(st.booleans()):
        config.append(draw(_limits_st()))
    config += draw(st.lists(host_add, max_size=3))
    if draw(st.booleans()):
        config.append(OnPeer(draw(_limits_st())))
    config += [OnPeer(c) for c in draw(st.lists(peer_add, max_size=3))]
    config.append(
        draw(
            st.builds(
                lambda deny, server: Connect(
                    local="10.0.1.2", remote="10.0.1.1", deny_join_id0=deny, server=server
                ),
                st.booleans(),
                st.sampled_from([False, False, False, True]),
            )
        )
    )
    later = st.one_of(
        host_add,
        st.builds(OnPeer, peer_add),
        st.builds(lambda i: EndpointDelete(id=i), st.sampled_from([1, 2, 3])),
        st.builds(lambda i: OnPeer(EndpointDelete(id=i)), st.sampled_from([1, 2, 3])),
        st.just(OnPeer(EndpointFlush())),
        st.builds(
            lambda i, f: EndpointChange(id=i, flags=f),
            st.sampled_from([1, 2]),
            st.sampled_from([0, FLAG_BACKUP]),
        ),
        st.builds(
            lambda h, p: SubflowClose(local=h, remote=p),
            st.sampled_from(TWO_PM_HOST),
            st.sampled_from(TWO_PM_PEER[:2]),
        ),
    )
    events = draw(st.lists(later, max_size=max_events))
    steps = tuple(
        Step(Loc("random.scn", n + 2), render_command(c), c) for n, c in enumerate(config + events)
    )
    return Scenario(source="random.scn", kernel=None, steps=steps, peer_pm="kernel")
