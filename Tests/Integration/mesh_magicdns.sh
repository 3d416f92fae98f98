#!/usr/bin/env bash
# MagicDNS (issue 11 item 5, the serving half): meshd answers DNS at 100.100.100.100 (and at
# <overlay IPv6 prefix>:53::53) for this host. a and b behind eim NATs, dual-stack by default
# (NATLAB_IPV6=off runs the IPv4 half only); the coordinator's config has extra_records.
# Checks, from a: b.mesh A (UDP and TCP) and AAAA, a's own name, PTR for b's addresses,
# NXDOMAIN for nope.mesh, the extra records (in the domain and outside it), a name that only
# the lab's DNS server knows (coord.lab.test) forwarded to the resolver a's resolv.conf named,
# a rename at the coordinator answered under the new name within 1 s. Not an open resolver:
# a's NAT router, routing 100.100.100.100 to a's LAN address, gets no answer over UDP or TCP.
# b restarted with --dns-address off: nothing listens on port 53 there.
# getent/resolv.conf management is mesh_magicdns_resolv.sh's.
set -euo pipefail
export NATLAB_IPV6=${NATLAB_IPV6:-dual}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"
command -v dig >/dev/null || lab_fail "dig is missing (Packaging/install-deps.sh installs dnsutils)"

mkdir -p "$LAB_DIR"
cat > "$LAB_DIR/coord.toml" <<'T'
extra_records = ["db.mesh A 100.64.0.9", "db.mesh AAAA fd7a:115c:a1e0::9", "grafana.corp.internal A 10.9.8.7"]
T
MESHLAB_COORD_ARGS="--config $LAB_DIR/coord.toml"
# big.lab.test: 40 A records at the lab's DNS server (656 bytes of answers: truncated in 512).
MESHLAB_DNS_EXTRA=$(for i in $(seq 1 40); do printf 'big.lab.test=10.77.0.%d ' "$i"; done)
meshlab_up eim eim
A4=$MESHLAB_A4 B4=$MESHLAB_B4
A6=$(meshlab_field a "j['ipv6']") B6=$(meshlab_field b "j['ipv6']")
DNS=100.100.100.100

