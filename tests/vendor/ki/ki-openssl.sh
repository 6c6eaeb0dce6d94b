#!/usr/bin/env bash
# KI recomputed independently of softse (docs/spec.md §5): the card derives KI
# through PKCS#11 (ki-driver) and outputs c; the openssl command line
# recovers r and computes KI; that KI must equal what softse-issuer
# ki-recover prints and must answer the card's HMAC challenge.
#
#   RSA raw with e = 3 (paper §5.1): r = c^d mod n, KI = H(r ‖ n)
#   RSA-OAEP (paper §4.5):           r = OAEP⁻¹(c),  KI = H(r ‖ n)
#   EC ElGamal (paper §5.2):         h^r = x·c in plain Python integers,
#                                    KI = H(P(h^r) ‖ P(g) ‖ P(h))  (skipped without python3)
#
# usage: ki-openssl.sh softse-pkcs11.so ki-driver softse-issuer
set -euo pipefail

module=${1:?usage: $0 softse-pkcs11.so ki-driver softse-issuer}
driver=${2:?}
issuer=${3:?}
for tool in openssl xxd; do
    command -v $tool >/dev/null || { echo "$tool is not installed: skipped"; exit 77; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/softse-ki-openssl.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
export SOFTSE_MODULE=$module SOFTSE_STORE=$work/store SOFTSE_PIN_KDF_ITERATIONS=1000
unset SOFTSE_CONF
mkdir store

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
size() {
    stat -c %s "$1"
}
hex() {
    xxd -p -c 100000
}
# hmac HASH KEY_HEX CHALLENGE_HEX: what a card holding KEY answers
hmac() {
    echo -n "$3" | xxd -r -p | openssl dgst -"$1" -mac HMAC -macopt hexkey:"$2" -binary | hex
}
# card_answers LABEL HASH KI_HEX: the card's HMAC equals openssl's with KI
card_answers() {
    local challenge card mine
    challenge=$(openssl rand -hex 32)
    card=$("$driver" hmac "$1" "$2" "$challenge")
    mine=$(hmac "$2" "$3" "$challenge")
    [ "$card" = "$mine" ] || fail "$1: the card answers $card, KI $3 gives $mine"
}
# recover_cli KEY MECH HASH C_HEX [LEN]: KI as softse-issuer prints it
recover_cli() {
    echo "card-1 $4" | "$issuer" ki-recover --key "$1" --mech "$2" --hash "$3" ${5:+--len "$5"} |
        awk '$1 == "card-1" { print $2 }'
}

"$driver" init

echo "== RSA raw, e = 3 (paper §5.1)"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:3 \
    -out raw.pem 2>/dev/null
openssl pkey -in raw.pem -pubout -out raw.pub.pem
openssl rsa -in raw.pem -noout -text 2>/dev/null | grep -q '^publicExponent: 3 (0x3)' ||
    fail "the issuer key does not have e = 3"
openssl rsa -in raw.pem -noout -modulus | sed 's/^Modulus=//' | xxd -r -p >n.bin
[ "$(size n.bin)" = 256 ] || fail "n is not 256 bytes"
for hash in sha1 sha256; do
    c=$("$driver" derive rsa-raw $hash raw.pub.pem raw-$hash)
    echo -n "$c" | xxd -r -p >c.bin
    [ "$(size c.bin)" = 256 ] || fail "c is not k = 256 bytes"
    openssl pkeyutl -decrypt -inkey raw.pem -pkeyopt rsa_padding_mode:none -in c.bin -out r.bin
    [ "$(size r.bin)" = 256 ] || fail "r is not I2OSP(r, k)"
    # c is exactly r^3 mod n: no padding anywhere.
    openssl pkeyutl -encrypt -pubin -inkey raw.pub.pem -pkeyopt rsa_padding_mode:none \
        -in r.bin -out c-again.bin
    cmp -s c.bin c-again.bin || fail "c is not r^e mod n"
    ki=$(cat r.bin n.bin | openssl dgst -$hash -binary | hex)
    [ "$(recover_cli raw.pem rsa-raw $hash "$c")" = "$ki" ] || fail "ki-recover disagrees ($hash)"
    card_answers raw-$hash $hash "$ki"
    echo "   $hash: KI $ki"
done
# CKA_VALUE_LEN 16: the first 16 bytes of SHA-256(r ‖ n).
c=$("$driver" derive rsa-raw sha256 raw.pub.pem raw-16 16)
echo -n "$c" | xxd -r -p >c.bin
openssl pkeyutl -decrypt -inkey raw.pem -pkeyopt rsa_padding_mode:none -in c.bin -out r.bin
ki=$(cat r.bin n.bin | openssl dgst -sha256 -binary | head -c 16 | hex)
[ "$(recover_cli raw.pem rsa-raw sha256 "$c" 16)" = "$ki" ] || fail "ki-recover --len 16 disagrees"
card_answers raw-16 sha256 "$ki"
echo "   16-byte KI $ki"

echo "== RSA-OAEP (paper §4.5)"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out oaep.pem 2>/dev/null
openssl pkey -in oaep.pem -pubout -out oaep.pub.pem
openssl rsa -in oaep.pem -noout -modulus | sed 's/^Modulus=//' | xxd -r -p >n.bin
for hash in sha1 sha256; do
    c=$("$driver" derive rsa-oaep $hash oaep.pub.pem oaep-$hash)
    echo -n "$c" | xxd -r -p >c.bin
    openssl pkeyutl -decrypt -inkey oaep.pem -pkeyopt rsa_padding_mode:oaep \
        -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in c.bin -out r.bin
    [ "$(size r.bin)" = 32 ] || fail "r is not 32 bytes"
    ki=$(cat r.bin n.bin | openssl dgst -$hash -binary | hex)
    [ "$(recover_cli oaep.pem rsa-oaep $hash "$c")" = "$ki" ] || fail "ki-recover disagrees ($hash)"
    card_answers oaep-$hash $hash "$ki"
    echo "   $hash: KI $ki"
done

echo "== EC ElGamal (paper §5.2)"
if ! command -v python3 >/dev/null; then
    echo "   python3 is not installed: ElGamal recomputation skipped"
    exit 0
fi
for curve in P-256 P-384; do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:$curve -out ec.pem 2>/dev/null
    openssl pkey -in ec.pem -pubout -out ec.pub.pem
    c=$("$driver" derive ec-elgamal sha256 ec.pub.pem ec-$curve)
    # x and h from openssl's text dump; the curve constants from SEC 2.
    ki=$(openssl pkey -in ec.pem -noout -text | python3 -c '
import hashlib, re, sys
curves = {
    "P-256": (2**256 - 2**224 + 2**192 + 2**96 - 1,
              0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
              0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5, 32),
    "P-384": (2**384 - 2**128 - 2**96 + 2**32 - 1,
              0xAA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A385502F25DBF55296C3A545E3872760AB7,
              0x3617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C00A60B1CE1D7E819D7A431D7C90EA0E5F, 48),
}
p, gx, gy, size = curves[sys.argv[1]]
a = p - 3
text = sys.stdin.read()
def block(name):
    m = re.search(name + r":\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
    return bytes.fromhex(re.sub(r"[\s:]", "", m.group(1)))
x = int.from_bytes(block("priv"), "big")
pub = block("pub")
h = (int.from_bytes(pub[1:1 + size], "big"), int.from_bytes(pub[1 + size:], "big"))
c = bytes.fromhex(sys.argv[2])
assert c[0] == 4 and len(c) == 1 + 2 * size
gr = (int.from_bytes(c[1:1 + size], "big"), int.from_bytes(c[1 + size:], "big"))
def add(P, Q):
    if P is None: return Q
    if Q is None: return P
    if P[0] == Q[0] and (P[1] + Q[1]) % p == 0: return None
    if P == Q: l = (3 * P[0] * P[0] + a) * pow(2 * P[1], -1, p) % p
    else: l = (Q[1] - P[1]) * pow(Q[0] - P[0], -1, p) % p
    X = (l * l - P[0] - Q[0]) % p
    return (X, (l * (P[0] - X) - P[1]) % p)
def mul(k, P):
    R = None
    while k:
        if k & 1: R = add(R, P)
        P, k = add(P, P), k >> 1
    return R
def enc(P):
    return b"\x04" + P[0].to_bytes(size, "big") + P[1].to_bytes(size, "big")
assert mul(x, (gx, gy)) == h, "h is not x*g"
print(hashlib.sha256(enc(mul(x, gr)) + enc((gx, gy)) + enc(h)).hexdigest())
' $curve "$c")
    [ "$(recover_cli ec.pem ec-elgamal sha256 "$c")" = "$ki" ] || fail "ki-recover disagrees ($curve)"
    card_answers ec-$curve sha256 "$ki"
    echo "   $curve: KI $ki"
done
echo "PASS"
