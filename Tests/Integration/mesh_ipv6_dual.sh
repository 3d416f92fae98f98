#!/usr/bin/env bash
# IPv6 underlay, dual-stack (issue 9): a and b behind "eim" NATs for IPv4 and stateful IPv6
# firewalls (no NAT66) on routed 2001:db8:1::/64 and 2001:db8:2::/64; the coordinator at
# https://coord.lab.test (A and AAAA from the lab's DNS, nginx on both families).
#   A. Both publish an IPv4 and an IPv6 endpoint; at equal latency the pair goes direct over
#      IPv6 (PathPreference: IPv6 wins within 30% + 1 ms of IPv4); ping and TCP across it.
#   B. b's IPv6 gets 20 ms slower each way (delaylink.py on r2's uplink, IPv6 address of b
#      only): the next upgrade search (at most a minute apart while a path is slower than
#      5 ms) moves both sides to IPv4, and the overlay keeps answering meanwhile.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/lab_delay.sh"; source "$HERE/meshlab.sh"
NATLAB_IPV6=dual

meshlab_ipv6_pair
for e in "a $NATLAB_A_WAN:$MESHLAB_PORT" "b $NATLAB_B_WAN:$MESHLAB_PORT"; do
    # shellcheck disable=SC2086
    lab_check "the coordinator has ${e% *}'s IPv4 endpoint ${e#* } as well" meshlab_published $e
done
# The routers' firewalls drop unsolicited pings between a and b, so b measures towards c.
lab_info "underlay round trips b -> c: IPv6 $(lab_rtt_ms b "$NATLAB_C_IP6") ms, IPv4 $(lab_rtt_ms b "$NATLAB_C_IP") ms"

# B. IPv6 slower: the pair moves to IPv4.
natlab_delay r2 0
# delaylink forwards frames from packet sockets: no offloads on r2's side of the link either.
lab_in r2 ethtool -K wan0 tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
natlab_delay_set r2 "{\"delay_ms\": 0, \"extra_ms\": {\"$NATLAB_B_IP6\": 20}}"
ipv6_slower() { awk -v r="$(lab_rtt_ms b "$NATLAB_C_IP6")" 'BEGIN{exit !(r >= 35)}'; }
lab_wait_until 10 "b's IPv6 is slower" ipv6_slower
lab_info "underlay round trips b -> c now: IPv6 $(lab_rtt_ms b "$NATLAB_C_IP6") ms, IPv4 $(lab_rtt_ms b "$NATLAB_C_IP") ms"
meshlab_pinger ping-ab a "$MESHLAB_B4"
t_slow=$EPOCHREALTIME
meshlab_wait_path a b "direct:$NATLAB_B_WAN:$MESHLAB_PORT" 75
lab_info "a moved to IPv4 $(meshlab_since "$t_slow")s after IPv6 got slower"
meshlab_wait_path b a "direct:$NATLAB_A_WAN:$MESHLAB_PORT" 75
gap=$(meshlab_max_gap ping-ab "$t_slow")
awk -v g="$gap" 'BEGIN{exit !(g < 2)}' || lab_fail "the overlay went silent for ${gap}s while the path changed family"
lab_pass "longest silence of a's pings to b (every 0.1 s) while the path moved to IPv4: ${gap}s"
lab_done "dual-stack: direct IPv6 [$NATLAB_B_IP6]:$MESHLAB_PORT after ${MESHLAB_DIRECT_AFTER}s, TCP $LAB_MBPS Mbit/s; IPv6 +20 ms each way: IPv4 $NATLAB_B_WAN:$MESHLAB_PORT, gap ${gap}s"
