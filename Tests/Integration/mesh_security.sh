#!/usr/bin/env bash
# Security (issue 4): a node the admin removes or expires can no longer reach anyone within
# 5 s, neither over its direct path (eim/eim) nor through the relay (edm/eim); and a relay
# client that cannot prove its node key is refused (RelayIntegrationTests cover that in-process;
# here: a removed node's relay connection is cut).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"

node_id() { "$MESH_BIN/meshcoord" node list --json --state-dir "$LAB_DIR/coord" \
    | "$LAB_PY" -c "import json,sys; print([n['id'] for n in json.load(sys.stdin) if n['name'] == '$1'][0])"; }
unreachable() { ! lab_in b ping -n -c 1 -W 1 "$MESHLAB_A4" >/dev/null 2>&1; }

one() { # TYPE_A TYPE_B PATH ACTION
    meshlab_up "$1" "$2"
    lab_wait_until 10 "first ping b -> a" lab_in b ping -n -c 1 -W 1 "$MESHLAB_A4"
    if [[ $3 == direct ]]; then meshlab_wait_path b a direct 10; else
        lab_poll 6 meshlab_path_is b a direct && lab_fail "expected the relay path"; meshlab_wait_path b a relay 5; fi
    lab_check "b reaches a over the $3 path" lab_in b ping -n -c 3 -i 0.2 -W 1 "$MESHLAB_A4"
    local id; id=$(node_id b)
    local t0=$EPOCHREALTIME
    lab_q "$MESH_BIN/meshcoord" node "$4" --state-dir "$LAB_DIR/coord" "$id" || lab_fail "meshcoord node $4 $id"
    lab_wait_until 5 "b ($4 by the admin) can no longer reach a over the $3 path" unreachable
    lab_info "b cut off $(meshlab_since "$t0")s after 'meshcoord node $4'"
    # And it stays cut off: a few more attempts, none answered.
    lab_check "b still cannot reach a" bash -c "! ip netns exec $LAB_ID-b ping -n -c 5 -i 0.2 -W 1 $MESHLAB_A4 >/dev/null 2>&1"
    lab_wait_until 5 "a no longer lists b" meshlab_status_has a "not [p for p in j['peers'] if p.get('name') == 'b']"
}

if [[ ${1:-} == --one ]]; then shift; one "$@"; lab_done "$*: cut off within 5 s"; fi
"$0" --one eim eim direct remove || lab_fail "removed node over a direct path"
"$0" --one edm eim relay expire || lab_fail "expired node over the relay"
lab_done "removed (direct path) and expired (relay) nodes are cut off within 5 s"
