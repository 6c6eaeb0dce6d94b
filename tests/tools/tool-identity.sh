#!/usr/bin/env bash
# softse-tool manufacture (docs/spec.md §2), checked from outside: pkcs11-tool
# reads the device certificate and the attestation public key, OpenSSL
# verifies the certificate against the manufacturer CA and compares the
# keys; a second manufacture fails; show prints the identity; EC P-256 and
# RSA-2048 identities; manufacture outside PERSONALIZATION, with a wrong
# SO PIN or a mismatched CA key fails; delete refuses a manufactured token
# without --force.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need pkcs11-tool
need openssl

# spki FILE FORM: the DER SubjectPublicKeyInfo of a public key file.
spki() {
    openssl pkey -pubin -inform "$2" -in "$1" -outform der
}

# check_identity LABEL CA-PEM KEY-PATTERN: the device certificate chains
# to the CA and certifies the token's attestation public key.
check_identity() {
    local label=$1 ca=$2 key_pattern=$3 serial
    serial=$(serial_of "$label")
    [ -n "$serial" ] || fail "no serial for token $label"

    ok "read the device certificate" \
        p11 --token-label "$label" --read-object --type cert --label softse-attestation -o "$label-dev.der"
    openssl x509 -inform der -in "$label-dev.der" -out "$label-dev.pem"
    ok "openssl verify" openssl verify -CAfile "$ca" "$label-dev.pem"
    expect_in "$out" "$label-dev.pem: OK" "openssl verify"

    ok "certificate text" openssl x509 -in "$label-dev.pem" -noout -text -nameopt RFC2253
    expect_in "$out" "Subject: .*CN=softse SE $serial" "the device certificate subject"
    expect_in "$out" "serialNumber=$serial" "the token serial in the subject"
    expect_in "$out" "CA:FALSE" "basicConstraints"
    expect_in "$out" "Digital Signature" "keyUsage"
    expect_in "$out" "$key_pattern" "the certified key type"

    openssl x509 -in "$label-dev.pem" -noout -pubkey >"$label-cert-pub.pem"
    spki "$label-cert-pub.pem" pem >"$label-cert.spki"
    ok "list the attestation public key" \
        p11 --token-label "$label" --list-objects --type pubkey --label softse-attestation
    local point
    point=$(sed -n 's/^ *EC_POINT: *//p' <<<"$out")
    if [ -n "$point" ]; then
        # EC: pkcs11-tool --read-object --type pubkey hits a use-after-free in
        # OpenSC's own EC conversion (ASan reports it in pkcs11-tool), so the
        # point it lists (a DER OCTET STRING of the 65-byte uncompressed
        # P-256 point) is compared with the end of the certified SPKI.
        [ "${point:0:4}" = 0441 ] || fail "unexpected EC_POINT encoding: $point"
        [ "${point:4}" = "$(tail -c 65 "$label-cert.spki" | od -An -v -tx1 | tr -d ' \n')" ] ||
            fail "the certificate of $label certifies another point than the token's attestation key"
    else
        ok "read the attestation public key" \
            p11 --token-label "$label" --read-object --type pubkey --label softse-attestation -o "$label-pub.der"
        spki "$label-pub.der" der >"$label-token.spki"
        cmp -s "$label-token.spki" "$label-cert.spki" ||
            fail "the certificate of $label certifies another key than the token's attestation key"
    fi

    ok "read the CA certificate" \
        p11 --token-label "$label" --read-object --type cert --label softse-manufacturer-ca -o "$label-ca.der"
    openssl x509 -in "$ca" -outform der -out "$label-ca-file.der"
    cmp -s "$label-ca.der" "$label-ca-file.der" || fail "the token's CA certificate is not $ca"
}

step "init, ca create, manufacture (EC P-256)"
new_token t1
ok "ca create" tool ca create --out-key ca-key.pem --out-cert ca.pem
[ "$(stat -c %a ca-key.pem)" = 600 ] || fail "the CA key file is not mode 0600"
ok "the CA certificate" openssl x509 -in ca.pem -noout -text
expect_in "$out" "CA:TRUE" "CA basicConstraints"
expect_in "$out" "Certificate Sign" "CA keyUsage"
serial1=$(serial_of t1)
ok "manufacture t1" tool manufacture --token t1 --ca ca.pem --ca-key ca-key.pem --so-pin $SO_PIN
expect_in "$out" "token serial: $serial1" "manufacture prints the serial"
expect_in "$out" "certificate subject: CN=softse SE $serial1, serialNumber=$serial1, O=softse" \
    "manufacture prints the subject"

