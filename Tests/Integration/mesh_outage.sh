#!/usr/bin/env bash
# Coordinator outage (issue 4): with meshcoord killed, a and b keep pinging over their direct
# path; when it comes back both reconnect by themselves, and a node that joins afterwards
# (d, on b's LAN) is reachable from a.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"
meshlab_up eim eim
_natlab_host d r2 10.2.0.30/24 10.2.0.1
meshlab_direct a b "$MESHLAB_B4"
meshlab_direct b a "$MESHLAB_A4"
COORD_PID=$(lab_pid coord)
kill -KILL "$COORD_PID"
lab_wait_until 5 "meshcoord is gone" _lab_pid_gone "$COORD_PID"
unset 'LAB_PID[coord]'
lab_wait_until 15 "a notices the coordinator is gone" meshlab_status_has a "j['control'] != 'connected'"
lab_check "a -> b still answers with the coordinator down (10/10)" lab_ping_ok a "$MESHLAB_B4" 10
lab_check "b -> a still answers with the coordinator down (10/10)" lab_ping_ok b "$MESHLAB_A4" 10
lab_info "a's path to b during the outage: $(meshlab_peer_field a b "p.get('path')")"
# A meshd restarted during the outage starts from its saved netmap: the direct path comes back.
meshlab_node_restart a a
meshlab_back_within a "$MESHLAB_B4" 3 10
meshlab_wait_path a b direct 5
lab_check "a -> b answers after the restart (10/10)" lab_ping_ok a "$MESHLAB_B4" 10
RESTART_BACK=$MESHLAB_BACK_AFTER
meshlab_coord_start coord2
lab_wait_until 40 "a reconnects by itself" meshlab_status_has a "j['control'] == 'connected'"
lab_wait_until 40 "b reconnects by itself" meshlab_status_has b "j['control'] == 'connected'"
meshlab_node_start d d
D4=$(meshlab_field d "j['ipv4']")
lab_wait_until 10 "a sees the new node d" meshlab_status_has a "[p for p in j['peers'] if p.get('name') == 'd']"
lab_wait_until 10 "a reaches d ($D4), which joined after the outage" lab_in a ping -n -c 1 -W 1 "$D4"
lab_check "3/3 pings a -> d" lab_ping_ok a "$D4" 3
lab_done "tunnel kept working through the outage; a restarted during it reached b after ${RESTART_BACK}s; both nodes reconnected; d joined afterwards and is reachable"
