#!/usr/bin/env bash
# meshctl, the whole tool (issue 10, item 3), against two live nodes behind "eim" NATs: version,
# ip, whois, ping (replies, a nonexistent peer, --until-direct from a relayed start), netcheck
# within 5 s, metrics, down (overlay ping fails, the node stays in `meshcoord node list`), up
# (ping works again), who may do what (a non-member of the `mesh` group is refused; a member
# reads but cannot change state), whois's user and tags and a peer the policy hides listed as
# absent (not offline, also after a restart) and named so by whois and ping (issue 11 item 6),
# logout (the node expires, meshd exits) and no daemon at all.
# Human and --json output are both checked; every failure must be one line.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"

# The socket's group: meshd hands its socket to `mesh` (mode 0660) when the group exists. The
# packages create it; here it is created for the test if missing, and removed again after.
MESHCTL_GROUP_MADE=0
if ! getent group mesh >/dev/null; then groupadd --system mesh; MESHCTL_GROUP_MADE=1; fi
_meshctl_cleanup() { if [[ $MESHCTL_GROUP_MADE == 1 ]]; then groupdel mesh 2>/dev/null || true; fi; }
trap '_meshctl_cleanup; lab_cleanup' EXIT
MESH_GID=$(getent group mesh | cut -d: -f3)
# Other users must get as far as the sockets, so that the sockets' own permissions decide.
chmod 711 "$LAB_DIR"

# meshctl_out NAME SUBCOMMAND args...: meshctl's stdout in $OUT, stderr in $ERR, exit status in $RC
meshctl_out() {
    set +e
    OUT=$(lab_meshctl "$@" 2>"$LAB_DIR/meshctl.err"); RC=$?
    set -e
    ERR=$(cat "$LAB_DIR/meshctl.err")
}
# as_user UID [GROUPS] command...: run as another user (supplementary groups "-": none)
# as_user UID GROUPS meshctl-args...: meshctl as another user (GROUPS "-": no supplementary
# groups), stdout and stderr in $OUT, exit status in $RC
as_user() { local uid=$1 groups=$2; shift 2
    local g=(--groups="$groups"); [[ $groups == - ]] && g=(--clear-groups)
    set +e
    OUT=$(setpriv --reuid="$uid" --regid="$uid" "${g[@]}" "$MESH_BIN/meshctl" "$@" 2>&1); RC=$?
    set -e; }
one_line() { [[ -n $1 && $(printf '%s\n' "$1" | wc -l) == 1 ]]; }
json_of() { printf '%s' "$1" | "$LAB_PY" -c 'import json,sys; j=json.load(sys.stdin); v=eval(sys.argv[1]); print("" if v is None else v)' "$2"; }
node_state() { "$MESH_BIN/meshcoord" node list --json --state-dir "$LAB_DIR/coord" \
    | "$LAB_PY" -c 'import json,sys; print(next((n["state"] for n in json.load(sys.stdin) if n["name"] == sys.argv[1]), "absent"))' "$1"; }
overlay_ping() { lab_in "$1" ping -n -c 1 -W 1 "$2"; }
overlay_ping_fails() { ! lab_in "$1" ping -n -c 2 -W 1 "$2" >/dev/null 2>&1; }
link_down() { ! lab_link_up "$1" "$2"; }
meshd_gone() { ! lab_alive "$1"; }

coord() { "$MESH_BIN/meshcoord" "$@" --state-dir "$LAB_DIR/coord"; }
# a joins with an auth key of the user alice (whois shows it); b with the shared key.
meshlab_after_coord() {
    coord user create alice >/dev/null
    MESHLAB_TOKEN_a=$(coord authkey create --user alice 2>/dev/null)
    [[ $MESHLAB_TOKEN_a == mesh1_* ]] || lab_fail "authkey create --user alice gave no token"
}
meshlab_up eim eim

# ---- status: short keys unless --keys
A_KEY=$(meshlab_peer_field a b "p['publicKey']")
meshctl_out a status
lab_check "status shows short keys (b: ${A_KEY:0:8})" bash -c '! grep -qF -- "$1" <<<"$2"' _ "$A_KEY" "$OUT"
meshctl_out a status --keys
lab_check "status --keys shows whole keys" grep -qF -- "$A_KEY" <<<"$OUT"

# ---- version
V=$("$MESH_BIN/meshctl" --version)
lab_check "meshctl --version prints a version ($V)" test -n "$V"
lab_check "meshd --version prints the same one" test "$("$MESH_BIN/meshd" --version)" == "$V"
meshctl_out a version
lab_check "meshctl version names both: $(echo $OUT)" test "$OUT" == "meshctl $V"$'\n'"meshd $V"
meshctl_out a version --json
lab_check "meshctl version --json: meshd == meshctl" test "$(json_of "$OUT" 'j["meshd"] == j["meshctl"]')" == True

