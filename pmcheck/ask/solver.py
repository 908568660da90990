"""The symbolic answer to a question: enumerate outcomes with Z3 until unsat.

The state after the fixed part is a constant. Open event slot k chooses one
alternative with a variable c_k (the alternative's rule, encoded once, with
its concrete inputs), then the `environment` rule (model/environment.py) is
applied E times; every application gets a fresh state linked by
equalities, so the solver sees a chain of small steps.

Lengths are tried in increasing order. At length L every outcome found so
far is blocked (the negation of its projection on the final state) and the
solver is asked again until unsat, so the first sequence found for an
outcome is a shortest one. Each model is replayed on the concrete model
(pmcheck.ask.problem); the outcome reported is the replay's, and a replay
that disagrees with the encoding is an internal error, never a row.

Speed (measured on the seed question, 3 slots): a fresh non-incremental
solver per query is ~10x faster than push/pop or assumptions, because
Z3's preprocessing (solve-eqs, constant propagation from the concrete
start) only runs in that mode. The encoding is also made as small as the
question allows: fewer endpoint/subflow/announcement slots than the
model's 8, and fewer environment steps than the settle bound. Both are
checked, never assumed: if some sequence overflows the small slots or is
still busy after E steps, the slots or E grow and the enumeration starts
again, so the answer is the one the full model gives.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import Any

import z3

from pmcheck.ask.explicit import Answer, explicit_answer
from pmcheck.ask.problem import Order, Peak, Problem, Sequence, Status
from pmcheck.model.constants import MPTCP_PM_ADDR_MAX
from pmcheck.model.environment import quiescent
from pmcheck.model.inputs import INPUT_WIDTHS, NO_ADDR, NO_EVENT, NO_LIMITS, EventInput, Outcome
from pmcheck.model.rules import RULES, Ctx, Inputs
from pmcheck.model.state import (
    ANNO_SLOTS,
    BOOL,
    DEFAULT_SUBFLOW_SLOTS,
    State,
    evaluate,
    fresh,
    initial_state,
    leaves,
    lift,
    rebuild,
)
from pmcheck.model.symbolic import INPUTS_TEMPLATE, SymbolicStep
from pmcheck.model.topology import Topology
from pmcheck.model.versions import KernelVersion
from pmcheck.model.z3_ops import Z3Ops
from pmcheck.signals import raise_if_stopped

OPS = Z3Ops()
ENV_INPUTS = Inputs(NO_ADDR, NO_LIMITS, NO_EVENT)
FIRST_SETTLE = 4  # environment steps tried first (the examples settle in <= 4)
SLACK = 1  # spare subflow/endpoint slots beyond what the probes used


class EncodingMismatch(RuntimeError):
    """The solver's path and its concrete replay disagree: a model bug."""


@dataclass(frozen=True)
class Shape:
    """Slots of the symbolic state; the concrete model always has 8 of each."""

    endpoints: int
    subflows: int
    annos: int

    @property
    def full(self) -> bool:
        return self == FULL


FULL = Shape(MPTCP_PM_ADDR_MAX, DEFAULT_SUBFLOW_SLOTS, ANNO_SLOTS)


class _Restart(Exception):
    def __init__(self, shape: Shape, settle: int) -> None:
        self.shape, self.settle = shape, settle


def first_guess(problem: Problem) -> tuple[Shape, int]:
    """Slots and settle steps to start with: what the fixed part and a few
    cheap concrete probes (each event alone, all in order, all reversed)
    use, plus a little room. Only a guess: the enumeration checks it and
    grows it (see _cuts), so a wrong guess costs time, never an outcome."""
    peak = Peak()
    peak.note(problem.start, 0)
    n = len(problem.alts)
    for seq in [(i,) for i in range(n)] + [tuple(range(n)), tuple(reversed(range(n)))]:
        problem.replay(seq[: problem.max_length], peak)
    shape = Shape(
        min(FULL.endpoints, peak.endpoints + SLACK),
        min(FULL.subflows, peak.subflows + SLACK),
        min(FULL.annos, peak.annos + 1),
    )
    return shape, min(problem.settle, max(FIRST_SETTLE, peak.settle + 1))


def _shaped_host(host: Any, shape: Shape) -> Any:
    ns = host.netns._replace(endp=host.netns.endp[: shape.endpoints])
    conns = tuple(
        c._replace(sf=c.sf[: shape.subflows], anno=c.anno[: shape.annos]) for c in host.conns
    )
    return host._replace(netns=ns, conns=conns)


def _shaped(st: State, shape: Shape) -> State:
    """Both hosts' slots cut to `shape` (an in-kernel peer's too)."""
    return _shaped_host(st, shape)._replace(peer=tuple(_shaped_host(h, shape) for h in st.peer))


