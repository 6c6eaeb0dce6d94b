#!/usr/bin/env bash
# softse-tool gkea, gkea-cert, hkdf, unwrap, hmac (docs/spec.md §4, seed 001)
# against softse-issuer, every step its own process, as docs/protocols.md
# scripts it: the card makes K for an RSA and an EC server key, the
# server's gkea-verify accepts EK and AK with the device certificate, both
# sides derive the same working key with HKDF, the card imports the
# server's secret (AES-GCM and KWP) and its HMAC equals openssl's.  A
# flipped AK byte and a MITM's key swap are refused; K never leaves the
# card; wrong inputs fail with the CKR name.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need openssl
need pkcs11-tool
: "${SOFTSE_ISSUER:?SOFTSE_ISSUER names softse-issuer (meson sets it)}"

issuer() {
    "$SOFTSE_ISSUER" "$@"
}
# flip FILE OFFSET: xor one byte with 0x01, in place.
flip() {
    local byte
    byte=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    # shellcheck disable=SC2059 # the format is the byte, as an escape
    printf "$(printf '\\x%02x' $((byte ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
hex_of() {
    printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'
}
# refused WHAT ARGS...: gkea-verify exits 1 and writes no K.
refused() {
    local what=$1
    shift
    rm -f refused.k
    fails "$what" issuer gkea-verify "$@" --out-k refused.k
    [ "$status" -eq 1 ] || fail "$what: exit status $status, expected 1"
    expect_not_in "$out" "^OK$" "$what"
    [ ! -e refused.k ] || fail "$what: gkea-verify wrote K while refusing"
}

step "--help of every command"
for c in gkea gkea-cert hkdf unwrap hmac; do
    ok "$c --help" tool $c --help
    expect_in "$out" "^usage: softse-tool $c " "$c --help"
done

step "a manufactured card in OPERATIONAL, its device certificate"
new_token card
ok "ca create" tool ca create --out-key ca-key.pem --out-cert ca.pem
ok "manufacture" tool manufacture --token card --ca ca.pem --ca-key ca-key.pem --so-pin $SO_PIN
ok "to operational" tool lifecycle --token card --to operational --so-pin $SO_PIN
ok "gkea-cert" tool gkea-cert --token card --out se-cert.der
expect_in "$out" "^se-cert.der CN=softse SE [0-9A-F]{16}" "gkea-cert"
ok "the certificate chains to the CA" openssl verify -CAfile ca.pem \
    <(openssl x509 -inform der -in se-cert.der)

salt=$(openssl rand -hex 16)
secret=$(openssl rand -hex 24)
challenge=$(hex_of "a challenge")
want=$(printf 'a challenge' | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$secret" -r | cut -d' ' -f1)
for kind in rsa2048 ec-p256; do
    step "$kind: the server's key pair (softse-issuer keygen)"
    ok "keygen" issuer keygen --type $kind --out $kind.pem --pub $kind.pub

    step "$kind: the card makes K, EK and AK (softse-tool gkea)"
    nonce=$(openssl rand -hex 32)
    ok "gkea" tool gkea --token card --pin $PIN --server-key $kind.pub --nonce "$nonce" \
        --out-ek $kind.ek --out-ak $kind.ak --token-object --label k-$kind
    expect_in "$out" "^0x[0-9a-f]+ k-$kind$" "gkea's line"
    { [ -s $kind.ek ] && [ -s $kind.ak ]; } || fail "$kind: gkea wrote no EK or AK"

    step "$kind: the server checks AK, recovers K and derives its working key"
    ok "gkea-verify" issuer gkea-verify --key $kind.pem --ca ca.pem --cert se-cert.der \
        --nonce "$nonce" --ek $kind.ek --ak $kind.ak --out-k $kind.k \
        --derive-enc $kind.enc --salt "$salt" --info-enc "softse enc"
    [ "$out" = OK ] || fail "$kind: gkea-verify printed \"$out\""
    [ "$(wc -c <$kind.k)" -eq 32 ] || fail "$kind: K is not 32 bytes"

    step "$kind: the card derives the same working key (softse-tool hkdf)"
    ok "hkdf" tool hkdf --token card --pin $PIN --base k-$kind --salt "$salt" \
        --info "softse enc" --label enc-$kind
    expect_in "$out" "^0x[0-9a-f]+ enc-$kind$" "hkdf's line"

    for mech in gcm kwp; do
        step "$kind: the server wraps a secret ($mech), the card imports it and proves it"
        ok "wrap-secret" issuer wrap-secret --key-file $kind.enc --mech $mech --secret "$secret" \
            --out $kind.$mech
        ok "unwrap" tool unwrap --token card --pin $PIN --key enc-$kind --mech $mech \
            --in $kind.$mech --label secret-$kind-$mech
        ok "hmac" tool hmac --token card --pin $PIN --key secret-$kind-$mech --data "$challenge"
        [ "$out" = "$want" ] || fail "$kind/$mech: the card's HMAC $out is not openssl's $want"
    done

    step "$kind: a flipped AK byte is refused"
    cp $kind.ak $kind.ak-bad
    flip $kind.ak-bad 5
    refused "flipped AK" --key $kind.pem --ca ca.pem --cert se-cert.der --nonce "$nonce" \
        --ek $kind.ek --ak $kind.ak-bad
    expect_in "$out" "bad attestation" "flipped AK"
done

step "MITM: the card was given the attacker's key instead of the server's"
ok "the server's key" issuer keygen --type ec-p256 --out server.pem --pub server.pub
ok "the attacker's key" issuer keygen --type ec-p256 --out attacker.pem --pub attacker.pub
nonce=$(openssl rand -hex 16)
ok "gkea to the attacker" tool gkea --token card --pin $PIN --server-key attacker.pub \
    --nonce "$nonce" --out-ek mitm.ek --out-ak mitm.ak --token-object --label k-mitm
ok "the attacker's own check" issuer gkea-verify --key attacker.pem --ca ca.pem \
    --cert se-cert.der --nonce "$nonce" --ek mitm.ek --ak mitm.ak --out-k stolen.k
refused "the server's check" --key server.pem --ca ca.pem --cert se-cert.der --nonce "$nonce" \
    --ek mitm.ek --ak mitm.ak
expect_in "$out" "bad attestation" "the server's check"
ok "an RSA server" issuer keygen --type rsa2048 --out rsa-server.pem --pub rsa-server.pub
ok "an RSA attacker" issuer keygen --type rsa2048 --out rsa-attacker.pem --pub rsa-attacker.pub
ok "gkea to the RSA attacker" tool gkea --token card --pin $PIN --server-key rsa-attacker.pub \
    --nonce "$nonce" --out-ek mitm-rsa.ek --out-ak mitm-rsa.ak
refused "the RSA server's check" --key rsa-server.pem --ca ca.pem --cert se-cert.der \
    --nonce "$nonce" --ek mitm-rsa.ek --ak mitm-rsa.ak

step "K stays in the card: sensitive, never extractable, no value to read, only a base"
fails "read K" p11 --token-label card --login --pin $PIN --read-object --type secrkey \
    --label k-rsa2048 -o k-read.bin
[ ! -s k-read.bin ] || fail "pkcs11-tool read K's value"
ok "list K" p11 --token-label card --login --pin $PIN --list-objects --type secrkey --label k-rsa2048
expect_in "$out" "Access: +sensitive, always sensitive, never extractable" "K's flags"
expect_in "$out" "Usage: +derive$" "K's usage"

step "without --token-object K ends with the process"
ok "gkea, session K" tool gkea --token card --pin $PIN --server-key ec-p256.pub \
    --nonce "$nonce" --out-ek s.ek --out-ak s.ak --label k-session --key-type generic --len 48
ok "the server's check" issuer gkea-verify --key ec-p256.pem --ca ca.pem --cert se-cert.der \
    --nonce "$nonce" --ek s.ek --ak s.ak --out-k s.k
[ "$(wc -c <s.k)" -eq 48 ] || fail "a 48-byte generic K is $(wc -c <s.k) bytes"
fails "hkdf from it" tool hkdf --token card --pin $PIN --base k-session --label x
expect_in "$out" "token \"card\" has no secret key labelled \"k-session\"" "session K"

step "failures name the call and the CKR"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out small.pem 2>/dev/null
openssl pkey -in small.pem -pubout -out small.pub
fails "RSA-1024" tool gkea --token card --pin $PIN --server-key small.pub --nonce "$nonce" \
    --out-ek x.ek --out-ak x.ak
[ "$status" -eq 1 ] || fail "RSA-1024: exit status $status, expected 1"
expect_in "$out" "^softse-tool: C_GenerateKey\(CKM_SE_GKEA\) on token \"card\": CKR_MECHANISM_PARAM_INVALID$" "RSA-1024"
fails "a short nonce" tool gkea --token card --pin $PIN --server-key server.pub --nonce 0011 \
    --out-ek x.ek --out-ak x.ak
[ "$status" -eq 2 ] || fail "a short nonce: exit status $status, expected 2"
expect_in "$out" "--nonce needs 16 to 64 bytes, not 2" "a short nonce"
fails "a private key as the server key" tool gkea --token card --pin $PIN \
    --server-key server.pem --nonce "$nonce" --out-ek x.ek --out-ak x.ak
expect_in "$out" "not a \"PUBLIC KEY\"" "a private key"
fails "a wrong PIN" tool gkea --token card --pin 999999 --server-key server.pub --nonce "$nonce" \
    --out-ek x.ek --out-ak x.ak
expect_in "$out" "^softse-tool: user login to token \"card\": CKR_PIN_INCORRECT$" "a wrong PIN"
fails "no PIN" tool hkdf --token card --base k-mitm --label x
[ "$status" -eq 2 ] || fail "no PIN: exit status $status, expected 2"
expect_in "$out" "missing --pin PIN \(or SOFTSE_PIN\)" "no PIN"
fails "no nonce" tool gkea --token card --pin $PIN --server-key server.pub --out-ek x.ek --out-ak x.ak
[ "$status" -eq 2 ] || fail "no nonce: exit status $status, expected 2"
expect_in "$out" "missing --nonce HEX" "no nonce"
fails "the same label twice" tool gkea --token card --pin $PIN --server-key server.pub \
    --nonce "$nonce" --out-ek x.ek --out-ak x.ak --token-object --label k-mitm
expect_in "$out" "has a secret key labelled \"k-mitm\" already" "the same label"
cp ec-p256.gcm tampered.gcm
flip tampered.gcm 20
fails "a tampered GCM secret" tool unwrap --token card --pin $PIN --key enc-ec-p256 --mech gcm \
    --in tampered.gcm --label tampered
expect_in "$out" "C_UnwrapKey\(CKM_AES_GCM\) with \"enc-ec-p256\" on token \"card\": CKR_WRAPPED_KEY_INVALID" \
    "a tampered secret"
fails "hmac with an AES key" tool hmac --token card --pin $PIN --key enc-ec-p256 --data 00
expect_in "$out" "C_Sign\(CKM_SHA256_HMAC\) with \"enc-ec-p256\" on token \"card\": CKR_" "hmac with AES"
fails "gkea-cert of an unknown token" tool gkea-cert --token plain --out x.der
expect_in "$out" "no initialized token \"plain\": CKR_TOKEN_NOT_PRESENT" "an unknown token"
new_token plain
fails "gkea-cert of a token without identity" tool gkea-cert --token plain --out x.der
expect_in "$out" "token \"plain\" has no device certificate" "no identity"

echo "PASS: $steps steps"
