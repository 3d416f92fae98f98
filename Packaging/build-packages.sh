#!/usr/bin/env bash
# build-packages.sh - the Debian packages of mesh: `mesh` (meshd, meshctl) and
# `mesh-coordinator` (meshcoord), for a Debian 12 host without a Swift toolchain.
#
#   Packaging/build-packages.sh [--out DIR] [--build-path DIR] [--revision N] [--skip-build]
#
# The binaries are release builds with the Swift runtime linked in statically
# (--static-swift-stdlib) in their own build path (default .build-static, git-ignored), so
# they need only Debian's libc, libsodium and (meshcoord) SQLite; the packages depend on those
# through dpkg-shlibdeps. Everything else comes from this repository: the version from
# MeshVersion.string (Sources/MeshLocalAPI/MeshVersion.swift, the one place it is written, which
# `meshd --version` prints; the Debian revision is --revision, default 1), the units from
# Packaging/systemd, the maintainer scripts, conffiles and docs from
# Packaging/debian/<package>. Manual pages come from swift-argument-parser's generate-manual
# tool (the one its GenerateManual plugin runs; built from the resolved checkout), or from
# --help when that tool is missing; shell completions from --generate-completion-script.
# The .deb files go to --out (default .build-packages/) and are printed at the end.
#
# --skip-build packages the binaries already in the build path (Tests/Packaging/packages.sh
# uses it after a build). Needs dpkg-dev (dpkg-shlibdeps), which Debian's build hosts have.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

OUT=$REPO/.build-packages
BUILD_PATH=$REPO/.build-static
REVISION=1
SKIP_BUILD=

