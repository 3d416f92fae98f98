#!/usr/bin/env bash
# Does the toolchain still miscompile SIMD-backed values held across `await`?
# Keys are stored as four words (`KeyWords` in Sources/MeshCrypto/Key32.swift) because of it.
#   - the words variant must print "ok" (the workaround works);
#   - the SIMD variant is expected to crash or corrupt. If it prints "ok", the toolchain is
#     fixed: this check fails on purpose so the workaround gets removed (and this test with it).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=$here/simd_across_await.swift
swiftc -O -wmo -parse-as-library "$src" -o "$work/simd" || { echo "FAIL: SIMD variant does not compile"; exit 1; }
swiftc -O -wmo -parse-as-library -D WORDS "$src" -o "$work/words" || { echo "FAIL: words variant does not compile"; exit 1; }
words=$(SWIFT_BACKTRACE=enable=no timeout 60 "$work/words" 2>&1); words_rc=$?
simd=$(SWIFT_BACKTRACE=enable=no timeout 60 "$work/simd" 2>&1); simd_rc=$?
echo "words variant: exit $words_rc, ${words:-no output}"
echo "SIMD variant:  exit $simd_rc, $(echo "${simd:-no output}" | head -c 200)"
if [[ $words_rc != 0 || $words != ok ]]; then
    echo "FAIL simd_across_await: the workaround (keys as four words) no longer holds"; exit 1
fi
if [[ $simd_rc == 0 && $simd == ok ]]; then
    echo "FAIL simd_across_await: $(swiftc --version 2>&1 | head -1) no longer miscompiles; remove KeyWords from Key32.swift and this check"
    exit 1
fi
echo "PASS simd_across_await: the miscompile reproduces and the words workaround avoids it"
