"""mptcp_join.sh, from the selftests oracle, replayed on the one-host model.

The oracle (`shared/reference/selftests-oracle.json`, key `cases`) transcribes
the mptcp_join.sh scenarios and what they assert. In mptcp_join.sh both
namespaces run the in-kernel PM; pmcheck models one host and drives its peer
with scenario verbs. This module is the translator, a helper for
tests/test_selftests_join.py; it also writes the translated scenarios to
examples/selftests/ for `pmcheck diff`:

    python -m tests.selftests_join            # (re)write examples/selftests/
    python -m tests.selftests_join --check    # exit 1 if they are stale
    python -m tests.selftests_join --report   # translated/untranslated table

Only cases with `deterministic: true` that are present in v6.18 count; they
run on the 6.18-stable model (this machine's 6.18.44).

## Sides

Our host is ns2, the client: `connect 10.0.N.2 DST` toward the case's
destination. ns1, the server, becomes the environment:

- ns1's signal endpoints become `peer announce ADDR id ID` after `connect`,
  in ns1's endpoint-list order (entries with a port at the head), with the id
  ns1 allocates (the oracle's `expected_id`). ns1's own MPC address (the
  destination) is never announced while its subflow lives. A port endpoint
  is announced without its port: ns1's PM opens a listener on that port, the
  testbed's peer listens on the connection port only (and resets joins to
  any other), and no PM decision of these cases depends on the port.
- ns1 deleting an announced endpoint is `peer remove id ID`; `del 0 DST`
  and deleting the endpoint of ns1's MPC address are `peer remove id 0`; an
  ns1 flush is one `peer remove` per announced id.
- `allow_join_initial_addr_port=0` on ns1 is `connect ... peer-deny-join-id0`
  (on ns2 it only concerns the server's joins, which we do not model).
- ns1 `set flags` only makes ns1 send MP_PRIO: not modelled, left out.
- ns2's link interface `ns2ethN` is the testbed host's `hostethN`.
- endpoint_tests (multi-step) are written out after the v6.18 script, with
  its per-step checks; "delete and re-add" runs the script's loop three
  times (the oracle's `steps` condense it).

## The environment reacts (firewalls, listeners, ns1's limit)

The live kernel's peer accepts every join to its addresses; ns1 does not.
After every step the translation looks at the joins the model established
and makes the peer close the ones ns1 would refuse (`subflow close L R`; the
model then runs `mptcp_close_ssk`, as for a reset join):

- refused at the SYN (kind "syn"): an iptables REJECT of the source (ns1
  INPUT or ns2 OUTPUT), or no listener on the address (bind tests). Such a
  join counts in syn_tx only.
- refused at the third ACK (kind "ack"): ns1 accepts a passive join only
  while its joins stay within its subflows limit (a userspace-PM ns1 without
  daemon accepts none). Such a join counts in syn_rx and synack_rx.

The model briefly holds the refused join as established; that is the one
approximation of this emulation.

A join to 224.0.0.1 (multicast) fails in connect(): in the kernel the
ADD_ADDR then changes no PM state (extra_subflows++ and -- again, no
add_addr_accepted++), exactly like an ADD_ADDR that is only echoed. The
model has no connect-error outcome, so such an announcement is left out of
the scenario and only counted for the add_addr check (sound while no
fullmesh/laminar endpoint or C-flag case could mark an endpoint used); its
later RM_ADDR, which finds nothing to close, is left out likewise.

Where mptcp_join.sh asserts by kernel feature and the oracle records the
newer branch, the v6.18 branch is used (V618_BRANCH).

## Checks: what each oracle counter becomes

Measured on the model run (tracked per subflow slot, not from the table, so
a subflow closed and recreated in one step is still seen):

| oracle check | model measure |
|---|---|
| join syn_tx (ns2 MPJoinSynTx) | active join subflows created (SYN sent) |
| join syn_rx, synack_rx | joins the model established, minus "syn" refusals |
| join ack_rx | the same, minus "ack" refusals |
| join syn_rejected (ns1) | "ack" refusals |
| add_addr add_rx/echo_rx | `peer announce` lines (+ left-out multicast): a translation check |
| add_addr invert | ADD_ADDRs our host sent (new `anno_list` entries) |
| rm rm_subflow (ns2 RmSubflow) | subflows closed by our endpoint delete/flush/fullmesh toggle |
| rm invert rm_addr_rx (ns2 RmAddr) | `peer remove` lines: a translation check |
| rm invert rm_subflow (ns1 RmSubflow) | established subflows closed by `peer remove` |
| rm simult (sum both sides, in [n, 2n]) | all subflows closed by removals, either side |
| prio join_syn_backup_rx (ns1) | joins sent with our B bit that reached ns1 |
| prio mp_prio_rx (ns1) | our B-bit flips on live subflows (MP_PRIO sent) |
| mptcp_info ns2 field | MPTCP_INFO of conn 1 at that point |
| subflow_nr | established subflows at that point (table size) |
| endpoint ns2 | `endpoint show id N` at that point |

Not observable on the model, so not asserted (each translation lists them
in `unobserved`): RM_ADDR sent by our host (rm_addr_rx default, rm_tx),
bind/connect/create errors, the port counters, rst, events, listener events,
cestab, add_addr_tx, the peer's own MP_PRIO and B bit, ns1's MPTCP_INFO and
endpoints, and mp_prio_rx where the MP_PRIO and a re-mesh of the same subflow
happen in one model step (set nobackup,nofullmesh).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pmcheck.interp import run_model
from pmcheck.model.versions import KernelVersion
from pmcheck.results import Run
from pmcheck.scenario.ast import flag_names
from pmcheck.scenario.lower import Universe
from pmcheck.scenario.parser import parse_text
from tests.selftests_oracle import REPO_ROOT, OracleMissing, oracle_path

VERSION = KernelVersion.V6_18_STABLE
EXAMPLES = REPO_ROOT / "examples" / "selftests"
ENV_RULES = frozenset({"worker", "join result", "add_addr echo"})
MULTICAST = "224.0.0.1"
KIND_MPC, KIND_ACTIVE = 0, 1

# --- why a case is not translated (one line each in the report) -----------------

R_SERVER_JOINS = "both sides' PMs interact: server-initiated joins"
R_USERSPACE = "userspace PM on the client (the modelled host)"
R_LINK_LOCAL = "link-local (scoped) addresses: no scenario syntax"
R_ROUTE = "needs a host route the testbed topology cannot express"
R_LISTENER = "asserts the server's listener, not a PM decision"

# Cases whose reason needs reading the test, not just its fields.
EXTRA_ROUTE = {
    "join.backup.06": "ns2 routes 10.0.2.1 via link 1, so the ADD_ADDR join leaves from "
    "10.0.1.2 (a backup endpoint): the asserted backup bits depend on it",
}
# bind tests: an extra MPTCP listener on these ns1 addresses (the test starts it).
EXTRA_LISTENERS = {"join.bind.03": ("10.0.2.1",), "join.bind.04": ("dead:beef:2::1",)}


def norm(addr: str) -> str:
    """An address's identity as the model sees it (v4-mapped = v4)."""
    ip = ipaddress.ip_address(addr)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def host_of(dst: str) -> str:
    """ns2's address on the link of `dst` (ns1's), in the same spelling family."""
    ip = ipaddress.ip_address(dst)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return "::ffff:" + host_of(str(ip.ipv4_mapped))
    head, sep, last = str(ip).rpartition("." if ip.version == 4 else ":")
    if last != "1":
        raise ValueError(f"not an ns1 testbed address: {dst}")
    return f"{head}{sep}2"


