"""Symbolic backend: Z3 bit-vector and Boolean terms.

Encoding choices (for speed): every field is a fixed-width bit-vector, the
ID bitmaps are single 256-bit vectors (bit-blasted like any other BV, no
arrays and no quantifiers), and `find_next_zero_u8` isolates the lowest free
bit with `x & -x` and reads its index off eight masks, so the whole model is
quantifier-free QF_BV.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import z3

# _index_masks[k] has bit i set iff bit k of i is set: the index of a
# one-hot bitmap y is the byte whose bit k is (y & _index_masks[k]) != 0.


def _is_term(x: Any) -> bool:
    return isinstance(x, z3.ExprRef)


class Z3Ops:
    """`bitmap_width` < 256 encodes the 256-bit id bitmaps in fewer bits: a
    checker scope whose ids all stay below that width (the system cuts paths
    that leave it) bit-blasts far smaller shifters. Rules still say 256."""

    symbolic = True

    def __init__(self, ctx: z3.Context | None = None, bitmap_width: int = 256) -> None:
        self.ctx = ctx
        self.bw = bitmap_width
        self._index_masks = [
            sum(1 << i for i in range(bitmap_width) if (i >> k) & 1) for k in range(8)
        ]

    def const(self, value: int, width: int) -> z3.BitVecRef:
        if width == 256:
            width, value = self.bw, value & ((1 << self.bw) - 1)
        return z3.BitVecVal(value, width, self.ctx)

    def true(self) -> z3.BoolRef:
        return z3.BoolVal(True, self.ctx)

    def false(self) -> z3.BoolRef:
        return z3.BoolVal(False, self.ctx)

    def _bool(self, x: Any) -> z3.BoolRef:
        return x if _is_term(x) else z3.BoolVal(bool(x), self.ctx)

    def and_(self, *xs: Any) -> z3.BoolRef:
        terms = [x for x in xs if x is not True]
        if any(x is False for x in terms):
            return self.false()
        terms = [self._bool(x) for x in terms]
        if not terms:
            return self.true()
        if len(terms) == 1:
            return terms[0]
        return z3.And(*terms)

    def or_(self, *xs: Any) -> z3.BoolRef:
        terms = [x for x in xs if x is not False]
        if any(x is True for x in terms):
            return self.true()
        terms = [self._bool(x) for x in terms]
        if not terms:
            return self.false()
        if len(terms) == 1:
            return terms[0]
        return z3.Or(*terms)

    def not_(self, x: Any) -> z3.BoolRef:
        return z3.Not(self._bool(x))

    def ite(self, c: Any, a: Any, b: Any) -> Any:
        """Merge two values or two records of values under condition c."""
        if a is b:
            return a
        if isinstance(a, tuple):
            merged = [self.ite(c, x, y) for x, y in zip(a, b, strict=True)]
            return type(a)(*merged) if hasattr(a, "_fields") else tuple(merged)
        if _is_term(a) and _is_term(b) and a.eq(b):
            return a
        if isinstance(a, bool) or isinstance(b, bool):
            a, b = self._bool(a), self._bool(b)
        return z3.If(self._bool(c), a, b)

    def cond(self, c: Any, then: Callable[[], Any], other: Callable[[], Any]) -> Any:
        """Both branches, merged; a literal condition builds only one."""
        if c is True or (isinstance(c, z3.BoolRef) and z3.is_true(c)):
            return then()
        if c is False or (isinstance(c, z3.BoolRef) and z3.is_false(c)):
            return other()
        return self.ite(c, then(), other())

    def eq(self, a: Any, b: Any) -> z3.BoolRef:
        return a == b

    def ne(self, a: Any, b: Any) -> z3.BoolRef:
        return a != b

    def ult(self, a: Any, b: Any) -> z3.BoolRef:
        return z3.ULT(a, b)

    def ule(self, a: Any, b: Any) -> z3.BoolRef:
        return z3.ULE(a, b)

    def add(self, a: Any, b: Any, width: int) -> z3.BitVecRef:
        return a + b

    def sub(self, a: Any, b: Any, width: int) -> z3.BitVecRef:
        return a - b

    def band(self, a: Any, b: Any) -> z3.BitVecRef:
        return a & b

    def bor(self, a: Any, b: Any) -> z3.BitVecRef:
        return a | b

    def bxor(self, a: Any, b: Any) -> z3.BitVecRef:
        return a ^ b

    def bnot(self, a: Any, width: int) -> z3.BitVecRef:
        return ~a

    def has(self, flags: Any, bit: int) -> z3.BoolRef:
        return z3.Extract(bit.bit_length() - 1, bit.bit_length() - 1, flags) == 1

    def _index(self, index: Any) -> z3.BitVecRef:
        return z3.ZeroExt(self.bw - index.size(), index)

    def bit_test(self, bitmap: Any, index: Any) -> z3.BoolRef:
        return z3.Extract(0, 0, z3.LShR(bitmap, self._index(index))) == 1

    def bit_set(self, bitmap: Any, index: Any) -> z3.BitVecRef:
        return bitmap | (z3.BitVecVal(1, self.bw, self.ctx) << self._index(index))

    def bit_clear(self, bitmap: Any, index: Any) -> z3.BitVecRef:
        return bitmap & ~(z3.BitVecVal(1, self.bw, self.ctx) << self._index(index))

    def find_next_zero_u8(self, bitmap: Any, start: Any) -> z3.BitVecRef:
        ones = z3.BitVecVal((1 << self.bw) - 1, self.bw, self.ctx)
        below = ~(ones << self._index(start))  # bits < start
        free = ~bitmap & ~below
        lowest = free & -free  # one-hot, or 0 when nothing is free
        bits = [
            z3.If(
                (lowest & z3.BitVecVal(m, self.bw, self.ctx)) != 0,
                z3.BitVecVal(1, 1, self.ctx),
                z3.BitVecVal(0, 1, self.ctx),
            )
            for m in reversed(self._index_masks)
        ]
        # Nothing free: 256 truncated to u8 is 0, and the one-hot reading of
        # 0 is index 0 as well, so no extra case is needed.
        return z3.Concat(*bits)

    def zext(self, x: Any, from_width: int, to_width: int) -> z3.BitVecRef:
        return z3.ZeroExt(to_width - from_width, x)

    def trunc(self, x: Any, from_width: int, to_width: int) -> z3.BitVecRef:
        return z3.Extract(to_width - 1, 0, x)
