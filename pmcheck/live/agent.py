"""A long-lived helper process inside one network namespace.

`run_in_netns` forks a child per call, which is fine for endpoint commands
but not for connections: their sockets must outlive a single call. A
`NetnsAgent` forks ONE child that enters the namespace once and then serves
calls until closed. A call is a module-level function plus picklable
arguments; the function runs in the child as `fn(state, *args, **kwargs)`,
where `state` is the child's `AgentState` (its long-lived objects: sockets,
a PmClient, event listeners). Results and exceptions come back pickled.

Guarantees:
- the parent never enters a namespace;
- the child dies with the parent (PR_SET_PDEATHSIG) and when its request
  pipe closes, so it cannot outlive a crashed test run;
- `close()` always reaps the child (no zombie): polite EOF first, SIGKILL
  after a short grace period; a call that exceeds its timeout kills it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import select
import signal
import struct
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from pyroute2 import netns as _pr_netns

from pmcheck.live.netns import ChildError, _pickle_error

T = TypeVar("T")

PR_SET_PDEATHSIG = 1
_LEN = struct.Struct("<I")
DEFAULT_CALL_TIMEOUT = 20.0
_EXIT_GRACE = 2.0


class AgentError(RuntimeError):
    """The agent died, timed out or was used after close."""


class AgentState:
    """What the child keeps between calls. Functions store their objects in
    `objects` and register cleanups that run (in reverse) when the agent stops."""

    def __init__(self, netns: str) -> None:
        self.netns = netns
        self.objects: dict[str, Any] = {}
        self._cleanups: list[Callable[[], object]] = []

    def on_close(self, fn: Callable[[], object]) -> None:
        self._cleanups.append(fn)

    def close(self) -> None:
        while self._cleanups:
            with contextlib.suppress(Exception):  # best effort: the process ends anyway
                self._cleanups.pop()()


# --- framing -------------------------------------------------------------------


def _write_frame(fd: int, obj: Any) -> None:
    _write_payload(fd, pickle.dumps(obj))


def _write_payload(fd: int, data: bytes) -> None:
    view = memoryview(_LEN.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    while size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        chunk = os.read(fd, size)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int, deadline: float | None = None) -> Any:
    (size,) = _LEN.unpack(_read_exact(fd, _LEN.size, deadline))
    return pickle.loads(_read_exact(fd, size, deadline))


# --- the child -------------------------------------------------------------------


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _serve(name: str, req_fd: int, resp_fd: int) -> None:
    # Default signal dispositions: the parent may have installed raising
    # handlers (signals_raise); in the child a SIGTERM must just end it.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _die_with_parent()
    _pr_netns.setns(name, flags=0)  # flags=0: never create a missing namespace
    state = AgentState(name)
    try:
        while True:
            try:
                fn, args, kwargs = _read_frame(req_fd)
            except EOFError:
                return  # the parent closed the pipe: stop
            try:
                reply: Any = ("ok", fn(state, *args, **kwargs))
                _write_frame(resp_fd, reply)
            except BaseException as exc:  # sent back, re-raised in the parent
                _write_payload(resp_fd, _pickle_error(exc))
    finally:
        state.close()


def _child_main(name: str, req_fd: int, resp_fd: int) -> None:
    status = 1
    try:
        _serve(name, req_fd, resp_fd)
        status = 0
    except BaseException:
        pass  # nobody to tell: the parent sees EOF and raises AgentError
    finally:
        os._exit(status)


# --- the parent side ----------------------------------------------------------------


class NetnsAgent:
    """A child process living in namespace `name`; see the module docstring."""

    def __init__(self, name: str, call_timeout: float = DEFAULT_CALL_TIMEOUT) -> None:
        self.name = name
        self.call_timeout = call_timeout
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(req_w)
            os.close(resp_r)
            _child_main(name, req_r, resp_w)
        os.close(req_r)
        os.close(resp_w)
        self.pid: int | None = pid
        self._req = req_w
        self._resp = resp_r

    def call(
        self, fn: Callable[..., T], *args: Any, timeout: float | None = None, **kwargs: Any
    ) -> T:
        """Run `fn(state, *args, **kwargs)` in the child; return its result.

        `timeout` (s) belongs to this call, not to `fn`: pass a `timeout` of
        `fn` positionally. On timeout the child is killed (its state is
        unknown) and AgentError raised."""
        if self.pid is None:
            raise AgentError(f"agent for {self.name} is closed")
        limit = self.call_timeout if timeout is None else timeout
        try:
            _write_frame(self._req, (fn, args, kwargs))
            reply = _read_frame(self._resp, time.monotonic() + limit)
        except TimeoutError:
            self.kill()
            raise AgentError(f"{fn.__name__} took over {limit}s in {self.name}") from None
        except (EOFError, BrokenPipeError):
            self.kill()
            raise AgentError(f"agent for {self.name} died during {fn.__name__}") from None
        except BaseException:
            self.kill()  # e.g. Ctrl-C: the child may be mid-call, do not reuse it
            raise
        return _unwrap(reply, self.name, fn.__name__)

    def kill(self) -> None:
        """Stop the child now and reap it."""
        if self.pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        self._forget()

    def close(self) -> None:
        """Stop the child politely (it runs its cleanups), or kill it after a grace period."""
        if self.pid is None:
            return
        with contextlib.suppress(OSError):
            os.close(self._req)  # EOF on the request pipe ends the serve loop
        self._req = -1
        deadline = time.monotonic() + _EXIT_GRACE
        while time.monotonic() < deadline:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self._forget()
                return
            time.sleep(0.005)
        self.kill()

    def _forget(self) -> None:
        for fd in (self._req, self._resp):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._req = self._resp = -1
        self.pid = None

    def __enter__(self) -> NetnsAgent:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _unwrap(reply: Any, name: str, what: str) -> Any:
    tag, *rest = reply
    if tag == "ok":
        return rest[0]
    exc, tb = rest
    if not isinstance(exc, BaseException):
        exc = ChildError(str(exc))
    exc.add_note(f"raised in netns {name} by {what}:\n{tb}")
    raise exc