# --- the translation ---------------------------------------------------------------


@dataclass(frozen=True)
class Cmd:
    """One scenario line and what it stands for (its role in the measures)."""

    text: str
    role: str  # setup, connect, announce, add, local-remove, peer-remove, cmd


@dataclass(frozen=True)
class SetFlags:
    """ns2 `set id X flags F` on every endpoint its dump shows at that moment
    (implicit ones included): resolved against the model's dump there."""

    flags: tuple[str, ...]


@dataclass(frozen=True)
class Unreject:
    """An iptables rule is deleted: joins from `addr` are accepted again."""

    addr: str


@dataclass(frozen=True)
class Point:
    """A per-step check of an endpoint test, on the state after the last line."""

    label: str
    check: str  # subflow_nr, subflows, add_addr_accepted, add_addr_signal, endpoint, errno
    want: Any


Item = Cmd | SetFlags | Unreject | Point


@dataclass(frozen=True)
class Expect:
    """One asserted number: `want` is an int or an inclusive (lo, hi) range."""

    name: str
    want: int | tuple[int, int]
    measure: str


@dataclass
class Translation:
    case_id: str
    title: str
    items: list[Item]
    reject_from: set[str] = field(default_factory=set)  # "syn" refusals by source
    reject_to: set[str] = field(default_factory=set)  # "syn" refusals by destination
    server_limit: int = 2  # ns1's subflows limit: passive joins it accepts
    omitted: int = 0  # left-out multicast announcements
    omitted_removes: int = 0  # and their left-out removals
    expect: list[Expect] = field(default_factory=list)
    unobserved: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skip_mp_prio: bool = False


@dataclass(frozen=True)
class Untranslated:
    case_id: str
    title: str
    reason: str
    detail: str


