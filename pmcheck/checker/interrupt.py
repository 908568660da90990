"""Ctrl-C and SIGTERM stop a check within a moment.

By default Z3 catches SIGINT during a query and answers "unknown
(canceled)": the engine records UNKNOWN and the run goes on with the next
query, so a check could keep running for minutes after Ctrl-C. Here:

- Z3's own handler is off (`ctrl_c=False`), so the signal reaches Python;
- Python's C-level handler writes the signal number to a wakeup pipe even
  while the main thread is inside a Z3 call (which holds no GIL); a
  watcher thread reads it and interrupts Z3 (`Context.interrupt()`), so
  the query returns at once;
- the Python-level handler only records the signal (pmcheck.signals):
  raising there could land inside a Z3 ctypes callback and be lost; the
  solver loops raise after the interrupted query returns (KeyboardInterrupt
  for SIGINT, `Terminated` for SIGTERM), and the CLI exits 130 / 143 with
  one line.

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

from pmcheck import signals


def _record(signum: int, frame: FrameType | None) -> None:
    signals.request(signum)


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


def _exit_now(signum: int, frame: FrameType | None) -> None:
    os._exit(128 + signum)  # a -j worker: nothing to clean up, nothing to print


@contextlib.contextmanager
def interruptible(worker: bool = False) -> Iterator[None]:
    """While active, SIGINT/SIGTERM interrupt the Z3 query in flight and
    raise in the main thread (`worker`: end the process at once, silently;
    an exception there would be caught by the pool's worker loop, or print
    from inside a Z3 object's __del__). A no-op outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    z3.set_param("ctrl_c", False)
    r, w = os.pipe()
    os.set_blocking(w, False)
    old_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    handler = _exit_now if worker else _record
    signals.clear()
    old_int = signal.signal(signal.SIGINT, handler)
    old_term = signal.signal(signal.SIGTERM, handler)
    watcher = threading.Thread(target=_watch, args=(r,), name="z3-interrupt", daemon=True)
    watcher.start()
    try:
        yield
        signals.raise_if_stopped()  # a stop that came after the last query
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
        signal.set_wakeup_fd(old_fd)
        os.close(w)  # the watcher sees EOF and ends
        watcher.join(timeout=1)
        os.close(r)
