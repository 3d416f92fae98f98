#!/usr/bin/env bash
# meshd_offloads.sh - the data path's offloads and each one's fallback carry traffic intact.
#
#   ns a: veth 10.77.0.1/24, overlay 10.100.0.1/24 + fd7a:100::1/64
#   ns b: veth 10.77.0.2/24, overlay 10.100.0.2/24 + fd7a:100::2/64
#
# One fresh meshd pair per case. In each: a 24 MiB file of random bytes sent a->b and b->a
# over TCP on IPv4, and a->b on IPv6, its sha256 compared end to end; 400 numbered UDP
# datagrams a->b sent 8 per UDP_SEGMENT send (so the kernel hands the TUN UDP super-packets
# where USO is granted), each checked byte for byte at b; `meshctl status --json`'s dataPath
# shows the path each case means to force was taken:
#   all        every offload on: TSO split at a, GSO sends, GRO receives and merged writes at b
#   tun        MESH_DISABLE_OFFLOADS=tun on both (as if the kernel refused IFF_VNET_HDR): no
#              virtio header, one packet per read and write
#   uso        MESH_DISABLE_OFFLOADS=uso (as if a pre-6.2 kernel refused USO): TSO only
#   tx-off     tx checksumming off on a's veth: before Linux 6.11 the kernel refused UDP GSO
#              with EIO then; newer kernels checksum in software and keep GSO. Either way intact.
#   gso-eio    a's sendmmsg fails with EIO for every GSO message (gso_eio_preload.c, preloaded
#              into a's meshd: the kernel's answer on a route it cannot segment on, which this
#              lab cannot build: its kernel has no IPsec); a turns GSO off after the first,
#              resends that batch one datagram per message, and never asks again
#   gro-off    MESH_DISABLE_OFFLOADS=udp-gro,tun-gro on b: no GRO, no merged writes
set -euo pipefail
source "$(dirname "$0")/lab.sh"
lab_mesh_bin
LAB_MESHD_ARGS=""
MTU=1420
TOOL="python3 $(cd "$(dirname "$0")" && pwd)/offload_transfer.py"
FILE=$LAB_DIR/payload.bin
head -c $((24 << 20)) /dev/urandom > "$FILE"
WANT=$(sha256sum "$FILE" | cut -d' ' -f1)

lab_ns_add a b
# The overlay carries IPv6 too (TSO6, merged IPv6 writes); the underlay stays IPv4.
for n in a b; do lab_in "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0; done
lab_veth a veth0 10.77.0.1/24 b veth0 10.77.0.2/24

json() { lab_meshctl "$1" status --json; }
field() { json "$1" | python3 -c "import json,sys; d=json.load(sys.stdin)['dataPath']; print(eval(sys.argv[1], {}, d))" "$2"; }
expect() { # NODE PYTHON-EXPRESSION-OVER-dataPath DESCRIPTION
    local got; got=$(field "$1" "$2")
    [[ $got == True ]] || { json "$1" | python3 -m json.tool | grep -A14 dataPath >&2; lab_fail "$3 ($1: $2 is $got)"; }
    lab_pass "$3"
}

transfer() { # CASE FROM TO DST-ADDRESS PORT
    local c=$1 from=$2 to=$3 dst=$4 port=$5
    local out=$LAB_DIR/$c-$from-$to-$port.out
    lab_start "srv-$c-$port" "$to" $TOOL serve-tcp "$dst" "$port"
    lab_wait_until 10 "$c: receiver listening on [$dst]:$port" lab_listening "$to" tcp "$port"
    local t0=$EPOCHREALTIME
    lab_in "$from" timeout 60 $TOOL send-tcp "$dst" "$port" "$FILE" > "$out.sent" || lab_fail "$c: send $from->$to failed"
    lab_wait_until 30 "$c: receiver done" lab_q bash -c "! kill -0 $(lab_pid "srv-$c-$port") 2>/dev/null"
    local got; got=$(cut -d' ' -f1 "$(lab_logfile "srv-$c-$port")")
    local secs; secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')
    [[ $got == "$WANT" ]] || lab_fail "$c: $from->$to [$dst] sha256 $got, sent $WANT"
    lab_pass "$c: 24 MiB $from->$to over [$dst]: sha256 ${WANT:0:16}... matches ($secs s)"
}

udp_gso() { # CASE
    local c=$1 port=6001
    lab_start "usrv-$c" b $TOOL serve-udp 10.100.0.2 "$port" 400
    lab_wait_until 10 "$c: UDP receiver bound" lab_listening b udp "$port"
    lab_in a timeout 30 $TOOL send-udp-gso 10.100.0.2 "$port" 400 1200 8 >/dev/null || lab_fail "$c: UDP GSO send failed"
    lab_wait_until 15 "$c: UDP receiver done" lab_q bash -c "! kill -0 $(lab_pid "usrv-$c") 2>/dev/null"
    local r; r=$(cat "$(lab_logfile "usrv-$c")")
    [[ $r =~ received=([0-9]+)\ intact=([0-9]+)\ corrupt=([0-9]+) ]] || lab_fail "$c: UDP receiver said '$r'"
    [[ ${BASH_REMATCH[3]} == 0 && ${BASH_REMATCH[1]} -ge 380 ]] || lab_fail "$c: UDP datagrams: $r (want >= 380 of 400, none corrupt)"
    lab_pass "$c: UDP sent 8 per GSO send: $r"
}

