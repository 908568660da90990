#!/bin/bash
# pmcheck 0.1.0 counterexample: M4-add-addr-accepted-limit VIOLATED on Linux 6.19 (model)
# add_addr_accepted <= the add_addr_accepted limit
# Runs the trace's commands in a fresh network namespace of its own
#     (deleted on exit) and prints what the kernel answers next to what
#     the model predicts for Linux 6.19. Needs root, MPTCP, and an
#     iproute2 that knows every flag used; python3 only for raw-netlink
#     steps.
# 2 step(s) are connection or peer events; they need pmcheck's
#     two-namespace testbed (`pmcheck kernel
#     M4-add-addr-accepted-limit.6.19.scn`) and appear here as comments.
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

step 'step 1: ip mptcp endpoint add 10.0.2.2 laminar' 'ok, id 1'
ip -n "$NS" mptcp endpoint add 10.0.2.2 laminar && echo ok
step 'step 2: connect 10.0.1.2 10.0.1.1 peer-deny-join-id0' ok
echo 'not run: needs the testbed'  # connect 10.0.1.2 10.0.1.1 peer-deny-join-id0
step 'step 3: peer announce 10.0.2.1 id 1' ok
echo 'not run: needs the testbed'  # peer announce 10.0.2.1 id 1
# step 4: environment: worker conn 1

echo
echo "after the last step, the model predicts for Linux 6.19:"
echo '  endpoint dump: 10.0.2.2 id 1 laminar'
echo '  limits: add_addr_accepted 0 subflows 2'
echo '  conn1 MPTCP_INFO: subflows 1 add_addr_signal 0 add_addr_accepted 1 local_addr_used 0; subflows: 10.0.1.2#0>10.0.1.1#0 mpc'
echo "and this kernel ($(uname -r)) shows:"
ip -n "$NS" mptcp endpoint show
ip -n "$NS" mptcp limits show
