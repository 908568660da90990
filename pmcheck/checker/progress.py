"""Where a long check is: property, engine, depth, elapsed.

On a terminal (stderr is a TTY) one status line is rewritten in place; with
`check --progress` (CI logs, pipes) each step is a plain line; otherwise
nothing. The mode travels to `-j` workers in $PMCHECK_PROGRESS, so their
progress shows too."""

from __future__ import annotations

import os
import sys
import time

ENV = "PMCHECK_PROGRESS"  # "tty" | "lines" | unset
_t0 = time.monotonic()
_where = ""  # "6.18-stable connection": set per job


def start(mode: str | None) -> None:
    """Choose the mode for this run (and its workers)."""
    global _t0
    _t0 = time.monotonic()
    if mode:
        os.environ[ENV] = mode
    else:
        os.environ.pop(ENV, None)


def scope(text: str) -> None:
    global _where
    _where = text


def note(prop: str, engine: str, depth: int | None = None) -> None:
    mode = os.environ.get(ENV)
    if not mode:
        return
    step = f"{engine} depth {depth}" if depth is not None else engine
    text = f"[{time.monotonic() - _t0:7.1f}s] {_where}: {prop}: {step}".strip()
    if mode == "tty":
        sys.stderr.write(f"\r\x1b[K{text[:200]}")
    else:
        sys.stderr.write(text + "\n")
    sys.stderr.flush()


def done() -> None:
    """Clear the status line (a terminal keeps only the results)."""
    if os.environ.get(ENV) == "tty":
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()
    os.environ.pop(ENV, None)
