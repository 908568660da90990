"""The standalone reproducer of a trace (`--trace-format sh`): one bash
file that needs root, iproute2 and python3 (standard library), and no
pmcheck.

The bash part builds the testbed the way mptcp_join.sh does (two
namespaces, veth links 10.0.N.2 <-> 10.0.N.1, N = 1..4); the python part
is `repro_runtime.py` verbatim, fed a PLAN: each step as the command the
scenario interpreters run, and what the model predicts after it (the
model's run of the trace's scenario, the same run `pmcheck diff` compares
with the kernel). The script exits 1 when the kernel does all of it (the
violation reproduces), 0 when it does not, 2 on a setup failure.

Unlike the other renderings this one runs the model: the predictions
after every step are not fields of the Trace.
"""

from __future__ import annotations

import dataclasses
import pprint
import shlex
from importlib import resources
from typing import Any

from pmcheck.counterexamples.confirm import (
    scenario_of,
    violates_in_default_order,
    visible_conjunct_fields,
)
from pmcheck.counterexamples.names import field_groups
from pmcheck.counterexamples.trace import Trace
from pmcheck.results import ConnView, StepOutcome, errno_text
from pmcheck.scenario.ast import TESTBED_LINKS, OnPeer, Scenario, plain_address

NS_PREFIX = "pmck-repro"


def runtime_text() -> str:
    return resources.files("pmcheck.counterexamples").joinpath("repro_runtime.py").read_text()


def _conn_text(c: ConnView) -> str:
    # The standalone runtime reads subflows from PM events, which do not
    # carry both B bits: it compares the ids only.
    rows = " ".join(r.ids_text() for r in c.table) or "-"
    return (
        f"subflows {c.subflows} signal {c.add_addr_signal} accepted {c.add_addr_accepted} "
        f"used {c.local_addr_used} | {rows}"
    )


def prediction(out: StepOutcome) -> dict[str, Any]:
    """What the model says userspace sees after a step, keyed and spelled
    as repro_runtime.Testbed.observe reads it from the kernel."""
    pred: dict[str, Any] = {"result": errno_text(out.errno)}
    if out.new_id is not None:
        pred["new_id"] = out.new_id
    pred["endpoints"] = "; ".join(r.describe() for r in out.endpoints) or "(none)"
    pred["limits"] = (
        f"add_addr_accepted {out.limits.add_addr_accepted} subflows {out.limits.subflows}"
    )
    for c in out.conns:
        pred[f"conn {c.conn}"] = _conn_text(c)
    if out.peer is not None:
        pred["peer endpoints"] = "; ".join(r.describe() for r in out.peer.endpoints) or "(none)"
        lim = out.peer.limits
        pred["peer limits"] = f"add_addr_accepted {lim.add_addr_accepted} subflows {lim.subflows}"
        for c in out.peer.conns:
            pred[f"peer conn {c.conn}"] = _conn_text(c)
    return pred


def _local_addrs(scn: Scenario, peer: bool) -> list[str]:
    """Addresses each side needs beside its link addresses: the scenario's
    `host addr`/`peer addr`, and, without connections (one namespace, as
    `pmcheck kernel` runs it), every endpoint address, so port endpoints
    can bind their listener."""
    found = list(scn.peer_addrs if peer else scn.host_addrs)
    if not scn.has_connections and not peer:
        found += scn.addresses()
    return list(dict.fromkeys(plain_address(a) for a in found))


def plan_of(trace: Trace) -> tuple[Scenario, dict[str, Any]]:
    from pmcheck.interp import run_model
    from pmcheck.patches import resolve

    scn = scenario_of(trace)
    run = run_model(scn, resolve(trace.kernel, files=False))  # type: ignore[arg-type]
    steps = []
    for step, out in zip(scn.steps, run.outcomes, strict=True):
        cmd = step.command
        side = "peer" if isinstance(cmd, OnPeer) else "host"
        inner = cmd.command if isinstance(cmd, OnPeer) else cmd
        args = dataclasses.asdict(inner)
        steps.append((step.text, type(inner).__name__, side, args, prediction(out)))
    violates = violates_in_default_order(trace)
    hidden = ", ".join(field_groups(trace.violation.hidden))
    plan = {
        "title": f"{trace.property.name}: VIOLATED on the model of Linux {trace.kernel}",
        "kernel": trace.kernel,
        "peer_kernel": scn.peer_kernel,
        "violates": violates,
        "observable": bool(visible_conjunct_fields(trace)),
        "violated": f"so this kernel violates: {trace.property.statement}"
        + (f" (shown by the model only: {hidden})" if hidden else ""),
        "why_not": "the model's trace needs a delivery order this testbed does not "
        "produce (the PM's default order does not violate)",
        "steps": steps,
    }
    return scn, plan


def _comment(text: str) -> list[str]:
    import textwrap

    return textwrap.wrap(text, 70, initial_indent="# ", subsequent_indent="#   ") or ["#"]


def _dummy(ns: str, dev: str) -> str:
    """A stand-alone interface for local addresses (ifb where the kernel
    has no dummy driver)."""
    return (
        f'{{ ip -n "{ns}" link add {dev} type dummy 2>/dev/null || '
        f'ip -n "{ns}" link add {dev} type ifb; }} && ip -n "{ns}" link set {dev} up'
    )