# ---- ip
meshctl_out a ip -4
lab_check "ip -4 is a's overlay IPv4 ($OUT)" test "$OUT" == "$MESHLAB_A4"
meshctl_out a ip
lab_check "ip prints IPv4 then IPv6" test "$(printf '%s\n' "$OUT" | head -1)" == "$MESHLAB_A4"
lab_check "ip prints two lines" test "$(printf '%s\n' "$OUT" | wc -l)" == 2
meshctl_out a ip -6 b
B6=$OUT
lab_check "ip -6 b is b's overlay IPv6 ($B6)" test "$B6" == "$(meshlab_field b "j['ipv6']")"
meshctl_out a ip b --json
lab_check "ip b --json" test "$(json_of "$OUT" 'j["name"] + " " + j["ipv4"]')" == "b $MESHLAB_B4"
meshctl_out a ip nobody
lab_check "ip of an unknown peer fails with one line: $ERR" test "$RC" != 0 -a "$(one_line "$ERR" && echo y)" == y

# ---- whois
meshctl_out a whois "$MESHLAB_B4"
lab_info "whois $MESHLAB_B4:"; printf '%s\n' "$OUT" | sed 's/^/      /'
lab_check "whois names b" grep -q '^name *b$' <<<"$OUT"
meshctl_out a whois "$B6" --json
lab_check "whois IPv6 --json: b, online, not self" test "$(json_of "$OUT" '(j["name"], j["online"], j["self"], len(j["key"]))')" == "('b', True, False, 8)"
meshctl_out a whois 100.127.255.254
lab_check "whois of an unused address fails with one line: $ERR" test "$RC" != 0 -a "$(one_line "$ERR" && echo y)" == y

# ---- ping: from a relayed start (no traffic yet), until a direct Pong
meshlab_path_is a b relay && lab_info "a's path to b starts relayed" || lab_info "a's path to b: $(meshlab_peer_field a b "p.get('path')")"
meshctl_out a ping --until-direct --interval 0.5 b
printf '%s\n' "$OUT" | sed 's/^/      /'
lab_check "ping --until-direct exits 0" test "$RC" == 0
lab_check "its last reply came over a direct path" grep -q "^pong from b ($MESHLAB_B4) via direct 203.0.113.12:41641 in [0-9.]* ms$" <<<"$(printf '%s\n' "$OUT" | tail -1)"
meshctl_out a ping -c 3 b
printf '%s\n' "$OUT" | sed 's/^/      /'
lab_check "ping -c 3 b: exit 0" test "$RC" == 0
lab_check "ping -c 3 b: three pongs" test "$(grep -c '^pong from b ' <<<"$OUT")" == 3
meshctl_out a ping -c 2 --interval 0 b --json
lab_check "ping --json: 2 sent, 2 answered, direct" test "$(json_of "$OUT" '(j["sent"], j["answered"], j["direct"], j["replies"][0]["path"])')" == "(2, 2, True, 'direct')"
meshctl_out a ping -c 1 nosuchpeer
lab_check "ping of a nonexistent peer: non-zero, one line: $ERR" test "$RC" != 0 -a "$(one_line "$ERR" && echo y)" == y
lab_check "… and it says which peers there are" grep -q "no peer named 'nosuchpeer'" <<<"$ERR"

# ---- netcheck (the daemon's own probe from its UDP socket)
T0=$EPOCHREALTIME
meshctl_out a netcheck
NETCHECK_S=$(meshlab_since "$T0")
printf '%s\n' "$OUT" | sed 's/^/      /'
lab_check "netcheck answered in ${NETCHECK_S}s (limit 5 s)" awk -v t="$NETCHECK_S" 'BEGIN{exit !(t < 5)}'
lab_check "netcheck: UDP works" grep -q '^UDP: yes$' <<<"$OUT"
lab_check "netcheck: easy NAT behind eim" grep -q '^NAT: easy' <<<"$OUT"
meshctl_out a netcheck --json
lab_check "netcheck --json: udp, easy, a public IPv4 endpoint, a preferred relay" \
    test "$(json_of "$OUT" 'j["udp"] and j["nat"] == "easy" and j["ipv4"].startswith("203.0.113.11:") and bool(j["preferredRelay"])')" == True

# ---- metrics (after some overlay traffic, so that there are bytes to count)
lab_tunnel_ping a "$MESHLAB_B4" "overlay a -> b"
meshctl_out a metrics
lab_info "metrics: $(grep -vc '^#' <<<"$OUT") samples, e.g. $(grep -m1 '^mesh_peer_received_bytes_total' <<<"$OUT")"
lab_check "metrics: Prometheus text with the peer count" grep -q '^mesh_peers 1$' <<<"$OUT"
lab_check "metrics: bytes from b counted" grep -Eq '^mesh_peer_received_bytes_total\{peer="b"\} [1-9]' <<<"$OUT"
meshctl_out a metrics --json
lab_check "metrics --json is a list of families" test "$(json_of "$OUT" 'all("name" in f and "samples" in f for f in j) and len(j) > 5')" == True

