#!/usr/bin/env bash
# softse-tool ki (docs/spec.md §5, seed 000) at a personalization bureau,
# scripted as docs/protocols.md: three cards are personalized in a loop
# for each mechanism (RSA raw with e = 3, RSA-OAEP, EC ElGamal), their
# "<serial> <c>" lines go to softse-issuer ki-recover, and every recovered
# KI answers its card's HMAC challenge (softse-tool hmac, SHA-256 and
# SHA-1).  KI cannot be read out of the card; in OPERATIONAL ki fails with
# CKR_SE_LIFECYCLE.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need openssl
need pkcs11-tool
need xxd
: "${SOFTSE_ISSUER:?SOFTSE_ISSUER names softse-issuer (meson sets it)}"

issuer() {
    "$SOFTSE_ISSUER" "$@"
}
# check_batch RECOVERED LABEL HASH: every "<serial> <KI>" line of RECOVERED
# is the KI of the card with that serial: the card's HMAC over a fresh
# challenge equals openssl's with KI.
check_batch() {
    local recovered=$1 label=$2 hash=$3 serial ki challenge want lines=0
    while read -r serial ki; do
        challenge=$(openssl rand -hex 32)
        want=$(printf '%s' "$challenge" | xxd -r -p |
            openssl dgst -"$hash" -mac HMAC -macopt "hexkey:$ki" -r | cut -d' ' -f1)
        ok "hmac on card $serial" tool hmac --serial "$serial" --pin $PIN --key "$label" \
            --mech "$hash" --data "$challenge"
        [ "$out" = "$want" ] || fail "card $serial ($label): HMAC $out, the issuer's KI gives $want"
        lines=$((lines + 1))
    done <"$recovered"
    [ "$lines" -eq 3 ] || fail "$recovered: $lines lines, expected 3"
}

step "--help"
ok "ki --help" tool ki --help
expect_in "$out" "^usage: softse-tool ki " "ki --help"

step "the issuer's key pairs: RSA-2048 with e = 3 (paper §5.1), RSA-2048, EC P-256"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:3 \
    -out rsa-raw.pem 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa-oaep.pem 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec-elgamal.pem 2>/dev/null
for mech in rsa-raw rsa-oaep ec-elgamal; do
    openssl pkey -in $mech.pem -pubout -out $mech.pub
done
ok "e = 3" openssl pkey -in rsa-raw.pem -noout -text
expect_in "$out" "publicExponent: 3 " "the raw scheme's key"

step "three blank cards for the bureau"
for n in 1 2 3; do
    new_token card-$n
done

for mech in rsa-raw rsa-oaep ec-elgamal; do
    step "$mech: the bureau personalizes the three cards (softse-tool ki)"
    : >batch-$mech.txt
    for n in 1 2 3; do
        ok "ki on card-$n" tool ki --token card-$n --pin $PIN --issuer-key $mech.pub --mech $mech \
            --label ki-$mech
        expect_in "$out" "^[0-9A-F]{16} [0-9a-f]+$" "ki's line"
        [ "${out%% *}" = "$(serial_of card-$n)" ] || fail "ki's line does not start with the serial"
        echo "$out" >>batch-$mech.txt
    done

    step "$mech: the issuer recovers every KI (softse-issuer ki-recover)"
    ok "ki-recover" issuer ki-recover --key $mech.pem --mech $mech --in batch-$mech.txt
    echo "$out" >recovered-$mech.txt
    [ "$(cut -d' ' -f1 recovered-$mech.txt)" = "$(cut -d' ' -f1 batch-$mech.txt)" ] ||
        fail "$mech: ki-recover's Ids are not the bureau's"

    step "$mech: each card proves its KI (softse-tool hmac)"
    check_batch recovered-$mech.txt ki-$mech sha256
done

