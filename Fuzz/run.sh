#!/usr/bin/env bash
# Fuzz/run.sh - libFuzzer targets for every parser and every entry point that takes bytes from outside.
#
#   Fuzz/run.sh build            compile the modules (instrumented) and every target into .build-fuzz/
#   Fuzz/run.sh ci               build, then run each target for 20 s from a copy of its seed corpus
#                                (two at a time); exit non-zero if any target crashes
#   Fuzz/run.sh long [N]         build, then run each target (one at a time) for N executions
#                                (default 10,000,000) or at most FUZZ_LONG_SECONDS (default 3600);
#                                prints target, executions, cov, ft, crashes
#   Fuzz/run.sh run TARGET [libFuzzer flags...]   run one target by hand (e.g. on a crash file)
#
# Targets: Fuzz/Targets/<name>.swift; seeds: Fuzz/Corpus/<name>/ (regenerate with
# `Fuzz/run.sh seeds`, which runs Fuzz/Tools/make_seeds.swift). The committed corpus never grows:
# runs work on copies under .build-fuzz/ (ci in .build-fuzz/ci/, long in .build-fuzz/, so a CI run
# never wipes a long campaign's state). Crash inputs land in <that dir>/artifacts/<target>/; a
# crash worth keeping is copied to Fuzz/Crashes/<target>/, and ci replays every file there first.
# Environment: FUZZ_OUT (build dir), FUZZ_ONLY (targets), FUZZ_JOBS (ci parallelism, 2),
# FUZZ_CI_SECONDS (20), FUZZ_LONG_SECONDS (cap per target in long, 3600), FUZZ_TABLE (long's
# results file, so two long runs over disjoint FUZZ_ONLY lists can share one build), FUZZ_SANITIZE.
#
# The modules are compiled straight from Sources/ with swiftc (no SwiftPM): each pure module is a
# static library with coverage instrumentation (-sanitize=fuzzer) and AddressSanitizer, and each
# target links the ones it imports. NIO/Hummingbird are not needed.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
OUT=${FUZZ_OUT:-$REPO/.build-fuzz}
LIB=$OUT/lib
BIN=$OUT/bin
SAN=${FUZZ_SANITIZE:-fuzzer,address}
SWIFTC=${SWIFTC:-swiftc}
SODIUM_INC=$REPO/Sources/CSodium
# MeshCrypto's BoringSSL path (weak symbols): no BoringSSL is linked here, so it falls back to libsodium.
FASTAEAD_INC=$REPO/Sources/CFastAEAD/include

TARGETS=(stun_message relay_frame join_token tunnel_config coordinator_config disco_packet
         control_envelope relay_server relay_client wireguard_device relay_url https_proxy
         policy_document packet_filter daemon_config dns_message dns_forward netmap_filter wireguard_uapi
         local_api_request packet_offload)

# module: source dirs (dependency order). CoordinatorServer is only its config parser, which
# imports nothing but Foundation and MeshWire; MeshEngine only its pure parsers (the netmap's
# filter, the UAPI request reader) and MeshLocalAPI only its request line: the rest of those
# modules needs NIO or MeshStatus.
MODULES=(PacketOffload CheckedArithmetic MeshBase MeshCrypto WireGuard MeshConfig MeshWire Disco Relay Netcheck CoordinatorConfig MeshPolicy MeshDNS
         EnginePure LocalAPIRequest)
