#!/usr/bin/env bash
# meshd as a service (issue 10): `meshd up --config FILE` in joined mode, as the packaged unit
# runs it, under a stand-in for systemd's notify socket (NOTIFY_SOCKET, a unix datagram socket
# this test listens on).
#   - every setting from the file (state dir, port, interface, socket, join file, hostname, log
#     level): the node registers as "svc" on mesh1, UDP 41642, and peers see it;
#   - READY=1 only once the tunnel is up and the node registered (status answers by then);
#   - SIGHUP re-reads the file: RELOADING=1, then READY=1; the log level changes at once, a
#     changed port is logged as needing a restart; a file that no longer reads keeps everything
#     and meshd stays up;
#   - SIGTERM: STOPPING=1, then meshd exits;
#   - a config file with a mistake: meshd exits at once with one sentence naming file and line.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"

meshlab_up eim eim

NOTIFY=$LAB_DIR/notify.sock
lab_start notify - "$LAB_PY" -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    print(s.recv(4096).decode(errors="replace").replace("\n", " | "), flush=True)
' "$NOTIFY"
lab_wait_until 5 "notify socket listening" grep -q listening "$(lab_logfile notify)"
notified() { grep -c -- "$1" "$(lab_logfile notify)" || true; }

(umask 077; printf '%s\n' "$MESHLAB_TOKEN" > "$LAB_DIR/svc-token")
write_config() { # LOG_LEVEL PORT
    cat > "$LAB_DIR/meshd.toml" <<TOML
# meshd.toml as an admin writes it
state_dir = "$LAB_DIR/svc-state"
port = $2
interface = "mesh1"
socket = "$LAB_DIR/svc.sock"
join_file = "$LAB_DIR/svc-token"
hostname = "svc"
ca_file = "$LAB_DIR/tls/ca.pem"
log_level = "$1"
TOML
}
write_config info 41642
lab_start svc a env NOTIFY_SOCKET="$NOTIFY" "$MESH_BIN/meshd" up --config "$LAB_DIR/meshd.toml"
lab_wait_until 20 "meshd svc tells the service manager READY=1" grep -q "READY=1" "$(lab_logfile notify)"
lab_check "by READY=1 the node is registered and answers meshctl" meshlab_status_has svc "j.get('control') == 'connected' and j.get('name') == 'svc'"
lab_check "READY came with a STATUS line" grep -q "STATUS=svc " "$(lab_logfile notify)"
lab_check "settings from the file: interface mesh1, UDP 41642" meshlab_status_has svc "j['interface'] == 'mesh1' and j['listenPort'] == 41642"
lab_check "the TUN device mesh1 is up in a" lab_in a ip link show mesh1 up
lab_wait_until 10 "b sees svc in its netmap" meshlab_status_has b "[p for p in j['peers'] if p.get('name') == 'svc']"
lab_check "log level info from the file: no debug lines yet" bash -c "! grep -q ' debug ' '$(lab_logfile svc)'"

# SIGHUP: a new log level takes effect, a new port is only reported.
write_config debug 41643
kill -HUP "$(lab_pid svc)"
lab_wait_until 10 "SIGHUP: RELOADING=1 then READY=1 again" bash -c "[[ \$(grep -c 'RELOADING=1' '$(lab_logfile notify)') -ge 1 && \$(grep -c 'READY=1' '$(lab_logfile notify)') -ge 2 ]]"
lab_check "RELOADING=1 carries MONOTONIC_USEC" grep -q "RELOADING=1 | MONOTONIC_USEC=[0-9]" "$(lab_logfile notify)"
lab_check "the reload is logged: level debug, the port needs a restart" \
    grep -q "SIGHUP: reloaded .*log level debug; port changed and take effect at the next restart" "$(lab_logfile svc)"
lab_wait_until 10 "at debug level now: the settings in effect are logged" grep -q " debug .*settings in effect: .*port 41642" "$(lab_logfile svc)"
lab_wait_until 15 "svc pings b over mesh1 (it shares a's namespace)" lab_in a ping -n -c 1 -W 1 -I mesh1 "$MESHLAB_B4"
lab_check "still on UDP 41642 and connected" meshlab_status_has svc "j['listenPort'] == 41642 and j.get('control') == 'connected'"

# A file that no longer reads: meshd keeps running with what it has.
printf 'port = banana\n' > "$LAB_DIR/meshd.toml"
kill -HUP "$(lab_pid svc)"
lab_wait_until 10 "a broken file on SIGHUP is reported and kept out" grep -q "SIGHUP: $LAB_DIR/meshd.toml:1: port: .*keeping the running settings" "$(lab_logfile svc)"
lab_wait_until 10 "READY=1 after the failed reload" bash -c "[[ \$(grep -c 'READY=1' '$(lab_logfile notify)') -ge 3 ]]"
lab_check "meshd svc still runs and answers" meshlab_status_has svc "j.get('control') == 'connected'"

# SIGTERM: STOPPING=1, and the process ends.
pid=$(lab_pid svc)
kill -TERM "$pid"
lab_wait_until 10 "SIGTERM: STOPPING=1" grep -q "STOPPING=1" "$(lab_logfile notify)"
lab_wait_until 10 "meshd svc exited" bash -c "! kill -0 $pid 2>/dev/null || grep -q ' Z ' /proc/$pid/stat"
lab_stop svc

# A mistake in the file: one sentence with file and line, nothing started.
printf 'state_dir = "%s"\nprot = 41641\n' "$LAB_DIR/bad-state" > "$LAB_DIR/bad.toml"
rc=0
out=$(lab_in a "$MESH_BIN/meshd" up --config "$LAB_DIR/bad.toml" 2>&1) || rc=$?
[[ $rc != 0 ]] || lab_fail "meshd up with an unknown key in its config file exited 0"
[[ $(printf '%s\n' "$out" | grep -c .) == 1 ]] || lab_fail "expected one line from meshd, got: $out"
[[ $out == *"$LAB_DIR/bad.toml:2: unknown key \"prot\""* ]] || lab_fail "the error does not name the file, line and key: $out"
[[ ! -e $LAB_DIR/bad-state ]] || lab_fail "meshd created its state directory before reading its config"
lab_pass "a mistake in the config file: exit $rc, one line: $out"
lab_done "config file in joined mode, READY/RELOADING/STOPPING, SIGHUP reload (log level at once, port at restart, bad file kept out)"
