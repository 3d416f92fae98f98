#!/usr/bin/env bash
# A row of the NAT matrix (issue 4): node a behind "edm", node b behind "edm"; expected: relay.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"
meshlab_row edm edm relay 
