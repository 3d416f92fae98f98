#!/usr/bin/env bash
# A row of the NAT matrix (issue 4): node a behind "eim", node b behind "same-lan"; expected: direct.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"
meshlab_row eim same-lan direct 10.1.0.20:41641