# ---- who may do what
lab_check "a's socket is mode 660, group mesh" test "$(stat -c '%a %G' "$LAB_DIR/a.sock")" == "660 mesh"
as_user 65534 - status --socket "$LAB_DIR/a.sock"; NONMEMBER=$OUT
lab_check "a non-root user outside the group is refused (exit $RC): $NONMEMBER" test "$RC" != 0 -a "$(one_line "$NONMEMBER" && echo y)" == y
lab_check "… with the reason" grep -q "permission denied on $LAB_DIR/a.sock: run meshctl as root or as a member of the group 'mesh'" <<<"$NONMEMBER"
as_user 65534 "$MESH_GID" ip -4 --socket "$LAB_DIR/a.sock"; MEMBER=$OUT
lab_check "a member of mesh reads (ip -4: $MEMBER)" test "$RC" == 0 -a "$MEMBER" == "$MESHLAB_A4"
as_user 65534 "$MESH_GID" down --socket "$LAB_DIR/a.sock"; MEMBER=$OUT
lab_check "a member of mesh cannot take the tunnel down: $MEMBER" test "$RC" != 0 -a "$(one_line "$MEMBER" && echo y)" == y
lab_check "… because it needs root" grep -q "needs root (the request came from uid 65534)" <<<"$MEMBER"
lab_check "the tunnel is still up after the refusal" overlay_ping a "$MESHLAB_B4"

# ---- down / up
meshctl_out a down
lab_check "down: $OUT" test "$RC" == 0
lab_check "mesh0 in a is down" link_down a mesh0
lab_check "overlay ping a -> b fails while down" overlay_ping_fails a "$MESHLAB_B4"
meshctl_out a ping -c 1 b
lab_check "meshctl ping fails while down, one line: $ERR" test "$RC" != 0 -a "$(one_line "$ERR" && echo y)" == y
lab_check "a is still registered (node list: $(node_state a))" test "$(node_state a)" == active
meshctl_out a down --json
lab_check "down again: changed false" test "$(json_of "$OUT" '(j["state"], j["changed"])')" == "('down', False)"
meshctl_out a up
lab_check "up: $OUT" test "$RC" == 0
lab_wait_until 10 "overlay ping a -> b works again after up" overlay_ping a "$MESHLAB_B4"
if [[ ${NATLAB_IPV6:-off} != off ]]; then lab_wait_until 10 "and over IPv6" lab_in a ping -6 -n -c 1 -W 1 "$B6"; fi
meshctl_out a ping -c 1 b
lab_check "meshctl ping works again: $OUT" test "$RC" == 0
meshctl_out a up --join-file /nonexistent
lab_check "up --join-file on a running meshd says where the token goes: $ERR" test "$RC" != 0 -a "$(one_line "$ERR" && echo y)" == y

# ---- whois: user and tags; a peer the policy hides is absent, not offline (issue 11 item 6)
whois_json() { "$MESH_BIN/meshctl" whois "$2" --json --socket "$LAB_DIR/$1.sock" 2>/dev/null \
    | "$LAB_PY" -c 'import json,sys; j=json.load(sys.stdin); sys.exit(0 if eval(sys.argv[1]) else 1)' "$3"; }
