"""Rule registry: every rule is a named, framed function of (ctx, state, inputs).

A rule names the kernel function it models (its Python name is that function's
name) and declares the state fields it writes. Everything else is unchanged
by construction on both backends; tests/test_frames.py checks the declaration
against the symbolic encoding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from pmcheck.model.backend import Ops, Value
from pmcheck.model.inputs import AddrInput, EventInput, LimitsInput, Outcome
from pmcheck.model.state import State
from pmcheck.model.topology import Topology
from pmcheck.model.versions import KernelVersion


@dataclass(frozen=True)
class Ctx:
    """What a rule may consult besides state and inputs: the backend, the
    kernel version and the topology (configuration, so Python `if` on them
    is allowed)."""

    ops: Ops
    version: KernelVersion
    topo: Topology = field(default_factory=Topology)

    def mirrored(self) -> Ctx:
        """The context of the in-kernel peer: the same backend and kernel,
        the topology seen from the peer."""
        return Ctx(self.ops, self.version, self.topo.mirror())


class Inputs(NamedTuple):
    """Every command's and event's parameters; a rule reads the part it needs."""

    addr: AddrInput
    limits: LimitsInput
    event: EventInput


RuleFn = Callable[[Ctx, State, Inputs], tuple[State, Outcome]]


@dataclass(frozen=True)
class Rule:
    name: str  # the command or event, as the scenario language says it
    kernel_function: str
    fn: RuleFn
    writes: tuple[str, ...]  # state paths (prefixes, `[*]` any index) the rule may change
    reads_inputs: tuple[str, ...]  # which Inputs fields matter

    def __call__(self, ctx: Ctx, state: State, inputs: Inputs) -> tuple[State, Outcome]:
        return self.fn(ctx, state, inputs)


RULES: dict[str, Rule] = {}


# --- frames: what a rule may write, as state paths (`[*]`: any index) -----------------
# A rule that runs on the in-kernel peer's side too writes the same fields there
# (`on_both_sides`). tests/test_frames.py holds every rule to its frame.

ENDPOINT_TABLE = tuple(
    f"netns.{f}"
    for f in (
        "endp",
        "endpoints",
        "id_bitmap",
        "next_id",
        "endp_signal_max",
        "endp_subflow_max",
        "endp_laminar_max",
        "endp_fullmesh_max",
    )
)


def conn_fields(*fields: str) -> tuple[str, ...]:
    """Fields of any connection's `msk->pm` / subflow list."""
    return tuple(f"conns[*].{f}" for f in fields)


def on_both_sides(*paths: str) -> tuple[str, ...]:
    """`paths` on the host and the same paths on an in-kernel peer."""
    return (*paths, *(f"peer[*].{p}" for p in paths))


def rule(
    name: str,
    writes: tuple[str, ...],
    reads_inputs: tuple[str, ...] = (),
    kernel: str | None = None,
) -> Callable[[RuleFn], RuleFn]:
    """Register a rule under a scenario command name. Its kernel function is
    the Python function's name, or `kernel` where the rule only adapts a
    scenario verb's inputs to a function of that name (which then cannot
    share the name)."""

    def deco(fn: RuleFn) -> RuleFn:
        if name in RULES:
            raise ValueError(f"rule {name!r} registered twice")
        RULES[name] = Rule(name, kernel or fn.__name__, fn, writes, reads_inputs)
        return fn

    return deco


def first_error(
    ops: Ops, checks: list[tuple[Value, int, int]], value: Value
) -> tuple[Value, Outcome]:
    """Fold kernel checks made in order into (failed, outcome).

    `checks` holds (condition, errno, extack index); the first condition that
    holds decides the result, as a chain of early `return -E...` does.
    """
    errno = ops.const(0, 8)
    msg = ops.const(0, 8)
    failed = ops.false()
    for cond, err, m in reversed(checks):
        errno = ops.ite(cond, ops.const(err, 8), errno)
        msg = ops.ite(cond, ops.const(m, 8), msg)
        failed = ops.or_(failed, cond)
    return failed, Outcome(errno, msg, ops.ite(failed, ops.const(0, 8), value))
