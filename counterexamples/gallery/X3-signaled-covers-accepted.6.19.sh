#!/bin/bash
# pmcheck 0.1.0 counterexample: X3-signaled-covers-accepted VIOLATED on Linux 6.19 (model)
# once settled, a host's add_addr_accepted is at most the other host's
#     add_addr_signaled on that connection
# Runs the trace's commands in a fresh network namespace of its own
#     (deleted on exit) and prints what the kernel answers next to what
#     the model predicts for Linux 6.19. Needs root, MPTCP, and an
#     iproute2 that knows every flag used; python3 only for raw-netlink
#     steps.
# 3 step(s) are connection or peer events; they need pmcheck's
#     two-namespace testbed (`pmcheck kernel
#     X3-signaled-covers-accepted.6.19.scn`) and appear here as
#     comments.
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

step() { printf '\n%s\n  model:  %s\n  kernel: ' "$1" "$2"; }

step 'step 1: ip mptcp limits set subflows 1 add_addr_accepted 1' ok
ip -n "$NS" mptcp limits set subflows 1 add_addr_accepted 1 && echo ok
step 'step 2: connect 10.0.1.2 10.0.1.1' ok
echo 'not run: needs the testbed'  # connect 10.0.1.2 10.0.1.1
# step 3: peer's application accept()s the connection
# step 4: host gets peer's first packet: fully established
step 'step 5: peer ip mptcp endpoint add 10.0.2.1 signal' ok
echo 'not run: needs the testbed'  # peer ip mptcp endpoint add 10.0.2.1 signal
# step 6: peer's ADD_ADDR (announcement 0) reaches host
# step 7: host's PM worker runs
# step 8: host's MP_JOIN (subflow 1) is answered by peer
# step 9: host's echo of peer's ADD_ADDR (announcement 0) arrives
step 'step 10: peer ip mptcp endpoint delete id 1' ok
echo 'not run: needs the testbed'  # peer ip mptcp endpoint delete id 1
# step 11: host gets the FIN/RST of its subflow 1
# step 12: host's PM worker runs
# step 13: peer's RM_ADDR reaches host
# step 14: host's PM worker runs

echo
echo "after the last step, the model predicts for Linux 6.19:"
echo '  endpoint dump: 10.0.2.2 id 1 implicit'
echo '  limits: add_addr_accepted 1 subflows 1'
echo '  conn1 MPTCP_INFO: subflows 0 add_addr_signal 0 add_addr_accepted 1 local_addr_used 0; subflows: 10.0.1.2#0>10.0.1.1#0 mpc'
echo "and this kernel ($(uname -r)) shows:"
ip -n "$NS" mptcp endpoint show
ip -n "$NS" mptcp limits show
