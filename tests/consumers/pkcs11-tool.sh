#!/bin/bash
# OpenSC pkcs11-tool against softse: token setup, pkcs11-tool's own --test,
# key generation, and every operation checked independently with openssl.
# Written for pkcs11-tool 0.23 (Debian 12); where that version lacks an
# option the step prints a SKIP line and says why.
source "$(dirname "$0")/lib.sh"
need_tools pkcs11-tool openssl xxd
cd "$WORK"

TOKEN=consumers
p11u() { p11 --token-label "$TOKEN" --login --pin "$USER_PIN" "$@"; }

say "token"
init_token "$TOKEN"
check "slot list shows the token and a new blank slot" p11 --list-slots
grep_out "token label in slot list" "token label +: $TOKEN"
grep_out "second slot is blank" "token state: +uninitialized"

say "key pairs RSA-2048 and EC P-256, then pkcs11-tool --test"
must "keypairgen rsa:2048" p11u --keypairgen --key-type rsa:2048 --id 01 --label rsa2048
must "keypairgen EC:prime256v1" p11u --keypairgen --key-type EC:prime256v1 --id 02 --label p256
check "private key defaults: sensitive, never extractable" p11u --list-objects --type privkey --id 01
grep_out "RSA private key is sensitive and never extractable" "Access: +sensitive, always sensitive, never extractable"
check "pkcs11-tool --test" p11u --test
grep_out "pkcs11-tool --test reports no errors" "^No errors"

say "more key pairs"
must "keypairgen EC:secp384r1" p11u --keypairgen --key-type EC:secp384r1 --id 03 --label p384
HAVE_ED25519=0
if p11u --keypairgen --key-type EC:edwards25519 --id 04 --label ed25519 >"$WORK/last.out" 2>&1; then
    HAVE_ED25519=1
    echo "ok: keypairgen EC:edwards25519"
elif grep -qiE 'unknown|unsupported.*curve|not supported' "$WORK/last.out"; then
    skip_step "this pkcs11-tool cannot generate EC:edwards25519: $(grep -m1 'error:' "$WORK/last.out")"
else
    fail "keypairgen EC:edwards25519" "$WORK/last.out"
fi

say "public keys out of the token"
# pubkey_pem ID OUT.pem [CURVE_OID_HEX]: --read-object, falling back to the
# object's CKA_EC_POINT for curves this pkcs11-tool cannot export.
pubkey_pem() {
    local id=$1 out=$2 oid=${3:-}
    if p11 --token-label "$TOKEN" --read-object --type pubkey --id "$id" -o "$WORK/pub$id.raw" >"$WORK/last.out" 2>&1; then
        # Some versions write PEM here (EdDSA), others DER.
        if grep -q 'BEGIN PUBLIC KEY' "$WORK/pub$id.raw"; then
            check "pubkey $id is a valid key" openssl pkey -pubin -in "$WORK/pub$id.raw" -out "$out"
        else
            check "pubkey $id is a valid key" openssl pkey -pubin -inform DER -in "$WORK/pub$id.raw" -out "$out"
        fi
    elif [ -n "$oid" ] && grep -q 'cannot create EVP_PKEY' "$WORK/last.out"; then
        # pkcs11-tool 0.23 fails here for every EC curve but P-256, also
        # for keys it imported itself: a pkcs11-tool bug, not the module's.
        note "pkcs11-tool --read-object cannot export pubkey $id (pkcs11-tool 0.23 bug); building it from CKA_EC_POINT"
        local point
        # --list-objects ignores --id here: take the EC_POINT of the block
        # whose ID line is ours.
        point=$(p11 --token-label "$TOKEN" --list-objects --type pubkey |
            awk -v id="$id" '/^Public Key Object/ {p = ""} /EC_POINT:/ {p = $2} $1 == "ID:" && $2 == id && p != "" {print p; exit}')
        ec_point_spki "$point" "$oid" "$WORK/pub$id.der"
        check "pubkey $id (from CKA_EC_POINT) is a valid key" openssl pkey -pubin -inform DER -in "$WORK/pub$id.der" -out "$out"
    else
        fail "read public key $id" "$WORK/last.out"
    fi
}
pubkey_pem 01 rsa.pem
pubkey_pem 02 p256.pem
pubkey_pem 03 p384.pem 2b81040022
[ $HAVE_ED25519 = 1 ] && pubkey_pem 04 ed25519.pem
check "exported RSA key is 2048 bits" openssl pkey -pubin -in rsa.pem -noout -text
grep_out "RSA modulus size" "Public-Key: \(2048 bit\)"
check "exported P-384 key is on secp384r1" openssl pkey -pubin -in p384.pem -noout -text
grep_out "P-384 curve" "secp384r1|P-384"

