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
#
# IPv6 (opt-in, NATLAB_IPV6=dual|only; default off: IPv4 only, as every older test expects).
# As in the field there is no NAT66: the routers route a /64 per LAN and run a stateful
# firewall (outbound new accepted, established/related accepted, unsolicited inbound dropped),
# so two hosts still have to punch, but their public address is their LAN address.
#
#     [inet] br0 2001:db8::1/64; c 2001:db8::100; r1 wan0 2001:db8::11, r2 wan0 2001:db8::12
#     r1 lan0 2001:db8:1::1/64 -> a 2001:db8:1::10 (same-lan b 2001:db8:1::20)
#     r2 lan0 2001:db8:2::1/64 -> b 2001:db8:2::10
#
# "dual": every host has both families. "only": a and b have no IPv4 at all (no address, no
# route); routers and public hosts keep both. Not with cgnat. Addresses are added without
# duplicate address detection (nodad), so they are usable at once. After natlab_up:
# NATLAB_A_IP6 / NATLAB_B_IP6, NATLAB_C_IP6 (2001:db8::100); natlab_ipv6_public_host NAME IP6
# gives a host made by natlab_public_host its IPv6 address.
NATLAB_IPV6=${NATLAB_IPV6:-off}
NATLAB_C_IP6=2001:db8::100

NATLAB_C_IP=203.0.113.100
NATLAB_C_IP2=203.0.113.101

# _natlab_rules6 NS TYPE: the router's IPv6 firewall (no NAT66): stateful, so unsolicited
# inbound packets are dropped as with the NAT types, except on a routed ("none") router. The
# same outbound limits as IPv4 (block-udp, tcp443, proxy-only). ICMPv6 to the router itself
# passes (neighbour discovery).
_natlab_rules6() {
    local ns=$1 type=$2 udpdrop="" outbound='iifname "lan0" oifname "wan0" accept'
    [[ $type == block-udp ]] && udpdrop="meta l4proto udp drop"
    if [[ $type == tcp443 ]]; then
        outbound='iifname "lan0" oifname "wan0" tcp dport { 53, 443 } accept
        iifname "lan0" oifname "wan0" udp dport 53 accept
        iifname "lan0" oifname "wan0" meta l4proto ipv6-icmp accept'
    fi
    if [[ $type == proxy-only ]]; then
        outbound='iifname "lan0" oifname "wan0" tcp dport { 53, 3128 } accept
        iifname "lan0" oifname "wan0" udp dport 53 accept'
    fi
    if [[ $type == none ]]; then
        lab_in "$ns" nft -f - <<EOF || lab_fail "nft ip6 rules on $ns"
table ip6 natlab6 {
    chain forward { type filter hook forward priority 0; policy accept; }
}
EOF
        return
    fi
    lab_in "$ns" nft -f - <<EOF || lab_fail "nft ip6 rules on $ns ($type)"
table ip6 natlab6 {
    chain forward {
        type filter hook forward priority 0; policy drop;
        $udpdrop
        ct state established,related accept
        $outbound
        iifname "lan0" oifname "lan0" accept
    }
    chain input {
        type filter hook input priority 0; policy accept;
        iifname "wan0" ct state new meta l4proto != ipv6-icmp drop
    }
}
EOF
}

# _natlab_v6_on NS [forward]: IPv6 on in a namespace (lab_ns_add turns it off), for links made
# already and later, without duplicate address detection; "forward": it routes IPv6.
_natlab_v6_on() {
    local ns=$1 fwd=${2:-} ifc
    lab_in "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=0 net.ipv6.conf.all.disable_ipv6=0 \
        net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
    for ifc in $(lab_in "$ns" ls /sys/class/net); do
        lab_in "$ns" sysctl -qw "net.ipv6.conf.$ifc.disable_ipv6=0" "net.ipv6.conf.$ifc.accept_dad=0" 2>/dev/null || true
    done
    [[ $fwd == forward ]] && lab_in "$ns" sysctl -qw net.ipv6.conf.all.forwarding=1
    return 0
}

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

# _natlab_router NAME WAN_NS WAN_IP/LEN WAN_GW LAN_IP/LEN TYPE [WAN_IP6/LEN LAN_IP6/LEN]: a
# router namespace whose wan0 hangs off WAN_NS (the inet bridge if WAN_NS is "inet", else a
# plain veth) and whose lan0 is a bridge for its hosts; with NATLAB_IPV6, routed IPv6 too
# (default route via the inet bridge).
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
    if [[ $NATLAB_IPV6 != off && -n ${7:-} ]]; then
        _natlab_v6_on "$name" forward
        lab_in "$name" sysctl -qw net.bridge.bridge-nf-call-ip6tables=0 2>/dev/null || true
        lab_in "$name" ip -6 addr add "$7" dev wan0 nodad
        lab_in "$name" ip -6 addr add "$8" dev lan0 nodad
        lab_in "$name" ip -6 route add default via 2001:db8::1
        _natlab_rules6 "$name" "$type"
    fi
}

