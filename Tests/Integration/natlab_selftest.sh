#!/usr/bin/env bash
# natlab_selftest.sh - the NAT lab behaves as DESIGN.md section 10 says, before any mesh test
# relies on it: for each NAT type, the mapping a node's UDP flows get, seen from two ports and
# two addresses of the public host c.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"
source "$HERE/natlab.sh"

probe() { # NS LPORT -> lines "ip:port" as seen by c:3478, c:3479, c2:3478
    lab_in "$1" "$LAB_PY" "$HERE/natlab_probe.py" client "$2" \
        "$NATLAB_C_IP:3478" "$NATLAB_C_IP:3479" "$NATLAB_C_IP2:3478"
}

check_type() { # TYPE_A TYPE_B
    natlab_up "$1" "$2"
    lab_start "probe-srv-$1" c "$LAB_PY" -u "$HERE/natlab_probe.py" server \
        "$NATLAB_C_IP:3478" "$NATLAB_C_IP:3479" "$NATLAB_C_IP2:3478"
    lab_wait_until 10 "probe server ready ($1)" grep -q ready "$(lab_logfile "probe-srv-$1")"
    local seen; mapfile -t seen < <(probe a 40000)
    lab_info "$1: a:40000 seen as ${seen[*]}"
    case $1 in
        none) [[ ${seen[0]} == "$NATLAB_A_IP:40000" && ${seen[1]} == "$NATLAB_A_IP:40000" ]] || lab_fail "none: expected no translation, saw ${seen[*]}" ;;
        eim|cgnat)
            [[ ${seen[0]} == "$NATLAB_A_WAN:"* ]] || lab_fail "$1: expected the router's address $NATLAB_A_WAN, saw ${seen[0]}"
            [[ ${seen[0]} == "${seen[1]}" && ${seen[1]} == "${seen[2]}" ]] || lab_fail "$1: mapping should be endpoint-independent, saw ${seen[*]}" ;;
        edm)
            [[ ${seen[0]} == "$NATLAB_A_WAN:"* ]] || lab_fail "edm: expected $NATLAB_A_WAN, saw ${seen[0]}"
            [[ ${seen[0]} != "${seen[1]}" || ${seen[1]} != "${seen[2]}" ]] || lab_fail "edm: mapping should vary by destination, saw ${seen[*]}" ;;
        block-udp)
            [[ ${seen[0]} == timeout && ${seen[1]} == timeout ]] || lab_fail "block-udp: UDP should not pass, saw ${seen[*]}"
            lab_check "block-udp: TCP still passes" lab_in a "$LAB_PY" "$HERE/natlab_probe.py" tcp "$NATLAB_C_IP:3478"
            lab_check "block-udp: ping still passes" lab_in a ping -c 1 -W 2 "$NATLAB_C_IP" ;;
    esac
    # Unsolicited traffic from outside must not reach a NATed node.
    if [[ $1 != none ]]; then
        # Give c a route to the LAN so the only thing stopping the ping is the router's filter.
        lab_in c ip route replace 10.1.0.0/24 via "$NATLAB_A_WAN"
        lab_check "$1: unsolicited ping to the router's LAN host is dropped" \
            bash -c "! ip netns exec $LAB_ID-c ping -c 1 -W 1 $NATLAB_A_IP >/dev/null 2>&1"
    fi
    lab_pass "$1 behaves as specified"
}

# Each NAT type gets a lab of its own: this script runs itself once per type.
if [[ ${1:-} == --one ]]; then
    check_type "$2" eim
    lab_done "NAT type $2 behaves as specified"
fi
for t in none eim edm block-udp cgnat; do
    "$0" --one "$t" || lab_fail "NAT type $t does not behave as specified"
done
lab_done "NAT lab self-test: none, eim, edm, block-udp and cgnat behave as specified"
