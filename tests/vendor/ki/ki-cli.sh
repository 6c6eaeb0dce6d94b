#!/usr/bin/env bash
# softse-issuer's KI commands (docs/spec.md §5):
#   ki-recover  a batch of "Id c" lines with malformed lines in the middle:
#               the good lines are recovered (and each KI answers its card's
#               challenge), every bad line is reported with its number, the
#               exit status is non-zero
#   ki-batch    the bureau simulation over 5 tokens passes; a batch whose
#               cards cannot derive fails; its "Id c" output feeds ki-recover
#
# usage: ki-cli.sh softse-pkcs11.so ki-driver softse-issuer
set -euo pipefail

module=${1:?usage: $0 softse-pkcs11.so ki-driver softse-issuer}
driver=${2:?}
issuer=${3:?}
for tool in openssl xxd; do
    command -v $tool >/dev/null || { echo "$tool is not installed: skipped"; exit 77; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/softse-ki-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
export SOFTSE_MODULE=$module SOFTSE_STORE=$work/store SOFTSE_PIN_KDF_ITERATIONS=1000
unset SOFTSE_CONF
mkdir store

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
hex() {
    xxd -p -c 100000
}
card_answers() { # LABEL HASH KI_HEX
    local challenge card mine
    challenge=$(openssl rand -hex 32)
    card=$("$driver" hmac "$1" "$2" "$challenge")
    mine=$(echo -n "$challenge" | xxd -r -p |
        openssl dgst -"$2" -mac HMAC -macopt hexkey:"$3" -binary | hex)
    [ "$card" = "$mine" ] || fail "$1: the card's answer does not match KI $3"
}
# run STATUS_VAR OUT ERR command...: runs, keeps the exit status
run() {
    local status_var=$1 out=$2 err=$3
    shift 3
    set +e
    "$@" >"$out" 2>"$err"
    printf -v "$status_var" %d $?
    set -e
}

"$driver" init
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem 2>/dev/null
openssl pkey -in ec.pem -pubout -out ec.pub.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out oaep.pem 2>/dev/null
openssl pkey -in oaep.pem -pubout -out oaep.pub.pem

echo "== ki-recover: a batch with malformed lines"
for i in 1 2 3 4; do
    c[$i]=$("$driver" derive ec-elgamal sha256 ec.pub.pem card-$i)
done
off_curve=${c[4]:0:128}$(printf %02x $(( (16#${c[4]:128:2}) ^ 1 )))
cat >batch.txt <<EOF
card-1 ${c[1]}
card-2 ${c[2]}
# a comment, then a blank line

card-bad-hex ${c[3]:0:20}zz${c[3]:22}
card-short ${c[3]:0:64}
card-3 ${c[3]}
card-extra ${c[3]} trailing
card-off-curve $off_curve
card-odd ${c[3]}0
card-4 ${c[4]}
EOF
run status recovered.txt errors.txt "$issuer" ki-recover --key ec.pem --mech ec-elgamal --in batch.txt
cat errors.txt
[ "$status" = 1 ] || fail "ki-recover exited $status, expected 1"
[ "$(wc -l <recovered.txt)" = 4 ] || fail "expected 4 recovered lines: $(cat recovered.txt)"
for line in 5 6 8 9 10; do
    grep -q "line $line\b" errors.txt || fail "line $line is not reported"
done
[ "$(grep -c '^softse-issuer ki-recover: line' errors.txt)" = 5 ] || fail "other lines reported"
for i in 1 2 3 4; do
    ki=$(awk -v id=card-$i '$1 == id { print $2 }' recovered.txt)
    [ ${#ki} = 64 ] || fail "card-$i: no KI"
    card_answers card-$i sha256 "$ki"
done
# The same from stdin.
run status from_stdin.txt errors2.txt "$issuer" ki-recover --key ec.pem --mech ec-elgamal <batch.txt
[ "$status" = 1 ] || fail "ki-recover (stdin) exited $status"
cmp -s recovered.txt from_stdin.txt || fail "stdin gives other KIs"
# Only the good lines: exit 0.
grep -E '^card-[1-4] ' batch.txt | "$issuer" ki-recover --key ec.pem --mech ec-elgamal >good.txt
cmp -s recovered.txt good.txt || fail "the good lines alone give other KIs"

echo "== ki-recover: OAEP, an undecryptable line, --len, --hash"
oaep=$("$driver" derive rsa-oaep sha1 oaep.pub.pem oaep-card 16)
printf 'oaep-card %s\nforged %s\n' "$oaep" "$(openssl rand -hex 256)" >oaep.txt
run status oaep-out.txt oaep-err.txt "$issuer" ki-recover --key oaep.pem --mech rsa-oaep \
    --hash sha1 --len 16 --in oaep.txt
[ "$status" = 1 ] || fail "ki-recover (OAEP) exited $status"
grep -q 'line 2 (forged).*CKR_ENCRYPTED_DATA_INVALID' oaep-err.txt || fail "forged c not reported"
ki=$(awk '$1 == "oaep-card" { print $2 }' oaep-out.txt)
[ ${#ki} = 32 ] || fail "--len 16 did not give 16 bytes"
card_answers oaep-card sha1 "$ki"

echo "== ki-recover: usage errors exit 2"
for args in "--mech ec-elgamal" "--key ec.pem" "--key ec.pem --mech dsa" \
    "--key ec.pem --mech ec-elgamal --hash md5" "--key ec.pem --mech ec-elgamal --len 33" \
    "--key missing.pem --mech ec-elgamal"; do
    run status out.txt err.txt "$issuer" ki-recover $args </dev/null
    [ "$status" = 2 ] || fail "ki-recover $args exited $status, expected 2"
done

echo "== ki-batch --tokens 5"
ls store >store-before.txt
run status batch-out.txt batch-err.txt "$issuer" ki-batch --module "$module" --tokens 5
cat batch-out.txt batch-err.txt
[ "$status" = 0 ] || fail "ki-batch exited $status"
[ "$(tail -n 1 batch-out.txt)" = "5 tokens, 5 verified, 0 failed" ] || fail "no summary"
[ "$(grep -c ' verified [0-9.]* ms$' batch-out.txt)" = 5 ] || fail "no per-token lines"
grep -q '^per token: [0-9.]* ms average' batch-out.txt || fail "no per-token time"
grep -q '^rate: [0-9.]* tokens/s' batch-out.txt || fail "no rate"
ls store | cmp -s - store-before.txt || fail "ki-batch used SOFTSE_STORE instead of a fresh store"

echo "== ki-batch with the issuer's key, its 'Id c' output through ki-recover"
run status batch-out.txt batch-err.txt "$issuer" ki-batch --module "$module" --tokens 2 \
    --mech ec-elgamal --hash sha1 --key ec.pem --store "$work/bureau" --out ids.txt
[ "$status" = 0 ] || fail "ki-batch (EC, SHA-1) exited $status: $(cat batch-err.txt)"
[ "$(ls "$work/bureau" | grep -c '\.sqlite$')" = 2 ] || fail "--store not used"
[ "$(wc -l <ids.txt)" = 2 ] || fail "--out did not write 2 lines"
"$issuer" ki-recover --key ec.pem --mech ec-elgamal --hash sha1 --in ids.txt >ids-ki.txt
[ "$(wc -l <ids-ki.txt)" = 2 ] || fail "ki-recover of the bureau's output"
for mech in rsa-raw rsa-oaep; do
    "$issuer" ki-batch --module "$module" --tokens 1 --mech $mech >out.txt ||
        fail "ki-batch --mech $mech"
done

echo "== ki-batch: cards that cannot derive (EC key for an RSA mechanism)"
run status batch-out.txt batch-err.txt "$issuer" ki-batch --module "$module" --tokens 2 \
    --mech rsa-oaep --key ec.pem
[ "$status" = 1 ] || fail "ki-batch with a wrong key exited $status"
[ "$(tail -n 1 batch-out.txt)" = "2 tokens, 0 verified, 2 failed" ] || fail "no failure summary"
grep -q 'CKR_MECHANISM_PARAM_INVALID' batch-err.txt || fail "the card's refusal is not reported"

echo "== ki-batch: a progress bar on a terminal"
if command -v script >/dev/null; then
    script -qec "'$issuer' ki-batch --module '$module' --tokens 2" /dev/null >tty.txt ||
        fail "ki-batch on a terminal"
    grep -q '\[#*' tty.txt && grep -q '2/2' tty.txt || fail "no progress bar"
    grep -q '2 tokens, 2 verified, 0 failed' tty.txt || fail "no summary on a terminal"
else
    echo "   script(1) is not installed: skipped"
fi
echo "PASS"
