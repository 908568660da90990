#!/bin/bash
# pmcheck 0.1.0 counterexample: P4F-fullmesh-counter VIOLATED on Linux 6.19 (model)
# endp_fullmesh_max counts the FULLMESH endpoints (the counter 6.19
#     added; not checked where it does not exist)
# Runs the trace's commands in a fresh network namespace of its own
#     (deleted on exit) and prints what the kernel answers next to what
#     the model predicts for Linux 6.19. Needs root, MPTCP, and an
#     iproute2 that knows every flag used; python3 only for raw-netlink
#     steps.
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
ip -n "$NS" addr add 10.0.1.2/32 dev pmck0

step() { printf '\n%s\n  model:  %s\n  kernel: ' "$1" "$2"; }

step 'step 1: ip mptcp endpoint add 10.0.1.2 fullmesh' 'ok, id 1'
ip -n "$NS" mptcp endpoint add 10.0.1.2 fullmesh && echo ok
step 'step 2: ip mptcp endpoint flush' ok
ip -n "$NS" mptcp endpoint flush && echo ok

echo
echo "after the last step, the model predicts for Linux 6.19:"
echo '  endpoint dump: (empty)'
echo '  limits: add_addr_accepted 0 subflows 2'
echo "and this kernel ($(uname -r)) shows:"
ip -n "$NS" mptcp endpoint show
ip -n "$NS" mptcp limits show