step "the device certificate chains to the CA and certifies the attestation key"
check_identity t1 ca.pem "id-ecPublicKey|prime256v1|P-256"

step "the identity objects as pkcs11-tool lists them"
ok "list objects" p11 --token-label t1 --list-objects
expect_in "$out" "label: +softse-attestation" "the identity label"
expect_in "$out" "label: +softse-manufacturer-ca" "the CA certificate"

step "manufacturing again fails"
fails "second manufacture" tool manufacture --token t1 --ca ca.pem --ca-key ca-key.pem --so-pin $SO_PIN
expect_in "$out" "already manufactured.*CKR_ACTION_PROHIBITED" "second manufacture"
fails "manufacture with rsa2048 after EC" \
    tool manufacture --token t1 --ca ca.pem --ca-key ca-key.pem --so-pin $SO_PIN --key-type rsa2048

step "show prints the identity and the lifecycle"
ok "show" tool show --token t1
expect_in "$out" "lifecycle: +PERSONALIZATION" "show: lifecycle"
expect_in "$out" "subject: +CN=softse SE $serial1, serialNumber=$serial1, O=softse" "show: subject"
expect_in "$out" "issuer: +CN=softse manufacturer CA, O=softse" "show: issuer"
expect_in "$out" "key type: +EC prime256v1" "show: key type"
fingerprint=$(openssl x509 -in t1-dev.pem -noout -fingerprint -sha256 | sed 's/.*=//')
expect_in "$out" "SHA-256: +$fingerprint" "show: fingerprint"
ok "show without --token" tool show
expect_in "$out" "Slot 0: token \"t1\"" "show: the slot list"
expect_in "$out" "blank token" "show: the blank slot"

step "an RSA CA and an RSA-2048 identity, the token chosen by serial"
new_token t2
serial2=$(serial_of t2)
ok "ca create rsa2048" tool ca create --out-key rsa-ca-key.pem --out-cert rsa-ca.pem \
    --key-type rsa2048 --subject "/CN=Test RSA Manufacturer/O=softse tests"
ok "manufacture t2" tool manufacture --serial "$serial2" --ca rsa-ca.pem --ca-key rsa-ca-key.pem \
    --so-pin $SO_PIN --key-type rsa2048
check_identity t2 rsa-ca.pem "rsaEncryption"
ok "show t2" tool show --token t2
expect_in "$out" "key type: +RSA 2048 bits" "show: RSA key type"
expect_in "$out" "issuer: +CN=Test RSA Manufacturer, O=softse tests" "show: RSA CA issuer"
fails "t2 against the other CA" openssl verify -CAfile ca.pem t2-dev.pem

step "manufacture refused outside PERSONALIZATION"
new_token t3
ok "t3 operational" tool lifecycle --token t3 --to operational --so-pin $SO_PIN
fails "manufacture an operational token" \
    tool manufacture --token t3 --ca ca.pem --ca-key ca-key.pem --so-pin $SO_PIN
expect_in "$out" "is OPERATIONAL: CKR_SE_LIFECYCLE" "manufacture in OPERATIONAL"

step "manufacture with a wrong SO PIN, a mismatched CA key, a missing file"
new_token t4
fails "wrong SO PIN" tool manufacture --token t4 --ca ca.pem --ca-key ca-key.pem --so-pin 87654321
expect_in "$out" "SO login to token \"t4\": CKR_PIN_INCORRECT" "wrong SO PIN"
fails "mismatched CA key" tool manufacture --token t4 --ca ca.pem --ca-key rsa-ca-key.pem --so-pin $SO_PIN
expect_in "$out" "does not belong to the certificate" "mismatched CA key"
fails "missing CA file" tool manufacture --token t4 --ca nowhere.pem --ca-key ca-key.pem --so-pin $SO_PIN
expect_in "$out" "cannot read the CA certificate nowhere.pem" "missing CA file"
fails "a device certificate as CA" tool manufacture --token t4 --ca t1-dev.pem --ca-key ca-key.pem --so-pin $SO_PIN
ok "show t4" tool show --token t4
expect_in "$out" "identity: +not manufactured" "t4 after the failed attempts"
ok "manufacture t4 (RSA-3072, SO PIN from the environment)" \
    env SOFTSE_SO_PIN=$SO_PIN "$SOFTSE_TOOL" manufacture --token t4 --ca ca.pem --ca-key ca-key.pem \
    --key-type rsa3072
