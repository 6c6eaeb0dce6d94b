#!/usr/bin/env bash
# GnuTLS's p11tool loads softse-pkcs11.so through p11-kit, which calls
# C_Initialize with a standard CK_C_INITIALIZE_ARGS (CKF_OS_LOCKING_OK):
# list the token, draw random bytes, generate an EC key inside the token
# and find it again from a new process.
#
# usage: p11tool.sh /path/to/softse-pkcs11.so
set -euo pipefail

module=${1:?usage: $0 /path/to/softse-pkcs11.so}
for tool in p11tool pkcs11-tool; do
    command -v $tool >/dev/null || { echo "$tool is not installed: skipped"; exit 77; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/softse-p11tool.XXXXXX")
trap 'rm -rf "$work"' EXIT
export SOFTSE_STORE=$work/store
export SOFTSE_PIN_KDF_ITERATIONS=1000
unset SOFTSE_CONF

. "$(dirname "${BASH_SOURCE[0]}")/../helpers/sanitizer-preload.sh"
softse_sanitizer_preload "$module" || { echo "cannot preload the sanitizer runtime: skipped"; exit 77; }
preload=$SOFTSE_PRELOAD

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
p11tool_() {
    LD_PRELOAD=$preload p11tool --provider "$module" "$@"
}

echo "== a token made with pkcs11-tool"
LD_PRELOAD=$preload pkcs11-tool --module "$module" --init-token --label gnutls --so-pin 12345678 >/dev/null
LD_PRELOAD=$preload pkcs11-tool --module "$module" --token-label gnutls --init-pin --login \
    --so-pin 12345678 --pin 1234 >/dev/null

echo "== p11tool --list-tokens"
out=$(p11tool_ --list-tokens 2>&1) || fail "p11tool --list-tokens: $out"
grep -q "Label: gnutls" <<<"$out" || { echo "$out"; fail "the token is not listed"; }
grep -q "token=gnutls" <<<"$out" || { echo "$out"; fail "no pkcs11: URL for the token"; }
url="pkcs11:token=gnutls"

echo "== p11tool --generate-random"
p11tool_ --generate-random 32 "$url" >"$work/random" || fail "p11tool --generate-random"
[ "$(stat -c %s "$work/random")" = 32 ] || fail "--generate-random 32 gave $(stat -c %s "$work/random") bytes"

echo "== p11tool --list-mechanisms"
out=$(p11tool_ --list-mechanisms "$url" 2>&1) || fail "p11tool --list-mechanisms: $out"
grep -q "CKM_SHA256 " <<<"$out" || { echo "$out"; fail "CKM_SHA256 not listed"; }

echo "== p11tool --generate-privkey ECDSA, then find it from a new process"
export GNUTLS_PIN=1234
out=$(p11tool_ --login --generate-privkey ECDSA --curve secp256r1 --label gnutls-key "$url" 2>&1) ||
    fail "p11tool --generate-privkey: $out"
grep -q "BEGIN PUBLIC KEY" <<<"$out" || { echo "$out"; fail "no public key printed"; }
out=$(p11tool_ --login --list-privkeys "$url" 2>&1) || fail "p11tool --list-privkeys: $out"
grep -q "Label: gnutls-key" <<<"$out" || { echo "$out"; fail "the generated key is not listed"; }
grep -q "CKA_SENSITIVE" <<<"$out" || { echo "$out"; fail "the generated key is not sensitive"; }

echo "all p11tool steps passed"
