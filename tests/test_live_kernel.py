"""The live-kernel interpreter against this machine's kernel.

Each test builds a Scenario from AST objects, runs it in a throw-away network
namespace and checks what the kernel answered. These are facts about the
kernel (6.18.44 here) that the model must reproduce; version-dependent ones
branch on pmcheck.model.versions like the model does.
"""

from __future__ import annotations

import errno
import os
import signal
import time

import pytest
from pyroute2 import IPRoute

from pmcheck.live.genl import PmClient
from pmcheck.live.kernel_run import run_on_kernel
from pmcheck.live.netns import (
    owned_netns,
    run_in_netns,
    temporary_netns,
)
from pmcheck.model.constants import (
    AF_INET,
    AF_INET6,
    FLAG_BACKUP,
    FLAG_FULLMESH,
    FLAG_IMPLICIT,
    FLAG_LAMINAR,
    FLAG_SIGNAL,
    FLAG_SUBFLOW,
)
from pmcheck.model.versions import version_of_release
from pmcheck.results import EndpointRow, Limits, Run, StepOutcome
from pmcheck.scenario.ast import (
    Command,
    EndpointAdd,
    EndpointChange,
    EndpointDelete,
    EndpointFlush,
    EndpointShow,
    LimitsSet,
    LimitsShow,
    Loc,
    Scenario,
    Step,
)
from tests.live import require_live_kernel

pytestmark = pytest.mark.live


@pytest.fixture(autouse=True)
def _need_live_kernel() -> None:
    # A fixture, not a skipif: probing creates a namespace, which should not
    # happen while merely collecting tests.
    require_live_kernel()


# --- helpers -----------------------------------------------------------------


def scenario(*commands: Command) -> Scenario:
    steps = tuple(
        Step(Loc("t.scn", n), f"step {n}", cmd) for n, cmd in enumerate(commands, start=1)
    )
    return Scenario(source="t.scn", kernel=None, steps=steps)


def run(*commands: Command) -> tuple[StepOutcome, ...]:
    result = run_on_kernel(scenario(*commands))
    assert result.interpreter == "kernel"
    assert result.kernel == os.uname().release
    assert len(result.outcomes) == len(commands)
    return result.outcomes


def add(addr: str, flags: int = FLAG_SIGNAL, **kw: object) -> EndpointAdd:
    family = AF_INET6 if ":" in addr else AF_INET
    return EndpointAdd(addr=addr, family=family, flags=flags, **kw)  # type: ignore[arg-type]


def ids(outcome: StepOutcome) -> list[int]:
    return [row.id for row in outcome.endpoints]


def flags_of(outcome: StepOutcome, id_: int) -> int:
    return next(row.flags for row in outcome.endpoints if row.id == id_)


def errnos(outcomes: tuple[StepOutcome, ...]) -> list[int]:
    return [o.errno for o in outcomes]


DEFAULT_LIMITS = Limits(add_addr_accepted=0, subflows=2)
KERNEL_VERSION = version_of_release(os.uname().release)


# --- defaults and id allocation ----------------------------------------------


def test_defaults() -> None:
    dump, limits = run(EndpointShow(), LimitsShow())
    assert dump.errno == 0 and dump.reply == () and dump.endpoints == ()
    assert limits.reply == DEFAULT_LIMITS and limits.limits == DEFAULT_LIMITS
    assert dump.new_id is None and dump.extack is None


def test_auto_ids_count_up_from_1() -> None:
    out = run(add("10.0.0.1"), add("10.0.0.2"), add("10.0.0.3"), EndpointShow())
    assert [o.new_id for o in out[:3]] == [1, 2, 3]
    assert out[3].reply == (
        EndpointRow(1, "10.0.0.1", 0, FLAG_SIGNAL, None),
        EndpointRow(2, "10.0.0.2", 0, FLAG_SIGNAL, None),
        EndpointRow(3, "10.0.0.3", 0, FLAG_SIGNAL, None),
    )


def test_flush_resets_next_id() -> None:
    out = run(add("10.0.0.1", id=7), EndpointFlush(), add("10.0.0.2"))
    assert out[1].errno == 0 and out[1].endpoints == ()
    assert out[2].new_id == 1


def test_id_wraps_around_after_255() -> None:
    out = run(
        add("10.0.0.9"),
        EndpointFlush(),
        add("10.0.0.1", id=250),
        add("10.0.0.2"),
        add("10.0.0.3", id=255),
        add("10.0.0.4"),
        add("10.0.0.5"),
    )
    assert [o.new_id for o in out[2:]] == [250, 251, 255, 1, 2]
    assert ids(out[-1]) == [1, 2, 250, 251, 255]


