"""Random scenario input, text and JSON, for the no-exit-4 property: every
input is either accepted (exit 0) or refused as input (exit 2), never an
internal error. Shared by tests/test_input_fuzz.py (hypothesis, bounded)
and benchmarks/bench_fuzz_inputs.py (many inputs, an exit-code histogram)."""

from __future__ import annotations

import json

from hypothesis import strategies as st

WORDS = [
    "ip", "mptcp", "endpoint", "add", "delete", "change", "show", "flush", "limits", "set",
    "subflows", "add_addr_accepted", "id", "port", "dev", "signal", "subflow", "backup",
    "fullmesh", "laminar", "implicit", "nobackup", "connect", "peer", "announce", "remove",
    "join", "to", "subflow", "close", "kernel", "6.18", "6.19", "6.18-stable", "pm", "host",
    "addr", "10.0.1.2", "10.0.1.1", "10.0.2.2", "10.0.2.1", "dead:beef:1::2", "::ffff:10.0.1.2",
    "0", "1", "255", "256", "65535", "99999999999", "-1", "#", "eth0", "..", "x" * 20,
    "\ufeff", "\x0c", "\x85", "\u2028", "\t", "\r", "é", "%", "{", "}",
]  # fmt: skip

text_scenarios = st.lists(
    st.lists(st.sampled_from(WORDS), min_size=0, max_size=8).map(" ".join),
    min_size=0,
    max_size=8,
).map("\n".join)

_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from(WORDS),
    st.text(max_size=6),
)
_step = st.dictionaries(
    st.sampled_from(
        ["op", "addr", "id", "port", "dev", "flags", "side", "subflows", "add_addr_accepted",
         "local", "remote", "to", "conn", "deny_join_id0", "server", "bogus"]
    ),
    st.one_of(_scalar, st.lists(st.sampled_from(WORDS), max_size=4)),
    max_size=6,
).map(
    lambda d: {**d, "op": d.get("op") if isinstance(d.get("op"), str) else "endpoint add"}
)  # fmt: skip
json_scenarios = st.fixed_dictionaries(
    {
        "format": st.just("pmcheck-scenario"),
        "version": st.just(1),
        "steps": st.lists(_step, max_size=5),
    },
    optional={"kernel": _scalar, "peer_pm": _scalar, "host_addrs": st.lists(_scalar, max_size=2)},
).map(json.dumps)
