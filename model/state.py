"""Model state: records of fixed-width values, shared by both backends.

Every field is a Bool or a bit-vector of a declared width (WIDTHS). A state is
a NamedTuple tree: the concrete backend fills it with ints/bools, the Z3
backend with terms. `fresh` makes an all-variables state for symbolic checks,
`lift` turns a concrete state into Z3 constants, and `evaluate` reads a Z3
state back as a concrete one under a model.

A `State` is one host (its endpoint table and connections) plus, when the
peer runs the in-kernel PM too, the peer's `Host` in `peer`: the same record
read by the same rules through `mirror` (model/peer.py). The messages on the
wire between them live in the records they come from (an announcement not
yet delivered, an RM_ADDR list being sent, a subflow whose SYN is out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple, TypeVar

import z3

from pmcheck.model.backend import Value
from pmcheck.model.constants import MPTCP_PM_ADDR_MAX

BOOL = 0  # width marker for Boolean fields


class Endpoint(NamedTuple):
    """One `struct mptcp_pm_addr_entry` slot of the endpoint list.

    The list is compact: used slots come first, in the kernel's list order
    (entries with a port at the head, the rest at the tail).
    """

    used: Value  # Bool: the slot holds an entry
    family: Value  # AF_INET (2) or AF_INET6 (10)
    addr: Value  # address key in the scenario's address universe (v4-mapped = v4)
    port: Value  # 0 = none
    id: Value  # endpoint id, u8
    flags: Value  # MPTCP_PM_ADDR_FLAG_* bits
    ifindex: Value  # device key, 0 = none


class Netns(NamedTuple):
    """`struct pm_nl_pernet` (pm_kernel.c): the per-namespace endpoint table."""

    endp: tuple[Endpoint, ...]  # MPTCP_PM_ADDR_MAX slots, list order
    endpoints: Value  # number of entries, implicit ones included
    next_id: Value  # id allocation cursor
    id_bitmap: Value  # 256-bit: ids in use
    endp_signal_max: Value  # entries with SIGNAL (a count, despite the name)
    endp_subflow_max: Value
    endp_laminar_max: Value
    endp_fullmesh_max: Value  # 6.19 only; stays 0 on 6.18
    limit_add_addr_accepted: Value
    limit_extra_subflows: Value


class Subflow(NamedTuple):
    """One subflow of a connection (`struct mptcp_subflow_context`).

    Only subflows the kernel still lists and that are not closing are kept:
    a closed subflow frees its slot, as it leaves `conn_list`.
    """

    used: Value  # Bool: slot holds a live subflow (SYN_SENT/SYN_RECV/ESTABLISHED)
    established: Value  # Bool: the join completed (False: SYN_SENT, outcome pending)
    kind: Value  # 0 = MPC (initial), 1 = active join (request_join), 2 = passive (mp_join)
    local_id: Value  # subflow->local_id (0 for the MPC subflow)
    remote_id: Value
    local_addr: Value  # address keys
    remote_addr: Value
    remote_port: Value  # the peer's port this subflow goes to
    backup: Value  # Bool: request_bkup, our B bit
    remote_backup: Value  # Bool: subflow->backup, the peer's B bit (its SYN/SYN-ACK, MP_PRIO)
    # In-kernel peer only: the slot of the same subflow on the other host
    # (NO_TWIN while the join SYN is out), and an MP_PRIO on its way there.
    twin: Value
    prio_tx: Value  # Bool
    # In-kernel peer only: the other end closed (FIN/RST in, CLOSE_WAIT); the
    # msk worker reaps it (`__mptcp_close_subflow`) after its PM work.
    fin_rx: Value  # Bool


class Anno(NamedTuple):
    """An `anno_list` entry: an address this connection announced."""

    used: Value
    id: Value  # the ENDPOINT id (F8: even when sent as id 0)
    addr: Value
    port: Value
    echo_pending: Value  # Bool: sent, the peer's echo not yet received
    sent_id: Value  # the id the ADD_ADDR carried (0 for the MPC endpoint)
    delivered: Value  # Bool, in-kernel peer only: the ADD_ADDR reached the peer


class Conn(NamedTuple):
    """One MPTCP connection's in-kernel PM state (`msk->pm`, `msk->mpc_endpoint_id`).

    The host under test runs the in-kernel PM; its peer is the environment.
    """

    used: Value  # Bool: the connection exists
    server: Value  # Bool: the host accepted it (passive side)
    v4: Value  # Bool: the MPTCP socket is AF_INET (no IPv6 subflows then)
    local_addr: Value  # the initial subflow's addresses (keys)
    remote_addr: Value
    port: Value  # its remote port (sk_dport): 0 = the client's ephemeral port
    lport: Value  # its local port: the listening port on a server, 0 (ephemeral) on a client
    deny_join_id0: Value  # Bool: remote_deny_join_id0, the peer's C flag
    id_avail: Value  # 256-bit id_avail_bitmap
    local_addr_used: Value
    add_addr_signaled: Value
    add_addr_accepted: Value
    extra_subflows: Value
    accept_addr: Value
    accept_subflow: Value
    work_pending: Value
    mpc_endpoint_id: Value
    mpc_accounted: Value  # Bool: MPTCP_PM_MPC_ENDPOINT_ACCOUNTED
    already_established: Value  # Bool: MPTCP_PM_ALREADY_ESTABLISHED
    # Bool: the msk has its socket (`sk_socket`): a client from connect(), a
    # server once the application accept()s it. Before, creating a subflow
    # fails (mptcp_subflow_create_socket: MPJoinSynTxCreatSkErr).
    attached: Value
    # Scheduled worker bits (`pm->status`), and what they carry.
    w_established: Value
    w_subflow_established: Value
    w_add_addr: Value  # MPTCP_PM_ADD_ADDR_RECEIVED, with pm->remote below
    w_rm_addr: Value  # MPTCP_PM_RM_ADDR_RECEIVED, with rm_list_rx below
    pm_remote_addr: Value
    pm_remote_id: Value
    pm_remote_port: Value
    rm_rx: Value  # 256-bit: the ids of rm_list_rx
    rm_tx: Value  # 256-bit, in-kernel peer only: the ids of an RM_ADDR on its way
    # 256-bit, scripted peer only: the ids of an RM_ADDR the peer sent while
    # no subflow could carry it (its `mptcp_pm_remove_addr` leaves the
    # signal pending; it goes out on the next established subflow).
    peer_rm_tx: Value
    warned: Value  # Bool: a kernel WARN_ON_ONCE fired on this connection
    overflow: Value  # Bool: more live subflows than the scope's slots (scope error)
    anno: tuple[Anno, ...]
    sf: tuple[Subflow, ...]


class Host(NamedTuple):
    """One host's in-kernel PM state: its namespace and its connections."""

    netns: Netns
    conns: tuple[Conn, ...]


