#!/usr/bin/env bash
# Keepalive (issue 4): eim/eim with a direct path; three idle minutes, longer than both
# conntrack UDP timeouts (30 s unreplied, 120 s assured); then a ping goes direct at once,
# with nothing sent through the relay.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"
meshlab_up eim eim
meshlab_direct a b "$MESHLAB_B4"
meshlab_wait_path b a direct 10
lab_info "idle for 190 s (conntrack: $(lab_in r1 sysctl -n net.netfilter.nf_conntrack_udp_timeout) s / $(lab_in r1 sysctl -n net.netfilter.nf_conntrack_udp_timeout_stream) s)"
# The idle time is the condition under test: nothing is waited for but the clock, while the
# daemons are watched.
IDLE_END=$((EPOCHSECONDS + 190))
while [[ $EPOCHSECONDS -lt $IDLE_END ]]; do
    lab_alive a && lab_alive b || lab_fail "a meshd died while idle"
    sleep 1
done
SENT_BEFORE=$(meshlab_field a "j['relay']['packetsSent']")
lab_check "first ping after the idle time is answered" lab_in a ping -n -c 1 -W 2 "$MESHLAB_B4"
PATH_NOW=$(meshlab_peer_field a b "p.get('path')")
SENT_AFTER=$(meshlab_field a "j['relay']['packetsSent']")
lab_info "a's path to b: $PATH_NOW; relay packets sent by a: $SENT_BEFORE before, $SENT_AFTER after"
[[ $PATH_NOW == direct\ 203.0.113.12:41641 ]] || lab_fail "after idling, a's path is '$PATH_NOW', not direct"
[[ $SENT_AFTER == "$SENT_BEFORE" ]] || lab_fail "the ping after idling went through the relay too ($SENT_BEFORE -> $SENT_AFTER)"
lab_done "after 190 idle seconds a ping went direct at once ($PATH_NOW), nothing through the relay"
