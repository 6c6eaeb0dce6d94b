#!/usr/bin/env bash
# RSA as cards use it, checked with the openssl command line on the public
# keys pkcs11-tool exports (docs/spec.md "RSA as cards use it"): 1024-bit
# key pairs with e = 3 and 65537, the card's signatures with message
# recovery (CKM_RSA_X_509 and CKM_RSA_PKCS) recovered by `openssl pkeyutl
# -verifyrecover`, raw encryption compared with `openssl pkeyutl -encrypt
# -pkeyopt rsa_padding_mode:none`, raw signatures by pkcs11-tool, the
# mechanism list, and a raised rsa_min_bits.  p11-rsa (p11_rsa.c) makes
# the calls pkcs11-tool has no option for.
#
# usage: rsa-cards.sh /path/to/softse-pkcs11.so /path/to/p11-rsa
set -euo pipefail

module=${1:?usage: $0 /path/to/softse-pkcs11.so /path/to/p11-rsa}
driver=${2:?usage: $0 /path/to/softse-pkcs11.so /path/to/p11-rsa}
command -v pkcs11-tool >/dev/null || { echo "pkcs11-tool (opensc) is not installed: skipped"; exit 77; }
command -v openssl >/dev/null || { echo "openssl is not installed: skipped"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/softse-rsa-cards.XXXXXX")
trap '[ -n "${SOFTSE_TEST_KEEP:-}" ] || rm -rf "$work"' EXIT
export SOFTSE_STORE=$work/store
export SOFTSE_PIN_KDF_ITERATIONS=1000
unset SOFTSE_CONF SOFTSE_RSA_MIN_BITS

# pkcs11-tool is not instrumented: a sanitizer build needs its runtime preloaded.
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/sanitizer-preload.sh"
softse_sanitizer_preload "$module" || { echo "cannot preload the sanitizer runtime: skipped"; exit 77; }
preload=$SOFTSE_PRELOAD

SO_PIN=12345678
PIN=1234
K=128 # bytes of a 1024-bit modulus

p11() {
    LD_PRELOAD=$preload pkcs11-tool --module "$module" --token-label t "$@"
}
card() { # card LABEL OPERATION ARGS… (p11_rsa.c)
    "$driver" "$module" $PIN "$@"
}
. "$(dirname "${BASH_SOURCE[0]}")/../helpers/steps.sh"
same() { # FILE FILE WHAT
    cmp -s "$1" "$2" || fail "$3: $(od -An -tx1 "$1" | tr -d ' \n' | head -c 64)… differs"
}
pkeyutl() {
    openssl pkeyutl "$@" 2>"$work/openssl.err" || { cat "$work/openssl.err" >&2; fail "openssl pkeyutl $*"; }
}
# padded IN OUT: IN left-padded with zeros to K bytes (PKCS#11 3.0 §2.1.7).
padded() {
    { head -c $((K - $(stat -c %s "$1"))) /dev/zero; cat "$1"; } >"$2"
}

step "a token"
out=$(LD_PRELOAD=$preload pkcs11-tool --module "$module" --init-token --label t --so-pin $SO_PIN 2>&1) ||
    fail "--init-token: $out"
out=$(p11 --init-pin --login --so-pin $SO_PIN --pin $PIN 2>&1) || fail "--init-pin: $out"

step "the mechanism list shows raw RSA and recovery, from 1024 bits"
out=$(p11 --list-mechanisms 2>&1) || fail "--list-mechanisms: $out"
expect_in "$out" "RSA-X-509, keySize={1024,4096}, hw, encrypt, decrypt, sign, sign_recover, verify, verify_recover$" \
    "RSA-X-509"
expect_in "$out" "RSA-PKCS, keySize={1024,4096}, hw, encrypt, decrypt, sign, sign_recover, verify, verify_recover$" \
    "RSA-PKCS"
expect_in "$out" "RSA-PKCS-KEY-PAIR-GEN, keySize={1024,4096}, hw, generate_key_pair" "RSA-PKCS-KEY-PAIR-GEN"

step "1024-bit key pairs with e = 3 and e = 65537, exported by pkcs11-tool"
out=$(card e3 keygen 1024 03 2>&1) || fail "keygen e=3: $out"
out=$(card f4 keygen 1024 010001 2>&1) || fail "keygen e=65537: $out"
for label in e3 f4; do
    p11 --read-object --type pubkey --label $label -o "$work/$label.der" >/dev/null 2>&1 ||
        fail "--read-object --type pubkey --label $label"
    openssl pkey -pubin -inform DER -in "$work/$label.der" -out "$work/$label.pem" ||
        fail "$label: not a public key"
done
text=$(openssl pkey -pubin -in "$work/e3.pem" -noout -text)
expect_in "$text" "Public-Key: (1024 bit)" "e3 size"
expect_in "$text" "Exponent: 3 (0x3)" "e3 exponent"
text=$(openssl pkey -pubin -in "$work/f4.pem" -noout -text)
expect_in "$text" "Exponent: 65537 (0x10001)" "f4 exponent"

head -c 20 /dev/urandom >"$work/hash" # what an EMV card signs with recovery is short
padded "$work/hash" "$work/hash.block"

step "CKM_RSA_X_509 sign-recover: openssl -verifyrecover rsa_padding_mode:none gives the padded data"
out=$(card e3 sign-recover x509 "$work/hash" "$work/sig.raw" 2>&1) || fail "sign-recover x509: $out"
[ "$(stat -c %s "$work/sig.raw")" = $K ] || fail "a raw signature of $(stat -c %s "$work/sig.raw") bytes"
pkeyutl -verifyrecover -pubin -inkey "$work/e3.pem" -pkeyopt rsa_padding_mode:none \
    -in "$work/sig.raw" -out "$work/rec.raw"
same "$work/rec.raw" "$work/hash.block" "openssl's raw recovery"
out=$(card e3 verify-recover x509 "$work/sig.raw" "$work/back.raw" 2>&1) || fail "verify-recover x509: $out"
same "$work/back.raw" "$work/hash.block" "the card's raw recovery"

step "CKM_RSA_PKCS sign-recover: openssl -verifyrecover rsa_padding_mode:pkcs1 gives the data"
out=$(card e3 sign-recover pkcs "$work/hash" "$work/sig.p1" 2>&1) || fail "sign-recover pkcs: $out"
pkeyutl -verifyrecover -pubin -inkey "$work/e3.pem" -pkeyopt rsa_padding_mode:pkcs1 \
    -in "$work/sig.p1" -out "$work/rec.p1"
same "$work/rec.p1" "$work/hash" "openssl's PKCS #1 recovery"
out=$(card e3 verify-recover pkcs "$work/sig.p1" "$work/back.p1" 2>&1) || fail "verify-recover pkcs: $out"
same "$work/back.p1" "$work/hash" "the card's PKCS #1 recovery"
if out=$(card f4 verify-recover pkcs "$work/sig.p1" "$work/wrong" 2>&1); then
    fail "a signature recovered with the other key"
fi
expect_in "$out" "CKR_SIGNATURE_INVALID" "verify-recover with the wrong key"
if out=$(card e3 verify-recover pkcs "$work/sig.raw" "$work/wrong" 2>&1); then
    fail "a raw signature accepted as PKCS #1"
fi
expect_in "$out" "CKR_SIGNATURE_INVALID" "a raw signature under CKM_RSA_PKCS"

step "CKM_RSA_X_509 encrypt equals openssl -encrypt rsa_padding_mode:none; decrypt inverts both"
for label in e3 f4; do
    out=$(card $label encrypt x509 "$work/hash" "$work/ct.$label" 2>&1) || fail "encrypt $label: $out"
    pkeyutl -encrypt -pubin -inkey "$work/$label.pem" -pkeyopt rsa_padding_mode:none \
        -in "$work/hash.block" -out "$work/ct.openssl.$label"
    same "$work/ct.$label" "$work/ct.openssl.$label" "raw encryption with $label"
    out=$(card $label decrypt x509 "$work/ct.openssl.$label" "$work/pt.$label" 2>&1) ||
        fail "decrypt $label: $out"
    same "$work/pt.$label" "$work/hash.block" "raw decryption with $label"
done

step "pkcs11-tool's raw signature (-m RSA-X-509, the key f4 by its id) recovers with openssl"
p11 --login --pin $PIN --sign -m RSA-X-509 --id 6634 -i "$work/hash.block" -o "$work/sig.tool" \
    >/dev/null 2>&1 || fail "pkcs11-tool --sign -m RSA-X-509"
pkeyutl -verifyrecover -pubin -inkey "$work/f4.pem" -pkeyopt rsa_padding_mode:none \
    -in "$work/sig.tool" -out "$work/rec.tool"
same "$work/rec.tool" "$work/hash.block" "pkcs11-tool's raw signature"

step "inputs too long or not below the modulus"
head -c $((K + 1)) /dev/zero | tr '\0' '\377' >"$work/long"
head -c $K "$work/long" >"$work/ones"
out=$(card e3 encrypt x509 "$work/long" "$work/x" 2>&1) && fail "encrypted $((K + 1)) bytes"
expect_in "$out" "CKR_DATA_LEN_RANGE" "encrypt k + 1 bytes"
out=$(card e3 sign-recover x509 "$work/ones" "$work/x" 2>&1) && fail "signed an integer above n"
expect_in "$out" "CKR_DATA_INVALID" "sign-recover 0xff…"
out=$(card e3 decrypt x509 "$work/ones" "$work/x" 2>&1) && fail "decrypted an integer above n"
expect_in "$out" "CKR_ENCRYPTED_DATA_INVALID" "decrypt 0xff…"

step "rsa_min_bits = 2048: the 1024-bit keys are refused, and said so"
out=$(SOFTSE_RSA_MIN_BITS=2048 p11 --list-mechanisms 2>&1) || fail "--list-mechanisms: $out"
expect_in "$out" "RSA-X-509, keySize={2048,4096}" "RSA-X-509 with rsa_min_bits 2048"
expect_in "$out" "RSA-PKCS-KEY-PAIR-GEN, keySize={2048,4096}" "keygen with rsa_min_bits 2048"
out=$(SOFTSE_RSA_MIN_BITS=2048 card e3 sign-recover pkcs "$work/hash" "$work/x" 2>&1) &&
    fail "a 1024-bit key used under rsa_min_bits 2048"
expect_in "$out" "CKR_KEY_SIZE_RANGE" "sign-recover under rsa_min_bits 2048"
printf 'rsa_min_bits = 2048\n' >"$work/softse.conf"
out=$(SOFTSE_CONF=$work/softse.conf p11 --login --pin $PIN --keypairgen --key-type rsa:1024 \
    --label small 2>&1) && fail "a 1024-bit key pair under rsa_min_bits 2048 (file)"
expect_in "$out" "CKR_KEY_SIZE_RANGE" "keypairgen rsa:1024 under rsa_min_bits 2048"
out=$(card e3 sign-recover pkcs "$work/hash" "$work/x" 2>&1) || fail "the default again: $out"

echo "all $steps steps passed"
