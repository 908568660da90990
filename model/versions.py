"""Kernel versions the model knows, and what differs between them.

A version is a plain Python value handed to every rule: rules may branch on it
with `if` (it is configuration, never state), which keeps one rule body for
all versions. Each trait names the upstream commit that introduced it.
"""

from __future__ import annotations

import enum


class KernelVersion(enum.Enum):
    V6_18 = "6.18"
    """v6.18.10 as released (Lemon1151/linux-6.18.y b5efa8f0b)."""
    V6_18_STABLE = "6.18-stable"
    """What this machine's 6.18.44 does: 6.18 plus the stable backports."""
    V6_19 = "6.19"
    """6.18 plus f88191c7f361, e461e8a799a2, 2ca1b8926fda (net-next, v6.19)."""

    @property
    def explicit_id0_creates_id0(self) -> bool:
        """6.18.10 `needs_id = !mptcp_pm_has_addr_attr_id()`: an explicit `id 0`
        attribute skips allocation and creates an endpoint with ID 0. Reverted
        by 8e2760eaab77 (Apr 2026), backported to 6.18-stable. The 6.19
        net-next snapshot still has it."""
        return self is not KernelVersion.V6_18_STABLE

    @property
    def has_endp_fullmesh_max(self) -> bool:
        """f88191c7f361 "record fullmesh endp nb" (v6.19)."""
        return self is KernelVersion.V6_19

    @property
    def signal_subflow_always_used(self) -> bool:
        """579a752464a6 "always mark signal+subflow endp as used" (7.0-rc2,
        6.18.y backport seen 10 Mar 2026): a signal+subflow endpoint the
        subflow loop never reached still counts in local_addr_used."""
        return self is KernelVersion.V6_18_STABLE

    @property
    def rm_endp_always_marks_avail(self) -> bool:
        """d191101dee25 "always set ID as avail when rm endp" (7.0-rc,
        stable): deleting any endpoint sets its id available on every msk."""
        return self is KernelVersion.V6_18_STABLE

    @property
    def flush_resets_fullmesh_max(self) -> bool:
        """f88191c7f361 forgot `__reset_counters`; fixed only in 7.1-rc2
        ("mptcp: pm: kernel: reset fullmesh counter after flush")."""
        return False


DEFAULT_VERSION = KernelVersion.V6_18_STABLE


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
    if major_minor >= (6, 19):
        return KernelVersion.V6_19
    return KernelVersion.V6_18
