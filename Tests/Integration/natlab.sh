# shellcheck shell=bash
# natlab.sh - the NAT topologies of DESIGN.md section 10, built on lab.sh.
#
#     source "$(dirname "$0")/lab.sh"; source "$(dirname "$0")/natlab.sh"
#     natlab_up eim edm          # node a behind an eim NAT, node b behind an edm NAT
#
#                         [inet] bridge br0 203.0.113.1/24 ("the internet")
#          wan0 203.0.113.11 |          wan0 203.0.113.12 |        eth0 203.0.113.100 (+ .101)
#                          [r1]                        [r2]                    [c] public host
#          lan0 10.1.0.1/24  |          lan0 10.2.0.1/24  |
#                [a] 10.1.0.10                [b] 10.2.0.10
#
# NAT types for each side: none (routed, no translation), eim (nft masquerade: endpoint-
# independent mapping, port preserving, address-and-port-dependent filtering), edm (masquerade
# fully-random: symmetric), block-udp (eim, and every forwarded UDP packet dropped), cgnat (an
# eim home router behind an eim carrier NAT: a -> r1 (10.1.0.1 / 10.64.0.2) -> cg (10.64.0.1 /
# 203.0.113.11)), tcp443 (eim, and only TCP to port 443 and DNS leave the LAN, as in hotels
# and offices that pass only HTTPS), proxy-only (eim, and only TCP to port 3128, the lab's HTTP
# proxy, and DNS leave the LAN). For B the type "same-lan" puts b at 10.1.0.20 on a's LAN
# behind r1.
# Routers drop unsolicited inbound packets silently, as home routers do.
#
# After natlab_up: NATLAB_A_IP / NATLAB_B_IP (LAN addresses), NATLAB_A_WAN / NATLAB_B_WAN
# (the router's public address), NATLAB_C_IP (203.0.113.100), NATLAB_C_IP2 (203.0.113.101).

NATLAB_C_IP=203.0.113.100
NATLAB_C_IP2=203.0.113.101

# _natlab_rules NS TYPE: the nftables ruleset of a router whose outside is wan0, inside lan0
_natlab_rules() {
    local ns=$1 type=$2 masq="masquerade" udpdrop="" outbound='iifname "lan0" oifname "wan0" accept'
    [[ $type == edm ]] && masq="masquerade fully-random"
    [[ $type == block-udp ]] && udpdrop="meta l4proto udp drop"
    if [[ $type == tcp443 ]]; then
        outbound='iifname "lan0" oifname "wan0" tcp dport { 53, 443 } accept
        iifname "lan0" oifname "wan0" udp dport 53 accept
        iifname "lan0" oifname "wan0" meta l4proto icmp accept'
    fi
    if [[ $type == proxy-only ]]; then
        outbound='iifname "lan0" oifname "wan0" tcp dport { 53, 3128 } accept
        iifname "lan0" oifname "wan0" udp dport 53 accept'
    fi
    if [[ $type == none ]]; then
        lab_in "$ns" nft -f - <<EOF || lab_fail "nft rules on $ns"
table ip natlab {
    chain forward { type filter hook forward priority 0; policy accept; }
}
EOF
        return
    fi
    lab_in "$ns" nft -f - <<EOF || lab_fail "nft rules on $ns ($type)"
table ip natlab {
    chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" $masq; }
    chain forward {
        type filter hook forward priority 0; policy drop;
        $udpdrop
        ct state established,related accept
        ct status dnat accept
        $outbound
        iifname "lan0" oifname "lan0" accept
    }
    chain input {
        type filter hook input priority 0; policy accept;
        iifname "wan0" ct state new meta l4proto != icmp drop
    }
}
EOF
}

# _natlab_router NAME WAN_NS WAN_IP/LEN WAN_GW LAN_IP/LEN TYPE: a router namespace whose wan0
# hangs off WAN_NS (the inet bridge if WAN_NS is "inet", else a plain veth) and whose lan0 is a
# bridge for its hosts.
_natlab_router() {
    local name=$1 wan_ns=$2 wan_ip=$3 wan_gw=$4 lan_ip=$5 type=$6
    lab_ns_add "$name"
    if [[ $wan_ns == inet ]]; then
        ip link add "wan0" netns "$LAB_ID-$name" type veth peer name "p-$name" netns "$LAB_ID-inet"
        lab_in inet ip link set "p-$name" master br0 up
    else
        ip link add "wan0" netns "$LAB_ID-$name" type veth peer name "d-$name" netns "$LAB_ID-$wan_ns"
        lab_in "$wan_ns" ip link set "d-$name" master lan0 up
    fi
    lab_in "$name" ip addr add "$wan_ip" dev wan0
    lab_in "$name" ip link set wan0 up
    lab_in "$name" ip link add lan0 type bridge
    lab_in "$name" ip addr add "$lan_ip" dev lan0
    lab_in "$name" ip link set lan0 up
    lab_in "$name" ip route add default via "$wan_gw"
    lab_in "$name" sysctl -qw net.ipv4.ip_forward=1
    # Hosts on one LAN talk through the router's switch unfiltered, as on a home router, even
    # where br_netfilter would send bridged frames through the router's firewall.
    lab_in "$name" sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null || true
    _natlab_rules "$name" "$type"
}

