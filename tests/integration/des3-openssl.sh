#!/usr/bin/env bash
# The openssl command line recomputes what the built module outputs for
# Triple DES, key diversification and check values (des3_driver runs one
# operation on a fresh token per call): DES3/DES2 ECB, CBC and CBC_PAD
# (openssl's own two-key DES-EDE ciphers check softse's K1‖K2‖K1), CMAC,
# the CBC-MAC, the EMV "Option A" and EMV CPS (GlobalPlatform) card-key
# derivations and the AES *_ENCRYPT_DATA ones, CKA_CHECK_VALUE.
#
# usage: des3-openssl.sh /path/to/des3_driver
set -euo pipefail

driver=${1:?usage: $0 /path/to/des3_driver}
command -v openssl >/dev/null || { echo "openssl is not installed: skipped"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/softse-des3.XXXXXX")
trap 'rm -rf "$work"' EXIT
checks=0

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
# same WHAT EXPECTED GOT (hex, case-insensitive)
same() {
    checks=$((checks + 1))
    [ "${2^^}" = "${3^^}" ] || fail "$1: openssl says ${2^^}, softse ${3^^}"
    echo "ok: $1"
}
hex_of() { od -An -v -tx1 | tr -d ' \n'; }
bytes_of() { local h=$1; printf '%b' "$(sed 's/../\\x&/g' <<<"$h")"; }
# openssl enc over hex data, hex out: ossl_enc CIPHER KEY [IV] (reads $data)
ossl_enc() {
    local cipher=$1 key=$2 iv=${3:-} pad=${4:--nopad}
    bytes_of "$data" | openssl enc "-$cipher" -K "$key" ${iv:+-iv "$iv"} $pad | hex_of
}
# Odd parity in each byte, as PKCS#11 has DES keys.
parity() {
    local h=$1 out= i b ones
    for ((i = 0; i < ${#h}; i += 2)); do
        b=$((16#${h:i:2} & 0xfe))
        ones=0
        for ((v = b; v; v >>= 1)); do ones=$((ones + (v & 1))); done
        out+=$(printf '%02X' $((b | (ones % 2 == 0))))
    done
    echo "$out"
}

K3=0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123 # NIST SP 800-67's key
K2=0123456789ABCDEF23456789ABCDEF01
IV=0001020304050607
data=$(head -c 200 /dev/urandom | hex_of) # 25 blocks

echo "== encryption"
same "DES3-ECB" "$(ossl_enc des-ede3 $K3)" "$("$driver" encrypt DES3-ECB DES3 $K3 - "$data")"
same "DES3-CBC" "$(ossl_enc des-ede3-cbc $K3 $IV)" "$("$driver" encrypt DES3-CBC DES3 $K3 $IV "$data")"
same "DES2-ECB (openssl des-ede)" "$(ossl_enc des-ede $K2)" "$("$driver" encrypt DES3-ECB DES2 $K2 - "$data")"
same "DES2-CBC (openssl des-ede-cbc)" "$(ossl_enc des-ede-cbc $K2 $IV)" \
    "$("$driver" encrypt DES3-CBC DES2 $K2 $IV "$data")"
data=${data:0:58} # 29 bytes: CBC_PAD adds 3
same "DES3-CBC-PAD (PKCS#7)" "$(bytes_of "$data" | openssl enc -des-ede3-cbc -K $K3 -iv $IV | hex_of)" \
    "$("$driver" encrypt DES3-CBC-PAD DES3 $K3 $IV "$data")"
if "$driver" encrypt DES3-ECB DES3 $K3 - "${data:0:10}" 2>"$work/err"; then
    fail "DES3-ECB encrypted 5 bytes"
fi
grep -q CKR_DATA_LEN_RANGE "$work/err" || fail "DES3-ECB of 5 bytes: $(cat "$work/err")"
echo "ok: DES3-ECB of 5 bytes is CKR_DATA_LEN_RANGE"

echo "== MACs"
KX=${K2}${K2:0:16} # openssl's CMAC takes the DES2 key as K1‖K2‖K1
bytes_of "$data" >"$work/data"
same "DES3-CMAC" "$(openssl mac -cipher DES-EDE3-CBC -macopt hexkey:$K3 -in "$work/data" CMAC)" \
    "$("$driver" mac DES3-CMAC DES3 $K3 0 "$data")"
cmac2=$(openssl mac -cipher DES-EDE3-CBC -macopt hexkey:$KX -in "$work/data" CMAC)
same "DES3-CMAC, DES2 key" "$cmac2" "$("$driver" mac DES3-CMAC DES2 $K2 0 "$data")"
same "DES3-CMAC-GENERAL 5" "${cmac2:0:10}" "$("$driver" mac DES3-CMAC-GENERAL DES2 $K2 5 "$data")"
# CBC-MAC: the last block of CBC with a zero IV over the data and zero padding
data_padded=${data}000000
cbc=$(bytes_of "$data_padded" | openssl enc -des-ede3-cbc -K $K3 -iv 0000000000000000 -nopad | hex_of)
same "DES3-MAC (half a block)" "${cbc: -16:8}" "$("$driver" mac DES3-MAC DES3 $K3 0 "$data")"
same "DES3-MAC-GENERAL 8" "${cbc: -16}" "$("$driver" mac DES3-MAC-GENERAL DES3 $K3 8 "$data")"

echo "== key diversification"
# EMV Option A: MK = DES3(IMK)[Y ‖ not Y], Y = rightmost 16 digits of PAN ‖ PSN.
IMK=0123456789ABCDEFFEDCBA9876543210
pan_psn=541333008960001001
y=${pan_psn: -16}
not_y=$(printf '%016X' $((0x$y ^ -1)))
data=$y$not_y
same "EMV Option A card master key" "$(parity "$(ossl_enc des-ede $IMK)")" \
    "$("$driver" derive DES3-ECB-ENCRYPT-DATA DES2 $IMK - "$data" DES2)"
# EMV CPS / GlobalPlatform: K = DES3(KMC)[KD6 ‖ F0 0n ‖ KD6 ‖ 0F 0n], n = 1 ENC, 2 MAC, 3 DEK.
KMC=$(parity 404142434445464748494A4B4C4D4E4F)
KD6=334455667788
for n in 1 2 3; do
    data=${KD6}F00${n}${KD6}0F0${n}
    same "EMV CPS card key $n" "$(parity "$(ossl_enc des-ede $KMC)")" \
        "$("$driver" derive DES3-ECB-ENCRYPT-DATA DES2 $KMC - "$data" DES2)"
done
data=$(head -c 24 /dev/urandom | hex_of)
same "DES3-CBC-ENCRYPT-DATA (DES3 key)" "$(parity "$(ossl_enc des-ede3-cbc $K3 $IV)")" \
    "$("$driver" derive DES3-CBC-ENCRYPT-DATA DES3 $K3 $IV "$data" DES3)"
AES=2B7E151628AED2A6ABF7158809CF4F3C
AESIV=000102030405060708090A0B0C0D0E0F
data=$(head -c 32 /dev/urandom | hex_of)
same "AES-ECB-ENCRYPT-DATA" "$(ossl_enc aes-128-ecb $AES)" \
    "$("$driver" derive AES-ECB-ENCRYPT-DATA AES $AES - "$data" AES)"
same "AES-CBC-ENCRYPT-DATA" "$(ossl_enc aes-128-cbc $AES $AESIV)" \
    "$("$driver" derive AES-CBC-ENCRYPT-DATA AES $AES $AESIV "$data" AES)"

echo "== check values"
data=0000000000000000
same "KCV of a DES3 key" "$(ossl_enc des-ede3 $K3 | cut -c1-6)" "$("$driver" kcv DES3 $K3)"
same "KCV of a DES2 key" "$(ossl_enc des-ede $K2 | cut -c1-6)" "$("$driver" kcv DES2 $K2)"
data=00000000000000000000000000000000
same "KCV of an AES key" "$(ossl_enc aes-128-ecb $AES | cut -c1-6)" "$("$driver" kcv AES $AES)"
same "KCV of a generic secret (SHA-1)" \
    "$(bytes_of "$AES" | openssl dgst -sha1 -binary | hex_of | cut -c1-6)" "$("$driver" kcv GENERIC $AES)"

echo "all $checks checks passed"
