#!/bin/bash
# gkea-openssl.sh — the GKEA attestation (docs/spec.md §4) checked with plain
# `openssl` only, independently of softse-issuer's verifier: the card side
# (gkea-card, gkea_driver.c) writes EK, AK, the device certificate and the
# manufacturer CA; this script recovers K with `openssl pkeyutl` (RSA-OAEP
# for an RSA server key, ECDH + `openssl kdf HKDF` for an EC one), rebuilds
#   TBS = "SOFTSE-GKEA-1" ‖ u16be(|K|) ‖ K ‖ u16be(|SPKI|) ‖ SPKI ‖
#         u16be(|nonce|) ‖ nonce ‖ u16be(|EK|) ‖ EK
# with printf/xxd, turns the raw r‖s ECDSA AK into a DER ECDSA-Sig-Value and
# runs `openssl dgst -sha256 -verify` ("Verified OK"); an RSA attestation key
# (RSASSA-PSS, salt 32) is checked too.  A flipped TBS byte must fail, and
# the device certificate must chain to the CA (`openssl verify`).
#
# usage: gkea-openssl.sh GKEA-CARD   (SOFTSE_MODULE set by meson)
set -euo pipefail

card=$1
: "${SOFTSE_MODULE:?SOFTSE_MODULE names softse-pkcs11.so}"
command -v openssl >/dev/null || { echo "SKIP: no openssl command" >&2; exit 77; }
command -v xxd >/dev/null || { echo "SKIP: no xxd command" >&2; exit 77; }

root=$(mktemp -d "${TMPDIR:-/tmp}/softse-gkea-openssl.XXXXXX")
trap '[ -n "${SOFTSE_TEST_KEEP:-}" ] || rm -rf "$root"' EXIT
export SOFTSE_PIN_KDF_ITERATIONS=1000
unset SOFTSE_CONF

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

size_of() { wc -c <"$1" | tr -d ' '; }
hex_of() { xxd -p "$1" | tr -d '\n'; }

