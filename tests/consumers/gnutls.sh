#!/bin/bash
# GnuTLS: p11tool lists the token and generates keys on it, certtool makes
# self-signed certificates with the token's keys, openssl checks them, and
# p11tool stores a certificate on the token and reads it back.
source "$(dirname "$0")/lib.sh"
need_tools p11tool certtool openssl pkcs11-tool
cd "$WORK"

TOKEN=gnutls
URL="pkcs11:token=$TOKEN"
export GNUTLS_PIN="$USER_PIN" GNUTLS_SO_PIN="$SO_PIN"
pt() { p11tool --provider "$MODULE" "$@"; }
ct() { certtool --provider "$MODULE" "$@"; }

say "token"
init_token "$TOKEN"
check "p11tool --list-tokens" pt --list-tokens
grep_out "token is listed with its label" "Label: $TOKEN\$"
grep_out "token URL" "URL: pkcs11:.*token=$TOKEN"
# p11tool exits non-zero when nothing matches; the message is the check.
pt --list-all "$URL" >"$WORK/last.out" 2>&1 || true
grep_out "the new token holds no public objects" "No matching objects found"

say "key generation by p11tool"
check "generate ECDSA P-256 key" pt --login --generate-privkey ecdsa --curve secp256r1 --label gt-ec --id 4501 \
    --outfile ec-gen.pub "$URL"
check "generate RSA-2048 key" pt --login --generate-privkey rsa --bits 2048 --label gt-rsa --id 4502 \
    --outfile rsa-gen.pub "$URL"
check "p11tool --list-privkeys after login" pt --login --list-privkeys "$URL"
grep_out "EC private key listed" "object=gt-ec;type=private"
grep_out "RSA private key listed" "object=gt-rsa;type=private"
grep_out "private keys are sensitive" "CKA_SENSITIVE"
check "p11tool --list-all without login hides private keys" pt --list-all "$URL"
if grep -q 'type=private' "$WORK/last.out"; then
    fail "private keys visible without login" "$WORK/last.out"
else
    echo "ok: no private key without login"
fi
grep_out "public keys visible without login" "object=gt-ec;type=public"
check "export the EC public key" pt --export-pubkey "$URL;object=gt-ec;type=public" --outfile ec.pub
check "openssl reads the exported key" openssl pkey -pubin -in ec.pub -outform DER -out ec.pub.der
check "openssl reads the key printed at generation" openssl pkey -pubin -in ec-gen.pub -outform DER -out ec-gen.pub.der
same_file "exported EC public key equals the one printed at generation" ec-gen.pub.der ec.pub.der
check "p11tool --test-sign with the EC key" pt --login --test-sign "$URL;object=gt-ec"
grep_out "EC test-sign verified against the token's public key" "Verifying against public key in the token\.\.\. ok"
check "p11tool --test-sign with the RSA key" pt --login --test-sign "$URL;object=gt-rsa"
grep_out "RSA test-sign verified against the token's public key" "Verifying against public key in the token\.\.\. ok"

say "self-signed certificates by certtool"
cat >tmpl.cfg <<'EOF'
cn = "softse gnutls test"
organization = "softse"
serial = 7
expiration_days = 30
ca
signing_key
cert_signing_key
EOF
# self_signed NAME LABEL
self_signed() {
    local name=$1 label=$2
    check "$name: certtool --generate-self-signed with the token key" \
        ct --generate-self-signed --load-privkey "$URL;object=$label;type=private" \
        --load-pubkey "$URL;object=$label;type=public" --template tmpl.cfg --outfile "$name.pem"
    passed || return 0
    check "$name: certtool -i parses it" certtool -i --infile "$name.pem"
    grep_out "$name: subject" "Subject: CN=softse gnutls test,O=softse"
    check "$name: openssl x509 parses it" openssl x509 -in "$name.pem" -noout -text
    grep_out "$name: CA basic constraint" "CA:TRUE"
    check "$name: openssl verifies the self-signature" openssl verify -CAfile "$name.pem" "$name.pem"
    grep_out "$name: verify OK" ": OK"
    openssl x509 -in "$name.pem" -noout -pubkey | openssl pkey -pubin -outform DER -out "$name.certkey.der"
    pt --export-pubkey "$URL;object=$label;type=public" --outfile "$name.tokkey.pem" >/dev/null 2>&1 || true
    openssl pkey -pubin -in "$name.tokkey.pem" -outform DER -out "$name.tokkey.der" 2>/dev/null || true
    same_file "$name: certificate carries the token's public key" "$name.tokkey.der" "$name.certkey.der"
}
self_signed ec-cert gt-ec
self_signed rsa-cert gt-rsa

say "certificate on the token"
if [ -s ec-cert.pem ]; then
    check "p11tool --write the certificate" pt --login --write --load-certificate ec-cert.pem --label gt-ec \
        --id 4501 "$URL"
    check "p11tool --list-all-certs" pt --list-all-certs "$URL"
    grep_out "certificate listed" "object=gt-ec;type=cert"
    check "p11tool --export the certificate" pt --export "$URL;object=gt-ec;type=cert" --outfile back.pem
    if passed; then
        openssl x509 -in ec-cert.pem -outform DER -out a.der
        openssl x509 -in back.pem -outform DER -out b.der 2>/dev/null || true
        same_file "certificate read back is the one written" a.der b.der
    fi
    check "pkcs11-tool sees the certificate too" p11 --token-label "$TOKEN" --list-objects --type cert
    grep_out "certificate object by pkcs11-tool" "label: +gt-ec"
else
    skip_step "no EC certificate was made (see FAIL above)"
fi

finish
