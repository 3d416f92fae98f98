#!/usr/bin/env bash
# `meshctl status` a person reads, and a killed peer's presence (issue 10 item 4): nodes a and b
# behind "eim" NATs plus a third node "alpha" on a public host (it registers last, so a's
# netmap lists b before alpha while the table must list alpha first). a's plain-text status
# lists its peers sorted by name, online, with a path, no line ending in a space. Then b's
# meshd is killed (SIGKILL: its kernel closes the long-poll connection, and the nginx proxy in
# front of the coordinator closes its upstream one); a's status JSON must show b offline within
# 15 s (the coordinator marks a node offline a few seconds after its poll connection went
# away, not after offline_after_seconds of silence), and the text shows "offline, last seen".
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"

ALPHA_IP=203.0.113.30

# status_text NAME: a's plain-text status into $LAB_DIR/NAME.status.txt
status_text() { lab_meshctl "$1" status > "$LAB_DIR/$1.status.txt" 2> "$LAB_DIR/$1.status.txt.err"; }

# peer_names FILE: the NAME column of the table's rows, in printed order
peer_names() { awk 'seen { print $1 } /^NAME /{ seen = 1 }' "$1"; }

# text_checks NAME: no trailing spaces; rows sorted by name; prints the table to the log
text_checks() {
    local f=$LAB_DIR/$1.status.txt
    sed 's/^/    | /' "$f"
    if grep -n ' $' "$f" >&2; then lab_fail "$1's status text has lines ending in a space (above)"; fi
    lab_pass "$1's status text: no line ends in a space"
    local names sorted
    names=$(peer_names "$f")
    sorted=$(printf '%s\n' "$names" | LC_ALL=C sort)
    [[ -n $names && $names == "$sorted" ]] || lab_fail "$1's peers are not sorted by name: $(echo $names)"
    lab_pass "$1's peers sorted by name: $(echo $names)"
}

# text_row NAME PEER: the table row of PEER in NAME's last status text
text_row() { awk -v p="$2" 'seen && $1 == p { print } /^NAME /{ seen = 1 }' "$LAB_DIR/$1.status.txt"; }

# peer_offline NAME PEER: NAME's status JSON says PEER is offline
peer_offline() { meshlab_status_has "$1" "any(p.get('name') == '$2' and p.get('online') is False for p in j['peers'])"; }

meshlab_up eim eim
natlab_public_host alpha-host "$ALPHA_IP"
lab_dns_use alpha-host
meshlab_node_start alpha alpha-host
lab_wait_until 10 "a sees alpha in its netmap" meshlab_status_has a "[p for p in j['peers'] if p.get('name') == 'alpha']"
order=$(meshlab_field a "' '.join(p.get('name') or '?' for p in j['peers'])")
lab_info "a's peers in the order meshd lists them: $order"

lab_wait_until 10 "first ping a -> b over the overlay" lab_in a ping -n -c 1 -W 1 "$MESHLAB_B4"
meshlab_wait_path a b direct 10
lab_wait_until 10 "a's status JSON: b online with a latency" \
    meshlab_status_has a "any(p.get('name') == 'b' and p.get('online') and p.get('latencyMs') is not None for p in j['peers'])"

status_text a || lab_fail "meshctl status on a failed: $(cat "$LAB_DIR/a.status.txt.err")"
text_checks a
row=$(text_row a b)
[[ $row == *" online "* && $row == *"direct "* && $row == *" ms "* ]] \
    || lab_fail "a's row for b does not say online, direct and a latency: '$row'"
lab_pass "a's row for b: $row"
[[ $(peer_names "$LAB_DIR/a.status.txt" | tr '\n' ' ') == "alpha b " ]] || lab_fail "a's table does not list alpha then b"
status_text a
keys_full=$(meshlab_field a "next(p['publicKey'] for p in j['peers'] if p.get('name') == 'b')")
grep -qF "$keys_full" "$LAB_DIR/a.status.txt" && lab_fail "a's status text shows b's full key without --keys"
lab_pass "a's status text shows short keys (${keys_full:0:8}…)"

lab_info "killing b's meshd (SIGKILL, pid $(lab_pid b))"
t0=$EPOCHREALTIME
lab_stop b KILL
lab_wait_until 15 "a's status JSON shows b offline" peer_offline a b
took=$(meshlab_since "$t0")
lab_info "b offline on a ${took}s after b's meshd was killed (limit 15 s)"
lab_check "alpha is still online on a" meshlab_status_has a "any(p.get('name') == 'alpha' and p.get('online') for p in j['peers'])"
status_text a
text_checks a
row=$(text_row a b)
[[ $row == *"offline, last seen "*" ago"* ]] || lab_fail "a's row for b does not say offline, last seen: '$row'"
lab_pass "a's row for b: $row"
lab_done "status sorted, no trailing spaces, short keys; killed b offline on a after ${took}s"
