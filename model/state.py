"""Model state: records of fixed-width values, shared by both backends.

Every field is a Bool or a bit-vector of a declared width (WIDTHS). A state is
a NamedTuple tree: the concrete backend fills it with ints/bools, the Z3
backend with terms. `fresh` makes an all-variables state for symbolic checks,
`lift` turns a concrete state into Z3 constants, and `evaluate` reads a Z3
state back as a concrete one under a model.

Per-connection state (issue 4) joins `State` as another field; the netns part
is unchanged by that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import z3

from pmcheck.model.constants import MPTCP_PM_ADDR_MAX

BOOL = 0  # width marker for Boolean fields


class Endpoint(NamedTuple):
    """One `struct mptcp_pm_addr_entry` slot of the endpoint list.

    The list is compact: used slots come first, in the kernel's list order
    (entries with a port at the head, the rest at the tail).
    """

    used: Any  # Bool: the slot holds an entry
    family: Any  # AF_INET (2) or AF_INET6 (10)
    addr: Any  # address key in the scenario's address universe (v4-mapped = v4)
    port: Any  # 0 = none
    id: Any  # endpoint id, u8
    flags: Any  # MPTCP_PM_ADDR_FLAG_* bits
    ifindex: Any  # device key, 0 = none


class Netns(NamedTuple):
    """`struct pm_nl_pernet` (pm_kernel.c): the per-namespace endpoint table."""

    endp: tuple[Endpoint, ...]  # MPTCP_PM_ADDR_MAX slots, list order
    endpoints: Any  # number of entries, implicit ones included
    next_id: Any  # id allocation cursor
    id_bitmap: Any  # 256-bit: ids in use
    endp_signal_max: Any  # entries with SIGNAL (a count, despite the name)
    endp_subflow_max: Any
    endp_laminar_max: Any
    endp_fullmesh_max: Any  # 6.19 only; stays 0 on 6.18
    limit_add_addr_accepted: Any
    limit_extra_subflows: Any


class State(NamedTuple):
    """The whole model state."""

    netns: Netns


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
}

EMPTY_ENDPOINT = Endpoint(False, 0, 0, 0, 0, 0, 0)


def initial_state() -> State:
    """A fresh namespace: `pm_nl_init_net` (limits 0 / 2, next_id 1)."""
    return State(
        netns=Netns(
            endp=(EMPTY_ENDPOINT,) * MPTCP_PM_ADDR_MAX,
            endpoints=0,
            next_id=1,
            id_bitmap=0,
            endp_signal_max=0,
            endp_subflow_max=0,
            endp_laminar_max=0,
            endp_fullmesh_max=0,
            limit_add_addr_accepted=0,
            limit_extra_subflows=2,
        )
    )


# --- walking records ---------------------------------------------------------


def leaves(value: Any, path: str = "", widths: dict[str, int] = WIDTHS) -> Iterator[
    tuple[str, int, Any]
]:
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


def rebuild(template: Any, fn: Callable[[str, int, Any], Any], path: str = "",
            widths: dict[str, int] = WIDTHS) -> Any:
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
    return tuple(rebuild(item, fn, f"{path}[{i}]", widths) for i, item in enumerate(template))


def fresh(template: Any, prefix: str, ctx: z3.Context | None = None,
          widths: dict[str, int] = WIDTHS) -> Any:
    """A record shaped like `template` whose leaves are new Z3 variables."""

    def var(path: str, width: int, _: Any) -> z3.ExprRef:
        name = f"{prefix}{path}"
        return z3.Bool(name, ctx) if width == BOOL else z3.BitVec(name, width, ctx)

    return rebuild(template, var, widths=widths)


def lift(concrete: Any, ctx: z3.Context | None = None,
         widths: dict[str, int] = WIDTHS) -> Any:
    """A concrete record as Z3 constants."""

    def const(_: str, width: int, v: Any) -> z3.ExprRef:
        return z3.BoolVal(bool(v), ctx) if width == BOOL else z3.BitVecVal(v, width, ctx)

    return rebuild(concrete, const, widths=widths)


def to_python(term: z3.ExprRef, width: int) -> Any:
    """A Z3 value (already simplified to a literal) as a Python bool/int."""
    if width == BOOL:
        if z3.is_true(term):
            return True
        if z3.is_false(term):
            return False
    elif z3.is_bv_value(term):
        return term.as_long()
    raise ValueError(f"not a literal: {term}")


def evaluate(symbolic: Any, model: z3.ModelRef, widths: dict[str, int] = WIDTHS) -> Any:
    """The concrete record a Z3 model assigns to a symbolic one."""
    return rebuild(
        symbolic,
        lambda _p, w, t: to_python(model.eval(t, model_completion=True), w),
        widths=widths,
    )


def bind(variables: Any, concrete: Any, ctx: z3.Context | None = None,
         widths: dict[str, int] = WIDTHS) -> list[tuple[z3.ExprRef, z3.ExprRef]]:
    """Substitution pairs mapping each variable leaf to the concrete value."""
    consts = lift(concrete, ctx, widths)
    return [
        (v, c)
        for (_, _, v), (_, _, c) in zip(
            leaves(variables, widths=widths), leaves(consts, widths=widths), strict=True
        )
    ]
