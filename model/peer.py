"""The in-kernel peer's own netlink commands (`peer ip mptcp ...`): every
endpoint-table rule, run on the peer through `mirror`. No rule is written
twice: "peer endpoint add" is `mptcp_pm_nl_add_addr_doit` on the peer's
namespace, with the peer's connections as the ones it acts on."""

from __future__ import annotations

from pmcheck.model import endpoint_table
from pmcheck.model.constants import EOPNOTSUPP
from pmcheck.model.inputs import Outcome
from pmcheck.model.rules import RULES, Ctx, Inputs, Rule, RuleFn, rule
from pmcheck.model.state import State, mirror

PEER_PREFIX = "peer "


def on_peer(host_rule: Rule) -> RuleFn:
    def peer_rule(k: Ctx, st: State, inp: Inputs) -> tuple[State, Outcome]:
        if not st.peer:  # the scripted peer has no PM to configure: nothing happens
            zero = k.ops.const(0, 8)
            return st, Outcome(k.ops.const(EOPNOTSUPP, 8), zero, zero)
        after, out = host_rule(k.mirrored(), mirror(st), inp)
        return mirror(after), out

    peer_rule.__name__ = host_rule.fn.__name__
    peer_rule.__doc__ = f"`{host_rule.kernel_function}` on the in-kernel peer."
    return peer_rule


NETLINK_ON_PEER = tuple(
    r for r in list(RULES.values()) if r.fn.__module__ == endpoint_table.__name__
)
for _r in NETLINK_ON_PEER:
    rule(
        PEER_PREFIX + _r.name,
        writes=tuple(f"peer[*].{w}" for w in _r.writes),
        reads_inputs=_r.reads_inputs,
        kernel=_r.kernel_function,
    )(on_peer(_r))
