#!/usr/bin/env bash
# SK3 test vectors (docs/spec.md §6): every value the card and the C reference
# produce is recomputed here with the openssl command line alone (plain
# HMAC-SHA-256), for a fixed server key and fixed host names.
#
#   test_sk3_vectors.sh SK3_VECTORS   (SOFTSE_MODULE names the module)
set -euo pipefail

tool=$1
: "${SOFTSE_MODULE:?SOFTSE_MODULE must name softse-pkcs11.so}"
command -v openssl >/dev/null || { echo "openssl not found: skipped"; exit 77; }

SOFTSE_STORE=$(mktemp -d "${TMPDIR:-/tmp}/sk3-vectors.XXXXXX")
export SOFTSE_STORE SOFTSE_PIN_KDF_ITERATIONS=1000
trap 'rm -rf "$SOFTSE_STORE"' EXIT
unset SOFTSE_CONF

failures=0

# Bytes from hex on stdout (no xxd needed).
hex2bin() {
    local hex=$1 n
    for ((n = 0; n < ${#hex}; n += 2)); do
        printf "\\x${hex:n:2}"
    done
}

# f_mac / f_dgst KEYHEX DATAHEX: HMAC-SHA-256 in lower-case hex, with
# either command-line form (openssl mac is OpenSSL 3's; dgst is older).
f_mac() {
    hex2bin "$2" | openssl mac -digest SHA256 -macopt "hexkey:$1" HMAC | tr 'A-F' 'a-f'
}
f_dgst() {
    hex2bin "$2" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$1" -r | cut -d' ' -f1
}
if printf abc | openssl mac -digest SHA256 -macopt hexkey:00 HMAC >/dev/null 2>&1; then
    f() { f_mac "$@"; }
else
    f() { f_dgst "$@"; }
fi

xor() {
    local a=$1 b=$2 n out=""
    for ((n = 0; n < ${#a}; n += 2)); do
        out+=$(printf '%02x' $((0x${a:n:2} ^ 0x${b:n:2})))
    done
    echo "$out"
}

expect() { # NAME EXPECTED ACTUAL
    if [[ $2 == "$3" ]]; then
        echo "ok   $1"
    else
        echo "FAIL $1"
        echo "     expected $2"
        echo "     got      $3"
        failures=$((failures + 1))
    fi
}

# name=value lines into variables prefixed with $1.
load() {
    local prefix=$1 line
    while IFS= read -r line; do
        [[ $line == *=* ]] || continue
        printf -v "${prefix}${line%%=*}" '%s' "${line#*=}"
    done
}

# ---- the fixed server key K ‖ K' ‖ K'' ------------------------------------------------
K=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
K1=202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f
K2=404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f
server=$K$K1$K2

# Both command-line forms agree on one value (a check of this script).
expect "f = openssl dgst -mac HMAC" "$(f "$K" 616263)" "$(f_dgst "$K" 616263)"
# RFC 4231 test case 2: HMAC-SHA-256("Jefe", "what do ya want for nothing?").
expect "RFC 4231 case 2" \
    5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843 \
    "$(f 4a656665 7768617420646f2079612077616e7420666f72206e6f7468696e673f)"

# ---- the card ----------------------------------------------------------------------------
card_out=$("$tool" card "$server")
load card_ <<<"$card_out"
i=$card_i
j=$card_j
echo "host i = $i, host j = $j"

# K(x) = f_K(x), K'(x) = f_K'(x), K''(x) = f_K''(x)
Ki=$(f "$K" "$i")
K1i=$(f "$K1" "$i")
K2i=$(f "$K2" "$i")
Kj=$(f "$K" "$j")
K1j=$(f "$K1" "$j")
K2j=$(f "$K2" "$j")
expect "HOST_DERIVE(i) = K(i) K'(i) K''(i)" "$Ki$K1i$K2i" "$card_host_i"
expect "HOST_DERIVE(j) = K(j) K'(j) K''(j)" "$Kj$K1j$K2j" "$card_host_j"

# K(j,i) = f_K(j)(i), K'(i,j) = f_K'(i)(j), K''(i,j) = f_K''(i)(j)
Kji=$(f "$Kj" "$i")
K1ij=$(f "$K1i" "$j")
K2ij=$(f "$K2i" "$j")
alpha=$(xor "$Kji" "$K1ij")
beta=$(f "$K2ij" "$alpha")
expect "SERVER alpha = K(j,i) xor K'(i,j)" "$alpha" "$card_alpha"
expect "SERVER beta = f_K''(i,j)(alpha)" "$beta" "$card_beta"

# The session values from the r's the card chose: kappa = K(j,i).
kappa=$Kji
expect "tau_j = f_kappa(ri rj \"1\")" "$(f "$kappa" "$card_ri${card_rj}31")" "$card_tau"
expect "rho_i = f_kappa(ri rj \"01\")" "$(f "$kappa" "$card_ri${card_rj}3031")" "$card_rho"
sigma=$(f "$kappa" "$card_ri${card_rj}3030")
expect "sigma_i = f_kappa(ri rj \"00\")" "$sigma" "$card_sigma_i"
expect "sigma_j = f_kappa(ri rj \"00\")" "$sigma" "$card_sigma_j"
expect "query 4 accepts" CKR_OK "$card_q4"
if [[ $card_ri == "$card_rj" || ${#card_ci} -ne 64 ]]; then
    echo "FAIL r_i, r_j, c_i look wrong: $card_ri $card_rj $card_ci"
    failures=$((failures + 1))
fi

# ---- the C reference against the command line, for fixed r's -----------------------------
ref_out=$("$tool" ref-server "$server" "$i" "$j")
load ref_ <<<"$ref_out"
expect "C reference K(i) K'(i) K''(i)" "$Ki$K1i$K2i" "$ref_host_i"
expect "C reference K(j) K'(j) K''(j)" "$Kj$K1j$K2j" "$ref_host_j"
expect "C reference alpha" "$alpha" "$ref_alpha"
expect "C reference beta" "$beta" "$ref_beta"

ri=$(printf 'a5%.0s' {1..32})
rj=$(printf '5a%.0s' {1..31})00
sess_out=$("$tool" ref-session "$kappa" "$ri" "$rj")
load sess_ <<<"$sess_out"
expect "C reference tau (fixed r)" "$(f "$kappa" "$ri${rj}31")" "$sess_tau"
expect "C reference rho (fixed r)" "$(f "$kappa" "$ri${rj}3031")" "$sess_rho"
expect "C reference sigma (fixed r)" "$(f "$kappa" "$ri${rj}3030")" "$sess_sigma"
echo "fixed r: tau=$sess_tau rho=$sess_rho sigma=$sess_sigma"

if ((failures > 0)); then
    echo "$failures mismatch(es)"
    exit 1
fi
echo "all SK3 vectors agree with the openssl command line"