def load_cases(path: Path | None = None) -> list[dict]:
    """The deterministic oracle cases present in v6.18, in oracle order."""
    p = path or oracle_path()
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        cases = list(data["cases"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise OracleMissing(f"cannot read cases from {p}: {e}") from None
    return [c for c in cases if c["deterministic"] and "v6.18" in c["present_in"]]


def why_not(case: dict) -> Untranslated | None:
    """The reason a case cannot be expressed on the one-host model, if any."""
    cid, title = case["id"], case["title"]
    srv, cli = case["server"], case["client"]

    def no(reason: str, detail: str) -> Untranslated:
        return Untranslated(cid, title, reason, detail)

    if cli["pm_type"] != "kernel":
        return no(R_USERSPACE, "the client runs the userspace PM")
    addrs = [case["connect"]["dst"], *(e["addr"] for e in srv["endpoints"] + cli["endpoints"])]
    if any(a.startswith("<LL") for a in addrs):
        return no(R_LINK_LOCAL, "link-local ADD_ADDR and connection")
    if any(e["check"] == "mpc_connect_to_endpoint_port" for e in case["expect"]):
        return no(R_LISTENER, "an MP_CAPABLE to the server's port endpoint must be refused")
    if cid in EXTRA_ROUTE:
        return no(R_ROUTE, EXTRA_ROUTE[cid])
    dst = norm(case["connect"]["dst"])
    if srv["pm_type"] == "kernel":
        for e in srv["endpoints"]:
            if "subflow" in e["flags"] and norm(e["addr"]) != dst:
                return no(
                    R_SERVER_JOINS,
                    f"server subflow endpoint {e['addr']} opens joins toward the client",
                )
        srv_accept = (srv["limits"] or {}).get("add_addr_accepted", 0)
        if srv_accept and any("signal" in e["flags"] for e in cli["endpoints"]):
            return no(
                R_SERVER_JOINS,
                "both sides announce and accept: the server's joins "
                "compete with the client's for the limits",
            )
    return None


def dev(name: str) -> str:
    """ns2's link interface `ns2ethN` is the live testbed host's `hostethN`
    (the model treats a device as a name only)."""
    return name.replace("ns2eth", "hosteth")


def _endpoint_line(e: dict) -> str:
    out = ["ip mptcp endpoint add", e["addr"]]
    if e.get("port"):
        out += ["port", str(e["port"])]
    if e.get("dev"):
        out += ["dev", dev(e["dev"])]
    if e.get("id") is not None:
        out += ["id", str(e["id"])]
    return " ".join(out + list(e["flags"]))


def _limits_line(lim: dict) -> str:
    return (
        f"ip mptcp limits set add_addr_accepted {lim['add_addr_accepted']} "
        f"subflows {lim['subflows']}"
    )


def _list_order(endpoints: list[dict]) -> list[dict]:
    """The kernel's endpoint-list order: entries with a port go to the head."""
    head: list[dict] = []
    tail: list[dict] = []
    for e in endpoints:
        if e.get("port"):
            head.insert(0, e)
        else:
            tail.append(e)
    return head + tail


class _Builder:
    """Collects items while tracking what ns1 has announced."""

    def __init__(self, tr: Translation, dst: str) -> None:
        self.tr = tr
        self.dst = norm(dst)
        self.announced: dict[int, str] = {}  # ns1 endpoint id -> announced address

    def cmd(self, text: str, role: str = "cmd") -> None:
        self.tr.items.append(Cmd(text, role))

    def announce(self, addr: str, ident: int, port: Any = None) -> None:
        """ns1 announces one endpoint (left out if multicast)."""
        if norm(addr) == self.dst:
            return  # ns1's MPC address: not announced while its subflow lives
        self.announced[ident] = addr
        if addr == MULTICAST:
            self.tr.omitted += 1
            self.tr.notes.append(f"ADD_ADDR {addr} id {ident} left out (connect() fails)")
            return
        if port:
            self.tr.notes.append(
                f"ADD_ADDR {addr} id {ident} sent without its port {port}: "
                "the testbed peer listens on the connection port only"
            )
        self.cmd(f"peer announce {addr} id {ident}", "announce")

    def ns1_remove(self, ident: int) -> None:
        """ns1 deletes endpoint `ident` (id 0: `del 0 DST`): RM_ADDR if announced."""
        if ident == 0:
            self.cmd("peer remove id 0", "peer-remove")
            return
        addr = self.announced.pop(ident, None)
        if addr == MULTICAST:
            self.tr.omitted_removes += 1
            self.tr.notes.append(
                f"RM_ADDR id {ident} ({MULTICAST}) left out: nothing to remove, no PM state change"
            )
        elif addr is not None:
            self.cmd(f"peer remove id {ident}", "peer-remove")

    def ns1_flush(self) -> None:
        for ident in list(self.announced):
            self.ns1_remove(ident)


def translate(case: dict) -> Translation | Untranslated:
    """The case as a model scenario with expectations, or why it cannot be."""
    reason = why_not(case)
    if reason:
        return reason
    cid = case["id"]
    srv, conn = case["server"], case["connect"]
    tr = Translation(cid, case["title"], [])
    b = _Builder(tr, conn["dst"])
    limits = srv["limits"] or {"add_addr_accepted": 0, "subflows": 2}
    tr.server_limit = limits["subflows"] if srv["pm_type"] == "kernel" else 0
    _reset(case, tr)
    if cid in CUSTOM:
        CUSTOM[cid](case, b)
    else:
        _generic(case, b)
    _expectations(case, tr)
    return tr


def _reset(case: dict, tr: Translation) -> None:
    """The setup variant's environment: firewalls and listeners."""
    reset, conn = case["reset"], case["connect"]
    if isinstance(reset, dict):
        kind = reset["type"]
        if kind == "reset_with_tcp_filter" and reset["target"] == "REJECT":
            tr.reject_from.add(norm(reset["src"]))
            tr.notes.append(
                f"{reset['ns']} {reset['chain']} REJECT from {reset['src']}: "
                "joins from it refused at the SYN"
            )
        elif kind == "reset_with_cookies":
            tr.notes.append("syncookies: no PM effect")
    if conn["listener_bind"] != "::":
        listening = {
            norm(conn["listener_bind"]),
            *(norm(a) for a in EXTRA_LISTENERS.get(case["id"], ())),
        }
        for e in case["server"]["endpoints"]:
            if norm(e["addr"]) not in listening:
                tr.reject_to.add(norm(e["addr"]))
        tr.notes.append(
            f"server listens on {', '.join(sorted(listening))} only: joins "
            "elsewhere refused at the SYN"
        )


def _connect_line(case: dict) -> str:
    dst = case["connect"]["dst"]
    deny = ""
    reset = case["reset"]
    if (
        isinstance(reset, dict)
        and reset.get("type") == "reset_with_allow_join_id0"
        and reset["sysctl"]["ns1"]["net.mptcp.allow_join_initial_addr_port"] == 0
    ):
        deny = " peer-deny-join-id0"
    return f"connect {host_of(dst)} {dst}{deny}"


def _generic(case: dict, b: _Builder) -> None:
    srv, cli = case["server"], case["client"]
    if cli["limits"]:
        b.cmd(_limits_line(cli["limits"]), "setup")
    for e in cli["endpoints"]:
        b.cmd(_endpoint_line(e), "setup")
    b.cmd(_connect_line(case), "connect")
    if srv["pm_type"] == "kernel":
        for e in _list_order(srv["endpoints"]):
            if "signal" in e["flags"]:
                b.announce(e["addr"], e["expected_id"], e.get("port"))
    for a in case["actions"]:
        _action(a, b)


def _action(a: dict, b: _Builder) -> None:
    op, ns = a["op"], a.get("ns")
    if op == "wait":
        return
    if op == "add_endpoint" and ns == "ns2":
        b.cmd(_endpoint_line({**a, "id": a.get("id")}), "add")
    elif op == "add_endpoint" and ns == "ns1":
        b.announce(a["addr"], a["expected_id"], a.get("port"))
    elif op == "del_endpoint" and ns == "ns2":
        extra = f" {a['addr']}" if a["id"] == 0 else ""
        b.cmd(f"ip mptcp endpoint delete id {a['id']}{extra}", "local-remove")
    elif op == "del_endpoint" and ns == "ns1":
        b.ns1_remove(a["id"])
    elif op == "flush_endpoints" and ns == "ns2":
        b.cmd("ip mptcp endpoint flush", "local-remove")
    elif op == "flush_endpoints" and ns == "ns1":
        b.ns1_flush()
    elif op == "set_flags_all" and ns == "ns2":
        b.tr.items.append(SetFlags(tuple(a["flags"].split(","))))
    elif op == "set_flags_all" and ns == "ns1":
        b.tr.notes.append(f"ns1 set flags {a['flags']}: only the peer's MP_PRIO, left out")
    else:
        raise ValueError(f"{b.tr.case_id}: no translation for action {a}")


# --- endpoint_tests: multi-step, written after the v6.18 script -------------------


def _endpoint_implicit(case: dict, b: _Builder) -> None:
    """ "implicit EP": the ADD_ADDR join's source gets an implicit endpoint."""
    b.cmd(_limits_line(case["client"]["limits"]), "setup")
    b.cmd(_connect_line(case), "connect")
    b.announce("10.0.2.1", 1)
    b.tr.items += [
        Point("creation", "endpoint", (1, "10.0.2.2", ("implicit",), None)),
        Point("creation", "subflows", 1),
        Point("creation", "add_addr_accepted", 1),
    ]
    b.cmd("ip mptcp endpoint add 10.0.2.2 id 33", "cmd")
    b.tr.items += [
        Point("ID change is prevented", "errno", "fails"),
        Point("ID change is prevented", "endpoint", (1, "10.0.2.2", ("implicit",), None)),
    ]
    b.cmd("ip mptcp endpoint add 10.0.2.2 signal", "cmd")
    b.tr.items += [
        Point("modif is allowed", "errno", "ok"),
        Point("modif is allowed", "endpoint", (1, "10.0.2.2", ("signal",), None)),
    ]


def _endpoint_delete_readd(case: dict, b: _Builder) -> None:
    """ "delete and re-add": ns2 OUTPUT REJECT from 10.0.3.2; the script's
    loop deletes and re-adds the MPC-address endpoint (id 1) three times
    (the oracle's `steps` condense that loop)."""
    b.cmd(_limits_line(case["client"]["limits"]), "setup")
    b.cmd(f"ip mptcp endpoint add 10.0.1.2 dev {dev('ns2eth1')} id 1 subflow", "setup")
    b.cmd(f"ip mptcp endpoint add 10.0.2.2 dev {dev('ns2eth2')} id 2 subflow", "setup")
    b.cmd(_connect_line(case), "connect")
    pt = b.tr.items.append
    pt(Point("creation", "endpoint", (2, "10.0.2.2", ("subflow",), dev("ns2eth2"))))
    pt(Point("before delete id 2", "subflow_nr", 2))
    pt(Point("before delete id 2", "subflows", 1))
    b.cmd("ip mptcp endpoint delete id 2 10.0.2.2", "local-remove")
    pt(Point("after delete id 2", "subflow_nr", 1))
    pt(Point("after delete id 2", "subflows", 0))
    b.cmd(f"ip mptcp endpoint add 10.0.2.2 dev {dev('ns2eth2')} id 2 subflow", "add")
    pt(Point("after re-add id 2", "subflow_nr", 2))
    pt(Point("after re-add id 2", "subflows", 1))
    b.cmd("ip mptcp endpoint add 10.0.3.2 id 3 subflow", "add")
    pt(Point("after new reject", "subflow_nr", 2))
    pt(Point("after new reject", "subflows", 1))
    pt(Unreject("10.0.3.2"))
    b.cmd("ip mptcp endpoint delete id 3 10.0.3.2", "local-remove")
    b.cmd("ip mptcp endpoint add 10.0.3.2 id 3 subflow", "add")
    pt(Point("after no reject", "subflow_nr", 3))
    pt(Point("after no reject", "subflows", 2))
    for i in (1, 2, 3):
        b.cmd("ip mptcp endpoint delete id 1 10.0.1.2", "local-remove")
        pt(Point(f"after delete id 0 ({i})", "subflow_nr", 2))
        pt(Point(f"after delete id 0 ({i})", "subflows", 2))
        b.cmd(f"ip mptcp endpoint add 10.0.1.2 dev {dev('ns2eth1')} id 1 subflow", "add")
        pt(Point(f"after re-add id 0 ({i})", "subflow_nr", 3))
        pt(Point(f"after re-add id 0 ({i})", "subflows", 3))


def _endpoint_signal_readd(case: dict, b: _Builder) -> None:
    """ "delete re-add signal": ns1 deletes and re-adds its signal endpoints,
    then the endpoint of its MPC address 10.0.1.1 (id 42): deleting it sends
    RM_ADDR 0; re-adding it (v6.18: id 99, then 88) announces it as id 0."""
    b.cmd(_limits_line(case["client"]["limits"]), "setup")
    b.cmd(_connect_line(case), "connect")
    b.announce("10.0.2.1", 1)
    b.announce(MULTICAST, 2)
    pt = b.tr.items.append

    def info(label: str, nr: int, subflows: int, accepted: int) -> None:
        pt(Point(label, "subflow_nr", nr))
        pt(Point(label, "subflows", subflows))
        pt(Point(label, "add_addr_accepted", accepted))

    info("before delete", 2, 1, 1)
    b.ns1_remove(1)
    b.ns1_remove(2)
    info("after delete", 1, 0, 0)
    b.announce("10.0.2.1", 1)
    b.announce("10.0.3.1", 2)
    info("after re-add", 3, 2, 2)
    b.cmd("peer remove id 0", "peer-remove")  # del id 42 (ns1's MPC address)
    info("after delete ID 0", 2, 2, 2)
    b.cmd("peer announce 10.0.1.1 id 0", "announce")  # re-add as id 99 = MPC endpoint
    info("after re-add ID 0", 3, 3, 2)
    b.cmd("peer remove id 0", "peer-remove")  # del id 99
    info("after re-delete ID 0", 2, 2, 2)
    b.cmd("peer announce 10.0.1.1 id 0", "announce")  # re-add as id 88
    info("after re-re-add ID 0", 3, 3, 2)


def _endpoint_flush_readd(case: dict, b: _Builder) -> None:
    """ "flush re-add": ns2 OUTPUT REJECT from 10.0.3.2 until after the flushes."""
    b.cmd(_limits_line(case["client"]["limits"]), "setup")
    b.cmd("ip mptcp endpoint add 10.0.3.2 id 3 subflow", "setup")
    b.cmd(_connect_line(case), "connect")
    b.announce(MULTICAST, 2)
    b.tr.items += [Point("before flush", "subflow_nr", 1), Point("before flush", "subflows", 0)]
    b.cmd("ip mptcp endpoint flush", "local-remove")
    b.ns1_flush()
    b.tr.items.append(Unreject("10.0.3.2"))
    b.cmd("ip mptcp endpoint add 10.0.3.2 id 3 subflow", "add")
    b.announce("10.0.3.1", 2)


CUSTOM = {
    "join.endpoint.01": _endpoint_implicit,
    "join.endpoint.02": _endpoint_delete_readd,
    "join.endpoint.03": _endpoint_signal_readd,
    "join.endpoint.04": _endpoint_flush_readd,
}


# Where mptcp_join.sh asserts per kernel feature and the oracle records the
# newer branch: what the v6.18 script asserts on 6.18.44.
V618_BRANCH = {
    # e461e8a799a2 (v6.19) made this `chk_join_nr 0 0 0` only when kallsyms has
    # mptcp_pm_get_endp_fullmesh_max; 6.18.44 does not, so `chk_join_nr 1 1 1`.
    "join.mixed.03": {"syn_rx": 1, "synack_rx": 1, "ack_rx": 1, "syn_tx": 1},
}


# --- expectations --------------------------------------------------------------------


def _expectations(case: dict, tr: Translation) -> None:
    """Each oracle check as model measures (see the module docstring)."""
    ex, un = tr.expect.append, tr.unobserved.append
    run = case.get("run", {})
    flags = str(run.get("sflags", ""))
    tr.skip_mp_prio = "fullmesh" in flags  # MP_PRIO and re-mesh in one model step
    for c in case["expect"]:
        kind = c["check"]
        if kind == "join":
            c = {**c, **V618_BRANCH.get(case["id"], {})}
            ex(Expect("join.syn_tx", c["syn_tx"], "syn"))
            ex(Expect("join.syn_rx", c["syn_rx"], "reached"))
            synack: int | tuple[int, int] = c["synack_rx"]
            if "synack_rx_tolerance" in c:
                synack = (c["synack_rx"], c["syn_rx"])
            ex(Expect("join.synack_rx", synack, "reached"))
            ex(Expect("join.ack_rx", c["ack_rx"], "joined"))
            ex(Expect("join.syn_rejected", c["syn_rejected"], "rej_ack"))
            for err in ("bind_err", "connect_err", "create_err"):
                if c[err]:
                    un(f"join.{err}={c[err]}")
        elif kind == "add_addr":
            if c["invert"]:
                ex(Expect("add_addr.add_rx(invert)", c["add_rx"], "our_announces"))
                un(f"add_addr.echo_rx(invert)={c['echo_rx']}")
            else:
                ex(Expect("add_addr.add_rx", c["add_rx"], "announces"))
                ex(Expect("add_addr.echo_rx", c["echo_rx"], "announces"))
                if c["port"]:
                    un(f"add_addr.port={c['port']} (joins to the announced port)")
        elif kind == "rm":
            n = c["rm_subflow"]
            if c["invert"]:
                ex(Expect("rm.rm_addr_rx(invert)", c["rm_addr_rx"], "peer_removes"))
            else:
                un(f"rm.rm_addr_rx={c['rm_addr_rx']} (RM_ADDR sent by the host)")
            if c["simult"]:
                ex(Expect("rm.rm_subflow(simult)", (n, 2 * n), "closed_all"))
            elif c["invert"]:
                ex(Expect("rm.rm_subflow(invert)", n, "closed_by_peer"))
            else:
                ex(Expect("rm.rm_subflow", n, "closed_local"))
        elif kind == "prio":
            ex(Expect("prio.join_syn_backup_rx_ns1", c["join_syn_backup_rx_ns1"], "backup_syns"))
            if tr.skip_mp_prio:
                un(
                    f"prio.mp_prio_rx_ns1={c['mp_prio_rx_ns1']} (MP_PRIO and the re-mesh "
                    "happen in one model step)"
                )
            else:
                ex(Expect("prio.mp_prio_rx_ns1", c["mp_prio_rx_ns1"], "prio_flips"))
            un(f"prio.mp_prio_tx_ns1={c['mp_prio_tx_ns1']}")
            un(f"prio.join_synack_backup_rx_ns2={c['join_synack_backup_rx_ns2']}")
        else:
            un(f"{kind}")
    for step in case.get("steps", []):
        for c in step["expect"]:
            if c["check"] == "mptcp_info":
                un(f"mptcp_info ns1 {c['ns1_field']}")
            elif c["check"] == "endpoint" and c["ns"] == "ns1":
                un("endpoint ns1")
    tr.unobserved[:] = list(dict.fromkeys(tr.unobserved))
    for n, item in enumerate(tr.items):
        if isinstance(item, Point):
            ex(Expect(f"step '{item.label}': {item.check}", 0, f"point:{n}"))


# --- running: the model with an observer ---------------------------------------------


@dataclass
class StepObs:
    """What happened to connection 1 during one scenario step (the command
    and the environment's settling after it)."""

    syn: list[Any] = field(default_factory=list)  # active joins created (SYN sent)
    est: list[Any] = field(default_factory=list)  # joins established, in order
    closed: list[Any] = field(default_factory=list)  # live subflows closed (before)
    announced: int = 0  # new anno_list entries (our ADD_ADDRs)
    flips: int = 0  # B-bit changes on live subflows (MP_PRIO)
    alive_joins: list[Any] = field(default_factory=list)  # established joins after


def _ident(s: Any) -> tuple:
    return (s.kind, s.local_addr, s.local_id, s.remote_addr, s.remote_id, s.remote_port)


def observe(text: str, version: KernelVersion) -> tuple[Run, list[StepObs], Universe]:
    """Run the scenario on the model; per scenario step, what happened to
    connection 1 (see StepObs)."""
    scn = parse_text(text, "<selftest>")
    record: list = []
    run = run_model(scn, version, observer=lambda *step: record.append(step))
    steps: list[StepObs] = []
    for name, before, after, _ in record:
        if name not in ENV_RULES:
            steps.append(StepObs())
        obs = steps[-1]
        _diff(obs, before.conns[0], after.conns[0])
        obs.alive_joins = [
            s for s in after.conns[0].sf if s.used and s.established and s.kind == KIND_ACTIVE
        ]
    return run, steps, Universe.of(scn)


def _diff(obs: StepObs, b: Any, a: Any) -> None:
    if not (b.used or a.used):
        return
    for sb, sa in zip(b.sf, a.sf, strict=True):
        same = (
            sb.used
            and sa.used
            and _ident(sb) == _ident(sa)
            and not (sb.established and not sa.established)
        )
        if sb.used and not same:
            obs.closed.append(sb)
        if sa.used and not same and sa.kind == KIND_ACTIVE:
            obs.syn.append(sa)
        if same and not sb.established and sa.established and sa.kind == KIND_ACTIVE:
            obs.est.append(sa)
        if same and sb.backup != sa.backup:
            obs.flips += 1
    for ab, aa in zip(b.anno, a.anno, strict=True):
        if aa.used and not (ab.used and (ab.id, ab.addr, ab.port) == (aa.id, aa.addr, aa.port)):
            obs.announced += 1


# --- resolving the reactive environment ------------------------------------------------


@dataclass
class Line:
    text: str
    role: str
    env: tuple[frozenset[str], frozenset[str]]  # (reject_from, reject_to) for its joins
    points: list[int] = field(default_factory=list)  # Point items checked after it
    refused: bool = False  # the peer's refusals of its joins are already laid out


@dataclass
class Resolved:
    translation: Translation
    text: str
    lines: list[Line]
    run: Run
    steps: list[StepObs]
    universe: Universe
    points: dict[int, int]  # Point item index -> scenario step index it is checked at


def _text(tr: Translation, lines: list[Line], version: KernelVersion) -> str:
    head = [
        f"# {tr.case_id}: {tr.title}",
        "# generated by `python -m tests.selftests_join` from the selftests oracle",
        *(f"# note: {n}" for n in tr.notes),
        f"kernel {version.value}",
    ]
    return "\n".join(head + [ln.text for ln in lines]) + "\n"


def resolve(tr: Translation, version: KernelVersion = VERSION) -> Resolved:
    """Lay out the scenario: the peer's refusals where ns1 would refuse a
    join, and ns2's set-flags lines from the model's dump at that point."""
    lines: list[Line] = []
    reject_from = set(tr.reject_from)

    def env() -> tuple[frozenset[str], frozenset[str]]:
        return frozenset(reject_from), frozenset(tr.reject_to)

    for n, item in enumerate(tr.items):
        if isinstance(item, Cmd):
            lines.append(Line(item.text, item.role, env()))
        elif isinstance(item, Unreject):
            reject_from.discard(norm(item.addr))
        elif isinstance(item, Point):
            lines[-1].points.append(n)
        elif isinstance(item, SetFlags):
            _settle_refusals(tr, lines, version)
            run, _, _ = observe(_text(tr, lines, version), version)
            opts = " ".join(item.flags)
            for row in run.outcomes[-1].endpoints:
                lines.append(
                    Line(f"ip mptcp endpoint change id {row.id} {opts}", "local-remove", env())
                )
    _settle_refusals(tr, lines, version)
    text = _text(tr, lines, version)
    run, steps, universe = observe(text, version)
    points: dict[int, int] = {}
    for k, ln in enumerate(lines):
        end = k
        while end + 1 < len(lines) and lines[end + 1].role.startswith("reject-"):
            end += 1
        for n in ln.points:
            points[n] = end
    return Resolved(tr, text, lines, run, steps, universe, points)


def _settle_refusals(tr: Translation, lines: list[Line], version: KernelVersion) -> None:
    """Insert `subflow close` after the first step with a join ns1 refuses,
    rerun, and repeat until no step has one."""
    for _ in range(64):
        if not lines:
            return
        _, steps, u = observe(_text(tr, lines, version), version)
        for k, obs in enumerate(steps):
            closes = [] if lines[k].refused else _refusals(tr, obs, lines[k].env, u)
            if closes:
                lines[k].refused = True
                lines[k + 1 : k + 1] = [Line(t, r, lines[k].env) for t, r in closes]
                break
        else:
            return
    raise RuntimeError(f"{tr.case_id}: refusals did not settle")


def _refusals(
    tr: Translation, obs: StepObs, env: tuple[frozenset[str], frozenset[str]], u: Universe
) -> list[tuple[str, str]]:
    reject_from, reject_to = env
    alive = Counter(_ident(s) for s in obs.alive_joins)
    new = [s for s in obs.est if alive[_ident(s)] > 0]
    syn = [
        s
        for s in new
        if norm(u.addr_text(s.local_addr)) in reject_from
        or norm(u.addr_text(s.remote_addr)) in reject_to
    ]
    rest = [s for s in new if s not in syn]
    excess = len(obs.alive_joins) - len(syn) - tr.server_limit
    ack = rest[max(0, len(rest) - excess) :] if excess > 0 else []

    def close(s: Any, role: str) -> tuple[str, str]:
        return (f"subflow close {u.addr_text(s.local_addr)} {u.addr_text(s.remote_addr)}", role)

    return [close(s, "reject-syn") for s in syn] + [close(s, "reject-ack") for s in ack]


# --- measures --------------------------------------------------------------------------


def measures(res: Resolved) -> dict[str, Any]:
    """Every model measure an Expect may name (see the module docstring)."""
    roles = [ln.role for ln in res.lines]
    steps = res.steps
    tr = res.translation
    m: dict[str, Any] = {}
    est = sum(len(s.est) for s in steps)
    rej_syn = roles.count("reject-syn")
    rej_ack = roles.count("reject-ack")
    m["syn"] = sum(len(s.syn) for s in steps)
    m["reached"] = est - rej_syn
    m["joined"] = est - rej_syn - rej_ack
    m["rej_ack"] = rej_ack
    m["announces"] = roles.count("announce") + tr.omitted
    m["our_announces"] = sum(s.announced for s in steps)
    m["peer_removes"] = roles.count("peer-remove") + tr.omitted_removes
    local = [s for s, r in zip(steps, roles, strict=True) if r == "local-remove"]
    peer = [s for s, r in zip(steps, roles, strict=True) if r == "peer-remove"]
    m["closed_local"] = sum(len(s.closed) for s in local)
    m["closed_by_peer"] = sum(1 for s in peer for c in s.closed if c.established)
    m["closed_all"] = m["closed_local"] + m["closed_by_peer"]
    rejected = Counter()
    for k, r in enumerate(roles):
        if r == "reject-syn":
            rejected.update(_ident(c) for c in steps[k].closed)
    backup = 0
    for s in steps:
        for j in s.est:
            if rejected[_ident(j)]:
                rejected[_ident(j)] -= 1
            elif j.backup:
                backup += 1
    m["backup_syns"] = backup
    m["prio_flips"] = sum(s.flips for s in steps)
    for n, index in res.points.items():
        point = tr.items[n]
        assert isinstance(point, Point)
        m[f"point:{n}"] = _point(res, index, point)
    return m


def _point(res: Resolved, index: int, p: Point) -> Any:
    """0 when the per-step check holds, else what the model shows."""
    out = res.run.outcomes[index]
    conn = out.conns[0] if out.conns else None
    got: Any
    if p.check == "subflow_nr":
        got = len(conn.table) if conn else 0
    elif p.check in ("subflows", "add_addr_accepted", "add_addr_signal"):
        got = getattr(conn, p.check) if conn else 0
    elif p.check == "errno":
        got = "ok" if out.errno == 0 else "fails"
    elif p.check == "endpoint":
        ident, addr, flags, dev = p.want
        got = [(r.id, r.addr, flag_names(r.flags), r.dev) for r in out.endpoints if r.id == ident]
        want = [(ident, addr, flags, dev)]
        return 0 if got == want else f"{got} (want {want})"
    else:
        raise ValueError(p.check)
    return 0 if got == p.want else f"{got} (want {p.want})"


def mismatches(res: Resolved) -> list[str]:
    """The oracle's expectations the model run does not meet."""
    m = measures(res)
    bad = []
    for e in res.translation.expect:
        got = m[e.measure]
        if e.measure.startswith("point:"):
            if got != 0:
                bad.append(f"{e.name}: model {got}")
            continue
        ok = e.want[0] <= got <= e.want[1] if isinstance(e.want, tuple) else got == e.want
        if not ok:
            bad.append(f"{e.name}: oracle {e.want}, model {got}")
    return bad


# --- the whole table -------------------------------------------------------------------


def split(cases: list[dict]) -> tuple[list[Translation], list[Untranslated]]:
    done: list[Translation] = []
    skipped: list[Untranslated] = []
    for c in cases:
        t = translate(c)
        (skipped if isinstance(t, Untranslated) else done).append(t)  # type: ignore[arg-type]
    return done, skipped


def example_path(case_id: str) -> Path:
    return EXAMPLES / f"{case_id.removeprefix('join.')}.scn"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if examples are stale")
    ap.add_argument("--report", action="store_true", help="print the translation table")
    args = ap.parse_args(argv)
    done, skipped = split(load_cases())
    if args.report:
        for t in done:
            res = resolve(t)
            bad = mismatches(res)
            print(f"{t.case_id:28} {'ok' if not bad else 'MISMATCH'}  {t.title}")
            for line in bad:
                print(f"    {line}")
        for s in skipped:
            print(f"{s.case_id:28} --  {s.reason}: {s.detail}")
        reasons = Counter(s.reason for s in skipped)
        print(f"\n{len(done)} translated, {len(skipped)} not:")
        for r, n in reasons.most_common():
            print(f"  {n:3}  {r}")
        return 0
    stale = 0
    EXAMPLES.mkdir(parents=True, exist_ok=True)
    for t in done:
        text = resolve(t).text
        p = example_path(t.case_id)
        if args.check:
            if not p.is_file() or p.read_text(encoding="utf-8") != text:
                print(f"stale: {p}")
                stale += 1
        else:
            p.write_text(text, encoding="utf-8")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
