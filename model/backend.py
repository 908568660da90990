"""The operations interface every rule is written against.

A rule sees values only through an `Ops` object. `ConcreteOps` computes with
Python ints (bit-vectors, masked to their width) and bools; `Z3Ops` builds Z3
terms. The two must mean the same thing; tests/test_agreement.py checks it.

Records (NamedTuples and tuples of them) are merged field by field by `ite`,
so a rule can choose between whole endpoint slots or whole states at once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Protocol, TypeVar

# The Ops boundary, the one place the model says Any: a leaf value is a
# Python int/bool when read concretely and a z3 term when read symbolically.
Value = Any  # an int/bool (concrete) or a z3 term (symbolic)
T = TypeVar("T")  # a Value or a record (NamedTuple tree) of them

MASKS = {w: (1 << w) - 1 for w in (1, 4, 8, 16, 32, 256)}


class Ops(Protocol):
    """What rules may do with values. Widths are in bits."""

    symbolic: bool

    def const(self, value: int, width: int) -> Value: ...
    def true(self) -> Value: ...
    def false(self) -> Value: ...
    def and_(self, *xs: Value) -> Value: ...
    def or_(self, *xs: Value) -> Value: ...
    def not_(self, x: Value) -> Value: ...
    def ite(self, c: Value, a: T, b: T) -> T: ...
    def cond(self, c: Value, then: Callable[[], T], other: Callable[[], T]) -> T: ...
    def eq(self, a: Value, b: Value) -> Value: ...
    def ne(self, a: Value, b: Value) -> Value: ...
    def ult(self, a: Value, b: Value) -> Value: ...
    def ule(self, a: Value, b: Value) -> Value: ...
    def add(self, a: Value, b: Value, width: int) -> Value: ...
    def sub(self, a: Value, b: Value, width: int) -> Value: ...
    def band(self, a: Value, b: Value) -> Value: ...
    def bor(self, a: Value, b: Value) -> Value: ...
    def bxor(self, a: Value, b: Value) -> Value: ...
    def bnot(self, a: Value, width: int) -> Value: ...
    def has(self, flags: Value, bit: int) -> Value: ...
    def bit_test(self, bitmap: Value, index: Value) -> Value: ...
    def bit_set(self, bitmap: Value, index: Value) -> Value: ...
    def bit_clear(self, bitmap: Value, index: Value) -> Value: ...
    def find_next_zero_u8(self, bitmap: Value, start: Value) -> Value: ...
    def zext(self, x: Value, from_width: int, to_width: int) -> Value: ...
    def trunc(self, x: Value, from_width: int, to_width: int) -> Value: ...


# --- why a step did what it did ---------------------------------------------------------
#
# The kernel's pr_debug, read by the counterexample renderer: a rule marks a
# decision (branch taken, entry picked) with `note`, and a concrete run
# inside `recording()` collects the notes of the branches it took. On the
# symbolic backend, and outside `recording()`, `note` does nothing.

Note = tuple[str, dict[str, int]]  # (format, concrete values by name)
_recorder: list[Note] | None = None


def note(ops: Ops, cond: Value, fmt: str, **values: Value) -> None:
    """Record `fmt` (a str.format template over `values`; a value named
    `addr*` is an address key the renderer spells) if `cond` holds."""
    if _recorder is not None and not ops.symbolic and cond:
        _recorder.append((fmt, {k: int(v) for k, v in values.items()}))


class recording:
    """`with recording() as notes:` the notes of the concrete steps run inside."""

    def __enter__(self) -> list[Note]:
        global _recorder
        self._outer = _recorder
        _recorder = []
        return _recorder

    def __exit__(self, *exc: object) -> None:
        global _recorder
        _recorder = self._outer


def first_true(ops: Ops, conds: list[Value]) -> list[Value]:
    """One-hot "first match" vector: out[i] = conds[i] and no earlier cond.

    This is how a kernel `list_for_each_entry ... break` is read on both
    backends: the loop visits entries in list order and stops at the first hit.
    """
    if not ops.symbolic:  # same meaning, without building the chain
        out = [False] * len(conds)
        for i, c in enumerate(conds):
            if c:
                out[i] = True
                break
        return out
    out = []
    seen = ops.false()
    for c in conds:
        out.append(ops.and_(c, ops.not_(seen)))
        seen = ops.or_(seen, c)
    return out


def same(x: T) -> T:
    """The branch that leaves its record as it was (`ops.cond`'s else)."""
    return x


def stopped(ops: Ops, x: T) -> tuple[T, Value]:
    """The branch that leaves its record as it was and reports that
    nothing happened (a loop pass or a rule that did not run)."""
    return x, ops.false()


def select(ops: Ops, onehot: list[Value], items: list[T], default: T) -> T:
    """The item whose one-hot condition holds, else `default`."""
    if not ops.symbolic:
        for c, item in zip(onehot, items, strict=True):
            if c:
                return item
        return default
    result = default
    for c, item in zip(reversed(onehot), reversed(items), strict=True):
        result = ops.ite(c, item, result)
    return result


def early_returns(
    ops: Ops, cases: list[tuple[Value, Callable[[], T]]], otherwise: Callable[[], T]
) -> T:
    """`if (c1) return f1(); if (c2) return f2(); ...; return otherwise();`

    A chain of kernel early returns: the first case whose condition holds
    decides; each branch is built lazily (`ops.cond`), so the concrete
    backend computes only the branch taken."""
    if not cases:
        return otherwise()
    (cond, then), rest = cases[0], cases[1:]
    return ops.cond(cond, then, lambda: early_returns(ops, rest, otherwise))


def loop_while(
    ops: Ops,
    bound: int,
    state: T,
    cond: Callable[[T], Value],
    body: Callable[[T, int], tuple[T, Value]],
) -> T:
    """`while (cond(state)) { state, go_on = body(state, t); if (!go_on) break; }`

    Unrolled `bound` times, the most iterations the kernel loop can make
    (it consumes one endpoint or slot per pass); `t` is the pass number.
    `state` is any record (tuples of values) the body reads and writes; a
    pass that does not run leaves it unchanged."""
    running = ops.true()
    for t in range(bound):
        active = ops.and_(running, cond(state))
        if active is False:  # concrete: the loop has ended
            break
        state, go_on = ops.cond(active, partial(body, state, t), partial(stopped, ops, state))
        running = ops.and_(active, go_on)
    return state
