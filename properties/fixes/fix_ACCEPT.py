"""ACCEPT: accept_addr turns off whenever extra_subflows reaches the limit.

Candidate fix for mptcp_pm_allow_new_subflow (pm.c) and
mptcp_pm_nl_check_work_pending (pm_kernel.c): the two places besides the
ADD_ADDR worker where extra_subflows grows also clear accept_addr at the
subflows limit, as mptcp_pm_nl_add_addr_received already does. A passive
join or a SUBFLOW endpoint that fills the limit then makes the next
ADD_ADDR be echoed without a subflow, instead of reaching a filler that
counts one more subflow without checking.
"""

EXPECT = {
    "M5-accept-addr-gate": "HOLDS-TO-DEPTH",
    "M3-extra-subflows-limit": "HOLDS-TO-DEPTH",
}


def _gate(k, st, ci):
    ops = k.ops
    c, ns = st.conns[ci], st.netns
    full = ops.ule(ns.limit_extra_subflows, c.extra_subflows)
    c = c._replace(accept_addr=ops.and_(c.accept_addr, ops.not_(full)))
    return st._replace(conns=tuple(c if i == ci else x for i, x in enumerate(st.conns)))


def subflow_check_req(orig, k, st, ci, *args):
    st, allowed, local_id, placed = orig(k, st, ci, *args)
    return _gate(k, st, ci), allowed, local_id, placed


def mptcp_pm_create_subflow_or_signal_addr(orig, k, st, ci):
    return _gate(k, orig(k, st, ci), ci)
