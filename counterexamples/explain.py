"""The violated expression, evaluated on the violating state.

A property is written once over `Ops`. Read here with `ExplainOps`, every
value carries its concrete value, its width and a text built from the state
field names it came from, so the property's own conjuncts come back with
their truth values, e.g. `endp[0].id != 0` false. Long sub-expressions (a
bitmap folded over eight slots) are shown by the fields they read and their
value rather than spelled out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pmcheck.counterexamples.names import field_text, id_set_text, readable
from pmcheck.counterexamples.trace import Conjunct
from pmcheck.model.backend import MASKS
from pmcheck.model.concrete_ops import CONCRETE
from pmcheck.model.state import BOOL, State, rebuild
from pmcheck.properties.base import Property

MAX_TEXT = 64  # longer sub-expressions are summarized
MAX_FAILING = 4  # failing parts shown under a failing conjunct


@dataclass(frozen=True)
class E:
    """A concrete value with the expression that produced it."""

    v: Any  # int or bool
    w: int  # bit width; BOOL (0) for truth values
    text: str
    reads: frozenset[str] = frozenset()  # state fields it depends on
    op: str = ""  # "and" / "or" for connectives (their parts in `kids`)
    kids: tuple[E, ...] = ()
    leaf: bool = False  # a state field or a constant: its text is a name/value

    def __bool__(self) -> bool:
        return bool(self.v)


def _val(x: Any) -> Any:
    return x.v if isinstance(x, E) else x


def _width(x: Any, default: int = 8) -> int:
    return x.w if isinstance(x, E) else default


def value_text(v: Any, w: int) -> str:
    if w == BOOL:
        return "true" if v else "false"
    if w == 256:
        return id_set_text(v)
    return str(v)


def _operand(x: Any) -> str:
    """How an operand appears inside a bigger expression."""
    if not isinstance(x, E):
        return str(x)
    if x.leaf:
        return x.text
    if x.w != BOOL and len(x.text) > MAX_TEXT // 2:
        return value_text(x.v, x.w)  # e.g. the bitmap the entries imply, not its fold
    return f"({x.text})" if " " in x.text else x.text


def _reads(*xs: Any) -> frozenset[str]:
    out: frozenset[str] = frozenset()
    for x in xs:
        if isinstance(x, E):
            out |= x.reads
    return out


class ExplainOps:
    """`Ops` over E values (concrete semantics: ConcreteOps on the values)."""

    symbolic = False

    def const(self, value: int, width: int) -> E:
        return E(value, width, value_text(value, width), leaf=True)

    def true(self) -> E:
        return E(True, BOOL, "true", leaf=True)

    def false(self) -> E:
        return E(False, BOOL, "false", leaf=True)

    def _conn(self, op: str, sym: str, xs: tuple[Any, ...]) -> E:
        # Nested connectives stay nested: the property's own grouping (e.g.
        # "bitmap matches", "ids unique", "ids nonzero") is what people read.
        parts = [x if isinstance(x, E) else E(bool(x), BOOL, str(x), leaf=True) for x in xs]
        if len(parts) == 1:
            return parts[0]  # a fold over one slot pair is just that pair
        v = all(p.v for p in parts) if op == "and" else any(p.v for p in parts)
        text = f" {sym} ".join(_operand(p) for p in parts) if parts else str(v).lower()
        return E(v, BOOL, text, _reads(*parts), op, tuple(parts))

    def and_(self, *xs: Any) -> E:
        return self._conn("and", "&&", xs)

    def or_(self, *xs: Any) -> E:
        return self._conn("or", "||", xs)

    def not_(self, x: Any) -> E:
        return E(not _val(x), BOOL, f"!{_operand(x)}", _reads(x))

    def ite(self, c: Any, a: Any, b: Any) -> Any:
        chosen = a if _val(c) else b
        if not isinstance(chosen, E):
            return chosen  # a record: choose, as the concrete backend does
        return E(
            chosen.v, chosen.w, f"({_operand(c)} ? {_operand(a)} : {_operand(b)})", _reads(c, a, b)
        )

    def cond(self, c: Any, then: Callable[[], Any], other: Callable[[], Any]) -> Any:
        return then() if _val(c) else other()

    def _cmp(self, sym: str, fn: Callable[[Any, Any], bool], a: Any, b: Any) -> E:
        return E(fn(_val(a), _val(b)), BOOL, f"{_operand(a)} {sym} {_operand(b)}", _reads(a, b))

    def eq(self, a: Any, b: Any) -> E:
        return self._cmp("==", lambda x, y: x == y, a, b)

    def ne(self, a: Any, b: Any) -> E:
        return self._cmp("!=", lambda x, y: x != y, a, b)

    def ult(self, a: Any, b: Any) -> E:
        return self._cmp("<", lambda x, y: x < y, a, b)

    def ule(self, a: Any, b: Any) -> E:
        return self._cmp("<=", lambda x, y: x <= y, a, b)

    def _arith(self, name: str, v: Any, w: int, *xs: Any) -> E:
        return E(v, w, f"{name}({', '.join(_operand(x) for x in xs)})", _reads(*xs))

    def add(self, a: Any, b: Any, width: int) -> E:
        return E(
            CONCRETE.add(_val(a), _val(b), width),
            width,
            f"{_operand(a)} + {_operand(b)}",
            _reads(a, b),
        )

    def sub(self, a: Any, b: Any, width: int) -> E:
        return E(
            CONCRETE.sub(_val(a), _val(b), width),
            width,
            f"{_operand(a)} - {_operand(b)}",
            _reads(a, b),
        )

    def band(self, a: Any, b: Any) -> E:
        return E(_val(a) & _val(b), _width(a), f"{_operand(a)} & {_operand(b)}", _reads(a, b))

    def bor(self, a: Any, b: Any) -> E:
        return E(_val(a) | _val(b), _width(a), f"{_operand(a)} | {_operand(b)}", _reads(a, b))

    def bxor(self, a: Any, b: Any) -> E:
        return E(_val(a) ^ _val(b), _width(a), f"{_operand(a)} ^ {_operand(b)}", _reads(a, b))

    def bnot(self, a: Any, width: int) -> E:
        return E(~_val(a) & MASKS[width], width, f"~{_operand(a)}", _reads(a))

    def has(self, flags: Any, bit: int) -> E:
        return E(
            CONCRETE.has(_val(flags), bit),
            BOOL,
            f"{_operand(flags)} has {field_text('flags', bit)}",
            _reads(flags),
        )

    def bit_test(self, bitmap: Any, index: Any) -> E:
        return E(
            CONCRETE.bit_test(_val(bitmap), _val(index)),
            BOOL,
            f"{_operand(index)} in {_operand(bitmap)}",
            _reads(bitmap, index),
        )

    def bit_set(self, bitmap: Any, index: Any) -> E:
        return self._arith(
            "set", CONCRETE.bit_set(_val(bitmap), _val(index)), _width(bitmap, 256), bitmap, index
        )

    def bit_clear(self, bitmap: Any, index: Any) -> E:
        return self._arith(
            "clear",
            CONCRETE.bit_clear(_val(bitmap), _val(index)),
            _width(bitmap, 256),
            bitmap,
            index,
        )

    def find_next_zero_u8(self, bitmap: Any, start: Any) -> E:
        return self._arith(
            "find_next_zero",
            CONCRETE.find_next_zero_u8(_val(bitmap), _val(start)),
            8,
            bitmap,
            start,
        )

    def zext(self, x: Any, from_width: int, to_width: int) -> E:
        return E(
            _val(x),
            to_width,
            _operand(x) if isinstance(x, E) else str(x),
            _reads(x),
            leaf=isinstance(x, E) and x.leaf,
        )

    def trunc(self, x: Any, from_width: int, to_width: int) -> E:
        return self._arith("trunc", _val(x) & MASKS[to_width], to_width, x)


EXPLAIN = ExplainOps()


def named_state(state: State) -> State:
    """The state with every field an E named as the renderings name it."""

    def leaf(path: str, width: int, v: Any) -> E:
        name = readable(path)
        return E(v, width, name, frozenset({name}), leaf=True)

    return rebuild(state, leaf)


def _summary(reads: Iterable[str]) -> str:
    """Field names with indices folded: endp[0].id, endp[1].id -> endp[*].id."""
    folded = sorted({re.sub(r"\[\d+\]", "[*]", r) for r in reads})
    text = ", ".join(folded)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def _describe(e: E, state_values: dict[str, str]) -> str:
    """One conjunct as a line: its expression, or a summary of what it reads,
    and the values of the fields it compares directly."""
    if len(e.text) <= MAX_TEXT:
        text = e.text
        direct = [r for r in sorted(e.reads) if r in e.text]
        vals = [f"{r} = {state_values[r]}" for r in direct if r in state_values]
        if vals and len(vals) <= 3:
            text += f"   [{'; '.join(vals)}]"
        return text
    kind = {"and": "all of", "or": "one of"}.get(e.op, "a condition on")
    count = f" {len(e.kids)}" if e.op else ""
    return f"{kind}{count} ({_summary(e.reads)})"


def explain(
    prop: Property, state: State, state_values: dict[str, str]
) -> tuple[bool, tuple[Conjunct, ...], frozenset[str]]:
    """The property's truth on `state`, its conjuncts with their values
    (under each false conjunct that is itself a conjunction, its false
    parts), and the fields the false conjuncts read.

    The concrete evaluation (ConcreteOps) decides; if the explaining one
    disagrees (a property using something ExplainOps does not model) only
    the verdict is reported."""
    truth = bool(prop.holds(CONCRETE, state))
    try:
        root = prop.holds(EXPLAIN, named_state(state))
    except Exception:  # the verdict stands; only the explanation is lost
        return truth, (Conjunct(0, truth, prop.statement),), frozenset()
    if not isinstance(root, E) or bool(root.v) != truth:
        return truth, (Conjunct(0, truth, prop.statement),), frozenset()
    tops = root.kids if root.op == "and" else (root,)
    out = []
    for c in tops:
        out.append(Conjunct(0, bool(c.v), _describe(c, state_values)))
        if not c.v and c.op == "and" and len(c.text) > MAX_TEXT:
            failing = [k for k in c.kids if not k.v]
            for k in failing[:MAX_FAILING]:
                out.append(Conjunct(1, False, _describe(k, state_values)))
            if len(failing) > MAX_FAILING:
                out.append(Conjunct(1, False, f"... and {len(failing) - MAX_FAILING} more"))
    reads = frozenset().union(*(c.reads for c in tops if not c.v))
    return truth, tuple(out), reads
