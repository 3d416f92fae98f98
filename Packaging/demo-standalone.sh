#!/usr/bin/env bash
# demo-standalone.sh - watch two meshd nodes build an encrypted tunnel from config files (no coordinator).
#
# Two network namespaces play two machines on the internet (192.0.2.1 and 192.0.2.2, a
# documentation range: nothing leaves this computer). Each gets fresh keys, a wg-quick-style
# config and a running meshd; then we look at `meshctl status` and ping across the overlay
# (10.100.0.1 <-> 10.100.0.2). Everything is removed at the end. Needs root.
#
#   Packaging/demo-standalone.sh  (SKIP_DEPS=1 / SKIP_BUILD=1 to skip those steps)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
LAB_NAME=demo
source "$REPO/Tests/Integration/lab.sh"

B=; N=
if [[ -t 1 ]]; then B=$(tput bold 2>/dev/null || true); N=$(tput sgr0 2>/dev/null || true); fi
n=0
say() { n=$((n + 1)); echo; echo "${B}[$n] $*${N}"; }
show() { echo "    \$ $*"; }

[[ $(id -u) == 0 ]] || { echo "demo.sh needs root (network namespaces, TUN devices)" >&2; exit 1; }

if [[ ${SKIP_DEPS:-0} != 1 ]]; then
    say "Installing the Debian packages mesh needs (only what is missing)"
    ./Packaging/install-deps.sh
fi
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    say "Building meshd and meshctl (release)"
    show swift build -c release
    swift build -c release 2>&1 | tail -n 3
fi
lab_mesh_bin
echo "    binaries: $MESH_BIN/meshd, $MESH_BIN/meshctl"

say "Creating two 'machines' (network namespaces) joined by a virtual cable"
lab_ns_add alice bob
lab_veth alice eth0 192.0.2.1/24 bob eth0 192.0.2.2/24
echo "    $(lab_ns alice): eth0 192.0.2.1    <--- veth --->    $(lab_ns bob): eth0 192.0.2.2"

say "Making a key pair for each node"
lab_genkey meshd "$LAB_DIR/alice"
lab_genkey meshd "$LAB_DIR/bob"
show "meshd genkey > alice.key; meshd pubkey < alice.key"
echo "    alice public key: $(cat "$LAB_DIR/alice.pub")"
echo "    bob   public key: $(cat "$LAB_DIR/bob.pub")"

say "Writing the config files (wg-quick style; private keys elided here)"
lab_meshd_conf "$LAB_DIR/alice.conf" "$LAB_DIR/alice.key" 10.100.0.1/24 51820 1280 \
    "$LAB_DIR/bob.pub" 10.100.0.2/32 192.0.2.2:51820 25
lab_meshd_conf "$LAB_DIR/bob.conf" "$LAB_DIR/bob.key" 10.100.0.2/24 51820 1280 \
    "$LAB_DIR/alice.pub" 10.100.0.1/32 192.0.2.1:51820 25
for who in alice bob; do
    echo "    --- $who.conf"
    sed 's/^PrivateKey = .*/PrivateKey = (secret)/; s/^/    /' "$LAB_DIR/$who.conf"
done

say "Starting meshd on both machines"
show "meshd --config alice.conf --interface mesh0 --socket .../alice.sock   (in $(lab_ns alice))"
lab_meshd_start alice alice "$LAB_DIR/alice.conf"
lab_meshd_start bob bob "$LAB_DIR/bob.conf"
echo "    alice's mesh0: $(lab_in alice ip -br -4 addr show dev mesh0)"
echo "    bob's   mesh0: $(lab_in bob ip -br -4 addr show dev mesh0)"

say "Waiting for the WireGuard handshake (first packet across the tunnel)"
lab_wait_until 20 "alice reaches bob over the overlay" lab_in alice ping -n -c 1 -W 1 10.100.0.2

say "meshctl status on alice"
show "meshctl status"
lab_meshctl alice status | sed 's/^/    /'
say "meshctl status on bob"
lab_meshctl bob status | sed 's/^/    /'

say "Pinging bob (10.100.0.2) from alice, through the encrypted tunnel"
show "ping -c 5 10.100.0.2"
lab_in alice ping -n -c 5 -i 0.5 10.100.0.2 | sed 's/^/    /' || lab_fail "ping across the overlay failed"

say "On the wire there is only meshd's one UDP socket, port 51820 (bob's side)"
show "ss -uanp 'sport = :51820'"
lab_in bob ss -uanp 'sport = :51820' | sed 's/^/    /' || true

say "Cleaning up: stopping both meshd processes and deleting the namespaces"
lab_stop alice
lab_stop bob
echo
echo "${B}Demo finished: two nodes, fresh keys, an encrypted tunnel, 5 pings across it.${N}"
exit 0
