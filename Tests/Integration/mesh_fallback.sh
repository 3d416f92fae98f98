#!/usr/bin/env bash
# Fallback and recovery (issue 4): eim/eim with a direct path and a ping running; a firewall rule
# on a's router drops the direct path: traffic must reach b through the relay within 7 s.
# Removing the rule brings the direct path back within 60 s. Pings lost: only in those windows.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"
meshlab_up eim eim
meshlab_direct a b "$MESHLAB_B4"
meshlab_pinger pinger a "$MESHLAB_B4"
lab_wait_until 5 "background ping answered" grep -q "bytes from" "$(lab_logfile pinger)"
CUT=$EPOCHREALTIME
meshlab_cut r1 "$NATLAB_B_WAN"
lab_info "direct path cut (UDP to and from $NATLAB_B_WAN dropped on a's router)"
# Let a few seconds of replies accumulate through the relay, then measure the outage.
lab_wait_until 15 "ping answered through the relay" meshlab_path_is a b relay
GAP=$(meshlab_max_gap pinger "$CUT")
lab_info "longest gap between replies after the cut: ${GAP}s; a's path: $(meshlab_peer_field a b "p.get('path')")"
awk -v g="$GAP" 'BEGIN{exit !(g <= 7.0)}' || lab_fail "traffic took ${GAP}s to move to the relay (limit 7 s)"
lab_pass "traffic moved to the relay within ${GAP}s"
RESTORE=$EPOCHREALTIME
meshlab_uncut r1
meshlab_wait_path a b direct 60
BACK=$(meshlab_since "$RESTORE")
lab_pass "direct path back ${BACK}s after the rule was removed: $(meshlab_peer_field a b "p.get('path')")"
GAP2=$(meshlab_max_gap pinger "$RESTORE")
awk -v g="$GAP2" 'BEGIN{exit !(g <= 1.5)}' || lab_fail "pings stalled ${GAP2}s while the path went back to direct"
lab_check "pinger still running" lab_alive pinger
lab_done "cut: relay after ${GAP}s without replies (limit 7); restored: direct after ${BACK}s (limit 60), no stall"