meshctl_out a whois "$MESHLAB_A4" --json
lab_check "whois of a's own address: user alice, no tags" test "$(json_of "$OUT" '(j.get("user"), j["tags"], j["self"])')" == "('alice', [], True)"
meshctl_out b whois "$MESHLAB_A4"
printf '%s\n' "$OUT" | sed 's/^/      /'
lab_check "b's whois of a: user alice" grep -q '^user *alice$' <<<"$OUT"
lab_check "… and tags -" grep -q '^tags *-$' <<<"$OUT"
B_ID=$(coord node list --json | "$LAB_PY" -c "import json,sys; print([n['id'] for n in json.load(sys.stdin) if n['name']=='b'][0])")
coord node tag "$B_ID" tag:web >/dev/null
lab_wait_until 2 "a's whois of b shows tag:web and no user" whois_json a "$MESHLAB_B4" 'j["tags"] == ["tag:web"] and "user" not in j'
meshctl_out a whois "$MESHLAB_B4"
lab_check "whois b: tags tag:web" grep -q '^tags *tag:web$' <<<"$OUT"
lab_check "a's status names b's tag in --json" meshlab_status_has a "[p for p in j['peers'] if p.get('name') == 'b' and p.get('tags') == ['tag:web']]"
lab_check "b's status line names its tags" bash -c 'grep -q "^node b .* tags tag:web " <<<"$("$1" status --socket "$2")"' _ "$MESH_BIN/meshctl" "$LAB_DIR/b.sock"
# Only web servers reach web servers: a (alice) and b (tag:web) may not talk either way.
cat > "$LAB_DIR/policy.hujson" <<'P'
{
  "tagOwners": {"tag:web": []},
  "acls": [{"action": "accept", "src": ["tag:web"], "dst": ["tag:web:443"]}],
}
P
coord policy set "$LAB_DIR/policy.hujson" >/dev/null
HIDE_AT=$EPOCHREALTIME
lab_wait_until 2 "a lists b as absent (policy)" meshlab_status_has a "[p for p in j.get('absentPeers') or [] if p['name'] == 'b' and p['reason'] == 'policy']"
HIDDEN_IN=$(meshlab_since "$HIDE_AT")
lab_check "… and no longer among its peers" meshlab_status_has a "not [p for p in j['peers'] if p.get('name') == 'b']"
lab_wait_until 2 "b lists a as absent (policy)" meshlab_status_has b "[p for p in j.get('absentPeers') or [] if p['name'] == 'a']"
meshctl_out a status
printf '%s\n' "$OUT" | grep -E '^(NAME|b ) ' | sed 's/^/      /'
lab_check "status table: b is 'absent (policy)', not offline" grep -Eq "^b +$MESHLAB_B4 +absent \(policy\) " <<<"$OUT"
lab_check "… and no row says offline" bash -c '! grep -q offline <<<"$1"' _ "$OUT"
meshctl_out a whois "$MESHLAB_B4"
printf '%s\n' "$OUT" | sed 's/^/      /'
lab_check "whois of hidden b: exit 0 ($RC) and says hidden by the policy" \
    test "$RC" == 0 -a "$(grep -c '^status *absent: hidden from this node by the access policy' <<<"$OUT")" == 1
meshctl_out a whois "$B6" --json
lab_check "whois --json of hidden b: hiddenByPolicy, no online, no path, tag:web as last seen" \
    test "$(json_of "$OUT" '(j["name"], j["hiddenByPolicy"], "online" in j, "path" in j, j["tags"])')" == "('b', True, False, False, ['tag:web'])"
meshctl_out a ping -c 1 b
lab_check "ping of hidden b fails with one line: $ERR" test "$RC" != 0 -a "$(one_line "$ERR" && echo y)" == y
lab_check "… saying b is hidden by the policy" grep -q "b ($MESHLAB_B4) is hidden from this node by the access policy" <<<"$ERR"
lab_check "overlay ping a -> b fails while hidden" overlay_ping_fails a "$MESHLAB_B4"
meshctl_out a metrics
lab_check "metrics while hidden: mesh_peers 0, mesh_peers_absent 1" \
    bash -c 'grep -q "^mesh_peers 0$" <<<"$1" && grep -q "^mesh_peers_absent 1$" <<<"$1"' _ "$OUT"
# The mark is kept with the saved netmap: a restarted a still lists b as absent.
meshlab_node_restart a a
lab_wait_until 20 "restarted a is connected" meshlab_status_has a "j.get('control') == 'connected'"
lab_check "restarted a still lists b as absent (policy)" meshlab_status_has a "[p for p in j.get('absentPeers') or [] if p['name'] == 'b'] and not [p for p in j['peers'] if p.get('name') == 'b']"
# Visible again: b is a peer again, no longer absent.
cat > "$LAB_DIR/policy.hujson" <<'P'
{
  "tagOwners": {"tag:web": []},
  "acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}],
}
P
coord policy set "$LAB_DIR/policy.hujson" >/dev/null
lab_wait_until 2 "a sees b as a peer again, nothing absent" meshlab_status_has a "[p for p in j['peers'] if p.get('name') == 'b'] and not j.get('absentPeers')"
lab_wait_until 10 "overlay ping a -> b works again" overlay_ping a "$MESHLAB_B4"
lab_info "b hidden from a ${HIDDEN_IN}s after policy set"

# ---- logout (b leaves)
meshctl_out b logout
lab_check "logout: $OUT" test "$RC" == 0
lab_wait_until 10 "meshd b exits after logout" meshd_gone b
lab_check "b is expired in the coordinator's node list ($(node_state b))" test "$(node_state b)" == expired
lab_check "a is still active ($(node_state a))" test "$(node_state a)" == active
lab_check "b's state dir no longer holds the registration (the node key stays)" \
    test ! -e "$LAB_DIR/b-state/registration.json" -a -e "$LAB_DIR/b-state/node.key"

# ---- no daemon
meshctl_out b status
lab_check "no daemon: non-zero exit, one line: $ERR" test "$RC" != 0 -a "$(one_line "$ERR" && echo y)" == y
lab_check "… saying meshd is not running" grep -q "meshd is not running" <<<"$ERR"

lab_done
