#!/usr/bin/env bash
# OpenSC's pkcs11-tool with Triple DES keys, one process per step: the
# mechanism list, --keygen --key-type DES3:, import of a known
# key (--write-object) and the refusal of one with bad parity, then
# encryption and decryption checked against openssl enc where this
# pkcs11-tool can encrypt with DES3 (0.23 encrypts with AES only: the
# step reports itself skipped).
#
# usage: des3-pkcs11-tool.sh /path/to/softse-pkcs11.so
set -euo pipefail

module=${1:?usage: $0 /path/to/softse-pkcs11.so}
command -v pkcs11-tool >/dev/null || { echo "pkcs11-tool (opensc) is not installed: skipped"; exit 77; }
command -v openssl >/dev/null || { echo "openssl is not installed: skipped"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/softse-des3-tool.XXXXXX")
trap 'rm -rf "$work"' EXIT
export SOFTSE_STORE=$work/store
export SOFTSE_ROT_DIR=$work/rot
export SOFTSE_PIN_KDF_ITERATIONS=1000
unset SOFTSE_CONF SOFTSE_ROT_PROVIDER SOFTSE_ROT_TCTI

. "$(dirname "${BASH_SOURCE[0]}")/../helpers/sanitizer-preload.sh"
softse_sanitizer_preload "$module" || { echo "cannot preload the sanitizer runtime: skipped"; exit 77; }
preload=$SOFTSE_PRELOAD

SO_PIN=12345678
PIN=1234
K3=0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123 # NIST SP 800-67's key
IV=0001020304050607
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/steps.sh"

p11() { LD_PRELOAD=$preload pkcs11-tool --module "$module" "$@"; }
p11u() { p11 --token-label t --login --pin $PIN "$@"; }

step "a token with a user PIN"
p11 --init-token --label t --so-pin $SO_PIN >/dev/null 2>&1 || fail "--init-token"
p11 --token-label t --init-pin --login --so-pin $SO_PIN --pin $PIN >/dev/null 2>&1 || fail "--init-pin"

step "the mechanism list has Triple DES and the encrypt-data derivations"
out=$(p11 --list-mechanisms 2>&1)
for mech in DES2-KEY-GEN DES3-KEY-GEN DES3-ECB DES3-CBC DES3-CBC-PAD DES3-MAC DES3-MAC-GENERAL \
    DES3-CMAC DES3-ECB-ENCRYPT-DATA DES3-CBC-ENCRYPT-DATA AES-ECB-ENCRYPT-DATA AES-CBC-ENCRYPT-DATA; do
    expect_in "$out" "^ *$mech," "--list-mechanisms"
done
expect_in "$out" "DES3-CBC-PAD, keySize={16,24}, hw, encrypt, decrypt, wrap, unwrap" "DES3-CBC-PAD info"
if grep -q "^ *DES-ECB," <<<"$out"; then fail "single DES is listed"; fi

# (pkcs11-tool 0.23 has no DES2: key type; tests/integration/test_des3.c
# generates DES2 keys.)
step "--keygen --key-type DES3:"
out=$(p11u --keygen --key-type DES3: --label d3 --id 01 2>&1) || { echo "$out"; fail "--keygen DES3:"; }
expect_in "$out" "DES3 length 24" "--keygen DES3:"
out=$(p11u --list-objects --type secrkey 2>&1)
expect_in "$out" "label: *d3" "--list-objects"

step "import a DES3 key; one with bad parity is refused"
printf '%s' $K3 | xxd -r -p >"$work/k3.bin"
out=$(p11u --write-object "$work/k3.bin" --type secrkey --key-type DES3: --id 03 --label known 2>&1) ||
    { echo "$out"; fail "--write-object DES3"; }
printf '%s' 0023456789ABCDEF23456789ABCDEF01456789ABCDEF0123 | xxd -r -p >"$work/bad.bin"
if out=$(p11u --write-object "$work/bad.bin" --type secrkey --key-type DES3: --id 04 --label bad 2>&1); then
    echo "$out"
    fail "a DES3 key with bad parity was imported"
fi
expect_in "$out" "CKR_ATTRIBUTE_VALUE_INVALID" "bad parity"

step "encrypt and decrypt with the known key, against openssl enc"
head -c 100 /dev/urandom >"$work/plain"
if out=$(p11u --encrypt -m DES3-CBC-PAD --id 03 --iv $IV -i "$work/plain" -o "$work/token.enc" 2>&1); then
    openssl enc -des-ede3-cbc -K $K3 -iv $IV -in "$work/plain" -out "$work/openssl.enc"
    cmp -s "$work/token.enc" "$work/openssl.enc" || fail "DES3-CBC-PAD ciphertext differs from openssl's"
    p11u --decrypt -m DES3-CBC-PAD --id 03 --iv $IV -i "$work/openssl.enc" -o "$work/back" >/dev/null 2>&1 ||
        fail "--decrypt DES3-CBC-PAD"
    cmp -s "$work/back" "$work/plain" || fail "DES3-CBC-PAD decryption differs"
    p11u --encrypt -m DES3-CBC-PAD --id 01 --iv $IV -i "$work/plain" -o "$work/gen.enc" >/dev/null 2>&1 ||
        fail "--encrypt with the generated key"
    p11u --decrypt -m DES3-CBC-PAD --id 01 --iv $IV -i "$work/gen.enc" -o "$work/gen.back" >/dev/null 2>&1 ||
        fail "--decrypt with the generated key"
    cmp -s "$work/gen.back" "$work/plain" || fail "generated key: decryption differs"
    echo "ok: DES3-CBC-PAD equals openssl enc; generated keys round-trip"
elif grep -q "illegal or not supported" <<<"$out"; then
    echo "skipped: this pkcs11-tool does not encrypt with DES3 ($(head -1 <<<"$out"))"
else
    echo "$out"
    fail "--encrypt DES3-CBC-PAD"
fi

echo "all $steps steps passed"