# ask NS [dig args...]: dig's short answer, one try, 1 s
ask() { local ns=$1; shift; lab_in "$ns" dig +short +time=1 +tries=1 "$@" 2>&1; }
# status NS [dig args...]: the answer's status (NOERROR, NXDOMAIN, ...)
status() { local ns=$1; shift; lab_in "$ns" dig +time=1 +tries=1 "$@" 2>&1 | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
expect() { # WHAT WANT NS [dig args...]
    local what=$1 want=$2; shift 2
    local got; got=$(ask "$@")
    [[ $got == "$want" ]] || lab_fail "$what: dig $* gave '$got', expected '$want'"
    lab_pass "$what: $want"
}

lab_wait_until 5 "a answers on $DNS:53" meshlab_listening_on a "$DNS:53"
expect "b.mesh A over UDP" "$B4" a @"$DNS" b.mesh A
expect "b.mesh A over TCP" "$B4" a @"$DNS" +tcp b.mesh A
expect "a's own name" "$A4" a @"$DNS" a.mesh A
expect "case does not matter" "$B4" a @"$DNS" B.Mesh A
expect "PTR for b's IPv4" "b.mesh." a @"$DNS" -x "$B4"
[[ $(status a @"$DNS" nope.mesh A) == NXDOMAIN ]] || lab_fail "nope.mesh is not NXDOMAIN"
lab_pass "nope.mesh: NXDOMAIN"
[[ $(status a @"$DNS" +tcp nope.mesh A) == NXDOMAIN ]] || lab_fail "nope.mesh over TCP is not NXDOMAIN"
lab_pass "nope.mesh over TCP: NXDOMAIN"
expect "extra record db.mesh A" "100.64.0.9" a @"$DNS" db.mesh A
expect "extra record db.mesh AAAA" "fd7a:115c:a1e0::9" a @"$DNS" db.mesh AAAA
expect "extra record outside the domain" "10.9.8.7" a @"$DNS" grafana.corp.internal A
expect "forwarded to the lab's DNS server" "$MESHLAB_COORD" a @"$DNS" coord.lab.test A
expect "forwarded over TCP" "$MESHLAB_COORD" a @"$DNS" +tcp coord.lab.test A
# Without EDNS the lab's UDP answer is truncated: a UDP client sees TC, a TCP client gets all 40
# records (meshd asks the lab's server again over TCP).
lab_in a dig +time=1 +tries=1 +noedns +ignore @"$DNS" big.lab.test A > "$LAB_DIR/big-udp.txt" 2>&1 || true
grep -q "flags: qr tc\|flags:.* tc" "$LAB_DIR/big-udp.txt" || lab_fail "no TC over UDP for big.lab.test: $(head -c 300 "$LAB_DIR/big-udp.txt")"
lab_pass "big.lab.test over UDP without EDNS: truncated (TC)"
BIG=$(ask a @"$DNS" +tcp +noedns big.lab.test A | grep -c '^10\.77\.0\.')
[[ $BIG == 40 ]] || lab_fail "big.lab.test over TCP gave $BIG of 40 records"
lab_pass "big.lab.test over TCP: all 40 records (meshd refetched the truncated answer over TCP)"
[[ $(status a @"$DNS" nothing.lab.test A) == NXDOMAIN ]] || lab_fail "the lab's NXDOMAIN did not come back"
lab_pass "the lab's NXDOMAIN for nothing.lab.test comes back"

# (The addresses read first: with pipefail, grep -q closing the pipe early fails the pipeline.)
A_ADDRS=$(lab_in a ip -o -6 addr show) B_ADDRS=$(lab_in b ip -o -6 addr show)
if grep -qF "$A6" <<<"$A_ADDRS" && grep -qF "$B6" <<<"$B_ADDRS"; then
    DNS6=$(python3 -c "import ipaddress,sys; p=ipaddress.ip_network(sys.argv[1]+'/48',strict=False); print(ipaddress.ip_address(int(p.network_address)|(0x53<<64)|0x53))" "$A6")
    lab_wait_until 5 "a answers on [$DNS6]:53" meshlab_listening_on a "[$DNS6]:53"
    expect "b.mesh AAAA" "$B6" a @"$DNS" b.mesh AAAA
    expect "b.mesh A at [$DNS6]" "$B4" a @"$DNS6" b.mesh A
    expect "b.mesh AAAA at [$DNS6] over TCP" "$B6" a @"$DNS6" +tcp b.mesh AAAA
    expect "PTR for b's IPv6" "b.mesh." a @"$DNS" -x "$B6"
elif [[ $NATLAB_IPV6 != off ]]; then
    lab_fail "NATLAB_IPV6=$NATLAB_IPV6 but the overlay IPv6 addresses ($A6, $B6) are not on a and b"
else
    lab_info "no overlay IPv6 in this lab (NATLAB_IPV6=off): AAAA and the IPv6 DNS address skipped"
fi

# Not an open resolver: a's router sends queries for 100.100.100.100 to a's LAN address. a's
# kernel has the address (on mesh0) but the sockets are bound to mesh0, so nothing answers.
lab_in r1 ip route add "$DNS/32" via "$NATLAB_A_IP"
got=$(ask r1 @"$DNS" b.mesh A || true)
[[ $got != "$B4" && $got != *"$B4"* ]] || lab_fail "a's router got an answer through the LAN: $got"
lab_pass "a's router, routing $DNS to a's LAN address, gets no answer over UDP ($(echo "$got" | head -n 1))"
got=$(ask r1 @"$DNS" +tcp b.mesh A || true)
[[ $got != *"$B4"* ]] || lab_fail "a's router got a TCP answer through the LAN: $got"
lab_pass "... nor over TCP ($(echo "$got" | head -n 1))"
lab_in r1 ip route del "$DNS/32" via "$NATLAB_A_IP"
# meshd's own counters for this (the local API)
lab_info "a's MagicDNS counters: $(meshlab_field a "j.get('dns')")"

# A rename at the coordinator: served under the new name within 1 s.
coord() { "$MESH_BIN/meshcoord" "$@" --state-dir "$LAB_DIR/coord"; }
B_ID=$(coord node list --json | python3 -c "import json,sys; print([n['id'] for n in json.load(sys.stdin) if n['name']=='b'][0])")
renamed() { [[ $(ask a @"$DNS" bee.mesh A) == "$B4" ]]; }
coord node rename "$B_ID" bee >/dev/null
RENAMED_AT=$EPOCHREALTIME
lab_wait_until 3 "bee.mesh answers b's address" renamed
RENAME_IN=$(meshlab_since "$RENAMED_AT")
awk -v t="$RENAME_IN" 'BEGIN{exit !(t <= 1)}' || lab_fail "bee.mesh answered only ${RENAME_IN}s after the rename (limit 1 s)"
lab_pass "after the rename bee.mesh answers $B4 ${RENAME_IN}s later"
[[ $(status a @"$DNS" b.mesh A) == NXDOMAIN ]] || lab_fail "the old name b.mesh still answers"
lab_pass "the old name b.mesh: NXDOMAIN"

# --dns-address off: b serves no DNS.
lab_check "b answers on $DNS:53 before" meshlab_listening_on b "$DNS:53"
meshlab_node_restart b b --dns-address off
lab_wait_until 20 "b up again" meshlab_status_has b "j.get('control') == 'connected'"
if meshlab_listening_on b "$DNS:53"; then lab_fail "b listens on $DNS:53 with --dns-address off"; fi
lab_in b ip -o addr show | grep -qF "$DNS" && lab_fail "b has $DNS with --dns-address off"
lab_pass "--dns-address off: b has no $DNS and nothing on port 53"
lab_done "MagicDNS: names, PTR, NXDOMAIN, extra records, forwarding, TCP, rename in ${RENAME_IN}s, closed to the LAN"
