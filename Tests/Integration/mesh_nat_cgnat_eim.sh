#!/usr/bin/env bash
# A row of the NAT matrix (issue 4): node a behind "cgnat", node b behind "eim"; expected: direct.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"
meshlab_row cgnat eim direct 203.0.113.12:41641
