# Delayed links for the NAT lab (source after lab.sh and natlab.sh), for kernels without
# sch_netem: delaylink.py forwards a public host's frames to the internet bridge after a
# delay, and its control file can change the link while the test runs (more delay towards
# one address, a blackhole that leaves every TCP connection open but silent).
#
#   [NAME] eth0 -- p-NAME [inet] ==delaylink.py== dl-NAME -- dq-NAME (in br0)

declare -A LAB_DELAY_CONTROL=()  # host name -> control file

# natlab_delay NAME DELAY_MS: delay every frame of NAME's link (natlab_public_host or c) by
# DELAY_MS each way
natlab_delay() {
    local name=$1 ms=$2 ctl=$LAB_DIR/delay-$1.json ifc
    LAB_DELAY_CONTROL[$name]=$ctl
    printf '{"delay_ms": %s}\n' "$ms" > "$ctl"
    lab_in inet ip link set "p-$name" nomaster
    lab_in inet ip link add "dl-$name" type veth peer name "dq-$name"
    lab_in inet ip link set "dq-$name" master br0 up
    for ifc in "p-$name" "dl-$name" "dq-$name"; do
        lab_in inet sysctl -qw "net.ipv6.conf.$ifc.disable_ipv6=1" 2>/dev/null || true
        lab_in inet ethtool -K "$ifc" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
        lab_in inet ip link set "$ifc" promisc on up
    done
    lab_in "$name" ethtool -K eth0 tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
    lab_start "delay-$name" inet "$LAB_PY" "$LAB_REPO/Tests/Integration/delaylink.py" "p-$name" "dl-$name" "$ctl"
    lab_wait_until 5 "delaylink for $name running" grep -q "delaylink: delay" "$(lab_logfile "delay-$name")"
}

# natlab_delay_set NAME JSON: new settings for NAME's delayed link (see delaylink.py), applied
# within 0.1 s
natlab_delay_set() {
    local ctl=${LAB_DELAY_CONTROL[$1]:-} tmp
    [[ -n $ctl ]] || lab_fail "natlab_delay_set: $1's link is not delayed"
    tmp=$ctl.tmp
    printf '%s\n' "$2" > "$tmp" && mv -f "$tmp" "$ctl"
}

# lab_rtt_ms NS IP: the average ping round trip in ms (5 pings)
lab_rtt_ms() {
    lab_in "$1" ping -n -q -c 5 -i 0.2 -W 2 "$2" | awk -F/ '/^rtt|^round-trip/ {printf "%.1f\n", $5}'
}
