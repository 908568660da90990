"""Concrete backend: ints masked to their width, Python bools.

Speed matters here (random simulation, hypothesis, the explicit-state oracle):
`ite` picks a whole record without looking inside it, and the boolean
connectives short-circuit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pmcheck.model.backend import MASKS


class ConcreteOps:
    symbolic = False

    @staticmethod
    def const(value: int, width: int) -> int:
        # Rules only write in-range constants (tests/test_agreement.py would
        # catch one that is not), so no masking on this hot path.
        return value

    @staticmethod
    def true() -> bool:
        return True

    @staticmethod
    def false() -> bool:
        return False

    @staticmethod
    def and_(*xs: bool) -> bool:
        return all(xs)

    @staticmethod
    def or_(*xs: bool) -> bool:
        return any(xs)

    @staticmethod
    def not_(x: bool) -> bool:
        return not x

    @staticmethod
    def ite(c: bool, a: Any, b: Any) -> Any:
        return a if c else b

    @staticmethod
    def cond(c: bool, then: Callable[[], Any], other: Callable[[], Any]) -> Any:
        """A lazy ite: only the branch taken is computed (the symbolic
        backend computes both and merges, so the meaning is the same)."""
        return then() if c else other()

    @staticmethod
    def eq(a: int, b: int) -> bool:
        return a == b

    @staticmethod
    def ne(a: int, b: int) -> bool:
        return a != b

    @staticmethod
    def ult(a: int, b: int) -> bool:
        return a < b

    @staticmethod
    def ule(a: int, b: int) -> bool:
        return a <= b

    @staticmethod
    def add(a: int, b: int, width: int) -> int:
        return (a + b) & MASKS[width]

    @staticmethod
    def sub(a: int, b: int, width: int) -> int:
        return (a - b) & MASKS[width]

    @staticmethod
    def band(a: int, b: int) -> int:
        return a & b

    @staticmethod
    def bor(a: int, b: int) -> int:
        return a | b

    @staticmethod
    def bxor(a: int, b: int) -> int:
        return a ^ b

    @staticmethod
    def bnot(a: int, width: int) -> int:
        return ~a & MASKS[width]

    @staticmethod
    def has(flags: int, bit: int) -> bool:
        return (flags & bit) != 0

    @staticmethod
    def bit_test(bitmap: int, index: int) -> bool:
        return (bitmap >> index) & 1 == 1

    @staticmethod
    def bit_set(bitmap: int, index: int) -> int:
        return bitmap | (1 << index)

    @staticmethod
    def bit_clear(bitmap: int, index: int) -> int:
        return bitmap & ~(1 << index)

    @staticmethod
    def find_next_zero_u8(bitmap: int, start: int) -> int:
        """find_next_zero_bit(bitmap, 256, start) stored in a u8: 256 -> 0."""
        free = ~bitmap & MASKS[256] & ~((1 << start) - 1)
        if not free:
            return 0
        return ((free & -free).bit_length() - 1) & 0xFF

    @staticmethod
    def zext(x: int, from_width: int, to_width: int) -> int:
        return x

    @staticmethod
    def trunc(x: int, from_width: int, to_width: int) -> int:
        return x & MASKS[to_width]


CONCRETE = ConcreteOps()