def test_freed_ids_below_next_id_are_not_reused() -> None:
    out = run(
        *(add(f"10.0.0.{i}") for i in range(1, 9)),
        EndpointDelete(8),
        EndpointDelete(3),
        add("10.0.1.1"),
        add("10.0.1.2"),
    )
    assert [o.new_id for o in out[-2:]] == [8, 9]


def test_failed_add_does_not_use_up_an_id() -> None:
    out = run(add("10.0.0.1"), add("10.0.0.1"), add("10.0.0.2", id=1), add("10.0.0.3"))
    assert errnos(out) == [0, errno.EEXIST, errno.EBUSY, 0]
    assert out[3].new_id == 2


def test_explicit_id_0_on_add() -> None:
    out = run(add("10.0.0.1"), add("10.0.0.2", id=0), add("10.0.0.3"))
    assert errnos(out) == [0, 0, 0]
    if KERNEL_VERSION.explicit_id0_creates_id0:
        assert out[1].new_id == 0
    else:
        # 6.18-stable (revert 8e2760eaab77): an ID attribute of 0 means "allocate".
        assert [o.new_id for o in out] == [1, 2, 3]


# --- add validation ----------------------------------------------------------


def test_duplicate_address_is_eexist() -> None:
    out = run(add("10.0.0.1"), add("10.0.0.1", flags=FLAG_SUBFLOW))
    assert out[1].errno == errno.EEXIST
    assert out[1].extack == "too many addresses or duplicate one: -17"
    assert out[1].new_id is None and ids(out[1]) == [1]


def test_ninth_endpoint_is_erange() -> None:
    out = run(*(add(f"10.0.0.{i}") for i in range(1, 10)))
    assert errnos(out) == [0] * 8 + [errno.ERANGE]
    assert out[8].extack == "too many addresses or duplicate one: -34"
    assert len(out[8].endpoints) == 8


def test_busy_explicit_id_is_ebusy() -> None:
    out = run(add("10.0.0.1", id=5), add("10.0.0.2", id=5))
    assert out[0].new_id == 5
    assert out[1].errno == errno.EBUSY
    assert out[1].extack == "too many addresses or duplicate one: -16"


@pytest.mark.parametrize("flags", [0, FLAG_SUBFLOW, FLAG_SIGNAL | FLAG_SUBFLOW])
def test_port_needs_signal_and_not_subflow(flags: int) -> None:
    (out,) = run(add("10.0.0.1", flags=flags, port=1000))
    assert out.errno == errno.EINVAL
    assert out.extack == "flags must have signal and not subflow when using port"
    assert out.endpoints == ()


def test_signal_and_fullmesh_is_einval() -> None:
    (out,) = run(add("10.0.0.1", flags=FLAG_SIGNAL | FLAG_FULLMESH))
    assert out.errno == errno.EINVAL
    assert out.extack == "flags mustn't have both signal and fullmesh"


def test_implicit_flag_is_einval() -> None:
    (out,) = run(add("10.0.0.1", flags=FLAG_IMPLICIT))
    assert out.errno == errno.EINVAL
    assert out.extack == "can't create IMPLICIT endpoint"


def test_unknown_flag_bits_are_masked_off() -> None:
    # mptcp_pm_parse_entry keeps GENMASK(5,0); bit 7 is dropped, not refused.
    out = run(add("10.0.0.1", flags=0x80 | FLAG_SIGNAL), add("10.0.0.2", flags=0xE6))
    assert errnos(out) == [0, 0]
    assert flags_of(out[1], 1) == FLAG_SIGNAL
    assert flags_of(out[1], 2) == FLAG_SUBFLOW | FLAG_BACKUP | FLAG_LAMINAR


def test_v4_mapped_duplicate_of_v4_is_eexist() -> None:
    out = run(add("10.0.0.1"), add("::ffff:10.0.0.1"), add("::ffff:10.0.0.2"))
    assert errnos(out) == [0, errno.EEXIST, 0]
    # The kernel keeps (and reports) the v6 family it was given.
    assert out[2].endpoints[1].addr == "::ffff:10.0.0.2"  # dotted tail, as ip prints it


def test_signal_endpoints_with_and_without_port_coexist() -> None:
    out = run(add("10.0.0.1", port=1000), add("10.0.0.1"), add("10.0.0.1", port=1001))
    assert errnos(out) == [0, 0, 0]
    assert [(r.id, r.port) for r in out[2].endpoints] == [(1, 1000), (2, 0), (3, 1001)]


