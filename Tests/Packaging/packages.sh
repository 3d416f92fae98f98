#!/usr/bin/env bash
# packages.sh - the .deb packages of Packaging/build-packages.sh, checked as Debian and an admin
# would check them, without touching this machine's own system:
#   - dpkg-deb --info / --contents: names, version, dependencies, conffiles, maintainer
#     scripts (sh -n, set -e, systemctl only behind [ -d /run/systemd/system ]), every file
#     owned by root, the files that must be there;
#   - manual pages render (man --warnings) and name the subcommands; bash completions parse;
#   - lintian: no errors (its warnings and infos are printed);
#   - the binaries need no Swift toolchain: ldd names no libswift*, no RUNPATH points into the
#     toolchain, and with an empty tmpfs mounted over the toolchain (a private mount namespace)
#     meshd, meshctl and meshcoord run (--help, genkey | pubkey, a one-sentence error);
#   - in a throwaway Debian 12 root (debootstrap --variant=minbase; no toolchain in it):
#     dpkg -i of both packages, the mesh group and the meshcoord user, the conffiles, no unit
#     enabled, systemd-analyze verify (and security --offline) on the installed units,
#     meshcoord serve from the shipped config as its user (in its own network namespace) with
#     an auth key made over its admin socket, a reinstall keeping an edited conffile, remove
#     (conffiles and state stay), purge (they go).
#
#   Tests/Packaging/packages.sh [--from DIR] [--rootfs-cache FILE]
#
# --from DIR takes the two .deb files from DIR instead of building them (a build compiles the
# whole package with a static Swift runtime in .build-static: 15-25 min on 2 cores the first
# time). --rootfs-cache FILE keeps the debootstrapped root as a tarball and reuses it.
# Needs root (chroot, mount namespaces) and Debian's archive (debootstrap, and apt-get for
# lintian and debootstrap when they are missing). Not part of CI: the static build alone
# would not fit CI's time budget next to everything else.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

FROM= ROOTFS_CACHE=
while [[ $# -gt 0 ]]; do
    case $1 in
        --from) FROM=$(cd "$2" && pwd) || exit 2; shift 2 ;;
        --rootfs-cache) ROOTFS_CACHE=$2; shift 2 ;;
        -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "packages.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $(id -u) == 0 ]] || { echo "packages.sh: needs root (chroot, mount namespaces)" >&2; exit 2; }

