#!/usr/bin/env bash
# meshd_wg_show.sh - `wg show` reads a running meshd (WireGuard's cross-platform UAPI).
#
# Two joined nodes behind "eim" NATs (meshlab_up eim eim), each meshd with a TUN name unique
# on the machine (the UAPI socket directory /var/run/wireguard is not per namespace: the
# lab's usual mesh0 would be one socket for both). After pings a -> b:
#   - the socket is /var/run/wireguard/<ifname>.sock, mode 0600;
#   - `wg show IF` prints b's public key, the direct endpoint, a latest handshake, transfer;
#   - `wg show IF dump` agrees with `meshctl status --json` (public key, port, peer keys,
#     endpoint = the direct path, allowed IPs = b's overlay addresses, rx/tx within the bytes
#     that can have passed between the two readings);
#   - `wg set` is refused ("Operation not permitted": the coordinator owns the config);
#   - a stopped meshd removes its socket.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"
command -v wg >/dev/null || lab_fail "wg (wireguard-tools) is needed"

WG_IF_a=mw$$a
WG_IF_b=mw$$b
LAB_WG_IFS+=("$WG_IF_a" "$WG_IF_b")   # lab_cleanup removes sockets a killed meshd left
# meshlab_up starts both nodes through meshlab_node_start: give each its unique interface.
eval "$(declare -f meshlab_node_start | sed '1s/^meshlab_node_start/_meshlab_node_start_shared/')"
meshlab_node_start() { # NAME NS [extra meshd args]
    local name=$1 ns=$2 var; shift 2
    var="WG_IF_$name"
    _meshlab_node_start_shared "$name" "$ns" --interface "${!var}" "$@"
}

meshlab_up eim eim
meshlab_direct a b "$MESHLAB_B4"
lab_check "5/5 pings a -> b" lab_ping_ok a "$MESHLAB_B4" 5

sock=/var/run/wireguard/$WG_IF_a.sock
lab_check "$sock is a socket" test -S "$sock"
mode=$(stat -c %a "$sock")
[[ $mode == 600 ]] || lab_fail "$sock has mode $mode, want 600 (it answers the private key)"
lab_pass "$sock has mode 600, owner $(stat -c %U "$sock")"

