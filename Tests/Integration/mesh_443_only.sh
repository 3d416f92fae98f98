#!/usr/bin/env bash
# A network that lets out only HTTPS: a sits behind a router that forwards nothing but TCP to
# port 443 and DNS (tcp443), b behind an ordinary eim NAT. The coordinator is at
# https://coord.lab.test, TLS by nginx on 443, and this nginx passes only WebSocket upgrades
# (LAB_NGINX_WEBSOCKET_ONLY=1: any other Upgrade gets 403), as many proxies do. a must register
# and follow the netmap over 443, find that its UDP goes nowhere and stay relayed, switch from
# the mesh-relay upgrade to WebSocket by itself, and carry pings both ways and a 5 s TCP
# transfer to b.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"
export LAB_NGINX_WEBSOCKET_ONLY=1
[[ $MESHLAB_NAMING == https ]] || lab_fail "mesh_443_only needs the https lab (MESHLAB_NAMING=https)"

meshlab_up tcp443 eim

lab_check "a's router passes TCP 443 to the coordinator" lab_tcp_open a "$MESHLAB_COORD" 443
lab_check "a's router drops TCP 8080 (the coordinator's own port)" lab_tcp_closed a "$MESHLAB_COORD" 8080
lab_check "the proxy refused a plain mesh-relay upgrade (403)" grep -q '"GET /relay HTTP/1.1" 403' "$LAB_DIR/proxy/access.log"
lab_check "a fell back to WebSocket by itself" grep -q "trying the websocket transport" "$(lab_logfile a)"
websocket_relay() { meshlab_status_has "$1" "any(r.get('transport') == 'websocket' and r['connected'] for r in j['relays'])"; }
lab_check "a's relay connection is up over WebSocket" websocket_relay a
lab_check "b's relay connection is up over WebSocket" websocket_relay b

meshlab_traffic "443-only, relay over WebSocket"
lab_check "a's path to b is the relay (no UDP leaves a's network)" meshlab_path_is a b relay
SENT=$(meshlab_field a "[r for r in j['relays'] if r['connected']][0]['packetsSent']")
lab_done "443-only: registered over https, relay fell back to WebSocket, pings both ways, 5 s TCP at $LAB_MBPS Mbit/s ($SENT packets relayed by a)"
