"""Ctrl-C and SIGTERM stop a check within a moment.

By default Z3 catches SIGINT during a query and answers "unknown
(canceled)": the engine records UNKNOWN and the run goes on with the next
query, so a check could keep running for minutes after Ctrl-C. Here:

- Z3's own handler is off (`ctrl_c=False`), so the signal reaches Python;
- Python's C-level handler writes the signal number to a wakeup pipe even
  while the main thread is inside a Z3 call (which holds no GIL); a
  watcher thread reads it and interrupts Z3 (`Context.interrupt()`), so
  the query returns at once;
- back in Python, the handler raises: KeyboardInterrupt for SIGINT,
  `Terminated` for SIGTERM, and the CLI exits 130 / 143 with one line.

Used by `check` and `ask` in the main process and in every `-j` worker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import z3

from pmcheck.errors import Terminated


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


def _watch(fd: int) -> None:
    while True:
        try:
            data = os.read(fd, 64)
        except OSError:
            return
        if not data:
            return
        with contextlib.suppress(Exception):  # no context yet, or shutting down
            z3.main_ctx().interrupt()


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """While active, SIGINT/SIGTERM interrupt the Z3 query in flight and
    raise in the main thread. A no-op outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    z3.set_param("ctrl_c", False)
    r, w = os.pipe()
    os.set_blocking(w, False)
    old_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    old_term = signal.signal(signal.SIGTERM, _on_term)
    watcher = threading.Thread(target=_watch, args=(r,), name="z3-interrupt", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
        signal.set_wakeup_fd(old_fd)
        os.close(w)  # the watcher sees EOF and ends
        watcher.join(timeout=1)
        os.close(r)
