"""A checking scope: what the state may hold and what each step may input.

The scope is explicit and printed with every verdict. Each rule's inputs
range over a product of small domains ("dimensions"); the explicit-state
oracle enumerates exactly that product and the symbolic engines constrain
their input variables to exactly that set, so all engines check one system.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

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
from pmcheck.model.inputs import NO_ADDR, NO_EVENT, NO_LIMITS
from pmcheck.model.rules import Inputs
from pmcheck.versions import KernelVersion

Choice = dict[str, Any]  # "addr.family" -> value, ...
Dimension = list[Choice]

# Address keys: two IPv4 addresses (one also as v4-mapped IPv6) and one IPv6.
A, B, C = 1, 2, 128
ADDRS: Dimension = [{"addr.family": AF_INET, "addr.addr": A},
                    {"addr.family": AF_INET6, "addr.addr": A},
                    {"addr.family": AF_INET, "addr.addr": B},
                    {"addr.family": AF_INET6, "addr.addr": C}]
FLAG_SETS = (0, FLAG_SIGNAL, FLAG_SUBFLOW, FLAG_SIGNAL | FLAG_SUBFLOW, FLAG_FULLMESH,
             FLAG_SUBFLOW | FLAG_FULLMESH, FLAG_SIGNAL | FLAG_FULLMESH, FLAG_IMPLICIT,
             FLAG_LAMINAR | FLAG_SUBFLOW, FLAG_BACKUP)


@dataclass(frozen=True)
class Scope:
    version: KernelVersion
    endpoint_slots: int = 8
    ids: tuple[int, ...] = (1, 2, 255)  # explicit ids an add/delete/change may name
    ports: tuple[int, ...] = (0, 1000)
    flag_sets: tuple[int, ...] = FLAG_SETS
    limit_values: tuple[int, ...] = (0, 2, 8, 9)
    addrs: tuple[tuple[tuple[str, Any], ...], ...] = field(
        default=tuple(tuple(d.items()) for d in ADDRS))

    def describe(self) -> str:
        return (f"kernel {self.version.value}, {self.endpoint_slots} endpoint slots, "
                f"{len(self.addrs)} addresses, ids {{auto, 0, {', '.join(map(str, self.ids))}}}, "
                f"ports {set(self.ports)}, {len(self.flag_sets)} flag sets, limits "
                f"{set(self.limit_values)}, no connections")

    def dimensions(self) -> dict[str, list[Dimension]]:
        """Per netlink rule, the dimensions whose product is its input set."""
        addrs = [dict(a) for a in self.addrs]
        ids = [{"addr.has_id": False, "addr.id": 0}, {"addr.has_id": True, "addr.id": 0}] + \
            [{"addr.has_id": True, "addr.id": i} for i in self.ids]
        ports = [{"addr.port": p} for p in self.ports]
        flags = [{"addr.flags": f} for f in self.flag_sets]
        by_id_or_addr = [{"addr.family": 0, "addr.addr": 0}, *addrs]
        plain_ids = [{"addr.id": i} for i in (0, *self.ids)]
        change_flags = [{"addr.flags": f} for f in (0, FLAG_BACKUP, FLAG_FULLMESH,
                                                    FLAG_BACKUP | FLAG_FULLMESH)]
        limit = [{"has": False, "v": 0}] + [{"has": True, "v": v} for v in self.limit_values]
        aa = [{"limits.has_add_addr_accepted": d["has"], "limits.add_addr_accepted": d["v"]}
              for d in limit]
        sf = [{"limits.has_subflows": d["has"], "limits.subflows": d["v"]} for d in limit]
        return {
            "endpoint add": [addrs, ids, ports, flags],
            "endpoint delete": [plain_ids, by_id_or_addr],
            "endpoint change": [by_id_or_addr, plain_ids, ports, change_flags],
            "endpoint flush": [],
            "limits set": [aa, sf],
        }

    def rules(self) -> list[str]:
        return list(self.dimensions())

    def inputs(self, rule: str) -> Iterator[Inputs]:
        """Every concrete input of `rule` in the scope (for the oracle)."""
        for combo in itertools.product(*self.dimensions()[rule]):
            merged: Choice = {}
            for part in combo:
                merged.update(part)
            yield build_inputs(merged)


def build_inputs(choice: Choice) -> Inputs:
    addr = NO_ADDR._replace(**{k[5:]: v for k, v in choice.items() if k.startswith("addr.")})
    limits = NO_LIMITS._replace(**{k[7:]: v for k, v in choice.items()
                                   if k.startswith("limits.")})
    return Inputs(addr, limits, NO_EVENT)