def trim(st: State, shape: Shape) -> State:
    """The concrete state in fewer slots (the dropped slots are unused: the
    endpoint list is compact, and we only drop free subflow/anno slots)."""
    small = _shaped(st, shape)
    for big_h, small_h in zip((st, *st.peer), (small, *small.peer), strict=True):
        if sum(e.used for e in small_h.netns.endp) != big_h.netns.endpoints or any(
            sum(s.used for s in a.sf) != sum(s.used for s in b.sf)
            or sum(x.used for x in a.anno) != sum(x.used for x in b.anno)
            for a, b in zip(small_h.conns, big_h.conns, strict=True)
        ):
            raise ValueError("shape smaller than the fixed part's state")
    return small


_ENCODINGS: dict[tuple[str, KernelVersion, Topology, Shape, int], SymbolicStep] = {}


def encode(
    rule: str, version: KernelVersion, topo: Topology, shape: Shape, conns: int
) -> SymbolicStep:
    """The rule's one-step encoding over a state of `shape` (cached), built
    as pmcheck.model.symbolic.symbolic_step builds it."""
    key = (rule, version, topo, shape, conns)
    if key not in _ENCODINGS:
        template = _shaped(initial_state(conns=conns, peer_kernel=topo.peer_kernel), shape)
        pre = fresh(template, "s.")
        inputs = fresh(INPUTS_TEMPLATE, "i.", widths=INPUT_WIDTHS)
        post, out = RULES[rule](Ctx(OPS, version, topo), pre, inputs)
        out = Outcome(*(v if isinstance(v, z3.ExprRef) else OPS.const(int(v), 8) for v in out))
        _ENCODINGS[key] = SymbolicStep(rule, pre, inputs, post, out)
    return _ENCODINGS[key]


class Unrolling:
    """Slots 0..k-1 of open events, each followed by E environment steps;
    `facts` collects the assertions (each query gets a fresh solver)."""

    def __init__(self, problem: Problem, shape: Shape, settle: int) -> None:
        self.p, self.shape, self.settle = problem, shape, settle
        conns = len(problem.start.conns)
        v, topo = problem.version, problem.topo
        self.env = encode("environment", v, topo, shape, conns)
        self.events = [encode(a.rule, v, topo, shape, conns) for a in problem.alts]
        self.final: State = lift(trim(problem.start, shape))
        self.facts: list[z3.BoolRef] = []
        self.choices: list[z3.BitVecRef] = []
        # With an in-kernel peer: the environment's input (which action) at
        # each of its steps, free; per open event, a tuple of E.
        self.env_choices: list[tuple[EventInput, ...]] = []
        self.overflow: list[z3.BoolRef] = []  # per slot: the small shape overflowed
        self.busy: list[z3.BoolRef] = []  # per slot: not quiescent after E steps

    def extend(self) -> None:
        """Add slot k: c_k picks an alternative (distinct from the earlier
        ones unless `repeat`), then the environment runs E steps."""
        k = len(self.choices)
        c = z3.BitVec(f"c{k}", 8)
        self.facts.append(z3.ULT(c, len(self.p.alts)))
        if not self.p.spec.repeat:
            self.facts += [c != d for d in self.choices]
        posts = [
            _apply(step, self.final, a.inputs)
            for step, a in zip(self.events, self.p.alts, strict=True)
        ]
        post = posts[-1]
        for i in range(len(posts) - 2, -1, -1):
            post = OPS.ite(c == i, posts[i], post)
        st = self._link(post, f"k{k}e0.")
        chosen = []
        for j in range(1, self.settle + 1):
            inputs: Any = ENV_INPUTS
            if self.p.all_orders:
                event = fresh(NO_EVENT, f"k{k}e{j}c.", widths=INPUT_WIDTHS)
                chosen.append(event)
                inputs = lift(ENV_INPUTS, widths=INPUT_WIDTHS)._replace(event=event)
            st = self._link(_apply(self.env, st, inputs), f"k{k}e{j}.")
        self.env_choices.append(tuple(chosen))
        self.overflow.append(
            z3.Or(
                *[cn.overflow for h in (st, *st.peer) for cn in h.conns],
                *[z3.UGT(h.netns.endpoints, self.shape.endpoints) for h in (st, *st.peer)],
            )
        )
        self.busy.append(z3.Not(OPS.and_(quiescent(OPS, st, self.p.topo))))
        self.choices.append(c)
        self.final = st

    def settled(self, k: int) -> z3.BoolRef:
        return z3.And(z3.Not(self.overflow[k]), z3.Not(self.busy[k]))

    def _link(self, terms: State, prefix: str) -> State:
        """A fresh state equal to `terms`: a cut point for the solver."""
        nxt = fresh(terms, prefix)
        self.facts += [
            a == b for (_, _, a), (_, _, b) in zip(leaves(nxt), leaves(terms), strict=True)
        ]
        return nxt

    def decode(self, model: z3.ModelRef) -> Sequence:
        return tuple(model.eval(c, model_completion=True).as_long() for c in self.choices)

    def decode_orders(self, model: z3.ModelRef) -> tuple[Order, ...] | None:
        """The environment's choices after each event (None: default order)."""
        if not self.p.all_orders:
            return None
        return tuple(
            tuple(evaluate(e, model, widths=INPUT_WIDTHS) for e in per) for per in self.env_choices
        )


