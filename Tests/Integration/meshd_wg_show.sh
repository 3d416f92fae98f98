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
# Then two standalone meshd (--config) with a preshared key: each dump shows the peer's key,
# the preshared key, the endpoint (configured on s1, learned from the handshake on s2), the
# allowed IPs, keepalive 25 on s1, a handshake and the pings' transfer.
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

# ---- standalone mode (meshd --config): the config file's preshared key, allowed IPs and
# keepalive, the endpoint the device uses (configured on s1, learned from s1's handshake on s2)
WG_IF_s1=mw$$s1
WG_IF_s2=mw$$s2
LAB_WG_IFS+=("$WG_IF_s1" "$WG_IF_s2")
lab_ns_add s1 s2
lab_veth s1 veth0 10.78.0.1/24 s2 veth0 10.78.0.2/24
lab_genkey meshd "$LAB_DIR/s1"
lab_genkey meshd "$LAB_DIR/s2"
psk=$(wg genpsk)
lab_meshd_conf "$LAB_DIR/s1.conf" "$LAB_DIR/s1.key" 10.101.0.1/24 51831 1280 "$LAB_DIR/s2.pub" 10.101.0.2/32 10.78.0.2:51832 25
lab_meshd_conf "$LAB_DIR/s2.conf" "$LAB_DIR/s2.key" 10.101.0.2/24 51832 1280 "$LAB_DIR/s1.pub" 10.101.0.1/32
echo "PresharedKey = $psk" >> "$LAB_DIR/s1.conf"
echo "PresharedKey = $psk" >> "$LAB_DIR/s2.conf"
lab_meshd_start s1 s1 "$LAB_DIR/s1.conf" "$WG_IF_s1"
lab_meshd_start s2 s2 "$LAB_DIR/s2.conf" "$WG_IF_s2"
lab_tunnel_ping s1 10.101.0.2 "standalone s1 -> s2"
lab_check "5/5 standalone pings s1 -> s2" lab_ping_ok s1 10.101.0.2 5
wg show "$WG_IF_s1" dump > "$LAB_DIR/s1-dump.txt" || lab_fail "wg show $WG_IF_s1 dump failed"
wg show "$WG_IF_s2" dump > "$LAB_DIR/s2-dump.txt" || lab_fail "wg show $WG_IF_s2 dump failed"
"$LAB_PY" - "$LAB_DIR" "$psk" <<'PY' || lab_fail "wg show dump of the standalone nodes is wrong"
import sys
lab, psk = sys.argv[1], sys.argv[2]
def dump(n): return [l.split("\t") for l in open(f"{lab}/{n}-dump.txt").read().splitlines()]
def key(n): return open(f"{lab}/{n}.pub").read().strip()
for me, peer, port, endpoint, allowed, keepalive in (("s1", "s2", "51831", "10.78.0.2:51832", "10.101.0.2/32", "25"),
                                                    ("s2", "s1", "51832", "10.78.0.1:51831", "10.101.0.1/32", "off")):
    d = dump(me)
    assert d[0][1] == key(me) and d[0][2] == port, (me, "interface", d[0][1:])
    assert len(d) == 2, (me, "peers", len(d) - 1)
    p = d[1]
    assert p[0] == key(peer), (me, "peer key", p[0])
    assert p[1] == psk, (me, "preshared key")
    assert p[2] == endpoint, (me, "endpoint", p[2])
    assert p[3] == allowed, (me, "allowed ips", p[3])
    assert int(p[4]) > 0 and int(p[5]) >= 5 * 84 and int(p[6]) >= 5 * 84, (me, "handshake/transfer", p[4:7])
    assert p[7] == keepalive, (me, "keepalive", p[7])
    print(f"{me}: peer {peer} endpoint {p[2]} allowed {p[3]} rx {p[5]} tx {p[6]} keepalive {p[7]}, preshared key matches")
PY
lab_pass "standalone: wg show dump has the preshared key, endpoints (configured and learned), allowed IPs, keepalive 25, transfer"
wg show "$WG_IF_s1" | grep -q "preshared key: (hidden)" || lab_fail "wg show $WG_IF_s1 does not show a (hidden) preshared key"
lab_pass "standalone: wg show prints 'preshared key: (hidden)'"
lab_done "wg show reads meshd: peer, endpoint $direct, handshake, transfer; dump = status; set refused; standalone too"