declare -A MODSRC=(
    [PacketOffload]="Sources/PacketOffload"
    [CheckedArithmetic]="Sources/CheckedArithmetic"
    [MeshBase]="Sources/MeshBase"
    [MeshCrypto]="Sources/MeshCrypto"
    [WireGuard]="Sources/WireGuard"
    [MeshConfig]="Sources/MeshConfig"
    [MeshWire]="Sources/MeshWire"
    [Disco]="Sources/Disco"
    [Relay]="Sources/Relay"
    [Netcheck]="Sources/Netcheck"
    [CoordinatorConfig]="Coordinator/Sources/CoordinatorServer/Config.swift Coordinator/Sources/CoordinatorServer/ExtraRecordsConfig.swift Coordinator/Sources/CoordinatorServer/TerminalText.swift"
    [MeshPolicy]="Sources/MeshPolicy"
    [MeshDNS]="Sources/MeshDNS"
    [EnginePure]="Sources/MeshEngine/NetmapFilterRules.swift Sources/MeshEngine/WireGuardUAPIRequest.swift"
    [LocalAPIRequest]="Sources/MeshLocalAPI/LocalAPIRequest.swift"
)
# These parts are compiled under their real module names, so targets import them as the code does.
declare -A MODNAME=([CoordinatorConfig]=CoordinatorServer [EnginePure]=MeshEngine [LocalAPIRequest]=MeshLocalAPI)

log() { echo "fuzz: $*" >&2; }

