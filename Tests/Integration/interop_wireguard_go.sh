#!/usr/bin/env bash
# interop_wireguard_go.sh - meshd <-> Debian's wireguard-go, byte-compatible WireGuard.
#
#   ns a: wireguard-go (wg set), veth 10.77.0.1/24, overlay 10.100.0.1/24, MTU 1280
#   ns b: meshd --config,        veth 10.77.0.2/24, overlay 10.100.0.2/24, MTU 1280
#
# Round 1: meshd initiates (only meshd knows an endpoint), ping b->a then a->b, iperf3 b->a.
# Round 2: both restarted with fresh keys and state; wireguard-go initiates (meshd has no
#          Endpoint), ping a->b then b->a, iperf3 a->b.
# Each round: `wg show` reports a handshake and the endpoint meshd used; meshctl status shows
# the peer.
set -euo pipefail
source "$(dirname "$0")/lab.sh"
lab_mesh_bin

IPERF_SECS=${IPERF_SECS:-5}
WGIF=wg$$a           # unique machine-wide (wireguard-go's UAPI socket dir is not namespaced)
WGPORT=51820
MPORT=51821

lab_ns_add a b
lab_veth a veth0 10.77.0.1/24 b veth0 10.77.0.2/24
lab_check "underlay ping a->b" lab_q lab_in a ping -n -c 1 -W 2 10.77.0.2

# the same key must give the same public key in both tools
(umask 077; wg genkey > "$LAB_DIR/x.key")
lab_check "meshd pubkey == wg pubkey for the same private key" \
    test "$("$MESH_BIN/meshd" pubkey < "$LAB_DIR/x.key")" = "$(wg pubkey < "$LAB_DIR/x.key")"

wg_side_up() { # ENDPOINT_FOR_PEER (may be empty)
    lab_wg_start "wg-$R" a "$WGIF"
    local ep=()
    [[ -n $1 ]] && ep=(endpoint "$1")
    lab_in a wg set "$WGIF" listen-port "$WGPORT" private-key "$LAB_DIR/a.key" \
        peer "$(cat "$LAB_DIR/b.pub")" allowed-ips 10.100.0.2/32 "${ep[@]}" \
        || lab_fail "wg set failed"
    lab_in a ip addr add 10.100.0.1/24 dev "$WGIF"
    lab_in a ip link set "$WGIF" mtu 1280 up
}

round() { # NUMBER INITIATOR(meshd|wg)
    local r=$1 init=$2
    R=$r
    lab_info "=== round $r: $init initiates"
    lab_genkey wg "$LAB_DIR/a"        # wireguard-go's key from wg
    lab_genkey meshd "$LAB_DIR/b"     # meshd's key from meshd
    if [[ $init == meshd ]]; then
        wg_side_up ""
        lab_meshd_conf "$LAB_DIR/b.conf" "$LAB_DIR/b.key" 10.100.0.2/24 "$MPORT" 1280 \
            "$LAB_DIR/a.pub" 10.100.0.1/32 "10.77.0.1:$WGPORT"
        lab_meshd_start "meshd-$r" b "$LAB_DIR/b.conf"
        lab_tunnel_ping b 10.100.0.1 "round $r: meshd->wireguard-go"
        lab_tunnel_ping a 10.100.0.2 "round $r: wireguard-go->meshd"
    else
        lab_meshd_conf "$LAB_DIR/b.conf" "$LAB_DIR/b.key" 10.100.0.2/24 "$MPORT" 1280 \
            "$LAB_DIR/a.pub" 10.100.0.1/32
        lab_meshd_start "meshd-$r" b "$LAB_DIR/b.conf"
        wg_side_up "10.77.0.2:$MPORT"
        lab_tunnel_ping a 10.100.0.2 "round $r: wireguard-go->meshd"
        lab_tunnel_ping b 10.100.0.1 "round $r: meshd->wireguard-go"
    fi
    lab_check "round $r: wg show reports a latest handshake" lab_wg_has_handshake a "$WGIF"
    local ep; ep=$(lab_in a wg show "$WGIF" endpoints | awk '{print $2}')
    lab_check "round $r: wg show endpoint of meshd is 10.77.0.2:$MPORT (got $ep)" \
        test "$ep" = "10.77.0.2:$MPORT"

    if [[ $init == meshd ]]; then
        lab_iperf_server iperf-$r a
        lab_iperf_check b 10.100.0.1 "$IPERF_SECS" "round $r: meshd->wireguard-go"
    else
        lab_iperf_server iperf-$r b
        lab_iperf_check a 10.100.0.2 "$IPERF_SECS" "round $r: wireguard-go->meshd"
    fi
    local mbps=$LAB_MBPS
    # meshd's own view (informational here; meshd_pair.sh requires it)
    local st; st=$(lab_meshd_peer_ok "meshd-$r" "$LAB_DIR/a.pub") && lab_pass "round $r: meshctl status: $st" \
        || lab_warn "round $r: meshctl status does not show a healthy peer: $st"
    lab_check "round $r: meshd still running" lab_alive "meshd-$r"
    lab_check "round $r: wireguard-go still running" lab_alive "wg-$r"
    lab_in a wg show "$WGIF" | sed 's/^/      /'
    RESULTS+=("round $r ($init initiates): $mbps Mbit/s")

    lab_stop "iperf-$r"
    lab_stop "meshd-$r"
    lab_stop "wg-$r"
    lab_poll 5 test ! -e "/var/run/wireguard/$WGIF.sock" || rm -f "/var/run/wireguard/$WGIF.sock"
}

RESULTS=()
round 1 meshd
round 2 wg
lab_done "$(IFS=';'; echo "${RESULTS[*]}")"