check_identity t4 ca.pem "rsaEncryption"
ok "show t4" tool show --token t4
expect_in "$out" "key type: +RSA 3072 bits" "show: RSA-3072"

step "look-alikes: a user's objects labelled softse-attestation are never taken for the identity"
new_token t5
ok "a user key pair labelled softse-attestation" p11 --token-label t5 --login --pin $PIN \
    --keypairgen --key-type EC:prime256v1 --label softse-attestation --id 99
ok "the user's key" p11 --token-label t5 --list-objects --type pubkey --id 99
user_point=$(sed -n 's/^ *EC_POINT: *//p' <<<"$out")
[ -n "$user_point" ] || fail "no EC_POINT for the user's key"
ok "a user certificate labelled softse-attestation" p11 --token-label t5 --login --pin $PIN \
    --write-object t2-dev.der --type cert --label softse-attestation --id 98
ok "show t5" tool show --token t5
expect_in "$out" "identity: +not manufactured" "show with look-alikes"
expect_in "$out" "warning: +1 other certificate\\(s\\) labelled \"softse-attestation\" do not certify" \
    "show warns about the look-alike certificate"
status=0
out=$(tool manufacture --token t5 --ca ca.pem --ca-key ca-key.pem --so-pin $SO_PIN 2>&1) || status=$?
if [ "$status" -eq 0 ]; then
    # The module made a real attestation key: the certificate is for it,
    # not for the user's key.
    ok "show t5" tool show --token t5
    expect_in "$out" "identity: +manufactured" "t5 manufactured"
    serial5=$(serial_of t5)
    expect_in "$out" "subject: +CN=softse SE $serial5" "t5's device certificate"
    id5=$(tr 'A-F' 'a-f' <<<"$serial5") # CKA_ID: the serial's bytes
    ok "t5's device certificate" p11 --token-label t5 --read-object --type cert --id "$id5" -o t5-dev.der
    cert_point=$(openssl x509 -inform der -in t5-dev.der -noout -pubkey | spki /dev/stdin pem |
        tail -c 65 | od -An -v -tx1 | tr -d ' \n')
    [ "0441$cert_point" != "$user_point" ] || fail "manufacture certified the user's key"
else
    # The module takes the user's private key for the identity (see the
    # reserved-labels test): the tool must refuse, not certify that key.
    expect_in "$out" "blocks it\\?\\): CKR_ACTION_PROHIBITED" "manufacture blocked by a look-alike"
    ok "show t5" tool show --token t5
    expect_in "$out" "identity: +not manufactured" "t5 after the refused manufacture"
    ok "t5's certificates" p11 --token-label t5 --list-objects --type cert
    [ "$(grep -c 'Certificate Object' <<<"$out")" -eq 1 ] || fail "a certificate was stored"
fi

step "delete refuses a manufactured token without --force"
fails "delete t1" tool delete --token t1
expect_in "$out" "is manufactured" "delete without --force"
[ -f "$SOFTSE_STORE/$serial1.sqlite" ] || fail "delete without --force removed the file"
ok "delete t1 --force" tool delete --token t1 --force
[ ! -f "$SOFTSE_STORE/$serial1.sqlite" ] || fail "delete --force left the file"
ok "show after delete" tool show
expect_not_in "$out" "\"t1\"" "t1 after delete"
serial3=$(serial_of t3)
ok "delete t3 (not manufactured)" tool delete --token t3
[ ! -f "$SOFTSE_STORE/$serial3.sqlite" ] || fail "delete left t3's file"
fails "delete again" tool delete --token t3
expect_in "$out" "CKR_TOKEN_NOT_PRESENT" "delete of a deleted token"

echo "PASS: $steps steps"