class State(NamedTuple):
    """The whole model state: the host under test (its endpoint table and
    connections) and, with an in-kernel peer, the peer's `Host`; () when the
    peer is scripted. Connection slot i is the same connection on both."""

    netns: Netns
    conns: tuple[Conn, ...]
    peer: tuple[Host, ...] = ()


WIDTHS: dict[str, int] = {
    "used": BOOL,
    "family": 4,
    "addr": 8,
    "port": 16,
    "id": 8,
    "flags": 8,
    "ifindex": 8,
    "endpoints": 8,
    "next_id": 8,
    "id_bitmap": 256,
    "endp_signal_max": 8,
    "endp_subflow_max": 8,
    "endp_laminar_max": 8,
    "endp_fullmesh_max": 8,
    "limit_add_addr_accepted": 8,
    "limit_extra_subflows": 8,
    # Subflow / Anno
    "established": BOOL,
    "kind": 2,
    "local_id": 8,
    "remote_id": 8,
    "local_addr": 8,
    "remote_addr": 8,
    "remote_port": 16,
    "backup": BOOL,
    "remote_backup": BOOL,
    "twin": 8,
    "prio_tx": BOOL,
    "fin_rx": BOOL,
    "echo_pending": BOOL,
    "sent_id": 8,
    "delivered": BOOL,
    # Conn
    "server": BOOL,
    "v4": BOOL,
    "deny_join_id0": BOOL,
    "lport": 16,
    "id_avail": 256,
    "local_addr_used": 8,
    "add_addr_signaled": 8,
    "add_addr_accepted": 8,
    "extra_subflows": 8,
    "accept_addr": BOOL,
    "accept_subflow": BOOL,
    "work_pending": BOOL,
    "mpc_endpoint_id": 8,
    "mpc_accounted": BOOL,
    "already_established": BOOL,
    "attached": BOOL,
    "w_established": BOOL,
    "w_subflow_established": BOOL,
    "w_add_addr": BOOL,
    "w_rm_addr": BOOL,
    "pm_remote_addr": 8,
    "pm_remote_id": 8,
    "pm_remote_port": 16,
    "rm_rx": 256,
    "rm_tx": 256,
    "peer_rm_tx": 256,
    "warned": BOOL,
    "overflow": BOOL,
}

