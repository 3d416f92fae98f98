#!/usr/bin/env bash
# A row of the NAT matrix (issue 4): node a behind "block-udp", node b behind "eim"; expected: relay.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"
meshlab_row block-udp eim relay 
