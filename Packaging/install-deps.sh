#!/usr/bin/env bash
# install-deps.sh - the Debian packages mesh needs to build and to run its tests.
# Idempotent: installs only what is missing, and runs apt-get update only then.
set -euo pipefail

PKGS=(libsodium-dev pkg-config wireguard-go wireguard-tools iperf3 nftables conntrack
      iputils-ping iproute2 ethtool python3 libsqlite3-dev
      dnsutils        # dig: the MagicDNS lab test asks meshd's DNS address with it
      dnsmasq-base    # the lab's DNS resolver (relays and the coordinator by name)
      nginx-light caddy openssl  # the lab's TLS reverse proxies in front of the coordinator, and its CA
      tinyproxy-bin   # the lab's HTTP CONNECT proxy (HTTPS_PROXY)
      nebula          # Benchmarks/speed_suite.sh measures meshd against nebula (and wireguard-go) too
      python3-aioice)  # independent STUN client for the STUN server tests

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for p in "${PKGS[@]}"; do installed "$p" || missing+=("$p"); done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#PKGS[@]} packages present"
    exit 0
fi

SUDO=()
if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    SUDO=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
# Packages with a service (nginx) must not start it: the lab starts its own instances, inside
# its namespaces. policy-rc.d says so to the maintainer scripts for the length of the install.
policy=/usr/sbin/policy-rc.d made_policy=
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null && "${SUDO[@]}" chmod 755 "$policy" && made_policy=1
fi
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
[[ -n $made_policy ]] && "${SUDO[@]}" rm -f "$policy"
for p in "${missing[@]}"; do installed "$p" || { echo "install-deps: $p did not install" >&2; exit 1; }; done
echo "install-deps: done"