step "SHA-1 and a shorter KI: --hash sha1 --len 16, proved with --mech sha1"
: >batch-sha1.txt
for n in 1 2 3; do
    ok "ki sha1 on card-$n" tool ki --token card-$n --pin $PIN --issuer-key ec-elgamal.pub \
        --mech ec-elgamal --hash sha1 --len 16 --label ki-sha1
    echo "$out" >>batch-sha1.txt
done
ok "ki-recover sha1" issuer ki-recover --key ec-elgamal.pem --mech ec-elgamal --hash sha1 --len 16 \
    --in batch-sha1.txt
echo "$out" >recovered-sha1.txt
expect_in "$(head -1 recovered-sha1.txt)" "^[0-9A-F]{16} [0-9a-f]{32}$" "a 16-byte KI"
check_batch recovered-sha1.txt ki-sha1 sha1

step "another issuer's key recovers another KI, which the card does not prove"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.pem 2>/dev/null
ok "ki-recover with another key" issuer ki-recover --key other.pem --mech ec-elgamal \
    --in batch-ec-elgamal.txt
echo "$out" >wrong.txt
read -r serial ki <wrong.txt
challenge=$(openssl rand -hex 32)
want=$(printf '%s' "$challenge" | xxd -r -p | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$ki" -r |
    cut -d' ' -f1)
ok "hmac" tool hmac --serial "$serial" --pin $PIN --key ki-ec-elgamal --data "$challenge"
[ "$out" != "$want" ] || fail "the card proved a KI recovered with another key"

step "KI stays in the card"
ok "list KI" p11 --token-label card-1 --login --pin $PIN --list-objects --type secrkey --label ki-rsa-raw
expect_in "$out" "Access: +sensitive, always sensitive, never extractable" "KI's flags"
fails "read KI" p11 --token-label card-1 --login --pin $PIN --read-object --type secrkey \
    --label ki-rsa-raw -o ki-read.bin
[ ! -s ki-read.bin ] || fail "pkcs11-tool read KI's value"

step "failures name the call and the CKR"
fails "the same label twice" tool ki --token card-1 --pin $PIN --issuer-key rsa-oaep.pub \
    --mech rsa-oaep --label ki-rsa-oaep
expect_in "$out" "token \"card-1\" has a secret key labelled \"ki-rsa-oaep\" already" "a label twice"
fails "an RSA key for ElGamal" tool ki --token card-1 --pin $PIN --issuer-key rsa-oaep.pub \
    --mech ec-elgamal --label ki-x
expect_in "$out" "^softse-tool: C_GenerateKey\(CKM_SE_KI_EC_ELGAMAL\) on token \"card-1\": CKR_" \
    "an RSA key for ElGamal"
fails "--len longer than SHA-1" tool ki --token card-1 --pin $PIN --issuer-key ec-elgamal.pub \
    --mech ec-elgamal --hash sha1 --len 21 --label ki-x
[ "$status" -eq 2 ] || fail "--len 21 with sha1: exit status $status, expected 2"
fails "an unknown mechanism" tool ki --token card-1 --pin $PIN --issuer-key rsa-oaep.pub \
    --mech rsa-pss --label ki-x
expect_in "$out" "unknown mechanism \"rsa-pss\"" "an unknown mechanism"

step "in OPERATIONAL the card derives no KI: CKR_SE_LIFECYCLE"
ok "to operational" tool lifecycle --token card-1 --to operational --so-pin $SO_PIN
fails "ki in OPERATIONAL" tool ki --token card-1 --pin $PIN --issuer-key rsa-raw.pub --mech rsa-raw \
    --label ki-late
[ "$status" -eq 1 ] || fail "ki in OPERATIONAL: exit status $status, expected 1"
expect_in "$out" "^softse-tool: C_GenerateKey\(CKM_SE_KI_RSA_RAW\) on token \"card-1\": CKR_SE_LIFECYCLE$" \
    "ki in OPERATIONAL"
check_batch recovered-rsa-oaep.txt ki-rsa-oaep sha256 # KI still works

echo "PASS: $steps steps"
