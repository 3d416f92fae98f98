#!/usr/bin/env bash
# demo.sh - the whole mesh, live: a coordinator on a simulated public host, three machines
# behind two simulated home NAT routers, join tokens, NAT traversal, `meshctl status` and pings.
#
#   c  203.0.113.100  meshcoord (control API, STUN, relay)           [the internet: 203.0.113.0/24]
#   router 1 (NAT) 203.0.113.11 -- alice 10.1.0.10
#   router 2 (NAT) 203.0.113.12 -- bob   10.2.0.10, carol 10.2.0.30 (same LAN as bob)
#
# Everything runs in network namespaces on this machine (documentation and private address
# ranges; nothing leaves it) and is removed at the end. Needs root.
#   Packaging/demo.sh     (SKIP_DEPS=1 / SKIP_BUILD=1 to skip those steps)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
LAB_NAME=demo
source "$REPO/Tests/Integration/lab.sh"
source "$REPO/Tests/Integration/natlab.sh"
source "$REPO/Tests/Integration/meshlab.sh"

B=; N=
if [[ -t 1 ]]; then B=$(tput bold 2>/dev/null || true); N=$(tput sgr0 2>/dev/null || true); fi
n=0
say() { n=$((n + 1)); echo; echo "${B}[$n] $*${N}"; }
show() { echo "    \$ $*"; }
indent() { sed 's/^/    /'; }

[[ $(id -u) == 0 ]] || { echo "demo.sh needs root (network namespaces, TUN devices)" >&2; exit 1; }
if [[ ${SKIP_DEPS:-0} != 1 ]]; then
    say "Installing the Debian packages mesh needs (only what is missing)"
    ./Packaging/install-deps.sh
fi
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    say "Building meshcoord, meshd and meshctl (release; the first build takes a few minutes)"
    show swift build -c release
    swift build -c release 2>&1 | tail -n 3
fi
lab_mesh_bin

say "Building the network: a public host and two home routers doing NAT (nftables masquerade)"
natlab_up eim eim
_natlab_host carol r2 10.2.0.30/24 10.2.0.1
echo "    alice 10.1.0.10 behind router 1 (203.0.113.11); bob 10.2.0.10 and carol 10.2.0.30 behind router 2 (203.0.113.12)"

say "Starting the coordinator on the public host, named coord.lab.test by the lab's DNS, behind nginx (TLS)"
natlab_public_host dns "$MESHLAB_DNS_IP"
lab_dns dns "$MESHLAB_DNS_IP" "$MESHLAB_COORD_NAME=$MESHLAB_COORD"
show "meshcoord serve --state-dir ... --listen 203.0.113.100:8080 --stun-ports 3478,3479 --public-url https://coord.lab.test"
meshlab_coord_start coord
show "meshcoord authkey create --reusable"
MESHLAB_TOKEN=$("$MESH_BIN/meshcoord" authkey create --reusable --state-dir "$LAB_DIR/coord" 2>/dev/null)
echo "    join token: ${MESHLAB_TOKEN:0:40}..."

say "Each machine joins with the token"
for who in alice bob carol; do
    ns=$who; [[ $who == alice ]] && ns=a; [[ $who == bob ]] && ns=b
    show "meshd up --join-file token --hostname $who --ca-file lab-ca.pem      (on $who)"
    meshlab_node_start "$who" "$ns"
done
lab_wait_until 5 "alice sees bob and carol" meshlab_status_has alice "len(j['peers']) == 2"
show "meshcoord node list"
"$MESH_BIN/meshcoord" node list --state-dir "$LAB_DIR/coord" | indent

BOB=$(meshlab_field bob "j['ipv4']"); CAROL=$(meshlab_field carol "j['ipv4']"); ALICE=$(meshlab_field alice "j['ipv4']")
say "alice pings bob and carol across both NATs; bob pings carol on their shared LAN"
show "ping -c 3 $BOB      (on alice)"
lab_wait_until 10 "first answer from bob" lab_in a ping -n -c 1 -W 1 "$BOB"
lab_in a ping -n -c 3 -i 0.3 "$BOB" | tail -n 2 | indent
show "ping -c 3 $CAROL      (on alice)"
lab_wait_until 10 "first answer from carol" lab_in a ping -n -c 1 -W 1 "$CAROL"
lab_in a ping -n -c 3 -i 0.3 "$CAROL" | tail -n 2 | indent
show "ping -c 3 $CAROL      (on bob)"
lab_wait_until 10 "first answer from carol" lab_in b ping -n -c 1 -W 1 "$CAROL"
lab_in b ping -n -c 3 -i 0.3 "$CAROL" | tail -n 2 | indent
say "Waiting for every node to settle on its best path (disco pings, CallMeMaybe through the relay)"
meshlab_wait_path alice bob direct 10
meshlab_wait_path alice carol direct 10
meshlab_wait_path bob alice direct 10
meshlab_wait_path bob carol direct:10.2.0.30:41641 10

say "meshctl status: the paths the nodes found (direct through the NATs, or over the LAN)"
for who in alice bob; do
    show "meshctl status      (on $who)"
    lab_meshctl "$who" status | indent
done

say "meshctl ping, netcheck and metrics (on alice)"
show "meshctl ping bob -c 3"
lab_meshctl alice ping bob -c 3 | indent
show "meshctl netcheck"
lab_meshctl alice netcheck | indent
show "meshctl metrics | grep -E 'peer_(received|sent)_bytes'"
lab_meshctl alice metrics | grep -E 'peer_(received|sent)_bytes' | indent

say "Cleaning up: stopping every process and deleting the namespaces"
trap - EXIT
lab_cleanup
echo
echo "Demo finished: a coordinator, three machines behind two NATs, direct encrypted paths, pings across."