def _setup(scn: Scenario) -> list[str]:
    """The testbed, as mptcp_join.sh builds it: veth link N carries
    10.0.N.2 / dead:beef:N::2 (host) and 10.0.N.1 / dead:beef:N::1 (peer),
    a default route per link, rp_filter off, no DAD."""
    peer_pm = 0 if scn.peer_kernel else 1
    out = [
        'for ns in "$H" "$P"; do',
        '\tip netns add "$ns" || exit 2',
        '\tip -n "$ns" link set lo up',
        '\tip netns exec "$ns" sysctl -q -w net.mptcp.enabled=1 2>/dev/null ||',
        '\t\t{ echo "no MPTCP in this kernel" >&2; exit 2; }',
        "\tfor k in net.ipv4.conf.all.rp_filter net.ipv4.conf.default.rp_filter \\",
        "\t\tnet.ipv6.conf.all.accept_dad net.ipv6.conf.default.accept_dad; do",
        '\t\tip netns exec "$ns" sysctl -q -w "$k=0"',
        "\tdone",
        "done",
        f'ip netns exec "$P" sysctl -q -w net.mptcp.pm_type={peer_pm}'
        + ("  # the scripted peer: userspace PM" if peer_pm else "  # in-kernel PM"),
    ]
    if scn.has_connections:
        out += [
            f"for n in $(seq 1 {TESTBED_LINKS}); do",
            '\tip -n "$H" link add "hosteth$n" type veth peer name "peereth$n" netns "$P"',
            '\tfor side in "$H hosteth$n 2 1" "$P peereth$n 1 2"; do',
            "\t\tset -- $side",
            '\t\tip -n "$1" addr add "10.0.$n.$3/24" dev "$2"',
            '\t\tip -n "$1" addr add "dead:beef:$n::$3/64" dev "$2" nodad',
            '\t\tip -n "$1" link set "$2" up',
            '\t\tip -n "$1" route add default via "10.0.$n.$4" dev "$2" metric "$((100 + n))"',
            '\t\tip -n "$1" -6 route add default via "dead:beef:$n::$4" dev "$2" \\',
            '\t\t\tmetric "$((100 + n))"',
            "\tdone",
            "done",
        ]
    for ns, peer in (("$H", False), ("$P", True)):
        addrs = _local_addrs(scn, peer)
        if addrs:
            out.append(_dummy(ns, "pmck0"))
            for a in addrs:
                plen = "128 nodad" if ":" in a else "32"
                out.append(f'ip -n "{ns}" addr add {shlex.quote(a)}/{plen} dev pmck0')
        for dev in scn.devices(peer):
            out.append(_dummy(ns, shlex.quote(dev)))
    return out


def render_reproducer(trace: Trace) -> str:
    t = trace
    scn, plan = plan_of(t)
    last = plan["steps"][-1][4] if plan["steps"] else {}
    head = [
        "#!/bin/bash",
        *_comment(
            f"{t.property.name}: VIOLATED on Linux {t.kernel} (pmcheck {t.pmcheck_version} "
            f"model). {t.property.statement}"
        ),
        "#",
        *_comment(
            "Standalone: needs root, bash, iproute2 and python3 (standard "
            "library); not pmcheck. Builds two namespaces (host: in-kernel PM; "
            "peer: "
            + ("in-kernel PM" if scn.peer_kernel else "userspace PM, scripted")
            + "), runs the steps, waits for the PM events after each, and "
            "compares the endpoint dump, the limits, MPTCP_INFO and the "
            "established subflows with the model's prediction."
        ),
        "# Exit: 1 reproduced, 0 not reproduced (e.g. a fixed kernel), 2 setup failure.",
        "#",
        "# Steps:",
        *[f"#   {i:<2} {s[0]}" for i, s in enumerate(plan["steps"], start=1)],
        "# The model predicts after the last step:",
        *[line for k, v in last.items() for line in _comment(f"  {k}: {v}")],
    ]
    if not plan["violates"]:
        head += _comment(
            "Note: in the PM's default order these steps do not violate the "
            "property (the trace needs another delivery order), so this script "
            "exits 0 on a kernel that behaves as the model."
        )
    body = [
        "set -u",
        '[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }',
        'command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 2; }',
        f'H="{NS_PREFIX}-$$-h" P="{NS_PREFIX}-$$-p"',
        'cleanup() { ip netns del "$H" 2>/dev/null; ip netns del "$P" 2>/dev/null; }',
        "trap cleanup EXIT",
        "trap 'exit 2' INT TERM",
        *_setup(scn),
        "",
        "# The steps and the model's predictions; then how they are sent and read.",
        'python3 - "$H" "$P" <<\'PY\'',
        "PLAN = " + pprint.pformat(plan, width=96, sort_dicts=False),
        runtime_text().rstrip("\n"),
        "",
        "sys.exit(run(PLAN))",
        "PY",
    ]
    return "\n".join([*head, *body]) + "\n"


def predicted_exit(trace: Trace, release: str) -> int:
    """The exit code the model predicts for the reproducer on a kernel of
    this `uname -r`: 1 if that version's model does what the trace's
    version does at every step (on everything the script compares), the
    steps violate in the default order, and what fails is observable or
    the versions are the same; else 0."""
    from pmcheck.interp import run_model
    from pmcheck.model.versions import version_of_release

    scn, plan = plan_of(trace)
    live = version_of_release(release)
    run = run_model(scn, live)
    same = all(
        prediction(out) == step[4] for out, step in zip(run.outcomes, plan["steps"], strict=True)
    )
    if not (same and plan["violates"]):
        return 0
    return 1 if plan["observable"] or live.value == trace.kernel else 0