# _natlab_host NAME ROUTER IP/LEN GW: a host on ROUTER's LAN bridge
_natlab_host() {
    local name=$1 router=$2 ip=$3 gw=$4
    lab_ns_add "$name"
    ip link add eth0 netns "$LAB_ID-$name" type veth peer name "h-$name" netns "$LAB_ID-$router"
    lab_in "$router" ip link set "h-$name" master lan0 up
    lab_in "$name" ip addr add "$ip" dev eth0
    lab_in "$name" ip link set eth0 up
    lab_in "$name" ip route add default via "$gw"
}

# natlab_up TYPE_A TYPE_B: build the topology (see the header)
natlab_up() {
    local ta=$1 tb=$2
    lab_ns_add inet c
    lab_in inet ip link add br0 type bridge
    lab_in inet ip addr add 203.0.113.1/24 dev br0
    lab_in inet ip link set br0 up
    lab_in inet sysctl -qw net.ipv4.ip_forward=1
    ip link add eth0 netns "$LAB_ID-c" type veth peer name p-c netns "$LAB_ID-inet"
    lab_in inet ip link set p-c master br0 up
    lab_in c ip addr add "$NATLAB_C_IP/24" dev eth0
    lab_in c ip addr add "$NATLAB_C_IP2/24" dev eth0
    lab_in c ip link set eth0 up
    lab_in c ip route add default via 203.0.113.1

    if [[ $ta == cgnat ]]; then
        _natlab_router cg inet 203.0.113.11/24 203.0.113.1 10.64.0.1/24 eim
        _natlab_router r1 cg 10.64.0.2/24 10.64.0.1 10.1.0.1/24 eim
    else
        _natlab_router r1 inet 203.0.113.11/24 203.0.113.1 10.1.0.1/24 "$ta"
    fi
    _natlab_host a r1 10.1.0.10/24 10.1.0.1
    NATLAB_A_IP=10.1.0.10
    NATLAB_A_WAN=203.0.113.11
    if [[ $tb == same-lan ]]; then
        _natlab_host b r1 10.1.0.20/24 10.1.0.1
        NATLAB_B_IP=10.1.0.20
        NATLAB_B_WAN=203.0.113.11
    else
        _natlab_router r2 inet 203.0.113.12/24 203.0.113.1 10.2.0.1/24 "$tb"
        _natlab_host b r2 10.2.0.10/24 10.2.0.1
        NATLAB_B_IP=10.2.0.10
        NATLAB_B_WAN=203.0.113.12
    fi
    # A routed ("none") side is reachable by its LAN address from the whole internet.
    if [[ $ta == none ]]; then
        local ns; for ns in inet c r2; do lab_in "$ns" ip route add 10.1.0.0/24 via 203.0.113.11 2>/dev/null || true; done
    fi
    if [[ $tb == none ]]; then
        local ns; for ns in inet c r1; do lab_in "$ns" ip route add 10.2.0.0/24 via 203.0.113.12 2>/dev/null || true; done
    fi
    NATLAB_TYPES="$ta/$tb"
    lab_info "natlab up: a ($ta) $NATLAB_A_IP, b ($tb) $NATLAB_B_IP, c $NATLAB_C_IP"
}

# natlab_public_host NAME IP [DELAY_MS]: one more public host on the internet bridge (e.g. a
# relay in another region), its link delayed by DELAY_MS each way (netem)
natlab_public_host() {
    local name=$1 ip=$2 delay=${3:-0}
    lab_ns_add "$name"
    ip link add eth0 netns "$LAB_ID-$name" type veth peer name "p-$name" netns "$LAB_ID-inet"
    lab_in inet ip link set "p-$name" master br0 up
    lab_in "$name" ip addr add "$ip/24" dev eth0
    lab_in "$name" ip link set eth0 up
    lab_in "$name" ip route add default via 203.0.113.1
    if [[ $delay != 0 ]]; then
        # Kernels built without sch_netem (CONFIG_NET_SCH_NETEM) cannot delay: say so, go on.
        if lab_in "$name" tc qdisc add dev eth0 root netem delay "${delay}ms" 2>/dev/null; then
            lab_in inet tc qdisc add dev "p-$name" root netem delay "${delay}ms"
        else
            lab_warn "no netem in this kernel: $name's link is not delayed"
        fi
    fi
}

# natlab_flush_nat ROUTER: forget every NAT mapping of a router (conntrack -F), as a NAT reboot would
natlab_flush_nat() { lab_in "$1" conntrack -F >/dev/null 2>&1 || true; }