say "signatures, verified by openssl and by the token"
printf 'softse consumer test data %s\n' "$(date +%s%N)" >data.txt
printf 'tampered\n' >>data.txt.bad; cat data.txt >>data.txt.bad

# sign_and_check LABEL MECH ID SIGFILE VERIFY_COMMAND... [extra pkcs11-tool args via SIGN_ARGS]
sign_and_check() {
    local label=$1 mech=$2 id=$3 sig=$4
    shift 4
    check "$label: token signs" p11u --sign -m "$mech" --id "$id" -i data.txt -o "$sig" "${SIGN_ARGS[@]}"
    passed || return 0
    check "$label: openssl verifies" "$@"
    check "$label: token verifies" p11u --verify -m "$mech" --id "$id" -i data.txt --signature-file "$sig" "${SIGN_ARGS[@]}"
    grep_out "$label: token says valid" "Signature is valid"
    # pkcs11-tool 0.23 exits 0 on a bad signature; its message tells.
    p11u --verify -m "$mech" --id "$id" -i data.txt.bad --signature-file "$sig" "${SIGN_ARGS[@]}" >"$WORK/last.out" 2>&1 || true
    grep_out "$label: token rejects the signature over other data" "Invalid signature|CKR_SIGNATURE_INVALID"
}

SIGN_ARGS=()
# RSA-PKCS signs the data as given (no DigestInfo): recover and compare.
sign_and_check RSA-PKCS RSA-PKCS 01 rsa-pkcs.sig \
    openssl pkeyutl -verifyrecover -pubin -inkey rsa.pem -in rsa-pkcs.sig -out rsa-pkcs.rec
passed && same_file "RSA-PKCS: recovered data is the signed data" data.txt rsa-pkcs.rec
sign_and_check SHA256-RSA-PKCS SHA256-RSA-PKCS 01 sha256-rsa.sig \
    openssl dgst -sha256 -verify rsa.pem -signature sha256-rsa.sig data.txt
# pkcs11-tool's PSS defaults: the mechanism's hash, MGF1 with it, salt = hash length.
sign_and_check SHA256-RSA-PKCS-PSS SHA256-RSA-PKCS-PSS 01 pss.sig \
    openssl dgst -sha256 -verify rsa.pem -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
    -sigopt rsa_mgf1_md:sha256 -signature pss.sig data.txt
# RSA-PKCS-PSS without a hash in the mechanism: the token gets the digest.
openssl dgst -sha256 -binary data.txt >data.sha256
check "RSA-PKCS-PSS over a SHA-256 digest: token signs" p11u --sign -m RSA-PKCS-PSS --hash-algorithm SHA256 \
    --mgf MGF1-SHA256 --salt-len 32 --id 01 -i data.sha256 -o pss-raw.sig
passed && check "RSA-PKCS-PSS over a SHA-256 digest: openssl verifies" openssl dgst -sha256 -verify rsa.pem \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256 -signature pss-raw.sig data.txt
SIGN_ARGS=(--signature-format openssl)
sign_and_check "ECDSA-SHA256 (P-256)" ECDSA-SHA256 02 ecdsa256.sig \
    openssl dgst -sha256 -verify p256.pem -signature ecdsa256.sig data.txt
