#!/usr/bin/env bash
# IPv6 underlay, IPv6-only hosts (issue 9): a and b have no IPv4 address or route at all, only
# 2001:db8:1::10 and 2001:db8:2::10 behind stateful IPv6 firewalls that drop unsolicited
# inbound packets; they find the coordinator at https://coord.lab.test by its AAAA record,
# reach it and its relay through nginx on [2001:db8::100]:443, get their IPv6 endpoints from
# STUN on the same dual-stack sockets, punch, and talk directly over IPv6.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"
NATLAB_IPV6=only

meshlab_ipv6_pair
lab_check "a has no IPv4 route of its own" bash -c "! ip netns exec $(lab_ns a) ip -4 route get $NATLAB_C_IP >/dev/null 2>&1"
for n in a b; do
    eps=$(meshlab_endpoints_of "$n")
    [[ $eps != *.*.*.*:* ]] || lab_fail "$n published an IPv4 endpoint without having IPv4: $eps"
done
lab_pass "neither node published an IPv4 endpoint"
lab_done "IPv6-only: direct [$NATLAB_B_IP6]:$MESHLAB_PORT after ${MESHLAB_DIRECT_AFTER}s, TCP $LAB_MBPS Mbit/s"