die() { echo "build-packages: $*" >&2; exit 1; }
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --out) [[ $# -ge 2 ]] || die "--out needs a directory"; OUT=$2; shift 2 ;;
        --build-path) [[ $# -ge 2 ]] || die "--build-path needs a directory"; BUILD_PATH=$2; shift 2 ;;
        --revision) [[ $# -ge 2 ]] || die "--revision needs a number"; REVISION=$2; shift 2 ;;
        --skip-build) SKIP_BUILD=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "build-packages: unknown argument $1" >&2; usage 2 ;;
    esac
done
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
[[ $BUILD_PATH == /* ]] || BUILD_PATH=$REPO/$BUILD_PATH

VERSION_SOURCE=Sources/MeshLocalAPI/MeshVersion.swift
UPSTREAM=$(sed -n 's/^ *public static let string = "\([^"]*\)".*/\1/p' "$VERSION_SOURCE")
[[ $UPSTREAM =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "$VERSION_SOURCE gives \"$UPSTREAM\", not an upstream version like 0.1.0"
[[ $REVISION =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "--revision \"$REVISION\" is not a Debian revision like 1"
VERSION=$UPSTREAM-$REVISION
ARCH=$(dpkg --print-architecture)
# Reproducible dates (man pages, changelog, file times): the last commit's.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH
# Debian's convention for who builds: DEBFULLNAME and DEBEMAIL, else git's user.
MAINTAINER="${DEBFULLNAME:-$(git config user.name 2>/dev/null || echo "mesh maintainers")} <${DEBEMAIL:-$(git config user.email 2>/dev/null || echo "mesh@localhost")}>"
for tool in dpkg-deb dpkg-shlibdeps gzip strip; do
    command -v "$tool" >/dev/null || die "needs $tool (apt-get install dpkg-dev binutils)"
done

# -z now: relocations resolved at start, so the GOT can be read-only (lintian's hardening-no-bindnow).
SWIFT=(swift build -c release --static-swift-stdlib -Xlinker -z -Xlinker now --build-path "$BUILD_PATH")
PRODUCTS=(meshd meshctl meshcoord)
if [[ -z $SKIP_BUILD ]]; then
    for product in "${PRODUCTS[@]}"; do
        t0=$SECONDS
        echo "build-packages: ${SWIFT[*]} --product $product"
        "${SWIFT[@]}" --product "$product"
        echo "build-packages: $product built in $((SECONDS - t0)) s"
    done
fi
BIN=$("${SWIFT[@]}" --show-bin-path)
for product in "${PRODUCTS[@]}"; do
    [[ -x $BIN/$product ]] || die "$BIN/$product is missing (build first, or drop --skip-build)"
    if ldd "$BIN/$product" | grep -q 'libswift\|libFoundation\|libdispatch\|libBlocksRuntime'; then
        die "$BIN/$product links the Swift runtime dynamically: $(ldd "$BIN/$product" | grep -o 'lib[A-Za-z_]*swift[^ ]*\|libFoundation[^ ]*' | sort -u | tr '\n' ' ')"
    fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mesh-packages.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# generate-manual, the tool behind swift-argument-parser's GenerateManual plugin. The plugin
# itself would build every product of the package again (benchmarks too, in another
# configuration); the tool alone is small. It is built from a copy of the resolved checkout,
# so the checkout SwiftPM manages stays untouched.
GENERATE_MANUAL=
parser_checkout=$BUILD_PATH/checkouts/swift-argument-parser
if [[ -d $parser_checkout/Tools/generate-manual ]]; then
    tools=$BUILD_PATH/argument-parser-tools
    if [[ ! -x $tools/release/generate-manual ]]; then
        rm -rf "$tools/src" && mkdir -p "$tools/src"
        (cd "$parser_checkout" && tar --exclude=.git -cf - .) | tar -xf - -C "$tools/src"
        echo "build-packages: building generate-manual (swift-argument-parser $(git -C "$parser_checkout" describe --tags 2>/dev/null || echo checkout))"
        swift build -c release --package-path "$tools/src" --scratch-path "$tools" --product generate-manual
    fi
    GENERATE_MANUAL=$tools/release/generate-manual
else
    echo "build-packages: no generate-manual in $parser_checkout: manual pages from --help instead"
fi

MAN_DATE=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)

# man_page BINARY NAME SECTION: the page on stdout.
man_page() {
    local binary=$1 name=$2 section=$3
    if [[ -n $GENERATE_MANUAL ]]; then
        "$GENERATE_MANUAL" "$binary" --section "$section" --date "$MAN_DATE" -o -
        return
    fi
    # Without the tool: the --help text of the command and of each subcommand, verbatim.
    local upper; upper=$(tr '[:lower:]' '[:upper:]' <<< "$name")
    printf '.TH %s %s %s "mesh %s"\n' "$upper" "$section" "$MAN_DATE" "$UPSTREAM"
    local abstract; abstract=$("$binary" --help 2>&1 | sed -n 's/^OVERVIEW: //p' | head -1)
    printf '.SH NAME\n%s \\- %s\n' "$name" "${abstract:-mesh $name}"
    printf '.SH DESCRIPTION\n.nf\n'
    "$binary" --help 2>&1 | sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/'
    local sub
    for sub in $("$binary" --help 2>&1 | sed -n '/^SUBCOMMANDS:/,/^$/p' | awk 'NR > 1 && $1 != "" {print $1}'); do
        printf '.fi\n.SH "%s %s"\n.nf\n' "$name" "$sub"
        "$binary" "$sub" --help 2>&1 | sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/'
    done
    printf '.fi\n'
}

# fill TEMPLATE [PLACEHOLDER VALUE]...: the template with each placeholder replaced (values
# are taken literally: a Depends line has parentheses, commas and bars).
fill() {
    local text; text=$(< "$1"); shift
    while [[ $# -ge 2 ]]; do text=${text//"$1"/"$2"}; shift 2; done
    printf '%s\n' "$text"
}

# stage PACKAGE: an empty root for PACKAGE with its DEBIAN/ directory.
stage() {
    local root=$WORK/$1
    mkdir -p "$root/DEBIAN"
    echo "$root"
}

# add_binary ROOT DIR NAME SECTION: the stripped binary, its manual page and completions.
add_binary() {
    local root=$1 dir=$2 name=$3 section=$4
    install -D -m 0755 "$BIN/$name" "$root/$dir/$name"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/$dir/$name"
    mkdir -p "$root/usr/share/man/man$section"
    man_page "$root/$dir/$name" "$name" "$section" > "$WORK/$name.$section"
    [[ -s $WORK/$name.$section ]] || die "no manual page for $name"
    gzip -9n < "$WORK/$name.$section" > "$root/usr/share/man/man$section/$name.$section.gz"
    install -d "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
        "$root/usr/share/fish/vendor_completions.d"
    # bash-completion sources the file: a #! line means nothing there (lintian: bash-completion-with-hashbang).
    "$root/$dir/$name" --generate-completion-script bash | sed '1{/^#!/d}' > "$root/usr/share/bash-completion/completions/$name"
    "$root/$dir/$name" --generate-completion-script zsh > "$root/usr/share/zsh/vendor-completions/_$name"
    "$root/$dir/$name" --generate-completion-script fish > "$root/usr/share/fish/vendor_completions.d/$name.fish"
}

# add_docs ROOT PACKAGE: copyright, changelog.Debian.gz, README.Debian, lintian overrides.
add_docs() {
    local root=$1 package=$2 src=Packaging/debian
    local doc=$root/usr/share/doc/$package
    install -D -m 0644 "$src/copyright" "$doc/copyright"
    local date; date=$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")
    fill "$src/changelog" @VERSION@ "$VERSION" @MAINTAINER@ "$MAINTAINER" @DATE@ "$date" | gzip -9n > "$doc/changelog.Debian.gz"
    [[ -f $src/$package/README.Debian ]] && install -m 0644 "$src/$package/README.Debian" "$doc/README.Debian"
    if [[ -f $src/$package/lintian-overrides ]]; then
        install -D -m 0644 "$src/$package/lintian-overrides" "$root/usr/share/lintian/overrides/$package"
    fi
    return 0
}

# finish ROOT PACKAGE BINARY...: control (with the libraries' packages as Depends), conffiles,
# maintainer scripts, md5sums; then the .deb.
finish() {
    local root=$1 package=$2; shift 2
    local src=Packaging/debian/$package
    # dpkg-shlibdeps reads debian/control of a source tree; a two-stanza one is enough.
    local shlib_tree=$WORK/shlibdeps-$package
    mkdir -p "$shlib_tree/debian"
    printf 'Source: mesh\n\nPackage: %s\nArchitecture: any\n' "$package" > "$shlib_tree/debian/control"
    local args=() b
    for b in "$@"; do args+=("-e$root/$b"); done
    local shlibs
    shlibs=$(cd "$shlib_tree" && dpkg-shlibdeps -O "${args[@]}" 2>"$WORK/shlibdeps.err") \
        || { cat "$WORK/shlibdeps.err" >&2; die "dpkg-shlibdeps failed for $package"; }
    shlibs=${shlibs#shlibs:Depends=}
    [[ -n $shlibs ]] || die "dpkg-shlibdeps found no libraries for $package"

    install -m 0644 "$src/conffiles" "$root/DEBIAN/conffiles"
    local script
    for script in postinst prerm postrm; do
        install -m 0755 "$src/$script" "$root/DEBIAN/$script"
    done
    find "$root" -path "$root/DEBIAN" -prune -o -type d -exec chmod 0755 {} +
    (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) \
        > "$root/DEBIAN/md5sums"
    chmod 0644 "$root/DEBIAN/md5sums"
    local size; size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
    fill "$src/control.in" @VERSION@ "$VERSION" @ARCH@ "$ARCH" @MAINTAINER@ "$MAINTAINER" \
        @INSTALLED_SIZE@ "$size" @SHLIBS@ "$shlibs" > "$root/DEBIAN/control"
    chmod 0644 "$root/DEBIAN/control"
    # Every file dated by the last commit (reproducible archives).
    find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    local deb=$OUT/${package}_${VERSION}_${ARCH}.deb
    rm -f "$deb"
    dpkg-deb --build --root-owner-group "$root" "$deb" >/dev/null
    echo "build-packages: $deb ($(du -h "$deb" | cut -f1); Depends: $shlibs)"
}

t0=$SECONDS
root=$(stage mesh)
add_binary "$root" usr/sbin meshd 8
add_binary "$root" usr/bin meshctl 1
install -D -m 0644 Packaging/systemd/meshd.service "$root/lib/systemd/system/meshd.service"
install -D -m 0644 Packaging/debian/mesh/default "$root/etc/default/mesh"
install -D -m 0644 Packaging/debian/mesh/meshd.toml "$root/etc/mesh/meshd.toml"
add_docs "$root" mesh
finish "$root" mesh usr/sbin/meshd usr/bin/meshctl

root=$(stage mesh-coordinator)
add_binary "$root" usr/sbin meshcoord 8
install -D -m 0644 Packaging/systemd/meshcoord.service "$root/lib/systemd/system/meshcoord.service"
install -D -m 0644 Packaging/debian/mesh-coordinator/meshcoord.toml "$root/etc/mesh/meshcoord.toml"
add_docs "$root" mesh-coordinator
finish "$root" mesh-coordinator usr/sbin/meshcoord
echo "build-packages: packaged version $VERSION for $ARCH in $((SECONDS - t0)) s"
