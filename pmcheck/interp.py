"""Run a scenario on the model: concretely, or through its Z3 encoding.

Both paths call the same rules; they differ only in the backend. The result
is a `Run` of the same shape the live-kernel interpreter returns.
"""

from __future__ import annotations

from pmcheck.model import (
    endpoint_table,  # noqa: F401  (registers the rules)
    views,
)
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.model.constants import EXTACK
from pmcheck.model.inputs import Outcome
from pmcheck.model.rules import RULES, Ctx
from pmcheck.model.state import State, initial_state
from pmcheck.results import Run, StepOutcome
from pmcheck.scenario.ast import EndpointAdd, EndpointShow, LimitsShow, Loc, Scenario
from pmcheck.scenario.errors import ScenarioError
from pmcheck.scenario.lower import Universe, UniverseFull, lower
from pmcheck.versions import KernelVersion

BACKENDS = ("concrete", "z3")


def run_model(scn: Scenario, version: KernelVersion, backend: str = "concrete") -> Run:
    """Interpret every step; raises ScenarioError for input the model cannot
    represent (e.g. more than 255 distinct addresses)."""
    try:
        universe = Universe.of(scn)
    except UniverseFull as e:
        raise ScenarioError(Loc(scn.source, 0, 0), str(e)) from None
    ctx = Ctx(CONCRETE, version)
    state = initial_state()
    outcomes = []
    for index, step in enumerate(scn.steps):
        name, inputs = lower(step.command, universe)
        if backend == "z3":
            from pmcheck.model.symbolic import symbolic_step

            state, out = symbolic_step(name, version).apply(state, inputs)
        else:
            state, out = RULES[name](ctx, state, inputs)
        outcomes.append(_observe(index, step, state, out, universe))
    interpreter = "model" if backend == "concrete" else "z3"
    return Run(interpreter, version.value, tuple(outcomes))


def _observe(index: int, step, state: State, out: Outcome, u: Universe) -> StepOutcome:
    ns = state.netns
    cmd = step.command
    reply = None
    if isinstance(cmd, EndpointShow):
        reply = (views.dump_addr(ns, u.row) if cmd.id is None
                 else views.get_addr(ns, cmd.id, u.row))
    elif isinstance(cmd, LimitsShow):
        reply = views.limits(ns)
    return StepOutcome(
        index=index,
        line=step.loc.line,
        text=step.text,
        errno=out.errno,
        extack=EXTACK[out.msg],
        new_id=out.value if isinstance(cmd, EndpointAdd) and out.errno == 0 else None,
        reply=reply,
        endpoints=views.dump_addr(ns, u.row),
        limits=views.limits(ns),
    )
