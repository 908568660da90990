"""Shared gate for tests that drive the real kernel."""

from __future__ import annotations

import pytest

from pmcheck.live.netns import live_kernel_available


def require_live_kernel() -> None:
    ok, reason = live_kernel_available()
    if not ok:
        pytest.skip(f"live kernel unavailable: {reason}")
