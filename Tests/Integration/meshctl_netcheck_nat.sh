#!/usr/bin/env bash
# meshctl netcheck behind a hard NAT (issue 10, item 3): node a behind "edm" (a new public port
# per destination), b behind "eim". a's netcheck answers within 5 s and says hard NAT with no
# single public endpoint; b's says easy NAT with its endpoint; ping still gets answers.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"

json_of() { printf '%s' "$1" | "$LAB_PY" -c 'import json,sys; j=json.load(sys.stdin); v=eval(sys.argv[1]); print("" if v is None else v)' "$2"; }
# The daemon's first STUN round has finished once both servers have answered.
probed() { [[ $(json_of "$(lab_meshctl "$1" netcheck --json)" 'len([s for s in j["servers"] if s["mapped"]])') == 2 ]]; }

meshlab_up edm eim
lab_wait_until 10 "a's first STUN round is in" probed a
lab_wait_until 10 "b's first STUN round is in" probed b

T0=$EPOCHREALTIME
OUT=$(lab_meshctl a netcheck)
S=$(meshlab_since "$T0")
printf '%s\n' "$OUT" | sed 's/^/      /'
lab_check "a's netcheck answered in ${S}s (limit 5 s)" awk -v t="$S" 'BEGIN{exit !(t < 5)}'
lab_check "a: hard NAT behind edm" grep -q '^NAT: hard' <<<"$OUT"
lab_check "a: no single public IPv4 endpoint" grep -q '^IPv4: varies by destination$' <<<"$OUT"
J=$(lab_meshctl a netcheck --json)
lab_check "a --json: nat hard, ipv4 null, mappingVariesByDestination true" \
    test "$(json_of "$J" '(j["nat"], j.get("ipv4"), j["mappingVariesByDestination"])')" == "('hard', None, True)"
J=$(lab_meshctl b netcheck --json)
lab_check "b --json: nat easy, ipv4 $(json_of "$J" 'j["ipv4"]')" \
    test "$(json_of "$J" '(j["nat"], j["ipv4"])')" == "('easy', '203.0.113.12:41641')"
OUT=$(lab_meshctl a ping -c 3 --interval 0.2 b)
printf '%s\n' "$OUT" | sed 's/^/      /'
lab_check "a pings b through the hard NAT: 3 pongs" test "$(grep -c '^pong from b ' <<<"$OUT")" == 3

lab_done
