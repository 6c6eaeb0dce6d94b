#!/bin/bash
# A module file's settings reach softse (issue 19): softse registered with
# p11-kit by a module file whose `x-init-reserved:` names the store and the
# device root, which p11-kit passes to C_Initialize as pReserved.  Programs
# with nothing of softse in their environment (env -i, only HOME) reach the
# token through p11-kit-proxy.so, list it and sign; openssl verifies.
source "$(dirname "$0")/lib.sh"
need_tools p11-kit pkcs11-tool openssl
cd "$WORK"

PROXY=/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so
[ -r "$PROXY" ] || { echo "SKIP: no $PROXY (p11-kit-modules)"; exit 77; }
TOKEN=service-token

say "a token in a store no environment names"
SERVICE_STORE="$WORK/service store"   # a blank in the path: quoted in the module file
mkdir -p "$SERVICE_STORE"
SOFTSE_STORE="$SERVICE_STORE" init_token "$TOKEN"
must "keypairgen EC:prime256v1" env SOFTSE_STORE="$SERVICE_STORE" \
    pkcs11-tool --module "$MODULE" --token-label "$TOKEN" --login --pin "$USER_PIN" \
    --keypairgen --key-type EC:prime256v1 --id 01 --label svc-key
must "export the public key" env SOFTSE_STORE="$SERVICE_STORE" \
    pkcs11-tool --module "$MODULE" --token-label "$TOKEN" --read-object --type pubkey --id 01 -o ec.der
openssl pkey -pubin -inform DER -in ec.der -out ec.pem
printf 'a service signs %s\n' "$RANDOM" >data.txt

say "module file with x-init-reserved"
# p11-kit reads ~/.config/pkcs11/modules/*.module (user-config: only drops
# the system's modules) and ignores user configuration for root: as root
# the programs run in a user namespace, where they are not uid 0.
CONF_HOME="$WORK/home"
mkdir -p "$CONF_HOME/.config/pkcs11/modules"
echo "user-config: only" >"$CONF_HOME/.config/pkcs11/pkcs11.conf"
cat >"$CONF_HOME/.config/pkcs11/modules/softse.module" <<MOD
module: $SOFTSE_MODULE
x-init-reserved: store_dir='$SERVICE_STORE'; rot_dir=$SOFTSE_ROT_DIR log_level=info
MOD
cat "$CONF_HOME/.config/pkcs11/modules/softse.module"
# The environment of a service: nothing but HOME (which has the module file).
service() { env -i HOME="$CONF_HOME" PATH="$PATH" "$@"; }
if [ "$(id -u)" -eq 0 ]; then
    if unshare --user true 2>/dev/null; then
        service() { env -i HOME="$CONF_HOME" PATH="$PATH" unshare --user "$@"; }
    else
        echo "SKIP: running as root without user namespaces: p11-kit ignores user module files for root"
        exit 77
    fi
fi

check "p11-kit list-modules with an empty environment" service p11-kit list-modules
grep_out "softse is listed" "^softse: "
grep_out "the token of the module file's store is listed" "token: $TOKEN\$"
grep_out "C_Initialize logged the store and where it came from" \
    "softse: info: store $SERVICE_STORE \\(from C_Initialize pReserved\\): 1 token\\(s\\)"

check "pkcs11-tool through p11-kit-proxy.so lists the token" service pkcs11-tool --module "$PROXY" --list-slots
grep_out "the proxy shows the token" "token label +: $TOKEN"
check "sign ECDSA-SHA256 through p11-kit-proxy.so" service pkcs11-tool --module "$PROXY" \
    --token-label "$TOKEN" --login --pin "$USER_PIN" --sign -m ECDSA-SHA256 --signature-format openssl \
    --id 01 -i data.txt -o proxy.sig
passed && check "openssl verifies the signature" openssl dgst -sha256 -verify ec.pem -signature proxy.sig data.txt

say "x-init-reserved wins over SOFTSE_STORE"
check "list-modules with SOFTSE_STORE naming another store" \
    service env SOFTSE_STORE="$SOFTSE_STORE" p11-kit list-modules
grep_out "still the module file's store" "token: $TOKEN\$"

say "a bad setting in the module file is reported, not ignored"
sed -i 's/log_level=info/log_levle=info/' "$CONF_HOME/.config/pkcs11/modules/softse.module"
check "list-modules with a misspelt setting" service p11-kit list-modules
grep_out "softse names the bad setting" "C_Initialize pReserved: bad setting \"log_levle = info\""
if grep -q "token: $TOKEN\$" "$WORK/last.out"; then
    fail "the token was listed although C_Initialize must fail" "$WORK/last.out"
else
    echo "ok: no softse token listed"
fi

finish