B_KEY=$(meshlab_field b "j['publicKey']")
A_KEY=$(meshlab_field a "j['publicKey']")
B6=$(meshlab_field b "j['ipv6']")
path=$(meshlab_peer_field a b "p.get('path')")
direct=${path#direct }
direct=${direct%% *}

wg show "$WG_IF_a" > "$LAB_DIR/wg-show.txt" 2> "$LAB_DIR/wg-show.err" || lab_fail "wg show $WG_IF_a failed: $(cat "$LAB_DIR/wg-show.err")"
lab_info "wg show $WG_IF_a:"; sed 's/^/    /' "$LAB_DIR/wg-show.txt"
for want in "interface: $WG_IF_a" "public key: $A_KEY" "listening port: $MESHLAB_PORT" "peer: $B_KEY" \
            "endpoint: $direct" "allowed ips: $MESHLAB_B4/32, $B6/128" "latest handshake: " "transfer: "; do
    grep -qF "$want" "$LAB_DIR/wg-show.txt" || lab_fail "wg show lacks '$want'"
    lab_pass "wg show prints '$want'"
done
grep -q "private key" "$LAB_DIR/wg-show.txt" && ! grep -q "private key: (hidden)" "$LAB_DIR/wg-show.txt" \
    && lab_fail "wg show printed the private key"

wg show "$WG_IF_a" dump > "$LAB_DIR/wg-dump.txt" || lab_fail "wg show $WG_IF_a dump failed"
lab_meshd_status a || lab_fail "meshctl status a failed"
cp "$LAB_DIR/a.status.json" "$LAB_DIR/a.status-after-dump.json"
"$LAB_PY" - "$LAB_DIR/wg-dump.txt" "$LAB_DIR/a.status-after-dump.json" "$direct" "$MESHLAB_B4/32,$B6/128" <<'PY' \
    || lab_fail "wg show dump disagrees with meshctl status --json"
import json, sys
dump = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
status = json.load(open(sys.argv[2]))
direct, allowed = sys.argv[3], sys.argv[4]
iface, peers = dump[0], dump[1:]
# interface: private-key public-key listen-port fwmark
assert iface[1] == status["publicKey"], ("public key", iface[1], status["publicKey"])
assert int(iface[2]) == status["listenPort"], ("port", iface[2], status["listenPort"])
assert iface[3] == "off", ("fwmark", iface[3])
# peer: public-key preshared-key endpoint allowed-ips latest-handshake rx tx keepalive
by_key = {p[0]: p for p in peers}
want_keys = {p["publicKey"] for p in status["peers"]}
assert set(by_key) == want_keys, ("peer keys", sorted(by_key), sorted(want_keys))
for sp in status["peers"]:
    p = by_key[sp["publicKey"]]
    assert p[1] == "(none)", "a preshared key in mesh mode"
    if sp.get("path", "").startswith("direct") and "unconfirmed" not in sp["path"]:
        assert p[2] == direct, ("endpoint", p[2], direct)
    assert p[3] == allowed, ("allowed ips", p[3], allowed)
    assert int(p[4]) > 0, "no handshake"
    rx, tx = int(p[5]), int(p[6])
    # The status was read just after the dump: its counters are the same or a little higher
    # (a keepalive or two, 32 bytes each, can pass in between); five pings each way went.
    for name, d, s in (("rx", rx, sp["rxBytes"]), ("tx", tx, sp["txBytes"])):
        assert d >= 5 * 84, (name, "fewer bytes than five pings", d)
        assert d <= s <= d + 1024, (name, "dump", d, "status", s)
    print(f"peer {sp.get('name')}: endpoint {p[2]}, allowed {p[3]}, handshake {p[4]}, dump rx {rx} tx {tx}, "
          f"status rx {sp['rxBytes']} tx {sp['txBytes']}")
PY
lab_pass "wg show $WG_IF_a dump agrees with meshctl status --json: $(cut -f1,3-8 "$LAB_DIR/wg-dump.txt" | tail -n +2 | tr '\t' ' ')"

wg show interfaces > "$LAB_DIR/wg-interfaces.txt"
grep -qw "$WG_IF_a" "$LAB_DIR/wg-interfaces.txt" && grep -qw "$WG_IF_b" "$LAB_DIR/wg-interfaces.txt" \
    || lab_fail "wg show interfaces lacks $WG_IF_a or $WG_IF_b: $(cat "$LAB_DIR/wg-interfaces.txt")"
lab_pass "wg show interfaces lists $WG_IF_a and $WG_IF_b"

if wg set "$WG_IF_a" listen-port 1 > "$LAB_DIR/wg-set.out" 2>&1; then lab_fail "wg set was accepted"; fi
grep -q "Operation not permitted" "$LAB_DIR/wg-set.out" || lab_fail "wg set refused otherwise: $(cat "$LAB_DIR/wg-set.out")"
lab_pass "wg set refused: $(head -1 "$LAB_DIR/wg-set.out")"
[[ $(meshlab_field a "j['listenPort']") == "$MESHLAB_PORT" ]] || lab_fail "the port changed after wg set"
lab_check "5/5 pings a -> b after wg set" lab_ping_ok a "$MESHLAB_B4" 5
grep -rqF "$(wg show "$WG_IF_a" private-key 2>/dev/null || echo no-key-read)" "$LAB_DIR"/a.log \
    && lab_fail "a's log holds its private key"

lab_stop a
[[ ! -e $sock ]] || lab_fail "$sock is still there after meshd a stopped"
lab_pass "meshd a removed $sock on exit"
lab_done "wg show reads meshd: peer, endpoint $direct, handshake, transfer; dump = status; set refused"
