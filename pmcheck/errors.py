"""Errors every command reports the same way (pmcheck.cli maps them to exit
codes): a usage error is exit 2 with one line, never a traceback."""

from __future__ import annotations


class UsageError(Exception):
    """A bad command line (an option out of range, an unknown property)."""


class Terminated(BaseException):
    """SIGTERM during a check: unwinds like KeyboardInterrupt (finally blocks
    run) and the CLI exits 143 (pmcheck.checker.interrupt raises it)."""