def test_same_address_and_port_fails_in_the_listener_first() -> None:
    # The listener is created before the duplicate scan, so bind() answers.
    out = run(
        add("10.0.0.1", port=1000), add("10.0.0.1", port=1000), add("::ffff:10.0.0.1", port=1000)
    )
    assert errnos(out) == [0, errno.EADDRINUSE, errno.EADDRINUSE]
    assert out[1].extack == "create listen socket error: -98"


def test_port_endpoints_are_accepted() -> None:
    out = run(add("10.0.0.1", port=1000), add("2001:db8::1", port=2000), add("10.0.0.2"))
    assert errnos(out) == [0, 0, 0]
    assert out[2].endpoints == (
        EndpointRow(1, "10.0.0.1", 1000, FLAG_SIGNAL, None),
        EndpointRow(2, "2001:db8::1", 2000, FLAG_SIGNAL, None),
        EndpointRow(3, "10.0.0.2", 0, FLAG_SIGNAL, None),
    )


@pytest.mark.parametrize(
    "flags",
    [
        FLAG_LAMINAR,
        FLAG_LAMINAR | FLAG_FULLMESH,
        FLAG_LAMINAR | FLAG_SIGNAL,
        FLAG_LAMINAR | FLAG_SUBFLOW | FLAG_BACKUP,
    ],
)
def test_laminar_is_accepted(flags: int) -> None:
    (out,) = run(add("10.0.0.1", flags=flags))
    assert out.errno == 0 and flags_of(out, 1) == flags


def test_dev_is_reported_by_name() -> None:
    out = run(add("10.0.0.1", flags=FLAG_SUBFLOW, dev="eth2"), add("10.0.0.2", dev="lo"))
    assert [r.dev for r in out[1].endpoints] == ["eth2", "lo"]


# --- limits ------------------------------------------------------------------


def test_limits_above_8_are_einval_and_change_nothing() -> None:
    out = run(
        LimitsSet(subflows=3, add_addr_accepted=4),
        LimitsSet(subflows=9, add_addr_accepted=1),
        LimitsSet(subflows=1, add_addr_accepted=9),
        LimitsSet(subflows=8),
        LimitsShow(),
    )
    assert errnos(out) == [0, errno.EINVAL, errno.EINVAL, 0, 0]
    assert out[1].extack == "limit greater than maximum (8)"
    assert out[2].limits == Limits(add_addr_accepted=4, subflows=3)
    assert out[4].reply == Limits(add_addr_accepted=4, subflows=8)


# --- set-flags ---------------------------------------------------------------


def test_set_flags_changes_only_backup_and_fullmesh() -> None:
    asked = FLAG_BACKUP | FLAG_FULLMESH | FLAG_LAMINAR | FLAG_SIGNAL
    out = run(
        add("10.0.0.1", flags=FLAG_SUBFLOW),
        add("10.0.0.2", flags=FLAG_SUBFLOW | FLAG_LAMINAR),
        EndpointChange(id=1, flags=asked),
        EndpointChange(addr="10.0.0.2", family=AF_INET, flags=FLAG_BACKUP),
        EndpointChange(id=2, flags=0),
    )
    assert errnos(out) == [0] * 5
    assert flags_of(out[2], 1) == FLAG_SUBFLOW | FLAG_BACKUP | FLAG_FULLMESH
    assert flags_of(out[3], 2) == FLAG_SUBFLOW | FLAG_LAMINAR | FLAG_BACKUP
    # Clearing everything leaves LAMINAR: it is not in the kernel's mask.
    assert flags_of(out[4], 2) == FLAG_SUBFLOW | FLAG_LAMINAR


def test_set_flags_with_address_ignores_the_id() -> None:
    out = run(
        add("10.0.0.1", flags=FLAG_SUBFLOW),
        add("10.0.0.2", flags=FLAG_SUBFLOW),
        EndpointChange(id=1, addr="10.0.0.2", family=AF_INET, flags=FLAG_BACKUP),
    )
    assert (flags_of(out[2], 1), flags_of(out[2], 2)) == (FLAG_SUBFLOW, FLAG_SUBFLOW | FLAG_BACKUP)


def test_set_flags_fullmesh_on_signal_is_einval() -> None:
    out = run(add("10.0.0.1"), EndpointChange(id=1, flags=FLAG_FULLMESH))
    assert out[1].errno == errno.EINVAL and out[1].extack == "invalid addr flags"
    assert flags_of(out[1], 1) == FLAG_SIGNAL


