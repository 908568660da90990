"""Kernel versions the model knows, and what differs between them.

A version is a plain Python value handed to every rule: rules may branch on it
with `if` (it is configuration, never state), which keeps one rule body for
all versions. Each trait names the upstream commit that introduced it.

Not modeled: the 7.2 net-next series that raises the in-kernel PM limits
(e845e6397d78 "increase endpoints limit", 607f16ab462b "allow flushing more
than 8 endpoints", c8646664fbf1 "increase all limits to 64", 9031e5e31d5d):
its diff could not be read here (only the subjects), so the new values of
MPTCP_PM_ADDR_MAX and of the limits' maximum are unknown to the model.
"""

from __future__ import annotations

import enum
from typing import Protocol


class ModelFunction(Protocol):
    """A patch's replacement of a model function (model/patching.py)."""

    def __call__(self, *args: object, **kwargs: object) -> object: ...


class KernelVersion(enum.Enum):
    V6_18 = "6.18"
    """v6.18.10 as released (Lemon1151/linux-6.18.y b5efa8f0b)."""
    V6_18_STABLE = "6.18-stable"
    """What this machine's 6.18.44 does: 6.18 plus the stable backports
    (d191101dee25, 579a752464a6, 8e2760eaab77, 166b78344031)."""
    V6_19 = "6.19"
    """6.18 plus f88191c7f361, e461e8a799a2, 2ca1b8926fda (net-next, v6.19)."""
    V7_0 = "7.0"
    """6.19 plus d191101dee25 (7.0-rc1), 579a752464a6 (7.0-rc2) and the
    needs_id revert 8e2760eaab77 (7.0-rc8). fb8d0bccb221 (7.0-rc2: RM_ADDR
    avoids the subflow being removed) picks which subflow carries the
    RM_ADDR, which the model does not distinguish."""
    V7_1 = "7.1"
    """7.0 plus 1774d3cf3cf1 (7.1-rc2: flush resets endp_fullmesh_max) and
    166b78344031 (7.1-rc3: MP_PRIO skips inactive subflows). The other
    7.1-rc3 PM fixes (b12014d2d36e, 03f324f3f1f7, 5cd6e0ad79d2 and the
    ADD_ADDR timer series) change the retransmission timer, which the model
    does not run."""

    # --- what a patched kernel (PatchedKernel) answers differently -------------

    @property
    def base(self) -> KernelVersion:
        """The released version under any patches: itself."""
        return self

    def replacement(self, name: str) -> ModelFunction | None:
        """A patch's replacement of the model function `name`: none."""
        return None

    def expectation(self, prop: str) -> str | None:
        """A patch's expected verdict for property `prop`: none."""
        return None

    # --- traits -----------------------------------------------------------------

    @property
    def explicit_id0_creates_id0(self) -> bool:
        """6.18.10 `needs_id = !mptcp_pm_has_addr_attr_id()`: an explicit `id 0`
        attribute skips allocation and creates an endpoint with ID 0. Reverted
        by 8e2760eaab77 (Apr 2026, v7.0), backported to 6.18-stable. The
        6.19 net-next snapshot still has it."""
        return self in (KernelVersion.V6_18, KernelVersion.V6_19)

    @property
    def has_endp_fullmesh_max(self) -> bool:
        """f88191c7f361 "record fullmesh endp nb" (v6.19)."""
        return self in (KernelVersion.V6_19, KernelVersion.V7_0, KernelVersion.V7_1)

    @property
    def signal_subflow_always_used(self) -> bool:
        """579a752464a6 "always mark signal+subflow endp as used" (7.0-rc2,
        6.18.y backport seen 10 Mar 2026): a signal+subflow endpoint the
        subflow loop never reached still counts in local_addr_used."""
        return self in _SINCE_7_0

    @property
    def rm_endp_always_marks_avail(self) -> bool:
        """d191101dee25 "always set ID as avail when rm endp" (7.0-rc,
        stable): deleting any endpoint sets its id available on every msk."""
        return self in _SINCE_7_0

    @property
    def flush_resets_fullmesh_max(self) -> bool:
        """f88191c7f361 forgot `__reset_counters`; fixed only in 7.1-rc2
        ("mptcp: pm: kernel: reset fullmesh counter after flush",
        1774d3cf3cf1; also 7.0.7)."""
        return self is KernelVersion.V7_1

    @property
    def mp_prio_skips_inactive(self) -> bool:
        """166b78344031 "mptcp: pm: prio: skip closed subflows" (7.1-rc3):
        `mptcp_pm_mp_prio_send_ack` passes over a subflow that cannot send
        (a join not yet fully established, or not ESTABLISHED/CLOSE_WAIT);
        it still stops at the first one it uses. 6.18.44 behaves so too
        (examples/versions/mp-prio-skips-inactive.scn agrees with it live):
        the fix was backported to 6.18.y."""
        return self in (KernelVersion.V6_18_STABLE, KernelVersion.V7_1)


# The fixes merged for 7.0 that 6.18-stable has backported too.
_SINCE_7_0 = frozenset({KernelVersion.V6_18_STABLE, KernelVersion.V7_0, KernelVersion.V7_1})


DEFAULT_VERSION = KernelVersion.V6_18_STABLE

# Every trait a patch may flip (SWITCHES in a patch file): the bool
# properties above.
TRAITS = tuple(
    name
    for name, attr in vars(KernelVersion).items()
    if isinstance(attr, property) and name != "base"
)


def parse_version(text: str) -> KernelVersion:
    """Map a user's version string to a KernelVersion; raises ValueError."""
    for v in KernelVersion:
        if v.value == text:
            return v
    names = ", ".join(v.value for v in KernelVersion)
    raise ValueError(f"unknown kernel version {text!r} (known: {names})")


def version_of_release(release: str) -> KernelVersion:
    """The model version matching a running kernel's `uname -r`."""
    head = release.split("-")[0]
    parts = [int(p) for p in head.split(".")[:3] if p.isdigit()]
    major_minor = tuple(parts[:2])
    if major_minor == (6, 18):
        sub = parts[2] if len(parts) > 2 else 0
        return KernelVersion.V6_18_STABLE if sub > 10 else KernelVersion.V6_18
    if major_minor == (6, 19):
        return KernelVersion.V6_19
    if major_minor == (7, 0):
        return KernelVersion.V7_0
    if major_minor >= (7, 1):
        return KernelVersion.V7_1
    return KernelVersion.V6_18