sign_and_check "ECDSA-SHA384 (P-384)" ECDSA-SHA384 03 ecdsa384.sig \
    openssl dgst -sha384 -verify p384.pem -signature ecdsa384.sig data.txt
SIGN_ARGS=()
# Raw r||s as the token returns it: 64 bytes for P-256.
check "ECDSA raw signature" p11u --sign -m ECDSA-SHA256 --id 02 -i data.txt -o ecdsa-rs.sig
if passed; then
    size=$(stat -c %s ecdsa-rs.sig)
    if [ "$size" -eq 64 ]; then echo "ok: raw ECDSA P-256 signature is r||s, 64 bytes"
    else echo "raw signature is $size bytes" >"$WORK/last.out"; fail "raw ECDSA P-256 signature length" "$WORK/last.out"; fi
fi
if [ $HAVE_ED25519 = 1 ]; then
    sign_and_check "EDDSA (Ed25519)" EDDSA 04 ed25519.sig \
        openssl pkeyutl -verify -pubin -inkey ed25519.pem -rawin -in data.txt -sigfile ed25519.sig
else
    skip_step "EDDSA: no Ed25519 key (see above)"
fi

say "RSA decryption on the token of what openssl encrypted"
printf 'a secret for the token %s' "$RANDOM" >secret.txt
check "openssl encrypts RSA-PKCS (v1.5)" openssl pkeyutl -encrypt -pubin -inkey rsa.pem -in secret.txt -out v15.bin
check "token decrypts RSA-PKCS" p11u --decrypt -m RSA-PKCS --id 01 -i v15.bin -o v15.dec
passed && same_file "RSA-PKCS plaintext" secret.txt v15.dec
check "openssl encrypts RSA-OAEP (SHA-256, MGF1-SHA-256)" openssl pkeyutl -encrypt -pubin -inkey rsa.pem -in secret.txt \
    -out oaep.bin -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
# pkcs11-tool 0.23 passes CK_RSA_PKCS_OAEP_PARAMS.source = 0 (not
# CKZ_DATA_SPECIFIED) when there is no label; see docs/consumers.md.
check "token decrypts RSA-PKCS-OAEP (pkcs11-tool sends source=0, no label)" \
    p11u --decrypt -m RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 --id 01 -i oaep.bin -o oaep.dec
passed && same_file "RSA-OAEP plaintext" secret.txt oaep.dec
check "openssl encrypts RSA-OAEP (SHA-1)" openssl pkeyutl -encrypt -pubin -inkey rsa.pem -in secret.txt \
    -out oaep1.bin -pkeyopt rsa_padding_mode:oaep
check "token decrypts RSA-PKCS-OAEP SHA-1" \
    p11u --decrypt -m RSA-PKCS-OAEP --hash-algorithm SHA-1 --mgf MGF1-SHA1 --id 01 -i oaep1.bin -o oaep1.dec
passed && same_file "RSA-OAEP SHA-1 plaintext" secret.txt oaep1.dec
# pkcs11-tool 0.23 --encrypt only looks for secret keys.
if p11u --encrypt -m RSA-PKCS-OAEP --id 01 -i secret.txt -o oaep-token.bin >"$WORK/last.out" 2>&1; then
    check "token decrypts its own RSA-OAEP ciphertext" \
        p11u --decrypt -m RSA-PKCS-OAEP --id 01 -i oaep-token.bin -o oaep-token.dec
    passed && same_file "token OAEP round trip" secret.txt oaep-token.dec
elif grep -q 'Secret key not found' "$WORK/last.out"; then
    skip_step "RSA --encrypt on the token: this pkcs11-tool encrypts with secret keys only"
else
    fail "token encrypts RSA-PKCS-OAEP" "$WORK/last.out"
fi

