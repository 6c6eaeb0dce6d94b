#!/bin/bash
# NSS: softse registered in a fresh NSS database with modutil; certutil
# lists a certificate stored on the token, signs certificate requests with
# token keys (made by pkcs11-tool, and made by certutil itself), and imports
# a certificate into the token; openssl checks every request.  Module
# parameters (modutil -string) set softse's store.
source "$(dirname "$0")/lib.sh"
need_tools certutil modutil pkcs11-tool openssl
cd "$WORK"

TOKEN=nss
DB="sql:$WORK/nssdb"
mkdir -p "$WORK/nssdb"
printf '%s\n' "$USER_PIN" >pin.txt
head -c 2048 /dev/urandom >noise.bin # certutil -z: a finite noise file, never /dev/urandom
p11u() { p11 --token-label "$TOKEN" --login --pin "$USER_PIN" "$@"; }
# NSS prompts on the terminal when it wants a PIN without -f; never block.
cu() { certutil "$@" </dev/null; }

say "token with an RSA and an EC key (made by pkcs11-tool)"
init_token "$TOKEN"
must "keypairgen rsa:2048" p11u --keypairgen --key-type rsa:2048 --id 01 --label rsa-key
must "keypairgen EC:prime256v1" p11u --keypairgen --key-type EC:prime256v1 --id 02 --label ec-key
must "export RSA public key" p11 --token-label "$TOKEN" --read-object --type pubkey --id 01 -o rsa.der
openssl pkey -pubin -inform DER -in rsa.der -out rsa.pem

say "NSS database and module registration"
must "certutil -N (empty password)" certutil -N -d "$DB" --empty-password
# NSS loads the module directly (pkcs11-spy cannot stand in: it crashes in
# C_GetInterface when NSS asks for CKF_INTERFACE_FORK_SAFE).  For a call
# trace use NSS_DEBUG_PKCS11_MODULE=softse NSPR_LOG_MODULES=nss_mod_log:4.
must "modutil -add softse" modutil -dbdir "$DB" -add softse -libfile "$SOFTSE_MODULE" -force
check "modutil -list" modutil -dbdir "$DB" -list
grep_out "module listed" "^ *[0-9]+\. softse\$"
grep_out "module loaded" "status: loaded"
grep_out "token listed" "token: $TOKEN\$"
grep_out "token URI" "uri: pkcs11:token=$TOKEN;manufacturer=softse%20project"

say "a certificate for the token's RSA key, written by pkcs11-tool"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -subj /CN=softse-test-ca -days 2 -out ca.pem 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout throwaway.key -subj /CN=token-rsa-key -out throwaway.csr 2>/dev/null
must "openssl issues a certificate for the token's public key" openssl x509 -req -in throwaway.csr -CA ca.pem \
    -CAkey ca.key -CAcreateserial -force_pubkey rsa.pem -days 2 -outform DER -out rsa-cert.der
must "pkcs11-tool --write-object cert" p11u --write-object rsa-cert.der --type cert --id 01 --label rsa-key
check "certutil -L -h all" cu -L -d "$DB" -h all -f pin.txt
grep_out "certificate listed with the token prefix" "^$TOKEN:rsa-key "
grep_out "NSS pairs it with its private key (trust u,u,u)" "^$TOKEN:rsa-key +u,u,u"
# Lookups by nickname run without a PIN, and NSS reads nothing from a
# login-required token before login unless told that its certificates are
# public: the FRIENDLY flag, as for any smart card module.
check "modutil -default softse -mechanisms FRIENDLY" modutil -dbdir "$DB" -default softse -mechanisms FRIENDLY -force
check "certutil -L -n prints it" cu -L -d "$DB" -n "$TOKEN:rsa-key"
grep_out "certificate subject" "Subject: \"CN=token-rsa-key\""
check "certutil -K lists the token keys" cu -K -d "$DB" -h "$TOKEN" -f pin.txt
grep_out "RSA key by CKA_ID" "rsa +01 +rsa-key"
grep_out "EC key by CKA_ID" "ec +02 +ec-key"

say "certificate requests with the pkcs11-tool keys"
# -k takes the key's CKA_ID in hex.  A certificate nickname works for -k
# only when CKA_ID is NSS's SHA-1 of the public key (certutil -R looks the
# key up that way), which pkcs11-tool's --id 01 is not.
# request NAME KEYSPEC [certutil args...]
request() {
    local name=$1
    shift
    check "$name: certutil -R" cu -R -d "$DB" -h "$TOKEN" -s "CN=nss-test-$name" -o "req-$name.der" -f pin.txt "$@"
    passed || return 0
    check "$name: openssl req -verify accepts the request" openssl req -inform DER -in "req-$name.der" -verify -noout -subject
    grep_out "$name: verify OK" "verify OK"
    grep_out "$name: subject" "CN *= *nss-test-$name"
}
request rsa-by-id -k 01
request ec-by-id -k 02
check "the RSA request carries the token key" openssl req -inform DER -in req-rsa-by-id.der -noout -pubkey
if passed; then
    openssl pkey -pubin -in "$WORK/last.out" -outform DER -out req-rsa.key.der
    same_file "request public key is the token's" rsa.der req-rsa.key.der
fi

say "keys generated on the token by certutil, certificate imported into the token"
request nss-rsa -k rsa -g 2048 -z noise.bin
request nss-ec -k ec -q nistp256 -z noise.bin
if [ -s req-nss-rsa.der ]; then
    must "openssl issues a certificate for the NSS-made key" openssl x509 -req -inform DER -in req-nss-rsa.der \
        -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -outform DER -out nss-rsa.der
    check "certutil -A imports it into the token" cu -A -d "$DB" -h "$TOKEN" -n nss-made -t u,u,u -i nss-rsa.der -f pin.txt
    check "certutil -L shows it on the token" cu -L -d "$DB" -h "$TOKEN" -f pin.txt
    grep_out "imported certificate paired with the NSS-made key" "^$TOKEN:nss-made +u,u,u"
    check "pkcs11-tool sees the certificate NSS wrote" p11 --token-label "$TOKEN" --list-objects --type cert
    grep_out "certificate object with NSS's label" "label: +nss-made"
    # Now the certificate's CKA_ID is NSS's own: the nickname finds the key.
    request by-nickname -k "$TOKEN:nss-made"
else
    skip_step "certificate import: no NSS-made request (see FAIL above)"
fi

say "module parameters (modutil -string) reach softse as its settings string"
# NSS passes them to C_Initialize (LibraryParameters, the standard pReserved).
mkdir -p "$WORK/nssdb2" "$WORK/other store"
must "certutil -N of a second database" certutil -N -d "sql:$WORK/nssdb2" --empty-password
check "modutil -add softse -string store_dir=..." modutil -dbdir "sql:$WORK/nssdb2" -add softse \
    -libfile "$SOFTSE_MODULE" -string "store_dir='$WORK/other store' log_level=info" -force
check "modutil -list with the parameters" modutil -dbdir "sql:$WORK/nssdb2" -list
grep_out "softse opened the store the parameters name" \
    "softse: info: store $WORK/other store \\(from C_Initialize pReserved\\): 0 token\\(s\\)"
if grep -q "token: $TOKEN\$" "$WORK/last.out"; then
    fail "the token of SOFTSE_STORE is listed: the parameters were not used" "$WORK/last.out"
else
    echo "ok: not the token of SOFTSE_STORE"
fi

finish
