"""Every property, registered by importing the modules that define them."""

from __future__ import annotations

from pmcheck.properties import connection, netns, pair  # noqa: F401  (registers)
from pmcheck.properties.base import REGISTRY, Property


def all_properties() -> dict[str, Property]:
    return dict(REGISTRY)
