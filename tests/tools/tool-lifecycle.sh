#!/usr/bin/env bash
# softse-tool lifecycle (docs/spec.md §3): transitions with the SO PIN, a wrong
# SO PIN fails with a clear message and shows in the PIN counters, show
# follows the state, a reset erases the user's objects but keeps the
# device identity, and TERMINATED is final.  show also follows the user
# PIN counter down to LOCKED.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need pkcs11-tool

# state LABEL: the lifecycle state show prints.
state() {
    tool show --token "$1" | sed -n 's/^ *lifecycle: *//p'
}
expect_state() {
    local got
    got=$(state "$1")
    [ "$got" = "$2" ] || fail "token $1 is \"$got\", expected \"$2\""
}

step "a new token is in PERSONALIZATION, with its identity"
new_token t
expect_state t PERSONALIZATION
ok "ca create" tool ca create --out-key ca-key.pem --out-cert ca.pem
ok "manufacture" tool manufacture --token t --ca ca.pem --ca-key ca-key.pem --so-pin $SO_PIN

step "a wrong SO PIN fails with a clear message and changes nothing"
fails "wrong SO PIN" tool lifecycle --token t --to operational --so-pin 87654321
[ "$status" -eq 1 ] || fail "wrong SO PIN: exit status $status, expected 1"
expect_in "$out" "^softse-tool: SO login to token \"t\": CKR_PIN_INCORRECT$" "wrong SO PIN"
expect_state t PERSONALIZATION
ok "show" tool show --token t
expect_in "$out" "SO_PIN_COUNT_LOW" "the SO PIN counter in the flags"
expect_in "$out" "SO PIN: +COUNT_LOW" "the SO PIN counter"

step "PERSONALIZATION -> OPERATIONAL (SO PIN from SOFTSE_SO_PIN)"
ok "to operational" env SOFTSE_SO_PIN=$SO_PIN "$SOFTSE_TOOL" lifecycle --token t --to operational
expect_in "$out" "PERSONALIZATION -> OPERATIONAL" "to operational"
expect_state t OPERATIONAL
ok "show" tool show --token t
expect_in "$out" "SO PIN: +ok" "the SO PIN counter after a good login"
ok "again" tool lifecycle --token t --to OPERATIONAL --so-pin $SO_PIN
expect_in "$out" "already OPERATIONAL" "the same state again"

step "OPERATIONAL -> PERSONALIZATION is a reset: user objects go, the identity stays"
echo "user data" >data.txt
ok "a user data object" p11 --token-label t --login --pin $PIN --write-object data.txt \
    --type data --label user-data --private
ok "a user key" p11 --token-label t --login --pin $PIN --keypairgen --key-type EC:prime256v1 \
    --label user-key --id 42
ok "list before the reset" p11 --token-label t --login --pin $PIN --list-objects
expect_in "$out" "user-key" "the user key before the reset"
ok "reset" tool lifecycle --token t --to personalization --so-pin $SO_PIN
expect_in "$out" "OPERATIONAL -> PERSONALIZATION \(reset: every object but the device identity erased\)" "reset"
expect_state t PERSONALIZATION
ok "list after the reset" p11 --token-label t --login --pin $PIN --list-objects
expect_not_in "$out" "user-key|user-data" "user objects after the reset"
expect_in "$out" "softse-attestation" "the identity after the reset"
expect_in "$out" "softse-manufacturer-ca" "the CA certificate after the reset"
ok "show" tool show --token t
expect_in "$out" "identity: +manufactured" "show after the reset"

step "OPERATIONAL -> TERMINATED, which is final"
ok "to operational" tool lifecycle --token t --to operational --so-pin $SO_PIN
ok "to terminated" tool lifecycle --token t --to terminated --so-pin $SO_PIN
expect_state t TERMINATED
ok "show" tool show --token t
expect_in "$out" "WRITE_PROTECTED" "the terminated token's flags"
expect_in "$out" "identity: +manufactured" "the certificate stays readable"
for to in operational personalization; do
    fails "terminated -> $to" tool lifecycle --token t --to $to --so-pin $SO_PIN
    expect_in "$out" "TERMINATED -> ${to^^} \(TERMINATED is final\): CKR_SE_LIFECYCLE" \
        "terminated -> $to"
done
expect_state t TERMINATED
ok "login still works" p11 --token-label t --login --pin $PIN --list-objects

step "PERSONALIZATION -> TERMINATED directly"
new_token t2
ok "to terminated" tool lifecycle --token t2 --to terminated --so-pin $SO_PIN
expect_in "$out" "PERSONALIZATION -> TERMINATED" "1 -> 3"
expect_state t2 TERMINATED

step "show follows the user PIN counter: COUNT_LOW, FINAL_TRY, LOCKED"
new_token u
fails "a wrong user PIN" p11 --token-label u --login --pin 999999 --list-objects
ok "show" tool show --token u
expect_in "$out" "USER_PIN_COUNT_LOW" "the flags after a wrong PIN"
expect_in "$out" "user PIN: +COUNT_LOW" "the user PIN after a wrong PIN"
for _ in 2 3 4 5 6 7 8 9; do
    fails "a wrong user PIN" p11 --token-label u --login --pin 999999 --list-objects
done
ok "show" tool show --token u
expect_in "$out" "USER_PIN_FINAL_TRY" "the flags with one try left"
expect_in "$out" "user PIN: +FINAL_TRY" "the user PIN with one try left"
fails "the last wrong user PIN" p11 --token-label u --login --pin 999999 --list-objects
ok "show" tool show --token u
expect_in "$out" "USER_PIN_LOCKED" "the flags when locked"
expect_in "$out" "user PIN: +LOCKED" "the locked user PIN"
expect_in "$out" "SO PIN: +ok" "the SO PIN is another counter"

step "usage errors"
fails "no SO PIN" tool lifecycle --token t2 --to operational
[ "$status" -eq 2 ] || fail "no SO PIN: exit status $status, expected 2"
expect_in "$out" "missing --so-pin PIN \(or SOFTSE_SO_PIN\)" "no SO PIN"
fails "bad state" tool lifecycle --token t2 --to broken --so-pin $SO_PIN
expect_in "$out" "unknown state \"broken\"" "bad state"
fails "unknown token" tool lifecycle --token nobody --to operational --so-pin $SO_PIN
expect_in "$out" "no initialized token \"nobody\": CKR_TOKEN_NOT_PRESENT" "unknown token"

echo "PASS: $steps steps"
