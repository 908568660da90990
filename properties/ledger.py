"""The defect ledger: every kernel defect the model reproduces, once.

Each entry names the kernel function(s) it lives in (their lines come from
the pinned v6.18.10 source, model/kernel_functions.json), the model versions
that have it, the properties that it alone makes VIOLATED, the upstream fix
if there is one, and a candidate fix: a model patch (properties/fixes/,
`--kernel VERSION+fix-...`) under which those properties hold and every
other verdict stays. tests/test_ledger.py holds the ledger to the baselines:
every VIOLATED baseline is explained by exactly one entry.

Behaviour the kernel documents as intended is listed in INTENDED and is
kept out of the properties' statements, so it is never reported.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

from pmcheck.model.versions import KernelVersion

V = KernelVersion
EVERY = frozenset(KernelVersion)


@dataclass(frozen=True)
class Defect:
    key: str  # the reference notes' label where there is one (F1..F11)
    title: str
    functions: tuple[str, ...]  # kernel functions, as in the pinned source
    versions: frozenset[KernelVersion]  # the model versions that have it
    properties: tuple[str, ...]  # the properties it alone violates there
    fix: str  # registered candidate fix (properties/fixes/), "" = none yet
    upstream: str  # the upstream fix, or what is known of one
    why: str  # what goes wrong, one or two sentences
    # Properties the defect violates only beyond the default BMC depth (their
    # baseline there is HOLDS-TO-DEPTH), and the scenario that shows it.
    deeper: tuple[str, ...] = ()
    scenario: str = ""
    # False: the property is VIOLATED here, but whether by this one cause
    # alone is not established (no candidate fix flips it yet); the entry
    # says what the shortest traces show.
    isolated: bool = True


DEFECTS: tuple[Defect, ...] = (
    Defect(
        "ID0",
        "an explicit `id 0` creates an endpoint with id 0",
        ("mptcp_pm_nl_append_new_local_addr", "mptcp_pm_nl_add_addr_doit"),
        frozenset({V.V6_18, V.V6_19}),
        ("P2-id-bitmap",),
        "fix-P2",
        "8e2760eaab77 (revert of needs_id; v7.0, 6.18.y)",
        "needs_id skips allocation when an ID attribute is present, so id 0 "
        "becomes an endpoint's id and the bitmap no longer matches the list.",
    ),
    Defect(
        "FMFLUSH",
        "a flush leaves endp_fullmesh_max as it was",
        ("__reset_counters",),
        frozenset({V.V6_19, V.V7_0}),
        ("P4F-fullmesh-counter",),
        "fix-P4F",
        "1774d3cf3cf1 (7.1-rc2, 7.0.7)",
        "f88191c7f361 added the counter but not its reset, so after a flush "
        "non-fullmesh endpoints are ignored for ADD_ADDR subflows.",
    ),
    Defect(
        "F3",
        "a flush keeps each connection's mpc_endpoint_id",
        ("mptcp_pm_nl_flush_addrs_doit", "mptcp_pm_flush_addrs_and_subflows"),
        EVERY,
        ("M6-mpc-endpoint-exists", "M7-local-id-zero"),
        "fix-F3",
        "none known",
        "next_id restarts at 1 while mpc_endpoint_id still names the flushed "
        "MPC endpoint; the next endpoint with that id is taken for it and its "
        "subflows leave with local id 0.",
    ),
    Defect(
        "F2",
        "the laminar filler gives the MPC endpoint's raw id to its subflow",
        ("fill_local_laminar_endp",),
        EVERY,
        ("M7b-initial-address-id-zero",),
        "fix-F2",
        "none known",
        "the id-available test maps the MPC endpoint to id 0, the subflow gets "
        "the raw id: the initial address then serves a second ADD_ADDR.",
        deeper=("M8-laminar-used-once",),
        scenario="examples/known/F2-laminar-raw-mpc-id.scn",
    ),
    Defect(
        "CFLAG",
        "with the peer's C flag and default limits, every ADD_ADDR is accepted",
        ("mptcp_pm_add_addr_c_flag_case", "mptcp_pm_nl_add_addr_received"),
        EVERY,
        (),
        "fix-CFLAG",
        "none known",
        "the case reads local_addr_used, not add_addr_accepted; laminar-only "
        "endpoints never raise local_addr_used, so it holds for every "
        "ADD_ADDR up to the subflows limit, not the one its comment means.",
        deeper=("M4-add-addr-accepted-limit",),
        scenario="examples/laminar/c-flag-default-limits.scn",
    ),
    Defect(
        "ACCEPT",
        "accept_addr stays on when extra_subflows reaches the limit elsewhere",
        (
            "mptcp_pm_allow_new_subflow",
            "mptcp_pm_create_subflow_or_signal_addr",
            "mptcp_pm_nl_add_addr_received",
        ),
        EVERY,
        ("M5-accept-addr-gate", "M3-extra-subflows-limit"),
        "fix-ACCEPT",
        "none known",
        "only the ADD_ADDR worker turns accept_addr off at the subflows "
        "limit; after a passive join or a SUBFLOW endpoint fills it, the "
        "next ADD_ADDR still reaches the worker, whose filler counts one "
        "more subflow without checking (F4: a check there would flip M3 "
        "alone, since no other path gets past a correct gate).",
    ),
    Defect(
        "CSKIP",
        "with the peer's C flag, a signal+subflow endpoint is marked used but not counted",
        ("mptcp_pm_create_subflow_or_signal_addr",),
        frozenset({V.V6_18, V.V6_19}),
        ("M1-local-addr-used",),
        "fix-CSKIP",
        "579a752464a6 (7.0-rc2, 6.18.y; mptcp_net-next#613)",
        "the signal part clears the endpoint's id bit, then the C-flag case "
        "skips the subflow loop that would have counted it in local_addr_used.",
    ),
    Defect(
        "SIGID0",
        "a signal+subflow endpoint on the initial address is counted in local_addr_used",
        ("mptcp_pm_create_subflow_or_signal_addr",),
        EVERY,
        ("M1b-local-addr-used-at-most",),
        "fix-SIGID0",
        "none known",
        "the signal part rewrites the MPC endpoint's id to 0 for the ADD_ADDR, "
        "and the subflow loop reuses that entry: its id no longer equals "
        "mpc_endpoint_id, so the MPC endpoint is counted.",
    ),
    Defect(
        "LAMDOUBLE",
        "the laminar filler counts an endpoint whose id is already marked used",
        ("fill_local_laminar_endp",),
        EVERY,
        ("M2-used-within-endpoints",),
        "fix-LAMDOUBLE",
        "none known",
        "it skips endpoints that a live subflow uses, not those whose id is "
        "marked: a subflow+laminar endpoint whose connect-time subflow has "
        "closed is counted a second time, past endp_subflow_max.",
    ),
    Defect(
        "DELAVAIL",
        "deleting an endpoint with no subflow leaves its id marked and counted",
        ("mptcp_nl_remove_subflow_and_signal_addr", "mptcp_pm_nl_del_addr_doit"),
        frozenset({V.V6_18, V.V6_19}),
        ("M2b-delete-gives-back",),
        "fix-DELAVAIL",
        "d191101dee25 (6.19-rc8, 6.18.y; mptcp_net-next#606)",
        "the id was given back only when a subflow was removed, so a "
        "signal+subflow endpoint of the other family keeps local_addr_used "
        "above endp_subflow_max once deleted.",
    ),
    Defect(
        "F1",
        "the C-flag filler marks an endpoint used without counting it",
        ("fill_local_addresses_vec_c_flag", "__mark_subflow_endp_available"),
        EVERY,
        ("W1-no-warn",),
        "fix-F1",
        "an underflow WARN is still open upstream (mptcp_net-next#629)",
        "the id bit is cleared before the family and MPC checks; a skipped "
        "endpoint stays marked but uncounted, and giving it back (delete, "
        "fullmesh change) underflows local_addr_used: WARN_ON_ONCE.",
    ),
    Defect(
        "F5",
        "a BACKUP change reaches only the first subflow from the endpoint's address",
        ("mptcp_pm_nl_set_flags", "mptcp_pm_mp_prio_send_ack"),
        EVERY,
        ("X1-backup-reflected",),
        "fix-F5",
        "166b78344031 (7.1-rc3) only skips inactive subflows; it still stops at the first",
        "mptcp_pm_mp_prio_send_ack returns after the first matching subflow, "
        "so other subflows from the endpoint keep the old B bit.",
    ),
    Defect(
        "IMPLBKUP",
        "a BACKUP endpoint that replaces an IMPLICIT entry leaves its subflows' B bit clear",
        ("mptcp_pm_nl_add_addr_doit", "mptcp_pm_nl_append_new_local_addr"),
        EVERY,
        ("X1b-backup-on-replace",),
        "fix-IMPLBKUP",
        "none known; whether add should send MP_PRIO is a design question",
        "the endpoint replaces the IMPLICIT entry made for a passive join or a "
        "routed subflow, but only `endpoint change` sends MP_PRIO: the subflow "
        "already using the address stays non-backup while its endpoint says "
        "backup.",
    ),
)

# Violations whose single root cause is not isolated yet: each shortest
# trace is described, and no fix is claimed. Empty since every counter
# property assumes the other counter defects fixed (Property.assumes).
OPEN: tuple[Defect, ...] = ()

# What the kernel comments as intended: not a defect, kept out of the
# properties (their statements say how).
INTENDED: tuple[tuple[str, str, str], ...] = (
    (
        "C-flag default limits",
        "mptcp_pm_add_addr_c_flag_case",
        '"accept one ADD_ADDR if default limits are used": with the peer\'s '
        "C flag and add_addr_accepted limit 0, one ADD_ADDR is accepted "
        "(M4 allows exactly that one).",
    ),
    (
        "subflow flag's own subflow",
        "mptcp_pm_create_subflow_or_signal_addr",
        "a subflow+laminar endpoint opens its connect-time subflow to the "
        "initial remote address next to what laminar does for ADD_ADDR "
        "(M8 counts only subflows to announced addresses).",
    ),
    (
        "RM_ADDR after the subflow closed",
        "mptcp_pm_nl_rm_addr",
        '"if the subflow has been closed before, this add_addr_accepted '
        "counter will not be decremented\": so a host's add_addr_accepted may "
        "exceed the other host's add_addr_signaled for good (the former X3; "
        "examples/two-pm/rm-addr-vs-fin.scn, tests/test_two_pm.py).",
    ),
)


def by_property() -> dict[str, list[Defect]]:
    out: dict[str, list[Defect]] = {}
    for d in (*DEFECTS, *OPEN):
        for p in d.properties:
            out.setdefault(p, []).append(d)
    return out


def deeper_causes(prop: str, version: KernelVersion) -> list[Defect]:
    """The entries that violate `prop` on `version` beyond the default depth."""
    return [d for d in (*DEFECTS, *OPEN) if prop in d.deeper and version in d.versions]


def causes(prop: str, version: KernelVersion) -> list[Defect]:
    """The ledger entries that make `prop` VIOLATED on `version`."""
    return [d for d in by_property().get(prop, []) if version in d.versions]


@functools.cache
def _pinned() -> dict[str, dict[str, object]]:
    text = resources.files("pmcheck.model").joinpath("kernel_functions.json").read_text()
    functions: dict[str, dict[str, object]] = json.loads(text)["functions"]
    return functions


def where(function: str) -> str:
    """`file:line` of a kernel function in the pinned v6.18.10 source."""
    f = _pinned().get(function)
    return f"{f['file']}:{f['line']}" if f else NOT_PINNED


NOT_PINNED = "(not in the pinned source)"