say "AES keys: generation, export policy, CBC-PAD / CBC / ECB / GCM"
must "keygen AES:32 extractable" p11u --keygen --key-type AES:32 --id 10 --label aes-ext --extractable
must "keygen AES:32 default (not extractable)" p11u --keygen --key-type AES:32 --id 11 --label aes-fixed
check "extractable AES key value can be read" p11u --read-object --type secrkey --id 10 -o aes.key
key_ok=0
if passed && [ "$(stat -c %s aes.key)" -eq 32 ]; then key_ok=1; echo "ok: AES key is 32 bytes"
else fail "AES key export gave no 32-byte key" "$WORK/last.out"; fi
expect_fail "non-extractable AES key value cannot be read" p11u --read-object --type secrkey --id 11 -o fixed.key
KEYHEX=$(xxd -p -c 64 aes.key 2>/dev/null || true)
IV=000102030405060708090a0b0c0d0e0f
head -c 100 /dev/urandom >pt100.bin
head -c 64 /dev/urandom >pt64.bin

check "token AES-CBC-PAD encrypt" p11u --encrypt -m AES-CBC-PAD --id 10 --iv $IV -i pt100.bin -o cbcpad.tok
if passed && [ $key_ok = 1 ]; then
    check "openssl AES-256-CBC (PKCS#7) encrypt" openssl enc -aes-256-cbc -K "$KEYHEX" -iv $IV -in pt100.bin -out cbcpad.ossl
    same_file "AES-CBC-PAD ciphertext equals openssl's" cbcpad.ossl cbcpad.tok
fi
if [ $key_ok = 1 ]; then
    openssl enc -aes-256-cbc -K "$KEYHEX" -iv $IV -in pt100.bin -out cbcpad.ossl2
    check "token AES-CBC-PAD decrypts openssl ciphertext" p11u --decrypt -m AES-CBC-PAD --id 10 --iv $IV -i cbcpad.ossl2 -o cbcpad.dec
    passed && same_file "AES-CBC-PAD plaintext" pt100.bin cbcpad.dec
    check "token AES-CBC encrypt (64 bytes, no padding)" p11u --encrypt -m AES-CBC --id 10 --iv $IV -i pt64.bin -o cbc.tok
    if passed; then
        openssl enc -aes-256-cbc -nopad -K "$KEYHEX" -iv $IV -in pt64.bin -out cbc.ossl
        same_file "AES-CBC ciphertext equals openssl's" cbc.ossl cbc.tok
    fi
    check "token AES-ECB encrypt (64 bytes)" p11u --encrypt -m AES-ECB --id 10 -i pt64.bin -o ecb.tok
    if passed; then
        openssl enc -aes-256-ecb -nopad -K "$KEYHEX" -in pt64.bin -out ecb.ossl
        same_file "AES-ECB ciphertext equals openssl's" ecb.ossl ecb.tok
    fi
fi
check "non-extractable AES key: CBC-PAD round trip on the token" p11u --encrypt -m AES-CBC-PAD --id 11 --iv $IV -i pt100.bin -o fixed.enc
if passed; then
    check "non-extractable AES key: decrypt" p11u --decrypt -m AES-CBC-PAD --id 11 --iv $IV -i fixed.enc -o fixed.dec
    passed && same_file "non-extractable AES key round trip" pt100.bin fixed.dec
fi
if p11u --encrypt -m AES-GCM --id 10 --iv 000102030405060708090a0b -i pt100.bin -o gcm.tok >"$WORK/last.out" 2>&1; then
    check "token AES-GCM decrypt" p11u --decrypt -m AES-GCM --id 10 --iv 000102030405060708090a0b -i gcm.tok -o gcm.dec
    passed && same_file "AES-GCM round trip" pt100.bin gcm.dec
elif grep -q 'illegal or not supported' "$WORK/last.out"; then
    skip_step "AES-GCM: this pkcs11-tool has no GCM parameters for --encrypt/--decrypt ($(grep -m1 'error:' "$WORK/last.out"))"
