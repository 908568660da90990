"""A question made concrete: the state after the fixed part, the open
events as rule inputs, and how one open event plays out.

The fixed part runs on the concrete model exactly as `pmcheck simulate`
runs a scenario (pmcheck.interp: apply, then settle). An open event is one
rule application followed by at most `settle` environment steps; a run that
is still busy after them, or that overflows the model's slots, is cut (and
reported), never guessed at.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pmcheck import interp
from pmcheck.ask.projection import Outcome, Projector
from pmcheck.ask.spec import AUTO_SETTLE, DEFAULT_PROJECTION, NO_CONN_PROJECTION, AskSpec
from pmcheck.model.rules import Inputs
from pmcheck.model.state import State, initial_state
from pmcheck.model.topology import Topology
from pmcheck.model.versions import KernelVersion
from pmcheck.results import errno_text
from pmcheck.scenario.ast import Connect, Loc, PeerAnnounce, Scenario, Step
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
        self.endpoints = max(self.endpoints, sum(1 for e in st.netns.endp if e.used))
        for c in st.conns:
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

    def step(self, st: State, alt: int, seen: Peak | None = None) -> tuple[State, Status]:
        """One open event, then the environment for at most `settle` steps
        (`seen`, if given, records the largest slot use and settle length)."""
        a = self.alts[alt]
        st, _ = self._apply(a.rule, st, a.inputs)
        for n in range(1, self.settle + 1):
            nxt = interp.environment_step(st, self.topo)
            if nxt is None:
                break
            st, _ = self._apply(nxt[0], st, nxt[1])
            if seen is not None:
                seen.note(st, n)
        if seen is not None:
            seen.note(st, 0)
        if any(c.overflow for c in st.conns):
            return st, Status.OVERFLOW
        if interp.environment_step(st, self.topo) is not None:
            return st, Status.BUSY
        return st, Status.OK

    def replay(self, seq: Sequence, seen: Peak | None = None) -> tuple[State, Status]:
        st = self.start
        for alt in seq:
            st, status = self.step(st, alt, seen)
            if status is not Status.OK:
                return st, status
        return st, Status.OK

    def outcome(self, st: State) -> Outcome:
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
    )
    try:
        universe = Universe.of(whole)
        topo = universe.topology()
    except UniverseFull as e:
        raise ScenarioError(Loc(prefix.source, 0, 0), str(e)) from None
    apply = interp.applier(version, topo, "concrete")
    opened = sum(isinstance(s.command, Connect) for s in prefix.steps)
    st = initial_state(conns=max(1, opened))
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
        if isinstance(s.command, PeerAnnounce):
            key = universe.addr_key(s.command.addr)
            if key not in announced:
                announced.append(key)
    projection = spec.projection or (DEFAULT_PROJECTION if opened else NO_CONN_PROJECTION)
    if not opened and set(projection.items) - {"endpoints"}:
        raise ScenarioError(
            spec.loc,
            "served-by, subflows and counters need a connection: add `connect` to the fixed part",
        )
    projector = Projector(projection, universe, opened, tuple(announced))
    return Problem(spec, version, universe, topo, st, tuple(alts), projector, tuple(notes))
