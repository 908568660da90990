"""A stop request (Ctrl-C, SIGTERM) waiting to be honoured.

The signal handlers of pmcheck.checker.interrupt only record the signal:
raising from a handler can land inside a ctypes callback of Z3 (where the
exception is lost and Z3 then fails with "canceled"). The solver loops call
`raise_if_stopped()` after each query, and the CLI maps a Z3 failure that
happens while a stop is pending to the same exit code (130 / 143)."""

from __future__ import annotations

import signal

from pmcheck.errors import Terminated

_pending: int | None = None  # the signal number, once one arrived


def request(signum: int) -> None:
    global _pending
    _pending = signum


def clear() -> None:
    global _pending
    _pending = None


def stopped() -> int | None:
    return _pending


def raise_if_stopped() -> None:
    """KeyboardInterrupt for SIGINT, Terminated for SIGTERM, if one came."""
    if _pending is None:
        return
    if _pending == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(_pending)
