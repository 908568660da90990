"""`pmcheck selftest TRACE.json|FILE.scn`: the steps as a test function of
tools/testing/selftests/net/mptcp/mptcp_join.sh, with the counts the model
predicts, so a fix can ship with its test.

mptcp_join.sh's topology is the testbed's: ns1 is the server (10.0.N.1,
our peer), ns2 the client (10.0.N.2, our host). Its helpers (signatures as
in the 6.18 tree) and what each is fed from the model:

- `pm_nl_set_limits NS ADDRS SUBFLOWS`: `ip mptcp limits set` (both
  values as they are after the step);
- `pm_nl_add_endpoint NS ADDR flags F,G [id N] [port P] [dev IF]`,
  `pm_nl_del_endpoint NS ID [ADDR]`, `pm_nl_flush_endpoint NS`,
  `pm_nl_change_endpoint NS ID FLAGS`: the endpoint commands (change by id);
- `set_userspace_pm $ns1`, `userspace_pm_add_addr $ns1 ADDR ID`,
  `userspace_pm_rm_addr $ns1 ID`: the scripted peer, `peer announce`,
  `peer remove`;
- `run_tests $ns1 $ns2 10.0.1.1`, in the background and slow: `connect`;
- `chk_join_nr SYN SYNACK ACK`: the joins the host opened (MP_JOIN SYNs the
  server receives) and those established;
- `chk_add_nr ADD ECHO`: the scripted peer's ADD_ADDRs that reached the
  host, and their echoes;
- `chk_mptcp_info subflows X subflows Y`: the peer's and the host's
  `extra_subflows` (MPTCP_INFO `subflows`);
- `chk_mptcp_info add_addr_signal X add_addr_accepted Y`: the peer's
  `add_addr_signaled`, the host's `add_addr_accepted`;
- `pm_nl_check_endpoint MSG $ns2 ADDR id N flags F`: each endpoint of the
  host's dump at the end.

Every expectation is what the model predicts for the trace's kernel, the
current behaviour; the ones whose value the violated condition reads are
marked `current (buggy)`, with the intended condition next to them. Steps
mptcp_join.sh has no helper for (a join from the server, `peer connect`,
`subflow close`) are emitted as comments, and the function says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pmcheck.model.inputs import Outcome
from pmcheck.model.state import SUBFLOW_KIND_ACTIVE, State
from pmcheck.results import StepOutcome
from pmcheck.scenario.ast import (
    Connect,
    EndpointAdd,
    EndpointChange,
    EndpointDelete,
    EndpointFlush,
    EndpointShow,
    LimitsSet,
    LimitsShow,
    OnPeer,
    PeerAnnounce,
    PeerRemove,
    Scenario,
    flag_names,
)

NS_HOST, NS_PEER = "$ns2", "$ns1"
# Every mptcp_join.sh function this module emits (checked against the
# v6.18 file: tools/testing/selftests/net/mptcp/mptcp_join.sh, mptcp_lib.sh).
HELPERS = frozenset(
    {
        "reset", "reset_with_events", "set_userspace_pm", "pm_nl_set_limits",
        "pm_nl_add_endpoint", "pm_nl_del_endpoint", "pm_nl_flush_endpoint",
        "pm_nl_change_endpoint", "pm_nl_check_endpoint", "userspace_pm_add_addr",
        "userspace_pm_rm_addr", "run_tests", "wait_mpj", "chk_join_nr", "chk_add_nr",
        "chk_mptcp_info", "kill_events_pids", "mptcp_lib_kill_group_wait",
    }
)  # fmt: skip


@dataclass
class Counts:
    """Counters the kernel's MIB keeps and the model's run implies."""

    join_syn: int = 0  # MP_JOIN SYNs the host sent (ns1 MPJoinSynRx)
    join_ack: int = 0  # of those, established (SynAckRx on ns2, AckRx on ns1)
    add_rx: int = 0  # ADD_ADDRs that reached the host (ns2 AddAddr)

    def observe(self, rule: str, before: State, after: State, out: Outcome) -> None:
        for c0, c1 in zip(before.conns, after.conns, strict=True):
            for s0, s1 in zip(c0.sf, c1.sf, strict=True):
                if s1.used and s1.kind == SUBFLOW_KIND_ACTIVE:
                    if not s0.used or s0.kind != SUBFLOW_KIND_ACTIVE:
                        self.join_syn += 1
                    if s1.established and not (s0.used and s0.established):
                        self.join_ack += 1
        if rule == "peer announce" and out.value:
            self.add_rx += 1


def _flags(flags: int) -> str:
    return ",".join(flag_names(flags))


def _endpoint_line(ns: str, cmd: EndpointAdd) -> str:
    words = [f"pm_nl_add_endpoint {ns} {cmd.addr}"]
    if cmd.flags:
        words.append(f"flags {_flags(cmd.flags)}")
    if cmd.id is not None:
        words.append(f"id {cmd.id}")
    if cmd.port:
        words.append(f"port {cmd.port}")
    if cmd.dev:
        words.append(f"dev {cmd.dev}")
    return " ".join(words)


def _command(cmd: object, ns: str, out: StepOutcome) -> str | None:
    """The helper call for one endpoint/limits command, or None."""
    if isinstance(cmd, LimitsSet):
        lim = out.limits if ns == NS_HOST else (out.peer.limits if out.peer else out.limits)
        return f"pm_nl_set_limits {ns} {lim.add_addr_accepted} {lim.subflows}"
    if isinstance(cmd, EndpointAdd):
        return _endpoint_line(ns, cmd)
    if isinstance(cmd, EndpointDelete):
        return f"pm_nl_del_endpoint {ns} {cmd.id}" + (f" {cmd.addr}" if cmd.addr else "")
    if isinstance(cmd, EndpointFlush):
        return f"pm_nl_flush_endpoint {ns}"
    if isinstance(cmd, EndpointChange) and cmd.id is not None and cmd.addr is None:
        names = [n for n in flag_names(cmd.flags) if n in ("backup", "fullmesh")]
        return f"pm_nl_change_endpoint {ns} {cmd.id} {','.join(names) or 'nobackup'}"
    if isinstance(cmd, (EndpointShow, LimitsShow)):
        return ""
    return None


def _func_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") + "_tests"


def selftest_text(
    scn: Scenario,
    version: str,
    name: str,
    *,
    statement: str = "",
    read: tuple[str, ...] = (),
) -> str:
    """The mptcp_join.sh function for `scn` on the model of `version`;
    `read` names the counters the violated condition reads (marked buggy)."""
    from pmcheck.interp import run_model
    from pmcheck.patches import resolve

    counts = Counts()
    run = run_model(scn, resolve(version, files=False), observer=counts.observe)
    scripted = not scn.peer_kernel
    body: list[str] = []
    missing: list[str] = []
    started = False
    for step, out in zip(scn.steps, run.outcomes, strict=True):
        cmd = step.command
        on_peer = isinstance(cmd, OnPeer)
        inner = cmd.command if isinstance(cmd, OnPeer) else cmd
        line = _command(inner, NS_PEER if on_peer else NS_HOST, out)
        if line == "":
            continue
        if line is not None:
            body.append(line)
            if started:
                body.append(f"wait_mpj {NS_HOST}")
            continue
        if isinstance(cmd, Connect) and not cmd.server and not started:
            if cmd.deny_join_id0:
                body.append(
                    f"ip netns exec {NS_PEER} sysctl -q net.mptcp.allow_join_initial_addr_port=0"
                )
            if cmd.local != "10.0.1.2" or cmd.remote != "10.0.1.1":
                missing.append(step.text)
            body += [
                "{ timeout_test=120 test_linkfail=128 speed=5 \\",
                f"\trun_tests {NS_PEER} {NS_HOST} {cmd.remote} & }} 2>/dev/null",
                "local tests_pid=$!",
                f"wait_mpj {NS_PEER}",
            ]
            started = True
            continue
        if isinstance(cmd, PeerAnnounce) and scripted and cmd.conn in (None, 1):
            body.append(f"userspace_pm_add_addr {NS_PEER} {cmd.addr} {cmd.id}")
            continue
        if isinstance(cmd, PeerRemove) and scripted and cmd.conn in (None, 1):
            body.append(f"userspace_pm_rm_addr {NS_PEER} {cmd.id}")
            continue
        body.append(f"# not expressible with mptcp_join.sh's helpers: {step.text}")
        missing.append(step.text)
    last = run.outcomes[-1] if run.outcomes else None
    checks = _checks(last, counts, scripted, statement, read) if last else []
    head = [
        f"# pmcheck: {name}, the model of Linux {version} (generated by `pmcheck selftest`).",
        "# Paste into tools/testing/selftests/net/mptcp/mptcp_join.sh and list",
        f"# {_func_name(name)} in all_tests. The counts are the model's prediction",
        "# for that kernel: the current behaviour.",
    ]
    if statement:
        head.append(f"# The model says this violates: {statement}")
        head.append("# Checks on a value that condition reads are marked 'current (buggy)'.")
    if missing:
        head.append(f"# INCOMPLETE: {len(missing)} step(s) have no helper; see the comments.")
    reset = "reset_with_events" if scripted else "reset"
    inner_lines = (["set_userspace_pm $ns1"] if scripted else []) + body + checks
    if started:
        inner_lines += (["kill_events_pids"] if scripted else []) + [
            "mptcp_lib_kill_group_wait $tests_pid"
        ]
    out = [*head, f"{_func_name(name)}()", "{", f'\tif {reset} "{name}"; then']
    out += [f"\t\t{x}" for line in inner_lines for x in line.split("\n")]
    out += ["\tfi", "}"]
    return "\n".join(out) + "\n"


def _checks(
    out: StepOutcome, counts: Counts, scripted: bool, statement: str, read: tuple[str, ...]
) -> list[str]:
    """The chk_* lines after the last step."""
    conn = out.conns[0] if out.conns else None
    checks = []

    def mark(line: str, *fields: str) -> str:
        """A check on a value the violated condition reads: say so."""
        if any(f in read for f in fields):
            return f"{line}  # current (buggy); intended: {statement}"
        return line

    if conn is not None:
        checks.append(f"chk_join_nr {counts.join_syn} {counts.join_ack} {counts.join_ack}")
        if scripted:
            checks.append(f"chk_add_nr {counts.add_rx} {counts.add_rx}")
            peer_sub = sum(1 for r in conn.table if r.local_id or r.remote_id)
            peer_sig = counts.add_rx
        else:
            pc = out.peer.conns[0] if out.peer and out.peer.conns else None
            peer_sub = pc.subflows if pc else 0
            peer_sig = pc.add_addr_signal if pc else 0
        checks.append(
            mark(f"chk_mptcp_info subflows {peer_sub} subflows {conn.subflows}", "extra_subflows")
        )
        checks.append(
            mark(
                f"chk_mptcp_info add_addr_signal {peer_sig} add_addr_accepted "
                f"{conn.add_addr_accepted}",
                "add_addr_accepted",
                "add_addr_signaled",
            )
        )
    for e in out.endpoints:
        flags = ",".join(flag_names(e.flags))
        where = f"{e.addr} id {e.id}" + (f" flags {flags}" if flags else "")
        where += f" dev {e.dev}" if e.dev else ""
        where += f" port {e.port}" if e.port else ""
        checks.append(f'pm_nl_check_endpoint "endpoint id {e.id}" {NS_HOST} {where}')
    return checks


def selftest_for_file(path: str, kernel: str | None = None) -> str:
    """TRACE.json (a counterexample: its steps, kernel and property) or a
    scenario file (.scn, or a scenario's JSON form)."""
    import json
    from pathlib import Path

    from pmcheck.counterexamples.trace import load
    from pmcheck.scenario.files import parse_file

    text = Path(path).read_text(encoding="utf-8") if path.endswith(".json") else ""
    is_trace = False
    if text:
        try:
            is_trace = "#meta" in json.loads(text)
        except ValueError:
            is_trace = False
    if is_trace:
        from pmcheck.counterexamples.confirm import scenario_of, visible_conjunct_fields

        trace = load(path)
        read = tuple(f.rsplit(".", 1)[-1] for f in visible_conjunct_fields(trace))
        return selftest_text(
            scenario_of(trace),
            kernel or trace.kernel,
            trace.name,
            statement=trace.property.statement,
            read=read,
        )
    scn = parse_file(path)
    from pmcheck.model.versions import DEFAULT_VERSION

    version = kernel or scn.kernel or DEFAULT_VERSION.value
    return selftest_text(scn, version, Path(path).stem)
