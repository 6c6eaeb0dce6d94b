#!/bin/bash
# gkea-cli.sh — softse-issuer's GKEA commands (keygen, gkea-verify,
# wrap-secret) on the files the card side (gkea-card, gkea_driver.c)
# writes: "OK" and K / derived keys only when everything holds; a flipped
# byte, another nonce, another CA or another server key exits 1 with the
# reason and writes nothing.  The secret wrapped by the issuer is imported
# by the card, whose HMAC with it equals openssl's.
#
# usage: gkea-cli.sh GKEA-CARD SOFTSE-ISSUER   (SOFTSE_MODULE set by meson)
set -euo pipefail

card=$1
issuer=$2
: "${SOFTSE_MODULE:?SOFTSE_MODULE names softse-pkcs11.so}"
command -v openssl >/dev/null || { echo "SKIP: no openssl command" >&2; exit 77; }

root=$(mktemp -d "${TMPDIR:-/tmp}/softse-gkea-cli.XXXXXX")
trap '[ -n "${SOFTSE_TEST_KEEP:-}" ] || rm -rf "$root"' EXIT
export SOFTSE_PIN_KDF_ITERATIONS=1000
unset SOFTSE_CONF

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

size_of() { wc -c <"$1" | tr -d ' '; }

# flip FILE OFFSET: xor one byte with 0x01, in place.
flip() {
    local byte
    byte=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\x%02x' $((byte ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# refused REASON ARGS...: gkea-verify exits 1 naming REASON, and writes no K.
refused() {
    local reason=$1 out status=0
    shift
    rm -f "$root/refused.k"
    out=$("$issuer" gkea-verify "$@" --out-k "$root/refused.k" 2>&1) || status=$?
    [ "$status" -eq 1 ] || fail "gkea-verify $* exited $status, not 1: $out"
    [[ "$out" == *"$reason"* ]] || fail "gkea-verify: expected \"$reason\", got: $out"
    [[ "$out" != *OK* ]] || fail "gkea-verify printed OK while refusing: $out"
    [ ! -e "$root/refused.k" ] || fail "gkea-verify wrote K while refusing ($reason)"
    echo "refused: $out"
}

step "every subcommand has --help"
for cmd in keygen gkea-verify wrap-secret; do
    "$issuer" "$cmd" --help | grep -q "usage: softse-issuer $cmd" || fail "$cmd --help"
done
status=0
"$issuer" keygen --type dsa1024 --out "$root/x.pem" --pub "$root/x.pub" 2>/dev/null || status=$?
[ "$status" -eq 2 ] || fail "keygen of an unknown type exited $status, not 2"

# A look-alike manufacturer CA that did not make this SE.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/O=softse tests/CN=softse gkea-card manufacturer CA" \
    -keyout "$root/rogue-ca.key" -out "$root/rogue-ca.pem" 2>/dev/null

salt=$(openssl rand -hex 16)
for kind in rsa2048 ec-p256 ec-p384; do
    dir=$root/$kind
    mkdir -p "$dir/store"
    export SOFTSE_STORE=$dir/store

    step "$kind: keygen"
    "$issuer" keygen --type "$kind" --out "$dir/server.pem" --pub "$dir/server.pub" \
        --pub-der "$dir/server.der"
    [ "$(stat -c %a "$dir/server.pem")" = 600 ] || fail "the private key is not mode 0600"
    openssl pkey -in "$dir/server.pem" -noout || fail "keygen wrote no private key"
    openssl pkey -pubin -in "$dir/server.der" -inform DER -noout || fail "no DER SPKI"
    "$issuer" keygen --type "$kind" --out "$dir/attacker.pem" --pub "$dir/attacker.pub"

    step "$kind: the card runs GKEA"
    nonce=$(openssl rand -hex 32)
    "$card" generate --server-pub "$dir/server.pub" --nonce "$nonce" --out-dir "$dir"
    cmp -s "$dir/spki.der" "$dir/server.der" || fail "the card was not sent keygen's SPKI"

    step "$kind: gkea-verify recovers K and derives the working keys"
    common=(--key "$dir/server.pem" --ca "$dir/ca.pem" --nonce "$nonce")
    out=$("$issuer" gkea-verify "${common[@]}" --cert "$dir/se-cert.der" --ek "$dir/ek.bin" \
        --ak "$dir/ak.bin" --out-k "$dir/k.bin" --derive-enc "$dir/enc.bin" \
        --derive-mac "$dir/mac.bin" --salt "$salt" --info-enc ENC --info-mac MAC)
    [ "$out" = OK ] || fail "gkea-verify printed \"$out\""
    [ "$(size_of "$dir/k.bin")" = 32 ] || fail "K is not 32 bytes"
    [ "$(size_of "$dir/enc.bin")" = 32 ] || fail "ENC is not 32 bytes"
    [ "$(stat -c %a "$dir/k.bin")" = 600 ] || fail "K is not mode 0600"
    cmp -s "$dir/enc.bin" "$dir/mac.bin" && fail "ENC and MAC are the same key"
    # The same with the certificate in PEM, the SPKI given, |K| stated.
    openssl x509 -inform DER -in "$dir/se-cert.der" -out "$dir/se-cert.pem"
    out=$("$issuer" gkea-verify "${common[@]}" --cert "$dir/se-cert.pem" --ek "$dir/ek.bin" \
        --ak "$dir/ak.bin" --spki "$dir/server.der" --k-len 32 --out-k "$dir/k2.bin")
    [ "$out" = OK ] && cmp -s "$dir/k.bin" "$dir/k2.bin" || fail "PEM certificate / --spki"

    step "$kind: wrap-secret, and the card imports the secret"
    secret=$(openssl rand -hex 24)
    want=$(printf 'a challenge' | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$secret" -r |
        cut -d' ' -f1)
    for mech in gcm kwp; do
        "$issuer" wrap-secret --key-file "$dir/enc.bin" --mech "$mech" --secret "$secret" \
            --out "$dir/wrapped.$mech"
        got=$("$card" import --wrapped "$dir/wrapped.$mech" --mech "$mech" --salt "$salt" \
            --info ENC --data 'a challenge')
        [ "$got" = "$want" ] || fail "$mech: the card's HMAC $got is not the issuer's $want"
    done
    openssl rand -out "$dir/secret.bin" 24
    "$issuer" wrap-secret --key-file "$dir/enc.bin" --mech gcm --in "$dir/secret.bin" \
        --iv 000102030405060708090a0b --out "$dir/wrapped.iv"
    [ "$(od -An -tx1 -N12 "$dir/wrapped.iv" | tr -d ' \n')" = 000102030405060708090a0b ] ||
        fail "--iv is not the head of the GCM output"
    [ "$(size_of "$dir/wrapped.iv")" = $((12 + 24 + 16)) ] || fail "GCM output size"

    step "$kind: refusals"
    cp "$dir/ak.bin" "$dir/ak.bad" && flip "$dir/ak.bad" 5
    refused "bad attestation" "${common[@]}" --cert "$dir/se-cert.der" --ek "$dir/ek.bin" \
        --ak "$dir/ak.bad"
    cp "$dir/ek.bin" "$dir/ek.bad" && flip "$dir/ek.bad" $(($(size_of "$dir/ek.bin") - 1))
    if [ "$kind" = rsa2048 ]; then reason="decryption failed"; else reason="failed"; fi
    refused "$reason" "${common[@]}" --cert "$dir/se-cert.der" --ek "$dir/ek.bad" \
        --ak "$dir/ak.bin"
    refused "bad attestation" --key "$dir/server.pem" --ca "$dir/ca.pem" \
        --nonce "$(openssl rand -hex 32)" --cert "$dir/se-cert.der" --ek "$dir/ek.bin" \
        --ak "$dir/ak.bin"
    refused "bad chain" --key "$dir/server.pem" --ca "$root/rogue-ca.pem" --nonce "$nonce" \
        --cert "$dir/se-cert.der" --ek "$dir/ek.bin" --ak "$dir/ak.bin"
    # Another server key (what a MITM's swap looks like from the server).
    if [ "$kind" = rsa2048 ]; then reason="decryption failed"; else reason="bad attestation"; fi
    refused "$reason" --key "$dir/attacker.pem" --ca "$dir/ca.pem" --nonce "$nonce" \
        --cert "$dir/se-cert.der" --ek "$dir/ek.bin" --ak "$dir/ak.bin"
    refused "bad attestation" "${common[@]}" --cert "$dir/se-cert.der" --ek "$dir/ek.bin" \
        --ak "$dir/ak.bin" --k-len 16
done

step "MITM: the card encrypts to the attacker's key"
dir=$root/mitm
mkdir -p "$dir/store"
export SOFTSE_STORE=$dir/store
"$issuer" keygen --type ec-p256 --out "$dir/server.pem" --pub "$dir/server.pub"
"$issuer" keygen --type ec-p256 --out "$dir/attacker.pem" --pub "$dir/attacker.pub"
nonce=$(openssl rand -hex 16)
"$card" generate --server-pub "$dir/attacker.pub" --nonce "$nonce" --out-dir "$dir" --identity rsa
out=$("$issuer" gkea-verify --key "$dir/attacker.pem" --ca "$dir/ca.pem" --nonce "$nonce" \
    --cert "$dir/se-cert.der" --ek "$dir/ek.bin" --ak "$dir/ak.bin" --out-k "$dir/stolen.k")
[ "$out" = OK ] || fail "the attacker's own check: $out"
echo "the attacker has K ($(size_of "$dir/stolen.k") bytes)"
refused "bad attestation" --key "$dir/server.pem" --ca "$dir/ca.pem" --nonce "$nonce" \
    --cert "$dir/se-cert.der" --ek "$dir/ek.bin" --ak "$dir/ak.bin"
status=0
"$issuer" gkea-verify --key "$dir/server.pem" --ca "$dir/ca.pem" --nonce "$nonce" \
    --cert "$dir/se-cert.der" --ek "$dir/ek.bin" --ak "$dir/ak.bin" \
    --spki "$dir/spki.der" >/dev/null 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "--spki of another key than --key exited $status, not 2"

echo "PASS"