run_case() { # CASE ENV_A ENV_B
    local c=$1 env_a=$2 env_b=$3
    lab_info "=== case $c (a: MESH_DISABLE_OFFLOADS='$env_a', b: '$env_b')"
    lab_node_genkey meshd "$LAB_DIR/a-$c"
    lab_node_genkey meshd "$LAB_DIR/b-$c"
    MESH_DISABLE_OFFLOADS=$env_b lab_node_up meshd "b-$c" b "10.100.0.2/24, fd7a:100::2/64" 51820 $MTU "$LAB_DIR/b-$c" \
        "$LAB_DIR/a-$c.pub" "10.100.0.1/32, fd7a:100::1/128"
    LD_PRELOAD=${A_PRELOAD:-} MESH_DISABLE_OFFLOADS=$env_a lab_node_up meshd "a-$c" a "10.100.0.1/24, fd7a:100::1/64" 51820 $MTU "$LAB_DIR/a-$c" \
        "$LAB_DIR/b-$c.pub" "10.100.0.2/32, fd7a:100::2/128" 10.77.0.2:51820
    lab_wait_until 15 "$c: tunnel answers" lab_q lab_in a ping -n -c 1 -W 1 10.100.0.2
    lab_wait_until 15 "$c: IPv6 in the tunnel answers" lab_q lab_in a ping -n -c 1 -W 1 fd7a:100::2
    transfer "$c" a b 10.100.0.2 5001
    transfer "$c" b a 10.100.0.1 5002
    transfer "$c" a b fd7a:100::2 5003
    udp_gso "$c"
}

stop_case() { lab_node_down "a-$1"; lab_node_down "b-$1"; }

run_case all "" ""
expect a-all "'tso4' in tunOffloads and 'tso6' in tunOffloads and tunCoalescing and udpGSO and udpGRO" "all: a holds TSO4/6, merging, GSO, GRO"
expect a-all "superPacketsFromTunnel > 0 and segmentsSplit > superPacketsFromTunnel and gsoSends > 0" "all: a split super-packets and sent with GSO"
expect b-all "groReceives > 0 and superPacketsToTunnel > 0 and segmentsCoalesced > superPacketsToTunnel" "all: b received with GRO and wrote merged super-packets"
expect a-all "unusableTunnelReads == 0 and gsoRefusals == 0" "all: no unusable TUN read, no GSO refusal"
USO=$(field a-all "'uso4' in tunOffloads")
[[ $USO == True ]] && lab_pass "all: the kernel granted USO" || lab_info "all: this kernel does not grant USO (TSO only)"
stop_case all

run_case tun tun tun
expect a-tun "tunOffloads == [] and not tunCoalescing and superPacketsFromTunnel == 0" "tun: a has no virtio header, no splitting"
expect b-tun "tunOffloads == [] and superPacketsToTunnel == 0" "tun: b writes one packet per write"
stop_case tun

run_case uso uso ""
expect a-uso "'tso4' in tunOffloads and 'uso4' not in tunOffloads and 'uso6' not in tunOffloads" "uso: a holds TSO without USO"
stop_case uso

lab_in a ethtool -K veth0 tx off >/dev/null 2>&1 || lab_fail "ethtool -K veth0 tx off in a"
run_case tx-off "" ""
if [[ $(field a-tx-off "udpGSO") == True ]]; then
    lab_pass "tx-off: this kernel keeps UDP GSO on a device without tx checksumming (software checksum)"
else
    expect a-tx-off "gsoRefusals >= 1" "tx-off: the kernel refused GSO (EIO) and a turned it off"
fi
stop_case tx-off
lab_in a ethtool -K veth0 tx on >/dev/null 2>&1 || true

gcc -shared -fPIC -O2 -o "$LAB_DIR/gso_eio_preload.so" "$(dirname "$0")/gso_eio_preload.c" -ldl \
    || lab_fail "building gso_eio_preload.so"
EIO_COUNT=$LAB_DIR/gso-eio.count
export GSO_EIO_COUNT_FILE=$EIO_COUNT
A_PRELOAD=$LAB_DIR/gso_eio_preload.so run_case gso-eio "" ""
expect a-gso-eio "not udpGSO and gsoRefusals == 1 and gsoSends == 0" "gso-eio: a turned GSO off at the first EIO"
lab_check "gso-eio: a asked for GSO once, not again after the refusal" test "$(wc -l < "$EIO_COUNT")" = 1
lab_check "gso-eio: a logged the refusal once" test "$(grep -c 'UDP GSO refused' "$(lab_logfile a-gso-eio)")" = 1
stop_case gso-eio

run_case gro-off "" "udp-gro,tun-gro"
expect b-gro-off "not udpGRO and not tunCoalescing and groReceives == 0 and superPacketsToTunnel == 0" "gro-off: b received without GRO, wrote single packets"
stop_case gro-off

lab_done "6 cases, 3 TCP transfers and one UDP GSO run each"