def test_set_flags_errors() -> None:
    out = run(
        add("10.0.0.1", flags=FLAG_SUBFLOW),
        EndpointChange(id=0, flags=FLAG_BACKUP),
        EndpointChange(id=9, flags=FLAG_BACKUP),
        EndpointChange(addr="10.0.0.9", family=AF_INET, flags=FLAG_BACKUP),
    )
    assert errnos(out) == [0, errno.EOPNOTSUPP, errno.EINVAL, errno.EINVAL]
    assert [o.extack for o in out[1:]] == [
        "missing address ID",
        "address not found",
        "address not found",
    ]


# --- delete and get ------------------------------------------------------------


def test_delete_missing_id_is_einval() -> None:
    out = run(add("10.0.0.1"), EndpointDelete(id=7))
    assert out[1].errno == errno.EINVAL and out[1].extack == "address not found"
    assert ids(out[1]) == [1]


def test_delete_id_0_with_address_changes_nothing() -> None:
    out = run(
        add("10.0.0.1"), EndpointDelete(id=0, addr="10.0.0.1", family=AF_INET), EndpointDelete(id=0)
    )
    assert errnos(out) == [0, 0, 0]
    assert out[1].endpoints == out[0].endpoints == out[2].endpoints


def test_delete_by_id_ignores_the_address() -> None:
    out = run(add("10.0.0.1"), EndpointDelete(id=1, addr="10.0.0.5", family=AF_INET))
    assert out[1].errno == 0 and out[1].endpoints == ()


def test_get_by_id() -> None:
    out = run(add("10.0.0.1"), EndpointShow(id=1), EndpointShow(id=0), EndpointShow(id=2))
    assert out[1].reply == (EndpointRow(1, "10.0.0.1", 0, FLAG_SIGNAL, None),)
    assert errnos(out[2:]) == [errno.EINVAL, errno.EINVAL]
    assert out[2].reply == () and out[2].extack == "address not found"


# --- isolation and cleanup ----------------------------------------------------


def _host_state() -> tuple[list[str], object, object]:
    with IPRoute() as ipr:
        links = sorted(link.get_attr("IFLA_IFNAME") for link in ipr.get_links())
    with PmClient() as pm:  # read-only requests: no admin permission needed
        return links, pm.dump_addrs(), pm.get_limits()


def test_host_namespace_is_untouched() -> None:
    before = _host_state()
    run(add("10.0.0.1", dev="eth2"), LimitsSet(subflows=8), EndpointFlush())
    assert _host_state() == before
    assert owned_netns() == []


def _boom() -> None:
    raise ValueError("boom in the child")


def test_namespace_removed_after_exception_in_child() -> None:
    names = []
    with pytest.raises(ValueError, match="boom in the child") as info, temporary_netns() as name:
        names.append(name)
        assert name in owned_netns()
        run_in_netns(name, _boom)
    assert any("raised in netns" in note for note in info.value.__notes__)
    assert names and owned_netns() == []


def _signal_parent(signum: int) -> None:
    # Repeat the signal: under load the first one can land while the parent
    # still defers signals around namespace setup. The parent kills us on
    # the first one it acts on; bounded in case none arrives.
    for _ in range(60):
        os.kill(os.getppid(), signum)
        time.sleep(0.5)


@pytest.mark.parametrize(
    ("signum", "raised"),
    [(signal.SIGTERM, SystemExit), (signal.SIGINT, KeyboardInterrupt)],
)
def test_namespace_removed_after_signal(signum: int, raised: type[BaseException]) -> None:
    previous = signal.getsignal(signum)
    if previous == signal.SIG_IGN:
        # A process started in the background without job control ignores
        # SIGINT, and so does pmcheck then: no Ctrl-C can reach it.
        pytest.skip(f"{signal.Signals(signum).name} is ignored by this process")
    with pytest.raises(raised) as info, temporary_netns() as name:
        run_in_netns(name, _signal_parent, signum)
    if raised is SystemExit:
        assert info.value.code == 128 + signum  # the shell's "killed by SIGTERM" status
    assert owned_netns() == []
    assert signal.getsignal(signum) == previous


def test_run_result_is_plain_data() -> None:
    result = run_on_kernel(scenario(add("10.0.0.1")))
    assert isinstance(result, Run)
    assert result.to_json()["steps"][0]["status"] == "ok"
