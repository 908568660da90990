"""A question made concrete: the state after the fixed part, the open
events as rule inputs, and how one open event plays out.

The fixed part runs on the concrete model exactly as `pmcheck simulate`
runs a scenario (pmcheck.interp: apply, then settle). An open event is one
rule application followed by at most `settle` environment steps; a run that
is still busy after them, or that overflows the model's slots, is cut (and
reported), never guessed at.

With an in-kernel peer (`peer pm kernel`) the environment after an open
event may deliver in any order: `orders` runs every one (distinct states
once), and a witness records its environment choices (`Order`), so each
outcome replays exactly. The fixed part settles in the default order, as
`simulate` does; leave `connect` open to ask about the orders after it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pmcheck import interp
from pmcheck.ask.projection import OutcomeKey, Projector
from pmcheck.ask.spec import AUTO_SETTLE, DEFAULT_PROJECTION, NO_CONN_PROJECTION, AskSpec
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.model.constants import FLAG_SIGNAL
from pmcheck.model.environment import choice_of, pending_actions
from pmcheck.model.inputs import NO_ADDR, NO_LIMITS, EventInput
from pmcheck.model.rules import Inputs
from pmcheck.model.state import State, initial_state
from pmcheck.model.topology import Topology
from pmcheck.model.versions import KernelVersion
from pmcheck.results import errno_text
from pmcheck.scenario.ast import Connect, EndpointAdd, Loc, OnPeer, PeerAnnounce, Scenario, Step
from pmcheck.scenario.errors import ScenarioError
from pmcheck.scenario.lower import Universe, UniverseFull, lower


class Status(enum.Enum):
    OK = "ok"
    BUSY = "busy"  # the environment had not settled after `settle` steps
    OVERFLOW = "overflow"  # more live subflows/announcements than the model's slots


@dataclass(frozen=True)
class Alternative:
    step: Step
    rule: str
    inputs: Inputs

    @property
    def text(self) -> str:
        return self.step.text


Sequence = tuple[int, ...]  # indices into Problem.alts
# The environment's choices after one open event (model.environment.choice_of),
# in the order taken; () is the default order.
Order = tuple[EventInput, ...]


@dataclass
class Peak:
    """The most a replay used: endpoints, subflow and announcement slots of
    any connection, environment steps after one event. The symbolic side
    sizes its encoding from this when a smaller one proved too small."""

    endpoints: int = 0
    subflows: int = 0
    annos: int = 0
    settle: int = 0

    def note(self, st: State, steps: int) -> None:
        for host in (st, *st.peer):  # an in-kernel peer's slots count too
            self.endpoints = max(self.endpoints, sum(1 for e in host.netns.endp if e.used))
            for c in host.conns:
                self.subflows = max(self.subflows, sum(1 for x in c.sf if x.used))
                self.annos = max(self.annos, sum(1 for a in c.anno if a.used))
        self.settle = max(self.settle, steps)


@dataclass
class Problem:
    spec: AskSpec
    version: KernelVersion
    universe: Universe
    topo: Topology
    start: State
    alts: tuple[Alternative, ...]
    projector: Projector
    notes: tuple[str, ...]  # fixed lines the kernel would refuse, said once

    def __post_init__(self) -> None:
        self._apply = interp.applier(self.version, self.topo, "concrete")

    @property
    def settle(self) -> int:
        return self.spec.settle or AUTO_SETTLE

    @property
    def all_orders(self) -> bool:
        return bool(self.start.peer)

    def step(
        self, st: State, alt: int, seen: Peak | None = None, order: Order | None = None
    ) -> tuple[State, Status]:
        """One open event, then the environment for at most `settle` steps,
        in the default order or with the choices of `order` (`seen`, if
        given, records the largest slot use and settle length)."""
        a = self.alts[alt]
        st, _ = self._apply(a.rule, st, a.inputs)
        count = [0]

        def note(_rule: str, _inputs: Inputs, after: State) -> None:
            count[0] += 1
            if seen is not None:
                seen.note(after, count[0])

        if order is None:
            st, _ = interp.settle_steps(self._apply, st, self.topo, self.settle, note)
        else:
            for choice in order[: self.settle]:
                st, _ = self._apply("environment", st, Inputs(NO_ADDR, NO_LIMITS, choice))
                note("environment", Inputs(NO_ADDR, NO_LIMITS, choice), st)
        if seen is not None:
            seen.note(st, 0)
        return st, self.status(st)

    def status(self, st: State) -> Status:
        if any(c.overflow for h in (st, *st.peer) for c in h.conns):
            return Status.OVERFLOW
        if interp.environment_step(st, self.topo) is not None:
            return Status.BUSY
        return Status.OK

    def orders(self, st: State, alt: int) -> list[tuple[State, Status, Order]]:
        """Every way one open event can end: the event, then every order of
        the environment's pending actions (each distinct state once, first
        by the shortest order), for at most `settle` steps."""
        a = self.alts[alt]
        st, _ = self._apply(a.rule, st, a.inputs)
        frontier: list[tuple[State, Order]] = [(st, ())]
        seen = {st}
        ends: list[tuple[State, Status, Order]] = []
        for n in range(self.settle + 1):
            nxt: list[tuple[State, Order]] = []
            for s, order in frontier:
                due = [x for x in pending_actions(CONCRETE, s, self.topo) if x.when]
                if not due or n == self.settle:
                    ends.append((s, self.status(s), order))
                    continue
                for x in due:
                    choice = choice_of(x)
                    after, _ = self._apply("environment", s, Inputs(NO_ADDR, NO_LIMITS, choice))
                    if after not in seen:
                        seen.add(after)
                        nxt.append((after, (*order, choice)))
            frontier = nxt
        return ends

    def replay(
        self, seq: Sequence, seen: Peak | None = None, orders: tuple[Order, ...] | None = None
    ) -> tuple[State, Status]:
        st = self.start
        for i, alt in enumerate(seq):
            st, status = self.step(st, alt, seen, None if orders is None else orders[i])
            if status is not Status.OK:
                return st, status
        return st, Status.OK

    def outcome(self, st: State) -> OutcomeKey:
        return self.projector.value(st)

    def sequence_text(self, seq: Sequence) -> str:
        return "; ".join(self.alts[i].text for i in seq) if seq else "(no open event)"

    @property
    def max_length(self) -> int:
        """Sequences longer than this cannot exist (without `repeat`, each
        alternative occurs at most once)."""
        n = self.spec.max_events
        return n if self.spec.repeat else min(n, len(self.alts))


def build_problem(spec: AskSpec, version: KernelVersion) -> Problem:
    prefix = spec.prefix
    whole = Scenario(
        prefix.source,
        prefix.kernel,
        prefix.steps + spec.alternatives,
        prefix.host_addrs,
        prefix.peer_addrs,
        prefix.peer_pm,
    )
    try:
        universe = Universe.of(whole)
        topo = universe.topology()
    except UniverseFull as e:
        raise ScenarioError(Loc(prefix.source, 0, 0), str(e)) from None
    apply = interp.applier(version, topo, "concrete")
    opened = sum(isinstance(s.command, Connect) for s in prefix.steps)
    open_conns = sum(isinstance(s.command, Connect) for s in spec.alternatives)
    st = initial_state(conns=max(1, opened + open_conns), peer_kernel=prefix.peer_kernel)
    notes = []
    for s in prefix.steps:
        name, inputs = lower(s.command, universe)
        st, out = apply(name, st, inputs)
        st = interp.settle(apply, st, topo, s.loc)
        if any(c.overflow for c in st.conns):
            raise ScenarioError(s.loc, "more live subflows or announcements than the model's slots")
        if out.errno:
            notes.append(f"line {s.loc.line} `{s.text}` fails: {errno_text(out.errno)}")
    alts = []
    for s in spec.alternatives:
        name, inputs = lower(s.command, universe)
        alts.append(Alternative(s, name, inputs))
    announced: list[int] = []
    for s in whole.steps:
        cmd = s.command
        # What the peer announces: the scripted peer's ADD_ADDRs, or an
        # in-kernel peer's signal endpoints.
        signal = (
            isinstance(cmd, OnPeer)
            and isinstance(cmd.command, EndpointAdd)
            and bool(cmd.command.flags & FLAG_SIGNAL)
        )
        if isinstance(cmd, PeerAnnounce) or signal:
            key = universe.addr_key(cmd.command.addr if signal else cmd.addr)
            if key not in announced:
                announced.append(key)
    conns = opened + open_conns
    projection = spec.projection or (DEFAULT_PROJECTION if conns else NO_CONN_PROJECTION)
    if not conns and set(projection.items) - {"endpoints"}:
        raise ScenarioError(
            spec.loc,
            "served-by, subflows and counters need a connection: add `connect` to the fixed part",
        )
    projector = Projector(projection, universe, conns, tuple(announced))
    return Problem(spec, version, universe, topo, st, tuple(alts), projector, tuple(notes))