WORK=$(mktemp -d /var/tmp/mesh-packages-test.XXXXXX)
cleanup() {
    # Every mount this test makes lives in a private mount namespace of a process that has
    # exited by now; --one-file-system keeps rm out of anything still mounted regardless.
    rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

PASSED=0 FAILED=0
pass() { echo "PASS $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $*"; FAILED=$((FAILED + 1)); }
# check LABEL COMMAND...: passes when COMMAND exits 0; shows its output when it does not.
check() {
    local label=$1; shift
    if "$@" > "$WORK/check.out" 2>&1; then pass "$label"; else
        fail "$label"; sed 's/^/    /' "$WORK/check.out" | head -30
    fi
}
summary() {
    echo
    echo "$PASSED passed, $FAILED failed"
    [[ $FAILED == 0 ]]
}
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# Tools from Debian's archive this test needs and a build host may lack.
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
for p in lintian debootstrap; do installed "$p" || missing+=("$p"); done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "packages.sh: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q > "$WORK/apt.log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >> "$WORK/apt.log" 2>&1 ||
        { tail -20 "$WORK/apt.log"; echo "packages.sh: could not install ${missing[*]}" >&2; exit 1; }
fi

# --- the packages ---------------------------------------------------------------------------
DEBS=$FROM
if [[ -z $DEBS ]]; then
    DEBS=$WORK/debs
    t0=$EPOCHREALTIME
    if "$REPO/Packaging/build-packages.sh" --out "$DEBS" > "$WORK/build.log" 2>&1; then
        pass "build-packages.sh built the packages in $(since "$t0") s"
        grep '^build-packages: ' "$WORK/build.log" | sed 's/^/    /'
    else
        fail "build-packages.sh (exit $?)"; tail -30 "$WORK/build.log"; summary; exit 1
    fi
fi
UPSTREAM=$(sed -n 's/^ *public static let string = "\([^"]*\)".*/\1/p' "$REPO/Sources/MeshLocalAPI/MeshVersion.swift")
ARCH=$(dpkg --print-architecture)
shopt -s nullglob
mesh_debs=("$DEBS"/mesh_"$UPSTREAM"-*_"$ARCH".deb)
coord_debs=("$DEBS"/mesh-coordinator_"$UPSTREAM"-*_"$ARCH".deb)
shopt -u nullglob
if [[ ${#mesh_debs[@]} != 1 || ${#coord_debs[@]} != 1 ]]; then
    fail "one mesh and one mesh-coordinator .deb of version $UPSTREAM in $DEBS (found: $(ls "$DEBS"))"
    summary; exit 1
fi
MESH_DEB=${mesh_debs[0]} COORD_DEB=${coord_debs[0]}
echo "packages: $(basename "$MESH_DEB") ($(du -h "$MESH_DEB" | cut -f1)), $(basename "$COORD_DEB") ($(du -h "$COORD_DEB" | cut -f1))"

# --- dpkg-deb --info ------------------------------------------------------------------------
field() { dpkg-deb --field "$1" "$2"; }
info_checks() { # DEB PACKAGE DEPENDENCY...
    local deb=$1 package=$2; shift 2
    dpkg-deb --info "$deb" > "$WORK/info-$package"
    check "$package: Package field" test "$(field "$deb" Package)" = "$package"
    check "$package: Version $UPSTREAM-N from MeshVersion.string" bash -c "[[ \$(dpkg-deb --field '$deb' Version) == $UPSTREAM-* ]]"
    check "$package: Architecture $ARCH" test "$(field "$deb" Architecture)" = "$ARCH"
    local depends; depends=$(field "$deb" Depends)
    local d
    for d in "$@"; do
        check "$package: Depends names $d ($depends)" grep -qE "(^|, )$d( |,|$)" <<< "$depends"
    done
    check "$package: Depends names no Swift runtime" bash -c "! grep -qi swift <<< '$depends'"
    mkdir -p "$WORK/ctrl-$package"
    dpkg-deb --control "$deb" "$WORK/ctrl-$package"
    local s
    for s in postinst prerm postrm; do
        local f=$WORK/ctrl-$package/$s
        check "$package: $s is executable and parses (sh -n)" bash -c "[[ -x '$f' ]] && head -1 '$f' | grep -qx '#!/bin/sh' && sh -n '$f'"
        check "$package: $s sets -e" grep -qx 'set -e' "$f"
        check "$package: $s calls systemctl/deb-systemd-invoke only behind [ -d /run/systemd/system ]" \
            awk '/\[ -d \/run\/systemd\/system \]/ { guard = 1 } /^    fi$|^fi$/ { guard = 0 }
                 /(^|[^-])systemctl |deb-systemd-invoke / && !/^ *#/ && !guard { print "unguarded: " $0; bad = 1 } END { exit bad }' "$f"
        check "$package: $s rejects an unknown argument" bash -c "! sh '$f' bogus-argument 2>/dev/null"
    done
    check "$package: md5sums cover every file" bash -c \
        "[[ \$(wc -l < '$WORK/ctrl-$package/md5sums') == \$(dpkg-deb --contents '$deb' | grep -vc '^d') ]]"
}
info_checks "$MESH_DEB" mesh libc6 libsodium23 adduser procps
info_checks "$COORD_DEB" mesh-coordinator libc6 libsodium23 libsqlite3-0 adduser procps
check "mesh: conffiles are /etc/default/mesh and /etc/mesh/meshd.toml" \
    test "$(sort "$WORK/ctrl-mesh/conffiles" | paste -sd' ')" = "/etc/default/mesh /etc/mesh/meshd.toml"
check "mesh-coordinator: conffiles is /etc/mesh/meshcoord.toml" \
    test "$(cat "$WORK/ctrl-mesh-coordinator/conffiles")" = /etc/mesh/meshcoord.toml
check "mesh: postrm removes /var/lib/mesh on purge only" \
    awk '/^if \[ "\$1" = purge \]/ { p = 1 } /rm -rf \/var\/lib\/mesh/ { found = 1; if (!p) exit 1 } END { exit !found }' "$WORK/ctrl-mesh/postrm"
check "mesh-coordinator: postrm removes /var/lib/meshcoord on purge only" \
    awk '/^if \[ "\$1" = purge \]/ { p = 1 } /rm -rf \/var\/lib\/meshcoord/ { found = 1; if (!p) exit 1 } END { exit !found }' "$WORK/ctrl-mesh-coordinator/postrm"

# --- dpkg-deb --contents --------------------------------------------------------------------
contents_checks() { # DEB PACKAGE PATH...
    local deb=$1 package=$2; shift 2
    dpkg-deb --contents "$deb" > "$WORK/contents-$package"
    check "$package: every file is root/root" test "$(awk '{ print $2 }' "$WORK/contents-$package" | sort -u)" = root/root
    local p
    for p in "$@"; do
        check "$package: holds $p" grep -qE " \./${p#/}( |$)" "$WORK/contents-$package"
    done
    check "$package: no Swift runtime library inside" bash -c "! grep -qiE 'libswift|\.so(\.[0-9]+)*\$' '$WORK/contents-$package'"
    check "$package: binaries are mode 0755, the rest not executable" awk '
        $6 ~ /^\.\/usr\/s?bin\/./ { if ($1 != "-rwxr-xr-x") { print; bad = 1 } ; next }
        $1 ~ /^-/ && $1 ~ /x/ { print; bad = 1 } END { exit bad }' "$WORK/contents-$package"
}
contents_checks "$MESH_DEB" mesh /usr/sbin/meshd /usr/bin/meshctl /lib/systemd/system/meshd.service \
    /etc/default/mesh /etc/mesh/meshd.toml /usr/share/man/man8/meshd.8.gz /usr/share/man/man1/meshctl.1.gz \
    /usr/share/bash-completion/completions/meshd /usr/share/bash-completion/completions/meshctl \
    /usr/share/zsh/vendor-completions/_meshd /usr/share/zsh/vendor-completions/_meshctl \
    /usr/share/fish/vendor_completions.d/meshd.fish /usr/share/fish/vendor_completions.d/meshctl.fish \
    /usr/share/doc/mesh/copyright /usr/share/doc/mesh/changelog.Debian.gz /usr/share/doc/mesh/README.Debian
contents_checks "$COORD_DEB" mesh-coordinator /usr/sbin/meshcoord /lib/systemd/system/meshcoord.service \
    /etc/mesh/meshcoord.toml /usr/share/man/man8/meshcoord.8.gz \
    /usr/share/bash-completion/completions/meshcoord /usr/share/zsh/vendor-completions/_meshcoord \
    /usr/share/fish/vendor_completions.d/meshcoord.fish \
    /usr/share/doc/mesh-coordinator/copyright /usr/share/doc/mesh-coordinator/changelog.Debian.gz

TREE=$WORK/tree
mkdir -p "$TREE"
dpkg-deb -x "$MESH_DEB" "$TREE"
dpkg-deb -x "$COORD_DEB" "$TREE"

# --- manual pages and completions -----------------------------------------------------------
man_checks() { # PAGE WORD...
    local page=$1; shift
    local name; name=$(basename "$page" .gz)
    check "$name renders without groff warnings" bash -c \
        "out=\$(MANWIDTH=100 man --warnings -l '$page' 2>&1 >/dev/null); [[ -z \$out ]] || { echo \"\$out\"; false; }"
    MANWIDTH=100 man -l "$page" 2>/dev/null | col -b > "$WORK/$name.txt"
    local w
    for w in "$@"; do check "$name names $w" grep -qF -- "$w" "$WORK/$name.txt"; done
}
man_checks "$TREE/usr/share/man/man8/meshd.8.gz" "up" "--join-file" "--state-dir" "genkey"
man_checks "$TREE/usr/share/man/man1/meshctl.1.gz" "status" "--socket"
man_checks "$TREE/usr/share/man/man8/meshcoord.8.gz" "serve" "authkey" "--config"
for b in meshd meshctl meshcoord; do
    check "bash completion for $b parses and completes $b" bash -c \
        "source '$TREE/usr/share/bash-completion/completions/$b' && complete -p $b"
    check "zsh completion for $b starts with #compdef $b" grep -qx "#compdef $b" "$TREE/usr/share/zsh/vendor-completions/_$b"
    check "fish completion for $b completes $b" grep -qE "complete -c '?$b'? " "$TREE/usr/share/fish/vendor_completions.d/$b.fish"
done

# --- lintian --------------------------------------------------------------------------------
for deb in "$MESH_DEB" "$COORD_DEB"; do
    name=$(basename "$deb")
    lintian --fail-on error --display-info "$deb" > "$WORK/lintian.out" 2>&1; rc=$?
    tags=$(grep -cE '^[EWIPXO]: ' "$WORK/lintian.out")
    errors=$(grep -cE '^E: ' "$WORK/lintian.out")
    if [[ $rc == 0 && $errors == 0 ]]; then pass "lintian $name: no errors ($tags tags in all)"; else fail "lintian $name: exit $rc, $errors errors"; fi
    sed 's/^/    /' "$WORK/lintian.out"
done

# --- without the toolchain ------------------------------------------------------------------
TOOLCHAIN=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift || echo /opt/swift/usr/bin/swift)")")")")
for b in usr/sbin/meshd usr/bin/meshctl usr/sbin/meshcoord; do
    check "ldd $(basename $b): no libswift*, nothing missing, nothing from $TOOLCHAIN" bash -c \
        "out=\$(ldd '$TREE/$b'); echo \"\$out\"; ! grep -q 'libswift\|libFoundation\|libdispatch\|not found\|$TOOLCHAIN' <<< \"\$out\""
    check "$(basename $b): no RPATH/RUNPATH into the toolchain" bash -c \
        "! readelf -d '$TREE/$b' | grep -iE 'rpath|runpath' | grep -q '$TOOLCHAIN\|swift'"
done
ldd "$TREE/usr/sbin/meshcoord" | sed 's/ (0x[0-9a-f]*)//; s/^/    meshcoord: /'
# An empty tmpfs over the toolchain, in a private mount namespace: gone when the command ends.
hidden() { # COMMAND...: runs COMMAND (a shell snippet) with the toolchain hidden
    unshare --mount --propagation private sh -c \
        "mount -t tmpfs -o size=1m,mode=0755 toolchain-hidden '$TOOLCHAIN' && [ -z \"\$(ls -A '$TOOLCHAIN')\" ] || exit 99; $1"
}
check "the toolchain is hidden in the namespace (swift does not run)" hidden "! swift --version"
check "meshd --help runs without the toolchain" hidden "'$TREE/usr/sbin/meshd' --help"
check "meshctl --help runs without the toolchain" hidden "'$TREE/usr/bin/meshctl' --help"
check "meshcoord --help runs without the toolchain" hidden "'$TREE/usr/sbin/meshcoord' --help"
check "meshcoord serve --help runs without the toolchain" hidden "'$TREE/usr/sbin/meshcoord' serve --help"
for b in usr/sbin/meshd usr/bin/meshctl; do
    check "$(basename $b) --version prints $UPSTREAM without the toolchain" hidden "v=\$('$TREE/$b' --version) && echo \"\$v\" && [ \"\$v\" = '$UPSTREAM' ]"
    sed 's/^/    /' "$WORK/check.out"
done
check "meshd genkey | meshd pubkey runs without the toolchain (libsodium)" hidden \
    "k=\$('$TREE/usr/sbin/meshd' genkey) && p=\$(echo \"\$k\" | '$TREE/usr/sbin/meshd' pubkey) && [ \${#p} = 44 ] && [ \"\$p\" != \"\$k\" ]"
check "meshctl status without a daemon: non-zero, one sentence, without the toolchain" hidden \
    "out=\$('$TREE/usr/bin/meshctl' status --socket '$WORK/none.sock' 2>&1); rc=\$?; echo \"exit \$rc: \$out\"; [ \$rc != 0 ] && [ \$(echo \"\$out\" | wc -l) = 1 ]"
sed 's/^/    /' "$WORK/check.out"

# --- a throwaway Debian 12 root ------------------------------------------------------------
ROOT=$WORK/root
MIRROR=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
deps=$( { field "$MESH_DEB" Depends; echo ,; field "$COORD_DEB" Depends; } | tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/ //g' | grep . | sort -u | paste -sd,)
t0=$EPOCHREALTIME
# A cached root serves only packages with the same dependencies (kept beside it).
if [[ -n $ROOTFS_CACHE && -s $ROOTFS_CACHE && $(cat "$ROOTFS_CACHE.deps" 2>/dev/null) == "$deps" ]]; then
    mkdir -p "$ROOT" && tar -xpf "$ROOTFS_CACHE" -C "$ROOT"
    pass "Debian 12 root unpacked from $ROOTFS_CACHE in $(since "$t0") s"
elif debootstrap --variant=minbase --include="systemd,$deps" bookworm "$ROOT" "$MIRROR" > "$WORK/debootstrap.log" 2>&1; then
    pass "debootstrap bookworm minbase with systemd,$deps in $(since "$t0") s"
    if [[ -n $ROOTFS_CACHE ]]; then
        mkdir -p "$(dirname "$ROOTFS_CACHE")" && tar -cpf "$ROOTFS_CACHE" -C "$ROOT" . && echo "$deps" > "$ROOTFS_CACHE.deps" &&
            echo "    kept as $ROOTFS_CACHE"
    fi
else
    fail "debootstrap (see below)"; tail -20 "$WORK/debootstrap.log"; summary; exit 1
fi
mkdir -p "$ROOT/tmp/debs" && cp "$MESH_DEB" "$COORD_DEB" "$ROOT/tmp/debs/"
# in_root COMMAND...: COMMAND inside the root, with /proc, in a private mount namespace.
in_root() {
    unshare --mount --propagation private --fork sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$ROOT" \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}
export -f in_root; export ROOT
check "no Swift toolchain in the root" bash -c "[[ ! -e '$ROOT$TOOLCHAIN' ]] && ! in_root sh -c 'command -v swift'"

check "dpkg -i mesh mesh-coordinator in the root" in_root dpkg -i "/tmp/debs/$(basename "$MESH_DEB")" "/tmp/debs/$(basename "$COORD_DEB")"
sed 's/^/    /' "$WORK/check.out" | grep -v '^    (Reading database' | head -20
for p in mesh mesh-coordinator; do
    check "$p is installed" bash -c "in_root dpkg-query -W -f='\${Status}' $p | grep -qx 'install ok installed'"
done
check "the mesh group exists (system gid)" bash -c "gid=\$(in_root getent group mesh | cut -d: -f3) && [[ \$gid -gt 0 && \$gid -lt 1000 ]]"
check "the meshcoord user exists: system uid, nologin, home /var/lib/meshcoord" bash -c \
    "IFS=: read -r n _ uid gid _ home shell < <(in_root getent passwd meshcoord) && [[ \$uid -lt 1000 && \$home == /var/lib/meshcoord && \$shell == */nologin ]] && echo \"\$n \$uid \$home \$shell\""
check "dpkg knows the conffiles" bash -c \
    "in_root dpkg-query -W -f='\${Conffiles}\n' mesh mesh-coordinator | tee /dev/stderr | grep -q /etc/mesh/meshd.toml && in_root dpkg-query -W -f='\${Conffiles}\n' mesh-coordinator | grep -q /etc/mesh/meshcoord.toml"
for f in /usr/sbin/meshd /usr/bin/meshctl /usr/sbin/meshcoord; do
    check "$f runs in the root" in_root "$f" --help
done
check "no unit was enabled or started on a first install" bash -c \
    "! ls '$ROOT'/etc/systemd/system/*.wants/ 2>/dev/null | grep -q 'meshd\|meshcoord'"
check "deb-systemd-helper tracks both units" bash -c \
    "in_root env DPKG_MAINTSCRIPT_PACKAGE=mesh deb-systemd-helper debian-installed meshd.service && in_root env DPKG_MAINTSCRIPT_PACKAGE=mesh-coordinator deb-systemd-helper debian-installed meshcoord.service"
check "systemd-analyze verify meshd.service meshcoord.service (installed, in the root)" bash -c \
    "out=\$(in_root systemd-analyze verify --man=no /lib/systemd/system/meshd.service /lib/systemd/system/meshcoord.service 2>&1); rc=\$?; echo \"\$out\"; [[ \$rc == 0 && -z \$out ]]"
for u in meshd meshcoord; do
    in_root systemd-analyze security --offline=true --no-pager "/lib/systemd/system/$u.service" > "$WORK/security-$u" 2>&1
    echo "    systemd-analyze security $u.service: $(grep -i 'overall exposure' "$WORK/security-$u" | sed 's/.*service: //')"
done

# meshd up without a token: one sentence, and the node key it made stays in /var/lib/mesh.
check "meshd up --config /etc/mesh/meshd.toml (the shipped file) without a token or registration: one sentence naming the state dir" bash -c \
    "out=\$(in_root /usr/sbin/meshd up --config /etc/mesh/meshd.toml 2>&1); rc=\$?; echo \"exit \$rc: \$out\"; [[ \$rc != 0 ]] && grep -q 'no saved registration in /var/lib/mesh' <<< \"\$out\""
sed 's/^/    /' "$WORK/check.out"

# meshcoord serve as the unit runs it (its user, the shipped config), in its own network
# namespace (the default 0.0.0.0:8080 and STUN ports are then its own), with an auth key made
# over its admin socket; stopped with SIGTERM. All in one namespace, so nothing outlives it.
coordinator_run() {
    unshare --mount --propagation private --net --fork sh -c '
        ip link set lo up || exit 91
        mount -t proc proc "$ROOT/proc" || exit 92
        root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
        root install -d -o meshcoord -g meshcoord -m 0700 /var/lib/meshcoord   # what StateDirectory= does
        ids=$(root getent passwd meshcoord | cut -d: -f3,4) && [ -n "$ids" ] || exit 95
        chroot --userspec="$ids" --groups="${ids#*:}" "$ROOT" env -i PATH=/usr/sbin:/usr/bin HOME=/var/lib/meshcoord \
            /usr/sbin/meshcoord serve --config /etc/mesh/meshcoord.toml > "$ROOT/tmp/meshcoord.log" 2>&1 &
        pid=$!
        deadline=$(( $(date +%s) + 30 ))
        until grep -q "meshcoord starting" "$ROOT/tmp/meshcoord.log" && [ -S "$ROOT/var/lib/meshcoord/admin.sock" ]; do
            kill -0 $pid 2>/dev/null || { echo "meshcoord exited:"; cat "$ROOT/tmp/meshcoord.log"; exit 93; }
            [ "$(date +%s)" -lt $deadline ] || { echo "meshcoord not ready within 30 s"; cat "$ROOT/tmp/meshcoord.log"; kill $pid; exit 94; }
            sleep 0.2
        done
        token=$(root /usr/sbin/meshcoord authkey create 2>/dev/null); rc=$?
        kill -TERM $pid; wait $pid; stop=$?
        echo "authkey create: exit $rc, token ${token%%_*}_... (${#token} characters); meshcoord exit $stop after SIGTERM"
        grep -o "meshcoord starting.*" "$ROOT/tmp/meshcoord.log" | cut -c1-160
        # Numeric owners: the names are the root'"'"'s, not this machine'"'"'s.
        ls -ln "$ROOT/var/lib/meshcoord" | awk -v ids="$ids" "NR > 1 { print \$1, \$3 \":\" \$4, \$NF, \"(meshcoord is \" ids \")\" }"
        [ $rc = 0 ] && [ "${token#mesh1_}" != "$token" ] && [ $stop = 0 ] &&
            [ -z "$(find "$ROOT/var/lib/meshcoord" ! -uid "${ids%%:*}")" ] && [ -f "$ROOT/var/lib/meshcoord/coordinator.key" ]
    '
}
check "meshcoord serve --config /etc/mesh/meshcoord.toml as meshcoord: starts, makes an auth key, stops on SIGTERM" coordinator_run
sed 's/^/    /' "$WORK/check.out"

# A reinstall (the upgrade path of the maintainer scripts) keeps an edited conffile.
echo "# edited by the admin" >> "$ROOT/etc/default/mesh"
check "reinstall of mesh (postinst configure with a previous version)" in_root dpkg -i "/tmp/debs/$(basename "$MESH_DEB")"
check "the edited /etc/default/mesh is kept" grep -qx "# edited by the admin" "$ROOT/etc/default/mesh"

check "dpkg --remove mesh mesh-coordinator" in_root dpkg --remove mesh mesh-coordinator
check "remove: the binaries and units are gone" bash -c \
    "[[ ! -e '$ROOT/usr/sbin/meshd' && ! -e '$ROOT/usr/bin/meshctl' && ! -e '$ROOT/usr/sbin/meshcoord' && ! -e '$ROOT/lib/systemd/system/meshd.service' ]]"
check "remove: conffiles and state stay" bash -c \
    "[[ -f '$ROOT/etc/default/mesh' && -f '$ROOT/etc/mesh/meshd.toml' && -f '$ROOT/etc/mesh/meshcoord.toml' && -d '$ROOT/var/lib/mesh' && -f '$ROOT/var/lib/meshcoord/coordinator.key' ]]"
check "remove: both are in state config-files" bash -c \
    "[[ \$(in_root dpkg-query -W -f='\${Status}\n' mesh mesh-coordinator | sort -u) == 'deinstall ok config-files' ]]"
check "dpkg --purge mesh mesh-coordinator" in_root dpkg --purge mesh mesh-coordinator
check "purge: conffiles, /etc/mesh and the state directories are gone" bash -c \
    "[[ ! -e '$ROOT/etc/default/mesh' && ! -e '$ROOT/etc/mesh' && ! -e '$ROOT/var/lib/mesh' && ! -e '$ROOT/var/lib/meshcoord' ]]"
check "purge: dpkg forgot both packages" bash -c "! in_root dpkg-query -W mesh mesh-coordinator 2>/dev/null | grep -q ."
check "purge: deb-systemd-helper forgot both units" bash -c \
    "! in_root env DPKG_MAINTSCRIPT_PACKAGE=mesh deb-systemd-helper debian-installed meshd.service && ! in_root env DPKG_MAINTSCRIPT_PACKAGE=mesh-coordinator deb-systemd-helper debian-installed meshcoord.service && [[ ! -e '$ROOT/var/lib/systemd/deb-systemd-helper-enabled/meshd.service.dsh-also' ]]"

summary
