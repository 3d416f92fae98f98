#!/usr/bin/env bash
# Roaming (issue 4): eim/eim with a direct path and a ping running. First a's NAT forgets
# every mapping (conntrack -F, as a NAT reboot would); then a's LAN address changes (DHCP gave
# it another one). Each time connectivity must be back within 5 s.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"
meshlab_up eim eim
meshlab_direct a b "$MESHLAB_B4"
meshlab_pinger pinger a "$MESHLAB_B4"
lab_wait_until 5 "background ping answered" grep -q "bytes from" "$(lab_logfile pinger)"
FLUSH=$EPOCHREALTIME
natlab_flush_nat r1
lab_info "a's NAT flushed its mappings"
lab_wait_until 10 "replies after the flush" bash -c "[[ \$(awk -v t=$FLUSH '/bytes from/ { gsub(/[\\[\\]]/, \"\", \$1); if (\$1 > t + 0.3) n++ } END { print n+0 }' $(lab_logfile pinger)) -gt 3 ]]"
GAP=$(meshlab_max_gap pinger "$FLUSH")
awk -v g="$GAP" 'BEGIN{exit !(g <= 5.0)}' || lab_fail "connectivity took ${GAP}s to come back (limit 5 s)"
lab_info "a's path to b: $(meshlab_peer_field a b "p.get('path')")"
lab_pass "NAT mappings flushed: longest gap between replies ${GAP}s (limit 5)"

MOVE=$EPOCHREALTIME
lab_in a sysctl -qw net.ipv4.conf.eth0.promote_secondaries=1
lab_in a ip addr add 10.1.0.11/24 dev eth0
lab_in a ip addr del 10.1.0.10/24 dev eth0
lab_in a ip route replace default via 10.1.0.1
lab_info "a moved from 10.1.0.10 to 10.1.0.11"
lab_wait_until 10 "replies after the move" bash -c "[[ \$(awk -v t=$MOVE '/bytes from/ { gsub(/[\\[\\]]/, \"\", \$1); if (\$1 > t + 0.3) n++ } END { print n+0 }' $(lab_logfile pinger)) -gt 3 ]]"
GAP2=$(meshlab_max_gap pinger "$MOVE")
awk -v g="$GAP2" 'BEGIN{exit !(g <= 5.0)}' || lab_fail "connectivity took ${GAP2}s to come back after the address change (limit 5 s)"
lab_wait_until 10 "a publishes its new LAN address" meshlab_status_has b "[p for p in j['peers'] if p.get('name') == 'a']"
lab_info "b's path to a after the move: $(meshlab_peer_field b a "p.get('path')")"
lab_done "NAT mappings flushed: gap ${GAP}s; LAN address changed: gap ${GAP2}s (limit 5 each)"