# flip FILE OFFSET: xor one byte with 0x01, in place.
flip() {
    local byte
    byte=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\x%02x' $((byte ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# u16be N: two bytes, hex.
u16be() { printf '%04x' "$1"; }

# der_len N: a DER length, hex (short form, or 81/82 long form).
der_len() {
    if [ "$1" -lt 128 ]; then printf '%02x' "$1"
    elif [ "$1" -lt 256 ]; then printf '81%02x' "$1"
    else printf '82%04x' "$1"; fi
}

# der_int HEX: a DER INTEGER holding the unsigned big-endian HEX (leading
# zero bytes dropped, one 00 put back when the top bit is set), hex.
der_int() {
    local h=$1
    while [ "${#h}" -gt 2 ] && [ "${h:0:2}" = 00 ]; do h=${h:2}; done
    [ $((16#${h:0:1})) -ge 8 ] && h=00$h
    printf '02%s%s' "$(der_len $((${#h} / 2)))" "$h"
}

# rs_to_der RAW OUT: raw r‖s (two equal halves) -> DER ECDSA-Sig-Value.
rs_to_der() {
    local raw r s body
    raw=$(hex_of "$1")
    [ $((${#raw} % 4)) -eq 0 ] || fail "raw r‖s of odd length"
    r=${raw:0:$((${#raw} / 2))}
    s=${raw:$((${#raw} / 2))}
    body=$(der_int "$r")$(der_int "$s")
    printf '30%s%s' "$(der_len $((${#body} / 2)))" "$body" | xxd -r -p >"$2"
}

# build_tbs K SPKI NONCE EK OUT (files; nonce as a file too).
build_tbs() {
    local f out=$5
    {
        printf 'SOFTSE-GKEA-1'
        for f in "$1" "$2" "$3" "$4"; do
            u16be "$(size_of "$f")" | xxd -r -p
            cat "$f"
        done
    } >"$out"
}

# ak_verify DEVPUB AK TBS IDENTITY: openssl's verdict on AK over TBS.
ak_verify() {
    local pub=$1 ak=$2 tbs=$3 identity=$4
    if [ "$identity" = ec ]; then
        rs_to_der "$ak" "$ak.der"
        openssl dgst -sha256 -verify "$pub" -signature "$ak.der" "$tbs" 2>&1
    else
        openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
            -sigopt rsa_mgf1_md:sha256 -verify "$pub" -signature "$ak" "$tbs" 2>&1
    fi
}

step "the DER conversion of r‖s"
printf '%064x%064x' 1 255 | xxd -r -p >"$root/rs.bin"
rs_to_der "$root/rs.bin" "$root/rs.der"
[ "$(hex_of "$root/rs.der")" = 3007020101020200ff ] || fail "DER of (1, 255): $(hex_of "$root/rs.der")"
printf '80%062x%064x' 0 0 | xxd -r -p >"$root/rs.bin"
rs_to_der "$root/rs.bin" "$root/rs.der"
[ "$(hex_of "$root/rs.der")" = "30260221008$(printf '%063x' 0)020100" ] ||
    fail "DER of (2^255, 0): $(hex_of "$root/rs.der")"

# kind: the server key; identity: the card's attestation key.
for combo in rsa2048:ec ec-p256:ec rsa2048:rsa; do
    kind=${combo%%:*}
    identity=${combo##*:}
    dir=$root/$kind-$identity
    mkdir -p "$dir/store"
    export SOFTSE_STORE=$dir/store

    step "$kind server key, $identity attestation key: the card runs GKEA"
    if [ "$kind" = rsa2048 ]; then
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/server.pem" 2>/dev/null
    else
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/server.pem" 2>/dev/null
    fi
    openssl pkey -in "$dir/server.pem" -pubout -outform DER -out "$dir/server.der"
    openssl rand -out "$dir/nonce.bin" 32
    nonce=$(hex_of "$dir/nonce.bin")
    "$card" generate --server-pub "$dir/server.der" --nonce "$nonce" --out-dir "$dir" \
        --identity "$identity"
    cmp -s "$dir/spki.der" "$dir/server.der" || fail "the card was not sent the server's SPKI"

    step "$kind/$identity: the device certificate chains to the manufacturer CA"
    openssl x509 -inform DER -in "$dir/se-cert.der" -out "$dir/dev.pem"
    out=$(openssl verify -CAfile "$dir/ca.pem" "$dir/dev.pem" 2>&1) ||
        fail "openssl verify: $out"
    [ "$out" = "$dir/dev.pem: OK" ] || fail "openssl verify printed: $out"
    openssl x509 -in "$dir/dev.pem" -noout -pubkey >"$dir/devpub.pem"
    if [ "$identity" = ec ]; then
        openssl pkey -pubin -in "$dir/devpub.pem" -noout -text | grep -q 'P-256' ||
            fail "the device key is not EC P-256"
        [ "$(size_of "$dir/ak.bin")" = 64 ] || fail "AK is not 64 bytes of raw r‖s"
    fi

    step "$kind/$identity: K recovered with openssl alone"
    if [ "$kind" = rsa2048 ]; then
        openssl pkeyutl -decrypt -inkey "$dir/server.pem" -in "$dir/ek.bin" -out "$dir/k.bin" \
            -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
            -pkeyopt rsa_mgf1_md:sha256 || fail "OAEP decryption of EK"
    else
        # EK = E uncompressed; wrap it in a P-256 SubjectPublicKeyInfo.
        [ "$(size_of "$dir/ek.bin")" = 65 ] || fail "EK is not an uncompressed P-256 point"
        printf '3059301306072a8648ce3d020106082a8648ce3d030107034200%s' "$(hex_of "$dir/ek.bin")" |
            xxd -r -p >"$dir/e.der"
        openssl pkey -pubin -inform DER -in "$dir/e.der" -out "$dir/e.pem"
        openssl pkeyutl -derive -inkey "$dir/server.pem" -peerkey "$dir/e.pem" -out "$dir/z.bin"
        info=$(printf 'SOFTSE-GKEA-ECDH-1' | xxd -p | tr -d '\n')$(hex_of "$dir/spki.der")$(hex_of "$dir/ek.bin")
        openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt "hexkey:$(hex_of "$dir/z.bin")" \
            -kdfopt "hexsalt:$nonce" -kdfopt "hexinfo:$info" HKDF |
            tr -d ':\n' | xxd -r -p >"$dir/k.bin"
    fi
    [ "$(size_of "$dir/k.bin")" = 32 ] || fail "K is $(size_of "$dir/k.bin") bytes, not 32"

    step "$kind/$identity: TBS rebuilt, AK verified by openssl dgst"
    build_tbs "$dir/k.bin" "$dir/server.der" "$dir/nonce.bin" "$dir/ek.bin" "$dir/tbs.bin"
    [ "$(size_of "$dir/tbs.bin")" = $((13 + 8 + 32 + $(size_of "$dir/server.der") + 32 + $(size_of "$dir/ek.bin"))) ] ||
        fail "TBS length"
    out=$(ak_verify "$dir/devpub.pem" "$dir/ak.bin" "$dir/tbs.bin" "$identity") ||
        fail "openssl dgst -verify: $out"
    [ "$out" = "Verified OK" ] || fail "openssl dgst -verify printed: $out"
    echo "$out"

    step "$kind/$identity: a flipped TBS byte fails"
    for off in 0 15 $((13 + 2 + 32 + 2 + 10)) $(($(size_of "$dir/tbs.bin") - 1)); do
        cp "$dir/tbs.bin" "$dir/tbs.bad"
        flip "$dir/tbs.bad" "$off"
        status=0
        out=$(ak_verify "$dir/devpub.pem" "$dir/ak.bin" "$dir/tbs.bad" "$identity") || status=$?
        [ "$status" -ne 0 ] || fail "a TBS flipped at byte $off verified: $out"
        [[ "$out" == *"Verification failure"* ]] || fail "flipped at $off: $out"
    done
    # Another nonce, and another server key (a MITM's swap), fail too.
    openssl rand -out "$dir/nonce2.bin" 32
    build_tbs "$dir/k.bin" "$dir/server.der" "$dir/nonce2.bin" "$dir/ek.bin" "$dir/tbs.bad"
    ak_verify "$dir/devpub.pem" "$dir/ak.bin" "$dir/tbs.bad" "$identity" >/dev/null &&
        fail "AK verified with another nonce"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null |
        openssl pkey -pubout -outform DER -out "$dir/other.der"
    build_tbs "$dir/k.bin" "$dir/other.der" "$dir/nonce.bin" "$dir/ek.bin" "$dir/tbs.bad"
    ak_verify "$dir/devpub.pem" "$dir/ak.bin" "$dir/tbs.bad" "$identity" >/dev/null &&
        fail "AK verified with another server key"
    echo "refused: flipped bytes, another nonce, another server key"
done

echo "PASS"
