#!/usr/bin/env bash
# meshd_preflight.sh - meshd checks everything local before it registers: run as non-root, with
# the UDP port busy, with the TUN name taken (by another meshd, or by an interface that is not
# a TUN device), on a state directory another meshd holds, or on a socket path another meshd
# answers on, `meshd up` with a fresh single-use auth key exits at once with one sentence that
# says why, the coordinator gains no node, the key is not spent, and the running meshd is
# untouched (its socket still answers). Finally one of those keys joins a node normally.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"

meshlab_up eim eim
coord() { "$MESH_BIN/meshcoord" "$@" --state-dir "$LAB_DIR/coord"; }
node_count() { coord node list --json | "$LAB_PY" -c "import json,sys; print(len(json.load(sys.stdin)))"; }
key_uses() { # KEY_ID: how often the key was used
    coord authkey list --json | "$LAB_PY" -c "import json,sys; print([k['usedCount'] for k in json.load(sys.stdin) if k['id'] == $1][0])"
}
lab_check "the coordinator knows a and b" test "$(node_count)" = 2

chmod o+x "$LAB_DIR"
ATTEMPTS=0
SENTENCES=()
# attempt LABEL EXPECTED [--as-nobody] [meshd up args...]: one meshd run with a fresh
# single-use key that must fail before registering.
attempt() {
    local label=$1 want=$2; shift 2
    local as=() ; if [[ ${1:-} == --as-nobody ]]; then as=(setpriv --reuid=65534 --regid=65534 --clear-groups); shift; fi
    ATTEMPTS=$((ATTEMPTS + 1))
    local dir="$LAB_DIR/attempt$ATTEMPTS" token id
    mkdir -p "$dir"
    token=$(coord authkey create 2>"$dir/authkey.err")
    id=$(sed -n 's/^auth key \([0-9]*\):.*/\1/p' "$dir/authkey.err")
    [[ $token == mesh1_* && -n $id ]] || lab_fail "$label: no single-use key"
    printf '%s\n' "$token" > "$dir/join"
    [[ ${#as[@]} -gt 0 ]] && chown -R 65534:65534 "$dir" && chmod 600 "$dir/join"
    local rc=0 t0=$EPOCHREALTIME
    # shellcheck disable=SC2086
    lab_in a timeout 20 "${as[@]}" "$MESH_BIN/meshd" up --join-file "$dir/join" --hostname "ghost$ATTEMPTS" $(meshlab_node_tls_args) \
        "$@" > "$dir/out" 2>&1 || rc=$?
    local took; took=$(meshlab_since "$t0")
    [[ $rc != 0 && $rc != 124 ]] || { cat "$dir/out" >&2; lab_fail "$label: meshd exited with $rc (want a failure, at once)"; }
    local errors; errors=$(grep -c '^Error: ' "$dir/out" || true)
    [[ $errors == 1 ]] || { cat "$dir/out" >&2; lab_fail "$label: $errors error lines, want one"; }
    local line; line=$(grep '^Error: ' "$dir/out")
    [[ $line == *"$want"* ]] || { cat "$dir/out" >&2; lab_fail "$label: error line '$line' does not say '$want'"; }
    lab_pass "$label: exit $rc after ${took}s: ${line#Error: }"
    SENTENCES+=("$label: ${line#Error: }")
    lab_check "$label: the coordinator gained no node" test "$(node_count)" = 2
    lab_check "$label: the auth key was not spent" test "$(key_uses "$id")" = 0
    lab_check "$label: a's meshd still answers on its socket" meshlab_status_has a "j.get('control') == 'connected'"
    LAST_JOIN="$dir/join"
    FIRST_JOIN=${FIRST_JOIN:-$dir/join}
}

# Non-root: a state directory and socket directory it may write, so the TUN is what fails.
attempt "non-root" "needs root or CAP_NET_ADMIN" --as-nobody \
    --state-dir "$LAB_DIR/attempt1/state" --socket "$LAB_DIR/attempt1/run/meshd.sock" --interface meshnr --port 41700
attempt "UDP port busy" "UDP port $MESHLAB_PORT is in use" \
    --state-dir "$LAB_DIR/attempt2/state" --socket "$LAB_DIR/attempt2/meshd.sock" --interface meshp --port "$MESHLAB_PORT"
attempt "TUN held by another meshd" "cannot create TUN device mesh0: another process holds it" \
    --state-dir "$LAB_DIR/attempt3/state" --socket "$LAB_DIR/attempt3/meshd.sock" --interface mesh0 --port 0
lab_in a ip link add meshdum type veth peer name meshdum-peer
attempt "interface name taken by a non-TUN device" "an interface of that name exists and is not a TUN device" \
    --state-dir "$LAB_DIR/attempt4/state" --socket "$LAB_DIR/attempt4/meshd.sock" --interface meshdum --port 0
attempt "state directory held" "another meshd (pid $(lab_pid a)) is running with the state directory $LAB_DIR/a-state" \
    --state-dir "$LAB_DIR/a-state" --socket "$LAB_DIR/attempt5/meshd.sock" --interface meshs --port 0
attempt "socket path answered" "another meshd answers on $LAB_DIR/a.sock" \
    --state-dir "$LAB_DIR/attempt6/state" --socket "$LAB_DIR/a.sock" --interface meshk --port 0
lab_check "a's lock still names a's meshd" test "$(cat "$LAB_DIR/a-state/meshd.lock")" = "$(lab_pid a)"

# A stale socket (a killed meshd's) is replaced, and the unspent key of the non-root attempt joins.
lab_in a "$LAB_PY" -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$LAB_DIR/late.sock"
cp "$FIRST_JOIN" "$LAB_DIR/late.join"; chown 0:0 "$LAB_DIR/late.join"
# shellcheck disable=SC2086
lab_start late a "$MESH_BIN/meshd" up --join-file "$LAB_DIR/late.join" --hostname late --state-dir "$LAB_DIR/late-state" \
    --socket "$LAB_DIR/late.sock" --interface meshl --port 0 $(meshlab_node_tls_args)
lab_wait_until 20 "the non-root attempt's key joins a node (over a stale socket file)" \
    meshlab_status_has late "j.get('control') == 'connected'"
lab_check "the coordinator now knows three nodes" test "$(node_count)" = 3
lab_check "a sees the new node" lab_wait_until 5 "a sees late" meshlab_status_has a "[p for p in j['peers'] if p.get('name') == 'late']"
for s in "${SENTENCES[@]}"; do lab_info "  $s"; done
lab_done "$ATTEMPTS refused starts, each one sentence, no node and no key spent; the unspent key then joined"
