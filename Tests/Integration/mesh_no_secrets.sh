#!/usr/bin/env bash
# mesh_no_secrets.sh - no secret in any log or output of a full lab run (issue 10: "No secret
# in any log or --json, ever").
#
# A full run: meshcoord behind nginx (TLS from the lab CA), two nodes behind "eim" NATs with
# a direct path, pings both ways, no access policy; then every read-out an admin takes:
# meshctl status (human and --json), netcheck --json, metrics, ip, version --json, `wg show`
# and `wg show dump` as a non-secret-printing form, meshcoord node list --json and
# authkey list --json. Every file under $LAB_DIR (meshd, meshcoord, nginx and dnsmasq logs,
# every *.json, every saved output, the coordinator's database) is then searched for every
# secret in every encoding it could leak in: each node's private key and disco private key
# (state dir node.key, disco.key), the coordinator's private key (coord/coordinator.key),
# the auth secret (the join token after "mesh1_", and the secret alone), the lab CA's and the
# certificate's TLS private keys. Only the files that hold the secrets by design are skipped
# (the key files, the join-token file). Nothing may match.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lab.sh"; source "$HERE/natlab.sh"; source "$HERE/meshlab.sh"

WG_IF_a=ms$$a
WG_IF_b=ms$$b
LAB_WG_IFS+=("$WG_IF_a" "$WG_IF_b")
# Unique interface names, so `wg show` can read each node (the UAPI socket directory is
# shared by all namespaces).
eval "$(declare -f meshlab_node_start | sed '1s/^meshlab_node_start/_meshlab_node_start_shared/')"
meshlab_node_start() { # NAME NS [extra meshd args]
    local name=$1 ns=$2 var; shift 2
    var="WG_IF_$name"
    _meshlab_node_start_shared "$name" "$ns" --interface "${!var}" --verbose "$@"
}

meshlab_up eim eim
meshlab_direct a b "$MESHLAB_B4"
lab_check "5/5 pings a -> b" lab_ping_ok a "$MESHLAB_B4" 5
lab_check "5/5 pings b -> a" lab_ping_ok b "$MESHLAB_A4" 5

out=$LAB_DIR/out
mkdir -p "$out"
save() { # FILE command...: the command's stdout and stderr, kept for the search
    local f=$out/$1; shift
    "$@" > "$f" 2> "$f.err" || lab_fail "$* failed: $(head -c 300 "$f.err")"
}
for n in a b; do
    save "$n-status.txt" lab_meshctl "$n" status
    save "$n-status-keys.txt" lab_meshctl "$n" status --keys
    save "$n-status.json" lab_meshctl "$n" status --json
    save "$n-netcheck.json" lab_meshctl "$n" netcheck --json
    save "$n-metrics.txt" lab_meshctl "$n" metrics
    save "$n-ip.json" lab_meshctl "$n" ip --json
    save "$n-version.json" lab_meshctl "$n" version --json
    var="WG_IF_$n"
    save "$n-wg-show.txt" wg show "${!var}"
    save "$n-wg-dump.txt" wg show "${!var}" dump
done
save coord-nodes.json "$MESH_BIN/meshcoord" node list --json --state-dir "$LAB_DIR/coord"
save coord-nodes.txt "$MESH_BIN/meshcoord" node list --state-dir "$LAB_DIR/coord"
save coord-authkeys.json "$MESH_BIN/meshcoord" authkey list --json --state-dir "$LAB_DIR/coord"
lab_pass "saved $(find "$out" -type f | wc -l) outputs of meshctl, wg and meshcoord"
# Stopping flushes and closes every log (and each meshd removes its sockets).
lab_stop a; lab_stop b; lab_stop coord

# `wg show dump` prints the private key by design (root only, as with wireguard-go): it
# must be the node's key, which proves the search below looks for the right bytes; the file
# is then dropped from the search as a key file.
"$LAB_PY" - "$LAB_DIR" <<'PY' || lab_fail "a secret leaked (see above)"
import base64, binascii, os, sys
lab = sys.argv[1]