def _apply(step: SymbolicStep, state: State, inputs: Inputs) -> State:
    """The step's post-state at `state` (terms) and `inputs` (concrete, or
    already terms): one substitution of the packed encoding, then one slice
    per field."""
    pairs = [(v, t) for (_, _, v), (_, _, t) in zip(leaves(step.pre), leaves(state), strict=True)]
    terms = inputs if _is_terms(inputs) else lift(inputs, widths=INPUT_WIDTHS)
    pairs += [
        (v, c)
        for (_, _, v), (_, _, c) in zip(
            leaves(step.inputs, widths=INPUT_WIDTHS),
            leaves(terms, widths=INPUT_WIDTHS),
            strict=True,
        )
    ]
    packed = z3.substitute(step._packed, *pairs)
    hi = packed.size() - 1
    fields: list[Any] = []
    for _, w, _ in leaves(step.post):
        size = max(w, 1)
        part = z3.Extract(hi, hi - size + 1, packed)
        fields.append(part == 1 if w == BOOL else part)
        hi -= size
    it = iter(fields)
    return rebuild(step.post, lambda _p, _w, _t: next(it))


def _is_terms(inputs: Inputs) -> bool:
    return isinstance(inputs.event.conn, z3.ExprRef)


class _Queries:
    """One fresh solver per query (see the module docstring for why)."""

    def __init__(self, timeout_s: float, rlimit: int) -> None:
        self.timeout_s, self.rlimit, self.count = timeout_s, rlimit, 0

    def check(self, facts: list[z3.BoolRef]) -> tuple[z3.CheckSatResult, Any]:
        s = z3.SolverFor("QF_BV")
        s.set("timeout", int(self.timeout_s * 1000))
        if self.rlimit:
            s.set("rlimit", self.rlimit)
        s.add(*facts)
        r = s.check()
        raise_if_stopped()  # a Ctrl-C's canceled query is not an answer
        self.count += 1
        return r, (s.model() if r == z3.sat else s.reason_unknown() if r == z3.unknown else None)


def symbolic_answer(
    problem: Problem, max_outcomes: int = 500, timeout_s: float = 120.0, rlimit: int = 0
) -> Answer:
    """Every outcome of at most `problem.max_length` open events, by blocking
    each found outcome and asking again until unsat."""
    t0 = time.perf_counter()
    shape, settle = first_guess(problem)
    queries = _Queries(timeout_s, rlimit)
    while True:
        try:
            ans = _enumerate(problem, shape, settle, max_outcomes, queries)
            break
        except _Restart as r:
            shape, settle = r.shape, r.settle
    canonical_witnesses(problem, ans)
    ans.queries = queries.count
    ans.seconds = time.perf_counter() - t0
    return ans


CANONICAL_LIMIT = 20_000  # sequences of one length worth running to pick witnesses


def canonical_witnesses(problem: Problem, ans: Answer) -> None:
    """Print the same table whatever model Z3 happened to return: among the
    shortest sequences reaching an outcome, show the first in the order of
    the `any` alternatives (the one the explicit oracle shows), and list the
    outcomes by length, then sequence. Only the choice among equally short
    sequences changes, each checked on the concrete model; lengths and the
    outcome set are the solver's. Skipped for lengths with too many
    sequences to run."""
    if problem.all_orders:
        _explicit_witnesses(problem, ans)
        return
    n, lengths = len(problem.alts), {len(seq) for seq in ans.outcomes.values()}
    for length in sorted(lengths - {0}):
        seqs = (
            itertools.product(range(n), repeat=length)
            if problem.spec.repeat
            else itertools.permutations(range(n), length)
        )
        count = n**length if problem.spec.repeat else math.perm(n, length)
        if count > CANONICAL_LIMIT:
            continue
        first: dict[object, Sequence] = {}
        for seq in seqs:
            st, status = problem.replay(seq)
            if status is Status.OK:
                first.setdefault(problem.outcome(st), seq)
        for out, seq in ans.outcomes.items():
            if len(seq) == length and out in first:
                ans.outcomes[out] = first[out]
    ordered = sorted(ans.outcomes.items(), key=lambda item: (len(item[1]), item[1]))
    ans.outcomes = dict(ordered)


