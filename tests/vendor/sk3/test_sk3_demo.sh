#!/usr/bin/env bash
# SK3 between processes: runs the example program sk3_demo (P_i, P_j and
# the server S in separate processes, each with its own C_Initialize, on
# three tokens of one store) and checks that P_j printed the message P_i
# sent under sigma_i.  A second run on the same store reuses the tokens.
#
#   test_sk3_demo.sh SK3_DEMO   (SOFTSE_MODULE names the module)
set -euo pipefail

demo=$1
: "${SOFTSE_MODULE:?SOFTSE_MODULE must name softse-pkcs11.so}"
SOFTSE_STORE=$(mktemp -d "${TMPDIR:-/tmp}/sk3-demo.XXXXXX")
export SOFTSE_STORE SOFTSE_PIN_KDF_ITERATIONS=1000
trap 'rm -rf "$SOFTSE_STORE"' EXIT
unset SOFTSE_CONF

run() { # MESSAGE
    local out
    if ! out=$(timeout 60 "$demo" "$SOFTSE_MODULE" "$1" 2>&1); then
        printf '%s\n' "$out"
        echo "FAIL: sk3_demo exited with an error"
        exit 1
    fi
    printf '%s\n' "$out"
    if ! grep -qxF "P_j received: $1" <<<"$out"; then
        echo "FAIL: P_j did not print the message"
        exit 1
    fi
}

run "first message over SK3: $(date +%s%N)"
run "second run, same tokens"
ls "$SOFTSE_STORE" | grep -c '\.sqlite$' | grep -qx 3 || {
    echo "FAIL: expected the three tokens in the store"
    ls -la "$SOFTSE_STORE"
    exit 1
}
echo "ok"
