#!/usr/bin/env bash
# softse-tool migrate (docs/spec.md, "The device root of trust"): a token
# file of store format 1 (made by softse before the root of trust; the
# fixture holds an AES key "v1aes" and a data object "v1data", SO PIN
# 12345678, user PIN 123456) is refused by the module with a message
# naming the command; migrate needs both PINs, changes nothing when one is
# wrong, and afterwards the token logs in and its keys work.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need pkcs11-tool
need sqlite3

serial=2DF1BF35358B38CD
db=$SOFTSE_STORE/$serial.sqlite
mkdir -p "$SOFTSE_STORE"
cp "$(dirname "${BASH_SOURCE[0]}")/fixtures/store-format1.sqlite" "$db"
chmod 600 "$db"
export SOFTSE_ROT_DIR=$work/rot

step "the module refuses the old format and names the command"
ok "list slots" p11 --list-slots
expect_not_in "$out" "v1token" "slot list"
expect_in "$out" "softse-tool migrate --serial $serial" "the refusal message"

step "migrate refuses a wrong or missing PIN and leaves the file as it was"
fails "wrong SO PIN" tool migrate --serial $serial --so-pin 00000000 --pin $PIN
expect_in "$out" "CKR_PIN_INCORRECT" "wrong SO PIN"
fails "wrong user PIN" tool migrate --serial $serial --so-pin $SO_PIN --pin 000000
expect_in "$out" "CKR_PIN_INCORRECT" "wrong user PIN"
fails "no user PIN" tool migrate --serial $serial --so-pin $SO_PIN
[ "$(sqlite3 "$db" 'PRAGMA user_version')" = 1 ] || fail "a failed migration changed the format"

step "migrate with both PINs"
ok "migrate" tool migrate --serial $serial --so-pin $SO_PIN --pin $PIN
expect_in "$out" "migrated token $serial" "migrate"
[ "$(sqlite3 "$db" 'PRAGMA user_version')" = 2 ] || fail "the format is not 2 after migrating"
fails "migrate twice" tool migrate --serial $serial --so-pin $SO_PIN --pin $PIN
expect_in "$out" "nothing to migrate" "a second migration"

step "the migrated token logs in, keeps its objects, and its key works"
ok "list objects" p11 --token-label v1token --login --pin $PIN --list-objects
expect_in "$out" "label: +v1aes" "the AES key"
expect_in "$out" "label: +'v1data'" "the data object"
head -c 64 /dev/urandom >plain.bin
# The old key has every usage (encrypt and wrap): strict key separation
# (docs/spec.md, the key-management policy) refuses it; relaxed uses it.
fails "encrypt, strict separation" p11 --token-label v1token --login --pin $PIN --encrypt \
    --mechanism AES-CBC --iv 000102030405060708090a0b0c0d0e0f --label v1aes -i plain.bin -o cipher.bin
expect_in "$out" "CKR_KEY_FUNCTION_NOT_PERMITTED" "strict separation"
export SOFTSE_KEY_SEPARATION=relaxed
ok "encrypt" p11 --token-label v1token --login --pin $PIN --encrypt --mechanism AES-CBC \
    --iv 000102030405060708090a0b0c0d0e0f --label v1aes -i plain.bin -o cipher.bin
ok "decrypt" p11 --token-label v1token --login --pin $PIN --decrypt --mechanism AES-CBC \
    --iv 000102030405060708090a0b0c0d0e0f --label v1aes -i cipher.bin -o back.bin
cmp -s plain.bin back.bin || fail "AES-CBC round trip through the migrated key"
unset SOFTSE_KEY_SEPARATION
ok "SO login (sets the user PIN again)" p11 --token-label v1token --init-pin --login --so-pin $SO_PIN --pin $PIN
ok "audit --verify" tool audit --serial $serial --verify
expect_in "$out" "token-migrated" "the migration's audit record"

step "under another device root key the migrated token is refused"
ok "list slots" env SOFTSE_ROT_DIR="$work/other-rot" "$SOFTSE_TOOL" show
expect_not_in "$out" "v1token" "another root of trust"
echo "PASS: $steps steps"