def _explicit_witnesses(problem: Problem, ans: Answer) -> None:
    """With an in-kernel peer the orders make the sequences too many to run
    one by one; the explicit search's witnesses (and orders) are taken
    where it is small enough, else the solver's are kept."""
    n = len(problem.alts)
    count = sum(
        n**k if problem.spec.repeat else math.perm(n, k) for k in range(problem.max_length + 1)
    )
    if count <= CANONICAL_LIMIT // 100:
        exp = explicit_answer(problem)
        for out in ans.outcomes:
            if out in exp.outcomes:
                ans.outcomes[out] = exp.outcomes[out]
                if out in exp.orders:
                    ans.orders[out] = exp.orders[out]
                else:
                    ans.orders.pop(out, None)
    ordered = sorted(ans.outcomes.items(), key=lambda item: (len(item[1]), item[1]))
    ans.outcomes = dict(ordered)


def _enumerate(
    problem: Problem, shape: Shape, settle: int, max_outcomes: int, queries: _Queries
) -> Answer:
    ans = Answer()
    path = Unrolling(problem, shape, settle)
    proj = problem.projector
    # Length 0: the fixed part's own outcome (a constant; no query needed).
    ans.outcomes[problem.outcome(problem.start)] = ()
    for length in range(1, problem.max_length + 1):
        path.extend()
        k = length - 1
        base = path.facts + [path.settled(j) for j in range(k)]
        if not _cuts(problem, path, base, k, ans, queries):
            return ans
        blocks = [z3.Not(proj.holds(path.final, out)) for out in ans.outcomes]
        new = False
        while True:
            if len(ans.outcomes) >= max_outcomes:
                ans.stopped = f"stopped at {max_outcomes} outcomes (--max-outcomes)"
                return ans
            r, model = queries.check([*base, path.settled(k), *blocks])
            if r == z3.unknown:
                ans.stopped = f"the solver gave up at length {length}: {model}"
                ans.complete = False
                return ans
            if r == z3.unsat:
                break
            seq, orders = path.decode(model), path.decode_orders(model)
            after, status = problem.replay(seq, orders=orders)
            out = problem.outcome(after)
            if (
                status is not Status.OK
                or out in ans.outcomes
                or not z3.is_true(model.eval(proj.holds(path.final, out), True))
            ):
                raise EncodingMismatch(
                    f"the solver's sequence `{problem.sequence_text(seq)}` replays on the "
                    f"concrete model to {status.value} / an outcome it had blocked"
                )
            ans.outcomes[out] = seq
            if orders is not None:
                ans.orders[out] = orders
            new = True
            blocks.append(z3.Not(proj.holds(path.final, out)))
        ans.new_at_bound = new and length == problem.max_length
    ans.complete = not ans.cut
    return ans


def _cuts(
    problem: Problem,
    path: Unrolling,
    base: list[z3.BoolRef],
    k: int,
    ans: Answer,
    queries: _Queries,
) -> bool:
    """Sequences of length k+1 that the small encoding cannot finish: grow it
    and restart when the concrete model does finish them, else record them
    as cut (the settle bound or the model's slots). False: the solver gave up."""
    for kind, cond in (
        ("overflow", path.overflow[k]),
        ("busy", z3.And(z3.Not(path.overflow[k]), path.busy[k])),
    ):
        r, model = queries.check([*base, cond])
        if r == z3.unknown:
            ans.stopped = f"the solver gave up at length {k + 1}: {model}"
            ans.complete = False
            return False
        if r == z3.unsat:
            continue
        seq = path.decode(model)
        peak = Peak()
        _, status = problem.replay(seq, peak, path.decode_orders(model))
        # Too small for this sequence: grow to what its concrete replay used
        # (at least double), so one restart usually suffices.
        if kind == "overflow" and not path.shape.full:
            old = path.shape
            grown = Shape(
                *(
                    min(full, max(2 * was, need + 1))
                    for full, was, need in zip(
                        (FULL.endpoints, FULL.subflows, FULL.annos),
                        (old.endpoints, old.subflows, old.annos),
                        (peak.endpoints, peak.subflows, peak.annos),
                        strict=True,
                    )
                )
            )
            raise _Restart(FULL if status is Status.OVERFLOW else grown, path.settle)
        if kind == "busy" and path.settle < problem.settle:
            raise _Restart(path.shape, min(problem.settle, max(2 * path.settle, peak.settle)))
        expected = Status.OVERFLOW if kind == "overflow" else Status.BUSY
        if status is not expected:
            raise EncodingMismatch(
                f"`{problem.sequence_text(seq)}` is {kind} in the encoding "
                f"but {status.value} on the concrete model"
            )
        ans.cut.setdefault(status, seq)
    return True
