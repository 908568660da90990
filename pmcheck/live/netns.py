"""Throw-away network namespaces, and running Python code inside one.

Three separate pieces, so a later harness can build two namespaces joined by
veth pairs out of the same parts:

- `create_netns()` / `remove_netns()`: make and delete a named namespace
  (`/var/run/netns/pmck-<pid>-<hex>`, like `ip netns add`), via pyroute2;
- `run_in_netns(name, fn, *args)`: run `fn` in a forked child that first
  enters the namespace, and hand its (pickled) result or exception back;
- `temporary_netns()`: a context manager that creates one namespace and
  always removes it, also on an exception, Ctrl-C or SIGTERM.

The parent process never enters a namespace: it only creates and removes
them. All netlink work happens in the child, so nothing a scenario does can
touch the host (initial) namespace, even if the work raises halfway.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import re
import secrets
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from pyroute2 import netns as _pr_netns

NETNS_PREFIX = "pmck-"

T = TypeVar("T")


class ChildError(RuntimeError):
    """The child's exception could not be sent back as itself (not picklable)."""


def new_netns_name() -> str:
    """A unique name; the pid part tells which process owns (and must remove) it."""
    return f"{NETNS_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"


def create_netns(name: str | None = None) -> str:
    """Create a named network namespace and return its name."""
    name = name or new_netns_name()
    _pr_netns.create(name)
    return name


def remove_netns(name: str) -> None:
    """Remove a named namespace; a name that is already gone is not an error."""
    if name in _pr_netns.listnetns():
        _pr_netns.remove(name)


_OWNER = re.compile(r"^pmck-(?:repro-)?(\d+)-")  # ours, and the standalone reproducers'


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_netns() -> list[str]:
    """Remove the pmcheck namespaces whose owner process is gone (a run that
    was SIGKILLed, a reproducer killed with -9): the pid in the name says
    who owns one. Returns the names removed."""
    removed = []
    for name in sorted(_pr_netns.listnetns()):
        m = _OWNER.match(name)
        if m and not _alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                _pr_netns.remove(name)
                removed.append(name)
    return removed


def owned_netns(pid: int | None = None) -> list[str]:
    """The pmcheck namespaces that process `pid` (default: this one) created."""
    prefix = f"{NETNS_PREFIX}{pid if pid is not None else os.getpid()}-"
    return sorted(n for n in _pr_netns.listnetns() if n.startswith(prefix))


def _raise_on_signal(signum: int, _frame: object) -> None:
    # SystemExit unwinds through every `finally`, so the namespaces get removed,
    # and ends the program with the usual 128+signal status if nothing catches it.
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """While active, SIGTERM (and SIGINT, if nobody handles it) raise instead
    of killing the process outright, so `finally` blocks run."""
    if threading.current_thread() is not threading.main_thread():
        # signal.signal() only works in the main thread; there, cleanup
        # relies on try/finally alone.
        yield
        return
    saved: dict[int, Any] = {signal.SIGTERM: signal.getsignal(signal.SIGTERM)}
    if signal.getsignal(signal.SIGINT) in (signal.SIG_DFL, None):
        saved[signal.SIGINT] = signal.getsignal(signal.SIGINT)
    for signum in saved:
        signal.signal(signum, _raise_on_signal)
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back during cleanup so a second Ctrl-C cannot cut
    it short; a held signal is delivered when the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def temporary_netns() -> Iterator[str]:
    """A fresh namespace, removed on exit whatever happens.

    For several namespaces, nest these (or use contextlib.ExitStack)."""
    name = new_netns_name()
    sweep_stale_netns()  # what a killed earlier run could not remove
    with signals_raise():
        try:
            create_netns(name)
            yield name
        finally:
            with _signals_blocked():
                remove_netns(name)


def _child(name: str, fn: Callable[..., Any], args: tuple, kwargs: dict, wfd: int) -> None:
    """Body of the forked child: never returns, always reaches os._exit()."""
    status = 1
    try:
        try:
            # flags=0: do not create the namespace if it has vanished.
            _pr_netns.setns(name, flags=0)
            payload = pickle.dumps(("ok", fn(*args, **kwargs)))
            status = 0
        except BaseException as exc:  # reported to the parent, which re-raises
            payload = _pickle_error(exc)
        with os.fdopen(wfd, "wb") as out:
            out.write(payload)
    finally:
        # _exit: skip atexit handlers and stdio flushing inherited from the parent.
        os._exit(status)


def _pickle_error(exc: BaseException) -> bytes:
    tb = "".join(traceback.format_exception(exc))
    try:
        payload = pickle.dumps(("err", exc, tb))
        pickle.loads(payload)  # some exceptions pickle but do not unpickle
        return payload
    except Exception:
        return pickle.dumps(("err", ChildError(f"{type(exc).__name__}: {exc}"), tb))


def _read_all(rfd: int) -> bytes:
    with os.fdopen(rfd, "rb") as inp:
        return inp.read()


def run_in_netns(name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn(*args, **kwargs)` inside namespace `name` and return its result.

    `fn` runs in a forked child; its result (or exception) must be picklable.
    An exception in the child is re-raised here, with the child's traceback
    attached as a note. If the parent is interrupted, the child is killed.
    """
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        _child(name, fn, args, kwargs, wfd)
    os.close(wfd)
    try:
        data = _read_all(rfd)
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        raise
    finally:
        os.waitpid(pid, 0)
    if not data:
        raise ChildError(f"child {pid} in netns {name} died without a result")
    tag, *rest = pickle.loads(data)
    if tag == "ok":
        return rest[0]
    exc, tb = rest
    exc.add_note(f"raised in netns {name} (child {pid}):\n{tb}")
    raise exc


def _probe_mptcp() -> str:
    """Run inside a fresh namespace: '' if MPTCP is usable there, else why not."""
    from pmcheck.live.genl import PmClient  # here: genl is only needed in the child

    try:
        with open("/proc/sys/net/mptcp/enabled") as f:
            enabled = f.read().strip()
    except OSError as err:
        return f"net.mptcp.enabled is not readable in a new netns ({err})"
    if enabled != "1":
        return f"net.mptcp.enabled is {enabled} in a new netns"
    try:
        with PmClient():
            pass
    except Exception as err:
        return f"the mptcp_pm generic netlink family is not available ({err})"
    return ""


@functools.lru_cache(maxsize=1)
def live_kernel_available() -> tuple[bool, str]:
    """(True, '') if pmcheck can run scenarios on this kernel, else (False, reason)."""
    if os.geteuid() != 0:
        return False, "needs root (network namespaces and MPTCP netlink writes)"
    if not os.path.exists("/proc/self/ns/net"):
        return False, "the kernel has no network namespace support"
    try:
        with temporary_netns() as name:
            reason = run_in_netns(name, _probe_mptcp)
    except OSError as err:
        # Only what the environment can refuse (no permission, no netns
        # support) is a reason to skip; a bug in pmcheck's helpers raises.
        return False, f"cannot create a network namespace ({type(err).__name__}: {err})"
    return (not reason), reason