# _natlab_host NAME ROUTER IP/LEN GW [IP6/LEN GW6]: a host on ROUTER's LAN bridge; with
# NATLAB_IPV6 it gets IP6 too, and with NATLAB_IPV6=only nothing but IPv6.
_natlab_host() {
    local name=$1 router=$2 ip=$3 gw=$4 v6=0
    [[ $NATLAB_IPV6 != off && -n ${5:-} ]] && v6=1
    lab_ns_add "$name"
    ip link add eth0 netns "$LAB_ID-$name" type veth peer name "h-$name" netns "$LAB_ID-$router"
    lab_in "$router" ip link set "h-$name" master lan0 up
    if [[ $NATLAB_IPV6 != only ]]; then lab_in "$name" ip addr add "$ip" dev eth0; fi
    if [[ $v6 == 1 ]]; then _natlab_v6_on "$name"; lab_in "$name" ip -6 addr add "$5" dev eth0 nodad; fi
    lab_in "$name" ip link set eth0 up
    if [[ $NATLAB_IPV6 != only ]]; then lab_in "$name" ip route add default via "$gw"; fi
    if [[ $v6 == 1 ]]; then lab_in "$name" ip -6 route add default via "$6"; fi
}

# natlab_up TYPE_A TYPE_B: build the topology (see the header)
natlab_up() {
    local ta=$1 tb=$2
    case $NATLAB_IPV6 in
        off | dual | only) ;;
        *) lab_fail "NATLAB_IPV6=$NATLAB_IPV6: off, dual or only" ;;
    esac
    if [[ $NATLAB_IPV6 != off && ($ta == cgnat || $tb == cgnat) ]]; then
        lab_fail "NATLAB_IPV6=$NATLAB_IPV6 is not modelled with cgnat"
    fi
    lab_ns_add inet c
    lab_in inet ip link add br0 type bridge
    # A bridge takes the lowest MAC address of its ports unless one is set: without this, a
    # public host added later (natlab_public_host) could change the MAC of the internet's
    # gateway 203.0.113.1 / 2001:db8::1 under the neighbours' caches, and routed traffic (IPv6
    # to the LANs, replies to them) would stop for seconds.
    lab_in inet ip link set br0 address 02:00:00:00:00:01
    lab_in inet ip addr add 203.0.113.1/24 dev br0
    lab_in inet ip link set br0 up
    lab_in inet sysctl -qw net.ipv4.ip_forward=1
    ip link add eth0 netns "$LAB_ID-c" type veth peer name p-c netns "$LAB_ID-inet"
    lab_in inet ip link set p-c master br0 up
    lab_in c ip addr add "$NATLAB_C_IP/24" dev eth0
    lab_in c ip addr add "$NATLAB_C_IP2/24" dev eth0
    lab_in c ip link set eth0 up
    lab_in c ip route add default via 203.0.113.1
    if [[ $NATLAB_IPV6 != off ]]; then
        _natlab_v6_on inet forward
        lab_in inet sysctl -qw net.bridge.bridge-nf-call-ip6tables=0 2>/dev/null || true
        lab_in inet ip -6 addr add 2001:db8::1/64 dev br0 nodad
        lab_in inet ip -6 route add 2001:db8:1::/64 via 2001:db8::11
        lab_in inet ip -6 route add 2001:db8:2::/64 via 2001:db8::12
        _natlab_v6_on c
        lab_in c ip -6 addr add "$NATLAB_C_IP6/64" dev eth0 nodad
        lab_in c ip -6 route add default via 2001:db8::1
    fi

    if [[ $ta == cgnat ]]; then
        _natlab_router cg inet 203.0.113.11/24 203.0.113.1 10.64.0.1/24 eim
        _natlab_router r1 cg 10.64.0.2/24 10.64.0.1 10.1.0.1/24 eim
    else
        _natlab_router r1 inet 203.0.113.11/24 203.0.113.1 10.1.0.1/24 "$ta" 2001:db8::11/64 2001:db8:1::1/64
    fi
    _natlab_host a r1 10.1.0.10/24 10.1.0.1 2001:db8:1::10/64 2001:db8:1::1
    NATLAB_A_IP=10.1.0.10
    NATLAB_A_IP6=2001:db8:1::10
    NATLAB_A_WAN=203.0.113.11
    if [[ $tb == same-lan ]]; then
        _natlab_host b r1 10.1.0.20/24 10.1.0.1 2001:db8:1::20/64 2001:db8:1::1
        NATLAB_B_IP=10.1.0.20
        NATLAB_B_IP6=2001:db8:1::20
        NATLAB_B_WAN=203.0.113.11
    else
        _natlab_router r2 inet 203.0.113.12/24 203.0.113.1 10.2.0.1/24 "$tb" 2001:db8::12/64 2001:db8:2::1/64
        _natlab_host b r2 10.2.0.10/24 10.2.0.1 2001:db8:2::10/64 2001:db8:2::1
        NATLAB_B_IP=10.2.0.10
        NATLAB_B_IP6=2001:db8:2::10
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
    if [[ $NATLAB_IPV6 == off ]]; then
        lab_info "natlab up: a ($ta) $NATLAB_A_IP, b ($tb) $NATLAB_B_IP, c $NATLAB_C_IP"
    else
        lab_info "natlab up, IPv6 $NATLAB_IPV6: a ($ta) $NATLAB_A_IP6, b ($tb) $NATLAB_B_IP6, c $NATLAB_C_IP6 and $NATLAB_C_IP"
    fi
}

# natlab_ipv6_public_host NAME IP6: IPv6 (IP6/64, default route via inet) for a public host
# that natlab_public_host made, with NATLAB_IPV6 on
natlab_ipv6_public_host() {
    _natlab_v6_on "$1"
    lab_in "$1" ip -6 addr add "$2/64" dev eth0 nodad
    lab_in "$1" ip -6 route add default via 2001:db8::1
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