# The 256-bit id sets (indexed by address id): a checker scope may narrow them.
ID_SET_FIELDS = ("id_bitmap", "id_avail", "rm_rx", "rm_tx", "peer_rm_tx")

SUBFLOW_KIND_MPC, SUBFLOW_KIND_ACTIVE, SUBFLOW_KIND_PASSIVE = 0, 1, 2
NO_TWIN = 255  # Subflow.twin of a join whose SYN has not been answered
ANNO_SLOTS = 8  # the in-kernel PM announces at most endp_signal_max <= 8
DEFAULT_SUBFLOW_SLOTS = 8
DEFAULT_CONNS = 1

EMPTY_ENDPOINT = Endpoint(False, 0, 0, 0, 0, 0, 0)
EMPTY_SUBFLOW = Subflow(False, False, 0, 0, 0, 0, 0, 0, False, False, 0, False, False)
EMPTY_ANNO = Anno(False, 0, 0, 0, False, 0, False)


def empty_conn(subflow_slots: int = DEFAULT_SUBFLOW_SLOTS, anno_slots: int = ANNO_SLOTS) -> Conn:
    return Conn(
        used=False,
        server=False,
        v4=True,
        local_addr=0,
        remote_addr=0,
        port=0,
        lport=0,
        deny_join_id0=False,
        id_avail=0,
        local_addr_used=0,
        add_addr_signaled=0,
        add_addr_accepted=0,
        extra_subflows=0,
        accept_addr=False,
        accept_subflow=False,
        work_pending=False,
        mpc_endpoint_id=0,
        mpc_accounted=False,
        already_established=False,
        attached=False,
        w_established=False,
        w_subflow_established=False,
        w_add_addr=False,
        w_rm_addr=False,
        pm_remote_addr=0,
        pm_remote_id=0,
        pm_remote_port=0,
        rm_rx=0,
        rm_tx=0,
        peer_rm_tx=0,
        warned=False,
        overflow=False,
        anno=(EMPTY_ANNO,) * anno_slots,
        sf=(EMPTY_SUBFLOW,) * subflow_slots,
    )


def initial_state(
    conns: int = DEFAULT_CONNS,
    subflow_slots: int = DEFAULT_SUBFLOW_SLOTS,
    endpoint_slots: int = MPTCP_PM_ADDR_MAX,
    anno_slots: int = ANNO_SLOTS,
    peer_kernel: bool = False,
    peer_endpoint_slots: int | None = None,
) -> State:
    """A fresh namespace: `pm_nl_init_net` (limits 0 / 2, next_id 1), and
    `conns` connection slots, none open yet; with `peer_kernel`, the peer is
    a fresh namespace too. Fewer than 8 endpoint slots (or announcement
    slots) is a checker scope: runs must then stay that small."""
    host = _fresh_host(conns, subflow_slots, endpoint_slots, anno_slots)
    if not peer_kernel:
        return State(host.netns, host.conns)
    peer_slots = endpoint_slots if peer_endpoint_slots is None else peer_endpoint_slots
    return State(
        host.netns, host.conns, (_fresh_host(conns, subflow_slots, peer_slots, anno_slots),)
    )


def _fresh_host(conns: int, subflow_slots: int, endpoint_slots: int, anno_slots: int) -> Host:
    return Host(
        conns=(empty_conn(subflow_slots, anno_slots),) * conns,
        netns=Netns(
            endp=(EMPTY_ENDPOINT,) * endpoint_slots,
            endpoints=0,
            next_id=1,
            id_bitmap=0,
            endp_signal_max=0,
            endp_subflow_max=0,
            endp_laminar_max=0,
            endp_fullmesh_max=0,
            limit_add_addr_accepted=0,
            limit_extra_subflows=2,
        ),
    )