build_module() { # MODULE
    local m=$1 name=${MODNAME[$1]:-$1} srcs=()
    local s
    for s in ${MODSRC[$m]}; do
        if [[ -d $s ]]; then srcs+=("$s"/*.swift); else srcs+=("$s"); fi
    done
    "$SWIFTC" -O -g -sanitize="$SAN" -parse-as-library -enable-testing -swift-version 6 -package-name mesh \
        -emit-library -static -emit-module -module-name "$name" \
        -emit-module-path "$LIB/$name.swiftmodule" \
        -I "$LIB" -I "$SODIUM_INC" -I "$FASTAEAD_INC" "${srcs[@]}" -o "$LIB/lib$name.a"
}

build_target() { # TARGET
    local t=$1 libs=() i m
    # Static libraries link dependents first.
    for ((i = ${#MODULES[@]} - 1; i >= 0; i--)); do m=${MODULES[$i]}; libs+=("-l${MODNAME[$m]:-$m}"); done
    "$SWIFTC" -O -g -sanitize="$SAN" -parse-as-library -swift-version 6 -package-name mesh -module-name "fuzz_$t" \
        -I "$LIB" -I "$SODIUM_INC" -I "$FASTAEAD_INC" -L "$LIB" "$REPO/Fuzz/Targets/$t.swift" "$REPO"/Fuzz/Support/*.swift "${libs[@]}" -lCFastAEAD -lsodium \
        -o "$BIN/$t" 2> >(grep -v "Cannot export local symbol" >&2)
}

build_fast_aead() {
    "${CLANG:-clang}" -O2 -fPIC -I "$FASTAEAD_INC" -c "$REPO/Sources/CFastAEAD/fast_aead.c" -o "$LIB/fast_aead.o" \
        && rm -f "$LIB/libCFastAEAD.a" && ar rcs "$LIB/libCFastAEAD.a" "$LIB/fast_aead.o"
}

cmd_build() {
    mkdir -p "$LIB" "$BIN"
    local m t
    build_fast_aead || { log "Sources/CFastAEAD failed to compile"; return 1; }
    for m in "${MODULES[@]}"; do
        [[ -n ${FUZZ_REUSE_MODULES:-} && -f $LIB/lib${MODNAME[$m]:-$m}.a ]] && continue
        log "module $m"
        build_module "$m" || { log "module $m failed to compile"; return 1; }
    done
    for t in ${FUZZ_ONLY:-${TARGETS[@]}}; do
        log "target $t"
        build_target "$t" || { log "target $t failed to compile"; return 1; }
    done
    if [[ -z ${FUZZ_ONLY:-} ]]; then
        log "seed generator"
        build_seed_generator || { log "Fuzz/Tools/make_seeds.swift failed to compile"; return 1; }
    fi
    log "built ${FUZZ_ONLY:-${#TARGETS[@]} targets} into $BIN"
}

# run_one TARGET LIMIT_ARGS... ; writes $RUN/logs/<t>.log; returns libFuzzer's exit code.
# RUN is the scratch root of the current mode (work/, artifacts/, logs/).
RUN=$OUT
run_one() {
    local t=$1; shift
    local work=$RUN/work/$t art=$RUN/artifacts/$t
    rm -rf "$work"; mkdir -p "$work" "$art" "$RUN/logs"
    if [[ -d $REPO/Fuzz/Corpus/$t ]]; then cp -r "$REPO/Fuzz/Corpus/$t/." "$work/"; fi
    local dict=() ; [[ -f $REPO/Fuzz/Dict/$t.dict ]] && dict=(-dict="$REPO/Fuzz/Dict/$t.dict")
    # Swift traps (overflow, bad index, force-unwrap) are crashes like ASan reports.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:handle_sigill=1:handle_abort=1} \
        nice -n 10 "$BIN/$t" "$work" -artifact_prefix="$art/" -print_final_stats=1 -max_len=4096 \
        -timeout=10 -rss_limit_mb=2048 "${dict[@]}" "$@" >"$RUN/logs/$t.log" 2>&1
}

stat_of() { # LOG KEY -> value from libFuzzer's final "#N DONE cov: X ft: Y" line (else the last status line)
    local log=$1 key=$2 line v
    line=$(grep -E '^#[0-9]+[[:space:]]+DONE ' "$log" | tail -1)
    [[ -n $line ]] || line=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1)
    case $key in
        execs) v=$(grep -oE '^#[0-9]+' <<<"$line" | tr -d '#') ;;
        cov) v=$(grep -oE 'cov: [0-9]+' <<<"$line" | grep -oE '[0-9]+') ;;
        ft) v=$(grep -oE 'ft: [0-9]+' <<<"$line" | grep -oE '[0-9]+') ;;
    esac
    echo "${v:-?}"
}

crashes_of() { ls "$RUN/artifacts/$1" 2>/dev/null | grep -cE '^(crash|leak|timeout|oom|slow-unit)-' ; }

# Every committed reproducer in Fuzz/Crashes/<target>/ must run clean now (the bug stays fixed).
replay_crashes() {
    local t f failed=0
    for t in ${FUZZ_ONLY:-${TARGETS[@]}}; do
        [[ -d $REPO/Fuzz/Crashes/$t ]] || continue
        for f in "$REPO/Fuzz/Crashes/$t"/*; do
            [[ -f $f ]] || continue
            if ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} "$BIN/$t" -timeout=10 "$f" >"$RUN/logs/replay.log" 2>&1; then
                log "replay $t/$(basename "$f"): ok"
            else
                log "replay $t/$(basename "$f"): STILL CRASHES"; grep -E 'Fatal error|ERROR|SUMMARY' "$RUN/logs/replay.log" | head -4 >&2
                failed=$((failed + 1))
            fi
        done
    done
    [[ $failed == 0 ]]
}

cmd_ci() {
    cmd_build || return 1
    local secs=${FUZZ_CI_SECONDS:-20} failed=0 t pids=() names=()
    RUN=$OUT/ci
    rm -rf "$RUN/artifacts"; mkdir -p "$RUN/logs"
    replay_crashes || failed=$((failed + 1))
    wait_batch() {
        local i rc
        for i in "${!pids[@]}"; do
            wait "${pids[$i]}"; rc=$?
            local n=${names[$i]} c; c=$(crashes_of "$n")
            printf 'fuzz: %-20s exit %-3s execs %-9s cov %-6s ft %-6s crashes %s\n' "$n" "$rc" \
                "$(stat_of "$RUN/logs/$n.log" execs)" "$(stat_of "$RUN/logs/$n.log" cov)" \
                "$(stat_of "$RUN/logs/$n.log" ft)" "$c" >&2
            if [[ $rc != 0 || $c != 0 ]]; then
                failed=$((failed + 1))
                grep -E 'ERROR|Fatal error|SUMMARY|Test unit written|Base64' "$RUN/logs/$n.log" | head -8 >&2
            fi
        done
        pids=() names=()
    }
    for t in ${FUZZ_ONLY:-${TARGETS[@]}}; do
        run_one "$t" -max_total_time="$secs" & pids+=($!) names+=("$t")
        [[ ${#pids[@]} -ge ${FUZZ_JOBS:-2} ]] && wait_batch
    done
    wait_batch
    if [[ $failed -gt 0 ]]; then log "$failed target(s) crashed; inputs in $RUN/artifacts/"; return 1; fi
    log "all ${#TARGETS[@]} targets ran ${secs}s without a crash"
}

cmd_long() {
    local runs=${1:-10000000} secs=${FUZZ_LONG_SECONDS:-3600} t rc failed=0 row
    cmd_build || return 1
    local only=(${FUZZ_ONLY:-${TARGETS[@]}})
    # The table also goes to $OUT/long-results.txt (one row per finished target) for Fuzz/RESULTS.md.
    local table=${FUZZ_TABLE:-$OUT/long-results.txt}
    printf '%-20s %12s %8s %8s %8s %8s\n' target executions cov ft seconds crashes | tee "$table"
    for t in "${only[@]}"; do
        rm -rf "$RUN/artifacts/$t"
        local t0=$SECONDS
        run_one "$t" -runs="$runs" -max_total_time="$secs"; rc=$?
        local c; c=$(crashes_of "$t")
        [[ $rc != 0 || $c != 0 ]] && failed=$((failed + 1))
        row=$(printf '%-20s %12s %8s %8s %8s %8s' "$t" "$(stat_of "$RUN/logs/$t.log" execs)" \
            "$(stat_of "$RUN/logs/$t.log" cov)" "$(stat_of "$RUN/logs/$t.log" ft)" "$((SECONDS - t0))" "$c")
        echo "$row" | tee -a "$table"
    done
    [[ $failed == 0 ]]
}

# The seed generator is linked like a target (the instrumented modules need libFuzzer's runtime);
# it writes the seeds from LLVMFuzzerInitialize and exits before any fuzzing. `build` compiles it
# too, so it cannot rot unnoticed between regenerations.
build_seed_generator() {
    local i m libs=()
    for ((i = ${#MODULES[@]} - 1; i >= 0; i--)); do m=${MODULES[$i]}; libs+=("-l${MODNAME[$m]:-$m}"); done
    "$SWIFTC" -O -g -sanitize="$SAN" -parse-as-library -swift-version 6 -package-name mesh -module-name make_seeds \
        -I "$LIB" -I "$SODIUM_INC" -I "$FASTAEAD_INC" -L "$LIB" Fuzz/Tools/make_seeds.swift Fuzz/Support/*.swift "${libs[@]}" -lCFastAEAD -lsodium \
        -o "$BIN/make_seeds" 2> >(grep -v "Cannot export local symbol" >&2)
}

cmd_seeds() {
    mkdir -p "$LIB" "$BIN"
    local m t
    for m in "${MODULES[@]}"; do build_module "$m" || return 1; done
    build_seed_generator || return 1
    for t in "${TARGETS[@]}"; do rm -rf "$REPO/Fuzz/Corpus/$t"; mkdir -p "$REPO/Fuzz/Corpus/$t"; done
    FUZZ_SEED_DIR=$REPO/Fuzz/Corpus ASAN_OPTIONS=detect_leaks=0 "$BIN/make_seeds"
}

case ${1:-} in
    build) cmd_build ;;
    ci) cmd_ci ;;
    long) shift; cmd_long "$@" ;;
    seeds) cmd_seeds ;;
    run) shift; t=$1; shift; ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} "$BIN/$t" "$@" ;;
    *) sed -n '2,21p' "$0"; exit 2 ;;
esac
