"""Run a scenario on the model: concretely, or through its Z3 encoding.

Both paths call the same rules; they differ only in the backend. After each
step the environment runs to quiescence, as on the live kernel: the PM
worker runs while scheduled, active joins get their outcome (the peer
completes joins to its own addresses on a port it listens on and resets the
others; joins to addresses nobody has stay in SYN_SENT), and the peer echoes
ADD_ADDRs. The result is a `Run` of the same shape the
live-kernel interpreter returns.
"""

from __future__ import annotations

from collections.abc import Callable

from pmcheck import views
from pmcheck.model import catalog  # noqa: F401  (registers the rules)
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.model.constants import EXTACK
from pmcheck.model.environment import next_action
from pmcheck.model.inputs import Outcome
from pmcheck.model.rules import RULES, Ctx, Inputs
from pmcheck.model.state import Conn, State, initial_state
from pmcheck.model.topology import Topology
from pmcheck.model.versions import KernelVersion
from pmcheck.results import ConnView, PeerView, Run, StepOutcome, SubflowRow
from pmcheck.scenario.ast import (
    Connect,
    EndpointAdd,
    EndpointShow,
    LimitsShow,
    Loc,
    OnPeer,
    Scenario,
    Step,
)
from pmcheck.scenario.errors import ScenarioError
from pmcheck.scenario.lower import Universe, UniverseFull, lower

BACKENDS = ("concrete", "z3")
SETTLE_LIMIT = 256  # environment steps per scenario step; each consumes work
Apply = Callable[[str, State, Inputs], tuple[State, Outcome]]


def applier(version: KernelVersion, topo: Topology, backend: str) -> Apply:
    """One rule application, on the chosen interpretation."""
    if backend == "z3":
        from pmcheck.model.symbolic import symbolic_step

        def z3_apply(name: str, state: State, inputs: Inputs) -> tuple[State, Outcome]:
            return symbolic_step(name, version, topo, len(state.conns)).apply(state, inputs)

        return z3_apply
    ctx = Ctx(CONCRETE, version, topo)
    return lambda name, state, inputs: RULES[name](ctx, state, inputs)


def environment_step(state: State, topo: Topology) -> tuple[str, Inputs] | None:
    """The next thing the world does on its own (model/environment.py has
    the order, shared with the checker), or None when everything settled."""
    return next_action(state, topo)


Taken = Callable[[str, Inputs, State], None]  # (rule, inputs, state after)


def settle_steps(
    apply: Apply, state: State, topo: Topology, limit: int, taken: Taken | None = None
) -> tuple[State, bool]:
    """THE settle loop (the scenario interpreter, `ask` and the trace
    minimizer all use it): at most `limit` environment steps in the default
    order. `taken` sees each step. Returns the state and whether the world
    is quiescent."""
    for _ in range(limit):
        nxt = environment_step(state, topo)
        if nxt is None:
            return state, True
        state, _ = apply(nxt[0], state, nxt[1])
        if taken is not None:
            taken(nxt[0], nxt[1], state)
    return state, environment_step(state, topo) is None


def settle(apply: Apply, state: State, topo: Topology, where: Loc) -> State:
    """Settle to quiescence, as the live kernel does after every step."""
    state, calm = settle_steps(apply, state, topo, SETTLE_LIMIT)
    if not calm:
        raise ScenarioError(where, f"the model did not settle within {SETTLE_LIMIT} steps")
    return state


Observer = Callable[[str, State, State, Outcome], None]


def run_model(
    scn: Scenario,
    version: KernelVersion,
    backend: str = "concrete",
    conn_slots: int | None = None,
    observer: Observer | None = None,
) -> Run:
    """Interpret every step; raises ScenarioError for input the model cannot
    represent (too many addresses, connections or subflows for its scope).
    `observer(rule, before, after, outcome)` sees every rule application, the
    environment's included (traces, selftest counters)."""
    try:
        universe = Universe.of(scn)
        topo = universe.topology()
    except UniverseFull as e:
        raise ScenarioError(Loc(scn.source, 0, 0), str(e)) from None
    opened = sum(isinstance(s.command, Connect) for s in scn.steps)
    apply = applier(version, topo, backend)
    if observer is not None:
        inner = apply

        def apply(name: str, state: State, inputs: Inputs) -> tuple[State, Outcome]:
            after, out = inner(name, state, inputs)
            observer(name, state, after, out)
            return after, out

    state = initial_state(conns=conn_slots or max(1, opened), peer_kernel=scn.peer_kernel)
    outcomes = []
    for index, step in enumerate(scn.steps):
        name, inputs = lower(step.command, universe)
        state, out = apply(name, state, inputs)
        state = settle(apply, state, topo, step.loc)
        for c in state.conns:
            if c.overflow:
                raise ScenarioError(
                    step.loc, "more live subflows or announcements than the model's slots"
                )
        outcomes.append(_observe(index, step, state, out, universe))
    interpreter = "model" if backend == "concrete" else "z3"
    return Run(interpreter, version.value, tuple(outcomes))


def conn_views(conns: tuple[Conn, ...], u: Universe, opened: int) -> tuple[ConnView, ...]:
    views_ = []
    for n, c in enumerate(conns[:opened], start=1):
        table = tuple(
            sorted(
                SubflowRow(
                    u.addr_text(s.local_addr),
                    s.local_id,
                    u.addr_text(s.remote_addr),
                    s.remote_id,
                    bool(s.backup),
                    bool(s.remote_backup),
                )
                for s in c.sf
                if s.used and s.established and not s.fin_rx
            )
        )
        views_.append(
            ConnView(
                n,
                c.extra_subflows,
                c.add_addr_signaled,
                c.add_addr_accepted,
                c.local_addr_used,
                table,
            )
        )
    return tuple(views_)


def _observe(index: int, step: Step, state: State, out: Outcome, u: Universe) -> StepOutcome:
    cmd = step.command
    on_peer = isinstance(cmd, OnPeer)
    shown = cmd.command if isinstance(cmd, OnPeer) else cmd
    ns = state.peer[0].netns if on_peer else state.netns
    reply = None
    if isinstance(shown, EndpointShow):
        reply = (
            views.dump_addr(ns, u.row) if shown.id is None else views.get_addr(ns, shown.id, u.row)
        )
    elif isinstance(shown, LimitsShow):
        reply = views.limits(ns)
    peer = None
    if state.peer:
        (host,) = state.peer
        peer = PeerView(
            endpoints=views.dump_addr(host.netns, u.row),
            limits=views.limits(host.netns),
            conns=conn_views(host.conns, u, u.conns_opened),
        )
    return StepOutcome(
        index=index,
        line=step.loc.line,
        text=step.text,
        errno=out.errno,
        extack=EXTACK[out.msg],
        new_id=out.value if isinstance(shown, EndpointAdd) and out.errno == 0 else None,
        reply=reply,
        endpoints=views.dump_addr(state.netns, u.row),
        limits=views.limits(state.netns),
        conns=conn_views(state.conns, u, u.conns_opened),
        peer=peer,
    )
