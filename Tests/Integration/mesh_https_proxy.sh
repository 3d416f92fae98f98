#!/usr/bin/env bash
# An office network whose only way out is its HTTP proxy: a sits behind a router that forwards
# nothing but TCP to port 3128 and DNS (proxy-only); the proxy (tinyproxy, an independent
# implementation, CONNECT to port 443 only) runs on the public host px. meshd on a has
# HTTPS_PROXY=http://proxy.lab.test:3128 in its environment, b none. a must register and follow
# the netmap through the proxy, hold its relay connection through it, and carry pings both ways
# and a 5 s TCP transfer to b; without the proxy nothing of a's reaches the coordinator.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"
[[ $MESHLAB_NAMING == https ]] || lab_fail "mesh_https_proxy needs the https lab (MESHLAB_NAMING=https)"

PX_IP=203.0.113.120
PX_NAME=proxy.lab.test
MESHLAB_DNS_EXTRA="$PX_NAME=$PX_IP"
MESHLAB_ENV_a="HTTPS_PROXY=http://$PX_NAME:3128"
meshlab_after_coord() {
    natlab_public_host px "$PX_IP"
    lab_dns_use px
    lab_tinyproxy px px "$PX_IP" 3128
}

meshlab_up proxy-only eim

lab_check "a's router drops TCP 443 to the coordinator" lab_tcp_closed a "$MESHLAB_COORD" 443
lab_check "a's router passes TCP to the proxy" lab_tcp_open a "$PX_IP" 3128
lab_check "a said it uses the proxy" grep -q "TLS connections go through the proxy http://$PX_NAME:3128 (HTTPS_PROXY)" "$(lab_logfile a)"
lab_check "the proxy tunnelled a's connections to the coordinator" grep -q "coord.lab.test:443" "$LAB_DIR/px/tinyproxy.log"
lab_check "a's relay connection is up (through the proxy)" meshlab_status_has a "any(r['connected'] for r in j['relays'])"

meshlab_traffic "proxy-only, relay tunnelled by the proxy"
lab_check "a's path to b is the relay" meshlab_path_is a b relay

# Without HTTPS_PROXY the same node cannot get out at all: the proxy is what carried it.
MESHLAB_ENV_a=""
meshlab_node_restart a a
lab_wait_until 15 "a without the proxy cannot reach the coordinator" meshlab_status_has a "j.get('control') != 'connected' and j.get('controlError')"
lab_done "proxy-only network: registration, netmap and relay through tinyproxy (CONNECT); pings both ways, 5 s TCP at $LAB_MBPS Mbit/s"