def raw_key(path):
    data = open(path, "rb").read()
    text = data.strip()
    for decode in (base64.b64decode, binascii.unhexlify):
        try:
            raw = decode(text)
            if len(raw) == 32: return raw
        except Exception:
            pass
    if len(data) == 32: return data
    sys.exit(f"cannot read the key in {path}")

def forms(raw):
    b64 = base64.b64encode(raw)
    return {b64, b64.rstrip(b"="), base64.urlsafe_b64encode(raw).rstrip(b"="),
            raw.hex().encode(), raw.hex().upper().encode(), raw}

secrets = {}   # label -> set of byte strings
skip = set()
key_files = {}  # label -> the file holding it by design
for n in ("a", "b"):
    for f in ("node.key", "disco.key"):
        p = os.path.join(lab, f"{n}-state", f)
        secrets[f"{n} {f}"] = forms(raw_key(p)); skip.add(p); key_files[f"{n} {f}"] = p
p = os.path.join(lab, "coord", "coordinator.key")
secrets["coordinator.key"] = forms(raw_key(p)); skip.add(p); key_files["coordinator.key"] = p
for extra in ("relay.key",):
    p = os.path.join(lab, "coord", extra)
    if os.path.exists(p):
        secrets[extra] = forms(raw_key(p)); skip.add(p); key_files[extra] = p
token = open(os.path.join(lab, "join-token")).read().strip()
skip.add(os.path.join(lab, "join-token"))
assert token.startswith("mesh1_"), "no join token"
body = token[len("mesh1_"):]
raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
secret = raw[32:64]
secrets["join token"] = {token.encode(), body.encode()}
key_files["join token"] = os.path.join(lab, "join-token")
secrets["auth secret"] = forms(secret)
# TLS private keys: their PEM body lines and the whole body.
for root, _, files in os.walk(os.path.join(lab, "tls")):
    for f in files:
        if not f.endswith(".key"): continue
        p = os.path.join(root, f); skip.add(p)
        lines = [l for l in open(p).read().splitlines() if l and not l.startswith("-----")]
        secrets[f"TLS {f}"] = {l.encode() for l in lines if len(l) >= 40} | {"".join(lines).encode()}
        key_files[f"TLS {f}"] = p

# wg show dump: its first field is the private key (by design, root only); check it is the
# node's, then skip it.
for n in ("a", "b"):
    p = os.path.join(lab, "out", f"{n}-wg-dump.txt")
    first = open(p).read().split("\t")[0].encode()
    assert first in secrets[f"{n} node.key"], f"wg show dump of {n} does not start with {n}'s node key"
    skip.add(p)
print(f"wg show dump: each node's private key as its first field (root only, as with wireguard-go); those files skipped")

# The search finds what it looks for: each skipped key file matches its own secret's forms
# (so a leak in the encoding the file uses, base64 or PEM, cannot slip through).
for label, path in key_files.items():
    data = open(path, "rb").read()
    assert any(v in data for v in secrets[label]), f"self-test: {label} not found in its own file {path}"
print(f"self-test: each of {len(key_files)} key files matches its secret's forms")

files = bytes_searched = 0
leaks = []
logs = []
for root, _, names in os.walk(lab):
    for name in names:
        p = os.path.join(root, name)
        if p in skip or os.path.islink(p) or not os.path.isfile(p): continue
        try: data = open(p, "rb").read()
        except OSError: continue
        files += 1; bytes_searched += len(data)
        if name.endswith(".log"): logs.append(os.path.relpath(p, lab))
        for label, variants in secrets.items():
            for v in variants:
                if v and v in data:
                    leaks.append(f"{os.path.relpath(p, lab)}: {label}")
                    break
kinds = len(secrets); variants = sum(len(v) for v in secrets.values())
print(f"logs searched: {' '.join(sorted(logs))}")
print(f"searched {files} files, {bytes_searched} bytes for {kinds} secrets in {variants} forms; skipped {len(skip)} key files")
for l in sorted(set(leaks)): print("LEAK", l)
sys.exit(1 if leaks else 0)
PY
lab_pass "no private key, auth secret, coordinator key or TLS key in any log or output"
lab_done "no secrets in logs, --json or command output of a full lab run"