else
    fail "token AES-GCM encrypt" "$WORK/last.out"
fi

say "ECDH with a peer key made by openssl"
# pkcs11-tool --derive asks for a session key that is CKA_SENSITIVE FALSE,
# CKA_EXTRACTABLE TRUE and writes its CKA_VALUE: the raw shared secret.
# From a sensitive private key that is a derive-based leak, refused with
# CKR_TEMPLATE_INCONSISTENT (docs/spec.md §7.2, docs/consumers.md); the
# ECDH values themselves are checked in tests/mechanisms/test_mech_derive.c.
ecdh_check() {
    local curve=$1 id=$2 pub=$3
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:"$curve" -out "peer-$curve.pem"
    openssl pkey -in "peer-$curve.pem" -pubout -outform DER -out "peer-$curve.der"
    if p11u --derive -m ECDH1-DERIVE --id "$id" -i "peer-$curve.der" -o "z-$curve.tok" >"$WORK/last.out" 2>&1; then
        fail "token ECDH1-DERIVE ($curve) gave a readable secret from a sensitive key" "$WORK/last.out"
    elif grep -q CKR_TEMPLATE_INCONSISTENT "$WORK/last.out"; then
        echo "ok: ECDH1-DERIVE ($curve) to a readable key refused (docs/spec.md §7.2)"
    else
        fail "token ECDH1-DERIVE ($curve): unexpected error" "$WORK/last.out"
    fi
}
ecdh_check P-256 02 p256.pem
ecdh_check P-384 03 p384.pem

say "AES key wrap / unwrap"
# --usage-wrap: a key wraps only when asked to (docs/spec.md §7.2)
must "keygen AES:16 wrapping key (extractable, to compare with openssl)" \
    p11u --keygen --key-type AES:16 --id 20 --label kek --extractable --usage-wrap
check "read wrapping key" p11u --read-object --type secrkey --id 20 -o kek.key
KEK=$(xxd -p -c 64 kek.key)
# wrap_check NAME MECH OPENSSL_CIPHER OPENSSL_IV NEW_KEY_ID
wrap_check() {
    local name=$1 mech=$2 cipher=$3 iv=$4 newid=$5
    check "$name: token wraps the AES-256 key" p11u --wrap -m "$mech" --id 20 --application-id 10 -o "wrapped-$name.tok"
    if passed && [ $key_ok = 1 ]; then
        openssl enc -"$cipher" -K "$KEK" -iv "$iv" -in aes.key -out "wrapped-$name.ossl"
        same_file "$name: wrapped key equals openssl $cipher" "wrapped-$name.ossl" "wrapped-$name.tok"
    fi
    head -c 32 /dev/urandom >"new-$name.key"
    openssl enc -"$cipher" -K "$KEK" -iv "$iv" -in "new-$name.key" -out "new-$name.wrapped"
    check "$name: token unwraps an openssl-wrapped key" p11u --unwrap -m "$mech" --id 20 -i "new-$name.wrapped" \
        --key-type AES:32 --application-id "$newid" --application-label "unwrapped-$name" --extractable
    if passed; then
        check "$name: read the unwrapped key" p11u --read-object --type secrkey --id "$newid" -o "new-$name.back"
        passed && same_file "$name: unwrapped key value" "new-$name.key" "new-$name.back"
    fi
}
wrap_check kw AES-KEY-WRAP id-aes128-wrap A6A6A6A6A6A6A6A6 31
# CKM_AES_KEY_WRAP_KWP (RFC 5649) has no name in pkcs11-tool 0.23.
wrap_check kwp 0x210B id-aes128-wrap-pad A65959A6 32
expect_fail "a non-extractable key cannot be wrapped" p11u --wrap -m AES-KEY-WRAP --id 20 --application-id 11 -o never.wrapped
grep_out "refusal is CKR_KEY_UNEXTRACTABLE" "CKR_KEY_UNEXTRACTABLE"

finish
