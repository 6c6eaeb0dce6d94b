#!/bin/bash
# OpenSSL 3 with pkcs11-provider (issue 19; not in Debian 12, the test
# skips where it is not installed): token keys named by PKCS#11 URIs in
# plain openssl commands.  A self-signed certificate (openssl req) and a
# signature (openssl dgst) made with token keys verify in plain OpenSSL;
# RSA-OAEP (SHA-256, MGF1-SHA-256) encrypted in software decrypts on the
# token.
source "$(dirname "$0")/lib.sh"
need_tools openssl pkcs11-tool
PROVIDER_SO=""
modules_dir=$(openssl version -m | sed -n 's/^MODULESDIR: "\(.*\)"$/\1/p')
for candidate in "$modules_dir/pkcs11.so" /usr/lib/x86_64-linux-gnu/ossl-modules/pkcs11.so \
    /usr/local/lib/x86_64-linux-gnu/ossl-modules/pkcs11.so /usr/local/lib64/ossl-modules/pkcs11.so; do
    [ -r "$candidate" ] && { PROVIDER_SO=$candidate; break; }
done
[ -n "$PROVIDER_SO" ] || { echo "SKIP: pkcs11-provider is not installed (no ossl-modules/pkcs11.so; not packaged in Debian 12)"; exit 77; }
cd "$WORK"

TOKEN=provider

rsa_ec_token "$TOKEN"

# The openssl.cnf section docs/consumers.md shows.
cat >provider.cnf <<CNF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
pkcs11 = pkcs11_sect
[default_sect]
activate = 1
[pkcs11_sect]
module = $PROVIDER_SO
pkcs11-module-path = $MODULE
activate = 1
CNF
ossl() { OPENSSL_CONF="$WORK/provider.cnf" openssl "$@"; }
RSA_KEY="pkcs11:token=$TOKEN;object=rsa-key;type=private?pin-value=$USER_PIN"
EC_KEY="pkcs11:token=$TOKEN;object=ec-key;type=private?pin-value=$USER_PIN"

say "openssl req and dgst with token keys"
check "openssl req -x509 signed by the token's RSA key" \
    ossl req -new -x509 -key "$RSA_KEY" -subj /CN=softse-provider -days 1 -out cert.pem
if passed; then
    openssl x509 -in cert.pem -noout -pubkey >cert-pub.pem
    check "the certificate's key is the token's" cmp -s cert-pub.pem rsa.pem
    check "plain openssl verifies the certificate's signature" \
        openssl verify -check_ss_sig -CAfile cert.pem cert.pem
fi
printf 'signed through pkcs11-provider %s\n' "$RANDOM" >data.txt
check "openssl dgst -sign with the token's EC key" ossl dgst -sha256 -sign "$EC_KEY" -out ec.sig data.txt
passed && check "plain openssl verifies the ECDSA signature" \
    openssl dgst -sha256 -verify ec.pem -signature ec.sig data.txt

say "RSA-OAEP: rsa_oaep_md and rsa_mgf1_md both"
head -c 32 /dev/urandom >secret.bin
OAEP=(-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256)
must "encrypt in software" openssl pkeyutl -encrypt -pubin -inkey rsa.pem "${OAEP[@]}" -in secret.bin -out secret.enc
check "decrypt on the token" ossl pkeyutl -decrypt -inkey "$RSA_KEY" "${OAEP[@]}" -in secret.enc -out secret.out
passed && same_file "the token recovered the secret" secret.bin secret.out

finish
