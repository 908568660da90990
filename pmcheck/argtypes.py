"""Argument types for resource limits: a limit is a finite positive number,
never a value that silently means "no limit" (0, negative, NaN, inf)."""

from __future__ import annotations

import argparse
import math

MIN_TIMEOUT = 0.001  # s: Z3 counts its timeout in ms, and 0 ms means "none"


def seconds(text: str) -> float:
    """A timeout in seconds: finite and > 0; one that would round to 0 ms is
    raised to 1 ms, the smallest real limit."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"{text!r}: a timeout must be a finite number of seconds > 0 (0 would mean none)"
        )
    return max(value, MIN_TIMEOUT)


def positive_int(text: str) -> int:
    """A count or resource limit: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be >= 1 (0 would mean no limit)")
    return value