# --- walking records ---------------------------------------------------------


R = TypeVar("R", bound=tuple)  # a record: a NamedTuple (or tuple) tree, Value leaves


def leaves(
    value: tuple, path: str = "", widths: dict[str, int] = WIDTHS
) -> Iterator[tuple[str, int, Value]]:
    """Yield (path, width, leaf) for every field, in a fixed order."""
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        for name, item in zip(value._fields, value, strict=True):
            sub = f"{path}.{name}" if path else name
            if isinstance(item, tuple):
                yield from leaves(item, sub, widths)
            else:
                yield sub, widths[name], item
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            yield from leaves(item, f"{path}[{i}]", widths)
    else:  # pragma: no cover - callers pass records
        raise TypeError(f"not a record: {value!r}")


def rebuild(
    template: R,
    fn: Callable[[str, int, Value], Value],
    path: str = "",
    widths: dict[str, int] = WIDTHS,
) -> R:
    """A copy of `template` with each leaf replaced by fn(path, width, leaf)."""
    if isinstance(template, tuple) and hasattr(template, "_fields"):
        out = []
        for name, item in zip(template._fields, template, strict=True):
            sub = f"{path}.{name}" if path else name
            if isinstance(item, tuple):
                out.append(rebuild(item, fn, sub, widths))
            else:
                out.append(fn(sub, widths[name], item))
        return type(template)(*out)
    return tuple(  # type: ignore[return-value]  # a plain tuple rebuilds as one
        rebuild(item, fn, f"{path}[{i}]", widths) for i, item in enumerate(template)
    )


def fresh(
    template: R, prefix: str, ctx: z3.Context | None = None, widths: dict[str, int] = WIDTHS
) -> R:
    """A record shaped like `template` whose leaves are new Z3 variables."""

    def var(path: str, width: int, _: Value) -> z3.ExprRef:
        name = f"{prefix}{path}"
        return z3.Bool(name, ctx) if width == BOOL else z3.BitVec(name, width, ctx)

    return rebuild(template, var, widths=widths)


def lift(concrete: R, ctx: z3.Context | None = None, widths: dict[str, int] = WIDTHS) -> R:
    """A concrete record as Z3 constants."""

    def const(_: str, width: int, v: Value) -> z3.ExprRef:
        return z3.BoolVal(bool(v), ctx) if width == BOOL else z3.BitVecVal(v, width, ctx)

    return rebuild(concrete, const, widths=widths)


def to_python(term: z3.ExprRef, width: int) -> Value:
    """A Z3 value (already simplified to a literal) as a Python bool/int."""
    if width == BOOL:
        if z3.is_true(term):
            return True
        if z3.is_false(term):
            return False
    elif z3.is_bv_value(term):
        return term.as_long()
    raise ValueError(f"not a literal: {term}")


def evaluate(symbolic: R, model: z3.ModelRef, widths: dict[str, int] = WIDTHS) -> R:
    """The concrete record a Z3 model assigns to a symbolic one."""
    return rebuild(
        symbolic,
        lambda _p, w, t: to_python(model.eval(t, model_completion=True), w),
        widths=widths,
    )


def bind(
    variables: tuple,
    concrete: tuple,
    ctx: z3.Context | None = None,
    widths: dict[str, int] = WIDTHS,
) -> list[tuple[z3.ExprRef, z3.ExprRef]]:
    """Substitution pairs mapping each variable leaf to the concrete value."""
    consts = lift(concrete, ctx, widths)
    return [
        (v, c)
        for (_, _, v), (_, _, c) in zip(
            leaves(variables, widths=widths), leaves(consts, widths=widths), strict=True
        )
    ]


def mirror(st: State) -> State:
    """The world as the in-kernel peer sees it: the peer in the host's place
    (so every rule reads it unchanged) and the host as its peer. Its own
    inverse."""
    (peer,) = st.peer
    return State(peer.netns, peer.conns, (Host(st.netns, st.conns),))
