#!/bin/bash
# pmcheck 0.1.0 counterexample: W1-no-warn VIOLATED on Linux 6.18-stable (model)
# no kernel WARN_ON_ONCE fires (counter underflow in
#     __mark_subflow_endp_available, duplicate announce entry)
# Runs the trace's commands in a fresh network namespace of its own
#     (deleted on exit) and prints what the kernel answers next to what
#     the model predicts for Linux 6.18-stable. Needs root, MPTCP, and
#     an iproute2 that knows every flag used; python3 only for
#     raw-netlink steps.
# 2 step(s) are connection or peer events; they need pmcheck's
#     two-namespace testbed (`pmcheck kernel
#     W1-no-warn.6.18-stable.scn`) and appear here as comments.
set -u
if [ "$(id -u)" != 0 ]; then echo "run as root" >&2; exit 1; fi
NS="pmck-cx-$$-$(date +%s)"
cleanup() { ip netns delete "$NS" 2>/dev/null; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up
# Local addresses, so endpoints with a port can bind their listener.
ip -n "$NS" link add pmck0 type dummy 2>/dev/null ||
	ip -n "$NS" link add pmck0 type ifb || exit 1
ip -n "$NS" link set pmck0 up
ip -n "$NS" addr add 10.0.2.2/32 dev pmck0

step() { printf '\n%s\n  model:  %s\n  kernel: ' "$1" "$2"; }

step 'step 1: connect 10.0.1.2 10.0.1.1 peer-deny-join-id0' ok
echo 'not run: needs the testbed'  # connect 10.0.1.2 10.0.1.1 peer-deny-join-id0
step 'step 2: ip mptcp endpoint add 10.0.2.2 subflow fullmesh' 'ok, id 1'
ip -n "$NS" mptcp endpoint add 10.0.2.2 subflow fullmesh && echo ok
step 'step 3: peer announce dead:beef:2::1 id 3' ok
echo 'not run: needs the testbed'  # peer announce dead:beef:2::1 id 3
# step 4: environment: worker conn 1
step 'step 5: ip mptcp endpoint change id 1 nobackup nofullmesh' ok
ip -n "$NS" mptcp endpoint change id 1 nobackup nofullmesh && echo ok

echo
echo "after the last step, the model predicts for Linux 6.18-stable:"
echo '  endpoint dump: 10.0.2.2 id 1 subflow'
echo '  limits: add_addr_accepted 0 subflows 2'
echo '  conn1 MPTCP_INFO: subflows 0 add_addr_signal 0 add_addr_accepted 0 local_addr_used 0; subflows: 10.0.1.2#0>10.0.1.1#0 mpc'
echo "and this kernel ($(uname -r)) shows:"
ip -n "$NS" mptcp endpoint show
ip -n "$NS" mptcp limits show
