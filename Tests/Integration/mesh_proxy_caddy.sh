#!/usr/bin/env bash
# The coordinator behind Caddy instead of nginx (the README's Caddy snippet, as lab_caddy runs
# it): edm/edm, so everything between the nodes goes through the relay upgrade that Caddy
# proxies (the upgrade, the long-poll and registration all through Caddy).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"
MESHLAB_NAMING=https MESHLAB_PROXY=caddy
meshlab_row edm edm relay
