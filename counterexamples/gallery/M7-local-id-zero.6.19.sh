#!/bin/bash
# pmcheck 0.1.0 counterexample: M7-local-id-zero VIOLATED on Linux 6.19 (model)
# a live subflow has local id 0 exactly when it leaves from the
#     connection's initial local address
# Runs the trace's commands in a fresh network namespace of its own
#     (deleted on exit) and prints what the kernel answers next to what
#     the model predicts for Linux 6.19. Needs root, MPTCP, and an
#     iproute2 that knows every flag used; python3 only for raw-netlink
#     steps.
# 1 step(s) are connection or peer events; they need pmcheck's
#     two-namespace testbed (`pmcheck kernel M7-local-id-zero.6.19.scn`)
#     and appear here as comments.
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

# Raw generic netlink for what `ip mptcp` will not send (python3, stdlib).
pmck_raw() {  # pmck_raw add|del FAMILY ADDR PORT ID FLAGS
	ip netns exec "$NS" python3 - "$@" <<'PY'
import socket, struct, sys, errno
op, fam, addr, port, ident, flags = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
    int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
def nla(t, data):
    n = 4 + len(data)
    return struct.pack("=HH", n, t) + data + b"\0" * (-n % 4)
def talk(s, family, cmd, attrs, flags):
    genl = struct.pack("=BBH", cmd, 1, 0) + attrs
    s.send(struct.pack("=IHHII", 16 + len(genl), family, flags, 1, 0) + genl)
    return s.recv(65536)
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)  # NETLINK_GENERIC
s.bind((0, 0))
r = talk(s, 0x10, 3, nla(2, b"mptcp_pm\0"), 1)  # CTRL_CMD_GETFAMILY
off, family = 20, None
while off + 4 <= len(r):
    n, t = struct.unpack_from("=HH", r, off)
    if t == 1:  # CTRL_ATTR_FAMILY_ID
        family = struct.unpack_from("=H", r, off + 4)[0]
    off += (n + 3) & ~3
if family is None:
    sys.exit("mptcp_pm generic netlink family not found (no MPTCP?)")
a = nla(2, struct.pack("B", ident))  # MPTCP_PM_ADDR_ATTR_ID, even 0
if fam:
    a = nla(1, struct.pack("=H", fam)) + a
    a += nla(3, socket.inet_pton(socket.AF_INET, addr)) if fam == 2 else \
        nla(4, socket.inet_pton(socket.AF_INET6, addr))
if port:
    a += nla(5, struct.pack("=H", port))
if flags:
    a += nla(6, struct.pack("=I", flags))
cmd = {"add": 1, "del": 2}[op]  # MPTCP_PM_CMD_ADD_ADDR / _DEL_ADDR
r = talk(s, family, cmd, nla(1 | 0x8000, a), 1 | 4)  # REQUEST | ACK
err = -struct.unpack_from("=i", r, 16)[0] if struct.unpack_from("=H", r, 4)[0] == 2 else 0
print("ok" if err == 0 else "-" + errno.errorcode.get(err, str(err)))
PY
}

step() { printf '\n%s\n  model:  %s\n  kernel: ' "$1" "$2"; }

step 'step 1: connect 10.0.1.2 10.0.1.1' ok
echo 'not run: needs the testbed'  # connect 10.0.1.2 10.0.1.1
step 'step 2: ip mptcp endpoint add 10.0.2.2 subflow   # raw netlink: ID attribute 0' 'ok, id 0'
pmck_raw add 2 10.0.2.2 0 0 2

echo
echo "after the last step, the model predicts for Linux 6.19:"
echo '  endpoint dump: 10.0.2.2 id 0 subflow'
echo '  limits: add_addr_accepted 0 subflows 2'
echo '  conn1 MPTCP_INFO: subflows 1 add_addr_signal 0 add_addr_accepted 0 local_addr_used 0; subflows: 10.0.1.2#0>10.0.1.1#0 mpc'
echo "and this kernel ($(uname -r)) shows:"
ip -n "$NS" mptcp endpoint show
ip -n "$NS" mptcp limits show
